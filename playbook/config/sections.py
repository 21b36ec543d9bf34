"""What concerns whole sections of the campaign file: the checks across sections, and what each
optional section turns off when the file leaves it out (printed by ``playbook check-config``).

Kept apart from :mod:`playbook.config.campaign` (the models) so that module stays short; the
models are imported for type hints only, except :class:`Event` (the optional ``events`` section),
which lives here for the same reason.

``events``: the shop's own named date ranges (promotions, campaign days), each ``{name, start,
end, countries}`` (both days inclusive; ``countries`` optional, a subset of the campaign's, absent
= all). The forecast gives each a window feature
(:func:`playbook.forecasting.calendar.event_features` with ``events=cfg.events``). Entries
sharing a name are occurrences of one recurring event (one feature, so last year's sale teaches
this year's forecast) and must not overlap; names differing only in case or punctuation are
refused. Example::

    events:
      - {name: Spring sale, start: 2025-03-10, end: 2025-03-16, countries: [US]}

:func:`setup_problems` checks what a valid file may still get wrong about the world outside it
(``playbook check-config`` refuses the file; issue 19, item 14): a ``data.source`` folder or
file that does not exist, and rule fields that name no column of the segment step's rule table
(at run time such a segment is not built; the step reports it and builds the others).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from playbook.config.checks import (
    Country,
    Date,
    Problem,
    Text,
    raise_problems,
    rule_field_problem,
    suggest,
)
from playbook.paths import project_root, resolve

if TYPE_CHECKING:
    from playbook.config.campaign import (
        Budget,
        CampaignConfig,
        ChannelBudget,
        ComparisonSeason,
        Season,
    )

__all__ = ["OPTIONAL_SECTIONS", "Event", "EventList", "cross_section_problems", "event_key", "event_list_problems",
           "event_problems", "setup_problems"]

#: What each optional section turns off when the campaign file leaves it out (or empty), in the
#: words ``playbook check-config`` prints after the section name. ``"comparison_seasons: []"`` is
#: the explicit empty list; plain ``"comparison_seasons"`` the key left out (automatic).
OPTIONAL_SECTIONS: dict[str, str] = {
    "data.source": ("not set — the bundled synthetic sample (data/sample) is used, not your shop's data; "
                    "set data.source to your data folder or connection URL"),
    "comparison_seasons": ("automatic — each step compares with the same window 1 to 3 years earlier, "
                           "for every year the order data covers in full (none if it covers none)"),
    "comparison_seasons: []": ("none — nothing is compared with past seasons: no season-over-season "
                               "growth, targets are not judged against last season, and the methods that "
                               "learn from a past season (seasonal buyers, purchase propensity) are skipped"),
    "channels": "none — the plan fits no response curves and splits no budget",
    "budget": ("not set — the plan shows the forecast (and the listed channels' response curves, if "
               "any) but splits no budget and paces no spend"),
    "targets": ("not set — the target is the forecast itself (0 % uplift) and there is no new-customer "
                "target"),
    "segments": "none — step 02 builds RFM segments and clusters only, no rule segments",
    "experiments": "none — step 04 is skipped (nothing to size or analyse)",
    "personalization": "not set — the built-in content matrix and trigger flows are used",
    "events": ("none — the forecast knows the calendar's retail events and public holidays only, not "
               "your own promotions or campaign days (list them under events:; used as features by the plan's "
               "campaign forecast and by playbook.forecast.forecast_series)"),
}


class Event(BaseModel):
    """A user event of the ``events`` section: a named date range (both days inclusive),
    optionally for some of the campaign's countries only (module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    start: Date
    end: Date
    countries: list[Country] | None = None

    @model_validator(mode="after")
    def _check_order(self) -> Event:
        if self.end < self.start:
            raise_problems([(("end",), f"{self.end} is before start {self.start}; an event must end on "
                             "or after the day it starts")])
        return self


def event_key(name: str) -> str:
    """Forecast feature column of a user event: ``"Spring sale!"`` -> ``"user_spring_sale"``."""
    return "user_" + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def event_problems(events: Sequence[tuple[str, dt.date, dt.date]]) -> list[tuple[int, str]]:
    """Problems between user events ``(name, start, end)``: names that differ only in case or
    punctuation (they would share one feature column, :func:`event_key`), and overlapping
    occurrences of one recurring event. Returns ``(index, message)`` pairs. Also used for events
    given through the API (:func:`playbook.forecasting.calendar_rules.parse_events`)."""
    by_key: dict[str, list[tuple[int, tuple[str, dt.date, dt.date]]]] = {}
    for i, ev in enumerate(events):
        by_key.setdefault(event_key(ev[0]), []).append((i, ev))
    problems: list[tuple[int, str]] = []
    for group in by_key.values():
        first_i, (first, _, _) = group[0]
        problems += [(i, f"name {name!r} differs from {first!r} (events[{first_i}]) only in case or punctuation; "
                         "use one spelling for one recurring event, or a distinct name")
                     for i, (name, _, _) in group[1:] if name != first]
        ordered = sorted(group, key=lambda t: t[1][1])
        for (i, (_, a0, a1)), (j, (name, b0, b1)) in zip(ordered, ordered[1:], strict=False):
            if b0 <= a1:
                problems.append((j, f"{name!r} {b0}..{b1} overlaps events[{i}] {a0}..{a1}; entries with one "
                                    "name are occurrences of one recurring event and must not overlap (merge "
                                    "them or rename one)"))
    return problems


