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

Names checked before a run (issue 19, item 14): the tokens of the content matrix's templates
(:data:`SUBJECT_TOKENS`, :data:`OFFER_TOKENS`; filled by :func:`playbook.value.offers.render`)
and the fields rules may use (:data:`RULE_FIELDS`, :data:`WINDOWED_RULE_FIELDS`; the columns of
the segment step's rule table, :func:`playbook.steps.segment.rule_fields`, listed in
:mod:`playbook.customers.features`). They are written out here so that checking a campaign file
imports no data engine; tests keep them equal to the lists the run uses.
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
_TOKEN_RE = re.compile(r"{(\w+)}")

#: Tokens a subject line may use (:data:`playbook.value.offers.TOKENS`).
SUBJECT_TOKENS: tuple[str, ...] = ("first_name", "top_product", "offer")
#: Tokens an offer may use: the subject's except ``{offer}`` itself, plus the customer's ``{discount}``.
OFFER_TOKENS: tuple[str, ...] = ("discount", "first_name", "top_product")

#: Bases of windowed rule fields (``field: orders, window_days: 90`` reads ``orders_90d``;
#: :data:`playbook.customers.features.WINDOWED_BASES`).
WINDOWED_RULE_FIELDS: tuple[str, ...] = (
    "orders", "revenue", "refunds", "views", "add_to_carts", "sessions", "cart_abandonments",
    "browse_sessions_without_purchase", "emails_sent", "email_opens", "email_clicks",
)
#: Whole-history, point-in-time and attribute fields (rules without ``window_days``), RFM scores and clusters.
RULE_FIELDS: tuple[str, ...] = (
    "accounts", "aov", "bought_last_season", "browse_sessions_without_purchase_total", "browsing_without_buying",
    "cart_abandonments_total", "channel_share_app", "channel_share_store", "channel_share_web", "consent_ads",
    "consent_email", "country", "days_since_first_order", "days_since_last_order", "discount_share",
    "email_bounced", "email_click_rate", "email_clicks_total", "email_open_rate", "email_opens_total",
    "email_unsubscribed", "email_valid", "emails_delivered_total", "emails_sent_total", "erased",
    "gross_sales_total", "monetary_total", "orders_app", "orders_in_seasons", "orders_last_season",
    "orders_store", "orders_total", "orders_web", "phone_valid", "refund_orders_total", "refunds_total",
    "seasonal_order_share", "sessions_total", "sms_bounced", "sms_unsubscribed", "tenure_days", "views_total",
    "rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment", "cluster", "cluster_name",
)
#: Prefix of the per-category fields (``category_share_<category>``: one per product category in the data).
CATEGORY_FIELD_PREFIX = "category_share_"


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


def template_problem(text: str, allowed: Iterable[str]) -> str | None:
    """Why a template uses a token that is not filled (``{nickname}``), or None.

    Tokens are ``{word}``; anything else stays literal text (:func:`playbook.value.offers.render`).
    """
    options = list(allowed)
    unknown = [t for t in _TOKEN_RE.findall(text) if t not in options]
    if not unknown:
        return None
    listed = ", ".join("{" + t + "}" for t in options)
    return (f"unknown token(s) {', '.join('{' + t + '}' for t in unknown)}{suggest(unknown[0], options)} in "
            f"{text!r}: it would be sent as written; use {listed}")


def _template(allowed: tuple[str, ...]) -> Any:
    """An :class:`~pydantic.AfterValidator` refusing templates with tokens outside ``allowed``."""
    def check(value: str) -> str:
        problem = template_problem(value, allowed)
        if problem:
            raise ValueError(problem)
        return value
    return AfterValidator(check)


def rule_field_problem(name: str, window_days: int | None) -> str | None:
    """Why a rule's ``field`` (with its ``window_days``) names no column of the rule table, or None.

    Checked before a run by ``playbook check-config``; at run time a segment with such a rule is not
    built (:func:`playbook.customers.rules.build_rule_segments`).
    """
    windowed = ", ".join(WINDOWED_RULE_FIELDS)
    if window_days is not None:
        if name in WINDOWED_RULE_FIELDS:
            return None
        why = "is a whole-history field: leave window_days out" if name in RULE_FIELDS else "is not a field"
        return (f"{name!r} {why}{suggest(name, WINDOWED_RULE_FIELDS)}; fields with window_days: {windowed}")
    if name in RULE_FIELDS or (name.startswith(CATEGORY_FIELD_PREFIX) and len(name) > len(CATEGORY_FIELD_PREFIX)):
        return None
    if name in WINDOWED_RULE_FIELDS:
        total = f", or use {name}_total" if f"{name}_total" in RULE_FIELDS else ""
        return f"{name!r} counts over a window: add window_days (e.g. window_days: 90){total}"
    return (f"unknown field {name!r}{suggest(name, (*RULE_FIELDS, *WINDOWED_RULE_FIELDS))}; fields: "
            f"{', '.join(RULE_FIELDS)}, {CATEGORY_FIELD_PREFIX}<category>; with window_days: {windowed}")


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
SubjectTemplate = Annotated[str, Field(strict=True, min_length=1), _template(SUBJECT_TOKENS)]
OfferTemplate = Annotated[str, Field(strict=True, min_length=1), _template(OFFER_TOKENS)]
