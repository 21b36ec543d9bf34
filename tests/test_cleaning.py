"""Cleaning and identity resolution: planted defects, planted people, hand-made edge cases."""

from __future__ import annotations

import pandas as pd
import pytest

from playbook.customers import cleaning
from playbook.data.warehouse import connect
from tests.sample_data import read, small_sample, truth

UTC = "UTC"


def _customers(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "email", "phone", "signup_ts"])
    df["signup_ts"] = pd.to_datetime(df["signup_ts"]).dt.tz_localize(UTC)
    df["first_name"] = "x"
    df["country"] = "US"
    df["consent_email"] = True
    df["consent_ads"] = False
    df["erased_at"] = pd.Series([pd.NaT] * len(df), dtype="datetime64[us, UTC]")
    return df


def _wh(tmp_path, customers: pd.DataFrame, orders: pd.DataFrame | None = None):
    customers.to_parquet(tmp_path / "customers.parquet")
    if orders is not None:
        orders.to_parquet(tmp_path / "orders.parquet")
    return connect(tmp_path)


@pytest.fixture(scope="module")
def sample():
    return small_sample()


def test_defect_counts_equal_planted_truth(sample):
    audit = cleaning.defect_audit(connect(sample)).set_index("defect")["count"]
    planted = truth(sample)["defects"]
    assert planted, "the sample plants defects"
    assert {k: int(audit[k]) for k in planted} == planted


def test_merged_people_match_planted_person_ids(sample):
    ident = cleaning.resolve_identities(connect(sample))
    tc = read(sample, "truth_customers")
    mapping = dict(zip(ident.merge_map["customer_id"], ident.merge_map["kept_id"], strict=True))
    resolved = tc["customer_id"].map(mapping).fillna(tc["customer_id"])
    assert (resolved == tc["person_id"]).all()
    assert ident.n_merged == int((tc["customer_id"] != tc["person_id"]).sum()) > 0
    assert ident.n_people == tc["person_id"].nunique()


def test_audit_examples_are_pseudonymous(sample):
    audit = cleaning.defect_audit(connect(sample))
    cust = read(sample, "customers")
    shown = ", ".join(audit["examples"])
    assert shown  # examples exist
    raw = set(cust["customer_id"]) | set(cust["email"].dropna().str.strip()) - {""}
    assert not any(tok.strip() in raw for tok in shown.split(","))


def test_transitive_merge_keeps_earliest_signup(tmp_path):
    # C2 ~ C3 by email (case/space), C3 ~ C1 by phone (formatting): one person; C1 signed up first.
    c = _customers([
        ("C1", "a@x.com", "+1 (555) 123-4567", "2024-03-01"),
        ("C2", "B@Y.com ", None, "2024-01-10"),
        ("C3", "  b@y.com", "+15551234567", "2024-05-01"),
        ("C4", "  ", " ", "2023-01-01"),        # blank email/phone: never merged
        ("C5", None, None, "2023-02-01"),
        ("C6", "c@z.org", "15551234567", "2024-06-01"),  # no '+': a different normalised phone
    ])
    ident = cleaning.resolve_identities(_wh(tmp_path, c))
    got = ident.merge_map.set_index("customer_id")["kept_id"].to_dict()
    assert got == {"C1": "C2", "C3": "C2"}
    assert ident.n_people == 4
    reasons = ident.merge_map.set_index("customer_id")["reason"].to_dict()
    assert reasons == {"C1": "phone", "C3": "email+phone"}


def test_normalisation_and_validity(tmp_path):
    c = _customers([
        ("C1", " Ann.Lee@Example.COM ", "+44 20 7946-0958", "2024-01-01"),
        ("C2", "no-at-sign.example.com", "12", "2024-01-02"),
        ("C3", "a@@b.com", "0049 (30) 1234567", "2024-01-03"),
        ("C4", "x@y", None, "2024-01-04"),
    ])
    t = cleaning.clean_customers(_wh(tmp_path, c)).order_by("customer_id").execute()
    assert t["email_norm"].tolist() == ["ann.lee@example.com", "no-at-sign.example.com", "a@@b.com", "x@y"]
    assert t["email_valid"].tolist() == [True, False, False, False]
    assert t["phone_norm"].tolist()[:3] == ["+442079460958", "12", "0049301234567"]
    assert pd.isna(t["phone_norm"].iloc[3])
    assert t["phone_valid"].tolist() == [True, False, True, False]


def test_merge_map_applies_to_other_tables(tmp_path):
    c = _customers([("C1", "a@x.com", None, "2024-01-01"), ("C2", "A@X.COM", None, "2024-02-01"),
                    ("C3", "b@x.com", None, "2024-01-01")])
    o = pd.DataFrame({"order_id": ["O1", "O2", "O3"], "customer_id": ["C1", "C2", "C3"],
                      "order_ts": pd.to_datetime(["2024-03-01"] * 3).tz_localize(UTC),
                      "channel": "web", "revenue": [10.0, 20.0, 5.0], "discount": 0.0, "promo_code": None})
    wh = _wh(tmp_path, c, o)
    ident = cleaning.resolve_identities(wh)
    t = cleaning.resolve_customer_ids(wh.table("orders"), ident.merge_map)
    got = t.group_by("customer_id").aggregate(rev=t.revenue.sum()).execute().set_index("customer_id")["rev"]
    assert got.to_dict() == {"C1": 30.0, "C3": 5.0}


def test_no_duplicates_gives_empty_merge_map(tmp_path):
    c = _customers([("C1", "a@x.com", "+1555", "2024-01-01"), ("C2", "b@x.com", "+1666", "2024-01-01")])
    ident = cleaning.resolve_identities(_wh(tmp_path, c))
    assert ident.n_merged == 0 and ident.n_people == 2
    assert list(ident.merge_map.columns) == ["customer_id", "kept_id", "reason"]
