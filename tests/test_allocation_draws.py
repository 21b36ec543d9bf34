"""Tests for playbook.media.allocation_draws (the optimiser on a media model's curve draws) and
playbook.media.budget.pacing_plan_draws: identical draws reproduce optimise_budget exactly, a
closed-form optimum, a planted optimum recovered from noisy draws, fixed channels, bounds, the
target-ROAS boundary, the risk-aware (percentile) objective, intervals against numpy on the
draws, and determinism. Draws are built from ResponseCurve directly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from playbook.errors import ConfigError, DataError
from playbook.media import allocation as AL
from playbook.media import allocation_draws as AD
from playbook.media import budget as B
from playbook.media import response as MR
from playbook.media.response import ResponseCurve
from tests.test_media_allocation import BOUNDS, CASES, CURVES, DAYS, FLAT, ONE_DAY, PROFILE


def noisy_draws(curves, k=200, sigma=0.25, seed=7):
    """Draws around ``curves``: ceiling and scale times independent lognormal noise."""
    rng = np.random.default_rng(seed)
    return [{ch: ResponseCurve(ch, ceiling=c.ceiling * rng.lognormal(0, sigma), scale=c.scale * rng.lognormal(0, sigma),
                               slope=c.slope, theta=c.theta, kind=c.kind) for ch, c in curves.items()}
            for _ in range(k)]


def per_draw(draws, ch, budget, profile):
    """Season revenue of ``budget`` on channel ``ch`` in each draw, from ResponseCurve itself."""
    return np.array([d[ch].season_response(budget, profile) for d in draws])


def total_per_draw(draws, split, profile):
    return sum(per_draw(draws, ch, b, profile) for ch, b in split.items() if ch in draws[0])


DRAWS = noisy_draws(CURVES)


# ------------------------------------------------------------------------------------------
# identical draws are today's optimiser


IDENTICAL_CASES = CASES | {
    "channel-without-curve": (CURVES, BOUNDS | {"affiliate": (3_000.0, 9_000.0)}, 50_000.0, FLAT),
}


@pytest.mark.parametrize("case", list(IDENTICAL_CASES))
def test_identical_draws_give_exactly_optimise_budget(case):
    curves, bounds, total, profile = IDENTICAL_CASES[case]
    got = AD.optimise_draws([curves] * 30, bounds, total, profile)
    assert got.budget == AL.optimise_budget(curves, bounds, total, profile)  # exact, not approx
    # no uncertainty: every interval is a point at the curve's value
    t = got.table.set_index("channel")
    for ch, c in curves.items():
        assert t.loc[ch, "expected_revenue"] == pytest.approx(c.season_response(got.budget[ch], profile), rel=1e-12)
        assert t.loc[ch, "expected_revenue_low"] == pytest.approx(t.loc[ch, "expected_revenue_high"], rel=1e-12)
    # the percentile objective has nothing to trade: same split
    p10 = AD.optimise_draws([curves] * 30, bounds, total, profile, objective="p10")
    assert p10.budget == pytest.approx(got.budget, abs=1e-6 * total)


def test_two_exponential_curves_closed_form_from_varying_draws():
    # ceilings vary across draws with means 1000 and 500, scales equal (100): the expected curves are
    # 1000 (1 - exp(-B / 100)) and 500 (1 - exp(-B / 100)); equal marginal -> B_a - B_b = 100 ln 2
    draws = [{"a": ResponseCurve("a", ceiling=ca, scale=100.0), "b": ResponseCurve("b", ceiling=cb, scale=100.0)}
             for ca, cb in ((600.0, 200.0), (1400.0, 800.0), (1000.0, 500.0), (1000.0, 500.0))]
    got = AD.optimise_draws(draws, {"a": (0.0, 1000.0), "b": (0.0, 1000.0)}, 1000.0, ONE_DAY)
    assert got.budget["a"] == pytest.approx((1000.0 + 100.0 * math.log(2)) / 2, abs=1e-3)  # 534.657
    assert got.budget["b"] == pytest.approx((1000.0 - 100.0 * math.log(2)) / 2, abs=1e-3)  # 465.343
    # both at the common marginal return 10 exp(-534.657 / 100) = 0.04763
    lam = 10.0 * math.exp(-got.budget["a"] / 100.0)
    assert got.table["marginal_roas"].to_numpy() == pytest.approx([lam, lam], rel=1e-6)
    assert got.marginal_roas.mean == pytest.approx(lam, rel=1e-6)


def test_noisy_draws_earn_within_5_percent_of_the_true_optimum():
    true = {"search": ResponseCurve("search", ceiling=2000.0, scale=350.0),
            "social": ResponseCurve("social", ceiling=900.0, scale=150.0),
            "display": ResponseCurve("display", ceiling=300.0, scale=120.0, theta=0.3),
            "video": ResponseCurve("video", ceiling=1500.0, scale=700.0)}
    bounds = dict.fromkeys(true, (0.0, 80_000.0))
    total = 60_000.0
    best = AL.expected_revenue(true, AL.optimise_budget(true, bounds, total, FLAT), FLAT)
    draws = noisy_draws(true, k=200, sigma=0.25, seed=11)
    for objective in ("mean", "p10"):
        got = AD.optimise_draws(draws, bounds, total, FLAT, objective=objective)
        assert AL.expected_revenue(true, got.budget, FLAT) >= 0.95 * best, objective
    # the criterion has teeth: an even split misses it
    assert AL.expected_revenue(true, AL.proportional_split({}, bounds, total), FLAT) < 0.95 * best


# ------------------------------------------------------------------------------------------
# fixed channels and bounds


def test_fixed_channels_get_their_budget_and_the_rest_is_optimised():
    got = AD.optimise_draws([CURVES] * 5, BOUNDS, 50_000.0, FLAT, fixed={"search": 12_000.0})
    assert got.budget["search"] == 12_000.0
    assert sum(got.budget.values()) == pytest.approx(50_000.0, rel=1e-12)
    rest = AL.optimise_budget({k: v for k, v in CURVES.items() if k != "search"},
                              {k: v for k, v in BOUNDS.items() if k != "search"}, 38_000.0, FLAT)
    assert {k: got.budget[k] for k in rest} == pytest.approx(rest, rel=1e-6)
    assert got.table.set_index("channel")["fixed"].to_dict() == {"search": True, "social": False, "display": False}
    # a fixed budget replaces the channel's bounds, also under the percentile objective
    p10 = AD.optimise_draws(DRAWS, BOUNDS, 60_000.0, FLAT, objective="p10", fixed={"search": 45_000.0, "display": 0.0})
    assert p10.budget == pytest.approx({"search": 45_000.0, "social": 15_000.0, "display": 0.0}, abs=1e-9)


def test_fixed_channel_errors_name_the_channel():
    with pytest.raises(ConfigError, match="Fixed budget for 'tv': not a configured channel"):
        AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, FLAT, fixed={"tv": 1.0})
    with pytest.raises(ConfigError, match="Fixed budget for 'search' is -1"):
        AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, FLAT, fixed={"search": -1.0})
    with pytest.raises(ConfigError, match="below the sum of the channels' min_budget"):
        AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, FLAT, fixed={"search": 48_000.0})


@pytest.mark.parametrize("objective", ["mean", "p10", "p25"])
def test_bounds_are_respected(objective):
    bounds = BOUNDS | {"search": (10_000.0, 15_000.0), "display": (6_000.0, 20_000.0)}
    got = AD.optimise_draws(DRAWS, bounds, 45_000.0, FLAT, objective=objective)
    assert sum(got.budget.values()) == pytest.approx(45_000.0, rel=1e-9)
    for ch, (lo, hi) in bounds.items():
        assert lo - 1e-6 <= got.budget[ch] <= hi + 1e-6, ch
    assert got.budget["search"] == pytest.approx(15_000.0, abs=1e-6)  # its maximum binds (best channel)


# ------------------------------------------------------------------------------------------
# target ROAS


def test_target_roas_finds_the_boundary():
    res = AD.max_budget_for_roas_draws(DRAWS, BOUNDS, 3.0, FLAT)
    assert res.met
    assert res.allocation.roas.mean == pytest.approx(3.0, rel=1e-4)
    assert res.allocation.total == pytest.approx(res.total, rel=1e-9)
    below = AD.optimise_draws(DRAWS, BOUNDS, res.total * 0.999, FLAT)
    above = AD.optimise_draws(DRAWS, BOUNDS, res.total * 1.001, FLAT)
    assert below.roas.mean > 3.0 > above.roas.mean
    # identical draws: the same boundary as today's max_budget_for_roas
    same = AD.max_budget_for_roas_draws([CURVES] * 3, BOUNDS, 3.0, FLAT)
    assert same.total == pytest.approx(AL.max_budget_for_roas(CURVES, BOUNDS, 3.0, FLAT)[0], rel=1e-5)


def test_target_marginal_roas_finds_its_boundary():
    res = AD.max_budget_for_roas_draws(DRAWS, BOUNDS, 1.0, FLAT, target_marginal_roas=1.5)
    assert res.met and res.allocation.marginal_roas.mean == pytest.approx(1.5, rel=1e-4)
    assert res.allocation.roas.mean > 1.0  # the ROAS target does not bind here
    below = AD.optimise_draws(DRAWS, BOUNDS, res.total * 0.999, FLAT)
    above = AD.optimise_draws(DRAWS, BOUNDS, res.total * 1.001, FLAT)
    assert below.marginal_roas.mean > 1.5 > above.marginal_roas.mean


def test_unreachable_target_returns_the_smallest_total_and_says_so():
    res = AD.max_budget_for_roas_draws(DRAWS, BOUNDS, 100.0, FLAT)
    assert not res.met
    assert res.total == sum(b[0] for b in BOUNDS.values())
    assert res.allocation.roas.mean < 100.0


# ------------------------------------------------------------------------------------------
# risk-aware choice


def _sure_and_risky(k=400, sigma=0.8, seed=3):
    """Two channels with the same expected curve; the risky one's ceiling varies widely."""
    rng = np.random.default_rng(seed)
    m = rng.lognormal(0.0, sigma, k)
    m = m / m.mean()  # expected ceiling exactly 1000 for both
    return [{"sure": ResponseCurve("sure", ceiling=1000.0, scale=100.0),
             "risky": ResponseCurve("risky", ceiling=1000.0 * f, scale=100.0)} for f in m]


