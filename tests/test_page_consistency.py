"""Issue 18 item 8: the index headline and the pages say the same thing.

* The segment step's "soft problems" headline is the total the segment page's audit paragraph
  states (both :attr:`playbook.data.findings.ValidationReport.soft_count`); reference: the per-check
  counts listed on the page, summed here, and the audit table.
* The plan never says "No target ROAS is configured" when ``budget.target_roas`` is set
  (``campaigns/holiday-2025.yaml`` sets 2).
* An event on the same calendar date both years (Valentine's Day, 14 February) is never reported as
  "moved"; reference: the calendar date of each event, by hand.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.data.findings import Finding, ValidationReport
from playbook.media import response as MR
from playbook.planning import seasons as SE
from playbook.steps import plan as P
from playbook.steps import segment
from playbook.steps.context import start_step
from tests.sample_data import small_sample

CONFIG = "campaigns/holiday-2025.yaml"


def _page_soft_total(text: str) -> int | None:
    """The soft-problem total the audit paragraph states (0 when it says there are none)."""
    if "no soft problems" in text.lower():
        return 0
    m = re.search(r"Soft problems \(([\d,]+) rows", text)
    return int(m.group(1).replace(",", "")) if m else None


def _page_soft_items(text: str) -> list[int]:
    """The per-check counts listed after "handled by cleaning:" on the page."""
    listed = text.split("handled by cleaning:", 1)[1].split(". ", 1)[0]
    return [int(m.replace(",", "")) for m in re.findall(r"[a-z] ([\d,]+)(?: \(|;|\.|$)", listed)]


# --------------------------------------------------------------------------------------------
# soft problems: index headline == segment page


@pytest.fixture(scope="module")
def sample_audit(tmp_path_factory):
    ctx = start_step("02_segment", CONFIG, str(small_sample()), str(tmp_path_factory.mktemp("seg") / "out"), 42)
    return segment.audit(ctx)


def test_soft_problems_headline_is_the_total_on_the_segment_page(sample_audit):
    page = segment.describe_audit(sample_audit)
    head = segment.audit_headline(sample_audit)["soft problems"]
    shown = _page_soft_total(page)
    assert shown is not None, page
    assert head == f"{shown:,}"
    # the total is the sum of the checks the page lists, and of the audit table's soft rows
    items = _page_soft_items(page)
    assert len(items) == len(sample_audit.soft) and sum(items) == shown
    table = segment.audit_table(sample_audit)
    soft_rows = table[(table["severity"] != "error") & ~table["check"].isin(["absent_table", "absent_column",
                                                                             "empty_table"])]
    assert int(soft_rows["count"].sum()) == shown
    assert shown == 1484  # sample seed 7: 6 + 24 + 16 + 11 + 28 + 311 + 74 + 212 + 145 + 17 + 640


def test_notes_on_absent_data_are_no_soft_problems_on_either_page():
    # the reported case: a large count on a note about absent optional data ("70,710") on the
    # index while the page said none
    report = ValidationReport([Finding("events", None, "absent_table", "warning", 70_710),
                               Finding("customers", "phone", "absent_column", "info", 2_000)])
    page = segment.describe_audit(report)
    assert "no soft problems" in page and _page_soft_total(page) == 0
    assert segment.audit_headline(report)["soft problems"] == "0"


def test_errors_without_soft_problems_say_none_on_the_page_too():
    report = ValidationReport([Finding("orders", "order_id", "duplicate_key", "error", 3),
                               Finding("customers", "email", "missing_email", "info", 0)])
    page = segment.describe_audit(report)
    assert _page_soft_total(page) == 0 and segment.audit_headline(report)["soft problems"] == "0"
    one = ValidationReport([Finding("customers", "email", "invalid_email", "warning", 1_234)])
    page = segment.describe_audit(one)
    assert "(1,234 rows in 1 check)" in page and segment.audit_headline(one)["soft problems"] == "1,234"


# --------------------------------------------------------------------------------------------
# target ROAS


def _budget_result(roas_target: tuple[float, float] | None) -> P.BudgetResult:
    fit = MR.CurveFit({}, [], 0.0, 0.0, np.nan)
    return P.BudgetResult(fit, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), np.ones(3), roas_target, [])


def test_a_configured_target_roas_is_never_called_missing():
    cfg = load_config(CONFIG)
    assert cfg.budget is not None and cfg.budget.target_roas == 2
    for target in (None, (60_000.0, 1.2), (150_000.0, 2.0)):
        text = P.describe_roas_target(_budget_result(target), cfg)
        assert "No target ROAS" not in text and "ROAS of 2" in text, text


def test_plan_page_on_the_sample_states_the_configured_target_roas(tmp_path):
    ctx = start_step("01_plan", CONFIG, str(small_sample()), str(tmp_path / "out"), 42)
    hist = P.load_history(ctx.wh, ctx.cfg)
    br = P.run_budget(ctx.wh, ctx.cfg, P.run_forecast(ctx.wh, ctx.cfg, hist), hist)
    assert br.roas_target is not None
    text = P.describe_roas_target(br, ctx.cfg)
    assert "No target ROAS" not in text and re.search(r"ROAS of 2\b", text), text


# --------------------------------------------------------------------------------------------
# events that did not move


def _flat(start: str, end: str, country: str = "US", spikes: dict[str, float] | None = None) -> pd.DataFrame:
    days = pd.date_range(start, end)
    v = pd.Series(100.0, index=days)
    for d, x in (spikes or {}).items():
        v[pd.Timestamp(d)] += x
    return pd.DataFrame({"day": days, "country": country, "revenue": v.to_numpy(), "orders": v.to_numpy() / 10})


def test_valentines_day_is_not_reported_as_moved():
    d = _flat("2023-01-01", "2025-12-31", spikes={"2024-02-14": 300, "2025-02-14": 600})
    yoy = SE.event_aligned_yoy(d, ["valentines_day"], ["US"], [2025], window=(0, 0))
    assert yoy["event_date"].iloc[0] == pd.Timestamp("2025-02-14")
    assert yoy["last_year_event_date"].iloc[0] == pd.Timestamp("2024-02-14")
    text = SE.describe_event_yoy(yoy)
    assert "moved" not in text and "misleads" not in text, text
    assert "same calendar date" in text and "Valentine's Day" in text
    assert SE.moved_events(yoy).empty


def test_the_misleading_event_is_one_that_moved():
    # flat revenue: every gap is 0, so the first row (Valentine's Day) used to be picked on the tie
    d = _flat("2023-01-01", "2025-12-31")
    yoy = SE.event_aligned_yoy(d, ["valentines_day", "black_friday"], ["US"], [2024], window=(0, 0))
    assert list(yoy["event"]) == ["valentines_day", "black_friday"]
    assert SE.main_moving_event(yoy) == ("black_friday", "US")
    text = SE.describe_event_yoy(yoy)
    # Black Friday: 24 Nov 2023, 29 Nov 2024
    assert "black friday in US" in text and "moved from 24 Nov to 29 Nov" in text, text
    assert not re.search(r"moved from (\d\d \w{3}) to \1", text)
