"""The importers' shared machinery (issue 15): reading exports, parsing, checks, merging."""

from __future__ import annotations

import codecs
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import PLATFORMS, ImportOptions, platform_module, run_import
from playbook.data.importers.base import (
    KNOWN,
    ImportSession,
    channel,
    email_customer_id,
    lit,
    number,
    timestamp,
)
from playbook.data.importers.store import LOG_NAME, write_import
from playbook.errors import DataError

UTC = "UTC"


def _one(session: ImportSession, sql: str) -> object:
    return session.con.execute(f"SELECT {sql}").fetchone()[0]  # type: ignore[index]


@pytest.fixture
def session():
    with ImportSession(ImportOptions(currency="USD")) as s:
        yield s


@pytest.mark.parametrize(("text", "tz", "utc"), [
    ("2025-11-28 09:15:03 -0500", "Europe/Berlin", "2025-11-28 14:15:03"),   # offset wins over tz
    ("2025-11-28T09:15:03+01:00", UTC, "2025-11-28 08:15:03"),
    ("2025-11-28T09:15:03Z", "America/New_York", "2025-11-28 09:15:03"),
    ("2025-11-28T09:15:03.250Z", UTC, "2025-11-28 09:15:03.250000"),
    ("2025-11-28 09:15:03", "America/New_York", "2025-11-28 14:15:03"),      # naive: read in tz
    ("2025-07-01 09:15:03", "America/New_York", "2025-07-01 13:15:03"),      # summer time
    ("2025-11-28", "Asia/Kolkata", "2025-11-27 18:30:00"),                   # local midnight
    ("11/28/2025", UTC, "2025-11-28 00:00:00"),
])
def test_timestamps_become_utc(session, text, tz, utc) -> None:
    got = _one(session, timestamp(lit(text), tz))
    assert pd.Timestamp(got).tz_convert("UTC") == pd.Timestamp(utc, tz="UTC")


@pytest.mark.parametrize("text", ["garbage", "", "2025-13-45"])
def test_unreadable_times_are_null(session, text) -> None:
    assert _one(session, timestamp(lit(text), UTC)) is None


@pytest.mark.parametrize(("text", "comma", "value"), [
    ("1,234.50", False, 1234.5), ("$12.00", False, 12.0), ("(3.00)", False, -3.0), ("-4", False, -4.0),
    ("", False, None), ("--", False, None), ("1.234,50", True, 1234.5), ("12,5", True, 12.5),
])
def test_numbers(session, text, comma, value) -> None:
    assert _one(session, number("a", comma).replace('"a"', lit(text))) == value


def test_email_ids_are_stable_and_not_the_email(session) -> None:
    a = _one(session, email_customer_id("shopify", lit("  Jo.Doe@Example.COM ")))
    b = _one(session, email_customer_id("shopify", lit("jo.doe@example.com")))
    assert a == b == "shopify-" + hashlib.sha256(b"jo.doe@example.com").hexdigest()[:16]


def test_channel_rules_first_match_wins_and_bad_rules_are_named(session) -> None:
    sql = channel(lit("BF Retargeting Display"), "paid_social", [("retarget", "display"), ("bf", "affiliate")])
    assert _one(session, sql) == "display"
    assert _one(session, channel(lit("Brand"), "paid_search", [("retarget", "display")])) == "paid_search"
    with pytest.raises(DataError, match="unknown channel 'tv'"):
        channel("x", "paid_social", [("a", "tv")])
    with pytest.raises(DataError, match="not a valid regular expression"):
        channel("x", "paid_social", [("(", "display")])


def _rows(session: ImportSession, view: str) -> list[tuple]:
    return session.con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()


