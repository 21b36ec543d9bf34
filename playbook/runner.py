"""Papermill orchestration: run a campaign's notebooks, publish its report atomically.

A run executes the requested steps, in order, into a *staging* folder
``reports/.staging/<slug>-<timestamp>/`` that starts as a copy of the last good report (so a
single ``--only`` step still finds the artifacts of earlier steps and the other steps' pages are
kept). Each executed notebook is rendered to code-free HTML and scanned for customer PII. Only
when every requested step succeeded is the index page built and the staging folder swapped in
for ``reports/<slug>`` (old folder renamed aside, staging renamed in, old deleted; restored on
error). On any failure nothing is published: the executed notebook with its error is kept in
``reports/_failed/<slug>-<timestamp>/`` and the last good report stays byte-identical.

Failures are classified as ``failed`` (a cell raised; cell index, exception name and value are
reported), ``timeout`` (a cell ran past ``timeout`` seconds) or ``kernel died`` (e.g. out of
memory); steps after a failure are ``skipped``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
(it recomputes what is missing), so ``--only`` runs exactly the steps asked for."""

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
    """What the runner needs from a campaign config (``playbook.config.CampaignConfig``)."""

    slug: str
    output_dir: Path


@dataclass
class StepResult:
    """Outcome of one step: status, duration in seconds, and for failures where and why."""

    step: str
    status: str = NOT_RUN
    duration_s: float | None = None
    message: str = ""
    cell_index: int | None = None
    ename: str | None = None
    evalue: str | None = None
    notebook: Path | None = None


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


@contextlib.contextmanager
def _quiet_papermill() -> Any:
    """Silence papermill's warnings ("Unable to parse line", "Passed unknown parameter"):
    the runner checks parameters itself and reports real problems as errors."""
    loggers = [logging.getLogger(n) for n in ("papermill", "papermill.translators", "papermill.execute")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (mtime_ns, size) of every file under ``folder``."""
    out: dict[str, tuple[int, int]] = {}
    for p in folder.rglob("*"):
        if p.is_file():
            st = p.stat()
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
    if final.is_dir():
        previous = _load_previous_summary(final)
        shutil.copytree(final, staging, dirs_exist_ok=True, symlinks=True)
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
    from playbook.report import mask_pii

    def hint(vals: list[str]) -> str:
        shown = ", ".join(mask_pii(v) for v in vals[:3]) + (", ..." if len(vals) > 3 else "")
        return f"{_pii_kinds(vals)}: {shown}"

    where = "; ".join(f"{rel} ({hint(vals)})" for rel, vals in hits)
    return (f"PII found in report: {where}. Show counts, aggregates or pseudonymize() ids "
            "instead of customer emails, phones or names; nothing was published.")


def _keep_failed(failed_root: Path, slug: str, staging: Path, step: str, info: Mapping[str, Any]) -> Path:
    """Move the failed step's executed notebook (and a failure.json) to ``_failed/``."""
    from playbook.report import write_json

    failed_root.mkdir(parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix=f"{slug}-{_stamp()}-", dir=failed_root))
    nb = staging / f"{step}.ipynb"
    if nb.is_file():
        shutil.copy2(nb, dest / nb.name)
    write_json(dict(info), dest / "failure.json")
    return dest


