"""The PII guard of a run: no page is published while it shows a customer's email, phone or name.

The runner applies the guard itself, whoever starts the run (``playbook run`` or
:func:`playbook.run.campaign.run_campaign` from Python): the known PII values are read from the
campaign's data source (:func:`pii_values_for`, with the source's encoding and time zone)
unless the caller passes its own, every page a step writes is scanned as soon as the step
ends, and the index and ``summary.json`` before publishing. Only an explicit
``pii_guard=False`` turns it off, and the index then says so. The scanner and the masked
message are :mod:`playbook.report.privacy`.

CSV files (the audience exports) are scanned too: a plaintext email, phone or name in a CSV
that would be published fails the step. SHA-256 hex digests are removed before scanning (their
digit runs are not phones). Files in a staging folder's private subfolder
(:func:`playbook.run.publish.is_private`) are skipped: they hold plaintext PII by design and are
moved out of the report by :func:`playbook.run.publish.publish`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

from playbook.data.contract import PII_COLUMNS
from playbook.data.source import DataSource
from playbook.data.warehouse import connect
from playbook.report.privacy import PiiScanner, leak_message, scan_files
from playbook.run.publish import is_private

DATA_SUFFIXES: frozenset[str] = frozenset({".csv"})
"""Data files published with a report (audience exports) that the guard scans as well."""




def _distinct_pii(source: DataSource) -> list[str]:
    """Distinct non-empty values of the customers table's PII columns (computed in the engine)."""
    wh = connect(source)
    if not wh.has("customers"):
        return []
    t = wh.raw("customers")
    out: list[str] = []
    for col in PII_COLUMNS["customers"]:
        if col in t.columns:
            vals = t.select(v=t[col].strip()).filter(lambda s: s.v.notnull()).distinct()
            out.extend(str(v) for v in vals.execute()["v"] if v)
    return out


def pii_values_for(source: DataSource) -> Callable[[], list[str]]:
    """A callable listing the PII strings (emails, phones, first names) of a data source.

    The data are opened with the source's own encoding and time zone. The values are read
    lazily, on the first call (only when a page is scanned), column by column in the engine
    (only distinct non-null values come back), and at most once: later calls, from any thread,
    return the same list, so campaigns of a batch on one source share one read. The list is
    kept in memory only, never written to disk.
    """
    lock = threading.Lock()
    box: list[list[str]] = []

    def _values() -> list[str]:
        with lock:
            if not box:
                box.append(_distinct_pii(source))
            return box[0]

    return _values


class PiiGuard:
    """The PII check of one run: the scanners are built on first use, once, from ``values``.

    Parameters
    ----------
    values : callable
        Returns the PII strings to guard against (e.g. :func:`pii_values_for`); called at most
        once, by the first :meth:`check`. Safe to share between the worker threads of a run.
    """

    def __init__(self, values: Callable[[], Iterable[str]]) -> None:
        self._values = values
        self._lock = threading.Lock()
        self._scanner: PiiScanner | None = None
        self._data_scanner: PiiScanner | None = None

    def _build(self) -> None:
        if self._scanner is None:
            values = list(self._values())
            self._scanner = PiiScanner(values)
            self._data_scanner = self._scanner.without_names()

    def scanner(self) -> PiiScanner:
        """The scanner of pages (built on the first call)."""
        with self._lock:
            self._build()
            return cast(PiiScanner, self._scanner)

    def data_scanner(self) -> PiiScanner:
        """The scanner of CSV files: emails and phones only (names are not looked for in data
        files, where words such as a product or an event name would read as first names)."""
        with self._lock:
            self._build()
            return cast(PiiScanner, self._data_scanner)

    def check(self, folder: Path, files: Iterable[str]) -> str | None:
        """Scan ``files`` (relative to ``folder``): pages and CSV exports, not the private
        subfolder. None when clean, else the leak message (files, kinds and masked hints, never
        the values: :func:`~playbook.report.privacy.leak_message`)."""
        public = [f for f in files if not is_private(f)]
        hits = scan_files(self.scanner(), folder, public)
        hits += scan_files(self.data_scanner(), folder, public, DATA_SUFFIXES)
        return leak_message(hits) if hits else None
