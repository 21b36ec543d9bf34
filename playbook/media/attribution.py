"""Multi-touch attribution: touch paths built in the engine, rule-based and data-driven models.

Paths
    :func:`build_paths` joins each converting order (a sale order in the window) to the same
    customer's touches in the ``lookback_days`` before it (and after the customer's previous
    sale, so one touch never serves two orders), orders them in time and keeps the most recent
    ``max_path_length``. Touches that lead to no order form *non-converting* journeys (split
    where two touches are more than ``journey_gap_days`` apart), which the Markov and Shapley
    models need. Everything runs in the engine (Ibis); only per-path and per-channel aggregates
    come back.

Rule-based models (computed per touch in the engine)
    first-touch, last-touch, linear, time-decay (weight ``2 ** (-age_days / half_life_days)``,
    normalised per order) and position-based (40 % first, 40 % last, 20 % shared by the middle;
    50/50 for two touches).

Data-driven models (on the aggregated paths, in pandas)
    * Markov chain with removal effect (Anderl, Becker, von Wangenheim & Schumann 2016), order
      ``k`` configurable: states are the last ``k`` channels.
    * Shapley values (Shapley 1953) over channel sets, with the characteristic function
      ``v(S)`` = conversion rate of journeys whose channel set is exactly ``S`` (exact for up to
      :data:`MAX_EXACT_CHANNELS` channels per set, permutation sampling beyond), or the
      simplified formula of Zhao et al. (2018), ``phi_j = sum_{S containing j} R(S) / |S|``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.engines import ordered_join
from playbook.data.warehouse import Warehouse, to_day, to_utc
from playbook.report.charts import empty_chart

#: Separator between channels in a path string ("email > paid_search").
SEP = " > "
#: Models in the order they are shown.
MODELS: tuple[str, ...] = ("first_touch", "last_touch", "linear", "time_decay", "position_based",
                           "markov", "shapley")
RULE_MODELS: tuple[str, ...] = MODELS[:5]
#: Largest channel set whose Shapley values are computed exactly (2**k coalitions).
MAX_EXACT_CHANNELS = 12
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
    stats: dict
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


def _ts(value) -> ibis.Expr:
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
        First and last UTC day of the window (inclusive); conversions are sale orders
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
    s0, s1 = _ts(to_day(start)), _ts(to_day(end) + pd.Timedelta(days=1))
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
    touches = touches.filter(touches.touch_ts >= _ts(to_utc(to_day(start)) - lb),
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
    kept = kept.mutate(decay=decay, decay_sum=decay.sum().over(ibis.window(group_by=kept.order_id)))

    rule_credit = _rule_credit(kept)
    daily = _daily_credit(kept)
    conv_paths = kept.group_by("order_id").aggregate(
        path=ordered_join(kept.channel, [kept.touch_ts, kept.touch_id], SEP),
        revenue=kept.revenue.max(), is_new=kept.is_new.max(), order_channel=kept.order_channel.arbitrary(),
        n_all=kept.n_all.max())
    per_path = conv_paths.group_by("path").aggregate(
        conversions=conv_paths.count(), revenue=conv_paths.revenue.sum(),
        new_customers=conv_paths.is_new.sum()).execute()
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
        aggs[f"{name}__conversions"] = w.sum()
        aggs[f"{name}__revenue"] = (w * kept.revenue).sum()
        aggs[f"{name}__new_customers"] = (w * kept.is_new).sum()
    wide = kept.group_by("channel").aggregate(**aggs).execute()
    rows = []
    for _, r in wide.iterrows():
        for name in weights:
            rows.append({"model": name, "channel": r["channel"],
                         "conversions": float(r[f"{name}__conversions"] or 0.0),
                         "revenue": float(r[f"{name}__revenue"] or 0.0),
                         "new_customers": float(r[f"{name}__new_customers"] or 0.0)})
    return pd.DataFrame(rows, columns=CREDIT_COLUMNS)


def _daily_credit(kept: ibis.Table) -> pd.DataFrame:
    w = 1.0 / kept.n
    d = kept.mutate(day=kept.order_ts.date())
    df = d.group_by(["day", "channel"]).aggregate(conversions=w.sum(), revenue=(w * d.revenue).sum()).execute()
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


def _empty_pathdata(n_orders, counts, lookback_days, max_path_length, notes) -> PathData:
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


def _check_paths(paths: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("path", "conversions") if c not in paths.columns]
    if missing:
        raise ValueError(f"paths needs columns {missing}; it has {list(paths.columns)}")
    df = paths.copy()
    for c in ("conversions", "non_conversions", "revenue"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0.0) if c in df.columns else 0.0
    df["steps"] = df["path"].map(split_path)
    return df[df["steps"].map(len) > 0]


def path_channels(paths: pd.DataFrame) -> list[str]:
    """Sorted channels appearing in any path."""
    df = _check_paths(paths)
    return sorted({c for s in df["steps"] for c in s})


def truncate_paths(paths: pd.DataFrame, max_length: int) -> pd.DataFrame:
    """Keep the ``max_length`` most recent touches of each path and re-aggregate identical paths."""
    df = _check_paths(paths)
    df["path"] = df["steps"].map(lambda s: SEP.join(s[-max_length:]))
    cols = [c for c in ("conversions", "revenue", "new_customers", "non_conversions") if c in df.columns]
    out = df.groupby("path", as_index=False)[cols].sum()
    out["length"] = out["path"].map(lambda p: len(split_path(p)))
    return out


# --------------------------------------------------------------------------------------------
# Markov chain
# --------------------------------------------------------------------------------------------
def _states(steps: tuple[str, ...], order: int) -> list[tuple[str, ...]]:
    return [steps[max(0, i - order + 1): i + 1] for i in range(len(steps))]


def markov_transitions(paths: pd.DataFrame, order: int = 1) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Transition probabilities of the order-``order`` Markov chain of the paths.

    Returns
    -------
    states : list of tuple
        Transient states (``("start",)`` first); a state is the last ``order`` channels.
    Q : ndarray
        Transient-to-transient transition probabilities.
    to_conv, to_null : ndarray
        Probability of absorbing into conversion / null from each state.
    """
    df = _check_paths(paths)
    start = ("(start)",)
    index: dict[tuple, int] = {start: 0}
    trans: dict[tuple[int, int], float] = {}
    conv: dict[int, float] = {}
    null: dict[int, float] = {}
    for steps, c, n in zip(df["steps"], df["conversions"], df["non_conversions"], strict=True):
        weight = c + n
        if weight <= 0:
            continue
        prev = 0
        for s in _states(steps, order):
            i = index.setdefault(s, len(index))
            trans[(prev, i)] = trans.get((prev, i), 0.0) + weight
            prev = i
        conv[prev] = conv.get(prev, 0.0) + c
        null[prev] = null.get(prev, 0.0) + n
    k = len(index)
    counts = np.zeros((k, k))
    for (a, b), w in trans.items():
        counts[a, b] += w
    tc = np.array([conv.get(i, 0.0) for i in range(k)])
    tn = np.array([null.get(i, 0.0) for i in range(k)])
    out = counts.sum(axis=1) + tc + tn
    safe = np.where(out > 0, out, 1.0)
    states = sorted(index, key=index.get)
    return states, counts / safe[:, None], tc / safe, tn / safe


