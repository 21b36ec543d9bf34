"""Tests for playbook.forecast.forecast_series (issue 16): frequency inference, weekly/monthly
totals against a daily forecast, long horizons, short histories, planted structure, calibrated
intervals, determinism and the default without a backtest.

Runtime: the daily forecasts are the expensive part (statsforecast fits at 4 origins); the daily
series here are run once per module and restricted to three candidates where the test is about
frequencies, not about the selection.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from playbook.errors import DataError
from playbook.forecast import backtest_table, forecast_series
from playbook.forecasting import conformal
from playbook.forecasting import forecast as F
from playbook.forecasting import model as M
from playbook.forecasting import series as S
from playbook.forecasting.candidates import DEFAULT_ENSEMBLE, Context, combine, log_offset, predict
from playbook.forecasting.frequency import SPECS, future_index, regularise

WEEKDAY = np.array([0.0, -0.1, -0.1, 0.0, 0.05, 0.25, 0.1])  # log effect, Monday..Sunday
MONTH = np.log([0.8, 0.85, 0.95, 1.0, 1.05, 1.1, 1.1, 1.05, 1.0, 1.0, 1.2, 1.5])
FAST = ("regression", "auto_ets", "seasonal_naive")


def daily_log_mean(days: pd.DatetimeIndex, level=200.0, annual=True) -> np.ndarray:
    """Deterministic part of :func:`daily_series`: weekday effects and a smooth annual cycle
    peaking in mid-December (log amplitude 0.3)."""
    z = np.log(level) + WEEKDAY[days.day_of_week]
    if annual:
        z = z + 0.3 * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 350) / 365.25)
    return z


def daily_series(start="2022-01-01", end="2024-12-31", level=200.0, noise=0.1, seed=0, annual=True) -> pd.Series:
    """Log-linear daily series (:func:`daily_log_mean`) with log-normal noise of sd ``noise``."""
    days = pd.date_range(start, end)
    rng = np.random.default_rng(seed)
    return pd.Series(np.exp(daily_log_mean(days, level, annual) + rng.normal(0, noise, len(days))), index=days)


def monthly_series(n=84, level=1000.0, noise=0.1, seed=0, start="2018-01-01") -> pd.Series:
    idx = pd.date_range(start, periods=n, freq="MS")
    rng = np.random.default_rng(seed)
    return pd.Series(np.exp(np.log(level) + MONTH[idx.month - 1] + rng.normal(0, noise, n)), index=idx)


@functools.lru_cache(maxsize=1)
def daily_forecast() -> pd.DataFrame:
    """90 days after 2024-12-31 of :func:`daily_series` (shared by the weekly/monthly tests)."""
    return forecast_series(daily_series(), 90, methods=FAST)


# ------------------------------------------------------------------------------------------
# frequency


@pytest.mark.parametrize(("index", "code"), [
    (pd.date_range("2024-01-01", periods=60, freq="D"), "D"),
    (pd.date_range("2024-01-07", periods=30, freq="W-SUN"), "W"),
    (pd.date_range("2024-01-01", periods=30, freq="W-MON"), "W"),
    (pd.date_range("2020-01-01", periods=30, freq="MS"), "M"),
    (pd.date_range("2020-01-31", periods=30, freq="ME"), "M"),
    (pd.date_range("2020-01-15", periods=30, freq="MS") + pd.Timedelta(days=14), "M"),
], ids=["daily", "weekly-sun", "weekly-mon", "month-start", "month-end", "mid-month"])
def test_frequency_is_inferred(index, code):
    y, spec, notes = regularise(pd.Series(1.0, index=index))
    assert spec.code == code and len(y) == len(index) and notes == []


def test_irregular_duplicate_short_and_mismatched_series_are_clear_errors():
    rng = np.random.default_rng(1)
    odd = pd.DatetimeIndex(pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(rng.integers(2, 6, 40)), "D"))
    with pytest.raises(DataError, match=r"Irregular series.*steps between dates"):
        forecast_series(pd.Series(1.0, index=odd), 5)
    with pytest.raises(DataError, match="duplicate dates"):
        forecast_series(pd.Series(1.0, index=pd.DatetimeIndex(["2024-01-01"] * 2 + ["2024-01-02"] * 30)), 5)
    with pytest.raises(DataError, match=r"Too short to forecast: 10 days .* at least 28"):
        forecast_series(pd.Series(1.0, index=pd.date_range("2024-01-01", periods=10)), 5)
    with pytest.raises(DataError, match="does not match the dates"):
        forecast_series(pd.Series(1.0, index=pd.date_range("2024-01-01", periods=60)), 5, freq="W")
    with pytest.raises(DataError, match="Unknown frequency"):
        forecast_series(pd.Series(1.0, index=pd.date_range("2024-01-01", periods=60)), 5, freq="Q")


def test_missing_days_are_zero_filled_with_a_note():
    idx = pd.date_range("2024-01-01", periods=60).delete([10, 11, 30])
    y, spec, notes = regularise(pd.Series(5.0, index=idx))
    assert spec.code == "D" and len(y) == 60 and y.loc["2024-01-11"] == 0.0
    assert notes == ["3 missing days between 2024-01-01 and 2024-02-29 were filled with zeros."]


def test_future_periods_keep_the_anchor():
    assert list(future_index(pd.date_range("2024-01-31", periods=3, freq="ME"), "M", 2)) == [
        pd.Timestamp("2024-04-30"), pd.Timestamp("2024-05-31")]
    assert list(future_index(pd.date_range("2024-01-01", periods=3, freq="MS"), "M", 1)) == [pd.Timestamp("2024-04-01")]
    assert list(future_index(pd.date_range("2024-01-07", periods=3, freq="W-SUN"), "W", 2)) == [
        pd.Timestamp("2024-01-28"), pd.Timestamp("2024-02-04")]


# ------------------------------------------------------------------------------------------
# weekly and monthly against daily


def test_weekly_and_monthly_forecasts_add_up_to_the_daily_one():
    """The same demand as days, weeks (Sunday-ending, never reindexed to days) and months gives
    about the same totals."""
    d = daily_series()
    fd = daily_forecast()["mean"]
    weekly = d[:"2024-12-29"].resample("W-SUN").sum()
    fw = forecast_series(weekly, 12)
    assert (np.diff(fw.index) == np.timedelta64(7, "D")).all() and fw.index[0] == pd.Timestamp("2025-01-05")
    assert fw.attrs["freq"] == "W"
    weeks = fw.index[1:]  # the first forecast week starts on 30 December (in the daily history)
    daily_weeks = np.array([fd[w - pd.Timedelta(days=6):w].sum() for w in weeks])
    assert fw.loc[weeks, "mean"].sum() == pytest.approx(daily_weeks.sum(), rel=0.06)
    monthly = d.resample("MS").sum()
    fm = forecast_series(monthly, 3)
    assert list(fm.index) == list(pd.date_range("2025-01-01", periods=3, freq="MS"))
    daily_months = fd.groupby(fd.index.to_period("M")).sum().to_numpy()
    assert fm["mean"].to_numpy() == pytest.approx(daily_months, rel=0.08)
    # and the planted truth: E[y] = exp(log mean + noise^2 / 2) summed over each month
    days = pd.date_range("2025-01-01", "2025-03-31")
    truth = pd.Series(np.exp(daily_log_mean(days) + 0.005), index=days).resample("MS").sum().to_numpy()
    assert fm["mean"].to_numpy() == pytest.approx(truth, rel=0.08)
    assert fd.groupby(fd.index.to_period("M")).sum().to_numpy() == pytest.approx(truth, rel=0.08)


def test_twelve_month_horizon_on_a_monthly_series_recovers_the_season():
    y = monthly_series(noise=0.05)
    fc = forecast_series(y, 12)
    assert list(fc.index) == list(pd.date_range("2025-01-01", periods=12, freq="MS"))
    assert fc.attrs["backed"] and set(backtest_table(fc)["fold"]) == {1, 2, 3, 4, 5}
    err = np.abs(np.log(fc["mean"].to_numpy() / (1000 * np.exp(MONTH + 0.005))))
    assert err.mean() < 0.05 and err.max() < 0.12  # monthly noise sd 0.05 over 6 years
    assert (fc["lo_95"] <= fc["lo_80"]).all() and (fc["lo_80"] <= fc["mean"]).all()
    assert (fc["mean"] <= fc["hi_80"]).all() and (fc["hi_80"] <= fc["hi_95"]).all()


def test_the_old_daily_model_handles_windows_longer_than_a_year():
    """Issue 16 item 6: seasonal naive needed end - 364 in the history (every 12-month plan crashed)."""
    y = daily_series("2022-01-01", "2023-12-31")
    out = M.seasonal_naive(y, "2024-01-01", "2025-02-28")
    day = pd.Timestamp("2025-02-28")  # 425 days ahead -> two years back, same weekday
    assert out.set_index("day").loc[day, "mean"] == y[day - pd.Timedelta(days=728)]
    folds = M.backtest_folds("2024-12-31", "2025-01-01", "2025-12-31", [], "2021-01-01", rolling=1)
    bt = M.backtest(daily_series("2021-01-01", "2024-12-31"), folds, [], None, "revenue", ("regression",))
    assert set(bt["method"]) == {"regression", "seasonal_naive"} and bt["mase"].notna().all()
    assert "ucm" not in M.MODELS  # dropped: its back-transformed mean exploded over a year


# ------------------------------------------------------------------------------------------
# short histories and the default


def test_short_history_has_no_annual_terms_and_says_so():
    y = daily_series("2024-03-01", "2024-09-30")
    fc = forecast_series(y, 14, methods=("regression",))
    assert any("Less than a year of history (214 days): no annual terms." == n for n in fc.attrs["notes"])
    # the weekday pattern is still estimated: Saturday / Tuesday = exp(0.35)
    sat = fc[fc.index.day_of_week == 5]["mean"].mean()
    tue = fc[fc.index.day_of_week == 1]["mean"].mean()
    assert np.log(sat / tue) == pytest.approx(0.35, abs=0.08)


@pytest.mark.parametrize(("n", "folds"), [(30, 0), (40, 1)], ids=["no fold", "one fold"])
def test_fewer_than_three_folds_use_the_documented_default(n, folds):
    """The equal-weight default, and its members' model intervals widened WIDEN times instead of
    conformal intervals from one fold's dozen errors (recomputed here from the members)."""
    y = monthly_series(n)
    fc = forecast_series(y, 12)
    bt = backtest_table(fc)
    assert bt["fold"].nunique() == folds < S.MIN_FOLDS and not fc.attrs["backed"]
    assert fc.attrs["model"] == {m: pytest.approx(1 / 3) for m in DEFAULT_ENSEMBLE}
    assert any("not backed by a backtest" in s for s in fc.attrs["notes"])
    assert not any(s.startswith("Intervals: conformal") for s in fc.attrs["notes"])
    assert any(s.startswith(f"Intervals: the models' own, widened {S.WIDEN:g} times") for s in fc.attrs["notes"])
    ys, spec, _ = regularise(y)
    ctx = Context(spec)
    members = combine([predict(m, ys, fc.index, ctx) for m in DEFAULT_ENSEMBLE], [1, 1, 1])
    z80 = stats.norm.ppf(0.9)
    lo, hi = conformal.interval(members.mean, members.sd(), S.WIDEN * z80, log_offset(ys.to_numpy()), True)
    np.testing.assert_allclose(fc["lo_80"], lo, rtol=1e-9)
    np.testing.assert_allclose(fc["hi_80"], hi, rtol=1e-9)


