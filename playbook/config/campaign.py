"""Campaign config: a YAML file -> a validated, typed :class:`CampaignConfig`.

One YAML file per campaign (``campaigns/<slug>.yaml``) says when the season runs, where the data
lives, which channels get budget, the targets, the rule segments and the A/B tests. Everything
is checked before any analysis runs; a bad config raises :class:`playbook.errors.ConfigError`
with ONE message listing every problem by its dotted path (``season.end``,
``channels.paid_search.max_budget``, ``experiments[1].mde``), what was given and what is expected.

Typing rules (RELIABILITY.md, "IDs or codes as parameters")
-----------------------------------------------------------
* Keys are checked: an unknown key (a typo) is an error with a "did you mean" suggestion.
* IDs and codes stay text. YAML 1.1 reads ``NO``/``no``/``off`` as ``false`` and ``007`` as the
  number 7; such values are rejected where text is expected, with advice to quote them. Numbers
  are never silently turned into strings.
* Numbers must be numbers: quoted numbers (``"0.05"``), ``nan`` and ``inf`` are rejected.
* Dates are calendar dates ``YYYY-MM-DD`` (quoted or not), never date-times or numbers.

Segment rule convention
-----------------------
A rule names a customer *feature* and compares it with a value; nothing is evaluated as code.
``field`` is the base feature name (``orders``, ``views``, ``revenue``, ``email_opens``,
``cart_abandonments``) and ``window_days`` the look-back window in days counted back from the
as-of date; the feature column it refers to is ``f"{field}_{window_days}d"`` (``orders`` with
``window_days: 90`` -> ``orders_90d``), available as :attr:`Rule.feature`. Rules without
``window_days`` use whole-history or point-in-time features (``orders_total``,
``days_since_last_order``, ``tenure_days``, ``monetary_total``, ``seasonal_order_share``). Writing
the window into the name (``field: orders_90d``) is rejected, so there is one way to say it.
Field names are checked against the feature table by the segment step, not here.

Money is in the campaign's ``currency``; percentages are in percent (``8`` = +8 %); experiment
effect sizes (``mde``) are fractions (``0.05`` = 5 %).

Examples
--------
>>> cfg = load_config("campaigns/holiday-2025.yaml")  # doctest: +SKIP
>>> cfg.season.start, cfg.output_dir  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import math
import re
import types
import typing
import zoneinfo
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from playbook.data.contract import PAID_CHANNELS
from playbook.errors import ConfigError
from playbook.paths import resolve

__all__ = [
    "BUDGET_CHANNELS",
    "GUARDRAIL_METRICS",
    "PRIMARY_METRICS",
    "RULE_OPS",
    "Attribution",
    "Budget",
    "CampaignConfig",
    "ChannelBudget",
    "ComparisonSeason",
    "DataConfig",
    "Experiment",
    "Output",
    "Rule",
    "Season",
    "Segment",
    "Targets",
    "load_config",
    "parse_config",
]

#: Channels that may receive budget: the bought channels of the data contract. ``organic`` and
#: ``direct`` traffic is not bought, so it cannot be budgeted.
BUDGET_CHANNELS: tuple[str, ...] = tuple(PAID_CHANNELS)
PRIMARY_METRICS: tuple[str, ...] = ("conversion", "revenue_per_user", "open_rate", "click_rate")
GUARDRAIL_METRICS: tuple[str, ...] = ("unsubscribe_rate", "refund_rate", "bounce_rate", "aov")
RULE_OPS: tuple[str, ...] = (">=", ">", "<=", "<", "==", "!=", "in", "not_in", "between")

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
_YAML_FALSE = {"no", "off", "false", "n"}
_ALLOCATION_TOL = 1e-6


# ---------------------------------------------------------------------------------------------
# Small helpers shared by validators and the error translator
# ---------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
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


def _suggest(word: str, options: typing.Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest option, or an empty string."""
    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _problems(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise one pydantic error carrying several ``(sub-path, message)`` problems, if any.

    The translator in :func:`_translate` expands them into one line each, with the sub-path
    appended to the location of the model that raised them.
    """
    if problems:
        raise PydanticCustomError(
            "playbook_problems", "{summary}",
            {"summary": "; ".join(m for _, m in problems), "problems": problems},
        )


def _to_date(value: Any) -> dt.date:
    """Accept a calendar date (YAML date or ``"YYYY-MM-DD"`` text); reject date-times, numbers."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"got {_show(value)}; expected a calendar date without time, like 2025-11-01")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE_RE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"got {value!r}, which is not a real date ({exc})") from None
    raise ValueError(f"got {_show(value)}; expected a date written YYYY-MM-DD, like 2025-11-01")


def _check_slug(value: str) -> str:
    if not _SLUG_RE.match(value):
        fixed = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
        raise ValueError(
            f"got {value!r}; a slug uses lowercase letters, digits and single hyphens "
            f"(it names the report folder), e.g. {fixed or 'holiday-2025'!r}"
        )
    return value


def _check_country(value: str) -> str:
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


def _check_currency(value: str) -> str:
    if value in _CURRENCIES:
        return value
    if value.upper() in _CURRENCIES:
        raise ValueError(f"got {value!r}; currency codes are uppercase: write {value.upper()!r}")
    raise ValueError(
        f"got {value!r}; expected an ISO 4217 currency code (three uppercase letters, e.g. 'USD', "
        f"'EUR', 'INR'){_suggest(value.upper(), _CURRENCIES)}"
    )


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = _suggest(value, _timezones())
        raise ValueError(
            f"got {value!r}; expected an IANA time zone name such as 'UTC', 'Europe/Berlin' or "
            f"'Asia/Kolkata'{hint}"
        ) from None
    return value


def _check_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            f"got {value!r}; expected a Python text encoding such as 'utf-8', 'utf-8-sig', "
            "'cp1252' or 'latin-1'"
        ) from None
    return value


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"got {value!r}; an id uses letters, digits, '_', '.' and '-' and no spaces, "
            "e.g. 'xmas25_free_shipping'"
        )
    return value


