"""Spend efficiency of the season and next season's budget split (retrospective step).

* Daily spend per channel, summed in the engine (:func:`daily_spend`; the plan reads its history
  through it too).
* ROAS, CPA and CAC per paid channel from the window's spend and the conversions an attribution
  model credits to each channel.
* Response curves refitted on this season's days: daily attributed revenue of a channel against
  its daily spend (:func:`playbook.media.response.fit_revenue_curve`: a saturating curve, or an
  *anchored* curve through the season's average point when the days carry no usable signal).
* Marginal ROAS: the slope of the curve at the season's mean daily spend.
* Next season's split: :func:`playbook.media.allocation.optimise_budget` (equal marginal returns)
  of ``cfg.budget.total`` within each channel's ``[min_budget, max_budget]``, spread evenly over
  the season's days, against repeating this season's split (its shares scaled to the new total and
  clipped into the bounds, :func:`playbook.media.allocation.proportional_split`).

No ratio from zero spend: ROAS, CPA and CAC are NaN (undefined) where their denominator is zero,
curves are fitted only for channels that spent something, a channel without spend has no marginal
ROAS (NaN, never 0: a later plan would read 0 as "below 1" and cap it), and without any spend in
the window the retrospective recommends no split at all (:data:`NO_SPEND_IN_DATA`).

Attributed revenue is not incremental revenue: curves fitted on it inherit the attribution
model's bias. Where a holdout measured a channel's incrementality, compare (see
:mod:`playbook.steps.retrospective`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from playbook.config.campaign import CampaignConfig
from playbook.data.aggregates import exact_sum
from playbook.data.warehouse import Warehouse, to_day, to_utc
from playbook.media.allocation import (
    describe_uncurved,
    flat_profile,
    optimise_budget,
    proportional_split,
)
from playbook.media.response import MIN_FIT_DAYS, ResponseCurve, fit_revenue_curve
from playbook.paths import resolve
from playbook.report.charts import empty_chart, money_formatter
from playbook.report.format import fmt_money

#: Why the returns and the budget split are skipped when the data has no media spend at all.
NO_SPEND_IN_DATA = "no media spend in the data: add a spend table to see returns and a budget split"


def total_spend(wh: Warehouse) -> float:
    """All media spend in the data (currency), summed in the engine; 0 without a spend table or rows."""
    if not wh.has("spend"):
        return 0.0
    s = wh.table("spend")
    value = s.aggregate(total=exact_sum(s.spend)).execute()["total"].iloc[0]
    return 0.0 if value is None or pd.isna(value) else float(value)


def no_spend_reason(wh: Warehouse, window_spend: pd.DataFrame, start: dt.date | str, end: dt.date | str) -> str | None:
    """Why spend efficiency and the budget split cannot be computed, or None when the window has spend.

    Parameters
    ----------
    window_spend : DataFrame
        :func:`daily_spend` of the window.

    Returns
    -------
    str or None
        :data:`NO_SPEND_IN_DATA` when the data holds no spend at all; a sentence naming the window
        when only the window has none; None when the window's spend is positive.
    """
    if not window_spend.empty and float(window_spend["spend"].sum()) > 0:
        return None
    if total_spend(wh) <= 0:
        return NO_SPEND_IN_DATA
    return (f"no media spend in the campaign window ({to_day(start):%d %b %Y} to {to_day(end):%d %b %Y}): returns "
            "and a budget split need spend on those days")


def daily_spend(wh: Warehouse, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Spend, impressions and clicks per day and channel, summed in the engine.

    Returns
    -------
    DataFrame
        ``day`` (naive datetime64), ``channel``, ``spend`` (currency), ``impressions``,
        ``clicks``; only days/channels with rows in the spend table. Empty without a spend table.
    """
    cols = ["day", "channel", "spend", "impressions", "clicks"]
    if not wh.has("spend"):
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "day" else
                                           object if c == "channel" else float) for c in cols})
    s = wh.table("spend")
    s = s.filter(s.date >= ibis.date(to_day(start).date()), s.date <= ibis.date(to_day(end).date()))
    df = s.group_by(["date", "channel"]).aggregate(
        spend=exact_sum(s.spend), impressions=exact_sum(s.impressions), clicks=exact_sum(s.clicks)).execute()
    df = df.rename(columns={"date": "day"})
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    df["channel"] = df["channel"].astype(object).where(df["channel"].notna(), "unknown")
    for c in ("spend", "impressions", "clicks"):
        df[c] = pd.to_numeric(df[c]).astype(float).fillna(0.0)
    return df[cols].sort_values(["day", "channel"], ignore_index=True)


