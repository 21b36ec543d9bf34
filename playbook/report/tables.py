"""Every table a step page shows, readable by a person (issue 20, item 3): one pass, no notebook edits.

:func:`human_table` turns a ``DataFrame`` (or a ``Styler`` from :func:`~playbook.report.format.format_table`)
into what a stakeholder reads: no index column, "Sentence case" headers keeping abbreviations (``AOV``,
``iROAS``), money in the campaign's currency, fractions as percentages, counts without decimals,
yes/no, a dash for missing values, dates without midnight, long tables cut to their top rows with the
rest behind ``<details>`` (no JavaScript; https://html.spec.whatwg.org/multipage/interactive-elements.html#the-details-element),
each table in ``<div class="table-scroll">`` to scroll sideways at 400 px. :func:`install` registers it
as IPython's ``text/html`` printer for both types (a registered printer wins over ``_repr_html_``;
https://ipython.readthedocs.io/en/stable/api/generated/IPython.core.formatters.html).

Rendering uses pandas' ``Styler`` (https://pandas.pydata.org/docs/reference/style.html);
:func:`~playbook.report.format.escaped_style` escapes cells, labels and axis names. A ``Styler`` input
keeps a column's formatting unless it still shows pandas' generic rendering (``0.869868``,
``16,023.00``, ``True``), read through ``Styler._display_funcs`` (pandas 2.x; kept as it is when that
is missing). Tables carry ``class="tex2jax_ignore mathjax_ignore"`` (pandas' ``styler.html.mathjax``)
so two dollar amounts are never typeset as maths in JupyterLab.

Assumptions: money is in the campaign's currency (not thousands, not cents); fraction columns hold
fractions (``0.123`` is 12.3 %); a column named like a fraction with values outside [-1, 1] is shown
as a number, never as a percentage (a ROAS of 2.5 stays "2.50").
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import html
import math
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from IPython import get_ipython
from pandas.io.formats.style import Styler

from playbook.report.format import DASH, escaped_style, fmt_int, fmt_money, fmt_pct, is_missing

#: Words kept in their own spelling inside a header (matched case-insensitively).
ABBREVIATIONS: dict[str, str] = {
    "aov": "AOV", "roas": "ROAS", "iroas": "iROAS", "clv": "CLV", "ltv": "LTV", "mape": "MAPE",
    "mase": "MASE", "smape": "SMAPE", "wape": "WAPE", "mae": "MAE", "rmse": "RMSE", "cpa": "CPA",
    "cac": "CAC", "cpc": "CPC", "cpm": "CPM", "ctr": "CTR", "rfm": "RFM", "id": "ID", "pid": "PID",
    "utm": "UTM", "srm": "SRM", "mde": "MDE", "smd": "SMD", "sd": "SD", "ci": "CI", "kpi": "KPI",
    "sku": "SKU", "sms": "SMS", "vip": "VIP", "yoy": "YoY", "cuped": "CUPED", "r2": "R²", "n": "N",
    "p": "p", "lo": "low", "hi": "high", "abs": "absolute", "rel": "relative", "avg": "average",
    "pct": "%", "conv": "conversion", "seg": "segment", "qty": "quantity", "vs": "vs",
}

#: Whole headers with a fixed wording.
HEADER_NAMES = {"p_value": "p-value", "pvalue": "p-value", "p_adjusted": "Adjusted p-value", "r_squared": "R²"}

MONEY_WORDS = frozenset({"revenue", "spend", "budget", "aov", "clv", "ltv", "margin", "cost", "price", "sales",
                         "gain", "contribution", "cpa", "cac", "cpc", "cpm"})
"""Words naming an amount of money (``value`` counts only as the last word after another one:
``order_value``, ``monetary_value``; a bare ``value`` column often holds orders or rates)."""
FRACTION_WORDS = frozenset({"share", "rate", "pct", "percent", "probability", "prob", "coverage", "lift",
                            "uplift", "growth", "change", "conversion", "ctr", "churn", "retention", "mape", "smape",
                            "wape", "bias", "power", "mde"})
"""Words naming a fraction (shown as a percentage when every value lies in [-1, 1])."""
RATIO_WORDS = frozenset({"roas", "iroas", "mase", "ratio", "multiplier", "elasticity"})
"""Words naming a ratio shown with two decimals (never as a percentage)."""
COUNT_WORDS = frozenset({"decile", "quintile", "quartile", "percentile", "rank", "score", "count", "orders",
                         "customers", "users", "days", "hours", "number", "segment", "cluster", "n"})
"""Words that end the search for money or fraction words (``clv_decile`` is no amount)."""
PLAIN_INT_WORDS = frozenset({"id", "pid", "year", "zip", "code"})
"""Integer columns shown without thousands separators (``2025``, not ``2,025``)."""

_TOKEN = re.compile(r"[A-Za-z]+\d*|\d+")
_BOUND = re.compile(r"(lo|hi|low|high)(\d+)")
_SCROLL = '<div class="table-scroll">{}</div>'
_TABLE_CLASS = 'class="pb-table tex2jax_ignore mathjax_ignore"'
_CHECKED_ROWS = 50


@dataclass(frozen=True)
class HumanTable:
    """A table for people: ``html`` (shown by notebooks), ``text``, and the whole table's size."""

    html: str
    text: str
    rows: int
    columns: int

    def _repr_html_(self) -> str:
        return self.html