def _check_channel(value: str) -> str:
    if value not in BUDGET_CHANNELS:
        why = " (organic and direct traffic is not bought)" if value in ("organic", "direct") else ""
        raise ValueError(
            f"{value!r} is not a budgetable channel{why}{_suggest(value, BUDGET_CHANNELS)}; "
            f"allowed: {', '.join(BUDGET_CHANNELS)}"
        )
    return value


def _rule_value(value: Any) -> float | int | str | list[float | int | str]:
    """A rule value: a finite number, non-empty text, or a non-empty list of those."""

    def scalar(v: Any) -> float | int | str:
        if isinstance(v, bool):
            raise ValueError(f"got {_show(v)}; expected a number or text (quote YAML words "
                             "like yes/no/on/off)")
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"got {v}; expected a finite number (no nan/inf)")
            return v
        if isinstance(v, str) and v.strip():
            return v
        raise ValueError(f"got {_show(v)}; expected a number, text, or a list of those")

    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("got an empty list; give at least one value")
        return [scalar(v) for v in value]
    return scalar(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# Annotated scalar types: strict (no coercion between text, numbers and booleans).
Text = Annotated[str, Field(strict=True, min_length=1)]
Int = Annotated[int, Field(strict=True)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Date = Annotated[dt.date, PlainValidator(_to_date)]
Slug = Annotated[str, Field(strict=True), AfterValidator(_check_slug)]
Country = Annotated[str, Field(strict=True), AfterValidator(_check_country)]
Currency = Annotated[str, Field(strict=True), AfterValidator(_check_currency)]
TimeZone = Annotated[str, Field(strict=True), AfterValidator(_check_timezone)]
Id = Annotated[str, Field(strict=True), AfterValidator(_check_id)]
ChannelName = Annotated[str, Field(strict=True), AfterValidator(_check_channel)]
RuleValue = Annotated[float | int | str | list[float | int | str], PlainValidator(_rule_value)]


class _Model(BaseModel):
    """Base model: unknown keys are errors; an empty list/section (``experiments:`` with nothing
    after it, read by YAML as null) means "use the default"."""

    model_config = ConfigDict(extra="forbid", validate_default=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_use_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            empty = [k for k, v in data.items() if v is None and k in cls.model_fields
                     and cls.model_fields[k].default_factory is not None]
            if empty:
                data = {k: v for k, v in data.items() if k not in empty}
        return data


# ---------------------------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------------------------


class Season(_Model):
    """The campaign window (both dates inclusive) and the last day of data used for planning.

    ``planning_cutoff`` defaults to the day before ``start``.
    """

    start: Date
    end: Date
    planning_cutoff: Date | None = None

    @model_validator(mode="after")
    def _check_order(self) -> Season:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.end < self.start:
            problems.append((("end",), f"{self.end} is before season.start {self.start}; the "
                             "season must end on or after the day it starts"))
        if self.planning_cutoff is None:
            self.planning_cutoff = self.start - dt.timedelta(days=1)
        elif self.planning_cutoff >= self.start:
            problems.append((("planning_cutoff",), f"{self.planning_cutoff} is not before "
                             f"season.start {self.start}; the planning cutoff (last day of data "
                             "used for planning) must fall before the season starts"))
        _problems(problems)
        return self

    @property
    def days(self) -> int:
        """Length of the season in days (inclusive)."""
        return (self.end - self.start).days + 1


class ComparisonSeason(_Model):
    """A past season to compare with (both dates inclusive); must end before the campaign starts."""

    name: Text
    start: Date
    end: Date

    @model_validator(mode="after")
    def _check_order(self) -> ComparisonSeason:
        if self.end < self.start:
            _problems([(("end",), f"{self.end} is before start {self.start}; a season must end "
                        "on or after the day it starts")])
        return self


class DataConfig(_Model):
    """Where the data lives and how to read it.

    ``source``: ``None`` for the bundled sample (``data/sample``), a folder of Parquet/CSV files
    (relative paths against the project root) or an Ibis connection URL (``duckdb://...``).
    ``timezone``: time zone of naive timestamps in the source (naive timestamps are rejected when
    unset). ``orphan_threshold``: number of orphan rows (e.g. orders of unknown customers)
    tolerated before the data check fails. ``encoding``: text encoding of CSV files.
    """

    source: Text | None = None
    timezone: TimeZone | None = None
    orphan_threshold: Annotated[int, Field(strict=True, ge=0)] = 0
    encoding: Annotated[str, Field(strict=True), AfterValidator(_check_encoding)] | None = None


class ChannelBudget(_Model):
    """Spend bounds for one channel over the whole season, in the campaign currency."""

    min_budget: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)] = 0.0
    max_budget: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]

    @model_validator(mode="after")
    def _check_bounds(self) -> ChannelBudget:
        if self.max_budget < self.min_budget:
            _problems([(("max_budget",), f"{self.max_budget:g} is below min_budget "
                        f"{self.min_budget:g}; max_budget must be >= min_budget")])
        return self


