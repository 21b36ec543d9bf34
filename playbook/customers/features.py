"""Customer 360 features as of a date, aggregated in the engine (one row per resolved person).

Every raw-table scan is an Ibis expression on ids resolved through the merge map of
:mod:`playbook.customers.cleaning`; only per-customer aggregates come back to pandas.

Time convention: ``as_of`` is an instant (UTC). Everything strictly before it counts; a window of
``W`` days is ``[as_of - W days, as_of)``. The segment step uses the *end* of the planning-cutoff
day (:func:`playbook.data.cutoff.planning_as_of`, the one cutoff definition of every step), so the
cutoff day itself is included.

Feature names (the fields the rule language of the campaign config can use):

Whole history / point in time
    ``orders_total`` (sale orders), ``monetary_total`` (net revenue: sales minus refunds,
    currency units), ``gross_sales_total``, ``refunds_total`` (absolute refunded amount),
    ``refund_orders_total``, ``aov`` (gross sales / sale orders; 0 without orders),
    ``days_since_last_order`` (days since the last sale; **missing (NaN) for customers who never
    bought**: a numeric rule never matches a missing value), ``days_since_first_order`` (idem),
    ``tenure_days`` (days since the first signup of the person), ``discount_share`` (share of gross
    sales from orders with a discount), ``category_share_<category>`` (share of item value),
    ``channel_share_<web|app|store>`` (share of sale orders), ``emails_sent_total``,
    ``email_open_rate`` / ``email_click_rate`` (opens/clicks per delivered email; 0 without email),
    ``views_total``, ``sessions_total``, ``browse_sessions_without_purchase_total``,
    ``cart_abandonments_total`` (sessions with an add-to-cart and no purchase),
    ``seasonal_order_share`` (share of sale orders placed in the comparison seasons),
    ``orders_last_season``, ``bought_last_season`` (0/1, the most recent comparison season),
    ``browsing_without_buying`` (0/1: views in the last 90 days, no order in the last 90 days).
Windowed (``<base>_<W>d`` for every window ``W`` requested)
    bases of :data:`WINDOWED_BASES`.
Attributes
    ``country``, ``consent_email``, ``consent_ads``, ``email_valid``, ``phone_valid``, ``erased``,
    ``email_unsubscribed``, ``sms_unsubscribed``, ``email_bounced``, ``sms_bounced``,
    ``accounts`` (accounts merged into the person).

Merged people: erased if any account is erased; consent only if every account consented
(conservative); unsubscribed/bounced if any account is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import ibis
import numpy as np
import pandas as pd

from playbook.customers.cleaning import clean_customers, resolve_customer_ids
from playbook.data.aggregates import exact_sum
from playbook.data.cutoff import cutoff_instant
from playbook.data.warehouse import Warehouse, fetch, to_utc

DEFAULT_WINDOWS: tuple[int, ...] = (30, 90, 365)

#: Bases of windowed features and what they count in ``[as_of - W days, as_of)``.
WINDOWED_BASES: dict[str, str] = {
    "orders": "sale orders (revenue >= 0)",
    "revenue": "net revenue (sales minus refunds), currency units",
    "refunds": "refund orders (revenue < 0)",
    "views": "product view events",
    "add_to_carts": "add-to-cart events",
    "sessions": "browsing sessions (by first event time)",
    "cart_abandonments": "sessions with an add-to-cart and no purchase",
    "browse_sessions_without_purchase": "sessions with a view and no purchase",
    "emails_sent": "marketing emails sent",
    "email_opens": "emails opened (by open time)",
    "email_clicks": "emails clicked (by click time)",
}

ORDER_CHANNELS = ("web", "app", "store")
DAY = pd.Timedelta(days=1)


#: End of the UTC day ``day`` (midnight of the next day), the as-of instant of a cutoff date
#: (kept under its old name; defined once in :func:`playbook.data.cutoff.cutoff_instant`).
as_of_instant = cutoff_instant


def live(features: pd.DataFrame) -> pd.DataFrame:
    """The analysis base: people who have not asked for erasure (``erased`` false)."""
    return features[~features["erased"]]


def _ts(x: pd.Timestamp) -> ibis.TimestampScalar:
    return ibis.timestamp(x.to_pydatetime())


def _windows(windows: Iterable[int]) -> list[int]:
    out = sorted({int(w) for w in windows})
    if any(w < 1 for w in out):
        raise ValueError(f"Windows must be whole days >= 1; got {out}")
    return out


def _people(wh: Warehouse, merge_map: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    c = clean_customers(wh)
    c = resolve_customer_ids(c, merge_map)
    g = c.group_by("customer_id").aggregate(
        signup_ts=c.signup_ts.min(),
        country=c.country.arbitrary(where=c.customer_id == c.account_id),
        consent_email=c.consent_email.fill_null(False).all(),
        consent_ads=c.consent_ads.fill_null(False).all(),
        email_valid=c.email_valid.any(),
        phone_valid=c.phone_valid.any(),
        erased=c.erased.any(),
        accounts=c.account_id.count(),
    )
    g = g.filter(g.signup_ts < _ts(as_of))
    return fetch(g)


def _orders(wh: Warehouse, merge_map: pd.DataFrame, as_of: pd.Timestamp, windows: list[int],
            seasons: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
            last_season: tuple[pd.Timestamp, pd.Timestamp] | None) -> pd.DataFrame:
    o = resolve_customer_ids(wh.table("orders"), merge_map)
    o = o.filter(o.order_ts < _ts(as_of), o.customer_id.notnull())
    sale = o.revenue >= 0
    agg = dict(
        orders_total=sale.sum(),
        gross_sales_total=exact_sum(o.revenue, where=sale),
        refunds_total=exact_sum(-o.revenue, where=~sale),
        refund_orders_total=(~sale).sum(),
        monetary_total=exact_sum(o.revenue),
        first_order_ts=o.order_ts.min(where=sale),
        last_order_ts=o.order_ts.max(where=sale),
        discounted_sales=exact_sum(o.revenue, where=sale & (o.discount > 0)),
    )
    for ch in ORDER_CHANNELS:
        agg[f"orders_{ch}"] = (sale & (o.channel == ch)).sum()
    in_season = ibis.literal(False)
    for start, end in seasons:
        in_season = in_season | ((o.order_ts >= _ts(start)) & (o.order_ts < _ts(end)))
    agg["orders_in_seasons"] = (sale & in_season).sum()
    if last_season is not None:
        agg["orders_last_season"] = (sale & (o.order_ts >= _ts(last_season[0]))
                                     & (o.order_ts < _ts(last_season[1]))).sum()
    for w in windows:
        inw = o.order_ts >= _ts(as_of - w * DAY)
        agg[f"orders_{w}d"] = (sale & inw).sum()
        agg[f"revenue_{w}d"] = exact_sum(o.revenue, where=inw)
        agg[f"refunds_{w}d"] = (~sale & inw).sum()
    return fetch(o.group_by("customer_id").aggregate(**agg))


def _categories(wh: Warehouse, merge_map: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    if not (wh.has("order_items") and wh.has("products")):
        return pd.DataFrame({"customer_id": pd.Series(dtype=object)})
    o = resolve_customer_ids(wh.table("orders"), merge_map)
    o = o.filter(o.order_ts < _ts(as_of), o.revenue >= 0).select("order_id", "customer_id")
    it = wh.table("order_items")
    p = wh.table("products").select("product_id", "category")
    j = it.join(o, "order_id").join(p, "product_id")
    value = j.quantity * j.unit_price
    cats = sorted(str(x) for x in p.select("category").distinct().execute()["category"].dropna())
    agg = {f"category_value_{_slug(cat)}": value.sum(where=j.category == cat) for cat in cats}
    agg["items_value"] = value.sum()
    return fetch(j.group_by("customer_id").aggregate(**agg))


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in str(text).lower()).strip("_")
    return out or "unknown"


def _events(wh: Warehouse, merge_map: pd.DataFrame, as_of: pd.Timestamp, windows: list[int]) -> pd.DataFrame:
    ev = resolve_customer_ids(wh.table("events"), merge_map)
    ev = ev.filter(ev.event_ts < _ts(as_of), ev.customer_id.notnull())
    s = ev.group_by(["customer_id", "session_id"]).aggregate(
        start=ev.event_ts.min(),
        views=(ev.event_type == "view").sum(),
        carts=(ev.event_type == "add_to_cart").sum(),
        purchases=(ev.event_type == "purchase").sum(),
    )
    abandon = (s.carts > 0) & (s.purchases == 0)
    browse = (s.views > 0) & (s.purchases == 0)
    agg = dict(views_total=s.views.sum(), sessions_total=s.count(),
               cart_abandonments_total=abandon.sum(),
               browse_sessions_without_purchase_total=browse.sum())
    for w in windows:
        inw = s.start >= _ts(as_of - w * DAY)
        agg[f"views_{w}d"] = s.views.sum(where=inw)
        agg[f"add_to_carts_{w}d"] = s.carts.sum(where=inw)
        agg[f"sessions_{w}d"] = inw.sum()
        agg[f"cart_abandonments_{w}d"] = (abandon & inw).sum()
        agg[f"browse_sessions_without_purchase_{w}d"] = (browse & inw).sum()
    return fetch(s.group_by("customer_id").aggregate(**agg))


def _messages(wh: Warehouse, merge_map: pd.DataFrame, as_of: pd.Timestamp, windows: list[int]) -> pd.DataFrame:
    m = resolve_customer_ids(wh.table("messages"), merge_map)
    m = m.filter(m.sent_ts < _ts(as_of), m.customer_id.notnull())
    t = _ts(as_of)
    email = m.channel == "email"
    bounced = m.bounced_ts.notnull() & (m.bounced_ts < t)
    opened = m.opened_ts.notnull() & (m.opened_ts < t)
    clicked = m.clicked_ts.notnull() & (m.clicked_ts < t)
    unsub = m.unsubscribed_ts.notnull() & (m.unsubscribed_ts < t)
    agg = dict(
        emails_sent_total=email.sum(),
        emails_delivered_total=(email & ~bounced).sum(),
        email_opens_total=(email & opened).sum(),
        email_clicks_total=(email & clicked).sum(),
        email_unsubscribed=(email & unsub).any(),
        sms_unsubscribed=((m.channel == "sms") & unsub).any(),
        email_bounced=(email & bounced).any(),
        sms_bounced=((m.channel == "sms") & bounced).any(),
    )
    for w in windows:
        lo = _ts(as_of - w * DAY)
        agg[f"emails_sent_{w}d"] = (email & (m.sent_ts >= lo)).sum()
        agg[f"email_opens_{w}d"] = (email & opened & (m.opened_ts >= lo)).sum()
        agg[f"email_clicks_{w}d"] = (email & clicked & (m.clicked_ts >= lo)).sum()
    return fetch(m.group_by("customer_id").aggregate(**agg))


def past_seasons(cfg, as_of: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Comparison seasons of ``cfg`` that ended before ``as_of`` as half-open UTC intervals,
    most recent first."""
    out = []
    for s in cfg.comparison_seasons:
        start, end = to_utc(s.start), to_utc(s.end) + DAY
        if end <= as_of:
            out.append((start, end))
    return sorted(out, key=lambda x: x[0], reverse=True)