# Headers


def _tokens(label: Hashable) -> list[str]:
    """Lower-case words of a column label (``"marginal_roas_lo"`` -> ``["marginal", "roas", "lo"]``)."""
    return [t.lower() for t in _TOKEN.findall(str(label))]


def _word(word: str) -> str:
    """One word of a header: an abbreviation, ``lo80`` -> ``low 80%``, or the word unchanged."""
    if word != word.lower():
        return word  # capitals are deliberate ("iROAS", "MDE", "P(variant beats control)")
    if word in ABBREVIATIONS:
        return ABBREVIATIONS[word]
    bound = _BOUND.fullmatch(word)
    if bound:
        return f"{'low' if bound.group(1).startswith('lo') else 'high'} {bound.group(2)}%"
    return word


def human_header(label: Hashable) -> str:
    """A column label as a person reads it: ``"expected_revenue_low"`` -> ``"Expected revenue low"``.

    Underscores become spaces, abbreviations keep their spelling (:data:`ABBREVIATIONS`:
    ``"roas_mean"`` -> ``"ROAS mean"``, ``"iroas"`` -> ``"iROAS"``), a leading ``p_`` reads as a
    probability (``"p_alive"`` -> ``"P(alive)"``), and the first letter is capitalised. Labels that
    already hold capitals or spaces keep them (``"P(variant beats control)"`` stays). Not escaped.

    Examples
    --------
    >>> human_header("customer_id"), human_header("srm_p"), human_header("lo80")
    ('Customer ID', 'SRM p', 'Low 80%')
    """
    if isinstance(label, tuple):
        return human_header(" ".join(str(part) for part in label if str(part)))
    text = str(label).strip()
    if text.lower() in HEADER_NAMES and text == text.lower():
        return HEADER_NAMES[text.lower()]
    words = text.replace("_", " ").split()
    if not words:
        return ""
    if len(words) > 1 and words[0] == "p" and "_" in text:
        return "P(" + " ".join(_word(w) for w in words[1:]) + ")"
    if len(words) > 1 and words[-2:] == ["p", "value"]:
        words = [*words[:-2], "p-value"]
    out = " ".join(_word(w) for w in words)
    first = out[0]
    keep_lower = words[0].lower() in ("iroas", "p", "p-value") and words[0] == words[0].lower()
    return out if keep_lower or not first.islower() else first.upper() + out[1:]


def _escaped_header(label: Any) -> str:
    return html.escape(human_header(label))


# Column kinds