def channel_efficiency(spend: pd.DataFrame, credit: pd.DataFrame, channels: list[str] | None = None,
                       model: str = "shapley") -> pd.DataFrame:
    """ROAS, CPA and CAC per paid channel.

    Parameters
    ----------
    spend : DataFrame
        :func:`daily_spend` of the window.
    credit : DataFrame
        Long attribution table (:func:`playbook.media.attribution.attribute`).
    channels : list of str, optional
        Channels to report (default: every channel with spend).
    model : str
        Attribution model whose credit is used.

    Returns
    -------
    DataFrame
        ``channel, spend, conversions, revenue, new_customers, roas`` (revenue / spend),
        ``cpa`` (spend / conversions), ``cac`` (spend / new customers). Ratios with a zero
        denominator are NaN (shown as a dash: undefined, not zero).
    """
    per = spend.groupby("channel")["spend"].sum() if not spend.empty else pd.Series(dtype=float)
    chans = list(channels) if channels is not None else sorted(per.index)
    cr = credit[credit["model"] == model].set_index("channel") if not credit.empty else pd.DataFrame()
    rows = []
    for ch in chans:
        s = float(per.get(ch, 0.0))
        conv = float(cr["conversions"].get(ch, 0.0)) if not cr.empty else 0.0
        rev = float(cr["revenue"].get(ch, 0.0)) if not cr.empty else 0.0
        new = float(cr["new_customers"].get(ch, 0.0)) if not cr.empty else 0.0
        rows.append({"channel": ch, "spend": s, "conversions": conv, "revenue": rev, "new_customers": new,
                     "roas": rev / s if s > 0 else np.nan, "cpa": s / conv if conv > 0 else np.nan,
                     "cac": s / new if new > 0 else np.nan})
    return pd.DataFrame(rows, columns=["channel", "spend", "conversions", "revenue", "new_customers",
                                       "roas", "cpa", "cac"])


# --------------------------------------------------------------------------------------------
# Response curves
# --------------------------------------------------------------------------------------------
def daily_response_data(spend: pd.DataFrame, daily_credit: pd.DataFrame, credit: pd.DataFrame,
                        model: str = "shapley") -> pd.DataFrame:
    """Daily spend and attributed revenue per channel on a full day grid.

    The engine returns the linear model's credit per day; each channel's daily series is scaled
    so that its season total equals ``model``'s credit for the channel.

    Returns
    -------
    DataFrame
        ``day, channel, spend, revenue`` (zeros where nothing happened).
    """
    if spend.empty:
        return pd.DataFrame(columns=["day", "channel", "spend", "revenue"])
    sp = spend.groupby(["day", "channel"], as_index=False)["spend"].sum()
    days = pd.date_range(sp["day"].min(), sp["day"].max(), freq="D")
    grid = pd.MultiIndex.from_product([days, sorted(sp["channel"].unique())], names=["day", "channel"])
    out = sp.set_index(["day", "channel"]).reindex(grid, fill_value=0.0)
    lin = daily_credit.groupby(["day", "channel"])["revenue"].sum() if not daily_credit.empty else pd.Series(
        dtype=float)
    out["revenue"] = lin.reindex(grid, fill_value=0.0).to_numpy() if len(lin) else 0.0
    if not credit.empty and (credit["model"] == model).any():
        target = credit[credit["model"] == model].set_index("channel")["revenue"]
        base = out.groupby(level="channel")["revenue"].transform("sum")
        scale = out.index.get_level_values("channel").map(lambda c: target.get(c, 0.0)).to_numpy(float)
        out["revenue"] = np.where(base > 0, out["revenue"] * scale / base.where(base > 0, 1.0), 0.0)
    return out.reset_index()


