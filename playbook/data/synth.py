"""Deterministic synthetic retail data with planted ground truth.

:func:`generate` writes every canonical table of :mod:`playbook.data.contract` as Parquet plus
``truth.json`` (everything that was planted) and ``truth_customers.parquet`` (per-customer planted
values). Same arguments -> byte-identical files. Everything is vectorised numpy/pyarrow: no Python
loop runs over customers, orders or events (loops run over countries, archetypes, days-free
campaign lists, experiments and chunks of customers only).

Memory: per-account parameters and the customers/products/spend/assignments tables are built
for all accounts at once; orders, order items, events, messages and touches are generated per
chunk of ``chunk_customers`` accounts (child seed per chunk) and streamed to Parquet row groups,
so 1,000,000 customers need about 1.5 GiB (see ``benchmarks/bench_synth.py``).

What is planted (details and numbers in ``truth.json``):

* **Demand**: weekday multipliers, an annual cycle, a growth trend and retail-event peaks per
  country (:mod:`playbook.forecasting.calendar` dates), a post-Black-Friday dip. Purchase times of the
  buy-till-you-die process are *time-warped* through each country's cumulative demand curve,
  so the number of purchases per customer follows BG/NBD exactly in "operational time" (one
  operational week = one calendar week on average over the whole period) while daily totals
  show the calendar effects.
* **Customers**: archetypes with BG/NBD (Fader, Hardie & Lee 2005) purchase/dropout parameters
  and Gamma-Gamma (Fader, Hardie & Lee 2005b) spend; signups over time; consent; erasure.
* **Orders** (web/app/store), order items with co-purchase clusters, promo codes, refunds as
  separate ``R``-prefixed rows with negative revenue.
* **Media**: daily spend per paid channel, incremental orders from a saturating response curve
  ``beta * (1 - exp(-spend / kappa))`` per channel (additive to the customer process).
* **Touches** (multi-touch paths) from a known incremental conversion model in which
  ``direct`` and ``paid_search`` tend to come last without causing much.
* **Experiments** in the 2025 campaign window with known true lift, an A/A test and an email
  holdout.
* **Data-quality defects** at exact counts (``truth["defects"]``, computed from the written
  tables with the definitions in :data:`DEFECT_DEFINITIONS`).

Approximations: all times are UTC (no local time zones); the email/free-shipping experiment
effects and media-driven orders come on top of the BG/NBD process, so ``p_buy_window`` in
``truth_customers.parquet`` is the BG/NBD-only probability. Non-converting touch journeys are
sampled per chunk, in proportion to the chunk's converting journeys.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.special import hyp2f1

from playbook.data.contract import PAID_CHANNELS, TABLES, TOUCH_CHANNELS
from playbook.errors import ConfigError
from playbook.forecasting import calendar
from playbook.paths import resolve

US_PER_DAY = 86_400 * 1_000_000
EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

COUNTRIES: dict[str, float] = {"US": 0.35, "GB": 0.15, "DE": 0.15, "IN": 0.15, "AE": 0.08, "CN": 0.12}
PHONE_PREFIX: dict[str, str] = {"US": "1", "GB": "44", "DE": "49", "IN": "91", "AE": "971", "CN": "86"}
ORDER_CHANNEL_MIX: dict[str, tuple[float, float, float]] = {  # web, app, store
    "US": (0.55, 0.25, 0.20),
    "GB": (0.55, 0.25, 0.20),
    "DE": (0.50, 0.20, 0.30),
    "IN": (0.35, 0.55, 0.10),
    "AE": (0.45, 0.35, 0.20),
    "CN": (0.20, 0.75, 0.05),
}

#: Product categories: (number of co-purchase clusters, min price, max price).
CATEGORIES: dict[str, tuple[int, float, float]] = {
    "electronics": (4, 25.0, 1200.0),
    "fashion": (5, 12.0, 250.0),
    "beauty": (4, 5.0, 90.0),
    "home": (4, 8.0, 400.0),
    "toys": (4, 6.0, 150.0),
    "books": (3, 5.0, 45.0),
    "grocery": (3, 2.0, 35.0),
    "sports": (4, 10.0, 300.0),
}
PRODUCTS_PER_CLUSTER = 10
GIFT_WRAP_PRICE = 7.5

#: Archetypes. Rates are per (operational) week. ``affinity`` weights the categories in
#: :data:`CATEGORIES` order. ``profile``: demand curve the purchase times follow.
ARCHETYPES: dict[str, dict[str, Any]] = {
    "loyal_high_value": dict(share=0.07, r=6.0, alpha=20.0, a=1.0, b=30.0, spend=150.0, promo=0.10,
                             open=(6, 6), click=0.25, browse=0.15, refund=0.03, profile="normal",
                             affinity=(3, 2, 2, 2, 1, 1, 1, 2)),
    "regular": dict(share=0.23, r=3.0, alpha=25.0, a=1.0, b=12.0, spend=80.0, promo=0.15,
                    open=(3, 6), click=0.15, browse=0.06, refund=0.04, profile="normal",
                    affinity=(1, 2, 2, 2, 1, 1, 2, 1)),
    "bargain_hunter": dict(share=0.15, r=2.0, alpha=18.0, a=1.0, b=10.0, spend=45.0, promo=0.60,
                           open=(3, 5), click=0.20, browse=0.10, refund=0.06, profile="bargain",
                           affinity=(2, 3, 2, 1, 1, 1, 2, 1)),
    "seasonal_gift_buyer": dict(share=0.12, r=3.0, alpha=35.0, a=1.0, b=15.0, spend=110.0,
                                promo=0.20, open=(2, 6), click=0.12, browse=0.02, refund=0.05,
                                profile="seasonal", affinity=(2, 1, 2, 1, 3, 2, 0.5, 1)),
    "one_time": dict(share=0.15, r=1.0, alpha=50.0, a=3.0, b=3.0, spend=60.0, promo=0.25,
                     open=(1, 8), click=0.08, browse=0.02, refund=0.05, profile="normal",
                     affinity=(1, 1, 1, 1, 1, 1, 1, 1)),
    "browser": dict(share=0.15, r=0.5, alpha=100.0, a=1.0, b=5.0, spend=50.0, promo=0.20,
                    open=(2, 8), click=0.10, browse=0.25, refund=0.04, profile="normal",
                    affinity=(3, 3, 1, 1, 1, 1, 0.5, 1)),
    "lapsed": dict(share=0.13, r=2.0, alpha=20.0, a=3.0, b=4.0, spend=70.0, promo=0.15,
                   open=(1, 9), click=0.06, browse=0.015, refund=0.05, profile="normal",
                   affinity=(1, 2, 1, 2, 1, 1, 2, 1)),
}
PROFILES: tuple[str, ...] = ("normal", "bargain", "seasonal")
GG_P = 4.0  # Gamma-Gamma shape of a single order's value
GG_Q = 6.0  # Gamma-Gamma shape of the customer's rate nu

WEEKDAY = (0.97, 0.93, 0.93, 0.97, 1.05, 1.10, 1.05)  # Mon..Sun, mean 1
ANNUAL_AMPLITUDE = 0.12  # 1 + A cos(2 pi (doy - peak) / 365.25)
ANNUAL_PEAK_DOY = 335
TREND_PER_YEAR = 0.08

#: Event peaks: multiplier on the event day per country, and the shape (linear ramp over
#: ``before`` days to the peak and back to 1 over ``after`` days). Christmas run-up is anchored
#: on 20 December; ``christmas_day`` is a dip on 24-25 December.
EVENT_EFFECTS: dict[str, dict[str, float]] = {
    "black_friday": {"US": 3.0, "GB": 2.6, "DE": 2.2, "IN": 1.4, "AE": 1.6, "CN": 1.3},
    "cyber_monday": {"US": 2.2, "GB": 1.8, "DE": 1.6, "IN": 1.2, "AE": 1.3, "CN": 1.15},
    "christmas_runup": {"US": 1.6, "GB": 1.7, "DE": 1.7, "IN": 1.1, "AE": 1.15, "CN": 1.05},
    "christmas_day": {"US": 0.45, "GB": 0.45, "DE": 0.5, "IN": 0.9, "AE": 0.9, "CN": 0.95},
    "post_black_friday_dip": {c: 0.85 for c in COUNTRIES},
    "diwali": {"IN": 2.5},
    "eid_al_fitr": {"AE": 2.0},
    "singles_day": {"CN": 3.5},
    "valentines_day": {c: 1.25 for c in COUNTRIES},
    "mothers_day": {c: 1.2 for c in COUNTRIES},
    "back_to_school": {"US": 1.15, "GB": 1.1, "DE": 1.1, "IN": 1.1},
}
EVENT_SHAPES: dict[str, dict[str, Any]] = {
    "black_friday": dict(anchor="black_friday", offset=0, before=2, after=1),
    "cyber_monday": dict(anchor="cyber_monday", offset=0, before=1, after=0),
    "christmas_runup": dict(anchor="christmas", offset=-5, before=19, after=3),
    "christmas_day": dict(anchor="christmas", offset=0, before=1, after=0),
    "post_black_friday_dip": dict(anchor="black_friday", offset=7, before=3, after=3, flat=True),
    "diwali": dict(anchor="diwali", offset=0, before=10, after=1),
    "eid_al_fitr": dict(anchor="eid_al_fitr", offset=0, before=7, after=1),
    "singles_day": dict(anchor="singles_day", offset=0, before=2, after=0),
    "valentines_day": dict(anchor="valentines_day", offset=0, before=3, after=0),
    "mothers_day": dict(anchor="mothers_day", offset=0, before=4, after=0),
    "back_to_school": dict(anchor="back_to_school", offset=0, before=14, after=7),
}
#: Promo-code stem used on the days of an event (peak multiplier > 1.3).
EVENT_PROMO = {"black_friday": "BF", "cyber_monday": "CYBER", "christmas_runup": "XMAS",
               "diwali": "DIWALI", "eid_al_fitr": "EID", "singles_day": "1111",
               "valentines_day": "LOVE"}
SEASONAL_BOOST = (8.0, 0.3)  # seasonal gift buyers: multiplier inside / outside gift seasons
BARGAIN_POWER = 1.6  # bargain hunters: event multipliers raised to this power

#: Paid channels: base daily spend per 20k customers, response saturation scale kappa as a
#: multiple of base spend, and the true incremental ROAS planted at the base spend level.
MEDIA: dict[str, dict[str, float]] = {
    "paid_search": dict(base=360.0, kappa=1.0, iroas=3.0, cpm=12.0, ctr=0.040),
    "paid_social": dict(base=240.0, kappa=0.8, iroas=1.8, cpm=7.0, ctr=0.012),
    "display": dict(base=150.0, kappa=0.6, iroas=0.8, cpm=3.0, ctr=0.004),
    "affiliate": dict(base=90.0, kappa=1.5, iroas=2.2, cpm=5.0, ctr=0.010),
    "email": dict(base=25.0, kappa=2.0, iroas=6.0, cpm=0.5, ctr=0.030),
}
PLANNED_AOV = 75.0

#: Touch model: conversion of a journey with channel set S is
#: ``1 - (1 - base) * prod_{c in S} (1 - weight_c)``; ``exposure`` is how often a channel is in
#: a journey; ``stage`` orders touches in a path (higher = later; direct/paid_search come last).
TOUCH_BASE_CONVERSION = 0.20
TOUCH_MODEL: dict[str, dict[str, float]] = {
    "email": dict(weight=0.25, exposure=0.35, stage=3.0),
    "paid_search": dict(weight=0.20, exposure=0.50, stage=4.0),
    "paid_social": dict(weight=0.15, exposure=0.35, stage=1.0),
    "affiliate": dict(weight=0.12, exposure=0.10, stage=2.0),
    "organic": dict(weight=0.08, exposure=0.40, stage=2.5),
    "display": dict(weight=0.05, exposure=0.40, stage=0.0),
    "direct": dict(weight=0.02, exposure=0.70, stage=5.0),
}
UTM: dict[str, tuple[str | None, str | None]] = {
    "paid_search": ("google", "cpc"), "paid_social": ("facebook", "paid_social"),
    "display": ("dv360", "display"), "affiliate": ("awin", "affiliate"),
    "email": ("newsletter", "email"), "organic": (None, None), "direct": (None, None),
}

DEFECT_RATES: dict[str, float] = {
    "duplicate_email": 0.012, "duplicate_phone": 0.008, "invalid_email": 0.005,
    "missing_email": 0.02, "missing_phone": 0.15, "missing_first_name": 0.03,
    "missing_birth_year": 0.10, "missing_gender": 0.08, "erased": 0.005,
    "events_before_signup": 0.003, "refunds": 0.045,
}
DEFECT_DEFINITIONS: dict[str, str] = {
    "duplicate_email": "customer rows with non-null, non-blank normalised email (strip+lower) minus distinct normalised emails",
    "duplicate_phone": "customer rows with non-null, non-blank normalised phone (keep leading '+', drop other non-digits) minus distinct normalised phones",
    "invalid_email": f"non-null, non-blank emails failing {EMAIL_REGEX} after strip+lower",
    "missing_email": "email null or blank", "missing_phone": "phone null or blank",
    "missing_first_name": "first_name null or blank", "missing_birth_year": "birth_year null",
    "missing_gender": "gender null or blank", "erased": "erased_at not null",
    "events_before_signup": "events with event_ts < the customer's signup_ts",
    "refunds": "orders with revenue < 0",
}
FIRST_NAMES = np.array(
    ["Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Mia", "James",
     "Amelia", "Lucas", "Harper", "Mateo", "Ella", "Leon", "Hannah", "Finn", "Lena", "Paul",
     "Aarav", "Diya", "Vivaan", "Ananya", "Arjun", "Saanvi", "Omar", "Fatima", "Ahmed", "Layla",
     "Yusuf", "Mariam", "Wei", "Li", "Jing", "Hao", "Xin", "Yan", "George", "Isla"], dtype=object)

Progress = Callable[[str], None] | None


# --------------------------------------------------------------------------------------------
# BG/NBD reference helpers (used by CLV tests)
# --------------------------------------------------------------------------------------------
def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T: float | np.ndarray,
                   seed: int = 0) -> pd.DataFrame:
    """Simulate ``n`` customers from the BG/NBD model (Fader, Hardie & Lee 2005).

    Each customer makes a first purchase at time 0, then repeat purchases as a Poisson process
    with rate ``lambda ~ Gamma(r, scale=1/alpha)``; after each repeat purchase they drop out with
    probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha : float
        Gamma shape and rate of the purchase rate (per time unit, e.g. weeks).
    a, b : float
        Beta parameters of the dropout probability.
    T : float or array of shape (n,)
        Observation length per customer since the first purchase (same time unit).
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``frequency`` (repeat purchases in (0, T]), ``recency`` (time of the last repeat purchase,
        0 when none) and ``T``.
    """
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    m = rng.poisson(lam * T_arr)
    j = rng.geometric(p)
    x = np.minimum(m, j)
    # The x-th smallest of m uniforms on (0, T) is T * Beta(x, m - x + 1).
    rec = np.zeros(n)
    has = x > 0
    rec[has] = T_arr[has] * rng.beta(x[has], m[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype(np.int64), "recency": rec, "T": T_arr})


def bgnbd_expected_frequency(t: float | np.ndarray, r: float, alpha: float, a: float,
                             b: float) -> float | np.ndarray:
    """Expected repeat purchases in (0, t] for a random customer (FHL 2005, eq. 9).

    ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))]``.

    Raises
    ------
    ValueError
        If ``a <= 1`` (the closed form needs ``a > 1``).
    """
    if a <= 1:
        raise ValueError(f"bgnbd_expected_frequency needs a > 1, got a={a}")
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    out = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _ids(prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as a pyarrow string array (``valid`` False -> null).

    Numbers below ``10**width`` are formatted with numpy digit arithmetic straight into one
    fixed-width byte buffer (no Python strings); larger numbers fall back to pyarrow compute,
    which gives the same text (``lpad`` never truncates, so ids stay unique either way).
    """
    nums = np.asarray(numbers, dtype=np.int64)
    n = len(nums)
    head = prefix.encode("ascii")
    rec = len(head) + width
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    if n and (nums.min() < 0 or nums.max() >= 10**width or n * rec >= 2**31):
        digits = pc.utf8_lpad(pc.cast(pa.array(nums), pa.string()), width=width, padding="0")
        out = pc.binary_join_element_wise(prefix, digits, "")
        return out if mask is None else pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), out)
    buf = np.empty((n, rec), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = nums.copy()
    for j in range(rec - 1, len(head) - 1, -1):
        buf[:, j] = rest % 10 + 48
        rest //= 10
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(rec)
    validity, nulls = None, 0
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
        nulls = int(mask.sum())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(buf)],
                                 null_count=nulls)


