"""Plaintext PII stays out of the shareable report: the personalize step run into a real staging
folder, published with playbook.run.publish, scanned with the runner's PII guard.

After a publish the Klaviyo and Mailchimp lists are in ``reports/.private/<slug>/`` (folder
0700, files 0600) and no customer email appears anywhere under ``reports/<slug>/``."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from playbook import files
from playbook.files import private_dir
from playbook.run import publish
from playbook.run.guard import PiiGuard
from playbook.steps import personalize as P
from playbook.steps.context import start_step
from playbook.value.audience_formats import PRIVATE_FILES
from tests.sample_data import read, small_sample

CONFIG = "campaigns/holiday-2025.yaml"
SLUG = "holiday-test"
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _run_step(output_dir: Path) -> pd.DataFrame:
    """The personalize step as notebook 03 calls it, into ``output_dir``; the reconciliation."""
    ctx = start_step("03_personalize", CONFIG, str(small_sample()), str(output_dir), 42)
    prop = P.score_propensity(ctx)
    value = P.customer_value(ctx)
    recs = P.recommendations(ctx, prop)
    send = P.send_times(ctx)
    offers = P.offers(ctx, propensity=prop, value=value, recommendations=recs, send_times=send)
    recon = P.exports(ctx, offers)
    run = P.summarize(ctx, base=P.customer_base(ctx), propensity=prop, value=value, recommendations=recs,
                      send_times=send, offers=offers, flows=P.flows(ctx), exports=recon)
    P.write_artifacts(ctx, run)
    return recon


def _customer_emails() -> set[str]:
    return set(read(small_sample(), "customers")["email"].dropna().str.strip().str.lower())


def _pii_values() -> list[str]:
    c = read(small_sample(), "customers")
    return [str(v).strip() for col in ("email", "phone", "first_name") for v in c[col].dropna()]


def _emails_in(folder: Path) -> set[str]:
    found: set[str] = set()
    for p in folder.rglob("*"):
        if p.is_file():
            found |= {m.lower() for m in EMAIL_RE.findall(p.read_bytes().decode("utf-8", "ignore"))}
    return found


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """reports/<slug> published from a staging folder the real personalize step ran into."""
    root = tmp_path_factory.mktemp("reports")
    final = root / SLUG
    staging, _ = publish.prepare_staging(final, root / files.STAGING_DIR, SLUG, ["03_personalize"])
    before = publish.snapshot(staging)
    recon = _run_step(staging)
    written = publish.attribute_files(before, publish.snapshot(staging), {"03_personalize": (0, 2**63 - 1)}, {})
    staged_private = sorted(p.name for p in (staging / publish.PRIVATE_DIR).iterdir())
    leak = PiiGuard(_pii_values).check(staging, written["03_personalize"])
    publish.publish(staging, final)
    return {"root": root, "final": final, "recon": recon, "written": written["03_personalize"],
            "staged_private": staged_private, "leak": leak}


def test_private_lists_are_published_beside_the_report_owner_only(published):
    root, final = published["root"], published["final"]
    folder = root / ".private" / SLUG
    assert private_dir(final) == folder
    assert published["staged_private"] == sorted(PRIVATE_FILES)
    assert sorted(p.name for p in folder.iterdir()) == sorted(PRIVATE_FILES)
    assert _mode(root / ".private") == 0o700 and _mode(folder) == 0o700
    assert all(_mode(p) == 0o600 for p in folder.iterdir())
    # the private files really hold the plaintext emails of consented people (positive control)
    klaviyo = pd.read_csv(folder / "klaviyo_list_import.csv", dtype=str, keep_default_na=False)
    assert len(klaviyo) > 100 and set(klaviyo["Email"]) <= _customer_emails()
    assert not list(root.glob(".private/.*"))  # nothing held aside left behind


def test_no_plaintext_email_anywhere_in_the_published_report(published):
    final = published["final"]
    assert not (final / publish.PRIVATE_DIR).exists()
    assert sorted(p.name for p in (final / "exports").iterdir()) == [
        "google_ads_customer_match.csv", "meta_custom_audience.csv", "meta_value_lookalike_seed.csv",
        "tiktok_custom_audience.csv"]
    assert _emails_in(final) & _customer_emails() == set()
    assert not any(f.startswith(publish.PRIVATE_DIR + "/") for f in published["written"])  # not attributed


def test_guard_passes_the_step_and_fails_a_plaintext_email_in_the_report(published, tmp_path):
    assert published["leak"] is None  # the step's own files are clean: the run would publish
    final = published["final"]
    rel = [p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file()]
    guard = PiiGuard(_pii_values)
    assert guard.check(final, rel) is None
    copy = tmp_path / "copy"
    shutil.copytree(final, copy)
    shutil.copy(private_dir(final) / "klaviyo_list_import.csv", copy / "exports" / "klaviyo_list_import.csv")
    message = guard.check(copy, [*rel, "exports/klaviyo_list_import.csv"])
    assert message is not None and message.startswith("PII found in report: exports/klaviyo_list_import.csv (")
    assert "email(s)" in message
    # the same file in a staging folder's private subfolder is expected there: not a leak
    (copy / "private").mkdir()
    shutil.move(copy / "exports" / "klaviyo_list_import.csv", copy / "private" / "klaviyo_list_import.csv")
    assert guard.check(copy, [*rel, "private/klaviyo_list_import.csv"]) is None


def test_csv_guard_ignores_hashes_and_names_but_finds_phones(tmp_path):
    guard = PiiGuard(lambda: ["jane.doe@example.com", "+44 20 7946 0958", "Eve"])
    (tmp_path / "a.csv").write_text("email,phone\n" + "4" * 64 + "," + "0" * 64 + "\n", encoding="utf-8")
    (tmp_path / "calendar.csv").write_text("event,day\nChristmas Eve,2025-12-24\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("Phone\n442079460958\n", encoding="utf-8")
    assert guard.check(tmp_path, ["a.csv", "calendar.csv"]) is None
    message = guard.check(tmp_path, ["b.csv"])
    assert message is not None and message.startswith("PII found in report: b.csv (1 phone(s): phone ending 58)")


def _staging_with_private(root: Path, content: str) -> Path:
    staging = files.new_folder(root / files.STAGING_DIR, f"{SLUG}-x-")
    (staging / "index.html").write_text(content, encoding="utf-8")
    folder = files.make_private_dir(staging)
    (folder / "klaviyo_list_import.csv").write_text(f"Email\n{content}@example.com\n", encoding="utf-8")
    return staging


def test_publish_replaces_private_files_only_when_the_run_has_them(tmp_path):
    root = tmp_path / "reports"
    final = root / SLUG
    publish.publish(_staging_with_private(root, "one"), final)
    dest = root / ".private" / SLUG
    assert (dest / "klaviyo_list_import.csv").read_text(encoding="utf-8") == "Email\none@example.com\n"
    # a rerun of other steps has no private subfolder: the private files stay
    staging, _ = publish.prepare_staging(final, root / files.STAGING_DIR, SLUG, ["01_plan"])
    publish.publish(staging, final)
    assert (dest / "klaviyo_list_import.csv").read_text(encoding="utf-8") == "Email\none@example.com\n"
    # a new run's private subfolder replaces them (files it no longer writes are gone)
    staging = _staging_with_private(root, "two")
    (staging / "private" / "klaviyo_list_import.csv").unlink()
    publish.publish(staging, final)
    assert list(dest.iterdir()) == [] and _mode(dest) == 0o700
    assert sorted(p.name for p in (root / ".private").iterdir()) == [SLUG]


def test_failed_swap_publishes_no_private_file(tmp_path, monkeypatch):
    root = tmp_path / "reports"
    final = root / SLUG
    publish.publish(_staging_with_private(root, "one"), final)
    staging = _staging_with_private(root, "two")
    real_swap = publish.swap_folder

    def failing(src, dst):
        if dst == final:
            raise OSError("disk full")
        return real_swap(src, dst)

    monkeypatch.setattr(publish, "swap_folder", failing)
    with pytest.raises(OSError, match="disk full"):
        publish.publish(staging, final)
    assert (root / ".private" / SLUG / "klaviyo_list_import.csv").read_text(encoding="utf-8") == (
        "Email\none@example.com\n")
    assert sorted(p.name for p in (root / ".private").iterdir()) == [SLUG]  # the held copy is deleted
    assert (final / "index.html").read_text(encoding="utf-8") == "one"


def test_interactive_and_other_folders_keep_private_files_beside_them(tmp_path):
    interactive = tmp_path / "reports" / "_interactive" / SLUG
    assert private_dir(interactive) == tmp_path / "reports" / "_interactive" / ".private" / SLUG
    assert private_dir(tmp_path / "reports" / ".staging" / "s-1") == tmp_path / "reports" / ".staging" / "s-1" / "private"
    folder = files.make_private_dir(interactive)
    assert _mode(folder) == 0o700 and _mode(folder.parent) == 0o700
    assert not interactive.exists()  # nothing created inside the report folder itself


def test_legacy_plaintext_export_is_not_carried_into_staging(tmp_path):
    root = tmp_path / "reports"
    final = root / SLUG
    (final / "exports").mkdir(parents=True)
    (final / "exports" / "email_campaign.csv").write_text("customer_id,email\nC1,a@b.com\n", encoding="utf-8")
    (final / "exports" / "meta_likely_buyers.csv").write_text("email,phone\n", encoding="utf-8")
    staging, _ = publish.prepare_staging(final, root / files.STAGING_DIR, SLUG, ["01_plan"])
    assert not (staging / "exports" / "email_campaign.csv").exists()
    assert (staging / "exports" / "meta_likely_buyers.csv").exists()
    assert os.access(staging, os.W_OK)
