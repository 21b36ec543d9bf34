"""Reading a campaign YAML file safely, and turning every problem into one message.

:func:`load_config` reads the file with PyYAML's safe loader (YAML 1.1 typing; nothing is
executed), remembering the line and raw text of every value, so that problems name their line
and YAML's implicit typing traps (``NO`` read as ``false``, ``007`` as 7) get advice to quote.
Limits keep a hostile or broken file from exhausting the machine: at most :data:`MAX_BYTES` of
text, :data:`MAX_VALUES` values after expanding aliases (a "billion laughs" file stops there) and
:data:`MAX_DEPTH` levels of nesting. The mapping is validated by
:class:`playbook.config.campaign.CampaignConfig`; pydantic's errors are translated into one
:class:`playbook.errors.ConfigError` listing every problem by its dotted path, in file order.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from playbook.config.campaign import CampaignConfig
from playbook.config.checks import Loc, Problem, describe_value, suggest
from playbook.config.sections import cross_section_problems
from playbook.errors import ConfigError
from playbook.paths import resolve

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "load_config", "parse_config"]

#: Largest config file read, in bytes (a campaign config is a few kB).
MAX_BYTES = 1_000_000
#: Most values (scalars, lists, mappings) built from one file, aliases expanded.
MAX_VALUES = 100_000
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 50

_YAML_FALSE = {"no", "off", "false", "n"}

#: Earliest and latest date a config may hold: the analysis turns dates into pandas timestamps,
#: which span 1677-09-21 to 2262-04-11 (nanoseconds), and takes the day before a season start.
MIN_DATE, MAX_DATE = dt.date(1678, 1, 1), dt.date(2261, 12, 31)
#: Keys whose values are calendar dates in every section (season, comparison seasons, experiments, events).
_DATE_KEYS = frozenset({"start", "end", "planning_cutoff"})


@dataclass(frozen=True)
class _Origin:
    """Where a value came from in the YAML file: 1-based line, and the raw scalar text."""

    line: int
    raw: str | None = None
    plain: bool = False  # an unquoted scalar (so YAML 1.1 typing applied)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (YAML 1.1 typing; nothing executed)."""


@dataclass
class _Builder:
    """Builds Python values from a composed YAML node tree, recording each value's origin and the
    problems only the raw YAML shows (keys read as booleans or numbers, duplicate keys)."""

    loader: _Loader
    path: Path
    origins: dict[Loc, _Origin] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    values: int = 0

    def build(self, node: yaml.Node, loc: Loc, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ConfigError(f"{self.path}: the config nests deeper than {MAX_DEPTH} levels "
                              "(a recursive YAML alias?).")
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigError(f"{self.path}: the config holds more than {MAX_VALUES:,} values once "
                              "YAML aliases (*name) are expanded; a campaign config has a few hundred. "
                              "Remove the aliases that repeat large parts.")
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self.origins[loc] = _Origin(line)
            self.loader.flatten_mapping(node)
            out: dict[str, Any] = {}
            key_lines: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*loc, "<key>"), depth + 1)
                if not isinstance(key, str):
                    raw = getattr(key_node, "value", str(key))
                    advice = (" — YAML reads NO/no/off as false and YES/yes/on as true"
                              if isinstance(key, bool) else "")
                    self.problems.append(((*loc, str(raw)), f"key {raw!r} was read as {describe_value(key)}"
                                          f"{advice}; write '{raw}' in quotes (line {key_node.start_mark.line + 1})"))
                    key = str(raw)
                if key in key_lines:
                    self.problems.append(((*loc, key), f"duplicate key {key!r} (lines {key_lines[key]} and "
                                          f"{key_node.start_mark.line + 1}); YAML keeps only the last one, "
                                          "remove the other"))
                key_lines[key] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*loc, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            self.origins[loc] = _Origin(line)
            return [self.build(n, (*loc, i), depth + 1) for i, n in enumerate(node.value)]
        self.origins[loc] = _Origin(line, raw=node.value, plain=node.style is None)
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError):  # e.g. an impossible date 2025-02-30: keep the text
            return node.value


