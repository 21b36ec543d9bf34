"""Tests for playbook.data.cache: data-only results shared by the campaigns of one data source."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from playbook.cli import preflight
from playbook.config.loader import load_config
from playbook.customers import cleaning
from playbook.data import cache, validate, warehouse
from playbook.data.source import DataSource
from playbook.data.warehouse import connect
from playbook.paths import project_root
from playbook.steps import segment


@pytest.fixture
def cache_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(root))
    monkeypatch.delenv(cache.CACHE_SWITCH_ENV, raising=False)
    return root


@pytest.fixture
def counted(monkeypatch) -> dict[str, int]:
    """Count the real computations behind the cache."""
    calls = {"identity": 0, "audit": 0, "validate": 0}
    real = (cleaning.resolve_identities, cleaning.defect_audit, validate.validate)

    def ident(wh):
        calls["identity"] += 1
        return real[0](wh)

    def audit(wh):
        calls["audit"] += 1
        return real[1](wh)

    def check(wh, **kw):
        calls["validate"] += 1
        return real[2](wh, **kw)

    monkeypatch.setattr(cleaning, "resolve_identities", ident)
    monkeypatch.setattr(cleaning, "defect_audit", audit)
    monkeypatch.setattr(validate, "validate", check)
    return calls


def _ctx(source: Path, slug: str, cutoff: str, timezone: str | None = None) -> SimpleNamespace:
    """A step context of one campaign (only what the cache reads, plus settings it must ignore)."""
    data = SimpleNamespace(encoding=None, orphan_threshold=0, timezone=timezone)
    season = SimpleNamespace(planning_cutoff=pd.Timestamp(cutoff).date())
    cfg = SimpleNamespace(slug=slug, data=data, season=season)
    return SimpleNamespace(cfg=cfg, wh=connect(source, timezone=timezone))


def _with_duplicate(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Plant one more account of person C01 (same email, other case and spaces)."""
    c = tables["customers"]
    dup = c.iloc[[0]].copy()
    dup["customer_id"] = "C99"
    dup["email"] = "  PERSON1@Example.COM "
    dup["phone"] = None
    dup["signup_ts"] = dup["signup_ts"] + pd.Timedelta(days=30)
    tables["customers"] = pd.concat([c, dup], ignore_index=True)
    return tables


def test_second_campaign_reuses_identity_resolution(clean_tables, write_tables, cache_root, counted):
    source = write_tables(_with_duplicate(clean_tables), "shop")
    first = segment.resolve(_ctx(source, "holiday-2025", "2025-10-15"))
    assert cache.LAST["identity"] == "miss" and counted["identity"] == 1
    second = segment.resolve(_ctx(source, "diwali-2025", "2025-09-30"))  # other campaign, other cutoff
    assert cache.LAST["identity"] == "hit" and counted["identity"] == 1
    pd.testing.assert_frame_equal(second.merge_map, first.merge_map)
    assert (second.n_accounts, second.n_people) == (first.n_accounts, first.n_people) == (13, 12)
    assert second.merge_map.to_dict("records") == [{"customer_id": "C99", "kept_id": "C01", "reason": "email"}]
    assert len(list((cache_root / "identity").glob("*.pkl"))) == 1
    # identical to the uncached computation
    direct = cleaning.resolve_identities(connect(source))
    pd.testing.assert_frame_equal(second.merge_map, direct.merge_map)


def test_changed_data_source_invalidates(clean_tables, write_tables, cache_root, counted):
    source = write_tables(clean_tables, "shop")
    before = segment.resolve(_ctx(source, "a", "2025-10-15"))
    assert before.n_merged == 0
    write_tables(_with_duplicate(clean_tables), "shop")  # new customers.parquet in the same folder
    after = segment.resolve(_ctx(source, "b", "2025-10-15"))
    assert cache.LAST["identity"] == "miss" and counted["identity"] == 2
    assert after.n_merged == 1 and after.n_accounts == 13
    assert len(list((cache_root / "identity").glob("*.pkl"))) == 2


def test_touching_a_file_invalidates(clean_source, cache_root, counted):
    segment.resolve(_ctx(clean_source, "a", "2025-10-15"))
    p = clean_source / "orders.parquet"
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    segment.resolve(_ctx(clean_source, "a", "2025-10-15"))
    assert cache.LAST["identity"] == "miss" and counted["identity"] == 2


def test_other_folder_with_same_files_is_another_source(clean_tables, write_tables, cache_root, counted):
    a, b = write_tables(clean_tables, "a"), write_tables(clean_tables, "b")
    segment.resolve(_ctx(a, "x", "2025-10-15"))
    segment.resolve(_ctx(b, "x", "2025-10-15"))
    assert counted["identity"] == 2


