"""Artifact contracts between steps: checked on write (fail loudly), on read (warn, recompute)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from playbook.artifacts import SCHEMAS, check, read_artifact, write_artifact, write_step_summary
from playbook.errors import DataError


def _segments(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_pid": [f"p{i}" for i in range(n)],
        "rfm_segment": ["Champions", "Lost", "New", "No purchase yet"][:n],
        "rfm_score": [15, 2, 9, 0][:n],
        "suppress_email": [False, True, False, False][:n],
        "suppress_sms": [False] * n,
        "suppress_ads": [True, False, False, False][:n],
        "extra": range(n),  # steps may add columns
    })


def test_valid_artifact_round_trips(tmp_path):
    write_artifact(_segments(), tmp_path, "segments")
    pd.testing.assert_frame_equal(read_artifact(tmp_path, "segments"), _segments())


def test_producer_bug_fails_on_write_naming_every_problem(tmp_path):
    bad = _segments()
    bad.loc[1, "customer_pid"] = "p0"  # duplicate pseudonym
    bad = bad.drop(columns="suppress_ads")  # missing suppression flag
    with pytest.raises(DataError) as exc:
        write_artifact(bad, tmp_path, "segments")
    msg = str(exc.value)
    assert "segments" in msg and "customer_pid" in msg and "suppress_ads" in msg
    assert not (tmp_path / "artifacts" / "segments.parquet").exists()  # nothing half-written


def test_stale_artifact_is_ignored_with_a_warning(tmp_path):
    (tmp_path / "artifacts").mkdir()
    _segments().drop(columns=["suppress_email"]).to_parquet(tmp_path / "artifacts" / "segments.parquet")
    with pytest.warns(UserWarning, match="recomputes"):
        assert read_artifact(tmp_path, "segments", default="absent") == "absent"


def test_scores_outside_probability_range_rejected():
    scores = pd.DataFrame({"customer_pid": ["a", "b"], "score": [0.2, 1.3], "score_decile": [1, 10]})
    with pytest.raises(DataError, match="score"):
        check(scores, "scores")


def test_undeclared_artifacts_pass_and_registry_covers_cross_step_files():
    df = pd.DataFrame({"x": [1]})
    assert check(df, "anything_else") is df
    assert {"segments", "scores", "experiment_results", "next_budget"} <= set(SCHEMAS)


def test_non_finite_headline_numbers_are_written_as_null(tmp_path):
    """A ROAS over zero spend (inf) or a NaN in a headline never crashes the step's summary."""
    path = write_step_summary(tmp_path, "05_retrospective",
                              {"roas": float("inf"), "loss": -np.inf, "mape": np.float64("nan"), "n": 3})
    assert json.loads(path.read_text(encoding="utf-8"))["headline"] == {
        "roas": None, "loss": None, "mape": None, "n": 3}
