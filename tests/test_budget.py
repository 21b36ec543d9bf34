"""Tests for playbook.media.budget (the plan's budget): pacing, the plan table, and curve recovery /
allocation quality on generated data with planted curves (the allocator itself is tested in
tests/test_media_allocation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playbook.data.aggregates import daily_sales
from playbook.data.warehouse import connect
from playbook.forecasting import forecast as F
from playbook.media import allocation as AL
from playbook.media import budget as B
from playbook.media import efficiency as E
from playbook.media import response as MR
from playbook.media.response import ResponseCurve
from tests.sample_data import truth
from tests.test_forecast import COUNTRIES, CUTOFF, large_sample

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


# ------------------------------------------------------------------------------------------
# planted curves


def _fit_on_sample():
    folder = large_sample()
    wh = connect(folder)
    d = daily_sales(wh, "2023-01-01", CUTOFF, by=("country",))
    y = d.groupby("day")["orders"].sum()
    tot = d[["gross_revenue", "orders"]].sum()
    spend = E.daily_spend(wh, "2023-01-01", CUTOFF)
    chans = list(truth(folder)["channels"])
    fit = MR.fit_order_curves(y, spend, chans, COUNTRIES, F.country_weights(d, "orders", COUNTRIES),
                              aov=float(tot["gross_revenue"] / tot["orders"]))
    return folder, fit, spend


#: The optimised split, evaluated on the planted curves, earns within 2 % of the planted optimum.
OPTIMUM_GAP = 0.02


def test_allocation_from_fitted_curves_is_near_the_true_optimum():
    folder, fit, spend = _fit_on_sample()
    tr = truth(folder)["channels"]
    true = {c: ResponseCurve(c, ceiling=v["aov"] * v["beta"], scale=v["kappa"]) for c, v in tr.items()}
    bounds = {"paid_search": (60_000.0, 160_000.0), "paid_social": (40_000.0, 120_000.0),
              "display": (20_000.0, 80_000.0), "affiliate": (10_000.0, 50_000.0), "email": (5_000.0, 30_000.0)}
    profile = B.pacing_profile(np.ones(61))
    for total in (250_000.0, 400_000.0):
        opt_true = AL.expected_revenue(true, AL.optimise_budget(true, bounds, total, profile), profile)
        got = AL.expected_revenue(true, AL.optimise_budget(fit.curves, bounds, total, profile), profile)
        roas = fit.table(spend).set_index("channel")["roas"].to_dict()
        prop = AL.expected_revenue(true, AL.proportional_split(roas, bounds, total), profile)
        assert got >= (1 - OPTIMUM_GAP) * opt_true
        assert got >= prop


def test_fitted_curves_recover_the_strongest_channel():
    folder, fit, spend = _fit_on_sample()
    tr = truth(folder)["channels"]
    tab = fit.table(spend).set_index("channel")
    assert fit.theta == 0.0  # no carry-over was planted
    # paid search carries most incremental orders: its incremental orders per unit of spend within
    # 25 % of the planted value (orders, because revenue uses the history's average order value,
    # which differs from the planted value of media-driven orders)
    got = tab.loc["paid_search", "roas"] / fit.aov
    planted = tr["paid_search"]["true_iroas"] / tr["paid_search"]["aov"]
    assert got == pytest.approx(planted, rel=0.25)
    # ranking: the best and worst channels by planted iROAS keep their order
    assert tab.loc["email", "roas"] > tab.loc["display", "roas"]
    # one curve class for both steps: revenue per day, ceiling = aov x planted-scale orders
    c = fit.curves["paid_search"]
    assert c.kind == "saturating" and c.days > 0 and c.mean_spend > 0
    assert float(c.response(0.0)) == 0.0
