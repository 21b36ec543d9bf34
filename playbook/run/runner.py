"""Papermill orchestration: run a campaign's notebooks, publish its report atomically.

A run executes the requested steps into a *staging* folder ``reports/.staging/<slug>-<timestamp>/``
that starts as a copy of the last good report (so a single ``--only`` step still finds the
artifacts of earlier steps and the other steps' pages are kept). Each executed notebook is
rendered to code-free HTML and scanned for customer PII. Only when every requested step succeeded
is the index page built and the staging folder swapped in for ``reports/<slug>`` (old folder
renamed aside, staging renamed in, old deleted; restored on error). On any failure nothing is
published: the executed notebooks with their errors are kept in
``reports/_failed/<slug>-<timestamp>/`` and the last good report stays byte-identical.

Steps form a graph (:data:`DEPENDENCIES`). A step starts when every dependency *that is part of
this run* finished ``ok``; ready steps start in :data:`STEPS` order. With ``jobs=1`` (the
default) one step runs at a time, in :data:`STEPS` order; with ``jobs=N`` up to N ready steps run
at once, each in its own kernel process (a thread per step calls Papermill), all writing into the
same staging folder (distinct files per step; artifacts are written atomically by
:func:`playbook.report.write_artifact`). When a step fails, the steps that depend on it
(transitively) are ``skipped``; independent steps still run, so one run reports every failure,
and nothing is published. The outcome of every step is the same for any ``jobs``.

Failures are classified as ``failed`` (a cell raised; cell index, exception name and value are
reported), ``timeout`` (a cell ran past ``timeout`` seconds) or ``kernel died`` (e.g. out of
memory).

Batches (:func:`run_campaigns`) with ``jobs=N`` also run campaigns side by side: all campaigns
of the call share one pool of N kernel slots (so N bounds the kernels alive at any moment,
whatever the number of campaigns), each campaign has its own staging folder, and a failure in
one never affects another. Memory grows with the number of kernels: at 1M customers use
``jobs`` no larger than memory / (peak of the largest step).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from playbook.errors import PlaybookError, RunError
from playbook.paths import project_root, resolve

STEPS: tuple[str, ...] = ("01_plan", "02_segment", "03_personalize", "04_test", "05_retrospective")
"""The playbook's notebooks, in run order (``notebooks/<step>.ipynb``)."""

DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "01_plan": (),
    "02_segment": (),
    "03_personalize": ("02_segment",),
    "04_test": (),
    "05_retrospective": ("01_plan", "04_test"),
}
"""Which steps' artifacts a step reads when present. Soft: every notebook also runs alone
(it recomputes what is missing), so ``--only`` runs exactly the steps asked for. Within a run
a step waits for those of its dependencies that are part of the run (see :func:`run_graph`)."""

ALIASES: dict[str, str] = {
    **{s: s for s in STEPS},
    **{s.split("_", 1)[1]: s for s in STEPS},
    **{str(i): s for i, s in enumerate(STEPS, start=1)},
    **{f"{i:02d}": s for i, s in enumerate(STEPS, start=1)},
}
"""Accepted step names: ``01_plan``, ``plan``, ``1``, ``01`` ..."""

DEFAULT_KERNEL = "seasonal-playbook"
OK, FAILED, TIMEOUT, KERNEL_DIED, SKIPPED, NOT_RUN, ERROR = (
    "ok", "failed", "timeout", "kernel died", "skipped", "not run", "error",
)


class CampaignLike(Protocol):
    """What the runner needs from a campaign config (``playbook.config.campaign.CampaignConfig``)."""

    slug: str
    output_dir: Path


@dataclass
class StepResult:
    """Outcome of one step: status, duration in seconds, and for failures where and why.

    ``started``/``ended`` are the wall-clock times (Unix seconds) the step's kernel run began
    and ended (after waiting for a kernel slot); None when it did not run.
    """

    step: str
    status: str = NOT_RUN
    duration_s: float | None = None
    message: str = ""
    cell_index: int | None = None
    ename: str | None = None
    evalue: str | None = None
    notebook: Path | None = None
    started: float | None = None
    ended: float | None = None


