"""Earlier retrospectives: how they shape this plan, and the lessons they recorded.

The retrospective step (05) publishes ``reports/<slug>/artifacts/summary.json`` and
``next_budget.parquet``; :func:`find_retrospectives` lists them. The
plan of a later campaign uses the most recent one that fits (:func:`select_retrospective`) in
two documented ways:

* targets (:func:`retro_forecast_bias`): ``b = actual / forecast - 1`` of that campaign's season
  revenue, when its forecast was the plan step's own, clipped to +-RETRO_BIAS_LIMIT, and weighted
  by the share ``w`` of this season's forecast revenue in the countries that campaign covered
  (:func:`retro_country_share`; an India-only error says little about the US). The revenue
  ``base`` level becomes forecast x (1 + w b) (:func:`playbook.planning.targets.build_targets`),
  and the chance of reaching the target is judged against that corrected forecast with a
  standard deviation of at least ``|w b|`` x forecast
  (:func:`playbook.planning.targets.target_feasibility`). The target itself stays as configured.
* budget (:func:`retro_budget_bounds`): the earlier recommended split is scaled to this
  campaign's total and shown next to the optimised split; a channel whose marginal ROAS at its
  recommended spend the retrospective's media model put wholly below RETRO_MROAS_FLOOR (the upper
  end of its interval, ``marginal_roas_recommended_hi``, below the floor) has its ``max_budget``
  capped at that scaled recommendation (never below its ``min_budget``), unless the caps would
  leave the total unspendable, in which case no cap is applied and the report says so. A point
  estimate below the floor whose interval reaches it, or one recorded without an interval (older
  retrospectives), caps nothing: the model cannot tell that channel's next unit from break-even.
* media model (:func:`retro_media_model`, :func:`retro_lifts`): the plan refits the media model on
  its own, longer history (which holds the earlier season), so the earlier curves are not reused as
  point values; what carries over is their evidence: the lifts that calibrated the earlier model
  (that season's holdouts and lift studies, each a channel's incremental revenue over a window with
  its standard error) calibrate this plan's fit too, when their window lies inside its history
  (:func:`playbook.steps.plan.plan_lifts`), and the plan page states what the earlier model said,
  per channel with its 90 % intervals (:func:`describe_retro_model`).

Incomplete retrospectives (:func:`incomplete_parts`): a retrospective records in
``incomplete`` the parts it could not measure (``forecast``: the plan's forecast was not
reviewed; ``spend``: no media spend, so no returns and no split; ``last_year``: no comparable
period). A part marked incomplete is not used: no forecast bias without the plan's forecast, no
recommended split or channel cap without spend (its "marginal ROAS" would be measured on zero
spend), and no lesson sentence about returns. The plan says so in one sentence
(:func:`describe_unused`, and in :func:`describe_retro_targets` / :func:`describe_retro_budget`).
Summaries written before ``incomplete`` existed are judged by what they hold
(``forecast_from_plan`` false; channels that spent nothing in total).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from playbook.media.mmm import Lift
from playbook.paths import resolve
from playbook.planning.seasons import as_day
from playbook.report.format import fmt_money, fmt_pct

#: Marginal ROAS (revenue per extra unit of spend) below which an earlier recommendation caps a channel.
RETRO_MROAS_FLOOR = 1.0
#: Largest forecast bias (as a fraction) taken over from an earlier campaign.
RETRO_BIAS_LIMIT = 0.5
#: Columns of the budget hand-off table (:func:`retro_budget_bounds`).
RETRO_BUDGET_COLUMNS = ["channel", "earlier_recommended", "earlier_marginal_roas", "earlier_marginal_roas_lo",
                        "earlier_marginal_roas_hi", "max_budget_config", "max_budget_used", "capped"]
#: Columns of the earlier media model read by a plan (:func:`retro_media_model`).
RETRO_MODEL_COLUMNS = ["channel", "mean_daily_spend", "roas_mean", "roas_lo", "roas_hi", "marginal_roas_mean",
                       "marginal_roas_lo", "marginal_roas_hi", "warning"]
#: Columns of the lifts that calibrated the earlier media model (:func:`retro_lifts`).
RETRO_LIFT_COLUMNS = ["channel", "start", "end", "incremental", "se", "unit", "source", "kind"]
#: Columns of the earlier recommended split (:func:`retro_next_budget`).
NEXT_BUDGET_COLUMNS = ["channel", "recommended", "marginal_roas_recommended", "marginal_roas_recommended_lo",
                       "marginal_roas_recommended_hi"]
#: Why a summary without the plan's forecast is not used for the forecast bias (older summaries).
NO_PLAN_FORECAST = "no plan forecast for this campaign"
#: Why a summary whose channels spent nothing is not used for the budget (older summaries).
NO_SPEND = "no media spend in the data"
#: What each incomplete part would have been used for (wording of :func:`describe_unused`).
PART_USES = {"forecast": "the forecast correction of the targets", "spend": "the budget split and channel caps"}
#: Starts of the lesson sentences that rest on spend (dropped from a retrospective without spend).
SPEND_LESSONS = ("Best channel by attributed", "Recommended next-season split")
#: How lessons judged against the target (the plan's forecast) begin: not used from a
#: retrospective that did not have the plan's forecast (it judged a baseline it built itself).
FORECAST_LESSONS = re.compile(r"^(Revenue .*the target of|By \w+: weakest against target)")


def incomplete_parts(summary: Mapping | None) -> dict[str, str]:
    """Parts of a retrospective summary that a later plan must not use, and why.

    Parameters
    ----------
    summary : dict or None
        :func:`playbook.steps.retrospective.campaign_summary`.

    Returns
    -------
    dict of str to str
        Its ``incomplete`` record (``forecast``, ``spend``, ``last_year`` -> sentence), plus, for
        summaries written before that record existed: ``forecast`` when ``forecast_from_plan`` is
        false, ``spend`` when it lists channels and their spend adds up to nothing. Empty for
        None or a complete retrospective.
    """
    if not summary:
        return {}
    raw = summary.get("incomplete")
    out = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    if "forecast" not in out and not summary.get("forecast_from_plan"):
        out["forecast"] = NO_PLAN_FORECAST
    channels = summary.get("channels")
    if "spend" not in out and isinstance(channels, list):
        spent = sum(float(c.get("spend") or 0.0) for c in channels if isinstance(c, Mapping))
        if not np.isfinite(spent) or spent <= 0:
            out["spend"] = NO_SPEND
    return out


def describe_unused(summary: Mapping | None) -> str:
    """One sentence naming the earlier retrospective's parts that this plan does not use, and why
    (empty when it is complete or there is none)."""
    parts = {k: v for k, v in incomplete_parts(summary).items() if k in PART_USES}
    if not summary or not parts:
        return ""
    name = _name(summary)
    uses = "; ".join(f"{PART_USES[k]} ({v})" for k, v in parts.items())
    return f"The {name} retrospective is incomplete, so it is not used for {uses}."


def _name(summary: Mapping) -> str:
    camp = summary.get("campaign", {}) or {}
    return str(camp.get("name", camp.get("slug", "earlier campaign")))


@dataclass
class EarlierRetro:
    """What earlier campaigns' retrospectives hand to this plan.

    ``summary`` is the retrospective that shapes targets and budget (None when none applies),
    ``others`` the other usable ones (lessons only), ``next_budget`` its recommended split
    (:func:`retro_next_budget`), ``bias`` its revenue forecast bias (:func:`retro_forecast_bias`),
    ``root`` the folder searched (see :func:`playbook.steps.plan.earlier_retrospective`),
    ``media_model`` its media model's per-channel estimates with intervals (:func:`retro_media_model`)
    and ``lifts`` the lifts that calibrated that model (:func:`retro_lifts`).
    """

    root: Path
    summary: dict | None
    others: list[dict]
    next_budget: pd.DataFrame
    bias: float | None
    media_model: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RETRO_MODEL_COLUMNS))
    lifts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RETRO_LIFT_COLUMNS))

    @property
    def name(self) -> str:
        return str(self.summary["campaign"].get("name", self.summary["campaign"].get("slug"))) if self.summary else ""


def select_retrospective(summaries: Sequence[Mapping], season_start: dt.date | str,
                         countries: Sequence[str]) -> tuple[dict | None, list[dict]]:
    """The earlier retrospective that shapes this plan, and the other usable ones.

    Parameters
    ----------
    summaries : sequence of dict
        :func:`playbook.steps.retrospective.campaign_summary` dicts (as from ``find_retrospectives``).
    season_start : date
        First day of this campaign's season; only campaigns whose season ended before it count.
    countries : sequence of str
        This campaign's countries; a campaign sharing none of them is left out.

    Returns
    -------
    (dict or None, list of dict)
        The usable campaign whose season ended last (ties: the later start), and the other usable
        ones, most recent first. ``(None, [])`` when none fits.
    """
    start = as_day(season_start)
    ours = {c.upper() for c in countries}
    ok = []
    for s in summaries:
        camp = s.get("campaign", {}) if isinstance(s, Mapping) else {}
        try:
            end, first = as_day(camp.get("end")), as_day(camp.get("start"))
        except (TypeError, ValueError, AttributeError):  # missing or malformed dates (NaT)
            continue
        if pd.isna(end) or end >= start or not ours & {str(c).upper() for c in camp.get("countries", [])}:
            continue
        ok.append((end, first, dict(s)))
    ok.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return (ok[0][2], [t[2] for t in ok[1:]]) if ok else (None, [])


def retro_forecast_bias(summary: Mapping | None, limit: float = RETRO_BIAS_LIMIT) -> float | None:
    """Season revenue forecast bias of an earlier campaign: ``actual / forecast - 1``, clipped.

    ``None`` when there is no summary, its forecast was not the plan step's (a seasonal-naive
    stand-in says nothing about this model: ``forecast_from_plan`` false or missing) or the
    forecast is not positive. Positive = the earlier forecast was too low.
    """
    if not summary or not summary.get("forecast_from_plan") or "forecast" in incomplete_parts(summary):
        return None
    rev = summary.get("revenue") or {}
    actual, forecast = rev.get("actual"), rev.get("forecast")
    if actual is None or forecast is None or not np.isfinite(actual) or not np.isfinite(forecast) or forecast <= 0:
        return None
    return float(np.clip(actual / forecast - 1, -limit, limit))


def retro_country_share(forecast: pd.DataFrame, countries: Sequence[str]) -> float:
    """Share of the forecast's season revenue in ``countries`` (weights an earlier campaign's bias).

    Uses the ``dimension == "country"`` revenue rows of a forecast artifact; 1.0 when there are
    none (a single-market forecast), 0.0 when none of ``countries`` is forecast.
    """
    f = forecast[(forecast["dimension"] == "country") & (forecast["metric"] == "revenue")]
    by = f.groupby("value")["mean"].sum().clip(lower=0)
    if by.empty or by.sum() <= 0:
        return 1.0
    return float(by[by.index.str.upper().isin({c.upper() for c in countries})].sum() / by.sum())


def retro_next_budget(summary: Mapping | None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The earlier recommended split: ``channel``, ``recommended``, ``marginal_roas_recommended`` and its
    interval ``marginal_roas_recommended_lo`` / ``_hi`` (NaN when the retrospective recorded none).

    From ``next_budget.parquet`` (``table``) when given, else from the summary's ``next_budget``
    records; empty when neither has it, or when the retrospective had no spend
    (:func:`incomplete_parts`; then ``attrs["unused"]`` says why).
    """
    cols = NEXT_BUDGET_COLUMNS
    why = incomplete_parts(summary).get("spend")
    if why:
        out = pd.DataFrame(columns=cols)
        out.attrs["unused"] = why
        return out
    if table is None or table.empty:
        table = pd.DataFrame((summary or {}).get("next_budget") or [])
    if table.empty or not {"channel", "recommended"} <= set(table.columns):
        return pd.DataFrame(columns=cols)
    out = table.copy()
    for c in cols[2:]:
        out[c] = out[c].astype(float) if c in out.columns else np.nan
    out["recommended"] = out["recommended"].astype(float)
    return out[cols].reset_index(drop=True)


