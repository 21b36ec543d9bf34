"""A folder of Parquet or CSV files read through views in an embedded, in-memory DuckDB.

Used by :func:`playbook.data.warehouse.connect` for a local data source. Each canonical table is
``<table>.parquet``, a ``<table>/`` folder of Parquet part files, or ``<table>.csv``. CSV files are
read as UTF-8 (with or without BOM; a clear error names the file and suggests ``data.encoding``
otherwise) or transcoded from the configured encoding into a temporary UTF-8 copy; the delimiter
(``,`` ``;`` tab ``|``) and a decimal comma are detected; the contract's text columns stay text
(IDs like ``007`` keep their zeros).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from pathlib import Path

import ibis
from ibis.backends.duckdb import Backend as DuckDBBackend

from playbook.data.contract import TABLES, get_table
from playbook.errors import DataError

#: Schema dtype -> DuckDB SQL type (used to type all-null columns of files).
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}

_NS_TYPES = {"TIMESTAMPTZ_NS": "TIMESTAMPTZ", "TIMESTAMP_NS": "TIMESTAMP"}
_CSV_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_DECIMAL_COMMA = re.compile(r"^-?\d*,\d+$")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def open_folder(
    path: Path, encoding: str | None,
) -> tuple[DuckDBBackend, dict[str, str], tempfile.TemporaryDirectory[str] | None]:
    """Open the canonical tables found in folder ``path`` as views of a new in-memory DuckDB.

    Parameters
    ----------
    path : Path
        An existing folder.
    encoding : str, optional
        Python text encoding of the CSV files; ``None`` (or a UTF-8 spelling) reads them as
        UTF-8, checked up front (streamed in 1 MB chunks).

    Returns
    -------
    tuple
        ``(connection, {canonical name: view name}, temporary folder or None)``. The temporary
        folder holds UTF-8 copies of transcoded CSV files: keep it alive as long as the
        connection (the warehouse holds it).

    Raises
    ------
    DataError
        A CSV file is not valid in its encoding (names the file, the byte and its offset), or a
        file cannot be read.
    """
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    tmp: tempfile.TemporaryDirectory[str] | None = None
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
    return con, tables, tmp


def _create_view(con: DuckDBBackend, name: str, reader: str, shown: str) -> None:
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


def _csv_reader(con: DuckDBBackend, name: str, shown: Path, path: Path) -> str:
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
