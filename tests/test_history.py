"""Engine-side history aggregates against plain pandas on a generated sample."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from playbook.data.warehouse import connect
from playbook.planning import history
from tests.sample_data import read, small_sample


@pytest.fixture(scope="module")
def sample():
    folder = small_sample()
    return folder, connect(folder)


def _pandas_window(orders: pd.DataFrame, start: str, end: str) -> dict[str, float]:
    s0 = pd.Timestamp(start, tz="UTC")
    s1 = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    w = orders[(orders.order_ts >= s0) & (orders.order_ts < s1)]
    sales = w[w.revenue >= 0]
    return {"revenue": w.revenue.sum(), "orders": len(sales), "buyers": sales.customer_id.nunique(),
            "aov": sales.revenue.sum() / len(sales)}


def test_window_kpis_match_pandas(sample):
    folder, wh = sample
    got = history.window_kpis(wh, "2024-11-01", "2024-12-31").iloc[0]
    exp = _pandas_window(read(folder, "orders"), "2024-11-01", "2024-12-31")
    assert exp["orders"] > 100  # the sample has a real season to compare
    for k, v in exp.items():
        assert got[k] == pytest.approx(v, rel=1e-9), k


def test_window_kpis_by_channel_sum_to_total(sample):
    _, wh = sample
    total = history.window_kpis(wh, "2025-11-01", "2025-12-31").iloc[0]
    by = history.window_kpis(wh, "2025-11-01", "2025-12-31", by="channel")
    assert set(by["channel"]) <= {"web", "app", "store"}
    assert by["revenue"].sum() == pytest.approx(total["revenue"])
    assert by["orders"].sum() == total["orders"]


def test_window_kpis_empty_window_has_zeros_not_nan(sample):
    _, wh = sample
    k = history.window_kpis(wh, "2001-01-01", "2001-01-31").iloc[0]
    assert k["revenue"] == 0 and k["orders"] == 0 and k["buyers"] == 0
    assert np.isnan(k["aov"])


def test_window_vs_last_year_is_weekday_aligned(sample):
    folder, wh = sample
    yoy = history.window_vs_last_year(wh, "2025-11-01", "2025-12-31")
    (s0, _s1), (p0, p1) = yoy.attrs["windows"]["this_year"], yoy.attrs["windows"]["last_year"]
    assert s0.weekday() == p0.weekday() and (s0 - p0).days == 364
    exp = _pandas_window(read(folder, "orders"), str(p0), str(p1))
    rev = yoy.set_index("metric").loc["revenue"]
    assert rev["last_year"] == pytest.approx(exp["revenue"])
    assert rev["change"] == pytest.approx(rev["this_year"] / rev["last_year"] - 1)


def test_weekly_sales_totals_and_season_marks(sample):
    folder, wh = sample
    seasons = [("holiday-2024", dt.date(2024, 11, 1), dt.date(2024, 12, 31))]
    weekly = history.weekly_sales(wh, "2024-01-01", "2024-12-31", seasons=seasons)
    orders = read(folder, "orders")
    in_year = orders[(orders.order_ts >= pd.Timestamp("2024-01-01", tz="UTC"))
                     & (orders.order_ts < pd.Timestamp("2025-01-01", tz="UTC"))]
    assert weekly["revenue"].sum() == pytest.approx(in_year.revenue.sum())
    assert (weekly["week"].dt.day_of_week == 0).all()
    marked = weekly[weekly["season"] == "holiday-2024"]
    assert marked["week"].min() <= pd.Timestamp("2024-11-01") <= marked["week"].min() + pd.Timedelta(days=6)
    assert len(marked) == 10  # weeks overlapping 1 Nov..31 Dec 2024: Mon 28 Oct .. Mon 30 Dec


def test_season_summary_peak_season_beats_autumn(sample):
    """The generator plants a holiday peak: revenue per day in Nov-Dec exceeds September's."""
    _, wh = sample
    summary = history.season_summary(wh, [("sep-2024", "2024-09-01", "2024-09-30"),
                                           ("holiday-2024", "2024-11-01", "2024-12-31")])
    assert summary.loc[1, "growth"] > 0.2
    assert "holiday-2024" in history.describe_seasons(summary)


def test_daily_window_comparison_cumulates(sample):
    _, wh = sample
    daily = history.daily_window_comparison(wh, "2025-11-01", "2025-11-30")
    assert len(daily) == 30 and daily["day_number"].iloc[-1] == 30
    assert daily["cum_this_year"].iloc[-1] == pytest.approx(daily["this_year"].sum())
    k = history.window_kpis(wh, "2024-11-02", "2024-12-01").iloc[0]
    assert daily["cum_last_year"].iloc[-1] == pytest.approx(k["revenue"])


def test_weekly_sales_starts_at_the_data_not_at_the_requested_range(sample):
    folder, wh = sample
    weekly = history.weekly_sales(wh, "2020-01-01", "2023-06-30")
    first_order = read(folder, "orders").order_ts.min().tz_convert(None).normalize()
    assert weekly["week"].iloc[0] <= first_order < weekly["week"].iloc[0] + pd.Timedelta(days=7)
    assert weekly["orders"].iloc[0] > 0


def test_season_breakdown_on_literal_days():
    """Two seasons, two countries: totals, AOV from gross revenue, growth on the season before."""
    d = pd.DataFrame({
        "day": pd.to_datetime(["2023-11-05", "2023-11-06", "2023-11-05", "2024-11-05", "2024-11-05", "2024-10-01"]),
        "country": ["US", "US", "DE", "US", "DE", "US"],
        "revenue": [100.0, 50.0, 40.0, 300.0, 20.0, 999.0],
        "gross_revenue": [110.0, 50.0, 40.0, 330.0, 20.0, 999.0],
        "orders": [2, 1, 1, 3, 0, 9],
    })
    seasons = [("s23", dt.date(2023, 11, 1), dt.date(2023, 12, 31)), ("s24", "2024-11-01", "2024-12-31")]
    t = history.season_breakdown(d, seasons, "country").set_index(["season", "country"])
    assert t.loc[("s23", "US"), "revenue"] == 150.0 and t.loc[("s23", "US"), "orders"] == 3
    assert t.loc[("s23", "US"), "aov"] == pytest.approx(160 / 3)
    assert t.loc[("s24", "US"), "growth"] == pytest.approx(300 / 150 - 1)  # 1 Oct is outside both seasons
    assert t.loc[("s24", "DE"), "growth"] == pytest.approx(20 / 40 - 1)
    assert np.isnan(t.loc[("s24", "DE"), "aov"])  # no orders
    assert t.loc["s23", "growth"].isna().all()  # nothing to compare the first season with
    empty = history.season_breakdown(d.iloc[:0], seasons, "country")
    assert list(empty.columns) == ["season", "country", "revenue", "orders", "aov", "growth"] and empty.empty


def test_new_vs_returning_splits_buyers(sample):
    folder, wh = sample
    o = read(folder, "orders")
    seasons = [("s24", "2024-11-01", "2024-12-31")]
    got = history.new_vs_returning(wh, seasons).iloc[0]
    sales = o[o.revenue >= 0]
    first = sales.groupby("customer_id").order_ts.min()
    s0, s1 = pd.Timestamp("2024-11-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
    new = int(((first >= s0) & (first < s1)).sum())
    buyers = sales[(sales.order_ts >= s0) & (sales.order_ts < s1)].customer_id.nunique()
    assert (got["buyers"], got["new"], got["returning"]) == (buyers, new, buyers - new)
    assert got["new_share"] == pytest.approx(new / buyers)
