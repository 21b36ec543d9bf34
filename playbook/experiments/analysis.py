"""Experiment analysis: SRM, lifts with intervals, CUPED, corrections, guardrails, segments,
sequential monitoring, a Bayesian view and one plain-language decision per experiment.

Per-arm outcomes are aggregated by the engine (:mod:`playbook.experiments.data`); the statistics
are the tested functions of :mod:`playbook.experiments.stats`. Each experiment is analysed on its
own: a problem with one (no assignments, an empty arm, a metric without data, customers in two
arms) gives a clear message for that experiment and the others are still analysed.

Arm names: the config's ``variants`` should match the data's ``variant`` values. When they do not
and the data uses the generic labels ``control``/``treatment`` for a two-arm test, the arms are
matched by planned share (the config arm whose planned share is closest to each data arm's
observed share; by position when the shares are equal) and a note says so.

Decision rule (primary metric, family-wise corrected p-value):

1. sample ratio mismatch (chi-square p < 0.001) -> **inconclusive**, never ship;
2. a guardrail significantly worse -> **don't ship**;
3. a treatment significantly better -> **ship** (the best one); significantly worse -> **don't ship**;
4. otherwise the interval rules out the MDE -> **don't ship** (no effect worth having);
   else **inconclusive**, with the users (and days at the observed rate) still needed.

An A/A test (``kind: aa``: identical arms by design) is a sanity check, not a search for an
effect: **passed** when the split matches the plan and no primary or guardrail metric differs
significantly, else **failed: check the assignment**, saying why (the SRM p-value, or the metric
that differs); never ship, don't ship or inconclusive.

The tables, charts and sentences shown about the analyses are in
:mod:`playbook.experiments.report`; the test step (:mod:`playbook.steps.test`) writes the
artifacts and the headline numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from playbook.data.cutoff import campaign_zone
from playbook.data.warehouse import calendar_day
from playbook.experiments import stats as es
from playbook.experiments.data import (
    METRICS,
    Window,
    assignment_summary,
    daily_user_orders,
    user_outcomes,
)
from playbook.experiments.design import balance_check

SRM_P = 0.001
#: The verdicts of an A/A test (:func:`decide_aa`).
AA_PASSED, AA_FAILED = "passed", "failed: check the assignment"
#: The message (and, capitalised, the decision reason) of every experiment when the data has no
#: ``assignments`` table: planned and sized, but nothing to analyse yet.
NO_ASSIGNMENTS_TABLE = ("not started: the data has no assignments table yet, so this planned test "
                        "(sized in the design) cannot be analysed")
GENERIC_ARMS = ("control", "treatment")
#: Guardrails where an increase is harm (all others: a decrease is harm).
HIGHER_IS_WORSE = {"unsubscribe_rate", "refund_rate", "bounce_rate"}
RESULT_COLUMNS = ["experiment_id", "metric", "role", "control", "variant", "n_control", "n_variant",
                  "value_control", "value_variant", "abs_lift", "abs_lo", "abs_hi", "rel_lift",
                  "rel_lo", "rel_hi", "p_value", "p_adjusted", "correction", "significant",
                  "cuped_rel_lift", "cuped_rel_lo", "cuped_rel_hi", "cuped_p_value",
                  "variance_reduction", "boot_rel_lo", "boot_rel_hi", "prob_beat_control",
                  "expected_loss", "note"]
#: Column types of :func:`results_table` (labels are text, ``significant`` is True/False/missing).
_RESULT_TYPES: dict[str, str] = {c: ("str" if c in ("experiment_id", "metric", "role", "control", "variant",
                                                   "correction", "note") else
                                     "int64" if c in ("n_control", "n_variant") else
                                     "object" if c == "significant" else "float64") for c in RESULT_COLUMNS}


@dataclass
class ExperimentAnalysis:
    """Everything the report shows about one experiment."""

    experiment_id: str
    name: str
    metric: str
    messages: list[str] = field(default_factory=list)
    arms: pd.DataFrame = field(default_factory=pd.DataFrame)
    srm_p: float = float("nan")
    results: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RESULT_COLUMNS))
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    sequential: pd.DataFrame = field(default_factory=pd.DataFrame)
    decision: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Arms
# --------------------------------------------------------------------------------------------
def match_arms(variants: list[str], shares: list[float], counts: dict[str, int]) -> tuple[dict[str, str], str]:
    """Map data arm labels to configured variants; returns ``({data: config}, note)``.

    Identity when every data label is a configured variant. For a two-arm test whose data uses
    ``control``/``treatment``, arms are matched by planned vs observed share (by position when
    the planned shares are equal). Otherwise data arms keep their labels (unplanned arms).
    """
    data = list(counts)
    if set(data) <= set(variants):
        return {d: d for d in data}, ""
    if set(data) == set(GENERIC_ARMS) and len(variants) == 2:
        if abs(shares[0] - shares[1]) < 1e-9:
            mapping = {"control": variants[0], "treatment": variants[1]}
        else:
            total = sum(counts.values())
            obs = {d: counts[d] / total for d in data}
            first = min(data, key=lambda d: abs(obs[d] - shares[0]))
            mapping = {first: variants[0], next(d for d in data if d != first): variants[1]}
        pairs = ", ".join(f"'{k}' as '{v}'" for k, v in mapping.items())
        return mapping, (f"the data labels its arms control/treatment; read {pairs} (matched by "
                         "planned share). Use the configured names in the data to avoid this.")
    return {d: d for d in data}, ""


def arm_table(exp, counts: dict[str, int]) -> pd.DataFrame:
    """Planned vs observed users per configured arm (and unplanned arms found in the data)."""
    shares = list(exp.allocation or [1 / len(exp.variants)] * len(exp.variants))
    rows = [{"variant": v, "planned_share": s, "users": int(counts.get(v, 0))}
            for v, s in zip(exp.variants, shares, strict=True)]
    rows += [{"variant": v, "planned_share": np.nan, "users": int(n)} for v, n in counts.items()
             if v not in exp.variants]
    df = pd.DataFrame(rows)
    total = df["users"].sum()
    df["observed_share"] = df["users"] / total if total else np.nan
    return df


# --------------------------------------------------------------------------------------------
# One comparison
# --------------------------------------------------------------------------------------------
def _values(df: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, str, str]:
    col, cov, kind, pop = METRICS[metric]
    sub = df if pop is None else df[df[pop] > 0]
    return sub.dropna(subset=[col]), col, cov


def compare(df: pd.DataFrame, metric: str, control: str, variant: str, alpha: float, seed: int,
            winsor: float | None = None, n_boot: int = 1000) -> dict:
    """One treatment vs control on one metric: fixed-horizon test, CUPED, bootstrap, Bayes.

    ``df`` holds one row per user (:func:`playbook.experiments.data.user_outcomes`) with arm
    labels already mapped to configured variants.
    """
    sub, col, cov = _values(df, metric)
    kind = METRICS[metric][2]
    c, t = sub[sub["variant"] == control], sub[sub["variant"] == variant]
    row = {"metric": metric, "control": control, "variant": variant, "n_control": len(c),
           "n_variant": len(t), "note": ""}
    if len(c) < 2 or len(t) < 2:
        pop = METRICS[metric][3]
        who = {"received": "received a message in the window", "converted": "bought in the window",
               None: "have an outcome"}[pop]
        row["note"] = (f"no data for {metric}: {len(c)} user(s) in '{control}' and {len(t)} in "
                       f"'{variant}' {who}")
        return row
    y_c, y_t = c[col].to_numpy(float), t[col].to_numpy(float)
    if kind == "mean" and winsor:
        capped = es.winsorize(np.r_[y_c, y_t], winsor)
        y_c, y_t = capped[: len(y_c)], capped[len(y_c):]
    if kind == "proportion":
        r = es.two_proportion_test(y_c.sum(), len(y_c), y_t.sum(), len(y_t), alpha)
        bayes = es.beta_binomial_view(int(y_c.sum()), len(y_c), int(y_t.sum()), len(y_t), seed)
        vc, vt = r["p_c"], r["p_t"]
    else:
        r = es.welch_from_values(y_c, y_t, alpha)
        bayes = es.normal_bayes_view(float(r["abs_lift"]), float(r["abs_se"]))
        vc, vt = r["m_c"], r["m_t"]
        boot = es.bootstrap_lift_ci(y_c, y_t, seed=seed, n_boot=n_boot, alpha=alpha)
        row.update(boot_rel_lo=boot["rel_lo"], boot_rel_hi=boot["rel_hi"])
    row.update(value_control=float(vc), value_variant=float(vt),
               **{k: float(r[k]) for k in ("abs_lift", "abs_lo", "abs_hi", "rel_lift", "rel_lo", "rel_hi", "p_value")},
               **bayes)
    x = np.r_[c[cov].to_numpy(float), t[cov].to_numpy(float)]
    y = np.r_[y_c, y_t]
    if np.var(x) > 0:
        adj = es.cuped_adjust(y, x)
        rc = es.welch_from_values(adj[: len(y_c)], adj[len(y_c):], alpha)
        raw_var = np.var(y_c, ddof=1) / len(y_c) + np.var(y_t, ddof=1) / len(y_t)
        row.update(cuped_rel_lift=float(rc["rel_lift"]), cuped_rel_lo=float(rc["rel_lo"]),
                   cuped_rel_hi=float(rc["rel_hi"]), cuped_p_value=float(rc["p_value"]),
                   variance_reduction=float(1 - rc["abs_se"] ** 2 / raw_var) if raw_var > 0 else np.nan)
    return row


def segment_breakdown(df: pd.DataFrame, metric: str, control: str, variants: list[str],
                      alpha: float, by: str = "country", min_users: int = 50) -> pd.DataFrame:
    """Exploratory lift by segment (no correction; segments below ``min_users`` per arm skipped)."""
    rows = []
    for seg, grp in df.groupby(by, sort=True):
        for v in variants:
            sub, col, _ = _values(grp, metric)
            c, t = sub[sub["variant"] == control][col], sub[sub["variant"] == v][col]
            if len(c) < min_users or len(t) < min_users:
                continue
            if METRICS[metric][2] == "proportion":
                r = es.two_proportion_test(c.sum(), len(c), t.sum(), len(t), alpha)
            else:
                r = es.welch_from_values(c.to_numpy(float), t.to_numpy(float), alpha)
            rows.append({"segment": f"{by} = {seg}", "variant": v, "n_control": len(c), "n_variant": len(t),
                         "rel_lift": float(r["rel_lift"]), "rel_lo": float(r["rel_lo"]),
                         "rel_hi": float(r["rel_hi"]), "p_value": float(r["p_value"]),
                         "label": "exploratory (not corrected for multiple comparisons)"})
    return pd.DataFrame(rows, columns=["segment", "variant", "n_control", "n_variant", "rel_lift",
                                       "rel_lo", "rel_hi", "p_value", "label"])


# --------------------------------------------------------------------------------------------
# Sequential monitoring
# --------------------------------------------------------------------------------------------
def daily_path(users: pd.DataFrame, daily: pd.DataFrame, metric: str, control: str, variant: str,
               days: int, alpha: float) -> pd.DataFrame:
    """Cumulative effect by day with the group-sequential boundary (conversion and revenue).

    Every assigned user counts from day 0 (assigned before the window); the metric on day d is
    the outcome to date. Information fractions: odds of the pooled rate to date over the final
    odds (conversion), SE^2 to date over the final SE^2 (revenue); see
    :func:`playbook.experiments.stats.info_fraction_rates`. The last day is the final analysis
    (all alpha spent).
    """
    if metric not in ("conversion", "revenue_per_user") or daily.empty:
        return pd.DataFrame()
    arm = users.set_index("customer_id")["variant"]
    d = daily[daily["customer_id"].isin(arm.index)].copy()
    d["variant"] = d["customer_id"].map(arm)
    n = users["variant"].value_counts()
    if metric == "conversion":
        first = d.groupby("customer_id").agg(day=("day", "min"), variant=("variant", "first"))
        per = first.groupby(["variant", "day"]).size().unstack(0).reindex(range(days)).fillna(0).cumsum()
        x_c, x_t = per.get(control, 0 * per.iloc[:, 0]), per.get(variant, 0 * per.iloc[:, 0])
        r = es.two_proportion_test(x_c.to_numpy(), n.get(control, 0), x_t.to_numpy(), n.get(variant, 0), alpha)
        z, lift, se = r["z"], r["rel_lift"], r["abs_se"]
        n_all = n.get(control, 0) + n.get(variant, 0)
        t = es.info_fraction_rates((x_c.to_numpy() + x_t.to_numpy()) / max(n_all, 1))
    else:
        d = d.sort_values(["customer_id", "day"])
        cum = d.groupby("customer_id")["revenue"].cumsum()
        d["dsq"] = 2 * (cum - d["revenue"]) * d["revenue"] + d["revenue"] ** 2
        s1 = d.groupby(["variant", "day"])["revenue"].sum().unstack(0).reindex(range(days)).fillna(0).cumsum()
        s2 = d.groupby(["variant", "day"])["dsq"].sum().unstack(0).reindex(range(days)).fillna(0).cumsum()
        stats_ = {}
        for v in (control, variant):
            nv = n.get(v, 0)
            a = s1.get(v, 0 * s1.iloc[:, 0]).to_numpy()
            b = s2.get(v, 0 * s2.iloc[:, 0]).to_numpy()
            mean = a / nv if nv else np.full(days, np.nan)
            var = (b - nv * mean**2) / (nv - 1) if nv > 1 else np.full(days, np.nan)
            stats_[v] = (mean, var, nv)
        r = es.welch_test(*stats_[control], *stats_[variant], alpha)
        z, lift, se = r["t"], r["rel_lift"], r["abs_se"]
        t = es.info_fraction_means(se)
    out = pd.DataFrame({"day": np.arange(1, days + 1), "z": z, "rel_lift": lift, "se": se,
                        "info_fraction": t})
    out = out[np.isfinite(out["z"]) & (out["se"] > 0)]
    out = out[es.usable_looks(out["info_fraction"].to_numpy())].reset_index(drop=True)
    if out.empty:
        return out
    out.loc[len(out) - 1, "info_fraction"] = 1.0
    out["boundary"] = es.group_sequential_bounds(out["info_fraction"].to_numpy(), alpha)
    out["fixed_horizon"] = float(es._z(alpha))
    out["variant"] = variant
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Decision
# --------------------------------------------------------------------------------------------
def decide(a: ExperimentAnalysis, exp, users_per_day: float) -> dict:
    """The verdict and its one-sentence reason (see the module docstring for the rule)."""
    res = a.results
    if res.empty or res[res["role"] == "primary"]["p_value"].isna().all():
        why = a.messages[-1] if a.messages else "no usable data for the primary metric"
        return {"verdict": "no result", "reason": why[0].upper() + why[1:]}
    prim = res[(res["role"] == "primary") & res["p_value"].notna()]
    values = [c for c in ("value_control", "value_variant") if c in prim.columns]
    if values and (prim[values].fillna(0).to_numpy() == 0).all():
        return {"verdict": "no result", "reason": (
            f"No {prim['metric'].iloc[0]} in either arm during the window (the season has no orders "
            "from these users yet), so there is nothing to compare.")}
    if getattr(exp, "kind", "ab") == "aa":
        return decide_aa(a)
    if a.srm_p < SRM_P:
        return {"verdict": "inconclusive", "reason": (
            f"Sample ratio mismatch (chi-square p = {a.srm_p:.1g}): the arms are not in the planned "
            "split, so the result cannot be trusted; fix the assignment before deciding.")}
    guard = res[(res["role"] == "guardrail") & res["significant"].fillna(False)]
    harm = guard[np.where(guard["metric"].isin(HIGHER_IS_WORSE), guard["abs_lift"] > 0, guard["abs_lift"] < 0)]
    if not harm.empty:
        h = harm.iloc[0]
        return {"verdict": "don't ship", "reason": (
            f"'{h['variant']}' worsens the guardrail {h['metric']} by {h['rel_lift']:+.1%} "
            f"(adjusted p = {h['p_adjusted']:.3f}).")}
    sig = prim[prim["significant"].fillna(False)]
    best = sig.sort_values("rel_lift", ascending=False)
    if not best.empty and best.iloc[0]["rel_lift"] > 0:
        b = best.iloc[0]
        return {"verdict": "ship", "variant": b["variant"], "reason": (
            f"'{b['variant']}' raises {b['metric']} by {b['rel_lift']:+.1%} (95% CI {b['rel_lo']:+.1%} to "
            f"{b['rel_hi']:+.1%}, adjusted p = {b['p_adjusted']:.3g}) with no guardrail harmed.")}
    if not sig.empty:
        b = sig.iloc[0]
        return {"verdict": "don't ship", "reason": (
            f"'{b['variant']}' lowers {b['metric']} by {b['rel_lift']:+.1%} (95% CI {b['rel_lo']:+.1%} to "
            f"{b['rel_hi']:+.1%}) compared with '{b['control']}'.")}
    b = prim.sort_values("rel_hi").iloc[-1]
    mde_rel = exp.mde if exp.mde_type == "relative" else exp.mde / b["value_control"]
    if b["rel_hi"] < mde_rel:
        return {"verdict": "don't ship", "reason": (
            f"No significant effect, and the 95% interval ({b['rel_lo']:+.1%} to {b['rel_hi']:+.1%}) "
            f"rules out the {mde_rel:.0%} lift the test was designed to find.")}
    more = _more_users(b, exp, mde_rel)
    if not np.isfinite(more):
        return {"verdict": "inconclusive", "reason": (
            f"No significant effect ({b['rel_lift']:+.1%}, 95% CI {b['rel_lo']:+.1%} to {b['rel_hi']:+.1%}), "
            f"and the data show too little variation in {b['metric']} to say how many more users would settle it.")}
    days = more / users_per_day if users_per_day > 0 else float("inf")
    days_txt = (f"about {days:,.0f} more days at the {users_per_day:,.0f} users per day this test enrolled"
                if np.isfinite(days) else "more time")
    return {"verdict": "inconclusive", "extra_users_per_arm": more, "extra_days": days, "reason": (
        f"No significant effect yet ({b['rel_lift']:+.1%}, 95% CI {b['rel_lo']:+.1%} to {b['rel_hi']:+.1%}); "
        f"detecting a {mde_rel:.0%} lift needs about {more:,.0f} more users per arm ({days_txt}).")}


def decide_aa(a: ExperimentAnalysis) -> dict:
    """Verdict of an A/A test: :data:`AA_PASSED` or :data:`AA_FAILED` with the reason (sample
    ratio mismatch first, then the first significant primary or guardrail difference)."""
    res = a.results[a.results["p_value"].notna()]
    if a.srm_p < SRM_P:
        return {"verdict": AA_FAILED, "reason": (
            f"Sample ratio mismatch (chi-square p = {a.srm_p:.1g}): the identical arms are not in the "
            "planned split; check how customers are assigned and logged before trusting any test.")}
    sig = res[res["significant"].fillna(False).astype(bool)]
    if not sig.empty:
        d = sig.sort_values("role", key=lambda r: r != "primary", kind="stable").iloc[0]
        return {"verdict": AA_FAILED, "reason": (
            f"The identical arms differ on {d['metric']} ({d['role']}): '{d['variant']}' vs "
            f"'{d['control']}' {d['rel_lift']:+.1%} (95% CI {d['rel_lo']:+.1%} to {d['rel_hi']:+.1%}, "
            f"adjusted p = {d['p_adjusted']:.3g}); check the assignment and the metric before trusting "
            "any test.")}
    srm = f"sample-ratio p = {a.srm_p:.3g}" if np.isfinite(a.srm_p) else "sample ratio not checked"
    checked = ", ".join(dict.fromkeys(res["metric"]))
    p_min = res["p_adjusted"].min()
    return {"verdict": AA_PASSED, "reason": (
        f"The split matches the plan ({srm}) and the identical arms do not differ on {checked} "
        f"(smallest adjusted p = {p_min:.3g}): the assignment and the analysis look sound.")}


def _more_users(b: pd.Series, exp, mde_rel: float) -> float:
    """Extra users per arm needed for the designed power at the MDE, given the observed spread."""
    alpha = exp.alpha / max(len(exp.variants) - 1, 1)
    if METRICS[b["metric"]][2] == "proportion":
        p_c = b["value_control"]
        try:
            n_c, _ = es.sample_size_proportions(p_c, es.treated_rate(p_c, mde_rel), alpha, exp.power)
        except ValueError:
            return float("nan")
    else:
        se = (b["abs_hi"] - b["abs_lo"]) / (2 * es._z(exp.alpha))
        sd = se / np.sqrt(1 / b["n_control"] + 1 / b["n_variant"])
        try:
            n_c, _ = es.sample_size_means(mde_rel * b["value_control"], sd, alpha, exp.power)
        except ValueError:  # no spread or no baseline: the needed size is unknown
            return float("nan")
    return float(max(n_c - min(b["n_control"], b["n_variant"]), 0))


# --------------------------------------------------------------------------------------------
# Whole experiment
# --------------------------------------------------------------------------------------------
def analyze_experiment(wh, exp, window: Window, seed: int, winsor: float | None = None,
                       n_boot: int = 1000, zone: str | None = None) -> ExperimentAnalysis:
    """Analyse one configured experiment end to end (never raises for data problems).

    An experiment's own ``start``/``end`` replace the matching side of ``window``; they are calendar
    days of ``zone`` (the campaign's ``timezone``; ``wh.day_zone`` when None).
    """
    a = ExperimentAnalysis(exp.id, exp.name or exp.id, exp.primary_metric)
    if exp.start or exp.end:
        zone = zone or wh.day_zone
        first = calendar_day(window.start, zone).date()
        last = (calendar_day(window.end, zone) - pd.Timedelta(days=1)).date()
        window = Window.from_dates(exp.start or first, exp.end or last, zone=zone)
    if not wh.has("assignments"):
        a.messages.append(NO_ASSIGNMENTS_TABLE)
        a.decision = decide(a, exp, 0)
        return a
    summ = assignment_summary(wh, exp.id)
    counts = summ["counts"]
    if not counts:
        a.messages.append(f"no assignments found for '{exp.id}'; check the experiment id in the config and the data")
        a.arms = arm_table(exp, {})
        a.decision = decide(a, exp, 0)
        return a
    shares = list(exp.allocation or [1 / len(exp.variants)] * len(exp.variants))
    mapping, note = match_arms(list(exp.variants), shares, counts)
    if note:
        a.messages.append(note)
    if summ["multi_arm"]:
        a.messages.append(f"{summ['multi_arm']:,} customer(s) appear in more than one arm and were left out; "
                          "each customer must have exactly one arm")
    counts_cfg = {mapping[k]: v for k, v in counts.items()}
    a.arms = arm_table(exp, counts_cfg)
    planned = a.arms[a.arms["planned_share"].notna()]
    unplanned = a.arms[a.arms["planned_share"].isna()]
    if not unplanned.empty:
        a.messages.append(f"arm(s) {', '.join(unplanned['variant'])} in the data are not in the config; "
                          "they are ignored")
    empty = planned[planned["users"] == 0]["variant"].tolist()
    if empty:
        a.messages.append(f"arm(s) {', '.join(empty)} have no users")
    if (planned["users"] > 0).sum() >= 2:
        a.srm_p = es.srm_test(planned["users"].to_numpy(), planned["planned_share"].to_numpy())[1]
        if a.srm_p < SRM_P:
            a.messages.append(f"SAMPLE RATIO MISMATCH: p = {a.srm_p:.1g} against the planned split")
    users = user_outcomes(wh, exp.id, window, summ["first_assigned"],
                          message_test=exp.primary_metric in ("open_rate", "click_rate"))
    users["variant"] = users["variant"].map(mapping).fillna(users["variant"])
    users = users[users["variant"].isin(exp.variants)]
    a.results = _results(users, exp, seed, winsor, n_boot)
    for msg in a.results["note"].dropna():
        if msg:
            a.messages.append(msg)
    a.balance = balance_check(users, ["pre_orders", "pre_revenue", "pre_opens"], exp.control) if len(users) else pd.DataFrame()
    a.segments = segment_breakdown(users, exp.primary_metric, exp.control, exp.treatments, exp.alpha)
    if exp.primary_metric in ("conversion", "revenue_per_user") and len(users):
        daily = daily_user_orders(wh, exp.id, window)
        paths = [daily_path(users, daily, exp.primary_metric, exp.control, v, window.days, exp.alpha)
                 for v in exp.treatments]
        paths = [p for p in paths if not p.empty]
        a.sequential = pd.concat(paths, ignore_index=True) if paths else pd.DataFrame()
    a.decision = decide(a, exp, len(users) / max(window.days, 1))
    a.decision["srm_p"] = a.srm_p
    return a


def _results(users: pd.DataFrame, exp, seed: int, winsor: float | None, n_boot: int) -> pd.DataFrame:
    rows = []
    metrics = [(exp.primary_metric, "primary")] + [(g, "guardrail") for g in exp.guardrails]
    for i, v in enumerate(exp.treatments):
        for j, (m, role) in enumerate(metrics):
            r = compare(users, m, exp.control, v, exp.alpha, seed + 101 * i + j, winsor, n_boot)
            rows.append({"experiment_id": exp.id, "role": role, **r})
    df = pd.DataFrame(rows).reindex(columns=RESULT_COLUMNS)
    df["correction"] = exp.correction
    df["p_adjusted"] = es.adjust_pvalues(df["p_value"].to_numpy(float), exp.correction)
    df["significant"] = (df["p_adjusted"] <= exp.alpha).where(df["p_adjusted"].notna())
    return df


def analyze_all(wh, cfg, seed: int, winsor: float | None = None, n_boot: int = 1000) -> list[ExperimentAnalysis]:
    """Analyse every configured experiment over the season window (or its own start/end)."""
    zone = campaign_zone(cfg)  # days of the campaign's time zone (issue 16 item 5)
    window = Window.from_dates(cfg.season.start, cfg.season.end, zone=zone)
    return [analyze_experiment(wh, exp, window, seed, winsor, n_boot, zone=zone) for exp in cfg.experiments]


# --------------------------------------------------------------------------------------------
# Results of all experiments (the ``experiment_results`` artifact; displayed by
# :mod:`playbook.experiments.report`)
# --------------------------------------------------------------------------------------------
def results_table(analyses: list[ExperimentAnalysis]) -> pd.DataFrame:
    """All experiment x variant x metric results (the ``experiment_results`` artifact).

    Without any result (no experiment, or none with data) the table is empty but keeps the column
    types of a filled one (text labels, integer counts, float statistics), so it still meets the
    artifact's contract.
    """
    frames = [a.results for a in analyses if not a.results.empty]
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS).astype(_RESULT_TYPES)
    return pd.concat(frames, ignore_index=True)
