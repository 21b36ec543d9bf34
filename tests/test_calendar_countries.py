"""Calendar for any country (issue 16 item 4, issue 19 item 16): public holidays as features for
countries outside the sample, Eid and Diwali by date (not by name), Mother's Day and back-to-school
per country, user events from the campaign file and the API, unseen events noted, and the six
sample countries' event dates unchanged."""

from __future__ import annotations

import datetime as dt

import holidays
import pandas as pd
import pytest
import yaml

from playbook.config.loader import parse_config
from playbook.errors import ConfigError
from playbook.forecasting import calendar_rules as R
from playbook.forecasting.calendar import (
    EVENTS,
    event_date,
    event_features,
    retail_events,
    unseen_events,
)
from playbook.paths import resolve

D = dt.date
YEARS = (2023, 2024, 2025, 2026)

#: Output of the calendar before this change (git 32207c9) for the six sample countries, 2023-2026.
BASELINE: dict[tuple[str, str], tuple[str | None, ...]] = {
    ("back_to_school", "AE"): (None, None, None, None),
    ("back_to_school", "CN"): (None, None, None, None),
    ("back_to_school", "DE"): ('2023-09-04', '2024-09-02', '2025-09-01', '2026-09-07'),
    ("back_to_school", "GB"): ('2023-09-04', '2024-09-02', '2025-09-01', '2026-09-07'),
    ("back_to_school", "IN"): ('2023-06-01', '2024-06-01', '2025-06-01', '2026-06-01'),
    ("back_to_school", "US"): ('2023-09-04', '2024-09-02', '2025-09-01', '2026-09-07'),
    ("black_friday", "AE"): ('2023-11-24', '2024-11-29', '2025-11-28', '2026-11-27'),
    ("black_friday", "CN"): ('2023-11-24', '2024-11-29', '2025-11-28', '2026-11-27'),
    ("black_friday", "DE"): ('2023-11-24', '2024-11-29', '2025-11-28', '2026-11-27'),
    ("black_friday", "GB"): ('2023-11-24', '2024-11-29', '2025-11-28', '2026-11-27'),
    ("black_friday", "IN"): ('2023-11-24', '2024-11-29', '2025-11-28', '2026-11-27'),
    ("black_friday", "US"): ('2023-11-24', '2024-11-29', '2025-11-28', '2026-11-27'),
    ("christmas", "AE"): ('2023-12-25', '2024-12-25', '2025-12-25', '2026-12-25'),
    ("christmas", "CN"): ('2023-12-25', '2024-12-25', '2025-12-25', '2026-12-25'),
    ("christmas", "DE"): ('2023-12-25', '2024-12-25', '2025-12-25', '2026-12-25'),
    ("christmas", "GB"): ('2023-12-25', '2024-12-25', '2025-12-25', '2026-12-25'),
    ("christmas", "IN"): ('2023-12-25', '2024-12-25', '2025-12-25', '2026-12-25'),
    ("christmas", "US"): ('2023-12-25', '2024-12-25', '2025-12-25', '2026-12-25'),
    ("cyber_monday", "AE"): ('2023-11-27', '2024-12-02', '2025-12-01', '2026-11-30'),
    ("cyber_monday", "CN"): ('2023-11-27', '2024-12-02', '2025-12-01', '2026-11-30'),
    ("cyber_monday", "DE"): ('2023-11-27', '2024-12-02', '2025-12-01', '2026-11-30'),
    ("cyber_monday", "GB"): ('2023-11-27', '2024-12-02', '2025-12-01', '2026-11-30'),
    ("cyber_monday", "IN"): ('2023-11-27', '2024-12-02', '2025-12-01', '2026-11-30'),
    ("cyber_monday", "US"): ('2023-11-27', '2024-12-02', '2025-12-01', '2026-11-30'),
    ("diwali", "AE"): (None, None, None, None),
    ("diwali", "CN"): (None, None, None, None),
    ("diwali", "DE"): (None, None, None, None),
    ("diwali", "GB"): (None, None, None, None),
    ("diwali", "IN"): ('2023-11-12', '2024-10-31', '2025-10-20', '2026-11-08'),
    ("diwali", "US"): (None, None, None, None),
    ("eid_al_fitr", "AE"): ('2023-04-21', '2024-04-10', '2025-03-30', '2026-03-20'),
    ("eid_al_fitr", "CN"): (None, None, None, None),
    ("eid_al_fitr", "DE"): (None, None, None, None),
    ("eid_al_fitr", "GB"): (None, None, None, None),
    ("eid_al_fitr", "IN"): (None, None, None, None),
    ("eid_al_fitr", "US"): (None, None, None, None),
    ("mothers_day", "AE"): ('2023-03-21', '2024-03-21', '2025-03-21', '2026-03-21'),
    ("mothers_day", "CN"): ('2023-05-14', '2024-05-12', '2025-05-11', '2026-05-10'),
    ("mothers_day", "DE"): ('2023-05-14', '2024-05-12', '2025-05-11', '2026-05-10'),
    ("mothers_day", "GB"): ('2023-03-19', '2024-03-10', '2025-03-30', '2026-03-15'),
    ("mothers_day", "IN"): ('2023-05-14', '2024-05-12', '2025-05-11', '2026-05-10'),
    ("mothers_day", "US"): ('2023-05-14', '2024-05-12', '2025-05-11', '2026-05-10'),
    ("singles_day", "AE"): (None, None, None, None),
    ("singles_day", "CN"): ('2023-11-11', '2024-11-11', '2025-11-11', '2026-11-11'),
    ("singles_day", "DE"): (None, None, None, None),
    ("singles_day", "GB"): (None, None, None, None),
    ("singles_day", "IN"): (None, None, None, None),
    ("singles_day", "US"): (None, None, None, None),
    ("valentines_day", "AE"): ('2023-02-14', '2024-02-14', '2025-02-14', '2026-02-14'),
    ("valentines_day", "CN"): ('2023-02-14', '2024-02-14', '2025-02-14', '2026-02-14'),
    ("valentines_day", "DE"): ('2023-02-14', '2024-02-14', '2025-02-14', '2026-02-14'),
    ("valentines_day", "GB"): ('2023-02-14', '2024-02-14', '2025-02-14', '2026-02-14'),
    ("valentines_day", "IN"): ('2023-02-14', '2024-02-14', '2025-02-14', '2026-02-14'),
    ("valentines_day", "US"): ('2023-02-14', '2024-02-14', '2025-02-14', '2026-02-14'),
}
#: Events the country rules add to the six (documented in calendar_rules): Eid is a public holiday
#: in India; China and the UAE start the school year in September (northern hemisphere).
ADDED = {("eid_al_fitr", "IN"), ("back_to_school", "AE"), ("back_to_school", "CN")}


