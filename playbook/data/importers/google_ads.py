"""Google Ads daily campaign performance -> ``spend``.

Reads the campaign report downloaded from the Google Ads UI (Campaigns table, segment by Day,
Download > .csv / Excel .csv) or built in the Report editor. Documentation followed:

* Download a table as a report (choose the format, e.g. .csv): https://support.google.com/google-ads/answer/7498572
  (the UI's "Excel .csv" is UTF-16 tab-separated; page not in the documentation store, not re-checked)
* Column names as the UI writes them: ``Day`` (segment), ``Campaign``, ``Campaign ID``,
  ``Campaign type``, ``Currency code``, ``Cost``, ``Impr.``, ``Clicks``; downloads start with
  title lines (report name, date range) and end with ``Total: ...`` rows.
* Campaign types (Search, Display, Shopping, Video, App ...), as Google Ads Editor's CSV names them:
  https://support.google.com/google-ads/editor/answer/57747 (Performance Max and Demand Gen are newer types)
* API exports carry cost in micros (``metrics.cost_micros`` = cost x 1,000,000):
  https://developers.google.com/google-ads/scripts/docs/solutions/account-summary (``metrics.cost_micros``)

Mapping: one row per day and campaign (rows of the same day and campaign, e.g. a report broken
down by device, are summed); ``campaign_id`` = ``Campaign ID`` when present, else ``Campaign``;
``spend`` = ``Cost`` (``Cost (micros)`` / ``cost_micros`` divided by 1,000,000); ``--`` (Google's
"no data") and empty cells are 0; ``Total: ...`` rows and title lines are skipped. Channel from
``Campaign type``: Display, Video (YouTube), Demand Gen / Discovery -> ``display`` (bought on
display and video inventory, not on a search results page); Search, Shopping, Performance Max,
App, Smart, Hotel, Local and an absent type -> ``paid_search``. The user's ``--channel`` rules
(on the campaign name) override the type. UTF-16 tab-separated "Excel .csv" files are transcoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.base import (
    ExportFile,
    ImportSession,
    channel,
    lit,
    number,
    q,
    text,
    timestamp,
)
from playbook.errors import DataError

PLATFORM, EXPORT = "Google Ads", "daily campaign report"
HOW = ("In Google Ads, open Campaigns, choose the date range, Segment > Time > Day, show the columns Campaign, "
       "Campaign type, Currency code, Cost, Impr. and Clicks, then Download > .csv.")
DEFAULT_CHANNEL = "paid_search"
REQUIRED = {"day": ("Day", "Date", "segments.date"), "campaign": ("Campaign", "Campaign name", "campaign.name"),
            "impressions": ("Impr.", "Impressions", "metrics.impressions")}
OPTIONAL = {"campaign_id": ("Campaign ID", "campaign.id"), "clicks": ("Clicks", "metrics.clicks"),
            "currency": ("Currency code", "Currency", "customer.currency_code"),
            "type": ("Campaign type", "Advertising channel type", "campaign.advertising_channel_type")}
COST = ("Cost", "Cost (converted currency)")
COST_MICROS = ("Cost (micros)", "cost_micros", "metrics.cost_micros", "Cost micros")
#: ``Campaign type`` values (lower case, also the API's enum names) booked on ``display``.
DISPLAY_TYPES: tuple[str, ...] = ("display", "video", "demand gen", "demand_gen", "discovery", "youtube")


def _cost(f: ExportFile) -> str:
    """SQL: the cost in the account currency (micros divided by a million)."""
    dc = f.decimal_comma
    col = f.has(*COST)
    if col is not None:
        return f"COALESCE({number(col, dc)}, 0)"
    col = f.has(*COST_MICROS)
    if col is not None:
        return f"COALESCE({number(col, dc)}, 0) / 1000000.0"
    raise DataError(f"{PLATFORM} {EXPORT} {f.path.name} lacks the column 'Cost' (or 'Cost (micros)'). {HOW}")


def _type_channel(type_col: str | None) -> str:
    """SQL: the channel a campaign type is booked on (``paid_search`` without a type column)."""
    if type_col is None:
        return lit(DEFAULT_CHANNEL)
    t = f"LOWER(TRIM(COALESCE({q(type_col)}, '')))"
    cases = " OR ".join(f"{t} LIKE {lit(d + '%')}" for d in DISPLAY_TYPES)
    return f"CASE WHEN {cases} THEN 'display' ELSE {lit(DEFAULT_CHANNEL)} END"


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the ``spend`` rows of every Google Ads campaign report in ``files``."""
    for path in files:
        f = session.read_csv(path, platform=PLATFORM, export=EXPORT, how=HOW, header_has=("Campaign",))
        cols = f.require(REQUIRED)
        cols.update(f.optional(OPTIONAL))
        session.check_currency(f, cols.get("currency"), where=f"{text(cols['campaign'])} NOT LIKE 'Total:%'")
        dc = f.decimal_comma
        camp = text(cols["campaign"])
        cid = text(cols["campaign_id"]) if "campaign_id" in cols else camp
        clicks = f"COALESCE({number(cols['clicks'], dc)}, 0)" if "clicks" in cols else "0"
        by_rule = channel(camp, "", session.options.channel_rules)
        ch = f"COALESCE(NULLIF({by_rule}, ''), {_type_channel(cols.get('type'))})"
        day = f"CAST({timestamp(q(cols['day']), 'UTC')} AS DATE)"
        data = f"{camp} IS NOT NULL AND {camp} NOT LIKE 'Total:%' AND COALESCE({text(cols['day'])}, '') NOT LIKE 'Total%'"
        rows = session.add("spend", f"""
            SELECT day AS date, ch AS channel, cid AS campaign_id, SUM(spend) AS spend,
                   CAST(SUM(impressions) AS BIGINT) AS impressions, CAST(SUM(clicks) AS BIGINT) AS clicks
            FROM (SELECT {day} AS day, {ch} AS ch, {cid} AS cid, {_cost(f)} AS spend,
                         COALESCE({number(cols['impressions'], dc)}, 0) AS impressions, {clicks} AS clicks
                  FROM {f.view} WHERE {data})
            WHERE day IS NOT NULL GROUP BY ALL""")
        totals = session.count(f"SELECT COUNT(*) FROM {f.view} WHERE NOT ({data})")
        bad = session.count(f"SELECT COUNT(*) FROM {f.view} WHERE {data} AND {day} IS NULL")
        if totals:
            session.note(f"{path.name}: {totals:,} total / empty row(s) skipped.")
        if bad:
            session.note(f"{path.name}: {bad:,} row(s) without a readable day skipped (a report without "
                         "the Day segment?).")
        session.note(f"{path.name}: {rows:,} day x campaign rows of spend.")
