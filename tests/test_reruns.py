"""Issue 18 item 9: with the same inputs and seed, a rerun writes the same bytes.

Two layers:

* **Process level** (:func:`test_plan_and_retrospective_reruns_write_identical_bytes`): the plan and
  retrospective steps (the ones writing ``forecast``, ``attribution``, ``incrementality`` and
  ``next_budget``) are run twice with ``playbook run --only plan retrospective``, as a user does,
  in two processes with different ``PYTHONHASHSEED`` values, at the same time (so DuckDB's
  threads and the two kernels compete as they would), on the small sample; every file under
  ``artifacts/`` and ``exports/`` must be byte-identical. Left out, because they legitimately
  carry when, where and how long a run took: the run's ``summary.json`` (``run_at``,
  ``duration_s``, the config path), the executed notebooks ``*.ipynb`` (papermill's timings
  and random cell ids) and the pages ``*.html`` / ``index.html`` (random cell and table-style
  ids, the appendix's config path, staging folder, run time and run minute). The step pages are
  still compared, with exactly those parts masked (:func:`_masked_page`).
* **Causes** (the other tests): every engine-side float ``SUM`` of the plan and retrospective
  (daily sales, path revenue and rule-based credits, spend, holdout arm totals) added the rows
  in the order DuckDB met them, which changes from run to run with its threads
  (https://duckdb.org/docs/stable/operations_manual/non-deterministic_behavior.html); the
  data-driven attribution models added floats in the order of the paths table's rows; and the
  step summaries carried a ``written_at`` time. The order dependence is reproduced on demand by
  a twin of the sample whose tables hold the same rows in another order (a single-threaded
  scan of a small file meets the rows in file order): the same results must come back bit for
  bit. Reference: the first copy's result (same code, same rows), compared exactly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from playbook.artifacts import write_artifact, write_step_summary
from playbook.data.aggregates import daily_sales, exact_sum
from playbook.data.warehouse import Warehouse, connect
from playbook.experiments.incrementality import arm_outcomes
from playbook.media import attribution as A
from playbook.media import efficiency as E
from playbook.media import paths as MP
from playbook.paths import REPORT_MARKER
from playbook.steps import retrospective as R
from playbook.steps.context import start_step
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "campaigns/holiday-2025.yaml"
START, END = "2025-11-01", "2025-12-31"
HOLDOUT = "xmas25_email_holdout"


# --------------------------------------------------------------------------------------------
# Process level: `playbook run` twice, different PYTHONHASHSEED, compare bytes
# --------------------------------------------------------------------------------------------
def _campaign(out: Path, data: Path) -> str:
    """The example campaign with data.source and output.dir pointed at ``data`` and ``out``."""
    text = (ROOT / CONFIG).read_text(encoding="utf-8")
    text, n_src = re.subn(r"(?m)^(\s+source:)\s*data/sample\b", rf"\g<1> {data}", text)
    text, n_out = re.subn(r"(?m)^(\s+dir:)\s*null\b", rf"\g<1> {out}", text)
    assert (n_src, n_out) == (1, 1), "campaigns/holiday-2025.yaml changed: update _campaign"
    return text


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two `playbook run --only plan retrospective` of the example campaign on the small sample,
    in two processes started together with PYTHONHASHSEED 1 and 2; returns the report folders."""
    tmp = tmp_path_factory.mktemp("reruns")
    data = small_sample()
    procs, outs = [], []
    for seed in (1, 2):
        out = tmp / f"run{seed}" / "reports" / "holiday-2025"  # pages name the folder "reports/"
        cfg = tmp / f"run{seed}.yaml"
        cfg.write_text(_campaign(out, data), encoding="utf-8")
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "playbook.cli", "run", str(cfg), "--only", "plan", "retrospective",
             "--timeout", "600"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs.append(out)
    for p in procs:
        log, _ = p.communicate(timeout=900)
        assert p.returncode == 0, log[-4000:]
    return outs


#: Files that legitimately differ between runs (see the module docstring).
EXCLUDED = re.compile(r"^(summary\.json|.*\.ipynb|.*\.html)$")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not EXCLUDED.match(p.relative_to(root).as_posix())}


