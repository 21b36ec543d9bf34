"""Issue 18 item 5: the retrospective's gap decomposition by category and its chart.

Refunds have no category; the plan splits its net total over the categories only, so before the
fix the refunds line had a target of 0 and carried the whole refund volume as a "miss". The
references are (1) pandas sums over the raw sample tables (refund rate, totals to the cent) and
(2) a hand-built shop whose only miss is a category shortfall, with every expected value worked
out by hand in the comments.
"""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.data.warehouse import connect
from playbook.planning import accuracy as FA
from playbook.report.format import fmt_pct
from playbook.steps import retrospective as R
from tests.conftest import make_clean_tables, write_parquet_tables
from tests.sample_data import read, small_sample

START, END = "2025-11-01", "2025-12-31"
REFUNDS = FA.UNASSIGNED_CATEGORY


@pytest.fixture(scope="module")
def cfg():
    return load_config("campaigns/holiday-2025.yaml")


@pytest.fixture(scope="module")
def wh():
    return connect(small_sample())


def _plan_forecast(total: pd.DataFrame, shares: dict[str, float]) -> pd.DataFrame:
    """Plan-step layout: a net total per day and its top-down split over the categories (shares sum to 1)."""
    base = {"metric": "revenue", "lo80": np.nan, "hi80": np.nan, "lo95": np.nan, "hi95": np.nan, "model": "test"}
    rows = [total.assign(dimension="total", value="all", **base)]
    rows += [total.assign(dimension="category", value=c, mean=total["mean"] * sh, **base) for c, sh in shares.items()]
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------------------------
# The small sample
# --------------------------------------------------------------------------------------------
def test_refund_rate_is_the_pandas_ratio_of_the_year_up_to_the_cutoff(cfg, wh):
    o = read(small_sample(), "orders").merge(read(small_sample(), "customers")[["customer_id", "country"]],
                                             on="customer_id", how="left")
    cut = pd.Timestamp(cfg.season.planning_cutoff, tz="UTC")
    o = o[(o["order_ts"] >= cut - pd.Timedelta(days=364)) & (o["order_ts"] < cut + pd.Timedelta(days=1))
          & o["country"].isin(cfg.countries)]
    ref = -o.loc[o["revenue"] < 0, "revenue"].sum() / o.loc[o["revenue"] >= 0, "revenue"].sum()
    assert ref > 0.005  # the sample has refunds, so the test can tell 0 from the rate
    assert FA.refund_rate(wh, cfg) == pytest.approx(ref, rel=1e-12)


def test_sample_decomposition_adds_up_to_the_cent_and_refunds_have_an_expected_level(cfg, wh):
    act = FA.actual_daily(wh, START, END, cfg.countries)
    total = act[["day"]].assign(mean=act["actual"].to_numpy() * 0.9)
    shares = {"beauty": 0.1, "books": 0.1, "electronics": 0.3, "fashion": 0.15, "grocery": 0.05, "home": 0.1,
              "sports": 0.1, "toys": 0.1}
    fc = _plan_forecast(total, shares)
    tot = FA.accuracy_by(wh, cfg, fc).iloc[0]
    by_cat = FA.accuracy_by(wh, cfg, fc, "category").set_index("value")
    # parts add up to the whole, to the cent, for actual, target and gap
    assert round(by_cat["actual"].sum(), 2) == round(tot["actual"], 2)
    assert round(by_cat["target"].sum(), 2) == round(tot["target"], 2)
    assert round(by_cat["gap_to_target"].sum(), 2) == round(tot["gap_to_target"], 2)
    # refunds are expected at r x gross target, gross target = net target / (1 - r)
    r = FA.refund_rate(wh, cfg)
    gross_target = tot["target"] / (1 - r)
    assert by_cat.loc[REFUNDS, "target"] == pytest.approx(-r * gross_target, rel=1e-9)
    assert by_cat.loc[REFUNDS, "target"] < -1000  # it was 0: the whole refund volume counted as a miss
    assert by_cat.loc["electronics", "target"] == pytest.approx(0.3 * gross_target, rel=1e-9)
    assert by_cat.attrs["refund_rate"] == pytest.approx(r)


