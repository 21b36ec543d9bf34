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

Without configured experiments the step is skipped, not failed: every section shows
:data:`~playbook.experiments.report.NO_EXPERIMENTS` once (tables become that sentence, charts are
not drawn, the other sentences are empty) and the step summary's headline records
``skipped: no experiments in the campaign`` (:data:`SKIPPED`). Experiments configured but no
``assignments`` table yet (planning before the tests start): the inventory lists the planned arms,
the design sizes them, and the analysis sections show
:data:`~playbook.experiments.report.NO_ASSIGNMENTS` instead.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.artifacts import write_artifact
from playbook.experiments import design as experiment_design
from playbook.experiments import inventory as experiment_inventory
from playbook.experiments import report
from playbook.experiments.analysis import (
    AA_FAILED,
    AA_PASSED,
    SRM_P,
    ExperimentAnalysis,
    analyze_all,
    results_table,
)
from playbook.report.format import format_table
from playbook.steps.context import StepContext, md

#: Why the whole step is skipped (the headline's ``skipped`` value) when no experiment is configured.
SKIPPED = "no experiments in the campaign"


def _configured(inv: pd.DataFrame) -> bool:
    """Whether the inventory holds at least one experiment of the campaign file."""
    return bool((inv["primary_metric"] != experiment_inventory.NOT_IN_CONFIG).any())


# --------------------------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------------------------
def inventory(ctx: StepContext) -> pd.DataFrame:
    """Configured experiments with the size of each arm found in the data."""
    return experiment_inventory.experiment_inventory(ctx.wh, ctx.cfg.experiments)


def inventory_view(inv: pd.DataFrame) -> Any:
    """The inventory as shown: the table itself; only the planned arms (no empty columns) when
    the data has no assignments table; :data:`~playbook.experiments.report.NO_EXPERIMENTS` when
    the campaign configures no experiment."""
    if not _configured(inv):
        return md(report.NO_EXPERIMENTS)
    if (inv["status"] == experiment_inventory.NO_TABLE).all():
        planned = inv[["experiment_id", "primary_metric", "variant", "planned_share", "status"]]
        return format_table(planned.rename(columns={"experiment_id": "experiment", "primary_metric": "metric",
                                                    "planned_share": "planned share"}),
                            pct=["planned share"])
    return inv


def plot_inventory(inv: pd.DataFrame) -> plt.Figure | None:
    """Customers per arm of each experiment (chart); none drawn without configured experiments or
    without an assignments table (the table and the sentence say why)."""
    if not _configured(inv) or (inv["status"] == experiment_inventory.NO_TABLE).all():
        return None
    return experiment_inventory.plot_inventory(inv)


def describe_inventory(inv: pd.DataFrame) -> str:
    """A sentence on the experiments found (Markdown; empty when there are none at all, as the
    inventory table already says)."""
    return "" if inv.empty else experiment_inventory.describe_inventory(inv)


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


def design_view(design_table: pd.DataFrame, currency: str = "USD") -> Any:
    """The design table for stakeholders (nothing without experiments: the inventory says so)."""
    if design_table.empty:
        return None  # the inventory section already said there are no experiments
    return experiment_design.design_view(design_table, currency)


def plot_power_curves(design_table: pd.DataFrame, cfg: Any) -> plt.Figure | None:
    """Power against the true lift per experiment; none drawn without experiments."""
    return None if design_table.empty else experiment_design.plot_power_curves(design_table, cfg)


def describe_design(design_table: pd.DataFrame) -> str:
    """A sentence per experiment on size and feasibility (empty without experiments: the design
    table already says why)."""
    return "" if design_table.empty else experiment_design.describe_design(design_table)


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------
def analyze(ctx: StepContext) -> list[ExperimentAnalysis]:
    """Analyse every configured experiment over the season window (seeded bootstrap)."""
    return analyze_all(ctx.wh, ctx.cfg, ctx.seed)


# Tables, charts and sentences about the analyses (:mod:`playbook.experiments.report`; each
# takes the list of analyses). When there is nothing to analyse (:func:`report.skip_reason`), the
# page says why once: the design section when no experiment is configured, else the first
# analysis section (the sample-ratio banner); every later output is empty (no figure, "").
def srm_banner(analyses: list[ExperimentAnalysis]) -> str:
    """Sample-ratio banner (Markdown), or why nothing was analysed (empty without experiments:
    the design section already said so)."""
    reason = report.skip_reason(analyses)
    if reason == report.NO_EXPERIMENTS:
        return ""
    return reason or report.srm_banner(analyses)


