"""The segment step (``notebooks/02_segment.ipynb``): data-quality audit, cleaning and identity
resolution, Customer 360 features, RFM, behavioural clusters, rule segments, suppression and
consent, season-to-season migration.

The methods live in :mod:`playbook.customers` (:mod:`~playbook.customers.cleaning`,
:mod:`~playbook.customers.features`, :mod:`~playbook.customers.rfm`,
:mod:`~playbook.customers.clusters`, :mod:`~playbook.customers.rules`,
:mod:`~playbook.customers.suppression`) and :mod:`playbook.data.validate`; the data-only results
(audit, defects, identity resolution) come through :mod:`playbook.data.cache`. This module wires
them for the notebook (which imports only this module and :mod:`playbook.steps.context`; one call
per cell), formats tables and sentences, draws the charts and writes the artifacts.
"""

from __future__ import annotations

import math
from typing import cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.artifacts import write_artifact
from playbook.config.campaign import CampaignConfig
from playbook.customers import cleaning, features, rules, suppression
from playbook.customers import clusters as clustering
from playbook.customers import rfm as rfm_method
from playbook.customers.features import live
from playbook.customers.rfm import NO_PURCHASE
from playbook.data import cache
from playbook.data.cutoff import planning_as_of
from playbook.data.needs import Needs
from playbook.data.validate import ValidationReport
from playbook.data.warehouse import Warehouse, to_utc
from playbook.report.charts import empty_chart
from playbook.report.format import fmt_int, fmt_money, format_table
from playbook.report.privacy import pseudonymize
from playbook.steps.context import StepContext

#: Soft findings and how the segment step handles them, in plain language.
SOFT_HANDLING: dict[str, str] = {
    "duplicate_email": "merged into one profile by identity resolution",
    "duplicate_phone": "merged into one profile by identity resolution",
    "invalid_email": "kept, but never exported to email audiences",
    "missing_email": "reachable on other channels only",
    "erased": "excluded from every analysis output and export",
    "events_before_signup": "kept (anonymous browsing linked at signup)",
    "refunds": "netted against revenue; counted separately",
}


#: What the sections need beyond customers and orders (checked before each section speaks).
IDENTITY = Needs("Merging duplicate accounts", columns=("customers.email", "customers.phone"), any_of=True)
CONSENT = Needs("Reaching customers", columns=("customers.consent_email", "customers.consent_ads"), any_of=True)
BROWSING = Needs("Browsing without buying", tables=("events",))


def audit(ctx: StepContext) -> ValidationReport:
    """The data-contract audit of the campaign's data (:func:`playbook.data.validate.validate`
    with the configured orphan threshold; shared across campaigns through :mod:`playbook.data.cache`)."""
    return cache.validation(ctx)


def audit_table(report: ValidationReport) -> pd.DataFrame:
    """Every finding of the audit with its count; example ids are pseudonyms."""
    return report.to_frame(pseudonymous=True)


def describe_audit(report) -> str:
    """Plain-language summary of a :class:`playbook.data.validate.ValidationReport` (Markdown).

    The soft-problem total it states is :attr:`~playbook.data.findings.ValidationReport.soft_count`,
    the number :func:`audit_headline` puts on the index page.
    """
    errors = report.errors
    gaps = report.describe_gaps()
    if not errors and not report.soft:
        return " ".join(x for x in ("The data meets the contract: no errors and no soft problems were found.",
                                    gaps) if x)
    parts = []
    if errors:
        parts.append(f"**{len(errors)} error(s)** must be fixed in the source before the results can be "
                     "trusted: " + "; ".join(f"{f.table}.{f.column or '*'} {f.check} ({f.count:,})"
                                             for f in errors[:5]) + ".")
    else:
        parts.append("No errors: the data meets the contract.")
    soft = report.soft
    if soft:
        items = []
        for f in soft:
            how = SOFT_HANDLING.get(f.check)
            items.append(f"{f.check.replace('_', ' ')} {f.count:,}" + (f" ({how})" if how else ""))
        checks = f"{len(soft)} check" + ("s" if len(soft) != 1 else "")
        parts.append(f"Soft problems ({fmt_int(report.soft_count)} rows in {checks}), handled by cleaning: "
                     + "; ".join(items) + ".")
    else:
        parts.append("No soft problems.")
    if gaps:
        parts.append(gaps)
    return " ".join(parts)


