"""The in-season tracking step (``notebooks/06_track.ipynb``): where the season stands on a given day.

Run during the season with ``playbook run CONFIG --only track --as-of YYYY-MM-DD`` (an optional
step: a run without ``--only`` never runs it). The page answers, as of that day (a calendar day of
the campaign's time zone, inclusive):

1. actual revenue and orders to date against the plan's forecast to date (with its interval) and
   the target to date, with a cumulative chart;
2. spend to date per paid channel against the plan's pacing to date;
3. the projected landing of the season with an interval, against the season target.

The computations, and the method of the projection, are in :mod:`playbook.media.inseason`; this
module wires them to the run context, reads the plan's artifacts (``forecast.parquet``,
``targets.parquet``, ``pacing.parquet``, ``plan.json``) from the report folder, aggregates the raw
tables in the engine (daily sales by :func:`playbook.data.aggregates.daily_sales`, daily spend by
:func:`playbook.media.efficiency.daily_spend`), and words the page. Without the plan's forecast the
page shows the actual to date, says that the plan must run first, and records the step as skipped
(no seasonal-naive stand-in: a forecast made now, knowing the season so far, is not the plan).

The as-of day arrives as the notebook parameter ``as_of`` (Papermill injects it after the cell
tagged ``parameters``: https://papermill.readthedocs.io/en/latest/usage-parameterize.html); empty
means the data's last day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from playbook.artifacts import read_artifact, write_artifact
from playbook.data.aggregates import daily_sales
from playbook.media import efficiency
from playbook.media import inseason as IS
from playbook.paths import resolve
from playbook.report.format import fmt_int, fmt_money, fmt_pct, format_table
from playbook.steps.context import StepContext, default_output_dir, order_days, start_step

STEP = "06_track"
#: Columns of the spend table the pacing section reads.
SPEND_NEEDS = ("date", "channel", "spend")
#: Shown when the plan step has not written its forecast into the report folder.
NO_PLAN = ("The plan step has not run into this report folder (artifacts/forecast.parquet is missing): there is no "
           "forecast or target to track against. Run `playbook run CONFIG --only plan` (before the season), then "
           "track again.")


def start_track(config_path: str, data_source: str = "", output_dir: str = "", seed: int = 42) -> StepContext:
    """:func:`playbook.steps.context.start_step` for the track step: checks the parameters, loads the
    config, connects to the data, checks the orders and customers tables (at least one order), sets
    the campaign's day zone and the chart theme."""
    return start_step(STEP, config_path, data_source, output_dir, seed)


def as_of(ctx: StepContext, value: Any) -> IS.AsOf:
    """The as-of day of this run (:func:`playbook.media.inseason.resolve_as_of`) from the ``as_of`` parameter.

    Raises
    ------
    ConfigError
        Not a date, or before the season starts.
    DataError
        The data ends before the season starts.
    """
    _, last = order_days(ctx.wh)
    return IS.resolve_as_of(IS.parse_as_of(value), ctx.cfg.season.start, ctx.cfg.season.end, last)


def describe_as_of(ctx: StepContext, asof: IS.AsOf) -> str:
    """The page's opening sentence: the day tracked, how far into the season, and the notes (Markdown)."""
    c = ctx.cfg
    text = (f"**As of {asof.day:%d %b %Y}** — day {asof.days_counted} of {asof.season_days} of {c.name} "
            f"({c.season.start:%d %b %Y} to {c.season.end:%d %b %Y}, days in {c.timezone}). Figures count every "
            f"day from the season's start to {asof.counted_to:%d %b %Y}, both included.")
    return text + "".join(f"\n\n> {n}" for n in asof.notes)


# --------------------------------------------------------------------------------------------
# The plan's artifacts
# --------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """The plan's artifacts read from the report folder; ``missing`` says why there is no forecast."""

    forecast: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    pacing: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    missing: str | None = None


def _plan_folders(ctx: StepContext) -> list[Path]:
    """Where the plan's artifacts are looked for: the run's folder; for an interactive run (no
    ``output_dir``) also the published report ``reports/<slug>``."""
    folders = [ctx.output_dir]
    if ctx.output_dir == default_output_dir(ctx.cfg):
        folders.append(resolve(ctx.cfg.output_dir))
    return folders