class Budget(_Model):
    """Total season budget (campaign currency) and the optional target return on ad spend."""

    total: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
    target_roas: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)] | None = None


class Targets(_Model):
    """Campaign targets.

    ``revenue_uplift_pct``: revenue growth over the forecast baseline in percent (8 = +8 %);
    ``stretch_uplift_pct`` (optional) must be at least as high. ``new_customers``: first-time
    buyers in the season. ``max_cpa``: highest acceptable cost per acquisition (currency units).
    """

    revenue_uplift_pct: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=-100)]
    new_customers: Annotated[int, Field(strict=True, ge=0)] | None = None
    stretch_uplift_pct: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=-100)] | None = None
    max_cpa: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)] | None = None

    @model_validator(mode="after")
    def _check_stretch(self) -> Targets:
        if self.stretch_uplift_pct is not None and self.stretch_uplift_pct < self.revenue_uplift_pct:
            _problems([(("stretch_uplift_pct",), f"{self.stretch_uplift_pct:g} is below "
                        f"revenue_uplift_pct {self.revenue_uplift_pct:g}; a stretch target must be "
                        "at least the base target")])
        return self


class Rule(_Model):
    """One condition of a rule segment: ``<feature> <op> <value>`` (see the module docstring).

    Shapes: ``>``, ``>=``, ``<``, ``<=`` take a number; ``==``/``!=`` a number or text; ``in`` /
    ``not_in`` a non-empty list; ``between`` a list of two numbers ``[low, high]`` (inclusive).
    """

    field: Text
    op: Literal[">=", ">", "<=", "<", "==", "!=", "in", "not_in", "between"]
    value: RuleValue
    window_days: Annotated[int, Field(strict=True, ge=1)] | None = None

    @field_validator("field")
    @classmethod
    def _check_field(cls, v: str) -> str:
        if not _IDENT_RE.match(v):
            raise ValueError(f"got {v!r}; a feature name uses letters, digits and '_' and starts "
                             "with a letter, e.g. 'orders' or 'days_since_last_order'")
        m = _WINDOW_SUFFIX_RE.match(v)
        if m:
            raise ValueError(f"got {v!r}; write the window separately: field: {m['base']}, "
                             f"window_days: {int(m['days'])}")
        return v

    @model_validator(mode="after")
    def _check_shape(self) -> Rule:
        v, op = self.value, self.op
        msg = None
        if op in ("in", "not_in") and not isinstance(v, list):
            msg = f"op {op!r} needs a list, e.g. value: [US, GB]; got {_show(v)}"
        elif op == "between":
            if not (isinstance(v, list) and len(v) == 2 and all(_is_number(x) for x in v)):
                msg = f"op 'between' needs two numbers [low, high], e.g. value: [1, 5]; got {_show(v)}"
            elif v[0] > v[1]:
                msg = f"[{v[0]}, {v[1]}]: low is above high; write [{v[1]}, {v[0]}]"
        elif op in (">=", ">", "<=", "<") and not _is_number(v):
            msg = f"op {op!r} needs a number; got {_show(v)}"
        elif op in ("==", "!=") and isinstance(v, list):
            msg = f"op {op!r} needs one number or text; for several values use op 'in'"
        if msg:
            _problems([(("value",), msg)])
        return self

    @property
    def feature(self) -> str:
        """Feature column this rule reads: ``field`` or ``f"{field}_{window_days}d"``."""
        return f"{self.field}_{self.window_days}d" if self.window_days else self.field


