"""The plan step (``notebooks/01_plan.ipynb``): one call per notebook cell.

The notebook imports only this module (and the display helpers of :mod:`playbook.steps.context`).
Its functions tie the config and the warehouse to the tested methods in
:mod:`playbook.planning` (history, seasons, targets, funnel, promo, lessons),
:mod:`playbook.forecasting` (calendar, model, forecast) and :mod:`playbook.media` (the media model
:mod:`playbook.media.mmm` with its curve draws, the optimiser on them
:mod:`playbook.media.allocation_draws`, pacing :mod:`playbook.media.budget`), and format tables, charts
and sentences for stakeholders; every ROAS and expected gain is shown with its interval. Artifacts
written by :func:`write_artifacts` are documented in those modules (``forecast.parquet``,
``targets.parquet``, ``budget_plan.parquet``, ``pacing.parquet``, ``calendar.csv``,
``media_model.parquet``: :func:`model_table`) and
``plan.json`` (headline numbers for the retrospective: forecast totals, chosen model, backtest
MASE, targets, budget, and which earlier retrospective shaped them).

Earlier retrospectives: :func:`earlier_retrospective` reads the published retrospectives of
earlier campaigns (``<reports root>/<slug>/artifacts/summary.json`` and ``next_budget.parquet``,
the reports root being the parent of this campaign's ``output_dir``) and picks the most recent
one that ended before this season and shares a country; :func:`build_targets` and
:func:`run_budget` apply the two rules documented in :mod:`playbook.planning.lessons` and the
report states what changed.

Size: this module is longer than 600 lines because the plan notebook has about 65 code cells and
each gets one small function here (glue and display only; no method lives here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from playbook.artifacts import artifacts_dir, read_artifact, write_artifact
from playbook.config.campaign import CampaignConfig
from playbook.data.aggregates import daily_sales
from playbook.data.warehouse import Warehouse
from playbook.files import atomic_write
from playbook.forecasting import calendar as CAL
from playbook.forecasting import forecast as F
from playbook.forecasting import model as FM
from playbook.forecasting.user_events import series_events
from playbook.media import allocation as AL
from playbook.media import allocation_draws as AD
from playbook.media import budget as B
from playbook.media import efficiency as E
from playbook.media import lifts as ML
from playbook.media import mmm as MM
from playbook.media import response as MR
from playbook.planning import funnel as FU
from playbook.planning import history as H
from playbook.planning import lessons as LS
from playbook.planning import promo as PR
from playbook.planning import seasons as SE
from playbook.planning import targets as TG
from playbook.planning.lessons import EarlierRetro, find_retrospectives
from playbook.report.charts import empty_chart, money_formatter
from playbook.report.format import fmt_money, fmt_pct, format_table
from playbook.steps.context import md


def _table(df: pd.DataFrame, decimals: tuple[str, ...] = (), **kw):
    """:func:`playbook.report.format_table` plus two-decimal columns (ratios such as MASE, ROAS)."""
    styled = format_table(df, **kw)
    cols = [c for c in decimals if c in df.columns]
    if cols and hasattr(styled, "format"):
        styled = styled.format("{:.2f}", subset=cols, na_rep="–")
    return styled


#: How far back the plan step reads history before the planning cutoff (years).
HISTORY_YEARS = 3


def planning_cutoff(cfg) -> dt.date:
    """Last day of data used for the plan: ``season.planning_cutoff`` or the day before the start."""
    return cfg.season.planning_cutoff or (cfg.season.start - dt.timedelta(days=1))


def past_seasons(cfg) -> list[tuple[str, dt.date, dt.date]]:
    """Comparison seasons ``(name, start, end)`` that end before the cutoff, oldest first."""
    cut = planning_cutoff(cfg)
    out = [(s.name, s.start, s.end) for s in cfg.comparison_seasons if s.end <= cut]
    return sorted(out, key=lambda t: t[1])


@dataclass
class PlanHistory:
    """Daily aggregates (engine-side) from ``start`` to the planning cutoff."""

    start: dt.date
    cutoff: dt.date
    total: pd.DataFrame
    by_country: pd.DataFrame
    by_channel: pd.DataFrame
    by_country_category: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def load_history(wh, cfg) -> PlanHistory:
    """Daily revenue/orders in total and by country, channel, and country x category."""
    cut = planning_cutoff(cfg)
    start = cut - dt.timedelta(days=int(365.25 * HISTORY_YEARS))
    countries = [c.upper() for c in cfg.countries]
    bc = daily_sales(wh, start, cut, by=("country",))
    notes = []
    missing = [c for c in countries if c not in set(bc["country"])]
    if missing and wh.lacks("customers", "country"):
        notes.append(f"The data has no customers.country column, so every customer counts for {countries[0]}; "
                     f"per-country figures for {', '.join(missing)} need that column.")
    elif missing:
        notes.append(f"No sales history for {', '.join(missing)}: their forecast falls back to a share of the total.")
    bc = bc[bc["country"].isin(countries)]
    total = bc.groupby("day", as_index=False)[["revenue", "gross_revenue", "orders", "customers"]].sum()
    if total.empty or total["orders"].sum() == 0:
        notes.append("No sales before the planning cutoff: forecasts are zero and targets cannot be judged.")
    first = total.loc[total["orders"] > 0, "day"].min() if not total.empty else None
    if first is not None and pd.notna(first):
        start = max(start, pd.Timestamp(first).date())
        total = total[total["day"] >= pd.Timestamp(start)]
        bc = bc[bc["day"] >= pd.Timestamp(start)]
    ch = daily_sales(wh, start, cut, by=("channel",))
    cc = daily_sales(wh, start, cut, by=("country", "category"))
    cc = cc[cc["country"].isin(countries)]
    return PlanHistory(start, cut, total, bc, ch, cc, notes)


# --------------------------------------------------------------------------------------------
# Sales history and the season calendar


def weekly_history(wh: Warehouse, cfg: CampaignConfig) -> tuple[list[tuple[str, dt.date, dt.date]], pd.DataFrame]:
    """The campaign window with its comparison seasons (oldest first) and the weekly sales of
    the three years before the window (:func:`playbook.planning.history.weekly_sales`)."""
    seasons = H.seasons_from_config(cfg)
    return seasons, H.weekly_sales(wh, *H.history_range(cfg), seasons=seasons)


def plot_weekly_sales(weekly: pd.DataFrame, seasons: Sequence[H.Season], currency: str) -> Figure:
    """Weekly net revenue with the seasons shaded (:func:`playbook.planning.history.plot_weekly_sales`)."""
    return H.plot_weekly_sales(weekly, seasons, currency)


def _automatic(cfg: CampaignConfig | None) -> bool:
    """Whether the comparison seasons were chosen from the data (not listed in the campaign file)."""
    return bool(getattr(cfg, "comparison_from_data", False))


def season_summary(wh: Warehouse, seasons: Sequence[H.Season], cfg: CampaignConfig | None = None) -> pd.DataFrame:
    """Revenue, orders, buyers and AOV of the past seasons (all of ``seasons`` but the campaign
    window, the last one), with growth (:func:`playbook.planning.history.season_summary`).

    Without a sale in any of them, ``attrs["no_sales"]`` says why in one sentence and
    ``attrs["no_sales_short"]`` in a few words (for the headline)."""
    past = H.season_summary(wh, seasons[:-1])
    if past.empty or past["orders"].sum() == 0:
        first = H.first_sale_day(wh)
        past.attrs["no_sales"] = H.missing_seasons_note(seasons[:-1], first, _automatic(cfg))
        past.attrs["no_sales_short"] = ("none covered by the data" + (f" (it starts {first:%d %b %Y})" if first else "")
                                        if len(seasons) < 2 and _automatic(cfg) else
                                        "no comparison season configured" if len(seasons) < 2 else
                                        f"none covered by the data (it starts {first:%d %b %Y})" if first else
                                        "no orders in the data")
    return past


def describe_seasons(past: pd.DataFrame, currency: str) -> str:
    """Sentence on the past seasons (:func:`playbook.planning.history.describe_seasons`)."""
    return H.describe_seasons(past, currency, past.attrs.get("no_sales"))


def season_calendar(cfg: CampaignConfig) -> pd.DataFrame:
    """Retail events and public holidays of the configured countries around the campaign window
    (:func:`playbook.forecasting.calendar.season_calendar`)."""
    return CAL.season_calendar(cfg.countries, cfg.season.start, cfg.season.end)


def plot_season_calendar(cal: pd.DataFrame, cfg: CampaignConfig) -> Figure:
    """Timeline of the season calendar with the campaign window shaded."""
    return CAL.plot_season_timeline(cal, cfg.season.start, cfg.season.end)


def describe_calendar(cal: pd.DataFrame) -> str:
    """Which retail events fall in the window, per event, with their countries."""
    r = cal[(cal["kind"] == "retail") & cal["in_window"]]
    if r.empty:
        return "No retail events fall in the campaign window."
    parts = [f"{name} ({', '.join(sorted(g['country']))}, {g['date'].min():%d %b})" for name, g in r.groupby("name", sort=False)]
    before = cal[(cal["kind"] == "retail") & ~cal["in_window"]]
    text = "Retail events in the window: " + "; ".join(parts) + "."
    if not before.empty:
        text += " Shortly before it: " + "; ".join(f"{r.name} in {r.country} ({r.date:%d %b})" for r in before.itertuples()) + "."
    return text


def season_breakdown(hist: PlanHistory, cfg: CampaignConfig, by: str) -> pd.DataFrame:
    """Revenue, orders and AOV per past season and ``by`` (``"country"``, ``"channel"`` or
    ``"category"``) with growth (:func:`playbook.planning.history.season_breakdown`)."""
    if by == "country":
        d = hist.by_country
    elif by == "channel":
        d = hist.by_channel
    else:
        d = hist.by_country_category.groupby(["day", "category"], as_index=False)[["revenue", "gross_revenue", "orders"]].sum()
    return H.season_breakdown(d, past_seasons(cfg), by)


def breakdown_table(hist: PlanHistory, cfg: CampaignConfig, by: str) -> Any:
    """The last past season by ``by``, largest revenue first, formatted for the report."""
    table = season_breakdown(hist, cfg, by)
    last = table["season"].iloc[-1] if not table.empty else None
    t = table[table["season"] == last].drop(columns="season").sort_values("revenue", ascending=False)
    return format_table(t, money=["revenue", "aov"], pct=["growth"], ints=["orders"], currency=cfg.currency)


def new_vs_returning(wh: Warehouse, cfg: CampaignConfig) -> pd.DataFrame:
    """Buyers per past season, new and returning (:func:`playbook.planning.history.new_vs_returning`)."""
    return H.new_vs_returning(wh, past_seasons(cfg))


def event_yoy(hist: PlanHistory, cfg) -> pd.DataFrame:
    """Event-aligned vs calendar-date growth for every retail event of the configured countries."""
    years = sorted({pd.Timestamp(b).year for _, _, b in past_seasons(cfg)} | {hist.cutoff.year})
    countries = [c.upper() for c in cfg.countries]
    yoy = SE.event_aligned_yoy(hist.by_country, list(CAL.EVENTS), countries, years)
    if yoy.empty:  # the sentence shown instead of the table (show_event_yoy)
        yoy.attrs["note"] = SE.no_comparable_period(hist.by_country, list(CAL.EVENTS), countries, years)
    return yoy


def show_event_yoy(yoy: pd.DataFrame) -> Any:
    """The event-aligned YoY table, or the sentence saying which data it needs (Markdown)."""
    if yoy.empty:
        return md(yoy.attrs.get("note", "No comparable period: there is not enough history to compare events year "
                                        "over year."))
    cols = ["event", "country", "year", "event_date", "last_year_event_date", "growth_aligned", "growth_calendar"]
    t = yoy[cols].copy()
    t["event_date"] = t["event_date"].dt.strftime("%d %b %Y")
    t["last_year_event_date"] = t["last_year_event_date"].dt.strftime("%d %b %Y")
    return format_table(t, pct=["growth_aligned", "growth_calendar"])


def describe_event_yoy(yoy: pd.DataFrame) -> str:
    """Sentence on the event whose calendar comparison misleads most (empty when
    :func:`show_event_yoy` already said why there is no comparison)."""
    if yoy.empty and yoy.attrs.get("note"):
        return ""
    return SE.describe_event_yoy(yoy)


def event_profile_chart(hist: PlanHistory, yoy: pd.DataFrame, currency: str):
    event, country = SE.main_moving_event(yoy)
    years = sorted({int(y) for y in yoy["year"]} | {int(y) - 1 for y in yoy["year"]}) or [hist.cutoff.year]
    prof = SE.event_profile(hist.by_country, event, country, years)
    return SE.plot_event_profile(prof, CAL.EVENT_NAMES.get(event, event), country, currency)


def no_past_season_note(hist: PlanHistory, cfg: CampaignConfig) -> str:
    """Why no past season (ending before the cutoff) has sales in the history, in one sentence."""
    sold = hist.total.loc[hist.total["orders"] > 0, "day"]
    return H.missing_seasons_note(past_seasons(cfg), pd.Timestamp(sold.min()).date() if len(sold) else None,
                                  _automatic(cfg))


def peaks(hist: PlanHistory, cfg: CampaignConfig) -> Any:
    """The highest days of each past season, or the sentence saying why there is none (Markdown)."""
    t = SE.peak_days(hist.total, past_seasons(cfg), cfg.countries)
    if t.empty:
        return md(no_past_season_note(hist, cfg))
    t = t.assign(day=t["day"].dt.strftime("%a %d %b %Y")).drop(columns="weekday")
    return format_table(t, money=["value"], currency=cfg.currency)


def ramp(hist: PlanHistory, cfg: CampaignConfig) -> pd.DataFrame:
    """Weekly revenue index around each past season's start (:func:`playbook.planning.seasons.preseason_ramp`)."""
    return SE.preseason_ramp(hist.total, past_seasons(cfg))


