"""Retrospective: forecast accuracy, incrementality, spend efficiency and budget, customers, audit."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from playbook.config.campaign import load_config
from playbook.data.warehouse import connect
from playbook.errors import ConfigError
from playbook.media import attribution as A
from playbook.media import efficiency as E
from playbook.steps import retrospective as R
from tests.sample_data import read, small_sample, truth

START, END = "2025-11-01", "2025-12-31"


@pytest.fixture(scope="module")
def cfg():
    return load_config("campaigns/holiday-2025.yaml")


@pytest.fixture(scope="module")
def wh():
    return connect(small_sample())


@pytest.fixture(scope="module")
def attributed(wh):
    d = A.build_paths(wh, START, END)
    return d, A.attribute(d)


def _utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


# --------------------------------------------------------------------------------------------
# Response curves and allocation
# --------------------------------------------------------------------------------------------
def test_fit_response_curve_recovers_planted_curve():
    rng = np.random.default_rng(11)
    x = rng.uniform(20, 400, 60)
    y = 900 * (1 - np.exp(-x / 150)) + rng.normal(0, 15, 60)
    c = E.fit_response_curve("ch", x, y)
    assert c.kind == "saturating"
    assert c.a == pytest.approx(900, rel=0.1)
    assert c.k == pytest.approx(150, rel=0.15)
    assert float(c.marginal(150)) == pytest.approx(900 / 150 * np.exp(-1), rel=0.15)


def test_flat_or_scarce_data_fall_back_to_anchored_curve_and_no_spend_to_zero():
    rng = np.random.default_rng(2)
    x = rng.uniform(50, 150, 40)
    flat = E.fit_response_curve("ch", x, 500 + rng.normal(0, 30, 40))  # no response to spend
    assert flat.kind == "anchored"
    assert float(flat(flat.mean_spend)) == pytest.approx(flat.a * (1 - np.exp(-1)))
    assert float(flat(x.mean())) == pytest.approx(500, rel=0.05)  # passes through the average point
    few = E.fit_response_curve("ch", x[:5], x[:5] * 3)
    assert few.kind == "anchored" and few.days == 5
    none = E.fit_response_curve("ch", np.zeros(10), np.zeros(10))
    assert none.kind == "none" and float(none(100)) == 0.0


def _curves() -> dict[str, E.ResponseCurve]:
    return {"a": E.ResponseCurve("a", "saturating", a=1000, k=100, mean_spend=100),
            "b": E.ResponseCurve("b", "saturating", a=400, k=30, mean_spend=30),
            "c": E.ResponseCurve("c", "linear", slope=1.5, mean_spend=50)}


def test_greedy_allocation_matches_scipy_optimizer():
    curves, days, total = _curves(), 30, 9000.0
    bounds = {"a": (1000.0, 6000.0), "b": (500.0, 4000.0), "c": (0.0, 2000.0)}
    got = E.allocate_budget(curves, bounds, total, days)
    assert sum(got.values()) == pytest.approx(total)
    assert all(bounds[c][0] - 1e-6 <= v <= bounds[c][1] + 1e-6 for c, v in got.items())
    names = list(bounds)

    def neg(x):
        return -E.expected_revenue(curves, dict(zip(names, x, strict=True)), days)

    res = minimize(neg, x0=[3000, 3000, 3000], bounds=[bounds[c] for c in names], method="SLSQP",
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}])
    assert res.success
    assert E.expected_revenue(curves, got, days) == pytest.approx(-res.fun, rel=1e-4)
    for c, v in zip(names, res.x, strict=True):
        assert got[c] == pytest.approx(v, abs=total / 500)


def test_allocation_rejects_total_outside_bounds():
    with pytest.raises(ConfigError, match="budget.total"):
        E.allocate_budget(_curves(), {"a": (100.0, 200.0), "b": (100.0, 200.0)}, 1000.0, 30)


def test_clip_split_keeps_bounds_and_total():
    out = E.clip_split({"a": 0.9, "b": 0.1, "c": 0.0}, 1000.0, {"a": (0, 500), "b": (100, 600), "c": (50, 300)})
    assert sum(out.values()) == pytest.approx(1000.0)
    assert out["a"] == pytest.approx(500) and out["c"] >= 50
    assert out["b"] <= 600


def test_recommendation_never_expected_to_lose_against_repeating():
    days = 61
    spend = pd.DataFrame({"day": pd.Timestamp("2025-11-01"), "channel": ["a", "b", "c"], "spend": [9000.0, 100.0, 900.0]})
    bounds = {"a": (1000.0, 6000.0), "b": (500.0, 4000.0), "c": (0.0, 2000.0), "d": (0.0, 1000.0)}
    rec = E.recommend_budget(_curves(), spend, bounds, 9000.0, days)
    assert rec.attrs["gain"] >= -1e-6
    assert rec["recommended"].sum() == pytest.approx(9000.0)
    assert rec["repeat_split"].sum() == pytest.approx(9000.0)
    assert rec.attrs["missing_curves"] == ["d"]
    assert not rec.isna().any().any()
    assert "expected to add" in E.describe_budget(rec)


def test_channel_efficiency_by_hand_and_undefined_ratios():
    spend = pd.DataFrame({"day": pd.Timestamp("2025-11-01"), "channel": ["x", "y", "x"], "spend": [60.0, 50.0, 40.0]})
    credit = pd.DataFrame({"model": "shapley", "channel": ["x"], "conversions": [4.0], "revenue": [500.0],
                           "new_customers": [2.0]})
    eff = E.channel_efficiency(spend, credit, ["x", "y", "z"]).set_index("channel")
    assert eff.loc["x", ["spend", "roas", "cpa", "cac"]].tolist() == pytest.approx([100, 5, 25, 50])
    assert eff.loc["y", "roas"] == 0 and np.isnan(eff.loc["y", "cpa"])  # spend, no conversions: undefined
    assert np.isnan(eff.loc["z", "roas"]) and eff.loc["z", "spend"] == 0
    assert not eff[["spend", "conversions", "revenue", "new_customers"]].isna().any().any()


def test_daily_spend_equals_pandas(wh):
    got = E.daily_spend(wh, START, END)
    s = read(small_sample(), "spend")
    s["date"] = pd.to_datetime(s["date"])
    s = s[(s["date"] >= START) & (s["date"] <= END)]
    ref = s.groupby("channel")["spend"].sum()
    assert got.groupby("channel")["spend"].sum().to_dict() == pytest.approx(ref.to_dict())


def test_truth_check_orders_channels(attributed, wh):
    d, long = attributed
    spend = E.daily_spend(wh, START, END)
    eff = E.channel_efficiency(spend, long)
    curves = E.curve_table(E.fit_response_curves(E.daily_response_data(spend, d.daily_credit, long)))
    check = E.truth_check(eff, curves, small_sample())
    assert set(check["measure"]) == {"attributed ROAS", "marginal ROAS (curve)"}
    assert check["spearman_with_true_iroas"].between(-1, 1).all()
    assert E.truth_check(eff, curves, "/nonexistent-folder").empty


# --------------------------------------------------------------------------------------------
# Incrementality
# --------------------------------------------------------------------------------------------
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


def test_incrementality_equals_reference_and_covers_planted_lift(cfg, wh, attributed):
    _, long = attributed
    spend = E.daily_spend(wh, START, END).groupby("channel")["spend"].sum().to_dict()
    inc = R.incrementality(wh, cfg, spend, long)
    assert list(inc["experiment_id"]) == ["xmas25_email_holdout"]
    r = inc.iloc[0]
    per = _pandas_arms(small_sample(), "xmas25_email_holdout")
    t, h = per[per["variant"] == "treatment"], per[per["variant"] == "control"]
    assert r["holdout_arm"] == "control" and r["channel"] == "email"
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
    assert "email" in R.describe_incrementality(inc)


def test_holdout_arm_rule_and_empty_arm():
    assert R.holdout_arm(["email", "holdout"], {"email": 9, "holdout": 1}) == "holdout"
    assert R.holdout_arm(["treatment", "control"], {}) == "control"
    assert R.holdout_arm(["x", "y"], {"x": 10, "y": 3}) == "y"
    arms = pd.DataFrame({"variant": ["treatment"], "n": [10], "converters": [3], "revenue": [30.0],
                         "revenue_sq": [300.0]})
    row = R._holdout_row("e", arms, "email", {"email": 10.0}, None)
    assert "fewer than two" in row["note"]


def test_no_holdout_configured(cfg, wh):
    no_holdout = cfg.model_copy(update={"experiments": [e for e in cfg.experiments if "holdout" not in e.id]})
    inc = R.incrementality(wh, no_holdout, {})
    assert inc.empty and "No holdout" in R.describe_incrementality(inc)


# --------------------------------------------------------------------------------------------
# Actual vs forecast and target
# --------------------------------------------------------------------------------------------
def test_seasonal_naive_fallback_is_same_weekday_last_year(cfg, wh, tmp_path):
    fc, source = R.load_forecast(tmp_path, cfg)
    assert fc is None and "seasonal-naive" in source
    avf = R.actual_vs_forecast(wh, cfg, tmp_path)
    assert avf.attrs["source"] == "seasonal naive"
    o = read(small_sample(), "orders")
    o["day"] = o["order_ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    daily = o.groupby("day")["revenue"].sum()
    day = pd.Timestamp("2025-11-28")
    row = avf[avf["day"] == day].iloc[0]
    assert row["actual"] == pytest.approx(daily.get(day, 0.0))
    assert row["forecast"] == pytest.approx(daily.get(day - pd.Timedelta(days=364), 0.0))
    assert row["target"] == pytest.approx(row["forecast"] * 1.08)
    assert avf["cum_actual"].iloc[-1] == pytest.approx(avf["actual"].sum())


def test_plan_forecast_artifact_is_used_and_scored(cfg, wh, tmp_path):
    from playbook.artifacts import write_artifact

    act = R.actual_daily(wh, START, END, cfg.countries)
    fc = pd.DataFrame({"day": act["day"], "metric": "revenue", "dimension": "total", "value": "all",
                       "mean": act["actual"] * 0.8, "lo80": act["actual"] * 0.7, "hi80": act["actual"] * 0.9,
                       "lo95": act["actual"] * 0.5, "hi95": act["actual"] * 1.5, "model": "test"})
    write_artifact(fc, tmp_path, "forecast")
    loaded, source = R.load_forecast(tmp_path, cfg)
    assert loaded is not None and "plan step" in source
    avf = R.actual_vs_forecast(wh, cfg, tmp_path)
    acc = R.accuracy_table(avf, {"all": 100.0}).iloc[0]
    pos = act["actual"] > 0
    assert acc["mape"] == pytest.approx(0.2)  # |a - 0.8a| / a on every day with sales
    assert acc["mase"] == pytest.approx((act["actual"] * 0.2).abs().mean() / 100.0)
    assert acc["coverage80"] == pytest.approx(float((~pos).mean()))  # only zero days sit inside [0.7a, 0.9a]
    assert acc["coverage95"] == pytest.approx(1.0)
    assert acc["gap_to_target"] == pytest.approx(act["actual"].sum() * (1 - 0.8 * 1.08))
    by_channel = R.actual_vs_forecast(wh, cfg, tmp_path, dimension="channel")
    assert set(by_channel["value"]) <= {"web", "app", "store"}
    day_sum = by_channel.groupby("day")["forecast"].sum()
    assert day_sum.to_numpy() == pytest.approx(avf.set_index("day")["forecast"].to_numpy())
    with pytest.raises(ValueError, match="Unknown dimension"):
        R.actual_vs_forecast(wh, cfg, tmp_path, dimension="weekday")


def test_gap_waterfall_and_description(cfg, wh, tmp_path):
    tables = {}
    for dim in ("channel", "country"):
        avf = R.actual_vs_forecast(wh, cfg, tmp_path, dimension=dim)
        tables[dim] = R.accuracy_table(avf, R.mase_scales(wh, cfg, dim))
    gaps = R.gap_waterfall_data(tables)
    for dim, t in tables.items():
        g = gaps[gaps["dimension"] == dim]
        assert g["gap"].sum() == pytest.approx(t["actual"].sum() - t["target"].sum())
    R.plot_gap_waterfall(gaps)
    total = R.accuracy_table(R.actual_vs_forecast(wh, cfg, tmp_path), {"all": 1.0})
    assert "target" in R.describe_vs_target(total, gaps, "src")


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------
def test_new_vs_returning_equals_pandas(wh):
    got = R.new_vs_returning(wh, START, END, repeat_days=30).set_index("group")
    o = read(small_sample(), "orders")
    o = o[(o["revenue"] >= 0) & o["customer_id"].notna()]
    first = o.groupby("customer_id")["order_ts"].min()
    w = o[(o["order_ts"] >= _utc(START)) & (o["order_ts"] < _utc("2026-01-01"))]
    fw = w.groupby("customer_id")["order_ts"].min()
    new = fw.index[first[fw.index] >= _utc(START)]
    j = o.merge(fw.rename("fw"), left_on="customer_id", right_index=True)
    rep = j[(j["order_ts"] > j["fw"]) & (j["order_ts"] <= j["fw"] + pd.Timedelta(days=30))]["customer_id"].unique()
    assert got.loc["new", "customers"] == len(new)
    assert got.loc["returning", "customers"] == len(fw) - len(new)
    assert got.loc["new", "repeaters"] == len(set(rep) & set(new))
    assert got.loc["new", "revenue"] + got.loc["returning", "revenue"] == pytest.approx(w["revenue"].sum())


def test_lifecycle_movement_equals_pandas(wh):
    move = R.lifecycle_movement(wh, START, END)
    c = read(small_sample(), "customers")
    c = c[c["erased_at"].isna() & (c["signup_ts"] < _utc("2026-01-01"))]
    o = read(small_sample(), "orders")
    o = o[(o["revenue"] >= 0) & o["customer_id"].notna()]

    def state(t):
        b = o[o["order_ts"] < t].groupby("customer_id")["order_ts"].agg(["min", "max"])
        b = b.reindex(c["customer_id"])
        dl = (t - b["max"]).dt.total_seconds() / 86400
        df = (t - b["min"]).dt.total_seconds() / 86400
        return np.select([b["max"].isna(), df <= 90, dl <= 90, dl <= 365],
                         ["prospect", "new", "active", "lapsing"], "lapsed")

    before = np.where(c["signup_ts"].to_numpy() < _utc(START), state(_utc(START)), "not yet signed up")
    after = state(_utc("2026-01-01"))
    ref = pd.crosstab(pd.Series(before, name="b"), pd.Series(after, name="a"))
    for b in ref.index:
        for a in ref.columns:
            assert move.loc[b, a] == ref.loc[b, a], (b, a)
    assert move.to_numpy().sum() == len(c)
    assert "prospects" in R.describe_movement(move)


# --------------------------------------------------------------------------------------------
# Tracking audit
# --------------------------------------------------------------------------------------------
def test_channel_mismatch_both_directions():
    mm = R.channel_mismatch(["email", "organic", "tiktok", "paid_search"], ["email", "affiliate", "paid_search"],
                            ["email", "affiliate", "paid_search", "display"]).set_index("channel")
    assert "spend but no touches" in mm.loc["affiliate", "issue"]
    assert mm.loc["organic", "issue"] == ""  # unpaid traffic has no spend by nature
    assert "budgeted in the config" in mm.loc["display", "issue"]
    assert mm.loc["email", "issue"] == ""
    assert "tiktok" in mm.index and mm.loc["tiktok", "in_touches"] and not mm.loc["tiktok", "in_spend"]


def test_spend_gaps_flags_missing_zero_and_drop():
    days = pd.date_range("2025-11-01", "2025-11-20")
    s = pd.DataFrame({"day": days, "channel": "x", "spend": 100.0})
    s.loc[s["day"] == "2025-11-10", "spend"] = 0.0
    s.loc[s["day"] == "2025-11-15", "spend"] = 5.0
    s = s[s["day"] != "2025-11-05"]
    gaps = R.spend_gaps(s, "2025-11-01", "2025-11-20").set_index("day")["issue"]
    assert gaps.to_dict() == {pd.Timestamp("2025-11-05"): "no spend row", pd.Timestamp("2025-11-10"): "zero spend",
                              pd.Timestamp("2025-11-15"): "sudden drop"}
    assert R.spend_gaps(s.iloc[0:0], "2025-11-01", "2025-11-20").empty


def test_utm_audit_and_summary(wh, attributed, cfg):
    d, long = attributed
    utm = R.utm_audit(wh, START, END, list(cfg.channels)).set_index("channel")
    t = read(small_sample(), "touches")
    t = t[(t["touch_ts"] >= _utc(START)) & (t["touch_ts"] < _utc("2026-01-01"))]
    miss = t[t["utm_source"].isna()].groupby("channel").size()
    assert utm["without_utm"].to_dict() == {c: int(miss.get(c, 0)) for c in utm.index}
    assert utm.loc["direct", "share_without_utm"] == 1.0 and not utm.loc["direct", "paid"]
    mm = R.channel_mismatch(list(utm.index), ["email"], list(cfg.channels))
    audit = R.audit_summary(d.no_touch, utm.reset_index(), mm, pd.DataFrame(columns=["day", "channel", "issue"]))
    assert not audit.isna().any().any()
    table, note = R.platform_vs_internal(wh, START, END, long)
    assert table.empty and "no platform-reported" in note


def test_platform_reported_conversions_compared(tmp_path, attributed):
    from tests.test_attribution import _write_tiny

    folder = _write_tiny(tmp_path / "d")
    spend = pd.DataFrame({"date": [dt.date(2025, 11, 3)] * 2, "channel": ["email", "paid_search"],
                          "campaign_id": ["e", "p"], "spend": [10.0, 20.0], "impressions": [1, 1], "clicks": [1, 1],
                          "platform_conversions": [3.0, 1.0]})
    spend.to_parquet(folder / "spend.parquet")
    w = connect(folder)
    d = A.build_paths(w, START, END)
    long = A.attribute(d)
    table, note = R.platform_vs_internal(w, START, END, long)
    got = table.set_index("channel")
    assert got.loc["email", "platform_reported"] == 3.0
    lt = long[long["model"] == "last_touch"].set_index("channel")["conversions"]
    assert got.loc["email", "ratio"] == pytest.approx(3.0 / lt["email"])
    assert "platform_conversions" in note


# --------------------------------------------------------------------------------------------
# Bad input: a season without conversions; lessons and archive
# --------------------------------------------------------------------------------------------
def test_season_without_conversions_gives_defined_results(cfg, wh, tmp_path):
    empty_cfg = cfg.model_copy(update={"season": cfg.season.model_copy(update={
        "start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31), "planning_cutoff": dt.date(2026, 2, 15)})})
    s0, s1 = empty_cfg.season.start, empty_cfg.season.end
    d = A.build_paths(wh, s0, s1)
    long = A.attribute(d)
    spend = E.daily_spend(wh, s0, s1)
    eff = E.channel_efficiency(spend, long, list(cfg.channels))
    curves = E.fit_response_curves(E.daily_response_data(spend, d.daily_credit, long))
    bounds = {c: (b.min_budget, b.max_budget) for c, b in cfg.channels.items()}
    rec = E.recommend_budget(curves, spend, bounds, cfg.budget.total, E.season_days(s0, s1))
    inc = R.incrementality(wh, empty_cfg, {}, long)
    nvr = R.new_vs_returning(wh, s0, s1)
    avf = R.actual_vs_forecast(wh, empty_cfg, tmp_path)
    acc = R.accuracy_table(avf, R.mase_scales(wh, empty_cfg))
    assert d.stats["orders"] == 0 and long.empty and nvr["customers"].sum() == 0
    assert avf["actual"].sum() == 0 and not avf[["actual", "forecast", "target"]].isna().any().any()
    assert rec["recommended"].sum() == pytest.approx(cfg.budget.total) and not rec.isna().any().any()
    assert not nvr.isna().any().any()
    assert not eff[["spend", "conversions", "revenue"]].isna().any().any()
    assert not inc.empty  # the holdout exists; no outcomes in the window
    assert "Nobody bought" in R.describe_customers(nvr)
    lessons = R.highlights(acc, eff, inc, nvr, pd.DataFrame(columns=["dimension", "gap"]), rec)
    summary = R.campaign_summary(empty_cfg, acc, long, inc, eff, rec, nvr, pd.DataFrame(), lessons, d.notes, "x")
    json.dumps(summary, allow_nan=True)
    R.plot_actual_vs_forecast(avf)
    E.plot_response_curves(pd.DataFrame(columns=["day", "channel", "spend", "revenue"]), {})
    A.plot_attribution(long)


def test_artifacts_and_archive_roundtrip(cfg, wh, attributed, tmp_path):
    d, long = attributed
    spend = E.daily_spend(wh, START, END)
    eff = E.channel_efficiency(spend, long, list(cfg.channels))
    curves = E.fit_response_curves(E.daily_response_data(spend, d.daily_credit, long))
    bounds = {c: (b.min_budget, b.max_budget) for c, b in cfg.channels.items()}
    rec = E.recommend_budget(curves, spend, bounds, cfg.budget.total, E.season_days(START, END))
    inc = R.incrementality(wh, cfg, spend.groupby("channel")["spend"].sum().to_dict(), long)
    nvr = R.new_vs_returning(wh, START, END)
    acc = R.accuracy_table(R.actual_vs_forecast(wh, cfg, tmp_path), {"all": 1.0})
    lessons = R.highlights(acc, eff, inc, nvr, pd.DataFrame(columns=["dimension", "gap"]), rec)
    assert any("Best channel" in s for s in lessons) and any("Holdout" in s for s in lessons)
    summary = R.campaign_summary(cfg, acc, long, inc, eff, rec, nvr, pd.DataFrame(), lessons, [], "seasonal naive")
    out = tmp_path / "reports" / cfg.slug
    written = R.write_artifacts(out, long, inc, rec, summary)
    assert set(written.index) == {"attribution.parquet", "incrementality.parquet", "next_budget.parquet",
                                  "summary.json"}
    back = pd.read_parquet(out / "artifacts" / "attribution.parquet")
    assert len(back) == len(long) and not back.isna().any().any()
    found = R.find_retrospectives(tmp_path / "reports")
    assert [s["campaign"]["slug"] for s in found] == [cfg.slug]
    assert found[0]["next_budget_expected_gain"] == pytest.approx(rec.attrs["gain"])
    assert found[0]["forecast_from_plan"] is False  # a seasonal-naive stand-in: its bias is not handed on
    assert found[0]["artifacts_dir"] == str(out / "artifacts")
    assert R.campaign_summary(cfg, acc, long, inc, eff, rec, nvr, pd.DataFrame(), lessons, [],
                              R.PLAN_FORECAST_SOURCE)["forecast_from_plan"] is True
    assert R.find_retrospectives(tmp_path / "reports", exclude=cfg.slug) == []


def test_lessons_include_test_verdicts_and_lifecycle(tmp_path, wh):
    from playbook.artifacts import write_artifact

    assert R.read_test_decisions(tmp_path).empty
    write_artifact({"xmas25_aa": {"verdict": "no difference", "reason": "p = 0.6"}}, tmp_path, "experiment_decisions")
    dec = R.read_test_decisions(tmp_path)
    assert dec.to_dict("records") == [{"experiment_id": "xmas25_aa", "decision": "no difference (p = 0.6)"}]
    move = R.lifecycle_movement(wh, START, END)
    empty = pd.DataFrame()
    lessons = R.highlights(empty, empty, pd.DataFrame(columns=["iroas"]), empty, empty, empty, dec, movement=move)
    assert lessons[0].startswith("During the season") and lessons[1] == "Test xmas25_aa: no difference (p = 0.6)."
    assert R.lessons_markdown([]).startswith("No lessons")


def test_gap_lessons_skip_a_breakdown_with_one_value():
    gaps = pd.DataFrame({"dimension": ["country", "category", "category"], "value": ["IN", "toys", "books"],
                         "gap": [100.0, -20.0, 50.0]})
    empty = pd.DataFrame()
    lessons = R.highlights(empty, empty, pd.DataFrame(columns=["iroas"]), empty, gaps, empty)
    assert lessons == ["By category: weakest against target toys (-$20.00), strongest books ($50.00)."]
