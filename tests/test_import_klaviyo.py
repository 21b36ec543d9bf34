"""Klaviyo recipient activity -> messages (fixtures written from Klaviyo's metric names)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.importers import ImportOptions, run_import
from playbook.errors import DataError
from tests.platform_exports import klaviyo as writer

FIX = Path(__file__).parent / "fixtures" / "imports" / "klaviyo"
EVENTS, WIDE = FIX / "klaviyo_events.csv", FIX / "klaviyo_recipients.csv"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
T = pd.Timestamp


def seed(out: Path, emails: dict[str, str]) -> None:
    """A minimal valid folder: customers (id -> email) and one order each."""
    out.mkdir(parents=True, exist_ok=True)
    ids = list(emails)
    pd.DataFrame({"customer_id": ids, "email": [emails[i] for i in ids]}).to_parquet(out / "customers.parquet")
    pd.DataFrame({"order_id": [f"O{i}" for i in ids], "customer_id": ids,
                  "order_ts": pd.to_datetime(["2025-01-01"] * len(ids), utc=True),
                  "revenue": [10.0] * len(ids)}).to_parquet(out / "orders.parquet")


CUSTOMERS = {"C1": "ann@example.com", "C2": "Bob@example.com", "C3": "cat@example.com", "C4": "dan@example.com",
             "C5": "eve@example.com"}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    seed(tmp_path / "shop", CUSTOMERS)
    return tmp_path / "shop"


def messages(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "messages.parquet").set_index(["customer_id", "campaign_id"]).sort_index()


def test_events_aggregate_into_one_message_per_recipient(out: Path) -> None:
    s = run_import("klaviyo", [EVENTS], out)
    m = messages(out)
    assert sorted(m.index) == [("C1", "BF Launch"), ("C1", "BF SMS"), ("C2", "BF Launch"), ("C3", "BF Launch"),
                               ("C4", "BF Launch")]
    ann = m.loc[("C1", "BF Launch")]
    assert ann.sent_ts == T("2025-11-28 09:00:00", tz="UTC")
    assert ann.opened_ts == T("2025-11-28 09:15:00", tz="UTC")  # the -05:00 open is 13:30 UTC, later
    assert ann.clicked_ts == T("2025-11-28 13:45:00", tz="UTC")
    assert ann.channel == "email" and ann.variant == "Subject A" and pd.isna(ann.bounced_ts)
    bob = m.loc[("C2", "BF Launch")]  # " BOB@Example.com " matched case- and space-insensitively
    assert bob.unsubscribed_ts == T("2025-11-29 10:00:00", tz="UTC") and bob.variant == "Subject B"
    cat = m.loc[("C3", "BF Launch")]  # hard bounce: no Received event, sent time = bounce time
    assert cat.bounced_ts == T("2025-11-28 09:01:00", tz="UTC") and cat.sent_ts == cat.bounced_ts
    assert pd.isna(m.loc[("C4", "BF Launch")].bounced_ts)  # soft bounce is not a bounce
    sms = m.loc[("C1", "BF SMS")]
    assert sms.channel == "sms" and sms.clicked_ts == T("2025-11-29 12:05:00", tz="UTC")
    assert m.loc[("C1", "BF Launch")].message_id.startswith("klaviyo-")
    notes = " ".join(s.notes)
    assert "1 message(s) to 1 recipient(s) who are not known customers dropped" in notes
    assert "Dropped Email (1)" in notes and "1 soft bounce(s)" in notes
    assert main(["validate-data", str(out)]) == 0


def test_recipient_rows_with_first_times_and_timezone(out: Path) -> None:
    run_import("klaviyo", [WIDE], out, ImportOptions(timezone="Europe/Berlin"))
    m = messages(out)
    assert m.loc[("C1", "Xmas Teaser")].sent_ts == T("2025-12-10 07:00:00", tz="UTC")
    assert m.loc[("C1", "Xmas Teaser")].opened_ts == T("2025-12-10 08:00:00", tz="UTC")
    assert m.loc[("C2", "Xmas Teaser")].unsubscribed_ts == T("2025-12-11 09:00:00", tz="UTC")
    assert m.loc[("C3", "Xmas Teaser")].bounced_ts == T("2025-12-10 07:01:00", tz="UTC")


def test_naive_times_read_in_the_import_timezone(out: Path) -> None:
    run_import("klaviyo", [EVENTS], out, ImportOptions(timezone="America/New_York"))
    assert messages(out).loc[("C1", "BF Launch")].sent_ts == T("2025-11-28 14:00:00", tz="UTC")


def test_missing_email_column_names_column_and_how(out: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(EVENTS.read_text().replace("Email,", "Mail,", 1))
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'Email'.*Analytics > Metrics"):
        run_import("klaviyo", [bad], out)
    assert not (out / "messages.parquet").exists()


def test_missing_activity_columns(out: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Email,Campaign Name\nann@example.com,BF\n")
    with pytest.raises(DataError, match="neither an activity column"):
        run_import("klaviyo", [bad], out)


def test_semicolon_bom_duplicates_and_idempotence(out: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    seed(ref, CUSTOMERS)
    run_import("klaviyo", [EVENTS], ref)
    lines = EVENTS.read_text().splitlines()
    variant = tmp_path / "semi.csv"
    body = [line.replace(",", ";") for line in lines] + [line.replace(",", ";") for line in lines[1:]]
    variant.write_bytes(codecs.BOM_UTF8 + ("\n".join(body) + "\n").encode())
    s = run_import("klaviyo", [variant], out)
    assert "13 exact duplicate row(s) dropped" in " ".join(s.notes)
    pd.testing.assert_frame_equal(messages(out), messages(ref))
    first = (out / "messages.parquet").read_bytes()
    run_import("klaviyo", [variant], out)
    assert (out / "messages.parquet").read_bytes() == first


def test_round_trip_sample(tmp_path: Path) -> None:
    """writer -> importer reproduces the sample's messages, except what Klaviyo cannot carry:
    the send time of bounced mail, SMS opens, SMS / push bounces, push clicks, the message ids."""
    cust = pd.read_parquet(SAMPLE / "customers.parquet").head(200)
    msgs = pd.read_parquet(SAMPLE / "messages.parquet")
    msgs = msgs[msgs.customer_id.isin(cust.customer_id)]
    out = tmp_path / "shop"
    seed(out, dict(zip(cust.customer_id, cust.email, strict=True)))
    files = writer.write({"customers": cust, "messages": msgs}, tmp_path / "export")
    run_import("klaviyo", files, out)
    got = pd.read_parquet(out / "messages.parquet").set_index(["customer_id", "campaign_id"]).sort_index()
    exp = msgs.set_index(["customer_id", "campaign_id"]).sort_index()
    exp = exp[exp.index.get_level_values(0).isin(cust.dropna(subset=["email"]).customer_id)]
    assert len(got) == len(exp) > 500
    assert (got.channel == exp.channel).all()
    pd.testing.assert_series_equal(got.variant, exp.variant, check_dtype=False)
    ok = exp.bounced_ts.isna()
    pd.testing.assert_series_equal(got.sent_ts[ok], exp.sent_ts[ok], check_dtype=False, check_index_type=False)
    email = exp.channel == "email"
    for col in ("opened_ts", "clicked_ts", "unsubscribed_ts", "bounced_ts"):
        pd.testing.assert_series_equal(got[col][email], exp[col][email], check_dtype=False)
    assert main(["validate-data", str(out)]) == 0
