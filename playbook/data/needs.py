"""What a report section needs from the data, declared next to the section and checked first.

The minimal data (issue 14) is ``customers(customer_id)`` and ``orders(order_id, customer_id,
order_ts, revenue)``; every other table and column is optional, and
:meth:`playbook.data.warehouse.Warehouse.table` reads an absent one as empty (or with its
default). A section that cannot say anything true without some optional data declares it as a
:class:`Needs` beside its code; before it runs, :meth:`Needs.reason` gives the one sentence the
report shows instead (what is missing, what would enable it), or None when the data has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.data.contract import CONTRACT_HINT, TABLES
from playbook.data.warehouse import Warehouse


@dataclass(frozen=True)
class Needs:
    """The optional data a report section needs.

    Attributes
    ----------
    section : str
        The section as the report names it, e.g. ``"Merging duplicate accounts"``.
    tables : tuple of str
        Optional tables the section needs (present in the source).
    columns : tuple of str
        Optional columns it needs, as ``"table.column"``.
    any_of : bool
        One of the tables/columns is enough (e.g. email *or* phone to merge accounts); default:
        all of them are needed.
    """

    section: str
    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    any_of: bool = False

    def __post_init__(self) -> None:
        for name in (*self.tables, *(c.split(".")[0] for c in self.columns)):
            if name not in TABLES:
                raise ValueError(f"Needs({self.section!r}): unknown table {name!r}")

    def missing(self, wh: Warehouse) -> list[str]:
        """What the source lacks of it, e.g. ``["events table", "customers.email"]``."""
        out = [f"{t} table" for t in self.tables if wh.lacks(t)]
        for c in self.columns:
            table, column = c.split(".", 1)
            if wh.lacks(table, column):
                out.append(c)
        return out

    def reason(self, wh: Warehouse) -> str | None:
        """One sentence saying why the section is skipped and what would enable it, or None
        when the data has what the section needs."""
        missing = self.missing(wh)
        wanted = len(self.tables) + len(self.columns)
        if not missing or (self.any_of and len(missing) < wanted):
            return None
        joined = " and ".join(missing) if not self.any_of else " or ".join(missing)
        return (f"{self.section}: skipped, the data has no {joined}; add "
                f"{'it' if len(missing) == 1 else 'them'} to enable this section ({CONTRACT_HINT}).")
