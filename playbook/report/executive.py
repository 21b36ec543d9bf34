"""The executive summary at the top of ``index.html``: three questions, answered in sentences.

A director opens the index and reads, above the fold (issue 20, item 2):

1. **What to expect and aim for**: the season's forecast revenue with its 80 % range and the target,
   judged against that range (``plan.json``, ``forecast.parquet``, ``targets.parquet``);
2. **Where the money goes**: the budget split by channel, the return expected per unit of spend with
   its 5-95 % interval across the media model's draws, and the gain over last season's split
   (``budget_plan.parquet``, ``plan.json``);
3. **What worked**: each test's verdict with its lift and interval (``experiment_results.parquet``,
   ``experiment_decisions.json``), and after the season the revenue against target, the channels'
   incremental return from holdouts and the next season's budget gain (the retrospective's
   ``summary.json``).

Every answer is built from the artifacts the steps wrote into the report folder, so a partial
``--only`` run still shows the latest answers, and a missing step says which command gives it.
Each finding carries a verdict colour in the manner of GrowthBook's result cards: ``win``
(the interval excludes the bad side), ``loss`` (it excludes the good side) or ``unclear`` (the
interval spans the line: "not distinguishable"); ``info`` for facts without a verdict. The
sentences follow Meridian's summary cards ("for every $1 on X expect $Y back"):
https://developers.google.com/meridian/docs/user-guide/generate-model-results-report

Rendering and charts: :func:`render_summary` (escaped HTML) and :mod:`playbook.report.exec_charts`.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from playbook.artifacts import read_artifact
from playbook.errors import PlaybookError
from playbook.report import exec_charts
from playbook.report.format import fmt_money, fmt_pct

WIN, LOSS, UNCLEAR, INFO = "win", "loss", "unclear", "info"
"""Verdict colours of a finding (green, red, grey, none)."""

PLAN_PAGE, TEST_PAGE, RETRO_PAGE = "01_plan.html", "04_test.html", "05_retrospective.html"
TRACK_PAGE = "06_track.html"


@dataclass(frozen=True)
class Finding:
    """One plain sentence of an answer and its verdict colour (:data:`WIN`, :data:`LOSS`,
    :data:`UNCLEAR` or :data:`INFO`)."""

    text: str
    verdict: str = INFO


@dataclass
class Answer:
    """One of the three questions with its findings, chart (SVG text) and link to the details.

    ``missing`` says why the question has no answer yet and how to get one (then ``findings``
    is empty)."""

    key: str
    question: str
    findings: list[Finding] = field(default_factory=list)
    chart: str | None = None
    chart_alt: str = ""
    link: str | None = None
    link_text: str = "Details"
    missing: str | None = None


def _read(output_dir: Path, name: str) -> Any:
    """An artifact, or None when absent or unreadable (a key mismatch or a broken contract is
    reported by the steps themselves; the summary then says the answer is missing)."""
    try:
        return read_artifact(output_dir, name)
    except (PlaybookError, OSError, ValueError, json.JSONDecodeError):
        return None


def _num(x: Any) -> float:
    """``x`` as a float; NaN for None, text or anything else that is not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _finite(x: Any) -> bool:
    return bool(np.isfinite(_num(x)))


def label(name: Any) -> str:
    """A channel or experiment name as a reader sees it: ``paid_search`` -> ``paid search``."""
    return str(name).replace("_", " ")


def _page(output_dir: Path, name: str, anchor: str) -> str | None:
    return f"{name}#{anchor}" if (output_dir / name).is_file() else None


def interval_verdict(low: float, high: float, line: float = 0.0) -> str:
    """:data:`WIN` when the whole interval lies above ``line``, :data:`LOSS` when below,
    :data:`UNCLEAR` when it spans it (or is not finite)."""
    if not (_finite(low) and _finite(high)):
        return UNCLEAR
    if low > line:
        return WIN
    if high < line:
        return LOSS
    return UNCLEAR


# 1. What to expect and aim for ------------------------------------------------------------------

