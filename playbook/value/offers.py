"""Next-best offer and content, send-time optimisation and trigger flows.

Content matrix
--------------
A mapping ``segment -> {offer, content, subject}``; the subject is a template with tokens
``{first_name}``, ``{top_product}`` and ``{offer}``. Every token has a fallback used when the
customer's value is missing (:data:`TOKEN_FALLBACKS`). The campaign config does not (yet) carry
a content matrix, so :data:`DEFAULT_CONTENT_MATRIX` is used; any mapping of the same shape can
be passed instead (it is validated by :func:`validate_content_matrix`).

Discount depth
--------------
Price sensitivity = share of the customer's past orders that used a promo code. The discount is
the :data:`DISCOUNT_LEVELS` step matching that sensitivity, capped so that the margin after the
discount stays at or above ``margin_floor`` (``gross_margin - discount >= margin_floor``).

Send time
---------
Hour-of-day (UTC) and weekday open counts per customer, shrunk towards their segment's pattern,
which is itself shrunk towards the global pattern (empirical Bayes with Dirichlet pseudo-counts:
``post = (counts + m * prior) / (n + m)``). The best hour is the mode of the posterior.

Trigger flows
-------------
A flow is a trigger event (``add_to_cart`` for cart abandonment, ``view`` for browse abandonment,
``order`` for post-purchase), ordered steps ``(name, after_hours)`` and an exit on purchase.
:func:`flow_status` says which step each customer is in as of a moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.warehouse import Warehouse, to_utc
from playbook.errors import ConfigError, DataError
from playbook.report.charts import empty_chart

TOKENS = ("first_name", "top_product", "offer")
TOKEN_FALLBACKS = {"first_name": "Friend", "top_product": "our holiday picks", "offer": "a festive surprise"}
#: Offers by name: discount (percent) is filled per customer; "{discount}" is replaced.
DEFAULT_CONTENT_MATRIX: dict[str, dict[str, str]] = {
    "Champions": {"offer": "early access + {discount}% off", "content": "vip_early_access",
                  "subject": "{first_name}, your early access to {top_product} is open"},
    "Loyal": {"offer": "{discount}% off your next order", "content": "loyalty_thanks",
              "subject": "Thank you {first_name}: {offer}"},
    "At Risk": {"offer": "{discount}% off to welcome you back", "content": "win_back",
                "subject": "{first_name}, we saved {top_product} for you"},
    "Can't Lose": {"offer": "{discount}% off, just for you", "content": "win_back_vip",
                   "subject": "{first_name}, we miss you: {offer}"},
    "Seasonal Gift Buyers": {"offer": "free gift wrap + {discount}% off", "content": "gift_guide",
                             "subject": "Gift ideas for everyone, {first_name}: {offer}"},
    "New": {"offer": "{discount}% off your second order", "content": "welcome_series",
            "subject": "{first_name}, meet {top_product}"},
    "default": {"offer": "{discount}% off holiday favourites", "content": "holiday_catalogue",
                "subject": "{first_name}, {offer} on {top_product}"},
}
DISCOUNT_LEVELS = (0, 5, 10, 15, 20)
GROSS_MARGIN_PCT = 40.0
MARGIN_FLOOR_PCT = 25.0
CART_FLOW = {"name": "abandoned cart", "trigger": "add_to_cart", "max_age_hours": 168,
             "steps": [("reminder", 2), ("incentive", 24), ("retargeting", 48)]}
BROWSE_FLOW = {"name": "browse abandonment", "trigger": "view", "max_age_hours": 72,
               "steps": [("reminder", 4), ("recommendations", 24)]}
POST_PURCHASE_FLOW = {"name": "post-purchase", "trigger": "order", "max_age_hours": 720,
                      "steps": [("thank you", 1), ("review request", 168), ("cross-sell", 336)]}
FLOWS = (CART_FLOW, BROWSE_FLOW, POST_PURCHASE_FLOW)
#: Country -> IANA zone used to show a UTC send hour as local time.
COUNTRY_TZ = {"US": "America/New_York", "GB": "Europe/London", "DE": "Europe/Berlin", "IN": "Asia/Kolkata",
              "AE": "Asia/Dubai", "CN": "Asia/Shanghai"}


# --------------------------------------------------------------------------------------------
# Content and offers


def validate_content_matrix(matrix: dict) -> None:
    """Check a content matrix: a ``default`` row, the three fields, only known tokens.

    Raises
    ------
    ConfigError
        Naming the segment and field at fault and the allowed tokens.
    """
    problems = []
    if "default" not in matrix:
        problems.append("content matrix: add a 'default' row used for customers without a listed segment")
    for seg, row in matrix.items():
        for key in ("offer", "content", "subject"):
            if key not in row or not str(row[key]).strip():
                problems.append(f"content matrix [{seg}].{key}: missing; give a non-empty text")
        for key in ("offer", "subject"):
            for tok in re.findall(r"{(\w+)}", str(row.get(key, ""))):
                allowed = (*TOKENS, "discount") if key == "offer" else TOKENS
                if tok not in allowed or (key == "offer" and tok == "offer"):
                    problems.append(f"content matrix [{seg}].{key}: unknown token {{{tok}}}; "
                                    f"use {', '.join('{' + t + '}' for t in allowed if t != 'offer' or key != 'offer')}")
    if problems:
        raise ConfigError("; ".join(problems))


def discount_for(promo_share: np.ndarray, gross_margin_pct: float = GROSS_MARGIN_PCT,
                 margin_floor_pct: float = MARGIN_FLOOR_PCT) -> np.ndarray:
    """Discount (percent) from price sensitivity, capped by the margin floor.

    ``promo_share`` in [0, 1] picks the level ``DISCOUNT_LEVELS[round(share * (L - 1))]``; the
    result never exceeds ``gross_margin_pct - margin_floor_pct`` (rounded down to a level).
    """
    levels = np.array(DISCOUNT_LEVELS, dtype=float)
    share = np.nan_to_num(np.clip(np.asarray(promo_share, dtype=float), 0, 1))
    d = levels[np.rint(share * (len(levels) - 1)).astype(int)]
    cap = gross_margin_pct - margin_floor_pct
    allowed = levels[levels <= cap]
    cap_level = allowed.max() if len(allowed) else 0.0
    return np.minimum(d, cap_level)


def render(rows: pd.Series, templates: dict[str, str], values: dict[str, pd.Series]) -> pd.Series:
    """Fill each customer's template (``templates[rows[i]]``) with their token values.

    Missing or blank values are replaced by :data:`TOKEN_FALLBACKS` (``""`` for other tokens).
    Vectorised: loops run over the few templates and their tokens, not over customers.
    """
    filled = {}
    for tok, vals in values.items():
        txt = vals.astype(object).where(vals.notna(), "").astype(str)
        filled[tok] = txt.where(txt.str.strip() != "", TOKEN_FALLBACKS.get(tok, ""))
    out = pd.Series("", index=rows.index, dtype=object)
    for name, template in templates.items():
        m = (rows == name).to_numpy()
        if not m.any():
            continue
        acc = pd.Series("", index=rows.index[m], dtype=object)
        for part in re.split(r"({\w+})", template):
            tok = part[1:-1] if part.startswith("{") and part.endswith("}") else None
            acc = acc + (filled[tok][m] if tok in filled else part)
        out[m] = acc
    return out


def next_best_offer(customers: pd.DataFrame, matrix: dict | None = None,
                    gross_margin_pct: float = GROSS_MARGIN_PCT,
                    margin_floor_pct: float = MARGIN_FLOOR_PCT) -> pd.DataFrame:
    """Offer, content variation and subject line per customer.

    Parameters
    ----------
    customers : DataFrame
        customer_id, segment, promo_share (0..1), first_name (may be missing), top_product
        (product name, may be missing).

    Returns
    -------
    pandas.DataFrame
        customer_id, segment, matrix_row, discount_pct, offer, content, subject.
    """
    matrix = matrix or DEFAULT_CONTENT_MATRIX
    validate_content_matrix(matrix)
    df = customers.copy()
    row = df["segment"].where(df["segment"].isin(list(matrix)), "default").astype(str)
    disc = discount_for(df["promo_share"].to_numpy(), gross_margin_pct, margin_floor_pct)
    offer = render(row, {r: v["offer"] for r, v in matrix.items()},
                   {"discount": pd.Series(disc, index=df.index).map("{:g}".format)})
    offer = offer.where(disc > 0, "free gift wrap")
    subject = render(row, {r: v["subject"] for r, v in matrix.items()},
                     {"first_name": df.get("first_name", pd.Series(index=df.index, dtype=object)),
                      "top_product": df.get("top_product", pd.Series(index=df.index, dtype=object)),
                      "offer": offer})
    return pd.DataFrame({"customer_id": df["customer_id"].to_numpy(), "segment": df["segment"].to_numpy(),
                         "matrix_row": row.to_numpy(), "discount_pct": disc, "offer": offer.to_numpy(),
                         "content": row.map(lambda r: matrix[r]["content"]).to_numpy(),
                         "subject": subject.to_numpy()})


def offer_preview(offers: pd.DataFrame, customers: pd.DataFrame, per_segment: int = 2) -> pd.DataFrame:
    """A pseudonymous preview: per segment, a few customers with first names masked.

    The subject is re-rendered with ``[first name]`` instead of the real first name.
    """
    from playbook.report.privacy import pseudonymize

    if offers.empty:
        return pd.DataFrame(columns=["segment", "customer", "discount_pct", "offer", "content", "subject"])
    sample = offers.groupby("matrix_row", sort=True).head(per_segment).copy()
    masked = customers.set_index("customer_id").reindex(sample["customer_id"]).reset_index()
    masked["first_name"] = "[first name]"
    again = next_best_offer(masked)
    sample["subject"] = again["subject"].to_numpy()
    sample["customer"] = pseudonymize(sample["customer_id"].astype(str)).to_numpy()
    return sample[["segment", "customer", "discount_pct", "offer", "content", "subject"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Send time


def open_counts(wh: Warehouse, start, end) -> pd.DataFrame:
    """Opens per customer, UTC weekday (0 = Monday) and hour for messages opened in [start, end)."""
    m = wh.table("messages")
    m = m.filter(m.opened_ts.notnull(), m.opened_ts >= ibis.timestamp(to_utc(start)),
                 m.opened_ts < ibis.timestamp(to_utc(end)), m.customer_id.notnull())
    m = m.mutate(hour=m.opened_ts.hour(), weekday=m.opened_ts.day_of_week.index())
    df = m.group_by(["customer_id", "weekday", "hour"]).aggregate(opens=m.count()).execute()
    df["customer_id"] = df["customer_id"].astype(str)
    return df


def _shrunk(counts: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    n = counts.sum(axis=1, keepdims=True)
    return (counts + strength * prior) / (n + strength)


def send_times(opens: pd.DataFrame, segments: pd.Series | None = None, strength: float = 5.0
               ) -> pd.DataFrame:
    """Best UTC hour and weekday per customer (empirical Bayes shrinkage).

    Parameters
    ----------
    opens : DataFrame
        From :func:`open_counts`.
    segments : Series, optional
        customer_id -> segment; without it only the global prior is used.
    strength : float
        Pseudo-opens of the prior (a customer with ``strength`` opens weighs their own pattern
        and the prior equally).

    Returns
    -------
    pandas.DataFrame
        customer_id, opens, best_hour_utc, best_weekday (0 = Monday), hour_confidence
        (posterior share of the best hour).
    """
    if opens.empty:
        return pd.DataFrame(columns=["customer_id", "opens", "best_hour_utc", "best_weekday", "hour_confidence"])
    custs = pd.Index(np.sort(opens["customer_id"].unique()))
    r = custs.get_indexer(opens["customer_id"])
    H = np.zeros((len(custs), 24))
    W = np.zeros((len(custs), 7))
    np.add.at(H, (r, opens["hour"].to_numpy(int)), opens["opens"].to_numpy(float))
    np.add.at(W, (r, opens["weekday"].to_numpy(int)), opens["opens"].to_numpy(float))
    seg = (segments.reindex(custs).fillna("none").astype(str).to_numpy() if segments is not None
           else np.full(len(custs), "all"))
    g_h = (H.sum(0) + 1) / (H.sum() + 24)
    g_w = (W.sum(0) + 1) / (W.sum() + 7)
    codes, uniq = pd.factorize(seg)
    Sh = np.zeros((len(uniq), 24))
    Sw = np.zeros((len(uniq), 7))
    np.add.at(Sh, codes, H)
    np.add.at(Sw, codes, W)
    prior_h = _shrunk(Sh, g_h[None, :], strength * 4)[codes]
    prior_w = _shrunk(Sw, g_w[None, :], strength * 4)[codes]
    post_h = _shrunk(H, prior_h, strength)
    post_w = _shrunk(W, prior_w, strength)
    return pd.DataFrame({"customer_id": custs.to_numpy(), "opens": H.sum(1).astype(int),
                         "best_hour_utc": post_h.argmax(1), "best_weekday": post_w.argmax(1),
                         "hour_confidence": post_h.max(1)})


def global_best_hour(opens: pd.DataFrame) -> int:
    """The single hour (UTC) with the most opens; 10 when there are none."""
    if opens.empty:
        return 10
    return int(opens.groupby("hour")["opens"].sum().idxmax())


def evaluate_send_time(wh: Warehouse, split, end, segments: pd.Series | None = None,
                       window_hours: int = 1) -> pd.DataFrame:
    """Held-out check: share of opens after ``split`` within ``window_hours`` of the chosen hour.

    Personal hours are learned from opens before ``split``; the baseline is the single best
    global hour. Only customers with held-out opens are scored.
    """
    train = open_counts(wh, pd.Timestamp("1970-01-01", tz="UTC"), split)
    test = open_counts(wh, split, end)
    if train.empty or test.empty:
        raise DataError("Not enough email opens before and after the split to evaluate send times.")
    st = send_times(train, segments).set_index("customer_id")["best_hour_utc"]
    g = global_best_hour(train)
    t = test.copy()
    t["personal"] = st.reindex(t["customer_id"]).fillna(g).to_numpy()

    def share_within(pred: np.ndarray) -> float:
        d = np.abs(t["hour"].to_numpy() - pred) % 24
        d = np.minimum(d, 24 - d)
        w = t["opens"].to_numpy(float)
        return float((w * (d <= window_hours)).sum() / w.sum())

    return pd.DataFrame({"method": ["personal (shrunk)", f"global best hour ({g:02d}:00 UTC)"],
                         "held_out_opens": int(t["opens"].sum()),
                         f"share_within_{window_hours}h": [share_within(t["personal"].to_numpy()),
                                                           share_within(np.full(len(t), g))]})


def local_send_time(best_hour_utc: pd.Series, country: pd.Series, day="2025-11-15") -> pd.Series:
    """The UTC send hour shown as local ``HH:00`` in the customer's country (on ``day``)."""
    out = pd.Series("", index=best_hour_utc.index, dtype=object)
    for cc, tz in COUNTRY_TZ.items():  # loop over countries, not customers
        m = (country == cc).to_numpy() & best_hour_utc.notna().to_numpy()
        if m.any():
            ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(best_hour_utc[m].astype(int), unit="h")
            out[m] = pd.DatetimeIndex(ts).tz_convert(tz).strftime("%H:00 ") + tz
    rest = (out == "") & best_hour_utc.notna()
    out[rest] = best_hour_utc[rest].astype(int).map(lambda h: f"{h:02d}:00 UTC")
    return out


