"""The retrospective step (``notebooks/05_retrospective.ipynb``): what happened against forecast
and target, what worked, and where next season's money should go. One call per notebook cell.

The analytics live in their domains; this module wires them to the run context, collects the
results into small objects that later cells pass on whole, formats the tables, draws the
lessons, and writes the step's artifacts and headline numbers:

* :mod:`playbook.planning.history`: the window against the same weekdays a year earlier;
* :mod:`playbook.planning.accuracy`: actual against forecast and target, forecast accuracy, the
  gap waterfall and the seasonal-naive fallback forecast;
* :mod:`playbook.media.paths` and :mod:`playbook.media.attribution`: touch paths and the seven
  attribution models;
* :mod:`playbook.experiments.incrementality`: holdout experiments against channel spend;
* :mod:`playbook.media.efficiency`: attributed ROAS, CPA and CAC; the media model of daily orders
  (:mod:`playbook.media.mmm`) fitted up to the season's end and calibrated by the season's
  holdouts, with intervals; next season's budget on its draws;
* :mod:`playbook.customers.lifecycle`: new against returning buyers, lifecycle movement;
* :mod:`playbook.media.tracking`: the tracking audit.

Comparable period
    Figures against last year (the window 364 days earlier) only when the data covers that
    window: the first order must come on or before its first day
    (:func:`playbook.planning.accuracy.no_comparable_period`). Otherwise the last-year columns are
    NaN (a dash), the sentence says "no comparable period: orders start on ..., last year's window
    is ... to ...", and the headline has no "revenue vs last year".
Forecast
    The plan step's ``forecast.parquet`` when present and covering the window
    (:func:`load_forecast`). Without it (01_plan did not run into this folder, or its forecast is
    short) the seasonal-naive baseline of :mod:`playbook.planning.accuracy` is scored instead and
    labelled as such everywhere (the sentence, the table's source, the headline "baseline MAPE");
    it needs last year's window in the data, and without that window there is no forecast, target
    or accuracy at all: the section shows the actual revenue and says why. Either way the
    retrospective records that the plan's forecast is missing (``incomplete["forecast"]``), so no
    later plan takes a forecast-bias lesson from it.
Spend
    ROAS, response curves, marginal ROAS, the budget split and its expected gain only from spend
    > 0 (:mod:`playbook.media.efficiency`). With no spend in the window the section says why
    (:data:`playbook.media.efficiency.NO_SPEND_IN_DATA` when the data has none at all), no split is
    recommended, and ``incomplete["spend"]`` keeps later plans from capping channels on it.
Artifacts
    ``attribution.parquet``, ``incrementality.parquet``, ``next_budget.parquet`` and
    ``summary.json`` (:func:`campaign_summary`, with ``incomplete`` and ``skipped``: what is
    missing and why), which the plan step of a later campaign reads
    through :func:`playbook.planning.lessons.find_retrospectives` (rules in :mod:`playbook.planning.lessons`). The data
    flow between steps is described in ``docs/architecture.md``.

The module runs past 600 lines because the notebook is long: one result object and a few
display helpers per section, plus the lessons and the archive; no analytics live here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.artifacts import read_artifact, write_artifact
from playbook.config.campaign import CampaignConfig
from playbook.customers import lifecycle
from playbook.data.aggregates import daily_sales
from playbook.data.needs import Needs
from playbook.experiments import incrementality as holdouts
from playbook.forecasting.user_events import series_events
from playbook.media import attribution as attribution_models
from playbook.media import efficiency as spend_efficiency
from playbook.media import lifts as media_lifts
from playbook.media import mmm, tracking
from playbook.media import paths as journeys
from playbook.planning import accuracy as forecast_accuracy
from playbook.planning import history
from playbook.report.format import fmt_money, fmt_pct, format_table
from playbook.steps.context import StepContext, order_days

#: ``forecast_source`` sentence when the plan step's own forecast is reviewed (see :func:`campaign_summary`).
PLAN_FORECAST_SOURCE = "The forecast is the plan step's (forecast.parquet, written before the season)."
#: ``incomplete["forecast"]`` when the accuracy section scored the seasonal-naive baseline.
NO_PLAN_FORECAST = ("no plan forecast for this campaign: the accuracy figures judge a seasonal-naive baseline "
                    "computed in the retrospective")
#: Breakdowns of the gap to target: label shown in the report -> dimension of the accuracy tables.
GAP_BREAKDOWNS: dict[str, str] = {"order channel": "channel", "category": "category", "country": "country"}
#: What each breakdown needs beyond customers and orders (checked before it is drawn).
BREAKDOWN_NEEDS: dict[str, Needs] = {
    "order channel": Needs("The gap by order channel", columns=("orders.channel",)),
    "category": Needs("The gap by category", tables=("order_items", "products")),
    "country": Needs("The gap by country", columns=("customers.country",)),
}
#: Columns of the incrementality table shown in the report, and their formats.
INCREMENTALITY_VIEW = ["experiment_id", "channel", "n_exposed", "n_holdout", "conv_rate_exposed",
                       "conv_rate_holdout", "lift_abs", "lift_lo", "lift_hi", "incremental_revenue",
                       "incremental_revenue_lo", "incremental_revenue_hi", "iroas", "iroas_lo", "iroas_hi",
                       "last_touch_roas", "shapley_roas", "note"]


# --------------------------------------------------------------------------------------------
# Result objects: one per section, passed whole to the later cells
# --------------------------------------------------------------------------------------------
@dataclass
class Forecast:
    """The forecast reviewed: the plan step's revenue rows, or None for the seasonal-naive baseline.

    Attributes
    ----------
    frame : DataFrame or None
        ``metric == "revenue"`` rows of ``forecast.parquet`` (``day, dimension, value, mean,
        lo80, hi80, lo95, hi95``); None when the baseline is computed instead.
    source : str
        A sentence on where the forecast came from (shown in the report and in ``summary.json``).
    """

    frame: pd.DataFrame | None
    source: str


@dataclass
class Accuracy:
    """Actual against forecast and target in total and by breakdown.

    Attributes
    ----------
    daily : DataFrame
        :func:`playbook.planning.accuracy.actual_vs_forecast` of the total (daily and cumulative).
    total : DataFrame
        :func:`playbook.planning.accuracy.accuracy_table` of the total (one row, ``value == "all"``).
    by : dict of str to DataFrame
        The same per breakdown, keyed by the labels of :data:`GAP_BREAKDOWNS`.
    gaps : DataFrame
        :func:`playbook.planning.accuracy.gap_waterfall_data` of the breakdowns.
    forecast_source : str
        :attr:`Forecast.source`.
    skipped : dict of str to str
        Parts not computed, and why (``"forecast_accuracy"``: no forecast at all;
        ``"gap_by_order_channel"``: no last-year channel mix to split the plan's total by).
    """

    daily: pd.DataFrame
    total: pd.DataFrame
    by: dict[str, pd.DataFrame]
    gaps: pd.DataFrame
    forecast_source: str
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class Attribution:
    """Touch paths of the window, the credit each model gives each channel, and the spend it is
    set against (loaded once here: incrementality, efficiency and the audit all use it).

    Attributes
    ----------
    paths : PathData
        :func:`playbook.media.paths.build_paths` with the config's lookback and path length.
    credit : DataFrame
        :func:`playbook.media.attribution.attribute` (long: ``model, channel, conversions,
        revenue, new_customers, share``).
    spend : DataFrame
        :func:`playbook.media.efficiency.daily_spend` of the window (``day, channel, spend, ...``).
    agreement : DataFrame
        Rank agreement with the planted contributions (empty for real data).
    """

    paths: journeys.PathData
    credit: pd.DataFrame
    spend: pd.DataFrame
    agreement: pd.DataFrame


@dataclass
class Media:
    """Spend efficiency of the season and next season's budget.

    Attributes
    ----------
    efficiency : DataFrame
        Attributed (not incremental) ROAS, CPA and CAC per channel (Shapley credit).
    spend : DataFrame
        Daily spend per channel over the model's history (``day, channel, spend``).
    model : MediaModel or None
        The media model of daily orders up to the season's end, calibrated by the season's holdouts.
    curve_table : DataFrame
        :func:`playbook.media.efficiency.model_table`: incremental ROAS and marginal ROAS with intervals.
    calibration : DataFrame
        :meth:`playbook.media.mmm.MediaModel.calibration`: estimates before and after the holdouts.
    budget : DataFrame
        Recommended split of ``budget.total`` against repeating this season's split
        (``attrs["gain"]``: expected extra incremental revenue, ``attrs["gain_interval"]`` its 90 %).
    truth : DataFrame
        Rank agreement of the efficiency measures with the planted iROAS, ``attrs["marginal"]`` the
        model's marginal ROAS against the planted one (empty for real data).
    skipped : str or None
        Why curves and the budget split were not computed (no spend in the window), or None.
    budget_skipped : str or None
        Why only the budget split was not computed (no budget or channels in the config), or None.
    lift_notes : list of str
        Lift results of the campaign file (``media.lifts``) the model could not use, and why.
    """

    efficiency: pd.DataFrame
    spend: pd.DataFrame
    model: mmm.MediaModel | None
    curve_table: pd.DataFrame
    calibration: pd.DataFrame
    budget: pd.DataFrame
    truth: pd.DataFrame
    skipped: str | None = None
    budget_skipped: str | None = None
    lift_notes: list[str] = field(default_factory=list)


@dataclass
class Customers:
    """New against returning buyers of the window and lifecycle movement across it.

    Attributes
    ----------
    new_vs_returning : DataFrame
        :func:`playbook.customers.lifecycle.new_vs_returning`.
    movement : DataFrame
        :func:`playbook.customers.lifecycle.lifecycle_movement` (state at start x state at end).
    target_new : int or None
        The config's ``targets.new_customers``.
    """

    new_vs_returning: pd.DataFrame
    movement: pd.DataFrame
    target_new: int | None


@dataclass
class Review:
    """Everything the retrospective found, collected once for the lessons, artifacts and headline.

    Attributes
    ----------
    yoy : DataFrame
        :func:`window_vs_last_year` (total).
    decisions : DataFrame
        The test step's verdicts (:func:`read_test_decisions`).
    lessons : list of str
        :func:`highlights` of the other fields.
    currency : str
        ISO code of every money amount.
    not_reviewed : str or None
        Why there is nothing to review (the season starts after the data's last order), or None.
    data_ends : str or None
        Sentence when the data ends inside the season (figures cover it only up to then), or None.
    """

    yoy: pd.DataFrame
    accuracy: Accuracy
    attribution: Attribution
    incrementality: pd.DataFrame
    media: Media
    customers: Customers
    audit: tracking.TrackingAudit
    decisions: pd.DataFrame
    lessons: list[str]
    currency: str
    not_reviewed: str | None = None
    data_ends: str | None = None

    @property
    def incomplete(self) -> dict[str, str]:
        """What a later plan must not learn from, and why: ``forecast`` (the plan's forecast was
        not reviewed), ``spend`` (no spend: no returns, no split), ``last_year`` (no comparable
        period). Empty when the retrospective is complete."""
        out: dict[str, str] = {}
        if self.accuracy.forecast_source != PLAN_FORECAST_SOURCE:
            out["forecast"] = self.accuracy.skipped.get("forecast_accuracy", NO_PLAN_FORECAST)
        if self.media.skipped:
            out["spend"] = self.media.skipped
        if self.yoy.attrs.get("no_comparison"):
            out["last_year"] = str(self.yoy.attrs["no_comparison"])
        if self.not_reviewed:
            out["season"] = self.not_reviewed
        return out

    @property
    def skipped(self) -> dict[str, str]:
        """Sections not computed, and why (section -> sentence; as the personalize step records them)."""
        out: dict[str, str] = {}
        if self.yoy.attrs.get("no_comparison"):
            out["comparison_with_last_year"] = str(self.yoy.attrs["no_comparison"])
        out.update(self.accuracy.skipped)
        if self.media.skipped:
            out["spend_efficiency_and_budget"] = self.media.skipped
        elif self.media.budget_skipped:
            out["budget_split"] = self.media.budget_skipped
        return out


# --------------------------------------------------------------------------------------------
# This season against the same window last year
# --------------------------------------------------------------------------------------------
def no_comparable_period(ctx: StepContext) -> str | None:
    """Why last year's window cannot be compared (first order day from the engine), or None when
    the data covers it (:func:`playbook.planning.accuracy.no_comparable_period`)."""
    return forecast_accuracy.no_comparable_period(history.first_sale_day(ctx.wh), ctx.cfg.season.start,
                                                  ctx.cfg.season.end)


def window_vs_last_year(ctx: StepContext, by: str | None = None) -> pd.DataFrame:
    """Revenue, orders and AOV of the window against the weekday-aligned window a year earlier
    (``by="channel"``: per order channel).

    Without a comparable period the ``last_year`` and ``change`` columns are NaN (undefined, shown
    as a dash) and ``attrs["no_comparison"]`` holds the sentence saying why.
    """
    if by == "channel" and ctx.wh.lacks("orders", "channel"):  # every order is "unknown": the total again
        return pd.DataFrame(columns=["channel", "metric", "this_year", "last_year", "change"])
    out = history.window_vs_last_year(ctx.wh, ctx.cfg.season.start, ctx.cfg.season.end, by=by)
    gap = no_comparable_period(ctx)
    if gap:
        out[["last_year", "change"]] = np.nan
        out.attrs["no_comparison"] = gap
    return out


def daily_vs_last_year(ctx: StepContext) -> pd.DataFrame:
    """Daily and cumulative revenue of the window and of the same weekdays a year earlier (last
    year's columns NaN, and ``attrs["no_comparison"]``, without a comparable period)."""
    out = history.daily_window_comparison(ctx.wh, ctx.cfg.season.start, ctx.cfg.season.end)
    gap = no_comparable_period(ctx)
    if gap:
        out[["last_year", "cum_last_year"]] = np.nan
        out.attrs["no_comparison"] = gap
    return out


def plot_window_comparison(daily: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Cumulative revenue of this season against last year (:func:`daily_vs_last_year`; chart);
    this season alone without a comparable period."""
    fig = history.plot_window_comparison(daily, currency)
    if daily.attrs.get("no_comparison"):
        ax = fig.axes[0]
        for line in [ln for ln in ax.lines if ln.get_label() == "same weekdays last year"]:
            line.remove()
        ax.legend(loc="upper left", frameon=False)
        ax.set_title("Cumulative net revenue through the campaign window (no comparable period last year)")
    return fig


def describe_window_chart(daily: pd.DataFrame) -> str:
    """One sentence on what the window chart shows (Markdown)."""
    if daily.attrs.get("no_comparison"):
        return f"The line is this season's cumulative revenue; {daily.attrs['no_comparison']}."
    return "The solid line is this season's cumulative revenue; the dashed line the same weekdays one year earlier."


def describe_yoy(yoy: pd.DataFrame, currency: str = "USD") -> str:
    """Sentence on the window against last year, or on the window alone without a comparable
    period (Markdown)."""
    gap = yoy.attrs.get("no_comparison")
    if not gap:
        return history.describe_yoy(yoy, currency)
    rev, orders = (yoy[yoy["metric"] == m].iloc[0] for m in ("revenue", "orders"))
    if rev["this_year"] == 0 and orders["this_year"] == 0:
        return f"No sales were recorded in the campaign window (yet): there is nothing to review; {gap}."
    return (f"The window brought {fmt_money(rev['this_year'], currency)} from {int(orders['this_year']):,} orders. "
            f"There is no year-over-year figure: {gap}.")


# --------------------------------------------------------------------------------------------
# Actual against forecast and target
# --------------------------------------------------------------------------------------------
def load_forecast(ctx: StepContext) -> Forecast:
    """The plan step's revenue forecast of the window, if its artifact covers the window.

    Reads ``forecast.parquet`` from the run's output folder; when it is missing, lacks columns
    or does not cover every day of the window, :attr:`Forecast.frame` is None and the
    seasonal-naive baseline is used (the sentence says why).
    """
    fc = read_artifact(ctx.output_dir, "forecast.parquet")
    need = {"day", "metric", "dimension", "value", "mean"}
    if fc is None:
        return Forecast(None, "The plan step's forecast artifact was not found, so the forecast is a seasonal-naive "
                              "baseline computed here (each day = the same weekday a year earlier).")
    if not need <= set(fc.columns):
        return Forecast(None, f"The plan step's forecast artifact lacks columns {sorted(need - set(fc.columns))}; "
                              "a seasonal-naive baseline computed here is used instead.")
    fc = fc[fc["metric"] == "revenue"].copy()
    fc["day"] = pd.to_datetime(fc["day"]).dt.tz_localize(None).astype("datetime64[ns]")
    s0, s1 = forecast_accuracy.season_window(ctx.cfg)
    tot = fc[fc["dimension"] == "total"]
    if tot.empty or not set(forecast_accuracy.day_range(s0, s1)) <= set(tot["day"]):
        return Forecast(None, "The plan step's forecast does not cover every day of the window; a seasonal-naive "
                              "baseline computed here is used instead.")
    return Forecast(fc, PLAN_FORECAST_SOURCE)


def accuracy(ctx: StepContext, forecast: Forecast) -> Accuracy:
    """Actual against forecast and target: daily in total, season totals and accuracy in total
    and by order channel, category and country, and the gap to target per breakdown value.

    Without the plan's forecast and without last year's window in the data there is nothing to
    score: the actual revenue only, and ``skipped["forecast_accuracy"]`` says why. With the plan's
    forecast but no last year, the order-channel breakdown (split by last year's channel mix) is
    left out.
    """
    wh, cfg = ctx.wh, ctx.cfg
    first = history.first_sale_day(wh)
    gap = forecast_accuracy.no_comparable_period(first, cfg.season.start, cfg.season.end)
    if forecast.frame is None and gap:
        reason = f"no plan forecast for this campaign, and {gap}, so there is no seasonal-naive baseline either"
        daily = forecast_accuracy.actual_without_forecast(wh, cfg)
        total = forecast_accuracy.accuracy_table(daily, {})
        total.attrs["source"] = "none"
        source = (f"No forecast to compare with: {reason}. Run 01_plan into the same report folder before the "
                  "season to review its forecast here.")
        return Accuracy(daily, total, {}, forecast_accuracy.gap_waterfall_data({}), source,
                        {"forecast_accuracy": reason})
    skipped: dict[str, str] = {}
    breakdowns = dict(GAP_BREAKDOWNS)
    if gap:
        del breakdowns["order channel"]
        skipped["gap_by_order_channel"] = ("the plan forecasts no order channel, and its total cannot be split by "
                                           f"last year's channel mix: {gap}")
    for label, why in BREAKDOWN_NEEDS.items():  # a breakdown by a value the data lacks is one bar "unknown"
        missing = why.missing(wh)
        if label in breakdowns and missing:
            del breakdowns[label]
            skipped[f"gap_by_{label.replace(' ', '_')}"] = f"the data has no {' and '.join(missing)}"
    daily = forecast_accuracy.actual_vs_forecast(wh, cfg, forecast=forecast.frame)
    total = forecast_accuracy.accuracy_table(daily, forecast_accuracy.mase_scales(wh, cfg, data_start=first))
    total.attrs["source"] = daily.attrs.get("source", "")
    by = {label: forecast_accuracy.accuracy_by(wh, cfg, forecast.frame, dim, data_start=first)
          for label, dim in breakdowns.items()}
    return Accuracy(daily, total, by, forecast_accuracy.gap_waterfall_data(by), forecast.source, skipped)


def plot_actual_vs_forecast(acc: Accuracy, currency: str = "USD") -> plt.Figure:
    """Daily and cumulative actual, forecast and target revenue of the window."""
    return forecast_accuracy.plot_actual_vs_forecast(acc.daily, currency)


def plot_gap_waterfall(acc: Accuracy, currency: str = "USD") -> plt.Figure:
    """Where the gap to target came from, one waterfall per breakdown; without any breakdown the
    chart says why (no forecast, or the data lacks channel, category and country)."""
    why = "No target to compare with"
    if "forecast_accuracy" not in acc.skipped:
        reasons = [f"by {k.removeprefix('gap_by_').replace('_', ' ')}: {v}" for k, v in acc.skipped.items()
                   if k.startswith("gap_by_")]
        why = "\n".join(["No breakdown of the gap to target", *reasons])
    return forecast_accuracy.plot_gap_waterfall(acc.gaps, currency, empty=why)


def accuracy_table(acc: Accuracy, currency: str = "USD") -> Any:
    """Season totals against forecast and target with the forecast's accuracy (formatted)."""
    return format_table(acc.total, money=["actual", "forecast", "target", "gap_to_target"],
                        pct=["vs_forecast", "mape", "coverage80", "coverage95"], currency=currency)


def gap_table(acc: Accuracy, currency: str = "USD") -> Any:
    """Gap to target per breakdown value (formatted)."""
    return format_table(acc.gaps, money=["target", "actual", "gap"], currency=currency)


def describe_vs_target(acc: Accuracy, currency: str = "USD") -> str:
    """Sentence on the season against forecast and target, where the forecast came from, and how the
    category breakdown's refunds line was set when the plan's split was given expected refunds (Markdown)."""
    cat = acc.by.get("category")
    rate = cat.attrs.get("refund_rate") if cat is not None else None
    return forecast_accuracy.describe_vs_target(acc.total, acc.gaps, acc.forecast_source, currency, refund_rate=rate)


# --------------------------------------------------------------------------------------------
# Attribution
# --------------------------------------------------------------------------------------------
def attribution(ctx: StepContext) -> Attribution:
    """Touch paths (config's lookback, path length, half-life), all seven models, the window's
    spend, and the check against planted contributions when the data is synthetic."""
    cfg, a = ctx.cfg, ctx.cfg.attribution
    paths = journeys.build_paths(ctx.wh, cfg.season.start, cfg.season.end, lookback_days=a.lookback_days,
                                           max_path_length=a.max_path_length, half_life_days=a.half_life_days)
    credit = attribution_models.attribute(paths, a.markov_order, seed=ctx.seed)
    spend = spend_efficiency.daily_spend(ctx.wh, cfg.season.start, cfg.season.end)
    agreement = attribution_models.planted_agreement(credit, paths, ctx.source.location)
    return Attribution(paths, credit, spend, agreement)


def describe_paths(attr: Attribution) -> str:
    """Sentence on the orders with touches and the journeys without an order (Markdown)."""
    return journeys.describe_paths(attr.paths)


def plot_attribution(attr: Attribution, currency: str = "USD") -> plt.Figure:
    """Revenue credited to each channel by each model."""
    return attribution_models.plot_attribution(attr.credit, currency)


def attribution_table(attr: Attribution) -> Any:
    """Share of the window's attributed conversions per channel (rows) and model (columns)."""
    return format_table(attribution_models.comparison_table(attr.credit, "share"), pct=list(attribution_models.MODELS))


def top_paths_table(attr: Attribution, currency: str = "USD", n: int = 10) -> Any:
    """The ``n`` most common converting paths with revenue and conversion rate (formatted)."""
    return format_table(journeys.top_paths(attr.paths.paths, n), money=["revenue"],
                        pct=["conversion_rate"], ints=["conversions"], currency=currency)


def agreement_table(attr: Attribution) -> pd.DataFrame:
    """Each model's rank correlation with the planted contributions (empty for real data)."""
    return attr.agreement


def describe_attribution(attr: Attribution) -> str:
    """Sentences on how the models disagree and how they match the planted truth (Markdown)."""
    return (attribution_models.describe_attribution(attr.credit, attr.agreement) + " "
            + attribution_models.describe_agreement(attr.agreement))


# --------------------------------------------------------------------------------------------
# Incrementality from the holdout
# --------------------------------------------------------------------------------------------
def incrementality(ctx: StepContext, attr: Attribution) -> pd.DataFrame:
    """:func:`playbook.experiments.incrementality.incrementality` of every configured holdout,
    against the window's spend per channel and the attributed credit."""
    return holdouts.incrementality(ctx.wh, ctx.cfg, spend_efficiency.spend_by_channel(attr.spend), attr.credit)


def incrementality_table(inc: pd.DataFrame, currency: str = "USD") -> Any:
    """The holdout estimates for the report (formatted; columns of :data:`INCREMENTALITY_VIEW`)."""
    return format_table(inc[INCREMENTALITY_VIEW],
                        pct=["conv_rate_exposed", "conv_rate_holdout", "lift_abs", "lift_lo", "lift_hi"],
                        money=["incremental_revenue", "incremental_revenue_lo", "incremental_revenue_hi"],
                        ints=["n_exposed", "n_holdout"], currency=currency)


#: Sentence per holdout (Markdown).
describe_incrementality = holdouts.describe_incrementality


# --------------------------------------------------------------------------------------------
# Spend efficiency and next season's budget
# --------------------------------------------------------------------------------------------
#: Years of daily history before the season's end the media model is fitted on (as the plan's).
MODEL_YEARS = 3
#: Draws of the media model (bootstrap refits).
MODEL_DRAWS = 200


def model_history(ctx: StepContext) -> tuple[pd.Series, pd.DataFrame, float, dict[str, float]]:
    """Daily sale orders of the campaign's countries over :data:`MODEL_YEARS` years up to the season's end
    (from the first day with orders), the daily spend over the same days, the average order value and
    the countries' order shares."""
    cfg = ctx.cfg
    start = cfg.season.end - dt.timedelta(days=int(365.25 * MODEL_YEARS))
    countries = [c.upper() for c in cfg.countries]
    bc = daily_sales(ctx.wh, start, cfg.season.end, by=("country",))
    bc = bc[bc["country"].isin(countries)]
    total = bc.groupby("day")[["orders", "gross_revenue"]].sum()
    if total.empty or total["orders"].sum() <= 0:
        return pd.Series(dtype=float), spend_efficiency.daily_spend(ctx.wh, start, cfg.season.end), 0.0, {}
    total = total[total.index >= total.index[total["orders"] > 0].min()]
    aov = float(total["gross_revenue"].sum() / total["orders"].sum())
    spend = spend_efficiency.daily_spend(ctx.wh, total.index.min().date(), cfg.season.end)
    weights = (bc.groupby("country")["orders"].sum() / bc["orders"].sum()).to_dict()
    return total["orders"].astype(float), spend, aov, {str(k): float(v) for k, v in weights.items()}


def fit_model(ctx: StepContext, inc: pd.DataFrame) -> tuple[mmm.MediaModel | None, pd.DataFrame]:
    """The media model on :func:`model_history`, calibrated by the season's holdouts with a channel
    (:func:`playbook.media.efficiency.season_lifts`) and the campaign file's lift results
    (:func:`model_lifts`); None with 60 days or fewer, or without spend."""
    model, spend, _ = _fit_model(ctx, inc)
    return model, spend


def model_lifts(ctx: StepContext, inc: pd.DataFrame, days: pd.Index,
                fitted: list[str]) -> tuple[list[mmm.Lift], list[str]]:
    """The lifts calibrating the retrospective's model: the season's holdouts on a fitted channel, then the
    campaign file's lift results (``media.lifts``) whose window lies wholly inside the model's ``days`` on a
    fitted channel (:func:`playbook.media.lifts.usable_lifts`); and a sentence per lift result left out."""
    lifts = spend_efficiency.season_lifts(inc, ctx.cfg.season.start, ctx.cfg.season.end, fitted)
    results = getattr(getattr(ctx.cfg, "media", None), "lifts", None) or []
    if not results:
        return lifts, []
    extra, notes = media_lifts.usable_lifts(media_lifts.config_lifts(results), days.min(), days.max(), fitted,
                                            "the retrospective's history (up to the season's end)")
    return lifts + extra, notes


def _fit_model(ctx: StepContext, inc: pd.DataFrame) -> tuple[mmm.MediaModel | None, pd.DataFrame, list[str]]:
    """:func:`fit_model` with the notes of :func:`model_lifts`."""
    y, spend, aov, weights = model_history(ctx)
    chans = list(ctx.cfg.channels) or sorted(spend["channel"].unique()) if not spend.empty else []
    if len(y) <= 60 or aov <= 0 or spend.empty or not spend["channel"].isin(chans).any():
        return None, spend, []
    fitted = sorted(set(chans) & set(spend.loc[spend["spend"] > 0, "channel"]))
    lifts, notes = model_lifts(ctx, inc, y.index, fitted)
    events = series_events(getattr(ctx.cfg, "events", None), ctx.cfg.countries)  # the shop's promotions
    model = mmm.fit_media_model(y, spend, chans, aov=aov, countries=ctx.cfg.countries, weights=weights, lifts=lifts,
                                events=events, draws=MODEL_DRAWS, seed=int(getattr(ctx, "seed", 0) or 0))
    return model, spend, notes


def media(ctx: StepContext, attr: Attribution, inc: pd.DataFrame | None = None) -> Media:
    """Attributed efficiency per channel, the media model of daily orders calibrated by the season's
    holdouts (``inc``: :func:`incrementality`, computed when not given), the recommended split of next
    season's budget on its draws, and the check of both against planted truth."""
    eff = spend_efficiency.channel_efficiency(attr.spend, attr.credit, list(ctx.cfg.channels) or None)
    reason = spend_efficiency.no_spend_reason(ctx.wh, attr.spend, ctx.cfg.season.start, ctx.cfg.season.end)
    empty_table = spend_efficiency.model_table(None)
    if reason:  # no return can be measured on zero spend, and no split recommended from it
        budget = pd.DataFrame({"channel": pd.Series(dtype=str), "recommended": pd.Series(dtype=float)})
        return Media(eff, attr.spend.iloc[0:0], None, empty_table, pd.DataFrame(), budget,
                     spend_efficiency.truth_check(eff.iloc[0:0], empty_table, ctx.source.location), reason)
    model, spend, lift_notes = _fit_model(ctx, incrementality(ctx, attr) if inc is None else inc)
    table = spend_efficiency.model_table(model)
    cal = model.calibration() if model is not None else pd.DataFrame()
    budget = spend_efficiency.recommend_for_config(model, attr.spend, ctx.cfg)
    truth = spend_efficiency.truth_check(eff, table, ctx.source.location)
    return Media(eff, spend, model, table, cal, budget, truth, budget_skipped=budget.attrs.get("skipped"),
                 lift_notes=lift_notes)


def efficiency_table(m: Media, currency: str = "USD") -> Any:
    """Spend, attributed conversions and revenue, attributed ROAS, CPA and CAC per channel (formatted;
    attributed, not incremental)."""
    t = m.efficiency.rename(columns={"roas": "attributed_roas", "revenue": "attributed_revenue"})
    return format_table(t, money=["spend", "attributed_revenue", "cpa", "cac"], currency=currency)


def plot_response_curves(m: Media, currency: str = "USD") -> plt.Figure:
    """The media model's response curves with their 90 % bands."""
    bands = m.model.curve_bands() if m.model is not None else pd.DataFrame()
    return spend_efficiency.plot_curve_bands(bands, m.spend, currency,
                                             "Response curves of the media model, calibrated by the holdouts")


def _ratios(styled: Any, df: pd.DataFrame) -> Any:
    """Two decimals for the ROAS columns of a formatted table."""
    cols = [c for c in df.columns if "roas" in c]
    return styled.format("{:.2f}", subset=cols, na_rep="–") if cols and hasattr(styled, "format") else styled


def curve_table(m: Media, currency: str = "USD") -> Any:
    """Incremental contribution, ROAS and marginal ROAS per channel with 90 % intervals (formatted)."""
    t = m.curve_table
    return _ratios(format_table(t, money=[c for c in t.columns if c.startswith(("contribution", "mean_daily"))],
                                currency=currency), t)


def calibration_view(m: Media, currency: str = "USD") -> Any:
    """:func:`calibration_table` formatted (the lift as money, ratios with two decimals)."""
    t = calibration_table(m)
    if t.empty:  # describe_calibration says there is no holdout to calibrate with
        return None
    return _ratios(format_table(t, money=["lift"], currency=currency), t)


def calibration_table(m: Media) -> pd.DataFrame:
    """Each channel's ROAS and marginal ROAS before and after the holdouts and the campaign file's lift
    results entered the fit (rows with a lift; empty without)."""
    if m.calibration.empty:
        return m.calibration
    return m.calibration[m.calibration["lift"].notna()].reset_index(drop=True)


#: Said when neither a holdout nor a lift result of the campaign file calibrates the model.
NOT_CALIBRATED = ("No holdout measured a modelled channel this season and the campaign file gives no lift result "
                  "(media.lifts) the model can use: the media model is not calibrated.")


def describe_calibration(m: Media) -> str:
    """Sentence on each calibrated channel's estimate before and after calibration by the season's
    holdouts and the campaign file's lift results, and the lift results left out (Markdown)."""
    if m.skipped or m.model is None:
        return ""
    text = spend_efficiency.describe_calibration(m.calibration, NOT_CALIBRATED)
    return text + (" " + " ".join(m.lift_notes) if m.lift_notes else "")


def describe_curves(m: Media) -> str:
    """Sentence on the media model's marginal ROAS with intervals (Markdown)."""
    if m.skipped:
        return f"No response curves: {m.skipped}."
    return spend_efficiency.describe_model(m.curve_table)


def plot_budget(m: Media, currency: str = "USD") -> plt.Figure | None:
    """This season's split, repeating it, and the recommended split per channel (None when there
    is no split: :func:`describe_budget` says why, no empty chart is drawn)."""
    if m.skipped or m.budget_skipped:
        return None
    return spend_efficiency.plot_budget(m.budget, currency)


def budget_table(m: Media, currency: str = "USD") -> Any:
    """Next season's budget per channel against repeating this season's split (formatted; None
    when there is no split)."""
    if m.skipped or m.budget_skipped:
        return None
    money = [c for c in ("this_season_spend", "repeat_split", "recommended", "change", "expected_revenue_repeat",
                         "expected_revenue_recommended", "expected_revenue_recommended_low",
                         "expected_revenue_recommended_high", "min_budget", "max_budget") if c in m.budget.columns]
    return _ratios(format_table(m.budget, money=money, currency=currency), m.budget)


def describe_budget(m: Media, currency: str = "USD") -> str:
    """Sentence on the recommended shift and its expected gain, or why there is none (Markdown)."""
    reason = m.skipped or m.budget_skipped
    if reason:
        return reason[0].upper() + reason[1:] + "."
    return spend_efficiency.describe_budget(m.budget, currency)


def describe_truth_check(m: Media) -> str:
    """Sentence on the efficiency measures against planted iROAS (Markdown)."""
    return spend_efficiency.describe_truth_check(m.truth)


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------
def customers(ctx: StepContext) -> Customers:
    """New against returning buyers of the window and lifecycle movement across it."""
    start, end = ctx.cfg.season.start, ctx.cfg.season.end
    return Customers(lifecycle.new_vs_returning(ctx.wh, start, end), lifecycle.lifecycle_movement(ctx.wh, start, end),
                     ctx.cfg.targets.new_customers)


def new_vs_returning_table(c: Customers, currency: str = "USD") -> Any:
    """New and returning buyers with early repeat rate and revenue (formatted)."""
    return format_table(c.new_vs_returning, money=["revenue", "revenue_per_customer"], pct=["repeat_rate"],
                        ints=["customers", "repeaters"], currency=currency)


def describe_customers(c: Customers) -> str:
    """Sentence on new customers against the target and their early repeat rate (Markdown)."""
    return lifecycle.describe_customers(c.new_vs_returning, c.target_new)


def movement_table(c: Customers) -> pd.DataFrame:
    """Customers by lifecycle state at the start (rows) and end (columns) of the window."""
    return c.movement


def describe_movement(c: Customers) -> str:
    """Sentence on first purchases, reactivations and lapses (Markdown)."""
    return lifecycle.describe_movement(c.movement)


# --------------------------------------------------------------------------------------------
# Tracking audit
# --------------------------------------------------------------------------------------------
def tracking_audit(ctx: StepContext, attr: Attribution) -> tracking.TrackingAudit:
    """Every tracking check of the window (:func:`playbook.media.tracking.tracking_audit`)."""
    return tracking.tracking_audit(ctx.wh, ctx.cfg.season.start, ctx.cfg.season.end, list(ctx.cfg.channels),
                                   attr.paths.no_touch, attr.spend, attr.credit)


#: Sentence on the tracking checks (Markdown).
describe_audit = tracking.describe_audit


# --------------------------------------------------------------------------------------------
# Lessons, archive and headline
# --------------------------------------------------------------------------------------------
def read_test_decisions(output_dir: str | Path | None) -> pd.DataFrame:
    """The test step's verdicts (``experiment_decisions.json``) as ``experiment_id, decision``; empty if absent."""
    raw = read_artifact(output_dir, "experiment_decisions.json") if output_dir is not None else None
    rows = []
    if isinstance(raw, Mapping):
        for exp_id, d in raw.items():
            if isinstance(d, Mapping):
                verdict, reason = d.get("verdict", "no result"), d.get("reason", "")
                rows.append({"experiment_id": str(exp_id), "decision": f"{verdict}" + (f" ({reason})" if reason else "")})
    return pd.DataFrame(rows, columns=["experiment_id", "decision"])


def highlights(*, accuracy_total: pd.DataFrame, efficiency: pd.DataFrame, incrementality: pd.DataFrame,
               new_vs_returning: pd.DataFrame, gaps: pd.DataFrame, budget: pd.DataFrame,
               decisions: pd.DataFrame | None = None, movement: pd.DataFrame | None = None,
               currency: str = "USD") -> list[str]:
    """Generated lessons: best/worst channel, holdouts, segments, tests and budget, with numbers.

    Parameters
    ----------
    accuracy_total, gaps : DataFrame
        :attr:`Accuracy.total` and :attr:`Accuracy.gaps`.
    efficiency, budget : DataFrame
        :attr:`Media.efficiency` and :attr:`Media.budget`.
    incrementality : DataFrame
        :func:`incrementality`.
    new_vs_returning, movement : DataFrame
        :attr:`Customers.new_vs_returning` and :attr:`Customers.movement`.
    decisions : DataFrame, optional
        The test step's verdicts (:func:`read_test_decisions`).
    """
    out: list[str] = []
    if not accuracy_total.empty and pd.notna(accuracy_total.iloc[0]["gap_to_target"]):
        r = accuracy_total.iloc[0]
        word = "above" if r["gap_to_target"] >= 0 else "below"
        out.append(f"Revenue {fmt_money(r['actual'], currency)}: {fmt_money(abs(r['gap_to_target']), currency)} {word} "
                   f"the target of {fmt_money(r['target'], currency)}.")
    eff = efficiency.dropna(subset=["roas"]) if not efficiency.empty else efficiency
    if len(eff) >= 2:
        best, worst = eff.sort_values("roas").iloc[-1], eff.sort_values("roas").iloc[0]
        out.append(f"Best channel by attributed (not incremental) ROAS: {best['channel']} ({best['roas']:.1f}); "
                   f"worst: {worst['channel']} ({worst['roas']:.1f}).")
    for _, r in incrementality.iterrows():
        if pd.notna(r.get("iroas")):
            out.append(f"Holdout {r['experiment_id']}: iROAS {_iroas_text(r)} vs attributed last-touch ROAS "
                       f"{r['last_touch_roas']:.1f}.")
    if not gaps.empty:
        for dim, g in gaps.groupby("dimension"):
            if len(g) < 2:  # one country (or channel): "weakest" and "strongest" would be the same
                continue
            w, b = g.sort_values("gap").iloc[0], g.sort_values("gap").iloc[-1]
            out.append(f"By {dim}: weakest against target {w['value']} ({fmt_money(w['gap'], currency)}), "
                       f"strongest {b['value']} ({fmt_money(b['gap'], currency)}).")
    if not new_vs_returning.empty:
        n = new_vs_returning.set_index("group")
        out.append(f"{int(n.loc['new', 'customers']):,} new customers; early repeat {n.loc['new', 'repeat_rate']:.1%} "
                   f"vs {n.loc['returning', 'repeat_rate']:.1%} for returning buyers.")
    if movement is not None and int(movement.to_numpy().sum()) > 0:
        out.append(lifecycle.describe_movement(movement))
    if decisions is not None and not decisions.empty and {"experiment_id", "decision"} <= set(decisions.columns):
        for _, r in decisions.iterrows():
            out.append(f"Test {r['experiment_id']}: {r['decision']}.")
    if not budget.empty and np.isfinite(budget.attrs.get("gain", np.nan)):
        gain = spend_efficiency.describe_gain(budget, currency).replace("**", "")
        out.append(f"Recommended next-season split is expected to add {gain} of incremental revenue over repeating "
                   "this season's split" + (": not distinguishable from zero." if spend_efficiency.gain_spans_zero(
                       budget) else "."))
    return out


def _iroas_text(r: Any) -> str:
    """A holdout's iROAS with its 95 % interval, "not distinguishable from zero" when it spans 0."""
    lo, hi = float(r.get("iroas_lo", np.nan)), float(r.get("iroas_hi", np.nan))
    text = f"{r['iroas']:.1f} (95 % CI {lo:.1f} to {hi:.1f})"
    return text + ", not distinguishable from zero" if lo <= 0 <= hi or not (np.isfinite(lo) and np.isfinite(hi)) \
        else text


def review(ctx: StepContext, *, yoy: pd.DataFrame, accuracy: Accuracy, attribution: Attribution,
           incrementality: pd.DataFrame, media: Media, customers: Customers,
           audit: tracking.TrackingAudit) -> Review:
    """Collect the step's results, read the test step's verdicts and draw the lessons."""
    decisions = read_test_decisions(ctx.output_dir)
    lessons = highlights(accuracy_total=accuracy.total, efficiency=media.efficiency, incrementality=incrementality,
                         new_vs_returning=customers.new_vs_returning, gaps=accuracy.gaps, budget=media.budget,
                         decisions=decisions, movement=customers.movement, currency=ctx.cfg.currency)
    not_reviewed, data_ends = season_coverage(ctx)
    return Review(yoy, accuracy, attribution, incrementality, media, customers, audit, decisions, lessons,
                  ctx.cfg.currency, not_reviewed, data_ends)


def coverage_note(ctx: StepContext) -> str:
    """The page's opening sentence when the data does not cover the season (empty when it does):
    nothing to review yet, or figures only up to the data's last order (Markdown)."""
    not_reviewed, data_ends = season_coverage(ctx)
    if not_reviewed:
        return f"**Nothing to review yet:** {not_reviewed}. The sections below show empty windows."
    return f"**{data_ends}**" if data_ends else ""


def season_coverage(ctx: StepContext) -> tuple[str | None, str | None]:
    """``(not_reviewed, data_ends)``: why there is nothing to review (the season starts after the
    data's last order), and a sentence when the data ends inside the season; None when not so."""
    _, last = order_days(ctx.wh)
    start, end = ctx.cfg.season.start, ctx.cfg.season.end
    window = f"{start:%d %b %Y} to {end:%d %b %Y}"
    if last is None or last < start:
        when = f"the data's last order ({last:%d %b %Y})" if last else "any order in the data"
        return (f"the season ({window}) starts after {when}: there is nothing to review yet; run the "
                "retrospective once the season's orders are in the data", None)
    if last < end:
        return None, (f"The data ends on {last:%d %b %Y}, before the season's end: every figure covers the "
                      f"season only up to then.")
    return None, None


def lessons_markdown(rv: Review) -> str:
    """Bullet list of the generated lessons (Markdown)."""
    return "\n".join(f"- {s}" for s in rv.lessons) if rv.lessons else "No lessons could be drawn: no data in the window."


def _records(df: pd.DataFrame, cols: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of the ``cols`` present in ``df`` as JSON-ready dicts (NaN -> None)."""
    if df.empty:
        return []
    keep = [c for c in cols if c in df.columns]
    return list(json.loads(df[keep].to_json(orient="records")))


def model_lift_records(model: mmm.MediaModel | None) -> list[dict[str, Any]]:
    """The lifts that calibrated the media model (holdouts and the campaign file's lift results), as JSON
    records ``channel, start, end, incremental, se, unit, source, kind`` for a later plan
    (:func:`playbook.planning.lessons.retro_lifts`); empty without a model or lifts."""
    if model is None:
        return []
    return [{"channel": lf.channel, "start": str(pd.Timestamp(lf.start).date()),
             "end": str(pd.Timestamp(lf.end).date()), "incremental": float(lf.incremental), "se": float(lf.se),
             "unit": lf.unit, "source": lf.source, "kind": lf.kind} for lf in model.lifts]


def campaign_summary(cfg: CampaignConfig, rv: Review) -> dict[str, Any]:
    """Structured, JSON-ready summary of the campaign (archived as ``artifacts/summary.json``).

    The plan step of a later campaign reads it (see :func:`playbook.planning.lessons.find_retrospectives` and the
    rules in :mod:`playbook.planning.lessons`): ``campaign`` (season dates, countries),
    ``revenue`` (season actual, forecast, target), ``gap_drivers`` (actual against target per
    breakdown value, :func:`playbook.planning.accuracy.gap_waterfall_data`), ``forecast_from_plan`` (True when ``forecast``
    is the plan step's own, so its bias says something about the model), ``next_budget``,
    ``media_model`` (per-channel estimates with intervals), ``lifts`` (:func:`model_lift_records`: the
    experiments that calibrated that model, which calibrate the next plan's fit too) and ``lessons``, ``incomplete`` (:attr:`Review.incomplete`: the parts a later plan must not use,
    and why) and ``skipped`` (:attr:`Review.skipped`: sections not computed, and why). Undefined
    numbers are null, never NaN or 0.
    """
    acc, credit, budget = rv.accuracy, rv.attribution.credit, rv.media.budget
    tot = acc.total.iloc[0].to_dict() if not acc.total.empty else {}
    return {
        "kind": "retrospective",
        "campaign": {"slug": cfg.slug, "name": cfg.name, "start": str(cfg.season.start), "end": str(cfg.season.end),
                     "countries": list(cfg.countries), "currency": cfg.currency},
        "revenue": {k: tot.get(k) for k in ("actual", "forecast", "target", "gap_to_target", "vs_forecast",
                                             "mape", "mase", "coverage80", "coverage95")},
        "gap_drivers": _records(acc.gaps, ["dimension", "value", "target", "actual", "gap"]),
        "forecast_source": acc.forecast_source,
        "forecast_from_plan": acc.forecast_source == PLAN_FORECAST_SOURCE,
        "attribution_share": {m: dict(zip(g["channel"], g["share"].round(4), strict=True))
                              for m, g in credit.groupby("model")} if not credit.empty else {},
        "channels": _records(rv.media.efficiency, ["channel", "spend", "conversions", "revenue", "roas", "cpa", "cac"]),
        "incrementality": _records(rv.incrementality, ["experiment_id", "channel", "lift_abs", "lift_lo", "lift_hi",
                                                       "incremental_revenue", "iroas", "iroas_lo", "iroas_hi",
                                                       "last_touch_roas"]),
        "next_budget": _records(budget, ["channel", "repeat_split", "recommended", "marginal_roas_recommended",
                                         "marginal_roas_recommended_lo", "marginal_roas_recommended_hi"]),
        "next_budget_expected_gain": float(budget.attrs.get("gain", np.nan)) if not budget.empty else None,
        "next_budget_expected_gain_interval": list(budget.attrs["gain_interval"]) if "gain_interval" in budget.attrs
        else None,
        "media_model": _records(rv.media.curve_table, spend_efficiency.MODEL_COLUMNS),
        "lifts": model_lift_records(rv.media.model),
        "customers": _records(rv.customers.new_vs_returning, ["group", "customers", "repeat_rate", "revenue"]),
        "tracking": _records(rv.audit.summary, ["check", "value", "detail"]),
        "lessons": list(rv.lessons),
        "notes": list(rv.attribution.paths.notes),
        "incomplete": rv.incomplete,
        "skipped": rv.skipped,
    }


def write_artifacts(ctx: StepContext, rv: Review) -> pd.DataFrame:
    """Write ``attribution.parquet``, ``incrementality.parquet``, ``next_budget.parquet`` (with the
    marginal ROAS interval a later plan caps on), ``media_model.parquet`` (the media model's per-channel
    estimates with 90 % intervals) and ``summary.json`` (:func:`campaign_summary`) into ``<output_dir>/artifacts``; return what was
    written (file, rows)."""
    b = rv.media.budget.copy()
    b.attrs = {}
    credit, inc = rv.attribution.credit, rv.incrementality
    written = [(write_artifact(credit, ctx.output_dir, "attribution"), len(credit)),
               (write_artifact(inc, ctx.output_dir, "incrementality"), len(inc)),
               (write_artifact(b, ctx.output_dir, "next_budget"), len(b)),
               (write_artifact(rv.media.curve_table, ctx.output_dir, "media_model"), len(rv.media.curve_table)),
               (write_artifact(campaign_summary(ctx.cfg, rv), ctx.output_dir, "summary"), 1)]
    return pd.DataFrame([(p.name, n) for p, n in written], columns=["artifact", "rows"]).set_index("artifact")


def headline(rv: Review) -> dict[str, str]:
    """Headline numbers for the index page: the window against last year, the gap to target,
    forecast error, holdout iROAS, new customers and the budget gain."""
    if rv.not_reviewed:
        return {"skipped": rv.not_reviewed}
    out = history.retro_headline(rv.yoy, rv.currency)
    acc_total, currency = rv.accuracy.total, rv.currency
    if not acc_total.empty:
        r = acc_total.iloc[0]
        if pd.notna(r["gap_to_target"]):
            out["gap to target"] = fmt_money(r["gap_to_target"], currency)
        if pd.notna(r["mape"]):
            label = ("forecast MAPE (daily)" if rv.accuracy.forecast_source == PLAN_FORECAST_SOURCE
                     else "baseline MAPE (daily, seasonal naive)")
            out[label] = fmt_pct(r["mape"])
    for _, r in rv.incrementality.iterrows():
        if pd.notna(r.get("iroas")):
            out[f"{r['channel']} iROAS (holdout)"] = _iroas_text(r)
    nvr = rv.customers.new_vs_returning
    if not nvr.empty:
        out["new customers"] = f"{int(nvr.set_index('group').loc['new', 'customers']):,}"
    if not rv.media.budget.empty and np.isfinite(rv.media.budget.attrs.get("gain", np.nan)):
        b = rv.media.budget
        out["next budget: expected gain"] = spend_efficiency.describe_gain(b, currency).replace("**", "") + (
            ": not distinguishable from zero" if spend_efficiency.gain_spans_zero(b) else "")
    return out


def notes(rv: Review) -> list[str]:
    """Notes for the index page: where the forecast came from, what the paths dropped, the lift results
    of the campaign file the media model could not use, and the sections skipped for missing data (one
    sentence each)."""
    skipped = [f"Skipped {name.replace('_', ' ')}: {reason}." for name, reason in rv.skipped.items()
               if name != "forecast_accuracy"]  # the forecast source already says it
    if rv.not_reviewed:
        return [rv.not_reviewed[0].upper() + rv.not_reviewed[1:] + "."]
    ends = [rv.data_ends] if rv.data_ends else []
    return [*ends, rv.accuracy.forecast_source, *rv.attribution.paths.notes, *rv.media.lift_notes, *skipped]
