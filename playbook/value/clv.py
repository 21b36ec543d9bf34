"""Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend, by maximum likelihood.

Models
------
* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative
  to the Pareto/NBD model", Marketing Science 24(2)): while alive a customer buys as a Poisson
  process with rate ``lambda ~ Gamma(r, alpha)``; after every purchase they drop out with
  probability ``p ~ Beta(a, b)``. Inputs per customer: ``x`` repeat purchases, ``t_x`` time of
  the last purchase since the first, ``T`` time since the first purchase (all in weeks here).
* **Gamma-Gamma** (Fader, Hardie & Lee 2005b, "The Gamma-Gamma model of monetary value",
  brucehardie.com note): transaction values of a customer are Gamma(p, nu) with ``nu ~ Gamma(q,
  gamma)``, independent of the purchase process. Inputs: number of repeat transactions and their
  mean value; fitted on repeat buyers only (Fader, Hardie & Lee 2005, "RFM and CLV: Using
  Iso-value Curves for Customer Base Analysis", JMR 42(4), where the CDNOW estimates p = 6.25,
  q = 3.74, gamma = 15.44 come from the 946 repeat buyers).

Summary data: :mod:`playbook.value.clv_summary` (purchase days, repeat spend, refunds left out;
the `lifetimes` convention); :func:`describe_conventions` states it in the report.

Both are fitted with :func:`scipy.optimize.minimize` (L-BFGS-B) on the log of the parameters
(so they stay positive) using vectorised log-likelihoods (``gammaln``/``betaln``) and analytic
gradients, so a million customers fit in seconds.

Seasonal buyers: customers who buy mostly in the holiday window look "dead" to BG/NBD in the
off season. :func:`seasonal_backtest` flags them and compares the model's P(alive) and expected
purchases with what they actually did in the next season, so they are not written off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln

from playbook.data.cutoff import CUTOFF_RULE, cutoff_instant, planning_as_of
from playbook.data.warehouse import Warehouse, calendar_day
from playbook.errors import DataError
from playbook.report.charts import empty_chart
from playbook.value.bgnbd_expectation import bgnbd_expected_purchases_alive
from playbook.value.clv_summary import DAYS_PER_WEEK, purchase_days_between, purchase_summary
from playbook.value.clv_summary import rft_from_summary as rft_from_summary

#: Why the seasonal-buyer check and flags are skipped when the campaign has no comparison season.
NO_COMPARISON_SEASON = ("No comparison season: the seasonal-buyer check needs at least one past season "
                        "window (comparison_seasons).")

MIN_REPEAT_CUSTOMERS = 20  #: fewer customers with a repeat purchase: models not fitted (fallback)


# --------------------------------------------------------------------------------------------
# BG/NBD


def bgnbd_loglik_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6), numerically stable form.

    ``LL = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
    + ln[(alpha+T)^-(r+x) + 1{x>0} a/(b+x-1) (alpha+t_x)^-(r+x)]``.

    Parameters
    ----------
    params : array (r, alpha, a, b)
        Model parameters (alpha in the time unit of ``t_x`` and ``T``).
    x, t_x, T : arrays
        Repeat purchases, time of last repeat purchase, observation length since first purchase.

    Returns
    -------
    numpy.ndarray
        Log-likelihood contribution of each customer.
    """
    r, alpha, a, b = params
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
            + np.logaddexp(a3, a4))


