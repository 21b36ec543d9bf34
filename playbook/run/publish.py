"""Staging and publishing a campaign's report folder.

A run executes its steps into a *staging* folder ``reports/.staging/<slug>-<timestamp>-<random>/``
that starts as a copy of the last good report (:func:`prepare_staging`: a single ``--only``
step still finds the artifacts of earlier steps, and the other steps' pages are kept). Only
when every requested step succeeded (and passed the PII guard, :mod:`playbook.run.guard`) is
the staging folder swapped in for ``reports/<slug>`` (:func:`publish`, with
:func:`playbook.files.swap_folder`). On any failure nothing is published: the executed
notebooks of the failed steps are kept in ``reports/_failed/<slug>-<timestamp>-<random>/``
(:func:`keep_failed`, :func:`write_failure_json`) and the last good report stays
byte-identical.

Copying a report into staging and swapping one in hold :func:`publish_lock`, which excludes
other threads (campaigns of a batch with the same slug) and other processes (two
``playbook run`` at once) working on the same reports folder.

Which step wrote which file (:func:`attribute_files`) is recorded in ``summary.json``, so a
later ``--only`` run knows which files to remove before rerunning a step.

Files with plaintext PII (the email-platform lists of 03_personalize) never enter the published
report. A step writes them to :func:`private_dir` of its output folder: inside staging that is
``<staging>/private/`` (mode ``0700``, files ``0600``), which :func:`publish` moves out to
``reports/.private/<slug>/`` (replacing the previous one) before the staging folder is swapped
in; a failed run is never published, and its staging folder (private files included) is
deleted. Any other output folder (an interactive run's ``reports/_interactive/<slug>``) keeps
them beside it, in ``<parent>/.private/<name>/``. Private files are not attributed to steps
(``summary.json`` never lists them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from playbook.files import (
    PRIVATE_DIR,
    PRIVATE_ROOT,
    is_private,
    new_folder,
    owner_only_dir,
    private_dir,
    swap_folder,
    write_json,
)
from playbook.run.graph import STEPS
from playbook.run.results import NOT_RUN, OK, StepResult

Snapshot = dict[str, tuple[int, int]]
"""Relative path -> (modification time in ns, size in bytes) of every file of a folder."""

LOCK_NAME = ".publish.lock"
"""The lock file :func:`publish_lock` holds, in the reports folder (``reports/.publish.lock``)."""

LEGACY_PII_FILES = ("exports/email_campaign.csv",)
"""Plaintext-PII files older versions wrote into the report: never carried into a new staging folder."""

_THREAD_LOCK = threading.Lock()

MTIME_SLACK_NS = 50_000_000
"""File modification times come from the kernel's coarse clock, up to a few ms behind
``time.time_ns()``; a step's time window is widened by this much at its start (ns)."""


def stamp() -> str:
    """The current UTC time as ``20251128T093000Z`` (for folder names)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


@contextlib.contextmanager
def publish_lock(root: Path) -> Iterator[None]:
    """Hold the publishing lock of the reports folder ``root``.

    A thread lock (campaigns of one batch) and an exclusive ``flock`` on
    ``<root>/.publish.lock`` (other processes on this machine; released by the kernel if the
    process dies). Held while a report is copied into staging or swapped in, so a copy never
    sees a half-swapped folder and two swaps of one report never interleave.
    """
    with _THREAD_LOCK:
        root.mkdir(parents=True, exist_ok=True)
        with (root / LOCK_NAME).open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def snapshot(folder: Path) -> Snapshot:
    """Relative path -> (mtime_ns, size) of every file under ``folder``."""
    out: Snapshot = {}
    for p in folder.rglob("*"):
        try:  # a concurrent step may rename a temp file away between listing and stat
            st = p.stat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode):
            out[p.relative_to(folder).as_posix()] = (st.st_mtime_ns, st.st_size)
    return out


def _changed(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]) -> list[str]:
    return sorted(k for k, v in after.items() if before.get(k) != v)


def _load_previous_summary(report_dir: Path) -> dict[str, Any]:
    try:
        summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _step_files(step: str) -> set[str]:
    """The files named after ``step``: its executed notebook, its page, its summary."""
    return {f"{step}.ipynb", f"{step}.html", f"artifacts/summary_{step}.json"}


def prepare_staging(final: Path, staging_root: Path, slug: str,
                    steps: Sequence[str]) -> tuple[Path, dict[str, Any]]:
    """Create the staging folder as a copy of the last good report, minus the rerun steps' files.

    Parameters
    ----------
    final : Path
        The published report folder (may not exist yet).
    staging_root : Path
        Where staging folders are made (``reports/.staging``, same file system as ``final``).
    slug : str
        The campaign slug (prefix of the folder name).
    steps : sequence of str
        The steps of this run: the files they wrote last time (per the previous
        ``summary.json``) are removed unless a step not rerun also wrote them; ``index.html``
        and ``summary.json`` are always removed (rebuilt at the end).

    Returns
    -------
    (Path, dict)
        The staging folder (its mode follows the umask) and the previous ``summary.json``
        (empty when there was no report).
    """
    staging = new_folder(staging_root, f"{slug}-{stamp()}-")
    previous: dict[str, Any] = {}
    copied = False
    with publish_lock(final.parent):
        if final.is_dir():
            previous = _load_previous_summary(final)
            shutil.copytree(final, staging, dirs_exist_ok=True, symlinks=True)
            copied = True
    if copied:
        kept_files: set[str] = set()
        rerun_files: set[str] = set()
        for ent in previous.get("steps", []):
            files = set(ent.get("files", []))
            (rerun_files if ent.get("step") in steps else kept_files).update(files)
        for step in steps:
            rerun_files.update(_step_files(step))
        for rel in rerun_files - kept_files:
            (staging / rel).unlink(missing_ok=True)
        for rel in ("index.html", "summary.json", *LEGACY_PII_FILES):
            (staging / rel).unlink(missing_ok=True)
    (staging / "artifacts").mkdir(exist_ok=True)
    return staging, previous


def publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` in for ``final`` (:func:`playbook.files.swap_folder`) under
    :func:`publish_lock`: old folder aside, staging in, old deleted; restored on error.

    When the staging folder has a private subfolder (:data:`PRIVATE_DIR`, written by this run),
    it is first moved out to ``<reports>/.private/`` (owner-only), so the published folder never
    holds it; once the report is in, it replaces ``<reports>/.private/<slug>`` the same way. If
    the report cannot be swapped in, the new private files are deleted (nothing of the run is
    published) and the previous ones stay. A run without a private subfolder (``--only`` of
    other steps) leaves the previous private files as they are.
    """
    with publish_lock(final.parent):
        held = _hold_private(staging, final)
        try:
            swap_folder(staging, final)
        except BaseException:
            if held is not None:
                shutil.rmtree(held, ignore_errors=True)
            raise
        if held is not None:
            swap_folder(held, private_dir(final))


