"""The plan's season budget: optimised split against simple splits, and daily pacing.

The response curves are fitted by :func:`playbook.media.mmm.fit_media_model` (daily orders
with a demand baseline; revenue = orders x the history's average order value) and the split is
optimised by :func:`playbook.media.allocation.optimise_budget` over the season's pacing profile
(:func:`pacing_profile`): for a budget ``B`` spread by daily shares ``w_t`` a channel earns
``sum_t response(B w_t)``, with the steady-state adstock of the fitted curve.
:func:`playbook.media.allocation.max_budget_for_roas` finds the largest total whose optimal split
still returns ``budget.target_roas`` (incremental revenue per unit of spend).

Artifacts (read by the retrospective)
-------------------------------------
``budget_plan.parquet``: one row per configured channel:
``channel``, ``budget`` (optimised season budget, currency), ``min_budget``, ``max_budget`` (the
bounds optimised within: the config's, unless an earlier retrospective capped the maximum),
``last_season`` (last comparison season's split scaled to the total), ``roas_proportional``
(split proportional to historical ROAS, within bounds), ``expected_revenue`` (incremental
revenue of ``budget`` from the fitted curve; 0 without one), ``roas`` (= expected_revenue / budget;
NaN without a curve or budget: no ratio from nothing),
``marginal_roas`` (extra revenue per extra unit at ``budget``), ``fitted`` (bool: False when
the channel had no spend history and is held at its minimum), and, when an earlier
retrospective was used (:func:`playbook.planning.lessons.retro_budget_bounds`), ``earlier_recommended`` (its
recommended split scaled to this total).

``pacing.parquet``: one row per day and channel: ``day``, ``channel``, ``spend`` (planned),
``cumulative_spend``, ``cumulative_share`` (of the channel's budget), ``expected_revenue``
(incremental, from the fitted curve).

On a media model's curve draws, :func:`budget_plan_draws` gives the same table (columns above, the
expected values being means over draws) from :func:`playbook.media.allocation_draws.optimise_draws`,
plus ``expected_revenue_low`` / ``_high``, ``roas_low`` / ``_high``, ``marginal_roas_low`` /
``_high`` (5-95 % across draws), ``fixed``, ``gain`` / ``_low`` / ``_high`` (against last season's
split) and ``distinguishable``; and :func:`pacing_plan_draws` paces a split chosen by
:func:`playbook.media.allocation_draws.optimise_draws` with the expected curve and adds
``expected_revenue_low`` / ``expected_revenue_high`` (5-95 % across draws) per day. Pacing a
budget by a fixed daily pattern is Meridian's "flighting pattern" assumption:
https://developers.google.com/meridian/docs/post-modeling/optimization-without-reach-frequency
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd

from playbook.media.allocation import (
    SeasonCurve,
    describe_uncurved,
    expected_revenue,
    optimise_budget,
    proportional_split,
)
from playbook.media.allocation_draws import (
    INTERVAL,
    Draws,
    draw_table,
    expected_curves,
    optimise_draws,
)
from playbook.media.response import CurveFit
from playbook.report.charts import empty_chart, money_formatter
from playbook.report.format import fmt_money, fmt_pct

# --------------------------------------------------------------------------------------------
# Pacing


def pacing_profile(demand: npt.ArrayLike, cap: float = 2.0, floor: float = 0.4) -> np.ndarray:
    """Daily budget shares following forecast demand, within ``[floor, cap]`` x the even share.

    Capping the peak days keeps a channel from spending a large part of its budget on a few days
    (where its curve saturates) and the floor keeps it present on quiet days. The shares sum to
    1, so the budget is reached on the last day, not before.
    """
    d = np.clip(np.asarray(demand, float), 0, None)
    n = len(d)
    if n == 0:
        return d
    w = d / d.sum() if d.sum() > 0 else np.full(n, 1.0 / n)
    lo, hi = floor / n, cap / n
    for _ in range(100):
        w = np.clip(w, lo, hi)
        w = w / w.sum()
        if (w <= hi + 1e-12).all() and (w >= lo - 1e-12).all():
            break
    return w


def pacing_plan(
    alloc: Mapping[str, float],
    days: Sequence[object] | pd.DatetimeIndex,
    profile: npt.ArrayLike,
    curves: Mapping[str, SeasonCurve] | None = None,
) -> pd.DataFrame:
    """Daily spend per channel (see the ``pacing.parquet`` columns in the module docstring)."""
    days = pd.DatetimeIndex(days)
    rows = []
    for ch, budget in alloc.items():
        spend = budget * np.asarray(profile, float)
        rev = curves[ch].response(spend) if curves and ch in curves else np.zeros(len(spend))
        cum = np.cumsum(spend)
        rows.append(pd.DataFrame({"day": days, "channel": ch, "spend": spend, "cumulative_spend": cum,
                                  "cumulative_share": cum / budget if budget > 0 else np.zeros(len(cum)),
                                  "expected_revenue": rev}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["day", "channel", "spend", "cumulative_spend", "cumulative_share", "expected_revenue"])


def pacing_plan_draws(
    alloc: Mapping[str, float],
    days: Sequence[object] | pd.DatetimeIndex,
    profile: npt.ArrayLike,
    draws: Draws,
) -> pd.DataFrame:
    """:func:`pacing_plan` on a model's curve draws: ``expected_revenue`` is the mean over draws,
    ``expected_revenue_low`` / ``_high`` its 5-95 % interval per day (0 for channels without curves).

    Raises
    ------
    DataError
        No draws, or draws with different channels.
    """
    table = draw_table(draws)
    plan = pacing_plan(alloc, days, profile, expected_curves(draws))
    low, high = np.zeros(len(plan)), np.zeros(len(plan))
    for ch in alloc:
        if ch in table:
            rows = (plan["channel"] == ch).to_numpy()
            per_draw = table[ch].response_draws(plan.loc[rows, "spend"].to_numpy(float))
            low[rows], high[rows] = np.percentile(per_draw, INTERVAL, axis=0)
    return plan.assign(expected_revenue_low=low, expected_revenue_high=high)


# --------------------------------------------------------------------------------------------
# The plan table


def budget_plan(
    fit: CurveFit,
    bounds: Mapping[str, tuple[float, float]],
    total: float,
    profile: npt.ArrayLike,
    last_season_spend: Mapping[str, float],
    history_roas: Mapping[str, float],
) -> pd.DataFrame:
    """Optimised split against last season's split and a ROAS-proportional split.

    Returns
    -------
    pandas.DataFrame
        The ``budget_plan.parquet`` columns (module docstring), plus ``attrs["totals"]``: expected
        incremental revenue of each split.
    """
    curves = fit.curves
    opt = optimise_budget(curves, bounds, total, profile)
    last = proportional_split(last_season_spend, bounds, total)
    prop = proportional_split({ch: v for ch, v in history_roas.items() if np.isfinite(v)}, bounds, total)
    rows = []
    for ch, (lo, hi) in bounds.items():
        c = curves.get(ch)
        b = opt[ch]
        rev = c.season_response(b, profile) if c else 0.0
        rows.append({"channel": ch, "budget": b, "min_budget": lo, "max_budget": hi,
                     "last_season": last[ch], "roas_proportional": prop[ch], "expected_revenue": rev,
                     "roas": rev / b if c and b > 0 else float("nan"),
                     "marginal_roas": c.season_marginal(b, profile) if c else float("nan"),
                     "fitted": c is not None})
    out = pd.DataFrame(rows)
    out.attrs["totals"] = {name: expected_revenue(curves, a, profile)
                           for name, a in (("optimised", opt), ("last_season", last), ("roas_proportional", prop))}
    return out


def budget_plan_draws(
    draws: Draws,
    bounds: Mapping[str, tuple[float, float]],
    total: float,
    profile: npt.ArrayLike,
    last_season_spend: Mapping[str, float],
    history_roas: Mapping[str, float],
    objective: str = "mean",
    fixed: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """:func:`budget_plan` on a media model's curve draws, with intervals (module docstring).

    Parameters
    ----------
    draws : sequence of mapping channel -> ResponseCurve
        The model's draws; channels of ``bounds`` without curves are held at their minimum.
    objective : {"mean", "pNN"}
        Maximise expected season revenue or its NN-th percentile across draws
        (:func:`playbook.media.allocation_draws.optimise_draws`).
    fixed : mapping channel -> budget, optional
        Channels whose budget is given.

    Returns
    -------
    pandas.DataFrame
        ``attrs["totals"]``: expected incremental revenue of each split; ``attrs["gain"]``:
        ``(mean, low, high)`` of the optimised split's gain over last season's;
        ``attrs["distinguishable"]``: whether that gain's interval excludes 0;
        ``attrs["objective"]``.
    """
    from_bounds = {ch: (float(fixed[ch]),) * 2 if fixed and ch in fixed else b for ch, b in bounds.items()}
    last = proportional_split(last_season_spend, from_bounds, total)
    prop = proportional_split({ch: v for ch, v in history_roas.items() if np.isfinite(v)}, from_bounds, total)
    res = optimise_draws(draws, bounds, total, profile, objective=objective, fixed=fixed, reference=last)
    out = res.table.drop(columns="reference").assign(last_season=[last[ch] for ch in bounds],
                                                     roas_proportional=[prop[ch] for ch in bounds])
    first = ["channel", "budget", "min_budget", "max_budget", "last_season", "roas_proportional", "expected_revenue",
             "roas", "marginal_roas", "fitted"]  # budget_plan's columns, then the intervals
    out = out[first + [c for c in out.columns if c not in first]]
    curves = expected_curves(draws)
    out.attrs["totals"] = {"optimised": res.revenue.mean, "last_season": expected_revenue(curves, last, profile),
                           "roas_proportional": expected_revenue(curves, prop, profile)}
    out.attrs["gain"] = (res.gain.mean, res.gain.low, res.gain.high)
    out.attrs["distinguishable"] = res.distinguishable
    out.attrs["objective"] = objective
    return out


def describe_budget(plan: pd.DataFrame, currency: str = "USD") -> str:
    """One plain-language sentence on the optimised split against the alternatives."""
    t = plan.attrs.get("totals", {})
    opt, last, prop = t.get("optimised", 0.0), t.get("last_season", 0.0), t.get("roas_proportional", 0.0)
    if plan.empty or opt <= 0:
        return ("No channel has spend history to fit a response curve: every channel gets its minimum budget, and "
                "what the total leaves above the minimums is spread in proportion to each channel's room up to its "
                "maximum.")
    top = plan.sort_values("budget", ascending=False).iloc[0]
    text = (f"The optimised split is expected to add {fmt_money(opt, currency)} of incremental revenue, "
            f"{fmt_pct(opt / last - 1) if last > 0 else 'n/a'} more than last season's split and "
            f"{fmt_pct(opt / prop - 1) if prop > 0 else 'n/a'} more than a split proportional to ROAS; "
            f"the largest budget goes to **{top['channel']}** ({fmt_money(top['budget'], currency)}).")
    if "gain" in plan.attrs:  # a plan on curve draws: say how sure the gain is
        text += " " + _describe_gain(plan.attrs["gain"], bool(plan.attrs.get("distinguishable")), currency)
    return text + describe_uncurved(plan, "budget", plan.loc[~plan["fitted"], "channel"], "Without spend history")


def _describe_gain(gain: tuple[float, float, float], distinguishable: bool, currency: str) -> str:
    """Sentence on the gain over last season's split and its 5-95 % interval across draws."""
    mean, low, high = gain
    span = f"{fmt_money(mean, currency)} (90 % interval {fmt_money(low, currency)} to {fmt_money(high, currency)})"
    if distinguishable:
        return f"Across the model's draws the gain over last season's split is {span}."
    return (f"Across the model's draws the gain over last season's split, {span}, is not distinguishable from "
            "zero: the model cannot tell the two splits apart.")


