"""Tests for playbook.report: formatting, pseudonyms, PII scanner, artifacts, HTML and index."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import subprocess
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from playbook import files
from playbook.artifacts import artifacts_dir, read_artifact, write_artifact, write_step_summary
from playbook.report import charts, privacy
from playbook.report.charts import money_formatter
from playbook.report.format import fmt_int, fmt_money, fmt_pct, format_table
from playbook.report.html import render_html
from playbook.report.index import build_index, git_revision
from playbook.report.privacy import PiiScanner, find_pii, pseudonymize

# ------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("x", "currency", "expected"),
    [
        (1234567.4, "USD", "$1,234,567"),
        (-12.5, "EUR", "-€12.50"),
        (99.999, "GBP", "£100.00"),
        (900, "AED", "AED 900"),
        (0.0, "USD", "$0.00"),
        (-0.001, "USD", "$0.00"),
        (None, "USD", "–"),
        (float("nan"), "USD", "–"),
        (np.float64("nan"), "USD", "–"),
    ],
    ids=["millions", "negative-eur", "rounding", "unknown-code", "zero", "neg-zero", "none", "nan", "np-nan"],
)
def test_fmt_money(x, currency, expected):
    assert fmt_money(x, currency) == expected


@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [(0.1234, 1, "12.3%"), (0.1234, 0, "12%"), (-0.05, 2, "-5.00%"), (1, 1, "100.0%"), (None, 1, "–"),
     (float("nan"), 1, "–")],
)
def test_fmt_pct(x, digits, expected):
    assert fmt_pct(x, digits) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [(12345.6, "12,346"), (0, "0"), (-1500, "-1,500"), (np.int64(7), "7"), (None, "–"), (pd.NA, "–")],
)
def test_fmt_int(x, expected):
    assert fmt_int(x) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [(1_234_567, "$1.2M"), (350_000, "$350k"), (2_000_000_000, "$2B"), (-2_500, "-$2.5k"), (0, "$0"),
     (42, "$42"), (999_999, "$1000k")],
)
def test_money_formatter(x, expected):
    assert money_formatter("USD")(x, 0) == expected


def test_money_formatter_other_currency():
    assert money_formatter("INR")(1_500_000, 0) == "₹1.5M"
    assert money_formatter("SEK")(1_500, 0) == "SEK 1.5k"


def test_format_table_formats_columns_and_hides_range_index():
    df = pd.DataFrame({"channel": ["email", "sms"], "revenue": [1234.0, np.nan], "rate": [0.123, 0.5],
                       "n": [1000.0, 2.0]})
    html = format_table(df, money=["revenue"], pct=["rate"], ints=["n"]).to_html()
    assert "$1,234" in html and "12.3%" in html and "50.0%" in html and "1,000" in html
    assert "–" in html
    assert "row_heading" not in html  # index hidden
    kept = format_table(df.set_index("channel"), money=["revenue"]).to_html()
    assert "row_heading" in kept and "email" in kept
    assert df["revenue"].iloc[0] == 1234.0  # input untouched


def test_format_table_unknown_column():
    with pytest.raises(KeyError, match=r"\['revnue'\] not in table"):
        format_table(pd.DataFrame({"revenue": [1.0]}), money=["revnue"])


def test_set_theme_sets_figure_defaults():
    import matplotlib as mpl

    charts.set_theme()
    assert tuple(mpl.rcParams["figure.figsize"]) == charts.FIGSIZE
    assert mpl.rcParams["figure.dpi"] == charts.DPI
    assert mpl.rcParams["axes.titlesize"] >= 12


# ------------------------------------------------------------------ pseudonyms


def _ref(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def test_pseudonymize_matches_hmac_reference(monkeypatch):
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, "s3cret")
    s = pd.Series(["C1", "C2", None, "C1"], index=[10, 11, 12, 13])
    out = pseudonymize(s)
    assert list(out.index) == [10, 11, 12, 13]
    assert out[10] == _ref("C1", b"s3cret") == out[13]
    assert out[11] == _ref("C2", b"s3cret")
    assert out[12] is None
    assert pseudonymize("C1") == _ref("C1", b"s3cret")
    assert pseudonymize("C1", key="other") == _ref("C1", b"other") != out[10]
    assert out[10] != hashlib.sha256(b"C1").hexdigest()[:16]  # keyed, not plain SHA-256
    assert list(pseudonymize(["C2"])) == [_ref("C2", b"s3cret")]


def test_pseudonymize_without_a_key_uses_the_project_key(monkeypatch, tmp_path):
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV, raising=False)
    monkeypatch.setenv("PLAYBOOK_ROOT", str(tmp_path))
    first = pseudonymize("C1")
    key = (tmp_path / ".playbook" / "pseudonym.key").read_text().strip()
    assert first == _ref("C1", key.encode()) and pseudonymize("C1") == first


# ------------------------------------------------------------------ PII scanner


def test_find_pii_email_case_and_entities():
    values = ["jane.doe@example.com", "bob@example.org"]
    assert find_pii("Contact: Jane.Doe@Example.COM.", values) == ["jane.doe@example.com"]
    assert find_pii("<td>jane.doe&#64;example.com</td>", values) == ["jane.doe@example.com"]
    assert find_pii("bobby@example.org and xbob@example.org", values) == []


@pytest.mark.parametrize(
    "text",
    ["call +1 (415) 555-0199", "tel 415.555.0199", "<td>4155550199</td>", "+14155550199"],
    ids=["intl", "dots", "plain", "e164"],
)
def test_find_pii_phone_any_format(text):
    assert find_pii(text, ["+1 415 555 0199"]) == ["+1 415 555 0199"]


def test_find_pii_phone_not_matched_inside_other_numbers():
    assert find_pii("revenue 41555501990000000", ["+1 415 555 0199"]) == []
    assert find_pii("orders: 4,155,550,199", ["+1 415 555 0199"]) == []


def test_find_pii_names_whole_words_visible_text_only():
    values = ["Zebulon", "Ana Lopez", "Al"]
    assert find_pii("<p>Top buyer: ZEBULON</p>", values) == ["Zebulon"]
    assert find_pii("<p>Zebulonia region</p>", values) == []
    assert find_pii("<p>ana <b>lopez</b></p>", values) == ["Ana Lopez"]
    assert find_pii("<p>Ana only</p>", values) == []
    assert find_pii("<p>Al</p>", values) == []  # shorter than min_name_length


def test_pii_scanner_skips_css_script_and_tags():
    scanner = PiiScanner(["Max", "Width"], ignore=())
    assert scanner.scan("<p>Max</p>") == ["Max"]
    assert scanner.scan("<style>.x { max-width: 3px }</style><p>ok</p>") == []
    assert scanner.scan('<script>var max = 1;</script><div class="max width">ok</div>') == []


def test_pii_scanner_name_stopwords():
    values = ["Summer", "May", "Summer Lopez"]
    assert find_pii("<p>Summer sale revenue in May</p>", values) == []
    assert find_pii("<p>Top: summer lopez</p>", values) == ["Summer Lopez"]
    assert PiiScanner(values, ignore=()).scan("<p>Summer sale</p>") == ["Summer"]


@pytest.mark.parametrize(
    ("value", "masked"),
    [("jane.doe@example.com", "j***@e***"), ("+1 415 555 0199", "phone ending 99"), ("Zebulon", "Z******"),
     ("Al", "A**")],
)
def test_mask_pii(value, masked):
    assert privacy.mask_pii(value) == masked


def test_pii_scanner_ignores_embedded_images():
    blob = base64.b64encode(b"jane.doe@example.com Zebulon " * 20).decode()
    html = f'<img src="data:image/png;base64,{blob}"><p>Nothing here</p>'
    assert PiiScanner(["jane.doe@example.com", "Zebulon"]).scan(html) == []
    assert "amFuZS5kb2VAZXhhbXBsZS5jb20g" in blob  # the planted value is really inside


def test_pii_scanner_scales_to_100k_values():
    rng = np.random.default_rng(7)
    emails = [f"user{i}.{rng.integers(1_000_000)}@shop{i % 97}.com" for i in range(100_000)]
    names = [f"Name{i}x" for i in range(20_000)]
    t0 = time.perf_counter()
    scanner = PiiScanner(emails + names)
    filler = " ".join(f"word{i} 12.5% $1,234 customer_{i}" for i in range(40_000))  # ~1.3 MB
    text = f"{filler} {emails[54_321].upper()} {filler} name777X"
    found = scanner.scan(text)
    elapsed = time.perf_counter() - t0
    assert found == [emails[54_321], "Name777x"]
    assert elapsed < 5.0


def test_pii_scanner_scans_notebook_outputs_not_code(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("email = 'jane.doe@example.com'  # code is never shown"),
        new_code_cell("x", outputs=[new_output("stream", name="stdout", text="found Zebulon\n")]),
    ])
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, str(path))
    assert PiiScanner(["jane.doe@example.com", "Zebulon"]).scan_file(path) == ["Zebulon"]


# ------------------------------------------------------------------ artifacts


def test_artifact_roundtrip_dataframe(tmp_path):
    df = pd.DataFrame({"customer": ["a", "b"], "value": [1.5, np.nan],
                       "ts": pd.to_datetime(["2025-11-28", "2025-12-01"], utc=True)})
    path = write_artifact(df, tmp_path, "scores_table")
    assert path == tmp_path / "artifacts" / "scores_table.parquet"
    pd.testing.assert_frame_equal(read_artifact(tmp_path, "scores_table"), df)
    pd.testing.assert_frame_equal(read_artifact(tmp_path, "scores_table.parquet"), df)
    assert [p.name for p in (tmp_path / "artifacts").iterdir()] == ["scores_table.parquet"]  # no temp left


def test_artifact_roundtrip_dict_with_numpy_and_nan(tmp_path):
    obj = {"n": np.int64(3), "rate": np.float64(0.25), "missing": float("nan"), "days": ["2025-11-28"]}
    write_artifact(obj, tmp_path, "plan.json")
    assert read_artifact(tmp_path, "plan") == {"n": 3, "rate": 0.25, "missing": None, "days": ["2025-11-28"]}


def test_artifact_file_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_artifact({"a": 1}, tmp_path, "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_read_artifact_default_and_bad_input(tmp_path):
    assert read_artifact(tmp_path, "absent") is None
    assert read_artifact(tmp_path, "absent", default={}) == {}
    with pytest.raises(ValueError, match="plain file name"):
        write_artifact({"a": 1}, tmp_path, "../escape")
    with pytest.raises(TypeError, match="cannot store"):
        write_artifact(object(), tmp_path, "x")


def test_failed_write_leaves_previous_artifact(tmp_path, monkeypatch):
    write_artifact({"v": 1}, tmp_path, "x")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_artifact({"v": 2}, tmp_path, "x")
    assert read_artifact(tmp_path, "x") == {"v": 1}
    assert [p.name for p in artifacts_dir(tmp_path).iterdir()] == ["x.json"]


def test_write_step_summary(tmp_path):
    path = write_step_summary(tmp_path, "01_plan", {"target": "$1.2M", "orders": 1200, "roi": math.nan},
                              ["forecast fell back to last year"])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "summary_01_plan.json"
    assert data["step"] == "01_plan"
    assert data["headline"] == {"target": "$1.2M", "orders": 1200, "roi": None}
    assert data["notes"] == ["forecast fell back to last year"]


# ------------------------------------------------------------------ HTML


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 32).decode()


def _executed_notebook(path: Path) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("# Findings\nRevenue grew."),
        new_code_cell("SECRET_SOURCE = 1\nprint('x')",
                      outputs=[new_output("stream", name="stdout", text="VISIBLE_TEXT\n")], execution_count=1),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})],
                      execution_count=2),
        new_code_cell("hidden()", metadata={"tags": ["remove-cell"]},
                      outputs=[new_output("stream", name="stdout", text="REMOVED_CELL\n")], execution_count=3),
        new_code_cell("quiet()", metadata={"tags": ["remove-output"]},
                      outputs=[new_output("stream", name="stdout", text="REMOVED_OUTPUT\n")], execution_count=4),
    ])
    nbformat.write(nb, str(path))
    return path


def test_render_html_no_code_embedded_images_tags(tmp_path):
    out = render_html(_executed_notebook(tmp_path / "01_plan.ipynb"), tmp_path / "out" / "01_plan.html")
    page = out.read_text(encoding="utf-8")
    assert "Revenue grew." in page and "VISIBLE_TEXT" in page
    assert "SECRET_SOURCE" not in page and "plot()" not in page
    assert f"data:image/png;base64,{PNG}" in page
    assert "REMOVED_CELL" not in page and "REMOVED_OUTPUT" not in page
    assert "[1]:" not in page and "[2]:" not in page  # no In/Out prompts
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["01_plan.html"]


def test_build_index_and_summary(tmp_path):
    write_step_summary(tmp_path, "01_plan", {"revenue target": "$1.2M", "orders": 12345})
    write_step_summary(tmp_path, "02_segment", {"customers": 1000.0}, ["3 duplicates merged"])
    (tmp_path / "01_plan.html").write_text("<html></html>", encoding="utf-8")
    (tmp_path / "02_segment.html").write_text("<html></html>", encoding="utf-8")
    status = {
        "01_plan": "ok",
        "02_segment": {"status": "ok", "duration_s": 2.5},
        "03_personalize": {"status": "failed", "message": "cell 4 raised <ValueError>"},
        "04_test": "skipped",
    }
    index = build_index(tmp_path, status, "Holiday & Co 2025", {"run_seconds": 12.5, "seed": 42})
    page = index.read_text(encoding="utf-8")
    assert 'href="01_plan.html"' in page and 'href="02_segment.html"' in page
    assert 'href="03_personalize.html"' not in page  # no page for a failed step
    assert "$1.2M" in page and "12,345" in page and "1,000" in page and "3 duplicates merged" in page
    assert "Holiday &amp; Co 2025" in page and "&lt;ValueError&gt;" in page  # escaped
    assert "skipped" in page
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["headlines"]["01_plan"] == {"revenue target": "$1.2M", "orders": 12345}
    assert [s["status"] for s in summary["steps"]] == ["ok", "ok", "failed", "skipped"]
    assert summary["run_seconds"] == 12.5 and summary["meta"]["seed"] == 42
    assert summary["git_revision"] == git_revision()
    assert summary["package_version"] == __import__("playbook").__version__


def test_git_revision(tmp_path, monkeypatch):
    expected = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                              capture_output=True, text=True).stdout.strip() or "unknown"
    assert git_revision() == expected
    monkeypatch.setenv("PLAYBOOK_ROOT", str(tmp_path))  # not a git repository
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_revision() == "unknown"


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_empty_chart_shows_the_message_without_axes():
    import matplotlib.pyplot as plt

    from playbook.report.charts import empty_chart

    fig, ax = plt.subplots()
    empty_chart(ax, "Nothing to draw")
    assert _texts(fig) == ["Nothing to draw"] and not ax.axison
    assert ax.texts[0].get_transform() == ax.transAxes  # centred in the panel, not in data units
    plt.close(fig)


def test_plots_with_nothing_to_draw_say_why():
    import matplotlib.pyplot as plt
    import pandas as pd

    from playbook.media import efficiency
    from playbook.planning import accuracy
    from playbook.steps import segment
    from playbook.value import clv

    cases = [
        (efficiency.plot_budget(pd.DataFrame()), "No channels configured"),
        (clv.plot_holdout({"by_group": pd.DataFrame()}), "No customers to validate"),
        (accuracy.plot_gap_waterfall(pd.DataFrame()), "No target to compare with"),
        (segment.plot_overlap(pd.DataFrame({"a": [True]}), 0.5), "Fewer than two audiences: no overlap to show"),
    ]
    for fig, message in cases:
        assert message in _texts(fig)
        assert not any(ax.axison for ax in fig.axes)
        plt.close(fig)


def test_index_shows_a_step_with_nothing_to_do_as_skipped(tmp_path):
    """A step that ran fine but had nothing to do (04 without experiments) is shown as skipped with
    its reason; its run status stays ok (so a partial rerun keeps it and the run exits 0)."""
    write_step_summary(tmp_path, "04_test", {"skipped": "no experiments in the campaign"},
                       skipped="no experiments in the campaign")
    write_step_summary(tmp_path, "01_plan", {"orders": 5})
    index = build_index(tmp_path, {"01_plan": "ok", "04_test": "ok"}, "x", {})
    page = index.read_text(encoding="utf-8")
    assert page.count('class="badge skipped"') == 1 and page.count('class="badge ok"') == 1
    assert "Nothing to do: no experiments in the campaign." in page
    assert page.count("no experiments in the campaign") == 1  # said once, not again as a headline row
    assert "No headline numbers recorded" not in page
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert [(s["step"], s["status"], s["skipped"]) for s in summary["steps"]] == [
        ("01_plan", "ok", None), ("04_test", "ok", "no experiments in the campaign")]


def test_scanner_without_names_shares_emails_and_phones_and_finds_no_name() -> None:
    full = PiiScanner(["ann@example.com", "+1 415 555 0199", "Annabel"])
    data = full.without_names()
    text = "Annabel wrote from ANN@example.com, call 4155550199"
    assert full.scan(text) == ["ann@example.com", "+1 415 555 0199", "Annabel"]
    assert data.scan(text) == ["ann@example.com", "+1 415 555 0199"]
    assert data.emails is full.emails and data.phones is full.phones and not data.names
