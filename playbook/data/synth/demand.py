"""Planted daily demand: weekday, annual cycle, growth trend and retail-event curves per
country and demand profile (event dates from :mod:`playbook.forecasting.calendar`), and the
promo-code stem of each event day."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from playbook.data.synth.params import (
    ANNUAL_AMPLITUDE,
    ANNUAL_PEAK_DOY,
    BARGAIN_POWER,
    COUNTRIES,
    EVENT_EFFECTS,
    EVENT_PROMO,
    EVENT_SHAPES,
    SEASONAL_BOOST,
    TREND_PER_YEAR,
    WEEKDAY,
)
from playbook.forecasting import calendar


def _event_curve(event: str, country: str, days: pd.DatetimeIndex) -> np.ndarray:
    """Multiplicative effect of ``event`` in ``country`` on each day of ``days`` (1 = none)."""
    out = np.ones(len(days))
    mult = EVENT_EFFECTS[event].get(country)
    if mult is None:
        return out
    shape = EVENT_SHAPES[event]
    day0 = days[0]
    for year in sorted(set(days.year)):
        anchor = calendar.event_date(shape["anchor"], country, year)
        if anchor is None:
            continue
        peak = (pd.Timestamp(anchor) - day0).days + shape["offset"]
        for k in range(-shape["before"], shape["after"] + 1):
            i = peak + k
            if not 0 <= i < len(days):
                continue
            if shape.get("flat"):
                weight = 1.0
            elif k < 0:
                weight = 1 - (-k) / (shape["before"] + 1)
            else:
                weight = 1 - k / (shape["after"] + 1)
            out[i] *= 1 + (mult - 1) * weight
    return out


def _gift_season(country: str, days: pd.DatetimeIndex) -> np.ndarray:
    """True on gift-season days: 10 Nov - 24 Dec, plus Diwali (IN) / Singles' Day (CN) run-ups."""
    md = days.month * 100 + days.day
    season = (md >= 1110) & (md <= 1224)
    anchor = {"IN": ("diwali", 14), "CN": ("singles_day", 10), "AE": ("eid_al_fitr", 10)}.get(country)
    if anchor:
        for year in sorted(set(days.year)):
            d = calendar.event_date(anchor[0], country, year)
            if d is not None:
                delta = (days - pd.Timestamp(d)).days
                season |= (delta >= -anchor[1]) & (delta <= 0)
    return np.asarray(season)


def demand_curves(start: str, end: str) -> dict[str, Any]:
    """Planted daily demand multipliers per country and profile.

    Returns
    -------
    dict
        ``days`` (DatetimeIndex), ``base[country]`` (weekday x annual x trend x events, shape
        (n_days,)), ``curves[(country, profile)]`` normalised to mean 1 over the period, and
        ``events[country]`` (product of event effects only).
    """
    days = pd.date_range(start, end, freq="D")
    dow = np.asarray(days.day_of_week)
    doy = np.asarray(days.day_of_year)
    t_years = np.arange(len(days)) / 365.25
    weekday = np.asarray(WEEKDAY)[dow]
    annual = 1 + ANNUAL_AMPLITUDE * np.cos(2 * np.pi * (doy - ANNUAL_PEAK_DOY) / 365.25)
    trend = (1 + TREND_PER_YEAR) ** t_years
    base, curves, events = {}, {}, {}
    for country in COUNTRIES:
        ev = np.ones(len(days))
        for event in EVENT_EFFECTS:
            ev *= _event_curve(event, country, days)
        events[country] = ev
        base[country] = weekday * annual * trend * ev
        season = np.where(_gift_season(country, days), *SEASONAL_BOOST)
        raw = {
            "normal": base[country],
            "bargain": weekday * annual * trend * ev**BARGAIN_POWER,
            "seasonal": base[country] * season,
        }
        for profile, curve in raw.items():
            curves[(country, profile)] = curve / curve.mean()
    return {"days": days, "base": base, "curves": curves, "events": events}


def _promo_stems(dem: dict[str, Any]) -> np.ndarray:
    """Promo stem index (into EVENT_PROMO, -1 = none) per country and day.

    A day carries the stem of the first event in :data:`EVENT_PROMO` whose multiplier in that
    country exceeds 1.3 on that day. Shape (n_countries, n_days), int8.
    """
    out = np.full((len(COUNTRIES), len(dem["days"])), -1, dtype=np.int8)
    for ci, cc in enumerate(COUNTRIES):
        for si, ev in enumerate(EVENT_PROMO):
            strong = _event_curve(ev, cc, dem["days"]) > 1.3
            out[ci] = np.where((out[ci] < 0) & strong, si, out[ci])
    return out
