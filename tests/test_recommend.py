"""Recommendations: item-to-item CF against literal fixtures and a popularity baseline."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from playbook.data.warehouse import connect
from playbook.errors import DataError
from playbook.value import recommend
from tests.sample_data import small_sample


def _inter(rows):
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "units", "views"])


INTER = _inter([
    ("c1", "A", 1, 0), ("c1", "B", 1, 0),
    ("c2", "A", 1, 0), ("c2", "B", 2, 0),
    ("c3", "C", 1, 0), ("c3", "D", 1, 0),
    ("c4", "A", 1, 0),               # bought A only: B (co-bought with A) should come first
    ("c5", "C", 0, 3),               # only viewed C: D should come first (weaker signal, still CF)
    ("c6", "E", 1, 0),               # E never co-purchased
])
POP = pd.Series({"E": 5.0, "C": 4.0, "A": 3.0, "D": 2.0, "B": 1.0})


def test_co_purchase_drives_the_first_recommendation():
    rec = recommend.ItemCF().fit(INTER, list(POP.index)).recommend(["c4", "c5"], POP, k=3)
    first = rec[rec["rank"] == 1].set_index("customer_id")
    assert first.loc["c4", "product_id"] == "B" and first.loc["c4", "source"] == "cf"
    assert first.loc["c5", "product_id"] == "D" and first.loc["c5", "source"] == "cf"


def test_already_bought_products_are_excluded():
    rec = recommend.ItemCF().fit(INTER, list(POP.index)).recommend(["c1", "c2", "c4"], POP, k=3)
    bought = INTER[INTER.units > 0][["customer_id", "product_id"]]
    assert rec.merge(bought, on=["customer_id", "product_id"]).empty


def test_new_customer_gets_season_popularity_in_order():
    rec = recommend.ItemCF().fit(INTER, list(POP.index)).recommend(["new"], POP, k=3)
    assert rec["product_id"].tolist() == ["E", "C", "A"]
    assert (rec["source"] == "popular").all()


def test_products_without_co_purchase_are_reported():
    model = recommend.ItemCF().fit(INTER, list(POP.index))
    assert model.no_copurchase_ == ["E"]


def test_no_interactions_raise_clear_error():
    with pytest.raises(DataError, match="falls? back to popularity"):
        recommend.ItemCF().fit(_inter([]))


def test_cf_beats_popularity_on_time_split():
    wh = connect(small_sample())
    ev = recommend.evaluate(wh, "2024-11-01", 61, season_start="2024-11-01", season_end="2024-12-31")
    ev = ev.set_index("method")
    assert ev.loc["item-to-item CF", "customers"] > 200
    assert ev.loc["item-to-item CF", "hit_rate_at_10"] > ev.loc["popularity", "hit_rate_at_10"] + 0.1
    assert ev.loc["item-to-item CF", "recall_at_10"] > ev.loc["popularity", "recall_at_10"]


def test_popularity_uses_no_data_after_as_of():
    wh = connect(small_sample())
    pop = recommend.popularity(wh, "2024-10-15", "2024-11-01", "2024-12-31")
    units = recommend.interactions_units(wh, "2024-07-17", "2024-10-15")
    last = recommend.interactions_units(wh, "2023-11-01", "2024-01-01")
    ref = (0.5 * last / last.sum()).add(0.5 * units / units.sum(), fill_value=0)
    pd.testing.assert_series_equal(pop.sort_index(), ref.sort_index(), check_names=False)


def test_top_k_equals_a_stable_full_sort_with_ties_and_minus_inf():
    import numpy as np

    from playbook.value.recommend import top_k

    rng = np.random.default_rng(3)
    for _ in range(300):
        n, p = int(rng.integers(0, 30)), int(rng.integers(1, 40))
        scores = rng.integers(0, 4, size=(n, p)).astype(float)  # many ties
        scores[rng.random((n, p)) < 0.25] = -np.inf  # already bought
        k = int(rng.integers(1, p + 3))
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top_k(scores, k), expected)


def _campaign(seasons: list) -> SimpleNamespace:
    season = SimpleNamespace(start=dt.date(2025, 11, 1), end=dt.date(2025, 12, 31),
                             planning_cutoff=dt.date(2025, 10, 15))
    return SimpleNamespace(season=season, comparison_seasons=seasons)


def test_without_comparison_seasons_the_weeks_before_the_cutoff_are_the_test_window():
    # issue 14: this raised "DataError: No comparison_seasons in the campaign config"
    wh = connect(small_sample())
    ev = recommend.evaluate_for_campaign(wh, _campaign([]))
    ref = recommend.evaluate(wh, "2025-08-16", 61)  # the 61 days ending with the cutoff day 2025-10-15
    pd.testing.assert_frame_equal(ev, ref)
    assert list(ev["method"]) == ["item-to-item CF", "popularity"] and ev["customers"].iloc[0] > 0
    window = recommend.evaluation_window(_campaign([]))
    assert window.startswith("the 61 days up to the planning cutoff")
    assert f"bought something new in {window}, " in recommend.describe(ev, window=window)
    assert recommend.evaluation_window(_campaign(["holiday-2024"])) == "the last comparable season"


def test_empty_evaluation_names_its_window():
    empty = pd.DataFrame(columns=["method", "customers", "hit_rate_at_10", "recall_at_10"])
    assert recommend.describe(empty) == ("No new purchases in the last comparable season: the recommendations "
                                         "could not be evaluated.")
    assert recommend.describe(empty, window="the 61 days up to the planning cutoff").startswith(
        "No new purchases in the 61 days up to the planning cutoff:")


def test_missing_product_sales_is_one_sentence_only_without_order_lines():
    wh = connect(small_sample())
    assert recommend.missing_product_sales(wh, "2025-10-15") is None
    reason = recommend.missing_product_sales(wh, "2022-01-01")  # before the sample's first order
    assert reason is not None and reason.startswith("No order lines before the planning cutoff")
    assert "order_items" in reason and reason.count(".") == 1
