"""Issue 19 (hardening), privacy faults 3, 4 and 15: one test per fault, named after it.

The fault table is docs/faults.md. Fault 3 (a pseudonym-key change silently dropped the segment
step's suppression) and fault 15 (pseudonyms reversible with the public development key) are tested
on the key functions and artifacts, and fault 4 (text from the campaign file reached HTML unescaped)
on the Markdown and table helpers; one real ``playbook run`` (a module fixture) carries script,
attribute-breaking and ``javascript:`` payloads in the campaign file and the data through every
step page they reach, and then tries a partial rerun with another key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from html import unescape
from pathlib import Path
from typing import cast

import pandas as pd
import pytest
import yaml
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from playbook.artifacts import KEY_METADATA, artifact_key_stamp, read_artifact, write_artifact
from playbook.cli import key_notice, main
from playbook.config.loader import load_config
from playbook.errors import ConfigError, DataError
from playbook.report import privacy
from playbook.report.format import escape_markdown, format_table
from playbook.report.index import build_index
from playbook.report.privacy import key_fingerprint, pseudonymize
from playbook.steps.context import md, shown
from playbook.value.audiences import segment_flags
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]

#: The key the public development key was (before issue 19 item 15, the default of every run).
OLD_DEV_KEY = b"seasonal-playbook-development-key-not-secret"
KEY_A = "key-a-" + "a" * 40
KEY_B = "key-b-" + "b" * 40

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
JS_LINK = "[click](javascript:alert(3))"
#: Markup that must never appear in a page (each payload as it would act).
RAW = [re.compile(r"<script>alert\("), re.compile(r"<img src=x", re.I), re.compile(r"<a\b[^>]*javascript:", re.I)]


def _hmac(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project root without PLAYBOOK_PSEUDONYM_KEY."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setenv("PLAYBOOK_ROOT", str(root))
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV, raising=False)
    return root


def _visible_text(page: str) -> str:
    """What a reader sees: tags, styles and scripts removed, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", re.sub(r"(?is)<(style|script)\b.*?</\1>", "", page)))


def _raw_markup(page: str) -> list[str]:
    return [p.pattern for p in RAW if p.search(page)]


# ------------------------------------------------------------------ fault 15: per-project key


def test_fault_15_without_a_key_pseudonyms_are_not_reversible_with_the_development_key(project: Path) -> None:
    pid = pseudonymize("C000001")
    assert pid != _hmac("C000001", OLD_DEV_KEY)  # the public key no longer recovers ids
    key_file = project / ".playbook" / "pseudonym.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    secret = key_file.read_text().strip()
    assert len(secret) == 64 and pid == _hmac("C000001", secret.encode())
    assert pseudonymize("C000001") == pid  # reused, not regenerated
    assert key_file.read_text().strip() == secret


