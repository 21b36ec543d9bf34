"""Tests for the scheduling recipes in ``examples/``: the Airflow DAG and the cron wrapper.

The DAG module is imported by path (``examples/`` is not a package) without Airflow, and its pure
command builder is checked argument by argument. The cron wrapper is syntax-checked with
``bash -n`` and run against a stub ``playbook`` executable to check its exit codes, log and
lock. The DAG object itself is only tested when Airflow is installed; otherwise that test is
skipped with its reason shown (``-ra``).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = ROOT / "examples" / "airflow" / "seasonal_playbook_dag.py"
WRAPPER = ROOT / "examples" / "cron" / "run_campaigns.sh"
CRONTAB = ROOT / "examples" / "cron" / "playbook.cron"
HAVE_AIRFLOW = importlib.util.find_spec("airflow") is not None


def _load_dag_module(name: str = "seasonal_playbook_dag_under_test") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """A project folder with two campaigns and files that are not campaigns."""
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "holiday-2025.yaml").write_text("slug: holiday-2025\n")
    (campaigns / "diwali-2025.yaml").write_text("slug: diwali-2025\n")
    (campaigns / "notes.txt").write_text("not a campaign\n")
    (campaigns / "draft.yaml.bak").write_text("not a campaign\n")
    return tmp_path


# ------------------------------------------------------------------ (a) commands, no Airflow


def test_dag_module_imports_without_airflow_state():
    dag = _load_dag_module()
    assert dag.HAVE_AIRFLOW is HAVE_AIRFLOW
    assert dag.DEFAULT_HOME == ROOT
    assert hasattr(dag, "dag") is HAVE_AIRFLOW


def test_campaign_commands_exact_argv(home: Path):
    dag = _load_dag_module()
    c = home.resolve() / "campaigns"
    exe = str(home / ".venv" / "bin" / "playbook")
    assert dag.campaign_commands(home) == {
        "diwali-2025": {
            "check_config": [exe, "check-config", str(c / "diwali-2025.yaml")],
            "run": [exe, "run", str(c / "diwali-2025.yaml"), "--jobs", "1"],
        },
        "holiday-2025": {
            "check_config": [exe, "check-config", str(c / "holiday-2025.yaml")],
            "run": [exe, "run", str(c / "holiday-2025.yaml"), "--jobs", "1"],
        },
    }
    assert list(dag.campaign_commands(home)) == ["diwali-2025", "holiday-2025"]  # file-name order


def test_campaign_commands_custom_executable_and_jobs(home: Path):
    dag = _load_dag_module()
    cmds = dag.campaign_commands(home, playbook=Path("/opt/pb/bin/playbook"), jobs=3)
    assert cmds["holiday-2025"]["run"] == [
        "/opt/pb/bin/playbook", "run", str(home.resolve() / "campaigns" / "holiday-2025.yaml"),
        "--jobs", "3"]


def test_campaign_commands_no_campaigns(tmp_path: Path):
    assert _load_dag_module().campaign_commands(tmp_path) == {}


def test_task_names_sanitised_and_collisions_refused(tmp_path: Path):
    dag = _load_dag_module()
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "eid al-fitr.yaml").write_text("")
    assert list(dag.campaign_commands(tmp_path)) == ["eid_al-fitr"]
    (tmp_path / "campaigns" / "eid_al-fitr.yaml").write_text("")
    with pytest.raises(ValueError, match=r"both map to the task name 'eid_al-fitr': rename one"):
        dag.campaign_commands(tmp_path)


def test_bash_command_quotes_paths():
    dag = _load_dag_module()
    cmd = dag.bash_command(["/x/playbook", "run", "/my shop/campaigns/a.yaml", "--jobs", "1"])
    assert cmd == "/x/playbook run '/my shop/campaigns/a.yaml' --jobs 1 "


def test_settings_from_env(tmp_path: Path):
    dag = _load_dag_module()
    default = dag.settings_from_env({})
    assert (default.home, default.playbook) == (ROOT, ROOT / ".venv" / "bin" / "playbook")
    assert (default.schedule, default.timezone, default.end, default.max_active_tasks) == (
        "0 6 * * *", "UTC", None, 2)
    s = dag.settings_from_env({"PLAYBOOK_HOME": str(tmp_path), "PLAYBOOK_TZ": "Asia/Kolkata",
                               "PLAYBOOK_SEASON_START": "2025-10-01", "PLAYBOOK_SEASON_END": "2025-11-15",
                               "PLAYBOOK_MAX_ACTIVE_TASKS": "3", "PLAYBOOK_BIN": "/opt/pb"})
    assert (s.home, s.playbook, s.timezone, str(s.start), str(s.end), s.max_active_tasks) == (
        tmp_path.resolve(), Path("/opt/pb"), "Asia/Kolkata", "2025-10-01", "2025-11-15", 3)
    with pytest.raises(ValueError, match=r"PLAYBOOK_SEASON_END='15/11/2025' is not a date: .*YYYY-MM-DD"):
        dag.settings_from_env({"PLAYBOOK_SEASON_END": "15/11/2025"})
    with pytest.raises(ValueError, match=r"PLAYBOOK_MAX_ACTIVE_TASKS='0' must be a positive integer"):
        dag.settings_from_env({"PLAYBOOK_MAX_ACTIVE_TASKS": "0"})


# ------------------------------------------------------------------ (b) cron recipe

_FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]  # minute hour day month weekday
_ITEM = re.compile(r"^(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$")


def _valid_cron_field(field: str, low: int, high: int) -> bool:
    """A numeric crontab(5) field: ``*``, ``n``, ``a-b``, optionally ``/step``, comma lists."""
    for item in field.split(","):
        m = _ITEM.match(item)
        if not m:
            return False
        numbers = [int(g) for g in (m.group(2), m.group(3)) if g is not None]
        if any(not low <= n <= high for n in numbers) or (len(numbers) == 2 and numbers[0] > numbers[1]):
            return False
        if m.group(4) is not None and int(m.group(4)) < 1:
            return False
    return True


def _crontab_entries(text: str) -> tuple[dict[str, str], list[tuple[list[str], str]]]:
    env: dict[str, str] = {}
    jobs: list[tuple[list[str], str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            key, value = line.split("=", 1)
            env[key] = value
            continue
        parts = line.split(None, 5)
        assert len(parts) == 6, f"not 5 time fields + a command: {line!r}"
        jobs.append((parts[:5], parts[5]))
    return env, jobs


@pytest.mark.parametrize(("field", "index", "ok"), [
    ("0", 0, True), ("*/15", 0, True), ("60", 0, False), ("6", 1, True), ("24", 1, False),
    ("11,12", 3, True), ("13", 3, False), ("1-5", 4, True), ("5-1", 4, False), ("x", 2, False),
], ids=str)
def test_cron_field_checker(field: str, index: int, ok: bool):
    assert _valid_cron_field(field, *_FIELD_RANGES[index]) is ok


def test_wrapper_script_parses():
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    result = subprocess.run([bash, "-n", str(WRAPPER)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(WRAPPER, os.X_OK), "run_campaigns.sh must be executable (chmod +x)"
    assert "set -euo pipefail" in WRAPPER.read_text()


def test_crontab_line_parses_and_calls_the_wrapper():
    env, jobs = _crontab_entries(CRONTAB.read_text())
    assert len(jobs) == 1
    fields, command = jobs[0]
    assert fields == ["0", "6", "*", "*", "*"]
    assert all(_valid_cron_field(f, *r) for f, r in zip(fields, _FIELD_RANGES, strict=True))
    assert command.endswith("/examples/cron/run_campaigns.sh")
    assert "%" not in command  # cron turns % into a newline
    assert env["SHELL"] == "/bin/bash" and env["TZ"] and env["MAILTO"]
    assert command.startswith(env["PLAYBOOK_HOME"] + "/")


# ------------------------------------------------------------------ the wrapper, with a stub playbook


@pytest.fixture()
def stub(home: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment running the wrapper on ``home`` with a stub playbook exiting $STUB_RC."""
    if shutil.which("flock") is None:
        pytest.skip("flock(1) is not installed (util-linux)")
    exe = tmp_path / "stub-playbook"
    exe.write_text('#!/bin/sh\necho "stub: $*"\necho "cwd: $(pwd) root: $PLAYBOOK_ROOT"\nexit "${STUB_RC:-0}"\n')
    exe.chmod(0o755)
    yield {**os.environ, "PLAYBOOK_HOME": str(home), "PLAYBOOK_BIN": str(exe),
           "PLAYBOOK_LOG_DIR": str(tmp_path / "logs"), "PLAYBOOK_NOTIFY": ""}


