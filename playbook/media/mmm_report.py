"""Diagnostics and identifiability warnings of the media model (:mod:`playbook.media.mmm`).

Fit diagnostics follow the checks the anchors report (Robyn's NRMSE and decomposition checks,
Meridian's R^2/MAPE and posterior predictive checks): R^2 and MAPE of the fitted daily orders,
the autocorrelation of the standardised residuals at lags 1 and 7 (a model that misses a seasonal
or carry-over pattern leaves them correlated), and the share of days whose orders fall inside the
bootstrap's predictive band (close to the band's level when the noise model is right).

A channel may not be identifiable from observational data when its spend barely varies, moves
with another channel's spend or with the calendar (Chan & Perry 2017, "Challenges and
opportunities in media mix modeling"); :func:`identifiability_warnings` says which and why.

References: https://developers.google.com/meridian/docs/post-modeling/model-fit,
https://facebookexperimental.github.io/Robyn/docs/analysts-guide-to-MMM/
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Spend whose coefficient of variation over days is below this barely varies.
MIN_SPEND_CV = 0.1
#: Absolute correlation of two channels' adstocked spend above which they are nearly collinear.
MAX_CHANNEL_CORR = 0.9
#: Share of a channel's adstocked spend variance the baseline regressors explain above which its
#: spend follows the season.
MAX_SEASON_R2 = 0.8
#: Marginal ROAS interval width, relative to its mean, above which it is very wide.
MAX_REL_WIDTH = 2.0


def interval(d: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed interval of draws ``d`` at ``level``."""
    lo, hi = np.quantile(np.asarray(d, float), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def acf(r: np.ndarray, lag: int) -> float:
    """Sample autocorrelation of ``r`` at ``lag``."""
    r = r - r.mean()
    den = float(np.sum(r ** 2))
    return float(np.sum(r[lag:] * r[:-lag]) / den) if den > 0 and lag < len(r) else float("nan")


def diagnostics(y: np.ndarray, mu: np.ndarray, mu_draws: np.ndarray, var: np.ndarray, level: float,
                rng: np.random.Generator) -> dict[str, float]:
    """Fit diagnostics of daily orders ``y`` against the fitted ``mu``.

    Parameters
    ----------
    y, mu : array (n,)
        Observed and fitted (MAP) daily orders.
    mu_draws : array (draws, n)
        Fitted daily orders of each bootstrap draw.
    var : array (n,)
        Variance of a day's orders around its mean (``phi * mu``).
    level : float
        Level of the predictive band.
    rng : Generator
        For the predictive noise.

    Returns
    -------
    dict
        ``r2``, ``mape`` (mean absolute percentage error, days with orders), ``acf1``, ``acf7``
        (residual autocorrelation), ``coverage`` (share of days inside the predictive band of
        ``y_rep = mu_draw + N(0, var)``) and ``level``.
    """
    resid = y - mu
    sst = float(np.sum((y - y.mean()) ** 2))
    pos = y > 0
    z = resid / np.sqrt(var)
    rep = mu_draws + np.sqrt(var)[None, :] * rng.standard_normal(mu_draws.shape)
    lo, hi = np.quantile(rep, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {"r2": 1 - float(np.sum(resid ** 2)) / sst if sst > 0 else float("nan"),
            "mape": float(np.mean(np.abs(resid[pos]) / y[pos])) if pos.any() else float("nan"),
            "acf1": acf(z, 1), "acf7": acf(z, 7),
            "coverage": float(np.mean((y >= lo) & (y <= hi))), "level": float(level)}


def _season_r2(a: np.ndarray, Xc: np.ndarray) -> float:
    """Share of the variance of ``a`` explained by the baseline regressors ``Xc`` (OLS)."""
    coef = np.linalg.lstsq(Xc, a, rcond=None)[0]
    sst = float(np.sum((a - a.mean()) ** 2))
    return 1 - float(np.sum((a - Xc @ coef) ** 2)) / sst if sst > 0 else 1.0


def identifiability_warnings(spend: pd.DataFrame, adstocked: np.ndarray, Xc: np.ndarray,
                             summary: pd.DataFrame) -> dict[str, list[str]]:
    """Per channel, the reasons its effect may not be identifiable (empty list when none).

    Checks: daily spend's coefficient of variation under :data:`MIN_SPEND_CV`; adstocked spend
    correlated beyond :data:`MAX_CHANNEL_CORR` with another channel's; more than
    :data:`MAX_SEASON_R2` of its variance explained by the baseline (trend, weekday, season,
    events); a marginal ROAS interval (``summary``'s ``marginal_roas_lo/hi/mean``) wider than
    :data:`MAX_REL_WIDTH` times its mean; an interval that reaches zero.
    """
    chans = list(spend.columns)
    corr = np.corrcoef(adstocked.T) if len(chans) > 1 else np.ones((1, 1))
    s = summary.set_index("channel")
    out: dict[str, list[str]] = {}
    for j, ch in enumerate(chans):
        why = []
        x = spend[ch].to_numpy(float)
        cv = float(x.std() / x.mean()) if x.mean() > 0 else 0.0
        if cv < MIN_SPEND_CV:
            why.append(f"daily spend barely varies (coefficient of variation {cv:.2f})")
        for i, other in enumerate(chans):
            if i != j and abs(corr[j, i]) > MAX_CHANNEL_CORR:
                why.append(f"spend moves with {other}'s (correlation {corr[j, i]:.2f})")
        r2 = _season_r2(adstocked[:, j], Xc)
        if r2 > MAX_SEASON_R2:
            why.append(f"spend follows the calendar ({r2:.0%} of its variance explained by trend, weekday, "
                       "season and events)")
        if ch in s.index:
            lo, hi, mean = (float(s.loc[ch, c]) for c in ("marginal_roas_lo", "marginal_roas_hi", "marginal_roas_mean"))
            if lo <= 0:
                why.append(f"marginal ROAS not distinguishable from zero (interval {lo:.2f} to {hi:.2f})")
            elif mean > 0 and (hi - lo) / mean > MAX_REL_WIDTH:
                why.append(f"marginal ROAS interval very wide ({lo:.2f} to {hi:.2f})")
        out[ch] = why
    return out
