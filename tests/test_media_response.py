"""Tests for playbook.media.response: the one response-curve class (values by hand, adstock,
invalid parameters) and the retrospective's fit on attributed revenue with its anchored fallback
(the plan's fit on daily orders is tested against planted curves in tests/test_budget.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from playbook.media import response as MR
from playbook.media.response import ResponseCurve


def test_curve_values_by_hand():
    c = ResponseCurve("a", ceiling=1000.0, scale=100.0)
    assert float(c.response(0.0)) == 0.0
    assert float(c.response(100.0)) == pytest.approx(1000.0 * (1 - math.exp(-1)))  # 632.12
    assert float(c.marginal(0.0)) == pytest.approx(10.0)
    assert float(c.marginal(100.0)) == pytest.approx(10.0 * math.exp(-1))
    assert c.response([0.0, 100.0, 1e9]).tolist() == pytest.approx([0.0, 632.1205588, 1000.0])
    lin = ResponseCurve("b", slope=1.5, kind="linear")
    assert float(lin.response(200.0)) == pytest.approx(300.0) and float(lin.marginal(5.0)) == 1.5
    none = ResponseCurve("z", kind="none")
    assert not none.responds and float(none.response(100.0)) == 0.0 and float(none.marginal(0.0)) == 0.0
    # season revenue: budget times daily shares, curve summed over the days
    assert c.season_response(300.0, [0.5, 0.5]) == pytest.approx(2 * 1000.0 * (1 - math.exp(-1.5)))


def test_adstock_steady_state_and_series():
    assert np.allclose(MR.adstock(np.array([1.0, 0.0, 0.0]), 0.5), [1.0, 0.5, 0.25])
    assert np.allclose(MR.adstock(np.array([[1.0, 2.0], [0.0, 0.0]]), 0.5), [[1.0, 2.0], [0.5, 1.0]])
    c = ResponseCurve("a", ceiling=1000.0, scale=100.0, theta=0.5)
    assert c.scale_eff == 50.0
    # a steady spend of 50 per day carries over to 100 of adstocked spend: 63 % of the ceiling
    assert float(c.response(50.0)) == pytest.approx(1000.0 * (1 - math.exp(-1)))
    series = c.response_over_time(np.full(60, 50.0))
    assert series[0] == pytest.approx(1000.0 * (1 - math.exp(-0.5)))  # first day: no carry-over yet
    assert series[-1] == pytest.approx(float(c.response(50.0)), rel=1e-9)
    assert np.allclose(ResponseCurve("b", ceiling=10.0, scale=2.0).response_over_time([1.0, 3.0]),
                       10.0 * (1 - np.exp(-np.array([1.0, 3.0]) / 2.0)))


@pytest.mark.parametrize("kw, message", [
    ({"scale": 0.0}, "scale must be positive"),
    ({"theta": 1.0}, "theta must lie in"),
    ({"kind": "hill"}, "Unknown curve kind"),
])
def test_invalid_curves_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        ResponseCurve("a", ceiling=1.0, **kw)


# ------------------------------------------------------------------------------------------
# the retrospective's fit


def test_fit_revenue_curve_recovers_planted_curve():
    rng = np.random.default_rng(11)
    x = rng.uniform(20, 400, 60)
    y = 900 * (1 - np.exp(-x / 150)) + rng.normal(0, 15, 60)
    c = MR.fit_revenue_curve("ch", x, y)
    assert c.kind == "saturating" and c.days == 60 and c.theta == 0.0
    assert c.ceiling == pytest.approx(900, rel=0.1)
    assert c.scale == pytest.approx(150, rel=0.15)
    assert float(c.marginal(150)) == pytest.approx(900 / 150 * np.exp(-1), rel=0.15)


def test_flat_or_scarce_data_fall_back_to_anchored_curve_and_no_spend_to_zero():
    rng = np.random.default_rng(2)
    x = rng.uniform(50, 150, 40)
    flat = MR.fit_revenue_curve("ch", x, 500 + rng.normal(0, 30, 40))  # no response to spend
    assert flat.kind == "anchored"
    assert float(flat.response(flat.mean_spend)) == pytest.approx(flat.ceiling * (1 - np.exp(-1)))
    assert float(flat.response(x.mean())) == pytest.approx(500, rel=0.05)  # passes through the average point
    few = MR.fit_revenue_curve("ch", x[:5], x[:5] * 3)
    assert few.kind == "anchored" and few.days == 5
    none = MR.fit_revenue_curve("ch", np.zeros(10), np.zeros(10))
    assert none.kind == "none" and float(none.response(100)) == 0.0


def test_anchored_curve_by_hand():
    c = MR.anchored_curve("ch", mean_spend=200.0, mean_revenue=600.0, days=30)
    assert c.kind == "anchored" and c.scale == 200.0 and c.days == 30
    assert c.ceiling == pytest.approx(600.0 / (1 - math.exp(-1)))  # 949.2
    assert float(c.marginal(200.0)) == pytest.approx(0.58198 * 600.0 / 200.0, rel=1e-4)  # 0.58 x average ROAS
    assert MR.anchored_curve("ch", 0.0, 600.0).kind == "none"
