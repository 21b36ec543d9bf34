"""Micro-benchmarks of the heavy playbook functions at several sizes, to show how cost grows.

Usage::

    .venv/bin/python benchmarks/bench_functions.py                       # 100,000 and 1,000,000
    .venv/bin/python benchmarks/bench_functions.py --sizes 20000 100000 --only features rfm

Each size runs in its own subprocess (so one size's memory never inflates the next) on the
dataset cached by ``bench_playbook.py`` (``benchmarks/.cache/customers_<N>_seed<S>/``, generated
once if missing), with the example campaign's config. Every function is called once, in the order
the notebooks call them (identity resolution feeds the features, the features feed RFM and the
clusters). Per function it records wall time, CPU time of the process (user + system, all
threads: less disturbed than wall time on a shared machine) and the peak resident memory (RSS) of
the process while the call ran, sampled every 50 ms by a thread. The final table shows, per
function, the figures for each size and the growth ratio of wall time from the smallest to the
largest size, in wall time and in CPU time, next to the ratio of customers (linear growth = the
same ratio). Peak RSS is the whole process's (earlier results such as the feature table stay in
memory), not the function's own increment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
GIB = 1024**3
FUNCTIONS = ("identity", "features", "rfm", "clustering", "clv", "propensity", "recommend",
             "attribution_paths", "attribution_models")


class PeakRSS:
    """Context manager sampling this process's RSS every ``interval`` s; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.05) -> None:
        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _timed(name: str, fn: Callable[[], Any], out: dict[str, dict]) -> Any:
    """Call ``fn`` once; record wall s, process CPU s and peak RSS bytes under ``name``."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    with PeakRSS() as mem:
        value = fn()
    out[name] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0,
                 "peak_rss": mem.peak}
    print(f"  {name:<20} {out[name]['wall_s']:8.1f} s  cpu {out[name]['cpu_s']:8.1f} s  "
          f"peak RSS {mem.peak / GIB:5.2f} GB", file=sys.stderr, flush=True)
    return value


def run_size(customers: int, seed: int, config: str, only: set[str]) -> dict[str, dict]:
    """Run the selected functions on the cached dataset of ``customers`` customers (child process)."""
    from bench_playbook import ensure_dataset

    from playbook.config.loader import load_config
    from playbook.customers import cleaning, rfm
    from playbook.data.cutoff import planning_as_of
    from playbook.data.warehouse import connect
    from playbook.media import attribution
    from playbook.media import paths as media_paths
    from playbook.steps import segment
    from playbook.value import clv, propensity, recommend

    src = ensure_dataset(customers, seed)
    cfg = load_config(config)
    wh = connect(str(src))
    ctx = SimpleNamespace(cfg=cfg, wh=wh)
    out: dict[str, dict] = {}
    need_feats = only & {"features", "rfm", "clustering"}
    ident = _timed("identity", lambda: cleaning.resolve_identities(wh), out) if (need_feats or "identity" in only) else None
    feats = _timed("features", lambda: segment.build_features(ctx, ident), out) if need_feats else None
    if "rfm" in only or "clustering" in only:
        _timed("rfm", lambda: rfm.rfm_scores(feats), out)
    if "clustering" in only:
        _timed("clustering", lambda: segment.clusters(feats, 42), out)
    if "clv" in only:
        _timed("clv", lambda: clv.fit_clv(wh, planning_as_of(cfg), horizon_days=365), out)
    if "propensity" in only:
        _timed("propensity", lambda: propensity.fit_propensity(wh, cfg, 42), out)
    if "recommend" in only:
        _timed("recommend", lambda: recommend.recommend_for_campaign(wh, cfg), out)
    if only & {"attribution_paths", "attribution_models"}:
        a = cfg.attribution
        paths = _timed("attribution_paths", lambda: media_paths.build_paths(
            wh, cfg.season.start, cfg.season.end, lookback_days=a.lookback_days,
            max_path_length=a.max_path_length, half_life_days=a.half_life_days), out)
        if "attribution_models" in only:
            _timed("attribution_models", lambda: attribution.attribute(paths, a.markov_order, seed=42), out)
    return out


def _child(customers: int, seed: int, config: str, only: list[str]) -> dict[str, dict]:
    """Run one size in a fresh interpreter; return its figures."""
    cmd = [sys.executable, __file__, "--child", str(customers), "--seed", str(seed),
           "--config", config, "--only", *only]
    print(f"\n== {customers:,} customers (load average {os.getloadavg()[0]:.2f})", flush=True)
    res = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if res.returncode != 0:
        print(f"   size {customers:,} failed (exit {res.returncode})", flush=True)
        return {}
    return json.loads(res.stdout.strip().splitlines()[-1])


def print_table(results: dict[int, dict[str, dict]]) -> None:
    """Per function: wall s / CPU s / peak RSS per size, and wall-time growth vs customer growth."""
    sizes = sorted(results)
    head = "".join(f"{f'{n:,}: wall s / cpu s / GB':>32}" for n in sizes)
    print(f"\n{'function':<20}{head}{'growth wall / cpu':>18}  (customers x{sizes[-1] / sizes[0]:.0f})"
          if len(sizes) > 1 else f"\n{'function':<20}{head}")
    for fn in FUNCTIONS:
        cells, walls = [], []
        for n in sizes:
            r = results[n].get(fn)
            walls.append(r["wall_s"] if r else None)
            cells.append(f"{r['wall_s']:10.1f} / {r['cpu_s']:7.1f} / {r['peak_rss'] / GIB:5.2f}"
                         if r else f"{'-':>26}")
        if all(w is None for w in walls):
            continue
        cpus = [results[n][fn]["cpu_s"] if fn in results[n] else None for n in sizes]
        growth = (f"{walls[-1] / walls[0]:7.1f} / {cpus[-1] / cpus[0]:4.1f}"
                  if len(sizes) > 1 and walls[0] and walls[-1] and cpus[0] and cpus[-1] else f"{'':>14}")
        print(f"{fn:<20}" + "".join(f"{c:>32}" for c in cells) + growth)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="customers")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--config", default="campaigns/holiday-2025.yaml")
    p.add_argument("--only", nargs="+", default=list(FUNCTIONS), choices=FUNCTIONS)
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_size(args.child, args.seed, args.config, set(args.only))))
        return 0
    results = {n: _child(n, args.seed, args.config, args.only) for n in args.sizes}
    results = {n: r for n, r in results.items() if r}
    if results:
        print_table(results)
    return 0 if len(results) == len(args.sizes) else 1


if __name__ == "__main__":
    sys.exit(main())
