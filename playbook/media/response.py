"""Channel response curves: one class for the plan and the retrospective, and the two fits.

The curve
---------
A :class:`ResponseCurve` gives a channel's expected incremental revenue **per day** (currency
per day) as a function of its spend **per day** (currency per day)::

    response(s) = ceiling * (1 - exp(-s / (scale * (1 - theta)))) + slope * s

* ``ceiling`` (currency per day): the most revenue per day the saturating part can add;
* ``scale`` (currency per day, of adstocked spend): the spend at which 63 % of it is reached.
  The exponential saturation is the Hill curve's concave special case without an S-shape;
* ``theta`` (``0 <= theta < 1``): optional geometric adstock ``a_t = s_t + theta * a_{t-1}``
  (Jin et al. 2017). A steady spend ``s`` carries over to ``a = s / (1 - theta)``, hence the
  steady-state scale ``scale * (1 - theta)`` above; :meth:`ResponseCurve.response_over_time`
  applies the carry-over day by day instead. ``theta = 0`` is no carry-over;
* ``slope`` (revenue per unit of spend): a linear, constant-ROAS part (0 for fitted curves).

The curve is concave in spend, which is what :mod:`playbook.media.allocation` relies on.

The two fits
------------
:func:`fit_order_curves` (the plan, on the history before the planning cutoff) models daily sale
orders as a multiplicative baseline plus additive media effects::

    orders_t = exp(x_t' gamma) + sum_c beta_c * (1 - exp(-a_ct / kappa_c))
    a_ct     = s_ct + theta * a_c,t-1

``x_t`` holds the demand regressors of :func:`playbook.forecasting.model.design_matrix`
(trend, weekday, annual Fourier terms, retail events), ``beta_c`` the most orders per day the
channel can add and ``kappa_c`` its spend scale; one shared decay ``theta`` is chosen from a small
grid by the fit's loss. Parameters are estimated by non-linear least squares with Poisson-like
weights (``scipy.optimize.least_squares`` on ``(y - mu) / sqrt(mu)``) and a prior on
``log(kappa / mean adstocked spend)``. Revenue = orders x the history's average order value
``aov``, so the curve's ``ceiling = aov * beta`` and ``scale = kappa``.

:func:`fit_revenue_curve` (the retrospective, on this season's days) fits a channel's daily
*attributed* revenue against its daily spend, ``revenue = ceiling * (1 - exp(-spend / scale))``,
with ``scipy.optimize.curve_fit`` and no adstock. With fewer than :data:`MIN_FIT_DAYS` days with
spend, a failed fit, or no spend-response signal (the fit explains < :data:`MIN_R2` of the
daily variance), :func:`anchored_curve` assumes a curve through the season's average point
instead and says so (``kind="anchored"``). Attributed revenue is not incremental revenue: such
curves inherit the attribution model's bias.

The fits differ because their data differ (orders with a demand baseline over years of history
vs attributed revenue over one season); both return :class:`ResponseCurve`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import curve_fit, least_squares

from playbook.forecasting.model import design_matrix

#: What a curve is: fitted, assumed through the average point, constant ROAS, or nothing.
CURVE_KINDS: tuple[str, ...] = ("saturating", "anchored", "linear", "none")

#: Adstock decays tried by :func:`fit_order_curves` (the one with the smallest loss is kept).
ADSTOCK_GRID: tuple[float, ...] = (0.0, 0.4)
#: Prior standard deviation of log(kappa / mean adstocked spend) in :func:`fit_order_curves`: the
#: half-saturation point is expected near the spend levels seen (as in Bayesian MMM priors);
#: keeps weak channels sane.
KAPPA_PRIOR_SD = 0.7
#: kappa / mean spend is kept within these bounds: a channel saturated at every spend level seen
#: (or linear over all of it) cannot be told apart from the baseline.
KAPPA_BOUNDS = (0.5, 8.0)

#: Fewest days with spend for which :func:`fit_revenue_curve` fits a saturating curve.
MIN_FIT_DAYS = 14
#: Smallest share of daily variance a curve fitted by :func:`fit_revenue_curve` must explain.
MIN_R2 = 0.05
#: Scale of the anchored fallback curve, as a multiple of the season's mean daily spend.
ANCHOR_SCALE = 1.0


# --------------------------------------------------------------------------------------------
# The curve
# --------------------------------------------------------------------------------------------
def saturation(spend: npt.ArrayLike, ceiling: float, scale: float) -> np.ndarray:
    """Exponential saturation ``ceiling * (1 - exp(-spend / scale))`` (units of ``ceiling``)."""
    s = np.asarray(spend, dtype=float)
    return ceiling * (1 - np.exp(-s / scale))


def adstock(spend: npt.ArrayLike, theta: float) -> np.ndarray:
    """Geometric adstock ``a_t = s_t + theta * a_{t-1}`` along axis 0 (days), ``a_{-1} = 0``."""
    s = np.asarray(spend, dtype=float)
    if theta == 0:
        return s.copy()
    out = np.empty_like(s)
    acc: np.ndarray | float = np.zeros(s.shape[1:]) if s.ndim > 1 else 0.0
    for t in range(len(s)):
        acc = s[t] + theta * acc
        out[t] = acc
    return out


@dataclass(frozen=True)
class ResponseCurve:
    """Expected incremental revenue per day of one channel against its spend per day.

    ``response(s) = ceiling * (1 - exp(-s / (scale * (1 - theta)))) + slope * s`` (module
    docstring). Spend in, revenue out, both in currency per day.

    Attributes
    ----------
    channel : str
    ceiling : float
        Revenue per day the saturating part approaches (currency per day); 0 for none.
    scale : float
        Spend per day (adstocked) at which 63 % of ``ceiling`` is reached (currency per day, > 0).
    slope : float
        Revenue per unit of spend of the linear part (0 for saturating curves).
    theta : float
        Adstock decay in ``[0, 1)``; 0 is no carry-over.
    kind : {"saturating", "anchored", "linear", "none"}
        ``"saturating"``: fitted; ``"anchored"``: assumed through the season's average point
        (:func:`anchored_curve`); ``"linear"``: constant ROAS; ``"none"``: no spend, zero curve.
    mean_spend : float
        Mean daily spend over the days fitted (currency per day; days without spend count as 0).
    days : int
        Days with spend in the data fitted.
    """

    channel: str
    ceiling: float = 0.0
    scale: float = 1.0
    slope: float = 0.0
    theta: float = 0.0
    kind: str = "saturating"
    mean_spend: float = 0.0
    days: int = 0

    def __post_init__(self) -> None:
        if self.kind not in CURVE_KINDS:
            raise ValueError(f"Unknown curve kind {self.kind!r}. Choose from {list(CURVE_KINDS)}")
        if not self.scale > 0:
            raise ValueError(f"{self.channel}: the curve's scale must be positive, got {self.scale}")
        if not 0 <= self.theta < 1:
            raise ValueError(f"{self.channel}: the adstock decay theta must lie in [0, 1), got {self.theta}")

    @property
    def scale_eff(self) -> float:
        """Steady-state scale ``scale * (1 - theta)`` (currency per day of raw spend)."""
        return self.scale * (1 - self.theta)

    @property
    def responds(self) -> bool:
        """Whether more spend earns anything (False for a zero curve)."""
        return self.ceiling > 0 or self.slope > 0

    def response(self, spend: npt.ArrayLike) -> np.ndarray:
        """Incremental revenue per day (currency) of a steady daily spend ``spend`` (currency)."""
        s = np.asarray(spend, dtype=float)
        return saturation(s, self.ceiling, self.scale_eff) + self.slope * s

    def marginal(self, spend: npt.ArrayLike) -> np.ndarray:
        """Revenue of one more currency unit of daily spend at daily spend ``spend``."""
        s = np.asarray(spend, dtype=float)
        return self.ceiling / self.scale_eff * np.exp(-s / self.scale_eff) + self.slope

    def response_over_time(self, spend: npt.ArrayLike) -> np.ndarray:
        """Revenue per day of a spend series (axis 0: days), with the adstock carried day by day."""
        s = np.asarray(spend, dtype=float)
        return saturation(adstock(s, self.theta), self.ceiling, self.scale) + self.slope * s

    def season_response(self, budget: float, profile: npt.ArrayLike) -> float:
        """Revenue of a season ``budget`` spread over the days by ``profile`` (shares summing to 1)."""
        return float(self.response(budget * np.asarray(profile, dtype=float)).sum())

    def season_marginal(self, budget: float, profile: npt.ArrayLike) -> float:
        """Derivative of :meth:`season_response` in ``budget`` (revenue per extra unit of budget)."""
        p = np.asarray(profile, dtype=float)
        return float((self.marginal(budget * p) * p).sum())


# --------------------------------------------------------------------------------------------
# The plan's fit: daily orders with a demand baseline
# --------------------------------------------------------------------------------------------
@dataclass
class CurveFit:
    """Result of :func:`fit_order_curves`.

    Attributes
    ----------
    curves : dict
        Channel -> :class:`ResponseCurve` (revenue per day; ``ceiling = aov * beta``).
    missing : list of str
        Channels without spend in the history (no curve).
    theta : float
        Adstock decay chosen.
    aov : float
        Average order value used to turn orders into revenue.
    loss : float
        Weighted sum of squares of the fit (NaN when nothing was fitted).
    """

    curves: dict[str, ResponseCurve]
    missing: list[str]
    theta: float
    aov: float
    loss: float

    def table(self, spend: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per channel: ``ceiling_per_day``, ``scale_per_day``, ``theta`` and, given the spend
        history (``day, channel, spend``), ``mean_daily_spend`` (over the days with spend rows),
        ``roas`` (incremental revenue / spend over the history) and ``marginal_roas`` at the mean
        daily spend."""
        rows = []
        for ch, c in self.curves.items():
            row: dict[str, Any] = {"channel": ch, "ceiling_per_day": c.ceiling, "scale_per_day": c.scale,
                                   "theta": c.theta}
            if spend is not None:
                s = spend[spend["channel"] == ch]["spend"].to_numpy(float)
                mean = float(s.mean()) if len(s) else 0.0
                row["mean_daily_spend"] = mean
                row["roas"] = float(c.response(s).sum() / s.sum()) if s.sum() > 0 else float("nan")
                row["marginal_roas"] = float(c.marginal(mean))
            rows.append(row)
        return pd.DataFrame(rows)


