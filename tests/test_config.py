"""Campaign config: example configs load, every invalid field is reported by its dotted path."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from playbook.config.campaign import CampaignConfig
from playbook.config.loader import load_config, parse_config
from playbook.data import synth
from playbook.data.source import DataSource
from playbook.errors import ConfigError
from playbook.paths import project_root
from tests.sample_data import read, small_sample

EXAMPLES = ["campaigns/holiday-2025.yaml", "campaigns/diwali-2025.yaml"]

BASE: dict = {
    "slug": "test-2025",
    "name": "Test 2025",
    "countries": ["US", "GB"],
    "currency": "USD",
    "season": {"start": "2025-11-01", "end": "2025-12-31", "planning_cutoff": "2025-10-15"},
    "comparison_seasons": [{"name": "t-2024", "start": "2024-11-01", "end": "2024-12-31"}],
    "channels": {
        "paid_search": {"min_budget": 100, "max_budget": 600},
        "email": {"min_budget": 0, "max_budget": 400},
    },
    "budget": {"total": 500},
    "targets": {"revenue_uplift_pct": 8},
    "segments": [
        {"name": "Frequent", "rules": [{"field": "orders", "window_days": 90, "op": ">=",
                                        "value": 3}]},
    ],
    "experiments": [
        {"id": "exp_a", "hypothesis": "h", "primary_metric": "conversion", "mde": 0.05,
         "variants": ["control", "treat"]},
        {"id": "exp_b", "hypothesis": "h", "primary_metric": "open_rate", "mde": 0.1,
         "variants": ["control", "t1", "t2"], "allocation": [0.5, 0.25, 0.25]},
    ],
}

YAML_TEMPLATE = """\
slug: test-2025
name: Test 2025
countries: {countries}
currency: USD
season: {{start: 2025-11-01, end: 2025-12-31, planning_cutoff: 2025-10-15}}
channels:
  paid_search: {{min_budget: 100, max_budget: 600}}
budget: {{total: 500}}
targets: {{revenue_uplift_pct: 8}}
experiments:
  - id: {exp_id}
    hypothesis: h
    primary_metric: conversion
    mde: {mde}
    variants: [control, treat]
"""


def _cfg(**changes) -> dict:
    """A deep copy of BASE with dotted-path changes applied (``_DELETE`` removes a key)."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        parts = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        node = data
        for p in parts[:-1]:
            node = node[p]
        if value is _DELETE:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
    return data


_DELETE = object()


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return str(info.value)


def _write(tmp_path: Path, countries: str = "[US, GB]", exp_id: str = "exp_a",
           mde: str = "0.05") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(YAML_TEMPLATE.format(countries=countries, exp_id=exp_id, mde=mde))
    return path


# --- the examples --------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=["holiday", "diwali"])
def test_example_configs_load(path):
    cfg = load_config(path)
    assert isinstance(cfg, CampaignConfig)
    assert cfg.source_path == (project_root() / path).resolve()
    lo, hi = cfg.budget_bounds
    assert lo <= cfg.budget.total <= hi
    assert all(s.end < cfg.season.start for s in cfg.comparison_seasons)


def test_holiday_example_content():
    cfg = load_config("campaigns/holiday-2025.yaml")
    assert cfg.countries == ["US", "GB", "DE", "IN", "AE", "CN"]
    assert (cfg.season.start, cfg.season.end) == (dt.date(2025, 11, 1), dt.date(2025, 12, 31))
    assert [e.id for e in cfg.experiments] == [
        "xmas25_subject_line", "xmas25_free_shipping", "xmas25_gift_wrap", "xmas25_aa",
        "xmas25_email_holdout"]
    # The synthetic sample names every arm control/treatment; the email holdout keeps 10 % out.
    assert all(e.variants == ["control", "treatment"] for e in cfg.experiments)
    assert cfg.experiments[-1].allocation == [0.1, 0.9]
    assert cfg.experiments[0].allocation == [0.5, 0.5]  # default: equal
    features = {r.feature for s in cfg.segments for r in s.rules}
    assert {"orders_90d", "views_30d", "orders_30d", "cart_abandonments_30d"} <= features


def test_example_loads_from_another_working_folder(monkeypatch):
    monkeypatch.chdir(project_root() / "playbook")  # like a notebook running in its own folder
    assert load_config("campaigns/diwali-2025.yaml").countries == ["IN"]


# --- every kind of invalid field names its dotted path -------------------------------------

