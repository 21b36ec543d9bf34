"""Exports: suppression applied last on every file, hashing/normalisation, minimum audience size."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from playbook.data.warehouse import connect
from playbook.value import audiences as exports
from tests.sample_data import read, small_sample

N_CLEAN = 150


def _contacts() -> pd.DataFrame:
    """150 clean customers plus accounts built to tempt the exporter."""
    clean = pd.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(N_CLEAN)],
        "email": [f"  User{i}@Example.com " for i in range(N_CLEAN)],
        "phone": [f"+4477009{i:05d}" for i in range(N_CLEAN)],
        "first_name": "Ann", "country": "GB", "consent_email": True, "consent_ads": True,
        "erased": False, "unsubscribed": False, "bounced": False,
    })
    tempt = pd.DataFrame([
        # id, email, phone, consent_email, consent_ads, erased, unsubscribed, bounced
        ("X_noconsent", "a@x.com", "+4470000000001", False, False, False, False, False),
        ("X_erased", "b@x.com", "+4470000000002", True, True, True, False, False),
        ("X_unsub", "c@x.com", "+4470000000003", True, True, False, True, False),
        ("X_bounced", "d@x.com", "+4470000000004", True, True, False, False, True),
        ("X_dup_of_unsub", " C@X.com", None, True, True, False, False, False),  # same person as X_unsub
        ("X_phone_dup", None, "+44 700 000 000 02", True, True, False, False, False),  # phone of X_erased
        ("X_noemail", None, None, True, True, False, False, False),
        ("X_invalid", "not-an-email", None, True, True, False, False, False),
    ], columns=["customer_id", "email", "phone", "consent_email", "consent_ads", "erased", "unsubscribed", "bounced"])
    tempt["first_name"], tempt["country"] = "Bo", "GB"
    con = pd.concat([clean, tempt], ignore_index=True)
    con["email_norm"] = exports.normalize_email(con["email"])
    con["phone_e164"] = exports.normalize_phone(con["phone"], con["country"])
    return con


def _people(con: pd.DataFrame) -> pd.DataFrame:
    n = len(con)
    return pd.DataFrame({"customer_id": con["customer_id"], "segment": "Loyal", "offer": "10% off",
                         "top_products": "A; B; C", "local_send_time": "19:00 Europe/London",
                         "score_decile": 1, "clv_decile": np.where(np.arange(n) < 40, 10, 5)})


SUPPRESSED_EMAIL = {"X_noconsent", "X_erased", "X_unsub", "X_bounced", "X_dup_of_unsub", "X_noemail", "X_invalid"}
SUPPRESSED_ADS = {"X_noconsent", "X_erased", "X_unsub", "X_phone_dup"}


@pytest.fixture()
def exported(tmp_path):
    con = _contacts()
    recon = exports.export_audiences(con, _people(con), tmp_path / "exports", min_size=100)
    return con, recon, tmp_path / "exports"


def test_email_export_never_contains_a_suppressed_customer(exported):
    con, recon, folder = exported
    df = pd.read_csv(folder / "email_campaign.csv", dtype=str, keep_default_na=False)
    assert set(df["customer_id"]) & SUPPRESSED_EMAIL == set()
    assert len(df) == N_CLEAN and set(df["consent_status"]) == {"opted_in"}
    assert list(df.columns) == exports.EMAIL_COLUMNS
    assert df["email"].iloc[0] == "user0@example.com"


@pytest.mark.parametrize("name,header", [("google_ads_likely_buyers", "Email"), ("meta_likely_buyers", "email")])
def test_ad_exports_hold_only_hashes_of_consented_people(exported, name, header):
    con, recon, folder = exported
    df = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
    assert list(df.columns) == list(exports.PLATFORM_HEADERS["meta" if name.startswith("meta") else "google_ads"])
    bad = con[con.customer_id.isin(SUPPRESSED_ADS)]
    bad_hashes = {hashlib.sha256(e.encode()).hexdigest() for e in bad["email_norm"].dropna()} | {
        hashlib.sha256(p.encode()).hexdigest() for p in bad["phone_e164"].dropna()}
    assert bad_hashes & (set(df[header]) | set(df[df.columns[1]])) == set()
    assert hashlib.sha256(b"user0@example.com").hexdigest() in set(df[header])
    assert all(len(h) == 64 for h in df[header] if h)
    assert "@" not in folder.joinpath(f"{name}.csv").read_text(encoding="utf-8")


def test_small_audience_is_not_written_and_reported(exported):
    con, recon, folder = exported
    r = recon.set_index("audience").loc["lookalike_seed_top_clv"]
    assert r["exported"] == 40 and "below the minimum of 100" in r["status"]
    assert not (folder / "lookalike_seed_top_clv.csv").exists()


def test_reconciliation_adds_up(exported):
    con, recon, folder = exported
    excl = recon[[c for c in recon.columns if c.startswith("excluded_")]].sum(axis=1)
    assert (recon["eligible"] == recon["exported"] + excl).all()
    e = recon.set_index("audience").loc["email_campaign"]
    assert e["excluded_shared_identity"] == 1 and e["excluded_no_contact"] == 3
    assert e["excluded_duplicate"] == 0


def test_files_are_utf8_without_bom(exported):
    con, recon, folder = exported
    files = list(folder.glob("*.csv"))
    assert files and not any(exports.has_bom(f) for f in files)
    assert not list(folder.glob(".*tmp"))


@pytest.mark.parametrize("raw,country,expected", [
    ("+1 (700) 000-0958", "US", "+17000000958"), ("07700 900123", "GB", "+447700900123"),
    ("0049 30 1234567", "DE", "+49301234567"), ("12", "US", None), ("5551234", "ZZ", None), (None, "US", None)],
    ids=["plus", "national", "00-prefix", "too-short", "unknown-country", "missing"])
def test_phone_e164(raw, country, expected):
    got = exports.normalize_phone(pd.Series([raw], dtype=object), pd.Series([country]))[0]
    assert got == expected


def test_sample_exports_respect_consent_from_the_raw_tables(tmp_path):
    src = small_sample()
    con = exports.contacts(connect(src))
    people = _people(con).assign(score_decile=1, clv_decile=10)
    exports.export_audiences(con, people, tmp_path, min_size=100)
    c = read(src, "customers")
    m = read(src, "messages")
    opted_out = set(m.loc[(m.channel == "email") & (m.unsubscribed_ts.notna() | m.bounced_ts.notna()), "customer_id"])
    bad_email = set(c.loc[~c.consent_email.fillna(False) | c.erased_at.notna(), "customer_id"]) | opted_out
    df = pd.read_csv(tmp_path / "email_campaign.csv", dtype=str, keep_default_na=False)
    assert len(df) > 100 and set(df["customer_id"]) & bad_email == set()
    # people sharing an email with a suppressed account are suppressed too
    norm = c.email.str.strip().str.lower()
    shared = set(c.loc[norm.isin(set(norm[c.customer_id.isin(bad_email)].dropna())), "customer_id"])
    assert set(df["customer_id"]) & shared == set()
    bad_ads = set(c.loc[~c.consent_ads.fillna(False) | c.erased_at.notna(), "customer_id"])
    ads = pd.read_csv(tmp_path / "google_ads_likely_buyers.csv", dtype=str, keep_default_na=False)
    bad_hashes = set(exports.sha256(exports.normalize_email(c.loc[c.customer_id.isin(bad_ads), "email"])).dropna())
    assert len(ads) > 100 and set(ads["Email"]) & bad_hashes == set()


def test_segment_step_flags_add_suppression(tmp_path):
    from playbook.artifacts import write_artifact
    from playbook.report.privacy import pseudonymize

    con = _contacts()
    flagged = ["C0001", "C0002"]
    seg = pd.DataFrame({"customer_pid": pseudonymize(pd.Series(flagged)).to_numpy(),
                        "suppress_email": True, "suppress_ads": False, "rfm_segment": "Champions"})
    write_artifact(seg, tmp_path, "segments")
    flags = exports.segment_flags(tmp_path, con["customer_id"])
    recon = exports.export_audiences(con, _people(con), tmp_path / "exports", 100, flags)
    df = pd.read_csv(tmp_path / "exports" / "email_campaign.csv", dtype=str)
    assert set(df["customer_id"]) & set(flagged) == set()
    assert recon.set_index("audience").loc["email_campaign", "excluded_segment_step"] == 2


def test_no_segment_artifact_means_no_extra_flags(tmp_path):
    assert exports.segment_flags(tmp_path, pd.Series(["C1"])) is None


def test_duplicate_emails_are_exported_once_and_counted(tmp_path):
    con = _contacts()
    dup = con.iloc[[0]].assign(customer_id="C_dup", email=" USER0@example.com")
    con = pd.concat([con, dup], ignore_index=True)
    con["email_norm"] = exports.normalize_email(con["email"])
    recon = exports.export_audiences(con, _people(con), tmp_path, 100).set_index("audience")
    df = pd.read_csv(tmp_path / "email_campaign.csv", dtype=str)
    assert df["email"].is_unique and recon.loc["email_campaign", "excluded_duplicate"] == 1