def fit_order_curves(
    orders: pd.Series,
    spend: pd.DataFrame,
    channels: Sequence[str],
    countries: Sequence[str],
    weights: Mapping[str, float] | None = None,
    aov: float = 1.0,
    thetas: Sequence[float] = ADSTOCK_GRID,
    annual_order: int = 4,
) -> CurveFit:
    """Fit baseline demand and one saturating response curve per channel to daily orders.

    Parameters
    ----------
    orders : Series
        Daily sale orders (index: days).
    spend : DataFrame
        ``day``, ``channel``, ``spend`` (currency per day; e.g.
        :func:`playbook.media.efficiency.daily_spend`).
    channels : sequence of str
        Channels to fit; channels without any spend in ``spend`` are returned in ``missing``.
    countries, weights
        Countries and mix of the series (for the event features of the baseline).
    aov : float
        Average order value (revenue per order) used to express curves in revenue.
    thetas : sequence of float
        Adstock decays tried.
    annual_order : int
        Fourier order of the baseline's annual seasonality.

    Returns
    -------
    CurveFit
    """
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
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for theta in thetas:
        A = adstock(S, theta) if k else S
        scale = np.maximum(A.mean(axis=0), 1e-9) if k else np.ones(0)
        x0 = np.r_[gamma0 + np.log(0.8), np.log(np.full(k, 0.05 * float(np.mean(yv)))), np.zeros(k)]
        lb = np.r_[np.full(nx, -np.inf), np.full(k, -12.0), np.full(k, np.log(KAPPA_BOUNDS[0]))]
        ub = np.r_[np.full(nx, np.inf), np.full(k, np.log(max(float(np.mean(yv)), 1.0))),
                   np.full(k, np.log(KAPPA_BOUNDS[1]))]
        sol = least_squares(_resid, x0, jac=_jac, args=(Xc, A, scale, k, yv, wts), bounds=(lb, ub),
                            method="trf", x_scale="jac", max_nfev=100, tr_solver="lsmr")
        loss = float(np.sum(sol.fun[:len(yv)] ** 2))
        if best is None or loss < best[0]:
            best = (loss, float(theta), sol.x, scale)
    if best is None:
        raise ValueError("thetas must hold at least one adstock decay")
    loss, theta, p, scale = best
    beta = np.exp(p[nx:nx + k])
    kappa = np.exp(p[nx + k:]) * scale
    curves = {ch: ResponseCurve(ch, ceiling=float(aov) * float(b), scale=float(kp), theta=float(theta),
                                mean_spend=float(wide[ch].mean()), days=int((wide[ch] > 0).sum()))
              for ch, b, kp in zip(fitted, beta, kappa, strict=True)}
    return CurveFit(curves, missing, float(theta), float(aov), loss)