def season_revenue(forecast: pd.DataFrame) -> dict[str, float] | None:
    """Season totals of the plan's daily revenue forecast: ``mean`` and the 80 % range ``lo``/``hi``.

    The range adds the daily bounds, i.e. treats the days as fully correlated, the assumption of
    the plan's own target feasibility (:func:`playbook.planning.targets.feasibility`); it is the wider,
    cautious reading. None without a total revenue forecast."""
    need = {"dimension", "metric", "mean", "lo80", "hi80"}
    if forecast is None or forecast.empty or not need <= set(forecast.columns):
        return None
    f = forecast[(forecast["dimension"] == "total") & (forecast["metric"] == "revenue")]
    if f.empty or not f["mean"].sum() > 0:
        return None
    return {"mean": float(f["mean"].sum()), "lo": float(f["lo80"].sum()), "hi": float(f["hi80"].sum())}


def target_verdict(target: float, lo: float, hi: float) -> tuple[str, str]:
    """Verdict and phrase of a season target against the forecast's 80 % range."""
    if target <= lo:
        return WIN, "below the forecast's range: likely to be reached"
    if target > hi:
        return LOSS, "above the forecast's range: unlikely without more than the plan"
    return UNCLEAR, "within the forecast's range: reachable, not assured"


def expect_answer(output_dir: Path, currency: str) -> Answer:
    """Answer 1 from the plan's artifacts (see the module docstring)."""
    ans = Answer("expect", "What should we expect, and aim for?", link_text="Forecast and targets")
    plan = _read(output_dir, "plan")
    if not isinstance(plan, dict):
        ans.missing = "The plan step has not run yet: `playbook run CONFIG --only plan` gives the forecast."
        return ans
    ans.link = _page(output_dir, PLAN_PAGE, "Targets") or _page(output_dir, PLAN_PAGE, "Demand-forecast")
    forecast = _read(output_dir, "forecast")
    season = season_revenue(forecast)
    if season is None:
        ans.missing = "The plan found no sales history to forecast from (see the plan page)."
        return ans
    start, end = (list(plan.get("window") or []) + ["", ""])[:2]
    orders = plan.get("forecast_orders")
    orders_text = f" from about {_num(orders):,.0f} orders" if _finite(orders) and _num(orders) > 0 else ""
    ans.findings.append(Finding(
        f"Expect {fmt_money(season['mean'], currency)} of net revenue{orders_text} between {start} and {end} "
        f"(80 % range {fmt_money(season['lo'], currency)} to {fmt_money(season['hi'], currency)})."))
    target = plan.get("revenue_target")
    if plan.get("targets_configured") and _finite(target):
        verdict, phrase = target_verdict(_num(target), season["lo"], season["hi"])
        ans.findings.append(Finding(f"The target of {fmt_money(_num(target), currency)} is {phrase}.", verdict))
    else:
        ans.findings.append(Finding("No revenue target is set in the campaign file: the forecast is the target."))
    bt = plan.get("backtest") or {}
    if _finite(bt.get("mase_model")) and _finite(bt.get("mase_naive")) and bt.get("folds"):
        beats = float(bt["mase_model"]) < float(bt["mase_naive"])
        ans.findings.append(Finding(
            f"In {int(bt['folds'])} backtest{'s' if int(bt['folds']) != 1 else ''} on earlier seasons the "
            "forecast was "
            f"{'more' if beats else 'not more'} accurate than repeating last year "
            f"(MASE {float(bt['mase_model']):.2f} vs {float(bt['mase_naive']):.2f}).", WIN if beats else LOSS))
    tracked = tracking_finding(_read(output_dir, "track"), currency)
    if tracked is not None:
        ans.findings.append(tracked)
        ans.link = _page(output_dir, TRACK_PAGE, "Projected-landing-of-the-season") or ans.link
    targets = _read(output_dir, "targets")
    ans.chart = exec_charts.season_chart(forecast, targets, currency)
    ans.chart_alt = "Cumulative forecast revenue over the season with its 80 % band and the target"
    return ans


