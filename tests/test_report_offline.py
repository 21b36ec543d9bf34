"""Issue 20, item 1 (first part): step pages are offline, self-contained files without MathJax."""

from __future__ import annotations

import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from playbook.report.html import page_title, render_html


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