def _parts(p: np.ndarray, Xc: np.ndarray, A: np.ndarray, scale: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    nx = Xc.shape[1]
    base = np.exp(np.clip(Xc @ p[:nx], -30, 30))
    beta = np.exp(p[nx:nx + k])
    kappa = np.exp(p[nx + k:]) * scale
    e = np.exp(-A / kappa) if k else np.zeros((len(Xc), 0))
    return base, beta, kappa, e


def _resid(p: np.ndarray, Xc: np.ndarray, A: np.ndarray, scale: np.ndarray, k: int, y: np.ndarray,
           wts: np.ndarray) -> np.ndarray:
    base, beta, kappa, e = _parts(p, Xc, A, scale, k)
    mu = base + (beta * (1 - e)).sum(axis=1)
    prior = p[Xc.shape[1] + k:] / KAPPA_PRIOR_SD
    return np.r_[(y - mu) * wts, prior]


def _jac(p: np.ndarray, Xc: np.ndarray, A: np.ndarray, scale: np.ndarray, k: int, y: np.ndarray,
         wts: np.ndarray) -> np.ndarray:
    base, beta, kappa, e = _parts(p, Xc, A, scale, k)
    d_gamma = base[:, None] * Xc
    d_beta = beta * (1 - e)
    d_kappa = -beta * e * (A / kappa)
    J = -wts[:, None] * np.column_stack([d_gamma, d_beta, d_kappa])
    P = np.zeros((k, len(p)))
    P[np.arange(k), Xc.shape[1] + k + np.arange(k)] = 1.0 / KAPPA_PRIOR_SD
    return np.vstack([J, P])


# --------------------------------------------------------------------------------------------
# The retrospective's fit: attributed revenue of one season, with an anchored fallback
# --------------------------------------------------------------------------------------------
def anchored_curve(channel: str, mean_spend: float, mean_revenue: float, days: int = 0) -> ResponseCurve:
    """Saturating curve through the season's average point, with its scale at the mean spend.

    ``scale = mean_spend`` and ``ceiling = mean_revenue / (1 - e^-1)``: the channel is assumed to
    have run at 63 % of its ceiling, so its marginal ROAS is ``0.58 x`` its average ROAS. Used
    when the season's days carry no usable spend-response signal. A zero curve (``kind="none"``)
    without spend or revenue.
    """
    if mean_spend <= 0 or mean_revenue <= 0:
        return ResponseCurve(channel, kind="none", mean_spend=max(mean_spend, 0.0), days=days)
    k = mean_spend * ANCHOR_SCALE
    return ResponseCurve(channel, ceiling=mean_revenue / (1 - np.exp(-mean_spend / k)), scale=k,
                         kind="anchored", mean_spend=mean_spend, days=days)


def fit_revenue_curve(channel: str, spend: npt.ArrayLike, revenue: npt.ArrayLike,
                      min_days: int = MIN_FIT_DAYS) -> ResponseCurve:
    """Fit ``revenue = ceiling * (1 - exp(-spend / scale))`` to daily points (least squares).

    Parameters
    ----------
    channel : str
    spend, revenue : array
        Daily spend and daily attributed revenue of the channel (currency), one value per day
        (days without spend included as 0).
    min_days : int
        Fewest days with spend for a fit.

    Returns
    -------
    ResponseCurve
        ``kind="saturating"`` when fitted. The scale is bounded to ``[0.25, 20] x`` the mean and
        maximum daily spend, so a curve cannot saturate below the spend actually observed. The fit
        is kept when it explains at least :data:`MIN_R2` of the daily variance and the scale is
        not at its lower bound; otherwise (too few days with spend, a failed fit, or no
        spend-response signal) :func:`anchored_curve`. Without spend the curve is zero
        (``kind="none"``).
    """
    x = np.asarray(spend, dtype=float)
    y = np.asarray(revenue, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    days = int((x > 0).sum())
    mean = float(x.mean()) if len(x) else 0.0
    if days == 0 or x.sum() <= 0:
        return ResponseCurve(channel, kind="none", mean_spend=mean, days=days)
    fallback = anchored_curve(channel, mean, max(float(y.mean()), 0.0), days)
    if days < min_days:
        return fallback
    k_lo, k_hi = 0.25 * mean, 20.0 * float(x.max())
    p0 = [max(float(y.max()), 1e-6) * 2, min(max(mean, k_lo * 1.01), k_hi)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (a, k), _ = curve_fit(saturation, x, y, p0=p0, bounds=([0.0, k_lo], [np.inf, k_hi]), maxfev=20000)
    except (RuntimeError, ValueError):
        return fallback
    resid = y - saturation(x, a, k)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float((resid ** 2).sum()) / sst if sst > 0 else 0.0
    if not (np.isfinite(a) and np.isfinite(k)) or a <= 0 or r2 < MIN_R2 or k <= k_lo * 1.001:
        return fallback
    return ResponseCurve(channel, ceiling=float(a), scale=float(k), kind="saturating", mean_spend=mean, days=days)