def test_same_input_and_seed_give_identical_output():
    y = monthly_series(48, seed=4)
    a, b = forecast_series(y, 6, seed=3, methods=FAST), forecast_series(y.copy(), 6, seed=3, methods=FAST)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["model"] == b.attrs["model"] and a.attrs["notes"] == b.attrs["notes"]
    pd.testing.assert_frame_equal(backtest_table(a), backtest_table(b))
    assert pd.concat([a, b]).shape == (12, 5)  # attrs hold no DataFrame (pandas compares them)


def test_user_event_is_recovered_and_an_unseen_one_is_named():
    y = daily_series("2023-01-01", "2024-12-31", noise=0.05, annual=False)
    promo = pd.DataFrame({"name": "promo", "start": pd.to_datetime(["2023-05-10", "2023-09-13", "2024-03-06",
                                                                    "2024-08-14", "2025-01-15"])})
    y[y.index.isin(promo["start"])] *= 2.0
    events = pd.concat([promo, pd.DataFrame({"name": ["launch"], "start": [pd.Timestamp("2025-01-20")]})])
    fc = forecast_series(y, 28, events=events, methods=("regression",))
    week_later = fc.loc["2025-01-22", "mean"]  # same weekday, no event
    assert fc.loc["2025-01-15", "mean"] / week_later == pytest.approx(2.0, rel=0.1)
    assert any("'launch'" in n and "never in the history" in n for n in fc.attrs["notes"])


