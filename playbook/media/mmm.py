"""One media model of daily total sales: adstock and saturation per channel, calibrated, with intervals.

The model
---------
Daily sale orders are a multiplicative demand baseline plus additive media effects (Jin et al.
2017; the structure of Google's Meridian, Meta's Robyn and PyMC-Marketing)::

    orders_t = exp(x_t' gamma) + sum_c beta_c * (1 - exp(-a_ct / kappa_c)),   a_ct = s_ct + theta_c a_c,t-1

``x_t`` holds the forecasting features (:func:`playbook.forecasting.model.design_matrix`: trend,
weekday, annual Fourier terms, the calendar's retail events and user events), or any control
table given. Revenue = orders x ``aov`` (the average order value given), so each channel's curve
is a :class:`playbook.media.response.ResponseCurve` with ``ceiling = aov * beta``,
``scale = kappa`` and ``theta = theta_c``. Geometric adstock, exponential saturation.

Engine: scipy MAP plus a bootstrap that refits
----------------------------------------------
The MAP is penalised least squares (:mod:`playbook.media.mmm_fit`): Poisson-like weights with an
over-dispersion factor, a weakly informative prior on each channel's half-saturation spend, and
experiments as pseudo-observations. The adstock decay of each channel is picked from a small grid
(:data:`THETA_GRID`): first one shared decay, then each channel's own when it lowers the objective
by more than :data:`THETA_MARGIN`; otherwise its decay is not identifiable and it keeps the shared
one (``MediaModel.theta_source``). Uncertainty comes from ``draws`` refits on moving-block
resampled residuals, each with the lifts drawn from their own sampling distributions and the prior
centres drawn from the prior (a randomised-MAP approximation of the posterior), warm-started at
the MAP, and with each channel's decay drawn from its profile likelihood over the grid, so an
unidentified decay widens the intervals (``MediaModel.theta_weights``; ``summary()``'s
``theta_share`` is the share of draws at the MAP's decay). The decays are a grid, not continuous.

Why not PyMC-Marketing or NumPyro: they need PyTensor/JAX (hundreds of MB), take seconds to import
in a notebook kernel and minutes to compile and sample. This fit needs only numpy and scipy, adds
about 0.1 s of import to what the forecasting features already load, and takes 2.2 s (idle) to
8 s (a shared 2-core machine under a load of 8) for the MAP, the decays' profile and 200 refits on
the bundled sample (1,127 days, 5 channels, 40 baseline regressors), plus 0.2 s for
:func:`playbook.media.allocation_draws.optimise_draws` on its 200 draws; about 2 s on 3 years of
simulated data with 4 channels (measured 2026-12-02; ``MediaModel.fit_seconds``). It is
deterministic for a seed, and the recovery tests (``tests/test_mmm_recovery.py``) check it against planted truth.

Calibration
-----------
A :class:`Lift` (an experiment's incremental revenue or orders of one channel over a date window,
with its standard error; :func:`lift_from_holdout` reads a row of
:func:`playbook.experiments.incrementality.incrementality`) adds the row
``(model's contribution of the channel over the window - lift) / se`` to the objective (Robyn's
calibration, Meridian's ROI-prior in likelihood form). With lifts the model is also fitted without
them (``MediaModel.uncalibrated``) so :meth:`MediaModel.calibration` shows each estimate before and
after. Lifts come from the campaign's holdouts (``kind="holdout"``) and from lift studies given in the
campaign file (``media.lifts``, :func:`playbook.media.lifts.config_lifts`, ``kind="lift study"``).

References: https://developers.google.com/meridian/docs/basics/roi-priors-and-calibration,
https://facebookexperimental.github.io/Robyn/docs/calibration/,
https://www.pymc-marketing.io/en/stable/notebooks/mmm/mmm_lift_test.html
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from playbook.errors import ConfigError, DataError
from playbook.forecasting.model import design_matrix
from playbook.media import mmm_fit as MF
from playbook.media.mmm_report import diagnostics, identifiability_warnings, interval
from playbook.media.response import ResponseCurve

#: Adstock decays tried per channel.
THETA_GRID: tuple[float, ...] = (0.0, 0.3, 0.6)
#: Decrease of the objective (squared standard deviations) a channel's own decay must bring.
THETA_MARGIN = 6.0
#: Default interval level.
LEVEL = 0.9
#: Default moving-block length of the bootstrap (days).
BLOCK_DAYS = 14
#: Two-sided 95 % normal quantile (holdout intervals are 95 %).
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Lift:
    """An experiment's incremental effect of one channel over a date window.

    Attributes
    ----------
    channel : str
    start, end : date-like
        First and last day of the window (inclusive).
    incremental : float
        Incremental revenue (``unit="revenue"``, currency) or orders (``unit="orders"``) over the
        window attributable to the channel, for the whole population the model sees.
    se : float
        Its standard error (same unit, > 0).
    unit : {"revenue", "orders"}
    source : str
        Where it comes from (e.g. the experiment id, or the study's name).
    kind : str
        What measured it: ``"holdout"`` (a campaign experiment, :func:`lift_from_holdout`) or
        ``"lift study"`` (a result given in the campaign file, :func:`playbook.media.lifts.config_lifts`).
    """

    channel: str
    start: Any
    end: Any
    incremental: float
    se: float
    unit: str = "revenue"
    source: str = ""
    kind: str = "lift study"

    def __post_init__(self) -> None:
        if self.unit not in ("revenue", "orders"):
            raise ConfigError(f"Lift for {self.channel}: unknown unit {self.unit!r}. Choose from ['revenue', 'orders']")
        if not (np.isfinite(self.se) and self.se > 0):
            raise ConfigError(f"Lift for {self.channel}: the standard error must be positive, got {self.se}; "
                              "give the experiment's interval or standard error")
        if pd.Timestamp(self.end) < pd.Timestamp(self.start):
            raise ConfigError(f"Lift for {self.channel}: the window ends ({self.end}) before it starts ({self.start})")


def lift_from_holdout(row: Mapping[str, Any], start: Any, end: Any) -> Lift:
    """A :class:`Lift` from a row of :func:`playbook.experiments.incrementality.incrementality`.

    The row's ``incremental_revenue`` with its 95 % interval ``incremental_revenue_lo/hi`` gives
    ``se = (hi - lo) / (2 x 1.96)``; ``start``, ``end`` are the experiment's window.
    """
    lo, hi = float(row["incremental_revenue_lo"]), float(row["incremental_revenue_hi"])
    return Lift(str(row["channel"]), start, end, float(row["incremental_revenue"]), (hi - lo) / (2 * Z95),
                "revenue", str(row.get("experiment_id", "")), "holdout")


@dataclass
class MediaModel:
    """A fitted media model (:func:`fit_media_model`).

    Attributes
    ----------
    channels : list of str
        Channels fitted (with some spend in the history).
    missing : list of str
        Channels asked for without any spend (no curve).
    days : DatetimeIndex
    y : ndarray
        Daily orders fitted.
    spend : DataFrame
        Daily spend, days x channels (currency per day).
    aov : float
        Revenue per order used for every revenue figure.
    thetas : dict
        Adstock decay per channel; ``theta_source`` says ``"per-channel"`` or ``"shared"``.
    params : ndarray
        MAP parameters ``[gamma, beta, log kappa ratio]``; ``draws_params`` the bootstrap's and
        ``draws_thetas`` their adstock decays (draws x channels).
    theta_weights : ndarray
        Profile weights of each channel's decay over the grid (channels x grid) the draws' decays
        were drawn from; ``grid`` the decays.
    phi : float
        Over-dispersion (Pearson variance / Poisson variance) of the first fit.
    mu, mu_draws : ndarray
        Fitted daily orders (MAP, and per draw: draws x days).
    lifts : list of Lift
    uncalibrated : MediaModel or None
        The same model fitted without the lifts (when lifts were given).
    level : float
        Default interval level.
    diagnostics : dict
        R^2, MAPE, residual autocorrelation (lags 1 and 7), coverage of the predictive band.
    warnings : dict
        Channel -> list of reasons it may not be identifiable.
    fit_seconds : float
        Wall time of the MAP, the bootstrap and (with lifts) the uncalibrated fit.
    """

    channels: list[str]
    missing: list[str]
    days: pd.DatetimeIndex
    y: np.ndarray
    spend: pd.DataFrame
    aov: float
    thetas: dict[str, float]
    theta_source: dict[str, str]
    params: np.ndarray
    draws_params: np.ndarray
    draws_thetas: np.ndarray
    theta_weights: np.ndarray
    nx: int
    phi: float
    mu: np.ndarray
    mu_draws: np.ndarray
    grid: tuple[float, ...] = ()
    lifts: list[Lift] = field(default_factory=list)
    uncalibrated: MediaModel | None = None
    level: float = LEVEL
    diagnostics: dict[str, float] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    fit_seconds: float = float("nan")

    # -- parameters ------------------------------------------------------------------------
    @property
    def k(self) -> int:
        """Number of channels fitted."""
        return len(self.channels)

    def _map_thetas(self) -> np.ndarray:
        return np.array([[self.thetas[c] for c in self.channels]])

    def _adstocked(self, th: np.ndarray) -> np.ndarray:
        """Adstocked spend (days x channels) at decays ``th``."""
        return MF.adstock_matrix(self.spend[self.channels].to_numpy(float), th)

    def _beta_kappa(self, P: np.ndarray, TH: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``beta`` (orders per day) and ``kappa`` (currency per day) of parameter rows ``P`` with
        decay rows ``TH``."""
        P = np.atleast_2d(P)
        means: dict[tuple[float, ...], np.ndarray] = {}
        kappa = np.empty((len(P), self.k))
        for i, th in enumerate(TH):
            key = tuple(th.tolist())
            if key not in means:
                means[key] = np.maximum(self._adstocked(th).mean(axis=0), 1e-9)
            kappa[i] = np.exp(P[i, self.nx + self.k:self.nx + 2 * self.k]) * means[key]
        return P[:, self.nx:self.nx + self.k], kappa

    def _curves_of(self, p: np.ndarray, th: np.ndarray) -> dict[str, ResponseCurve]:
        beta, kappa = self._beta_kappa(p, th[None, :])
        out = {}
        for j, ch in enumerate(self.channels):
            s = self.spend[ch]
            out[ch] = ResponseCurve(ch, ceiling=self.aov * float(beta[0, j]), scale=float(kappa[0, j]),
                                    theta=float(th[j]), kind="saturating", mean_spend=float(s.mean()),
                                    days=int((s > 0).sum()))
        return out

    @property
    def curves(self) -> dict[str, ResponseCurve]:
        """The MAP's response curves (revenue per day against spend per day)."""
        return self._curves_of(self.params, self._map_thetas()[0])

    @property
    def draws(self) -> list[dict[str, ResponseCurve]]:
        """One ``dict`` of response curves per bootstrap draw (for a risk-aware optimiser)."""
        return [self._curves_of(p, th) for p, th in zip(self.draws_params, self.draws_thetas, strict=True)]

    # -- per-channel quantities ------------------------------------------------------------------
    def _contributions(self, P: np.ndarray, TH: np.ndarray) -> np.ndarray:
        """Incremental revenue over the history per parameter row and channel (rows x channels)."""
        beta, kappa = self._beta_kappa(P, TH)
        cache: dict[tuple[float, ...], np.ndarray] = {}
        out = np.empty_like(beta)
        for i, th in enumerate(TH):
            key = tuple(th.tolist())
            if key not in cache:
                cache[key] = self._adstocked(th)
            out[i] = self.aov * (beta[i] * (1 - np.exp(-cache[key] / kappa[i]))).sum(axis=0)
        return out

    def _marginals(self, P: np.ndarray, TH: np.ndarray) -> np.ndarray:
        """Marginal ROAS at the mean daily spend (steady state) per parameter row and channel."""
        beta, kappa = self._beta_kappa(P, TH)
        s = self.spend[self.channels].to_numpy(float).mean(axis=0)
        ke = kappa * (1 - TH)
        return self.aov * beta / ke * np.exp(-s / ke)

    def summary(self, level: float | None = None) -> pd.DataFrame:
        """Per channel: spend, contribution, ROAS and marginal ROAS with intervals.

        Columns: ``channel``, ``spend`` (total over the history), ``mean_daily_spend``, ``theta``
        (the MAP's adstock decay), ``theta_source``, ``theta_share`` (share of draws with that
        decay), and for each of ``contribution`` (incremental revenue over the history),
        ``roas`` (contribution / spend) and ``marginal_roas`` (revenue of one more unit of daily
        spend at the mean daily spend, steady state): the MAP ``<x>``, the draws' mean
        ``<x>_mean`` and the equal-tailed interval ``<x>_lo``, ``<x>_hi`` at ``level`` (default
        :attr:`level`); ``warning`` (the reasons joined, empty when none).
        """
        lv = self.level if level is None else level
        tot = self.spend[self.channels].sum().to_numpy(float)
        P, TH, T0 = self.draws_params, self.draws_thetas, self._map_thetas()
        vals = {"contribution": (self._contributions(self.params, T0)[0], self._contributions(P, TH)),
                "marginal_roas": (self._marginals(self.params, T0)[0], self._marginals(P, TH))}
        vals["roas"] = (vals["contribution"][0] / tot, vals["contribution"][1] / tot)
        rows = []
        for j, ch in enumerate(self.channels):
            row: dict[str, Any] = {"channel": ch, "spend": tot[j], "mean_daily_spend": float(self.spend[ch].mean()),
                                   "theta": self.thetas[ch], "theta_source": self.theta_source[ch],
                                   "theta_share": float(np.mean(TH[:, j] == self.thetas[ch]))}
            for name in ("contribution", "roas", "marginal_roas"):
                point, d = vals[name]
                lo, hi = interval(d[:, j], lv)
                row.update({name: float(point[j]), f"{name}_mean": float(d[:, j].mean()), f"{name}_lo": lo,
                            f"{name}_hi": hi})
            row["warning"] = "; ".join(self.warnings.get(ch, []))
            rows.append(row)
        return pd.DataFrame(rows)

    def curve_bands(self, grid: Sequence[float] | None = None, n: int = 41, level: float | None = None,
                    upto: float = 2.0) -> pd.DataFrame:
        """Response curves with bands: a tidy table ``channel, spend, estimate, mean, lo, hi``.

        ``spend`` is a steady daily spend (currency per day): ``grid`` if given, else ``n`` points
        from 0 to ``upto`` x the channel's largest daily spend. ``estimate`` is the MAP curve's
        incremental revenue per day, ``mean``/``lo``/``hi`` the draws' mean and interval.
        """
        lv = self.level if level is None else level
        beta, kappa = self._beta_kappa(self.draws_params, self.draws_thetas)
        map_curves = self.curves
        frames = []
        for j, ch in enumerate(self.channels):
            g = np.asarray(grid, float) if grid is not None else np.linspace(0, upto * float(self.spend[ch].max()), n)
            ke = kappa[:, j] * (1 - self.draws_thetas[:, j])
            R = self.aov * beta[:, j:j + 1] * (1 - np.exp(-g[None, :] / ke[:, None]))
            lo, hi = np.quantile(R, [(1 - lv) / 2, (1 + lv) / 2], axis=0)
            frames.append(pd.DataFrame({"channel": ch, "spend": g, "estimate": map_curves[ch].response(g),
                                        "mean": R.mean(axis=0), "lo": lo, "hi": hi}))
        return pd.concat(frames, ignore_index=True)

    def calibration(self, level: float | None = None) -> pd.DataFrame:
        """Each channel's ROAS and marginal ROAS before (without lifts) and after calibration.

        Columns: ``channel``, ``lift`` (sum of its lifts in revenue, NaN without), ``lift_source``
        (each lift's kind and source, ``"holdout xmas25_email_holdout; lift study Meta study"``,
        empty without), and for ``roas`` and ``marginal_roas``: ``<x>_before``, ``<x>_before_lo``,
        ``<x>_before_hi``, ``<x>_after``,
        ``<x>_after_lo``, ``<x>_after_hi``. Without lifts, before = after.
        """
        after = self.summary(level).set_index("channel")
        before = (self.uncalibrated or self).summary(level).set_index("channel")
        out = pd.DataFrame(index=after.index)
        lift_rev: dict[str, float] = {}
        sources: dict[str, list[str]] = {}
        for lf in self.lifts:
            v = lf.incremental * (1.0 if lf.unit == "revenue" else self.aov)
            lift_rev[lf.channel] = lift_rev.get(lf.channel, 0.0) + v
            sources.setdefault(lf.channel, []).append(f"{lf.kind} {lf.source}".strip())
        out["lift"] = [lift_rev.get(c, np.nan) for c in out.index]
        out["lift_source"] = ["; ".join(sources.get(c, [])) for c in out.index]
        for name in ("roas", "marginal_roas"):
            for tag, t in (("before", before), ("after", after)):
                out[f"{name}_{tag}"] = t[name]
                out[f"{name}_{tag}_lo"] = t[f"{name}_lo"]
                out[f"{name}_{tag}_hi"] = t[f"{name}_hi"]
        return out.reset_index()


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------
def wide_spend(spend: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily spend as days x channels (0 where missing) from a long ``day, channel, spend`` table
    or an already wide table indexed by day."""
    if {"day", "channel", "spend"} <= set(spend.columns):
        w = spend.assign(day=pd.to_datetime(spend["day"])).pivot_table(
            index="day", columns="channel", values="spend", aggfunc="sum")
    else:
        w = spend.copy()
        w.index = pd.to_datetime(w.index)
    return w.reindex(days).fillna(0.0).astype(float)


def _lift_arrays(lifts: Sequence[Lift], channels: list[str], days: pd.DatetimeIndex,
                 aov: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    masks, chans, vals, ses = [], [], [], []
    for lf in lifts:
        if lf.channel not in channels:
            raise ConfigError(f"Lift {lf.source or ''} names channel {lf.channel!r}, which has no spend in the "
                              f"history. Channels fitted: {channels}")
        mk = (days >= pd.Timestamp(lf.start)) & (days <= pd.Timestamp(lf.end))
        if not mk.any():
            raise ConfigError(f"Lift for {lf.channel} ({lf.start} to {lf.end}) lies outside the history "
                              f"({days[0].date()} to {days[-1].date()}); fit on a history that includes its window")
        f = 1.0 if lf.unit == "orders" else 1.0 / aov
        masks.append(np.asarray(mk))
        chans.append(channels.index(lf.channel))
        vals.append(lf.incremental * f)
        ses.append(lf.se * f)
    n = len(days)
    return (np.array(masks, bool).reshape(len(masks), n), np.array(chans, int), np.array(vals, float),
            np.array(ses, float))


def _controls(days: pd.DatetimeIndex, controls: pd.DataFrame | None, countries: Sequence[str],
              weights: Mapping[str, float] | None, annual_order: int, events: pd.DataFrame | None) -> np.ndarray:
    """Baseline regressors with a leading constant (constant columns dropped)."""
    if controls is not None:
        X = controls.reindex(days)
        if X.isna().any().any():
            bad = X.columns[X.isna().any()].tolist()
            raise DataError(f"The control table misses days of the history in columns {bad}; give one row per day")
    else:
        X = design_matrix(days, countries, dict(weights) if weights else None, annual_order, events=events)
    X = X.loc[:, X.std() > 0]
    return np.column_stack([np.ones(len(days)), X.to_numpy(float)])


def _check(y: pd.Series, channels: Sequence[str], aov: float, draws: int) -> None:
    if len(y) < 60:
        raise DataError(f"The media model needs at least 60 days of orders, got {len(y)}")
    idx = pd.DatetimeIndex(pd.to_datetime(y.index))
    if not bool(((idx[1:] - idx[:-1]) == pd.Timedelta(days=1)).all()):
        raise DataError("Daily orders must be indexed by consecutive days (adstock carries over day by day); "
                        "reindex with pd.date_range(first, last) and fill missing days with 0")
    if y.isna().any() or (y < 0).any():
        raise DataError("Daily orders must be non-negative numbers without gaps; fill missing days with 0")
    if not (np.isfinite(aov) and aov > 0):
        raise ConfigError(f"The average order value must be positive, got {aov}")
    if draws < 2:
        raise ConfigError(f"draws must be at least 2 for intervals, got {draws}")
    if not channels:
        raise ConfigError("No channels to fit; name at least one channel with spend")


def fit_media_model(
    y: pd.Series,
    spend: pd.DataFrame,
    channels: Sequence[str],
    *,
    aov: float,
    countries: Sequence[str] = (),
    weights: Mapping[str, float] | None = None,
    annual_order: int = 4,
    events: pd.DataFrame | None = None,
    controls: pd.DataFrame | None = None,
    lifts: Sequence[Lift] = (),
    draws: int = 200,
    seed: int = 0,
    level: float = LEVEL,
    thetas: Sequence[float] = THETA_GRID,
    per_channel_theta: bool = True,
    block: int = BLOCK_DAYS,
) -> MediaModel:
    """Fit the media model to daily orders, with bootstrap draws and optional experiment calibration.

    Parameters
    ----------
    y : Series
        Daily sale orders, indexed by consecutive days.
    spend : DataFrame
        Daily spend: long ``day, channel, spend`` (e.g. :func:`playbook.media.efficiency.daily_spend`)
        or wide (index days, one column per channel); currency per day, missing days count as 0.
    channels : sequence of str
        Channels to fit; those without spend are listed in ``MediaModel.missing``.
    aov : float
        Revenue per order (currency) for every revenue figure.
    countries, weights, annual_order, events
        Baseline features of :func:`playbook.forecasting.model.design_matrix`, used when
        ``controls`` is None.
    controls : DataFrame, optional
        Baseline regressors indexed by day (instead of the forecasting features).
    lifts : sequence of Lift
        Experiment results that calibrate the fit.
    draws : int
        Bootstrap refits (each a set of curves).
    seed : int
        Seed of the bootstrap; the same inputs and seed give identical draws.
    level : float
        Default interval level of the outputs.
    thetas : sequence of float
        Adstock decays tried (in ``[0, 1)``).
    per_channel_theta : bool
        Let each channel have its own decay when the data say so (else one shared decay).
    block : int
        Moving-block length of the bootstrap (days).

    Returns
    -------
    MediaModel

    Raises
    ------
    DataError
        Fewer than 60 days, days not consecutive, negative or missing orders, controls missing days,
        no channel with spend.
    ConfigError
        Non-positive ``aov``, fewer than 2 draws, no channel, a lift outside the history.
    """
    t0 = time.perf_counter()
    _check(y, channels, aov, draws)
    with threadpool_limits(limits=1, user_api="blas"):  # small dense solves: threads only contend
        model = _fit(y, spend, channels, aov, (countries, weights, annual_order, events, controls), lifts, draws,
                     seed, level, thetas, per_channel_theta, block)
    model.fit_seconds = time.perf_counter() - t0
    return model


@dataclass(frozen=True)
class _Options:
    """Options of the bootstrap (see :func:`fit_media_model`)."""

    grid: tuple[float, ...]
    per_channel_theta: bool
    draws: int
    block: int
    level: float


def _fit(y: pd.Series, spend: pd.DataFrame, channels: Sequence[str], aov: float, baseline: tuple[Any, ...],
         lifts: Sequence[Lift], draws: int, seed: int, level: float, thetas: Sequence[float],
         per_channel_theta: bool, block: int) -> MediaModel:
    """:func:`fit_media_model` without the checks and the timing."""
    countries, weights, annual_order, events, controls = baseline
    days = pd.DatetimeIndex(pd.to_datetime(y.index))
    W = wide_spend(spend, days)
    fitted = [c for c in channels if c in W.columns and W[c].sum() > 0]
    if not fitted:
        raise DataError(f"None of the channels {list(channels)} has spend in the history")
    W = W[fitted]
    Xc = _controls(days, controls, countries, weights, annual_order, events)
    yv = y.to_numpy(float)
    pr = MF.Problem(Xc, W.to_numpy(float), yv, np.ones(len(yv)))
    pr.w, phi = _weights(pr, thetas)
    grid = tuple(float(t) for t in thetas)
    th, p, _, source = MF.select_thetas(pr, grid, per_channel_theta, THETA_MARGIN)
    rng = np.random.default_rng(seed)
    opts = _Options(grid, per_channel_theta, draws, block, level)
    base = _assemble(pr, fitted, W, days, aov, th, source, p, phi, opts, rng)
    base.missing = [c for c in channels if c not in fitted]
    model = base
    if lifts:
        pr.lift_masks, pr.lift_channel, pr.lift_value, pr.lift_se = _lift_arrays(lifts, fitted, days, aov)
        p_cal, _ = MF.solve(pr, th, p)
        model = _assemble(pr, fitted, W, days, aov, th, source, p_cal, phi, opts, np.random.default_rng(seed))
        model.missing, model.lifts, model.uncalibrated = base.missing, list(lifts), base
    return model


def _weights(pr: MF.Problem, thetas: Sequence[float]) -> tuple[np.ndarray, float]:
    """Variance weights ``phi * max(mu, 1)`` and ``phi`` (Pearson over-dispersion, at least 1) from a
    first fit at the first decay of the grid."""
    t = np.full(pr.k, float(thetas[0]))
    p, _ = MF.solve(pr, t, MF.start(pr))
    A = MF.adstock_matrix(pr.S, t)
    _, mu = MF.mean_orders(p, pr.Xc, A, np.maximum(A.mean(axis=0), 1e-9))
    mu = np.maximum(mu, 1.0)
    phi = max(float(np.sum((pr.y - mu) ** 2 / mu)) / max(len(mu) - len(p), 1), 1.0)
    return phi * mu, phi


def _assemble(pr: MF.Problem, fitted: list[str], W: pd.DataFrame, days: pd.DatetimeIndex, aov: float,
              th: np.ndarray, source: list[str], p: np.ndarray, phi: float, opts: _Options,
              rng: np.random.Generator) -> MediaModel:
    """Bootstrap around the MAP ``p`` and package the model with its diagnostics and warnings."""
    grid = opts.grid
    if opts.per_channel_theta and len(grid) > 1:
        tw = MF.theta_weights(pr, grid, th, p)
    else:
        tw = np.array([[1.0 if g == t else 0.0 for g in grid] for t in th])
    TH = MF.draw_thetas(grid, tw, opts.draws, rng)
    P = MF.bootstrap(pr, th, p, TH, opts.block, rng)
    A = MF.adstock_matrix(pr.S, th)
    mu = MF.mean_orders(p, pr.Xc, A, np.maximum(A.mean(axis=0), 1e-9))[1]
    mu_d = np.empty((len(P), len(mu)))
    for d, (q, t) in enumerate(zip(P, TH, strict=True)):
        Ad = MF.adstock_matrix(pr.S, t)
        mu_d[d] = MF.mean_orders(q, pr.Xc, Ad, np.maximum(Ad.mean(axis=0), 1e-9))[1]
    model = MediaModel(fitted, [], days, pr.y, W, float(aov), dict(zip(fitted, th.tolist(), strict=True)),
                       dict(zip(fitted, source, strict=True)), p, P, TH, tw, pr.nx, phi, mu, mu_d,
                       grid=grid, level=opts.level)
    model.diagnostics = diagnostics(pr.y, mu, mu_d, pr.w, opts.level, rng)
    model.warnings = identifiability_warnings(W, A, pr.Xc, model.summary(opts.level))
    return model