def audit_headline(report) -> dict[str, str]:
    """Headline numbers of the data-quality audit for the index page (the soft-problem total is the
    one :func:`describe_audit` states: :attr:`~playbook.data.findings.ValidationReport.soft_count`)."""
    out = {"data errors": str(len(report.errors)),
           "soft problems": fmt_int(report.soft_count)}
    for check, column in (("duplicate_email", "email"), ("duplicate_phone", "phone"), ("invalid_email", "email")):
        out[check.replace("_", " ")] = (f"n/a (no {column} column)" if report.lacks("customers", column)
                                        else f"{report.count(check):,}")
    return out


# --------------------------------------------------------------------------------------------
# cleaning and identity resolution


def data_quality(ctx: StepContext) -> pd.DataFrame:
    """Defect audit of the raw tables (engine-side counts, pseudonymous examples;
    :func:`playbook.customers.cleaning.defect_audit`, shared through :mod:`playbook.data.cache`)."""
    return cleaning.cached_defect_audit(ctx.wh, cache.cache_dir(ctx.cfg))


def resolve(ctx: StepContext) -> cleaning.IdentityResolution:
    """Identity resolution of the customer accounts (merge map: old id -> kept id;
    :func:`playbook.customers.cleaning.resolve_identities`, shared through :mod:`playbook.data.cache`)."""
    return cleaning.cached_identities(ctx.wh, cache.cache_dir(ctx.cfg))


def defects_table(audit: pd.DataFrame):
    """The defect audit for the report: kind, count, how it is handled, pseudonymous examples."""
    return format_table(audit[["defect", "count", "handling", "examples"]], ints=["count"])


def identity_table(ident: cleaning.IdentityResolution) -> pd.DataFrame:
    """Accounts, people and merges by key, for the report (counts only)."""
    by = ident.merge_map["reason"].value_counts() if ident.n_merged else pd.Series(dtype="int64")
    rows = [("customer accounts", ident.n_accounts), ("people after merging", ident.n_people),
            ("accounts merged", ident.n_merged),
            ("  ... same email", int(by.get("email", 0))), ("  ... same phone", int(by.get("phone", 0))),
            ("  ... same email and phone", int(by.get("email+phone", 0)))]
    return pd.DataFrame(rows, columns=["", "count"]).set_index("")


def describe_cleaning(audit: pd.DataFrame, ident: cleaning.IdentityResolution,
                      wh: Warehouse | None = None) -> str:
    """One plain-language paragraph on the defects found and the merges made (Markdown); with
    ``wh``, says so when the data has no email or phone to merge accounts by (:data:`IDENTITY`)."""
    n = dict(zip(audit["defect"], audit["count"], strict=True))
    if ident.n_accounts == 0:
        return "The customer table is empty: there is nobody to segment."
    reason = IDENTITY.reason(wh) if wh is not None else None
    if reason:
        return (f"{reason} Each of the **{ident.n_accounts:,}** accounts counts as one person. "
                f"{n.get('erased', 0):,} accounts asked for erasure and are excluded everywhere; "
                f"{n.get('refunds', 0):,} refunds are netted against revenue.")
    return (f"Identity resolution merged **{ident.n_merged:,}** duplicate accounts "
            f"({n.get('duplicate_email', 0):,} sharing an email that differs only in case or spaces, "
            f"{n.get('duplicate_phone', 0):,} sharing a phone number written differently), leaving "
            f"**{ident.n_people:,}** people. {n.get('invalid_email', 0):,} emails are malformed and "
            f"{n.get('missing_email', 0):,} missing (never emailed); {n.get('erased', 0):,} accounts asked "
            f"for erasure and are excluded everywhere; {n.get('refunds', 0):,} refunds are netted against "
            "revenue. Examples in the table are pseudonymous ids, never contact data.")


