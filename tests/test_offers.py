"""Next-best offer, content tokens, send time (playbook.value.send_time, against planted hours)
and trigger flows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playbook.data.warehouse import connect
from playbook.errors import ConfigError
from playbook.value import offers, send_time
from tests.sample_data import read, small_sample

CUSTOMERS = pd.DataFrame({
    "customer_id": ["a", "b", "c", "d"],
    "segment": ["Loyal", "unknown seg", "New", "At Risk"],
    "promo_share": [0.0, 1.0, 0.5, np.nan],
    "first_name": ["Ann", None, "  ", "Bo"],
    "top_product": ["Lamp", None, "Book", ""],
})


def test_offer_subject_and_fallbacks():
    got = offers.next_best_offer(CUSTOMERS)
    expected = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "segment": ["Loyal", "unknown seg", "New", "At Risk"],
        "matrix_row": ["Loyal", "default", "New", "At Risk"],
        "discount_pct": [0.0, 15.0, 10.0, 0.0],
        # no discount: the configured offers are discounts only, so no offer (the subject's {offer}
        # takes its fallback); nothing else is put in their place
        "offer": ["", "15% off holiday favourites", "10% off your second order", ""],
        "content": ["loyalty_thanks", "holiday_catalogue", "welcome_series", "win_back"],
        "subject": ["Thank you Ann: a festive surprise", "Friend, 15% off holiday favourites on our holiday picks",
                    "Friend, meet Book", "Bo, we saved our holiday picks for you"],
    })
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


MATRIX = {
    "Champions": {"offer": "early access + {discount}% off", "content": "vip_early_access", "subject": "Hi {offer}"},
    "Seasonal Gift Buyers": {"offer": "free shipping", "content": "gift_guide", "subject": "{offer}, {first_name}"},
    "New": {"offer": "{discount}% off + a tote bag", "content": "welcome_series", "subject": "Welcome"},
    "default": {"offer": "{discount}% off holiday favourites", "content": "holiday_catalogue", "subject": "Hello"},
}


@pytest.mark.parametrize("matrix", [MATRIX, None], ids=["configured", "built-in"])
def test_no_promo_codes_keep_the_configured_offer_and_content(matrix):
    """Orders-only data (no promo code anywhere): price sensitivity cannot be measured, so no
    discount, and each segment keeps its configured offer (minus the discount) and content; no
    fixed "free gift wrap" in their place (issue 18 item 6; reference: the content matrix itself)."""
    segs = ["Champions", "Seasonal Gift Buyers", "New", "Loyal", "Others"]
    customers = pd.DataFrame({"customer_id": list("abcde"), "segment": segs, "promo_share": 0.0,
                              "first_name": "Ann", "top_product": "Lamp"})
    got = offers.next_best_offer(customers, matrix).set_index("segment")
    used = matrix or offers.DEFAULT_CONTENT_MATRIX
    assert (got["discount_pct"] == 0).all() and not got["offer"].str.contains("%").any()
    for _, r in got.iterrows():
        row = used[str(r["matrix_row"])]
        assert r["content"] == row["content"]
        assert r["offer"] == offers.offer_without_discount(row["offer"])
    if matrix is MATRIX:
        assert got["offer"].to_dict() == {"Champions": "early access", "Seasonal Gift Buyers": "free shipping",
                                          "New": "a tote bag", "Loyal": "", "Others": ""}
        assert got.loc["Seasonal Gift Buyers", "subject"] == "free shipping, Ann"
    else:
        assert got.loc["Champions", "offer"] == "early access"
        assert got.loc["Seasonal Gift Buyers", "offer"] == "free gift wrap"  # configured there
        assert (got.drop(index=["Champions", "Seasonal Gift Buyers"])["offer"] == "").all()
    people = got.reset_index().assign(promo_share=0.0)
    assert "price sensitivity cannot be measured" in offers.describe_offers(people)
    priced = offers.next_best_offer(customers.assign(promo_share=1.0), matrix)
    assert "cannot be measured" not in offers.describe_offers(priced.assign(promo_share=1.0))
    assert (priced["discount_pct"] == 15).all()


@pytest.mark.parametrize("template,expected", [
    ("early access + {discount}% off", "early access"), ("{discount}% off + free gift wrap", "free gift wrap"),
    ("{discount}% off your next order", ""), ("free shipping", "free shipping")])
def test_offer_without_discount_drops_only_the_discount(template, expected):
    assert offers.offer_without_discount(template) == expected


def test_preview_renders_subjects_from_the_offers_matrix():
    customers = pd.DataFrame({"customer_id": ["a"], "segment": ["Seasonal Gift Buyers"], "promo_share": [0.0],
                              "first_name": ["Ann"], "top_product": ["Lamp"]})
    prev = offers.offer_preview(offers.next_best_offer(customers, MATRIX), customers, matrix=MATRIX)
    assert prev["subject"].tolist() == ["free shipping, [first name]"]


@pytest.mark.parametrize("margin,floor,expected_max", [(40, 25, 15), (40, 32, 5), (30, 30, 0)],
                         ids=["cap15", "cap5", "no-room"])
def test_discount_never_breaks_the_margin_floor(margin, floor, expected_max):
    d = offers.discount_for(np.linspace(0, 1, 11), margin, floor)
    assert d.max() == expected_max and (margin - d >= floor).all()
    assert (np.diff(d) >= 0).all()  # more price-sensitive -> never a smaller discount


def test_content_matrix_errors_name_segment_and_token():
    bad = {"default": {"offer": "x", "content": "y", "subject": "{first_name} {nickname}"},
           "VIP": {"offer": "z", "content": ""}}
    with pytest.raises(ConfigError, match=r"\[default\]\.subject: unknown token \{nickname\}") as e:
        offers.validate_content_matrix(bad)
    assert "[VIP].subject: missing" in str(e.value) and "[VIP].content: missing" in str(e.value)


def test_preview_masks_first_names():
    prev = offers.offer_preview(offers.next_best_offer(CUSTOMERS), CUSTOMERS)
    text = prev.to_string()
    assert "Ann" not in text and "Bo," not in text and "[first name]" in text
    assert not prev["customer"].isin(CUSTOMERS["customer_id"]).any()


def test_send_time_shrinks_thin_histories_to_segment():
    opens = pd.DataFrame({"customer_id": ["x"] * 20 + ["y"] * 20 + ["thin"],
                          "weekday": [1] * 41, "hour": [19] * 20 + [19] * 20 + [3], "opens": [1] * 41})
    st = send_time.send_times(opens, pd.Series({"x": "s", "y": "s", "thin": "s"}), strength=5).set_index("customer_id")
    assert st.loc["x", "best_hour_utc"] == 19
    assert st.loc["thin", "best_hour_utc"] == 19  # one open at 3h is not enough evidence
    rich = pd.concat([opens, pd.DataFrame({"customer_id": ["thin"] * 30, "weekday": 1, "hour": 3, "opens": 1})])
    assert send_time.send_times(rich, strength=5).set_index("customer_id").loc["thin", "best_hour_utc"] == 3


def test_send_time_recovers_planted_hour_and_beats_global():
    wh = connect(small_sample())
    oc = send_time.open_counts(wh, "2020-01-01", "2025-10-15")
    st = send_time.send_times(oc).merge(pd.read_parquet(small_sample() / "truth_customers.parquet"), on="customer_id")
    assert (st["best_hour_utc"] == st["preferred_send_hour_utc"]).mean() > 0.6
    ev = send_time.evaluate_send_time(wh, "2025-06-01", "2025-10-15")
    assert ev.iloc[0, 2] > ev.iloc[1, 2]


def test_local_send_time_and_defaults():
    hours = pd.Series([19, 0, 5, np.nan])
    got = send_time.local_send_time(hours, pd.Series(["GB", "DE", "ZZ", "US"]), day="2025-11-15")
    assert got.tolist() == ["19:00 Europe/London", "01:00 Europe/Berlin", "05:00 UTC", ""]
    assert send_time.global_best_hour(pd.DataFrame(columns=["hour", "opens"])) == send_time.DEFAULT_HOUR_UTC
    empty = send_time.send_times(pd.DataFrame(columns=["customer_id", "weekday", "hour", "opens"]))
    assert empty.empty and "default send time (10:00 UTC)" in send_time.describe_send_time(empty, pd.DataFrame())


def test_cart_flow_steps_match_pandas_reference():
    src = small_sample()
    as_of = pd.Timestamp("2025-10-15", tz="UTC")
    got = offers.flow_status(connect(src), as_of, offers.CART_FLOW).set_index("customer_id")
    e = read(src, "events")
    e = e[(e.event_type == "add_to_cart") & (e.event_ts < as_of) & (e.event_ts >= as_of - pd.Timedelta(hours=168))]
    last_cart = e.groupby("customer_id")["event_ts"].max()
    o = read(src, "orders")
    o = o[(o.revenue >= 0) & (o.order_ts < as_of)].groupby("customer_id")["order_ts"].max()
    still = last_cart[~(o.reindex(last_cart.index) > last_cart).fillna(False).astype(bool)]
    assert set(got.index) == set(still.index)
    hours = (as_of - still) / pd.Timedelta(hours=1)
    ref = np.select([hours >= 48, hours >= 24, hours >= 2], ["retargeting", "incentive", "reminder"], "waiting")
    assert (got.loc[still.index, "step"].to_numpy() == ref).all()


def test_flow_counts_list_every_step():
    counts = offers.flow_counts(connect(small_sample()), "2025-10-15")
    assert set(counts["flow"]) == {"abandoned cart", "browse abandonment", "post-purchase"}
    assert (counts.groupby("flow").size() >= 3).all() and counts["customers"].sum() > 0


def test_bad_flow_is_a_config_error():
    with pytest.raises(ConfigError, match="increasing hours"):
        offers.FlowSpec.from_dict({"name": "f", "trigger": "view", "steps": [("a", 5), ("b", 2)], "max_age_hours": 9})


def test_people_helpers_mask_names_and_summarise_segments():
    people = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3"], "segment": ["Champions", "Champions", "New"],
        "matrix_row": ["Champions", "Champions", "New"], "discount_pct": [10, 20, 5],
        "offer": ["10% off", "20% off", "5% off"], "content": ["vip", "vip", "welcome"],
        "subject": ["Alexandra, hi", "Bartholomew, hi", "Cornelius, hi"], "promo_share": [0.1, 0.5, 0.0],
        "first_name": ["Alexandra", "Bartholomew", "Cornelius"], "top_product": ["P1", "P2", "P3"],
    })
    preview = offers.people_preview(people)
    text = preview.to_string()
    assert "Alexandra" not in text and "C1" not in text
    summary = offers.offers_by_segment(people)
    assert summary.loc["Champions", "customers"] == 2
    assert summary.loc["Champions", "mean_discount_pct"] == 15