def _p_conversion(Q: np.ndarray, to_conv: np.ndarray, removed: np.ndarray | None = None) -> float:
    """Probability of reaching conversion from state 0; ``removed`` states absorb into null."""
    Q = Q.copy()
    r = to_conv.copy()
    if removed is not None and removed.any():
        Q[:, removed] = 0.0
        Q[removed, :] = 0.0
        r[removed] = 0.0
    x = np.linalg.solve(np.eye(len(r)) - Q, r)
    return float(x[0])


def markov_removal_effects(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Removal effect of each channel in a Markov chain of the paths (Anderl et al. 2016).

    The removal effect of channel ``c`` is ``1 - P(conv | c removed) / P(conv)``, where removing
    ``c`` sends every journey that reaches a state containing ``c`` to "no conversion".

    Parameters
    ----------
    paths : DataFrame
        ``path``, ``conversions`` and ``non_conversions`` (journeys without conversion).
    order : int
        Markov order: how many previous channels define a state (1 = first order).

    Returns
    -------
    DataFrame
        ``channel, removal_effect, share`` (share = removal effect / sum of removal effects;
        0 for all when no journey converts), sorted by channel. ``attrs["p_conversion"]`` holds
        the chain's overall conversion probability.
    """
    if order < 1:
        raise ValueError(f"Markov order must be at least 1, got {order}")
    chans = path_channels(paths)
    if not chans:
        return pd.DataFrame({"channel": pd.Series(dtype=object), "removal_effect": pd.Series(dtype=float),
                             "share": pd.Series(dtype=float)})
    states, Q, to_conv, _ = markov_transitions(paths, order)
    base = _p_conversion(Q, to_conv)
    rows = []
    for ch in chans:
        removed = np.array([ch in s for s in states])
        p = _p_conversion(Q, to_conv, removed)
        rows.append({"channel": ch, "removal_effect": 0.0 if base <= 0 else 1.0 - p / base})
    out = pd.DataFrame(rows)
    total = out["removal_effect"].sum()
    out["share"] = out["removal_effect"] / total if total > 0 else 0.0
    out.attrs["p_conversion"] = base
    return out


def markov_attribution(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Conversions, revenue and new customers shared out by Markov removal effect.

    Returns
    -------
    DataFrame
        ``channel, conversions, revenue, new_customers`` (each the channel's share of the totals).
    """
    eff = markov_removal_effects(paths, order)
    df = _check_paths(paths)
    totals = {c: float(df[c].sum()) if c in df.columns else 0.0
              for c in ("conversions", "revenue", "new_customers")}
    return pd.DataFrame({"channel": eff["channel"],
                         **{c: eff["share"].to_numpy() * v for c, v in totals.items()}})


# --------------------------------------------------------------------------------------------
# Shapley values
# --------------------------------------------------------------------------------------------
def _set_table(paths: pd.DataFrame) -> pd.DataFrame:
    df = _check_paths(paths)
    if "new_customers" not in df.columns:
        df["new_customers"] = 0.0
    df["set"] = df["steps"].map(frozenset)
    return df.groupby("set", as_index=False)[["conversions", "non_conversions", "revenue",
                                              "new_customers"]].sum()


def conversion_rate_game(paths: pd.DataFrame) -> dict[frozenset, float]:
    """Characteristic function ``v(S)``: conversion rate of journeys with channel set exactly ``S``.

    Only sets seen in the data are returned; :func:`shapley_values` fills the others.
    """
    sets = _set_table(paths)
    n = sets["conversions"] + sets["non_conversions"]
    sets = sets[n > 0]
    return dict(zip(sets["set"], sets["conversions"] / (sets["conversions"] + sets["non_conversions"]),
                    strict=True))


def _filled_value(v: dict[frozenset, float], s: frozenset, cache: dict) -> float:
    """``v(s)`` when observed, else the best observed value of a subset (monotone fill); v(∅)=0."""
    if s in cache:
        return cache[s]
    if not s:
        val = 0.0
    elif s in v:
        val = v[s]
    else:
        val = max(_filled_value(v, s - {c}, cache) for c in s)
    cache[s] = val
    return val


def shapley_values(players: Iterable[str], value, n_permutations: int = 2000,
                   seed: int = 0) -> dict[str, float]:
    """Shapley values of a cooperative game restricted to ``players`` (Shapley 1953).

    Exact (sum over coalitions, weight ``|T|! (n-|T|-1)! / n!``) for up to
    :data:`MAX_EXACT_CHANNELS` players; otherwise the mean marginal contribution over
    ``n_permutations`` random orderings drawn with ``seed``.

    Parameters
    ----------
    players : iterable of str
    value : callable
        ``value(frozenset) -> float`` with ``value(frozenset()) == 0`` expected.
    """
    ps = sorted(set(players))
    n = len(ps)
    out = dict.fromkeys(ps, 0.0)
    if n == 0:
        return out
    if n <= MAX_EXACT_CHANNELS:
        fact = [math.factorial(i) for i in range(n + 1)]
        for p in ps:
            others = [q for q in ps if q != p]
            tot = 0.0
            for k in range(n):
                w = fact[k] * fact[n - k - 1] / fact[n]
                for t in combinations(others, k):
                    ts = frozenset(t)
                    tot += w * (value(ts | {p}) - value(ts))
            out[p] = tot
        return out
    rng = np.random.default_rng(seed)
    for _ in range(n_permutations):
        perm = rng.permutation(ps)
        cur: frozenset = frozenset()
        prev = value(cur)
        for p in perm:
            cur = cur | {p}
            val = value(cur)
            out[p] += (val - prev) / n_permutations
            prev = val
    return out


def shapley_attribution(paths: pd.DataFrame, method: str = "conversion_rate",
                        seed: int = 0) -> pd.DataFrame:
    """Conversions, revenue and new customers credited by Shapley values over channel sets.

    Parameters
    ----------
    paths : DataFrame
        ``path, conversions, non_conversions`` (and optionally ``revenue``, ``new_customers``).
    method : {"conversion_rate", "simplified"}
        ``"conversion_rate"``: for each converting channel set ``S``, the Shapley values of the
        game ``v(T)`` = conversion rate of journeys with exactly set ``T`` (``T`` a subset of
        ``S``; unseen sets take the best value of a seen subset, ``v(∅) = 0``) split the
        conversions of ``S``; negative values are set to 0 before normalising, and a set whose
        values are all 0 is split equally. ``"simplified"``: Zhao et al. (2018),
        ``phi_j = sum over sets S containing j of R(S) / |S|`` with ``R(S)`` the conversions of
        set ``S`` (needs no non-converting journeys).
    seed : int
        Seed of the permutation sampling used for sets larger than :data:`MAX_EXACT_CHANNELS`.

    Returns
    -------
    DataFrame
        ``channel, conversions, revenue, new_customers``.
    """
    if method not in ("conversion_rate", "simplified"):
        raise ValueError(f"Unknown Shapley method {method!r}. Choose from ['conversion_rate', 'simplified']")
    sets = _set_table(paths)
    chans = sorted({c for s in sets["set"] for c in s})
    credit = {c: np.zeros(3) for c in chans}
    v = conversion_rate_game(paths) if method == "conversion_rate" else {}
    cache: dict = {}
    for s, conv, rev, new in zip(sets["set"], sets["conversions"], sets["revenue"], sets["new_customers"],
                                 strict=True):
        if conv <= 0:
            continue
        if method == "simplified":
            share = dict.fromkeys(s, 1.0 / len(s))
        else:
            phi = shapley_values(s, lambda t: _filled_value(v, t, cache), seed=seed)
            pos = {k: max(x, 0.0) for k, x in phi.items()}
            tot = sum(pos.values())
            share = {k: x / tot for k, x in pos.items()} if tot > 0 else dict.fromkeys(s, 1.0 / len(s))
        for k, x in share.items():
            credit[k] += x * np.array([conv, rev, new])
    return pd.DataFrame([{"channel": c, "conversions": a[0], "revenue": a[1], "new_customers": a[2]}
                         for c, a in credit.items()], columns=["channel", "conversions", "revenue",
                                                               "new_customers"])


# --------------------------------------------------------------------------------------------
# Side by side
# --------------------------------------------------------------------------------------------
def rule_based_from_paths(paths: pd.DataFrame) -> pd.DataFrame:
    """First/last/linear/position-based credit from aggregated paths (no time decay: no ages).

    A pandas reference for the engine-side credits of :func:`build_paths`.
    """
    df = _check_paths(paths)
    rows: dict[tuple[str, str], float] = {}
    for steps, c in zip(df["steps"], df["conversions"], strict=True):
        n = len(steps)
        for i, ch in enumerate(steps):
            w = {"first_touch": float(i == 0), "last_touch": float(i == n - 1), "linear": 1.0 / n,
                 "position_based": 1.0 if n == 1 else 0.5 if n == 2 else
                 (0.4 if i in (0, n - 1) else 0.2 / (n - 2))}
            for m, x in w.items():
                rows[(m, ch)] = rows.get((m, ch), 0.0) + x * c
    return pd.DataFrame([{"model": m, "channel": ch, "conversions": x} for (m, ch), x in rows.items()])


def attribute(data: PathData, markov_order: int = 1, shapley_method: str = "conversion_rate",
              seed: int = 0) -> pd.DataFrame:
    """All seven models side by side in long form.

    Returns
    -------
    DataFrame
        ``model, channel, conversions, revenue, new_customers, share`` (share of the model's
        conversions), one row per model and channel seen in any path; 0 where a model gives a
        channel nothing. Empty (with these columns) when there is no path.
    """
    parts = [data.rule_credit]
    if not data.paths.empty and data.total_conversions > 0:
        parts.append(markov_attribution(data.paths, markov_order).assign(model="markov"))
        parts.append(shapley_attribution(data.paths, shapley_method, seed=seed).assign(model="shapley"))
    df = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(
        not p.empty for p in parts) else pd.DataFrame(columns=CREDIT_COLUMNS)
    cols = ["model", "channel", "conversions", "revenue", "new_customers", "share"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("model", "channel") else float) for c in cols})
    chans = sorted(set(df["channel"]) | set(path_channels(data.paths) if not data.paths.empty else []))
    grid = pd.MultiIndex.from_product([[m for m in MODELS if m in set(df["model"])], chans],
                                      names=["model", "channel"]).to_frame(index=False)
    df = grid.merge(df, on=["model", "channel"], how="left")
    df[["conversions", "revenue", "new_customers"]] = df[["conversions", "revenue", "new_customers"]].astype(
        float).fillna(0.0)
    tot = df.groupby("model")["conversions"].transform("sum")
    df["share"] = np.where(tot > 0, df["conversions"] / tot.where(tot > 0, 1.0), 0.0)
    return df[cols]


