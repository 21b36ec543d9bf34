"""The plan step's campaign forecast follows the rules of forecast_series (issue 16 items 1, 2, 6):
user events of the campaign file are features, fewer than three folds give the documented robust
default with widened (not calibrated) intervals, and the country breakdown's intervals add up to
the total's.

The warehouse is replaced by synthetic daily sales (``daily_sales`` patched in
:mod:`playbook.forecasting.forecast`) with known effects, so the recovered values can be checked.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from playbook.forecasting import forecast as F
from playbook.forecasting import series as S
from playbook.forecasting.candidates import DEFAULT_ENSEMBLE

#: Country shares of the synthetic shop.
SHARES = {"US": 0.7, "GB": 0.3}
#: The shop's own spring sale: every day of each occurrence sells SALE_LIFT times a normal day.
SALE_LIFT = 2.0
SALE = [("2022-03-14", "2022-03-20"), ("2023-03-13", "2023-03-19"), ("2024-03-11", "2024-03-17"),
        ("2025-03-24", "2025-03-30")]  # later than usual: a yearly season cannot foresee it
EVENTS = [{"name": "Spring sale", "start": a, "end": b} for a, b in SALE]
WINDOW = ("2025-03-01", "2025-03-31")
CUTOFF = "2025-02-14"


def _level(days: pd.DatetimeIndex) -> np.ndarray:
    """Expected orders per day: weekly pattern, a mild annual wave and the sale."""
    dow = np.array([0.0, -0.1, -0.1, 0.0, 0.1, 0.3, 0.2])[days.day_of_week]
    annual = 0.15 * np.sin(2 * np.pi * days.day_of_year / 365.25)
    sale = np.zeros(len(days), dtype=bool)
    for a, b in SALE:
        sale |= (days >= pd.Timestamp(a)) & (days <= pd.Timestamp(b))
    return 300.0 * np.exp(dow + annual + np.log(SALE_LIFT) * sale)


@functools.cache
def _by_country(first: str) -> pd.DataFrame:
    days = pd.date_range(first, "2025-12-31", freq="D")
    rng = np.random.default_rng(7)
    rows = []
    for c, share in SHARES.items():
        orders = rng.poisson(share * _level(days)).astype(float)
        rows.append(pd.DataFrame({"day": days, "country": c, "orders": orders, "revenue": 40.0 * orders}))
    return pd.concat(rows, ignore_index=True)


def _fake_daily_sales(first: str):
    """A stand-in for :func:`playbook.data.aggregates.daily_sales` over the synthetic shop."""

    def daily_sales(wh, start, end, by=()):
        d = _by_country(first)
        d = d[(d["day"] >= pd.Timestamp(start)) & (d["day"] <= pd.Timestamp(end))]
        if tuple(by) == ("country",):
            return d.reset_index(drop=True)
        t = d.groupby("day", as_index=False)[["orders", "revenue"]].sum()
        return pd.concat([t.assign(category=k, orders=t["orders"] * s, revenue=t["revenue"] * s)
                          for k, s in (("toys", 0.6), ("books", 0.4))], ignore_index=True)

    return daily_sales


def _campaign(monkeypatch, first: str, events=EVENTS, seasons=(), **kw) -> F.CampaignForecast:
    monkeypatch.setattr(F, "daily_sales", _fake_daily_sales(first))
    return F.forecast_campaign(None, list(SHARES), first, CUTOFF, *WINDOW, seasons, events=events, **kw)


SPRING = [("spring-2023", "2023-03-01", "2023-03-31"), ("spring-2024", "2024-03-01", "2024-03-31")]


@pytest.fixture(scope="module")
def planted():
    """Three years of history, two past springs and two rolling folds: four folds."""
    mp = pytest.MonkeyPatch()
    try:
        yield _campaign(mp, "2022-01-01", seasons=SPRING, metrics=("orders",))
    finally:
        mp.undo()


def test_a_campaign_file_event_is_a_feature_of_the_campaign_forecast(planted):
    cf = planted
    assert cf.backtest["fold"].nunique() == 4 and F.backtest_numbers(cf, "orders")["backed"] is True
    eff = cf.effects.set_index(["series", "feature"])["multiplier"]
    for series in ("total", "US", "GB"):  # the event has no countries: every series gets it
        assert eff[(series, "event:Spring sale")] == pytest.approx(SALE_LIFT, rel=0.08)
    # the forecast itself carries the sale: the sale week against the same weekdays a week earlier
    t = cf.total("orders").set_index("day")["mean"]
    lift = t["2025-03-24":"2025-03-30"].sum() / t["2025-03-17":"2025-03-23"].sum()
    assert lift == pytest.approx(SALE_LIFT, rel=0.1)
    assert not any("own event" in n for n in cf.notes)


def test_without_the_event_the_forecast_misses_the_sale(monkeypatch):
    """The check above can fail: without ``events`` the sale week is not lifted."""
    cf = _campaign(monkeypatch, "2022-01-01", events=None, seasons=SPRING, metrics=("orders",), breakdowns=False)
    t = cf.total("orders").set_index("day")["mean"]
    assert t["2025-03-24":"2025-03-30"].sum() / t["2025-03-17":"2025-03-23"].sum() < 1.3


def test_country_breakdown_adds_up_and_carries_the_totals_calibration(planted):
    """Country means add up to the total; each country's interval is the total's normalised
    conformal quantile on the country's own noise: wider (relative to its mean) for the smaller
    country than for the total, and on the held-out window it holds about its level."""
    cf = planted
    fc = cf.forecast
    t = cf.total("orders").set_index("day")
    cols = ["mean", "lo80", "hi80", "lo95", "hi95"]
    country = fc[(fc["metric"] == "orders") & (fc["dimension"] == "country")]
    np.testing.assert_allclose(country.groupby("day")["mean"].sum(), t["mean"], rtol=1e-9)
    category = fc[(fc["metric"] == "orders") & (fc["dimension"] == "category")].groupby("day")[cols].sum()
    np.testing.assert_allclose(category.to_numpy(), t.loc[category.index, cols].to_numpy(), rtol=1e-9)
    assert any(n.startswith("orders (total): Intervals: conformal") for n in cf.notes)
    gb = country[country["value"] == "GB"].set_index("day")
    rel = lambda f: ((f["hi80"] - f["lo80"]) / f["mean"]).mean()  # noqa: E731
    assert rel(gb) > 1.3 * rel(t)  # GB's 30 % of the volume: Poisson noise ~1.8 times the total's, relative
    actual = _by_country("2022-01-01").set_index(["day", "country"])["orders"]
    inside = {k: [] for k in (80, 95)}
    for c, g in country.groupby("value"):
        a = actual.xs(c, level="country").reindex(g["day"]).to_numpy()
        for k in inside:
            inside[k] += list((a >= g[f"lo{k}"].to_numpy()) & (a <= g[f"hi{k}"].to_numpy()))
    assert 0.65 <= np.mean(inside[80]) <= 0.97 and np.mean(inside[95]) >= 0.85
    # the GB share follows its history (0.3), not a copy of the total
    assert (gb["mean"] / t.loc[gb.index, "mean"]).mean() == pytest.approx(SHARES["GB"], abs=0.03)


def test_one_fold_gives_the_robust_default_with_widened_intervals(monkeypatch):
    """15 months of history: only the rolling-1 fold has a year before it. One window is no
    evidence to choose on, so the equal-weight default of forecast_series is used, its
    intervals are the models' own widened by series.WIDEN, and the notes say both."""
    cf = _campaign(monkeypatch, "2023-11-01", metrics=("orders",), breakdowns=False)
    assert set(cf.backtest["fold"]) == {"rolling-1"}
    assert cf.model == {"orders": "+".join(DEFAULT_ENSEMBLE)}
    assert cf.weights["orders"] == {m: pytest.approx(1 / 3) for m in DEFAULT_ENSEMBLE}
    n = F.backtest_numbers(cf, "orders")
    assert n["folds"] == 1 and n["backed"] is False
    assert any(s.startswith("orders (total): Only 1 backtest fold(s) fit in the history") and
               "not backed by a backtest" in s for s in cf.notes)
    assert any(s.startswith(f"orders (total): Intervals: the models' own, widened {S.WIDEN:g} times")
               for s in cf.notes)
    assert not any("conformal" in s for s in cf.notes)
    # the 'forecast' backtest row is the combined forecast of the fold, scored on the window's days only
    bt = cf.backtest.set_index("method")
    y = _by_country("2023-11-01").groupby("day")["orders"].sum()
    assert bt.loc["forecast", "actual_total"] == pytest.approx(y["2025-01-15":"2025-02-14"].sum())
    # the mean of the members errs by no more than the members' mean error (same fold, same scale)
    assert bt.loc["forecast", "mase"] <= bt.loc[list(DEFAULT_ENSEMBLE), "mase"].mean() + 1e-12


def test_plan_run_forecast_passes_the_campaign_files_events(monkeypatch):
    seen = {}

    def fake(*a, **k):
        seen.update(k)
        return SimpleNamespace(notes=[])

    from playbook.steps import plan as plan_step

    monkeypatch.setattr(F, "forecast_campaign", fake)
    cfg = SimpleNamespace(countries=["US"], season=SimpleNamespace(start="2025-11-01", end="2025-12-31"),
                          events=EVENTS, comparison_seasons=[])
    monkeypatch.setattr(plan_step, "past_seasons", lambda c: [])
    cf = plan_step.run_forecast(None, cfg, SimpleNamespace(start="2023-01-01", cutoff="2025-10-15"))
    assert seen["events"] is EVENTS and cf.notes == []
