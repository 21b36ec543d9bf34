"""User events (own promotions, campaign days) as regressors of forecast_series.

An analyst passes events to :func:`playbook.forecasting.series.forecast_series` as

* a DataFrame with columns ``name``, ``start`` and optionally ``end`` (inclusive; default
  ``start``), one row per occurrence; or
* a mapping ``{name: [(start, end), ...]}`` or ``{name: (start, end)}`` or ``{name: [date, ...]}``.

Each event becomes one daily column ``event:<name>`` that is 1 on every day of an occurrence.
Weekly and monthly series use the number of event days in each period. The log-linear regression
reads ``exp(coef)`` as the event's multiplier per event day. An event whose days never fall in the
training window cannot be estimated: the column is dropped and the caller says so in a note
(:func:`unseen_events`), rather than letting it vanish silently.

Public holidays and retail events of a country come from
:func:`playbook.forecasting.calendar.event_features` (not from here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from playbook.errors import ConfigError
from playbook.forecasting.calendar_rules import parse_events

PREFIX = "event:"


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, tuple) and len(value) == 2:
        return [value]
    if isinstance(value, (str, pd.Timestamp)) or not isinstance(value, Iterable):
        return [(value, value)]
    out: list[tuple[Any, Any]] = []
    for v in value:
        out += _pairs(v)
    return out


def events_table(events: Any) -> pd.DataFrame:
    """Normalise ``events`` to a DataFrame ``name``, ``start``, ``end`` (Timestamps, end >= start).

    The API forms (a DataFrame whose ``end`` may be missing, a mapping name -> date ranges) become
    entries of the campaign file's ``events:`` shape and are checked by the same function,
    :func:`playbook.forecasting.calendar_rules.parse_events` (dates, end before start, overlapping
    occurrences of one name).

    Raises
    ------
    ConfigError
        Missing columns, unreadable dates, an end before its start (the message names the entry).
    """
    if events is None:
        return pd.DataFrame(columns=["name", "start", "end"])
    if isinstance(events, pd.DataFrame):
        missing = {"name", "start"} - set(events.columns)
        if missing:
            raise ConfigError(f"events needs columns name, start (and optionally end); missing {sorted(missing)}; "
                              f"got {list(events.columns)}.")
        records = [{"name": r["name"], "start": r["start"],
                    "end": r["start"] if pd.isna(r.get("end", None)) else r["end"]}
                   for r in events.to_dict("records")]
    elif isinstance(events, Mapping):
        records = [{"name": name, "start": a, "end": b} for name, v in events.items() for a, b in _pairs(v)]
    else:
        raise ConfigError(f"events must be a DataFrame (name, start, end) or a mapping name -> date ranges; "
                          f"got {type(events).__name__}.")
    parsed = parse_events(records)
    return pd.DataFrame({"name": [e.name for e in parsed],
                         "start": pd.to_datetime([e.start for e in parsed]),
                         "end": pd.to_datetime([e.end for e in parsed])}).reset_index(drop=True)


def series_events(events: Any, countries: Sequence[str] = ()) -> pd.DataFrame:
    """The events (the campaign file's ``events:`` entries or any form
    :func:`playbook.forecasting.calendar_rules.parse_events` reads) that apply to a series of
    ``countries``, as a table ``name``, ``start``, ``end``.

    An entry without ``countries`` applies to every series; one with ``countries`` to a series
    whose countries include one of them (for a total of several countries its column is 1 on the
    event's days, whatever its share of the total).
    """
    parsed = parse_events(events) if events is not None and len(events) else []
    want = {c.upper() for c in countries}
    keep = [e for e in parsed if e.countries is None or not want or want & {c.upper() for c in e.countries}]
    return pd.DataFrame({"name": [e.name for e in keep], "start": pd.to_datetime([e.start for e in keep]),
                         "end": pd.to_datetime([e.end for e in keep])}).reset_index(drop=True)


def user_event_features(days: pd.DatetimeIndex, events: pd.DataFrame) -> pd.DataFrame:
    """Daily 0/1 columns ``event:<name>`` (1 on days inside an occurrence of the event)."""
    days = pd.DatetimeIndex(days).normalize()
    cols: dict[str, np.ndarray] = {}
    d = days.to_numpy()
    for name, g in events.groupby("name", sort=True):
        on = np.zeros(len(days), dtype=bool)
        for a, b in zip(g["start"].to_numpy(), g["end"].to_numpy(), strict=True):
            on |= (d >= a) & (d <= b)
        cols[f"{PREFIX}{name}"] = on.astype(float)
    return pd.DataFrame(cols, index=days)


def unseen_events(train_days: pd.DatetimeIndex, future_days: pd.DatetimeIndex, events: pd.DataFrame) -> list[str]:
    """Names of events with days in the forecast window but none in the training window."""
    if events.empty:
        return []
    tr = user_event_features(train_days, events)
    fu = user_event_features(future_days, events)
    return [c[len(PREFIX):] for c in fu.columns if fu[c].sum() > 0 and tr[c].sum() == 0]
