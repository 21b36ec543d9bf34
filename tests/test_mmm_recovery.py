"""Recovery tests of the media model (issue 17, item 5): planted curves come back within tolerance.

Criterion per channel (the issue's): the marginal ROAS at mean daily spend within +/-30 % of the
truth, or the truth inside the 90 % interval; a channel with no true effect gets an interval that
reaches 0. On simulated data generated here and on the bundled sample (``data/sample``, whose
``truth.json`` holds each channel's planted curve).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from playbook.media import allocation as AL
from playbook.media import allocation_draws as AD
from playbook.media import mmm as M
from playbook.media.mmm_fit import adstock_matrix
from playbook.media.response import ResponseCurve

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TOLERANCE = 0.30
#: Bootstrap draws of the recovery fits (the issue's default).
DRAWS = 200


def recovered(truth: float, est: float, lo: float, hi: float) -> bool:
    """The issue's criterion: within +/-30 % of the truth, or the truth inside the interval."""
    return abs(est - truth) <= TOLERANCE * abs(truth) or lo <= truth <= hi


# ------------------------------------------------------------------------------------------
# (a) simulated data: 3 years daily, weekly and annual seasonality, 4 channels, one without effect
SIM_AOV = 50.0
#: channel -> (beta orders/day, kappa currency/day of adstocked spend, theta, mean daily spend)
SIM = {"search": (120.0, 900.0, 0.0, 1000.0), "social": (80.0, 1200.0, 0.6, 500.0),
       "video": (50.0, 700.0, 0.3, 600.0), "radio": (0.0, 500.0, 0.3, 400.0)}


def _sim_spend(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Flighted spend: AR(1) log-variation from day to day, with off weeks (about 1 in 6)."""
    z = np.zeros(n)
    for t in range(1, n):
        z[t] = 0.5 * z[t - 1] + rng.normal(0, 0.35)
    on = np.repeat(rng.random(n // 7 + 1) > 1 / 6, 7)[:n]
    s = np.exp(z) * on
    return s * mean / s.mean()


@functools.lru_cache(maxsize=2)
def simulated(seed: int = 7) -> tuple[pd.Series, pd.DataFrame, dict[str, float]]:
    """Daily orders, wide spend and each channel's true marginal ROAS at mean spend."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2022-01-01", periods=3 * 365, freq="D")
    n = len(days)
    t = np.arange(n)
    base = 300 * np.exp(0.05 * t / 365 + 0.15 * np.cos(2 * np.pi * (t - 330) / 365.25)
                        + np.array([0.0, -0.05, -0.05, 0.0, 0.05, 0.12, 0.08])[days.day_of_week])
    spend = pd.DataFrame({c: _sim_spend(rng, n, v[3]) for c, v in SIM.items()}, index=days)
    th = np.array([v[2] for v in SIM.values()])
    A = adstock_matrix(spend.to_numpy(float), th)
    beta = np.array([v[0] for v in SIM.values()])
    kappa = np.array([v[1] for v in SIM.values()])
    mu = base + (beta * (1 - np.exp(-A / kappa))).sum(axis=1)
    y = pd.Series(rng.negative_binomial(1000, 1000 / (1000 + mu)).astype(float), index=days)  # var mu + mu^2/1000
    ke = kappa * (1 - th)
    true = {c: float(SIM_AOV * beta[j] / ke[j] * np.exp(-spend[c].mean() / ke[j])) for j, c in enumerate(SIM)}
    return y, spend, true


@functools.lru_cache(maxsize=1)
def sim_model() -> M.MediaModel:
    y, spend, _ = simulated()
    return M.fit_media_model(y, spend, list(SIM), aov=SIM_AOV, draws=DRAWS, seed=0)


@pytest.mark.parametrize("channel", list(SIM))
def test_simulation_recovers_marginal_roas(channel):
    _, _, true = simulated()
    row = sim_model().summary().set_index("channel").loc[channel]
    est, lo, hi = row["marginal_roas"], row["marginal_roas_lo"], row["marginal_roas_hi"]
    assert recovered(true[channel], est, lo, hi), (channel, true[channel], est, lo, hi)


def test_simulation_zero_effect_channel_covers_zero_and_others_do_not():
    s = sim_model().summary().set_index("channel")
    assert s.loc["radio", "marginal_roas_lo"] == 0.0
    assert s.loc["radio", "contribution_lo"] == 0.0
    assert "not distinguishable from zero" in s.loc["radio", "warning"]
    for ch in ("search", "social", "video"):
        assert s.loc[ch, "marginal_roas_lo"] > 0, ch


def test_simulation_adstock_and_diagnostics():
    m = sim_model()
    # the strongest carry-over is found (0.6 planted for social, 0 for search)
    assert m.thetas["social"] == 0.6 and m.thetas["search"] == 0.0
    d = m.diagnostics
    assert d["r2"] > 0.8 and d["mape"] < 0.1
    assert 0.8 <= d["coverage"] <= 0.97


def test_draws_are_curves_and_bands_are_ordered():
    m = sim_model()
    draws = m.draws
    assert len(draws) == DRAWS and set(draws[0]) == set(SIM)
    c = draws[0]["social"]
    assert c.theta == m.thetas["social"] and c.mean_spend == pytest.approx(m.spend["social"].mean())
    bands = m.curve_bands(n=11)
    assert list(bands.columns) == ["channel", "spend", "estimate", "mean", "lo", "hi"]
    assert len(bands) == 11 * len(SIM)
    assert (bands["lo"] <= bands["mean"] + 1e-9).all() and (bands["mean"] <= bands["hi"] + 1e-9).all()
    first = bands[bands["spend"] == 0]
    assert (first[["estimate", "lo", "hi"]].to_numpy() == 0).all()


# ------------------------------------------------------------------------------------------
# (d) determinism
def test_same_seed_same_draws_other_seed_other_draws():
    y, spend, _ = simulated()
    a = M.fit_media_model(y, spend, list(SIM), aov=SIM_AOV, draws=8, seed=3, per_channel_theta=False)
    b = M.fit_media_model(y, spend, list(SIM), aov=SIM_AOV, draws=8, seed=3, per_channel_theta=False)
    c = M.fit_media_model(y, spend, list(SIM), aov=SIM_AOV, draws=8, seed=4, per_channel_theta=False)
    assert np.array_equal(a.draws_params, b.draws_params)
    assert a.summary().equals(b.summary())
    assert not np.array_equal(a.draws_params, c.draws_params)


# ------------------------------------------------------------------------------------------
# (b) the bundled sample, (c) calibration by the email channel's lift
def sample_truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text())


