"""Contracts for the artifacts one step writes and a later step reads (pandera schemas).

Notebooks communicate only through files in ``reports/<campaign>/artifacts/``
(docs/architecture.md, "Artifacts passed between steps"). An artifact that a later step relies
on is declared here once, as a pandera schema, and checked

* on write (:func:`playbook.artifacts.write_artifact`): a producer bug fails loudly in the step that
  made it, with the column and the check that failed;
* on read (:func:`playbook.artifacts.read_artifact`): an artifact left by an older version of the
  playbook, or edited by hand, is reported with a warning and treated as absent, so the reading
  step recomputes what it needs (every step also runs alone) instead of computing on bad input.

Pseudonymous ids (columns ending in ``_pid``) can only be joined with ids pseudonymized under the
same key. Every Parquet artifact holding them carries the key's fingerprint
(:func:`playbook.report.privacy.key_fingerprint`) in its file metadata (Parquet key-value metadata,
https://arrow.apache.org/docs/python/generated/pyarrow.Schema.html#pyarrow.Schema.with_metadata),
and reading one written under another key refuses with a :class:`~playbook.errors.DataError` that
names both fingerprints and the fix (issue 19 item 3): before, a later step's join matched nobody and
the segment step's suppression was silently dropped. Suppression stays keyed by pseudonym (the
artifacts never hold raw ids); the check makes a key change loud instead.

Why pandera: the artifacts are small per-customer or per-day tables in pandas; pandera states
their columns, types and value rules declaratively and reports every failing check at once
(``lazy=True``), which is what the playbook promises for data problems. Raw tables are checked
in the engine by :mod:`playbook.data.validate` instead, because they are never loaded into pandas.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

# pandera imports pyspark.pandas whenever pyspark is installed (it is, for the Spark engine): at
# import and again when it first validates a frame. pyspark then warns about pandas >= 3; the
# warning says nothing about the playbook's own use of pandas and must not print on every step
# page, so exactly that message is ignored for the process.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)

import pandera.pandas as pa  # noqa: E402 - after the filter above
from pandera.errors import SchemaErrors  # noqa: E402

from playbook.errors import DataError  # noqa: E402
from playbook.files import atomic_write, write_json  # noqa: E402
from playbook.report.privacy import PseudonymKey, pseudonym_key  # noqa: E402

_PID = pa.Column(str, nullable=False, unique=True, description="pseudonymous customer id (HMAC)")
_SHARE = pa.Check.in_range(0.0, 1.0)

#: Artifact name (file stem) -> schema. Extra columns are allowed (steps may add more).
SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "segments": pa.DataFrameSchema(
        {
            "customer_pid": _PID,
            "rfm_segment": pa.Column(str, nullable=False),
            "rfm_score": pa.Column(int, pa.Check.in_range(0, 15), nullable=False, required=False),
            "suppress_email": pa.Column(bool, nullable=False),
            "suppress_sms": pa.Column(bool, nullable=False, required=False),
            "suppress_ads": pa.Column(bool, nullable=False),
        },
        strict=False,
        name="segments (written by 02_segment, read by 03_personalize)",
    ),
    "scores": pa.DataFrameSchema(
        {
            "customer_pid": _PID,
            "score": pa.Column(float, _SHARE, nullable=False, coerce=True),
            "score_decile": pa.Column(int, pa.Check.in_range(1, 10), nullable=False),
        },
        strict=False,
        name="scores (purchase propensity, written by 03_personalize)",
    ),
    "experiment_results": pa.DataFrameSchema(
        {
            "experiment_id": pa.Column(str, nullable=False),
            "metric": pa.Column(str, nullable=False),
            "p_value": pa.Column(float, pa.Check.in_range(0.0, 1.0), nullable=True),
        },
        strict=False,
        name="experiment_results (written by 04_test)",
    ),
    "next_budget": pa.DataFrameSchema(
        {
            "channel": pa.Column(str, nullable=False, unique=True),
            "recommended": pa.Column(float, pa.Check.ge(0.0), nullable=False),
        },
        strict=False,
        name="next_budget (written by 05_retrospective, read by the next campaign's plan)",
    ),
}


def check(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Validate artifact ``name`` against its schema (every failing check reported at once).

    Artifacts without a declared schema pass unchanged.

    Raises
    ------
    DataError
        The frame breaks the contract; the message names the artifact, columns and checks.
    """
    schema = SCHEMAS.get(name)
    if schema is None:
        return df
    if df.empty:  # no rows (e.g. everyone erased): columns built from nothing carry no dtype
        schema = _coercing(schema)
    try:
        return schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        lines = []
        for (col, chk), grp in cases.groupby(["column", "check"], dropna=False, sort=False):
            examples = ", ".join(str(v) for v in grp["failure_case"].head(3))
            lines.append(f"  - column {col}: {chk} ({len(grp)} failing; e.g. {examples})")
        raise DataError(
            f"Artifact {name!r} ({schema.name}) breaks its contract:\n" + "\n".join(lines)
        ) from None


