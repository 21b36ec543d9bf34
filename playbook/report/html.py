"""HTML rendering: an executed notebook as a code-free, self-contained stakeholder page.

:func:`render_html` is what stakeholders read for each step; the campaign's index page is
:mod:`playbook.report.index`.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from traitlets.config import Config

from playbook.files import atomic_write


def render_html(executed_ipynb: str | os.PathLike[str], out_html: str | os.PathLike[str]) -> Path:
    """Render an executed notebook as a stakeholder page: no code, images embedded.

    Uses nbconvert's ``HTMLExporter`` with ``exclude_input`` (no code cells), no In/Out prompts,
    embedded images (base64, so the page is one self-contained file), and the cell tags
    ``remove-cell`` (cell dropped), ``remove-input`` and ``remove-output`` honoured.
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
    exporter = HTMLExporter(config=c)  # type: ignore[no-untyped-call]  # nbconvert has no annotations
    nb = nbformat.read(str(executed_ipynb), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(Path(executed_ipynb).parent)}})
    out = Path(out_html)
    return atomic_write(out, lambda t: t.write_text(body, encoding="utf-8"))
