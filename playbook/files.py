"""File-writing helpers used everywhere something is published: atomic writes, JSON, folder swaps.

Every file the playbook publishes is written to a temporary name beside its destination and
renamed into place (:func:`atomic_write`), so a reader never sees half a file and a failure
never leaves a truncated one. A whole report folder is replaced the same way
(:func:`swap_folder`). New files and folders get the mode the process umask gives (``0644`` /
``0755`` with the usual ``022``), like any file the user creates; the umask is never read or
changed, so concurrent writers in several threads cannot race on it. Files written into a
folder for plaintext PII (:func:`in_private_folder`) are created owner-only (``0600``) whoever
writes them. Folders the playbook may replace whole carry a marker file (:func:`mark_folder`,
see :func:`playbook.paths.check_output_dir`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, dt.datetime | dt.date | pd.Timestamp):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, set | frozenset | tuple):
        return sorted(o) if isinstance(o, set | frozenset) else list(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _unique_name(folder: Path, prefix: str, suffix: str = "") -> Path:
    """A path in ``folder`` that does not exist yet: ``<prefix><12 random hex><suffix>``."""
    return folder / f"{prefix}{secrets.token_hex(6)}{suffix}"


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Write a file through ``write(tmp_path)`` to a temporary name beside ``path``, then rename.

    The temporary file ``.<name>.<random>.tmp`` is created empty (mode ``0666`` less the umask;
    ``0600`` in a private folder, :func:`in_private_folder`) in ``path``'s folder, so the final
    rename is atomic (same file system). On any error the temporary file is removed and ``path``
    keeps its previous content.

    Parameters
    ----------
    path : Path
        Destination; its folder is created when missing.
    write : callable
        Writes the content to the path it is given (e.g. ``lambda t: df.to_parquet(t)``).

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _unique_name(path.parent, f".{path.name}.", ".tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600 if in_private_folder(path) else 0o666))
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        break
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as UTF-8 JSON (numpy/pandas scalars and dates converted), atomically."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default, allow_nan=False)
    return atomic_write(Path(path), lambda t: t.write_text(text + "\n", encoding="utf-8"))


def new_folder(parent: Path, prefix: str) -> Path:
    """Create a new, uniquely named folder ``<parent>/<prefix><random>`` and return it.

    Unlike :func:`tempfile.mkdtemp` (mode ``0700``) its mode follows the umask, so a folder
    that is later published (:func:`swap_folder`) reads like any other folder of the user.
    ``parent`` is created when missing.
    """
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        folder = _unique_name(parent, prefix)
        try:
            folder.mkdir(0o777)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return folder


def swap_folder(staged: Path, final: Path) -> None:
    """Replace the folder ``final`` by ``staged`` with two renames; delete the old one last.

    ``final`` (when it exists) is renamed aside to ``.<name>.old-<pid>-<random>`` beside it,
    ``staged`` is renamed to ``final``, then the old folder is deleted. A reader sees the old
    folder or the new one, never a mix, and at no moment is ``final`` missing for longer than
    between the two renames. If renaming ``staged`` in fails, the old folder is renamed back
    and the error re-raised (``staged`` is left for the caller to clean up).

    Both folders must be on one file system (keep ``staged`` under ``final``'s parent). Two
    swaps of the same ``final`` at once must be serialised by the caller (a lock).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    aside: Path | None = None
    if final.exists():
        aside = _unique_name(final.parent, f".{final.name}.old-{os.getpid()}-")
        os.rename(final, aside)
    try:
        os.rename(staged, final)
    except BaseException:
        if aside is not None:
            os.rename(aside, final)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# private files (plaintext PII) beside a report: see playbook.run.publish

STAGING_DIR = ".staging"
"""Where staging folders live, in the reports folder (``reports/.staging``)."""

PRIVATE_DIR = "private"
"""The private subfolder of a staging folder (moved out by :func:`publish`)."""

PRIVATE_ROOT = ".private"
"""The owner-only folder beside published reports holding their private files (``reports/.private``)."""


def private_dir(output_dir: str | os.PathLike[str]) -> Path:
    """The private folder of a step's output folder: where files with plaintext PII go.

    ``<output_dir>/private`` when ``output_dir`` is a staging folder (``.../.staging/<name>``;
    :func:`playbook.run.publish.publish` moves it to ``<reports>/.private/<slug>``), else ``<parent>/.private/<name>``
    beside the output folder (``reports/_interactive/.private/<slug>`` for an interactive run,
    ``reports/.private/<slug>`` for a published report). The folder is not created here (see
    :func:`make_private_dir`).
    """
    out = Path(output_dir)
    if out.parent.name == STAGING_DIR:
        return out / PRIVATE_DIR
    return out.parent / PRIVATE_ROOT / out.name


def make_private_dir(output_dir: str | os.PathLike[str]) -> Path:
    """Create :func:`private_dir` of ``output_dir`` owner-only (``0700``, also the ``.private``
    folder above it) and return it. Existing folders are set to ``0700`` too."""
    folder = private_dir(output_dir)
    if folder.parent.name == PRIVATE_ROOT:
        owner_only_dir(folder.parent)
    owner_only_dir(folder)
    return folder


def owner_only_dir(folder: Path) -> None:
    """Create ``folder`` (and missing parents) and make it owner-only (``0700``), also when it exists."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)


def in_private_folder(path: Path) -> bool:
    """Whether ``path`` lies in a folder for plaintext PII: under a ``.private`` folder, or in the
    ``private`` subfolder of a staging folder (``.staging/<name>/private/...``)."""
    parts = path.parts
    if PRIVATE_ROOT in parts:
        return True
    return any(parts[i] == STAGING_DIR and parts[i + 2] == PRIVATE_DIR for i in range(len(parts) - 2))


def is_private(rel: str) -> bool:
    """Whether a path relative to a staging folder lies in its private subfolder."""
    return rel == PRIVATE_DIR or rel.startswith(PRIVATE_DIR + "/")


def mark_folder(folder: Path, marker: str, text: str) -> None:
    """Write the marker file ``<folder>/<marker>`` (atomically, fixed ``text``) unless it is there.

    The content never changes between runs, so reruns stay byte-identical.
    """
    path = folder / marker
    if not path.is_file():
        atomic_write(path, lambda t: t.write_text(text, encoding="utf-8"))
