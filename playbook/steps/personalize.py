"""The personalize step (``notebooks/03_personalize.ipynb``): who is likely to buy, what they are
worth, and what each customer receives (products, offer, content, send time). One call per
notebook cell.

The methods live in their domains; this module wires them to the run context, collects their
results into small objects that later cells pass on whole, formats the tables, and owns the
step's artifacts, summary and headline numbers:

* :mod:`playbook.customers.profile`: the customer base at the planning cutoff;
* :mod:`playbook.value.propensity`: purchase propensity (XGBoost against an RFM baseline);
* :mod:`playbook.value.clv`: customer lifetime value (BG/NBD + Gamma-Gamma) and seasonal buyers;
* :mod:`playbook.value.recommend`: item-to-item recommendations against popularity;
* :mod:`playbook.value.send_time`: each customer's best send hour;
* :mod:`playbook.value.offers`: next-best offer and content, trigger flows;
* :mod:`playbook.value.audiences`: the per-customer table and the audience exports.

Artifacts (keyed by the pseudonymous ``customer_pid``, like ``segments.parquet``):
``scores.parquet``, ``clv.parquet``, ``recommendations.parquet`` and ``personalize_summary.json``
(aggregates only, no PII); the hashed ad-platform audience files go to the report's
``exports/`` folder, the email-platform lists with plaintext emails to the private folder beside
the report (``reports/.private/<campaign>/``, owner-only). The data flow between steps is
described in ``docs/architecture.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import matplotlib.pyplot as plt
import pandas as pd

from playbook.artifacts import write_artifact
from playbook.customers import profile
from playbook.data.cutoff import planning_as_of
from playbook.data.needs import Needs
from playbook.report.format import fmt_int, fmt_pct
from playbook.report.privacy import pseudonymize
from playbook.steps.context import StepContext
from playbook.value import audiences, clv, recommend
from playbook.value import offers as offer_rules
from playbook.value import propensity as propensity_model
from playbook.value import send_time as send_time_model

#: Horizon of the customer lifetime value (days).
CLV_HORIZON_DAYS = 365


# --------------------------------------------------------------------------------------------
# Result objects: one per section, passed whole to the later cells
# --------------------------------------------------------------------------------------------
@dataclass
class CustomerValue:
    """Customer lifetime value and its checks.

    Attributes
    ----------
    result : CLVResult
        :func:`playbook.value.clv.fit_clv` as of the planning cutoff (fitted models, notes).
    holdout : dict
        :func:`playbook.value.clv.campaign_holdout` (BG/NBD against the naive guess).
    seasonal : DataFrame
        :func:`playbook.value.clv.campaign_seasonal_check` (how BG/NBD judged seasonal buyers).
    table : DataFrame
        The per-customer CLV table with the seasonal-buyer flags (the ``clv`` artifact; without a
        comparison season nobody is flagged).
    seasonal_skipped : str or None
        Why the seasonal-buyer check and flags were skipped (one sentence), or None.
    """

    result: clv.CLVResult
    holdout: dict[str, Any]
    seasonal: pd.DataFrame
    table: pd.DataFrame
    seasonal_skipped: str | None = None


@dataclass
class Recommendations:
    """Product recommendations for every scored customer and their check on a past season.

    Attributes
    ----------
    evaluation : DataFrame
        Hit rate and recall at 10 of item-to-item CF against popularity.
    recs : DataFrame
        ``customer_id, rank, product_id, source`` (no rows when skipped).
    notes : list of str
        Fallbacks used, or why recommendations were skipped.
    window : str
        Where the method was checked, in words (:func:`playbook.value.recommend.evaluation_window`).
    skipped : str or None
        Why no recommendation was made (one sentence), or None.
    """

    evaluation: pd.DataFrame
    recs: pd.DataFrame
    notes: list[str]
    window: str = recommend.LAST_SEASON
    skipped: str | None = None


@dataclass
class SendTimes:
    """Each customer's best send hour and the held-out check of the method.

    Attributes
    ----------
    times : DataFrame
        :func:`playbook.value.send_time.send_times` (``customer_id, opens, best_hour_utc, ...``).
    evaluation : DataFrame
        Share of held-out opens within an hour of the chosen hour, personal against global (empty
        with too few opens).
    """

    times: pd.DataFrame
    evaluation: pd.DataFrame


@dataclass
class Offers:
    """The per-customer table the exports are built from.

    Attributes
    ----------
    people : DataFrame
        :func:`playbook.value.audiences.build_people`; contains first names, so it is never shown
        (:func:`offer_preview` masks them).
    segment_source : str
        Where the segments came from (the segment step's artifact or computed here).
    matrix : dict or None
        The content matrix the offers were made with (None: the built-in one).
    """

    people: pd.DataFrame
    segment_source: str
    matrix: dict[str, dict[str, str]] | None = None


@dataclass
class Personalization:
    """Everything the step produced, collected once for the artifacts, summary and headline.

    Attributes
    ----------
    summary : dict
        :func:`step_summary` (JSON-ready; aggregates only, no PII).
    """

    base: pd.DataFrame
    propensity: propensity_model.PropensityResult
    value: CustomerValue
    recommendations: Recommendations
    send_times: SendTimes
    offers: Offers
    flows: pd.DataFrame
    exports: pd.DataFrame
    summary: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Customer base
# --------------------------------------------------------------------------------------------
#: What the audience exports need beyond customers and orders (consent; unknown = not consented).
CONSENT = Needs("Audience exports", columns=("customers.consent_email", "customers.consent_ads"), any_of=True)


def planning_cutoff(ctx: StepContext) -> pd.Timestamp:
    """The step's as-of instant: the end of the planning-cutoff day, UTC (the cutoff day is included;
    :func:`playbook.data.cutoff.planning_as_of`, the one definition the segment step uses too)."""
    return planning_as_of(ctx.cfg)


def customer_base(ctx: StepContext) -> pd.DataFrame:
    """Size and reachability of the customer base per country at the planning cutoff."""
    return profile.customer_base_summary(ctx.wh, planning_cutoff(ctx))


#: Active customers and the rest of the base per country (chart).
plot_customer_base = profile.plot_customer_base
#: Sentence on the size, activity and consent of the base (Markdown).
describe_customer_base = profile.describe_customer_base


def customer_base_headline(base: pd.DataFrame) -> dict[str, str]:
    """Headline numbers of the customer base for the index page."""
    total = base[base["country"] == "All"].iloc[0]
    return {"customers": fmt_int(total["customers"]), "active (12 months)": fmt_int(total["active"]),
            "email consent": fmt_pct(total["email_consent"])}


# --------------------------------------------------------------------------------------------
# Propensity
# --------------------------------------------------------------------------------------------
def score_propensity(ctx: StepContext) -> propensity_model.PropensityResult:
    """Propensity model trained and validated on past seasons, every customer scored as of the
    planning cutoff (or the documented heuristic fallback, with a note)."""
    return propensity_model.fit_or_fallback(ctx.wh, ctx.cfg, ctx.seed)


#: Cumulative gains and calibration of the model on the validation season (chart).
plot_propensity = propensity_model.plot_validation
#: Sentence on the model against the RFM baseline (Markdown).
describe_propensity = propensity_model.describe


def importance_table(prop: propensity_model.PropensityResult, n: int = 10) -> pd.DataFrame:
    """The ``n`` features that moved the scores most (mean absolute contribution)."""
    return prop.importance.head(n)


#: The ``n`` highest-scored customers with their top drivers, under pseudonymous ids.
top_scored = propensity_model.top_scored


# --------------------------------------------------------------------------------------------
# Customer lifetime value
# --------------------------------------------------------------------------------------------
def customer_value(ctx: StepContext) -> CustomerValue:
    """CLV over :data:`CLV_HORIZON_DAYS` from orders before the planning cutoff, the holdout check,
    the seasonal-buyer check and the per-customer table with seasonal flags (without a comparison
    season the check is skipped with a sentence and nobody is flagged)."""
    wh, cfg = ctx.wh, ctx.cfg
    res = clv.fit_clv(wh, planning_cutoff(ctx), horizon_days=CLV_HORIZON_DAYS)
    return CustomerValue(res, clv.campaign_holdout(wh, cfg), clv.campaign_seasonal_check(wh, cfg),
                         clv.campaign_seasonal_flags(wh, cfg, res.table), clv.seasonal_skip_reason(cfg))


def clv_params_table(value: CustomerValue) -> pd.DataFrame:
    """Fitted BG/NBD and Gamma-Gamma parameters."""
    return clv.params_table(value.result)


def clv_decile_table(value: CustomerValue) -> pd.DataFrame:
    """Customers, mean CLV, mean P(alive) and CLV share per CLV decile."""
    return clv.decile_summary(value.result.table)


def plot_clv_holdout(value: CustomerValue) -> plt.Figure:
    """Actual, predicted and naive orders in the holdout period by repeat-order group."""
    return clv.plot_holdout(value.holdout)


def describe_clv_holdout(value: CustomerValue) -> str:
    """Sentence on the holdout check and one on what CLV counts (:func:`playbook.value.clv.describe_conventions`)
    (Markdown)."""
    return f"{clv.describe_holdout(value.holdout)} {clv.describe_conventions(value.result)}"


def seasonal_table(value: CustomerValue) -> pd.DataFrame:
    """How BG/NBD judged seasonal buyers before the last season, against what they did."""
    return value.seasonal


def describe_seasonal(value: CustomerValue) -> str:
    """Sentence on the seasonal buyers, or why they could not be identified (Markdown)."""
    return value.seasonal_skipped or clv.describe_seasonal(value.seasonal)


# --------------------------------------------------------------------------------------------
# Recommendations
# --------------------------------------------------------------------------------------------
def recommendations(ctx: StepContext, prop: propensity_model.PropensityResult) -> Recommendations:
    """The method checked on the last comparable season (or, without one, on the weeks before the
    planning cutoff), then recommendations for every scored customer as of the planning cutoff.
    Skipped with a sentence when there are no order lines before the cutoff."""
    skipped = recommend.missing_product_sales(ctx.wh, planning_cutoff(ctx))
    if skipped is not None:
        evaluation = pd.DataFrame(columns=["method", "customers", "hit_rate_at_10", "recall_at_10"])
        recs = pd.DataFrame({"customer_id": pd.Series(dtype=str), "rank": pd.Series(dtype="int64"),
                             "product_id": pd.Series(dtype=str), "source": pd.Series(dtype=str)})
        return Recommendations(evaluation, recs, [skipped], skipped=skipped)
    evaluation = recommend.evaluate_for_campaign(ctx.wh, ctx.cfg)
    recs, notes = recommend.recommend_for_campaign(ctx.wh, ctx.cfg, customer_ids=prop.scores["customer_id"])
    return Recommendations(evaluation, recs, notes, recommend.evaluation_window(ctx.cfg))


def describe_recommendations(recs: Recommendations) -> str:
    """Sentence comparing CF with the popularity baseline, or why there are no recommendations
    (Markdown)."""
    return recs.skipped or recommend.describe(recs.evaluation, window=recs.window)


def recommendation_sources(recs: Recommendations) -> pd.DataFrame:
    """Recommendation slots per source (collaborative filtering, popularity fallback)."""
    return recs.recs["source"].value_counts().rename("recommendation slots").to_frame()


# --------------------------------------------------------------------------------------------
# Send time
# --------------------------------------------------------------------------------------------
def send_times(ctx: StepContext) -> SendTimes:
    """Each customer's best send hour from opens before the planning cutoff, and the held-out check."""
    times, evaluation = send_time_model.campaign_send_times(ctx.wh, ctx.cfg)
    return SendTimes(times, evaluation)


