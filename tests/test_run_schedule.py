"""Tests for the step graph and the scheduler of playbook.run, without kernels.

The kernel run of a step is replaced by a sleep, so the order, the concurrency and the skips of
the scheduler are checked in milliseconds; ``--only`` and ``--jobs`` parsing and the batch
result table need no kernel either.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from playbook.errors import RunError
from playbook.run import execute, graph, schedule
from playbook.run.graph import STEPS, resolve_steps
from playbook.run.results import RunResult, StepResult, exit_code, summary_table


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, list(STEPS)),
        ("plan", ["01_plan"]),
        (["5", "plan", "02_segment"], ["01_plan", "02_segment", "05_retrospective"]),
        ("test,personalize", ["03_personalize", "04_test"]),
        (["04", "04_test.ipynb"], ["04_test"]),
    ],
    ids=["all", "short", "mixed-order", "comma", "dedup"],
)
def test_resolve_steps(only, expected):
    assert resolve_steps(only) == expected


def test_unknown_step():
    with pytest.raises(RunError, match=r"Unknown step 'segmnt'\. Choose from \[.*'02_segment'"):
        resolve_steps(["plan", "segmnt"])


def test_exit_code_and_summary_table():
    ok = RunResult("a", "a.yaml", "ok", "published", {"01_plan": StepResult("01_plan", "ok")},
                   report_dir=Path("reports/a"), duration_s=3.2)
    bad = RunResult("b", "b.yaml", "timeout", "04_test: timeout: cell 5 ran longer than 2 s",
                    {"04_test": StepResult("04_test", "timeout")}, failed_dir=Path("reports/_failed/b-1"))
    assert exit_code([ok]) == 0
    assert exit_code([ok, bad]) == 1
    table = summary_table([ok, bad])
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["campaign", "status", "steps"]
    assert lines[1].startswith("a ") and "1/1 ok" in lines[1] and "reports/a" in lines[1]
    assert "timeout" in lines[2] and "reports/_failed/b-1" in lines[2]
    assert lines[-1] == "1 of 2 campaign(s) ok"


# ------------------------------------------------------------------ scheduler without kernels


def _fake_kernels(monkeypatch, fail=(), seconds=0.1):
    """Replace the kernel run by a sleep; record start/end and the peak of concurrent steps."""
    import threading
    import time

    lock, log, state = threading.Lock(), {}, {"now": 0, "peak": 0}

    def fake(run, step):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        t0 = time.monotonic()
        time.sleep(seconds.get(step, 0.1) if isinstance(seconds, dict) else seconds)
        with lock:
            state["now"] -= 1
            log[step] = (t0, time.monotonic())
        return StepResult(step, "failed" if step in fail else "ok", message=f"{step}: planted")

    monkeypatch.setattr(schedule, "run_step", fake)
    return log, state


def _schedule(steps, jobs):
    results = {s: StepResult(s) for s in steps}
    done: list[str] = []
    run = SimpleNamespace(slug="x", say=lambda _m: None, cancel=None)
    schedule.schedule(run, graph.run_graph(steps), jobs, results, lambda r: done.append(r.step))
    return results, done


@pytest.mark.parametrize("jobs", [1, 2, 3], ids=["j1", "j2", "j3"])
@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        ((), {s: "ok" for s in STEPS}),
        (("02_segment",), {**{s: "ok" for s in STEPS}, "02_segment": "failed", "03_personalize": "skipped"}),
        (("01_plan", "04_test"), {"01_plan": "failed", "02_segment": "ok", "03_personalize": "ok",
                                  "04_test": "failed", "05_retrospective": "skipped"}),
    ],
    ids=["all-ok", "segment-fails", "plan-and-test-fail"],
)
def test_scheduler_order_concurrency_and_skips(monkeypatch, jobs, fail, expected):
    log, state = _fake_kernels(monkeypatch, fail)
    results, done = _schedule(list(STEPS), jobs)
    assert {s: r.status for s, r in results.items()} == expected  # same outcome for every jobs
    assert state["peak"] == min(jobs, 3)  # 01, 02 and 04 are ready at once
    for step, deps in graph.DEPENDENCIES.items():
        for dep in deps:
            if step in log:
                assert log[step][0] >= log[dep][1], (step, dep)
    if jobs == 1:
        assert done == [s for s in STEPS if expected[s] != "skipped"]  # today's order


def test_scheduler_skip_names_the_failed_step_and_only_waits_for_steps_in_the_run(monkeypatch):
    _fake_kernels(monkeypatch, fail=("04_test",))
    results, _ = _schedule(["04_test", "05_retrospective"], 2)
    assert results["05_retrospective"].message == "skipped because 04_test failed"
    log, state = _fake_kernels(monkeypatch)
    results, _ = _schedule(["03_personalize", "05_retrospective"], 2)  # dependencies not in the run
    assert all(r.status == "ok" for r in results.values()) and state["peak"] == 2


def test_run_graph_restricts_dependencies_to_the_run():
    assert graph.run_graph(list(STEPS)) == graph.DEPENDENCIES
    assert graph.run_graph(["01_plan", "05_retrospective"]) == {"01_plan": (), "05_retrospective": ("01_plan",)}


@pytest.mark.parametrize(("value", "expected"), [(None, 1), (1, 1), ("3", 3), (" 2 ", 2)],
                         ids=["none", "one", "str", "spaces"])
def test_resolve_jobs(value, expected):
    assert graph.resolve_jobs(value) == expected


@pytest.mark.parametrize("value", [0, "0", "auto", "AUTO"])
def test_resolve_jobs_auto_is_the_cpu_count(value):
    assert graph.resolve_jobs(value) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", [-1, "-2", "two", "1.5", ""])
def test_resolve_jobs_rejects_bad_values(value):
    with pytest.raises(RunError, match=r"--jobs must be a whole number .* \(got "):
        graph.resolve_jobs(value)


def test_cli_jobs_flag(capsys):
    from playbook.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["run", "c.yaml"]).jobs == 1
    assert parse(["run", "c.yaml", "--jobs", "2"]).jobs == 2
    assert parse(["run", "c.yaml", "-j", "auto"]).jobs == len(os.sched_getaffinity(0))
    for bad in ("-1", "x"):
        with pytest.raises(SystemExit) as exc:
            parse(["run", "c.yaml", "--jobs", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "argument -j/--jobs: must be a whole number of parallel kernels >= 1" in err
        assert f"(got '{bad}')" in err


def test_cli_run_passes_jobs_to_the_batch(monkeypatch, capsys):
    from playbook import cli

    seen = {}

    def fake_run_campaigns(paths, **kw):
        seen.update(kw)
        return [RunResult("a", "a.yaml", "ok", "published", report_dir=Path("reports/a"))]

    monkeypatch.setattr(cli, "run_campaigns", fake_run_campaigns)
    assert cli.main(["run", "a.yaml", "--jobs", "2", "--no-validate"]) == 0
    assert seen["jobs"] == 2
    assert "pii_values" not in seen and "pii_guard" not in seen  # the runner guards by itself


def test_scheduler_starts_nothing_new_once_cancelled(monkeypatch):
    import threading

    log, _ = _fake_kernels(monkeypatch)
    cancel = threading.Event()
    results = {s: StepResult(s) for s in STEPS}
    run = SimpleNamespace(slug="x", say=lambda _m: None, cancel=cancel)
    # Ctrl-C arrives while the first step runs (jobs 1)
    schedule.schedule(run, graph.run_graph(list(STEPS)), 1, results, lambda _r: cancel.set())
    assert list(log) == ["01_plan"]
    assert [r.status for r in results.values()] == ["ok"] + ["skipped"] * 4
    assert results["04_test"].message == "skipped: run interrupted"


def test_critical_order_puts_heads_of_longer_chains_first():
    assert graph.critical_order(graph.run_graph(list(STEPS))) == [
        "01_plan", "02_segment", "04_test", "03_personalize", "05_retrospective"]
    # a chain of three beats chains of two; every dependency still precedes its dependants
    chains = {"a": (), "b": ("a",), "c": ("b",), "d": (), "e": ("d",)}
    monkey_steps = ("d", "e", "a", "b", "c")
    import unittest.mock as um

    with um.patch.object(graph, "STEPS", monkey_steps):
        assert graph.critical_order(chains) == ["a", "d", "b", "e", "c"]
    assert graph.critical_order(graph.run_graph(["03_personalize", "05_retrospective"])) == [
        "03_personalize", "05_retrospective"]


def test_jobs2_starts_test_before_personalize_so_the_retrospective_is_not_last_alone(monkeypatch):
    # with two slots the critical path (01 -> 05, 04 -> 05) must not queue behind 03, which
    # nothing waits for: 04_test starts before 03_personalize
    # 01_plan is the long step: when 02 ends, one slot is free and 04 (not 03) must take it
    log, _ = _fake_kernels(monkeypatch, seconds={"01_plan": 0.6})
    _schedule(list(STEPS), 2)
    assert log["04_test"][0] < log["03_personalize"][0]
    assert log["04_test"][0] < log["01_plan"][1]  # side by side with the long plan step
    assert log["05_retrospective"][0] >= max(log["01_plan"][1], log["04_test"][1])


def test_kernel_threads_splits_cpus_between_concurrent_kernels_and_restores(monkeypatch):
    import os

    for v in execute.THREAD_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")  # the user's own choice wins
    monkeypatch.setattr(execute, "resolve_jobs", lambda jobs: 4 if jobs == 0 else jobs)
    with execute.kernel_threads(2):
        assert os.environ["OMP_NUM_THREADS"] == "2" and os.environ["OPENBLAS_NUM_THREADS"] == "2"
        assert os.environ["MKL_NUM_THREADS"] == "7"
    assert "OMP_NUM_THREADS" not in os.environ and "OPENBLAS_NUM_THREADS" not in os.environ
    assert os.environ["MKL_NUM_THREADS"] == "7"
    with execute.kernel_threads(8):  # more kernels than CPUs: still one thread each
        assert os.environ["OMP_NUM_THREADS"] == "1"
    with execute.kernel_threads(1):  # one kernel: library defaults
        assert "OMP_NUM_THREADS" not in os.environ


def test_a_campaign_file_in_the_working_folder_reaches_the_notebooks_as_that_file(monkeypatch, tmp_path):
    """`cd ~/my-shop; playbook run campaign.yaml`: the notebooks (run from notebooks/) get the file
    the loader read, not the project root's campaign.yaml (every step failed: 'not found')."""
    from playbook.config.loader import load_config
    from playbook.run.campaign import run_campaigns

    text = (Path(__file__).resolve().parents[1] / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8")
    (tmp_path / "campaign.yaml").write_text(text.replace("slug: holiday-2025", "slug: my-shop"), encoding="utf-8")
    seen = {}

    def fake(run, step):
        seen[step] = run.params["config_path"]
        return StepResult(step, "failed", message=f"{step}: planted")

    monkeypatch.setattr(schedule, "run_step", fake)
    monkeypatch.chdir(tmp_path)
    run_campaigns(["campaign.yaml"], only=["plan"], loader=load_config, reports_root=tmp_path / "reports")
    assert seen == {"01_plan": str((tmp_path / "campaign.yaml").resolve())}