def _all_of(col: pd.Series, types: Any) -> bool:
    """True for an object column whose non-missing values (at least one) are all of ``types``."""
    vals = col.dropna()
    return col.dtype == object and len(vals) > 0 and all(isinstance(v, types) for v in vals)


def _numeric(col: pd.Series) -> np.ndarray | None:
    """The column's values as floats when it is numeric (not boolean), else None."""
    if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        return None
    arr: np.ndarray = np.asarray(col.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")
    finite: np.ndarray = arr[np.isfinite(arr)]
    return finite


def _is_pvalue(words: list[str]) -> bool:
    return (words[-2:] == ["p", "value"] or words == ["pvalue"] or words == ["p", "adjusted"]
            or (len(words) > 1 and words[-1] == "p"))


def _word_kinds(words: list[str]) -> list[str]:
    """Kinds the words of a label suggest, the last word first (``revenue_share`` -> fraction, money)."""
    kinds: list[str] = []
    if words and words[0] == "p" and len(words) > 1:
        kinds.append("fraction")
    for i, w in enumerate(reversed(words)):
        if w in COUNT_WORDS:
            break
        if w in RATIO_WORDS:
            kinds.append("ratio")
        elif w in FRACTION_WORDS:
            kinds.append("fraction")
        elif w in MONEY_WORDS or (w == "value" and i == 0 and len(words) > 1):
            kinds.append("money")
    return kinds


def column_kind(label: Hashable, col: pd.Series) -> str:
    """How a column is shown: ``bool``, ``date``, ``pvalue``, ``ratio``, ``fraction``, ``money``,
    ``plain_int``, ``int``, ``float`` or ``text``.

    The name decides between ratio, fraction and money (the last telling word wins); a fraction
    needs every value in [-1, 1] and a ratio every value below 1,000 in size (``roas_proportional``
    holding a budget is no ratio), otherwise the next telling word or the number rules decide.
    """
    if pd.api.types.is_bool_dtype(col.dtype) or _all_of(col, bool | np.bool_):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(col.dtype) or _all_of(col, dt.date):
        return "date"
    nums = _numeric(col)
    if nums is None:
        return "text"
    words = _tokens(label)
    if _is_pvalue(words) and (len(nums) == 0 or (nums.min() >= 0 and nums.max() <= 1)):
        return "pvalue"
    largest = float(np.abs(nums).max()) if len(nums) else 0.0
    in_unit, small = largest <= 1 + 1e-9, largest < 1000
    for kind in _word_kinds(words):
        if (kind != "fraction" or in_unit) and (kind != "ratio" or small):
            return kind
    integral = bool(np.all(nums == np.round(nums)))
    if integral and PLAIN_INT_WORDS.intersection(words):
        return "plain_int"
    return "int" if integral else "float"


# Cell formatting (plain text; escaping happens once, in the Styler)


def fmt_number(x: Any, most: int = 6) -> str:
    """A number with three significant digits, no decimals from 100 up and at most ``most``:
    ``0.869868`` -> ``"0.870"``, ``12.345`` -> ``"12.3"``, ``16023.4`` -> ``"16,023"``; integral
    values without decimals."""
    if is_missing(x):
        return DASH
    v = float(x)
    if v == round(v) and abs(v) < 1e15:
        return f"{round(v):,d}"
    digits = 0 if abs(v) >= 100 else min(most, max(0, 2 - math.floor(math.log10(abs(v)))))
    return f"{v:,.{digits}f}"


def _data_decimals(col: pd.Series) -> int:
    """The fewest decimals (at most 6) that hold every value of a rounded column (``.round(2)`` -> 2),
    so ``0.81`` next to ``2.54`` is not shown as ``0.810``."""
    nums = _numeric(col)
    if nums is None or len(nums) == 0:
        return 6
    return next((d for d in range(6) if np.allclose(nums, np.round(nums, d), rtol=0, atol=1e-9)), 6)


def fmt_pvalue(x: Any) -> str:
    """A p-value with three decimals, ``"< 0.001"`` below that."""
    if is_missing(x):
        return DASH
    return "< 0.001" if float(x) < 0.001 else f"{float(x):.3f}"


def fmt_date(x: Any, with_time: bool) -> str:
    """``2025-11-28`` for a day, ``2025-11-28 14:05`` for a moment (no seconds)."""
    if is_missing(x):
        return DASH
    if isinstance(x, dt.date) and not isinstance(x, dt.datetime):
        return x.isoformat()
    return str(pd.Timestamp(x).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d"))


def _has_clock(x: Any) -> bool:
    """True for a moment that is not midnight (a plain date has no time)."""
    return isinstance(x, dt.datetime) and (x.hour, x.minute, x.second, x.microsecond) != (0, 0, 0, 0)


def _fmt_cell(x: Any) -> str:
    """A cell of a text or mixed column."""
    if is_missing(x):
        return DASH
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | float | np.integer | np.floating):
        return fmt_number(x)
    if isinstance(x, dt.date):
        return fmt_date(x, with_time=_has_clock(x))
    return str(x)


def _has_time(col: pd.Series) -> bool:
    """True when any value of a date column is not at midnight."""
    vals = col.dropna()
    if pd.api.types.is_datetime64_any_dtype(vals.dtype):
        return bool((vals != vals.dt.normalize()).any())
    return any(_has_clock(v) for v in vals)


def _kind_formatter(kind: str, currency: str, col: pd.Series | None) -> Callable[[Any], str]:
    if kind == "money":
        return lambda x: fmt_money(x, currency)
    if kind == "date":
        with_time = col is not None and _has_time(col)
        return lambda x: fmt_date(x, with_time)
    if kind == "float" and col is not None:
        most = _data_decimals(col)
        return lambda x: fmt_number(x, most)
    simple: dict[str, Callable[[Any], str]] = {
        "fraction": fmt_pct, "pvalue": fmt_pvalue, "ratio": lambda x: f"{float(x):,.2f}", "int": fmt_int,
        "plain_int": lambda x: str(round(float(x))), "float": fmt_number, "bool": lambda x: "yes" if x else "no",
    }
    return simple.get(kind, _fmt_cell)


def cell_formatter(kind: str, currency: str, col: pd.Series | None = None) -> Callable[[Any], str]:
    """The function showing one cell of a column of ``kind`` (see :func:`column_kind`); plain text.

    Every kind shows a missing value as a dash and an infinite one as ``∞``; a value the kind
    cannot format (a stray text in a number column) is shown as it is, never an error.
    """
    fmt = _kind_formatter(kind, currency, col)

    def show(x: Any) -> str:
        if is_missing(x):
            return DASH
        if isinstance(x, float | np.floating) and math.isinf(x):
            return "∞" if x > 0 else "-∞"
        try:
            return fmt(x)
        except (TypeError, ValueError, OverflowError):
            return _fmt_cell(x)

    return show


def _unique_names(names: list[Any], taken: set[str]) -> list[str]:
    labels = [str(n or "") or ("" if len(names) == 1 else f"level {i}") for i, n in enumerate(names)]
    return [f"{label} (index)" if label in taken else label for label in labels]


def positional_index(index: pd.Index) -> bool:
    """True for an index that only numbers rows: a ``RangeIndex``, or unnamed whole numbers (what
    is left of one after sorting or filtering)."""
    return isinstance(index, pd.RangeIndex) or (
        index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index.dtype))


