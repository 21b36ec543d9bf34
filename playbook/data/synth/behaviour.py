"""Behaviour tables: web/app sessions and events (purchase and browse sessions, planted events
before signup), email/SMS/push messages, and multi-touch journeys from a known incremental
conversion model."""

from __future__ import annotations

from math import factorial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from playbook.data.contract import PAID_CHANNELS
from playbook.data.synth.params import (
    PRODUCTS_PER_CLUSTER,
    SUBJECT_LINE_LIFT,
    TOUCH_BASE_CONVERSION,
    TOUCH_MODEL,
    UTM,
    Arrays,
)
from playbook.data.synth.util import _ids, _rank_within, _take, _ts


def _events(rng: np.random.Generator, c: Arrays, o: Arrays, prod: Arrays, ev_start: float, n_days: int,
            pre_c: np.ndarray) -> Arrays:
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


def _messages(rng: np.random.Generator, c: Arrays, camps: list[dict[str, Any]], email_arm: np.ndarray,
              holdout: np.ndarray, subj_treat: np.ndarray, win: tuple[float, float], n_days: int) -> Arrays:
    """Sends, opens (clustered at the preferred hour), clicks, unsubscribes, bounces."""
    can_email = c["consent_email"] & ~c["email_missing"]
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("cust", "camp", "sent", "variant")}
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


def _touches(rng: np.random.Generator, c: Arrays, o: Arrays, ev_start: float, n_days: int,
             tt: dict[str, Any]) -> Arrays:
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


def _touch_table(tch: Arrays, chans: list[str], lo: int, w_c: int, first_id: int, w_t: int, origin_us: int,
                 dem: dict[str, Any]) -> pa.Table:
    """Touches of one chunk (accounts from ``lo``); touch ids start at ``first_id``."""
    chan = tch["chan"]
    day = np.clip(np.floor(tch["ts"]).astype(np.int64), 0, len(dem["days"]) - 1)
    holiday = np.asarray(dem["days"].month >= 11)[day]
    yy = np.asarray(dem["days"].year % 100)[day]
    paid = np.array([ch in PAID_CHANNELS for ch in chans])[chan]
    camp_vocab: list[str | None] = [f"{ch}_always_on" for ch in PAID_CHANNELS]
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
