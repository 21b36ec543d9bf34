"""BG/NBD purchases (Fader, Hardie & Lee 2005): reference simulation and expectation (used by
the CLV tests) and the time-warped purchase process of the generator.

Purchase times are drawn in *operational time* and warped back to calendar days through each
country x profile's cumulative demand curve, so purchases per customer follow BG/NBD exactly in
operational time while daily totals show the calendar effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import hyp2f1

from playbook.data.synth.params import (
    PROFILES,
    Arrays,
)
from playbook.data.synth.util import _hours, _rank_within


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T: float | np.ndarray,
                   seed: int = 0) -> pd.DataFrame:
    """Simulate ``n`` customers from the BG/NBD model (Fader, Hardie & Lee 2005).

    Each customer makes a first purchase at time 0, then repeat purchases as a Poisson process
    with rate ``lambda ~ Gamma(r, scale=1/alpha)``; after each repeat purchase they drop out with
    probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha : float
        Gamma shape and rate of the purchase rate (per time unit, e.g. weeks).
    a, b : float
        Beta parameters of the dropout probability.
    T : float or array of shape (n,)
        Observation length per customer since the first purchase (same time unit).
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``frequency`` (repeat purchases in (0, T]), ``recency`` (time of the last repeat purchase,
        0 when none) and ``T``.
    """
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    m = rng.poisson(lam * T_arr)
    j = rng.geometric(p)
    x = np.minimum(m, j)
    # The x-th smallest of m uniforms on (0, T) is T * Beta(x, m - x + 1).
    rec = np.zeros(n)
    has = x > 0
    rec[has] = T_arr[has] * rng.beta(x[has], m[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype(np.int64), "recency": rec, "T": T_arr})


def bgnbd_expected_frequency(t: float | np.ndarray, r: float, alpha: float, a: float,
                             b: float) -> float | np.ndarray:
    """Expected repeat purchases in (0, t] for a random customer (FHL 2005, eq. 9).

    ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))]``.

    Raises
    ------
    ValueError
        If ``a <= 1`` (the closed form needs ``a > 1``).
    """
    if a <= 1:
        raise ValueError(f"bgnbd_expected_frequency needs a > 1, got a={a}")
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    out = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    return float(out) if out.ndim == 0 else out


def _group_of(c: Arrays) -> np.ndarray:
    return np.asarray(c["country"] * len(PROFILES) + c["profile"])


def _cum(curve: np.ndarray) -> np.ndarray:
    """Cumulative operational time (days) at integer day boundaries 0..n_days."""
    return np.asarray(np.r_[0.0, np.cumsum(curve)])


def _warp_fwd(days: np.ndarray, cum: np.ndarray) -> np.ndarray:
    return np.asarray(np.interp(days, np.arange(len(cum)), cum))


def _warp_inv(op: np.ndarray, cum: np.ndarray) -> np.ndarray:
    return np.asarray(np.interp(op, cum, np.arange(len(cum))))


def _bgnbd_orders(rng: np.random.Generator, c: Arrays, cums: list[np.ndarray],
                  n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Purchase times (float days) and account positions of the BG/NBD process.

    Times are drawn in operational time and warped back to calendar days per customer group
    (``cums``: cumulative demand curves from :func:`_cum`, one per country x profile).
    """
    grp = _group_of(c)
    t0 = np.maximum(c["signup"], 0.0)
    t1 = np.minimum(float(n_days), c["erased"])
    op0, op1 = np.zeros(len(t0)), np.zeros(len(t0))
    for g, cum in enumerate(cums):
        m = grp == g
        op0[m], op1[m] = _warp_fwd(t0[m], cum), _warp_fwd(np.maximum(t1[m], t0[m]), cum)
    tau_weeks = (op1 - op0) / 7.0
    m_all = rng.poisson(c["lam"] * tau_weeks)
    j = rng.geometric(c["p"])
    k = np.minimum(m_all, j)
    cust = np.repeat(np.arange(len(t0), dtype=np.int32), m_all)
    u = rng.random(len(cust))
    order = np.argsort(cust + u * 0.999999, kind="stable")
    cust, u = cust[order], u[order]
    keep = _rank_within(cust) < k[cust]
    cust, u = cust[keep], u[keep]
    op = op0[cust] + u * (op1 - op0)[cust]
    day = np.zeros(len(cust))
    g_c = grp[cust]
    for g, cum in enumerate(cums):
        m = g_c == g
        day[m] = _warp_inv(op[m], cum)
    ts = np.floor(day) + _hours(rng, len(day))
    ts = np.clip(ts, t0[cust] + 1e-4, t1[cust] - 1e-4)
    return ts, cust


def _p_buy_window(c: Arrays, cums: list[np.ndarray], w0: float, w1: float) -> np.ndarray:
    """P(at least one BG/NBD purchase in [w0, w1)) per customer (closed form, see module doc)."""
    grp = _group_of(c)
    t0 = np.maximum(c["signup"], 0.0)
    t1 = np.minimum(w1, c["erased"])
    out = np.zeros(len(t0))
    for g, cum in enumerate(cums):
        m = grp == g
        a = _warp_fwd(t0[m], cum)
        s = _warp_fwd(np.clip(w0, t0[m], None), cum)
        e = _warp_fwd(np.maximum(t1[m], np.clip(w0, t0[m], None)), cum)
        alive = np.exp(-c["lam"][m] * c["p"][m] * (s - a) / 7.0)
        out[m] = alive * (1 - np.exp(-c["lam"][m] * (e - s) / 7.0))
    out[t0 >= w1] = 0.0
    return out
