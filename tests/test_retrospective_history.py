"""History-aware retrospectives (issue 14): no year-over-year figure without a comparable period,
no return on spend without spend, no invented forecast without the plan's, and a later plan that
does not learn from the parts a retrospective could not measure."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from playbook.artifacts import read_artifact, read_step_summary, write_artifact
from playbook.planning import accuracy as FA
from playbook.planning import lessons as LS
from playbook.steps import retrospective as R
from playbook.steps.context import finish_step, start_step
from tests.sample_data import read, small_sample

CONFIG = "campaigns/holiday-2025.yaml"
#: First day kept in the short-history copy: last year's window (02 Nov 2024 .. 01 Jan 2025) lies before it.
DATA_START = "2025-03-01"
NO_COMPARISON = "no comparable period: orders start on 01 Mar 2025, last year's window is 02 Nov 2024 to 01 Jan 2025"
#: Bounds of a later campaign's plan (channel -> min, max) and its total.
BOUNDS = {"paid_search": (0.0, 60_000.0), "paid_social": (0.0, 60_000.0), "email": (0.0, 60_000.0)}


def _strict(obj_or_path) -> dict:
    """Parse JSON failing on NaN/Infinity; also reject them in already-parsed dicts."""
    def bad(token):
        raise ValueError(f"non-JSON token {token}")
    text = obj_or_path.read_text(encoding="utf-8") if hasattr(obj_or_path, "read_text") else json.dumps(obj_or_path)
    return json.loads(text, parse_constant=bad)


def _finite_everywhere(obj) -> bool:
    if isinstance(obj, dict):
        return all(_finite_everywhere(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite_everywhere(v) for v in obj)
    return not isinstance(obj, float) or math.isfinite(obj)


def _run(ctx) -> dict:
    fc = R.load_forecast(ctx)
    acc = R.accuracy(ctx, fc)
    attr = R.attribution(ctx)
    inc = R.incrementality(ctx, attr)
    media = R.media(ctx, attr)
    yoy = R.window_vs_last_year(ctx)
    review = R.review(ctx, yoy=yoy, accuracy=acc, attribution=attr, incrementality=inc, media=media,
                      customers=R.customers(ctx), audit=R.tracking_audit(ctx, attr))
    R.write_artifacts(ctx, review)
    finish_step(ctx, R.headline(review), notes=R.notes(review))
    return {"ctx": ctx, "fc": fc, "acc": acc, "media": media, "yoy": yoy, "review": review,
            "summary": _strict(ctx.output_dir / "artifacts" / "summary.json")}


@pytest.fixture(scope="module")
def short_data(tmp_path_factory):
    """The sample with orders only from 01 Mar 2025 (10 months before the window's end) and an
    empty spend table (no media spend anywhere)."""
    out = tmp_path_factory.mktemp("short") / "data"
    shutil.copytree(small_sample(), out)
    o = read(out, "orders")
    o = o[o["order_ts"] >= pd.Timestamp(DATA_START, tz="UTC")]
    o.to_parquet(out / "orders.parquet", index=False)
    items = read(out, "order_items")
    items[items["order_id"].isin(o["order_id"])].to_parquet(out / "order_items.parquet", index=False)
    read(out, "spend").iloc[0:0].to_parquet(out / "spend.parquet", index=False)
    (out / "truth.json").unlink()  # not the synthetic world any more
    return out


@pytest.fixture(scope="module")
def short_run(short_data, tmp_path_factory):
    """05 alone (no 01_plan) on the short history, published under ``<tmp>/reports/holiday-2025``."""
    reports = tmp_path_factory.mktemp("short_retro") / "reports"
    return _run(start_step("05_retrospective", CONFIG, str(short_data), str(reports / "holiday-2025"), 42))


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """05 on the full sample twice: without a plan forecast, and with one written by hand."""
    root = tmp_path_factory.mktemp("sample_retro")
    no_plan = _run(start_step("05_retrospective", CONFIG, str(small_sample()), str(root / "a" / "holiday-2025"), 42))
    out = root / "b" / "holiday-2025"
    days = FA.day_range("2025-11-01", "2025-12-31")
    fc = pd.DataFrame({"day": days, "metric": "revenue", "dimension": "total", "value": "all", "mean": 1000.0,
                       "lo80": 900.0, "hi80": 1100.0, "lo95": 800.0, "hi95": 1200.0, "model": "test"})
    write_artifact(fc, out, "forecast")
    with_plan = _run(start_step("05_retrospective", CONFIG, str(small_sample()), str(out), 42))
    return {"no_plan": no_plan, "with_plan": with_plan}


# --------------------------------------------------------------------------------------------
# The comparable period
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("first", "expected"), [
    ("2024-11-02", None),                      # first order on the first day of last year's window
    ("2023-01-01", None),
    ("2024-11-03", "no comparable period: orders start on 03 Nov 2024, last year's window is 02 Nov 2024 to "
                   "01 Jan 2025"),
    (None, "no comparable period: there are no orders in the data (last year's window is 02 Nov 2024 to "
           "01 Jan 2025)"),
], ids=["boundary", "covered", "one-day-late", "no-orders"])
def test_no_comparable_period_rule(first, expected):
    assert FA.no_comparable_period(first, "2025-11-01", "2025-12-31") == expected


def test_window_before_the_data_gives_no_year_over_year_figure(short_run):
    yoy, rv, ctx = short_run["yoy"], short_run["review"], short_run["ctx"]
    assert yoy.attrs["no_comparison"] == NO_COMPARISON
    assert yoy["last_year"].isna().all() and yoy["change"].isna().all()  # undefined, not 0
    o = read(Path(short_run["ctx"].source.location), "orders")
    window = o[(o["order_ts"] >= pd.Timestamp("2025-11-01", tz="UTC")) & (o["order_ts"] < pd.Timestamp("2026-01-01", tz="UTC"))]
    rev = yoy.set_index("metric").loc["revenue", "this_year"]
    assert rev == pytest.approx(window["revenue"].sum())  # this season's figure is still there
    text = R.describe_yoy(yoy)
    assert NO_COMPARISON in text and "%" not in text
    by_channel = R.window_vs_last_year(ctx, by="channel")
    assert by_channel["change"].isna().all() and by_channel.attrs["no_comparison"] == NO_COMPARISON
    daily = R.daily_vs_last_year(ctx)
    assert daily["cum_last_year"].isna().all() and NO_COMPARISON in R.describe_window_chart(daily)
    fig = R.plot_window_comparison(daily)
    assert [line.get_label() for line in fig.axes[0].lines] == ["this season"]
    head = R.headline(rv)
    assert "revenue vs last year" not in head and head["window revenue"]
    assert rv.incomplete["last_year"] == NO_COMPARISON
    assert short_run["summary"]["skipped"]["comparison_with_last_year"] == NO_COMPARISON


def test_without_plan_forecast_or_last_year_there_is_no_invented_forecast(short_run):
    acc, fc, rv = short_run["acc"], short_run["fc"], short_run["review"]
    assert fc.frame is None  # 01_plan did not run into this folder
    total = acc.total.iloc[0]
    assert total["actual"] > 0
    assert all(np.isnan(total[c]) for c in ("forecast", "target", "gap_to_target", "mape", "mase", "coverage80"))
    assert acc.daily["forecast"].isna().all() and acc.by == {} and acc.gaps.empty
    reason = acc.skipped["forecast_accuracy"]
    assert reason.startswith("no plan forecast for this campaign") and NO_COMPARISON in reason
    assert "no forecast and so no target" in R.describe_vs_target(acc)
    head = R.headline(rv)
    assert not any("MAPE" in k or "target" in k for k in head)
    assert not any(s.startswith("Revenue ") for s in rv.lessons)  # no "below the target of $0"
    fig = R.plot_actual_vs_forecast(acc)
    assert [line.get_label() for line in fig.axes[0].lines] == ["actual"]
    assert rv.incomplete["forecast"] == reason


def test_no_spend_gives_no_return_no_split_and_no_gain(short_run):
    media, rv, summary = short_run["media"], short_run["review"], short_run["summary"]
    assert media.skipped == "no media spend in the data: add a spend table to see returns and a budget split"
    assert media.budget.empty and media.model is None and media.curve_table.empty
    assert media.efficiency["roas"].isna().all() and (media.efficiency["spend"] == 0).all()
    assert R.describe_budget(media) == ("No media spend in the data: add a spend table to see returns and a budget "
                                        "split.")
    assert R.describe_curves(media).startswith("No response curves: no media spend in the data")
    head = R.headline(rv)
    assert not any("gain" in k or "ROAS" in k for k in head)
    assert not any("ROAS" in s or "next-season split" in s for s in rv.lessons)
    assert summary["next_budget"] == [] and summary["next_budget_expected_gain"] is None
    assert summary["incomplete"]["spend"] == media.skipped
    assert summary["skipped"]["spend_efficiency_and_budget"] == media.skipped
    assert all(c["roas"] is None for c in summary["channels"])


def test_summaries_hold_no_nan_or_inf(short_run):
    out = short_run["ctx"].output_dir
    assert _finite_everywhere(short_run["summary"])
    step = read_step_summary(out, "05_retrospective")
    assert step is not None and _finite_everywhere(_strict(step))
    assert not any(v in ("nan", "inf", "NaN", "$nan") for v in step["headline"].values())
    assert any(n.startswith("Skipped spend efficiency and budget: no media spend") for n in step["notes"])


# --------------------------------------------------------------------------------------------
# A later plan reading these retrospectives
# --------------------------------------------------------------------------------------------
def _later_plan(reports_root):
    found = LS.find_retrospectives(reports_root)
    chosen, _ = LS.select_retrospective(found, "2026-11-01", ["US"])
    assert chosen is not None
    table = read_artifact(reports_root / chosen["campaign"]["slug"], "next_budget.parquet")
    nb = LS.retro_next_budget(chosen, table)
    bounds, caps = LS.retro_budget_bounds(BOUNDS, 100_000.0, nb)
    return chosen, nb, bounds, caps, LS.retro_forecast_bias(chosen)


def test_incomplete_retrospective_is_not_used_by_a_later_plan(short_run):
    chosen, nb, bounds, caps, bias = _later_plan(short_run["ctx"].output_dir.parent)
    assert set(chosen["incomplete"]) == {"forecast", "spend", "last_year"}
    assert nb.empty and bias is None
    assert bounds == BOUNDS and not caps["capped"].any()  # no cap from "marginal ROAS 0.00" on zero spend
    budget_text = LS.describe_retro_budget(caps, "Holiday 2025")
    assert budget_text.startswith("The Holiday 2025 retrospective is not used for the budget: no media spend in the data")
    targets_text = LS.describe_retro_targets(bias, chosen, pd.DataFrame(columns=["metric"]))
    assert targets_text.startswith("The Holiday 2025 retrospective is not used for the targets")
    assert "no plan forecast for this campaign" in targets_text
    assert LS.describe_unused(chosen) == (
        "The Holiday 2025 retrospective is incomplete, so it is not used for the forecast correction of the targets "
        f"({chosen['incomplete']['forecast']}); the budget split and channel caps (no media spend in the data: add a "
        "spend table to see returns and a budget split).")


def test_retrospective_without_plan_is_incomplete_for_the_forecast_only(sample_runs):
    r = sample_runs["no_plan"]
    assert r["summary"]["incomplete"] == {"forecast": R.NO_PLAN_FORECAST}
    assert "last_year" not in r["summary"]["incomplete"] and r["yoy"]["change"].notna().all()
    chosen, nb, _, caps, bias = _later_plan(r["ctx"].output_dir.parent)
    assert bias is None  # the seasonal-naive baseline's error says nothing about the plan's model
    assert "is not used for the targets" in LS.describe_retro_targets(bias, chosen, pd.DataFrame(columns=["metric"]))
    assert not nb.empty and nb["recommended"].sum() == pytest.approx(r["media"].budget["recommended"].sum())
    assert LS.describe_unused(chosen).startswith("The Holiday 2025 retrospective is incomplete, so it is not used "
                                                 "for the forecast correction of the targets (no plan forecast")
    assert "budget split" not in LS.describe_unused(chosen)  # spend was there: its split is still used


def test_complete_retrospective_is_still_used(sample_runs):
    r = sample_runs["with_plan"]
    assert r["summary"]["incomplete"] == {} and r["summary"]["skipped"] == {} and r["summary"]["forecast_from_plan"]
    chosen, nb, _, caps, bias = _later_plan(r["ctx"].output_dir.parent)
    actual = r["acc"].total.iloc[0]["actual"]
    assert bias == pytest.approx(float(np.clip(actual / 61_000.0 - 1, -0.5, 0.5)))
    assert list(nb["channel"]) == list(r["media"].budget["channel"])
    assert LS.describe_unused(chosen) == ""
    assert "forecast MAPE (daily)" in R.headline(r["review"])  # the plan's forecast, labelled as such
    lessons = LS.retro_lessons([chosen])
    assert list(lessons["lesson"]) == r["review"].lessons


def test_older_summary_without_spend_caps_nothing():
    """A summary written before ``incomplete`` existed, as the real-data run published it."""
    old = {"kind": "retrospective", "campaign": {"slug": "x", "name": "Holiday 2024", "start": "2024-11-01",
                                                 "end": "2024-12-31", "countries": ["US"]},
           "forecast_from_plan": False, "revenue": {"actual": 100.0, "forecast": 6.0},
           "channels": [{"channel": c, "spend": 0.0, "roas": None} for c in BOUNDS],
           "next_budget": [{"channel": c, "recommended": 10.0, "marginal_roas_recommended": 0.0} for c in BOUNDS],
           "lessons": ["Revenue $100: $5 above the target of $95.",
                       "Recommended next-season split is expected to add $0.00 of attributed revenue over repeating "
                       "this season's split."]}
    assert LS.incomplete_parts(old) == {"forecast": LS.NO_PLAN_FORECAST, "spend": LS.NO_SPEND}
    nb = LS.retro_next_budget(old)
    bounds, caps = LS.retro_budget_bounds(BOUNDS, 100_000.0, nb)
    assert bounds == BOUNDS and not caps["capped"].any()
    assert LS.retro_forecast_bias(old) is None
    # no plan forecast: the lesson judged against a baseline target is not passed on either
    assert list(LS.retro_lessons([old])["lesson"]) == []
    with_forecast = {**old, "forecast_from_plan": True, "revenue": {"actual": 100.0, "forecast": 90.0}}
    assert list(LS.retro_lessons([with_forecast])["lesson"]) == ["Revenue $100: $5 above the target of $95."]
    # the same summary with spend: its point estimates alone cap nothing; with intervals below 1 they do
    spent = {**old, "channels": [{"channel": c, "spend": 50.0} for c in BOUNDS]}
    _, caps = LS.retro_budget_bounds(BOUNDS, 100_000.0, LS.retro_next_budget(spent))
    assert not caps["capped"].any()
    sure = {**spent, "next_budget": [{**r, "marginal_roas_recommended_hi": 0.5} for r in spent["next_budget"]]}
    _, caps = LS.retro_budget_bounds(BOUNDS, 100_000.0, LS.retro_next_budget(sure))
    assert caps["capped"].all()
