"""Tests for playbook.media.allocation: the bounded allocator against closed-form optima, a grid
search and scipy's SLSQP on the same concave problem (bounds binding and not), the proportional
split, bounds errors and the largest budget for a ROAS floor."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from playbook.errors import ConfigError
from playbook.media import allocation as AL
from playbook.media.response import ResponseCurve

CURVES = {
    "search": ResponseCurve("search", ceiling=1800.0, scale=300.0),
    "social": ResponseCurve("social", ceiling=720.0, scale=200.0),
    "display": ResponseCurve("display", ceiling=180.0, scale=90.0),
}
BOUNDS = {"search": (10_000.0, 40_000.0), "social": (5_000.0, 30_000.0), "display": (2_000.0, 20_000.0)}
DAYS = 61
FLAT = AL.flat_profile(DAYS)
ONE_DAY = np.array([1.0])


def _slsqp(curves, bounds, total, profile):
    """Reference optimum from scipy.optimize.minimize (SLSQP), budgets in thousands."""
    names = list(bounds)

    def neg(x):
        return -AL.expected_revenue(curves, dict(zip(names, 1000.0 * x, strict=True)), profile) / 1000.0

    lo = np.array([bounds[c][0] for c in names]) / 1000.0
    hi = np.array([bounds[c][1] for c in names]) / 1000.0
    x0 = lo + (hi - lo) * (total / 1000.0 - lo.sum()) / (hi - lo).sum()  # feasible start
    res = minimize(neg, x0=x0, bounds=list(zip(lo, hi, strict=True)), method="SLSQP",
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - total / 1000.0}],
                   options={"ftol": 1e-12, "maxiter": 500})
    assert res.success, res.message
    return dict(zip(names, 1000.0 * res.x, strict=True)), -1000.0 * res.fun


# ------------------------------------------------------------------------------------------
# closed-form optima


def test_two_channels_closed_form_interior_and_binding():
    # one day, equal scales s: marginal (c_i / s) exp(-B_i / s) equal -> B_1 - B_2 = s ln(c_1 / c_2)
    curves = {"a": ResponseCurve("a", ceiling=1000.0, scale=100.0), "b": ResponseCurve("b", ceiling=500.0, scale=100.0)}
    got = AL.optimise_budget(curves, {"a": (0.0, 1000.0), "b": (0.0, 1000.0)}, 1000.0, ONE_DAY)
    assert got["a"] == pytest.approx((1000.0 + 100.0 * math.log(2)) / 2, abs=1e-3)  # 534.657
    assert got["b"] == pytest.approx((1000.0 - 100.0 * math.log(2)) / 2, abs=1e-3)  # 465.343
    # a's maximum below its unconstrained optimum binds; b takes the rest
    got = AL.optimise_budget(curves, {"a": (0.0, 520.0), "b": (0.0, 1000.0)}, 1000.0, ONE_DAY)
    assert got == pytest.approx({"a": 520.0, "b": 480.0}, abs=1e-6)
    # b's minimum above its unconstrained optimum binds
    got = AL.optimise_budget(curves, {"a": (0.0, 1000.0), "b": (600.0, 1000.0)}, 1000.0, ONE_DAY)
    assert got == pytest.approx({"a": 400.0, "b": 600.0}, abs=1e-6)


def test_linear_channel_takes_what_the_saturating_one_leaves():
    # saturating marginal 10 exp(-B / 100) meets the linear slope 2 at B = 100 ln 5 = 160.94
    curves = {"sat": ResponseCurve("sat", ceiling=1000.0, scale=100.0),
              "lin": ResponseCurve("lin", slope=2.0, kind="linear")}
    got = AL.optimise_budget(curves, {"sat": (0.0, 1000.0), "lin": (0.0, 1000.0)}, 1000.0, ONE_DAY)
    assert got["sat"] == pytest.approx(100.0 * math.log(5), abs=1e-3)
    assert got["lin"] == pytest.approx(1000.0 - 100.0 * math.log(5), abs=1e-3)
    assert sum(got.values()) == pytest.approx(1000.0, abs=1e-9)


def test_channels_without_response_hold_their_minimum_then_take_what_is_left():
    curves = {"a": ResponseCurve("a", ceiling=100.0, scale=10.0), "z": ResponseCurve("z", kind="none")}
    bounds = {"a": (0.0, 100.0), "b": (0.0, 300.0), "c": (100.0, 200.0), "z": (10.0, 10.0)}
    assert AL.optimise_budget(curves, bounds, 210.0, ONE_DAY) == pytest.approx(
        {"a": 100.0, "b": 0.0, "c": 100.0, "z": 10.0})
    # a full at 100: the other 300 above the minimums go to b and c in proportion to room (300 : 100)
    assert AL.optimise_budget(curves, bounds, 510.0, ONE_DAY) == pytest.approx(
        {"a": 100.0, "b": 225.0, "c": 175.0, "z": 10.0})


def test_flat_profile_is_days_times_the_daily_curve():
    c = CURVES["search"]
    assert c.season_response(30_000.0, FLAT) == pytest.approx(DAYS * float(c.response(30_000.0 / DAYS)), rel=1e-12)
    assert c.season_marginal(30_000.0, FLAT) == pytest.approx(float(c.marginal(30_000.0 / DAYS)), rel=1e-12)
    with pytest.raises(ValueError, match="at least one day"):
        AL.flat_profile(0)


# ------------------------------------------------------------------------------------------
# against scipy's SLSQP and a grid


PROFILE = np.r_[np.full(20, 0.5), np.full(10, 2.0), np.full(31, 1.0)] / 61.0  # sums to 1
CASES = {
    # total: no bound binds
    "interior": (CURVES, BOUNDS, 50_000.0, FLAT),
    # search's maximum binds (its unconstrained optimum is above 15k)
    "upper-binds": (CURVES, BOUNDS | {"search": (10_000.0, 15_000.0)}, 50_000.0, FLAT),
    # display's minimum binds (its marginal return there is below the others')
    "lower-binds": (CURVES, BOUNDS | {"display": (12_000.0, 20_000.0)}, 40_000.0, FLAT),
    # uneven pacing, adstock and a linear channel
    "profile-adstock-linear": (
        {"search": ResponseCurve("search", ceiling=1800.0, scale=400.0, theta=0.4),
         "social": ResponseCurve("social", ceiling=900.0, scale=150.0),
         "affiliate": ResponseCurve("affiliate", slope=1.2, kind="linear")},
        {"search": (5_000.0, 60_000.0), "social": (5_000.0, 40_000.0), "affiliate": (0.0, 10_000.0)},
        45_000.0, PROFILE),
}


@pytest.mark.parametrize("case", list(CASES))
def test_allocator_matches_scipy_slsqp(case):
    curves, bounds, total, profile = CASES[case]
    got = AL.optimise_budget(curves, bounds, total, profile)
    assert sum(got.values()) == pytest.approx(total, rel=1e-12)
    assert all(bounds[c][0] - 1e-9 <= v <= bounds[c][1] + 1e-9 for c, v in got.items())
    ref, ref_rev = _slsqp(curves, bounds, total, profile)
    rev = AL.expected_revenue(curves, got, profile)
    assert rev >= ref_rev - 1e-7 * ref_rev  # at least as good as SLSQP
    assert rev == pytest.approx(ref_rev, rel=1e-7)
    for c in bounds:
        assert got[c] == pytest.approx(ref[c], abs=total * 2e-4), c


def test_binding_cases_really_bind():
    got = AL.optimise_budget(*CASES["upper-binds"])
    assert got["search"] == 15_000.0
    got = AL.optimise_budget(*CASES["lower-binds"])
    assert got["display"] == 12_000.0
    got = AL.optimise_budget(*CASES["interior"])
    assert all(BOUNDS[c][0] < v < BOUNDS[c][1] for c, v in got.items())


def _brute_force(curves, bounds, total, profile, step=250.0):
    """Best split on a grid (independent reference for the bisection)."""
    chans = list(bounds)
    best = -np.inf
    a_grid = np.arange(bounds[chans[0]][0], bounds[chans[0]][1] + step, step)
    b_grid = np.arange(bounds[chans[1]][0], bounds[chans[1]][1] + step, step)
    for a, b in itertools.product(a_grid, b_grid):
        c = total - a - b
        if bounds[chans[2]][0] <= c <= bounds[chans[2]][1]:
            best = max(best, AL.expected_revenue(curves, dict(zip(chans, (a, b, c), strict=True)), profile))
    return best


@pytest.mark.parametrize("total", [30_000.0, 50_000.0, 80_000.0], ids=["tight", "mid", "loose"])
def test_optimiser_beats_grid_and_proportional(total):
    alloc = AL.optimise_budget(CURVES, BOUNDS, total, FLAT)
    rev = AL.expected_revenue(CURVES, alloc, FLAT)
    best = _brute_force(CURVES, BOUNDS, total, FLAT)
    assert rev >= best - 1e-6 * best
    roas = {c: cv.season_response(BOUNDS[c][0], FLAT) / BOUNDS[c][0] for c, cv in CURVES.items()}
    prop = AL.proportional_split(roas, BOUNDS, total)
    assert sum(prop.values()) == pytest.approx(total)
    assert rev >= AL.expected_revenue(CURVES, prop, FLAT)


def test_interior_optimum_equalises_marginal_returns():
    alloc = AL.optimise_budget(CURVES, BOUNDS, 50_000.0, FLAT)
    m = [CURVES[c].season_marginal(alloc[c], FLAT) for c in alloc]
    assert max(m) == pytest.approx(min(m), rel=1e-6)


# ------------------------------------------------------------------------------------------
# bounds, proportional split, ROAS floor


def test_bounds_that_cannot_be_met_are_a_config_error():
    with pytest.raises(ConfigError, match="below the sum of the channels' min_budget"):
        AL.optimise_budget(CURVES, BOUNDS, 10_000.0, FLAT)
    with pytest.raises(ConfigError, match="above the sum of the channels' max_budget"):
        AL.optimise_budget(CURVES, BOUNDS, 1e6, FLAT)
    with pytest.raises(ConfigError, match="channels.a: min_budget is above max_budget"):
        AL.check_bounds({"a": (5.0, 1.0)}, 3.0)
    with pytest.raises(ConfigError, match="budget.total"):
        AL.proportional_split({"a": 1.0}, {"a": (100.0, 200.0), "b": (100.0, 200.0)}, 1000.0)


def test_channel_without_curve_is_held_at_minimum():
    bounds = BOUNDS | {"affiliate": (3_000.0, 9_000.0)}
    alloc = AL.optimise_budget(CURVES, bounds, 50_000.0, FLAT)
    assert alloc["affiliate"] == 3_000.0
    assert sum(alloc.values()) == pytest.approx(50_000.0)


def test_proportional_split_clips_and_respreads():
    out = AL.proportional_split({"a": 0.9, "b": 0.1, "c": 0.0}, {"a": (0, 500), "b": (100, 600), "c": (50, 300)}, 1000.0)
    # a's 900 is clipped to 500 and c gets its minimum 50; b takes the remaining 450
    assert out == pytest.approx({"a": 500.0, "b": 450.0, "c": 50.0})
    even = AL.proportional_split({}, {"a": (0, 500), "b": (0, 500)}, 600.0)  # no weights: even
    assert even == pytest.approx({"a": 300.0, "b": 300.0})


def test_max_budget_for_target_roas():
    total, roas = AL.max_budget_for_roas(CURVES, BOUNDS, 3.0, FLAT)
    assert roas == pytest.approx(3.0, rel=1e-3)
    lo = sum(b[0] for b in BOUNDS.values())
    more = AL.optimise_budget(CURVES, BOUNDS, total * 1.05, FLAT)
    assert AL.expected_revenue(CURVES, more, FLAT) / (total * 1.05) < 3.0
    assert total > lo
    unreachable, r = AL.max_budget_for_roas(CURVES, BOUNDS, 100.0, FLAT)
    assert unreachable == lo and r < 100.0


def test_describe_uncurved_says_which_channels_were_filled():
    table = pd.DataFrame({"channel": ["a", "b", "c"], "min_budget": [0.0, 0.0, 100.0], "budget": [100.0, 225.0, 100.0]})
    assert AL.describe_uncurved(table, "budget", ["b", "c"], "Without spend history") == (
        " Without spend history, c stay at their minimum. Without spend history, b get only what the other "
        "channels cannot take at their maximum.")
    assert AL.describe_uncurved(table, "budget", [], "Without spend history") == ""