def fit_response_curves(data: pd.DataFrame, min_days: int = MIN_FIT_DAYS) -> dict[str, ResponseCurve]:
    """One :class:`ResponseCurve` per channel of :func:`daily_response_data` that spent something
    (a channel with rows of zero spend has no curve: nothing to measure a return on)."""
    return {str(ch): fit_revenue_curve(str(ch), g["spend"].to_numpy(), g["revenue"].to_numpy(), min_days)
            for ch, g in data.groupby("channel") if float(g["spend"].sum()) > 0}


def curve_table(curves: Mapping[str, ResponseCurve]) -> pd.DataFrame:
    """Fitted curves as a table: kind, parameters, ROAS and marginal ROAS at the mean spend."""
    rows = []
    for ch, c in curves.items():
        avg = float(c.response(c.mean_spend) / c.mean_spend) if c.mean_spend > 0 else 0.0
        rows.append({"channel": ch, "curve": c.kind, "ceiling_per_day": c.ceiling,
                     "scale_per_day": c.scale if c.ceiling > 0 else 0.0,
                     "mean_daily_spend": c.mean_spend, "roas_at_mean": avg,
                     "marginal_roas": float(c.marginal(c.mean_spend)), "days": c.days})
    return pd.DataFrame(rows, columns=["channel", "curve", "ceiling_per_day", "scale_per_day",
                                       "mean_daily_spend", "roas_at_mean", "marginal_roas", "days"])


def plot_response_curves(data: pd.DataFrame, curves: Mapping[str, ResponseCurve],
                         currency: str = "USD") -> plt.Figure:
    """Daily points and fitted curve per channel, with the mean daily spend marked."""
    chans = list(curves)
    fig, axes = plt.subplots(1, max(len(chans), 1), figsize=(3.2 * max(len(chans), 1), 3.4), squeeze=False)
    if not chans:
        ax = axes[0, 0]
        empty_chart(ax, "No spend in the window")
        return fig
    for ax, ch in zip(axes[0], chans, strict=True):
        g = data[data["channel"] == ch]
        c = curves[ch]
        ax.scatter(g["spend"], g["revenue"], s=10, alpha=0.6, color="#1f4e79")
        xs = np.linspace(0, max(float(g["spend"].max()) * 1.5, 1.0), 100)
        ax.plot(xs, c.response(xs), color="#e76f51", lw=2)
        ax.axvline(c.mean_spend, color="#999999", ls=":", lw=1)
        ax.set_title(f"{ch.replace('_', ' ')} ({c.kind})", fontsize=10)
        ax.set_xlabel(f"spend per day ({currency})")
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.yaxis.set_major_formatter(money_formatter(currency))
    axes[0, 0].set_ylabel(f"attributed revenue per day ({currency})")
    fig.suptitle("Response curves refitted on this season's days (dotted: mean daily spend)")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Next season's split
