"""Privacy: keyed pseudonymous ids, their key, and the PII guard that scans every page and export.

* :func:`pseudonymize` turns customer ids into keyed hashes (HMAC-SHA256, RFC 2104,
  https://www.rfc-editor.org/rfc/rfc2104). The key (:func:`pseudonym_key`) is
  ``PLAYBOOK_PSEUDONYM_KEY`` when set, else a random per-project key that the first use creates in
  ``<project>/.playbook/pseudonym.key`` (folder ``0700``, file ``0600``, outside ``reports/``,
  gitignored; 32 random bytes from :mod:`secrets`, https://docs.python.org/3/library/secrets.html)
  and every later run reuses. No public key exists any more, so nobody can recover ids by hashing
  candidate ids. :func:`key_fingerprint` names a key without revealing it (issue 19, items 3 and
  15): the CLI and the index page show it, and artifacts holding pseudonyms carry it
  (:mod:`playbook.artifacts`), so a step never joins pseudonyms made with two different keys.
* :class:`PiiScanner` / :func:`find_pii` look for known customer emails, phones and names in
  report text; :func:`scan_files` scans the files of a report folder and :func:`leak_message`
  says what was found without repeating it, so that the runner can refuse to publish a leak
  (:mod:`playbook.run.guard` applies this guard to every run, whoever starts it).
* :func:`mask_pii` masks a value for display in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import re
import secrets
import stat
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from playbook.errors import ConfigError
from playbook.paths import project_root
from playbook.report.format import is_missing

PSEUDONYM_KEY_ENV = "PLAYBOOK_PSEUDONYM_KEY"
"""Environment variable holding the secret key of :func:`pseudonymize`."""

KEY_FILE = Path(".playbook") / "pseudonym.key"
"""The per-project key file, relative to the project root (used when the variable is not set)."""

_FINGERPRINT_MESSAGE = b"playbook-fingerprint"


@dataclass(frozen=True)
class PseudonymKey:
    """The key pseudonyms are made with, where it came from, and its fingerprint.

    Attributes
    ----------
    key : bytes
        The secret (never printed: it is left out of ``repr``).
    source : str
        ``"PLAYBOOK_PSEUDONYM_KEY"``, ``"project key file .playbook/pseudonym.key"`` or
        ``"key given by the caller"``.
    fingerprint : str
        :func:`key_fingerprint` of the key (8 hex characters).
    created : bool
        The project key file was created by this call.
    """

    key: bytes = field(repr=False)
    source: str
    fingerprint: str
    created: bool = False

    def describe(self) -> str:
        """``"project key file .playbook/pseudonym.key (fingerprint 1a2b3c4d)"``: never the key."""
        return f"{self.source} (fingerprint {self.fingerprint})"


def key_fingerprint(key: str | bytes | None = None) -> str:
    """Name a pseudonym key without revealing it: the first 8 hex characters of
    HMAC-SHA256(key, ``"playbook-fingerprint"``); default the key :func:`pseudonym_key` finds.

    Examples
    --------
    >>> key_fingerprint("s3cret")
    '937bba92'
    """
    k = pseudonym_key().key if key is None else _as_bytes(key)
    return _fingerprint(k)


def _fingerprint(key: bytes) -> str:
    return hmac.new(key, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:8]


def _as_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def project_key_path() -> Path:
    """``<project root>/.playbook/pseudonym.key`` (:func:`playbook.paths.project_root`)."""
    return project_root() / KEY_FILE


def pseudonym_key(key: str | bytes | None = None, create: bool = True) -> PseudonymKey:
    """The key :func:`pseudonymize` uses: ``key`` when given, else ``PLAYBOOK_PSEUDONYM_KEY``, else
    the per-project key file (created with a random key on first use unless ``create`` is false).

    Raises
    ------
    ConfigError
        The key file cannot be created or read, is empty, or (``create=False``) does not exist.
    """
    if key is not None:
        k = _as_bytes(key)
        return PseudonymKey(k, "key given by the caller", _fingerprint(k))
    env = os.environ.get(PSEUDONYM_KEY_ENV) or None
    if env is not None:
        k = env.encode("utf-8")
        return PseudonymKey(k, PSEUDONYM_KEY_ENV, _fingerprint(k))
    path = project_key_path()
    created = False
    if not path.is_file():
        if not create:
            raise ConfigError(f"No pseudonym key: {PSEUDONYM_KEY_ENV} is not set and {path} does not exist.")
        created = _create_key_file(path)
    k = _read_key_file(path)
    return PseudonymKey(k, f"project key file {KEY_FILE.as_posix()}", _fingerprint(k), created)


def _create_key_file(path: Path) -> bool:
    """Write a new random key to ``path`` (folder 0700, file 0600); False when another process
    created it first (the new file appears whole: written under a temporary name, then linked)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Could not create the project's pseudonym key {path} ({exc.strerror or exc}). Make the folder "
            f"writable, or set {PSEUDONYM_KEY_ENV} to a long random secret (e.g. `python -c \"import "
            "secrets; print(secrets.token_hex(32))\"`)."
        ) from None
    return True


