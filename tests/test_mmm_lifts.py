"""Lift results given in the campaign file (issue 17, item 2): the ``media.lifts`` schema and its errors,
which lifts a fit can use, their effect on the media model (calibration before/after), and how the plan
and the retrospective use them (and the lifts an earlier retrospective hands to the next plan)."""

from __future__ import annotations

import functools
import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from playbook.artifacts import write_artifact
from playbook.config.loader import load_config, parse_config
from playbook.config.media import LiftResult
from playbook.data.warehouse import connect
from playbook.errors import ConfigError
from playbook.media import efficiency as E
from playbook.media import lifts as ML
from playbook.media import mmm as M
from playbook.paths import resolve
from playbook.planning import lessons as LS
from playbook.steps import plan as S
from playbook.steps import retrospective as R
from playbook.steps.context import start_step
from tests.sample_data import read, small_sample, truth
from tests.test_mmm import small

CONFIG = "campaigns/holiday-2025.yaml"
Z90 = 1.6448536269514722


def _base() -> dict:
    return yaml.safe_load(resolve(CONFIG).read_text(encoding="utf-8"))


def _with_lifts(*lifts: dict) -> dict:
    return {**_base(), "media": {"lifts": list(lifts)}}


LIFT = {"channel": "paid_social", "start": "2025-09-01", "end": "2025-09-21", "incremental_revenue": 42000,
        "interval": [30000, 54000], "source": "Meta conversion lift study"}


# ------------------------------------------------------------------------------------------
# The schema
def test_lift_with_incremental_revenue_gives_its_standard_error():
    lf = parse_config(_with_lifts(LIFT)).media.lifts[0]
    assert lf.revenue == 42000 and lf.level == 0.9
    assert lf.se == pytest.approx(24000 / (2 * Z90))
    assert lf.label == "Meta conversion lift study"


def test_lift_with_iroas_and_spend_and_another_level():
    lf = parse_config(_with_lifts({"channel": "email", "start": "2025-09-01", "end": "2025-09-30", "iroas": 2.1,
                                   "spend": 20000, "interval": [1.5, 2.7], "level": 0.95})).media.lifts[0]
    assert lf.revenue == pytest.approx(42000)
    assert lf.se == pytest.approx(1.2 * 20000 / (2 * 1.959963984540054))
    assert lf.label == "lift study email 2025-09-01 to 2025-09-30"


@pytest.mark.parametrize(("change", "pattern"), [
    ({"channel": "tv"}, r"media\.lifts\[0\]\.channel: 'tv' is not a budgetable channel.*allowed: paid_search"),
    ({"end": "2025-08-01"}, r"media\.lifts\[0\]\.end: 2025-08-01 is before start 2025-09-01"),
    ({"iroas": 2.0}, r"media\.lifts\[0\]: gives both incremental_revenue and iroas; give exactly one"),
    ({"incremental_revenue": None}, r"media\.lifts\[0\]: gives no estimate; give exactly one"),
    ({"incremental_revenue": None, "iroas": 2.0}, r"media\.lifts\[0\]\.spend: is missing: iroas needs the spend"),
    ({"spend": 1000}, r"media\.lifts\[0\]\.spend: is only used with iroas"),
    ({"interval": [54000, 30000]}, r"media\.lifts\[0\]\.interval: \[54000, 30000\] is not an interval"),
    ({"interval": [50000, 60000]}, r"does not contain the estimate incremental_revenue 42000"),
    ({"interval": [1]}, r"media\.lifts\[0\]\.interval"),
    ({"level": 90}, r"media\.lifts\[0\]\.level"),
    ({"incremental_revenu": 1}, r"did you mean 'incremental_revenue'"),
], ids=["channel", "window", "both", "none", "iroas-no-spend", "spend-no-iroas", "reversed", "outside", "one-bound",
        "level-percent", "typo"])
