"""Property-based fuzzing of the campaign-file loader (issue 19, item 17).

Random campaign files are built from the real schema (:mod:`playbook.config.campaign`: its
countries, currencies, channels, metrics and operators), then broken one or several ways: a key
removed or added, a value replaced by the wrong type, a huge or non-finite number, unicode or
control characters, reversed dates, dates at the calendar's ends, empty lists and sections; and
raw text that is not a campaign file at all. The property: :func:`load_config` (and
:func:`parse_config` on the same mapping) either returns a config whose derived values work, or
raises one :class:`playbook.errors.ConfigError` naming the file and, for invalid fields, every
field by its dotted path; never another exception, and nothing is written anywhere.

Hypothesis settings: ``derandomize=True`` (the same examples on every run, so CI is
reproducible), no deadline (CI machines are slow), about 150 examples per property
(https://hypothesis.readthedocs.io/en/latest/reference/api.html#hypothesis.settings).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.config.campaign import (
    BUDGET_CHANNELS,
    GUARDRAIL_METRICS,
    PRIMARY_METRICS,
    RULE_OPS,
    CampaignConfig,
)
from playbook.config.loader import load_config, parse_config
from playbook.errors import ConfigError
from playbook.paths import resolve

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COUNTRIES = ["US", "GB", "DE", "IN", "AE", "CN", "NO", "FR", "JP", "BR"]
CURRENCIES = ["USD", "EUR", "GBP", "INR", "JPY"]
FEATURES = ["orders", "views", "revenue", "orders_total", "days_since_last_order", "tenure_days"]

# -- valid configs from the schema -------------------------------------------------------------

dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2030, 12, 31))
names = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=12).filter(str.strip)
ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def seasons(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(dates)
    out = {"start": start, "end": start + dt.timedelta(days=draw(st.integers(0, 90)))}
    if draw(st.booleans()):
        out["planning_cutoff"] = start - dt.timedelta(days=draw(st.integers(1, 60)))
    return out


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(RULE_OPS))
    if op in ("in", "not_in"):
        value: Any = draw(st.lists(st.integers(0, 9), min_size=1, max_size=3))
    elif op == "between":
        low = draw(st.integers(0, 50))
        value = [low, low + draw(st.integers(0, 50))]
    else:
        value = draw(st.integers(0, 1000) | st.floats(0, 1000))
    out = {"field": draw(st.sampled_from(FEATURES)), "op": op, "value": value}
    if draw(st.booleans()):
        out["window_days"] = draw(st.integers(1, 365))
    return out


@st.composite
def experiments(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 3))
    out = {"id": draw(ids), "hypothesis": draw(names), "primary_metric": draw(st.sampled_from(PRIMARY_METRICS)),
           "mde": draw(st.floats(0.001, 1.0)), "variants": [f"arm{i}" for i in range(n)],
           "guardrails": draw(st.lists(st.sampled_from(GUARDRAIL_METRICS), max_size=2, unique=True))}
    if draw(st.booleans()):
        out["allocation"] = [1 / n] * n
    return out


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A campaign mapping that the schema accepts (optional sections drawn or left out)."""
    season = draw(seasons())
    cfg: dict[str, Any] = {
        "slug": draw(st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)),
        "name": draw(names),
        "countries": draw(st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=4, unique=True)),
        "currency": draw(st.sampled_from(CURRENCIES)),
        "season": season,
    }
    if draw(st.booleans()):
        start = season["start"] - dt.timedelta(days=draw(st.integers(365, 800)))
        cfg["comparison_seasons"] = [{"name": draw(names), "start": start, "end": start + dt.timedelta(days=30)}]
    if draw(st.booleans()):
        chans = draw(st.lists(st.sampled_from(BUDGET_CHANNELS), min_size=1, max_size=3, unique=True))
        cfg["channels"] = {c: {"min_budget": 0, "max_budget": 1000} for c in chans}
        cfg["budget"] = {"total": 500 * len(chans)}
    if draw(st.booleans()):
        cfg["targets"] = {"revenue_uplift_pct": draw(st.floats(-50, 50)), "new_customers": draw(st.integers(0, 10**4))}
    if draw(st.booleans()):
        cfg["segments"] = [{"name": f"seg {i}", "rules": draw(st.lists(rules(), min_size=1, max_size=2))}
                           for i in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        exps = draw(st.lists(experiments(), max_size=2, unique_by=lambda e: e["id"]))
        cfg["experiments"] = exps
    if draw(st.booleans()):
        cfg["events"] = [{"name": draw(names), "start": season["start"], "end": season["end"]}]
    if draw(st.booleans()):
        cfg["data"] = {"orphan_threshold": draw(st.integers(0, 100)), "merge_line_items": draw(st.booleans())}
    return cfg


# -- ways to break them ---------------------------------------------------------------------------

nasty = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**400, -(10**400), 1e308, -1e308, 5e-324, 0, -1, 0.0, -0.0]),
    st.text(max_size=30), st.sampled_from(["", " ", "NO", "yes", "007", "1e3", "nan", ".inf", "2025-02-30",
                                           "2025-13-01", "<script>alert(1)</script>", "../../x", "é🎄中文",
                                           "a\x00b", "\u202e", "x" * 2000]),
    st.dates(), st.datetimes(), st.just(dt.date.min), st.just(dt.date.max),
    st.lists(st.integers() | st.text(max_size=5), max_size=3), st.builds(list), st.builds(dict),  # new objects: a
    # shared st.just({}) could be inserted into itself by a later add_key and make the tree recursive
    st.dictionaries(st.text(max_size=6), st.integers() | st.none(), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location (keys and indexes) inside a mapping/list tree, parents before children."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutate(draw: st.DrawFn, cfg: dict[str, Any]) -> dict[str, Any]:
    """Apply one random break at a random location of ``cfg`` (changed in place and returned)."""
    path = draw(st.sampled_from(_paths(cfg)))
    target = _get(cfg, path)
    kind = draw(st.sampled_from(["replace", "delete", "add_key", "reverse_dates", "empty", "extreme_date"]))
    dated = [p for p in _paths(cfg) if isinstance(_get(cfg, p), dt.date)]
    if kind == "extreme_date" and dated:
        where = draw(st.sampled_from(dated))
        _get(cfg, where[:-1])[where[-1]] = draw(st.sampled_from([dt.date.min, dt.date.max, dt.date(1677, 9, 21),
                                                                 dt.date(2262, 4, 12), dt.date(1900, 1, 1)])
                                                | st.dates())
    elif kind == "reverse_dates" and isinstance(target, dict) and {"start", "end"} <= set(target):
        target["start"], target["end"] = target["end"], target["start"]
    elif kind == "add_key" and isinstance(target, dict):
        target[draw(st.text(max_size=12) | st.integers() | st.booleans())] = draw(nasty)
    elif kind == "empty" and isinstance(target, dict | list):
        target.clear()
    elif path and kind == "delete":
        parent = _get(cfg, path[:-1])
        del parent[path[-1]]
    elif path:
        _get(cfg, path[:-1])[path[-1]] = draw(nasty)
    return cfg


@st.composite
def broken_configs(draw: st.DrawFn) -> dict[str, Any]:
    cfg = draw(valid_configs())
    for _ in range(draw(st.integers(1, 3))):
        cfg = draw(mutate(cfg))
    return cfg


# -- the property -----------------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))}


def _snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime) for p in sorted(folder.rglob("*"))}


