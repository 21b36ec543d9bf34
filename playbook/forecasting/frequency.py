"""Frequency of a dated series: inference, checks and the dates of future periods.

A series given to :func:`playbook.forecasting.series.forecast_series` is daily, weekly or monthly.
The frequency is read from the steps between consecutive dates:

* ``"D"``: every step a whole number of days and the typical (median) step one day; missing days
  are filled with zeros (a day without sales) and a note says how many;
* ``"W"``: every step a multiple of 7 days (same weekday); missing weeks are filled with zeros
  and noted;
* ``"M"``: one date per calendar month (any day of the month: month start, month end or the
  15th); missing months are filled with zeros and noted.

Anything else (duplicate dates, steps of 2-6 days, mixed weekdays) is a
:class:`playbook.errors.DataError` naming the steps found. Weekly and monthly series are never
reindexed to days. Pandas offset aliases (``"D"``, ``"W-SUN"``, ``"MS"``, ``"ME"``) follow
https://pandas.pydata.org/docs/user_guide/timeseries.html#offset-aliases; a user-given ``freq``
is reduced to its first letter (``"W-MON"`` -> ``"W"``, ``"MS"``/``"ME"`` -> ``"M"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from playbook.errors import DataError


@dataclass(frozen=True)
class FrequencySpec:
    """What a frequency means for the models.

    Attributes
    ----------
    code : {"D", "W", "M"}
    season : int
        Short seasonal period in periods (week of days, year of weeks, year of months).
    year : float
        Periods per year (365.25, 52.18, 12).
    min_obs : int
        Shortest series accepted (periods).
    min_train : int
        Shortest training window of a backtest fold (periods).
    max_folds : int
        Most backtest folds used (each fold refits every candidate).
    """

    code: str
    season: int
    year: float
    min_obs: int
    min_train: int
    max_folds: int

    @property
    def name(self) -> str:
        return {"D": "daily", "W": "weekly", "M": "monthly"}[self.code]

    @property
    def unit(self) -> str:
        return {"D": "days", "W": "weeks", "M": "months"}[self.code]


SPECS: dict[str, FrequencySpec] = {
    "D": FrequencySpec("D", 7, 365.25, 28, 56, 3),
    "W": FrequencySpec("W", 52, 365.25 / 7, 13, 26, 5),
    "M": FrequencySpec("M", 12, 12.0, 12, 24, 5),
}


def _normalise_freq(freq: str) -> str:
    code = freq.strip().upper()[:1]
    if code not in SPECS:
        raise DataError(f"Unknown frequency {freq!r}. Choose from ['D', 'W', 'M'] (or None to infer it).")
    return code


def _as_dates(y: pd.Series) -> pd.Series:
    if not isinstance(y, pd.Series):
        raise DataError(f"forecast_series needs a pandas Series indexed by dates; got {type(y).__name__}.")
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(y.index))
    except (TypeError, ValueError) as exc:
        raise DataError(f"The series index is not dates ({exc}); index it by the period dates.") from exc
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    out = pd.Series(pd.to_numeric(y.to_numpy(), errors="coerce"), index=idx, name=y.name).sort_index()
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][:3]
        raise DataError(f"The series has duplicate dates ({', '.join(f'{d:%Y-%m-%d}' for d in dup)}); "
                        "aggregate to one value per period first.")
    if out.isna().any():
        raise DataError(f"The series has {int(out.isna().sum())} missing or non-numeric value(s); fill or drop them.")
    return out


def _describe_steps(idx: pd.DatetimeIndex) -> str:
    steps = pd.Series(np.diff(idx.to_numpy()).astype("timedelta64[h]").astype(float) / 24.0).value_counts()
    top = ", ".join(f"{k:g} days x{v}" for k, v in steps.head(5).items())
    return f"steps between dates: {top}"


def infer_frequency(idx: pd.DatetimeIndex) -> str:
    """``"D"``, ``"W"`` or ``"M"`` from the dates (sorted, unique), else :class:`DataError`."""
    if len(idx) < 3:
        raise DataError(f"Cannot infer the frequency from {len(idx)} date(s); give at least 3 periods.")
    days = np.diff(idx.to_numpy()).astype("timedelta64[s]").astype(float) / 86400.0
    whole = np.allclose(days, np.round(days))
    med = float(np.median(days))
    if whole and med == 1:
        return "D"
    if whole and med == 7 and np.all(np.round(days) % 7 == 0):
        return "W"
    months = idx.to_period("M")
    if (not months.has_duplicates and 28 <= med <= 31
            and np.all(np.diff(months.asi8) >= 1) and _same_day_of_month(idx)):
        return "M"
    raise DataError(f"Irregular series: cannot tell daily, weekly or monthly ({_describe_steps(idx)}). "
                    "Aggregate it to days, weeks or months, or pass freq=.")


def _same_day_of_month(idx: pd.DatetimeIndex) -> bool:
    dom = idx.day
    return bool((dom == dom[0]).all() or idx.is_month_end.all() or idx.is_month_start.all() or
                (np.abs(dom - np.median(dom)) <= 3).all())


def regularise(y: pd.Series, freq: str | None = None) -> tuple[pd.Series, FrequencySpec, list[str]]:
    """Check ``y``, infer or check its frequency and fill missing periods with zeros.

    Returns
    -------
    (Series, FrequencySpec, list of str)
        The regular series (same dates as given, plus filled gaps), its frequency and notes.

    Raises
    ------
    DataError
        Not dates, duplicates, irregular steps, a ``freq`` that does not match, or fewer than
        ``spec.min_obs`` periods.
    """
    y = _as_dates(y)
    code = infer_frequency(y.index) if freq is None else _normalise_freq(freq)
    if freq is not None and len(y) >= 3 and infer_frequency(y.index) != code:
        raise DataError(f"freq={freq!r} does not match the dates ({_describe_steps(y.index)}).")
    spec = SPECS[code]
    full = full_index(y.index, code)
    notes: list[str] = []
    if len(full) > len(y):
        notes.append(f"{len(full) - len(y)} missing {spec.unit} between {full[0]:%Y-%m-%d} and "
                     f"{full[-1]:%Y-%m-%d} were filled with zeros.")
        if code == "M":
            y = pd.Series(y.to_numpy(), index=y.index.to_period("M")).reindex(full.to_period("M"), fill_value=0.0)
            y.index = full
        else:
            y = y.reindex(full, fill_value=0.0)
    if len(y) < spec.min_obs:
        raise DataError(f"Too short to forecast: {len(y)} {spec.unit} ({y.index[0]:%Y-%m-%d}..{y.index[-1]:%Y-%m-%d}); "
                        f"a {spec.name} series needs at least {spec.min_obs}.")
    return y.astype(float), spec, notes


def full_index(idx: pd.DatetimeIndex, code: str) -> pd.DatetimeIndex:
    """All periods from the first to the last date, anchored like ``idx``."""
    if code == "D":
        return pd.date_range(idx[0], idx[-1], freq="D")
    if code == "W":
        return pd.date_range(idx[0], idx[-1], freq="7D")
    n = int((idx[-1].to_period("M") - idx[0].to_period("M")).n) + 1
    return _month_steps(idx, 0, n)


def _month_steps(idx: pd.DatetimeIndex, first: int, n: int) -> pd.DatetimeIndex:
    """``n`` monthly dates, ``first`` months after ``idx[0]``, keeping its anchor (start/end/day)."""
    a = idx[0]
    if idx.is_month_end.all():
        return pd.DatetimeIndex([a + pd.offsets.MonthEnd(first + k) for k in range(n)])
    return pd.DatetimeIndex([a + pd.DateOffset(months=first + k) for k in range(n)])


def future_index(idx: pd.DatetimeIndex, code: str, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` periods after the last date of ``idx`` (same anchor as ``idx``)."""
    last = idx[-1]
    if code == "D":
        return pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
    if code == "W":
        return pd.date_range(last + pd.Timedelta(days=7), periods=horizon, freq="7D")
    n_hist = int((idx[-1].to_period("M") - idx[0].to_period("M")).n)
    return _month_steps(idx, n_hist + 1, horizon)


def period_days(idx: pd.DatetimeIndex, code: str) -> list[pd.DatetimeIndex]:
    """The calendar days each period covers (weekly: the 7 days ending on the date; monthly:
    the calendar month), for counting events per period."""
    if code == "D":
        return [pd.DatetimeIndex([d]) for d in idx]
    if code == "W":
        return [pd.date_range(d - pd.Timedelta(days=6), d, freq="D") for d in idx]
    return [pd.date_range(p.start_time, p.end_time.normalize(), freq="D") for p in idx.to_period("M")]