@functools.lru_cache(maxsize=1)
def sample_inputs() -> tuple[pd.Series, pd.DataFrame, dict[str, float]]:
    """Daily sale orders (all countries, UTC days), long spend table, country mix of the orders."""
    o = pd.read_parquet(SAMPLE / "orders.parquet", columns=["customer_id", "order_ts", "revenue"])
    o = o[o["revenue"] > 0]
    o["day"] = o["order_ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    y = o.groupby("day").size().astype(float)
    y = y.reindex(pd.date_range(y.index.min(), y.index.max()), fill_value=0.0)
    s = pd.read_parquet(SAMPLE / "spend.parquet", columns=["date", "channel", "spend"])
    spend = s.assign(day=pd.to_datetime(s["date"]))[["day", "channel", "spend"]]
    cust = pd.read_parquet(SAMPLE / "customers.parquet", columns=["customer_id", "country"])
    mix = o.merge(cust, on="customer_id")["country"].value_counts(normalize=True).to_dict()
    return y, spend, mix


#: Window of the email lift: the sample's campaign window.
LIFT_WINDOW = ("2025-11-01", "2025-12-31")
#: Relative standard error of the email lift (a holdout of a tenth of customers measures the
#: channel's incremental revenue to about +/-20 %).
LIFT_REL_SE = 0.2


def email_lift() -> M.Lift:
    """The email channel's true incremental revenue over :data:`LIFT_WINDOW` from the planted curve."""
    tr = sample_truth()["channels"]["email"]
    _, spend, _ = sample_inputs()
    d = spend[(spend["channel"] == "email") & spend["day"].between(*LIFT_WINDOW)].groupby("day")["spend"].sum()
    inc = float(tr["aov"] * (tr["beta"] * (1 - np.exp(-d / tr["kappa"]))).sum())
    return M.Lift("email", *LIFT_WINDOW, incremental=inc, se=LIFT_REL_SE * inc, source="planted email curve")


@functools.lru_cache(maxsize=1)
def sample_model() -> M.MediaModel:
    """The sample fitted with the email lift (``.uncalibrated``: the same fit without it).

    Revenue uses the planted average value of media-driven orders (``truth.json``'s ``aov``,
    90.87) rather than the history's 107.19, so the test measures the curves, not the AOV
    assumption (with the history's AOV every revenue figure would be 18 % higher).
    """
    y, spend, mix = sample_inputs()
    tr = sample_truth()["channels"]
    return M.fit_media_model(y, spend, list(tr), aov=tr["email"]["aov"], countries=list(mix), weights=mix,
                             lifts=[email_lift()], draws=DRAWS, seed=0)


def offers_event() -> pd.DataFrame:
    """The campaign's own offers as a user event over its window (``truth.json``'s ``campaign``).

    In November-December 2025 the sample's shop ran offers that are not media (the free-shipping
    and gift-wrap tests, ``truth.json``'s ``experiments``), and the holiday emails to 90 % of its
    customers; together they lift orders in that window only. A shop lists such promotions under
    ``events:`` in its campaign file, and the plan's and the retrospective's media models take them
    into their baseline (as the forecast does).
    """
    c = sample_truth()["campaign"]
    return pd.DataFrame({"name": ["Holiday 2025 offers"], "start": [pd.Timestamp(c["window_start"])],
                         "end": [pd.Timestamp(c["window_end"])]})


@functools.lru_cache(maxsize=1)
def sample_model_with_offers() -> M.MediaModel:
    """:func:`sample_model` with the campaign's offers in the baseline (:func:`offers_event`)."""
    y, spend, mix = sample_inputs()
    tr = sample_truth()["channels"]
    return M.fit_media_model(y, spend, list(tr), aov=tr["email"]["aov"], countries=list(mix), weights=mix,
                             events=offers_event(), lifts=[email_lift()], draws=DRAWS, seed=0)


#: Why display is the exception without the offers (measured 2026-12-03, seed 0, 200 draws): its
#: marginal ROAS comes out 1.11 [0.48, 2.12] against a planted 0.29 (beta 5.9 orders/day against
#: 1.97). Its spend is not flat (coefficient of variation 0.50) and does not follow the calendar
#: (19 % of its variance explained by the baseline), and no single quarter carries the estimate
#: (leaving any quarter out keeps it between 0.74 and 1.33). What it does is spend its most ever in
#: Q4 2025 (23.0k against 18.3k and 20.0k in Q4 2024 and 2023) while the campaign's offers lift that
#: season's orders (mean standardised residual of 10 Nov - 24 Dec: -0.24 in 2023, -0.14 in 2024,
#: +0.33 in 2025), which the model cannot tell apart from display without being told of the offers.
#: With the offers as an event display comes inside (0.93 [0.24, 1.73]) but email, whose holiday
#: emails coincide with the offers, drops to 0.34 [0, 5.09] (planted 5.19) until its holdout lift
#: calibrates it (2.59 [2.35, 5.96]). So every channel is recovered by the calibrated model with the
#: offers (the retrospective's set-up), and the plain fit recovers all but display.
PLAIN_MISSES = {"display"}


@pytest.mark.parametrize("channel", ["paid_search", "paid_social", "affiliate", "email", "display"])
def test_sample_recovers_marginal_roas(channel):
    """Every channel on the sample, with the campaign's offers in the baseline and the email lift."""
    tr = sample_truth()["channels"][channel]
    row = sample_model_with_offers().summary().set_index("channel").loc[channel]
    est, lo, hi = row["marginal_roas"], row["marginal_roas_lo"], row["marginal_roas_hi"]
    assert recovered(tr["marginal_iroas_at_mean_spend"], est, lo, hi), (channel, tr, est, lo, hi)
    # and the ROAS over the history: the planted iROAS inside its interval
    assert row["roas_lo"] <= tr["true_iroas"] <= row["roas_hi"], (channel, tr["true_iroas"], row["roas_lo"],
                                                                 row["roas_hi"])


@pytest.mark.parametrize("channel", ["paid_search", "paid_social", "affiliate", "email", "display"])
def test_sample_without_the_offers_recovers_all_but_display(channel):
    """The plain fit (no offers, no lift): display absorbs the offers' orders (:data:`PLAIN_MISSES`)."""
    tr = sample_truth()["channels"][channel]
    row = sample_model().uncalibrated.summary().set_index("channel").loc[channel]
    est, lo, hi = row["marginal_roas"], row["marginal_roas_lo"], row["marginal_roas_hi"]
    ok = recovered(tr["marginal_iroas_at_mean_spend"], est, lo, hi)
    assert bool(ok) == (channel not in PLAIN_MISSES), (channel, tr["marginal_iroas_at_mean_spend"], est, lo, hi)
    if not ok:  # overstated, not noise: the lower end of its interval above the planted value
        assert lo > tr["marginal_iroas_at_mean_spend"] and est > 2 * tr["marginal_iroas_at_mean_spend"]


def test_sample_fit_is_fast_and_picks_no_carry_over():
    m = sample_model()
    assert m.uncalibrated is not None
    # MAP + 200 draws, twice (without and with the lift): under the 60 s of the item 7
    assert m.fit_seconds < 60
    assert set(m.thetas.values()) == {0.0}  # no carry-over was planted
    assert m.diagnostics["r2"] > 0.8


def test_email_lift_narrows_email_and_still_covers_the_truth():
    m = sample_model()
    tr = sample_truth()["channels"]["email"]
    cal = m.calibration().set_index("channel").loc["email"]
    for name, truth in (("marginal_roas", tr["marginal_iroas_at_mean_spend"]), ("roas", tr["true_iroas"])):
        before = cal[f"{name}_before_hi"] - cal[f"{name}_before_lo"]
        after = cal[f"{name}_after_hi"] - cal[f"{name}_after_lo"]
        assert after < 0.8 * before, (name, before, after)
        assert cal[f"{name}_after_lo"] <= truth <= cal[f"{name}_after_hi"], (name, truth, cal)
    assert cal["lift"] == pytest.approx(email_lift().incremental)
    # the other channels barely move: calibration is about email
    assert np.isnan(m.calibration().set_index("channel").loc["paid_search", "lift"])


# ------------------------------------------------------------------------------------------
# (e) the optimiser on the sample's fitted model against the planted optimum (issue 17, item 5)
#: Season days and a flat pacing profile for the allocation tests.
SEASON_DAYS = 61
#: Per-channel season bounds wide enough that the split matters (0 to the whole total).
OPT_TOTALS = (110_000.0, 250_000.0)


def _true_curves() -> dict[str, ResponseCurve]:
    return {c: ResponseCurve(c, ceiling=v["aov"] * v["beta"], scale=v["kappa"])
            for c, v in sample_truth()["channels"].items()}


@pytest.mark.parametrize("total", OPT_TOTALS)
@pytest.mark.parametrize("calibrated", [False, True], ids=["uncalibrated", "calibrated"])
def test_allocation_on_the_sample_model_earns_within_5_percent_of_the_true_optimum(total, calibrated):
    """The split :func:`optimise_draws` picks on the fitted model's draws, valued under the planted curves,
    earns at least 95 % of the incremental revenue of the planted optimum (each channel 0 to the total)."""
    true = _true_curves()
    profile = np.full(SEASON_DAYS, 1 / SEASON_DAYS)
    bounds = dict.fromkeys(true, (0.0, total))
    best = AL.expected_revenue(true, AL.optimise_budget(true, bounds, total, profile), profile)
    m = sample_model() if calibrated else sample_model().uncalibrated
    got = AD.optimise_draws(m.draws, bounds, total, profile, objective="mean")
    earned = AL.expected_revenue(true, got.budget, profile)
    assert earned >= 0.95 * best, (total, earned / best, got.budget)
    # the criterion has teeth: an even split misses it
    assert AL.expected_revenue(true, AL.proportional_split({}, bounds, total), profile) < 0.95 * best
