"""Segment track calls (JSON lines) -> ``events`` and ``touches``.

Reads Segment messages as JSON lines, one call per line, as Segment's Amazon S3 / Google Cloud
Storage destinations and the HTTP tracking API write them (``.json`` or ``.json.gz``).
Documentation followed:

* Track spec: https://segment.com/docs/connections/spec/track/ (``type`` "track", ``event``,
  ``properties``, ``userId``, ``anonymousId``, ``messageId``, ``timestamp`` ISO 8601).
* Common fields: https://segment.com/docs/connections/spec/common/ (``context.campaign`` with
  ``source``, ``medium``, ``name``, ``term``, ``content`` parsed from the UTM tags of the page URL;
  ``context.traits``).
* E-commerce spec v2: https://segment.com/docs/connections/spec/ecommerce/v2/ (``Product Viewed``,
  ``Product Added`` with ``properties.product_id`` / ``sku``; ``Checkout Started``,
  ``Order Completed`` with ``order_id`` and a ``products`` array).
  (Segment's documentation now lives at https://www.twilio.com/docs/segment/connections/spec/.)

Mapping
-------
events
    Track calls ``Product Viewed`` -> view, ``Product Added`` -> add_to_cart, ``Checkout Started``
    -> checkout, ``Order Completed`` -> purchase (event names compared case-insensitively); other
    track calls, and page / screen / identify calls, are not events. ``event_id`` = ``messageId``
    (Segment's unique id of the message; a file exported twice gives the same ids), else
    ``seg-`` + a hash of user, time and event name. ``product_id`` = ``properties.product_id``, else
    ``properties.sku``, for views and adds; checkouts and purchases carry no product (their lines
    belong in ``order_items``). ``event_ts`` = ``timestamp`` (offsets honoured; without an offset,
    read in the import's time zone).
customers
    ``customer_id`` = ``userId`` when it is a known customer id; else the known customer whose
    email is ``context.traits.email`` (or ``traits.email``); else, for an ``anonymousId`` that
    identified as exactly one known customer in these files, that customer. Other calls are
    anonymous: dropped and counted in a note (import customers first; none is invented).
sessions
    Segment has no session. ``<customer_id>-<context.sessionId or properties.session_id>`` is used
    when present; otherwise a customer's session ends after 30 minutes without any call (track, page
    or screen), GA4's default timeout (:func:`~playbook.data.importers.channels.inactivity_sessions_sql`).
touches
    One touch per session and campaign: the first call (any type) of the session carrying a
    ``context.campaign`` with a source, medium or name. Sessions without campaign tags give no
    touch: Segment calls do not say whether such a visit was direct or came from a search engine
    or a referrer. ``channel`` from source/medium (:mod:`playbook.data.importers.channels`),
    ``campaign_id`` = ``utm_campaign`` = ``context.campaign.name``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.base import (
    KNOWN,
    ExportFile,
    ImportSession,
    email_norm,
    lit,
    q,
    timestamp,
)
from playbook.data.importers.channels import (
    as_text,
    channel_sql,
    inactivity_sessions_sql,
    json_path,
    tag_sql,
)

PLATFORM, EXPORT = "Segment", "track calls (JSON lines)"
HOW = ("Export the raw Segment messages as JSON lines: connect the Amazon S3 (or Google Cloud Storage) "
       "destination to the website source in Segment (Connections > Destinations > Add destination) and "
       "download the files it writes, or copy the rows of your warehouse's tracks tables as JSON lines with "
       "the original message fields (type, event, userId, anonymousId, messageId, timestamp, properties, "
       "context).")
REQUIRED = {"timestamp": ("timestamp", "originalTimestamp", "receivedAt"), "event": ("event",)}
OPTIONAL = {"type": ("type",), "message_id": ("messageId", "message_id"), "user_id": ("userId", "user_id"),
            "anonymous_id": ("anonymousId", "anonymous_id"), "properties": ("properties",),
            "context": ("context",), "traits": ("traits",)}
#: Segment e-commerce event -> canonical event type (compared in lower case).
EVENT_TYPES = {"product viewed": "view", "product added": "add_to_cart", "checkout started": "checkout",
               "order completed": "purchase"}
#: Call types that mark activity (sessions) and may carry campaign tags.
ACTIVITY_TYPES = ("track", "page", "screen")
ROWS = "segment_rows"


def _ts(session: ImportSession, f: ExportFile, col: str) -> str:
    """SQL: UTC TIMESTAMPTZ of column ``col`` (DuckDB may already have parsed ISO 8601 times)."""
    typ = session.con.execute(f"SELECT typeof({q(col)}) FROM {f.view} LIMIT 1").fetchone()
    kind = typ[0] if typ else "VARCHAR"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"CAST({q(col)} AS TIMESTAMPTZ)"
    if kind.startswith("TIMESTAMP"):  # parsed without an offset: wall time in the import's zone
        return f"timezone({lit(session.options.timezone)}, CAST({q(col)} AS TIMESTAMP))"
    return timestamp(as_text(q(col)), session.options.timezone)


def _flatten(session: ImportSession, f: ExportFile, cols: dict[str, str]) -> None:
    """Insert the file's calls into :data:`ROWS`, one flat row per call."""
    none = "CAST(NULL AS VARCHAR)"
    ctx = q(cols["context"]) if "context" in cols else None
    props = q(cols["properties"]) if "properties" in cols else None

    def get(rec: str | None, path: str) -> str:
        return json_path(rec, path) if rec else none

    opt = {k: (as_text(q(cols[k])) if k in cols else none) for k in ("type", "message_id", "user_id", "anonymous_id")}
    email = f"COALESCE({get(ctx, '$.traits.email')}, {get(q(cols['traits']) if 'traits' in cols else None, '$.email')})"
    session.con.execute(f"""
        INSERT INTO {ROWS}
        SELECT {_ts(session, f, cols['timestamp'])} AS ts, LOWER(COALESCE({opt['type']}, 'track')) AS kind,
               {as_text(q(cols['event']))} AS event, {opt['message_id']} AS message_id,
               {opt['user_id']} AS user_id, {opt['anonymous_id']} AS anonymous_id, {email_norm(email)} AS email,
               COALESCE({get(props, '$.product_id')}, {get(props, '$.sku')}) AS product,
               COALESCE({get(ctx, '$.sessionId')}, {get(props, '$.session_id')}) AS explicit_session,
               {get(ctx, '$.campaign.source')} AS c_source, {get(ctx, '$.campaign.medium')} AS c_medium,
               {get(ctx, '$.campaign.name')} AS c_campaign
        FROM {f.view}""")


