"""Tests-only writer: canonical ``messages`` (+ ``customers`` for emails) -> a Klaviyo activity export.

One row per event (``Email``, ``Campaign Name``, ``Metric``, ``Timestamp``, ``Variation``,
``Bounce Type``), the shape :mod:`playbook.data.importers.klaviyo` reads. Klaviyo records no
"Received" event for a bounced email, so a bounced message's send time is not in the file (the
importer then uses the bounce time). SMS has no opens and SMS / push no bounces in Klaviyo: those
fields are not written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Metric names per channel and activity (None: Klaviyo has no such metric).
METRICS: dict[str, dict[str, str | None]] = {
    "email": {"sent_ts": "Received Email", "opened_ts": "Opened Email", "clicked_ts": "Clicked Email",
              "unsubscribed_ts": "Unsubscribed", "bounced_ts": "Bounced Email"},
    "sms": {"sent_ts": "Received SMS", "opened_ts": None, "clicked_ts": "Clicked SMS",
            "unsubscribed_ts": "Unsubscribed from SMS", "bounced_ts": None},
    "push": {"sent_ts": "Received Push", "opened_ts": "Opened Push", "clicked_ts": None,
             "unsubscribed_ts": None, "bounced_ts": None},
}


def write(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write ``klaviyo_activity.csv`` into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    m = tables["messages"].merge(tables["customers"][["customer_id", "email"]], on="customer_id", how="inner")
    m = m[m["email"].notna()]
    parts = []
    for col in ("sent_ts", "opened_ts", "clicked_ts", "unsubscribed_ts", "bounced_ts"):
        if col not in m:
            continue
        sel = m[m[col].notna()].copy()
        if col == "sent_ts" and "bounced_ts" in m:
            sel = sel[sel["bounced_ts"].isna()]
        sel["Metric"] = sel["channel"].map(lambda ch, c=col: METRICS.get(ch, METRICS["email"])[c])
        sel = sel[sel["Metric"].notna()]
        parts.append(pd.DataFrame({
            "Email": sel["email"], "Campaign Name": sel["campaign_id"], "Metric": sel["Metric"],
            "Timestamp": pd.to_datetime(sel[col], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
            "Variation": sel["variant"], "Bounce Type": "hard" if col == "bounced_ts" else None}))
    out = folder / "klaviyo_activity.csv"
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return [out]
