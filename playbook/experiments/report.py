"""Experiment report: the tables, charts and sentences the test step shows about the analyses.

Every function takes the list of :class:`playbook.experiments.analysis.ExperimentAnalysis` of a
campaign and formats it for stakeholders (rates as percentages, p-values to three significant
digits, empty strings for undefined values); nothing here computes a statistic.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.experiments.analysis import (
    HIGHER_IS_WORSE,
    NO_ASSIGNMENTS_TABLE,
    SRM_P,
    ExperimentAnalysis,
    results_table,
)
from playbook.experiments.data import METRICS
from playbook.report.charts import empty_chart
from playbook.report.format import format_table

#: Shown in place of every section of the test step when the campaign configures no experiment.
NO_EXPERIMENTS = ("No experiments in the campaign: add experiments to the campaign file and an "
                  "assignments table to size and analyse A/B tests.")
#: Shown in place of the analysis sections when experiments are configured (and sized) but the
#: data has no ``assignments`` table yet.
NO_ASSIGNMENTS = ("No assignments table in the data yet: the experiments above are planned and sized "
                  "but cannot be analysed; add an assignments table (experiment_id, customer_id, "
                  "variant, assigned_ts) once they run.")
DECISION_COLUMNS = ["experiment", "metric", "verdict", "reason", "srm_p", "data notes"]


def skip_reason(analyses: list[ExperimentAnalysis]) -> str | None:
    """Why the analysis sections have nothing to show, as one sentence; None when they do.

    :data:`NO_EXPERIMENTS` without any configured experiment, :data:`NO_ASSIGNMENTS` when every
    experiment lacks the ``assignments`` table (:data:`~playbook.experiments.analysis.NO_ASSIGNMENTS_TABLE`).
    """
    if not analyses:
        return NO_EXPERIMENTS
    if all(NO_ASSIGNMENTS_TABLE in a.messages for a in analyses):
        return NO_ASSIGNMENTS
    return None


def decisions_table(analyses: list[ExperimentAnalysis]) -> pd.DataFrame:
    """One verdict and reason per experiment, with the SRM p-value and any data messages
    (:data:`DECISION_COLUMNS`; no rows without experiments)."""
    return pd.DataFrame([{"experiment": a.experiment_id, "metric": a.metric,
                          "verdict": a.decision.get("verdict", "no result"),
                          "reason": a.decision.get("reason", ""),
                          "srm_p": a.srm_p,
                          "data notes": "; ".join(m for m in a.messages
                                                  if not m.startswith("SAMPLE") and m != NO_ASSIGNMENTS_TABLE)}
                         for a in analyses], columns=DECISION_COLUMNS)


def srm_banner(analyses: list[ExperimentAnalysis]) -> str:
    """A Markdown warning banner listing experiments with a sample ratio mismatch (or a check mark)."""
    bad = [a for a in analyses if a.srm_p < SRM_P]
    if not bad:
        checked = sum(np.isfinite(a.srm_p) for a in analyses)
        return f"Sample ratio check: all {checked} experiment(s) with data are in their planned split (p >= {SRM_P})."
    items = "; ".join(f"**{a.experiment_id}** (p = {a.srm_p:.1g})" for a in bad)
    return (f"> **Warning: sample ratio mismatch** in {items}. The arms are not in the planned "
            "proportions, which usually means broken assignment or logging; these results are not "
            "trustworthy and cannot be shipped.")


def summary_view(analyses: list[ExperimentAnalysis]) -> Any:
    """:func:`summary_table` formatted for the report (no index)."""
    return format_table(summary_table(analyses))


def decisions_view(analyses: list[ExperimentAnalysis]) -> Any:
    """:func:`decisions_table` formatted for the report (no index)."""
    df = decisions_table(analyses)
    df["srm_p"] = df["srm_p"].map(lambda p: "" if pd.isna(p) else f"{p:.3g}")
    return format_table(df.rename(columns={"srm_p": "sample-ratio p"}))


def summary_table(analyses: list[ExperimentAnalysis]) -> pd.DataFrame:
    """Stakeholder table: primary metric per treatment with lift, interval and verdict."""
    res = results_table(analyses)
    if res.empty:
        return pd.DataFrame(columns=["experiment", "variant", "metric", "control", "treatment",
                                     "lift", "95% interval", "adjusted p", "P(beat control)", "CUPED lift",
                                     "bootstrap 95% (revenue)"])
    res = res[res["role"] == "primary"]

    def pct(x):
        return "" if pd.isna(x) else f"{x:+.1%}"

    def val(m, x):
        return "" if pd.isna(x) else (f"{x:,.2f}" if METRICS[m][2] == "mean" else f"{x:.2%}")

    return pd.DataFrame({
        "experiment": res["experiment_id"], "variant": res["variant"], "metric": res["metric"],
        "control": [val(m, x) for m, x in zip(res["metric"], res["value_control"], strict=True)],
        "treatment": [val(m, x) for m, x in zip(res["metric"], res["value_variant"], strict=True)],
        "lift": res["rel_lift"].map(pct),
        "95% interval": [f"{pct(lo)} to {pct(hi)}" if pd.notna(lo) else "" for lo, hi in
                         zip(res["rel_lo"], res["rel_hi"], strict=True)],
        "adjusted p": res["p_adjusted"].map(lambda p: "" if pd.isna(p) else f"{p:.3g}"),
        "P(beat control)": res["prob_beat_control"].map(lambda p: "" if pd.isna(p) else f"{p:.0%}"),
        "CUPED lift": [f"{pct(x)} ({pct(lo)} to {pct(hi)})" if pd.notna(x) else "" for x, lo, hi in
                       zip(res["cuped_rel_lift"], res["cuped_rel_lo"], res["cuped_rel_hi"], strict=True)],
        "bootstrap 95% (revenue)": [f"{pct(lo)} to {pct(hi)}" if pd.notna(lo) else "" for lo, hi in
                                    zip(res["boot_rel_lo"], res["boot_rel_hi"], strict=True)],
    }).reset_index(drop=True)


def plot_forest(analyses: list[ExperimentAnalysis]) -> plt.Figure:
    """Relative lift of the primary metric with its 95% interval (unadjusted and CUPED).

    Guardrails are left to :func:`guardrail_view`: rare events (unsubscribes) have relative
    intervals hundreds of percent wide that would squash the primary results.
    """
    res = results_table(analyses)
    res = res[res["role"] == "primary"].dropna(subset=["rel_lift"])
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.45 * len(res) + 1.2)))
    if res.empty:
        empty_chart(ax, "No experiment results to show")
        return fig
    labels = (res["experiment_id"] + " · " + res["variant"].astype(str) + "\n" + res["metric"]).tolist()
    y = np.arange(len(res))
    ax.errorbar(res["rel_lift"] * 100, y, xerr=[(res["rel_lift"] - res["rel_lo"]) * 100,
                (res["rel_hi"] - res["rel_lift"]) * 100], fmt="o", color="#1f4e79", capsize=3,
                label="lift, 95% interval")
    cu = res["cuped_rel_lift"].notna().to_numpy()
    if cu.any():
        r = res[cu]
        ax.errorbar(r["cuped_rel_lift"] * 100, y[cu] + 0.25, xerr=[(r["cuped_rel_lift"] - r["cuped_rel_lo"]) * 100,
                    (r["cuped_rel_hi"] - r["cuped_rel_lift"]) * 100], fmt="s", color="#c55a11", capsize=3,
                    ms=4, label="CUPED-adjusted")
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_title("Primary metric: relative lift of each variant over its control (95% intervals)")
    ax.set_xlabel("relative lift (%)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_sequential(analyses: list[ExperimentAnalysis]) -> plt.Figure:
    """Cumulative z statistic by day against the O'Brien-Fleming-type boundary, per experiment."""
    seq = [a for a in analyses if not a.sequential.empty]
    if not seq:
        fig, ax = plt.subplots(figsize=(8, 2.5))
        empty_chart(ax, "No daily data to monitor (message tests have a single send)")
        return fig
    fig, axes = plt.subplots(len(seq), 1, figsize=(9, 2.6 * len(seq)), squeeze=False)
    for ax, a in zip(axes[:, 0], seq, strict=True):
        for v, p in a.sequential.groupby("variant", sort=False):
            ax.plot(p["day"], p["z"], label=f"{v}: cumulative z")
            b = p["boundary"].clip(upper=8)
            ax.plot(p["day"], b, color="#c00000", lw=1, label="sequential boundary")
            ax.plot(p["day"], -b, color="#c00000", lw=1)
            ax.axhline(p["fixed_horizon"].iloc[0], color="grey", ls=":", lw=1, label="naive 1.96 (unsafe to peek)")
            ax.axhline(-p["fixed_horizon"].iloc[0], color="grey", ls=":", lw=1)
        ax.set_title(f"{a.experiment_id}: {a.metric}, daily look")
        ax.set_ylabel("z statistic")
        ax.set_ylim(-6, 6)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("day of the test window")
    fig.tight_layout()
    return fig