def _syntax_error(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if mark is None:
        return ConfigError(f"{path}: not valid YAML ({what}).")
    lines = text.splitlines()
    src = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    ctx = f" ({context})" if context else ""
    return ConfigError(
        f"{path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {what}{ctx}\n"
        f"    {src}\n    {' ' * mark.column}^\n"
        "Check the indentation (spaces, not tabs), that every 'key: value' has a space after the "
        "colon, and that text containing ':' or '#' is quoted."
    )


def _character_error(path: Path, text: str, exc: yaml.reader.ReaderError) -> ConfigError:
    """A character YAML does not allow (a control character such as U+001F or U+0000), by line and
    column: PyYAML's own error gives only an offset into the text."""
    position = min(max(exc.position, 0), len(text))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return ConfigError(f"{path}: line {line}, column {column} holds the control character U+{exc.character:04X}, "
                       "which YAML does not allow. Remove it (it is often pasted in with copied text) and "
                       "save the config as plain UTF-8 text.")


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Number of values ``node`` stands for with every alias expanded, capped just above
    :data:`MAX_VALUES`. Linear in the distinct nodes: an alias is a shared node, counted
    once and multiplied, never expanded."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once instead of looping
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children: list[yaml.Node] = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, memo)
        if total > MAX_VALUES:
            break
    memo[key] = min(total, MAX_VALUES + 1)
    return memo[key]


def _check_expansion(node: yaml.Node, path: Path) -> None:
    """Refuse a YAML "alias bomb" (nested anchors whose aliases expand exponentially) before it is
    built: 8 levels of 9 aliases kept check-config busy past 60 s and 2 GB (issue 19, item 5); the
    builder's own count (:data:`MAX_VALUES`) stopped it later, after building 100,000 values (1.3 s
    under load). Counting shared nodes takes milliseconds."""
    if _expanded_size(node, {}) > MAX_VALUES:
        raise ConfigError(f"{path}: the config holds more than {MAX_VALUES:,} values once YAML aliases "
                          "(&name / *name) are expanded, far beyond any campaign config: nested aliases "
                          "multiply. Write the repeated values out, or use fewer nested anchors.")


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, _Origin], list[Problem]]:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes, too large for a campaign config (a few kB; at "
                              f"most {MAX_BYTES:,} bytes are read). Is it the right file?")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                          "config as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        loader = _Loader(text)  # the reader checks every character before anything is parsed
    except yaml.reader.ReaderError as exc:
        raise _character_error(path, text, exc) from None
    builder = _Builder(loader, path)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, path)
        data = None if node is None else builder.build(node, ())
    except yaml.YAMLError as exc:
        raise _syntax_error(path, text, exc) from None
    finally:
        loader.dispose()
    return data, builder.origins, builder.problems


def _find_config(path: str | os.PathLike[str]) -> Path:
    """The config file: as given (relative to the working folder) or under the project root."""
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [p, resolve(p)]
    for c in candidates:
        if c.is_file():
            return c
    folder = resolve("campaigns")
    found = sorted(f.name for f in folder.glob("*.y*ml")) if folder.is_dir() else []
    listing = ", ".join(f"campaigns/{f}" for f in found) if found else "none found"
    where = " or ".join(str(c) for c in dict.fromkeys(candidates))
    kind = "is a folder, not a file" if any(c.is_dir() for c in candidates) else "not found"
    raise ConfigError(
        f"Campaign config {str(path)!r} {kind} (looked at {where}). "
        f"Configs in {folder}: {listing}. Copy campaigns/holiday-2025.yaml to start a new one."
    )