def plot_send_hours(send: SendTimes) -> plt.Figure:
    """Distribution of the customers' best send hours (UTC)."""
    return send_time_model.plot_send_hours(send.times)


def describe_send_time(send: SendTimes) -> str:
    """Sentence on the send-time result (Markdown)."""
    return send_time_model.describe_send_time(send.times, send.evaluation)


# --------------------------------------------------------------------------------------------
# Offers, flows and exports
# --------------------------------------------------------------------------------------------
def _promo_share(prop: propensity_model.PropensityResult) -> pd.Series:
    """customer_id -> share of past orders with a promo code (empty without features)."""
    if prop.features is None:
        return pd.Series(dtype=float)
    return prop.features.set_index("customer_id")["promo_share"]


def offers(ctx: StepContext, *, propensity: propensity_model.PropensityResult, value: CustomerValue,
           recommendations: Recommendations, send_times: SendTimes) -> Offers:
    """Segment, offer, content, subject, top products and local send time per scored customer
    (content matrix from the config)."""
    matrix = ctx.cfg.personalization.matrix()
    people, source = audiences.build_people(
        ctx.wh, ctx.output_dir, propensity.scores, value.table, recommendations.recs, send_times.times,
        _promo_share(propensity), matrix=matrix)
    return Offers(people, source, matrix)


