"""One cutoff definition (issue 18 item 7): every step counts data up to and including the planning
cutoff day (``ts < cutoff + 1 day``, UTC).

Reference: a pandas count of the sale orders with ``order_ts < 2025-10-16 00:00 UTC`` on a small
literal data set with orders on the cutoff day itself (10:00 and 23:59:59) and right after it
(00:00:00 the next day). Before the fix the CLV step (and propensity, the customer base, the
holdout) stopped at the start of the cutoff day while the segment step included it.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from playbook.customers import features
from playbook.data.cutoff import (
    CUTOFF_RULE,
    cutoff_instant,
    last_day_before,
    planning_as_of,
    planning_cutoff_day,
)
from playbook.steps import personalize, segment
from playbook.steps.context import start_step
from playbook.value import clv, propensity

CONFIG = "campaigns/holiday-2025.yaml"  # season 2025-11-01 .. 2025-12-31, planning_cutoff 2025-10-15
AS_OF = pd.Timestamp("2025-10-16", tz="UTC")


def _source(folder) -> pd.DataFrame:
    """30 customers; sale orders before, on (10:00, 23:59:59) and after the cutoff day, refunds on it."""
    folder.mkdir(parents=True)
    ids = [f"C{i:02d}" for i in range(30)]
    signup = [pd.Timestamp("2025-10-15 08:00" if i == 29 else "2024-06-01", tz="UTC") for i in range(30)]
    c = pd.DataFrame({"customer_id": ids, "signup_ts": signup, "country": "DE",
                      "erased_at": pd.Series([pd.NaT] * 30, dtype="datetime64[us, UTC]")})
    rows = []
    for i, cid in enumerate(ids):
        rows.append((cid, "2025-03-01 12:00", 40.0 + i))
        rows.append((cid, "2025-09-01 12:00", 20.0))
        if i % 2 == 0:
            rows.append((cid, "2025-10-15 10:00", 30.0))
        if i % 3 == 0:
            rows.append((cid, "2025-10-15 23:59:59", 15.0))
        if i % 5 == 0:
            rows.append((cid, "2025-10-16 00:00:00", 99.0))  # after the cutoff day
            rows.append((cid, "2025-10-15 18:00", -5.0))      # a refund on the cutoff day
    o = pd.DataFrame(rows, columns=["customer_id", "order_ts", "revenue"])
    o["order_id"] = [f"O{i}" for i in range(len(o))]
    o["order_ts"] = pd.to_datetime(o["order_ts"], format="ISO8601").dt.tz_localize("UTC")
    c.astype({"customer_id": "string", "country": "string"}).to_parquet(folder / "customers.parquet")
    o.astype({"order_id": "string", "customer_id": "string"}).to_parquet(folder / "orders.parquet")
    return o


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cutoff")
    orders = _source(tmp / "data")
    seg = start_step("02_segment", CONFIG, str(tmp / "data"), str(tmp / "seg"), 1)
    pers = start_step("03_personalize", CONFIG, str(tmp / "data"), str(tmp / "pers"), 1)
    sales = orders[(orders["revenue"] >= 0) & (orders["order_ts"] < AS_OF)]
    return SimpleNamespace(seg=seg, pers=pers, ref=sales.groupby("customer_id").size().sort_index())


def test_the_rule():
    assert cutoff_instant("2025-10-15") == AS_OF
    assert cutoff_instant(pd.Timestamp("2025-10-15 23:00", tz="Europe/Berlin")) == AS_OF  # 21:00 UTC
    assert last_day_before(AS_OF) == pd.Timestamp("2025-10-15")
    cfg = SimpleNamespace(season=SimpleNamespace(start=dt.date(2025, 11, 1), planning_cutoff=None))
    assert planning_cutoff_day(cfg) == dt.date(2025, 10, 31)
    assert planning_as_of(cfg) == pd.Timestamp("2025-11-01", tz="UTC")
    assert "up to and including the planning cutoff day" in CUTOFF_RULE


def test_every_step_uses_the_same_instant(steps):
    cfg = steps.pers.cfg
    assert segment.as_of(steps.seg.cfg) == personalize.planning_cutoff(steps.pers) == AS_OF
    assert propensity.seasons_from_config(cfg)[1].as_of == AS_OF
    assert features.as_of_instant(cfg.season.planning_cutoff) == AS_OF


def test_segment_and_clv_count_the_same_orders_at_the_cutoff(steps):
    # 68 orders differed on a real data set, 171 on the bundled sample: the cutoff day itself.
    feats = segment.build_features(steps.seg, segment.resolve(steps.seg))
    seg_orders = feats["orders_total"].astype(int).sort_index()
    res = clv.fit_clv(steps.pers.wh, personalize.planning_cutoff(steps.pers), horizon_days=365)
    clv_orders = res.table.set_index("customer_id")["orders"].astype(int).sort_index()
    assert int(steps.ref.sum()) == 30 * 2 + 15 + 10  # before, 10:00 and 23:59:59 on the cutoff day
    pd.testing.assert_series_equal(seg_orders, steps.ref, check_names=False, check_index_type=False)
    pd.testing.assert_series_equal(clv_orders, steps.ref, check_names=False, check_index_type=False)
    # T runs to the end of the cutoff day: first purchase 2025-03-01 -> 228 days
    assert set(res.table["T"]) == {228.0}


def test_propensity_features_and_customer_base_include_the_cutoff_day(steps):
    current = propensity.seasons_from_config(steps.pers.cfg)[1]
    f = propensity.features_as_of(steps.pers.wh, current.as_of, current.start, current.end)
    freq = f.set_index("customer_id")["frequency"].astype(int).sort_index()
    pd.testing.assert_series_equal(freq, steps.ref, check_names=False, check_index_type=False)
    base = personalize.customer_base(steps.pers).set_index("country")
    assert base.loc["All", "customers"] == 30  # C29 signed up on the cutoff day


def test_clv_holdout_ends_at_the_end_of_the_cutoff_day(steps):
    val = clv.campaign_holdout(steps.pers.wh, steps.pers.cfg, holdout_days=180)
    assert val["calibration_end"] == str((AS_OF - pd.Timedelta(days=180)).date()) == "2025-04-19"
