"""Customer-base summary and experiment inventory against pandas and the planted allocation."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from playbook.customers.profile import customer_base_summary, describe_customer_base
from playbook.data.warehouse import connect
from playbook.experiments.inventory import experiment_inventory
from playbook.steps.personalize import customer_base_headline
from tests.sample_data import read, small_sample, truth


@pytest.fixture(scope="module")
def sample():
    folder = small_sample()
    return folder, connect(folder)


def test_customer_base_matches_pandas(sample):
    folder, wh = sample
    as_of = pd.Timestamp("2025-10-15", tz="UTC")
    got = customer_base_summary(wh, "2025-10-15").set_index("country")
    cust = read(folder, "customers")
    cust = cust[cust.signup_ts < as_of]
    live = cust[cust.erased_at.isna()]
    orders = read(folder, "orders")
    sales = orders[(orders.revenue >= 0) & (orders.order_ts < as_of)]
    active_ids = set(sales[sales.order_ts >= as_of - pd.Timedelta(days=365)].customer_id)
    assert got.loc["All", "customers"] == len(live)
    assert got.loc["All", "erased"] == cust.erased_at.notna().sum()
    assert got.loc["All", "active"] == live.customer_id.isin(active_ids).sum()
    assert got.loc["All", "buyers"] == live.customer_id.isin(set(sales.customer_id)).sum()
    assert got.loc["All", "email_consent"] == pytest.approx(live.consent_email.mean())
    for country, grp in live.groupby("country"):
        assert got.loc[country, "customers"] == len(grp)
    assert "customer accounts" in describe_customer_base(got.reset_index())
    assert customer_base_headline(got.reset_index())["customers"] == f"{len(live):,}"


def test_customer_base_before_any_signup_is_empty_not_nan(sample):
    _, wh = sample
    got = customer_base_summary(wh, "1990-01-01")
    total = got[got.country == "All"].iloc[0]
    assert total["customers"] == 0
    assert "nobody" in describe_customer_base(got)


def test_experiment_inventory_counts_and_planned_shares(sample):
    folder, wh = sample
    planted = truth(folder)["experiments"]
    exps = [SimpleNamespace(id=k, primary_metric=v.get("metric", "conversion"), variants=list(v["variants"]),
                            allocation=[v["allocation"][arm] for arm in v["variants"]])
            for k, v in planted.items()]
    exps.append(SimpleNamespace(id="not_run_yet", primary_metric="conversion", variants=["a", "b"],
                                allocation=[0.5, 0.5]))
    inv = experiment_inventory(wh, exps)
    a = read(folder, "assignments")
    exp_counts = a.groupby(["experiment_id", "variant"]).customer_id.nunique()
    for _, r in inv[inv.experiment_id != "not_run_yet"].iterrows():
        assert r["assigned"] == exp_counts.loc[(r["experiment_id"], r["variant"])]
        # randomisation in the generator follows the planted allocation
        assert r["share"] == pytest.approx(r["planned_share"], abs=0.05)
    missing = inv[inv.experiment_id == "not_run_yet"]
    assert (missing["status"] == "no assignments").all() and (missing["assigned"] == 0).all()
