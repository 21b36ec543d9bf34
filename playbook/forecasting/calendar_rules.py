"""Country rules of the retail calendar, public holidays by date, and user events.

Used by :mod:`playbook.forecasting.calendar` (the event registry and the forecast features). Parts,
each documented where it is defined:

* **Country rules** for the computed retail events: where Black Friday, Cyber Monday and Singles'
  Day are observed (:data:`BLACK_FRIDAY_COUNTRIES`, :data:`CYBER_MONDAY_COUNTRIES`,
  :data:`SINGLES_DAY_COUNTRIES`), Mother's Day per country (:data:`MOTHERS_DAY`), back-to-school
  per country and hemisphere (:data:`BACK_TO_SCHOOL`, :data:`SOUTHERN_HEMISPHERE`).
* **Eid al-Fitr and Diwali from the holidays package, by date**: the package's own lunar
  calendars of the country (``eid_al_fitr_dates``, ``diwali_india_date``/``diwali_date``: the
  *keys*) give the candidate days; a candidate counts only when the country's public-holiday
  calendar has a holiday on that day, and the country observes it (that is so in at least half
  of the years 2015-2030, which keeps out chance coincidences with other holidays). Holiday names are never read, so the result does not depend
  on the calendar's language (the old lookup matched English name prefixes, which fail in a
  calendar shown in Arabic or Hindi, and missed Saudi Arabia's "Eid al-Fitr Holiday" days).
  Countries whose package calendar has no Islamic (Hindu) holidays get no Eid (Diwali). Those
  lunar calendars are private attributes of the package's country classes; should a release drop
  them, built-in tables 2022-2027 are used, still checked by date, and
  tests/test_calendar_countries.py fails first.
* **Public holidays by date** (:func:`public_holidays`): ``{day: (key, display name)}`` with the
  display name in a pinned language (``en_US`` where the package has it, else the country's
  default); the key is that name slugged, used only to name feature columns.
* **User events** (:class:`UserEvent`, :func:`parse_events`): named date ranges from the campaign
  file (``events:``) or the API (a list of dicts or a DataFrame with ``name``, ``start``, ``end``
  and optional ``countries``).

Sources: holidays package, https://holidays.readthedocs.io/ (``country_holidays``, ``language``,
``list_supported_countries``); Mother's Day dates per country:
https://en.wikipedia.org/wiki/Mother%27s_Day#Dates_around_the_world (France: last Sunday of May,
first Sunday of June when that is Whit Sunday, also
https://www.annieandre.com/mothers-day-dates-around-the-world-france/); Black Friday countries:
https://en.wikipedia.org/wiki/Black_Friday_(shopping)#Other_countries.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import holidays
import numpy as np
import pandas as pd
from dateutil.easter import easter

from playbook.config.sections import event_key, event_problems
from playbook.errors import ConfigError

__all__ = [
    "BACK_TO_SCHOOL",
    "BLACK_FRIDAY_COUNTRIES",
    "CYBER_MONDAY_COUNTRIES",
    "MOTHERS_DAY",
    "SINGLES_DAY_COUNTRIES",
    "SOUTHERN_HEMISPHERE",
    "UserEvent",
    "back_to_school_date",
    "black_friday_observed",
    "country_calendar",
    "diwali_date",
    "eid_al_fitr_date",
    "mothers_day_date",
    "parse_events",
    "public_holidays",
    "unseen_events",
    "user_event_columns",
]

# --------------------------------------------------------------------------------------------
# Date helpers


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Mon=0) of ``month`` in ``year`` (``n`` >= 1)."""
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def last_weekday(year: int, month: int, weekday: int) -> dt.date:
    """The last ``weekday`` (Mon=0) of ``month`` in ``year``."""
    last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


# --------------------------------------------------------------------------------------------
# Black Friday, Cyber Monday, Singles' Day

