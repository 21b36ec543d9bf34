"""Tests for playbook.run: Papermill runs of tiny fixture notebooks, staged atomic publishing.

Kernel start-ups are slow, so one successful five-step run is shared by the module and each
failure mode costs one notebook execution. The tests register their own kernel spec (pointing
at this interpreter) in a temporary JUPYTER_PATH, so they do not depend on `make kernel`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from playbook.config.campaign import DataConfig
from playbook.errors import ConfigError, RunError
from playbook.run import execute, graph, parameters
from playbook.run.campaign import run_campaign, run_campaigns
from playbook.run.execute import check_kernel
from playbook.run.graph import STEPS
from playbook.run.parameters import check_parameters
from playbook.run.results import RunResult, exit_code, summary_table

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
GOOD = FIXTURES / "good"
KERNEL = "playbook-test-kernel"  # the kernel of the shared kernel_env fixture (tests/conftest.py)
PII = ["jane.doe@example.com", "+1 415 555 0199", "Zebulon", "Harper", "Ana Lopez"]


def _cfg(slug: str = "demo") -> SimpleNamespace:
    data = SimpleNamespace(source=None, timezone=None, encoding=None)
    return SimpleNamespace(slug=slug, output_dir=Path("reports") / slug, data=data)


def _run(cfg, nb_dir, reports_root, **kw) -> RunResult:
    """A run of fixture notebooks; the PII guard looks for :data:`PII` unless told otherwise."""
    kw.setdefault("kernel_name", KERNEL)
    kw.setdefault("pii_values", lambda: PII)
    kw.setdefault("timeout", 60)
    return run_campaign(cfg, "campaigns/fixture.yaml", notebooks_dir=nb_dir,
                        reports_root=reports_root, **kw)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _mixed_dir(tmp_path: Path, bad: str, as_step: str) -> Path:
    """Good fixture notebooks, with ``<bad>.ipynb`` standing in for ``as_step``."""
    d = tmp_path / "notebooks"
    shutil.copytree(GOOD, d)
    shutil.copy(FIXTURES / f"{bad}.ipynb", d / f"{as_step}.ipynb")
    return d


@pytest.fixture(scope="module")
def good_run(kernel_env, tmp_path_factory: pytest.TempPathFactory):
    """One successful run of all five fixture steps (PII guard on, nothing to find)."""
    root = tmp_path_factory.mktemp("reports")
    lines: list[str] = []
    result = _run(_cfg(), GOOD, root, progress=lines.append, pii_values=lambda: PII)
    return result, root, lines


@pytest.fixture
def published_copy(good_run, tmp_path: Path) -> Path:
    """A private copy of the good run's reports root (tests may run failures against it)."""
    _, root, _ = good_run
    dest = tmp_path / "reports"
    shutil.copytree(root / "demo", dest / "demo")
    return dest


# ------------------------------------------------------------------ success


def test_success_publishes_index_and_five_pages(good_run):
    result, root, lines = good_run
    assert result.ok, result.message
    report = root / "demo"
    assert result.report_dir == report
    assert (report / "index.html").is_file() and (report / "summary.json").is_file()
    for step in STEPS:
        assert (report / f"{step}.html").is_file()
        assert (report / f"{step}.ipynb").is_file()
        assert result.steps[step].status == "ok"
    # staging emptied, nothing failed
    assert list((root / ".staging").iterdir()) == []
    assert not (root / "_failed").exists()
    # progress: one start and one finish line per step, with a duration
    assert sum("running" in s for s in lines) == 5
    assert sum(": ok (" in s and s.endswith(" s)") for s in lines) == 5


