"""Project paths: resolve relative paths against the project root, wherever the caller runs.

Notebooks run with their own folder as working directory (JupyterLab, Papermill), the CLI runs
from wherever the user is. Relative paths in configs and parameters are therefore resolved
against the project root: the ``PLAYBOOK_ROOT`` environment variable when set, else the nearest
parent of the current directory holding ``pyproject.toml`` and a ``playbook/`` folder, else the
folder this package was installed from (editable installs), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from playbook.errors import ConfigError


def _is_root(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "playbook").is_dir()


def project_root() -> Path:
    """Return the project root folder (see module docstring for the search order)."""
    env = os.environ.get("PLAYBOOK_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if _is_root(candidate):
            return candidate
    pkg_parent = Path(__file__).resolve().parent.parent
    if _is_root(pkg_parent):
        return pkg_parent
    return cwd


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve ``path``: absolute paths unchanged, relative ones against :func:`project_root`.

    Connection URLs (``duckdb://...``, ``postgres://...``) must not be passed here.
    """
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def resolve_arg(path: str | os.PathLike[str], existing: bool = False) -> Path:
    """Resolve a path typed on the command line: relative to the current directory, as every
    command-line tool does (``playbook import ... --out shop`` from ``~/exports`` writes
    ``~/exports/shop``). With ``existing``, a path that is not there but exists under the project
    root is taken from there (``playbook validate-data data/sample`` from another folder), as
    campaign files are found. Paths inside campaign files and notebook parameters keep
    :func:`resolve` (relative to the project root)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    here = Path.cwd() / p
    if existing and not here.exists() and resolve(p).exists():
        return resolve(p)
    return here


# --------------------------------------------------------------------------------------------
# output folders the playbook may write into (issue 19, item 2)

REPORT_MARKER = ".playbook-report"
"""Marker file in every report folder the playbook published (``reports/<slug>/.playbook-report``)."""

ROOT_MARKER = ".playbook-reports"
"""Marker file in every folder the playbook keeps reports, staging and locks in (``reports/``)."""

ROOT_ENTRIES = frozenset({".staging", ".private", ".cache", "_failed", "_interactive", ".publish.lock",
                          ROOT_MARKER})
"""Names the playbook itself creates in a reports folder: a folder holding only these is its own."""

RUN_LOCK_PREFIX = ".run-"
"""Run locks in a reports folder: ``.run-<slug>.lock`` (:func:`playbook.run.publish.run_lock`)."""


def is_report_folder(folder: Path) -> bool:
    """Whether ``folder`` is a report the playbook published: it holds :data:`REPORT_MARKER`, or
    (reports of versions before the marker) both ``summary.json`` and ``index.html``."""
    if (folder / REPORT_MARKER).is_file():
        return True
    return (folder / "summary.json").is_file() and (folder / "index.html").is_file()


def _root_entry_is_own(entry: Path) -> bool:
    """An entry of a reports folder the playbook made: its own folders and files, run locks,
    report folders, and the report folders' hidden leftovers (``.<slug>.old-...``)."""
    name = entry.name
    if name in ROOT_ENTRIES or (name.startswith(RUN_LOCK_PREFIX) and name.endswith(".lock")):
        return True
    if name.startswith(".") and ".old-" in name:  # a report set aside by a swap (playbook.files.swap_folder)
        return True
    return entry.is_dir() and not entry.is_symlink() and is_report_folder(entry)


def _is_empty_dir(folder: Path) -> bool:
    return folder.is_dir() and not any(folder.iterdir())


def _refuse(final: Path, what: str) -> ConfigError:
    return ConfigError(
        f"output.dir {final} {what}. The playbook replaces its report folder whole and keeps staging, "
        "locks and private files beside it, so it only writes into a report folder that is absent, empty "
        f"or its own (with a {REPORT_MARKER} file), inside a folder that is absent, empty, the project's "
        f"reports/ or its own (with a {ROOT_MARKER} file). Fix: set output.dir to a new folder such as "
        "reports/<slug> (or remove output.dir), or inside a new, empty folder of your own.")


def check_output_dir(final: str | os.PathLike[str]) -> Path:
    """Check that the playbook may publish a report to ``final``; return it (absolute, ``..`` removed).

    Parameters
    ----------
    final : path
        The report folder (``output.dir`` resolved, or ``<reports_root>/<slug>``).

    Returns
    -------
    Path
        ``final`` made absolute with ``..`` and ``.`` removed (symbolic links are kept).

    Raises
    ------
    ConfigError
        ``final`` is a file, the project or one of its parents, a folder holding files the
        playbook did not write (``.``, ``data/small``), or has a name the playbook uses for its own
        folders; or its parent folder (where staging and locks go) holds other files than the
        playbook's (``../../x`` outside the project). Nothing has been written.
    """
    out = Path(os.path.abspath(Path(final).expanduser()))
    real, project = out.resolve(), project_root()
    if real == project or real in project.parents:
        raise _refuse(out, "is the project folder or one of its parents")
    if out.name in ROOT_ENTRIES or out.name.startswith("."):
        raise _refuse(out, f"is named {out.name!r}, a name the playbook uses for its own folders")
    if out.exists() and not out.is_dir():
        raise _refuse(out, "is a file")
    if out.is_dir() and not _is_empty_dir(out) and not is_report_folder(out):
        raise _refuse(out, "already holds files the playbook did not write (it would replace them all)")
    root = out.parent
    if root.exists() and not _is_own_root(root, project):
        raise _refuse(out, f"lies in {root}, which holds files the playbook did not write")
    return out


def _is_own_root(root: Path, project: Path) -> bool:
    """Whether the playbook may keep staging and locks in ``root`` (see :func:`check_output_dir`)."""
    if not root.is_dir():
        return False
    if (root / ROOT_MARKER).is_file() or root.resolve() == project / "reports":
        return True
    return all(_root_entry_is_own(e) for e in root.iterdir())
