"""What a run reports: step and campaign outcomes, the batch table and the exit code.

A step ends ``ok``, ``failed`` (a cell raised, or the PII guard found customer data),
``timeout`` (a cell ran past the timeout), ``kernel died`` (e.g. out of memory) or ``skipped``
(a step it depends on did not end ``ok``). A campaign's status is ``ok`` or that of its first
failing step, or ``error`` when the run could not start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

OK, FAILED, TIMEOUT, KERNEL_DIED, SKIPPED, NOT_RUN, ERROR = (
    "ok", "failed", "timeout", "kernel died", "skipped", "not run", "error",
)


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