def test_fault_15_each_project_gets_its_own_random_key(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = pseudonymize("C000001")
    other = project.parent / "other"
    other.mkdir()
    monkeypatch.setenv("PLAYBOOK_ROOT", str(other))
    assert pseudonymize("C000001") != first


def test_fault_15_the_environment_key_wins_and_is_named_by_fingerprint(project: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_A)
    assert pseudonymize("C1") == _hmac("C1", KEY_A.encode())
    assert not (project / ".playbook").exists()
    fp = hmac.new(KEY_A.encode(), b"playbook-fingerprint", hashlib.sha256).hexdigest()[:8]
    assert key_fingerprint() == fp
    assert privacy.pseudonym_key().describe() == f"PLAYBOOK_PSEUDONYM_KEY (fingerprint {fp})"
    assert KEY_A not in repr(privacy.pseudonym_key())


def test_fault_15_the_cli_and_the_index_say_which_key_by_fingerprint(project: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    notice = key_notice()
    secret = (project / ".playbook" / "pseudonym.key").read_text().strip()
    fp = key_fingerprint()
    assert f"project key file .playbook/pseudonym.key (fingerprint {fp})" in notice and "Created now" in notice
    assert secret not in notice
    assert "Created now" not in key_notice()  # said once, when made
    main(["run", str(project / "missing.yaml")])
    out = capsys.readouterr().out
    assert f"fingerprint {fp}" in out and secret not in out
    page = build_index(project / "report", {}, "t").read_text()
    assert f"fingerprint {fp}" in page and secret not in page
    summary = json.loads((project / "report" / "summary.json").read_text())
    assert summary["meta"]["pseudonym key"].endswith(f"(fingerprint {fp})")


def test_fault_15_a_key_file_others_can_read_is_made_owner_only(project: Path) -> None:
    key_file = project / ".playbook" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text("k" * 64 + "\n")
    key_file.chmod(0o644)
    with pytest.warns(UserWarning, match="readable by others"):
        assert pseudonymize("C1") == _hmac("C1", b"k" * 64)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_fault_15_an_empty_key_file_is_a_clear_error(project: Path) -> None:
    key_file = project / ".playbook" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text("\n")
    key_file.chmod(0o600)
    with pytest.raises(ConfigError, match="is empty. Restore it"):
        pseudonymize("C1")


def test_fault_15_the_key_folder_is_gitignored() -> None:
    res = subprocess.run(["git", "check-ignore", "-q", ".playbook/pseudonym.key"], cwd=ROOT)
    assert res.returncode == 0


# ------------------------------------------------------------------ fault 3: key change


def _segments(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_pid": cast(pd.Series, pseudonymize(pd.Series(ids))).to_numpy(),
                         "rfm_segment": ["Champions"] * len(ids),
                         "suppress_email": [True, False, True], "suppress_ads": [False, True, True]})


def test_fault_03_a_key_change_refuses_the_segment_steps_suppression(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ids = ["C1", "C2", "C3"]
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_A)
    write_artifact(_segments(ids), tmp_path, "segments")
    flags = segment_flags(tmp_path, pd.Series(ids))
    assert flags is not None and flags["email"].tolist() == [True, False, True]
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_B)
    with pytest.raises(DataError) as exc:  # before: every flag False, and the summary said applied
        segment_flags(tmp_path, pd.Series(ids))
    msg = str(exc.value)
    assert f"PLAYBOOK_PSEUDONYM_KEY (fingerprint {key_fingerprint(KEY_A)})" in msg
    assert f"this run uses PLAYBOOK_PSEUDONYM_KEY (fingerprint {key_fingerprint(KEY_B)})" in msg
    assert "segments.parquet" in msg and "rerun the steps that wrote it" in msg and "set the key" in msg
    assert KEY_A not in msg and KEY_B not in msg


def test_fault_03_the_fingerprint_is_stored_in_artifacts_with_pseudonyms_only(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_A)
    seg = write_artifact(_segments(["C1", "C2", "C3"]), tmp_path, "segments")
    merge = write_artifact(pd.DataFrame({"account_pid": ["a"], "kept_pid": ["b"], "reason": ["email"]}),
                           tmp_path, "merge_map")
    plain = write_artifact(pd.DataFrame({"channel": ["email"], "recommended": [1.0]}), tmp_path, "next_budget")
    for path in (seg, merge):
        assert artifact_key_stamp(path) == {"fingerprint": key_fingerprint(KEY_A), "source": "PLAYBOOK_PSEUDONYM_KEY"}
    assert artifact_key_stamp(plain) is None
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_B)
    assert read_artifact(tmp_path, "next_budget")["recommended"].tolist() == [1.0]  # no pseudonyms: no check
    with pytest.raises(DataError, match="merge_map.parquet holds pseudonymous ids made with another key"):
        read_artifact(tmp_path, "merge_map")


def test_fault_03_the_index_names_artifacts_made_with_another_key(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_A)
    write_artifact(_segments(["C1", "C2", "C3"]), tmp_path, "segments")
    build_index(tmp_path, {}, "t")
    meta = json.loads((tmp_path / "summary.json").read_text())["meta"]
    assert meta["pseudonym key"] == f"PLAYBOOK_PSEUDONYM_KEY (fingerprint {key_fingerprint(KEY_A)})"
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_B)
    page = build_index(tmp_path, {}, "t").read_text()
    assert f"made with another key (fingerprint {key_fingerprint(KEY_A)})" in page


