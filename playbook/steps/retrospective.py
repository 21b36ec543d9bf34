"""Retrospective step: actual vs forecast and target, incrementality, customers, tracking audit,
lessons and the campaign archive.

Every scan of a raw table is an Ibis expression executed by the engine; only daily, per-arm,
per-channel or per-state aggregates come back to pandas.

Forecast
    The plan step's ``forecast.parquet`` (layout in :mod:`playbook.forecasting.forecast`) when present and
    covering the window; otherwise a seasonal-naive baseline computed here (each day = the same
    weekday 364 days earlier, intervals from the empirical quantiles of past year-over-year
    errors) and the report says so. The order-channel split (web/app/store), which the plan
    step does not forecast, is top-down: last year's share of each channel on the same weekday.
Target
    ``forecast * (1 + targets.revenue_uplift_pct / 100)`` per day and per breakdown value.
Accuracy
    MAPE over days with actual revenue > 0; MASE (Hyndman & Koehler 2006) scaled by the in-sample
    MAE of the weekly naive forecast ``y[t-7]`` over the year before the planning cutoff;
    coverage = share of days inside the 80 % / 95 % intervals.
Incrementality
    From holdout experiments: difference in conversion rate and revenue per assigned customer
    between the exposed arm(s) and the holdout, with normal-approximation (Wald / Welch) 95 %
    intervals, scaled to the exposed arm's size; iROAS = incremental revenue / channel spend in
    the window.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.warehouse import Warehouse, daily_sales, fetch, to_day, to_utc
from playbook.report.charts import empty_chart

DIMENSIONS: tuple[str, ...] = ("channel", "category", "country")
#: Label of revenue without a product category (refunds, orders without lines).
UNASSIGNED_CATEGORY = "refunds / no category"
Z95 = 1.959963984540054
#: Days before the planning cutoff used for the MASE scale.
MASE_HISTORY_DAYS = 365


def _window(cfg) -> tuple[pd.Timestamp, pd.Timestamp]:
    return to_day(cfg.season.start), to_day(cfg.season.end)


def _days(start, end) -> pd.DatetimeIndex:
    return pd.date_range(to_day(start), to_day(end), freq="D").astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------
# Actuals and forecast
# --------------------------------------------------------------------------------------------
def actual_daily(wh: Warehouse, start, end, countries: Sequence[str] | None = None,
                 dimension: str | None = None) -> pd.DataFrame:
    """Net revenue per day (and ``dimension`` value) for the campaign's countries.

    Returns
    -------
    DataFrame
        ``day, value, actual`` (``value`` = ``"all"`` for the total; currency units, net of refunds).
    """
    by = ["country"] + ([dimension] if dimension and dimension != "country" else [])
    d = daily_sales(wh, start, end, by=by)
    if countries:
        d = d[d["country"].isin([c.upper() for c in countries])]
    key = dimension if dimension else None
    if key == "category":  # refunds have no order lines, so no category
        d = d.assign(category=d["category"].replace({"unknown": UNASSIGNED_CATEGORY}))
    if key is None:
        out = d.groupby("day", as_index=False)["revenue"].sum().assign(value="all")
    else:
        out = d.groupby(["day", key], as_index=False)["revenue"].sum().rename(columns={key: "value"})
    days = _days(start, end)
    values = sorted(out["value"].unique()) if not out.empty else ["all"]
    grid = pd.MultiIndex.from_product([days, values], names=["day", "value"])
    s = out.set_index(["day", "value"])["revenue"].reindex(grid, fill_value=0.0)
    return s.rename("actual").reset_index()


def seasonal_naive_forecast(wh: Warehouse, cfg, dimension: str | None = None) -> pd.DataFrame:
    """Seasonal-naive forecast of the window: the same weekday 364 days earlier, per value.

    Only history up to the planning cutoff is used for the intervals; the window itself is
    forecast from last year's weekday-aligned days.

    Returns
    -------
    DataFrame
        ``day, value, mean, lo80, hi80, lo95, hi95``.
    """
    from playbook.forecasting.forecast import seasonal_naive

    s0, s1 = _window(cfg)
    cut = to_day(cfg.season.planning_cutoff)
    first = min(s0 - pd.Timedelta(days=364), cut - pd.Timedelta(days=2 * 364))
    hist = actual_daily(wh, first, cut, cfg.countries, dimension)
    frames = []
    for value, g in hist.groupby("value"):
        y = g.set_index("day")["actual"]
        frames.append(seasonal_naive(y, s0, s1).assign(value=value))
    if not frames:
        return pd.DataFrame(columns=["day", "value", "mean", "lo80", "hi80", "lo95", "hi95"])
    out = pd.concat(frames, ignore_index=True)
    out["day"] = pd.to_datetime(out["day"]).astype("datetime64[ns]")
    return out[["day", "value", "mean", "lo80", "hi80", "lo95", "hi95"]]


#: ``forecast_source`` sentence when the plan step's own forecast is reviewed (see :func:`campaign_summary`).
PLAN_FORECAST_SOURCE = "The forecast is the plan step's (forecast.parquet, written before the season)."


def load_forecast(output_dir, cfg) -> tuple[pd.DataFrame | None, str]:
    """The plan step's revenue forecast of the window, if its artifact covers the window.

    Returns
    -------
    (DataFrame or None, str)
        The ``metric == "revenue"`` rows of ``forecast.parquet`` (``day, dimension, value, mean,
        lo80, hi80, lo95, hi95``) and a sentence on where the forecast came from.
    """
    from playbook.artifacts import read_artifact

    fc = read_artifact(output_dir, "forecast.parquet")
    need = {"day", "metric", "dimension", "value", "mean"}
    if fc is None:
        return None, ("The plan step's forecast artifact was not found, so the forecast is a seasonal-naive "
                      "baseline computed here (each day = the same weekday a year earlier).")
    if not need <= set(fc.columns):
        return None, (f"The plan step's forecast artifact lacks columns {sorted(need - set(fc.columns))}; "
                      "a seasonal-naive baseline computed here is used instead.")
    fc = fc[fc["metric"] == "revenue"].copy()
    fc["day"] = pd.to_datetime(fc["day"]).dt.tz_localize(None).astype("datetime64[ns]")
    s0, s1 = _window(cfg)
    tot = fc[fc["dimension"] == "total"]
    if tot.empty or not set(_days(s0, s1)) <= set(tot["day"]):
        return None, ("The plan step's forecast does not cover every day of the window; a seasonal-naive "
                      "baseline computed here is used instead.")
    return fc, PLAN_FORECAST_SOURCE


def _forecast_for(fc: pd.DataFrame | None, naive: pd.DataFrame | None, wh, cfg,
                  dimension: str | None) -> tuple[pd.DataFrame, str]:
    """Forecast rows for one breakdown: from the plan artifact, else seasonal naive."""
    cols = ["day", "value", "mean", "lo80", "hi80", "lo95", "hi95"]
    dim = dimension or "total"
    if fc is not None and dim in ("total", "country", "category") and (fc["dimension"] == dim).any():
        f = fc[fc["dimension"] == dim].copy()
        for c in cols:
            if c not in f.columns:
                f[c] = np.nan
        return f[cols].reset_index(drop=True), "plan"
    if fc is not None and dim == "channel":
        total = fc[fc["dimension"] == "total"][cols]
        return _split_by_last_year(total, wh, cfg, "channel"), "plan total, split by last year's channel mix"
    return seasonal_naive_forecast(wh, cfg, dimension), "seasonal naive"


def _split_by_last_year(total: pd.DataFrame, wh, cfg, dimension: str) -> pd.DataFrame:
    s0, s1 = _window(cfg)
    last = actual_daily(wh, s0 - pd.Timedelta(days=364), s1 - pd.Timedelta(days=364), cfg.countries, dimension)
    last["day"] = last["day"] + pd.Timedelta(days=364)
    pos = last.assign(actual=last["actual"].clip(lower=0))
    day_sum = pos.groupby("day")["actual"].transform("sum")
    n_vals = pos.groupby("day")["value"].transform("count")
    pos["share"] = np.where(day_sum > 0, pos["actual"] / day_sum.where(day_sum > 0, 1.0), 1.0 / n_vals)
    out = pos[["day", "value", "share"]].merge(total.drop(columns="value"), on="day")
    for c in ("mean", "lo80", "hi80", "lo95", "hi95"):
        out[c] = out[c] * out["share"]
    return out.drop(columns="share")


def actual_vs_forecast(wh: Warehouse, cfg, output_dir=None, dimension: str | None = None,
                       forecast: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily and cumulative actual, forecast and target revenue in total or by a dimension.

    Parameters
    ----------
    dimension : {None, "channel", "category", "country"}
        ``None`` for the total; ``channel`` is the order channel (web/app/store).
    forecast : DataFrame, optional
        Revenue rows of the plan step's forecast (as from :func:`load_forecast`); read from
        ``output_dir`` when omitted.

    Returns
    -------
    DataFrame
        ``day, value, actual, forecast, target, lo80, hi80, lo95, hi95, cum_actual,
        cum_forecast, cum_target``; ``attrs["source"]`` says where the forecast came from.
        Interval columns are NaN only when no interval exists.
    """
    if dimension not in (None, *DIMENSIONS):
        raise ValueError(f"Unknown dimension {dimension!r}. Choose from {[None, *DIMENSIONS]}")
    if forecast is None and output_dir is not None:
        forecast, _ = load_forecast(output_dir, cfg)
    s0, s1 = _window(cfg)
    act = actual_daily(wh, s0, s1, cfg.countries, dimension)
    fc, source = _forecast_for(forecast, None, wh, cfg, dimension)
    fc = fc.rename(columns={"mean": "forecast"})
    fc["day"] = pd.to_datetime(fc["day"]).astype("datetime64[ns]")
    df = act.merge(fc, on=["day", "value"], how="outer")
    df["actual"] = df["actual"].fillna(0.0)
    df["forecast"] = df["forecast"].fillna(0.0)
    uplift = float(cfg.targets.revenue_uplift_pct) / 100.0
    df["target"] = df["forecast"] * (1 + uplift)
    df = df.sort_values(["value", "day"], ignore_index=True)
    for c in ("actual", "forecast", "target"):
        df[f"cum_{c}"] = df.groupby("value")[c].cumsum()
    df.attrs["source"] = source
    return df[["day", "value", "actual", "forecast", "target", "lo80", "hi80", "lo95", "hi95",
               "cum_actual", "cum_forecast", "cum_target"]]


