"""Recipient activity of email platforms -> ``messages``: what the Klaviyo and Mailchimp importers share.

A platform module describes how its exports name things in an :class:`Activity`; this module
reads the files (one row per event, one row per recipient with a time column per activity, or
one file per activity), finds the recipients among the known customers by email, and aggregates
the events into one message per recipient and campaign (the mapping is documented in
:mod:`playbook.data.importers.klaviyo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playbook.data.importers.base import (
    KNOWN,
    ExportFile,
    ImportSession,
    email_norm,
    lit,
    q,
    text,
    timestamp,
)
from playbook.errors import DataError

#: Activity kinds an export row can carry, in the canonical message's order.
KINDS: tuple[str, ...] = ("sent", "open", "click", "unsub", "bounce")
EMAIL = ("Email", "Email Address", "$email", "Profile Email", "email_address")
CAMPAIGN = ("Campaign Name", "Campaign", "Campaign Title", "Message Name")
CAMPAIGN_ID = ("Campaign ID", "Message ID", "$message", "campaign_id")
ACTION = ("Metric", "Metric Name", "Event", "Event Name", "Activity", "Action")
TIME = ("Timestamp", "Datetime", "Date", "Time", "Event Time")
VARIANT = ("Variation", "Variation Name", "$variation", "Variant", "A/B Test Variation")
BOUNCE_TYPE = ("Bounce Type", "$bounce_type", "Type")
CHANNEL = ("Campaign Channel", "Channel", "Send Channel")
#: One-row-per-recipient exports: a time column per activity kind.
WIDE: dict[str, tuple[str, ...]] = {
    "sent": ("Received", "Received At", "Sent", "Sent At", "Send Time", "Delivered", "Delivered At"),
    "open": ("First Opened", "First Open", "Opened", "Opened At", "Open Time"),
    "click": ("First Clicked", "First Click", "Clicked", "Clicked At", "Click Time"),
    "unsub": ("Unsubscribed", "Unsubscribed At", "Unsubscribe Time"),
    "bounce": ("Bounced", "Bounced At", "Bounce Time"),
}


@dataclass(frozen=True)
class Activity:
    """How a platform writes recipient activity (the column names it uses, what to call things)."""

    platform: str
    export: str
    how: str
    prefix: str
    email: Sequence[str] = EMAIL
    campaign: Sequence[str] = CAMPAIGN
    campaign_id: Sequence[str] = CAMPAIGN_ID
    action: Sequence[str] = ACTION
    time: Sequence[str] = TIME
    variant: Sequence[str] = VARIANT
    bounce_type: Sequence[str] = BOUNCE_TYPE
    channel: Sequence[str] = CHANNEL
    wide: Mapping[str, Sequence[str]] = field(default_factory=lambda: WIDE)
    #: Without a campaign column, take the campaign from the name of the file's folder (Mailchimp's
    #: account export writes one folder per campaign).
    campaign_from_folder: bool = False
    #: Without an action column and wide columns, take the kind from the file name (opened.csv ...).
    kind_from_file_name: bool = False


def kind_sql(action_sql: str, type_sql: str) -> str:
    """SQL: the activity kind of an action / metric name (``Opened Email`` -> ``open``); ``soft`` for a
    soft or block bounce; NULL for activity that is not a message event (dropped, spam, forwards)."""
    a = f"LOWER(TRIM(CAST({action_sql} AS VARCHAR)))"
    t = f"LOWER(COALESCE(CAST({type_sql} AS VARCHAR), ''))"
    return (f"CASE WHEN {a} LIKE '%bounce%' THEN CASE WHEN {a} LIKE '%soft%' OR {t} LIKE '%soft%' "
            f"OR {t} LIKE '%block%' THEN 'soft' ELSE 'bounce' END "
            f"WHEN {a} LIKE '%unsub%' THEN 'unsub' WHEN {a} LIKE '%click%' THEN 'click' "
            f"WHEN {a} LIKE '%open%' THEN 'open' "
            f"WHEN {a} LIKE 'received%' OR {a} LIKE 'deliver%' OR {a} IN ('sent', 'send', 'sent email') THEN 'sent' "
            "END")


def _kind_of_file(path: Path) -> str | None:
    """Kind of a one-activity file from its name: ``opened.csv`` -> open, ``soft_bounces.csv`` -> soft."""
    stem = path.stem.lower()
    if "bounce" in stem:
        return "soft" if "soft" in stem else "bounce"
    for word, kind in (("unsub", "unsub"), ("click", "click"), ("open", "open"), ("sent", "sent"),
                       ("received", "sent"), ("deliver", "sent")):
        if word in stem:
            return kind
    return None


def _events_of_file(session: ImportSession, f: ExportFile, spec: Activity) -> str:
    """SQL: the file's events ``(em, camp, camp_id, variant, ch, kind, ts, action)``."""
    tz = session.options.timezone
    email = f.require({"email": tuple(spec.email)})["email"]
    camp_cols = f.optional({"campaign": tuple(spec.campaign), "campaign_id": tuple(spec.campaign_id)})
    if camp_cols:
        name = text(camp_cols.get("campaign") or camp_cols["campaign_id"])
        cid = text(camp_cols.get("campaign_id") or camp_cols["campaign"])
    elif spec.campaign_from_folder and f.path.parent.name:
        name = cid = lit(f.path.parent.name)
        session.note(f"{f.path.name}: no campaign column; campaign taken from its folder {f.path.parent.name!r}.")
    else:
        f.require({"campaign": tuple(spec.campaign)})
        raise AssertionError("unreachable")  # pragma: no cover
    opt = f.optional({"variant": tuple(spec.variant), "btype": tuple(spec.bounce_type), "ch": tuple(spec.channel),
                      "action": tuple(spec.action), "time": tuple(spec.time)})
    variant = text(opt["variant"]) if "variant" in opt else "CAST(NULL AS VARCHAR)"
    btype = q(opt["btype"]) if "btype" in opt else "NULL"
    chcol = f"LOWER(COALESCE({q(opt['ch'])}, ''))" if "ch" in opt else "''"
    base = f"{email_norm(q(email))} AS em, {name} AS camp, {cid} AS camp_id, {variant} AS variant"
    if "action" in opt and "time" in opt:
        act = q(opt["action"])
        ch = (f"CASE WHEN LOWER({act}) LIKE '%sms%' OR {chcol} LIKE '%sms%' THEN 'sms' "
              f"WHEN LOWER({act}) LIKE '%push%' OR {chcol} LIKE '%push%' THEN 'push' ELSE 'email' END")
        return (f"SELECT {base}, {ch} AS ch, {kind_sql(act, btype)} AS kind, "
                f"{timestamp(q(opt['time']), tz)} AS ts, {text(opt['action'])} AS action FROM {f.view}")
    ch = f"CASE WHEN {chcol} LIKE '%sms%' THEN 'sms' WHEN {chcol} LIKE '%push%' THEN 'push' ELSE 'email' END"
    wide = {k: c for k in KINDS if (c := f.has(*spec.wide.get(k, ()))) is not None}
    if wide:
        return " UNION ALL ".join(
            f"SELECT {base}, {ch} AS ch, {lit(k)} AS kind, {timestamp(q(c), tz)} AS ts, {lit(k)} AS action "
            f"FROM {f.view}" for k, c in wide.items())
    kind = _kind_of_file(f.path) if spec.kind_from_file_name else None
    if kind is not None and "time" in opt:
        return (f"SELECT {base}, {ch} AS ch, {lit(kind)} AS kind, {timestamp(q(opt['time']), tz)} AS ts, "
                f"{lit(kind)} AS action FROM {f.view}")
    names = ", ".join(repr(n) for n in (spec.action[0], spec.time[0], *(v[0] for v in spec.wide.values())))
    raise DataError(f"{spec.platform} {spec.export} {f.path.name} has neither an activity column with a time "
                    f"nor per-activity time columns (expected {names}). {spec.how}")


