"""Experiment design (sample size, duration, detectable effect, CUPED) and assignment.

Design, per configured experiment:

* the baseline and its variance come from history (the most recent comparison season, else the
  season-length window before the planning cutoff), measured engine-side
  (:func:`playbook.experiments.data.history_baseline`);
* sample size per arm: statsmodels ``NormalIndPower`` with Cohen's h (``proportion_effectsize``)
  for rates and ``delta / sd`` for revenue per user; with several treatments the design level is
  ``alpha / (number of treatments)`` (the Holm/Bonferroni worst case), so the corrected analysis
  keeps the designed power;
* duration: the first day on which the cumulative reach of eligible customers in the history
  window covers the required users (holdout included); a season cannot be extended, so the
  smallest effect detectable within the window's fixed length is reported too;
* CUPED: the same test needs about ``n (1 - rho^2)`` users, rho = correlation of the metric with
  its pre-period covariate in history (Deng et al. 2013).

Assignment: deterministic hashing (SHA-256 of ``salt:customer_id``) into arms, with an optional
holdout and optional stratification; a balance check by standardised mean differences.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.cutoff import campaign_zone
from playbook.errors import ConfigError
from playbook.experiments import stats as es
from playbook.experiments.data import METRICS, Window, history_baseline, reach_curve
from playbook.report.charts import empty_chart
from playbook.report.format import format_table

DESIGN_COLUMNS = ["experiment_id", "primary_metric", "history_window", "baseline", "sd", "mde",
                  "mde_type", "target", "alpha_design", "power", "n_control", "n_treatment",
                  "users_needed", "days_needed", "window_days", "users_in_window",
                  "detectable_lift_in_window", "rho_pre", "cuped_users_needed", "cuped_days_needed",
                  "note"]


def history_window(cfg) -> tuple[str, Window]:
    """The past window used for baselines: latest comparison season, else the season-length
    window that ends on the planning cutoff (calendar days of the campaign's ``timezone``)."""
    if cfg.comparison_seasons:
        s = max(cfg.comparison_seasons, key=lambda c: c.end)
        return s.name, Window.from_dates(s.start, s.end, zone=campaign_zone(cfg))
    end = cfg.season.planning_cutoff
    start = end - dt.timedelta(days=cfg.season.days - 1)
    return f"{start} to {end}", Window.from_dates(start, end, zone=campaign_zone(cfg))


def _shares(exp) -> np.ndarray:
    alloc = exp.allocation or [1 / len(exp.variants)] * len(exp.variants)
    return np.asarray(alloc, float)


def required_users(baseline: float, sd: float, exp, kind: str) -> tuple[int, int, float]:
    """(control users, users per treatment at the largest need, design alpha) for ``exp``.

    Raises
    ------
    ValueError
        If the MDE is impossible for the baseline (e.g. a rate above 1).
    """
    shares = _shares(exp)
    k = len(shares) - 1
    alpha = exp.alpha / k
    needs = []
    for share in shares[1:]:
        ratio = share / shares[0]
        if kind == "proportion":
            p_t = es.treated_rate(baseline, exp.mde, exp.mde_type)
            needs.append(es.sample_size_proportions(baseline, p_t, alpha, exp.power, ratio))
        else:
            delta = baseline * exp.mde if exp.mde_type == "relative" else exp.mde
            needs.append(es.sample_size_means(delta, sd, alpha, exp.power, ratio))
    n_c = max(n[0] for n in needs)
    n_t = max(n[1] for n in needs)
    return n_c, n_t, alpha


def total_users(n_c: int, n_t: int, exp) -> int:
    """Eligible users needed so that every arm gets its size at the planned split (with holdout)."""
    shares = _shares(exp)
    total = max(n_c / shares[0], *(n_t / s for s in shares[1:]))
    return int(np.ceil(total / (1 - exp.holdout)))


def days_to_reach(reach: np.ndarray, users: float) -> float:
    """First day (1-based) on which cumulative reach covers ``users``; inf if never."""
    hit = np.flatnonzero(reach >= users)
    return float(hit[0] + 1) if hit.size else float("inf")


def detectable_lift(baseline: float, sd: float, n_total: float, exp, kind: str, alpha: float) -> float:
    """Smallest relative lift detectable with ``n_total`` eligible users at the planned split."""
    shares = _shares(exp)
    n_c = n_total * (1 - exp.holdout) * shares[0]
    ratio = min(shares[1:]) / shares[0]
    h = es.detectable_effect_size(n_c, ratio, alpha, exp.power)
    if not np.isfinite(h) or not baseline:
        return float("nan")
    if kind == "proportion":
        return es.rate_from_effect_size(baseline, h) / baseline - 1
    return h * sd / baseline


def design_experiment(exp, base: dict, reach: np.ndarray, window_days: int, label: str) -> dict:
    """One design row (see :data:`DESIGN_COLUMNS`) from a history baseline and a reach curve."""
    kind = METRICS[exp.primary_metric][2]
    row = {"experiment_id": exp.id, "primary_metric": exp.primary_metric, "history_window": label,
           "baseline": base["mean"], "sd": float(np.sqrt(base["var"])) if base["var"] == base["var"] else np.nan,
           "mde": exp.mde, "mde_type": exp.mde_type, "power": exp.power, "window_days": window_days,
           "rho_pre": base["rho"], "note": ""}
    if not base["n"] or not np.isfinite(base["mean"]) or base["mean"] <= 0:
        row["note"] = "no history for this metric: sample size cannot be computed"
        return row
    try:
        n_c, n_t, alpha = required_users(base["mean"], row["sd"], exp, kind)
    except ValueError as exc:
        row["note"] = str(exc)
        return row
    users = total_users(n_c, n_t, exp)
    in_window = float(reach[min(window_days, len(reach)) - 1]) if len(reach) else 0.0
    if len(reach) and window_days > len(reach):  # history shorter than the season: scale up
        in_window = float(reach[-1]) * window_days / len(reach)
    rho2 = float(base["rho"]) ** 2 if np.isfinite(base["rho"]) else 0.0
    cuped = int(np.ceil(users * (1 - rho2)))
    row.update(target=base["mean"] * (1 + exp.mde) if exp.mde_type == "relative" else base["mean"] + exp.mde,
               alpha_design=alpha, n_control=n_c, n_treatment=n_t, users_needed=users,
               days_needed=days_to_reach(reach, users), users_in_window=float(in_window),
               detectable_lift_in_window=detectable_lift(base["mean"], row["sd"], in_window, exp, kind, alpha),
               cuped_users_needed=cuped, cuped_days_needed=days_to_reach(reach, cuped))
    if not np.isfinite(row["days_needed"]):
        row["note"] = "needs more users than the season window reaches"
    return row


def design_table(wh, cfg) -> pd.DataFrame:
    """Design of every configured experiment (one row each, :data:`DESIGN_COLUMNS`).

    Parameters
    ----------
    wh : Warehouse
        Needs ``customers`` and ``orders`` (``messages``/``events`` for reach when present).
    cfg : CampaignConfig
        ``experiments``, ``season`` and ``comparison_seasons`` are used.
    """
    label, win = history_window(cfg)
    rows, cache = [], {}
    for exp in cfg.experiments:
        m = exp.primary_metric
        if m not in cache:
            cache[m] = (history_baseline(wh, m, win), reach_curve(wh, m, win))
        base, reach = cache[m]
        rows.append(design_experiment(exp, base, reach, cfg.season.days, label))
    return pd.DataFrame(rows, columns=DESIGN_COLUMNS)


def plot_power_curves(design: pd.DataFrame, cfg) -> plt.Figure:
    """Power against the true relative lift, for the users the season window reaches."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ok = design.dropna(subset=["baseline", "users_in_window"])
    ok = ok[ok["users_in_window"] > 0]
    if ok.empty:
        empty_chart(ax, "No experiment has the history needed for a power curve")
        return fig
    exps = {e.id: e for e in cfg.experiments}
    lifts = np.linspace(0.0, 0.3, 121)
    for _, r in ok.iterrows():
        exp = exps[r["experiment_id"]]
        shares = _shares(exp)
        n_c = r["users_in_window"] * (1 - exp.holdout) * shares[0]
        ratio = min(shares[1:]) / shares[0]
        if METRICS[exp.primary_metric][2] == "proportion":
            p_t = np.minimum(r["baseline"] * (1 + lifts), 0.999)
            pw = es.power_proportions(r["baseline"], p_t, n_c, ratio, r["alpha_design"])
        else:
            pw = es.power_means(r["baseline"] * lifts, r["sd"], n_c, ratio, r["alpha_design"])
        ax.plot(lifts * 100, pw * 100, label=f"{exp.id} ({exp.primary_metric})")
    ax.axhline(80, color="grey", ls="--", lw=1)
    for mde in sorted({e.mde for e in cfg.experiments if e.mde_type == "relative"}):
        ax.axvline(mde * 100, color="grey", ls=":", lw=1)
        ax.annotate(f"MDE {mde:.0%}", (mde * 100, 3), fontsize=8, color="grey", ha="left")
    ax.set_title("Power to detect a true lift with the users the season window reaches")
    ax.set_xlabel("true relative lift of the treatment (%)")
    ax.set_ylabel("power (%)")
    ax.set_xlim(0, 30)
    ax.set_ylim(0, 101)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def describe_design(design: pd.DataFrame) -> str:
    """One plain-language sentence per experiment about size and feasibility (Markdown)."""
    if design.empty:
        return "No experiments are configured, so there is nothing to size."
    out = []
    for _, r in design.iterrows():
        if pd.isna(r.get("users_needed")):
            out.append(f"**{r['experiment_id']}**: {r['note']}.")
            continue
        days = "more days than the window has" if not np.isfinite(r["days_needed"]) else f"{r['days_needed']:.0f} day(s)"
        lift = r["detectable_lift_in_window"]
        out.append(
            f"**{r['experiment_id']}** needs {r['users_needed']:,.0f} eligible customers ({days} of "
            f"reach); within the {r['window_days']:.0f}-day window it can detect a lift of "
            f"{lift:+.1%} or more; CUPED would cut the need to {r['cuped_users_needed']:,.0f}.")
    return "\n\n".join(f"- {s}" for s in out)


# --------------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------------
def hash_uniform(ids: Sequence[str], salt: str) -> np.ndarray:
    """Deterministic uniform numbers in [0, 1): first 8 bytes of SHA-256(``salt:id``) / 2**64."""
    return np.array([int.from_bytes(hashlib.sha256(f"{salt}:{i}".encode()).digest()[:8], "big")
                     for i in ids], dtype=np.float64) / 2.0**64


def assign(customer_ids: Sequence[str], salt: str, variants: Sequence[str],
           allocation: Sequence[float] | None = None, holdout: float = 0.0,
           strata: Sequence[str] | None = None) -> pd.DataFrame:
    """Deterministic hash-based assignment of customers to arms.

    Parameters
    ----------
    customer_ids : sequence of str
        Customers to assign (duplicates are an error).
    salt : str
        Experiment salt (use the experiment id): different salts give independent splits.
    variants : sequence of str
        Arms, control first.
    allocation : sequence of float, optional
        Share per arm (sums to 1); default equal.
    holdout : float
        Share kept out of the test (arm ``"holdout"``), in [0, 0.5).
    strata : sequence of str, optional
        Segment of each customer. Without strata each customer's arm depends only on
        ``salt`` and its id (stable when customers are added). With strata, customers are
        ordered by their hash within each stratum and dealt to arms in proportion, so each
        stratum matches the allocation to within one customer per arm.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``variant`` (``"holdout"`` for the holdout), ``u`` (the hash uniform).

    Raises
    ------
    ConfigError
        Bad allocation/holdout or duplicate customer ids.
    """
    ids = pd.Series(list(customer_ids), dtype="string")
    shares = np.asarray(allocation if allocation is not None else [1 / len(variants)] * len(variants), float)
    if len(shares) != len(variants) or abs(shares.sum() - 1) > 1e-6 or (shares <= 0).any():
        raise ConfigError(f"assignment: allocation {list(shares)} must give one positive share per "
                          f"variant {list(variants)} and sum to 1")
    if not 0 <= holdout < 0.5:
        raise ConfigError(f"assignment: holdout {holdout} must lie in [0, 0.5)")
    if ids.duplicated().any():
        raise ConfigError(f"assignment: {int(ids.duplicated().sum())} duplicate customer id(s); "
                          "deduplicate customers before assigning (one customer, one arm)")
    u = hash_uniform(ids.tolist(), salt)
    if strata is None:
        pos = u
    else:
        s = pd.Series(list(strata), dtype="string").fillna("unknown")
        rank = pd.Series(u).groupby(s.to_numpy()).rank(method="first").to_numpy()
        size = s.map(s.value_counts()).to_numpy()
        pos = (rank - 0.5) / size
    held = pos < holdout
    v = (pos - holdout) / (1 - holdout)
    arm = np.searchsorted(np.cumsum(shares)[:-1], v, side="right")
    names = np.asarray(list(variants), dtype=object)[np.clip(arm, 0, len(variants) - 1)]
    names = np.where(held, "holdout", names)
    return pd.DataFrame({"customer_id": ids.astype(str), "variant": names, "u": u})


def balance_check(df: pd.DataFrame, covariates: Sequence[str], control: str,
                  arm_col: str = "variant", threshold: float = 0.1) -> pd.DataFrame:
    """Standardised mean differences of pre-period covariates, each arm against the control.

    SMD = (mean_arm - mean_control) / sqrt((var_arm + var_control) / 2); ``|SMD| > threshold``
    (0.1 by convention, Austin 2009) is flagged ``balanced = False``.
    """
    rows = []
    ctrl = df[df[arm_col] == control]
    for arm, grp in df.groupby(arm_col, sort=True):
        if arm == control:
            continue
        for cov in covariates:
            a, c = grp[cov].astype(float), ctrl[cov].astype(float)
            pooled = np.sqrt((a.var() + c.var()) / 2) if len(a) > 1 and len(c) > 1 else np.nan
            smd = (a.mean() - c.mean()) / pooled if pooled and pooled > 0 else 0.0
            rows.append({"arm": arm, "covariate": cov, "mean_arm": a.mean(), "mean_control": c.mean(),
                         "smd": smd, "balanced": bool(abs(smd) <= threshold)})
    return pd.DataFrame(rows, columns=["arm", "covariate", "mean_arm", "mean_control", "smd", "balanced"])


def design_view(design: pd.DataFrame, currency: str = "USD") -> Any:
    """Stakeholder view of the design table (formatted; baselines in metric units)."""
    def base(r):
        if pd.isna(r["baseline"]):
            return ""
        return f"{r['baseline']:,.2f} {currency}" if METRICS[r["primary_metric"]][2] == "mean" else f"{r['baseline']:.1%}"

    def days(x):
        return "" if pd.isna(x) else ("beyond the window" if not np.isfinite(x) else f"{x:.0f}")

    view = pd.DataFrame({
        "experiment": design["experiment_id"], "metric": design["primary_metric"],
        "baseline (history)": design.apply(base, axis=1) if len(design) else [],
        "MDE": design["mde"], "users per arm (control)": design["n_control"],
        "users needed": design["users_needed"],
        "days needed": design["days_needed"].map(days),
        "users reached in window": design["users_in_window"],
        "detectable lift in window": design["detectable_lift_in_window"],
        "pre-period correlation": design["rho_pre"].map(lambda x: "" if pd.isna(x) else f"{x:.2f}"),
        "users needed with CUPED": design["cuped_users_needed"],
        "note": design["note"],
    })
    return format_table(view, pct=["MDE", "detectable lift in window"],
                        ints=["users per arm (control)", "users needed", "users reached in window",
                              "users needed with CUPED"])
