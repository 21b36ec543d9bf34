"""The index's executive summary (issue 20, item 2): three answers built from planted artifacts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from playbook.artifacts import write_artifact
from playbook.experiments.analysis import _RESULT_TYPES, RESULT_COLUMNS
from playbook.media import inseason as IS
from playbook.report import exec_charts
from playbook.report import executive as X
from playbook.report.index import build_index


def _forecast(days: int = 10, mean: float = 100.0, half: float = 20.0) -> pd.DataFrame:
    day = pd.date_range("2025-11-01", periods=days, freq="D")
    rows = []
    for metric, scale in (("revenue", 1.0), ("orders", 0.1)):
        rows.append(pd.DataFrame({"day": day, "metric": metric, "dimension": "total", "value": "all",
                                  "mean": mean * scale, "lo80": (mean - half) * scale, "hi80": (mean + half) * scale,
                                  "lo95": (mean - 2 * half) * scale, "hi95": (mean + 2 * half) * scale,
                                  "model": "regression"}))
    # a country row must not enter the total
    rows.append(rows[0].assign(dimension="country", value="US", mean=1e6))
    return pd.concat(rows, ignore_index=True)


def _targets(per_day: float, days: int = 10) -> pd.DataFrame:
    day = pd.date_range("2025-11-01", periods=days, freq="D")
    return pd.DataFrame({"day": day, "metric": "revenue", "channel": "all", "level": "target", "value": per_day})


def _plan(target: float | None = 1100.0, gain: list[float] | None = None) -> dict:
    return {"campaign": "x", "window": ["2025-11-01", "2025-11-10"], "forecast_revenue": 1000.0,
            "forecast_orders": 100.0, "revenue_target": target, "targets_configured": target is not None,
            "backtest": {"mase_model": 0.8, "mase_naive": 1.3, "folds": 3},
            "budget_gain_vs_last_season": gain}


def _budget() -> pd.DataFrame:
    return pd.DataFrame({"channel": ["paid_search", "display", "email"], "budget": [600.0, 300.0, 100.0],
                         "expected_revenue": [3000.0, 240.0, 500.0], "roas": [5.0, 0.8, 5.0],
                         "roas_low": [3.0, 0.5, 0.7], "roas_high": [7.0, 0.95, 9.0]})


@pytest.fixture()
def report(tmp_path: Path) -> Path:
    out = tmp_path / "report"
    write_artifact(_plan(gain=[50.0, -10.0, 120.0]), out, "plan")
    write_artifact(_forecast(), out, "forecast")
    write_artifact(_targets(110.0), out, "targets")
    write_artifact(_budget(), out, "budget_plan")
    (out / "01_plan.html").write_text("<html></html>")
    return out


def _texts(ans: X.Answer) -> list[str]:
    return [f.text for f in ans.findings]


def test_season_range_adds_daily_bounds_of_the_total_only() -> None:
    s = X.season_revenue(_forecast())
    assert s == {"mean": pytest.approx(1000.0), "lo": pytest.approx(800.0), "hi": pytest.approx(1200.0)}


@pytest.mark.parametrize(("target", "verdict"), [(800.0, X.WIN), (1000.0, X.UNCLEAR), (1200.0, X.UNCLEAR),
                                                 (1200.01, X.LOSS)])
def test_target_verdict_against_the_80_range(target: float, verdict: str) -> None:
    assert X.target_verdict(target, 800.0, 1200.0)[0] == verdict


def test_expect_answer_states_forecast_range_target_and_backtest(report: Path) -> None:
    ans = X.expect_answer(report, "USD")
    assert ans.missing is None
    assert _texts(ans)[0] == ("Expect $1,000 of net revenue from about 100 orders between 2025-11-01 and "
                              "2025-11-10 (80 % range $800 to $1,200).")
    assert ans.findings[1].verdict == X.UNCLEAR and "$1,100" in ans.findings[1].text
    assert ans.findings[2].verdict == X.WIN and "MASE 0.80 vs 1.30" in ans.findings[2].text
    assert ans.link == "01_plan.html#Targets"
    root = ET.fromstring(ans.chart)
    assert root.tag.endswith("svg") and "<script" not in ans.chart


def test_money_answer_gives_split_returns_with_intervals_and_an_undistinguishable_gain(report: Path) -> None:
    ans = X.money_answer(report, "USD")
    texts = _texts(ans)
    assert texts[0] == "Spend $1,000 across 3 channels: paid search 60%, display 30%, email 10%."
    roas = {f.text.split(" on ")[1].split(" expect")[0]: f for f in ans.findings if f.text.startswith("For every")}
    assert roas["paid search"].verdict == X.WIN      # 3.0-7.0: pays back
    assert roas["display"].verdict == X.LOSS         # 0.5-0.95: does not
    assert roas["email"].verdict == X.UNCLEAR        # 0.7-9.0 spans 1
    assert "(90 %: $3.00 to $7.00)" in roas["paid search"].text
    assert ans.findings[-1].verdict == X.UNCLEAR
    assert ans.findings[-1].text.endswith("not distinguishable from zero.")


def test_missing_plan_says_which_command_gives_it(tmp_path: Path) -> None:
    found = X.answers(tmp_path, "EUR")
    assert [a.missing is not None for a in found] == [True, True, True]
    assert "--only plan" in found[0].missing and "--only retrospective" in found[2].missing
    assert "<code>playbook run CONFIG --only plan</code>" in X.render_summary(found)


def test_tests_and_retrospective_answer_what_worked(report: Path) -> None:
    results = pd.DataFrame({"experiment_id": ["subject_line", "subject_line", "free_ship", "aa"],
                            "role": ["primary", "secondary", "primary", "primary"],
                            "metric": ["conversion", "revenue", "revenue", "conversion"],
                            "rel_lift": [0.12, 0.5, -0.02, 0.001], "rel_lo": [0.05, 0.1, -0.09, -0.02],
                            "rel_hi": [0.19, 0.9, 0.05, 0.02]})
    results = results.reindex(columns=RESULT_COLUMNS).assign(
        control="control", variant="B", n_control=1000, n_variant=1000, correction="none", note="",
        significant=None).fillna({"p_value": 0.5}).astype(_RESULT_TYPES)
    write_artifact(results, report, "experiment_results")
    write_artifact({"subject_line": {"verdict": "ship"}, "free_ship": {"verdict": "inconclusive"},
                    "aa": {"verdict": "failed: check the assignment"}}, report, "experiment_decisions")
    write_artifact({"kind": "retrospective", "revenue": {"actual": 900.0, "target": 1100.0, "forecast": 1000.0},
                    "incrementality": [{"channel": "email", "iroas": -2.0, "iroas_lo": -9.0, "iroas_hi": 6.0},
                                       {"channel": "display", "iroas": 3.0, "iroas_lo": 1.5, "iroas_hi": 4.0}],
                    "next_budget_expected_gain": 40.0, "next_budget_expected_gain_interval": [10.0, 70.0]},
                   report, "summary")
    (report / "05_retrospective.html").write_text("<html></html>")
    ans = X.worked_answer(report, "USD")
    by_start = {f.text.split(":")[0]: f for f in ans.findings}
    assert by_start["Test subject_line"].verdict == X.WIN
    assert "conversion +12.0% (95 %: +5.0% to +19.0%)" in by_start["Test subject_line"].text
    assert by_start["Test free_ship"].verdict == X.UNCLEAR
    assert by_start["Test aa"].verdict == X.LOSS
    revenue = next(f for f in ans.findings if f.text.startswith("Revenue was"))
    assert revenue.verdict == X.LOSS and "$200 below the target of $1,100" in revenue.text
    assert by_start["Holdout on email"].verdict == X.UNCLEAR
    assert "not distinguishable from zero" in by_start["Holdout on email"].text
    assert "-$2.00" in by_start["Holdout on email"].text  # never a bare negative without its interval
    assert by_start["Holdout on display"].verdict == X.WIN
    gain = next(f for f in ans.findings if f.text.startswith("Next season"))
    assert gain.verdict == X.WIN and "$40" in gain.text
    assert ans.findings[0] is revenue  # the season's outcome leads, then the tests (decisions before A/A)
    assert [f.text.split(":")[0] for f in ans.findings if f.text.startswith("Test")] == [
        "Test subject_line", "Test aa", "Test free_ship"]
    short = X.worked_answer(report, "USD", max_tests=1)
    assert short.findings[-1].text == "2 more test(s) on the test page: aa (failed: check the assignment), free ship (inconclusive)."
    assert ans.link == "05_retrospective.html#Actual-against-forecast-and-target"
    assert ET.fromstring(ans.chart).tag.endswith("svg")


def test_names_from_data_are_escaped_in_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write_artifact(_plan(gain=None), out, "plan")
    write_artifact(_forecast(), out, "forecast")
    write_artifact(_budget().assign(channel=["<script>alert(1)</script>", "a&b", "email"]), out, "budget_plan")
    page = X.render_summary(X.answers(out, "USD"))
    assert "<script>" not in page and "&lt;script&gt;" in page and "a&amp;b" in page


def test_charts_are_deterministic_svg(report: Path) -> None:
    a = exec_charts.budget_chart(_budget(), "USD")
    b = exec_charts.budget_chart(_budget(), "USD")
    assert a == b and len(a) < 40_000
    assert exec_charts.data_uri(a).startswith("data:image/svg+xml;base64,")


def test_index_leads_with_the_summary_and_records_it(report: Path) -> None:
    page = build_index(report, {"01_plan": "ok"}, "Holiday <2025>", currency="USD").read_text()
    assert page.index('id="summary"') < page.index('id="steps"') < page.index('class="step"')
    assert page.count('class="card"') == 3 and "Holiday &lt;2025&gt;" in page
    summary = (report / "summary.json").read_text()
    assert "Expect $1,000 of net revenue" in summary
    assert re.search(r'<li class="unclear">This split is expected to earn \$50', page)
    assert np.isfinite(len(page))


def test_gap_drivers_name_the_breakdown_with_the_largest_gaps() -> None:
    records = [{"dimension": "country", "value": "US", "gap": -300.0}, {"dimension": "country", "value": "GB",
                                                                        "gap": 50.0},
               {"dimension": "country", "value": "DE", "gap": -20.0},
               {"dimension": "category", "value": "home_garden", "gap": -100.0},
               {"dimension": "category", "value": "toys", "gap": None}]
    assert X.gap_drivers(records, "USD") == "Largest gaps to target by country: US -$300, GB +$50."
    assert X.gap_drivers([], "USD") is None
    assert X.gap_drivers([{"dimension": "country", "value": "US", "gap": 0.0}], "USD") is None


def test_tracking_adds_where_the_season_should_land(report: Path) -> None:
    write_artifact({"as_of": "2025-11-05", "counted_to": "2025-11-05", "metrics": {"revenue": {
        "actual": 520.0, "forecast": 500.0, "range_low": 900.0, "range_high": 1050.0, "season_target": 1100.0,
        "verdict": "behind"}}},
        report, "track")
    (report / "06_track.html").write_text("<html></html>")
    ans = X.expect_answer(report, "USD")
    last = ans.findings[-1]
    assert last.text == ("As of 2025-11-05: $520 so far against $500 forecast to date; the season should land "
                         "between $900 and $1,050, below the target of $1,100.")
    assert last.verdict == X.LOSS and ans.link == "06_track.html#Projected-landing-of-the-season"
    assert X.tracking_finding({"metrics": {}}, "USD") is None


def test_stranger_shop_without_target_budget_or_tests_reads_plainly(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write_artifact({**_plan(target=None), "backtest": {"mase_model": 0.9, "mase_naive": 1.6, "folds": 1},
                    "skipped": {"budget": "No budget split or pacing: the campaign file sets no budget."}}, out, "plan")
    write_artifact(_forecast(), out, "forecast")
    write_artifact({"kind": "retrospective", "revenue": {"actual": 1500.0, "target": 1000.0, "forecast": 1000.0}},
                   out, "summary")
    expect, money, worked = X.answers(out, "EUR")
    assert "In 1 backtest on earlier seasons" in expect.findings[-1].text
    assert money.missing == "No budget split or pacing: the campaign file sets no budget."
    assert worked.findings[0].text == "Revenue was €1,500, €500 above the forecast of €1,000; no target was set."


def test_track_verdicts_follow_the_track_step() -> None:
    assert set(X.TRACK_VERDICTS) == {IS.AHEAD, IS.BEHIND, IS.ON_TRACK}