def retro_budget_bounds(
    bounds: Mapping[str, tuple[float, float]],
    total: float,
    next_budget: pd.DataFrame,
    floor: float = RETRO_MROAS_FLOOR,
) -> tuple[dict[str, tuple[float, float]], pd.DataFrame]:
    """Channel bounds shaped by an earlier retrospective's recommended split (rule above).

    Parameters
    ----------
    bounds : mapping
        ``{channel: (min_budget, max_budget)}`` from this campaign's config (currency).
    total : float
        This campaign's season budget (currency).
    next_budget : DataFrame
        :func:`retro_next_budget` of the earlier campaign (its recommendation for its own total).
    floor : float
        The channel's maximum is capped when the upper end of its marginal ROAS interval is below it.

    Returns
    -------
    (dict, DataFrame)
        The bounds to optimise within, and one row per channel of ``bounds``
        (``RETRO_BUDGET_COLUMNS``): ``earlier_recommended`` (the earlier share x ``total``; NaN
        when the earlier campaign did not budget the channel), ``earlier_marginal_roas`` with its
        interval ``earlier_marginal_roas_lo`` / ``_hi``,
        ``max_budget_config``, ``max_budget_used``, ``capped``. ``attrs["applied"]`` is False with
        ``attrs["reason"]`` when caps were needed but would leave ``total`` unspendable;
        ``attrs["unused"]`` carries over why the earlier split was not used (no spend then).
    """
    nb = next_budget.set_index("channel") if not next_budget.empty else pd.DataFrame()
    earlier_total = float(nb["recommended"].sum()) if not nb.empty else 0.0
    new = dict(bounds)
    rows = []
    for ch, (lo, hi) in bounds.items():
        rec, mroas, m_lo, m_hi, used = np.nan, np.nan, np.nan, np.nan, hi
        if earlier_total > 0 and ch in nb.index:
            rec = float(nb.loc[ch, "recommended"]) / earlier_total * total
            mroas = float(nb.loc[ch, "marginal_roas_recommended"])
            m_lo = float(nb.loc[ch, "marginal_roas_recommended_lo"])
            m_hi = float(nb.loc[ch, "marginal_roas_recommended_hi"])
            if np.isfinite(m_hi) and m_hi < floor:  # the whole interval below the floor, not a point estimate
                used = float(min(hi, max(lo, rec)))
        rows.append({"channel": ch, "earlier_recommended": rec, "earlier_marginal_roas": mroas,
                     "earlier_marginal_roas_lo": m_lo, "earlier_marginal_roas_hi": m_hi,
                     "max_budget_config": float(hi), "max_budget_used": float(used), "capped": used < hi})
        new[ch] = (lo, used)
    table = pd.DataFrame(rows, columns=RETRO_BUDGET_COLUMNS)
    table.attrs["applied"], table.attrs["reason"] = True, ""
    table.attrs["unused"] = str(next_budget.attrs.get("unused", ""))
    if sum(b[1] for b in new.values()) < total - 1e-6:
        table["max_budget_used"] = table["max_budget_config"]
        table["capped"] = False
        table.attrs["applied"] = False
        table.attrs["reason"] = ("capping would leave the season total unspendable within the other channels' "
                                 "maxima, so the configured bounds are kept")
        return dict(bounds), table
    return new, table


