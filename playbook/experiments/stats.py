"""Statistics for A/B tests: pure, vectorised numpy/scipy functions (no data access).

Every test function accepts scalars or arrays (one element per simulated experiment), so the
same code runs one analysis and 10,000 simulated ones; the test suite proves the error rates by
simulation with these exact functions.

Conventions: the *control* arm comes first in every signature; "lift" is treatment minus control
(absolute, in metric units) and treatment / control - 1 (relative, a fraction); tests are
two-sided; ``alpha`` is the two-sided false-positive rate.

References
----------
* Two-proportion z-test: pooled standard error under H0 (as ``statsmodels.stats.proportion.
  proportions_ztest``); Wald interval with the unpooled standard error for the difference.
* Relative lift: point estimate T/C - 1; interval by Fieller's theorem (Fieller 1954, "Some
  problems in interval estimation", JRSS B 16), which inverts the same unpooled test as the
  p-value, so "significant" and "the interval excludes 0" always agree (issue 18: a symmetric
  delta-method interval on the skewed ratio missed 5.3 % low vs 1.35 % high in A/A simulations
  of revenue); the delta-method standard error is still reported as ``rel_se``.
* Welch (1947) t-test with the Welch-Satterthwaite degrees of freedom.
* CUPED: Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled
  experiments by utilizing pre-experiment data", WSDM.
* Holm (1979) step-down; Benjamini & Hochberg (1995) step-up.
* Group-sequential design: Lan & DeMets (1983) alpha spending with the O'Brien-Fleming-type
  function a(t) = 2 - 2 Phi(z_{1-a/2} / sqrt(t)) per side (a = alpha / 2); boundaries by recursive numerical
  integration (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19).
* Bayesian view: Beta-Binomial conjugate model (uniform prior) for rates; normal approximation
  of the difference for means.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

ArrayLike = float | np.ndarray

#: Multiple-testing corrections: name -> what it controls.
CORRECTIONS = {"holm": "family-wise error rate (Holm step-down)",
               "bh": "false discovery rate (Benjamini-Hochberg step-up)",
               "none": "no correction"}


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def _ratio_ci(t: ArrayLike, c: ArrayLike, var_t: ArrayLike, var_c: ArrayLike, q: ArrayLike):
    """Relative lift t/c - 1: its delta-method standard error and Fieller's interval.

    Fieller's interval is every ratio r with |t - r c| <= q sqrt(var_t + r^2 var_c) (Fieller 1954):
    asymmetric, as the ratio's distribution is, and it excludes r = 1 exactly when the unpooled
    test of t - c with the same quantile ``q`` rejects, so interval and p-value never disagree.
    Where the control mean is not distinguishable from zero (c^2 <= q^2 var_c) the interval is
    unbounded: NaN on both sides.
    """
    t, c = np.asarray(t, float), np.asarray(c, float)
    var_t, var_c, q = np.asarray(var_t, float), np.asarray(var_c, float), np.asarray(q, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = t / c - 1
        se = np.abs(rel + 1) * np.sqrt(var_t / np.square(t) + var_c / np.square(c))
        a = np.square(c) - np.square(q) * var_c
        root = np.sqrt(np.maximum(np.square(q) * (var_t * np.square(c) + var_c * np.square(t)
                                                   - np.square(q) * var_t * var_c), 0.0))
        lo = np.where(a > 0, (t * c - root) / a - 1, np.nan)
        hi = np.where(a > 0, (t * c + root) / a - 1, np.nan)
    return rel, se, lo, hi


# --------------------------------------------------------------------------------------------
# Fixed-horizon tests
# --------------------------------------------------------------------------------------------
def two_proportion_test(x_c: ArrayLike, n_c: ArrayLike, x_t: ArrayLike, n_t: ArrayLike,
                        alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Two-sided two-proportion z-test with intervals for the absolute and relative lift.

    Parameters
    ----------
    x_c, n_c, x_t, n_t : int or array
        Successes and trials (users) in control and treatment.
    alpha : float
        Two-sided significance level; intervals have coverage ``1 - alpha``.

    Returns
    -------
    dict of arrays
        ``p_c``, ``p_t`` (rates), ``abs_lift`` (p_t - p_c), ``abs_se``, ``abs_lo``/``abs_hi``
        (Wald interval, unpooled SE), ``rel_lift`` (p_t / p_c - 1), ``rel_se`` (delta method),
        ``rel_lo``/``rel_hi`` (Fieller), ``p_value`` (Wald test with the unpooled SE, identical to
        ``statsmodels`` ``test_proportions_2indep(method="wald")``, and consistent with both
        intervals) and ``z`` (pooled SE under H0, as ``proportions_ztest``; the statistic the
        group-sequential boundaries use). NaN where an arm has no users.
    """
    x_c, n_c, x_t, n_t = (np.asarray(v, float) for v in (x_c, n_c, x_t, n_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_c, p_t = x_c / n_c, x_t / n_t
        pool = (x_c + x_t) / (n_c + n_t)
        se0 = np.sqrt(pool * (1 - pool) * (1 / n_c + 1 / n_t))
        diff = p_t - p_c
        z = np.where(se0 > 0, diff / se0, 0.0)
        z = np.where(np.isfinite(se0), z, np.nan)
        var_c, var_t = p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t
        se = np.sqrt(var_c + var_t)
        z_wald = np.where(se > 0, diff / se, np.where(np.isfinite(se), 0.0, np.nan))
    q = _z(alpha)
    rel, rel_se, rel_lo, rel_hi = _ratio_ci(p_t, p_c, var_t, var_c, q)
    return {"p_c": p_c, "p_t": p_t, "abs_lift": diff, "abs_se": se, "abs_lo": diff - q * se,
            "abs_hi": diff + q * se, "rel_lift": rel, "rel_se": rel_se, "rel_lo": rel_lo,
            "rel_hi": rel_hi, "z": z, "p_value": 2 * stats.norm.sf(np.abs(z_wald))}


def welch_test(mean_c: ArrayLike, var_c: ArrayLike, n_c: ArrayLike, mean_t: ArrayLike,
               var_t: ArrayLike, n_t: ArrayLike, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Welch's unequal-variance t-test from summary statistics.

    Parameters
    ----------
    mean_c, var_c, n_c, mean_t, var_t, n_t : float or array
        Per-arm mean, sample variance (ddof=1) and number of users.
    alpha : float
        Two-sided level; intervals have coverage ``1 - alpha``.

    Returns
    -------
    dict of arrays
        ``m_c``, ``m_t``, ``abs_lift``, ``abs_se``, ``abs_lo``/``abs_hi`` (t interval with
        Welch-Satterthwaite df), ``rel_lift``, ``rel_se`` (delta method), ``rel_lo``/``rel_hi``
        (Fieller, same t quantile: excludes 0 exactly when ``p_value < alpha``), ``t``, ``df``, ``p_value`` (equal to ``scipy.stats.ttest_ind(...,
        equal_var=False)``).
    """
    m_c, v_c, n_c, m_t, v_t, n_t = (np.asarray(v, float) for v in (mean_c, var_c, n_c, mean_t, var_t, n_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = v_c / n_c, v_t / n_t
        se = np.sqrt(a + b)
        diff = m_t - m_c
        t = np.where(se > 0, diff / se, 0.0)
        df = (a + b) ** 2 / (a**2 / (n_c - 1) + b**2 / (n_t - 1))
        df = np.where(np.isfinite(df), df, np.maximum(n_c + n_t - 2, 1))
    q = stats.t.isf(alpha / 2, df)
    rel, rel_se, rel_lo, rel_hi = _ratio_ci(m_t, m_c, b, a, q)
    return {"m_c": m_c, "m_t": m_t, "abs_lift": diff, "abs_se": se, "abs_lo": diff - q * se,
            "abs_hi": diff + q * se, "rel_lift": rel, "rel_se": rel_se, "rel_lo": rel_lo,
            "rel_hi": rel_hi, "t": t, "df": df, "p_value": 2 * stats.t.sf(np.abs(t), df)}


def welch_from_values(y_c: np.ndarray, y_t: np.ndarray, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """:func:`welch_test` on per-user values; 2-D inputs are (experiments, users) rows."""
    y_c, y_t = np.asarray(y_c, float), np.asarray(y_t, float)
    n_c, n_t = y_c.shape[-1], y_t.shape[-1]
    return welch_test(y_c.mean(-1), y_c.var(-1, ddof=1), n_c, y_t.mean(-1), y_t.var(-1, ddof=1), n_t, alpha)


def cuped_theta(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """CUPED coefficient theta = cov(x, y) / var(x), pooled over both arms (last axis = users).

    Pooling over arms keeps the adjustment independent of the treatment (Deng et al. 2013).
    Returns 0 where ``x`` has no variance (no adjustment).
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    xc = x - x.mean(-1, keepdims=True)
    vx = (xc**2).sum(-1)
    cov = (xc * (y - y.mean(-1, keepdims=True))).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vx > 0, cov / vx, 0.0)


def cuped_adjust(y: np.ndarray, x: np.ndarray, theta: ArrayLike | None = None) -> np.ndarray:
    """CUPED-adjusted outcome ``y - theta (x - mean(x))`` (mean of ``x`` over all users).

    The adjusted metric has the same expected difference between arms (the pre-period
    covariate cannot be affected by the treatment) and variance reduced by the factor
    ``1 - corr(x, y)^2``.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    th = cuped_theta(y, x) if theta is None else np.asarray(theta, float)
    return y - np.expand_dims(th, -1) * (x - x.mean(-1, keepdims=True))


def winsorize(y: np.ndarray, upper_quantile: float | None) -> np.ndarray:
    """Cap values above the pooled ``upper_quantile`` (e.g. 0.99); ``None`` returns ``y`` unchanged."""
    y = np.asarray(y, float)
    if upper_quantile is None or y.size == 0:
        return y
    if not 0.5 < upper_quantile <= 1:
        raise ValueError(f"winsorisation quantile {upper_quantile} must lie in (0.5, 1], e.g. 0.99")
    return np.minimum(y, np.quantile(y, upper_quantile))


def bootstrap_lift_ci(y_c: np.ndarray, y_t: np.ndarray, seed: int, n_boot: int = 2000,
                      alpha: float = 0.05, chunk: int = 200) -> dict[str, float]:
    """Percentile bootstrap interval for the difference and ratio of means (heavy tails).

    Each arm is resampled with replacement independently, ``n_boot`` times, in chunks to bound
    memory. Seeded: the same inputs and seed give the same interval.

    Returns
    -------
    dict
        ``abs_lo``, ``abs_hi`` (difference of means) and ``rel_lo``, ``rel_hi`` (ratio - 1);
        NaN if an arm is empty.
    """
    y_c, y_t = np.asarray(y_c, float), np.asarray(y_t, float)
    nan = {"abs_lo": np.nan, "abs_hi": np.nan, "rel_lo": np.nan, "rel_hi": np.nan}
    if y_c.size == 0 or y_t.size == 0:
        return nan
    rng = np.random.default_rng(seed)
    mc_parts: list[np.ndarray] = []
    mt_parts: list[np.ndarray] = []
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        mc_parts.append(y_c[rng.integers(0, y_c.size, (k, y_c.size))].mean(1))
        mt_parts.append(y_t[rng.integers(0, y_t.size, (k, y_t.size))].mean(1))
    mc, mt = np.concatenate(mc_parts), np.concatenate(mt_parts)
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    lo, hi = np.percentile(mt - mc, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        rlo, rhi = np.percentile(mt / mc - 1, q) if (mc > 0).all() else (np.nan, np.nan)
    return {"abs_lo": float(lo), "abs_hi": float(hi), "rel_lo": float(rlo), "rel_hi": float(rhi)}


# --------------------------------------------------------------------------------------------
# Sample ratio mismatch, multiple testing
# --------------------------------------------------------------------------------------------
def srm_test(counts: np.ndarray, planned_shares: np.ndarray) -> tuple[float, float]:
    """Chi-square goodness-of-fit of arm sizes against the planned split.

    Returns ``(chi2, p_value)``; ``(nan, nan)`` with fewer than two arms or no users.
    """
    counts = np.asarray(counts, float)
    shares = np.asarray(planned_shares, float)
    if counts.size < 2 or counts.sum() <= 0:
        return float("nan"), float("nan")
    expected = counts.sum() * shares / shares.sum()
    res = stats.chisquare(counts, expected)
    return float(res.statistic), float(res.pvalue)


def adjust_pvalues(p: np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values along the last axis (each row one family of hypotheses).

    ``holm``: step-down family-wise error control; ``bh``: Benjamini-Hochberg false discovery
    rate; ``none``: unchanged. Reject where adjusted p <= alpha. NaN p-values are left out of
    the family and stay NaN.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"Unknown correction {method!r}. Choose from {sorted(CORRECTIONS)}")
    p = np.asarray(p, float)
    if method == "none" or p.size == 0:
        return p.copy()
    flat = np.atleast_2d(p)
    out = np.full_like(flat, np.nan)
    for i, row in enumerate(flat):  # families are small; rows of simulations loop below
        ok = np.isfinite(row)
        out[i, ok] = _adjust_row(row[ok], method)
    return out.reshape(p.shape)


def _adjust_row(p: np.ndarray, method: str) -> np.ndarray:
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ps = p[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum((m - rank + 1) * ps, 1.0))
    else:
        adj = np.minimum.accumulate((m * ps / rank)[::-1])[::-1]
        adj = np.minimum(adj, 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def holm_reject(p: np.ndarray, alpha: float) -> np.ndarray:
    """Vectorised Holm rejections for a (simulations, hypotheses) array of p-values."""
    p = np.atleast_2d(np.asarray(p, float))
    m = p.shape[1]
    order = np.argsort(p, axis=1)
    ps = np.take_along_axis(p, order, 1)
    ok = ps <= alpha / (m - np.arange(m))
    keep = np.cumprod(ok, axis=1).astype(bool)  # stop at the first non-rejection
    out = np.zeros_like(keep)
    np.put_along_axis(out, order, keep, 1)
    return out


# --------------------------------------------------------------------------------------------
# Sequential monitoring (group-sequential, Lan-DeMets O'Brien-Fleming-type spending)
# --------------------------------------------------------------------------------------------
def obf_spending(t: ArrayLike, alpha: float = 0.05) -> np.ndarray:
    """Cumulative two-sided alpha spent by information fraction ``t`` (Lan-DeMets OBF-type).

    Symmetric two-sided design: each side spends the one-sided O'Brien-Fleming-type function
    ``a(t) = 2 - 2 Phi(z_{1 - a/2} / sqrt(t))`` with ``a = alpha / 2`` (the convention of the R
    packages ldbounds and gsDesign), so the total is ``2 a(t)`` and equals ``alpha`` at t = 1.
    """
    t = np.clip(np.asarray(t, float), 1e-12, 1.0)
    return 2 * (2 - 2 * stats.norm.cdf(_z(alpha / 2) / np.sqrt(t)))


def group_sequential_bounds(t: np.ndarray, alpha: float = 0.05, n_grid: int = 301) -> np.ndarray:
    """Two-sided z boundaries for looks at information fractions ``t`` (increasing, last <= 1).

    The boundary ``c_k`` is chosen so that, under H0, the probability of first crossing
    ``|Z| >= c_k`` at look ``k`` equals the alpha spent between looks ``k-1`` and ``k``
    (:func:`obf_spending`). The overall type-I error is the alpha spent at the last look
    (``alpha`` when ``t[-1] == 1``), whatever the number of looks.

    Parameters
    ----------
    t : array
        Information fractions of the looks (``n_k / n_planned`` or ``I_k / I_max``), strictly
        increasing in (0, 1].
    alpha : float
        Overall two-sided level.
    n_grid : int
        Grid points for the numerical integration on the continuation region.

    Returns
    -------
    numpy.ndarray
        z boundary per look (large early, near ``z_{1-alpha/2}`` at the end).

    Raises
    ------
    ValueError
        If ``t`` is not strictly increasing within (0, 1].
    """
    t = np.asarray(t, float)
    if t.size == 0:
        return t
    if (np.diff(t) <= 0).any() or t[0] <= 0 or t[-1] > 1 + 1e-9:
        raise ValueError("information fractions must increase strictly within (0, 1]")
    spent = np.diff(np.r_[0.0, obf_spending(t, alpha)])
    bounds = np.empty(t.size)
    bounds[0] = stats.norm.isf(spent[0] / 2) if spent[0] > 0 else np.inf
    sd = np.sqrt(t[0])
    b = np.linspace(-1, 1, n_grid) * min(bounds[0], 12.0) * sd  # B-value scale: B = Z sqrt(t)
    w = _trapezoid_weights(b)
    f = stats.norm.pdf(b, scale=sd)
    for k in range(1, t.size):
        s = np.sqrt(t[k] - t[k - 1])
        mass = w * f
        bounds[k] = _next_bound(mass, b, s, np.sqrt(t[k]), spent[k])
        edge = min(bounds[k], 12.0) * np.sqrt(t[k])
        b_new = np.linspace(-edge, edge, n_grid)
        f = (mass[None, :] * stats.norm.pdf((b_new[:, None] - b[None, :]) / s) / s).sum(1)
        b, w = b_new, _trapezoid_weights(b_new)
    return bounds


def _next_bound(mass: np.ndarray, b: np.ndarray, step_sd: float, sqrt_t: float, target: float) -> float:
    """Boundary whose first-crossing probability equals ``target`` (B-value density ``mass``)."""

    def cross(c: float) -> float:
        edge = c * sqrt_t
        return float(mass @ (stats.norm.cdf((-edge - b) / step_sd) + stats.norm.sf((edge - b) / step_sd)))

    if target <= 1e-15 or cross(40.0) > target:
        return 40.0
    if cross(0.0) <= target:
        return 0.0
    return float(optimize.brentq(lambda c: cross(c) - target, 0.0, 40.0, xtol=1e-10))


def _trapezoid_weights(x: np.ndarray) -> np.ndarray:
    h = np.diff(x)
    w = np.zeros_like(x)
    w[:-1] += h / 2
    w[1:] += h / 2
    return w


def info_fraction_rates(pooled_rate: np.ndarray) -> np.ndarray:
    """Information fractions for a conversion-to-date metric on a fixed population.

    When every user is in the test from the start and the metric on day d is "converted by
    day d", Corr(Z_j, Z_k) = sqrt(odds_j / odds_k) (odds of the pooled rate), so the z path is
    a time-changed Brownian motion with time ``odds_d / odds_final``.
    """
    p = np.asarray(pooled_rate, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = p / (1 - p)
        return odds / odds[..., -1:]


def info_fraction_means(se: np.ndarray) -> np.ndarray:
    """Information fractions for a cumulative-to-date mean (e.g. revenue per user to date).

    With independent daily increments the difference of arm means has independent increments,
    so its variance is the time scale: ``t_d = SE_d^2 / SE_final^2``.
    """
    v = np.square(np.asarray(se, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return v / v[..., -1:]


def usable_looks(t: np.ndarray) -> np.ndarray:
    """Mask of looks whose information fraction is finite, positive and strictly increasing."""
    t = np.asarray(t, float)
    ok = np.isfinite(t) & (t > 0)
    keep = np.zeros(t.shape, bool)
    last = 0.0
    for i in np.flatnonzero(ok):
        if t[i] > last + 1e-9 and t[i] <= 1 + 1e-9:
            keep[i], last = True, t[i]
    return keep


def naive_peeking_rejects(z_paths: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Whether a fixed-horizon test rejects at ANY look (the error daily peeking makes)."""
    return (np.abs(z_paths) >= _z(alpha)).any(axis=-1)


def sequential_rejects(z_paths: np.ndarray, t: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Whether the group-sequential test rejects at any look (rows = experiments, cols = looks)."""
    c = group_sequential_bounds(t, alpha)
    return (np.abs(z_paths) >= c).any(axis=-1)


# --------------------------------------------------------------------------------------------
# Bayesian view
# --------------------------------------------------------------------------------------------
def beta_binomial_view(x_c: int, n_c: int, x_t: int, n_t: int, seed: int,
                       draws: int = 200_000) -> dict[str, float]:
    """Probability that treatment beats control and the expected loss of shipping it.

    Uniform Beta(1, 1) priors; posterior Beta(1 + x, 1 + n - x) per arm; Monte-Carlo with a
    seeded generator. Expected loss = E[max(p_c - p_t, 0)] in rate units (what we give up on
    average if we ship the treatment and it is in fact worse).
    """
    rng = np.random.default_rng(seed)
    pc = rng.beta(1 + x_c, 1 + n_c - x_c, draws)
    pt = rng.beta(1 + x_t, 1 + n_t - x_t, draws)
    return {"prob_beat_control": float((pt > pc).mean()),
            "expected_loss": float(np.maximum(pc - pt, 0).mean())}


def normal_bayes_view(diff: float, se: float) -> dict[str, float]:
    """Bayesian view of a difference of means under a flat prior: D ~ N(diff, se^2).

    ``prob_beat_control`` = P(D > 0); ``expected_loss`` = E[max(-D, 0)]
    = se * phi(diff / se) - diff * Phi(-diff / se), in metric units.
    """
    if not np.isfinite(se) or se <= 0:
        return {"prob_beat_control": float("nan"), "expected_loss": float("nan")}
    r = diff / se
    return {"prob_beat_control": float(stats.norm.cdf(r)),
            "expected_loss": float(se * stats.norm.pdf(r) - diff * stats.norm.cdf(-r))}


# --------------------------------------------------------------------------------------------
# Power and sample size
# --------------------------------------------------------------------------------------------
def treated_rate(p_c: float, mde: float, mde_type: str = "relative") -> float:
    """The treatment rate implied by a minimum detectable effect (relative or absolute)."""
    p_t = p_c * (1 + mde) if mde_type == "relative" else p_c + mde
    if not 0 < p_t < 1:
        raise ValueError(f"an effect of {mde:g} ({mde_type}) on a base rate of {p_c:.4f} gives "
                         f"an impossible rate {p_t:.4f}; choose a smaller mde")
    return p_t


def sample_size_proportions(p_c: float, p_t: float, alpha: float = 0.05, power: float = 0.8,
                            ratio: float = 1.0) -> tuple[int, int]:
    """Users needed in (control, treatment) to detect ``p_c -> p_t`` (statsmodels, Cohen's h).

    ``ratio`` = treatment users / control users. Returns whole users, rounded up.
    """
    h = abs(proportion_effectsize(p_t, p_c))
    n_c = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio,
                                       alternative="two-sided")
    return int(np.ceil(n_c)), int(np.ceil(n_c * ratio))


def sample_size_means(delta: float, sd: float, alpha: float = 0.05, power: float = 0.8,
                      ratio: float = 1.0) -> tuple[int, int]:
    """Users needed in (control, treatment) to detect a difference of means ``delta`` (sd ``sd``)."""
    if sd <= 0 or delta == 0:
        raise ValueError("sample size needs a positive standard deviation and a non-zero effect")
    n_c = NormalIndPower().solve_power(effect_size=abs(delta) / sd, alpha=alpha, power=power,
                                       ratio=ratio, alternative="two-sided")
    return int(np.ceil(n_c)), int(np.ceil(n_c * ratio))


def detectable_effect_size(n_c: float, ratio: float = 1.0, alpha: float = 0.05,
                           power: float = 0.8) -> float:
    """Standardised effect (Cohen's h or d) detectable with ``n_c`` control users (statsmodels)."""
    if n_c < 2:
        return float("nan")
    return float(NormalIndPower().solve_power(nobs1=n_c, alpha=alpha, power=power, ratio=ratio,
                                              alternative="two-sided"))


def rate_from_effect_size(p_c: float, h: float) -> float:
    """Invert Cohen's h: the treatment rate at effect size ``h`` above ``p_c``."""
    return float(np.sin(np.arcsin(np.sqrt(p_c)) + h / 2) ** 2)


def power_proportions(p_c: float, p_t: ArrayLike, n_c: float, ratio: float = 1.0,
                      alpha: float = 0.05) -> np.ndarray:
    """Power of the two-sided test for rates ``p_c`` vs ``p_t`` with ``n_c`` control users."""
    h = np.abs(proportion_effectsize(np.asarray(p_t, float), p_c))
    return np.asarray(NormalIndPower().power(effect_size=h, nobs1=n_c, alpha=alpha, ratio=ratio,
                                             alternative="two-sided"))


def power_means(delta: ArrayLike, sd: float, n_c: float, ratio: float = 1.0,
                alpha: float = 0.05) -> np.ndarray:
    """Power of the two-sided test for a difference of means ``delta`` with ``n_c`` control users."""
    d = np.abs(np.asarray(delta, float)) / sd
    return np.asarray(NormalIndPower().power(effect_size=d, nobs1=n_c, alpha=alpha, ratio=ratio,
                                             alternative="two-sided"))
