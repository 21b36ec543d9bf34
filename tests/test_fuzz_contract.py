"""Property-based fuzzing of the data contract and its validation (issue 19, item 17).

Random small datasets start from the hand-written clean tables of ``tests/conftest.py`` and are
broken the ways real exports are: a table or column missing, extra columns, wrong dtypes (numbers
as text, ids as numbers, timestamps as text or without a time zone), nulls, negative money and
quantities, NaN and infinity, duplicate ids, header-only tables, timestamps in the future, unicode
ids; written as Parquet or as CSV. The property: :func:`playbook.data.validate.validate_source`
returns a report (every finding names its table, and its column where it has one, with a
message) or raises one :class:`playbook.errors.DataError`; never another exception; a report
without errors means every table can be read as the contract says; and nothing is written
anywhere, not even into the data folder. Each example also plants one problem whose finding must
appear ("oracle"), so the property cannot pass by ignoring the data.

Hypothesis settings: ``derandomize=True`` (reproducible in CI), no deadline, 20 and 15 examples
(each validation runs some fifty engine queries, about a second of CPU; the suite's budget is a minute)
(https://hypothesis.readthedocs.io/en/latest/reference/api.html#hypothesis.settings).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.data import money
from playbook.data.contract import TABLES, get_table
from playbook.data.findings import SEVERITIES, ValidationReport
from playbook.data.validate import validate_source
from playbook.data.warehouse import connect
from playbook.errors import DataError
from playbook.paths import resolve
from tests.conftest import make_clean_tables

FUZZ = settings(max_examples=20, deadline=None, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: The validation's reference instant: the clean data lies in early 2024.
NOW = "2025-01-01"
WEIRD_TEXT = ["", " ", "é🎄中文", "\u202e", "a,b;c", 'quote"d', "x" * 500, "NULL", "nan", "-1"]
Tables = dict[str, pd.DataFrame]


# -- breaking a dataset ---------------------------------------------------------------------------


def _rows(draw: st.DrawFn, df: pd.DataFrame) -> list[int]:
    return draw(st.lists(st.integers(0, len(df) - 1), min_size=1, max_size=3, unique=True)) if len(df) else []


def _to_object(df: pd.DataFrame, col: str) -> None:
    df[col] = df[col].astype(object)


@st.composite
def noise(draw: st.DrawFn, tables: Tables, name: str) -> None:
    """Break table ``name`` one random way (in place); the table may disappear."""
    df = tables[name]
    col = draw(st.sampled_from(list(df.columns)))
    kind = draw(st.sampled_from(["drop_table", "drop_column", "extra_column", "as_text", "as_number",
                                 "nulls", "negative", "non_finite", "duplicate", "empty", "future",
                                 "weird_text", "naive", "huge"]))
    rows = _rows(draw, df)
    if kind == "drop_table" and not get_table(name).required:
        del tables[name]
    elif kind == "drop_column":
        tables[name] = df.drop(columns=[col])
    elif kind == "extra_column":
        df[draw(st.sampled_from(["extra", "Customer ID", "é", "customer_id "]))] = draw(st.sampled_from(WEIRD_TEXT))
    elif kind == "as_text":
        df[col] = df[col].astype(str)
    elif kind == "as_number":
        df[col] = np.arange(len(df), dtype=draw(st.sampled_from(["int64", "float64"])))
    elif kind == "nulls" and rows:
        _to_object(df, col) if df[col].dtype == bool else None
        df.loc[rows, col] = None
    elif kind in ("negative", "non_finite", "huge") and rows and pd.api.types.is_numeric_dtype(df[col]) \
            and df[col].dtype != bool:
        value = {"negative": -draw(st.floats(0.01, 1e6)),
                 "non_finite": draw(st.sampled_from([math.nan, math.inf, -math.inf])),
                 "huge": draw(st.sampled_from([1e300, 2.0**63, 1e15]))}[kind]
        df[col] = df[col].astype(float)
        df.loc[rows, col] = value
    elif kind == "duplicate" and len(df):
        tables[name] = pd.concat([df, df.iloc[rows]], ignore_index=True)
    elif kind == "empty":
        tables[name] = df.head(0)
    elif kind == "future" and rows and isinstance(df[col].dtype, pd.DatetimeTZDtype):
        df.loc[rows, col] = pd.Timestamp("2099-01-01", tz="UTC")
    elif kind == "weird_text" and rows and df[col].dtype == object:
        df.loc[rows, col] = draw(st.sampled_from(WEIRD_TEXT))
    elif kind == "naive" and isinstance(df[col].dtype, pd.DatetimeTZDtype):
        df[col] = df[col].dt.tz_localize(None)


#: One planted problem with the finding it must produce: (table, column, kind, check, severity).
ORACLES: list[tuple[str, str, str, str, str]] = [
    ("orders", "order_id", "duplicate", "duplicate_key", "error"),
    ("customers", "customer_id", "duplicate", "duplicate_key", "error"),
    ("orders", "revenue", "non_finite", "non_finite", "error"),
    ("order_items", "quantity", "negative", "below_min", "error"),
    ("spend", "spend", "negative", "below_min", "error"),
    ("products", "price", "non_finite", "non_finite", "error"),
    ("orders", "order_ts", "drop_column", "missing_column", "error"),
    ("events", "event_type", "invalid", "invalid_value", "error"),
    ("orders", "customer_id", "nulls", "null_values", "error"),
    ("touches", "touch_ts", "future", "future_timestamp", "warning"),
    ("orders", "revenue", "as_text", "wrong_dtype", "error"),
    ("customers", "signup_ts", "naive", "naive_timestamp", "error"),
    ("orders", None, "empty", "empty_table", "error"),
    ("customers", None, "drop_table", "missing_table", "error"),
]


def plant(tables: Tables, oracle: tuple[str, str | None, str, str, str], row: int) -> None:
    """Plant the oracle's problem in row ``row`` of its table (in place)."""
    name, col, kind, _, _ = oracle
    df = tables[name]
    row = row % len(df)
    if kind == "duplicate":
        tables[name] = pd.concat([df, df.iloc[[row]]], ignore_index=True)
    elif kind == "non_finite":  # not NaN: pandas writes NaN to Parquet as null (a null_values finding)
        df.loc[row, col] = -math.inf if row % 2 else math.inf
    elif kind == "negative":
        df[col] = df[col].astype(float) if col == "spend" else df[col]
        df.loc[row, col] = -1
    elif kind == "drop_column":
        tables[name] = df.drop(columns=[col])
    elif kind == "invalid":
        df.loc[row, col] = "teleport"
    elif kind == "nulls":
        df.loc[row, col] = None
    elif kind == "future":
        df.loc[row, col] = pd.Timestamp("2099-01-01", tz="UTC")
    elif kind == "as_text":
        df[col] = df[col].map(lambda v: f"{v:.2f} USD")
    elif kind == "naive":
        df[col] = df[col].dt.tz_localize(None)
    elif kind == "empty":
        tables[name] = df.head(0)
    elif kind == "drop_table":
        del tables[name]