@pytest.mark.notebooks
def test_plan_and_retrospective_reruns_write_identical_bytes(two_runs: list[Path]) -> None:
    first, second = (_files(r) for r in two_runs)
    assert {"artifacts/forecast.parquet", "artifacts/attribution.parquet", "artifacts/incrementality.parquet",
            "artifacts/next_budget.parquet", "artifacts/summary.json", "artifacts/budget_plan.parquet"} <= set(first)
    assert all(name.startswith(("artifacts/", "exports/")) or name == REPORT_MARKER for name in first)
    assert sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert differ == [], f"files that differ between two runs with the same inputs: {differ}"


def _masked_page(path: Path) -> str:
    """A step page without what legitimately changes between runs: papermill's random cell ids,
    table ids (taken from the table's content, so the appendix's differ) and the appendix's config
    path, output folder, run time."""
    html = path.read_text(encoding="utf-8")
    html = re.sub(r"cell-id=[0-9a-f-]+", "cell-id=", html)
    html = re.sub(r"\bT_[0-9a-f]{5}", "T_", html)
    for label in ("config_path", "output_dir", "run at (UTC)", "step run time"):
        html = re.sub(rf"(<t[hd][^>]*>{re.escape(label)}</t[hd]>\s*<td[^>]*>)[^<]*", r"\1", html)
    return html


@pytest.mark.notebooks
@pytest.mark.parametrize("page", ["01_plan.html", "05_retrospective.html"])
def test_step_pages_show_the_same_figures_on_a_rerun(two_runs: list[Path], page: str) -> None:
    a, b = (_masked_page(r / page) for r in two_runs)
    assert "step run time" in a and a == b


