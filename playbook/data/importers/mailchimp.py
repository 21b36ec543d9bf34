"""Mailchimp campaign recipient activity -> ``messages``.

Documentation followed:

* Campaign reports: recipients, opened, clicked, bounced ("hard or soft bounce"), unsubscribed;
  the Activity menu exports the recipients who acted in a given way:
  https://mailchimp.com/help/about-email-campaign-reports/ and
  http://kb.mailchimp.com/article/what-do-the-stats-in-the-campaign-report-overview-mean
* Account export: "Subscriber-level campaign reports, such as 'who opened' and 'who clicked'",
  "both aggregate and granular reporting data for sent campaigns", one folder per campaign:
  https://mailchimp.com/developer/marketing/docs/account-exports/ and
  http://kb.mailchimp.com/accounts/management/export-and-back-up-account-data
* Member activity fields (``email_address``, ``action`` open / click / bounce, ``type`` hard / soft
  for bounces, ``timestamp``) and the sent-to report (``status`` sent / hard / soft):
  https://mailchimp.com/developer/marketing/api/reports/ (Email Activity, Sent To)

Accepted shapes (detected by header; the CSV headers of the app's downloads are not published,
so the names are the report's and the API's words):

* **one row per activity**: ``Email Address``, ``Action`` (open, click, bounce, unsub, sent),
  ``Timestamp``, optional ``Type`` (hard / soft), ``Campaign Title`` or ``Campaign ID``;
* **one row per recipient**: ``Email Address`` with time columns ``Sent``, ``Opened`` /
  ``First Open``, ``Clicked`` / ``First Click``, ``Unsubscribed``, ``Bounced``;
* **one file per activity** (an Activity list, or the account export's ``opened.csv``,
  ``clicked.csv``, ``hard_bounces.csv``, ``unsubscribed.csv``, ``sent.csv``): ``Email Address``
  and ``Timestamp``; the activity is read from the file name.

Without a campaign column the campaign is the name of the file's folder (the account export's
one folder per campaign; noted). Mapping and rules as for Klaviyo (:mod:`.klaviyo`): one message
per recipient and campaign, first open / click, hard bounces only (a soft bounce counts as sent),
``message_id`` = ``mailchimp-`` + 16 hex digits of SHA-256 of campaign and email; channel email
(Mailchimp sends email; an SMS channel column is honoured); unknown recipients dropped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.activity import EMAIL, TIME, Activity, load_activity
from playbook.data.importers.base import ImportSession

PLATFORM, EXPORT = "Mailchimp", "campaign recipient activity"
HOW = ("In Mailchimp, open Analytics > Reports, View Report of the campaign, then Activity > Opened, Clicked, "
       "Bounced and Unsubscribed > Export (or Account > Settings > Manage my data > Export data with "
       "reports); keep the Email Address, the activity and its Timestamp.")
PREFIX = "mailchimp"

SPEC = Activity(
    PLATFORM, EXPORT, HOW, PREFIX,
    email=("Email Address", *EMAIL),
    campaign=("Campaign Title", "Campaign", "Campaign Name", "Title"),
    campaign_id=("Campaign ID", "campaign_id", "Unique Id"),
    action=("Action", "Activity", "Status"),
    time=(*TIME, "Activity Time"),
    variant=("Variate", "Variation", "Combination", "Variant"),
    bounce_type=("Type", "Bounce Type"),
    channel=("Channel",),
    wide={"sent": ("Sent", "Sent At", "Send Time", "Delivered"),
          "open": ("First Open", "First Opened", "Opened", "Open Time", "Opened At"),
          "click": ("First Click", "First Clicked", "Clicked", "Click Time", "Clicked At"),
          "unsub": ("Unsubscribed", "Unsub Time", "Unsubscribed At"),
          "bounce": ("Bounced", "Bounce Time", "Bounced At")},
    campaign_from_folder=True,
    kind_from_file_name=True,
)


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the ``messages`` of every Mailchimp activity export in ``files``."""
    load_activity(session, files, SPEC)
