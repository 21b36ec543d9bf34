"""Tests for playbook.forecasting.calendar: retail event dates against published dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from playbook.errors import ConfigError
from playbook.forecasting.calendar import EVENTS, event_date, event_windows, retail_events

D = dt.date


@pytest.mark.parametrize(
    ("event", "country", "year", "expected"),
    [
        ("black_friday", "US", 2023, D(2023, 11, 24)),
        ("black_friday", "US", 2024, D(2024, 11, 29)),
        ("black_friday", "DE", 2025, D(2025, 11, 28)),
        ("cyber_monday", "GB", 2024, D(2024, 12, 2)),
        ("cyber_monday", "US", 2025, D(2025, 12, 1)),
        ("christmas", "IN", 2025, D(2025, 12, 25)),
        ("singles_day", "CN", 2025, D(2025, 11, 11)),
        ("singles_day", "US", 2025, None),
        ("diwali", "IN", 2025, D(2025, 10, 20)),
        ("diwali", "IN", 2023, D(2023, 11, 12)),
        ("diwali", "US", 2025, None),
        ("valentines_day", "AE", 2024, D(2024, 2, 14)),
        ("mothers_day", "US", 2025, D(2025, 5, 11)),
        ("mothers_day", "GB", 2025, D(2025, 3, 30)),
        ("mothers_day", "GB", 2024, D(2024, 3, 10)),
        ("mothers_day", "AE", 2025, D(2025, 3, 21)),
        ("back_to_school", "US", 2025, D(2025, 9, 1)),
        ("back_to_school", "IN", 2025, D(2025, 6, 1)),
    ],
    ids=lambda v: str(v),
)
def test_event_dates(event, country, year, expected):
    assert event_date(event, country, year) == expected


def test_diwali_2024_is_gazetted_day_or_next():
    # National holiday 31 Oct 2024; many regions celebrated Lakshmi Puja on 1 Nov.
    assert event_date("diwali", "IN", 2024) in {D(2024, 10, 31), D(2024, 11, 1)}


@pytest.mark.parametrize(("year", "expected"), [(2024, D(2024, 4, 10)), (2025, D(2025, 3, 30))])
def test_eid_al_fitr_within_one_day(year, expected):
    got = event_date("eid_al_fitr", "AE", year)
    assert got is not None and abs((got - expected).days) <= 1


def test_black_friday_is_friday_after_thanksgiving_every_year():
    for year in range(2015, 2035):
        bf = event_date("black_friday", "US", year)
        assert bf.weekday() == 4 and bf.month == 11 and 23 <= bf.day <= 29


def test_unknown_event_lists_choices():
    with pytest.raises(ValueError, match=r"Unknown event 'black_fryday'. Choose from \[.*black_friday"):
        event_date("black_fryday", "US", 2025)


def test_retail_events_frame():
    df = retail_events(["US", "IN", "CN"], [2025])
    assert list(df.columns) == ["date", "country", "event", "kind", "name"]
    assert df["date"].dtype == "datetime64[ns]"
    assert set(df["kind"]) == {"retail", "public_holiday"}
    retail = df[df["kind"] == "retail"].set_index(["country", "event"])["date"]
    assert retail[("US", "black_friday")] == pd.Timestamp("2025-11-28")
    assert retail[("IN", "diwali")] == pd.Timestamp("2025-10-20")
    assert retail[("CN", "singles_day")] == pd.Timestamp("2025-11-11")
    assert ("US", "singles_day") not in retail.index
    us_holidays = df[(df["country"] == "US") & (df["kind"] == "public_holiday")]
    assert pd.Timestamp("2025-11-27") in set(us_holidays["date"])  # Thanksgiving, from `holidays`
    assert set(EVENTS) >= set(df.loc[df["kind"] == "retail", "event"])


def test_retail_events_unknown_country():
    with pytest.raises(ConfigError, match="Unknown country code 'XX'"):
        retail_events(["XX"], [2025])


def test_retail_events_rejects_yaml_boolean_country():
    with pytest.raises(ConfigError, match="quote"):
        retail_events([False], [2025])


def test_event_windows():
    w = event_windows("black_friday", ["US", "GB"], [2024, 2025], before=2, after=3)
    row = w[(w["country"] == "US") & (w["year"] == 2024)].iloc[0]
    assert row["window_start"] == pd.Timestamp("2024-11-27")
    assert row["window_end"] == pd.Timestamp("2024-12-02")
    assert len(w) == 4
    assert event_windows("diwali", ["US"], [2025]).empty
    with pytest.raises(ValueError, match="before and after"):
        event_windows("black_friday", ["US"], [2025], before=-1)