def offer_preview(o: Offers, per_segment: int = 2) -> pd.DataFrame:
    """A few customers per segment with their offer and subject (first names masked, ids pseudonymous)."""
    return offer_rules.people_preview(o.people, per_segment, o.matrix)


def describe_offers(o: Offers) -> str:
    """Sentence on the discount depth (Markdown); says when price sensitivity cannot be measured
    (no promo codes in the data) and the configured offers go out without a discount."""
    return offer_rules.describe_offers(o.people)


def offers_by_segment(o: Offers) -> pd.DataFrame:
    """Customers and mean discount per segment."""
    return offer_rules.offers_by_segment(o.people)


def flows(ctx: StepContext) -> pd.DataFrame:
    """Customers per trigger flow and step at the planning cutoff (the config's flows, or the
    default cart, browse and post-purchase flows)."""
    return offer_rules.flow_counts(ctx.wh, planning_cutoff(ctx),
                                   ctx.cfg.personalization.flow_specs() or offer_rules.FLOWS)


def exports(ctx: StepContext, o: Offers) -> pd.DataFrame:
    """Contacts and suppression from the tables (plus the segment step's flags), then the audience
    files: hashed ad-platform files into ``<output_dir>/exports``, the plaintext email lists
    (Klaviyo, Mailchimp) owner-only into the private folder outside the report
    (:func:`playbook.files.private_dir`); returns the reconciliation table."""
    con = audiences.contacts(ctx.wh)
    seg = audiences.segment_flags(ctx.output_dir, con["customer_id"])
    return audiences.export_audiences(con, o.people, ctx.output_dir, ctx.cfg.min_audience_size, seg)


