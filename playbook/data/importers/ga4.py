"""Google Analytics 4 BigQuery export (``events_YYYYMMDD``) -> ``events`` and ``touches``.

Reads the daily event tables of the ``analytics_<property_id>`` dataset, extracted as
newline-delimited JSON (``bq extract --destination_format NEWLINE_DELIMITED_JSON``, which writes
INT64 values such as ``event_timestamp`` as strings and leaves out null fields) or as Parquet
(``--destination_format PARQUET``); ``.json.gz`` works too. Documentation followed:

* BigQuery Export schema: https://support.google.com/analytics/answer/7029846 (also
  https://developers.google.com/analytics/bigquery/event-schema): ``event_timestamp`` (microseconds
  since the epoch, UTC), ``event_name``, ``user_id``, ``user_pseudo_id``, ``event_params`` (repeated
  ``{key, value: {string_value, int_value, float_value, double_value}}``; ``ga_session_id`` is an
  ``int_value``), ``items`` (repeated, ``item_id``), ``event_bundle_sequence_id``,
  ``batch_event_index``, ``traffic_source`` (the user's first touch), ``collected_traffic_source``
  (event-scoped: ``manual_source``, ``manual_medium``, ``manual_campaign_name``, ``gclid``; since
  2023) and ``session_traffic_source_last_click`` (``manual_campaign`` / ``cross_channel_campaign``
  ``.source/.medium/.campaign_name``; since 2024).
* Traffic attribution scopes (user, session, event):
  https://developers.google.com/analytics/bigquery/traffic-attribution-data
* Recommended e-commerce events (``view_item``, ``add_to_cart``, ``begin_checkout``, ``purchase``):
  https://developers.google.com/analytics/devguides/collection/ga4/reference/events

Mapping
-------
events
    ``view_item`` -> view, ``add_to_cart`` -> add_to_cart, ``begin_checkout`` -> checkout,
    ``purchase`` -> purchase; other event names are not events (they still mark sessions and
    touches). ``view_item`` and ``add_to_cart`` give one event per item (``product_id`` = the
    item's ``item_id``; none when ``items`` is empty); ``begin_checkout`` and ``purchase`` give one
    event without a product (the contract's funnel events; their lines are in ``order_items``).
    ``event_id`` = ``ga4-`` + 16 hex digits of SHA-256 of user_pseudo_id, event_timestamp,
    event_name, event_bundle_sequence_id, batch_event_index and the item's position: the same
    export gives the same ids. ``event_ts`` from ``event_timestamp`` (UTC; ``event_date`` is the
    property's day and is not needed). ``session_id`` = ``<user_pseudo_id>-<ga_session_id>``;
    rows without ``ga_session_id`` get sessions by 30 minutes of inactivity per user_pseudo_id
    (:func:`~playbook.data.importers.channels.inactivity_sessions_sql`).
customers
    GA4's ``user_id`` is the id the site sets for signed-in visitors; shops normally set it to
    their own customer id, so ``customer_id`` = ``user_id`` when it is a known customer (customers
    already imported into the output folder). Rows of a device (``user_pseudo_id``) without
    ``user_id`` belong to the one known customer that device signed in as (none when it signed in
    as several). Everything else is anonymous: dropped and counted in a note (import customers
    first; no customer is invented from web events).
touches
    One touch per session that has a ``session_start`` event or a known traffic source, at the
    session's first event. Its source, medium and campaign come from, in order: the first event of
    the session with ``collected_traffic_source`` (``gclid`` without UTM tags = google / cpc), the
    first with ``source``/``medium``/``campaign`` event parameters, ``session_traffic_source_last_click``
    (GA4's processed session source, which also covers referrers such as organic search; it is
    last *non-direct* click, so a direct revisit can carry an earlier campaign), and for the
    session with ``first_visit``/``first_open`` the user-scoped ``traffic_source``; else the session
    is direct. The channel follows :mod:`playbook.data.importers.channels` (GA4's default channel
    grouping condensed to the contract's channels); ``campaign_id`` = ``utm_campaign``;
    ``touch_id`` = ``ga4-`` + hash of the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.base import KNOWN, ExportFile, ImportSession, lit, q
from playbook.data.importers.channels import (
    as_text,
    channel_sql,
    inactivity_sessions_sql,
    json_path,
    tag_sql,
)

PLATFORM, EXPORT = "GA4", "BigQuery export events_YYYYMMDD"
HOW = ("Link the GA4 property to BigQuery (Admin > Product links > BigQuery links, daily export), then "
       "extract each day's table: bq extract --destination_format NEWLINE_DELIMITED_JSON "
       "'PROJECT:analytics_PROPERTY.events_20251128' gs://BUCKET/events_20251128.json (or PARQUET) and "
       "download the files. Export whole tables (SELECT *), not a query with renamed columns.")
REQUIRED = {"event_timestamp": ("event_timestamp",), "event_name": ("event_name",),
            "user_pseudo_id": ("user_pseudo_id",)}
OPTIONAL = {"user_id": ("user_id",), "event_params": ("event_params",), "items": ("items",),
            "bundle": ("event_bundle_sequence_id",), "batch": ("batch_event_index",),
            "traffic_source": ("traffic_source",), "collected": ("collected_traffic_source",),
            "last_click": ("session_traffic_source_last_click",)}
#: GA4 event name -> canonical event type.
EVENT_TYPES = {"view_item": "view", "add_to_cart": "add_to_cart", "begin_checkout": "checkout",
               "purchase": "purchase"}
#: Event names that give one event per item.
PER_ITEM = ("view_item", "add_to_cart")
#: Events that start a session or a user's first visit (GA4's automatically collected events).
SESSION_START, FIRST_VISIT = ("session_start",), ("first_visit", "first_open")
ROWS = "ga4_rows"
_PARAMS_TYPE = ('[{"key":"VARCHAR","value":{"string_value":"VARCHAR","int_value":"VARCHAR",'
                '"float_value":"VARCHAR","double_value":"VARCHAR"}}]')
_ITEMS_TYPE = '[{"item_id":"VARCHAR"}]'


def _param(params_sql: str, key: str) -> str:
    """SQL: the value of event parameter ``key`` as text (whichever of its typed values is set)."""
    v = f"list_filter({params_sql}, lambda p: p.key = {lit(key)})[1].value"
    return f"NULLIF(TRIM(COALESCE({v}.string_value, {v}.int_value, {v}.double_value, {v}.float_value)), '')"


def _source_sql(cols: dict[str, str]) -> dict[str, str]:
    """SQL expressions of the traffic-source candidates of one row (absent columns -> NULL)."""
    none = "CAST(NULL AS VARCHAR)"
    out = {}
    if "collected" in cols:
        c = q(cols["collected"])
        gclid = json_path(c, "$.gclid")
        out["c_source"] = f"COALESCE({json_path(c, '$.manual_source')}, CASE WHEN {gclid} IS NOT NULL THEN 'google' END)"
        out["c_medium"] = f"COALESCE({json_path(c, '$.manual_medium')}, CASE WHEN {gclid} IS NOT NULL THEN 'cpc' END)"
        out["c_campaign"] = json_path(c, "$.manual_campaign_name")
    if "last_click" in cols:
        lc = q(cols["last_click"])
        for part, key in (("source", "source"), ("medium", "medium"), ("campaign", "campaign_name")):
            out[f"l_{part}"] = (f"COALESCE({json_path(lc, '$.manual_campaign.' + key)}, "
                                f"{json_path(lc, '$.cross_channel_campaign.' + key)})")
    if "traffic_source" in cols:
        ts = q(cols["traffic_source"])
        out.update(u_source=json_path(ts, "$.source"), u_medium=json_path(ts, "$.medium"),
                   u_campaign=json_path(ts, "$.name"))
    return {k: out.get(k, none) for k in ("c_source", "c_medium", "c_campaign", "l_source", "l_medium",
                                          "l_campaign", "u_source", "u_medium", "u_campaign")}


def _flatten(session: ImportSession, f: ExportFile, cols: dict[str, str]) -> None:
    """Insert the file's rows into :data:`ROWS`, one flat row per GA4 event."""
    none = "CAST(NULL AS VARCHAR)"
    params = f"from_json(to_json({q(cols['event_params'])}), {lit(_PARAMS_TYPE)})" if "event_params" in cols else None
    items = f"from_json(to_json({q(cols['items'])}), {lit(_ITEMS_TYPE)})" if "items" in cols else None
    p = {k: (_param(params, k) if params else none) for k in ("ga_session_id", "source", "medium", "campaign")}
    src = _source_sql(cols)
    opt = {k: (as_text(q(cols[k])) if k in cols else none) for k in ("user_id", "bundle", "batch")}
    item_ids = (f"COALESCE(list_filter(list_transform({items}, lambda i: NULLIF(TRIM(i.item_id), '')), "
                "lambda x: x IS NOT NULL), [])" if items else "CAST([] AS VARCHAR[])")
    session.con.execute(f"""
        INSERT INTO {ROWS}
        SELECT make_timestamp(ts_us)::TIMESTAMPTZ AS ts, * FROM (
          SELECT TRY_CAST({as_text(q(cols['event_timestamp']))} AS BIGINT) AS ts_us,
                 {as_text(q(cols['event_name']))} AS name, {opt['user_id']} AS user_id,
                 {as_text(q(cols['user_pseudo_id']))} AS pseudo, {opt['bundle']} AS bundle, {opt['batch']} AS batch,
                 {p['ga_session_id']} AS ga_session_id, {item_ids} AS item_ids,
                 {src['c_source']} AS c_source, {src['c_medium']} AS c_medium, {src['c_campaign']} AS c_campaign,
                 {p['source']} AS p_source, {p['medium']} AS p_medium, {p['campaign']} AS p_campaign,
                 {src['l_source']} AS l_source, {src['l_medium']} AS l_medium, {src['l_campaign']} AS l_campaign,
                 {src['u_source']} AS u_source, {src['u_medium']} AS u_medium, {src['u_campaign']} AS u_campaign
          FROM {f.view})""")


