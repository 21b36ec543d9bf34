"""Budget allocation on a media model's draws: expected or low-percentile return, fixed channels,
a target-ROAS mode, and intervals on every number.

Input
-----
A media model's uncertainty comes as a list of ``K`` draws (posterior samples or bootstrap refits),
each a ``{channel: ResponseCurve}`` over the same channels. For a season budget ``B_c`` spread by the
pacing profile ``w_t`` (daily shares summing to 1), draw ``k`` of channel ``c`` earns
``R_ck(B_c) = sum_t response_ck(B_c w_t)`` (currency, incremental over the season), as in
:mod:`playbook.media.allocation`.

Objectives
----------
``objective="mean"`` maximises the expected season revenue ``(1 / K) sum_k sum_c R_ck(B_c)``. A
mean of concave curves is concave, so the expected curve of each channel (:class:`CurveDraws`)
goes to :func:`playbook.media.allocation.optimise_budget` (equal expected marginal returns, KKT
conditions with bounds). Where all draws of a channel are the same curve, that curve itself is
used, so draws that all equal one set of curves give exactly ``optimise_budget``'s split.

``objective="p10"`` (any ``"pNN"`` with ``0 < NN <= 50``) maximises the NN-th percentile across
draws of the total season return ``sum_c R_ck(B_c)`` (``numpy.percentile``, linear interpolation).
A percentile of concave functions is not concave, so the split is searched for:

1. candidates: the mean-optimal split; the optimum of each of up to :data:`DRAW_CANDIDATES` single
   draws (spread over the ranks of their total return under the mean-optimal split, the worst
   included); and up to :data:`TAIL_ROUNDS` "tail" optima, each the mean-optimal split over the
   draws at or below the percentile under the best split so far (the tail mean bounds the
   percentile from below; Rockafellar & Uryasev 2000, *Optimization of conditional value-at-risk*);
2. the candidate with the highest percentile is improved by pairwise transfers between the free
   responding channels, starting at 10 % of their budget and halving down to :data:`STEP_TOL` of
   the total; a transfer is kept only when it raises the percentile.

The result is a good split, not a proven global optimum; it is never worse by the percentile than
the mean-optimal split (a candidate).

Constraints and modes
---------------------
* Bounds ``(min, max)`` per channel as in :func:`playbook.media.allocation.optimise_budget`;
  channels without a curve are held at their minimum.
* ``fixed={channel: budget}``: those channels get exactly that budget (it replaces their bounds)
  and the rest of the total is optimised over the others.
* :func:`max_budget_for_roas_draws`: the largest total (and its split under the objective) whose
  expected ROAS (expected revenue / total) meets a target and, optionally, whose expected
  marginal ROAS (the next unit's return at the split: the highest expected marginal return among
  the free responding channels with room, the common level of the equal-marginal split) meets a
  second target. A grid of :data:`TARGET_GRID` totals between the bounds' sums finds the last
  total meeting the targets, then bisection to :data:`TARGET_TOL`; this holds when ROAS falls with
  the total beyond some point (concave curves through 0), even where minimum budgets on weak
  channels make it rise first.

Outputs
-------
:class:`DrawAllocation`: the split, and per channel the budget, expected incremental revenue,
ROAS and marginal ROAS with :data:`INTERVAL` (5-95 %) intervals across draws, and the gain over a
reference split (last season's, or the proportional split) with its interval; a gain whose
interval spans zero is ``distinguishable=False``. Draws are weighted equally.

References: Meridian's fixed and flexible budget scenarios (target ROI, target marginal ROI),
https://developers.google.com/meridian/docs/user-guide/budget-optimization-scenarios ; Robyn's
allocator (``max_response`` and ``target_efficiency`` scenarios),
https://rdrr.io/cran/Robyn/man/robyn_allocator.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from playbook.errors import ConfigError, DataError
from playbook.media.allocation import Bounds, SeasonCurve, optimise_budget, proportional_split
from playbook.media.response import ResponseCurve

#: Percentiles (low, high) of the intervals across draws.
INTERVAL = (5.0, 95.0)
#: Most single-draw optima tried as candidates by a percentile objective.
DRAW_CANDIDATES = 10
#: Most tail-mean optima tried as candidates by a percentile objective.
TAIL_ROUNDS = 5
#: Smallest transfer of the local search, as a share of the total budget.
STEP_TOL = 1e-5
#: Most transfers evaluated by the local search (a guard; it normally stops on the step size).
MAX_MOVES = 20_000
#: Totals tried between the bounds' sums before bisecting in the target-ROAS mode.
TARGET_GRID = 9
#: Relative precision (of the largest total) of the target-ROAS bisection.
TARGET_TOL = 1e-5

Draws = Sequence[Mapping[str, ResponseCurve]]


# --------------------------------------------------------------------------------------------
# Curves over draws
# --------------------------------------------------------------------------------------------
def _compress(profile: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Distinct daily shares ``v``, how many days have each ``n``, ``n * v`` and ``sum(n * v)``
    (season sums over the distinct shares are exact)."""
    return _compress_bytes(np.ascontiguousarray(profile, dtype=float).tobytes())