def _hold_private(staging: Path, final: Path) -> Path | None:
    """Move ``<staging>/private`` to a new hidden name in ``<reports>/.private`` (same file
    system, one rename); None when the staging folder has none."""
    private = staging / PRIVATE_DIR
    if not private.is_dir():
        return None
    root = final.parent / PRIVATE_ROOT
    owner_only_dir(root)
    os.chmod(private, 0o700)
    held = root / f".{final.name}.new-{os.getpid()}-{secrets.token_hex(6)}"
    os.rename(private, held)
    return held


def keep_failed(failed_root: Path, slug: str, staging: Path, step: str, dest: Path | None = None) -> Path:
    """Copy a failed step's executed notebook into ``_failed/<slug>-<stamp>-<random>/``.

    The folder is created when ``dest`` is None (one folder per run holds every failed notebook
    of that run). It is private to the user (mode ``0700``): a notebook stopped by the PII
    guard shows customer data.
    """
    if dest is None:
        failed_root.mkdir(parents=True, exist_ok=True)
        dest = Path(tempfile.mkdtemp(prefix=f"{slug}-{stamp()}-", dir=failed_root))
    nb = staging / f"{step}.ipynb"
    if nb.is_file():
        shutil.copy2(nb, dest / nb.name)
    return dest


def write_failure_json(dest: Path, failures: Sequence[Mapping[str, Any]]) -> None:
    """``failure.json``: the first failing step's fields (in step order) at top level, and
    every failure of the run under ``failures``."""
    write_json({**dict(failures[0]), "failures": [dict(f) for f in failures]}, dest / "failure.json")


def _step_of_name(rel: str) -> str | None:
    """The step a report file belongs to by its name (``02_segment.html``,
    ``artifacts/summary_02_segment.json``), else None."""
    for step in STEPS:
        if rel in _step_files(step):
            return step
    return None


def _in_window(mtime_ns: int, window: tuple[int, int]) -> bool:
    return window[0] - MTIME_SLACK_NS <= mtime_ns <= window[1]


def attribute_files(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]],
                    windows: Mapping[str, tuple[int, int]],
                    prev_steps: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Which step wrote each file changed during the run.

    By name first (``<step>.ipynb``/``.html``/``summary_<step>.json``), then by the step whose
    time window holds the file's modification time. When windows of concurrent steps overlap,
    the step that wrote the file last time (previous ``summary.json``) wins; otherwise every
    candidate claims it (harmless: a file is only removed before a rerun when all its
    claimants rerun). Files in the private subfolder are never attributed (:func:`is_private`).
    """
    out: dict[str, list[str]] = {s: [] for s in windows}
    for rel in _changed(before, after):
        if is_private(rel):  # never published: moved out by publish()
            continue
        owner = _step_of_name(rel)
        if owner is not None:
            claim = [owner] if owner in out else []
        else:
            claim = [s for s, w in windows.items() if _in_window(after[rel][0], w)]
            if len(claim) > 1:
                prev = [s for s in claim if rel in prev_steps.get(s, {}).get("files", [])]
                claim = prev or claim
        for s in claim:
            out[s].append(rel)
    return out


def index_statuses(
    results: Mapping[str, StepResult],
    prev_steps: Mapping[str, Mapping[str, Any]],
    files_by_step: Mapping[str, list[str]],
    run_at: str,
) -> dict[str, dict[str, Any]]:
    """Per-step status for the index: this run's steps, earlier runs' for the others."""
    out: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        if step in results:
            r = results[step]
            out[step] = {"status": r.status, "message": r.message, "duration_s": r.duration_s,
                         "run_at": run_at, "files": files_by_step.get(step, [])}
        elif step in prev_steps and prev_steps[step].get("status") == OK:
            p = prev_steps[step]
            out[step] = {"status": OK, "message": "from an earlier run", "duration_s": p.get("duration_s"),
                         "run_at": p.get("run_at"), "files": p.get("files", [])}
        else:
            out[step] = {"status": NOT_RUN, "message": "not run yet", "files": []}
    return out


def rewrite_summary_steps(folder: Path, statuses: Mapping[str, Mapping[str, Any]]) -> None:
    """Add each step's run time and written files to ``summary.json`` (used by later --only runs)."""
    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    for ent in summary.get("steps", []):
        st = statuses.get(ent["step"], {})
        ent["files"] = list(st.get("files", []))
        ent["run_at"] = st.get("run_at")
    write_json(summary, path)