def load_activity(session: ImportSession, files: Sequence[Path], spec: Activity) -> None:
    """Read recipient activity exports and add one ``messages`` row per recipient and campaign."""
    events = f"{spec.prefix}_events"
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE {events} (em VARCHAR, camp VARCHAR, camp_id VARCHAR, "
                        "variant VARCHAR, ch VARCHAR, kind VARCHAR, ts TIMESTAMPTZ, action VARCHAR)")
    for path in files:
        f = session.read_csv(path, platform=spec.platform, export=spec.export, how=spec.how)
        session.con.execute(f"INSERT INTO {events} {_events_of_file(session, f, spec)}")
    _note_skipped(session, events)
    _add_messages(session, events, spec.prefix)


def _note_skipped(session: ImportSession, events: str) -> None:
    """Count rows that make no message field: no email / time, activity that is no message event."""
    no_email = session.count(f"SELECT COUNT(*) FROM {events} WHERE em IS NULL AND kind IS NOT NULL")
    no_time = session.count(f"SELECT COUNT(*) FROM {events} WHERE em IS NOT NULL AND kind IS NOT NULL "
                            "AND ts IS NULL AND action <> kind")
    other = session.con.execute(f"SELECT action, COUNT(*) FROM {events} WHERE kind IS NULL AND action IS NOT NULL "
                                "GROUP BY action ORDER BY action").fetchall()
    soft = session.count(f"SELECT COUNT(*) FROM {events} WHERE kind = 'soft'")
    if no_email:
        session.note(f"{no_email:,} activity row(s) without a valid email skipped.")
    if no_time:
        session.note(f"{no_time:,} activity row(s) without a readable time skipped.")
    if other:
        session.note("activity that is not a sent message's event skipped: "
                     + ", ".join(f"{a} ({n:,})" for a, n in other) + ".")
    if soft:
        session.note(f"{soft:,} soft bounce(s) (temporary failures) count as sent, not as bounced.")


