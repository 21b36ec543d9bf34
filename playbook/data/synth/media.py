"""Paid media: daily spend per channel with flighting, incremental orders from a saturating
response curve ``beta * (1 - exp(-spend / kappa))``, and the ``spend`` table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from playbook.data.synth.params import (
    MEDIA,
    PLANNED_AOV,
    US_PER_DAY,
    Arrays,
)
from playbook.data.synth.util import _hours, _take


def _spend(rng: np.random.Generator, n: int, days: pd.DatetimeIndex) -> dict[str, Any]:
    """Daily spend per paid channel and campaign, with flighting; incremental orders per day."""
    scale = n / 20_000
    n_days = len(days)
    holiday = np.asarray(days.month >= 11)
    week = np.arange(n_days) // 7
    rows: dict[str, list[np.ndarray]] = {"day": [], "channel": [], "campaign": [], "spend": []}
    total: dict[str, np.ndarray] = {}
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


def _media_orders(rng: np.random.Generator, c: Arrays, spend_total: dict[str, np.ndarray],
                  params: dict[str, dict[str, float]], n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Incremental orders from media: Poisson(sum_c beta_c (1 - exp(-spend_c / kappa_c))) per day."""
    lam = np.asarray(sum(p["beta"] * (1 - np.exp(-spend_total[ch] / p["kappa"])) for ch, p in params.items()))
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


def _spend_table(rng: np.random.Generator, spend: Arrays, origin_us: int, dem: dict[str, Any]) -> pa.Table:
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
