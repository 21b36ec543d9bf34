"""Magento importer: sales_order and sales_order_item tables as CSV (fixtures written from the
columns of Magento's db_schema.xml) -> canonical tables, checked value by value, plus malformed
variants and a round trip through the tests-only export writer on a slice of the sample."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import magento as magento_export
from tests.platform_exports.shopify import refund_parents

FIXTURES = Path(__file__).parent / "fixtures" / "imports" / "magento"
ORDERS, ITEMS = FIXTURES / "sales_order.csv", FIXTURES / "sales_order_item.csv"
TABLES = ("customers", "orders", "order_items", "products")
BEN = "magento-" + hashlib.sha256(b"ben@example.com").hexdigest()[:16]


def _import(files: list[Path], out: Path, currency: str | None = "EUR", timezone: str = "UTC"):
    return run_import("magento", files, out, ImportOptions(currency=currency, timezone=timezone))


def _read(out: Path) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(out / f"{t}.parquet") for t in TABLES}


def _rewrite(src: Path, dst: Path, delimiter: str = ",", decimal_comma: bool = False, bom: bool = False,
             drop: str | None = None, twice: bool = False, set_col: tuple[str, str] | None = None) -> Path:
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = [c for c in rows[0] if c != drop]
    for r in rows:
        if set_col:
            r[set_col[0]] = set_col[1]
        if decimal_comma:
            for c in header:
                if r[c].replace(".", "").replace("-", "").isdigit() and r[c].count(".") == 1:
                    r[c] = r[c].replace(".", ",")
    with dst.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        for _ in range(2 if twice else 1):
            w.writerows([[r[c] for c in header] for r in rows])
    return dst


def test_fixture_maps_to_exact_canonical_rows(tmp_path):
    summary = _import([ITEMS, ORDERS], tmp_path, timezone="Asia/Tokyo")  # created_at is UTC whatever the zone
    t = _read(tmp_path)
    o = t["orders"]
    assert o["order_id"].tolist() == ["000000001", "000000002", "000000002-refund", "000000004",
                                      "000000004-refund", "000000006"]
    assert o["customer_id"].tolist() == ["42", BEN, BEN, "42", "42", BEN]
    assert o["revenue"].tolist() == [90.0, 40.0, -40.0, 60.0, -20.0, 25.0]
    assert o["discount"].tolist() == [10.0, 0, 0, 0, 0, 0] and o["promo_code"].tolist()[0] == "SAVE10"
    assert o["promo_code"].isna().sum() == 5 and (o["channel"] == "web").all()
    utc = pd.to_datetime(["2025-11-28 14:15:03", "2025-11-29 08:00:00", "2025-12-02 09:30:00",
                          "2025-12-01 12:00:00", "2025-12-03 16:00:00", "2025-12-03 20:00:00"], utc=True)
    assert (o["order_ts"].to_numpy() == utc.to_numpy()).all()
    cust = t["customers"].set_index("customer_id")
    assert sorted(cust.index) == ["42", BEN]
    assert cust.loc["42", "email"] == "anna.berg@example.com" and cust.loc["42", "first_name"] == "Anna"
    assert not cust["consent_email"].any() and not cust["consent_ads"].any()
    # the configurable parent line counts once; its child line (price 0) is not another item
    assert t["order_items"].values.tolist() == [
        ["000000001", "SCARF-01", 1, 60.0], ["000000001", "SOCK-02", 2, 20.0], ["000000002", "SCARF-01", 1, 40.0],
        ["000000004", "TEE-RED-M", 2, 30.0], ["000000006", "SOCK-02", 1, 25.0]]
    assert t["products"].values.tolist() == [["SCARF-01", "Merino Scarf", "unknown", 40.0],
                                             ["SOCK-02", "Wool Socks", "unknown", 25.0],
                                             ["TEE-RED-M", "Cotton Tee", "unknown", 30.0]]
    notes = " ".join(summary.notes)
    assert "canceled 1, pending_payment 1" in notes and "read as UTC" in notes
    assert main(["validate-data", str(tmp_path)]) == 0


def test_orders_without_items(tmp_path):
    summary = _import([ORDERS], tmp_path)
    assert len(pd.read_parquet(tmp_path / "orders.parquet")) == 6
    assert not (tmp_path / "order_items.parquet").exists()
    assert any("No sales_order_item file" in n for n in summary.notes)


def test_items_alone_are_refused(tmp_path):
    with pytest.raises(DataError, match="needs the sales_order table"):
        _import([ITEMS], tmp_path)


def test_missing_required_column_names_column_and_how(tmp_path):
    bad = _rewrite(ORDERS, tmp_path / "sales_order.csv", drop="created_at")
    with pytest.raises(DataError, match=r"sales_order table sales_order\.csv lacks the column\(s\) 'created_at'.*phpMyAdmin"):
        _import([bad, ITEMS], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_other_currency_is_refused(tmp_path):
    with pytest.raises(DataError, match="amounts in EUR, but the campaign's currency is GBP"):
        _import([ORDERS, ITEMS], tmp_path, currency="GBP")


def test_base_currency_amounts_used_when_they_are_the_campaigns(tmp_path):
    usd = _rewrite(ORDERS, tmp_path / "sales_order.csv", set_col=("order_currency_code", "USD"))
    summary = _import([usd, ITEMS], tmp_path / "out")
    assert any("base_ amounts in EUR are used" in n for n in summary.notes)
    assert pd.read_parquet(tmp_path / "out" / "orders.parquet")["revenue"].tolist() == [90.0, 40.0, -40.0, 60.0,
                                                                                         -20.0, 25.0]


@pytest.mark.parametrize("variant", [{"delimiter": ";", "decimal_comma": True}, {"bom": True}, {"twice": True}],
                         ids=["semicolon-decimal-comma", "bom", "duplicated-rows"])
def test_variants_give_same_rows(tmp_path, variant):
    _import([ORDERS, ITEMS], tmp_path / "ref")
    o = _rewrite(ORDERS, tmp_path / "o.csv", **variant)
    i = _rewrite(ITEMS, tmp_path / "i.csv", **variant)
    summary = _import([o, i], tmp_path / "out")
    for t in TABLES:
        pd.testing.assert_frame_equal(_read(tmp_path / "out")[t], _read(tmp_path / "ref")[t])
    if variant.get("twice"):
        assert any("6 exact duplicate row(s) dropped (12 read)" in n for n in summary.notes)


def test_importing_twice_is_byte_identical(tmp_path):
    _import([ORDERS, ITEMS], tmp_path)
    first = {t: (tmp_path / f"{t}.parquet").read_bytes() for t in TABLES}
    _import([ORDERS, ITEMS], tmp_path)
    assert {t: (tmp_path / f"{t}.parquet").read_bytes() for t in TABLES} == first


def test_round_trip_through_the_export_writer(tmp_path):
    """Writer -> importer reproduces ids, times (to the second), revenue, discounts, promo codes,
    items and product names. Not carried: refund ids (back as '<order>-refund'), channels (back as
    web), categories and list prices, customer columns other than id, email and first name."""
    root = Path(__file__).resolve().parents[1] / "data" / "sample"
    cust = pd.read_parquet(root / "customers.parquet").head(200)
    orders = pd.read_parquet(root / "orders.parquet")
    orders = orders[orders["customer_id"].isin(cust["customer_id"])]
    items = pd.read_parquet(root / "order_items.parquet")
    items = items[items["order_id"].isin(orders["order_id"])]
    products = pd.read_parquet(root / "products.parquet")
    src = {"customers": cust, "orders": orders, "order_items": items, "products": products}
    files = magento_export.write(src, tmp_path / "export")
    _import(files, tmp_path / "out")
    assert main(["validate-data", str(tmp_path / "out")]) == 0
    got = _read(tmp_path / "out")
    parents = refund_parents(orders)
    want = orders.assign(order_id=[f"{parents[o]}-refund" if r < 0 else o
                                   for o, r in zip(orders["order_id"], orders["revenue"], strict=True)],
                         order_ts=orders["order_ts"].dt.floor("s"),
                         discount=orders["discount"].where(orders["revenue"] >= 0, 0.0))
    cols = ["order_id", "customer_id", "order_ts", "revenue", "discount", "promo_code"]
    want = want[cols].sort_values("order_id").reset_index(drop=True)
    have = got["orders"][cols].sort_values("order_id").reset_index(drop=True)
    have["order_ts"] = have["order_ts"].astype(want["order_ts"].dtype)
    pd.testing.assert_frame_equal(have, want, check_dtype=False)
    pd.testing.assert_frame_equal(got["order_items"], items.sort_values(["order_id", "product_id"])
                                  .reset_index(drop=True), check_dtype=False)
    names = products.set_index("product_id")["name"]
    assert (got["products"]["name"] == got["products"]["product_id"].map(names)).all()
