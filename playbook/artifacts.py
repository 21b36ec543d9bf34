"""Contracts for the artifacts one step writes and a later step reads (pandera schemas).

Notebooks communicate only through files in ``reports/<campaign>/artifacts/`` (DESIGN.md). An
artifact that a later step relies on is declared here once, as a pandera schema, and checked

* on write (:func:`playbook.report.write_artifact`): a producer bug fails loudly in the step that
  made it, with the column and the check that failed;
* on read (:func:`playbook.report.read_artifact`): an artifact left by an older version of the
  playbook, or edited by hand, is reported with a warning and treated as absent, so the reading
  step recomputes what it needs (every step also runs alone) instead of computing on bad input.

Why pandera: the artifacts are small per-customer or per-day tables in pandas; pandera states
their columns, types and value rules declaratively and reports every failing check at once
(``lazy=True``), which is what the playbook promises for data problems. Raw tables are checked
in the engine by :mod:`playbook.validate` instead, because they are never loaded into pandas.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from playbook.errors import DataError

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


def check_on_read(df: pd.DataFrame, name: str) -> pd.DataFrame | None:
    """Validate an artifact being read; warn and return ``None`` (treated as absent) if invalid."""
    try:
        return check(df, name)
    except DataError as exc:
        warnings.warn(f"{exc}\nIgnoring it: this step recomputes what it needs. Rerun the step that "
                      "writes it to refresh the artifact.", stacklevel=3)
        return None
