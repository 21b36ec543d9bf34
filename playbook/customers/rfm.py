"""RFM segmentation: quintile scores for recency, frequency and monetary value, the eleven named
segments of the R x FM grid, the per-segment summary and the season-to-season migration matrix.

Inputs are the Customer 360 features of :mod:`playbook.customers.features` (``orders_total``,
``monetary_total``, ``days_since_last_order``, ``erased``); people who asked for erasure are left
out (:func:`playbook.customers.features.live`). The segment step (``notebooks/02_segment.ipynb``,
:mod:`playbook.steps.segment`) shows the results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from playbook.customers.features import live

#: Label of customers who have not bought yet (instead of a missing RFM segment).
NO_PURCHASE = "No purchase yet"
#: Label of people who had not signed up at an earlier as-of date (migration matrix).
NOT_YET = "Not yet signed up"

#: The 11 named RFM segments on the grid (R score, FM score) -> name, FM = round((F + M) / 2)
#: half up. This is the R x F segment map common in RFM practice (Champions = recent and
#: frequent ... Lost = lowest on both), with "Lost" split off the bottom-left cell of
#: "Hibernating" so all 11 standard names exist:
#:
#: ====  ==============  ===================  ===================  ==========  ==========
#: R\FM  1               2                    3                    4           5
#: ====  ==============  ===================  ===================  ==========  ==========
#: 5     New             Potential Loyalists  Potential Loyalists  Champions   Champions
#: 4     Promising       Potential Loyalists  Potential Loyalists  Loyal       Loyal
#: 3     About to Sleep  About to Sleep       Need Attention       Loyal       Loyal
#: 2     Hibernating     Hibernating          At Risk              At Risk     Can't Lose
#: 1     Lost            Hibernating          At Risk              At Risk     Can't Lose
#: ====  ==============  ===================  ===================  ==========  ==========
RFM_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal", "Loyal"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose"),
    1: ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose"),
}
RFM_SEGMENTS: tuple[str, ...] = ("Champions", "Loyal", "Potential Loyalists", "New", "Promising",
                                 "Need Attention", "About to Sleep", "At Risk", "Can't Lose",
                                 "Hibernating", "Lost")


def quintile_score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1-5 by quintile of rank; tied values share the score where their tie block starts.

    ``score = 1 + floor(5 * (rank_min - 1) / n)`` with ``rank_min`` the minimum rank of the tie
    block (ascending in "goodness"). With many ties (e.g. 60 % one-time buyers) scores can skip:
    all one-time buyers get F = 1 instead of being split arbitrarily.
    """
    n = len(values)
    if n == 0:
        return pd.Series(dtype="int64", index=values.index)
    x = values.astype("float64") if higher_is_better else -values.astype("float64")
    r = x.rank(method="min")
    return (1 + np.floor(5 * (r - 1) / n)).astype("int64").clip(1, 5)


def rfm_scores(feats: pd.DataFrame) -> pd.DataFrame:
    """RFM quintile scores and named segments for the analysis base.

    Recency = days since last sale (lower is better), frequency = sale orders, monetary = net
    revenue, each scored 1-5 among buyers (:func:`quintile_score`); FM = round((F + M) / 2) half
    up; the segment comes from :data:`RFM_GRID`. Customers without a purchase get segment
    :data:`NO_PURCHASE` and scores 0 (never NaN).

    Returns
    -------
    pandas.DataFrame
        Index as ``feats`` (erased removed): ``rfm_r``, ``rfm_f``, ``rfm_m``, ``rfm_fm``,
        ``rfm_score`` (R + F + M, 3-15; 0 without purchase), ``rfm_cell`` (e.g. ``"R5F4M3"``),
        ``rfm_segment``.
    """
    f = live(feats)
    out = pd.DataFrame(0, index=f.index, columns=["rfm_r", "rfm_f", "rfm_m", "rfm_fm", "rfm_score"], dtype="int64")
    buyers = f["orders_total"] > 0
    b = f[buyers]
    if len(b):
        out.loc[buyers, "rfm_r"] = quintile_score(b["days_since_last_order"], higher_is_better=False)
        out.loc[buyers, "rfm_f"] = quintile_score(b["orders_total"])
        out.loc[buyers, "rfm_m"] = quintile_score(b["monetary_total"])
    out["rfm_fm"] = np.where(buyers, np.floor((out["rfm_f"] + out["rfm_m"]) / 2 + 0.5), 0).astype("int64")
    out["rfm_score"] = np.where(buyers, out["rfm_r"] + out["rfm_f"] + out["rfm_m"], 0).astype("int64")
    out["rfm_cell"] = np.where(buyers, "R" + out["rfm_r"].astype(str) + "F" + out["rfm_f"].astype(str)
                               + "M" + out["rfm_m"].astype(str), "-")
    out["rfm_segment"] = [RFM_GRID[r][fm - 1] if ok else NO_PURCHASE
                          for r, fm, ok in zip(out["rfm_r"], out["rfm_fm"], buyers, strict=True)]
    return out


def rfm_summary(rfm: pd.DataFrame, feats: pd.DataFrame) -> pd.DataFrame:
    """Per RFM segment: customers, share, net revenue, revenue share and typical R/F/M values.

    Every named segment is listed (0 when empty) in :data:`RFM_SEGMENTS` order, then
    :data:`NO_PURCHASE`. Revenue is whole-history net revenue before the cutoff (currency units).
    """
    f = live(feats).join(rfm[["rfm_segment"]])
    g = f.groupby("rfm_segment")
    out = pd.DataFrame({"customers": g.size(), "revenue": g["monetary_total"].sum(),
                        "median_days_since_last_order": g["days_since_last_order"].median(),
                        "median_orders": g["orders_total"].median(),
                        "median_revenue": g["monetary_total"].median()})
    out = out.reindex([*RFM_SEGMENTS, NO_PURCHASE])
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    n, rev = out["customers"].sum(), out["revenue"].clip(lower=0).sum()
    out.insert(1, "share", out["customers"] / n if n else 0.0)
    out.insert(3, "revenue_share", out["revenue"].clip(lower=0) / rev if rev > 0 else 0.0)
    out.index.name = "segment"
    return out


def migration_matrix(before: pd.Series, now: pd.Series) -> pd.DataFrame:
    """Customers moving between RFM segments: counts of (segment before, segment now).

    Parameters
    ----------
    before : Series
        ``rfm_segment`` per customer at the earlier as-of date (:func:`rfm_scores` of the inputs
        then); customers missing from it had not signed up and count as :data:`NOT_YET`.
    now : Series
        ``rfm_segment`` per customer now; only these customers are counted (people erased since
        are left out).

    Returns
    -------
    pandas.DataFrame
        Rows: :data:`RFM_SEGMENTS`, :data:`NO_PURCHASE` and :data:`NOT_YET` (``"last season"``);
        columns: :data:`RFM_SEGMENTS` and :data:`NO_PURCHASE` (``"this season"``); every cell
        present (0 when empty).
    """
    prior = before.reindex(now.index).fillna(NOT_YET)
    order = [*RFM_SEGMENTS, NO_PURCHASE]
    m = pd.crosstab(prior, now).reindex(index=[*order, NOT_YET], columns=order, fill_value=0)
    m.index.name, m.columns.name = "last season", "this season"
    return m
