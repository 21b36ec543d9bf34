"""Benchmark: BG/NBD + Gamma-Gamma fit and scoring on a million simulated customers.

Run: ``.venv/bin/python benchmarks/bench_clv.py [n_customers]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from playbook.data import synth
from playbook.value import clv


def main(n: int = 1_000_000) -> None:
    rng = np.random.default_rng(0)
    d = synth.simulate_bgnbd(n, 0.8, 5.0, 1.5, 4.0, T=rng.uniform(20, 150, n), seed=1)
    t0 = time.perf_counter()
    m = clv.BGNBD().fit(d["frequency"], d["recency"], d["T"])
    t1 = time.perf_counter()
    exp = m.expected_purchases(52.0, d["frequency"], d["recency"], d["T"])
    m.p_alive(d["frequency"], d["recency"], d["T"])
    t2 = time.perf_counter()
    x = d["frequency"].to_numpy() + 1
    nu = rng.gamma(6.0, 1 / 50.0, n)
    spend = rng.gamma(4.0 * x, 1 / (nu * x))
    gg = clv.GammaGamma().fit(x, spend)
    value = exp * gg.expected_spend(x, spend)
    t3 = time.perf_counter()
    print(f"{n:,} customers: BG/NBD fit {t1 - t0:.1f} s, scoring {t2 - t1:.1f} s, "
          f"Gamma-Gamma fit + value {t3 - t2:.1f} s; params {m.params_}; mean CLV {value.mean():.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
