"""The minimal data contract (issue 14, items 1, 4 and 5): only customers(customer_id) and
orders(order_id, customer_id, order_ts, revenue) are required; everything else reads as empty or
with a stated default, and validate-data says what each absence turns off."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from playbook.data.aggregates import customer_order_summary, daily_sales
from playbook.data.contract import REQUIRED_TABLES, TABLES
from playbook.data.source import DataSource
from playbook.data.validate import validate
from playbook.data.warehouse import connect

NOW = "2026-01-01"


def write_shop(folder: Path, orders: list[tuple], customers: list[str] | None = None) -> Path:
    """An orders-only CSV export: ``orders`` rows are (order_id, customer_id, order_ts, revenue)."""
    folder.mkdir(parents=True, exist_ok=True)
    o = pd.DataFrame(orders, columns=["order_id", "customer_id", "order_ts", "revenue"])
    ids = customers if customers is not None else sorted(set(o["customer_id"]))
    pd.DataFrame({"customer_id": ids}).to_csv(folder / "customers.csv", index=False)
    o.to_csv(folder / "orders.csv", index=False)
    return folder


def _campaign(tmp_path: Path, source: Path) -> Path:
    """A campaign file with only the required keys, reading ``source``."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""slug: shop
name: Shop
countries: [US]
currency: USD
season: {{start: 2025-11-20, end: 2025-12-31, planning_cutoff: 2025-11-01}}
data: {{source: {source}}}
""", encoding="utf-8")
    return cfg


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "shop", [
        ("O1", "C1", "2025-03-01", 40.0),
        ("O2", "C1", "2025-03-05", 60.0),
        ("O3", "C2", "2025-03-02", 25.0),
        ("R1", "C2", "2025-03-09", -25.0),
    ], customers=["C1", "C2", "C3"])


def test_only_customers_and_orders_are_required() -> None:
    assert REQUIRED_TABLES == ("customers", "orders")
    assert TABLES["customers"].required_columns == ("customer_id",)
    assert TABLES["orders"].required_columns == ("order_id", "customer_id", "order_ts", "revenue")


def test_orders_only_export_validates_with_information_only(shop: Path) -> None:
    report = validate(connect(shop), now=NOW)
    assert report.ok, report.format()
    absent = {f.table for f in report.infos if f.check == "absent_table"}
    assert absent == set(TABLES) - {"customers", "orders"}
    columns = {(f.table, f.column) for f in report.infos if f.check == "absent_column"}
    assert {("orders", "channel"), ("customers", "consent_email"), ("customers", "signup_ts")} <= columns
    consent = next(f for f in report.infos if f.column == "consent_email")
    assert "not consented" in consent.message and "nobody is exported" in consent.message
    spend = next(f for f in report.infos if f.table == "spend")
    assert "budget allocation" in spend.message  # what the absence turns off
    assert report.skipped == []  # absences are listed once, not again as skipped checks


def test_absent_tables_read_empty_and_absent_columns_take_their_defaults(shop: Path) -> None:
    wh = connect(shop)
    wh.default_country = "DE"
    assert wh.table("events").count().execute() == 0
    c = wh.table("customers").execute().set_index("customer_id")
    assert (c["country"] == "DE").all()
    assert not c["consent_email"].any() and not c["consent_ads"].any() and c["erased_at"].isna().all()
    # signup = first order; a customer without orders gets the data's first order
    assert c.loc["C1", "signup_ts"] == pd.Timestamp("2025-03-01", tz="UTC")
    assert c.loc["C2", "signup_ts"] == pd.Timestamp("2025-03-02", tz="UTC")
    assert c.loc["C3", "signup_ts"] == pd.Timestamp("2025-03-01", tz="UTC")
    o = wh.table("orders").execute().set_index("order_id")
    assert (o["channel"] == "unknown").all() and (o["discount"] == 0).all() and o["promo_code"].isna().all()
    gaps = {(t, col) for t, col, _ in wh.gaps()}
    assert ("spend", None) in gaps and ("orders", "channel") in gaps and ("customers", "country") in gaps
    assert wh.lacks("spend") and wh.lacks("orders", "channel") and not wh.lacks("orders", "revenue")


def test_date_only_order_ts_keeps_its_calendar_day_in_every_zone(shop: Path) -> None:
    # The aggregates count UTC days; reading 2025-03-01 as Berlin midnight (28 Feb 23:00 UTC) would
    # move every order of a European shop back a day, so a date alone stays that day.
    for zone in (None, "Europe/Berlin", "Asia/Tokyo", "America/New_York"):
        wh = connect(shop, timezone=zone)
        ts = wh.table("orders").execute().set_index("order_id")["order_ts"]
        assert ts["O1"] == pd.Timestamp("2025-03-01 00:00", tz="UTC"), zone
        days = daily_sales(wh).set_index("day")
        assert days.loc["2025-03-01", "revenue"] == 40.0 and days.loc["2025-03-02", "revenue"] == 25.0, zone
        assert daily_sales(wh, "2025-03-01", "2025-03-01")["revenue"].sum() == 40.0, zone


def test_line_items_merged_into_orders_when_asked(tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "lines", [
        ("#1001", "C1", "2025-03-01", 10.0),  # one order exported as three line-item rows
        ("#1001", "C1", "2025-03-01", 15.0),
        ("#1001", "C1", "2025-03-01", 5.0),
        ("#1002", "C1", "2025-03-08", 20.0),
        ("#1002-R", "C1", "2025-03-08", -5.0),  # a refund at the same time stays a refund
    ])
    plain = connect(folder)
    assert validate(plain, now=NOW).count("duplicate_key", "orders") == 2
    merged = connect(replace(DataSource.parse(folder), merge_line_items=True))
    report = validate(merged, now=NOW)
    assert report.count("duplicate_key", "orders") == 0
    assert any(s.check == "duplicate_key" and "merge_line_items" in s.reason for s in report.skipped)
    o = merged.table("orders").execute().sort_values(["order_ts", "revenue"], ignore_index=True)
    assert list(o["revenue"]) == [30.0, -5.0, 20.0]
    summary = customer_order_summary(merged, "2025-04-01")
    assert summary.loc[0, "frequency"] == 2 and summary.loc[0, "monetary_total"] == 50.0


def _with_giants(folder: Path) -> Path:
    rows = [(f"O{i}", f"C{i % 40}", f"2025-03-{1 + i % 28:02d}", 50.0 + i % 30) for i in range(400)]
    rows += [(f"X{i}", "C1", "2025-03-10", 1e12) for i in range(4)]  # the fault probe's four 1e12 orders
    rows += [("XR", "C1", "2025-03-12", -1e12)]  # ... and a refund of one of them
    return write_shop(folder, rows)


def test_extreme_orders_left_out_of_analyses_and_counted(tmp_path: Path) -> None:
    folder = _with_giants(tmp_path / "giants")
    wh = connect(folder)
    total = daily_sales(wh)["revenue"].sum()
    assert total == pytest.approx(sum(50.0 + i % 30 for i in range(400)))
    excluded = wh.excluded_orders()
    assert excluded["orders"] == 5 and excluded["revenue"] == pytest.approx(4e12)  # the refund leaves too
    assert 50 * 100 <= excluded["limit"] <= 80 * 1000
    warning = validate(wh, now=NOW).warnings
    assert [f.check for f in warning] == ["extreme_value"] and "left out of every analysis" in warning[0].message
    kept = connect(replace(DataSource.parse(folder), exclude_extreme_orders=False))
    assert daily_sales(kept)["revenue"].sum() == pytest.approx(total + 3e12)
    assert kept.excluded_orders()["orders"] == 0


def test_header_only_optional_table_is_information_and_empty_orders_an_error(shop: Path) -> None:
    (shop / "spend.csv").write_text("date,channel,campaign_id,spend,impressions,clicks\n", encoding="utf-8")
    report = validate(connect(shop), now=NOW)
    assert report.ok
    empty = [f for f in report.infos if f.check == "empty_table"]
    assert [f.table for f in empty] == ["spend"] and "budget allocation" in empty[0].message
    (shop / "orders.csv").write_text("order_id,customer_id,order_ts,revenue\n", encoding="utf-8")
    report = validate(connect(shop), now=NOW)
    assert [(f.table, f.check) for f in report.errors] == [("orders", "empty_table")]
    assert "nothing to analyse" in report.errors[0].message


def test_a_step_refuses_an_export_without_orders_with_a_clear_error(shop: Path, tmp_path: Path) -> None:
    from playbook.errors import DataError
    from playbook.steps.context import start_step

    (shop / "orders.csv").write_text("order_id,customer_id,order_ts,revenue\n", encoding="utf-8")
    cfg = _campaign(tmp_path, shop)
    with pytest.raises(DataError, match="has no orders: there is nothing to plan"):
        start_step("01_plan", str(cfg), output_dir=str(tmp_path / "out"))


def test_extreme_orders_are_counted_on_every_page_and_in_every_summary(tmp_path: Path) -> None:
    import json

    from playbook.steps.context import finish_step, start_step

    folder = _with_giants(tmp_path / "giants")
    cfg = _campaign(tmp_path, folder)
    ctx = start_step("02_segment", str(cfg), output_dir=str(tmp_path / "out"))
    header = ctx.header()
    assert header.loc["extreme orders left out", "value"].startswith("5 above $")
    finish_step(ctx, {"orders": "400"})
    notes = json.loads((tmp_path / "out" / "artifacts" / "summary_02_segment.json").read_text())["notes"]
    assert len(notes) == 1 and notes[0].startswith("5 order(s) above $") and "$4,000,000,000,000" in notes[0]


def test_validate_data_command_merges_line_items_as_the_run_does(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = write_shop(tmp_path / "lines", [("#1", "C1", "2025-03-01", 10.0), ("#1", "C1", "2025-03-01", 5.0),
                                              ("#2", "C2", "2025-03-02", 7.0)])
    plain = subprocess.run([sys.executable, "-m", "playbook.cli", "validate-data", str(folder)],
                           capture_output=True, text=True)
    assert plain.returncode != 0 and "duplicate_key" in plain.stdout
    merged = subprocess.run([sys.executable, "-m", "playbook.cli", "validate-data", str(folder),
                             "--merge-line-items"], capture_output=True, text=True)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merge_line_items" in merged.stdout  # the skipped duplicate-key check says why


def test_cache_keys_change_with_the_reading_options(shop: Path) -> None:
    from playbook.data import cache, contract

    src = DataSource.parse(shop)
    keys = {cache.cache_key("validation", s, [contract], {}) for s in (
        src, replace(src, merge_line_items=True), replace(src, exclude_extreme_orders=False))}
    assert len(keys) == 3  # a result computed with one option is never served for another


def test_needs_names_what_is_missing_and_is_silent_when_the_data_has_it(shop: Path) -> None:
    from playbook.data.needs import Needs

    wh = connect(shop)
    assert Needs("The funnel", tables=("events",)).reason(wh) == (
        "The funnel: skipped, the data has no events table; add it to enable this section "
        "(the columns of every table are listed in README.md, 'Your own data'; `playbook init-data DIR` "
        "writes empty templates).")
    merge = Needs("Merging", columns=("customers.email", "customers.phone"), any_of=True)
    assert "customers.email or customers.phone" in merge.reason(wh)
    assert Needs("History", columns=("orders.revenue",)).reason(wh) is None
    (shop / "customers.csv").write_text("customer_id,email\nC1,a@b.c\nC2,\nC3,\n", encoding="utf-8")
    assert merge.reason(connect(shop)) is None  # one of the two is enough
    with pytest.raises(ValueError, match="unknown table"):
        Needs("x", tables=("sales",))
