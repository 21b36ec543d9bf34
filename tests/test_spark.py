"""The engine-side aggregates on Apache Spark (local mode) against the same aggregates on DuckDB.

One module-scoped Spark session (local[2]) reads the shared small sample through a ``spark://``
data source; every comparison runs the unchanged playbook function on both warehouses.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import ibis
import ibis.expr.datatypes as idt
import numpy as np
import pandas as pd
import pytest

from playbook.config.loader import load_config
from playbook.customers import cleaning, features
from playbook.customers import profile as customers
from playbook.data import aggregates as A  # noqa: N812
from playbook.data import engines, validate
from playbook.data import warehouse as W  # noqa: N812
from playbook.errors import ConfigError, DataError
from playbook.experiments import inventory as experiment
from playbook.experiments.data import Window, user_outcomes
from playbook.media import paths
from playbook.planning import history
from tests.sample_data import small_sample, truth

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning",
                                        "ignore::UserWarning")

SPARK_OPTIONS = ("master=local[2]&spark.driver.memory=2g&spark.sql.shuffle.partitions=4"
                 "&spark.ui.enabled=false&spark.sql.session.timeZone=UTC")
AS_OF = pd.Timestamp("2025-10-16", tz="UTC")


def _require_spark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("pyspark is not installed: `pip install -e .[dev]` or `pip install 'pyspark>=4,<5'`.")
    try:
        engines.check_java()
    except DataError as exc:
        pytest.fail(f"The Spark tests need Java. {exc}")


@pytest.fixture(scope="module")
def pair():
    """``(folder, duckdb warehouse, spark warehouse)`` over the same sample; Spark stopped after."""
    _require_spark()
    folder = small_sample()
    spark = W.connect(f"spark://{folder}?{SPARK_OPTIONS}")
    yield folder, W.connect(folder), spark
    spark.con.disconnect()


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame, keys: list[str] | None = None,
                rtol: float = 1e-9) -> None:
    """Equal up to row order (sorted by ``keys``), dtype flavour and float rounding (``rtol``)."""
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark)
    if keys:
        duck, spark = duck.sort_values(keys), spark.sort_values(keys)
    duck, spark = duck.reset_index(drop=True), spark.reset_index(drop=True)
    for df in (duck, spark):
        for c in df.columns:
            if pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object:
                df[c] = df[c].astype(object).where(df[c].notna(), None)
            elif pd.api.types.is_datetime64_any_dtype(df[c]):  # us from one engine, ns from the other
                df[c] = df[c].dt.as_unit("ns")
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False, check_exact=False, rtol=rtol)


# ------------------------------------------------------------------------------ URL parsing (no Spark)


@pytest.mark.parametrize(("url", "expected"), [
    ("spark:///data/x?master=local[2]", dict(location="/data/x", master="local[2]")),
    ("spark+s3a://bucket/sales?master=spark://10.0.0.5:7077&spark.executor.memory=8g",
     dict(location="s3a://bucket/sales", master="spark://10.0.0.5:7077",
          conf={"spark.executor.memory": "8g"})),
    ("spark+file:///data/x", dict(location="/data/x")),
    ("spark+catalog://sales_db?remote=sc://host:15002", dict(database="sales_db", remote="sc://host:15002")),
], ids=["local", "s3-standalone", "file", "catalog-connect"])
def test_parse_spark_url(url, expected, monkeypatch):
    monkeypatch.setattr(engines.Path, "is_dir", lambda self: True)
    src = engines.parse_spark_url(url)
    for key, value in expected.items():
        assert getattr(src, key) == value, key
    assert engines.is_spark_url(url)


@pytest.mark.parametrize(("url", "match"), [
    ("spark://host:7077", "master=spark://host:7077"),
    ("spark:///tmp?colour=red", "Unknown option 'colour'"),
    ("spark:///tmp?master=local&remote=sc://h", "both master and remote"),
    ("spark+catalog://", "names no database"),
], ids=["master-as-source", "unknown-option", "master-and-remote", "no-database"])
def test_parse_spark_url_errors(url, match):
    with pytest.raises(ConfigError, match=match):
        engines.parse_spark_url(url)


def test_missing_folder_and_missing_java_are_clear(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="does not exist"):
        engines.parse_spark_url(f"spark://{tmp_path / 'nope'}")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(DataError, match="openjdk-17"):
        engines.check_java()


def test_duckdb_stays_the_default_engine():
    assert W.connect(small_sample()).con.name == "duckdb"
    assert not engines.is_spark_url("postgres://u@h/db") and not engines.is_spark_url("data/spark")


# ------------------------------------------------------------------------------ engine-side aggregates


def test_spark_source_types_instants_as_utc(pair):
    _, duck, spark = pair
    assert spark.con.name == "pyspark"
    assert spark.available() == duck.available()
    for name, col in [("orders", "order_ts"), ("customers", "signup_ts"), ("touches", "touch_ts")]:
        assert spark.table(name).schema()[col] == idt.Timestamp(timezone="UTC"), (name, col)
        assert spark.row_count(name) == duck.row_count(name)


def test_strip_keeps_letters_on_spark(pair):
    """ibis#11894: strip() on PySpark removed leading/trailing 'f' and 'v' (worked around)."""
    _, _, spark = pair
    value = spark.con.execute(ibis.literal(" \tfive vouchers of\n").strip())
    assert value == "five vouchers of"


@pytest.mark.parametrize("by", [(), ("channel",), ("country",), ("category",)],
                         ids=["total", "channel", "country", "category"])
