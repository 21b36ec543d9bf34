"""Holdout incrementality: per-arm outcomes against pandas, the planted lift, and edge cases."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.data.warehouse import connect
from playbook.experiments import incrementality as I
from playbook.media import attribution as A
from playbook.media import efficiency as E
from playbook.media import paths as MP
from tests.sample_data import read, small_sample, truth

START, END = "2025-11-01", "2025-12-31"


@pytest.fixture(scope="module")
def sample():
    """The example campaign's config and a connection to the 2,000-customer sample."""
    return load_config("campaigns/holiday-2025.yaml"), connect(small_sample())


def _utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _pandas_arms(folder, exp_id):
    a = read(folder, "assignments")
    a = a[a["experiment_id"] == exp_id]
    o = read(folder, "orders")
    o = o[(o["revenue"] >= 0) & (o["order_ts"] >= _utc(START)) & (o["order_ts"] < _utc("2026-01-01"))]
    j = a.merge(o[["customer_id", "order_ts", "revenue"]], on="customer_id", how="left")
    j = j[j["order_ts"].isna() | (j["order_ts"] >= j["assigned_ts"])]
    per = j.groupby(["customer_id", "variant"]).agg(rev=("revenue", "sum"), n=("order_ts", "count")).reset_index()
    per = a[["customer_id", "variant"]].merge(per, on=["customer_id", "variant"], how="left").fillna({"rev": 0, "n": 0})
    return per


def test_arm_outcomes_equal_pandas(sample):
    _, wh = sample
    got = I.arm_outcomes(wh, "xmas25_email_holdout", START, END).set_index("variant")
    per = _pandas_arms(small_sample(), "xmas25_email_holdout")
    ref = per.groupby("variant").agg(n=("rev", "size"), converters=("n", lambda s: int((s > 0).sum())),
                                     revenue=("rev", "sum"))
    assert got["n"].to_dict() == ref["n"].to_dict()
    assert got["converters"].to_dict() == ref["converters"].to_dict()
    assert got["revenue"].to_dict() == pytest.approx(ref["revenue"].to_dict())
    assert I.arm_outcomes(wh, "no_such_experiment", START, END).empty


def test_incrementality_equals_reference_and_covers_planted_lift(sample):
    cfg, wh = sample
    d = MP.build_paths(wh, START, END)
    long = A.attribute(d)
    spend = E.daily_spend(wh, START, END).groupby("channel")["spend"].sum().to_dict()
    inc = I.incrementality(wh, cfg, spend, long)
    assert list(inc.columns) == I.INCREMENTALITY_COLUMNS
    assert list(inc["experiment_id"]) == ["xmas25_email_holdout"]
    r = inc.iloc[0]
    per = _pandas_arms(small_sample(), "xmas25_email_holdout")
    t, h = per[per["variant"] == "treatment"], per[per["variant"] == "control"]
    assert r["holdout_arm"] == "control" and r["exposed_arm"] == "treatment" and r["channel"] == "email"
    assert (r["n_exposed"], r["n_holdout"]) == (len(t), len(h))
    lift = (t["n"] > 0).mean() - (h["n"] > 0).mean()
    assert r["lift_abs"] == pytest.approx(lift)
    se = np.sqrt(t["rev"].var() / len(t) + h["rev"].var() / len(h))
    dm = t["rev"].mean() - h["rev"].mean()
    assert r["incremental_revenue"] == pytest.approx(dm * len(t))
    assert r["incremental_revenue_hi"] == pytest.approx((dm + 1.959964 * se) * len(t), rel=1e-5)
    assert r["iroas"] == pytest.approx(r["incremental_revenue"] / spend["email"])
    true_lift = truth(small_sample())["experiments"]["xmas25_email_holdout"]["true_lift_absolute"]
    assert r["lift_lo"] < true_lift < r["lift_hi"]
    lt = long[(long["model"] == "last_touch") & (long["channel"] == "email")]["revenue"].sum()
    assert r["last_touch_roas"] == pytest.approx(lt / spend["email"])
    assert "**xmas25_email_holdout** (email)" in I.describe_incrementality(inc)


def test_holdout_row_by_hand():
    # exposed: 100 customers, 20 buyers, revenue 2,000 (sum of squares 400,000)
    # holdout: 100 customers, 10 buyers, revenue 1,000 (sum of squares 200,000)
    arms = pd.DataFrame({"variant": ["control", "treatment"], "n": [100, 100], "converters": [10, 20],
                         "revenue": [1000.0, 2000.0], "revenue_sq": [200_000.0, 400_000.0]})
    credit = pd.DataFrame({"model": ["last_touch", "shapley"], "channel": "email", "revenue": [800.0, 400.0]})
    row = I._holdout_row("e", arms, "email", {"email": 500.0}, credit)
    assert row["lift_abs"] == pytest.approx(0.10)
    se = np.sqrt(0.2 * 0.8 / 100 + 0.1 * 0.9 / 100)
    assert row["lift_lo"] == pytest.approx(0.10 - I.Z95 * se)
    assert row["incremental_conversions"] == pytest.approx(10.0)
    assert row["incremental_revenue"] == pytest.approx(1000.0)  # (20 - 10) per customer x 100 exposed
    assert row["iroas"] == pytest.approx(2.0)
    assert (row["last_touch_roas"], row["shapley_roas"]) == pytest.approx((1.6, 0.8))
    assert row["note"] == ""
    no_spend = I._holdout_row("e", arms, "email", {}, credit)
    assert np.isnan(no_spend["iroas"]) and "iROAS undefined" in no_spend["note"]


def test_holdout_arm_rule_and_empty_arm():
    assert I.holdout_arm(["email", "holdout"], {"email": 9, "holdout": 1}) == "holdout"
    assert I.holdout_arm(["treatment", "control"], {}) == "control"
    assert I.holdout_arm(["x", "y"], {"x": 10, "y": 3}) == "y"
    arms = pd.DataFrame({"variant": ["treatment"], "n": [10], "converters": [3], "revenue": [30.0],
                         "revenue_sq": [300.0]})
    row = I._holdout_row("e", arms, "email", {"email": 10.0}, None)
    assert "fewer than two" in row["note"]
    assert "**e**: fewer than two" in I.describe_incrementality(pd.DataFrame([row]))


def test_holdout_experiments_and_channel_are_found_by_name():
    cfg = SimpleNamespace(experiments=[
        SimpleNamespace(id="xmas_email_holdout", name="", variants=["treatment", "control"]),
        SimpleNamespace(id="subject_test", name="Subject lines", variants=["a", "b"]),
        SimpleNamespace(id="ads_test", name="Paid social HOLDOUT", variants=["on", "off"])])
    assert [e.id for e in I.holdout_experiments(cfg)] == ["xmas_email_holdout", "ads_test"]
    assert I._channel_of(cfg.experiments[0], ["paid_search", "email"]) == "email"
    assert I._channel_of(cfg.experiments[2], ["paid_search", "email"]) is None


def test_no_holdout_configured(sample):
    cfg, wh = sample
    no_holdout = cfg.model_copy(update={"experiments": [e for e in cfg.experiments if "holdout" not in e.id]})
    inc = I.incrementality(wh, no_holdout, {})
    assert inc.empty and list(inc.columns) == I.INCREMENTALITY_COLUMNS
    assert "No holdout" in I.describe_incrementality(inc)
