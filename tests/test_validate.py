"""Tests for playbook.data.validate: each check fires on data with that problem planted (with the planted
count) and is silent on clean data; problems are collected all at once; skipped checks are recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from playbook.data import synth
from playbook.data.source import DataSource
from playbook.data.validate import ValidationReport, validate, validate_source
from playbook.data.warehouse import connect
from playbook.errors import DataError
from tests.conftest import make_clean_tables, write_parquet_tables
from tests.sample_data import read, small_sample

NOW = "2025-01-01"

Tables = dict[str, pd.DataFrame]


def _drop_table(t: Tables) -> None:
    del t["orders"]  # a required table (an absent optional one is information: see below)


def _drop_column(t: Tables) -> None:
    t["orders"] = t["orders"].drop(columns=["revenue"])  # required (orders.channel is optional)


def _wrong_dtype(t: Tables) -> None:
    t["orders"]["revenue"] = t["orders"]["revenue"].astype(str)


def _duplicate_order(t: Tables) -> None:
    t["orders"] = pd.concat([t["orders"], t["orders"].iloc[[0, 0]]], ignore_index=True)


def _duplicate_item(t: Tables) -> None:
    t["order_items"] = pd.concat([t["order_items"], t["order_items"].iloc[[0]]], ignore_index=True)


def _orphan(t: Tables) -> None:
    t["orders"].loc[1, "customer_id"] = "C99"


def _orphan_product(t: Tables) -> None:
    t["events"].loc[[0, 1], "product_id"] = "P404"


def _naive(t: Tables) -> None:
    t["events"]["event_ts"] = t["events"]["event_ts"].dt.tz_localize(None)


def _null_channel(t: Tables) -> None:
    t["orders"].loc[3, "channel"] = None


def _bad_channel(t: Tables) -> None:
    t["orders"].loc[2, "channel"] = "fax"


def _negative_quantity(t: Tables) -> None:
    t["order_items"].loc[0, "quantity"] = -1


def _negative_spend(t: Tables) -> None:
    t["spend"].loc[[0, 2], "spend"] = -5.0


def _refund_with_items(t: Tables) -> None:
    t["orders"].loc[0, "revenue"] = -80.0


def _dup_email(t: Tables) -> None:
    t["customers"].loc[1, "email"] = " PERSON1@Example.COM "
    t["customers"].loc[2, "email"] = "person1@example.com"


def _dup_phone(t: Tables) -> None:
    t["customers"].loc[1, "phone"] = "+49-151-0000001"  # same as C01's "+49 151 0000001"
    t["customers"].loc[2, "phone"] = "0049 151 0000001"  # no leading '+': a different number


def _invalid_email(t: Tables) -> None:
    t["customers"].loc[3, "email"] = "no-at-sign.com"
    t["customers"].loc[4, "email"] = "a@b"
    t["customers"].loc[5, "email"] = "   "  # blank: missing, not invalid


def _missing_email(t: Tables) -> None:
    t["customers"].loc[4, "email"] = None
    t["customers"].loc[5, "email"] = "   "


def _missing_phone(t: Tables) -> None:
    t["customers"].loc[6, "phone"] = None


def _missing_first_name(t: Tables) -> None:
    t["customers"].loc[[6, 7], "first_name"] = ""


def _missing_birth_year(t: Tables) -> None:
    t["customers"].loc[8, "birth_year"] = pd.NA


def _missing_gender(t: Tables) -> None:
    t["customers"].loc[9, "gender"] = None
    t["customers"].loc[10, "gender"] = " "  # blank optional value: missing, not an invalid value


def _erased(t: Tables) -> None:
    t["customers"].loc[7, "erased_at"] = pd.Timestamp("2024-06-01", tz="UTC")


def _before_signup(t: Tables) -> None:
    t["events"].loc[0, "event_ts"] = pd.Timestamp("2023-12-31 10:00", tz="UTC")  # C01 signed up 2024-01-01


def _refunds(t: Tables) -> None:
    extra = t["orders"].iloc[[0, 1]].assign(order_id=["R1", "R2"], revenue=[-10.0, -20.0])
    t["orders"] = pd.concat([t["orders"], extra], ignore_index=True)


def _future(t: Tables) -> None:
    t["orders"].loc[13, "order_ts"] = pd.Timestamp("2030-01-01", tz="UTC")
    t["touches"].loc[0, "touch_ts"] = pd.Timestamp("2026-01-01", tz="UTC")


# (plant, check, table, expected count, severity)
CASES: list[tuple[Callable[[Tables], None], str, str, int, str]] = [
    (_drop_table, "missing_table", "orders", 1, "error"),
    (_drop_column, "missing_column", "orders", 1, "error"),
    (_wrong_dtype, "wrong_dtype", "orders", 1, "error"),
    (_duplicate_order, "duplicate_key", "orders", 2, "error"),
    (_duplicate_item, "duplicate_key", "order_items", 1, "error"),
    (_orphan, "orphan", "orders", 1, "error"),
    (_orphan_product, "orphan", "events", 2, "error"),
    (_naive, "naive_timestamp", "events", 15, "error"),
    (_null_channel, "null_values", "orders", 1, "error"),
    (_bad_channel, "invalid_value", "orders", 1, "error"),
    (_negative_quantity, "below_min", "order_items", 1, "error"),
    (_negative_spend, "below_min", "spend", 2, "error"),
    (_refund_with_items, "refund_with_items", "orders", 1, "error"),
    (_dup_email, "duplicate_email", "customers", 2, "warning"),
    (_dup_phone, "duplicate_phone", "customers", 1, "warning"),
    (_invalid_email, "invalid_email", "customers", 2, "warning"),
    (_missing_email, "missing_email", "customers", 2, "info"),
    (_missing_phone, "missing_phone", "customers", 1, "info"),
    (_missing_first_name, "missing_first_name", "customers", 2, "info"),
    (_missing_birth_year, "missing_birth_year", "customers", 1, "info"),
    (_missing_gender, "missing_gender", "customers", 2, "info"),
    (_erased, "erased", "customers", 1, "info"),
    (_before_signup, "events_before_signup", "events", 1, "warning"),
    (_refunds, "refunds", "orders", 2, "info"),
    (_future, "future_timestamp", "orders", 1, "warning"),
    (_future, "future_timestamp", "touches", 1, "warning"),
]
IDS = [f"{c[1]}-{c[2]}" for c in CASES]


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory) -> ValidationReport:
    from tests.conftest import make_clean_tables, write_parquet_tables

    folder = write_parquet_tables(make_clean_tables(), tmp_path_factory.mktemp("clean"))
    return validate(connect(folder), now=NOW)


def test_clean_data_has_no_findings(clean_report):
    assert clean_report.findings == [] and clean_report.skipped == []
    assert clean_report.ok
    assert "ERRORS (0)" in clean_report.format()


@pytest.mark.parametrize("plant,check,table,expected,severity", CASES, ids=IDS)
def test_check_fires_on_planted_problem(clean_tables, write_tables, clean_report,
                                        plant, check, table, expected, severity):
    assert clean_report.count(check, table) == 0  # silent on clean data
    plant(clean_tables)
    report = validate(connect(write_tables(clean_tables)), now=NOW)
    assert report.count(check, table) == expected, report.format()
    found = [f for f in report.findings if f.check == check and f.table == table]
    assert {f.severity for f in found} == {severity}
    assert report.ok == (severity != "error")
    assert all(f.message for f in found)


def test_examples_are_keys_not_pii(clean_tables, write_tables):
    _dup_email(clean_tables)
    _duplicate_order(clean_tables)
    report = validate(connect(write_tables(clean_tables)), now=NOW)
    (dup,) = [f for f in report.findings if f.check == "duplicate_email"]
    assert dup.examples == ("C01", "C02", "C03")
    (key,) = [f for f in report.findings if f.check == "duplicate_key"]
    assert key.examples == ("O01",)
    assert "example.com" not in report.format().lower()


def test_composite_key_examples(clean_tables, write_tables):
    _duplicate_item(clean_tables)
    (f,) = validate(connect(write_tables(clean_tables)), now=NOW).errors
    assert f.examples == ("O01/P1",) and f.column == "order_id/product_id"


def test_orphans_below_threshold_are_warnings(clean_tables, write_tables):
    _orphan(clean_tables)
    report = validate(connect(write_tables(clean_tables)), orphan_threshold=1, now=NOW)
    assert report.ok and report.count("orphan") == 1
    assert report.warnings[0].check == "orphan" and report.warnings[0].examples == ("C99",)


def test_naive_timestamps_accepted_with_timezone(clean_tables, write_tables):
    _naive(clean_tables)
    folder = write_tables(clean_tables)
    assert validate_source(folder, now=NOW).count("naive_timestamp") == 15
    report = validate_source(folder, timezone="America/New_York", now=NOW)
    assert report.findings == [], report.format()


def test_many_problems_reported_at_once(dirty_source):
    report = validate_source(dirty_source, now=NOW)
    checks = {(f.check, f.table) for f in report.errors}
    assert checks == {("duplicate_key", "orders"), ("orphan", "orders"),
                      ("invalid_value", "orders"), ("below_min", "order_items")}
    assert report.count("duplicate_email") == 1 and report.count("invalid_email") == 1
    assert [(f.check, f.table) for f in report.infos] == [("absent_table", "spend")]
    text = report.format()
    assert text.index("ERRORS (4)") < text.index("WARNINGS (2)") < text.index("INFO (1)")
    frame = report.to_frame()
    assert len(frame) == len(report.findings) == 7
    assert list(frame.columns) == ["severity", "table", "column", "check", "count", "examples", "message"]
    with pytest.raises(DataError, match=r"4 data error\(s\)(.|\n)*duplicate_key(.|\n)*below_min"):
        report.raise_for_errors()


def test_raise_for_errors_silent_without_errors(clean_tables, write_tables):
    """Warnings and infos alone do not raise (only errors do, see the test above)."""
    _refunds(clean_tables)
    _orphan(clean_tables)
    report = validate(connect(write_tables(clean_tables)), orphan_threshold=1, now=NOW)
    assert report.errors == []
    assert [f.check for f in report.warnings] == ["orphan"] and [f.check for f in report.infos] == ["refunds"]
    assert report.raise_for_errors() is None


def test_checks_that_cannot_run_are_skipped_with_reason(clean_tables, write_tables):
    del clean_tables["customers"]
    clean_tables["orders"] = clean_tables["orders"].drop(columns=["revenue"])
    report = validate(connect(write_tables(clean_tables)), now=NOW)
    assert report.count("missing_table", "customers") == 1
    assert report.count("missing_column", "orders") == 1
    skipped = {(s.table, s.check) for s in report.skipped}
    assert {("orders", "orphan"), ("events", "events_before_signup"), ("customers", "duplicate_email"),
            ("orders", "refund_with_items")} <= skipped
    assert all(s.reason for s in report.skipped)
    assert "SKIPPED CHECKS" in report.format()


def test_wrong_dtype_skips_value_checks_on_that_column(clean_tables, write_tables):
    _wrong_dtype(clean_tables)
    clean_tables["orders"].loc[0, "revenue"] = "-5"  # would be a refund with items if numeric
    report = validate(connect(write_tables(clean_tables)), now=NOW)
    assert [f.check for f in report.findings] == ["wrong_dtype"]


def test_soft_counts_match_synthetic_truth(tmp_path):
    """Every planted defect of the synthetic generator is counted exactly, and nothing is an error."""
    truth = synth.generate(n_customers=3000, seed=11, out_dir=tmp_path / "sample")
    report = validate_source(tmp_path / "sample")
    assert report.errors == [], report.format()
    assert truth["defects"], "the generator plants defects"
    got = {check: report.count(check) for check in truth["defects"]}
    assert got == truth["defects"]


def test_report_frame_can_hide_example_keys_behind_pseudonyms(tmp_path):
    """Reports show pseudonymous example ids; the CLI keeps raw keys so the source can be fixed."""
    from playbook.data.synth import generate
    from playbook.data.validate import validate_source
    from playbook.report.privacy import pseudonymize

    generate(n_customers=300, seed=5, out_dir=tmp_path / "s")
    report = validate_source(tmp_path / "s")
    raw = report.to_frame()
    pseudo = report.to_frame(pseudonymous=True)
    row = raw.index[raw["check"] == "refunds"][0]
    first_raw = raw.loc[row, "examples"].split(", ")[0]
    assert first_raw.startswith("R")
    assert pseudo.loc[row, "examples"].split(", ")[0] == pseudonymize(first_raw)
    assert first_raw not in " ".join(pseudo["examples"])


# --------------------------------------------------------------------------------------------
# plausible money (issue 14, item 4): non-finite amounts are errors, extreme amounts warnings


def _with_orders(t: Tables, ids: list[str], revenue: list[float]) -> None:
    """Append orders ``ids`` (copies of O01's row: no item lines) with the given revenue."""
    extra = pd.concat([t["orders"].iloc[[0]]] * len(ids), ignore_index=True).assign(order_id=ids, revenue=revenue)
    t["orders"] = pd.concat([t["orders"], extra], ignore_index=True)


def _write_nan_keeping_parquet(t: Tables, folder) -> None:
    """Overwrite orders.parquet keeping NaN as NaN (pandas' own writer turns NaN into null)."""
    table = pa.Table.from_pandas(t["orders"], preserve_index=False)
    revenue = pa.array(t["orders"]["revenue"].to_numpy(), from_pandas=False)
    pq.write_table(table.set_column(table.schema.get_field_index("revenue"), "revenue", revenue),
                   folder / "orders.parquet")


def test_non_finite_revenue_in_parquet_is_an_error_with_order_ids(clean_tables, write_tables):
    clean_tables["orders"].loc[[1, 4, 6], "revenue"] = [np.inf, np.nan, -np.inf]  # O02, O05, O07
    folder = write_tables(clean_tables)
    _write_nan_keeping_parquet(clean_tables, folder)
    report = validate(connect(folder), now=NOW)
    (f,) = report.errors
    assert (f.table, f.column, f.check, f.count) == ("orders", "revenue", "non_finite", 3)
    assert f.examples == ("O02", "O05", "O07")
    assert "orders.revenue" in f.message and "NaN, inf or -inf" in f.message and "export" in f.message
    # -inf is not also a refund, and non-finite values do not enter the extreme-value rule
    assert report.findings == [f], report.format()


def test_pandas_nan_arrives_as_null_not_as_non_finite(clean_tables, write_tables):
    """pandas writes NaN to Parquet as null: the contract's null check reports it, not non_finite."""
    clean_tables["orders"].loc[2, "revenue"] = np.nan
    report = validate(connect(write_tables(clean_tables)), now=NOW)
    assert report.count("non_finite") == 0
    assert report.count("null_values", "orders") == 1 and report.errors[0].examples == ("O03",)


def test_non_finite_money_in_csv(clean_tables, write_tables):
    """CSV texts inf, NaN and -Infinity are float values (errors); an empty cell is null (not non_finite)."""
    folder = write_tables(clean_tables)
    orders = clean_tables["orders"].astype({"revenue": object, "discount": object})
    # not in the first row: DuckDB's CSV sniffer then types the whole column as text (wrong_dtype)
    orders.loc[1, "revenue"], orders.loc[3, "revenue"], orders.loc[5, "revenue"] = "inf", "NaN", ""
    orders.loc[8, "discount"] = "-Infinity"
    spend = clean_tables["spend"].astype({"spend": object})
    spend.loc[3, "spend"] = "nan"
    for name, df in {"orders": orders, "spend": spend}.items():
        (folder / f"{name}.parquet").unlink()
        df.to_csv(folder / f"{name}.csv", index=False)
    report = validate(connect(folder), now=NOW)
    got = {(f.table, f.column): (f.count, f.examples) for f in report.findings if f.check == "non_finite"}
    assert got == {("orders", "revenue"): (2, ("O02", "O04")), ("orders", "discount"): (1, ("O09",)),
                   ("spend", "spend"): (1, ("2024-03-02/display/CMP1",))}
    assert {f.check for f in report.errors} == {"non_finite", "null_values"}  # "" -> null revenue (O06)
    assert report.count("below_min") == 0  # -Infinity discount: reported once, as non_finite


def _log_rule_limit(revenue: list[float]) -> float:
    """Independent reference of the extreme-revenue limit (numpy, defaults of playbook.data.money)."""
    x = np.array([r for r in revenue if r > 0])
    lx = np.log10(x)
    med = float(np.median(x))
    log_limit = 10 ** (np.median(lx) + 6 * 1.4826 * np.median(np.abs(lx - np.median(lx))))
    return float(min(1000 * med, max(100 * med, log_limit)))


def test_extreme_revenue_is_a_warning_naming_orders_and_limit(clean_tables, write_tables):
    _with_orders(clean_tables, ["X1", "X2", "X3", "X4"], [1e12] * 4)
    wh = connect(write_tables(clean_tables))
    report = validate(wh, now=NOW)
    assert report.ok and report.errors == []
    (f,) = report.warnings
    assert (f.table, f.column, f.check, f.count) == ("orders", "revenue", "extreme_value", 4)
    assert f.examples == ("X1", "X2", "X3", "X4")
    limit = _log_rule_limit(clean_tables["orders"]["revenue"].tolist())
    assert limit == 12_000.0  # 100x the median order of 120 (13 ordinary orders + 4 extreme; MAD small)
    assert wh.revenue_limit() == pytest.approx(limit)
    assert f.message.startswith("orders.revenue: 4 order(s) (or refunds of them) beyond 12,000 (100x the "
                                "median order of 120.00)")


def test_extreme_limit_is_clamped_between_100x_and_1000x_the_median(tmp_path):
    def threshold(revenue: list[float], name: str) -> float | None:
        t = make_clean_tables()
        t["orders"] = t["orders"].iloc[[0] * len(revenue)].assign(
            order_id=[f"O{i}" for i in range(len(revenue))], revenue=revenue)
        return connect(write_parquet_tables({"orders": t["orders"]}, tmp_path / name)).revenue_limit()

    assert threshold([50.0] * 9 + [60.0] * 2, "tight") == pytest.approx(5000.0)  # MAD 0: floor, 100x
    assert threshold([1.0, 10.0, 100.0, 1000.0, 10000.0], "wide") == pytest.approx(100_000.0)  # cap, 1000x
    assert threshold([-20.0, 0.0], "refunds_only") is None
    off = DataSource.parse(write_parquet_tables({"orders": make_clean_tables()["orders"]}, tmp_path / "off"))
    assert connect(replace(off, exclude_extreme_orders=False)).revenue_limit() is None  # nothing excluded


def test_an_extreme_refund_is_extreme_like_the_order_it_refunds(refund_tables, write_tables):
    # An order of 1e9 is left out of the analyses; its refund must leave with it, or the net
    # revenue would be -1e9. Ordinary refunds are never extreme.
    report = validate(connect(write_tables(refund_tables)), now=NOW)
    assert report.count("extreme_value") == 0 and report.count("refunds") == 2
    refund_tables["orders"].loc[refund_tables["orders"]["order_id"] == "R01", "revenue"] = -1e9
    report = validate(connect(write_tables(refund_tables, "huge")), now=NOW)
    (f,) = [f for f in report.findings if f.check == "extreme_value"]
    assert f.examples == ("R01",) and "or refunds of them" in f.message


def test_extreme_daily_spend_of_a_channel_is_a_warning(clean_tables, write_tables):
    clean_tables["spend"].loc[2, "spend"] = 11_000.01  # paid_search, 2024-03-02; its median day is 100
    clean_tables["spend"].loc[5, "spend"] = 4_000.0  # display's days are 50, 40, 4000: median 50, limit 5000
    report = validate(connect(write_tables(clean_tables)), now=NOW)
    (f,) = report.findings
    assert (f.table, f.check, f.severity, f.count) == ("spend", "extreme_value", "warning", 1)
    assert f.examples == ("2024-03-02/paid_search",)
    assert "paid_search: above 10,000 (100x the median day of 100.00)" in f.message
    assert "display" not in f.message


def test_small_sample_has_no_money_findings():
    """The bundled sample passes: no errors and no extreme amounts (the default limit is not too
    tight: its largest order is 23x the median, the limit about 107x)."""
    folder = small_sample()
    wh = connect(folder)
    report = validate(wh)
    assert report.errors == [], report.format()
    assert report.count("extreme_value") == 0 and report.count("non_finite") == 0
    revenue = read(folder, "orders")["revenue"]
    limit = wh.revenue_limit()
    assert limit == pytest.approx(_log_rule_limit(revenue.tolist()))
    assert 100 * revenue[revenue > 0].median() < limit and limit > 4 * revenue.max()
