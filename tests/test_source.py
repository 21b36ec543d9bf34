"""The typed data source: parsed once from config and CLI, carried whole, shown without secrets."""

from __future__ import annotations

import pandas as pd
import pytest

from playbook.config.campaign import DataConfig
from playbook.data import engines
from playbook.data.source import DataSource
from playbook.data.urls import mask_url
from playbook.data.warehouse import connect
from playbook.errors import ConfigError, DataError
from playbook.paths import project_root


def test_default_is_the_bundled_sample_shown_relative_to_the_project():
    src = DataSource.parse(None)
    assert src == DataSource(str(project_root() / "data" / "sample"), "duckdb")
    assert src.is_local and src.options == {}
    assert src.display() == "data/sample" and str(src) == "data/sample"
    assert src.as_parameter() == str(project_root() / "data" / "sample")


def test_relative_paths_resolve_against_the_project_root(tmp_path):
    src = DataSource.parse("exports/shop", timezone="Europe/Berlin", encoding="cp1252")
    assert src.location == str(project_root() / "exports" / "shop")
    assert (src.engine, src.timezone, src.encoding) == ("duckdb", "Europe/Berlin", "cp1252")
    assert src.display() == "exports/shop"
    outside = DataSource.parse(tmp_path / "shop.duckdb")  # a Path works too
    assert outside.location == str(tmp_path / "shop.duckdb") and outside.engine == "duckdb"
    assert outside.display() == str(tmp_path / "shop.duckdb")  # outside the project: absolute


@pytest.mark.parametrize(("url", "engine", "shown"), [
    ("postgres://analyst:s3cret@db.example.com:5432/shop", "ibis", "postgres://***@db.example.com:5432/shop"),
    ("duckdb:///data/shop.ddb", "ibis", "duckdb:///data/shop.ddb"),
    ("postgres://u:p@ss/w#rd@db/shop", "ibis", "postgres://***@db/shop"),  # unencoded @ / # in a password
    ("snowflake://me@acct/db?password=hunter2&warehouse=wh", "ibis",
     "snowflake://***@acct/db?password=***&warehouse=wh"),
    ("spark+s3a://bucket/sales?master=yarn&spark.hadoop.fs.s3a.secret.key=abc", "spark",
     "spark+s3a://bucket/sales?master=yarn&spark.hadoop.fs.s3a.secret.key=***"),
], ids=["password", "no-credentials", "odd-password", "query-password", "spark-secret"])
def test_urls_keep_their_text_and_display_masks_credentials(url, engine, shown):
    src = DataSource.parse(url)
    assert src.location == url and src.as_parameter() == url and src.engine == engine
    assert not src.is_local
    assert src.display() == shown == mask_url(url)
    for secret in ("s3cret", "hunter2", "ss/w#rd", "key=abc"):
        assert secret not in str(src) and secret not in repr(src)


def test_spark_options_are_parsed_and_checked():
    src = DataSource.parse("spark:///data/x?master=local[2]&spark.driver.memory=4g&app=pb")
    assert src.engine == "spark"
    assert src.options == {"master": "local[2]", "spark.driver.memory": "4g", "app": "pb"}
    with pytest.raises(ConfigError, match="Unknown option 'colour'"):
        DataSource.parse("spark:///data/x?colour=red")
    with pytest.raises(ConfigError, match="both master and remote"):
        DataSource.parse("spark:///data/x?master=local&remote=sc://h")


def test_empty_location_is_an_error():
    with pytest.raises(ConfigError, match="data source is empty"):
        DataSource.parse("  ")


def test_from_config_override_replaces_only_the_location(tmp_path):
    data = DataConfig(source="exports/shop", timezone="Asia/Kolkata", encoding="latin-1")
    src = DataSource.from_config(data)
    assert src == DataSource(str(project_root() / "exports" / "shop"), "duckdb", "Asia/Kolkata", "latin-1")
    other = DataSource.from_config(data, tmp_path)
    assert other == DataSource(str(tmp_path), "duckdb", "Asia/Kolkata", "latin-1")
    assert DataSource.from_config(data, "") == src  # a notebook's empty parameter: no override
    assert DataSource.from_config(DataConfig()) == DataSource.parse(None)
    # what a notebook receives rebuilds the same source from the same config
    assert DataSource.from_config(data, other.as_parameter()) == other


def test_equal_sources_hash_alike_and_options_are_a_private_copy():
    opts = {"master": "local[2]"}
    a = DataSource("spark:///x?master=local[2]", "spark", options=opts)
    opts["master"] = "yarn"
    b = DataSource("spark:///x?master=local[2]", "spark", options={"master": "local[2]"})
    assert a == b and len({a, b}) == 1 and a.options["master"] == "local[2]"
    assert DataSource.parse("/x", timezone="UTC") != DataSource.parse("/x")


def test_connect_uses_the_source_whole(tmp_path):
    pd.DataFrame({"customer_id": ["C1"], "first_name": ["Zoë"]}).to_csv(
        tmp_path / "customers.csv", index=False, encoding="latin-1")
    src = DataSource.parse(tmp_path, encoding="latin-1", timezone="Europe/Paris")
    wh = connect(src)
    assert wh.source is src
    assert wh.raw("customers").first_name.execute().tolist() == ["Zoë"]
    assert connect(tmp_path, encoding="latin-1").source == DataSource(str(tmp_path), "duckdb", None, "latin-1")
    with pytest.raises(TypeError, match="carries its own timezone and encoding"):
        connect(src, encoding="utf-8")
    with pytest.raises(TypeError, match="carries its own"):
        connect(src, timezone="UTC")


def test_connection_errors_show_the_masked_source():
    src = DataSource.parse("postgres://analyst:s3cret@127.0.0.1:1/shop")
    with pytest.raises(DataError, match=r"Cannot connect to data source postgres://\*\*\*@127\.0\.0\.1:1/shop") as exc:
        connect(src)
    assert "s3cret" not in str(exc.value)


@pytest.mark.parametrize("url", [
    "spark+s3a://AKIA:sekret@bucket/sales?bogus=1",
    "spark+s3a://bucket/sales?spark.hadoop.fs.s3a.secret.key=sekret&bogus=1",
], ids=["user-info", "query-secret"])
def test_engine_errors_never_show_credentials(url):
    """The Spark engine's own messages mask credentials like DataSource.display (one masker)."""
    with pytest.raises(ConfigError) as exc:
        engines.spark_options(url)
    assert "sekret" not in str(exc.value) and "***" in str(exc.value) and "bogus" in str(exc.value)
