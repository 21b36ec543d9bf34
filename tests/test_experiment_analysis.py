"""Experiment design, assignment and analysis against planted truth, pandas and bad inputs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from playbook.config.campaign import Experiment
from playbook.config.loader import load_config
from playbook.data.warehouse import connect
from playbook.errors import ConfigError
from playbook.experiments import analysis as ea
from playbook.experiments import design as ed
from playbook.experiments import report as er
from playbook.experiments import stats as es
from playbook.experiments.analysis import ExperimentAnalysis
from playbook.experiments.data import Window, user_outcomes
from playbook.paths import resolve
from tests.sample_data import read, small_sample, truth

WINDOW = Window.from_dates(dt.date(2025, 11, 1), dt.date(2025, 12, 31))


def _exp(id_, metric="conversion", variants=("control", "treatment"), **kw) -> Experiment:
    return Experiment(id=id_, hypothesis="h", primary_metric=metric, mde=0.05, variants=list(variants), **kw)


@pytest.fixture(scope="module")
def cfg():
    return load_config("campaigns/holiday-2025.yaml")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The 20k sample (data/sample if generated, else generated here) and its analyses."""
    folder = resolve("data/sample")
    if not (folder / "truth.json").is_file():
        from playbook.data import synth

        folder = tmp_path_factory.mktemp("big") / "sample"
        synth.generate(n_customers=20000, seed=42, out_dir=folder)
    c = load_config("campaigns/holiday-2025.yaml")
    return folder, ea.analyze_all(connect(folder), c, seed=42, n_boot=300)


# ---------------------------------------------------------------------------------------------
# Planted truth
# ---------------------------------------------------------------------------------------------
def test_planted_lifts_inside_intervals_and_big_ones_detected(big):
    folder, analyses = big
    planted = truth(folder)["experiments"]
    res = ea.results_table(analyses)
    prim = res[res["role"] == "primary"].set_index("experiment_id")
    for exp_id, t in planted.items():
        r = prim.loc[exp_id]
        assert r["abs_lo"] <= t["true_lift_absolute"] <= r["abs_hi"], exp_id
        assert r["rel_lo"] <= t["true_lift_relative"] <= r["rel_hi"], exp_id
    for exp_id in ("xmas25_subject_line", "xmas25_free_shipping"):  # +20 % and +10 %
        assert prim.loc[exp_id, "rel_lift"] > 0 and prim.loc[exp_id, "significant"]
    verdicts = {a.experiment_id: a.decision["verdict"] for a in analyses}
    assert verdicts["xmas25_subject_line"] == "ship"
    aa = next(a for a in analyses if a.experiment_id == "xmas25_aa")
    assert not prim.loc["xmas25_aa", "significant"] and aa.srm_p >= ea.SRM_P
    assert verdicts["xmas25_aa"] == "passed"  # kind: aa in the campaign file
    assert all(a.srm_p >= ea.SRM_P for a in analyses)


def test_per_arm_outcomes_match_pandas():
    folder = small_sample()
    got = user_outcomes(connect(folder), "xmas25_free_shipping", WINDOW).set_index("customer_id")
    a = read(folder, "assignments")
    a = a[a.experiment_id == "xmas25_free_shipping"].set_index("customer_id")
    o = read(folder, "orders")
    o = o[(o.order_ts >= WINDOW.start) & (o.order_ts < WINDOW.end) & (o.revenue >= 0)]
    rev = o.groupby("customer_id").revenue.sum().reindex(a.index, fill_value=0.0)
    assert len(got) == len(a)
    assert (got.loc[a.index, "variant"] == a["variant"]).all()
    np.testing.assert_allclose(got.loc[a.index, "revenue"], rev, rtol=1e-9)
    assert got.loc[a.index, "converted"].sum() == (rev.index.isin(o.customer_id)).sum()


