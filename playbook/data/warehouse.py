"""Where the raw tables live and how aggregates are pulled from them.

DESIGN.md, "Data access": raw tables can be large, so they are never loaded whole into pandas.
Every scan is an Ibis expression executed by the backend; only aggregates (one row per day, per
customer, ...) come back as pandas DataFrames.

Sources (:func:`connect`):

* a folder of Parquet files (``<table>.parquet`` or ``<table>/*.parquet``) or CSV files
  (``<table>.csv``), read through views in an embedded, in-memory DuckDB;
* a DuckDB database file (``*.duckdb`` / ``*.ddb``);
* any Ibis connection URL (``duckdb:///path/file.ddb``, ``postgres://user@host/db`` ...);
* Apache Spark (``spark:///abs/folder?master=local[2]``, ``spark+s3a://bucket/sales``,
  ``spark+catalog://database``; see :mod:`playbook.data.engines`): the same Ibis aggregates run on
  Spark through Ibis's PySpark backend.

Timestamps: the contract wants timezone-aware UTC timestamps. Naive timestamps are rejected when
a table is accessed unless a ``timezone`` is given; then they are read as local times of that
zone and converted to UTC. The DuckDB session runs in UTC, so "day" means the UTC calendar day.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import ibis
import ibis.expr.datatypes as idt
import pandas as pd

from playbook.data import engines
from playbook.data.contract import TABLES, get_table
from playbook.errors import DataError
from playbook.paths import resolve

DEFAULT_SOURCE = "data/sample"

#: Schema dtype -> Ibis dtype (used for typed nulls of absent optional columns).
IBIS_TYPES: dict[str, idt.DataType] = {
    "string": idt.string,
    "float": idt.float64,
    "int": idt.int64,
    "bool": idt.boolean,
    "timestamp": idt.Timestamp(timezone="UTC"),
    "date": idt.date,
}

#: Schema dtype -> DuckDB SQL type (used to type all-null columns of files).
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}

#: ``daily_sales(by=...)`` dimensions and the table each comes from.
SALES_DIMENSIONS: dict[str, str] = {
    "channel": "orders.channel",
    "country": "customers.country",
    "category": "products.category (revenue allocated by order_items quantity * unit_price)",
}

#: Label of a dimension value that cannot be resolved (orphan customer, refund without items).
UNKNOWN = "unknown"

_NS_TYPES = {"TIMESTAMPTZ_NS": "TIMESTAMPTZ", "TIMESTAMP_NS": "TIMESTAMP"}
_CSV_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_DECIMAL_COMMA = re.compile(r"^-?\d*,\d+$")


@ibis.udf.scalar.builtin(name="timezone")
def _localize(zone: str, ts: idt.Timestamp()) -> idt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """SQL ``timezone(zone, naive_ts)``: read a naive timestamp as local time of ``zone``."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _localize_spark(ts: idt.Timestamp(), zone: str) -> idt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """Spark SQL ``to_utc_timestamp(naive_ts, zone)``: the same conversion as :func:`_localize`."""


def _to_utc_expr(con, zone: str, col: ibis.Value) -> ibis.Value:
    """Backend-specific expression reading naive ``col`` as local time of ``zone``, in UTC."""
    if getattr(con, "name", None) == "pyspark":
        return _localize_spark(col, zone)
    return _localize(zone, col)


def dtype_matches(expected: str, actual: idt.DataType) -> bool:
    """Whether a backend column type satisfies a schema dtype.

    Lenient where nothing is lost: ``float`` accepts integers and decimals, ``int`` accepts floats
    (integers with nulls often arrive as floats), ``date`` accepts timestamps (midnight values),
    ``timestamp`` accepts naive timestamps (those are flagged separately). An all-null column
    (null type) matches anything.
    """
    if actual.is_null():
        return True
    checks = {
        "string": actual.is_string(),
        "float": actual.is_floating() or actual.is_integer() or actual.is_decimal(),
        "int": actual.is_integer() or actual.is_floating() or actual.is_decimal(),
        "bool": actual.is_boolean(),
        "timestamp": actual.is_timestamp(),
        "date": actual.is_date() or actual.is_timestamp(),
    }
    return checks[expected]


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


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Warehouse:
    """A connected data source exposing the canonical tables as Ibis expressions.

    Parameters
    ----------
    con : ibis backend
        The connection that executes every query.
    source : str
        Human-readable description of the source (folder or URL), used in messages.
    tables : dict, optional
        ``{canonical name: backend table name}`` of the tables present; ``None`` means "probe the
        backend for each canonical table".
    timezone : str, optional
        Zone in which naive timestamps are interpreted; ``None`` rejects them.
    """

    def __init__(
        self,
        con,
        source: str,
        tables: dict[str, str] | None = None,
        timezone: str | None = None,
        _keepalive: object = None,
    ) -> None:
        self.con = con
        self.source = source
        self.timezone = timezone
        self._tables = tables if tables is not None else self._probe()
        self._keepalive = _keepalive  # e.g. a TemporaryDirectory holding transcoded CSV files
        self._instants: dict[str, list[str]] = {}  # per table: naive-typed columns holding UTC instants

    def __repr__(self) -> str:
        return f"Warehouse(source={self.source!r}, tables={self.available()})"

    def _probe(self) -> dict[str, str]:
        found = {}
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
                f"Add {name}.parquet or {name}.csv (see the data contract in playbook.data.contract)."
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

        Checks that every required column exists; adds absent optional columns as typed nulls;
        converts naive timestamps to UTC when a timezone is configured; casts timestamp-typed
        ``date`` columns to dates.

        Raises
        ------
        DataError
            The table is missing, lacks required columns (all listed, with the columns present),
            or holds naive timestamps and no timezone is configured.
        """
        spec = get_table(name)
        t = self.raw(name)
        present = list(t.columns)
        missing = [c for c in spec.required_columns if c not in present]
        if missing:
            raise DataError(
                f"Table {name!r} in {self.source} is missing required column(s) {missing}. "
                f"Columns present: {present}. Add or rename them (see playbook.data.contract)."
            )
        return self._conform(name, t)

    def _conform(self, name: str, t: ibis.Table) -> ibis.Table:
        spec = get_table(name)
        schema = t.schema()
        naive = [c.name for c in spec.columns
                 if c.dtype == "timestamp" and c.name in schema and is_naive_timestamp(schema[c.name])]
        if naive and self.timezone is None:
            raise DataError(
                f"Table {name!r} in {self.source} has timestamps without a time zone in column(s) "
                f"{naive}. Store them with a UTC offset, or set data.timezone in the campaign config "
                "(--timezone on the command line) to the zone they were recorded in."
            )
        changes: dict[str, ibis.Expr] = {}
        for col in spec.columns:
            if col.name not in schema:
                if not col.required:
                    changes[col.name] = ibis.null(IBIS_TYPES[col.dtype])
                continue
            typ = schema[col.name]
            if col.name in naive:
                changes[col.name] = _to_utc_expr(self.con, self.timezone, t[col.name].cast(idt.Timestamp()))
            elif col.dtype == "date" and typ.is_timestamp():
                changes[col.name] = t[col.name].date()
            elif typ.is_null():
                changes[col.name] = t[col.name].cast(IBIS_TYPES[col.dtype])
        return t.mutate(**changes) if changes else t

    def _conform_lenient(self, name: str) -> ibis.Table:
        """Raw table with the same conversions as :meth:`table` but without the required-column
        check; naive timestamps stay naive when no timezone is set (for the validator)."""
        t = self.raw(name)
        if self.timezone is None:
            return t
        return self._conform(name, t)


