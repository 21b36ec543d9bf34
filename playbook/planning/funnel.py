"""The browsing funnel of past seasons (sessions -> view -> cart -> checkout -> purchase) by
the customers' acquisition channel, computed in the engine, with stage-to-stage conversion. A season runs from local midnight to local
midnight in the campaign's time zone (``Warehouse.in_days``, issue 16 item 5)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from playbook.planning.seasons import Season, as_day
from playbook.report.format import fmt_pct

FUNNEL_STAGES = ("sessions", "view", "add_to_cart", "checkout", "purchase")


def funnel(wh, seasons: Sequence[Season], by: str | None = "acquisition_channel") -> pd.DataFrame:
    """Sessions and funnel stages per season (and customer acquisition channel), in the engine.

    The events table has no traffic channel, so "channel" is the customer's acquisition channel
    (``customers.acquisition_channel``). A session reaches a stage when it has at least one event
    of that type.

    Returns
    -------
    pandas.DataFrame
        ``season``, ``[by]``, ``sessions``, ``view``, ``add_to_cart``, ``checkout``, ``purchase``
        (sessions reaching each stage), ``conversion`` (purchase / sessions).
    """
    if not wh.has("events") or not seasons:
        return pd.DataFrame(columns=["season", *([by] if by else []), *FUNNEL_STAGES, "conversion"])
    ev = wh.table("events")
    frames = []
    for name, a, b in seasons:
        e = ev.filter(wh.in_days(ev.event_ts, as_day(a), as_day(b)))  # local days of the campaign's zone
        if by:
            c = wh.table("customers")
            c = c.group_by("customer_id").aggregate(**{by: c[by].arbitrary()})
            e = e.left_join(c, "customer_id")
        s = e.group_by(["session_id", *([by] if by else [])]).aggregate(
            **{st: (e.event_type == st).any() for st in FUNNEL_STAGES[1:]})
        keys = [by] if by else []
        agg = {"sessions": s.count(), **{st: s[st].sum() for st in FUNNEL_STAGES[1:]}}
        df = (s.group_by(keys).aggregate(**agg) if keys else s.aggregate(**agg)).execute()
        df.insert(0, "season", name)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    if by:
        out[by] = out[by].fillna("unknown").astype(str)
    for st in FUNNEL_STAGES:
        out[st] = pd.to_numeric(out[st]).fillna(0).astype("int64")
    out["conversion"] = out["purchase"] / out["sessions"].where(out["sessions"] > 0)
    return out.sort_values(["season", *([by] if by else [])], ignore_index=True)


def has_events(wh) -> bool:
    """Whether the data has an events table with at least one row (counted in the engine)."""
    return bool(wh.has("events") and int(wh.table("events").count().execute()) > 0)


NO_EVENTS = "No web events in the data: the funnel needs the events table (views, carts, checkouts)."


def funnel_rates(fun: pd.DataFrame, by: str | None = "acquisition_channel") -> pd.DataFrame:
    """Stage-to-stage conversion and the largest drop per row.

    Returns
    -------
    pandas.DataFrame
        The keys plus ``view_rate`` (view / sessions), ``cart_rate`` (add_to_cart / view),
        ``checkout_rate`` (checkout / add_to_cart), ``purchase_rate`` (purchase / checkout) and
        ``largest_drop`` (the stage transition with the lowest rate).
    """
    keys = ["season", *([by] if by else [])]
    out = fun[keys].copy()
    pairs = {"view_rate": ("view", "sessions"), "cart_rate": ("add_to_cart", "view"),
             "checkout_rate": ("checkout", "add_to_cart"), "purchase_rate": ("purchase", "checkout")}
    for name, (num, den) in pairs.items():
        out[name] = fun[num] / fun[den].where(fun[den] > 0)
    labels = {"view_rate": "session -> view", "cart_rate": "view -> cart",
              "checkout_rate": "cart -> checkout", "purchase_rate": "checkout -> purchase"}
    rates = out[list(pairs)]
    out["largest_drop"] = rates.idxmin(axis=1, skipna=True).map(labels).where(rates.notna().any(axis=1), "no data")
    return out


def describe_funnel(rates: pd.DataFrame) -> str:
    """Where the funnel loses most, overall (Markdown sentence)."""
    ok = rates.dropna(subset=["cart_rate"]) if "cart_rate" in rates.columns else rates.iloc[0:0]
    if ok.empty:
        return "No browsing events in the seasons: the funnel cannot be shown."
    drop = ok["largest_drop"].mode().iloc[0]
    col = {"session -> view": "view_rate", "view -> cart": "cart_rate", "cart -> checkout": "checkout_rate",
           "checkout -> purchase": "purchase_rate"}[drop]
    return (f"The largest drop is **{drop}** in most seasons and channels: on average only "
            f"{fmt_pct(ok[col].mean())} of sessions make that step.")

