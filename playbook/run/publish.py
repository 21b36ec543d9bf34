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
``playbook run`` at once) working on the same reports folder. A whole run (staging, steps,
publish) holds :func:`run_lock` of its report, so a second run of the same report (say ``--only
plan`` and ``--only segment`` started together) waits for the first to publish and then starts
from what it published: no step's update is lost (issue 19, item 6).

Every staging folder has an owner lock ``<staging>.lock`` held by the process working in it;
the next run deletes the staging folders whose owner died (``kill -9``), and ``.staging`` itself
is owner-only (``0700``), so nothing a dead run left there is readable by other users (item 12).
The reports folder and each published report carry a marker file
(:data:`playbook.paths.ROOT_MARKER`, :data:`playbook.paths.REPORT_MARKER`): the playbook only
writes into folders that are absent, empty or marked (:func:`playbook.paths.check_output_dir`,
item 2).

Locks are ``flock(2)`` locks: held by an open file description, so two opens of one file in one
process (two threads) exclude each other too, and released by the kernel when the last
descriptor closes, also when the process is killed. Python opens descriptors non-inheritable
(PEP 446), so a kernel process outliving a killed runner never holds its locks.
https://man7.org/linux/man-pages/man2/flock.2.html,
https://docs.python.org/3/library/fcntl.html#fcntl.flock,
https://peps.python.org/pep-0446/

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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from playbook.errors import RunError
from playbook.files import (
    PRIVATE_DIR,
    PRIVATE_ROOT,
    is_private,
    mark_folder,
    new_folder,
    owner_only_dir,
    private_dir,
    swap_folder,
    write_json,
)
from playbook.paths import REPORT_MARKER, ROOT_MARKER, RUN_LOCK_PREFIX
from playbook.run.graph import STEPS
from playbook.run.results import NOT_RUN, OK, StepResult

Snapshot = dict[str, tuple[int, int]]
"""Relative path -> (modification time in ns, size in bytes) of every file of a folder."""

LOCK_NAME = ".publish.lock"
"""The lock file :func:`publish_lock` holds, in the reports folder (``reports/.publish.lock``)."""

LEGACY_PII_FILES = ("exports/email_campaign.csv",)
"""Plaintext-PII files older versions wrote into the report: never carried into a new staging folder."""

_THREAD_LOCK = threading.Lock()

LEGACY_STALE_S = 3600
"""A staging folder without an owner lock (made by a version before owner locks) counts as left
behind by a dead run once it is this old (s)."""

MARKER_TEXT = ("Written by the Seasonal Campaign Playbook (`playbook run`), which replaces this folder whole "
               "when it publishes. Do not keep your own files here.\n")
"""Content of the marker files (:data:`playbook.paths.REPORT_MARKER`, :data:`playbook.paths.ROOT_MARKER`)."""

_OWNED: dict[str, int] = {}
"""Staging folder -> file descriptor of its owner lock, held while this process works in it."""

_OWNED_LOCK = threading.Lock()

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


