"""Incrementality from holdout experiments: what a channel really added, against its spend.

A holdout experiment is a configured experiment whose id, name or a variant says "holdout"; the
channel it measures is found in its id or name. Per arm the engine returns assigned customers,
converters and sale revenue (with its sum of squares), counting orders placed in the window and
not before the customer's assignment.

Estimates: difference in conversion rate and in revenue per assigned customer between the
exposed arm(s) and the holdout, with normal-approximation (Wald / Welch) 95 % intervals, scaled
to the exposed arm's size; iROAS = incremental revenue / the channel's spend in the window. The
"platform-style" last-touch ROAS and the Shapley ROAS of the same channel are shown beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from playbook.data.aggregates import exact_sum
from playbook.data.warehouse import Warehouse, fetch, to_day
from playbook.report.format import fmt_money

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054
#: Columns of :func:`incrementality` (one row per holdout experiment).
INCREMENTALITY_COLUMNS = [
    "experiment_id", "channel", "exposed_arm", "holdout_arm", "n_exposed", "n_holdout",
    "conv_rate_exposed", "conv_rate_holdout", "lift_abs", "lift_lo", "lift_hi",
    "incremental_conversions", "incremental_conversions_lo", "incremental_conversions_hi",
    "incremental_revenue", "incremental_revenue_lo", "incremental_revenue_hi", "spend",
    "iroas", "iroas_lo", "iroas_hi", "last_touch_roas", "shapley_roas", "note"]


def holdout_experiments(cfg: Any) -> list[Any]:
    """Configured experiments that are holdouts (a variant, the id or the name says "holdout")."""
    out = []
    for e in getattr(cfg, "experiments", []):
        words = [e.id, getattr(e, "name", "") or "", *e.variants]
        if any("holdout" in str(w).lower() for w in words):
            out.append(e)
    return out


def _channel_of(exp: Any, channels: Sequence[str]) -> str | None:
    """The first of ``channels`` named in the experiment's id or name."""
    text = f"{exp.id} {getattr(exp, 'name', '')}".lower()
    hits = [c for c in channels if c in text]
    return hits[0] if hits else None


def arm_outcomes(wh: Warehouse, experiment_id: str, start: dt.date | str | pd.Timestamp,
                 end: dt.date | str | pd.Timestamp) -> pd.DataFrame:
    """Per arm: assigned customers, converters, sale revenue (and its sum of squares), in the engine.

    Orders count when placed in the window (calendar days of the campaign's time zone,
    ``Warehouse.in_days``) and not before the customer's assignment.

    Returns
    -------
    DataFrame
        ``variant, n, converters, revenue, revenue_sq``.
    """
    cols = ["variant", "n", "converters", "revenue", "revenue_sq"]
    if not wh.has("assignments"):
        return pd.DataFrame(columns=cols)
    a = wh.table("assignments")
    a = a.filter(a.experiment_id == experiment_id).select("customer_id", "variant", "assigned_ts")
    o = wh.table("orders")
    o = o.filter(o.revenue >= 0, wh.in_days(o.order_ts, start, end)).select(  # local days of the campaign
        o_customer="customer_id", order_id="order_id", order_ts="order_ts", revenue="revenue")
    j = a.left_join(o, [a.customer_id == o.o_customer, o.order_ts >= a.assigned_ts])
    per = j.group_by(["customer_id", "variant"]).aggregate(
        rev=exact_sum(j.revenue).fill_null(0.0), orders=j.order_id.count())
    arm = per.group_by("variant").aggregate(
        n=per.count(), converters=(per.orders > 0).sum(), revenue=exact_sum(per.rev),
        revenue_sq=exact_sum(per.rev * per.rev))
    df = fetch(arm)
    df["variant"] = df["variant"].astype(str)
    for c in ("n", "converters"):
        df[c] = df[c].astype("int64")
    for c in ("revenue", "revenue_sq"):
        df[c] = pd.to_numeric(df[c]).astype(float).fillna(0.0)
    return df[cols].sort_values("variant", ignore_index=True)


def holdout_arm(variants: Sequence[str], sizes: Mapping[str, int]) -> str:
    """The arm not exposed: a variant named like "holdout", else "control", else the smallest arm."""
    for v in variants:
        if "holdout" in v.lower():
            return v
    for v in variants:
        if v.lower() == "control":
            return v
    return min(variants, key=lambda v: (sizes.get(v, 0), v))