@lru_cache(maxsize=16)
def _compress_bytes(profile: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`_compress` of a profile's bytes, cached: the optimiser asks for the same few profiles
    thousands of times. The arrays returned are read-only."""
    v, counts = np.unique(np.frombuffer(profile, dtype=float), return_counts=True)
    n = counts.astype(float)
    nv = n * v
    for a in (v, n, nv):
        a.flags.writeable = False
    return v, n, nv, float(nv.sum())


class CurveDraws:
    """One channel's response curve over ``K`` draws.

    The :class:`playbook.media.allocation.SeasonCurve` methods give the **expected** curve (mean
    over draws, currency per day or per season); the ``*_draws`` methods one value per draw
    (first axis). Uses each curve's steady-state adstock, as :class:`ResponseCurve` does.
    """

    def __init__(self, channel: str, curves: Sequence[ResponseCurve]) -> None:
        if not curves:
            raise DataError(f"{channel}: no curve draws; the media model must give at least one draw per channel.")
        self.channel = channel
        self.curves = tuple(curves)
        self.ceiling = np.array([c.ceiling for c in curves], dtype=float)
        self.scale_eff = np.array([c.scale_eff for c in curves], dtype=float)
        self.slope = np.array([c.slope for c in curves], dtype=float)
        # column vectors (K, 1) for the season sums over the compressed profile
        self._se = self.scale_eff[:, None]
        self._c = self.ceiling[:, None]
        self._c_se = (self.ceiling / self.scale_eff)[:, None]
        self._k = len(self.curves)

    @property
    def responds(self) -> bool:
        """Whether more spend earns anything in some draw."""
        return bool((self.ceiling > 0).any() or (self.slope > 0).any())

    def _params(self, ndim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shape = (-1,) + (1,) * ndim
        return self.ceiling.reshape(shape), self.scale_eff.reshape(shape), self.slope.reshape(shape)

    def response_draws(self, spend: npt.ArrayLike) -> np.ndarray:
        """Revenue per day of daily spend ``spend`` in each draw: shape ``(K, *spend.shape)``."""
        s = np.asarray(spend, dtype=float)
        c, se, sl = self._params(s.ndim)
        return c * (1 - np.exp(-s / se)) + sl * s

    def marginal_draws(self, spend: npt.ArrayLike) -> np.ndarray:
        """Marginal revenue of daily spend ``spend`` in each draw: shape ``(K, *spend.shape)``."""
        s = np.asarray(spend, dtype=float)
        c, se, sl = self._params(s.ndim)
        return c / se * np.exp(-s / se) + sl

    def season_response_draws(self, budget: float, profile: npt.ArrayLike) -> np.ndarray:
        """Season revenue of ``budget`` paced by ``profile`` in each draw, shape ``(K,)``."""
        v, n, _, snv = _compress(profile)
        return np.asarray((self._c * -np.expm1(-(budget * v) / self._se)) @ n + self.slope * (budget * snv))

    def season_marginal_draws(self, budget: float, profile: npt.ArrayLike) -> np.ndarray:
        """Derivative of :meth:`season_response_draws` in ``budget``, shape ``(K,)``."""
        v, _, nv, snv = _compress(profile)
        return np.asarray((self._c_se * np.exp(-(budget * v) / self._se)) @ nv + self.slope * snv)

    def response(self, spend: npt.ArrayLike) -> np.ndarray:
        """Expected revenue per day of daily spend ``spend``."""
        return np.asarray(self.response_draws(spend).mean(axis=0))

    def marginal(self, spend: npt.ArrayLike) -> np.ndarray:
        """Expected marginal revenue per day at daily spend ``spend``."""
        return np.asarray(self.marginal_draws(spend).mean(axis=0))

    def season_response(self, budget: float, profile: npt.ArrayLike) -> float:
        """Expected season revenue of ``budget`` paced by ``profile``."""
        return float(self.season_response_draws(budget, profile).sum()) / self._k

    def season_marginal(self, budget: float, profile: npt.ArrayLike) -> float:
        """Expected season marginal return at ``budget``."""
        return float(self.season_marginal_draws(budget, profile).sum()) / self._k

    def subset(self, index: npt.ArrayLike) -> CurveDraws:
        """The same channel over the draws at ``index``."""
        return CurveDraws(self.channel, [self.curves[i] for i in np.asarray(index, dtype=int)])


def draw_table(draws: Draws) -> dict[str, CurveDraws]:
    """Per channel, its curves over the draws.

    Raises
    ------
    DataError
        No draws, or draws that do not all hold curves for the same channels.
    """
    if len(draws) == 0:
        raise DataError("No curve draws were given; pass the media model's draws (a list of {channel: curve}).")
    channels = list(draws[0])
    for i, d in enumerate(draws):
        if set(d) != set(channels):
            raise DataError(f"Curve draw {i} has channels {sorted(d)} while draw 0 has {sorted(channels)}; every "
                            "draw must hold a curve for the same channels.")
    return {ch: CurveDraws(ch, [d[ch] for d in draws]) for ch in channels}


def _expected(table: Mapping[str, CurveDraws]) -> dict[str, SeasonCurve]:
    """Expected curve per channel; the draws' common curve itself where they all agree."""
    return {ch: cd.curves[0] if all(c == cd.curves[0] for c in cd.curves) else cd for ch, cd in table.items()}


def expected_curves(draws: Draws) -> dict[str, SeasonCurve]:
    """Expected (mean over draws) curve per channel, for :func:`optimise_budget` and pacing."""
    return _expected(draw_table(draws))


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------
def parse_objective(objective: str) -> float | None:
    """``None`` for ``"mean"``, the percentile NN for ``"pNN"`` (``0 < NN <= 50``).

    Raises
    ------
    ConfigError
        Any other objective.
    """
    if objective == "mean":
        return None
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", str(objective))
    if m and 0 < float(m.group(1)) <= 50:
        return float(m.group(1))
    raise ConfigError(f"Unknown budget objective {objective!r}. Choose from ['mean', 'p<percent>'] with a percent "
                      "in (0, 50], e.g. 'p10' (maximise the 10th percentile of the season return).")


def fixed_bounds(bounds: Bounds, fixed: Mapping[str, float] | None) -> dict[str, tuple[float, float]]:
    """Bounds with each fixed channel's ``(min, max)`` replaced by ``(budget, budget)``.

    Raises
    ------
    ConfigError
        A fixed channel not among the bounds, or a fixed budget that is negative or not finite.
    """
    fixed = dict(fixed or {})
    for ch, v in fixed.items():
        if ch not in bounds:
            raise ConfigError(f"Fixed budget for {ch!r}: not a configured channel ({', '.join(bounds)}); add "
                              f"channels.{ch} to the campaign file or drop the fixed budget.")
        if not (np.isfinite(v) and v >= 0):
            raise ConfigError(f"Fixed budget for {ch!r} is {v}; give a finite budget of 0 or more.")
    return {ch: (float(fixed[ch]), float(fixed[ch])) if ch in fixed else (float(lo), float(hi))
            for ch, (lo, hi) in bounds.items()}


# --------------------------------------------------------------------------------------------
# The percentile objective
# --------------------------------------------------------------------------------------------
def _score(totals: np.ndarray, q: float | None) -> float:
    """Expected total (``q`` None) or its ``q``-th percentile across draws."""
    return float(totals.mean()) if q is None else float(np.percentile(totals, q))


def _totals(table: Mapping[str, CurveDraws], split: Mapping[str, float], profile: npt.ArrayLike) -> np.ndarray:
    """Total season return of ``split`` in each draw, shape ``(K,)``."""
    k = len(next(iter(table.values())).curves) if table else 1
    return sum((cd.season_response_draws(split[ch], profile) for ch, cd in table.items() if ch in split),
               np.zeros(k))


def _candidates(table: Mapping[str, CurveDraws], bounds: Bounds, total: float, profile: npt.ArrayLike,
                mean_split: dict[str, float]) -> list[dict[str, float]]:
    """The mean-optimal split and single-draw optima spread over the draws' ranks (module docstring)."""
    k = len(next(iter(table.values())).curves)
    order = np.argsort(_totals(table, mean_split, profile), kind="stable")
    picks = order[np.unique(np.linspace(0, k - 1, min(k, DRAW_CANDIDATES)).round().astype(int))]
    out = [mean_split]
    for i in picks:  # one draw as a CurveDraws: the same curve, evaluated on the compressed profile
        out.append(optimise_budget({ch: cd.subset([i]) for ch, cd in table.items()}, bounds, total, profile))
    return out


def _tail_rounds(table: Mapping[str, CurveDraws], bounds: Bounds, total: float, profile: npt.ArrayLike,
                 q: float, best: dict[str, float]) -> dict[str, float]:
    """Replace ``best`` by the mean-optimal split over its lower tail while that raises the percentile."""
    score = _score(_totals(table, best, profile), q)
    for _ in range(TAIL_ROUNDS):
        t = _totals(table, best, profile)
        tail = np.flatnonzero(t <= np.percentile(t, q))
        cand = optimise_budget(_expected({ch: cd.subset(tail) for ch, cd in table.items()}), bounds, total, profile)
        s = _score(_totals(table, cand, profile), q)
        if s <= score:
            break
        best, score = cand, s
    return best


def _local_search(table: Mapping[str, CurveDraws], bounds: Bounds, total: float, profile: npt.ArrayLike,
                  q: float, start: dict[str, float]) -> dict[str, float]:
    """Pairwise transfers between free responding channels that raise the percentile (module docstring)."""
    free = [ch for ch in bounds if ch in table and table[ch].responds and bounds[ch][0] < bounds[ch][1]]
    x = dict(start)
    rev = {ch: table[ch].season_response_draws(x[ch], profile) for ch in free}
    rest = _totals(table, {ch: v for ch, v in x.items() if ch not in free}, profile)
    best = _score(rest + sum(rev.values()), q)
    step = 0.1 * (sum(x[ch] for ch in free) or total)
    moves = 0
    while step > STEP_TOL * max(total, 1.0) and moves < MAX_MOVES and len(free) > 1:
        improved = False
        for i in free:
            for j in free:
                amount = min(step, x[i] - bounds[i][0], bounds[j][1] - x[j]) if i != j else 0.0
                if amount <= 0:
                    continue
                moves += 1
                ri = table[i].season_response_draws(x[i] - amount, profile)
                rj = table[j].season_response_draws(x[j] + amount, profile)
                s = _score(rest + sum(v for ch, v in rev.items() if ch not in (i, j)) + ri + rj, q)
                if s > best + 1e-12 * abs(best):
                    x[i], x[j], rev[i], rev[j], best, improved = x[i] - amount, x[j] + amount, ri, rj, s, True
        if not improved:
            step /= 2
    return x


def _percentile_split(table: Mapping[str, CurveDraws], bounds: Bounds, total: float, profile: npt.ArrayLike,
                      q: float, mean_split: dict[str, float]) -> dict[str, float]:
    """Split maximising the ``q``-th percentile of the total return (module docstring)."""
    cands = _candidates(table, bounds, total, profile, mean_split)
    scores = [_score(_totals(table, c, profile), q) for c in cands]
    best = cands[int(np.argmax(scores))]  # first of equals: the mean-optimal split wins ties
    best = _tail_rounds(table, bounds, total, profile, q, best)
    return _local_search(table, bounds, total, profile, q, best)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A mean across draws and its :data:`INTERVAL` percentiles (NaN draws left out)."""

    mean: float
    low: float
    high: float

    @property
    def spans_zero(self) -> bool:
        """Whether 0 lies in ``[low, high]`` (True for an undefined interval)."""
        return not (self.low > 0 or self.high < 0)

    @classmethod
    def of(cls, values: npt.ArrayLike) -> Interval:
        x = np.asarray(values, dtype=float)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return cls(float("nan"), float("nan"), float("nan"))
        lo, hi = np.percentile(x, INTERVAL)
        return cls(float(x.mean()), float(lo), float(hi))


@dataclass
class DrawAllocation:
    """A split chosen on curve draws, with intervals.

    Attributes
    ----------
    budget : dict
        Channel -> season budget (currency), in the order of the bounds, summing to the total.
    table : DataFrame
        One row per channel: ``channel``, ``budget``, ``min_budget``, ``max_budget`` (the bounds
        given), ``fixed`` (bool), ``reference`` (the reference split's budget), ``fitted`` (has
        curves), ``expected_revenue`` / ``_low`` / ``_high`` (season incremental revenue, mean and
        5-95 % across draws), ``roas`` / ``_low`` / ``_high`` (revenue / budget; NaN at 0 budget or
        without curves), ``marginal_roas`` / ``_low`` / ``_high`` (season marginal return at the
        budget), ``gain`` / ``_low`` / ``_high`` (revenue minus the reference's) and
        ``distinguishable`` (the gain's interval excludes 0).
    objective : str
        ``"mean"`` or ``"pNN"``.
    score : float
        The objective's value: expected or NN-th percentile season revenue of the split.
    revenue, roas, marginal_roas, gain : Interval
        Totals over channels: season revenue, its ratio to the total, the marginal ROAS of the total
        (module docstring) and the gain over the reference split.
    reference : dict
        The reference split compared with.
    """

    budget: dict[str, float]
    table: pd.DataFrame
    objective: str
    score: float
    revenue: Interval
    roas: Interval
    marginal_roas: Interval
    gain: Interval
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Season budget of the split (currency)."""
        return float(sum(self.budget.values()))

    @property
    def distinguishable(self) -> bool:
        """Whether the gain over the reference split is distinguishable from zero (its interval excludes 0)."""
        return not self.gain.spans_zero


def _columns(name: str, values: np.ndarray) -> dict[str, float]:
    iv = Interval.of(values)
    return {name: iv.mean, f"{name}_low": iv.low, f"{name}_high": iv.high}


def _channel_rows(table: Mapping[str, CurveDraws], bounds: Bounds, fixed: Mapping[str, float],
                  split: Mapping[str, float], reference: Mapping[str, float], profile: npt.ArrayLike,
                  k: int) -> pd.DataFrame:
    rows = []
    for ch, (lo, hi) in bounds.items():
        b, r = split[ch], float(reference.get(ch, 0.0))
        cd = table.get(ch)
        rev = cd.season_response_draws(b, profile) if cd else np.zeros(k)
        gain = rev - (cd.season_response_draws(r, profile) if cd else np.zeros(k))
        marg = cd.season_marginal_draws(b, profile) if cd else np.full(k, np.nan)
        roas = rev / b if cd and b > 0 else np.full(k, np.nan)
        g = Interval.of(gain)
        rows.append({"channel": ch, "budget": b, "min_budget": float(lo), "max_budget": float(hi),
                     "fixed": ch in fixed, "reference": r, "fitted": cd is not None}
                    | _columns("expected_revenue", rev) | _columns("roas", roas)
                    | _columns("marginal_roas", marg) | _columns("gain", gain)
                    | {"distinguishable": not g.spans_zero})
    return pd.DataFrame(rows)


def _marginal_of_total(table: Mapping[str, CurveDraws], bounds: Bounds, split: Mapping[str, float],
                       profile: npt.ArrayLike, k: int) -> np.ndarray:
    """Per draw, the marginal return of the free responding channel with room and the highest
    expected marginal return (of any free responding channel when none has room)."""
    free = [ch for ch in bounds if ch in table and table[ch].responds and bounds[ch][0] < bounds[ch][1]]
    room = [ch for ch in free if split[ch] < bounds[ch][1] - 1e-9 * max(bounds[ch][1], 1.0)] or free
    if not room:
        return np.full(k, np.nan)
    best = max(room, key=lambda ch: table[ch].season_marginal(split[ch], profile))
    return table[best].season_marginal_draws(split[best], profile)


def summarise_split(draws: Draws, bounds: Bounds, split: Mapping[str, float], profile: npt.ArrayLike,
                    reference: Mapping[str, float], objective: str = "mean",
                    fixed: Mapping[str, float] | None = None) -> DrawAllocation:
    """Intervals across draws for a given ``split`` against ``reference`` (:class:`DrawAllocation`).

    Raises
    ------
    ConfigError
        A split or reference naming a channel outside the bounds, or a bad objective.
    """
    q = parse_objective(objective)
    extra = sorted((set(split) | set(reference)) - set(bounds))
    if extra:
        raise ConfigError(f"Split or reference names channels {extra} that have no bounds; configure them "
                          f"under channels or drop them (configured: {', '.join(bounds)}).")
    table = draw_table(draws)
    k = len(draws)
    beff = fixed_bounds(bounds, fixed)
    full = {ch: float(split.get(ch, 0.0)) for ch in bounds}
    ref = {ch: float(reference.get(ch, 0.0)) for ch in bounds}
    rows = _channel_rows(table, bounds, fixed or {}, full, ref, profile, k)
    tot, tot_ref = _totals(table, full, profile), _totals(table, ref, profile)
    budget = sum(full.values())
    return DrawAllocation(
        budget=full, table=rows, objective=objective, score=_score(tot, q), revenue=Interval.of(tot),
        roas=Interval.of(tot / budget if budget > 0 else np.full(k, np.nan)),
        marginal_roas=Interval.of(_marginal_of_total(table, beff, full, profile, k)),
        gain=Interval.of(tot - tot_ref), reference=ref)


# --------------------------------------------------------------------------------------------
# The optimiser
# --------------------------------------------------------------------------------------------
def optimise_draws(draws: Draws, bounds: Bounds, total: float, profile: npt.ArrayLike, *,
                   objective: str = "mean", fixed: Mapping[str, float] | None = None,
                   reference: Mapping[str, float] | None = None) -> DrawAllocation:
    """Split ``total`` across the channels of ``bounds`` on a media model's curve draws.

    Parameters
    ----------
    draws : sequence of mapping channel -> ResponseCurve
        The model's draws (daily curves, same channels in each); channels of ``bounds`` without a
        curve are held at their minimum.
    bounds : mapping channel -> (min, max)
        Season budget bounds (currency).
    total : float
        Season budget (currency), fixed channels included.
    profile : array
        Daily pacing shares over the season (sum 1), e.g.
        :func:`playbook.media.budget.pacing_profile` of the season's forecast demand.
    objective : {"mean", "pNN"}
        Maximise the expected season return, or its NN-th percentile across draws (module
        docstring for the method).
    fixed : mapping channel -> budget, optional
        Channels whose budget is given; they replace those channels' bounds.
    reference : mapping channel -> budget, optional
        Split to compare with (e.g. last season's scaled to ``total`` by
        :func:`playbook.media.allocation.proportional_split`); default: an even split within the
        bounds (fixed channels at their budget).

    Returns
    -------
    DrawAllocation

    Raises
    ------
    ConfigError
        Bounds (with the fixed budgets) that cannot hold ``total``, an unknown channel or objective.
    DataError
        No draws, or draws with different channels.
    """
    q = parse_objective(objective)
    table = draw_table(draws)
    beff = fixed_bounds(bounds, fixed)
    split = optimise_budget(_expected(table), beff, total, profile)
    if q is not None and table:
        split = _percentile_split(table, beff, total, profile, q, split)
    ref = dict(reference) if reference is not None else proportional_split({}, beff, total)
    return summarise_split(draws, bounds, split, profile, ref, objective, fixed)


@dataclass
class RoasTarget:
    """Result of :func:`max_budget_for_roas_draws`.

    Attributes
    ----------
    total : float
        Largest total meeting the targets; the bounds' smallest total when none does.
    met : bool
        Whether ``allocation`` meets the targets (False: even the smallest total misses them).
    allocation : DrawAllocation
        The split at ``total`` with its intervals.
    target_roas, target_marginal_roas : float
        The targets (``target_marginal_roas`` None when not given).
    """

    total: float
    met: bool
    allocation: DrawAllocation
    target_roas: float
    target_marginal_roas: float | None = None


def max_budget_for_roas_draws(draws: Draws, bounds: Bounds, target_roas: float, profile: npt.ArrayLike, *,
                              target_marginal_roas: float | None = None, objective: str = "mean",
                              fixed: Mapping[str, float] | None = None,
                              reference_weights: Mapping[str, float] | None = None) -> RoasTarget:
    """Largest total whose split (under ``objective``) has expected ROAS >= ``target_roas`` and,
    when given, expected marginal ROAS >= ``target_marginal_roas`` (module docstring).

    ``reference_weights`` (e.g. last season's spend) give the reference split at each total through
    :func:`playbook.media.allocation.proportional_split`; default even.

    Raises
    ------
    ConfigError
        Bad bounds, fixed budgets or objective.
    """
    parse_objective(objective)
    beff = fixed_bounds(bounds, fixed)
    lo, hi = sum(b[0] for b in beff.values()), sum(b[1] for b in beff.values())

    def at(t: float) -> DrawAllocation:
        ref = proportional_split(reference_weights or {}, beff, t)
        return optimise_draws(draws, bounds, t, profile, objective=objective, fixed=fixed, reference=ref)

    def ok(a: DrawAllocation) -> bool:
        return bool(a.roas.mean >= target_roas
                    and (target_marginal_roas is None or a.marginal_roas.mean >= target_marginal_roas))

    grid = np.linspace(lo, hi, TARGET_GRID) if hi > lo else np.array([hi])
    if grid[0] <= 0 < hi:  # ROAS of a zero total is undefined: start just above it
        grid[0] = hi * 1e-6
    evals = [at(float(t)) for t in grid]
    passing = [i for i, a in enumerate(evals) if ok(a)]
    if not passing:
        return RoasTarget(float(lo), False, at(float(lo)), target_roas, target_marginal_roas)
    i = passing[-1]
    if i == len(grid) - 1:
        return RoasTarget(float(grid[i]), True, evals[i], target_roas, target_marginal_roas)
    a, b, best = float(grid[i]), float(grid[i + 1]), evals[i]
    while b - a > TARGET_TOL * hi:
        m = 0.5 * (a + b)
        r = at(m)
        if ok(r):
            a, best = m, r
        else:
            b = m
    return RoasTarget(a, True, best, target_roas, target_marginal_roas)