def describe_decisions(analyses: list[ExperimentAnalysis]) -> str:
    """One plain-language bullet per experiment: verdict and reason (Markdown)."""
    if not analyses:
        return "No experiments are configured for this campaign."
    return "\n".join(f"- **{a.experiment_id}: {a.decision.get('verdict', 'no result')}.** "
                     f"{a.decision.get('reason', '')}" for a in analyses)


def sequential_summary(analyses: list[ExperimentAnalysis]) -> str:
    """Sentence: on which day each test first crossed its sequential boundary, if ever."""
    parts = []
    for a in analyses:
        if a.sequential.empty:
            continue
        for v, p in a.sequential.groupby("variant", sort=False):
            hit = p[np.abs(p["z"]) >= p["boundary"]]
            naive = p[np.abs(p["z"]) >= p["fixed_horizon"]]
            if not hit.empty:
                parts.append(f"{a.experiment_id} ({v}) crossed the boundary on day {int(hit['day'].iloc[0])}")
            elif not naive.empty:
                parts.append(f"{a.experiment_id} ({v}) touched the naive 1.96 line on day "
                             f"{int(naive['day'].iloc[0])} but never the sequential boundary")
            else:
                parts.append(f"{a.experiment_id} ({v}) never crossed")
    if not parts:
        return "No test has daily data to monitor."
    return "Daily monitoring with O'Brien-Fleming-type alpha spending: " + "; ".join(parts) + "."