class Segment(_Model):
    """A rule segment: customers matching ``all`` (AND) or ``any`` (OR) of its rules."""

    name: Text
    description: Text | None = None
    match: Literal["all", "any"] = "all"
    rules: Annotated[list[Rule], Field(min_length=1)]


class Experiment(_Model):
    """An A/B test.

    ``mde``: minimum detectable effect; relative (``0.05`` = +5 % of the control rate) or, with
    ``mde_type: absolute``, in metric units (e.g. 0.01 = one percentage point). ``variants``: the
    arms, the first is the control. ``allocation``: traffic shares per arm summing to 1 (default
    equal). ``holdout``: share of the eligible audience kept out of the test entirely.
    """

    id: Id
    name: Text | None = None
    hypothesis: Text
    primary_metric: Literal["conversion", "revenue_per_user", "open_rate", "click_rate"]
    mde: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
    mde_type: Literal["relative", "absolute"] = "relative"
    alpha: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=0.5)] = 0.05
    power: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.5, le=0.99)] = 0.8
    variants: Annotated[list[Id], Field(min_length=2)]
    allocation: list[Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]] | None = None
    holdout: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, lt=0.5)] = 0.0
    guardrails: list[Literal["unsubscribe_rate", "refund_rate", "bounce_rate", "aov"]] = Field(
        default_factory=list)
    correction: Literal["holm", "bh"] = "holm"
    start: Date | None = None
    end: Date | None = None

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.mde_type == "relative" and self.mde > 1:
            problems.append((("mde",), f"{self.mde:g} is a relative effect above 100 %; write "
                             f"fractions ({self.mde / 100:g} for {self.mde:g} %) or set "
                             "mde_type: absolute"))
        seen: dict[str, int] = {}
        for i, v in enumerate(self.variants):
            if v in seen:
                problems.append((("variants", i), f"duplicate variant {v!r} (also at "
                                 f"variants[{seen[v]}]); each arm needs its own name"))
            seen.setdefault(v, i)
        if self.allocation is None:
            self.allocation = [1.0 / len(self.variants)] * len(self.variants)
        elif len(self.allocation) != len(self.variants):
            problems.append((("allocation",), f"has {len(self.allocation)} share(s) for "
                             f"{len(self.variants)} variants; give one share per variant, in "
                             "the same order"))
        elif abs(sum(self.allocation) - 1.0) > _ALLOCATION_TOL:
            problems.append((("allocation",), f"shares {self.allocation} sum to "
                             f"{sum(self.allocation):.6g}; they must sum to 1"))
        if len(set(self.guardrails)) != len(self.guardrails):
            problems.append((("guardrails",), "lists a metric twice"))
        if self.start and self.end and self.end < self.start:
            problems.append((("end",), f"{self.end} is before start {self.start}"))
        _problems(problems)
        return self

    @property
    def control(self) -> str:
        """The control arm (first variant)."""
        return self.variants[0]

    @property
    def treatments(self) -> list[str]:
        """The non-control arms."""
        return self.variants[1:]


class Attribution(_Model):
    """Multi-touch attribution settings.

    ``half_life_days``: half-life of the time-decay model in days. ``markov_order``: order of the
    Markov-chain model. ``max_path_length``: longest touch path kept (older touches dropped).
    ``lookback_days``: how far before an order its touches count (after the previous order).
    """

    lookback_days: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=365)] = 14.0
    half_life_days: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)] = 7.0
    markov_order: Annotated[int, Field(strict=True, ge=1, le=4)] = 1
    max_path_length: Annotated[int, Field(strict=True, ge=2, le=200)] = 20


class ContentRow(_Model):
    """One row of the content matrix: offer, content block and subject line templates.

    Templates may use ``{discount}``, ``{first_name}``, ``{top_product}`` and ``{offer}``
    (see :mod:`playbook.value.offers`); names are filled only in exports, never in reports.
    """

    offer: Text
    content: Text
    subject: Text


class FlowStep(_Model):
    """A step of a trigger flow: its name and the hours after the trigger when it is sent."""

    name: Text
    after_hours: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]


class Flow(_Model):
    """A trigger flow (abandoned cart, browse abandonment, post-purchase ...)."""

    name: Text
    trigger: Literal["add_to_cart", "view", "order"]
    max_age_hours: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
    steps: Annotated[list[FlowStep], Field(min_length=1)]


