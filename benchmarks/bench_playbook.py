"""End-to-end benchmark: ``playbook run`` on the bundled sample and on a large generated dataset.

Usage (``make bench`` runs the first form)::

    .venv/bin/python benchmarks/bench_playbook.py                    # sample, then 1,000,000 customers
    .venv/bin/python benchmarks/bench_playbook.py --skip-1m          # sample only
    .venv/bin/python benchmarks/bench_playbook.py --customers 100000 --skip-sample --only 02_segment

The large dataset is generated once with :func:`playbook.data.synth.generate` and cached under
``benchmarks/.cache/customers_<N>_seed<S>/`` (gitignored; ``truth.json`` marks a complete set).
For each dataset a temporary copy of the campaign config points ``data.source`` at it and
``output.dir`` at a temporary folder (the real ``reports/`` is never touched), and ``playbook run``
runs in a subprocess (the sample with ``--jobs 2`` as ``make demo`` does, the large dataset with
``--jobs 1``; ``--sample-jobs`` and ``--jobs`` change them). A monitoring thread samples, every ``--interval`` seconds, the resident
memory (RSS) of every Jupyter kernel below that subprocess (kernel plus its own children) and of
the runner process itself, and attributes each kernel to the step whose ``running`` line the
runner printed just before the kernel appeared (one kernel per step). Per step it prints wall time
(from the runner's own ``ok (x s)`` line), kernel CPU time (user + system, less disturbed than wall
time on a shared machine) and peak kernel RSS; in total the wall time of the command, the time
before the first step (config load + data validation) and after the last (index, publish), and the
peak RSS of the whole process tree. The 1-minute load average before and after each run is
printed too, because the machine may be shared.

Figures are also written as JSON to ``benchmarks/.cache/results-<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
GIB = 1024**3
_RUNNING = re.compile(r"^\[(?P<slug>[^\]]+)\] (?P<step>\S+): running$")
_DONE = re.compile(r"^\[(?P<slug>[^\]]+)\] (?P<step>\S+): (?P<status>[a-z ]+?) \((?P<secs>[\d.]+) s\)")


@dataclass
class StepFigures:
    """What was measured for one step (seconds, bytes)."""

    step: str
    status: str = "not run"
    wall_s: float | None = None
    cpu_s: float = 0.0
    peak_rss: int = 0


@dataclass
class RunFigures:
    """What was measured for one ``playbook run`` (seconds, bytes)."""

    label: str
    customers: int
    command: list[str]
    steps: dict[str, StepFigures] = field(default_factory=dict)
    wall_s: float = 0.0
    before_first_step_s: float | None = None
    after_last_step_s: float | None = None
    runner_peak_rss: int = 0
    tree_peak_rss: int = 0
    exit_code: int | None = None
    slow_cells: dict[str, list[tuple[float, int, str]]] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0
    output: list[str] = field(default_factory=list)


def _is_kernel(proc: psutil.Process) -> bool:
    """True for a Jupyter kernel process (``python -m ipykernel_launcher -f ...``)."""
    try:
        return any("ipykernel" in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _tree_rss_cpu(proc: psutil.Process) -> tuple[int, float]:
    """RSS (bytes) and CPU seconds (user + system) of a process and all its descendants."""
    rss, cpu = 0, 0.0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0, 0.0
    for p in procs:
        try:
            with p.oneshot():
                rss += p.memory_info().rss
                t = p.cpu_times()
                cpu += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return rss, cpu


class _Monitor:
    """Samples the memory of a ``playbook run`` process tree and follows its progress lines."""

    def __init__(self, proc: subprocess.Popen, figures: RunFigures, interval: float) -> None:
        self.proc = proc
        self.ps = psutil.Process(proc.pid)
        self.fig = figures
        self.interval = interval
        self.lock = threading.Lock()
        self.unclaimed: list[str] = []      # steps started whose kernel has not been seen yet
        self.kernel_step: dict[int, str] = {}
        self.t0 = time.monotonic()
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.stop = threading.Event()

    def read_lines(self) -> None:
        """Echo the runner's output and note when each step starts and ends."""
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            now = time.monotonic() - self.t0
            print(f"    {now:7.1f} s | {line}", flush=True)
            self.fig.output.append(line)
            with self.lock:
                if m := _RUNNING.match(line):
                    step = m["step"]
                    self.fig.steps.setdefault(step, StepFigures(step)).status = "running"
                    self.unclaimed.append(step)
                    self.first_start = self.first_start if self.first_start is not None else now
                elif m := _DONE.match(line):
                    sf = self.fig.steps.setdefault(m["step"], StepFigures(m["step"]))
                    sf.status, sf.wall_s = m["status"], float(m["secs"])
                    self.last_end = now

    def sample_forever(self) -> None:
        """Sample RSS and CPU time every ``interval`` seconds until the run ends."""
        while not self.stop.is_set():
            self._sample()
            self.stop.wait(self.interval)

    def _sample(self) -> None:
        try:
            runner_rss = self.ps.memory_info().rss
            children = self.ps.children(recursive=False)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return
        total = runner_rss
        kernels = [c for c in self._descendants(children) if _is_kernel(c)]
        seen_in_kernels: set[int] = set()
        for k in kernels:
            rss, cpu = _tree_rss_cpu(k)
            total += rss
            seen_in_kernels.add(k.pid)
            with self.lock:
                step = self.kernel_step.get(k.pid)
                if step is None and self.unclaimed:
                    step = self.kernel_step[k.pid] = self.unclaimed.pop(0)
                if step is None:
                    continue
                sf = self.fig.steps[step]
                sf.peak_rss = max(sf.peak_rss, rss)
                sf.cpu_s = max(sf.cpu_s, cpu)
        self.fig.runner_peak_rss = max(self.fig.runner_peak_rss, runner_rss)
        self.fig.tree_peak_rss = max(self.fig.tree_peak_rss, total)

    @staticmethod
    def _descendants(children: list[psutil.Process]) -> list[psutil.Process]:
        out: list[psutil.Process] = []
        for c in children:
            out.append(c)
            try:
                out.extend(c.children(recursive=True))
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return out


