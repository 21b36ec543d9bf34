"""Value checks of the campaign config: the strict scalar types and the checkers behind them.

Typing rules (docs/architecture.md, "Faults the playbook survives": IDs or codes as parameters)
-------------------------------------------------------------------------------------------------
* IDs and codes stay text. YAML 1.1 reads ``NO``/``no``/``off`` as ``false`` and ``007`` as the
  number 7; such values are rejected where text is expected, with advice to quote them (the
  advice itself comes from :mod:`playbook.config.loader`, which knows the raw YAML text).
  Numbers are never silently turned into strings.
* Numbers must be numbers: quoted numbers (``"0.05"``), ``nan`` and ``inf`` are rejected.
* Dates are calendar dates ``YYYY-MM-DD`` (quoted or not), never date-times or numbers.

Each checker takes a value already of the right Python type and returns it unchanged, or raises
``ValueError`` whose text (``got ...; expected ...``) becomes the problem's message. Several
problems found by one model validator are raised together with :func:`raise_problems`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import math
import re
import zoneinfo
from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, TypeAlias, TypeGuard

from pydantic import AfterValidator, Field, PlainValidator
from pydantic_core import PydanticCustomError

from playbook.data.contract import PAID_CHANNELS

#: Where a value sits in the config: keys and list indexes (``("experiments", 1, "mde")``).
Loc: TypeAlias = tuple[str | int, ...]
#: One problem: its location (relative to the model that found it) and the message.
Problem: TypeAlias = tuple[Loc, str]

#: Channels that may receive budget: the bought channels of the data contract. ``organic`` and
#: ``direct`` traffic is not bought, so it cannot be budgeted.
BUDGET_CHANNELS: tuple[str, ...] = tuple(PAID_CHANNELS)

# ISO 3166-1 alpha-2 (249 officially assigned codes).
_COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())
# ISO 4217 currencies in circulation (precious metals, funds and test codes excluded).
_CURRENCIES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV
MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN
UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
""".split())

_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WINDOW_SUFFIX_RE = re.compile(r"^(?P<base>.+)_(?P<days>\d+)d$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def describe_value(value: Any) -> str:
    """Describe a given value for an error message (type-aware, short)."""
    if value is None:
        return "an empty value (null)"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, dt.datetime):
        return f"date-time {value.isoformat(sep=' ')}"
    if isinstance(value, dt.date):
        return f"date {value.isoformat()}"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"text {text!r}"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "a mapping (key: value pairs)"
    return f"{type(value).__name__} {value!r}"


def suggest(word: str, options: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest option, or an empty string."""
    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def raise_problems(problems: list[Problem]) -> None:
    """Raise one pydantic error carrying several ``(sub-path, message)`` problems, if any.

    The loader (:mod:`playbook.config.loader`) expands them into one line each, with the
    sub-path appended to the location of the model that raised them.
    """
    if problems:
        raise PydanticCustomError(
            "playbook_problems", "{summary}",
            {"summary": "; ".join(m for _, m in problems), "problems": problems},
        )


def to_date(value: Any) -> dt.date:
    """Accept a calendar date (YAML date or ``"YYYY-MM-DD"`` text); reject date-times, numbers."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"got {describe_value(value)}; expected a calendar date without time, like 2025-11-01")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE_RE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"got {value!r}, which is not a real date ({exc})") from None
    raise ValueError(f"got {describe_value(value)}; expected a date written YYYY-MM-DD, like 2025-11-01")


def check_slug(value: str) -> str:
    """A slug (names the report folder): lowercase letters, digits, single hyphens."""
    if not _SLUG_RE.match(value):
        fixed = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
        raise ValueError(
            f"got {value!r}; a slug uses lowercase letters, digits and single hyphens "
            f"(it names the report folder), e.g. {fixed or 'holiday-2025'!r}"
        )
    return value


def check_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code, uppercase (advice for lowercase and ``UK``)."""
    if value in _COUNTRIES:
        return value
    if value.upper() in _COUNTRIES:
        raise ValueError(f"got {value!r}; country codes are uppercase: write {value.upper()!r}")
    if value.upper() == "UK":
        raise ValueError("got 'UK'; the ISO 3166-1 code of the United Kingdom is 'GB'")
    raise ValueError(
        f"got {value!r}; expected an ISO 3166-1 alpha-2 country code (two uppercase letters, "
        "e.g. 'US', 'GB', 'DE', 'IN')"
    )


def check_currency(value: str) -> str:
    """An ISO 4217 currency code in circulation, uppercase."""
    if value in _CURRENCIES:
        return value
    if value.upper() in _CURRENCIES:
        raise ValueError(f"got {value!r}; currency codes are uppercase: write {value.upper()!r}")
    raise ValueError(
        f"got {value!r}; expected an ISO 4217 currency code (three uppercase letters, e.g. 'USD', "
        f"'EUR', 'INR'){suggest(value.upper(), _CURRENCIES)}"
    )


@cache
def _timezones() -> frozenset[str]:
    """The IANA zone names of this machine (for suggestions; read once)."""
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: str) -> str:
    """An IANA time zone name known to this machine (``zoneinfo``), with a suggestion."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = suggest(value, _timezones())
        raise ValueError(
            f"got {value!r}; expected an IANA time zone name such as 'UTC', 'Europe/Berlin' or "
            f"'Asia/Kolkata'{hint}"
        ) from None
    return value


def check_encoding(value: str) -> str:
    """A Python text encoding name (``codecs.lookup``), e.g. ``latin-1``."""
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            f"got {value!r}; expected a Python text encoding such as 'utf-8', 'utf-8-sig', "
            "'cp1252' or 'latin-1'"
        ) from None
    return value