def customer_features(
    wh: Warehouse,
    as_of: pd.Timestamp | dt.datetime | str,
    merge_map: pd.DataFrame,
    windows: Iterable[int] = DEFAULT_WINDOWS,
    seasons: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = (),
) -> pd.DataFrame:
    """One row per resolved customer signed up before ``as_of`` with the Customer 360 features.

    Parameters
    ----------
    wh : Warehouse
        Needs ``customers`` and ``orders``; ``events``, ``messages``, ``order_items`` +
        ``products`` add their features when present (zeros otherwise).
    as_of : timestamp
        The instant the features describe (UTC; naive values read as UTC); data at or after it is
        ignored.
    merge_map : pandas.DataFrame
        ``customer_id -> kept_id`` from :func:`playbook.customers.cleaning.resolve_identities`.
    windows : iterable of int
        Look-back windows in days for the windowed features (:data:`WINDOWED_BASES`).
    seasons : sequence of (start, end)
        Past seasons as half-open UTC intervals, most recent first (:func:`past_seasons`); the
        first is "last season".

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id`` (the kept account id of each person). No missing values except
        ``days_since_last_order`` / ``days_since_first_order`` of customers who never bought.
        See the module docstring for every column.
    """
    as_of = to_utc(as_of)
    ws = _windows(windows)
    seasons = list(seasons)
    last = seasons[0] if seasons else None
    df = _people(wh, merge_map, as_of)
    parts = [_orders(wh, merge_map, as_of, ws, seasons, last), _categories(wh, merge_map, as_of)]
    if wh.has("events"):
        parts.append(_events(wh, merge_map, as_of, ws))
    if wh.has("messages"):
        parts.append(_messages(wh, merge_map, as_of, ws))
    df["customer_id"] = df["customer_id"].astype(str)
    for part in parts:
        part["customer_id"] = part["customer_id"].astype(str)
        df = df.merge(part, on="customer_id", how="left")
    return _derive(df, as_of, ws, has_last=last is not None)


