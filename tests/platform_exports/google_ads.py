"""Tests-only writer: canonical ``spend`` -> a Google Ads campaign report as the UI downloads it.

Title lines (report name, date range), then ``Day, Campaign, Campaign type, Currency code, Cost,
Impr., Clicks`` and ``Total: ...`` rows. Only ``paid_search`` (type Search) and ``display`` (type
Display) rows are Google's; paid_social goes to Meta, email and affiliate spend is not written.
``encoding="utf-16"`` writes the tab-separated "Excel .csv" variant.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

TYPES = {"paid_search": "Search", "display": "Display"}


def write(tables: dict[str, pd.DataFrame], folder: Path, currency: str = "USD", encoding: str = "utf-8"
          ) -> list[Path]:
    """Write ``google_ads_campaigns.csv`` into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    s = tables["spend"]
    s = s[s["channel"].isin(list(TYPES))]
    day = pd.to_datetime(s["date"])
    body = pd.DataFrame({"Day": day.dt.strftime("%Y-%m-%d"), "Campaign": s["campaign_id"],
                         "Campaign type": s["channel"].map(TYPES), "Currency code": currency,
                         "Cost": s["spend"].map(lambda v: f"{v:,.2f}"), "Impr.": s["impressions"].map(lambda v: f"{v:,}"),
                         "Clicks": s["clicks"].map(lambda v: f"{v:,}")})
    total = pd.DataFrame([{"Day": "Total: Account", "Campaign": "", "Campaign type": "", "Currency code": currency,
                           "Cost": f"{s['spend'].sum():,.2f}", "Impr.": f"{s['impressions'].sum():,}",
                           "Clicks": f"{s['clicks'].sum():,}"}])
    sep = "\t" if encoding.startswith("utf-16") else ","
    span = f"{day.min():%B %-d, %Y} - {day.max():%B %-d, %Y}" if len(s) else ""
    text = "Campaign report\n" + f'"{span}"\n' + pd.concat([body, total]).to_csv(index=False, sep=sep)
    out = folder / "google_ads_campaigns.csv"
    out.write_text(text, encoding=encoding)
    return [out]
