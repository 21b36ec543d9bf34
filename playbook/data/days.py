"""Calendar days of a time zone, in pandas only (no engine import).

Issue 16 item 5: a "day" is a calendar day of the campaign's ``timezone``, running from local
midnight to local midnight (23 or 25 hours on a daylight-saving day). These helpers turn days into
UTC instants without importing Ibis, so the config package (:mod:`playbook.config.campaign`,
``CampaignConfig.window``) can use them; :mod:`playbook.data.warehouse` re-exports them next to
its engine-side predicates (``Warehouse.local_day``, ``in_days``).

Conversions are pandas' ``tz_localize`` / ``tz_convert`` on the IANA database:
https://pandas.pydata.org/docs/reference/api/pandas.Timestamp.tz_localize.html
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import pandas as pd

#: A day or instant (dates and naive values are wall-clock times of the zone they are read in).
Day: TypeAlias = dt.date | dt.datetime | str | pd.Timestamp


def localize_naive(ts: pd.Timestamp, zone: str) -> pd.Timestamp:
    """Naive ``ts`` read as wall-clock time of ``zone``, in UTC (a skipped time moves to the first valid
    instant after it, a repeated one is the earlier instant)."""
    return ts.tz_localize(zone, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")


def calendar_day(value: Day, zone: str = "UTC") -> pd.Timestamp:
    """The calendar day of ``value`` in ``zone`` as a naive midnight timestamp.

    Dates and naive values keep their own calendar day; timezone-aware instants take the day they
    fall on in ``zone``.
    """
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(zone).tz_localize(None)
    return ts.normalize()


def local_midnight(day: Day, zone: str = "UTC") -> pd.Timestamp:
    """The UTC instant at which the calendar day of ``day`` (:func:`calendar_day`) begins in ``zone``.

    Examples
    --------
    >>> local_midnight("2025-11-28", "America/Los_Angeles")
    Timestamp('2025-11-28 08:00:00+0000', tz='UTC')
    >>> local_midnight("2025-11-28")
    Timestamp('2025-11-28 00:00:00+0000', tz='UTC')
    """
    return localize_naive(calendar_day(day, zone), zone)


def local_instant(value: Day, zone: str = "UTC") -> pd.Timestamp:
    """``value`` as a UTC instant, dates and naive values read as wall-clock times of ``zone`` (a date
    is its local midnight)."""
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC") if ts.tzinfo is not None else localize_naive(ts, zone)
