"""In-season tracking (issue 20 item 6): the computations on a planted series, the as-of rules, the
``--only track`` wiring (never in a default run, ``as_of`` only for its notebook), and one end-to-end
run of the plan then ``--only track --as-of`` on a small generated sample."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from playbook.cli import build_parser, main
from playbook.errors import ConfigError, DataError, RunError
from playbook.media import inseason as IS
from playbook.report.format import fmt_money
from playbook.run import campaign as runner
from playbook.run.graph import OPTIONAL_STEPS, STEPS, params_for, resolve_steps, run_graph
from playbook.run.parameters import check_run_parameters
from playbook.run.results import FAILED, OK, SKIPPED, StepResult
from playbook.steps import track
from tests.browser import browser, visit
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
START, END = dt.date(2025, 11, 1), dt.date(2025, 11, 10)


# --------------------------------------------------------------------------------------------
# A planted season: 10 days, forecast 100 a day (80 % interval 80-120), target 110 a day
# --------------------------------------------------------------------------------------------
def _forecast(mean=100.0, low=80.0, high=120.0) -> pd.DataFrame:
    days = pd.date_range("2025-11-01", "2025-11-10")
    rows = []
    for metric, scale in (("revenue", 1.0), ("orders", 0.1)):
        rows.append(pd.DataFrame({"day": days, "metric": metric, "dimension": "total", "value": "all",
                                  "mean": mean * scale, "lo80": low * scale, "hi80": high * scale,
                                  "lo95": low * scale - 10, "hi95": high * scale + 10, "model": "planted"}))
    # a country row must not count in the total
    rows.append(pd.DataFrame({"day": days, "metric": "revenue", "dimension": "country", "value": "US",
                              "mean": 999.0, "lo80": 0.0, "hi80": 9999.0, "lo95": 0.0, "hi95": 9999.0,
                              "model": "planted"}))
    return pd.concat(rows, ignore_index=True)


def _targets(per_day=110.0) -> pd.DataFrame:
    days = pd.date_range("2025-11-01", "2025-11-10")
    return pd.concat([
        pd.DataFrame({"day": days, "metric": "revenue", "channel": "all", "level": "target", "value": per_day}),
        pd.DataFrame({"day": days, "metric": "revenue", "channel": "all", "level": "base", "value": 100.0}),
        pd.DataFrame({"day": days, "metric": "revenue", "channel": "web", "level": "target", "value": 50.0}),
    ], ignore_index=True)


def _actual(per_day: float, days: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"day": pd.date_range("2025-11-01", periods=days), "revenue": per_day,
                         "orders": per_day / 10})


def _track(per_day: float, as_of: dt.date, target_per_day: float = 110.0):
    asof = IS.resolve_as_of(as_of, START, END, END)
    fc = IS.forecast_total(_forecast(), "revenue")
    daily = _actual(per_day)
    td = IS.to_date(fc, IS.actual_to_date(daily, "revenue", asof), "revenue", asof,
                    IS.season_target(_targets(target_per_day), "revenue"))
    return asof, td, IS.landing(fc, td, asof)


def test_to_date_and_landing_behind_target_exactly():
    asof, td, land = _track(90.0, dt.date(2025, 11, 4))
    assert asof.days_counted == 4 and land.remaining_days == 6
    assert td.actual == 360.0
    assert (td.forecast.mean, td.forecast.low, td.forecast.high) == (400.0, 320.0, 480.0)
    assert td.season_target == 1100.0 and td.target == pytest.approx(440.0)  # 1100 x 400 / 1000
    assert td.pace == pytest.approx(0.9)
    assert (land.projected.mean, land.projected.low, land.projected.high) == (960.0, 840.0, 1080.0)
    assert land.paced is not None
    assert (land.paced.mean, land.paced.low, land.paced.high) == pytest.approx((900.0, 792.0, 1008.0))
    assert (land.low, land.high) == pytest.approx((792.0, 1080.0))
    assert land.verdict == IS.BEHIND  # 1,080 < 1,100


def test_landing_on_track_when_the_range_spans_the_target():
    _, td, land = _track(100.0, dt.date(2025, 11, 4))
    assert td.pace == 1.0 and (land.low, land.high) == (880.0, 1120.0)
    assert land.verdict == IS.ON_TRACK


def test_landing_ahead_uses_the_envelope_of_both_methods():
    _, td, land = _track(150.0, dt.date(2025, 11, 4), target_per_day=100.0)
    assert (land.projected.mean, land.projected.low, land.projected.high) == (1200.0, 1080.0, 1320.0)
    assert land.paced is not None and land.paced.mean == pytest.approx(1500.0)
    assert (land.low, land.high) == pytest.approx((1080.0, 1680.0))
    assert land.verdict == IS.AHEAD  # 1,080 > 1,000


def test_after_the_last_day_the_landing_is_the_actual():
    _, td, land = _track(105.0, dt.date(2025, 11, 10))
    assert land.remaining_days == 0
    assert land.projected == IS.Span(1050.0, 1050.0, 1050.0) and (land.low, land.high) == (1050.0, 1050.0)
    assert land.verdict == IS.BEHIND  # 1,050 < 1,100, with nothing left to forecast


def test_verdict_without_target_and_the_cumulative_frame():
    assert IS.verdict(1.0, 2.0, None) == IS.NO_TARGET
    asof = IS.resolve_as_of(dt.date(2025, 11, 3), START, END, END)
    cum = IS.cumulative(IS.forecast_total(_forecast(), "revenue"), _actual(90.0), "revenue", asof, 1100.0)
    assert list(cum["actual"].iloc[:3]) == [90.0, 180.0, 270.0] and cum["actual"].iloc[3:].isna().all()
    assert cum["forecast"].iloc[-1] == 1000.0 and cum["target"].iloc[-1] == pytest.approx(1100.0)
    assert (cum["low"].iloc[2], cum["high"].iloc[2]) == (240.0, 360.0)


def test_actual_to_date_ignores_days_outside_the_counted_days():
    daily = pd.concat([_actual(90.0), pd.DataFrame({"day": [pd.Timestamp("2025-10-31")], "revenue": [1e6],
                                                    "orders": [1.0]})])
    asof = IS.resolve_as_of(dt.date(2025, 11, 2), START, END, END)
    assert IS.actual_to_date(daily, "revenue", asof) == 180.0


# --------------------------------------------------------------------------------------------
# The as-of day
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["05/12/2025", "2025-13-01", "yesterday", 20251205])
def test_as_of_must_be_a_date(value):
    with pytest.raises(ConfigError, match=r"as_of must be a calendar day written YYYY-MM-DD"):
        IS.parse_as_of(value)


def test_as_of_parsing_accepts_dates_and_empty():
    assert IS.parse_as_of(" 2025-12-05 ") == dt.date(2025, 12, 5)
    assert IS.parse_as_of(pd.Timestamp("2025-12-05 13:00")) == dt.date(2025, 12, 5)
    assert IS.parse_as_of("") is None and IS.parse_as_of(None) is None


def test_as_of_before_the_season_is_refused():
    with pytest.raises(ConfigError, match=r"before the season starts .*nothing to track yet"):
        IS.resolve_as_of(dt.date(2025, 10, 31), START, END, END)


def test_as_of_after_the_season_is_clamped_and_said():
    asof = IS.resolve_as_of(dt.date(2026, 1, 15), START, END, dt.date(2026, 1, 31))
    assert asof.day == END and asof.counted_to == END
    assert any("after the season's end" in n and "10 Nov 2025" in n for n in asof.notes)


def test_data_ending_before_the_as_of_day_counts_to_the_data():
    asof = IS.resolve_as_of(dt.date(2025, 11, 8), START, END, dt.date(2025, 11, 5))
    assert asof.day == dt.date(2025, 11, 8) and asof.counted_to == dt.date(2025, 11, 5)
    assert any("actual is counted to 05 Nov 2025" in n for n in asof.notes)
    _, td, land = _track(100.0, dt.date(2025, 11, 5))
    assert land.remaining_days == 5


def test_without_as_of_the_data_last_day_is_used_and_data_before_the_season_is_refused():
    asof = IS.resolve_as_of(None, START, END, dt.date(2025, 11, 6))
    assert asof.day == asof.counted_to == dt.date(2025, 11, 6) and "No as-of day given" in asof.notes[0]
    with pytest.raises(DataError, match=r"before the season starts"):
        IS.resolve_as_of(None, START, END, dt.date(2025, 10, 1))


def test_without_as_of_past_the_season_end_is_one_note():
    asof = IS.resolve_as_of(None, START, END, dt.date(2025, 11, 20))
    assert asof.day == asof.counted_to == END
    assert asof.notes == ("No as-of day given: tracking runs to the data's last day, 20 Nov 2025, which is after "
                          "the season's end: everything is counted to the season's last day, 10 Nov 2025.",)


@pytest.mark.parametrize(("per_day", "target", "words"), [
    (90.0, 110.0, "**behind target**: even the high end ($1,080) is below the season target ($1,100)"),
    (100.0, 110.0, "**on track, not distinguishable from the target**: the range $880 to $1,120 spans the season "
                   "target ($1,100); the central projection is below it"),
    (150.0, 100.0, "**ahead of target**: even the low end ($1,080) is above the season target ($1,000)"),
])
def test_landing_sentence_per_verdict(per_day, target, words):
    asof, td, land = _track(per_day, dt.date(2025, 11, 4), target_per_day=target)
    pr = track.Progress({"revenue": td.actual, "orders": 0.0}, {"revenue": td}, {"revenue": land})
    text = track.describe_landing(pr, "USD")
    assert text.startswith(f"Projected season revenue: **{fmt_money(land.projected.mean)}** (80 % interval")
    assert words in text


def test_plan_missing_says_so_and_skips():
    pr = track.progress(track.Plan(missing=track.NO_PLAN), _actual(90.0), IS.resolve_as_of(dt.date(2025, 11, 2),
                                                                                          START, END, END))
    assert pr.actual == {"revenue": 180.0, "orders": 18.0} and pr.to_date == {}
    assert track.describe_landing(pr).startswith("No projection: The plan step has not run")
    assert track.skipped(pr) == track.NO_PLAN.rstrip(".")


# --------------------------------------------------------------------------------------------
# Pacing
# --------------------------------------------------------------------------------------------
def test_pacing_to_date_against_the_plan():
    days = pd.date_range("2025-11-01", "2025-11-10")
    plan = pd.concat([pd.DataFrame({"day": days, "channel": "search", "spend": 10.0}),
                      pd.DataFrame({"day": days, "channel": "social", "spend": 20.0})], ignore_index=True)
    spend = pd.DataFrame({"day": list(pd.date_range("2025-11-01", periods=4)) * 2 + [pd.Timestamp("2025-11-05"),
                                                                                    pd.Timestamp("2025-11-02")],
                          "channel": ["search"] * 4 + ["social"] * 4 + ["search", "tv"],
                          "spend": [10.5] * 4 + [5.0] * 4 + [1e6, 7.0]})
    asof = IS.resolve_as_of(dt.date(2025, 11, 4), START, END, END)
    t = IS.pacing_to_date(plan, spend, asof).set_index("channel")
    assert list(t.index) == ["search", "social", "tv"]
    assert t.loc["search", "season_budget"] == 100.0 and t.loc["search", "planned_to_date"] == 40.0
    assert t.loc["search", "spent_to_date"] == 42.0 and t.loc["search", "status"] == "on pace"  # the 5th: later
    assert t.loc["social", "pace"] == pytest.approx(0.25) and t.loc["social", "status"].startswith("behind")
    assert t.loc["social", "difference"] == -60.0
    assert pd.isna(t.loc["tv", "season_budget"]) and t.loc["tv", "status"] == "not in the plan"


def test_spend_without_a_pacing_plan_is_not_called_behind():
    asof = IS.resolve_as_of(dt.date(2025, 11, 4), START, END, END)
    spend = pd.DataFrame({"day": pd.date_range("2025-11-01", periods=2), "channel": "search", "spend": 5.0})
    pc = track.Pacing(IS.pacing_to_date(pd.DataFrame(columns=["day", "channel", "spend"]), spend, asof), "No plan.")
    assert pc.table["status"].tolist() == ["not in the plan"]
    assert track.describe_pacing(pc) == ("Spend to date is $10.00; there is no pacing plan to compare it with. "
                                         "No plan.")


def test_pace_status_thresholds():
    assert IS.pace_status(1.1) == "on pace" and IS.pace_status(0.9) == "on pace"
    assert IS.pace_status(1.11).startswith("ahead") and IS.pace_status(0.89).startswith("behind")
    assert IS.pace_status(float("nan")) == "no plan to date"


# --------------------------------------------------------------------------------------------
# Wiring: --only, parameters, the CLI
# --------------------------------------------------------------------------------------------
def test_default_run_never_includes_tracking():
    assert resolve_steps(None) == list(STEPS) and "06_track" not in resolve_steps(None)
    assert resolve_steps([]) == list(STEPS)
    assert OPTIONAL_STEPS == ("06_track",)


@pytest.mark.parametrize("name", ["track", "6", "06", "06_track", "06_track.ipynb", "TRACK"])
def test_only_track_aliases(name):
    assert resolve_steps(name) == ["06_track"]


def test_only_plan_and_track_keeps_order_and_dependency():
    assert resolve_steps("track,plan") == ["01_plan", "06_track"]
    assert run_graph(["01_plan", "06_track"]) == {"01_plan": (), "06_track": ("01_plan",)}
    assert run_graph(["06_track"]) == {"06_track": ()}
    with pytest.raises(RunError, match=r"Unknown step 'trak'.*'track'"):
        resolve_steps("trak")


def test_as_of_reaches_only_the_track_notebook():
    params = {"config_path": "c.yaml", "output_dir": "", "seed": 1, "as_of": "2025-12-05"}
    assert params_for("06_track", params) == params
    assert params_for("01_plan", params) == {"config_path": "c.yaml", "output_dir": "", "seed": 1}


def test_run_parameters_are_checked_per_step():
    base = {"config_path": "c.yaml", "output_dir": "", "seed": 1}
    check_run_parameters(NOTEBOOKS, list(STEPS), base)  # the five notebooks as before
    check_run_parameters(NOTEBOOKS, ["01_plan", "06_track"], {**base, "as_of": "2025-12-05"})
    with pytest.raises(RunError, match=r"as_of is a parameter of the 06_track step only.*--only track"):
        check_run_parameters(NOTEBOOKS, ["01_plan"], {**base, "as_of": "2025-12-05"})
    with pytest.raises(RunError, match=r"Unknown parameter\(s\) \['as_off'\] for notebook 06_track"):
        check_run_parameters(NOTEBOOKS, ["06_track"], {**base, "as_off": "2025-12-05"})


def test_cli_refuses_a_bad_as_of_and_as_of_without_track(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["run", "c.yaml", "--only", "track", "--as-of", "5 Dec"])
    assert exc.value.code == 2 and "expected a calendar day written YYYY-MM-DD" in capsys.readouterr().err
    assert build_parser().parse_args(["run", "c.yaml", "--as-of", "2025-12-05"]).as_of == "2025-12-05"
    assert main(["run", "c.yaml", "--only", "plan", "--as-of", "2025-12-05"]) != 0
    assert "--as-of applies to the in-season tracking step only" in capsys.readouterr().err


def test_run_refuses_an_as_of_before_the_season(kernel_env, tmp_path):
    cfg = SimpleNamespace(slug="t", output_dir=tmp_path / "reports" / "t", currency="USD",
                          data=SimpleNamespace(source=str(tmp_path), timezone=None, encoding=None),
                          season=SimpleNamespace(start=START, end=END))
    with pytest.raises(ConfigError, match=r"before the season starts"):
        runner.run_campaign(cfg, "c.yaml", only="track", as_of="2025-10-01", kernel_name=kernel_env,
                            reports_root=tmp_path / "reports", pii_guard=False)
    assert not (tmp_path / "reports" / "t").exists()


def test_optional_step_is_skipped_when_the_plan_failed_and_listed_only_once_run(monkeypatch):
    ran: list[str] = []
    monkeypatch.setattr(runner, "run_step", lambda run, step: ran.append(step) or StepResult(step, OK))
    run = SimpleNamespace(slug="t", say=lambda _m: None, cancel=None)
    results = {"01_plan": StepResult("01_plan", FAILED), "06_track": StepResult("06_track")}
    runner.run_optional(run, ["01_plan", "06_track"], results, lambda _r: None)
    assert ran == [] and results["06_track"].status == SKIPPED
    assert results["06_track"].message == "skipped because 01_plan failed"
    results = {"06_track": StepResult("06_track")}
    runner.run_optional(run, ["06_track"], results, lambda _r: None)
    assert ran == ["06_track"] and results["06_track"].status == OK
    assert runner.optional_statuses({}, {}, {}, "now") == {}  # never run: not on the index
    prev = {"06_track": {"status": OK, "files": ["06_track.html"], "run_at": "then"}}
    assert runner.optional_statuses({}, prev, {}, "now")["06_track"]["message"] == "from an earlier run"


def test_notebook_is_thin_stripped_and_declares_as_of():
    nb = json.loads((NOTEBOOKS / "06_track.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"] == json.loads((NOTEBOOKS / "05_retrospective.ipynb").read_text())["metadata"]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)  # nbstripout form
    params = "".join(code[0]["source"])
    assert code[0]["metadata"]["tags"] == ["parameters"]
    assert re.findall(r"^(\w+):", params, re.M) == ["config_path", "data_source", "output_dir", "seed", "as_of"]
    assert all(c["metadata"]["tags"] == ["remove-input"] for c in code[1:])
    text = "\n".join("".join(c["source"]) for c in code[1:])
    imports = re.findall(r"^from (\S+) import (.+)$", text, re.M)
    assert imports == [("playbook.steps", "track"), ("playbook.steps.context", "finish_step, md, run_info")]
    assert "def " not in text and "lambda" not in text


# --------------------------------------------------------------------------------------------
# End to end: plan, then --only track --as-of, on a small generated sample
# --------------------------------------------------------------------------------------------
def _text(html: str) -> str:
    body = re.sub(r"(?is)<(style|script)\b.*?</\1>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture(scope="module")
def tracked(kernel_env, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("track")
    data = small_sample()
    cfg = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text())
    cfg["data"] = {**(cfg.get("data") or {}), "source": str(data)}
    cfg["output"] = {"dir": str(tmp / "reports" / cfg["slug"])}
    path = tmp / "holiday-2025.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = [sys.executable, "-m", "playbook.cli", "run", str(path), "--kernel", kernel_env, "--timeout", "600"]
    plan = subprocess.run([*run, "--only", "plan"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    res = subprocess.run([*run, "--only", "track", "--as-of", "2025-12-05"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    return res, tmp / "reports" / cfg["slug"], data


def test_track_page_has_the_three_sections_and_the_artifacts_numbers(tracked):
    res, out, data = tracked
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    html = (out / "06_track.html").read_text(encoding="utf-8")
    text = _text(html)
    for heading in ("Actual to date against forecast and target", "Pacing per channel",
                    "Projected landing of the season"):
        assert heading in text, heading
    assert "As of 05 Dec 2025 — day 35 of 61" in text
    assert "Traceback" not in html
    tr = json.loads((out / "artifacts" / "track.json").read_text())
    assert tr["as_of"] == tr["counted_to"] == "2025-12-05" and tr["days_counted"] == 35
    rev = tr["metrics"]["revenue"]
    # the forecast and target to date are the plan's artifacts summed over 1 Nov - 5 Dec
    fc = pd.read_parquet(out / "artifacts" / "forecast.parquet")
    fc = fc[(fc["metric"] == "revenue") & (fc["dimension"] == "total")]
    upto = pd.to_datetime(fc["day"]) <= pd.Timestamp("2025-12-05")
    assert rev["forecast"] == pytest.approx(float(fc.loc[upto, "mean"].sum()))
    assert rev["forecast_low"] == pytest.approx(float(fc.loc[upto, "lo80"].sum()))
    tg = pd.read_parquet(out / "artifacts" / "targets.parquet")
    season_target = float(tg[(tg["metric"] == "revenue") & (tg["channel"] == "all") & (tg["level"] == "target")]
                          ["value"].sum())
    assert rev["season_target"] == pytest.approx(season_target)
    assert rev["target"] == pytest.approx(season_target * rev["forecast"] / float(fc["mean"].sum()))
    rest = float(fc.loc[~upto, "mean"].sum())
    assert rev["projected"] == pytest.approx(rev["actual"] + rest)
    # the actual to date is the orders table's net revenue of those days (UTC campaign)
    orders = pd.read_parquet(data / "orders.parquet", columns=["order_ts", "revenue"])
    day = pd.to_datetime(orders["order_ts"], utc=True).dt.tz_localize(None).dt.normalize()
    raw = float(orders.loc[(day >= "2025-11-01") & (day <= "2025-12-05"), "revenue"].sum())
    assert rev["actual"] == pytest.approx(raw, rel=0.02)
    # the page says the same numbers
    assert fmt_money(rev["actual"]) in text and fmt_money(rev["forecast"]) in text
    assert f"Projected season revenue: {fmt_money(rev['projected'])}" in text
    verdict = {"ahead": "ahead of target", "behind": "behind target",
               "on track": "on track, not distinguishable from the target"}[rev["verdict"]]
    assert verdict in text
    # pacing: one row per planned channel, spend to date from the spend table
    pacing = {r["channel"]: r for r in tr["pacing"]}
    cfg_channels = ["paid_search", "paid_social", "display", "affiliate", "email"]
    assert set(cfg_channels) <= set(pacing)
    planned = pd.read_parquet(out / "artifacts" / "pacing.parquet")
    p = planned[pd.to_datetime(planned["day"]) <= pd.Timestamp("2025-12-05")].groupby("channel")["spend"].sum()
    for ch in cfg_channels:
        assert pacing[ch]["planned_to_date"] == pytest.approx(float(p[ch]))
    spend = pd.read_parquet(data / "spend.parquet", columns=["date", "channel", "spend"])
    sday = pd.to_datetime(spend["date"])
    s = spend[(sday >= "2025-11-01") & (sday <= "2025-12-05")].groupby("channel")["spend"].sum()
    assert pacing["paid_search"]["spent_to_date"] == pytest.approx(float(s["paid_search"]))


def test_index_lists_the_track_step_and_keeps_the_plan(tracked):
    res, out, _ = tracked
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="06_track.html"' in index and "01_plan.html" in index
    summary = json.loads((out / "summary.json").read_text())
    steps = {e["step"]: e for e in summary["steps"]}
    assert steps["06_track"]["status"] == "ok" and steps["01_plan"]["status"] == "ok"
    assert "02_segment" not in steps or steps["02_segment"]["status"] != "ok"  # only plan and track ran


def test_track_page_in_chromium_and_on_the_index_summary(tracked):
    """The track page in a real browser (no request, no error, a title, contents links that resolve),
    and the index's first answer says where the season should land, linked to the page."""
    res, out, _ = tracked
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    with browser() as b:
        page = visit(b, out / "06_track.html", 400, ROOT / "test-output" / "screenshots" / "06_track-400.png")
        index = visit(b, out / "index.html", 1400)
    assert page.requests == [] and page.console_errors == [] and page.title.strip()
    assert "index.html" in page.links
    for href in (h for h in page.links if h.startswith("#")):
        assert href[1:] in page.ids, href
    expect = index.cards[0]["text"]
    assert re.search(r"As of 2025-12-05: \$[\d,]+ so far against \$[\d,]+ forecast to date; the season should "
                     r"land between \$[\d,]+ and \$[\d,]+", expect), expect
    assert "06_track.html#Projected-landing-of-the-season" in index.links
    assert "Projected-landing-of-the-season" in page.ids
