"""Tests for playbook.planning (seasons, targets, funnel, promo, lessons): history analyses on
literal series with known answers, engine-side aggregates against pandas references, targets, the
promotional calendar and the rules that apply earlier retrospectives."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from playbook.data.warehouse import connect
from playbook.forecasting.calendar import event_features
from playbook.forecasting.model import DemandForecaster
from playbook.planning import funnel as FU
from playbook.planning import history as H
from playbook.planning import lessons as LS
from playbook.planning import promo as PR
from playbook.planning import seasons as SE
from playbook.planning import targets as TG
from playbook.steps import plan as plan_step
from tests.sample_data import read, small_sample


def _series(start, end, base=100.0, spikes=None, country="IN"):
    days = pd.date_range(start, end)
    v = pd.Series(base, index=days)
    for d, x in (spikes or {}).items():
        v[pd.Timestamp(d)] += x
    return pd.DataFrame({"day": days, "country": country, "revenue": v.to_numpy(), "orders": v.to_numpy() / 10})


def test_event_alignment_corrects_a_moving_diwali():
    # Diwali: 12 Nov 2023, 31 Oct 2024; +900 on the day both years, flat otherwise
    d = _series("2022-10-01", "2024-12-31", spikes={"2023-11-12": 900, "2024-10-31": 900})
    yoy = SE.event_aligned_yoy(d, ["diwali"], ["IN"], [2024], window=(0, 0))
    r = yoy.iloc[0]
    assert r["growth_aligned"] == pytest.approx(0.0)
    assert r["growth_calendar"] == pytest.approx(9.0)  # 1000 against an ordinary 31 Oct 2023 (100)
    assert "diwali" in SE.describe_event_yoy(yoy) and "12 Nov" in SE.describe_event_yoy(yoy)


def test_event_alignment_skips_years_outside_the_data():
    d = _series("2024-01-01", "2024-12-31")
    assert SE.event_aligned_yoy(d, ["black_friday"], ["IN"], [2024]).empty


def test_peak_days_and_nearest_event():
    d = _series("2024-10-01", "2024-12-31", spikes={"2024-11-29": 500, "2024-12-02": 300})
    peaks = SE.peak_days(d, [("s24", "2024-11-01", "2024-12-31")], ["US"], n=2)
    assert peaks["day"].tolist() == [pd.Timestamp("2024-11-29"), pd.Timestamp("2024-12-02")]
    assert peaks["nearest_event"].tolist() == ["black_friday +0", "cyber_monday +0"]
    assert peaks["vs_season_median"].iloc[0] == pytest.approx(6.0)


def test_preseason_ramp_index():
    d = _series("2024-06-01", "2024-12-31")
    d.loc[d["day"] >= "2024-10-18", "revenue"] = 150.0  # ramp starts two weeks before 1 Nov
    ramp = SE.preseason_ramp(d, [("s24", "2024-11-01", "2024-12-31")], weeks_before=8, weeks_after=2)
    idx = ramp.set_index("week")["index"]
    assert idx[-8] == pytest.approx(1.0) and idx[-1] == pytest.approx(1.5) and idx[0] == pytest.approx(1.5)


def test_category_timing_finds_the_earlier_category():
    days = pd.date_range("2024-09-01", "2024-12-31")
    early = np.where(days < "2024-10-20", 100.0, 10.0)
    late = np.where(days > "2024-12-01", 100.0, 10.0)
    d = pd.concat([pd.DataFrame({"day": days, "country": "IN", "category": "toys", "revenue": early}),
                   pd.DataFrame({"day": days, "country": "IN", "category": "home", "revenue": late})])
    t = SE.category_timing(d, [("s24", "2024-11-01", "2024-12-31")], lead_days=45).set_index("category")
    assert t.loc["toys", "halfway_day"] < t.loc["home", "halfway_day"]
    assert t.loc["toys", "earlier_than_country"] > 0 > t.loc["home", "earlier_than_country"]
    assert "toys in IN" in SE.describe_category_timing(t.reset_index())


def test_pull_forward_share_on_a_known_series():
    """Noise-free series: BF peak x3 on the day, dip x0.8 on 7 days; share = lost / extra."""
    days = pd.date_range("2022-01-01", "2024-12-31")
    ev = event_features(days, ["US"])
    z = np.log(200.0) + np.log(3.0) * ev["black_friday"].to_numpy() + np.log(0.8) * ev["black_friday_dip"].to_numpy()
    y = pd.Series(np.exp(z) - 1.0, index=days)
    est = DemandForecaster("regression", "orders", ["US"]).fit(y)
    pf = SE.pull_forward(est, "black_friday")
    extra, lost = 200.0 * 2.0, 200.0 * 0.2 * 7
    assert pf["extra"] == pytest.approx(extra, rel=1e-6)
    assert pf["lost"] == pytest.approx(lost, rel=1e-6)
    assert pf["share"] == pytest.approx(lost / extra, rel=1e-6)
    assert pf["dip_multiplier"] == pytest.approx(0.8, rel=1e-6)


def test_daily_new_customers_matches_pandas():
    folder = small_sample()
    got = H.daily_new_customers(connect(folder), "2024-11-01", "2024-12-31")
    o = read(folder, "orders")
    o = o[(o["revenue"] >= 0) & o["customer_id"].notna()]
    first = o.groupby("customer_id")["order_ts"].min().dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    ref = first.value_counts().reindex(got["day"], fill_value=0)
    assert got["new_customers"].tolist() == ref.tolist()
    assert got["new_customers"].sum() > 0


def _forecast_frame(days=61, peak=27, second=48):
    day = pd.date_range("2025-11-01", periods=days)
    mean = np.full(days, 100.0)
    mean[peak - 1:peak + 2] = [220.0, 300.0, 200.0]
    mean[second] = 180.0
    rows = []
    for metric, scale in (("revenue", 1.0), ("orders", 0.01)):
        m = mean * scale
        rows.append(pd.DataFrame({"day": day, "metric": metric, "dimension": "total", "value": "all", "mean": m,
                                  "lo80": 0.8 * m, "hi80": 1.2 * m, "lo95": 0.7 * m, "hi95": 1.3 * m, "model": "x"}))
    return pd.concat(rows, ignore_index=True)


def test_targets_levels_channels_and_new_customers():
    fc = _forecast_frame()
    cfg = SimpleNamespace(revenue_uplift_pct=8.0, stretch_uplift_pct=None, new_customers=1500)
    shares = {"revenue": {"web": 0.6, "app": 0.4}, "orders": {"web": 0.5, "app": 0.5}}
    t = TG.build_targets(fc, cfg, shares, new_customer_base=1000)
    rev = t[(t["metric"] == "revenue") & (t["channel"] == "all")].pivot(index="day", columns="level", values="value")
    base = fc[fc["metric"] == "revenue"].set_index("day")["mean"]
    assert np.allclose(rev["base"], base) and np.allclose(rev["target"], base * 1.08)
    assert np.allclose(rev["stretch"], base * 1.2)  # no stretch configured: the forecast's 90 % quantile
    web_app = t[(t["metric"] == "revenue") & (t["channel"] != "all") & (t["level"] == "target")]
    assert web_app["value"].sum() == pytest.approx(rev["target"].sum())
    nc = t[(t["metric"] == "new_customers") & (t["level"] == "target")]
    assert nc["value"].sum() == pytest.approx(1500)
    assert nc["value"].idxmax() == nc.index[27]  # spread like the orders forecast


def test_feasibility_verdicts():
    fc = _forecast_frame()
    past = pd.DataFrame({"season": ["a", "b"], "revenue": [5000.0, 6000.0], "orders": [50, 60]})
    cfg = SimpleNamespace(revenue_uplift_pct=8.0, stretch_uplift_pct=12.0, new_customers=None)
    feas = TG.target_feasibility(fc, TG.build_targets(fc, cfg, {}), past).set_index("metric")
    r = feas.loc["revenue"]
    assert r["target"] == pytest.approx(1.08 * r["forecast"])
    assert 0.2 < r["p_reach_target"] < 0.5  # 8 % above the mean with a ~15 % standard deviation
    assert r["verdict"] == "within the forecast range"
    huge = SimpleNamespace(revenue_uplift_pct=300.0, stretch_uplift_pct=None, new_customers=None)
    f2 = TG.target_feasibility(fc, TG.build_targets(fc, huge, {}), past).set_index("metric")
    assert f2.loc["revenue", "verdict"] == "beyond past growth"
    assert "beyond past growth" in TG.describe_targets(f2.reset_index())


def test_funnel_matches_pandas():
    folder = small_sample()
    seasons = [("s24", "2024-11-01", "2024-12-31")]
    got = FU.funnel(connect(folder), seasons).set_index("acquisition_channel")
    ev = read(folder, "events")
    ts = ev["event_ts"].dt.tz_convert("UTC")
    ev = ev[(ts >= pd.Timestamp("2024-11-01", tz="UTC")) & (ts < pd.Timestamp("2025-01-01", tz="UTC"))]
    cust = read(folder, "customers").drop_duplicates("customer_id").set_index("customer_id")["acquisition_channel"]
    ev = ev.assign(ch=ev["customer_id"].map(cust).fillna("unknown"))
    ref = ev.groupby(["ch", "session_id"])["event_type"].agg(set).reset_index()
    for ch, g in ref.groupby("ch"):
        assert got.loc[ch, "sessions"] == len(g)
        assert got.loc[ch, "add_to_cart"] == sum("add_to_cart" in s for s in g["event_type"])
        assert got.loc[ch, "purchase"] == sum("purchase" in s for s in g["event_type"])
    rates = FU.funnel_rates(got.reset_index())
    assert rates["largest_drop"].isin(["session -> view", "view -> cart", "cart -> checkout",
                                       "checkout -> purchase"]).all()


def test_promo_calendar_places_phases_around_peaks():
    fc = _forecast_frame()
    total = fc[fc["metric"] == "revenue"]
    browsing = pd.DataFrame({"weekday": range(7), "name": SE.WEEKDAYS, "views": [1, 1, 1, 1, 1, 1, 9],
                             "share": np.array([1, 1, 1, 1, 1, 1, 9]) / 15})
    promo = PR.promo_calendar(total, browsing, "2025-11-01", "2025-12-31").set_index("phase")
    peak = pd.Timestamp("2025-11-01") + pd.Timedelta(days=27)
    assert promo.loc["main event", "start"] <= peak <= promo.loc["main event", "end"]
    order = ["teaser", "early access", "main event", "last chance", "post-season"]
    assert list(promo.index) == order
    assert (promo["start"].iloc[1:].to_numpy() > promo["end"].iloc[:-1].to_numpy()).all()  # no overlap
    assert promo.loc["last chance", "end"] == pd.Timestamp("2025-11-01") + pd.Timedelta(days=48)
    # send days prefer Sundays (most views) among the days up to the phase start
    assert all(d.weekday() == 6 or (s - d).days == 0 for d, s in zip(promo["send_day"], promo["start"], strict=True)
               if (s - d).days <= 3)
    table = PR.calendar_table(promo.reset_index(), pd.DataFrame(
        {"date": [peak], "country": ["US"], "event": ["black_friday"], "kind": ["retail"], "name": ["Black Friday"]}))
    assert table["kind"].tolist() == ["promotion"] * 5 + ["retail"]


def test_promo_sentence_for_a_window_that_opens_on_its_peak():
    """Stranger run (orders-only shop, a 13-day Black Friday window): the peak on day 2 leaves no
    room for a teaser, and the page crashed with KeyError 'teaser'; now it says so."""
    days = pd.date_range("2025-11-20", "2025-12-02")
    browsing = pd.DataFrame({"weekday": range(7), "name": SE.WEEKDAYS, "views": [1] * 7, "share": [1 / 7] * 7})
    texts = {}
    for peak in (0, 1):
        total = pd.DataFrame({"day": days, "metric": "revenue",
                              "mean": np.where(np.arange(len(days)) == peak, 900.0, 100.0)})
        promo = PR.promo_calendar(total, browsing, "2025-11-20", "2025-12-02")
        assert "teaser" not in set(promo["phase"]) and "main event" in set(promo["phase"])
        texts[peak] = plan_step.describe_promo(promo, "USD")
    assert "The main event runs Thu 20 Nov" in texts[0] and "no teaser or early access" in texts[0]
    assert "The main event runs Fri 21 Nov" in texts[1] and "preceded by early access for top customers" in texts[1]


def test_promo_calendar_without_forecast_is_empty():
    empty = PR.promo_calendar(_forecast_frame().iloc[0:0], pd.DataFrame(), "2025-11-01", "2025-12-31")
    assert empty.empty


def _retro(slug, start, end, countries, actual=90.0, forecast=100.0, from_plan=True, lessons=()):
    return {"kind": "retrospective",
            "campaign": {"slug": slug, "name": slug.replace("-", " ").title(), "start": start, "end": end,
                         "countries": countries, "currency": "USD"},
            "revenue": {"actual": actual, "forecast": forecast, "target": forecast * 1.08},
            "forecast_from_plan": from_plan, "lessons": list(lessons)}


def test_select_retrospective_takes_the_latest_earlier_campaign_sharing_a_country():
    old = _retro("holiday-2024", "2024-11-01", "2024-12-31", ["US", "GB"])
    diwali = _retro("diwali-2025", "2025-10-10", "2025-10-25", ["IN"])
    later = _retro("holiday-2025x", "2025-11-01", "2026-01-05", ["US"])  # not over before our start
    elsewhere = _retro("japan-2025", "2025-09-01", "2025-09-30", ["JP"])  # no shared country
    broken = {"kind": "retrospective", "campaign": {"slug": "x"}}
    chosen, others = LS.select_retrospective([old, later, broken, elsewhere, diwali], "2025-11-01", ["us", "IN"])
    assert chosen["campaign"]["slug"] == "diwali-2025"
    assert [s["campaign"]["slug"] for s in others] == ["holiday-2024"]
    assert LS.select_retrospective([later, elsewhere], "2025-11-01", ["US"]) == (None, [])


@pytest.mark.parametrize(("summary", "expected"), [
    (_retro("a", "2024-11-01", "2024-12-31", ["US"], 90.0, 100.0), -0.1),
    (_retro("a", "2024-11-01", "2024-12-31", ["US"], 300.0, 100.0), 0.5),   # clipped
    (_retro("a", "2024-11-01", "2024-12-31", ["US"], 90.0, 100.0, from_plan=False), None),  # naive stand-in
    (_retro("a", "2024-11-01", "2024-12-31", ["US"], 90.0, 0.0), None),
    (None, None),
], ids=["short", "clipped", "not-the-plan-forecast", "zero-forecast", "none"])
def test_retro_forecast_bias(summary, expected):
    got = LS.retro_forecast_bias(summary)
    assert got == (pytest.approx(expected) if expected is not None else None)


_BOUNDS = {"paid_search": (25_000.0, 70_000.0), "paid_social": (15_000.0, 50_000.0), "display": (8_000.0, 30_000.0),
           "affiliate": (4_000.0, 18_000.0), "email": (1_000.0, 6_000.0)}
_NEXT = pd.DataFrame({"channel": ["paid_search", "paid_social", "display", "affiliate", "email"],
                      "recommended": [40_000.0, 30_000.0, 15_000.0, 10_000.0, 5_000.0],
                      "marginal_roas_recommended": [2.0, 0.6, 1.5, 0.8, 3.0],
                      "marginal_roas_recommended_lo": [1.5, 0.3, 1.1, 0.5, 2.0],
                      "marginal_roas_recommended_hi": [2.5, 0.9, 1.9, 0.95, 4.0]})


def test_retro_budget_bounds_cap_only_when_the_interval_is_wholly_below_one():
    """The lessons rule: a cap needs the marginal ROAS interval's upper end below 1, not a point estimate."""
    nb = _NEXT.assign(marginal_roas_recommended_hi=[2.5, 0.9, 1.9, 1.2, 4.0])  # affiliate: 0.8 but reaches 1.2
    bounds, table = LS.retro_budget_bounds(_BOUNDS, 110_000.0, nb)
    assert bounds["paid_social"] == (15_000.0, 33_000.0) and bounds["affiliate"] == _BOUNDS["affiliate"]
    assert table["capped"].tolist() == [False, True, False, False, False]
    text = LS.describe_retro_budget(table, "Holiday 2024")
    assert "**paid social** (0.60, 90 % interval 0.30 to 0.90): maximum capped at $33,000" in text
    assert "because its interval reaches 1: affiliate (0.80, 90 % interval 0.50 to 1.20)" in text
    # a point estimate without an interval (an older retrospective) caps nothing, and the sentence says why
    bare = _NEXT.drop(columns=["marginal_roas_recommended_lo", "marginal_roas_recommended_hi"])
    bounds, table = LS.retro_budget_bounds(_BOUNDS, 110_000.0, LS.retro_next_budget({}, bare))
    assert bounds == _BOUNDS and not table["capped"].any()
    assert "recorded no interval" in LS.describe_retro_budget(table, "Holiday 2024")


