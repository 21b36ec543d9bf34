"""What concerns whole sections of the campaign file: the checks across sections, and what each
optional section turns off when the file leaves it out (printed by ``playbook check-config``).

Kept apart from :mod:`playbook.config.campaign` (the models) so that module stays short; the
models are imported for type hints only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook.config.checks import Problem

if TYPE_CHECKING:
    from playbook.config.campaign import Budget, ChannelBudget, ComparisonSeason, Season

__all__ = ["OPTIONAL_SECTIONS", "cross_section_problems"]

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
}


def cross_section_problems(
    season: Season | None,
    comparison: list[ComparisonSeason] | None,
    budget: Budget | None,
    channels: dict[str, ChannelBudget] | None,
) -> list[Problem]:
    """Checks across sections, on whichever sections are valid (``None`` = invalid, skipped;
    ``budget`` is also ``None`` when absent, ``channels`` is ``{}`` when absent)."""
    problems: list[Problem] = []
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
    return problems
