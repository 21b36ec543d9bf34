"""The test step (04) when there is nothing to test (issue 14): a campaign without experiments is
skipped with one sentence and a ``skipped`` headline, and experiments configured before their
assignments table exists are sized but not analysed. Each case runs every function the notebook
calls, in the notebook's order, on the small sample (or a copy without ``assignments.parquet``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest
import yaml

from playbook.paths import resolve
from playbook.run import execute
from playbook.steps import test as T
from playbook.steps.context import finish_step, start_step
from tests.sample_data import small_sample

CONFIG = "campaigns/holiday-2025.yaml"
NO_EXPERIMENTS = ("No experiments in the campaign: add experiments to the campaign file and an "
                  "assignments table to size and analyse A/B tests.")
NO_ASSIGNMENTS = ("No assignments table in the data yet: the experiments above are planned and sized "
                  "but cannot be analysed; add an assignments table (experiment_id, customer_id, "
                  "variant, assigned_ts) once they run.")
NOT_STARTED = ("Not started: the data has no assignments table yet, so this planned test (sized in the "
               "design) cannot be analysed")
EXPERIMENTS = ["xmas25_subject_line", "xmas25_free_shipping", "xmas25_gift_wrap", "xmas25_aa", "xmas25_email_holdout"]


def _config(tmp: Path, experiments: bool) -> Path:
    cfg = yaml.safe_load(resolve(CONFIG).read_text())
    if not experiments:
        cfg["experiments"] = []
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _without_assignments(tmp: Path) -> Path:
    out = tmp / "no_assignments"
    out.mkdir()
    for f in small_sample().glob("*.parquet"):
        if f.name != "assignments.parquet":
            shutil.copy(f, out / f.name)
    return out


def _shown(obj) -> object:
    """What a notebook cell shows: Markdown text, a Styler's table, a figure, or None."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, plt.Figure):
        return obj
    if hasattr(obj, "_repr_markdown_"):
        return ("md", obj.data)
    return ("table", obj if isinstance(obj, pd.DataFrame) else obj.data)


def _run_cells(tmp: Path, experiments: bool, assignments: bool) -> dict:
    """Every call of notebooks/04_test.ipynb, in its order; returns what each cell shows."""
    data = small_sample() if assignments else _without_assignments(tmp)
    ctx = start_step("04_test", str(_config(tmp, experiments)), str(data), str(tmp / "out"), 42)
    inventory = T.inventory(ctx)
    design = T.design(ctx)
    analyses = T.analyze(ctx)
    cells = {
        "inventory": T.inventory_view(inventory), "plot_inventory": T.plot_inventory(inventory),
        "describe_inventory": T.describe_inventory(inventory),
        "design": T.design_view(design, ctx.cfg.currency), "power": T.plot_power_curves(design, ctx.cfg),
        "describe_design": T.describe_design(design),
        "srm": T.srm_banner(analyses), "arms": T.arms_view(analyses), "balance": T.balance_view(analyses),
        "summary": T.summary_view(analyses), "forest": T.plot_forest(analyses),
        "describe_results": T.describe_results(analyses), "guardrails": T.guardrail_view(analyses),
        "bayes": T.bayes_view(analyses), "segments": T.segment_view(analyses),
        "sequential": T.plot_sequential(analyses), "sequential_summary": T.sequential_summary(analyses),
        "decisions": T.decisions_view(analyses),
    }
    decisions = T.write_artifacts(ctx, analyses, design)
    cells["describe_decisions"] = T.describe_decisions(analyses)
    finish_step(ctx, T.headline(analyses, inventory), T.decision_notes(analyses), skipped=T.skipped(analyses))
    summary = json.loads((ctx.output_dir / "artifacts" / "summary_04_test.json").read_text())
    plt.close("all")
    return {"cells": {k: _shown(v) for k, v in cells.items()}, "summary": summary, "decisions": decisions}


@pytest.mark.parametrize("assignments", [True, False], ids=["with_assignments", "no_assignments_table"])
def test_no_experiments_skips_the_step_with_one_sentence(tmp_path, assignments):
    run = _run_cells(tmp_path, experiments=False, assignments=assignments)
    cells = run["cells"]
    sentence = ("md", NO_EXPERIMENTS)
    # the page says it once, in its first section; nothing else is drawn or said
    assert [k for k, v in cells.items() if v in (sentence, NO_EXPERIMENTS)] == ["inventory"]
    for k in ("plot_inventory", "design", "power", "arms", "balance", "summary", "forest", "guardrails",
              "bayes", "segments", "sequential", "decisions"):
        assert cells[k] is None, k
    for k in ("describe_design", "srm", "describe_results", "sequential_summary", "describe_decisions"):
        assert cells[k] == "", k
    if assignments:  # the data's experiments are named so the user can add them to the campaign
        assert cells["describe_inventory"] == (
            "The assignments table holds 5 experiment(s) that are not in the campaign file (xmas25_aa, "
            "xmas25_email_holdout, xmas25_free_shipping, xmas25_gift_wrap, xmas25_subject_line); "
            "add them under `experiments:` to size and analyse them.")
    else:
        assert cells["describe_inventory"] == ""
    assert run["summary"]["headline"] == {"skipped": "no experiments in the campaign"}
    assert run["summary"]["notes"] == [NO_EXPERIMENTS]
    assert run["summary"]["skipped"] == "no experiments in the campaign"
    assert run["decisions"] == {}


