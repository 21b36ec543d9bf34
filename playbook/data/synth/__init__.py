"""Deterministic synthetic retail data with planted ground truth.

:func:`generate` writes every canonical table of :mod:`playbook.data.contract` as Parquet plus
``truth.json`` (everything that was planted) and ``truth_customers.parquet`` (per-customer planted
values). Same arguments -> byte-identical files. Everything is vectorised numpy/pyarrow: no Python
loop runs over customers, orders or events (loops run over countries, archetypes, days-free
campaign lists, experiments and chunks of customers only).

Memory: per-account parameters and the customers/products/spend/assignments tables are built
for all accounts at once; orders, order items, events, messages and touches are generated per
chunk of ``chunk_customers`` accounts (child seed per chunk) and streamed to Parquet row groups,
so 1,000,000 customers need about 1.5 GiB (see ``benchmarks/bench_synth.py``).

What is planted (details and numbers in ``truth.json``):

* **Demand**: weekday multipliers, an annual cycle, a growth trend and retail-event peaks per
  country (:mod:`playbook.forecasting.calendar` dates), a post-Black-Friday dip. Purchase times of the
  buy-till-you-die process are *time-warped* through each country's cumulative demand curve,
  so the number of purchases per customer follows BG/NBD exactly in "operational time" (one
  operational week = one calendar week on average over the whole period) while daily totals
  show the calendar effects.
* **Customers**: archetypes with BG/NBD (Fader, Hardie & Lee 2005) purchase/dropout parameters
  and Gamma-Gamma (Fader, Hardie & Lee 2005b) spend; signups over time; consent; erasure.
* **Orders** (web/app/store), order items with co-purchase clusters, promo codes, refunds as
  separate ``R``-prefixed rows with negative revenue.
* **Media**: daily spend per paid channel, incremental orders from a saturating response curve
  ``beta * (1 - exp(-spend / kappa))`` per channel (additive to the customer process).
* **Touches** (multi-touch paths) from a known incremental conversion model in which
  ``direct`` and ``paid_search`` tend to come last without causing much.
* **Experiments** in the 2025 campaign window with known true lift, an A/A test and an email
  holdout.
* **Data-quality defects** at exact counts (``truth["defects"]``, computed from the written
  tables with the definitions in :data:`DEFECT_DEFINITIONS`).

Modules: :mod:`~playbook.data.synth.params` (every planted number),
:mod:`~playbook.data.synth.demand` (demand curves), :mod:`~playbook.data.synth.bgnbd` (purchase
process), :mod:`~playbook.data.synth.customers` (accounts, products),
:mod:`~playbook.data.synth.orders`, :mod:`~playbook.data.synth.behaviour` (events, messages,
touches), :mod:`~playbook.data.synth.media` (spend), :mod:`~playbook.data.synth.experiments`,
:mod:`~playbook.data.synth.defects`, :mod:`~playbook.data.synth.truth` (``truth.json``),
:mod:`~playbook.data.synth.writer` (Parquet, atomic swap), :mod:`~playbook.data.synth.build`
(:func:`generate`, chunking) and :mod:`~playbook.data.synth.minimal` (:func:`write_minimal`, an
orders-only CSV export cut from a generated folder). The names below are the package's public interface (used by the
``playbook generate-data`` command, the tests and the benchmarks).

Approximations: all times are UTC (no local time zones); the email/free-shipping experiment
effects and media-driven orders come on top of the BG/NBD process, so ``p_buy_window`` in
``truth_customers.parquet`` is the BG/NBD-only probability. Non-converting touch journeys are
sampled per chunk, in proportion to the chunk's converting journeys.
"""

from playbook.data.synth.bgnbd import bgnbd_expected_frequency, simulate_bgnbd
from playbook.data.synth.build import generate
from playbook.data.synth.defects import count_defects
from playbook.data.synth.minimal import write_minimal
from playbook.data.synth.params import (
    CHUNK_CUSTOMERS,
    DEFECT_DEFINITIONS,
    DEFECT_RATES,
    EXPERIMENT_IDS,
)
from playbook.data.synth.writer import STREAMED_TABLES

__all__ = [
    "CHUNK_CUSTOMERS",
    "DEFECT_DEFINITIONS",
    "DEFECT_RATES",
    "EXPERIMENT_IDS",
    "STREAMED_TABLES",
    "bgnbd_expected_frequency",
    "count_defects",
    "generate",
    "simulate_bgnbd",
    "write_minimal",
]