def plot_send_hours(st: pd.DataFrame) -> plt.Figure:
    """Distribution of customers' best send hours (UTC)."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    if st.empty:
        empty_chart(ax, "No email opens: no send-time data")
        return fig
    counts = st["best_hour_utc"].value_counts().reindex(range(24), fill_value=0)
    ax.bar(counts.index, counts.to_numpy(), color="#1f4e79")
    ax.set_xlabel("best send hour (UTC)")
    ax.set_ylabel("customers")
    ax.set_title("Personal best send hour from past opens")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Trigger flows


@dataclass
class FlowSpec:
    """A trigger flow: trigger event, ordered steps (name, hours after trigger), max age."""

    name: str
    trigger: str
    steps: list[tuple[str, float]]
    max_age_hours: float

    @classmethod
    def from_dict(cls, d: dict) -> FlowSpec:
        if d.get("trigger") not in ("add_to_cart", "view", "order"):
            raise ConfigError(f"flow {d.get('name')!r}: trigger must be one of add_to_cart, view, order; "
                              f"got {d.get('trigger')!r}")
        steps = [(str(n), float(h)) for n, h in d["steps"]]
        if not steps or any(b[1] <= a[1] for a, b in zip(steps, steps[1:], strict=False)):
            raise ConfigError(f"flow {d['name']!r}: steps must be non-empty with increasing hours")
        return cls(d["name"], d["trigger"], steps, float(d["max_age_hours"]))


def flow_status(wh: Warehouse, as_of, flow: dict | FlowSpec) -> pd.DataFrame:
    """Which step of a flow each customer is in as of ``as_of`` (engine-side, per customer).

    A customer enters with their latest trigger in ``[as_of - max_age, as_of)`` and leaves on a
    sale order after it (not for the post-purchase flow, whose trigger is the order). Step =
    the last step whose delay has passed; ``waiting`` before the first.

    Returns
    -------
    pandas.DataFrame
        customer_id, hours_since_trigger, step.
    """
    spec = flow if isinstance(flow, FlowSpec) else FlowSpec.from_dict(flow)
    cut = to_utc(as_of)
    lo = ibis.timestamp(cut - pd.Timedelta(hours=spec.max_age_hours))
    hi = ibis.timestamp(cut)
    o = wh.table("orders")
    o = o.filter(o.order_ts < hi, o.revenue >= 0, o.customer_id.notnull())
    if spec.trigger == "order":
        trig = o.filter(o.order_ts >= lo).group_by("customer_id").aggregate(trigger_ts=o.order_ts.max())
        df = trig.execute()
    else:
        if not wh.has("events"):
            return pd.DataFrame(columns=["customer_id", "hours_since_trigger", "step"])
        e = wh.table("events")
        e = e.filter(e.event_ts >= lo, e.event_ts < hi, e.event_type == spec.trigger, e.customer_id.notnull())
        trig = e.group_by("customer_id").aggregate(trigger_ts=e.event_ts.max())
        last = o.filter(o.order_ts >= lo).group_by("customer_id").aggregate(last_order=o.order_ts.max())
        j = trig.left_join(last, "customer_id")
        j = j.filter(j.last_order.isnull() | (j.last_order < j.trigger_ts))
        df = j.select("customer_id", "trigger_ts").execute()
    hours = (cut - pd.to_datetime(df["trigger_ts"], utc=True)) / pd.Timedelta(hours=1)
    delays = np.array([h for _, h in spec.steps])
    names = np.array(["waiting"] + [n for n, _ in spec.steps], dtype=object)
    idx = np.searchsorted(delays, hours.to_numpy(float), side="right")
    return pd.DataFrame({"customer_id": df["customer_id"].astype(str).to_numpy(),
                         "hours_since_trigger": hours.to_numpy(float), "step": names[idx]})


def flow_counts(wh: Warehouse, as_of, flows=FLOWS) -> pd.DataFrame:
    """Customers per flow and step as of ``as_of`` (all steps listed, zeros included)."""
    rows = []
    for f in flows:  # a handful of flows
        spec = f if isinstance(f, FlowSpec) else FlowSpec.from_dict(f)
        st = flow_status(wh, as_of, spec)
        counts = st["step"].value_counts()
        for step in ["waiting"] + [n for n, _ in spec.steps]:
            rows.append({"flow": spec.name, "step": step, "customers": int(counts.get(step, 0))})
    return pd.DataFrame(rows)


def campaign_send_times(wh: Warehouse, cfg, segments: pd.Series | None = None, holdout_days: int = 120
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Send times learned from all opens before the planning cutoff, and the held-out check
    (learn before ``cutoff - holdout_days``, test on the last ``holdout_days``).

    Returns (send_times, evaluation); the evaluation is empty when there are too few opens.
    """
    cut = to_utc(cfg.season.planning_cutoff)
    if not wh.has("messages"):
        return send_times(pd.DataFrame(columns=["customer_id", "weekday", "hour", "opens"])), pd.DataFrame()
    st = send_times(open_counts(wh, pd.Timestamp("1970-01-01", tz="UTC"), cut), segments)
    try:
        ev = evaluate_send_time(wh, cut - pd.Timedelta(days=holdout_days), cut, segments)
    except DataError:
        ev = pd.DataFrame()
    return st, ev