# --------------------------------------------------------------------------------------------
# connect


def connect(
    source: str | Path | None = None,
    *,
    timezone: str | None = None,
    encoding: str | None = None,
) -> Warehouse:
    """Connect to a data source holding the canonical tables.

    Parameters
    ----------
    source : str or Path, optional
        ``None`` for the bundled sample (``data/sample``, resolved against the project root); a
        folder of Parquet files (``<table>.parquet`` or ``<table>/*.parquet``) or CSV files
        (``<table>.csv``, UTF-8 with or without BOM, ``,`` or ``;`` delimited); a DuckDB file;
        an Ibis connection URL such as ``duckdb:///path/file.ddb`` or ``postgres://...``; or a
        Spark source (``spark:///abs/folder?master=local[2]``, ``spark+s3a://bucket/sales``,
        ``spark+catalog://database``; forms and options in :mod:`playbook.data.engines`).
    timezone : str, optional
        IANA zone (``"Europe/Berlin"``) in which naive timestamps were recorded; they are
        converted to UTC. Without it, naive timestamps are rejected when a table is accessed.
    encoding : str, optional
        Python text encoding of CSV files (``"latin-1"``, ``"cp1252"`` ...); default UTF-8.

    Returns
    -------
    Warehouse

    Raises
    ------
    DataError
        The folder does not exist, or a CSV file cannot be read (names the file; suggests
        ``encoding`` for non-UTF-8 files); Spark cannot start (names what to install).
    ConfigError
        A malformed Spark URL.
    """
    if source is not None and engines.is_spark_url(source):
        con, tables = engines.connect_spark(str(source))
        return Warehouse(con, str(source), tables=tables, timezone=timezone)
    if source is not None and "://" in str(source):
        url = str(source)
        try:
            con = ibis.connect(url)
        except Exception as exc:  # noqa: BLE001 - backend-specific errors
            raise DataError(f"Cannot connect to data source {url}: {exc}. Check data.source.") from exc
        return Warehouse(con, url, timezone=timezone)
    path = resolve(source if source is not None else DEFAULT_SOURCE)
    if path.is_file() and path.suffix.lower() in (".duckdb", ".ddb", ".db"):
        con = ibis.duckdb.connect(str(path), read_only=True)
        return Warehouse(con, str(path), timezone=timezone)
    if not path.is_dir():
        raise DataError(
            f"Data folder {path} does not exist. Generate the sample with "
            f"`playbook generate-data --out {path}` or set data.source in the campaign config."
        )
    return _connect_folder(path, timezone=timezone, encoding=encoding)