def ensure_dataset(customers: int, seed: int) -> Path:
    """Return the folder of a generated dataset, generating it once (cached) if needed.

    Parameters
    ----------
    customers : int
        Number of customer accounts.
    seed : int
        Generation seed.

    Returns
    -------
    Path
        ``benchmarks/.cache/customers_<N>_seed<S>``; complete when ``truth.json`` exists.
    """
    from playbook.data import synth

    out = CACHE / f"customers_{customers}_seed{seed}"
    if (out / "truth.json").exists():
        print(f"  dataset: {out.relative_to(ROOT)} (cached)", flush=True)
        return out
    print(f"  generating {customers:,} customers (seed {seed}) into {out.relative_to(ROOT)} ...",
          flush=True)
    t0 = time.perf_counter()
    synth.generate(n_customers=customers, seed=seed, out_dir=out,
                   progress=lambda m: print(f"    [{time.perf_counter() - t0:7.1f} s] {m}", flush=True))
    print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def ensure_sample(seed: int = 42, customers: int = 20_000) -> Path:
    """Return the bundled sample folder (``data/sample``), generating it like ``make data`` if missing."""
    from playbook.data import synth

    out = ROOT / "data" / "sample"
    if not (out / "truth.json").exists():
        print(f"  data/sample missing: generating {customers:,} customers (seed {seed})", flush=True)
        synth.generate(n_customers=customers, seed=seed, out_dir=out)
    return out


