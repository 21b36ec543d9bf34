"""The `playbook` command: clear one-message errors and exit codes, never a bare traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playbook import cli
from playbook.config.loader import load_config
from playbook.data.source import DataSource
from playbook.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playbook.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("generate-data", "validate-data", "check-config", "run"):
        assert cmd in out


def test_missing_data_folder_is_one_clear_message(tmp_path):
    res = run_cli("validate-data", str(tmp_path / "nowhere"))
    assert res.returncode == 1
    assert "does not exist" in res.stderr and "generate-data" in res.stderr
    assert "Traceback" not in res.stderr


def test_unknown_step_fails_before_any_work():
    res = run_cli("run", "campaigns/holiday-2025.yaml", "--only", "plann")
    assert res.returncode != 0
    assert "Unknown step" in res.stderr and "plan" in res.stderr
    assert "Traceback" not in res.stderr


def test_malformed_config_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "campaigns" / "holiday-2025.yaml").read_text()
    text = text.replace("currency: USD", "currency: US Dollars").replace("budget:", "budgte:", 1)
    bad.write_text(text)
    res = run_cli("check-config", str(bad))
    assert res.returncode == 2
    assert "currency" in res.stderr and "budgte" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_cli("run", str(bad))
    assert res.returncode != 0 and "currency" in (res.stdout + res.stderr)
    assert "Traceback" not in res.stderr


def test_missing_config_file(tmp_path):
    res = run_cli("check-config", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "missing.yaml" in res.stderr


def test_generate_then_validate_reports_planted_defects(tmp_path):
    out = tmp_path / "sample"
    res = run_cli("generate-data", "--customers", "1500", "--seed", "3", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert (out / "truth.json").is_file() and (out / "orders.parquet").is_file()
    res = run_cli("validate-data", str(out))
    assert res.returncode == 0, res.stdout + res.stderr  # only soft problems in the sample
    assert "duplicate_email" in res.stdout and "invalid_email" in res.stdout


def test_validate_exits_1_on_contract_errors(tmp_path):
    import pandas as pd

    out = tmp_path / "sample"
    assert run_cli("generate-data", "--customers", "500", "--out", str(out)).returncode == 0
    orders = pd.read_parquet(out / "orders.parquet")
    pd.concat([orders, orders.head(3)]).to_parquet(out / "orders.parquet")  # duplicate keys
    (out / "spend.parquet").unlink()  # a missing table
    res = run_cli("validate-data", str(out))
    assert res.returncode == 1
    assert "spend" in res.stdout and "orders" in res.stdout
    assert "Traceback" not in res.stderr


def test_run_refuses_data_that_breaks_the_contract(tmp_path):
    """Contract errors are listed before any notebook runs; nothing is published."""
    import pandas as pd

    out = tmp_path / "sample"
    assert run_cli("generate-data", "--customers", "500", "--out", str(out)).returncode == 0
    orders = pd.read_parquet(out / "orders.parquet")
    orders.loc[orders.index[:4], "customer_id"] = "NOBODY"  # orphans
    orders.to_parquet(out / "orders.parquet")
    cfg = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text())
    cfg["data"] = {"source": str(out)}
    cfg["output"] = {"dir": str(tmp_path / "reports" / "holiday-2025")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = run_cli("run", str(path))
    assert res.returncode == 1
    text = res.stdout + res.stderr
    assert "violates the data contract" in text and "orders.customer_id" in text
    assert not (tmp_path / "reports" / "holiday-2025").exists()
    assert "Traceback" not in res.stderr


def test_console_script_skips_the_slow_iri_checker_and_still_validates_notebooks():
    code = (
        "import sys\n"
        "from playbook import cli\n"
        "cli._skip_iri_format_checker()\n"
        "import nbformat, jsonschema\n"
        "assert sys.modules.get('rfc3987_syntax') is None\n"
        "assert 'iri' not in jsonschema.FormatChecker().checkers\n"
        "nb = nbformat.read('notebooks/01_plan.ipynb', as_version=4)\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.v4.new_notebook(); bad.cells.append({'cell_type': 'nonsense'})\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('invalid caught')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=False)
    assert out.returncode == 0, out.stderr
    assert "invalid caught" in out.stdout


def _campaign_on(tmp_path: Path, source: Path, **data: str) -> Path:
    cfg = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8"))
    cfg["data"] = {"source": str(source), **data}
    cfg["output"] = {"dir": str(tmp_path / "reports")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def test_preflight_reads_the_source_as_configured_and_names_the_same_check(clean_tables, write_tables,
                                                                           tmp_path, monkeypatch):
    """One DataSource from data: (timezone, encoding) or --data-source (location only)."""
    monkeypatch.setenv("PLAYBOOK_CACHE", "off")
    tables = dict(clean_tables)
    tables["orders"] = tables["orders"].assign(customer_id=lambda o: o["customer_id"].where(o.index > 1, "NOBODY"))
    bad = write_tables(tables, "bad")
    good = write_tables(clean_tables, "good")
    cfg = load_config(_campaign_on(tmp_path, bad, timezone="Europe/Berlin", encoding="latin-1"))
    with pytest.raises(DataError) as exc:
        cli.preflight(cfg)
    assert f"Run `playbook validate-data {bad} --timezone Europe/Berlin --encoding latin-1`" in str(exc.value)
    assert "orders.customer_id" in str(exc.value)
    cli.preflight(cfg, str(good))  # the override replaces the location only
    cli.preflight(cfg, DataSource.parse(good, encoding="latin-1"))  # or a DataSource, used whole
