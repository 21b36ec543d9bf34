"""A small generated sample shared by tests of the step functions (one per test process).

The sample is written to a new temporary folder ``<tmp>/playbook-sample-<random>/sample`` that
is deleted when the process exits (pytest, each pytest-xdist worker, or a script), so none is
left behind unless the process is killed.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from playbook.data import synth

SMALL_CUSTOMERS = 2000
SEED = 7
#: Name prefix of the temporary folder holding the sample.
PREFIX = "playbook-sample-"


@functools.lru_cache(maxsize=1)
def small_sample() -> Path:
    """Generate (once per process) a 2,000-customer sample and return its folder (removed at exit)."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    out = root / "sample"
    synth.generate(n_customers=SMALL_CUSTOMERS, seed=SEED, out_dir=out)
    return out


def truth(folder: Path) -> dict:
    return json.loads((folder / "truth.json").read_text())


def read(folder: Path, table: str) -> pd.DataFrame:
    """Read a whole table with pandas: the independent reference for engine-side aggregates."""
    return pd.read_parquet(folder / f"{table}.parquet")
