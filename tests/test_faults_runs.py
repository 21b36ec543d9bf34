"""Issue 19 (hardening), items 7, 11, 13 and 14: one test per fault, named after it (docs/faults.md).

Notebook-level tests run papermill on tiny notebooks written into ``tmp_path`` (a kernel start
each), on a kernel spec for this interpreter registered in a temporary ``JUPYTER_PATH``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pandas as pd
import papermill
import pytest
import yaml

from playbook import cli
from playbook.config import checks, sections
from playbook.config.loader import load_config, parse_config
from playbook.customers import cleaning, features
from playbook.data.warehouse import connect
from playbook.errors import ConfigError, RunError
from playbook.paths import project_root
from playbook.run import execute
from playbook.run.campaign import run_campaign
from playbook.steps import context, segment
from playbook.value import offers
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "playbook-faults-kernel"
PARAMETERS = ('config_path: str = "campaigns/holiday-2025.yaml"  # campaign config\n'
              'data_source: str = ""  # data folder or Ibis URL\n'
              'output_dir: str = ""  # report folder\n'
              'seed: int = 42  # random seed')


def _spec(share: Path, name: str, python: str) -> None:
    """A kernel spec ``name`` starting ``python`` under ``share/kernels``."""
    spec = share / "kernels" / name
    spec.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}),
                                      encoding="utf-8")


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory):
    """KERNEL (this interpreter) and ``gone-python`` (a removed venv's Python), via JUPYTER_PATH."""
    share = tmp_path_factory.mktemp("jupyter")
    _spec(share, KERNEL, sys.executable)
    _spec(share, "gone-python", str(share / "removed-venv" / "bin" / "python"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([str(share), os.environ.get("JUPYTER_PATH", "")]))
        mp.delenv("PLAYBOOK_KERNEL_START_TIMEOUT", raising=False)
        yield KERNEL


def _notebook(path: Path, *cells: str) -> Path:
    """A step-shaped notebook: the parameters cell, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL, "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# ------------------------------------------------------------------ 7: sys.exit() publishes a truncated step


def test_fault_07_sys_exit_in_a_notebook_fails_the_step_and_publishes_nothing(kernel_env, tmp_path):
    nb_dir = tmp_path / "notebooks"
    _notebook(nb_dir / "01_plan.ipynb", "import sys", "sys.exit()",
              "from playbook import artifacts\n\nartifacts.write_step_summary(output_dir, '01_plan', {'n': 1})")
    cfg = SimpleNamespace(slug="demo", output_dir=Path("reports") / "demo",
                          data=SimpleNamespace(source=None, timezone=None, encoding=None))
    result = run_campaign(cfg, "campaigns/fixture.yaml", only="plan", notebooks_dir=nb_dir, kernel_name=KERNEL,
                          timeout=60, reports_root=tmp_path / "reports", pii_values=lambda: [])
    assert result.status == "failed" and result.steps["01_plan"].status == "failed"
    message = result.message
    assert message.startswith("01_plan: the notebook stopped before the end without writing its summary "
                              "(artifacts/summary_01_plan.json)")
    assert "`sys.exit()`, which raised SystemExit" in message and "cell 3 (In [4])" in message
    assert not (tmp_path / "reports" / "demo").exists()  # nothing published
    assert (result.failed_dir / "01_plan.ipynb").is_file()  # the truncated notebook is kept for inspection


def test_fault_07_a_summary_left_from_an_earlier_run_does_not_count(kernel_env, tmp_path, monkeypatch):
    """Only a summary written by this execution proves the step ran to the end."""
    nb = _notebook(tmp_path / "02_segment.ipynb", "print(1)")
    out = tmp_path / "staging"
    stale = out / "artifacts" / "summary_02_segment.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    calls: list[dict[str, Any]] = []

    def fake(nb_in: str, nb_out: str, **kw: Any) -> None:
        calls.append(kw)
        if kw["parameters"].get("write"):
            tmp = stale.with_name("new.json")
            tmp.write_text('{"step": "02_segment"}', encoding="utf-8")
            os.replace(tmp, stale)

    monkeypatch.setattr(execute.papermill, "execute_notebook", fake)
    with pytest.raises(execute.IncompleteStepError, match=r"02_segment: the notebook stopped before the end"):
        execute.execute_notebook(nb, tmp_path / "out.ipynb", {"output_dir": str(out)}, KERNEL, 60)
    execute.execute_notebook(nb, tmp_path / "out.ipynb", {"output_dir": str(out), "write": 1}, KERNEL, 60)
    assert len(calls) == 2


# ------------------------------------------------------------------ 11: kernelspec whose python is missing


def test_fault_11_kernelspec_with_missing_python_gives_install_advice(kernel_env, tmp_path):
    advice = r"`make kernel`, or with `python -m ipykernel install --user --name gone-python`"
    with pytest.raises(RunError, match=r"starts '.*removed-venv/bin/python', which does not exist") as exc:
        execute.check_kernel("gone-python")
    assert "make kernel" in str(exc.value) and "ipykernel install --user --name gone-python" in str(exc.value)
    nb = _notebook(tmp_path / "01_plan.ipynb", "print(1)")
    with pytest.raises(RunError, match=advice):  # no bare FileNotFoundError from the kernel launch
        execute.execute_notebook(nb, tmp_path / "out.ipynb", {}, "gone-python", 60)
    execute.check_kernel(KERNEL)  # a spec whose Python exists passes


def test_fault_11_kernel_start_timeout_is_configurable(kernel_env, tmp_path, monkeypatch):
    seen: list[float] = []
    monkeypatch.setattr(execute.papermill, "execute_notebook", lambda *a, **kw: seen.append(kw["start_timeout"]))
    nb = _notebook(tmp_path / "01_plan.ipynb", "print(1)")
    run = lambda **kw: execute.execute_notebook(nb, tmp_path / "out.ipynb", {}, KERNEL, 60, **kw)  # noqa: E731
    run()
    monkeypatch.setenv(execute.KERNEL_START_TIMEOUT_ENV, "300")
    run()
    run(start_timeout=45)
    assert seen == [120.0, 300.0, 45.0]
    for bad in ("0", "-5", "soon", "nan"):
        monkeypatch.setenv(execute.KERNEL_START_TIMEOUT_ENV, bad)
        with pytest.raises(RunError, match=r"kernel start timeout must be a positive number of seconds"):
            run()
    monkeypatch.delenv(execute.KERNEL_START_TIMEOUT_ENV)
    args = cli.build_parser().parse_args(["run", "c.yaml", "--kernel-start-timeout", "600"])
    assert args.kernel_start_timeout == 600
    execute.use_kernel_start_timeout(args.kernel_start_timeout)
    assert os.environ[execute.KERNEL_START_TIMEOUT_ENV] == "600"
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(["run", "c.yaml", "--kernel-start-timeout", "0"])
    assert stop.value.code == 2


def test_fault_11_a_kernel_that_does_not_start_in_time_names_the_option():
    res = SimpleNamespace(cell_index=None, ename=None, evalue=None)
    msg = execute.failure_message("02_segment", "failed", res, RuntimeError("Kernel didn't respond in 120 seconds"),
                                  1800, None)
    assert msg.startswith("02_segment: the kernel did not start within 120 s") and "--kernel-start-timeout" in msg


# ------------------------------------------------------------------ 13: plain papermill with bad parameters


def test_fault_13_plain_papermill_bad_parameters_are_explained(kernel_env, tmp_path):
    """``-p data_source nan -p seed abc -p config_pth ...``: one ConfigError in the first call, no traceback
    of a later line, and no run of the default campaign."""
    nb = _notebook(tmp_path / "02_segment.ipynb", "from playbook.steps.context import start_step",
                   'ctx = start_step("02_segment", config_path, data_source, output_dir, seed)')
    with pytest.raises(papermill.PapermillExecutionError) as exc:
        papermill.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), kernel_name=KERNEL, progress_bar=False,
                                   cwd=str(project_root()), parameters={
                                       "data_source": float("nan"), "seed": "abc",
                                       "config_pth": "campaigns/diwali-2025.yaml"})
    err = exc.value
    assert err.ename == "ConfigError"
    assert err.evalue.startswith("Step 02_segment was given bad parameters:")
    assert "data_source must be text" in err.evalue and "got the number nan" in err.evalue
    assert "-r data_source VALUE (raw string)" in err.evalue
    assert "seed must be a whole number, got the str 'abc'" in err.evalue
    assert "unknown parameter 'config_pth' (did you mean 'config_path'?)" in err.evalue


def test_fault_13_the_runners_parameters_pass_the_first_call(kernel_env, tmp_path):
    """What the runner injects (all four, as text and int) is declared and well typed: no false alarm."""
    nb = _notebook(tmp_path / "02_segment.ipynb", "from playbook.steps.context import check_step_parameters",
                   'check_step_parameters("02_segment", config_path, data_source, output_dir, seed)\nprint("CHECKED")')
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(nb), str(out), kernel_name=KERNEL, progress_bar=False, cwd=str(project_root()),
                               parameters={"config_path": str(ROOT / "campaigns" / "holiday-2025.yaml"),
                                           "output_dir": str(tmp_path / "staging"), "data_source": "data/sample",
                                           "seed": 7})
    assert nbformat.read(str(out), as_version=4).cells[-1].outputs[0]["text"] == "CHECKED\n"


@pytest.mark.parametrize(("values", "expected"), [
    ({"data_source": math.nan}, "data_source must be text (a data folder or connection URL, or empty for the "
                                "config's data.source), got the number nan"),
    ({"seed": "abc"}, "seed must be a whole number, got the str 'abc': pass e.g. -p seed 42"),
    ({"config_path": 2025}, "config_path must be text (the campaign file), got the int 2025"),
    ({"output_dir": None}, "output_dir must be text"),
    ({"seed": True}, "seed must be a whole number, got True"),
], ids=["nan-source", "text-seed", "number-config", "none-output", "bool-seed"])
def test_fault_13_parameter_values_of_the_wrong_type_are_refused(values, expected):
    given = {"config_path": "campaigns/holiday-2025.yaml", "data_source": "", "output_dir": "", "seed": 42, **values}
    with pytest.raises(ConfigError, match="Step 01_plan was given bad parameters") as exc:
        context.check_step_parameters("01_plan", **given, history=[])
    assert expected in str(exc.value)
    assert len(str(exc.value).splitlines()) == 2  # one problem, one line


def test_fault_13_misspelt_parameter_names_the_closest_valid_one():
    history = ["", PARAMETERS, '# Parameters\nconfig_pth = "campaigns/diwali-2025.yaml"\nseed = 7\n', "import x"]
    assert context.unknown_parameters(history) == {"config_pth": "config_path"}
    assert context.unknown_parameters(["", PARAMETERS, '# Parameters\nseed = 7\nzzz = 1\n']) == {"zzz": None}
    assert context.unknown_parameters(["", PARAMETERS, "seed = 7"]) == {}  # no papermill: nothing injected
    with pytest.raises(ConfigError, match=r"unknown parameter 'config_pth' \(did you mean 'config_path'\?\)"):
        context.check_step_parameters("01_plan", "campaigns/holiday-2025.yaml", "", "", 42, history=history)
    context.check_step_parameters("01_plan", "campaigns/holiday-2025.yaml", "", "", "7",
                                  history=["", PARAMETERS, "# Parameters\nseed = '7'\n"])  # -r seed 7 is fine


# ------------------------------------------------------------------ 14: check-config passes run-time failures


def _holiday(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _source(raw):
    raw["data"]["source"] = "data/smaple"


def _subject(raw):
    raw["personalization"] = {"content_matrix": {"default": {
        "offer": "{discount}% off {top_product}", "content": "catalogue", "subject": "{first_name}, {nickname}"}}}


def _offer(raw):
    raw["personalization"] = {"content_matrix": {"default": {
        "offer": "{offer} now", "content": "catalogue", "subject": "{first_name}: {offer}"}}}


def _rule(raw):
    raw["segments"].append({"name": "Typo", "rules": [{"field": "ordrs", "window_days": 30, "op": ">=", "value": 1}]})


def _unwindowed(raw):
    raw["segments"].append({"name": "No window", "rules": [{"field": "orders", "op": ">=", "value": 1}]})


def _windowed_total(raw):
    raw["segments"].append({"name": "Total in a window", "rules": [
        {"field": "orders_total", "window_days": 30, "op": ">=", "value": 1}]})


@pytest.mark.parametrize(("change", "expected"), [
    (_source, "data.source: 'data/smaple' does not exist"),
    (_subject, "unknown token(s) {nickname}"),
    (_offer, "unknown token(s) {offer}"),
    (_rule, ".rules[0].field (segment 'Typo'): 'ordrs' is not a field (did you mean 'orders'?)"),
    (_unwindowed, "'orders' counts over a window: add window_days (e.g. window_days: 90), or use orders_total"),
    (_windowed_total, "'orders_total' is a whole-history field: leave window_days out"),
], ids=["missing-data-folder", "subject-token", "offer-token", "rule-field", "rule-without-window",
        "window-on-total"])
def test_fault_14_check_config_refuses_missing_data_folder_unknown_tokens_and_rule_fields(
        tmp_path, capsys, change, expected):
    path = _holiday(tmp_path, change)
    assert cli.main(["check-config", str(path)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: invalid\n") and expected in err


def test_fault_14_missing_data_folder_suggests_the_near_name_and_how_to_create_it(tmp_path, capsys):
    cli.main(["check-config", str(_holiday(tmp_path, _source))])
    err = capsys.readouterr().err
    assert "(did you mean 'sample'?)" in err and "`playbook init-data data/smaple`" in err


def test_fault_14_bad_tokens_are_refused_at_load_so_a_run_refuses_them_too():
    raw = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8"))
    _subject(raw)
    with pytest.raises(ConfigError, match=r"personalization\.content_matrix\.default\.subject: unknown token"):
        parse_config(raw)


def test_fault_14_token_and_rule_field_lists_match_what_the_run_uses():
    assert checks.SUBJECT_TOKENS == offers.TOKENS
    assert set(checks.OFFER_TOKENS) == {*offers.TOKENS, "discount"} - {"offer"}
    assert checks.WINDOWED_RULE_FIELDS == tuple(features.WINDOWED_BASES)
    wh = connect(small_sample())
    as_of = pd.Timestamp("2025-10-16", tz="UTC")
    feats = features.customer_features(wh, as_of, cleaning.resolve_identities(wh).merge_map, windows=(30,),
                                       seasons=features.past_seasons(load_config(ROOT / "campaigns" /
                                                                                 "holiday-2025.yaml"), as_of))
    feats = feats.set_index("customer_id")
    rfm = pd.DataFrame({c: 0 for c in ("rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment")}, index=feats.index)
    cl = SimpleNamespace(labels_=pd.Series(0, index=feats.index), names_={0: "all"})
    table = segment.rule_fields(feats, rfm, cl)
    point = {c for c in table.columns if not c.startswith(checks.CATEGORY_FIELD_PREFIX)
             and not any(c == f"{b}_30d" for b in features.WINDOWED_BASES)}
    assert point == set(checks.RULE_FIELDS)
    assert any(c.startswith(checks.CATEGORY_FIELD_PREFIX) for c in table.columns)
    assert sections.setup_problems(load_config(ROOT / "campaigns" / "holiday-2025.yaml")) == []
