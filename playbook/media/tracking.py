"""Tracking audit of a campaign window: can the attribution and spend data be trusted?

Checks (engine-side counts; only per-channel or per-day rows come back to pandas):

* orders without any touch (store orders usually have none; online orders should);
* paid touches without UTM source/medium (organic and direct traffic has none by nature);
* channel labels that disagree between touches, spend and the campaign config;
* days where a channel's spend row is missing, zero, or drops suddenly (possible pixel or feed
  failures);
* platform-reported conversions (an optional spend column) against internal last-touch credit.

Window days are calendar days of the campaign's time zone (``Warehouse.in_days``, issue 16 item 5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import ibis
import numpy as np
import pandas as pd

from playbook.data.aggregates import exact_sum
from playbook.data.contract import PAID_CHANNELS
from playbook.data.warehouse import Warehouse, calendar_day, to_day

#: A day given as a date, an ISO string or a timestamp.
Day: TypeAlias = dt.date | str | pd.Timestamp


def utm_audit(wh: Warehouse, start: Day, end: Day, paid_channels: Sequence[str]) -> pd.DataFrame:
    """Touches per channel in the window and the share without UTM source/medium.

    Returns
    -------
    DataFrame
        ``channel, touches, without_utm, share_without_utm, paid`` (missing UTMs are a defect
        only on paid channels; organic and direct traffic has none by nature).
    """
    cols = ["channel", "touches", "without_utm", "share_without_utm", "paid"]
    if not wh.has("touches"):
        return pd.DataFrame(columns=cols)
    t = wh.table("touches")
    t = t.filter(wh.in_days(t.touch_ts, start, end))  # local days of the campaign's zone
    missing = t.utm_source.isnull() | t.utm_medium.isnull() | (t.utm_source.strip() == "")
    df = t.group_by("channel").aggregate(touches=t.count(), without_utm=missing.sum()).execute()
    df["channel"] = df["channel"].astype(object).where(df["channel"].notna(), "unknown")
    df[["touches", "without_utm"]] = df[["touches", "without_utm"]].fillna(0).astype("int64")
    df["share_without_utm"] = df["without_utm"] / df["touches"].clip(lower=1)
    df["paid"] = df["channel"].isin(list(paid_channels))
    return df[cols].sort_values("channel", ignore_index=True)


def channel_mismatch(touch_channels: Sequence[str], spend_channels: Sequence[str],
                     config_channels: Sequence[str]) -> pd.DataFrame:
    """Channels found in touches, spend and the config, and where they disagree.

    Returns
    -------
    DataFrame
        ``channel, in_touches, in_spend, in_config, issue`` (empty string when consistent;
        organic/direct in touches only is expected).
    """
    chans = sorted(set(touch_channels) | set(spend_channels) | set(config_channels))
    rows = []
    for ch in chans:
        t, s, c = ch in touch_channels, ch in spend_channels, ch in config_channels
        issue = ""
        if s and not t:
            issue = "spend but no touches: tracking may be missing"
        elif t and not s and (ch in PAID_CHANNELS or c):
            issue = "touches but no spend: spend data missing or label differs"
        elif c and not s:
            issue = "budgeted in the config but no spend recorded"
        elif s and not c:
            issue = "spend recorded but not budgeted in the config"
        rows.append({"channel": ch, "in_touches": t, "in_spend": s, "in_config": c, "issue": issue})
    return pd.DataFrame(rows, columns=["channel", "in_touches", "in_spend", "in_config", "issue"])


def spend_gaps(spend: pd.DataFrame, start: Day, end: Day, drop_ratio: float = 0.1, window: int = 7) -> pd.DataFrame:
    """Days with missing spend, zero spend, or a sudden drop (possible pixel/feed failures).

    A drop is a day below ``drop_ratio`` times the median of the previous ``window`` days (with
    that median > 0). Channels are those with any spend in the window.

    Returns
    -------
    DataFrame
        ``day, channel, issue`` ("no spend row", "zero spend", "sudden drop"), ``spend``,
        ``trailing_median``.
    """
    cols = ["day", "channel", "issue", "spend", "trailing_median"]
    if spend.empty:
        return pd.DataFrame(columns=cols)
    days = pd.date_range(to_day(start), to_day(end), freq="D").astype("datetime64[ns]")
    rows = []
    for ch, g in spend.groupby("channel"):
        s = g.groupby("day")["spend"].sum()
        present = s.reindex(days)
        filled = present.fillna(0.0)
        med = filled.shift(1).rolling(window, min_periods=3).median()
        for d in days:
            v, m = present.get(d), med.get(d)
            if pd.isna(v):
                rows.append((d, ch, "no spend row", 0.0, float(m) if pd.notna(m) else 0.0))
            elif v == 0:
                rows.append((d, ch, "zero spend", 0.0, float(m) if pd.notna(m) else 0.0))
            elif pd.notna(m) and m > 0 and v < drop_ratio * m:
                rows.append((d, ch, "sudden drop", float(v), float(m)))
    return pd.DataFrame(rows, columns=cols)


PLATFORM_COLUMNS: tuple[str, ...] = ("platform_conversions", "conversions", "reported_conversions")


def platform_vs_internal(wh: Warehouse, start: Day, end: Day, attributed: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Platform-reported conversions (an optional spend column) against last-touch conversions.

    Looks for one of :data:`PLATFORM_COLUMNS` in the spend table (not part of the data contract).

    Returns
    -------
    (DataFrame, str)
        ``channel, platform_reported, internal_last_touch, ratio`` and a note; the table is empty
        when the spend table has no such column.
    """
    cols = ["channel", "platform_reported", "internal_last_touch", "ratio"]
    if not wh.has("spend"):
        return pd.DataFrame(columns=cols), "No spend table: platform-reported conversions unavailable."
    present = [c for c in PLATFORM_COLUMNS if c in wh.columns("spend")]
    if not present:
        return pd.DataFrame(columns=cols), ("The spend data carries no platform-reported conversions "
                                            f"(a column named one of {list(PLATFORM_COLUMNS)}), so they "
                                            "cannot be compared with internal figures.")
    s = wh.raw("spend")
    d0, d1 = calendar_day(start, wh.day_zone).date(), calendar_day(end, wh.day_zone).date()
    s = s.filter(s.date >= ibis.date(d0), s.date <= ibis.date(d1))
    df = s.group_by("channel").aggregate(platform_reported=exact_sum(s[present[0]])).order_by("channel").execute()
    lt = attributed[attributed["model"] == "last_touch"].set_index("channel")["conversions"] if not \
        attributed.empty else pd.Series(dtype=float)
    df["platform_reported"] = pd.to_numeric(df["platform_reported"]).astype(float).fillna(0.0)
    df["internal_last_touch"] = df["channel"].map(lambda c: float(lt.get(c, 0.0)))
    df["ratio"] = np.where(df["internal_last_touch"] > 0,
                           df["platform_reported"] / df["internal_last_touch"].where(df["internal_last_touch"] > 0, 1),
                           np.nan)
    return df[cols], f"Platform-reported conversions from spend.{present[0]}."