# ---------------------------------------------------------------------------------------------
# Translating pydantic errors into one friendly message
# ---------------------------------------------------------------------------------------------


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else args[0]
        else:
            return tp


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class validating the mapping at ``loc`` (for listing its allowed keys)."""
    tp: Any = CampaignConfig
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            info = tp.model_fields.get(part)
            if info is None:
                return None
            tp = info.annotation
        elif origin is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict and isinstance(part, str):
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _origin_for(loc: Loc, origins: dict[Loc, _Origin]) -> _Origin | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    return None


def _yaml_advice(value: Any, origin: _Origin | None, expected: str) -> str | None:
    """Advice for a YAML 1.1 implicit typing trap (boolean or number where text was meant)."""
    raw = origin.raw if origin and origin.plain else None
    if isinstance(value, bool):
        if raw is None:
            return f"got boolean {value}; expected {expected}"
        words = "NO/no/off as false" if raw.lower() in _YAML_FALSE else "YES/yes/on as true"
        return f"got boolean {value} — YAML reads {words}; write '{raw}' in quotes"
    if isinstance(value, int | float) and expected.startswith("text"):
        if raw is not None and raw != str(value):
            return (f"got number {value} (YAML read {raw} as a number); IDs and codes are text: "
                    f"write '{raw}' in quotes")
        return f"got number {value}; expected {expected} — write '{raw or value}' in quotes"
    if isinstance(value, dt.date) and expected.startswith("text"):
        return f"got {describe_value(value)}; expected {expected} — write '{raw or value}' in quotes"
    return None


_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
           "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}


def _describe(err: ErrorDetails, origins: dict[Loc, _Origin]) -> list[Problem]:
    """Translate one pydantic error into ``(location, message)`` pairs."""
    kind, loc, value = err["type"], tuple(err["loc"]), err.get("input")
    ctx = err.get("ctx") or {}
    origin = _origin_for(loc, origins)
    if kind == "playbook_problems":
        return [((*loc, *sub), msg) for sub, msg in ctx["problems"]]
    if kind == "missing":
        return [(loc, "required but missing")]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model else []
        hint = suggest(key, allowed)
        tail = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return [(loc, f"unknown key {key!r}{hint}{tail}")]
    expected = {
        "string_type": "text", "int_type": "a whole number", "int_from_float": "a whole number",
        "int_parsing": "a whole number", "float_type": "a number", "float_parsing": "a number",
        "list_type": "a list ([a, b] or one '- item' per line)", "dict_type": "a mapping (key: value lines)",
        "model_type": "a mapping (key: value lines)", "model_attributes_type": "a mapping",
    }.get(kind)
    advice = _yaml_advice(value, origin, expected or "a different value")
    if isinstance(value, bool) and advice and kind not in ("list_type", "dict_type", "model_type"):
        return [(loc, advice)]
    if kind == "string_type":
        return [(loc, advice or f"got {describe_value(value)}; expected text")]
    if kind in ("float_type", "float_parsing", "finite_number") and isinstance(value, str | float):
        text = str(value).strip().lower()
        if text in ("nan", "inf", "-inf", "+inf", "infinity", ".nan", ".inf") or kind == "finite_number":
            return [(loc, f"got {value!r}; expected a finite number (NaN and infinity are not "
                          "allowed)")]
        return [(loc, f"got {describe_value(value)}; expected a number — remove the quotes")]
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return [(loc, f"got {describe_value(value)}; expected a whole number")]
    if expected is not None:
        return [(loc, f"got {describe_value(value)}; expected {expected}")]
    if kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        return [(loc, f"got {value}; must be {sign} {ctx.get(key)}")]
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return [(loc, f"got {describe_value(value)}; expected one of {', '.join(map(repr, options))}"
                      f"{suggest(str(value), options)}")]
    if kind == "too_short":
        return [(loc, f"has {ctx.get('actual_length')} item(s); needs at least "
                      f"{ctx.get('min_length')}")]
    if kind == "too_long":
        return [(loc, f"has {ctx.get('actual_length')} item(s); allows at most "
                      f"{ctx.get('max_length')}")]
    if kind == "string_too_short":
        return [(loc, "is empty; give a value or leave the key out")]
    if kind == "value_error":
        return [(loc, str(ctx.get("error", err["msg"])))]
    return [(loc, f"{err['msg']} (got {describe_value(value)})")]


def _translate(exc: ValidationError, origins: dict[Loc, _Origin]) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        out.extend(_describe(err, origins))
    return out


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

_SECTION_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _section(name: str, raw: dict[str, Any]) -> Any:
    """Validate one top-level section alone; ``None`` when absent or invalid."""
    if name not in raw and CampaignConfig.model_fields[name].is_required():
        return None
    if name not in _SECTION_ADAPTERS:
        info = CampaignConfig.model_fields[name]
        tp: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        _SECTION_ADAPTERS[name] = TypeAdapter(tp)
    try:
        value = raw[name] if raw.get(name) is not None else CampaignConfig.model_fields[name].get_default(
            call_default_factory=True)
        return _SECTION_ADAPTERS[name].validate_python(value)
    except ValidationError:
        return None


def _message(source: str, problems: list[Problem], origins: dict[Loc, _Origin]) -> str:
    lines = []
    if origins:  # in file order, so the message reads top to bottom like the YAML
        problems = sorted(problems, key=lambda p: getattr(_origin_for(p[0], origins), "line", 0))
    for loc, msg in problems:
        origin = _origin_for(loc, origins)
        at = f" (line {origin.line})" if origin and "(line" not in msg else ""
        lines.append(f"  - {_format_loc(loc)}: {msg}{at}")
    n = len(problems)
    return (f"Invalid campaign config {source}: {n} problem{'s' if n != 1 else ''}\n"
            + "\n".join(lines)
            + "\nFix the fields above (see campaigns/holiday-2025.yaml for a commented example) "
              "and check again with `playbook check-config`.")


def _as_date(value: Any) -> dt.date | None:
    """``value`` as the calendar date the schema would read from it (a date, or YYYY-MM-DD text)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
        except ValueError:
            return None
    return None


