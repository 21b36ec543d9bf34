"""`playbook init-data`: header-only templates and a column guide generated from the data contract."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from playbook import cli
from playbook.data.contract import CONTRACT_HINT, TABLES
from playbook.data.template import contract_markdown, write_template
from playbook.data.warehouse import connect
from playbook.errors import DataError, PlaybookError
from playbook.paths import resolve

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playbook.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _row(readme: str, table: str, column: str) -> list[str]:
    """The cells of ``column``'s row in ``table``'s section of a generated README."""
    section = readme.split(f" `{table}`\n", 1)[1].split("\n#", 1)[0]
    for line in section.splitlines():
        if line.startswith(f"| `{column}` |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row for {table}.{column}")


def test_csv_headers_are_the_contract_columns(tmp_path):
    written = write_template(tmp_path / "mine")
    assert [p.name for p in written] == [f"{t}.csv" for t in TABLES] + ["README.md"]
    raw = (tmp_path / "mine" / "orders.csv").read_bytes()
    assert raw == b"order_id,customer_id,order_ts,channel,revenue,discount,promo_code\n"  # no BOM, one line
    assert (tmp_path / "mine" / "customers.csv").read_text(encoding="utf-8").splitlines() == [
        "customer_id,email,phone,first_name,country,signup_ts,birth_year,gender,acquisition_channel,"
        "consent_email,consent_ads,erased_at"
    ]
    for name, table in TABLES.items():
        text = (tmp_path / "mine" / f"{name}.csv").read_text(encoding="utf-8")
        assert text == ",".join(table.column_names) + "\n"


def test_folder_readme_lists_every_table_and_says_required_or_optional(tmp_path):
    write_template(tmp_path)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^### `(\w+)`$", readme, flags=re.M)
    assert headings == list(TABLES)
    assert f"playbook validate-data {tmp_path}" in readme
    assert _row(readme, "orders", "revenue")[:3] == ["`revenue`", "required", "float"]
    assert _row(readme, "customers", "birth_year")[:3] == ["`birth_year`", "optional", "int; blank allowed"]
    assert _row(readme, "messages", "bounced_ts")[1] == "optional"
    assert _row(readme, "orders", "channel")[1:3] == ["optional", "string; one of `web`, `app`, `store`, `unknown`"]
    assert _row(readme, "orders", "channel")[5] == "unknown"  # what an absent column reads as
    assert "not consented" in _row(readme, "customers", "consent_email")[5]
    assert _row(readme, "events", "event_id")[1] == "required in the table"
    assert "**Optional table**" in readme and "**Required table.**" in readme
    assert _row(readme, "orders", "discount")[4] == "promo share, discount-driven segments, offer targeting"
    assert _row(readme, "customers", "consent_email")[4].startswith("email exports")
    assert "personal data" in _row(readme, "customers", "email")[3]
    assert "Enables: funnel, browsing features, cart abandoners, recommendations from views." in readme


def test_refuses_to_overwrite_a_non_empty_file(tmp_path):
    (tmp_path / "orders.csv").write_text("order_id\n1\n", encoding="utf-8")
    (tmp_path / "events.csv").write_text("", encoding="utf-8")  # empty files may be replaced
    with pytest.raises(PlaybookError, match=r"orders\.csv") as exc:
        write_template(tmp_path)
    assert "events.csv" not in str(exc.value)
    assert (tmp_path / "orders.csv").read_text(encoding="utf-8") == "order_id\n1\n"
    assert not (tmp_path / "customers.csv").exists()  # nothing written when anything is refused
    (tmp_path / "orders.csv").unlink()
    write_template(tmp_path)
    assert (tmp_path / "events.csv").read_text(encoding="utf-8").startswith("event_id,")


def test_every_column_has_a_description_and_every_table_says_what_it_enables():
    for table in TABLES.values():
        assert table.description and table.enables, table.name
        assert all(c.description for c in table.columns), table.name


def test_readme_contains_the_generated_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert contract_markdown() in readme, (
        "README.md's column list differs from the contract: paste the output of "
        "playbook.data.template.contract_markdown() into 'The tables and their columns'"
    )


def test_cli_init_data_then_validate_data(tmp_path):
    folder = tmp_path / "shop"
    res = run_cli("init-data", str(folder))
    assert res.returncode == 0, res.stderr
    assert "orders.csv" in res.stdout and "README.md" in res.stdout
    assert f"playbook validate-data {folder}" in res.stdout
    assert (folder / "assignments.csv").is_file()

    res = run_cli("validate-data", str(folder))
    # Header-only tables: 0 while validate-data accepts empty tables, 1 once it reports them as
    # errors; a crash would show a traceback.
    assert res.returncode in (0, 1)
    assert "Traceback" not in res.stdout + res.stderr
    assert f"Data check of {folder}" in res.stdout

    res = run_cli("init-data", str(folder))
    assert res.returncode == 1
    assert "Not overwriting" in res.stderr and "customers.csv" in res.stderr
    assert "Traceback" not in res.stderr


def test_help_lists_init_data(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "init-data" in capsys.readouterr().out


def test_data_errors_point_to_where_the_columns_are_listed(tmp_path):
    """A missing table or column names a place a user can open (README's section, init-data),
    and that README section exists."""
    pd.DataFrame({"customer_id": ["C1"]}).to_csv(tmp_path / "customers.csv", index=False)
    wh = connect(tmp_path)
    with pytest.raises(DataError) as exc:
        wh.table("orders")
    assert CONTRACT_HINT in str(exc.value)
    with pytest.raises(DataError) as exc:
        wh.table("customers")
    assert CONTRACT_HINT in str(exc.value)
    assert "README.md, 'Your own data'" in CONTRACT_HINT and "playbook init-data" in CONTRACT_HINT
    assert "\n## Your own data\n" in resolve("README.md").read_text(encoding="utf-8")
