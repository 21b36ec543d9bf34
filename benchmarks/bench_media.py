"""Time the plan's media model: fit (MAP + bootstrap draws) and optimise the season budget (issue 17 item 7).

Times :func:`playbook.steps.plan.run_budget` (the media model's fit with its draws, the split on the
draws, the pacing and the target-ROAS search) on a data folder, after loading the history and the
forecast it needs (not timed). The model sees days x channels, so its cost follows the history's
length, not the number of customers.

Usage::

    .venv/bin/python benchmarks/bench_media.py                       # bundled sample (data/sample)
    .venv/bin/python benchmarks/bench_media.py --source benchmarks/.cache/customers_1000000_seed42

Needs ``PLAYBOOK_PSEUDONYM_KEY`` or a project key (nothing pseudonymous is written).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playbook.config.loader import load_config
from playbook.data.source import DataSource
from playbook.data.warehouse import connect
from playbook.steps import plan as plan_step

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Print the fit-and-optimise time of the plan's budget on one data folder."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=str(ROOT / "data" / "sample"), help="data folder (default data/sample)")
    p.add_argument("--config", default=str(ROOT / "campaigns" / "holiday-2025.yaml"), help="campaign file")
    p.add_argument("--repeat", type=int, default=2, help="timed repetitions (default 2)")
    args = p.parse_args()
    cfg = load_config(args.config)
    wh = connect(DataSource.from_config(cfg.data, args.source))
    wh.default_country, wh.day_zone = cfg.countries[0], cfg.timezone
    hist = plan_step.load_history(wh, cfg)
    fc = plan_step.run_forecast(wh, cfg, hist)
    for i in range(args.repeat):
        t0 = time.perf_counter()
        bud = plan_step.run_budget(wh, cfg, fc, hist, None, seed=42)
        wall = time.perf_counter() - t0
        days = bud.spend["day"].nunique() if not bud.spend.empty else 0
        n = len(bud.model.draws) if bud.model is not None else 0
        print(f"run {i + 1}: {wall:.1f} s for {days} days x {len(cfg.channels)} channels, {n} draws, "
              f"split of {len(bud.plan)} channels")


if __name__ == "__main__":
    main()