def test_six_sample_countries_keep_their_event_dates():
    for (event, country), expected in BASELINE.items():
        got = tuple(None if (d := event_date(event, country, y)) is None else d.isoformat() for y in YEARS)
        if (event, country) in ADDED:
            assert all(e is None for e in expected) and all(g is not None for g in got), (event, country, got)
        else:
            assert got == expected, (event, country)
    assert {e for e, _ in BASELINE} == set(EVENTS)


@pytest.mark.parametrize(("country", "day", "name_part"), [
    ("BR", D(2025, 4, 21), "Tiradentes"),
    ("JP", D(2025, 2, 11), "Foundation"),
    ("FR", D(2025, 7, 14), "National"),
    ("ZA", D(2025, 9, 24), "Heritage"),
])
def test_public_holidays_of_other_countries_are_features_on_their_days(country, day, name_part):
    days = pd.date_range(f"{day.year}-01-01", f"{day.year}-12-31")
    f = event_features(days, [country])
    assert f.loc[pd.Timestamp(day), "public_holiday"] == 1.0
    assert f.loc[pd.Timestamp(day) - pd.Timedelta(days=1), "public_holiday_eve"] == 1.0
    package_days = {d for d in holidays.country_holidays(country, years=day.year) if d.year == day.year}
    retail = {event_date(e, country, day.year) for e in EVENTS}
    marked = {d.date() for d in f.index[f["public_holiday"] > 0]}
    assert marked == package_days - retail  # exactly the package's holidays, minus retail-event days
    assert name_part in R.public_holidays(country, day.year)[day][1]  # display name in en_US


def test_holidays_each_mode_gives_bounded_per_holiday_columns():
    days = pd.date_range("2023-01-01", "2025-12-31")
    br = event_features(days, ["BR"], public_holidays="each")
    assert br.loc["2025-04-21", "holiday_tiradentes_day"] == 1.0 and br["holiday_tiradentes_day"].sum() == 3
    f = event_features(days, ["BR", "JP"], public_holidays="each")  # more than 20 distinct holidays
    assert len([c for c in f.columns if c.startswith("holiday_")]) == 20
    assert f["public_holiday"].sum() > 0  # the rest, grouped
    assert not any(c.startswith(("holiday_", "public_holiday")) for c in event_features(days, ["BR"],
                                                                                        public_holidays=None))
    with pytest.raises(ConfigError, match="public_holidays"):
        event_features(days, ["BR"], public_holidays="all")


