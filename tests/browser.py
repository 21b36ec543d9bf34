"""Driving Debian's Chromium with Playwright's Python API (issue 20, item 7).

Playwright's own browser download is never used: ``executable_path`` points at the system Chromium
(``/usr/bin/chromium``; ``make test`` installs it with apt-get when it is missing and the machine
allows it). Without Chromium or Playwright the browser tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: Flags for a headless Chromium on a machine without network or display (the machine's notes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """The system Chromium, or skip the test saying how to get it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed: `make test` installs it with `apt-get install chromium` when run "
                    "as root on Debian; elsewhere install Chromium and rerun")
    return path


@dataclass
class PageVisit:
    """What one page did in the browser."""

    title: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    mathjax_nodes: int = 0
    text: str = ""
    links: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def browser() -> Iterator[Any]:
    """A headless system Chromium driven by Playwright (skip when either is missing)."""
    path = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def visit(b: Any, page_file: Path, width: int, screenshot: Path | None = None) -> PageVisit:
    """Open ``page_file`` at ``width`` px: console errors, every non-file request, MathJax output,
    the visible text and the local links; a full-page screenshot when asked."""
    ctx = b.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    seen = PageVisit(title="")
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.console_errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto(page_file.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    seen.title = page.title()
    seen.mathjax_nodes = page.locator(".MathJax, mjx-container, .MathJax_Preview").count()
    seen.text = page.inner_text("body")
    seen.links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    seen.ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    # the executive summary's cards: where each starts and ends on screen, and its text
    seen.cards = page.eval_on_selector_all(
        "#summary .card", "els => els.map(e => ({top: e.getBoundingClientRect().top, "
        "bottom: e.getBoundingClientRect().bottom, text: e.innerText, "
        "findings: e.querySelectorAll('li').length, verdicts: Array.from(e.querySelectorAll('li'), l => l.className), "
        "images: Array.from(e.querySelectorAll('img'), i => i.naturalWidth)}))")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    ctx.close()
    return seen
