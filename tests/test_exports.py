"""Exports: suppression applied last on every file, hashing/normalisation, minimum audience size,
plaintext email lists only in the private folder (the exact formats: test_audience_formats.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from playbook.data.warehouse import connect
from playbook.run.publish import private_dir
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
    """Everyone a likely buyer except the last 40 clean customers (score decile 5)."""
    n = len(con)
    return pd.DataFrame({"customer_id": con["customer_id"], "segment": "Loyal", "offer": "10% off",
                         "top_products": "A; B; C", "local_send_time": "19:00 Europe/London",
                         "score_decile": np.where((np.arange(n) >= 110) & (np.arange(n) < N_CLEAN), 5, 1),
                         "clv": np.arange(n, dtype=float)})


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


SUPPRESSED_EMAIL = {"X_noconsent", "X_erased", "X_unsub", "X_bounced", "X_dup_of_unsub", "X_noemail", "X_invalid"}
SUPPRESSED_ADS = {"X_noconsent", "X_erased", "X_unsub", "X_phone_dup"}


@pytest.fixture()
def exported(tmp_path):
    con = _contacts()
    out = tmp_path / "report"
    recon = exports.export_audiences(con, _people(con), out, min_size=100)
    return con, recon.set_index("audience"), out


def _suppressed_emails(con: pd.DataFrame) -> set[str]:
    return set(con.loc[con.customer_id.isin(SUPPRESSED_EMAIL), "email_norm"].dropna())


@pytest.mark.parametrize("name,column", [("klaviyo_list_import", "Email"), ("mailchimp_audience_import", "Email Address")])
def test_email_lists_never_contain_a_suppressed_customer(exported, name, column):
    con, recon, out = exported
    df = _read(private_dir(out) / f"{name}.csv")
    assert len(df) == N_CLEAN and df[column].iloc[0] == "user0@example.com"
    assert set(df[column]) & _suppressed_emails(con) == set()
    assert set(df[column]) == set(con["email_norm"].iloc[:N_CLEAN])
    assert recon.loc[name, "file"] == f"private/{name}.csv" and recon.loc[name, "exported"] == N_CLEAN
    assert not (out / "exports" / f"{name}.csv").exists()


@pytest.mark.parametrize("name,email_col,phone_col", [
    ("google_ads_customer_match", "Email", "Phone"), ("meta_custom_audience", "email", "phone"),
    ("tiktok_custom_audience", "Email_SHA256", "Phone_SHA256")])
def test_ad_exports_hold_only_hashes_of_consented_people(exported, name, email_col, phone_col):
    con, recon, out = exported
    path = out / "exports" / f"{name}.csv"
    df = _read(path)
    bad = con[con.customer_id.isin(SUPPRESSED_ADS)]
    bad_emails = {hashlib.sha256(e.encode()).hexdigest() for e in bad["email_norm"].dropna()}
    bad_phones = {hashlib.sha256(p.encode()).hexdigest() for p in bad["phone_e164"].dropna()} | {
        hashlib.sha256(p.lstrip("+").encode()).hexdigest() for p in bad["phone_e164"].dropna()}
    assert bad_emails & set(df[email_col]) == set() and bad_phones & set(df[phone_col]) == set()
    assert hashlib.sha256(b"user0@example.com").hexdigest() in set(df[email_col])
    assert all(len(h) == 64 for h in df[email_col] if h)
    assert "@" not in path.read_text(encoding="utf-8")
    # likely buyers only (the 40 clean customers in score decile 5 are not in the file); X_bounced is:
    # a bounce suppresses email only
    assert len(df) == 111 and recon.loc[name, "eligible"] == len(con) - 40


def test_small_audience_is_not_written_and_reported(tmp_path):
    con = _contacts()
    people = _people(con).assign(score_decile=np.where(np.arange(len(con)) < 40, 1, 5))
    out = tmp_path / "report"
    (out / "exports").mkdir(parents=True)
    (out / "exports" / "meta_custom_audience.csv").write_text("stale\n", encoding="utf-8")
    recon = exports.export_audiences(con, people, out, min_size=100).set_index("audience")
    r = recon.loc["meta_custom_audience"]
    assert r["exported"] == 40 and r["status"] == "not exported: 40 people, below the minimum of 100"
    assert r["file"] == "" and not (out / "exports" / "meta_custom_audience.csv").exists()  # stale file removed
    assert recon.loc["meta_value_lookalike_seed", "status"] == "exported"  # every customer, not only buyers


def test_reconciliation_adds_up(exported):
    con, recon, out = exported
    excl = recon[[c for c in recon.columns if c.startswith("excluded_")]].sum(axis=1)
    assert (recon["eligible"] == recon["exported"] + excl).all()
    e = recon.loc["klaviyo_list_import"]
    assert e["excluded_shared_identity"] == 1 and e["excluded_no_contact"] == 3
    assert e["excluded_duplicate"] == 0
    assert list(recon.index) == [f.name for f in exports.FORMATS]
    assert list(recon.columns) == ["channel", "eligible", *[f"excluded_{r}" for r in exports.REASONS],
                                   "excluded_duplicate", "exported", "file", "status"]


def test_files_are_utf8_without_bom_and_private_ones_owner_only(exported):
    con, recon, out = exported
    files = list((out / "exports").glob("*.csv")) + list(private_dir(out).glob("*.csv"))
    assert len(files) == 6 and not any(exports.has_bom(f) for f in files)
    assert not list((out / "exports").glob(".*tmp")) and not list(private_dir(out).glob(".*tmp"))
    assert sorted(p.name for p in private_dir(out).iterdir()) == sorted(exports.PRIVATE_FILES)
    assert private_dir(out) == out.parent / ".private" / out.name  # beside the report, not in it
    assert private_dir(out).stat().st_mode & 0o777 == 0o700
    assert private_dir(out).parent.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in private_dir(out).iterdir())
    assert not any("@" in p.read_text(encoding="utf-8") for p in out.rglob("*.csv"))


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
    people = _people(con).assign(score_decile=1)
    exports.export_audiences(con, people, tmp_path / "r", min_size=100)
    c = read(src, "customers")
    m = read(src, "messages")
    opted_out = set(m.loc[(m.channel == "email") & (m.unsubscribed_ts.notna() | m.bounced_ts.notna()), "customer_id"])
    bad_email = set(c.loc[~c.consent_email.fillna(False) | c.erased_at.notna(), "customer_id"]) | opted_out
    df = _read(private_dir(tmp_path / "r") / "klaviyo_list_import.csv")
    # people sharing an email with a suppressed account are suppressed too
    norm = c.email.str.strip().str.lower()
    shared = set(c.loc[norm.isin(set(norm[c.customer_id.isin(bad_email)].dropna())), "customer_id"])
    bad_norm = set(norm[c.customer_id.isin(bad_email | shared)].dropna())
    assert len(df) > 100 and set(df["Email"]) & bad_norm == set()
    bad_ads = set(c.loc[~c.consent_ads.fillna(False) | c.erased_at.notna(), "customer_id"])
    ads = _read(tmp_path / "r" / "exports" / "google_ads_customer_match.csv")
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
    recon = exports.export_audiences(con, _people(con), tmp_path, 100, flags)
    df = _read(private_dir(tmp_path) / "mailchimp_audience_import.csv")
    flagged_emails = set(con.loc[con.customer_id.isin(flagged), "email_norm"])
    assert len(flagged_emails) == 2 and set(df["Email Address"]) & flagged_emails == set()
    assert recon.set_index("audience").loc["mailchimp_audience_import", "excluded_segment_step"] == 2
    assert recon.set_index("audience").loc["google_ads_customer_match", "excluded_segment_step"] == 0


def test_no_segment_artifact_means_no_extra_flags(tmp_path):
    assert exports.segment_flags(tmp_path, pd.Series(["C1"])) is None


def test_duplicate_emails_are_exported_once_and_counted(tmp_path):
    con = _contacts()
    dup = con.iloc[[0]].assign(customer_id="C_dup", email=" USER0@example.com")
    con = pd.concat([con, dup], ignore_index=True)
    con["email_norm"] = exports.normalize_email(con["email"])
    recon = exports.export_audiences(con, _people(con), tmp_path / "r", 100).set_index("audience")
    df = _read(private_dir(tmp_path / "r") / "klaviyo_list_import.csv")
    assert df["Email"].is_unique and len(df) == N_CLEAN and recon.loc["klaviyo_list_import", "excluded_duplicate"] == 1
    meta = _read(tmp_path / "r" / "exports" / "meta_custom_audience.csv")
    assert meta["email"].is_unique and recon.loc["meta_custom_audience", "excluded_duplicate"] == 1
