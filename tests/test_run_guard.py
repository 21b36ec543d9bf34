"""Tests for the runner's PII guard (playbook.run.guard) and how a run picks its data source.

No kernel runs here; the kernel-backed checks that a run refuses to publish a leak are in
tests/test_runner.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from playbook.config.campaign import DataConfig
from playbook.data.source import DataSource
from playbook.errors import DataError
from playbook.run import campaign, guard
from playbook.run.results import RunResult


def _cfg(slug: str, source: Path | None, encoding: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(slug=slug, output_dir=Path("reports") / slug,
                           data=DataConfig(source=None if source is None else str(source), encoding=encoding))


@pytest.fixture
def latin1_folder(clean_tables, tmp_path) -> Path:
    customers = clean_tables["customers"]
    customers.loc[0, "first_name"] = "Renée"
    customers.loc[1, "first_name"] = "Jérôme"
    folder = tmp_path / "latin"
    folder.mkdir()
    customers.to_csv(folder / "customers.csv", index=False, encoding="latin-1")
    return folder


def test_pii_values_use_the_sources_encoding(latin1_folder):
    values = guard.pii_values_for(DataSource.parse(latin1_folder, encoding="latin-1"))()
    assert {"Renée", "Jérôme", "person3@example.com", "+49 151 0000003"} <= set(values)
    assert len(values) == 36  # 12 customers x (email, phone, first name), all distinct
    # the same folder read as UTF-8 is the error the guard used to raise
    with pytest.raises(DataError, match="not valid utf-8"):
        guard.pii_values_for(DataSource.parse(latin1_folder))()


def test_pii_values_are_read_once_even_from_several_threads(monkeypatch):
    reads: list[str] = []
    gate = threading.Event()

    def slow_read(source: DataSource) -> list[str]:
        gate.wait(5)
        reads.append(source.location)
        return ["jane@example.com"]

    monkeypatch.setattr(guard, "_distinct_pii", slow_read)
    values = guard.pii_values_for(DataSource.parse("/data/x"))
    out: list[list[str]] = []
    threads = [threading.Thread(target=lambda: out.append(values())) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert reads == ["/data/x"] and out == [["jane@example.com"]] * 4


def test_guard_builds_its_scanner_lazily_once_and_masks_hits(tmp_path):
    calls: list[int] = []
    g = guard.PiiGuard(lambda: calls.append(1) or ["Renée", "jane.doe@example.com"])
    assert calls == []  # nothing read before the first page is checked
    (tmp_path / "a.html").write_text("<p>Top: Renée</p>", encoding="utf-8")
    (tmp_path / "b.json").write_text('{"n": 3}', encoding="utf-8")
    (tmp_path / "c.parquet").write_text("Renée", encoding="utf-8")  # not a page: not scanned
    assert g.check(tmp_path, ["b.json", "c.parquet", "missing.html"]) is None
    message = g.check(tmp_path, ["a.html", "b.json"])
    assert message is not None and message.startswith("PII found in report: a.html (1 name(s): R****)")
    assert "Renée" not in message and calls == [1]


def test_campaign_source_keeps_the_configs_encoding_when_the_location_is_overridden(tmp_path):
    cfg = _cfg("a", tmp_path / "a", encoding="latin-1")
    assert campaign.campaign_source(cfg) == DataSource.parse(tmp_path / "a", encoding="latin-1")
    over = campaign.campaign_source(cfg, str(tmp_path / "b"))  # the CLI's --data-source
    assert (over.location, over.encoding) == (str(tmp_path / "b"), "latin-1")
    given = DataSource.parse(tmp_path / "c", encoding="cp1252")
    assert campaign.campaign_source(cfg, given) is given


def _fake_batch(monkeypatch) -> tuple[list[str], dict[str, object]]:
    """Record which sources are read and which PII callable each campaign gets."""
    reads: list[str] = []
    seen: dict[str, object] = {}
    monkeypatch.setattr(guard, "_distinct_pii", lambda source: reads.append(source.location) or ["x"])

    def fake_run_campaign(cfg, path, **kw):
        values = kw.get("pii_values")
        seen[cfg.slug] = values
        if values is not None:
            assert values() == ["x"] and values() == ["x"]
        return RunResult(cfg.slug, str(path), "ok")

    monkeypatch.setattr(campaign, "run_campaign", fake_run_campaign)
    return reads, seen


def test_batch_reads_the_pii_of_each_data_source_once(monkeypatch, tmp_path):
    reads, seen = _fake_batch(monkeypatch)
    cfgs = {"a": _cfg("a", tmp_path / "shared"), "b": _cfg("b", tmp_path / "shared"),
            "c": _cfg("c", tmp_path / "other")}
    results = campaign.run_campaigns(["a.yaml", "b.yaml", "c.yaml"], loader=lambda p: cfgs[Path(p).stem])
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert seen["a"] is seen["b"] and seen["a"] is not seen["c"]
    assert reads == [str(tmp_path / "shared"), str(tmp_path / "other")]


def test_batch_with_a_data_source_override_reads_that_source(monkeypatch, tmp_path):
    reads, seen = _fake_batch(monkeypatch)
    cfgs = {"a": _cfg("a", tmp_path / "a"), "b": _cfg("b", tmp_path / "b")}
    campaign.run_campaigns(["a.yaml", "b.yaml"], loader=lambda p: cfgs[Path(p).stem],
                           data_source=str(tmp_path / "x"))
    assert reads == [str(tmp_path / "x")] and seen["a"] is seen["b"]


def test_batch_passes_the_callers_values_or_none_when_the_guard_is_off(monkeypatch, tmp_path):
    reads, seen = _fake_batch(monkeypatch)
    mine = lambda: ["x"]  # noqa: E731
    campaign.run_campaigns(["a.yaml"], loader=lambda p: _cfg("a", tmp_path), pii_values=mine)
    assert seen["a"] is mine
    campaign.run_campaigns(["b.yaml"], loader=lambda p: _cfg("b", tmp_path), pii_guard=False)
    assert seen["b"] is None and reads == []
