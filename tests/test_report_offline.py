"""Issue 20, item 1 (first part): step pages are offline, self-contained files without MathJax."""

from __future__ import annotations

import io
import re

import nbformat
import numpy as np
from matplotlib.figure import Figure
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from playbook.report.html import key_numbers_first, page_title, render_html, smaller_png


def _notebook(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell("# 01 · Plan: **Holiday 2025**\n\nSome text."),
        new_markdown_cell("The model expects $1,673,402 of net revenue from 15,262 orders, $5 to $6 each (80 %)."),
        new_code_cell("x = 1", outputs=[new_output("stream", name="stdout", text="ok\n")]),
    ])
    path = tmp_path / "step.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_step_page_loads_nothing_from_the_network_and_keeps_dollars(tmp_path):
    html = render_html(_notebook(tmp_path), tmp_path / "step.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html), "a script is loaded from a URL"
    assert not re.search(r"<link[^>]+href=[\"']https?://", html), "a style sheet is loaded from a URL"
    assert "mathjax" not in html.lower() and "require.js" not in html
    assert "$1,673,402 of net revenue from 15,262 orders, $5 to $6 each" in html


def test_step_page_title_is_the_first_heading(tmp_path):
    html = render_html(_notebook(tmp_path), tmp_path / "step.html").read_text(encoding="utf-8")
    assert "<title>01 · Plan: Holiday 2025</title>" in html


def test_page_title_falls_back_without_a_heading():
    assert page_title(new_notebook(cells=[new_markdown_cell("no heading")]), "04_test") == "04_test"


def test_warnings_go_to_collapsed_run_notes_and_no_machine_path_is_shown(tmp_path):
    """Issue 20 item 4: a library warning with the virtualenv's path leaves the cell it interrupted
    for a collapsed "Run notes" section, and no absolute path of this machine is on the page."""
    import sys

    from playbook.paths import project_root

    venv_file = f"{sys.prefix}/lib/python3.11/site-packages/pyspark/sql/context.py:113"
    nb = new_notebook(cells=[
        new_markdown_cell("# 05 · Retrospective"),
        new_code_cell("x", outputs=[
            new_output("stream", name="stderr", text=f"{venv_file}: FutureWarning: <deprecated> & gone\n"),
            new_output("stream", name="stdout", text=f"output_dir: {project_root()}/reports/.staging/abc/x\n"),
            new_output("execute_result", data={"text/plain": f"'{tmp_path}/secret/table.parquet'"}, execution_count=1),
        ]),
    ])
    path = tmp_path / "step.ipynb"
    nbformat.write(nb, str(path))
    html = render_html(path, tmp_path / "step.html").read_text(encoding="utf-8")
    body, _, notes = html.partition('<details class="run-notes">')
    assert notes, "no run notes section"
    assert "FutureWarning" not in body and "FutureWarning: &lt;deprecated&gt; &amp; gone" in notes
    assert "Run notes (1 message" in notes
    assert "output_dir: reports/.staging/abc/x" in body
    for machine in (sys.prefix, str(project_root()), str(tmp_path)):
        assert machine not in html
    assert "table.parquet" in body  # the file's name stays, its folder does not


def test_scrub_paths_cuts_unknown_absolute_paths_to_their_last_part():
    from playbook.report.run_notes import scrub_paths

    assert scrub_paths("see /home/ann/shop/data/orders.csv now", []) == "see …/orders.csv now"
    assert scrub_paths("ratio 3/4 and https://x.org/a/b", []) == "ratio 3/4 and https://x.org/a/b"


def test_step_page_links_back_to_the_index_and_lists_its_sections(tmp_path):
    """Issue 20 item 3: navigation at the top of every step page (index <-> steps, contents)."""
    nb = new_notebook(cells=[new_markdown_cell("# 01 · Plan"), new_markdown_cell("## Sales history\n\ntext"),
                             new_markdown_cell("## Budget & pacing\n\ntext")])
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, str(path))
    html = render_html(path, tmp_path / "p.html").read_text(encoding="utf-8")
    nav = html.split('<nav class="pb-nav">', 1)[1].split("</nav>", 1)[0]
    assert '<a href="index.html">' in nav and "Contents (2 sections)" in nav
    for anchor in re.findall(r'href="#([^"]+)"', nav):
        assert f'id="{anchor}"' in html, anchor  # every contents link has its heading
    assert "Budget &amp; pacing" in nav


def test_key_numbers_move_in_front_of_the_first_section() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Plan"), nbformat.v4.new_code_cell("ctx = start()"),
                nbformat.v4.new_markdown_cell("## Sales history"), nbformat.v4.new_code_cell("history()"),
                nbformat.v4.new_markdown_cell("## Key numbers\nThe headline."), nbformat.v4.new_code_cell("finish()"),
                nbformat.v4.new_markdown_cell("## Appendix: run details"), nbformat.v4.new_code_cell("run_info()")]
    order = [c.source.splitlines()[0] for c in key_numbers_first(nb).cells]
    assert order == ["# Plan", "ctx = start()", "## Key numbers", "finish()", "## Sales history", "history()",
                     "## Appendix: run details", "run_info()"]
    assert [c.source.splitlines()[0] for c in key_numbers_first(nb).cells] == order  # already first: unchanged


def _chart_png() -> bytes:
    fig = Figure(figsize=(8, 3.5), dpi=110)
    ax = fig.add_subplot()
    x = np.linspace(0, 20, 400)
    for k in range(6):
        ax.fill_between(x, k + np.sin(x + k), k + 1 + np.cos(x / 2 + k), alpha=.6, label=f"series {k}")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_chart_png_gets_smaller_and_looks_the_same() -> None:
    raw = _chart_png()
    small = smaller_png(raw)
    assert len(small) < 0.6 * len(raw), (len(raw), len(small))
    a = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=float)
    b = np.asarray(Image.open(io.BytesIO(small)).convert("RGB"), dtype=float)
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 1.0 and np.abs(a - b).max() < 64
    assert smaller_png(raw) == small  # deterministic
    assert smaller_png(b"not a png") == b"not a png"
