"""The steps as a graph: names, dependencies, ``--only`` and ``--jobs`` parsing, start order.

A run without ``--only`` runs the five steps of :data:`STEPS`; the optional steps of
:data:`OPTIONAL_STEPS` (in-season tracking) run only when named, with their own parameters
(:data:`STEP_PARAMETERS`, :func:`params_for`). Steps form a graph (:data:`DEPENDENCIES`,
:data:`OPTIONAL_DEPENDENCIES`). A step starts when every dependency *that is part of this run* finished ``ok`` (:func:`run_graph`); with several kernels, ready steps start in
:func:`critical_order`. The scheduler itself is :mod:`playbook.run.schedule`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from playbook.errors import RunError

STEPS: tuple[str, ...] = ("01_plan", "02_segment", "03_personalize", "04_test", "05_retrospective")
"""The playbook's default notebooks, in run order (``notebooks/<step>.ipynb``): a run without ``--only``."""

OPTIONAL_STEPS: tuple[str, ...] = ("06_track",)
"""Steps run only when ``--only`` names them (``06_track``: in-season tracking, ``--as-of``)."""

ALL_STEPS: tuple[str, ...] = STEPS + OPTIONAL_STEPS
"""Every step ``--only`` accepts, in run order."""

DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "01_plan": (),
    "02_segment": (),
    "03_personalize": ("02_segment",),
    "04_test": (),
    "05_retrospective": ("01_plan", "04_test"),
}
"""Which steps' artifacts a default step reads when present. Soft: every notebook also runs alone
(it recomputes what is missing), so ``--only`` runs exactly the steps asked for. Within a run
a step waits for those of its dependencies that are part of the run (see :func:`run_graph`)."""

OPTIONAL_DEPENDENCIES: dict[str, tuple[str, ...]] = {"06_track": ("01_plan",)}
"""The same for the optional steps: tracking reads the plan's forecast, targets and pacing."""

ALIASES: dict[str, str] = {
    **{s: s for s in ALL_STEPS},
    **{s.split("_", 1)[1]: s for s in ALL_STEPS},
    **{str(i): s for i, s in enumerate(ALL_STEPS, start=1)},
    **{f"{i:02d}": s for i, s in enumerate(ALL_STEPS, start=1)},
}
"""Accepted step names: ``01_plan``, ``plan``, ``1``, ``01`` ... ``06_track``, ``track``, ``6``."""

STEP_PARAMETERS: dict[str, tuple[str, ...]] = {"06_track": ("as_of",)}
"""Notebook parameters only some steps declare (the others are given to every step): step -> names."""


def params_for(step: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the step-specific parameters (:data:`STEP_PARAMETERS`) of other steps.

    A run passes one set of parameters; ``as_of`` reaches only ``06_track``, whose notebook
    declares it, so the other notebooks' parameter checks keep refusing unknown names.
    """
    foreign = {n for s, names in STEP_PARAMETERS.items() if s != step for n in names} - set(
        STEP_PARAMETERS.get(step, ()))
    return {k: v for k, v in params.items() if k not in foreign}


def resolve_steps(only: str | Iterable[str] | None = None) -> list[str]:
    """Turn ``--only`` names into canonical step names, in run order.

    Parameters
    ----------
    only : str or iterable of str, optional
        Step names (``plan``, ``02_segment``, ``3``, ``track`` ...); a string may hold several
        separated by commas or spaces. None or empty: the five default steps (:data:`STEPS`,
        never the optional ones).

    Raises
    ------
    RunError
        ``Unknown step 'x'. Choose from [...]``.
    """
    if only is None:
        return list(STEPS)
    items = [only] if isinstance(only, str) else list(only)
    names = [n for item in items for n in str(item).replace(",", " ").split()]
    if not names:
        return list(STEPS)
    chosen: set[str] = set()
    for name in names:
        key = name.strip().lower().removesuffix(".ipynb")
        if key not in ALIASES:
            choices = [*ALL_STEPS, *(s.split("_", 1)[1] for s in ALL_STEPS), *map(str, range(1, len(ALL_STEPS) + 1))]
            raise RunError(f"Unknown step {name!r}. Choose from {choices}")
        chosen.add(ALIASES[key])
    return [s for s in ALL_STEPS if s in chosen]


def resolve_jobs(jobs: int | str | None = 1) -> int:
    """Turn ``--jobs`` into a number of parallel kernels.

    Parameters
    ----------
    jobs : int, str or None
        A positive number of kernels; ``0`` or ``"auto"``: one per CPU available to this
        process; None: 1 (one step at a time).

    Raises
    ------
    RunError
        Negative or not a number: ``--jobs must be ...``.
    """
    if jobs is None:
        return 1
    text = str(jobs).strip().lower()
    if text == "auto":
        n = 0
    else:
        try:
            n = int(text)
        except ValueError:
            n = -1
    if n < 0:
        raise RunError(
            f"--jobs must be a whole number of parallel kernels >= 1, or 0 / 'auto' for one per "
            f"CPU (got {jobs!r}). Use --jobs 1 to run one step at a time."
        )
    if n == 0:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            n = os.cpu_count() or 1
    return max(1, n)


def run_graph(steps: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Dependencies of each step restricted to the steps of this run (``--only``).

    A dependency outside the run is not waited for: its artifacts come from the last good
    report, or the notebook recomputes what it needs.
    """
    chosen = set(steps)
    deps = {**DEPENDENCIES, **OPTIONAL_DEPENDENCIES}
    return {s: tuple(d for d in deps.get(s, ()) if d in chosen) for s in steps}


def critical_order(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Steps of ``graph`` by the length of their longest chain of dependents, longest first.

    Critical-path list scheduling: a step that others wait for starts first; ties keep
    :data:`STEPS` order. With the default graph: 01_plan, 02_segment, 04_test (each heads a
    two-step chain), then 03_personalize and 05_retrospective. With one job this is still a
    valid order (every dependency comes before its dependents).
    """
    dependents: dict[str, list[str]] = {s: [] for s in graph}
    for step, deps in graph.items():
        for d in deps:
            dependents.setdefault(d, []).append(step)
    depth: dict[str, int] = {}

    def chain(step: str) -> int:
        if step not in depth:
            depth[step] = 1 + max((chain(x) for x in dependents.get(step, [])), default=0)
        return depth[step]

    order = [*STEPS, *OPTIONAL_STEPS]  # read at call time: the optional steps after the default ones
    return sorted(graph, key=lambda s: (-chain(s), order.index(s) if s in order else len(order)))
