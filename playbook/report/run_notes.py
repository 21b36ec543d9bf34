"""Developer noise off the stakeholder page (issue 20, item 4).

Warnings and other messages a step's kernel writes to stderr (a library's ``FutureWarning``, the
playbook's own ``UserWarning``) are moved out of the cells they interrupt into one collapsed
"Run notes" section at the end of the page, for analysts; and absolute machine paths (the project
folder, the virtual environment, home and temporary folders) are removed from every text the page
shows, so no page tells a reader where it was built.
"""

from __future__ import annotations

import html
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

from playbook.paths import project_root

#: Absolute paths under the usual machine folders, left after the known prefixes are removed.
_ABSOLUTE = re.compile(r"(?<![\w/.:~+=-])/(?:home|Users|root|tmp|var|work|opt|usr|private|mnt|srv|build)/[^\s'\"<>)\]]*")

#: Output MIME types whose text is shown on the page (images are left alone).
_TEXT_TYPES = ("text/plain", "text/html", "text/markdown")


def machine_prefixes(extra: Iterable[str | os.PathLike[str]] = ()) -> list[tuple[str, str]]:
    """``(prefix, replacement)`` pairs, longest first: the project folder becomes relative, the
    virtual environment, Python's installation, home and the temporary folder become ``…``."""
    pairs = [(str(project_root()), ".")]
    for p in (sys.prefix, sys.base_prefix, tempfile.gettempdir(), str(Path.home()), *map(str, extra)):
        if p and p != "/":
            pairs.append((str(p), "…"))
    return sorted(set(pairs), key=lambda pr: len(pr[0]), reverse=True)


def scrub_paths(text: str, prefixes: list[tuple[str, str]]) -> str:
    """``text`` without absolute machine paths: known prefixes replaced, other absolute paths under
    the usual machine folders cut to ``…/<last part>``."""
    for prefix, repl in prefixes:
        text = text.replace(prefix + "/", "" if repl == "." else repl + "/").replace(prefix, repl)
    return _ABSOLUTE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _scrub_output(out: nbformat.NotebookNode, prefixes: list[tuple[str, str]]) -> None:
    if out.get("output_type") == "stream":
        out["text"] = scrub_paths(out.get("text", ""), prefixes)
    for kind in _TEXT_TYPES:
        data = out.get("data", {})
        if kind in data:
            value = data[kind]
            data[kind] = scrub_paths("".join(value) if isinstance(value, list) else value, prefixes)


def collect_run_notes(nb: nbformat.NotebookNode, extra_prefixes: Iterable[str | os.PathLike[str]] = ()) -> int:
    """Move every stderr stream of ``nb`` into a collapsed "Run notes" cell at the end, and scrub
    machine paths from all text outputs and Markdown cells (in place).

    Returns
    -------
    int
        How many messages were moved (0: no section is added).
    """
    prefixes = machine_prefixes(extra_prefixes)
    notes: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = scrub_paths(cell.source, prefixes)
            continue
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            _scrub_output(out, prefixes)
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                if out.get("text", "").strip():
                    notes.append(out["text"].strip())
            else:
                kept.append(out)
        cell.outputs = kept
    if notes:
        nb.cells.append(new_markdown_cell(run_notes_html(notes)))  # type: ignore[no-untyped-call]  # nbformat has no annotations
    return len(notes)


def run_notes_html(notes: list[str]) -> str:
    """The collapsed section (HTML inside a Markdown cell; every message escaped)."""
    body = "\n\n".join(html.escape(n) for n in notes)
    label = "message" if len(notes) == 1 else "messages"
    return (f'<details class="run-notes"><summary>Run notes ({len(notes)} {label} from the run, for analysts)'
            f"</summary>\n<pre>{body}</pre>\n</details>")
