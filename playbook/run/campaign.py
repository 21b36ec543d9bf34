"""Papermill orchestration: run a campaign's notebooks, publish its report atomically.

:func:`run_campaign` runs the requested steps of one campaign (:mod:`playbook.run.schedule`)
into a staging folder and publishes it only when every step succeeded
(:mod:`playbook.run.publish`); :func:`run_campaigns` runs one season's batch. Every page is
scanned for customer PII before it can be published (:mod:`playbook.run.guard`), whoever calls
the runner: the known values come from the campaign's data source unless the caller passes its
own, and only an explicit ``pii_guard=False`` switches the scan off.

Batches with ``jobs=N`` also run campaigns side by side: all campaigns of the call share one
pool of N kernel slots (so N bounds the kernels alive at any moment, whatever the number of
campaigns), each campaign has its own staging folder, and a failure in one never affects
another. Memory grows with the number of kernels: at 1M customers use ``jobs`` no larger than
memory / (peak of the largest step).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from playbook.config.campaign import DataConfig
from playbook.config.loader import load_config
from playbook.data.source import DataSource
from playbook.data.warehouse import connect
from playbook.errors import PlaybookError
from playbook.files import PRIVATE_DIR, private_dir
from playbook.media.inseason import check_as_of, parse_as_of
from playbook.paths import check_output_dir, resolve
from playbook.report.index import build_index
from playbook.run.execute import DEFAULT_KERNEL, check_kernel, kernel_threads
from playbook.run.graph import (
    ALL_STEPS,
    OPTIONAL_STEPS,
    STEPS,
    resolve_jobs,
    resolve_steps,
    run_graph,
)
from playbook.run.guard import PiiGuard, pii_values_for
from playbook.run.parameters import check_run_parameters
from playbook.run.publish import (
    add_to_summary,
    attribute_files,
    discard_staging,
    index_statuses,
    keep_failed,
    prepare_staging,
    publish,
    rewrite_summary_steps,
    run_lock,
    snapshot,
    write_failure_json,
)
from playbook.run.results import ERROR, FAILED, NOT_RUN, OK, SKIPPED, RunResult, StepResult
from playbook.run.schedule import CampaignRun, locked_say, run_step, schedule
from playbook.value.audiences import (
    SHAREABLE_DIR,
    contacts,
    describe_recheck,
    recheck_exports,
    segment_flags,
    withdraw_exports,
)

PiiValues = Callable[[], Iterable[str]]
"""Returns the PII strings (emails, phones, names) the guard looks for; called at most once."""


class CampaignLike(Protocol):
    """What the runner needs from a campaign config (``playbook.config.campaign.CampaignConfig``)."""

    @property
    def slug(self) -> str:
        """Campaign id: the report folder's name."""

    @property
    def output_dir(self) -> Path:
        """The published report folder (``reports/<slug>``)."""

    @property
    def data(self) -> DataConfig:
        """Where the data live (``source``, ``timezone``, ``encoding``): read by the PII guard."""


def campaign_source(cfg: CampaignLike, data_source: DataSource | str | os.PathLike[str] | None = None) -> DataSource:
    """The data source a campaign runs on.

    ``data_source`` when it is a :class:`DataSource`; otherwise the config's ``data`` section
    with ``data_source`` (the CLI's ``--data-source``), when given, replacing the location
    (the time zone and encoding always come from the config).
    """
    if isinstance(data_source, DataSource):
        return data_source
    return DataSource.from_config(cfg.data, data_source)


def _title(cfg: CampaignLike) -> str:
    name = getattr(cfg, "name", None) or str(cfg.slug)
    return f"{name} — campaign playbook"