def test_low_percentile_objective_moves_budget_from_the_uncertain_channel():
    draws = _sure_and_risky()
    bounds = {"sure": (0.0, 1000.0), "risky": (0.0, 1000.0)}
    mean = AD.optimise_draws(draws, bounds, 400.0, ONE_DAY)
    p10 = AD.optimise_draws(draws, bounds, 400.0, ONE_DAY, objective="p10")
    assert mean.budget["risky"] == pytest.approx(200.0, rel=1e-3)  # same expected curves: even split
    assert p10.budget["risky"] < mean.budget["risky"] - 40.0
    # p10 of the total return (computed here from the draws) is higher for the p10 split; the mean lower
    q_p10 = np.percentile(total_per_draw(draws, p10.budget, ONE_DAY), 10)
    q_mean = np.percentile(total_per_draw(draws, mean.budget, ONE_DAY), 10)
    assert q_p10 > q_mean
    assert p10.score == pytest.approx(q_p10, rel=1e-9)
    assert p10.revenue.mean < mean.revenue.mean


def test_determinism():
    a = AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, PROFILE, objective="p10")
    b = AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, PROFILE, objective="p10")
    assert a.budget == b.budget
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.gain == b.gain


# ------------------------------------------------------------------------------------------
# intervals and the gain over a reference split


