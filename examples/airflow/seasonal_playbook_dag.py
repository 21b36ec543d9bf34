"""Example Airflow DAG: check and run every campaign of ``campaigns/*.yaml`` on a schedule.

One pair of tasks per campaign file, ``check_config_<name> >> run_<name>``:

* ``check_config_<name>`` runs ``playbook check-config <file>`` (exit 2 on an invalid config;
  never retried: a config error does not go away by waiting);
* ``run_<name>`` runs ``playbook run <file> --jobs 1`` (exit 1 when a step or the data check
  fails; retried once, e.g. after a warehouse hiccup). ``--jobs 1`` keeps one notebook kernel
  per campaign; the DAG's ``max_active_tasks`` bounds how many campaigns run at once, so peak
  memory is about ``max_active_tasks`` kernels (see ``benchmarks/RESULTS.md`` for sizes).

``max_active_runs=1`` keeps two runs of the DAG (hence of one campaign) from overlapping; the
playbook's own cross-process lock on the reports folder (``playbook.run.publish.publish_lock``)
protects the published reports even when a manual ``playbook run`` happens at the same time.

Everything that decides *what* runs lives in pure functions (:func:`campaign_commands`,
:func:`settings_from_env`) importable without Airflow, so the commands are tested without it
(``tests/test_examples_schedule.py``). The DAG object is built only when Airflow imports. The
file imports nothing from ``playbook``: the scheduler parses DAG files often, and the playbook
(Papermill, Jupyter) is slow to import.

Settings (environment variables of the scheduler and workers):

``PLAYBOOK_HOME``
    Project folder holding ``campaigns/`` (default: two folders above this file, the repository
    root). Passed to the tasks as ``PLAYBOOK_ROOT`` so that relative paths in configs resolve
    against it, and used as the tasks' working directory.
``PLAYBOOK_BIN``
    The ``playbook`` executable (default ``$PLAYBOOK_HOME/.venv/bin/playbook``).
``PLAYBOOK_SCHEDULE``
    Cron expression (default ``0 6 * * *``: daily at 06:00 in ``PLAYBOOK_TZ``).
``PLAYBOOK_TZ``
    IANA time zone of the schedule (default ``UTC``).
``PLAYBOOK_SEASON_START`` / ``PLAYBOOK_SEASON_END``
    First and last day (``YYYY-MM-DD``) the DAG is scheduled, e.g. the season's dates; the end is
    optional (no end date). ``catchup=False``: a DAG enabled mid-season runs once, not once per
    missed day.
``PLAYBOOK_MAX_ACTIVE_TASKS``
    Campaigns run at once (default 2).

Install Airflow separately (it is not a dependency of the playbook), in its own environment,
following https://airflow.apache.org/docs/apache-airflow/stable/installation/installing-from-pypi.html,
then copy or symlink this file into the ``dags/`` folder and set ``PLAYBOOK_HOME``.

References
----------
BashOperator (``bash_command``, ``env``, ``append_env``, ``cwd``; a non-zero exit fails the task,
99 skips it): https://airflow.apache.org/docs/apache-airflow/2.9.3/_api/airflow/operators/bash/index.html
Airflow 3 imports (``airflow.sdk.DAG``, BashOperator in the ``standard`` provider):
https://airflow.apache.org/docs/apache-airflow/stable/installation/upgrading_to_airflow3.html
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # Airflow is optional: without it this module only offers the pure functions below.
    import pendulum

    try:  # Airflow 3: the stable authoring interface
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.x
        from airflow import DAG  # type: ignore[no-redef,attr-defined,unused-ignore]
    try:  # Airflow 3 (and Airflow 2.x with apache-airflow-providers-standard)
        from airflow.providers.standard.operators.bash import BashOperator
    except ImportError:  # Airflow 2.x
        from airflow.operators.bash import BashOperator  # type: ignore[no-redef,unused-ignore]
    HAVE_AIRFLOW = True
except ImportError:
    HAVE_AIRFLOW = False

DAG_ID = "seasonal_playbook"
DEFAULT_HOME = Path(__file__).resolve().parents[2]
"""The repository root: this file is ``<root>/examples/airflow/seasonal_playbook_dag.py``."""

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Settings:
    """What the DAG runs and when (see the module docstring for the environment variables)."""

    home: Path
    playbook: Path
    schedule: str = "0 6 * * *"
    timezone: str = "UTC"
    start: dt.date = dt.date(2025, 11, 1)
    end: dt.date | None = None
    max_active_tasks: int = 2
    jobs: int = 1


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Read :class:`Settings` from environment variables.

    Parameters
    ----------
    env : Mapping[str, str]
        Usually ``os.environ``. Empty values count as unset.

    Returns
    -------
    Settings
        Defaults: the repository root, its ``.venv/bin/playbook``, daily at 06:00 UTC from
        2025-11-01 without an end, two campaigns at once.

    Raises
    ------
    ValueError
        A date is not ``YYYY-MM-DD`` or ``PLAYBOOK_MAX_ACTIVE_TASKS`` is not a positive integer;
        the message names the variable.
    """
    home = Path(env.get("PLAYBOOK_HOME") or DEFAULT_HOME).expanduser().resolve()
    playbook = Path(env.get("PLAYBOOK_BIN") or home / ".venv" / "bin" / "playbook")
    end = env.get("PLAYBOOK_SEASON_END")
    return Settings(
        home=home,
        playbook=playbook,
        schedule=env.get("PLAYBOOK_SCHEDULE") or "0 6 * * *",
        timezone=env.get("PLAYBOOK_TZ") or "UTC",
        start=_date(env, "PLAYBOOK_SEASON_START", "2025-11-01"),
        end=_date(env, "PLAYBOOK_SEASON_END", end) if end else None,
        max_active_tasks=_positive_int(env, "PLAYBOOK_MAX_ACTIVE_TASKS", "2"),
    )


