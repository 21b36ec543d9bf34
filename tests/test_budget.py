"""Tests for playbook.media.budget (the plan's budget): pacing and the plan table (the allocator itself is
tested in tests/test_media_allocation.py and tests/test_allocation_draws.py; curve recovery and allocation
quality against planted curves in tests/test_mmm_recovery.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playbook.media import budget as B
from playbook.media import response as MR
from playbook.media.response import ResponseCurve

CURVES = {
    "search": ResponseCurve("search", ceiling=90.0 * 20.0, scale=300.0),
    "social": ResponseCurve("social", ceiling=90.0 * 8.0, scale=200.0),
    "display": ResponseCurve("display", ceiling=90.0 * 2.0, scale=90.0),
}
BOUNDS = {"search": (10_000.0, 40_000.0), "social": (5_000.0, 30_000.0), "display": (2_000.0, 20_000.0)}
DAYS = 61
FLAT = np.full(DAYS, 1 / DAYS)


def test_pacing_follows_demand_within_caps_and_never_exhausts_early():
    demand = np.r_[np.full(20, 100.0), np.full(5, 900.0), np.full(36, 120.0)]
    w = B.pacing_profile(demand, cap=2.0, floor=0.4)
    n = len(demand)
    assert w.sum() == pytest.approx(1.0)
    assert w.max() <= 2.0 / n + 1e-12 and w.min() >= 0.4 / n - 1e-12
    assert np.argmax(w) in range(20, 25)
    plan = B.pacing_plan({"search": 30_000.0}, pd.date_range("2025-11-01", periods=n), w, CURVES)
    assert plan["spend"].sum() == pytest.approx(30_000.0)
    assert (plan["cumulative_share"].iloc[:-1] < 1.0).all()
    # expected revenue per day is the curve at that day's spend
    assert plan["expected_revenue"].to_numpy() == pytest.approx(CURVES["search"].response(30_000.0 * w))


def test_budget_plan_table_by_hand():
    fit = MR.CurveFit(dict(CURVES), [], 0.0, 90.0, 0.0)
    bounds = BOUNDS | {"affiliate": (3_000.0, 9_000.0)}  # no curve: held at its minimum
    plan = B.budget_plan(fit, bounds, 50_000.0, FLAT, {"search": 2.0, "social": 1.0, "display": 1.0},
                         {"search": 3.0, "social": 1.0, "display": 1.0, "affiliate": float("nan")})
    t = plan.set_index("channel")
    assert t["budget"].sum() == pytest.approx(50_000.0)
    assert t.loc["affiliate", "budget"] == 3_000.0 and not t.loc["affiliate", "fitted"]
    assert t.loc["search", "expected_revenue"] == pytest.approx(CURVES["search"].season_response(t.loc["search", "budget"], FLAT))
    assert t.loc["search", "roas"] == pytest.approx(t.loc["search", "expected_revenue"] / t.loc["search", "budget"])
    # last season's split 2:1:1:0 of 50k: affiliate at its 3k minimum, the rest 47k shared 2:1:1
    assert t["last_season"].to_dict() == pytest.approx({"search": 23_500.0, "social": 11_750.0, "display": 11_750.0,
                                                        "affiliate": 3_000.0})
    assert plan.attrs["totals"]["optimised"] >= plan.attrs["totals"]["last_season"]
    assert "stay at their minimum" in B.describe_budget(plan)