def load_plan(ctx: StepContext) -> Plan:
    """Read the plan's ``forecast``, ``targets``, ``pacing`` and ``plan.json``; check they are this season's."""
    folder = next((f for f in _plan_folders(ctx) if (f / "artifacts" / "forecast.parquet").is_file()), None)
    if folder is None:
        return Plan(missing=NO_PLAN)
    summary = read_artifact(folder, "plan.json", default={}) or {}
    window = [str(ctx.cfg.season.start), str(ctx.cfg.season.end)]
    if summary.get("window") and list(summary["window"]) != window:
        return Plan(summary=summary, missing=(
            f"The plan's artifacts are for the window {' to '.join(map(str, summary['window']))}, not this season "
            f"({' to '.join(window)}): the campaign file changed since the plan ran. Rerun `--only plan`, then track."))
    fc = read_artifact(folder, "forecast.parquet")
    if not IS.covers(IS.forecast_total(fc, "revenue"), ctx.cfg.season.start, ctx.cfg.season.end):
        return Plan(summary=summary, missing=(
            "The plan's forecast (forecast.parquet) lacks columns or does not cover every day of the season "
            f"({IS.LEVEL} % interval columns lo{IS.LEVEL}/hi{IS.LEVEL} needed). Rerun `--only plan`, then track."))
    return Plan(fc, read_artifact(folder, "targets.parquet"), read_artifact(folder, "pacing.parquet"), summary)


# --------------------------------------------------------------------------------------------
# 1. Actual to date against forecast and target
# --------------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Revenue and orders to date, the projected landing, and the cumulative revenue by day."""

    actual: dict[str, float]
    to_date: dict[str, IS.ToDate] = field(default_factory=dict)
    landing: dict[str, IS.Landing] = field(default_factory=dict)
    cumulative: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: str | None = None


def daily_actual(ctx: StepContext, asof: IS.AsOf) -> pd.DataFrame:
    """Daily net revenue and orders of the season's days up to the counted day (summed in the engine)."""
    return daily_sales(ctx.wh, asof.season_start, asof.counted_to)[["day", "revenue", "orders"]]


def progress(plan: Plan, daily: pd.DataFrame, asof: IS.AsOf) -> Progress:
    """Actual against forecast and target to date, and the projected landing, for revenue and orders."""
    actual = {m: IS.actual_to_date(daily, m, asof) for m in ("revenue", "orders")}
    if plan.missing:
        return Progress(actual, missing=plan.missing)
    out = Progress(actual)
    for metric in ("revenue", "orders"):
        fc = IS.forecast_total(plan.forecast, metric)
        if not IS.covers(fc, asof.season_start, asof.season_end):
            continue
        target = IS.season_target(plan.targets, metric)
        td = IS.to_date(fc, actual[metric], metric, asof, target)
        out.to_date[metric] = td
        out.landing[metric] = IS.landing(fc, td, asof)
        if metric == "revenue":
            out.cumulative = IS.cumulative(fc, daily, metric, asof, target)
    return out


def _fmt(metric: str, value: float | None, currency: str) -> str:
    return fmt_money(value, currency) if metric == "revenue" else fmt_int(value)


def _ratio(a: float, b: float | None) -> str:
    return fmt_pct(a / b) if b else "–"


def describe_to_date(pr: Progress, asof: IS.AsOf, currency: str = "USD") -> str:
    """One paragraph: revenue and orders to date against forecast (interval) and target to date."""
    if pr.missing:
        return (f"Revenue to date is {fmt_money(pr.actual['revenue'], currency)} from "
                f"{fmt_int(pr.actual['orders'])} orders. **{pr.missing}**")
    parts = []
    for metric, td in pr.to_date.items():
        where = ("inside" if td.forecast.low <= td.actual <= td.forecast.high else
                 "below" if td.actual < td.forecast.low else "above")
        target = (f" and a target to date of {_fmt(metric, td.target, currency)} ({_ratio(td.actual, td.target)} "
                  "of it)" if td.target is not None else " (the plan sets no target)")
        parts.append(f"{metric.capitalize()} to {asof.counted_to:%d %b}: **{_fmt(metric, td.actual, currency)}**, "
                     f"against a forecast to date of {_fmt(metric, td.forecast.mean, currency)} "
                     f"({IS.LEVEL} % interval {_fmt(metric, td.forecast.low, currency)} to "
                     f"{_fmt(metric, td.forecast.high, currency)}; actual is {where} it, at "
                     f"{_ratio(td.actual, td.forecast.mean)} of the forecast){target}.")
    return " ".join(parts) + (" The target to date is the season target times the forecast's share to date, so "
                              "both follow the same daily shape.")


