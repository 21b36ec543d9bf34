"""Channel response curves: one class for the plan and the retrospective, and the plan's legacy fit.

The curve
---------
A :class:`ResponseCurve` gives a channel's expected incremental revenue **per day** (currency
per day) as a function of its spend **per day** (currency per day)::

    response(s) = ceiling * (1 - exp(-s / (scale * (1 - theta)))) + slope * s

* ``ceiling`` (currency per day): the most revenue per day the saturating part can add;
* ``scale`` (currency per day, of adstocked spend): the spend at which 63 % of it is reached.
  The exponential saturation is the Hill curve's concave special case without an S-shape;
* ``theta`` (``0 <= theta < 1``): optional geometric adstock ``a_t = s_t + theta * a_{t-1}``
  (Jin et al. 2017). A steady spend ``s`` carries over to ``a = s / (1 - theta)``, hence the
  steady-state scale ``scale * (1 - theta)`` above; :meth:`ResponseCurve.response_over_time`
  applies the carry-over day by day instead. ``theta = 0`` is no carry-over;
* ``slope`` (revenue per unit of spend): a linear, constant-ROAS part (0 for fitted curves).

The curve is concave in spend, which is what :mod:`playbook.media.allocation` relies on.

The curves come from the media model
------------------------------------
Plan and retrospective take their curves from one media model of daily sales with intervals
(:mod:`playbook.media.mmm`, :meth:`playbook.media.mmm.MediaModel.curves` and ``.draws``).
:class:`CurveFit` holds a set of curves for the charts and the single-curve
:func:`playbook.media.budget.budget_plan`.

Reference: https://developers.google.com/meridian/docs/basics/about-the-project
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

#: What a curve is: fitted (saturating), constant ROAS (linear), or nothing.
CURVE_KINDS: tuple[str, ...] = ("saturating", "linear", "none")


# --------------------------------------------------------------------------------------------
# The curve
# --------------------------------------------------------------------------------------------
def saturation(spend: npt.ArrayLike, ceiling: float, scale: float) -> np.ndarray:
    """Exponential saturation ``ceiling * (1 - exp(-spend / scale))`` (units of ``ceiling``)."""
    s = np.asarray(spend, dtype=float)
    return ceiling * (1 - np.exp(-s / scale))


def adstock(spend: npt.ArrayLike, theta: float) -> np.ndarray:
    """Geometric adstock ``a_t = s_t + theta * a_{t-1}`` along axis 0 (days), ``a_{-1} = 0``."""
    s = np.asarray(spend, dtype=float)
    if theta == 0:
        return s.copy()
    out = np.empty_like(s)
    acc: np.ndarray | float = np.zeros(s.shape[1:]) if s.ndim > 1 else 0.0
    for t in range(len(s)):
        acc = s[t] + theta * acc
        out[t] = acc
    return out


@dataclass(frozen=True)
class ResponseCurve:
    """Expected incremental revenue per day of one channel against its spend per day.

    ``response(s) = ceiling * (1 - exp(-s / (scale * (1 - theta)))) + slope * s`` (module
    docstring). Spend in, revenue out, both in currency per day.

    Attributes
    ----------
    channel : str
    ceiling : float
        Revenue per day the saturating part approaches (currency per day); 0 for none.
    scale : float
        Spend per day (adstocked) at which 63 % of ``ceiling`` is reached (currency per day, > 0).
    slope : float
        Revenue per unit of spend of the linear part (0 for saturating curves).
    theta : float
        Adstock decay in ``[0, 1)``; 0 is no carry-over.
    kind : {"saturating", "linear", "none"}
        ``"saturating"``: fitted; ``"linear"``: constant ROAS; ``"none"``: no spend, zero curve.
    mean_spend : float
        Mean daily spend over the days fitted (currency per day; days without spend count as 0).
    days : int
        Days with spend in the data fitted.
    """

    channel: str
    ceiling: float = 0.0
    scale: float = 1.0
    slope: float = 0.0
    theta: float = 0.0
    kind: str = "saturating"
    mean_spend: float = 0.0
    days: int = 0

    def __post_init__(self) -> None:
        if self.kind not in CURVE_KINDS:
            raise ValueError(f"Unknown curve kind {self.kind!r}. Choose from {list(CURVE_KINDS)}")
        if not self.scale > 0:
            raise ValueError(f"{self.channel}: the curve's scale must be positive, got {self.scale}")
        if not 0 <= self.theta < 1:
            raise ValueError(f"{self.channel}: the adstock decay theta must lie in [0, 1), got {self.theta}")

    @property
    def scale_eff(self) -> float:
        """Steady-state scale ``scale * (1 - theta)`` (currency per day of raw spend)."""
        return self.scale * (1 - self.theta)

    @property
    def responds(self) -> bool:
        """Whether more spend earns anything (False for a zero curve)."""
        return self.ceiling > 0 or self.slope > 0

    def response(self, spend: npt.ArrayLike) -> np.ndarray:
        """Incremental revenue per day (currency) of a steady daily spend ``spend`` (currency)."""
        s = np.asarray(spend, dtype=float)
        return saturation(s, self.ceiling, self.scale_eff) + self.slope * s

    def marginal(self, spend: npt.ArrayLike) -> np.ndarray:
        """Revenue of one more currency unit of daily spend at daily spend ``spend``."""
        s = np.asarray(spend, dtype=float)
        return self.ceiling / self.scale_eff * np.exp(-s / self.scale_eff) + self.slope

    def response_over_time(self, spend: npt.ArrayLike) -> np.ndarray:
        """Revenue per day of a spend series (axis 0: days), with the adstock carried day by day."""
        s = np.asarray(spend, dtype=float)
        return saturation(adstock(s, self.theta), self.ceiling, self.scale) + self.slope * s

    def season_response(self, budget: float, profile: npt.ArrayLike) -> float:
        """Revenue of a season ``budget`` spread over the days by ``profile`` (shares summing to 1)."""
        return float(self.response(budget * np.asarray(profile, dtype=float)).sum())

    def season_marginal(self, budget: float, profile: npt.ArrayLike) -> float:
        """Derivative of :meth:`season_response` in ``budget`` (revenue per extra unit of budget)."""
        p = np.asarray(profile, dtype=float)
        return float((self.marginal(budget * p) * p).sum())


# --------------------------------------------------------------------------------------------
# The plan's fit: daily orders with a demand baseline
# --------------------------------------------------------------------------------------------
@dataclass
class CurveFit:
    """A set of response curves: the media model's MAP curves (:func:`playbook.steps.plan.run_budget`)
    or the result of :func:`fit_order_curves`.

    Attributes
    ----------
    curves : dict
        Channel -> :class:`ResponseCurve` (revenue per day; ``ceiling = aov * beta``).
    missing : list of str
        Channels without spend in the history (no curve).
    theta : float
        Adstock decay chosen.
    aov : float
        Average order value used to turn orders into revenue.
    loss : float
        Weighted sum of squares of the fit (NaN when nothing was fitted).
    """

    curves: dict[str, ResponseCurve]
    missing: list[str]
    theta: float
    aov: float
    loss: float

    def table(self, spend: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per channel: ``ceiling_per_day``, ``scale_per_day``, ``theta`` and, given the spend
        history (``day, channel, spend``), ``mean_daily_spend`` (over the days with spend rows),
        ``roas`` (incremental revenue / spend over the history) and ``marginal_roas`` at the mean
        daily spend."""
        rows = []
        for ch, c in self.curves.items():
            row: dict[str, Any] = {"channel": ch, "ceiling_per_day": c.ceiling, "scale_per_day": c.scale,
                                   "theta": c.theta}
            if spend is not None:
                s = spend[spend["channel"] == ch]["spend"].to_numpy(float)
                mean = float(s.mean()) if len(s) else 0.0
                row["mean_daily_spend"] = mean
                row["roas"] = float(c.response(s).sum() / s.sum()) if s.sum() > 0 else float("nan")
                row["marginal_roas"] = float(c.marginal(mean))
            rows.append(row)
        return pd.DataFrame(rows)
