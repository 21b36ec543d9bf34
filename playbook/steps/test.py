"""The test step (``notebooks/04_test.ipynb``): how big each A/B test must be, and what the tests
showed, with honest statistics. One call per notebook cell.

The methods live in :mod:`playbook.experiments`: the inventory of configured tests and their arms
(:mod:`~playbook.experiments.inventory`), sample size and power
(:mod:`~playbook.experiments.design`), the analysis and one decision per experiment
(:mod:`~playbook.experiments.analysis`, statistics in :mod:`~playbook.experiments.stats`) and
the tables, charts and sentences about them (:mod:`~playbook.experiments.report`). This module
wires them to the run context and owns the step's artifacts and headline numbers:
``experiment_results.parquet``, ``experiment_design.parquet`` and ``experiment_decisions.json``
(the verdicts, read by the retrospective step's lessons; see ``docs/architecture.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from playbook.artifacts import write_artifact
from playbook.experiments import design as experiment_design
from playbook.experiments import inventory as experiment_inventory
from playbook.experiments import report
from playbook.experiments.analysis import SRM_P, ExperimentAnalysis, analyze_all, results_table
from playbook.steps.context import StepContext


# --------------------------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------------------------
def inventory(ctx: StepContext) -> pd.DataFrame:
    """Configured experiments with the size of each arm found in the data."""
    return experiment_inventory.experiment_inventory(ctx.wh, ctx.cfg.experiments)


#: Customers per arm of each experiment (chart), and a sentence on the experiments found.
plot_inventory = experiment_inventory.plot_inventory
describe_inventory = experiment_inventory.describe_inventory


def inventory_headline(inv: pd.DataFrame) -> dict[str, str]:
    """Headline numbers of the experiment inventory for the index page."""
    return {"experiments": str(inv["experiment_id"].nunique()),
            "customers assigned": f"{int(inv['assigned'].sum()):,}"}


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------
def design(ctx: StepContext) -> pd.DataFrame:
    """Sample size, duration and detectable lift of every configured experiment, from the most
    recent comparison season's baselines."""
    return experiment_design.design_table(ctx.wh, ctx.cfg)


#: The design table for stakeholders, the power curves, and a sentence on feasibility.
design_view = experiment_design.design_view
plot_power_curves = experiment_design.plot_power_curves
describe_design = experiment_design.describe_design


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------
def analyze(ctx: StepContext) -> list[ExperimentAnalysis]:
    """Analyse every configured experiment over the season window (seeded bootstrap)."""
    return analyze_all(ctx.wh, ctx.cfg, ctx.seed)


#: Tables, charts and sentences about the analyses, shown as they are
#: (:mod:`playbook.experiments.report`; each takes the list of analyses).
srm_banner = report.srm_banner
arms_view = report.arms_view
balance_view = report.balance_view
summary_view = report.summary_view
plot_forest = report.plot_forest
describe_results = report.describe_results
guardrail_view = report.guardrail_view
bayes_view = report.bayes_view
segment_view = report.segment_view
plot_sequential = report.plot_sequential
sequential_summary = report.sequential_summary
decisions_view = report.decisions_view
describe_decisions = report.describe_decisions


# --------------------------------------------------------------------------------------------
# Artifacts and headline
# --------------------------------------------------------------------------------------------
def write_artifacts(ctx: StepContext, analyses: list[ExperimentAnalysis], design_table: pd.DataFrame
                    ) -> dict[str, dict[str, Any]]:
    """Write ``experiment_results.parquet``, ``experiment_design.parquet`` and
    ``experiment_decisions.json``; return the decisions by experiment id."""
    write_artifact(results_table(analyses), ctx.output_dir, "experiment_results")
    write_artifact(design_table, ctx.output_dir, "experiment_design")
    decisions = {a.experiment_id: {k: (float(v) if isinstance(v, np.floating) else v)
                                   for k, v in a.decision.items()} for a in analyses}
    write_artifact(decisions, ctx.output_dir, "experiment_decisions")
    return decisions


def headline(analyses: list[ExperimentAnalysis], inv: pd.DataFrame | None = None) -> dict[str, str]:
    """Headline numbers for the index page: inventory counts (optional) and verdict counts."""
    verdicts = [a.decision.get("verdict", "no result") for a in analyses]
    out = inventory_headline(inv) if inv is not None else {}
    out.update({"experiments analysed": str(len(analyses)),
                "ship": str(verdicts.count("ship")), "don't ship": str(verdicts.count("don't ship")),
                "inconclusive": str(verdicts.count("inconclusive")),
                "sample ratio mismatches": str(sum(a.srm_p < SRM_P for a in analyses))})
    return out


def decision_notes(analyses: list[ExperimentAnalysis]) -> list[str]:
    """Verdicts as short sentences for the step summary on the index page."""
    return [f"{a.experiment_id}: {a.decision.get('verdict', 'no result')}. {a.decision.get('reason', '')}"
            for a in analyses]