def _create_rows(session: ImportSession) -> None:
    text_cols = ("name", "user_id", "pseudo", "bundle", "batch", "ga_session_id")
    src_cols = [f"{s}_{k}" for s in "cplu" for k in ("source", "medium", "campaign")]
    cols = (["ts TIMESTAMPTZ", "ts_us BIGINT"] + [f"{c} VARCHAR" for c in text_cols] + ["item_ids VARCHAR[]"]
            + [f"{c} VARCHAR" for c in src_cols])
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} ({', '.join(cols)})")


def _resolve(session: ImportSession) -> None:
    """Create ``ga4_resolved``: every readable row with its ``customer_id`` (NULL = anonymous) and
    ``_session``."""
    con = session.con
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ga4_devices AS
        SELECT r.pseudo, MIN(r.user_id) AS device_customer
        FROM {ROWS} r JOIN (SELECT DISTINCT customer_id FROM {KNOWN}) k ON k.customer_id = r.user_id
        GROUP BY r.pseudo HAVING COUNT(DISTINCT r.user_id) = 1""")
    explicit = "CASE WHEN ga_session_id IS NOT NULL THEN pseudo || '-' || ga_session_id END"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ga4_resolved AS
        {inactivity_sessions_sql(f'''(SELECT r.*, CASE WHEN k.customer_id IS NOT NULL THEN r.user_id
                                             WHEN r.user_id IS NULL THEN d.device_customer END AS customer_id
                                      FROM {ROWS} r
                                      LEFT JOIN (SELECT DISTINCT customer_id FROM {KNOWN}) k
                                             ON k.customer_id = r.user_id
                                      LEFT JOIN ga4_devices d ON d.pseudo = r.pseudo
                                      WHERE r.ts IS NOT NULL AND r.pseudo IS NOT NULL)''', 'pseudo', 'ts', explicit)}""")


