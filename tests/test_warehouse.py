"""Tests for playbook.data.warehouse: sources (Parquet, CSV, URL), table access rules and the engine-side
aggregates, checked against plain pandas on the tiny fixture data."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from playbook.data.aggregates import customer_order_summary, daily_sales
from playbook.data.contract import TABLES
from playbook.data.warehouse import connect
from playbook.errors import DataError
from tests.conftest import write_parquet_tables

# --------------------------------------------------------------------------------------------
# plain-pandas references (independent of the Ibis code)


def ref_daily_sales(t: dict[str, pd.DataFrame], by=(), start=None, end=None, fill=True) -> pd.DataFrame:
    o = t["orders"].copy()
    o["day"] = o["order_ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    if start is not None:
        o = o[o["day"] >= pd.Timestamp(start)]
    if end is not None:
        o = o[o["day"] <= pd.Timestamp(end)]
    by = list(by)
    if "country" in by:
        o = o.merge(t["customers"][["customer_id", "country"]], on="customer_id", how="left")
    if "category" in by:
        it = t["order_items"].merge(t["products"][["product_id", "category"]], on="product_id", how="left")
        it["value"] = it["quantity"] * it["unit_price"]
        tot = it.groupby("order_id")["value"].transform("sum")
        n = it.groupby("order_id")["value"].transform("size")
        it["share"] = (it["value"] / tot).where(tot > 0, 1.0 / n)
        alloc = it.groupby(["order_id", "category"], as_index=False, dropna=False)["share"].sum()
        o = o.merge(alloc, on="order_id", how="left")
        o["share"] = o["share"].fillna(1.0)
    else:
        o["share"] = 1.0
    for d in by:
        o[d] = o[d].fillna("unknown")
    o["money"] = o["revenue"] * o["share"]
    o["disc"] = o["discount"] * o["share"]
    keys = ["day", *by]
    rows = []
    for key, g in o.groupby(keys):
        s = g[g["revenue"] >= 0]
        rows.append(dict(zip(keys, key, strict=True)) | {
            "revenue": g["money"].sum(),
            "gross_revenue": s["money"].sum(),
            "refunds": -g.loc[g["revenue"] < 0, "money"].sum(),
            "orders": s["order_id"].nunique(),
            "customers": s["customer_id"].nunique(),
            "discount": g["disc"].sum(),
        })
    cols = [*keys, "revenue", "gross_revenue", "refunds", "orders", "customers", "discount"]
    df = pd.DataFrame(rows, columns=cols)
    if fill:
        first = pd.Timestamp(start) if start is not None else df["day"].min()
        last = pd.Timestamp(end) if end is not None else df["day"].max()
        grid = pd.DataFrame({"day": pd.date_range(first, last, freq="D").astype("datetime64[ns]")})
        if by:
            grid = grid.merge(df[by].drop_duplicates(), how="cross")
        df = grid.merge(df, on=keys, how="left").fillna(
            {"revenue": 0.0, "gross_revenue": 0.0, "refunds": 0.0, "orders": 0, "customers": 0, "discount": 0.0})
    df["orders"] = df["orders"].astype("int64")
    df["customers"] = df["customers"].astype("int64")
    for c in ("revenue", "gross_revenue", "refunds", "discount"):
        df[c] = df[c].astype("float64")
    for d in by:
        df[d] = df[d].astype(str)
    return df[cols].sort_values(keys, ignore_index=True)


def ref_customer_summary(t: dict[str, pd.DataFrame], cutoff, start=None) -> pd.DataFrame:
    cut = pd.Timestamp(cutoff, tz="UTC")
    o = t["orders"]
    o = o[o["order_ts"] < cut]
    if start is not None:
        o = o[o["order_ts"] >= pd.Timestamp(start, tz="UTC")]
    sales, refunds = o[o["revenue"] >= 0], o[o["revenue"] < 0]
    g = sales.groupby("customer_id").agg(
        first_order_ts=("order_ts", "min"), last_order_ts=("order_ts", "max"),
        frequency=("order_id", "size"), monetary_total=("revenue", "sum"))
    g["monetary_mean"] = g["monetary_total"] / g["frequency"]
    g["refunds_total"] = (-refunds.groupby("customer_id")["revenue"].sum()).reindex(g.index).fillna(0.0)
    g["recency_days"] = (cut - g["last_order_ts"]).dt.total_seconds() / 86400
    g["tenure_days"] = (cut - g["first_order_ts"]).dt.total_seconds() / 86400
    g = g.reset_index()
    g["frequency"] = g["frequency"].astype("int64")
    for c in ("first_order_ts", "last_order_ts"):
        g[c] = g[c].astype("datetime64[ns, UTC]")
    cols = ["customer_id", "first_order_ts", "last_order_ts", "frequency", "monetary_total",
            "monetary_mean", "refunds_total", "recency_days", "tenure_days"]
    return g[cols].sort_values("customer_id", ignore_index=True)


@pytest.fixture
def sales_tables(refund_tables):
    """Clean data + two refunds + one order of an unknown customer (country 'unknown')."""
    t = refund_tables
    extra = t["orders"].iloc[[0]].assign(order_id="O99", customer_id="C99",
                                         order_ts=pd.Timestamp("2024-03-03 05:00", tz="UTC"))
    t["orders"] = pd.concat([t["orders"], extra], ignore_index=True)
    t["order_items"] = pd.concat([t["order_items"], pd.DataFrame(
        {"order_id": ["O99"], "product_id": ["P3"], "quantity": [2], "unit_price": [40.0]})], ignore_index=True)
    return t


# --------------------------------------------------------------------------------------------
# aggregates vs pandas


@pytest.mark.parametrize(
    "by", [(), ("channel",), ("country",), ("category",), ("channel", "country")],
    ids=["total", "channel", "country", "category", "channel+country"],
)
def test_daily_sales_equals_pandas(sales_tables, write_tables, by):
    wh = connect(write_tables(sales_tables))
    got = daily_sales(wh, by=by)
    pd.testing.assert_frame_equal(got, ref_daily_sales(sales_tables, by=by))


def test_daily_sales_literal_numbers(sales_tables, write_tables):
    """Hand-computed values: day 1 has O01 (80) and O02 (80+15-5); day 4 has a refund of 80."""
    got = daily_sales(connect(write_tables(sales_tables)))
    d1 = got.set_index("day").loc[pd.Timestamp("2024-03-01")]
    assert (d1["revenue"], d1["orders"], d1["customers"], d1["discount"]) == (170.0, 2, 2, 5.0)
    d4 = got.set_index("day").loc[pd.Timestamp("2024-03-04")]
    assert (d4["gross_revenue"], d4["refunds"], d4["revenue"]) == (132.0, 80.0, 52.0)
    assert got["day"].dtype == "datetime64[ns]"


def test_daily_sales_category_allocation_conserves_revenue(sales_tables, write_tables):
    wh = connect(write_tables(sales_tables))
    total = daily_sales(wh)
    by_cat = daily_sales(wh, by=("category",))
    assert by_cat["revenue"].sum() == pytest.approx(total["revenue"].sum())
    # the refunds have no item lines: they stay unallocated
    assert by_cat.loc[by_cat["category"] == "unknown", "refunds"].sum() == pytest.approx(120.0)


def test_daily_sales_window_and_fill(sales_tables, write_tables):
    wh = connect(write_tables(sales_tables))
    got = daily_sales(wh, start="2024-02-28", end="2024-03-02")
    assert list(got["day"]) == list(pd.date_range("2024-02-28", "2024-03-02"))
    assert got["orders"].tolist() == [0, 0, 2, 3]
    pd.testing.assert_frame_equal(got, ref_daily_sales(sales_tables, start="2024-02-28", end="2024-03-02"))
    sparse = daily_sales(wh, fill_missing_days=False)
    # 2024-03-03 has only the orphan order; no day is missing in this data except none
    assert len(sparse) == len(sparse["day"].unique())
    pd.testing.assert_frame_equal(sparse, ref_daily_sales(sales_tables, fill=False))


def test_daily_sales_fills_gap_days(clean_tables, write_tables):
    wh = connect(write_tables(clean_tables))
    filled, sparse = daily_sales(wh), daily_sales(wh, fill_missing_days=False)
    assert pd.Timestamp("2024-03-03") in set(filled["day"]) - set(sparse["day"])
    assert filled.set_index("day").loc[pd.Timestamp("2024-03-03"), "revenue"] == 0.0


def test_daily_sales_unknown_dimension(clean_source):
    with pytest.raises(ValueError, match=r"Unknown daily_sales dimension.*Choose from \['channel'"):
        daily_sales(connect(clean_source), by=("region",))


@pytest.mark.parametrize(
    "cutoff,start", [("2024-03-06", None), ("2024-03-10", None), ("2024-03-10", "2024-03-02")],
    ids=["mid", "after-all", "window"],
)
def test_customer_order_summary_equals_pandas(sales_tables, write_tables, cutoff, start):
    wh = connect(write_tables(sales_tables))
    got = customer_order_summary(wh, cutoff, start=start)
    pd.testing.assert_frame_equal(got, ref_customer_summary(sales_tables, cutoff, start))


def test_customer_order_summary_literal(sales_tables, write_tables):
    got = customer_order_summary(connect(write_tables(sales_tables)), "2024-03-10").set_index("customer_id")
    c01 = got.loc["C01"]  # O01 80, O03 60, O14 120; refund R01 -80
    assert (c01["frequency"], c01["monetary_total"], c01["refunds_total"]) == (3, 260.0, 80.0)
    assert c01["recency_days"] == pytest.approx(3 + 2 / 24)
    assert "C11" not in got.index  # never bought


# --------------------------------------------------------------------------------------------
# sources and table access


def test_missing_folder_gives_clear_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=r"does not exist.*playbook generate-data --out"):
        connect(missing)


def test_available_and_row_count(clean_tables, write_tables):
    del clean_tables["spend"]
    wh = connect(write_tables(clean_tables))
    assert "spend" not in wh.available() and wh.has("orders") and not wh.has("spend")
    assert wh.row_count("orders") == len(clean_tables["orders"])
    assert wh.columns("products") == list(clean_tables["products"].columns)
    with pytest.raises(DataError, match="Table 'spend' is missing"):
        wh.raw("spend")
    spend = wh.table("spend")  # an absent optional table reads as empty, with the contract's columns
    assert spend.count().execute() == 0 and list(spend.columns) == list(TABLES["spend"].column_names)
    assert spend.schema()["spend"].is_floating() and spend.schema()["date"].is_date()
    del clean_tables["orders"]
    with pytest.raises(DataError, match="Table 'orders' is missing"):  # a required table
        connect(write_tables(clean_tables, "no_orders")).table("orders")
    with pytest.raises(DataError, match="Unknown table"):
        wh.table("sales")


def test_partitioned_parquet_folder(clean_tables, tmp_path):
    folder = tmp_path / "parts"
    (folder / "orders").mkdir(parents=True)
    o = clean_tables["orders"]
    o.iloc[:7].to_parquet(folder / "orders" / "part-0.parquet")
    o.iloc[7:].to_parquet(folder / "orders" / "part-1.parquet")
    wh = connect(folder)
    assert wh.available() == ["orders"] and wh.row_count("orders") == len(o)


def test_missing_required_column_lists_missing_and_present(clean_tables, write_tables):
    clean_tables["orders"] = clean_tables["orders"].drop(columns=["order_ts", "revenue"])
    wh = connect(write_tables(clean_tables))
    with pytest.raises(DataError, match=r"missing required column\(s\) \['order_ts', 'revenue'\].*present"):
        wh.table("orders")


def test_optional_columns_added_as_typed_nulls(clean_tables, write_tables):
    clean_tables["customers"] = clean_tables["customers"].drop(columns=["birth_year", "gender"])
    wh = connect(write_tables(clean_tables))
    c = wh.table("customers")
    assert c.schema()["birth_year"].is_integer() and c.schema()["gender"].is_string()
    m = wh.table("messages")  # bounced_ts is optional and absent in the fixture
    assert m.schema()["bounced_ts"].is_timestamp()
    assert int(c.birth_year.count().execute()) == 0


def test_naive_timestamps_rejected_without_timezone(clean_tables, write_tables):
    clean_tables["orders"]["order_ts"] = clean_tables["orders"]["order_ts"].dt.tz_localize(None)
    wh = connect(write_tables(clean_tables))
    with pytest.raises(DataError, match=r"without a time zone.*\['order_ts'\].*data.timezone"):
        wh.table("orders")


def test_naive_timestamps_accepted_with_timezone(clean_tables, write_tables):
    clean_tables["orders"]["order_ts"] = clean_tables["orders"]["order_ts"].dt.tz_localize(None)
    wh = connect(write_tables(clean_tables), timezone="Europe/Berlin")
    o = wh.table("orders")
    assert o.schema()["order_ts"].timezone == "UTC"
    got = o.order_by("order_id").execute()["order_ts"].iloc[0]
    # 2024-03-01 09:00 in Berlin (CET, UTC+1) is 08:00 UTC
    assert got == pd.Timestamp("2024-03-01 08:00", tz="UTC")
    assert daily_sales(wh)["revenue"].sum() == pytest.approx(clean_tables["orders"]["revenue"].sum())


def _write_csv(tables: dict[str, pd.DataFrame], folder: Path, sep: str = ",", encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", sep=sep, index=False, encoding=encoding)
    return folder


def test_csv_with_bom_and_semicolon(clean_tables, tmp_path):
    from playbook.data.validate import validate

    for df in clean_tables.values():  # IDs stay strings: "007" keeps its zeros
        if "customer_id" in df:
            df["customer_id"] = df["customer_id"].replace("C01", "007")
    folder = _write_csv(clean_tables, tmp_path / "csv", sep=";", encoding="utf-8-sig")
    assert (folder / "orders.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    wh = connect(folder)
    assert wh.available() == list(clean_tables)
    assert wh.columns("orders")[0] == "order_id"  # BOM not glued to the first column name
    report = validate(wh, now="2025-01-01")
    assert report.findings == [], report.format()
    assert "007" in set(wh.table("customers").customer_id.execute())
    pq = connect(_write_parquet(clean_tables, tmp_path / "pq"))
    pd.testing.assert_frame_equal(daily_sales(wh, by=("category",)), daily_sales(pq, by=("category",)))


def _write_parquet(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    return write_parquet_tables(tables, folder)


def test_csv_semicolon_with_decimal_comma(clean_tables, tmp_path):
    tables = {k: clean_tables[k] for k in ("products", "orders", "order_items")}
    tables["products"].loc[0, "price"] = 79.5
    folder = tmp_path / "eu"
    folder.mkdir()
    for name, df in tables.items():  # European style: "79,5" with ";" between fields
        df.to_csv(folder / f"{name}.csv", sep=";", decimal=",", index=False)
    assert "79,5" in (folder / "products.csv").read_text()
    wh = connect(folder)
    assert wh.raw("orders").schema()["revenue"].is_floating()
    got = wh.table("products").order_by("product_id").price.execute().tolist()
    assert got == tables["products"]["price"].tolist()
    assert daily_sales(wh)["revenue"].sum() == pytest.approx(tables["orders"]["revenue"].sum())


def test_non_utf8_csv_clear_error_then_encoding_works(clean_tables, tmp_path):
    clean_tables["customers"].loc[0, "first_name"] = "José"
    folder = _write_csv({"customers": clean_tables["customers"]}, tmp_path / "latin", encoding="latin-1")
    with pytest.raises(DataError, match=r"customers\.csv is not valid utf-8.*encoding.*latin-1"):
        connect(folder)
    wh = connect(folder, encoding="latin-1")
    names = wh.table("customers").order_by("customer_id").first_name.execute()
    assert names.iloc[0] == "José"


def test_wrong_encoding_given_is_clear(tmp_path):
    folder = tmp_path / "u16"
    folder.mkdir()
    (folder / "products.csv").write_bytes(b"product_id,name,category,price\nP1,x,y,1\n" + b"\xff\xfe")
    with pytest.raises(DataError, match=r"products\.csv is not valid ascii"):
        connect(folder, encoding="ascii")


def test_ibis_url_source(clean_tables, tmp_path):
    db = tmp_path / "shop.ddb"
    con = ibis.duckdb.connect(str(db))
    for name, df in clean_tables.items():
        con.create_table(name, df)
    con.disconnect()
    wh = connect(f"duckdb://{db}")
    assert wh.available() == list(clean_tables)
    ref = daily_sales(connect(_write_parquet(clean_tables, tmp_path / "pq")))
    pd.testing.assert_frame_equal(daily_sales(wh), ref)


def test_empty_orders_give_empty_or_zero_aggregates(clean_tables, write_tables):
    clean_tables["orders"] = clean_tables["orders"].iloc[:0]
    clean_tables["order_items"] = clean_tables["order_items"].iloc[:0]
    wh = connect(write_tables(clean_tables))
    empty = daily_sales(wh, by=("channel",))
    assert empty.empty and list(empty.columns) == ["day", "channel", "revenue", "gross_revenue", "refunds",
                                                   "orders", "customers", "discount"]
    zeros = daily_sales(wh, start="2024-03-01", end="2024-03-03")
    assert len(zeros) == 3 and zeros["revenue"].eq(0).all() and zeros["orders"].eq(0).all()
    summary = customer_order_summary(wh, "2024-04-01")
    assert summary.empty and "recency_days" in summary.columns