#: Countries where Black Friday is an established retail date (Wikipedia's list plus the large
#: e-commerce markets where the big platforms run it; the Gulf calls it "White Friday", same
#: day). Countries not listed follow :data:`BLACK_FRIDAY_DEFAULT`.
BLACK_FRIDAY_COUNTRIES: frozenset[str] = frozenset(
    "US CA MX BR AR CL CO PE GB IE DE AT CH FR BE NL LU ES PT IT PL CZ SK HU RO BG GR HR SI SE NO DK "
    "FI EE LV LT IS AU NZ ZA NG KE IN AE SA QA KW BH OM EG TR IL JP KR SG MY ID PH TH VN HK TW CN".split()
)
#: Whether a country missing from :data:`BLACK_FRIDAY_COUNTRIES` observes Black Friday: yes, the
#: online event is global, and an unneeded feature costs the forecast little (its effect is
#: estimated near zero) while a missed peak costs a lot.
BLACK_FRIDAY_DEFAULT = True
#: Countries where Cyber Monday (Black Friday + 3 days) is a distinct sales day; elsewhere not
#: observed (the Monday is part of a "Black Week" without its own peak). The six sample countries
#: keep the event they always had.
CYBER_MONDAY_COUNTRIES: frozenset[str] = frozenset(
    "US CA GB IE DE AT CH NL BE FR ES PT IT PL AU NZ BR MX CL CO AR ZA IN AE CN".split()
)
#: Singles' Day (11 November): China, and the South-East Asian markets where Lazada and Shopee
#: run "11.11" as their biggest sale.
SINGLES_DAY_COUNTRIES: frozenset[str] = frozenset({"CN", "SG", "MY", "ID", "TH", "VN", "PH"})


def black_friday_observed(country: str) -> bool:
    """Whether Black Friday is a retail event in ``country`` (see :data:`BLACK_FRIDAY_COUNTRIES`)."""
    return country in BLACK_FRIDAY_COUNTRIES or BLACK_FRIDAY_DEFAULT


# --------------------------------------------------------------------------------------------
# Mother's Day


def _second_sunday_may(year: int) -> dt.date:
    return nth_weekday(year, 5, 6, 2)


def _france(year: int) -> dt.date:
    """Last Sunday of May, or the first Sunday of June when that is Whit Sunday (Easter + 49)."""
    day = last_weekday(year, 5, 6)
    return day + dt.timedelta(days=7) if day == easter(year) + dt.timedelta(days=49) else day


def _fixed(month: int, day: int) -> Callable[[int], dt.date]:
    return lambda year: dt.date(year, month, day)


def _rule(month: int, weekday: int, n: int) -> Callable[[int], dt.date]:
    return lambda year: nth_weekday(year, month, weekday, n)


def _last_sunday(month: int) -> Callable[[int], dt.date]:
    return lambda year: last_weekday(year, month, 6)


#: Mother's Day per country (``{code: year -> date}``); countries not listed: 2nd Sunday of May,
#: the most common date (US, CA, DE, IT, JP, CN, IN, AU, BR, ...).
#:
#: ====================================== =====================================================
#: GB, IE                                 Mothering Sunday, 4th Sunday of Lent = Easter - 21 d
#: FR                                     last Sunday of May (1st of June if Whit Sunday)
#: SE                                     last Sunday of May
#: ES, PT, ZA, HU, LT, RO                 1st Sunday of May
#: NO                                     2nd Sunday of February
#: AR                                     3rd Sunday of October
#: RU                                     last Sunday of November
#: MX, SV, GT                             10 May
#: AE, SA, EG, JO, LB, KW, QA, BH, OM ... 21 March (Arab world)
#: PL                                     26 May
#: KR                                     8 May (Parents' Day)
#: TH                                     12 August
#: ID                                     22 December
#: ====================================== =====================================================
MOTHERS_DAY: dict[str, Callable[[int], dt.date]] = {
    **dict.fromkeys(("GB", "IE"), lambda year: easter(year) - dt.timedelta(days=21)),
    "FR": _france,
    "SE": _last_sunday(5),
    **dict.fromkeys(("ES", "PT", "ZA", "HU", "LT", "RO"), _rule(5, 6, 1)),
    "NO": _rule(2, 6, 2),
    "AR": _rule(10, 6, 3),
    "RU": _last_sunday(11),
    **dict.fromkeys(("MX", "SV", "GT"), _fixed(5, 10)),
    **dict.fromkeys(("AE", "SA", "EG", "JO", "LB", "SY", "IQ", "KW", "QA", "BH", "OM", "PS", "SD", "YE"),
                    _fixed(3, 21)),
    "PL": _fixed(5, 26),
    "KR": _fixed(5, 8),
    "TH": _fixed(8, 12),
    "ID": _fixed(12, 22),
}


def mothers_day_date(country: str, year: int) -> dt.date:
    """Mother's Day in ``country`` and ``year`` (:data:`MOTHERS_DAY`, else 2nd Sunday of May)."""
    return MOTHERS_DAY.get(country, _second_sunday_may)(year)


# --------------------------------------------------------------------------------------------
# Back to school

