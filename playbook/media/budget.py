"""Channel response curves, season budget allocation and daily pacing.

Response model
--------------
Daily sale orders are modelled as a multiplicative baseline plus additive media effects::

    orders_t = exp(x_t' gamma) + sum_c beta_c * (1 - exp(-a_ct / kappa_c))
    a_ct     = s_ct + theta * a_c,t-1            (geometric adstock, Jin et al. 2017)

``x_t`` holds the demand regressors of :func:`playbook.forecasting.forecast.design_matrix` (trend, weekday,
annual Fourier terms, retail events), ``s_ct`` the spend of channel ``c`` on day ``t``,
``beta_c`` the most orders per day the channel can add (saturation level) and ``kappa_c`` the
spend scale at which it reaches 63 % of that. The exponential saturation is the Hill curve's
concave special case without an S-shape; one shared decay ``theta`` is chosen from a small
grid by the fit's loss. Parameters are estimated by non-linear least squares with Poisson-like
weights (``scipy.optimize.least_squares`` on ``(y - mu) / sqrt(mu)``). Revenue = orders x the
history's average order value (``aov``).

Allocation
----------
For a season of ``n`` days with a pacing profile ``w_t`` (shares summing to 1), a budget ``B``
for channel ``c`` earns ``R_c(B) = aov * beta_c * sum_t (1 - exp(-B w_t / kappa_c'))`` with
the steady-state adstock ``kappa_c' = kappa_c (1 - theta)``. ``R_c`` is concave, so the
optimum of ``sum_c R_c(B_c)`` subject to ``sum_c B_c = total`` and ``min_c <= B_c <= max_c``
equalises the marginal returns of the channels that are not at a bound (KKT conditions);
:func:`optimise_budget` finds that level by bisection. :func:`max_budget_for_roas` finds the
largest total whose optimal split still returns ``target_roas`` (incremental revenue per unit
of spend).

Artifacts (read by the retrospective)
-------------------------------------
``budget_plan.parquet``: one row per configured channel:
``channel``, ``budget`` (optimised season budget, currency), ``min_budget``, ``max_budget`` (the
bounds optimised within: the config's, unless an earlier retrospective capped the maximum),
``last_season`` (last comparison season's split scaled to the total), ``roas_proportional``
(split proportional to historical ROAS, within bounds), ``expected_revenue`` (incremental
revenue of ``budget`` from the fitted curve), ``roas`` (= expected_revenue / budget),
``marginal_roas`` (extra revenue per extra unit at ``budget``), ``fitted`` (bool: False when
the channel had no spend history and is held at its minimum), and, when an earlier
retrospective was used (:func:`playbook.planning.plan.retro_budget_bounds`), ``earlier_recommended`` (its
recommended split scaled to this total).

``pacing.parquet``: one row per day and channel: ``day``, ``channel``, ``spend`` (planned),
``cumulative_spend``, ``cumulative_share`` (of the channel's budget), ``expected_revenue``
(incremental, from the fitted curve).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from playbook.errors import ConfigError
from playbook.report.charts import empty_chart

ADSTOCK_GRID: tuple[float, ...] = (0.0, 0.4)


# --------------------------------------------------------------------------------------------
# Curves


@dataclass(frozen=True)
class ResponseCurve:
    """Saturating daily response of one channel: ``beta * (1 - exp(-spend / kappa))`` orders.

    ``aov`` converts orders to revenue; ``theta`` is the adstock decay used in fitting
    (planning uses the steady-state scale ``kappa * (1 - theta)``).
    """

    channel: str
    beta: float
    kappa: float
    aov: float
    theta: float = 0.0

    @property
    def kappa_eff(self) -> float:
        return self.kappa * (1 - self.theta)

    def daily_revenue(self, spend: np.ndarray | float) -> np.ndarray:
        """Incremental revenue of daily spend ``spend`` (steady state)."""
        s = np.asarray(spend, float)
        return self.aov * self.beta * (1 - np.exp(-s / self.kappa_eff))

    def daily_marginal(self, spend: np.ndarray | float) -> np.ndarray:
        """Revenue of one more currency unit of daily spend."""
        s = np.asarray(spend, float)
        return self.aov * self.beta / self.kappa_eff * np.exp(-s / self.kappa_eff)

    def season_revenue(self, budget: float, profile: np.ndarray) -> float:
        """Incremental revenue of ``budget`` spread over the days by ``profile`` (sums to 1)."""
        return float(self.daily_revenue(budget * np.asarray(profile)).sum())

    def season_marginal(self, budget: float, profile: np.ndarray) -> float:
        p = np.asarray(profile)
        return float((self.daily_marginal(budget * p) * p).sum())


def adstock(spend: np.ndarray, theta: float) -> np.ndarray:
    """Geometric adstock ``a_t = s_t + theta * a_{t-1}`` along axis 0."""
    s = np.asarray(spend, float)
    if theta == 0:
        return s.copy()
    out = np.empty_like(s)
    acc = np.zeros(s.shape[1:]) if s.ndim > 1 else 0.0
    for t in range(len(s)):
        acc = s[t] + theta * acc
        out[t] = acc
    return out


def spend_history(wh, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Daily spend per channel, summed in the engine.

    Returns
    -------
    pandas.DataFrame
        ``day`` (naive datetime64), ``channel``, ``spend`` (currency units), one row per day and
        channel with spend rows in the table (days without rows are absent).
    """
    import ibis

    sp = wh.table("spend")
    sp = sp.filter((sp.date >= ibis.date(pd.Timestamp(start).date())) & (sp.date <= ibis.date(pd.Timestamp(end).date())))
    df = sp.group_by(["date", "channel"]).aggregate(spend=sp.spend.sum()).execute()
    df = df.rename(columns={"date": "day"})
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    df["spend"] = pd.to_numeric(df["spend"]).astype(float)
    return df.sort_values(["day", "channel"], ignore_index=True)


