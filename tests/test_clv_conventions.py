"""CLV summary-data conventions (issue 18 item 2): purchase days, repeat spend, Gamma-Gamma on repeat buyers.

References:
* a hand-made transaction log whose summary is derived by hand below; the same numbers come out
  of `lifetimes` 0.11.3 ``summary_data_from_transaction_data(sales, ..., freq="D",
  observation_period_end="2024-01-20")`` (run once, offline: lifetimes is not a dependency);
* ``tests/fixtures/clv_transactions.csv``: our own synthetic log (400 customers, same-day orders,
  refunds, orders after the cutoff); the expected values were computed with lifetimes 0.11.3 on
  its sale rows (``summary_data_from_transaction_data`` freq "D", ``BetaGeoFitter``,
  ``GammaGammaFitter`` on customers with frequency > 0, ``conditional_expected_average_profit``);
* the CDNOW sample (Fader, Hardie & Lee 2005): published Gamma-Gamma estimates p = 6.25,
  q = 3.74, gamma = 15.44 on the 946 repeat buyers and BG/NBD r = 0.243, alpha = 4.414,
  a = 0.793, b = 2.426; runs when the CDNOW_sample.txt transaction file is available.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from playbook.data.cutoff import cutoff_instant
from playbook.data.warehouse import connect
from playbook.value import clv
from playbook.value.clv_summary import purchase_summary

FIXTURE = Path(__file__).parent / "fixtures" / "clv_transactions.csv"
CDNOW = Path(os.environ.get("PLAYBOOK_CDNOW_SAMPLE", Path(__file__).parent / "fixtures" / "CDNOW_sample.txt"))


def _write_source(folder: Path, orders: pd.DataFrame) -> Path:
    """customers + orders Parquet tables (customers signed up at their first order)."""
    folder.mkdir(parents=True, exist_ok=True)
    o = orders.copy()
    o["order_ts"] = pd.to_datetime(o["order_ts"], utc=True)
    o.astype({"order_id": "string", "customer_id": "string", "revenue": "float64"}).to_parquet(
        folder / "orders.parquet")
    c = o.groupby("customer_id", as_index=False)["order_ts"].min().rename(columns={"order_ts": "signup_ts"})
    c.astype({"customer_id": "string"}).to_parquet(folder / "customers.parquet")
    return folder


HAND_LOG = pd.DataFrame([
    ("C1", "2024-01-01 08:00", 10.0), ("C1", "2024-01-01 20:00", 20.0),   # one purchase day: 30
    ("C1", "2024-01-03 09:00", 15.0), ("C1", "2024-01-03 18:00", 5.0),    # one purchase day: 20
    ("C1", "2024-01-10 12:00", 40.0), ("C1", "2024-01-12 12:00", -20.0),  # 40; a refund: no purchase
    ("C2", "2024-01-05 10:00", 50.0), ("C2", "2024-01-05 11:00", 25.0),   # two orders, one day
    ("C3", "2024-01-20 23:30", 100.0), ("C3", "2024-01-21 00:10", 70.0),  # on the cutoff day / after it
    ("C4", "2024-01-02 12:00", 10.0), ("C4", "2024-01-15 12:00", 30.0), ("C4", "2024-01-20 12:00", 50.0),
    ("C5", "2024-01-06 12:00", -10.0),                                    # only a refund: not a buyer
    ("C6", "2024-01-04 12:00", 0.0), ("C6", "2024-01-08 12:00", 60.0),    # a free order is a purchase
], columns=["customer_id", "order_ts", "revenue"]).assign(order_id=lambda d: [f"O{i}" for i in range(len(d))])

# By hand, cutoff day 2024-01-20 included: purchase days, frequency = days - 1, recency = last -
# first day, T = 2024-01-20 - first day, monetary = mean of the repeat days' sums (0 if none).
HAND_SUMMARY = pd.DataFrame({
    "customer_id": ["C1", "C2", "C3", "C4", "C6"],
    "orders": [5, 2, 1, 3, 2], "purchase_days": [3, 1, 1, 3, 2], "frequency": [2, 0, 0, 2, 1],
    "recency": [9.0, 0.0, 0.0, 18.0, 4.0], "T": [19.0, 15.0, 0.0, 18.0, 16.0],
    "monetary_value": [30.0, 0.0, 0.0, 40.0, 60.0], "first_value": [30.0, 75.0, 100.0, 10.0, 0.0],
    "mean_value": [30.0, 75.0, 100.0, 30.0, 30.0]})

# lifetimes 0.11.3 on the sale rows of tests/fixtures/clv_transactions.csv, cutoff day 2023-10-31.
LT_SUMS = {"frequency": 985.0, "recency": 26210.0, "T": 63255.0, "monetary_value": 53938.66689591695}
LT_BGNBD_DAYS = {"r": 0.6587755967764253, "alpha": 28.065202295332362, "a": 2.3092756268322567,
                 "b": 19.781392001105296}
LT_GG = {"p": 4.395613165311305, "q": 3.49742067517446, "gamma": 118.35234097192615}
LT_SPEND = {"K0000": 194.27213990462502, "K0001": 207.7797615395819, "K0002": 208.30736018683353,
            "K0004": 226.39572000976534}


@pytest.fixture(scope="module")
def fixture_wh(tmp_path_factory):
    return connect(_write_source(tmp_path_factory.mktemp("clvlog") / "data", pd.read_csv(FIXTURE)))


def test_summary_of_a_hand_made_log(tmp_path):
    wh = connect(_write_source(tmp_path / "data", HAND_LOG))
    got = purchase_summary(wh, cutoff_instant("2024-01-20"))
    pd.testing.assert_frame_equal(got, HAND_SUMMARY, check_dtype=False)


def test_fit_clv_counts_purchase_days_not_orders(tmp_path):
    # Before the fix: frequency = orders - 1, so C2's two same-day orders were a repeat purchase.
    wh = connect(_write_source(tmp_path / "data", HAND_LOG))
    t = clv.fit_clv(wh, cutoff_instant("2024-01-20")).table.set_index("customer_id")
    assert t.loc["C2", "orders"] == 2 and t.loc["C2", "frequency"] == 0
    assert t["frequency"].to_dict() == {"C1": 2, "C2": 0, "C3": 0, "C4": 2, "C6": 1}
    assert t.loc["C1", "monetary_value"] == 30.0  # first day and the refund left out


def test_summary_equals_lifetimes_on_the_fixture_log(fixture_wh):
    s = purchase_summary(fixture_wh, cutoff_instant("2023-10-31"))
    assert len(s) == 400 and int((s["frequency"] > 0).sum()) == 258
    for col, total in LT_SUMS.items():
        assert s[col].sum() == pytest.approx(total, rel=1e-12), col


def test_models_equal_lifetimes_fits_on_the_fixture_log(fixture_wh):
    # Fails before the fix: BG/NBD saw orders - 1 repeats and Gamma-Gamma was fitted on all
    # orders (first included) of every buyer, one-time buyers too.
    res = clv.fit_clv(fixture_wh, cutoff_instant("2023-10-31"))
    expected_bg = {**LT_BGNBD_DAYS, "alpha": LT_BGNBD_DAYS["alpha"] / clv.DAYS_PER_WEEK}  # per week here
    for k, v in expected_bg.items():
        assert res.bgnbd.params_[k] == pytest.approx(v, rel=1e-5), k
    for k, v in LT_GG.items():
        assert res.gg.params_[k] == pytest.approx(v, rel=1e-5), k
    assert res.gg.n_customers_ == 258 == res.repeat_buyers
    t = res.table.set_index("customer_id")
    for cid, spend in LT_SPEND.items():
        assert t.loc[cid, "expected_spend"] == pytest.approx(spend, rel=1e-5), cid
    p, q, g = (res.gg.params_[k] for k in ("p", "q", "gamma"))
    one_time = t["frequency"] == 0
    np.testing.assert_allclose(t.loc[one_time, "expected_spend"], p * g / (q - 1), rtol=1e-12)


def test_conventions_sentence_names_the_repeat_buyers(fixture_wh):
    res = clv.fit_clv(fixture_wh, cutoff_instant("2023-10-31"))
    text = clv.describe_conventions(res)
    assert text.startswith("Frequency counts repeat purchase days")
    assert "spend per purchase is the mean of repeat purchases (Gamma-Gamma), fitted on 258 repeat buyers" in text
    assert "up to and including the planning cutoff day" in text


@pytest.mark.skipif(not CDNOW.exists(), reason="CDNOW_sample.txt (Fader-Hardie; shipped by lifetimes) not "
                    "available: set PLAYBOOK_CDNOW_SAMPLE to its path")
def test_cdnow_sample_reproduces_published_estimates(tmp_path):
    tx = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["master", "id", "date", "cds", "value"])
    orders = pd.DataFrame({"order_id": [f"T{i}" for i in range(len(tx))], "customer_id": tx["id"].astype(str),
                           "order_ts": pd.to_datetime(tx["date"].astype(str), format="%Y%m%d"),
                           "revenue": tx["value"].astype(float)})
    res = clv.fit_clv(connect(_write_source(tmp_path / "data", orders)), cutoff_instant("1997-09-30"))
    assert res.gg.n_customers_ == 946 and int(res.table["frequency"].sum()) == 2457
    assert [round(res.gg.params_[k], 2) for k in ("p", "q", "gamma")] == [6.25, 3.74, 15.44]
    assert [round(res.bgnbd.params_[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
