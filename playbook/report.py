"""Report helpers: one chart theme, number formatting, PII guard, artifacts and HTML rendering.

Everything stakeholder-facing goes through this module:

* **Look**: :func:`set_theme` sets the single seaborn theme; :func:`fmt_money`, :func:`fmt_pct`,
  :func:`fmt_int`, :func:`money_formatter` and :func:`format_table` format numbers the same way
  in every notebook.
* **Privacy**: :func:`pseudonymize` turns customer ids into keyed hashes (HMAC-SHA256, key from
  ``PLAYBOOK_PSEUDONYM_KEY``); :class:`PiiScanner` / :func:`find_pii` look for known customer
  emails, phones and names in report text so that the runner can refuse to publish a leak.
* **Artifacts**: notebooks talk to each other only through files in ``<output_dir>/artifacts``
  (:func:`write_artifact`, :func:`read_artifact`, :func:`write_step_summary`), written atomically.
* **HTML**: :func:`render_html` turns an executed notebook into a code-free, self-contained HTML
  page; :func:`build_index` writes the campaign's ``index.html`` and ``summary.json``.

Heavy libraries (matplotlib, seaborn, nbconvert) are imported inside the functions that need them
so that importing this module stays cheap for notebooks and the runner.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import json
import math
import os
import re
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from playbook.paths import project_root

# --------------------------------------------------------------------------------------------
# Theme and number formatting
# --------------------------------------------------------------------------------------------

FIGSIZE: tuple[float, float] = (10.0, 4.5)
"""Default figure size in inches (width, height)."""

DPI: int = 110
"""Figure resolution in dots per inch: sharp in HTML without bloating embedded PNGs."""

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


def set_theme() -> None:
    """Set the one seaborn/matplotlib theme used by every chart of the playbook.

    White grid, colour-blind-safe palette, readable font sizes, figure size :data:`FIGSIZE`
    inches at :data:`DPI` dots per inch, no top/right spines. Call it once per notebook
    (``playbook.notebook.start_step`` does).
    """
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=1.05)
    mpl.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "savefig.bbox": "tight",
            "axes.titlesize": 14,
            "axes.titleweight": "bold",
            "axes.labelsize": 12,
            "xtick.labelsize": 10.5,
            "ytick.labelsize": 10.5,
            "legend.fontsize": 10.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.autolayout": True,
        }
    )
    # Tables in reports: readable numbers (thousands separators, 2 decimals) and no truncated
    # text cells; long tables are shortened by pandas' own row limit.
    pd.set_option("display.float_format", "{:,.2f}".format)
    pd.set_option("display.max_colwidth", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 200)


def _is_missing(x: Any) -> bool:
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
    if _is_missing(x):
        return DASH
    value = float(x)  # type: ignore[arg-type]
    if decimals is None:
        decimals = 2 if abs(value) < 100 else 0
    prefix, suffix = _money_parts(currency)
    sign = "-" if value < 0 and round(abs(value), decimals) != 0 else ""
    return f"{sign}{prefix}{abs(value):,.{decimals}f}{suffix}"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """Format a *fraction* as a percentage: ``0.1234 -> "12.3%"``; NaN/None -> ``"–"``."""
    if _is_missing(x):
        return DASH
    return f"{float(x) * 100:.{digits}f}%"  # type: ignore[arg-type]


def fmt_int(x: float | None) -> str:
    """Format a count with thousands separators (rounded): ``12345.6 -> "12,346"``; NaN -> ``"–"``."""
    if _is_missing(x):
        return DASH
    return f"{round(float(x)):,d}"  # type: ignore[arg-type]


def compact_money(x: float | None, currency: str = "USD") -> str:
    """Short money label for chart axes: ``1_234_567 -> "$1.2M"``, ``350_000 -> "$350k"``."""
    if _is_missing(x):
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


def empty_chart(ax: Any, message: str) -> None:
    """Turn an empty chart panel into a centred plain-language ``message`` (no axes).

    Used by every plot function when there is nothing to draw (no data, nothing configured), so
    the report shows why instead of a blank frame or an exception.
    """
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def money_formatter(currency: str = "USD") -> Any:
    """Return a matplotlib ``FuncFormatter`` labelling an axis as compact money ($1.2M, $350k).

    Examples
    --------
    >>> import matplotlib.pyplot as plt  # doctest: +SKIP
    >>> ax.yaxis.set_major_formatter(money_formatter("USD"))  # doctest: +SKIP
    """
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: compact_money(v, currency))


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
        styler = df.style.format(formatters, na_rep=DASH)
    except ImportError:  # jinja2 missing: plain formatted copy
        out = df.copy()
        for col, f in formatters.items():
            out[col] = out[col].map(f)
        return out.reset_index(drop=True) if hide_index else out
    if hide_index:
        styler = styler.hide(axis="index")
    return styler


# --------------------------------------------------------------------------------------------
# Privacy: pseudonymous ids and the PII scanner
# --------------------------------------------------------------------------------------------

PSEUDONYM_KEY_ENV = "PLAYBOOK_PSEUDONYM_KEY"
_DEV_KEY = b"seasonal-playbook-development-key-not-secret"
_dev_key_warned = False


def _pseudonym_key(key: str | bytes | None) -> bytes:
    global _dev_key_warned
    if key is None:
        key = os.environ.get(PSEUDONYM_KEY_ENV) or None
    if key is None:
        if not _dev_key_warned:
            warnings.warn(
                f"{PSEUDONYM_KEY_ENV} is not set: pseudonymous ids use the public development key, "
                "so reports made now are NOT safe to share outside the team. Set "
                f"{PSEUDONYM_KEY_ENV} to a long random secret (e.g. `python -c \"import secrets; "
                "print(secrets.token_hex(32))\"`) and rerun.",
                UserWarning,
                stacklevel=3,
            )
            _dev_key_warned = True
        return _DEV_KEY
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def pseudonymize(ids: Any, key: str | bytes | None = None, length: int = 16) -> pd.Series | str:
    """Replace customer ids by keyed, irreversible pseudonyms (HMAC-SHA256, hex, truncated).

    Parameters
    ----------
    ids : str or iterable of str (Series, Index, list)
        Identifiers; non-strings are converted with ``str``; missing values stay missing.
    key : str or bytes, optional
        Secret key; default the ``PLAYBOOK_PSEUDONYM_KEY`` environment variable, else a fixed
        development key (with a one-time warning: reports made with it are not safe to share).
    length : int
        Hex characters kept (16 = 64 bits, collision-free in practice below ~10^8 ids).

    Returns
    -------
    str or pandas.Series
        One pseudonym for a scalar; a Series (same index for a Series input) otherwise.

    Notes
    -----
    A plain SHA-256 of an id or email can be reversed by hashing candidate values; a keyed hash
    cannot without the key (RFC 2104).
    """
    k = _pseudonym_key(key)
    # The keyed state is built once and copied per id: the same HMAC, about twice as fast.
    base = hmac.new(k, digestmod=hashlib.sha256)

    def one(v: Any) -> Any:
        if _is_missing(v):
            return None
        h = base.copy()
        h.update(str(v).encode("utf-8"))
        return h.hexdigest()[:length]

    if isinstance(ids, str | bytes | int | np.integer):
        return one(ids.decode() if isinstance(ids, bytes) else ids)
    values = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype="object")
    # Hash each distinct id once (ids repeat in per-row tables such as recommendations).
    uniques = pd.unique(values.to_numpy(dtype=object))
    mapping = {u: one(u) for u in uniques if not _is_missing(u)}
    out = [None if _is_missing(v) else mapping[v] for v in values]
    if isinstance(ids, pd.Series):
        return pd.Series(out, index=ids.index, dtype="object", name=ids.name)
    return pd.Series(out, dtype="object")


_EMAIL_RE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE_RE = re.compile(r"\+?\(?\d[\d\s().\-/]{5,}\d")
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_DATA_URI_RE = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
_INVISIBLE_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")
_PHONE_MIN_DIGITS = 7
_PHONE_MAX_DIGITS = 15  # E.164
_NATIONAL_DIGITS = 10


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _phone_keys(digits: str) -> set[str]:
    """Keys under which a phone number is looked up: all digits, and the national part."""
    keys = {digits}
    if len(digits) > _NATIONAL_DIGITS:
        keys.add(digits[-_NATIONAL_DIGITS:])
    return keys


NAME_STOPWORDS: frozenset[str] = frozenset(
    """january february march april may june july august september october november december
    spring summer autumn winter christmas easter eid diwali holiday black friday monday sale
    will bill grant mark max hope faith joy grace rose iris lily amber ruby jade pearl dawn eve
    sunny page chase drew hunter mason parker taylor sky rain storm star crystal penny angel
    king prince royal baby son""".split()
)
"""Single words that are both common first names and ordinary report words ("summer sale",
"May"); never treated as a customer name on their own. Multi-word names are always checked."""


class PiiScanner:
    """Find known PII values (emails, phones, names) in report text or HTML.

    Built once from the data's PII values (~100k strings are fine), then :meth:`scan` is linear
    in the length of the text: emails and phone-like digit runs are extracted with regular
    expressions and looked up in sets; names are matched as whole words (or word sequences for
    multi-word names), case-insensitively.

    Parameters
    ----------
    values : iterable of str
        The PII strings to look for (customer emails, phone numbers, first names ...).
        Values are classified as email (contains ``@``), phone (mostly digits, 7-15 of them,
        compared by digits only, so ``+1 (415) 555-0199`` matches ``4155550199``) or name.
    min_name_length : int
        Names shorter than this many characters are ignored (too many false positives).
    ignore : iterable of str
        Single-word names never reported (case-insensitive); default :data:`NAME_STOPWORDS`.

    Notes
    -----
    HTML tags, ``<script>``/``<style>`` contents and base64 ``data:`` URIs (embedded images) are
    ignored when matching names, so CSS words or random base64 never count as a name; emails and
    phones are searched in the whole text except embedded images. A first name that is also a
    common word (e.g. "May") will be reported if that word appears in the report text: pass only
    the PII you mean to guard.
    """

    def __init__(
        self, values: Iterable[Any], *, min_name_length: int = 3, ignore: Iterable[str] = NAME_STOPWORDS
    ) -> None:
        self._ignore = {w.lower() for w in ignore}
        self.emails: set[str] = set()
        self.phones: dict[str, str] = {}
        self.names: dict[tuple[str, ...], str] = {}
        self._name_lengths: set[int] = set()
        for raw in values:
            if _is_missing(raw):
                continue
            value = str(raw).strip()
            if not value:
                continue
            self._add(value, min_name_length)

    def _add(self, value: str, min_name_length: int) -> None:
        low = value.lower()
        if "@" in value:
            self.emails.add(low)
            return
        digits = _digits(value)
        if len(digits) >= _PHONE_MIN_DIGITS and len(digits) >= 0.6 * len(value.replace(" ", "")):
            if len(digits) <= _PHONE_MAX_DIGITS:
                for k in _phone_keys(digits):
                    self.phones.setdefault(k, value)
            return
        words = tuple(w.lower() for w in _WORD_RE.findall(value))
        if len(words) == 1 and words[0] in self._ignore:
            return
        if words and len(" ".join(words)) >= min_name_length:
            self.names.setdefault(words, value)
            self._name_lengths.add(len(words))

    def __len__(self) -> int:
        return len(self.emails) + len(set(self.phones.values())) + len(self.names)

    def scan(self, text: str) -> list[str]:
        """Return the PII values found in ``text`` (each once, in order of first match).

        ``text`` may be plain text, HTML or notebook JSON; HTML entities are decoded first.
        """
        if not text or not len(self):
            return []
        text = html.unescape(_DATA_URI_RE.sub(" ", text))
        found: dict[str, None] = {}
        if self.emails:
            for m in _EMAIL_RE.finditer(text):
                if m.group(0).lower().strip(".") in self.emails:
                    found.setdefault(m.group(0).lower().strip("."), None)
        if self.phones:
            for m in _PHONE_RE.finditer(text):
                d = _digits(m.group(0))
                if _PHONE_MIN_DIGITS <= len(d) <= _PHONE_MAX_DIGITS:
                    for k in _phone_keys(d):
                        if k in self.phones:
                            found.setdefault(self.phones[k], None)
                            break
        if self.names:
            visible = _TAG_RE.sub(" ", _INVISIBLE_RE.sub(" ", text))
            words = [w.lower() for w in _WORD_RE.findall(visible)]
            for n in sorted(self._name_lengths):
                for i in range(len(words) - n + 1):
                    key = tuple(words[i : i + n])
                    if key in self.names:
                        found.setdefault(self.names[key], None)
        return list(found)

    def scan_file(self, path: str | os.PathLike[str]) -> list[str]:
        """Scan a file: notebooks (``.ipynb``) by their outputs, anything else as text."""
        p = Path(path)
        if p.suffix == ".ipynb":
            return self.scan(notebook_output_text(p))
        return self.scan(p.read_text(encoding="utf-8", errors="replace"))


def mask_pii(value: str) -> str:
    """A hint that names a PII hit without revealing it: ``jane@shop.com -> "j***@s***"``."""
    v = str(value).strip()
    if "@" in v:
        user, _, domain = v.partition("@")
        return f"{user[:1]}***@{domain[:1]}***"
    digits = _digits(v)
    if len(digits) >= _PHONE_MIN_DIGITS:
        return f"phone ending {digits[-2:]}"
    return f"{v[:1]}{'*' * max(len(v) - 1, 2)}"


def find_pii(text: str, values: Iterable[Any]) -> list[str]:
    """Return the values of ``values`` (emails, phones, names) that occur in ``text``.

    Convenience wrapper around :class:`PiiScanner`; build the scanner once when scanning many
    texts.

    Examples
    --------
    >>> find_pii("Contact: Jane.Doe@Example.com", ["jane.doe@example.com", "bob@x.org"])
    ['jane.doe@example.com']
    """
    return PiiScanner(values).scan(text)


def notebook_output_text(path: str | os.PathLike[str]) -> str:
    """All text a notebook shows: its outputs (text, HTML, errors) and markdown cells.

    Images are skipped. Code inputs are skipped too (they are never shown in reports).
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    parts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif out.get("output_type") == "error":
                parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
                parts.extend(out.get("traceback", []))
            else:
                for mime, data in out.get("data", {}).items():
                    if mime.startswith("text/") or mime.endswith("json"):
                        parts.append(data if isinstance(data, str) else json.dumps(data))
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------------


