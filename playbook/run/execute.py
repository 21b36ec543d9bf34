"""Executing one notebook: the kernel check, the Papermill call, and what went wrong.

:func:`execute_notebook` runs a notebook with Papermill in its own kernel process (over an
encrypted connection when the installed jupyter_client and pyzmq can provision keys, see
:func:`encrypted_kernel_manager`). When it raises, :func:`classify` tells ``failed`` (a cell
raised), ``timeout`` (a cell ran past the timeout) and ``kernel died`` (e.g. out of memory)
apart, :func:`failing_cell` finds the cell in the executed notebook and
:func:`failure_message` says it in one line. :func:`kernel_threads` shares the CPUs between
concurrent kernels.

A step that returns without writing its summary (``artifacts/summary_<step>.json``, written by
``finish_step``) did not run to the end, e.g. after ``sys.exit()``, which Papermill treats as a
clean stop (``papermill.exceptions.raise_for_execution_errors`` skips a ``SystemExit`` with no
or a zero code): :func:`execute_notebook` raises :class:`IncompleteStepError` naming the step
and the last cell executed (issue 19, item 7).

Kernel start: :func:`check_kernel` also checks that the program a kernelspec starts exists (a
kernelspec left behind by a removed virtual environment otherwise fails with a bare
``FileNotFoundError``), and the time a kernel gets to start is :func:`kernel_start_timeout`
(120 s, or ``PLAYBOOK_KERNEL_START_TIMEOUT`` / ``playbook run --kernel-start-timeout``; issue 19,
item 11). Kernelspec format (``argv``, with ``python`` meaning the running interpreter):
https://jupyter-client.readthedocs.io/en/stable/kernels.html#kernel-specs
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
import zmq
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import default

from playbook.errors import RunError
from playbook.paths import project_root
from playbook.run.graph import params_for, resolve_jobs
from playbook.run.results import FAILED, KERNEL_DIED, TIMEOUT, StepResult

DEFAULT_KERNEL = "seasonal-playbook"
"""The project's Jupyter kernel (``make kernel``)."""

KERNEL_START_TIMEOUT = 120.0
"""Seconds a kernel gets to start and answer, unless :data:`KERNEL_START_TIMEOUT_ENV` says otherwise."""

KERNEL_START_TIMEOUT_ENV = "PLAYBOOK_KERNEL_START_TIMEOUT"
"""Environment variable holding the kernel start timeout in seconds (``--kernel-start-timeout``)."""