def mase_scales(wh: Warehouse, cfg, dimension: str | None = None) -> dict[str, float]:
    """MASE denominators per value: in-sample MAE of ``y[t-7]`` over the year before the cutoff."""
    cut = to_day(cfg.season.planning_cutoff)
    hist = actual_daily(wh, cut - pd.Timedelta(days=MASE_HISTORY_DAYS), cut, cfg.countries, dimension)
    out = {}
    for value, g in hist.groupby("value"):
        y = g.sort_values("day")["actual"].to_numpy(float)
        out[value] = float(np.mean(np.abs(y[7:] - y[:-7]))) if len(y) > 7 else 0.0
    return out


def accuracy_table(avf: pd.DataFrame, scales: Mapping[str, float]) -> pd.DataFrame:
    """Season totals and forecast accuracy per value of :func:`actual_vs_forecast`.

    Returns
    -------
    DataFrame
        ``value, actual, forecast, target, gap_to_target`` (actual - target),
        ``vs_forecast`` (actual / forecast - 1), ``mape``, ``mase``, ``coverage80``,
        ``coverage95``. Undefined entries (no days with sales, no intervals, no history) are
        NaN and shown as a dash.
    """
    rows = []
    for value, g in avf.groupby("value"):
        a, f = g["actual"].to_numpy(float), g["forecast"].to_numpy(float)
        pos = a > 0
        mape = float(np.mean(np.abs(a[pos] - f[pos]) / a[pos])) if pos.any() else np.nan
        scale = scales.get(value, 0.0)
        mase = float(np.mean(np.abs(a - f)) / scale) if scale > 0 and len(a) else np.nan
        cov = {}
        for lvl in ("80", "95"):
            lo, hi = g[f"lo{lvl}"].to_numpy(float), g[f"hi{lvl}"].to_numpy(float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            cov[lvl] = float(np.mean((a[ok] >= lo[ok]) & (a[ok] <= hi[ok]))) if ok.any() else np.nan
        fs = float(f.sum())
        rows.append({"value": value, "actual": float(a.sum()), "forecast": fs,
                     "target": float(g["target"].sum()), "gap_to_target": float(a.sum() - g["target"].sum()),
                     "vs_forecast": float(a.sum() / fs - 1) if fs > 0 else np.nan,
                     "mape": mape, "mase": mase, "coverage80": cov["80"], "coverage95": cov["95"]})
    return pd.DataFrame(rows, columns=["value", "actual", "forecast", "target", "gap_to_target", "vs_forecast",
                                       "mape", "mase", "coverage80", "coverage95"])


def plot_actual_vs_forecast(avf: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Daily (with the 80 % interval) and cumulative actual, forecast and target revenue (total)."""
    from playbook.report.charts import money_formatter

    g = avf[avf["value"] == "all"] if (avf["value"] == "all").any() else avf.groupby("day", as_index=False).sum(
        numeric_only=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    if g.empty:
        for ax in (ax1, ax2):
            empty_chart(ax, "No data in the window")
        return fig
    if g["lo80"].notna().any():
        ax1.fill_between(g["day"], g["lo80"], g["hi80"], color="#999999", alpha=0.25, lw=0, label="80 % interval")
    ax1.plot(g["day"], g["actual"], color="#1f4e79", lw=2, label="actual")
    ax1.plot(g["day"], g["forecast"], color="#555555", ls="--", lw=1.5, label="forecast")
    ax1.plot(g["day"], g["target"], color="#e76f51", ls=":", lw=1.5, label="target")
    ax1.set_title("Daily net revenue")
    ax1.set_ylabel(f"net revenue per day ({currency})")
    ax2.plot(g["day"], g["cum_actual"], color="#1f4e79", lw=2, label="actual")
    ax2.plot(g["day"], g["cum_forecast"], color="#555555", ls="--", lw=1.5, label="forecast")
    ax2.plot(g["day"], g["cum_target"], color="#e76f51", ls=":", lw=1.5, label="target")
    ax2.set_title("Cumulative net revenue")
    ax2.set_ylabel(f"cumulative net revenue ({currency})")
    for ax in (ax1, ax2):
        ax.set_xlabel("day")
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def gap_waterfall_data(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Gap to target per dimension value, for the waterfall (from :func:`accuracy_table` per dimension).

    Returns
    -------
    DataFrame
        ``dimension, value, target, actual, gap`` sorted by gap within each dimension.
    """
    rows = []
    for dim, t in tables.items():
        for _, r in t.iterrows():
            rows.append({"dimension": dim, "value": r["value"], "target": r["target"], "actual": r["actual"],
                         "gap": r["actual"] - r["target"]})
    df = pd.DataFrame(rows, columns=["dimension", "value", "target", "actual", "gap"])
    return df.sort_values(["dimension", "gap"], ignore_index=True)


def plot_gap_waterfall(gaps: pd.DataFrame, currency: str = "USD", top: int = 8) -> plt.Figure:
    """One waterfall per dimension: target, the gap of each value, actual."""
    from playbook.report.charts import money_formatter

    dims = list(dict.fromkeys(gaps["dimension"])) if not gaps.empty else []
    fig, axes = plt.subplots(1, max(len(dims), 1), figsize=(5 * max(len(dims), 1), 4.4), squeeze=False)
    if not dims:
        ax = axes[0, 0]
        empty_chart(ax, "No target to compare with")
        return fig
    for ax, dim in zip(axes[0], dims, strict=True):
        g = gaps[gaps["dimension"] == dim].sort_values("gap", key=np.abs, ascending=False)
        if len(g) > top:
            rest = g.iloc[top - 1:]
            g = pd.concat([g.iloc[:top - 1], pd.DataFrame([{"value": "other", "gap": rest["gap"].sum(),
                                                             "target": rest["target"].sum(),
                                                             "actual": rest["actual"].sum()}])])
        target, actual = float(g["target"].sum()), float(g["actual"].sum())
        labels = ["target", *[str(v) for v in g["value"]], "actual"]
        level = target
        bottoms, heights, colors = [0.0], [target], ["#999999"]
        for gap in g["gap"]:
            bottoms.append(level if gap >= 0 else level + gap)
            heights.append(abs(gap))
            colors.append("#2a9d8f" if gap >= 0 else "#e76f51")
            level += gap
        bottoms.append(0.0)
        heights.append(actual)
        colors.append("#1f4e79")
        ax.bar(range(len(labels)), heights, bottom=bottoms, color=colors)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        lo = min(bottoms[1:-1] + [target, actual]) if len(bottoms) > 2 else min(target, actual)
        ax.set_ylim(bottom=max(0.0, lo - 0.15 * abs(target - lo) - 0.05 * max(target, actual)))
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_title(f"Gap to target by {dim}")
        ax.set_xlabel(dim)
    axes[0, 0].set_ylabel(f"season net revenue ({currency})")
    fig.suptitle("Where the gap to target came from (green: above target, red: below)")
    fig.tight_layout()
    return fig


def describe_vs_target(acc_total: pd.DataFrame, gaps: pd.DataFrame, source: str, currency: str = "USD") -> str:
    """Plain-language sentence on the season against forecast and target (Markdown)."""
    from playbook.report.format import fmt_money, fmt_pct

    r = acc_total.iloc[0] if not acc_total.empty else None
    if r is None or (r["actual"] == 0 and r["forecast"] == 0):
        return "No sales and no forecast for the window: nothing to compare."
    word = "above" if r["gap_to_target"] >= 0 else "below"
    text = (f"The season brought {fmt_money(r['actual'], currency)}, {fmt_money(abs(r['gap_to_target']), currency)} "
            f"**{word} target** ({fmt_money(r['target'], currency)}) and "
            f"{fmt_pct(r['vs_forecast']) if pd.notna(r['vs_forecast']) else 'n/a'} against the forecast")
    if pd.notna(r["mape"]):
        text += f" (daily MAPE {fmt_pct(r['mape'])}"
        text += f", MASE {r['mase']:.2f}" if pd.notna(r["mase"]) else ""
        text += f", {fmt_pct(r['coverage80'])} of days inside the 80 % interval" if pd.notna(r["coverage80"]) else ""
        text += ")"
    text += "."
    if not gaps.empty:
        text += " " + _gap_extremes(gaps, currency)
    return f"{text} {source}"


def _gap_extremes(gaps: pd.DataFrame, currency: str) -> str:
    from playbook.report.format import fmt_money

    g = gaps.sort_values("gap")
    worst, best = g.iloc[0], g.iloc[-1]
    if worst["gap"] >= 0:
        return (f"Every breakdown value beat its target; the largest surplus came from {best['dimension']} "
                f"**{best['value']}** ({fmt_money(best['gap'], currency)}).")
    if best["gap"] <= 0:
        return (f"Every breakdown value missed its target; the largest shortfall came from {worst['dimension']} "
                f"**{worst['value']}** ({fmt_money(worst['gap'], currency)}).")
    return (f"Largest shortfall: {worst['dimension']} **{worst['value']}** ({fmt_money(worst['gap'], currency)}); "
            f"largest surplus: {best['dimension']} **{best['value']}** ({fmt_money(best['gap'], currency)}).")


# --------------------------------------------------------------------------------------------
# Incrementality from holdouts
# --------------------------------------------------------------------------------------------
def holdout_experiments(cfg) -> list:
    """Configured experiments that are holdouts (a variant, the id or the name says "holdout")."""
    out = []
    for e in getattr(cfg, "experiments", []):
        words = [e.id, getattr(e, "name", "") or "", *e.variants]
        if any("holdout" in str(w).lower() for w in words):
            out.append(e)
    return out


def _channel_of(exp, channels: Sequence[str]) -> str | None:
    text = f"{exp.id} {getattr(exp, 'name', '')}".lower()
    hits = [c for c in channels if c in text]
    return hits[0] if hits else None


def arm_outcomes(wh: Warehouse, experiment_id: str, start, end) -> pd.DataFrame:
    """Per arm: assigned customers, converters, sale revenue (and its sum of squares), in the engine.

    Orders count when placed in the window and not before the customer's assignment.

    Returns
    -------
    DataFrame
        ``variant, n, converters, revenue, revenue_sq``.
    """
    cols = ["variant", "n", "converters", "revenue", "revenue_sq"]
    if not wh.has("assignments"):
        return pd.DataFrame(columns=cols)
    a = wh.table("assignments")
    a = a.filter(a.experiment_id == experiment_id).select("customer_id", "variant", "assigned_ts")
    o = wh.table("orders")
    s0, s1 = ibis.timestamp(to_utc(to_day(start))), ibis.timestamp(to_utc(to_day(end) + pd.Timedelta(days=1)))
    o = o.filter(o.revenue >= 0, o.order_ts >= s0, o.order_ts < s1).select(
        o_customer="customer_id", order_id="order_id", order_ts="order_ts", revenue="revenue")
    j = a.left_join(o, [a.customer_id == o.o_customer, o.order_ts >= a.assigned_ts])
    per = j.group_by(["customer_id", "variant"]).aggregate(
        rev=j.revenue.sum().fill_null(0.0), orders=j.order_id.count())
    arm = per.group_by("variant").aggregate(
        n=per.count(), converters=(per.orders > 0).sum(), revenue=per.rev.sum(), revenue_sq=(per.rev * per.rev).sum())
    df = fetch(arm)
    df["variant"] = df["variant"].astype(str)
    for c in ("n", "converters"):
        df[c] = df[c].astype("int64")
    for c in ("revenue", "revenue_sq"):
        df[c] = pd.to_numeric(df[c]).astype(float).fillna(0.0)
    return df[cols].sort_values("variant", ignore_index=True)


def holdout_arm(variants: Sequence[str], sizes: Mapping[str, int]) -> str:
    """The arm not exposed: a variant named like "holdout", else "control", else the smallest arm."""
    for v in variants:
        if "holdout" in v.lower():
            return v
    for v in variants:
        if v.lower() == "control":
            return v
    return min(variants, key=lambda v: (sizes.get(v, 0), v))


def incrementality(wh: Warehouse, cfg, spend_by_channel: Mapping[str, float] | None = None,
                   attributed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Incremental conversions, revenue and iROAS of every holdout experiment, with 95 % CIs.

    Parameters
    ----------
    spend_by_channel : mapping, optional
        Window spend per channel (currency); the experiment's channel is found in its id/name.
    attributed : DataFrame, optional
        Long attribution table; gives the "platform-style" last-touch ROAS and the Shapley ROAS
        of the channel for comparison.

    Returns
    -------
    DataFrame
        One row per holdout: ``experiment_id, channel, exposed_arm, holdout_arm, n_exposed,
        n_holdout, conv_rate_exposed, conv_rate_holdout, lift_abs, lift_lo, lift_hi,
        incremental_conversions (+ _lo, _hi), incremental_revenue (+ _lo, _hi), spend, iroas
        (+ _lo, _hi), last_touch_roas, shapley_roas, note``. Empty (with these columns) when the
        config has no holdout. Undefined values (no spend, empty arm) are NaN with a note.
    """
    cols = ["experiment_id", "channel", "exposed_arm", "holdout_arm", "n_exposed", "n_holdout",
            "conv_rate_exposed", "conv_rate_holdout", "lift_abs", "lift_lo", "lift_hi",
            "incremental_conversions", "incremental_conversions_lo", "incremental_conversions_hi",
            "incremental_revenue", "incremental_revenue_lo", "incremental_revenue_hi", "spend",
            "iroas", "iroas_lo", "iroas_hi", "last_touch_roas", "shapley_roas", "note"]
    s0, s1 = _window(cfg)
    spend_by_channel = spend_by_channel or {}
    rows = []
    for exp in holdout_experiments(cfg):
        arms = arm_outcomes(wh, exp.id, s0, s1)
        ch = _channel_of(exp, list(spend_by_channel) or list(cfg.channels))
        rows.append(_holdout_row(exp.id, arms, ch, spend_by_channel, attributed))
    return pd.DataFrame(rows, columns=cols)


def _holdout_row(exp_id: str, arms: pd.DataFrame, channel: str | None, spend: Mapping[str, float],
                 attributed: pd.DataFrame | None) -> dict:
    nan = float("nan")
    row: dict = {"experiment_id": exp_id, "channel": channel or "unknown", "note": ""}
    if len(arms) < 2 or (arms["n"] == 0).any():
        row.update({"exposed_arm": "", "holdout_arm": "", "n_exposed": int(arms["n"].sum()) if len(arms) else 0,
                    "n_holdout": 0, "note": "fewer than two non-empty arms in the data: no estimate"})
        return row
    sizes = dict(zip(arms["variant"], arms["n"], strict=True))
    h = holdout_arm(list(arms["variant"]), sizes)
    hold = arms[arms["variant"] == h].iloc[0]
    exp = arms[arms["variant"] != h].sum(numeric_only=True)
    n_t, n_h = float(exp["n"]), float(hold["n"])
    p_t, p_h = exp["converters"] / n_t, hold["converters"] / n_h
    se_p = np.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
    m_t, m_h = exp["revenue"] / n_t, hold["revenue"] / n_h
    v_t = max(exp["revenue_sq"] / n_t - m_t ** 2, 0.0) * n_t / max(n_t - 1, 1)
    v_h = max(hold["revenue_sq"] / n_h - m_h ** 2, 0.0) * n_h / max(n_h - 1, 1)
    se_m = np.sqrt(v_t / n_t + v_h / n_h)
    lift, dm = p_t - p_h, m_t - m_h
    row.update({"exposed_arm": ", ".join(v for v in arms["variant"] if v != h), "holdout_arm": h,
                "n_exposed": int(n_t), "n_holdout": int(n_h), "conv_rate_exposed": float(p_t),
                "conv_rate_holdout": float(p_h), "lift_abs": float(lift),
                "lift_lo": float(lift - Z95 * se_p), "lift_hi": float(lift + Z95 * se_p),
                "incremental_conversions": float(lift * n_t),
                "incremental_conversions_lo": float((lift - Z95 * se_p) * n_t),
                "incremental_conversions_hi": float((lift + Z95 * se_p) * n_t),
                "incremental_revenue": float(dm * n_t), "incremental_revenue_lo": float((dm - Z95 * se_m) * n_t),
                "incremental_revenue_hi": float((dm + Z95 * se_m) * n_t)})
    s = float(spend.get(channel, 0.0)) if channel else 0.0
    row["spend"] = s
    if s > 0:
        row.update({"iroas": row["incremental_revenue"] / s, "iroas_lo": row["incremental_revenue_lo"] / s,
                    "iroas_hi": row["incremental_revenue_hi"] / s})
    else:
        row.update({"iroas": nan, "iroas_lo": nan, "iroas_hi": nan})
        row["note"] = "no spend recorded for the channel in the window: iROAS undefined"
    for model, key in (("last_touch", "last_touch_roas"), ("shapley", "shapley_roas")):
        val = nan
        if attributed is not None and not attributed.empty and s > 0:
            sub = attributed[(attributed["model"] == model) & (attributed["channel"] == channel)]
            val = float(sub["revenue"].sum()) / s
        row[key] = val
    if row["note"] == "" and n_h < 100:
        row["note"] = f"holdout has only {int(n_h)} customers: wide intervals"
    return row


def describe_incrementality(inc: pd.DataFrame, currency: str = "USD") -> str:
    """Plain-language sentence per holdout (Markdown)."""
    from playbook.report.format import fmt_money

    if inc.empty:
        return "No holdout experiment was configured, so incrementality could not be measured directly."
    parts = []
    for _, r in inc.iterrows():
        if pd.isna(r.get("lift_abs")):
            parts.append(f"**{r['experiment_id']}**: {r['note']}.")
            continue
        sig = "significant" if r["lift_lo"] > 0 or r["lift_hi"] < 0 else "not significant"
        text = (f"**{r['experiment_id']}** ({r['channel'].replace('_', ' ')}): the exposed group converted at "
                f"{r['conv_rate_exposed']:.1%} against {r['conv_rate_holdout']:.1%} in the holdout "
                f"({r['lift_abs'] * 100:+.1f} points, 95 % CI {r['lift_lo'] * 100:+.1f} to {r['lift_hi'] * 100:+.1f}; "
                f"{sig}), about {r['incremental_conversions']:,.0f} incremental buyers and "
                f"{fmt_money(r['incremental_revenue'], currency)} of incremental revenue")
        if pd.notna(r["iroas"]):
            text += (f"; iROAS {r['iroas']:.1f} (95 % CI {r['iroas_lo']:.1f} to {r['iroas_hi']:.1f}) against a "
                     f"last-touch ROAS of {r['last_touch_roas']:.1f}")
        parts.append(text + ".")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------
def new_vs_returning(wh: Warehouse, start, end, repeat_days: int = 30) -> pd.DataFrame:
    """New customers acquired in the window and their early repeat rate against regulars.

    A buyer is *new* when their first sale order ever falls in the window. The early repeat rate
    is the share of buyers with another sale order within ``repeat_days`` after their first
    order in the window (the same rule for both groups).

    Returns
    -------
    DataFrame
        ``group`` ("new", "returning"), ``customers``, ``repeaters``, ``repeat_rate``,
        ``revenue`` (window sale revenue), ``revenue_per_customer``; ``attrs["follow_up_complete"]``
        is False when the data ends before ``end + repeat_days``.
    """
    o = wh.table("orders")
    o = o.filter(o.revenue >= 0, o.customer_id.notnull())
    s0, s1 = ibis.timestamp(to_utc(to_day(start))), ibis.timestamp(to_utc(to_day(end) + pd.Timedelta(days=1)))
    first = o.group_by("customer_id").aggregate(first_ever=o.order_ts.min())
    w = o.filter(o.order_ts >= s0, o.order_ts < s1)
    buyers = w.group_by("customer_id").aggregate(first_win=w.order_ts.min(), revenue=w.revenue.sum())
    buyers = buyers.join(first, "customer_id")
    later = o.select(l_customer="customer_id", l_ts="order_ts")
    rep = buyers.left_join(later, [buyers.customer_id == later.l_customer, later.l_ts > buyers.first_win,
                                   later.l_ts <= buyers.first_win + ibis.interval(days=repeat_days)])
    per = rep.group_by(["customer_id", "first_win", "first_ever", "revenue"]).aggregate(n_rep=rep.l_ts.count())
    per = per.mutate(group=ibis.ifelse(per.first_ever >= s0, "new", "returning"))
    g = per.group_by("group").aggregate(customers=per.count(), repeaters=(per.n_rep > 0).sum(),
                                        revenue=per.revenue.sum()).execute()
    last_order = o.order_ts.max().execute()
    out = pd.DataFrame({"group": ["new", "returning"]}).merge(g, on="group", how="left")
    out[["customers", "repeaters"]] = out[["customers", "repeaters"]].fillna(0).astype("int64")
    out["revenue"] = pd.to_numeric(out["revenue"]).astype(float).fillna(0.0)
    out["repeat_rate"] = np.where(out["customers"] > 0, out["repeaters"] / out["customers"].clip(lower=1), 0.0)
    out["revenue_per_customer"] = np.where(out["customers"] > 0, out["revenue"] / out["customers"].clip(lower=1), 0.0)
    complete = last_order is not None and not pd.isna(last_order) and \
        pd.Timestamp(last_order) >= to_utc(to_day(end)) + pd.Timedelta(days=repeat_days)
    out.attrs["follow_up_complete"] = bool(complete)
    out.attrs["repeat_days"] = repeat_days
    return out[["group", "customers", "repeaters", "repeat_rate", "revenue", "revenue_per_customer"]]


def describe_customers(nvr: pd.DataFrame, target_new: int | None = None) -> str:
    """Sentence on new customers and their early repeat rate (Markdown)."""
    new = nvr.set_index("group").loc["new"]
    ret = nvr.set_index("group").loc["returning"]
    if new["customers"] + ret["customers"] == 0:
        return "Nobody bought in the window: no customers to describe."
    text = (f"The season brought **{int(new['customers']):,} new customers**"
            + (f" (target {target_new:,}: {'met' if new['customers'] >= target_new else 'missed'})"
               if target_new else "")
            + f"; {new['repeat_rate']:.1%} of them bought again within {nvr.attrs.get('repeat_days', 30)} days, "
            f"against {ret['repeat_rate']:.1%} of the {int(ret['customers']):,} returning buyers.")
    if not nvr.attrs.get("follow_up_complete", True):
        text += " The data ends before the follow-up period of the last buyers is over, so repeat rates are lower bounds."
    return text


LIFECYCLE_STATES: tuple[str, ...] = ("prospect", "new", "active", "lapsing", "lapsed")


def _state_at(o: ibis.Table, cut: ibis.Expr, name: str) -> ibis.Table:
    before = o.filter(o.order_ts < cut)
    return before.group_by("customer_id").aggregate(**{f"first_{name}": before.order_ts.min(),
                                                      f"last_{name}": before.order_ts.max()})


def lifecycle_movement(wh: Warehouse, start, end) -> pd.DataFrame:
    """How customers moved between lifecycle states from the start to the end of the window.

    States at an instant ``t`` (sale orders before ``t``): ``prospect`` (signed up, never bought),
    ``new`` (first order within 90 days), ``active`` (last order within 90 days), ``lapsing``
    (91-365 days), ``lapsed`` (more than 365 days). A simple RFM-like recency segmentation used
    when the segment step's artifacts are not at hand.

    Returns
    -------
    DataFrame
        Counts: rows = state at the start, columns = state at the end (all five states, zeros
        included). Erased customers are left out.
    """
    t0 = ibis.timestamp(to_utc(to_day(start)))
    t1 = ibis.timestamp(to_utc(to_day(end) + pd.Timedelta(days=1)))
    o = wh.table("orders")
    o = o.filter(o.revenue >= 0, o.customer_id.notnull())
    c = wh.table("customers")
    c = c.filter(c.signup_ts < t1, c.erased_at.isnull()).select("customer_id", "signup_ts")
    c = c.left_join(_state_at(o, t0, "0"), "customer_id").drop("customer_id_right")
    c = c.left_join(_state_at(o, t1, "1"), "customer_id").drop("customer_id_right")

    def state(first, last, t):
        days_last = (t.epoch_seconds() - last.epoch_seconds()) / 86400.0
        days_first = (t.epoch_seconds() - first.epoch_seconds()) / 86400.0
        return (ibis.cases((last.isnull(), "prospect"), (days_first <= 90, "new"), (days_last <= 90, "active"),
                           (days_last <= 365, "lapsing"), else_="lapsed"))

    c = c.mutate(before=ibis.ifelse(c.signup_ts < t0, state(c.first_0, c.last_0, t0), "not yet signed up"),
                 after=state(c.first_1, c.last_1, t1))
    counts = c.group_by(["before", "after"]).aggregate(customers=c.count()).execute()
    rows = ["not yet signed up", *LIFECYCLE_STATES]
    table = counts.pivot_table(index="before", columns="after", values="customers", aggfunc="sum", fill_value=0)
    table = table.reindex(index=rows, columns=list(LIFECYCLE_STATES), fill_value=0).astype("int64")
    table.index.name, table.columns.name = "state at start", "state at end"
    return table


def describe_movement(move: pd.DataFrame) -> str:
    """Sentence on reactivations and lapses (Markdown)."""
    total = int(move.to_numpy().sum())
    if total == 0:
        return "No customers in the data for this window."
    reactivated = int(move.loc[["lapsing", "lapsed"], ["new", "active"]].to_numpy().sum())
    converted = int(move.loc[["prospect", "not yet signed up"], ["new"]].to_numpy().sum())
    slipped = int(move.loc[["new", "active"], ["lapsing", "lapsed"]].to_numpy().sum())
    return (f"During the season {converted:,} prospects made a first purchase, {reactivated:,} lapsing or lapsed "
            f"customers came back, and {slipped:,} active customers slipped to lapsing.")


# --------------------------------------------------------------------------------------------
# Tracking audit
# --------------------------------------------------------------------------------------------
def utm_audit(wh: Warehouse, start, end, paid_channels: Sequence[str]) -> pd.DataFrame:
    """Touches per channel in the window and the share without UTM source/medium.

    Returns
    -------
    DataFrame
        ``channel, touches, without_utm, share_without_utm, paid`` (missing UTMs are a defect
        only on paid channels; organic and direct traffic has none by nature).
    """
    cols = ["channel", "touches", "without_utm", "share_without_utm", "paid"]
    if not wh.has("touches"):
        return pd.DataFrame(columns=cols)
    t = wh.table("touches")
    s0, s1 = ibis.timestamp(to_utc(to_day(start))), ibis.timestamp(to_utc(to_day(end) + pd.Timedelta(days=1)))
    t = t.filter(t.touch_ts >= s0, t.touch_ts < s1)
    missing = t.utm_source.isnull() | t.utm_medium.isnull() | (t.utm_source.strip() == "")
    df = t.group_by("channel").aggregate(touches=t.count(), without_utm=missing.sum()).execute()
    df["channel"] = df["channel"].astype(object).where(df["channel"].notna(), "unknown")
    df[["touches", "without_utm"]] = df[["touches", "without_utm"]].fillna(0).astype("int64")
    df["share_without_utm"] = df["without_utm"] / df["touches"].clip(lower=1)
    df["paid"] = df["channel"].isin(list(paid_channels))
    return df[cols].sort_values("channel", ignore_index=True)


def channel_mismatch(touch_channels: Sequence[str], spend_channels: Sequence[str],
                     config_channels: Sequence[str]) -> pd.DataFrame:
    """Channels found in touches, spend and the config, and where they disagree.

    Returns
    -------
    DataFrame
        ``channel, in_touches, in_spend, in_config, issue`` (empty string when consistent;
        organic/direct in touches only is expected).
    """
    from playbook.data.contract import PAID_CHANNELS

    chans = sorted(set(touch_channels) | set(spend_channels) | set(config_channels))
    rows = []
    for ch in chans:
        t, s, c = ch in touch_channels, ch in spend_channels, ch in config_channels
        issue = ""
        if s and not t:
            issue = "spend but no touches: tracking may be missing"
        elif t and not s and (ch in PAID_CHANNELS or c):
            issue = "touches but no spend: spend data missing or label differs"
        elif c and not s:
            issue = "budgeted in the config but no spend recorded"
        elif s and not c:
            issue = "spend recorded but not budgeted in the config"
        rows.append({"channel": ch, "in_touches": t, "in_spend": s, "in_config": c, "issue": issue})
    return pd.DataFrame(rows, columns=["channel", "in_touches", "in_spend", "in_config", "issue"])


def spend_gaps(spend: pd.DataFrame, start, end, drop_ratio: float = 0.1, window: int = 7) -> pd.DataFrame:
    """Days with missing spend, zero spend, or a sudden drop (possible pixel/feed failures).

    A drop is a day below ``drop_ratio`` times the median of the previous ``window`` days (with
    that median > 0). Channels are those with any spend in the window.

    Returns
    -------
    DataFrame
        ``day, channel, issue`` ("no spend row", "zero spend", "sudden drop"), ``spend``,
        ``trailing_median``.
    """
    cols = ["day", "channel", "issue", "spend", "trailing_median"]
    if spend.empty:
        return pd.DataFrame(columns=cols)
    days = _days(start, end)
    rows = []
    for ch, g in spend.groupby("channel"):
        s = g.groupby("day")["spend"].sum()
        present = s.reindex(days)
        filled = present.fillna(0.0)
        med = filled.shift(1).rolling(window, min_periods=3).median()
        for d in days:
            v, m = present.get(d), med.get(d)
            if pd.isna(v):
                rows.append((d, ch, "no spend row", 0.0, float(m) if pd.notna(m) else 0.0))
            elif v == 0:
                rows.append((d, ch, "zero spend", 0.0, float(m) if pd.notna(m) else 0.0))
            elif pd.notna(m) and m > 0 and v < drop_ratio * m:
                rows.append((d, ch, "sudden drop", float(v), float(m)))
    return pd.DataFrame(rows, columns=cols)


PLATFORM_COLUMNS: tuple[str, ...] = ("platform_conversions", "conversions", "reported_conversions")


def platform_vs_internal(wh: Warehouse, start, end, attributed: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Platform-reported conversions (an optional spend column) against last-touch conversions.

    Looks for one of :data:`PLATFORM_COLUMNS` in the spend table (not part of the data contract).

    Returns
    -------
    (DataFrame, str)
        ``channel, platform_reported, internal_last_touch, ratio`` and a note; the table is empty
        when the spend table has no such column.
    """
    cols = ["channel", "platform_reported", "internal_last_touch", "ratio"]
    if not wh.has("spend"):
        return pd.DataFrame(columns=cols), "No spend table: platform-reported conversions unavailable."
    present = [c for c in PLATFORM_COLUMNS if c in wh.columns("spend")]
    if not present:
        return pd.DataFrame(columns=cols), ("The spend data carries no platform-reported conversions "
                                            f"(a column named one of {list(PLATFORM_COLUMNS)}), so they "
                                            "cannot be compared with internal figures.")
    s = wh.raw("spend")
    s = s.filter(s.date >= ibis.date(to_day(start).date()), s.date <= ibis.date(to_day(end).date()))
    df = s.group_by("channel").aggregate(platform_reported=s[present[0]].sum()).execute()
    lt = attributed[attributed["model"] == "last_touch"].set_index("channel")["conversions"] if not \
        attributed.empty else pd.Series(dtype=float)
    df["platform_reported"] = pd.to_numeric(df["platform_reported"]).astype(float).fillna(0.0)
    df["internal_last_touch"] = df["channel"].map(lambda c: float(lt.get(c, 0.0)))
    df["ratio"] = np.where(df["internal_last_touch"] > 0,
                           df["platform_reported"] / df["internal_last_touch"].where(df["internal_last_touch"] > 0, 1),
                           np.nan)
    return df[cols], f"Platform-reported conversions from spend.{present[0]}."


def audit_summary(no_touch: pd.DataFrame, utm: pd.DataFrame, mismatch: pd.DataFrame,
                  gaps: pd.DataFrame) -> pd.DataFrame:
    """One table of tracking checks: check, value, detail."""
    rows = []
    n, nt = int(no_touch["orders"].sum()) if not no_touch.empty else 0, \
        int(no_touch["orders_without_touch"].sum()) if not no_touch.empty else 0
    online = no_touch[no_touch["order_channel"] != "store"] if not no_touch.empty else no_touch
    on_n = int(online["orders"].sum()) if not online.empty else 0
    on_nt = int(online["orders_without_touch"].sum()) if not online.empty else 0
    rows.append(("orders without a touch", f"{nt / n:.1%}" if n else "no orders", f"{nt:,} of {n:,} orders"))
    rows.append(("online orders without a touch", f"{on_nt / on_n:.1%}" if on_n else "no online orders",
                 f"{on_nt:,} of {on_n:,} web/app orders"))
    paid = utm[utm["paid"]] if not utm.empty else utm
    pt, pw = (int(paid["touches"].sum()), int(paid["without_utm"].sum())) if not paid.empty else (0, 0)
    rows.append(("paid touches without UTM", f"{pw / pt:.1%}" if pt else "no paid touches", f"{pw:,} of {pt:,}"))
    issues = mismatch[mismatch["issue"] != ""] if not mismatch.empty else mismatch
    rows.append(("channel label mismatches", str(len(issues)),
                 "; ".join(f"{r.channel}: {r.issue}" for r in issues.itertuples()) or "none"))
    for kind in ("no spend row", "zero spend", "sudden drop"):
        g = gaps[gaps["issue"] == kind] if not gaps.empty else gaps
        detail = ", ".join(f"{ch} ({k})" for ch, k in g.groupby("channel").size().items()) if len(g) else "none"
        rows.append((f"spend days: {kind}", str(len(g)), detail))
    return pd.DataFrame(rows, columns=["check", "value", "detail"])


# --------------------------------------------------------------------------------------------
# Lessons and archive
# --------------------------------------------------------------------------------------------
def read_test_decisions(output_dir) -> pd.DataFrame:
    """The test step's verdicts (``experiment_decisions.json``) as ``experiment_id, decision``; empty if absent."""
    from playbook.artifacts import read_artifact

    raw = read_artifact(output_dir, "experiment_decisions.json") if output_dir is not None else None
    rows = []
    if isinstance(raw, Mapping):
        for exp_id, d in raw.items():
            if isinstance(d, Mapping):
                verdict, reason = d.get("verdict", "no result"), d.get("reason", "")
                rows.append({"experiment_id": str(exp_id), "decision": f"{verdict}" + (f" ({reason})" if reason else "")})
    return pd.DataFrame(rows, columns=["experiment_id", "decision"])


def highlights(acc_total: pd.DataFrame, efficiency: pd.DataFrame, inc: pd.DataFrame, nvr: pd.DataFrame,
               gaps: pd.DataFrame, budget: pd.DataFrame, experiments: pd.DataFrame | None = None,
               currency: str = "USD", movement: pd.DataFrame | None = None) -> list[str]:
    """Generated lessons: best/worst channel, holdouts, segments, tests and budget, with numbers.

    ``experiments`` is :func:`read_test_decisions` (the test step's verdicts); ``movement`` is
    :func:`lifecycle_movement`.
    """
    from playbook.report.format import fmt_money

    out: list[str] = []
    if not acc_total.empty:
        r = acc_total.iloc[0]
        word = "above" if r["gap_to_target"] >= 0 else "below"
        out.append(f"Revenue {fmt_money(r['actual'], currency)}: {fmt_money(abs(r['gap_to_target']), currency)} {word} "
                   f"the target of {fmt_money(r['target'], currency)}.")
    eff = efficiency.dropna(subset=["roas"]) if not efficiency.empty else efficiency
    if len(eff) >= 2:
        best, worst = eff.sort_values("roas").iloc[-1], eff.sort_values("roas").iloc[0]
        out.append(f"Best channel by attributed ROAS: {best['channel']} ({best['roas']:.1f}); worst: "
                   f"{worst['channel']} ({worst['roas']:.1f}).")
    for _, r in inc.iterrows():
        if pd.notna(r.get("iroas")):
            out.append(f"Holdout {r['experiment_id']}: iROAS {r['iroas']:.1f} (95 % CI {r['iroas_lo']:.1f} to "
                       f"{r['iroas_hi']:.1f}) vs last-touch ROAS {r['last_touch_roas']:.1f}.")
    if not gaps.empty:
        for dim, g in gaps.groupby("dimension"):
            if len(g) < 2:  # one country (or channel): "weakest" and "strongest" would be the same
                continue
            w, b = g.sort_values("gap").iloc[0], g.sort_values("gap").iloc[-1]
            out.append(f"By {dim}: weakest against target {w['value']} ({fmt_money(w['gap'], currency)}), "
                       f"strongest {b['value']} ({fmt_money(b['gap'], currency)}).")
    if not nvr.empty:
        n = nvr.set_index("group")
        out.append(f"{int(n.loc['new', 'customers']):,} new customers; early repeat {n.loc['new', 'repeat_rate']:.1%} "
                   f"vs {n.loc['returning', 'repeat_rate']:.1%} for returning buyers.")
    if movement is not None and int(movement.to_numpy().sum()) > 0:
        out.append(describe_movement(movement))
    if experiments is not None and not experiments.empty and {"experiment_id", "decision"} <= set(experiments.columns):
        for _, r in experiments.iterrows():
            out.append(f"Test {r['experiment_id']}: {r['decision']}.")
    if not budget.empty:
        out.append(f"Recommended next-season split is expected to add {fmt_money(budget.attrs.get('gain', 0.0), currency)} "
                   "of attributed revenue over repeating this season's split.")
    return out


def campaign_summary(cfg, acc_total: pd.DataFrame, attribution_long: pd.DataFrame, inc: pd.DataFrame,
                     efficiency: pd.DataFrame, budget: pd.DataFrame, nvr: pd.DataFrame,
                     audit: pd.DataFrame, lessons: list[str], notes: list[str], forecast_source: str) -> dict:
    """Structured, JSON-ready summary of the campaign (archived as ``artifacts/summary.json``).

    The plan step of a later campaign reads it (see :func:`find_retrospectives` and the
    "Earlier retrospectives" rules in :mod:`playbook.planning.plan`): ``campaign`` (season dates, countries),
    ``revenue`` (season actual, forecast, target), ``forecast_from_plan`` (True when ``forecast``
    is the plan step's own, so its bias says something about the model), ``next_budget`` and
    ``lessons``.
    """
    def records(df: pd.DataFrame, cols: Sequence[str]) -> list[dict]:
        if df.empty:
            return []
        keep = [c for c in cols if c in df.columns]
        return json.loads(df[keep].to_json(orient="records"))

    tot = acc_total.iloc[0].to_dict() if not acc_total.empty else {}
    return {
        "kind": "retrospective",
        "campaign": {"slug": cfg.slug, "name": cfg.name, "start": str(cfg.season.start), "end": str(cfg.season.end),
                     "countries": list(cfg.countries), "currency": cfg.currency},
        "revenue": {k: tot.get(k) for k in ("actual", "forecast", "target", "gap_to_target", "vs_forecast",
                                             "mape", "mase", "coverage80", "coverage95")},
        "forecast_source": forecast_source,
        "forecast_from_plan": forecast_source == PLAN_FORECAST_SOURCE,
        "attribution_share": {m: dict(zip(g["channel"], g["share"].round(4), strict=True))
                              for m, g in attribution_long.groupby("model")} if not attribution_long.empty else {},
        "channels": records(efficiency, ["channel", "spend", "conversions", "revenue", "roas", "cpa", "cac"]),
        "incrementality": records(inc, ["experiment_id", "channel", "lift_abs", "lift_lo", "lift_hi",
                                        "incremental_revenue", "iroas", "iroas_lo", "iroas_hi", "last_touch_roas"]),
        "next_budget": records(budget, ["channel", "repeat_split", "recommended", "marginal_roas_recommended"]),
        "next_budget_expected_gain": float(budget.attrs.get("gain", 0.0)) if not budget.empty else 0.0,
        "customers": records(nvr, ["group", "customers", "repeat_rate", "revenue"]),
        "tracking": records(audit, ["check", "value", "detail"]),
        "lessons": list(lessons),
        "notes": list(notes),
    }


def write_artifacts(output_dir, attribution_long: pd.DataFrame, inc: pd.DataFrame, budget: pd.DataFrame,
                    summary: dict) -> pd.DataFrame:
    """Write ``attribution.parquet``, ``incrementality.parquet``, ``next_budget.parquet`` and
    ``summary.json`` into ``<output_dir>/artifacts``; return what was written (file, rows)."""
    from playbook.artifacts import write_artifact

    b = budget.copy()
    b.attrs = {}
    written = [(write_artifact(attribution_long, output_dir, "attribution"), len(attribution_long)),
               (write_artifact(inc, output_dir, "incrementality"), len(inc)),
               (write_artifact(b, output_dir, "next_budget"), len(b)),
               (write_artifact(summary, output_dir, "summary"), 1)]
    return pd.DataFrame([(p.name, n) for p, n in written], columns=["artifact", "rows"]).set_index("artifact")


def find_retrospectives(reports_root: str | Path = "reports", exclude: str | None = None) -> list[dict]:
    """Earlier campaigns' retrospective summaries (``reports/*/artifacts/summary.json``), oldest first.

    For the plan step of the next campaign: each dict is a :func:`campaign_summary` plus
    ``artifacts_dir`` (the folder it came from, holding ``next_budget.parquet``). ``reports_root``
    is the folder of published reports (the parent of a campaign's ``output_dir``); only
    published ``<slug>/artifacts`` folders are read (not ``_interactive`` or staging ones).
    """
    from playbook.paths import resolve

    root = resolve(str(reports_root))
    found = []
    for p in sorted(root.glob("*/artifacts/summary.json")):
        try:
            s = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if s.get("kind") == "retrospective" and s.get("campaign", {}).get("slug") != exclude:
            found.append({**s, "artifacts_dir": str(p.parent)})
    return sorted(found, key=lambda s: s["campaign"].get("end", ""))


def retro_headline_numbers(acc_total: pd.DataFrame, inc: pd.DataFrame, budget: pd.DataFrame,
                           nvr: pd.DataFrame, currency: str = "USD") -> dict[str, str]:
    """Extra headline numbers for the index page."""
    from playbook.report.format import fmt_money, fmt_pct

    out: dict[str, str] = {}
    if not acc_total.empty:
        r = acc_total.iloc[0]
        out["gap to target"] = fmt_money(r["gap_to_target"], currency)
        if pd.notna(r["mape"]):
            out["forecast MAPE (daily)"] = fmt_pct(r["mape"])
    for _, r in inc.iterrows():
        if pd.notna(r.get("iroas")):
            out[f"{r['channel']} iROAS (holdout)"] = f"{r['iroas']:.1f}"
    if not nvr.empty:
        out["new customers"] = f"{int(nvr.set_index('group').loc['new', 'customers']):,}"
    if not budget.empty:
        out["next budget: expected gain"] = fmt_money(budget.attrs.get("gain", 0.0), currency)
    return out


def as_of_note(cfg) -> str:
    """Sentence on which window is reviewed (Markdown)."""
    s0, s1 = _window(cfg)
    return f"Window reviewed: {s0:%d %b %Y} to {s1:%d %b %Y} ({(s1 - s0).days + 1} days)."


def accuracy_by(wh: Warehouse, cfg, forecast: pd.DataFrame | None, dimension: str | None = None) -> pd.DataFrame:
    """:func:`accuracy_table` of :func:`actual_vs_forecast` for one breakdown (None = total)."""
    avf = actual_vs_forecast(wh, cfg, forecast=forecast, dimension=dimension)
    out = accuracy_table(avf, mase_scales(wh, cfg, dimension))
    out.attrs["source"] = avf.attrs.get("source", "")
    return out


class Audit:
    """Tracking audit results: ``summary``, ``utm``, ``mismatch``, ``spend_gaps``, ``platform``, ``platform_note``."""

    def __init__(self, summary, utm, mismatch, spend_gaps, platform, platform_note):
        self.summary, self.utm, self.mismatch = summary, utm, mismatch
        self.spend_gaps, self.platform, self.platform_note = spend_gaps, platform, platform_note


def tracking_audit(wh: Warehouse, cfg, no_touch: pd.DataFrame, spend: pd.DataFrame,
                   attributed: pd.DataFrame) -> Audit:
    """All tracking checks of the window (see :func:`audit_summary`)."""
    s0, s1 = _window(cfg)
    utm = utm_audit(wh, s0, s1, list(cfg.channels))
    spend_chans = sorted(spend["channel"].unique()) if not spend.empty else []
    mismatch = channel_mismatch(list(utm["channel"]), spend_chans, list(cfg.channels))
    gaps = spend_gaps(spend, s0, s1)
    platform, note = platform_vs_internal(wh, s0, s1, attributed)
    return Audit(audit_summary(no_touch, utm, mismatch, gaps), utm, mismatch, gaps, platform, note)


def describe_audit(audit: Audit) -> str:
    """Sentence on the tracking checks (Markdown)."""
    s = audit.summary.set_index("check")["value"]
    text = (f"{s['orders without a touch']} of the window's orders had no touch ({s['online orders without a touch']} "
            f"of web/app orders); {s['paid touches without UTM']} of paid touches lack UTM parameters; "
            f"{s['channel label mismatches']} channel label mismatches; "
            f"{len(audit.spend_gaps)} channel-days with missing, zero or suddenly dropped spend.")
    return f"{text} {audit.platform_note}"


def lessons_markdown(lessons: Sequence[str]) -> str:
    """Bullet list of the generated lessons (Markdown)."""
    return "\n".join(f"- {s}" for s in lessons) if lessons else "No lessons could be drawn: no data in the window."