#: Countries whose school year starts in February or March (southern hemisphere). Equatorial
#: countries not listed follow the northern default unless :data:`BACK_TO_SCHOOL` says otherwise.
SOUTHERN_HEMISPHERE: frozenset[str] = frozenset(
    "AR AU BO BR BW CL FJ LS MG MU MW MZ NA NZ PE PY SZ UY ZA ZM ZW AO".split()
)

#: Back-to-school anchor per country (``{code: year -> date}``; the feature window runs 14 days
#: before to 7 days after it). Defaults: northern hemisphere 1st Monday of September (late-August
#: shopping falls in the window), southern hemisphere (:data:`SOUTHERN_HEMISPHERE`) 1st Monday of
#: February (late January to mid February). Overrides: IN 1 June (school year from June);
#: AR, CL, PE, UY, PY and KR 1st Monday of March; SG, MY 1st Monday of January (calendar-year
#: school years); JP 1st Monday of April.
BACK_TO_SCHOOL: dict[str, Callable[[int], dt.date]] = {
    "IN": _fixed(6, 1),
    **dict.fromkeys(("AR", "CL", "PE", "UY", "PY", "KR"), _rule(3, 0, 1)),
    **dict.fromkeys(("SG", "MY"), _rule(1, 0, 1)),
    "JP": _rule(4, 0, 1),
}


def back_to_school_date(country: str, year: int) -> dt.date:
    """Back-to-school anchor in ``country`` and ``year`` (:data:`BACK_TO_SCHOOL`, hemisphere)."""
    if country in BACK_TO_SCHOOL:
        return BACK_TO_SCHOOL[country](year)
    return nth_weekday(year, 2 if country in SOUTHERN_HEMISPHERE else 9, 0, 1)


# --------------------------------------------------------------------------------------------
# The holidays package: country calendars, Eid al-Fitr and Diwali by date

#: Language of holiday display names (where the package has it); names are never matched.
DISPLAY_LANGUAGE = "en_US"

_DIWALI_FALLBACK: dict[int, dt.date] = {
    2022: dt.date(2022, 10, 24), 2023: dt.date(2023, 11, 12), 2024: dt.date(2024, 10, 31),
    2025: dt.date(2025, 10, 20), 2026: dt.date(2026, 11, 8), 2027: dt.date(2027, 10, 29),
}
_EID_AL_FITR_FALLBACK: dict[int, dt.date] = {
    2022: dt.date(2022, 5, 2), 2023: dt.date(2023, 4, 21), 2024: dt.date(2024, 4, 10),
    2025: dt.date(2025, 3, 30), 2026: dt.date(2026, 3, 20), 2027: dt.date(2027, 3, 9),
}


def unknown_country_error(country: object) -> ConfigError:
    """The error for a code the holidays package does not know, saying how to find codes."""
    return ConfigError(
        f"Unknown country code {country!r}: the holidays package has no calendar for it. Use an "
        "ISO 3166-1 alpha-2 code (two uppercase letters) such as 'US', 'GB', 'BR', 'JP'; quote it in "
        "YAML (e.g. 'NO'). List the codes it knows with: python -c \"import holidays; "
        "print(sorted(holidays.list_supported_countries()))\" (or see https://holidays.readthedocs.io/)."
    )


@functools.lru_cache(maxsize=4096)
def country_calendar(country: str, year: int, language: str | None = None) -> holidays.HolidayBase:
    """The holidays package's public holidays of ``country`` in ``year`` (cached).

    Raises
    ------
    ConfigError
        If the package does not know ``country`` (the message says how to list the codes).
    """
    if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country):
        raise unknown_country_error(country)
    try:
        return holidays.country_holidays(country, years=year, language=language)
    except NotImplementedError:
        raise unknown_country_error(country) from None


def _display_language(country: str, year: int) -> str | None:
    langs = country_calendar(country, year).supported_languages or ()
    return DISPLAY_LANGUAGE if DISPLAY_LANGUAGE in langs else None


