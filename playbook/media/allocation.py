"""Bounded budget allocation over concave response curves (plan and retrospective).

The problem
-----------
A season of ``n`` days and a pacing profile ``w_t`` (daily shares summing to 1; the flat profile
``1 / n`` spreads a budget evenly) turn a channel's season budget ``B`` into season revenue::

    R_c(B) = sum_t response_c(B * w_t)

with ``response_c`` the channel's :class:`playbook.media.response.ResponseCurve` (revenue per day
against spend per day). :func:`optimise_budget` maximises ``sum_c R_c(B_c)`` subject to
``sum_c B_c = total`` and ``min_c <= B_c <= max_c``. Each ``R_c`` is concave, so the optimum
equalises the marginal returns ``R_c'(B_c)`` of the channels not at a bound, at a level ``lambda``,
while channels at their minimum have ``R_c' <= lambda`` and channels at their maximum
``R_c' >= lambda`` (KKT conditions). The level is found by bisection; where a curve is linear
(flat marginal return) the channels on it share what the others leave.

Channels without a curve, or with a zero curve, are held at their minimum (no evidence to spend
more); only when the responding channels are all at their maximum do they take the rest, in
proportion to their room, so a split always sums to ``total``.

Also here: :func:`proportional_split` (a split in proportion to weights such as last season's
spend or ROAS, clipped into the bounds), :func:`check_bounds` and :func:`max_budget_for_roas`
(the largest total whose optimal split still returns a ROAS floor). Budgets are in currency over
the season; revenue is what the curves give (incremental for the plan's, attributed for the
retrospective's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from playbook.errors import ConfigError

#: Relative tolerance of the bisection on the marginal-return level ``lambda``.
LAMBDA_TOL = 1e-9
#: Relative tolerance (of the channel's maximum) of the bisection on one channel's budget.
BUDGET_TOL = 1e-7

Bounds = Mapping[str, tuple[float, float]]


class SeasonCurve(Protocol):
    """What the allocator needs of a channel's curve (a :class:`ResponseCurve` or the expected
    curve over draws): daily response and marginal return, their season sums over a pacing profile,
    and whether more spend earns anything."""

    @property
    def responds(self) -> bool: ...

    def response(self, spend: npt.ArrayLike) -> np.ndarray: ...

    def marginal(self, spend: npt.ArrayLike) -> np.ndarray: ...

    def season_response(self, budget: float, profile: npt.ArrayLike) -> float: ...

    def season_marginal(self, budget: float, profile: npt.ArrayLike) -> float: ...


def flat_profile(days: int) -> np.ndarray:
    """Even pacing: ``days`` shares of ``1 / days``."""
    if days < 1:
        raise ValueError(f"a season has at least one day, got {days}")
    return np.full(int(days), 1.0 / days)


def check_bounds(bounds: Bounds, total: float) -> None:
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


def expected_revenue(curves: Mapping[str, SeasonCurve], alloc: Mapping[str, float],
                     profile: npt.ArrayLike) -> float:
    """Season revenue of a split (channels without a curve earn 0)."""
    return float(sum(curves[ch].season_response(b, profile) for ch, b in alloc.items() if ch in curves))


def _budget_at(curve: SeasonCurve, lam: float, lo: float, hi: float, profile: np.ndarray) -> float:
    """Budget in [lo, hi] where the channel's season marginal return equals ``lam``."""
    if curve.season_marginal(lo, profile) <= lam:
        return lo
    if curve.season_marginal(hi, profile) >= lam:
        return hi
    a, b = lo, hi
    while b - a > BUDGET_TOL * max(hi, 1.0):
        m = 0.5 * (a + b)
        if curve.season_marginal(m, profile) > lam:
            a = m
        else:
            b = m
    return 0.5 * (a + b)


def _equal_marginal(curves: Mapping[str, SeasonCurve], bounds: Bounds, budget: float,
                    profile: np.ndarray) -> dict[str, float]:
    """Split ``budget`` over the channels of ``bounds`` (all with responding curves) at equal
    marginal return; every channel at its maximum (minimum) when ``budget`` is above (below)
    the bounds' sum."""
    lo_sum = sum(b[0] for b in bounds.values())
    hi_sum = sum(b[1] for b in bounds.values())
    if budget >= hi_sum:
        return {ch: float(b[1]) for ch, b in bounds.items()}
    if budget <= lo_sum:
        return {ch: float(b[0]) for ch, b in bounds.items()}

    def at(lam: float) -> dict[str, float]:
        return {ch: _budget_at(curves[ch], lam, lo, hi, profile) for ch, (lo, hi) in bounds.items()}

    lam_hi = max(curves[ch].season_marginal(b[0], profile) for ch, b in bounds.items())
    lam_lo = 0.0  # invariant: spend at lam_lo > budget >= spend at lam_hi
    while lam_hi - lam_lo > LAMBDA_TOL * lam_hi:
        lam = 0.5 * (lam_lo + lam_hi)
        if sum(at(lam).values()) > budget:
            lam_lo = lam
        else:
            lam_hi = lam
    under, over = at(lam_hi), at(lam_lo)
    step = sum(over.values()) - sum(under.values())
    gap = budget - sum(under.values())
    # between the two levels only flat (linear) stretches and the bisection's rounding differ:
    # move along them to spend exactly ``budget``
    t = min(max(gap / step, 0.0), 1.0) if step > 0 else 0.0
    alloc = {ch: under[ch] + t * (over[ch] - under[ch]) for ch in bounds}
    gap = budget - sum(alloc.values())
    room = {ch: bounds[ch][1] - v for ch, v in alloc.items() if bounds[ch][1] - v > 1e-9}
    if room and abs(gap) > 1e-9:  # float rounding left: spread over the channels with room
        share = sum(room.values())
        alloc = {ch: v + gap * room.get(ch, 0.0) / share for ch, v in alloc.items()}
    return alloc