def test_retro_budget_bounds_cap_channels_with_low_marginal_roas():
    bounds, table = LS.retro_budget_bounds(_BOUNDS, 110_000.0, _NEXT)
    t = table.set_index("channel")
    # earlier split (100k) scaled to this total (110k)
    assert t["earlier_recommended"].to_dict() == pytest.approx(
        {"paid_search": 44_000, "paid_social": 33_000, "display": 16_500, "affiliate": 11_000, "email": 5_500})
    assert bounds["paid_social"] == (15_000.0, 33_000.0) and bounds["affiliate"] == (4_000.0, 11_000.0)
    for ch in ("paid_search", "display", "email"):  # marginal ROAS >= 1: untouched
        assert bounds[ch] == _BOUNDS[ch]
    assert t["capped"].tolist() == [False, True, False, True, False] and table.attrs["applied"]
    text = LS.describe_retro_budget(table, "Holiday 2024")
    assert "**paid social** (0.60, 90 % interval 0.30 to 0.90): maximum capped at $33,000 instead of $50,000" in text
    assert "**affiliate** (0.80, 90 % interval 0.50 to 0.95)" in text
    plan = pd.DataFrame({"channel": list(_BOUNDS), "budget": [60_000.0, 20_000.0, 15_000.0, 11_000.0, 4_000.0]})
    assert "The cap binds for affiliate:" in LS.describe_retro_budget(table, "Holiday 2024", plan=plan)
    plan["budget"] = [60_000.0, 20_000.0, 15_000.0, 10_000.0, 5_000.0]
    assert "stays below these caps" in LS.describe_retro_budget(table, "Holiday 2024", plan=plan)