def _events_sql() -> str:
    types = " ".join(f"WHEN {lit(n)} THEN {lit(t)}" for n, t in EVENT_TYPES.items())
    per_item = ", ".join(lit(n) for n in PER_ITEM)
    key = ("concat_ws('|', pseudo, CAST(ts_us AS VARCHAR), name, COALESCE(bundle, ''), COALESCE(batch, ''), "
           "CAST(idx AS VARCHAR))")
    return f"""
        SELECT 'ga4-' || LEFT(sha256({key}), 16) AS event_id, customer_id, _session AS session_id,
               ts AS event_ts, CASE name {types} END AS event_type,
               CASE WHEN name IN ({per_item}) THEN item_ids[idx] END AS product_id
        FROM (SELECT *, UNNEST(range(1, CASE WHEN name IN ({per_item}) THEN greatest(len(item_ids), 1)
                                             ELSE 1 END + 1)) AS idx
              FROM ga4_resolved WHERE customer_id IS NOT NULL AND name IN ({', '.join(lit(n) for n in EVENT_TYPES)}))"""


def _first(prefix: str, extra: str = "TRUE") -> str:
    """SQL aggregate: ``{source, medium, campaign}`` of the session's first row with a ``prefix``
    source or medium (and ``extra``)."""
    s, m, c = f"{prefix}_source", f"{prefix}_medium", f"{prefix}_campaign"
    return (f"arg_min(struct_pack(s := {s}, m := {m}, c := {c}), ts) "
            f"FILTER (WHERE ({tag_sql(s)} IS NOT NULL OR {tag_sql(m)} IS NOT NULL) AND {extra})")