def test_experiments_without_assignments_table_are_sized_but_not_analysed(tmp_path):
    run = _run_cells(tmp_path, experiments=True, assignments=False)
    cells = run["cells"]
    inv = cells["inventory"][1]
    assert list(inv.columns) == ["experiment", "metric", "variant", "planned share", "status"]
    assert (inv["status"] == "no assignments table").all() and not inv.isna().any().any()
    assert cells["plot_inventory"] is None
    assert cells["describe_inventory"] == ("5 experiment(s) configured and none started: the data has no "
                                           "assignments table yet, so the design below sizes them and "
                                           "nothing can be analysed.")
    # the design (planning before the tests start) still runs on customers and orders
    design = cells["design"][1]
    assert list(design["experiment"]) == EXPERIMENTS and design["users needed"].gt(0).all()
    assert isinstance(cells["power"], plt.Figure) and cells["power"].axes[0].get_ylabel() == "power (%)"
    assert cells["describe_design"].startswith("- **xmas25_subject_line** needs ")
    # the analysis part says why once, in its first section
    assert cells["srm"] == NO_ASSIGNMENTS
    for k in ("arms", "balance", "summary", "forest", "guardrails", "bayes", "segments", "sequential"):
        assert cells[k] is None, k
    assert cells["describe_results"] == "" and cells["sequential_summary"] == ""
    # each planned experiment's decision says so in one sentence
    dec = cells["decisions"][1]
    assert list(dec["verdict"]) == ["no result"] * 5 and list(dec["reason"]) == [NOT_STARTED] * 5
    assert list(dec["data notes"]) == [""] * 5 and list(dec["sample-ratio p"]) == [""] * 5
    assert cells["describe_decisions"].splitlines()[0] == f"- **xmas25_subject_line: no result.** {NOT_STARTED}"
    assert run["summary"]["headline"] == {"experiments": "5", "customers assigned": "0", "experiments analysed": "0",
                                          "analysis": "skipped: no assignments table in the data"}
    assert run["summary"]["notes"] == [NO_ASSIGNMENTS]
    assert {d["verdict"] for d in run["decisions"].values()} == {"no result"}


def test_full_sample_is_not_skipped(tmp_path):
    run = _run_cells(tmp_path, experiments=True, assignments=True)
    cells = run["cells"]
    assert cells["inventory"][0] == "table" and "skipped" not in run["summary"]["headline"]
    assert "skipped" not in run["summary"]
    assert isinstance(cells["forest"], plt.Figure) and isinstance(cells["plot_inventory"], plt.Figure)
    assert cells["srm"].startswith("Sample ratio check: all 5 experiment(s)")
    assert cells["summary"][0] == "table" and len(run["summary"]["notes"]) == 5


@pytest.mark.notebooks
def test_notebook_without_experiments_or_assignments_runs_and_says_why(tmp_path):
    """The notebook itself (Papermill, the runner's kernel): no error, the sentence, no NaN."""
    out = tmp_path / "04_test.ipynb"
    execute.execute_notebook(resolve("notebooks/04_test.ipynb"), out,
                             {"config_path": str(_config(tmp_path, experiments=False)),
                              "data_source": str(_without_assignments(tmp_path)),
                              "output_dir": str(tmp_path / "report"), "seed": 42},
                             execute.DEFAULT_KERNEL, 300)
    outputs = [o for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/plain", ""))
                     + str(o.get("text", "")) for o in outputs)
    assert text.count(NO_EXPERIMENTS) == 1 and "NaN" not in text and "nan" not in text.lower().split()
    assert not [o for o in outputs if "image/png" in o.get("data", {})]  # no chart at all
    summary = json.loads((tmp_path / "report" / "artifacts" / "summary_04_test.json").read_text())
    assert summary["headline"] == {"skipped": "no experiments in the campaign"}
    assert summary["skipped"] == "no experiments in the campaign"  # the notebook passes it through
