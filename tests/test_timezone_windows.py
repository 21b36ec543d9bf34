"""Windows of days in the campaign's time zone (issue 16 item 5, "day boundaries in a non-UTC zone").

Four customers, each with one sale order, at *local* wall-clock times of the zone under test:
``C0`` and ``C2`` at 23:30 on the window's last day (inside), ``C1`` and ``C3`` at 00:30 on the
next day (outside). ``C0``/``C1`` are the control arm of experiment ``E1``, ``C2``/``C3`` the
treatment. Revenues are powers of two, so every total names the orders it holds. The references are
written by hand from the wall-clock strings; for America/Los_Angeles both orders fall on the *next*
UTC day, so counting UTC days would put both outside (checked: the tests can fail), and a UTC
campaign given the same wall-clock times as UTC gives the same answers as before the change.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.customers import lifecycle
from playbook.data import days
from playbook.data import warehouse as W  # noqa: N812
from playbook.data.cutoff import cutoff_instant, planning_as_of
from playbook.experiments import analysis as ea
from playbook.experiments import design as ed
from playbook.experiments import incrementality
from playbook.experiments.data import Window
from playbook.media import tracking
from playbook.planning import funnel
from playbook.value import clv, propensity, recommend

LA, UTC = "America/Los_Angeles", "UTC"
US_UTC = "datetime64[us, UTC]"
FIRST, LAST = dt.date(2025, 11, 1), dt.date(2025, 11, 28)
#: Per customer: local wall-clock time of its order, revenue, arm of E1.
ORDERS = {"C0": ("2025-11-28 23:30", 1.0, "control"), "C1": ("2025-11-29 00:30", 2.0, "control"),
          "C2": ("2025-11-28 23:30", 4.0, "treatment"), "C3": ("2025-11-29 00:30", 8.0, "treatment")}
INSIDE, OUTSIDE = ["C0", "C2"], ["C1", "C3"]


def _instants(zone: str) -> pd.Series:
    wall = pd.to_datetime(pd.Series([v[0] for v in ORDERS.values()]))
    return wall.dt.tz_localize(zone).dt.tz_convert("UTC").astype(US_UTC)


def _write(folder: Path, zone: str) -> None:
    folder.mkdir(parents=True)
    ids = list(ORDERS)
    ts = _instants(zone)
    early = pd.Series([pd.Timestamp("2025-01-01", tz="UTC")] * len(ids)).astype(US_UTC)
    pd.DataFrame({"customer_id": ids, "country": "US", "signup_ts": early}).to_parquet(folder / "customers.parquet")
    pd.DataFrame({"order_id": [f"O{i}" for i in range(len(ids))], "customer_id": ids, "order_ts": ts,
                  "revenue": [v[1] for v in ORDERS.values()]}).to_parquet(folder / "orders.parquet")
    pd.DataFrame({"order_id": [f"O{i}" for i in range(len(ids))], "product_id": [f"P{i}" for i in range(len(ids))],
                  "quantity": [1, 1, 1, 1], "unit_price": 1.0}).to_parquet(folder / "order_items.parquet")
    pd.DataFrame({"experiment_id": "E1", "customer_id": ids, "variant": [v[2] for v in ORDERS.values()],
                  "assigned_ts": early}).to_parquet(folder / "assignments.parquet")
    pd.DataFrame({"event_id": ids, "customer_id": ids, "session_id": ids, "event_ts": ts, "event_type": "purchase",
                  "product_id": "P1"}).to_parquet(folder / "events.parquet")
    pd.DataFrame({"touch_id": ids, "customer_id": ids, "touch_ts": ts, "channel": "email", "campaign_id": "X",
                  "utm_source": ["x", None, None, None], "utm_medium": "m", "utm_campaign": "x"}
                 ).to_parquet(folder / "touches.parquet")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("tzwindows")
    out = {}
    for zone in (LA, UTC):
        out[zone] = tmp / zone.replace("/", "_")
        _write(out[zone], zone)
    return out


def _wh(folders, zone: str, day_zone: str | None = None) -> W.Warehouse:
    """The data written at wall-clock times of ``zone``, counted in days of ``day_zone`` (default ``zone``)."""
    wh = W.connect(folders[zone])
    wh.day_zone = day_zone or zone
    return wh


@functools.cache
def _template():
    return load_config("campaigns/holiday-2025.yaml").experiments[0]


def _real_exp(**kw):
    """A configured two-arm revenue-per-user experiment ``E1`` (``kw``: e.g. its own ``end``)."""
    return _template().model_copy(update={"id": "E1", "name": "E1", "primary_metric": "revenue_per_user",
                                          "variants": ["control", "treatment"], "allocation": None,
                                          "guardrails": [], "kind": "ab", "start": None, "end": None, **kw})


def _cfg(zone: str, season_end: dt.date = LAST, **exp):
    """A campaign of ``zone`` from 1 Nov to ``season_end`` with experiment ``E1`` (``exp``: its fields)."""
    season = SimpleNamespace(start=FIRST, end=season_end, planning_cutoff=LAST, days=(season_end - FIRST).days + 1)
    return SimpleNamespace(season=season, timezone=zone, experiments=[_real_exp(**exp)], comparison_seasons=[])


# ------------------------------------------------------------------------------ experiment analysis


def _rpu(analysis) -> tuple[float, float]:
    r = analysis.results.set_index("role").loc["primary"]
    return float(r["value_control"]), float(r["value_variant"])


@pytest.mark.parametrize("zone", [LA, UTC])
def test_experiment_window_ends_at_local_midnight(folders, zone):
    (a,) = ea.analyze_all(_wh(folders, zone), _cfg(zone), seed=1, n_boot=20)
    assert _rpu(a) == (1.0 / 2, 4.0 / 2)  # only the 23:30 orders: C0 (1) and C2 (4), two users per arm


@pytest.mark.parametrize("zone", [LA, UTC])
def test_experiment_own_end_day_is_a_local_day(folders, zone):
    cfg = _cfg(zone, dt.date(2025, 12, 31), end=LAST)  # season to 31 Dec, the experiment to 28 Nov
    (a,) = ea.analyze_all(_wh(folders, zone), cfg, seed=1, n_boot=20)
    assert _rpu(a) == (0.5, 2.0)
    (whole,) = ea.analyze_all(_wh(folders, zone), _cfg(zone, dt.date(2025, 12, 31)), seed=1, n_boot=20)
    assert _rpu(whole) == (3.0 / 2, 12.0 / 2)  # the season window holds all four orders


def test_utc_days_would_miss_the_evening_orders(folders):
    """The check can fail: LA orders counted in UTC days fall on the next day, outside the window."""
    (a,) = ea.analyze_all(_wh(folders, LA, UTC), _cfg(UTC), seed=1, n_boot=20)
    assert _rpu(a) == (0.0, 0.0)


def test_design_history_window_in_local_days():
    past = SimpleNamespace(name="last", start=FIRST, end=LAST)
    cfg = SimpleNamespace(comparison_seasons=[past], timezone=LA)
    label, win = ed.history_window(cfg)
    assert (label, win.start, win.end) == ("last", pd.Timestamp("2025-11-01 07:00", tz="UTC"),
                                           pd.Timestamp("2025-11-29 08:00", tz="UTC"))  # PDT start, PST end
    utc = ed.history_window(SimpleNamespace(comparison_seasons=[past], timezone=UTC))[1]
    assert utc == Window(pd.Timestamp("2025-11-01", tz="UTC"), pd.Timestamp("2025-11-29", tz="UTC"))


@pytest.mark.parametrize("zone", [LA, UTC])
def test_incrementality_arm_outcomes_in_local_days(folders, zone):
    arms = incrementality.arm_outcomes(_wh(folders, zone), "E1", FIRST, LAST).set_index("variant")
    assert arms["converters"].to_dict() == {"control": 1, "treatment": 1}
    assert arms["revenue"].to_dict() == {"control": 1.0, "treatment": 4.0}


# -------------------------------------------------------------------------------- propensity, CLV


@pytest.mark.parametrize("zone", [LA, UTC])
def test_propensity_cutoff_and_labels_in_local_days(folders, zone):
    wh = _wh(folders, zone)
    cfg = SimpleNamespace(season=SimpleNamespace(start=dt.date(2025, 11, 29), end=dt.date(2025, 12, 31),
                                                 planning_cutoff=LAST),
                          comparison_seasons=[], slug="t", timezone=zone)
    current = propensity.seasons_from_config(cfg)[1]
    assert current.as_of == cutoff_instant(LAST, zone) == planning_as_of(cfg)
    f = propensity.features_as_of(wh, current.as_of, current.start, current.end).set_index("customer_id")
    assert f["frequency"].to_dict() == {"C0": 1.0, "C1": 0.0, "C2": 1.0, "C3": 0.0}
    assert f.loc["C0", "orders_30d"] == 1.0 and f.loc["C0", "recency_days"] == pytest.approx(0.5 / 24)
    lab = propensity.labels_in_window(wh, FIRST, LAST)
    assert sorted(lab["customer_id"]) == INSIDE


def test_propensity_with_utc_days_would_drop_the_evening(folders):
    f = propensity.features_as_of(_wh(folders, LA, UTC), cutoff_instant(LAST), FIRST, LAST)
    assert f["frequency"].sum() == 0.0  # 23:30 PST is 07:30 UTC the next day: after a UTC cutoff


@pytest.mark.parametrize("zone", [LA, UTC])
def test_clv_cutoff_and_seasonal_share_in_local_days(folders, zone):
    wh = _wh(folders, zone)
    res = clv.fit_clv(wh, cutoff_instant(LAST, zone), horizon_days=30)
    assert sorted(res.table["customer_id"].astype(str)) == INSIDE
    later = cutoff_instant(dt.date(2025, 12, 31), zone)
    share = clv.seasonal_share(wh, later, [(FIRST, LAST)]).set_index("customer_id")["seasonal_share"]
    assert share.to_dict() == {"C0": 1.0, "C1": 0.0, "C2": 1.0, "C3": 0.0}
    # a date as cutoff is local midnight at its start: the 29th leaves the 00:30 orders out
    assert sorted(clv.seasonal_share(wh, "2025-11-29", [])["customer_id"].astype(str)) == INSIDE


def test_recommend_windows_in_local_days(folders):
    wh = _wh(folders, LA)
    units = recommend.interactions_units(wh, FIRST, dt.date(2025, 11, 29))  # dates: local midnights
    assert units.to_dict() == {"P0": 1.0, "P2": 1.0}
    inter = recommend.interactions(wh, FIRST, dt.date(2025, 11, 29))
    assert sorted(inter["customer_id"]) == INSIDE
    assert recommend.missing_product_sales(wh, dt.date(2025, 11, 29)) is None
    assert recommend._shift_days(wh, pd.Timestamp("2025-11-29 08:00", tz="UTC"), -30) == \
        pd.Timestamp("2025-10-30 07:00", tz="UTC")  # local midnight 30 days earlier (PDT)
    utc = _wh(folders, UTC)
    assert recommend._shift_days(utc, pd.Timestamp("2025-11-29", tz="UTC"), -30) == pd.Timestamp("2025-10-30", tz="UTC")


# ----------------------------------------------------------------------- lifecycle, media, funnel


@pytest.mark.parametrize("zone", [LA, UTC])
def test_lifecycle_window_in_local_days(folders, zone):
    wh = _wh(folders, zone)
    nvr = lifecycle.new_vs_returning(wh, FIRST, LAST).set_index("group")
    assert nvr.loc["new", "customers"] == 2 and nvr.loc["new", "revenue"] == 1.0 + 4.0
    move = lifecycle.lifecycle_movement(wh, FIRST, LAST)
    assert move["new"].sum() == 2 and move["prospect"].sum() == 2  # C1 and C3 had not bought by the end


def test_lifecycle_with_utc_days_would_miss_them(folders):
    nvr = lifecycle.new_vs_returning(_wh(folders, LA, UTC), FIRST, LAST).set_index("group")
    assert nvr.loc["new", "customers"] == 0


@pytest.mark.parametrize("zone", [LA, UTC])
def test_tracking_and_funnel_windows_in_local_days(folders, zone):
    wh = _wh(folders, zone)
    utm = tracking.utm_audit(wh, FIRST, LAST, ["email"]).set_index("channel")
    assert (utm.loc["email", "touches"], utm.loc["email", "without_utm"]) == (2, 1)  # C0 (tagged), C2
    f = funnel.funnel(wh, [("s", FIRST, LAST)], by=None)
    assert f["sessions"].tolist() == [2] and f["purchase"].tolist() == [2]


# -------------------------------------------------------------------------------- config window


def test_config_window_in_local_days():
    cfg = load_config("campaigns/holiday-2025.yaml")
    s, e = cfg.season.start, cfg.season.end
    assert cfg.window_half_open == (pd.Timestamp(s, tz="UTC"), pd.Timestamp(e + dt.timedelta(days=1), tz="UTC"))
    la = cfg.model_copy(update={"timezone": LA})
    assert la.window == (days.local_midnight(s, LA), days.local_midnight(e, LA))
    assert la.window_half_open == (days.local_midnight(s, LA), days.local_midnight(e + dt.timedelta(days=1), LA))
    assert la.window_half_open[1] == W.local_midnight(e + dt.timedelta(days=1), LA)


@pytest.mark.parametrize("value", ["2025-11-28", "2025-03-09", "2025-11-02 23:30",
                                   pd.Timestamp("2025-11-29 07:30", tz="UTC"), dt.date(2025, 11, 2)])
@pytest.mark.parametrize("zone", [LA, "Asia/Kolkata", UTC])
def test_pandas_only_days_agree_with_the_warehouse(value, zone):
    """playbook.data.days (importable by the config) gives what playbook.data.warehouse gives."""
    assert days.calendar_day(value, zone) == W.calendar_day(value, zone)
    assert days.local_midnight(value, zone) == W.local_midnight(value, zone)
    assert days.local_instant(value, zone) == W.local_instant(value, zone)