def test_fault_03_an_unstamped_artifact_with_pseudonyms_warns(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    _segments(["C1", "C2", "C3"]).to_parquet(tmp_path / "artifacts" / "segments.parquet")
    with pytest.warns(UserWarning, match="no key fingerprint"):
        assert len(read_artifact(tmp_path, "segments")) == 3
    assert KEY_METADATA == b"playbook.pseudonym_key"


# ------------------------------------------------------------------ fault 4: escaping


@pytest.mark.parametrize("payload", [SCRIPT, ATTRIBUTE, JS_LINK, "<a href='javascript:alert(4)'>x</a>",
                                     "<javascript:alert(5)>", "![x](javascript:alert(6))",
                                     "[x]: javascript:alert(7)\n\n[x]", "\\`<script>alert(8)</script>`",
                                     "`a\n\n<script>alert(9)</script>\n\n`"],
                         ids=["script", "attribute", "js-link", "html-link", "autolink", "image", "reference",
                              "escaped-backtick", "span-across-paragraphs"])
def test_fault_04_md_escapes_config_and_data_text(payload: str) -> None:
    shown_md = md(f"The segment **{payload}** has 12 people.").data
    page = markdown2html_mistune(shown_md)
    assert _raw_markup(page) == [], page
    if "\n" not in payload:
        assert "<strong>" in page  # the generated Markdown still renders


def test_fault_04_md_shows_the_payload_as_text() -> None:
    page = markdown2html_mistune(md(f"Segments: {SCRIPT}, {ATTRIBUTE} and {JS_LINK}.").data)
    assert _visible_text(page).strip() == f"Segments: {SCRIPT}, {ATTRIBUTE} and {JS_LINK}."


def test_fault_04_md_keeps_code_spans_blockquotes_and_shows_dollars_literally() -> None:
    text = "> **Warning** in `orders >= 3` and A & B: costs $5 to $6, p < 0.05"
    out = escape_markdown(text)
    assert out == "> **Warning** in `orders >= 3` and A &amp; B: costs \\$5 to \\$6, p &lt; 0.05"
    page = markdown2html_mistune(out)
    assert page.startswith("<blockquote>") and "<code>orders &gt;= 3</code>" in page
    assert "costs $5 to $6, p &lt; 0.05" in page  # a literal dollar (not math), a literal "<"
    assert markdown2html_mistune(escape_markdown("a $x$ b")) == "<p>a $x$ b</p>\n"


def test_fault_04_tables_escape_cells_labels_and_names() -> None:
    df = pd.DataFrame({SCRIPT: [ATTRIBUTE, None], "revenue": [1234.5, None]},
                      index=pd.Index([JS_LINK, "<b>y</b>"], name="<i>segment</i>"))
    df.columns.name = "<u>metric</u>"
    for styled in (format_table(df, money=["revenue"]), shown(df)):
        page = styled.to_html()
        assert _raw_markup(page) == [] and "<b>y" not in page and "<i>segment" not in page, page
        assert "<u>metric" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;i&gt;segment&lt;/i&gt;" in page
    assert "$1,2" in format_table(df, money=["revenue"]).to_html()


def test_fault_04_the_index_escapes_title_headlines_and_notes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, KEY_A)
    out = tmp_path / "r"
    (out / "artifacts").mkdir(parents=True)
    (out / "artifacts" / "summary_02_segment.json").write_text(json.dumps(
        {"step": "02_segment", "headline": {SCRIPT: ATTRIBUTE}, "notes": [JS_LINK]}))
    page = build_index(out, {"02_segment": {"status": "failed", "message": SCRIPT}}, f"Holiday {SCRIPT}").read_text()
    assert _raw_markup(page) == []
    assert _visible_text(page).count(SCRIPT) >= 3


@pytest.mark.parametrize("where", ["channel", "experiment id"])
def test_fault_04_channel_names_and_experiment_ids_cannot_carry_text(tmp_path: Path, where: str) -> None:
    """Channel names come from a fixed list (config and data contract) and experiment ids are
    letters, digits, ``_``, ``.``, ``-``: none carries markup to a page."""
    cfg = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text())
    if where == "channel":
        cfg["channels"][ATTRIBUTE] = {"min_budget": 1, "max_budget": 2}
    else:
        cfg["experiments"][0]["id"] = ATTRIBUTE
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="channels" if where == "channel" else "experiments"):
        load_config(path)


# ------------------------------------------------------------------ one real run with payloads