def _bgnbd_negll_grad(logp: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                      xu: np.ndarray, xcount: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient w.r.t. the log-parameters."""
    r, alpha, a, b = np.exp(logp)
    n = len(x)
    la_T = np.log(alpha + T)
    la_tx = np.log(alpha + t_x)
    a3 = -(r + x) * la_T
    pos = x > 0
    a4 = np.full(n, -np.inf)
    a4[pos] = np.log(a) - np.log(b + x[pos] - 1) - (r + x[pos]) * la_tx[pos]
    mix = np.logaddexp(a3, a4)
    w = np.where(pos, expit(a4 - a3), 0.0)  # weight of the "dropped out after t_x" branch
    # Terms depending on x only: evaluated once per distinct x.
    xs = xcount
    ll_x = (xs * (gammaln(r + xu) + betaln(a, b + xu))).sum()
    ll = ll_x + n * (-gammaln(r) + r * np.log(alpha) - betaln(a, b)) + mix.sum()
    g_r = (xs * digamma(r + xu)).sum() + n * (np.log(alpha) - digamma(r)) - ((1 - w) * la_T + w * la_tx).sum()
    g_alpha = n * r / alpha - ((r + x) * ((1 - w) / (alpha + T) + w / (alpha + t_x))).sum()
    g_a = n * digamma(a + b) - (xs * digamma(a + b + xu)).sum() + w.sum() / a
    g_b = ((xs * (digamma(b + xu) - digamma(a + b + xu))).sum() + n * (digamma(a + b) - digamma(b))
           - (w[pos] / (b + x[pos] - 1)).sum())
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -ll / n, -grad / n


@dataclass
class BGNBD:
    """BG/NBD model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : dict
        ``r``, ``alpha`` (per time unit of the inputs), ``a``, ``b``.
    loglik_ : float
        Maximised total log-likelihood.
    n_customers_ : int
    """

    params_: dict | None = None
    loglik_: float | None = None
    n_customers_: int = 0

    def fit(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, init: tuple = (1.0, 10.0, 1.0, 5.0)) -> BGNBD:
        """Fit by maximum likelihood on log-parameters (L-BFGS-B with analytic gradient).

        Raises
        ------
        DataError
            Inputs are invalid (negative values, ``t_x > T``) or fewer than
            ``MIN_REPEAT_CUSTOMERS`` customers have a repeat purchase.
        """
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        _check_rft(x, t_x, T)
        if (x > 0).sum() < MIN_REPEAT_CUSTOMERS:
            raise DataError(
                f"Only {(x > 0).sum()} customers have a repeat purchase; BG/NBD needs at least "
                f"{MIN_REPEAT_CUSTOMERS}. Use a longer history (earlier data) or a naive CLV.")
        xu, xcount = np.unique(x, return_counts=True)
        res = minimize(_bgnbd_negll_grad, np.log(np.asarray(init, dtype=float)), jac=True,
                       args=(x, t_x, T, xu, xcount), method="L-BFGS-B",
                       bounds=[(-12, 12)] * 4, options={"maxiter": 500, "gtol": 1e-9, "ftol": 1e-13})
        r, alpha, a, b = np.exp(res.x)
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.loglik_ = float(-res.fun * len(x))
        self.n_customers_ = len(x)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        if self.params_ is None:
            raise RuntimeError("BGNBD is not fitted; call fit() first")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T) (FHL 2005, eq. 13)."""
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(divide="ignore", over="ignore"):
            log_ratio = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (
                np.log(alpha + T) - np.log(alpha + t_x))
        return np.where(x > 0, expit(-log_ratio), 1.0)

    def expected_purchases(self, t: float, x, t_x, T) -> np.ndarray:
        """Expected purchases in (T, T + t] given the history (FHL 2005, eq. 10), for every ``a``.

        ``E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) * E[Y(t) | alive, x, T]`` with the expectation
        for a customer still alive given by :func:`bgnbd_expected_purchases_alive` (dropout during
        the horizon included; valid for ``a <= 1`` too, with the limit at ``a = 1``).
        """
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        out = bgnbd_expected_purchases_alive(t, x, T, r, alpha, a, b) * self.p_alive(x, t_x, T)
        return np.maximum(out, 0.0)

    def expected_purchases_new(self, t) -> np.ndarray:
        """Expected repeat purchases in (0, t] of a new customer (FHL 2005, eq. 9), for every ``a``.

        ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``: eq. 10
        at ``x = t_x = T = 0`` (where P(alive) = 1), so the same evaluation (and limit at ``a = 1``).
        """
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        return np.maximum(bgnbd_expected_purchases_alive(t, zero, zero, r, alpha, a, b), 0.0)

    def expected_weeks_to_next(self, x, t_x, T) -> np.ndarray:
        """Expected waiting time to the next purchase of a customer who is still alive.

        ``E[1/lambda | x, T] = (alpha + T) / (r + x - 1)`` (the posterior of lambda given alive is
        Gamma(r + x, alpha + T)); infinite when ``r + x <= 1``. Same time unit as ``T``.
        """
        r, alpha, _, _ = self._p()
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        shape = r + x - 1
        with np.errstate(divide="ignore"):
            return np.where(shape > 0, (alpha + T) / np.where(shape > 0, shape, 1.0), np.inf)


def _check_rft(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if len(x) == 0:
        raise DataError("No customers with purchases before the cutoff: nothing to fit the CLV models on.")
    if (x < 0).any() or (t_x < 0).any() or (T < 0).any() or (t_x > T + 1e-9).any():
        raise DataError("Invalid BG/NBD inputs: need x >= 0 and 0 <= t_x <= T for every customer.")


# --------------------------------------------------------------------------------------------
# Gamma-Gamma


def gg_loglik_terms(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Gamma-Gamma log-likelihood of the mean order value ``m`` of ``x`` orders (FHL 2005b, eq. 3).

    ``LL = ln G(px+q) - ln G(px) - ln G(q) + q ln g + (px-1) ln m + px ln x - (px+q) ln(g + m x)``.
    """
    p, q, g = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * np.log(m)
            + px * np.log(x) - (px + q) * np.log(g + m * x))


def _gg_negll_grad(logp: np.ndarray, x: np.ndarray, mx: np.ndarray, xu: np.ndarray, xcount: np.ndarray,
                   const: tuple[float, float, float]) -> tuple[float, np.ndarray]:
    """Mean negative Gamma-Gamma log-likelihood and gradient w.r.t. the log-parameters.

    Terms that depend on ``x`` only are evaluated once per distinct ``x``; ``const`` holds the
    data sums ``(sum x ln m, sum ln m, sum x ln x)``; ``mx = m * x``.
    """
    p, q, g = np.exp(logp)
    n = len(x)
    s_xlogm, s_logm, s_xlogx = const
    lg = np.log(g + mx)
    inv = 1.0 / (g + mx)
    pxu = p * xu
    ll = ((xcount * (gammaln(pxu + q) - gammaln(pxu))).sum() - n * gammaln(q) + n * q * np.log(g)
          + p * s_xlogm - s_logm + p * s_xlogx - p * (x * lg).sum() - q * lg.sum())
    d_p = (xcount * xu * (digamma(pxu + q) - digamma(pxu))).sum() + s_xlogm + s_xlogx - (x * lg).sum()
    d_q = (xcount * digamma(pxu + q)).sum() - n * digamma(q) + n * np.log(g) - lg.sum()
    d_g = n * q / g - p * (x * inv).sum() - q * inv.sum()
    return -ll / n, -np.array([d_p * p, d_q * q, d_g * g]) / n


@dataclass
class GammaGamma:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005b) fitted by maximum likelihood.

    Attributes (after :meth:`fit`): ``params_`` (``p``, ``q``, ``gamma``), ``loglik_``,
    ``n_customers_`` (customers the fit used: ``x >= 1`` and ``m > 0``).
    """

    params_: dict | None = None
    loglik_: float | None = None
    n_customers_: int = 0

    def fit(self, x: np.ndarray, m: np.ndarray, init: tuple = (2.0, 3.0, 50.0)) -> GammaGamma:
        """Fit on customers with ``x >= 1`` repeat transactions of positive mean value ``m`` (currency units).

        Customers with ``x = 0`` (one-time buyers) or ``m <= 0`` are left out, as in the method and
        in lifetimes' ``GammaGammaFitter`` (which refuses them).

        Raises
        ------
        DataError
            Fewer than ``MIN_REPEAT_CUSTOMERS`` usable customers.
        """
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        ok = (x >= 1) & (m > 0) & np.isfinite(m)
        if ok.sum() < MIN_REPEAT_CUSTOMERS:
            raise DataError(f"Only {ok.sum()} customers with positive order values; Gamma-Gamma needs "
                            f"at least {MIN_REPEAT_CUSTOMERS}. Spend falls back to the average order value.")
        x, m = x[ok], m[ok]
        start = np.array(init, dtype=float)
        start[2] = max(np.mean(m) * (start[1] - 1) / start[0], 1e-3)
        xu, xcount = np.unique(x, return_counts=True)
        const = (float((x * np.log(m)).sum()), float(np.log(m).sum()), float((x * np.log(x)).sum()))
        res = minimize(_gg_negll_grad, np.log(start), jac=True, args=(x, m * x, xu, xcount, const),
                       method="L-BFGS-B",
                       bounds=[(-12, 12)] * 3, options={"maxiter": 500, "gtol": 1e-9, "ftol": 1e-13})
        p, q, g = np.exp(res.x)
        self.params_ = {"p": float(p), "q": float(q), "gamma": float(g)}
        self.loglik_ = float(-res.fun * len(x))
        self.n_customers_ = len(x)
        return self

    def expected_spend(self, x, m) -> np.ndarray:
        """E[transaction value | x repeat transactions, mean m] = p (gamma + m x) / (p x + q - 1) (FHL 2005b,
        eq. 5); for ``x = 0`` the population mean ``p gamma / (q - 1)``."""
        if self.params_ is None:
            raise RuntimeError("GammaGamma is not fitted; call fit() first")
        p, q, g = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x, m = np.asarray(x, dtype=float), np.nan_to_num(np.asarray(m, dtype=float))
        return p * (g + m * x) / (p * x + q - 1)


# --------------------------------------------------------------------------------------------
# From the warehouse to per-customer CLV


@dataclass
class CLVResult:
    """Per-customer CLV table, the fitted models, notes (fallbacks used) and ``repeat_buyers``
    (customers with a repeat purchase day)."""

    table: pd.DataFrame
    bgnbd: BGNBD | None
    gg: GammaGamma | None
    horizon_days: int
    notes: list[str]
    repeat_buyers: int = 0


def fit_clv(wh: Warehouse, cutoff, horizon_days: int = 365) -> CLVResult:
    """Fit BG/NBD + Gamma-Gamma on sale orders before the instant ``cutoff``; score every buyer over a horizon.

    Parameters
    ----------
    cutoff : date, str or Timestamp
        Instant; only orders strictly before it are used (a bare date is midnight UTC at its
        start). Steps pass :func:`playbook.data.cutoff.planning_as_of` (the end of the planning
        cutoff day, so that day is included).
    horizon_days : int
        Forecast horizon in days.

    Returns
    -------
    CLVResult
        ``table``: customer_id, orders (sale orders), the summary data of :func:`purchase_summary`
        (frequency, recency, T, monetary_value), p_alive, expected_purchases (purchase days in the
        horizon), expected_spend (per purchase day; one-time buyers get the Gamma-Gamma mean), clv
        (their product), expected_days_to_next (if alive; inf when unknown), clv_decile (10 = top).
        Fallback with too little data: purchase days per week since the first purchase, and the
        customer's own mean purchase-day value, with a note saying so.
    """
    summary = purchase_summary(wh, cutoff)
    notes: list[str] = []
    if summary.empty:
        raise DataError(f"No orders before {cutoff}: CLV cannot be estimated. Check the cutoff and the orders table.")
    rft = rft_from_summary(summary)
    horizon = horizon_days / DAYS_PER_WEEK
    bg = gg = None
    try:
        bg = BGNBD().fit(rft.x, rft.t_x, rft["T"])
        p_alive = bg.p_alive(rft.x, rft.t_x, rft["T"])
        exp_n = bg.expected_purchases(horizon, rft.x, rft.t_x, rft["T"])
        days_next = bg.expected_weeks_to_next(rft.x, rft.t_x, rft["T"]) * DAYS_PER_WEEK
    except DataError as exc:
        notes.append(f"BG/NBD not fitted ({exc}) Fallback: purchase days per week since the first purchase "
                     "times the horizon.")
        rate = (rft.x + 1) / np.maximum(rft["T"], 1.0)
        p_alive = np.full(len(rft), np.nan)
        exp_n = rate * horizon
        days_next = np.where(rate > 0, DAYS_PER_WEEK / rate, np.inf)
    try:
        gg = GammaGamma().fit(rft.x, rft.m)
        spend = gg.expected_spend(rft.x, rft.m.clip(lower=0))
    except DataError as exc:
        notes.append(f"{exc} (here: each customer's own mean purchase-day value, first purchase included).")
        spend = rft.mean_value.clip(lower=0).to_numpy()
    table = pd.DataFrame({"customer_id": rft.customer_id, "orders": rft.orders,
                          "frequency": summary["frequency"].to_numpy(int), "recency": summary["recency"].to_numpy(),
                          "T": summary["T"].to_numpy(), "monetary_value": rft.m,
                          "p_alive": p_alive, "expected_purchases": exp_n, "expected_spend": spend,
                          "clv": exp_n * spend, "expected_days_to_next": days_next})
    table["clv_decile"] = _deciles(table["clv"].to_numpy())
    return CLVResult(table=table, bgnbd=bg, gg=gg, horizon_days=horizon_days, notes=notes,
                     repeat_buyers=int((rft.x > 0).sum()))


def describe_conventions(res: CLVResult) -> str:
    """One sentence on what CLV counts: purchase days, repeat spend, refunds and the cutoff."""
    fitted = (f"fitted on {res.gg.n_customers_:,} repeat buyers" if res.gg is not None
              else f"not fitted (only {res.repeat_buyers:,} repeat buyers)")
    return (f"Frequency counts repeat purchase days (orders on the same UTC day are one purchase); spend per "
            f"purchase is the mean of repeat purchases (Gamma-Gamma), {fitted}, and one-time buyers get the "
            f"fitted average. Refunds are not purchases, so CLV is in gross sales; {CUTOFF_RULE}.")


def _deciles(v: np.ndarray) -> np.ndarray:
    """Deciles 1..10 by rank (10 = highest); ties broken by position (deterministic)."""
    if len(v) == 0:
        return np.zeros(0, dtype=int)
    ranks = pd.Series(v).rank(method="first").to_numpy()
    return np.ceil(ranks / len(v) * 10).astype(int).clip(1, 10)


def holdout_validation(wh: Warehouse, calibration_end, holdout_days: int = 180) -> dict:
    """Fit on orders before the instant ``calibration_end``; predict purchase days in the next ``holdout_days``.

    Counted: purchase days (days of ``wh.day_zone`` with a sale order; lifetimes' ``calibration_and_holdout_data``,
    freq "D"). The naive baseline predicts for each customer the purchase days they had in the
    ``holdout_days`` before ``calibration_end`` ("same as last period").

    Returns
    -------
    dict
        ``by_group``: DataFrame of mean predicted / actual / naive purchases per repeat-purchase
        group (repeat purchase days 0, 1, 2, ..., 7+); ``mae_model``, ``mae_naive`` (per-customer
        mean absolute error, purchase days); ``params`` (fitted BG/NBD); ``n_customers``.
    """
    end = wh.instant(calibration_end)
    res = fit_clv(wh, end, horizon_days=holdout_days)
    t = res.table
    actual = purchase_days_between(wh, end, end + pd.Timedelta(days=holdout_days))
    prev = purchase_days_between(wh, end - pd.Timedelta(days=holdout_days), end)
    t = t.merge(actual.rename(columns={"n": "actual"}), on="customer_id", how="left")
    t = t.merge(prev.rename(columns={"n": "naive"}), on="customer_id", how="left")
    t[["actual", "naive"]] = t[["actual", "naive"]].fillna(0).astype(float)
    grp = np.minimum(t["frequency"], 7)
    t["group"] = np.where(grp >= 7, "7+", grp.astype(str))
    by = t.groupby("group", sort=False).agg(customers=("customer_id", "size"),
                                            predicted=("expected_purchases", "mean"),
                                            actual=("actual", "mean"), naive=("naive", "mean")).reset_index()
    by["order"] = by["group"].str.rstrip("+").astype(int)
    by = by.sort_values("order").drop(columns="order").reset_index(drop=True)
    return {"by_group": by,
            "mae_model": float(np.mean(np.abs(t["expected_purchases"] - t["actual"]))),
            "mae_naive": float(np.mean(np.abs(t["naive"] - t["actual"]))),
            "params": res.bgnbd.params_ if res.bgnbd else None, "n_customers": len(t),
            "calibration_end": str(calendar_day(end, wh.day_zone).date()), "holdout_days": holdout_days}


def plot_holdout(val: dict) -> plt.Figure:
    """Predicted vs actual (and naive) mean purchases per repeat-purchase group."""
    by = val["by_group"]
    fig, ax = plt.subplots(figsize=(9, 4))
    if by.empty:
        empty_chart(ax, "No customers to validate")
        return fig
    pos = np.arange(len(by))
    ax.bar(pos - 0.27, by["actual"], 0.27, label="actual", color="#1f4e79")
    ax.bar(pos, by["predicted"], 0.27, label="BG/NBD predicted", color="#6fa8dc")
    ax.bar(pos + 0.27, by["naive"], 0.27, label="naive (same as last period)", color="#cccccc")
    ax.set_xticks(pos, by["group"])
    ax.set_xlabel("repeat purchase days in the calibration period")
    ax.set_ylabel(f"purchase days per customer in the next {val['holdout_days']} days")
    ax.set_title(f"CLV holdout check (calibration up to {val['calibration_end']})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Seasonal buyers


def seasonal_share(wh: Warehouse, cutoff, seasons: list[tuple[dt.date, dt.date]]) -> pd.DataFrame:
    """Per customer: sale orders before ``cutoff`` and the share inside the given season windows.

    ``seasons`` are (start, end) dates, both inclusive, calendar days of ``wh.day_zone`` (a date or naive
    ``cutoff`` is read in that zone too); windows after the cutoff are ignored.
    Without any window every share is 0.
    """
    cut = wh.instant(cutoff)
    o = wh.table("orders")
    o = o.filter(o.order_ts < ibis.timestamp(cut), o.revenue >= 0, o.customer_id.notnull())
    if not seasons:  # no window: nobody has an order inside one (an ibis literal has no .sum())
        df = o.group_by("customer_id").aggregate(orders=o.count()).execute()
        df["season_orders"] = 0
    else:
        inside = ibis.literal(False)
        for s, e in seasons:  # local midnight to local midnight in the campaign's zone
            inside = inside | wh.in_days(o.order_ts, s, e)
        df = o.group_by("customer_id").aggregate(orders=o.count(), season_orders=inside.sum()).execute()
    df["seasonal_share"] = df["season_orders"] / df["orders"].where(df["orders"] > 0)
    return df


def seasonal_backtest(wh: Warehouse, season_start, season_end, cutoff, past_seasons: list[tuple],
                      min_share: float = 0.5, min_orders: int = 2) -> pd.DataFrame:
    """How BG/NBD judges seasonal buyers at a past cutoff, against what they did in that season.

    Parameters
    ----------
    season_start, season_end : date
        A past season window (inclusive) whose outcome is known.
    cutoff : instant
        Before that season; only orders strictly before it are used.
    past_seasons : list of (start, end)
        Earlier season windows used to compute each customer's seasonal share.
    min_share, min_orders : float, int
        A *seasonal buyer* has at least ``min_orders`` orders and at least ``min_share`` of them
        inside past seasons.

    Returns
    -------
    pandas.DataFrame
        One row per group ("seasonal buyers", "other repeat buyers"): customers, mean P(alive),
        mean expected purchases in the season, actual share who bought, actual mean purchases.
    """
    res = fit_clv(wh, cutoff, horizon_days=(pd.Timestamp(season_end) - pd.Timestamp(season_start)).days + 1)
    share = seasonal_share(wh, cutoff, past_seasons)
    t = res.table.merge(share[["customer_id", "seasonal_share"]], on="customer_id", how="left")
    actual = purchase_days_between(wh, season_start, pd.Timestamp(season_end) + pd.Timedelta(days=1))
    t = t.merge(actual.rename(columns={"n": "actual"}), on="customer_id", how="left")
    t["actual"] = t["actual"].fillna(0)
    t = t[t["orders"] >= min_orders]
    t["group"] = np.where(t["seasonal_share"].fillna(0) >= min_share, "seasonal buyers", "other repeat buyers")
    out = t.groupby("group").agg(customers=("customer_id", "size"), mean_p_alive=("p_alive", "mean"),
                                 expected_purchases=("expected_purchases", "mean"),
                                 actual_return_rate=("actual", lambda s: float((s > 0).mean())),
                                 actual_purchases=("actual", "mean")).reset_index()
    return out


def flag_seasonal(clv_table: pd.DataFrame, share: pd.DataFrame, min_share: float = 0.5,
                  min_orders: int = 2) -> pd.DataFrame:
    """Add ``seasonal_share`` and ``seasonal_buyer`` (bool) to a CLV table."""
    t = clv_table.merge(share[["customer_id", "seasonal_share"]], on="customer_id", how="left")
    t["seasonal_share"] = t["seasonal_share"].fillna(0.0)
    t["seasonal_buyer"] = (t["seasonal_share"] >= min_share) & (t["orders"] >= min_orders)
    return t


# --------------------------------------------------------------------------------------------
# notebook helpers


def campaign_holdout(wh: Warehouse, cfg, holdout_days: int = 180) -> dict:
    """:func:`holdout_validation` whose holdout ends at the planning as-of instant (the end of the
    cutoff day, :func:`playbook.data.cutoff.planning_as_of`); calibration before it."""
    cut = planning_as_of(cfg)
    try:
        return holdout_validation(wh, cut - pd.Timedelta(days=holdout_days), holdout_days)
    except DataError as exc:
        end = calendar_day(cut - pd.Timedelta(days=holdout_days), wh.day_zone).date()
        return {"by_group": pd.DataFrame(), "mae_model": None, "mae_naive": None, "params": None,
                "n_customers": 0, "calibration_end": str(end), "holdout_days": holdout_days, "note": str(exc)}


def campaign_seasonal_check(wh: Warehouse, cfg) -> pd.DataFrame:
    """:func:`seasonal_backtest` on the latest comparison season, seasonal share from the earlier ones.

    Empty when the config has fewer than two comparison seasons.
    """
    seasons = sorted(cfg.comparison_seasons, key=lambda s: s.start)
    if len(seasons) < 2:
        return pd.DataFrame()
    last = seasons[-1]
    lead = cfg.season.start - cfg.season.planning_cutoff
    return seasonal_backtest(wh, last.start, last.end, cutoff_instant(last.start - lead),
                             [(s.start, s.end) for s in seasons[:-1]])


def seasonal_skip_reason(cfg) -> str | None:
    """:data:`NO_COMPARISON_SEASON` when the campaign has no comparison season, else None."""
    return None if cfg.comparison_seasons else NO_COMPARISON_SEASON


def describe_holdout(val: dict) -> str:
    """One sentence on the holdout check (Markdown)."""
    if val["mae_model"] is None:
        return f"No holdout check was possible: {val.get('note', 'no data')}"
    better = "better" if val["mae_model"] < val["mae_naive"] else "not better"
    return (f"Fitted on orders before {val['calibration_end']}, BG/NBD predicted each customer's purchase days "
            f"in the next {val['holdout_days']} days with a mean absolute error of {val['mae_model']:.2f}, "
            f"{better} than repeating the previous period ({val['mae_naive']:.2f}).")


def describe_seasonal(tab: pd.DataFrame) -> str:
    """One sentence on how BG/NBD judges seasonal buyers vs what they did (Markdown)."""
    if tab.empty or "seasonal buyers" not in set(tab["group"]):
        return "No seasonal buyers could be identified (too few past seasons or orders)."
    s = tab.set_index("group").loc["seasonal buyers"]
    return (f"Before the last season BG/NBD gave the {int(s['customers']):,} seasonal buyers a mean probability "
            f"alive of {s['mean_p_alive']:.0%} and {s['expected_purchases']:.2f} expected orders in the window, "
            f"yet {s['actual_return_rate']:.0%} of them came back ({s['actual_purchases']:.2f} orders each): "
            "they are flagged and kept in holiday audiences rather than written off.")


def params_table(res: CLVResult) -> pd.DataFrame:
    """Fitted parameters (BG/NBD per week; Gamma-Gamma in currency units)."""
    rows = []
    if res.bgnbd is not None and res.bgnbd.params_ is not None:
        rows += [("BG/NBD", k, v) for k, v in res.bgnbd.params_.items()]
    if res.gg is not None and res.gg.params_ is not None:
        rows += [("Gamma-Gamma", k, v) for k, v in res.gg.params_.items()]
    return pd.DataFrame(rows, columns=["model", "parameter", "estimate"])


def decile_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Customers, mean CLV, mean P(alive) and CLV share per CLV decile (10 = highest)."""
    if table.empty:
        return pd.DataFrame(columns=["clv_decile", "customers", "mean_clv", "mean_p_alive", "clv_share"])
    g = table.groupby("clv_decile").agg(customers=("customer_id", "size"), mean_clv=("clv", "mean"),
                                        mean_p_alive=("p_alive", "mean"), total=("clv", "sum"))
    g["clv_share"] = g["total"] / max(g["total"].sum(), 1e-12)
    return g.drop(columns="total").sort_index(ascending=False).reset_index()


def campaign_seasonal_flags(wh: Warehouse, cfg, clv_table: pd.DataFrame) -> pd.DataFrame:
    """:func:`flag_seasonal` for a campaign: shares of orders in its comparison seasons before
    the planning cutoff (one call per notebook cell)."""
    seasons = [(s.start, s.end) for s in cfg.comparison_seasons]
    return flag_seasonal(clv_table, seasonal_share(wh, planning_as_of(cfg), seasons))