INVALID = [
    ("slug-format", {"slug": "Test 2025"}, "slug", "lowercase"),
    ("name-missing", {"name": _DELETE}, "name", "required"),
    ("countries-empty", {"countries": []}, "countries", "at least 1"),
    ("country-unknown", {"countries": ["US", "XX"]}, "countries[1]", "ISO 3166"),
    ("country-lowercase", {"countries": ["us"]}, "countries[0]", "write 'US'"),
    ("country-uk", {"countries": ["UK"]}, "countries[0]", "'GB'"),
    ("country-duplicate", {"countries": ["US", "US"]}, "countries", "more than once"),
    ("currency", {"currency": "DOLLAR"}, "currency", "ISO 4217"),
    ("timezone", {"timezone": "Europe/Berln"}, "timezone", "did you mean 'Europe/Berlin'"),
    ("season-end-before-start", {"season__end": "2025-10-01"}, "season.end", "before season.start"),
    ("season-cutoff-late", {"season__planning_cutoff": "2025-11-01"}, "season.planning_cutoff",
     "before the season starts"),
    ("season-datetime", {"season__start": dt.datetime(2025, 11, 1, 9)}, "season.start",
     "without time"),
    ("season-bad-date", {"season__end": "2025-02-30"}, "season.end", "not a real date"),
    ("season-number-date", {"season__end": 20251231}, "season.end", "YYYY-MM-DD"),
    ("comparison-after-start", {"comparison_seasons__0__end": "2025-11-05"},
     "comparison_seasons[0].end", "must be in the past"),
    ("data-orphan-negative", {"data": {"orphan_threshold": -1}}, "data.orphan_threshold", ">= 0"),
    ("data-timezone", {"data": {"timezone": "Mars/Base"}}, "data.timezone", "IANA"),
    ("data-encoding", {"data": {"encoding": "utf-99"}}, "data.encoding", "encoding"),
    ("channel-not-budgetable", {"channels__organic": {"max_budget": 5}}, "channels.organic",
     "allowed: paid_search"),
    ("channel-typo", {"channels__paid_serch": {"max_budget": 5}}, "channels.paid_serch",
     "did you mean 'paid_search'"),
    ("channel-max-below-min", {"channels__paid_search__max_budget": 50},
     "channels.paid_search.max_budget", "below min_budget 100"),
    ("channel-negative", {"channels__email__min_budget": -1}, "channels.email.min_budget", ">= 0"),
    ("budget-total-zero", {"budget__total": 0}, "budget.total", "> 0"),
    ("budget-without-channels", {"channels": _DELETE}, "budget", "no channels are listed"),
    ("budget-with-empty-channels", {"channels": {}}, "budget", "add a channels section"),
    ("season-missing", {"season": _DELETE}, "season", "required"),
    ("currency-missing", {"currency": _DELETE}, "currency", "required"),
    ("targets-stretch", {"targets__stretch_uplift_pct": 2}, "targets.stretch_uplift_pct",
     "at least the base target"),
    ("targets-new-customers-float", {"targets__new_customers": 1.5}, "targets.new_customers",
     "whole number"),
    ("segment-match", {"segments__0__match": "anyy"}, "segments[0].match", "did you mean 'any'"),
    ("segment-no-rules", {"segments__0__rules": []}, "segments[0].rules", "at least 1"),
    ("rule-op", {"segments__0__rules__0__op": "=>"}, "segments[0].rules[0].op", "'>='"),
    ("rule-in-needs-list", {"segments__0__rules__0__op": "in"}, "segments[0].rules[0].value",
     "needs a list"),
    ("rule-between-shape", {"segments__0__rules__0__op": "between"},
     "segments[0].rules[0].value", "two numbers"),
    ("rule-compare-text", {"segments__0__rules__0__value": "three"},
     "segments[0].rules[0].value", "needs a number"),
    ("rule-field-window-suffix", {"segments__0__rules__0__field": "orders_90d"},
     "segments[0].rules[0].field", "window_days: 90"),
    ("rule-field-not-identifier", {"segments__0__rules__0__field": "orders; drop table"},
     "segments[0].rules[0].field", "letters, digits"),
    ("rule-value-nan", {"segments__0__rules__0__value": float("nan")},
     "segments[0].rules[0].value", "finite"),
    ("segment-duplicate", {"segments": [BASE["segments"][0]] * 2}, "segments[1].name",
     "duplicate"),
    ("experiment-metric", {"experiments__0__primary_metric": "ctr"},
     "experiments[0].primary_metric", "click_rate"),
    ("experiment-mde-zero", {"experiments__1__mde": 0}, "experiments[1].mde", "> 0"),
    ("experiment-mde-percent", {"experiments__1__mde": 5}, "experiments[1].mde", "fractions"),
    ("experiment-mde-nan-text", {"experiments__1__mde": "nan"}, "experiments[1].mde", "finite"),
    ("experiment-alpha", {"experiments__0__alpha": 0.6}, "experiments[0].alpha", "<= 0.5"),
    ("experiment-power", {"experiments__0__power": 0.3}, "experiments[0].power", ">= 0.5"),
    ("experiment-one-variant", {"experiments__0__variants": ["control"]},
     "experiments[0].variants", "at least 2"),
    ("experiment-duplicate-variant", {"experiments__0__variants": ["a", "a"]},
     "experiments[0].variants[1]", "duplicate variant"),
    ("experiment-allocation-sum", {"experiments__1__allocation": [0.5, 0.3, 0.3]},
     "experiments[1].allocation", "sum to 1.1"),
    ("experiment-allocation-length", {"experiments__1__allocation": [0.5, 0.5]},
     "experiments[1].allocation", "one share per variant"),
    ("experiment-holdout", {"experiments__0__holdout": 0.5}, "experiments[0].holdout", "< 0.5"),
    ("experiment-guardrail", {"experiments__0__guardrails": ["churn"]},
     "experiments[0].guardrails[0]", "unsubscribe_rate"),
    ("experiment-correction", {"experiments__0__correction": "bonferroni"},
     "experiments[0].correction", "'holm'"),
    ("experiment-dates", {"experiments__0__start": "2025-12-01", "experiments__0__end": "2025-11-01"},
     "experiments[0].end", "before start"),
    ("experiment-duplicate-id", {"experiments__1__id": "exp_a"}, "experiments[1].id", "duplicate"),
    ("experiment-id-spaces", {"experiments__1__id": "exp b"}, "experiments[1].id", "no spaces"),
    ("attribution-order", {"attribution": {"markov_order": 0}}, "attribution.markov_order", ">= 1"),
    ("overlap-threshold", {"overlap_warning_threshold": 1.5}, "overlap_warning_threshold", "<= 1"),
    ("min-audience-text", {"min_audience_size": "100"}, "min_audience_size", "whole number"),
    ("output-dir-number", {"output": {"dir": 5}}, "output.dir", "in quotes"),
    ("name-number", {"name": 2025}, "name", "write '2025' in quotes"),
]


