"""Experiments: inventory of configured tests and their arms.

Counts come from the ``assignments`` table in the engine; the configured allocation comes from
the campaign config. The rest of the experiment step lives in:

* :mod:`playbook.experiments.stats`: the statistics (tests, intervals, CUPED, corrections,
  sequential boundaries, Bayesian view, power), vectorised and proven by simulation;
* :mod:`playbook.experiments.data`: engine-side per-user outcomes, daily paths and history;
* :mod:`playbook.experiments.design`: sample size, duration, detectable effect, assignment;
* :mod:`playbook.experiments.analysis`: per-experiment analysis and decisions;
* :mod:`playbook.experiments.report`: the tables, charts and sentences about the analyses;
* :mod:`playbook.experiments.incrementality`: holdout experiments against channel spend (used by
  the retrospective step).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from playbook.data.warehouse import Warehouse
from playbook.report.charts import empty_chart

#: Inventory status of every arm when the data has no ``assignments`` table.
NO_TABLE = "no assignments table"
NOT_IN_CONFIG = "(not in config)"


def experiment_inventory(wh: Warehouse, experiments: Sequence) -> pd.DataFrame:
    """Configured experiments with the size of each arm found in the data.

    Parameters
    ----------
    wh : Warehouse
        Connected data source (needs ``assignments``).
    experiments : sequence of experiment configs
        Objects with ``id``, ``primary_metric``, ``variants`` and ``allocation``
        (``playbook.config.campaign`` models).

    Returns
    -------
    pandas.DataFrame
        One row per experiment and arm: ``experiment_id``, ``primary_metric``, ``variant``,
        ``planned_share``, ``assigned`` (customers), ``share`` (observed), ``first_assigned``,
        ``last_assigned``, ``status`` ("ok", "no assignments", "unplanned arm" for arms in the data
        but not in the config, "no assignments table" for every arm when the data has none).
        Experiments in the data but not in the config are listed with ``primary_metric``
        "(not in config)".
    """
    cols = ["experiment_id", "primary_metric", "variant", "planned_share", "assigned", "share",
            "first_assigned", "last_assigned", "status"]
    if wh.has("assignments"):
        a = wh.table("assignments")
        counts = (
            a.group_by(["experiment_id", "variant"])
            .aggregate(assigned=a.customer_id.nunique(), first_assigned=a.assigned_ts.min(),
                       last_assigned=a.assigned_ts.max())
            .execute()
        )
    else:
        counts = pd.DataFrame(columns=["experiment_id", "variant", "assigned", "first_assigned",
                                       "last_assigned"])
    planned = pd.DataFrame(
        [
            {"experiment_id": e.id, "primary_metric": e.primary_metric, "variant": v,
             "planned_share": float(share)}
            for e in experiments
            for v, share in zip(e.variants, e.allocation or [1 / len(e.variants)] * len(e.variants),
                                strict=True)
        ],
        columns=["experiment_id", "primary_metric", "variant", "planned_share"],
    )
    out = planned.merge(counts, on=["experiment_id", "variant"], how="outer")
    known = set(planned["experiment_id"])
    out["primary_metric"] = out["primary_metric"].fillna(NOT_IN_CONFIG)
    out["assigned"] = out["assigned"].fillna(0).astype("int64")
    totals = out.groupby("experiment_id")["assigned"].transform("sum")
    out["share"] = out["assigned"] / totals.where(totals > 0)
    out["status"] = "ok"
    out.loc[out["assigned"] == 0, "status"] = "no assignments"
    out.loc[out["planned_share"].isna() & out["experiment_id"].isin(known), "status"] = "unplanned arm"
    if not wh.has("assignments"):
        out["status"] = NO_TABLE
    order = {e.id: i for i, e in enumerate(experiments)}
    out["_o"] = out["experiment_id"].map(order).fillna(len(order))
    return out.sort_values(["_o", "experiment_id", "variant"], ignore_index=True)[cols]


def plot_inventory(inventory: pd.DataFrame) -> plt.Figure:
    """Horizontal bars: customers per arm of each experiment, with the planned share marked."""

    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.35 * len(inventory) + 1)))
    if inventory.empty or inventory["assigned"].sum() == 0:
        empty_chart(ax, "No experiment assignments found")
        return fig
    labels = inventory["experiment_id"] + " · " + inventory["variant"].astype(str)
    ax.barh(labels, inventory["assigned"], color="#1f4e79")
    ax.invert_yaxis()
    ax.set_title("Customers assigned to each experiment arm")
    ax.set_xlabel("customers assigned")
    fig.tight_layout()
    return fig


def describe_inventory(inventory: pd.DataFrame) -> str:
    """Plain-language sentence about the experiments found (Markdown)."""
    if inventory.empty:
        return "No experiments are configured for this campaign and none were found in the data."
    configured = inventory["primary_metric"] != NOT_IN_CONFIG
    if not configured.any():
        found = list(dict.fromkeys(inventory["experiment_id"]))
        return (f"The assignments table holds {len(found)} experiment(s) that are not in the campaign "
                f"file ({', '.join(found)}); add them under `experiments:` to size and analyse them.")
    if (inventory["status"] == NO_TABLE).all():
        n = inventory["experiment_id"].nunique()
        return (f"{n} experiment(s) configured and none started: the data has no assignments table "
                "yet, so the design below sizes them and nothing can be analysed.")
    n_exp = inventory["experiment_id"].nunique()
    assigned = int(inventory["assigned"].sum())
    missing = sorted(set(inventory.loc[inventory["status"] == "no assignments", "experiment_id"]))
    text = f"{n_exp} experiment(s) with {assigned:,} assignments in total."
    if missing:
        text += f" No assignments yet for: {', '.join(missing)}."
    return text
