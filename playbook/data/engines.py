"""Engines other than the default DuckDB: Apache Spark through Ibis's PySpark backend.

docs/architecture.md, "Conventions the code relies on" (data access): every scan is an Ibis
expression, so the same aggregates run on any engine Ibis supports; the engine is chosen only by
``data.source`` in the campaign config (see :class:`playbook.data.source.DataSource`).

Spark sources (:func:`parse_spark_url`) are written as URLs:

``spark:///abs/folder``
    A local folder with the nine tables as Parquet (``<table>.parquet`` or ``<table>/`` part
    files), read by a local Spark (``local[*]`` unless ``master`` says otherwise).
``spark+<fs>://<location>``
    The same layout on any Hadoop file system the cluster can read:
    ``spark+s3a://bucket/sales``, ``spark+hdfs://namenode:8020/sales``,
    ``spark+abfss://container@account.dfs.core.windows.net/sales`` (``spark+file:///abs`` is
    the local form).
``spark+catalog://<database>``
    Tables named like the canonical tables in a database of the session's catalog (Hive
    metastore, Glue, Unity ... as configured for Spark).

Query options (all optional): ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``,
``k8s://https://host:443``), ``remote`` (a Spark Connect URL ``sc://host:15002``; instead of
``master``), ``app`` (application name) and any ``spark.*`` setting
(``spark.driver.memory=4g``, ``spark.executor.instances=8``). Example:
``spark+s3a://bucket/sales?master=spark://10.0.0.5:7077&spark.executor.memory=8g``.

The session always runs with ``spark.sql.session.timeZone=UTC`` so that a timestamp's day, hour and
weekday are those of UTC, as on DuckDB; a campaign in another zone gets its local calendar from
:func:`local_time` (the engine's wall-clock time of a UTC instant in a zone). Spark's ``TIMESTAMP`` type is an instant (stored as UTC
microseconds), so its columns are read as timezone-aware UTC timestamps
(:func:`utc_instant_columns`); ``TIMESTAMP_NTZ`` columns are naive and need ``data.timezone``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import ibis
import ibis.expr.datatypes as idt
from ibis.backends.sql.compilers.pyspark import PySparkCompiler

from playbook.data.contract import TABLES
from playbook.data.urls import mask_url
from playbook.errors import ConfigError, DataError

#: Settings applied to every session built here (user ``spark.*`` options override all but the
#: time zone, which the aggregates rely on).
SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
}

#: Extra defaults for a local master (one machine, small data): no web UI, few shuffle partitions.
SPARK_LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
}

_SCHEMES = ("spark://", "spark+")
_OPTIONS = ("master", "remote", "app")
JAVA_ADVICE = (
    "Spark needs a Java runtime (JDK 17 or 21). Install one (Debian/Ubuntu: "
    "`apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) and make sure "
    "`java` is on PATH or JAVA_HOME points to it."
)


@dataclass(frozen=True)
class SparkSource:
    """A parsed Spark data source URL.

    Attributes
    ----------
    url : str
        The URL as given.
    location : str or None
        Folder (local path or Hadoop URI) holding the Parquet tables; ``None`` for a catalog.
    database : str or None
        Catalog database holding the tables; ``None`` for a folder.
    master, remote, app : str or None
        Spark master URL, Spark Connect URL, application name.
    conf : dict
        ``spark.*`` settings given in the URL.
    """

    url: str
    location: str | None = None
    database: str | None = None
    master: str | None = None
    remote: str | None = None
    app: str | None = None
    conf: dict[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        """Whether the session runs on this machine (no remote, master unset or ``local...``)."""
        return self.remote is None and (self.master is None or self.master.startswith("local"))


def is_spark_url(source: object) -> bool:
    """Whether ``source`` is a Spark data source URL (``spark://...`` or ``spark+<x>://...``)."""
    s = str(source)
    return s.startswith(_SCHEMES) and "://" in s


def spark_options(url: str) -> dict[str, str]:
    """The query options of a Spark data source URL (``master``, ``remote``, ``app``, ``spark.*``).

    Raises
    ------
    ConfigError
        For an unknown option, or both ``master`` and ``remote``.
    """
    _, _, query = url.partition("?")
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if not key.startswith("spark.") and key not in _OPTIONS:
            raise ConfigError(
                f"Unknown option {key!r} in data source {mask_url(url)}. Choose from {list(_OPTIONS)} "
                "or a spark.* setting (e.g. spark.driver.memory=4g)."
            )
        options[key] = value
    if "master" in options and "remote" in options:
        raise ConfigError(f"Data source {mask_url(url)} sets both master and remote; keep one of them.")
    return options


def parse_spark_url(url: str) -> SparkSource:
    """Parse a Spark data source URL (forms in the module docstring).

    Raises
    ------
    ConfigError
        For a malformed URL, an unknown option, or a Spark master URL given as the source.
    """
    head, _, _ = url.partition("?")
    scheme, _, rest = head.partition("://")
    all_options = spark_options(url)
    options = {k: v for k, v in all_options.items() if k in _OPTIONS}
    conf = {k: v for k, v in all_options.items() if k.startswith("spark.")}
    location: str | None = None
    database: str | None = None
    if scheme == "spark":
        if not rest.startswith("/"):
            raise ConfigError(
                f"Data source {mask_url(url)} is not a data folder: spark:// must be followed by an absolute "
                "folder path (spark:///data/sales). To use a Spark master, write "
                "spark:///data/sales?master=spark://host:7077; for files on a cluster file system "
                "spark+s3a://bucket/sales or spark+hdfs://namenode/sales."
            )
        location = rest
    elif scheme == "spark+catalog":
        database = rest.strip("/")
        if not database:
            raise ConfigError(f"Data source {mask_url(url)} names no database: write spark+catalog://<database>.")
    elif scheme.startswith("spark+") and len(scheme) > len("spark+"):
        fs = scheme[len("spark+"):]
        location = rest if fs == "file" else f"{fs}://{rest}"
    else:
        raise ConfigError(f"Data source {mask_url(url)} is not a Spark URL (spark:///folder, spark+s3a://..., "
                          "spark+catalog://db).")
    if location is not None and location.startswith("/") and not Path(location).is_dir():
        raise DataError(
            f"Data folder {location} (from {mask_url(url)}) does not exist. Generate the sample with "
            f"`playbook generate-data --out {location}` or fix data.source."
        )
    return SparkSource(url=url, location=location, database=database, master=options.get("master"),
                       remote=options.get("remote"), app=options.get("app"), conf=conf)


def check_java() -> None:
    """Raise a :class:`DataError` naming what to install when no Java runtime is found."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise DataError(JAVA_ADVICE)


def spark_session(src: SparkSource) -> Any:
    """Build (or reuse) the SparkSession described by ``src``.

    Returns the ``pyspark.sql.SparkSession`` (typed ``Any``: pyspark is an optional dependency).
    Settings that only apply when the JVM starts (``spark.driver.memory``, ``master``) have no
    effect on a session that already exists in this process; the existing one is reused.

    Raises
    ------
    DataError
        pyspark is not installed, Java is missing (local or cluster driver), or the session fails.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise DataError(
            f"Data source {mask_url(src.url)} needs pyspark: `pip install 'pyspark>=4,<5'` "
            "(add pyspark[connect] for Spark Connect)."
        ) from exc
    builder = SparkSession.builder
    if src.remote is not None:
        builder = builder.remote(src.remote)
    else:
        check_java()
        if src.master is not None:
            builder = builder.master(src.master)
    settings = {**(SPARK_LOCAL_DEFAULTS if src.is_local else {}), **src.conf, **SPARK_DEFAULTS}
    builder = builder.appName(src.app or "seasonal-campaign-playbook")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
        for key, value in SPARK_DEFAULTS.items():
            session.conf.set(key, value)
    except Exception as exc:  # noqa: BLE001 - py4j / JVM / gRPC errors
        hint = JAVA_ADVICE if "JAVA" in str(exc).upper() else "Check master/remote and the cluster."
        raise DataError(f"Cannot start Spark for data source {mask_url(src.url)}: {exc}. {hint}") from exc
    return session


def _view_name(src: SparkSource, table: str) -> str:
    """Session-unique view name for one table of one source (two sources never collide)."""
    token = hashlib.sha1((src.location or f"catalog:{src.database}").encode()).hexdigest()[:8]
    return f"pb_{token}_{table}"


def _candidates(location: str, table: str) -> list[str]:
    base = location.rstrip("/")
    return [f"{base}/{table}.parquet", f"{base}/{table}"]


def _local_exists(path: str) -> bool | None:
    """Existence of a local path with Parquet data; ``None`` when ``path`` is not local."""
    if "://" in path and not path.startswith("file://"):
        return None
    p = Path(path.removeprefix("file://"))
    return p.is_file() or (p.is_dir() and any(p.rglob("*.parquet")))


def register_tables(session: Any, src: SparkSource) -> dict[str, str]:
    """Register the canonical tables found in ``src`` as temporary views of ``session``.

    Returns
    -------
    dict
        ``{canonical name: view name}`` of the tables found (absent tables are left out; the
        validator reports them).

    Raises
    ------
    DataError
        When no canonical table is found at all (names the expected layout), or a file exists
        but cannot be read.
    """
    found: dict[str, str] = {}
    for name in TABLES:
        view = _view_name(src, name)
        if src.database is not None:
            if not session.catalog.tableExists(name, src.database):
                continue
            session.sql(f"CREATE OR REPLACE TEMPORARY VIEW `{view}` AS SELECT * FROM `{src.database}`.`{name}`")
            found[name] = view
            continue
        for path in _candidates(src.location or "", name):
            exists = _local_exists(path)
            if exists is False:
                continue
            try:
                df = session.read.parquet(path)
            except Exception as exc:  # noqa: BLE001 - AnalysisException: path does not exist
                if exists is None and "PATH_NOT_FOUND" in str(exc).upper().replace(" ", "_"):
                    continue
                if exists is None and "does not exist" in str(exc):
                    continue
                raise DataError(f"Cannot read table {name!r} from {path}: {exc}") from exc
            df.createOrReplaceTempView(view)
            found[name] = view
            break
    if not found:
        where = f"database {src.database}" if src.database else src.location
        raise DataError(
            f"No canonical table found in {where} (from {mask_url(src.url)}). Expected Parquet files named "
            f"<table>.parquet or <table>/ folders for {list(TABLES)}. Spark sources read Parquet "
            "only: convert CSV files first, or use the folder without spark:// (DuckDB)."
        )
    return found


def connect_spark(url: str) -> tuple[Any, dict[str, str]]:
    """Connect Ibis to the Spark source ``url``.

    Returns
    -------
    tuple
        ``(ibis pyspark backend, {canonical name: view name})``.
    """
    src = parse_spark_url(url)
    session = spark_session(src)
    tables = register_tables(session, src)
    fix_pyspark_strip()
    return ibis.pyspark.connect(session), tables


def utc_instant_columns(con: Any, table: str) -> list[str]:
    """Columns of backend table ``table`` that store instants although Ibis types them as naive.

    Spark's ``TIMESTAMP`` (``TimestampType``) holds UTC microseconds and is shown in the session
    time zone (UTC here), yet Ibis maps it to a timestamp without zone; ``TIMESTAMP_NTZ`` columns
    are truly naive and are not listed. Other backends report their zones correctly: ``[]``.
    """
    if getattr(con, "name", None) != "pyspark":
        return []
    from pyspark.sql.types import TimestampType

    schema = con._session.table(table).schema  # noqa: SLF001 - ibis keeps the session private
    return [f.name for f in schema.fields if type(f.dataType) is TimestampType]


@ibis.udf.scalar.builtin(name="timezone")
def _wall_time(zone: str, ts: idt.Timestamp(timezone="UTC")) -> idt.Timestamp():  # type: ignore[valid-type]
    """DuckDB / PostgreSQL ``timezone(zone, timestamptz)``: the naive wall-clock time of an instant in
    ``zone`` (https://duckdb.org/docs/stable/sql/functions/timestamptz#timezonetext-timestamptz)."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _wall_time_spark(ts: idt.Timestamp(timezone="UTC"), zone: str) -> idt.Timestamp():  # type: ignore[valid-type]
    """Spark SQL ``from_utc_timestamp(ts, zone)``: the same wall-clock time, shown in the UTC session zone
    (https://spark.apache.org/docs/latest/api/sql/index.html#from_utc_timestamp)."""


#: Engines that can compute the wall-clock time of an instant in a zone (:func:`local_time`).
LOCAL_TIME_BACKENDS = frozenset({"duckdb", "postgres", "pyspark"})


def local_time(con: Any, zone: str, ts: ibis.TimestampValue) -> ibis.TimestampValue:
    """Engine expression: the wall-clock time in ``zone`` of the UTC instants ``ts`` (naive).

    Its ``date()``, ``hour()`` and ``day_of_week`` are the calendar day, hour and weekday in
    ``zone`` (daylight saving time included: the engine's time zone database decides the offset of
    each instant). ``zone`` ``"UTC"`` returns ``ts`` itself, so UTC campaigns compile to the same SQL
    as before. One scalar expression per row; no extra scan.

    Parameters
    ----------
    con : ibis backend
        The backend that runs the expression (Spark gets ``from_utc_timestamp``, every other
        engine ``timezone(zone, ts)``).
    zone : str
        IANA zone name (``"America/Los_Angeles"``).
    ts : ibis timestamp column
        UTC instants (timezone-aware, as :meth:`playbook.data.warehouse.Warehouse.table` gives them).

    Raises
    ------
    DataError
        A zone other than UTC on an engine outside :data:`LOCAL_TIME_BACKENDS`.
    """
    if zone == "UTC":
        return ts
    name = getattr(con, "name", None)
    if name not in LOCAL_TIME_BACKENDS:
        raise DataError(
            f"The campaign's time zone {zone!r} needs local days, but the {name} engine has no time zone "
            f"conversion the playbook knows (supported: {sorted(LOCAL_TIME_BACKENDS)}). Read the data "
            "through DuckDB (a folder or .duckdb file) or Spark, or set timezone: UTC in the campaign file.")
    return _wall_time_spark(ts, zone) if name == "pyspark" else _wall_time(zone, ts)


#: Backends whose SQL has no ordered aggregates (``collect(order_by=...)``).
NO_ORDERED_AGGREGATES = frozenset({"pyspark"})


def ordered_join(value: ibis.Value, order_by: Sequence[ibis.Value], sep: str) -> ibis.Scalar:
    """Aggregate: the non-null ``value`` strings of a group joined by ``sep``, ascending by
    ``order_by`` (ties broken by the later keys).

    ``value.collect(order_by=...).join(sep)`` where the backend has ordered aggregates. On the
    others (Spark) the group's ``(keys..., value)`` structs are collected, sorted as arrays (field
    by field, which needs keys that decide the order) and mapped back to ``value``; the result is
    the same. (The array form is not used everywhere because DuckDB 2 rejects the ``->`` lambdas
    Ibis 12 writes for it.)
    """
    if ibis.get_backend(value).name not in NO_ORDERED_AGGREGATES:
        return value.collect(order_by=list(order_by)).join(sep)
    fields = {f"k{i}": key for i, key in enumerate(order_by)}
    items = ibis.struct({**fields, "v": value}).collect(where=value.notnull())
    return items.sort().map(lambda item: item.v).join(sep)


def fix_pyspark_strip() -> None:
    """Work around ibis#11894 (fixed upstream in ibis#11989): on PySpark, ibis 12 compiles
    ``strip()`` to ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``; Spark reads ``\\v``/``\\f`` as the letters
    ``v``/``f`` and strips them. This makes ``strip()`` trim the six ASCII whitespace characters
    by code point, as upstream now does. No-op when the installed ibis is already correct."""
    probe = ibis.table({"s": "string"}, name="probe")
    if "\\f" not in ibis.to_sql(probe.select(x=probe.s.strip()), dialect="pyspark"):
        return

    def visit_Strip(self: Any, op: Any, *, arg: Any) -> Any:  # noqa: N802 - ibis visitor naming
        chars = self.f.concat(*(self.f.chr(ord(c)) for c in " \t\n\r\x0b\x0c"))
        return self.f.trim(arg, chars)

    PySparkCompiler.visit_Strip = visit_Strip
