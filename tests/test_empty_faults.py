"""Faults of empty or missing data that ended in internal errors (issue 14, item 8): everyone
erased, a season with no data yet, an empty window. Each test is named after the fault."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from playbook.artifacts import write_artifact
from playbook.experiments import analysis
from playbook.experiments.analysis import RESULT_COLUMNS, ExperimentAnalysis
from playbook.planning import history
from playbook.steps import retrospective as R
from playbook.value.propensity import score_customers


def test_everyone_erased_writes_empty_segments_with_the_contract_dtypes(tmp_path):
    # built from nothing, the columns of an empty frame have no useful dtype (object, float64)
    empty = pd.DataFrame({"customer_pid": pd.Series([], dtype=object), "rfm_segment": pd.Series([], dtype=float),
                          "suppress_email": pd.Series([], dtype=object), "suppress_ads": pd.Series([], dtype=object)})
    path = write_artifact(empty, tmp_path, "segments")
    back = pd.read_parquet(path)
    assert len(back) == 0 and back["rfm_segment"].dtype != np.float64 and back["suppress_email"].dtype == bool


def test_everyone_erased_scores_nobody_without_crashing():
    class Model:  # never asked to predict: there is no row
        def predict_proba(self, X):
            raise AssertionError("called on an empty matrix")

    feats = pd.DataFrame({"customer_id": pd.Series([], dtype=str), "country": pd.Series([], dtype=str),
                          "orders_365d": pd.Series([], dtype=float)})
    scores, importance = score_customers(Model(), feats, ["US"])
    assert scores.empty and list(scores.columns[:3]) == ["customer_id", "score", "score_decile"]
    assert importance.empty and list(importance.columns) == ["feature", "mean_abs_contribution"]


def _zero_result(metric: str = "revenue_per_user") -> ExperimentAnalysis:
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    row.update(role="primary", metric=metric, variant="B", control="A", value_control=0.0, value_variant=0.0,
               abs_lift=0.0, abs_lo=0.0, abs_hi=0.0, rel_lift=0.0, rel_lo=0.0, rel_hi=0.0, p_value=1.0,
               p_adjusted=1.0, significant=False, n_control=500, n_variant=500)
    return ExperimentAnalysis("x", "x", metric, srm_p=0.9, results=pd.DataFrame([row], columns=RESULT_COLUMNS))


def test_a_season_with_no_data_gives_no_result_not_a_sample_size_error():
    exp = SimpleNamespace(mde=0.05, mde_type="relative", alpha=0.05, power=0.8, variants=["A", "B"])
    got = analysis.decide(_zero_result(), exp, users_per_day=10.0)
    assert got["verdict"] == "no result" and "nothing to compare" in got["reason"]


def test_an_empty_window_compares_with_last_year_without_a_merge_error(monkeypatch):
    empty = pd.DataFrame({"channel": pd.Series([], dtype="string[pyarrow]"), "revenue": [], "orders": [],
                          "buyers": [], "aov": []})
    monkeypatch.setattr(history, "window_kpis", lambda wh, s0, s1, by=None: empty.copy())
    out = history.window_vs_last_year(None, "2027-11-20", "2027-12-31", by="channel")
    assert out.empty and {"metric", "this_year", "last_year", "change"} <= set(out.columns)


@pytest.mark.parametrize(("last", "expect"), [
    (dt.date(2025, 12, 31), ("starts after the data's last order (31 Dec 2025)", None)),
    (dt.date(2027, 12, 1), (None, "The data ends on 01 Dec 2027, before the season's end")),
    (dt.date(2028, 1, 5), (None, None)),
])
def test_a_season_after_the_data_is_not_reviewed(monkeypatch, last, expect):
    monkeypatch.setattr(R, "order_days", lambda wh: (dt.date(2024, 1, 1), last))
    cfg = SimpleNamespace(season=SimpleNamespace(start=dt.date(2027, 11, 20), end=dt.date(2027, 12, 31)))
    not_reviewed, ends = R.season_coverage(SimpleNamespace(wh=None, cfg=cfg))
    for got, want in zip((not_reviewed, ends), expect, strict=True):
        assert (got is None) if want is None else (want in got)


def test_the_retrospective_page_opens_with_why_there_is_nothing_to_review(monkeypatch):
    cfg = SimpleNamespace(season=SimpleNamespace(start=dt.date(2027, 11, 20), end=dt.date(2027, 12, 31)))
    ctx = SimpleNamespace(wh=None, cfg=cfg)
    monkeypatch.setattr(R, "order_days", lambda wh: (dt.date(2024, 1, 1), dt.date(2025, 12, 31)))
    assert R.coverage_note(ctx).startswith("**Nothing to review yet:** the season (20 Nov 2027 to 31 Dec 2027)")
    monkeypatch.setattr(R, "order_days", lambda wh: (dt.date(2024, 1, 1), dt.date(2028, 1, 31)))
    assert R.coverage_note(ctx) == ""