# --------------------------------------------------------------------------------------------
# features


def as_of(cfg) -> pd.Timestamp:
    """The as-of instant of the step: the end of the planning-cutoff day (UTC), from the one
    cutoff definition :func:`playbook.data.cutoff.planning_as_of` (the CLV step uses the same)."""
    return planning_as_of(cfg)


def build_features(ctx, ident: cleaning.IdentityResolution) -> pd.DataFrame:
    """Customer 360 features as of the planning cutoff, indexed by the kept customer id.

    Windows: 30, 90 and 365 days plus every ``window_days`` used by the config's rule segments.
    Includes erased people (flag ``erased``) so suppression can count them; every analysis below
    drops them.
    """
    cut = as_of(ctx.cfg)
    windows = sorted(set(features.DEFAULT_WINDOWS) | set(rules.required_windows(ctx.cfg.segments))
                     | {suppression.SERVICE_DAYS})
    f = features.customer_features(ctx.wh, cut, ident.merge_map, windows=windows,
                                   seasons=features.past_seasons(ctx.cfg, cut))
    return f.set_index("customer_id")


def feature_overview(feats: pd.DataFrame, currency: str = "USD") -> pd.DataFrame:
    """Median and mean of the headline features over the analysis base (buyers and everyone)."""
    f = live(feats)
    spec = [("orders (whole history)", "orders_total", False), ("net revenue per customer", "monetary_total", True),
            ("average order value", "aov", True), ("days since last order (buyers)", "days_since_last_order", False),
            ("tenure (days since signup)", "tenure_days", False), ("share bought on discount", "discount_share", False),
            ("email open rate", "email_open_rate", False), ("email click rate", "email_click_rate", False),
            ("orders in the last 90 days", "orders_90d", False), ("views in the last 30 days", "views_30d", False),
            ("cart abandonments (last 30 days)", "cart_abandonments_30d", False),
            ("bought last season (share)", "bought_last_season", False)]
    rows = []
    for label, col, money in spec:
        if col not in f:
            continue
        s = f[col].dropna()
        fmt = (lambda v: fmt_money(v, currency)) if money else (lambda v: f"{v:,.2f}")
        rows.append((label, fmt(s.median()) if len(s) else "no data", fmt(s.mean()) if len(s) else "no data"))
    return pd.DataFrame(rows, columns=["feature", "median", "mean"]).set_index("feature")


def describe_features(feats: pd.DataFrame, wh: Warehouse | None = None) -> str:
    """Customers, buyers and browsers before the cutoff (Markdown); the browsing clause only when
    the data has web events (:data:`BROWSING`, checked with ``wh``)."""
    f = live(feats)
    if f.empty:
        return "No customers signed up before the planning cutoff: there is nothing to segment."
    buyers = int((f["orders_total"] > 0).sum())
    browsing = (f" {int(f['browsing_without_buying'].sum()):,} browsed in the last 90 days without buying."
                if wh is None or BROWSING.reason(wh) is None else "")
    return (f"**{len(f):,}** customers (not erased) signed up before the planning cutoff; "
            f"{buyers:,} ({buyers / len(f):.0%}) have bought at least once and "
            f"{int(f['bought_last_season'].sum()):,} bought during last season.{browsing}")


# --------------------------------------------------------------------------------------------
# RFM


