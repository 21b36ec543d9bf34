"""Issue 19 (hardening), items 1, 2, 6 and 12: publishing faults, one test per fault, named after it.

The fault table is docs/faults.md. Kernel-backed tests run the tiny fixture notebooks of
tests/fixtures/notebooks/good with a kernel spec registered for this interpreter (as
tests/test_runner.py does); the audience exports come from the real personalize step run on the
2,000-customer sample, once for the module.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
import yaml

from playbook import files
from playbook.config.campaign import DataConfig
from playbook.config.loader import load_config
from playbook.errors import ConfigError, RunError
from playbook.paths import REPORT_MARKER, ROOT_MARKER, check_output_dir, resolve
from playbook.run import publish
from playbook.run.campaign import run_campaign
from playbook.steps import personalize as P
from playbook.steps.context import start_step
from playbook.value.audience_formats import normalize_email, normalize_phone, sha256
from playbook.value.audiences import recheck_exports
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "fixtures" / "notebooks" / "good"
CONFIG = "campaigns/holiday-2025.yaml"
KERNEL = "playbook-test-kernel"  # the kernel of the shared kernel_env fixture (tests/conftest.py)
SLUG = "holiday-2025"


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (content) and folder (None) under ``folder``."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


# --------------------------------------------------------------------------------------------
# item 1: a partial rerun after an erasure


def _personalize_into(staging: Path, data: Path) -> None:
    """The personalize step as notebook 03 calls it, into a staging folder (exports included)."""
    ctx = start_step("03_personalize", CONFIG, str(data), str(staging), 42)
    prop = P.score_propensity(ctx)
    value = P.customer_value(ctx)
    recs = P.recommendations(ctx, prop)
    send = P.send_times(ctx)
    offers = P.offers(ctx, propensity=prop, value=value, recommendations=recs, send_times=send)
    P.exports(ctx, offers)


def _ids_by(customers: pd.DataFrame, hashed: bool) -> pd.Series:
    """customer_id indexed by normalised email (or its SHA-256)."""
    email = normalize_email(customers["email"])
    key = sha256(email) if hashed else email
    ids = pd.Series(customers["customer_id"].to_numpy(), index=key.to_numpy())
    return ids[ids.index.notna() & ~ids.index.duplicated()]


@pytest.fixture(scope="module")
def erased_rerun(kernel_env, tmp_path_factory: pytest.TempPathFactory):
    """Exports published by the real personalize step; then 8 people of the email list and 5 of
    the Meta audience erased and 3 more lose email consent; then ``--only plan``."""
    tmp = tmp_path_factory.mktemp("erased")
    data = tmp / "data"
    shutil.copytree(small_sample(), data)
    root = tmp / "reports"
    final = root / SLUG
    staging, _ = publish.prepare_staging(final, root / files.STAGING_DIR, SLUG, ["03_personalize"])
    _personalize_into(staging, data)
    publish.publish(staging, final)
    private = files.private_dir(final)
    klaviyo = pd.read_csv(private / "klaviyo_list_import.csv", dtype=str, keep_default_na=False)
    meta = pd.read_csv(final / "exports" / "meta_custom_audience.csv", dtype=str, keep_default_na=False)
    customers = pd.read_parquet(data / "customers.parquet")
    by_email, by_hash = _ids_by(customers, False), _ids_by(customers, True)
    erased = set(by_email.reindex(klaviyo["Email"].iloc[:8]).dropna()) | set(by_hash.reindex(meta["email"].iloc[:5]).dropna())
    no_consent = set(by_email.reindex(klaviyo["Email"].iloc[20:23]).dropna()) - erased
    assert len(erased) >= 8 and len(no_consent) == 3
    customers.loc[customers["customer_id"].isin(erased), "erased_at"] = pd.Timestamp("2025-12-01", tz="UTC")
    customers.loc[customers["customer_id"].isin(no_consent), "consent_email"] = False
    customers.to_parquet(data / "customers.parquet", index=False)
    before = {p.name: len(pd.read_csv(p)) for p in [*(final / "exports").glob("*.csv"), *private.glob("*.csv")]}
    lines: list[str] = []
    result = run_campaign(load_config(ROOT / CONFIG), CONFIG, only="plan", notebooks_dir=GOOD, kernel_name=KERNEL,
                          timeout=120, data_source=str(data), reports_root=root, progress=lines.append)
    gone = customers[customers["customer_id"].isin(erased | no_consent)]
    email, phone = normalize_email(customers["email"]), normalize_phone(customers["phone"], customers["country"])
    gone_email, gone_phone = set(email[gone.index].dropna()), set(phone[gone.index].dropna())
    related = set(email[email.isin(gone_email) | phone.isin(gone_phone)].dropna())
    return SimpleNamespace(result=result, final=final, private=private, before=before, lines=lines,
                           erased=customers[customers["customer_id"].isin(erased)], gone=gone,
                           no_consent=customers[customers["customer_id"].isin(no_consent)], data=data,
                           klaviyo_before=klaviyo, related_emails=related)


def test_partial_rerun_does_not_republish_erased_people(erased_rerun):
    r = erased_rerun
    assert r.result.ok, r.result.message
    erased_emails = set(normalize_email(r.erased["email"]).dropna())
    erased_hashes = set(sha256(normalize_email(r.erased["email"])).dropna())
    email_lists = {p.name: pd.read_csv(p, dtype=str, keep_default_na=False) for p in r.private.glob("*.csv")}
    ad_files = {p.name: pd.read_csv(p, dtype=str, keep_default_na=False) for p in (r.final / "exports").glob("*.csv")}
    assert set(email_lists) == {"klaviyo_list_import.csv", "mailchimp_audience_import.csv"}
    assert set(ad_files) == {"google_ads_customer_match.csv", "meta_custom_audience.csv",
                             "meta_value_lookalike_seed.csv", "tiktok_custom_audience.csv"}
    # nobody erased in any list: plaintext emails in the email lists, email hashes in the ad files
    assert set(email_lists["klaviyo_list_import.csv"]["Email"]) & erased_emails == set()
    assert set(email_lists["mailchimp_audience_import.csv"]["Email Address"]) & erased_emails == set()
    for name in ("google_ads_customer_match.csv", "meta_custom_audience.csv", "meta_value_lookalike_seed.csv"):
        col = "Email" if name.startswith("google") else "email"
        assert set(ad_files[name][col]) & erased_hashes == set(), name
    # withdrawn email consent: out of the email lists
    assert set(email_lists["klaviyo_list_import.csv"]["Email"]) & set(normalize_email(r.no_consent["email"])) == set()
    # exactly those people (and accounts sharing their email or phone) left; everyone else stayed
    removed = set(r.klaviyo_before["Email"]) - set(email_lists["klaviyo_list_import.csv"]["Email"])
    assert set(normalize_email(r.gone["email"])) & set(r.klaviyo_before["Email"]) <= removed <= r.related_emails
    assert len(removed) >= 11 and len(email_lists["klaviyo_list_import.csv"]) == len(r.klaviyo_before) - len(removed)
    assert len(ad_files["meta_custom_audience.csv"]) < r.before["meta_custom_audience.csv"]


def test_partial_rerun_says_which_exports_it_rechecked(erased_rerun):
    r = erased_rerun
    summary = json.loads((r.final / "summary.json").read_text(encoding="utf-8"))
    entries = {e["file"]: e for e in summary["exports_rechecked"]}
    n = len(set(r.klaviyo_before["Email"]) - set(pd.read_csv(r.private / "klaviyo_list_import.csv")["Email"]))
    assert entries[f".private/{SLUG}/klaviyo_list_import.csv"]["removed"] == n >= 11
    assert entries[f"{SLUG}/exports/meta_custom_audience.csv"]["removed"] >= 5
    assert all(e["status"] == "re-checked" for e in entries.values())
    assert "re-checked against the current erasure, consent and suppression" in r.result.message
    assert any(f"klaviyo_list_import.csv: {n} removed" in line for line in r.lines)
    assert "exports re-checked" in (r.final / "index.html").read_text(encoding="utf-8")


def test_republished_export_below_the_minimum_is_withdrawn(erased_rerun, tmp_path):
    """An export the re-check leaves under min_audience_size is deleted, and says so."""
    copy = tmp_path / "meta_custom_audience.csv"
    shutil.copy(erased_rerun.final / "exports" / "meta_custom_audience.csv", copy)
    customers = pd.read_parquet(erased_rerun.data / "customers.parquet")
    customers = customers.assign(consent_ads=False)  # nobody may be in an ad audience any more
    con = pd.DataFrame({"customer_id": customers["customer_id"].astype(str), "email": customers["email"],
                        "phone": customers["phone"], "first_name": customers["first_name"],
                        "country": customers["country"], "consent_email": customers["consent_email"],
                        "consent_ads": False, "erased": customers["erased_at"].notna(),
                        "unsubscribed": False, "bounced": False})
    con["email_norm"] = normalize_email(con["email"])
    con["phone_e164"] = None
    [entry] = recheck_exports(con, None, [(copy, "meta")], min_size=100)
    assert entry["status"] == "withdrawn" and entry["rows_after"] == 0 and not copy.exists()


# --------------------------------------------------------------------------------------------
# item 2: output.dir pointing at the project, the data or outside


@pytest.fixture
def fake_project(tmp_path, monkeypatch) -> Path:
    """A project ``<tmp>/work/proj`` (pyproject, package, data/small with a table) beside other files."""
    proj = tmp_path / "work" / "proj"
    (proj / "playbook").mkdir(parents=True)
    (proj / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (proj / "data" / "small").mkdir(parents=True)
    (proj / "data" / "small" / "customers.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    (tmp_path / "work" / "notes.txt").write_text("the user's own file\n", encoding="utf-8")
    monkeypatch.setenv("PLAYBOOK_ROOT", str(proj))
    return proj


@pytest.mark.parametrize("output_dir", ["../../x", ".", "data/small"])
def test_output_dir_outside_the_project_or_on_a_foreign_folder_is_refused(fake_project, output_dir):
    tree = fake_project.parents[1]
    before = _tree(tree)
    cfg = SimpleNamespace(slug="demo", output_dir=resolve(output_dir), data=DataConfig())
    with pytest.raises(ConfigError, match=r"output\.dir .* Fix: set output\.dir to a new folder"):
        run_campaign(cfg, "c.yaml", kernel_name="no-such-kernel", notebooks_dir="notebooks")
    assert _tree(tree) == before  # nothing written anywhere, the project swapped nowhere


def test_output_dir_absent_empty_or_the_playbooks_own_is_accepted(fake_project, tmp_path):
    assert check_output_dir(fake_project / "reports" / "demo") == fake_project / "reports" / "demo"
    (fake_project / "reports" / "demo").mkdir(parents=True)
    (fake_project / "reports" / "demo" / "mine.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds files the playbook did not write"):
        check_output_dir(fake_project / "reports" / "demo")
    (fake_project / "reports" / "demo" / REPORT_MARKER).write_text("x", encoding="utf-8")
    check_output_dir(fake_project / "reports" / "demo")  # its own report: replaced on publish
    own = tmp_path / "elsewhere"
    own.mkdir()
    check_output_dir(own / "demo")  # an empty folder of the user's
    (own / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="which holds files the playbook did not write"):
        check_output_dir(own / "demo")
    (own / ROOT_MARKER).write_text("x", encoding="utf-8")
    check_output_dir(own / "demo")


# --------------------------------------------------------------------------------------------
# item 6: two partial runs of one report at once


def _slow_plan(tmp: Path) -> Path:
    """The good fixture notebooks, 01_plan sleeping 4 s and leaving a marker in its output."""
    nb_dir = tmp / "slow"
    shutil.copytree(GOOD, nb_dir)
    nb = nbformat.read(nb_dir / "01_plan.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(4)\nprint('SLOW_PLAN_MARKER')"))
    nbformat.write(nb, nb_dir / "01_plan.ipynb")
    return nb_dir


def _run(root: Path, only: str, nb_dir: Path, **kw):
    cfg = SimpleNamespace(slug="demo", output_dir=root / "demo", data=DataConfig())
    return run_campaign(cfg, "campaigns/fixture.yaml", only=only, notebooks_dir=nb_dir, kernel_name=KERNEL,
                        timeout=120, reports_root=root, pii_values=lambda: ["jane.doe@example.com"], **kw)


def _run_at(report: Path) -> dict[str, str]:
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    return {e["step"]: e.get("run_at") for e in summary["steps"]}


def test_concurrent_partial_runs_lose_no_update(kernel_env, tmp_path):
    root = tmp_path / "reports"
    assert _run(root, "plan,segment", GOOD).ok
    first = _run_at(root / "demo")
    time.sleep(1.1)  # run_at has whole seconds
    out: dict[str, object] = {}
    plan = threading.Thread(target=lambda: out.update(plan=_run(root, "plan", _slow_plan(tmp_path))))
    plan.start()
    deadline = time.monotonic() + 60
    while not any(p.is_dir() for p in (root / ".staging").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the plan run has taken its copy of the report
    lines: list[str] = []
    segment = _run(root, "segment", GOOD, progress=lines.append, lock_wait=120)
    plan.join(timeout=120)
    assert segment.ok and out["plan"].ok  # type: ignore[attr-defined]
    final = _run_at(root / "demo")
    assert final["02_segment"] != first["02_segment"]  # the segment run's update is there ...
    assert "SLOW_PLAN_MARKER" in (root / "demo" / "01_plan.ipynb").read_text(encoding="utf-8")  # ... and the plan's
    assert any("waiting up to 120 s for another run" in line for line in lines)  # the second one said it waited


_HOLD_RUN_LOCK = """
import sys, time
from pathlib import Path
from playbook.run.publish import run_lock
with run_lock(Path(sys.argv[1]), "demo"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_second_run_refuses_after_waiting_for_the_lock(kernel_env, tmp_path):
    root = tmp_path / "reports"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_RUN_LOCK, str(root)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(RunError, match=rf"Another playbook run is working on .*demo \(pid {holder.pid},"):
            _run(root, "plan", GOOD, lock_wait=0.5)
        assert 0.4 < time.monotonic() - t0 < 30
        assert not (root / ".staging").exists() and not (root / "demo").exists()  # nothing staged
    finally:
        holder.communicate("go\n", timeout=10)


# --------------------------------------------------------------------------------------------
# item 12: the runner killed with kill -9


_DIE_IN_STAGING = """
import sys, time
from pathlib import Path
from playbook import files
from playbook.run import publish
root = Path(sys.argv[1])
staging, _ = publish.prepare_staging(root / "demo", root / files.STAGING_DIR, "demo", ["03_personalize"])
private = files.make_private_dir(staging)
files.atomic_write(private / "klaviyo_list_import.csv", lambda t: t.write_text("Email\\nann@example.com\\n"))
print(staging, flush=True)
time.sleep(600)
"""


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def test_killed_runner_leaves_no_stale_staging_and_no_readable_pii(tmp_path):
    root = tmp_path / "reports"
    # a run of another report in this process is alive: its staging must survive the clean-up
    live, _ = publish.prepare_staging(root / "other", root / files.STAGING_DIR, "other", ["01_plan"])
    child = subprocess.Popen([sys.executable, "-c", _DIE_IN_STAGING, str(root)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        dead = Path(child.stdout.readline().strip())
        assert (dead / "private" / "klaviyo_list_import.csv").is_file()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert dead.is_dir()  # what kill -9 leaves behind ...
    assert _mode(root / files.STAGING_DIR) == 0o700  # ... readable by its owner only
    assert _mode(dead / "private") == 0o700 and _mode(dead / "private" / "klaviyo_list_import.csv") == 0o600
    nxt, _ = publish.prepare_staging(root / "demo", root / files.STAGING_DIR, "demo", ["01_plan"])
    assert not dead.exists() and not Path(f"{dead}.lock").exists()  # the next run cleaned it
    assert live.is_dir() and nxt.is_dir()
    publish.discard_staging(live)
    publish.discard_staging(nxt)
    assert sorted(p.name for p in (root / files.STAGING_DIR).iterdir()) == []


def test_playbook_run_refuses_a_foreign_output_dir_before_preflight_writes_its_cache(tmp_path):
    """The CLI checks ``output.dir`` before the data preflight, which caches its validation next to
    the report folder: a refused folder's parent must stay untouched (``.cache`` included)."""
    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8"))
    cfg["data"] = {"source": str(root / "data" / "sample")}
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    cfg["output"] = {"dir": str(foreign / "report")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "playbook.cli", "run", str(path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode != 0 and "output.dir" in res.stdout + res.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]  # no .cache, no .staging
    assert "Traceback" not in res.stderr
