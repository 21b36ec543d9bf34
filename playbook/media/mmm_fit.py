"""Numerical core of the media model (:mod:`playbook.media.mmm`): MAP fit, adstock search, bootstrap.

The model of daily orders ``y_t`` (Jin et al. 2017, "Bayesian methods for media mix modeling
with carryover and shape effects"; the exponential saturation is the concave Hill case)::

    mu_t = exp(x_t' gamma) + sum_c beta_c * (1 - exp(-a_ct / kappa_c)),   a_ct = s_ct + theta_c a_c,t-1

Parameters ``p = [gamma (nx), beta (k), lk (k)]`` with ``beta_c >= 0`` (orders per day the
channel can add at most; linear, so a channel without effect can reach exactly its bound) and
``kappa_c = exp(lk_c) * m_c`` where ``m_c`` is the channel's mean adstocked spend.

The objective (``scipy.optimize.least_squares``, trust-region reflective) stacks

* data rows ``(y_t - mu_t) / sqrt(phi * w_t)``: Poisson-like weights with fixed ``w_t`` (the
  baseline fitted first) and the over-dispersion ``phi`` (Pearson statistic of a first fit), so
  one row is one standard deviation;
* prior rows ``(lk_c - c_c) / KAPPA_PRIOR_SD``: the half-saturation point is expected near the
  spend levels seen (as the weakly informative priors of Meridian and PyMC-Marketing), ``c_c = 0``
  for the MAP and drawn from the prior in each bootstrap refit (randomised MAP);
* lift rows ``(sum_{t in window} beta_c (1 - e_ct) - L_j) / se_j``: an experiment's incremental
  orders over its window as a pseudo-observation of the model's contribution of that channel over
  the same days (how Robyn calibrates, and the Gaussian-likelihood form of Meridian's ROI priors).

The residual bootstrap (:func:`bootstrap`) refits on ``y* = mu + sqrt(phi mu) r*`` where ``r*`` are
the standardised residuals resampled in moving blocks (Kuensch 1989; keeps their autocorrelation
and over-dispersion), with each lift drawn from ``N(L, se)`` and each prior centre from the prior,
warm-started at the MAP, with each channel's adstock decay drawn from its profile likelihood over
the grid (:func:`theta_weights`), so a decay the data cannot pin down widens the intervals.

References: https://docs.scipy.org/doc/scipy/reference/generated/scipy.optimize.least_squares.html,
https://developers.google.com/meridian/docs/basics/roi-priors-and-calibration,
https://facebookexperimental.github.io/Robyn/docs/calibration/
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

#: Prior standard deviation of ``log(kappa / mean adstocked spend)``.
KAPPA_PRIOR_SD = 0.7
#: ``kappa / mean adstocked spend`` is kept within these bounds.
KAPPA_BOUNDS = (0.5, 8.0)
#: A beta (orders per day) at most this share of mean daily orders is the bound: no effect (0).
BETA_ZERO_TOL = 1e-6
#: Most evaluations per least-squares solve (MAP and each refit).
MAX_NFEV = 200
#: Trust-region subproblem solver of ``least_squares`` (``"lsmr"`` avoids an SVD per iteration).
TR_SOLVER = "lsmr"
#: Relative tolerance on the objective of each bootstrap refit (the MAP uses scipy's 1e-8).
REFIT_FTOL = 1e-6
#: Most Levenberg-Marquardt iterations of a bootstrap refit.
REFIT_MAX_ITER = 40


@dataclass
class Problem:
    """The arrays of one fit.

    Attributes
    ----------
    Xc : array (n, nx)
        Baseline regressors with a leading constant.
    S : array (n, k)
        Daily spend per channel (currency per day).
    y : array (n,)
        Daily orders.
    w : array (n,)
        Fixed variance weights ``phi * max(baseline, 1)`` of the data rows.
    lift_masks : array (m, n) of bool
        Days of each lift's window.
    lift_channel : array (m,) of int
        Channel index of each lift.
    lift_value, lift_se : array (m,)
        Incremental orders over the window and their standard error.
    """

    Xc: np.ndarray
    S: np.ndarray
    y: np.ndarray
    w: np.ndarray
    lift_masks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    lift_channel: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    lift_value: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lift_se: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def k(self) -> int:
        """Number of channels."""
        return int(self.S.shape[1])

    @property
    def nx(self) -> int:
        """Number of baseline coefficients (with the constant)."""
        return int(self.Xc.shape[1])


def adstock_matrix(S: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """Geometric adstock ``a_t = s_t + theta_c a_{t-1}`` of each column of ``S`` with its own decay."""
    A = np.empty_like(S, dtype=float)
    for c in range(S.shape[1]):
        A[:, c] = lfilter([1.0], [1.0, -float(thetas[c])], S[:, c]) if thetas[c] > 0 else S[:, c]
    return A


def kappa_of(p: np.ndarray, nx: int, k: int, m: np.ndarray) -> np.ndarray:
    """``kappa_c = exp(lk_c) * m_c`` (currency per day of adstocked spend)."""
    return np.exp(p[nx + k:nx + 2 * k]) * m


def media_terms(p: np.ndarray, nx: int, A: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``beta``, ``kappa`` and ``e = exp(-A / kappa)`` of parameters ``p``."""
    k = A.shape[1]
    beta = p[nx:nx + k]
    kappa = kappa_of(p, nx, k, m)
    return beta, kappa, np.exp(-A / kappa)


