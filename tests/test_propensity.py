"""Propensity: point-in-time features, beats the RFM baseline, ranks by planted probability."""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from playbook.data.warehouse import connect
from playbook.errors import DataError
from playbook.value import propensity
from tests.sample_data import read, small_sample

D = dt.date
#: Spearman threshold of scores vs planted p_buy_window on the 2,000-customer sample
#: (measured 0.57 on the 20k sample; the planted value ignores media/experiment orders).
SPEARMAN_MIN = 0.4


SEASONS = ((D(2023, 11, 1), D(2023, 12, 31)), (D(2024, 11, 1), D(2024, 12, 31)))


def _cfg(seasons=SEASONS):
    comp = [SimpleNamespace(name=f"s{s.year}", start=s, end=e) for s, e in seasons]
    season = SimpleNamespace(start=D(2025, 11, 1), end=D(2025, 12, 31), planning_cutoff=D(2025, 10, 15))
    return SimpleNamespace(slug="t", season=season, comparison_seasons=comp)


@functools.lru_cache(maxsize=1)
def _result():
    return propensity.fit_propensity(connect(small_sample()), _cfg(), seed=3)


def test_seasons_keep_the_campaign_lead_time():
    past, cur = propensity.seasons_from_config(_cfg())
    assert [s.cutoff for s in past] == [D(2023, 10, 15), D(2024, 10, 15)]
    assert cur.cutoff == D(2025, 10, 15)


def test_model_beats_rfm_baseline_on_held_out_season():
    m = _result().metrics.set_index("model")
    assert m["roc_auc"].iloc[0] > m["roc_auc"].iloc[1]
    assert m["pr_auc"].iloc[0] > m["pr_auc"].iloc[1]
    assert m["roc_auc"].iloc[0] > 0.6


def test_scores_rank_customers_by_planted_probability():
    truth = pd.read_parquet(small_sample() / "truth_customers.parquet")
    m = _result().scores.merge(truth, on="customer_id")
    assert len(m) > 1000
    assert spearmanr(m["score"], m["p_buy_window"])[0] > SPEARMAN_MIN


def test_scores_have_drivers_and_deciles():
    s = _result().scores
    assert s["customer_id"].is_unique and s["score"].between(0, 1).all()
    assert set(s["score_decile"]) == set(range(1, 11))
    # decile 1 = highest scores
    assert s.loc[s.score_decile == 1, "score"].min() >= s.loc[s.score_decile == 2, "score"].max()
    feats = set(_result().importance["feature"])
    assert s["driver_1"].str.rsplit(" ", n=1).str[0].isin(feats).all()


def test_decile_table_gains_end_at_one_and_lift_is_rate_ratio():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0] * 3)
    score = np.arange(30)[::-1].astype(float)
    t = propensity.decile_table(y, score)
    assert t["cum_gain"].iloc[-1] == pytest.approx(1.0)
    assert t["lift"].iloc[0] == pytest.approx((t["buyers"].iloc[0] / 3) / y.mean())


def test_features_use_nothing_after_the_cutoff():
    src = small_sample()
    cut = pd.Timestamp("2024-10-15", tz="UTC")
    tmp = Path(tempfile.mkdtemp(prefix="pit-")) / "sample"
    shutil.copytree(src, tmp)
    for table, col in (("orders", "order_ts"), ("events", "event_ts"), ("messages", "sent_ts")):
        df = read(src, table)
        df[df[col] < cut].to_parquet(tmp / f"{table}.parquet")
    a = propensity.features_as_of(connect(src), "2024-10-15", D(2024, 11, 1), D(2024, 12, 31))
    b = propensity.features_as_of(connect(tmp), "2024-10-15", D(2024, 11, 1), D(2024, 12, 31))
    pd.testing.assert_frame_equal(a, b)


def test_features_match_pandas_reference():
    src = small_sample()
    cut = pd.Timestamp("2024-10-15", tz="UTC")
    f = propensity.features_as_of(connect(src), cut, D(2024, 11, 1), D(2024, 12, 31)).set_index("customer_id")
    o = read(src, "orders")
    o = o[(o.order_ts < cut) & (o.revenue >= 0)]
    ref = o.groupby("customer_id").agg(n=("order_id", "size"),
                                       n90=("order_ts", lambda s: (s >= cut - pd.Timedelta(days=90)).sum()))
    ls = o[(o.order_ts >= pd.Timestamp("2023-11-01", tz="UTC")) & (o.order_ts < pd.Timestamp("2024-01-01", tz="UTC"))]
    ref["last_season"] = ls.groupby("customer_id").size()
    ref = ref.reindex(f.index).fillna(0)
    np.testing.assert_array_equal(f["frequency"], ref["n"])
    np.testing.assert_array_equal(f["orders_90d"], ref["n90"])
    np.testing.assert_array_equal(f["orders_last_season"], ref["last_season"])


def test_season_without_buyers_raises_clear_error():
    cfg = _cfg(((D(2020, 11, 1), D(2020, 12, 31)), (D(2021, 11, 1), D(2021, 12, 31))))
    with pytest.raises(DataError, match="needs both buyers and non-buyers"):
        propensity.fit_propensity(connect(small_sample()), cfg)


def test_one_season_is_not_enough():
    with pytest.raises(DataError, match="needs two past seasons"):
        propensity.fit_propensity(connect(small_sample()), _cfg(((D(2024, 11, 1), D(2024, 12, 31)),)))


def test_fallback_scores_when_the_model_cannot_be_trained():
    cfg = _cfg(((D(2020, 11, 1), D(2020, 12, 31)), (D(2021, 11, 1), D(2021, 12, 31))))
    res = propensity.fit_or_fallback(connect(small_sample()), cfg)
    assert res.metrics.empty and "Fallback used" in res.notes[0]
    s = res.scores.merge(res.features, on="customer_id")
    # heuristic: more orders and more recent -> higher score
    assert spearmanr(s["score"], s["frequency"])[0] > 0.5
    assert "could not" in propensity.describe(res) or "Fallback" in propensity.describe(res)


def test_driver_contributions_do_not_depend_on_prediction_threads(monkeypatch):

    res = _result()
    feats = res.features
    rng = np.random.default_rng(0)
    y = (rng.random(len(feats)) < 0.3).astype(int)
    countries = sorted(feats["country"].unique())
    model = propensity._xgb(3).fit(propensity.design_matrix(feats, countries), y)
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(propensity, "PREDICT_THREADS", threads)
        runs.append(propensity.score_customers(model, feats, countries))
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0])
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
