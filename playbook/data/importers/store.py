"""Writing imported rows into a folder of canonical tables, merging idempotently.

Each canonical table an import produced is written as ``<out>/<table>.parquet`` (the folder is a
data source the playbook reads as it is: ``playbook validate-data <out>``). When the table is
already there, the new rows are merged with the old by the table's key (:mod:`playbook.data.contract`):
a row with the same key is replaced by the imported one, other rows are kept. Importing the
same files twice therefore leaves the folder byte-identical; importing next month's export adds
the new orders.

Columns: a table holds the contract columns that any import provided. A row from an export that
lacks one of them gets the column's default when it has one (``consent_email`` false,
``discount`` 0, ``channel`` unknown), else null. After every import, customers without a signup
time get their first order's time (the contract's rule for an absent ``signup_ts``), and customers
without a country the most common country of the others (said in the notes).

Every file is written to a temporary name and renamed, so an interrupted import never leaves a
half-written table; ``import_log.jsonl`` records each import (platform, files and their SHA-256,
rows per table, notes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from playbook.data.contract import CAMPAIGN_COUNTRY, FIRST_ORDER, TABLES, Column, get_table
from playbook.data.folder import SQL_TYPES
from playbook.data.importers.base import ImportSession, ImportSummary, lit, q
from playbook.errors import DataError

#: Name of the import log in the output folder (one JSON object per line).
LOG_NAME = "import_log.jsonl"


def _default_sql(col: Column) -> str:
    """SQL value of a column an export does not provide: its contract default, else NULL."""
    typ = SQL_TYPES[col.dtype]
    if col.default in (None, FIRST_ORDER, CAMPAIGN_COUNTRY):  # derived defaults: filled after the merge
        return f"CAST(NULL AS {typ})"
    if isinstance(col.default, bool):
        return f"CAST({'TRUE' if col.default else 'FALSE'} AS {typ})"
    if isinstance(col.default, (int, float)):
        return f"CAST({col.default} AS {typ})"
    return f"CAST({lit(str(col.default))} AS {typ})"


def _columns_of(session: ImportSession, relation: str) -> list[str]:
    return [r[0] for r in session.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _select(session: ImportSession, table: str, relation: str, columns: Sequence[str], priority: int) -> str:
    t = get_table(table)
    have = set(_columns_of(session, relation))
    parts = []
    for name in columns:
        col = t.column(name)
        parts.append(f"CAST({q(name)} AS {SQL_TYPES[col.dtype]}) AS {q(name)}" if name in have
                     else f"{_default_sql(col)} AS {q(name)}")
    return f"SELECT {', '.join(parts)}, {priority} AS _priority FROM {relation}"


def _check_columns(session: ImportSession, table: str, relation: str) -> None:
    unknown = [c for c in _columns_of(session, relation) if c not in get_table(table).column_names]
    if unknown:
        raise DataError(f"Importer bug: table {table!r} got columns {unknown} that are not in the contract.")


def merge_table(session: ImportSession, out: Path, table: str) -> int:
    """Merge the session's rows of ``table`` into ``out/<table>.parquet``; returns rows written."""
    t = get_table(table)
    target = out / f"{table}.parquet"
    if (out / f"{table}.csv").exists() or (out / table).is_dir():
        raise DataError(f"{out} already holds {table} as CSV or a folder of parts; the import writes "
                        f"{table}.parquet. Move the other copy away, or import into another folder.")
    relations = [(p, rel) for p, rel in session.parts.get(table, [])]
    for _, rel in relations:
        _check_columns(session, table, rel)
    existing = None
    if target.exists():
        existing = "existing_" + table
        session.con.execute(f"CREATE OR REPLACE TEMP VIEW {existing} AS SELECT * FROM read_parquet({lit(str(target))})")
    provided = {c for _, rel in relations for c in _columns_of(session, rel)}
    if existing:
        provided |= set(_columns_of(session, existing))
    columns = [c for c in t.column_names if c in provided]
    missing_key = [k for k in t.key if k not in columns]
    if missing_key:
        raise DataError(f"Importer bug: table {table!r} lacks its key column(s) {missing_key}.")
    selects = [_select(session, table, rel, columns, p) for p, rel in relations]
    if existing:
        selects.append(_select(session, table, existing, columns, -10**6))
    keys = ", ".join(q(k) for k in t.key)
    cols = ", ".join(q(c) for c in columns)
    sql = (f"SELECT {cols} FROM ({' UNION ALL '.join(selects)}) "
           f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _priority DESC) = 1 ORDER BY {keys}")
    return _write(session, sql, target)


