"""Customer journeys (touch paths) built in the engine, with the rule-based credits.

:func:`build_paths` joins each converting order (a sale order in the window) to the same
customer's touches in the ``lookback_days`` before it (and after the customer's previous sale, so
one touch never serves two orders), orders them in time and keeps the most recent
``max_path_length``. Touches that lead to no order form *non-converting* journeys (split where two
touches are more than ``journey_gap_days`` apart), which the Markov and Shapley models of
:mod:`playbook.media.attribution` need. Everything runs in the engine (Ibis); only per-path and
per-channel aggregates come back.

The rule-based models are computed per touch in the engine while the paths are built:
first-touch, last-touch, linear, time-decay (weight ``2 ** (-age_days / half_life_days)``,
normalised per order) and position-based (40 % first, 40 % last, 20 % shared by the middle;
50/50 for two touches). The linear model's credit per day (``daily_credit``) feeds the
retrospective's response curves (:mod:`playbook.media.efficiency`).

The pandas helpers below work on the aggregated paths table (``path`` strings joined by
:data:`SEP`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from playbook.data.aggregates import exact_sum, exact_window_sum
from playbook.data.engines import ordered_join
from playbook.data.warehouse import Warehouse, calendar_day, to_utc

#: Separator between channels in a path string ("email > paid_search").
SEP = " > "
_DAY_S = 86400.0


# --------------------------------------------------------------------------------------------
# Paths (engine)
# --------------------------------------------------------------------------------------------
@dataclass
class PathData:
    """Touch paths and rule-based credits of one window, as returned by :func:`build_paths`.

    Attributes
    ----------
    paths : DataFrame
        One row per distinct path: ``path`` (channels joined by ``" > "``, oldest first),
        ``length``, ``conversions`` (orders), ``revenue`` (their sale revenue, currency units),
        ``new_customers`` (orders that were the customer's first sale ever) and
        ``non_conversions`` (journeys that led to no order).
    rule_credit : DataFrame
        ``model, channel, conversions, revenue, new_customers`` for the five rule-based models.
    daily_credit : DataFrame
        ``day, channel, conversions, revenue`` of the linear model per conversion day (input of
        the response curves).
    stats : dict
        Counts: ``orders`` (sale orders in the window), ``orders_with_touch``, ``truncated``
        (paths cut to ``max_path_length``), ``longest_path`` (before truncation),
        ``non_converting_journeys``, ``lookback_days``, ``max_path_length``.
    no_touch : DataFrame
        ``order_channel, orders, orders_without_touch`` (store orders usually have no touches).
    notes : list of str
        Plain-language notes on what was dropped or truncated.
    """

    paths: pd.DataFrame
    rule_credit: pd.DataFrame
    daily_credit: pd.DataFrame
    stats: dict[str, Any]
    no_touch: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def total_conversions(self) -> float:
        return float(self.paths["conversions"].sum()) if not self.paths.empty else 0.0

    @property
    def total_revenue(self) -> float:
        return float(self.paths["revenue"].sum()) if not self.paths.empty else 0.0


PATH_COLUMNS = ["path", "length", "conversions", "revenue", "new_customers", "non_conversions"]
CREDIT_COLUMNS = ["model", "channel", "conversions", "revenue", "new_customers"]


def _ts(value: Any) -> ibis.Expr:
    return ibis.timestamp(to_utc(value).to_pydatetime())


def _sale_orders(wh: Warehouse) -> ibis.Table:
    """Sale orders with the customer's previous sale time (``prev_ts``; null for a first order)."""
    o = wh.table("orders")
    o = o.filter(o.revenue >= 0, o.customer_id.notnull())
    w = ibis.window(group_by=o.customer_id, order_by=[o.order_ts, o.order_id])
    return o.select("order_id", "customer_id", "order_ts", "revenue",
                    order_channel=o.channel, prev_ts=o.order_ts.lag().over(w))


def _path_touches(orders: ibis.Table, touches: ibis.Table, lookback_days: float) -> ibis.Table:
    """(order, touch) pairs: touches of the customer within the lookback before the order."""
    lb = ibis.interval(seconds=int(round(lookback_days * _DAY_S)))
    t = touches.select(t_customer="customer_id", touch_id="touch_id", touch_ts="touch_ts",
                       channel="channel")
    j = orders.join(t, [orders.customer_id == t.t_customer,
                        t.touch_ts <= orders.order_ts,
                        t.touch_ts >= orders.order_ts - lb])
    return j.filter(j.prev_ts.isnull() | (j.touch_ts > j.prev_ts))


def build_paths(
    wh: Warehouse,
    start: dt.date | str,
    end: dt.date | str,
    lookback_days: float = 14.0,
    max_path_length: int = 20,
    half_life_days: float = 7.0,
    journey_gap_days: float = 7.0,
) -> PathData:
    """Build touch paths of the window's orders and the rule-based credits, in the engine.

    Parameters
    ----------
    wh : Warehouse
        Needs ``orders``; without ``touches`` every order is "without touch".
    start, end : date or str
        First and last day of the window (inclusive; calendar days of ``wh.day_zone``, the
        campaign's time zone, local midnight to local midnight); conversions are sale orders
        (revenue >= 0) placed in it.
    lookback_days : float
        Touches up to this many days before an order count towards it.
    max_path_length : int
        Longest path kept; older touches are dropped (counted in ``stats["truncated"]``).
    half_life_days : float
        Half-life of the time-decay model, in days.
    journey_gap_days : float
        Touches that lead to no order are grouped per customer into journeys; a gap longer than
        this starts a new journey.

    Returns
    -------
    PathData
    """
    if max_path_length < 1:
        raise ValueError(f"max_path_length must be at least 1, got {max_path_length}")
    if lookback_days <= 0 or half_life_days <= 0 or journey_gap_days <= 0:
        raise ValueError("lookback_days, half_life_days and journey_gap_days must be positive")
    s0, s1 = _ts(wh.day_start(start)), _ts(wh.day_start(calendar_day(end, wh.day_zone) + pd.Timedelta(days=1)))
    sale = _sale_orders(wh)
    conv = sale.filter(sale.order_ts >= s0, sale.order_ts < s1)
    notes: list[str] = []
    counts = conv.group_by("order_channel").aggregate(orders=conv.count()).execute()
    n_orders = int(counts["orders"].sum()) if not counts.empty else 0
    if not wh.has("touches"):
        notes.append("The data has no touches table: no order can be attributed to a channel.")
        return _empty_pathdata(n_orders, counts, lookback_days, max_path_length, notes)

    lb = pd.Timedelta(seconds=lookback_days * _DAY_S)
    touches = wh.table("touches")
    touches = touches.filter(touches.touch_ts >= _ts(wh.day_start(start) - lb),
                             touches.touch_ts < s1, touches.customer_id.notnull())
    pairs = _path_touches(conv, touches, lookback_days)
    w_end = ibis.window(group_by=pairs.order_id, order_by=[ibis.desc(pairs.touch_ts), ibis.desc(pairs.touch_id)])
    pairs = pairs.mutate(from_end=ibis.row_number().over(w_end),
                         n_all=pairs.count().over(ibis.window(group_by=pairs.order_id)))
    kept = pairs.filter(pairs.from_end < max_path_length)
    kept = kept.mutate(n=ibis.least(kept.n_all, max_path_length).cast("float64"),
                       age=(kept.order_ts.epoch_seconds() - kept.touch_ts.epoch_seconds()) / _DAY_S,
                       is_new=kept.prev_ts.isnull().cast("float64"))
    kept = kept.mutate(pos=kept.n - 1 - kept.from_end)
    decay = (kept.age * (-math.log(2) / half_life_days)).exp()
    kept = kept.mutate(decay=decay, decay_sum=exact_window_sum(decay, ibis.window(group_by=kept.order_id)))

    rule_credit = _rule_credit(kept)
    daily = _daily_credit(wh, kept)
    conv_paths = kept.group_by("order_id").aggregate(
        path=ordered_join(kept.channel, [kept.touch_ts, kept.touch_id], SEP),
        revenue=kept.revenue.max(), is_new=kept.is_new.max(), order_channel=kept.order_channel.arbitrary(),
        n_all=kept.n_all.max())
    per_path = conv_paths.group_by("path").aggregate(
        conversions=conv_paths.count(), revenue=exact_sum(conv_paths.revenue),
        new_customers=exact_sum(conv_paths.is_new)).execute()
    order_stats = conv_paths.group_by("order_channel").aggregate(
        with_touch=conv_paths.count(),
        truncated=(conv_paths.n_all > max_path_length).sum(),
        longest=conv_paths.n_all.max()).execute()

    # Non-converting journeys: touches in the window used by no order up to lookback after it.
    later = sale.filter(sale.order_ts >= s0, sale.order_ts < s1 + ibis.interval(seconds=int(lb.total_seconds())))
    used = _path_touches(later, touches, lookback_days).select("touch_id")
    free = touches.filter(touches.touch_ts >= s0).anti_join(used, "touch_id")
    non = _non_converting(free, journey_gap_days, max_path_length).execute()

    paths = _merge_paths(per_path, non)
    no_touch = _no_touch_table(counts, order_stats)
    n_with = int(no_touch["orders"].sum() - no_touch["orders_without_touch"].sum())
    truncated = int(order_stats["truncated"].sum()) if not order_stats.empty else 0
    longest = int(order_stats["longest"].max()) if not order_stats.empty else 0
    if truncated:
        notes.append(f"{truncated:,} paths were longer than {max_path_length} touches (longest "
                     f"{longest}); only their {max_path_length} most recent touches were kept.")
    if n_orders and n_with < n_orders:
        notes.append(f"{n_orders - n_with:,} of {n_orders:,} orders ({(n_orders - n_with) / n_orders:.0%}) "
                     f"had no touch in the {lookback_days:g} days before them and are not attributed to a channel.")
    if n_orders == 0:
        notes.append("No orders were placed in the window: there is nothing to attribute.")
    stats = {"orders": n_orders, "orders_with_touch": n_with, "truncated": truncated,
             "longest_path": longest, "non_converting_journeys": int(paths["non_conversions"].sum()),
             "lookback_days": lookback_days, "max_path_length": max_path_length,
             "half_life_days": half_life_days}
    return PathData(paths=paths, rule_credit=rule_credit, daily_credit=daily, stats=stats,
                    no_touch=no_touch, notes=notes)


def _rule_credit(kept: ibis.Table) -> pd.DataFrame:
    n = kept.n
    middle = ibis.ifelse(n > 2, 0.2 / (n - 2), 0.0)
    ends = ibis.ifelse(n == 1, 1.0, ibis.ifelse(n == 2, 0.5, 0.4))
    is_end = (kept.pos == 0) | (kept.from_end == 0)
    weights = {
        "first_touch": (kept.pos == 0).cast("float64"),
        "last_touch": (kept.from_end == 0).cast("float64"),
        "linear": 1.0 / n,
        "time_decay": kept.decay / kept.decay_sum,
        "position_based": ibis.ifelse(is_end, ends, middle),
    }
    aggs = {}
    for name, w in weights.items():
        aggs[f"{name}__conversions"] = exact_sum(w)
        aggs[f"{name}__revenue"] = exact_sum(w * kept.revenue)
        aggs[f"{name}__new_customers"] = exact_sum(w * kept.is_new)
    wide = kept.group_by("channel").aggregate(**aggs).order_by("channel").execute()
    rows = []
    for _, r in wide.iterrows():
        for name in weights:
            rows.append({"model": name, "channel": r["channel"],
                         "conversions": float(r[f"{name}__conversions"] or 0.0),
                         "revenue": float(r[f"{name}__revenue"] or 0.0),
                         "new_customers": float(r[f"{name}__new_customers"] or 0.0)})
    return pd.DataFrame(rows, columns=CREDIT_COLUMNS)


def _daily_credit(wh: Warehouse, kept: ibis.Table) -> pd.DataFrame:
    """Linear credit (1/n per touch) per order day (of ``wh.day_zone``) and channel."""
    w = 1.0 / kept.n
    d = kept.mutate(day=wh.local_day(kept.order_ts))
    df = d.group_by(["day", "channel"]).aggregate(conversions=exact_sum(w), revenue=exact_sum(w * d.revenue)).execute()
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    df[["conversions", "revenue"]] = df[["conversions", "revenue"]].astype(float).fillna(0.0)
    return df.sort_values(["day", "channel"], ignore_index=True)


def _non_converting(free: ibis.Table, gap_days: float, max_len: int) -> ibis.Table:
    w = ibis.window(group_by=free.customer_id, order_by=[free.touch_ts, free.touch_id])
    gap = (free.touch_ts.epoch_seconds() - free.touch_ts.lag().over(w).epoch_seconds()) / _DAY_S
    f = free.mutate(new=(gap.isnull() | (gap > gap_days)).cast("int64"))
    cw = ibis.cumulative_window(group_by=f.customer_id, order_by=[f.touch_ts, f.touch_id])
    f = f.mutate(journey=f.new.sum().over(cw))
    w_end = ibis.window(group_by=[f.customer_id, f.journey], order_by=[ibis.desc(f.touch_ts), ibis.desc(f.touch_id)])
    f = f.mutate(from_end=ibis.row_number().over(w_end))
    f = f.filter(f.from_end < max_len)
    j = f.group_by(["customer_id", "journey"]).aggregate(
        path=ordered_join(f.channel, [f.touch_ts, f.touch_id], SEP))
    return j.group_by("path").aggregate(non_conversions=j.count())


def _merge_paths(per_path: pd.DataFrame, non: pd.DataFrame) -> pd.DataFrame:
    per_path = per_path.astype({"conversions": "float64", "revenue": "float64", "new_customers": "float64"})
    non = non.astype({"non_conversions": "float64"})
    df = per_path.merge(non, on="path", how="outer")
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in PATH_COLUMNS}).astype({"path": object})
    df[["conversions", "revenue", "new_customers", "non_conversions"]] = df[
        ["conversions", "revenue", "new_customers", "non_conversions"]].fillna(0.0)
    df["path"] = df["path"].astype(str)
    df["length"] = df["path"].str.count(SEP.strip()) + 1
    df = df.sort_values(["conversions", "non_conversions", "path"], ascending=[False, False, True],
                        ignore_index=True)
    return df[PATH_COLUMNS]