def to_date_table(pr: Progress, currency: str = "USD") -> Any:
    """Revenue and orders: actual, forecast (interval) and target to date, and the ratios."""
    rows = []
    for metric, td in pr.to_date.items():
        rows.append({"Measure": metric.capitalize(), "Actual to date": _fmt(metric, td.actual, currency),
                     "Forecast to date": _fmt(metric, td.forecast.mean, currency),
                     f"Forecast {IS.LEVEL} % interval": f"{_fmt(metric, td.forecast.low, currency)} to "
                                                       f"{_fmt(metric, td.forecast.high, currency)}",
                     "Target to date": _fmt(metric, td.target, currency),
                     "Actual / forecast": _ratio(td.actual, td.forecast.mean),
                     "Actual / target": _ratio(td.actual, td.target)})
    return format_table(pd.DataFrame(rows)) if rows else None


def plot_cumulative(pr: Progress, asof: IS.AsOf, currency: str = "USD") -> plt.Figure:
    """:func:`playbook.media.inseason.plot_cumulative` of the revenue."""
    return IS.plot_cumulative(pr.cumulative, pr.landing.get("revenue"), asof, currency)


# --------------------------------------------------------------------------------------------
# 2. Pacing per channel
# --------------------------------------------------------------------------------------------
@dataclass
class Pacing:
    """Spend to date against the plan's pacing per channel; ``note`` says what is missing."""

    table: pd.DataFrame
    note: str | None = None
    has_spend: bool = True


def _spend_missing(ctx: StepContext, asof: IS.AsOf) -> str | None:
    """Why there is no spend data for the season so far, or None."""
    if not ctx.wh.has("spend"):
        return "No spend data: the data has no spend table (date, channel, spend), so spend cannot be paced."
    absent = [c for c in SPEND_NEEDS if c not in ctx.wh.columns("spend")]
    if absent:
        return f"No spend data: the spend table lacks column(s) {', '.join(absent)}."
    return None


def pacing(ctx: StepContext, plan: Plan, asof: IS.AsOf) -> Pacing:
    """Spend to date per channel (summed in the engine) against the plan's ``pacing.parquet`` to date."""
    plan_ok = plan.pacing is not None and set(IS.PACING_NEEDS) <= set(plan.pacing.columns) and len(plan.pacing) > 0
    planned = plan.pacing if plan_ok and plan.pacing is not None else pd.DataFrame(columns=list(IS.PACING_NEEDS))
    note = None
    if not plan_ok:
        skipped = (plan.summary.get("skipped") or {}).get("budget") if isinstance(plan.summary, dict) else None
        note = skipped or ("No pacing plan: the plan step wrote no pacing.parquet (it has not run, or the campaign "
                           "sets no budget).")
    why = _spend_missing(ctx, asof)
    spend = pd.DataFrame(columns=["day", "channel", "spend"])
    if why is None:
        spend = efficiency.daily_spend(ctx.wh, asof.season_start, asof.counted_to)
        if spend.empty:
            why = (f"No spend data: the spend table has no rows from {asof.season_start:%d %b %Y} to "
                   f"{asof.counted_to:%d %b %Y}.")
    table = IS.pacing_to_date(planned, spend, asof)
    if why is not None:
        table[["spent_to_date", "difference", "pace"]] = float("nan")
        table["status"] = "no spend data"
        note = why if note is None else f"{note} {why}"
    return Pacing(table, note, why is None)


