"""Tests for the plan-step additions to playbook.forecasting.calendar: event features and the season view."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from playbook.forecasting.calendar import event_features, plot_season_timeline, season_calendar


def test_black_friday_features_for_one_country():
    days = pd.date_range("2024-11-20", "2024-12-12")
    f = event_features(days, ["US"])
    bf = pd.Timestamp("2024-11-29")
    assert f.loc[bf, "black_friday"] == 1.0 and f["black_friday"].sum() == 1.0
    # ramp: 3 days before (0.25, 0.5, 0.75), 1 day after (0.5), zero on the peak itself
    assert f.loc["2024-11-26":"2024-11-30", "black_friday_ramp"].tolist() == [0.25, 0.5, 0.75, 0.0, 0.5]
    dip = f.index[f["black_friday_dip"] == 1.0]
    assert dip.min() == bf + pd.Timedelta(days=4) and dip.max() == bf + pd.Timedelta(days=10)
    assert f.loc["2024-12-02", "cyber_monday"] == 1.0
    assert f.loc["2024-11-20", "gift_season"] == 1.0
    assert "diwali" not in f.columns  # never happens in the US: dropped


def test_country_weights_scale_country_events():
    days = pd.date_range("2024-10-20", "2024-11-15")
    f = event_features(days, ["US", "IN", "CN"], weights={"US": 2, "IN": 1, "CN": 1})
    assert f.loc["2024-10-31", "diwali"] == pytest.approx(0.25)
    assert f.loc["2024-11-11", "singles_day"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no positive weight"):
        event_features(days, ["US"], weights={"GB": 1.0})


def test_empty_days_give_an_empty_frame():
    assert event_features([], ["US"]).empty


def test_season_calendar_marks_the_window_and_lead_events():
    cal = season_calendar(["IN", "US"], "2025-11-01", "2025-12-31", lead_days=30)
    diwali = cal[(cal["event"] == "diwali")]
    assert len(diwali) == 1 and not diwali["in_window"].iloc[0]
    assert diwali["date"].iloc[0] == pd.Timestamp("2025-10-20")
    bf = cal[(cal["event"] == "black_friday") & (cal["country"] == "US")]
    assert bf["in_window"].all() and bf["date"].iloc[0] == pd.Timestamp("2025-11-28")
    assert cal["date"].is_monotonic_increasing


def test_timeline_chart_handles_data_and_no_data():
    cal = season_calendar(["US", "GB"], "2025-11-01", "2025-12-31")
    fig = plot_season_timeline(cal, "2025-11-01", "2025-12-31")
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() == "date"
    empty = plot_season_timeline(cal.iloc[0:0], "2025-11-01", "2025-12-31")
    assert "No events" in " ".join(t.get_text() for t in empty.axes[0].texts)
    assert np.isfinite(ax.get_xlim()).all()