def plot_ramp(r: pd.DataFrame) -> Figure:
    """Ramp index by week relative to the season start, one line per season."""
    return SE.plot_ramp(r)


def describe_ramp(r: pd.DataFrame) -> str:
    ok = r.dropna(subset=["index"])
    if ok.empty:
        return "There is not enough history before the past seasons to measure a pre-season ramp."
    parts = []
    for name, g in ok.groupby("season", sort=False):
        above = g[(g["week"] < 0) & (g["index"] >= 1.2)]
        start = f"from week {int(above['week'].min())}" if not above.empty else "only once the season starts"
        parts.append(f"{name}: demand rose 20 % above its baseline {start}, and the first season week was at "
                     f"{g.loc[g['week'] == 0, 'index'].iloc[0]:.1f}x" if (g["week"] == 0).any() else name)
    return "Pre-season ramp: " + "; ".join(parts) + "."


def category_timing(hist: PlanHistory, cfg) -> pd.DataFrame:
    return SE.category_timing(hist.by_country_category, past_seasons(cfg))


def show_category_timing(t: pd.DataFrame):
    if t.empty:
        return t
    wide = t.pivot_table(index="category", columns="country", values="halfway_day")
    return wide.round(0)


def describe_category_timing(t: pd.DataFrame) -> str:
    """Which category peaks earliest in each country."""
    return SE.describe_category_timing(t)