def run_lock_path(root: Path, slug: str) -> Path:
    """The run lock of report ``<root>/<slug>``: ``<root>/.run-<slug>.lock``."""
    return root / f"{RUN_LOCK_PREFIX}{slug}.lock"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    """What the holder of a run lock wrote into it (``pid 123, since ...``), or ``unknown``."""
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def run_lock(root: Path, slug: str, wait: float = 3600.0,
             say: Callable[[str], Any] | None = None) -> Iterator[None]:
    """Hold the run lock of report ``<root>/<slug>`` for a whole run (stage, run, publish).

    An exclusive ``flock`` on :func:`run_lock_path` (any thread or process on this machine; the
    kernel releases it when the process dies, also after ``kill -9``). A second run of the same
    report waits, saying so once through ``say``, and polls every 0.2 s; so its staging copy is
    taken after the first run published, and no step's update is lost.

    Parameters
    ----------
    root : Path
        The reports folder (checked with :func:`playbook.paths.check_output_dir`).
    slug : str
        The report folder's name.
    wait : float
        Seconds to wait for another run to finish; 0 refuses at once.
    say : callable, optional
        Gets the waiting message.

    Raises
    ------
    RunError
        The other run still holds the lock after ``wait`` seconds (naming its process).
    """
    root.mkdir(parents=True, exist_ok=True)
    path = run_lock_path(root, slug)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        if not _try_lock(fd):
            other = _holder(path)
            if say is not None:
                say(f"[{slug}] waiting up to {wait:g} s for another run of {root / slug} to finish ({other})")
            deadline = time.monotonic() + max(wait, 0.0)
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise RunError(f"Another playbook run is working on {root / slug} ({other}) and did not "
                                   f"finish within {wait:g} s; nothing was run. Wait for it to finish, or stop "
                                   "it, then rerun.")
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _claim_staging(staging: Path) -> None:
    """Hold the owner lock ``<staging>.lock`` of a new staging folder for this process."""
    fd = os.open(Path(f"{staging}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
    with _OWNED_LOCK:
        _OWNED[str(staging)] = fd


def release_staging(staging: Path) -> None:
    """Drop the owner lock of ``staging`` (after it was published or deleted); no-op if not held."""
    with _OWNED_LOCK:
        fd = _OWNED.pop(str(staging), None)
    if fd is not None:
        Path(f"{staging}.lock").unlink(missing_ok=True)
        os.close(fd)


def discard_staging(staging: Path) -> None:
    """Delete a staging folder of this run (nothing published) and release its owner lock."""
    shutil.rmtree(staging, ignore_errors=True)
    release_staging(staging)


def _is_stale(folder: Path, lock: Path) -> bool:
    """Whether no live process owns ``folder``: its owner lock can be taken (the owner died),
    or it has none and is older than :data:`LEGACY_STALE_S`."""
    if not lock.exists():
        try:
            return time.time() - folder.stat().st_mtime > LEGACY_STALE_S
        except FileNotFoundError:
            return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        return _try_lock(fd)
    finally:
        os.close(fd)


def clean_stale_staging(staging_root: Path) -> list[str]:
    """Delete staging folders whose run died (``kill -9``, power loss), with what they hold.

    Called under :func:`publish_lock` by :func:`prepare_staging`, so no folder is being created,
    published or deleted meanwhile. A folder is stale when its owner lock ``<folder>.lock`` can
    be taken (the kernel released it with the dead process); folders of live runs (this process
    included) stay. Private files a dead run held aside in ``<reports>/.private/`` for a publish
    (``.<slug>.new-...``) are deleted too.

    Returns
    -------
    list of str
        The names of the folders deleted.
    """
    removed: list[str] = []
    if staging_root.is_dir():
        for entry in sorted(staging_root.iterdir()):
            if entry.name.endswith(".lock"):
                if not Path(str(entry)[: -len(".lock")]).exists() and _is_stale(entry, entry):
                    entry.unlink(missing_ok=True)
                continue
            lock = Path(f"{entry}.lock")
            if entry.is_dir() and str(entry) not in _OWNED and _is_stale(entry, lock):
                shutil.rmtree(entry, ignore_errors=True)
                lock.unlink(missing_ok=True)
                removed.append(entry.name)
    held = staging_root.parent / PRIVATE_ROOT
    if held.is_dir():
        for entry in held.glob(".*.new-*"):
            shutil.rmtree(entry, ignore_errors=True)
    return removed


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
        The staging folder (its mode follows the umask; the ``.staging`` folder above it is
        owner-only) and the previous ``summary.json`` (empty when there was no report).

    Notes
    -----
    Under :func:`publish_lock` the reports folder gets its marker
    (:data:`playbook.paths.ROOT_MARKER`), staging folders of dead runs are deleted
    (:func:`clean_stale_staging`), and the new folder's owner lock is taken; it is released by
    :func:`publish` or :func:`discard_staging`.
    """
    with publish_lock(final.parent):
        mark_folder(final.parent, ROOT_MARKER, MARKER_TEXT)
        owner_only_dir(staging_root)  # staging may hold plaintext PII: never readable by others
        clean_stale_staging(staging_root)
        staging = new_folder(staging_root, f"{slug}-{stamp()}-")
        _claim_staging(staging)
        try:
            previous, copied = _copy_report(final, staging)
        except BaseException:
            discard_staging(staging)
            raise
    try:
        _drop_rerun_files(staging, previous, steps, copied)
    except BaseException:
        discard_staging(staging)
        raise
    return staging, previous


def _copy_report(final: Path, staging: Path) -> tuple[dict[str, Any], bool]:
    """Copy the published report into ``staging``: its ``summary.json`` (empty without one) and
    whether there was a report to copy."""
    if not final.is_dir():
        return {}, False
    previous = _load_previous_summary(final)
    shutil.copytree(final, staging, dirs_exist_ok=True, symlinks=True)
    return previous, True


def _drop_rerun_files(staging: Path, previous: Mapping[str, Any], steps: Sequence[str], copied: bool) -> None:
    """Remove from a staging copy the files the rerun ``steps`` wrote last time (unless a step not
    rerun also wrote them), the index, ``summary.json`` and legacy plaintext files."""
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


def publish(staging: Path, final: Path, expected: Mapping[str, Any] | None = None) -> None:
    """Swap ``staging`` in for ``final`` (:func:`playbook.files.swap_folder`) under
    :func:`publish_lock`: old folder aside, staging in, old deleted; restored on error.

    The staging folder gets the report marker (:data:`playbook.paths.REPORT_MARKER`) first. With
    ``expected`` (the ``summary.json`` :func:`prepare_staging` returned), a report that changed
    meanwhile is never overwritten: :class:`~playbook.errors.RunError`, nothing published (runs
    hold :func:`run_lock`, so only a process that did not can cause this).

    When the staging folder has a private subfolder (:data:`PRIVATE_DIR`, written by this run),
    it is first moved out to ``<reports>/.private/`` (owner-only), so the published folder never
    holds it; once the report is in, it replaces ``<reports>/.private/<slug>`` the same way. If
    the report cannot be swapped in, the new private files are deleted (nothing of the run is
    published) and the previous ones stay. A run without a private subfolder (``--only`` of
    other steps) leaves the previous private files as they are.
    """
    with publish_lock(final.parent):
        if expected is not None and _load_previous_summary(final) != expected:
            raise RunError(f"{final} was published by another run while this one ran (a run that did not take "
                           "the run lock); nothing was published, so its update is kept. Rerun to build on it.")
        mark_folder(staging, REPORT_MARKER, MARKER_TEXT)
        held = _hold_private(staging, final)
        try:
            swap_folder(staging, final)
        except BaseException:
            if held is not None:
                shutil.rmtree(held, ignore_errors=True)
            raise
        release_staging(staging)
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
    steps: Sequence[str] = STEPS,
    list_not_run: bool = True,
) -> dict[str, dict[str, Any]]:
    """Per-step status for the index: this run's steps, earlier runs' ``ok`` ones for the others, and
    "not run yet" for the rest of ``steps`` (left out with ``list_not_run=False``: optional steps)."""
    out: dict[str, dict[str, Any]] = {}
    for step in steps:
        if step in results:
            r = results[step]
            out[step] = {"status": r.status, "message": r.message, "duration_s": r.duration_s,
                         "run_at": run_at, "files": files_by_step.get(step, [])}
        elif step in prev_steps and prev_steps[step].get("status") == OK:
            p = prev_steps[step]
            out[step] = {"status": OK, "message": "from an earlier run", "duration_s": p.get("duration_s"),
                         "run_at": p.get("run_at"), "files": p.get("files", [])}
        elif list_not_run:
            out[step] = {"status": NOT_RUN, "message": "not run yet", "files": []}
    return out


def add_to_summary(folder: Path, key: str, value: Any) -> None:
    """Set ``key`` of ``<folder>/summary.json`` to ``value`` (e.g. ``exports_rechecked``)."""
    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary[key] = value
    write_json(summary, path)


def rewrite_summary_steps(folder: Path, statuses: Mapping[str, Mapping[str, Any]]) -> None:
    """Add each step's run time and written files to ``summary.json`` (used by later --only runs)."""
    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    for ent in summary.get("steps", []):
        st = statuses.get(ent["step"], {})
        ent["files"] = list(st.get("files", []))
        ent["run_at"] = st.get("run_at")
    write_json(summary, path)