def describe_send_time(st: pd.DataFrame, ev: pd.DataFrame) -> str:
    """One sentence on the send-time result (Markdown)."""
    if st.empty:
        return "No email opens before the cutoff: everyone gets the default send time (10:00 UTC)."
    text = f"{len(st):,} customers have a personal send hour learned from their past opens"
    if not ev.empty:
        col = ev.columns[2]
        text += (f"; on held-out opens the personal hour was within an hour of the actual open "
                 f"{ev[col].iloc[0]:.0%} of the time, against {ev[col].iloc[1]:.0%} for the single best global hour")
    return text + "."


def people_preview(people: pd.DataFrame, per_segment: int = 2) -> pd.DataFrame:
    """:func:`offer_preview` of the per-customer table built by
    :func:`playbook.value.audiences.build_people` (first names masked, ids pseudonymous)."""
    offers = people[["customer_id", "segment", "matrix_row", "discount_pct", "offer", "content", "subject"]]
    customers = people[["customer_id", "segment", "promo_share", "first_name", "top_product"]]
    return offer_preview(offers, customers, per_segment=per_segment)


def offers_by_segment(people: pd.DataFrame) -> pd.DataFrame:
    """Customers and mean discount (percent) per segment of the per-customer offer table."""
    return (people.groupby("segment")
            .agg(customers=("customer_id", "size"), mean_discount_pct=("discount_pct", "mean"))
            .sort_values("customers", ascending=False))