def _coercing(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """A copy of ``schema`` that coerces every column to its dtype (used for empty frames only,
    where there is no value whose type could be wrong)."""
    return pa.DataFrameSchema(schema.columns, checks=schema.checks, strict=schema.strict, name=schema.name,
                              coerce=True)


def check_on_read(df: pd.DataFrame, name: str) -> pd.DataFrame | None:
    """Validate an artifact being read; warn and return ``None`` (treated as absent) if invalid."""
    try:
        return check(df, name)
    except DataError as exc:
        warnings.warn(f"{exc}\nIgnoring it: this step recomputes what it needs. Rerun the step that "
                      "writes it to refresh the artifact.", stacklevel=3)
        return None


# Artifact files: written atomically, checked on write and on read


def artifacts_dir(output_dir: str | os.PathLike[str]) -> Path:
    """Return ``<output_dir>/artifacts`` (created if missing)."""
    d = Path(output_dir) / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _artifact_path(output_dir: str | os.PathLike[str], name: str, suffix: str) -> Path:
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"Artifact name {name!r} must be a plain file name such as 'segments'")
    base = name if name.endswith(suffix) else name + suffix
    return artifacts_dir(output_dir) / base


def write_artifact(obj: Any, output_dir: str | os.PathLike[str], name: str) -> Path:
    """Write a step's artifact into ``<output_dir>/artifacts`` atomically (temp file, rename).

    Parameters
    ----------
    obj : DataFrame, Series, dict or list
        A DataFrame/Series is written as Parquet (``<name>.parquet``), a dict/list as JSON
        (``<name>.json``; NaN becomes null).
    output_dir : path
        The campaign's report folder (the runner's staging folder during a run).
    name : str
        File name without folder; the suffix is added when missing.

    Returns
    -------
    Path
        The written file.
    """
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    if isinstance(obj, pd.DataFrame):
        path = _artifact_path(output_dir, name, ".parquet")
        checked = check(obj, path.stem)  # declared contracts (playbook.artifacts) are checked on write
        frame = checked if obj.empty else obj  # an empty frame is written with the contract's dtypes
        return atomic_write(path, lambda t: _write_parquet(frame, t))
    if isinstance(obj, Mapping | list | tuple):
        path = _artifact_path(output_dir, name, ".json")
        return write_json(nan_to_none(obj), path)
    raise TypeError(
        f"write_artifact: cannot store {type(obj).__name__} as {name!r}; pass a DataFrame, "
        "Series, dict or list"
    )


# Pseudonym key fingerprints (issue 19 item 3)

PSEUDONYM_SUFFIX = "_pid"
"""Columns whose name ends in this hold pseudonymous ids (:func:`playbook.report.privacy.pseudonymize`)."""

KEY_METADATA = b"playbook.pseudonym_key"
"""Parquet metadata key of the stamp: JSON ``{"fingerprint": ..., "source": ...}``, never the key."""


def _pseudonym_columns(names: Sequence[Any]) -> list[str]:
    return [str(n) for n in names if str(n).endswith(PSEUDONYM_SUFFIX)]


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_parquet(path)``, stamped with the key fingerprint when it holds pseudonyms."""
    if not _pseudonym_columns(list(frame.columns)):
        frame.to_parquet(path)
        return
    key = pseudonym_key()
    table = pyarrow.Table.from_pandas(frame)
    stamp = json.dumps({"fingerprint": key.fingerprint, "source": key.source}).encode("utf-8")
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), KEY_METADATA: stamp})
    pq.write_table(table, path)


def artifact_key_stamp(path: str | os.PathLike[str]) -> dict[str, str] | None:
    """The pseudonym-key stamp of a Parquet artifact (``fingerprint``, ``source``); None without one."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(KEY_METADATA)
    if raw is None:
        return None
    try:
        stamp = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return {str(k): str(v) for k, v in stamp.items()} if isinstance(stamp, dict) else None