def audit_summary(no_touch: pd.DataFrame, utm: pd.DataFrame, mismatch: pd.DataFrame,
                  gaps: pd.DataFrame) -> pd.DataFrame:
    """One table of tracking checks: check, value, detail."""
    rows = []
    n, nt = int(no_touch["orders"].sum()) if not no_touch.empty else 0, \
        int(no_touch["orders_without_touch"].sum()) if not no_touch.empty else 0
    online = no_touch[no_touch["order_channel"] != "store"] if not no_touch.empty else no_touch
    on_n = int(online["orders"].sum()) if not online.empty else 0
    on_nt = int(online["orders_without_touch"].sum()) if not online.empty else 0
    rows.append(("orders without a touch", f"{nt / n:.1%}" if n else "no orders", f"{nt:,} of {n:,} orders"))
    rows.append(("online orders without a touch", f"{on_nt / on_n:.1%}" if on_n else "no online orders",
                 f"{on_nt:,} of {on_n:,} web/app orders"))
    paid = utm[utm["paid"]] if not utm.empty else utm
    pt, pw = (int(paid["touches"].sum()), int(paid["without_utm"].sum())) if not paid.empty else (0, 0)
    rows.append(("paid touches without UTM", f"{pw / pt:.1%}" if pt else "no paid touches", f"{pw:,} of {pt:,}"))
    issues = mismatch[mismatch["issue"] != ""] if not mismatch.empty else mismatch
    rows.append(("channel label mismatches", str(len(issues)),
                 "; ".join(f"{r.channel}: {r.issue}" for r in issues.itertuples()) or "none"))
    for kind in ("no spend row", "zero spend", "sudden drop"):
        g = gaps[gaps["issue"] == kind] if not gaps.empty else gaps
        detail = ", ".join(f"{ch} ({k})" for ch, k in g.groupby("channel").size().items()) if len(g) else "none"
        rows.append((f"spend days: {kind}", str(len(g)), detail))
    return pd.DataFrame(rows, columns=["check", "value", "detail"])