def incrementality(wh: Warehouse, cfg: Any, spend_by_channel: Mapping[str, float] | None = None,
                   attributed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Incremental conversions, revenue and iROAS of every holdout experiment, with 95 % CIs.

    Parameters
    ----------
    spend_by_channel : mapping, optional
        Window spend per channel (currency); the experiment's channel is found in its id/name.
    attributed : DataFrame, optional
        Long attribution table; gives the "platform-style" last-touch ROAS and the Shapley ROAS
        of the channel for comparison.

    Returns
    -------
    DataFrame
        One row per holdout: ``experiment_id, channel, exposed_arm, holdout_arm, n_exposed,
        n_holdout, conv_rate_exposed, conv_rate_holdout, lift_abs, lift_lo, lift_hi,
        incremental_conversions (+ _lo, _hi), incremental_revenue (+ _lo, _hi), spend, iroas
        (+ _lo, _hi), last_touch_roas, shapley_roas, note``. Empty (with these columns) when the
        config has no holdout. Undefined values (no spend, empty arm) are NaN with a note.
    """
    s0, s1 = to_day(cfg.season.start), to_day(cfg.season.end)
    spend_by_channel = spend_by_channel or {}
    rows = []
    for exp in holdout_experiments(cfg):
        arms = arm_outcomes(wh, exp.id, s0, s1)
        ch = _channel_of(exp, list(spend_by_channel) or list(cfg.channels))
        rows.append(_holdout_row(exp.id, arms, ch, spend_by_channel, attributed))
    return pd.DataFrame(rows, columns=INCREMENTALITY_COLUMNS)


def _holdout_row(exp_id: str, arms: pd.DataFrame, channel: str | None, spend: Mapping[str, float],
                 attributed: pd.DataFrame | None) -> dict[str, Any]:
    """One row of :func:`incrementality` from the per-arm outcomes of one experiment."""
    nan = float("nan")
    row: dict[str, Any] = {"experiment_id": exp_id, "channel": channel or "unknown", "note": ""}
    if len(arms) < 2 or (arms["n"] == 0).any():
        row.update({"exposed_arm": "", "holdout_arm": "", "n_exposed": int(arms["n"].sum()) if len(arms) else 0,
                    "n_holdout": 0, "note": "fewer than two non-empty arms in the data: no estimate"})
        return row
    sizes = dict(zip(arms["variant"], arms["n"], strict=True))
    h = holdout_arm(list(arms["variant"]), sizes)
    hold = arms[arms["variant"] == h].iloc[0]
    exp = arms[arms["variant"] != h].sum(numeric_only=True)
    n_t, n_h = float(exp["n"]), float(hold["n"])
    p_t, p_h = exp["converters"] / n_t, hold["converters"] / n_h
    se_p = np.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
    m_t, m_h = exp["revenue"] / n_t, hold["revenue"] / n_h
    v_t = max(exp["revenue_sq"] / n_t - m_t ** 2, 0.0) * n_t / max(n_t - 1, 1)
    v_h = max(hold["revenue_sq"] / n_h - m_h ** 2, 0.0) * n_h / max(n_h - 1, 1)
    se_m = np.sqrt(v_t / n_t + v_h / n_h)
    lift, dm = p_t - p_h, m_t - m_h
    row.update({"exposed_arm": ", ".join(v for v in arms["variant"] if v != h), "holdout_arm": h,
                "n_exposed": int(n_t), "n_holdout": int(n_h), "conv_rate_exposed": float(p_t),
                "conv_rate_holdout": float(p_h), "lift_abs": float(lift),
                "lift_lo": float(lift - Z95 * se_p), "lift_hi": float(lift + Z95 * se_p),
                "incremental_conversions": float(lift * n_t),
                "incremental_conversions_lo": float((lift - Z95 * se_p) * n_t),
                "incremental_conversions_hi": float((lift + Z95 * se_p) * n_t),
                "incremental_revenue": float(dm * n_t), "incremental_revenue_lo": float((dm - Z95 * se_m) * n_t),
                "incremental_revenue_hi": float((dm + Z95 * se_m) * n_t)})
    s = float(spend.get(channel, 0.0)) if channel else 0.0
    row["spend"] = s
    if s > 0:
        row.update({"iroas": row["incremental_revenue"] / s, "iroas_lo": row["incremental_revenue_lo"] / s,
                    "iroas_hi": row["incremental_revenue_hi"] / s})
    else:
        row.update({"iroas": nan, "iroas_lo": nan, "iroas_hi": nan})
        row["note"] = "no spend recorded for the channel in the window: iROAS undefined"
    for model, key in (("last_touch", "last_touch_roas"), ("shapley", "shapley_roas")):
        val = nan
        if attributed is not None and not attributed.empty and s > 0:
            sub = attributed[(attributed["model"] == model) & (attributed["channel"] == channel)]
            val = float(sub["revenue"].sum()) / s
        row[key] = val
    if row["note"] == "" and n_h < 100:
        row["note"] = f"holdout has only {int(n_h)} customers: wide intervals"
    return row


def describe_incrementality(inc: pd.DataFrame, currency: str = "USD") -> str:
    """Plain-language sentence per holdout (Markdown)."""
    if inc.empty:
        return "No holdout experiment was configured, so incrementality could not be measured directly."
    parts = []
    for _, r in inc.iterrows():
        if pd.isna(r.get("lift_abs")):
            parts.append(f"**{r['experiment_id']}**: {r['note']}.")
            continue
        sig = "significant" if r["lift_lo"] > 0 or r["lift_hi"] < 0 else "not significant"
        text = (f"**{r['experiment_id']}** ({r['channel'].replace('_', ' ')}): the exposed group converted at "
                f"{r['conv_rate_exposed']:.1%} against {r['conv_rate_holdout']:.1%} in the holdout "
                f"({r['lift_abs'] * 100:+.1f} points, 95 % CI {r['lift_lo'] * 100:+.1f} to {r['lift_hi'] * 100:+.1f}; "
                f"{sig}), about {r['incremental_conversions']:,.0f} incremental buyers and "
                f"{fmt_money(r['incremental_revenue'], currency)} of incremental revenue")
        if pd.notna(r["iroas"]):
            text += (f"; iROAS {r['iroas']:.1f} (95 % CI {r['iroas_lo']:.1f} to {r['iroas_hi']:.1f}) against a "
                     f"last-touch ROAS of {r['last_touch_roas']:.1f}")
        parts.append(text + ".")
    return " ".join(parts)
