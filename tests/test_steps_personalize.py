"""The personalize step module on the small sample: its result objects, tables, artifacts,
summary and headline (the methods themselves are tested in test_propensity, test_clv,
test_recommend, test_offers and test_exports)."""

from __future__ import annotations

import pandas as pd
import pytest

from playbook.artifacts import read_artifact
from playbook.run.publish import private_dir
from playbook.steps import personalize as P
from playbook.steps.context import StepContext, start_step
from tests.sample_data import read, small_sample

CONFIG = "campaigns/holiday-2025.yaml"


def run_step(ctx: StepContext) -> P.Personalization:
    """Every cell of notebook 03 in order, as the notebook calls them; the step's result."""
    prop = P.score_propensity(ctx)
    value = P.customer_value(ctx)
    recs = P.recommendations(ctx, prop)
    send = P.send_times(ctx)
    offers = P.offers(ctx, propensity=prop, value=value, recommendations=recs, send_times=send)
    flows = P.flows(ctx)
    recon = P.exports(ctx, offers)
    return P.summarize(ctx, base=P.customer_base(ctx), propensity=prop, value=value, recommendations=recs,
                       send_times=send, offers=offers, flows=flows, exports=recon)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The whole step on the 2,000-customer sample into a temporary report folder."""
    ctx = start_step("03_personalize", CONFIG, str(small_sample()), str(tmp_path_factory.mktemp("pers") / "out"), 42)
    result = run_step(ctx)
    return {"ctx": ctx, "run": result, "written": P.write_artifacts(ctx, result)}


def test_customer_base_at_the_planning_cutoff(run):
    base = run["run"].base
    cust = read(small_sample(), "customers")
    # the planning cutoff day (2025-10-15) is included: signed up before 2025-10-16 00:00 UTC (issue 18 item 7)
    live = cust[(cust["signup_ts"] < pd.Timestamp("2025-10-16", tz="UTC")) & cust["erased_at"].isna()]
    assert base.set_index("country").loc["All", "customers"] == len(live)
    assert "customer accounts" in P.describe_customer_base(base)


def test_customer_base_headline_by_hand():
    base = pd.DataFrame({"country": ["DE", "All"], "customers": [1234, 1234], "active": [56, 56],
                         "email_consent": [0.625, 0.625]})
    assert P.customer_base_headline(base) == {"customers": "1,234", "active (12 months)": "56",
                                              "email consent": "62.5%"}


def test_propensity_and_value_sections(run):
    r = run["run"]
    prop, value = r.propensity, r.value
    assert list(P.importance_table(prop, 3)["mean_abs_contribution"]) == list(
        prop.importance["mean_abs_contribution"].head(3))
    top = P.top_scored(prop, 5)
    assert len(top) == 5 and not top["customer"].isin(prop.scores["customer_id"]).any()  # pseudonymous
    assert "seasonal_buyer" in value.table and len(value.table) == len(value.result.table)
    assert P.clv_decile_table(value)["customers"].sum() == len(value.result.table)
    assert set(P.clv_params_table(value)["model"]) == {"BG/NBD", "Gamma-Gamma"}
    assert P.seasonal_table(value) is value.seasonal


def test_recommendations_send_times_and_offers(run):
    r = run["run"]
    recs, send, offers = r.recommendations, r.send_times, r.offers
    sources = P.recommendation_sources(recs)
    assert list(sources.columns) == ["recommendation slots"] and sources.iloc[:, 0].sum() == len(recs.recs)
    assert set(recs.recs["customer_id"]) <= set(r.propensity.scores["customer_id"])
    assert list(send.evaluation["method"])[0] == "personal (shrunk)"
    assert len(offers.people) == len(r.propensity.scores)
    assert offers.segment_source == "computed here (segment step output not found)"
    preview = P.offer_preview(offers).to_string()
    names = set(read(small_sample(), "customers")["first_name"].dropna())
    assert "[first name]" in preview and not any(f" {n}," in preview for n in names)
    by_segment = P.offers_by_segment(offers)
    assert by_segment["customers"].sum() == len(offers.people)
    assert P.describe_offers(offers).startswith("Discount depth follows")  # the sample has promo codes
    assert offers.matrix == run["ctx"].cfg.personalization.matrix()  # the preview renders from it


def test_flows_follow_the_config(run):
    flows = run["run"].flows
    assert list(flows["flow"] + ": " + flows["step"]) == [
        "abandoned cart: waiting", "abandoned cart: reminder", "abandoned cart: incentive",
        "abandoned cart: retargeting", "browse abandonment: waiting", "browse abandonment: reminder",
        "browse abandonment: recommendations"]


def test_exports_are_written_and_reconciled(run):
    recon, out = run["run"].exports, run["ctx"].output_dir
    done = recon[recon["status"] == "exported"]
    shared = done[done["file"].str.startswith("exports/")]
    private = done[done["file"].str.startswith("private/")]
    assert len(shared) > 0 and all((out / f).is_file() for f in shared["file"])
    # plaintext email lists: beside the output folder, never in it
    assert set(private["audience"]) == {"klaviyo_list_import", "mailchimp_audience_import"}
    assert all((private_dir(out) / f.removeprefix("private/")).is_file() for f in private["file"])
    assert not (out / "private").exists() and not list(out.rglob("klaviyo*")) and not list(out.rglob("mailchimp*"))
    text = P.describe_exports(recon)
    assert "audience file(s) were written" in text and "`klaviyo_list_import.csv`" in text
    assert "reports/.private/<campaign>/" in text and "](" not in text  # named, never linked


def test_summary_artifacts_headline_and_notes(run):
    r, out = run["run"], run["ctx"].output_dir
    assert run["written"].to_dict()["rows"] == {"scores.parquet": len(r.propensity.scores),
                                                "clv.parquet": len(r.value.table),
                                                "recommendations.parquet": len(r.recommendations.recs),
                                                "personalize_summary.json": 1}
    scores = read_artifact(out, "scores")
    assert "customer_id" not in scores and scores["customer_pid"].is_unique
    assert read_artifact(out, "personalize_summary") == r.summary
    m = r.propensity.metrics
    assert r.summary["propensity"]["roc_auc_model"] == pytest.approx(m["roc_auc"].iloc[0])
    assert r.summary["flows"]["abandoned cart: waiting"] == int(r.flows["customers"].iloc[0])
    head = P.headline(r)
    assert list(head) == ["customers", "active (12 months)", "email consent", "propensity AUC (baseline)",
                          "CLV holdout MAE, orders (naive)", "hit rate@10 (popularity)", "audience files exported"]
    assert head["propensity AUC (baseline)"] == f"{m['roc_auc'].iloc[0]:.3f} ({m['roc_auc'].iloc[1]:.3f})"
    n_done = int((r.exports["status"] == "exported").sum())
    assert head["audience files exported"] == f"{n_done} of {len(r.exports)}"
    assert P.notes(r) == r.propensity.notes + r.value.result.notes + r.recommendations.notes
    # nothing skipped on the full sample: no "skipped" key, the seasonal check and the past-season
    # evaluation are described (issue 14's skip sentences appear only without their inputs)
    assert "skipped" not in r.summary and r.value.seasonal_skipped is None and r.recommendations.skipped is None
    assert P.describe_recommendations(r.recommendations).startswith("On ")
    assert "bought something new in the last comparable season, " in P.describe_recommendations(r.recommendations)


def test_headline_by_hand_without_validation_results():
    base = pd.DataFrame({"country": ["All"], "customers": [10], "active": [4], "email_consent": [0.5]})
    summary = {"propensity": None, "clv": {"holdout_mae_model": None}, "recommendations": None,
               "exports": [{"status": "exported"}, {"status": "not exported: 3 people, below the minimum of 100"}]}
    run = P.Personalization(base, None, None, None, None, None, pd.DataFrame(), pd.DataFrame(), summary)
    assert P.headline(run) == {"customers": "10", "active (12 months)": "4", "email consent": "50.0%",
                               "audience files exported": "1 of 2"}