# --------------------------------------------------------------------------------------------
def recommend_budget(curves: Mapping[str, ResponseCurve], spend: pd.DataFrame,
                     bounds: Mapping[str, tuple[float, float]], total: float, days: int) -> pd.DataFrame:
    """Recommended split for next season against repeating this season's split.

    The recommendation is :func:`playbook.media.allocation.optimise_budget` with the budget spread
    evenly over ``days`` days: each channel's season revenue is ``days * curve(budget / days)``.
    Channels of ``bounds`` without a curve (no spend this season) stay at their minimum unless the
    others cannot take the total.

    Returns
    -------
    DataFrame
        One row per channel of ``bounds``: ``channel, this_season_spend, repeat_split``
        (this season's shares scaled to ``total``, clipped into the bounds), ``recommended``,
        ``change`` (recommended - repeat), ``expected_revenue_repeat``,
        ``expected_revenue_recommended`` (season revenue from the fitted curves),
        ``marginal_roas_recommended`` (at the recommended daily spend; NaN for a channel without
        a curve, whose return was not measured), ``min_budget``,
        ``max_budget``. ``attrs["gain"]`` is the expected revenue gain of the recommendation.
    """
    this = spend.groupby("channel")["spend"].sum() if not spend.empty else pd.Series(dtype=float)
    shares = {ch: float(this.get(ch, 0.0)) for ch in bounds}
    profile = flat_profile(days)
    repeat = proportional_split(shares, bounds, total)
    rec = optimise_budget(curves, bounds, total, profile)
    rows = []
    for ch in bounds:
        c = curves.get(ch, ResponseCurve(ch, kind="none"))
        measured = c.kind != "none"
        rows.append({"channel": ch, "this_season_spend": shares[ch], "repeat_split": repeat[ch],
                     "recommended": rec[ch], "change": rec[ch] - repeat[ch],
                     "expected_revenue_repeat": c.season_response(repeat[ch], profile),
                     "expected_revenue_recommended": c.season_response(rec[ch], profile),
                     "marginal_roas_recommended": float(c.marginal(rec[ch] / days)) if measured else np.nan,
                     "min_budget": bounds[ch][0], "max_budget": bounds[ch][1]})
    df = pd.DataFrame(rows)
    df.attrs["gain"] = float(df["expected_revenue_recommended"].sum() - df["expected_revenue_repeat"].sum())
    df.attrs["missing_curves"] = [ch for ch in bounds if ch not in curves or curves[ch].kind == "none"]
    return df


