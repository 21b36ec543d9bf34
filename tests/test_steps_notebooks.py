"""The step notebooks 03-05 stay thin: their code imports only the step's own module and the step
context, defines nothing, and keeps the papermill ``parameters`` cell."""

from __future__ import annotations

import ast
import json

import pytest

from playbook.paths import resolve

#: Notebook -> the one step module its code may import (besides playbook.steps.context).
STEP_MODULES = {
    "01_plan": "playbook.steps.plan",
    "02_segment": "playbook.steps.segment",
    "03_personalize": "playbook.steps.personalize",
    "04_test": "playbook.steps.test",
    "05_retrospective": "playbook.steps.retrospective",
}
PARAMETERS = ["config_path", "data_source", "output_dir", "seed"]


def _code_cells(step: str) -> list[dict]:
    nb = json.loads(resolve(f"notebooks/{step}.ipynb").read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _imported(tree: ast.AST) -> list[str]:
    """Every module (or ``module.name``) imported anywhere in ``tree``."""
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out += [f"{'.' * node.level}{node.module or ''}.{a.name}" for a in node.names]
    return out


def _allowed(name: str, step_module: str) -> bool:
    return name == step_module or name.startswith("playbook.steps.context.")


@pytest.mark.parametrize("step", list(STEP_MODULES))
def test_notebook_imports_only_its_step_module_and_defines_nothing(step):
    imports, defined = [], []
    for cell in _code_cells(step):
        tree = ast.parse("".join(cell["source"]))
        imports += _imported(tree)
        defined += [type(n).__name__ for n in ast.walk(tree)
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)]
    assert imports, step
    assert [i for i in imports if not _allowed(i, STEP_MODULES[step])] == []
    assert STEP_MODULES[step] in imports
    assert defined == []


@pytest.mark.parametrize("step", list(STEP_MODULES))
def test_notebook_keeps_its_parameters_cell_and_hides_code(step):
    cells = _code_cells(step)
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and params[0] is cells[0]
    tree = ast.parse("".join(params[0]["source"]))
    assert [n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)] == PARAMETERS
    assert all("remove-input" in c["metadata"].get("tags", []) for c in cells[1:])
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells)  # committed without outputs


def test_rules_catch_a_fat_notebook():
    """The two checks above reject a cell with its own logic or a domain import."""
    fat = ast.parse("from playbook.value import clv\nimport pandas as pd\n"
                    "from playbook.steps.context import md\ndef f(x):\n    return x\n")
    assert [i for i in _imported(fat) if not _allowed(i, STEP_MODULES["03_personalize"])] == [
        "playbook.value.clv", "pandas"]
    assert any(isinstance(n, ast.FunctionDef) for n in ast.walk(fat))
