"""Planted parameters of the synthetic generator: markets, archetypes, demand, media, touches,
experiments and defect rates (every number that ends up in ``truth.json``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

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

SUBJECT_LINE_LIFT = 1.2

EMAIL_HOLDOUT_Q = 0.05  # P(extra purchase | received the Xmas emails, would not have bought)

FREE_SHIPPING_Q = 0.06

GIFT_WRAP_TAKE = 0.5

EXPERIMENT_IDS = {"email": "xmas25_email_holdout", "subj": "xmas25_subject_line",
                  "fs": "xmas25_free_shipping", "gw": "xmas25_gift_wrap", "aa": "xmas25_aa"}

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

CAMPAIGN = {"window_start": "2025-11-01", "window_end": "2025-12-31", "cutoff": "2025-10-15"}

EVENTS_START = "2024-10-01"

CHUNK_CUSTOMERS = 100_000  # accounts per generation chunk (bounds peak memory)

Progress = Callable[[str], None] | None
#: Named numpy arrays of one kind of row, equal lengths (accounts ``c``, orders ``o``, sessions,
#: messages, touches ...), e.g. ``c["signup"]`` (float days since the first history day).
Arrays = dict[str, Any]
