"""Segment track-call importer (playbook.data.importers.segment_events), from a fixture written after
the Segment Spec (https://segment.com/docs/connections/spec/track/, e-commerce spec v2).

Not applicable: currency (no money is imported from track calls), ``;`` / decimal comma (JSON lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import segment as segment_export
from tests.test_import_ga4 import SAMPLE, read, shop, ts

FIXTURE = Path(__file__).parent / "fixtures" / "imports" / "segment" / "tracks.jsonl"


def test_events_exact(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    summary = run_import("segment", [FIXTURE], out)
    ev = read(out, "events").sort_values("event_id").reset_index(drop=True)
    assert ev.event_id.tolist() == [f"ajs-next-0a1b2c3d0{i}" for i in (2, 4, 6, 7, 8)] + [
        "ajs-next-0b1b2c3d01", "ajs-next-0c1b2c3d01", "ajs-next-0c1b2c3d02"]
    assert ev.customer_id.tolist() == ["1001"] * 5 + ["1002", "1003", "1003"]
    assert ev.event_type.tolist() == ["view", "add_to_cart", "checkout", "purchase", "view", "view", "view",
                                      "add_to_cart"]
    assert ev.product_id.astype(object).where(ev.product_id.notna(), None).tolist() == [
        "SKU-1", "SKU-2", None, None, "SKU-3", "SKU-4", "SKU-1", "SKU-1"]
    assert ev.event_ts.tolist() == [ts("2025-11-28 09:16:10.25"), ts("2025-11-28 09:19:30.5"), ts("2025-11-28 09:22"),
                                    ts("2025-11-28 09:23:45"), ts("2025-11-28 12:30"), ts("2025-11-28 17:30"),
                                    ts("2025-11-28 08:00"), ts("2025-11-28 10:00")]
    # 30-minute inactivity splits customer 1001; an explicit properties.session_id keeps 1003's together
    assert ev.session_id.tolist() == ["1001-1764321300"] * 4 + ["1001-1764333000", "1002-1764351000",
                                                                 "1003-1764316800", "1003-1764316800"]
    assert any("1 e-commerce event(s) of 1 anonymous" in n for n in summary.notes)


def test_touches_exact(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    run_import("segment", [FIXTURE], out, ImportOptions(channel_rules=(("^bf_email$", "email"),)))
    t = read(out, "touches").sort_values("touch_ts").reset_index(drop=True)
    assert t.customer_id.tolist() == ["1001", "1002"]
    assert t.touch_ts.tolist() == [ts("2025-11-28 09:15"), ts("2025-11-28 17:30")]
    assert t.channel.tolist() == ["paid_search", "email"]
    assert t.utm_source.tolist() == ["google", "newsletter"]
    assert t.utm_medium.tolist() == ["cpc", "email"]
    assert t.campaign_id.tolist() == t.utm_campaign.tolist() == ["bf_search", "bf_email"]


def test_missing_required_column(tmp_path: Path) -> None:
    bad = tmp_path / "tracks.jsonl"
    rows = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    bad.write_text("".join(json.dumps({k: v for k, v in r.items() if "imestamp" not in k and k != "receivedAt"})
                           + "\n" for r in rows))
    with pytest.raises(DataError, match=r"Segment .*lacks the column\(s\) 'timestamp'.*S3"):
        run_import("segment", [bad], shop(tmp_path / "out"))


def test_variants_give_the_same_rows(tmp_path: Path) -> None:
    base = shop(tmp_path / "base")
    run_import("segment", [FIXTURE], base)
    expected = read(base, "events").sort_values("event_id").reset_index(drop=True)
    text = FIXTURE.read_text()
    doubled, bom = tmp_path / "doubled.jsonl", tmp_path / "bom.jsonl"
    doubled.write_text(text + text)
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    for variant in (doubled, bom):
        out = shop(tmp_path / variant.stem)
        summary = run_import("segment", [variant], out)
        pd.testing.assert_frame_equal(read(out, "events").sort_values("event_id").reset_index(drop=True), expected)
        if variant is doubled:
            assert any("12 exact duplicate row(s) dropped" in n for n in summary.notes)


def test_times_without_offset_use_the_import_timezone(tmp_path: Path) -> None:
    naive = tmp_path / "naive.jsonl"
    rows = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    for r in rows:
        r["timestamp"] = "2025-11-28T10:16:10.250"
    naive.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = shop(tmp_path / "out")
    run_import("segment", [naive], out, ImportOptions(timezone="Europe/Berlin"))
    assert set(read(out, "events").event_ts) == {ts("2025-11-28 09:16:10.25")}


def test_reimport_is_byte_identical_and_validates(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    run_import("segment", [FIXTURE], out)
    first = {p: (out / p).read_bytes() for p in ("events.parquet", "touches.parquet")}
    run_import("segment", [FIXTURE], out)
    assert {p: (out / p).read_bytes() for p in first} == first
    assert main(["validate-data", str(out)]) == 0


def test_round_trip_sample_slice(tmp_path: Path) -> None:
    """Sample -> Segment calls -> import reproduces events exactly (ids, sessions, times, products).
    Touches: only tagged ones can be carried (direct and untagged organic visits are not in a
    Segment call); tagged touches of one customer with the same tags within 30 minutes merge."""
    customers = pd.read_parquet(SAMPLE / "customers.parquet").head(200)
    ids = set(customers.customer_id)
    events = pd.read_parquet(SAMPLE / "events.parquet").pipe(lambda d: d[d.customer_id.isin(ids)])
    touches = pd.read_parquet(SAMPLE / "touches.parquet").pipe(lambda d: d[d.customer_id.isin(ids)])
    files = segment_export.write({"events": events, "touches": touches}, tmp_path / "export")
    out = tmp_path / "out"
    out.mkdir()
    customers.to_parquet(out / "customers.parquet")
    run_import("segment", files, out)
    got = read(out, "events").sort_values("event_id").reset_index(drop=True)
    exp = events.sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["event_id", "customer_id", "event_ts", "event_type", "product_id"]],
                                  exp[["event_id", "customer_id", "event_ts", "event_type", "product_id"]],
                                  check_dtype=False)
    assert (got.session_id == got.customer_id + "-" + exp.session_id).all()
    t = read(out, "touches")
    tagged = touches[touches.utm_source.notna()]
    assert 0.95 * len(tagged) <= len(t) <= len(tagged)
    assert set(t.channel) == set(tagged.channel)
    k = ["customer_id", "touch_ts", "channel", "utm_campaign"]
    assert len(t[k].merge(tagged[k])) == len(t)