def _use(cfg: CampaignConfig) -> None:
    """What the steps derive from a loaded config right away: none of it may raise."""
    assert cfg.slug and cfg.countries
    start, end = cfg.window_half_open
    assert start < end
    assert cfg.season.planning_cutoff is not None and cfg.season.planning_cutoff < cfg.season.start
    assert cfg.season.days >= 1
    assert isinstance(cfg.output_dir, Path)
    cfg.absent_sections()
    lo, hi = cfg.budget_bounds
    assert lo <= hi


def _assert_clear(exc: ConfigError, source: str) -> None:
    msg = str(exc)
    assert source in msg, msg
    assert "Traceback" not in msg
    if msg.startswith("Invalid campaign config"):
        problems = [line for line in msg.splitlines() if line.startswith("  - ")]
        assert problems, msg
        assert all(line[4:].split(":", 1)[0].strip() for line in problems), msg  # each names a field


def check_file(text: str | bytes, folder: Path, project: Path) -> CampaignConfig | None:
    """Write ``text`` as a campaign file into ``folder``, load it and check the property
    (``project``: the stand-in project root, which must not change either)."""
    path = folder / "campaign.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    before, project_before = _tree(folder), _snapshot(project)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        _assert_clear(exc, str(path))
        cfg = None
    else:
        _use(cfg)
        assert cfg.source_path == path.resolve()
    assert _tree(folder) == before, "the loader wrote into the config's folder"
    assert _snapshot(project) == project_before, "the loader wrote into the project"
    return cfg