def test_retro_budget_bounds_edge_cases():
    # a cap never goes below the channel's minimum; a channel the earlier campaign did not budget is kept
    nb = _NEXT[_NEXT["channel"] != "email"].assign(recommended=[40_000.0, 1_000.0, 15_000.0, 10_000.0])
    bounds, table = LS.retro_budget_bounds(_BOUNDS, 110_000.0, nb)
    assert bounds["paid_social"] == (15_000.0, 15_000.0)
    assert bounds["email"] == _BOUNDS["email"] and np.isnan(table.set_index("channel").loc["email", "earlier_recommended"])
    # caps that would leave the total unspendable are not applied, and the sentence says so
    tight = {ch: (lo, hi) for ch, (lo, hi) in _BOUNDS.items()}
    bounds, table = LS.retro_budget_bounds(tight, 174_000.0, _NEXT)  # = the sum of the maxima
    assert bounds == tight and not table["capped"].any() and not table.attrs["applied"]
    assert "unspendable" in LS.describe_retro_budget(table, "Holiday 2024")
    # no recommendation at all: nothing changes
    bounds, table = LS.retro_budget_bounds(_BOUNDS, 110_000.0, LS.retro_next_budget(None))
    assert bounds == _BOUNDS and not table["capped"].any()
    assert "configured ones" in LS.describe_retro_budget(table, "X")