def test_daily_sales(pair, by):
    _, duck, spark = pair
    args = dict(start="2024-10-01", end="2025-12-31", by=by)
    assert_same(A.daily_sales(duck, **args), A.daily_sales(spark, **args), ["day", *by])


def test_customer_order_summary(pair):
    _, duck, spark = pair
    d = A.customer_order_summary(duck, "2025-10-16", start="2023-06-01")
    assert len(d) > 500
    assert_same(d, A.customer_order_summary(spark, "2025-10-16", start="2023-06-01"), ["customer_id"])


@pytest.mark.parametrize("by", [None, "channel"], ids=["total", "channel"])
def test_history_windows(pair, by):
    _, duck, spark = pair
    assert_same(history.window_kpis(duck, "2024-11-01", "2024-12-31", by=by),
                history.window_kpis(spark, "2024-11-01", "2024-12-31", by=by))
    d = history.window_vs_last_year(duck, "2025-11-01", "2025-12-31", by=by)
    s = history.window_vs_last_year(spark, "2025-11-01", "2025-12-31", by=by)
    assert_same(d, s)
    assert d.attrs == s.attrs


def test_customer_base_and_experiment_inventory(pair):
    folder, duck, spark = pair
    assert_same(customers.customer_base_summary(duck, "2025-10-15"),
                customers.customer_base_summary(spark, "2025-10-15"), ["country"])
    exps = [SimpleNamespace(id=k, primary_metric=v.get("metric", "conversion"), variants=list(v["variants"]),
                            allocation=[v["allocation"][arm] for arm in v["variants"]])
            for k, v in truth(folder)["experiments"].items()]
    inv = experiment.experiment_inventory(duck, exps)
    assert inv["assigned"].sum() > 0
    assert_same(inv, experiment.experiment_inventory(spark, exps))


def test_validate_finds_the_same_problems(pair):
    """Every check runs on Spark (none skipped) with the same counts and example keys."""
    _, duck, spark = pair
    d, s = validate.validate(duck, now="2026-02-01"), validate.validate(spark, now="2026-02-01")
    assert d.findings and not d.skipped
    assert s.skipped == d.skipped
    assert_same(d.to_frame(), s.to_frame())


def test_customer_features(pair):
    _, duck, spark = pair
    cfg = load_config("campaigns/holiday-2025.yaml")
    seasons = features.past_seasons(cfg, AS_OF)
    md, ms = cleaning.resolve_identities(duck).merge_map, cleaning.resolve_identities(spark).merge_map
    assert_same(md, ms, ["customer_id"])
    d = features.customer_features(duck, AS_OF, md, windows=(30, 90), seasons=seasons)
    s = features.customer_features(spark, AS_OF, ms, windows=(30, 90), seasons=seasons)
    assert len(d) > 500
    assert_same(d, s, ["customer_id"])


def test_attribution_paths(pair):
    _, duck, spark = pair
    d = paths.build_paths(duck, "2025-11-01", "2025-12-31")
    s = paths.build_paths(spark, "2025-11-01", "2025-12-31")
    assert d.stats["orders_with_touch"] > 50
    assert_same(d.paths, s.paths, ["path"])
    # Time decay uses epoch_seconds(): whole seconds on Spark (UNIX_TIMESTAMP), fractional inside
    # DuckDB (EPOCH); ages differ by < 1 s, the credits by ~1e-7 relative.
    assert_same(d.rule_credit, s.rule_credit, ["model", "channel"], rtol=1e-6)
    assert_same(d.daily_credit, s.daily_credit, ["day", "channel"])
    assert_same(d.no_touch, s.no_touch, ["order_channel"])
    assert d.stats == s.stats and d.notes == s.notes


def test_experiment_user_outcomes(pair):
    _, duck, spark = pair
    window = Window.from_dates(dt.date(2025, 11, 1), dt.date(2025, 12, 31))
    d = user_outcomes(duck, "xmas25_free_shipping", window)
    assert d["converted"].sum() > 0
    assert_same(d, user_outcomes(spark, "xmas25_free_shipping", window), ["customer_id"])


def test_naive_timestamps_on_spark_as_on_duckdb(pair, tmp_path):
    """Naive timestamps (Spark TIMESTAMP_NTZ) are rejected without a zone and converted with one."""
    _require_spark()
    ts = pd.to_datetime(["2025-03-30 01:30", "2025-03-30 03:30", "2025-07-01 12:00"])  # around DST
    pd.DataFrame({"order_id": ["O1", "O2", "O3"], "customer_id": ["C1", "C1", "C2"], "order_ts": ts,
                  "channel": ["web", "app", "store"], "revenue": [10.0, 20.0, 30.0],
                  "discount": [0.0, 0.0, 0.0], "promo_code": [None, "X", None]}).to_parquet(
        tmp_path / "orders.parquet", coerce_timestamps="us")  # Spark reads no nanosecond timestamps
    url = f"spark://{tmp_path}?{SPARK_OPTIONS}"
    with pytest.raises(DataError, match="without a time zone"):
        W.connect(url).table("orders")
    got = {}
    for name, source in [("duck", tmp_path), ("spark", url)]:
        o = W.connect(source, timezone="Europe/Berlin").table("orders")
        got[name] = pd.to_datetime(o.order_by("order_id").order_ts.execute(), utc=True)
    expected = ts.tz_localize("Europe/Berlin").tz_convert("UTC")
    np.testing.assert_array_equal(got["duck"].to_numpy(), expected.to_numpy())
    np.testing.assert_array_equal(got["spark"].to_numpy(), expected.to_numpy())
