"""Order details: lines drawn from co-purchase clusters near the Gamma-Gamma order value,
channels, discounts and promo codes, refunds, and the gift-wrap experiment's extra lines."""

from __future__ import annotations

from typing import Any

import numpy as np

from playbook.data.synth.params import (
    COUNTRIES,
    EVENT_PROMO,
    GG_P,
    GIFT_WRAP_PRICE,
    GIFT_WRAP_TAKE,
    ORDER_CHANNEL_MIX,
    PRODUCTS_PER_CLUSTER,
    Arrays,
)


def _order_lines(rng: np.random.Generator, c: Arrays, cust: np.ndarray,
                 prod: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _build_orders(rng: np.random.Generator, c: Arrays, ts: np.ndarray, cust: np.ndarray, prod: Arrays,
                  stems: np.ndarray) -> Arrays:
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
    vocab: list[str | None] = [f"{s}{p}" for s in EVENT_PROMO.values() for p in (10, 15, 20, 25)]
    vocab += ["SAVE10", "SAVE15", "WELCOME20", "VIP25", None]
    code_idx = np.where(stem >= 0, np.maximum(stem, 0) * 4 + (pct // 5 - 2), len(EVENT_PROMO) * 4 + (pct // 5 - 2))
    code_idx = np.where(promo, code_idx, len(vocab) - 1)
    return {
        "ts": ts, "cust": cust, "channel": channel, "gross": gross, "discount": discount,
        "code_idx": code_idx, "vocab": np.array(vocab, dtype=object),
        "l_order": l_order, "l_prod": l_prod, "l_qty": l_qty, "l_unit": unit,
    }


def _refunds(rng: np.random.Generator, c: Arrays, o: Arrays, n_days: int) -> Arrays:
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


def _gift_wrap(rng: np.random.Generator, o: Arrays, gw_treated: np.ndarray, win: tuple[float, float],
               prod: Arrays, acc: dict[str, Any], lo: int) -> None:
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
