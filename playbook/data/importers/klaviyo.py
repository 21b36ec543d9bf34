"""Klaviyo campaign recipient activity -> ``messages``.

Klaviyo records every message interaction as an event of a *metric*: "Received Email", "Opened
Email", "Clicked Email", "Bounced Email", "Unsubscribed", "Dropped Email", "Marked Email as Spam"
(and "Received SMS", "Clicked SMS", ... for SMS). Documentation followed:

* Metrics as timestamped events, the email metric names: https://developers.klaviyo.com/en/docs/export_data_from_klaviyo
  and https://help.klaviyo.com/hc/en-us/articles/115005076787 (Analytics > Metrics)
* Hard and soft bounces ("Klaviyo automatically suppresses any email address that hard bounces";
  a soft bounce is temporary): https://help.klaviyo.com/hc/en-us/articles/115005250408
* Campaign reports, A/B variations exported by variation: https://help.klaviyo.com/hc/en-us/articles/115005258568
* Report dimensions "Campaign name", "Campaign channel" (Email or SMS), "Variation":
  https://docs.coupler.io/sources/category/marketing/klaviyo/data-overview (a connector's listing).

Accepted shapes (detected by header; the help centre does not publish the exact CSV header of a
per-recipient download, so the column names below are the metric and dimension names above):

* **one row per event**: ``Email``, ``Campaign Name``, ``Metric`` (the metric name, e.g.
  ``Opened Email``), ``Timestamp``; optional ``Campaign ID``, ``Variation``, ``Bounce Type``,
  ``Campaign Channel``;
* **one row per recipient**: ``Email``, ``Campaign Name`` and one time column per activity
  (``Received`` / ``Sent At``, ``First Opened``, ``First Clicked``, ``Unsubscribed``, ``Bounced``).

Mapping: events are aggregated into one message per recipient and campaign: ``sent_ts`` = the
received (sent) time, else the recipient's first recorded event (bounced mail has no "Received"
event; noted); ``opened_ts`` / ``clicked_ts`` = first open / click; ``unsubscribed_ts``;
``bounced_ts`` = first *hard* bounce (a ``Bounce Type`` of soft or block is a temporary failure:
it counts as sent, not as bounced, and is counted in the notes). "Dropped Email" (never sent) and
spam complaints are not messages (counted). ``message_id`` = ``klaviyo-`` + 16 hex digits of
SHA-256 of campaign id and normalised email; ``campaign_id`` = ``Campaign ID`` when exported, else
the campaign name; ``channel`` sms / push when the metric or channel column says so, else email.
Recipients are found among the known customers by email; unknown recipients are dropped and
counted (import customers first). The aggregation lives in :mod:`playbook.data.importers.activity`,
shared with the Mailchimp importer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.activity import Activity, load_activity
from playbook.data.importers.base import ImportSession

PLATFORM, EXPORT = "Klaviyo", "campaign recipient activity"
HOW = ("In Klaviyo, open Analytics > Metrics, choose the email metrics (Received Email, Opened Email, Clicked "
       "Email, Bounced Email, Unsubscribed) and export the activity as CSV with the profile's Email, the "
       "Campaign Name and the Timestamp of each event.")
PREFIX = "klaviyo"

SPEC = Activity(PLATFORM, EXPORT, HOW, PREFIX)


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the ``messages`` of every Klaviyo activity export in ``files``."""
    load_activity(session, files, SPEC)