def _read_key_file(path: Path) -> bytes:
    """The key in ``path`` (surrounding white space dropped); a file others could read is made
    owner-only, with a warning."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and os.name == "posix":
            os.chmod(path, 0o600)
            warnings.warn(f"The pseudonym key {path} was readable by others (mode {mode:o}); it is owner-only "
                          "(600) now. If others may have copied it, make a new key and rerun every step.",
                          UserWarning, stacklevel=4)
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Could not read the project's pseudonym key {path} ({exc}). Restore it, or set "
                          f"{PSEUDONYM_KEY_ENV}.") from None
    if not text:
        raise ConfigError(f"The project's pseudonym key {path} is empty. Restore it from a backup, or delete it "
                          "to make a new one (then rerun every step: pseudonyms change with the key).")
    return text.encode("utf-8")


def _pseudonym_key(key: str | bytes | None) -> bytes:
    return pseudonym_key(key).key


def pseudonymize(ids: Any, key: str | bytes | None = None, length: int = 16) -> pd.Series | str:
    """Replace customer ids by keyed, irreversible pseudonyms (HMAC-SHA256, hex, truncated).

    Parameters
    ----------
    ids : str or iterable of str (Series, Index, list)
        Identifiers; non-strings are converted with ``str``; missing values stay missing.
    key : str or bytes, optional
        Secret key; default the ``PLAYBOOK_PSEUDONYM_KEY`` environment variable, else the
        per-project key file (:func:`pseudonym_key`; created on first use).
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
        if is_missing(v):
            return None
        h = base.copy()
        h.update(str(v).encode("utf-8"))
        return h.hexdigest()[:length]

    if isinstance(ids, str | bytes | int | np.integer):
        return one(ids.decode() if isinstance(ids, bytes) else ids)
    values = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype="object")
    # Hash each distinct id once (ids repeat in per-row tables such as recommendations).
    uniques = pd.unique(values.to_numpy(dtype=object))
    mapping = {u: one(u) for u in uniques if not is_missing(u)}
    out = [None if is_missing(v) else mapping[v] for v in values]
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
            if is_missing(raw):
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

    def without_names(self) -> PiiScanner:
        """A scanner of the same emails and phones (shared, not copied) that looks for no name: what
        ``PiiScanner(values, min_name_length=<huge>)`` builds, at no extra memory (at 1M customers the
        emails and phone keys take about 0.35 GiB)."""
        other = object.__new__(PiiScanner)
        other._ignore, other.emails, other.phones = self._ignore, self.emails, self.phones
        other.names, other._name_lengths = {}, set()
        return other

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
        """Scan a file: notebooks (``.ipynb``) by their outputs, CSV files with SHA-256 hex digests
        blanked (hashed identifiers are what ad files should hold, and their digit runs could read as
        phone numbers), anything else as text."""
        p = Path(path)
        if p.suffix == ".ipynb":
            return self.scan(notebook_output_text(p))
        text = p.read_text(encoding="utf-8", errors="replace")
        if p.suffix.lower() == ".csv":
            text = _SHA256_RE.sub(" ", text)
        return self.scan(text)


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