@st.composite
def datasets(draw: st.DrawFn) -> tuple[Tables, tuple[str, str | None, str, str, str], str]:
    """Clean tables with one oracle problem and up to three random breaks of *other* tables."""
    tables = make_clean_tables()
    oracle = draw(st.sampled_from(ORACLES))
    plant(tables, oracle, draw(st.integers(0, 30)))
    others = [n for n in tables if n != oracle[0] and not get_table(n).required]
    for name in draw(st.lists(st.sampled_from(others), max_size=3)) if others else []:
        if name in tables:
            draw(noise(tables, name))
    return tables, oracle, draw(st.sampled_from(["parquet", "csv"]))


@st.composite
def wild_datasets(draw: st.DrawFn) -> tuple[Tables, str]:
    """Clean tables broken anywhere, the required tables included (no oracle)."""
    tables = make_clean_tables()
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(tables)))
        draw(noise(tables, name))
    return tables, draw(st.sampled_from(["parquet", "csv"]))


# -- the property ---------------------------------------------------------------------------------


def write(tables: Tables, folder: Path, fmt: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            mixed = [c for c in df.columns if df[c].dtype == object
                     and df[c].map(lambda v: type(v).__name__ if v is not None else "None").nunique() > 2]
            out = df.astype({c: str for c in mixed})
            out.to_parquet(folder / f"{name}.parquet", index=False)


def _tree(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime) for p in sorted(folder.rglob("*"))}


