"""Google Ads campaign report (UI download with title lines and totals) -> spend."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import google_ads as writer
from tests.test_import_klaviyo import SAMPLE, seed

REPORT = Path(__file__).parent / "fixtures" / "imports" / "google_ads" / "campaign_report.csv"


def spend(out: Path) -> pd.DataFrame:
    s = pd.read_parquet(out / "spend.parquet")
    s["date"] = pd.to_datetime(s["date"]).dt.strftime("%Y-%m-%d")
    return s.set_index(["date", "campaign_id"]).sort_index()


def test_report_with_titles_totals_and_types(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    seed(out, {"C1": "a@example.com"})
    s = run_import("google-ads", [REPORT], out, ImportOptions(currency="USD"))
    got = spend(out)
    assert list(got.index) == [("2025-11-01", "111"), ("2025-11-01", "222"), ("2025-11-01", "333"),
                               ("2025-11-02", "111"), ("2025-11-02", "444")]
    assert got.loc[("2025-11-01", "111")].tolist() == ["paid_search", 1234.56, 10234, 812]
    assert got.loc[("2025-11-01", "222")].tolist() == ["display", 45.10, 30210, 0]  # "--" clicks -> 0
    assert got.loc[("2025-11-01", "333")].channel == "display"  # Video (YouTube) -> display
    assert got.loc[("2025-11-02", "444")].tolist() == ["paid_search", 0.0, 0, 0]  # PMax, all "--"
    assert any("2 total / empty row(s) skipped" in n for n in s.notes)
    assert main(["validate-data", str(out)]) == 0


def test_channel_rules_override_type(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    seed(out, {"C1": "a@example.com"})
    run_import("google-ads", [REPORT], out, ImportOptions(channel_rules=(("youtube", "paid_social"),)))
    got = spend(out)
    assert got.loc[("2025-11-01", "333")].channel == "paid_social"
    assert got.loc[("2025-11-01", "222")].channel == "display"


def test_utf16_tab_excel_csv(tmp_path: Path) -> None:
    ref, out = tmp_path / "ref", tmp_path / "shop"
    seed(ref, {"C1": "a@example.com"})
    seed(out, {"C1": "a@example.com"})
    run_import("google-ads", [REPORT], ref)
    text = REPORT.read_text(encoding="utf-8-sig")
    lines = [line if i < 2 else line.replace('"1,234.56"', "1234.56").replace('"10,234"', "10234")
             .replace('"1,398.66"', "1398.66").replace('"1,333.56"', "1333.56").replace(",", "\t")
             for i, line in enumerate(text.splitlines())]
    utf16 = tmp_path / "excel.csv"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "\n".join(lines).encode("utf-16-le"))
    run_import("google-ads", [utf16], out)
    pd.testing.assert_frame_equal(spend(out), spend(ref))


def test_cost_micros(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    seed(out, {"C1": "a@example.com"})
    f = tmp_path / "api.csv"
    f.write_text("Day,Campaign,Cost (micros),Impressions,Clicks\n2025-11-01,Brand,1234560000,100,5\n")
    run_import("google-ads", [f], out)
    assert spend(out).loc[("2025-11-01", "Brand")].spend == pytest.approx(1234.56)


def test_other_currency_and_missing_column(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    with pytest.raises(DataError, match="amounts in USD, but the campaign's currency is EUR"):
        run_import("google-ads", [REPORT], out, ImportOptions(currency="EUR"))
    bad = tmp_path / "bad.csv"
    bad.write_text(REPORT.read_text(encoding="utf-8-sig").replace("Impr.", "Views"))
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'Impr\.' \(or 'Impressions'.*Segment > Time > Day"):
        run_import("google-ads", [bad], out)
    assert not (out / "spend.parquet").exists()


def test_semicolon_decimal_comma_duplicates_idempotent(tmp_path: Path) -> None:
    ref, out = tmp_path / "ref", tmp_path / "shop"
    seed(ref, {"C1": "a@example.com"})
    seed(out, {"C1": "a@example.com"})
    run_import("google-ads", [REPORT], ref)
    f = tmp_path / "semi.csv"
    f.write_text("Day;Campaign;Campaign ID;Campaign type;Currency code;Cost;Impr.;Clicks\n"
                 "2025-11-01;BF Search Brand;111;Search;USD;1.234,56;10.234;812\n" * 2
                 + "2025-11-01;BF Display Remarketing;222;Display;USD;45,10;30210;--\n")
    s = run_import("google-ads", [f], out)
    assert any("1 exact duplicate row(s) dropped" in n for n in s.notes)
    assert spend(out).loc[("2025-11-01", "111")].tolist() == ["paid_search", 1234.56, 10234, 812]
    first = (out / "spend.parquet").read_bytes()
    run_import("google-ads", [f], out)
    assert (out / "spend.parquet").read_bytes() == first


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_round_trip_sample(tmp_path: Path, encoding: str) -> None:
    """Spend, impressions and clicks of paid_search and display come back exactly (the campaign
    name is the campaign id: the writer has no separate id column)."""
    sp = pd.read_parquet(SAMPLE / "spend.parquet")
    sp = sp[pd.to_datetime(sp["date"]) >= "2025-10-01"]
    out = tmp_path / "shop"
    seed(out, {"C1": "a@example.com"})
    run_import("google-ads", writer.write({"spend": sp}, tmp_path / "export", encoding=encoding), out)
    exp = sp[sp.channel.isin(["paid_search", "display"])].copy()
    exp["date"] = pd.to_datetime(exp["date"]).dt.strftime("%Y-%m-%d")
    exp = exp.set_index(["date", "campaign_id"]).sort_index()
    got = spend(out)
    assert len(got) == len(exp) > 50
    assert (got.channel == exp.channel).all()
    pd.testing.assert_series_equal(got.spend, exp.spend, check_dtype=False)
    assert (got.impressions == exp.impressions).all() and (got.clicks == exp.clicks).all()