def describe_retro_budget(table: pd.DataFrame, campaign: str, currency: str = "USD",
                          floor: float = RETRO_MROAS_FLOOR, plan: pd.DataFrame | None = None) -> str:
    """Sentence on how an earlier retrospective shaped the budget bounds (Markdown).

    With the optimised ``plan`` (``channel``, ``budget``), it also says whether a cap binds.
    """
    if table.attrs.get("unused"):
        return (f"The {campaign} retrospective is not used for the budget: {table.attrs['unused']}, so it measured "
                "no return on spend; the budget bounds are the configured ones.")
    if table.empty or table["earlier_recommended"].isna().all():
        return (f"The earlier retrospective ({campaign}) has no recommended split for these channels, so the "
                "budget bounds are the configured ones.")
    capped = table[table["capped"]]
    low = table[table["earlier_marginal_roas_hi"] < floor]
    text = (f"The {campaign} retrospective's recommended split, scaled to this season's total, is shown next to "
            "the optimised split.")
    if not capped.empty:
        text += (" Its media model put the marginal ROAS wholly below " + f"{floor:g} (the 90 % interval's upper "
                 "end) for " + ", ".join(
                     f"**{r.channel.replace('_', ' ')}** ({_interval(r)}): maximum capped at "
                     f"{fmt_money(r.max_budget_used, currency)} instead of {fmt_money(r.max_budget_config, currency)}"
                     for r in capped.itertuples()) + ".")
        if plan is not None and not plan.empty:
            budget = plan.set_index("channel")["budget"]
            binding = [r.channel for r in capped.itertuples() if budget.get(r.channel, 0.0) >= r.max_budget_used - 1.0]
            text += (" The cap binds for " + ", ".join(c.replace("_", " ") for c in binding) + ": the optimiser "
                     "would have spent more there." if binding else
                     " The optimised split stays below these caps, so they change no amount this time.")
    elif not low.empty and not table.attrs.get("applied", True):
        text += (f" It found a marginal ROAS wholly below {floor:g} for "
                 + ", ".join(r.channel.replace("_", " ") for r in low.itertuples())
                 + f", but {table.attrs.get('reason', 'the caps were not applied')}.")
    else:
        text += f" No channel had a marginal ROAS interval wholly below {floor:g} there, so no bound was changed."
    return text + _uncapped_note(table, floor)


