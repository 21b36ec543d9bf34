"""The lock files agree with pyproject.toml, and environment.yml with both (issue 19, item 9).

``requirements.lock`` (what the playbook needs to run: ``make demo``) and ``requirements-dev.lock``
(the same versions plus the test and lint tools: ``make setup``/``make test``) are produced by
``make lock`` (``uv pip compile --generate-hashes`` for Python 3.11 on linux x86_64) and installed
with ``pip install --require-hashes``. A lock is stale when pyproject.toml gained a dependency or
moved a range past a pinned version; these tests then fail with "run `make lock`".

Formats: the requirements-file format with ``--hash`` options
(https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode), version specifiers and
environment markers as in https://packaging.python.org/en/latest/specifications/dependency-specifiers/,
and conda's match specifications for environment.yml
(https://docs.conda.io/projects/conda-build/en/latest/resources/package-spec.html#package-match-specifications).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
#: The platform the locks are resolved for (Makefile: ``--python-version 3.11``, linux x86_64).
LOCK_ENV = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
            "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}
#: conda-forge names in environment.yml whose PyPI name differs.
CONDA_TO_PYPI = {"ibis-duckdb": "ibis-framework", "python-duckdb": "duckdb", "py-xgboost": "xgboost",
                 "matplotlib-base": "matplotlib"}
#: environment.yml entries that are not Python packages of pyproject.toml.
CONDA_ONLY = {"python", "pip", "openjdk"}
DEV_ONLY = {"pytest", "pytest-xdist", "nbval", "ruff", "mypy", "nbstripout", "hypothesis"}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def read_lock(text: str) -> dict[str, tuple[Version, int]]:
    """The pins of a hashed requirements file.

    Parameters
    ----------
    text : str
        The lock file's text (``name==version \\`` lines followed by ``--hash=`` lines).

    Returns
    -------
    dict
        Canonical package name -> (pinned version, number of hashes given for it).
    """
    pins: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash="):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif line and not line.startswith(" "):
            current = None
    return pins


def declared(pyproject: dict[str, Any], extras: tuple[str, ...] = ()) -> list[Requirement]:
    """The requirements of pyproject's ``dependencies`` plus the given extras, for the lock's
    platform (requirements whose environment marker excludes it are left out)."""
    project = pyproject["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    reqs = [Requirement(line) for line in lines]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({**LOCK_ENV, "extra": ""})]


def lock_problems(reqs: list[Requirement], pins: dict[str, tuple[Version, int]]) -> list[str]:
    """Every way the pins fail the requirements: a package missing, pinned outside its range, or
    without a hash. Empty when the lock matches."""
    problems = []
    for req in reqs:
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} ({req}) is not in the lock")
        elif not req.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{req.name} is pinned to {pins[name][0]}, outside {req.specifier}")
    problems += [f"{name}=={version} has no --hash" for name, (version, n) in pins.items() if n == 0]
    return problems


def check_lock(reqs: list[Requirement], pins: dict[str, tuple[Version, int]], lock: str) -> None:
    """Raise AssertionError naming every problem and the fix (``make lock``)."""
    problems = lock_problems(reqs, pins)
    assert not problems, (f"{lock} does not match pyproject.toml; run `make lock` and commit the "
                          "result:\n  " + "\n  ".join(problems))


def conda_specs(env: dict[str, Any]) -> dict[str, SpecifierSet]:
    """environment.yml's conda dependencies as PyPI name -> version range (the pip: section and
    the conda-only entries left out)."""
    out = {}
    for entry in env["dependencies"]:
        if not isinstance(entry, str):
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", entry)
        assert match, f"environment.yml: cannot read {entry!r}"
        name, spec = match[1], match[2].replace(" ", "")
        if name in CONDA_ONLY:
            continue
        spec = re.sub(r"^=(?=\d)", "==", spec)  # conda's "=3.11" means 3.11.*; not used for packages
        out[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = SpecifierSet(spec)
    return out


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runtime_pins() -> dict[str, tuple[Version, int]]:
    return read_lock(RUNTIME_LOCK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dev_pins() -> dict[str, tuple[Version, int]]:
    return read_lock(DEV_LOCK.read_text(encoding="utf-8"))


def test_fault_09_runtime_lock_pins_every_runtime_dependency_in_range(pyproject, runtime_pins):
    check_lock(declared(pyproject), runtime_pins, RUNTIME_LOCK.name)
    assert len(runtime_pins) > 50  # the transitive closure, not just the direct dependencies


def test_fault_09_dev_lock_pins_runtime_and_dev_dependencies_in_range(pyproject, dev_pins):
    check_lock(declared(pyproject, ("dev",)), dev_pins, DEV_LOCK.name)


def test_fault_09_dev_lock_holds_the_runtime_lock_at_the_same_versions(runtime_pins, dev_pins):
    differ = {n: (v, dev_pins.get(n, (None, 0))[0]) for n, (v, _) in runtime_pins.items()
              if dev_pins.get(n, (None, 0))[0] != v}
    assert not differ, f"requirements-dev.lock differs from requirements.lock: {differ}; run `make lock`"


def test_fault_09_runtime_lock_leaves_out_the_dev_tools(runtime_pins, dev_pins):
    assert DEV_ONLY <= set(dev_pins)
    assert not DEV_ONLY & set(runtime_pins), "requirements.lock should hold only what the playbook runs on"


def test_fault_09_known_pin_ibis_12_with_sqlglot_below_27(pyproject, runtime_pins):
    # ibis 12 emits bad SQL for create_table with the newest sqlglot (see pyproject.toml)
    assert runtime_pins["ibis-framework"][0].major == 12
    assert runtime_pins["sqlglot"][0] < Version("27")
    assert any(canonicalize_name(r.name) == "sqlglot" and not r.specifier.contains("27.0")
               for r in declared(pyproject))


def test_fault_09_a_stale_lock_fails_with_run_make_lock(pyproject, runtime_pins):
    moved = [Requirement("pandas>=3") if canonicalize_name(r.name) == "pandas" else r
             for r in declared(pyproject)]
    added = [*declared(pyproject), Requirement("left-pad-nowhere>=1")]
    with pytest.raises(AssertionError, match=r"run `make lock`[\s\S]*pandas is pinned to 2\.\d+\.\d+, outside >=3"):
        check_lock(moved, runtime_pins, "requirements.lock")
    with pytest.raises(AssertionError, match="left-pad-nowhere .* is not in the lock"):
        check_lock(added, runtime_pins, "requirements.lock")


def test_read_lock_counts_hashes_and_ignores_comments():
    text = ("# header\nfoo-bar==1.2.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
            "baz==0.1 ; python_version >= '3.11'\nqux==2.0 \\\n    --hash=sha256:cc\n")
    assert read_lock(text) == {"foo-bar": (Version("1.2.3"), 2), "baz": (Version("0.1"), 0),
                               "qux": (Version("2.0"), 1)}
    assert lock_problems([], read_lock(text)) == ["baz==0.1 has no --hash"]


def test_fault_09_environment_yml_ranges_equal_pyproject(pyproject):
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = conda_specs(env)
    wanted = {canonicalize_name(r.name): r.specifier for r in declared(pyproject, ("dev",))}
    missing = sorted(set(wanted) - set(conda))
    extra = sorted(set(conda) - set(wanted))
    differ = {n: (str(conda[n]), str(wanted[n])) for n in set(wanted) & set(conda) if conda[n] != wanted[n]}
    assert not missing and not extra and not differ, (
        "environment.yml disagrees with pyproject.toml (copy the ranges over): "
        f"missing {missing}, not in pyproject {extra}, different ranges (conda, pyproject) {differ}")
    assert "python=3.11" in env["dependencies"]


def test_fault_09_environment_yml_check_catches_a_missing_bound():
    env = {"dependencies": ["python=3.11", "pandas>=2.2", "ibis-duckdb>=10,<13", {"pip": ["-e ."]}]}
    specs = conda_specs(env)
    assert specs == {"pandas": SpecifierSet(">=2.2"), "ibis-framework": SpecifierSet(">=10,<13")}
    assert specs["pandas"] != SpecifierSet(">=2.2,<3")


def test_fault_09_lock_versions_satisfy_environment_yml(runtime_pins, dev_pins):
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    outside = {n: (str(dev_pins[n][0]), str(s)) for n, s in conda_specs(env).items()
               if n in dev_pins and not s.contains(dev_pins[n][0], prereleases=True)}
    assert not outside, f"locked versions outside environment.yml's ranges: {outside}"