def test_html_has_outputs_but_no_code_and_embeds_images(good_run):
    _, root, _ = good_run
    for step in STEPS:
        page = (root / "demo" / f"{step}.html").read_text(encoding="utf-8")
        assert f"VISIBLE_OUTPUT_{step}" in page
        assert "write_step_summary" not in page  # code input excluded
        assert "config_path" not in page  # parameters cells excluded too
        assert "REMOVED_CELL_OUTPUT" not in page  # remove-cell tag honoured
        assert "REMOVED_OUTPUT_ONLY" not in page  # remove-output tag honoured
    plan = (root / "demo" / "01_plan.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in plan
    assert "<img src=\"http" not in plan and "<img src=\"/" not in plan


def test_summary_and_index_carry_planted_headlines(good_run):
    _, root, _ = good_run
    summary = json.loads((root / "demo" / "summary.json").read_text(encoding="utf-8"))
    assert [s["step"] for s in summary["steps"]] == list(STEPS)
    for i, step in enumerate(STEPS, 1):
        assert summary["headlines"][step]["fixture value"] == i * 1000.0
    # 03 read 02's artifact written earlier in the same run (n = 20 planted by 02)
    assert summary["headlines"]["03_personalize"]["seen"] == 20
    assert summary["git_revision"] and summary["package_version"]
    index = (root / "demo" / "index.html").read_text(encoding="utf-8")
    for step in STEPS:
        assert f'href="{step}.html"' in index
    assert "5,000" in index and "fixture note 3" in index


# ------------------------------------------------------------------ failures


def test_cell_error_keeps_previous_report_and_failed_notebook(kernel_env, published_copy, tmp_path):
    before = _snapshot(published_copy / "demo")
    nb_dir = _mixed_dir(tmp_path, "raise", "02_segment")
    result = _run(_cfg(), nb_dir, published_copy, only=["segment", "personalize"])
    assert result.status == "failed" and not result.ok
    seg = result.steps["02_segment"]
    assert (seg.ename, seg.evalue) == ("ValueError", "planted failure")
    assert result.steps["03_personalize"].status == "skipped"
    assert "ValueError: planted failure" in result.message and "02_segment" in result.message
    # the last good report is byte-identical
    assert _snapshot(published_copy / "demo") == before
    assert result.report_dir is None
    # failed notebook kept, error visible at the reported cell
    kept = result.failed_dir / "02_segment.ipynb"
    nb = nbformat.read(str(kept), as_version=4)
    cell = nb.cells[seg.cell_index]
    assert "raise ValueError" in cell.source
    assert any(o.get("ename") == "ValueError" for o in cell.outputs)
    failure = json.loads((result.failed_dir / "failure.json").read_text(encoding="utf-8"))
    assert failure["status"] == "failed" and failure["cell_index"] == seg.cell_index
    assert list((published_copy / ".staging").iterdir()) == []
    assert exit_code([result]) == 1


def test_timeout_is_classified_and_nothing_published(kernel_env, tmp_path):
    nb_dir = _mixed_dir(tmp_path, "sleep", "02_segment")
    root = tmp_path / "reports"
    result = _run(_cfg(), nb_dir, root, only="2", timeout=2)
    assert result.status == "timeout"
    step = result.steps["02_segment"]
    assert step.status == "timeout" and "timeout" in result.message
    nb = nbformat.read(str(result.failed_dir / "02_segment.ipynb"), as_version=4)
    assert "time.sleep" in nb.cells[step.cell_index].source
    assert not (root / "demo").exists()


def test_kernel_death_is_classified(kernel_env, tmp_path):
    nb_dir = _mixed_dir(tmp_path, "die", "04_test")
    root = tmp_path / "reports"
    result = _run(_cfg(), nb_dir, root, only=["test", "retrospective"])
    assert result.status == "kernel died"
    assert result.steps["04_test"].status == "kernel died"
    assert result.steps["05_retrospective"].status == "skipped"
    nb = nbformat.read(str(result.failed_dir / "04_test.ipynb"), as_version=4)
    assert "os._exit" in nb.cells[result.steps["04_test"].cell_index].source
    assert not (root / "demo").exists()


def test_pii_guard_blocks_publication(kernel_env, published_copy, tmp_path):
    before = _snapshot(published_copy / "demo")
    nb_dir = _mixed_dir(tmp_path, "pii", "01_plan")
    result = _run(_cfg(), nb_dir, published_copy, only="plan", pii_values=lambda: PII)
    assert result.status == "failed"
    assert result.message.startswith("PII found in report")
    assert "01_plan.html" in result.message
    assert "jane" not in result.message.lower()  # the message never repeats the PII
    assert "j***@e***" in result.message  # but hints at which value it is
    assert _snapshot(published_copy / "demo") == before


def test_pii_guard_can_be_switched_off_but_not_silently(kernel_env, tmp_path):
    nb_dir = _mixed_dir(tmp_path, "pii", "01_plan")
    root = tmp_path / "reports"
    lines: list[str] = []
    result = _run(_cfg(), nb_dir, root, only="plan", pii_guard=False, progress=lines.append)
    assert result.ok
    assert "Jane.Doe@Example.com" in (root / "demo" / "01_plan.html").read_text(encoding="utf-8")
    # the run says so, and so does the published index
    assert "[demo] PII guard off: pages are published without scanning them for customer data" in lines
    summary = json.loads((root / "demo" / "summary.json").read_text(encoding="utf-8"))
    assert summary["meta"]["pii_guard"] == "off: pages not scanned for customer data"
    assert "off: pages not scanned for customer data" in (root / "demo" / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ PII guard on by default


def _data_cfg(folder: Path, encoding: str | None = None) -> SimpleNamespace:
    """A campaign whose data are the CSV files in ``folder`` (no ``pii_values`` given anywhere)."""
    return SimpleNamespace(slug="demo", output_dir=Path("reports") / "demo",
                           data=DataConfig(source=str(folder), encoding=encoding))


def _pii_notebooks(tmp_path: Path, printed: str) -> Path:
    """Fixture notebooks whose 01_plan prints ``printed`` as its top customer."""
    d = _mixed_dir(tmp_path, "pii", "01_plan")
    nb = nbformat.read(str(d / "01_plan.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "print(" in c.source)
    cell.source = f"print('Top customer: {printed}')"
    nbformat.write(nb, str(d / "01_plan.ipynb"))
    return d


def test_run_campaign_from_python_guards_against_the_campaigns_own_customers(kernel_env, clean_tables,
                                                                             tmp_path):
    customers = clean_tables["customers"]
    customers.loc[0, "email"] = "jane.doe@example.com"
    (tmp_path / "data").mkdir()
    customers.to_csv(tmp_path / "data" / "customers.csv", index=False)
    root = tmp_path / "reports"
    result = run_campaign(_data_cfg(tmp_path / "data"), "campaigns/fixture.yaml", only="plan",
                          notebooks_dir=_pii_notebooks(tmp_path, "Jane.Doe@Example.com"),
                          reports_root=root, kernel_name=KERNEL, timeout=60)
    assert result.status == "failed" and not result.ok
    assert result.message.startswith("PII found in report: 01_plan.html (1 email(s): j***@e***)")
    assert not (root / "demo").exists()  # nothing published


def test_guard_reads_a_latin1_source_with_its_encoding(kernel_env, clean_tables, tmp_path):
    customers = clean_tables["customers"]
    customers.loc[0, "first_name"] = "Renée"
    (tmp_path / "data").mkdir()
    customers.to_csv(tmp_path / "data" / "customers.csv", index=False, encoding="latin-1")
    root = tmp_path / "reports"
    result = run_campaign(_data_cfg(tmp_path / "data", encoding="latin-1"), "campaigns/fixture.yaml",
                          only="plan", notebooks_dir=_pii_notebooks(tmp_path, "Renée"),
                          reports_root=root, kernel_name=KERNEL, timeout=60)
    # no "not valid utf-8" crash: the accented name is read, found and masked
    assert result.status == "failed"
    assert result.message.startswith("PII found in report: 01_plan.html (1 name(s): R****)")
    assert "Renée" not in result.message
    assert not (root / "demo").exists()


# ------------------------------------------------------------------ batches and --only


def test_batch_continues_after_bad_config_and_only_step_reuses_artifacts(kernel_env, published_copy):
    before = _snapshot(published_copy / "demo")

    def loader(path):
        if "bad" in str(path):
            raise ConfigError("campaigns/bad.yaml: field 'season.start' is missing; add it")
        return _cfg("demo")

    results = run_campaigns(["campaigns/bad.yaml", "campaigns/demo.yaml"], only=["3"],
                            loader=loader, kernel_name=KERNEL, notebooks_dir=GOOD,
                            reports_root=published_copy, pii_values=lambda: PII)
    assert [r.status for r in results] == ["error", "ok"]
    assert "season.start" in results[0].message
    assert exit_code(results) == 1
    table = summary_table(results)
    assert "bad" in table and "demo" in table and "1 of 2 campaign(s) ok" in table
    after = _snapshot(published_copy / "demo")
    # 03 re-ran and read 02's artifact carried over from the last good report
    summary = json.loads(after["summary.json"])
    assert summary["headlines"]["03_personalize"]["seen"] == 20
    statuses = {s["step"]: (s["status"], s["message"]) for s in summary["steps"]}
    assert statuses["01_plan"] == ("ok", "from an earlier run")
    assert statuses["03_personalize"] == ("ok", "")
    # other steps' pages kept as they were; 03's page is new
    for step in ("01_plan", "02_segment", "04_test", "05_retrospective"):
        assert after[f"{step}.html"] == before[f"{step}.html"]
    assert after["03_personalize.ipynb"] != before["03_personalize.ipynb"]


# ------------------------------------------------------------------ pre-flight errors (no kernel run)


def test_unknown_parameter_lists_the_notebooks_parameters(tmp_path):
    with pytest.raises(RunError, match=r"Unknown parameter\(s\) \['sed'\].*'seed'"):
        check_parameters(GOOD / "01_plan.ipynb", {"config_path": "x", "sed": 1})
    check_parameters(GOOD / "01_plan.ipynb", {"config_path": "x", "seed": 1})


def test_parameters_found_even_when_papermill_cannot_parse_the_line(tmp_path):
    nb = nbformat.read(str(GOOD / "01_plan.ipynb"), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = ('config_path: str = "c.yaml"  # campaign\n'
                     'output_dir: str = ""  # report folder; empty = reports/_interactive/<slug>\n')
    path = tmp_path / "01_plan.ipynb"
    nbformat.write(nb, str(path))
    assert set(parameters.notebook_parameters(path)) == {"config_path", "output_dir"}
    check_parameters(path, {"config_path": "x", "output_dir": "y"})
    with pytest.raises(RunError, match=r"\['seed'\]"):
        check_parameters(path, {"seed": 1})


def test_run_rejects_parameter_the_notebook_lacks(kernel_env, tmp_path):
    nb = nbformat.read(str(GOOD / "01_plan.ipynb"), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = "\n".join(line for line in params.source.splitlines() if not line.startswith("seed"))
    d = tmp_path / "nbs"
    d.mkdir()
    nbformat.write(nb, str(d / "01_plan.ipynb"))
    with pytest.raises(RunError, match=r"Unknown parameter\(s\) \['seed'\] for notebook 01_plan"):
        _run(_cfg(), d, tmp_path / "reports", only="plan", seed=7)
    assert not (tmp_path / "reports").exists()  # failed before creating anything


def test_missing_kernel_names_install_command(tmp_path):
    with pytest.raises(RunError, match=r"python -m ipykernel install --user --name no-such-kernel-x"):
        check_kernel("no-such-kernel-x")
    with pytest.raises(RunError, match="make kernel"):
        _run(_cfg(), GOOD, tmp_path / "reports", kernel_name="no-such-kernel-x")
    assert not (tmp_path / "reports").exists()


def test_missing_notebook_is_a_clear_error(kernel_env, tmp_path):
    with pytest.raises(RunError, match=r"02_segment\.ipynb does not exist"):
        _run(_cfg(), tmp_path, tmp_path / "reports", only="segment")


# ------------------------------------------------------------------ parallel steps (--jobs)

TIMED = FIXTURES / "timed"


def _timing(folder: Path, step: str) -> dict:
    return json.loads((folder / "artifacts" / f"timing_{step}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def timed_run(kernel_env, tmp_path_factory: pytest.TempPathFactory):
    """All five timed fixture steps with --jobs 2; each records when it ran."""
    root = tmp_path_factory.mktemp("timed")
    lines: list[str] = []
    result = _run(_cfg("timed"), TIMED, root, progress=lines.append, jobs=2)
    return result, root / "timed", lines


def test_jobs2_runs_independent_steps_at_the_same_time(timed_run):
    result, report, _ = timed_run
    assert result.ok, result.message
    plan, seg = _timing(report, "01_plan"), _timing(report, "02_segment")
    # each waited (up to 20 s) for the other to start: they met, so both kernels were alive at once
    assert plan["met_peer"] and seg["met_peer"]
    assert plan["started"] < seg["ended"] and seg["started"] < plan["ended"]
    # the runner's own record of the kernel runs agrees
    a, b = result.steps["01_plan"], result.steps["02_segment"]
    assert a.started < b.ended and b.started < a.ended


def test_jobs2_starts_a_step_only_after_its_dependencies_ended(timed_run):
    result, report, _ = timed_run
    t = {s: _timing(report, s) for s in STEPS}
    for step, deps in graph.DEPENDENCIES.items():
        for dep in deps:
            assert t[step]["started"] > t[dep]["ended"], (step, dep)
            # the dependant read the dependency's artifact, written in the same run
            assert t[step]["deps_ended"][dep] == t[dep]["ended"]
            assert result.steps[step].started >= result.steps[dep].ended
    # never more than two kernels at once
    spans = [(r.started, r.ended) for r in result.steps.values()]
    for r in result.steps.values():
        assert sum(s <= r.started < e for s, e in spans) <= 2


def test_jobs2_progress_lines_name_campaign_and_step(timed_run):
    _, _, lines = timed_run
    for step in STEPS:
        assert f"[timed] {step}: running" in lines
        assert sum(s.startswith(f"[timed] {step}: ok (") and s.endswith(" s)") for s in lines) == 1
    assert lines[-1].startswith("[timed] published ")
    # a dependant's start line comes after its dependency's finish line
    assert lines.index("[timed] 03_personalize: running") > next(
        i for i, s in enumerate(lines) if s.startswith("[timed] 02_segment: ok"))


def test_jobs2_gives_the_same_report_as_jobs1(good_run, tmp_path):
    result1, root1, _ = good_run
    result2 = _run(_cfg(), GOOD, tmp_path, jobs=2, pii_values=lambda: PII)
    assert result2.ok, result2.message
    assert {s: r.status for s, r in result2.steps.items()} == {s: r.status for s, r in result1.steps.items()}
    art1, art2 = root1 / "demo" / "artifacts", tmp_path / "demo" / "artifacts"
    names = sorted(p.name for p in art1.iterdir())
    assert names == sorted(p.name for p in art2.iterdir())
    import pandas as pd

    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(art1 / name), pd.read_parquet(art2 / name))
        else:  # the same apart from when it was written
            j1, j2 = (json.loads((a / name).read_text(encoding="utf-8")) for a in (art1, art2))
            j1.pop("written_at", None), j2.pop("written_at", None)
            assert j1 == j2, name
    s1, s2 = (json.loads((r / "demo" / "summary.json").read_text()) for r in (root1, tmp_path))
    assert s1["headlines"] == s2["headlines"]
    assert s2["headlines"]["03_personalize"]["seen"] == 20  # 03 waited for 02's artifact
    import re

    for step in STEPS:  # same pages, apart from the random id of papermill's injected cell
        p1, p2 = (re.sub(r"cell-id=[0-9a-f-]+", "", (r / "demo" / f"{step}.html").read_text(encoding="utf-8"))
                  for r in (root1, tmp_path))
        assert f"VISIBLE_OUTPUT_{step}" in p1
        assert p1 == p2


def test_jobs2_failure_skips_dependants_runs_the_rest_publishes_nothing(kernel_env, published_copy, tmp_path):
    before = _snapshot(published_copy / "demo")
    nb_dir = _mixed_dir(tmp_path, "raise", "02_segment")
    lines: list[str] = []
    result = _run(_cfg(), nb_dir, published_copy, only=["plan", "segment", "personalize"], jobs=2,
                  progress=lines.append)
    assert result.status == "failed" and not result.ok
    assert {s: r.status for s, r in result.steps.items()} == {
        "01_plan": "ok", "02_segment": "failed", "03_personalize": "skipped"}
    assert result.steps["03_personalize"].message == "skipped because 02_segment failed"
    assert "[demo] 03_personalize: skipped because 02_segment failed" in lines
    assert result.steps["03_personalize"].started is None  # never started
    assert _snapshot(published_copy / "demo") == before and result.report_dir is None
    assert list((published_copy / ".staging").iterdir()) == []
    assert sorted(p.name for p in result.failed_dir.iterdir()) == ["02_segment.ipynb", "failure.json"]
    failure = json.loads((result.failed_dir / "failure.json").read_text(encoding="utf-8"))
    assert failure["step"] == "02_segment" and [f["step"] for f in failure["failures"]] == ["02_segment"]


def test_batch_jobs2_runs_campaigns_side_by_side_and_isolates_a_failure(kernel_env, tmp_path):
    lines: list[str] = []
    results = run_campaigns(["campaigns/spring.yaml", "campaigns/fail.yaml"], only=["test"], jobs=2,
                            loader=lambda p: _cfg(Path(p).stem), kernel_name=KERNEL, timeout=60,
                            notebooks_dir=TIMED, reports_root=tmp_path, progress=lines.append,
                            pii_values=lambda: PII)
    assert [(r.slug, r.status) for r in results] == [("spring", "ok"), ("fail", "failed")]
    assert "planted failure for this campaign" in results[1].message
    assert (tmp_path / "spring" / "index.html").is_file() and not (tmp_path / "fail").exists()
    a, b = results[0].steps["04_test"], results[1].steps["04_test"]
    assert a.started < b.ended and b.started < a.ended  # both kernels ran at once
    assert "[spring] 04_test: running" in lines and "[fail] 04_test: running" in lines
    table = summary_table(results)
    assert "spring" in table and "fail" in table and "1 of 2 campaign(s) ok" in table
    assert sorted(p.name for p in (tmp_path / ".staging").iterdir()) == []


def test_steps_run_on_an_encrypted_kernel_connection(tmp_path, capfd):
    # the project kernel (make setup) declares CurveZMQ support: the runner provisions keys, so
    # ipykernel no longer warns "running over TCP without encryption" at every step
    import nbformat

    if execute.encrypted_kernel_manager() is None:
        pytest.skip("this jupyter_client/pyzmq cannot provision CurveZMQ keys")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print(6 * 7)"))
    nb.metadata["kernelspec"] = {"name": execute.DEFAULT_KERNEL, "display_name": "x", "language": "python"}
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    execute.execute_notebook(src, out, {}, execute.DEFAULT_KERNEL, 60)
    assert nbformat.read(out, as_version=4).cells[0].outputs[0]["text"] == "42\n"
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out