def rfm_segments(feats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RFM scores and segments of the analysis base, and the per-segment summary
    (:func:`playbook.customers.rfm.rfm_scores`, :func:`playbook.customers.rfm.rfm_summary`)."""
    scores = rfm_method.rfm_scores(feats)
    return scores, rfm_method.rfm_summary(scores, feats)


def rfm_table(summary: pd.DataFrame, currency: str = "USD"):
    """The RFM summary formatted for the report (money, percentages, counts)."""
    t = summary.rename(columns={"median_days_since_last_order": "median days since last order",
                                "median_orders": "median orders", "median_revenue": "median revenue",
                                "revenue_share": "revenue share"})
    return format_table(t, money=["revenue", "median revenue"], pct=["share", "revenue share"],
                        ints=["customers", "median days since last order"], currency=currency,
                        hide_index=False)


def plot_rfm(summary: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Bars: customers per RFM segment next to the segment's share of revenue."""
    fig, ax = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    if summary["customers"].sum() == 0:
        for a in ax:
            a.set_axis_off()
        ax[0].text(0.5, 0.5, "No customers to score", ha="center", va="center", transform=ax[0].transAxes)
        return fig
    s = summary.iloc[::-1]
    ax[0].barh(s.index, s["customers"], color="#1f4e79")
    ax[0].set_title("Customers per RFM segment")
    ax[0].set_xlabel("customers")
    ax[1].barh(s.index, s["revenue_share"] * 100, color="#c0504d")
    ax[1].set_title("Share of net revenue")
    ax[1].set_xlabel(f"% of net revenue before the cutoff ({currency})")
    ax[0].set_ylabel("RFM segment")
    fig.tight_layout()
    return fig


def describe_rfm(summary: pd.DataFrame) -> str:
    n = int(summary["customers"].sum())
    if n == 0:
        return "No customers to score: RFM needs customers who signed up before the cutoff."
    top = summary.loc[["Champions", "Loyal"]]
    risk = summary.loc[["At Risk", "Can't Lose"]]
    return (f"Champions and Loyal customers are {int(top['customers'].sum()):,} people "
            f"({top['customers'].sum() / n:.0%} of the base) but bring "
            f"{top['revenue_share'].sum():.0%} of net revenue; {int(risk['customers'].sum()):,} valuable "
            f"customers are At Risk or Can't Lose (worth {risk['revenue_share'].sum():.0%} of revenue) and "
            f"{int(summary.loc[NO_PURCHASE, 'customers']):,} have not bought yet.")


# --------------------------------------------------------------------------------------------
# clustering


def clusters(feats: pd.DataFrame, seed: int) -> clustering.ClusterResult:
    """K-Means clusters of the analysis base (k by silhouette), GMM comparison, stability."""
    return clustering.cluster_customers(live(feats), seed=seed)


def cluster_quality(cl: clustering.ClusterResult) -> pd.DataFrame:
    """Model choice and comparison in one table: silhouette per k, chosen k, GMM, stability."""
    rows = [(f"silhouette, k = {int(r.k)}", f"{r.silhouette:.3f}") for r in cl.silhouette_by_k_.itertuples()]
    rows.append(("chosen k (highest silhouette)", str(cl.k_)))
    for r in cl.comparison_.itertuples():
        rows.append((f"{r.method}: silhouette", f"{r.silhouette:.3f}" if not math.isnan(r.silhouette) else "n/a"))
    if len(cl.comparison_) > 1:
        rows.append(("agreement GMM vs K-Means (ARI)", f"{cl.comparison_['ari_vs_kmeans'].iloc[1]:.2f}"))
    if len(cl.stability_):
        rows.append((f"stability across {len(cl.stability_)} other seeds (mean ARI)", f"{cl.stability_ari_:.3f}"))
    return pd.DataFrame(rows, columns=["measure", "value"]).set_index("measure")


def plot_clusters(cl: clustering.ClusterResult) -> plt.Figure:
    """Heat map of cluster profiles: each feature's cluster mean as a z-score (-2..2)."""
    prof = cl.profiles_.drop(columns=["name", "customers", "share"], errors="ignore")
    fig, ax = plt.subplots(figsize=(11, 0.55 * max(len(prof), 2) + 2))
    if prof.empty or len(prof) < 2:
        empty_chart(ax, "Only one group: too few customers to cluster")
        return fig
    z = (prof - prof.mean()) / prof.std(ddof=0).replace(0, 1.0)
    im = ax.imshow(z.fillna(0).to_numpy(), cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_yticks(range(len(prof)), [f"{i}: {cl.names_[i]} ({cl.profiles_.loc[i, 'share']:.0%})" for i in prof.index])
    ax.set_xticks(range(prof.shape[1]), prof.columns, rotation=30, ha="right")
    ax.set_title("Cluster profiles (cluster mean vs other clusters)")
    ax.set_xlabel("feature")
    ax.set_ylabel("cluster (share of customers)")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="z-score of the cluster mean")
    fig.tight_layout()
    return fig


def describe_clusters(cl: clustering.ClusterResult) -> str:
    if cl.k_ < 2:
        return " ".join(cl.notes) or "Too few customers to cluster."
    big = cl.profiles_.sort_values("customers", ascending=False).iloc[0]
    return (f"K-Means found **{cl.k_}** behavioural groups (highest silhouette); the largest is "
            f"\"{big['name']}\" ({big['share']:.0%} of customers). Rerunning with other seeds gives the "
            f"same groups (mean ARI {cl.stability_ari_:.2f}); a Gaussian mixture agrees only partly "
            f"(ARI {cl.comparison_['ari_vs_kmeans'].iloc[1]:.2f}), so treat the groups as a description "
            "of behaviour, not as natural types.")


# --------------------------------------------------------------------------------------------
# rule segments


def rule_fields(feats: pd.DataFrame, rfm: pd.DataFrame, cl: clustering.ClusterResult) -> pd.DataFrame:
    """The table rules are evaluated on: features + RFM scores/segment + cluster (analysis base)."""
    f = live(feats).drop(columns=["signup_ts", "first_order_ts", "last_order_ts"], errors="ignore")
    f = f.join(rfm[["rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment"]])
    f["cluster"] = cl.labels_.reindex(f.index).fillna(0).astype("int64")
    f["cluster_name"] = f["cluster"].map(cl.names_).astype(str)
    return f


def rule_segments(feats: pd.DataFrame, rfm: pd.DataFrame, cl: clustering.ClusterResult,
                  cfg: CampaignConfig) -> rules.RuleSegments:
    """Evaluate the config's rule segments on :func:`rule_fields`; bad segments are reported, the
    others built (:func:`playbook.customers.rules.build_rule_segments`)."""
    return rules.build_rule_segments(rule_fields(feats, rfm, cl), cfg.segments)


def rule_segment_table(result: rules.RuleSegments, n_customers: int):
    """Members per rule segment with share of the base and status (built / empty / not built)."""
    t = result.sizes()
    t.insert(2, "share", t["size"] / n_customers if n_customers else 0.0)
    return format_table(t, pct=["share"], ints=["size"])


def describe_rule_segments(result: rules.RuleSegments, n_customers: int) -> str:
    """Sentence on the built, empty and failed rule segments (:func:`playbook.customers.rules.describe_rule_segments`)."""
    return rules.describe_rule_segments(result, n_customers)


# --------------------------------------------------------------------------------------------
# suppression


def converted_in_window(ctx, ident: cleaning.IdentityResolution) -> set[str]:
    """People who already bought in the campaign window before the as-of instant (empty before the
    season starts)."""
    return features.buyers_between(ctx.wh, ident.merge_map, to_utc(ctx.cfg.season.start), as_of(ctx.cfg))


def suppress(ctx, feats: pd.DataFrame, ident: cleaning.IdentityResolution) -> pd.DataFrame:
    """Reason flags and ``suppress_<channel>`` per person (all people, erased included)."""
    conv = pd.Series(feats.index.isin(list(converted_in_window(ctx, ident))), index=feats.index)
    return suppression.suppression_flags(feats, converted=conv)


def suppression_table(flags: pd.DataFrame) -> pd.DataFrame:
    return suppression.reason_counts(flags)


def describe_suppression(flags: pd.DataFrame, wh: Warehouse | None = None) -> str:
    """Reachable people per channel and the main reason for suppression (Markdown); with ``wh``,
    says when the data has no consent columns (:data:`CONSENT`): unknown consent counts as not
    consented, so nobody is reachable."""
    n = len(flags)
    reason = CONSENT.reason(wh) if wh is not None else None
    if reason and n:
        return (f"{reason} Unknown consent counts as not consented, so none of the {n:,} people is "
                "reachable and no audience is exported.")
    if n == 0:
        return "No customers: nobody to contact and nobody to suppress."
    parts = [f"{ch}: **{int((~flags[f'suppress_{ch}']).sum()):,}** reachable "
             f"({(~flags[f'suppress_{ch}']).mean():.0%})" for ch in suppression.CHANNELS]
    counts = suppression.reason_counts(flags).loc[list(suppression.REASONS)]
    main = counts.sum(axis=1).idxmax()
    lead = (f" The most common reason is {main.replace('_', ' ')}." if counts.to_numpy().sum() else
            " Nobody is suppressed.")
    return ("Of " + f"{n:,} people, " + "; ".join(parts) + "." + lead + " Erased, unsubscribed and bounced "
            "people are never exported for the channel concerned.")


def plot_overlap(members: pd.DataFrame, threshold: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8.5, 7))
    if members.shape[1] < 2:
        empty_chart(ax, "Fewer than two audiences: no overlap to show")
        return fig
    share = suppression.overlap_matrix(members)[1]
    im = ax.imshow(share.to_numpy() * 100, cmap="Blues", vmin=0, vmax=100)
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            v = share.iat[i, j]
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=9,
                    color="white" if v > 0.6 else ("#c00000" if v > threshold and i != j else "black"))
    ax.set_xticks(range(share.shape[1]), share.columns, rotation=35, ha="right")
    ax.set_yticks(range(share.shape[0]), share.index)
    ax.grid(False)
    ax.set_title("Audience overlap (share of the smaller audience)")
    ax.set_xlabel("audience")
    ax.set_ylabel("audience")
    fig.colorbar(im, ax=ax, label="% of the smaller audience in both")
    fig.tight_layout()
    return fig