class Personalization(_Model):
    """What each customer receives: the content matrix (segment -> offer/content/subject, with a
    ``default`` row) and the trigger flows. Both fall back to the built-in defaults of
    :mod:`playbook.value.offers` when omitted."""

    content_matrix: dict[Text, ContentRow] | None = None
    flows: list[Flow] | None = None

    @field_validator("content_matrix")
    @classmethod
    def _has_default(cls, v: dict[str, ContentRow] | None) -> dict[str, ContentRow] | None:
        if v is not None and "default" not in v:
            raise ValueError("needs a 'default' row for customers in no listed segment")
        return v

    def matrix(self) -> dict[str, dict[str, str]] | None:
        """The content matrix in the shape :func:`playbook.value.offers.next_best_offer` takes."""
        if self.content_matrix is None:
            return None
        return {seg: row.model_dump() for seg, row in self.content_matrix.items()}

    def flow_specs(self) -> list[dict] | None:
        """The flows in the shape :func:`playbook.value.offers.flow_counts` takes."""
        if self.flows is None:
            return None
        return [{"name": f.name, "trigger": f.trigger, "max_age_hours": f.max_age_hours,
                 "steps": [(st.name, st.after_hours) for st in f.steps]} for f in self.flows]


class Output(_Model):
    """Report folder; ``None`` -> ``reports/<slug>`` (relative paths against the project root)."""

    dir: Text | None = None


def _unique(items: list[Any], key: str, label: str) -> list[Any]:
    """Raise one problem per repeated ``key`` value (path ``[i].key``)."""
    seen: dict[Any, int] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, item in enumerate(items):
        k = getattr(item, key)
        if k in seen:
            problems.append(((i, key), f"duplicate {label} {k!r} (also at [{seen[k]}]); "
                             f"each {label} must be unique"))
        seen.setdefault(k, i)
    _problems(problems)
    return items


class CampaignConfig(_Model):
    """A validated campaign config. Build it with :func:`load_config` or :func:`parse_config`.

    Cross-field checks that span sections (budget total vs channel bounds, comparison seasons
    before the season) run in a model validator, and :func:`parse_config` also runs them when
    other sections are invalid, so every problem is reported at once.
    """

    slug: Slug
    name: Text
    description: Text | None = None
    countries: Annotated[list[Country], Field(min_length=1)]
    currency: Currency
    timezone: TimeZone = "UTC"
    season: Season
    comparison_seasons: list[ComparisonSeason] = Field(default_factory=list)
    data: DataConfig = Field(default_factory=DataConfig)
    channels: Annotated[dict[ChannelName, ChannelBudget], Field(min_length=1)]
    budget: Budget
    targets: Targets
    segments: list[Segment] = Field(default_factory=list)
    experiments: list[Experiment] = Field(default_factory=list)
    attribution: Attribution = Field(default_factory=Attribution)
    personalization: Personalization = Field(default_factory=Personalization)
    overlap_warning_threshold: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)] = 0.3
    min_audience_size: Annotated[int, Field(strict=True, ge=1)] = 100
    output: Output = Field(default_factory=Output)

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("countries")
    @classmethod
    def _unique_countries(cls, v: list[str]) -> list[str]:
        dup = sorted({c for c in v if v.count(c) > 1})
        if dup:
            raise ValueError(f"lists {', '.join(dup)} more than once; list each country once")
        return v

    @field_validator("segments")
    @classmethod
    def _unique_segments(cls, v: list[Segment]) -> list[Segment]:
        return _unique(v, "name", "segment name")

    @field_validator("experiments")
    @classmethod
    def _unique_experiments(cls, v: list[Experiment]) -> list[Experiment]:
        return _unique(v, "id", "experiment id")

    @model_validator(mode="after")
    def _cross_field(self) -> CampaignConfig:
        _problems(_cross_problems(self.season, self.comparison_seasons, self.budget, self.channels))
        return self

    # -- convenience -------------------------------------------------------------------------

    @property
    def source_path(self) -> Path | None:
        """The YAML file this config was loaded from (``None`` for :func:`parse_config`)."""
        return self._source

    @property
    def output_dir(self) -> Path:
        """Report folder: ``output.dir`` or ``reports/<slug>``, resolved against the project root."""
        return resolve(self.output.dir) if self.output.dir else resolve(Path("reports") / self.slug)

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Season ``(start, end)`` as UTC midnight timestamps; both calendar days are included.

        To filter timestamps use :attr:`window_half_open` (``start <= ts < end + 1 day``).
        """
        return (pd.Timestamp(self.season.start, tz="UTC"), pd.Timestamp(self.season.end, tz="UTC"))

    @property
    def window_half_open(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Season as ``[start, end + 1 day)`` UTC timestamps, for filtering event timestamps."""
        start, end = self.window
        return start, end + pd.Timedelta(days=1)

    @property
    def data_source_resolved(self) -> str:
        """``data.source`` ready to connect: the sample folder when unset, relative folders
        resolved against the project root, connection URLs unchanged."""
        src = self.data.source
        if src is None:
            return str(resolve("data/sample"))
        if "://" in src:
            return src
        return str(resolve(src))

    @property
    def budget_bounds(self) -> tuple[float, float]:
        """Sum of the channels' ``(min_budget, max_budget)`` in the campaign currency."""
        return (sum(c.min_budget for c in self.channels.values()),
                sum(c.max_budget for c in self.channels.values()))