def check_pseudonym_key(path: str | os.PathLike[str], key: PseudonymKey | None = None) -> None:
    """Refuse a Parquet artifact whose pseudonymous ids were made with another key than ``key``
    (default the current one, :func:`playbook.report.privacy.pseudonym_key`).

    Artifacts without ``*_pid`` columns pass; one holding them without a stamp (written by a
    playbook before issue 19) passes with a warning, since its key cannot be told.

    Raises
    ------
    DataError
        The fingerprints differ: the message names the artifact, both keys by source and
        fingerprint (never the key), and the two fixes.
    """
    p = Path(path)
    if not _pseudonym_columns(pq.read_schema(p).names):
        return
    stamp = artifact_key_stamp(p)
    if stamp is None:
        warnings.warn(f"Artifact {p.name} holds pseudonymous ids but no key fingerprint (written by an older "
                      "playbook): if the pseudonym key changed since, its ids match nobody. Rerun the step that "
                      "writes it to be sure.", stacklevel=3)
        return
    current = key or pseudonym_key()
    if stamp.get("fingerprint") == current.fingerprint:
        return
    schema = SCHEMAS.get(p.stem)
    what = f"{p.name} ({schema.name})" if schema is not None and schema.name else p.name
    then = f"{stamp.get('source', 'an unknown key')} (fingerprint {stamp.get('fingerprint')})"
    raise DataError(
        f"Artifact {what} holds pseudonymous ids made with another key: it was written with {then}, "
        f"this run uses {current.describe()}. Its ids would match nobody, so what it says about each "
        "person (segments, suppression) would be silently lost. Either rerun the steps that wrote it with "
        "the current key (`playbook run <campaign>` without --only, or name those steps in --only too), or "
        f"set the key it was written with again (the same PLAYBOOK_PSEUDONYM_KEY, or the project's "
        f".playbook/pseudonym.key with fingerprint {stamp.get('fingerprint')})."
    )


def nan_to_none(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, inf, -inf; in nested dicts, lists and tuples)
    replaced by None, for strict JSON; dict keys become strings and tuples lists."""
    if isinstance(obj, Mapping):
        return {str(k): nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [nan_to_none(v) for v in obj]
    if isinstance(obj, float | np.floating) and not math.isfinite(obj):
        return None
    return obj


def read_artifact(output_dir: str | os.PathLike[str], name: str, default: Any = None) -> Any:
    """Read an artifact written by :func:`write_artifact`; ``default`` when it does not exist.

    A Parquet artifact with a declared contract (:mod:`playbook.artifacts`) that it breaks is
    reported with a warning and treated as absent, so the reading step recomputes.

    ``name`` may carry its suffix; without one, ``<name>.parquet`` then ``<name>.json`` is tried.
    """
    folder = Path(output_dir) / "artifacts"
    candidates = [folder / name] if Path(name).suffix in {".parquet", ".json"} else [
        folder / f"{name}.parquet",
        folder / f"{name}.json",
    ]
    for path in candidates:
        if path.is_file():
            if path.suffix == ".parquet":
                check_pseudonym_key(path)
                checked = check_on_read(pd.read_parquet(path), path.stem)
                return default if checked is None else checked
            return json.loads(path.read_text(encoding="utf-8"))
    return default


def write_step_summary(
    output_dir: str | os.PathLike[str],
    step: str,
    headline: Mapping[str, str | float | int | None],
    notes: Sequence[str] = (),
    skipped: str | None = None,
) -> Path:
    """Record a step's headline numbers for the index page: ``artifacts/summary_<step>.json``.

    Parameters
    ----------
    output_dir : path
        The campaign's report folder.
    step : str
        Step name, e.g. ``"01_plan"``.
    headline : mapping of str to str or number
        Label -> value; format money and percentages as strings first (``fmt_money``...).
        Numbers are shown with thousands separators. No PII.
    notes : sequence of str
        Short sentences (fallbacks used, warnings) shown under the step on the index page.
    skipped : str, optional
        Why the step had nothing to do (e.g. "no experiments in the campaign"): the step ran
        and succeeded, but its purpose is missing from the data or the campaign. Recorded as
        ``"skipped"`` and shown as such on the index; the run still succeeds.

    Notes
    -----
    The file holds no time stamp (when a step ran is in the run's ``summary.json``), so the same
    inputs give the same bytes on every rerun (issue 18 item 9).
    """
    payload: dict[str, Any] = {
        "step": step,
        "headline": {str(k): nan_to_none(v) for k, v in headline.items()},
        "notes": [str(n) for n in notes],
    }
    if skipped:
        payload["skipped"] = str(skipped)
    return write_json(payload, artifacts_dir(output_dir) / f"summary_{step}.json")


def read_step_summary(output_dir: str | os.PathLike[str], step: str) -> dict[str, Any] | None:
    """Read ``summary_<step>.json`` (also tried without the ``NN_`` prefix); None if absent."""
    folder = Path(output_dir) / "artifacts"
    short = step.split("_", 1)[1] if re.match(r"^\d+_", step) else step
    for name in dict.fromkeys((step, short)):
        p = folder / f"summary_{name}.json"
        if p.is_file():
            try:
                summary = json.loads(p.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                return None
            return summary if isinstance(summary, dict) else None
    return None