def test_intervals_match_numpy_on_the_draws():
    ref = {"search": 20_000.0, "social": 20_000.0, "display": 10_000.0}
    got = AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, PROFILE, reference=ref)
    t = got.table.set_index("channel")
    for ch in CURVES:
        b = got.budget[ch]
        rev = per_draw(DRAWS, ch, b, PROFILE)
        lo, hi = np.percentile(rev, [5, 95])
        assert t.loc[ch, ["expected_revenue", "expected_revenue_low", "expected_revenue_high"]].tolist() == \
            pytest.approx([rev.mean(), lo, hi], rel=1e-9)
        assert t.loc[ch, ["roas_low", "roas_high"]].tolist() == pytest.approx([lo / b, hi / b], rel=1e-9)
        marg = np.array([d[ch].season_marginal(b, PROFILE) for d in DRAWS])
        assert t.loc[ch, ["marginal_roas", "marginal_roas_low", "marginal_roas_high"]].tolist() == \
            pytest.approx([marg.mean(), *np.percentile(marg, [5, 95])], rel=1e-9)
        assert t.loc[ch, "reference"] == ref[ch]
    gain = total_per_draw(DRAWS, got.budget, PROFILE) - total_per_draw(DRAWS, ref, PROFILE)
    assert [got.gain.mean, got.gain.low, got.gain.high] == pytest.approx([gain.mean(), *np.percentile(gain, [5, 95])])
    assert got.gain.low > 0 and got.distinguishable  # the optimised split beats this one in 95 % of draws


def test_gain_whose_interval_spans_zero_is_not_distinguishable():
    # which of the two channels is better is uncertain (symmetric draws): the expected optimum is the
    # even split, and a 60:40 reference wins in some draws and loses in others
    factors = (0.5, 0.7, 0.9, 1.1, 1.4, 2.0)
    draws = [{"a": ResponseCurve("a", ceiling=1000.0 * f, scale=100.0), "b": ResponseCurve("b", ceiling=1000.0 / f, scale=100.0)}
             for f in factors + tuple(1 / f for f in factors)]
    bounds = {"a": (0.0, 1000.0), "b": (0.0, 1000.0)}
    got = AD.optimise_draws(draws, bounds, 400.0, ONE_DAY, reference={"a": 240.0, "b": 160.0})
    assert got.budget == pytest.approx({"a": 200.0, "b": 200.0}, abs=1e-3)
    assert got.gain.mean > 0 and got.gain.low < 0 < got.gain.high
    assert not got.distinguishable
    # per channel, a's 200 earns less than the reference's 240 in every draw: distinguishable, negative
    a = got.table.set_index("channel").loc["a"]
    assert a["gain_high"] < 0 and a["distinguishable"]


