"""Tests for playbook.steps.plan (the plan notebook's calls): the whole chain on the small sample,
artifacts, and the bad-input fallbacks (country without history, channel without spend)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from playbook.artifacts import write_artifact
from playbook.config.loader import load_config, parse_config
from playbook.data.warehouse import connect
from playbook.errors import ConfigError
from playbook.forecasting.calendar import season_calendar
from playbook.media import budget as B
from playbook.media import response as MR
from playbook.paths import resolve
from playbook.report.format import fmt_money
from playbook.steps import plan as S
from tests.sample_data import small_sample


@functools.lru_cache(maxsize=1)
def _run():
    cfg = load_config(resolve("campaigns/holiday-2025.yaml"))
    cfg = cfg.model_copy(update={"countries": [*cfg.countries, "FR"]})  # FR: no customers at all
    wh = connect(small_sample())
    hist = S.load_history(wh, cfg)
    cf = S.run_forecast(wh, cfg, hist)
    tr = S.build_targets(wh, cfg, cf, hist)
    br = S.run_budget(wh, cfg, cf, hist)
    return cfg, wh, hist, cf, tr, br


def test_country_without_history_gets_a_note_and_a_fallback():
    cfg, _, hist, cf, _, _ = _run()
    assert any("FR" in n for n in hist.notes)
    fr = cf.forecast[(cf.forecast["dimension"] == "country") & (cf.forecast["value"] == "FR")]
    assert not fr.empty and (fr["model"] == "fallback-share").all() and (fr["mean"] == 0).all()
    assert any("FR" in n for n in cf.notes)


def test_history_stops_at_the_cutoff():
    cfg, _, hist, *_ = _run()
    assert hist.total["day"].max() <= pd.Timestamp(cfg.season.planning_cutoff)
    assert hist.by_country_category["day"].max() <= pd.Timestamp(cfg.season.planning_cutoff)


def test_budget_plan_respects_config_bounds():
    cfg, *_, br = _run()
    plan = br.plan.set_index("channel")
    assert plan["budget"].sum() == pytest.approx(cfg.budget.total)
    for ch, b in cfg.channels.items():
        assert b.min_budget - 1e-6 <= plan.loc[ch, "budget"] <= b.max_budget + 1e-6
    pace = br.pacing.groupby("channel")["spend"].sum()
    assert np.allclose(pace.reindex(plan.index), plan["budget"])


def test_budget_plan_on_the_media_model_has_intervals_around_its_means():
    cfg, *_, br = _run()
    assert br.model is not None and len(br.model.draws) == S.MODEL_DRAWS
    plan = br.plan[br.plan["fitted"]]
    assert len(plan) == len(br.model.channels) >= 3
    for x, lo, hi in (("expected_revenue", "expected_revenue_low", "expected_revenue_high"),
                      ("roas", "roas_low", "roas_high"), ("marginal_roas", "marginal_roas_low", "marginal_roas_high")):
        assert (plan[lo] <= plan[x] + 1e-9).all() and (plan[x] <= plan[hi] + 1e-9).all(), x
        assert (plan[hi] > plan[lo]).any(), x  # real intervals, not points
    assert {"expected_revenue_low", "roas_high", "marginal_roas_low"} <= set(S.plan_table(br, "USD").data.columns)
    t = S.model_table(br)
    assert (t["roas_lo"] <= t["roas_mean"] + 1e-9).all() and (t["roas_mean"] <= t["roas_hi"] + 1e-9).all()
    mean, low, high = br.plan.attrs["gain"]
    assert low <= mean <= high
    text = S.describe_budget(br, "USD")
    assert f"90 % interval {fmt_money(low, 'USD')} to {fmt_money(high, 'USD')}" in text
    assert ("not distinguishable from zero" in text) == (low <= 0 <= high)
    head = S.headline(pd.DataFrame({"season": ["x"], "revenue": [1.0], "orders": [1], "growth": [np.nan]}),
                      _run()[3], _run()[4], br, "USD")
    assert "90 % interval" in head["budget split gain vs last season's"]
    assert "90 % interval" in S.describe_model(br) or "R²" in S.describe_model(br)
    assert S.plot_response_curves(br, "USD").axes[0].collections  # the bands are drawn


def test_budget_objective_and_fixed_channels_are_validated_and_used():
    cfg, wh, hist, cf, _, br = _run()
    raw = yaml.safe_load(resolve("campaigns/holiday-2025.yaml").read_text(encoding="utf-8"))
    for bad, where in (({"objective": "best"}, "budget.objective"), ({"fixed": {"tv": 10.0}}, "budget.fixed.tv"),
                       ({"fixed": {"email": 1e9}}, "budget.fixed.email")):
        with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
            parse_config({**raw, "budget": {**raw["budget"], **bad}})
    lo, hi = cfg.channels["display"].min_budget, cfg.channels["display"].max_budget
    fixed = {"display": (lo + hi) / 2}
    cfg2 = cfg.model_copy(update={"budget": cfg.budget.model_copy(update={"objective": "p10", "fixed": fixed})})
    br2 = S.run_budget(wh, cfg2, cf, hist)
    plan = br2.plan.set_index("channel")
    assert plan.loc["display", "budget"] == pytest.approx(fixed["display"]) and plan.loc["display", "fixed"]
    assert plan["budget"].sum() == pytest.approx(cfg.budget.total) and br2.plan.attrs["objective"] == "p10"


def test_write_artifacts(tmp_path):
    cfg, wh, hist, cf, tr, br = _run()
    ctx = SimpleNamespace(output_dir=tmp_path, cfg=cfg)
    promo = S.promo(wh, cfg, cf, hist)
    cal = season_calendar(["US"], cfg.season.start, cfg.season.end)
    written = S.write_artifacts(ctx, cf, tr, br, promo, cal)
    names = set(written["artifact"])
    assert "budget.parquet" not in names  # one budget artifact: budget_plan.parquet
    assert {"forecast.parquet", "targets.parquet", "budget_plan.parquet", "pacing.parquet",
            "calendar.csv", "plan.json"} <= names
    fc = pd.read_parquet(tmp_path / "artifacts" / "forecast.parquet")
    assert {"day", "metric", "dimension", "value", "mean", "lo80", "hi80", "lo95", "hi95"} <= set(fc.columns)
    summary = json.loads((tmp_path / "artifacts" / "plan.json").read_text())
    assert summary["forecast_revenue"] == pytest.approx(cf.total("revenue")["mean"].sum())
    csv = pd.read_csv(tmp_path / "artifacts" / "calendar.csv")
    assert "promotion" in set(csv["kind"])
    model = pd.read_parquet(tmp_path / "artifacts" / "media_model.parquet")
    assert list(model["channel"]) == br.model.channels and (model["marginal_roas_lo"] <= model["marginal_roas_hi"]).all()
    head = S.headline(pd.DataFrame({"season": ["x"], "revenue": [1.0], "orders": [1], "growth": [np.nan]}),
                      cf, tr, br, cfg.currency)
    assert "forecast revenue" in head and "backtest MASE (model / seasonal naive)" in head


def test_channel_without_spend_history_is_flagged_and_held_at_minimum():
    fit = MR.CurveFit({"search": MR.ResponseCurve("search", ceiling=1000.0, scale=150.0)}, ["email"], 0.0, 50.0,
                      float("nan"))
    assert fit.missing == ["email"] and list(fit.curves) == ["search"]
    bounds = {"search": (1000.0, 9000.0), "email": (500.0, 4000.0)}
    table = B.budget_plan(fit, bounds, 6000.0, np.full(30, 1 / 30), {}, {})
    plan = table.set_index("channel")
    assert plan.loc["email", "budget"] == 500.0 and not plan.loc["email", "fitted"]
    assert plan.loc["search", "budget"] == pytest.approx(5500.0)
    assert "email stay at their minimum" in B.describe_budget(table)


def _write_retrospective(root, slug, start, end, countries, next_budget=None, lessons=()):
    """A fake published retrospective: ``<root>/<slug>/artifacts/summary.json`` (+ next_budget.parquet)."""
    out = root / slug
    summary = {"kind": "retrospective",
               "campaign": {"slug": slug, "name": slug.replace("-", " ").title(), "start": start, "end": end,
                            "countries": countries, "currency": "USD"},
               "revenue": {"actual": 90_000.0, "forecast": 100_000.0, "target": 108_000.0},
               "forecast_from_plan": True, "lessons": list(lessons),
               "next_budget": [] if next_budget is None else next_budget.to_dict("records")}
    write_artifact(summary, out, "summary")
    if next_budget is not None:
        write_artifact(next_budget, out, "next_budget")


#: Earlier recommendation (100k in all): paid search and paid social with marginal ROAS below 1.
_NEXT = pd.DataFrame({"channel": ["paid_search", "paid_social", "display", "affiliate", "email"],
                      "repeat_split": [45_000.0, 25_000.0, 15_000.0, 10_000.0, 5_000.0],
                      "recommended": [30_000.0, 25_000.0, 20_000.0, 15_000.0, 10_000.0],
                      "marginal_roas_recommended": [0.7, 0.6, 1.5, 1.8, 3.0],
                      "marginal_roas_recommended_lo": [0.5, 0.4, 1.1, 1.2, 2.0],
                      "marginal_roas_recommended_hi": [0.9, 0.8, 1.9, 2.4, 4.0]})


def test_no_earlier_retrospective_changes_nothing(tmp_path):
    cfg, wh, hist, cf, tr, br = _run()
    er = S.earlier_retrospective(cfg, reports_root=tmp_path / "reports")  # folder does not exist
    assert er.summary is None and er.bias is None
    _write_retrospective(tmp_path / "reports", cfg.slug, "2025-11-01", "2025-12-31", ["US"], _NEXT)  # itself
    _write_retrospective(tmp_path / "reports", "spring-2026", "2026-03-01", "2026-03-31", ["US"], _NEXT)  # later
    er = S.earlier_retrospective(cfg, reports_root=tmp_path / "reports")
    assert er.summary is None
    tr0 = S.build_targets(wh, cfg, cf, hist, er)
    pd.testing.assert_frame_equal(tr0.targets, tr.targets)
    pd.testing.assert_frame_equal(tr0.feasibility, tr.feasibility)
    assert "No earlier retrospective applies" in S.describe_earlier(er, cfg)
    assert "No earlier retrospective applies" in S.describe_target_lessons(tr0, er, cfg.currency)
    assert "configured ones" in S.describe_budget_lessons(br, er, cfg.currency)


def test_earlier_retrospective_shapes_targets_and_budget(tmp_path):
    cfg, wh, hist, cf, tr, br = _run()
    root = tmp_path / "reports"
    _write_retrospective(root, "holiday-2024", "2024-11-01", "2024-12-31", ["US", "GB"], _NEXT,
                         lessons=["Email returned the most per unit of spend."])
    _write_retrospective(root, "holiday-2023", "2023-11-01", "2023-12-31", ["US"], None, lessons=["Older lesson."])
    er = S.earlier_retrospective(cfg, reports_root=root)
    assert er.summary["campaign"]["slug"] == "holiday-2024" and er.bias == pytest.approx(-0.1)
    rev = cf.forecast[(cf.forecast["dimension"] == "country") & (cf.forecast["metric"] == "revenue")]
    share = rev.loc[rev["value"].isin(["US", "GB"]), "mean"].sum() / rev["mean"].sum()
    assert 0.2 < share < 0.9  # the earlier campaign covered US and GB of this campaign's seven countries
    applied = -0.1 * share
    assert er.next_budget["recommended"].sum() == pytest.approx(100_000)
    text = S.describe_earlier(er, cfg)
    assert "**Holiday 2024**" in text and "- Email returned the most per unit of spend. (Holiday 2024)" in text
    assert "- Older lesson. (Holiday 2023)" in text

    # targets: revenue base = forecast x (1 - 0.1 share), the target unchanged, judged against that
    tr1 = S.build_targets(wh, cfg, cf, hist, er)
    key = ["day", "metric", "channel", "level"]
    both = tr1.targets.merge(tr.targets, on=key, suffixes=("", "_plain"))
    base = (both["metric"] == "revenue") & (both["level"] == "base")
    assert tr1.bias == pytest.approx(applied) and tr1.bias_share == pytest.approx(share)
    assert np.allclose(both.loc[base, "value"], (1 + applied) * both.loc[base, "value_plain"])
    assert np.allclose(both.loc[~base, "value"], both.loc[~base, "value_plain"])
    r1, r0 = tr1.feasibility.set_index("metric").loc["revenue"], tr.feasibility.set_index("metric").loc["revenue"]
    assert r1["expected"] == pytest.approx((1 + applied) * r0["forecast"]) and r1["target"] == pytest.approx(r0["target"])
    assert r1["p_reach_target"] < r0["p_reach_target"]
    text = S.describe_target_lessons(tr1, er, cfg.currency)
    assert "In Holiday 2024 (US, GB) revenue came in 10.0% below the plan's forecast" in text
    assert f"make up {share:.1%} of this season's forecast" in text and f"corrected by {applied:.1%}" in text

    # budget: caps at the earlier recommendation scaled to 110k (paid search 33k, paid social 27.5k)
    br1 = S.run_budget(wh, cfg, cf, hist, er)
    plan = br1.plan.set_index("channel")
    assert plan["budget"].sum() == pytest.approx(cfg.budget.total)
    scale = cfg.budget.total / 100_000
    assert plan.loc["paid_search", "max_budget"] == pytest.approx(30_000 * scale)
    assert plan.loc["paid_social", "max_budget"] == pytest.approx(25_000 * scale)
    assert plan.loc["display", "max_budget"] == cfg.channels["display"].max_budget
    assert (plan["budget"] <= plan["max_budget"] + 1e-6).all()
    assert plan["earlier_recommended"].to_dict() == pytest.approx((_NEXT.set_index("channel")["recommended"] * scale).to_dict())
    before = br.plan.set_index("channel")
    assert before.loc["paid_search", "budget"] > 30_000 * scale  # so the cap really moved money
    assert plan.loc["paid_search", "budget"] == pytest.approx(30_000 * scale)
    sentence = S.describe_budget_lessons(br1, er, cfg.currency)
    assert f"**paid search** (0.70, 90 % interval 0.50 to 0.90): maximum capped at ${30_000 * scale:,.0f}" in sentence
    assert "The cap binds for paid search" in sentence
    assert any("Capped by the Holiday 2024 retrospective" in n for n in br1.notes)
    summary = S.plan_summary(cfg, cf, tr1, br1)
    assert summary["earlier_retrospective"] == "holiday-2024" and summary["earlier_forecast_bias"] == pytest.approx(applied)
    assert set(summary["earlier_budget_caps"]) == {"paid_search", "paid_social"}


@pytest.mark.parametrize(("output_dir", "root"), [
    ("/r/.staging/holiday-2025-20251101-x", "/r"), ("/r/_interactive/holiday-2025", "/r"), ("/r/holiday-2025", "/r"),
], ids=["runner-staging", "interactive", "published"])
def test_published_root(output_dir, root):
    assert S.published_root(output_dir) == Path(root)
