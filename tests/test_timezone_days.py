"""Days in the campaign's time zone (issue 16 items 5 and 8: "day boundaries in a non-UTC zone").

A tiny data set of orders placed at 23:30 and 00:30 *local* time in America/Los_Angeles (including
both daylight-saving changes of 2025: 9 March, 23 hours; 2 November, 25 hours) and in
Asia/Kolkata (UTC+05:30, no DST). The references are written independently of the code: the local
calendar day of an order is the date part of its wall-clock string, and its UTC day comes from
pandas' ``tz_localize(zone).tz_convert("UTC")``. Revenues are powers of two, so every daily total
names exactly the orders it holds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import ibis
import pandas as pd
import pytest

from playbook.data import aggregates as A  # noqa: N812
from playbook.data import engines
from playbook.data import warehouse as W  # noqa: N812
from playbook.data.cutoff import cutoff_instant, last_day_before, planning_as_of
from playbook.errors import DataError
from playbook.experiments.data import Window, daily_user_orders
from playbook.media import paths
from playbook.planning import history as H  # noqa: N812
from playbook.planning import promo
from playbook.steps.context import order_days, start_step
from playbook.value import clv_summary

LA, IST = "America/Los_Angeles", "Asia/Kolkata"
#: Microsecond timestamps: Spark cannot read nanosecond Parquet timestamps.
US_UTC = "datetime64[us, UTC]"

#: Wall-clock times of the orders (local time of the zone under test), each with its revenue.
WALL = ["2025-11-28 23:30", "2025-11-29 00:30",   # an ordinary evening and the next night
        "2025-03-08 23:30", "2025-03-09 00:30",   # the night before the spring-forward day (LA)
        "2025-03-09 23:30", "2025-03-10 00:30",   # the end of that 23-hour day
        "2025-11-01 23:30", "2025-11-02 00:30",   # the night before the fall-back day (LA)
        "2025-11-02 23:30", "2025-11-03 00:30"]   # the end of that 25-hour day (a Sunday)
REVENUE = [float(2**i) for i in range(len(WALL))]


def _orders(zone: str) -> pd.DataFrame:
    """The orders with their UTC instants (``order_ts``) and reference local and UTC days."""
    wall = pd.to_datetime(pd.Series(WALL))
    ts = wall.dt.tz_localize(zone).dt.tz_convert("UTC")
    return pd.DataFrame({"order_id": [f"O{i}" for i in range(len(WALL))], "customer_id": "C1",
                         "order_ts": ts.astype(US_UTC), "revenue": REVENUE,
                         "local_day": wall.dt.normalize(), "utc_day": ts.dt.tz_localize(None).dt.normalize()})


def _write(folder: Path, zone: str) -> pd.DataFrame:
    """Customers, orders, view events, touches and assignments at the wall times, as Parquet."""
    folder.mkdir(parents=True)
    o = _orders(zone)
    pd.DataFrame({"customer_id": ["C1"], "country": ["US"]}).to_parquet(folder / "customers.parquet")
    o[["order_id", "customer_id", "order_ts", "revenue"]].to_parquet(folder / "orders.parquet")
    pd.DataFrame({"event_id": o["order_id"], "customer_id": "C1", "session_id": o["order_id"],
                  "event_ts": o["order_ts"], "event_type": "view", "product_id": "P1"}
                 ).to_parquet(folder / "events.parquet")
    pd.DataFrame({"touch_id": o["order_id"], "customer_id": "C1",
                  "touch_ts": (o["order_ts"] - pd.Timedelta(minutes=10)).astype(US_UTC), "channel": "email",
                  "campaign_id": "X", "utm_source": "x", "utm_medium": "x", "utm_campaign": "x"}
                 ).to_parquet(folder / "touches.parquet")
    pd.DataFrame({"experiment_id": ["E1"], "customer_id": ["C1"], "variant": ["treatment"],
                  "assigned_ts": pd.Series([pd.Timestamp("2025-01-01", tz="UTC")]).astype(US_UTC)}
                 ).to_parquet(folder / "assignments.parquet")
    return o


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, tuple[Path, pd.DataFrame]]:
    tmp = tmp_path_factory.mktemp("tzdays")
    return {zone: (tmp / zone.replace("/", "_"), _write(tmp / zone.replace("/", "_"), zone)) for zone in (LA, IST)}


def _wh(data, zone: str, day_zone: str) -> W.Warehouse:
    wh = W.connect(data[zone][0])
    wh.day_zone = day_zone
    return wh


def _by_day(orders: pd.DataFrame, col: str) -> pd.Series:
    return orders.groupby(col)["revenue"].sum().rename_axis("day")


def _daily(wh: W.Warehouse, **kw) -> pd.Series:
    d = A.daily_sales(wh, fill_missing_days=False, **kw)
    return d.set_index("day")["revenue"]


# ------------------------------------------------------------------------------------- daily sales


@pytest.mark.parametrize("zone", [LA, IST])
def test_daily_sales_count_local_days(data, zone):
    orders = data[zone][1]
    got = _daily(_wh(data, zone, zone))
    pd.testing.assert_series_equal(got, _by_day(orders, "local_day"), check_names=False, check_index_type=False)
    # 23:30 and 00:30 local are always two days; the 8 local days hold 10 orders
    assert got[pd.Timestamp("2025-11-28")] == 1.0 and got[pd.Timestamp("2025-11-29")] == 2.0
    assert len(got) == 8


@pytest.mark.parametrize("zone", [LA, IST])
def test_utc_campaign_keeps_utc_days(data, zone):
    orders = data[zone][1]
    wh = W.connect(data[zone][0])
    assert wh.day_zone == "UTC"  # the default: the former behaviour
    got = _daily(wh)
    pd.testing.assert_series_equal(got, _by_day(orders, "utc_day"), check_names=False, check_index_type=False)
    if zone == LA:  # 23:30 and 00:30 PST are 07:30 and 08:30 UTC of the next day: one UTC day
        assert got[pd.Timestamp("2025-11-29")] == 1.0 + 2.0
    else:  # 23:30 and 00:30 IST are 18:00 and 19:00 UTC of the first day
        assert got[pd.Timestamp("2025-11-28")] == 1.0 + 2.0


@pytest.mark.parametrize(("day", "expected", "hours"), [
    ("2025-03-09", 8.0 + 16.0, 23),     # spring forward: 00:30 PST and 23:30 PDT, a 23-hour day
    ("2025-11-02", 128.0 + 256.0, 25),  # fall back: 00:30 PDT and 23:30 PST, a 25-hour day
    ("2025-11-28", 1.0, 24),
])
def test_a_window_runs_from_local_midnight_to_local_midnight(data, day, expected, hours):
    wh = _wh(data, LA, LA)
    d = A.daily_sales(wh, start=day, end=day)
    assert d["day"].tolist() == [pd.Timestamp(day)]
    assert d["revenue"].tolist() == [expected]
    next_day = pd.Timestamp(day) + pd.Timedelta(days=1)
    assert (wh.day_start(next_day) - wh.day_start(day)) == pd.Timedelta(hours=hours)


def test_window_of_several_days_fills_local_days(data):
    wh = _wh(data, IST, IST)
    d = A.daily_sales(wh, start="2025-11-27", end="2025-11-30")
    assert d["day"].tolist() == list(pd.date_range("2025-11-27", "2025-11-30"))
    assert d["revenue"].tolist() == [0.0, 1.0, 2.0, 0.0]


def test_local_hour_and_weekday_in_the_engine(data):
    wh = _wh(data, LA, LA)
    o = wh.table("orders")
    got = o.select("order_id", h=wh.local_hour(o.order_ts), wd=wh.local_weekday(o.order_ts),
                   d=wh.local_day(o.order_ts)).execute().sort_values("order_id", key=lambda s: s.str[1:].astype(int))
    wall = pd.to_datetime(pd.Series(WALL))
    assert got["h"].tolist() == wall.dt.hour.tolist() == [23, 0] * 5
    assert got["wd"].tolist() == wall.dt.weekday.tolist()
    assert [pd.Timestamp(x) for x in got["d"]] == wall.dt.normalize().tolist()


def test_utc_zone_compiles_to_the_former_sql(data):
    wh = W.connect(data[LA][0])
    o = wh.table("orders")
    assert ibis.to_sql(o.select(d=wh.local_day(o.order_ts))) == ibis.to_sql(o.select(d=o.order_ts.date()))
    wh.day_zone = LA
    assert "TIMEZONE('America/Los_Angeles'" in ibis.to_sql(o.select(d=wh.local_day(o.order_ts)))


def test_an_engine_without_zone_conversion_says_so(data):
    ts = W.connect(data[LA][0]).table("orders").order_ts
    assert engines.local_time(SimpleNamespace(name="sqlite"), "UTC", ts) is ts  # UTC needs no conversion
    with pytest.raises(DataError, match="set timezone: UTC"):
        engines.local_time(SimpleNamespace(name="sqlite"), LA, ts)


# ---------------------------------------------------------------------------------- day arithmetic


def test_cutoff_is_local_midnight():
    assert cutoff_instant("2025-11-28", LA) == pd.Timestamp("2025-11-29 08:00", tz="UTC")
    assert cutoff_instant("2025-11-28", IST) == pd.Timestamp("2025-11-28 18:30", tz="UTC")
    assert cutoff_instant("2025-03-08", LA) == pd.Timestamp("2025-03-09 08:00", tz="UTC")  # PST
    assert cutoff_instant("2025-03-09", LA) == pd.Timestamp("2025-03-10 07:00", tz="UTC")  # PDT
    assert cutoff_instant("2025-11-28") == pd.Timestamp("2025-11-29", tz="UTC")  # default UTC unchanged
    for day in ("2025-03-08", "2025-03-09", "2025-11-01", "2025-11-02"):
        assert last_day_before(cutoff_instant(day, LA), LA) == pd.Timestamp(day)
    season = SimpleNamespace(start=dt.date(2025, 12, 1), planning_cutoff=dt.date(2025, 11, 28))
    assert planning_as_of(SimpleNamespace(season=season, timezone=LA)) == pd.Timestamp("2025-11-29 08:00", tz="UTC")
    assert planning_as_of(SimpleNamespace(season=season)) == pd.Timestamp("2025-11-29", tz="UTC")


def test_calendar_day_and_instants():
    late = pd.Timestamp("2025-11-29 07:30", tz="UTC")  # 23:30 PST on the 28th
    assert W.calendar_day(late, LA) == pd.Timestamp("2025-11-28")
    assert W.calendar_day(late) == W.to_day(late) == pd.Timestamp("2025-11-29")
    assert W.calendar_day(dt.date(2025, 11, 28), LA) == pd.Timestamp("2025-11-28")  # a date keeps its day
    assert W.local_instant("2025-11-28", LA) == pd.Timestamp("2025-11-28 08:00", tz="UTC")
    assert W.local_instant("2025-11-28") == W.to_utc("2025-11-28")
    assert W.local_instant(late, LA) == late


# ------------------------------------------------------------------------ plan history and others


def test_plan_history_shifts_orders_to_local_days(data):
    la, utc = _wh(data, LA, LA), W.connect(data[LA][0])
    # window KPIs: the evening order of 28 Nov belongs to 28 Nov in LA, to 29 Nov in UTC
    assert H.window_kpis(la, "2025-11-28", "2025-11-28").iloc[0]["revenue"] == 1.0
    assert H.window_kpis(utc, "2025-11-28", "2025-11-28").iloc[0]["revenue"] == 0.0
    # weekly history: 23:30 PST on Sunday 2 Nov stays in the week of Monday 27 Oct in LA only
    wk = H.weekly_sales(la, "2025-10-27", "2025-11-09").set_index("week")["revenue"]
    assert wk[pd.Timestamp("2025-10-27")] == 64.0 + 128.0 + 256.0 and wk[pd.Timestamp("2025-11-03")] == 512.0
    wk_utc = H.weekly_sales(utc, "2025-10-27", "2025-11-09").set_index("week")["revenue"]
    assert wk_utc[pd.Timestamp("2025-10-27")] == 64.0 + 128.0 and wk_utc[pd.Timestamp("2025-11-03")] == 256.0 + 512.0
    # the first sale (23:30 PST on 8 March) and the new customer are on 8 March in LA, 9 March in UTC
    assert H.first_sale_day(la) == dt.date(2025, 3, 8) and H.first_sale_day(utc) == dt.date(2025, 3, 9)
    new = H.daily_new_customers(la, "2025-03-08", "2025-03-09")["new_customers"].tolist()
    assert new == [1, 0]
    assert H.daily_new_customers(utc, "2025-03-08", "2025-03-09")["new_customers"].tolist() == [0, 1]
    cmp = H.daily_window_comparison(la, "2025-11-28", "2025-11-29", shift_days=0)
    assert cmp["this_year"].tolist() == [1.0, 2.0]


def test_purchase_days_are_local_days(data):
    la, utc = _wh(data, LA, LA), W.connect(data[LA][0])
    as_of = pd.Timestamp("2025-12-01", tz="UTC")
    assert clv_summary.purchase_summary(la, as_of).iloc[0]["purchase_days"] == 8
    assert clv_summary.purchase_summary(utc, as_of).iloc[0]["purchase_days"] == 5
    # bare dates are local midnight: 28 Nov (LA) holds only the 23:30 order
    n = clv_summary.purchase_days_between(la, "2025-11-28", "2025-11-29")["n"].tolist()
    assert n == [1]
    # T runs to the last observed local day: 30 Nov in LA for an as-of of 1 Dec 00:00 UTC
    t = clv_summary.purchase_summary(la, as_of).iloc[0]["T"]
    assert t == (pd.Timestamp("2025-11-30") - pd.Timestamp("2025-03-08")).days


def test_weekday_browsing_uses_local_weekdays(data):
    wall = pd.to_datetime(pd.Series(WALL))
    want = wall.dt.weekday.value_counts().reindex(range(7), fill_value=0).tolist()
    got = promo.weekday_browsing(_wh(data, IST, IST), "2025-01-01", "2025-12-31")["views"].tolist()
    assert got == want
    utc = pd.to_datetime(pd.Series(WALL)).dt.tz_localize(IST).dt.tz_convert("UTC").dt.weekday
    got_utc = promo.weekday_browsing(W.connect(data[IST][0]), "2025-01-01", "2025-12-31")["views"].tolist()
    assert got_utc == utc.value_counts().reindex(range(7), fill_value=0).tolist() != want


def test_attribution_daily_credit_on_local_days(data):
    pd_ = paths.build_paths(_wh(data, LA, LA), "2025-11-28", "2025-11-29")
    dc = pd_.daily_credit.set_index("day")["revenue"]
    assert dc.to_dict() == {pd.Timestamp("2025-11-28"): 1.0, pd.Timestamp("2025-11-29"): 2.0}
    assert pd_.stats["orders"] == 2


def test_experiment_days_counted_from_the_local_window_start(data):
    wh = _wh(data, LA, LA)
    window = Window.from_dates(dt.date(2025, 11, 28), dt.date(2025, 11, 29), zone=LA)
    assert window.start == pd.Timestamp("2025-11-28 08:00", tz="UTC") and window.days == 2
    d = daily_user_orders(wh, "E1", window).sort_values("day")
    assert d["day"].tolist() == [0, 1] and d["revenue"].tolist() == [1.0, 2.0]


def test_start_step_gives_the_warehouse_the_campaign_zone(data, tmp_path):
    cfg = tmp_path / "la.yaml"
    cfg.write_text("slug: la-test\nname: LA test\ncountries: [US]\ncurrency: USD\n"
                   f"timezone: {LA}\nseason:\n  start: 2025-11-28\n  end: 2025-11-30\n"
                   "  planning_cutoff: 2025-11-27\n")
    ctx = start_step("01_plan", str(cfg), str(data[LA][0]), str(tmp_path / "out"), 1)
    assert ctx.wh.day_zone == LA
    assert order_days(ctx.wh) == (dt.date(2025, 3, 8), dt.date(2025, 11, 29))  # UTC: 9 March first
    assert planning_as_of(ctx.cfg) == pd.Timestamp("2025-11-28 08:00", tz="UTC")
    d = A.daily_sales(ctx.wh, start=ctx.cfg.season.start, end=ctx.cfg.season.end)
    assert d["revenue"].tolist() == [1.0, 2.0, 0.0]


# ------------------------------------------------------------------------------------------ Spark


def _spark_or_skip() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (`pip install 'pyspark>=4,<5'`): Spark local days not checked")
    try:
        engines.check_java()
    except DataError as exc:
        pytest.skip(f"no Java runtime for Spark: {exc}")


def test_spark_counts_the_same_local_days(data):
    _spark_or_skip()
    folder, orders = data[LA]
    spark = W.connect(f"spark://{folder}?master=local[1]&spark.ui.enabled=false&spark.sql.shuffle.partitions=2")
    try:
        spark.day_zone = LA
        got = _daily(spark)
        pd.testing.assert_series_equal(got, _by_day(orders, "local_day"), check_names=False, check_index_type=False)
        dst = A.daily_sales(spark, start="2025-03-09", end="2025-03-09")
        assert dst["revenue"].tolist() == [8.0 + 16.0]
        o = spark.table("orders")
        hours = o.select(h=spark.local_hour(o.order_ts)).execute()["h"].tolist()
        assert sorted(hours) == [0] * 5 + [23] * 5
        spark.day_zone = "UTC"
        pd.testing.assert_series_equal(_daily(spark), _by_day(orders, "utc_day"), check_names=False,
                                       check_index_type=False)
    finally:
        spark.con.disconnect()
