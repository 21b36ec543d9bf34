"""Benchmark synthetic data generation: wall time, CPU time, peak RSS and bytes written.

Usage: ``python benchmarks/bench_synth.py --customers 1000000 --out /tmp/bench_sample``

CPU time (user + system) is reported next to wall time because wall time is unreliable on a
shared machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from playbook.data import synth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="/tmp/bench_synth")
    parser.add_argument("--chunk-customers", type=int, default=synth.CHUNK_CUSTOMERS,
                        help="accounts per generation chunk (default %(default)s)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    truth = synth.generate(n_customers=args.customers, seed=args.seed, out_dir=args.out,
                           chunk_customers=args.chunk_customers,
                           progress=lambda m: print(f"  [{time.perf_counter() - t0:7.1f} s] {m}", flush=True))
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss  # KiB on Linux
    written = sum(p.stat().st_size for p in Path(args.out).iterdir())
    print(f"customers={args.customers:,} chunk={args.chunk_customers:,} wall={wall:.1f}s "
          f"cpu={usage.ru_utime + usage.ru_stime:.1f}s peak_rss={peak_kib / 1024**2:.2f}GiB "
          f"bytes_written={written / 1024**2:.1f}MiB")
    print("rows: " + ", ".join(f"{k}={v:,}" for k, v in truth["rows"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