def artifacts_dir(output_dir: str | os.PathLike[str]) -> Path:
    """Return ``<output_dir>/artifacts`` (created if missing)."""
    d = Path(output_dir) / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, dt.datetime | dt.date | pd.Timestamp):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, set | frozenset | tuple):
        return sorted(o) if isinstance(o, set | frozenset) else list(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Any) -> Path:
    """Write through ``write(tmp_path)`` to a temporary file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; published files follow the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as UTF-8 JSON (numpy/pandas scalars and dates converted), atomically."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default, allow_nan=False)
    return _atomic_write(Path(path), lambda t: t.write_text(text + "\n", encoding="utf-8"))


def _artifact_path(output_dir: str | os.PathLike[str], name: str, suffix: str) -> Path:
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"Artifact name {name!r} must be a plain file name such as 'segments'")
    base = name if name.endswith(suffix) else name + suffix
    return artifacts_dir(output_dir) / base


def write_artifact(obj: Any, output_dir: str | os.PathLike[str], name: str) -> Path:
    """Write a step's artifact into ``<output_dir>/artifacts`` atomically (temp file, rename).

    Parameters
    ----------
    obj : DataFrame, Series, dict or list
        A DataFrame/Series is written as Parquet (``<name>.parquet``), a dict/list as JSON
        (``<name>.json``; NaN becomes null).
    output_dir : path
        The campaign's report folder (the runner's staging folder during a run).
    name : str
        File name without folder; the suffix is added when missing.

    Returns
    -------
    Path
        The written file.
    """
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    if isinstance(obj, pd.DataFrame):
        from playbook.artifacts import check

        path = _artifact_path(output_dir, name, ".parquet")
        check(obj, path.stem)  # declared contracts (playbook.artifacts) are checked on write
        return _atomic_write(path, lambda t: obj.to_parquet(t))
    if isinstance(obj, Mapping | list | tuple):
        path = _artifact_path(output_dir, name, ".json")
        return write_json(_nan_to_none(obj), path)
    raise TypeError(
        f"write_artifact: cannot store {type(obj).__name__} as {name!r}; pass a DataFrame, "
        "Series, dict or list"
    )


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, float | np.floating) and math.isnan(obj):
        return None
    return obj


def read_artifact(output_dir: str | os.PathLike[str], name: str, default: Any = None) -> Any:
    """Read an artifact written by :func:`write_artifact`; ``default`` when it does not exist.

    A Parquet artifact with a declared contract (:mod:`playbook.artifacts`) that it breaks is
    reported with a warning and treated as absent, so the reading step recomputes.

    ``name`` may carry its suffix; without one, ``<name>.parquet`` then ``<name>.json`` is tried.
    """
    folder = Path(output_dir) / "artifacts"
    candidates = [folder / name] if Path(name).suffix in {".parquet", ".json"} else [
        folder / f"{name}.parquet",
        folder / f"{name}.json",
    ]
    for path in candidates:
        if path.is_file():
            if path.suffix == ".parquet":
                from playbook.artifacts import check_on_read

                checked = check_on_read(pd.read_parquet(path), path.stem)
                return default if checked is None else checked
            return json.loads(path.read_text(encoding="utf-8"))
    return default


def write_step_summary(
    output_dir: str | os.PathLike[str],
    step: str,
    headline: Mapping[str, str | float | int | None],
    notes: Sequence[str] = (),
) -> Path:
    """Record a step's headline numbers for the index page: ``artifacts/summary_<step>.json``.

    Parameters
    ----------
    output_dir : path
        The campaign's report folder.
    step : str
        Step name, e.g. ``"01_plan"``.
    headline : mapping of str to str or number
        Label -> value; format money and percentages as strings first (``fmt_money``...).
        Numbers are shown with thousands separators. No PII.
    notes : sequence of str
        Short sentences (fallbacks used, warnings) shown under the step on the index page.
    """
    payload = {
        "step": step,
        "headline": {str(k): _nan_to_none(v) for k, v in headline.items()},
        "notes": [str(n) for n in notes],
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return write_json(payload, artifacts_dir(output_dir) / f"summary_{step}.json")


def read_step_summary(output_dir: str | os.PathLike[str], step: str) -> dict[str, Any] | None:
    """Read ``summary_<step>.json`` (also tried without the ``NN_`` prefix); None if absent."""
    folder = Path(output_dir) / "artifacts"
    short = step.split("_", 1)[1] if re.match(r"^\d+_", step) else step
    for name in dict.fromkeys((step, short)):
        p = folder / f"summary_{name}.json"
        if p.is_file():
            try:
                return json.loads(p.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                return None
    return None


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


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
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    exporter = HTMLExporter(config=c)
    nb = nbformat.read(str(executed_ipynb), as_version=4)
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(Path(executed_ipynb).parent)}})
    out = Path(out_html)
    return _atomic_write(out, lambda t: t.write_text(body, encoding="utf-8"))


def git_revision() -> str:
    """Short git commit of the project (``+dirty`` when uncommitted changes), or ``"unknown"``."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=project_root(), capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha or "unknown"