def test_csv_variants_read_the_same(session, tmp_path: Path) -> None:
    """BOM, `;` and UTF-16 tab-separated (Google Ads' 'Excel CSV') give the same rows."""
    rows = [("Day", "Campaign", "Cost"), ("2025-11-01", "Brand, EU", "12.50"), ("2025-11-02", "Généric", "3.00")]
    plain = "\n".join(",".join(f'"{c}"' for c in r) for r in rows) + "\n"
    (tmp_path / "a.csv").write_bytes(codecs.BOM_UTF8 + plain.encode())
    (tmp_path / "b.csv").write_text("\n".join(";".join(r) for r in rows) + "\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("Campaign report\nNovember 1, 2025 - November 2, 2025\n"
                                    + "\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-16")
    got = [session.read_csv(tmp_path / n, platform="P", export="E", header_has=("Day", "Campaign"))
           for n in ("a.csv", "b.csv", "c.csv")]
    assert [f.columns for f in got] == [("Day", "Campaign", "Cost")] * 3
    assert _rows(session, got[0].view) == _rows(session, got[1].view) == _rows(session, got[2].view)
    assert ("2025-11-01", "Brand, EU", "12.50") in _rows(session, got[0].view)
    assert [f.decimal_comma for f in got] == [False, True, False]


def test_duplicates_are_dropped_and_counted(session, tmp_path: Path) -> None:
    body = "a,b\n1,x\n2,y\n"
    (tmp_path / "d.csv").write_text(body + body.split("\n", 1)[1], encoding="utf-8")  # export appended twice
    f = session.read_csv(tmp_path / "d.csv", platform="P", export="E")
    assert (f.rows, f.duplicates) == (4, 2)
    assert any("2 exact duplicate row(s) dropped (4 read)" in n for n in session.notes)