def _connect_folder(path: Path, timezone: str | None, encoding: str | None) -> Warehouse:
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    tmp = None
    tables: dict[str, str] = {}
    for name in TABLES:
        single = path / f"{name}.parquet"
        parts = path / name
        csv_file = path / f"{name}.csv"
        if single.is_file():
            reader = f"read_parquet({_sql_str(str(single))})"
        elif parts.is_dir() and any(parts.rglob("*.parquet")):
            reader = f"read_parquet({_sql_str(str(parts / '**' / '*.parquet'))})"
        elif csv_file.is_file():
            if encoding and codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
                tmp = tmp or tempfile.TemporaryDirectory(prefix="playbook-csv-")
                read_from = _transcode(csv_file, encoding, Path(tmp.name))
            else:
                _check_utf8(csv_file)
                read_from = csv_file
            reader = _csv_reader(con, name, csv_file, read_from)
        else:
            continue
        _create_view(con, name, reader, shown=str(csv_file if csv_file.is_file() else path / name))
        tables[name] = name
    return Warehouse(con, str(path), tables=tables, timezone=timezone, _keepalive=tmp)


def _create_view(con, name: str, reader: str, shown: str) -> None:
    """Create view ``name`` over ``reader``; all-null (NULL-typed) schema columns get their type."""
    spec = get_table(name)
    try:
        described = con.raw_sql(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except Exception as exc:  # noqa: BLE001 - duckdb IO/parse errors
        raise DataError(f"Cannot read table {name!r} from {shown}: {exc}") from exc
    types = {row[0]: str(row[1]).strip('"') for row in described}
    casts = [
        f'CAST("{c.name}" AS {SQL_TYPES[c.dtype]}) AS "{c.name}"'
        for c in spec.columns
        if types.get(c.name) == "NULL"
    ]
    # DuckDB >= 2 reads pandas' nanosecond tz-aware columns as TIMESTAMPTZ_NS, which Ibis does not
    # know; microsecond precision is plenty for event times.
    casts += [f'CAST("{col}" AS {_NS_TYPES[typ]}) AS "{col}"' for col, typ in types.items() if typ in _NS_TYPES]
    replace = f" REPLACE ({', '.join(casts)})" if casts else ""
    con.raw_sql(f'CREATE OR REPLACE VIEW "{name}" AS SELECT *{replace} FROM {reader}')


def _check_utf8(path: Path) -> None:
    """Raise a clear DataError when ``path`` is not valid UTF-8 (streamed, 1 MB chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                _raise_encoding(path, "utf-8", offset + exc.start, chunk[exc.start:exc.start + 1])
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            _raise_encoding(path, "utf-8", offset + exc.start, b"")


def _raise_encoding(path: Path, encoding: str, position: int, byte: bytes) -> None:
    raise DataError(
        f"CSV file {path} is not valid {encoding} (byte {byte.hex() or 'EOF'} at offset {position}). "
        "Save it as UTF-8, or set data.encoding in the campaign config (--encoding on the command "
        "line) to its encoding, e.g. 'latin-1' or 'cp1252'."
    )


def _transcode(path: Path, encoding: str, out_dir: Path) -> Path:
    """Stream ``path`` from ``encoding`` into a UTF-8 copy in ``out_dir``; return the copy."""
    out = out_dir / path.name
    try:
        with path.open("r", encoding=encoding, newline="") as src, out.open("w", encoding="utf-8", newline="") as dst:
            while text := src.read(_CHUNK):
                dst.write(text.lstrip("\ufeff") if dst.tell() == 0 else text)
    except UnicodeDecodeError as exc:
        _raise_encoding(path, encoding, exc.start, exc.object[exc.start:exc.start + 1])
    return out


def _csv_header(path: Path) -> tuple[str, list[str]]:
    """Detect the delimiter from the header line (most frequent of , ; tab |) and parse it."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    delim = max(_CSV_DELIMITERS, key=first.count)
    header = next(csv.reader(io.StringIO(first), delimiter=delim), [])
    return delim, [h.strip() for h in header]


def _decimal_comma(path: Path, delim: str, numeric: list[int], n_lines: int = 200) -> bool:
    """Whether numeric columns use a decimal comma (``1,5``) in the first lines (needs a non-comma
    delimiter, as in European ``;`` exports)."""
    if delim == "," or not numeric:
        return False
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh, delimiter=delim)
        next(rows, None)
        for i, row in enumerate(rows):
            if i >= n_lines:
                break
            if any(j < len(row) and _DECIMAL_COMMA.match(row[j].strip()) for j in numeric):
                return True
    return False


