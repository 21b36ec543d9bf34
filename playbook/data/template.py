"""A starting point for a retailer's own data: header-only CSV templates and their column tables.

:func:`write_template` writes ``<table>.csv`` (the header row only) for every canonical table of
:mod:`playbook.data.contract` into a folder, plus a ``README.md`` there that lists each table's
columns: required or optional, type, description with units, and what the playbook does with it.
:func:`contract_markdown` returns the same per-table Markdown, which the repository's README
includes verbatim (a test keeps the two equal), so the column list is generated from the contract
and never copied by hand.

Files are UTF-8 without a byte-order mark, ``,``-delimited, ``\\n`` line ends, written atomically
(:func:`playbook.files.atomic_write`). Existing non-empty files are never overwritten.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from playbook.data.contract import TABLES, Column, Table
from playbook.errors import PlaybookError
from playbook.files import atomic_write

#: Name of the column guide written beside the templates.
README_NAME = "README.md"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (``|`` escaped, newlines folded)."""
    return " ".join(text.split()).replace("|", "\\|")


def _type_cell(col: Column) -> str:
    parts = [col.dtype]
    if col.allowed is not None:
        parts.append("one of " + ", ".join(f"`{v}`" for v in col.allowed))
    if col.nullable:
        parts.append("blank allowed")
    return "; ".join(parts)


def _description_cell(col: Column) -> str:
    text = col.description
    if col.pii:
        text = f"{text} (personal data: never shown in reports)" if text else "personal data"
    if col.min_value is not None:
        text = f"{text}; at least {col.min_value:g}" if text else f"at least {col.min_value:g}"
    return _cell(text)


def table_markdown(table: Table, heading_level: int = 4) -> str:
    """The Markdown section of one table: a heading, what a row is, its key, and a column table.

    Parameters
    ----------
    table : Table
        A canonical table of :mod:`playbook.data.contract`.
    heading_level : int
        Markdown heading level of the table's name (``4``: ``#### `name` ``).

    Returns
    -------
    str
        The heading, a paragraph (description, key, what the table enables) and a
        table with one row per column: column, required/optional, type (with allowed values and
        whether blanks are allowed), description (units), enables. Ends with a newline.
    """
    intro = ["**Required table.**" if table.required else
             "**Optional table** (absent: read as empty; the sections that need it say so)."]
    if table.description:
        intro.append(table.description)
    intro.append("Key: " + ", ".join(f"`{k}`" for k in table.key) + ".")
    if table.enables:
        intro.append(f"Enables: {table.enables}.")
    lines = [
        f"{'#' * heading_level} `{table.name}`",
        "",
        _cell(" ".join(intro)),
        "",
        "| column | required | type | description | enables | when absent |",
        "|---|---|---|---|---|---|",
    ]
    for col in table.columns:
        lines.append(
            f"| `{col.name}` | {_required_cell(table, col)} | {_cell(_type_cell(col))} "
            f"| {_description_cell(col)} | {_cell(col.enables)} | {_absent_cell(col)} |"
        )
    return "\n".join(lines) + "\n"


def _required_cell(table: Table, col: Column) -> str:
    if not col.required:
        return "optional"
    return "required" if table.required else "required in the table"


def _absent_cell(col: Column) -> str:
    """What an absent optional column reads as (empty for required columns)."""
    if col.required:
        return ""
    return _cell(col.default_note or "empty")


def contract_markdown(heading_level: int = 4) -> str:
    """The per-table Markdown of every canonical table, in contract (dependency) order.

    The repository's README includes this text verbatim in "Your own data"; the README written
    by :func:`write_template` includes it too (one heading level up).

    Parameters
    ----------
    heading_level : int
        Markdown heading level of each table's name (``4`` fits under the README's
        ``### The tables and their columns``).

    Returns
    -------
    str
        One :func:`table_markdown` section per table, separated by blank lines.
    """
    return "\n".join(table_markdown(t, heading_level) for t in TABLES.values())


def header_line(table: Table) -> str:
    """The CSV header row of ``table`` (``,``-delimited, quoted only where needed, ``\\n`` end)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(table.column_names)
    return buf.getvalue()


def folder_readme(folder: Path) -> str:
    """The ``README.md`` written beside the templates of ``folder``."""
    return "\n".join([
        "# Data templates",
        "",
        "One header-only CSV per canonical table of the playbook's data contract. Fill in the "
        "rows (UTF-8, `,`-delimited, one header row), or export the same columns as "
        "`<table>.parquet`. Timestamps are ISO 8601 with a UTC offset (for naive timestamps set "
        "`data.timezone` in the campaign file); money is a number in the campaign's currency; "
        "ids are text. Only `customers` (with `customer_id`) and `orders` (with `order_id`, "
        "`customer_id`, `order_ts`, `revenue`) are required: delete the files of tables you do "
        "not have, and leave optional columns out (the last column says what they read as).",
        "",
        f"Check the folder with `playbook validate-data {folder}`.",
        "",
        "## Tables",
        "",
        contract_markdown(heading_level=3),
    ])


def _bytes_writer(data: bytes) -> Callable[[Path], int]:
    """A writer for :func:`playbook.files.atomic_write` that writes ``data`` as is."""

    def write(tmp: Path) -> int:
        return tmp.write_bytes(data)

    return write


def write_template(folder: Path) -> list[Path]:
    """Write a header-only ``<table>.csv`` for every canonical table and ``README.md`` into ``folder``.

    Nothing is written when any target file already exists and is non-empty (empty files are
    replaced). Each file is written atomically.

    Parameters
    ----------
    folder : Path
        Destination folder; created when missing.

    Returns
    -------
    list of Path
        The files written: the CSVs in contract order, then ``README.md``.

    Raises
    ------
    PlaybookError
        ``folder`` exists and is not a folder, or a target file exists and is not empty (the
        message names every such file).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PlaybookError(f"{folder} exists and is not a folder; choose a new folder for the templates.")
    contents: dict[Path, str] = {folder / f"{t.name}.csv": header_line(t) for t in TABLES.values()}
    contents[folder / README_NAME] = folder_readme(folder)
    taken = [p for p in contents if p.exists() and (not p.is_file() or p.stat().st_size > 0)]
    if taken:
        raise PlaybookError(
            "Not overwriting existing file(s): " + ", ".join(str(p) for p in taken)
            + ". Choose an empty folder or move them away."
        )
    for path, text in contents.items():
        atomic_write(path, _bytes_writer(text.encode("utf-8")))
    return list(contents)