def test_christmas_is_left_to_its_retail_features_not_public_holiday():
    f = event_features(pd.date_range("2025-12-01", "2025-12-31"), ["GB"])
    assert f.loc["2025-12-25", "public_holiday"] == 0.0 and f.loc["2025-12-25", "christmas_day"] == 1.0
    assert f.loc["2025-12-26", "public_holiday"] == 1.0  # Boxing Day
    assert f.loc["2025-12-25", "public_holiday_eve"] == 0.0  # its eve is Christmas Day, already an event
    many = event_features(pd.date_range("2025-01-01", "2025-12-31"), ["GB", "FR", "BR", "JP", "ZA", "IN"])
    assert [c for c in many.columns if "holiday" in c] == ["public_holiday", "public_holiday_eve"]
    assert many.loc["2025-07-14", "public_holiday"] == pytest.approx(1 / 6)  # FR only


@pytest.mark.parametrize("code", ["XX", "UK", "us", False])
def test_unknown_country_says_how_to_find_codes(code):
    with pytest.raises(ConfigError, match=r"list_supported_countries|quote|GB"):
        event_features(pd.date_range("2025-01-01", "2025-01-31"), [code] if code != "us" else ["XX"])


def test_unknown_country_in_retail_events():
    with pytest.raises(ConfigError, match="list_supported_countries"):
        retail_events(["ZZ"], [2025])


def _package_days(country, year, language):
    return {d for d in holidays.country_holidays(country, years=year, language=language) if d.year == year}


@pytest.mark.parametrize(("country", "event", "year", "expected"), [
    ("IN", "diwali", 2024, D(2024, 10, 31)),
    ("IN", "diwali", 2025, D(2025, 10, 20)),
    ("AE", "eid_al_fitr", 2024, D(2024, 4, 10)),
    ("AE", "eid_al_fitr", 2025, D(2025, 3, 30)),
    ("IN", "eid_al_fitr", 2025, D(2025, 3, 31)),
    ("SA", "eid_al_fitr", 2025, D(2025, 3, 30)),  # named "Eid al-Fitr Holiday" in the package
    ("PK", "eid_al_fitr", 2025, D(2025, 3, 31)),
    ("ID", "eid_al_fitr", 2025, D(2025, 3, 31)),
    ("MY", "eid_al_fitr", 2025, D(2025, 3, 31)),
    ("NP", "diwali", 2025, D(2025, 10, 20)),
    ("SG", "diwali", 2025, D(2025, 10, 20)),
])
def test_eid_and_diwali_are_the_package_dates(country, event, year, expected):
    got = event_date(event, country, year)
    assert got == expected
    for language in (None, "en_US", holidays.country_holidays(country).default_language):
        assert got in _package_days(country, year, language)  # a public holiday whatever the language


