"""Next-best offer and content per customer, and trigger flows.

Send-time optimisation lives in :mod:`playbook.value.send_time`.

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

The configured offer is never replaced. A customer without a discount (no promo code used, or none
in the data at all: then price sensitivity cannot be measured and :func:`describe_offers` says so)
gets their row's offer without its discount part (:func:`offer_without_discount`):
``"early access + {discount}% off"`` becomes ``"early access"``; an offer that is only a discount
(``"{discount}% off your next order"``) becomes empty, and the row's content and subject go out
without an incentive (a subject's ``{offer}`` then takes its fallback).

Trigger flows
-------------
A flow is a trigger event (``add_to_cart`` for cart abandonment, ``view`` for browse abandonment,
``order`` for post-purchase), ordered steps ``(name, after_hours)`` and an exit on purchase.
:func:`flow_status` says which step each customer is in as of a moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

import ibis
import numpy as np
import pandas as pd

from playbook.data.warehouse import Warehouse, to_utc
from playbook.errors import ConfigError
from playbook.report.privacy import pseudonymize

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


#: The discount part of an offer template: ``{discount}% off`` with the ``+`` joining it to the rest.
_DISCOUNT_PART = re.compile(r"\s*\+\s*{discount}\s*%\s*off\b|{discount}\s*%\s*off\b\s*\+\s*")


def offer_without_discount(template: str) -> str:
    """The configured offer template for a customer who gets no discount.

    The ``{discount}% off`` part joined by ``+`` is dropped (``"free gift wrap + {discount}% off"``
    -> ``"free gift wrap"``); a template still using ``{discount}`` after that is a discount and
    nothing else, so there is no offer (``""``); a template without ``{discount}`` is kept as is.
    Nothing else is put in its place.
    """
    rest = _DISCOUNT_PART.sub("", template).strip()
    return "" if "{discount}" in rest else rest


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
            tok = part[1:-1] if part.startswith("{") and part.endswith("}") else ""
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
    plain = render(row, {r: offer_without_discount(v["offer"]) for r, v in matrix.items()}, {})
    offer = offer.where(disc > 0, plain)  # no discount: the configured offer without it, never another
    subject = render(row, {r: v["subject"] for r, v in matrix.items()},
                     {"first_name": df.get("first_name", pd.Series(index=df.index, dtype=object)),
                      "top_product": df.get("top_product", pd.Series(index=df.index, dtype=object)),
                      "offer": offer})
    return pd.DataFrame({"customer_id": df["customer_id"].to_numpy(), "segment": df["segment"].to_numpy(),
                         "matrix_row": row.to_numpy(), "discount_pct": disc, "offer": offer.to_numpy(),
                         "content": row.map(lambda r: matrix[r]["content"]).to_numpy(),
                         "subject": subject.to_numpy()})


def offer_preview(offers: pd.DataFrame, customers: pd.DataFrame, per_segment: int = 2,
                  matrix: dict | None = None) -> pd.DataFrame:
    """A pseudonymous preview: per segment, a few customers with first names masked.

    The subject is re-rendered from ``matrix`` (the one the offers were made with; default: the
    built-in matrix) with ``[first name]`` instead of the real first name.
    """
    if offers.empty:
        return pd.DataFrame(columns=["segment", "customer", "discount_pct", "offer", "content", "subject"])
    sample = offers.groupby("matrix_row", sort=True).head(per_segment).copy()
    masked = customers.set_index("customer_id").reindex(sample["customer_id"]).reset_index()
    masked["first_name"] = "[first name]"
    again = next_best_offer(masked, matrix)
    sample["subject"] = again["subject"].to_numpy()
    sample["customer"] = cast(pd.Series, pseudonymize(sample["customer_id"].astype(str))).to_numpy()
    return sample[["segment", "customer", "discount_pct", "offer", "content", "subject"]].reset_index(drop=True)


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


def people_preview(people: pd.DataFrame, per_segment: int = 2, matrix: dict | None = None) -> pd.DataFrame:
    """:func:`offer_preview` of the per-customer table built by
    :func:`playbook.value.audiences.build_people` (first names masked, ids pseudonymous)."""
    offers = people[["customer_id", "segment", "matrix_row", "discount_pct", "offer", "content", "subject"]]
    customers = people[["customer_id", "segment", "promo_share", "first_name", "top_product"]]
    return offer_preview(offers, customers, per_segment=per_segment, matrix=matrix)


def describe_offers(people: pd.DataFrame) -> str:
    """Sentence on the discount depth of the per-customer offer table (Markdown); says when price
    sensitivity cannot be measured because no order in the data used a promo code."""
    if people.empty:
        return "No customer was scored, so no offer was assigned."
    share = pd.to_numeric(people["promo_share"], errors="coerce").fillna(0.0)
    if not (share > 0).any():
        return ("No order in the data used a promo code, so price sensitivity cannot be measured: no "
                "discount is offered and each segment keeps its configured offer and content without "
                "the discount part.")
    given = people["discount_pct"] > 0
    if not given.any():
        return ("Some customers used promo codes, but the margin floor leaves no room for a discount: "
                "every segment gets its configured offer without the discount part.")
    return (f"Discount depth follows each customer's share of past orders with a promo code, capped by "
            f"the margin floor: {given.mean():.0%} of customers get a discount (mean "
            f"{people.loc[given, 'discount_pct'].mean():.1f}% among them); the others get their "
            f"segment's configured offer without the discount part.")


def offers_by_segment(people: pd.DataFrame) -> pd.DataFrame:
    """Customers and mean discount (percent) per segment of the per-customer offer table."""
    return (people.groupby("segment")
            .agg(customers=("customer_id", "size"), mean_discount_pct=("discount_pct", "mean"))
            .sort_values("customers", ascending=False))
