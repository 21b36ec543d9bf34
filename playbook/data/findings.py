"""What a data check found: findings, skipped checks and their report (:mod:`playbook.data.validate`
runs the checks; this module holds the results and formats them for the CLI and the reports)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from playbook.errors import DataError
from playbook.report.privacy import pseudonymize

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")

#: Findings about optional data that is absent (information on coverage, not data problems).
GAP_CHECKS: frozenset[str] = frozenset({"absent_table", "absent_column", "empty_table"})


@dataclass(frozen=True)
class Finding:
    """One problem found in the data.

    ``count`` is the number of offending rows (surplus rows for duplicates); ``examples`` holds up
    to five keys of offending rows (pseudonymous IDs, never PII; composite keys joined by ``/``).
    """

    table: str
    column: str | None
    check: str
    severity: str
    count: int
    examples: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class Skipped:
    """A check that could not run, and why."""

    table: str
    column: str | None
    check: str
    reason: str


@dataclass
class ValidationReport:
    """All findings of one validation run.

    Attributes
    ----------
    findings : list of Finding
        Problems with a count above zero, errors first.
    skipped : list of Skipped
        Checks that could not run.
    source : str
        The validated source.
    """

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    source: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (soft problems are allowed)."""
        return not self.errors

    @property
    def soft(self) -> list[Finding]:
        """Soft problems: warnings and infos, except the notes on absent optional data
        (:data:`GAP_CHECKS`), which are not problems."""
        return [f for f in self.findings if f.severity != "error" and f.count and f.check not in GAP_CHECKS]

    @property
    def soft_count(self) -> int:
        """Rows with a soft problem: the sum of the counts of :attr:`soft` (a row with two problems
        counts twice). The one total that the segment page shows and the index headline repeats."""
        return sum(f.count for f in self.soft)

    def lacks(self, table: str, column: str) -> bool:
        """Whether the source lacks optional column ``table.column`` (an ``absent_column`` finding)."""
        return any(f.check == "absent_column" and f.table == table and f.column == column for f in self.findings)

    def describe_gaps(self) -> str:
        """One sentence on the optional tables and columns the data lacks (empty when none)."""
        tables = [f.table for f in self.findings if f.check in ("absent_table", "empty_table")]
        columns = [f"{f.table}.{f.column}" for f in self.findings if f.check == "absent_column"]
        parts = ([f"{len(tables)} optional table(s) ({', '.join(tables)})"] if tables else []) + (
            [f"{len(columns)} optional column(s) ({', '.join(columns)})"] if columns else [])
        if not parts:
            return ""
        return (f"Not in the data: {' and '.join(parts)}. The table above says what each turns off; "
                "the sections that need them say so where they would be.")

    def count(self, check: str, table: str | None = None) -> int:
        """Total count of findings named ``check`` (optionally in ``table``); 0 when none."""
        return sum(f.count for f in self.findings if f.check == check and (table is None or f.table == table))

    def to_frame(self, pseudonymous: bool = False) -> pd.DataFrame:
        """Findings as a DataFrame (examples joined by ``", "``).

        Parameters
        ----------
        pseudonymous : bool
            Replace example keys by keyed pseudonyms (:func:`playbook.report.pseudonymize`), as
            reports require; the CLI shows raw keys so that the source can be fixed.
        """
        def _examples(f: Finding) -> str:
            ex = [str(e) for e in f.examples]
            return ", ".join(pseudonymize(e) for e in ex) if pseudonymous else ", ".join(ex)

        cols = ["severity", "table", "column", "check", "count", "examples", "message"]
        rows = [
            {"severity": f.severity, "table": f.table, "column": f.column or "", "check": f.check,
             "count": f.count, "examples": _examples(f), "message": f.message}
            for f in self.findings
        ]
        return pd.DataFrame(rows, columns=cols)

    def format(self) -> str:
        """Readable plain-text report grouped by severity (for the CLI)."""
        lines = [f"Data check of {self.source}" if self.source else "Data check"]
        titles = {"error": "ERRORS", "warning": "WARNINGS", "info": "INFO"}
        for sev in SEVERITIES:
            group = [f for f in self.findings if f.severity == sev]
            lines.append("")
            lines.append(f"{titles[sev]} ({len(group)})")
            if not group:
                lines.append("  none")
                continue
            lines.extend(_table_lines(group))
        if self.skipped:
            lines.append("")
            lines.append(f"SKIPPED CHECKS ({len(self.skipped)})")
            for s in self.skipped:
                where = f"{s.table}.{s.column}" if s.column else s.table
                lines.append(f"  {where} {s.check}: {s.reason}")
        return "\n".join(lines)

    def raise_for_errors(self) -> None:
        """Raise ``DataError`` with the formatted errors when there are any."""
        if self.errors:
            body = "\n".join(_table_lines(self.errors))
            raise DataError(
                f"{len(self.errors)} data error(s) in {self.source or 'the data source'}; "
                f"fix them in the source data:\n{body}"
            )


def _table_lines(findings: list[Finding]) -> list[str]:
    """Aligned rows ``table column check count examples``, each followed by its message."""
    head = ("table", "column", "check", "count")
    rows = [(f.table, f.column or "-", f.check, f"{f.count:,}") for f in findings]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]

    def line(cells: tuple[str, ...], examples: str) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3], strict=True)]
        return "  " + "  ".join([*left, cells[3].rjust(widths[3]), examples])

    out = [line(head, "examples")]
    for f, r in zip(findings, rows, strict=True):
        out.append(line(r, ", ".join(f.examples) or "-"))
        out.append("      " + f.message)
    return out