def _joined(value: Any) -> str:
    """A notebook text field: stored as one string or as a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_output_text(path: str | os.PathLike[str]) -> str:
    """All text a notebook shows: its outputs (text, HTML, errors) and markdown cells.

    Images are skipped. Code inputs are skipped too (they are never shown in reports). The
    notebook is read as the JSON it is (nbformat 4, as Papermill writes it), without nbformat,
    so that this module stays light to import; a file that is not an nbformat-4 notebook is
    returned whole (scanned entirely, code included: never less than its outputs).
    """
    raw = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        nb = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return raw
    parts: list[str] = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            parts.append(_joined(cell.get("source", "")))
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(_joined(out.get("text", "")))
            elif out.get("output_type") == "error":
                parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
                parts.extend(out.get("traceback", []))
            else:
                for mime, data in out.get("data", {}).items():
                    if mime.endswith("json"):
                        parts.append(data if isinstance(data, str) else json.dumps(data))
                    elif mime.startswith("text/"):
                        parts.append(_joined(data))
    return "\n".join(parts)


_SHA256_RE = re.compile(r"\b[0-9a-fA-F]{64}\b")

REPORT_SUFFIXES: frozenset[str] = frozenset({".html", ".htm", ".json", ".ipynb", ".md", ".txt"})
"""Files a stakeholder can read, scanned by :func:`scan_files`; other files (Parquet
artifacts, images) hold pseudonymous ids and aggregates only and are not scanned."""


def scan_files(scanner: PiiScanner, folder: Path, files: Iterable[str],
               suffixes: frozenset[str] = REPORT_SUFFIXES) -> list[tuple[str, list[str]]]:
    """Scan the files among ``files`` (paths relative to ``folder``) whose suffix is in ``suffixes``
    (default the report-facing :data:`REPORT_SUFFIXES`; notebooks by their outputs, CSV files with
    hashes blanked, see :meth:`PiiScanner.scan_file`); missing files are skipped.

    Returns
    -------
    list of (str, list of str)
        ``(relative path, PII values found)`` for each file with a hit, in the given order.
    """
    hits = []
    for rel in files:
        p = folder / rel
        if p.suffix.lower() in suffixes and p.is_file():
            found = scanner.scan_file(p)
            if found:
                hits.append((rel, found))
    return hits


def _kinds(found: Sequence[str]) -> str:
    """``"1 email(s), 2 name(s)"``: how many values of each kind (same rules as :class:`PiiScanner`)."""
    emails = sum("@" in v for v in found)
    phones = sum(sum(c.isdigit() for c in v) >= _PHONE_MIN_DIGITS and "@" not in v for v in found)
    names = len(found) - emails - phones
    parts = [f"{n} {k}" for n, k in ((emails, "email(s)"), (phones, "phone(s)"), (names, "name(s)")) if n]
    return ", ".join(parts)


def leak_message(hits: Sequence[tuple[str, list[str]]]) -> str:
    """The error for PII found in a report: which files, how many values of each kind, and a
    masked hint of up to three values per file (:func:`mask_pii`); never the values themselves.

    Examples
    --------
    >>> leak_message([("01_plan.html", ["jane.doe@example.com"])])[:60]
    'PII found in report: 01_plan.html (1 email(s): j***@e***). S'
    """

    def hint(vals: list[str]) -> str:
        shown = ", ".join(mask_pii(v) for v in vals[:3]) + (", ..." if len(vals) > 3 else "")
        return f"{_kinds(vals)}: {shown}"

    where = "; ".join(f"{rel} ({hint(vals)})" for rel, vals in hits)
    return (f"PII found in report: {where}. Show counts, aggregates or pseudonymize() ids "
            "instead of customer emails, phones or names; nothing was published.")