def _package_version() -> str:
    try:
        from playbook import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"


def _fmt_headline_value(v: Any) -> str:
    if _is_missing(v):
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
       max-width: 980px; margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
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
    }


def _step_title(step: str) -> str:
    num, _, name = step.partition("_")
    return f"{int(num)}. {name.replace('_', ' ').capitalize()}" if num.isdigit() and name else step


def _index_html(title: str, entries: list[dict[str, Any]], meta: Mapping[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_INDEX_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="sub">Generated {e(str(meta.get("generated_at", "")))} UTC</p>',
    ]
    for ent in entries:
        status = ent["status"]
        css = re.sub(r"[^a-z]+", "-", status.lower()).strip("-")
        name = e(_step_title(ent["step"]))
        link = f'<a href="{e(ent["html"])}">{name}</a>' if ent["html"] else name
        parts.append(f'<div class="step"><h2>{link} <span class="badge {css}">{e(status)}</span></h2>')
        if ent["headline"]:
            parts.append("<table>")
            for k, v in ent["headline"].items():
                parts.append(f'<tr><td>{e(str(k))}</td><td class="v">{e(_fmt_headline_value(v))}</td></tr>')
            parts.append("</table>")
        elif status == "ok":
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


def build_index(
    output_dir: str | os.PathLike[str],
    steps_status: Mapping[str, str | Mapping[str, Any]],
    title: str,
    meta: Mapping[str, Any] | None = None,
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
        source, seed, ``run_seconds`` ...). ``git_revision``, ``package_version`` and
        ``generated_at`` are added.

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
    full_meta.setdefault("package_version", _package_version())
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
    write_json(_nan_to_none(summary), out / "summary.json")
    page = _index_html(title, entries, full_meta)
    return _atomic_write(out / "index.html", lambda t: t.write_text(page, encoding="utf-8"))