def slug(text: str) -> str:
    """Lowercase ASCII-word key of a name: ``"Spring sale!"`` -> ``"spring_sale"``."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


@functools.lru_cache(maxsize=4096)
def public_holidays(country: str, year: int) -> dict[dt.date, tuple[str, str]]:
    """Public holidays of ``country`` in ``year`` by date: ``{day: (key, display name)}``.

    The display name is in :data:`DISPLAY_LANGUAGE` when the package has it for the country
    (else the country's default language); the key is that name slugged (several holidays on one
    day are joined by ``"; "`` in the name and take the first one's key). Matching is by day only.
    """
    cal = country_calendar(country, year, _display_language(country, year))
    out: dict[dt.date, tuple[str, str]] = {}
    for day, name in sorted(cal.items()):
        if day.year == year:
            first = str(name).split(";")[0].strip()
            out[day] = (slug(first) or f"holiday_{day:%m%d}", str(name))
    return out


#: Years over which a country's observance of Eid al-Fitr / Diwali is judged (see
#: :func:`_observes`).
REFERENCE_YEARS = range(2015, 2031)


def _candidates(country: str, year: int, kind: str) -> list[dt.date]:
    """The package's own dates of ``kind`` (``"eid_al_fitr"`` or ``"diwali"``) in ``year`` for
    ``country`` (its lunar calendar, a key, never a name), in order of preference."""
    cal = country_calendar(country, year)
    if kind == "eid_al_fitr":
        lunar = getattr(cal, "_islamic_calendar", None)
        if lunar is None:
            return []
        if not hasattr(lunar, "eid_al_fitr_dates"):  # pragma: no cover - only if the package changes
            found = _EID_AL_FITR_FALLBACK.get(year)
            return [found] if found else []
        return sorted(d for d, _ in lunar.eid_al_fitr_dates(year) if d.year == year)
    lunar = getattr(cal, "_hindu_calendar", None)
    if lunar is None:
        return []
    methods = [m for m in (getattr(lunar, k, None) for k in ("diwali_india_date", "diwali_date")) if m]
    if not methods:  # pragma: no cover - only if the package changes
        found = _DIWALI_FALLBACK.get(year)
        return [found] if found else []
    return [d for d in (m(year)[0] for m in methods) if d is not None and d.year == year]


@functools.lru_cache(maxsize=1024)
def _observes(country: str, kind: str) -> bool:
    """Whether ``country`` has ``kind`` as a public holiday: one of the package's dates is among
    its public holidays in at least half of :data:`REFERENCE_YEARS`. A day that only coincides
    with another holiday now and then (Diwali on Veterans Day in the US in 2015 and 2034) does not
    count."""
    hits = sum(any(d in country_calendar(country, y) for d in _candidates(country, y, kind))
               for y in REFERENCE_YEARS)
    return hits >= len(REFERENCE_YEARS) / 2


def _package_date(country: str, year: int, kind: str) -> dt.date | None:
    if not _observes(country, kind):
        return None
    cal = country_calendar(country, year)
    days = [d for d in _candidates(country, year, kind) if d in cal]
    return days[0] if days else None


def eid_al_fitr_date(country: str, year: int) -> dt.date | None:
    """First day of Eid al-Fitr in ``country`` and ``year``, by date (module docstring).

    ``None`` when Eid is not a public holiday of the country in the package (:func:`_observes`);
    in a year with two Eids (2033) the first one.
    """
    return _package_date(country, year, "eid_al_fitr")


def diwali_date(country: str, year: int) -> dt.date | None:
    """Diwali in ``country`` and ``year``, by date (module docstring): India's national holiday
    date (``diwali_india_date``) first, then the package's generic one (``diwali_date``)."""
    return _package_date(country, year, "diwali")


# --------------------------------------------------------------------------------------------
# User events


@dataclass(frozen=True)
class UserEvent:
    """A named date range (both days inclusive), optionally limited to some countries.

    Several entries with one name are occurrences of one recurring event (one feature, so an
    effect estimated on last year's sale applies to this year's); they must not overlap.
    """

    name: str
    start: dt.date
    end: dt.date
    countries: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """Feature column of the event: ``user_<slug of name>``."""
        return event_key(self.name)


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):  # also pandas.Timestamp
        if pd.isna(value) or pd.Timestamp(value) != pd.Timestamp(value).normalize():
            raise ConfigError(f"{where}: got {value!r}; give a calendar date without time (YYYY-MM-DD)")
        return pd.Timestamp(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: got {value!r}; expected a date written YYYY-MM-DD, e.g. 2025-03-10")


def _countries(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else None
    if not items or not all(isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c.strip()) for c in items):
        raise ConfigError(f"{where}: got {value!r}; countries is a non-empty list of ISO alpha-2 codes in "
                          "upper case, e.g. [US, GB] (quote 'NO')")
    return tuple(c.strip() for c in items)


def _one_event(raw: Any, i: int) -> UserEvent:
    if isinstance(raw, UserEvent):
        return raw
    where = f"events[{i}]"
    if isinstance(raw, Mapping):
        unknown = sorted(set(map(str, raw)) - {"name", "start", "end", "countries"})
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {unknown}; an event has name, start, end and "
                              "optional countries")
        fields = {k: raw.get(k) for k in ("name", "start", "end", "countries")}
    else:
        fields = {k: getattr(raw, k, None) for k in ("name", "start", "end", "countries")}
    name = fields["name"]
    if not isinstance(name, str) or not slug(name):
        raise ConfigError(f"{where}.name: got {name!r}; give a name with letters or digits, e.g. 'Spring sale'")
    start, end = _as_date(fields["start"], f"{where}.start"), _as_date(fields["end"], f"{where}.end")
    if end < start:
        raise ConfigError(f"{where}.end: {end} is before start {start} ({name.strip()!r}); an event must end "
                          "on or after the day it starts")
    return UserEvent(name.strip(), start, end, _countries(fields["countries"], f"{where}.countries"))