@dataclass
class CurveFit:
    """Result of :func:`fit_response_curves`."""

    curves: dict[str, ResponseCurve]
    missing: list[str]
    theta: float
    aov: float
    loss: float

    def table(self, spend: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per channel: ``beta``, ``kappa``, and, given the spend history, ``mean_daily_spend``,
        ``roas`` (incremental revenue / spend over the history) and ``marginal_roas`` at the
        mean daily spend."""
        rows = []
        for ch, c in self.curves.items():
            row = {"channel": ch, "beta": c.beta, "kappa": c.kappa, "theta": c.theta}
            if spend is not None:
                s = spend[spend["channel"] == ch]["spend"].to_numpy(float)
                row["mean_daily_spend"] = float(s.mean()) if len(s) else 0.0
                row["roas"] = float(c.daily_revenue(s).sum() / s.sum()) if s.sum() > 0 else float("nan")
                row["marginal_roas"] = float(c.daily_marginal(row["mean_daily_spend"]))
            rows.append(row)
        return pd.DataFrame(rows)


def fit_response_curves(
    orders: pd.Series,
    spend: pd.DataFrame,
    channels: Sequence[str],
    countries: Sequence[str],
    weights: Mapping[str, float] | None = None,
    aov: float = 1.0,
    thetas: Sequence[float] = ADSTOCK_GRID,
    annual_order: int = 4,
) -> CurveFit:
    """Fit baseline demand and one saturating response curve per channel.

    Parameters
    ----------
    orders : Series
        Daily sale orders (index: days).
    spend : DataFrame
        ``day``, ``channel``, ``spend`` (from :func:`spend_history`).
    channels : sequence of str
        Channels to fit; channels without any spend in ``spend`` are returned in ``missing``.
    countries, weights
        Countries and mix of the series (for the event features of the baseline).
    aov : float
        Average order value (revenue per order) used to express curves in revenue.

    Returns
    -------
    CurveFit
    """
    from playbook.forecasting.forecast import design_matrix

    y = orders.astype(float)
    days = pd.DatetimeIndex(y.index)
    wide = spend.pivot_table(index="day", columns="channel", values="spend", aggfunc="sum")
    wide = wide.reindex(days).fillna(0.0)
    fitted = [c for c in channels if c in wide.columns and wide[c].sum() > 0]
    missing = [c for c in channels if c not in fitted]
    X = design_matrix(days, countries, dict(weights) if weights else None, annual_order)
    X = X.loc[:, X.abs().sum() > 0]
    Xc = np.column_stack([np.ones(len(X)), X.to_numpy(float)])
    S = wide[fitted].to_numpy(float) if fitted else np.zeros((len(days), 0))
    yv = y.to_numpy(float)
    gamma0 = np.linalg.lstsq(Xc, np.log(yv + 1.0), rcond=None)[0]
    wts = 1.0 / np.sqrt(np.maximum(np.exp(Xc @ gamma0), 1.0))  # Poisson-like, fixed
    k = len(fitted)
    nx = Xc.shape[1]
    best = None
    for theta in thetas:
        A = adstock(S, theta) if k else S
        scale = np.maximum(A.mean(axis=0), 1e-9) if k else np.ones(0)
        x0 = np.r_[gamma0 + np.log(0.8), np.log(np.full(k, 0.05 * float(np.mean(yv)))), np.zeros(k)]
        lb = np.r_[np.full(nx, -np.inf), np.full(k, -12.0), np.full(k, np.log(KAPPA_BOUNDS[0]))]
        ub = np.r_[np.full(nx, np.inf), np.full(k, np.log(max(float(np.mean(yv)), 1.0))), np.full(k, np.log(KAPPA_BOUNDS[1]))]
        sol = least_squares(_resid, x0, jac=_jac, args=(Xc, A, scale, k, yv, wts), bounds=(lb, ub),
                            method="trf", x_scale="jac", max_nfev=100, tr_solver="lsmr")
        loss = float(np.sum(sol.fun[:len(yv)] ** 2))
        if best is None or loss < best[0]:
            best = (loss, theta, sol.x, scale)
    loss, theta, p, scale = best
    beta = np.exp(p[nx:nx + k])
    kappa = np.exp(p[nx + k:]) * scale
    curves = {ch: ResponseCurve(ch, float(b), float(kp), float(aov), float(theta))
              for ch, b, kp in zip(fitted, beta, kappa, strict=True)}
    return CurveFit(curves, missing, float(theta), float(aov), loss)


#: Prior standard deviation of log(kappa / mean adstocked spend): the half-saturation point is
#: expected near the spend levels seen (as in Bayesian MMM priors); keeps weak channels sane.
KAPPA_PRIOR_SD = 0.7
#: kappa / mean spend is kept within these bounds: a channel saturated at every spend level seen
#: (or linear over all of it) cannot be told apart from the baseline.
KAPPA_BOUNDS = (0.5, 8.0)


def _parts(p, Xc, A, scale, k):
    nx = Xc.shape[1]
    base = np.exp(np.clip(Xc @ p[:nx], -30, 30))
    beta = np.exp(p[nx:nx + k])
    kappa = np.exp(p[nx + k:]) * scale
    e = np.exp(-A / kappa) if k else np.zeros((len(Xc), 0))
    return base, beta, kappa, e


def _resid(p, Xc, A, scale, k, y, wts):
    base, beta, kappa, e = _parts(p, Xc, A, scale, k)
    mu = base + (beta * (1 - e)).sum(axis=1)
    prior = p[Xc.shape[1] + k:] / KAPPA_PRIOR_SD
    return np.r_[(y - mu) * wts, prior]


def _jac(p, Xc, A, scale, k, y, wts):
    base, beta, kappa, e = _parts(p, Xc, A, scale, k)
    d_gamma = base[:, None] * Xc
    d_beta = beta * (1 - e)
    d_kappa = -beta * e * (A / kappa)
    J = -wts[:, None] * np.column_stack([d_gamma, d_beta, d_kappa])
    P = np.zeros((k, len(p)))
    P[np.arange(k), Xc.shape[1] + k + np.arange(k)] = 1.0 / KAPPA_PRIOR_SD
    return np.vstack([J, P])


# --------------------------------------------------------------------------------------------
# Allocation


def check_bounds(bounds: Mapping[str, tuple[float, float]], total: float) -> None:
    """Raise ConfigError when the per-channel bounds cannot hold ``total``."""
    lo = sum(b[0] for b in bounds.values())
    hi = sum(b[1] for b in bounds.values())
    bad = [ch for ch, (a, b) in bounds.items() if a > b]
    if bad:
        raise ConfigError(f"channels.{bad[0]}: min_budget is above max_budget; lower the minimum or raise the maximum.")
    if lo > total + 1e-6:
        raise ConfigError(
            f"budget.total ({total:,.0f}) is below the sum of the channels' min_budget ({lo:,.0f}); "
            "raise budget.total or lower some channels.<name>.min_budget.")
    if hi < total - 1e-6:
        raise ConfigError(
            f"budget.total ({total:,.0f}) is above the sum of the channels' max_budget ({hi:,.0f}); "
            "lower budget.total or raise some channels.<name>.max_budget.")


def _budget_at(curve: ResponseCurve, lam: float, lo: float, hi: float, profile: np.ndarray) -> float:
    """Budget in [lo, hi] where the channel's season marginal return equals ``lam``."""
    if curve.season_marginal(lo, profile) <= lam:
        return lo
    if curve.season_marginal(hi, profile) >= lam:
        return hi
    a, b = lo, hi
    while b - a > 1e-7 * max(hi, 1.0):
        m = 0.5 * (a + b)
        if curve.season_marginal(m, profile) > lam:
            a = m
        else:
            b = m
    return 0.5 * (a + b)


def optimise_budget(
    curves: Mapping[str, ResponseCurve],
    bounds: Mapping[str, tuple[float, float]],
    total: float,
    profile: np.ndarray,
) -> dict[str, float]:
    """Split ``total`` across channels to maximise expected incremental revenue.

    Channels in ``bounds`` without a curve are held at their minimum (no evidence to spend more).

    Parameters
    ----------
    curves : mapping channel -> ResponseCurve
    bounds : mapping channel -> (min, max) season budget
    total : float
        Season budget (currency units).
    profile : array
        Daily pacing shares over the season (sum 1).

    Returns
    -------
    dict
        ``{channel: budget}`` summing to ``total``.

    Raises
    ------
    ConfigError
        Bounds that cannot hold ``total``.
    """
    check_bounds(bounds, total)
    profile = np.asarray(profile, float)
    fixed = {ch: b[0] for ch, b in bounds.items() if ch not in curves}
    free = {ch: b for ch, b in bounds.items() if ch in curves}
    rest = total - sum(fixed.values())
    if not free:
        return fixed
    lo_sum = sum(b[0] for b in free.values())
    hi_sum = sum(b[1] for b in free.values())
    if rest >= hi_sum:
        return fixed | {ch: b[1] for ch, b in free.items()}
    if rest <= lo_sum:
        return fixed | {ch: b[0] for ch, b in free.items()}
    lam_hi = max(curves[ch].season_marginal(b[0], profile) for ch, b in free.items())
    lam_lo = 0.0
    while lam_hi - lam_lo > 1e-9 * lam_hi:
        lam = 0.5 * (lam_lo + lam_hi)
        spent = sum(_budget_at(curves[ch], lam, *b, profile) for ch, b in free.items())
        if spent > rest:
            lam_lo = lam
        else:
            lam_hi = lam
    alloc = {ch: _budget_at(curves[ch], lam_hi, *b, profile) for ch, b in free.items()}
    gap = rest - sum(alloc.values())
    room = {ch: free[ch][1] - v for ch, v in alloc.items() if free[ch][1] - v > 1e-9}
    if room and abs(gap) > 1e-9:  # spread the bisection's rounding over channels with room
        share = sum(room.values())
        alloc = {ch: v + gap * room.get(ch, 0.0) / share for ch, v in alloc.items()}
    return fixed | alloc


def expected_revenue(curves: Mapping[str, ResponseCurve], alloc: Mapping[str, float], profile: np.ndarray) -> float:
    """Incremental revenue of an allocation (channels without a curve earn 0)."""
    return float(sum(curves[ch].season_revenue(b, profile) for ch, b in alloc.items() if ch in curves))


def proportional_split(weights: Mapping[str, float], bounds: Mapping[str, tuple[float, float]], total: float) -> dict[str, float]:
    """Split ``total`` in proportion to ``weights`` (e.g. ROAS or last season's spend), clipped to
    the bounds; what clipping frees or needs is shared among the channels still inside them."""
    check_bounds(bounds, total)
    w = {ch: max(float(weights.get(ch, 0.0)), 0.0) for ch in bounds}
    if sum(w.values()) <= 0:
        w = {ch: 1.0 for ch in bounds}
    alloc = {ch: 0.0 for ch in bounds}
    fixed: dict[str, float] = {}
    for _ in range(len(bounds) + 1):
        free = [ch for ch in bounds if ch not in fixed]
        rest = total - sum(fixed.values())
        ws = sum(w[ch] for ch in free) or 1.0
        alloc = fixed | {ch: rest * (w[ch] / ws if sum(w[c] for c in free) > 0 else 1 / len(free)) for ch in free}
        viol = {ch: float(np.clip(alloc[ch], *bounds[ch])) for ch in free if not bounds[ch][0] <= alloc[ch] <= bounds[ch][1]}
        if not viol:
            break
        fixed |= viol
    return alloc


def max_budget_for_roas(
    curves: Mapping[str, ResponseCurve],
    bounds: Mapping[str, tuple[float, float]],
    target_roas: float,
    profile: np.ndarray,
) -> tuple[float, float]:
    """Largest total (within the bounds' sums) whose optimal split returns ``target_roas``.

    Returns
    -------
    (total, roas)
        ``total`` is the sum of the minimums when even that misses the target (the ROAS there is
        returned so the caller can say so).
    """
    lo = sum(b[0] for b in bounds.values())
    hi = sum(b[1] for b in bounds.values())

    def roas(t: float) -> float:
        alloc = optimise_budget(curves, bounds, t, profile)
        return expected_revenue(curves, alloc, profile) / t if t > 0 else float("inf")

    if roas(hi) >= target_roas:
        return hi, roas(hi)
    if lo <= 0 or roas(lo) < target_roas:
        return lo, roas(lo) if lo > 0 else float("nan")
    a, b = lo, hi
    while b - a > 1e-6 * hi:
        m = 0.5 * (a + b)
        if roas(m) >= target_roas:
            a = m
        else:
            b = m
    return a, roas(a)


# --------------------------------------------------------------------------------------------
# Pacing


def pacing_profile(demand: np.ndarray, cap: float = 2.0, floor: float = 0.4) -> np.ndarray:
    """Daily budget shares following forecast demand, within ``[floor, cap]`` x the even share.

    Capping the peak days keeps a channel from spending a large part of its budget on a few days
    (where its curve saturates) and the floor keeps it present on quiet days. The shares sum to
    1, so the budget is reached on the last day, not before.
    """
    d = np.clip(np.asarray(demand, float), 0, None)
    n = len(d)
    if n == 0:
        return d
    w = d / d.sum() if d.sum() > 0 else np.full(n, 1.0 / n)
    lo, hi = floor / n, cap / n
    for _ in range(100):
        w = np.clip(w, lo, hi)
        w = w / w.sum()
        if (w <= hi + 1e-12).all() and (w >= lo - 1e-12).all():
            break
    return w


def pacing_plan(
    alloc: Mapping[str, float],
    days: Sequence,
    profile: np.ndarray,
    curves: Mapping[str, ResponseCurve] | None = None,
) -> pd.DataFrame:
    """Daily spend per channel (see the ``pacing.parquet`` columns in the module docstring)."""
    days = pd.DatetimeIndex(days)
    rows = []
    for ch, budget in alloc.items():
        spend = budget * np.asarray(profile, float)
        rev = curves[ch].daily_revenue(spend) if curves and ch in curves else np.zeros(len(spend))
        cum = np.cumsum(spend)
        rows.append(pd.DataFrame({"day": days, "channel": ch, "spend": spend, "cumulative_spend": cum,
                                  "cumulative_share": cum / budget if budget > 0 else np.zeros(len(cum)),
                                  "expected_revenue": rev}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["day", "channel", "spend", "cumulative_spend", "cumulative_share", "expected_revenue"])


# --------------------------------------------------------------------------------------------
# The plan table


def budget_plan(
    fit: CurveFit,
    bounds: Mapping[str, tuple[float, float]],
    total: float,
    profile: np.ndarray,
    last_season_spend: Mapping[str, float],
    history_roas: Mapping[str, float],
) -> pd.DataFrame:
    """Optimised split against last season's split and a ROAS-proportional split.

    Returns
    -------
    pandas.DataFrame
        The ``budget_plan.parquet`` columns (module docstring), plus ``attrs["totals"]``: expected
        incremental revenue of each split.
    """
    curves = fit.curves
    opt = optimise_budget(curves, bounds, total, profile)
    last = proportional_split(last_season_spend, bounds, total)
    prop = proportional_split({ch: v for ch, v in history_roas.items() if np.isfinite(v)}, bounds, total)
    rows = []
    for ch, (lo, hi) in bounds.items():
        c = curves.get(ch)
        b = opt[ch]
        rev = c.season_revenue(b, profile) if c else 0.0
        rows.append({"channel": ch, "budget": b, "min_budget": lo, "max_budget": hi,
                     "last_season": last[ch], "roas_proportional": prop[ch], "expected_revenue": rev,
                     "roas": rev / b if b > 0 else float("nan"),
                     "marginal_roas": c.season_marginal(b, profile) if c else float("nan"),
                     "fitted": c is not None})
    out = pd.DataFrame(rows)
    out.attrs["totals"] = {name: expected_revenue(curves, a, profile)
                           for name, a in (("optimised", opt), ("last_season", last), ("roas_proportional", prop))}
    return out


def describe_budget(plan: pd.DataFrame, currency: str = "USD") -> str:
    """One plain-language sentence on the optimised split against the alternatives."""
    from playbook.report.format import fmt_money, fmt_pct

    t = plan.attrs.get("totals", {})
    opt, last, prop = t.get("optimised", 0.0), t.get("last_season", 0.0), t.get("roas_proportional", 0.0)
    if plan.empty or opt <= 0:
        return "No channel has spend history to fit a response curve: budgets stay at their configured minimums."
    top = plan.sort_values("budget", ascending=False).iloc[0]
    text = (f"The optimised split is expected to add {fmt_money(opt, currency)} of incremental revenue, "
            f"{fmt_pct(opt / last - 1) if last > 0 else 'n/a'} more than last season's split and "
            f"{fmt_pct(opt / prop - 1) if prop > 0 else 'n/a'} more than a split proportional to ROAS; "
            f"the largest budget goes to **{top['channel']}** ({fmt_money(top['budget'], currency)}).")
    held = plan.loc[~plan["fitted"], "channel"].tolist()
    if held:
        text += f" Without spend history, {', '.join(held)} stay at their minimum."
    return text


def plot_response_curves(fit: CurveFit, spend: pd.DataFrame, currency: str = "USD"):
    """Daily incremental revenue against daily spend per channel, with the observed spend range."""
    import matplotlib.pyplot as plt

    from playbook.report.charts import money_formatter

    fig, ax = plt.subplots(figsize=(9, 4.5))
    if not fit.curves:
        empty_chart(ax, "No spend history: no response curves")
        return fig
    for ch, c in fit.curves.items():
        s = spend.loc[spend["channel"] == ch, "spend"]
        xmax = max(float(s.quantile(0.99)) * 1.5 if len(s) else c.kappa * 3, 1.0)
        x = np.linspace(0, xmax, 100)
        line, = ax.plot(x, c.daily_revenue(x), label=ch)
        if len(s):
            ax.axvspan(float(s.quantile(0.05)), float(s.quantile(0.95)), color=line.get_color(), alpha=0.06)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Fitted response curves (shaded: spend range seen in the history)")
    ax.set_xlabel(f"daily spend ({currency})")
    ax.set_ylabel(f"incremental revenue per day ({currency})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_budget_splits(plan: pd.DataFrame, currency: str = "USD"):
    """Grouped bars: optimised, last season's and ROAS-proportional budget per channel."""
    import matplotlib.pyplot as plt

    from playbook.report.charts import money_formatter

    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(plan))
    for i, (col, label) in enumerate((("budget", "optimised"), ("last_season", "last season's split"),
                                      ("roas_proportional", "proportional to ROAS"))):
        ax.bar(x + (i - 1) * 0.27, plan[col], width=0.27, label=label)
    ax.set_xticks(x, plan["channel"])
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Season budget per channel: optimised against two simple splits")
    ax.set_xlabel("channel")
    ax.set_ylabel(f"season budget ({currency})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