def _run_wrapper(env: dict[str, str], rc: int, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    result = subprocess.run([str(WRAPPER), *args], env={**env, "STUB_RC": str(rc)},
                            capture_output=True, text=True, timeout=60)
    logs = sorted(Path(env["PLAYBOOK_LOG_DIR"]).glob("run-*.log"))
    return result, "".join(p.read_text() for p in logs)


def test_wrapper_success_runs_the_batch_silently(stub: dict[str, str], home: Path):
    result, log = _run_wrapper(stub, 0)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")  # nothing for cron to mail
    assert "stub: run campaigns/diwali-2025.yaml campaigns/holiday-2025.yaml --jobs 2\n" in log
    assert f"cwd: {home} root: {home}\n" in log
    assert " ok: every campaign published" in log


@pytest.mark.parametrize(("rc", "message"), [
    (1, "failed: a campaign or step failed"),
    (2, "usage or config error"),
    (137, "stopped with exit 137"),
], ids=["failed-run", "config-error", "killed"])
def test_wrapper_keeps_exit_code_and_reports(stub: dict[str, str], rc: int, message: str):
    result, log = _run_wrapper(stub, rc)
    assert result.returncode == rc
    assert result.stderr.startswith(f"playbook cron: {message}")
    assert message in log
    if rc == 2:
        assert "then run: " + stub["PLAYBOOK_BIN"] + " check-config campaigns/*.yaml" in result.stderr


def test_wrapper_arguments_replace_the_batch(stub: dict[str, str]):
    result, log = _run_wrapper(stub, 0, "campaigns/holiday-2025.yaml", "--only", "plan")
    assert result.returncode == 0
    assert "stub: run campaigns/holiday-2025.yaml --only plan\n" in log


def test_wrapper_skips_while_another_run_holds_the_lock(stub: dict[str, str]):
    lock = Path(stub["PLAYBOOK_LOG_DIR"]) / "run_campaigns.lock"
    lock.parent.mkdir(parents=True)
    with lock.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # flock(1) and flock(2) share the lock
        result, log = _run_wrapper(stub, 0)
    assert result.returncode == 75
    assert "skipped: a previous run still holds" in result.stderr
    assert "stub:" not in log  # nothing ran
    result, log = _run_wrapper(stub, 0)  # lock released: the next run goes ahead
    assert result.returncode == 0 and "stub: run" in log


def test_wrapper_missing_executable(stub: dict[str, str], tmp_path: Path):
    result, _ = _run_wrapper({**stub, "PLAYBOOK_BIN": str(tmp_path / "nope")}, 0)
    assert result.returncode == 2
    assert "playbook executable not found" in result.stderr and "make setup" in result.stderr


# ------------------------------------------------------------------ (c) the DAG object, with Airflow


def test_dag_object(home: Path, monkeypatch: pytest.MonkeyPatch):
    if not HAVE_AIRFLOW:
        pytest.skip("Airflow is not installed: pip install apache-airflow to test the DAG object")
    monkeypatch.setenv("PLAYBOOK_HOME", str(home))
    monkeypatch.setenv("PLAYBOOK_BIN", "/opt/pb/bin/playbook")
    module = _load_dag_module("seasonal_playbook_dag_with_airflow")
    dag = module.dag
    c = home.resolve() / "campaigns"
    assert dag.dag_id == "seasonal_playbook"
    assert sorted(dag.task_ids) == ["check_config_diwali-2025", "check_config_holiday-2025",
                                    "run_diwali-2025", "run_holiday-2025"]
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.max_active_tasks == 2
    for name in ("diwali-2025", "holiday-2025"):
        check, run = dag.get_task(f"check_config_{name}"), dag.get_task(f"run_{name}")
        assert check.bash_command == f"/opt/pb/bin/playbook check-config {c / name}.yaml "
        assert f"playbook run {c / name}.yaml --jobs 1" in run.bash_command
        assert run.upstream_task_ids == {f"check_config_{name}"}
        assert check.upstream_task_ids == set()
        assert (check.retries, run.retries) == (0, 1)
        assert run.cwd == str(home.resolve()) and run.env == {"PLAYBOOK_ROOT": str(home.resolve())}
