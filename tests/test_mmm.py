"""The media model's API (playbook.media.mmm): inputs, lifts, errors, outputs' consistency."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from playbook.errors import ConfigError, DataError
from playbook.media import mmm as M
from playbook.media import mmm_fit as MF
from playbook.media import mmm_report as MR


@functools.lru_cache(maxsize=1)
def small() -> tuple[pd.Series, pd.DataFrame]:
    """400 days, two channels: ``a`` (beta 40 orders/day, kappa 300) and ``b`` (no effect)."""
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    spend = pd.DataFrame({"a": rng.gamma(4, 75, len(days)), "b": rng.gamma(4, 50, len(days))}, index=days)
    mu = 200 * np.exp(0.1 * np.cos(2 * np.pi * np.arange(len(days)) / 365.25)) + 40 * (1 - np.exp(-spend["a"] / 300))
    return pd.Series(rng.poisson(mu).astype(float), index=days), spend


def fit(**kw) -> M.MediaModel:
    y, spend = small()
    args = {"aov": 20.0, "draws": 20, "seed": 0, "annual_order": 1, "per_channel_theta": False, "thetas": (0.0,)}
    args.update(kw)
    return M.fit_media_model(y, spend, ["a", "b", "tv"], **args)


def test_long_and_wide_spend_give_the_same_model_and_missing_channels_are_listed():
    y, spend = small()
    long = spend.rename_axis("day").reset_index().melt("day", var_name="channel", value_name="spend")
    a = fit()
    b = M.fit_media_model(y, long, ["a", "b", "tv"], aov=20.0, draws=20, seed=0, annual_order=1,
                          per_channel_theta=False, thetas=(0.0,))
    assert a.missing == ["tv"] and a.channels == ["a", "b"]
    assert np.allclose(a.draws_params, b.draws_params)


def test_outputs_agree_with_the_curves():
    m = fit()
    s = m.summary().set_index("channel")
    c = m.curves["a"]
    assert s.loc["a", "marginal_roas"] == pytest.approx(float(c.marginal(m.spend["a"].mean())))
    assert s.loc["a", "roas"] == pytest.approx(float(c.response(m.spend["a"]).sum()) / m.spend["a"].sum())
    # the planted channel: 40 orders/day at most, marginal aov * 40/300 * exp(-mean/300)
    true = 20.0 * 40 / 300 * np.exp(-m.spend["a"].mean() / 300)
    assert s.loc["a", "marginal_roas"] == pytest.approx(true, rel=0.3)
    assert s.loc["b", "marginal_roas_lo"] == 0.0
    draws = m.draws
    assert len(draws) == 20
    assert s.loc["a", "marginal_roas_mean"] == pytest.approx(
        np.mean([float(d["a"].marginal(m.spend["a"].mean())) for d in draws]))


def test_lift_enters_the_fit_and_the_calibration_table():
    m = fit()
    y, spend = small()
    win = ("2024-06-01", "2024-06-30")
    d = spend.loc[win[0]:win[1], "a"]
    true = 20.0 * float((40 * (1 - np.exp(-d / 300))).sum())
    cal = fit(lifts=[M.Lift("a", *win, incremental=true, se=0.05 * true)])
    assert cal.uncalibrated is not None and cal.lifts[0].channel == "a"
    t = cal.calibration().set_index("channel")
    assert t.loc["a", "lift"] == pytest.approx(true)
    width = t["roas_after_hi"] - t["roas_after_lo"]
    assert width["a"] < t.loc["a", "roas_before_hi"] - t.loc["a", "roas_before_lo"]
    # the model's contribution of "a" over the window now sits near the lift
    c = cal.curves["a"]
    inside = (spend.index >= win[0]) & (spend.index <= win[1])
    assert float(c.response_over_time(spend["a"])[inside].sum()) == pytest.approx(true, rel=0.1)
    assert m.calibration()["lift"].isna().all()


def test_lift_from_holdout_reads_an_incrementality_row():
    row = {"channel": "email", "experiment_id": "xmas_email_holdout", "incremental_revenue": 1000.0,
           "incremental_revenue_lo": 608.0, "incremental_revenue_hi": 1392.0}
    lf = M.lift_from_holdout(row, "2025-11-01", "2025-12-31")
    assert lf.se == pytest.approx(200.0, rel=1e-3) and lf.unit == "revenue" and lf.source == "xmas_email_holdout"


@pytest.mark.parametrize("kw, err, words", [
    ({"se": 0.0}, ConfigError, "standard error must be positive"),
    ({"unit": "clicks"}, ConfigError, "Choose from"),
    ({"start": "2024-02-01", "end": "2024-01-01"}, ConfigError, "ends"),
])
def test_bad_lifts_are_refused(kw, err, words):
    args = {"channel": "a", "start": "2024-01-01", "end": "2024-01-31", "incremental": 10.0, "se": 1.0}
    args.update(kw)
    with pytest.raises(err, match=words):
        M.Lift(**args)


def test_bad_inputs_say_what_is_wrong():
    y, spend = small()
    with pytest.raises(ConfigError, match="outside the history"):
        fit(lifts=[M.Lift("a", "2030-01-01", "2030-01-31", 10.0, 1.0)])
    with pytest.raises(ConfigError, match="no spend"):
        fit(lifts=[M.Lift("tv", "2024-06-01", "2024-06-30", 10.0, 1.0)])
    with pytest.raises(DataError, match="consecutive days"):
        M.fit_media_model(y.drop(y.index[10]), spend, ["a"], aov=20.0, draws=2)
    with pytest.raises(DataError, match="has spend"):
        M.fit_media_model(y, spend, ["tv"], aov=20.0, draws=2)
    with pytest.raises(ConfigError, match="average order value"):
        M.fit_media_model(y, spend, ["a"], aov=0.0, draws=2)


def test_identifiability_warnings_name_the_reason():
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    rng = np.random.default_rng(0)
    a = rng.gamma(4, 25, len(days))
    spend = pd.DataFrame({"flat": np.full(len(days), 100.0) + rng.normal(0, 1, len(days)),
                          "a": a, "twin": a * 2 + rng.normal(0, 1, len(days))}, index=days)
    Xc = np.column_stack([np.ones(len(days)), np.arange(len(days)) / 365])
    summ = pd.DataFrame({"channel": ["flat", "a", "twin"], "marginal_roas_lo": [0.0, 0.5, 0.1],
                         "marginal_roas_hi": [1.0, 0.7, 3.0], "marginal_roas_mean": [0.3, 0.6, 1.0]})
    w = MR.identifiability_warnings(spend, spend.to_numpy(), Xc, summ)
    assert any("barely varies" in x for x in w["flat"]) and any("not distinguishable" in x for x in w["flat"])
    assert any("moves with twin" in x for x in w["a"]) and not any("wide" in x for x in w["a"])
    assert any("very wide" in x for x in w["twin"])


def test_block_bootstrap_indices_are_runs_of_days():
    idx = MF.block_indices(100, 14, np.random.default_rng(0))
    assert len(idx) == 100 and idx.min() >= 0 and idx.max() < 100
    assert (np.diff(idx[:14]) == 1).all()