def describe_overlap(members: pd.DataFrame, threshold: float) -> str:
    warns = suppression.overlap_warnings(members, threshold)
    if members.shape[1] < 2:
        return "Fewer than two audiences were built, so there is no overlap to check."
    if not warns:
        return f"No two audiences overlap by more than {threshold:.0%}."
    return "**Overlap warning.** " + " ".join(warns)


# --------------------------------------------------------------------------------------------
# migration


def previous_as_of(cfg) -> pd.Timestamp:
    """The same point one season earlier: the cutoff shifted back by the gap between this season's
    start and the latest comparison season's start (365 days without comparison seasons)."""
    cut = as_of(cfg)
    starts = [s.start for s in cfg.comparison_seasons if s.start < cfg.season.start]
    gap = (cfg.season.start - max(starts)).days if starts else 365
    return cut - pd.Timedelta(days=gap)


def rfm_migration(ctx, ident: cleaning.IdentityResolution, rfm_now: pd.DataFrame) -> pd.DataFrame:
    """Customers moving between RFM segments from the previous season's cutoff to this one.

    Returns the count matrix of :func:`playbook.customers.rfm.migration_matrix`: rows = segment at
    :func:`previous_as_of` (plus ``NOT_YET``), columns = segment now; people erased since are
    left out.
    """
    prev = features.rfm_inputs(ctx.wh, previous_as_of(ctx.cfg), ident.merge_map).set_index("customer_id")
    return rfm_method.migration_matrix(rfm_method.rfm_scores(prev)["rfm_segment"], rfm_now["rfm_segment"])