def _date(env: Mapping[str, str], name: str, default: str) -> dt.date:
    text = env.get(name) or default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a date: write it as YYYY-MM-DD.") from None


def _positive_int(env: Mapping[str, str], name: str, default: str) -> int:
    text = env.get(name) or default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name}={text!r} must be a positive integer (e.g. 2).")
    return int(text)


def campaign_files(home: Path) -> list[Path]:
    """The campaign configs ``<home>/campaigns/*.yaml``, sorted by name (absolute paths)."""
    return sorted((home / "campaigns").resolve().glob("*.yaml"))


def task_name(config: Path) -> str:
    """The campaign part of a task id: the file stem with characters Airflow rejects replaced.

    Examples
    --------
    >>> task_name(Path("campaigns/holiday-2025.yaml"))
    'holiday-2025'
    >>> task_name(Path("campaigns/eid al-fitr.yaml"))
    'eid_al-fitr'
    """
    return _NAME_UNSAFE.sub("_", config.stem).strip("_") or "campaign"


def campaign_commands(home: Path, playbook: Path | None = None,
                      jobs: int = 1) -> dict[str, dict[str, list[str]]]:
    """The commands of every campaign under ``<home>/campaigns``, as argument lists.

    Parameters
    ----------
    home : Path
        Project folder holding ``campaigns/*.yaml``.
    playbook : Path, optional
        The ``playbook`` executable; default ``<home>/.venv/bin/playbook``.
    jobs : int
        ``--jobs`` of each run: kernels at once within one campaign (default 1).

    Returns
    -------
    dict[str, dict[str, list[str]]]
        ``{name: {"check_config": argv, "run": argv}}`` in file-name order, ``name`` from
        :func:`task_name`; paths are absolute, so the commands work from any directory.

    Raises
    ------
    ValueError
        Two files map to one task name (e.g. ``a b.yaml`` and ``a_b.yaml``): rename one.
    """
    exe = str(playbook if playbook is not None else home / ".venv" / "bin" / "playbook")
    out: dict[str, dict[str, list[str]]] = {}
    for config in campaign_files(home):
        name = task_name(config)
        if name in out:
            raise ValueError(f"{config} and another campaign file both map to the task name "
                             f"{name!r}: rename one of them.")
        out[name] = {
            "check_config": [exe, "check-config", str(config)],
            "run": [exe, "run", str(config), "--jobs", str(jobs)],
        }
    return out


def bash_command(argv: list[str]) -> str:
    """Quote an argument list for ``BashOperator.bash_command``.

    A trailing space keeps Airflow from reading a command that ends in ``.sh`` or ``.bash`` as a
    template file name (see the BashOperator documentation).
    """
    return shlex.join(argv) + " "


def build_dag(settings: Settings) -> Any:
    """Build the DAG (Airflow must be importable; see ``HAVE_AIRFLOW``)."""
    tz = pendulum.timezone(settings.timezone)
    start = pendulum.datetime(settings.start.year, settings.start.month, settings.start.day, tz=tz)
    end = (pendulum.datetime(settings.end.year, settings.end.month, settings.end.day, 23, 59, tz=tz)
           if settings.end else None)
    env = {"PLAYBOOK_ROOT": str(settings.home)}
    with DAG(
        dag_id=DAG_ID,
        description="Seasonal Campaign Playbook: check-config then run, one pair per campaign",
        schedule=settings.schedule,
        start_date=start,
        end_date=end,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=settings.max_active_tasks,
        default_args={"owner": "analytics", "retry_delay": dt.timedelta(minutes=15)},
        tags=["playbook"],
    ) as dag:
        commands = campaign_commands(settings.home, settings.playbook, settings.jobs)
        for name, argv in commands.items():
            check = BashOperator(task_id=f"check_config_{name}", bash_command=bash_command(argv["check_config"]),
                                 env=env, append_env=True, cwd=str(settings.home), retries=0)
            run = BashOperator(task_id=f"run_{name}", bash_command=bash_command(argv["run"]),
                               env=env, append_env=True, cwd=str(settings.home), retries=1,
                               execution_timeout=dt.timedelta(hours=3))
            check >> run
    return dag


if HAVE_AIRFLOW:
    dag = build_dag(settings_from_env(os.environ))