def arms_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Planned vs observed split per arm with the sample-ratio p-value."""
    frames = [a.arms.assign(experiment=a.experiment_id, srm_p=a.srm_p) for a in analyses if not a.arms.empty]
    cols = ["experiment", "variant", "planned_share", "observed_share", "users", "srm_p"]
    df = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    df = df.rename(columns={"planned_share": "planned share", "observed_share": "observed share",
                            "srm_p": "sample-ratio p"})
    df["sample-ratio p"] = df["sample-ratio p"].map(lambda p: "" if pd.isna(p) else f"{p:.3g}")
    return format_table(df, pct=["planned share", "observed share"], ints=["users"])


def balance_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Standardised mean differences of pre-period covariates (|SMD| > 0.1 flagged)."""
    frames = [a.balance.assign(experiment=a.experiment_id) for a in analyses if not a.balance.empty]
    cols = ["experiment", "arm", "covariate", "mean_control", "mean_arm", "smd", "balanced"]
    df = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    df["smd"] = df["smd"].map(lambda x: f"{x:+.3f}")
    df["mean_control"] = df["mean_control"].map(lambda x: f"{x:,.2f}")
    df["mean_arm"] = df["mean_arm"].map(lambda x: f"{x:,.2f}")
    df["balanced"] = df["balanced"].map({True: "yes", False: "NO"})
    return format_table(df.rename(columns={"smd": "std. mean difference", "mean_control": "control mean",
                                           "mean_arm": "arm mean"}))