def _interval(r: Any) -> str:
    """``0.70, 90 % interval 0.50 to 0.90`` for a row of the budget hand-off table."""
    return (f"{r.earlier_marginal_roas:.2f}, 90 % interval {r.earlier_marginal_roas_lo:.2f} to "
            f"{r.earlier_marginal_roas_hi:.2f}")


def _uncapped_note(table: pd.DataFrame, floor: float) -> str:
    """Channels whose point estimate was below ``floor`` but which are not capped, and why."""
    point_low = table[(table["earlier_marginal_roas"] < floor) & ~table["capped"]]
    reach = point_low[point_low["earlier_marginal_roas_hi"] >= floor]
    bare = point_low[point_low["earlier_marginal_roas_hi"].isna()]
    text = ""
    if not reach.empty:
        text += (" Not capped although the estimate is below " + f"{floor:g}, because its interval reaches "
                 f"{floor:g}: " + ", ".join(f"{r.channel.replace('_', ' ')} ({_interval(r)})"
                                            for r in reach.itertuples()) + ".")
    if not bare.empty:
        text += (" Not capped because the retrospective recorded no interval for its marginal ROAS (a point "
                 "estimate alone cannot cap a channel): " + ", ".join(r.channel.replace("_", " ")
                                                                        for r in bare.itertuples()) + ".")
    return text


