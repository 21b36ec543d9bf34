"""What every platform importer shares: reading an export into the engine, checking its columns,
currency and duplicates, parsing its numbers and times, and finding customers by email.

An import runs in one :class:`ImportSession`: an in-memory DuckDB in which each export file is a
view (the file is scanned by the engine, never loaded whole into pandas). A platform module
(``playbook.data.importers.<platform>``) reads its files with :meth:`ImportSession.read_csv` or
:meth:`ImportSession.read_json`, checks them with :meth:`ExportFile.require`, and adds one DuckDB
``SELECT`` per canonical table it produces with :meth:`ImportSession.add`. The store
(:mod:`playbook.data.importers.store`) then merges those rows into the output folder.

Rules every importer follows (issue 15):

* UTF-8 with or without BOM (UTF-16 exports, as Google Ads writes them, are transcoded), ``,``
  ``;`` or tab delimited (detected from the header line).
* Exact duplicate rows (a file exported twice and concatenated, a repeated line) are dropped and
  counted in the notes.
* Unknown columns are ignored; a missing required column raises one :class:`DataError` naming
  the platform's export, the column (and the older names accepted) and how to produce it.
* Money must be in the campaign's currency when a currency column exists and
  ``ImportOptions.currency`` is set; otherwise the import stops and names the currencies found.
* Times with an offset (``2025-11-28 09:15:00 -0500``, ISO 8601 with ``Z`` or ``+01:00``) are
  converted to UTC; times without one are read in ``ImportOptions.timezone``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from playbook.data.contract import TOUCH_CHANNELS
from playbook.errors import DataError

#: Delimiters recognised in CSV exports, in order of preference.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

#: Formats of times that carry a UTC offset (DuckDB ``strptime``), tried in order.
OFFSET_FORMATS: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z",
                                   "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S%z")
#: Formats of times without an offset (read in the import's time zone), tried in order.
NAIVE_FORMATS: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
                                  "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
                                  "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y")
_OFFSET_RE = r"([+-]\d{2}:?\d{2}|Z)$"

#: Table of the session's known customers ``(customer_id, email_norm)``: those already in the output
#: folder's ``customers.parquet`` plus those added by :meth:`ImportSession.remember_customers`.
#: Join on ``email_norm`` to find a customer by email (one id per email: take ``MIN(customer_id)``).
KNOWN = "known_customers"


@dataclass(frozen=True)
class ImportOptions:
    """Settings of one import.

    Parameters
    ----------
    currency : str, optional
        ISO 4217 code the money must be in (the campaign's ``currency``); ``None`` skips the
        check (the notes then name the currencies found).
    timezone : str
        IANA zone of times written without an offset (default UTC).
    channel_rules : sequence of (pattern, channel)
        Spend importers: a media campaign whose name matches ``pattern`` (a case-insensitive
        regular expression, searched) is booked on ``channel``; the first match wins; campaigns
        no rule matches go to the platform's default channel.
    """

    currency: str | None = None
    timezone: str = "UTC"
    channel_rules: tuple[tuple[str, str], ...] = ()


@dataclass
class ExportFile:
    """One export file read into the engine as a view.

    Attributes
    ----------
    platform, export : str
        E.g. ``"Shopify"``, ``"Orders export"``; used in every message about the file.
    path : Path
    view : str
        Name of the DuckDB view holding the file's distinct rows (all text for CSV).
    columns : tuple of str
        Column names as written in the file.
    rows, duplicates : int
        Rows read, and exact duplicate rows dropped.
    """

    platform: str
    export: str
    path: Path
    view: str
    columns: tuple[str, ...]
    rows: int
    duplicates: int
    how: str = ""
    decimal_comma: bool = False

    def has(self, *names: str) -> str | None:
        """The first of ``names`` present in the file (exact, then case-insensitive), else None."""
        for name in names:
            if name in self.columns:
                return name
        lower = {c.lower().strip(): c for c in self.columns}
        for name in names:
            if name.lower() in lower:
                return lower[name.lower()]
        return None

    def require(self, spec: Mapping[str, Sequence[str]]) -> dict[str, str]:
        """Resolve required columns: ``{key: (current name, older names...)}`` -> ``{key: name in file}``.

        Raises
        ------
        DataError
            Naming every missing column (with the older names accepted), the export and how to
            produce it.
        """
        found, missing = {}, []
        for key, names in spec.items():
            name = self.has(*names)
            if name is None:
                alt = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
                missing.append(f"{names[0]!r}{alt}")
            else:
                found[key] = name
        if missing:
            raise DataError(
                f"{self.platform} {self.export} {self.path.name} lacks the column(s) {', '.join(missing)}. "
                f"{self.how or 'Export the file again with all columns.'}")
        return found

    def optional(self, spec: Mapping[str, Sequence[str]]) -> dict[str, str]:
        """Like :meth:`require` for columns that may be absent: only those present."""
        return {key: name for key, names in spec.items() if (name := self.has(*names)) is not None}


def q(name: str) -> str:
    """A column name quoted for DuckDB SQL (``"Paid at"``)."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A string literal for DuckDB SQL."""
    return "'" + value.replace("'", "''") + "'"


def text(col: str) -> str:
    """SQL: trimmed text of a column, empty -> NULL."""
    return f"NULLIF(TRIM(CAST({q(col)} AS VARCHAR)), '')"


def number(col: str, decimal_comma: bool = False) -> str:
    """SQL: a number from text such as ``1,234.50``, ``$12.00``, ``12,5`` (with ``decimal_comma``),
    ``(3.00)`` (negative); empty -> NULL; unparseable -> NULL."""
    s = f"TRIM(CAST({q(col)} AS VARCHAR))"
    if decimal_comma:
        s = f"REPLACE(REPLACE({s}, '.', ''), ',', '.')"
    else:
        s = f"REPLACE({s}, ',', '')"
    s = f"REGEXP_REPLACE({s}, '[^0-9eE+\\-.()]', '', 'g')"
    s = f"CASE WHEN {s} LIKE '(%)' THEN '-' || TRIM({s}, '()') ELSE {s} END"
    return f"TRY_CAST(NULLIF({s}, '') AS DOUBLE)"


def boolean(col: str, true_words: Iterable[str] = ("yes", "true", "1", "y", "subscribed", "opted_in")) -> str:
    """SQL: ``TRUE`` when the trimmed lower-case text is one of ``true_words``; otherwise FALSE."""
    words = ", ".join(lit(w) for w in true_words)
    return f"COALESCE(LOWER(TRIM(CAST({q(col)} AS VARCHAR))) IN ({words}), FALSE)"


def timestamp(col_sql: str, timezone: str) -> str:
    """SQL: a UTC ``TIMESTAMPTZ`` from a text expression (not a column name: pass ``q(col)`` or
    another expression). Offsets in the text win; text without one is read in ``timezone``."""
    s = f"TRIM(CAST({col_sql} AS VARCHAR))"
    off = "[" + ", ".join(lit(f) for f in OFFSET_FORMATS) + "]"
    naive = "[" + ", ".join(lit(f) for f in NAIVE_FORMATS) + "]"
    return (f"CASE WHEN regexp_matches({s}, {lit(_OFFSET_RE)}) "
            f"THEN try_strptime(REGEXP_REPLACE({s}, 'Z$', '+00:00'), {off}) "
            f"ELSE timezone({lit(timezone)}, try_strptime({s}, {naive})) END")


def email_norm(col_sql: str) -> str:
    """SQL: trimmed lower-case email; blank or without ``@`` -> NULL."""
    s = f"LOWER(TRIM(CAST({col_sql} AS VARCHAR)))"
    return f"CASE WHEN {s} LIKE '%_@_%' THEN {s} END"


def email_customer_id(prefix: str, col_sql: str) -> str:
    """SQL: a stable customer id derived from a normalised email: ``<prefix>-`` + 16 hex digits of
    its SHA-256 (same email, same id, in every import; the email itself never becomes an id)."""
    return f"{lit(prefix + '-')} || LEFT(sha256({email_norm(col_sql)}), 16)"


def check_rules(rules: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`DataError` when a ``--channel PATTERN=CHANNEL`` rule names an unknown channel
    or an invalid regular expression."""
    for pattern, ch in rules:
        if ch not in TOUCH_CHANNELS:
            raise DataError(f"Channel rule {pattern!r}={ch!r}: unknown channel {ch!r}. "
                            f"Choose from {', '.join(TOUCH_CHANNELS)}.")
        try:
            re.compile(pattern)
        except re.error as e:
            raise DataError(f"Channel rule {pattern!r}: not a valid regular expression ({e}).") from None


def channel(name_sql: str, default: str, rules: Sequence[tuple[str, str]]) -> str:
    """SQL: the canonical channel of a media campaign from its name: the first rule whose pattern
    (case-insensitive regular expression) is found in the name, else ``default``.

    Raises
    ------
    DataError
        A rule names a channel that is not a canonical touch channel, or a pattern is invalid.
    """
    check_rules(rules)
    cases = [f"WHEN regexp_matches(COALESCE({name_sql}, ''), {lit(pattern)}, 'i') THEN {lit(ch)}"
             for pattern, ch in rules]
    return f"CASE {' '.join(cases)} ELSE {lit(default)} END" if cases else lit(default)


def stable_id(*parts: str) -> str:
    """A short deterministic id (16 hex digits of SHA-256) of ``parts`` joined by ``|``."""
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# reading files


def _sniff(path: Path) -> tuple[str, str]:
    """Encoding (``utf-8``, ``utf-8-sig`` or ``utf-16``) and the first 64 kB of text."""
    head = path.read_bytes()[:65536]
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16", head.decode("utf-16", errors="ignore")
    enc = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        return enc, head.decode(enc)
    except UnicodeDecodeError as e:
        if e.start > len(head) - 4:  # a character cut by the 64 kB window
            return enc, head[: e.start].decode(enc)
        raise DataError(f"{path.name} is not UTF-8 text (byte {head[e.start]:#x} at position {e.start}). "
                        "Export it again as UTF-8 CSV, or convert it: iconv -f latin1 -t utf-8 "
                        f"{path.name} > fixed.csv") from None


def _header_line(lines: list[str], must_have: Sequence[str]) -> int:
    """Index of the header line: the first line containing every name in ``must_have`` (reports
    such as Google Ads put title lines above the header); 0 when ``must_have`` is empty."""
    if not must_have:
        return 0
    for i, line in enumerate(lines[:50]):
        cells = {c.strip().strip('"').lower() for c in re.split(r"[,;\t]", line)}
        if all(m.lower() in cells for m in must_have):
            return i
    return 0


def _delimiter(line: str) -> str:
    counts = {d: len(next(csv.reader([line], delimiter=d))) for d in DELIMITERS}
    best = max(counts.values())
    return next(d for d in DELIMITERS if counts[d] == best) if best > 1 else ","


class ImportSession:
    """One import: an in-memory DuckDB, the files read so far, the canonical rows produced.

    Parameters
    ----------
    options : ImportOptions
    known_customers : Path, optional
        ``customers.parquet`` already in the output folder: its ids and emails are found by
        :meth:`customer_by_email` (a later import of messages or orders joins onto them).
    """

    def __init__(self, options: ImportOptions | None = None, known_customers: Path | None = None):
        self.options = options or ImportOptions()
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone='UTC'")
        self.notes: list[str] = []
        self.parts: dict[str, list[tuple[int, str]]] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="playbook-import-")
        self._n = 0
        self.con.execute(f"CREATE TEMP TABLE {KNOWN} (customer_id VARCHAR, email_norm VARCHAR)")
        if known_customers is not None and known_customers.exists():
            src = f"read_parquet({lit(str(known_customers))})"
            has_email = "email" in [r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
            em = email_norm("email") if has_email else "CAST(NULL AS VARCHAR)"
            self.con.execute(f"INSERT INTO {KNOWN} SELECT DISTINCT CAST(customer_id AS VARCHAR), {em} FROM {src}")

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def __enter__(self) -> ImportSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def note(self, text: str) -> None:
        """Record a sentence for the import summary."""
        self.notes.append(text)

    def _view_name(self) -> str:
        self._n += 1
        return f"f{self._n}"

    def _distinct(self, platform: str, export: str, path: Path, source: str, how: str) -> ExportFile:
        raw, view = self._view_name() + "_raw", self._view_name()
        self.con.execute(f"CREATE TEMP VIEW {raw} AS SELECT * FROM {source}")
        self.con.execute(f"CREATE TEMP TABLE {view} AS SELECT DISTINCT * FROM {raw}")
        rows = self.con.execute(f"SELECT COUNT(*) FROM {raw}").fetchone()[0]  # type: ignore[index]
        kept = self.con.execute(f"SELECT COUNT(*) FROM {view}").fetchone()[0]  # type: ignore[index]
        cols = tuple(r[0] for r in self.con.execute(f"DESCRIBE {view}").fetchall())
        f = ExportFile(platform, export, path, view, cols, int(rows), int(rows - kept), how)
        if f.duplicates:
            self.note(f"{path.name}: {f.duplicates:,} exact duplicate row(s) dropped ({rows:,} read).")
        return f

    def read_csv(self, path: Path, *, platform: str, export: str, how: str = "",
                 header_has: Sequence[str] = ()) -> ExportFile:
        """Read a CSV export (every column as text) as a view of its distinct rows.

        Parameters
        ----------
        header_has : sequence of str
            Column names the header line contains; lines above it (report titles) are skipped.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{platform} {export}: file {path} does not exist.")
        enc, head = _sniff(path)
        if enc == "utf-16":
            utf8 = Path(self._tmp.name) / (path.stem + ".utf8.csv")
            utf8.write_text(path.read_text(encoding="utf-16"), encoding="utf-8")
            read, head = utf8, path.read_text(encoding="utf-16")[:65536]
        else:
            read = path
        lines = head.lstrip("\ufeff").splitlines()
        if not lines:
            raise DataError(f"{platform} {export} {path.name} is empty: export it again.")
        skip = _header_line(lines, header_has)
        delim = _delimiter(lines[skip])
        source = (f"read_csv({lit(str(read))}, header=true, all_varchar=true, delim={lit(delim)}, skip={skip}, "
                  "quote='\"', escape='\"', null_padding=true, strict_mode=false)")
        f = self._distinct(platform, export, path, source, how)
        f.decimal_comma = delim == ";"
        return f

    def read_json(self, path: Path, *, platform: str, export: str, how: str = "") -> ExportFile:
        """Read newline-delimited JSON (or Parquet, by suffix) as a view of its distinct rows;
        nested fields keep their structure (structs, lists)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{platform} {export}: file {path} does not exist.")
        if path.suffix.lower() == ".parquet":
            source = f"read_parquet({lit(str(path))})"
        else:
            source = f"read_json({lit(str(path))}, format='newline_delimited', sample_size=-1)"
        try:
            return self._distinct(platform, export, path, source, how)
        except duckdb.Error as e:
            raise DataError(f"{platform} {export} {path.name} could not be read as JSON lines: "
                            f"{str(e).splitlines()[0]}. {how}") from None

    # ----------------------------------------------------------------------------------------
    # checks

    def check_currency(self, f: ExportFile, column: str | None, where: str = "TRUE") -> None:
        """Stop when the file's money is not in the campaign's currency (``ImportOptions.currency``).

        Without a currency column the file is taken to be in the campaign's currency (noted).
        """
        expected = self.options.currency
        if column is None:
            if expected:
                self.note(f"{f.path.name}: no currency column; amounts are taken to be in {expected}.")
            return
        found = [r[0] for r in self.con.execute(
            f"SELECT DISTINCT UPPER(TRIM({q(column)})) c FROM {f.view} WHERE {where} AND {q(column)} IS NOT NULL "
            "AND TRIM({0}) <> '' ORDER BY c".format(q(column))).fetchall()]
        if expected is None:
            if found:
                self.note(f"{f.path.name}: amounts in {', '.join(found)} (no campaign currency given to check).")
            return
        other = [c for c in found if c != expected.upper()]
        if other:
            raise DataError(
                f"{f.platform} {f.export} {f.path.name} has amounts in {', '.join(other)}, but the campaign's "
                f"currency is {expected}. Export the store's data in {expected} (or convert it) before importing; "
                "the playbook does not convert currencies.")

    def remember_customers(self, select_sql: str) -> None:
        """Add customers to :data:`KNOWN` (a SELECT of ``customer_id, email_norm``, in that order;
        ``email_norm`` as :func:`email_norm` gives it, or NULL), so later files of this import
        (orders after customers, messages, events) find them."""
        self.con.execute(f"INSERT INTO {KNOWN} {select_sql}")

    def add(self, table: str, select_sql: str, priority: int = 0) -> int:
        """Add canonical rows (a SELECT with the contract's column names) for ``table``.

        ``priority``: when two rows share the table's key, the one with the higher priority wins
        (a customers export beats customers derived from orders). Returns the number of rows.
        """
        name = self._view_name() + f"_{table}"
        self.con.execute(f"CREATE TEMP TABLE {name} AS {select_sql}")
        self.parts.setdefault(table, []).append((priority, name))
        return int(self.con.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])  # type: ignore[index]

    def add_web_activity(self, platform: str, files: Sequence[Path], events_sql: str, touches_sql: str) -> None:
        """Add the ``events`` and ``touches`` of a web-analytics import (GA4, Segment): the tables
        that have rows, or a :class:`DataError` with the notes when neither has (no known customer)."""
        n_events = self.count(f"SELECT COUNT(*) FROM ({events_sql})")
        n_touches = self.count(f"SELECT COUNT(*) FROM ({touches_sql})")
        if not n_events and not n_touches:
            raise DataError(f"{platform}: no event or touch of a known customer in "
                            + ", ".join(Path(p).name for p in files) + ". " + " ".join(self.notes))
        for table, sql, n in (("events", events_sql, n_events), ("touches", touches_sql, n_touches)):
            if n:
                self.add(table, sql)
        self.note(f"{platform}: {n_events:,} events and {n_touches:,} touches of known customers.")

    def count(self, sql: str) -> int:
        """The single integer a ``SELECT COUNT(*) ...`` returns."""
        return int(self.con.execute(sql).fetchone()[0])  # type: ignore[index]


@dataclass
class ImportSummary:
    """What an import did: rows per canonical table written, notes, files read."""

    platform: str
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
