"""Small charts of the index's executive summary, as SVG text (one per answer).

Each chart is drawn with matplotlib on its own figure (object API, never pyplot's global state,
so the runner process that builds the index keeps no figures), saved as SVG with text kept as
text (``svg.fonttype: none``: a few kB, sharp at any width) and embedded in the page as a
``data:`` URI image, which cannot run scripts and needs no network. Colours follow the summary's
verdicts (:mod:`playbook.report.executive`).
"""

from __future__ import annotations

import base64
import io
from typing import Any, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.figure import Figure

from playbook.report.charts import StepMoneyFormatter
from playbook.report.format import compact_money

COLOURS = {"win": "#1a7f37", "loss": "#cf222e", "unclear": "#8c959f", "info": "#0969da"}
"""Verdict -> colour (the index's CSS uses the same)."""

SIZE = (4.6, 2.5)
"""Figure size in inches: a third of a 1400 px page, legible when the page shrinks to 400 px."""

_RC: dict[str, Any] = {"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
       "axes.titlesize": 9.5, "axes.titleweight": "bold", "svg.hashsalt": "playbook"}


def _style() -> Any:
    """The summary charts' matplotlib settings as a context (:data:`_RC`)."""
    return mpl.rc_context(cast(Any, _RC))


def _svg(fig: Figure) -> str:
    """The figure as SVG text without metadata (the same inputs give the same bytes)."""
    buf = io.StringIO()
    with _style():
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


def data_uri(svg: str) -> str:
    """An SVG as a base64 ``data:`` URI for an ``<img src>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _figure() -> tuple[Figure, Any]:
    with _style():
        fig = Figure(figsize=SIZE)
        ax = fig.add_subplot()
    return fig, ax


def season_chart(forecast: pd.DataFrame, targets: pd.DataFrame | None, currency: str) -> str | None:
    """Cumulative revenue over the season: the forecast's mean and 80 % band (daily bounds added,
    days fully correlated) and the target's cumulative line. None without a total revenue forecast."""
    f = forecast[(forecast["dimension"] == "total") & (forecast["metric"] == "revenue")].sort_values("day")
    if f.empty:
        return None
    day = pd.to_datetime(f["day"])
    with _style():
        fig, ax = _figure()
        ax.fill_between(day, f["lo80"].cumsum(), f["hi80"].cumsum(), color=COLOURS["info"], alpha=.18,
                        linewidth=0, label="80 % range")
        ax.plot(day, f["mean"].cumsum(), color=COLOURS["info"], label="forecast")
        if isinstance(targets, pd.DataFrame) and {"metric", "channel", "level", "day", "value"} <= set(targets.columns):
            t = targets[(targets["metric"] == "revenue") & (targets["channel"] == "all")
                        & (targets["level"] == "target")].sort_values("day")
            if not t.empty:
                ax.plot(pd.to_datetime(t["day"]), t["value"].cumsum(), color="#1f2328", linestyle="--",
                        label="target")
        ax.yaxis.set_major_formatter(StepMoneyFormatter(currency))
        ax.set_title("Cumulative revenue over the season", loc="left")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(ticker.MaxNLocator(5))
        ax.legend(frameon=False, loc="upper left")
        ax.grid(axis="y", alpha=.3)
        return _svg(fig)


def budget_chart(plan: pd.DataFrame, currency: str) -> str | None:
    """Budget per channel (bars) and, on the right, the return per unit of spend with its 5-95 %
    interval across draws; a line at 1 marks paying back. None without channels."""
    if plan.empty:
        return None
    p = plan.sort_values("budget")
    y = np.arange(len(p))
    with _style():
        fig = Figure(figsize=(SIZE[0], max(1.6, .38 * len(p) + .8)))
        left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.3, 1]})
        left.barh(y, p["budget"], color=COLOURS["info"], alpha=.8)
        left.set_yticks(y, [str(c) for c in p["channel"]])
        left.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: compact_money(v, currency)))
        left.xaxis.set_major_locator(ticker.MaxNLocator(3))
        left.set_title("Budget", loc="left")
        if "roas" in p.columns and p["roas"].notna().any():
            lo = p["roas_low"] if "roas_low" in p.columns else p["roas"]
            hi = p["roas_high"] if "roas_high" in p.columns else p["roas"]
            colour = [COLOURS["win"] if a > 1 else COLOURS["loss"] if b < 1 else COLOURS["unclear"]
                      for a, b in zip(lo.fillna(np.nan), hi.fillna(np.nan), strict=True)]
            err = np.vstack([(p["roas"] - lo).clip(lower=0), (hi - p["roas"]).clip(lower=0)])
            right.errorbar(p["roas"], y, xerr=np.nan_to_num(err), fmt="none", ecolor="#57606a", elinewidth=1.2)
            right.scatter(p["roas"], y, c=colour, zorder=3, s=22)
            right.axvline(1, color="#1f2328", linewidth=.8, linestyle=":")
            right.set_title("Return per unit", loc="left")
        else:
            right.set_axis_off()
        for ax in (left, right):
            ax.grid(axis="x", alpha=.3)
        return _svg(fig)


def tests_chart(tests: pd.DataFrame) -> str | None:
    """Each test's relative lift on its primary metric with its 95 % interval, coloured by verdict."""
    t = tests[tests["rel_lift"].notna()].iloc[::-1]
    if t.empty:
        return None
    y = np.arange(len(t))
    with _style():
        fig = Figure(figsize=(SIZE[0], max(1.4, .4 * len(t) + .8)))
        ax = fig.add_subplot()
        lo = t["rel_lo"].fillna(t["rel_lift"])
        hi = t["rel_hi"].fillna(t["rel_lift"])
        err = np.vstack([(t["rel_lift"] - lo).clip(lower=0), (hi - t["rel_lift"]).clip(lower=0)])
        ax.errorbar(t["rel_lift"], y, xerr=err, fmt="none", ecolor="#57606a", elinewidth=1.2)
        ax.scatter(t["rel_lift"], y, c=[COLOURS.get(c, COLOURS["unclear"]) for c in t["colour"]], zorder=3, s=26)
        ax.axvline(0, color="#1f2328", linewidth=.8, linestyle=":")
        ax.set_yticks(y, [str(i) for i in t["experiment_id"]])
        ax.xaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
        ax.set_title("Lift of each test (95 % interval)", loc="left")
        ax.grid(axis="x", alpha=.3)
        return _svg(fig)


def season_result_chart(retro: dict[str, Any], currency: str) -> str | None:
    """Actual season revenue against forecast and target (bars), from the retrospective's summary."""
    rev = retro.get("revenue") or {}
    items = [(k, rev.get(k)) for k in ("forecast", "target", "actual")]
    items = [(k, float(v)) for k, v in items if v is not None and np.isfinite(float(v))]
    if not items:
        return None
    with _style():
        fig, ax = _figure()
        ax.barh([k for k, _ in items], [v for _, v in items],
                color=[COLOURS["info"] if k != "actual" else "#1f2328" for k, _ in items], alpha=.85)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: compact_money(v, currency)))
        ax.xaxis.set_major_locator(ticker.MaxNLocator(4))
        ax.set_title("Season revenue", loc="left")
        ax.grid(axis="x", alpha=.3)
        return _svg(fig)
