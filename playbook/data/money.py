"""Plausibility of money amounts: non-finite values and extreme order revenue or daily spend.

docs/architecture.md, "Conventions the code relies on": money is a float in the campaign
currency, and raw tables are never loaded into pandas. Every rule here is an Ibis expression run
by the engine; only one row of statistics per group (the whole table, or one spend channel) comes
back.

Non-finite amounts. ``NaN``, ``inf`` and ``-inf`` are float values, distinct from NULL: an empty
CSV cell is read as NULL, while the texts ``NaN``, ``nan``, ``inf``, ``-inf`` and ``Infinity``
are read by DuckDB as the float values. Parquet keeps whatever the writer stored: pandas
(pyarrow's ``from_pandas``) turns a ``NaN`` into NULL, other writers (Spark, pyarrow, Polars)
keep it as ``NaN``. :func:`non_finite` is true only for the float values; NULLs are left to the
contract's nullability check. Integer and decimal columns cannot hold them.

Extreme amounts (:func:`limits`). Among positive, finite amounts (refunds and zero orders are
never extreme), an amount is extreme when it exceeds its group's *limit*::

    log_limit = 10 ** (median(log10 x) + EXTREME_SIGMAS * MAD_TO_SD * MAD(log10 x))
    limit     = min(EXTREME_MAX_MULTIPLE * median(x), max(EXTREME_MIN_MULTIPLE * median(x), log_limit))

that is, ``EXTREME_SIGMAS`` robust standard deviations above the median on the log10 scale, but
never below 100x and never above 1000x the median amount (the defaults). The log scale suits
money, which is roughly log-normal; the median and the median absolute deviation (MAD) are not
moved by the extremes they look for. On the synthetic sample (2,000 customers) the order limit
is about 107x the median order of 76 (robust SD 0.34 decades) and the largest order is 23x the
median; daily spend per channel stays within 5x its channel's median.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

#: Money columns of the contract checked for non-finite values (table -> columns).
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("revenue", "discount"),
    "order_items": ("unit_price",),
    "products": ("price",),
    "spend": ("spend",),
}

EXTREME_SIGMAS: float = 6.0
"""Robust standard deviations of log10(amount) above the median log10(amount) beyond which an
amount is extreme (clamped by the two multiples below). Under a log-normal law 6 SDs is exceeded
by about one amount in a thousand million."""

EXTREME_MIN_MULTIPLE: float = 100.0
"""The limit is never below this multiple of the median amount, so that shops whose amounts vary
little (a few fixed prices: a tiny MAD) do not see ordinary multi-item orders flagged."""

EXTREME_MAX_MULTIPLE: float = 1000.0
"""The limit is never above this multiple of the median amount: whatever the spread, an order
worth 1000 median orders is flagged."""

MAD_TO_SD: float = 1.4826
"""Scale factor turning a median absolute deviation into a standard deviation (normal law)."""


@dataclass(frozen=True)
class Limit:
    """The extreme-amount limit of one group of amounts.

    Attributes
    ----------
    group : str or None
        The group's key (a spend channel), or None for the whole table.
    n : int
        Number of positive, finite amounts the statistics are computed on.
    median : float
        Median of those amounts (currency units).
    limit : float
        Amounts strictly above it are extreme (currency units).
    rule : str
        Which clause set the limit, e.g. ``"1000x the median"``.
    """

    group: str | None
    n: int
    median: float
    limit: float
    rule: str


def non_finite(c: ibis.Column) -> ibis.BooleanValue:
    """Engine predicate: ``c`` is ``NaN``, ``inf`` or ``-inf`` (false for NULL and non-float columns)."""
    if not c.type().is_floating():
        return ibis.literal(False)
    return (c.isnan() | c.isinf()).fill_null(False)


def finite(c: ibis.Column) -> ibis.BooleanValue:
    """Engine predicate: ``c`` is a number that is not ``NaN``/``inf``/``-inf`` (false for NULL)."""
    return c.notnull() & ~non_finite(c)


def limits(t: ibis.Table, value: str, by: str | None = None, *, sigmas: float = EXTREME_SIGMAS,
           min_multiple: float = EXTREME_MIN_MULTIPLE,
           max_multiple: float = EXTREME_MAX_MULTIPLE) -> list[Limit]:
    """Extreme-amount limits of column ``value`` of ``t``, per group of ``by`` (see the module
    docstring for the rule). Two engine queries (the MAD needs the median first).

    Parameters
    ----------
    t : ibis.Table
        Table holding the amounts (any size; only statistics are fetched).
    value : str
        Money column (currency units).
    by : str, optional
        Group column (one limit per value); None for one limit over the whole table.
    sigmas, min_multiple, max_multiple : float
        The rule's parameters (defaults: the module constants).

    Returns
    -------
    list of Limit
        One per group that has at least one positive, finite amount, ordered by group.
    """
    keys = [by] if by else []
    v = t.filter(finite(t[value]) & (t[value] > 0))
    v = v.select(*keys, x=v[value].cast("float64"), lx=v[value].cast("float64").log10())
    stats = v.aggregate(n=v.count(), median=v.x.median(), mlog=v.lx.median(), by=keys)
    j = v.join(stats, keys) if keys else v.cross_join(stats)
    spread = j.aggregate(mad=(j.lx - j.mlog).abs().median(), by=keys)
    s = stats.join(spread, keys) if keys else stats.cross_join(spread)
    df = s.execute()
    out = []
    for row in (df.sort_values(keys) if keys else df).itertuples(index=False):
        if not row.n:
            continue  # no positive, finite amount at all
        median, log_limit = float(row.median), 10.0 ** (float(row.mlog) + sigmas * MAD_TO_SD * float(row.mad))
        if log_limit >= max_multiple * median:
            limit, rule = max_multiple * median, f"{max_multiple:g}x the median"
        elif log_limit <= min_multiple * median:
            limit, rule = min_multiple * median, f"{min_multiple:g}x the median"
        else:
            limit = log_limit
            rule = f"{sigmas:g} robust SDs above the median on a log10 scale, {log_limit / median:.0f}x the median"
        group = str(getattr(row, by)) if by else None
        out.append(Limit(group, int(row.n), median, limit, rule))
    return out


def over_limit(t: ibis.Table, value: str, lims: list[Limit], by: str | None = None) -> ibis.BooleanValue:
    """Engine predicate: the row's ``value`` is finite and above its group's limit in ``lims``."""
    x = t[value]
    pred = ibis.literal(False)
    for lim in lims:
        above = finite(x) & (x > lim.limit)
        pred = pred | ((t[by] == lim.group) & above if by else above)
    return pred


def describe(lim: Limit, what: str) -> str:
    """``"52,300 (1000x the median order of 52.30)"`` for ``what="order"`` (currency units)."""
    return f"{_amount(lim.limit)} ({lim.rule} {what} of {_amount(lim.median)})"


def _amount(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 1000 else f"{x:,.0f}"


def daily_spend(spend: ibis.Table) -> ibis.Table:
    """Spend per UTC ``date`` and ``channel`` (summed over campaigns; non-finite rows left out; a
    missing channel is grouped as ``"(none)"``)."""
    s = spend.filter(finite(spend.spend))
    s = s.select("spend", date=s.date.cast("date"), channel=s.channel.cast("string").fill_null("(none)"))
    return s.group_by(["date", "channel"]).aggregate(spend=s.spend.sum())