#: Sentence on what was exported and what was held back (Markdown).
describe_exports = audiences.describe


# --------------------------------------------------------------------------------------------
# Summary, artifacts and headline
# --------------------------------------------------------------------------------------------
def step_summary(prop: propensity_model.PropensityResult, value: CustomerValue, recs: Recommendations,
                 send: SendTimes, o: Offers, flow_table: pd.DataFrame, recon: pd.DataFrame) -> dict[str, Any]:
    """The step's summary (JSON-ready; aggregates only, no PII): validation numbers of each method,
    the flows and the export reconciliation; ``skipped`` (only when a section was skipped):
    section -> the sentence saying what is missing."""
    clv_res, holdout, rec_eval, send_eval = value.result, value.holdout, recs.evaluation, send.evaluation
    m = prop.metrics.set_index("model") if not prop.metrics.empty else None
    rec = rec_eval.set_index("method") if not rec_eval.empty else None
    skipped = {name: reason for name, reason in (("seasonal_buyers", value.seasonal_skipped),
                                                 ("recommendations", recs.skipped)) if reason}
    out: dict[str, Any] = {
        "propensity": None if m is None else {
            "train_season": prop.train_season, "valid_season": prop.valid_season,
            "roc_auc_model": float(m["roc_auc"].iloc[0]), "roc_auc_baseline": float(m["roc_auc"].iloc[1]),
            "pr_auc_model": float(m["pr_auc"].iloc[0]), "pr_auc_baseline": float(m["pr_auc"].iloc[1]),
            "top_decile_lift": float(m["top_decile_lift"].iloc[0])},
        "clv": {"horizon_days": clv_res.horizon_days,
                "bgnbd": clv_res.bgnbd.params_ if clv_res.bgnbd else None,
                "gamma_gamma": clv_res.gg.params_ if clv_res.gg else None,
                "holdout_mae_model": holdout.get("mae_model"), "holdout_mae_naive": holdout.get("mae_naive"),
                "notes": clv_res.notes},
        "recommendations": None if rec is None else {
            "hit_rate_at_10_cf": float(rec.loc["item-to-item CF", "hit_rate_at_10"]),
            "hit_rate_at_10_popularity": float(rec.loc["popularity", "hit_rate_at_10"]),
            "recall_at_10_cf": float(rec.loc["item-to-item CF", "recall_at_10"]),
            "recall_at_10_popularity": float(rec.loc["popularity", "recall_at_10"])},
        "send_time": None if send_eval.empty else {
            "personal_share_within_1h": float(send_eval.iloc[0, 2]),
            "global_share_within_1h": float(send_eval.iloc[1, 2])},
        "segment_source": o.segment_source,
        "flows": {f"{r.flow}: {r.step}": int(r.customers) for r in flow_table.itertuples()},
        "exports": recon.to_dict(orient="records"),
    }
    if skipped:
        out["skipped"] = skipped
    return out


