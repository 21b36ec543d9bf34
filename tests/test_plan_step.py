"""Tests for playbook.plan_step (the plan notebook's calls): the whole chain on the small sample,
artifacts, and the bad-input fallbacks (country without history, channel without spend)."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from playbook import budget as B
from playbook import plan_step as S
from playbook.config import load_config
from playbook.paths import resolve
from playbook.warehouse import connect
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


def test_write_artifacts(tmp_path):
    cfg, wh, hist, cf, tr, br = _run()
    ctx = SimpleNamespace(output_dir=tmp_path, cfg=cfg)
    promo = S.promo(wh, cfg, cf, hist)
    from playbook.calendar import season_calendar

    cal = season_calendar(["US"], cfg.season.start, cfg.season.end)
    written = S.write_artifacts(ctx, cf, tr, br, promo, cal)
    names = set(written["artifact"])
    assert {"forecast.parquet", "targets.parquet", "budget_plan.parquet", "budget.parquet", "pacing.parquet",
            "calendar.csv", "plan.json"} <= names
    fc = pd.read_parquet(tmp_path / "artifacts" / "forecast.parquet")
    assert {"day", "metric", "dimension", "value", "mean", "lo80", "hi80", "lo95", "hi95"} <= set(fc.columns)
    summary = json.loads((tmp_path / "artifacts" / "plan.json").read_text())
    assert summary["forecast_revenue"] == pytest.approx(cf.total("revenue")["mean"].sum())
    csv = pd.read_csv(tmp_path / "artifacts" / "calendar.csv")
    assert "promotion" in set(csv["kind"])
    head = S.headline(pd.DataFrame({"season": ["x"], "revenue": [1.0], "orders": [1], "growth": [np.nan]}),
                      cf, tr, br, cfg.currency)
    assert "forecast revenue" in head and "backtest MASE (model / seasonal naive)" in head


def test_channel_without_spend_history_is_flagged_and_held_at_minimum():
    days = pd.date_range("2023-01-01", "2024-12-31")
    rng = np.random.default_rng(5)
    spend = pd.DataFrame({"day": days, "channel": "search", "spend": rng.lognormal(5, 0.4, len(days))})
    y = pd.Series(100 + 20 * (1 - np.exp(-spend["spend"].to_numpy() / 150)) + rng.normal(0, 3, len(days)), index=days)
    fit = B.fit_response_curves(y, spend, ["search", "email"], ["US"], aov=50.0)
    assert fit.missing == ["email"] and list(fit.curves) == ["search"]
    bounds = {"search": (1000.0, 9000.0), "email": (500.0, 4000.0)}
    table = B.budget_plan(fit, bounds, 6000.0, np.full(30, 1 / 30), {}, {})
    plan = table.set_index("channel")
    assert plan.loc["email", "budget"] == 500.0 and not plan.loc["email", "fitted"]
    assert plan.loc["search", "budget"] == pytest.approx(5500.0)
    assert "email stay at their minimum" in B.describe_budget(table)
