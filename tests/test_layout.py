"""The package layout holds (docs/architecture.md, "Layers"): imports go downward, modules stay
small, and imports sit at module top.

These tests read the source (``ast``), so a move that breaks a rule fails here with the module
and the import named, before anyone notices a cycle or a 1,000-line module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "playbook"

#: Layer of each top-level part of the package: a module may import only its own layer or lower.
LAYERS: dict[str, int] = {
    "errors": 0, "paths": 0, "files": 0, "artifacts": 0, "config": 0, "data": 0, "report": 0,
    "forecasting": 1, "planning": 1, "customers": 1, "value": 1, "experiments": 1, "media": 1,
    "steps": 2, "run": 2,
    "cli": 3,
}

#: Upward imports that are deliberate, with the reason.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("data.synth", "forecasting"): "the generator plants event effects on the retail calendar's "
                                   "event dates (forecasting.calendar.event_date), the same dates "
                                   "the forecaster reads",
}

#: Modules allowed past MAX_LINES; each states why in its docstring.
MAX_LINES = 600
LONG_MODULES: frozenset[str] = frozenset({"steps/plan.py", "steps/retrospective.py"})

#: Imports allowed inside functions: optional heavy engines only.
LAZY_IMPORTS: frozenset[str] = frozenset({"pyspark"})


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _part(dotted: str) -> str:
    """``playbook.data.warehouse`` -> ``data``; ``playbook.cli`` -> ``cli``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _dotted(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


def _playbook_imports(tree: ast.AST) -> list[str]:
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "playbook":
            out += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "playbook"]
    return out


def upward_imports() -> list[str]:
    """Every import that goes to a higher layer, or between step modules, or from run/ to steps."""
    bad = []
    for path in _modules():
        me = _dotted(path)
        mine = _part(me)
        if mine not in LAYERS:
            continue
        for target in _playbook_imports(ast.parse(path.read_text(encoding="utf-8"))):
            other = _part(target)
            if other not in LAYERS:
                continue
            sub = ".".join(me.split(".")[1:3])
            if (sub, other) in ALLOWED_UPWARD:
                continue
            upward = LAYERS[other] > LAYERS[mine]
            across_steps = (mine == other == "steps" and me != target.rsplit(".", 1)[0]
                            and me != "playbook.steps.context"
                            and not target.startswith("playbook.steps.context"))
            run_steps = {mine, other} == {"run", "steps"}
            if upward or across_steps or run_steps:
                bad.append(f"{me} imports {target}")
    return bad


def test_imports_go_downward():
    assert upward_imports() == []


def test_the_layer_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a foundation module importing a step is reported."""
    fake = tmp_path / "playbook"
    (fake / "report").mkdir(parents=True)
    (fake / "report" / "bad.py").write_text("from playbook.steps import plan\n")
    (fake / "steps").mkdir()
    (fake / "steps" / "a.py").write_text("from playbook.steps import b\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert upward_imports() == ["playbook.report.bad imports playbook.steps.plan",
                                "playbook.steps.a imports playbook.steps.b"]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_size(path):
    rel = str(path.relative_to(PACKAGE))
    n = len(path.read_text(encoding="utf-8").splitlines())
    if rel in LONG_MODULES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert "lines" in doc, f"{rel} is {n} lines: its docstring must say why it is longer than {MAX_LINES}"
    else:
        assert n <= MAX_LINES, f"{rel} has {n} lines (> {MAX_LINES}): split it or state why"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_at_module_top(path):
    """No imports inside functions (they hide cycles and import cost), optional engines excepted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            if not roots <= LAZY_IMPORTS:
                inner.append(f"line {node.lineno} in {fn.name}: {', '.join(sorted(roots))}")
    assert inner == []


def test_step_modules_mirror_the_notebooks():
    """One step module per notebook, same stem (01_plan.ipynb -> steps/plan.py)."""
    notebooks = sorted((PACKAGE.parent / "notebooks").glob("0*_*.ipynb"))
    stems = [p.stem.split("_", 1)[1] for p in notebooks]
    assert stems == ["plan", "segment", "personalize", "test", "retrospective", "track"]
    for stem in stems:
        assert (PACKAGE / "steps" / f"{stem}.py").is_file(), stem