_PYTHON_ALIASES = frozenset({"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])})
"""``argv[0]`` values jupyter_client replaces by the running interpreter (``KernelManager.format_kernel_cmd``)."""


def _install_advice(name: str) -> str:
    return (f"Install it with `make kernel`, or with `python -m ipykernel install --user --name {name}` run by "
            "the project's Python (.venv/bin/python), then rerun.")


def _program_exists(program: str) -> bool:
    """Whether a kernelspec's ``argv[0]`` can be started: a Python alias, an executable file, or on PATH."""
    if program in _PYTHON_ALIASES:
        return True
    if os.path.isabs(program):
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def check_kernel(name: str = DEFAULT_KERNEL) -> None:
    """Fail with the install command when the Jupyter kernel ``name`` is not installed or cannot start.

    Raises
    ------
    RunError
        The kernel is not installed (naming the installed ones), its ``kernel.json`` cannot be
        read, or the program it starts (its Python) does not exist; each with the install command.
    """
    manager = KernelSpecManager()
    specs = manager.find_kernel_specs()
    if name not in specs:
        raise RunError(f"Jupyter kernel {name!r} is not installed (installed: {sorted(specs) or 'none'}). "
                       + _install_advice(name))
    try:
        argv = list(manager.get_kernel_spec(name).argv)
    except Exception as exc:  # noqa: BLE001 - jupyter_client raises assorted errors on a broken kernel.json
        raise RunError(f"Jupyter kernel {name!r} ({specs[name]}) cannot be read: {exc}. "
                       + _install_advice(name)) from exc
    program = argv[0] if argv else ""
    if not _program_exists(program):
        raise RunError(
            f"Jupyter kernel {name!r} ({Path(specs[name]) / 'kernel.json'}) starts {program or 'nothing'!r}, "
            "which does not exist (the Python it was installed from was moved or removed). "
            + _install_advice(name))


def kernel_start_timeout(seconds: float | str | None = None) -> float:
    """The seconds a kernel gets to start: ``seconds``, else :data:`KERNEL_START_TIMEOUT_ENV`,
    else :data:`KERNEL_START_TIMEOUT` (120 s).

    Raises
    ------
    RunError
        The value is not a positive, finite number of seconds.
    """
    given: float | str | None = seconds if seconds is not None else os.environ.get(KERNEL_START_TIMEOUT_ENV)
    if given is None or (isinstance(given, str) and not given.strip()):
        return KERNEL_START_TIMEOUT
    try:
        value = float(given)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise RunError(f"The kernel start timeout must be a positive number of seconds, got {given!r} "
                       f"(--kernel-start-timeout or {KERNEL_START_TIMEOUT_ENV}; default {KERNEL_START_TIMEOUT:g}).")
    return value


def use_kernel_start_timeout(seconds: float | None) -> None:
    """Give every kernel this process starts from now on ``seconds`` to start (``None``: unchanged,
    but a bad :data:`KERNEL_START_TIMEOUT_ENV` is refused now rather than at the first step).

    Stored in :data:`KERNEL_START_TIMEOUT_ENV`, which :func:`execute_notebook` reads.

    Raises
    ------
    RunError
        ``seconds`` (or the environment variable) is not a positive number of seconds.
    """
    value = kernel_start_timeout(seconds)
    if seconds is not None:
        os.environ[KERNEL_START_TIMEOUT_ENV] = f"{value:g}"


class IncompleteStepError(RunError):
    """A step notebook returned without writing its summary: it stopped early (e.g. ``sys.exit()``)."""


_QUIET_LOCK = threading.Lock()
_QUIET_STATE: dict[str, Any] = {"depth": 0, "levels": []}
_PAPERMILL_LOGGERS = ("papermill", "papermill.translators", "papermill.execute")


@contextlib.contextmanager
def quiet_papermill() -> Iterator[None]:
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


@functools.lru_cache(maxsize=1)
def encrypted_kernel_manager() -> type[AsyncKernelManager] | None:
    """A kernel manager class that gives each kernel CurveZMQ keys, or ``None`` if unsupported.

    By default jupyter_client talks to a kernel over local TCP in plain text, and ipykernel
    prints "Kernel is running over TCP without encryption" for every step. With
    ``transport_encryption = "auto"`` (jupyter_client >= 8.10, pyzmq built with libsodium, a
    kernelspec declaring ``supported_encryption: curve``, as ipykernel's does) the manager
    provisions keys and the kernel encrypts its sockets. Older versions keep the default.
    """
    if not zmq.has("curve") or "transport_encryption" not in AsyncKernelManager.class_trait_names():
        return None

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _transport_encryption_default(self) -> str:
            return "auto"

    return EncryptedKernelManager


def execute_notebook(nb_in: Path, nb_out: Path, params: Mapping[str, Any], kernel_name: str,
                     timeout: float, start_timeout: float | None = None) -> None:
    """Execute ``nb_in`` with Papermill into ``nb_out`` (cwd: the project root).

    Parameters
    ----------
    nb_in, nb_out : Path
        Notebook to run and where the executed copy (outputs, errors) is written.
    params : mapping
        Values injected after the cell tagged ``parameters`` (checked beforehand with
        :func:`playbook.run.parameters.check_parameters`); a parameter only another step declares
        (``as_of`` of ``06_track``) is left out (:func:`playbook.run.graph.params_for`).
    kernel_name : str
        Jupyter kernel to start.
    timeout : float
        Per-cell execution timeout in seconds.
    start_timeout : float, optional
        Seconds the kernel gets to start (default :func:`kernel_start_timeout`: 120 s unless
        :data:`KERNEL_START_TIMEOUT_ENV` is set).

    Raises
    ------
    RunError
        The kernel cannot start (:func:`check_kernel`) or the start timeout is not positive.
    IncompleteStepError
        ``params`` holds an ``output_dir`` and the notebook did not (re)write
        ``<output_dir>/artifacts/summary_<step>.json`` (``<step>`` is ``nb_in``'s name).
    Exception
        Whatever Papermill raises (a cell error, a timeout, a dead kernel): see :func:`classify`.
    """
    start = kernel_start_timeout(start_timeout)
    check_kernel(kernel_name)
    params = params_for(Path(nb_in).stem, params)
    summary = summary_path(nb_in, params)
    before = _file_stamp(summary)
    manager = encrypted_kernel_manager()
    extra = {"kernel_manager_class": manager} if manager is not None else {}
    with quiet_papermill():
        papermill.execute_notebook(
            str(nb_in),
            str(nb_out),
            parameters=dict(params),
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            cwd=str(project_root()),
            execution_timeout=timeout,
            start_timeout=start,
            **extra,
        )
    if summary is not None and _file_stamp(summary) in (None, before):
        raise IncompleteStepError(incomplete_message(nb_in.stem, nb_out, summary))


def summary_path(nb_in: Path, params: Mapping[str, Any]) -> Path | None:
    """The summary a step notebook writes last (``finish_step``): ``<output_dir>/artifacts/summary_<step>.json``;
    None without an ``output_dir`` parameter (an interactive run writes under its campaign's slug)."""
    out = params.get("output_dir")
    if not isinstance(out, str | os.PathLike) or not os.fspath(out):
        return None
    return Path(out) / "artifacts" / f"summary_{Path(nb_in).stem}.json"


def _file_stamp(path: Path | None) -> tuple[int, int] | None:
    """(inode, modification time in ns) of ``path``, None when absent: tells a rewrite from a leftover."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def last_executed_cell(nb_path: Path) -> tuple[int, int | None, str, str | None] | None:
    """(cell index, execution count, first source line, error name) of the last code cell that ran
    in an executed notebook; None when none ran or the notebook cannot be read."""
    try:
        nb = nbformat.read(str(nb_path), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    except Exception:  # noqa: BLE001 - a missing or truncated notebook: no cell to report
        return None
    found = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not (cell.get("execution_count")
                                            or cell.get("metadata", {}).get("papermill", {}).get("start_time")):
            continue
        errors = [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        lines = [ln for ln in str(cell.source).splitlines() if ln.strip()]
        found = (i, cell.get("execution_count"), lines[-1].strip() if lines else "", errors[0] if errors else None)
    return found


def incomplete_message(step: str, nb_out: Path, summary: Path) -> str:
    """One paragraph: ``step`` returned without writing ``summary``, and the last cell it executed."""
    last = last_executed_cell(nb_out)
    if last is None:
        where = "no cell ran"
    else:
        index, count, line, ename = last
        where = (f"the last cell executed was cell {index}" + (f" (In [{count}])" if count else "")
                 + (f": `{line[:80]}`" if line else "") + (f", which raised {ename}" if ename else ""))
    return (f"{step}: the notebook stopped before the end without writing its summary "
            f"({summary.parent.name}/{summary.name}); {where}. A step must run every cell through "
            "finish_step: remove the early exit (sys.exit(), quit()) or raise an error saying what is wrong.")


def classify(exc: BaseException) -> str:
    """The status of a step whose execution raised ``exc``: ``kernel died``, ``timeout`` or ``failed``."""
    if isinstance(exc, DeadKernelError):
        return KERNEL_DIED
    if isinstance(exc, CellTimeoutError | TimeoutError):
        return TIMEOUT
    return FAILED


def failing_cell(nb_path: Path) -> tuple[int | None, str | None, str | None, int | None]:
    """Locate the failure in an executed notebook.

    Returns (cell index in the executed notebook, ename, evalue, execution count) of the first
    cell with an error output, else of the last cell that started (timeouts, dead kernels);
    all None when the notebook cannot be read.
    """
    try:
        nb = nbformat.read(str(nb_path), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    except Exception:  # noqa: BLE001 - a missing or truncated notebook: no cell to report
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


def failure_message(step: str, status: str, res: StepResult, exc: BaseException | None,
                    timeout: float, exec_count: int | None) -> str:
    """One line saying which cell of ``step`` failed and how (``res`` holds the cell and error)."""
    if isinstance(exc, RunError):  # says it all: kernel missing, step stopped early
        return str(exc) if str(exc).startswith(f"{step}:") else f"{step}: {exc}"
    if isinstance(exc, RuntimeError) and "didn't respond" in str(exc):
        return (f"{step}: the kernel did not start within {kernel_start_timeout():g} s (a busy machine or a slow "
                f"disk): raise --kernel-start-timeout (or {KERNEL_START_TIMEOUT_ENV}), or run fewer --jobs")
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


THREAD_VARS: tuple[str, ...] = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that size the BLAS/OpenMP thread pools of a kernel's numpy, scipy,
statsmodels and scikit-learn."""


@contextlib.contextmanager
def kernel_threads(n_jobs: int) -> Iterator[None]:
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