def parse_events(events: Any) -> list[UserEvent]:
    """User events from the API or the campaign file, checked.

    Parameters
    ----------
    events : None, list or pandas.DataFrame
        ``None`` (no events); a list of dicts (or objects with these attributes, such as the
        campaign file's entries) with ``name``, ``start``, ``end`` (dates, both inclusive) and
        optional ``countries`` (ISO alpha-2 list; absent = every country of the series); or a
        DataFrame with those columns. Entries sharing a name are occurrences of one event.

    Returns
    -------
    list of UserEvent

    Raises
    ------
    ConfigError
        A missing or unreadable date, ``end`` before ``start``, a bad name or country list,
        overlapping occurrences of one name; the message names the entry (``events[1].end``).
    """
    if events is None:
        return []
    if isinstance(events, pd.DataFrame):
        missing = {"name", "start", "end"} - set(events.columns)
        if missing:
            raise ConfigError(f"events: the DataFrame lacks column(s) {sorted(missing)}; give name, start, "
                              "end (and optionally countries)")
        events = events.to_dict("records")
    if isinstance(events, Mapping | str) or not isinstance(events, Iterable):
        raise ConfigError(f"events: got {type(events).__name__}; give a list of {{name, start, end}} "
                          "entries or a DataFrame with those columns")
    out = [_one_event(raw, i) for i, raw in enumerate(events)]
    problems = event_problems([(e.name, e.start, e.end) for e in out])
    if problems:
        raise ConfigError("; ".join(f"events[{i}]: {msg}" for i, msg in problems))
    return out


def user_event_columns(idx: pd.DatetimeIndex, w: dict[str, float],
                  events: list[UserEvent]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """One window column per user event (``user_<slug>``): the share of the series' countries
    (by weight) where the event runs, on each day of its date ranges."""
    cols: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    for ev in events:
        share = 1.0 if ev.countries is None else sum(w.get(c, 0.0) for c in ev.countries)
        inside = (idx >= pd.Timestamp(ev.start)) & (idx <= pd.Timestamp(ev.end))
        cols.setdefault(ev.key, np.zeros(len(idx)))
        cols[ev.key] += np.where(inside, share, 0.0)
        labels[ev.key] = ev.name
    return cols, labels


def unseen_events(train: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
    """Events active in a forecast window that the training window never saw.

    A model fitted on ``train`` has no coefficient for them, so the forecast treats their days as
    ordinary days; this lists them so the forecast can say so instead of dropping them silently.

    Parameters
    ----------
    train, future : pandas.DataFrame
        :func:`playbook.forecasting.calendar.event_features` of the training days and of the forecast days (same countries,
        weights and events).

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``, ``name``, ``kind``, ``first_day`` (first forecast day it is active)
        and ``note`` (e.g. "Spring sale never occurs in the history: no effect estimated; its
        days are forecast as ordinary days"), one row per unseen event, in order of first day.
    """
    seen = {train.attrs.get("groups", {}).get(c, c) for c in train.columns if train[c].abs().sum() > 0}
    groups = future.attrs.get("groups", {})
    names, kinds = future.attrs.get("names", {}), future.attrs.get("kinds", {})
    rows: dict[str, dict[str, Any]] = {}
    for col in future.columns:
        feature = groups.get(col, col)
        active = future.index[future[col].abs() > 0]
        if feature in seen or len(active) == 0:
            continue
        first = active.min()
        if feature not in rows or first < rows[feature]["first_day"]:
            name = names.get(feature, feature)
            rows[feature] = {"feature": feature, "name": name, "kind": kinds.get(feature, "unknown"),
                             "first_day": first,
                             "note": f"{name} never occurs in the history: no effect estimated; its days "
                                     "are forecast as ordinary days"}
    out = pd.DataFrame(list(rows.values()), columns=["feature", "name", "kind", "first_day", "note"])
    return out.sort_values(["first_day", "feature"], kind="stable").reset_index(drop=True)
