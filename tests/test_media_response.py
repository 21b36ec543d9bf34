"""Tests for playbook.media.response: the one response-curve class (values by hand, adstock,
invalid parameters). The curves come from the media model, tested against planted curves in
tests/test_mmm_recovery.py."""

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