_BOOL_COLS = ("consent_email", "consent_ads", "email_valid", "phone_valid", "erased",
              "email_unsubscribed", "sms_unsubscribed", "email_bounced", "sms_bounced")


def _derive(df: pd.DataFrame, as_of: pd.Timestamp, ws: list[int], has_last: bool) -> pd.DataFrame:
    df = df.copy()
    counts = ["orders_total", "refund_orders_total", "orders_in_seasons", "orders_last_season",
              "views_total", "sessions_total", "cart_abandonments_total",
              "browse_sessions_without_purchase_total", "emails_sent_total", "emails_delivered_total",
              "email_opens_total", "email_clicks_total", "accounts",
              *[f"orders_{ch}" for ch in ORDER_CHANNELS],
              *[f"{b}_{w}d" for b in WINDOWED_BASES if b != "revenue" for w in ws]]
    money = ["gross_sales_total", "refunds_total", "monetary_total", "discounted_sales", "items_value",
             *[f"revenue_{w}d" for w in ws], *[c for c in df.columns if c.startswith("category_value_")]]
    for c in counts:
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64") if c in df else 0
    for c in money:
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0.0).astype("float64") if c in df else 0.0
    for c in _BOOL_COLS:
        df[c] = df[c].astype("boolean").fillna(False).astype(bool) if c in df else False
    for c in ("signup_ts", "first_order_ts", "last_order_ts"):
        df[c] = pd.to_datetime(df[c], utc=True) if c in df else pd.NaT
    df["country"] = df["country"].astype(object).where(df["country"].notna(), "unknown").astype(str)
    n = df["orders_total"]
    df["tenure_days"] = ((as_of - df["signup_ts"]) / DAY).astype("float64")
    df["days_since_last_order"] = ((as_of - df["last_order_ts"]) / DAY).astype("float64")
    df["days_since_first_order"] = ((as_of - df["first_order_ts"]) / DAY).astype("float64")
    df["aov"] = _ratio(df["gross_sales_total"], n)
    df["discount_share"] = _ratio(df["discounted_sales"], df["gross_sales_total"])
    for ch in ORDER_CHANNELS:
        df[f"channel_share_{ch}"] = _ratio(df[f"orders_{ch}"], n)
    for c in [c for c in df.columns if c.startswith("category_value_")]:
        df["category_share_" + c.removeprefix("category_value_")] = _ratio(df[c], df["items_value"])
    df["email_open_rate"] = _ratio(df["email_opens_total"], df["emails_delivered_total"])
    df["email_click_rate"] = _ratio(df["email_clicks_total"], df["emails_delivered_total"])
    df["seasonal_order_share"] = _ratio(df["orders_in_seasons"], n)
    df["bought_last_season"] = (df["orders_last_season"] > 0).astype("int64") if has_last else 0
    w90 = 90 if 90 in ws else ws[-1]
    df["browsing_without_buying"] = ((df[f"views_{w90}d"] > 0) & (df[f"orders_{w90}d"] == 0)).astype("int64")
    drop = [c for c in df.columns if c.startswith("category_value_")] + ["discounted_sales", "items_value"]
    return df.drop(columns=drop).sort_values("customer_id", ignore_index=True)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """``num / den`` with 0 where ``den`` is 0 (no division by zero, no NaN)."""
    num = num.astype("float64")
    den = den.astype("float64")
    return pd.Series(np.where(den > 0, num / den.where(den > 0, 1.0), 0.0), index=num.index)


