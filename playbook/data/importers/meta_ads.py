"""Meta Ads (Facebook and Instagram) daily campaign performance -> ``spend``.

Reads the report Ads Manager exports (Ads Reporting > Export table data > CSV) with the
breakdown *By time > Day* at campaign level. Documentation followed:

* Export reports from Ads Manager: https://www.facebook.com/business/help/1695754927158071
* Column names (metrics glossary): "Amount spent" (written with the account currency,
  ``Amount spent (USD)``), "Impressions", "Link clicks": https://www.facebook.com/business/help/447834205249495
* The time breakdown column is ``Day``; ``Reporting starts`` / ``Reporting ends`` carry the
  report's date range (one day each with the daily breakdown, used when ``Day`` is absent).

Mapping: one row per day and campaign; ``campaign_id`` = ``Campaign ID`` when exported, else
``Campaign name``; ``channel`` = ``paid_social`` unless a channel rule matches the campaign name;
``clicks`` = ``Link clicks`` (empty -> 0); rows of the same day and campaign (an export broken
down further, e.g. by placement) are summed. The currency is read from the ``Amount spent (CUR)``
header (or a ``Currency`` column) and checked against the campaign's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.base import ImportSession, channel, number, q, text, timestamp
from playbook.errors import DataError

PLATFORM, EXPORT = "Meta Ads", "daily campaign report"
HOW = ("In Ads Manager, choose the Campaigns tab, Breakdown > By time > Day, columns Campaign name, "
       "Amount spent, Impressions and Link clicks, then Reports > Export table data > .csv.")
DEFAULT_CHANNEL = "paid_social"
REQUIRED = {"day": ("Day", "Reporting starts"), "campaign": ("Campaign name",), "impressions": ("Impressions",)}
OPTIONAL = {"campaign_id": ("Campaign ID",), "clicks": ("Link clicks", "Clicks (all)"), "currency": ("Currency",)}
_SPENT = re.compile(r"^Amount spent(?: \((?P<cur>[A-Z]{3})\))?$", re.IGNORECASE)


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the ``spend`` rows of every Meta Ads report in ``files``."""
    for path in files:
        f = session.read_csv(path, platform=PLATFORM, export=EXPORT, how=HOW, header_has=("Campaign name",))
        cols = f.require(REQUIRED)
        cols.update(f.optional(OPTIONAL))
        spent = next((c for c in f.columns if _SPENT.match(c.strip())), None)
        if spent is None:
            raise DataError(f"{PLATFORM} {EXPORT} {path.name} lacks the column 'Amount spent (CUR)'. {HOW}")
        cur = _SPENT.match(spent.strip()).group("cur")  # type: ignore[union-attr]
        if "currency" in cols:
            session.check_currency(f, cols["currency"])
        elif cur:
            expected = session.options.currency
            if expected and cur.upper() != expected.upper():
                raise DataError(f"{PLATFORM} {EXPORT} {path.name} reports amounts in {cur}, but the campaign's "
                                f"currency is {expected}. The playbook does not convert currencies.")
        else:
            session.check_currency(f, None)
        dc = f.decimal_comma
        camp = text(cols["campaign"])
        cid = text(cols["campaign_id"]) if "campaign_id" in cols else camp
        clicks = f"COALESCE({number(cols['clicks'], dc)}, 0)" if "clicks" in cols else "0"
        day = f"CAST({timestamp(q(cols['day']), 'UTC')} AS DATE)"
        rows = session.add("spend", f"""
            SELECT day AS date, ch AS channel, cid AS campaign_id, SUM(spend) AS spend,
                   CAST(SUM(impressions) AS BIGINT) AS impressions, CAST(SUM(clicks) AS BIGINT) AS clicks
            FROM (SELECT {day} AS day, {channel(camp, DEFAULT_CHANNEL, session.options.channel_rules)} AS ch,
                         {cid} AS cid, COALESCE({number(spent, dc)}, 0) AS spend,
                         COALESCE({number(cols['impressions'], dc)}, 0) AS impressions, {clicks} AS clicks
                  FROM {f.view} WHERE {camp} IS NOT NULL)
            WHERE day IS NOT NULL GROUP BY ALL""")
        bad = session.count(f"SELECT COUNT(*) FROM {f.view} WHERE {text(cols['campaign'])} IS NOT NULL "
                            f"AND {day} IS NULL")
        if bad:
            session.note(f"{path.name}: {bad:,} row(s) without a readable day skipped (totals rows or a "
                         "report without the Day breakdown).")
        session.note(f"{path.name}: {rows:,} day x campaign rows of spend.")