@pytest.mark.parametrize(("changes", "path", "fragment"), [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])
def test_invalid_field_names_its_path(changes, path, fragment):
    message = _error(_cfg(**changes))
    line = next((ln for ln in message.splitlines() if ln.startswith(f"  - {path}: ")), None)
    assert line is not None, f"no line for {path!r} in:\n{message}"
    assert fragment in line, line
    assert message.startswith("Invalid campaign config <dict>: 1 problem\n"), message


def test_valid_base_and_defaults():
    cfg = parse_config(_cfg())
    assert cfg.timezone == "UTC" and cfg.data.source is None and cfg.data.orphan_threshold == 0
    assert cfg.attribution.half_life_days == 7 and cfg.attribution.max_path_length == 20
    assert cfg.overlap_warning_threshold == 0.3 and cfg.min_audience_size == 100
    exp = cfg.experiments[0]
    assert (exp.alpha, exp.power, exp.holdout, exp.correction, exp.mde_type) == (
        0.05, 0.8, 0.0, "holm", "relative")
    assert exp.control == "control" and exp.treatments == ["treat"]
    assert cfg.segments[0].match == "all" and cfg.segments[0].rules[0].feature == "orders_90d"


def test_several_errors_in_one_message():
    message = _error(_cfg(slug="Bad Slug", season__end="2025-10-01",
                          channels__paid_search__max_budget=-1, experiments__1__mde=0,
                          budgte={"total": 1}))
    assert message.startswith("Invalid campaign config <dict>: 5 problems")
    for path in ("slug", "season.end", "channels.paid_search.max_budget", "experiments[1].mde",
                 "budgte"):
        assert f"\n  - {path}: " in message, path


def test_cross_section_checks_run_when_other_sections_are_invalid():
    message = _error(_cfg(slug="Bad Slug", budget__total=10_000))
    assert "  - slug: " in message
    assert "  - budget.total: 10,000 is above the sum of the channels' max_budget (1,000)" in message


