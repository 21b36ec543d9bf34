"""Season targets: new customers per day (engine-side), daily and per-channel targets from
the forecast, their feasibility against the forecast distribution and past growth, and the chart.

Artifact ``targets.parquet`` (read by the retrospective)
-------------------------------------------------------
Long format, one row per day, metric, channel and level:

``day`` (naive datetime64, UTC day in the campaign window), ``metric`` (``"revenue"``, currency
units, net of refunds; ``"orders"``; ``"new_customers"``, first-ever sale orders),
``channel`` (``"all"`` or an order channel ``web``/``app``/``store``), ``level`` (``"base"`` =
forecast mean, for revenue x (1 + b) where ``b`` is an earlier retrospective's forecast bias (0
without one; see "Earlier retrospectives" below), ``"target"`` = forecast mean x (1 +
revenue_uplift_pct / 100), ``"stretch"`` = forecast mean x (1 + stretch_uplift_pct / 100) or,
when no stretch is configured, the forecast's 90 % quantile),
``value``. Channel rows split the ``all`` rows by each channel's share of the metric in the last
comparison season. ``new_customers`` rows exist only when ``targets.new_customers`` is set: the
configured season total spread over the days like the orders forecast (its ``base`` level is
last season's count, spread the same way).

Targets can be shaped by an earlier retrospective's forecast bias
(:mod:`playbook.planning.lessons`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from playbook.planning.seasons import as_day
from playbook.report.charts import empty_chart, money_formatter
from playbook.report.format import fmt_money, fmt_pct


def _total_sd(fc: pd.DataFrame) -> float:
    """Standard deviation of the window total, with days moving together.

    A forecast's errors on neighbouring days are strongly correlated (a level error shifts them
    all), so the daily standard deviations (from the 95 % interval width) are added rather than
    added in quadrature; independence would make any target above the mean look impossible.
    """
    sd = (fc["hi95"] - fc["lo95"]) / (2 * 1.96)
    return float(sd.sum())


def build_targets(
    forecast: pd.DataFrame,
    targets_cfg,
    channel_share: Mapping[str, Mapping[str, float]],
    new_customer_base: float | None = None,
    bias: float | None = None,
) -> pd.DataFrame:
    """Daily targets (see the ``targets.parquet`` columns in the module docstring).

    Parameters
    ----------
    forecast : DataFrame
        Forecast rows of dimension ``total`` for metrics ``revenue`` and ``orders`` (artifact
        layout of :mod:`playbook.forecasting.forecast`).
    targets_cfg : config.Targets
        ``revenue_uplift_pct``, optional ``stretch_uplift_pct`` and ``new_customers``.
    channel_share : mapping
        ``{metric: {channel: share}}`` from the last comparison season.
    new_customer_base : float, optional
        New customers in the last comparison season (the ``base`` level of that metric).
    bias : float, optional
        An earlier campaign's revenue forecast bias
        (:func:`playbook.planning.lessons.retro_forecast_bias`): the revenue ``base`` level
        becomes forecast x (1 + bias). Targets and stretch stay on the forecast.
    """
    up = targets_cfg.revenue_uplift_pct / 100
    st = targets_cfg.stretch_uplift_pct / 100 if targets_cfg.stretch_uplift_pct is not None else None
    rows = []
    tot = forecast[forecast["dimension"] == "total"]
    for metric in ("revenue", "orders"):
        f = tot[tot["metric"] == metric].sort_values("day")
        if f.empty:
            continue
        corr = 1 + (bias or 0.0) if metric == "revenue" else 1.0
        levels = {"base": f["mean"].to_numpy() * corr, "target": f["mean"].to_numpy() * (1 + up),
                  "stretch": f["mean"].to_numpy() * (1 + st) if st is not None else f["hi80"].to_numpy()}
        for level, v in levels.items():
            rows.append(pd.DataFrame({"day": f["day"].to_numpy(), "metric": metric, "channel": "all",
                                      "level": level, "value": v}))
            for ch, share in channel_share.get(metric, {}).items():
                rows.append(pd.DataFrame({"day": f["day"].to_numpy(), "metric": metric, "channel": ch,
                                          "level": level, "value": v * share}))
    n_new = getattr(targets_cfg, "new_customers", None)
    f = tot[tot["metric"] == "orders"].sort_values("day")
    if n_new is not None and not f.empty:
        shape = f["mean"].to_numpy() / f["mean"].sum() if f["mean"].sum() > 0 else np.full(len(f), 1 / len(f))
        base = new_customer_base if new_customer_base is not None else np.nan
        for level, total in (("base", base), ("target", float(n_new)),
                             ("stretch", float(n_new) * (1 + st) / (1 + up) if st is not None else float(n_new) * 1.1)):
            rows.append(pd.DataFrame({"day": f["day"].to_numpy(), "metric": "new_customers", "channel": "all",
                                      "level": level, "value": shape * total}))
    cols = ["day", "metric", "channel", "level", "value"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def target_feasibility(
    forecast: pd.DataFrame,
    targets: pd.DataFrame,
    past: pd.DataFrame,
    new_customers_past: Mapping[str, float] | None = None,
    bias: float | None = None,
) -> pd.DataFrame:
    """Gap between each season target and the forecast, and whether it looks feasible.

    Parameters
    ----------
    past : DataFrame
        :func:`playbook.planning.history.season_summary` of the comparison seasons (oldest first).
    bias : float, optional
        An earlier campaign's revenue forecast bias
        (:func:`playbook.planning.lessons.retro_forecast_bias`). Revenue is then
        judged against ``expected`` = forecast x (1 + bias), with a standard deviation of at least
        ``|bias|`` x forecast. ``None`` or 0 changes nothing.

    Returns
    -------
    pandas.DataFrame
        One row per metric: ``metric``, ``forecast`` (season total), ``target``, ``stretch``,
        ``expected`` (the forecast, corrected by ``bias`` for revenue), ``bias`` (applied, 0 if none),
        ``gap`` (target - expected), ``p_reach_target`` (probability the season total reaches the
        target under the forecast distribution, days fully correlated: see ``_total_sd``), ``last_season``,
        ``growth_needed`` (target against the last season), ``best_past_growth`` (highest
        season-over-season growth seen), ``verdict`` (``"within the forecast range"``,
        ``"ambitious but seen before"``, ``"beyond past growth"``).
    """
    rows = []
    tot = forecast[forecast["dimension"] == "total"]
    past = past[past["orders"] > 0] if not past.empty else past
    for metric in ("revenue", "orders", "new_customers"):
        t = targets[(targets["metric"] == metric) & (targets["channel"] == "all")]
        if t.empty:
            continue
        target = float(t.loc[t["level"] == "target", "value"].sum())
        stretch = float(t.loc[t["level"] == "stretch", "value"].sum())
        f = tot[tot["metric"] == metric]
        fc = float(f["mean"].sum()) if not f.empty else float(t.loc[t["level"] == "base", "value"].sum())
        sd = _total_sd(f) if not f.empty else np.nan
        b = float(bias or 0.0) if metric == "revenue" else 0.0
        expected = fc * (1 + b)
        sd = max(sd, abs(b) * fc) if np.isfinite(sd) else sd
        p = float(1 - stats.norm.cdf(target, expected, sd)) if sd and sd > 0 else np.nan
        if metric in ("revenue", "orders") and not past.empty:
            series = past[metric].astype(float).to_numpy()
        elif metric == "new_customers" and new_customers_past:
            series = np.asarray(list(new_customers_past.values()), float)
        else:
            series = np.array([])
        last = float(series[-1]) if len(series) else np.nan
        growth = series[1:] / np.where(series[:-1] > 0, series[:-1], np.nan) - 1 if len(series) > 1 else np.array([])
        best = float(np.nanmax(growth)) if len(growth) and np.isfinite(growth).any() else np.nan
        need = target / last - 1 if last and last > 0 else np.nan
        if np.isfinite(p) and p >= 0.2:
            verdict = "within the forecast range"
        elif np.isfinite(best) and np.isfinite(need) and need <= best:
            verdict = "ambitious but seen before"
        elif np.isfinite(need):
            verdict = "beyond past growth"
        else:
            verdict = "no history to judge"
        rows.append({"metric": metric, "forecast": fc, "expected": expected, "bias": b, "target": target,
                     "stretch": stretch, "gap": target - expected, "p_reach_target": p, "last_season": last,
                     "growth_needed": need, "best_past_growth": best, "verdict": verdict})
    return pd.DataFrame(rows)


def describe_targets(feas: pd.DataFrame, currency: str = "USD", no_history: str | None = None) -> str:
    """Plain-language sentence on the revenue (and new-customer) target.

    ``no_history`` says why no past season judges the targets (e.g.
    :func:`playbook.planning.history.missing_seasons_note`); it is quoted where the last season's
    figure is missing, so no sentence shows NaN or a dash for it.
    """
    why = _lower_first((no_history or "No comparison season has sales in the data.").removeprefix("No comparable period: "))
    if feas.empty:
        return "No targets could be set: there is no forecast."
    r = feas.set_index("metric")
    parts = []
    if "revenue" in r.index:
        x = r.loc["revenue"]
        p = "n/a" if pd.isna(x["p_reach_target"]) else fmt_pct(x["p_reach_target"], 0)
        ref = (f"the forecast corrected by the earlier campaign's forecast error ({fmt_money(x['expected'], currency)})"
               if x.get("bias", 0) else f"the forecast ({fmt_money(x['forecast'], currency)})")
        word = "above" if x["gap"] >= 0 else "below"
        text = (f"The revenue target of {fmt_money(x['target'], currency)} is {fmt_money(abs(x['gap']), currency)} "
                f"{word} {ref}; that gives it a {p} chance. ")
        if not (pd.notna(x["last_season"]) and x["last_season"] > 0):
            text += f"It cannot be compared with last season: {why} Verdict: **{x['verdict']}**."
        else:
            text += (f"It needs {fmt_pct(x['growth_needed'])} on last season (the forecast alone expects "
                     f"{fmt_pct(x['forecast'] / x['last_season'] - 1)})")
            text += (f", against at best {fmt_pct(x['best_past_growth'])} season-over-season so far"
                     if pd.notna(x["best_past_growth"]) else
                     " (only one past season with sales: no season-over-season growth to compare with)")
            text += f": **{x['verdict']}**."
        parts.append(text)
    if "new_customers" in r.index:
        x = r.loc["new_customers"]
        if pd.notna(x["last_season"]):
            parts.append(f"The new-customer target ({x['target']:,.0f}) compares with {x['last_season']:,.0f} last "
                         f"season: **{x['verdict']}**.")
        else:
            parts.append(f"The new-customer target ({x['target']:,.0f}) cannot be compared with last season: "
                         f"{why} Verdict: **{x['verdict']}**.")
    return " ".join(parts)


def describe_default_target(feas: pd.DataFrame, currency: str = "USD", no_history: str | None = None) -> str:
    """Sentence for a campaign file without ``targets``: the revenue target is the forecast itself
    (0 % uplift), compared with last season where one has sales (else ``no_history`` says why)."""
    if feas.empty or "revenue" not in set(feas["metric"]):
        return "No targets could be set: there is no forecast."
    x = feas.set_index("metric").loc["revenue"]
    text = (f"The campaign file sets no targets, so the revenue target is the forecast itself "
            f"({fmt_money(x['target'], currency)}, 0 % uplift) and there is no new-customer target; "
            "targets: revenue_uplift_pct (and new_customers) would set a goal above it.")
    if pd.notna(x["last_season"]) and x["last_season"] > 0:
        text += f" The forecast is {fmt_pct(x['forecast'] / x['last_season'] - 1)} on last season."
    elif no_history:
        text += " " + no_history
    return text


def _lower_first(sentence: str) -> str:
    """``sentence`` with its first letter in lower case (to follow a colon)."""
    return sentence[:1].lower() + sentence[1:]


def channel_shares(daily_by_channel: pd.DataFrame, start, end) -> dict[str, dict[str, float]]:
    """Each order channel's share of revenue and orders in a window (e.g. the last season)."""
    w = daily_by_channel[(daily_by_channel["day"] >= as_day(start)) & (daily_by_channel["day"] <= as_day(end))]
    out = {}
    for metric in ("revenue", "orders"):
        s = w.groupby("channel")[metric].sum().clip(lower=0)
        out[metric] = (s / s.sum()).to_dict() if s.sum() > 0 else {}
    return out


