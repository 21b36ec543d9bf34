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