def describe_retro_targets(bias: float | None, summary: Mapping | None, feas: pd.DataFrame,
                           currency: str = "USD", share: float = 1.0) -> str:
    """Sentence on how an earlier retrospective shaped the targets (Markdown).

    ``bias`` is the earlier campaign's (:func:`retro_forecast_bias`), ``share`` the weight
    :func:`retro_country_share` gave it here.
    """
    if not summary:
        return ("No earlier retrospective applies, so the base level and the target's chances come from this "
                "season's forecast alone.")
    name = summary.get("campaign", {}).get("name", "the earlier campaign")
    if bias is None:
        why = incomplete_parts(summary).get("forecast", NO_PLAN_FORECAST)
        return (f"The {name} retrospective is not used for the targets: it did not measure the plan's own forecast "
                f"({why}), so the targets use this season's forecast unchanged.")
    r = feas.set_index("metric").loc["revenue"] if "revenue" in set(feas.get("metric", [])) else None
    word = "above" if bias >= 0 else "below"
    where = ", ".join(summary.get("campaign", {}).get("countries", []))
    text = f"In {name} ({where}) revenue came in {fmt_pct(abs(bias))} {word} the plan's forecast"
    if share < 1 - 1e-9:
        text += f"; those countries make up {fmt_pct(share)} of this season's forecast"
    text += (f", so this season's base level and the chance of reaching the target use the forecast corrected by "
             f"{fmt_pct(bias * share)}")
    if r is not None:
        text += (f" ({fmt_money(r['expected'], currency)} instead of {fmt_money(r['forecast'], currency)}); the "
                 f"target stays at {fmt_money(r['target'], currency)}")
    return text + "."