def _cross_problems(
    season: Season | None,
    comparison: list[ComparisonSeason] | None,
    budget: Budget | None,
    channels: dict[str, ChannelBudget] | None,
) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks across sections, on whichever sections are valid (``None`` = invalid, skipped)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if season is not None and comparison is not None:
        for i, past in enumerate(comparison):
            if past.end >= season.start:
                problems.append((("comparison_seasons", i, "end"), f"{past.end} is not before "
                                 f"season.start {season.start}; comparison seasons must be in "
                                 "the past"))
    if budget is not None and channels:
        lo = sum(c.min_budget for c in channels.values())
        hi = sum(c.max_budget for c in channels.values())
        if budget.total < lo:
            problems.append((("budget", "total"), f"{budget.total:,.0f} is below the sum of the "
                             f"channels' min_budget ({lo:,.0f}); raise budget.total or lower the "
                             "minimums"))
        elif budget.total > hi:
            problems.append((("budget", "total"), f"{budget.total:,.0f} is above the sum of the "
                             f"channels' max_budget ({hi:,.0f}); lower budget.total or raise the "
                             "maximums"))
    return problems


# ---------------------------------------------------------------------------------------------
# YAML loading that remembers where each value came from
# ---------------------------------------------------------------------------------------------

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class _Origin:
    """Where a value came from in the YAML file: 1-based line, and the raw scalar text."""

    line: int
    raw: str | None = None
    plain: bool = False  # an unquoted scalar (so YAML 1.1 typing applied)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (YAML 1.1 typing; nothing executed)."""


def _construct(loader: _Loader, node: yaml.Node, loc: Loc, origins: dict[Loc, _Origin],
               problems: list[tuple[Loc, str]], depth: int = 0) -> Any:
    """Build Python values from a composed YAML node tree, recording each value's origin."""
    if depth > 50:
        raise ConfigError("The config nests deeper than 50 levels (a recursive YAML alias?).")
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        origins[loc] = _Origin(line)
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node, (*loc, "<key>"), origins, problems, depth + 1)
            if not isinstance(key, str):
                raw = getattr(key_node, "value", str(key))
                advice = (" — YAML reads NO/no/off as false and YES/yes/on as true"
                          if isinstance(key, bool) else "")
                problems.append(((*loc, str(raw)), f"key {raw!r} was read as {_show(key)}"
                                 f"{advice}; write '{raw}' in quotes (line {key_node.start_mark.line + 1})"))
                key = str(raw)
            if key in key_lines:
                problems.append(((*loc, key), f"duplicate key {key!r} (lines {key_lines[key]} and "
                                 f"{key_node.start_mark.line + 1}); YAML keeps only the last one, "
                                 "remove the other"))
            key_lines[key] = key_node.start_mark.line + 1
            out[key] = _construct(loader, value_node, (*loc, key), origins, problems, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        origins[loc] = _Origin(line)
        return [_construct(loader, n, (*loc, i), origins, problems, depth + 1)
                for i, n in enumerate(node.value)]
    origins[loc] = _Origin(line, raw=node.value, plain=node.style is None)
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, yaml.YAMLError):  # e.g. an impossible date 2025-02-30: keep the text
        return node.value


