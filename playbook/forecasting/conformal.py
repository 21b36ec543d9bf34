"""Conformal prediction intervals from rolling-origin backtest errors.

Normalised split-conformal intervals (Papadopoulos, Vovk & Gammerman 2008; Lei et al. 2018):
each backtest error is divided by the forecast's own predictive standard deviation at that
step, so the intervals keep the model's growth with the horizon while their width is set by the
errors actually made. For a non-negative series the errors are log ratios,

    score = |log((y + c) / (yhat + c))| / (sd / (yhat + c)),

(``sd / (yhat + c)`` is the delta-method standard deviation of ``log(yhat + c)``; ``c`` the log
offset), and the interval is ``(yhat + c) * exp(+-q * sd / (yhat + c)) - c``: multiplicative,
never negative. A series with negative values uses absolute errors ``|y - yhat| / sd`` and
``yhat +- q sd``. ``q`` is the ``ceil((n + 1) p) / n`` empirical quantile of the ``n`` scores
pooled over folds and horizon steps (the finite-sample conformal quantile); with fewer scores
than that needs (``n < p / (1 - p)``) the largest score is used and the caller notes that the
interval may be too narrow. Errors within a fold are correlated, so the guarantee is only
approximate; the leave-one-fold-out coverage reported in the backtest table measures it.
"""

from __future__ import annotations

import math

import numpy as np

#: Floor of the relative (log-scale) standard deviation used to normalise scores.
MIN_REL_SD = 0.01


def _rel_sd(mean: np.ndarray, sd: np.ndarray, offset: float) -> np.ndarray:
    return np.maximum(np.asarray(sd, float) / (np.clip(mean, 0, None) + offset), MIN_REL_SD)


def scores(actual: np.ndarray, mean: np.ndarray, sd: np.ndarray, offset: float, log: bool) -> np.ndarray:
    """Normalised nonconformity scores of one forecast (arrays of equal length)."""
    a, m = np.asarray(actual, float), np.asarray(mean, float)
    if log:
        r = np.log((np.clip(a, 0, None) + offset) / (np.clip(m, 0, None) + offset))
        return np.abs(r) / _rel_sd(m, sd, offset)
    return np.abs(a - m) / np.maximum(np.asarray(sd, float), MIN_REL_SD * offset)


def quantile(s: np.ndarray, level: int) -> tuple[float, bool]:
    """Conformal quantile of the scores for a central ``level`` % interval.

    Returns
    -------
    (float, bool)
        The quantile and whether enough scores were available (``False``: the largest score).
    """
    s = np.sort(np.asarray(s, float)[np.isfinite(s)])
    n = len(s)
    if n == 0:
        return float("nan"), False
    k = math.ceil((n + 1) * level / 100)
    return (float(s[k - 1]), True) if k <= n else (float(s[-1]), False)


def interval(mean: np.ndarray, sd: np.ndarray, q: float, offset: float, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds for the scores' quantile ``q``."""
    m = np.asarray(mean, float)
    if log:
        base = np.clip(m, 0, None) + offset
        w = q * _rel_sd(m, sd, offset)
        return np.clip(base * np.exp(-w) - offset, 0, None), base * np.exp(w) - offset
    half = q * np.maximum(np.asarray(sd, float), MIN_REL_SD * offset)
    return m - half, m + half
