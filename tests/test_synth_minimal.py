"""The orders-only export cut from a generated dataset (issue 14, item 8): columns, date-only
order dates inside the window, determinism, and every order's customer in the customer list."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from playbook.data.synth import write_minimal
from playbook.data.synth.minimal import _months_before
from tests.sample_data import read, small_sample

#: months kept -> first day of the window ending 2025-12-31
WINDOWS = {10: "2025-03-01", 15: "2024-10-01"}
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module", params=sorted(WINDOWS))
def export(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict]:
    months = int(request.param)
    out = tmp_path_factory.mktemp(f"minimal{months}") / "shop"
    summary = write_minimal(small_sample(), out, months=months)
    return months, out, summary


def test_only_the_two_files_with_only_the_minimal_columns(export: tuple[int, Path, dict]) -> None:
    _, out, _ = export
    assert sorted(p.name for p in out.iterdir()) == ["customers.csv", "orders.csv"]
    assert _rows(out / "customers.csv")[0] == ["customer_id"]
    assert _rows(out / "orders.csv")[0] == ["order_id", "customer_id", "order_ts", "revenue"]


def test_order_dates_are_date_only_and_inside_the_window(export: tuple[int, Path, dict]) -> None:
    months, out, summary = export
    dates = [row[2] for row in _rows(out / "orders.csv")[1:]]
    assert dates, "no order kept"
    assert all(DATE_ONLY.fullmatch(d) for d in dates), [d for d in dates if not DATE_ONLY.fullmatch(d)][:3]
    assert summary["window_start"] == WINDOWS[months] and summary["window_end"] == "2025-12-31"
    assert min(dates) >= WINDOWS[months] and max(dates) <= "2025-12-31"
    # The sample has orders every day, so the kept span reaches both ends of the window.
    assert (summary["first_order_date"], summary["last_order_date"]) == (WINDOWS[months], "2025-12-31")
    assert summary["orders"] == len(dates)


def test_orders_are_exactly_the_source_rows_of_the_window(export: tuple[int, Path, dict]) -> None:
    months, out, summary = export
    src = read(small_sample(), "orders")
    day = src["order_ts"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    expected = src[(day >= WINDOWS[months]) & (day <= "2025-12-31")]
    got = pd.read_csv(out / "orders.csv", dtype={"order_id": str, "customer_id": str, "order_ts": str})
    assert sorted(got["order_id"]) == sorted(expected["order_id"])
    merged = got.merge(expected[["order_id", "customer_id", "revenue"]], on="order_id", suffixes=("", "_src"))
    assert (merged["customer_id"] == merged["customer_id_src"]).all()
    assert (merged["revenue"] == merged["revenue_src"]).all()  # CSV keeps the doubles exactly
    assert summary["refunds"] == int((expected["revenue"] < 0).sum()) > 0


def test_customers_cover_every_order_and_include_some_without_orders(export: tuple[int, Path, dict]) -> None:
    _, out, summary = export
    customers = [row[0] for row in _rows(out / "customers.csv")[1:]]
    buyers = {row[1] for row in _rows(out / "orders.csv")[1:]}
    assert len(customers) == len(set(customers)) == summary["customers"]
    assert buyers <= set(customers)
    without = set(customers) - buyers
    assert len(without) == summary["customers_without_orders"] > 0
    assert customers == sorted(customers)


def test_same_input_gives_byte_identical_files(export: tuple[int, Path, dict], tmp_path: Path) -> None:
    months, out, summary = export
    again = write_minimal(small_sample(), tmp_path / "again", months=months)
    assert again == summary
    for name in ("customers.csv", "orders.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


def test_rewriting_replaces_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    out.mkdir()
    (out / "stale.csv").write_text("x\n")
    write_minimal(small_sample(), out, months=1)
    assert sorted(p.name for p in out.iterdir()) == ["customers.csv", "orders.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["shop"]  # no staged folder left beside it


def test_window_arithmetic_and_bad_arguments(tmp_path: Path) -> None:
    assert _months_before(dt.date(2026, 1, 1), 10) == dt.date(2025, 3, 1)
    assert _months_before(dt.date(2025, 3, 31), 1) == dt.date(2025, 2, 28)  # clamped to the month end
    assert _months_before(dt.date(2026, 1, 1), 15) == dt.date(2024, 10, 1)
    with pytest.raises(ValueError, match="months must be at least 1"):
        write_minimal(small_sample(), tmp_path / "x", months=0)
    with pytest.raises(FileNotFoundError, match="no orders.parquet"):
        write_minimal(tmp_path, tmp_path / "y", months=3)
    assert not (tmp_path / "x").exists()