def _add_messages(session: ImportSession, events: str, prefix: str) -> None:
    """Aggregate the events into messages of known customers; count the unknown recipients."""
    first = {k: f"MIN(ts) FILTER (WHERE kind = {lit(k)})" for k in KINDS}
    session.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {prefix}_msg AS
        SELECT em, camp_id, {first['sent']} AS sent, MIN(ts) AS first_any, {first['open']} AS opened,
               {first['click']} AS clicked, {first['unsub']} AS unsub, {first['bounce']} AS bounced,
               MAX(variant) AS variant,
               CASE WHEN bool_or(ch = 'sms') THEN 'sms' WHEN bool_or(ch = 'push') THEN 'push' ELSE 'email' END AS ch
        FROM {events}
        WHERE em IS NOT NULL AND camp_id IS NOT NULL AND kind IS NOT NULL AND ts IS NOT NULL
        GROUP BY em, camp_id""")
    known = f"(SELECT email_norm, MIN(customer_id) AS customer_id FROM {KNOWN} WHERE email_norm IS NOT NULL GROUP BY 1)"
    rows = session.add("messages", f"""
        SELECT {lit(prefix + '-')} || LEFT(sha256(m.camp_id || '|' || m.em), 16) AS message_id,
               k.customer_id, m.camp_id AS campaign_id, m.ch AS channel, m.variant,
               COALESCE(m.sent, m.first_any) AS sent_ts, m.opened AS opened_ts, m.clicked AS clicked_ts,
               m.unsub AS unsubscribed_ts, m.bounced AS bounced_ts
        FROM {prefix}_msg m JOIN {known} k ON k.email_norm = m.em""")
    total = session.count(f"SELECT COUNT(*) FROM {prefix}_msg")
    unknown = session.count(f"SELECT COUNT(*) FROM {prefix}_msg m ANTI JOIN {known} k ON k.email_norm = m.em")
    no_sent = session.count(f"SELECT COUNT(*) FROM {prefix}_msg WHERE sent IS NULL")
    if unknown:
        people = session.count(f"SELECT COUNT(DISTINCT em) FROM {prefix}_msg m ANTI JOIN {known} k "
                               "ON k.email_norm = m.em")
        session.note(f"{unknown:,} message(s) to {people:,} recipient(s) who are not known customers dropped: "
                     "import the customers (or orders) first, then this file again.")
    if no_sent:
        session.note(f"{no_sent:,} message(s) without a sent/received event: sent time taken as the "
                     "recipient's first recorded event (e.g. a bounce).")
    session.note(f"{rows:,} of {total:,} messages imported.")