def _date_range_problems(data: Any, loc: Loc = ()) -> list[Problem]:
    """Dates under a date key outside :data:`MIN_DATE`..:data:`MAX_DATE`: found by fuzzing (issue 19,
    item 17), year 1 overflowed the default planning cutoff (the day before) and year 9999 passed
    but broke every step (pandas timestamps end in 2262)."""
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _date_range_problems(value, (*loc, str(key)))]
    if isinstance(data, list):
        return [p for i, value in enumerate(data) for p in _date_range_problems(value, (*loc, i))]
    day = _as_date(data) if loc and loc[-1] in _DATE_KEYS else None
    if day is not None and not MIN_DATE <= day <= MAX_DATE:
        return [(loc, f"got date {day.isoformat()}; expected a date between {MIN_DATE.isoformat()} and "
                      f"{MAX_DATE.isoformat()} (is the year mistyped?)")]
    return []


def _validate(data: Any, source: str, origins: dict[Loc, _Origin],
              load_problems: list[Problem]) -> CampaignConfig:
    if data is None:
        raise ConfigError(f"Campaign config {source} is empty; start from a copy of "
                          "campaigns/holiday-2025.yaml.")
    if not isinstance(data, dict):
        raise ConfigError(f"Campaign config {source} must be a mapping of keys (slug:, name:, "
                          f"season: ...); got {describe_value(data)}.")
    problems = list(load_problems)
    out_of_range = _date_range_problems(data)
    if out_of_range:  # the models would overflow on them; report them with what the file showed
        raise ConfigError(_message(source, problems + out_of_range, origins))
    try:
        cfg = CampaignConfig.model_validate(data)
    except ValidationError as exc:
        found = _translate(exc, origins)
        if not any(e["type"] == "playbook_problems" and e["loc"] == () for e in exc.errors()):
            parts = {n: _section(n, data) for n in ("season", "comparison_seasons", "budget",
                                                    "channels")}
            found += cross_section_problems(parts["season"], parts["comparison_seasons"],
                                     parts["budget"], parts["channels"])
        problems += found
    else:
        if not problems:
            return cfg
    raise ConfigError(_message(source, problems, origins))


def parse_config(mapping: dict[str, Any], source: str = "<dict>") -> CampaignConfig:
    """Validate a config given as a mapping (e.g. already-parsed YAML or a test fixture).

    Parameters
    ----------
    mapping : dict
        The config's keys and values, as in the YAML file.
    source : str
        Name used in error messages.

    Returns
    -------
    CampaignConfig

    Raises
    ------
    ConfigError
        Listing every invalid field by its dotted path, what was given and what is expected.
    """
    return _validate(mapping, source, {}, [])


def load_config(path: str | os.PathLike[str]) -> CampaignConfig:
    """Load and validate a campaign YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file; a relative path is looked up from the working folder, then from the
        project root (so ``campaigns/holiday-2025.yaml`` works from ``notebooks/`` too).

    Returns
    -------
    CampaignConfig
        With :attr:`CampaignConfig.source_path` set to the resolved file path.

    Raises
    ------
    ConfigError
        The file is missing (the message lists the configs in ``campaigns/``), is not valid YAML
        (line and column given), or has invalid fields (all listed, with YAML line numbers).
    """
    file = _find_config(path)
    data, origins, load_problems = _read_yaml(file)
    cfg = _validate(data, str(path), origins, load_problems)
    cfg._source = file.resolve()
    return cfg