def describe_pacing(pc: Pacing, currency: str = "USD") -> str:
    """Sentence on total spend to date against the plan to date, and which channels are off pace."""
    t = pc.table
    if t.empty:
        return pc.note or "No pacing plan and no spend to compare."
    text = ""
    planned = t["planned_to_date"].sum(min_count=1)
    if pc.has_spend and not planned > 0:
        text = (f"Spend to date is {fmt_money(t['spent_to_date'].sum(), currency)}; there is no pacing plan to "
                "compare it with.")
    elif pc.has_spend:
        text = (f"Spend to date is {fmt_money(t['spent_to_date'].sum(), currency)} against "
                f"{fmt_money(planned, currency)} planned to date ({_ratio(t['spent_to_date'].sum(), planned)}).")
        off = t[t["status"].str.startswith(("ahead", "behind", "not in"))]
        if len(off):
            text += " Off pace (more than " + fmt_pct(IS.PACE_TOLERANCE, 0) + " from the plan to date): " + "; ".join(
                f"**{r.channel}** {r.status} ({_ratio(r.spent_to_date, r.planned_to_date)} of plan)"
                for r in off.itertuples()) + "."
        else:
            text += f" Every planned channel is within {fmt_pct(IS.PACE_TOLERANCE, 0)} of its plan to date."
    return f"{text} {pc.note}".strip() if pc.note else text


def pacing_table(pc: Pacing, currency: str = "USD") -> Any:
    """The pacing table with human headers and money / percentage formats."""
    if pc.table.empty:
        return None
    view = pc.table.rename(columns={
        "channel": "Channel", "season_budget": "Season budget", "planned_to_date": "Planned to date",
        "spent_to_date": "Spent to date", "difference": "Spent − planned", "pace": "Spent / planned",
        "status": "Status"})
    return format_table(view, money=["Season budget", "Planned to date", "Spent to date", "Spent − planned"],
                        pct=["Spent / planned"], currency=currency)


def plot_pacing(pc: Pacing, asof: IS.AsOf, currency: str = "USD") -> plt.Figure | None:
    """Planned against actual spend to date per channel (None without a table)."""
    return IS.plot_pacing(pc.table, asof, currency) if not pc.table.empty else None


# --------------------------------------------------------------------------------------------
# 3. Projected landing
# --------------------------------------------------------------------------------------------
METHOD = (f"How the landing is projected: actual to date plus the plan's forecast of the remaining days, with the "
          f"remaining days' {IS.LEVEL} % interval (days taken as moving together, so their bounds add up); and the "
          "same with the remaining forecast scaled by the pace to date (actual / forecast to date), for the case "
          "that the gap so far persists. The verdict judges the range spanning both intervals: ahead when all of "
          "it is above the season target, behind when all of it is below, otherwise on track, not distinguishable "
          "from the target.")


def _verdict_text(land: IS.Landing, metric: str, currency: str) -> str:
    lo, hi, tgt = (_fmt(metric, v, currency) for v in (land.low, land.high, land.target))
    if land.verdict == IS.AHEAD:
        return f"**ahead of target**: even the low end ({lo}) is above the season target ({tgt})"
    if land.verdict == IS.BEHIND:
        return f"**behind target**: even the high end ({hi}) is below the season target ({tgt})"
    if land.verdict == IS.ON_TRACK:
        side = "above" if land.projected.mean >= (land.target or 0) else "below"
        return (f"**on track, not distinguishable from the target**: the range {lo} to {hi} spans the season "
                f"target ({tgt}); the central projection is {side} it")
    return "no target to compare with (the plan sets none)"


def describe_landing(pr: Progress, currency: str = "USD") -> str:
    """The projected season revenue and orders with their ranges and verdicts (Markdown)."""
    if pr.missing:
        return f"No projection: {pr.missing}"
    parts = []
    for metric, land in pr.landing.items():
        if land.remaining_days == 0:
            parts.append(f"The season is over: {metric} landed at **{_fmt(metric, land.projected.mean, currency)}**, "
                         f"{_verdict_text(land, metric, currency)}.")
            continue
        paced = (f"; at the pace to date, {_fmt(metric, land.paced.mean, currency)}" if land.paced else "")
        parts.append(f"Projected season {metric}: **{_fmt(metric, land.projected.mean, currency)}** "
                     f"({IS.LEVEL} % interval {_fmt(metric, land.projected.low, currency)} to "
                     f"{_fmt(metric, land.projected.high, currency)}{paced}) — {_verdict_text(land, metric, currency)}.")
    return " ".join(parts)


