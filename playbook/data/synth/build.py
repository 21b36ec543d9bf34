"""Entry point of the synthetic generator: :func:`generate` draws the population once, then
generates orders, order items, events, messages and touches chunk by chunk and streams them to
Parquet (see the package docstring for what is planted)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from playbook.data.synth.behaviour import (
    _campaigns,
    _events,
    _messages,
    _touch_table,
    _touch_tables,
    _touches,
)
from playbook.data.synth.bgnbd import (
    _bgnbd_orders,
    _cum,
    _group_of,
    _p_buy_window,
)
from playbook.data.synth.customers import (
    _customer_table,
    _customers,
    _product_table,
    _products,
    _truth_customers,
)
from playbook.data.synth.defects import _customer_defects
from playbook.data.synth.demand import _promo_stems, demand_curves
from playbook.data.synth.experiments import (
    _assign_experiments,
    _assignment_table,
    _converted,
    _experiment_orders,
    _experiment_truth,
)
from playbook.data.synth.media import _media_orders, _media_params, _spend, _spend_table
from playbook.data.synth.orders import _build_orders, _gift_wrap, _refunds
from playbook.data.synth.params import (
    CAMPAIGN,
    CHUNK_CUSTOMERS,
    COUNTRIES,
    DEFECT_RATES,
    EVENTS_START,
    PROFILES,
    Arrays,
    Progress,
)
from playbook.data.synth.truth import _truth
from playbook.data.synth.util import _ids, _say, _take, _ts, _us, _width
from playbook.data.synth.writer import (
    STREAMED_TABLES,
    _jsonable,
    _ParquetStreams,
    _write,
)
from playbook.errors import ConfigError
from playbook.files import swap_folder
from playbook.paths import resolve


def generate(n_customers: int = 20_000, seed: int = 42, out_dir: str | os.PathLike[str] = "data/sample",
             start: str = "2023-01-01", end: str = "2026-01-31", progress: Progress = None,
             chunk_customers: int = CHUNK_CUSTOMERS) -> dict[str, Any]:
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
        swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return truth


def _generate_into(folder: Path, n: int, seed: int, origin: pd.Timestamp, last: pd.Timestamp,
                   chunk: int, progress: Progress) -> dict[str, Any]:
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
    written: dict[str, Any] = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    return written


def _population(rng: np.random.Generator, n: int, origin: pd.Timestamp, last: pd.Timestamp,
                progress: Progress) -> dict[str, Any]:
    """Everything drawn once for all accounts: demand, products, accounts, media, experiments.

    Returns a dict of the shared state the chunks read (never write): ``c`` (per-account
    arrays), calendar day numbers (float days since ``origin``), media orders sorted by account,
    the planted pre-signup accounts and the id widths.
    """

    def day_of(s: str) -> float:
        return float((pd.Timestamp(s) - origin).days)

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


def _order_stats(g: dict[str, Any], c: Arrays, o: Arrays, src: np.ndarray, ref: Arrays,
                 acc: dict[str, Any]) -> None:
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


def _chunk_tables(g: dict[str, Any], lo: int, o: Arrays, ref: Arrays, ev: Arrays, msg: Arrays, tch: Arrays,
                  nxt: dict[str, int]) -> dict[str, pa.Table]:
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
