"""The chart theme (one seaborn theme for every figure) and small chart helpers.

:func:`set_theme` is called once per notebook by the step context; :func:`money_formatter` puts
the campaign's currency on an axis; :func:`empty_chart` draws the "nothing to draw" panel.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import Formatter, FuncFormatter

from playbook.report.format import _money_parts, compact_money

FIGSIZE: tuple[float, float] = (10.0, 4.5)
"""Default figure size in inches (width, height)."""

DPI: int = 110
"""Figure resolution in dots per inch: sharp in HTML without bloating embedded PNGs."""


def set_theme() -> None:
    """Set the one seaborn/matplotlib theme used by every chart of the playbook.

    White grid, colour-blind-safe palette, readable font sizes, figure size :data:`FIGSIZE`
    inches at :data:`DPI` dots per inch, no top/right spines. Call it once per notebook
    (``playbook.steps.context.start_step`` does).
    """
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=1.05)
    mpl.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "savefig.bbox": "tight",
            "axes.titlesize": 14,
            "axes.titleweight": "bold",
            "axes.labelsize": 12,
            "xtick.labelsize": 10.5,
            "ytick.labelsize": 10.5,
            "legend.fontsize": 10.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.autolayout": True,
        }
    )
    # Tables in reports: readable numbers (thousands separators, 2 decimals) and no truncated
    # text cells; long tables are shortened by pandas' own row limit.
    pd.set_option("display.float_format", "{:,.2f}".format)
    pd.set_option("display.max_colwidth", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 200)


def empty_chart(ax: Any, message: str) -> None:
    """Turn an empty chart panel into a centred plain-language ``message`` (no axes).

    Used by every plot function when there is nothing to draw (no data, nothing configured), so
    the report shows why instead of a blank frame or an exception.
    """
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def money_formatter(currency: str = "USD") -> FuncFormatter:
    """Return a matplotlib ``FuncFormatter`` labelling an axis as compact money ($1.2M, $350k).

    Examples
    --------
    >>> import matplotlib.pyplot as plt  # doctest: +SKIP
    >>> ax.yaxis.set_major_formatter(money_formatter("USD"))  # doctest: +SKIP
    """
    return FuncFormatter(lambda v, _pos: compact_money(v, currency))


class StepMoneyFormatter(Formatter):
    """Money tick labels with as many decimals as the tick step needs ($1.80M, $1.85M; $950k, $975k).

    One unit (B, M, k or none) for the whole axis, chosen from the largest tick; the number of
    decimals is the smallest that tells neighbouring ticks apart (at most 3). Matplotlib calls
    :meth:`set_locs` with every tick before labelling them.
    """

    def __init__(self, currency: str = "USD") -> None:
        self.prefix, self.suffix = _money_parts(currency)
        self.scale, self.unit, self.decimals = 1.0, "", 0

    def set_locs(self, locs: list[float]) -> None:
        """Choose the unit and decimals for the ticks ``locs`` (currency units)."""
        super().set_locs(locs)
        v = np.sort(np.asarray(locs, dtype=float))
        big = float(np.max(np.abs(v))) if len(v) else 0.0
        self.scale, self.unit = next(((sc, u) for sc, u in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if big >= sc),
                                     (1.0, ""))
        steps = np.diff(v)
        step = float(np.min(steps[steps > 0])) / self.scale if (steps > 0).any() else 1.0
        self.decimals = int(min(3, max(0, np.ceil(-np.log10(step) - 1e-9)))) if step < 1 else 0

    def __call__(self, x: float, pos: int | None = None) -> str:
        """Label of one tick."""
        sign = "-" if x < 0 and round(abs(x) / self.scale, self.decimals) > 0 else ""
        return f"{sign}{self.prefix}{abs(x) / self.scale:,.{self.decimals}f}{self.unit}{self.suffix}"