def rfm_inputs(wh: Warehouse, as_of: pd.Timestamp | dt.datetime | str, merge_map: pd.DataFrame) -> pd.DataFrame:
    """Only what RFM needs, as of ``as_of`` (cheaper than :func:`customer_features`).

    Returns one row per resolved customer signed up before ``as_of``: ``customer_id``,
    ``erased``, ``orders_total``, ``monetary_total``, ``days_since_last_order`` (NaN without a
    sale), ``tenure_days``.
    """
    as_of = to_utc(as_of)
    people = _people(wh, merge_map, as_of)[["customer_id", "signup_ts", "erased"]]
    o = resolve_customer_ids(wh.table("orders"), merge_map)
    o = o.filter(o.order_ts < _ts(as_of), o.customer_id.notnull())
    sale = o.revenue >= 0
    g = o.group_by("customer_id").aggregate(orders_total=sale.sum(), monetary_total=o.revenue.sum(),
                                            last_order_ts=o.order_ts.max(where=sale)).execute()
    people["customer_id"] = people["customer_id"].astype(str)
    g["customer_id"] = g["customer_id"].astype(str)
    df = people.merge(g, on="customer_id", how="left")
    df["orders_total"] = pd.to_numeric(df["orders_total"]).fillna(0).astype("int64")
    df["monetary_total"] = pd.to_numeric(df["monetary_total"]).fillna(0.0).astype("float64")
    df["erased"] = df["erased"].astype("boolean").fillna(False).astype(bool)
    df["days_since_last_order"] = ((as_of - pd.to_datetime(df["last_order_ts"], utc=True)) / DAY).astype("float64")
    df["tenure_days"] = ((as_of - pd.to_datetime(df["signup_ts"], utc=True)) / DAY).astype("float64")
    cols = ["customer_id", "erased", "orders_total", "monetary_total", "days_since_last_order", "tenure_days"]
    return df[cols].sort_values("customer_id", ignore_index=True)


def buyers_between(wh: Warehouse, merge_map: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> set[str]:
    """Resolved customer ids with a sale order in ``[start, end)`` (empty when ``end <= start``)."""
    start, end = to_utc(start), to_utc(end)
    if end <= start:
        return set()
    o = resolve_customer_ids(wh.table("orders"), merge_map)
    o = o.filter(o.order_ts >= _ts(start), o.order_ts < _ts(end), o.revenue >= 0, o.customer_id.notnull())
    ids = o.select("customer_id").distinct().execute()["customer_id"]
    return {str(x) for x in ids}