def temp_config(config: Path, source: Path, tmp: Path) -> Path:
    """Write a copy of ``config`` with ``data.source`` -> ``source``, ``output.dir`` ->
    ``tmp/reports/report`` (a report folder must sit in a folder the playbook owns)."""
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("data", {})["source"] = str(source)
    doc.setdefault("output", {})["dir"] = str(tmp / "reports" / "report")
    path = tmp / config.name
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run_playbook(label: str, customers: int, config: Path, source: Path, only: list[str] | None,
                 jobs: int, timeout: int, interval: float) -> RunFigures:
    """Run ``playbook run`` on ``source`` in a subprocess and measure it (see the module doc)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as tmpdir:
        cfg = temp_config(config, source, Path(tmpdir))
        cmd = [str(Path(sys.executable).with_name("playbook")), "run", str(cfg),
               "--timeout", str(timeout), "--jobs", str(jobs)]
        if only:
            cmd += ["--only", *only]
        fig = RunFigures(label, customers, cmd, load_before=os.getloadavg()[0])
        print(f"\n== {label}: {customers:,} customers, load average {fig.load_before:.2f}", flush=True)
        print("   $ " + " ".join(cmd), flush=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        mon = _Monitor(proc, fig, interval)
        sampler = threading.Thread(target=mon.sample_forever, daemon=True)
        sampler.start()
        mon.read_lines()
        fig.exit_code = proc.wait()
        fig.wall_s = time.monotonic() - t0
        mon.stop.set()
        sampler.join()
        fig.before_first_step_s = mon.first_start
        fig.after_last_step_s = None if mon.last_end is None else fig.wall_s - mon.last_end
        fig.load_after = os.getloadavg()[0]
        fig.slow_cells = slowest_cells(Path(tmpdir))
    return fig


def slowest_cells(folder: Path, n: int = 4) -> dict[str, list[tuple[float, int, str]]]:
    """The ``n`` slowest code cells of every executed notebook under ``folder`` (Papermill's
    per-cell ``duration`` metadata): step -> [(seconds, cell index, first source line)]."""
    out: dict[str, list[tuple[float, int, str]]] = {}
    for nb in sorted(folder.rglob("0*_*.ipynb")):
        try:
            cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        timed = [(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0), i,
                  "".join(c.get("source", "")).strip().splitlines()[0][:70] if c.get("source") else "")
                 for i, c in enumerate(cells) if c.get("cell_type") == "code"]
        out[nb.stem] = sorted(timed, reverse=True)[:n]
    return out


def _gb(n: int) -> str:
    return f"{n / GIB:6.2f}"


def print_figures(fig: RunFigures) -> None:
    """Print one run's table: per step and in total."""
    print(f"\n{fig.label}: {fig.customers:,} customers  (exit code {fig.exit_code}; "
          f"load average {fig.load_before:.2f} before, {fig.load_after:.2f} after)")
    print(f"  {'step':<22}{'status':<12}{'wall s':>9}{'kernel cpu s':>14}{'peak RSS GB':>13}")
    for sf in fig.steps.values():
        wall = f"{sf.wall_s:9.1f}" if sf.wall_s is not None else f"{'-':>9}"
        print(f"  {sf.step:<22}{sf.status:<12}{wall}{sf.cpu_s:14.1f}{_gb(sf.peak_rss):>13}")
    pre = f"{fig.before_first_step_s:9.1f}" if fig.before_first_step_s is not None else f"{'-':>9}"
    post = f"{fig.after_last_step_s:9.1f}" if fig.after_last_step_s is not None else f"{'-':>9}"
    print(f"  {'(before 1st step)':<22}{'':<12}{pre}{'':>14}{_gb(fig.runner_peak_rss):>13}  runner process")
    print(f"  {'(after last step)':<22}{'':<12}{post}")
    print(f"  {'TOTAL':<22}{'':<12}{fig.wall_s:9.1f}{'':>14}{_gb(fig.tree_peak_rss):>13}  whole process tree")
    if fig.slow_cells:
        print("  slowest cells (s, cell index, first line):")
        for step, cells in fig.slow_cells.items():
            print(f"    {step}: " + "; ".join(f"{d:.1f} s #{i} {src}" for d, i, src in cells))


def save(fig: RunFigures) -> Path:
    """Write the figures as JSON to ``benchmarks/.cache/results-<label>.json``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"results-{fig.label}.json"
    doc: dict[str, Any] = {k: v for k, v in fig.__dict__.items() if k != "steps"}
    doc["steps"] = [sf.__dict__ for sf in fig.steps.values()]
    doc["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=1_000_000,
                   help="customers of the large dataset (default %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="generation seed (default %(default)s)")
    p.add_argument("--config", default="campaigns/holiday-2025.yaml", help="campaign config to copy")
    p.add_argument("--only", nargs="+", default=None, metavar="STEP", help="steps to run (default all)")
    p.add_argument("--jobs", type=int, default=1,
                   help="playbook run --jobs for the large dataset (default 1: memory target)")
    p.add_argument("--sample-jobs", type=int, default=2,
                   help="playbook run --jobs for the sample (default 2, as make demo)")
    p.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in s (default 3600)")
    p.add_argument("--interval", type=float, default=0.25, help="memory sampling interval in s")
    p.add_argument("--skip-1m", "--skip-large", dest="skip_large", action="store_true",
                   help="run the bundled sample only")
    p.add_argument("--skip-sample", action="store_true", help="run the large dataset only")
    args = p.parse_args(argv)
    config = (ROOT / args.config).resolve()
    runs: list[RunFigures] = []
    if not args.skip_sample:
        runs.append(run_playbook("sample", 20_000, config, ensure_sample(), args.only, args.sample_jobs,
                                 args.timeout, args.interval))
        print_figures(runs[-1])
    if not args.skip_large:
        src = ensure_dataset(args.customers, args.seed)
        n = json.loads((src / "truth.json").read_text())["rows"]["customers"]
        runs.append(run_playbook(f"customers-{args.customers}", n, config, src, args.only,
                                 args.jobs, args.timeout, args.interval))
        print_figures(runs[-1])
    print("\n==== summary")
    for fig in runs:
        print_figures(fig)
        print(f"  figures saved to {save(fig).relative_to(ROOT)}")
    return max((f.exit_code or 0) for f in runs) if runs else 0


if __name__ == "__main__":
    sys.exit(main())
