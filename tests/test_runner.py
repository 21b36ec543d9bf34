"""Tests for playbook.runner: Papermill runs of tiny fixture notebooks, staged atomic publishing.

Kernel start-ups are slow, so one successful five-step run is shared by the module and each
failure mode costs one notebook execution. The tests register their own kernel spec (pointing
at this interpreter) in a temporary JUPYTER_PATH, so they do not depend on `make kernel`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from playbook import runner
from playbook.errors import ConfigError, RunError
from playbook.runner import (
    STEPS,
    RunResult,
    StepResult,
    check_kernel,
    check_parameters,
    exit_code,
    resolve_steps,
    run_campaign,
    run_campaigns,
    summary_table,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
GOOD = FIXTURES / "good"
KERNEL = "playbook-test-kernel"
PII = ["jane.doe@example.com", "+1 415 555 0199", "Zebulon", "Harper", "Ana Lopez"]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec named KERNEL for this interpreter, visible through JUPYTER_PATH."""
    share = tmp_path_factory.mktemp("jupyter")
    spec = share / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}), encoding="utf-8"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([str(share), os.environ.get("JUPYTER_PATH", "")]))
        yield KERNEL


def _cfg(slug: str = "demo") -> SimpleNamespace:
    return SimpleNamespace(slug=slug, output_dir=Path("reports") / slug)


def _run(cfg, nb_dir, reports_root, **kw) -> RunResult:
    kw.setdefault("kernel_name", KERNEL)
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


def test_pii_guard_can_be_switched_off(kernel_env, tmp_path):
    nb_dir = _mixed_dir(tmp_path, "pii", "01_plan")
    root = tmp_path / "reports"
    result = _run(_cfg(), nb_dir, root, only="plan", pii_values=lambda: PII, pii_guard=False)
    assert result.ok
    assert "Jane.Doe@Example.com" in (root / "demo" / "01_plan.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ batches and --only


def test_batch_continues_after_bad_config_and_only_step_reuses_artifacts(kernel_env, published_copy):
    before = _snapshot(published_copy / "demo")

    def loader(path):
        if "bad" in str(path):
            raise ConfigError("campaigns/bad.yaml: field 'season.start' is missing; add it")
        return _cfg("demo")

    results = run_campaigns(["campaigns/bad.yaml", "campaigns/demo.yaml"], only=["3"],
                            loader=loader, kernel_name=KERNEL, notebooks_dir=GOOD,
                            reports_root=published_copy)
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


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, list(STEPS)),
        ("plan", ["01_plan"]),
        (["5", "plan", "02_segment"], ["01_plan", "02_segment", "05_retrospective"]),
        ("test,personalize", ["03_personalize", "04_test"]),
        (["04", "04_test.ipynb"], ["04_test"]),
    ],
    ids=["all", "short", "mixed-order", "comma", "dedup"],
)
def test_resolve_steps(only, expected):
    assert resolve_steps(only) == expected


def test_unknown_step():
    with pytest.raises(RunError, match=r"Unknown step 'segmnt'\. Choose from \[.*'02_segment'"):
        resolve_steps(["plan", "segmnt"])


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
    assert set(runner.notebook_parameters(path)) == {"config_path", "output_dir"}
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


# ------------------------------------------------------------------ pure helpers


def test_publish_restores_old_report_when_rename_fails(tmp_path, monkeypatch):
    final, staging = tmp_path / "demo", tmp_path / ".staging" / "x"
    final.mkdir()
    (final / "index.html").write_text("old", encoding="utf-8")
    staging.mkdir(parents=True)
    (staging / "index.html").write_text("new", encoding="utf-8")
    real_rename = os.rename
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # moving staging in fails
            raise OSError("disk full")
        return real_rename(src, dst)

    monkeypatch.setattr(runner.os, "rename", flaky)
    with pytest.raises(OSError, match="disk full"):
        runner._publish(staging, final)
    assert (final / "index.html").read_text(encoding="utf-8") == "old"
    monkeypatch.setattr(runner.os, "rename", real_rename)
    runner._publish(staging, final)
    assert (final / "index.html").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging", "demo"]


def test_exit_code_and_summary_table():
    ok = RunResult("a", "a.yaml", "ok", "published", {"01_plan": StepResult("01_plan", "ok")},
                   report_dir=Path("reports/a"), duration_s=3.2)
    bad = RunResult("b", "b.yaml", "timeout", "04_test: timeout: cell 5 ran longer than 2 s",
                    {"04_test": StepResult("04_test", "timeout")}, failed_dir=Path("reports/_failed/b-1"))
    assert exit_code([ok]) == 0
    assert exit_code([ok, bad]) == 1
    table = summary_table([ok, bad])
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["campaign", "status", "steps"]
    assert lines[1].startswith("a ") and "1/1 ok" in lines[1] and "reports/a" in lines[1]
    assert "timeout" in lines[2] and "reports/_failed/b-1" in lines[2]
    assert lines[-1] == "1 of 2 campaign(s) ok"
