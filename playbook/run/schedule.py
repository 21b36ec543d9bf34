"""Running the steps of one campaign: each step in its own kernel, dependencies first.

:func:`schedule` walks the step graph (:mod:`playbook.run.graph`). With ``jobs=1`` one step
runs at a time, in :data:`~playbook.run.graph.STEPS` order; with ``jobs=N`` up to N ready steps
run at once, each in its own kernel process (a thread per step calls Papermill), all writing
into the same staging folder (distinct files per step; artifacts are written atomically by
:func:`playbook.artifacts.write_artifact`). When a step fails, the steps that depend on it
(transitively) are ``skipped``; independent steps still run, so one run reports every failure.
The outcome of every step is the same for any ``jobs``.

:func:`run_step` executes one step (:mod:`playbook.run.execute`), renders its page without code
(:func:`playbook.report.html.render_html`) and scans the files it wrote with the run's PII
guard (:mod:`playbook.run.guard`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playbook.report.html import render_html
from playbook.run.execute import classify, execute_notebook, failing_cell, failure_message
from playbook.run.graph import STEPS, critical_order
from playbook.run.guard import PiiGuard
from playbook.run.publish import attribute_files, snapshot
from playbook.run.results import FAILED, NOT_RUN, OK, SKIPPED, StepResult


@dataclass
class CampaignRun:
    """What the worker threads of one campaign run share (mutable parts guarded by ``lock``).

    ``guard`` is None only when the caller switched the PII guard off explicitly.
    ``windows`` records each finished step's kernel run as ``(start, end)`` in ns.
    """

    slug: str
    staging: Path
    nb_dir: Path
    params: dict[str, Any]
    kernel_name: str
    timeout: float
    say: Callable[[str], Any]
    guard: PiiGuard | None
    slots: threading.Semaphore | None = None
    cancel: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    windows: dict[str, tuple[int, int]] = field(default_factory=dict)


def locked_say(say: Callable[[str], Any]) -> Callable[[str], Any]:
    """A progress callback safe to call from several threads (one whole line at a time)."""
    lock = threading.Lock()

    def _say(msg: str) -> None:
        with lock:
            say(msg)

    return _say


def run_step(run: CampaignRun, step: str) -> StepResult:
    """Execute one step in its own kernel (called from a worker thread); never raises for a
    failing notebook: the result says what went wrong.

    A step is ``ok`` when its notebook ran, its page was rendered and none of the files it
    wrote shows known PII (else ``failed`` with the guard's masked message).
    """
    res = StepResult(step)
    nb_out = run.staging / f"{step}.ipynb"
    exc: BaseException | None = None
    with run.slots if run.slots is not None else contextlib.nullcontext():
        started_ns, t0 = time.time_ns(), time.monotonic()
        run.say(f"[{run.slug}] {step}: running")
        before = snapshot(run.staging)
        try:
            execute_notebook(run.nb_dir / f"{step}.ipynb", nb_out, run.params, run.kernel_name, run.timeout)
            render_html(nb_out, run.staging / f"{step}.html")
            res.status = OK
        except Exception as e:  # noqa: BLE001 - classified below; never lets a failed step publish
            exc = e
            res.status = classify(e)
        window = (started_ns, time.time_ns())
        res.duration_s = round(time.monotonic() - t0, 2)
    res.started, res.ended = window[0] / 1e9, window[1] / 1e9
    res.notebook = nb_out
    with run.lock:
        run.windows[step] = window
    if res.status == OK and run.guard is not None:
        leak = run.guard.check(run.staging, attribute_files(before, snapshot(run.staging), {step: window}, {})[step])
        if leak:
            res.status, res.message = FAILED, leak
    if res.status != OK and not res.message:
        res.cell_index, res.ename, res.evalue, count = failing_cell(nb_out)
        res.message = failure_message(step, res.status, res, exc, run.timeout, count)
    if res.status == OK:
        run.say(f"[{run.slug}] {step}: ok ({res.duration_s:.1f} s)")
    else:
        run.say(f"[{run.slug}] {step}: {res.status} ({res.duration_s:.1f} s): {res.message}")
    return res


def schedule(run: CampaignRun, graph: Mapping[str, Sequence[str]], n_jobs: int,
             results: dict[str, StepResult], on_done: Callable[[StepResult], Any]) -> None:
    """Run the steps of ``graph`` with up to ``n_jobs`` at once, dependencies first.

    With one job, steps run in :data:`STEPS` order; with more, ready steps start in
    :func:`~playbook.run.graph.critical_order` (longest chain of dependents first), so with
    ``--jobs 2`` the plan -> retrospective chain and the test step start before personalise,
    which nothing waits for. A step whose dependency failed or was skipped is
    marked ``skipped`` (naming the failed step) and never started. Once ``run.cancel`` is set,
    no further step starts (``skipped: run interrupted``). ``results`` is filled in place;
    ``on_done`` is called in this (the coordinating) thread as each step finishes.
    """
    pending = critical_order(graph) if n_jobs > 1 else [s for s in STEPS if s in graph]
    running: dict[Future[StepResult], str] = {}
    cause: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix=f"playbook-{run.slug}")
    try:
        while pending or running:
            if run.cancel is not None and run.cancel.is_set():  # interrupted: start nothing new
                for step in pending:
                    results[step].status, results[step].message = SKIPPED, "skipped: run interrupted"
                pending = []
            for step in list(pending):
                bad = [d for d in graph[step] if results[d].status not in (OK, NOT_RUN)]
                if bad:
                    pending.remove(step)
                    root = cause.get(bad[0], bad[0])
                    cause[step] = root
                    results[step].status = SKIPPED
                    results[step].message = f"skipped because {root} {results[root].status}"
                    run.say(f"[{run.slug}] {step}: {results[step].message}")
                elif len(running) < n_jobs and all(results[d].status == OK for d in graph[step]):
                    pending.remove(step)
                    running[pool.submit(run_step, run, step)] = step
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: STEPS.index(running[f])):
                step = running.pop(fut)
                results[step] = fut.result()
                on_done(results[step])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
