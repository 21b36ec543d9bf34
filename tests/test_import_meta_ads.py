"""Meta Ads Manager daily campaign report -> spend (tests of the reference importer)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import meta_ads as writer
from tests.test_import_google_ads import spend
from tests.test_import_klaviyo import SAMPLE, seed

REPORT = Path(__file__).parent / "fixtures" / "imports" / "meta_ads" / "meta_daily.csv"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    seed(tmp_path / "shop", {"C1": "a@example.com"})
    return tmp_path / "shop"


def test_fixture_values_and_duplicate(out: Path) -> None:
    s = run_import("meta-ads", [REPORT], out, ImportOptions(currency="USD"))
    got = spend(out)
    assert got.loc[("2025-11-01", "BF Prospecting")].tolist() == ["paid_social", 120.50, 10234, 88]
    assert got.loc[("2025-11-01", "BF Retargeting")].tolist() == ["paid_social", 45.10, 3021, 0]
    assert got.loc[("2025-11-02", "BF Prospecting")].tolist() == ["paid_social", 1130.0, 90234, 812]
    assert any("1 exact duplicate row(s) dropped" in n for n in s.notes)
    assert main(["validate-data", str(out)]) == 0


def test_reporting_starts_without_day_and_campaign_id(out: Path, tmp_path: Path) -> None:
    f = tmp_path / "meta.csv"
    f.write_text("Campaign ID,Campaign name,Reporting starts,Reporting ends,Amount spent (USD),Impressions,"
                 "Clicks (all)\n23851,BF Prospecting,2025-11-03,2025-11-03,10.00,1000,7\n")
    run_import("meta-ads", [f], out, ImportOptions(channel_rules=(("prospect", "display"),)))
    assert spend(out).loc[("2025-11-03", "23851")].tolist() == ["display", 10.0, 1000, 7]


def test_currency_in_header_checked(out: Path) -> None:
    with pytest.raises(DataError, match="reports amounts in USD, but the campaign's currency is EUR"):
        run_import("meta-ads", [REPORT], out, ImportOptions(currency="EUR"))


def test_currency_column_checked(out: Path, tmp_path: Path) -> None:
    f = tmp_path / "meta.csv"
    f.write_text("Day,Campaign name,Currency,Amount spent,Impressions\n2025-11-03,A,GBP,1,1\n")
    with pytest.raises(DataError, match="amounts in GBP, but the campaign's currency is EUR"):
        run_import("meta-ads", [f], out, ImportOptions(currency="EUR"))


def test_semicolon_decimal_comma(out: Path, tmp_path: Path) -> None:
    f = tmp_path / "meta.csv"
    f.write_text("Campaign name;Day;Amount spent (EUR);Impressions;Link clicks\n"
                 "BF Prospecting;2025-11-02;1.130,50;90.234;812\n")
    run_import("meta-ads", [f], out, ImportOptions(currency="EUR"))
    assert spend(out).loc[("2025-11-02", "BF Prospecting")].tolist() == ["paid_social", 1130.5, 90234, 812]


@pytest.mark.parametrize("drop,match", [("Impressions", r"lacks the column\(s\) 'Impressions'"),
                                        ("Amount spent (USD)", "lacks the column 'Amount spent \\(CUR\\)'")])
def test_missing_column_message(out: Path, tmp_path: Path, drop: str, match: str) -> None:
    f = tmp_path / "meta.csv"
    f.write_text(REPORT.read_text(encoding="utf-8-sig").replace(drop, "Other"))
    with pytest.raises(DataError, match=match + ".*Export table data"):
        run_import("meta-ads", [f], out)


def test_import_twice_byte_identical(out: Path) -> None:
    run_import("meta-ads", [REPORT], out)
    first = (out / "spend.parquet").read_bytes()
    run_import("meta-ads", [REPORT, REPORT], out)
    assert (out / "spend.parquet").read_bytes() == first


def test_round_trip_sample(out: Path, tmp_path: Path) -> None:
    sp = pd.read_parquet(SAMPLE / "spend.parquet")
    sp = sp[pd.to_datetime(sp["date"]) >= "2025-10-01"]
    run_import("meta-ads", writer.write({"spend": sp}, tmp_path / "export", currency="USD"), out,
               ImportOptions(currency="USD"))
    exp = sp[sp.channel == "paid_social"].copy()
    exp["date"] = pd.to_datetime(exp["date"]).dt.strftime("%Y-%m-%d")
    exp = exp.set_index(["date", "campaign_id"]).sort_index()
    got = spend(out)
    assert len(got) == len(exp) > 50 and (got.channel == "paid_social").all()
    pd.testing.assert_series_equal(got.spend, exp.spend, check_dtype=False)
    assert (got.impressions == exp.impressions).all() and (got.clicks == exp.clicks).all()
