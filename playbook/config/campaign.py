"""Campaign config: a YAML file -> a validated, typed :class:`CampaignConfig`.

One YAML file per campaign (``campaigns/<slug>.yaml``) says when the season runs, where the data
lives, which channels get budget, the targets, the rule segments and the A/B tests. Everything
is checked before any analysis runs; a bad config raises :class:`playbook.errors.ConfigError`
with ONE message listing every problem by its dotted path (``season.end``,
``channels.paid_search.max_budget``, ``experiments[1].mde``), what was given and what is expected.

The package has three modules: this one (the pydantic models and :class:`CampaignConfig`),
:mod:`playbook.config.checks` (value checkers and the strict scalar types: typing rules there) and
:mod:`playbook.config.loader` (safe YAML reading with line numbers, the error message, and
:func:`~playbook.config.loader.load_config` / :func:`~playbook.config.loader.parse_config`).
Keys are checked: an unknown key (a typo) is an error with a "did you mean" suggestion.

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

Optional sections modelled apart: ``events`` (:class:`~playbook.config.sections.Event`), ``media`` (:mod:`.media`).

Examples
--------
>>> from playbook.config.loader import load_config
>>> cfg = load_config("campaigns/holiday-2025.yaml")  # doctest: +SKIP
>>> cfg.season.start, cfg.output_dir  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    field_validator,
    model_validator,
)

from playbook.config.checks import (
    BUDGET_CHANNELS,
    ChannelName,
    Country,
    Currency,
    Date,
    Encoding,
    Id,
    OfferTemplate,
    Problem,
    RuleValue,
    Slug,
    SubjectTemplate,
    Text,
    TimeZone,
    check_feature_name,
    describe_value,
    is_number,
    raise_problems,
)
from playbook.config.media import MediaSection, media_problems
from playbook.config.sections import OPTIONAL_SECTIONS, EventList, cross_section_problems
from playbook.data.days import local_midnight
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
    "OPTIONAL_SECTIONS",
    "Output",
    "Rule",
    "Season",
    "Segment",
    "Targets",
]

PRIMARY_METRICS: tuple[str, ...] = ("conversion", "revenue_per_user", "open_rate", "click_rate")
GUARDRAIL_METRICS: tuple[str, ...] = ("unsubscribe_rate", "refund_rate", "bounce_rate", "aov")
RULE_OPS: tuple[str, ...] = (">=", ">", "<=", "<", "==", "!=", "in", "not_in", "between")
_ALLOCATION_TOL = 1e-6


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
        problems: list[Problem] = []
        if self.end < self.start:
            problems.append((("end",), f"{self.end} is before season.start {self.start}; the "
                             "season must end on or after the day it starts"))
        if self.planning_cutoff is None:
            self.planning_cutoff = self.start - dt.timedelta(days=1)
        elif self.planning_cutoff >= self.start:
            problems.append((("planning_cutoff",), f"{self.planning_cutoff} is not before "
                             f"season.start {self.start}; the planning cutoff (last day of data "
                             "used for planning) must fall before the season starts"))
        raise_problems(problems)
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
            raise_problems([(("end",), f"{self.end} is before start {self.start}; a season must end "
                        "on or after the day it starts")])
        return self


class DataConfig(_Model):
    """Where the data lives and how to read it (turned into a
    :class:`playbook.data.source.DataSource` by ``DataSource.from_config``).

    ``source``: ``None`` for the bundled sample (``data/sample``), a folder of Parquet/CSV files
    (relative paths against the project root) or an Ibis connection URL (``duckdb://...``).
    ``timezone``: time zone of naive timestamps in the source (naive timestamps are rejected when
    unset). ``orphan_threshold``: number of orphan rows (e.g. orders of unknown customers)
    tolerated before the data check fails. ``encoding``: text encoding of CSV files.
    ``merge_line_items``: the orders export has one row per line item; rows of one customer at
    one ``order_ts`` are merged into one order (the CLV models count purchase occasions).
    ``exclude_extreme_orders``: leave implausibly large orders (``validate-data`` lists them) out
    of models and headlines (default true; the reports count them).
    """

    source: Text | None = None
    timezone: TimeZone | None = None
    orphan_threshold: Annotated[int, Field(strict=True, ge=0)] = 0
    encoding: Encoding | None = None
    merge_line_items: StrictBool = False
    exclude_extreme_orders: StrictBool = True


class ChannelBudget(_Model):
    """Spend bounds for one channel over the whole season, in the campaign currency."""

    min_budget: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)] = 0.0
    max_budget: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]

    @model_validator(mode="after")
    def _check_bounds(self) -> ChannelBudget:
        if self.max_budget < self.min_budget:
            raise_problems([(("max_budget",), f"{self.max_budget:g} is below min_budget "
                        f"{self.min_budget:g}; max_budget must be >= min_budget")])
        return self


class Budget(_Model):
    """Total season budget (campaign currency), the optional target return on ad spend, the optimiser's
    ``objective`` (``mean``, or ``pNN``: the NN-th percentile of the return) and ``fixed`` channel budgets."""

    total: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
    target_roas: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)] | None = None
    objective: str = "mean"  # checked by playbook.config.sections.budget_problems
    fixed: dict[str, Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]] = {}


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
            raise_problems([(("stretch_uplift_pct",), f"{self.stretch_uplift_pct:g} is below "
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
        return check_feature_name(v)

    @model_validator(mode="after")
    def _check_shape(self) -> Rule:
        v, op = self.value, self.op
        msg = None
        if op in ("in", "not_in") and not isinstance(v, list):
            msg = f"op {op!r} needs a list, e.g. value: [US, GB]; got {describe_value(v)}"
        elif op == "between":
            pair = [x for x in v if is_number(x)] if isinstance(v, list) else []
            if not (isinstance(v, list) and len(v) == 2 and len(pair) == 2):
                msg = f"op 'between' needs two numbers [low, high], e.g. value: [1, 5]; got {describe_value(v)}"
            elif pair[0] > pair[1]:
                msg = f"[{pair[0]}, {pair[1]}]: low is above high; write [{pair[1]}, {pair[0]}]"
        elif op in (">=", ">", "<=", "<") and not is_number(v):
            msg = f"op {op!r} needs a number; got {describe_value(v)}"
        elif op in ("==", "!=") and isinstance(v, list):
            msg = f"op {op!r} needs one number or text; for several values use op 'in'"
        if msg:
            raise_problems([(("value",), msg)])
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
    equal). ``holdout``: share of the eligible audience kept out of the test entirely. ``kind``:
    ``ab`` (default) or ``aa`` for an A/A test, whose arms are identical by design: a sanity check
    of the assignment and the analysis, judged "passed" or "failed: check the assignment".
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
    kind: Literal["ab", "aa"] = "ab"
    start: Date | None = None
    end: Date | None = None

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        problems: list[Problem] = []
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
        raise_problems(problems)
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

    Offer tokens: ``{discount}``, ``{first_name}``, ``{top_product}``; subject tokens: ``{first_name}``,
    ``{top_product}``, ``{offer}``; others are refused (:mod:`playbook.value.offers`; names fill exports only).
    """

    offer: OfferTemplate
    content: Text
    subject: SubjectTemplate


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

    def flow_specs(self) -> list[dict[str, Any]] | None:
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
    problems: list[Problem] = []
    for i, item in enumerate(items):
        k = getattr(item, key)
        if k in seen:
            problems.append(((i, key), f"duplicate {label} {k!r} (also at [{seen[k]}]); "
                             f"each {label} must be unique"))
        seen.setdefault(k, i)
    raise_problems(problems)
    return items


class CampaignConfig(_Model):
    """A validated campaign config. Build it with :func:`load_config` or :func:`parse_config`.

    Cross-field checks that span sections (budget total vs channel bounds, a budget needs
    channels, comparison seasons before the season) run in a model validator, and
    :func:`parse_config` also runs them when other sections are invalid, so every problem is
    reported at once.

    Required: ``slug``, ``name``, ``countries``, ``currency`` and ``season``. Every other section
    is optional; :data:`OPTIONAL_SECTIONS` says what each one turns off when it is absent and
    :meth:`absent_sections` lists those of this config (``playbook check-config`` prints them).
    Defaults: no ``channels`` and no ``budget`` (the plan splits no budget); ``targets`` = the
    forecast itself (0 % uplift, no new-customer target; :attr:`targets_set` tells whether the
    file set them); ``comparison_seasons`` absent = *automatic* (:attr:`comparison_automatic`):
    each step resolves them from the order data when it starts
    (:func:`playbook.planning.seasons.default_comparison_seasons`), while ``comparison_seasons:
    []`` means none. Until resolved, an automatic config holds an empty list, so code outside the
    steps reads "no comparison season". ``data.source`` absent = the bundled sample.
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
    channels: dict[ChannelName, ChannelBudget] = Field(default_factory=dict)
    budget: Budget | None = None
    targets: Targets = Field(default_factory=lambda: Targets(revenue_uplift_pct=0.0))
    segments: list[Segment] = Field(default_factory=list)
    experiments: list[Experiment] = Field(default_factory=list)
    attribution: Attribution = Field(default_factory=Attribution)
    personalization: Personalization = Field(default_factory=Personalization)
    overlap_warning_threshold: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)] = 0.3
    min_audience_size: Annotated[int, Field(strict=True, ge=1)] = 100
    output: Output = Field(default_factory=Output)
    events: EventList = Field(default_factory=list)
    media: MediaSection = Field(default_factory=MediaSection)

    _source: Path | None = PrivateAttr(default=None)
    _comparison_from_data: bool = PrivateAttr(default=False)

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
        raise_problems(cross_section_problems(self.season, self.comparison_seasons, self.budget, self.channels,
                                              self.events, self.countries) + media_problems(self.media, self.channels))
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
        """Season ``(start, end)``: UTC instants of local midnight (:attr:`timezone`) starting each day;
        both days are included. To filter timestamps use :attr:`window_half_open`."""
        return local_midnight(self.season.start, self.timezone), local_midnight(self.season.end, self.timezone)

    @property
    def window_half_open(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Season as ``[start, end + 1 day)`` UTC instants, local midnight to local midnight in
        :attr:`timezone`, for filtering event timestamps (issue 16 item 5)."""
        return (local_midnight(self.season.start, self.timezone),
                local_midnight(self.season.end + dt.timedelta(days=1), self.timezone))

    @property
    def comparison_automatic(self) -> bool:
        """Whether ``comparison_seasons`` was left out (chosen from the data when a step starts)."""
        return "comparison_seasons" not in self.model_fields_set

    @property
    def comparison_from_data(self) -> bool:
        """Whether ``comparison_seasons`` holds seasons chosen from the data (by
        :meth:`with_comparison_from_data`) rather than the file's own."""
        return self._comparison_from_data

    def with_comparison_from_data(self, seasons: list[ComparisonSeason]) -> CampaignConfig:
        """A copy holding ``seasons`` as its comparison seasons, marked as chosen from the data."""
        out = self.model_copy(update={"comparison_seasons": seasons})
        out._comparison_from_data = True
        return out

    @property
    def targets_set(self) -> bool:
        """Whether the file sets ``targets`` (otherwise the target is the forecast itself)."""
        return "targets" in self.model_fields_set

    def absent_sections(self) -> list[tuple[str, str]]:
        """Optional sections left out or empty, each with what that turns off (in file order).

        Returns
        -------
        list of (str, str)
            ``(section, sentence)`` from :data:`OPTIONAL_SECTIONS`; ``comparison_seasons`` appears
            as ``automatic`` when left out and as ``none`` when given as ``[]``.
        """
        absent = {
            "data.source": self.data.source is None,
            "comparison_seasons": self.comparison_automatic,
            "comparison_seasons: []": not self.comparison_automatic and not self.comparison_seasons,
            "channels": not self.channels,
            "budget": self.budget is None,
            "targets": not self.targets_set,
            "segments": not self.segments,
            "experiments": not self.experiments,
            "personalization": (self.personalization.content_matrix is None
                                and self.personalization.flows is None),
            "events": not self.events,
        }
        return [(key.split(":")[0], OPTIONAL_SECTIONS[key]) for key, off in absent.items() if off]

    @property
    def budget_bounds(self) -> tuple[float, float]:
        """Sum of the channels' ``(min_budget, max_budget)`` in the campaign currency."""
        return (sum(c.min_budget for c in self.channels.values()),
                sum(c.max_budget for c in self.channels.values()))
