"""A campaign on Latin-1 CSV files runs through `playbook run` (issue 13, the data-source bug).

The data source travels as one :class:`playbook.data.source.DataSource`, so ``data.encoding``
reaches everything that opens the data: ``validate-data``, the preflight check, each notebook and
the runner's PII guard. Before, the guard reopened the CSV files as UTF-8 and the run aborted
after 01_plan with "not valid utf-8 ... set data.encoding".

The dataset is the shared small sample (2,000 customers, the nine tables the data check
expects), written as ``;``-delimited Latin-1 CSV files, with accented first names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playbook.data.contract import TABLES
from tests.sample_data import read, small_sample

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebooks  # runs in the normal suite (not "slow"): ~30 s on an idle machine
#: Names only Latin-1 (not ASCII) can spell; written into the first customers' rows.
ACCENTED = ["José", "Zoë", "Renée", "Björn", "Søren", "Inês"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playbook.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def latin1_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("latin1") / "shop"
    folder.mkdir()
    for name in TABLES:
        df = read(small_sample(), name)
        if name == "customers":
            df.loc[df.index[:len(ACCENTED)], "first_name"] = ACCENTED
        df.to_csv(folder / f"{name}.csv", sep=";", index=False, encoding="latin-1")
    raw = (folder / "customers.csv").read_bytes()
    assert "José".encode("latin-1") in raw and "José".encode() not in raw  # really Latin-1
    return folder


def _campaign(tmp_path: Path, source: Path) -> Path:
    """campaigns/holiday-2025.yaml on ``source`` with ``data.encoding: latin-1``, reporting to ``tmp_path``."""
    cfg = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8"))
    cfg["data"] = {"source": str(source), "encoding": "latin-1"}
    cfg["output"] = {"dir": str(tmp_path / "reports" / cfg["slug"])}
    path = tmp_path / "latin1.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_without_the_encoding_the_data_check_names_the_fix(latin1_source: Path) -> None:
    res = _cli("validate-data", str(latin1_source))
    assert res.returncode == 1
    assert "customers.csv is not valid utf-8" in res.stderr and "data.encoding" in res.stderr


def test_plan_runs_and_publishes_on_latin1_csv(latin1_source: Path, tmp_path: Path) -> None:
    """validate (preflight), 01_plan and the PII guard all read the files as Latin-1."""
    cfg = _campaign(tmp_path, latin1_source)
    res = _cli("run", str(cfg), "--only", "plan", "--timeout", "300")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = tmp_path / "reports" / "holiday-2025"
    page = (out / "01_plan.html").read_text(encoding="utf-8")
    assert "Sales history" in page
    assert "01_plan.html" in (out / "index.html").read_text(encoding="utf-8")
    steps = {s["step"]: s["status"] for s in json.loads((out / "summary.json").read_text())["steps"]}
    assert steps["01_plan"] == "ok"
    for name in ACCENTED:  # the guard read the names (as Latin-1) and none is on the page
        assert name not in page