def comparison_table(long: pd.DataFrame, value: str = "conversions") -> pd.DataFrame:
    """Wide table: one row per channel, one column per model (``value``), sorted by Shapley."""
    if long.empty:
        return pd.DataFrame(columns=["channel", *MODELS]).set_index("channel")
    wide = long.pivot_table(index="channel", columns="model", values=value, aggfunc="sum", fill_value=0.0)
    wide = wide[[m for m in MODELS if m in wide.columns]]
    key = "shapley" if "shapley" in wide.columns else wide.columns[-1]
    return wide.sort_values(key, ascending=False)


def rank_agreement(long: pd.DataFrame, true_rank: dict[str, int], per_exposure: pd.Series | None = None,
                   value: str = "conversions") -> pd.DataFrame:
    """Spearman rank correlation of each model's channel ranking with a planted ranking.

    Parameters
    ----------
    long : DataFrame
        Output of :func:`attribute`.
    true_rank : dict
        ``{channel: rank}`` with 1 = most incremental (e.g. ``truth["touch_model"]["incremental_rank"]``).
    per_exposure : Series, optional
        Journeys containing each channel; when given, credit is divided by it first (credit per
        journey the channel appears in), which compares effectiveness rather than reach.

    Returns
    -------
    DataFrame
        ``model, spearman, channels`` (channels present in both), in :data:`MODELS` order.
    """
    from scipy.stats import spearmanr

    rows = []
    for m in [m for m in MODELS if m in set(long["model"])]:
        sub = long[long["model"] == m].set_index("channel")[value]
        common = [c for c in sub.index if c in true_rank]
        if per_exposure is not None:
            common = [c for c in common if per_exposure.get(c, 0) > 0]
        if len(common) < 3:
            rows.append({"model": m, "spearman": 0.0, "channels": len(common)})
            continue
        score = sub[common].astype(float)
        if per_exposure is not None:
            score = score / per_exposure[common].astype(float)
        rho = spearmanr(score.to_numpy(), [-true_rank[c] for c in common]).statistic
        rows.append({"model": m, "spearman": float(0.0 if np.isnan(rho) else rho), "channels": len(common)})
    return pd.DataFrame(rows, columns=["model", "spearman", "channels"])