def test_unknown_key_suggests_the_closest_allowed_key():
    message = _error(_cfg(budgte={"total": 1}))
    assert "budgte: unknown key 'budgte' (did you mean 'budget'?)" in message
    nested = _error(_cfg(experiments__0__hypotesis="x"))
    assert "experiments[0].hypotesis: unknown key 'hypotesis' (did you mean 'hypothesis'?)" in nested


@pytest.mark.parametrize(("total", "expected"), [
    (50, "budget.total: 50 is below the sum of the channels' min_budget (100)"),
    (1_001, "budget.total: 1,001 is above the sum of the channels' max_budget (1,000)"),
], ids=["below-mins", "above-maxes"])
def test_budget_total_within_channel_bounds(total, expected):
    assert expected in _error(_cfg(budget__total=total))


@pytest.mark.parametrize("total", [100, 1_000], ids=["at-min", "at-max"])
def test_budget_bounds_are_inclusive(total):
    assert parse_config(_cfg(budget__total=total)).budget.total == total


def test_allocation_sum_tolerance():
    ok = [0.5, 0.25, 0.25 + 5e-7]
    assert parse_config(_cfg(experiments__1__allocation=ok)).experiments[1].allocation == ok
    assert "sum to" in _error(_cfg(experiments__1__allocation=[0.5, 0.25, 0.25 + 1e-5]))


# --- YAML typing traps ------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "value"), [("NO", False), ("no", False), ("off", False),
                                                ("yes", True), ("On", True)],
                         ids=["NO", "no", "off", "yes", "On"])
def test_yaml_boolean_country_rejected_with_quoting_advice(tmp_path, written, value):
    path = _write(tmp_path, countries=f"[US, GB, {written}]")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"countries[2]: got boolean {value} — YAML reads" in message
    assert f"write '{written}' in quotes (line 3)" in message


def test_quoted_norway_is_accepted(tmp_path):
    assert load_config(_write(tmp_path, countries="[US, 'NO']")).countries == ["US", "NO"]


def test_octal_looking_id_rejected_not_coerced(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(
            "experiments[0].id: got number 7 (YAML read 007 as a number); IDs and codes are "
            "text: write '007' in quotes")):
        load_config(_write(tmp_path, exp_id="007"))
    assert load_config(_write(tmp_path, exp_id="'007'")).experiments[0].id == "007"


def test_int_id_rejected_in_mapping_too():
    assert "experiments[0].id: got number 7;" in _error(_cfg(experiments__0__id=7))


@pytest.mark.parametrize("mde", ["nan", ".nan", ".inf", "'0.05'"], ids=["nan", "yaml-nan", "inf",
                                                                      "quoted"])
def test_non_numbers_rejected_where_numbers_expected(tmp_path, mde):
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.mde: got .*(finite|remove the quotes)"):
        load_config(_write(tmp_path, mde=mde))


