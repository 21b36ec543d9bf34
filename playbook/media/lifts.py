"""Lift results from the campaign file as calibration of the media model, and which ones a fit can use.

The campaign file's ``media.lifts`` (:class:`playbook.config.media.LiftResult`: a channel's
incremental revenue over a date window, with its interval) become :class:`playbook.media.mmm.Lift`
pseudo-observations (:func:`config_lifts`), next to the campaign's own holdouts
(:func:`playbook.media.efficiency.season_lifts`). A lift compares the model's contribution of the
channel over the *whole* window with the study's figure, so a fit uses only lifts whose window lies
wholly inside its history and whose channel has spend there (:func:`usable_lifts`; Robyn likewise
keeps only studies inside the modelling window); the plan (history up to the planning cutoff) and
the retrospective (up to the season's end) each say which lifts they left out and why.

References: https://facebookexperimental.github.io/Robyn/docs/calibration/,
https://rdrr.io/cran/Robyn/src/R/calibration.R,
https://developers.google.com/meridian/docs/basics/roi-priors-and-calibration
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from playbook.config.media import LiftResult
from playbook.media.mmm import Lift

__all__ = ["config_lifts", "lift_note", "usable_lifts"]


def config_lifts(results: Iterable[LiftResult]) -> list[Lift]:
    """The campaign file's lift results as :class:`playbook.media.mmm.Lift` (revenue, ``kind="lift study"``).

    Each keeps its window, its incremental revenue (``incremental_revenue``, or ``iroas x spend``)
    and the standard error its interval implies (:attr:`playbook.config.media.LiftResult.se`).
    """
    return [Lift(r.channel, r.start, r.end, r.revenue, r.se, "revenue", r.label, "lift study") for r in results]


def lift_note(lf: Lift, why: str) -> str:
    """``The lift study "Meta study" (paid social, 2025-10-01 to 2025-10-21) <why>.``"""
    return (f"The {lf.kind} \"{lf.source or lf.channel}\" ({lf.channel.replace('_', ' ')}, "
            f"{pd.Timestamp(lf.start).date()} to {pd.Timestamp(lf.end).date()}) {why}.")


def usable_lifts(lifts: Sequence[Lift], first: Any, last: Any, channels: Sequence[str],
                 history: str = "the model's history") -> tuple[list[Lift], list[str]]:
    """The lifts a fit on days ``first`` to ``last`` with spend on ``channels`` can use, and a note per other.

    Parameters
    ----------
    lifts : sequence of Lift
    first, last : date-like
        First and last day of the fit's history (inclusive).
    channels : sequence of str
        Channels with spend in that history (the ones the model fits).
    history : str
        How the notes name the history (e.g. ``"the plan's history (up to the planning cutoff
        2025-10-15)"``).

    Returns
    -------
    (list of Lift, list of str)
        The usable lifts (window wholly inside, channel fitted) and one sentence per lift left out.
    """
    a, b = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    span = f"{history}, {a.date()} to {b.date()}"
    keep: list[Lift] = []
    notes: list[str] = []
    for lf in lifts:
        s, e = pd.Timestamp(lf.start), pd.Timestamp(lf.end)
        if lf.channel not in channels:
            notes.append(lift_note(lf, f"is not used: {lf.channel.replace('_', ' ')} has no spend in {span}"))
        elif s < a or e > b:
            where = "ends after" if e > b and s <= b else "lies outside" if e < a or s > b else "starts before"
            notes.append(lift_note(lf, f"is not used in this fit: its window {where} {span} (a lift is compared "
                                       "with the model's contribution over its whole window)"))
        else:
            keep.append(lf)
    return keep, notes
