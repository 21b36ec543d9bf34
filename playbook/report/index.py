"""The campaign's index page and ``summary.json``: every step's status and headline numbers.

:func:`build_index` writes ``index.html`` (one card per step: status, link to its page,
headline numbers, notes; run facts at the bottom) and ``summary.json`` (the same data, read by
later ``--only`` runs and compared between runs). Kept apart from :mod:`playbook.report.html`
so that reading the git revision (:func:`git_revision`, used by every step) never imports
nbconvert.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from playbook import __version__
from playbook.artifacts import artifact_key_stamp, nan_to_none, read_step_summary
from playbook.files import atomic_write, write_json
from playbook.paths import project_root
from playbook.report.executive import SUMMARY_CSS, answers, render_summary
from playbook.report.format import DASH, is_missing
from playbook.report.privacy import pseudonym_key


def git_revision() -> str:
    """Short git commit of the project (``git rev-parse --short HEAD``), or ``"unknown"`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=project_root(), capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha or "unknown"


def _fmt_headline_value(v: Any) -> str:
    if is_missing(v):
        return DASH
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,d}"
    if isinstance(v, float | np.floating):
        f = float(v)
        return f"{f:,.0f}" if abs(f) >= 1000 or f.is_integer() else f"{f:,.3g}"
    return str(v)


_INDEX_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1200px; margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
.sub { color: #57606a; margin-top: 0; }
.step { border: 1px solid #d0d7de; border-radius: 8px; padding: .8rem 1.1rem; margin: 1rem 0; }
.step h2 { font-size: 1.2rem; margin: 0 0 .4rem 0; display: flex; gap: .6rem; align-items: center; }
.badge { font-size: .8rem; padding: .1rem .55rem; border-radius: 1rem; font-weight: 600; }
.ok { background: #dafbe1; color: #116329; } .failed, .timeout, .kernel-died { background: #ffebe9; color: #a40e26; }
.skipped, .not-run { background: #eaeef2; color: #57606a; }
table { border-collapse: collapse; margin: .3rem 0; }
td, th { padding: .25rem .9rem .25rem 0; text-align: left; vertical-align: top; }
td.v { font-weight: 600; font-variant-numeric: tabular-nums; }
.notes { color: #57606a; font-size: .92rem; margin: .3rem 0 0 1.1rem; padding: 0; }
.meta { font-size: .85rem; color: #57606a; margin-top: 2rem; }
a { color: #0969da; }
"""


def _step_entry(output_dir: Path, step: str, info: str | Mapping[str, Any]) -> dict[str, Any]:
    meta = {"status": info} if isinstance(info, str) else dict(info)
    summary = read_step_summary(output_dir, step) or {}
    html_name = f"{step}.html"
    return {
        "step": step,
        "status": str(meta.get("status", "unknown")),
        "message": meta.get("message") or "",
        "duration_s": meta.get("duration_s"),
        "run_at": meta.get("run_at"),
        "html": html_name if (output_dir / html_name).is_file() else None,
        "headline": summary.get("headline", {}),
        "notes": summary.get("notes", []),
        "skipped": summary.get("skipped"),
    }


def _step_title(step: str) -> str:
    num, _, name = step.partition("_")
    return f"{int(num)}. {name.replace('_', ' ').capitalize()}" if num.isdigit() and name else step


def _index_html(title: str, entries: list[dict[str, Any]], meta: Mapping[str, Any], summary: str = "") -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_INDEX_CSS}{SUMMARY_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="sub">Generated {e(str(meta.get("generated_at", "")))} UTC</p>',
        summary,
        '<h2 class="steps-title" id="steps">Step by step</h2>' if summary else "",
    ]
    for ent in entries:
        status = ent["status"]
        name = e(_step_title(ent["step"]))
        link = f'<a href="{e(ent["html"])}">{name}</a>' if ent["html"] else name
        badge = "skipped" if status == "ok" and ent.get("skipped") else status
        css = re.sub(r"[^a-z]+", "-", badge.lower()).strip("-")
        parts.append(f'<div class="step"><h2>{link} <span class="badge {css}">{e(badge)}</span></h2>')
        if status == "ok" and ent.get("skipped"):
            parts.append(f"<p>Nothing to do: {e(str(ent['skipped']))}.</p>")
        # the reason of a skipped step is said once, above; not again as a headline row
        headline = {k: v for k, v in ent["headline"].items()
                    if not (ent.get("skipped") and k == "skipped" and v == ent["skipped"])}
        if headline:
            parts.append("<table>")
            for k, v in headline.items():
                parts.append(f'<tr><td>{e(str(k))}</td><td class="v">{e(_fmt_headline_value(v))}</td></tr>')
            parts.append("</table>")
        elif status == "ok" and not ent.get("skipped"):
            parts.append("<p>No headline numbers recorded.</p>")
        if ent["message"] and status != "ok":
            parts.append(f"<p>{e(str(ent['message']))}</p>")
        if ent["notes"]:
            parts.append('<ul class="notes">' + "".join(f"<li>{e(str(n))}</li>" for n in ent["notes"]) + "</ul>")
        parts.append("</div>")
    parts.append('<table class="meta">')
    for k, v in meta.items():
        parts.append(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def pseudonym_key_fact(output_dir: Path) -> str:
    """Which key made the report's pseudonyms, by fingerprint (never the key); names any other
    fingerprint found in the report's artifacts (left by a partial run under another key)."""
    key = pseudonym_key()
    others = sorted({str(stamp.get("fingerprint")) for p in sorted((output_dir / "artifacts").glob("*.parquet"))
                     if (stamp := artifact_key_stamp(p)) is not None and stamp.get("fingerprint") != key.fingerprint})
    if not others:
        return key.describe()
    return (f"{key.describe()}; some artifacts were made with another key (fingerprint {', '.join(others)}): "
            "rerun every step with one key")


def build_index(
    output_dir: str | os.PathLike[str],
    steps_status: Mapping[str, str | Mapping[str, Any]],
    title: str,
    meta: Mapping[str, Any] | None = None,
    currency: str = "USD",
) -> Path:
    """Write the campaign's ``index.html`` and ``summary.json`` into ``output_dir``.

    Parameters
    ----------
    output_dir : path
        The report folder holding ``0N_<step>.html`` and ``artifacts/summary_<step>.json``.
    steps_status : mapping
        Step name -> status string (``ok``, ``failed``, ``skipped``, ``timeout``,
        ``kernel died``, ``not run``) or a dict with ``status`` and optionally ``message``,
        ``duration_s`` and ``run_at``. Order is kept.
    title : str
        Page title, e.g. ``"Holiday 2025 — campaign playbook"``.
    meta : mapping, optional
        Extra run facts shown at the bottom and stored in ``summary.json`` (config, data
        source, seed, ``run_seconds`` ...). ``git_revision``, ``package_version``,
        ``generated_at`` and ``pseudonym key`` (where the key came from and its fingerprint,
        :meth:`playbook.report.privacy.PseudonymKey.describe`; never the key) are added.
    currency : str
        ISO 4217 code of the campaign's money, for the executive summary's sentences
        (:mod:`playbook.report.executive`, built from the artifacts in ``output_dir``).

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    full_meta: dict[str, Any] = dict(meta or {})
    full_meta.setdefault("generated_at", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))
    full_meta.setdefault("git_revision", git_revision())
    full_meta.setdefault("package_version", __version__)
    full_meta.setdefault("pseudonym key", pseudonym_key_fact(out))
    entries = [_step_entry(out, step, info) for step, info in steps_status.items()]
    summary = {
        "title": title,
        "steps": entries,
        "headlines": {ent["step"]: ent["headline"] for ent in entries},
        "run_seconds": full_meta.get("run_seconds"),
        "git_revision": full_meta["git_revision"],
        "package_version": full_meta["package_version"],
        "generated_at": full_meta["generated_at"],
        "meta": full_meta,
    }
    found = answers(out, currency)
    summary["executive_summary"] = [{"question": a.question, "missing": a.missing, "link": a.link,
                                     "findings": [{"text": f.text, "verdict": f.verdict} for f in a.findings]}
                                    for a in found]
    write_json(nan_to_none(summary), out / "summary.json")
    page = _index_html(title, entries, full_meta, render_summary(found))
    return atomic_write(out / "index.html", lambda t: t.write_text(page, encoding="utf-8"))