def _publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` in for ``final``: old aside, staging in, old deleted (restored on error)."""
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


def _execute(nb_in: Path, nb_out: Path, params: Mapping[str, Any], kernel_name: str, timeout: float) -> None:
    import papermill

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
        )


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
        Called with one line of text when a step starts and finishes (with its duration).
    reports_root : path, optional
        Publish to ``<reports_root>/<slug>`` instead of ``cfg.output_dir`` (tests).
    pii_values : callable, optional
        Returns the PII strings (emails, phones, names) to guard against; called once, only
        after the first step produced a page. Any hit fails the run ("PII found in report").
    pii_guard : bool
        Set False to skip the PII scan even when ``pii_values`` is given.

    Returns
    -------
    RunResult
        ``status`` ``ok`` and ``report_dir`` on success; otherwise the failing step's status,
        a message naming step, cell and error, and ``failed_dir`` with the executed notebook.

    Raises
    ------
    RunError
        Before anything runs: unknown step, kernel not installed, notebook missing, unknown
        parameter.
    """
    started = time.monotonic()
    say = progress or (lambda _msg: None)
    steps = resolve_steps(only)
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
    files_by_step: dict[str, list[str]] = {}
    scanner: Any = None
    failure: StepResult | None = None
    failed_dir: Path | None = None
    run_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        for step in steps:
            res = results[step]
            if failure is not None:
                res.status, res.message = SKIPPED, f"skipped after {failure.step} failed"
                continue
            say(f"[{slug}] {step}: running")
            t0 = time.monotonic()
            before = _snapshot(staging)
            nb_out = staging / f"{step}.ipynb"
            exc: BaseException | None = None
            try:
                _execute(nb_dir / f"{step}.ipynb", nb_out, base_params, kernel_name, timeout)
                from playbook.report import render_html

                render_html(nb_out, staging / f"{step}.html")
                res.status = OK
            except Exception as e:  # classified below; never lets a failed step publish
                exc = e
                res.status = _classify(e)
            res.duration_s = round(time.monotonic() - t0, 2)
            res.notebook = nb_out
            changed = _changed(before, _snapshot(staging))
            files_by_step[step] = changed
            if res.status == OK and pii_guard and pii_values is not None:
                if scanner is None:
                    from playbook.report import PiiScanner

                    scanner = PiiScanner(pii_values())
                hits = _scan_pii(scanner, staging, changed)
                if hits:
                    res.status, res.message = FAILED, _pii_message(hits)
            if res.status != OK and not res.message:
                res.cell_index, res.ename, res.evalue, count = _failing_cell(nb_out)
                res.message = _failure_message(step, res.status, res, exc, timeout, count)
            if res.status == OK:
                say(f"[{slug}] {step}: ok ({res.duration_s:.1f} s)")
                continue
            say(f"[{slug}] {step}: {res.status} ({res.duration_s:.1f} s): {res.message}")
            failure = res
            failed_dir = _keep_failed(root / "_failed", slug, staging, step, {
                "slug": slug, "step": step, "status": res.status, "message": res.message,
                "cell_index": res.cell_index, "ename": res.ename, "evalue": res.evalue,
                "config_path": cfg_abs, "run_at": run_at,
            })
            res.notebook = failed_dir / f"{step}.ipynb"

        if failure is not None:
            shutil.rmtree(staging, ignore_errors=True)
            return RunResult(slug, str(config_path), failure.status, failure.message, results,
                             None, failed_dir, round(time.monotonic() - started, 2))

        statuses = _index_statuses(steps, results, prev_steps, files_by_step, run_at)
        run_seconds = round(time.monotonic() - started, 2)
        meta = {"campaign": slug, "config": str(config_path), "steps run": ", ".join(steps),
                "run_seconds": run_seconds, "kernel": kernel_name}
        if data_source is not None:
            meta["data_source"] = _display_source(data_source)
        if seed is not None:
            meta["seed"] = seed
        from playbook.report import build_index

        build_index(staging, statuses, _title(cfg), meta)
        _rewrite_summary_steps(staging, statuses)
        if scanner is not None:
            hits = _scan_pii(scanner, staging, ["index.html", "summary.json"])
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
    from playbook.report import write_json

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


def run_campaigns(
    config_paths: Iterable[str | os.PathLike[str]],
    *,
    only: str | Iterable[str] | None = None,
    loader: Callable[[Any], Any] | None = None,
    pii_values_factory: Callable[[str | None], Callable[[], Iterable[str]]] | None = None,
    **kw: Any,
) -> list[RunResult]:
    """Run several campaigns (one season's batch); a failing one never stops the others.

    Parameters
    ----------
    config_paths : iterable of path
        Campaign YAML files, run in the given order.
    only : optional
        Steps to run for every campaign (validated once, up front).
    loader : callable, optional
        ``path -> config``; default ``playbook.config.load_config``. A ``PlaybookError``
        (e.g. ``ConfigError``) is recorded as that campaign's ``error`` result.
    pii_values_factory : callable, optional
        ``config data source -> pii_values callable`` for :func:`run_campaign`'s PII guard.
    **kw
        Passed to :func:`run_campaign` (``timeout``, ``kernel_name``, ``progress`` ...).
    """
    resolve_steps(only)
    if loader is None:
        from playbook.config import load_config

        loader = load_config
    results: list[RunResult] = []
    for path in config_paths:
        t0 = time.monotonic()
        slug = Path(path).stem
        try:
            cfg = loader(path)
            slug = str(cfg.slug)
            extra = dict(kw)
            if pii_values_factory is not None and "pii_values" not in extra:
                extra["pii_values"] = pii_values_factory(_cfg_source(cfg))
            results.append(run_campaign(cfg, path, only=only, **extra))
        except PlaybookError as exc:
            results.append(RunResult(slug, str(path), ERROR, str(exc),
                                     duration_s=round(time.monotonic() - t0, 2)))
        except Exception as exc:  # a bug in one campaign must not stop the batch
            results.append(RunResult(slug, str(path), ERROR, f"{type(exc).__name__}: {exc}",
                                     duration_s=round(time.monotonic() - t0, 2)))
        progress = kw.get("progress")
        if progress is not None and results[-1].status == ERROR:
            progress(f"[{slug}] error: {results[-1].message}")
    return results


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