def guardrail_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Guardrail metrics per variant: lift, interval, adjusted p and whether harm was found."""
    res = results_table(analyses)
    g = res[res["role"] == "guardrail"].copy()
    harm = np.where(g["metric"].isin(HIGHER_IS_WORSE), g["abs_lift"] > 0, g["abs_lift"] < 0)
    g["harm detected"] = np.where(g["significant"].fillna(False).astype(bool) & harm, "yes", "no")
    g.loc[g["p_value"].isna(), "harm detected"] = "no data"
    view = g[["experiment_id", "variant", "metric", "value_control", "value_variant", "rel_lift", "rel_lo",
              "rel_hi", "p_adjusted", "harm detected", "note"]].rename(columns={
                  "experiment_id": "experiment", "value_control": "control", "value_variant": "variant value",
                  "rel_lift": "lift", "rel_lo": "95% low", "rel_hi": "95% high", "p_adjusted": "adjusted p"})
    for c in ("control", "variant value"):
        view[c] = [("" if pd.isna(x) else f"{x:,.2f}" if m == "aov" else f"{x:.2%}")
                   for m, x in zip(view["metric"], view[c], strict=True)]
    view["adjusted p"] = view["adjusted p"].map(lambda p: "" if pd.isna(p) else f"{p:.3g}")
    return format_table(view.reset_index(drop=True), pct=["lift", "95% low", "95% high"])


def segment_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Exploratory lifts of the primary metric by country (not corrected; do not ship on these)."""
    frames = [a.segments.assign(experiment=a.experiment_id, metric=a.metric) for a in analyses
              if not a.segments.empty]
    cols = ["experiment", "metric", "segment", "variant", "n_control", "n_variant", "rel_lift", "rel_lo",
            "rel_hi", "p_value"]
    df = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    df["p_value"] = df["p_value"].map(lambda p: "" if pd.isna(p) else f"{p:.3g}")
    df = df.rename(columns={"n_control": "users (control)", "n_variant": "users (variant)", "rel_lift": "lift",
                            "rel_lo": "95% low", "rel_hi": "95% high", "p_value": "p (uncorrected)"})
    return format_table(df, pct=["lift", "95% low", "95% high"], ints=["users (control)", "users (variant)"])


def bayes_view(analyses: list[ExperimentAnalysis]) -> Any:
    """Probability that each variant beats its control and the expected loss of shipping it."""
    res = results_table(analyses)
    p = res[(res["role"] == "primary") & res["prob_beat_control"].notna()]
    view = pd.DataFrame({
        "experiment": p["experiment_id"], "variant": p["variant"], "metric": p["metric"],
        "P(variant beats control)": p["prob_beat_control"],
        "expected loss if shipped": [f"{100 * x:.2f} percentage points" if METRICS[m][2] == "proportion" else f"{x:,.2f}"
                                     for m, x in zip(p["metric"], p["expected_loss"], strict=True)],
    }).reset_index(drop=True)
    return format_table(view, pct=["P(variant beats control)"])


def describe_results(analyses: list[ExperimentAnalysis]) -> str:
    """One sentence on what the forest plot shows (Markdown)."""
    res = results_table(analyses)
    prim = res[(res["role"] == "primary") & res["p_value"].notna()]
    if prim.empty:
        return "No experiment has usable data for its primary metric yet."
    sig = prim[prim["significant"].fillna(False).astype(bool)]
    names = ", ".join(f"{r.experiment_id} ({r.rel_lift:+.1%})" for r in sig.itertuples()) or "none"
    return (f"{len(prim)} primary comparison(s) analysed; significant after "
            f"{prim['correction'].iloc[0]} correction: {names}. Intervals that cross zero are "
            "compatible with no effect; CUPED intervals (squares) are narrower where the pre-period "
            "predicts the outcome.")
