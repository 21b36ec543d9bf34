"""Tests only: write canonical ``events`` and ``touches`` as a GA4 BigQuery export, the way
``bq extract --destination_format NEWLINE_DELIMITED_JSON`` writes ``events_YYYYMMDD`` tables
(https://support.google.com/analytics/answer/7029846): one ``events_YYYYMMDD.json`` per UTC day,
INT64 values as strings, null fields left out.

What the export carries and how (the importer, :mod:`playbook.data.importers.ga4`, reads it back):

* ``user_id`` = ``customer_id``; ``user_pseudo_id`` = a GA4-style client id derived from it.
* events: view -> ``view_item`` (one item), add_to_cart -> ``add_to_cart``, checkout ->
  ``begin_checkout``, purchase -> ``purchase`` (no items); ``event_timestamp`` in microseconds.
  ``ga_session_id`` = the epoch second of the session's first event (as GA4 sets it), made unique
  per device. Event ids and session ids are not carried (GA4 has none to carry them).
* touches: each touch is a session of its own (the sample's touches are not tied to its event
  sessions): a ``session_start`` and a ``page_view`` at ``touch_ts``. Tagged touches carry
  ``collected_traffic_source`` and the ``source``/``medium``/``campaign`` event parameters;
  untagged organic touches carry GA4's processed ``session_traffic_source_last_click``
  google / organic (GA4 derives it from the search-engine referrer); direct touches carry nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

EVENT_NAMES = {"view": "view_item", "add_to_cart": "add_to_cart", "checkout": "begin_checkout",
               "purchase": "purchase"}


def pseudo_id(customer_id: str) -> str:
    """A GA4-style ``user_pseudo_id`` (``<random>.<first seen>``) derived from a customer id."""
    h = int(hashlib.sha256(customer_id.encode()).hexdigest()[:12], 16)
    return f"{h % 2_000_000_000}.{1_600_000_000 + h % 100_000_000}"


def _us(ts: pd.Timestamp) -> int:
    return int(ts.value // 1000)


def _param(key: str, value: object) -> dict[str, object]:
    return {"key": key, "value": {"int_value": str(value)} if isinstance(value, int) else {"string_value": value}}


def _sessions(events: pd.DataFrame, touches: pd.DataFrame) -> tuple[dict[str, int], list[int]]:
    """ga_session_id per event session and per touch, unique per device."""
    used: dict[str, set[int]] = {}

    def take(customer: str, ts: pd.Timestamp) -> int:
        s, taken = int(ts.timestamp()), used.setdefault(customer, set())
        while s in taken:
            s += 1
        taken.add(s)
        return s

    first = events.groupby("session_id").agg(customer_id=("customer_id", "first"), ts=("event_ts", "min"))
    by_session = {sid: take(r.customer_id, r.ts) for sid, r in first.sort_values("ts").iterrows()}
    by_touch = [take(r.customer_id, r.touch_ts) for r in touches.itertuples()]
    return by_session, by_touch


def _row(ts: pd.Timestamp, name: str, customer: str, session: int, seq: int, params: list[dict[str, object]],
         items: list[str], extra: dict[str, object]) -> dict[str, object]:
    row: dict[str, object] = {
        "event_date": ts.strftime("%Y%m%d"), "event_timestamp": str(_us(ts)), "event_name": name,
        "event_params": [_param("ga_session_id", session), _param("page_location", "https://shop.example.com/")]
        + params,
        "event_bundle_sequence_id": str(seq), "batch_event_index": "0", "user_id": customer,
        "user_pseudo_id": pseudo_id(customer), "platform": "WEB",
        "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
        "items": [{"item_id": i, "quantity": "1"} for i in items]}
    row.update(extra)
    return row


def _touch_rows(t: object, session: int, seq: int) -> list[dict[str, object]]:
    src, med, camp = (getattr(t, k) if isinstance(getattr(t, k), str) else None
                      for k in ("utm_source", "utm_medium", "utm_campaign"))
    params, extra = [], {}
    if src or med:
        params = [_param(k, v) for k, v in (("source", src), ("medium", med), ("campaign", camp)) if v]
        extra["collected_traffic_source"] = {k: v for k, v in (("manual_source", src), ("manual_medium", med),
                                                               ("manual_campaign_name", camp)) if v}
    elif t.channel == "organic":
        extra["session_traffic_source_last_click"] = {
            "manual_campaign": {"source": "google", "medium": "organic", "campaign_name": "(organic)"}}
    ts, customer = t.touch_ts, t.customer_id
    return [_row(ts, name, customer, session, seq, params, [], extra)
            for name in ("session_start", "page_view")]


def write(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write ``tables['events']`` and ``tables['touches']`` as ``events_YYYYMMDD.json`` files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    events = tables.get("events", pd.DataFrame(columns=["customer_id", "session_id", "event_ts", "event_type",
                                                        "product_id"]))
    touches = tables.get("touches", pd.DataFrame(columns=["customer_id", "touch_ts", "channel", "utm_source",
                                                          "utm_medium", "utm_campaign"]))
    by_session, by_touch = _sessions(events, touches)
    rows: list[dict[str, object]] = []
    for seq, e in enumerate(events.itertuples(), start=1):
        items = [e.product_id] if e.event_type in ("view", "add_to_cart") and isinstance(e.product_id, str) else []
        rows.append(_row(e.event_ts, EVENT_NAMES[e.event_type], e.customer_id, by_session[e.session_id], seq, [],
                         items, {}))
    for n, t in enumerate(touches.itertuples()):
        rows += _touch_rows(t, by_touch[n], len(rows) + 1)
    days: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        days.setdefault(str(r["event_date"]), []).append(r)
    paths = []
    for day, day_rows in sorted(days.items()):
        path = folder / f"events_{day}.json"
        with path.open("w", encoding="utf-8") as fh:
            for r in sorted(day_rows, key=lambda r: int(str(r["event_timestamp"]))):
                fh.write(json.dumps(r, separators=(",", ":")) + "\n")
        paths.append(path)
    return paths