def test_an_event_seen_only_at_the_edge_of_its_window_does_not_explode():
    """337 days ending 3 December saw three low-weight days of the Christmas run-up ramp; its
    coefficient used to extrapolate to 1e11 a day (benchmark, pizzaplace)."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2015-01-01", "2015-12-03")
    y = pd.Series(np.exp(np.log(2000) + rng.normal(0, 0.3, len(days))), index=days)
    fc = forecast_series(y, 28, country="US", methods=("regression",))
    assert fc["mean"].max() < 2 * y.max()
    assert any("christmas_runup_ramp" in n and "left out" in n for n in fc.attrs["notes"])


# ------------------------------------------------------------------------------------------
# calibration


def test_conformal_quantile_corrects_a_wrong_model_width():
    """2,000 replicates of 4 folds x 12 steps whose model sd is half the true one."""
    rng = np.random.default_rng(0)
    reps, n_cal, sigma = 2000, 48, 0.2
    mean = np.full(n_cal, 100.0)
    cover = {80: [], 95: []}
    for _ in range(reps):
        cal = mean * np.exp(rng.normal(0, sigma, n_cal))
        s = conformal.scores(cal, mean, 0.5 * sigma * mean, 1e-9, True)
        new = 100.0 * np.exp(rng.normal(0, sigma, 1))
        for p in cover:
            q, _ = conformal.quantile(s, p)
            lo, hi = conformal.interval(np.array([100.0]), np.array([10.0]), q, 1e-9, True)
            cover[p].append(bool(lo[0] <= new[0] <= hi[0]))
    assert 0.78 <= np.mean(cover[80]) <= 0.84
    assert 0.93 <= np.mean(cover[95]) <= 0.97


def test_intervals_are_calibrated_on_synthetic_monthly_series():
    """Held-out last year of 12 monthly series with log-normal noise (sd 0.1): pooled coverage."""
    inside = {80: [], 95: []}
    for seed in range(12):
        y = monthly_series(84, level=500 + 100 * seed, seed=100 + seed)
        fc = forecast_series(y.iloc[:72], 12, methods=FAST)
        actual = y.iloc[72:].to_numpy()
        for p in inside:
            inside[p] += list((actual >= fc[f"lo_{p}"].to_numpy()) & (actual <= fc[f"hi_{p}"].to_numpy()))
    assert 0.75 <= np.mean(inside[80]) <= 0.85
    assert 0.90 <= np.mean(inside[95]) <= 0.98


def test_campaign_total_scores_candidates_on_its_window_days_and_calibrates_its_intervals():
    """The plan step's total: forecast_regular on the campaign's season-aligned folds, scored on
    the window's days only (the lead time after the cutoff is skipped), conformal with 3 folds."""
    y = daily_series("2021-01-01", "2024-10-15")
    folds = M.backtest_folds("2024-10-15", "2024-11-01", "2024-12-31", [], "2021-01-01", rolling=3)
    assert len(folds) == 3
    ctx = Context(SPECS["D"], metric="revenue")
    tf = F.forecast_total(y, "2024-10-15", "2024-11-01", "2024-12-31", ctx, folds, ("regression", "auto_ets"))
    bt = tf.backtest
    assert set(bt["method"]) == {"regression", "auto_ets", "forecast", F.BASELINE}
    for f in folds.itertuples():
        scored = y[f.start + pd.Timedelta(days=16):f.end]  # the window's 61 days: 17 days of lead skipped
        rows = bt[bt["fold"] == f.fold]
        assert len(scored) == 61 and np.allclose(rows["actual_total"], scored.sum())
    assert bt["mase"].between(0.05, 3).all()
    assert tf.backed and any(n.startswith("Intervals: conformal, from 183 backtest errors") for n in tf.notes)
    w = tf.window
    assert w["day"].iloc[0] == pd.Timestamp("2024-11-01") and len(w) == 61
    assert (w["lo95"] <= w["lo80"]).all() and (w["lo80"] <= w["mean"]).all()
    assert (w["mean"] <= w["hi80"]).all() and (w["hi80"] <= w["hi95"]).all()


def test_api_events_are_checked_like_the_campaign_files() -> None:
    """One parser for user events: the API forms go through calendar_rules.parse_events."""
    from playbook.errors import ConfigError
    from playbook.forecasting.user_events import events_table

    t = events_table({"Spring sale": ("2025-03-10", "2025-03-16"), "Launch": "2025-01-20"})
    assert t.values.tolist() == [["Spring sale", pd.Timestamp("2025-03-10"), pd.Timestamp("2025-03-16")],
                                 ["Launch", pd.Timestamp("2025-01-20"), pd.Timestamp("2025-01-20")]]
    with pytest.raises(ConfigError, match=r"events\[0\]\.end: 2025-03-01 is before start 2025-03-10"):
        events_table({"Spring sale": ("2025-03-10", "2025-03-01")})
    with pytest.raises(ConfigError, match="overlap"):
        events_table(pd.DataFrame({"name": ["Sale", "Sale"], "start": ["2025-03-10", "2025-03-12"],
                                   "end": ["2025-03-15", "2025-03-18"]}))