def plot_targets(forecast: pd.DataFrame, targets: pd.DataFrame, currency: str = "USD"):
    """Daily revenue forecast with its 80/95 % intervals, and the target and stretch lines."""
    f = forecast[(forecast["dimension"] == "total") & (forecast["metric"] == "revenue")].sort_values("day")
    fig, ax = plt.subplots(figsize=(11, 4.5))
    if f.empty:
        empty_chart(ax, "No forecast")
        return fig
    ax.fill_between(f["day"], f["lo95"], f["hi95"], color="#1f4e79", alpha=0.12, lw=0, label="95 % interval")
    ax.fill_between(f["day"], f["lo80"], f["hi80"], color="#1f4e79", alpha=0.22, lw=0, label="80 % interval")
    ax.plot(f["day"], f["mean"], color="#1f4e79", lw=1.8, label="forecast")
    t = targets[(targets["metric"] == "revenue") & (targets["channel"] == "all")]
    styles: dict[str, dict[str, Any]] = {"target": dict(color="#e76f51", lw=1.6),
                                         "stretch": dict(color="#e76f51", lw=1, ls="--")}
    for level, style in styles.items():
        g = t[t["level"] == level].sort_values("day")
        if not g.empty:
            ax.plot(g["day"], g["value"], label=level, **style)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Daily revenue: forecast with prediction intervals, target and stretch")
    ax.set_xlabel("day")
    ax.set_ylabel(f"net revenue per day ({currency})")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, ncol=3, loc="upper left")
    fig.tight_layout()
    return fig