#: The track step's landing verdicts (:func:`playbook.media.inseason.verdict`) as summary colours.
TRACK_VERDICTS = {"ahead": WIN, "behind": LOSS, "on track": UNCLEAR}


def tracking_finding(track: Any, currency: str) -> Finding | None:
    """One sentence from the in-season tracking (``track.json``, :mod:`playbook.steps.track`): revenue to
    date against the forecast to date, and the projected landing with its range against the target."""
    m = ((track or {}).get("metrics") or {}).get("revenue") if isinstance(track, dict) else None
    if not isinstance(m, dict) or not all(_finite(m.get(k)) for k in ("actual", "forecast", "range_low", "range_high")):
        return None
    text = (f"As of {track.get('counted_to') or track.get('as_of')}: {fmt_money(_num(m['actual']), currency)} so far "
            f"against {fmt_money(_num(m['forecast']), currency)} forecast to date; the season should land between "
            f"{fmt_money(_num(m['range_low']), currency)} and {fmt_money(_num(m['range_high']), currency)}")
    target = m.get("season_target")
    verdict = TRACK_VERDICTS.get(str(m.get("verdict")))  # the track step's own judgement of its range
    if not _finite(target) or verdict is None:
        return Finding(text + ".", INFO)
    word = {WIN: "above", LOSS: "below", UNCLEAR: "around"}[verdict]
    return Finding(f"{text}, {word} the target of {fmt_money(_num(target), currency)}.", verdict)


# 2. Where the money goes ------------------------------------------------------------------------

def _roas_sentence(row: pd.Series, currency: str) -> Finding:
    one = fmt_money(1, currency, decimals=0)
    text = (f"For every {one} on {label(row['channel'])} expect {fmt_money(row['roas'], currency, decimals=2)} "
            "of extra revenue")
    lo, hi = row.get("roas_low"), row.get("roas_high")
    if _finite(lo) and _finite(hi):
        text += f" (90 %: {fmt_money(lo, currency, decimals=2)} to {fmt_money(hi, currency, decimals=2)})"
        return Finding(text + ".", interval_verdict(float(lo), float(hi), 1.0))
    return Finding(text + ".", INFO)


def money_answer(output_dir: Path, currency: str, top: int = 3) -> Answer:
    """Answer 2 from ``budget_plan.parquet`` and ``plan.json``: the split, the largest channels'
    return per unit with its interval, and the gain over last season's split."""
    ans = Answer("money", "Where should the money go?", link_text="Budget allocation")
    plan = _read(output_dir, "plan")
    bp = _read(output_dir, "budget_plan")
    if not isinstance(plan, dict):
        ans.missing = "The plan step has not run yet: `playbook run CONFIG --only plan` gives the budget split."
        return ans
    ans.link = _page(output_dir, PLAN_PAGE, "Budget-allocation-and-pacing")
    if not isinstance(bp, pd.DataFrame) or bp.empty or "budget" not in bp.columns or not bp["budget"].sum() > 0:
        reason = str((plan.get("skipped") or {}).get("budget") or "").strip().rstrip(".")
        ans.missing = (reason + "." if reason[:1].isupper() else
                       f"No budget split: {reason or 'no budget or spend history is configured'}.")
        return ans
    bp = bp.sort_values("budget", ascending=False)
    total = float(bp["budget"].sum())
    shares = ", ".join(f"{label(r.channel)} {fmt_pct(r.budget / total, 0)}" for r in bp.head(top).itertuples())
    ans.findings.append(Finding(f"Spend {fmt_money(total, currency)} across {len(bp)} channels: {shares}"
                                f"{' and the rest' if len(bp) > top else ''}."))
    for _, row in bp[bp["budget"] > 0].head(top).iterrows():
        if _finite(row.get("roas")):
            ans.findings.append(_roas_sentence(row, currency))
    gain = plan.get("budget_gain_vs_last_season")
    if isinstance(gain, list) and len(gain) == 3 and all(_finite(g) for g in gain):
        m, lo, hi = (float(g) for g in gain)
        verdict = interval_verdict(lo, hi)
        tail = "" if verdict != UNCLEAR else ": not distinguishable from zero"
        ans.findings.append(Finding(
            f"This split is expected to earn {fmt_money(m, currency)} more than last season's "
            f"(90 %: {fmt_money(lo, currency)} to {fmt_money(hi, currency)}){tail}.", verdict))
    ans.chart = exec_charts.budget_chart(bp, currency)
    ans.chart_alt = "Budget per channel and the return expected per unit of spend, with 90 % intervals"
    return ans


