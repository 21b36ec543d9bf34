"""The rule language: semantics on hand-made rows, errors users can cause, config segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.customers import rules
from playbook.customers.rules import RuleSpec, SegmentSpec
from playbook.errors import ConfigError


@pytest.fixture
def feats() -> pd.DataFrame:
    return pd.DataFrame({
        "orders_30d": [0, 1, 3, 5, 0, 2],
        "orders_total": [0, 4, 10, 12, 1, 2],
        "days_since_last_order": [np.nan, 10.0, 200.0, 5.0, 400.0, 181.0],
        "country": ["US", "GB", "DE", "US", "IN", "CN"],
        "consent_email": [True, False, True, True, False, True],
    }, index=pd.Index(["a", "b", "c", "d", "e", "f"], name="customer_id"))


def _members(feats, *rule_args, match="all") -> list[str]:
    seg = SegmentSpec("s", [RuleSpec(*a) for a in rule_args], match=match)
    m = rules.evaluate_segment(feats, seg)
    return list(m[m].index)


@pytest.mark.parametrize(("rule", "expected"), [
    (("orders", ">=", 3, 30), ["c", "d"]),
    (("orders", ">", 3, 30), ["d"]),
    (("orders", "<", 1, 30), ["a", "e"]),
    (("orders", "<=", 1, 30), ["a", "b", "e"]),
    (("orders", "==", 0, 30), ["a", "e"]),
    (("orders", "!=", 0, 30), ["b", "c", "d", "f"]),
    (("orders", "between", [1, 3], 30), ["b", "c", "f"]),
    (("country", "in", ["US", "DE"]), ["a", "c", "d"]),
    (("country", "not_in", ["US", "DE"]), ["b", "e", "f"]),
    (("country", "==", "GB"), ["b"]),
    (("consent_email", "==", True), ["a", "c", "d", "f"]),
], ids=["ge", "gt", "lt", "le", "eq", "ne", "between", "in", "not_in", "eq_text", "bool"])
def test_operators(feats, rule, expected):
    assert _members(feats, rule) == expected


def test_missing_values_never_match(feats):
    # 'a' never bought: days_since_last_order is NaN -> not lapsed, and not "!=" either
    assert _members(feats, ("days_since_last_order", ">", 180)) == ["c", "e", "f"]
    assert "a" not in _members(feats, ("days_since_last_order", "!=", 10.0))
    assert "a" not in _members(feats, ("days_since_last_order", "<", 1e9))


def test_all_and_any(feats):
    both = [("days_since_last_order", ">", 180), ("orders_total", ">=", 2)]
    assert _members(feats, *both, match="all") == ["c", "f"]
    assert _members(feats, *both, match="any") == ["b", "c", "d", "e", "f"]


def test_unknown_field_lists_existing_fields(feats):
    seg = SegmentSpec("Bad", [RuleSpec("ordrs", ">=", 1, 30)])
    with pytest.raises(ConfigError, match=r"segment 'Bad': unknown field 'ordrs_30d'.*orders_30d.*Fields that exist"):
        rules.evaluate_segment(feats, seg)


@pytest.mark.parametrize(("rule", "message"), [
    (("country", ">=", 3), "needs a numeric field"),
    (("orders_total", "==", "many"), "compares it with text"),
    (("country", "in", [1, 2]), "compares it with a number"),
    (("orders_total", "between", [5, 1]), "low <= high"),
    (("orders_total", "~=", 1), "unknown operator"),
], ids=["numeric-op-on-text", "text-on-number", "number-on-text", "between-reversed", "bad-op"])
def test_operator_that_does_not_apply(feats, rule, message):
    with pytest.raises(ConfigError, match=message):
        rules.evaluate_segment(feats, SegmentSpec("X", [RuleSpec(*rule)]))


def test_bad_segments_reported_others_built(feats):
    segs = [
        SegmentSpec("Good", [RuleSpec("orders_total", ">=", 10)]),
        SegmentSpec("Typo", [RuleSpec("revenue_total", ">", 1)]),
        SegmentSpec("Nobody", [RuleSpec("orders_total", ">", 1000)]),
        {"name": "FromDict", "match": "any", "rules": [{"field": "country", "op": "==", "value": "IN"}]},
    ]
    res = rules.build_rule_segments(feats, segs)
    assert list(res.members.columns) == ["Good", "Nobody", "FromDict"]
    assert list(res.members.index[res.members["Good"]]) == ["c", "d"]
    assert list(res.members.index[res.members["FromDict"]]) == ["e"]
    assert set(res.problems) == {"Typo"} and "unknown field 'revenue_total'" in res.problems["Typo"]
    assert res.empty == ["Nobody"]
    sizes = res.sizes().set_index("segment")
    assert sizes.loc["Nobody", "status"].startswith("empty")
    assert sizes.loc["Typo", "status"].startswith("not built")
    text = rules.describe_rule_segments(res, len(feats))
    assert "Nobody" in text and "Typo" in text


def test_nothing_is_evaluated_as_code(feats):
    seg = SegmentSpec("Inject", [RuleSpec("__import__('os').system('echo hi')", ">=", 1)])
    with pytest.raises(ConfigError, match="unknown field"):
        rules.evaluate_segment(feats, seg)


def test_config_segments_and_windows():
    cfg = load_config("campaigns/holiday-2025.yaml")
    assert rules.required_windows(cfg.segments) == [30, 90]
    names = [s.name for s in cfg.segments]
    assert {"Frequent Buyers", "Lapsed Customers", "VIP", "Cart Abandoners"} <= set(names)
