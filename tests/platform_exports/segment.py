"""Tests only: write canonical ``events`` and ``touches`` as Segment track / page calls in JSON lines
(https://segment.com/docs/connections/spec/track/, https://segment.com/docs/connections/spec/common/,
e-commerce spec v2 https://segment.com/docs/connections/spec/ecommerce/v2/), one ``tracks.jsonl``.

* events -> track calls ``Product Viewed`` / ``Product Added`` (``properties.product_id``),
  ``Checkout Started`` / ``Order Completed``; ``messageId`` = ``event_id``; ``userId`` =
  ``customer_id``; ``properties.session_id`` = ``session_id`` (Segment has no session field; the
  importer reads this property when present); ``timestamp`` ISO 8601 UTC with ``Z``.
* touches with UTM tags -> ``page`` calls at ``touch_ts`` with ``context.campaign``
  (source, medium, name). Touches without tags (direct, untagged organic) cannot be carried:
  a Segment call does not say how an untagged visit arrived; they are written as page calls
  without campaign, which give no touch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

EVENT_NAMES = {"view": "Product Viewed", "add_to_cart": "Product Added", "checkout": "Checkout Started",
               "purchase": "Order Completed"}


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _base(type_: str, ts: pd.Timestamp, message_id: str, customer: str) -> dict[str, object]:
    return {"type": type_, "messageId": message_id, "timestamp": _iso(ts), "originalTimestamp": _iso(ts),
            "userId": customer, "anonymousId": f"anon-{customer}",
            "context": {"library": {"name": "analytics.js", "version": "next-1.70.0"}}}


def write(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write ``tables['events']`` and ``tables['touches']`` as ``folder/tracks.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for e in tables.get("events", pd.DataFrame()).itertuples():
        r = _base("track", e.event_ts, e.event_id, e.customer_id)
        props: dict[str, object] = {"session_id": e.session_id}
        if isinstance(e.product_id, str):
            props["product_id"] = e.product_id
        r.update(event=EVENT_NAMES[e.event_type], properties=props)
        rows.append(r)
    for t in tables.get("touches", pd.DataFrame()).itertuples():
        r = _base("page", t.touch_ts, f"page-{t.touch_id}", t.customer_id)
        tags = {k: v for k, v in (("source", t.utm_source), ("medium", t.utm_medium), ("name", t.utm_campaign))
                if isinstance(v, str)}
        if tags:
            r["context"]["campaign"] = tags  # type: ignore[index]
        rows.append(r)
    path = folder / "tracks.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in sorted(rows, key=lambda r: str(r["timestamp"])):
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")
    return [path]