def run_campaign(
    cfg: CampaignLike,
    config_path: str | os.PathLike[str],
    *,
    only: str | Iterable[str] | None = None,
    notebooks_dir: str | os.PathLike[str] = "notebooks",
    kernel_name: str = DEFAULT_KERNEL,
    timeout: float = 1800,
    data_source: DataSource | str | os.PathLike[str] | None = None,
    seed: int | None = None,
    progress: Callable[[str], Any] | None = None,
    reports_root: str | os.PathLike[str] | None = None,
    pii_values: PiiValues | None = None,
    pii_guard: bool = True,
    jobs: int | str | None = 1,
    slots: threading.Semaphore | None = None,
    cancel: threading.Event | None = None,
    lock_wait: float = 3600.0,
    as_of: str | dt.date | None = None,
) -> RunResult:
    """Execute a campaign's notebooks with Papermill and publish its report atomically.

    Parameters
    ----------
    cfg : CampaignConfig-like
        Needs ``slug``, ``output_dir`` (the published report folder ``reports/<slug>``) and
        ``data`` (the data source, for the PII guard).
    config_path : path
        The campaign YAML, passed to every notebook as ``config_path`` (made absolute).
    only : str or iterable of str, optional
        Steps to run (see :func:`~playbook.run.graph.resolve_steps`); default all five.
    notebooks_dir : path
        Folder holding ``01_plan.ipynb`` ...; relative to the project root.
    kernel_name : str
        Jupyter kernel to execute with (see :func:`~playbook.run.execute.check_kernel`).
    timeout : float
        Per-cell execution timeout in seconds.
    data_source : DataSource, str or path, optional
        Run on this source instead of the config's ``data.source`` (see :func:`campaign_source`);
        passed to the notebooks as ``data_source`` and shown (credentials masked) on the index.
    seed : int, optional
        Passed to the notebooks when given; else the notebooks' default applies.
    progress : callable, optional
        Called with one line of text (``[<slug>] <step>: ...``) when a step starts, finishes
        (with its duration) or is skipped; lines of concurrent steps never mix.
    reports_root : path, optional
        Publish to ``<reports_root>/<slug>`` instead of ``cfg.output_dir`` (tests).
    pii_values : callable, optional
        Returns the PII strings (emails, phones, names) to guard against; called once, only
        after the first step produced a page. Default: the distinct emails, phones and first
        names of the campaign's data source (:func:`~playbook.run.guard.pii_values_for`). Any
        hit fails the step ("PII found in report") and nothing is published.
    pii_guard : bool
        False skips the PII scan; the progress output and the index page then say that the
        pages were not scanned.
    jobs : int or str
        Steps run at once, each in its own kernel (see :func:`~playbook.run.graph.resolve_jobs`):
        1 (default) one at a time in step order; 0 or ``"auto"`` one per CPU.
    slots : threading.Semaphore, optional
        Kernel slots shared with other campaigns of a batch (:func:`run_campaigns`): a step
        holds one while its kernel runs.
    cancel : threading.Event, optional
        Once set (Ctrl-C in a parallel batch), no further step starts; the run ends as
        ``error`` "interrupted" and publishes nothing.
    lock_wait : float
        Seconds to wait while another run (thread or process) works on the same report folder
        (:func:`~playbook.run.publish.run_lock`), with a progress line saying so; then
        ``RunError``. 0 refuses at once.
    as_of : str or date, optional
        The in-season tracking step's day (``--as-of``, ``YYYY-MM-DD``), passed to ``06_track``
        only, as its ``as_of`` parameter; needs that step in ``only``. Without it the step tracks
        to the data's last day.

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
        missing, unknown parameter, ``as_of`` without the track step; another run of the same report still running after
        ``lock_wait``.
    ConfigError
        An empty ``data_source``; ``as_of`` not a date or before the season starts; a report folder the playbook may not write into (checked
        first, before anything is written: :func:`~playbook.paths.check_output_dir`).
    """
    started = time.monotonic()
    say = locked_say(progress or (lambda _msg: None))
    steps = resolve_steps(only)
    n_jobs = resolve_jobs(jobs)
    slug = str(cfg.slug)
    final = check_output_dir(Path(reports_root) / slug if reports_root is not None else resolve(cfg.output_dir))
    root = final.parent
    source = campaign_source(cfg, data_source)
    check_kernel(kernel_name)
    nb_dir = resolve(notebooks_dir)
    # the file the loader read (it looks in the working folder first, then the project root): the
    # notebooks run from notebooks/, so a path relative to where `playbook run` was typed would miss
    cfg_abs = str(getattr(cfg, "source_path", None) or resolve(config_path))
    base_params: dict[str, Any] = {"config_path": cfg_abs, "output_dir": ""}
    if data_source is not None:
        base_params["data_source"] = source.as_parameter()
    if seed is not None:
        base_params["seed"] = int(seed)
    day = parse_as_of(as_of)
    if day is not None:
        season = getattr(cfg, "season", None)
        if season is not None:
            check_as_of(day, season.start, season.end)
        base_params["as_of"] = day.isoformat()
    check_run_parameters(nb_dir, steps, base_params)
    guard = PiiGuard(pii_values if pii_values is not None else pii_values_for(source)) if pii_guard else None
    if guard is None:
        say(f"[{slug}] PII guard off: pages are published without scanning them for customer data")

    with run_lock(root, slug, lock_wait, say):
        staging, previous = prepare_staging(final, root / ".staging", slug, steps)
        base_params["output_dir"] = str(staging)
        prev_steps = {e.get("step"): e for e in previous.get("steps", [])}
        results: dict[str, StepResult] = {s: StepResult(s) for s in steps}
        run = CampaignRun(slug, staging, nb_dir, base_params, kernel_name, timeout, say, guard, slots, cancel)
        run_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        failures: list[StepResult] = []
        kept: dict[str, Path] = {}

        def on_done(res: StepResult) -> None:
            if res.status == OK:
                return
            failures.append(res)
            kept["dir"] = keep_failed(root / "_failed", slug, staging, res.step, kept.get("dir"))
            res.notebook = kept["dir"] / f"{res.step}.ipynb"

        try:
            run_before = snapshot(staging)
            schedule(run, run_graph([s for s in steps if s in STEPS]), n_jobs, results, on_done)
            run_optional(run, steps, results, on_done)
            if cancel is not None and cancel.is_set():
                discard_staging(staging)
                return RunResult(slug, str(config_path), ERROR, "interrupted: nothing was published",
                                 results, None, kept.get("dir"), round(time.monotonic() - started, 2))
            if failures:
                return _failed(slug, str(config_path), cfg_abs, run_at, staging, kept["dir"], failures,
                               results, started)
            files_by_step = attribute_files(run_before, snapshot(staging), run.windows, prev_steps)
            rechecked = recheck_republished(cfg, source, staging, final, files_by_step)
            recheck_note = describe_recheck(rechecked)
            statuses = index_statuses(results, prev_steps, files_by_step, run_at)
            statuses.update(optional_statuses(results, prev_steps, files_by_step, run_at))
            run_seconds = round(time.monotonic() - started, 2)
            meta: dict[str, Any] = {"campaign": slug, "config": str(config_path), "steps run": ", ".join(steps),
                                    "run_seconds": run_seconds, "kernel": kernel_name, "jobs": n_jobs}
            if data_source is not None:
                meta["data_source"] = source.display()
            if seed is not None:
                meta["seed"] = seed
            if guard is None:
                meta["pii_guard"] = "off: pages not scanned for customer data"
            if recheck_note:
                meta["exports re-checked"] = recheck_note
                say(f"[{slug}] {recheck_note}")
            build_index(staging, statuses, _title(cfg), meta, currency=getattr(cfg, "currency", "USD"))
            rewrite_summary_steps(staging, statuses)
            if rechecked:
                add_to_summary(staging, "exports_rechecked", rechecked)
            leak = guard.check(staging, ["index.html", "summary.json"]) if guard is not None else None
            if leak:
                discard_staging(staging)
                return RunResult(slug, str(config_path), FAILED, leak, results, None, None, run_seconds)
            publish(staging, final, previous)
        except BaseException:
            discard_staging(staging)
            raise
        for r in results.values():
            if r.notebook is not None:
                r.notebook = final / r.notebook.name
        say(f"[{slug}] published {final}")
        message = f"published {final}" + (f"; {recheck_note}" if recheck_note else "")
        return RunResult(slug, str(config_path), OK, message, results, final, None,
                         round(time.monotonic() - started, 2))