# --------------------------------------------------------------------------------------------
# Forecast


def run_forecast(wh, cfg, hist: PlanHistory) -> F.CampaignForecast:
    """Backtest, choose the model(s) and forecast the campaign window (total, country, category),
    with the campaign file's own events (``events:``) as regressors."""
    return F.forecast_campaign(wh, cfg.countries, hist.start, hist.cutoff, cfg.season.start, cfg.season.end,
                               past_seasons(cfg), events=cfg.events)


#: Backtest methods as the plan's table names them.
_METHOD_LABELS = {"forecast": "forecast as shown (combined, its intervals)",
                  F.BASELINE: "same weekday last year (baseline)"}


def backtest_table(cf: F.CampaignForecast):
    """Mean backtest MASE and interval coverage per metric and method; ``chosen`` marks the
    members of the forecast, ``weight`` their share."""
    if cf.backtest.empty:
        return pd.DataFrame({"note": ["No backtest: less than a year of history before every fold."]})
    rows = []
    for metric, g in cf.backtest.groupby("metric"):
        s = FM.backtest_summary(g).assign(metric=metric)
        rows.append(s)
    t = pd.concat(rows, ignore_index=True)[["metric", "method", "mase", "cov80", "cov95", "folds"]]
    w = [cf.weights.get(k, {}).get(m, 0.0) for k, m in zip(t["metric"], t["method"], strict=True)]
    t["chosen"] = [x > 0 or m == cf.model.get(k) for x, k, m in zip(w, t["metric"], t["method"], strict=True)]
    t["weight"] = w
    t["method"] = t["method"].map(lambda m: _METHOD_LABELS.get(m, m))
    return _table(t, decimals=("mase",), pct=["cov80", "cov95", "weight"])


def _members(cf: F.CampaignForecast, metric: str = "revenue") -> str:
    w = cf.weights.get(metric) or {cf.model.get(metric, ""): 1.0}
    if len(w) == 1:
        return f"**{next(iter(w))}**"
    return "the equal-weight mean of " + ", ".join(f"**{m}**" for m in w) if len(set(w.values())) == 1 else (
        "the weighted mean of " + ", ".join(f"**{m}** ({v:.0%})" for m, v in w.items()))


def describe_backtest(cf: F.CampaignForecast) -> str:
    n = F.backtest_numbers(cf)
    if not n:
        return ("No backtest was possible (less than a year of history); the forecast is the documented default, "
                f"{_members(cf)}, with its models' own intervals widened.")
    base = (f" against {n['mase_naive']:.2f} for the same-weekday-last-year baseline" if np.isfinite(n["mase_naive"])
            else " (the same-weekday-last-year baseline needs a year of history before the window)")
    if not n["backed"]:
        return (f"Only {n['folds']} backtest fold(s): model choice is not backed by a backtest (at least "
                f"{F.MIN_FOLDS} are needed); using the default, {_members(cf)}, and making no claim about the "
                f"baseline. On {'that fold' if n['folds'] == 1 else 'those folds'} it had MASE {n['mase_model']:.2f}"
                f"{base}.")
    verdict = ("beats" if n["mase_model"] < n["mase_naive"] else "does **not** beat") if np.isfinite(
        n["mase_naive"]) else "cannot be compared with"
    return (f"Over {n['folds']} rolling-origin folds the chosen model ({_members(cf)}) has MASE "
            f"{n['mase_model']:.2f}{base}: it {verdict} the baseline. Its 80 % and 95 % intervals (conformal, each "
            f"fold judged with intervals from the other folds' errors) held {fmt_pct(n['cov80'], 0)} and "
            f"{fmt_pct(n['cov95'], 0)} of actual days.")


def describe_forecast(cf: F.CampaignForecast, currency: str) -> str:
    r, o = cf.total("revenue"), cf.total("orders")
    if r.empty or r["mean"].sum() <= 0:
        return "No forecast could be made: there is no sales history before the cutoff."
    peak = r.loc[r["mean"].idxmax()]
    text = (f"The model expects {fmt_money(r['mean'].sum(), currency)} of net revenue from "
            f"{o['mean'].sum():,.0f} orders in the window (80 % interval per day shown shaded); the busiest "
            f"day should be **{peak['day']:%a %d %b}** with about {fmt_money(peak['mean'], currency)}.")
    if cf.notes:
        text += " Notes: " + " ".join(cf.notes)
    return text


def plot_forecast(cf: F.CampaignForecast, currency: str) -> Figure:
    """Recent daily revenue and the window's forecast with intervals (:func:`playbook.forecasting.forecast.plot_forecast`)."""
    return F.plot_forecast(cf, "revenue", currency)


def plot_forecast_breakdown(cf: F.CampaignForecast, dimension: str, currency: str) -> Figure:
    """Weekly forecast revenue per country or category (:func:`playbook.forecasting.forecast.plot_breakdown`)."""
    return F.plot_breakdown(cf, dimension, "revenue", currency)


def effects_table(cf: F.CampaignForecast, series: str = "total", metric: str = "orders"):
    e = cf.effects
    if e.empty:
        return pd.DataFrame({"note": ["No event effects (fallback forecast)."]})
    e = e[(e["series"] == series) & (e["metric"] == metric)]
    e = e[~e["feature"].str.endswith("_ramp")][["feature", "multiplier", "lo95", "hi95"]]
    return e.round(2).reset_index(drop=True)


def pull_forward(cf: F.CampaignForecast) -> dict[str, float]:
    est = cf.estimators.get("revenue")
    return SE.pull_forward(est) if est is not None else {}


def describe_pull_forward(pf: dict[str, float], currency: str) -> str:
    if not pf or not np.isfinite(pf.get("share", np.nan)):
        return "The history does not contain a Black Friday followed by enough days to estimate the post-promotion dip."
    return (f"At the last Black Friday the model puts the extra revenue of the peak at "
            f"{fmt_money(pf['extra'], currency)}, and the dip in the following week at "
            f"{fmt_money(pf['lost'], currency)} (demand {fmt_pct(1 - pf['dip_multiplier'])} below normal): about "
            f"**{fmt_pct(pf['share'], 0)} of the peak was pulled forward** rather than new. The forecast already "
            "includes this dip; count only the net lift when judging promotions.")


# --------------------------------------------------------------------------------------------
# Targets


@dataclass
class TargetResult:
    targets: pd.DataFrame
    feasibility: pd.DataFrame
    bias: float | None = None
    bias_share: float = 1.0
    #: Why no past season can judge the targets (``None`` when one can).
    history_note: str | None = None
    #: Whether the campaign file sets ``targets`` (otherwise the target is the forecast itself).
    configured: bool = True


