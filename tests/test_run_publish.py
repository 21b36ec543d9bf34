"""Tests for publishing (playbook.run.publish) and the file helpers it relies on (playbook.files).

No kernel runs here: staging folders are made by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from playbook import files
from playbook.run import publish


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_publish_restores_old_report_when_rename_fails(tmp_path, monkeypatch):
    final, staging = tmp_path / "demo", tmp_path / ".staging" / "x"
    final.mkdir()
    (final / "index.html").write_text("old", encoding="utf-8")
    staging.mkdir(parents=True)
    (staging / "index.html").write_text("new", encoding="utf-8")
    real_rename = os.rename
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # moving staging in fails
            raise OSError("disk full")
        return real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", flaky)
    with pytest.raises(OSError, match="disk full"):
        publish.publish(staging, final)
    assert (final / "index.html").read_text(encoding="utf-8") == "old"
    monkeypatch.setattr(files.os, "rename", real_rename)
    publish.publish(staging, final)
    assert (final / "index.html").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".publish.lock", ".staging", "demo"]


def test_attribute_files_by_name_then_time_window():
    ms = 1_000_000
    windows = {"01_plan": (0, 1000 * ms), "02_segment": (500 * ms, 2000 * ms), "04_test": (3000 * ms, 4000 * ms)}
    after = {"01_plan.html": (900 * ms, 1), "artifacts/a.parquet": (100 * ms, 1),
             "artifacts/both.parquet": (700 * ms, 1), "artifacts/prev.parquet": (800 * ms, 1),
             "artifacts/t.json": (3500 * ms, 1), "artifacts/old.json": (10 * ms, 1)}
    before = {"artifacts/old.json": (10 * ms, 1)}
    prev = {"02_segment": {"files": ["artifacts/prev.parquet"]}}
    out = publish.attribute_files(before, after, windows, prev)
    assert out == {"01_plan": ["01_plan.html", "artifacts/a.parquet", "artifacts/both.parquet"],
                   "02_segment": ["artifacts/both.parquet", "artifacts/prev.parquet"],
                   "04_test": ["artifacts/t.json"]}


def test_swap_folder_into_a_new_place_and_over_an_old_folder(tmp_path):
    staged, final = tmp_path / "staged", tmp_path / "out" / "final"
    staged.mkdir()
    (staged / "a.txt").write_text("1", encoding="utf-8")
    files.swap_folder(staged, final)  # nothing there yet: the parent is created
    assert (final / "a.txt").read_text(encoding="utf-8") == "1" and not staged.exists()
    staged.mkdir()
    (staged / "b.txt").write_text("2", encoding="utf-8")
    files.swap_folder(staged, final)
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]  # replaced whole, not merged
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["final"]  # old folder deleted


def test_atomic_write_and_new_folder_follow_the_umask_without_touching_it(tmp_path, monkeypatch):
    # reading the umask means setting it: racy when pages are rendered in several threads
    mask = _current_umask()

    def no_umask(*_a):
        raise AssertionError("os.umask must not be called")

    monkeypatch.setattr(files.os, "umask", no_umask)
    path = files.atomic_write(tmp_path / "page.html", lambda t: t.write_text("x", encoding="utf-8"))
    folder = files.new_folder(tmp_path / "staging", "demo-")
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert folder.stat().st_mode & 0o777 == 0o777 & ~mask
    assert folder.name.startswith("demo-") and folder.parent == tmp_path / "staging"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "x.json"
    files.write_json({"v": 1}, path)

    def broken(t):
        t.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(path, broken)
    assert path.read_text(encoding="utf-8") == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


_HOLD_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a") as fh:
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_publish_waits_for_another_process_holding_the_lock(tmp_path):
    final, staging = tmp_path / "demo", tmp_path / ".staging" / "x"
    staging.mkdir(parents=True)
    (staging / "index.html").write_text("new", encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path / publish.LOCK_NAME)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        worker = threading.Thread(target=publish.publish, args=(staging, final))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive() and not final.exists()  # blocked by the other process
        holder.communicate("go\n", timeout=10)  # the other process releases the lock
        worker.join(timeout=10)
        assert not worker.is_alive()
        assert (final / "index.html").read_text(encoding="utf-8") == "new"
    finally:
        if holder.poll() is None:
            holder.kill()


def test_prepare_staging_copies_the_last_report_minus_the_rerun_steps_files(tmp_path):
    final = tmp_path / "demo"
    (final / "artifacts").mkdir(parents=True)
    for name in ("01_plan.html", "02_segment.html", "artifacts/plan.parquet", "artifacts/seg.parquet",
                 "artifacts/shared.json", "index.html"):
        (final / name).write_text(name, encoding="utf-8")
    files.write_json({"steps": [
        {"step": "01_plan", "status": "ok", "files": ["artifacts/plan.parquet", "artifacts/shared.json"]},
        {"step": "02_segment", "status": "ok", "files": ["artifacts/seg.parquet", "artifacts/shared.json"]},
    ]}, final / "summary.json")
    staging, previous = publish.prepare_staging(final, tmp_path / ".staging", "demo", ["01_plan"])
    assert staging.parent == tmp_path / ".staging" and staging.name.startswith("demo-")
    assert [s["step"] for s in previous["steps"]] == ["01_plan", "02_segment"]
    kept = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    # 01's page and own artifact go; a file 02 also wrote stays; index and summary are rebuilt
    assert kept == ["02_segment.html", "artifacts/seg.parquet", "artifacts/shared.json"]
    assert (final / "01_plan.html").is_file()  # the published report is untouched