def _csv_reader(con, name: str, shown: Path, path: Path) -> str:
    """The ``read_csv(...)`` call for one canonical table.

    String columns of the contract are read as text (so IDs like ``007`` keep their zeros);
    numbers with a decimal comma are read as numbers when the delimiter is not a comma;
    contract columns the sniffer could only type as text because they hold no values at all are
    given their contract type.
    """
    spec = get_table(name)
    delim, header = _csv_header(path)
    dtypes = {c.name: c.dtype for c in spec.columns}
    types = {h: "VARCHAR" for h in header if dtypes.get(h) == "string"}
    numeric = [i for i, h in enumerate(header) if dtypes.get(h) in ("float", "int")]
    decimal = ", decimal_separator=','" if _decimal_comma(path, delim, numeric) else ""

    def call(types: dict[str, str]) -> str:
        typ = ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in types.items())
        return (f"read_csv({_sql_str(str(path))}, delim={_sql_str(delim)}, header=true{decimal}"
                + (f", types={{{typ}}}" if types else "") + ")")

    try:
        described = con.raw_sql(f"DESCRIBE SELECT * FROM {call(types)}").fetchall()
    except Exception as exc:  # noqa: BLE001 - duckdb sniffer/parse errors
        raise DataError(f"Cannot read CSV file {shown}: {exc}") from exc
    suspicious = [r[0] for r in described
                  if r[1] == "VARCHAR" and dtypes.get(r[0]) not in (None, "string")]
    if suspicious:
        counts = con.raw_sql(
            "SELECT " + ", ".join(f'count("{c}")' for c in suspicious) + f" FROM {call(types)}"
        ).fetchone()
        for col, n in zip(suspicious, counts, strict=True):
            if n == 0:
                types[col] = SQL_TYPES[dtypes[col]]
    return call(types)


# --------------------------------------------------------------------------------------------
# engine-side aggregates


def _check_dims(by: Iterable[str]) -> list[str]:
    dims = list(by)
    unknown = [d for d in dims if d not in SALES_DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown daily_sales dimension(s) {unknown}. Choose from {list(SALES_DIMENSIONS)}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"Repeated dimension in by={dims}")
    return dims