def journeys_per_channel(paths: pd.DataFrame) -> pd.Series:
    """Number of journeys (converting or not) in which each channel appears at least once."""
    df = _check_paths(paths)
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


def plot_attribution(long: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Grouped bars: revenue credited to each channel by each model."""
    from playbook.report.charts import money_formatter

    fig, ax = plt.subplots(figsize=(11, 4.8))
    if long.empty or long["revenue"].abs().sum() == 0:
        empty_chart(ax, "No attributed conversions in the window")
        return fig
    wide = comparison_table(long, "revenue")
    models = list(wide.columns)
    x = np.arange(len(wide))
    width = 0.8 / len(models)
    colors = plt.get_cmap("tab10").colors
    for i, m in enumerate(models):
        ax.bar(x + (i - (len(models) - 1) / 2) * width, wide[m], width, label=m.replace("_", " "),
               color=colors[i % len(colors)])
    ax.set_xticks(x, [c.replace("_", " ") for c in wide.index])
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Revenue credited to each channel, by attribution model")
    ax.set_xlabel("touch channel")
    ax.set_ylabel(f"attributed revenue in the window ({currency})")
    ax.legend(ncols=4, frameon=False, fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def describe_attribution(long: pd.DataFrame, agreement: pd.DataFrame | None = None) -> str:
    """One or two sentences on how the models disagree (Markdown)."""
    if long.empty or long["conversions"].sum() <= 0:
        return "No order in the window had a touch before it, so no channel can be credited."
    wide = comparison_table(long, "share")
    lt = wide["last_touch"] if "last_touch" in wide.columns else None
    dd = wide["shapley"] if "shapley" in wide.columns else wide.iloc[:, -1]
    top = dd.idxmax()
    text = f"The Shapley model credits **{top.replace('_', ' ')}** most ({dd[top]:.0%} of conversions)"
    if lt is not None:
        diff = (dd - lt)
        up, down = diff.idxmax(), diff.idxmin()
        text += (f"; against last-touch it gains most for **{up.replace('_', ' ')}** "
                 f"({lt[up]:.0%} → {dd[up]:.0%}) and loses most for **{down.replace('_', ' ')}** "
                 f"({lt[down]:.0%} → {dd[down]:.0%}).")
    else:
        text += "."
    if agreement is not None and not agreement.empty:
        best = agreement.sort_values("spearman", ascending=False).iloc[0]
        text += (f" Against the planted incremental ranking, **{best['model'].replace('_', ' ')}** agrees best "
                 f"(Spearman {best['spearman']:.2f}).")
    return text


def describe_paths(data: PathData) -> str:
    """Sentence on how many orders have a path, plus the notes on dropped/truncated data."""
    s = data.stats
    if s["orders"] == 0:
        return " ".join(data.notes) or "No orders in the window."
    text = (f"{s['orders_with_touch']:,} of {s['orders']:,} orders had at least one touch in the "
            f"{s['lookback_days']:g} days before them; {s['non_converting_journeys']:,} journeys ended without an order.")
    return " ".join([text, *data.notes])


def planted_agreement(long: pd.DataFrame, data: PathData, data_source: str) -> pd.DataFrame:
    """Rank agreement with the planted incremental ranking, when the data source is synthetic.

    Reads ``truth.json`` beside the data (written by ``playbook generate-data``) and compares each
    model's credit *per journey the channel appears in* with ``touch_model.incremental_rank``.

    Returns
    -------
    DataFrame
        :func:`rank_agreement` output; empty for real data (no ``truth.json``).
    """
    import json

    from playbook.paths import resolve

    empty = pd.DataFrame(columns=["model", "spearman", "channels"])
    try:
        path = resolve(str(data_source)) / "truth.json"
    except Exception:  # noqa: BLE001 - URLs have no truth file
        return empty
    if not path.is_file() or long.empty:
        return empty
    ranks = json.loads(path.read_text()).get("touch_model", {}).get("incremental_rank")
    if not ranks:
        return empty
    return rank_agreement(long, ranks, per_exposure=journeys_per_channel(data.paths))


def describe_agreement(agreement: pd.DataFrame) -> str:
    """Sentence giving each model's rank correlation with the planted contributions (Markdown)."""
    if agreement.empty:
        return ("No planted truth is available for this data source (real data), so the models cannot be "
                "checked against known contributions.")
    parts = [f"{m.replace('_', ' ')} {r:+.2f}" for m, r in zip(agreement["model"], agreement["spearman"], strict=True)]
    return ("Spearman rank correlation between each model's credit per journey and the planted incremental "
            "ranking of the channels (1 = same order): " + ", ".join(parts) + ".")