def mean_orders(p: np.ndarray, Xc: np.ndarray, A: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and total expected daily orders ``(base, mu)``."""
    nx = Xc.shape[1]
    base = np.exp(np.clip(Xc @ p[:nx], -30, 30))
    beta, _, e = media_terms(p, nx, A, m)
    return base, base + (beta * (1 - e)).sum(axis=1)


def _resid(p: np.ndarray, pr: Problem, A: np.ndarray, m: np.ndarray, y: np.ndarray, centre: np.ndarray,
           lift: np.ndarray) -> np.ndarray:
    nx, k = pr.nx, pr.k
    _, mu = mean_orders(p, pr.Xc, A, m)
    beta, _, e = media_terms(p, nx, A, m)
    rows = [(y - mu) / np.sqrt(pr.w), (p[nx + k:] - centre) / KAPPA_PRIOR_SD]
    if len(lift):
        contrib = beta[pr.lift_channel] * (pr.lift_masks * (1 - e[:, pr.lift_channel]).T).sum(axis=1)
        rows.append((contrib - lift) / pr.lift_se)
    return np.concatenate(rows)


def _jac(p: np.ndarray, pr: Problem, A: np.ndarray, m: np.ndarray, y: np.ndarray, centre: np.ndarray,
         lift: np.ndarray) -> np.ndarray:
    nx, k = pr.nx, pr.k
    base, _ = mean_orders(p, pr.Xc, A, m)
    beta, kappa, e = media_terms(p, nx, A, m)
    sw = np.sqrt(pr.w)[:, None]
    J = -np.column_stack([base[:, None] * pr.Xc, 1 - e, -beta * e * (A / kappa)]) / sw
    P = np.zeros((k, len(p)))
    P[np.arange(k), nx + k + np.arange(k)] = 1.0 / KAPPA_PRIOR_SD
    blocks = [J, P]
    if len(lift):
        L = np.zeros((len(lift), len(p)))
        for j, c in enumerate(pr.lift_channel):
            mk = pr.lift_masks[j]
            L[j, nx + c] = (1 - e[mk, c]).sum()
            L[j, nx + k + c] = -(beta[c] * e[mk, c] * A[mk, c] / kappa[c]).sum()
        blocks.append(L / pr.lift_se[:, None])
    return np.vstack(blocks)


def bounds(pr: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of ``p``: ``0 <= beta <= max(y)``, ``kappa / m`` in :data:`KAPPA_BOUNDS`."""
    nx, k = pr.nx, pr.k
    lb = np.r_[np.full(nx, -np.inf), np.zeros(k), np.full(k, np.log(KAPPA_BOUNDS[0]))]
    ub = np.r_[np.full(nx, np.inf), np.full(k, max(float(pr.y.max()), 1.0)), np.full(k, np.log(KAPPA_BOUNDS[1]))]
    return lb, ub


def start(pr: Problem) -> np.ndarray:
    """Starting point: the log-linear baseline at 80 %, each channel at 5 % of mean orders."""
    gamma0 = np.linalg.lstsq(pr.Xc, np.log(pr.y + 1.0), rcond=None)[0]
    return np.r_[gamma0 + np.log(0.8), np.full(pr.k, 0.05 * float(np.mean(pr.y))), np.zeros(pr.k)]


def solve(pr: Problem, thetas: np.ndarray, x0: np.ndarray, y: np.ndarray | None = None,
          centre: np.ndarray | None = None, lift: np.ndarray | None = None, ftol: float = 1e-8,
          ) -> tuple[np.ndarray, float]:
    """Penalised least squares at adstock decays ``thetas`` from ``x0``.

    Returns
    -------
    (p, loss)
        Parameters (``beta`` within :data:`BETA_ZERO_TOL` of 0 set to 0) and the objective
        ``sum of squared rows`` (data, prior and lift rows; units of one standard deviation).
    """
    A = adstock_matrix(pr.S, thetas)
    m = np.maximum(A.mean(axis=0), 1e-9)
    yv = pr.y if y is None else y
    c = np.zeros(pr.k) if centre is None else centre
    lv = pr.lift_value if lift is None else lift
    lb, ub = bounds(pr)
    lo = np.where(np.isfinite(lb), lb + 1e-8 * (1 + np.abs(np.where(np.isfinite(lb), lb, 0))), lb)
    hi = np.where(np.isfinite(ub), ub - 1e-8 * (1 + np.abs(np.where(np.isfinite(ub), ub, 0))), ub)
    x = np.clip(x0, lo, hi)
    sol = least_squares(_resid, x, jac=_jac, args=(pr, A, m, yv, c, lv), bounds=(lb, ub), method="trf",
                        x_scale="jac", max_nfev=MAX_NFEV, ftol=ftol, tr_solver=TR_SOLVER)
    p = sol.x.copy()
    nx, k = pr.nx, pr.k
    p[nx:nx + k] = np.where(p[nx:nx + k] <= BETA_ZERO_TOL * float(np.mean(pr.y)), 0.0, p[nx:nx + k])
    return p, float(np.sum(sol.fun ** 2))


def refit(pr: Problem, A: np.ndarray, m: np.ndarray, x0: np.ndarray, y: np.ndarray, centre: np.ndarray,
          lift: np.ndarray, max_iter: int = REFIT_MAX_ITER) -> tuple[np.ndarray, float]:
    """Projected Levenberg-Marquardt from ``x0`` (a warm start near the optimum), for the refits.

    Each step solves the damped normal equations ``(J'J + lam diag(J'J)) d = -J'r`` over the
    parameters not held at a bound by the gradient (a projected
    Levenberg-Marquardt method, Kanzow, Yamashita & Fukushima 2004), clips to
    the bounds, and is kept when it lowers the objective (else ``lam`` grows tenfold). Stops when the
    objective falls by less than :data:`REFIT_FTOL` relatively. Cheaper than ``least_squares`` here
    because the refit starts next to its optimum and needs no SVD.
    """
    lb, ub = bounds(pr)
    x = np.clip(x0, lb, ub)
    args = (pr, A, m, y, centre, lift)
    r = _resid(x, *args)
    loss = float(r @ r)
    lam = 1e-3
    for _ in range(max_iter):
        J = _jac(x, *args)
        g = J.T @ r
        free = ~(((x <= lb) & (g > 0)) | ((x >= ub) & (g < 0)))
        H = J[:, free].T @ J[:, free]
        d = np.zeros_like(x)
        while True:
            try:
                d[free] = np.linalg.solve(H + lam * np.diag(np.diag(H) + 1e-12), -g[free])
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            xn = np.clip(x + d, lb, ub)
            rn = _resid(xn, *args)
            ln = float(rn @ rn)
            if ln <= loss or lam > 1e8:
                break
            lam *= 10
        if ln > loss:
            break
        done = loss - ln <= REFIT_FTOL * loss
        x, r, loss, lam = xn, rn, ln, max(lam / 10, 1e-7)
        if done:
            break
    return x, loss


def select_thetas(pr: Problem, grid: tuple[float, ...], per_channel: bool, margin: float,
                  ) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    """Adstock decays: the best shared value of ``grid``, then per channel by coordinate search.

    A channel gets its own decay only when it lowers the objective by more than ``margin`` (in
    units of one squared standard deviation, a likelihood-ratio-like threshold); otherwise the
    data cannot tell its decay from the shared one and it keeps the shared decay.

    Returns
    -------
    (thetas, p, loss, source)
        Decay per channel, MAP parameters, objective, and per channel ``"per-channel"`` or
        ``"shared"``.
    """
    k = pr.k
    x0 = start(pr)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for th in grid:
        t = np.full(k, float(th))
        p, loss = solve(pr, t, x0)
        if best is None or loss < best[0]:
            best = (loss, t, p)
    if best is None:
        raise ValueError("The adstock grid must hold at least one decay in [0, 1)")
    loss, thetas, p = best
    source = ["shared"] * k
    if not per_channel or len(grid) < 2:
        return thetas, p, loss, source
    for c in range(k):
        for th in grid:
            if th == thetas[c]:
                continue
            t = thetas.copy()
            t[c] = th
            p2, l2 = solve(pr, t, p)
            if l2 < loss - margin:
                loss, thetas, p = l2, t, p2
                source[c] = "per-channel"
    return thetas, p, loss, source


def theta_weights(pr: Problem, grid: tuple[float, ...], thetas: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Profile weights of each channel's decay over ``grid`` around the MAP (channels x grid).

    For channel ``c`` and decay ``g`` the objective is re-minimised (warm, other decays at the
    MAP's) and weighted ``exp(-(loss - min loss) / 2)`` (the objective is a deviance, so this is
    the likelihood ratio), normalised per channel. A decay the data cannot pin down gets weights
    spread over the grid, which the bootstrap then propagates.
    """
    k, G = pr.k, len(grid)
    L = np.empty((k, G))
    c0 = np.zeros(k)
    for c in range(k):
        for g, th in enumerate(grid):
            t = thetas.copy()
            t[c] = th
            A = adstock_matrix(pr.S, t)
            L[c, g] = refit(pr, A, np.maximum(A.mean(axis=0), 1e-9), p, pr.y, c0, pr.lift_value)[1]
    W = np.exp(-(L - L.min(axis=1, keepdims=True)) / 2)
    return W / W.sum(axis=1, keepdims=True)


def draw_thetas(grid: tuple[float, ...], weights: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Decays per draw and channel (draws x channels), each channel's from its profile weights."""
    g = np.asarray(grid, float)
    return np.column_stack([g[rng.choice(len(g), size=draws, p=w)] for w in weights]) if len(weights) else \
        np.zeros((draws, 0))


def block_indices(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Moving-block bootstrap indices of length ``n`` (blocks of ``block`` days, random starts)."""
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=int(np.ceil(n / block)))
    return (starts[:, None] + np.arange(block)).ravel()[:n]


def bootstrap(pr: Problem, thetas: np.ndarray, p_map: np.ndarray, draw_th: np.ndarray, block: int,
              rng: np.random.Generator) -> np.ndarray:
    """Parameters of one refit per row of ``draw_th`` on block-resampled residuals (rows: draws).

    Each refit resamples the standardised residuals ``r = (y - mu) / sqrt(w)`` of the MAP (decays
    ``thetas``) in moving blocks, draws each lift from ``N(L, se)`` and each prior centre from
    ``N(0, KAPPA_PRIOR_SD)``, and starts at the MAP ``p_map`` with that row's decays.
    """
    A = adstock_matrix(pr.S, thetas)
    _, mu = mean_orders(p_map, pr.Xc, A, np.maximum(A.mean(axis=0), 1e-9))
    r = (pr.y - mu) / np.sqrt(pr.w)
    r = r - r.mean()
    zero = BETA_ZERO_TOL * float(np.mean(pr.y))
    out = np.empty((len(draw_th), len(p_map)))
    cache: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray]] = {}
    for d, th in enumerate(draw_th):
        key = tuple(th.tolist())
        if key not in cache:
            Ad = adstock_matrix(pr.S, th)
            cache[key] = (Ad, np.maximum(Ad.mean(axis=0), 1e-9))
        Ad, md = cache[key]
        idx = block_indices(len(r), block, rng)
        y_star = mu + np.sqrt(pr.w) * r[idx]
        centre = rng.normal(0.0, KAPPA_PRIOR_SD, pr.k)
        lift = rng.normal(pr.lift_value, pr.lift_se) if len(pr.lift_value) else pr.lift_value
        p, _ = refit(pr, Ad, md, p_map, y_star, centre, lift)
        p[pr.nx:pr.nx + pr.k] = np.where(p[pr.nx:pr.nx + pr.k] <= zero, 0.0, p[pr.nx:pr.nx + pr.k])
        out[d] = p
    return out