@dataclass
class TrackingAudit:
    """All tracking checks of a window.

    Attributes
    ----------
    summary : DataFrame
        ``check, value, detail`` (:func:`audit_summary`).
    utm, mismatch, spend_gaps : DataFrame
        :func:`utm_audit`, :func:`channel_mismatch` and :func:`spend_gaps`.
    platform : DataFrame
        :func:`platform_vs_internal` (empty without platform-reported conversions).
    platform_note : str
        Where the platform-reported conversions came from, or why there are none.
    """

    summary: pd.DataFrame
    utm: pd.DataFrame
    mismatch: pd.DataFrame
    spend_gaps: pd.DataFrame
    platform: pd.DataFrame
    platform_note: str


def tracking_audit(wh: Warehouse, start: Day, end: Day, channels: Sequence[str], no_touch: pd.DataFrame,
                   spend: pd.DataFrame, attributed: pd.DataFrame) -> TrackingAudit:
    """Every tracking check of the window ``[start, end]``.

    Parameters
    ----------
    channels : sequence of str
        The paid channels budgeted in the campaign config.
    no_touch : DataFrame
        Orders with and without touches per order channel (``PathData.no_touch`` of
        :func:`playbook.media.attribution.build_paths`).
    spend : DataFrame
        Daily spend per channel in the window (``day, channel, spend``).
    attributed : DataFrame
        Long attribution table (``model, channel, conversions, ...``).
    """
    utm = utm_audit(wh, start, end, list(channels))
    spend_chans = sorted(spend["channel"].unique()) if not spend.empty else []
    mismatch = channel_mismatch(list(utm["channel"]), spend_chans, list(channels))
    gaps = spend_gaps(spend, start, end)
    platform, note = platform_vs_internal(wh, start, end, attributed)
    return TrackingAudit(audit_summary(no_touch, utm, mismatch, gaps), utm, mismatch, gaps, platform, note)


def describe_audit(audit: TrackingAudit) -> str:
    """Sentence on the tracking checks (Markdown)."""
    s = audit.summary.set_index("check")["value"]
    text = (f"{s['orders without a touch']} of the window's orders had no touch ({s['online orders without a touch']} "
            f"of web/app orders); {s['paid touches without UTM']} of paid touches lack UTM parameters; "
            f"{s['channel label mismatches']} channel label mismatches; "
            f"{len(audit.spend_gaps)} channel-days with missing, zero or suddenly dropped spend.")
    return f"{text} {audit.platform_note}"