def summarize(ctx: StepContext, *, base: pd.DataFrame, propensity: propensity_model.PropensityResult,
              value: CustomerValue, recommendations: Recommendations, send_times: SendTimes, offers: Offers,
              flows: pd.DataFrame, exports: pd.DataFrame) -> Personalization:
    """Collect the step's results and its summary (:func:`step_summary`)."""
    summary = step_summary(propensity, value, recommendations, send_times, offers, flows, exports)
    consent = CONSENT.reason(ctx.wh)
    if consent:
        summary.setdefault("skipped", {})["exports"] = consent
    return Personalization(base, propensity, value, recommendations, send_times, offers, flows, exports, summary)


def write_artifacts(ctx: StepContext, run: Personalization) -> pd.DataFrame:
    """``scores.parquet``, ``clv.parquet``, ``recommendations.parquet`` (keyed by the pseudonymous
    ``customer_pid``) and ``personalize_summary.json``; returns what was written (file, rows)."""
    scores, clv_table, recs = run.propensity.scores, run.value.table, run.recommendations.recs
    # One keyed hash per distinct customer (HMAC costs ~20 us; recommendations repeat each id k
    # times): hash the union of ids once, then look every row up by position.
    ids = pd.Index(pd.unique(pd.concat([t["customer_id"].astype(str) for t in (scores, clv_table, recs)
                                        if "customer_id" in t], ignore_index=True)))
    pids = cast(pd.Series, pseudonymize(pd.Series(ids))).to_numpy()

    def pid(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out.insert(0, "customer_pid", pids[ids.get_indexer(out.pop("customer_id").astype(str))])
        return out

    out_dir = ctx.output_dir
    paths = [(write_artifact(pid(scores), out_dir, "scores"), len(scores)),
             (write_artifact(pid(clv_table), out_dir, "clv"), len(clv_table)),
             (write_artifact(pid(recs), out_dir, "recommendations"), len(recs)),
             (write_artifact(run.summary, out_dir, "personalize_summary"), 1)]
    return pd.DataFrame([(p.name, n) for p, n in paths], columns=["artifact", "rows"]).set_index("artifact")


def headline(run: Personalization) -> dict[str, str]:
    """Key numbers of the step for the index page: the customer base, the validation of each
    method against its baseline (in brackets) and the audience files exported."""
    out = customer_base_headline(run.base)
    summary = run.summary
    p = summary.get("propensity")
    if p:
        out["propensity AUC (baseline)"] = f"{p['roc_auc_model']:.3f} ({p['roc_auc_baseline']:.3f})"
    c = summary["clv"]
    if c.get("holdout_mae_model") is not None:
        out["CLV holdout MAE, orders (naive)"] = f"{c['holdout_mae_model']:.2f} ({c['holdout_mae_naive']:.2f})"
    r = summary.get("recommendations")
    if r:
        out["hit rate@10 (popularity)"] = f"{r['hit_rate_at_10_cf']:.0%} ({r['hit_rate_at_10_popularity']:.0%})"
    ex = summary["exports"]
    out["audience files exported"] = f"{sum(e['status'] == 'exported' for e in ex)} of {len(ex)}"
    if "exports" in summary.get("skipped", {}):
        out["email consent"] = "unknown (no consent column)"
        out["audience files exported"] += " (no consent data)"
    return out


def notes(run: Personalization) -> list[str]:
    """Notes for the index page: the fallbacks of propensity, CLV and recommendations, and the
    sections skipped for missing data."""
    seasonal = [run.value.seasonal_skipped] if run.value.seasonal_skipped else []
    exports = [run.summary["skipped"]["exports"] + " Unknown consent counts as not consented: nobody is exported."
               ] if "exports" in run.summary.get("skipped", {}) else []
    return run.propensity.notes + run.value.result.notes + seasonal + run.recommendations.notes + exports