def _sales_rows(wh: Warehouse, start, end, dims: Sequence[str]) -> ibis.Table:
    """Order rows in the window with day, dimensions and allocated revenue/discount ("share")."""
    o = wh.table("orders")
    if start is not None:
        o = o.filter(o.order_ts >= ibis.timestamp(to_utc(to_day(start))))
    if end is not None:
        o = o.filter(o.order_ts < ibis.timestamp(to_utc(to_day(end) + pd.Timedelta(days=1))))
    rows = o.select("order_id", "customer_id", "revenue", "discount", "channel",
                    day=o.order_ts.date())
    if "country" in dims:
        c = wh.table("customers")
        c = c.group_by("customer_id").aggregate(country=c.country.arbitrary())
        rows = rows.left_join(c, "customer_id").drop("customer_id_right")
    if "category" in dims:
        it = wh.table("order_items")
        p = wh.table("products")
        p = p.group_by("product_id").aggregate(category=p.category.arbitrary())
        it = it.left_join(p, "product_id")
        it = it.select("order_id", "category", value=it.quantity * it.unit_price)
        tot = it.group_by("order_id").aggregate(order_value=it.value.sum(), n_lines=it.count())
        it = it.join(tot, "order_id")
        share = ibis.ifelse(it.order_value > 0, it.value / it.order_value, 1.0 / it.n_lines)
        alloc = it.select("order_id", "category", share=share)
        alloc = alloc.group_by(["order_id", "category"]).aggregate(share=alloc.share.sum())
        rows = rows.left_join(alloc, "order_id").drop("order_id_right")
        rows = rows.mutate(share=rows.share.fill_null(1.0))
    else:
        rows = rows.mutate(share=ibis.literal(1.0))
    return rows


def daily_sales(
    wh: Warehouse,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    by: Sequence[str] = (),
    fill_missing_days: bool = True,
) -> pd.DataFrame:
    """Daily sales, aggregated in the engine.

    Parameters
    ----------
    wh : Warehouse
        Connected data source (needs ``orders``; ``customers`` for ``country``; ``order_items`` and
        ``products`` for ``category``).
    start, end : date or str, optional
        First and last UTC day to include (both inclusive); default: the data's range.
    by : sequence of str
        Extra dimensions, any of ``"channel"`` (orders.channel), ``"country"``
        (customers.country) and ``"category"`` (products.category). For ``category`` each order's
        revenue and discount are split over its categories in proportion to the lines'
        ``quantity * unit_price`` (equal split when all lines are free); orders without lines
        (refunds) and unresolvable values (orphans) are labelled ``"unknown"``.
    fill_missing_days : bool
        Add rows with zeros for days without orders (for every dimension combination seen).

    Returns
    -------
    pandas.DataFrame
        Sorted by day and dimensions: ``day`` (naive ``datetime64[ns]`` midnight of the UTC day),
        the ``by`` columns, ``revenue`` (net: sales plus refunds, currency units),
        ``gross_revenue`` (sales only), ``refunds`` (absolute value of negative revenue),
        ``orders`` (sale orders, revenue >= 0), ``customers`` (distinct buyers of sale orders),
        ``discount`` (currency units).

    Raises
    ------
    ValueError
        For an unknown dimension (the message lists the choices).
    """
    dims = _check_dims(by)
    rows = _sales_rows(wh, start, end, dims)
    money = rows.revenue * rows.share
    sale = rows.revenue >= 0
    agg = rows.group_by(["day", *dims]).aggregate(
        revenue=money.sum(),
        gross_revenue=money.sum(where=sale),
        refunds=(-money).sum(where=~sale),
        orders=rows.order_id.nunique(where=sale),
        customers=rows.customer_id.nunique(where=sale),
        discount=(rows.discount * rows.share).sum(),
    )
    df = agg.execute()
    return _finish_daily(df, dims, start, end, fill_missing_days)


_MONEY = ["revenue", "gross_revenue", "refunds", "discount"]
_COUNTS = ["orders", "customers"]


def _finish_daily(df: pd.DataFrame, dims: list[str], start, end, fill: bool) -> pd.DataFrame:
    cols = ["day", *dims, "revenue", "gross_revenue", "refunds", "orders", "customers", "discount"]
    df = df.copy()
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    for d in dims:
        df[d] = df[d].astype(object).where(df[d].notna(), UNKNOWN).astype(str)
    for c in _MONEY:
        df[c] = pd.to_numeric(df[c]).fillna(0.0).astype("float64")
    for c in _COUNTS:
        df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    if dims and not df.empty:
        # several rows per key can arise when dims were relabelled to "unknown"
        df = df.groupby(["day", *dims], as_index=False)[_MONEY + _COUNTS].sum()
    if fill:
        first = to_day(start) if start is not None else (df["day"].min() if not df.empty else None)
        last = to_day(end) if end is not None else (df["day"].max() if not df.empty else None)
        if first is not None and last is not None and first <= last:
            days = pd.DataFrame({"day": pd.date_range(first, last, freq="D").astype("datetime64[ns]")})
            grid = days.merge(df[dims].drop_duplicates(), how="cross") if dims else days
            df = grid.merge(df, on=["day", *dims], how="left")
            df[_MONEY] = df[_MONEY].fillna(0.0)
            df[_COUNTS] = df[_COUNTS].fillna(0).astype("int64")
    return df[cols].sort_values(["day", *dims], ignore_index=True)