def test_bad_lifts_say_what_where_and_how_to_fix(change, pattern):
    lift = {k: v for k, v in {**LIFT, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=pattern):
        parse_config(_with_lifts(lift))


def test_a_lift_on_a_channel_the_campaign_does_not_configure_lists_the_channels():
    cfg = _base()
    cfg["channels"].pop("display")
    cfg["budget"]["total"] = 90000
    cfg["media"] = {"lifts": [{**LIFT, "channel": "display"}]}
    with pytest.raises(ConfigError, match=re.escape(
            "media.lifts[0].channel: 'display' is not a configured channel (channels: paid_search, paid_social, "
            "affiliate, email); the media model fits only those, so add channels.display or correct the name")):
        parse_config(cfg)


def test_the_same_study_twice_is_refused_and_empty_sections_are_allowed():
    with pytest.raises(ConfigError, match=r"media\.lifts\[1\]: repeats the window of media\.lifts\[0\]"):
        parse_config(_with_lifts(LIFT, {**LIFT, "source": "again"}))
    assert parse_config({**_base(), "media": None}).media.lifts == []
    assert parse_config({**_base(), "media": {"lifts": None}}).media.lifts == []
    assert load_config(resolve(CONFIG)).media.lifts == []


def test_the_commented_example_in_the_campaign_file_is_valid():
    text = resolve(CONFIG).read_text(encoding="utf-8")
    block = text[text.index("# media:"):]
    example = yaml.safe_load("\n".join(line[2:] for line in block.splitlines() if line.startswith("#")))
    lf = parse_config({**_base(), **example}).media.lifts[0]
    assert (lf.channel, lf.revenue, lf.source) == ("paid_social", 42000, "Meta conversion lift study")


# ------------------------------------------------------------------------------------------
# Which lifts a fit can use
def _lift(channel="a", start="2024-06-01", end="2024-06-30", value=1000.0, source="study") -> M.Lift:
    return M.Lift(channel, start, end, value, 100.0, "revenue", source)


def test_config_lifts_become_model_lifts():
    r = LiftResult.model_validate(LIFT)
    lf = ML.config_lifts([r])[0]
    assert (lf.channel, lf.incremental, lf.unit, lf.kind, lf.source) == (
        "paid_social", 42000.0, "revenue", "lift study", "Meta conversion lift study")
    assert lf.se == pytest.approx(r.se)
    assert pd.Timestamp(lf.start) == pd.Timestamp("2025-09-01") and pd.Timestamp(lf.end) == pd.Timestamp("2025-09-21")


def test_usable_lifts_keep_whole_windows_on_fitted_channels_and_say_why_not():
    inside, late, early, outside, nospend = (_lift(), _lift(end="2025-01-10", source="late"),
                                             _lift(start="2023-12-20", source="early"),
                                             _lift(start="2026-01-01", end="2026-01-10", source="after"),
                                             _lift("b", source="b study"))
    keep, notes = ML.usable_lifts([inside, late, early, outside, nospend], "2024-01-01", "2024-12-31", ["a"], "the plan")
    assert keep == [inside]
    assert notes == [
        'The lift study "late" (a, 2024-06-01 to 2025-01-10) is not used in this fit: its window ends after the plan, '
        "2024-01-01 to 2024-12-31 (a lift is compared with the model's contribution over its whole window).",
        'The lift study "early" (a, 2023-12-20 to 2024-06-30) is not used in this fit: its window starts before the '
        "plan, 2024-01-01 to 2024-12-31 (a lift is compared with the model's contribution over its whole window).",
        'The lift study "after" (a, 2026-01-01 to 2026-01-10) is not used in this fit: its window lies outside the '
        "plan, 2024-01-01 to 2024-12-31 (a lift is compared with the model's contribution over its whole window).",
        'The lift study "b study" (b, 2024-06-01 to 2024-06-30) is not used: b has no spend in the plan, 2024-01-01 '
        "to 2024-12-31."]


# ------------------------------------------------------------------------------------------
# In the model: before and after
WIN = ("2024-06-01", "2024-06-30")


def _true_lift() -> float:
    """Incremental revenue of channel ``a`` of :func:`tests.test_mmm.small` over :data:`WIN` (aov 20)."""
    _, spend = small()
    d = spend.loc[WIN[0]:WIN[1], "a"]
    return 20.0 * float((40 * (1 - np.exp(-d / 300))).sum())


def _fit(lifts=()):
    y, spend = small()
    return M.fit_media_model(y, spend, ["a", "b"], aov=20.0, draws=20, seed=0, annual_order=1,
                             per_channel_theta=False, thetas=(0.0,), lifts=lifts)


@functools.lru_cache(maxsize=1)
def _calibrated() -> M.MediaModel:
    true = _true_lift()
    r = LiftResult.model_validate({"channel": "paid_search", "start": WIN[0], "end": WIN[1],
                                   "incremental_revenue": true, "interval": [0.9 * true, 1.1 * true],
                                   "source": "Study A"})
    lf = ML.config_lifts([r])[0]
    return _fit([M.Lift("a", lf.start, lf.end, lf.incremental, lf.se, lf.unit, lf.source, lf.kind)])


def test_a_campaign_file_lift_narrows_its_channel_and_the_table_names_it():
    m = _calibrated()
    t = m.calibration().set_index("channel")
    assert t.loc["a", "lift"] == pytest.approx(_true_lift())
    assert t.loc["a", "lift_source"] == "lift study Study A" and t.loc["b", "lift_source"] == ""
    before = t.loc["a", "roas_before_hi"] - t.loc["a", "roas_before_lo"]
    after = t.loc["a", "roas_after_hi"] - t.loc["a", "roas_after_lo"]
    assert after < 0.8 * before, (before, after)
    # the model's contribution over the window sits near the study's figure (se 6 % of it)
    inside = (m.days >= WIN[0]) & (m.days <= WIN[1])
    got = float(m.curves["a"].response_over_time(m.spend["a"])[inside].sum())
    assert got == pytest.approx(_true_lift(), rel=0.1)
    text = E.describe_calibration(m.calibration())
    assert text.startswith(f"**a** (lift from Study A: {_true_lift():,.0f} of revenue): ROAS ")
    assert "before calibration" in text and "after;" in text


def test_holdout_and_study_labels():
    assert E._lift_label("holdout xmas25_email_holdout") == "holdout lift"
    assert E._lift_label("holdout x; lift study Meta") == "lift from holdout x, Meta:"
    assert E._lift_label("") == "lift"


# ------------------------------------------------------------------------------------------
# The plan: which lifts calibrate its fit (campaign file, earlier retrospective)
def _hist(first="2023-01-01", last="2025-10-15"):
    return SimpleNamespace(total=pd.DataFrame({"day": pd.date_range(first, last)}))


SPEND = pd.DataFrame({"day": pd.to_datetime(["2024-01-02", "2024-01-02"]), "channel": ["paid_social", "display"],
                      "spend": [10.0, 0.0]})


def _earlier(countries=("US",), currency="USD", lifts=None) -> LS.EarlierRetro:
    summary = {"kind": "retrospective", "campaign": {"slug": "holiday-2024", "name": "Holiday 2024", "start": "2024-11-01",
                            "end": "2024-12-31", "countries": list(countries), "currency": currency},
               "lifts": lifts if lifts is not None else [
                   {"channel": "paid_social", "start": "2024-11-01", "end": "2024-12-31", "incremental": 5000.0,
                    "se": 1000.0, "unit": "revenue", "source": "xmas24_social_holdout", "kind": "holdout"},
                   {"channel": "paid_social", "start": "2025-09-01", "end": "2025-09-21", "incremental": 42000.0,
                    "se": 7000.0, "unit": "revenue", "source": "Meta conversion lift study", "kind": "lift study"}],
               "media_model": [{"channel": "paid_social", "mean_daily_spend": 250.0, "roas_mean": 1.8, "roas_lo": 1.1,
                                "roas_hi": 2.6, "marginal_roas_mean": 0.9, "marginal_roas_lo": 0.4,
                                "marginal_roas_hi": 1.5, "warning": ""},
                               {"channel": "display", "mean_daily_spend": 170.0, "roas_mean": 0.5, "roas_lo": -0.1,
                                "roas_hi": 1.2, "marginal_roas_mean": 0.2, "marginal_roas_lo": 0.0,
                                "marginal_roas_hi": 0.6, "warning": "x"}]}
    return LS.EarlierRetro(resolve("reports"), summary, [], pd.DataFrame(columns=LS.NEXT_BUDGET_COLUMNS), None,
                           LS.retro_media_model(summary), LS.retro_lifts(summary))


def test_plan_lifts_take_the_campaign_file_and_the_earlier_retrospective():
    cfg = SimpleNamespace(countries=["US"], currency="USD", media=SimpleNamespace(lifts=[
        LiftResult.model_validate(LIFT),
        LiftResult.model_validate({**LIFT, "start": "2025-10-10", "end": "2025-10-31", "source": "late study"})]))
    lifts, notes = S.plan_lifts(cfg, _hist(), SPEND, ["paid_social", "display"], _earlier())
    # the campaign file's September study, and the earlier season's holdout; the earlier record of the same
    # September study is that study again (dropped); the late study ends after the cutoff
    assert [(lf.kind, lf.source) for lf in lifts] == [
        ("lift study", "Meta conversion lift study"), ("holdout", "xmas24_social_holdout (Holiday 2024 retrospective)")]
    assert lifts[1].incremental == 5000.0 and lifts[1].se == 1000.0
    assert len(notes) == 1 and notes[0].startswith('The lift study "late study" (paid social, 2025-10-10 to 2025-10-31) '
                                                   "is not used in this fit: its window ends after the plan's history")


def test_earlier_lifts_of_other_countries_or_currency_do_not_calibrate_the_plan():
    cfg = SimpleNamespace(countries=["US", "GB"], currency="USD", media=SimpleNamespace(lifts=[]))
    lifts, notes = S.plan_lifts(cfg, _hist(), SPEND, ["paid_social"], _earlier())
    assert lifts == [] and notes == [
        "The lifts that calibrated the Holiday 2024 retrospective's media model do not calibrate this plan: they "
        "measured US customers in USD, this plan models GB, US in USD."]
    cfg = SimpleNamespace(countries=["US"], currency="EUR", media=SimpleNamespace(lifts=[]))
    assert S.plan_lifts(cfg, _hist(), SPEND, ["paid_social"], _earlier())[0] == []


def test_the_plan_page_says_what_the_earlier_model_said_with_intervals():
    er = _earlier()
    text = LS.describe_retro_model(er.media_model, er.lifts, er.name, ["holdout xmas24_social_holdout"])
    assert text == (
        "The Holiday 2024 retrospective's media model (read from its `media_model.parquet`) put the marginal ROAS at "
        "mean daily spend at: paid social 0.90 (90 % interval 0.40 to 1.50); display 0.20 (90 % interval 0.00 to "
        "0.60), not distinguishable from zero. It was calibrated by holdout xmas24_social_holdout (paid social), "
        "lift study Meta conversion lift study (paid social). This plan refits the model on its own history, which "
        "holds that season, rather than reusing those curves as fixed values; the same experiments calibrate this "
        "plan's fit (holdout xmas24_social_holdout).")
    assert "recorded no media model" in LS.describe_retro_model(LS.retro_media_model(None), er.lifts, er.name)
    # older summaries without lifts, and malformed records, carry none
    assert LS.retro_lifts({"campaign": {}, "lifts": [{"channel": "x", "start": "2024-01-01", "end": "bad",
                                                      "incremental": 1, "se": 1}]}).empty


def test_retrospective_records_its_lifts_for_the_next_plan():
    m = _calibrated()
    rec = R.model_lift_records(m)
    assert rec == [{"channel": "a", "start": WIN[0], "end": WIN[1], "incremental": pytest.approx(_true_lift()),
                    "se": pytest.approx(m.lifts[0].se), "unit": "revenue", "source": "Study A", "kind": "lift study"}]
    back = LS.retro_lifts({"campaign": {}, "lifts": json.loads(json.dumps(rec))})
    assert list(back.columns) == LS.RETRO_LIFT_COLUMNS and back.loc[0, "incremental"] == pytest.approx(_true_lift())
    assert R.model_lift_records(None) == []


def test_retrospective_lifts_are_the_holdouts_plus_the_campaign_file_ones():
    cfg = SimpleNamespace(season=SimpleNamespace(start=pd.Timestamp("2025-11-01").date(),
                                                 end=pd.Timestamp("2025-12-31").date()),
                          media=SimpleNamespace(lifts=[LiftResult.model_validate(LIFT),
                                                       LiftResult.model_validate({**LIFT, "channel": "display"})]))
    inc = pd.DataFrame([{"channel": "email", "experiment_id": "xmas25_email_holdout", "incremental_revenue": 900.0,
                         "incremental_revenue_lo": 100.0, "incremental_revenue_hi": 1700.0}])
    lifts, notes = R.model_lifts(SimpleNamespace(cfg=cfg), inc, pd.date_range("2023-01-01", "2025-12-31"),
                                 ["email", "paid_social"])
    assert [(lf.kind, lf.channel, lf.source) for lf in lifts] == [
        ("holdout", "email", "xmas25_email_holdout"), ("lift study", "paid_social", "Meta conversion lift study")]
    assert notes == ['The lift study "Meta conversion lift study" (display, 2025-09-01 to 2025-09-21) is not used: '
                     "display has no spend in the retrospective's history (up to the season's end), 2023-01-01 to "
                     "2025-12-31."]


# ------------------------------------------------------------------------------------------
# The plan on the small sample with a lift from the campaign file (one fit with, one without)
def _sample_cfg(lifts):
    cfg = load_config(resolve(CONFIG))
    return cfg.model_copy(update={"media": cfg.media.model_copy(update={"lifts": lifts})})


@functools.lru_cache(maxsize=1)
def _plan_run():
    wh = connect(small_sample())
    cfg0 = load_config(resolve(CONFIG))
    hist = S.load_history(wh, cfg0)
    spend = E.daily_spend(wh, hist.start, hist.cutoff)
    y = hist.total.set_index("day")["orders"]
    # the study says what the plan's own uncalibrated fit says for paid social in September 2025, with a
    # tight interval: after calibration its ROAS interval must narrow
    base = S._fit_curves(hist, spend, list(cfg0.channels), cfg0.countries, 0)
    inside = (base.days >= "2025-09-01") & (base.days <= "2025-09-21")
    est = float(base.curves["paid_social"].response_over_time(base.spend["paid_social"])[inside].sum())
    lift = LiftResult.model_validate({**LIFT, "incremental_revenue": est, "interval": [0.95 * est, 1.05 * est]})
    late = LiftResult.model_validate({**LIFT, "start": "2025-11-01", "end": "2025-11-30", "source": "November study"})
    cfg = _sample_cfg([lift, late])
    cf = SimpleNamespace(total=lambda metric: pd.DataFrame())  # flat pacing profile: the fit is what is tested
    return cfg, S.run_budget(wh, cfg, cf, hist), base, y


def test_plan_fit_is_calibrated_by_the_campaign_file_lift():
    cfg, br, base, _ = _plan_run()
    m = br.model
    assert [lf.source for lf in m.lifts] == ["Meta conversion lift study"]
    t = m.calibration().set_index("channel")
    before = t.loc["paid_social", "roas_before_hi"] - t.loc["paid_social", "roas_before_lo"]
    after = t.loc["paid_social", "roas_after_hi"] - t.loc["paid_social", "roas_after_lo"]
    assert after < 0.8 * before, (before, after)
    assert t.loc["paid_social", "roas_before"] == pytest.approx(
        base.summary().set_index("channel").loc["paid_social", "roas"])
    assert any(n.startswith('The lift study "November study"') and "lies outside the plan's history" in n
               for n in br.notes)
    text = S.describe_model(br)
    assert "Calibrated by experiments: **paid social** (lift from Meta conversion lift study:" in text
    table = S.calibration_table(br, cfg.currency).data
    assert list(table["channel"]) == ["paid_social"] and table.loc[0, "lift_source"] == "lift study Meta conversion lift study"


def _planted_lift(channel: str, start: str, end: str) -> float:
    """The small sample's planted incremental revenue of ``channel`` over ``start`` to ``end``."""
    tr = truth(small_sample())["channels"][channel]
    s = read(small_sample(), "spend")
    d = s[(s["channel"] == channel) & pd.to_datetime(s["date"]).between(start, end)].groupby("date")["spend"].sum()
    return float(tr["aov"] * (tr["beta"] * (1 - np.exp(-d / tr["kappa"]))).sum())


def test_retrospective_fit_is_calibrated_by_the_later_campaign_file_lift(tmp_path):
    """The November study the plan could not use (after its cutoff) calibrates the retrospective's model."""
    nov = _planted_lift("paid_social", "2025-11-01", "2025-11-30")
    raw = _base()
    raw["media"] = {"lifts": [{**LIFT, "start": "2025-11-01", "end": "2025-11-30", "source": "November study",
                               "incremental_revenue": nov, "interval": [0.8 * nov, 1.2 * nov]},
                              {**LIFT, "start": "2026-02-01", "end": "2026-02-28", "source": "February study"}]}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    ctx = start_step("05_retrospective", str(path), str(small_sample()), str(tmp_path / "out"), 42)
    inc = pd.DataFrame(columns=["channel", "incremental_revenue", "incremental_revenue_lo", "incremental_revenue_hi"])
    model, _, notes = R._fit_model(ctx, inc)
    assert [lf.source for lf in model.lifts] == ["November study"]
    assert model.calibration().set_index("channel").loc["paid_social", "lift"] == pytest.approx(nov)
    assert len(notes) == 1 and notes[0].startswith('The lift study "February study"') and "lies outside" in notes[0]
    media = R.Media(pd.DataFrame(), pd.DataFrame(), model, E.model_table(model), model.calibration(),
                    pd.DataFrame(), pd.DataFrame(), lift_notes=notes)
    text = R.describe_calibration(media)
    assert text.startswith(f"**paid social** (lift from November study: {nov:,.0f} of revenue)") and notes[0] in text
    assert list(R.calibration_table(media)["channel"]) == ["paid_social"]


def test_plan_reads_the_earlier_media_model_and_says_what_it_said(tmp_path):
    """The plan reads ``media_model.parquet`` of the earlier retrospective (not the summary's copy), takes
    the lifts that calibrated it, and its budget lessons state that model's marginal ROAS with intervals."""
    cfg = load_config(resolve(CONFIG))
    er0 = _earlier(countries=cfg.countries)
    out = tmp_path / "reports" / "holiday-2024"
    write_artifact(er0.summary, out, "summary")
    parquet = er0.media_model.assign(marginal_roas_mean=[0.95, 0.25])  # differs from the summary's records
    write_artifact(parquet, out, "media_model")
    er = S.earlier_retrospective(cfg, reports_root=tmp_path / "reports")
    assert er.name == "Holiday 2024" and er.media_model["marginal_roas_mean"].tolist() == [0.95, 0.25]
    assert er.lifts["source"].tolist() == ["xmas24_social_holdout", "Meta conversion lift study"]
    lifts, notes = S.plan_lifts(cfg, _hist(), SPEND, ["paid_social"], er)
    assert [lf.source for lf in lifts] == ["xmas24_social_holdout (Holiday 2024 retrospective)",
                                          "Meta conversion lift study (Holiday 2024 retrospective)"] and notes == []
    bounds = {c: (float(v.min_budget), float(v.max_budget)) for c, v in cfg.channels.items()}
    _, retro = LS.retro_budget_bounds(bounds, float(cfg.budget.total), er.next_budget)
    br = SimpleNamespace(skipped={}, retro=retro, plan=pd.DataFrame({"channel": [], "budget": []}),
                         model=SimpleNamespace(lifts=lifts))
    text = S.describe_budget_lessons(br, er, cfg.currency)
    assert ("The Holiday 2024 retrospective's media model (read from its `media_model.parquet`) put the marginal ROAS "
            "at mean daily spend at: paid social 0.95 (90 % interval 0.40 to 1.50); display 0.25 (90 % interval 0.00 "
            "to 0.60), not distinguishable from zero.") in text
    assert text.endswith("the same experiments calibrate this plan's fit (holdout xmas24_social_holdout, lift study "
                         "Meta conversion lift study).")


def test_retrospective_index_notes_name_the_lift_results_left_out():
    note = 'The lift study "February study" (paid social, 2026-02-01 to 2026-02-28) is not used in this fit.'
    rv = SimpleNamespace(skipped={}, not_reviewed=None, data_ends=None,
                         accuracy=SimpleNamespace(forecast_source="the plan's forecast"),
                         attribution=SimpleNamespace(paths=SimpleNamespace(notes=["paths note"])),
                         media=SimpleNamespace(lift_notes=[note]))
    assert R.notes(rv) == ["the plan's forecast", "paths note", note]