def build_targets(wh, cfg, cf: F.CampaignForecast, hist: PlanHistory,
                  earlier: EarlierRetro | None = None) -> TargetResult:
    """Daily/per-channel targets and their feasibility against the forecast and past seasons.

    With an ``earlier`` retrospective that measured its plan's forecast, the revenue base level
    and the target's chances use this forecast corrected by that bias, weighted by the share of
    this forecast in the countries it covered (:mod:`playbook.planning.lessons`); ``bias`` is what was applied.
    """
    first = hist.total.loc[hist.total["orders"] > 0, "day"].min() if not hist.total.empty else None
    note = None
    seasons = past_seasons(cfg)
    if first is not None and pd.notna(first):  # seasons that end before the data say nothing
        seasons = [s for s in seasons if pd.Timestamp(s[2]) >= pd.Timestamp(first)]
    if not seasons:
        note = no_past_season_note(hist, cfg)
    last = seasons[-1] if seasons else None
    shares = TG.channel_shares(hist.by_channel, last[1], last[2]) if last else {}
    new_past = {name: float(H.daily_new_customers(wh, a, b)["new_customers"].sum()) for name, a, b in seasons}
    base_new = list(new_past.values())[-1] if new_past else None
    share, bias = 1.0, None
    if earlier is not None and earlier.bias is not None and earlier.summary is not None:
        share = LS.retro_country_share(cf.forecast, earlier.summary["campaign"].get("countries", []))
        bias = earlier.bias * share
    t = TG.build_targets(cf.forecast, cfg.targets, shares, base_new, bias=bias)
    past = H.season_summary(wh, seasons) if seasons else pd.DataFrame(columns=["season", "revenue", "orders"])
    return TargetResult(t, TG.target_feasibility(cf.forecast, t, past, new_past, bias=bias), bias, share, note,
                        configured=bool(getattr(cfg, "targets_set", True)))


def show_feasibility(tr: TargetResult, currency: str):
    f = tr.feasibility
    if f.empty:
        return f
    if "bias" in f.columns and not f["bias"].any():
        f = f.drop(columns=["expected", "bias"])  # no earlier retrospective: identical to the forecast
    amounts = [c for c in ("forecast", "expected", "target", "stretch", "gap", "last_season") if c in f.columns]  # currency for revenue, counts otherwise
    styled = format_table(f, pct=[c for c in ("bias", "p_reach_target", "growth_needed", "best_past_growth")
                                  if c in f.columns])
    return styled.format("{:,.0f}", subset=amounts, na_rep="–") if hasattr(styled, "format") else styled


def channel_targets(tr: TargetResult, currency: str):
    t = tr.targets[tr.targets["metric"] == "revenue"]
    wide = t.pivot_table(index="channel", columns="level", values="value", aggfunc="sum")
    wide = wide.reindex(columns=[c for c in ("base", "target", "stretch") if c in wide.columns]).reset_index()
    return format_table(wide, money=[c for c in ("base", "target", "stretch") if c in wide.columns], currency=currency)


def plot_targets(cf: F.CampaignForecast, tr: TargetResult, currency: str) -> Figure:
    """Daily revenue forecast with intervals, target and stretch (:func:`playbook.planning.targets.plot_targets`)."""
    return TG.plot_targets(cf.forecast, tr.targets, currency)


def describe_targets(tr: TargetResult, currency: str) -> str:
    """Sentence on the revenue (and new-customer) target and its chances; without targets in the
    campaign file, that the target is the forecast itself."""
    if not tr.configured:
        return TG.describe_default_target(tr.feasibility, currency, tr.history_note)
    return TG.describe_targets(tr.feasibility, currency, tr.history_note)


# --------------------------------------------------------------------------------------------
# Budget


@dataclass
class BudgetResult:
    fit: MR.CurveFit
    spend: pd.DataFrame
    plan: pd.DataFrame
    pacing: pd.DataFrame
    profile: np.ndarray
    roas_target: tuple[float, float] | None
    notes: list[str]
    retro: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LS.RETRO_BUDGET_COLUMNS))
    #: Sections left out for want of config or data (``"response_curves"``, ``"budget"``) ->
    #: the sentence saying what is missing and what would enable it.
    skipped: dict[str, str] = field(default_factory=dict)
    #: The media model the curves come from (:func:`playbook.media.mmm.fit_media_model`; None without curves).
    model: MM.MediaModel | None = None
    #: The target-ROAS search on the model's draws (:func:`playbook.media.allocation_draws.max_budget_for_roas_draws`).
    roas_target_draws: AD.RoasTarget | None = None


#: Draws of the plan's media model (bootstrap refits).
MODEL_DRAWS = 200

#: Shown instead of the response curves when the campaign file lists no channels.
NO_CHANNELS = ("No response curves: the campaign file lists no paid channels (channels:); channels with their "
               "daily spend in the spend table would enable them.")
#: Shown instead of the budget split and pacing when the campaign file sets no budget.
NO_BUDGET = ("No budget split or pacing: the campaign file sets no budget; a budget total (budget: total) with "
             "bounds per paid channel (channels:) would enable them.")
#: Columns of ``budget_plan.parquet`` (see :mod:`playbook.media.budget`), for an empty plan.
PLAN_COLUMNS = ("channel", "budget", "min_budget", "max_budget", "last_season", "roas_proportional",
                "expected_revenue", "roas", "marginal_roas", "fitted")


def no_spend_note(channels: Sequence[str]) -> str:
    """Shown instead of the response curves when none of ``channels`` has spend in the history."""
    return (f"No response curves: the spend table has no spend for {', '.join(channels)} before the planning "
            "cutoff; daily spend per channel (spend table: date, channel, spend) would enable them.")


def _empty_plan() -> pd.DataFrame:
    """A ``budget_plan`` table without rows (no budget to split)."""
    types = {"channel": "object", "fitted": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "float64")) for c in PLAN_COLUMNS})


def run_budget(wh, cfg, cf: F.CampaignForecast, hist: PlanHistory,
               earlier: EarlierRetro | None = None, seed: int = 0) -> BudgetResult:
    """Fit the media model, optimise the season budget on its draws, compare splits and pace it daily.

    The media model (:func:`playbook.media.mmm.fit_media_model`, ``MODEL_DRAWS`` draws, ``seed``) is
    fitted on daily orders and spend before the planning cutoff; the split maximises
    ``budget.objective`` (expected return, or a low percentile of it) with ``budget.fixed`` channels
    held (:func:`playbook.media.budget.budget_plan_draws`), so every ROAS and gain has its 5-95 %
    interval across draws. The campaign file's lift results (``media.lifts``) whose window lies before
    the cutoff calibrate the fit (:func:`plan_lifts`; the others are named in ``notes``). With an
    ``earlier`` retrospective, its recommended split (scaled to this
    total) is added to the plan as ``earlier_recommended`` and channels whose marginal ROAS interval
    lay wholly below 1 there have their maximum capped
    (:func:`playbook.planning.lessons.retro_budget_bounds`).
    """
    skipped: dict[str, str] = {}
    chans = list(cfg.channels)
    bounds = {c: (float(v.min_budget), float(v.max_budget)) for c, v in cfg.channels.items()}
    spend = E.daily_spend(wh, hist.start, hist.cutoff)
    fr = cf.total("revenue")
    profile = B.pacing_profile(fr["mean"].to_numpy() if not fr.empty else np.ones((cfg.season.end - cfg.season.start).days + 1))
    days = pd.date_range(cfg.season.start, cfg.season.end)
    lifts, notes = plan_lifts(cfg, hist, spend, chans, earlier)
    model = _fit_curves(hist, spend, chans, cfg.countries, seed, lifts,
                        series_events(getattr(cfg, "events", None), cfg.countries))
    fit = _curve_fit(model, chans, hist)
    skipped.update(_curves_skipped(fit, chans, spend))
    if cfg.budget is None or not chans:
        if fit.curves and fit.missing:
            notes.append(f"No spend history for {', '.join(fit.missing)}: no response curve.")
        skipped["budget"] = NO_BUDGET
        return BudgetResult(fit, spend, _empty_plan(), B.pacing_plan({}, days, profile), profile, None, notes,
                            skipped=skipped, model=model)
    AL.check_bounds(bounds, float(cfg.budget.total))
    retro = pd.DataFrame(columns=LS.RETRO_BUDGET_COLUMNS)
    if earlier is not None and earlier.summary is not None:
        bounds, retro = LS.retro_budget_bounds(bounds, float(cfg.budget.total), earlier.next_budget)
        retro.attrs.update(campaign=earlier.summary["campaign"].get("slug"), campaign_name=earlier.name)
        capped = retro[retro["capped"]]
        if not capped.empty:
            notes.append(f"Capped by the {earlier.name} retrospective (marginal ROAS interval wholly below "
                         f"{LS.RETRO_MROAS_FLOOR:g}): " + ", ".join(capped["channel"]) + ".")
    if fit.missing and fit.curves:  # without any curve, the skipped sentence and describe_budget say it
        notes.append(f"No spend history for {', '.join(fit.missing)}: left out of curve fitting and held at the minimum budget.")
    last = _last_season_spend(cfg, spend)
    draws = model.draws if model is not None else []
    objective, fixed = cfg.budget.objective, dict(cfg.budget.fixed)
    if draws:
        roas = model.summary().set_index("channel")["roas_mean"].to_dict() if model is not None else {}
        plan = B.budget_plan_draws(draws, bounds, float(cfg.budget.total), profile, last, roas, objective, fixed)
        pacing = B.pacing_plan_draws(dict(zip(plan["channel"], plan["budget"], strict=True)), days, profile, draws)
    else:  # no channel with spend: every channel at its minimum, nothing to optimise on
        plan = B.budget_plan(fit, AD.fixed_bounds(bounds, fixed), float(cfg.budget.total), profile, last, {})
        pacing = B.pacing_plan(dict(zip(plan["channel"], plan["budget"], strict=True)), days, profile)
    if not retro.empty:
        plan["earlier_recommended"] = plan["channel"].map(retro.set_index("channel")["earlier_recommended"])
    notes += extrapolation_notes(plan, spend, len(days))
    target, target_draws = None, None
    if cfg.budget.target_roas is not None and draws:
        target_draws = AD.max_budget_for_roas_draws(draws, bounds, float(cfg.budget.target_roas), profile,
                                                    objective=objective, fixed=fixed, reference_weights=last)
        target = (target_draws.total, target_draws.allocation.roas.mean)
    return BudgetResult(fit, spend, plan, pacing, profile, target, notes, retro, skipped, model, target_draws)