@dataclass
class RunResult:
    """Outcome of one campaign run.

    ``status`` is ``ok``, or the status of the first failing step (``failed``, ``timeout``,
    ``kernel died``), or ``error`` when the run could not start (bad config, missing kernel...).
    ``report_dir`` is the published report (None when nothing was published); ``failed_dir``
    holds the failed executed notebook.
    """

    slug: str
    config_path: str
    status: str
    message: str = ""
    steps: dict[str, StepResult] = field(default_factory=dict)
    report_dir: Path | None = None
    failed_dir: Path | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every requested step succeeded and the report was published."""
        return self.status == OK


# --------------------------------------------------------------------------------------------
# Pre-flight checks
# --------------------------------------------------------------------------------------------


def resolve_steps(only: str | Iterable[str] | None = None) -> list[str]:
    """Turn ``--only`` names into canonical step names, in run order.

    Parameters
    ----------
    only : str or iterable of str, optional
        Step names (``plan``, ``02_segment``, ``3`` ...); a string may hold several separated
        by commas or spaces. None or empty: all steps.

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
            choices = [*STEPS, *(s.split("_", 1)[1] for s in STEPS), *map(str, range(1, 6))]
            raise RunError(f"Unknown step {name!r}. Choose from {choices}")
        chosen.add(ALIASES[key])
    return [s for s in STEPS if s in chosen]


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
    return {s: tuple(d for d in DEPENDENCIES.get(s, ()) if d in chosen) for s in steps}


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

    return sorted(graph, key=lambda s: (-chain(s), STEPS.index(s) if s in STEPS else len(STEPS)))


def check_kernel(name: str = DEFAULT_KERNEL) -> None:
    """Fail with the install command when the Jupyter kernel ``name`` is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name not in specs:
        raise RunError(
            f"Jupyter kernel {name!r} is not installed (installed: {sorted(specs) or 'none'}). "
            f"Install it with `python -m ipykernel install --user --name {name}` "
            "(or `make kernel`), then rerun."
        )


_QUIET_LOCK = threading.Lock()
_QUIET_STATE: dict[str, Any] = {"depth": 0, "levels": []}
_PAPERMILL_LOGGERS = ("papermill", "papermill.translators", "papermill.execute")


@contextlib.contextmanager
def _quiet_papermill() -> Any:
    """Silence papermill's warnings ("Unable to parse line", "Passed unknown parameter"):
    the runner checks parameters itself and reports real problems as errors.

    Reference counted, so overlapping uses from several threads restore the levels only when
    the last one exits.
    """
    loggers = [logging.getLogger(n) for n in _PAPERMILL_LOGGERS]
    with _QUIET_LOCK:
        if _QUIET_STATE["depth"] == 0:
            _QUIET_STATE["levels"] = [lg.level for lg in loggers]
            for lg in loggers:
                lg.setLevel(logging.ERROR)
        _QUIET_STATE["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET_STATE["depth"] -= 1
            if _QUIET_STATE["depth"] == 0:
                for lg, level in zip(loggers, _QUIET_STATE["levels"], strict=True):
                    lg.setLevel(level)


def _assigned_names(source: str) -> list[str]:
    """Names assigned at top level of a parameters cell (``x = 1``, ``x: int = 1``)."""
    import ast

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
    """
    import nbformat
    import papermill

    path = Path(notebook_path)
    if not path.is_file():
        raise RunError(f"Notebook {path} does not exist. Check --notebooks-dir or restore the file.")
    try:
        with _quiet_papermill():
            declared: dict[str, Any] = dict(papermill.inspect_notebook(str(path)))
        nb = nbformat.read(str(path), as_version=4)
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


# --------------------------------------------------------------------------------------------
# Running one campaign
# --------------------------------------------------------------------------------------------


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: setting it later from worker threads would race


