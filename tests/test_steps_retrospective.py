"""The retrospective step module on the small sample: its result objects, tables, lessons,
artifacts and headline, a season without any sale, and the plan step's forecast artifact."""

from __future__ import annotations

import dataclasses
import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml

from playbook.artifacts import write_artifact
from playbook.media.attribution import MODELS
from playbook.paths import resolve
from playbook.planning import accuracy as FA
from playbook.planning.lessons import find_retrospectives
from playbook.report.format import fmt_money
from playbook.steps import retrospective as R
from playbook.steps.context import start_step
from tests.sample_data import read, small_sample

START, END = "2025-11-01", "2025-12-31"
CONFIG = "campaigns/holiday-2025.yaml"
AUDIT_CHECKS = ["orders without a touch", "online orders without a touch", "paid touches without UTM",
                "channel label mismatches", "spend days: no spend row", "spend days: zero spend",
                "spend days: sudden drop"]


def _utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _strict_json(path) -> dict:
    """Parse a JSON file, failing on NaN/Infinity (not JSON)."""
    def bad(token):
        raise ValueError(f"non-JSON token {token} in {path}")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=bad)


def _run(ctx) -> dict:
    fc = R.load_forecast(ctx)
    acc = R.accuracy(ctx, fc)
    attr = R.attribution(ctx)
    inc = R.incrementality(ctx, attr)
    media = R.media(ctx, attr, inc)
    customers = R.customers(ctx)
    audit = R.tracking_audit(ctx, attr)
    review = R.review(ctx, yoy=R.window_vs_last_year(ctx), accuracy=acc, attribution=attr, incrementality=inc,
                      media=media, customers=customers, audit=audit)
    return {"ctx": ctx, "fc": fc, "acc": acc, "attr": attr, "inc": inc, "media": media, "customers": customers,
            "audit": audit, "review": review, "written": R.write_artifacts(ctx, review)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The whole step on the 2,000-customer sample, published under ``<tmp>/reports/<slug>``."""
    reports = tmp_path_factory.mktemp("retro") / "reports"
    ctx = start_step("05_retrospective", CONFIG, str(small_sample()), str(reports / "holiday-2025"), 42)
    return _run(ctx)


@pytest.fixture(scope="module")
def empty_run(tmp_path_factory):
    """The step on a March 2026 window, after the sample's data ends: no order, touch or spend."""
    tmp = tmp_path_factory.mktemp("retro_empty")
    cfg = yaml.safe_load(resolve(CONFIG).read_text())
    cfg["season"].update({"start": "2026-03-01", "end": "2026-03-31", "planning_cutoff": "2026-02-15"})
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return _run(start_step("05_retrospective", str(path), str(small_sample()), str(tmp / "out"), 42))


def _window_orders(countries) -> pd.DataFrame:
    o = read(small_sample(), "orders")
    c = read(small_sample(), "customers")[["customer_id", "country"]]
    o = o[(o["order_ts"] >= _utc(START)) & (o["order_ts"] < _utc("2026-01-01"))]
    return o.merge(c, on="customer_id", how="left").query("country in @countries")


# --------------------------------------------------------------------------------------------
# Result objects and tables
# --------------------------------------------------------------------------------------------
def test_without_a_plan_forecast_the_baseline_is_used(run):
    fc, acc = run["fc"], run["acc"]
    assert fc.frame is None and "seasonal-naive baseline" in fc.source
    assert acc.forecast_source == fc.source and acc.total.attrs["source"] == "seasonal naive"


def test_accuracy_totals_and_breakdowns_agree_with_pandas(run):
    acc, cfg = run["acc"], run["ctx"].cfg
    ref = _window_orders(list(cfg.countries))["revenue"].sum()
    total = acc.total.iloc[0]
    assert total["value"] == "all" and total["actual"] == pytest.approx(ref)
    assert total["target"] == pytest.approx(total["forecast"] * 1.08)
    assert list(acc.by) == ["order channel", "category", "country"]
    for label, table in acc.by.items():
        assert table["actual"].sum() == pytest.approx(ref), label  # every breakdown adds up to the total
        g = acc.gaps[acc.gaps["dimension"] == label]
        assert g["gap"].sum() == pytest.approx(table["actual"].sum() - table["target"].sum())
    assert acc.daily["cum_actual"].iloc[-1] == pytest.approx(ref)
    html = R.accuracy_table(acc, "USD").to_html()
    assert fmt_money(total["actual"], "USD") in html and fmt_money(total["gap_to_target"], "USD") in html
    assert list(R.gap_table(acc).data.columns) == ["dimension", "value", "target", "actual", "gap"]
    assert R.describe_vs_target(acc).endswith(run["fc"].source)


def test_attribution_credit_spend_and_planted_check(run):
    attr = run["attr"]
    assert set(attr.credit["model"]) == set(MODELS)
    s = read(small_sample(), "spend")
    s["date"] = pd.to_datetime(s["date"])
    ref = s[(s["date"] >= START) & (s["date"] <= END)].groupby("channel")["spend"].sum()
    assert attr.spend.groupby("channel")["spend"].sum().to_dict() == pytest.approx(ref.to_dict())
    assert set(attr.agreement["model"]) == set(MODELS) and attr.agreement["spearman"].between(-1, 1).all()
    assert list(R.attribution_table(attr).data.columns) == list(MODELS)
    assert list(R.top_paths_table(attr).data.columns) == ["path", "length", "conversions", "revenue", "conversion_rate"]
    assert "Spearman rank correlation" in R.describe_attribution(attr)


def test_incrementality_and_media_sections(run):
    inc, media, cfg = run["inc"], run["media"], run["ctx"].cfg
    assert list(inc["experiment_id"]) == ["xmas25_email_holdout"]
    assert list(R.incrementality_table(inc).data.columns) == R.INCREMENTALITY_VIEW
    email_spend = run["attr"].spend.query("channel == 'email'")["spend"].sum()
    assert inc.iloc[0]["spend"] == pytest.approx(email_spend)
    assert sorted(media.efficiency["channel"]) == sorted(cfg.channels)
    assert media.budget["recommended"].sum() == pytest.approx(cfg.budget.total)
    assert set(media.model.channels) == set(media.curve_table["channel"])
    assert list(R.budget_table(media).data["channel"]) == list(media.budget["channel"])
    assert "expected to add" in R.describe_budget(media) and "90 % interval" in R.describe_budget(media)
    t = media.curve_table
    for x in ("roas", "marginal_roas", "contribution"):
        assert (t[f"{x}_lo"] <= t[f"{x}_mean"] + 1e-9).all() and (t[f"{x}_mean"] <= t[f"{x}_hi"] + 1e-9).all()
    b = media.budget
    assert (b["marginal_roas_recommended_lo"] <= b["marginal_roas_recommended_hi"]).all()


def test_holdout_channel_shows_its_estimate_before_and_after_calibration(run):
    media, inc = run["media"], run["inc"]
    assert [lf.channel for lf in media.model.lifts] == ["email"] and media.model.uncalibrated is not None
    cal = R.calibration_table(media)
    assert list(cal["channel"]) == ["email"]
    row = cal.iloc[0]
    assert row["lift"] == pytest.approx(inc.iloc[0]["incremental_revenue"])
    before = media.model.uncalibrated.summary().set_index("channel").loc["email"]
    assert row["roas_before"] == pytest.approx(before["roas"]) and row["roas_before_hi"] == pytest.approx(before["roas_hi"])
    assert row["roas_after"] == pytest.approx(media.model.summary().set_index("channel").loc["email", "roas"])
    text = R.describe_calibration(media)
    assert text.startswith("**email** (holdout lift") and "before calibration" in text and "after;" in text


def test_customers_section_agrees_with_pandas(run):
    c, cfg = run["customers"], run["ctx"].cfg
    o = read(small_sample(), "orders")
    buyers = o[(o["revenue"] >= 0) & (o["order_ts"] >= _utc(START)) & (o["order_ts"] < _utc("2026-01-01"))]
    assert c.new_vs_returning["customers"].sum() == buyers["customer_id"].nunique()
    assert c.target_new == cfg.targets.new_customers == 1500
    new = int(c.new_vs_returning.set_index("group").loc["new", "customers"])
    assert f"**{new:,} new customers** (target 1,500: {'met' if new >= 1500 else 'missed'})" in R.describe_customers(c)
    cust = read(small_sample(), "customers")
    live = cust[cust["erased_at"].isna() & (cust["signup_ts"] < _utc("2026-01-01"))]
    assert R.movement_table(c).to_numpy().sum() == len(live)


def test_tracking_audit_lists_every_check(run):
    audit = run["audit"]
    assert list(audit.summary["check"]) == AUDIT_CHECKS
    assert len(audit.spend_gaps) == int(audit.summary.set_index("check").loc[AUDIT_CHECKS[4:], "value"].astype(int).sum())
    assert R.describe_audit(audit).endswith(audit.platform_note)


# --------------------------------------------------------------------------------------------
# Lessons, artifacts, headline
# --------------------------------------------------------------------------------------------
def test_review_lessons_headline_and_notes(run):
    rv, acc = run["review"], run["acc"]
    assert rv.decisions.empty  # the test step did not run into this folder
    assert rv.lessons[0].startswith("Revenue ") and any(s.startswith("Best channel by attributed (not incremental) ROAS") for s in rv.lessons)
    assert any(s.startswith("Holdout xmas25_email_holdout: iROAS") for s in rv.lessons)
    assert R.lessons_markdown(rv) == "\n".join(f"- {s}" for s in rv.lessons)
    head = R.headline(rv)
    # no plan forecast in this folder: the MAPE is the seasonal-naive baseline's, and says so
    assert list(head) == ["window revenue", "window orders", "revenue vs last year", "gap to target",
                          "baseline MAPE (daily, seasonal naive)", "email iROAS (holdout)", "new customers",
                          "next budget: expected gain"]
    assert head["gap to target"] == fmt_money(acc.total.iloc[0]["gap_to_target"], "USD")
    h = run["inc"].iloc[0]
    assert head["email iROAS (holdout)"].startswith(f"{h['iroas']:.1f} (95 % CI {h['iroas_lo']:.1f} to {h['iroas_hi']:.1f})")
    assert head["email iROAS (holdout)"].endswith("not distinguishable from zero") == bool(h["iroas_lo"] <= 0 <= h["iroas_hi"])
    assert "90 % interval" in head["next budget: expected gain"]
    assert R.notes(rv) == [run["fc"].source, *run["attr"].paths.notes]


def test_artifacts_roundtrip_and_archive(run):
    rv, out = run["review"], run["ctx"].output_dir
    assert run["written"].to_dict()["rows"] == {"attribution.parquet": len(rv.attribution.credit),
                                                "incrementality.parquet": 1,
                                                "next_budget.parquet": len(rv.media.budget), "summary.json": 1,
                                                "media_model.parquet": len(rv.media.model.channels)}
    back = pd.read_parquet(out / "artifacts" / "attribution.parquet")
    assert len(back) == len(rv.attribution.credit) and not back.isna().any().any()
    summary = _strict_json(out / "artifacts" / "summary.json")
    assert summary["revenue"]["actual"] == pytest.approx(rv.accuracy.total.iloc[0]["actual"])
    assert summary["lessons"] == rv.lessons and summary["forecast_from_plan"] is False
    assert [r["check"] for r in summary["tracking"]] == AUDIT_CHECKS
    found = find_retrospectives(out.parent)
    assert [s["campaign"]["slug"] for s in found] == ["holiday-2025"]
    assert found[0]["next_budget_expected_gain"] == pytest.approx(rv.media.budget.attrs["gain"])
    assert found[0]["artifacts_dir"] == str(out / "artifacts")
    assert find_retrospectives(out.parent, exclude="holiday-2025") == []
    from_plan = dataclasses.replace(rv, accuracy=dataclasses.replace(rv.accuracy, forecast_source=R.PLAN_FORECAST_SOURCE))
    assert R.campaign_summary(run["ctx"].cfg, from_plan)["forecast_from_plan"] is True


def test_plan_forecast_artifact_is_loaded_when_it_covers_the_window(tmp_path):
    ctx = start_step("05_retrospective", CONFIG, str(small_sample()), str(tmp_path), 42)
    days = FA.day_range(START, END)
    fc = pd.DataFrame({"day": days, "metric": "revenue", "dimension": "total", "value": "all", "mean": 100.0,
                       "lo80": 90.0, "hi80": 110.0, "lo95": 80.0, "hi95": 120.0, "model": "test"})
    orders_rows = fc.assign(metric="orders", mean=5.0)
    write_artifact(pd.concat([fc, orders_rows], ignore_index=True), tmp_path, "forecast")
    loaded = R.load_forecast(ctx)
    assert loaded.source == R.PLAN_FORECAST_SOURCE
    assert loaded.frame is not None and set(loaded.frame["metric"]) == {"revenue"} and len(loaded.frame) == 61
    acc = R.accuracy(ctx, loaded)
    assert acc.total.attrs["source"] == "plan" and acc.total.iloc[0]["forecast"] == pytest.approx(6100.0)
    write_artifact(fc.iloc[:30], tmp_path, "forecast")
    short = R.load_forecast(ctx)
    assert short.frame is None and "does not cover every day" in short.source
    write_artifact(fc.drop(columns="metric"), tmp_path, "forecast")
    assert "lacks columns ['metric']" in R.load_forecast(ctx).source


# --------------------------------------------------------------------------------------------
# A season without any sale
# --------------------------------------------------------------------------------------------
def test_season_without_conversions_gives_defined_results(empty_run):
    r = empty_run
    cfg, attr, media, c, acc = r["ctx"].cfg, r["attr"], r["media"], r["customers"], r["acc"]
    assert attr.paths.stats["orders"] == 0 and attr.credit.empty and attr.agreement.empty
    assert c.new_vs_returning["customers"].sum() == 0 and not c.new_vs_returning.isna().any().any()
    assert acc.daily["actual"].sum() == 0 and not acc.daily[["actual", "forecast", "target"]].isna().any().any()
    # no spend in the window (the data's spend ends before it): no curves, no split, no gain
    assert media.skipped == "no media spend in the campaign window (01 Mar 2026 to 31 Mar 2026): returns and a " \
                            "budget split need spend on those days"
    assert media.budget.empty and media.model is None and media.efficiency["roas"].isna().all()
    assert R.describe_budget(media).startswith("No media spend in the campaign window")
    assert "next budget: expected gain" not in R.headline(r["review"])
    assert r["review"].incomplete["spend"] == media.skipped and cfg.budget.total > 0
    assert not media.efficiency[["spend", "conversions", "revenue"]].isna().any().any()
    assert list(r["inc"]["experiment_id"]) == ["xmas25_email_holdout"]  # the holdout exists; no outcome yet
    assert R.describe_customers(c) == "Nobody bought in the window: no customers to describe."
    assert R.describe_attribution(attr).startswith("No order in the window had a touch before it")
    assert not any(s.startswith(("Best channel", "Holdout")) for s in r["review"].lessons)


def test_season_without_conversions_archives_valid_json_and_says_why_charts_are_empty(empty_run):
    r = empty_run
    summary = _strict_json(r["ctx"].output_dir / "artifacts" / "summary.json")
    assert summary["revenue"]["actual"] == 0 and summary["revenue"]["mape"] is None  # no day with sales
    assert summary["attribution_share"] == {} and summary["notes"] == r["attr"].paths.notes
    figs = {"attribution": R.plot_attribution(r["attr"]), "curves": R.plot_response_curves(r["media"]),
            "daily": R.plot_actual_vs_forecast(r["acc"])}
    assert [t.get_text() for t in figs["attribution"].axes[0].texts] == ["No attributed conversions in the window"]
    assert [t.get_text() for t in figs["curves"].axes[0].texts] == ["No spend in the window"]
    assert not figs["attribution"].axes[0].axison and not figs["curves"].axes[0].axison  # no empty frame
    daily, cumulative = figs["daily"].axes
    assert daily.get_title() == "Daily net revenue" and not daily.lines[0].get_ydata().any()  # actual: all zero
    assert cumulative.get_title() == "Cumulative net revenue"
    for ax in (daily, cumulative):  # actual, forecast and target: one point per day of March
        assert [(line.get_label(), len(line.get_xdata())) for line in ax.lines] == [
            ("actual", 31), ("forecast", 31), ("target", 31)]
    total = r["acc"].daily.query("value == 'all'")
    assert list(cumulative.lines[1].get_ydata()) == pytest.approx(list(total["cum_forecast"]))
    assert total["cum_forecast"].iloc[-1] > 0  # the forecast line is not flat at zero like the actual one
    for fig in figs.values():
        plt.close(fig)


# --------------------------------------------------------------------------------------------
# Lessons from partial inputs
# --------------------------------------------------------------------------------------------
def _lessons(**kw) -> list[str]:
    empty = pd.DataFrame()
    args = {"accuracy_total": empty, "efficiency": empty, "incrementality": pd.DataFrame(columns=["iroas"]),
            "new_vs_returning": empty, "gaps": empty, "budget": empty}
    return R.highlights(**{**args, **kw})


def test_lessons_include_test_verdicts_and_lifecycle(tmp_path):
    assert R.read_test_decisions(tmp_path).empty
    write_artifact({"xmas25_aa": {"verdict": "no difference", "reason": "p = 0.6"}}, tmp_path, "experiment_decisions")
    dec = R.read_test_decisions(tmp_path)
    assert dec.to_dict("records") == [{"experiment_id": "xmas25_aa", "decision": "no difference (p = 0.6)"}]
    # 3 prospects buy for the first time, 2 lapsed customers come back, 4 active ones slip
    move = pd.DataFrame([[0, 3, 0, 0, 0], [0, 0, 2, 0, 0], [0, 0, 0, 4, 0]],
                        index=["prospect", "lapsed", "active"], columns=["prospect", "new", "active", "lapsing", "lapsed"])
    move = move.reindex(["not yet signed up", "prospect", "new", "active", "lapsing", "lapsed"], fill_value=0)
    lessons = _lessons(decisions=dec, movement=move)
    assert lessons == ["During the season 3 prospects made a first purchase, 2 lapsing or lapsed customers came "
                       "back, and 4 active customers slipped to lapsing.",
                       "Test xmas25_aa: no difference (p = 0.6)."]


def test_gap_lessons_skip_a_breakdown_with_one_value():
    gaps = pd.DataFrame({"dimension": ["country", "category", "category"], "value": ["IN", "toys", "books"],
                         "gap": [100.0, -20.0, 50.0]})
    assert _lessons(gaps=gaps) == ["By category: weakest against target toys (-$20.00), strongest books ($50.00)."]


def test_revenue_channel_and_budget_lessons_by_hand():
    total = pd.DataFrame({"actual": [900.0], "target": [1000.0], "gap_to_target": [-100.0]})
    eff = pd.DataFrame({"channel": ["email", "display", "affiliate"], "roas": [8.0, 1.5, float("nan")]})
    budget = pd.DataFrame({"channel": ["email"]})
    budget.attrs["gain"] = 250.0
    assert _lessons(accuracy_total=total, efficiency=eff, budget=budget) == [
        "Revenue $900: $100 below the target of $1,000.",
        "Best channel by attributed (not incremental) ROAS: email (8.0); worst: display (1.5).",
        "Recommended next-season split is expected to add $250 of incremental revenue over repeating this "
        "season's split."]
    budget.attrs["gain_interval"] = (-100.0, 600.0)
    assert _lessons(budget=budget) == [
        "Recommended next-season split is expected to add $250 (90 % interval -$100 to $600) of incremental revenue "
        "over repeating this season's split: not distinguishable from zero."]
    inc = pd.DataFrame({"experiment_id": ["h"], "iroas": [-7.3], "iroas_lo": [-20.0], "iroas_hi": [5.0],
                        "last_touch_roas": [94.2]})
    assert _lessons(incrementality=inc) == [
        "Holdout h: iROAS -7.3 (95 % CI -20.0 to 5.0), not distinguishable from zero vs attributed last-touch ROAS 94.2."]