def check_id(value: str) -> str:
    """An id (experiment, variant): letters, digits, ``_``, ``.``, ``-``; no spaces."""
    if not _ID_RE.match(value):
        raise ValueError(
            f"got {value!r}; an id uses letters, digits, '_', '.' and '-' and no spaces, "
            "e.g. 'xmas25_free_shipping'"
        )
    return value


def check_channel(value: str) -> str:
    """A channel that can receive budget (:data:`BUDGET_CHANNELS`)."""
    if value not in BUDGET_CHANNELS:
        why = " (organic and direct traffic is not bought)" if value in ("organic", "direct") else ""
        raise ValueError(
            f"{value!r} is not a budgetable channel{why}{suggest(value, BUDGET_CHANNELS)}; "
            f"allowed: {', '.join(BUDGET_CHANNELS)}"
        )
    return value


def check_feature_name(value: str) -> str:
    """A rule's feature name: an identifier without a window suffix (``orders``, not ``orders_90d``)."""
    if not _IDENT_RE.match(value):
        raise ValueError(f"got {value!r}; a feature name uses letters, digits and '_' and starts "
                         "with a letter, e.g. 'orders' or 'days_since_last_order'")
    m = _WINDOW_SUFFIX_RE.match(value)
    if m:
        raise ValueError(f"got {value!r}; write the window separately: field: {m['base']}, "
                         f"window_days: {int(m['days'])}")
    return value


def rule_value(value: Any) -> float | int | str | list[float | int | str]:
    """A rule value: a finite number, non-empty text, or a non-empty list of those."""

    def scalar(v: Any) -> float | int | str:
        if isinstance(v, bool):
            raise ValueError(f"got {describe_value(v)}; expected a number or text (quote YAML words "
                             "like yes/no/on/off)")
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"got {v}; expected a finite number (no nan/inf)")
            return v
        if isinstance(v, str) and v.strip():
            return v
        raise ValueError(f"got {describe_value(v)}; expected a number, text, or a list of those")

    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("got an empty list; give at least one value")
        return [scalar(v) for v in value]
    return scalar(value)


def is_number(v: Any) -> TypeGuard[float]:
    """Whether ``v`` is an int or float (booleans excluded)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


# Annotated scalar types: strict (no coercion between text, numbers and booleans).
Text = Annotated[str, Field(strict=True, min_length=1)]
Int = Annotated[int, Field(strict=True)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Date = Annotated[dt.date, PlainValidator(to_date)]
Slug = Annotated[str, Field(strict=True), AfterValidator(check_slug)]
Country = Annotated[str, Field(strict=True), AfterValidator(check_country)]
Currency = Annotated[str, Field(strict=True), AfterValidator(check_currency)]
TimeZone = Annotated[str, Field(strict=True), AfterValidator(check_timezone)]
Id = Annotated[str, Field(strict=True), AfterValidator(check_id)]
ChannelName = Annotated[str, Field(strict=True), AfterValidator(check_channel)]
RuleValue = Annotated[float | int | str | list[float | int | str], PlainValidator(rule_value)]
Encoding = Annotated[str, Field(strict=True), AfterValidator(check_encoding)]