def _umask() -> int:
    return _UMASK


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (mtime_ns, size) of every file under ``folder``."""
    out: dict[str, tuple[int, int]] = {}
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
        return json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _prepare_staging(final: Path, staging_root: Path, slug: str, steps: Sequence[str]) -> tuple[Path, dict]:
    """Create the staging folder as a copy of the last good report, minus the rerun steps' files.

    Returns the folder and the previous ``summary.json`` (empty when there was no report).
    """
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{slug}-{_stamp()}-", dir=staging_root))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the published folder follows the umask
    previous: dict[str, Any] = {}
    copied = False
    with _PUBLISH_LOCK:
        if final.is_dir():
            previous = _load_previous_summary(final)
            shutil.copytree(final, staging, dirs_exist_ok=True, symlinks=True)
            copied = True
    if copied:
        # Files a rerun step wrote last time are removed, unless a kept step also wrote them.
        kept_files: set[str] = set()
        rerun_files: set[str] = set()
        for ent in previous.get("steps", []):
            files = set(ent.get("files", []))
            (rerun_files if ent.get("step") in steps else kept_files).update(files)
        for step in steps:
            rerun_files.update({f"{step}.ipynb", f"{step}.html", f"artifacts/summary_{step}.json"})
        for rel in rerun_files - kept_files:
            (staging / rel).unlink(missing_ok=True)
        for rel in ("index.html", "summary.json"):
            (staging / rel).unlink(missing_ok=True)
    (staging / "artifacts").mkdir(exist_ok=True)
    return staging, previous


def _classify(exc: BaseException) -> str:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(exc, DeadKernelError):
        return KERNEL_DIED
    if isinstance(exc, CellTimeoutError | TimeoutError):
        return TIMEOUT
    return FAILED


def _failing_cell(nb_path: Path) -> tuple[int | None, str | None, str | None, int | None]:
    """Locate the failure in an executed notebook.

    Returns (cell index in the executed notebook, ename, evalue, execution count) of the first
    cell with an error output, else of the last cell that started (timeouts, dead kernels).
    """
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:
        return None, None, None, None
    last: tuple[int | None, int | None] = (None, None)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return i, out.get("ename"), out.get("evalue"), cell.get("execution_count")
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            last = (i, cell.get("execution_count"))
    return last[0], None, None, last[1]


def _failure_message(step: str, status: str, res: StepResult, exc: BaseException | None,
                     timeout: float, exec_count: int | None) -> str:
    if res.cell_index is None:
        where = "an unknown cell"
    else:
        where = f"cell {res.cell_index}" + (f" (In [{exec_count}])" if exec_count else "")
    if status == TIMEOUT:
        return f"{step}: timeout: {where} ran longer than {timeout:g} s (raise --timeout or make it faster)"
    if status == KERNEL_DIED:
        return (f"{step}: kernel died in {where} (often out of memory: use a smaller data sample "
                "or a machine with more memory)")
    if res.ename:
        return f"{step}: {where} raised {res.ename}: {res.evalue}"
    return f"{step}: {type(exc).__name__ if exc else 'error'}: {exc}"


def _pii_kinds(found: Sequence[str]) -> str:
    emails = sum("@" in v for v in found)
    phones = sum(sum(c.isdigit() for c in v) >= 7 and "@" not in v for v in found)
    names = len(found) - emails - phones
    parts = [f"{n} {k}" for n, k in ((emails, "email(s)"), (phones, "phone(s)"), (names, "name(s)")) if n]
    return ", ".join(parts)


def _scan_pii(scanner: Any, folder: Path, files: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Scan report-facing files (HTML, JSON, notebook outputs); return (file, values) hits."""
    hits = []
    for rel in files:
        p = folder / rel
        if p.suffix in {".html", ".htm", ".json", ".ipynb", ".md", ".txt"} and p.is_file():
            found = scanner.scan_file(p)
            if found:
                hits.append((rel, found))
    return hits


def _pii_message(hits: Sequence[tuple[str, list[str]]]) -> str:
    from playbook.report.privacy import mask_pii

    def hint(vals: list[str]) -> str:
        shown = ", ".join(mask_pii(v) for v in vals[:3]) + (", ..." if len(vals) > 3 else "")
        return f"{_pii_kinds(vals)}: {shown}"

    where = "; ".join(f"{rel} ({hint(vals)})" for rel, vals in hits)
    return (f"PII found in report: {where}. Show counts, aggregates or pseudonymize() ids "
            "instead of customer emails, phones or names; nothing was published.")


def _keep_failed(failed_root: Path, slug: str, staging: Path, step: str, dest: Path | None = None) -> Path:
    """Copy a failed step's executed notebook into ``_failed/<slug>-<stamp>/`` (created when
    ``dest`` is None; one folder per run holds every failed notebook of that run)."""
    if dest is None:
        failed_root.mkdir(parents=True, exist_ok=True)
        dest = Path(tempfile.mkdtemp(prefix=f"{slug}-{_stamp()}-", dir=failed_root))
    nb = staging / f"{step}.ipynb"
    if nb.is_file():
        shutil.copy2(nb, dest / nb.name)
    return dest