def _last_season_spend(cfg, spend: pd.DataFrame) -> dict[str, float]:
    """Spend per channel over the last comparison season (empty without one or without spend)."""
    seasons = past_seasons(cfg)
    if not seasons or spend.empty:
        return {}
    a, b = seasons[-1][1], seasons[-1][2]
    s = spend[(spend["day"] >= pd.Timestamp(a)) & (spend["day"] <= pd.Timestamp(b))]
    return {str(k): float(v) for k, v in s.groupby("channel")["spend"].sum().items()}


def _aov(hist: PlanHistory) -> float:
    """Average order value of the history (0 without orders)."""
    orders = hist.total["orders"].sum() if not hist.total.empty else 0
    return float(hist.total["gross_revenue"].sum() / orders) if orders else 0.0


def plan_lifts(cfg, hist: PlanHistory, spend: pd.DataFrame, chans: list[str],
               earlier: EarlierRetro | None = None) -> tuple[list[MM.Lift], list[str]]:
    """The lifts the plan's media model is calibrated by, and a sentence per lift left out.

    The campaign file's lift results (``media.lifts``, :func:`playbook.media.lifts.config_lifts`) and the lifts
    that calibrated the ``earlier`` retrospective's model (:func:`playbook.planning.lessons.retro_model_lifts`;
    one with the same channel and window as a lift of the campaign file is that one again and is dropped);
    only those whose window lies wholly inside the history up to the planning cutoff, on a channel with spend
    there (:func:`playbook.media.lifts.usable_lifts`). The retrospective uses the campaign file's later ones.
    """
    results = getattr(getattr(cfg, "media", None), "lifts", None) or []
    own = ML.config_lifts(results)
    seen = {(lf.channel, pd.Timestamp(lf.start), pd.Timestamp(lf.end)) for lf in own}
    old, notes = LS.retro_model_lifts(earlier, cfg.countries, cfg.currency) if earlier is not None else ([], [])
    old = [lf for lf in old if (lf.channel, pd.Timestamp(lf.start), pd.Timestamp(lf.end)) not in seen]
    if not (own or old) or hist.total.empty or not chans:
        return [], notes
    days = pd.to_datetime(hist.total["day"])
    spent = sorted(set(chans) & set(spend.loc[spend["spend"] > 0, "channel"])) if not spend.empty else []
    lifts, left_out = ML.usable_lifts(own + old, days.min(), days.max(), spent,
                                      "the plan's history (up to the planning cutoff)")
    return lifts, notes + left_out


def _fit_curves(hist: PlanHistory, spend: pd.DataFrame, chans: list[str], countries: Sequence[str],
                seed: int = 0, lifts: Sequence[MM.Lift] = (), events: pd.DataFrame | None = None,
                ) -> MM.MediaModel | None:
    """The media model of daily orders on the history before the cutoff, calibrated by ``lifts``, with the
    campaign file's own ``events`` (promotions) in its baseline as in the forecast (None without channels,
    with 60 days or fewer of orders, without spend for any channel, or without orders)."""
    aov = _aov(hist)
    y = hist.total.set_index("day")["orders"].astype(float) if not hist.total.empty else pd.Series(dtype=float)
    if not chans or len(y) <= 60 or aov <= 0 or spend.empty or not spend["channel"].isin(chans).any():
        return None
    w = F.country_weights(hist.by_country, "orders", countries)
    return MM.fit_media_model(y, spend, chans, aov=aov, countries=countries, weights=w, lifts=lifts,
                              events=events, draws=MODEL_DRAWS, seed=seed)


def _curve_fit(model: MM.MediaModel | None, chans: list[str], hist: PlanHistory) -> MR.CurveFit:
    """The model's MAP curves as a :class:`playbook.media.response.CurveFit` (what the charts read)."""
    if model is None:
        return MR.CurveFit({}, list(chans), 0.0, _aov(hist), np.nan)
    theta = float(np.mean(list(model.thetas.values()))) if model.thetas else 0.0
    return MR.CurveFit(model.curves, list(model.missing), theta, model.aov, np.nan)


def _curves_skipped(fit: MR.CurveFit, chans: list[str], spend: pd.DataFrame) -> dict[str, str]:
    """``{"response_curves": why}`` when no channel got a curve, else ``{}``."""
    if fit.curves:
        return {}
    if not chans:
        return {"response_curves": NO_CHANNELS}
    if spend.empty or not spend["channel"].isin(chans).any():
        return {"response_curves": no_spend_note(chans)}
    return {"response_curves": ("No response curves: 60 days or fewer of order history before the planning cutoff; "
                                "a longer order history would enable them.")}


def extrapolation_notes(plan: pd.DataFrame, spend: pd.DataFrame, n_days: int, limit: float = 1.5) -> list[str]:
    """Channels whose planned average daily spend exceeds ``limit`` x the 95th percentile of the
    daily spend seen in the history: their curve is extrapolated there, so treat its return with care."""
    out = []
    for r in plan.itertuples():
        s = spend.loc[spend["channel"] == r.channel, "spend"]
        if len(s) and n_days and r.budget / n_days > limit * float(s.quantile(0.95)):
            out.append(f"{r.channel}: planned {r.budget / n_days:,.0f} per day is {r.budget / n_days / float(s.quantile(0.95)):.1f}x "
                       "the 95th-percentile daily spend seen; its curve is extrapolated (saturated) there.")
    return out