def plot_budget(rec: pd.DataFrame, currency: str = "USD", empty: str = "No channels configured") -> plt.Figure:
    """Bars: repeating this season's split vs the recommended split, per channel (``empty``: the
    message drawn when there is no split)."""
    fig, ax = plt.subplots(figsize=(10, 4))
    if rec.empty:
        empty_chart(ax, empty)
        return fig
    x = np.arange(len(rec))
    ax.bar(x - 0.2, rec["repeat_split"], 0.4, label="repeat this season's split", color="#999999")
    ax.bar(x + 0.2, rec["recommended"], 0.4, label="recommended", color="#1f4e79")
    ax.set_xticks(x, [c.replace("_", " ") for c in rec["channel"]])
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Next season's budget per channel")
    ax.set_xlabel("channel")
    ax.set_ylabel(f"season budget ({currency})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def describe_budget(rec: pd.DataFrame, currency: str = "USD") -> str:
    """One sentence on the recommended shift and its expected gain (Markdown)."""
    if rec.empty:
        return "No channels are configured, so no budget split is recommended."
    up = rec.sort_values("change").iloc[-1]
    down = rec.sort_values("change").iloc[0]
    gain = rec.attrs.get("gain", 0.0)
    base = rec["expected_revenue_repeat"].sum()
    rel = f" ({gain / base:+.1%})" if base > 0 else ""
    text = (f"Moving budget from **{down['channel'].replace('_', ' ')}** ({fmt_money(down['change'], currency)}) "
            f"to **{up['channel'].replace('_', ' ')}** (+{fmt_money(up['change'], currency)}) and the other shifts "
            f"in the table is expected to add **{fmt_money(gain, currency)}**{rel} of attributed revenue over "
            "repeating this season's split, if the refitted curves hold next season.")
    return text + describe_uncurved(rec, "recommended", rec.attrs.get("missing_curves", []), "Without spend this season")


# --------------------------------------------------------------------------------------------
# Planted truth (synthetic data only)
# --------------------------------------------------------------------------------------------
def truth_check(efficiency: pd.DataFrame, curves: pd.DataFrame, data_source: str | Path) -> pd.DataFrame:
    """Compare channel orderings with the planted true iROAS when ``truth.json`` exists.

    Returns
    -------
    DataFrame
        ``measure, spearman_with_true_iroas, channels``; empty when the data source has no
        ``truth.json`` (real data).
    """
    cols = ["measure", "spearman_with_true_iroas", "channels"]
    try:
        path = resolve(str(data_source)) / "truth.json"
    except Exception:  # noqa: BLE001 - URLs and odd sources simply have no truth
        return pd.DataFrame(columns=cols)
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    true = {c: v["true_iroas"] for c, v in json.loads(path.read_text())["channels"].items()}
    rows = []
    for name, table, col in (("attributed ROAS", efficiency, "roas"), ("marginal ROAS (curve)", curves, "marginal_roas")):
        t = table[table["channel"].isin(list(true))].dropna(subset=[col])
        if len(t) >= 3:
            rho = spearmanr(t[col].to_numpy(float), [true[c] for c in t["channel"]]).statistic
            rows.append({"measure": name, "spearman_with_true_iroas": float(0.0 if np.isnan(rho) else rho),
                         "channels": len(t)})
    return pd.DataFrame(rows, columns=cols)


def season_days(start: dt.date | str, end: dt.date | str) -> int:
    """Days in a season, both ends included."""
    return int((to_utc(to_day(end)) - to_utc(to_day(start))).days) + 1


def spend_by_channel(spend: pd.DataFrame) -> dict[str, float]:
    """Season spend per channel (currency) from :func:`daily_spend`."""
    return {} if spend.empty else {str(k): float(v) for k, v in spend.groupby("channel")["spend"].sum().items()}


#: Why no split is recommended when the campaign file has no budget or no channels.
NO_BUDGET_IN_CONFIG = ("no budget split: the campaign file sets no `budget.total` and `channels` to split it "
                       "across")


def recommend_for_config(curves: Mapping[str, ResponseCurve], spend: pd.DataFrame, cfg: CampaignConfig) -> pd.DataFrame:
    """:func:`recommend_budget` with the bounds, total and season length of a campaign config.

    Without ``budget`` or ``channels`` in the config: an empty table (``channel``,
    ``recommended``) with ``attrs["skipped"]`` = :data:`NO_BUDGET_IN_CONFIG`.
    """
    if cfg.budget is None or not cfg.channels:
        out = pd.DataFrame({"channel": pd.Series(dtype=str), "recommended": pd.Series(dtype=float)})
        out.attrs["skipped"] = NO_BUDGET_IN_CONFIG
        return out
    bounds = {c: (float(b.min_budget), float(b.max_budget)) for c, b in cfg.channels.items()}
    return recommend_budget(curves, spend, bounds, float(cfg.budget.total), season_days(cfg.season.start, cfg.season.end))


def describe_curves(table: pd.DataFrame) -> str:
    """Sentence on how the curves were obtained and which channel has the best marginal ROAS."""
    if table.empty:
        return "No spend in the window: no response curves."
    kinds = table["curve"].value_counts()
    text = ", ".join(f"{n} {k}" for k, n in kinds.items())
    best = table.sort_values("marginal_roas").iloc[-1]
    out = (f"Curves: {text}. The highest marginal ROAS at this season's mean spend is "
           f"**{best['channel'].replace('_', ' ')}** ({best['marginal_roas']:.1f}).")
    if "anchored" in kinds:
        out += (" *Anchored* curves are assumed, not fitted: the season's days showed no usable relation between "
                "daily spend and attributed revenue, so each is drawn through the season's average with the "
                "channel at 63 % of its ceiling.")
    return out


def describe_truth_check(check: pd.DataFrame) -> str:
    """Sentence on the planted-truth comparison (Markdown)."""
    if check.empty:
        return "No planted truth for this data source (real data): nothing to check against."
    parts = [f"{m} {r:+.2f}" for m, r in zip(check["measure"], check["spearman_with_true_iroas"], strict=True)]
    return ("Rank correlation of the channel ordering with the planted true iROAS of the synthetic data: "
            + ", ".join(parts) + ". Attributed figures are not incremental; treat curves as directional.")