def test_retro_next_budget_prefers_the_parquet_then_the_summary():
    s = {"next_budget": [{"channel": "email", "repeat_split": 1.0, "recommended": 2.0}]}
    got = LS.retro_next_budget(s)
    assert got["recommended"].tolist() == [2.0] and got["marginal_roas_recommended"].isna().all()
    assert LS.retro_next_budget(s, _NEXT).equals(_NEXT)


def test_earlier_forecast_bias_shifts_base_and_feasibility_not_the_target():
    fc = _forecast_frame()
    past = pd.DataFrame({"season": ["a", "b"], "revenue": [5000.0, 6000.0], "orders": [50, 60]})
    cfg = SimpleNamespace(revenue_uplift_pct=8.0, stretch_uplift_pct=12.0, new_customers=None)
    plain_t = TG.build_targets(fc, cfg, {"revenue": {"web": 1.0}})
    plain = TG.target_feasibility(fc, plain_t, past)
    # no earlier retrospective (None or 0): nothing changes
    pd.testing.assert_frame_equal(TG.build_targets(fc, cfg, {"revenue": {"web": 1.0}}, bias=None), plain_t)
    pd.testing.assert_frame_equal(TG.target_feasibility(fc, plain_t, past, bias=0.0), plain)
    assert (plain["expected"] == plain["forecast"]).all() and (plain["bias"] == 0).all()

    t = TG.build_targets(fc, cfg, {"revenue": {"web": 1.0}}, bias=-0.3)
    key = ["day", "metric", "channel", "level"]
    both = t.merge(plain_t, on=key, suffixes=("", "_plain"))
    rev_base = (both["metric"] == "revenue") & (both["level"] == "base")
    assert np.allclose(both.loc[rev_base, "value"], 0.7 * both.loc[rev_base, "value_plain"])  # web rows too
    assert np.allclose(both.loc[~rev_base, "value"], both.loc[~rev_base, "value_plain"])  # targets, orders unchanged

    feas = TG.target_feasibility(fc, t, past, bias=-0.3).set_index("metric")
    r, r0 = feas.loc["revenue"], plain.set_index("metric").loc["revenue"]
    assert r["target"] == pytest.approx(r0["target"]) and r["expected"] == pytest.approx(0.7 * r["forecast"])
    assert r["gap"] == pytest.approx(r["target"] - 0.7 * r["forecast"])
    # the daily 95 % intervals give sd ~ 0.153 x forecast; the earlier error (30 %) is larger and is used
    assert r["p_reach_target"] == pytest.approx(1 - stats.norm.cdf(r["target"], 0.7 * r["forecast"], 0.3 * r["forecast"]))
    assert r["p_reach_target"] < r0["p_reach_target"]
    assert feas.loc["orders", "expected"] == pytest.approx(feas.loc["orders", "forecast"])
    assert "corrected by the earlier campaign's forecast error" in TG.describe_targets(feas.reset_index())
    text = LS.describe_retro_targets(-0.3, _retro("holiday-2024", "2024-11-01", "2024-12-31", ["US"]), feas.reset_index())
    assert "30.0% below the plan's forecast" in text and "the target stays at" in text
    assert "No earlier retrospective" in LS.describe_retro_targets(None, None, plain)


