"""GA4 BigQuery export importer (playbook.data.importers.ga4), from a fixture written after the
export schema (https://support.google.com/analytics/answer/7029846).

Not applicable to this export: currency (no money is imported from GA4 events), ``;`` delimiters
and decimal commas (JSON lines / Parquet, not CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import ga4 as ga4_export

FIXTURE = Path(__file__).parent / "fixtures" / "imports" / "ga4" / "events_20251128.json"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
UTC = "UTC"


def shop(out: Path, ids: tuple[str, ...] = ("1001", "1002", "1003")) -> Path:
    """A tiny output folder with the customers (and one order) a GA4 import joins onto."""
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": list(ids), "email": [f"c{i}@example.com" for i in ids],
                  "signup_ts": pd.Timestamp("2025-01-01", tz=UTC), "country": "DE"}).to_parquet(out / "customers.parquet")
    pd.DataFrame({"order_id": ["#1042"], "customer_id": [ids[0]], "order_ts": [pd.Timestamp("2025-11-28 09:23:45", tz=UTC)],
                  "revenue": [39.98]}).to_parquet(out / "orders.parquet")
    return out


def read(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{table}.parquet")


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=UTC)


def test_events_exact(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    summary = run_import("ga4", [FIXTURE], out)
    ev = read(out, "events").sort_values(["event_ts", "product_id"]).reset_index(drop=True)
    a, b = "1849305771.1764321300-1764321300", "1849305771.1764321300-1764360300"
    expected = pd.DataFrame({
        "customer_id": ["1001", "1001", "1001", "1001", "1001", "1002", "1003", "1002", "1001"],
        "session_id": [a, a, a, a, a, "77120033.1764324000-1764324000", "5550001.1764331200-1764331200",
                       "77120033.1764324000-1764354600", b],
        "event_ts": [ts("2025-11-28 09:16:10.25"), ts("2025-11-28 09:19:30.5"), ts("2025-11-28 09:19:30.5"),
                     ts("2025-11-28 09:21:00"), ts("2025-11-28 09:23:45"), ts("2025-11-28 10:01:00"),
                     ts("2025-11-28 12:02:00"), ts("2025-11-28 18:31:00"), ts("2025-11-28 20:06:00")],
        "event_type": ["view", "add_to_cart", "add_to_cart", "checkout", "purchase", "view", "view", "add_to_cart",
                       "view"],
        "product_id": ["SKU-1", "SKU-1", "SKU-2", None, None, "SKU-2", "SKU-1", "SKU-4", "SKU-3"]})
    got = ev[expected.columns].copy()
    got["event_ts"] = got["event_ts"].astype("datetime64[us, UTC]")
    expected["event_ts"] = expected["event_ts"].astype("datetime64[us, UTC]")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert ev.event_id.str.match(r"^ga4-[0-9a-f]{16}$").all() and ev.event_id.is_unique
    assert summary.rows == {"events": 9, "touches": 5}
    assert any("2 e-commerce event(s) of 2 anonymous device(s) dropped" in n and "customer id" in n
               for n in summary.notes)


def test_touches_exact(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    run_import("ga4", [FIXTURE], out)
    t = read(out, "touches").sort_values("touch_ts").reset_index(drop=True).astype(object)
    t = t.where(t.notna(), None)
    assert t.customer_id.tolist() == ["1001", "1002", "1003", "1002", "1001"]
    assert t.channel.tolist() == ["paid_search", "direct", "organic", "email", "paid_social"]
    assert t.touch_ts.tolist() == [ts("2025-11-28 09:15:00.000001"), ts("2025-11-28 10:00"), ts("2025-11-28 12:00"),
                                   ts("2025-11-28 18:30"), ts("2025-11-28 20:05")]
    assert t.utm_source.tolist() == ["google", None, "google", "newsletter", "facebook"]
    assert t.utm_medium.tolist() == ["cpc", None, "organic", "email", "paid_social"]
    assert t.utm_campaign.tolist() == ["bf_search", None, None, "bf_email", "bf_social"]
    assert t.campaign_id.tolist() == t.utm_campaign.tolist()


def test_channel_rule_option(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    run_import("ga4", [FIXTURE], out, ImportOptions(channel_rules=(("^bf_social$", "display"),)))
    t = read(out, "touches")
    assert t.loc[t.utm_campaign == "bf_social", "channel"].tolist() == ["display"]


def test_missing_required_column(tmp_path: Path) -> None:
    bad = tmp_path / "events_20251128.json"
    lines = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    bad.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "event_name"}) + "\n" for r in lines))
    with pytest.raises(DataError, match=r"GA4 .*lacks the column\(s\) 'event_name'.*bq extract"):
        run_import("ga4", [bad], shop(tmp_path / "out"))
    assert not (tmp_path / "out" / "events.parquet").exists()


def test_duplicates_bom_int_timestamps_and_parquet_give_the_same_rows(tmp_path: Path) -> None:
    base = shop(tmp_path / "base")
    run_import("ga4", [FIXTURE], base)
    expected = read(base, "events").sort_values("event_id").reset_index(drop=True)
    text = FIXTURE.read_text()
    doubled = tmp_path / "doubled.json"
    doubled.write_text(text + text)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    ints = tmp_path / "ints.json"
    ints.write_text("".join(json.dumps({**r, "event_timestamp": int(r["event_timestamp"])}) + "\n"
                            for r in map(json.loads, text.splitlines())))
    parquet = tmp_path / "events_20251128.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_json('{FIXTURE}', format='newline_delimited')) TO '{parquet}' (FORMAT parquet)")
    for variant in (doubled, bom, ints, parquet):
        out = shop(tmp_path / variant.stem)
        summary = run_import("ga4", [variant], out)
        got = read(out, "events").sort_values("event_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, obj=variant.name)
        assert read(out, "touches").shape[0] == 5
        if variant is doubled:
            assert any("20 exact duplicate row(s) dropped" in n for n in summary.notes)


def test_reimport_is_byte_identical_and_validates(tmp_path: Path) -> None:
    out = shop(tmp_path / "out")
    run_import("ga4", [FIXTURE], out)
    first = {p: (out / p).read_bytes() for p in ("events.parquet", "touches.parquet")}
    run_import("ga4", [FIXTURE], out)
    assert {p: (out / p).read_bytes() for p in first} == first
    assert main(["validate-data", str(out)]) == 0


def test_unknown_customers_give_no_rows(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"GA4: no event or touch of a known customer.*import customers"):
        run_import("ga4", [FIXTURE], shop(tmp_path / "out", ids=("C1",)))


def test_round_trip_sample_slice(tmp_path: Path) -> None:
    """Sample -> GA4 export -> import reproduces customer, time, type, product and session grouping of
    events, and customer, time, channel and UTM tags of touches. Not carried: event_id, session_id and
    touch_id values (GA4 has no field for them); untagged organic touches come back as google/organic."""
    customers = pd.read_parquet(SAMPLE / "customers.parquet").head(200)
    ids = set(customers.customer_id)
    events = pd.read_parquet(SAMPLE / "events.parquet").pipe(lambda d: d[d.customer_id.isin(ids)]).reset_index(drop=True)
    touches = pd.read_parquet(SAMPLE / "touches.parquet").pipe(lambda d: d[d.customer_id.isin(ids)]).reset_index(drop=True)
    files = ga4_export.write({"events": events, "touches": touches}, tmp_path / "export")
    assert all(p.name.startswith("events_") and p.suffix == ".json" for p in files)
    out = tmp_path / "out"
    out.mkdir()
    customers.to_parquet(out / "customers.parquet")
    run_import("ga4", files, out)
    key = ["customer_id", "event_ts", "event_type", "product_id"]
    got = read(out, "events")
    assert len(got) == len(events)
    pd.testing.assert_frame_equal(got.sort_values(key)[key].reset_index(drop=True),
                                  events.sort_values(key)[key].reset_index(drop=True), check_dtype=False)
    n_sessions = got.merge(events, on=key).groupby("session_id_x").session_id_y.nunique()
    assert (n_sessions == 1).all() and got.session_id.nunique() == events.session_id.nunique()
    t = read(out, "touches")
    tkey = ["customer_id", "touch_ts", "channel", "utm_campaign"]
    assert len(t) == len(touches)
    pd.testing.assert_frame_equal(t.sort_values(tkey)[tkey].reset_index(drop=True),
                                  touches.sort_values(tkey)[tkey].reset_index(drop=True), check_dtype=False)
    tagged = touches.utm_source.notna()
    assert set(t.loc[t.channel == "organic", "utm_source"].dropna()) <= {"google"}
    assert tagged.sum() == (t.utm_medium.notna() & (t.utm_medium != "organic")).sum()