def run_optional(run: CampaignRun, steps: Sequence[str], results: dict[str, StepResult],
                 on_done: Callable[[StepResult], Any]) -> None:
    """Run the optional steps of this run (:data:`~playbook.run.graph.OPTIONAL_STEPS`: in-season
    tracking) one after another, after :func:`~playbook.run.schedule.schedule` ran the default ones.

    A step whose dependency in this run did not finish ``ok`` is ``skipped`` (naming it), as the
    scheduler does; once ``run.cancel`` is set nothing starts. ``results`` is filled in place.
    """
    graph = run_graph(steps)
    for step in (s for s in steps if s in OPTIONAL_STEPS):
        if run.cancel is not None and run.cancel.is_set():
            results[step].status, results[step].message = SKIPPED, "skipped: run interrupted"
            continue
        bad = [d for d in graph[step] if results[d].status not in (OK, NOT_RUN)]
        if bad:
            results[step].status = SKIPPED
            results[step].message = f"skipped because {bad[0]} {results[bad[0]].status}"
            run.say(f"[{run.slug}] {step}: {results[step].message}")
            continue
        results[step] = run_step(run, step)
        on_done(results[step])


def optional_statuses(results: Mapping[str, StepResult], prev_steps: Mapping[str, Mapping[str, Any]],
                      files_by_step: Mapping[str, list[str]], run_at: str) -> dict[str, dict[str, Any]]:
    """Index entries of the optional steps (:func:`~playbook.run.publish.index_statuses` over
    :data:`OPTIONAL_STEPS`): this run's, else an earlier run's ``ok`` one; a step never run is not listed."""
    return index_statuses(results, prev_steps, files_by_step, run_at, OPTIONAL_STEPS, list_not_run=False)