def test_missing_columns_are_named_with_how_to_fix(session, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text("Name,Total\n#1001,10\n", encoding="utf-8")
    f = session.read_csv(tmp_path / "o.csv", platform="Shopify", export="Orders export",
                         how="Export from Orders > Export.")
    assert f.require({"name": ("Name",)}) == {"name": "Name"}
    assert f.require({"total": ("TOTAL",)}) == {"total": "Total"}  # case-insensitive
    with pytest.raises(DataError) as e:
        f.require({"created": ("Created at", "Created At"), "email": ("Email",)})
    msg = str(e.value)
    for part in ("Shopify Orders export o.csv", "'Created at' (or 'Created At')", "'Email'",
                 "Export from Orders > Export."):
        assert part in msg


def test_latin1_file_gets_a_conversion_hint(session, tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_bytes("a,b\nMüller,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="is not UTF-8.*iconv"):
        session.read_csv(tmp_path / "l.csv", platform="P", export="E")


def test_currency_check_names_what_it_found(session, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("Total,Currency\n1,USD\n2,eur\n3,\n", encoding="utf-8")
    f = session.read_csv(tmp_path / "c.csv", platform="Shopify", export="Orders export")
    with pytest.raises(DataError, match=r"amounts in EUR, but the campaign's currency is USD"):
        session.check_currency(f, "Currency")
    session.check_currency(f, "Currency", where="Currency <> 'eur'")


# --------------------------------------------------------------------------------------------
# store


def _spend_session(rows: list[tuple[str, str, float]], priority: int = 0) -> ImportSession:
    s = ImportSession()
    values = ", ".join(f"(DATE '{d}', 'paid_social', '{c}', {v})" for d, c, v in rows)
    s.add("spend", f"SELECT * FROM (VALUES {values}) t(date, channel, campaign_id, spend)", priority)
    return s


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


def test_merge_is_idempotent_and_updates_by_key(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    with _spend_session([("2025-11-01", "A", 1.0), ("2025-11-02", "A", 2.0)]) as s:
        summary = write_import(s, out, "test", [])
    assert summary.rows == {"spend": 2}
    first = _files(out)
    with _spend_session([("2025-11-01", "A", 1.0), ("2025-11-02", "A", 2.0)]) as s:
        write_import(s, out, "test", [])
    assert _files(out) == first  # the same import again: byte-identical
    with _spend_session([("2025-11-02", "A", 5.0), ("2025-11-03", "A", 3.0)]) as s:
        write_import(s, out, "test", [])
    df = pd.read_parquet(out / "spend.parquet")
    assert df["spend"].tolist() == [1.0, 5.0, 3.0]  # the newer export's row replaces the old one
    # absent columns take the contract default (impressions, clicks have none: null)
    assert df["impressions"].isna().all() if "impressions" in df else True
    log = [json.loads(line) for line in (out / LOG_NAME).read_text().splitlines()]
    assert len(log) == 3 and log[-1]["rows"] == {"spend": 3}


def test_priority_decides_between_rows_of_one_import(tmp_path: Path) -> None:
    with ImportSession() as s:
        s.add("customers", "SELECT 'c1' AS customer_id, 'from-orders@x.com' AS email", priority=0)
        s.add("customers", "SELECT 'c1' AS customer_id, 'export@x.com' AS email, TRUE AS consent_email", 10)
        write_import(s, tmp_path, "test", [])
    df = pd.read_parquet(tmp_path / "customers.parquet")
    assert df[["customer_id", "email", "consent_email"]].values.tolist() == [["c1", "export@x.com", True]]


def test_defaults_fill_absent_columns_and_customers_get_signup_and_country(tmp_path: Path) -> None:
    with ImportSession() as s:
        s.add("customers", "SELECT * FROM (VALUES ('a', 'DE'), ('b', NULL), ('c', 'DE'), ('d', 'FR')) "
                           "t(customer_id, country)")
        s.add("orders", "SELECT * FROM (VALUES ('o1', 'a', TIMESTAMPTZ '2025-03-01 10:00:00+00', 10.0), "
                        "('o2', 'a', TIMESTAMPTZ '2025-02-01 10:00:00+00', 5.0)) t(order_id, customer_id, order_ts, "
                        "revenue)")
        s.add("customers", "SELECT 'e' AS customer_id, FALSE AS consent_email, "
                           "TIMESTAMPTZ '2024-01-01 00:00:00+00' AS signup_ts")
        summary = write_import(s, tmp_path, "test", [])
    c = pd.read_parquet(tmp_path / "customers.parquet").set_index("customer_id")
    assert c.loc["b", "country"] == "DE"  # the most common country, said in a note
    assert any("2 without a country are counted in DE" in n for n in summary.notes)  # b and e
    assert c.loc["a", "signup_ts"] == pd.Timestamp("2025-02-01 10:00", tz="UTC")  # first order
    assert c.loc["b", "signup_ts"] == pd.Timestamp("2025-02-01 10:00", tz="UTC")  # the data's first order
    assert c.loc["e", "signup_ts"] == pd.Timestamp("2024-01-01", tz="UTC")        # given: kept
    assert not c["consent_email"].isna().any() and not c.loc["a", "consent_email"]  # default false
    # a column no import provided stays absent: the warehouse gives it its default when reading
    assert list(pd.read_parquet(tmp_path / "orders.parquet").columns) == ["order_id", "customer_id", "order_ts",
                                                                          "revenue"]


def test_an_existing_csv_of_the_same_table_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_text("date,channel,campaign_id,spend\n", encoding="utf-8")
    with _spend_session([("2025-11-01", "A", 1.0)]) as s, pytest.raises(DataError, match="Move the other copy"):
        write_import(s, tmp_path, "test", [])
    assert not (tmp_path / "spend.parquet").exists()


def test_known_customers_come_from_the_output_folder(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": ["7", "8"], "email": [" A@X.com", None]}).to_parquet(tmp_path / "customers.parquet")
    with ImportSession(known_customers=tmp_path / "customers.parquet") as s:
        assert s.con.execute(f"SELECT * FROM {KNOWN} ORDER BY 1").fetchall() == [("7", "a@x.com"), ("8", None)]


# --------------------------------------------------------------------------------------------
# the command


def test_help_lists_every_platform(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    out = capsys.readouterr().out
    for name in PLATFORMS:
        assert f"  {name} " in out
    assert set(PLATFORMS) == {"shopify", "magento", "ga4", "segment", "klaviyo", "mailchimp", "meta-ads",
                              "google-ads"}


def test_every_platform_module_loads_and_cites_its_documentation() -> None:
    for name in PLATFORMS:
        module = platform_module(name)
        assert callable(module.load)
        assert "https://" in (module.__doc__ or ""), f"{name}: cite the documentation the mapping follows"


def test_import_command_reads_currency_from_the_campaign(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "meta.csv"
    csv.write_text("Day,Campaign name,Amount spent (EUR),Impressions,Link clicks\n2025-11-01,BF,10,100,3\n",
                   encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("slug: c\nname: C\ncountries: [US]\ncurrency: USD\n"
                   "season: {start: 2025-11-01, end: 2025-11-30, planning_cutoff: 2025-10-15}\n", encoding="utf-8")
    assert main(["import", "meta-ads", str(csv), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 1
    assert "amounts in EUR, but the campaign's currency is USD" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written on failure
    assert main(["import", "meta-ads", str(csv), "--out", str(tmp_path / "o"), "--currency", "EUR",
                 "--channel", "bf=display"]) == 0
    assert pd.read_parquet(tmp_path / "o" / "spend.parquet")["channel"].tolist() == ["display"]
    assert "Next: playbook validate-data" in capsys.readouterr().out
    assert main(["validate-data", str(tmp_path / "o")]) == 1  # spend alone lacks customers and orders


def test_bad_channel_rule_and_unknown_platform_are_usage_errors(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["import", "meta-ads", "x.csv", "--out", str(tmp_path), "--channel", "nochannel"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        main(["import", "tiktok", "x.csv", "--out", str(tmp_path)])
    assert "invalid choice: 'tiktok'" in capsys.readouterr().err
    with pytest.raises(DataError, match="Unknown platform 'tiktok'"):
        run_import("tiktok", [], tmp_path)


def test_products_seen_only_in_events_get_a_placeholder_until_orders_describe_them(tmp_path: Path) -> None:
    with ImportSession() as s:
        s.add("products", "SELECT 'P1' AS product_id, 'Scarf' AS name, 'Winter' AS category, 20.0 AS price")
        write_import(s, tmp_path, "shop", [])
    with ImportSession() as s:
        s.add("events", "SELECT * FROM (VALUES ('e1', 'c1', 's1', TIMESTAMPTZ '2025-11-01 10:00:00+00', 'view', 'P1'), "
                        "('e2', 'c1', 's1', TIMESTAMPTZ '2025-11-01 10:01:00+00', 'view', 'P2')) "
                        "t(event_id, customer_id, session_id, event_ts, event_type, product_id)")
        summary = write_import(s, tmp_path, "web", [])
    got = pd.read_parquet(tmp_path / "products.parquet")
    assert got.values.tolist() == [["P1", "Scarf", "Winter", 20.0], ["P2", "P2", "unknown", 0.0]]
    assert any("1 product id(s) seen only in web events" in n for n in summary.notes)
    with ImportSession() as s:  # a later orders import describes P2: it replaces the placeholder
        s.add("products", "SELECT 'P2' AS product_id, 'Hat' AS name, 'Winter' AS category, 15.0 AS price")
        write_import(s, tmp_path, "shop", [])
    assert pd.read_parquet(tmp_path / "products.parquet")["name"].tolist() == ["Scarf", "Hat"]


def test_command_line_paths_are_relative_to_the_working_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    """A stranger keeps exports outside the project: `cd ~/exports; playbook import ... --out shop`."""
    csv = tmp_path / "meta.csv"
    csv.write_text("Day,Campaign name,Amount spent (USD),Impressions,Link clicks\n2025-11-01,BF,10,100,3\n",
                   encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["import", "meta-ads", "meta.csv", "--out", "shop", "--currency", "USD"]) == 0
    assert (tmp_path / "shop" / "spend.parquet").is_file()
    assert main(["validate-data", "shop"]) == 1  # found here (spend alone lacks customers and orders)
    assert "Data folder" not in capsys.readouterr().err