def plot_migration(matrix: pd.DataFrame) -> plt.Figure:
    """Heat map of the transition matrix (row shares, with counts)."""
    m = matrix.loc[matrix.sum(axis=1) > 0, matrix.sum(axis=0) > 0]
    fig, ax = plt.subplots(figsize=(12, 8))
    if m.empty:
        empty_chart(ax, "No customers to compare")
        return fig
    share = m.div(m.sum(axis=1), axis=0)
    im = ax.imshow(share.to_numpy() * 100, cmap="Greens", vmin=0, vmax=100, aspect="auto")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m.iat[i, j]:
                ax.text(j, i, f"{share.iat[i, j]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if share.iat[i, j] > 0.6 else "black")
    ax.set_xticks(range(m.shape[1]), m.columns, rotation=35, ha="right")
    ax.set_yticks(range(m.shape[0]), [f"{r} ({int(m.loc[r].sum()):,})" for r in m.index])
    ax.grid(False)
    ax.set_title("RFM segment migration: last season's cutoff to this season's")
    ax.set_xlabel("segment now")
    ax.set_ylabel("segment one season earlier (customers)")
    fig.colorbar(im, ax=ax, label="% of the row's customers")
    fig.tight_layout()
    return fig


def describe_migration(matrix: pd.DataFrame) -> str:
    if matrix.to_numpy().sum() == 0:
        return "No customers to compare between seasons."
    good = ["Champions", "Loyal"]
    was_good = matrix.loc[good].sum(axis=1).sum()
    stayed = matrix.loc[good, good].to_numpy().sum()
    slipped = matrix.loc[good, ["At Risk", "Can't Lose", "Hibernating", "Lost", "About to Sleep"]].to_numpy().sum()
    new = int(matrix.loc[rfm_method.NOT_YET].sum())
    if was_good == 0:
        return f"No Champions or Loyal customers one season ago; {new:,} customers signed up since."
    return (f"Of {int(was_good):,} Champions and Loyal customers one season ago, {stayed / was_good:.0%} still are, "
            f"while {slipped / was_good:.0%} slipped to At Risk, Can't Lose, About to Sleep, Hibernating or Lost; "
            f"{new:,} customers signed up since.")


# --------------------------------------------------------------------------------------------
# artifacts and headline


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


def segments_table(feats: pd.DataFrame, rfm: pd.DataFrame, cl: clustering.ClusterResult,
                   rs: rules.RuleSegments, flags: pd.DataFrame) -> pd.DataFrame:
    """One row per person of the analysis base, keyed by a pseudonymous id (HMAC); no raw ids.

    Columns: ``customer_pid``, ``country``, ``rfm_r``, ``rfm_f``, ``rfm_m``, ``rfm_score``,
    ``rfm_segment``, ``cluster``, ``cluster_name``, ``seg_<segment slug>`` (bool per built rule
    segment), ``suppress_email|sms|ads`` (bool) and ``reasons_email|sms|ads`` (``;``-joined).
    """
    f = live(feats)
    out = pd.DataFrame(index=f.index)
    out["customer_pid"] = pseudonymize(pd.Series(f.index.astype(str), index=f.index))
    out["country"] = f["country"]
    out = out.join(rfm[["rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment"]])
    out["cluster"] = cl.labels_.reindex(f.index).fillna(0).astype("int64")
    out["cluster_name"] = out["cluster"].map(cl.names_).astype(str)
    for name in rs.members.columns:
        out["seg_" + _slug(name)] = rs.members[name].reindex(f.index).fillna(False).astype(bool)
    for ch in suppression.CHANNELS:
        fl = flags.reindex(f.index)
        out[f"suppress_{ch}"] = fl[f"suppress_{ch}"].astype(bool)
        joined = pd.Series("", index=f.index, dtype=object)
        for r in suppression.REASONS:
            joined = joined + np.where(fl[f"{ch}_{r}"].to_numpy(dtype=bool), r + ";", "")
        out[f"reasons_{ch}"] = joined.str.rstrip(";").astype(object)
    return out.reset_index(drop=True)


def summarize(audit: pd.DataFrame, ident: cleaning.IdentityResolution, feats: pd.DataFrame,
              rfm_sum: pd.DataFrame, cl: clustering.ClusterResult, rs: rules.RuleSegments,
              flags: pd.DataFrame, threshold: float) -> dict:
    """The step's summary (JSON-ready; counts and pseudonymous data only)."""
    counts = suppression.reason_counts(flags)
    return {
        "as_of": None,
        "defects": dict(zip(audit["defect"], audit["count"].astype(int), strict=True)),
        "accounts": ident.n_accounts, "people": ident.n_people, "merged_accounts": ident.n_merged,
        "customers_analysed": int(len(live(feats))),
        "rfm_segments": {k: int(v) for k, v in rfm_sum["customers"].items()},
        "rfm_revenue_share": {k: float(v) for k, v in rfm_sum["revenue_share"].items()},
        "clusters": {"k": cl.k_, "names": {str(k): v for k, v in cl.names_.items()},
                     "sizes": {str(k): int(v) for k, v in cl.labels_.value_counts().sort_index().items()},
                     "silhouette": {str(int(r.k)): float(r.silhouette) for r in cl.silhouette_by_k_.itertuples()},
                     "stability_mean_ari": cl.stability_ari_,
                     "gmm_ari_vs_kmeans": float(cl.comparison_["ari_vs_kmeans"].iloc[1]) if len(cl.comparison_) > 1 else None},
        "rule_segments": {c: int(rs.members[c].sum()) for c in rs.members.columns},
        "rule_segment_problems": rs.problems, "empty_rule_segments": rs.empty,
        "suppression": {ch: {r: int(v) for r, v in counts[ch].items()} for ch in counts.columns},
        "overlap_warnings": suppression.overlap_warnings(rs.members, threshold),
    }


def write_artifacts(ctx, table: pd.DataFrame, summary: dict, ident: cleaning.IdentityResolution) -> pd.DataFrame:
    """Write ``segments.parquet``, ``segments_summary.json`` and ``merge_map.parquet``
    (pseudonymous account id -> pseudonymous kept id) into the step's artifacts folder.

    Returns a small table of what was written (file, rows).
    """
    summary = {**summary, "as_of": as_of(ctx.cfg).isoformat()}
    mm = ident.merge_map
    merge = pd.DataFrame({"account_pid": cast(pd.Series, pseudonymize(mm["customer_id"].astype(str))).to_numpy() if len(mm) else [],
                          "kept_pid": cast(pd.Series, pseudonymize(mm["kept_id"].astype(str))).to_numpy() if len(mm) else [],
                          "reason": mm["reason"].to_numpy()})
    paths = [(write_artifact(table, ctx.output_dir, "segments"), len(table)),
             (write_artifact(summary, ctx.output_dir, "segments_summary"), 1),
             (write_artifact(merge, ctx.output_dir, "merge_map"), len(merge))]
    return pd.DataFrame([(p.name, n) for p, n in paths], columns=["artifact", "rows"]).set_index("artifact")


def headline(summary: dict, report: ValidationReport | None = None) -> dict[str, str]:
    """Key numbers of the step for the index page (the audit's first, with ``report``)."""
    seg = summary["rfm_segments"]
    sup = summary["suppression"]
    out = audit_headline(report) if report is not None else {}
    out |= {
        "people after merging": fmt_int(summary["people"]),
        "duplicate accounts merged": fmt_int(summary["merged_accounts"]),
        "champions": fmt_int(seg.get("Champions", 0)),
        "at risk + can't lose": fmt_int(seg.get("At Risk", 0) + seg.get("Can't Lose", 0)),
        "behavioural clusters": str(summary["clusters"]["k"]),
        "email-reachable": fmt_int(sup["email"]["reachable"]),
        "ads-reachable": fmt_int(sup["ads"]["reachable"]),
    }
    if report is not None and report.lacks("customers", "consent_email"):
        out["email-reachable"] += " (no consent column)"
    if report is not None and report.lacks("customers", "consent_ads"):
        out["ads-reachable"] += " (no consent column)"
    if summary["overlap_warnings"]:
        out["audience overlap warnings"] = str(len(summary["overlap_warnings"]))
    if summary["rule_segment_problems"]:
        out["rule segments not built"] = str(len(summary["rule_segment_problems"]))
    return out
