"""Lazy validation of a data source against the data contract (playbook.data.contract).

Every problem is collected before anything is reported (never stop at the first). All counts are
computed in the engine (Ibis); only up to five example keys per finding are fetched.

Errors (the data must be fixed before analysis): ``missing_table`` (customers, orders),
``missing_column`` (required columns), ``empty_table`` (customers or orders without rows),
``wrong_dtype``, ``duplicate_key``, ``orphan`` (above ``orphan_threshold``; a warning at or
below it), ``naive_timestamp`` (unless the warehouse has a timezone), ``null_values``,
``invalid_value`` (outside ``Column.allowed``), ``below_min`` (under ``Column.min_value``),
``non_finite`` (``NaN``/``inf``/``-inf`` in a money column, :data:`playbook.data.money.MONEY_COLUMNS`)
and ``refund_with_items``. Rule for refunds: revenue may be negative only for refunds; a refund is an
order row with negative revenue and no item lines.

Information on optional data (the minimal contract, issue 14): ``absent_table``, ``absent_column``
and ``empty_table`` (a header-only optional table), each with what it turns off.

Soft problems (warnings/info; cleaning handles them; names match ``truth.json["defects"]`` of the
synthetic data): ``duplicate_email``, ``duplicate_phone``, ``invalid_email``, ``missing_email``,
``missing_phone``, ``missing_first_name``, ``missing_birth_year``, ``missing_gender``, ``erased``,
``events_before_signup``, ``refunds``, ``future_timestamp``; and ``extreme_value`` (order
revenue, or daily spend of a channel, beyond the robust limit of :func:`playbook.data.money.limits`).

Checks that cannot run (a table or column is missing or mistyped) are recorded in
``ValidationReport.skipped`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import pandas as pd

from playbook.data import money
from playbook.data.contract import CONTRACT_HINT, TABLES, Column, Table
from playbook.data.findings import SEVERITIES, Finding, Skipped, ValidationReport
from playbook.data.source import DataSource
from playbook.data.warehouse import (
    IBIS_TYPES,
    Warehouse,
    column_gap_note,
    connect,
    dtype_matches,
    extreme,
    is_naive_timestamp,
    merge_line_items,
    to_utc,
)

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: A number as a CSV writes it: optional sign, digits, optional decimals and exponent.
PLAIN_NUMBER_REGEX = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
N_EXAMPLES = 5

#: Soft customer checks on missing values: check name -> column.
MISSING_CHECKS: dict[str, str] = {
    "missing_email": "email",
    "missing_phone": "phone",
    "missing_first_name": "first_name",
    "missing_birth_year": "birth_year",
    "missing_gender": "gender",
}


# --------------------------------------------------------------------------------------------
# check machinery


@dataclass
class _Check:
    """A check whose count is one scalar reduction over a table (batched per table)."""

    table: str
    column: str | None
    check: str
    severity: str
    count: ibis.Expr
    examples: Callable[[], ibis.Table] | None
    message: Callable[[int], str]


class _Validator:
    def __init__(self, wh: Warehouse, orphan_threshold: int, now: pd.Timestamp) -> None:
        self.wh = wh
        self.threshold = orphan_threshold
        self.now = now
        self.report = ValidationReport(source=wh.source.display())
        self.usable: dict[str, set[str]] = {}  # table -> columns present with the right dtype
        self.tables: dict[str, ibis.Table] = {}  # table -> conformed (lenient) expression

    # -- recording -----------------------------------------------------------------------------
    def add(self, table: str, column: str | None, check: str, severity: str, count: int,
            message: str, examples: tuple[str, ...] = ()) -> None:
        if count > 0:
            self.report.findings.append(Finding(table, column, check, severity, int(count), examples, message))

    def skip(self, table: str, column: str | None, check: str, reason: str) -> None:
        """Record a check that could not run; not when the reason is an optional table or column
        the source simply does not have (listed once as ``absent_table`` / ``absent_column``)."""
        spec = TABLES[table]
        absent_table = not self.wh.has(table) and not spec.required
        absent_column = (column is not None and self.wh.has(table) and column in spec.column_names
                         and not spec.column(column).required and column not in self.wh.columns(table))
        if not (absent_table or absent_column):
            self.report.skipped.append(Skipped(table, column, check, reason))

    def examples(self, expr: ibis.Table) -> tuple[str, ...]:
        df = expr.limit(N_EXAMPLES).execute()
        return tuple("/".join(_key_text(v) for v in row) for row in df.itertuples(index=False))

    def col_ok(self, table: str, column: str, check: str) -> bool:
        """Whether ``table.column`` can be checked; record the skip reason when not."""
        if table not in self.usable:
            self.skip(table, column, check, f"table {table!r} is missing")
            return False
        if column not in self.usable[table]:
            self.skip(table, column, check, f"column {column!r} is missing or has the wrong type")
            return False
        return True

    # -- structure -----------------------------------------------------------------------------
    def structure(self, spec: Table) -> None:
        name = spec.name
        if not self.wh.has(name):
            if spec.required:
                self.add(name, None, "missing_table", "error", 1,
                         f"Table {name!r} is missing from {self.wh.source}. Add {name}.parquet or {name}.csv "
                         f"with columns {list(spec.required_columns)} ({CONTRACT_HINT}).")
            else:
                self.add(name, None, "absent_table", "info", 1,
                         f"Optional table {name!r} is not in the source: turns off {spec.enables}. Add "
                         f"{name}.parquet or {name}.csv to enable it ({CONTRACT_HINT}).")
            return
        raw = self.wh.raw(name)
        schema = raw.schema()
        present = list(schema.names)
        usable: set[str] = set()
        for col in spec.columns:
            if col.name not in schema:
                if col.required:
                    self.add(name, col.name, "missing_column", "error", 1,
                             f"Required column {name}.{col.name} is missing. Columns present: {present}. "
                             "Add or rename it in the export.")
                elif col.enables:
                    self.add(name, col.name, "absent_column", "info", 1,
                             f"Optional column {name}.{col.name} is absent: {column_gap_note(col)}.")
                continue
            actual = schema[col.name]
            if not dtype_matches(col.dtype, actual):
                odd = _not_numbers(raw, col.name) if col.dtype in ("float", "int") and actual.is_string() else ""
                self.add(name, col.name, "wrong_dtype", "error", 1,
                         f"{name}.{col.name} has type {actual}, expected {col.dtype}.{odd} Convert it in the "
                         "export (IDs as text, money as numbers, timestamps with a UTC offset).")
                continue
            if col.dtype == "timestamp" and is_naive_timestamp(actual) and self.wh.source.timezone is None:
                n = raw[col.name].count().execute()
                self.add(name, col.name, "naive_timestamp", "error", max(int(n), 1),
                         f"{name}.{col.name} holds timestamps without a time zone. Export them with a UTC "
                         "offset, or set data.timezone in the campaign config (--timezone) to the zone "
                         "they were recorded in.")
                continue
            usable.add(col.name)
        self.usable[name] = usable
        self.tables[name] = self.wh._conform_lenient(name)
        if int(raw.count().execute()) == 0:
            if spec.required:
                self.add(name, None, "empty_table", "error", 1,
                         f"Table {name!r} has no rows: there is nothing to analyse. Export the "
                         f"{name} with at least a year of history.")
            else:
                self.add(name, None, "empty_table", "info", 1,
                         f"Table {name!r} has no rows (a header only): turns off {spec.enables}.")

    # -- per-table batched checks --------------------------------------------------------------
    def column_checks(self, spec: Table) -> list[_Check]:
        name, t = spec.name, self.tables[spec.name]
        keys = [k for k in spec.key if k in self.usable[name]] or None
        checks: list[_Check] = []

        def key_rows(pred: ibis.Expr) -> Callable[[], ibis.Table]:
            return lambda: t.filter(pred).select(*(keys or [t.columns[0]]))

        for col in spec.columns:
            if col.name not in self.usable[name]:
                continue
            c = t[col.name]
            checks += self._value_checks(spec, col, c, key_rows)
        if len(spec.key) == 1 and spec.key[0] in self.usable[name] and not (
                name == "orders" and self.wh.source.merge_line_items):
            checks += self.single_key_check(spec)
        return checks

    def _value_checks(self, spec: Table, col: Column, c: ibis.Column,
                      key_rows: Callable[[ibis.Expr], Callable[[], ibis.Table]]) -> list[_Check]:
        name, where = spec.name, f"{spec.name}.{col.name}"
        out: list[_Check] = []
        if not col.nullable:
            pred = c.isnull()
            out.append(_Check(name, col.name, "null_values", "error", pred.sum(), key_rows(pred),
                              lambda n: f"{n:,} empty value(s) in {where}, which must not be empty. "
                                        "Fill them in the source."))
        if col.allowed is not None:
            allowed = list(col.allowed)
            pred = c.notnull() & ~c.isin(allowed)
            if col.nullable:  # a blank optional value is "missing", not invalid
                pred = pred & (c.strip() != "")
            out.append(_Check(name, col.name, "invalid_value", "error", pred.sum(), key_rows(pred),
                              lambda n: f"{n:,} value(s) of {where} are not one of {allowed}. "
                                        "Map them to allowed values in the export."))
        if col.name in money.MONEY_COLUMNS.get(name, ()) and c.type().is_floating():
            bad = money.non_finite(c)
            out.append(_Check(name, col.name, "non_finite", "error", bad.sum(), key_rows(bad),
                              lambda n: f"{n:,} value(s) of {where} are NaN, inf or -inf, not amounts. Put "
                                        "the real amount in the export (an unknown optional amount is an "
                                        "empty cell); every total would otherwise be NaN or infinite."))
        if col.min_value is not None:
            pred = (c < col.min_value) & ~money.non_finite(c)  # -inf is reported as non_finite
            out.append(_Check(name, col.name, "below_min", "error", pred.sum(), key_rows(pred),
                              lambda n: f"{n:,} value(s) of {where} are below {col.min_value:g} "
                                        "(negative quantities, prices or spend). Correct them in the source."))
        if col.dtype == "timestamp":
            pred = c > ibis.timestamp(self.now)
            out.append(_Check(name, col.name, "future_timestamp", "warning", pred.sum(), key_rows(pred),
                              lambda n: f"{n:,} value(s) of {where} lie in the future (after "
                                        f"{self.now:%Y-%m-%d %H:%M} UTC). Check the export's clock/time zone."))
        if name == "orders" and col.name == "revenue":
            pred = (c < 0) & ~money.non_finite(c)
            out.append(_Check(name, col.name, "refunds", "info", pred.sum(), key_rows(pred),
                              lambda n: f"{n:,} refund order(s) (negative revenue, no item lines); "
                                        "netted against revenue and counted separately."))
        return out

    def customer_checks(self) -> list[_Check]:
        name = "customers"
        if name not in self.usable:
            for check in ("duplicate_email", "duplicate_phone", "invalid_email", *MISSING_CHECKS, "erased"):
                self.skip(name, None, check, "table 'customers' is missing")
            return []
        t = self.tables[name]
        ids = "customer_id" if "customer_id" in self.usable[name] else t.columns[0]
        out: list[_Check] = []
        for check, column in MISSING_CHECKS.items():
            if not self.col_ok(name, column, check):
                continue
            c = t[column]
            pred = c.isnull() | (c.strip() == "") if c.type().is_string() else c.isnull()
            out.append(_Check(name, column, check, "info", pred.sum(),
                              _ids(t, pred, ids), _msg_missing(column)))
        if self.col_ok(name, "email", "invalid_email"):
            e = _blank_null(t.email.strip().lower())
            pred = e.notnull() & ~e.re_search(EMAIL_REGEX)
            out.append(_Check(name, "email", "invalid_email", "warning", pred.fill_null(False).sum(),
                              _ids(t, pred, ids),
                              lambda n: f"{n:,} email(s) in customers.email are not valid addresses; kept, "
                                        "but never exported to email audiences."))
        if self.col_ok(name, "email", "duplicate_email"):
            out.append(self._dup_check(t, ids, "email", _blank_null(t.email.strip().lower())))
        if self.col_ok(name, "phone", "duplicate_phone"):
            out.append(self._dup_check(t, ids, "phone", normalise_phone(t.phone)))
        if self.col_ok(name, "erased_at", "erased"):
            pred = t.erased_at.notnull()
            out.append(_Check(name, "erased_at", "erased", "info", pred.sum(), _ids(t, pred, ids),
                              lambda n: f"{n:,} customer(s) asked to be erased; excluded from every "
                                        "analysis output and export."))
        return out

    def _dup_check(self, t: ibis.Table, ids: str, column: str, norm: ibis.Column) -> _Check:
        count = norm.count() - norm.nunique()

        def examples() -> ibis.Table:
            x = t.select(ids, norm=norm).filter(lambda s: s.norm.notnull())
            dup = x.group_by("norm").aggregate(n=x.count()).filter(lambda s: s.n > 1)
            return x.semi_join(dup, "norm").select(ids).order_by(ids)

        return _Check("customers", column, f"duplicate_{column}", "warning", count, examples,
                       lambda n: f"{n:,} surplus customer row(s) share a normalised {column} with another row; "
                                 "merged into one profile by identity resolution.")

    def run_batched(self, checks: list[_Check]) -> None:
        by_table: dict[str, list[_Check]] = {}
        for ch in checks:
            by_table.setdefault(ch.table, []).append(ch)
        for name, group in by_table.items():
            t = self.tables[name]
            agg = t.aggregate(**{f"c{i}": ch.count for i, ch in enumerate(group)}).execute()
            for i, ch in enumerate(group):
                value = agg[f"c{i}"].iloc[0]
                n = 0 if pd.isna(value) else int(value)
                if n > 0:
                    ex = self.examples(ch.examples()) if ch.examples else ()
                    self.add(name, ch.column, ch.check, ch.severity, n, ch.message(n), ex)

    # -- checks needing their own query --------------------------------------------------------
    def duplicate_keys(self, spec: Table) -> None:
        name = spec.name
        if name == "orders" and self.wh.source.merge_line_items:
            self.skip(name, "order_id", "duplicate_key", "line items are merged into orders "
                      "(data.merge_line_items), so order ids may repeat")
            return
        if name not in self.usable or (len(spec.key) == 1 and spec.key[0] in self.usable[name]):
            return  # missing table, or a single key checked in the batched reductions
        if any(k not in self.usable[name] for k in spec.key):
            self.skip(name, None, "duplicate_key", f"key column(s) {list(spec.key)} missing or mistyped")
            return
        t = self.tables[name]
        keys = list(spec.key)
        g = t.group_by(keys).aggregate(n=t.count()).filter(lambda s: s.n > 1)
        n = g.aggregate(surplus=(g.n - 1).sum()).execute()["surplus"].iloc[0]
        n = 0 if pd.isna(n) else int(n)
        self.add(name, "/".join(keys), "duplicate_key", "error", n, _msg_dup_key(name, keys)(n),
                 self.examples(g.select(*keys).order_by(keys)) if n else ())

    def single_key_check(self, spec: Table) -> list[_Check]:
        """Duplicate single-column keys as one reduction (non-null rows - distinct values)."""
        name, (key,) = spec.name, spec.key
        t = self.tables[name]
        dup = t.group_by(key).aggregate(n=t.count()).filter(lambda s: s.n > 1)
        return [_Check(name, key, "duplicate_key", "error", t[key].count() - t[key].nunique(),
                       lambda: dup.select(key).order_by(key), _msg_dup_key(name, [key]))]

    def orphans(self, spec: Table) -> None:
        name = spec.name
        for fk in spec.foreign_keys:
            if name not in self.usable or fk.column not in self.usable[name]:
                self.skip(name, fk.column, "orphan", f"column {name}.{fk.column} is missing or mistyped")
                continue
            if fk.ref_table not in self.usable or fk.ref_column not in self.usable[fk.ref_table]:
                self.skip(name, fk.column, "orphan", f"referenced {fk.ref_table}.{fk.ref_column} is missing")
                continue
            t, ref = self.tables[name], self.tables[fk.ref_table]
            ref_ids = ref.select(ref_id=ref[fk.ref_column]).distinct()
            orphan = t.filter(t[fk.column].notnull()).anti_join(ref_ids, t[fk.column] == ref_ids.ref_id)
            n = int(orphan.count().execute())
            if n:
                sev = "error" if n > self.threshold else "warning"
                missing = orphan.select(missing=orphan[fk.column]).distinct().order_by("missing")
                self.add(name, fk.column, "orphan", sev, n,
                         f"{n:,} row(s) of {name}.{fk.column} reference a {fk.ref_table}.{fk.ref_column} that "
                         f"does not exist (threshold {self.threshold}). Add the missing {fk.ref_table} rows or "
                         "remove these rows; examples are the unknown IDs.",
                         self.examples(missing))

    def before_signup(self, spec: Table) -> None:
        name = spec.name
        for column in spec.not_before_signup:
            check = "events_before_signup"
            needed = [(name, column), (name, "customer_id"), ("customers", "signup_ts"),
                      ("customers", "customer_id")]
            unusable = [f"{tb}.{col}" for tb, col in needed if col not in self.usable.get(tb, set())]
            if unusable:
                self.skip(name, column, check, f"{unusable} missing or mistyped")
                continue
            t, c = self.tables[name], self.tables["customers"]
            first = c.group_by("customer_id").aggregate(signup=c.signup_ts.min())
            j = t.join(first, t.customer_id == first.customer_id)
            early = j.filter(j[column] < j.signup)
            n = int(early.count().execute())
            keys = [k for k in spec.key if k in self.usable[name]] or ["customer_id"]
            self.add(name, column, check, "warning", n,
                     f"{n:,} row(s) of {name}.{column} precede the customer's signup_ts; kept (anonymous "
                     "browsing linked at signup).",
                     self.examples(early.select(*keys).order_by(keys)) if n else ())

    def refund_with_items(self) -> None:
        check = "refund_with_items"
        if not (self.col_ok("orders", "revenue", check) and self.col_ok("orders", "order_id", check)
                and self.col_ok("order_items", "order_id", check)):
            return
        o, it = self.tables["orders"], self.tables["order_items"]
        ids = it.select(item_order=it.order_id).distinct()
        bad = o.filter(money.finite(o.revenue) & (o.revenue < 0)).semi_join(ids, o.order_id == ids.item_order)
        n = int(bad.count().execute())
        self.add("orders", "revenue", check, "error", n,
                 f"{n:,} order(s) with negative revenue have order_items lines. Rule: revenue may be "
                 "negative only for refunds, and a refund is an order row with negative revenue and no "
                 "item lines. Fix the revenue or record the refund as its own order row.",
                 self.examples(bad.select("order_id").order_by("order_id")) if n else ())

    def extreme_values(self) -> None:
        """Warn about extreme order revenue and extreme daily spend per channel (examples are the
        order ids, or ``date/channel``), by the rule of :func:`playbook.data.money.limits`."""
        check, rule = "extreme_value", (f"Limit: {money.EXTREME_SIGMAS:g} robust SDs above the median of log10 "
                                        f"amounts, kept within {money.EXTREME_MIN_MULTIPLE:g}x-"
                                        f"{money.EXTREME_MAX_MULTIPLE:g}x the median (playbook.data.money).")
        if self.col_ok("orders", "revenue", check):
            o = self.tables["orders"]
            if self.wh.source.merge_line_items and {"customer_id", "order_ts"} <= self.usable["orders"]:
                o = merge_line_items(o.mutate(**{c: ibis.null(IBIS_TYPES[t]) for c, t in
                                                 (("discount", "float"), ("channel", "string"),
                                                  ("promo_code", "string")) if c not in o.columns}))
            key = "order_id" if "order_id" in self.usable["orders"] else o.columns[0]
            lims = money.limits(o, "revenue")
            bad = o.filter(extreme(o, lims[0].limit)) if lims else o.filter(ibis.literal(False))
            n = int(bad.count().execute()) if lims else 0
            self.add("orders", "revenue", check, "warning", n,
                     f"orders.revenue: {n:,} order(s) (or refunds of them) beyond "
                     f"{money.describe(lims[0], 'order') if lims else ''}. "
                     f"{rule} Check them in the source: test orders, amounts in cents or a shifted decimal "
                     "point are the usual causes. "
                     + ("They are left out of every analysis and counted in the reports "
                        "(data.exclude_extreme_orders: false keeps them)." if self.wh.source.exclude_extreme_orders
                        else "They are kept in the analyses (data.exclude_extreme_orders is false)."),
                     self.examples(bad.order_by([ibis.desc("revenue"), key]).select(key)) if n else ())
        if self.col_ok("spend", "spend", check) and self.col_ok("spend", "date", check):
            by = "channel" if "channel" in self.usable["spend"] else None
            s = self.tables["spend"]
            daily = money.daily_spend(s if by else s.mutate(channel=ibis.literal("all")))
            lims = money.limits(daily, "spend", by="channel")
            bad = daily.filter(money.over_limit(daily, "spend", lims, by="channel"))
            n = int(bad.count().execute()) if lims else 0
            hit = set(bad.select("channel").distinct().execute()["channel"].astype(str)) if n else set()
            where = "; ".join(f"{lim.group}: above {money.describe(lim, 'day')}" for lim in lims
                              if lim.group in hit)
            self.add("spend", "spend", check, "warning", n,
                     f"spend.spend: {n:,} day(s) on which a channel's total spend exceeds its limit ({where}). "
                     f"{rule} Check them in the source (amounts in cents, a shifted decimal point).",
                     self.examples(bad.order_by([ibis.desc("spend"), "date", "channel"])
                                   .select(bad.date.cast("date").cast("string"), "channel")) if n else ())


def _key_text(value: object) -> str:
    """An example key as text; dates (which come back as naive midnight timestamps) as ``YYYY-MM-DD``."""
    if isinstance(value, pd.Timestamp) and value.tz is None and value == value.normalize():
        return f"{value:%Y-%m-%d}"
    return str(value)


def _not_numbers(raw: ibis.Table, column: str) -> str:
    """For a number column stored as text: up to five of its values that are not plain decimal
    numbers, as a sentence (empty when there are none). Found by fuzzing (issue 19, item 17): one
    ``inf`` or ``12.00 USD`` among a CSV's first rows types the whole column as text, and the
    message then named only the type, not the cell to fix. Number columns hold no personal data."""
    c = raw[column].strip()
    odd = raw.filter(c.notnull() & (c != "") & ~c.re_search(PLAIN_NUMBER_REGEX))
    values = odd.select(value=c).distinct().order_by("value").limit(N_EXAMPLES).execute()["value"].tolist()
    if not values:
        return ""
    shown = ", ".join(repr(v if len(v) <= 40 else v[:37] + "...") for v in values)
    words = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}
    why = (" (NaN and infinity are not amounts: write the real number, or leave an unknown optional "
           "amount empty)" if any(v.lower() in words for v in values) else "")
    return f" Values that are not plain numbers: {shown}{why}."


def _blank_null(expr: ibis.Column) -> ibis.Column:
    return expr.nullif("")


def normalise_phone(phone: ibis.Column) -> ibis.Column:
    """Engine-side phone normalisation: keep a leading ``+``, drop every other non-digit.

    Returns null when no digit remains.
    """
    p = phone.strip()
    digits = p.re_replace(r"[^0-9]", "")
    return ibis.ifelse(p.startswith("+"), "+" + digits, digits).nullif("").nullif("+")


def _ids(t: ibis.Table, pred: ibis.Expr, ids: str) -> Callable[[], ibis.Table]:
    return lambda: t.filter(pred).select(ids).order_by(ids)


def _msg_dup_key(name: str, keys: list[str]) -> Callable[[int], str]:
    return lambda n: (f"{n:,} surplus row(s) in {name} repeat a primary key {keys}. Remove the duplicates "
                      "in the source (rows are never dropped silently).")


def _msg_missing(column: str) -> Callable[[int], str]:
    return lambda n: f"{n:,} customer(s) have no {column} (null or blank); handled by cleaning."


# --------------------------------------------------------------------------------------------
# entry points


def validate(wh: Warehouse, orphan_threshold: int = 0, now: dt.datetime | str | None = None) -> ValidationReport:
    """Check every table of ``wh`` against the contract and collect every problem.

    Parameters
    ----------
    wh : Warehouse
        Connected data source.
    orphan_threshold : int
        Orphan rows per foreign key tolerated as a warning; more are an error (default 0).
    now : datetime or str, optional
        Reference instant for ``future_timestamp`` (default: the current time, UTC).

    Returns
    -------
    ValidationReport
        Findings (errors, warnings, info) and skipped checks; never raises for bad data.
    """
    v = _Validator(wh, orphan_threshold, to_utc(now if now is not None else pd.Timestamp.now(tz="UTC")))
    for spec in TABLES.values():
        v.structure(spec)
    batched: list[_Check] = []
    for spec in TABLES.values():
        if spec.name in v.usable:
            batched += v.column_checks(spec)
    batched += v.customer_checks()
    v.run_batched(batched)
    for spec in TABLES.values():
        v.duplicate_keys(spec)
        v.orphans(spec)
        v.before_signup(spec)
    v.refund_with_items()
    v.extreme_values()
    order = {s: i for i, s in enumerate(SEVERITIES)}
    v.report.findings.sort(key=lambda f: order[f.severity])
    return v.report


def validate_source(source: DataSource | str | os.PathLike[str] | None, *, timezone: str | None = None,
                    encoding: str | None = None, orphan_threshold: int = 0,
                    now: dt.datetime | str | None = None) -> ValidationReport:
    """Connect to ``source`` (a :class:`DataSource`, or a location with ``timezone`` and
    ``encoding``: see :func:`playbook.data.warehouse.connect`) and :func:`validate` it."""
    wh = connect(source, timezone=timezone, encoding=encoding)
    return validate(wh, orphan_threshold=orphan_threshold, now=now)
