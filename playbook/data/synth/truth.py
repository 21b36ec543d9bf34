"""The planted truth written to ``truth.json``: demand, event effects, archetypes, media
curves, touch model, experiments, defects and products."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from playbook.data.contract import TABLES
from playbook.data.synth.experiments import (
    _arm_entry,
)
from playbook.data.synth.params import (
    ANNUAL_AMPLITUDE,
    ANNUAL_PEAK_DOY,
    ARCHETYPES,
    BARGAIN_POWER,
    CAMPAIGN,
    CATEGORIES,
    COUNTRIES,
    DEFECT_DEFINITIONS,
    DEFECT_RATES,
    EMAIL_HOLDOUT_Q,
    EVENT_EFFECTS,
    EVENT_SHAPES,
    EVENTS_START,
    EXPERIMENT_IDS,
    FREE_SHIPPING_Q,
    GG_P,
    GG_Q,
    GIFT_WRAP_PRICE,
    GIFT_WRAP_TAKE,
    PLANNED_AOV,
    PRODUCTS_PER_CLUSTER,
    PROFILES,
    SEASONAL_BOOST,
    SUBJECT_LINE_LIFT,
    TOUCH_BASE_CONVERSION,
    TOUCH_MODEL,
    TREND_PER_YEAR,
    WEEKDAY,
)
from playbook.forecasting import calendar


def _bf_check(dem: dict[str, Any], bf_counts: dict[int, np.ndarray], media_lam: np.ndarray) -> dict[str, Any]:
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


def _truth(n: int, seed: int, origin: pd.Timestamp, last: pd.Timestamp, g: dict[str, Any],
           exp_truth: dict[str, tuple[str, float, float, float]], acc: dict[str, Any], defects: dict[str, int],
           rows: dict[str, int], products: pa.Table) -> dict[str, Any]:
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