def retro_lessons(summaries: Sequence[Mapping]) -> pd.DataFrame:
    """The generated lessons of earlier retrospectives: ``campaign``, ``lesson`` (in the given order).

    Lessons about returns on spend (:data:`SPEND_LESSONS`) are left out of a retrospective without
    spend, and lessons judged against the target (:data:`FORECAST_LESSONS`) out of one without the
    plan's forecast (:func:`incomplete_parts`).
    """
    rows = []
    for s in summaries:
        parts = incomplete_parts(s)
        no_spend, no_forecast = "spend" in parts, "forecast" in parts
        for x in s.get("lessons") or []:
            if not ((no_spend and str(x).startswith(SPEND_LESSONS))
                    or (no_forecast and FORECAST_LESSONS.match(str(x)))):
                rows.append({"campaign": s.get("campaign", {}).get("name", s.get("campaign", {}).get("slug", "?")),
                             "lesson": str(x)})
    return pd.DataFrame(rows, columns=["campaign", "lesson"])


def find_retrospectives(reports_root: str | Path = "reports", exclude: str | None = None) -> list[dict[str, Any]]:
    """Earlier campaigns' retrospective summaries (``reports/*/artifacts/summary.json``), oldest first.

    For the plan step of the next campaign: each dict is a :func:`playbook.steps.retrospective.campaign_summary` plus
    ``artifacts_dir`` (the folder it came from, holding ``next_budget.parquet``). ``reports_root``
    is the folder of published reports (the parent of a campaign's ``output_dir``); only
    published ``<slug>/artifacts`` folders are read (not ``_interactive`` or staging ones).
    """
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


