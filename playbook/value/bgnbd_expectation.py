"""Expected BG/NBD purchases of a customer still alive (Fader, Hardie & Lee 2005, eq. 10), for every
``a``: the closed form with its removable singularities (``a = 1``; ``a + b + x = 1``) handled.

Used by :class:`playbook.value.clv.BGNBD` (conditional and new-customer expectations); checked
in ``tests/test_clv.py`` against the published CDNOW values, numerical integration over ``p`` and
a Monte Carlo simulation of the model's generative process.
"""

from __future__ import annotations

import numpy as np
from scipy.special import hyp2f1

#: Half-width of the band around ``a = 1`` where the closed form of eq. 10 (removable singularity
#: there: 0/0) is replaced by cubic interpolation through ``a = 1 +/- A_ONE_STEP, 1 +/- 2 A_ONE_STEP``.
A_ONE_STEP = 1e-3


def _alive_closed_form(t, x: np.ndarray, T: np.ndarray, r: float, alpha: float, a: float,
                       b: float) -> np.ndarray:
    """``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]``, ``a != 1``."""
    z = t / (alpha + T + t)
    A, B, c = r + x, b + x, a + b + x - 1
    log_1mz = np.log(alpha + T) - np.log(alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scaled = np.exp(A * log_1mz) * hyp2f1(A, B, c, z)  # (1-z)^A 2F1(A, B; c; z)
        # 2F1 overflowing as z -> 1: Euler's transformation (1-z)^A 2F1(A,B;c;z) = (1-z)^(a-1) 2F1(c-A, a-1; c; z)
        bad = ~np.isfinite(scaled)
        if bad.any():
            scaled = np.where(bad, np.exp((a - 1) * log_1mz) * hyp2f1(c - A, a - 1, c, z), scaled)
        out = c / (a - 1) * (1 - scaled)
        # c = a+b-1 = 0 (x = 0, a+b = 1) is removable too: c 2F1(A,B;c;z) = c 2F1(A,B;c+1;z)
        # + A B z/(c+1) 2F1(A+1,B+1;c+2;z) (Gauss contiguous relation) has no pole there.
        near0 = np.abs(c) < 1e-6
        if near0.any():
            c_f = c * hyp2f1(A, B, c + 1, z) + A * B * z / (c + 1) * hyp2f1(A + 1, B + 1, c + 2, z)
            out = np.where(near0, (c - np.exp(A * log_1mz) * c_f) / (a - 1), out)
    return np.asarray(out)


def bgnbd_expected_purchases_alive(t, x, T, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """Expected BG/NBD purchases in (T, T + t] of a customer alive at T with ``x`` repeat purchases.

    FHL (2005) eq. 10 without its P(alive) denominator:
    ``(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]``.
    It is the integral over ``p ~ Beta(a, b+x)`` of ``(1/p) [1 - (1 + p t/(alpha+T))^-(r+x)]`` (the
    posterior of lambda given alive is Gamma(r+x, alpha+T)); that integral converges for every
    ``a > 0`` and is analytic in ``a``, so the closed form (its analytic continuation) holds for
    every ``a != 1``, including ``a < 1``, and dropout during the horizon is counted. At ``a = 1`` the
    formula is 0/0 (removable): for ``|a - 1| < A_ONE_STEP`` the value is the cubic Lagrange
    interpolation of the closed form at ``a = 1 +/- A_ONE_STEP, 1 +/- 2 A_ONE_STEP`` (at ``a = 1``
    itself this is Richardson's limit ``(4 m_1 - m_2)/3`` of the symmetric means ``m_k``; error about
    1e-12 relative, against 1e-16/|a-1| for the 0/0 form there).
    """
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    if abs(a - 1) >= A_ONE_STEP:
        return _alive_closed_form(t, x, T, r, alpha, a, b)
    u = (a - 1) / A_ONE_STEP
    nodes = np.array([-2.0, -1.0, 1.0, 2.0])
    out = np.zeros(np.broadcast(np.asarray(t, dtype=float), x, T).shape)
    for k, nk in enumerate(nodes):
        others = np.delete(nodes, k)
        w = float(np.prod((u - others) / (nk - others)))
        out = out + w * _alive_closed_form(t, x, T, r, alpha, 1 + nk * A_ONE_STEP, b)
    return out
