"""Experiments in the 2025 campaign window: assignment, incremental orders with known lift,
the expected metric per arm (truth) and the ``assignments`` table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from playbook.data.synth.params import (
    EMAIL_HOLDOUT_Q,
    EXPERIMENT_IDS,
    FREE_SHIPPING_Q,
    Arrays,
)
from playbook.data.synth.util import _ids, _take, _ts


def _converted(n: int, ts: np.ndarray, cust: np.ndarray, win: tuple[float, float]) -> np.ndarray:
    m = (ts >= win[0]) & (ts < win[1])
    return np.bincount(cust[m], minlength=n) > 0


def _assign_experiments(rng: np.random.Generator, c: Arrays, cutoff: float) -> tuple[Arrays, Arrays]:
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


def _experiment_orders(rng: np.random.Generator, c: Arrays, a: Arrays, treat: Arrays, base_conv: np.ndarray,
                       win: tuple[float, float], xmas_days: list[float]) -> tuple[np.ndarray, np.ndarray]:
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


def _experiment_truth(a: Arrays, treat: Arrays, b: np.ndarray) -> dict[str, tuple[str, float, float, float]]:
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


def _assignment_table(rng: np.random.Generator, assign: Arrays, treat: Arrays, w_c: int, origin_us: int,
                      cutoff: float, xmas_days: list[float]) -> pa.Table:
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
