"""Customer 360 features: engine aggregates vs an independent pandas reference on the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.customers import cleaning, features
from playbook.customers.rules import _as_spec
from playbook.data.warehouse import connect
from tests.sample_data import read, small_sample

AS_OF = pd.Timestamp("2025-10-16", tz="UTC")


@pytest.fixture(scope="module")
def built():
    folder = small_sample()
    wh = connect(folder)
    ident = cleaning.resolve_identities(wh)
    cfg = load_config("campaigns/holiday-2025.yaml")
    f = features.customer_features(wh, AS_OF, ident.merge_map, windows=(30, 90),
                                   seasons=features.past_seasons(cfg, AS_OF)).set_index("customer_id")
    # Independent reference: people from the planted person ids (not from our merge map).
    person = read(folder, "truth_customers").set_index("customer_id")["person_id"]
    return folder, f, person


def _ref_orders(folder, person):
    o = read(folder, "orders")
    o = o[o["order_ts"] < AS_OF].assign(pid=lambda d: d["customer_id"].map(person))
    sale = o[o["revenue"] >= 0]
    g = pd.DataFrame({
        "orders_total": sale.groupby("pid").size(),
        "monetary_total": o.groupby("pid")["revenue"].sum(),
        "orders_90d": sale[sale["order_ts"] >= AS_OF - pd.Timedelta(days=90)].groupby("pid").size(),
        "last": sale.groupby("pid")["order_ts"].max(),
    })
    return g


def test_one_row_per_person_signed_up_before_as_of(built):
    folder, f, person = built
    c = read(folder, "customers")
    c["pid"] = c["customer_id"].map(person)
    expected = c.groupby("pid")["signup_ts"].min()
    expected = set(expected[expected < AS_OF].index)
    assert set(f.index) == expected


def test_order_features_match_pandas_reference(built):
    folder, f, person = built
    ref = _ref_orders(folder, person).reindex(f.index)
    np.testing.assert_array_equal(f["orders_total"], ref["orders_total"].fillna(0).astype(int))
    np.testing.assert_array_equal(f["orders_90d"], ref["orders_90d"].fillna(0).astype(int))
    np.testing.assert_allclose(f["monetary_total"], ref["monetary_total"].fillna(0.0), atol=1e-6)
    days = (AS_OF - ref["last"]) / pd.Timedelta(days=1)
    np.testing.assert_allclose(f["days_since_last_order"], days.astype(float), atol=1e-6)


def test_event_and_email_features_match_pandas_reference(built):
    folder, f, person = built
    ev = read(folder, "events")
    ev = ev[ev["event_ts"] < AS_OF].assign(pid=lambda d: d["customer_id"].map(person))
    lo = AS_OF - pd.Timedelta(days=30)
    s = ev.groupby(["pid", "session_id"]).agg(start=("event_ts", "min"),
                                               views=("event_type", lambda x: (x == "view").sum()),
                                               carts=("event_type", lambda x: (x == "add_to_cart").sum()),
                                               buys=("event_type", lambda x: (x == "purchase").sum()))
    s = s[s["start"] >= lo]
    views = s.groupby("pid")["views"].sum().reindex(f.index).fillna(0)
    aband = ((s["carts"] > 0) & (s["buys"] == 0)).groupby("pid").sum().reindex(f.index).fillna(0)
    np.testing.assert_array_equal(f["views_30d"], views.astype(int))
    np.testing.assert_array_equal(f["cart_abandonments_30d"], aband.astype(int))
    m = read(folder, "messages")
    m = m[(m["sent_ts"] < AS_OF) & (m["channel"] == "email")].assign(pid=lambda d: d["customer_id"].map(person))
    delivered = m[m["bounced_ts"].isna() | (m["bounced_ts"] >= AS_OF)]
    opens = (m["opened_ts"] < AS_OF).groupby(m["pid"]).sum()
    rate = (opens / delivered.groupby("pid").size()).reindex(f.index).fillna(0.0)
    np.testing.assert_allclose(f["email_open_rate"], rate.replace(np.inf, 0.0), atol=1e-9)


def test_no_missing_values_except_buyer_recency(built):
    _, f, _ = built
    na = f.isna().sum()
    assert set(na[na > 0].index) <= {"first_order_ts", "last_order_ts", "days_since_last_order",
                                     "days_since_first_order"}
    never = f["orders_total"] == 0
    assert never.any()
    assert f.loc[never, "days_since_last_order"].isna().all()
    assert (f.loc[never, ["aov", "discount_share", "seasonal_order_share"]] == 0).all().all()


def test_config_rule_fields_exist(built):
    _, f, _ = built
    cfg = load_config("campaigns/holiday-2025.yaml")
    fields = set(f.columns) | {"rfm_score", "rfm_segment", "cluster", "cluster_name"}
    used = {r.feature for s in cfg.segments for r in _as_spec(s).rules}
    assert used <= fields, used - fields


def test_shares_are_fractions(built):
    _, f, _ = built
    share_cols = [c for c in f.columns if "share" in c or c.endswith("_rate")]
    assert len(share_cols) > 8
    assert ((f[share_cols] >= 0) & (f[share_cols] <= 1 + 1e-9)).all().all()
    ch = f[[c for c in f.columns if c.startswith("channel_share_")]].sum(axis=1)
    np.testing.assert_allclose(ch[f["orders_total"] > 0], 1.0)


def test_rfm_inputs_agree_with_full_features(built):
    folder, f, _ = built
    wh = connect(folder)
    ident = cleaning.resolve_identities(wh)
    r = features.rfm_inputs(wh, AS_OF, ident.merge_map).set_index("customer_id")
    pd.testing.assert_series_equal(r["orders_total"], f["orders_total"], check_names=False)
    np.testing.assert_allclose(r["monetary_total"], f["monetary_total"])