def _write(session: ImportSession, sql: str, target: Path) -> int:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        session.con.execute(f"COPY ({sql}) TO {lit(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return session.count(f"SELECT COUNT(*) FROM read_parquet({lit(str(target))})")


def fill_customers(session: ImportSession, out: Path) -> None:
    """Fill what a customers table needs and an export may not give: ``signup_ts`` (first order,
    else the data's first order) and ``country`` (the most common country); notes say how many."""
    path, orders = out / "customers.parquet", out / "orders.parquet"
    if not path.exists():
        return
    cols = _columns_of(session, f"read_parquet({lit(str(path))})")
    fixes = {}
    if "signup_ts" in cols and orders.exists():
        n = session.count(f"SELECT COUNT(*) FROM read_parquet({lit(str(path))}) WHERE signup_ts IS NULL")
        if n:
            fixes["signup_ts"] = (
                f"COALESCE(c.signup_ts, (SELECT MIN(o.order_ts) FROM read_parquet({lit(str(orders))}) o WHERE o.customer_id = "
                f"c.customer_id), (SELECT MIN(order_ts) FROM read_parquet({lit(str(orders))})))")
            session.note(f"customers: {n:,} without a signup time get their first order's time.")
    if "country" in cols:
        n = session.count(f"SELECT COUNT(*) FROM read_parquet({lit(str(path))}) WHERE country IS NULL")
        top = session.con.execute(
            f"SELECT country FROM read_parquet({lit(str(path))}) WHERE country IS NOT NULL "
            "GROUP BY country ORDER BY COUNT(*) DESC, country LIMIT 1").fetchone()
        if n and top:
            fixes["country"] = f"COALESCE(c.country, {lit(top[0])})"
            session.note(f"customers: {n:,} without a country are counted in {top[0]}, the most common country.")
    if not fixes:
        return
    select = ", ".join(f"{fixes[c]} AS {q(c)}" if c in fixes else f"c.{q(c)}" for c in cols)
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE filled_customers AS SELECT {select} "
                        f"FROM read_parquet({lit(str(path))}) c ORDER BY c.customer_id")
    _write(session, "SELECT * FROM filled_customers", path)


def fill_products(session: ImportSession, out: Path) -> None:
    """Products that web events name but no import described (viewed, never ordered; or events
    imported before the orders) get a placeholder row: name = id, category ``unknown``, price 0,
    so ``events.product_id`` references a product; a later orders import replaces them."""
    events, products = out / "events.parquet", out / "products.parquet"
    if not events.exists() or "product_id" not in _columns_of(session, f"read_parquet({lit(str(events))})"):
        return
    have = (f"SELECT product_id FROM read_parquet({lit(str(products))})" if products.exists()
            else "SELECT NULL::VARCHAR AS product_id WHERE FALSE")
    missing = (f"SELECT DISTINCT product_id FROM read_parquet({lit(str(events))}) WHERE product_id IS NOT NULL "
               f"AND product_id NOT IN ({have})")
    n = session.count(f"SELECT COUNT(*) FROM ({missing})")
    if not n:
        return
    placeholder = (f"SELECT product_id, product_id AS name, 'unknown' AS category, 0.0::DOUBLE AS price "
                   f"FROM ({missing})")
    if products.exists():
        cols = _columns_of(session, f"read_parquet({lit(str(products))})")
        placeholder = f"SELECT {', '.join(q(c) for c in cols)} FROM ({placeholder})"
        sql = f"SELECT * FROM read_parquet({lit(str(products))}) UNION ALL {placeholder} ORDER BY product_id"
    else:
        sql = f"{placeholder} ORDER BY product_id"
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE filled_products AS {sql}")
    _write(session, "SELECT * FROM filled_products", products)
    session.note(f"products: {n:,} product id(s) seen only in web events get a placeholder row (name = id, "
                 "category unknown, price 0) until an orders import describes them.")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_import(session: ImportSession, out: Path, platform: str, files: Sequence[Path]) -> ImportSummary:
    """Merge everything ``session`` produced into the folder ``out`` (created when absent).

    Tables are written in the contract's dependency order; returns what was written.
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = ImportSummary(platform, [str(f) for f in files])
    for table in TABLES:
        if table in session.parts:
            summary.rows[table] = merge_table(session, out, table)
    if "customers" in session.parts or "orders" in session.parts:
        fill_customers(session, out)
    if "events" in session.parts or "products" in session.parts:
        fill_products(session, out)
    summary.notes = list(session.notes)
    entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "platform": platform,
             "files": {str(f): _sha256(Path(f)) for f in files}, "rows": summary.rows, "notes": summary.notes}
    with (out / LOG_NAME).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
    return summary
