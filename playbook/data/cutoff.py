"""The planning cutoff, defined once: which data a step may use.

``season.planning_cutoff`` in the campaign config is *the last day of data used for planning*
(:class:`playbook.config.campaign.Season`; the day before ``season.start`` when unset). The cutoff
day is therefore **included**: a row counts when its timestamp is before midnight at the end of
that day, ``ts < cutoff + 1 day``, in the campaign's ``timezone`` (a "day" is a calendar day of
that zone, UTC by default; see :mod:`playbook.data.warehouse`, "Days", and issue 16 item 5:
a US shop's evening orders on the cutoff day are before the cutoff, not after it). The plan step's daily history already ended on that day
(``daily_sales(..., end=cutoff)`` includes ``end``); every other step takes the same instant from
:func:`planning_as_of`.

Functions below the steps (CLV, features, propensity, profile, ...) take an *instant*
(``as_of``) and count what is strictly before it; a bare date given to them is read as midnight
at the *start* of that day (:func:`playbook.data.warehouse.to_utc`), which leaves the day out.
So a step never passes ``cfg.season.planning_cutoff`` to them directly: it passes
:func:`planning_as_of` (or :func:`cutoff_instant` of a past season's cutoff day). Issue 18 item 7:
the CLV and segment steps used cutoffs a day apart (171 sale orders of the sample's cutoff day
were in one and not the other).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from playbook.data.warehouse import calendar_day, local_instant, local_midnight

#: The rule in words, for reports and docstrings.
CUTOFF_RULE = ("data up to and including the planning cutoff day (timestamps before midnight at its end, "
               "in the campaign's time zone)")

_DAY = pd.Timedelta(days=1)


def cutoff_instant(day: dt.date | dt.datetime | str | pd.Timestamp, zone: str = "UTC") -> pd.Timestamp:
    """The as-of instant of a cutoff *day*: midnight at the end of it (the next day's start) in ``zone``.

    Parameters
    ----------
    day : date, datetime, str or Timestamp
        The last day of data to use. A time of day is ignored (only the calendar day counts: that
        of ``zone`` for a timezone-aware value; naive values and dates keep their own day).
    zone : str
        IANA time zone of the campaign (``"UTC"`` by default). On a daylight-saving day the
        instant is still local midnight (the day lasts 23 or 25 hours).

    Returns
    -------
    pandas.Timestamp
        Tz-aware UTC instant; rows with a timestamp strictly before it are "up to the cutoff".

    Examples
    --------
    >>> cutoff_instant("2025-10-15")
    Timestamp('2025-10-16 00:00:00+0000', tz='UTC')
    """
    return local_midnight(calendar_day(day, zone) + _DAY, zone)


def last_day_before(as_of: dt.date | dt.datetime | str | pd.Timestamp, zone: str = "UTC") -> pd.Timestamp:
    """The last day of ``zone`` with data strictly before the instant ``as_of`` (naive midnight).

    The inverse of :func:`cutoff_instant` for day-aligned instants: ``last_day_before(
    cutoff_instant(d, zone), zone) == d``; an instant inside a day gives that day. A date or naive
    ``as_of`` is read as wall-clock time of ``zone``.
    """
    return calendar_day(local_instant(as_of, zone) - pd.Timedelta(microseconds=1), zone)


def planning_cutoff_day(cfg: Any) -> dt.date:
    """The campaign's planning cutoff day (``season.planning_cutoff``; the day before the start
    when a config object leaves it unset)."""
    season = cfg.season
    day: dt.date = season.planning_cutoff if season.planning_cutoff is not None else season.start - dt.timedelta(days=1)
    return day


def campaign_zone(cfg: Any) -> str:
    """The campaign's time zone (``cfg.timezone``; ``"UTC"`` for a config object without one)."""
    zone = getattr(cfg, "timezone", None)
    return str(zone) if zone else "UTC"


def planning_as_of(cfg: Any) -> pd.Timestamp:
    """The as-of instant every step uses: :func:`cutoff_instant` of :func:`planning_cutoff_day`, in
    the campaign's time zone (:func:`campaign_zone`)."""
    return cutoff_instant(planning_cutoff_day(cfg), campaign_zone(cfg))
