"""A campaign file with only the required keys (issue 14, item 6): its defaults, what
``check-config`` says each absent section turns off, the comparison seasons chosen from the data,
and the plan notebook run on an orders-only dataset with that file (no channels, no budget, no
targets, empty spend, events and touches)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from IPython.display import Markdown

from playbook import cli
from playbook.config.campaign import CampaignConfig
from playbook.config.loader import load_config, parse_config
from playbook.config.sections import OPTIONAL_SECTIONS
from playbook.data.synth import write_minimal
from playbook.errors import ConfigError
from playbook.paths import resolve
from playbook.planning.seasons import (
    default_comparison_seasons,
    describe_default_comparison,
    years_earlier,
)
from playbook.steps import plan as S
from playbook.steps.context import resolve_comparison_seasons, start_step
from tests.sample_data import small_sample

D = dt.date

#: The keys a campaign file must have (issue 14, item 6); data.source may be left out for the sample.
REQUIRED: dict[str, Any] = {
    "slug": "shop-holiday",
    "name": "Holiday 2025",
    "countries": ["US"],
    "currency": "USD",
    "season": {"start": "2025-11-01", "end": "2025-12-31", "planning_cutoff": "2025-10-15"},
    "data": {"source": "data/sample"},
}


def _parse(**extra: Any) -> CampaignConfig:
    return parse_config({**REQUIRED, **extra})


# --------------------------------------------------------------------------------------------
# The config model
# --------------------------------------------------------------------------------------------
def test_required_keys_alone_parse_with_the_defaults():
    cfg = _parse()
    assert cfg.channels == {} and cfg.budget is None
    assert cfg.targets.revenue_uplift_pct == 0 and cfg.targets.new_customers is None
    assert cfg.targets.stretch_uplift_pct is None and not cfg.targets_set
    assert cfg.comparison_automatic and cfg.comparison_seasons == [] and not cfg.comparison_from_data
    assert cfg.experiments == [] and cfg.segments == []
    assert cfg.personalization.content_matrix is None and cfg.personalization.flows is None
    assert cfg.data.source == "data/sample"


def test_set_sections_are_told_apart_from_defaults():
    cfg = _parse(targets={"revenue_uplift_pct": 0}, comparison_seasons=[])
    assert cfg.targets_set and not cfg.comparison_automatic and cfg.comparison_seasons == []
    # an empty key (YAML null) is the default, so comparison seasons stay automatic
    assert _parse(comparison_seasons=None, targets=None).comparison_automatic
    assert not _parse(targets=None).targets_set


@pytest.mark.parametrize("missing", ["slug", "name", "countries", "currency", "season"])
def test_each_required_key_is_required(missing):
    data = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(ConfigError, match=rf"  - {missing}: required but missing"):
        parse_config(data)


def test_budget_without_channels_says_what_is_wrong_and_how_to_fix_it():
    with pytest.raises(ConfigError) as info:
        _parse(budget={"total": 10_000})
    msg = str(info.value)
    assert msg.startswith("Invalid campaign config <dict>: 1 problem\n"), msg
    line = next(ln for ln in msg.splitlines() if ln.startswith("  - budget: "))
    assert "total 10,000 is set but no channels are listed" in line
    assert "add a channels section" in line and "or remove budget" in line


def test_budget_without_channels_is_reported_with_other_problems(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**REQUIRED, "slug": "Bad Slug", "budget": {"total": 5}, "channels": None}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "  - slug: " in msg and "  - budget: total 5 is set but no channels are listed" in msg


def test_channels_without_budget_are_fine():
    cfg = _parse(channels={"email": {"max_budget": 100}})
    assert list(cfg.channels) == ["email"] and cfg.budget is None


def test_absent_sections_name_what_each_turns_off():
    found = dict(_parse().absent_sections())
    assert list(found) == ["comparison_seasons", "channels", "budget", "targets", "segments", "experiments",
                           "personalization", "events"]
    assert found["budget"].startswith("not set — the plan shows the forecast (and the listed channels' response "
                                      "curves, if any) but splits no budget")
    assert found["experiments"] == "none — step 04 is skipped (nothing to size or analyse)"
    assert found["targets"].startswith("not set — the target is the forecast itself (0 % uplift)")
    assert found["comparison_seasons"].startswith("automatic — ")
    explicit = dict(_parse(comparison_seasons=[]).absent_sections())
    assert explicit["comparison_seasons"] == OPTIONAL_SECTIONS["comparison_seasons: []"]
    assert explicit["comparison_seasons"].startswith("none — nothing is compared with past seasons")
    no_source = dict(parse_config({k: v for k, v in REQUIRED.items() if k != "data"}).absent_sections())
    assert no_source["data.source"].startswith("not set — the bundled synthetic sample (data/sample) is used")
    example = load_config(resolve("campaigns/holiday-2025.yaml"))
    assert example.absent_sections() == [("events", OPTIONAL_SECTIONS["events"])]  # commented out there


def test_check_config_prints_what_each_absent_section_turns_off(tmp_path, capsys):
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(REQUIRED))
    assert cli.main(["check-config", str(path), "campaigns/holiday-2025.yaml"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{path}: ok (shop-holiday, 2025-11-01 to 2025-12-31)"
    assert lines[1:9] == [f"  {k}: {OPTIONAL_SECTIONS[k]}" for k in
                          ("comparison_seasons", "channels", "budget", "targets", "segments", "experiments",
                           "personalization", "events")]
    assert lines[9:] == ["campaigns/holiday-2025.yaml: ok (holiday-2025, 2025-11-01 to 2025-12-31)",
                         f"  events: {OPTIONAL_SECTIONS['events']}"]


def test_example_campaigns_keep_their_sections():
    for name in ("holiday-2025", "diwali-2025"):
        cfg = load_config(resolve(f"campaigns/{name}.yaml"))
        assert cfg.targets_set and cfg.budget is not None and cfg.channels
        assert not cfg.comparison_automatic and len(cfg.comparison_seasons) == 2


# --------------------------------------------------------------------------------------------
# default_comparison_seasons
# --------------------------------------------------------------------------------------------
HOLIDAY = (D(2025, 11, 1), D(2025, 12, 31))


def test_ten_months_of_data_give_no_comparison_season():
    assert default_comparison_seasons(*HOLIDAY, D(2025, 3, 1), D(2025, 12, 31), name="Holiday 2025") == []


def test_fifteen_months_covering_last_years_window_give_one():
    got = default_comparison_seasons(*HOLIDAY, D(2024, 10, 1), D(2025, 12, 31), name="Holiday 2025")
    assert got == [("Holiday 2024", D(2024, 11, 1), D(2024, 12, 31))]


def test_three_years_back_at_most_oldest_first():
    got = default_comparison_seasons(*HOLIDAY, D(2019, 1, 1), D(2025, 10, 15), name="Holiday 2025")
    assert [s[1] for s in got] == [D(2022, 11, 1), D(2023, 11, 1), D(2024, 11, 1)]
    assert [s[0] for s in got] == ["Holiday 2022", "Holiday 2023", "Holiday 2024"]
    assert len(default_comparison_seasons(*HOLIDAY, D(2019, 1, 1), D(2025, 10, 15), max_years=5)) == 5


@pytest.mark.parametrize(("first", "last", "years"), [
    (D(2024, 11, 2), D(2025, 10, 15), []),            # last year's window starts a day before the data
    (D(2023, 11, 1), D(2025, 10, 15), [2023, 2024]),  # the first day counts (both ends included)
    (D(2022, 12, 1), D(2025, 10, 15), [2023, 2024]),  # 2022's window partly before the data
    (D(2022, 1, 1), D(2024, 12, 30), [2022, 2023]),   # 2024's window ends a day after the data
    (D(2022, 1, 1), D(2024, 12, 31), [2022, 2023, 2024]),
])
def test_windows_not_wholly_inside_the_data_are_left_out(first, last, years):
    got = default_comparison_seasons(*HOLIDAY, first, last)
    assert [s[1].year for s in got] == years
    assert all(first <= a and b <= last for _, a, b in got)


def test_no_orders_give_no_season():
    assert default_comparison_seasons(*HOLIDAY, None, None) == []


def test_29_february_moves_to_the_28th_in_a_year_without_it():
    got = default_comparison_seasons(D(2024, 2, 1), D(2024, 2, 29), D(2020, 1, 1), D(2024, 1, 31), name="Feb 2024")
    assert got == [("Feb 2021", D(2021, 2, 1), D(2021, 2, 28)), ("Feb 2022", D(2022, 2, 1), D(2022, 2, 28)),
                   ("Feb 2023", D(2023, 2, 1), D(2023, 2, 28))]
    assert years_earlier(D(2028, 2, 29), 4) == D(2024, 2, 29)  # a leap year keeps it
    assert years_earlier(D(2028, 2, 29), 1) == D(2027, 2, 28)
    # a season starting on 29 Feb: last year's window starts on 28 Feb
    assert default_comparison_seasons(D(2028, 2, 29), D(2028, 3, 10), D(2027, 1, 1), D(2028, 1, 1))[0][1:] == (
        D(2027, 2, 28), D(2027, 3, 10))


def test_a_window_that_would_reach_into_the_season_is_left_out():
    long = (D(2025, 1, 1), D(2026, 3, 31))  # 15 months: a year earlier still overlaps it
    assert default_comparison_seasons(*long, D(2020, 1, 1), D(2025, 12, 31), max_years=1) == []
    assert [s[1] for s in default_comparison_seasons(*long, D(2020, 1, 1), D(2025, 12, 31), max_years=2)] == [
        D(2023, 1, 1)]


def test_names_follow_the_campaign_name():
    got = default_comparison_seasons(*HOLIDAY, D(2020, 1, 1), D(2025, 10, 1), max_years=1, name="Black Friday sale")
    assert got[0][0] == "Black Friday sale 2024"
    new_year = default_comparison_seasons(D(2025, 12, 20), D(2026, 1, 5), D(2020, 1, 1), D(2025, 12, 1),
                                          max_years=1, name="New Year 2026")
    assert new_year == [("New Year 2025", D(2024, 12, 20), D(2025, 1, 5))]


def test_the_sentence_names_the_seasons_or_why_there_is_none():
    got = default_comparison_seasons(*HOLIDAY, D(2023, 1, 1), D(2025, 10, 15), name="Holiday 2025")
    assert describe_default_comparison(got, D(2023, 1, 1), D(2025, 10, 15), *HOLIDAY) == (
        "Comparison seasons chosen from the data (the campaign file leaves comparison_seasons out): Holiday 2024 "
        "(same window a year earlier), Holiday 2023 (same window two years earlier).")
    assert describe_default_comparison([], D(2025, 3, 1), D(2025, 12, 31), *HOLIDAY) == (
        "No earlier season is fully covered by the data (orders from 01 Mar 2025 to 31 Dec 2025), so nothing is "
        "compared with a past season; orders covering the same window a year earlier (01 Nov 2024 to 31 Dec 2024) "
        "would enable it.")
    assert "no orders" in describe_default_comparison([], None, None, *HOLIDAY)


# --------------------------------------------------------------------------------------------
# Resolved when a step starts, on an orders-only dataset
# --------------------------------------------------------------------------------------------
@functools.cache
def _minimal(months: int) -> Path:
    """The orders-only export of the small sample: ``months`` months up to 31 Dec 2025."""
    out = small_sample().parent / f"minimal-{months}"
    if not out.exists():
        write_minimal(small_sample(), out, months=months)
    return out


def _config(tmp: Path, months: int, **extra: Any) -> Path:
    path = tmp / f"shop-{months}.yaml"
    path.write_text(yaml.safe_dump({**REQUIRED, "data": {"source": str(_minimal(months))}, **extra}))
    return path


def test_start_step_chooses_last_years_window_from_15_months(tmp_path):
    ctx = start_step("01_plan", str(_config(tmp_path, 15)), output_dir=str(tmp_path / "out"))
    assert [(s.name, s.start, s.end) for s in ctx.cfg.comparison_seasons] == [
        ("Holiday 2024", D(2024, 11, 1), D(2024, 12, 31))]
    assert ctx.cfg.comparison_from_data and not ctx.cfg.comparison_automatic
    assert ctx.cfg.source_path == (tmp_path / "shop-15.yaml").resolve()
    assert ctx.comparison_note == ("Comparison seasons chosen from the data (the campaign file leaves "
                                   "comparison_seasons out): Holiday 2024 (same window a year earlier).")
    assert ctx.header().loc["comparison seasons", "value"] == "Holiday 2024"


def test_start_step_chooses_none_from_10_months(tmp_path):
    ctx = start_step("01_plan", str(_config(tmp_path, 10)), output_dir=str(tmp_path / "out"))
    assert ctx.cfg.comparison_seasons == [] and ctx.cfg.comparison_from_data
    assert ctx.comparison_note.startswith("No earlier season is fully covered by the data (orders from 01 Mar "
                                          "2025 to 31 Dec 2025)")


def test_listed_or_empty_comparison_seasons_are_kept(tmp_path):
    ctx = start_step("01_plan", str(_config(tmp_path, 15, comparison_seasons=[])), output_dir=str(tmp_path / "o"))
    assert ctx.cfg.comparison_seasons == [] and not ctx.cfg.comparison_from_data
    assert "comparison_seasons: []" in ctx.comparison_note
    cfg = load_config(resolve("campaigns/holiday-2025.yaml"))
    same, note = resolve_comparison_seasons(cfg, ctx.wh)
    assert same is cfg and note.startswith("Comparison seasons set in the campaign file: holiday-2024 (01 Nov 2024")


# --------------------------------------------------------------------------------------------
# The plan notebook with only the required keys
# --------------------------------------------------------------------------------------------
def _run_plan_notebook(config: Path, out: Path) -> dict[str, Any]:
    """Execute the plan notebook's code cells in this process (parameters replaced), keeping what
    each cell shows; returns the notebook's namespace with ``_shown`` (cell source -> output)."""
    matplotlib.use("Agg")
    nb = json.loads(resolve("notebooks/01_plan.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    ns: dict[str, Any] = {"config_path": str(config), "data_source": "", "output_dir": str(out), "seed": 42}
    shown: dict[str, Any] = {}
    for src in cells[1:]:  # the first is the parameters cell
        try:
            code = compile(src, "<cell>", "eval")
        except SyntaxError:
            exec(compile(src, "<cell>", "exec"), ns)  # noqa: S102 - the notebook's own cells
            *_, last = src.rstrip().splitlines()
            if not last.rstrip().endswith(";") and "=" not in last.split("(")[0] and not last.startswith(
                    ("from", "import")):
                shown[src] = eval(last, ns)  # noqa: S307
        else:
            shown[src] = eval(code, ns)  # noqa: S307
            if src.rstrip().endswith(";"):
                shown[src] = ("figure", shown[src])
        plt.close("all")
    ns["_shown"] = shown
    return ns


@pytest.fixture(scope="module")
def bare_plan(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bare_plan")
    return _run_plan_notebook(_config(tmp, 15), tmp / "out")


def _texts(ns: dict[str, Any]) -> list[str]:
    return [str(v.data) for v in ns["_shown"].values() if isinstance(v, Markdown)]


def test_bare_plan_says_what_is_missing_once_per_section(bare_plan):
    texts = _texts(bare_plan)
    assert texts.count(S.NO_CHANNELS) == 1 and texts.count(S.NO_BUDGET) == 1
    assert any(t.startswith("The campaign file sets no targets, so the revenue target is the forecast itself")
               for t in texts)
    assert texts[0].startswith("Comparison seasons chosen from the data")
    for t in texts:
        assert not re.search(r"\b(nan|inf)\b", t, re.IGNORECASE), t
    bud = bare_plan["bud"]
    assert S.plot_response_curves(bud, "USD") is None and S.plot_budget_splits(bud, "USD") is None
    assert S.plot_pacing(bud, "USD") is None and S.describe_roas_target(bud, bare_plan["ctx"].cfg) == ""


def test_bare_plan_target_is_the_forecast(bare_plan):
    fc, tr = bare_plan["fc"], bare_plan["targets"]
    t = tr.targets[(tr.targets["metric"] == "revenue") & (tr.targets["channel"] == "all")]
    forecast = fc.total("revenue")["mean"].sum()
    assert forecast > 0 and not tr.configured
    assert t.loc[t["level"] == "target", "value"].sum() == pytest.approx(forecast)
    assert "new_customers" not in set(tr.targets["metric"])


def test_bare_plan_summary_records_skipped_sections_and_no_budget_figures(bare_plan):
    out = Path(bare_plan["ctx"].output_dir) / "artifacts"
    summary = json.loads((out / "summary_01_plan.json").read_text())
    head = summary["headline"]
    assert not any("budget" in k or "roas" in k.lower() for k in head), head
    assert head["revenue target"].endswith("(the forecast: no target set)")
    assert head["sections skipped"] == "response curves, budget, funnel"
    assert "skipped" not in summary  # the step itself ran
    plan = json.loads((out / "plan.json").read_text())
    assert set(plan["skipped"]) == {"response_curves", "budget", "funnel"}
    assert plan["skipped"]["budget"] == S.NO_BUDGET and S.NO_BUDGET in summary["notes"]
    assert plan["budget"] == {} and plan["targets_configured"] is False
    assert pd.read_parquet(out / "budget_plan.parquet").empty and pd.read_parquet(out / "pacing.parquet").empty


def test_plan_with_channels_and_budget_but_no_spend(tmp_path):
    """Channels and a budget on data with an empty spend table: no curves (one sentence), the
    split holds the bounds and sums to the total, and no ROAS comes from zero spend."""
    cfg_path = _config(tmp_path, 15, channels={"paid_search": {"min_budget": 1000, "max_budget": 20000},
                                               "email": {"max_budget": 5000}},
                       budget={"total": 15000, "target_roas": 3}, targets={"revenue_uplift_pct": 5})
    ctx = start_step("01_plan", str(cfg_path), output_dir=str(tmp_path / "out"))
    hist = S.load_history(ctx.wh, ctx.cfg)
    fc = S.run_forecast(ctx.wh, ctx.cfg, hist)
    br = S.run_budget(ctx.wh, ctx.cfg, fc, hist)
    assert br.skipped == {"response_curves": S.no_spend_note(list(ctx.cfg.channels))}
    assert "paid_search" in br.skipped["response_curves"] and "email" in br.skipped["response_curves"]
    assert str(S.curve_table(br, "USD").data) == br.skipped["response_curves"]
    plan = br.plan.set_index("channel")
    assert plan["budget"].sum() == pytest.approx(15000) and plan.loc["paid_search", "budget"] >= 1000
    assert plan["roas"].isna().all() and not plan["fitted"].any()
    assert S.describe_roas_target(br, ctx.cfg) == ("The target ROAS of 3 cannot be checked: no channel has a "
                                                   "response curve (see above).")
    assert not any("No spend history" in n for n in br.notes)  # said once, by the skipped sentence