def _width(n: int) -> int:
    return max(6, len(str(max(int(n), 1))))


def _us(days: np.ndarray, origin_us: int) -> np.ndarray:
    """Float days since ``origin`` -> int64 microseconds since the epoch (as written)."""
    return origin_us + np.round(np.asarray(days, dtype=float) * US_PER_DAY).astype(np.int64)


def _ts(days: np.ndarray, origin_us: int, valid: np.ndarray | None = None) -> pa.Array:
    """Float days since ``origin`` -> pyarrow timestamp('us', UTC); ``valid`` False -> null."""
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(_us(days, origin_us), type=pa.timestamp("us", tz="UTC"), mask=mask)


def _take(arr: np.ndarray, idx: np.ndarray) -> pa.Array:
    """Small object vocabulary ``arr`` indexed by ``idx`` -> pyarrow string array (None -> null)."""
    dict_arr = pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(list(arr), pa.string()))
    return dict_arr.cast(pa.string())


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within runs of equal, sorted ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def _hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time of day (fraction of a day) for orders/sessions: evening-heavy profile (UTC)."""
    w = np.array([1, .6, .4, .3, .3, .4, .8, 1.5, 2.2, 2.6, 2.8, 3.0, 3.2, 3.0, 2.9, 2.9, 3.0,
                  3.3, 3.8, 4.3, 4.5, 4.0, 3.0, 1.8])
    h = rng.choice(24, size=n, p=w / w.sum())
    return (h + rng.random(n)) / 24.0


# --------------------------------------------------------------------------------------------
# Demand curves
# --------------------------------------------------------------------------------------------
def _event_curve(event: str, country: str, days: pd.DatetimeIndex) -> np.ndarray:
    """Multiplicative effect of ``event`` in ``country`` on each day of ``days`` (1 = none)."""
    out = np.ones(len(days))
    mult = EVENT_EFFECTS[event].get(country)
    if mult is None:
        return out
    shape = EVENT_SHAPES[event]
    day0 = days[0]
    for year in sorted(set(days.year)):
        anchor = calendar.event_date(shape["anchor"], country, year)
        if anchor is None:
            continue
        peak = (pd.Timestamp(anchor) - day0).days + shape["offset"]
        for k in range(-shape["before"], shape["after"] + 1):
            i = peak + k
            if not 0 <= i < len(days):
                continue
            if shape.get("flat"):
                weight = 1.0
            elif k < 0:
                weight = 1 - (-k) / (shape["before"] + 1)
            else:
                weight = 1 - k / (shape["after"] + 1)
            out[i] *= 1 + (mult - 1) * weight
    return out


def _gift_season(country: str, days: pd.DatetimeIndex) -> np.ndarray:
    """True on gift-season days: 10 Nov - 24 Dec, plus Diwali (IN) / Singles' Day (CN) run-ups."""
    md = days.month * 100 + days.day
    season = (md >= 1110) & (md <= 1224)
    anchor = {"IN": ("diwali", 14), "CN": ("singles_day", 10), "AE": ("eid_al_fitr", 10)}.get(country)
    if anchor:
        for year in sorted(set(days.year)):
            d = calendar.event_date(anchor[0], country, year)
            if d is not None:
                delta = (days - pd.Timestamp(d)).days
                season |= (delta >= -anchor[1]) & (delta <= 0)
    return np.asarray(season)


def demand_curves(start: str, end: str) -> dict[str, Any]:
    """Planted daily demand multipliers per country and profile.

    Returns
    -------
    dict
        ``days`` (DatetimeIndex), ``base[country]`` (weekday x annual x trend x events, shape
        (n_days,)), ``curves[(country, profile)]`` normalised to mean 1 over the period, and
        ``events[country]`` (product of event effects only).
    """
    days = pd.date_range(start, end, freq="D")
    dow = np.asarray(days.day_of_week)
    doy = np.asarray(days.day_of_year)
    t_years = np.arange(len(days)) / 365.25
    weekday = np.asarray(WEEKDAY)[dow]
    annual = 1 + ANNUAL_AMPLITUDE * np.cos(2 * np.pi * (doy - ANNUAL_PEAK_DOY) / 365.25)
    trend = (1 + TREND_PER_YEAR) ** t_years
    base, curves, events = {}, {}, {}
    for country in COUNTRIES:
        ev = np.ones(len(days))
        for event in EVENT_EFFECTS:
            ev *= _event_curve(event, country, days)
        events[country] = ev
        base[country] = weekday * annual * trend * ev
        season = np.where(_gift_season(country, days), *SEASONAL_BOOST)
        raw = {
            "normal": base[country],
            "bargain": weekday * annual * trend * ev**BARGAIN_POWER,
            "seasonal": base[country] * season,
        }
        for profile, curve in raw.items():
            curves[(country, profile)] = curve / curve.mean()
    return {"days": days, "base": base, "curves": curves, "events": events}


# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------
def _products(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """~300 products in co-purchase clusters, sorted by (cluster, price); last one is gift wrap."""
    cats, clusters, prices = [], [], []
    cluster_id = 0
    for ci, (n_cl, lo, hi) in enumerate(CATEGORIES.values()):
        for _ in range(n_cl):
            p = np.exp(rng.uniform(np.log(lo), np.log(hi), PRODUCTS_PER_CLUSTER))
            prices.append(np.sort(np.round(p, 2)))
            cats.append(np.full(PRODUCTS_PER_CLUSTER, ci))
            clusters.append(np.full(PRODUCTS_PER_CLUSTER, cluster_id))
            cluster_id += 1
    price = np.concatenate(prices)
    cat = np.concatenate(cats)
    cluster = np.concatenate(clusters)
    names = np.array([f"{list(CATEGORIES)[c].capitalize()} item {i + 1:03d}"
                      for i, c in enumerate(cat)] + ["Gift wrap service"], dtype=object)
    popularity = rng.zipf(1.6, len(price)).clip(1, 50).astype(float)  # within-cluster popularity
    return {
        "price": np.r_[price, GIFT_WRAP_PRICE],
        "category": np.r_[cat, len(CATEGORIES)],
        "cluster": np.r_[cluster, -1],
        "name": names,
        "popularity": np.r_[popularity, 0.0],
        "n_clusters": np.int64(cluster_id),
        "cluster_category": np.array([c for c, (n, _, _) in enumerate(CATEGORIES.values())
                                      for _ in range(n)]),
        "gift_wrap": np.int64(len(price)),
    }


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------
def _customers(rng: np.random.Generator, n: int, n_days: int, prod: dict) -> dict[str, np.ndarray]:
    """Accounts (people + planted duplicate accounts) with planted parameters."""
    n_dup_e = int(round(DEFECT_RATES["duplicate_email"] * n))
    n_dup_p = int(round(DEFECT_RATES["duplicate_phone"] * n))
    n_people = n - n_dup_e - n_dup_p
    countries = np.array(list(COUNTRIES))
    arch_names = list(ARCHETYPES)
    shares = np.array([ARCHETYPES[a]["share"] for a in arch_names])
    country = rng.choice(len(countries), n_people, p=np.array(list(COUNTRIES.values())))
    arch = rng.choice(len(arch_names), n_people, p=shares / shares.sum())
    pre = rng.random(n_people) < 0.35
    signup = np.where(pre, -rng.uniform(0, 3 * 365, n_people),
                      rng.random(n_people) ** (1 / 1.3) * (n_days - 20))
    # Duplicate accounts: later accounts of existing people (disjoint sets of people).
    email_missing = rng.random(n_people) < DEFECT_RATES["missing_email"]
    email_invalid = ~email_missing & (rng.random(n_people) < DEFECT_RATES["invalid_email"] * 1.03)
    phone_missing = rng.random(n_people) < DEFECT_RATES["missing_phone"]
    order = rng.permutation(n_people)
    ok_e = order[~(email_missing | email_invalid)[order]]
    dup_e_person = np.sort(ok_e[:n_dup_e])
    rest = np.setdiff1d(order, dup_e_person, assume_unique=True)
    rest = rng.permutation(rest)
    dup_p_person = np.sort(rest[~phone_missing[rest]][:n_dup_p])
    person = np.r_[np.arange(n_people), dup_e_person, dup_p_person]
    kind = np.r_[np.zeros(n_people, int), np.ones(len(dup_e_person), int), np.full(len(dup_p_person), 2)]
    n_all = len(person)
    room = np.maximum(n_days - 2 - np.maximum(signup[person], 0), 1.0)
    dup_signup = np.maximum(signup[person], 0) + rng.uniform(0.2, 1.0, n_all) * room
    signup_all = np.where(kind == 0, signup[person], dup_signup)
    arch_all = np.where(kind == 0, arch[person], arch_names.index("one_time"))
    c = {
        "person": person, "kind": kind, "country": country[person], "archetype": arch_all,
        "signup": signup_all, "email_missing": email_missing[person] & (kind == 0),
        "email_invalid": email_invalid[person] & (kind == 0),
        "phone_missing": np.where(kind == 0, phone_missing[person], False),
    }
    # Dup-email accounts: fresh phone or no phone.
    c["phone_missing"] |= (kind == 1) & (rng.random(n_all) < 0.5)
    _behaviour(rng, c, arch_names, prod)
    return c


def _behaviour(rng: np.random.Generator, c: dict, arch_names: list[str], prod: dict) -> None:
    """Per-account planted behaviour: BG/NBD lambda/p, Gamma-Gamma nu, engagement, clusters."""
    n = len(c["person"])
    a_idx = c["archetype"]
    get = {k: np.array([ARCHETYPES[a][k] for a in arch_names]) for k in
           ("r", "alpha", "a", "b", "spend", "promo", "click", "browse", "refund")}
    c["lam"] = rng.gamma(get["r"][a_idx], 1.0 / get["alpha"][a_idx])
    c["p"] = rng.beta(get["a"][a_idx], get["b"][a_idx])
    gamma_rate = get["spend"][a_idx] * (GG_Q - 1) / GG_P  # E[p/nu] = spend
    c["nu"] = rng.gamma(GG_Q, 1.0 / gamma_rate)
    c["mean_spend"] = GG_P / c["nu"]
    c["promo"] = get["promo"][a_idx]
    c["click"] = get["click"][a_idx]
    c["browse"] = get["browse"][a_idx]
    c["refund"] = get["refund"][a_idx]
    oa = np.array([ARCHETYPES[a]["open"][0] for a in arch_names])[a_idx]
    ob = np.array([ARCHETYPES[a]["open"][1] for a in arch_names])[a_idx]
    c["open_p"] = rng.beta(oa, ob)
    c["pref_hour"] = rng.choice(24, n, p=_pref_hour_weights())
    c["profile"] = np.array([PROFILES.index(ARCHETYPES[a]["profile"]) for a in arch_names])[a_idx]
    # Favourite co-purchase clusters drawn from archetype category affinity.
    c["fav"] = np.stack([_draw_cluster(rng, a_idx, arch_names, prod) for _ in range(2)], axis=1)


def _pref_hour_weights() -> np.ndarray:
    w = np.array([.3, .2, .1, .1, .1, .2, 1, 2.5, 3, 2, 1.5, 1.5, 2.5, 2, 1.2, 1, 1, 1.5, 2.5,
                  3.5, 4, 3.5, 2, 1])
    return w / w.sum()


def _draw_cluster(rng: np.random.Generator, a_idx: np.ndarray, arch_names: list[str], prod: dict) -> np.ndarray:
    aff = np.array([ARCHETYPES[a]["affinity"] for a in arch_names], dtype=float)
    aff /= aff.sum(axis=1, keepdims=True)
    cum = aff.cumsum(axis=1)[a_idx]
    cat = (rng.random(len(a_idx))[:, None] > cum).sum(axis=1).clip(0, len(CATEGORIES) - 1)
    cl_cat = prod["cluster_category"]
    first = np.searchsorted(cl_cat, np.arange(len(CATEGORIES)))
    count = np.bincount(cl_cat, minlength=len(CATEGORIES))
    return first[cat] + (rng.random(len(a_idx)) * count[cat]).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Purchase process
# --------------------------------------------------------------------------------------------
def _group_of(c: dict) -> np.ndarray:
    return c["country"] * len(PROFILES) + c["profile"]


def _cum(curve: np.ndarray) -> np.ndarray:
    """Cumulative operational time (days) at integer day boundaries 0..n_days."""
    return np.r_[0.0, np.cumsum(curve)]


def _warp_fwd(days: np.ndarray, cum: np.ndarray) -> np.ndarray:
    return np.interp(days, np.arange(len(cum)), cum)


def _warp_inv(op: np.ndarray, cum: np.ndarray) -> np.ndarray:
    return np.interp(op, cum, np.arange(len(cum)))


def _bgnbd_orders(rng: np.random.Generator, c: dict, cums: list[np.ndarray],
                  n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Purchase times (float days) and account positions of the BG/NBD process.

    Times are drawn in operational time and warped back to calendar days per customer group
    (``cums``: cumulative demand curves from :func:`_cum`, one per country x profile).
    """
    grp = _group_of(c)
    t0 = np.maximum(c["signup"], 0.0)
    t1 = np.minimum(float(n_days), c["erased"])
    op0, op1 = np.zeros(len(t0)), np.zeros(len(t0))
    for g, cum in enumerate(cums):
        m = grp == g
        op0[m], op1[m] = _warp_fwd(t0[m], cum), _warp_fwd(np.maximum(t1[m], t0[m]), cum)
    tau_weeks = (op1 - op0) / 7.0
    m_all = rng.poisson(c["lam"] * tau_weeks)
    j = rng.geometric(c["p"])
    k = np.minimum(m_all, j)
    cust = np.repeat(np.arange(len(t0), dtype=np.int32), m_all)
    u = rng.random(len(cust))
    order = np.argsort(cust + u * 0.999999, kind="stable")
    cust, u = cust[order], u[order]
    keep = _rank_within(cust) < k[cust]
    cust, u = cust[keep], u[keep]
    op = op0[cust] + u * (op1 - op0)[cust]
    day = np.zeros(len(cust))
    g_c = grp[cust]
    for g, cum in enumerate(cums):
        m = g_c == g
        day[m] = _warp_inv(op[m], cum)
    ts = np.floor(day) + _hours(rng, len(day))
    ts = np.clip(ts, t0[cust] + 1e-4, t1[cust] - 1e-4)
    return ts, cust


def _p_buy_window(c: dict, cums: list[np.ndarray], w0: float, w1: float) -> np.ndarray:
    """P(at least one BG/NBD purchase in [w0, w1)) per customer (closed form, see module doc)."""
    grp = _group_of(c)
    t0 = np.maximum(c["signup"], 0.0)
    t1 = np.minimum(w1, c["erased"])
    out = np.zeros(len(t0))
    for g, cum in enumerate(cums):
        m = grp == g
        a = _warp_fwd(t0[m], cum)
        s = _warp_fwd(np.clip(w0, t0[m], None), cum)
        e = _warp_fwd(np.maximum(t1[m], np.clip(w0, t0[m], None)), cum)
        alive = np.exp(-c["lam"][m] * c["p"][m] * (s - a) / 7.0)
        out[m] = alive * (1 - np.exp(-c["lam"][m] * (e - s) / 7.0))
    out[t0 >= w1] = 0.0
    return out


def _spend(rng: np.random.Generator, n: int, days: pd.DatetimeIndex) -> dict[str, Any]:
    """Daily spend per paid channel and campaign, with flighting; incremental orders per day."""
    scale = n / 20_000
    n_days = len(days)
    holiday = np.asarray(days.month >= 11)
    week = np.arange(n_days) // 7
    rows = {"day": [], "channel": [], "campaign": [], "spend": []}
    total = {}
    for ch, cfg in MEDIA.items():
        flight = rng.lognormal(0, 0.35, week.max() + 1)
        dark = rng.random(week.max() + 1) < 0.08
        flight = np.where(dark, 0.1, flight)[week]
        always = cfg["base"] * scale * flight * rng.lognormal(0, 0.1, n_days)
        extra = np.where(holiday, cfg["base"] * scale * 0.8 * flight * rng.lognormal(0, 0.1, n_days), 0)
        total[ch] = always + extra
        for camp_days, amount, name in ((np.arange(n_days), always, None),
                                        (np.flatnonzero(holiday), extra, "holiday")):
            rows["day"].append(camp_days)
            rows["channel"].append(np.full(len(camp_days), list(MEDIA).index(ch)))
            yy = np.asarray(days.year % 100)[camp_days]
            rows["campaign"].append(yy if name else np.full(len(camp_days), -1))
            rows["spend"].append(np.round(amount[camp_days], 2))
    return {k: np.concatenate(v) for k, v in rows.items()} | {"total": total}


def _media_params(spend_total: dict[str, np.ndarray], n: int) -> dict[str, dict[str, float]]:
    out = {}
    for ch, cfg in MEDIA.items():
        base = cfg["base"] * n / 20_000
        kappa = cfg["kappa"] * base
        beta = cfg["iroas"] * base / (PLANNED_AOV * (1 - np.exp(-base / kappa)))
        out[ch] = {"beta": float(beta), "kappa": float(kappa)}
    return out


def _media_orders(rng, c, spend_total, params, n_days):
    """Incremental orders from media: Poisson(sum_c beta_c (1 - exp(-spend_c / kappa_c))) per day."""
    lam = sum(p["beta"] * (1 - np.exp(-spend_total[ch] / p["kappa"])) for ch, p in params.items())
    counts = rng.poisson(lam)
    day = np.repeat(np.arange(n_days), counts)
    order = np.argsort(c["signup"], kind="stable")
    s_sorted = c["signup"][order]
    avail = np.searchsorted(s_sorted, day)  # accounts signed up before the day starts
    ok = avail > 0
    day = day[ok]
    cust = order[(rng.random(len(day)) * avail[ok]).astype(np.int64)]
    ts = day + _hours(rng, len(day))
    keep = ts < c["erased"][cust]
    return ts[keep], cust[keep], lam


# --------------------------------------------------------------------------------------------
# Order details
# --------------------------------------------------------------------------------------------
def _order_lines(rng, c, cust, prod):
    """Order lines: one co-purchase cluster per order, prices near the Gamma-Gamma target."""
    n_o = len(cust)
    n_lines = np.minimum(1 + rng.poisson(0.6, n_o), 5)
    fav_pick = np.where(rng.random(n_o) < 0.65, 0, 1)
    cluster = c["fav"][cust, fav_pick]
    other = rng.random(n_o) >= 0.8
    cluster[other] = rng.integers(0, prod["n_clusters"], other.sum())
    target = rng.gamma(GG_P, 1.0 / c["nu"][cust])  # order value, Gamma-Gamma
    line_order = np.repeat(np.arange(n_o), n_lines)
    line_target = (target / n_lines)[line_order]
    line_cluster = cluster[line_order]
    n_real = len(prod["cluster"]) - 1
    key = prod["cluster"][:n_real] * 1e5 + prod["price"][:n_real]
    pos = np.searchsorted(key, line_cluster * 1e5 + line_target)
    pos = pos + rng.integers(-3, 3, len(pos))
    lo = line_cluster * PRODUCTS_PER_CLUSTER
    product = np.clip(pos, lo, lo + PRODUCTS_PER_CLUSTER - 1)
    qty = np.clip(np.round(line_target / prod["price"][product]), 1, 6).astype(np.int64)
    # Merge duplicate products within an order (order_items key is (order_id, product_id)).
    uniq, inv = np.unique(line_order * 10_000 + product, return_inverse=True)
    qty = np.bincount(inv, weights=qty).astype(np.int64)
    return uniq // 10_000, uniq % 10_000, qty


def _promo_stems(dem: dict) -> np.ndarray:
    """Promo stem index (into EVENT_PROMO, -1 = none) per country and day.

    A day carries the stem of the first event in :data:`EVENT_PROMO` whose multiplier in that
    country exceeds 1.3 on that day. Shape (n_countries, n_days), int8.
    """
    out = np.full((len(COUNTRIES), len(dem["days"])), -1, dtype=np.int8)
    for ci, cc in enumerate(COUNTRIES):
        for si, ev in enumerate(EVENT_PROMO):
            strong = _event_curve(ev, cc, dem["days"]) > 1.3
            out[ci] = np.where((out[ci] < 0) & strong, si, out[ci])
    return out


def _build_orders(rng, c, ts, cust, prod, stems):
    """Sale orders (``ts``, ``cust`` already sorted by time): channel, lines, discount, promo code.

    ``stems`` is the table from :func:`_promo_stems`.
    """
    n_o = len(ts)
    ctry = c["country"][cust]
    mix = np.array([ORDER_CHANNEL_MIX[k] for k in COUNTRIES]).cumsum(axis=1)[ctry]
    channel = (rng.random(n_o)[:, None] > mix).sum(axis=1).clip(0, 2)
    l_order, l_prod, l_qty = _order_lines(rng, c, cust, prod)
    unit = prod["price"][l_prod]
    gross = np.bincount(l_order, weights=l_qty * unit, minlength=n_o)
    stem = stems[ctry, np.clip(np.floor(ts).astype(np.int64), 0, stems.shape[1] - 1)].astype(np.int64)
    p_promo = np.clip(c["promo"][cust] + np.where(stem >= 0, 0.25, 0), 0, 0.95)
    promo = rng.random(n_o) < p_promo
    pct = rng.choice(np.array([10, 15, 20, 25]), n_o)
    discount = np.where(promo, np.round(gross * pct / 100, 2), 0.0)
    vocab = [f"{s}{p}" for s in EVENT_PROMO.values() for p in (10, 15, 20, 25)]
    vocab += ["SAVE10", "SAVE15", "WELCOME20", "VIP25", None]
    code_idx = np.where(stem >= 0, np.maximum(stem, 0) * 4 + (pct // 5 - 2), len(EVENT_PROMO) * 4 + (pct // 5 - 2))
    code_idx = np.where(promo, code_idx, len(vocab) - 1)
    return {
        "ts": ts, "cust": cust, "channel": channel, "gross": gross, "discount": discount,
        "code_idx": code_idx, "vocab": np.array(vocab, dtype=object),
        "l_order": l_order, "l_prod": l_prod, "l_qty": l_qty, "l_unit": unit,
    }


def _refunds(rng, c, o, n_days):
    """Refund rows: a share of sale orders, full or partial, 2-30 days later."""
    n_o = len(o["ts"])
    pick = rng.random(n_o) < c["refund"][o["cust"]]
    src = np.flatnonzero(pick)
    rts = o["ts"][src] + rng.uniform(2, 30, len(src))
    keep = (rts < n_days - 1e-4) & (rts < c["erased"][o["cust"][src]])
    src, rts = src[keep], rts[keep]
    revenue = o["gross"][src] - o["discount"][src]
    frac = np.where(rng.random(len(src)) < 0.7, 1.0, rng.uniform(0.3, 0.7, len(src)))
    return {"src": src, "ts": rts, "amount": -np.round(revenue * frac, 2)}


# --------------------------------------------------------------------------------------------
# Events (web/app behaviour)
# --------------------------------------------------------------------------------------------
def _events(rng, c, o, prod, ev_start, n_days, pre_c):
    """Purchase sessions for web/app orders, browse sessions, planted events before signup.

    ``pre_c``: sorted positions of the accounts that get anonymous views before their signup.
    Returns session numbers 0.. by first appearance (time order) and ``n_sessions``.
    """
    # Purchase sessions.
    is_sel = (o["channel"] < 2) & (o["ts"] >= ev_start)
    sel = np.flatnonzero(is_sel)
    line_sel = is_sel[o["l_order"]]
    lo, lp = o["l_order"][line_sel], o["l_prod"][line_sel]
    n_lines = np.bincount(lo, minlength=len(o["ts"]))[sel]
    gap = rng.uniform(0.5, 4.0, len(sel)) / 1440  # days between events
    sess_p = np.arange(len(sel))
    sel_pos = np.full(len(o["ts"]), -1)
    sel_pos[sel] = sess_p
    l_sess = sel_pos[lo]
    rank = _rank_within(l_sess)
    tot = 2 * n_lines + 2
    end = o["ts"][sel]
    # views then add_to_cart per line, then checkout, purchase
    v_ts = end[l_sess] - (tot[l_sess] - 1 - rank) * gap[l_sess]
    a_ts = end[l_sess] - (tot[l_sess] - 1 - n_lines[l_sess] - rank) * gap[l_sess]
    parts = [
        (l_sess, v_ts, np.zeros(len(lp), int), lp),
        (l_sess, a_ts, np.ones(len(lp), int), lp),
        (sess_p, end - gap, np.full(len(sel), 2), np.full(len(sel), -1)),
        (sess_p, end, np.full(len(sel), 3), np.full(len(sel), -1)),
    ]
    p_cust = o["cust"][sel]
    # Browse sessions (no purchase): views, some add_to_cart (abandonment), some checkout.
    t0 = np.maximum(np.maximum(c["signup"], 0.0), ev_start)
    t1 = np.minimum(float(n_days), c["erased"])
    expo = np.maximum(t1 - t0, 0) / 7.0
    n_s = rng.poisson(c["browse"] * expo)
    b_cust = np.repeat(np.arange(len(t0)), n_s)
    b_start = t0[b_cust] + rng.random(len(b_cust)) * (t1 - t0)[b_cust]
    n_v = 1 + rng.poisson(1.2, len(b_cust))
    cart = rng.random(len(b_cust)) < 0.25
    chk = cart & (rng.random(len(b_cust)) < 0.3)
    b_id = np.arange(len(b_cust)) + len(sel)
    v_sess = np.repeat(np.arange(len(b_cust)), n_v)
    v_rank = _rank_within(v_sess)
    cl = c["fav"][b_cust[v_sess], rng.integers(0, 2, len(v_sess))]
    v_prod = cl * PRODUCTS_PER_CLUSTER + rng.integers(0, PRODUCTS_PER_CLUSTER, len(v_sess))
    gap_b = rng.uniform(0.5, 3.0, len(b_cust)) / 1440
    last_view = np.r_[np.flatnonzero(np.diff(v_sess)), len(v_sess) - 1]
    parts += [
        (b_id[v_sess], b_start[v_sess] + v_rank * gap_b[v_sess], np.zeros(len(v_sess), int), v_prod),
        (b_id[cart], b_start[cart] + n_v[cart] * gap_b[cart], np.ones(cart.sum(), int), v_prod[last_view][cart]),
        (b_id[chk], b_start[chk] + (n_v[chk] + 1) * gap_b[chk], np.full(chk.sum(), 2), np.full(chk.sum(), -1)),
    ]
    sess_cust = np.r_[p_cust, b_cust]
    # Events before signup (planted defect): anonymous views later tied to the account.
    n_pre = len(pre_c)
    pre_id = np.arange(n_pre) + len(sess_cust)
    parts.append((pre_id, c["signup"][pre_c] - rng.uniform(0.5, 10, n_pre), np.zeros(n_pre, int),
                  rng.integers(0, len(prod["price"]) - 1, n_pre)))
    sess_cust = np.r_[sess_cust, pre_c]
    sess = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    etype = np.concatenate([p[2] for p in parts])
    eprod = np.concatenate([p[3] for p in parts])
    cust = sess_cust[sess]
    keep = (ts >= ev_start) & (ts < t1[cust]) & (ts < n_days)
    sess, ts, etype, eprod, cust = sess[keep], ts[keep], etype[keep], eprod[keep], cust[keep]
    # Time order; ties (none in practice) keep the (session, type) order of the parts above.
    order = np.argsort(ts, kind="stable")
    sess, ts, etype, eprod, cust = sess[order], ts[order], etype[order], eprod[order], cust[order]
    # Session ids numbered by first appearance.
    _, first = np.unique(sess, return_index=True)
    rank_of = np.empty(sess.max() + 1 if len(sess) else 0, dtype=np.int64)
    rank_of[sess[np.sort(first)]] = np.arange(len(first))
    return {"sess": rank_of[sess], "ts": ts, "type": etype.astype(np.int8), "prod": eprod,
            "cust": cust, "n_sessions": len(first)}


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------
def _campaigns(ev_start: float, n_days: int, origin: pd.Timestamp) -> list[dict[str, Any]]:
    """Regular campaigns every 14 days plus holiday sends (2024 and 2025)."""
    out = []
    for k, day in enumerate(np.arange(ev_start + 2, n_days - 1, 14)):
        ch = {3: "sms", 7: "push"}.get(k % 10, "email")
        date = origin + pd.Timedelta(days=int(day))
        out.append(dict(id=f"{ch}_{date:%Y%m%d}", channel=ch, day=float(day) + (9, 12, 17, 7)[k % 4] / 24,
                        share=0.25, xmas=False))
    for yy, dates in (("24", ("2024-11-04", "2024-11-28", "2024-12-17")),
                      ("25", ("2025-11-03", "2025-11-27", "2025-12-18"))):
        for name, d in zip(("launch", "bf", "lastcall"), dates, strict=True):
            day = (pd.Timestamp(d) - origin).days
            if ev_start <= day < n_days:
                out.append(dict(id=f"xmas{yy}_{name}", channel="email", day=day + 9 / 24, share=1.0,
                                xmas=yy == "25"))
    return out


def _messages(rng, c, camps, email_arm, holdout, subj_treat, win, n_days):
    """Sends, opens (clustered at the preferred hour), clicks, unsubscribes, bounces."""
    can_email = c["consent_email"] & ~c["email_missing"]
    cols = {k: [] for k in ("cust", "camp", "sent", "variant")}
    for ci, cp in enumerate(camps):
        elig = can_email & (c["signup"] < cp["day"]) & (c["erased"] > cp["day"])
        if cp["xmas"]:
            elig &= email_arm
        elif win[0] <= cp["day"] < win[1]:
            elig &= ~holdout
        idx = np.flatnonzero(elig & (rng.random(len(elig)) < cp["share"]))
        cols["cust"].append(idx)
        cols["camp"].append(np.full(len(idx), ci))
        cols["sent"].append(cp["day"] + rng.uniform(0, 20, len(idx)) / 1440)
        var = np.full(len(idx), -1)
        if cp["id"] == "xmas25_launch":
            var = np.where(subj_treat[idx], 1, 0)
        cols["variant"].append(var)
    m = {k: np.concatenate(v) for k, v in cols.items()}
    cust, sent = m["cust"], m["sent"]
    ch = np.array([{"email": 0, "sms": 1, "push": 2}[cp["channel"]] for cp in camps])[m["camp"]]
    bounce = (ch == 0) & (c["email_invalid"][cust] | (rng.random(len(cust)) < 0.004))
    p_open = c["open_p"][cust] * np.array([1.0, 1.1, 0.6])[ch]
    p_open = np.where(m["variant"] == 1, np.minimum(p_open * SUBJECT_LINE_LIFT, 0.95), p_open)
    opened = ~bounce & (rng.random(len(cust)) < p_open)
    hour = c["pref_hour"][cust] / 24
    next_pref = np.floor(sent) + hour + rng.uniform(0, 1 / 24, len(cust))
    next_pref = np.where(next_pref <= sent, next_pref + 1, next_pref)
    at_pref = rng.random(len(cust)) < 0.7
    open_ts = np.where(at_pref, next_pref, sent + rng.exponential(2 / 24, len(cust)))
    opened &= open_ts < min(n_days, np.inf) - 1e-4
    clicked = opened & (rng.random(len(cust)) < c["click"][cust])
    click_ts = open_ts + 0.5 / 1440 + rng.exponential(5 / 1440, len(cust))
    clicked &= click_ts < n_days - 1e-4
    unsub = opened & (rng.random(len(cust)) < 0.003)
    unsub_ts = open_ts + rng.uniform(1, 10, len(cust)) / 1440
    unsub &= unsub_ts < n_days - 1e-4
    order = np.argsort(sent, kind="stable")
    return {k: v[order] for k, v in dict(
        cust=cust, camp=m["camp"], sent=sent, variant=m["variant"], ch=ch, bounce=bounce,
        opened=opened, open_ts=open_ts, clicked=clicked, click_ts=click_ts, unsub=unsub,
        unsub_ts=unsub_ts, p_open=np.where(bounce, 0.0, p_open),
        p_open_ctrl=np.where(bounce, 0.0, c["open_p"][cust] * np.array([1.0, 1.1, 0.6])[ch]),
        p_open_treat=np.where(bounce, 0.0, np.minimum(c["open_p"][cust] * np.array([1.0, 1.1, 0.6])[ch] * SUBJECT_LINE_LIFT, 0.95)),
    ).items()}


SUBJECT_LINE_LIFT = 1.2
EMAIL_HOLDOUT_Q = 0.05  # P(extra purchase | received the Xmas emails, would not have bought)
FREE_SHIPPING_Q = 0.06
GIFT_WRAP_TAKE = 0.5


# --------------------------------------------------------------------------------------------
# Touches
# --------------------------------------------------------------------------------------------
def _touch_tables() -> dict[str, Any]:
    """Exact subset probabilities of the touch model (7 channels -> 128 subsets)."""
    chans = list(TOUCH_MODEL)
    w = np.array([TOUCH_MODEL[k]["weight"] for k in chans])
    e = np.array([TOUCH_MODEL[k]["exposure"] for k in chans])
    bits = ((np.arange(128)[:, None] >> np.arange(7)) & 1).astype(bool)
    prior = np.prod(np.where(bits, e, 1 - e), axis=1)
    conv = 1 - (1 - TOUCH_BASE_CONVERSION) * np.prod(np.where(bits, 1 - w, 1.0), axis=1)
    p_conv = float((prior * conv).sum())
    # Expected Shapley share of each channel over converting journeys.
    shap = np.zeros(7)
    from math import factorial
    for s in range(128):
        members = np.flatnonzero(bits[s])
        k = len(members)
        for ci in members:
            val = 0.0
            others = [m for m in members if m != ci]
            for sub in range(1 << len(others)):
                chosen = [others[i] for i in range(len(others)) if sub >> i & 1]
                q = len(chosen)
                f = factorial(q) * factorial(k - q - 1) / factorial(k)
                without = np.prod(1 - w[chosen]) if chosen else 1.0
                val += f * (1 - TOUCH_BASE_CONVERSION) * without * w[ci]
            shap[ci] += prior[s] * val
    share = shap / shap.sum()
    return {"chans": chans, "bits": bits, "post_conv": prior * conv / p_conv,
            "post_non": prior * (1 - conv) / (1 - p_conv), "p_conv": p_conv, "shapley_share": share}


def _touches(rng, c, o, ev_start, n_days, tt):
    """Converting journeys ending at web/app orders plus sampled non-converting journeys.

    ``tt`` is :func:`_touch_tables`. Non-converting journeys end at uniform times and belong to
    a random account (of ``c``) that has signed up by then.
    """
    start = ev_start + 14
    conv_o = np.flatnonzero((o["channel"] < 2) & (o["ts"] >= start))
    n_conv = len(conv_o)
    n_non = int(round(n_conv * (1 - tt["p_conv"]) / tt["p_conv"]))
    end_non = rng.uniform(start, n_days - 1e-3, n_non)
    order = np.argsort(c["signup"], kind="stable")
    avail = np.searchsorted(c["signup"][order], end_non)
    ok = avail > 0
    end_non = end_non[ok]
    cust_non = order[(rng.random(ok.sum()) * avail[ok]).astype(np.int64)]
    j_end = np.r_[o["ts"][conv_o], end_non]
    j_cust = np.r_[o["cust"][conv_o], cust_non]
    subset = np.r_[rng.choice(128, n_conv, p=tt["post_conv"]), rng.choice(128, len(end_non), p=tt["post_non"])]
    jj, chan = np.nonzero(tt["bits"][subset])
    repeatable = np.isin(np.arange(len(tt["chans"])),
                         [tt["chans"].index("display"), tt["chans"].index("paid_social")])
    extra = repeatable[chan] & (rng.random(len(chan)) < 0.3)
    jj, chan = np.r_[jj, jj[extra]], np.r_[chan, chan[extra]]
    stage = np.array([TOUCH_MODEL[k]["stage"] for k in tt["chans"]])[chan] + rng.random(len(chan)) * 0.5
    # By journey, latest stage first: stage < 6, so jj + (6 - stage) / 6.5 stays inside [jj, jj + 1).
    order = np.argsort(jj + (6.0 - stage) / 6.5, kind="stable")
    jj, chan = jj[order], chan[order]
    k_from_end = _rank_within(jj)
    scale = rng.lognormal(0, 0.7, len(j_end))
    ts = j_end[jj] - scale[jj] * (k_from_end + 0.05 + 0.9 * rng.random(len(jj)))
    keep = (ts >= ev_start) & (ts < c["erased"][j_cust[jj]])
    jj, chan, ts = jj[keep], chan[keep], ts[keep]
    o2 = np.argsort(ts, kind="stable")
    return {"cust": j_cust[jj][o2], "chan": chan[o2].astype(np.int8), "ts": ts[o2]}


# --------------------------------------------------------------------------------------------
# Experiments
# --------------------------------------------------------------------------------------------
def _converted(n: int, ts: np.ndarray, cust: np.ndarray, win: tuple[float, float]) -> np.ndarray:
    m = (ts >= win[0]) & (ts < win[1])
    return np.bincount(cust[m], minlength=n) > 0


def _assign_experiments(rng: np.random.Generator, c: dict, cutoff: float) -> tuple[dict, dict]:
    """Experiment populations ``a[key]`` and treatment flags ``treat[key]`` per account.

    Keys as in :data:`EXPERIMENT_IDS`. Accounts signed up before the cutoff (day) and not erased
    by then are split 35/35/30 into free shipping, gift wrap and A/A; email-reachable ones are
    also in the email holdout (90 % treated), whose treated part gets the subject-line test.
    """
    n = len(c["signup"])
    elig = (c["signup"] < cutoff) & (c["erased"] > cutoff)
    part = rng.random(n)
    a = {
        "fs": elig & (part < 0.35), "gw": elig & (part >= 0.35) & (part < 0.70),
        "aa": elig & (part >= 0.70),
        "email": elig & c["consent_email"] & ~c["email_missing"],
    }
    treat = {k: rng.random(n) < (0.9 if k == "email" else 0.5) for k in a}
    a["subj"] = a["email"] & treat["email"]
    treat["subj"] = rng.random(n) < 0.5
    return a, treat


def _experiment_orders(rng, c, a, treat, base_conv, win, xmas_days):
    """Incremental orders of the email and free-shipping experiments for the accounts in ``c``.

    ``base_conv``: the account bought in the window without any experiment effect. Returns
    order times (days) and account positions.
    """
    n = len(c["signup"])
    email_arm = a["email"] & treat["email"]
    # Email effect (first), then free shipping (second).
    add_e = email_arm & ~base_conv & (rng.random(n) < EMAIL_HOLDOUT_Q)
    ie = np.flatnonzero(add_e)
    ts_e = np.asarray(xmas_days)[rng.integers(0, len(xmas_days), len(ie))] + rng.exponential(1.0, len(ie))
    ts_e = np.clip(ts_e, win[0], win[1] - 1e-3)
    conv2 = base_conv | add_e
    add_f = a["fs"] & treat["fs"] & ~conv2 & (rng.random(n) < FREE_SHIPPING_Q)
    i_f = np.flatnonzero(add_f)
    ts_f = rng.uniform(win[0], win[1] - 1e-3, len(i_f))
    new_ts, new_c = np.r_[ts_e, ts_f], np.r_[ie, i_f].astype(np.int32)
    keep = new_ts < c["erased"][new_c]
    return new_ts[keep], new_c[keep]


def _experiment_truth(a, treat, b):
    """Expected conversion by arm given realised untreated conversions ``b`` (see module doc)."""
    qe, qf = EMAIL_HOLDOUT_Q, FREE_SHIPPING_Q
    email_arm = a["email"] & treat["email"]
    fs_t = a["fs"] & treat["fs"]
    out = {}
    pop = a["email"]
    f = fs_t[pop].astype(float)
    ctrl = float(np.mean(1 - (1 - b[pop]) * (1 - qf * f))) if pop.any() else float("nan")
    trt = float(np.mean(1 - (1 - b[pop]) * (1 - qe) * (1 - qf * f))) if pop.any() else float("nan")
    out["xmas25_email_holdout"] = ("conversion", ctrl, trt, 0.9)
    pop = a["fs"]
    e = email_arm[pop].astype(float)
    ctrl = float(np.mean(1 - (1 - b[pop]) * (1 - qe * e)))
    trt = float(np.mean(1 - (1 - b[pop]) * (1 - qe * e) * (1 - qf)))
    out["xmas25_free_shipping"] = ("conversion", ctrl, trt, 0.5)
    pop = a["aa"]
    e = email_arm[pop].astype(float)
    v = float(np.mean(1 - (1 - b[pop]) * (1 - qe * e)))
    out["xmas25_aa"] = ("conversion", v, v, 0.5)
    return out


def _arm_entry(metric: str, ctrl: float, trt: float, share_t: float, desc: str) -> dict[str, Any]:
    return {
        "metric": metric, "description": desc, "variants": ["control", "treatment"],
        "allocation": {"control": round(1 - share_t, 4), "treatment": share_t},
        "expected_metric_by_arm": {"control": ctrl, "treatment": trt},
        "true_lift_absolute": trt - ctrl,
        "true_lift_relative": (trt - ctrl) / ctrl if ctrl else None,
    }


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def _customer_table(rng, c, origin_us, n_days) -> pa.Table:
    n = len(c["person"])
    w = _width(n)
    cid = _ids("C", np.arange(n) + 1, w)
    person = c["person"]
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), person.max() + 1)][person]
    first_arr = pa.array(first, pa.string())
    num = pc.cast(pa.array(person + 1000), pa.string())
    domain = _take(np.array(["example.com", "example.org", "example.net"], dtype=object),
                   rng.integers(0, 3, person.max() + 1)[person])
    base_email = pc.binary_join_element_wise(pc.utf8_lower(first_arr), ".", num, "@", domain, "")
    kind = c["kind"]
    # Dup-email accounts: same address, different case/whitespace.
    variant = rng.integers(0, 4, n)
    upper = pc.utf8_upper(base_email)
    title = pc.utf8_capitalize(base_email)
    spaced = pc.binary_join_element_wise(" ", base_email, "  ", "")
    dup_e = pc.if_else(pa.array(variant == 0), upper, pc.if_else(pa.array(variant == 1), title,
                        pc.if_else(pa.array(variant == 2), spaced, pc.binary_join_element_wise(base_email, " ", ""))))
    fresh = pc.binary_join_element_wise(pc.utf8_lower(first_arr), ".n", pc.cast(pa.array(np.arange(n)), pa.string()),
                                        "@example.net", "")
    email = pc.if_else(pa.array(kind == 1), dup_e, pc.if_else(pa.array(kind == 2), fresh, base_email))
    # Invalid emails (unique, three forms).
    inv_kind = rng.integers(0, 3, n)
    local = pc.binary_join_element_wise(pc.utf8_lower(first_arr), ".", num, "")
    inv = pc.if_else(pa.array(inv_kind == 0), pc.replace_substring(base_email, "@", "."),
                     pc.if_else(pa.array(inv_kind == 1), pc.binary_join_element_wise(local, "@", ""),
                                pc.replace_substring(base_email, "@", "@@")))
    email = pc.if_else(pa.array(c["email_invalid"]), inv, email)
    miss_e = np.flatnonzero(c["email_missing"])
    blank_e = np.zeros(n, bool)
    if len(miss_e):
        blank_e[miss_e[0]] = True  # exactly one blank: duplicates unambiguous either way
    email = pc.if_else(pa.array(blank_e), pa.scalar("  "), email)
    email = pc.if_else(pa.array(c["email_missing"] & ~blank_e), pa.scalar(None, pa.string()), email)
    # Phones: unique national numbers; dup-phone accounts reformat the person's number.
    cc = _take(np.array([PHONE_PREFIX[k] for k in COUNTRIES], dtype=object), c["country"])
    perm = rng.permutation(person.max() + 1)
    national = np.where(kind == 1, 8_000_000_000 + np.arange(n), 7_000_000_000 + perm[person])
    nat = pc.cast(pa.array(national), pa.string())
    compact = pc.binary_join_element_wise("+", cc, nat, "")
    pretty = pc.binary_join_element_wise("+", cc, " (", pc.utf8_slice_codeunits(nat, 0, 3), ") ",
                                         pc.utf8_slice_codeunits(nat, 3, 6), "-",
                                         pc.utf8_slice_codeunits(nat, 6, 10), "")
    spaced_p = pc.binary_join_element_wise("+", cc, " ", pc.utf8_slice_codeunits(nat, 0, 5), " ",
                                           pc.utf8_slice_codeunits(nat, 5, 10), "")
    pv = rng.integers(0, 2, n)
    phone = pc.if_else(pa.array(kind == 2), pc.if_else(pa.array(pv == 0), pretty, spaced_p), compact)
    miss_p = np.flatnonzero(c["phone_missing"])
    blank_p = np.zeros(n, bool)
    if len(miss_p):
        blank_p[miss_p[0]] = True
    phone = pc.if_else(pa.array(blank_p), pa.scalar(" "), phone)
    phone = pc.if_else(pa.array(c["phone_missing"] & ~blank_p), pa.scalar(None, pa.string()), phone)
    # Other attributes (copied from the person for duplicate accounts).
    p_n = person.max() + 1
    fn_missing = (rng.random(p_n) < DEFECT_RATES["missing_first_name"])[person]
    first_name = pc.if_else(pa.array(fn_missing), pa.scalar(None, pa.string()), first_arr)
    by = rng.integers(1950, 2007, p_n)[person]
    by_missing = (rng.random(p_n) < DEFECT_RATES["missing_birth_year"])[person]
    gender = rng.choice(3, p_n, p=[0.5, 0.47, 0.03])[person]
    g_missing = (rng.random(p_n) < DEFECT_RATES["missing_gender"])[person]
    acq_p = np.array([.22, .15, .05, .08, .07, .25, .18])
    acq = rng.choice(len(TOUCH_CHANNELS), n, p=acq_p / acq_p.sum())
    return pa.table({
        "customer_id": cid,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "country": _take(np.array(list(COUNTRIES), dtype=object), c["country"]),
        "signup_ts": _ts(c["signup"], origin_us),
        "birth_year": pa.array(by.astype(np.int64), pa.int64(), mask=by_missing),
        "gender": _take(np.array(["f", "m", "x", None], dtype=object), np.where(g_missing, 3, gender)),
        "acquisition_channel": _take(np.array(TOUCH_CHANNELS, dtype=object), acq),
        "consent_email": pa.array(c["consent_email"]),
        "consent_ads": pa.array(c["consent_ads"]),
        "erased_at": _ts(np.where(np.isfinite(c["erased"]), c["erased"], 0), origin_us,
                         valid=np.isfinite(c["erased"])),
    })


def _check_schema(name: str, table: pa.Table) -> pa.Table:
    cols = TABLES[name].column_names
    missing = [col for col in cols if col not in table.column_names]
    if missing:  # programming error, not user input
        raise RuntimeError(f"synth bug: table {name} lacks columns {missing}")
    return table.select(list(cols))


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
}
ROW_GROUP_ROWS = 1_000_000  # Parquet row-group size cap (rows)
#: Tables generated per chunk of customers and streamed to Parquet (one row group or more per chunk).
STREAMED_TABLES: tuple[str, ...] = ("orders", "order_items", "events", "messages", "touches")


def _arrow_schema(name: str) -> pa.Schema:
    """Arrow schema of canonical table ``name`` (dtypes from :mod:`playbook.data.contract`)."""
    return pa.schema([pa.field(col.name, _ARROW_TYPES[col.dtype]) for col in TABLES[name].columns])


def _conform(name: str, table: pa.Table) -> pa.Table:
    """Columns of canonical table ``name`` in contract order, cast to the contract dtypes."""
    if name not in TABLES:
        return table
    return _check_schema(name, table).cast(_arrow_schema(name))


def _write(tables: dict[str, pa.Table], folder: Path) -> dict[str, int]:
    sizes = {}
    for name, table in tables.items():
        path = folder / f"{name}.parquet"
        pq.write_table(_conform(name, table), path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        sizes[name] = table.num_rows
    return sizes


class _ParquetStreams:
    """One :class:`pyarrow.parquet.ParquetWriter` per streamed table, opened up front.

    Each :meth:`write` appends a chunk as row groups and counts its rows; files of tables that
    received no rows still exist with the contract schema. Use as a context manager so the
    files are closed when generation fails (the temporary folder is then removed).
    """

    def __init__(self, folder: Path, names: tuple[str, ...]) -> None:
        self.rows = dict.fromkeys(names, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}
        for name in names:
            self._writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", _arrow_schema(name),
                                                   compression="zstd")

    def write(self, name: str, table: pa.Table) -> None:
        if table.num_rows:
            self._writers[name].write_table(_conform(name, table), row_group_size=ROW_GROUP_ROWS)
        self.rows[name] += table.num_rows

    def __enter__(self) -> _ParquetStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self._writers.values():
            writer.close()


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with renames; the old folder is removed only afterwards."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return round(v, 10) if np.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def count_defects(customers: pd.DataFrame, events: pd.DataFrame, orders: pd.DataFrame) -> dict[str, int]:
    """Count data-quality defects with the definitions in :data:`DEFECT_DEFINITIONS`.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id, email, phone, first_name, birth_year, gender, erased_at, signup_ts``.
    events : pandas.DataFrame
        ``customer_id, event_ts``.
    orders : pandas.DataFrame
        ``revenue``.

    Returns
    -------
    dict
        Count per key of :data:`DEFECT_DEFINITIONS`.
    """
    signup = customers.set_index("customer_id")["signup_ts"]
    ev_signup = events["customer_id"].map(signup)
    return _customer_defects(customers) | {
        "events_before_signup": int((events["event_ts"] < ev_signup).sum()),
        "refunds": int((orders["revenue"] < 0).sum()),
    }


def _customer_defects(customers: pd.DataFrame) -> dict[str, int]:
    """The customer-table defects of :func:`count_defects` (all keys but events/refunds)."""
    def blank(s: pd.Series) -> pd.Series:
        return s.isna() | (s.astype("string").str.strip() == "")

    em = customers["email"].astype("string").str.strip().str.lower()
    em = em[~blank(customers["email"])]
    ph = customers["phone"].astype("string").str.strip()
    ph = ph[~blank(customers["phone"])]
    ph = ph.str[:1].where(ph.str[:1] == "+", "") + ph.str.replace(r"\D", "", regex=True)
    return {
        "duplicate_email": int(len(em) - em.nunique()),
        "duplicate_phone": int(len(ph) - ph.nunique()),
        "invalid_email": int((~em.str.fullmatch(EMAIL_REGEX)).sum()),
        "missing_email": int(blank(customers["email"]).sum()),
        "missing_phone": int(blank(customers["phone"]).sum()),
        "missing_first_name": int(blank(customers["first_name"]).sum()),
        "missing_birth_year": int(customers["birth_year"].isna().sum()),
        "missing_gender": int(blank(customers["gender"]).sum()),
        "erased": int(customers["erased_at"].notna().sum()),
    }


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
CAMPAIGN = {"window_start": "2025-11-01", "window_end": "2025-12-31", "cutoff": "2025-10-15"}
EVENTS_START = "2024-10-01"


CHUNK_CUSTOMERS = 100_000  # accounts per generation chunk (bounds peak memory)


def generate(n_customers: int = 20_000, seed: int = 42, out_dir: str | os.PathLike[str] = "data/sample",
             start: str = "2023-01-01", end: str = "2026-01-31", progress: Progress = None,
             chunk_customers: int = CHUNK_CUSTOMERS) -> dict:
    """Generate the synthetic sample: every canonical table plus the planted truth.

    Per-account parameters, the customers, products, spend and assignments tables are drawn for
    all accounts at once. Orders, order items, events, messages and touches are generated per
    chunk of ``chunk_customers`` consecutive accounts, each chunk with its own child seed
    (``np.random.SeedSequence(seed).spawn``), and appended to their Parquet files as row groups,
    so peak memory grows with the chunk size rather than with ``n_customers``. Rows are in time
    order within a chunk; ids are numbered consecutively across chunks.

    Parameters
    ----------
    n_customers : int
        Customer accounts (including planted duplicate accounts), >= 100.
    seed : int
        Random seed (>= 0); the same arguments (including ``chunk_customers``) give
        byte-identical files.
    out_dir : path
        Output folder (relative paths resolve against the project root). Written atomically:
        built in a temporary sibling folder, then swapped in.
    start, end : str
        First and last day of order history (ISO dates, UTC); must cover 2024-09-01..2025-12-31.
    progress : callable, optional
        Receives one message per stage.
    chunk_customers : int
        Accounts per chunk, >= 100. About 1 GiB of working memory per 100,000 accounts.

    Returns
    -------
    dict
        The truth (also written to ``truth.json``).

    Raises
    ------
    ConfigError
        If the arguments are out of range.
    """
    try:
        origin, last = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError as exc:
        raise ConfigError(f"start/end must be ISO dates like 2023-01-01 ({exc})") from None
    if n_customers < 100:
        raise ConfigError(f"n_customers must be at least 100, got {n_customers}")
    if chunk_customers < 100:
        raise ConfigError(f"chunk_customers must be at least 100, got {chunk_customers}")
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed}")
    if origin > pd.Timestamp("2024-09-01") or last < pd.Timestamp("2025-12-31"):
        raise ConfigError(f"start..end ({start}..{end}) must cover 2024-09-01..2025-12-31 "
                          "(past season and the 2025 campaign window)")
    out = resolve(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        truth = _generate_into(tmp, int(n_customers), int(seed), origin, last, int(chunk_customers),
                               progress)
        _say(progress, "swapping the new data in")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return truth


def _generate_into(folder: Path, n: int, seed: int, origin: pd.Timestamp, last: pd.Timestamp,
                   chunk: int, progress: Progress) -> dict:
    rng = np.random.default_rng(seed)
    g = _population(rng, n, origin, last, progress)
    _say(progress, "customers, products, spend and assignments tables")
    customers = _customer_table(rng, g["c"], g["origin_us"], g["n_days"])
    defects = _customer_defects(customers.select(
        ["customer_id", "email", "phone", "first_name", "birth_year", "gender", "erased_at",
         "signup_ts"]).to_pandas())
    products = _product_table(g["prod"])
    small = {
        "customers": customers, "products": products,
        "spend": _spend_table(rng, g["spend"], g["origin_us"], g["dem"]),
        "assignments": _assignment_table(rng, g["assign"], g["treat"], g["w_c"], g["origin_us"],
                                         g["cutoff"], g["xmas_days"]),
    }
    rows = _write(small, folder)
    del customers, small
    acc = _stream_chunks(folder, g, seed, chunk, progress)
    rows |= acc["rows"]
    defects |= {"events_before_signup": acc["events_before_signup"], "refunds": acc["refunds"]}
    exp_truth = _experiment_truth(g["assign"], g["treat"], acc["base_conv"])
    truth = _truth(n, seed, origin, last, g, exp_truth, acc, defects, rows, products)
    _say(progress, "writing truth")
    _write({"truth_customers": _truth_customers(g["c"], g["p_buy"], g["w_c"])}, folder)
    (folder / "truth.json").write_text(json.dumps(_jsonable(truth), indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))


def _population(rng: np.random.Generator, n: int, origin: pd.Timestamp, last: pd.Timestamp,
                progress: Progress) -> dict[str, Any]:
    """Everything drawn once for all accounts: demand, products, accounts, media, experiments.

    Returns a dict of the shared state the chunks read (never write): ``c`` (per-account
    arrays), calendar day numbers (float days since ``origin``), media orders sorted by account,
    the planted pre-signup accounts and the id widths.
    """
    day_of = lambda s: float((pd.Timestamp(s) - origin).days)  # noqa: E731
    _say(progress, "demand curves and products")
    dem = demand_curves(str(origin.date()), str(last.date()))
    n_days = len(dem["days"])
    curves = [dem["curves"][(cc, pf)] for cc in COUNTRIES for pf in PROFILES]
    prod = _products(rng)
    _say(progress, f"customers ({n:,})")
    c = _customers(rng, n, n_days, prod)
    n_acc = len(c["person"])
    c["consent_email"] = rng.random(n_acc) < 0.8
    c["consent_ads"] = rng.random(n_acc) < 0.6
    er = rng.random(n_acc) < DEFECT_RATES["erased"]
    lo = np.maximum(c["signup"], 0) + 1
    c["erased"] = np.where(er & (lo < n_days - 1), lo + rng.random(n_acc) * np.maximum(n_days - 1 - lo, 0), np.inf)
    g: dict[str, Any] = {
        "c": c, "dem": dem, "prod": prod, "n_days": n_days, "cums": [_cum(cv) for cv in curves],
        "origin_us": int(origin.tz_localize("UTC").value // 1000),
        "win": (day_of(CAMPAIGN["window_start"]), day_of(CAMPAIGN["window_end"]) + 1),
        "cutoff": day_of(CAMPAIGN["cutoff"]), "ev_start": day_of(EVENTS_START),
    }
    g["p_buy"] = _p_buy_window(c, g["cums"], *g["win"])
    _say(progress, "media spend and response, experiment assignment")
    g["spend"] = _spend(rng, n, dem["days"])
    g["media"] = _media_params(g["spend"]["total"], n)
    m_ts, m_cust, g["media_lam"] = _media_orders(rng, c, g["spend"]["total"], g["media"], n_days)
    by_cust = np.argsort(m_cust, kind="stable")
    g["media_ts"], g["media_cust"] = m_ts[by_cust], m_cust[by_cust]
    g["camps"] = _campaigns(g["ev_start"], n_days, origin)
    g["xmas_days"] = [cp["day"] for cp in g["camps"] if cp["xmas"]]
    g["assign"], g["treat"] = _assign_experiments(rng, c, g["cutoff"])
    # Events before signup (planted defect): which accounts get anonymous views before signup.
    eligible = np.flatnonzero(c["signup"] >= g["ev_start"] + 11)
    n_pre = min(len(eligible), int(round(DEFECT_RATES["events_before_signup"] * n_acc)))
    g["pre_c"] = np.sort(rng.choice(eligible, n_pre, replace=False)) if n_pre else np.zeros(0, np.int64)
    g["stems"] = _promo_stems(dem)
    g["touch"] = _touch_tables()
    # Id widths: fixed before the chunks exist, from generous rows-per-account bounds (about
    # 7 orders, 27 events, 9 messages and 21 touches per account at the defaults).
    g["w_c"] = _width(n_acc)
    g["w"] = {"O": _width(30 * n_acc), "E": _width(100 * n_acc), "S": _width(40 * n_acc),
              "M": _width(50 * n_acc), "T": _width(100 * n_acc)}
    return g


def _stream_chunks(folder: Path, g: dict[str, Any], seed: int, chunk: int,
                   progress: Progress) -> dict[str, Any]:
    """Generate and write the streamed tables chunk by chunk; return the running totals."""
    n_acc = len(g["c"]["person"])
    bounds = list(range(0, n_acc, chunk)) + [n_acc]
    children = np.random.SeedSequence(seed).spawn(len(bounds) - 1)
    years = (2023, 2024)
    acc: dict[str, Any] = {
        "base_conv": np.zeros(n_acc, bool), "gw_pre_rev": np.zeros(n_acc), "gw_orders": np.zeros(n_acc, np.int64),
        "media_rev": 0.0, "media_n": 0, "bf_counts": {y: np.zeros(len(COUNTRIES) * len(PROFILES), np.int64) for y in years},
        "launch": np.zeros(3), "events_before_signup": 0, "refunds": 0,
        "next": dict.fromkeys(("O", "E", "S", "M", "T"), 0),
    }
    with _ParquetStreams(folder, STREAMED_TABLES) as streams:
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            _say(progress, f"chunk {k + 1}/{len(bounds) - 1} (accounts {lo:,}-{hi - 1:,}): "
                           "orders, events, messages, touches")
            tables = _chunk(np.random.default_rng(children[k]), g, lo, hi, acc)
            for name in STREAMED_TABLES:
                streams.write(name, tables.pop(name))
    acc["rows"] = dict(streams.rows)
    return acc


def _chunk(rng: np.random.Generator, g: dict[str, Any], lo: int, hi: int,
           acc: dict[str, Any]) -> dict[str, pa.Table]:
    """Orders, order items, events, messages and touches of accounts ``lo..hi-1``.

    Updates the running totals in ``acc`` (truth inputs, defect counts, next id numbers).
    """
    c = {k: v[lo:hi] for k, v in g["c"].items()}
    assign = {k: v[lo:hi] for k, v in g["assign"].items()}
    treat = {k: v[lo:hi] for k, v in g["treat"].items()}
    m, n_days, win = hi - lo, g["n_days"], g["win"]
    # Orders: BG/NBD + media-driven (drawn globally) + experiment increments.
    ts, cust = _bgnbd_orders(rng, c, g["cums"], n_days)
    a, b = np.searchsorted(g["media_cust"], [lo, hi])
    m_ts, m_cust = g["media_ts"][a:b], (g["media_cust"][a:b] - lo).astype(np.int32)
    base_conv = _converted(m, np.r_[ts, m_ts], np.r_[cust, m_cust], win)
    acc["base_conv"][lo:hi] = base_conv
    x_ts, x_cust = _experiment_orders(rng, c, assign, treat, base_conv, win, g["xmas_days"])
    src = np.r_[np.zeros(len(ts), np.int8), np.ones(len(m_ts), np.int8), np.full(len(x_ts), 2, np.int8)]
    all_ts, all_cust = np.r_[ts, m_ts, x_ts], np.r_[cust, m_cust, x_cust]
    del ts, cust, m_ts, m_cust, x_ts, x_cust
    order = np.argsort(all_ts, kind="stable")
    src = src[order]
    o = _build_orders(rng, c, all_ts[order], all_cust[order], g["prod"], g["stems"])
    del all_ts, all_cust, order
    _gift_wrap(rng, o, assign["gw"] & treat["gw"], win, g["prod"], acc, lo)
    ref = _refunds(rng, c, o, n_days)
    _order_stats(g, c, o, src, ref, acc)
    # Behaviour tables.
    pre = g["pre_c"][(g["pre_c"] >= lo) & (g["pre_c"] < hi)] - lo
    ev = _events(rng, c, o, g["prod"], g["ev_start"], n_days, pre)
    acc["events_before_signup"] += int((_us(ev["ts"], 0) < _us(c["signup"][ev["cust"]], 0)).sum())
    msg = _messages(rng, c, g["camps"], assign["email"] & treat["email"], assign["email"] & ~treat["email"],
                    treat["subj"], win, n_days)
    launch = [i for i, cp in enumerate(g["camps"]) if cp["id"] == "xmas25_launch"]
    is_launch = msg["camp"] == (launch[0] if launch else -1)
    acc["launch"] += (msg["p_open_ctrl"][is_launch].sum(), msg["p_open_treat"][is_launch].sum(), is_launch.sum())
    tch = _touches(rng, c, o, g["ev_start"], n_days, g["touch"])
    return _chunk_tables(g, lo, o, ref, ev, msg, tch, acc["next"])


def _gift_wrap(rng, o, gw_treated, win, prod, acc, lo) -> None:
    """Gift-wrap lines on treated accounts' window orders; per-account pre-wrap revenue/orders."""
    m = len(gw_treated)
    in_win = (o["ts"] >= win[0]) & (o["ts"] < win[1])
    acc["gw_pre_rev"][lo:lo + m] = np.bincount(o["cust"][in_win], weights=(o["gross"] - o["discount"])[in_win],
                                               minlength=m)
    acc["gw_orders"][lo:lo + m] = np.bincount(o["cust"][in_win], minlength=m)
    wrap = np.flatnonzero(in_win & gw_treated[o["cust"]] & (rng.random(len(o["ts"])) < GIFT_WRAP_TAKE))
    o["l_order"] = np.r_[o["l_order"], wrap]
    o["l_prod"] = np.r_[o["l_prod"], np.full(len(wrap), prod["gift_wrap"])]
    o["l_qty"] = np.r_[o["l_qty"], np.ones(len(wrap), np.int64)]
    o["l_unit"] = np.r_[o["l_unit"], np.full(len(wrap), GIFT_WRAP_PRICE)]
    lo_ord = np.argsort(o["l_order"] * 10_000 + o["l_prod"], kind="stable")
    for k in ("l_order", "l_prod", "l_qty", "l_unit"):
        o[k] = o[k][lo_ord]
    o["gross"] = o["gross"] + np.bincount(wrap, minlength=len(o["ts"])) * GIFT_WRAP_PRICE
    o["revenue"] = np.round(o["gross"] - o["discount"], 2)


def _order_stats(g, c, o, src, ref, acc) -> None:
    """Running truth inputs from a chunk's orders: media AOV, November counts, refunds."""
    acc["media_rev"] += float(o["revenue"][src == 1].sum())
    acc["media_n"] += int((src == 1).sum())
    acc["refunds"] += int((o["revenue"] < 0).sum() + (ref["amount"] < 0).sum())
    days = g["dem"]["days"]
    grp = _group_of(c)[o["cust"]]
    day = np.floor(o["ts"]).astype(np.int64)
    for year, counts in acc["bf_counts"].items():
        nov = np.flatnonzero((days.year == year) & (days.month == 11))
        if len(nov):
            base = (src == 0) & (day >= nov[0]) & (day <= nov[-1])
            counts += np.bincount(grp[base], minlength=len(counts))


def _chunk_tables(g, lo, o, ref, ev, msg, tch, nxt) -> dict[str, pa.Table]:
    """Arrow tables of one chunk; ids continue from ``nxt`` (updated in place)."""
    origin_us, w, w_c = g["origin_us"], g["w"], g["w_c"]
    n_o = len(o["ts"])
    o_num = nxt["O"] + 1
    r_src = ref["src"]
    chan_v = np.array(["web", "app", "store"], dtype=object)
    orders = pa.table({
        "order_id": pa.concat_arrays([_ids("O", o_num + np.arange(n_o), w["O"]),
                                      _ids("R", o_num + r_src, w["O"])]),
        "customer_id": _ids("C", lo + 1 + np.r_[o["cust"], o["cust"][r_src]], w_c),
        "order_ts": _ts(np.r_[o["ts"], ref["ts"]], origin_us),
        "channel": _take(chan_v, np.r_[o["channel"], o["channel"][r_src]]),
        "revenue": pa.array(np.r_[o["revenue"], ref["amount"]]),
        "discount": pa.array(np.r_[o["discount"], np.zeros(len(r_src))]),
        "promo_code": _take(o["vocab"], np.r_[o["code_idx"], np.full(len(r_src), len(o["vocab"]) - 1)]),
    })
    items = pa.table({
        "order_id": _ids("O", o_num + o["l_order"], w["O"]),
        "product_id": _ids("P", o["l_prod"] + 1, 4),
        "quantity": pa.array(o["l_qty"].astype(np.int64)),
        "unit_price": pa.array(o["l_unit"]),
    })
    n_e = len(ev["ts"])
    eprod = ev["prod"]
    events = pa.table({
        "event_id": _ids("E", nxt["E"] + 1 + np.arange(n_e), w["E"]),
        "customer_id": _ids("C", lo + 1 + ev["cust"], w_c),
        "session_id": _ids("S", nxt["S"] + 1 + ev["sess"], w["S"]),
        "event_ts": _ts(ev["ts"], origin_us),
        "event_type": _take(np.array(["view", "add_to_cart", "checkout", "purchase"], dtype=object), ev["type"]),
        "product_id": _ids("P", eprod + 1, 4, valid=eprod >= 0),
    })
    n_m = len(msg["sent"])
    messages = pa.table({
        "message_id": _ids("M", nxt["M"] + 1 + np.arange(n_m), w["M"]),
        "customer_id": _ids("C", lo + 1 + msg["cust"], w_c),
        "campaign_id": _take(np.array([cp["id"] for cp in g["camps"]], dtype=object), msg["camp"]),
        "channel": _take(np.array(["email", "sms", "push"], dtype=object), msg["ch"]),
        "variant": _take(np.array(["control", "treatment", None], dtype=object),
                         np.where(msg["variant"] < 0, 2, msg["variant"])),
        "sent_ts": _ts(msg["sent"], origin_us),
        "opened_ts": _ts(msg["open_ts"], origin_us, valid=msg["opened"]),
        "clicked_ts": _ts(msg["click_ts"], origin_us, valid=msg["clicked"]),
        "unsubscribed_ts": _ts(msg["unsub_ts"], origin_us, valid=msg["unsub"]),
        "bounced_ts": _ts(msg["sent"] + 1 / 1440, origin_us, valid=msg["bounce"]),
    })
    touches = _touch_table(tch, g["touch"]["chans"], lo, w_c, nxt["T"] + 1, w["T"], origin_us, g["dem"])
    nxt["O"] += n_o
    nxt["E"] += n_e
    nxt["S"] += ev["n_sessions"]
    nxt["M"] += n_m
    nxt["T"] += len(tch["ts"])
    return {"orders": orders, "order_items": items, "events": events, "messages": messages,
            "touches": touches}


def _product_table(prod: dict) -> pa.Table:
    n_p = len(prod["price"])
    cat_names = np.array(list(CATEGORIES) + ["services"], dtype=object)
    return pa.table({"product_id": _ids("P", np.arange(n_p) + 1, 4), "name": pa.array(prod["name"], pa.string()),
                     "category": _take(cat_names, prod["category"]), "price": pa.array(prod["price"])})


def _touch_table(tch, chans, lo, w_c, first_id, w_t, origin_us, dem) -> pa.Table:
    """Touches of one chunk (accounts from ``lo``); touch ids start at ``first_id``."""
    chan = tch["chan"]
    day = np.clip(np.floor(tch["ts"]).astype(np.int64), 0, len(dem["days"]) - 1)
    holiday = np.asarray(dem["days"].month >= 11)[day]
    yy = np.asarray(dem["days"].year % 100)[day]
    paid = np.array([ch in PAID_CHANNELS for ch in chans])[chan]
    camp_vocab = [f"{ch}_always_on" for ch in PAID_CHANNELS]
    camp_vocab += [f"{ch}_holiday{y}" for ch in PAID_CHANNELS for y in range(20, 30)]
    camp_vocab.append(None)
    pidx = np.array([PAID_CHANNELS.index(ch) if ch in PAID_CHANNELS else 0 for ch in chans])[chan]
    camp = np.where(holiday, len(PAID_CHANNELS) + pidx * 10 + (yy - 20), pidx)
    camp = np.where(paid, camp, len(camp_vocab) - 1)
    src = np.array([UTM[ch][0] for ch in chans], dtype=object)
    med = np.array([UTM[ch][1] for ch in chans], dtype=object)
    camp_arr = _take(np.array(camp_vocab, dtype=object), camp)
    n_t = len(tch["ts"])
    return pa.table({
        "touch_id": _ids("T", first_id + np.arange(n_t), w_t),
        "customer_id": _ids("C", lo + 1 + tch["cust"], w_c),
        "touch_ts": _ts(tch["ts"], origin_us),
        "channel": _take(np.array(chans, dtype=object), chan),
        "campaign_id": camp_arr,
        "utm_source": _take(src, chan),
        "utm_medium": _take(med, chan),
        "utm_campaign": camp_arr,
    })


def _spend_table(rng, spend, origin_us, dem) -> pa.Table:
    chans = list(MEDIA)
    ch = spend["channel"]
    camp_vocab = np.array([f"{c}_always_on" for c in chans] +
                          [f"{c}_holiday{y}" for c in chans for y in range(20, 30)], dtype=object)
    camp = np.where(spend["campaign"] < 0, ch, len(chans) + ch * 10 + (spend["campaign"] - 20))
    cpm = np.array([MEDIA[c]["cpm"] for c in chans])[ch]
    ctr = np.array([MEDIA[c]["ctr"] for c in chans])[ch]
    impressions = np.round(spend["spend"] / cpm * 1000 * rng.lognormal(0, 0.1, len(ch))).astype(np.int64)
    clicks = rng.binomial(impressions, ctr).astype(np.int64)
    order = np.lexsort((camp, ch, spend["day"]))
    date = pa.array((origin_us // US_PER_DAY + spend["day"][order]).astype(np.int32), pa.date32())
    return pa.table({
        "date": date,
        "channel": _take(np.array(chans, dtype=object), ch[order]),
        "campaign_id": _take(camp_vocab, camp[order]),
        "spend": pa.array(spend["spend"][order]),
        "impressions": pa.array(impressions[order]),
        "clicks": pa.array(clicks[order]),
    })


EXPERIMENT_IDS = {"email": "xmas25_email_holdout", "subj": "xmas25_subject_line",
                  "fs": "xmas25_free_shipping", "gw": "xmas25_gift_wrap", "aa": "xmas25_aa"}


def _assignment_table(rng, assign, treat, w_c, origin_us, cutoff, xmas_days) -> pa.Table:
    parts = []
    for key in EXPERIMENT_IDS:
        idx = np.flatnonzero(assign[key])
        at = (xmas_days[0] - 1 / 24 if key == "subj" else cutoff + 5) + rng.uniform(0, 0.5, len(idx))
        parts.append((np.full(len(idx), list(EXPERIMENT_IDS).index(key)), idx, treat[key][idx].astype(int), at))
    e = np.concatenate([p[0] for p in parts])
    cust = np.concatenate([p[1] for p in parts])
    var = np.concatenate([p[2] for p in parts])
    at = np.concatenate([p[3] for p in parts])
    return pa.table({
        "experiment_id": _take(np.array(list(EXPERIMENT_IDS.values()), dtype=object), e),
        "customer_id": _ids("C", cust + 1, w_c),
        "variant": _take(np.array(["control", "treatment"], dtype=object), var),
        "assigned_ts": _ts(at, origin_us),
    })


def _truth_customers(c, p_buy, w_c) -> pa.Table:
    arch = np.array(list(ARCHETYPES), dtype=object)
    n = len(c["person"])
    return pa.table({
        "customer_id": _ids("C", np.arange(n) + 1, w_c),
        "person_id": _ids("C", np.where(c["kind"] == 0, np.arange(n), c["person"]) + 1, w_c),
        "archetype": _take(arch, c["archetype"]),
        "country": _take(np.array(list(COUNTRIES), dtype=object), c["country"]),
        "bgnbd_lambda_per_week": pa.array(c["lam"]),
        "bgnbd_dropout_p": pa.array(c["p"]),
        "p_buy_window": pa.array(p_buy),
        "mean_spend": pa.array(c["mean_spend"]),
        "preferred_send_hour_utc": pa.array(c["pref_hour"].astype(np.int64)),
        "email_open_prob": pa.array(c["open_p"]),
        "seasonal": pa.array(c["profile"] == PROFILES.index("seasonal")),
    })


def _bf_check(dem, bf_counts, media_lam) -> dict[str, Any]:
    """Expected Black Friday order count vs median Mon-Thu 1-20 Nov (2023, 2024) from the curves.

    ``bf_counts[year]``: BG/NBD sale orders in that November per country x profile group.
    """
    days = dem["days"]
    out = {}
    for year, counts in bf_counts.items():
        nov = np.flatnonzero((days.year == year) & (days.month == 11))
        if len(nov) == 0:
            continue
        expected = np.array(media_lam[nov], dtype=float)
        for g, (cc, pf) in enumerate((cc, pf) for cc in COUNTRIES for pf in PROFILES):
            curve = dem["curves"][(cc, pf)][nov]
            expected += counts[g] * curve / curve.sum()
        bf = (pd.Timestamp(calendar.event_date("black_friday", "US", year)) - days[0]).days - nov[0]
        ref = [i for i, d in enumerate(days[nov]) if d.day_of_week <= 3 and d.day <= 20]
        out[str(year)] = {"black_friday_orders": float(expected[bf]),
                          "reference_median_orders": float(np.median(expected[ref]))}
    return {"definition": "sale orders (revenue > 0, all countries) on Black Friday vs the median "
                          "daily count over Mon-Thu days of 1-20 November; expected from the planted "
                          "curves given the realised monthly order counts", "by_year": out}


def _truth(n, seed, origin, last, g, exp_truth, acc, defects, rows, products) -> dict:
    """Everything planted, as written to ``truth.json``."""
    dem, c, assign = g["dem"], g["c"], g["assign"]
    # Media truth: realised spend and AOV of media-driven orders.
    aov = acc["media_rev"] / acc["media_n"] if acc["media_n"] else PLANNED_AOV
    channels = {}
    for ch, p in g["media"].items():
        s = g["spend"]["total"][ch]
        inc = p["beta"] * (1 - np.exp(-s / p["kappa"]))
        sbar = float(s.mean())
        channels[ch] = {
            "curve": "incremental_orders_per_day = beta * (1 - exp(-spend_per_day / kappa))",
            "beta": p["beta"], "kappa": p["kappa"], "aov": aov,
            "mean_daily_spend": sbar, "total_spend": float(s.sum()),
            "true_incremental_orders": float(inc.sum()),
            "true_iroas": float(inc.sum() * aov / s.sum()),
            "marginal_iroas_at_mean_spend": float(p["beta"] * np.exp(-sbar / p["kappa"]) / p["kappa"] * aov),
        }
    tt = g["touch"]
    weights = {k: TOUCH_MODEL[k]["weight"] for k in tt["chans"]}
    ranks = {k: i + 1 for i, k in enumerate(sorted(weights, key=lambda k: -weights[k]))}
    touch_model = {
        "conversion": "P(convert | channels S) = 1 - (1 - base) * prod_{c in S} (1 - weight_c)",
        "base_conversion": TOUCH_BASE_CONVERSION, "p_convert": tt["p_conv"],
        "channels": {k: {"incremental_weight": weights[k], "exposure_prob": TOUCH_MODEL[k]["exposure"],
                         "stage": TOUCH_MODEL[k]["stage"], "incremental_rank": ranks[k],
                         "true_shapley_share": float(tt["shapley_share"][i])}
                     for i, k in enumerate(tt["chans"])},
        "incremental_rank": ranks,
        "notes": "Converting journeys end at web/app sale orders from events_start + 14 days; "
                 "non-converting journeys are sampled at the model's rate. Touches are ordered by "
                 "stage, so direct and paid_search come last without causing much.",
    }
    experiments = {}
    descs = {"xmas25_email_holdout": "treatment = receives the xmas25_* emails, control = 10% holdout",
             "xmas25_free_shipping": "treatment = free shipping offer; conversion in the window",
             "xmas25_aa": "A/A test: no difference between arms"}
    for exp_id, (metric, ctrl, trt, share) in exp_truth.items():
        experiments[exp_id] = _arm_entry(metric, ctrl, trt, share, descs[exp_id])
    pop = assign["gw"]
    base_rpu = float(acc["gw_pre_rev"][pop].mean())
    trt_rpu = base_rpu + GIFT_WRAP_TAKE * GIFT_WRAP_PRICE * float(acc["gw_orders"][pop].mean())
    experiments["xmas25_gift_wrap"] = _arm_entry(
        "revenue_per_user", base_rpu, trt_rpu, 0.5,
        "sum of sale-order revenue (revenue > 0) in the window per assigned user; treatment adds a "
        f"gift-wrap line ({GIFT_WRAP_PRICE}) to {GIFT_WRAP_TAKE:.0%} of its orders")
    ctrl_sum, trt_sum, n_launch = acc["launch"]
    experiments["xmas25_subject_line"] = _arm_entry(
        "open_rate", ctrl_sum / n_launch if n_launch else float("nan"),
        trt_sum / n_launch if n_launch else float("nan"), 0.5,
        "messages of campaign xmas25_launch, variant column; opened / sent")
    for key, exp_id in EXPERIMENT_IDS.items():
        experiments[exp_id]["n_assigned"] = int(assign[key].sum())
    experiments["xmas25_email_holdout"]["incremental_extra_purchase_prob"] = EMAIL_HOLDOUT_Q
    experiments["xmas25_free_shipping"]["incremental_extra_purchase_prob"] = FREE_SHIPPING_Q
    experiments["xmas25_subject_line"]["open_prob_multiplier"] = SUBJECT_LINE_LIFT
    arch = {}
    for name, cfg in ARCHETYPES.items():
        gamma_rate = cfg["spend"] * (GG_Q - 1) / GG_P
        arch[name] = {
            "share": cfg["share"], "n_accounts": int((c["archetype"] == list(ARCHETYPES).index(name)).sum()),
            "bgnbd": {"r": cfg["r"], "alpha": cfg["alpha"], "a": cfg["a"], "b": cfg["b"],
                      "time_unit": "operational week"},
            "gamma_gamma": {"p": GG_P, "q": GG_Q, "gamma": gamma_rate, "mean_spend": cfg["spend"]},
            "promo_prob": cfg["promo"], "email_open_beta": list(cfg["open"]), "click_prob": cfg["click"],
            "browse_sessions_per_week": cfg["browse"], "refund_prob": cfg["refund"],
            "demand_profile": cfg["profile"], "category_affinity": dict(zip(CATEGORIES, cfg["affinity"], strict=True)),
        }
    return {
        "seed": seed, "n_customers": n, "start": str(origin.date()), "end": str(last.date()),
        "rows": {name: int(rows[name]) for name in TABLES},
        "campaign": dict(CAMPAIGN),
        "events_start": EVENTS_START,
        "notes": [
            "All timestamps UTC; events, messages and touches only from events_start.",
            "Duplicate accounts (kind dup email/phone) are one_time archetype accounts of an existing person.",
            "Exactly one blank (whitespace) email and one blank phone exist; other missing values are null.",
            "p_buy_window in truth_customers is the BG/NBD-only probability (no media/experiment orders).",
            "Store orders have no events and no touch paths.",
        ],
        "demand": {
            "weekday_multipliers": dict(zip(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], WEEKDAY, strict=True)),
            "annual": {"form": "1 + amplitude * cos(2 pi (day_of_year - peak_day) / 365.25)",
                       "amplitude": ANNUAL_AMPLITUDE, "peak_day_of_year": ANNUAL_PEAK_DOY},
            "trend_growth_per_year": TREND_PER_YEAR,
            "seasonal_gift_buyer_boost": {"in_season": SEASONAL_BOOST[0], "off_season": SEASONAL_BOOST[1],
                                          "season": "10 Nov - 24 Dec; IN Diwali-14..Diwali; CN 1-11 Nov; AE Eid-10..Eid"},
            "bargain_hunter_event_power": BARGAIN_POWER,
            "black_friday_check": _bf_check(dem, acc["bf_counts"], g["media_lam"]),
        },
        "event_effects": EVENT_EFFECTS,
        "event_shapes": {k: dict(v, flat=bool(v.get("flat", False))) for k, v in EVENT_SHAPES.items()},
        "archetypes": arch,
        "channels": channels,
        "touch_model": touch_model,
        "experiments": experiments,
        "defects": defects,
        "defect_definitions": DEFECT_DEFINITIONS,
        "defect_rates_planted": DEFECT_RATES,
        "products": {"n": products.num_rows, "gift_wrap_product_id":
                     products["product_id"][products.num_rows - 1].as_py(),
                     "co_purchase": f"{PRODUCTS_PER_CLUSTER} products per cluster; 80% of orders from one "
                                    "of the customer's two favourite clusters"},
    }
