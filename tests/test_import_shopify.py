"""Shopify importer: Orders and Customers exports (fixtures written from Shopify's Help Center
column lists) -> canonical tables, checked value by value, plus malformed variants and a round
trip through the tests-only export writer on a slice of the synthetic sample."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import shopify as shopify_export

FIXTURES = Path(__file__).parent / "fixtures" / "imports" / "shopify"
ORDERS, CUSTOMERS = FIXTURES / "orders_export.csv", FIXTURES / "customers_export.csv"
TABLES = ("customers", "orders", "order_items", "products")
MONEY = ("Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Lineitem price", "Refunded Amount",
         "Outstanding Balance", "Lineitem discount")


def _hash_id(prefix: str, text: str) -> str:
    return f"{prefix}-" + hashlib.sha256(text.encode()).hexdigest()[:16]


BOB = _hash_id("shopify", "bob@example.com")
GIFT = _hash_id("shopify", "Gift Card")


def _import(files: list[Path], out: Path, currency: str | None = "USD", timezone: str = "UTC"):
    return run_import("shopify", files, out, ImportOptions(currency=currency, timezone=timezone))


def _read(out: Path) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(out / f"{t}.parquet") for t in TABLES}


def _rewrite(src: Path, dst: Path, delimiter: str = ",", decimal_comma: bool = False, bom: bool = False,
             drop: str | None = None, rename: dict[str, str] | None = None, twice: bool = False) -> Path:
    """A variant of a fixture: other delimiter, decimal comma, BOM, a column dropped or renamed,
    rows appended twice."""
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = [c for c in rows[0] if c != drop]
    for r in rows:
        for c in MONEY:
            if decimal_comma and r.get(c):
                r[c] = r[c].replace(".", ",")
    names = [(rename or {}).get(c, c) for c in header]
    with dst.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(names)
        for _ in range(2 if twice else 1):
            w.writerows([[r[c] for c in header] for r in rows])
    return dst


def test_fixture_maps_to_exact_canonical_rows(tmp_path):
    summary = _import([ORDERS, CUSTOMERS], tmp_path)
    t = _read(tmp_path)
    orders = t["orders"].set_index("order_id")
    assert list(orders.index) == ["#1001", "#1002", "#1002-refund", "#1003", "#1004", "#1004-refund", "#1006"]
    assert orders["customer_id"].tolist() == ["7002", BOB, BOB, "shopify-guest-5003", "7001", "7001", "7002"]
    assert orders["revenue"].tolist() == [90.0, 50.0, -20.0, 30.0, 40.0, -40.0, 60.0]
    assert orders["discount"].tolist() == [10.0, 0, 0, 0, 0, 0, 0]
    assert orders.loc["#1001", "promo_code"] == "BF10" and orders["promo_code"].isna().sum() == 6
    assert orders["channel"].tolist() == ["web", "app", "app", "store", "unknown", "unknown", "web"]
    utc = pd.to_datetime(["2025-11-28 14:15:03", "2025-11-29 19:00:00", "2025-11-29 19:00:00",
                          "2025-11-30 15:00:00", "2025-12-01 13:00:00", "2025-12-02 14:30:00",
                          "2025-12-03 17:00:00"], utc=True)
    assert (orders["order_ts"].to_numpy() == utc.to_numpy()).all()
    cust = t["customers"].set_index("customer_id")
    assert sorted(cust.index) == ["7001", "7002", "7003", BOB, "shopify-guest-5003"]
    assert cust.loc["7002"].to_dict() == {"email": "alice@example.com", "phone": "+12125550101", "first_name": "Alice",
                                          "country": "US", "consent_email": True, "consent_ads": False}
    assert cust.loc["7001", "consent_email"] == False and cust.loc["7001", "country"] == "DE"  # noqa: E712
    assert cust.loc[BOB, "country"] == "GB" and cust.loc[BOB, "phone"] == "+44 7700 900123"
    assert not cust["consent_ads"].any()
    items = t["order_items"]
    assert items.values.tolist() == [["#1001", "SCARF-01", 1, 60.0], ["#1001", "SOCK-02", 2, 20.0],
                                     ["#1002", "SOCK-02", 2, 25.0], ["#1003", GIFT, 1, 30.0],
                                     ["#1004", "SCARF-01", 1, 40.0], ["#1006", "SCARF-01", 1, 60.0]]
    assert t["products"].values.tolist() == [["SCARF-01", "Merino Scarf", "Northwind", 60.0],
                                             ["SOCK-02", "Wool Socks", "Northwind", 25.0],
                                             [GIFT, "Gift Card", "unknown", 30.0]]
    notes = " ".join(summary.notes)
    assert "pending 1, voided 1" in notes and "1 order(s) without an email" in notes
    assert "shopify_draft_order (1)" in notes and "no refund dates" in notes


def test_validate_data_passes(tmp_path):
    from playbook.cli import main
    _import([ORDERS, CUSTOMERS], tmp_path)
    assert main(["validate-data", str(tmp_path)]) == 0


def test_argument_order_does_not_matter(tmp_path):
    _import([ORDERS, CUSTOMERS], tmp_path / "a")
    _import([CUSTOMERS, ORDERS], tmp_path / "b")
    for t in TABLES:
        assert (tmp_path / "a" / f"{t}.parquet").read_bytes() == (tmp_path / "b" / f"{t}.parquet").read_bytes()


def test_older_customers_export_columns(tmp_path):
    old = _rewrite(CUSTOMERS, tmp_path / "old.csv", drop="Customer ID",
                   rename={"Accepts Email Marketing": "Accepts Marketing", "Default Address Country Code": "Country Code"})
    _import([ORDERS, old], tmp_path / "out")
    cust = _read(tmp_path / "out")["customers"].set_index("customer_id")
    alice = _hash_id("shopify", "alice@example.com")
    assert cust.loc[alice, "consent_email"] == True and cust.loc[alice, "country"] == "US"  # noqa: E712
    orders = _read(tmp_path / "out")["orders"].set_index("order_id")
    assert orders.loc["#1001", "customer_id"] == alice and orders.loc["#1006", "customer_id"] == alice


def test_orders_alone_then_customers_keep_one_id_per_email(tmp_path):
    _import([ORDERS], tmp_path)
    _import([CUSTOMERS], tmp_path)
    cust = _read(tmp_path)["customers"]
    assert cust["email"].str.lower().str.strip().dropna().is_unique
    alice = _hash_id("shopify", "alice@example.com")
    assert cust.set_index("customer_id").loc[alice, "first_name"] == "Alice"  # kept the id the orders use


def test_missing_required_column_names_column_and_how(tmp_path):
    bad = _rewrite(ORDERS, tmp_path / "orders.csv", drop="Financial Status")
    with pytest.raises(DataError, match=r"Orders export orders\.csv lacks the column\(s\) 'Financial Status'.*Export"):
        _import([bad], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unrecognised_file_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("Handle,Title,Vendor\nscarf,Merino Scarf,Northwind\n")
    with pytest.raises(DataError, match="neither a Shopify Orders export"):
        _import([other], tmp_path / "out")


def test_other_currency_is_refused(tmp_path):
    with pytest.raises(DataError, match="amounts in USD, but the campaign's currency is EUR"):
        _import([ORDERS], tmp_path, currency="EUR")


@pytest.mark.parametrize("variant", [{"delimiter": ";", "decimal_comma": True}, {"bom": True}],
                         ids=["semicolon-decimal-comma", "bom"])
def test_delimiter_decimal_comma_and_bom_give_same_rows(tmp_path, variant):
    _import([ORDERS, CUSTOMERS], tmp_path / "ref")
    o = _rewrite(ORDERS, tmp_path / "o.csv", **variant)
    c = _rewrite(CUSTOMERS, tmp_path / "c.csv", **variant)
    _import([o, c], tmp_path / "out")
    for t in TABLES:
        pd.testing.assert_frame_equal(_read(tmp_path / "out")[t], _read(tmp_path / "ref")[t])


def test_duplicated_export_counts_once(tmp_path):
    _import([ORDERS, CUSTOMERS], tmp_path / "ref")
    twice = _rewrite(ORDERS, tmp_path / "o.csv", twice=True)
    summary = _import([twice, CUSTOMERS, ORDERS], tmp_path / "out")  # also the same export given twice
    for t in TABLES:
        pd.testing.assert_frame_equal(_read(tmp_path / "out")[t], _read(tmp_path / "ref")[t])
    assert any("8 exact duplicate row(s) dropped (16 read)" in n for n in summary.notes)


def test_importing_twice_is_byte_identical(tmp_path):
    _import([ORDERS, CUSTOMERS], tmp_path)
    first = {t: (tmp_path / f"{t}.parquet").read_bytes() for t in TABLES}
    _import([ORDERS, CUSTOMERS], tmp_path)
    assert {t: (tmp_path / f"{t}.parquet").read_bytes() for t in TABLES} == first


def _sample_slice(n: int = 200) -> dict[str, pd.DataFrame]:
    root = Path(__file__).resolve().parents[1] / "data" / "sample"
    cust = pd.read_parquet(root / "customers.parquet")
    norm = cust["email"].str.strip().str.lower()
    # Shopify needs one customer per email: keep customers with a unique, non-blank email
    cust = cust[norm.str.contains("@", na=False) & ~norm.duplicated(keep=False)].head(n)
    orders = pd.read_parquet(root / "orders.parquet")
    orders = orders[orders["customer_id"].isin(cust["customer_id"])]
    items = pd.read_parquet(root / "order_items.parquet")
    items = items[items["order_id"].isin(orders["order_id"])]
    products = pd.read_parquet(root / "products.parquet")
    return {"customers": cust, "orders": orders, "order_items": items,
            "products": products[products["product_id"].isin(items["product_id"])]}


def test_round_trip_through_the_export_writer(tmp_path):
    """Writer -> importer reproduces what the export can carry. It cannot carry refund ids (they
    come back as '<order>-refund'), sub-second times, list prices, signup times, birth year, gender,
    acquisition channel or ad consent (see tests/platform_exports/shopify.py)."""
    src = _sample_slice()
    files = shopify_export.write(src, tmp_path / "export", timezone="Asia/Kolkata")
    _import(files, tmp_path / "out")
    got = _read(tmp_path / "out")
    assert main_validates(tmp_path / "out")
    src_orders = src["orders"].copy()
    parents = shopify_export.refund_parents(src_orders)
    src_orders["order_id"] = [f"{parents[o]}-refund" if r < 0 else o
                              for o, r in zip(src_orders["order_id"], src_orders["revenue"], strict=True)]
    src_orders["order_ts"] = src_orders["order_ts"].dt.floor("s")
    cols = ["order_id", "customer_id", "order_ts", "channel", "revenue", "discount", "promo_code"]
    want = src_orders[cols].sort_values("order_id").reset_index(drop=True)
    have = got["orders"][cols].sort_values("order_id").reset_index(drop=True)
    have["order_ts"] = have["order_ts"].astype(want["order_ts"].dtype)
    want["discount"] = want["discount"].where(want["revenue"] >= 0, 0.0)
    pd.testing.assert_frame_equal(have, want, check_dtype=False)
    items = src["order_items"].sort_values(["order_id", "product_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got["order_items"], items, check_dtype=False)
    prods = got["products"].set_index("product_id").join(src["products"].set_index("product_id"), rsuffix="_src")
    assert (prods["name"] == prods["name_src"]).all() and (prods["category"] == prods["category_src"]).all()
    cust = got["customers"].set_index("customer_id").loc[src["customers"]["customer_id"]]
    s = src["customers"].set_index("customer_id")
    assert (cust["email"] == s["email"].str.strip()).all()
    assert (cust["consent_email"] == s["consent_email"]).all() and (cust["country"] == s["country"]).all()
    assert (cust["first_name"].fillna("") == s["first_name"].fillna("").str.strip()).all()


def main_validates(folder: Path) -> bool:
    from playbook.cli import main
    return main(["validate-data", str(folder)]) == 0