#: Columns of :func:`model_table` (the media model's summary over the history, 90 % intervals).
MODEL_COLUMNS = ("channel", "mean_daily_spend", "contribution_mean", "contribution_lo", "contribution_hi",
                 "roas_mean", "roas_lo", "roas_hi", "marginal_roas_mean", "marginal_roas_lo", "marginal_roas_hi",
                 "warning")


def model_table(br: BudgetResult) -> pd.DataFrame:
    """Per fitted channel over the history: mean daily spend, incremental revenue (contribution), ROAS and
    marginal ROAS at the mean daily spend, each the draws' mean with its 90 % interval, and the model's
    identifiability warning (empty without a model)."""
    if br.model is None:
        return pd.DataFrame(columns=list(MODEL_COLUMNS))
    return br.model.summary()[list(MODEL_COLUMNS)]


def curve_table(br: BudgetResult, currency: str):
    """ROAS and marginal ROAS per fitted channel with their 90 % intervals, or the sentence saying what is
    missing (Markdown)."""
    if "response_curves" in br.skipped:
        return md(br.skipped["response_curves"])
    t = model_table(br)
    if t.empty:
        return pd.DataFrame({"note": ["No channel has spend history."]})
    return _table(t, decimals=tuple(c for c in t.columns if "roas" in c),
                  money=[c for c in t.columns if c.startswith(("contribution", "mean_daily"))], currency=currency)


def describe_model(br: BudgetResult) -> str:
    """Fit diagnostics of the media model and its identifiability warnings (Markdown; empty without one)."""
    m = br.model
    if m is None:
        return ""
    d = m.diagnostics
    text = (f"The media model explains daily orders with R² {d.get('r2', float('nan')):.2f} and MAPE "
            f"{fmt_pct(d.get('mape', float('nan')))} over {len(m.days)} days ({len(m.draws)} bootstrap draws; "
            "intervals are 90 %).")
    warn = [f"**{ch}**: {'; '.join(w)}" for ch, w in m.warnings.items() if w]
    text += " Not identifiable from this history: " + " ".join(warn) if warn else ""
    if m.lifts:  # experiments (campaign file, earlier retrospective) calibrated the fit: before and after
        text += "\n\nCalibrated by experiments: " + E.describe_calibration(m.calibration())
    return text


def calibration_table(br: BudgetResult, currency: str):
    """Each channel calibrated by an experiment (:func:`plan_lifts`: the campaign file's ``media.lifts``, the
    earlier retrospective's holdouts): its ROAS and marginal ROAS before and after the lifts entered the fit,
    with 90 % intervals (:meth:`playbook.media.mmm.MediaModel.calibration`); a sentence without any."""
    m = br.model
    if m is None or not m.lifts:
        return md("No experiment calibrates the plan's media model: the campaign file lists no lift result under "
                  "`media.lifts` with a window before the planning cutoff, and no earlier retrospective of the "
                  "same countries recorded one.")
    t = m.calibration()
    t = t[t["lift"].notna()].reset_index(drop=True)
    return _table(t, decimals=tuple(c for c in t.columns if "roas" in c), money=["lift"], currency=currency)


def plan_table(br: BudgetResult, currency: str):
    """The budget split per channel, or the sentence saying why there is none (Markdown)."""
    if "budget" in br.skipped:
        return md(br.skipped["budget"])
    t = br.plan[[c for c in PLAN_TABLE_COLUMNS if c in br.plan.columns]].copy()
    return _table(t, decimals=tuple(c for c in t.columns if "roas" in c and c != "roas_proportional"),
                  money=[c for c in t.columns if c in ("budget", "last_season", "roas_proportional", "earlier_recommended",
                                                       "max_budget") or c.startswith("expected_revenue")],
                  currency=currency)


#: Columns of :func:`plan_table` (those present): the split, the alternatives and 5-95 % intervals across draws.
PLAN_TABLE_COLUMNS = ("channel", "budget", "fixed", "last_season", "roas_proportional", "earlier_recommended",
                      "expected_revenue", "expected_revenue_low", "expected_revenue_high", "roas", "roas_low",
                      "roas_high", "marginal_roas", "marginal_roas_low", "marginal_roas_high", "max_budget", "fitted")


def describe_roas_target(br: BudgetResult, cfg) -> str:
    """The largest budget that keeps the target ROAS (empty when no budget is split)."""
    if "budget" in br.skipped:
        return ""
    if br.roas_target is None:
        if cfg.budget is not None and cfg.budget.target_roas is not None:
            return (f"The target ROAS of {cfg.budget.target_roas:g} cannot be checked: no channel has a response "
                    "curve (see above).")
        return "No target ROAS is configured."
    total, roas = br.roas_target
    tgt = cfg.budget.target_roas
    lo = sum(v.min_budget for v in cfg.channels.values())
    span = ""
    if br.roas_target_draws is not None:
        iv = br.roas_target_draws.allocation.roas
        span = f" (90 % interval {iv.low:.2f} to {iv.high:.2f})"
    unmet = br.roas_target_draws is not None and not br.roas_target_draws.met
    if unmet or (roas < tgt and total <= lo):
        return (f"Even the minimum budgets ({fmt_money(lo, cfg.currency)}) return only {roas:.2f}{span} incremental "
                f"revenue per unit of spend, below the target ROAS of {tgt:g}: the target cannot be met with these "
                "bounds.")
    return (f"The largest season budget that keeps an expected ROAS of {tgt:g} is about {fmt_money(total, cfg.currency)}"
            f", where the split's ROAS is {roas:.2f}{span} (configured total: "
            f"{fmt_money(cfg.budget.total, cfg.currency)}).")


def plot_pacing(br: BudgetResult, currency: str) -> Figure | None:
    """Daily planned spend per channel (nothing when no budget is split)."""
    if "budget" in br.skipped:
        return None
    fig, ax = plt.subplots(figsize=(11, 4.5))
    p = br.pacing
    if p.empty:
        empty_chart(ax, "No pacing plan")
        return fig
    wide = p.pivot_table(index="day", columns="channel", values="spend", aggfunc="sum")
    ax.stackplot(wide.index, wide.T.to_numpy(), labels=wide.columns, alpha=0.85)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Daily pacing plan: spend follows forecast demand, capped at 2x an even day")
    ax.set_xlabel("day")
    ax.set_ylabel(f"planned spend per day ({currency})")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Budget charts (drawn by playbook.media.budget)


def plot_response_curves(br: BudgetResult, currency: str) -> Figure | None:
    """Fitted response curve of each paid channel against its spend history (nothing when no
    channel has one: :func:`curve_table` says why)."""
    if "response_curves" in br.skipped:
        return None
    if br.model is None:
        return B.plot_response_curves(br.fit, br.spend, currency)
    return E.plot_curve_bands(br.model.curve_bands(), br.spend, currency)


def plot_budget_splits(br: BudgetResult, currency: str) -> Figure | None:
    """The optimised split next to last season's and the other compared splits (nothing when no
    budget is split: :func:`plan_table` says why)."""
    if "budget" in br.skipped:
        return None
    return B.plot_budget_splits(br.plan, currency)


def describe_budget(br: BudgetResult, currency: str) -> str:
    """Sentence on the optimised split and its expected gain over the compared splits (empty when
    no budget is split)."""
    if "budget" in br.skipped:
        return ""
    return B.describe_budget(br.plan, currency)


# --------------------------------------------------------------------------------------------
# Funnel and promotions