def test_key_follows_code_settings_source_and_kind(clean_source):
    src = DataSource.parse(clean_source)
    base = cache.cache_key("identity", src, [cleaning])
    assert base is not None and len(base) == 64
    assert base == cache.cache_key("identity", DataSource.parse(clean_source), [cleaning])
    assert base != cache.cache_key("identity", src, [cleaning, warehouse])
    assert base != cache.cache_key("identity", src, [cleaning], {"orphan_threshold": 1})
    assert base != cache.cache_key("defect_audit", src, [cleaning])
    # the source's timezone and encoding are always part of the key
    assert base != cache.cache_key("identity", DataSource.parse(clean_source, timezone="Europe/Berlin"), [cleaning])
    assert base != cache.cache_key("identity", DataSource.parse(clean_source, encoding="latin-1"), [cleaning])


def test_code_change_invalidates(clean_source, cache_root, counted, monkeypatch):
    segment.resolve(_ctx(clean_source, "a", "2025-10-15"))
    real = cache.code_version
    monkeypatch.setattr(cache, "code_version", lambda mods: real(mods) + "-edited")
    segment.resolve(_ctx(clean_source, "a", "2025-10-15"))
    assert cache.LAST["identity"] == "miss" and counted["identity"] == 2


def test_defect_audit_cached_equals_uncached_and_follows_the_pseudonym_key(
        clean_tables, write_tables, cache_root, counted, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_PSEUDONYM_KEY", "key-one-" + "x" * 32)
    source = write_tables(_with_duplicate(clean_tables), "shop")
    first = segment.data_quality(_ctx(source, "a", "2025-10-15"))
    again = segment.data_quality(_ctx(source, "b", "2025-11-15"))
    assert counted["audit"] == 1
    pd.testing.assert_frame_equal(again, first)
    assert int(first.set_index("defect").loc["duplicate_email", "count"]) == 1
    monkeypatch.setenv("PLAYBOOK_PSEUDONYM_KEY", "key-two-" + "y" * 32)
    other = segment.data_quality(_ctx(source, "a", "2025-10-15"))
    assert counted["audit"] == 2  # examples are pseudonyms: another key, another result
    ex = first.set_index("defect").loc["duplicate_email", "examples"]
    assert ex and ex != other.set_index("defect").loc["duplicate_email", "examples"]


def test_validation_cached_per_orphan_threshold(clean_source, cache_root, counted):
    wh = connect(clean_source)
    r0 = cache.validation_report(wh, orphan_threshold=0)
    r0b = cache.validation_report(connect(clean_source), orphan_threshold=0)
    assert counted["validate"] == 1 and r0b.format() == r0.format() and r0.ok
    cache.validation_report(wh, orphan_threshold=5)
    assert counted["validate"] == 2


def test_urls_and_switch_off_are_never_cached(clean_source, cache_root, counted, monkeypatch):
    assert cache.source_fingerprint(DataSource.parse("postgres://user:pw@host/db")) is None
    assert cache.cache_key("identity", DataSource.parse("duckdb:///x.ddb"), [cleaning]) is None
    assert cache.source_fingerprint(DataSource.parse(clean_source / "nothing-here")) is None
    assert cache.cached("identity", None, lambda: 41 + 1) == 42 and cache.LAST["identity"] == "off"
    monkeypatch.setenv(cache.CACHE_SWITCH_ENV, "off")
    segment.resolve(_ctx(clean_source, "a", "2025-10-15"))
    segment.resolve(_ctx(clean_source, "a", "2025-10-15"))
    assert counted["identity"] == 2 and not cache_root.exists()


def test_corrupt_entry_is_recomputed(tmp_path):
    calls = []
    key = "k" * 64
    assert cache.cached("demo", key, lambda: calls.append(1) or {"v": 1}, tmp_path) == {"v": 1}
    (tmp_path / "demo" / f"{key}.pkl").write_bytes(b"not a pickle")
    assert cache.cached("demo", key, lambda: calls.append(1) or {"v": 2}, tmp_path) == {"v": 2}
    assert cache.cached("demo", key, lambda: calls.append(1) or {"v": 3}, tmp_path) == {"v": 2}
    assert len(calls) == 2
    assert [p.name for p in (tmp_path / "demo").iterdir()] == [f"{key}.pkl"]  # no temp files left


def test_default_folder_is_next_to_the_reports(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    assert cache.cache_dir() == project_root() / "reports" / ".cache"
    cfg = SimpleNamespace(output_dir=tmp_path / "out" / "holiday-2025")
    assert cache.cache_dir(cfg) == tmp_path / "out" / ".cache"
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert cache.cache_dir(cfg) == tmp_path / "elsewhere"


def _campaign_copy(name: str, source: Path, out: Path) -> Path:
    text = (project_root() / "campaigns" / name).read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("source:"):
            line = f"  source: {source}"
        elif line.startswith("  dir: null"):
            line = f"  dir: {out / Path(name).stem}"
        lines.append(line)
    path = out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_batch_preflight_validates_a_shared_source_once(clean_source, tmp_path, counted, monkeypatch):
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    out = tmp_path / "reports"
    cfgs = [load_config(_campaign_copy(n, clean_source, out)) for n in ("holiday-2025.yaml", "diwali-2025.yaml")]
    assert cfgs[0].slug != cfgs[1].slug
    for cfg in cfgs:
        preflight(cfg)
    assert counted["validate"] == 1
    assert len(list((out / ".cache" / "validation").glob("*.pkl"))) == 1