def republished_exports(staging: Path, final: Path,
                        files_by_step: Mapping[str, list[str]]) -> list[tuple[Path, str]]:
    """The export files a publish would carry over without this run having written them.

    The files in ``<staging>/exports/`` no step of this run wrote, and, when this run wrote no
    private folder (it did not run 03_personalize), the plaintext lists already beside the
    report in ``<reports>/.private/<slug>/``. Each with its label relative to the reports folder.
    """
    written = {f for files in files_by_step.values() for f in files}
    out = [(p, f"{final.name}/{SHAREABLE_DIR}/{p.name}") for p in sorted((staging / SHAREABLE_DIR).glob("*"))
           if p.is_file() and f"{SHAREABLE_DIR}/{p.name}" not in written]
    if not (staging / PRIVATE_DIR).is_dir():
        held = private_dir(final)
        out += [(p, p.relative_to(final.parent).as_posix()) for p in sorted(held.glob("*.csv")) if p.is_file()]
    return out


def recheck_republished(cfg: CampaignLike, source: DataSource, staging: Path, final: Path,
                        files_by_step: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """Re-apply the current erasure, consent and suppression to every export this run republishes
    without regenerating it (:func:`republished_exports`), in place (issue 19, item 1).

    The same contacts and suppression as the personalize step
    (:func:`playbook.value.audiences.contacts`, :func:`~playbook.value.audiences.segment_flags` of
    the staging folder's segment step output), read from the campaign's data source now, at
    publish time. When the customers table cannot be read the files are withdrawn instead. Files
    falling under ``min_audience_size`` are withdrawn. Returns one entry per file
    (:func:`~playbook.value.audiences.recheck_exports`); empty when there was nothing to check.
    """
    files = republished_exports(staging, final, files_by_step)
    if not files:
        return []
    min_size = int(getattr(cfg, "min_audience_size", 100))
    try:
        wh = connect(source)
        countries = getattr(cfg, "countries", None)
        if countries:
            wh.default_country = countries[0]  # as the steps read the customers (start_step)
        con = contacts(wh)
    except PlaybookError as exc:
        return withdraw_exports(files, f"the customers table could not be read to re-check it: {exc}")
    return recheck_exports(con, segment_flags(staging, con["customer_id"]), files, min_size)


def _failed(slug: str, config_path: str, cfg_abs: str, run_at: str, staging: Path, failed_dir: Path,
            failures: list[StepResult], results: dict[str, StepResult], started: float) -> RunResult:
    """Record the failures in ``failure.json``, drop the staging folder, and say what failed."""
    failures.sort(key=lambda r: ALL_STEPS.index(r.step) if r.step in ALL_STEPS else len(ALL_STEPS))
    write_failure_json(failed_dir, [{
        "slug": slug, "step": r.step, "status": r.status, "message": r.message,
        "cell_index": r.cell_index, "ename": r.ename, "evalue": r.evalue,
        "config_path": cfg_abs, "run_at": run_at} for r in failures])
    discard_staging(staging)
    first = failures[0]
    message = first.message
    if len(failures) > 1:
        message += "; also " + "; ".join(r.message for r in failures[1:])
    return RunResult(slug, config_path, first.status, message, results, None, failed_dir,
                     round(time.monotonic() - started, 2))


def run_campaigns(
    config_paths: Iterable[str | os.PathLike[str]],
    *,
    only: str | Iterable[str] | None = None,
    loader: Callable[[str | os.PathLike[str]], CampaignLike] | None = None,
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
        ``path -> config``; default :func:`playbook.config.loader.load_config`. A
        ``PlaybookError`` (e.g. ``ConfigError``) is recorded as that campaign's ``error`` result.
    jobs : int or str
        Kernels alive at once for the whole batch (see :func:`~playbook.run.graph.resolve_jobs`).
        With more than one, up to ``jobs`` campaigns run side by side and their steps share
        ``jobs`` kernel slots; each campaign keeps its own staging folder and outcome. 1
        (default): campaigns one after another, steps one at a time.
    **kw
        Passed to :func:`run_campaign` (``timeout``, ``kernel_name``, ``progress``,
        ``data_source``, ``pii_values`` ...). Without ``pii_values``, the PII values of each
        distinct data source are read once for the whole batch.
    """
    resolve_steps(only)
    n_jobs = resolve_jobs(jobs)
    load = loader if loader is not None else _load
    paths = list(config_paths)
    progress = kw.get("progress")
    if progress is not None:
        kw["progress"] = locked_say(progress)  # one lock for all campaigns' lines
    parallel = n_jobs > 1 and len(paths) > 1
    if parallel:
        kw["slots"] = threading.BoundedSemaphore(n_jobs)
    shared: dict[DataSource, PiiValues] = {}
    shared_lock = threading.Lock()

    def guard_values(cfg: CampaignLike) -> PiiValues:
        """One PII list per data source for the whole batch (kept in memory only)."""
        source = campaign_source(cfg, kw.get("data_source"))
        with shared_lock:
            if source not in shared:
                shared[source] = pii_values_for(source)
            return shared[source]

    def one(path: str | os.PathLike[str]) -> RunResult:
        t0 = time.monotonic()
        slug = Path(path).stem
        try:
            cfg = load(path)
            slug = str(cfg.slug)
            extra = dict(kw)
            if extra.get("pii_guard", True) and extra.get("pii_values") is None:
                extra["pii_values"] = guard_values(cfg)
            result = run_campaign(cfg, path, only=only, jobs=n_jobs, **extra)
        except PlaybookError as exc:
            result = RunResult(slug, str(path), ERROR, str(exc),
                               duration_s=round(time.monotonic() - t0, 2))
        except Exception as exc:  # noqa: BLE001 - a bug in one campaign must not stop the batch
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


def _load(path: str | os.PathLike[str]) -> CampaignLike:
    """The default loader: :func:`playbook.config.loader.load_config`."""
    return load_config(Path(path))