def _write_failure_json(dest: Path, failures: Sequence[Mapping[str, Any]]) -> None:
    """``failure.json``: the first failing step's fields (in step order) at top level, and
    every failure of the run under ``failures``."""
    from playbook.files import write_json

    write_json({**dict(failures[0]), "failures": [dict(f) for f in failures]}, dest / "failure.json")


_PUBLISH_LOCK = threading.Lock()
"""Held while a report folder is copied into staging or swapped in: two campaigns of one batch
with the same slug must not interleave."""


def _publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` in for ``final``: old aside, staging in, old deleted (restored on error)."""
    with _PUBLISH_LOCK:
        _swap(staging, final)


def _swap(staging: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    aside: Path | None = None
    if final.exists():
        aside = final.parent / f".{final.name}.old-{_stamp()}-{os.getpid()}"
        os.rename(final, aside)
    try:
        os.rename(staging, final)
    except BaseException:
        if aside is not None:
            os.rename(aside, final)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@functools.lru_cache(maxsize=1)
def encrypted_kernel_manager() -> type | None:
    """A kernel manager class that gives each kernel CurveZMQ keys, or ``None`` if unsupported.

    By default jupyter_client talks to a kernel over local TCP in plain text, and ipykernel
    prints "Kernel is running over TCP without encryption" for every step. With
    ``transport_encryption = "auto"`` (jupyter_client >= 8.10, pyzmq built with libsodium, a
    kernelspec declaring ``supported_encryption: curve``, as ipykernel's does) the manager
    provisions keys and the kernel encrypts its sockets. Older versions keep the default.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    if not zmq.has("curve") or "transport_encryption" not in AsyncKernelManager.class_trait_names():
        return None
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _transport_encryption_default(self) -> str:
            return "auto"

    return EncryptedKernelManager


def _execute(nb_in: Path, nb_out: Path, params: Mapping[str, Any], kernel_name: str, timeout: float) -> None:
    import papermill

    manager = encrypted_kernel_manager()
    extra = {"kernel_manager_class": manager} if manager is not None else {}
    with _quiet_papermill():
        papermill.execute_notebook(
            str(nb_in),
            str(nb_out),
            parameters=dict(params),
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            cwd=str(project_root()),
            execution_timeout=timeout,
            start_timeout=120,
            **extra,
        )


_MTIME_SLACK_NS = 50_000_000
"""File modification times come from the kernel's coarse clock, up to a few ms behind
``time.time_ns()``; a step's time window is widened by this much at its start (ns)."""


@dataclass
class _Run:
    """What the worker threads of one campaign run share (mutable parts guarded by ``lock``)."""

    slug: str
    staging: Path
    nb_dir: Path
    params: dict[str, Any]
    kernel_name: str
    timeout: float
    say: Callable[[str], Any]
    slots: threading.Semaphore | None = None
    pii_values: Callable[[], Iterable[str]] | None = None
    pii_guard: bool = True
    cancel: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    scanner: Any = None
    windows: dict[str, tuple[int, int]] = field(default_factory=dict)

    def pii_scanner(self) -> Any:
        """The PII scanner, built once (``pii_values`` is called once per run)."""
        with self.lock:
            if self.scanner is None:
                from playbook.report.privacy import PiiScanner

                self.scanner = PiiScanner(self.pii_values() if self.pii_values else [])
            return self.scanner


def _step_of_name(rel: str) -> str | None:
    """The step a report file belongs to by its name (``02_segment.html``,
    ``artifacts/summary_02_segment.json``), else None."""
    for step in STEPS:
        if rel in (f"{step}.ipynb", f"{step}.html", f"artifacts/summary_{step}.json"):
            return step
    return None


def _in_window(mtime_ns: int, window: tuple[int, int]) -> bool:
    return window[0] - _MTIME_SLACK_NS <= mtime_ns <= window[1]


def _own_files(step: str, before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]],
               window: tuple[int, int]) -> list[str]:
    """Files a step wrote: its named files, plus other files changed during its time window
    (with concurrent steps, files another step wrote meanwhile may be included)."""
    out = []
    for rel in _changed(before, after):
        owner = _step_of_name(rel)
        if owner == step or (owner is None and _in_window(after[rel][0], window)):
            out.append(rel)
    return out


def _attribute_files(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]],
                     windows: Mapping[str, tuple[int, int]],
                     prev_steps: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Which step wrote each file changed during the run.

    By name first (``<step>.ipynb``/``.html``/``summary_<step>.json``), then by the step whose
    time window holds the file's modification time. When windows of concurrent steps overlap,
    the step that wrote the file last time (previous ``summary.json``) wins; otherwise every
    candidate claims it (harmless: a file is only removed before a rerun when all its
    claimants rerun).
    """
    out: dict[str, list[str]] = {s: [] for s in windows}
    for rel in _changed(before, after):
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


def _run_step(run: _Run, step: str) -> StepResult:
    """Execute one step in its own kernel (called from a worker thread); never raises for a
    failing notebook: the result says what went wrong."""
    res = StepResult(step)
    nb_out = run.staging / f"{step}.ipynb"
    exc: BaseException | None = None
    with run.slots if run.slots is not None else contextlib.nullcontext():
        started_ns, t0 = time.time_ns(), time.monotonic()
        run.say(f"[{run.slug}] {step}: running")
        before = _snapshot(run.staging)
        try:
            _execute(run.nb_dir / f"{step}.ipynb", nb_out, run.params, run.kernel_name, run.timeout)
            from playbook.report.html import render_html

            render_html(nb_out, run.staging / f"{step}.html")
            res.status = OK
        except Exception as e:  # classified below; never lets a failed step publish
            exc = e
            res.status = _classify(e)
        window = (started_ns, time.time_ns())
        res.duration_s = round(time.monotonic() - t0, 2)
    res.started, res.ended = window[0] / 1e9, window[1] / 1e9
    res.notebook = nb_out
    with run.lock:
        run.windows[step] = window
    if res.status == OK and run.pii_guard and run.pii_values is not None:
        hits = _scan_pii(run.pii_scanner(), run.staging,
                         _own_files(step, before, _snapshot(run.staging), window))
        if hits:
            res.status, res.message = FAILED, _pii_message(hits)
    if res.status != OK and not res.message:
        res.cell_index, res.ename, res.evalue, count = _failing_cell(nb_out)
        res.message = _failure_message(step, res.status, res, exc, run.timeout, count)
    if res.status == OK:
        run.say(f"[{run.slug}] {step}: ok ({res.duration_s:.1f} s)")
    else:
        run.say(f"[{run.slug}] {step}: {res.status} ({res.duration_s:.1f} s): {res.message}")
    return res


def _schedule(run: _Run, graph: Mapping[str, Sequence[str]], n_jobs: int,
              results: dict[str, StepResult], on_done: Callable[[StepResult], Any]) -> None:
    """Run the steps of ``graph`` with up to ``n_jobs`` at once, dependencies first.

    With one job, steps run in :data:`STEPS` order; with more, ready steps start in
    :func:`critical_order` (longest chain of dependents first), so with
    ``--jobs 2`` the plan -> retrospective chain and the test step start before personalise,
    which nothing waits for. A step whose dependency failed or was skipped is
    marked ``skipped`` (naming the failed step) and never started. ``results`` is filled in
    place; ``on_done`` is called in this (the coordinating) thread as each step finishes.
    """
    pending = critical_order(graph) if n_jobs > 1 else [s for s in STEPS if s in graph]
    running: dict[Future[StepResult], str] = {}
    cause: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix=f"playbook-{run.slug}")
    try:
        while pending or running:
            cancel = getattr(run, "cancel", None)
            if cancel is not None and cancel.is_set():  # interrupted: start nothing new
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
                    running[pool.submit(_run_step, run, step)] = step
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: STEPS.index(running[f])):
                step = running.pop(fut)
                results[step] = fut.result()
                on_done(results[step])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _locked_say(say: Callable[[str], Any]) -> Callable[[str], Any]:
    """A progress callback safe to call from several threads (one whole line at a time)."""
    lock = threading.Lock()

    def _say(msg: str) -> None:
        with lock:
            say(msg)

    return _say


def run_campaign(
    cfg: CampaignLike,
    config_path: str | os.PathLike[str],
    *,
    only: str | Iterable[str] | None = None,
    notebooks_dir: str | os.PathLike[str] = "notebooks",
    kernel_name: str = DEFAULT_KERNEL,
    timeout: float = 1800,
    data_source: str | None = None,
    seed: int | None = None,
    progress: Callable[[str], Any] | None = None,
    reports_root: str | os.PathLike[str] | None = None,
    pii_values: Callable[[], Iterable[str]] | None = None,
    pii_guard: bool = True,
    jobs: int | str | None = 1,
    slots: threading.Semaphore | None = None,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Execute a campaign's notebooks with Papermill and publish its report atomically.

    Parameters
    ----------
    cfg : CampaignConfig-like
        Needs ``slug`` and ``output_dir`` (the published report folder ``reports/<slug>``).
    config_path : path
        The campaign YAML, passed to every notebook as ``config_path`` (made absolute).
    only : str or iterable of str, optional
        Steps to run (see :func:`resolve_steps`); default all five.
    notebooks_dir : path
        Folder holding ``01_plan.ipynb`` ...; relative to the project root.
    kernel_name : str
        Jupyter kernel to execute with (see :func:`check_kernel`).
    timeout : float
        Per-cell execution timeout in seconds.
    data_source, seed : optional
        Passed to the notebooks when given; else the notebooks' defaults apply.
    progress : callable, optional
        Called with one line of text (``[<slug>] <step>: ...``) when a step starts, finishes
        (with its duration) or is skipped; lines of concurrent steps never mix.
    reports_root : path, optional
        Publish to ``<reports_root>/<slug>`` instead of ``cfg.output_dir`` (tests).
    pii_values : callable, optional
        Returns the PII strings (emails, phones, names) to guard against; called once, only
        after the first step produced a page. Any hit fails the run ("PII found in report").
    pii_guard : bool
        Set False to skip the PII scan even when ``pii_values`` is given.
    jobs : int or str
        Steps run at once, each in its own kernel (see :func:`resolve_jobs`): 1 (default) one
        at a time in step order; 0 or ``"auto"`` one per CPU.
    slots : threading.Semaphore, optional
        Kernel slots shared with other campaigns of a batch (:func:`run_campaigns`): a step
        holds one while its kernel runs.
    cancel : threading.Event, optional
        Once set (Ctrl-C in a parallel batch), no further step starts; the run ends as
        ``error`` "interrupted" and publishes nothing.

    Returns
    -------
    RunResult
        ``status`` ``ok`` and ``report_dir`` on success; otherwise the status of the first
        failing step (in step order), a message naming step, cell and error, and
        ``failed_dir`` with the executed notebook(s) of the failed step(s).

    Raises
    ------
    RunError
        Before anything runs: unknown step, bad ``jobs``, kernel not installed, notebook
        missing, unknown parameter.
    """
    started = time.monotonic()
    say = _locked_say(progress or (lambda _msg: None))
    steps = resolve_steps(only)
    n_jobs = resolve_jobs(jobs)
    check_kernel(kernel_name)
    nb_dir = resolve(notebooks_dir)
    slug = str(cfg.slug)
    final = Path(reports_root) / slug if reports_root is not None else resolve(cfg.output_dir)
    root = final.parent
    cfg_abs = str(resolve(config_path))
    base_params: dict[str, Any] = {"config_path": cfg_abs, "output_dir": ""}
    if data_source is not None:
        base_params["data_source"] = str(data_source)
    if seed is not None:
        base_params["seed"] = int(seed)
    for step in steps:
        check_parameters(nb_dir / f"{step}.ipynb", base_params)

    staging, previous = _prepare_staging(final, root / ".staging", slug, steps)
    base_params["output_dir"] = str(staging)
    prev_steps = {e.get("step"): e for e in previous.get("steps", [])}
    results: dict[str, StepResult] = {s: StepResult(s) for s in steps}
    run = _Run(slug, staging, nb_dir, base_params, kernel_name, timeout, say, slots,
               pii_values, pii_guard, cancel)
    run_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    failures: list[StepResult] = []
    kept: dict[str, Path] = {}

    def on_done(res: StepResult) -> None:
        if res.status == OK:
            return
        failures.append(res)
        kept["dir"] = _keep_failed(root / "_failed", slug, staging, res.step, kept.get("dir"))
        res.notebook = kept["dir"] / f"{res.step}.ipynb"

    try:
        run_before = _snapshot(staging)
        _schedule(run, run_graph(steps), n_jobs, results, on_done)
        if cancel is not None and cancel.is_set():
            shutil.rmtree(staging, ignore_errors=True)
            return RunResult(slug, str(config_path), ERROR, "interrupted: nothing was published",
                             results, None, kept.get("dir"), round(time.monotonic() - started, 2))
        if failures:
            failures.sort(key=lambda r: STEPS.index(r.step))
            failed_dir = kept["dir"]
            _write_failure_json(failed_dir, [{
                "slug": slug, "step": r.step, "status": r.status, "message": r.message,
                "cell_index": r.cell_index, "ename": r.ename, "evalue": r.evalue,
                "config_path": cfg_abs, "run_at": run_at} for r in failures])
            shutil.rmtree(staging, ignore_errors=True)
            first = failures[0]
            message = first.message
            if len(failures) > 1:
                message += "; also " + "; ".join(r.message for r in failures[1:])
            return RunResult(slug, str(config_path), first.status, message, results,
                             None, failed_dir, round(time.monotonic() - started, 2))

        files_by_step = _attribute_files(run_before, _snapshot(staging), run.windows, prev_steps)
        statuses = _index_statuses(steps, results, prev_steps, files_by_step, run_at)
        run_seconds = round(time.monotonic() - started, 2)
        meta = {"campaign": slug, "config": str(config_path), "steps run": ", ".join(steps),
                "run_seconds": run_seconds, "kernel": kernel_name, "jobs": n_jobs}
        if data_source is not None:
            meta["data_source"] = _display_source(data_source)
        if seed is not None:
            meta["seed"] = seed
        from playbook.report.html import build_index

        build_index(staging, statuses, _title(cfg), meta)
        _rewrite_summary_steps(staging, statuses)
        if run.scanner is not None:
            hits = _scan_pii(run.scanner, staging, ["index.html", "summary.json"])
            if hits:
                msg = _pii_message(hits)
                shutil.rmtree(staging, ignore_errors=True)
                return RunResult(slug, str(config_path), FAILED, msg, results, None, None, run_seconds)
        _publish(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for r in results.values():
        if r.notebook is not None:
            r.notebook = final / r.notebook.name
    say(f"[{slug}] published {final}")
    return RunResult(slug, str(config_path), OK, f"published {final}", results, final, None,
                     round(time.monotonic() - started, 2))


def _display_source(source: str) -> str:
    """Hide credentials in connection URLs (``postgres://user:pw@host`` -> ``postgres://***@host``)."""
    if "://" in source and "@" in source:
        scheme, rest = source.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return source


def _title(cfg: Any) -> str:
    name = getattr(cfg, "name", None) or str(cfg.slug)
    return f"{name} — campaign playbook"


def _index_statuses(
    steps: Sequence[str],
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


def _rewrite_summary_steps(folder: Path, statuses: Mapping[str, Mapping[str, Any]]) -> None:
    """Add each step's run time and written files to ``summary.json`` (used by later --only runs)."""
    from playbook.files import write_json

    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    for ent in summary.get("steps", []):
        st = statuses.get(ent["step"], {})
        ent["files"] = list(st.get("files", []))
        ent["run_at"] = st.get("run_at")
    write_json(summary, path)


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------


def _cfg_source(cfg: Any) -> str | None:
    src = getattr(cfg, "data_source_resolved", None)
    if src is None:
        src = getattr(getattr(cfg, "data", None), "source", None)
    return None if src is None else str(src)


THREAD_VARS: tuple[str, ...] = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that size the BLAS/OpenMP thread pools of a kernel's numpy, scipy,
statsmodels and scikit-learn."""


@contextlib.contextmanager
def kernel_threads(n_jobs: int) -> Any:
    """Give each of ``n_jobs`` concurrent kernels ``CPUs // n_jobs`` BLAS/OpenMP threads.

    Kernels inherit the runner's environment when they start. Without a limit every kernel's
    OpenBLAS starts one thread per CPU, so two kernels on two cores oversubscribe them: measured
    on the sample with ``--jobs 2``, 01_plan's kernel CPU fell from 26.4 s to 13.5 s and the run
    from 45.6 s to 42.3 s with one thread each. Variables the user has set are left alone, and
    with one job nothing is changed. Restores the environment on exit.
    """
    if n_jobs <= 1:
        yield
        return
    per_kernel = str(max(1, resolve_jobs(0) // n_jobs))
    added = [v for v in THREAD_VARS if v not in os.environ]
    for v in added:
        os.environ[v] = per_kernel
    try:
        yield
    finally:
        for v in added:
            os.environ.pop(v, None)


def run_campaigns(
    config_paths: Iterable[str | os.PathLike[str]],
    *,
    only: str | Iterable[str] | None = None,
    loader: Callable[[Any], Any] | None = None,
    pii_values_factory: Callable[[str | None], Callable[[], Iterable[str]]] | None = None,
    jobs: int | str | None = 1,
    **kw: Any,
) -> list[RunResult]:
    """Run several campaigns (one season's batch); a failing one never stops the others.

    Parameters
    ----------
    config_paths : iterable of path
        Campaign YAML files; results come back in this order.
    only : optional
        Steps to run for every campaign (validated once, up front).
    loader : callable, optional
        ``path -> config``; default ``playbook.config.campaign.load_config``. A ``PlaybookError``
        (e.g. ``ConfigError``) is recorded as that campaign's ``error`` result.
    pii_values_factory : callable, optional
        ``config data source -> pii_values callable`` for :func:`run_campaign`'s PII guard.
    jobs : int or str
        Kernels alive at once for the whole batch (see :func:`resolve_jobs`). With more than
        one, up to ``jobs`` campaigns run side by side and their steps share ``jobs`` kernel
        slots; each campaign keeps its own staging folder and outcome. 1 (default): campaigns
        one after another, steps one at a time.
    **kw
        Passed to :func:`run_campaign` (``timeout``, ``kernel_name``, ``progress`` ...).
    """
    resolve_steps(only)
    n_jobs = resolve_jobs(jobs)
    if loader is None:
        from playbook.config.campaign import load_config

        loader = load_config
    paths = list(config_paths)
    progress = kw.get("progress")
    if progress is not None:
        kw["progress"] = _locked_say(progress)  # one lock for all campaigns' lines
    parallel = n_jobs > 1 and len(paths) > 1
    if parallel:
        kw["slots"] = threading.BoundedSemaphore(n_jobs)

    def one(path: str | os.PathLike[str]) -> RunResult:
        t0 = time.monotonic()
        slug = Path(path).stem
        try:
            cfg = loader(path)
            slug = str(cfg.slug)
            extra = dict(kw)
            if pii_values_factory is not None and "pii_values" not in extra:
                extra["pii_values"] = pii_values_factory(_cfg_source(cfg))
            result = run_campaign(cfg, path, only=only, jobs=n_jobs, **extra)
        except PlaybookError as exc:
            result = RunResult(slug, str(path), ERROR, str(exc),
                               duration_s=round(time.monotonic() - t0, 2))
        except Exception as exc:  # a bug in one campaign must not stop the batch
            result = RunResult(slug, str(path), ERROR, f"{type(exc).__name__}: {exc}",
                               duration_s=round(time.monotonic() - t0, 2))
        if kw.get("progress") is not None and result.status == ERROR:
            kw["progress"](f"[{slug}] error: {result.message}")
        return result

    with kernel_threads(n_jobs):
        if not parallel:
            return [one(p) for p in paths]
        kw["cancel"] = cancel = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(n_jobs, len(paths)), thread_name_prefix="playbook-batch")
        try:
            return list(pool.map(one, paths))
        except BaseException:  # Ctrl-C: start no new step or campaign, let running kernels end
            cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def summary_table(results: Sequence[RunResult]) -> str:
    """Plain-text table of a batch's outcomes: campaign, status, steps, time, report or reason."""
    header = ("campaign", "status", "steps", "time", "report / reason")
    rows = []
    for r in results:
        done = sum(s.status == OK for s in r.steps.values())
        steps = f"{done}/{len(r.steps)} ok" if r.steps else "-"
        detail = str(r.report_dir) if r.ok and r.report_dir else r.message
        if r.failed_dir is not None:
            detail += f" (notebook kept in {r.failed_dir})"
        rows.append((r.slug, r.status, steps, f"{r.duration_s:.0f} s", detail.replace("\n", " ")))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    widths[-1] = 0
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]
    n_ok = sum(r.ok for r in results)
    lines.append(f"{n_ok} of {len(results)} campaign(s) ok")
    return "\n".join(lines)


def exit_code(results: Sequence[RunResult]) -> int:
    """0 when every campaign succeeded, else 1."""
    return 0 if all(r.ok for r in results) else 1
