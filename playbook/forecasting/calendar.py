"""Holidays and retail events per country.

Public holidays come from the ``holidays`` package. Retail events that the package does not
cover (Black Friday, Cyber Monday, Singles' Day, Valentine's Day, Mother's Day, back-to-school)
or does not name reliably across versions (Diwali, Eid al-Fitr) are computed here, in one
registry, :data:`EVENTS`: ``{event: function(country, year) -> datetime.date | None}``.

Approximations (documented, deliberate):

* ``black_friday`` is the day after US Thanksgiving (4th Thursday of November) and is used for
  every country: the online event is global.
* ``cyber_monday`` is Black Friday + 3 days.
* ``christmas`` is 25 December everywhere (the retail run-up matters even where it is not a
  public holiday).
* ``singles_day`` (11 November) is a CN event only; other countries return ``None``.
* ``diwali`` (IN only) is looked up in ``holidays.India``; when the installed version lacks it a
  built-in table 2022-2027 is used. Dates follow the national (gazetted) holiday: Diwali 2024 is
  31 October there, although some regions celebrated on 1 November.
* ``eid_al_fitr`` (AE only) is the first day of Eid al-Fitr from
  ``holidays.UnitedArabEmirates`` (the day named exactly "Eid al-Fitr", possibly "(estimated)"),
  with a built-in fallback table 2022-2027. Moon sighting can move it by a day.
* ``mothers_day``: 2nd Sunday of May (US, DE, CN, IN), Mothering Sunday = Easter - 21 days (GB),
  21 March (AE).
* ``back_to_school`` anchor: first Monday of September (US, DE, GB; real school starts vary by
  state), 1 June (IN); ``None`` elsewhere.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable

import holidays
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from dateutil.easter import easter

from playbook.errors import ConfigError

EventFn = Callable[[str, int], "dt.date | None"]

#: Country codes the retail-event registry knows about. Public holidays work for any country
#: that the ``holidays`` package supports.
RETAIL_COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "IN", "AE", "CN")

_DIWALI_FALLBACK: dict[int, dt.date] = {
    2022: dt.date(2022, 10, 24),
    2023: dt.date(2023, 11, 12),
    2024: dt.date(2024, 10, 31),
    2025: dt.date(2025, 10, 20),
    2026: dt.date(2026, 11, 8),
    2027: dt.date(2027, 10, 29),
}
_EID_AL_FITR_FALLBACK: dict[int, dt.date] = {
    2022: dt.date(2022, 5, 2),
    2023: dt.date(2023, 4, 21),
    2024: dt.date(2024, 4, 10),
    2025: dt.date(2025, 3, 30),
    2026: dt.date(2026, 3, 20),
    2027: dt.date(2027, 3, 9),
}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """Return the ``n``-th ``weekday`` (Mon=0) of ``month`` in ``year``."""
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _lookup(cal: holidays.HolidayBase, names: tuple[str, ...], exclude: str | None = None) -> dt.date | None:
    """First date in ``cal`` whose name starts with one of ``names`` (minus ``exclude`` ones)."""
    hits = []
    for day, label in cal.items():
        for part in str(label).split(";"):
            part = part.strip()
            if exclude and exclude.lower() in part.lower():
                continue
            if any(part.lower().startswith(n.lower()) for n in names):
                hits.append(day)
    return min(hits) if hits else None


def _black_friday(country: str, year: int) -> dt.date:
    return _nth_weekday(year, 11, 3, 4) + dt.timedelta(days=1)


def _cyber_monday(country: str, year: int) -> dt.date:
    return _black_friday(country, year) + dt.timedelta(days=3)


def _christmas(country: str, year: int) -> dt.date:
    return dt.date(year, 12, 25)


def _singles_day(country: str, year: int) -> dt.date | None:
    return dt.date(year, 11, 11) if country == "CN" else None


def _valentines_day(country: str, year: int) -> dt.date:
    return dt.date(year, 2, 14)


def _diwali(country: str, year: int) -> dt.date | None:
    if country != "IN":
        return None
    try:
        found = _lookup(holidays.India(years=year), ("Diwali", "Deepavali"))
    except Exception:  # pragma: no cover - defensive: very old/new holidays versions
        found = None
    return found or _DIWALI_FALLBACK.get(year)


def _eid_al_fitr(country: str, year: int) -> dt.date | None:
    if country != "AE":
        return None
    try:
        found = _lookup(holidays.UnitedArabEmirates(years=year), ("Eid al-Fitr",), exclude="holiday")
    except Exception:  # pragma: no cover - defensive
        found = None
    return found or _EID_AL_FITR_FALLBACK.get(year)


def _mothers_day(country: str, year: int) -> dt.date | None:
    if country in ("US", "DE", "CN", "IN"):
        return _nth_weekday(year, 5, 6, 2)
    if country == "GB":
        return easter(year) - dt.timedelta(days=21)
    if country == "AE":
        return dt.date(year, 3, 21)
    return None


def _back_to_school(country: str, year: int) -> dt.date | None:
    if country in ("US", "DE", "GB"):
        return _nth_weekday(year, 9, 0, 1)
    if country == "IN":
        return dt.date(year, 6, 1)
    return None


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


def _public_holidays(country: str, years: list[int]) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country, years=years)
    except NotImplementedError:
        raise ConfigError(
            f"Unknown country code {country!r}: the holidays package has no calendar for it. "
            "Use an ISO 3166-1 alpha-2 code such as 'US', 'GB', 'DE', 'IN', 'AE', 'CN' "
            "(quote it in YAML, e.g. 'NO')."
        ) from None


def retail_events(countries: Iterable[str], years: Iterable[int]) -> pd.DataFrame:
    """Retail events and public holidays for ``countries`` x ``years``.

    Parameters
    ----------
    countries : iterable of str
        ISO 3166-1 alpha-2 codes.
    years : iterable of int
        Calendar years.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, naive, day), ``country``, ``event`` (registry key for
        retail events, ``"public_holiday"`` otherwise), ``kind`` (``"retail"`` or
        ``"public_holiday"``) and ``name`` (human-readable), sorted by country and date.

    Raises
    ------
    ValueError (ConfigError)
        If a country code is unknown to the ``holidays`` package.
    """
    years = sorted({int(y) for y in years})
    rows: list[tuple[dt.date, str, str, str, str]] = []
    for raw in countries:
        if not isinstance(raw, str):
            raise ConfigError(
                f"Country code {raw!r} is not a string; quote country codes in YAML (e.g. 'NO')."
            )
        country = raw.strip().upper()
        cal = _public_holidays(country, years)
        for day, label in sorted(cal.items()):
            rows.append((day, country, "public_holiday", "public_holiday", str(label)))
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


def _event_peaks(feature: str, country: str, years: Iterable[int]) -> list[pd.Timestamp]:
    spec = FEATURE_WINDOWS[feature]
    peaks = []
    for year in years:
        day = event_date(spec["anchor"], country, year)
        if day is not None:
            peaks.append(pd.Timestamp(day) + pd.Timedelta(days=spec["offset"]))
    return peaks


def event_features(
    days: pd.DatetimeIndex | Iterable,
    countries: Iterable[str],
    weights: dict[str, float] | None = None,
    windows: dict[str, dict] | None = None,
    gift_season: bool = True,
) -> pd.DataFrame:
    """Daily event regressors for a demand forecast (one column per event and part).

    For every event of ``windows`` three kinds of columns are built per day:

    * ``<event>``: 1 on the peak day;
    * ``<event>_ramp``: a linear ramp ``1 - |k| / (n + 1)`` over the ``pre`` days before and
      ``post`` days after the peak (0 on the peak day itself, so the peak has its own effect);
    * ``<event>_dip`` (events with a ``dip`` window): 1 on the days after the peak where demand
      taken from the future is missing (pull-forward);
    * ``gift_season`` (when ``gift_season``): 1 from 10 November to 24 December, the Western gift
      shopping season (:data:`GIFT_SEASON`), a level shift that a few annual Fourier terms
      cannot follow.

    With several countries each column is the ``weights``-weighted share of countries where the
    event is active on that day (weights default to equal and are normalised to sum to 1), so
    the features of an aggregate series reflect its country mix. A log-linear model then reads
    ``exp(coef)`` of a single-country peak column as that event's multiplier on the peak day.

    Parameters
    ----------
    days : DatetimeIndex or iterable of dates
        The days to describe (naive, UTC calendar days).
    countries : iterable of str
        ISO alpha-2 codes of the series' countries.
    weights : dict, optional
        ``{country: share of demand}``; missing countries get weight 0.
    windows : dict, optional
        Event shapes; default :data:`FEATURE_WINDOWS`.

    Returns
    -------
    pandas.DataFrame
        Indexed by day; columns that are zero on every day are dropped (an event that never
        happens in these countries and days cannot be estimated).
    """
    idx = pd.DatetimeIndex(pd.to_datetime(list(days))).normalize()
    countries = [c.strip().upper() for c in countries]
    windows = FEATURE_WINDOWS if windows is None else windows
    if weights is None:
        w = {c: 1.0 / len(countries) for c in countries}
    else:
        total = sum(max(float(weights.get(c, 0.0)), 0.0) for c in countries)
        if total <= 0:
            raise ValueError(f"weights {weights} give no positive weight to countries {countries}")
        w = {c: max(float(weights.get(c, 0.0)), 0.0) / total for c in countries}
    if len(idx) == 0:
        return pd.DataFrame(index=idx)
    years = range(idx.min().year - 1, idx.max().year + 2)
    pos = {d.toordinal(): i for i, d in enumerate(idx)}  # day number -> row (integer lookups)
    cols: dict[str, np.ndarray] = {}
    for feature, spec in windows.items():
        peak = np.zeros(len(idx))
        ramp = np.zeros(len(idx))
        dip = np.zeros(len(idx))
        for country in countries:
            if w[country] == 0:
                continue
            for p in (peak_day.toordinal() for peak_day in _event_peaks(feature, country, years)):
                _put(pos, p, 0, w[country], peak)
                for k in range(1, spec["pre"] + 1):
                    _put(pos, p, -k, w[country] * (1 - k / (spec["pre"] + 1)), ramp)
                for k in range(1, spec["post"] + 1):
                    _put(pos, p, k, w[country] * (1 - k / (spec["post"] + 1)), ramp)
                if spec.get("dip"):
                    for k in range(spec["dip"][0], spec["dip"][1] + 1):
                        _put(pos, p, k, w[country], dip)
        cols[feature] = peak
        cols[f"{feature}_ramp"] = ramp
        if spec.get("dip"):
            cols[f"{feature}_dip"] = dip
    if gift_season:
        md = idx.month * 100 + idx.day
        cols["gift_season"] = np.where((md >= GIFT_SEASON[0]) & (md <= GIFT_SEASON[1]), 1.0, 0.0)
    frame = pd.DataFrame(cols, index=idx)
    return frame.loc[:, frame.abs().sum() > 0]


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