def test_eid_and_diwali_do_not_depend_on_the_calendar_language(monkeypatch):
    before = {(c, y): (event_date("eid_al_fitr", c, y), event_date("diwali", c, y))
              for c in ("IN", "AE", "SA") for y in YEARS}
    real = holidays.country_holidays

    def localised(country, *args, **kwargs):  # every calendar shown in another language
        kwargs["language"] = {"IN": "hi", "AE": "ar", "SA": "ar"}.get(country, kwargs.get("language"))
        return real(country, *args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", localised)
    for fn in (R.country_calendar, R._observes, event_date):
        fn.cache_clear()
    try:
        assert R.country_calendar("AE", 2025).get(D(2025, 3, 30)) == "عيد الفطر"  # the name is Arabic now
        after = {(c, y): (event_date("eid_al_fitr", c, y), event_date("diwali", c, y))
                 for c in ("IN", "AE", "SA") for y in YEARS}
    finally:
        for fn in (R.country_calendar, R._observes, event_date):
            fn.cache_clear()
    assert after == before and all(v[0] for v in after.values())


def test_package_still_has_the_lunar_calendars_the_dates_come_from():
    # If a holidays release renames these, the built-in fallback tables (2022-2027) are used:
    # this test fails first so the dates source can be updated.
    assert hasattr(R.country_calendar("AE", 2025)._islamic_calendar, "eid_al_fitr_dates")
    assert hasattr(R.country_calendar("IN", 2025)._hindu_calendar, "diwali_india_date")


def test_a_chance_coincidence_is_not_an_observed_holiday():
    # The package's Diwali date fell on Veterans Day in the US in 2015 and 2034.
    assert event_date("diwali", "US", 2015) is None and event_date("diwali", "US", 2034) is None
    assert event_date("eid_al_fitr", "GB", 2025) is None and event_date("diwali", "BR", 2025) is None


@pytest.mark.parametrize(("country", "year", "expected"), [
    ("US", 2025, D(2025, 5, 11)), ("DE", 2025, D(2025, 5, 11)), ("JP", 2025, D(2025, 5, 11)),
    ("GB", 2025, D(2025, 3, 30)), ("IE", 2026, D(2026, 3, 15)),
    ("FR", 2025, D(2025, 5, 25)), ("FR", 2024, D(2024, 5, 26)),
    ("FR", 2023, D(2023, 6, 4)),  # last Sunday of May 2023 was Whit Sunday
    ("SE", 2025, D(2025, 5, 25)), ("ES", 2025, D(2025, 5, 4)), ("ZA", 2025, D(2025, 5, 11 - 7)),
    ("MX", 2025, D(2025, 5, 10)), ("AE", 2025, D(2025, 3, 21)), ("AR", 2025, D(2025, 10, 19)),
    ("NO", 2025, D(2025, 2, 9)), ("RU", 2025, D(2025, 11, 30)), ("TH", 2025, D(2025, 8, 12)),
])
def test_mothers_day_per_country(country, year, expected):
    assert event_date("mothers_day", country, year) == expected
    assert event_date("mothers_day", country, year) == R.mothers_day_date(country, year)


@pytest.mark.parametrize(("country", "expected"), [
    ("AU", D(2025, 2, 3)), ("NZ", D(2025, 2, 3)), ("ZA", D(2025, 2, 3)), ("BR", D(2025, 2, 3)),
    ("CL", D(2025, 3, 3)), ("FR", D(2025, 9, 1)), ("US", D(2025, 9, 1)), ("IN", D(2025, 6, 1)),
])
def test_back_to_school_by_hemisphere(country, expected):
    assert event_date("back_to_school", country, 2025) == expected


def test_southern_back_to_school_feature_window():
    f = event_features(pd.date_range("2025-01-01", "2025-03-31"), ["AU"])
    assert f.loc["2025-02-03", "back_to_school"] == 1.0
    ramp = f["back_to_school_ramp"]
    assert ramp.index[ramp > 0].min() == pd.Timestamp("2025-01-20")  # 14 days before
    assert ramp.index[ramp > 0].max() == pd.Timestamp("2025-02-10")  # 7 days after


def test_retail_event_country_lists():
    assert event_date("singles_day", "SG", 2025) == D(2025, 11, 11)
    assert event_date("singles_day", "BR", 2025) is None
    assert event_date("cyber_monday", "BR", 2025) == D(2025, 12, 1)
    assert event_date("cyber_monday", "JP", 2025) is None  # not a distinct sales day there
    assert event_date("black_friday", "JP", 2025) == D(2025, 11, 28)
    assert event_date("black_friday", "KE", 2024) == D(2024, 11, 29)


# ------------------------------------------------------------------------------------------
# User events

SPRING = [{"name": "Spring sale", "start": "2024-03-11", "end": "2024-03-17", "countries": ["US"]},
          {"name": "Spring sale", "start": "2025-03-10", "end": "2025-03-16", "countries": ["US"]},
          {"name": "Launch", "start": "2025-06-02", "end": "2025-06-02"}]


def test_user_events_are_window_features_weighted_by_country():
    days = pd.date_range("2024-01-01", "2025-12-31")
    f = event_features(days, ["US", "GB"], weights={"US": 3, "GB": 1}, events=SPRING)
    s = f["user_spring_sale"]
    assert s.loc["2024-03-11":"2024-03-17"].eq(0.75).all() and s.loc["2025-03-10":"2025-03-16"].eq(0.75).all()
    assert s.sum() == pytest.approx(14 * 0.75)
    assert f.loc["2025-06-02", "user_launch"] == 1.0 and f["user_launch"].sum() == 1.0
    assert f.attrs["names"]["user_spring_sale"] == "Spring sale"
    assert f.attrs["kinds"]["user_launch"] == "user"
    frame = pd.DataFrame(SPRING)
    g = event_features(days, ["US", "GB"], weights={"US": 3, "GB": 1}, events=frame)
    pd.testing.assert_series_equal(g["user_spring_sale"], s)


def test_user_events_from_the_campaign_file_reach_the_features():
    base = yaml.safe_load(resolve("campaigns/holiday-2025.yaml").read_text(encoding="utf-8"))
    cfg = parse_config({**base, "events": SPRING})
    assert [e.name for e in cfg.events] == ["Spring sale", "Spring sale", "Launch"]
    f = event_features(pd.date_range("2025-03-01", "2025-03-31"), cfg.countries, events=cfg.events)
    assert f.loc["2025-03-12", "user_spring_sale"] == pytest.approx(1 / 6)  # US of six equal countries
    assert dict(cfg.absent_sections()).get("events") is None
    assert "events" in dict(parse_config(base).absent_sections())


@pytest.mark.parametrize(("events", "message"), [
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-01"}], r"events\[0\]\.end: 2025-03-01 is before start"),
    ([{"name": "Sale", "start": "2025-02-30", "end": "2025-03-01"}], r"events\[0\]\.start: .*not a real date"),
    ([{"name": "Sale", "start": 20250310, "end": "2025-03-16"}], r"events\[0\]\.start: .*YYYY-MM-DD"),
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-16"},
      {"name": "Sale", "start": "2025-03-15", "end": "2025-03-20"}], r"events\[1\]\.name: .*overlaps events\[0\]"),
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-16"},
      {"name": "SALE!", "start": "2026-03-10", "end": "2026-03-16"}], r"events\[1\]\.name: .*only in case"),
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-16", "countries": ["FR"]}],
     r"events\[0\]\.countries: FR not in the campaign's countries"),
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-16", "country": ["US"]}],
     r"events\[0\]\.country: unknown key"),
    ([{"start": "2025-03-10", "end": "2025-03-16"}], r"events\[0\]\.name"),
])
def test_invalid_events_in_the_campaign_file(events, message):
    base = yaml.safe_load(resolve("campaigns/holiday-2025.yaml").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=message):
        parse_config({**base, "events": events})


