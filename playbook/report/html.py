"""HTML rendering: an executed notebook as a code-free, self-contained stakeholder page.

The page uses the template in ``templates/playbook`` (nbconvert's ``lab`` template without its
network scripts: require.js, MathJax, widget and mermaid loaders), so it opens offline and a ``$``
in generated text is never typeset as maths. Its ``<title>`` is the notebook's first heading.

:func:`render_html` is what stakeholders read for each step; the campaign's index page is
:mod:`playbook.report.index`.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from PIL import Image, UnidentifiedImageError
from traitlets.config import Config

from playbook.files import atomic_write
from playbook.report.run_notes import collect_run_notes

TEMPLATES = Path(__file__).parent / "templates"
"""Folder of the playbook's nbconvert template (``playbook``)."""


def page_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first Markdown heading of ``nb`` (without ``#`` marks and Markdown emphasis), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        m = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", cell.source, flags=re.MULTILINE)
        if m:
            return re.sub(r"[*_`]", "", m.group(1)).strip() or fallback
    return fallback


KEY_NUMBERS = "## Key numbers"
"""The heading of the section every step ends with (:func:`playbook.steps.context.finish_step`)."""


def _section_heading(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.cell_type == "markdown" and cell.source.lstrip().startswith("## "))


def key_numbers_first(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Move the "Key numbers" section (its heading cell up to the next level-2 heading) in front of
    the first level-2 section, so the page opens with the step's headline numbers (issue 20, item 3).

    The notebook computes them last (they summarise every section); only the page shows them
    first. A notebook without that section, or where it already comes first, is returned as is.
    """
    cells = list(nb.cells)
    start = next((i for i, c in enumerate(cells)
                  if c.cell_type == "markdown" and c.source.lstrip().startswith(KEY_NUMBERS)), None)
    first = next((i for i, c in enumerate(cells) if _section_heading(c)), None)
    if start is None or first is None or start <= first:
        return nb
    end = next((i for i in range(start + 1, len(cells)) if _section_heading(cells[i])), len(cells))
    nb.cells = cells[:first] + cells[start:end] + cells[first:start] + cells[end:]
    return nb


def smaller_png(data: bytes, colours: int = 256) -> bytes:
    """A chart PNG re-encoded with a palette of at most ``colours`` colours (median cut, no
    dithering) and zlib's best compression; ``data`` itself when that is not smaller.

    Charts are flat colours with anti-aliased edges, so 256 colours keep them visually identical
    (mean channel difference under 1/255 on the playbook's charts) at about a third of the bytes
    (page-weight budget, issue 20 item 1). Deterministic: the same bytes in give the same bytes out.
    """
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return data
    flat = img.convert("RGB") if img.mode in ("RGBA", "LA", "P") and _opaque(img) else img
    if flat.mode not in ("RGB", "L"):
        return data  # transparency kept as drawn
    out = io.BytesIO()
    flat.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def _opaque(img: Image.Image) -> bool:
    """True when every pixel of ``img`` is fully opaque (matplotlib's charts on a white figure)."""
    if "A" not in img.getbands() and img.mode != "P":
        return True
    alpha = img.convert("RGBA").getchannel("A")
    return alpha.getextrema() == (255, 255)


def compress_images(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every PNG output of ``nb`` through :func:`smaller_png` (the notebook is changed in place)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            png = data.get("image/png")
            if not isinstance(png, str):
                continue
            try:
                raw = base64.b64decode(png)
            except (binascii.Error, ValueError):
                continue
            smaller = smaller_png(raw)
            if smaller is not raw:
                data["image/png"] = base64.b64encode(smaller).decode("ascii")
    return nb


_HEADING = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', flags=re.S)


def navigation(body: str, index: str = "index.html") -> str:
    """A bar at the top of the page: back to the campaign's index, and the page's contents (its
    level-2 headings, linked by the anchors nbconvert gives them)."""
    items = []
    for anchor, inner in _HEADING.findall(body):
        text = re.sub(r"<[^>]+>", "", inner).replace("¶", "").strip()
        if text:
            items.append(f'<a href="#{anchor}">{text}</a>')
    contents = (f"<details><summary>Contents ({len(items)} sections)</summary>{' '.join(items)}</details>"
                if items else "")
    return f'<nav class="pb-nav"><a href="{index}">&larr; Campaign overview</a>{contents}</nav>'


def render_html(executed_ipynb: str | os.PathLike[str], out_html: str | os.PathLike[str]) -> Path:
    """Render an executed notebook as a stakeholder page: no code, images embedded.

    The "Key numbers" section comes first (:func:`key_numbers_first`) and charts are re-encoded
    with a 256-colour palette (:func:`compress_images`). Uses nbconvert's
    ``HTMLExporter`` with ``exclude_input`` (no code cells), no In/Out prompts,
    embedded images (base64, so the page is one self-contained file), and the cell tags
    ``remove-cell`` (cell dropped), ``remove-input`` and ``remove-output`` honoured; stderr
    messages moved into a collapsed "Run notes" section and machine paths removed
    (:mod:`playbook.report.run_notes`).
    The file is written atomically.

    Returns
    -------
    Path
        ``out_html``.
    """
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.HTMLExporter.template_name = "playbook"
    exporter = HTMLExporter(config=c)  # type: ignore[no-untyped-call]  # nbconvert has no annotations
    nb = nbformat.read(str(executed_ipynb), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    key_numbers_first(nb)
    compress_images(nb)
    collect_run_notes(nb, [Path(executed_ipynb).resolve().parent])  # warnings to a collapsed section, no machine paths
    meta = {"path": str(Path(executed_ipynb).parent), "name": page_title(nb, Path(executed_ipynb).stem)}
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": meta})
    body = body.replace("<main>", "<main>\n" + navigation(body), 1)
    out = Path(out_html)
    return atomic_write(out, lambda t: t.write_text(body, encoding="utf-8"))