def arms_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Planned vs observed split per arm (nothing when the banner says why there is none)."""
    return None if report.skip_reason(analyses) else report.arms_view(analyses)


def balance_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Pre-period balance of the arms (nothing when the banner says why there is none)."""
    return None if report.skip_reason(analyses) else report.balance_view(analyses)


def summary_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Primary results per variant (nothing when the banner says why there are none)."""
    return None if report.skip_reason(analyses) else report.summary_view(analyses)


def plot_forest(analyses: list[ExperimentAnalysis]) -> plt.Figure | None:
    """Forest plot of the primary lifts; none drawn when there is nothing to analyse."""
    return None if report.skip_reason(analyses) else report.plot_forest(analyses)


def describe_results(analyses: list[ExperimentAnalysis]) -> str:
    """Sentence on the results (empty when the summary already says why there are none)."""
    return "" if report.skip_reason(analyses) else report.describe_results(analyses)


def guardrail_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Guardrail metrics per variant (nothing when the banner says why there are none)."""
    return None if report.skip_reason(analyses) else report.guardrail_view(analyses)


def bayes_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Bayesian view per variant (nothing when the banner says why there is none)."""
    return None if report.skip_reason(analyses) else report.bayes_view(analyses)


def segment_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Exploratory lifts by country (nothing when the banner says why there are none)."""
    return None if report.skip_reason(analyses) else report.segment_view(analyses)


def plot_sequential(analyses: list[ExperimentAnalysis]) -> plt.Figure | None:
    """Daily monitoring chart; none drawn when there is nothing to analyse."""
    return None if report.skip_reason(analyses) else report.plot_sequential(analyses)


def sequential_summary(analyses: list[ExperimentAnalysis]) -> str:
    """Sentence on the daily monitoring (empty when the banner says why there is none)."""
    return "" if report.skip_reason(analyses) else report.sequential_summary(analyses)


def decisions_view(analyses: list[ExperimentAnalysis]) -> Any:
    """One verdict per experiment (each says why when it has no result); nothing without
    experiments (the design section said so)."""
    return None if not analyses else report.decisions_view(analyses)


def describe_decisions(analyses: list[ExperimentAnalysis]) -> str:
    """Verdicts as Markdown bullets (empty without experiments: the table already says why)."""
    return report.describe_decisions(analyses) if analyses else ""


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
    """Headline numbers for the index page: inventory counts (optional) and verdict counts.

    Without configured experiments only ``{"skipped": SKIPPED}``; without an assignments table
    "experiments analysed" is 0 and ``analysis`` says it was skipped and why. A/A tests (sanity
    checks, verdict "passed" or "failed: check the assignment") add "A/A passed" and "A/A failed".
    """
    if not analyses:
        return {"skipped": SKIPPED}
    verdicts = [a.decision.get("verdict", "no result") for a in analyses]
    out = inventory_headline(inv) if inv is not None else {}
    if report.skip_reason(analyses) == report.NO_ASSIGNMENTS:
        out.update({"experiments analysed": "0", "analysis": "skipped: no assignments table in the data"})
        return out
    out.update({"experiments analysed": str(len(analyses)),
                "ship": str(verdicts.count("ship")), "don't ship": str(verdicts.count("don't ship")),
                "inconclusive": str(verdicts.count("inconclusive")),
                "sample ratio mismatches": str(sum(a.srm_p < SRM_P for a in analyses))})
    if AA_PASSED in verdicts or AA_FAILED in verdicts:  # A/A tests are sanity checks, counted apart
        out.update({"A/A passed": str(verdicts.count(AA_PASSED)), "A/A failed": str(verdicts.count(AA_FAILED))})
    return out


def skipped(analyses: list[ExperimentAnalysis]) -> str | None:
    """Why the whole step had nothing to do (:data:`SKIPPED`), or None when an experiment is configured."""
    return SKIPPED if not analyses else None


def decision_notes(analyses: list[ExperimentAnalysis]) -> list[str]:
    """Verdicts as short sentences for the step summary on the index page (one sentence instead
    when there is nothing to analyse)."""
    reason = report.skip_reason(analyses)
    if reason:
        return [reason]
    return [f"{a.experiment_id}: {a.decision.get('verdict', 'no result')}. {a.decision.get('reason', '')}"
            for a in analyses]