def _create_rows(session: ImportSession) -> None:
    cols = ["ts TIMESTAMPTZ"] + [f"{c} VARCHAR" for c in (
        "kind", "event", "message_id", "user_id", "anonymous_id", "email", "product", "explicit_session",
        "c_source", "c_medium", "c_campaign")]
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} ({', '.join(cols)})")


def _resolve(session: ImportSession) -> None:
    """Create ``segment_resolved``: activity calls with their ``customer_id`` (NULL = anonymous)
    and ``_session``."""
    con = session.con
    kinds = ", ".join(lit(k) for k in ACTIVITY_TYPES)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE segment_identified AS
        SELECT r.*, COALESCE(k.customer_id, e.customer_id) AS identified
        FROM {ROWS} r
        LEFT JOIN (SELECT DISTINCT customer_id FROM {KNOWN}) k ON k.customer_id = r.user_id
        LEFT JOIN (SELECT email_norm, MIN(customer_id) AS customer_id FROM {KNOWN}
                   WHERE email_norm IS NOT NULL GROUP BY email_norm) e ON e.email_norm = r.email
        WHERE r.ts IS NOT NULL AND r.kind IN ({kinds})""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE segment_devices AS
        SELECT anonymous_id, MIN(identified) AS device_customer FROM segment_identified
        WHERE anonymous_id IS NOT NULL AND identified IS NOT NULL
        GROUP BY anonymous_id HAVING COUNT(DISTINCT identified) = 1""")
    resolved = """(SELECT i.*, CASE WHEN i.identified IS NOT NULL THEN i.identified
                                    WHEN i.user_id IS NULL AND i.email IS NULL THEN d.device_customer END AS customer_id
                   FROM segment_identified i LEFT JOIN segment_devices d ON d.anonymous_id = i.anonymous_id)"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE segment_customer AS SELECT * FROM {resolved}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE segment_resolved AS
        {inactivity_sessions_sql('(SELECT * FROM segment_customer WHERE customer_id IS NOT NULL)',
                                 'customer_id', 'ts',
                                 "customer_id || '-' || explicit_session")}""")


def _is_event() -> str:
    return f"kind = 'track' AND LOWER(TRIM(event)) IN ({', '.join(lit(n) for n in EVENT_TYPES)})"


def _events_sql() -> str:
    types = " ".join(f"WHEN {lit(n)} THEN {lit(t)}" for n, t in EVENT_TYPES.items())
    fallback = ("'seg-' || LEFT(sha256(concat_ws('|', COALESCE(user_id, ''), COALESCE(anonymous_id, ''), "
                "CAST(ts AS VARCHAR), event)), 16)")
    return f"""
        SELECT COALESCE(message_id, {fallback}) AS event_id, customer_id, _session AS session_id, ts AS event_ts,
               CASE LOWER(TRIM(event)) {types} END AS event_type,
               CASE WHEN LOWER(TRIM(event)) IN ('product viewed', 'product added') THEN product END AS product_id
        FROM segment_resolved WHERE {_is_event()}"""


def _touches_sql(rules: Sequence[tuple[str, str]]) -> str:
    s, m, c = tag_sql("c_source"), tag_sql("c_medium"), tag_sql("c_campaign")
    return f"""
        SELECT 'seg-' || LEFT(sha256(concat_ws('|', _session, COALESCE(s, ''), COALESCE(m, ''), COALESCE(c, ''))), 16)
                   AS touch_id, customer_id, touch_ts, {channel_sql('s', 'm', 'c', rules)} AS channel,
               c AS campaign_id, s AS utm_source, m AS utm_medium, c AS utm_campaign
        FROM (SELECT _session, {s} AS s, {m} AS m, {c} AS c, arg_min(customer_id, ts) AS customer_id,
                     MIN(ts) AS touch_ts
              FROM segment_resolved WHERE {s} IS NOT NULL OR {m} IS NOT NULL OR {c} IS NOT NULL
              GROUP BY ALL)"""


def _notes(session: ImportSession) -> None:
    count = session.count
    bad = count(f"SELECT COUNT(*) FROM {ROWS} WHERE ts IS NULL")
    if bad:
        session.note(f"Segment: {bad:,} call(s) without a readable timestamp skipped.")
    other = count(f"SELECT COUNT(*) FROM {ROWS} WHERE ts IS NOT NULL AND NOT ({_is_event()})")
    if other:
        session.note(f"Segment: {other:,} call(s) that are not e-commerce track events (page, identify, other "
                     "event names) are not funnel events; page/screen/track calls still mark sessions and campaigns.")
    anon = count(f"SELECT COUNT(*) FROM segment_customer WHERE customer_id IS NULL AND {_is_event()}")
    if anon:
        ids = count(f"SELECT COUNT(DISTINCT COALESCE(user_id, anonymous_id)) FROM segment_customer "
                    f"WHERE customer_id IS NULL AND {_is_event()}")
        session.note(
            f"Segment: {anon:,} e-commerce event(s) of {ids:,} anonymous or unknown user(s) dropped: neither userId "
            "nor context.traits.email is a customer in the output folder. Segment's userId is the id your site "
            "sends on identify, normally the shop's customer id: import customers (Shopify or Magento) into the "
            "same folder first, then import Segment again.")
    derived = count("SELECT COUNT(*) FROM segment_resolved WHERE explicit_session IS NULL")
    if derived:
        session.note(f"Segment: sessions of {derived:,} call(s) derived by 30 minutes of inactivity per customer "
                     "(the calls carry no session id).")


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the ``events`` and ``touches`` of the Segment files ``files``."""
    _create_rows(session)
    for path in files:
        f = session.read_json(path, platform=PLATFORM, export=EXPORT, how=HOW)
        cols = f.require(REQUIRED)
        cols.update(f.optional(OPTIONAL))
        _flatten(session, f, cols)
    _resolve(session)
    _notes(session)
    session.add_web_activity("Segment", files, _events_sql(), _touches_sql(session.options.channel_rules))