def test_default_reference_is_the_even_split_within_bounds():
    got = AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, FLAT)
    assert got.reference == pytest.approx(AL.proportional_split({}, BOUNDS, 50_000.0))


# ------------------------------------------------------------------------------------------
# pacing and errors


def test_pacing_plan_draws_paces_the_split_with_daily_intervals():
    days = pd.date_range("2025-11-01", periods=DAYS)
    split = AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, PROFILE).budget
    plan = B.pacing_plan_draws(split, days, PROFILE, DRAWS)
    s = plan[plan["channel"] == "social"]
    assert s["spend"].to_numpy() == pytest.approx(split["social"] * PROFILE, rel=1e-12)
    daily = np.array([d["social"].response(split["social"] * PROFILE) for d in DRAWS])  # draws x days
    assert s["expected_revenue"].to_numpy() == pytest.approx(daily.mean(axis=0), rel=1e-9)
    assert s["expected_revenue_low"].to_numpy() == pytest.approx(np.percentile(daily, 5, axis=0), rel=1e-9)
    assert s["expected_revenue_high"].to_numpy() == pytest.approx(np.percentile(daily, 95, axis=0), rel=1e-9)
    same = B.pacing_plan_draws(split, days, PROFILE, [CURVES] * 3)
    assert same["expected_revenue"].tolist() == B.pacing_plan(split, days, PROFILE, CURVES)["expected_revenue"].tolist()
    assert same["expected_revenue_low"].to_numpy() == pytest.approx(same["expected_revenue"].to_numpy(), rel=1e-12)


def test_bad_objective_and_bad_draws_are_clear_errors():
    with pytest.raises(ConfigError, match=r"Unknown budget objective 'p90'.*'mean'"):
        AD.optimise_draws(DRAWS, BOUNDS, 50_000.0, FLAT, objective="p90")
    with pytest.raises(DataError, match="No curve draws"):
        AD.optimise_draws([], BOUNDS, 50_000.0, FLAT)
    with pytest.raises(DataError, match="Curve draw 1 has channels"):
        AD.optimise_draws([CURVES, {"search": CURVES["search"]}], BOUNDS, 50_000.0, FLAT)


def test_budget_plan_draws_is_budget_plan_with_intervals():
    bounds = BOUNDS | {"affiliate": (3_000.0, 9_000.0)}  # no curve: held at its minimum
    last, roas = {"search": 2.0, "social": 1.0, "display": 1.0}, {"search": 3.0, "social": 1.0, "display": 1.0}
    old = B.budget_plan(MR.CurveFit(dict(CURVES), [], 0.0, 90.0, 0.0), bounds, 50_000.0, FLAT, last, roas)
    new = B.budget_plan_draws([CURVES] * 4, bounds, 50_000.0, FLAT, last, roas)
    assert list(new.columns[:len(old.columns)]) == list(old.columns)
    pd.testing.assert_frame_equal(new[old.columns], old, rtol=1e-12)
    assert new.attrs["totals"] == pytest.approx(old.attrs["totals"], rel=1e-12)
    gain = old.attrs["totals"]["optimised"] - old.attrs["totals"]["last_season"]
    assert new.attrs["gain"] == pytest.approx((gain, gain, gain), rel=1e-9)
    assert new.attrs["distinguishable"]
    assert "Across the model's draws the gain over last season's split is $" in B.describe_budget(new)
    # uncertain draws and a reference close to the optimum: the sentence says the gain is not distinguishable
    noisy = B.budget_plan_draws(DRAWS, BOUNDS, 50_000.0, FLAT, last, roas, objective="p10", fixed={"display": 3_000.0})
    t = noisy.set_index("channel")
    assert t.loc["display", "budget"] == 3_000.0 and t.loc["display", "fixed"]
    assert (t["expected_revenue_low"] <= t["expected_revenue"]).all()
    assert (t["expected_revenue"] <= t["expected_revenue_high"]).all()
    flat = B.budget_plan_draws(_sure_and_risky(), {"sure": (0.0, 1000.0), "risky": (0.0, 1000.0)}, 400.0, ONE_DAY,
                               {"sure": 1.1, "risky": 0.9}, {})
    assert not flat.attrs["distinguishable"]
    assert "is not distinguishable from zero" in B.describe_budget(flat)
