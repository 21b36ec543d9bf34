"""An orders-only export derived from a full synthetic dataset, shaped like a real shop's export.

Real shops often have nothing but a customer list and an order history with a customer id, a
date and an amount. :func:`write_minimal` cuts such a folder out of a dataset written by
:func:`playbook.data.synth.generate` (issue 14, item 8): two CSV files,

* ``customers.csv``: ``customer_id`` only. Every customer with at least one order row in the
  kept window, plus the customers who signed up inside the window and had not ordered by its
  last day (registered, never bought: a real customer list has them too).
* ``orders.csv``: ``order_id, customer_id, order_ts, revenue`` for the order rows whose date
  falls in the last ``months`` calendar months up to ``end`` (both days included). ``order_ts``
  is a date only (``YYYY-MM-DD``, the UTC date of the generated timestamp; the generator works
  in UTC). Refunds stay what the generator writes: separate ``R``-prefixed rows with negative
  revenue, kept when their own date is in the window.

Everything else (channel, discount, promo code, consent, signup and erasure dates, the other
seven tables, ``truth.json``) is left out on purpose. Rows are sorted by id (orders by date then
id), so the same source and arguments give byte-identical files.
"""

from __future__ import annotations

import calendar
import datetime as dt
import shutil
from pathlib import Path

import duckdb

from playbook.files import new_folder, swap_folder


def _months_before(day: dt.date, months: int) -> dt.date:
    """``day`` moved back by ``months`` calendar months (day of month clamped to the month's end)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _parquet(source: Path, table: str) -> str:
    """Parquet glob of ``table`` in a generated folder (``<table>.parquet`` or ``<table>/*.parquet``)."""
    single = source / f"{table}.parquet"
    if single.is_file():
        return single.as_posix()
    folder = source / table
    if folder.is_dir():
        return (folder / "*.parquet").as_posix()
    raise FileNotFoundError(f"{source} has no {table}.parquet: pass a folder written by `playbook generate-data`.")


def _quote(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _utc_date(column: str) -> str:
    """SQL for the UTC calendar date of the timestamp-with-time-zone ``column``."""
    return f"CAST(timezone('UTC', {column}) AS DATE)"


def write_minimal(source: Path, out: Path, *, months: int, end: str = "2025-12-31") -> dict[str, object]:
    """Write the orders-only export of a generated dataset to the folder ``out``.

    Parameters
    ----------
    source
        Folder written by :func:`playbook.data.synth.generate` (``customers`` and ``orders`` as
        Parquet; the other tables are ignored).
    out
        Folder to write ``customers.csv`` and ``orders.csv`` to. It is replaced as a whole
        (written beside it under a temporary name, then swapped in), so nothing else survives.
    months
        Calendar months of order history kept (at least 1): the window runs from the day after
        ``end`` minus ``months`` months to ``end``, e.g. 10 months to 2025-12-31 is
        2025-03-01 .. 2025-12-31.
    end
        Last day kept (``YYYY-MM-DD``, a UTC date).

    Returns
    -------
    dict
        ``window_start``, ``window_end`` (ISO dates), ``customers`` (rows of customers.csv),
        ``customers_without_orders`` (of them, no order row in the window), ``orders`` (rows of
        orders.csv), ``refunds`` (of them, revenue < 0), ``first_order_date`` and
        ``last_order_date`` (ISO dates actually present; ``None`` when no order is kept).

    Raises
    ------
    ValueError
        ``months`` below 1 or ``end`` not a ``YYYY-MM-DD`` date.
    FileNotFoundError
        ``source`` lacks the customers or orders table.
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    last_day = dt.date.fromisoformat(end)
    first_day = _months_before(last_day + dt.timedelta(days=1), months)
    orders_src = _parquet(source, "orders")
    customers_src = _parquet(source, "customers")
    start_sql, end_sql = _quote(first_day.isoformat()), _quote(last_day.isoformat())
    kept_orders = (
        f"SELECT o.order_id, o.customer_id, strftime({_utc_date('o.order_ts')}, '%Y-%m-%d') AS order_ts, "
        f"o.revenue FROM read_parquet({_quote(orders_src)}) AS o "
        f"WHERE {_utc_date('o.order_ts')} BETWEEN DATE {start_sql} AND DATE {end_sql}"
    )
    # Customers who signed up in the window and had no order row up to its last day.
    never_bought = (
        f"SELECT c.customer_id FROM read_parquet({_quote(customers_src)}) AS c "
        f"WHERE {_utc_date('c.signup_ts')} BETWEEN DATE {start_sql} AND DATE {end_sql} "
        f"AND NOT EXISTS (SELECT 1 FROM read_parquet({_quote(orders_src)}) AS o "
        f"WHERE o.customer_id = c.customer_id AND {_utc_date('o.order_ts')} <= DATE {end_sql})"
    )
    staged = new_folder(out.parent, f".{out.name}.")
    try:
        with duckdb.connect() as con:
            con.execute("SET threads = 1")  # one writer thread: row order and bytes never vary
            con.execute(f"CREATE TEMP TABLE kept AS {kept_orders}")
            con.execute(
                "CREATE TEMP TABLE buyers AS SELECT DISTINCT customer_id FROM kept WHERE customer_id IS NOT NULL"
            )
            con.execute(f"CREATE TEMP TABLE others AS {never_bought} EXCEPT SELECT customer_id FROM buyers")
            con.execute(
                "COPY (SELECT customer_id FROM buyers UNION ALL SELECT customer_id FROM others "
                f"ORDER BY customer_id) TO {_quote((staged / 'customers.csv').as_posix())} (HEADER, DELIMITER ',')"
            )
            con.execute(
                "COPY (SELECT * FROM kept ORDER BY order_ts, order_id) "
                f"TO {_quote((staged / 'orders.csv').as_posix())} (HEADER, DELIMITER ',')"
            )
            row = con.execute(
                "SELECT (SELECT count(*) FROM buyers), (SELECT count(*) FROM others), count(*), "
                "count(*) FILTER (WHERE revenue < 0), min(order_ts), max(order_ts) FROM kept"
            ).fetchone()
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    assert row is not None  # an aggregate query always returns one row
    buyers, others, n_orders, refunds, first, last = row
    swap_folder(staged, out)
    return {
        "window_start": first_day.isoformat(), "window_end": last_day.isoformat(),
        "customers": int(buyers) + int(others), "customers_without_orders": int(others),
        "orders": int(n_orders), "refunds": int(refunds),
        "first_order_date": first, "last_order_date": last,
    }