def retro_media_model(summary: Mapping | None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The earlier retrospective's media model per channel (:data:`RETRO_MODEL_COLUMNS`: ROAS and marginal
    ROAS at mean daily spend, draws' mean and 90 % interval, identifiability warning).

    From ``media_model.parquet`` (``table``) when given, else the summary's ``media_model`` records;
    empty without either, or when that retrospective had no spend (:func:`incomplete_parts`).
    """
    cols = RETRO_MODEL_COLUMNS
    if not summary or "spend" in incomplete_parts(summary):
        return pd.DataFrame(columns=cols)
    if table is None or table.empty:
        table = pd.DataFrame(summary.get("media_model") or [])
    if table.empty or "channel" not in table.columns:
        return pd.DataFrame(columns=cols)
    out = table.copy()
    for c in cols[1:]:
        if c == "warning":
            out[c] = out[c].fillna("").astype(str) if c in out.columns else ""
        else:
            out[c] = out[c].astype(float) if c in out.columns else np.nan
    return out[cols].reset_index(drop=True)


def retro_lifts(summary: Mapping | None) -> pd.DataFrame:
    """The lifts that calibrated the earlier retrospective's media model (summary's ``lifts`` records:
    :data:`RETRO_LIFT_COLUMNS`; ``incremental`` and ``se`` in ``unit`` over ``start`` to ``end``). Rows
    without a channel, window, finite value or positive standard error are dropped; empty for older
    summaries, none, or a retrospective without spend."""
    if not summary or "spend" in incomplete_parts(summary):
        return pd.DataFrame(columns=RETRO_LIFT_COLUMNS)
    t = pd.DataFrame([r for r in summary.get("lifts") or [] if isinstance(r, Mapping)])
    if t.empty or not {"channel", "start", "end", "incremental", "se"} <= set(t.columns):
        return pd.DataFrame(columns=RETRO_LIFT_COLUMNS)
    t = t.assign(unit=t.get("unit", "revenue"), source=t.get("source", ""), kind=t.get("kind", "holdout"))
    t["incremental"] = pd.to_numeric(t["incremental"], errors="coerce")
    t["se"] = pd.to_numeric(t["se"], errors="coerce")
    ok = np.isfinite(t["incremental"]) & np.isfinite(t["se"]) & (t["se"] > 0) & t["channel"].notna()
    ok &= pd.to_datetime(t["start"], errors="coerce").notna() & pd.to_datetime(t["end"], errors="coerce").notna()
    return t.loc[ok, RETRO_LIFT_COLUMNS].reset_index(drop=True)


def retro_model_lifts(er: EarlierRetro, countries: Sequence[str], currency: str) -> tuple[list[Lift], list[str]]:
    """The lifts that calibrated the earlier retrospective's media model (``er.lifts``, :func:`retro_lifts`:
    that season's holdouts and lift studies) as :class:`playbook.media.mmm.Lift` for this plan's fit, and
    why none are used.

    A lift measures the incremental revenue of the customers that campaign modelled, in its currency, so
    they are used only when it covered the same ``countries`` in the same ``currency`` (else one sentence
    says why not). Each keeps its kind; its source gains ``(<campaign> retrospective)``.
    """
    if er.summary is None or er.lifts.empty:
        return [], []
    camp = er.summary.get("campaign", {}) or {}
    theirs, ours = {str(c).upper() for c in camp.get("countries", [])}, {str(c).upper() for c in countries}
    if theirs != ours or str(camp.get("currency", currency)) != currency:
        return [], [f"The lifts that calibrated the {er.name} retrospective's media model do not calibrate this "
                    f"plan: they measured {', '.join(sorted(theirs))} customers in {camp.get('currency', '?')}, this "
                    f"plan models {', '.join(sorted(ours))} in {currency}."]
    return [Lift(str(r.channel), r.start, r.end, float(r.incremental), float(r.se), str(r.unit),
                 f"{r.source} ({er.name} retrospective)".strip(), str(r.kind)) for r in er.lifts.itertuples()], []


def _estimate(mean: float, lo: float, hi: float) -> str:
    """``1.90 (90 % interval 1.20 to 2.60)``, "not distinguishable from zero" when it reaches 0."""
    text = f"{mean:.2f} (90 % interval {lo:.2f} to {hi:.2f})"
    return text + ", not distinguishable from zero" if lo <= 0 <= hi else text


def describe_retro_model(model: pd.DataFrame, lifts: pd.DataFrame, campaign: str,
                         used: Sequence[str] = ()) -> str:
    """What the earlier retrospective's media model said and how this plan uses it (Markdown).

    Parameters
    ----------
    model : DataFrame
        :func:`retro_media_model`.
    lifts : DataFrame
        :func:`retro_lifts`.
    campaign : str
        The earlier campaign's name.
    used : sequence of str
        Sources of the earlier lifts that calibrate this plan's model (:func:`playbook.steps.plan.plan_lifts`).
    """
    if model.empty:
        return (f"The {campaign} retrospective recorded no media model (no spend, or an older retrospective), so "
                "this plan's curves rest on its own fit alone.")
    parts = [f"{r.channel.replace('_', ' ')} {_estimate(r.marginal_roas_mean, r.marginal_roas_lo, r.marginal_roas_hi)}"
             for r in model.itertuples() if np.isfinite(r.marginal_roas_mean)]
    text = (f"The {campaign} retrospective's media model (read from its `media_model.parquet`) put the marginal "
            "ROAS at mean daily spend at: " + "; ".join(parts) + ".")
    if not lifts.empty:
        text += " It was calibrated by " + ", ".join(
            f"{r.kind} {r.source}".strip() + f" ({r.channel.replace('_', ' ')})" for r in lifts.itertuples()) + "."
    text += (" This plan refits the model on its own history, which holds that season, rather than reusing those "
             "curves as fixed values; ")
    if used:
        text += "the same experiments calibrate this plan's fit (" + ", ".join(used) + ")."
    elif not lifts.empty:
        text += "their windows lie outside this plan's history, so they do not calibrate its fit."
    else:
        text += "no experiment of that season carries over to calibrate it."
    return text