# 3. What worked ---------------------------------------------------------------------------------

TEST_VERDICTS = {"ship": WIN, "don't ship": LOSS, "inconclusive": UNCLEAR, "passed": INFO}


def test_rows(results: pd.DataFrame | None, decisions: dict[str, Any] | None) -> pd.DataFrame:
    """One row per experiment: ``experiment_id``, ``metric``, ``rel_lift``, ``rel_lo``, ``rel_hi``,
    ``verdict`` (the step's decision text) and ``colour`` (:data:`TEST_VERDICTS`; a failed A/A is a loss).
    The primary metric's row of the first variant is shown."""
    cols = ["experiment_id", "metric", "rel_lift", "rel_lo", "rel_hi", "verdict", "colour"]
    if not isinstance(decisions, dict) or not decisions:
        return pd.DataFrame(columns=cols)
    rows = []
    res = results if isinstance(results, pd.DataFrame) else pd.DataFrame()
    for exp_id, dec in decisions.items():
        verdict = str((dec or {}).get("verdict", "no result"))
        colour = TEST_VERDICTS.get(verdict, LOSS if verdict.startswith("failed") else UNCLEAR)
        r = res[(res["experiment_id"] == exp_id) & (res["role"] == "primary")] if {
            "experiment_id", "role"} <= set(res.columns) else pd.DataFrame()
        first = r.iloc[0] if not r.empty else {}
        rows.append({"experiment_id": str(exp_id), "metric": str(first.get("metric", "")) if len(r) else "",
                     **{k: float(first[k]) if len(r) and _finite(first.get(k)) else np.nan
                        for k in ("rel_lift", "rel_lo", "rel_hi")},
                     "verdict": verdict, "colour": colour})
    return pd.DataFrame(rows, columns=cols)


def _test_finding(r: pd.Series) -> Finding:
    lift = ""
    if _finite(r["rel_lift"]):
        lift = f": {r['metric'] or 'primary metric'} {r['rel_lift']:+.1%}"
        if _finite(r["rel_lo"]) and _finite(r["rel_hi"]):
            lift += f" (95 %: {r['rel_lo']:+.1%} to {r['rel_hi']:+.1%})"
    word = {"ship": "ship it", "don't ship": "do not ship", "inconclusive": "not distinguishable, keep as is",
            "passed": "A/A check passed"}.get(r["verdict"], r["verdict"])
    return Finding(f"Test {r['experiment_id']}: {word}{lift}.", r["colour"])


def gap_drivers(records: Any, currency: str, top: int = 2) -> str | None:
    """The main drivers of the gap to target: within the breakdown (country, category ...) whose
    largest absolute gap is the largest, its ``top`` values by absolute gap, as one sentence."""
    g = pd.DataFrame(records if isinstance(records, list) else [])
    if g.empty or not {"dimension", "value", "gap"} <= set(g.columns):
        return None
    g = g[g["gap"].map(_finite)].assign(size=lambda d: d["gap"].astype(float).abs())
    g = g[g["size"] > 0]
    if g.empty:
        return None
    dim = g.groupby("dimension")["size"].max().idxmax()
    worst = g[g["dimension"] == dim].nlargest(top, "size")
    parts = [f"{label(r.value)} {'+' if r.gap >= 0 else '-'}{fmt_money(abs(float(r.gap)), currency, decimals=0)}"
             for r in worst.itertuples()]
    return f"Largest gaps to target by {label(dim)}: {', '.join(parts)}."