def plot_response_curves(fit: CurveFit, spend: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Daily incremental revenue against daily spend per channel, with the observed spend range."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if not fit.curves:
        empty_chart(ax, "No spend history: no response curves")
        return fig
    for ch, c in fit.curves.items():
        s = spend.loc[spend["channel"] == ch, "spend"]
        xmax = max(float(s.quantile(0.99)) * 1.5 if len(s) else c.scale * 3, 1.0)
        x = np.linspace(0, xmax, 100)
        line, = ax.plot(x, c.response(x), label=ch)
        if len(s):
            ax.axvspan(float(s.quantile(0.05)), float(s.quantile(0.95)), color=line.get_color(), alpha=0.06)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Fitted response curves (shaded: spend range seen in the history)")
    ax.set_xlabel(f"daily spend ({currency})")
    ax.set_ylabel(f"incremental revenue per day ({currency})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_budget_splits(plan: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Grouped bars: optimised, last season's and ROAS-proportional budget per channel."""
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(plan))
    for i, (col, label) in enumerate((("budget", "optimised"), ("last_season", "last season's split"),
                                      ("roas_proportional", "proportional to ROAS"))):
        ax.bar(x + (i - 1) * 0.27, plan[col], width=0.27, label=label)
    ax.set_xticks(x, plan["channel"])
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Season budget per channel: optimised against two simple splits")
    ax.set_xlabel("channel")
    ax.set_ylabel(f"season budget ({currency})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