def check_mapping(mapping: dict[str, Any]) -> CampaignConfig | None:
    try:
        cfg = parse_config(mapping, source="<fuzz>")
    except ConfigError as exc:
        _assert_clear(exc, "<fuzz>")
        return None
    _use(cfg)
    return cfg


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A stand-in project root (``PLAYBOOK_ROOT``) with campaigns/, data/ and reports/: whatever the
    loader resolves against the project points here, where no other test writes."""
    root = tmp_path_factory.mktemp("project")
    for name in ("campaigns", "data", "reports"):
        (root / name).mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYBOOK_ROOT", str(root))
        assert resolve("reports") == root / "reports"
        yield root


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Path:
    return tmp_path_factory.mktemp("fuzz_config")


def _dump(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False)


@FUZZ
@given(cfg=valid_configs())
def test_fault_17_fuzz_valid_configs_load(cfg, fuzz_dir, project):
    with tempfile.TemporaryDirectory(dir=fuzz_dir) as d:
        loaded = check_file(_dump(cfg), Path(d), project)
    assert loaded is not None, "a config built from the schema was refused"
    assert loaded.slug == cfg["slug"] and loaded.season.start == cfg["season"]["start"]
    assert check_mapping(cfg) is not None


@FUZZ
@given(cfg=broken_configs())
def test_fault_17_fuzz_broken_configs_give_one_clear_error(cfg, fuzz_dir, project):
    with tempfile.TemporaryDirectory(dir=fuzz_dir) as d:
        try:
            text = _dump(cfg)
        except (yaml.YAMLError, OverflowError, ValueError):
            text = None
        if text is not None:
            check_file(text, Path(d), project)
    check_mapping(cfg)


@st.composite
def configs_with_any_date(draw: st.DrawFn) -> dict[str, Any]:
    """A valid config with one date moved anywhere in the calendar (year 1 to 9999)."""
    cfg = draw(valid_configs())
    dated = [p for p in _paths(cfg) if isinstance(_get(cfg, p), dt.date)]
    where = draw(st.sampled_from(dated))
    _get(cfg, where[:-1])[where[-1]] = draw(st.sampled_from([dt.date.min, dt.date.max, dt.date(1677, 9, 21),
                                                             dt.date(2262, 4, 12)]) | st.dates())
    return cfg


@FUZZ
@given(cfg=configs_with_any_date())
def test_fault_17_fuzz_dates_anywhere_in_the_calendar(cfg, fuzz_dir, project):
    with tempfile.TemporaryDirectory(dir=fuzz_dir) as d:
        check_file(_dump(cfg), Path(d), project)
    check_mapping(cfg)


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=200)
       | st.lists(st.sampled_from(["slug: a", "name: x", "season:", "  start: 2025-01-01", "  end: 2024-01-01",
                                   "countries: [US]", "currency: USD", "- &a [1, 2]", "x: *a", "x: *missing",
                                   "!!python/object:os.system", "\t- tab", "{", "? complex", "<<: *a", "---",
                                   "%YAML 1.1", "key: 'unterminated", "é: ü", ": : :", "- - -"]),
                      max_size=12).map("\n".join))
def test_fault_17_fuzz_arbitrary_text_gives_one_clear_error(text, fuzz_dir, project):
    with tempfile.TemporaryDirectory(dir=fuzz_dir) as d:
        check_file(text, Path(d), project)


def test_fault_17_reversed_season_and_year_one_are_clear_errors(tmp_path, project):
    base = {"slug": "x", "name": "X", "countries": ["US"], "currency": "USD"}
    with pytest.raises(ConfigError, match=r"season\.end: 2025-01-01 is before season\.start 2025-02-01"):
        parse_config({**base, "season": {"start": dt.date(2025, 2, 1), "end": dt.date(2025, 1, 1)}})
    # the first day of the calendar has no day before it (the default planning cutoff)
    with pytest.raises(ConfigError, match=r"season\.start"):
        parse_config({**base, "season": {"start": dt.date(1, 1, 1), "end": dt.date(1, 1, 2)}})
    # beyond pandas' timestamp range (year 2262) a season cannot be turned into timestamps
    with pytest.raises(ConfigError, match=r"season\.end"):
        parse_config({**base, "season": {"start": dt.date(2025, 1, 1), "end": dt.date(9999, 12, 31)}})
    assert check_file(_dump({**base, "season": {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 1, 2)}}),
                      tmp_path, project) is not None


def test_fault_17_control_character_is_a_clear_error_with_its_line(tmp_path):
    # found by the fuzzing: PyYAML's ReaderError escaped the loader as a bare traceback
    path = tmp_path / "campaign.yaml"
    path.write_text("slug: a\nname: b\x1f\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2, column 8 holds the control character U\+001F"):
        load_config(path)