def test_duplicate_yaml_key_is_reported(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(_write(tmp_path).read_text() + "budget: {total: 600}\n")
    with pytest.raises(ConfigError, match=r"budget: duplicate key 'budget' \(lines 8 and 16\)"):
        load_config(path)


# --- files --------------------------------------------------------------------------------------


def test_missing_file_names_path_and_lists_campaigns():
    with pytest.raises(ConfigError) as info:
        load_config("campaigns/no-such-campaign.yaml")
    message = str(info.value)
    assert "'campaigns/no-such-campaign.yaml' not found" in message
    assert "campaigns/holiday-2025.yaml" in message and "campaigns/diwali-2025.yaml" in message


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("slug: a\nname: [x\n  y: 3\n")
    with pytest.raises(ConfigError, match=r"YAML syntax error at line 3, column 4"):
        load_config(path)


@pytest.mark.parametrize(("text", "fragment"), [("", "is empty"), ("- a\n- b\n", "must be a mapping")],
                         ids=["empty", "list"])
def test_empty_or_non_mapping_file(tmp_path, text, fragment):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


# --- convenience properties ------------------------------------------------------------------


def test_output_dir_default_and_override(tmp_path):
    assert parse_config(_cfg()).output_dir == project_root() / "reports" / "test-2025"
    assert parse_config(_cfg(output={"dir": "out/x"})).output_dir == project_root() / "out" / "x"
    assert parse_config(_cfg(output={"dir": str(tmp_path)})).output_dir == tmp_path


def test_window_and_data_source():
    cfg = parse_config(_cfg())
    start, end = cfg.window
    assert start == pd.Timestamp("2025-11-01", tz="UTC") and end == pd.Timestamp("2025-12-31", tz="UTC")
    assert cfg.window_half_open[1] == pd.Timestamp("2026-01-01", tz="UTC")
    assert cfg.season.days == 61
    assert DataSource.from_config(cfg.data).location == str(project_root() / "data" / "sample")
    assert DataSource.from_config(parse_config(_cfg(data={"source": "exports/shop"})).data).location == str(
        project_root() / "exports" / "shop")
    url = "duckdb:///tmp/shop.duckdb"
    assert DataSource.from_config(parse_config(_cfg(data={"source": url})).data).location == url


def test_planning_cutoff_defaults_to_day_before_start():
    cfg = parse_config(_cfg(season={"start": "2025-11-01", "end": "2025-12-31"}))
    assert cfg.season.planning_cutoff == dt.date(2025, 10, 31)


def test_empty_sections_use_defaults(tmp_path):
    path = _write(tmp_path)
    path.write_text(path.read_text().split("experiments:")[0] + "experiments:\nsegments:\ndata:\n")
    cfg = load_config(path)
    assert cfg.experiments == [] and cfg.segments == [] and cfg.data.source is None


def test_holiday_experiments_match_the_synthetic_generator():
    planted = set(synth.EXPERIMENT_IDS.values())
    assert len(planted) == 5
    assert {e.id for e in load_config("campaigns/holiday-2025.yaml").experiments} == planted


def test_holiday_arms_match_the_sample_assignments():
    a = read(small_sample(), "assignments")
    counts = a.groupby("experiment_id")["variant"].value_counts()
    exps = load_config("campaigns/holiday-2025.yaml").experiments
    assert set(a["experiment_id"]) == {e.id for e in exps}
    for exp in exps:
        observed = counts.loc[exp.id]
        assert set(observed.index) == set(exp.variants), exp.id
        n = int(observed.sum())
        for variant, planned in zip(exp.variants, exp.allocation, strict=True):
            # 2,000-customer sample: allow 4 binomial standard errors (0.085 for 552 people at 50 %)
            tolerance = 4 * np.sqrt(planned * (1 - planned) / n)
            assert abs(observed[variant] / n - planned) < tolerance, (exp.id, variant, observed[variant], n)


def test_personalization_section_is_typed_and_feeds_offers():
    from playbook.value.offers import validate_content_matrix

    cfg = load_config("campaigns/holiday-2025.yaml")
    matrix = cfg.personalization.matrix()
    validate_content_matrix(matrix)  # the shape playbook.value.offers expects
    assert "default" in matrix and matrix["Champions"]["content"] == "vip_early_access"
    cart = cfg.personalization.flow_specs()[0]
    assert cart["trigger"] == "add_to_cart" and cart["steps"][0] == ("reminder", 2.0)


def test_personalization_rejects_matrix_without_default_and_unknown_trigger():
    import yaml

    raw = yaml.safe_load((project_root() / "campaigns" / "holiday-2025.yaml").read_text())
    del raw["personalization"]["content_matrix"]["default"]
    raw["personalization"]["flows"][0]["trigger"] = "add_to_basket"
    with pytest.raises(ConfigError) as exc:
        parse_config(raw)
    msg = str(exc.value)
    assert "personalization.content_matrix" in msg and "default" in msg
    assert "personalization.flows[0].trigger" in msg


# --- loader limits (playbook.config.loader) ------------------------------------------------------


def test_alias_bomb_stops_at_the_value_limit(tmp_path):
    """A "billion laughs" file (each alias doubles the previous list) is refused, not expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"more than 100,000 values once YAML aliases"):
        load_config(path)


def test_deep_nesting_is_refused(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("slug: " + "[" * 60 + "]" * 60 + "\n")
    with pytest.raises(ConfigError, match=r"deep\.yaml: the config nests deeper than 50 levels"):
        load_config(path)


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * 1_000_000 + "\n")
    with pytest.raises(ConfigError, match=r"big\.yaml: 1,000,003 bytes, too large for a campaign config"):
        load_config(path)


def test_a_few_aliases_are_fine(tmp_path):
    """Ordinary aliases (one channel's bounds reused) stay allowed."""
    path = _write(tmp_path)
    line = "  paid_search: {min_budget: 100, max_budget: 600}\n"
    assert line in path.read_text()
    path.write_text(path.read_text().replace(line, "  paid_search: &bounds {min_budget: 100, max_budget: 600}\n"
                                                   "  display: *bounds\n"))
    cfg = load_config(path)
    assert cfg.channels["display"] == cfg.channels["paid_search"] and cfg.budget_bounds == (200, 1200)