def test_design_matches_statsmodels_and_history(cfg):
    folder = small_sample()
    d = ed.design_table(connect(folder), cfg).set_index("experiment_id")
    fs = d.loc["xmas25_free_shipping"]
    p_t = fs["baseline"] * 1.05
    n_c, n_t = es.sample_size_proportions(fs["baseline"], p_t, 0.05, 0.8)
    assert (fs["n_control"], fs["n_treatment"]) == (n_c, n_t)
    assert fs["users_needed"] == n_c + n_t
    assert fs["cuped_users_needed"] <= fs["users_needed"]
    holdout = d.loc["xmas25_email_holdout"]  # 10/90 split needs more users than 50/50
    assert holdout["users_needed"] > fs["users_needed"]
    # history baseline: share of customers present at the 2024 season start who bought in it
    c = read(folder, "customers")
    start, end = pd.Timestamp("2024-11-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
    present = c[(c.signup_ts < start) & (c.erased_at.isna() | (c.erased_at >= end))].customer_id
    o = read(folder, "orders")
    buyers = set(o[(o.order_ts >= start) & (o.order_ts < end) & (o.revenue >= 0)].customer_id)
    assert fs["baseline"] == pytest.approx(present.isin(buyers).mean())
    assert 0 < fs["detectable_lift_in_window"] < 1


def test_power_curve_and_design_text_render(cfg):
    d = ed.design_table(connect(small_sample()), cfg)
    assert ed.plot_power_curves(d, cfg).axes[0].get_xlabel().endswith("(%)")
    assert "xmas25_gift_wrap" in ed.describe_design(d)


# ---------------------------------------------------------------------------------------------
# Assignment
# ---------------------------------------------------------------------------------------------
def test_hash_assignment_is_deterministic_salted_and_in_proportion():
    ids = [f"C{i:06d}" for i in range(20000)]
    a = ed.assign(ids, "xmas", ["control", "t1", "t2"], [0.5, 0.25, 0.25], holdout=0.1)
    b = ed.assign(list(reversed(ids)), "xmas", ["control", "t1", "t2"], [0.5, 0.25, 0.25], holdout=0.1)
    assert a.set_index("customer_id")["variant"].equals(b.set_index("customer_id")["variant"].loc[ids])
    share = a["variant"].value_counts(normalize=True)
    assert share["holdout"] == pytest.approx(0.1, abs=0.01)
    assert share["control"] == pytest.approx(0.45, abs=0.015) and share["t2"] == pytest.approx(0.225, abs=0.015)
    _, p = es.srm_test(a["variant"].value_counts()[["holdout", "control", "t1", "t2"]], [0.1, 0.45, 0.225, 0.225])
    assert p > 0.001
    other = ed.assign(ids, "other-salt", ["control", "t1", "t2"], [0.5, 0.25, 0.25], holdout=0.1)
    assert (other["variant"] == a["variant"]).mean() < 0.6  # independent split
    u = ed.hash_uniform(["C1"], "s")[0]
    assert 0 <= u < 1 and u == ed.hash_uniform(["C1"], "s")[0]


def test_stratified_assignment_balances_each_stratum_and_balance_check():
    rng = np.random.default_rng(3)
    n = 3001
    strata = rng.choice(["US", "GB", "DE"], n, p=[0.6, 0.3, 0.1])
    a = ed.assign([f"C{i}" for i in range(n)], "s", ["c", "t"], strata=strata)
    for _, grp in a.groupby(strata):
        counts = grp["variant"].value_counts()
        assert abs(counts.get("c", 0) - counts.get("t", 0)) <= 1
    a["pre"] = rng.gamma(1, 50, n)
    bal = ed.balance_check(a, ["pre"], control="c")
    assert bal["balanced"].all()
    a.loc[a.variant == "t", "pre"] += 30  # a real imbalance is flagged
    assert not ed.balance_check(a, ["pre"], control="c")["balanced"].any()


def test_assignment_rejects_bad_allocation_and_duplicates():
    with pytest.raises(ConfigError, match="sum to 1"):
        ed.assign(["a", "b"], "s", ["c", "t"], [0.6, 0.6])
    with pytest.raises(ConfigError, match="duplicate customer"):
        ed.assign(["a", "a"], "s", ["c", "t"])


def test_arm_matching_for_generic_labels():
    m, note = ea.match_arms(["email", "holdout"], [0.9, 0.1], {"control": 100, "treatment": 900})
    assert m == {"treatment": "email", "control": "holdout"} and "matched by planned share" in note
    m, _ = ea.match_arms(["a", "b"], [0.5, 0.5], {"control": 500, "treatment": 510})
    assert m == {"control": "a", "treatment": "b"}
    assert ea.match_arms(["control", "treatment"], [0.5, 0.5], {"control": 1, "treatment": 1})[1] == ""


# ---------------------------------------------------------------------------------------------
# Bad inputs: one experiment's problem never stops the others
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    src = small_sample()
    out = tmp_path_factory.mktemp("broken") / "sample"
    out.mkdir()
    for f in Path(src).glob("*.parquet"):
        if f.name != "messages.parquet":  # messages missing: open/click rates have no data
            shutil.copy(f, out / f.name)
    a = pd.read_parquet(src / "assignments.parquet")
    a = a[~((a.experiment_id == "xmas25_free_shipping") & (a.variant == "treatment"))]  # empty arm
    dup = a[(a.experiment_id == "xmas25_aa") & (a.variant == "control")].head(3).assign(variant="treatment")
    aa_ctrl = a[(a.experiment_id == "xmas25_gift_wrap") & (a.variant == "control")]
    a = a.drop(aa_ctrl.index[: len(aa_ctrl) // 2])  # sample ratio mismatch
    pd.concat([a, dup]).to_parquet(out / "assignments.parquet")
    exps = [_exp("xmas25_free_shipping"), _exp("xmas25_aa"), _exp("xmas25_gift_wrap", "revenue_per_user"),
            _exp("xmas25_subject_line", "open_rate"), _exp("not_started_yet"),
            _exp("xmas25_email_holdout", allocation=[0.1, 0.9])]
    cfg = SimpleNamespace(season=SimpleNamespace(start=dt.date(2025, 11, 1), end=dt.date(2025, 12, 31)),
                          experiments=exps)
    return {a.experiment_id: a for a in ea.analyze_all(connect(out), cfg, seed=1, n_boot=200)}


def test_empty_arm_gives_a_message_and_no_result(broken):
    a = broken["xmas25_free_shipping"]
    assert any("have no users" in m for m in a.messages)
    assert a.decision["verdict"] == "no result"


def test_customers_in_two_arms_are_excluded_with_a_message(broken):
    a = broken["xmas25_aa"]
    assert any("3 customer(s) appear in more than one arm" in m for m in a.messages)
    assert a.results["n_control"].iloc[0] + a.results["n_variant"].iloc[0] == a.arms["users"].sum() - 3


def test_sample_ratio_mismatch_blocks_shipping(broken):
    a = broken["xmas25_gift_wrap"]
    assert a.srm_p < ea.SRM_P and a.decision["verdict"] == "inconclusive"
    assert "ratio mismatch" in a.decision["reason"]
    assert "Warning: sample ratio mismatch" in er.srm_banner(list(broken.values()))
    assert "**xmas25_gift_wrap** (p = " in er.srm_banner(list(broken.values()))


def test_metric_without_data_and_missing_experiment_are_reported(broken):
    assert broken["xmas25_subject_line"].decision["verdict"] == "no result"
    assert "no data" in broken["xmas25_subject_line"].decision["reason"].lower()
    assert "no assignments found" in broken["not_started_yet"].decision["reason"].lower()
    ok = broken["xmas25_email_holdout"]  # untouched experiment is still analysed
    assert ok.decision["verdict"] in ("ship", "don't ship", "inconclusive")
    assert np.isfinite(ok.results["p_value"].iloc[0])


def test_report_helpers_handle_empty_and_full_inputs(broken):
    analyses = list(broken.values())
    assert len(er.summary_table(analyses)) >= 4
    assert er.plot_forest([]).axes[0].texts[0].get_text() == "No experiment results to show"
    assert er.plot_sequential([]).axes[0].texts[0].get_text().startswith("No daily data to monitor")
    assert er.plot_forest(analyses).axes[0].get_xlabel() == "relative lift (%)"
    assert list(er.decisions_table(analyses)["experiment"]) == list(broken)
    assert "- **not_started_yet: no result.**" in er.describe_decisions(analyses)
    assert er.describe_decisions([]) == "No experiments are configured for this campaign."
    assert er.sequential_summary([]) == "No test has daily data to monitor."
    # no experiment at all: an empty decisions table with its columns (it raised KeyError 'srm_p')
    assert list(er.decisions_table([]).columns) == ["experiment", "metric", "verdict", "reason", "srm_p",
                                                    "data notes"]
    assert er.decisions_view([]).data.empty
    assert er.skip_reason([]) == er.NO_EXPERIMENTS and er.skip_reason(analyses) is None


def test_without_assignments_table_every_experiment_says_it_has_not_started(tmp_path):
    for f in Path(small_sample()).glob("*.parquet"):
        if f.name != "assignments.parquet":
            shutil.copy(f, tmp_path / f.name)
    a = ea.analyze_experiment(connect(tmp_path), _exp("xmas25_aa"), WINDOW, seed=1, n_boot=50)
    assert a.decision == {"verdict": "no result", "reason": "Not started: the data has no assignments table "
                          "yet, so this planned test (sized in the design) cannot be analysed"}
    assert er.skip_reason([a]) == er.NO_ASSIGNMENTS
    assert er.skip_reason([a, ExperimentAnalysis("b", "b", "conversion")]) is None


def test_rerun_with_same_seed_gives_identical_results():
    wh = connect(small_sample())
    exp = _exp("xmas25_gift_wrap", "revenue_per_user", guardrails=["refund_rate"])
    a = ea.analyze_experiment(wh, exp, WINDOW, seed=5, n_boot=200)
    b = ea.analyze_experiment(wh, exp, WINDOW, seed=5, n_boot=200)
    pd.testing.assert_frame_equal(a.results, b.results)
    pd.testing.assert_frame_equal(a.sequential, b.sequential)
    assert np.isfinite(a.results["boot_rel_lo"].iloc[0])


# ---------------------------------------------------------------------------------------------
# A/A tests: sanity checks (issue 18 item 4; reference: the generator plants identical arms for
# xmas25_aa, so the true difference is zero and the planned split is 50/50)
# ---------------------------------------------------------------------------------------------
def test_aa_test_with_no_difference_passes():
    aa = _exp("xmas25_aa", kind="aa")
    a = ea.analyze_experiment(connect(small_sample()), aa, WINDOW, seed=1, n_boot=200)
    assert a.srm_p >= ea.SRM_P and not a.results["significant"].fillna(False).any()
    assert a.decision["verdict"] == ea.AA_PASSED == "passed"
    assert "matches the plan" in a.decision["reason"] and "more users" not in a.decision["reason"]
    assert "- **xmas25_aa: passed.**" in er.describe_decisions([a])
    assert load_config("campaigns/holiday-2025.yaml").experiments[3].kind == "aa"  # the sample's A/A


def test_aa_test_with_sample_ratio_mismatch_fails_with_the_reason(tmp_path):
    out = tmp_path / "sample"
    shutil.copytree(small_sample(), out)
    a = pd.read_parquet(out / "assignments.parquet")
    ctrl = a[(a.experiment_id == "xmas25_aa") & (a.variant == "control")]
    a.drop(ctrl.index[: len(ctrl) // 2]).to_parquet(out / "assignments.parquet")
    got = ea.analyze_experiment(connect(out), _exp("xmas25_aa", kind="aa"), WINDOW, seed=1, n_boot=200)
    assert got.srm_p < ea.SRM_P
    assert got.decision["verdict"] == ea.AA_FAILED == "failed: check the assignment"
    assert got.decision["reason"].startswith(f"Sample ratio mismatch (chi-square p = {got.srm_p:.1g})")


def test_aa_test_with_a_significant_difference_fails_naming_the_metric():
    row = {"experiment_id": "x", "control": "control", "variant": "treatment", "n_control": 5000,
           "n_variant": 5000, "value_control": 0.05, "value_variant": 0.05, "abs_lift": 0.0, "rel_lift": 0.0,
           "rel_lo": -0.1, "rel_hi": 0.1, "p_value": 0.9, "p_adjusted": 0.9, "significant": False}
    harm = {**row, "metric": "refund_rate", "role": "guardrail", "abs_lift": 0.02, "rel_lift": 0.4, "rel_lo": 0.2,
            "rel_hi": 0.6, "p_value": 0.001, "p_adjusted": 0.002, "significant": True}
    res = pd.DataFrame([{**row, "metric": "conversion", "role": "primary"}, harm])
    a = ExperimentAnalysis("x", "x", "conversion", srm_p=0.4, results=res)
    got = ea.decide(a, _exp("x", kind="aa", guardrails=["refund_rate"]), 100.0)
    assert got["verdict"] == "failed: check the assignment"
    assert "differ on refund_rate (guardrail)" in got["reason"] and "adjusted p = 0.002" in got["reason"]
    assert ea.decide(a, _exp("x", guardrails=["refund_rate"]), 100.0)["verdict"] == "don't ship"  # an A/B
    ok = ExperimentAnalysis("x", "x", "conversion", srm_p=0.4, results=res.iloc[:1])
    assert ea.decide(ok, _exp("x", kind="aa"), 100.0)["verdict"] == "passed"
