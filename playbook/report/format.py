"""Number formatting shared by every table and sentence: money, percentages, counts, tables.

One place decides how a number looks to a stakeholder (``fmt_money``, ``fmt_pct``, ``fmt_int``,
``compact_money``, ``format_table``), so every notebook and page formats alike.

It also escapes text from configs and data for the HTML pages (issue 19 item 4):
:func:`escape_markdown` for generated Markdown (:func:`playbook.steps.context.md`), and
:func:`escaped_style` for tables, because a pandas ``Styler`` escapes nothing unless told
(``escape="html"``; https://pandas.pydata.org/docs/reference/api/pandas.io.formats.style.Styler.format.html)
and never escapes index or column *names*. Plain ``DataFrame`` HTML escapes by default
(``DataFrame.to_html(escape=True)``). In Markdown, entity references never form structure
(CommonMark 0.31, "Entity and numeric character references", https://spec.commonmark.org/0.31.2/#entity-and-numeric-character-references),
so ``&#91;`` cannot open a link; ``\\$`` is Jupyter's literal dollar (no MathJax).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

DASH = "–"
"""What a missing value (NaN/None) is shown as."""


CURRENCY_SYMBOLS: dict[str, str] = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "INR": "₹",
    "JPY": "¥",
    "CNY": "¥",
    "AUD": "A$",
    "CAD": "C$",
}
"""Prefix symbols for common ISO 4217 codes; any other code is shown as ``"AED 1,234"``."""


def is_missing(x: Any) -> bool:
    """True for None, ``pd.NA``, ``pd.NaT`` and float NaN (numpy or Python); False otherwise."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(isinstance(x, float | np.floating) and math.isnan(x))
    except TypeError:  # pragma: no cover - exotic scalars
        return False


def _money_parts(currency: str) -> tuple[str, str]:
    """Return (prefix, suffix) used to show amounts in ``currency``."""
    code = (currency or "").upper()
    if code in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[code], ""
    return f"{code} " if code else "", ""


def fmt_money(x: float | None, currency: str = "USD", decimals: int | None = None) -> str:
    """Format an amount of money for a report.

    Parameters
    ----------
    x : float or None
        Amount in the campaign's currency (not thousands, not cents).
    currency : str
        ISO 4217 code; ``USD`` -> ``$``, ``EUR`` -> ``€``; unknown codes prefix the code.
    decimals : int, optional
        Decimal places; default 2 below 100 in absolute value, else 0.

    Returns
    -------
    str
        e.g. ``"$1,234,567"``, ``"-€12.50"``, ``"AED 900"``; ``"–"`` for NaN/None.

    Examples
    --------
    >>> fmt_money(1234567.4)
    '$1,234,567'
    >>> fmt_money(-12.5, "EUR")
    '-€12.50'
    """
    if is_missing(x):
        return DASH
    value = float(x)  # type: ignore[arg-type]
    if decimals is None:
        decimals = 2 if abs(value) < 100 else 0
    prefix, suffix = _money_parts(currency)
    sign = "-" if value < 0 and round(abs(value), decimals) != 0 else ""
    return f"{sign}{prefix}{abs(value):,.{decimals}f}{suffix}"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """Format a *fraction* as a percentage: ``0.1234 -> "12.3%"``; NaN/None -> ``"–"``."""
    if is_missing(x):
        return DASH
    return f"{float(x) * 100:.{digits}f}%"  # type: ignore[arg-type]


def fmt_int(x: float | None) -> str:
    """Format a count with thousands separators (rounded): ``12345.6 -> "12,346"``; NaN -> ``"–"``."""
    if is_missing(x):
        return DASH
    return f"{round(float(x)):,d}"  # type: ignore[arg-type]


def compact_money(x: float | None, currency: str = "USD") -> str:
    """Short money label for chart axes: ``1_234_567 -> "$1.2M"``, ``350_000 -> "$350k"``."""
    if is_missing(x):
        return DASH
    value = float(x)  # type: ignore[arg-type]
    prefix, suffix = _money_parts(currency)
    sign = "-" if value < 0 else ""
    a = abs(value)
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            num = a / scale
            text = f"{num:.1f}".rstrip("0").rstrip(".") if num < 100 else f"{num:.0f}"
            return f"{sign}{prefix}{text}{unit}{suffix}"
    text = f"{a:.0f}" if a >= 10 or a == 0 else f"{a:.2f}".rstrip("0").rstrip(".")
    return f"{sign}{prefix}{text}{suffix}"


