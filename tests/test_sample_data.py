"""The generated test sample (tests/sample_data.py) leaves no temporary folder behind after a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import sample_data

ROOT = Path(__file__).resolve().parents[1]

#: A test session of its own that generates the sample (300 customers to keep it quick) and
#: records where it was written.
INNER_TEST = '''
from pathlib import Path

from tests import sample_data

sample_data.SMALL_CUSTOMERS = 300


def test_generates_the_sample():
    folder = sample_data.small_sample()
    assert (folder / "truth.json").is_file()
    Path(__file__).with_name("made.txt").write_text(str(folder))
'''


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["one-process", "xdist-worker"])
def test_no_sample_folder_is_left_after_a_test_session(tmp_path, workers):
    """Runs a pytest session (in the process, or in an xdist worker as `make test` does) with
    TMPDIR pointing to a new folder, then looks for the sample folder in it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers,
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(tmp_path / "test_inner.py")],
        cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    made = Path((tmp_path / "made.txt").read_text())  # <tmp>/playbook-sample-<random>/sample
    assert made.parent.parent == tmp and made.parent.name.startswith(sample_data.PREFIX)
    assert not made.parent.exists()
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith(sample_data.PREFIX)) == []