#: Payload per place it enters: (page that must show it, text). Experiment names and hypotheses
#: carry payloads too, but no page shows them today (04_test shows the ids, which cannot carry
#: markup), so the run leaves out 04_test and 05_retrospective, where no payload lands.
PLACES = {
    "campaign name": ("index", f"Holiday {SCRIPT} 2025"),
    "comparison season name": ("01_plan", "holiday-2024 " + SCRIPT.replace("1", "11")),
    "segment name (script)": ("02_segment", SCRIPT.replace("1", "21")),
    "segment name (attribute)": ("02_segment", ATTRIBUTE.replace("2", "22")),
    "segment name (link)": ("02_segment", JS_LINK.replace("3", "23")),
    "product name": ("03_personalize", ATTRIBUTE.replace("2", "32")),
}


PAYLOAD_STEPS = ("plan", "segment", "personalize")


def _payload_config(tmp: Path, data: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "campaigns" / "holiday-2025.yaml").read_text())
    cfg["name"] = PLACES["campaign name"][1]
    cfg["data"] = {**(cfg.get("data") or {}), "source": str(data)}
    cfg["output"] = {"dir": str(tmp / "reports" / cfg["slug"])}
    for seg, key in zip(cfg["segments"], ("script", "attribute", "link"), strict=False):
        seg["name"] = PLACES[f"segment name ({key})"][1]
    cfg["segments"][3]["description"] = JS_LINK.replace("3", "24")
    cfg["comparison_seasons"][0]["name"] = PLACES["comparison season name"][1]
    cfg["experiments"][0]["name"] = SCRIPT.replace("1", "41")
    cfg["experiments"][1]["name"] = ATTRIBUTE.replace("2", "42")
    cfg["experiments"][2]["hypothesis"] = JS_LINK.replace("3", "43")
    path = tmp / "payload.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return path


def _run(cfg: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playbook.cli", "run", str(cfg), "--timeout", "900", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=2400, env=env)


@pytest.fixture(scope="module")
def payload_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A run of the steps where payloads land (key A), whose campaign file and data carry them,
    then ``--only personalize`` with key B."""
    tmp = tmp_path_factory.mktemp("payload")
    data = tmp / "data"
    shutil.copytree(small_sample(), data)
    products = pd.read_parquet(data / "products.parquet")
    products["name"] = PLACES["product name"][1] + " " + products["name"].astype(str)
    products.to_parquet(data / "products.parquet", index=False)
    cfg = _payload_config(tmp, data)
    env = {**os.environ, privacy.PSEUDONYM_KEY_ENV: KEY_A, "PLAYBOOK_CACHE_DIR": str(tmp / "cache")}
    first = _run(cfg, env, "--only", *PAYLOAD_STEPS)
    out = tmp / "reports" / "holiday-2025"
    pages = {p.stem: p.read_text(encoding="utf-8") for p in out.glob("*.html")}
    before = {p.name: p.read_bytes() for p in out.glob("*.html")}
    second = _run(cfg, {**env, privacy.PSEUDONYM_KEY_ENV: KEY_B}, "--only", "personalize")
    after = {p.name: p.read_bytes() for p in out.glob("*.html")}
    return {"first": first, "second": second, "pages": pages, "unchanged": before == after}


@pytest.mark.notebooks
def test_fault_04_payloads_in_the_campaign_file_and_data_are_text_on_every_page(payload_run: dict) -> None:
    res = payload_run["first"]
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    pages = payload_run["pages"]
    assert set(pages) == {"index", "01_plan", "02_segment", "03_personalize"}
    for name, page in pages.items():
        assert _raw_markup(page) == [], name
    for place, (step, text) in PLACES.items():
        assert text in _visible_text(pages[step]), place  # it reached the page, as text


@pytest.mark.notebooks
def test_fault_15_the_run_names_its_key_by_fingerprint(payload_run: dict) -> None:
    fp = key_fingerprint(KEY_A)
    assert f"PLAYBOOK_PSEUDONYM_KEY (fingerprint {fp})" in payload_run["first"].stdout
    index = payload_run["pages"]["index"]
    assert f"fingerprint {fp}" in index
    assert all(KEY_A not in page for page in payload_run["pages"].values())


@pytest.mark.notebooks
def test_fault_03_a_partial_rerun_with_another_key_refuses_and_keeps_the_report(payload_run: dict) -> None:
    res = payload_run["second"]
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "holds pseudonymous ids made with another key" in text, text[-3000:]
    assert f"fingerprint {key_fingerprint(KEY_A)}" in text and f"fingerprint {key_fingerprint(KEY_B)}" in text
    assert payload_run["unchanged"]  # the last good report stays
