"""Writing the synthetic tables: contract schemas and column order, Parquet files and streamed
row groups, the atomic folder swap and JSON-ready truth values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from playbook.data.contract import TABLES


def _check_schema(name: str, table: pa.Table) -> pa.Table:
    cols = TABLES[name].column_names
    missing = [col for col in cols if col not in table.column_names]
    if missing:  # programming error, not user input
        raise RuntimeError(f"synth bug: table {name} lacks columns {missing}")
    return table.select(list(cols))


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
}

ROW_GROUP_ROWS = 1_000_000  # Parquet row-group size cap (rows)

#: Tables generated per chunk of customers and streamed to Parquet (one row group or more per chunk).
STREAMED_TABLES: tuple[str, ...] = ("orders", "order_items", "events", "messages", "touches")


def _arrow_schema(name: str) -> pa.Schema:
    """Arrow schema of canonical table ``name`` (dtypes from :mod:`playbook.data.contract`)."""
    return pa.schema([pa.field(col.name, _ARROW_TYPES[col.dtype]) for col in TABLES[name].columns])


def _conform(name: str, table: pa.Table) -> pa.Table:
    """Columns of canonical table ``name`` in contract order, cast to the contract dtypes."""
    if name not in TABLES:
        return table
    return _check_schema(name, table).cast(_arrow_schema(name))


def _write(tables: dict[str, pa.Table], folder: Path) -> dict[str, int]:
    sizes = {}
    for name, table in tables.items():
        path = folder / f"{name}.parquet"
        pq.write_table(_conform(name, table), path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        sizes[name] = table.num_rows
    return sizes


class _ParquetStreams:
    """One :class:`pyarrow.parquet.ParquetWriter` per streamed table, opened up front.

    Each :meth:`write` appends a chunk as row groups and counts its rows; files of tables that
    received no rows still exist with the contract schema. Use as a context manager so the
    files are closed when generation fails (the temporary folder is then removed).
    """

    def __init__(self, folder: Path, names: tuple[str, ...]) -> None:
        self.rows = dict.fromkeys(names, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}
        for name in names:
            self._writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", _arrow_schema(name),
                                                   compression="zstd")

    def write(self, name: str, table: pa.Table) -> None:
        if table.num_rows:
            self._writers[name].write_table(_conform(name, table), row_group_size=ROW_GROUP_ROWS)
        self.rows[name] += table.num_rows

    def __enter__(self) -> _ParquetStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self._writers.values():
            writer.close()




def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return round(v, 10) if np.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj
