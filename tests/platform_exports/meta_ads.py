"""Tests-only writer: canonical ``spend`` -> a Meta Ads Manager daily campaign report CSV.

Only ``paid_social`` rows are Meta's (paid_search / display go to Google Ads, see
:mod:`tests.platform_exports.google_ads`; email and affiliate spend has no ad-platform export and
is not written by either). ``campaign_id`` becomes ``Campaign name``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write(tables: dict[str, pd.DataFrame], folder: Path, currency: str | None = None) -> list[Path]:
    """Write ``meta_daily.csv`` into ``folder`` (``Amount spent (CUR)`` when ``currency`` is given)."""
    folder.mkdir(parents=True, exist_ok=True)
    s = tables["spend"]
    s = s[s["channel"] == "paid_social"]
    day = pd.to_datetime(s["date"]).dt.strftime("%Y-%m-%d")
    spent = f"Amount spent ({currency})" if currency else "Amount spent"
    out = folder / "meta_daily.csv"
    pd.DataFrame({"Reporting starts": day, "Reporting ends": day, "Campaign name": s["campaign_id"], "Day": day,
                  spent: s["spend"].map(lambda v: f"{v:.2f}"), "Impressions": s["impressions"],
                  "Link clicks": s["clicks"]}).to_csv(out, index=False, encoding="utf-8-sig")
    return [out]