def flatten_index(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without an index to show: a :func:`positional_index` is dropped, any other index
    becomes the first column(s) (an unnamed one under a blank header)."""
    if positional_index(df.index):
        return df.reset_index(drop=True)
    out = df.copy(deep=False)
    taken = {str(c) for c in df.columns}
    out.index = out.index.set_names(_unique_names(list(out.index.names), taken))
    return out.reset_index(allow_duplicates=True)


def _formatted(df: pd.DataFrame, currency: str, rows: int | None) -> tuple[pd.DataFrame, list[str]]:
    """The text frame of :func:`display_frame` and the kind of each of its columns."""
    flat = flatten_index(df)
    body = flat if rows is None else flat.iloc[:rows]
    cols, kinds = {}, []
    for i in range(flat.shape[1]):
        col = flat.iloc[:, i]
        kinds.append(column_kind(flat.columns[i], col))
        fmt = cell_formatter(kinds[-1], currency, col)
        cols[i] = [fmt(v) for v in body.iloc[:, i].tolist()]
    out = pd.DataFrame(cols, index=pd.RangeIndex(len(body)), columns=list(range(flat.shape[1])))
    out.columns = pd.Index([human_header(c) for c in flat.columns])
    return out, kinds


def display_frame(df: pd.DataFrame, currency: str = "USD", rows: int | None = None) -> pd.DataFrame:
    """The table as plain text cells under human headers, index flattened (first ``rows`` rows;
    each column's kind is judged on all rows).

    Not escaped: :func:`human_table` escapes it once when rendering.
    """
    return _formatted(df, currency, rows)[0]


def _uuid(frame: pd.DataFrame) -> str:
    """Table id (5 hex digits, ``T_1a2b3``) from the content: same table, same bytes (pandas' is random)."""
    return hashlib.sha1(frame.to_csv().encode("utf-8")).hexdigest()[:5]


#: Numbers right-aligned, text left; numbers and dates never break across lines.
_CSS = {"text": "text-align: left;", "bool": "text-align: left;", "date": "text-align: left; white-space: nowrap;"}
_NUMBER_CSS = "text-align: right; white-space: nowrap;"


def _style_strings(frame: pd.DataFrame, uid: str, kinds: list[str]) -> str:
    """Render a frame of text cells: escaped, no index, aligned by column kind."""
    styler = escaped_style(frame).hide(axis="index").set_uuid(uid).set_table_attributes(_TABLE_CLASS)
    styles = [{"selector": f"td.col{i}, th.col_heading.col{i}", "props": _CSS.get(kind, _NUMBER_CSS)}
              for i, kind in enumerate(kinds)]
    return str(styler.set_table_styles(styles).to_html())


def _disclosure(top: str, full: str, total: int, shown: int) -> str:
    label = f"All {total:,} rows" if shown >= total else f"First {shown:,} of {total:,} rows"
    return (f"{_SCROLL.format(top)}\n<details class=\"table-all\"><summary>{label}</summary>\n"
            f"{_SCROLL.format(full)}\n</details>")


def _plain_text(frame: pd.DataFrame, total: int) -> str:
    text = frame.to_string(index=False) if frame.shape[1] else ""
    return text if len(frame) >= total else f"{text}\n… {total:,} rows in all"


def _human_frame(df: pd.DataFrame, currency: str, max_rows: int, top_rows: int, max_detail_rows: int) -> HumanTable:
    n = len(df)
    long = n > max_rows
    frame, kinds = _formatted(df, currency, min(n, max_detail_rows) if long else None)
    uid = _uuid(frame)
    if not long:
        return HumanTable(_SCROLL.format(_style_strings(frame, uid, kinds)), _plain_text(frame, n), n, df.shape[1])
    top = frame.iloc[:top_rows]
    body = _disclosure(_style_strings(top, uid + "t", kinds), _style_strings(frame, uid, kinds), n, len(frame))
    return HumanTable(body, _plain_text(top, n), n, df.shape[1])


# Styler input
def _generic_strings(x: Any) -> set[str] | None:
    """What pandas' default formatter shows for ``x`` (any precision, with or without thousands
    separators); None for a missing value (any text without a digit)."""
    if is_missing(x):
        return None
    if isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_):
        return {str(x), f"{x:,}"}
    if isinstance(x, float | np.floating):
        return {f"{x:{sep}.{p}f}" for p in range(10) for sep in ("", ",")}
    return {str(x), html.escape(str(x))}


def _shown_as_generic(styler: Styler, ci: int) -> bool:
    """True when column ``ci`` of ``styler`` still shows pandas' generic rendering in its first rows."""
    funcs = getattr(styler, "_display_funcs", None)
    if funcs is None:
        return False
    col = styler.data.iloc[:_CHECKED_ROWS, ci]
    for ri, value in enumerate(col.tolist()):
        try:
            shown = str(funcs[(ri, ci)](value))
        except Exception:  # a custom formatter failing here fails in pandas too: keep it
            return False
        allowed = _generic_strings(value)
        if (shown not in allowed) if allowed is not None else any(ch.isdigit() for ch in shown):
            return False
    return True


def _explicit_precision(styler: Styler, ci: int) -> bool:
    """True when a float column shows a fixed number of decimals other than pandas' default."""
    funcs = getattr(styler, "_display_funcs", {})
    default = int(pd.get_option("styler.format.precision"))
    precisions: set[int] | None = None
    for ri, value in enumerate(styler.data.iloc[:_CHECKED_ROWS, ci].tolist()):
        if is_missing(value) or not isinstance(value, float | np.floating):
            continue
        shown = str(funcs[(ri, ci)](value))
        fits = {p for p in range(10) if shown in (f"{value:.{p}f}", f"{value:,.{p}f}")}
        precisions = fits if precisions is None else precisions & fits
    return bool(precisions) and default not in (precisions or set())


def _escape_name(name: Any) -> Any:
    """An axis name escaped once (names :func:`escaped_style` already escaped are left alone)."""
    return html.escape(name) if isinstance(name, str) and html.unescape(name) == name else name


def humanise_styler(styler: Styler, currency: str = "USD") -> Styler:
    """A copy of ``styler`` readable by a person, its explicit formatting kept.

    Columns still showing pandas' generic rendering get the :func:`column_kind` format (escaped);
    a float column with chosen decimals keeps them unless it holds money, fractions, counts,
    booleans or dates. Headers are humanised and escaped, axis names too; a
    :func:`positional_index` is hidden.
    """
    st = copy.deepcopy(styler)
    st.set_uuid(_uuid(st.data))
    data = st.data.copy(deep=False)
    data.index = data.index.set_names([_escape_name(n) for n in data.index.names])
    data.columns = data.columns.set_names([_escape_name(n) for n in data.columns.names])
    st.data, st.index, st.columns = data, data.index, data.columns
    if positional_index(data.index):
        st.hide(axis="index")
    else:  # row labels as text (a Styler escapes nothing unless told; escaped_style's labels are raw too)
        st.format_index(escape="html", axis=0)
    for ci in range(data.shape[1]):
        col = data.iloc[:, ci]
        if not _shown_as_generic(st, ci):
            continue
        kind = column_kind(data.columns[ci], col)
        if kind in ("float", "ratio") and _explicit_precision(st, ci):
            continue
        fmt = cell_formatter(kind, currency, col)
        st.format(lambda x, _f=fmt: html.escape(_f(x)), subset=pd.IndexSlice[:, data.columns[ci:ci + 1]])
    st.format_index(_escaped_header, axis=1)
    attrs = st.table_attributes or ""
    if "class=" not in attrs:
        st.set_table_attributes(f"{attrs} {_TABLE_CLASS}".strip())
    elif "mathjax_ignore" not in attrs:
        st.set_table_attributes(attrs.replace('class="', 'class="pb-table tex2jax_ignore mathjax_ignore ', 1))
    return st


def _styler_rows_html(st: Styler, rows: int) -> str:
    """HTML of the first ``rows`` rows of ``st`` (rows hidden by label, or trimmed by pandas)."""
    if len(st.data) <= rows:
        return str(st.to_html())
    part = copy.deepcopy(st)
    if part.data.index.is_unique:
        part.hide(subset=part.data.index[rows:], axis="index")
        return str(part.set_uuid(f"{st.uuid}t{rows}").to_html())
    return str(part.set_uuid(f"{st.uuid}t{rows}").to_html(max_rows=rows))


def _human_styler(styler: Styler, currency: str, max_rows: int, top_rows: int, max_detail_rows: int) -> HumanTable:
    st = humanise_styler(styler, currency)
    n, m = st.data.shape
    text = f"Table: {n:,} rows × {m:,} columns"
    if n <= max_rows:
        return HumanTable(_SCROLL.format(st.to_html()), text, n, m)
    shown = min(n, max_detail_rows)
    return HumanTable(_disclosure(_styler_rows_html(st, top_rows), _styler_rows_html(st, shown), n, shown), text, n, m)


def human_table(table: pd.DataFrame | Styler, currency: str = "USD", max_rows: int = 20, top_rows: int = 10,
                max_detail_rows: int = 2000) -> HumanTable:
    """A table as a person reads it on a step page (see the module docstring for the rules).

    Parameters
    ----------
    table : DataFrame or Styler
        A raw table, or one from :func:`~playbook.report.format.format_table` (its formatting and
        escaping kept; columns still generically formatted are humanised).
    currency : str
        ISO 4217 code of the campaign; money columns use :func:`fmt_money`.
    max_rows, top_rows : int
        A table of more than ``max_rows`` rows shows ``top_rows``, then the whole behind a disclosure.
    max_detail_rows : int
        At most this many rows behind the disclosure ("First N of M rows"): a large frame a cell
        returns cannot make a page of megabytes.

    Returns
    -------
    HumanTable
        ``.html`` (escaped, wrapped in ``<div class="table-scroll">``), ``.text`` for plain-text
        viewers; displayed as HTML in a notebook.

    Raises
    ------
    TypeError, ValueError
        ``table`` is neither a DataFrame nor a Styler; ``top_rows`` is not in 1..``max_rows``.
    """
    if top_rows < 1 or max_rows < top_rows:
        raise ValueError(f"human_table: need 1 <= top_rows <= max_rows, got top_rows={top_rows}, max_rows={max_rows}")
    if isinstance(table, Styler):
        return _human_styler(table, currency, max_rows, top_rows, max_detail_rows)
    if isinstance(table, pd.DataFrame):
        return _human_frame(table, currency, max_rows, top_rows, max_detail_rows)
    raise TypeError(f"human_table: expected a pandas DataFrame or Styler, got {type(table).__name__}")


# IPython


class _Printers:
    """The printers :func:`install` registers. IPython asks for ``text/plain`` and ``text/html`` of
    the same object one after the other: the second request reuses the first rendering (once)."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self._last: tuple[Any, HumanTable] | None = None

    def render(self, obj: pd.DataFrame | Styler) -> HumanTable:
        last, self._last = self._last, None
        if last is None or last[0] is not obj:
            last = (obj, human_table(obj, self.currency))
            self._last = last
        return last[1]

    def html(self, obj: pd.DataFrame | Styler) -> str | None:
        try:
            return self.render(obj).html
        except Exception:  # a page keeps pandas' own table rather than losing it to a traceback
            own = getattr(obj, "_repr_html_", None)
            return own() if callable(own) else None

    def plain(self, obj: pd.DataFrame | Styler, p: Any, cycle: bool) -> None:
        try:
            p.text(self.render(obj).text)
        except Exception:  # as in html(): the plain repr pandas would give
            p.text(repr(obj.data) if isinstance(obj, Styler) else repr(obj))


def install(currency: str, shell: Any = None) -> None:
    """Show every ``DataFrame`` and ``Styler`` a cell returns through :func:`human_table`.

    Registers ``text/html`` printers and harmless ``text/plain`` ones (a frame's human text, top rows
    only; "Table: N rows × M columns" for a Styler instead of its memory address) on the display
    formatter of ``shell`` (default: the running IPython; nothing happens outside IPython), money
    in ``currency`` (ISO 4217). Calling it again replaces the printers.
    """
    shell = shell if shell is not None else get_ipython()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters:
        return
    printers = _Printers(currency)
    for kind in (pd.DataFrame, Styler):
        formatters["text/html"].for_type(kind, printers.html)
        formatters["text/plain"].for_type(kind, printers.plain)
