"""Holidays and retail events per country, and the event features of the demand forecast.

Public holidays come from the ``holidays`` package for every country it knows (matched by date;
display names in a pinned language, ``en_US`` where available). Retail events are computed in
one registry, :data:`EVENTS`: ``{event: function(country, year) -> datetime.date | None}``, with
the country rules in :mod:`playbook.forecasting.calendar_rules`:

* ``black_friday``: the day after US Thanksgiving (4th Thursday of November), in the countries of
  :data:`~playbook.forecasting.calendar_rules.BLACK_FRIDAY_COUNTRIES` and, by default, everywhere else
  (the online event is global).
* ``cyber_monday``: Black Friday + 3 days, only in
  :data:`~playbook.forecasting.calendar_rules.CYBER_MONDAY_COUNTRIES`.
* ``christmas``: 25 December everywhere (the retail run-up matters even where it is not a
  public holiday).
* ``singles_day`` (11 November): CN and the South-East Asian 11.11 markets.
* ``diwali`` and ``eid_al_fitr``: from the holidays package's own lunar calendars, kept when the
  country has a public holiday on that day (by date, never by name; any language gives the same
  dates). Diwali follows the national holiday (31 October 2024 in India); Eid can move by a day
  with the moon sighting.
* ``mothers_day``: per country (:data:`~playbook.forecasting.calendar_rules.MOTHERS_DAY`; 2nd Sunday of
  May by default, Mothering Sunday in GB/IE, last Sunday of May in FR, 21 March in the Arab world).
* ``back_to_school``: per country and hemisphere
  (:func:`~playbook.forecasting.calendar_rules.back_to_school_date`; northern 1st Monday of September,
  southern 1st Monday of February, IN 1 June).

Forecast features (:func:`event_features`): per retail event a peak, a ramp and (Black Friday)
a post-event dip; the gift season; public holidays (grouped by default, see
:func:`event_features`); user events (named date ranges from the campaign file's ``events:``
section or the API). An event whose columns are all zero on the given days is left out and
listed in ``frame.attrs["omitted"]``; :func:`unseen_events` lists events of a forecast window that
the training window never saw (no effect can be estimated for them: the forecast says so).

Sources: https://holidays.readthedocs.io/ (``country_holidays``, ``language``); the country
tables cite theirs in :mod:`playbook.forecasting.calendar_rules`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.errors import ConfigError
from playbook.forecasting import calendar_rules as EV
from playbook.forecasting.calendar_rules import parse_events, unseen_events  # noqa: F401 - re-exported

EventFn = Callable[[str, int], "dt.date | None"]

#: The six countries of the bundled sample. Their event dates are pinned by
#: tests/test_calendar_countries.py (the synthetic generator plants its effects on them); every
#: other country the ``holidays`` package knows gets the same events by the rules of
#: :mod:`playbook.forecasting.calendar_rules`.
RETAIL_COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "IN", "AE", "CN")


def _black_friday(country: str, year: int) -> dt.date | None:
    if not EV.black_friday_observed(country):
        return None  # pragma: no cover - only when BLACK_FRIDAY_DEFAULT is switched off
    return EV.nth_weekday(year, 11, 3, 4) + dt.timedelta(days=1)


def _cyber_monday(country: str, year: int) -> dt.date | None:
    if country not in EV.CYBER_MONDAY_COUNTRIES:
        return None
    return EV.nth_weekday(year, 11, 3, 4) + dt.timedelta(days=4)


def _christmas(country: str, year: int) -> dt.date:
    return dt.date(year, 12, 25)


def _singles_day(country: str, year: int) -> dt.date | None:
    return dt.date(year, 11, 11) if country in EV.SINGLES_DAY_COUNTRIES else None


def _valentines_day(country: str, year: int) -> dt.date:
    return dt.date(year, 2, 14)


def _diwali(country: str, year: int) -> dt.date | None:
    return EV.diwali_date(country, year)


def _eid_al_fitr(country: str, year: int) -> dt.date | None:
    return EV.eid_al_fitr_date(country, year)


def _mothers_day(country: str, year: int) -> dt.date:
    return EV.mothers_day_date(country, year)


def _back_to_school(country: str, year: int) -> dt.date:
    return EV.back_to_school_date(country, year)


#: Retail-event registry: ``{event: function(country, year) -> date or None}``.
EVENTS: dict[str, EventFn] = {
    "black_friday": _black_friday,
    "cyber_monday": _cyber_monday,
    "christmas": _christmas,
    "singles_day": _singles_day,
    "diwali": _diwali,
    "eid_al_fitr": _eid_al_fitr,
    "valentines_day": _valentines_day,
    "mothers_day": _mothers_day,
    "back_to_school": _back_to_school,
}

#: Display name of each retail event (charts, the season calendar).
EVENT_NAMES: dict[str, str] = {
    "black_friday": "Black Friday",
    "cyber_monday": "Cyber Monday",
    "christmas": "Christmas",
    "singles_day": "Singles' Day",
    "diwali": "Diwali",
    "eid_al_fitr": "Eid al-Fitr",
    "valentines_day": "Valentine's Day",
    "mothers_day": "Mother's Day",
    "back_to_school": "Back to school",
}


@functools.lru_cache(maxsize=8192)
def event_date(event: str, country: str, year: int) -> dt.date | None:
    """Date of a retail ``event`` in ``country`` and ``year``.

    Parameters
    ----------
    event : str
        A key of :data:`EVENTS`.
    country : str
        ISO 3166-1 alpha-2 code (upper case).
    year : int
        Calendar year.

    Returns
    -------
    datetime.date or None
        ``None`` when the event is not observed in ``country``.

    Raises
    ------
    ValueError
        ``Unknown event X. Choose from [...]``.

    Examples
    --------
    >>> event_date("black_friday", "US", 2024)
    datetime.date(2024, 11, 29)
    """
    try:
        fn = EVENTS[event]
    except KeyError:
        raise ValueError(f"Unknown event {event!r}. Choose from {sorted(EVENTS)}") from None
    return fn(country.upper(), int(year))


def _country(raw: Any) -> str:
    """A country code from the caller, upper-cased; YAML booleans and other types refused."""
    if not isinstance(raw, str):
        raise ConfigError(f"Country code {raw!r} is not a string; quote country codes in YAML (e.g. 'NO').")
    code = raw.strip().upper()
    if code == "UK":
        raise ConfigError("Country code 'UK': the ISO 3166-1 code of the United Kingdom is 'GB' (the "
                          "country rules, e.g. Mothering Sunday, are keyed by ISO codes).")
    return code


def retail_events(countries: Iterable[str], years: Iterable[int]) -> pd.DataFrame:
    """Retail events and public holidays for ``countries`` x ``years``.

    Parameters
    ----------
    countries : iterable of str
        ISO 3166-1 alpha-2 codes (any country the ``holidays`` package knows).
    years : iterable of int
        Calendar years.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, naive, day), ``country``, ``event`` (registry key for
        retail events, ``"public_holiday"`` otherwise), ``kind`` (``"retail"`` or
        ``"public_holiday"``) and ``name`` (human-readable; holiday names in ``en_US`` where the
        package has it), sorted by country and date.

    Raises
    ------
    ConfigError
        If a country code is unknown to the ``holidays`` package (the message says how to list
        the known codes).
    """
    years = sorted({int(y) for y in years})
    rows: list[tuple[dt.date, str, str, str, str]] = []
    for raw in countries:
        country = _country(raw)
        for year in years:
            for day, (_, name) in EV.public_holidays(country, year).items():
                rows.append((day, country, "public_holiday", "public_holiday", name))
        for event, fn in EVENTS.items():
            for year in years:
                event_day = fn(country, year)
                if event_day is not None:
                    rows.append((event_day, country, event, "retail", EVENT_NAMES[event]))
    frame = pd.DataFrame(rows, columns=["date", "country", "event", "kind", "name"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame.sort_values(["country", "date", "kind", "event"], kind="stable").reset_index(drop=True)


def event_windows(
    event: str, countries: Iterable[str], years: Iterable[int], before: int = 7, after: int = 0
) -> pd.DataFrame:
    """Windows around an event: one row per country and year where the event exists.

    Parameters
    ----------
    event : str
        A key of :data:`EVENTS`.
    countries, years : iterables
        Countries (ISO alpha-2) and years.
    before, after : int
        Days before and after the event day included in the window (>= 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``country``, ``year``, ``event_date``, ``window_start``, ``window_end``
        (naive datetime64 days, both ends inclusive).
    """
    if before < 0 or after < 0:
        raise ValueError(f"before and after must be >= 0 days, got before={before}, after={after}")
    rows = []
    for country in countries:
        for year in years:
            day = event_date(event, country, year)
            if day is None:
                continue
            rows.append(
                (
                    country.upper(),
                    int(year),
                    day,
                    day - dt.timedelta(days=before),
                    day + dt.timedelta(days=after),
                )
            )
    frame = pd.DataFrame(rows, columns=["country", "year", "event_date", "window_start", "window_end"])
    for col in ("event_date", "window_start", "window_end"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    return frame


# --------------------------------------------------------------------------------------------
# Plan step: the season's calendar, its timeline chart, and event features for the forecast
# --------------------------------------------------------------------------------------------

#: Shape of each retail event as a forecast feature: the ``anchor`` event of :data:`EVENTS`,
#: ``offset`` days from the anchor to the peak, a linear ramp over ``pre`` days up to the peak and
#: ``post`` days down from it, and an optional flat ``dip`` window ``(first, last)`` in days after
#: the peak (the post-promotion dip: demand pulled forward into the event). Generic retail
#: knowledge, not fitted: Black Friday week, Cyber Monday, the Christmas run-up peaking at the
#: last shipping day (~20 December) with closed shops on 24-25 December, Diwali shopping from
#: Dhanteras, the last days of Ramadan before Eid, Singles' Day pre-sales.
FEATURE_WINDOWS: dict[str, dict] = {
    "black_friday": dict(anchor="black_friday", offset=0, pre=3, post=1, dip=(4, 10)),
    "cyber_monday": dict(anchor="cyber_monday", offset=0, pre=1, post=0),
    "christmas_runup": dict(anchor="christmas", offset=-5, pre=20, post=3),
    "christmas_day": dict(anchor="christmas", offset=0, pre=1, post=0),
    "singles_day": dict(anchor="singles_day", offset=0, pre=3, post=0),
    "diwali": dict(anchor="diwali", offset=0, pre=10, post=1),
    "eid_al_fitr": dict(anchor="eid_al_fitr", offset=0, pre=7, post=1),
    "valentines_day": dict(anchor="valentines_day", offset=0, pre=3, post=0),
    "mothers_day": dict(anchor="mothers_day", offset=0, pre=4, post=0),
    "back_to_school": dict(anchor="back_to_school", offset=0, pre=14, post=7),
}


#: Gift shopping season as (first, last) month*100+day: 10 November to 24 December.
GIFT_SEASON: tuple[int, int] = (1110, 1224)


#: Display names of the feature groups that are not named after their anchor event.
FEATURE_NAMES: dict[str, str] = {"christmas_runup": "Christmas run-up", "christmas_day": "Christmas Day",
                                 "gift_season": "Gift season", "public_holiday": "Public holidays"}

#: How public holidays enter the features. ``"grouped"`` (default): two columns whatever the
#: number of countries and holidays, ``public_holiday`` (the holiday itself) and
#: ``public_holiday_eve`` (the day before one, unless that day is itself a holiday or a retail
#: event: shopping before closures), each the weighted share of countries on such a day.
#: ``"each"``: one column ``holiday_<key>`` per holiday (key = its ``en_US`` name slugged, shared
#: across countries), at most :data:`MAX_HOLIDAY_FEATURES` of them (the most frequent in the
#: days; the rest go to ``public_holiday``). ``None``: none. Grouped is the default because a
#: daily series over two or three years sees each holiday two or three times, too few to
#: estimate twenty separate effects, while one common "closed / off work" effect is estimated
#: from every holiday; its limit is that holidays with opposite effects (a closed day against a
#: sales day such as Boxing Day) average out, which "each" avoids given enough history. Days that
#: are a retail event of the country (Christmas, Diwali, Eid al-Fitr) are left to that event's
#: own features and are not public-holiday days here.
PUBLIC_HOLIDAY_MODES: tuple[str | None, ...] = ("grouped", "each", None)
MAX_HOLIDAY_FEATURES = 20


def _event_peaks(spec: dict, country: str, years: Iterable[int]) -> list[int]:
    """Peak days (ordinals) of a feature ``spec`` in ``country`` over ``years``."""
    peaks = []
    for year in years:
        day = event_date(spec["anchor"], country, year)
        if day is not None:
            peaks.append(day.toordinal() + int(spec["offset"]))
    return peaks


def _country_weights(countries: list[str], weights: dict[str, float] | None) -> dict[str, float]:
    """Demand share per country, normalised to sum to 1 (equal when ``weights`` is None)."""
    if weights is None:
        return {c: 1.0 / len(countries) for c in countries}
    total = sum(max(float(weights.get(c, 0.0)), 0.0) for c in countries)
    if total <= 0:
        raise ValueError(f"weights {weights} give no positive weight to countries {countries}")
    return {c: max(float(weights.get(c, 0.0)), 0.0) / total for c in countries}


def _retail_columns(n: int, pos: dict[int, int], w: dict[str, float], windows: dict[str, dict],
                    years: range) -> dict[str, np.ndarray]:
    """Peak, ramp and dip columns of every retail feature (see :func:`event_features`)."""
    cols: dict[str, np.ndarray] = {}
    for feature, spec in windows.items():
        peak, ramp, dip = np.zeros(n), np.zeros(n), np.zeros(n)
        for country, wc in w.items():
            if wc == 0:
                continue
            for p in _event_peaks(spec, country, years):
                _put(pos, p, 0, wc, peak)
                for k in range(1, spec["pre"] + 1):
                    _put(pos, p, -k, wc * (1 - k / (spec["pre"] + 1)), ramp)
                for k in range(1, spec["post"] + 1):
                    _put(pos, p, k, wc * (1 - k / (spec["post"] + 1)), ramp)
                if spec.get("dip"):
                    for k in range(spec["dip"][0], spec["dip"][1] + 1):
                        _put(pos, p, k, wc, dip)
        cols[feature] = peak
        cols[f"{feature}_ramp"] = ramp
        if spec.get("dip"):
            cols[f"{feature}_dip"] = dip
    return cols


def _holiday_days(country: str, years: range) -> tuple[dict[int, str], set[int]]:
    """Public holidays of ``country`` as ``{day ordinal: key}`` minus its retail-event days, and
    the set of all its holiday and retail-event days (ordinals)."""
    retail = {d.toordinal() for ev in EVENTS for y in years if (d := event_date(ev, country, y)) is not None}
    out: dict[int, str] = {}
    for year in years:
        for day, (key, _) in EV.public_holidays(country, year).items():
            if day.toordinal() not in retail:
                out[day.toordinal()] = key
    return out, retail | set(out)


def _holiday_columns(n: int, pos: dict[int, int], w: dict[str, float], years: range,
                     mode: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Public-holiday columns (:data:`PUBLIC_HOLIDAY_MODES`) and the display name per column."""
    per_key: dict[str, np.ndarray] = {}
    eve = np.zeros(n)
    for country, wc in w.items():
        if wc == 0:
            continue
        days, special = _holiday_days(country, years)
        for day, key in days.items():
            _put(pos, day, 0, wc, per_key.setdefault(key, np.zeros(n)))
            if day - 1 not in special:
                _put(pos, day, -1, wc, eve)
    grouped = np.zeros(n)
    cols: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    keep = set(sorted(per_key, key=lambda k: (-per_key[k].sum(), k))[:MAX_HOLIDAY_FEATURES]) if mode == "each" else set()
    for key, values in sorted(per_key.items()):
        if key in keep:
            cols[f"holiday_{key}"] = values
            labels[f"holiday_{key}"] = key.replace("_", " ").capitalize()
        else:
            grouped += values
    cols["public_holiday"] = grouped
    labels["public_holiday"] = FEATURE_NAMES["public_holiday"]
    if mode == "grouped":
        cols["public_holiday_eve"] = eve
    return cols, labels


def _group_of(column: str, groups: Iterable[str]) -> str:
    """The feature group of ``column`` (``black_friday_ramp`` -> ``black_friday``)."""
    for suffix in ("_ramp", "_dip", "_eve"):
        if column.endswith(suffix) and column[: -len(suffix)] in groups:
            return column[: -len(suffix)]
    return column


def event_features(
    days: pd.DatetimeIndex | Iterable,
    countries: Iterable[str],
    weights: dict[str, float] | None = None,
    windows: dict[str, dict] | None = None,
    gift_season: bool = True,
    *,
    public_holidays: str | None = "grouped",
    events: Any = None,
) -> pd.DataFrame:
    """Daily event regressors for a demand forecast (one column per event and part).

    For every retail event of ``windows`` up to three columns are built per day:

    * ``<event>``: 1 on the peak day;
    * ``<event>_ramp``: a linear ramp ``1 - |k| / (n + 1)`` over the ``pre`` days before and
      ``post`` days after the peak (0 on the peak day itself, so the peak has its own effect);
    * ``<event>_dip`` (events with a ``dip`` window): 1 on the days after the peak where demand
      taken from the future is missing (pull-forward);

    and further:

    * ``gift_season`` (when ``gift_season``): 1 from 10 November to 24 December, the Western gift
      shopping season (:data:`GIFT_SEASON`), a level shift that a few annual Fourier terms
      cannot follow;
    * public holidays of each country from the ``holidays`` package, matched by date
      (``public_holiday`` and ``public_holiday_eve``, or one column per holiday; see
      :data:`PUBLIC_HOLIDAY_MODES`);
    * ``user_<name>``: one window column per user event (``events``), on every day of its range.

    With several countries each column is the ``weights``-weighted share of countries where the
    event is active on that day (weights default to equal and are normalised to sum to 1), so
    the features of an aggregate series reflect its country mix. A log-linear model then reads
    ``exp(coef)`` of a single-country peak column as that event's multiplier on the peak day.

    Parameters
    ----------
    days : DatetimeIndex or iterable of dates
        The days to describe (naive calendar days).
    countries : iterable of str
        ISO alpha-2 codes of the series' countries (any country the holidays package knows).
    weights : dict, optional
        ``{country: share of demand}``; missing countries get weight 0.
    windows : dict, optional
        Retail event shapes; default :data:`FEATURE_WINDOWS`.
    gift_season : bool
        Add the ``gift_season`` column.
    public_holidays : {"grouped", "each", None}
        How public holidays become columns (:data:`PUBLIC_HOLIDAY_MODES`).
    events : list of dict, DataFrame or None
        User events (``name``, ``start``, ``end``, optional ``countries``; see
        :func:`playbook.forecasting.calendar_rules.parse_events`), e.g. the campaign file's ``events``.

    Returns
    -------
    pandas.DataFrame
        Indexed by day. Columns that are zero on every day are dropped (an event that never
        happens in these countries and days cannot be estimated); every event so left out is
        listed in ``attrs["omitted"]`` (dicts ``feature``, ``name``, ``kind``, ``reason``), so
        the caller can say "Spring sale never occurs in the history: no effect estimated".
        ``attrs["groups"]`` maps each column to its event (``black_friday_ramp`` ->
        ``black_friday``), ``attrs["names"]`` each event to its display name and
        ``attrs["kinds"]`` each event to ``"retail"``, ``"season"``, ``"public_holiday"`` or
        ``"user"``.

    Raises
    ------
    ConfigError
        Unknown country code, bad ``public_holidays`` mode or invalid user events.
    """
    if public_holidays not in PUBLIC_HOLIDAY_MODES:
        raise ConfigError(f"public_holidays={public_holidays!r}; choose one of {list(PUBLIC_HOLIDAY_MODES)}")
    idx = pd.DatetimeIndex(pd.to_datetime(list(days))).normalize()
    codes = [_country(c) for c in countries]
    windows = FEATURE_WINDOWS if windows is None else windows
    user = parse_events(events)
    w = _country_weights(codes, weights)
    if len(idx) == 0:
        return pd.DataFrame(index=idx)
    years = range(idx.min().year - 1, idx.max().year + 2)
    pos = {d.toordinal(): i for i, d in enumerate(idx)}  # day number -> row (integer lookups)
    cols = _retail_columns(len(idx), pos, w, windows, years)
    names = {f: FEATURE_NAMES.get(f) or EVENT_NAMES.get(spec["anchor"], f) for f, spec in windows.items()}
    kinds = dict.fromkeys(windows, "retail")
    if gift_season:
        md = idx.month * 100 + idx.day
        cols["gift_season"] = np.where((md >= GIFT_SEASON[0]) & (md <= GIFT_SEASON[1]), 1.0, 0.0)
        names["gift_season"], kinds["gift_season"] = FEATURE_NAMES["gift_season"], "season"
    if public_holidays is not None:
        hcols, hnames = _holiday_columns(len(idx), pos, w, years, public_holidays)
        cols.update(hcols)
        names.update(hnames)
        kinds.update(dict.fromkeys(hnames, "public_holiday"))
    ucols, unames = EV.user_event_columns(idx, w, user)
    cols.update(ucols)
    names.update(unames)
    kinds.update(dict.fromkeys(unames, "user"))
    frame = pd.DataFrame(cols, index=idx)
    active = frame.abs().sum() > 0
    groups = {c: _group_of(c, names) for c in frame.columns}
    seen = {groups[c] for c in frame.columns if active[c]}
    frame = frame.loc[:, active]
    frame.attrs["groups"] = {c: groups[c] for c in frame.columns}
    frame.attrs["names"] = names
    frame.attrs["kinds"] = kinds
    frame.attrs["omitted"] = [
        {"feature": f, "name": names[f], "kind": kinds[f],
         "reason": f"{names[f]} never occurs on these days ({idx.min():%Y-%m-%d} to {idx.max():%Y-%m-%d}) "
                   f"in {', '.join(codes)}: no effect can be estimated"}
        for f in names if f not in seen
    ]
    return frame


def _put(pos: dict[int, int], peak: int, k: int, value: float, out: np.ndarray) -> None:
    """Add ``value`` to ``out`` on the day ``peak + k`` (day ordinals) when it is in ``pos``."""
    i = pos.get(peak + k)
    if i is not None:
        out[i] += value


def season_calendar(
    countries: Iterable[str], start: dt.date | str, end: dt.date | str, lead_days: int = 30
) -> pd.DataFrame:
    """Retail events and public holidays in (and shortly before) a campaign window.

    Parameters
    ----------
    countries : iterable of str
        ISO alpha-2 codes.
    start, end : date or str
        The campaign window (inclusive).
    lead_days : int
        Also list events up to this many days before ``start`` (their run-up often starts early:
        Diwali, Singles' Day).

    Returns
    -------
    pandas.DataFrame
        ``date``, ``country``, ``event``, ``kind``, ``name`` and ``in_window`` (bool), sorted by
        date and country; the columns of :func:`retail_events`.
    """
    s0 = pd.Timestamp(start) - pd.Timedelta(days=lead_days)
    s1 = pd.Timestamp(end)
    ev = retail_events(countries, range(s0.year, s1.year + 1))
    ev = ev[(ev["date"] >= s0) & (ev["date"] <= s1)].copy()
    ev["in_window"] = ev["date"] >= pd.Timestamp(start)
    return ev.sort_values(["date", "country", "kind", "event"], kind="stable").reset_index(drop=True)


def plot_season_timeline(cal: pd.DataFrame, start: dt.date | str, end: dt.date | str):
    """Timeline chart: one row per country, retail events as labelled markers, public holidays
    as small ticks, the campaign window shaded.

    Returns
    -------
    matplotlib.figure.Figure
    """
    countries = sorted(cal["country"].unique()) if not cal.empty else []
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.55 * max(len(countries), 1)))
    s0, s1 = pd.Timestamp(start), pd.Timestamp(end)
    ax.axvspan(s0, s1 + pd.Timedelta(days=1), color="#f4a261", alpha=0.2, lw=0, label="campaign window")
    if cal.empty:
        ax.text(0.5, 0.5, "No events or holidays in this window", ha="center", va="center",
                transform=ax.transAxes)
    ypos = {c: i for i, c in enumerate(countries)}
    pub = cal[cal["kind"] == "public_holiday"]
    ax.scatter(pub["date"], pub["country"].map(ypos), marker="|", s=120, color="#888888",
               label="public holiday")
    ret = cal[cal["kind"] == "retail"]
    ax.scatter(ret["date"], ret["country"].map(ypos), marker="o", s=45, color="#1f4e79",
               label="retail event", zorder=3)
    for _, r in ret.iterrows():
        ax.annotate(r["name"], (r["date"], ypos[r["country"]]), xytext=(3, 5),
                    textcoords="offset points", fontsize=7, rotation=20)
    ax.set_yticks(range(len(countries)), countries)
    ax.set_ylim(-0.7, max(len(countries), 1) - 0.2)
    ax.set_xlim(min(s0 - pd.Timedelta(days=7), cal["date"].min() if not cal.empty else s0), s1 + pd.Timedelta(days=3))
    ax.set_title("Season calendar: retail events and public holidays per country")
    ax.set_xlabel("date")
    ax.set_ylabel("country")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