def funnel_table(wh: Warehouse, cfg: CampaignConfig) -> Any:
    """Stage-to-stage conversion of the past seasons by acquisition channel, or the sentence saying
    which data it needs (Markdown)."""
    if not FU.has_events(wh):
        return md(FU.NO_EVENTS)
    seasons = past_seasons(cfg)
    if not seasons:
        return md(H.missing_seasons_note(seasons, H.first_sale_day(wh), _automatic(cfg)))
    f = FU.funnel(wh, seasons)
    if f.empty:
        return md("No web events in the comparison seasons (" + ", ".join(s[0] for s in seasons)
                  + "): the funnel needs events (views, carts, checkouts) inside those windows.")
    return FU.funnel_rates(f).round(3)


def describe_funnel(rates: Any) -> str:
    """Where the funnel loses most (:func:`playbook.planning.funnel.describe_funnel`); empty when
    :func:`funnel_table` already said why there is no funnel."""
    if not isinstance(rates, pd.DataFrame):
        return ""
    return FU.describe_funnel(rates)


def promo(wh, cfg, cf: F.CampaignForecast, hist: PlanHistory) -> pd.DataFrame:
    br = PR.weekday_browsing(wh, hist.cutoff - dt.timedelta(days=365), hist.cutoff)
    pc = PR.promo_calendar(cf.total("revenue"), br, cfg.season.start, cfg.season.end)
    pc.attrs["views"] = int(br["views"].sum())  # 0: send days could not follow browsing
    return pc


def plot_promo(cf: F.CampaignForecast, pc: pd.DataFrame, currency: str) -> Figure:
    """Forecast revenue with the promotional phases shaded and send days marked."""
    return PR.plot_promo_calendar(cf.total("revenue"), pc, currency)


def describe_promo(pc: pd.DataFrame, currency: str) -> str:
    if pc.empty:
        return "No promotional calendar: the forecast is empty."
    m = pc.set_index("phase")
    main = m.loc["main event"]
    text = (f"The main event runs {main['start']:%a %d %b} to {main['end']:%a %d %b} "
            f"({fmt_money(main['expected_revenue'], currency)} expected)")
    before = [f"a teaser from {m.loc['teaser', 'start']:%d %b}" if "teaser" in m.index else "",
              "early access for top customers" if "early access" in m.index else ""]
    before = [b for b in before if b]
    # a window that opens on its peak leaves no room for the phases before it: say so instead
    text += (", preceded by " + " and ".join(before) if before
             else ", with no teaser or early access: the window opens too close to its peak")
    if "last chance" in m.index:
        text += f"; the last-chance push ends {m.loc['last chance', 'end']:%a %d %b}"
    if pc.attrs.get("views", 1) == 0:
        return text + (". Send days are the phase start days: there are no product views in the year before the "
                       "cutoff (events table), which would let them favour the weekday people browse most.")
    return text + ". Send days favour the weekday with the most product views."


def show_promo(pc: pd.DataFrame, currency: str):
    t = pc.copy()
    for c in ("start", "end", "send_day"):
        t[c] = pd.to_datetime(t[c]).dt.strftime("%a %d %b")
    return format_table(t, money=["expected_revenue"], currency=currency)


# --------------------------------------------------------------------------------------------
# Artifacts and headline


def skipped_sections(tr: TargetResult, br: BudgetResult, funnel: Any = None) -> dict[str, str]:
    """Sections of the plan left out for want of config or data -> the sentence the report shows
    instead (the shape of the personalize step's ``skipped``): ``past_seasons`` (no past season
    with sales), ``response_curves``, ``budget`` and ``funnel`` (given the :func:`funnel_table`
    result)."""
    out: dict[str, str] = {}
    if tr.history_note:
        out["past_seasons"] = tr.history_note
    out.update(br.skipped)
    if funnel is not None and not isinstance(funnel, pd.DataFrame):
        out["funnel"] = str(getattr(funnel, "data", funnel))
    return out


def step_notes(hist: PlanHistory, cf: F.CampaignForecast, br: BudgetResult,
               skipped: dict[str, str] | None = None) -> list[str]:
    """Notes for the index page: history and forecast fallbacks, budget caveats and the sentence
    of each skipped section."""
    return [*hist.notes, *cf.notes, *br.notes, *(skipped or {}).values()]


def write_artifacts(ctx, cf: F.CampaignForecast, tr: TargetResult, br: BudgetResult, pc: pd.DataFrame,
                    cal: pd.DataFrame, skipped: dict[str, str] | None = None) -> pd.DataFrame:
    """Write the plan artifacts; returns a table of what was written. ``skipped``
    (:func:`skipped_sections`) goes into ``plan.json``; by default the budget's and targets' own."""
    out = artifacts_dir(ctx.output_dir)
    paths = [write_artifact(cf.forecast, ctx.output_dir, "forecast"),
             write_artifact(tr.targets, ctx.output_dir, "targets"),
             write_artifact(br.plan, ctx.output_dir, "budget_plan"),
             write_artifact(br.pacing, ctx.output_dir, "pacing")]
    if br.model is not None:  # the media model's per-channel estimates with their 90 % intervals
        paths.append(write_artifact(model_table(br), ctx.output_dir, "media_model"))
    table = PR.calendar_table(pc, cal)
    paths.append(atomic_write(out / "calendar.csv", lambda t: table.to_csv(t, index=False, encoding="utf-8")))
    paths.append(write_artifact(plan_summary(ctx.cfg, cf, tr, br, skipped), ctx.output_dir, "plan"))
    return pd.DataFrame({"artifact": [p.name for p in paths], "bytes": [p.stat().st_size for p in paths]})


def plan_summary(cfg, cf: F.CampaignForecast, tr: TargetResult, br: BudgetResult,
                 skipped: dict[str, str] | None = None) -> dict:
    """Structured headline numbers of the plan (``plan.json``) for the retrospective.

    ``targets_configured`` is False when the campaign file sets no targets (the target is the
    forecast); ``skipped`` (only when a section was skipped): section -> the sentence saying what
    is missing (default :func:`skipped_sections` without the funnel)."""
    r = cf.total("revenue")
    o = cf.total("orders")
    feas = tr.feasibility.set_index("metric") if not tr.feasibility.empty else pd.DataFrame()
    out: dict[str, Any] = {
        "campaign": cfg.slug,
        "window": [str(cfg.season.start), str(cfg.season.end)],
        "forecast_revenue": float(r["mean"].sum()) if not r.empty else 0.0,
        "forecast_orders": float(o["mean"].sum()) if not o.empty else 0.0,
        "model": cf.model,
        "backtest": F.backtest_numbers(cf),
        "revenue_target": float(feas.loc["revenue", "target"]) if "revenue" in feas.index else None,
        "revenue_target_verdict": str(feas.loc["revenue", "verdict"]) if "revenue" in feas.index else None,
        "budget": dict(zip(br.plan["channel"], br.plan["budget"].astype(float), strict=True)),
        "budget_expected_revenue": br.plan.attrs.get("totals", {}),
        "budget_gain_vs_last_season": list(br.plan.attrs["gain"]) if "gain" in br.plan.attrs else None,
        "budget_objective": br.plan.attrs.get("objective"),
        "earlier_retrospective": br.retro.attrs.get("campaign") if not br.retro.empty else None,
        "earlier_forecast_bias": tr.bias,  # as applied: the earlier bias x its countries' share here
        "earlier_forecast_bias_share": tr.bias_share,
        "earlier_budget_caps": {r.channel: float(r.max_budget_used) for r in br.retro.itertuples() if r.capped},
        "media_lifts": [{"channel": lf.channel, "kind": lf.kind, "source": lf.source,
                         "start": str(pd.Timestamp(lf.start).date()), "end": str(pd.Timestamp(lf.end).date())}
                        for lf in (br.model.lifts if br.model else [])],
        "targets_configured": tr.configured,
        "notes": cf.notes + br.notes,
    }
    skipped = skipped_sections(tr, br) if skipped is None else skipped
    if skipped:
        out["skipped"] = skipped
    return out