def _retro_findings(retro: dict[str, Any], currency: str, target_set: bool = True) -> list[Finding]:
    out: list[Finding] = []
    rev = retro.get("revenue") or {}
    actual, target, fc = rev.get("actual"), rev.get("target"), rev.get("forecast")
    if not target_set and _finite(fc):  # the target is the forecast: say so, never "above the target"
        target = fc
    if _finite(actual) and _finite(target) and _num(target) > 0:
        gap = _num(actual) - _num(target)
        ahead = "above" if gap >= 0 else "below"
        what = "the target of" if target_set else "the forecast of"
        text = (f"Revenue was {fmt_money(_num(actual), currency)}, {fmt_money(abs(gap), currency)} {ahead} "
                f"{what} {fmt_money(_num(target), currency)}")
        if target_set and _finite(fc):
            text += f" (forecast {fmt_money(_num(fc), currency)})"
        elif not target_set:
            text += "; no target was set"
        out.append(Finding(text + ".", WIN if gap >= 0 else LOSS))
    drivers = gap_drivers(retro.get("gap_drivers"), currency)
    if drivers:
        out.append(Finding(drivers))
    for inc in retro.get("incrementality") or []:
        iroas, lo, hi = inc.get("iroas"), inc.get("iroas_lo"), inc.get("iroas_hi")
        if not _finite(iroas):
            continue
        one = fmt_money(1, currency, decimals=0)
        text = f"Holdout on {label(inc.get('channel'))}: every {one} brought {fmt_money(_num(iroas), currency, decimals=2)}"
        verdict = UNCLEAR
        if _finite(lo) and _finite(hi):
            low, high = _num(lo), _num(hi)
            text += (f" of incremental revenue (90 %: {fmt_money(low, currency, decimals=2)} to "
                     f"{fmt_money(high, currency, decimals=2)})")
            verdict = interval_verdict(low, high, 1.0) if low > 0 or high < 0 else UNCLEAR
            if low <= 0 <= high:
                text += ": not distinguishable from zero"
        out.append(Finding(text + ".", verdict))
    gain, interval = retro.get("next_budget_expected_gain"), retro.get("next_budget_expected_gain_interval")
    if _finite(gain) and isinstance(interval, list) and len(interval) == 2 and all(_finite(x) for x in interval):
        lo, hi = float(interval[0]), float(interval[1])
        v = interval_verdict(lo, hi)
        out.append(Finding(f"Next season's recommended split should earn {fmt_money(_num(gain), currency)} more "
                           f"(90 %: {fmt_money(lo, currency)} to {fmt_money(hi, currency)})"
                           f"{': not distinguishable from zero' if v == UNCLEAR else ''}.", v))
    return out


