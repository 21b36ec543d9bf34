"""The parameters a notebook declares, and the check that a run passes only those.

Papermill injects any name it is given, warning about unknown ones; a misspelt parameter then
silently does nothing. :func:`check_parameters` turns that into an error before any kernel starts;
:func:`check_run_parameters` does it for every step of a run, giving each step only the parameters
it may take (``as_of`` only to ``06_track``: :func:`playbook.run.graph.params_for`).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill

from playbook.errors import RunError
from playbook.run.execute import quiet_papermill
from playbook.run.graph import STEP_PARAMETERS, params_for


def _assigned_names(source: str) -> list[str]:
    """Names assigned at top level of a parameters cell (``x = 1``, ``x: int = 1``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return names


def notebook_parameters(notebook_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the parameters declared in the notebook's cell tagged ``parameters``.

    Papermill's inspection gives types, defaults and help; it skips lines it cannot parse
    (e.g. a trailing comment containing ``=``), so names assigned in the cell are added from
    Python's own parser, with ``None`` details.

    Raises
    ------
    RunError
        The notebook does not exist or cannot be read.
    """
    path = Path(notebook_path)
    if not path.is_file():
        raise RunError(f"Notebook {path} does not exist. Check --notebooks-dir or restore the file.")
    try:
        with quiet_papermill():
            declared: dict[str, Any] = dict(papermill.inspect_notebook(str(path)))
        nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    except Exception as exc:  # papermill/nbformat raise assorted exceptions on broken files
        raise RunError(f"Cannot read notebook {path}: {exc}. Open and re-save it in JupyterLab.") from exc
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for name in _assigned_names(cell.source):
                declared.setdefault(name, {"name": name, "inferred_type_name": None,
                                           "default": None, "help": None})
    return declared


def check_parameters(notebook_path: str | os.PathLike[str], params: Mapping[str, Any]) -> None:
    """Fail when ``params`` holds a name the notebook's ``parameters`` cell does not declare.

    Papermill itself only warns and injects the unknown name, which then silently does nothing.

    Raises
    ------
    RunError
        Naming the unknown parameter(s) and listing the notebook's parameters.
    """
    declared = notebook_parameters(notebook_path)
    name = Path(notebook_path).name
    if not declared:
        raise RunError(
            f"Notebook {name} has no cell tagged 'parameters'. Tag the cell holding config_path, "
            "data_source, output_dir and seed with 'parameters' (View > Cell toolbar > Tags)."
        )
    unknown = [p for p in params if p not in declared]
    if unknown:
        raise RunError(
            f"Unknown parameter(s) {unknown} for notebook {name}. Its parameters are "
            f"{sorted(declared)}. Fix the name or add it to the notebook's parameters cell."
        )


def check_run_parameters(nb_dir: str | os.PathLike[str], steps: Sequence[str], params: Mapping[str, Any]) -> None:
    """Check the parameters of a run: each step's notebook gets :func:`~playbook.run.graph.params_for`
    its step (:func:`check_parameters`), and a step-specific parameter needs its step in the run.

    Raises
    ------
    RunError
        A parameter such as ``as_of`` given without its step (``--as-of`` without ``--only track``),
        or a notebook that does not declare a parameter it is given.
    """
    for step, names in STEP_PARAMETERS.items():
        given = [n for n in names if n in params]
        if given and step not in steps:
            short = step.split("_", 1)[1]
            raise RunError(f"{', '.join(given)} is a parameter of the {step} step only, which this run does not "
                           f"include (steps: {', '.join(steps)}). Add --only {short} (e.g. --only {short} "
                           "--as-of 2025-12-05), or leave the parameter out.")
    for step in steps:
        check_parameters(Path(nb_dir) / f"{step}.ipynb", params_for(step, params))