def _no_touch_table(counts: pd.DataFrame, order_stats: pd.DataFrame) -> pd.DataFrame:
    df = counts.rename(columns={"order_channel": "order_channel"}).merge(
        order_stats[["order_channel", "with_touch"]], on="order_channel", how="left")
    df["with_touch"] = df["with_touch"].fillna(0).astype("int64")
    df["orders"] = df["orders"].astype("int64")
    df["orders_without_touch"] = df["orders"] - df["with_touch"]
    df["order_channel"] = df["order_channel"].astype(object).where(df["order_channel"].notna(), "unknown")
    return df[["order_channel", "orders", "orders_without_touch"]].sort_values(
        "order_channel", ignore_index=True)


def _empty_pathdata(n_orders: int, counts: pd.DataFrame, lookback_days: float, max_path_length: int,
                    notes: list[str]) -> PathData:
    paths = pd.DataFrame({c: pd.Series(dtype="float64") for c in PATH_COLUMNS}).astype({"path": object})
    credit = pd.DataFrame(columns=CREDIT_COLUMNS)
    daily = pd.DataFrame({"day": pd.Series(dtype="datetime64[ns]"), "channel": pd.Series(dtype=object),
                          "conversions": pd.Series(dtype=float), "revenue": pd.Series(dtype=float)})
    no_touch = counts.assign(orders_without_touch=counts["orders"]) if not counts.empty else \
        pd.DataFrame(columns=["order_channel", "orders", "orders_without_touch"])
    stats = {"orders": n_orders, "orders_with_touch": 0, "truncated": 0, "longest_path": 0,
             "non_converting_journeys": 0, "lookback_days": lookback_days,
             "max_path_length": max_path_length}
    return PathData(paths, credit, daily, stats, no_touch, notes)