def _touches_sql(rules: Sequence[tuple[str, str]]) -> str:
    first_visit = f"name IN ({', '.join(lit(n) for n in FIRST_VISIT)})"
    starts = ", ".join(lit(n) for n in SESSION_START)
    return f"""
        SELECT 'ga4-' || LEFT(sha256(_session), 16) AS touch_id, customer_id, touch_ts,
               {channel_sql('src.s', 'src.m', tag_sql('src.c'), rules)} AS channel,
               {tag_sql('src.c')} AS campaign_id, {tag_sql('src.s')} AS utm_source,
               {tag_sql('src.m')} AS utm_medium, {tag_sql('src.c')} AS utm_campaign
        FROM (SELECT _session, arg_min(customer_id, ts) FILTER (WHERE customer_id IS NOT NULL) AS customer_id,
                     MIN(ts) AS touch_ts, bool_or(name IN ({starts})) AS started,
                     COALESCE({_first('c')}, {_first('p')}, {_first('l')}, {_first('u', first_visit)}) AS src
              FROM ga4_resolved GROUP BY _session)
        WHERE customer_id IS NOT NULL AND (started OR src IS NOT NULL)"""


def _notes(session: ImportSession) -> None:
    con_count = session.count
    bad = con_count(f"SELECT COUNT(*) FROM {ROWS} WHERE ts IS NULL OR pseudo IS NULL")
    if bad:
        session.note(f"GA4: {bad:,} row(s) without a readable event_timestamp or user_pseudo_id skipped.")
    names = ", ".join(lit(n) for n in EVENT_TYPES)
    anon = con_count(f"SELECT COUNT(*) FROM ga4_resolved WHERE customer_id IS NULL AND name IN ({names})")
    if anon:
        devices = con_count(f"SELECT COUNT(DISTINCT pseudo) FROM ga4_resolved WHERE customer_id IS NULL "
                            f"AND name IN ({names})")
        unknown = con_count(f"SELECT COUNT(DISTINCT user_id) FROM ga4_resolved WHERE customer_id IS NULL "
                            f"AND user_id IS NOT NULL AND name IN ({names})")
        session.note(
            f"GA4: {anon:,} e-commerce event(s) of {devices:,} anonymous device(s) dropped: no user_id of a known "
            f"customer ({unknown:,} user_id value(s) are not customer ids in the output folder). GA4's user_id is "
            "the id your site sets on sign-in, normally the shop's customer id: import customers (Shopify or "
            "Magento) into the same folder first, then import GA4 again.")
    other = con_count(f"SELECT COUNT(*) FROM {ROWS} WHERE name NOT IN ({names}) OR name IS NULL")
    if other:
        session.note(f"GA4: {other:,} row(s) of other event names (page_view, session_start, ...) are not funnel "
                     "events; they only mark sessions and traffic sources.")
    no_session = con_count(f"SELECT COUNT(*) FROM {ROWS} WHERE ga_session_id IS NULL AND ts IS NOT NULL")
    if no_session:
        session.note(f"GA4: {no_session:,} row(s) without ga_session_id: sessions derived by 30 minutes of "
                     "inactivity per device.")


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the ``events`` and ``touches`` of the GA4 export files ``files`` (one per day)."""
    _create_rows(session)
    for path in files:
        f = session.read_json(path, platform=PLATFORM, export=EXPORT, how=HOW)
        cols = f.require(REQUIRED)
        cols.update(f.optional(OPTIONAL))
        _flatten(session, f, cols)
    _resolve(session)
    _notes(session)
    session.add_web_activity("GA4", files, _events_sql(), _touches_sql(session.options.channel_rules))