def format_table(
    df: pd.DataFrame,
    money: Sequence[str] = (),
    pct: Sequence[str] = (),
    ints: Sequence[str] = (),
    currency: str = "USD",
    hide_index: bool | None = None,
) -> Any:
    """Format a table for display in a report.

    Parameters
    ----------
    df : DataFrame
        The table; it is not modified.
    money, pct, ints : sequence of str
        Columns shown as money (:func:`fmt_money`), percentages of fractions (:func:`fmt_pct`)
        and counts (:func:`fmt_int`). Unknown column names raise ``KeyError`` naming them.
    currency : str
        ISO code for the money columns.
    hide_index : bool, optional
        Hide the index; default: hide it when it is a plain ``RangeIndex`` (no information).

    Returns
    -------
    pandas.io.formats.style.Styler
        A Styler (rendered as an HTML table in notebooks), or a formatted copy of ``df`` with
        string cells when jinja2 is unavailable.
    """
    missing = [c for c in (*money, *pct, *ints) if c not in df.columns]
    if missing:
        raise KeyError(f"format_table: columns {missing} not in table; it has {list(df.columns)}")
    formatters: dict[str, Any] = {}
    formatters.update({c: (lambda v, _c=currency: fmt_money(v, _c)) for c in money})
    formatters.update({c: fmt_pct for c in pct})
    formatters.update({c: fmt_int for c in ints})
    if hide_index is None:
        hide_index = isinstance(df.index, pd.RangeIndex)
    try:
        styler = escaped_style(df).format(formatters, na_rep=DASH, escape="html")
    except ImportError:  # jinja2 missing: plain formatted copy
        out = df.copy()
        for col, f in formatters.items():
            out[col] = out[col].map(f)
        return out.reset_index(drop=True) if hide_index else out
    if hide_index:
        styler = styler.hide(axis="index")
    return styler


# Escaping text from configs and data (issue 19 item 4)

_MD_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;", "$": "\\$"}
_MD_SPECIAL = re.compile(r"[&<>\[\]$]")
_BLOCKQUOTE = re.compile(r"^ {0,3}(?:> ?)+", re.MULTILINE)


def _code_spans(line: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the CommonMark code spans of one line: a run of n backticks closed by
    the next run of exactly n; a backslash-escaped backtick opens none."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] == "\\":
            i += 2
            continue
        if line[i] != "`":
            i += 1
            continue
        j = i
        while j < n and line[j] == "`":
            j += 1
        close = re.compile(rf"(?<!`)`{{{j - i}}}(?!`)").search(line, j)
        if close is None:
            i = j
            continue
        spans.append((i, close.end()))
        i = close.end()
    return spans


def _escape_plain(text: str) -> str:
    return _MD_SPECIAL.sub(lambda m: _MD_ESCAPES[m.group(0)], text)


def _escape_line(line: str) -> str:
    quote = _BLOCKQUOTE.match(line)
    lead = quote.group(0) if quote else ""  # "> " at the start is the generated text's blockquote
    body = line[len(lead):]
    out, pos = [lead], 0
    for start, end in _code_spans(body):  # code spans are shown literally (renderers escape them)
        out += [_escape_plain(body[pos:start]), body[start:end]]
        pos = end
    out.append(_escape_plain(body[pos:]))
    return "".join(out)


def escape_markdown(text: str) -> str:
    r"""Markdown ``text`` with every character that could make HTML, a link or math shown literally.

    Outside code spans: ``&``, ``<``, ``>`` become HTML entities (no tag, comment or autolink can
    form), ``[`` and ``]`` become ``&#91;`` / ``&#93;`` (no link or image, so no ``javascript:``
    URL), ``$`` becomes ``\$`` (a literal dollar in Jupyter, never MathJax). Emphasis, lists,
    headings, code spans (rendered escaped by every Markdown renderer) and a ``>`` blockquote
    marker at the start of a line keep working. A code span never spans lines here, so text
    from data cannot stretch one across a paragraph.

    Examples
    --------
    >>> escape_markdown('**VIP** <script>x</script> [a](javascript:b) costs $5, run `a<b`')
    '**VIP** &lt;script&gt;x&lt;/script&gt; &#91;a&#93;(javascript:b) costs \\$5, run `a<b`'
    """
    return "\n".join(_escape_line(line) for line in str(text).split("\n"))


def _escaped_name(name: Any) -> Any:
    return html.escape(name) if isinstance(name, str) else name


def escaped_style(df: pd.DataFrame) -> Any:
    """``df.style`` with every cell, index label, column label and axis name HTML-escaped.

    Chain further ``.format(...)`` calls with ``escape="html"`` for columns holding text.
    """
    out = df.copy(deep=False)
    out.index = out.index.set_names([_escaped_name(n) for n in out.index.names])
    out.columns = out.columns.set_names([_escaped_name(n) for n in out.columns.names])
    return (out.style.format(escape="html")
            .format_index(escape="html", axis=0).format_index(escape="html", axis=1))
