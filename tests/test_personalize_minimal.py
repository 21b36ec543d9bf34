"""The personalize step where its optional inputs are missing (issue 14): a campaign without
comparison seasons (``comparison_seasons: []``, which the config allows) and a source whose
order_items and products are header-only and whose events are absent. Each skipped section says in
one sentence what is missing; propensity, CLV and the audience files still come out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from playbook.artifacts import read_artifact
from playbook.paths import resolve
from playbook.steps import personalize as P
from playbook.steps.context import StepContext, start_step
from tests.sample_data import small_sample
from tests.test_steps_personalize import run_step

CONFIG = "campaigns/holiday-2025.yaml"
NO_SEASON = ("No comparison season: the seasonal-buyer check needs at least one past season window "
             "(comparison_seasons).")
NO_LINES = ("No order lines before the planning cutoff (order_items is absent or empty): product "
            "recommendations are skipped; an order_items table (order_id, product_id, quantity) would "
            "enable them.")


def _run(ctx: StepContext) -> dict[str, Any]:
    result = run_step(ctx)
    P.write_artifacts(ctx, result)
    return {"ctx": ctx, "run": result}


@pytest.fixture(scope="module")
def no_seasons(tmp_path_factory) -> dict[str, Any]:
    """The whole step on the sample with ``comparison_seasons: []``."""
    tmp = tmp_path_factory.mktemp("pers_noseason")
    cfg = yaml.safe_load(resolve(CONFIG).read_text())
    cfg["comparison_seasons"] = []
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return _run(start_step("03_personalize", str(path), str(small_sample()), str(tmp / "out"), 42))


@pytest.fixture(scope="module")
def no_products(tmp_path_factory) -> dict[str, Any]:
    """The whole step on a copy of the sample with header-only order_items and products and no events."""
    tmp = tmp_path_factory.mktemp("pers_noproducts")
    src = tmp / "data"
    src.mkdir()
    for f in small_sample().glob("*.parquet"):
        if f.stem in ("order_items", "products"):
            pd.read_parquet(f).iloc[:0].to_parquet(src / f.name, index=False)
        elif f.stem != "events":
            shutil.copy(f, src / f.name)
    return _run(start_step("03_personalize", CONFIG, str(src), str(tmp / "out"), 42))


def _exported(ctx: StepContext, recon: pd.DataFrame) -> list[str]:
    files = sorted(p.name for p in (Path(ctx.output_dir) / "exports").iterdir())
    assert (recon["status"] == "exported").sum() >= 1 and files
    return files


# --------------------------------------------------------------------------------------------
# comparison_seasons: []
# --------------------------------------------------------------------------------------------
def test_without_comparison_seasons_the_seasonal_check_is_one_sentence(no_seasons):
    value = no_seasons["run"].value
    assert P.describe_seasonal(value) == NO_SEASON
    assert P.seasonal_table(value).empty
    assert not value.table["seasonal_buyer"].any() and (value.table["seasonal_share"] == 0.0).all()
    assert set(P.clv_params_table(value)["model"]) == {"BG/NBD", "Gamma-Gamma"}  # CLV itself still fitted


def test_without_comparison_seasons_recommendations_are_checked_on_the_weeks_before_the_cutoff(no_seasons):
    recs = no_seasons["run"].recommendations
    assert recs.skipped is None and len(recs.recs) == 10 * len(no_seasons["run"].propensity.scores)
    assert list(recs.evaluation["method"]) == ["item-to-item CF", "popularity"]
    text = P.describe_recommendations(recs)
    assert text.startswith("On ") and "bought something new in the 61 days up to the planning cutoff" in text


def test_without_comparison_seasons_exports_summary_and_notes(no_seasons):
    r, ctx = no_seasons["run"], no_seasons["ctx"]
    assert _exported(ctx, r.exports)
    summary = read_artifact(ctx.output_dir, "personalize_summary")
    assert summary["skipped"] == {"seasonal_buyers": NO_SEASON}
    assert summary["recommendations"]["hit_rate_at_10_cf"] > 0
    assert NO_SEASON in P.notes(r)
    assert "audience files exported" in P.headline(r)


# --------------------------------------------------------------------------------------------
# header-only order_items and products, no events
# --------------------------------------------------------------------------------------------
def test_without_order_lines_recommendations_are_skipped_with_one_sentence(no_products):
    recs = no_products["run"].recommendations
    assert recs.skipped == NO_LINES and recs.recs.empty and recs.evaluation.empty
    assert P.describe_recommendations(recs) == NO_LINES
    assert P.recommendation_sources(recs).empty
    assert no_products["run"].offers.people["top_products"].isna().all()


def test_without_order_lines_propensity_and_clv_run_on_orders(no_products):
    r = no_products["run"]
    assert list(r.propensity.metrics["model"]) == ["XGBoost (all features)", "Logistic regression (RFM only)"]
    assert r.propensity.scores["score"].between(0, 1).all()
    assert set(P.clv_params_table(r.value)["model"]) == {"BG/NBD", "Gamma-Gamma"}
    assert r.value.seasonal_skipped is None and r.value.table["seasonal_buyer"].any()


def test_without_order_lines_exports_and_summary(no_products):
    r, ctx = no_products["run"], no_products["ctx"]
    assert _exported(ctx, r.exports)
    summary = read_artifact(ctx.output_dir, "personalize_summary")
    assert summary["skipped"] == {"recommendations": NO_LINES} and summary["recommendations"] is None
    assert read_artifact(ctx.output_dir, "recommendations").empty
    assert NO_LINES in P.notes(r) and "hit rate@10 (popularity)" not in P.headline(r)