def optimise_budget(curves: Mapping[str, SeasonCurve], bounds: Bounds, total: float,
                    profile: npt.ArrayLike) -> dict[str, float]:
    """Split ``total`` across the channels of ``bounds`` to maximise expected season revenue.

    Parameters
    ----------
    curves : mapping channel -> ResponseCurve (or any :class:`SeasonCurve`)
        Daily curves; channels of ``bounds`` without one (or with a zero curve) are held at
        their minimum unless the others cannot take the total (module docstring).
    bounds : mapping channel -> (min, max)
        Season budget bounds (currency).
    total : float
        Season budget (currency).
    profile : array
        Daily pacing shares over the season (sum 1); :func:`flat_profile` for an even spread.

    Returns
    -------
    dict
        ``{channel: budget}`` in the order of ``bounds``, summing to ``total``.

    Raises
    ------
    ConfigError
        Bounds that cannot hold ``total``.
    """
    check_bounds(bounds, total)
    w = np.asarray(profile, dtype=float)
    alloc = {ch: float(b[0]) for ch, b in bounds.items()}
    live = {ch: b for ch, b in bounds.items() if ch in curves and curves[ch].responds}
    if live:
        alloc |= _equal_marginal(curves, live, total - sum(alloc[ch] for ch in bounds if ch not in live), w)
    left = total - sum(alloc.values())
    idle = {ch: bounds[ch][1] - alloc[ch] for ch in bounds if ch not in live and bounds[ch][1] > alloc[ch]}
    if left > 1e-9 * max(total, 1.0) and idle:  # responding channels all at their maximum
        room = sum(idle.values())
        alloc |= {ch: alloc[ch] + left * r / room for ch, r in idle.items()}
    return alloc


def proportional_split(weights: Mapping[str, float], bounds: Bounds, total: float) -> dict[str, float]:
    """Split ``total`` in proportion to ``weights`` (e.g. ROAS or last season's spend), clipped to
    the bounds; what clipping frees or needs is shared among the channels still inside them.

    Channels of ``bounds`` without a (positive) weight get nothing beyond their minimum; with no
    positive weight at all the split is even.

    Raises
    ------
    ConfigError
        Bounds that cannot hold ``total``.
    """
    check_bounds(bounds, total)
    w = {ch: max(float(weights.get(ch, 0.0)), 0.0) for ch in bounds}
    if sum(w.values()) <= 0:
        w = dict.fromkeys(bounds, 1.0)
    alloc = dict.fromkeys(bounds, 0.0)
    fixed: dict[str, float] = {}
    for _ in range(len(bounds) + 1):
        free = [ch for ch in bounds if ch not in fixed]
        rest = total - sum(fixed.values())
        ws = sum(w[ch] for ch in free) or 1.0
        alloc = fixed | {ch: rest * (w[ch] / ws if sum(w[c] for c in free) > 0 else 1 / len(free)) for ch in free}
        viol = {ch: float(np.clip(alloc[ch], *bounds[ch])) for ch in free
                if not bounds[ch][0] <= alloc[ch] <= bounds[ch][1]}
        if not viol:
            break
        fixed |= viol
    return {ch: alloc[ch] for ch in bounds}


def max_budget_for_roas(curves: Mapping[str, SeasonCurve], bounds: Bounds, target_roas: float,
                        profile: npt.ArrayLike) -> tuple[float, float]:
    """Largest total (within the bounds' sums) whose optimal split returns ``target_roas``.

    Returns
    -------
    (total, roas)
        ``roas`` is the split's revenue per unit of budget. ``total`` is the sum of the minimums
        when even that misses the target (the ROAS there is returned so the caller can say so).
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


def describe_uncurved(table: pd.DataFrame, column: str, channels: Iterable[str], lead: str) -> str:
    """Sentence on the channels without a curve in a split table (Markdown, leading space).

    Parameters
    ----------
    table : DataFrame
        ``channel``, ``min_budget`` and the split in ``column``.
    channels : iterable of str
        Channels without a (responding) curve.
    lead : str
        Why they have none, e.g. ``"Without spend history"``.

    Returns
    -------
    str
        Which of them stay at their minimum and which take what the others could not (empty
        when there is none).
    """
    t = table[table["channel"].isin(list(channels))]
    at_min = t[column] <= t["min_budget"] + 0.5
    text = ""
    if at_min.any():
        text += f" {lead}, {', '.join(t.loc[at_min, 'channel'])} stay at their minimum."
    if (~at_min).any():
        text += (f" {lead}, {', '.join(t.loc[~at_min, 'channel'])} get only what the other channels cannot take "
                 "at their maximum.")
    return text
