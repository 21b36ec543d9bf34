"""Retrospective analytics: spend efficiency and budget (playbook.media.efficiency), forecast accuracy
(playbook.planning.accuracy), customers (playbook.customers.lifecycle) and the tracking audit
(playbook.media.tracking). Holdouts: tests/test_experiment_incrementality.py; the step module:
tests/test_steps_retrospective.py."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from playbook.config.loader import load_config
from playbook.customers import lifecycle as LC
from playbook.data.warehouse import connect
from playbook.errors import ConfigError
from playbook.media import attribution as A
from playbook.media import efficiency as E
from playbook.media import paths as MP
from playbook.media import tracking as TR
from playbook.media.response import ResponseCurve
from playbook.planning import accuracy as FA
from tests.sample_data import read, small_sample

START, END = "2025-11-01", "2025-12-31"


@pytest.fixture(scope="module")
def cfg():
    return load_config("campaigns/holiday-2025.yaml")


@pytest.fixture(scope="module")
def wh():
    return connect(small_sample())


@pytest.fixture(scope="module")
def attributed(wh):
    d = MP.build_paths(wh, START, END)
    return d, A.attribute(d)


def _utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


# --------------------------------------------------------------------------------------------
# Response curves and allocation
# --------------------------------------------------------------------------------------------
# (the curve fit and the allocator are tested in tests/test_media_response.py and
# tests/test_media_allocation.py)
def _curves() -> dict[str, ResponseCurve]:
    return {"a": ResponseCurve("a", ceiling=1000, scale=100, mean_spend=100),
            "b": ResponseCurve("b", ceiling=400, scale=30, mean_spend=30),
            "c": ResponseCurve("c", slope=1.5, kind="linear", mean_spend=50)}


def _model(curves: dict[str, ResponseCurve], k: int = 3) -> SimpleNamespace:
    """A media model stand-in whose draws all equal ``curves`` (what recommend_budget reads)."""
    return SimpleNamespace(draws=[dict(curves) for _ in range(k)], channels=list(curves))


def _spread_model() -> SimpleNamespace:
    """Draws of a and b whose ceilings vary (x0.5 to x1.5): intervals that are not points."""
    draws = [{"a": ResponseCurve("a", ceiling=1000 * f, scale=100, mean_spend=100),
              "b": ResponseCurve("b", ceiling=400 * (2 - f), scale=30, mean_spend=30)} for f in np.linspace(0.5, 1.5, 21)]
    return SimpleNamespace(draws=draws, channels=["a", "b"])


def test_recommendation_on_draws_carries_intervals_and_a_gain_that_may_not_be_distinguishable():
    spend = pd.DataFrame({"day": pd.Timestamp("2025-11-01"), "channel": ["a", "b"], "spend": [3000.0, 3000.0]})
    rec = E.recommend_budget(_spread_model(), spend, {"a": (0.0, 6000.0), "b": (0.0, 6000.0)}, 6000.0, 30)
    for name, lo, hi in (("expected_revenue_recommended", "expected_revenue_recommended_low",
                          "expected_revenue_recommended_high"),
                         ("marginal_roas_recommended", "marginal_roas_recommended_lo", "marginal_roas_recommended_hi")):
        assert (rec[lo] <= rec[name] + 1e-9).all() and (rec[name] <= rec[hi] + 1e-9).all()
        assert (rec[hi] - rec[lo] > 1e-6).all()  # the draws differ: a real interval
    lo, hi = rec.attrs["gain_interval"]
    assert lo <= rec.attrs["gain"] <= hi
    assert rec.attrs["distinguishable"] == (not lo <= 0 <= hi)
    text = E.describe_budget(rec)
    assert "90 % interval" in text and "of incremental revenue" in text
    if lo <= 0 <= hi:
        assert "not distinguishable from zero" in text


def test_gain_sentence_spanning_zero_says_not_distinguishable():
    rec = pd.DataFrame({"channel": ["a"], "change": [0.0], "recommended": [1.0], "min_budget": [0.0], "max_budget": [2.0]})
    rec.attrs.update(gain=1200.0, gain_interval=(-300.0, 2500.0))
    assert E.describe_gain(rec) == "**$1,200** (90 % interval -$300 to $2,500)" and E.gain_spans_zero(rec)
    assert E.describe_budget(rec).endswith("; that gain is not distinguishable from zero.")
    rec.attrs.update(gain_interval=(200.0, 2500.0))
    assert not E.gain_spans_zero(rec) and "not distinguishable" not in E.describe_budget(rec)
    assert E.estimate_text(-7.3, -20.0, 5.0, 1) == "-7.3 (90 % interval -20.0 to 5.0): not distinguishable from zero"
    assert E.estimate_text(6.6, 2.0, 9.0, 1) == "6.6 (90 % interval 2.0 to 9.0)"


def test_recommendation_is_the_allocators_split_over_even_days():
    days = 30
    spend = pd.DataFrame({"day": pd.Timestamp("2025-11-01"), "channel": ["a", "b", "c"], "spend": [3000.0, 3000.0, 3000.0]})
    bounds = {"a": (1000.0, 6000.0), "b": (500.0, 4000.0), "c": (0.0, 2000.0)}
    rec = E.recommend_budget(_model(_curves()), spend, bounds, 9000.0, days).set_index("channel")
    # by hand: a and b (marginal 10 e^(-x/100) and (40/3) e^(-x/30) per day) are funded until their
    # marginal return falls to c's constant 1.5; c (linear) takes the rest, inside its bounds
    xa, xb = 100 * np.log(10 / 1.5), 30 * np.log(40 / 3 / 1.5)  # daily spend: 189.7 and 65.5
    assert rec["recommended"].to_dict() == pytest.approx(
        {"a": days * xa, "b": days * xb, "c": 9000.0 - days * (xa + xb)}, rel=1e-6)  # 5691, 1966, 1342
    assert rec["marginal_roas_recommended"].tolist() == pytest.approx([1.5, 1.5, 1.5], rel=1e-6)
    assert rec.loc["a", "expected_revenue_recommended"] == pytest.approx(days * 1000 * (1 - np.exp(-xa / 100)), rel=1e-6)
    assert rec["repeat_split"].tolist() == pytest.approx([3500.0, 3500.0, 2000.0])  # equal shares, c clipped to 2000
    with pytest.raises(ConfigError, match="budget.total"):
        E.recommend_budget(_model(_curves()), spend, {"a": (100.0, 200.0), "b": (100.0, 200.0)}, 1000.0, days)


def test_recommendation_never_expected_to_lose_against_repeating():
    days = 61
    spend = pd.DataFrame({"day": pd.Timestamp("2025-11-01"), "channel": ["a", "b", "c"], "spend": [9000.0, 100.0, 900.0]})
    bounds = {"a": (1000.0, 6000.0), "b": (500.0, 4000.0), "c": (0.0, 2000.0), "d": (0.0, 1000.0)}
    rec = E.recommend_budget(_model(_curves()), spend, bounds, 9000.0, days)
    assert rec.attrs["gain"] >= -1e-6
    assert rec["recommended"].sum() == pytest.approx(9000.0)
    assert rec["repeat_split"].sum() == pytest.approx(9000.0)
    assert rec.attrs["missing_curves"] == ["d"]
    # d spent nothing: its marginal ROAS is unmeasured (NaN), never 0 (a later plan would cap it on that)
    assert np.isnan(rec.set_index("channel").loc["d", "marginal_roas_recommended"])
    assert not rec.drop(columns=[c for c in rec.columns if c.startswith("marginal_roas")]).isna().any().any()
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


def test_truth_check_orders_channels_and_checks_marginal_roas_against_truth(attributed, wh):
    d, long = attributed
    spend = E.daily_spend(wh, START, END)
    eff = E.channel_efficiency(spend, long)
    truth = json.loads((small_sample() / "truth.json").read_text())["channels"]
    chans = sorted(truth)
    true_m = [truth[c]["marginal_iroas_at_mean_spend"] for c in chans]
    # a constructed model table: the first channel's interval misses its truth, the others hold it
    curves = pd.DataFrame({"channel": chans, "marginal_roas_mean": true_m,
                           "marginal_roas_lo": [m + 0.5 if i == 0 else m - 0.5 for i, m in enumerate(true_m)],
                           "marginal_roas_hi": [m + 1.0 for m in true_m]})
    check = E.truth_check(eff, curves, small_sample())
    assert set(check["measure"]) == {"attributed ROAS", "marginal ROAS (media model)"}
    assert check.set_index("measure").loc["marginal ROAS (media model)", "spearman_with_true_iroas"] == pytest.approx(
        float(spearmanr(true_m, [truth[c]["true_iroas"] for c in chans]).statistic))
    marg = check.attrs["marginal"].set_index("channel")
    assert marg["true_marginal_iroas"].tolist() == pytest.approx(true_m)
    assert marg["inside"].tolist() == [False] + [True] * (len(chans) - 1)
    text = E.describe_truth_check(check)
    assert f"inside the model's 90 % interval for {len(chans) - 1} of {len(chans)} channels" in text
    assert f"{chans[0].replace('_', ' ')} true {true_m[0]:.2f}" in text and ", outside" in text
    assert E.truth_check(eff, curves, "/nonexistent-folder").empty


# --------------------------------------------------------------------------------------------
# Actual vs forecast and target (playbook.planning.accuracy)
# --------------------------------------------------------------------------------------------
def test_seasonal_naive_fallback_is_same_weekday_last_year(cfg, wh):
    avf = FA.actual_vs_forecast(wh, cfg)
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
    assert len(avf) == 61 and list(avf["day"]) == list(FA.day_range(START, END))


def _plan_forecast(act: pd.DataFrame) -> pd.DataFrame:
    """Revenue rows of a plan forecast: 80 % of the actual every day, intervals [0.7a, 0.9a] and [0.5a, 1.5a]."""
    return pd.DataFrame({"day": act["day"], "metric": "revenue", "dimension": "total", "value": "all",
                         "mean": act["actual"] * 0.8, "lo80": act["actual"] * 0.7, "hi80": act["actual"] * 0.9,
                         "lo95": act["actual"] * 0.5, "hi95": act["actual"] * 1.5, "model": "test"})


def test_plan_forecast_is_used_and_scored(cfg, wh):
    act = FA.actual_daily(wh, START, END, cfg.countries)
    fc = _plan_forecast(act)
    avf = FA.actual_vs_forecast(wh, cfg, forecast=fc)
    assert avf.attrs["source"] == "plan"
    acc = FA.accuracy_table(avf, {"all": 100.0}).iloc[0]
    pos = act["actual"] > 0
    assert acc["mape"] == pytest.approx(0.2)  # |a - 0.8a| / a on every day with sales
    assert acc["mase"] == pytest.approx((act["actual"] * 0.2).abs().mean() / 100.0)
    assert acc["coverage80"] == pytest.approx(float((~pos).mean()))  # only zero days sit inside [0.7a, 0.9a]
    assert acc["coverage95"] == pytest.approx(1.0)
    assert acc["gap_to_target"] == pytest.approx(act["actual"].sum() * (1 - 0.8 * 1.08))
    by_channel = FA.actual_vs_forecast(wh, cfg, dimension="channel", forecast=fc)
    assert by_channel.attrs["source"] == "plan total, split by last year's channel mix"
    assert set(by_channel["value"]) <= {"web", "app", "store"}
    day_sum = by_channel.groupby("day")["forecast"].sum()
    assert day_sum.to_numpy() == pytest.approx(avf.set_index("day")["forecast"].to_numpy())
    with pytest.raises(ValueError, match="Unknown dimension"):
        FA.actual_vs_forecast(wh, cfg, dimension="weekday", forecast=fc)


def test_accuracy_table_by_hand():
    avf = pd.DataFrame({"day": pd.date_range("2025-11-01", periods=4), "value": "all",
                        "actual": [100.0, 0.0, 50.0, 150.0], "forecast": [80.0, 10.0, 50.0, 200.0],
                        "target": [88.0, 11.0, 55.0, 220.0],
                        "lo80": [90.0, 0.0, 40.0, np.nan], "hi80": [110.0, 5.0, 60.0, np.nan],
                        "lo95": np.nan, "hi95": np.nan})
    got = FA.accuracy_table(avf, {"all": 20.0}).iloc[0]
    assert got[["actual", "forecast", "target", "gap_to_target"]].tolist() == pytest.approx([300, 340, 374, -74])
    assert got["vs_forecast"] == pytest.approx(300 / 340 - 1)
    assert got["mape"] == pytest.approx((0.2 + 0.0 + 50 / 150) / 3)  # the zero day is left out
    assert got["mase"] == pytest.approx((20 + 10 + 0 + 50) / 4 / 20)
    assert got["coverage80"] == pytest.approx(1.0)  # 3 days with an interval, all inside
    assert np.isnan(got["coverage95"])  # no interval at all


def test_gap_waterfall_and_description(cfg, wh):
    tables = {}
    for dim in ("channel", "country"):
        avf = FA.actual_vs_forecast(wh, cfg, dimension=dim)
        tables[dim] = FA.accuracy_table(avf, FA.mase_scales(wh, cfg, dim))
    gaps = FA.gap_waterfall_data(tables)
    for dim, t in tables.items():
        g = gaps[gaps["dimension"] == dim]
        assert g["gap"].sum() == pytest.approx(t["actual"].sum() - t["target"].sum())
        assert list(g["gap"]) == sorted(g["gap"])
    fig = FA.plot_gap_waterfall(gaps)
    assert [ax.get_title() for ax in fig.axes] == ["Gap to target by channel", "Gap to target by country"]
    plt.close(fig)
    total = FA.accuracy_table(FA.actual_vs_forecast(wh, cfg), {"all": 1.0})
    text = FA.describe_vs_target(total, gaps, "src")
    assert "target" in text and text.endswith(" src")


def test_gap_extremes_sentences():
    gaps = pd.DataFrame({"dimension": "country", "value": ["US", "DE"], "target": 0.0, "actual": 0.0,
                         "gap": [-10.0, 30.0]})
    assert FA._gap_extremes(gaps, "USD") == ("Largest shortfall: country **US** (-$10.00); "
                                             "largest surplus: country **DE** ($30.00).")
    assert FA._gap_extremes(gaps.assign(gap=[5.0, 30.0]), "USD").startswith("Every breakdown value beat its target")
    assert FA._gap_extremes(gaps.assign(gap=[-5.0, -30.0]), "USD").startswith("Every breakdown value missed")


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------
def test_new_vs_returning_equals_pandas(wh):
    got = LC.new_vs_returning(wh, START, END, repeat_days=30).set_index("group")
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
    move = LC.lifecycle_movement(wh, START, END)
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
    assert "prospects" in LC.describe_movement(move)


# --------------------------------------------------------------------------------------------
# Tracking audit
# --------------------------------------------------------------------------------------------
def test_channel_mismatch_both_directions():
    mm = TR.channel_mismatch(["email", "organic", "tiktok", "paid_search"], ["email", "affiliate", "paid_search"],
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
    gaps = TR.spend_gaps(s, "2025-11-01", "2025-11-20").set_index("day")["issue"]
    assert gaps.to_dict() == {pd.Timestamp("2025-11-05"): "no spend row", pd.Timestamp("2025-11-10"): "zero spend",
                              pd.Timestamp("2025-11-15"): "sudden drop"}
    assert TR.spend_gaps(s.iloc[0:0], "2025-11-01", "2025-11-20").empty


def test_utm_audit_and_summary(wh, attributed, cfg):
    d, long = attributed
    utm = TR.utm_audit(wh, START, END, list(cfg.channels)).set_index("channel")
    t = read(small_sample(), "touches")
    t = t[(t["touch_ts"] >= _utc(START)) & (t["touch_ts"] < _utc("2026-01-01"))]
    miss = t[t["utm_source"].isna()].groupby("channel").size()
    assert utm["without_utm"].to_dict() == {c: int(miss.get(c, 0)) for c in utm.index}
    assert utm.loc["direct", "share_without_utm"] == 1.0 and not utm.loc["direct", "paid"]
    mm = TR.channel_mismatch(list(utm.index), ["email"], list(cfg.channels))
    audit = TR.audit_summary(d.no_touch, utm.reset_index(), mm, pd.DataFrame(columns=["day", "channel", "issue"]))
    assert not audit.isna().any().any()
    table, note = TR.platform_vs_internal(wh, START, END, long)
    assert table.empty and "no platform-reported" in note


def test_platform_reported_conversions_compared(tmp_path, attributed):
    from tests.test_attribution import _write_tiny

    folder = _write_tiny(tmp_path / "d")
    spend = pd.DataFrame({"date": [dt.date(2025, 11, 3)] * 2, "channel": ["email", "paid_search"],
                          "campaign_id": ["e", "p"], "spend": [10.0, 20.0], "impressions": [1, 1], "clicks": [1, 1],
                          "platform_conversions": [3.0, 1.0]})
    spend.to_parquet(folder / "spend.parquet")
    w = connect(folder)
    d = MP.build_paths(w, START, END)
    long = A.attribute(d)
    table, note = TR.platform_vs_internal(w, START, END, long)
    got = table.set_index("channel")
    assert got.loc["email", "platform_reported"] == 3.0
    lt = long[long["model"] == "last_touch"].set_index("channel")["conversions"]
    assert got.loc["email", "ratio"] == pytest.approx(3.0 / lt["email"])
    assert "platform_conversions" in note