# --------------------------------------------------------------------------------------------
# Path helpers (pandas, on aggregated paths)
# --------------------------------------------------------------------------------------------
def split_path(path: str | Sequence[str]) -> tuple[str, ...]:
    """``"a > b"`` -> ``("a", "b")``; tuples and lists pass through."""
    if isinstance(path, str):
        return tuple(p.strip() for p in path.split(SEP.strip()) if p.strip())
    return tuple(path)


def check_paths(paths: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``paths`` with numeric ``conversions``, ``non_conversions``, ``revenue`` (0 when
    absent) and ``steps`` (tuple of channels); rows with an empty path dropped, sorted by path (and
    the numbers), so models that add floats row by row give the same bits whatever order the
    rows came in (issue 18 item 9).

    Raises
    ------
    ValueError
        ``path`` or ``conversions`` is missing.
    """
    missing = [c for c in ("path", "conversions") if c not in paths.columns]
    if missing:
        raise ValueError(f"paths needs columns {missing}; it has {list(paths.columns)}")
    df = paths.copy()
    for c in ("conversions", "non_conversions", "revenue"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0.0) if c in df.columns else 0.0
    df["steps"] = df["path"].map(split_path)
    df = df[df["steps"].map(len) > 0]
    keys = ["path", *(c for c in ("conversions", "non_conversions", "revenue", "new_customers") if c in df.columns)]
    return df.sort_values(keys, kind="mergesort", ignore_index=True)


def path_channels(paths: pd.DataFrame) -> list[str]:
    """Sorted channels appearing in any path."""
    df = check_paths(paths)
    return sorted({c for s in df["steps"] for c in s})


def truncate_paths(paths: pd.DataFrame, max_length: int) -> pd.DataFrame:
    """Keep the ``max_length`` most recent touches of each path and re-aggregate identical paths."""
    df = check_paths(paths)
    df["path"] = df["steps"].map(lambda s: SEP.join(s[-max_length:]))
    cols = [c for c in ("conversions", "revenue", "new_customers", "non_conversions") if c in df.columns]
    out = df.groupby("path", as_index=False)[cols].sum()
    out["length"] = out["path"].map(lambda p: len(split_path(p)))
    return out



# --------------------------------------------------------------------------------------------
# Tables and sentences on paths
# --------------------------------------------------------------------------------------------
def journeys_per_channel(paths: pd.DataFrame) -> pd.Series:
    """Number of journeys (converting or not) in which each channel appears at least once."""
    df = check_paths(paths)
    n = df["conversions"] + df["non_conversions"]
    out: dict[str, float] = {}
    for steps, k in zip(df["steps"], n, strict=True):
        for c in set(steps):
            out[c] = out.get(c, 0.0) + k
    return pd.Series(out, dtype=float).sort_index()


def top_paths(paths: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Most common converting paths with conversions, revenue and conversion rate."""
    cols = ["path", "length", "conversions", "revenue", "conversion_rate"]
    if paths.empty or paths["conversions"].sum() <= 0:
        return pd.DataFrame(columns=cols)
    df = paths[paths["conversions"] > 0].copy()
    df["conversion_rate"] = df["conversions"] / (df["conversions"] + df["non_conversions"])
    return df.sort_values(["conversions", "path"], ascending=[False, True]).head(n)[cols].reset_index(drop=True)


def describe_paths(data: PathData) -> str:
    """Sentence on how many orders have a path, plus the notes on dropped/truncated data."""
    s = data.stats
    if s["orders"] == 0:
        return " ".join(data.notes) or "No orders in the window."
    text = (f"{s['orders_with_touch']:,} of {s['orders']:,} orders had at least one touch in the "
            f"{s['lookback_days']:g} days before them; {s['non_converting_journeys']:,} journeys ended without an order.")
    return " ".join([text, *data.notes])


