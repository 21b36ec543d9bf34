"""The test step module on the small sample: inventory, design, analyses, artifacts, headline
(the statistics themselves are tested in test_experiment_stats and test_experiment_analysis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playbook.artifacts import read_artifact
from playbook.experiments.analysis import ExperimentAnalysis
from playbook.steps import test as T
from playbook.steps.context import start_step
from tests.sample_data import read, small_sample

CONFIG = "campaigns/holiday-2025.yaml"
EXPERIMENTS = ["xmas25_subject_line", "xmas25_free_shipping", "xmas25_gift_wrap", "xmas25_aa", "xmas25_email_holdout"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ctx = start_step("04_test", CONFIG, str(small_sample()), str(tmp_path_factory.mktemp("test_step") / "out"), 42)
    inventory, design, analyses = T.inventory(ctx), T.design(ctx), T.analyze(ctx)
    return {"ctx": ctx, "inventory": inventory, "design": design, "analyses": analyses,
            "decisions": T.write_artifacts(ctx, analyses, design)}


def test_inventory_design_and_analyses_cover_every_configured_experiment(run):
    inv = run["inventory"]
    assert list(dict.fromkeys(inv["experiment_id"])) == EXPERIMENTS
    assert inv["assigned"].sum() == len(read(small_sample(), "assignments"))
    assert list(run["design"]["experiment_id"]) == EXPERIMENTS
    assert [a.experiment_id for a in run["analyses"]] == EXPERIMENTS
    assert list(T.design_view(run["design"]).data["experiment"]) == EXPERIMENTS
    assert T.srm_banner(run["analyses"]).startswith("Sample ratio check: all 5 experiment(s)")


def test_artifacts_hold_results_design_and_decisions(run):
    out, analyses = run["ctx"].output_dir, run["analyses"]
    dec = read_artifact(out, "experiment_decisions")
    assert dec == run["decisions"] and list(dec) == EXPERIMENTS
    assert {dec[a.experiment_id]["verdict"] for a in analyses} <= {"ship", "don't ship", "inconclusive", "no result",
                                                                  "passed", "failed: check the assignment"}
    assert dec["xmas25_aa"]["verdict"] == "passed"  # an A/A test is a sanity check, never "inconclusive"
    assert len(read_artifact(out, "experiment_results")) == sum(len(a.results) for a in analyses)
    assert list(read_artifact(out, "experiment_design")["experiment_id"]) == EXPERIMENTS


def test_headline_counts_inventory_and_verdicts(run):
    analyses, inv = run["analyses"], run["inventory"]
    head = T.headline(analyses, inv)
    verdicts = [a.decision["verdict"] for a in analyses]
    assert head == {"experiments": "5", "customers assigned": f"{int(inv['assigned'].sum()):,}",
                    "experiments analysed": "5", "ship": str(verdicts.count("ship")),
                    "don't ship": str(verdicts.count("don't ship")), "inconclusive": str(verdicts.count("inconclusive")),
                    "sample ratio mismatches": "0", "A/A passed": "1", "A/A failed": "0"}


def _analysis(exp_id: str, verdict: str, reason: str, srm_p: float = 0.5) -> ExperimentAnalysis:
    return ExperimentAnalysis(exp_id, exp_id, "conversion", srm_p=srm_p, decision={"verdict": verdict, "reason": reason})


def test_headline_and_notes_by_hand(tmp_path):
    analyses = [_analysis("a", "ship", "B wins."), _analysis("b", "inconclusive", "Sample ratio mismatch.", 1e-6),
                _analysis("c", "don't ship", "Guardrail hurt."), ExperimentAnalysis("d", "d", "conversion")]
    inv = pd.DataFrame({"experiment_id": ["a", "a", "b", "b", "c", "c", "d", "d"], "assigned": [1000, 1200, 5, 5, 0, 0, 1, 2]})
    assert T.headline(analyses, inv) == {"experiments": "4", "customers assigned": "2,213",
                                         "experiments analysed": "4", "ship": "1", "don't ship": "1",
                                         "inconclusive": "1", "sample ratio mismatches": "1"}
    assert "experiments" not in T.headline(analyses)  # without the inventory
    assert T.decision_notes(analyses) == ["a: ship. B wins.", "b: inconclusive. Sample ratio mismatch.",
                                          "c: don't ship. Guardrail hurt.", "d: no result. "]
    assert "> **Warning: sample ratio mismatch** in **b** (p = 1e-06)" in T.srm_banner(analyses)
    aa = [_analysis("e", "passed", "Fine."), _analysis("f", "failed: check the assignment", "SRM.", 1e-9)]
    head = T.headline(analyses + aa)
    assert (head["A/A passed"], head["A/A failed"], head["inconclusive"]) == ("1", "1", "1")
    assert T.decision_notes(aa) == ["e: passed. Fine.", "f: failed: check the assignment. SRM."]


def test_decision_floats_are_plain_json(tmp_path):
    ctx = start_step("04_test", CONFIG, str(small_sample()), str(tmp_path), 42)
    a = ExperimentAnalysis("x", "x", "conversion", decision={"verdict": "inconclusive", "reason": "r",
                                                             "extra_days": np.float64(3.5)})
    dec = T.write_artifacts(ctx, [a], pd.DataFrame({"experiment_id": ["x"]}))
    assert dec == {"x": {"verdict": "inconclusive", "reason": "r", "extra_days": 3.5}}
    assert type(dec["x"]["extra_days"]) is float
    assert read_artifact(tmp_path, "experiment_decisions") == dec