def landing_table(pr: Progress, currency: str = "USD") -> Any:
    """Revenue and orders: actual to date, remaining forecast, projected landing and range, target, verdict."""
    rows = []
    for metric, land in pr.landing.items():
        td = pr.to_date[metric]
        rows.append({"Measure": metric.capitalize(), "Actual to date": _fmt(metric, td.actual, currency),
                     "Days left": fmt_int(land.remaining_days),
                     "Projected landing": _fmt(metric, land.projected.mean, currency),
                     "At the pace to date": _fmt(metric, land.paced.mean if land.paced else None, currency),
                     "Range (both methods)": f"{_fmt(metric, land.low, currency)} to {_fmt(metric, land.high, currency)}",
                     "Season target": _fmt(metric, land.target, currency), "Verdict": land.verdict})
    return format_table(pd.DataFrame(rows)) if rows else None


# --------------------------------------------------------------------------------------------
# Artifacts and headline
# --------------------------------------------------------------------------------------------
def track_summary(asof: IS.AsOf, pr: Progress, pc: Pacing) -> dict[str, Any]:
    """``artifacts/track.json``: the as-of day, the figures to date, the landing and the pacing (aggregates)."""
    out: dict[str, Any] = {
        "as_of": str(asof.day), "requested": str(asof.requested) if asof.requested else None,
        "counted_to": str(asof.counted_to), "days_counted": asof.days_counted, "notes": list(asof.notes),
        "actual": pr.actual, "missing": pr.missing, "interval_level": IS.LEVEL, "metrics": {}}
    for metric, td in pr.to_date.items():
        land = pr.landing[metric]
        out["metrics"][metric] = {
            "actual": td.actual, "forecast": td.forecast.mean, "forecast_low": td.forecast.low,
            "forecast_high": td.forecast.high, "target": td.target, "season_forecast": td.season_forecast,
            "season_target": td.season_target, "projected": land.projected.mean, "projected_low": land.projected.low,
            "projected_high": land.projected.high, "paced": land.paced.mean if land.paced else None,
            "range_low": land.low, "range_high": land.high, "verdict": land.verdict}
    out["pacing"] = pc.table.to_dict(orient="records")
    out["pacing_note"] = pc.note
    return out


def write_artifacts(ctx: StepContext, asof: IS.AsOf, pr: Progress, pc: Pacing) -> pd.DataFrame:
    """Write ``track.json``; returns a table of what was written."""
    path = write_artifact(track_summary(asof, pr, pc), ctx.output_dir, "track")
    return pd.DataFrame({"artifact": [path.name], "bytes": [path.stat().st_size]})


def headline(asof: IS.AsOf, pr: Progress, currency: str = "USD") -> dict[str, str]:
    """Key numbers for the index page."""
    out = {"as of": f"{asof.day:%d %b %Y}", "revenue to date": fmt_money(pr.actual["revenue"], currency)}
    td, land = pr.to_date.get("revenue"), pr.landing.get("revenue")
    if td is not None and land is not None:
        out["vs forecast to date"] = _ratio(td.actual, td.forecast.mean)
        out["projected season revenue"] = (
            f"{fmt_money(land.projected.mean, currency)} ({fmt_money(land.low, currency)} to "
            f"{fmt_money(land.high, currency)})" if land.remaining_days else
            f"{fmt_money(land.projected.mean, currency)} (season over)")
        out["against target"] = land.verdict
    return out


def skipped(pr: Progress) -> str | None:
    """Why the step had nothing to track against (no plan forecast), for the index; None when it had."""
    return pr.missing.rstrip(".") if pr.missing else None


def notes(asof: IS.AsOf, pc: Pacing) -> list[str]:
    """Notes for the index page: the as-of notes and what the pacing lacks."""
    return [*asof.notes, *([pc.note] if pc.note else [])]
