"""Spend efficiency of the season and next season's budget split (retrospective step).

* Daily spend per channel, summed in the engine (:func:`daily_spend`; the plan reads its history
  through it too).
* ROAS, CPA and CAC per paid channel from the window's spend and the conversions an attribution
  model credits to each channel.
* One media model of daily total orders (:func:`playbook.media.mmm.fit_media_model`, the plan's
  model) fitted on the history up to the season's end and calibrated by the season's holdouts
  (:func:`season_lifts`); each calibrated channel's estimate is shown before and after
  (:func:`describe_calibration`). ROAS and marginal ROAS come with their 90 % intervals
  (:func:`model_table`), and an estimate whose interval spans zero reads "not distinguishable from
  zero" (:func:`estimate_text`), never a bare number.
* Next season's split: :func:`playbook.media.allocation_draws.optimise_draws` on the model's draws
  of ``cfg.budget.total`` within each channel's ``[min_budget, max_budget]`` (``budget.objective``,
  ``budget.fixed``), spread evenly over the season's days, against repeating this season's split
  (its shares scaled to the new total and clipped into the bounds,
  :func:`playbook.media.allocation.proportional_split`), with the gain's interval.

No ratio from zero spend: ROAS, CPA and CAC are NaN (undefined) where their denominator is zero,
curves are fitted only for channels that spent something, a channel without spend has no marginal
ROAS (NaN, never 0: a later plan would read 0 as "below 1" and cap it), and without any spend in
the window the retrospective recommends no split at all (:data:`NO_SPEND_IN_DATA`).

Attributed ROAS (:func:`channel_efficiency`) is not incremental: it inherits the attribution
model's bias and is labelled as attributed; the media model's figures are incremental.
Calibration as in https://developers.google.com/meridian/docs/basics/roi-priors-and-calibration
and https://facebookexperimental.github.io/Robyn/docs/calibration/.
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
from playbook.media.allocation import describe_uncurved, flat_profile, proportional_split
from playbook.media.allocation_draws import optimise_draws
from playbook.media.mmm import Lift, MediaModel, lift_from_holdout
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
# The media model of the season
# --------------------------------------------------------------------------------------------
#: Columns of :func:`model_table`.
MODEL_COLUMNS = ["channel", "mean_daily_spend", "contribution_mean", "contribution_lo", "contribution_hi",
                 "roas_mean", "roas_lo", "roas_hi", "marginal_roas_mean", "marginal_roas_lo", "marginal_roas_hi",
                 "warning"]


def season_lifts(inc: pd.DataFrame, start: dt.date | str, end: dt.date | str, channels: list[str]) -> list[Lift]:
    """The season's holdouts with a fitted channel and a finite incremental revenue interval as
    :class:`playbook.media.mmm.Lift` over ``start`` to ``end`` (the holdouts' window)."""
    out = []
    for _, r in inc.iterrows():
        vals = [r.get(c) for c in ("incremental_revenue", "incremental_revenue_lo", "incremental_revenue_hi")]
        ok = all(v is not None and np.isfinite(float(v)) for v in vals) and float(vals[2]) > float(vals[1])
        if ok and r.get("channel") in channels:
            out.append(lift_from_holdout(r.to_dict(), start, end))
    return out


def model_table(model: MediaModel | None) -> pd.DataFrame:
    """Per channel over the model's history: mean daily spend, incremental revenue (contribution),
    ROAS and marginal ROAS at the mean daily spend (draws' mean and 90 % interval), warning."""
    if model is None:
        return pd.DataFrame(columns=MODEL_COLUMNS)
    return model.summary()[MODEL_COLUMNS]


def estimate_text(mean: float, lo: float, hi: float, decimals: int = 2) -> str:
    """``1.23 (90 % interval 0.80 to 1.70)``, or with "not distinguishable from zero" when the interval
    spans 0 (never a bare number)."""
    if not np.isfinite(mean):
        return "not measured"
    text = f"{mean:.{decimals}f} (90 % interval {lo:.{decimals}f} to {hi:.{decimals}f})"
    return text + ": not distinguishable from zero" if lo <= 0 <= hi else text


def describe_model(table: pd.DataFrame) -> str:
    """Sentence on the media model's marginal ROAS per channel with intervals (Markdown)."""
    if table.empty:
        return "No spend in the history: no media model."
    best = table.sort_values("marginal_roas_mean").iloc[-1]
    parts = [f"{r.channel.replace('_', ' ')} {estimate_text(r.marginal_roas_mean, r.marginal_roas_lo, r.marginal_roas_hi)}"
             for r in table.itertuples()]
    text = ("Incremental marginal ROAS at the mean daily spend, from one media model of daily orders (calibrated by "
            "the season's holdouts where there are any): " + "; ".join(parts) + f". Highest: **"
            f"{best['channel'].replace('_', ' ')}**.")
    warn = [f"{r.channel.replace('_', ' ')}: {r.warning}" for r in table.itertuples() if r.warning]
    return text + (" Not identifiable from this history: " + "; ".join(warn) + "." if warn else "")


def _lift_label(source: str) -> str:
    """``holdout lift`` (only holdouts), else ``lift from <sources>:`` (lift studies of the campaign file named)
    for a calibration row's ``lift_source`` (:meth:`playbook.media.mmm.MediaModel.calibration`)."""
    parts = [p for p in str(source or "").split("; ") if p]
    if parts and all(p.startswith("holdout") for p in parts):
        return "holdout lift"
    studies = [p.removeprefix("lift study ") for p in parts]
    return f"lift from {', '.join(studies)}:" if studies else "lift"


def describe_calibration(cal: pd.DataFrame, none: str = "No holdout measured a modelled channel this season: "
                         "the media model is not calibrated.") -> str:
    """Each calibrated channel's ROAS before and after its lifts (holdouts, lift studies of the
    campaign file) entered the fit (Markdown); ``none`` without any."""
    rows = cal[cal["lift"].notna()] if not cal.empty else cal
    if rows.empty:
        return none
    return " ".join(
        f"**{r.channel.replace('_', ' ')}** ({_lift_label(getattr(r, 'lift_source', ''))} {r.lift:,.0f} of "
        "revenue): ROAS "
        f"{estimate_text(r.roas_before, r.roas_before_lo, r.roas_before_hi)} before calibration, "
        f"{estimate_text(r.roas_after, r.roas_after_lo, r.roas_after_hi)} after; marginal ROAS "
        f"{estimate_text(r.marginal_roas_before, r.marginal_roas_before_lo, r.marginal_roas_before_hi)} before, "
        f"{estimate_text(r.marginal_roas_after, r.marginal_roas_after_lo, r.marginal_roas_after_hi)} after."
        for r in rows.itertuples())


def plot_curve_bands(bands: pd.DataFrame, spend: pd.DataFrame, currency: str = "USD",
                     title: str = "Response curves of the media model") -> plt.Figure:
    """Each channel's response curve (draws' mean) with its 90 % band (:meth:`MediaModel.curve_bands`)
    and the spend range seen in ``spend`` (``day, channel, spend``; shaded 5-95 %)."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if bands.empty:
        empty_chart(ax, "No spend in the window")
        return fig
    for ch, b in bands.groupby("channel", sort=False):
        line, = ax.plot(b["spend"], b["mean"], label=str(ch))
        ax.fill_between(b["spend"], b["lo"], b["hi"], color=line.get_color(), alpha=0.18)
        s = spend.loc[spend["channel"] == ch, "spend"]
        if len(s):
            ax.axvspan(float(s.quantile(0.05)), float(s.quantile(0.95)), color=line.get_color(), alpha=0.05)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title(f"{title} (bands: 90 % interval across draws; shaded: spend range seen)")
    ax.set_xlabel(f"steady daily spend ({currency})")
    ax.set_ylabel(f"incremental revenue per day ({currency})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Next season's split
# --------------------------------------------------------------------------------------------
def recommend_budget(model: MediaModel, spend: pd.DataFrame, bounds: Mapping[str, tuple[float, float]],
                     total: float, days: int, objective: str = "mean",
                     fixed: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Recommended split for next season on the model's draws against repeating this season's split.

    The season's budget is spread evenly over ``days`` days. Channels of ``bounds`` without a curve
    (no spend in the history) stay at their minimum unless the others cannot take the total.

    Returns
    -------
    DataFrame
        One row per channel of ``bounds``: ``channel, this_season_spend, repeat_split`` (this season's
        shares scaled to ``total``, clipped into the bounds), ``recommended``, ``change``,
        ``expected_revenue_repeat``, ``expected_revenue_recommended`` (+ ``_low`` / ``_high``: 5-95 %
        across draws; incremental season revenue), ``marginal_roas_recommended`` (+ ``_lo`` / ``_hi``;
        NaN without a curve), ``min_budget``, ``max_budget``. ``attrs``: ``gain`` (mean incremental
        gain over repeating), ``gain_interval`` (5-95 %), ``distinguishable``, ``missing_curves``.
    """
    this = spend.groupby("channel")["spend"].sum() if not spend.empty else pd.Series(dtype=float)
    shares = {ch: float(this.get(ch, 0.0)) for ch in bounds}
    repeat = proportional_split(shares, bounds, total)
    res = optimise_draws(model.draws, bounds, total, flat_profile(days), objective=objective, fixed=fixed,
                         reference=repeat)
    t = res.table
    df = pd.DataFrame({"channel": t["channel"], "this_season_spend": [shares[c] for c in t["channel"]],
                       "repeat_split": t["reference"], "recommended": t["budget"],
                       "change": t["budget"] - t["reference"],
                       "expected_revenue_repeat": t["expected_revenue"] - t["gain"],
                       "expected_revenue_recommended": t["expected_revenue"],
                       "expected_revenue_recommended_low": t["expected_revenue_low"],
                       "expected_revenue_recommended_high": t["expected_revenue_high"],
                       "marginal_roas_recommended": t["marginal_roas"],
                       "marginal_roas_recommended_lo": t["marginal_roas_low"],
                       "marginal_roas_recommended_hi": t["marginal_roas_high"],
                       "min_budget": t["min_budget"], "max_budget": t["max_budget"]})
    df.attrs["gain"] = float(res.gain.mean)
    df.attrs["gain_interval"] = (float(res.gain.low), float(res.gain.high))
    df.attrs["distinguishable"] = bool(res.distinguishable)
    df.attrs["missing_curves"] = [ch for ch in bounds if ch not in model.channels]
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
    """One sentence on the recommended shift and its expected gain with its interval (Markdown)."""
    if rec.empty:
        return "No channels are configured, so no budget split is recommended."
    up = rec.sort_values("change").iloc[-1]
    down = rec.sort_values("change").iloc[0]
    text = (f"Moving budget from **{down['channel'].replace('_', ' ')}** ({fmt_money(down['change'], currency)}) "
            f"to **{up['channel'].replace('_', ' ')}** (+{fmt_money(up['change'], currency)}) and the other shifts "
            f"in the table is expected to add {describe_gain(rec, currency)} of incremental revenue over repeating "
            "this season's split, if the media model's curves hold next season"
            + ("; that gain is not distinguishable from zero." if gain_spans_zero(rec) else "."))
    return text + describe_uncurved(rec, "recommended", rec.attrs.get("missing_curves", []), "Without spend this season")


def gain_spans_zero(rec: pd.DataFrame) -> bool:
    """Whether the recommended split's gain interval (``attrs["gain_interval"]``) contains 0."""
    lo, hi = rec.attrs.get("gain_interval", (np.nan, np.nan))
    return bool(lo <= 0 <= hi)


def describe_gain(rec: pd.DataFrame, currency: str = "USD") -> str:
    """``**$1,200** (90 % interval -$300 to $2,500)`` for the recommended split's gain (Markdown); whether
    it is distinguishable from zero is :func:`gain_spans_zero`."""
    gain = float(rec.attrs.get("gain", np.nan))
    lo, hi = rec.attrs.get("gain_interval", (np.nan, np.nan))
    if not np.isfinite(gain):
        return "no measurable amount"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"**{fmt_money(gain, currency)}**"
    return f"**{fmt_money(gain, currency)}** (90 % interval {fmt_money(lo, currency)} to {fmt_money(hi, currency)})"


# --------------------------------------------------------------------------------------------
# Planted truth (synthetic data only)
# --------------------------------------------------------------------------------------------
def _truth(data_source: str | Path) -> dict | None:
    """The planted truth's ``channels`` (``truth.json`` beside the data), or None (real data)."""
    try:
        path = resolve(str(data_source)) / "truth.json"
    except Exception:  # noqa: BLE001 - URLs and odd sources simply have no truth
        return None
    return json.loads(path.read_text())["channels"] if path.is_file() else None


def truth_check(efficiency: pd.DataFrame, curves: pd.DataFrame, data_source: str | Path) -> pd.DataFrame:
    """Compare channel orderings with the planted true iROAS when ``truth.json`` exists.

    ``curves`` is :func:`model_table` (its ``marginal_roas_mean``).

    Returns
    -------
    DataFrame
        ``measure, spearman_with_true_iroas, channels``; empty when the data source has no
        ``truth.json`` (real data).
    """
    cols = ["measure", "spearman_with_true_iroas", "channels"]
    planted = _truth(data_source)
    if planted is None:
        return pd.DataFrame(columns=cols)
    true = {c: v["true_iroas"] for c, v in planted.items()}
    rows = []
    for name, table, col in (("attributed ROAS", efficiency, "roas"),
                             ("marginal ROAS (media model)", curves, "marginal_roas_mean")):
        t = table[table["channel"].isin(list(true))].dropna(subset=[col]) if col in table.columns else table.iloc[0:0]
        if len(t) >= 3:
            rho = spearmanr(t[col].to_numpy(float), [true[c] for c in t["channel"]]).statistic
            rows.append({"measure": name, "spearman_with_true_iroas": float(0.0 if np.isnan(rho) else rho),
                         "channels": len(t)})
    out = pd.DataFrame(rows, columns=cols)
    out.attrs["marginal"] = truth_marginal(curves, data_source)
    return out


def truth_marginal(curves: pd.DataFrame, data_source: str | Path) -> pd.DataFrame:
    """Per channel: the model's marginal ROAS at the mean daily spend (mean, 90 % interval) against
    the planted ``marginal_iroas_at_mean_spend``, and whether the truth lies inside the interval
    (empty for real data or without a model)."""
    cols = ["channel", "marginal_roas_mean", "marginal_roas_lo", "marginal_roas_hi", "true_marginal_iroas", "inside"]
    planted = _truth(data_source)
    if planted is None or curves.empty or "marginal_roas_lo" not in curves.columns:
        return pd.DataFrame(columns=cols)
    t = curves[curves["channel"].isin(list(planted))][cols[:4]].copy()
    t["true_marginal_iroas"] = [float(planted[c]["marginal_iroas_at_mean_spend"]) for c in t["channel"]]
    t["inside"] = (t["marginal_roas_lo"] <= t["true_marginal_iroas"]) & (t["true_marginal_iroas"] <= t["marginal_roas_hi"])
    return t.reset_index(drop=True)


def season_days(start: dt.date | str, end: dt.date | str) -> int:
    """Days in a season, both ends included."""
    return int((to_utc(to_day(end)) - to_utc(to_day(start))).days) + 1


def spend_by_channel(spend: pd.DataFrame) -> dict[str, float]:
    """Season spend per channel (currency) from :func:`daily_spend`."""
    return {} if spend.empty else {str(k): float(v) for k, v in spend.groupby("channel")["spend"].sum().items()}


#: Why no split is recommended when the campaign file has no budget or no channels.
NO_BUDGET_IN_CONFIG = ("no budget split: the campaign file sets no `budget.total` and `channels` to split it "
                       "across")


def recommend_for_config(model: MediaModel | None, spend: pd.DataFrame, cfg: CampaignConfig) -> pd.DataFrame:
    """:func:`recommend_budget` with the bounds, total, season length, objective and fixed budgets of
    a campaign config.

    Without ``budget`` or ``channels`` in the config, or without a model: an empty table
    (``channel``, ``recommended``) with ``attrs["skipped"]`` saying why.
    """
    if cfg.budget is None or not cfg.channels or model is None:
        out = pd.DataFrame({"channel": pd.Series(dtype=str), "recommended": pd.Series(dtype=float)})
        out.attrs["skipped"] = NO_BUDGET_IN_CONFIG if model is not None or cfg.budget is None or not cfg.channels \
            else NO_MODEL
        return out
    bounds = {c: (float(b.min_budget), float(b.max_budget)) for c, b in cfg.channels.items()}
    return recommend_budget(model, spend, bounds, float(cfg.budget.total),
                            season_days(cfg.season.start, cfg.season.end), cfg.budget.objective, cfg.budget.fixed)


#: Why no split is recommended when no media model could be fitted.
NO_MODEL = ("no budget split: no media model could be fitted (more than 60 days of orders and spend for a "
            "configured channel are needed)")


def describe_truth_check(check: pd.DataFrame) -> str:
    """Sentence on the planted-truth comparison (Markdown)."""
    if check.empty:
        return "No planted truth for this data source (real data): nothing to check against."
    parts = [f"{m} {r:+.2f}" for m, r in zip(check["measure"], check["spearman_with_true_iroas"], strict=True)]
    text = ("Rank correlation of the channel ordering with the planted true iROAS of the synthetic data: "
            + ", ".join(parts) + ". Attributed figures are not incremental.")
    marg = check.attrs.get("marginal", pd.DataFrame())
    if marg is not None and not marg.empty:
        text += (f" The planted marginal iROAS at mean spend lies inside the model's 90 % interval for "
                 f"{int(marg['inside'].sum())} of {len(marg)} channels: " + "; ".join(
                     f"{r.channel.replace('_', ' ')} true {r.true_marginal_iroas:.2f} vs "
                     f"{r.marginal_roas_mean:.2f} ({r.marginal_roas_lo:.2f} to {r.marginal_roas_hi:.2f})"
                     + ("" if r.inside else ", outside") for r in marg.itertuples()) + ".")
    return text
