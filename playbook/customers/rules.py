"""Rule segments from the campaign config: a small, safe rule language (nothing is evaluated as code).

A segment is a list of rules combined with ``match: all`` (AND) or ``match: any`` (OR). A rule is
``{field, op, value[, window_days]}``; it refers to the feature column ``field`` or, with
``window_days: W``, ``f"{field}_{W}d"`` (see :mod:`playbook.config.campaign`). Operators are a fixed
registry of comparison functions (:data:`OPERATORS`).

Semantics
---------
* A missing feature value (e.g. ``days_since_last_order`` of a customer who never bought) never
  satisfies a rule, whatever the operator (like SQL ``NULL``), also for ``!=`` and ``not_in``.
* Numeric operators (``> >= < <= between``) need a numeric feature; ``== != in not_in`` work on
  numbers and text. Comparing a text feature with a number (or a number with text) is an error.
* Booleans (0/1 features, consent flags) compare as numbers 0 and 1.

Errors users can cause (unknown field, operator that does not apply to the field) are collected
per segment by :func:`build_rule_segments`, so one bad segment does not stop the others.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from playbook.errors import ConfigError

OPERATORS: dict[str, Callable[[pd.Series, Any], pd.Series]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda s, v: s.isin(list(v)),
    "not_in": lambda s, v: ~s.isin(list(v)),
    "between": lambda s, v: (s >= v[0]) & (s <= v[1]),
}
NUMERIC_OPS = (">=", ">", "<=", "<", "between")


@dataclass
class RuleSpec:
    """One condition (plain data; built from :class:`playbook.config.campaign.Rule` or a dict)."""

    field: str
    op: str
    value: Any
    window_days: int | None = None

    @property
    def feature(self) -> str:
        """The feature column the rule reads."""
        return f"{self.field}_{self.window_days}d" if self.window_days else self.field

    def describe(self) -> str:
        return f"{self.feature} {self.op} {self.value!r}"


@dataclass
class SegmentSpec:
    """A rule segment: ``match`` is ``"all"`` or ``"any"``."""

    name: str
    rules: list[RuleSpec]
    match: str = "all"
    description: str | None = None


@dataclass
class RuleSegments:
    """Result of :func:`build_rule_segments`.

    Attributes
    ----------
    members : pandas.DataFrame
        One bool column per segment that could be built (same index as the features).
    problems : dict
        ``{segment name: message}`` for segments that could not be built.
    empty : list of str
        Built segments without members.
    """

    members: pd.DataFrame
    problems: dict[str, str] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)

    def sizes(self) -> pd.DataFrame:
        """Members per segment (problems listed with ``size`` 0 and their message)."""
        rows = [{"segment": c, "size": int(self.members[c].sum()), "status": "ok" if self.members[c].any()
                 else "empty: no customer matches"} for c in self.members.columns]
        rows += [{"segment": k, "size": 0, "status": f"not built: {v}"} for k, v in self.problems.items()]
        return pd.DataFrame(rows, columns=["segment", "size", "status"])


def _as_spec(seg: Any) -> SegmentSpec:
    if isinstance(seg, SegmentSpec):
        return seg
    get = seg.get if isinstance(seg, dict) else lambda k, d=None: getattr(seg, k, d)
    rules = []
    for r in get("rules", []) or []:
        rg = r.get if isinstance(r, dict) else lambda k, d=None, r=r: getattr(r, k, d)
        # a missing field or operator stays None and is reported when the rule is evaluated
        rules.append(RuleSpec(field=cast(str, rg("field")), op=cast(str, rg("op")), value=rg("value"),
                              window_days=rg("window_days")))
    return SegmentSpec(name=str(get("name")), rules=rules, match=get("match", "all") or "all",
                       description=get("description"))


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _is_number(v: Any) -> bool:
    return isinstance(v, bool | int | float | np.integer | np.floating | np.bool_)


def _unknown_field(rule: RuleSpec, fields: Sequence[str]) -> str:
    close = difflib.get_close_matches(rule.feature, fields, n=3)
    hint = f" Did you mean {close}?" if close else ""
    windowed = sorted({f.rsplit("_", 1)[0] for f in fields if f.endswith("d") and f.rsplit("_", 1)[-1][:-1].isdigit()})
    return (f"unknown field {rule.feature!r} (rule {rule.describe()}).{hint} Fields that exist: "
            f"{sorted(f for f in fields)}. Windowed fields take window_days: {windowed}.")


def evaluate_rule(features: pd.DataFrame, rule: RuleSpec, fields: Sequence[str] | None = None) -> pd.Series:
    """Boolean membership of one rule (missing feature values never match).

    Raises
    ------
    ConfigError
        Unknown field (the message lists the fields that exist), unknown operator, or an operator
        that does not apply to the field's type.
    """
    fields = list(features.columns) if fields is None else list(fields)
    if rule.feature not in fields:
        raise ConfigError(_unknown_field(rule, fields))
    if rule.op not in OPERATORS:
        raise ConfigError(f"unknown operator {rule.op!r} in rule {rule.describe()}. Choose from {list(OPERATORS)}")
    s = features[rule.feature]
    numeric = _is_numeric(s)
    values = rule.value if isinstance(rule.value, list | tuple) else [rule.value]
    if rule.op in NUMERIC_OPS and not numeric:
        raise ConfigError(f"operator {rule.op!r} needs a numeric field but {rule.feature!r} holds text "
                          f"(rule {rule.describe()}); use ==, !=, in or not_in")
    if numeric and not all(_is_number(v) for v in values):
        raise ConfigError(f"field {rule.feature!r} is numeric but the rule compares it with text "
                          f"(rule {rule.describe()}); write a number")
    if not numeric and any(_is_number(v) for v in values):
        raise ConfigError(f"field {rule.feature!r} holds text but the rule compares it with a number "
                          f"(rule {rule.describe()}); quote the value")
    if rule.op == "between" and (len(values) != 2 or values[0] > values[1]):
        raise ConfigError(f"'between' needs [low, high] with low <= high (rule {rule.describe()})")
    data = s.astype("float64") if numeric else s.astype(object)
    arg = rule.value if rule.op in ("in", "not_in", "between") else values[0]
    out = OPERATORS[rule.op](data, arg)
    return (pd.Series(out, index=s.index).fillna(False).astype(bool) & s.notna()).astype(bool)


def evaluate_segment(features: pd.DataFrame, segment: Any) -> pd.Series:
    """Boolean membership of one segment (``all``: every rule holds; ``any``: at least one).

    Raises
    ------
    ConfigError
        As :func:`evaluate_rule`, or for an unknown ``match``; the message names the segment.
    """
    spec = _as_spec(segment)
    if spec.match not in ("all", "any"):
        raise ConfigError(f"segment {spec.name!r}: match must be 'all' or 'any', got {spec.match!r}")
    if not spec.rules:
        raise ConfigError(f"segment {spec.name!r} has no rules; add at least one")
    fields = list(features.columns)
    try:
        parts = [evaluate_rule(features, r, fields) for r in spec.rules]
    except ConfigError as exc:
        raise ConfigError(f"segment {spec.name!r}: {exc}") from None
    combined = np.logical_and.reduce(parts) if spec.match == "all" else np.logical_or.reduce(parts)
    return pd.Series(combined, index=features.index, name=spec.name).astype(bool)


def build_rule_segments(features: pd.DataFrame, segments: Iterable[Any]) -> RuleSegments:
    """Evaluate every segment; a segment with a bad rule is reported, the others are still built.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer; columns are the fields rules may use.
    segments : iterable
        :class:`playbook.config.campaign.Segment` objects, dicts of the same shape or :class:`SegmentSpec`.

    Returns
    -------
    RuleSegments
        Members (bool column per built segment), problems per failed segment, empty segments.
    """
    cols: dict[str, pd.Series] = {}
    problems: dict[str, str] = {}
    for seg in segments:
        spec = _as_spec(seg)
        try:
            cols[spec.name] = evaluate_segment(features, spec)
        except ConfigError as exc:
            problems[spec.name] = str(exc)
    members = pd.DataFrame(cols, index=features.index)
    empty = [c for c in members.columns if not members[c].any()]
    return RuleSegments(members=members, problems=problems, empty=empty)


def required_windows(segments: Iterable[Any]) -> list[int]:
    """Every ``window_days`` used by the segments' rules (so the features can be built for them)."""
    out = {r.window_days for s in segments for r in _as_spec(s).rules if r.window_days}
    return sorted(out)


def describe_rule_segments(result: RuleSegments, n_customers: int) -> str:
    """Plain-language sentence about the rule segments (Markdown)."""
    if result.members.shape[1] == 0 and not result.problems:
        return "The campaign config defines no rule segments."
    parts = []
    sizes = result.sizes()
    ok = sizes[sizes["status"] == "ok"].sort_values("size", ascending=False)
    if not ok.empty and n_customers:
        top = ok.iloc[0]
        parts.append(f"{len(ok)} rule segment(s) have members; the largest is **{top['segment']}** with "
                     f"{int(top['size']):,} customers ({top['size'] / n_customers:.1%} of the base).")
    if result.empty:
        parts.append(f"Empty (no customer matches, nothing will be exported): {', '.join(result.empty)}.")
    for name, msg in result.problems.items():
        parts.append(f"**{name}** was not built: {msg.split(' Fields that exist')[0]}")
    return " ".join(parts)