# --------------------------------------------------------------------------------------------
# A planted shop: the only miss is a category shortfall
# --------------------------------------------------------------------------------------------
def _planted_source(folder) -> object:
    """Every day from 1 Oct 2024 to 31 Dec 2025 a US customer buys shoes for 100, bags for 50 and hats
    for 50, and one refund of -10 is booked: refunds are 5 % of gross sales, in history and season.
    In the season shoes sell 80 a day instead of 100; nothing else changes."""
    t = make_clean_tables()
    days = pd.date_range("2024-10-01", "2025-12-31", freq="D", tz="UTC")
    orders, items = [], []
    for i, d in enumerate(days):
        shoes = 80.0 if d >= pd.Timestamp(START, tz="UTC") else 100.0
        for j, (prod, price) in enumerate((("P1", shoes), ("P3", 50.0), ("P5", 50.0))):
            oid = f"O{i:04d}{j}"
            orders.append((oid, d + pd.Timedelta(hours=10 + j), price))
            items.append((oid, prod, 1, price))
        orders.append((f"R{i:04d}", d + pd.Timedelta(hours=20), -10.0))
    t["orders"] = pd.DataFrame({"order_id": [o[0] for o in orders], "customer_id": "C01",
                                "order_ts": pd.Series([o[1] for o in orders]).astype("datetime64[ns, UTC]"),
                                "channel": "web", "revenue": [o[2] for o in orders], "discount": 0.0,
                                "promo_code": None})
    t["order_items"] = pd.DataFrame(items, columns=["order_id", "product_id", "quantity", "unit_price"])
    return write_parquet_tables(t, folder)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    wh = connect(_planted_source(tmp_path_factory.mktemp("gap") / "shop"))
    cfg = SimpleNamespace(season=SimpleNamespace(start=START, end=END, planning_cutoff="2025-10-15"),
                          countries=["US"], targets=SimpleNamespace(revenue_uplift_pct=0.0), currency="USD")
    days = FA.day_range(START, END)
    # the plan: last year's net 190 a day, split like the plan step over the categories' gross sales
    fc = _plan_forecast(pd.DataFrame({"day": days, "mean": 190.0}), {"shoes": 0.5, "bags": 0.25, "hats": 0.25})
    return wh, cfg, fc, len(days)


def test_planted_category_shortfall_is_not_carried_by_refunds(planted):
    wh, cfg, fc, n = planted
    assert FA.refund_rate(wh, cfg) == pytest.approx(0.05)  # 10 / 200
    tot = FA.accuracy_by(wh, cfg, fc).iloc[0]
    assert tot["gap_to_target"] == pytest.approx(-20.0 * n)  # net 170 a day against 190
    by_cat = FA.accuracy_by(wh, cfg, fc, "category").set_index("value")
    # gross targets 100 / 50 / 50 a day (190 / 0.95 split 2:1:1); expected refunds 5 % of 200 = 10 = actual
    assert by_cat["target"].to_dict() == pytest.approx({"bags": 50.0 * n, "hats": 50.0 * n, "shoes": 100.0 * n,
                                                        REFUNDS: -10.0 * n})
    gaps = by_cat["gap_to_target"].to_dict()
    assert gaps == pytest.approx({"bags": 0.0, "hats": 0.0, "shoes": -20.0 * n, REFUNDS: 0.0}, abs=0.005)
    assert round(sum(gaps.values()), 2) == round(tot["gap_to_target"], 2)
    # the sentence naming the drivers names shoes, not refunds, and says how refunds were set
    g = FA.gap_waterfall_data({"category": by_cat.reset_index()})
    text = FA.describe_vs_target(FA.accuracy_by(wh, cfg, fc), g, "src", refund_rate=by_cat.attrs["refund_rate"])
    assert "No breakdown value beat its target; the largest shortfall came from category **shoes** (-$1,220)." \
        in text  # before: "Every breakdown value missed", with bags and hats exactly on target
    assert "refunds to the expected 5.0% of gross sales" in text and text.endswith(" src")