def customer_order_summary(
    wh: Warehouse,
    cutoff: dt.date | dt.datetime | str | pd.Timestamp,
    start: dt.date | dt.datetime | str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-customer order history before ``cutoff``: the base for RFM and CLV.

    Sales are orders with revenue >= 0; refunds are orders with negative revenue.

    Parameters
    ----------
    wh : Warehouse
        Connected data source (needs ``orders``).
    cutoff : date, datetime, str or Timestamp
        Orders strictly before this instant count. Dates and naive values are read as UTC
        midnight / UTC times.
    start : same types, optional
        Ignore orders before this instant (inclusive lower bound).

    Returns
    -------
    pandas.DataFrame
        One row per customer with at least one sale in ``[start, cutoff)``, sorted by
        ``customer_id``: ``first_order_ts`` and ``last_order_ts`` (first/last sale, UTC),
        ``frequency`` (number of sale orders), ``monetary_total`` and ``monetary_mean`` (sale
        revenue, currency units), ``refunds_total`` (absolute refund amount in the window),
        ``recency_days`` (``cutoff - last_order_ts``) and ``tenure_days`` (``cutoff -
        first_order_ts``), both in fractional days.

    Notes
    -----
    BG/NBD (Fader, Hardie & Lee 2005) uses the number of *repeat* purchases: ``frequency - 1``;
    its "recency" is ``last - first`` (= ``tenure_days - recency_days``) and its ``T`` is
    ``tenure_days``. Converting is left to the caller (``playbook.value.clv``).
    """
    cut = to_utc(cutoff)
    o = wh.table("orders")
    o = o.filter(o.order_ts < ibis.timestamp(cut), o.customer_id.notnull())
    if start is not None:
        o = o.filter(o.order_ts >= ibis.timestamp(to_utc(start)))
    sale = o.revenue >= 0
    g = o.group_by("customer_id").aggregate(
        first_order_ts=o.order_ts.min(where=sale),
        last_order_ts=o.order_ts.max(where=sale),
        frequency=sale.sum(),
        monetary_total=o.revenue.sum(where=sale),
        refunds_total=(-o.revenue).sum(where=~sale),
    )
    df = g.filter(g.frequency > 0).execute()
    cols = ["customer_id", "first_order_ts", "last_order_ts", "frequency", "monetary_total",
            "monetary_mean", "refunds_total", "recency_days", "tenure_days"]
    for c in ("first_order_ts", "last_order_ts"):
        df[c] = pd.to_datetime(df[c], utc=True).astype("datetime64[ns, UTC]")
    df["customer_id"] = df["customer_id"].astype(str)
    df["frequency"] = df["frequency"].astype("int64")
    df["monetary_total"] = df["monetary_total"].astype("float64")
    df["refunds_total"] = pd.to_numeric(df["refunds_total"]).fillna(0.0).astype("float64")
    df["monetary_mean"] = df["monetary_total"] / df["frequency"]
    day = pd.Timedelta(days=1)
    df["recency_days"] = (cut - df["last_order_ts"]) / day
    df["tenure_days"] = (cut - df["first_order_ts"]) / day
    return df[cols].sort_values("customer_id", ignore_index=True)


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
    import pyarrow.types as pat

    con = expr._find_backend()
    if getattr(con, "name", "") != "duckdb" or not hasattr(con, "_to_duckdb_relation"):
        return expr.execute()
    from ibis.backends.duckdb.converter import DuckDBPandasData

    table = con._to_duckdb_relation(expr).to_arrow_table()
    df = pd.DataFrame({
        name: col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) else col.to_pandas()
        for name, col in zip(table.column_names, table.columns, strict=True)
    })
    return DuckDBPandasData.convert_table(df, expr.as_table().schema())
