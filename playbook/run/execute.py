"""Executing one notebook: the kernel check, the Papermill call, and what went wrong.

:func:`execute_notebook` runs a notebook with Papermill in its own kernel process (over an
encrypted connection when the installed jupyter_client and pyzmq can provision keys, see
:func:`encrypted_kernel_manager`). When it raises, :func:`classify` tells ``failed`` (a cell
raised), ``timeout`` (a cell ran past the timeout) and ``kernel died`` (e.g. out of memory)
apart, :func:`failing_cell` finds the cell in the executed notebook and
:func:`failure_message` says it in one line. :func:`kernel_threads` shares the CPUs between
concurrent kernels.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
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
from playbook.run.graph import resolve_jobs
from playbook.run.results import FAILED, KERNEL_DIED, TIMEOUT, StepResult

DEFAULT_KERNEL = "seasonal-playbook"
"""The project's Jupyter kernel (``make kernel``)."""


def check_kernel(name: str = DEFAULT_KERNEL) -> None:
    """Fail with the install command when the Jupyter kernel ``name`` is not installed.

    Raises
    ------
    RunError
        Naming the installed kernels and the ``ipykernel install`` command.
    """
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
                     timeout: float) -> None:
    """Execute ``nb_in`` with Papermill into ``nb_out`` (cwd: the project root).

    Parameters
    ----------
    nb_in, nb_out : Path
        Notebook to run and where the executed copy (outputs, errors) is written.
    params : mapping
        Values injected after the cell tagged ``parameters`` (checked beforehand with
        :func:`playbook.run.parameters.check_parameters`).
    kernel_name : str
        Jupyter kernel to start.
    timeout : float
        Per-cell execution timeout in seconds (the kernel gets 120 s to start).

    Raises
    ------
    Exception
        Whatever Papermill raises (a cell error, a timeout, a dead kernel): see :func:`classify`.
    """
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
            start_timeout=120,
            **extra,
        )


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