def event_list_problems(events: list[Event]) -> list[Problem]:
    """:func:`event_problems` of the ``events`` section, at ``[i].name``."""
    return [((i, "name"), msg) for i, msg in event_problems([(e.name.strip(), e.start, e.end) for e in events])]


def _events_apart(events: list[Event]) -> list[Event]:
    raise_problems(event_list_problems(events))
    return events


#: Type of the ``events`` section: a list of :class:`Event`, checked between entries.
EventList = Annotated[list[Event], AfterValidator(_events_apart)]


def cross_section_problems(
    season: Season | None,
    comparison: list[ComparisonSeason] | None,
    budget: Budget | None,
    channels: dict[str, ChannelBudget] | None,
    events: list[Event] | None = None,
    countries: list[str] | None = None,
) -> list[Problem]:
    """Checks across sections, on whichever sections are valid (``None`` = invalid, skipped;
    ``budget`` is also ``None`` when absent, ``channels`` is ``{}`` when absent)."""
    problems: list[Problem] = []
    for i, ev in enumerate(events or []):
        other = sorted(set(ev.countries or ()) - set(countries or ())) if countries is not None else []
        if other:
            problems.append((("events", i, "countries"), f"{', '.join(other)} not in the campaign's "
                             f"countries {countries}; list only campaign countries, or add them there"))
    if season is not None and comparison is not None:
        for i, past in enumerate(comparison):
            if past.end >= season.start:
                problems.append((("comparison_seasons", i, "end"), f"{past.end} is not before "
                                 f"season.start {season.start}; comparison seasons must be in "
                                 "the past"))
    if budget is not None and channels is not None and not channels:
        problems.append((("budget",), f"total {budget.total:,.0f} is set but no channels are listed: "
                         "the plan splits the budget across channels, so add a channels section with "
                         "bounds per paid channel (e.g. channels: {paid_search: {min_budget: 0, "
                         "max_budget: 20000}}) or remove budget"))
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
    if budget is not None:
        problems += budget_problems(budget, channels)
    return problems


def budget_problems(budget: Budget, channels: dict[str, ChannelBudget] | None) -> list[Problem]:
    """``budget.objective`` (``mean`` or ``pNN`` with ``0 < NN <= 50``, as
    :func:`playbook.media.allocation_draws.parse_objective` reads it) and ``budget.fixed`` (configured
    channels, within their bounds, together at most the total)."""
    problems: list[Problem] = []
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", budget.objective)
    if budget.objective != "mean" and not (m and 0 < float(m.group(1)) <= 50):
        problems.append((("budget", "objective"), f"{budget.objective!r} is not an objective: use 'mean' (maximise "
                         "the expected return) or 'pNN' with NN in (0, 50], e.g. 'p10' (maximise the 10th "
                         "percentile of the return across the model's draws)"))
    for ch, v in budget.fixed.items():
        if channels is not None and ch not in channels:
            problems.append((("budget", "fixed", ch), f"{ch!r} is not a configured channel "
                             f"({', '.join(channels) or 'none'}); add channels.{ch} or drop the fixed budget"))
        elif channels and not channels[ch].min_budget <= v <= channels[ch].max_budget:
            problems.append((("budget", "fixed", ch), f"{v:,.0f} is outside channels.{ch}'s bounds "
                             f"({channels[ch].min_budget:,.0f} to {channels[ch].max_budget:,.0f}); fix one of them"))
    if sum(budget.fixed.values()) > budget.total:
        problems.append((("budget", "fixed"), f"the fixed budgets sum to {sum(budget.fixed.values()):,.0f}, above "
                         f"budget.total {budget.total:,.0f}; lower them or raise the total"))
    return problems


def data_source_problem(source: str | None) -> str | None:
    """Why ``data.source`` names a local folder or file that does not exist (relative paths are read
    from the project root, as :meth:`playbook.data.source.DataSource.parse` does), or None. Connection
    URLs and the bundled sample (``None``) are not checked here: ``playbook validate-data`` connects."""
    if source is None or "://" in source or not source.strip():
        return None
    path = resolve(source)
    if path.exists():
        return None
    near = suggest(path.name, [p.name for p in path.parent.iterdir()]) if path.parent.is_dir() else ""
    return (f"{source!r} does not exist ({path}; relative paths are read from the project root "
            f"{project_root()}){near}. Fix the path, or create it: `playbook init-data {source}` writes empty "
            f"table templates, `playbook import PLATFORM FILES --out {source}` converts a shop's exports")


def setup_problems(cfg: CampaignConfig) -> list[str]:
    """What a valid campaign file gets wrong outside itself, one line each (``location: message``):
    a missing ``data.source`` (:func:`data_source_problem`) and rule fields naming no column of the
    rule table (:func:`playbook.config.checks.rule_field_problem`)."""
    problems: list[str] = []
    missing = data_source_problem(cfg.data.source)
    if missing:
        problems.append(f"data.source: {missing}")
    for i, seg in enumerate(cfg.segments):
        for j, rule in enumerate(seg.rules):
            msg = rule_field_problem(rule.field, rule.window_days)
            if msg:
                problems.append(f"segments[{i}].rules[{j}].field (segment {seg.name!r}): {msg}")
    return problems
