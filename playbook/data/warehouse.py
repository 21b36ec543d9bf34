"""Where the raw tables live and how aggregates are pulled from them.

docs/architecture.md, "Conventions the code relies on" (data access): raw tables can be large, so
they are never loaded whole into pandas. Every scan is an Ibis expression executed by the backend;
only aggregates (one row per day, per customer, ...) come back as pandas DataFrames.

Sources (:func:`connect`, described by a :class:`playbook.data.source.DataSource`):

* a folder of Parquet files (``<table>.parquet`` or ``<table>/*.parquet``) or CSV files
  (``<table>.csv``), read through views in an embedded, in-memory DuckDB
  (:mod:`playbook.data.folder`);
* a DuckDB database file (``*.duckdb`` / ``*.ddb``);
* any Ibis connection URL (``duckdb:///path/file.ddb``, ``postgres://user@host/db`` ...);
* Apache Spark (``spark:///abs/folder?master=local[2]``, ``spark+s3a://bucket/sales``,
  ``spark+catalog://database``; see :mod:`playbook.data.engines`): the same Ibis aggregates run on
  Spark through Ibis's PySpark backend.

Timestamps: the contract wants timezone-aware UTC timestamps. Naive timestamps are rejected when
a table is accessed unless a ``timezone`` is given; then they are read as local times of that
zone and converted to UTC. A date without a time (``2025-03-01``, typical of exports that keep
only the order date) keeps its calendar day: it is read as midnight UTC whatever the zone (local
midnight east of UTC would be the previous UTC day and move every order back a day). The engine
sessions run in UTC.

Days (issue 16 item 5): a "day" is a calendar day in the campaign's time zone
(:attr:`Warehouse.day_zone`, the campaign's ``timezone``, set where a step opens the warehouse;
``"UTC"`` by default, which is the former behaviour exactly). Daily aggregates group by
:meth:`Warehouse.local_day` (DuckDB ``timezone(zone, ts)``, Spark ``from_utc_timestamp``; see
:func:`playbook.data.engines.local_time`), and a window of days runs from local midnight to local
midnight (:func:`local_midnight`; a daylight-saving day lasts 23 or 25 hours). The engine's time zone
database gives the offsets: https://duckdb.org/docs/stable/sql/data_types/timezones

The minimal data (issue 14): only ``customers`` and ``orders`` must exist
(:data:`playbook.data.contract.REQUIRED_TABLES`). :meth:`Warehouse.table` gives an absent
optional table as an empty table with the contract's columns, and an absent optional column with
its contract default (``Column.default``: null, a constant such as ``orders.channel =
"unknown"``, the customer's first order for ``signup_ts``, the campaign's first country for
``country``). :meth:`Warehouse.gaps` lists what was absent, with what each turns off, so a step
can say what it skipped and why.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as idt
import pandas as pd
import pyarrow as pa
import pyarrow.types as pat
from ibis.backends.duckdb.converter import DuckDBPandasData

from playbook.data import engines, money
from playbook.data.contract import (
    CAMPAIGN_COUNTRY,
    CONTRACT_HINT,
    FIRST_ORDER,
    TABLES,
    Column,
    get_table,
)
from playbook.data.days import Day, calendar_day, local_instant, local_midnight
from playbook.data.folder import open_folder
from playbook.data.source import DataSource
from playbook.errors import DataError

#: Schema dtype -> Ibis dtype (used for typed nulls of absent optional columns).
IBIS_TYPES: dict[str, idt.DataType] = {
    "string": idt.string,
    "float": idt.float64,
    "int": idt.int64,
    "bool": idt.boolean,
    "timestamp": idt.Timestamp(timezone="UTC"),
    "date": idt.date,
}

#: A day or instant as the aggregates accept it (dates and naive values are read as UTC).

@ibis.udf.scalar.builtin(name="timezone")
def _localize(zone: str, ts: idt.Timestamp()) -> idt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """SQL ``timezone(zone, naive_ts)``: read a naive timestamp as local time of ``zone``."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _localize_spark(ts: idt.Timestamp(), zone: str) -> idt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """Spark SQL ``to_utc_timestamp(naive_ts, zone)``: the same conversion as :func:`_localize`."""


def _to_utc_expr(con: Any, zone: str, col: ibis.Value) -> ibis.Value:
    """Backend-specific expression reading naive ``col`` as local time of ``zone``, in UTC."""
    if getattr(con, "name", None) == "pyspark":
        return _localize_spark(col, zone)
    return _localize(zone, col)


def dtype_matches(expected: str, actual: idt.DataType) -> bool:
    """Whether a backend column type satisfies a schema dtype.

    Lenient where nothing is lost: ``float`` accepts integers and decimals, ``int`` accepts floats
    (integers with nulls often arrive as floats), ``date`` accepts timestamps (midnight values),
    ``timestamp`` accepts naive timestamps (those are flagged separately) and dates (read as local
    midnight). An all-null column
    (null type) matches anything.
    """
    if actual.is_null():
        return True
    checks = {
        "string": actual.is_string(),
        "float": actual.is_floating() or actual.is_integer() or actual.is_decimal(),
        "int": actual.is_integer() or actual.is_floating() or actual.is_decimal(),
        "bool": actual.is_boolean(),
        "timestamp": actual.is_timestamp() or actual.is_date(),
        "date": actual.is_date() or actual.is_timestamp(),
    }
    return bool(checks[expected])


def is_naive_timestamp(actual: idt.DataType) -> bool:
    """Whether ``actual`` is a timestamp type without a time zone."""
    return actual.is_timestamp() and actual.timezone is None


def to_utc(value: dt.date | dt.datetime | str | pd.Timestamp) -> pd.Timestamp:
    """Return ``value`` as a tz-aware UTC timestamp (dates and naive values are read as UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def to_day(value: dt.date | dt.datetime | str | pd.Timestamp) -> pd.Timestamp:
    """Return the UTC calendar day of ``value`` as a naive midnight timestamp."""
    return to_utc(value).tz_localize(None).normalize()


def column_gap_note(col: Column) -> str:
    """``"turns off <what>; read as <default>"`` for an absent optional column."""
    note = col.default_note or "empty"
    return f"turns off {col.enables}; read as {note}" if col.enables else f"read as {note}"


def extreme(orders: ibis.Table, limit: float) -> ibis.BooleanValue:
    """Engine predicate: an order whose revenue is beyond ``limit`` either way (a refund of an
    extreme order is as extreme as the order, and leaves with it)."""
    return money.finite(orders.revenue) & (orders.revenue.abs() > limit)


def merge_line_items(orders: ibis.Table) -> ibis.Table:
    """One order per customer and ``order_ts`` from line-item rows (``data.merge_line_items``).

    Revenue and discount are summed; the order keeps the smallest ``order_id``, channel and promo
    code of its rows (alphabetically). Refund rows (negative revenue) are
    merged among themselves, never netted against the sale they refund, so refunds stay refunds.
    Only the contract's order columns are kept.
    """
    o = orders.mutate(_refund=orders.revenue < 0)
    g = o.group_by(["customer_id", "order_ts", "_refund"]).aggregate(
        order_id=o.order_id.min(), revenue=o.revenue.sum(), discount=o.discount.sum(),
        channel=o.channel.min(), promo_code=o.promo_code.min())
    return g.select(*get_table("orders").column_names)


class Warehouse:
    """A connected data source exposing the canonical tables as Ibis expressions.

    Parameters
    ----------
    con : ibis backend
        The connection that executes every query.
    source : DataSource
        The source it was opened from; its ``timezone`` is the zone in which naive timestamps
        are interpreted (``None`` rejects them); ``str(source)`` (credentials masked) is used in
        messages.
    tables : dict, optional
        ``{canonical name: backend table name}`` of the tables present; ``None`` means "probe the
        backend for each canonical table".
    """

    def __init__(
        self,
        con: Any,
        source: DataSource,
        tables: dict[str, str] | None = None,
        _keepalive: object = None,
    ) -> None:
        self.con = con
        self.source = source
        self._tables = tables if tables is not None else self._probe()
        self._keepalive = _keepalive  # e.g. a TemporaryDirectory holding transcoded CSV files
        self._instants: dict[str, list[str]] = {}  # per table: naive-typed columns holding UTC instants
        self._empty: dict[str, ibis.Table] = {}  # absent optional tables, as empty typed tables
        self._first_order: pd.Timestamp | None = None  # the data's first order (signup default)
        self._revenue_limit: tuple[float | None] | None = None  # (limit,) once computed
        self._excluded: dict[str, float] | None = None  # excluded_orders(), once computed
        #: Country given to customers when ``customers.country`` is absent (the campaign's first
        #: country, set by the step); ``None`` leaves it null ("unknown").
        self.default_country: str | None = None
        #: IANA zone whose calendar days the daily aggregates count (the campaign's ``timezone``,
        #: set by the step; :meth:`local_day`). Not ``source.timezone``, which reads naive data.
        self.day_zone: str = "UTC"

    def __repr__(self) -> str:
        return f"Warehouse(source={self.source.display()!r}, tables={self.available()})"

    # -- days in the campaign's zone (module docstring, "Days") ------------------------------

    def local_time(self, ts: ibis.TimestampValue) -> ibis.TimestampValue:
        """Engine expression: wall-clock time in :attr:`day_zone` of the UTC instants ``ts`` (naive)."""
        return engines.local_time(self.con, self.day_zone, ts)

    def local_day(self, ts: ibis.TimestampValue) -> ibis.DateValue:
        """Engine expression: the calendar day in :attr:`day_zone` of the instants ``ts``."""
        return self.local_time(ts).date()

    def local_hour(self, ts: ibis.TimestampValue) -> ibis.IntegerValue:
        """Engine expression: the hour of day (0-23) in :attr:`day_zone` of the instants ``ts``."""
        return self.local_time(ts).hour()

    def local_weekday(self, ts: ibis.TimestampValue) -> ibis.IntegerValue:
        """Engine expression: the weekday (0 = Monday) in :attr:`day_zone` of the instants ``ts``."""
        return self.local_time(ts).day_of_week.index()

    def day_start(self, day: Day) -> pd.Timestamp:
        """UTC instant of local midnight at the start of ``day`` in :attr:`day_zone` (:func:`local_midnight`)."""
        return local_midnight(day, self.day_zone)

    def instant(self, value: Day) -> pd.Timestamp:
        """``value`` as a UTC instant, dates and naive values read in :attr:`day_zone` (:func:`local_instant`)."""
        return local_instant(value, self.day_zone)

    def in_days(self, ts: ibis.TimestampValue, start: Day | None, end: Day | None) -> ibis.BooleanValue:
        """Engine predicate: ``ts`` within the calendar days ``start`` to ``end`` (both inclusive; ``None``
        leaves that side open) of :attr:`day_zone`, i.e. from local midnight to local midnight."""
        conds = [] if start is None else [ts >= ibis.timestamp(self.day_start(start))]
        if end is not None:
            conds.append(ts < ibis.timestamp(self.day_start(calendar_day(end, self.day_zone) + pd.Timedelta(days=1))))
        return ibis.and_(*conds)

    def _probe(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in TABLES:
            try:
                self.con.table(name)
            except Exception:  # noqa: BLE001 - any backend error means "not there"
                continue
            found[name] = name
        return found

    def available(self) -> list[str]:
        """Canonical tables present in the source, in schema (dependency) order."""
        return [name for name in TABLES if name in self._tables]

    def has(self, name: str) -> bool:
        """Whether canonical table ``name`` is present."""
        return name in self._tables

    def raw(self, name: str) -> ibis.Table:
        """The table exactly as stored (no column or timestamp checks); for the validator.

        Raises
        ------
        DataError
            If ``name`` is not a canonical table or the source does not have it.
        """
        get_table(name)
        if name not in self._tables:
            raise DataError(
                f"Table {name!r} is missing from {self.source}. Tables found: {self.available()}. "
                f"Add {name}.parquet or {name}.csv ({CONTRACT_HINT})."
            )
        return self._typed_instants(name, self.con.table(self._tables[name]))

    def _typed_instants(self, name: str, t: ibis.Table) -> ibis.Table:
        """Type the columns that the engine stores as UTC instants but Ibis reports as naive
        (Spark ``TIMESTAMP``, see :func:`playbook.data.engines.utc_instant_columns`) as UTC timestamps."""
        if name not in self._instants:
            self._instants[name] = engines.utc_instant_columns(self.con, self._tables[name])
        cols = [c for c in self._instants[name] if c in t.columns]
        if not cols:
            return t
        return t.mutate(**{c: t[c].cast(idt.Timestamp(timezone="UTC")) for c in cols})

    def columns(self, name: str) -> list[str]:
        """Column names of table ``name`` as stored."""
        return list(self.raw(name).columns)

    def row_count(self, name: str) -> int:
        """Number of rows of table ``name`` (counted in the engine)."""
        return int(self.raw(name).count().execute())

    def table(self, name: str) -> ibis.Table:
        """Table ``name`` conforming to the contract, ready for analysis.

        Checks that every required column exists; adds absent optional columns with their
        contract default (:meth:`gaps` lists them); converts naive timestamps to UTC when a
        timezone is configured and date-only timestamps to local midnight; casts timestamp-typed
        ``date`` columns to dates. An absent optional table is an empty table with the contract's
        columns. ``orders`` is read as the analyses see it: line items merged into orders when
        ``source.merge_line_items``, and orders above the extreme-revenue limit left out when
        ``source.exclude_extreme_orders`` (:meth:`excluded_orders` counts them).

        Raises
        ------
        DataError
            A required table is missing, a table lacks required columns (all listed, with the
            columns present), or holds naive timestamps and no timezone is configured.
        """
        spec = get_table(name)
        if name not in self._tables and not spec.required:
            return self._empty_table(name)
        t = self._contract_table(name)
        return self._orders_view(t) if name == "orders" else t

    def _contract_table(self, name: str) -> ibis.Table:
        """The stored table with required columns checked and the contract's conversions."""
        spec = get_table(name)
        t = self.raw(name)
        present = list(t.columns)
        missing = [c for c in spec.required_columns if c not in present]
        if missing:
            raise DataError(
                f"Table {name!r} in {self.source} is missing required column(s) {missing}. "
                f"Columns present: {present}. Add or rename them ({CONTRACT_HINT})."
            )
        t = self._conform(name, t)
        if name == "customers" and "signup_ts" not in present:
            t = self._signup_from_orders(t)
        return t

    def _empty_table(self, name: str) -> ibis.Table:
        if name not in self._empty:
            schema = ibis.schema({c.name: IBIS_TYPES[c.dtype] for c in get_table(name).columns})
            self._empty[name] = ibis.memtable(pa.Table.from_pylist([], schema=schema.to_pyarrow()))
        return self._empty[name]

    def _signup_from_orders(self, customers: ibis.Table) -> ibis.Table:
        """``signup_ts`` from the customer's first order (no orders: the data's first order)."""
        o = self._contract_table("orders")
        first = o.group_by("customer_id").aggregate(first_order=o.order_ts.min())
        j = customers.left_join(first, "customer_id")
        fallback = self.first_order_ts()
        signup = j.first_order if fallback is None else j.first_order.fill_null(ibis.timestamp(fallback))
        cols = [c for c in customers.columns if c != "signup_ts"]
        return j.select(*cols, signup_ts=signup.cast(IBIS_TYPES["timestamp"]))

    def first_order_ts(self) -> pd.Timestamp | None:
        """The earliest ``order_ts`` in the data (UTC; one engine query, remembered), or None."""
        if self._first_order is None:
            o = self._contract_table("orders")
            value = o.order_ts.min().execute()
            self._first_order = None if value is None or pd.isna(value) else to_utc(value)
        return self._first_order

    def _orders_view(self, o: ibis.Table) -> ibis.Table:
        if self.source.merge_line_items:
            o = merge_line_items(o)
        limit = self.revenue_limit()
        if limit is not None:
            o = o.filter(~extreme(o, limit))
        return o

    def revenue_limit(self) -> float | None:
        """Order revenue above which orders are left out (currency units), or None when nothing is
        excluded (``source.exclude_extreme_orders`` off, or no positive revenue). The rule of
        :func:`playbook.data.money.limits` over the (merged) orders; one engine query, remembered."""
        if not self.source.exclude_extreme_orders:
            return None
        if self._revenue_limit is None:
            o = self._contract_table("orders")
            if self.source.merge_line_items:
                o = merge_line_items(o)
            lims = money.limits(o, "revenue")
            self._revenue_limit = (lims[0].limit if lims else None,)
        return self._revenue_limit[0]

    def excluded_orders(self) -> dict[str, float]:
        """Orders left out as extreme: ``{"orders": n, "revenue": sales total, "limit": limit}`` (refunds
        of extreme orders are counted in ``orders``, not netted in ``revenue``; zeros and
        limit NaN when nothing is excluded). Counted in the engine."""
        if self._excluded is not None:  # asked by every page header and every step summary
            return dict(self._excluded)
        limit = self.revenue_limit()
        if limit is None:
            self._excluded = {"orders": 0, "revenue": 0.0, "limit": float("nan")}
            return dict(self._excluded)
        o = self._contract_table("orders")
        if self.source.merge_line_items:
            o = merge_line_items(o)
        bad = o.filter(extreme(o, limit))
        row = bad.aggregate(n=bad.count(), total=bad.revenue.sum(where=bad.revenue > 0)).execute().iloc[0]
        self._excluded = {"orders": int(row["n"]),
                          "revenue": float(row["total"]) if pd.notna(row["total"]) else 0.0, "limit": float(limit)}
        return dict(self._excluded)

    def gaps(self) -> list[tuple[str, str | None, str]]:
        """What the source lacks: ``(table, column or None, what it turns off / its default)``.

        Absent optional tables first (``column`` None, the table's ``enables``), then absent
        optional columns of present tables with their default (``Column.default_note``).
        """
        out: list[tuple[str, str | None, str]] = []
        for name, spec in TABLES.items():
            if name not in self._tables:
                if not spec.required:
                    out.append((name, None, spec.enables))
                continue
            present = set(self.raw(name).columns)
            for col in spec.columns:
                if col.name not in present and not col.required and col.enables:
                    out.append((name, col.name, column_gap_note(col)))
        return out

    def lacks(self, table: str, column: str | None = None) -> bool:
        """Whether ``table`` (or its ``column``) is absent from the source, so that :meth:`table`
        gives an empty table (or the column's default)."""
        if table not in self._tables:
            return True
        return column is not None and column not in self.raw(table).columns

    def _conform(self, name: str, t: ibis.Table) -> ibis.Table:
        spec = get_table(name)
        schema = t.schema()
        naive = [c.name for c in spec.columns
                 if c.dtype == "timestamp" and c.name in schema and is_naive_timestamp(schema[c.name])]
        zone = self.source.timezone
        if naive and zone is None:
            raise DataError(
                f"Table {name!r} in {self.source} has timestamps without a time zone in column(s) "
                f"{naive}. Store them with a UTC offset, or set data.timezone in the campaign config "
                "(--timezone on the command line) to the zone they were recorded in."
            )
        changes: dict[str, ibis.Expr] = {}
        for col in spec.columns:
            if col.name not in schema:
                if not col.required and col.default is not FIRST_ORDER:
                    changes[col.name] = self._default(col)
                continue
            typ = schema[col.name]
            if col.name in naive:
                assert zone is not None  # naive columns without a zone raised above
                changes[col.name] = _to_utc_expr(self.con, zone, t[col.name].cast(idt.Timestamp()))
            elif col.dtype == "timestamp" and typ.is_date():  # a date alone: that day, whatever the zone
                changes[col.name] = t[col.name].cast(idt.Timestamp()).cast(IBIS_TYPES["timestamp"])
            elif col.dtype == "date" and typ.is_timestamp():
                changes[col.name] = t[col.name].date()
            elif typ.is_null():
                changes[col.name] = t[col.name].cast(IBIS_TYPES[col.dtype])
        return t.mutate(**changes) if changes else t

    def _default(self, col: Column) -> ibis.Value:
        """The value of absent optional column ``col`` (see ``Column.default``)."""
        typ = IBIS_TYPES[col.dtype]
        value = self.default_country if col.default is CAMPAIGN_COUNTRY else col.default
        return ibis.null(typ) if value is None else ibis.literal(value, type=typ)

    def _conform_lenient(self, name: str) -> ibis.Table:
        """Raw table with the same conversions as :meth:`table` but without the required-column
        check; naive timestamps stay naive when no timezone is set (for the validator)."""
        t = self.raw(name)
        if self.source.timezone is None:
            return t
        return self._conform(name, t)


# --------------------------------------------------------------------------------------------
# connect


def connect(
    source: DataSource | str | os.PathLike[str] | None = None,
    *,
    timezone: str | None = None,
    encoding: str | None = None,
) -> Warehouse:
    """Connect to a data source holding the canonical tables.

    Parameters
    ----------
    source : DataSource, str or Path, optional
        A :class:`~playbook.data.source.DataSource` (used whole: its timezone and encoding), or a
        location parsed with :meth:`DataSource.parse <playbook.data.source.DataSource.parse>`:
        ``None`` for the bundled sample (``data/sample``, resolved against the project root); a
        folder of Parquet files (``<table>.parquet`` or ``<table>/*.parquet``) or CSV files
        (``<table>.csv``, UTF-8 with or without BOM, ``,`` or ``;`` delimited); a DuckDB file;
        an Ibis connection URL such as ``duckdb:///path/file.ddb`` or ``postgres://...``; or a
        Spark source (``spark:///abs/folder?master=local[2]``, ``spark+s3a://bucket/sales``,
        ``spark+catalog://database``; forms and options in :mod:`playbook.data.engines`).
    timezone : str, optional
        Only with a location: IANA zone (``"Europe/Berlin"``) in which naive timestamps were
        recorded; they are converted to UTC. Without it, naive timestamps are rejected when a
        table is accessed.
    encoding : str, optional
        Only with a location: Python text encoding of CSV files (``"latin-1"``, ``"cp1252"``
        ...); default UTF-8.

    Returns
    -------
    Warehouse
        With :attr:`Warehouse.source` the :class:`DataSource` it was opened from.

    Raises
    ------
    TypeError
        ``timezone`` or ``encoding`` given with a :class:`DataSource` (it carries its own).
    DataError
        The folder does not exist, or a CSV file cannot be read (names the file; suggests
        ``encoding`` for non-UTF-8 files); Spark cannot start (names what to install).
    ConfigError
        A malformed Spark URL.
    """
    if isinstance(source, DataSource):
        if timezone is not None or encoding is not None:
            raise TypeError("connect(): a DataSource carries its own timezone and encoding; build it "
                            "with DataSource.parse(location, timezone=..., encoding=...) instead.")
        src = source
    else:
        src = DataSource.parse(source, timezone=timezone, encoding=encoding)
    if src.engine == "spark":
        con, tables = engines.connect_spark(src.location)
        return Warehouse(con, src, tables=tables)
    if src.engine == "ibis":
        try:
            con = ibis.connect(src.location)
        except Exception as exc:  # noqa: BLE001 - backend-specific errors
            raise DataError(f"Cannot connect to data source {src}: {exc}. Check data.source.") from exc
        return Warehouse(con, src)
    path = Path(src.location)
    if path.is_file() and path.suffix.lower() in (".duckdb", ".ddb", ".db"):
        return Warehouse(ibis.duckdb.connect(str(path), read_only=True), src)
    if not path.is_dir():
        raise DataError(
            f"Data folder {path} does not exist. Generate the sample with "
            f"`playbook generate-data --out {path}` or set data.source in the campaign config."
        )
    con, tables, keepalive = open_folder(path, src.encoding)
    return Warehouse(con, src, tables=tables, _keepalive=keepalive)


def fetch(expr: ibis.Table) -> pd.DataFrame:
    """Execute a table expression and return it as pandas; fast when columns have nulls.

    Same values and dtypes as ``expr.execute()``. On DuckDB, Ibis 12's ``execute`` turns every
    column that has a null (typical after a left join: customers without orders) into Python
    objects with ``to_pylist`` before converting it, which costs ~1 s per million values and
    dominated per-customer feature queries at 100k+ customers; here Arrow converts such columns
    in bulk and Ibis's own converter then applies the schema's dtypes. Other backends use
    ``execute`` unchanged.

    Parameters
    ----------
    expr : ibis.Table
        Any table expression (the aggregate to bring back).

    Returns
    -------
    pandas.DataFrame
        Row order as the engine returns it (unordered unless ``expr`` has an ``order_by``).
    """
    con = expr._find_backend()
    if getattr(con, "name", "") != "duckdb" or not hasattr(con, "_to_duckdb_relation"):
        return expr.execute()
    table = con._to_duckdb_relation(expr).to_arrow_table()
    df = pd.DataFrame({
        name: col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) else col.to_pandas()
        for name, col in zip(table.column_names, table.columns, strict=True)
    })
    return DuckDBPandasData.convert_table(df, expr.as_table().schema())