# --------------------------------------------------------------------------------------------
# The chart
# --------------------------------------------------------------------------------------------
def test_step_money_formatter_tells_close_ticks_apart():
    f = FA.StepMoneyFormatter("USD")
    assert f.format_ticks([1.80e6, 1.82e6, 1.84e6]) == ["$1.80M", "$1.82M", "$1.84M"]
    assert f.format_ticks([1.8e6, 1.805e6]) == ["$1.800M", "$1.805M"]
    assert f.format_ticks([0.0, 500e3, 1e6]) == ["$0.0M", "$0.5M", "$1.0M"]
    assert f.format_ticks([950e3, 975e3]) == ["$950k", "$975k"]
    assert f.format_ticks([-20.0, 0.0, 20.0]) == ["-$20", "$0", "$20"]


def test_waterfall_ticks_are_distinct_and_zero_gaps_stay_visible():
    # a -$66,666 miss on a $1.83M target: the axis spans 1.75M..1.85M, which "$1.8M" labels read as one
    gaps = pd.DataFrame({"dimension": "category", "value": ["toys", "books", "home", REFUNDS],
                         "target": [800e3, 500e3, 600e3, -70e3], "actual": [733_334.0, 500e3, 600e3, -70e3]})
    gaps["gap"] = gaps["actual"] - gaps["target"]
    fig = FA.plot_gap_waterfall(gaps)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    bars = ax.patches
    assert len(bars) == 6 and min(b.get_height() for b in bars) > 0  # target, 4 gaps (3 of them zero), actual
    lo, hi = ax.get_ylim()
    for b in bars[2:5]:  # the zero gaps: a thin bar inside the axis, labelled $0
        assert b.get_height() >= 0.005 * (hi - lo) and lo <= b.get_y() <= hi
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["-$66.7k", "$0", "$0", "$0"]
    plt.close(fig)


def test_gap_sentence_treats_zero_gaps_as_on_target():
    gaps = pd.DataFrame({"dimension": "category", "value": ["a", "b", "c"], "target": 0.0, "actual": 0.0,
                         "gap": [-10.0, 0.0, 0.004]})
    assert FA._gap_extremes(gaps, "USD") == ("No breakdown value beat its target; the largest shortfall came "
                                             "from category **a** (-$10.00).")
    assert FA._gap_extremes(gaps.assign(gap=[10.0, 0.0, 0.0]), "USD").startswith("No breakdown value missed")
    assert FA._gap_extremes(gaps.assign(gap=0.0), "USD") == "Every breakdown value met its target."


def test_step_accuracy_with_the_plan_forecast_names_how_refunds_were_set(cfg, wh):
    act = FA.actual_daily(wh, START, END, cfg.countries)
    fc = _plan_forecast(act[["day"]].assign(mean=act["actual"].to_numpy() * 1.1), {"electronics": 0.5, "home": 0.5})
    acc = R.accuracy(SimpleNamespace(wh=wh, cfg=cfg), R.Forecast(fc, R.PLAN_FORECAST_SOURCE))
    cat = acc.gaps[acc.gaps["dimension"] == "category"].set_index("value")
    assert cat.loc[REFUNDS, "target"] == pytest.approx(-FA.refund_rate(wh, cfg) * acc.total.iloc[0]["target"]
                                                       / (1 - FA.refund_rate(wh, cfg)), rel=1e-9)
    assert round(cat["gap"].sum(), 2) == round(acc.total.iloc[0]["gap_to_target"], 2)
    text = R.describe_vs_target(acc)
    assert f"refunds to the expected {fmt_pct(FA.refund_rate(wh, cfg))} of gross sales" in text


def test_without_breakdowns_the_gap_chart_says_why_not_that_there_is_no_target() -> None:
    """Orders-only data: a target exists (the forecast) but no channel, category or country to split
    the gap by; the chart said 'No target to compare with' while the index showed the gap."""
    from playbook.steps import retrospective as R

    acc = SimpleNamespace(gaps=FA.gap_waterfall_data({}),
                          skipped={"gap_by_category": "the data has no order_items table and products table",
                                   "gap_by_country": "the data has no customers.country"})
    fig = R.plot_gap_waterfall(acc)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "No target to compare with" not in text
    assert "No breakdown of the gap to target" in text and "by country: the data has no customers.country" in text
    fig = R.plot_gap_waterfall(SimpleNamespace(gaps=FA.gap_waterfall_data({}), skipped={"forecast_accuracy": "x"}))
    assert "No target to compare with" in " ".join(t.get_text() for t in fig.axes[0].texts)
