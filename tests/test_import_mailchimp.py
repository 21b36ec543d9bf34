"""Mailchimp campaign activity -> messages (fixtures from the report's and the API's field names)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import run_import
from playbook.errors import DataError
from tests.platform_exports import mailchimp as writer
from tests.test_import_klaviyo import CUSTOMERS, SAMPLE, messages, seed

FIX = Path(__file__).parent / "fixtures" / "imports" / "mailchimp"
ACTIVITY = FIX / "mailchimp_activity.csv"
PER_FILE = [FIX / "bf25" / n for n in ("sent.csv", "opened.csv", "hard_bounces.csv")]
T = pd.Timestamp


@pytest.fixture
def out(tmp_path: Path) -> Path:
    seed(tmp_path / "shop", CUSTOMERS)
    return tmp_path / "shop"


def test_activity_rows(out: Path) -> None:
    s = run_import("mailchimp", [ACTIVITY], out)
    m = messages(out)
    assert sorted(m.index) == [("C1", "Cyber Monday"), ("C2", "Cyber Monday"), ("C3", "Cyber Monday"),
                               ("C4", "Cyber Monday")]
    ann = m.loc[("C1", "Cyber Monday")]
    assert ann.sent_ts == T("2025-12-01 08:00:00", tz="UTC")
    assert ann.opened_ts == T("2025-12-01 08:20:00", tz="UTC")  # 07:50-01:00 is 08:50 UTC
    assert ann.clicked_ts == T("2025-12-01 09:00:00", tz="UTC") and ann.channel == "email"
    assert m.loc[("C2", "Cyber Monday")].unsubscribed_ts == T("2025-12-02 10:00:00", tz="UTC")
    assert m.loc[("C3", "Cyber Monday")].bounced_ts == T("2025-12-01 08:01:00", tz="UTC")
    assert pd.isna(m.loc[("C4", "Cyber Monday")].bounced_ts)
    assert ann.message_id.startswith("mailchimp-")
    assert any("not known customers dropped" in n for n in s.notes)
    assert main(["validate-data", str(out)]) == 0


def test_one_file_per_activity_campaign_from_folder(out: Path) -> None:
    s = run_import("mailchimp", PER_FILE, out)
    m = messages(out)
    assert sorted(m.index) == [("C1", "bf25"), ("C2", "bf25"), ("C3", "bf25")]
    assert m.loc[("C1", "bf25")].opened_ts == T("2025-11-28 08:30:00", tz="UTC")
    assert m.loc[("C3", "bf25")].bounced_ts == T("2025-11-28 08:01:00", tz="UTC")
    assert any("taken from its folder 'bf25'" in n for n in s.notes)


def test_missing_email_column(out: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(ACTIVITY.read_text().replace("Email Address", "Address", 1))
    with pytest.raises(DataError, match=r"Mailchimp campaign recipient activity bad.csv lacks.*'Email Address'"):
        run_import("mailchimp", [bad], out)


def test_semicolon_bom_duplicates_idempotent(out: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    seed(ref, CUSTOMERS)
    run_import("mailchimp", [ACTIVITY], ref)
    lines = [line.replace(",", ";") for line in ACTIVITY.read_text().splitlines()]
    variant = tmp_path / "semi.csv"
    variant.write_bytes(codecs.BOM_UTF8 + ("\n".join(lines + lines[1:]) + "\n").encode())
    s = run_import("mailchimp", [variant], out)
    assert "10 exact duplicate row(s) dropped" in " ".join(s.notes)
    pd.testing.assert_frame_equal(messages(out), messages(ref))
    first = (out / "messages.parquet").read_bytes()
    run_import("mailchimp", [variant], out)
    assert (out / "messages.parquet").read_bytes() == first


def test_round_trip_sample(tmp_path: Path) -> None:
    """writer -> importer reproduces the sample's email messages; Mailchimp carries no SMS / push,
    no send time for bounced mail, and its own message ids."""
    cust = pd.read_parquet(SAMPLE / "customers.parquet").head(200)
    msgs = pd.read_parquet(SAMPLE / "messages.parquet")
    msgs = msgs[msgs.customer_id.isin(cust.dropna(subset=["email"]).customer_id) & (msgs.channel == "email")]
    out = tmp_path / "shop"
    seed(out, dict(zip(cust.customer_id, cust.email, strict=True)))
    run_import("mailchimp", writer.write({"customers": cust, "messages": msgs}, tmp_path / "export"), out)
    got = pd.read_parquet(out / "messages.parquet").set_index(["customer_id", "campaign_id"]).sort_index()
    exp = msgs.set_index(["customer_id", "campaign_id"]).sort_index()
    assert len(got) == len(exp) > 500
    ok = exp.bounced_ts.isna()
    pd.testing.assert_series_equal(got.sent_ts[ok], exp.sent_ts[ok], check_dtype=False)
    for col in ("opened_ts", "clicked_ts", "unsubscribed_ts", "bounced_ts"):
        pd.testing.assert_series_equal(got[col], exp[col], check_dtype=False)
    assert main(["validate-data", str(out)]) == 0
