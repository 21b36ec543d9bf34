"""Engine-side aggregates of the canonical tables: daily sales and per-customer order history.

docs/architecture.md, "Conventions the code relies on" (data access): every scan is an Ibis
expression executed by the backend of a :class:`~playbook.data.warehouse.Warehouse`; only the
aggregates (one row per day, per customer) come back as pandas DataFrames. They read the tables
as :meth:`Warehouse.table <playbook.data.warehouse.Warehouse.table>` gives them (absent optional
tables empty, line items merged and extreme orders left out when configured).

Exact sums (:func:`exact_sum`). A SQL ``SUM`` of doubles adds the rows in whatever order the
engine meets them; DuckDB reads, joins and aggregates on several threads, so that order (and the
last bits of the total) changes from run to run ("Floating-Point Aggregate Operations with
Multi-Threading", https://duckdb.org/docs/stable/operations_manual/non-deterministic_behavior.html),
and so did every artifact computed from such a total (issue 18 item 9: reruns must be byte-identical).
Every float total the playbook takes in the engine is summed as a fixed-point ``DECIMAL(38, 12)``
instead: each value is rounded to 1e-12 (of a currency unit, or of a weight) once, and fixed-point
addition is exact, so the total is the same number whatever the order or the number of threads
(DECIMAL arithmetic is exact: https://duckdb.org/docs/stable/sql/data_types/numeric.html). The
rounding moves a total by at most ``rows * 5e-13``. Values a DECIMAL cannot hold (``NaN``,
``inf``, magnitudes from :data:`EXACT_SUM_LIMIT`) are added as doubles beside it, so they still
make the total ``NaN`` or infinite as a plain ``SUM`` would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.datatypes as idt
import pandas as pd

from playbook.data import money
from playbook.data.warehouse import Day, Warehouse, calendar_day, to_utc

#: ``daily_sales(by=...)`` dimensions and the table each comes from.
SALES_DIMENSIONS: dict[str, str] = {
    "channel": "orders.channel",
    "country": "customers.country",
    "category": "products.category (revenue allocated by order_items quantity * unit_price)",
}

#: Label of a dimension value that cannot be resolved (orphan customer, refund without items).
UNKNOWN = "unknown"

#: Fixed-point type of :func:`exact_sum`: 26 integer digits, 12 decimals (1e-12 resolution).
EXACT_SUM_TYPE = idt.Decimal(precision=38, scale=12)
#: Values of this magnitude or more are summed as doubles by :func:`exact_sum` (the DECIMAL holds
#: at most 1e26, and a total of many such values must fit too).
EXACT_SUM_LIMIT = 1e18


def exact_sum(value: ibis.NumericValue, where: ibis.BooleanValue | None = None) -> ibis.FloatingScalar:
    """Engine reduction: the float64 sum of ``value`` that does not depend on the row order.

    Floats are summed as :data:`EXACT_SUM_TYPE` (module docstring); integer and decimal columns
    are summed as they are (already exact). ``NaN``/``inf`` values and magnitudes of
    :data:`EXACT_SUM_LIMIT` or more are added as doubles, so the result is ``NaN``/infinite where
    a plain ``SUM`` is (adding non-finite values does not depend on the order either).

    Parameters
    ----------
    value : ibis numeric column
        The values to add (currency units, weights, counts).
    where : ibis boolean column, optional
        Only rows where it is true are added (as ``value.sum(where=...)``).

    Returns
    -------
    ibis float64 scalar
        Null when no row is added (or all are null), as ``SUM``.

    Examples
    --------
    >>> t = ibis.memtable({"x": [0.1, 0.2, 0.3]})
    >>> float(t.aggregate(s=exact_sum(t.x)).execute()["s"].iloc[0])
    0.6
    """
    if not value.type().is_floating():
        return value.sum(where=where).cast("float64")
    odd = money.non_finite(value) | (value.abs() >= EXACT_SUM_LIMIT).fill_null(False)
    exact = ibis.ifelse(odd, ibis.null(), value).cast(EXACT_SUM_TYPE).sum(where=where).cast("float64")
    spill = ibis.ifelse(odd, value, 0.0).sum(where=where)  # 0.0 unless a value is odd
    return ibis.ifelse(spill.fill_null(0.0) == 0.0, exact, exact.fill_null(0.0) + spill)


def exact_window_sum(value: ibis.NumericValue, window: ibis.expr.builders.LegacyWindowBuilder) -> ibis.FloatingValue:
    """Window form of :func:`exact_sum` for finite float values (weights, amounts): the sum over
    ``window`` as :data:`EXACT_SUM_TYPE`, back as float64 (the same whatever the row order)."""
    return value.cast(EXACT_SUM_TYPE).sum().over(window).cast("float64")



def _check_dims(by: Iterable[str]) -> list[str]:
    dims = list(by)
    unknown = [d for d in dims if d not in SALES_DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown daily_sales dimension(s) {unknown}. Choose from {list(SALES_DIMENSIONS)}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"Repeated dimension in by={dims}")
    return dims


def _sales_rows(wh: Warehouse, start: Day | None, end: Day | None, dims: Sequence[str]) -> ibis.Table:
    """Order rows in the window with day, dimensions and allocated revenue/discount ("share")."""
    o = wh.table("orders")
    if start is not None or end is not None:
        o = o.filter(wh.in_days(o.order_ts, start, end))
    rows = o.select("order_id", "customer_id", "revenue", "discount", "channel",
                    day=wh.local_day(o.order_ts))
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
        tot = it.group_by("order_id").aggregate(order_value=exact_sum(it.value), n_lines=it.count())
        it = it.join(tot, "order_id")
        share = ibis.ifelse(it.order_value > 0, it.value / it.order_value, 1.0 / it.n_lines)
        alloc = it.select("order_id", "category", share=share)
        alloc = alloc.group_by(["order_id", "category"]).aggregate(share=exact_sum(alloc.share))
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
        First and last day to include (both inclusive; calendar days of ``wh.day_zone``, the
        campaign's time zone, UTC by default); default: the data's range.
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
        Sorted by day and dimensions: ``day`` (naive ``datetime64[ns]`` midnight of the day in
        ``wh.day_zone``: an order at 23:30 local time counts on that local day),
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
    amount = rows.revenue * rows.share
    sale = rows.revenue >= 0
    agg = rows.group_by(["day", *dims]).aggregate(
        revenue=exact_sum(amount),
        gross_revenue=exact_sum(amount, where=sale),
        refunds=exact_sum(-amount, where=~sale),
        orders=rows.order_id.nunique(where=sale),
        customers=rows.customer_id.nunique(where=sale),
        discount=exact_sum(rows.discount * rows.share),
    )
    df = agg.execute()
    return _finish_daily(df, dims, start, end, fill_missing_days, wh.day_zone)


_MONEY = ["revenue", "gross_revenue", "refunds", "discount"]
_COUNTS = ["orders", "customers"]


def _finish_daily(df: pd.DataFrame, dims: list[str], start: Day | None, end: Day | None,
                  fill: bool, zone: str = "UTC") -> pd.DataFrame:
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
        first = calendar_day(start, zone) if start is not None else (df["day"].min() if not df.empty else None)
        last = calendar_day(end, zone) if end is not None else (df["day"].max() if not df.empty else None)
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
        monetary_total=exact_sum(o.revenue, where=sale),
        refunds_total=exact_sum(-o.revenue, where=~sale),
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