def check(folder: Path, project: Path) -> ValidationReport | None:
    """Validate ``folder`` and check the property; the report, or None after a DataError
    (``project``: the stand-in project root, which must not change either)."""
    parent_before, data_before, project_before = _tree(folder.parent), _tree(folder), _tree(project)
    try:
        report = validate_source(folder, now=NOW)
    except DataError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
        report = None
    else:
        for f in report.findings:
            assert f.table in TABLES and f.severity in SEVERITIES and f.message.strip(), f
            assert f.count > 0
            assert f.column is None or f.table in f.message or f.column in f.message, f
        assert report.format().strip()
        if report.ok:
            wh = connect(folder)
            for name in TABLES:  # a dataset without errors reads as the contract says
                wh.table(name).limit(3).execute()
    assert _tree(folder) == data_before, "validation wrote into the data folder"
    assert _tree(folder.parent) == parent_before, "validation wrote next to the data folder"
    assert _tree(project) == project_before, "validation wrote into the project"
    return report


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A stand-in project root (``PLAYBOOK_ROOT``) with data/ and reports/: whatever validation
    resolves against the project points here, where no other test writes."""
    root = tmp_path_factory.mktemp("project")
    for name in ("data", "reports"):
        (root / name).mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYBOOK_ROOT", str(root))
        assert resolve("data") == root / "data"
        yield root


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Path:
    return tmp_path_factory.mktemp("fuzz_contract")


@FUZZ
@given(case=datasets())
def test_fault_17_fuzz_planted_problem_is_found_and_nothing_else_breaks(case, fuzz_dir, project):
    tables, (table, column, _, expected, severity), fmt = case
    with tempfile.TemporaryDirectory(dir=fuzz_dir) as d:
        folder = Path(d) / "data"
        write(tables, folder, fmt)
        report = check(folder, project)
    assert report is not None
    if fmt == "csv" and expected == "non_finite" and report.count("wrong_dtype", table):
        # an 'inf' among a CSV's first rows types the column as text: the message names the value
        (found,) = [f for f in report.findings if f.table == table and f.check == "wrong_dtype"]
        assert found.column == column and "'inf'" in found.message or "'-inf'" in found.message, found.message
        return
    found = [f for f in report.findings if f.table == table and f.check == expected]
    assert found, f"planted {expected} in {table}.{column} not reported: {report.format()}"
    assert found[0].severity == severity
    if column is not None and expected != "missing_column":
        assert found[0].column == column


@settings(FUZZ, max_examples=15)
@given(case=wild_datasets())
def test_fault_17_fuzz_any_broken_dataset_gives_a_report_or_one_clear_error(case, fuzz_dir, project):
    tables, fmt = case
    with tempfile.TemporaryDirectory(dir=fuzz_dir) as d:
        folder = Path(d) / "data"
        write(tables, folder, fmt)
        check(folder, project)


def test_fault_17_clean_data_passes_and_every_money_column_is_checked(tmp_path, project):
    write(make_clean_tables(), tmp_path / "data", "parquet")
    report = check(tmp_path / "data", project)
    assert report is not None and report.ok, report.format()
    assert set(money.MONEY_COLUMNS) <= set(TABLES)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_fault_17_header_only_tables_everywhere(tmp_path, fmt, project):
    tables = {n: df.head(0) for n, df in make_clean_tables().items()}
    write(tables, tmp_path / "data", fmt)
    report = check(tmp_path / "data", project)
    assert report is not None
    assert {(f.table, f.check, f.severity) for f in report.errors} >= {
        ("customers", "empty_table", "error"), ("orders", "empty_table", "error")}


def test_fault_17_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        validate_source(tmp_path / "nowhere", now=NOW)


def test_fault_17_inf_in_a_csv_number_column_names_the_value(tmp_path, project):
    # found by the fuzzing: 'inf' in the first rows of a CSV types revenue as text, and the
    # wrong_dtype message named only the type, not the value to fix
    tables = make_clean_tables()
    tables["orders"] = tables["orders"].astype({"revenue": object})
    tables["orders"].loc[0, "revenue"] = "inf"
    tables["orders"].loc[1, "revenue"] = "12.00 USD"
    write(tables, tmp_path / "data", "csv")
    report = check(tmp_path / "data", project)
    assert report is not None
    (f,) = [f for f in report.errors if f.check == "wrong_dtype"]
    assert (f.table, f.column) == ("orders", "revenue")
    assert "Values that are not plain numbers: '12.00 USD', 'inf' (NaN and infinity are not amounts" in f.message


@settings(FUZZ, max_examples=200)
@given(table=st.text(max_size=20) | st.sampled_from(sorted(TABLES)), column=st.text(max_size=20))
def test_fault_17_fuzz_contract_lookups_give_one_clear_error(table, column):
    try:
        spec = get_table(table)
    except DataError as exc:
        assert repr(table) in str(exc) and "customers" in str(exc)  # names the table and lists the real ones
        return
    try:
        assert spec.column(column).name == column
    except DataError as exc:
        assert repr(column) in str(exc) and spec.key[0] in str(exc)