def _syntax_error(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if mark is None:
        return ConfigError(f"{path}: not valid YAML ({what}).")
    lines = text.splitlines()
    src = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    ctx = f" ({context})" if context else ""
    return ConfigError(
        f"{path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {what}{ctx}\n"
        f"    {src}\n    {' ' * mark.column}^\n"
        "Check the indentation (spaces, not tabs), that every 'key: value' has a space after the "
        "colon, and that text containing ':' or '#' is quoted."
    )


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, _Origin], list[tuple[Loc, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                          "config as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    loader = _Loader(text)
    origins: dict[Loc, _Origin] = {}
    problems: list[tuple[Loc, str]] = []
    try:
        node = loader.get_single_node()
        data = None if node is None else _construct(loader, node, (), origins, problems)
    except yaml.YAMLError as exc:
        raise _syntax_error(path, text, exc) from None
    finally:
        loader.dispose()
    return data, origins, problems


def _find_config(path: str | Path) -> Path:
    """The config file: as given (relative to the working folder) or under the project root."""
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [p, resolve(p)]
    for c in candidates:
        if c.is_file():
            return c
    folder = resolve("campaigns")
    found = sorted(f.name for f in folder.glob("*.y*ml")) if folder.is_dir() else []
    listing = ", ".join(f"campaigns/{f}" for f in found) if found else "none found"
    where = " or ".join(str(c) for c in dict.fromkeys(candidates))
    kind = "is a folder, not a file" if any(c.is_dir() for c in candidates) else "not found"
    raise ConfigError(
        f"Campaign config {str(path)!r} {kind} (looked at {where}). "
        f"Configs in {folder}: {listing}. Copy campaigns/holiday-2025.yaml to start a new one."
    )


# ---------------------------------------------------------------------------------------------
# Translating pydantic errors into one friendly message
# ---------------------------------------------------------------------------------------------


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else args[0]
        else:
            return tp


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class validating the mapping at ``loc`` (for listing its allowed keys)."""
    tp: Any = CampaignConfig
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            if field is None:
                return None
            tp = field.annotation
        elif origin is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict and isinstance(part, str):
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _origin_for(loc: Loc, origins: dict[Loc, _Origin]) -> _Origin | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    return None


def _yaml_advice(value: Any, origin: _Origin | None, expected: str) -> str | None:
    """Advice for a YAML 1.1 implicit typing trap (boolean or number where text was meant)."""
    raw = origin.raw if origin and origin.plain else None
    if isinstance(value, bool):
        if raw is None:
            return f"got boolean {value}; expected {expected}"
        words = "NO/no/off as false" if raw.lower() in _YAML_FALSE else "YES/yes/on as true"
        return f"got boolean {value} — YAML reads {words}; write '{raw}' in quotes"
    if isinstance(value, int | float) and expected.startswith("text"):
        if raw is not None and raw != str(value):
            return (f"got number {value} (YAML read {raw} as a number); IDs and codes are text: "
                    f"write '{raw}' in quotes")
        return f"got number {value}; expected {expected} — write '{raw or value}' in quotes"
    if isinstance(value, dt.date) and expected.startswith("text"):
        return f"got {_show(value)}; expected {expected} — write '{raw or value}' in quotes"
    return None


_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
           "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}


def _describe(err: dict[str, Any], origins: dict[Loc, _Origin]) -> list[tuple[Loc, str]]:
    """Translate one pydantic error into ``(location, message)`` pairs."""
    kind, loc, value = err["type"], tuple(err["loc"]), err.get("input")
    ctx = err.get("ctx") or {}
    origin = _origin_for(loc, origins)
    if kind == "playbook_problems":
        return [((*loc, *sub), msg) for sub, msg in ctx["problems"]]
    if kind == "missing":
        return [(loc, "required but missing")]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model else []
        hint = _suggest(key, allowed)
        tail = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return [(loc, f"unknown key {key!r}{hint}{tail}")]
    expected = {
        "string_type": "text", "int_type": "a whole number", "int_from_float": "a whole number",
        "int_parsing": "a whole number", "float_type": "a number", "float_parsing": "a number",
        "list_type": "a list ([a, b] or one '- item' per line)", "dict_type": "a mapping (key: value lines)",
        "model_type": "a mapping (key: value lines)", "model_attributes_type": "a mapping",
    }.get(kind)
    advice = _yaml_advice(value, origin, expected or "a different value")
    if isinstance(value, bool) and advice and kind not in ("list_type", "dict_type", "model_type"):
        return [(loc, advice)]
    if kind == "string_type":
        return [(loc, advice or f"got {_show(value)}; expected text")]
    if kind in ("float_type", "float_parsing", "finite_number") and isinstance(value, str | float):
        text = str(value).strip().lower()
        if text in ("nan", "inf", "-inf", "+inf", "infinity", ".nan", ".inf") or kind == "finite_number":
            return [(loc, f"got {value!r}; expected a finite number (NaN and infinity are not "
                          "allowed)")]
        return [(loc, f"got {_show(value)}; expected a number — remove the quotes")]
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return [(loc, f"got {_show(value)}; expected a whole number")]
    if expected is not None:
        return [(loc, f"got {_show(value)}; expected {expected}")]
    if kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        return [(loc, f"got {value}; must be {sign} {ctx.get(key)}")]
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return [(loc, f"got {_show(value)}; expected one of {', '.join(map(repr, options))}"
                      f"{_suggest(str(value), options)}")]
    if kind == "too_short":
        return [(loc, f"has {ctx.get('actual_length')} item(s); needs at least "
                      f"{ctx.get('min_length')}")]
    if kind == "too_long":
        return [(loc, f"has {ctx.get('actual_length')} item(s); allows at most "
                      f"{ctx.get('max_length')}")]
    if kind == "string_too_short":
        return [(loc, "is empty; give a value or leave the key out")]
    if kind == "value_error":
        return [(loc, str(ctx.get("error", err["msg"])))]
    return [(loc, f"{err['msg']} (got {_show(value)})")]


def _translate(exc: ValidationError, origins: dict[Loc, _Origin]) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for err in exc.errors(include_url=False):
        out.extend(_describe(err, origins))
    return out


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

_SECTION_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _section(name: str, raw: dict[str, Any]) -> Any:
    """Validate one top-level section alone; ``None`` when absent or invalid."""
    if name not in raw and CampaignConfig.model_fields[name].is_required():
        return None
    if name not in _SECTION_ADAPTERS:
        field = CampaignConfig.model_fields[name]
        tp = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        _SECTION_ADAPTERS[name] = TypeAdapter(tp)
    try:
        value = raw[name] if name in raw else CampaignConfig.model_fields[name].get_default(
            call_default_factory=True)
        return _SECTION_ADAPTERS[name].validate_python(value)
    except ValidationError:
        return None


def _message(source: str, problems: list[tuple[Loc, str]], origins: dict[Loc, _Origin]) -> str:
    lines = []
    if origins:  # in file order, so the message reads top to bottom like the YAML
        problems = sorted(problems, key=lambda p: getattr(_origin_for(p[0], origins), "line", 0))
    for loc, msg in problems:
        origin = _origin_for(loc, origins)
        at = f" (line {origin.line})" if origin and "(line" not in msg else ""
        lines.append(f"  - {_format_loc(loc)}: {msg}{at}")
    n = len(problems)
    return (f"Invalid campaign config {source}: {n} problem{'s' if n != 1 else ''}\n"
            + "\n".join(lines)
            + "\nFix the fields above (see campaigns/holiday-2025.yaml for a commented example) "
              "and check again with `playbook check-config`.")


def _validate(data: Any, source: str, origins: dict[Loc, _Origin],
              load_problems: list[tuple[Loc, str]]) -> CampaignConfig:
    if data is None:
        raise ConfigError(f"Campaign config {source} is empty; start from a copy of "
                          "campaigns/holiday-2025.yaml.")
    if not isinstance(data, dict):
        raise ConfigError(f"Campaign config {source} must be a mapping of keys (slug:, name:, "
                          f"season: ...); got {_show(data)}.")
    problems = list(load_problems)
    try:
        cfg = CampaignConfig.model_validate(data)
    except ValidationError as exc:
        found = _translate(exc, origins)
        if not any(e["type"] == "playbook_problems" and e["loc"] == () for e in exc.errors()):
            parts = {n: _section(n, data) for n in ("season", "comparison_seasons", "budget",
                                                    "channels")}
            found += _cross_problems(parts["season"], parts["comparison_seasons"],
                                     parts["budget"], parts["channels"])
        problems += found
    else:
        if not problems:
            return cfg
    raise ConfigError(_message(source, problems, origins))


def parse_config(mapping: dict[str, Any], source: str = "<dict>") -> CampaignConfig:
    """Validate a config given as a mapping (e.g. already-parsed YAML or a test fixture).

    Parameters
    ----------
    mapping : dict
        The config's keys and values, as in the YAML file.
    source : str
        Name used in error messages.

    Returns
    -------
    CampaignConfig

    Raises
    ------
    ConfigError
        Listing every invalid field by its dotted path, what was given and what is expected.
    """
    return _validate(mapping, source, {}, [])


def load_config(path: str | Path) -> CampaignConfig:
    """Load and validate a campaign YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file; a relative path is looked up from the working folder, then from the
        project root (so ``campaigns/holiday-2025.yaml`` works from ``notebooks/`` too).

    Returns
    -------
    CampaignConfig
        With :attr:`CampaignConfig.source_path` set to the resolved file path.

    Raises
    ------
    ConfigError
        The file is missing (the message lists the configs in ``campaigns/``), is not valid YAML
        (line and column given), or has invalid fields (all listed, with YAML line numbers).
    """
    file = _find_config(path)
    data, origins, load_problems = _read_yaml(file)
    cfg = _validate(data, str(path), origins, load_problems)
    cfg._source = file.resolve()
    return cfg
