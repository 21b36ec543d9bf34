"""Tests-only writer: canonical email ``messages`` (+ ``customers``) -> a Mailchimp activity export.

One row per activity (``Email Address``, ``First Name``, ``Campaign Title``, ``Action``, ``Type``,
``Timestamp``), the shape :mod:`playbook.data.importers.mailchimp` reads. Mailchimp sends email
only: SMS and push messages are not written. A bounced message has a ``bounce`` (type hard) and no
``sent`` row, so its send time is not in the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ACTIONS = {"sent_ts": "sent", "opened_ts": "open", "clicked_ts": "click", "unsubscribed_ts": "unsub",
           "bounced_ts": "bounce"}


def write(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write ``mailchimp_activity.csv`` into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    cust = tables["customers"][["customer_id", "email", "first_name"]]
    m = tables["messages"]
    m = m[m["channel"] == "email"].merge(cust, on="customer_id", how="inner")
    m = m[m["email"].notna()]
    parts = []
    for col, action in ACTIONS.items():
        if col not in m:
            continue
        sel = m[m[col].notna()]
        if col == "sent_ts" and "bounced_ts" in m:
            sel = sel[sel["bounced_ts"].isna()]
        parts.append(pd.DataFrame({
            "Email Address": sel["email"], "First Name": sel["first_name"], "Campaign Title": sel["campaign_id"],
            "Action": action, "Type": "hard" if action == "bounce" else None,
            "Timestamp": pd.to_datetime(sel[col], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")}))
    out = folder / "mailchimp_activity.csv"
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return [out]