def worked_answer(output_dir: Path, currency: str, max_tests: int = 4) -> Answer:
    """Answer 3 from the retrospective's and the test step's artifacts: the season's outcome
    first, then at most ``max_tests`` tests (the others named in one line)."""
    ans = Answer("worked", "What worked?", link_text="Test decisions")
    tests = test_rows(_read(output_dir, "experiment_results"), _read(output_dir, "experiment_decisions"))
    retro = _read(output_dir, "summary")
    retro = retro if isinstance(retro, dict) and retro.get("kind") == "retrospective" else None
    if retro is not None:  # the season's outcome first, then the tests
        plan = _read(output_dir, "plan")
        target_set = not isinstance(plan, dict) or plan.get("targets_configured", True) is not False
        ans.findings.extend(_retro_findings(retro, currency, target_set))
    order = {WIN: 0, LOSS: 1, UNCLEAR: 2, INFO: 3}  # decisions first, A/A checks last
    tests = tests.sort_values("colour", key=lambda c: c.map(order), kind="stable")
    shown = tests.head(max_tests)
    ans.findings.extend(_test_finding(r) for _, r in shown.iterrows())
    if len(tests) > len(shown):
        rest = tests.iloc[len(shown):]
        ans.findings.append(Finding(f"{len(rest)} more test(s) on the test page: " + ", ".join(
            f"{label(r.experiment_id)} ({r.verdict})" for r in rest.itertuples()) + "."))
    if retro is not None:
        ans.link, ans.link_text = _page(output_dir, RETRO_PAGE, "Actual-against-forecast-and-target"), "Retrospective"
    else:
        ans.link = _page(output_dir, TEST_PAGE, "Decisions")
    if not ans.findings:
        ans.missing = ("No test results and no retrospective yet: `--only test` analyses the experiments, and after "
                       "the season `--only retrospective` compares the season with its plan.")
        return ans
    if retro is None:
        ans.findings.append(Finding("After the season, `--only retrospective` adds revenue against target and "
                                    "each channel's incremental return."))
    ans.chart = exec_charts.tests_chart(tests) if not tests.empty and tests["rel_lift"].notna().any() else (
        exec_charts.season_result_chart(retro, currency) if retro is not None else None)
    ans.chart_alt = "Each test's lift with its interval, coloured by verdict"
    return ans


def answers(output_dir: str | os.PathLike[str], currency: str = "USD") -> list[Answer]:
    """The three answers of the executive summary, from the artifacts in ``output_dir``."""
    out = Path(output_dir)
    return [expect_answer(out, currency), money_answer(out, currency), worked_answer(out, currency)]


# Rendering --------------------------------------------------------------------------------------

SUMMARY_CSS = """
.exec h2 { font-size: 1.3rem; margin: 1.2rem 0 .5rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: .8rem; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: .7rem .9rem; background: #fff; }
.card h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
.card ul { list-style: none; padding: 0; margin: 0 0 .4rem; }
.card li { padding: .15rem 0 .15rem .6rem; margin: .2rem 0; border-left: 4px solid #d0d7de; font-size: .93rem; }
.card li.win { border-color: #1a7f37; background: #f0fff4; } .card li.loss { border-color: #cf222e; background: #fff5f5; }
.card li.unclear { border-color: #8c959f; background: #f6f8fa; }
.card img { width: 100%; height: auto; display: block; margin: .3rem 0; }
.card .more { font-size: .9rem; }
.legend { font-size: .85rem; color: #57606a; margin: .3rem 0 0; }
.legend span { padding: 0 .4rem; border-left: 4px solid; margin-right: .6rem; }
"""


def _text(text: str) -> str:
    """Escaped text with `code` spans shown as code (after escaping, so nothing else can form)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _card(ans: Answer) -> str:
    e = html.escape
    parts = [f'<div class="card" id="answer-{e(ans.key)}"><h3>{e(ans.question)}</h3>']
    if ans.missing:
        parts.append(f'<p class="missing">{_text(ans.missing)}</p>')
    else:
        parts.append("<ul>" + "".join(f'<li class="{e(f.verdict)}">{_text(f.text)}</li>' for f in ans.findings)
                     + "</ul>")
        if ans.chart:
            parts.append(f'<img alt="{e(ans.chart_alt)}" src="{exec_charts.data_uri(ans.chart)}">')
    if ans.link:
        parts.append(f'<p class="more"><a href="{e(ans.link)}">{e(ans.link_text)} &rarr;</a></p>')
    parts.append("</div>")
    return "".join(parts)


def render_summary(items: list[Answer]) -> str:
    """The executive summary's HTML: a heading, three cards and the colour legend (all text escaped)."""
    legend = ('<p class="legend"><span style="border-color:#1a7f37">a win</span>'
              '<span style="border-color:#cf222e">a loss or a risk</span>'
              '<span style="border-color:#8c959f">not distinguishable</span></p>')
    return ('<section class="exec" id="summary"><h2>Executive summary</h2><div class="cards">'
            + "".join(_card(a) for a in items) + "</div>" + legend + "</section>")