# --------------------------------------------------------------------------------------------
# Causes: the same rows in another order must give the same bits
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small sample and a copy whose every table holds the same rows in a shuffled order."""
    src = small_sample()
    dst = tmp_path_factory.mktemp("shuffled") / "sample"
    dst.mkdir()
    rng = np.random.default_rng(18)
    for f in sorted(src.iterdir()):
        if f.suffix == ".parquet":
            table = pq.read_table(f)
            pq.write_table(table.take(rng.permutation(table.num_rows)), dst / f.name)
        else:
            shutil.copy(f, dst / f.name)
    return src, dst


@pytest.fixture(scope="module")
def warehouses(twins: tuple[Path, Path]) -> tuple[Warehouse, Warehouse]:
    return connect(twins[0]), connect(twins[1])


def _same_bits(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


def test_the_twin_reorders_a_plain_engine_sum(warehouses: tuple[Warehouse, Warehouse]) -> None:
    """Precondition of the tests below: on the shuffled twin a plain SUM of the same orders'
    revenue per day gives other last bits on some day (so the twin really exercises the order)."""
    sums = []
    for wh in warehouses:
        o = wh.table("orders")
        sums.append(o.group_by(day=o.order_ts.date()).aggregate(s=o.revenue.sum()).order_by("day").execute())
    assert (sums[0]["day"] == sums[1]["day"]).all()
    assert (sums[0]["s"] != sums[1]["s"]).any()
    assert np.allclose(sums[0]["s"], sums[1]["s"], rtol=1e-12)


def test_exact_sum_is_the_same_in_any_order_and_exact() -> None:
    # 1e16 + 1 rounds away the 1 in doubles: a plain sum depends on the order, the exact one does not
    values = [1e16, 1.0, -1e16, 0.1, 0.2, 0.3]
    got = []
    for order in (values, values[::-1], sorted(values)):
        m = ibis.memtable(pd.DataFrame({"x": order}))
        got.append(m.aggregate(e=exact_sum(m.x), p=m.x.sum()).execute().iloc[0])
    assert len({g["p"] for g in got}) > 1  # the plain SUM moves with the order
    assert [g["e"] for g in got] == [1.6, 1.6, 1.6]  # exact: 1 + 0.6, whatever the order


def test_exact_sum_keeps_sql_semantics_for_odd_values() -> None:
    t = ibis.memtable(pd.DataFrame({"g": [1, 1, 2, 2, 3, 4, 4], "x": [1.5, 2.5, np.inf, 1.0, None, 3e20, 1.0],
                                    "n": [1, 2, 3, 4, 5, 6, 7]}))
    got = t.group_by("g").aggregate(s=exact_sum(t.x), n=exact_sum(t.n), w=exact_sum(t.x, where=t.n > 1)) \
        .order_by("g").execute()
    assert got["s"].tolist()[:2] == [4.0, np.inf] and np.isnan(got["s"][2]) and got["s"][3] == 3e20 + 1.0
    assert got["n"].tolist() == [3.0, 7.0, 5.0, 13.0] and got["n"].dtype == "float64"
    assert got["w"][0] == 2.5 and np.isnan(got["w"][2])  # null where no row is added, as SUM


@pytest.mark.parametrize("by", [(), ("channel",), ("category",)], ids=["total", "channel", "category"])
def test_daily_sales_do_not_depend_on_the_row_order(warehouses: tuple[Warehouse, Warehouse], by: tuple) -> None:
    a, b = (daily_sales(wh, "2024-10-01", END, by=by) for wh in warehouses)
    assert a["revenue"].sum() > 0
    _same_bits(a, b)


def test_paths_and_rule_based_credit_do_not_depend_on_the_row_order(
        warehouses: tuple[Warehouse, Warehouse]) -> None:
    a, b = (MP.build_paths(wh, START, END) for wh in warehouses)
    _same_bits(a.paths, b.paths)
    _same_bits(a.rule_credit, b.rule_credit)
    _same_bits(a.daily_credit, b.daily_credit)
    assert a.rule_credit["channel"].tolist() == sorted(a.rule_credit["channel"])  # a fixed row order too


def test_data_driven_models_do_not_depend_on_the_paths_row_order(warehouses: tuple[Warehouse, Warehouse]) -> None:
    paths = MP.build_paths(warehouses[0], START, END).paths
    shuffled = paths.sample(frac=1.0, random_state=3).reset_index(drop=True)
    for model in (A.markov_attribution, A.shapley_attribution):
        _same_bits(model(paths), model(shuffled))


def test_spend_does_not_depend_on_the_row_order(warehouses: tuple[Warehouse, Warehouse]) -> None:
    a, b = (E.daily_spend(wh, START, END) for wh in warehouses)
    _same_bits(a, b)
    assert E.total_spend(warehouses[0]) == E.total_spend(warehouses[1]) > 0


def test_holdout_arms_do_not_depend_on_the_row_order(warehouses: tuple[Warehouse, Warehouse]) -> None:
    a, b = (arm_outcomes(wh, HOLDOUT, START, END) for wh in warehouses)
    assert len(a) == 2 and (a["revenue"] > 0).all()
    _same_bits(a, b)


@pytest.fixture(scope="module")
def retro_twins(twins: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The retrospective's attribution, holdout, media and summary on both copies; their folders."""
    outs = []
    for i, data in enumerate(twins):
        out = tmp_path_factory.mktemp(f"retro{i}") / "holiday-2025"
        ctx = start_step("05_retrospective", CONFIG, str(data), str(out), 42)
        attr = R.attribution(ctx)
        media = R.media(ctx, attr)
        budget = media.budget.copy()
        budget.attrs = {}
        write_artifact(attr.credit, out, "attribution")
        write_artifact(R.incrementality(ctx, attr), out, "incrementality")
        write_artifact(budget, out, "next_budget")
        write_artifact({"gain": media.budget.attrs.get("gain")}, out, "next_budget_gain")
        outs.append(out / "artifacts")
    return outs


@pytest.mark.parametrize("name", ["attribution.parquet", "incrementality.parquet", "next_budget.parquet",
                                  "next_budget_gain.json"])
def test_retrospective_artifacts_do_not_depend_on_the_row_order(retro_twins: list[Path], name: str) -> None:
    a, b = ((d / name).read_bytes() for d in retro_twins)
    assert a == b, name


def test_step_summary_is_the_same_bytes_when_written_again(tmp_path: Path) -> None:
    paths = [write_step_summary(tmp_path / f"run{i}", "05_retrospective", {"revenue": "$1", "orders": 3},
                                ["a note"]) for i in (1, 2)]
    assert json.loads(paths[0].read_text(encoding="utf-8")) == {
        "step": "05_retrospective", "headline": {"revenue": "$1", "orders": 3}, "notes": ["a note"]}
    assert paths[0].read_bytes() == paths[1].read_bytes()