@pytest.mark.parametrize(("events", "message"), [
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-01"}], r"events\[0\]\.end: .*before start"),
    ([{"name": "Sale", "start": "10/03/2025", "end": "2025-03-16"}], r"events\[0\]\.start: .*YYYY-MM-DD"),
    ([{"name": "Sale", "start": "2025-03-10 12:00", "end": "2025-03-16"}], r"events\[0\]\.start"),
    (pd.DataFrame({"name": ["Sale"], "begin": ["2025-03-10"]}), r"lacks column\(s\) \['end', 'start'\]"),
    ({"Sale": ("2025-03-10", "2025-03-16")}, "give a list"),
    ([{"name": "Sale", "start": "2025-03-10", "end": "2025-03-16", "countries": "us"}], "ISO alpha-2"),
    ([{"name": "  ", "start": "2025-03-10", "end": "2025-03-16"}], r"events\[0\]\.name"),
])
def test_invalid_events_through_the_api(events, message):
    with pytest.raises(ConfigError, match=message):
        event_features(pd.date_range("2025-03-01", "2025-03-31"), ["US"], events=events)


# ------------------------------------------------------------------------------------------
# Unseen events


def test_events_absent_from_the_days_are_noted_not_silently_dropped():
    train = event_features(pd.date_range("2024-04-01", "2025-02-28"), ["US"], events=SPRING[1:])
    assert "user_spring_sale" not in train.columns
    omitted = {o["feature"]: o for o in train.attrs["omitted"]}
    assert omitted["user_spring_sale"]["kind"] == "user"
    assert "Spring sale never occurs" in omitted["user_spring_sale"]["reason"]
    assert "diwali" in omitted and "singles_day" in omitted  # not observed in the US


def test_unseen_events_of_the_forecast_window():
    events = [{"name": "Spring sale", "start": "2025-03-10", "end": "2025-03-16"}]
    train = event_features(pd.date_range("2024-01-01", "2025-02-28"), ["US"], events=events)
    future = event_features(pd.date_range("2025-03-01", "2025-05-31"), ["US"], events=events)
    unseen = unseen_events(train, future)
    assert unseen["feature"].tolist() == ["user_spring_sale"]
    row = unseen.iloc[0]
    assert row["name"] == "Spring sale" and row["first_day"] == pd.Timestamp("2025-03-10")
    assert row["note"].startswith("Spring sale never occurs in the history: no effect estimated")
    # Seen in training (last year's occurrence): nothing to report.
    train2 = event_features(pd.date_range("2024-01-01", "2025-02-28"), ["US"], events=SPRING)
    future2 = event_features(pd.date_range("2025-03-01", "2025-05-31"), ["US"], events=SPRING)
    assert "user_spring_sale" not in set(unseen_events(train2, future2)["feature"])