def test_retro_country_share_weights_the_earlier_bias():
    day = pd.date_range("2025-11-01", periods=2)
    fc = pd.DataFrame({"day": list(day) * 3, "metric": "revenue", "dimension": ["country"] * 4 + ["total"] * 2,
                       "value": ["US", "US", "IN", "IN", "all", "all"], "mean": [30.0, 30.0, 10.0, 10.0, 40.0, 40.0]})
    assert LS.retro_country_share(fc, ["in"]) == pytest.approx(0.25)
    assert LS.retro_country_share(fc, ["JP"]) == 0.0
    assert LS.retro_country_share(fc[fc["dimension"] == "total"], ["IN"]) == 1.0  # single-market forecast
    feas = pd.DataFrame({"metric": ["revenue"], "forecast": [1e5], "expected": [107_500.0], "target": [108_000.0]})
    text = LS.describe_retro_targets(0.3, _retro("diwali-2025", "2025-10-10", "2025-10-25", ["IN"]), feas, share=0.25)
    assert "(IN) revenue came in 30.0% above" in text and "make up 25.0% of this season's forecast" in text
    assert "corrected by 7.5% ($107,500 instead of $100,000)" in text


def test_retro_lessons():
    got = LS.retro_lessons([_retro("a-b", "2024-11-01", "2024-12-31", ["US"], lessons=["x", "y"]),
                           _retro("c", "2023-11-01", "2023-12-31", ["US"])])
    assert got.to_dict("records") == [{"campaign": "A B", "lesson": "x"}, {"campaign": "A B", "lesson": "y"}]


def test_campaign_events_are_given_to_the_campaign_forecast(monkeypatch, tmp_path):
    """The campaign file's events: are features of the campaign forecast (issue 16): the plan
    passes them on and no longer notes that they are unused."""
    from playbook.config.loader import load_config
    from playbook.forecasting import forecast as F

    text = (Path(__file__).resolve().parents[1] / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8")
    text = text.replace("# events:\n#   - {name: Spring sale, start: 2024-03-11",
                        "events:\n  - {name: Spring sale, start: 2024-03-11", 1)
    text = text.replace("#   - {name: Spring sale, start: 2025-03-10", "  - {name: Spring sale, start: 2025-03-10", 1)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(text, encoding="utf-8")
    cfg = load_config(cfg_path)
    assert len(cfg.events) == 2
    stub = SimpleNamespace(notes=[])
    given = {}
    monkeypatch.setattr(F, "forecast_campaign", lambda *a, **k: given.update(k) or stub)
    hist = SimpleNamespace(start="2023-01-01", cutoff="2025-10-15")
    plan_step.run_forecast(None, cfg, hist)
    assert [e.name for e in given["events"]] == ["Spring sale", "Spring sale"]
    assert not any("own event" in n for n in stub.notes)
