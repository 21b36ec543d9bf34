"""A small generated sample shared by tests of the step functions (one per test process)."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pandas as pd

SMALL_CUSTOMERS = 2000
SEED = 7


@functools.lru_cache(maxsize=1)
def small_sample() -> Path:
    """Generate (once per process) a 2,000-customer sample and return its folder."""
    from playbook.data import synth

    out = Path(tempfile.mkdtemp(prefix="playbook-sample-")) / "sample"
    synth.generate(n_customers=SMALL_CUSTOMERS, seed=SEED, out_dir=out)
    return out


def truth(folder: Path) -> dict:
    return json.loads((folder / "truth.json").read_text())


def read(folder: Path, table: str) -> pd.DataFrame:
    """Read a whole table with pandas: the independent reference for engine-side aggregates."""
    return pd.read_parquet(folder / f"{table}.parquet")
