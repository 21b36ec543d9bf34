"""The optional ``media`` section of the campaign file: lift results that calibrate the media model.

A shop often has results of lift studies run outside the playbook (a platform's conversion lift
study, a geo experiment, an agency's holdout). Given here, each enters the media model
(:func:`playbook.media.mmm.fit_media_model`) as a pseudo-observation of that channel's
incremental revenue over the study's days, exactly like the campaign's own holdouts: in the
plan's fit when the study's window lies before the planning cutoff, and in the retrospective's
fit (up to the season's end) otherwise. The report shows each calibrated channel's estimate
before and after (:meth:`playbook.media.mmm.MediaModel.calibration`). This is how the anchors
calibrate: Meridian's ROI priors from experiments, Robyn's ``calibration_input`` (``channel``,
``liftStartDate``, ``liftEndDate``, ``liftAbs``, ``spend``, ``confidence``), PyMC-Marketing's
``add_lift_test_measurements``.

Schema (``media.lifts``, a list; one entry per study and channel)::

    media:
      lifts:
        - channel: paid_social            # a configured channel
          start: 2025-10-01               # first and last day of the study (both included)
          end: 2025-10-21
          incremental_revenue: 42000      # incremental revenue over the window (currency), or
          # iroas: 2.1                    #   incremental revenue per unit of spend, with
          # spend: 20000                  #   the spend the study measured it on (currency)
          interval: [30000, 54000]        # the study's interval, in the unit of the estimate
          level: 0.9                      # its confidence level (default 0.9)
          source: Meta conversion lift study

The estimate must be for the whole population the media model sees (the campaign's countries, all
customers); a study on a subset must be scaled up first. The interval gives the standard error
``(high - low) / (2 z)`` with ``z`` the normal quantile of the level (a symmetric interval is
assumed; an asymmetric one is read by its width).

References: https://developers.google.com/meridian/docs/basics/roi-priors-and-calibration,
https://facebookexperimental.github.io/Robyn/docs/calibration/,
https://www.pymc-marketing.io/en/stable/notebooks/mmm/mmm_lift_test.html
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from playbook.config.checks import ChannelName, Date, Problem, Text, raise_problems

__all__ = ["LiftResult", "MediaSection", "media_problems"]

_Money = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Positive = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]


class LiftResult(BaseModel):
    """One lift study's incremental revenue of one channel over a date window (module docstring).

    Give either ``incremental_revenue`` (currency over the window) or ``iroas`` with ``spend``
    (incremental revenue per unit of the ``spend`` the study measured); ``interval`` is the study's
    interval in the same unit at ``level``.
    """

    model_config = ConfigDict(extra="forbid")

    channel: ChannelName
    start: Date
    end: Date
    incremental_revenue: _Money | None = None
    iroas: _Money | None = None
    spend: _Positive | None = None
    interval: Annotated[list[_Money], Field(min_length=2, max_length=2)]
    level: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, lt=1)] = 0.9
    source: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> LiftResult:
        raise_problems(self._problems())
        return self

    def _problems(self) -> list[Problem]:
        problems: list[Problem] = []
        if self.end < self.start:
            problems.append((("end",), f"{self.end} is before start {self.start}; the study's window must end on "
                                       "or after the day it starts"))
        given = [k for k in ("incremental_revenue", "iroas") if getattr(self, k) is not None]
        if len(given) != 1:
            problems.append(((), ("gives both incremental_revenue and iroas" if given else
                                  "gives no estimate") + "; give exactly one: incremental_revenue (currency over "
                                 "the window) or iroas with spend (incremental revenue per unit of that spend)"))
        if self.iroas is not None and self.spend is None:
            problems.append((("spend",), "is missing: iroas needs the spend the study measured it on (currency over "
                                         "the window), e.g. spend: 20000"))
        if self.spend is not None and self.iroas is None:
            problems.append((("spend",), "is only used with iroas; remove it, or give iroas instead of "
                                         "incremental_revenue"))
        lo, hi = self.interval
        if not lo < hi:
            problems.append((("interval",), f"[{lo:g}, {hi:g}] is not an interval: write [low, high] with low below "
                                            "high (the study's confidence interval of the estimate)"))
        elif len(given) == 1 and not lo <= float(getattr(self, given[0])) <= hi:
            problems.append((("interval",), f"[{lo:g}, {hi:g}] does not contain the estimate "
                                            f"{given[0]} {getattr(self, given[0]):g}; give the interval of that "
                                            "estimate, in the same unit"))
        return problems

    @property
    def revenue(self) -> float:
        """Incremental revenue over the window (currency): ``incremental_revenue``, or ``iroas x spend``."""
        if self.incremental_revenue is not None:
            return float(self.incremental_revenue)
        return float(self.iroas or 0.0) * float(self.spend or 0.0)

    @property
    def se(self) -> float:
        """Standard error of :attr:`revenue` (currency): interval width / (2 z), z at :attr:`level`."""
        z = NormalDist().inv_cdf((1 + self.level) / 2)
        scale = 1.0 if self.incremental_revenue is not None else float(self.spend or 0.0)
        return (self.interval[1] - self.interval[0]) * scale / (2 * z)

    @property
    def label(self) -> str:
        """``source`` or, without it, ``"lift study <channel> <start> to <end>"``."""
        return self.source or f"lift study {self.channel} {self.start} to {self.end}"


class MediaSection(BaseModel):
    """The ``media`` section: ``lifts`` (:class:`LiftResult`), empty by default."""

    model_config = ConfigDict(extra="forbid")

    lifts: list[LiftResult] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _empty_lifts(cls, data: Any) -> Any:
        if isinstance(data, dict) and "lifts" in data and data["lifts"] is None:
            return {k: v for k, v in data.items() if k != "lifts"}
        return data


def media_problems(media: MediaSection, channels: dict[str, Any]) -> list[Problem]:
    """Lifts naming a channel the campaign does not configure (when it configures any), at
    ``media.lifts[i].channel``; one study given twice for one channel and window."""
    problems: list[Problem] = []
    seen: dict[tuple[str, Any, Any], int] = {}
    for i, lf in enumerate(media.lifts):
        if channels and lf.channel not in channels:
            problems.append((("media", "lifts", i, "channel"), f"{lf.channel!r} is not a configured channel "
                             f"(channels: {', '.join(channels)}); the media model fits only those, so add "
                             f"channels.{lf.channel} or correct the name"))
        key = (lf.channel, lf.start, lf.end)
        if key in seen:
            problems.append((("media", "lifts", i), f"repeats the window of media.lifts[{seen[key]}] for "
                             f"{lf.channel} ({lf.start} to {lf.end}); give each study once (the fit would count "
                             "it twice)"))
        seen.setdefault(key, i)
    return problems