def headline(past: pd.DataFrame, cf: F.CampaignForecast, tr: TargetResult, br: BudgetResult, currency: str,
             skipped: dict[str, str] | None = None) -> dict:
    """Key numbers for the index page; no budget or ROAS figure when no budget is split, and the
    ``skipped`` sections (:func:`skipped_sections`) named in one row."""
    out = H.plan_headline(past, currency, past.attrs.get("no_sales_short", "no sales found"))
    r = cf.total("revenue")
    out["forecast revenue"] = fmt_money(r["mean"].sum(), currency) if not r.empty else "no forecast"
    n = F.backtest_numbers(cf)
    if n:
        out["backtest MASE (model / seasonal naive)"] = f"{n['mase_model']:.2f} / {n['mase_naive']:.2f}" + (
            "" if n["backed"] else f" ({n['folds']} fold(s): too few to compare)")
    if not tr.feasibility.empty and "revenue" in set(tr.feasibility["metric"]):
        f = tr.feasibility.set_index("metric").loc["revenue"]
        out["revenue target"] = (f"{fmt_money(f['target'], currency)} ({f['verdict']})" if tr.configured else
                                 f"{fmt_money(f['target'], currency)} (the forecast: no target set)")
    if not br.retro.empty:
        out["shaped by retrospective of"] = br.retro.attrs.get("campaign_name", "an earlier campaign")
    t = br.plan.attrs.get("totals", {})
    if t.get("last_season") and t.get("optimised", 0) > 0 and "budget" not in br.skipped:
        out["budget split gain vs last season's"] = _gain_headline(br.plan, currency)
    if skipped:
        out["sections skipped"] = ", ".join(k.replace("_", " ") for k in skipped)
    return out


def _gain_headline(plan: pd.DataFrame, currency: str) -> str:
    """The optimised split's gain over last season's, with its 90 % interval across draws (or "not
    distinguishable from zero" when that interval spans 0)."""
    t = plan.attrs.get("totals", {})
    pct = fmt_pct(t["optimised"] / t["last_season"] - 1)
    if "gain" not in plan.attrs:
        return pct
    mean, low, high = plan.attrs["gain"]
    span = f"{fmt_money(mean, currency)} (90 % interval {fmt_money(low, currency)} to {fmt_money(high, currency)})"
    if not plan.attrs.get("distinguishable"):
        return f"{pct}, {span}: not distinguishable from zero"
    return f"{pct}, {span}"


# --------------------------------------------------------------------------------------------
# Earlier retrospectives


def published_root(output_dir: str | Path) -> Path:
    """Folder of published reports for a step's ``output_dir``.

    The runner's staging folder ``<root>/.staging/<slug>-<stamp>`` and an interactive run's
    ``<root>/_interactive/<slug>`` map to ``<root>``; any other folder to its parent (a published
    ``<root>/<slug>``).
    """
    parent = Path(output_dir).parent
    return parent.parent if parent.name in (".staging", "_interactive") else parent


def earlier_retrospective(cfg, output_dir: str | Path | None = None,
                          reports_root: str | Path | None = None) -> EarlierRetro:
    """Find the earlier retrospective that shapes this plan (rules in :mod:`playbook.planning.lessons`).

    Parameters
    ----------
    output_dir : path, optional
        This step's report folder (``ctx.output_dir``); the search root is :func:`published_root`
        of it. Default: the parent of ``cfg.output_dir``.
    reports_root : path, optional
        Search this folder of published reports instead. This campaign's own slug is excluded.
    """
    if reports_root is not None:
        root = Path(reports_root)
    else:
        root = published_root(output_dir) if output_dir is not None else Path(cfg.output_dir).parent
    found = find_retrospectives(root, exclude=cfg.slug) if root.is_dir() else []
    chosen, others = LS.select_retrospective(found, cfg.season.start, cfg.countries)
    table = model = None
    if chosen is not None and chosen.get("artifacts_dir"):
        table = read_artifact(Path(chosen["artifacts_dir"]).parent, "next_budget.parquet")
        model = read_artifact(Path(chosen["artifacts_dir"]).parent, "media_model.parquet")
    return EarlierRetro(root, chosen, others, LS.retro_next_budget(chosen, table), LS.retro_forecast_bias(chosen),
                        LS.retro_media_model(chosen, model), LS.retro_lifts(chosen))


def describe_earlier(er: EarlierRetro, cfg) -> str:
    """Which earlier retrospective this plan uses, what it found, and its lessons (Markdown)."""
    if er.summary is None:
        return (f"No earlier retrospective applies (none published under `{er.root.name}/` for a campaign that "
                f"ended before {cfg.season.start:%d %b %Y} and shares a country with this one), so targets and "
                "budget below come from this season's forecast and the configured bounds alone.")
    c = er.summary["campaign"]
    rev = er.summary.get("revenue") or {}
    text = (f"This plan uses the retrospective of **{er.name}** ({', '.join(c.get('countries', []))}, "
            f"{pd.Timestamp(c['start']):%d %b %Y} to {pd.Timestamp(c['end']):%d %b %Y})")
    if rev.get("actual") is not None and rev.get("target") is not None:
        text += (f": revenue {fmt_money(rev['actual'], c.get('currency', cfg.currency))} against a target of "
                 f"{fmt_money(rev['target'], c.get('currency', cfg.currency))}")
        if rev.get("forecast"):
            text += f" and a forecast of {fmt_money(rev['forecast'], c.get('currency', cfg.currency))}"
    text += (". It shapes the targets (the base level is corrected by that campaign's forecast error, when the "
             "forecast was the plan's own) and the budget (its recommended split is shown beside ours; channels "
             f"whose marginal ROAS interval it found wholly below {LS.RETRO_MROAS_FLOOR:g} are capped at it; the "
             "experiments that calibrated its media model calibrate this plan's too, when it covered the same "
             "countries).")
    lessons = LS.retro_lessons([er.summary, *er.others])
    if not lessons.empty:
        text += "\n\nLessons recorded by earlier retrospectives:\n" + "\n".join(
            f"- {r.lesson} ({r.campaign})" for r in lessons.head(10).itertuples())
    return text


def describe_target_lessons(tr: TargetResult, er: EarlierRetro, currency: str) -> str:
    """How the earlier retrospective shaped the targets (Markdown)."""
    return LS.describe_retro_targets(er.bias, er.summary, tr.feasibility, currency, tr.bias_share)


def describe_budget_lessons(br: BudgetResult, er: EarlierRetro, currency: str) -> str:
    """How the earlier retrospective shaped the budget (Markdown; empty when no budget is split)."""
    if "budget" in br.skipped:
        return ""
    if er.summary is None:
        return "No earlier retrospective applies, so the channel bounds are the configured ones."
    text = LS.describe_retro_budget(br.retro, er.name, currency, plan=br.plan)
    if "spend" in LS.incomplete_parts(er.summary):  # describe_retro_budget says it measured no return
        return text
    tag = f"({er.name} retrospective)"
    used = [f"{lf.kind} {lf.source.removesuffix(tag).strip()}" for lf in (br.model.lifts if br.model else [])
            if lf.source.endswith(tag)]
    return text + "\n\n" + LS.describe_retro_model(er.media_model, er.lifts, er.name, used)


def describe_budget_notes(br: BudgetResult) -> str:
    """Fallbacks and extrapolation warnings of the budget section (Markdown)."""
    if not br.notes:
        return "" if "budget" in br.skipped else "All planned daily spends lie within the range seen in the history."
    return "**Caveats:** " + " ".join(br.notes)
