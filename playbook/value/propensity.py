"""Purchase propensity: who buys during the campaign window (XGBoost vs an RFM logistic baseline).

Point in time. Features are computed in the engine *as of a cutoff* (nothing after the cutoff
day enters them: :attr:`Season.as_of` is the end of that day, :func:`playbook.data.cutoff.cutoff_instant`,
the one cutoff definition of every step); the label is "made a sale order in the season window that follows". The
model is trained on an earlier past season and validated on a later past season (e.g. features
as of 2023-10-15 -> bought in Nov-Dec 2023, validated on 2024-10-15 -> Nov-Dec 2024). The
customers scored for the campaign are then scored with a model refitted on the latest past
season (same hyper-parameters), with features as of the campaign's planning cutoff.

Baseline: logistic regression on the three RFM features only (recency, frequency, monetary).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import cast

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from playbook.data.aggregates import exact_sum
from playbook.data.cutoff import campaign_zone, cutoff_instant, planning_cutoff_day
from playbook.data.warehouse import Warehouse, fetch, to_utc
from playbook.errors import DataError
from playbook.report.charts import empty_chart
from playbook.report.privacy import pseudonymize

RFM_FEATURES = ["recency_days", "frequency", "monetary_total"]
#: Recency given to customers who never bought (days); large but finite for the models.
NEVER = 3650.0
#: XGBoost settings. ``n_jobs=1``: on a shared 2-core machine two OpenMP threads were measured
#: 6-9x *slower* than one (13k rows, 300 trees: 2.4 s vs 22 s) because of thread contention.
XGB_PARAMS = {"n_estimators": 300, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8,
              "colsample_bytree": 0.8, "min_child_weight": 5, "tree_method": "hist", "max_bin": 64,
              "n_jobs": 1}

PREDICT_THREADS: int = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
"""Threads for the per-customer driver contributions (row-wise, so the result does not depend
on them; ``playbook run --jobs N`` sets ``OMP_NUM_THREADS`` to CPUs/N for each kernel)."""

MAX_TRAIN_ROWS = 200_000
"""Most customers a model is fitted on. Larger seasons are subsampled (seeded, uniformly) for
fitting only; validation metrics and scores still cover every customer. 300 boosted trees on one
thread cost ~4 s per 100k rows, so at 1M customers the two fits took ~2 minutes; 200k rows is far
beyond what the ~25 features need (the validation AUC moves in the third decimal)."""


@dataclass
class Season:
    """A season window (inclusive dates) and the cutoff day its features are computed at (included)."""

    name: str
    start: dt.date
    end: dt.date
    cutoff: dt.date
    #: IANA zone of the days (the campaign's ``timezone``; issue 16 item 5).
    zone: str = "UTC"

    @property
    def as_of(self) -> pd.Timestamp:
        """The features' as-of instant: local midnight at the end of the cutoff day in :attr:`zone`."""
        return cutoff_instant(self.cutoff, self.zone)


def seasons_from_config(cfg) -> tuple[list[Season], Season]:
    """Past seasons (oldest first) and the campaign season, each with its cutoff.

    A past season's cutoff keeps the campaign's lead time (``season.start - planning_cutoff``).
    """
    cutoff = planning_cutoff_day(cfg)
    lead = cfg.season.start - cutoff
    zone = campaign_zone(cfg)
    past = sorted((Season(s.name, s.start, s.end, s.start - lead, zone) for s in cfg.comparison_seasons),
                  key=lambda s: s.start)
    current = Season(cfg.slug, cfg.season.start, cfg.season.end, cutoff, zone)
    return past, current


def _ts(value: pd.Timestamp) -> ibis.Expr:
    """Engine literal of the UTC instant ``value``."""
    return ibis.timestamp(to_utc(value))


def _days_before(wh: Warehouse, instant: pd.Timestamp, days: int) -> pd.Timestamp:
    """``instant`` moved back ``days`` calendar days of ``wh.day_zone`` (same wall-clock time; 24-hour days
    in UTC, a daylight-saving change in between moves it by an hour)."""
    wall = instant.tz_convert(wh.day_zone).tz_localize(None)
    return wh.instant(wall - pd.Timedelta(days=days))


def features_as_of(wh: Warehouse, cutoff, season_start, season_end) -> pd.DataFrame:
    """Per-customer features as of the instant ``cutoff`` (strictly before it), aggregated in the engine.

    Steps pass :attr:`Season.as_of` (the end of the cutoff day); a bare date or naive value is read in
    ``wh.day_zone`` (a date is local midnight at its start). Day counts (30 / 90 / 365 days, last
    season) are calendar days of that zone.

    Population: customers signed up before the cutoff and not erased before it.

    Columns (counts, days, currency units): recency_days, frequency, monetary_total,
    monetary_mean, tenure_days (since signup), first_order_days, orders_30d / 90d / 365d,
    revenue_365d, orders_last_season (sale orders in ``[season_start, season_end]`` one year
    earlier; must end before the cutoff), refunds_365d, promo_share, views_30d, carts_30d,
    opens_90d, open_rate_365d (-1 when nothing was sent), consent_email; ``country`` (text).
    """
    cut = wh.instant(cutoff)
    back = {n: _days_before(wh, cut, n) for n in (30, 90, 365)}
    c = wh.table("customers")
    c = c.filter(c.signup_ts < _ts(cut), c.erased_at.isnull() | (c.erased_at >= _ts(cut)))
    base = c.select("customer_id", "country", consent_email=c.consent_email.fill_null(False).cast("int8"),
                    signup_ts=c.signup_ts)
    o = wh.table("orders")
    o = o.filter(o.order_ts < _ts(cut), o.customer_id.notnull())
    sale = o.revenue >= 0
    ls0 = wh.day_start(pd.Timestamp(season_start) - pd.DateOffset(years=1))
    ls1 = min(wh.day_start(pd.Timestamp(season_end) - pd.DateOffset(years=1) + pd.Timedelta(days=1)), cut)
    og = o.group_by("customer_id").aggregate(
        last_ts=o.order_ts.max(where=sale), first_ts=o.order_ts.min(where=sale),
        frequency=sale.sum(), monetary_total=exact_sum(o.revenue, where=sale),
        orders_30d=(sale & (o.order_ts >= _ts(back[30]))).sum(),
        orders_90d=(sale & (o.order_ts >= _ts(back[90]))).sum(),
        orders_365d=(sale & (o.order_ts >= _ts(back[365]))).sum(),
        revenue_365d=exact_sum(o.revenue, where=sale & (o.order_ts >= _ts(back[365]))),
        orders_last_season=(sale & (o.order_ts >= _ts(ls0)) & (o.order_ts < _ts(ls1))).sum(),
        refunds_365d=(~sale & (o.order_ts >= _ts(back[365]))).sum(),
        promo_orders=(sale & o.promo_code.notnull()).sum(),
    )
    j = base.left_join(og, "customer_id").drop("customer_id_right")
    if wh.has("events"):
        e = wh.table("events")
        e = e.filter(e.event_ts < _ts(cut), e.event_ts >= _ts(back[30]), e.customer_id.notnull())
        eg = e.group_by("customer_id").aggregate(views_30d=(e.event_type == "view").sum(),
                                                 carts_30d=(e.event_type == "add_to_cart").sum())
        j = j.left_join(eg, "customer_id").drop("customer_id_right")
    if wh.has("messages"):
        m = wh.table("messages")
        m = m.filter(m.sent_ts < _ts(cut), m.sent_ts >= _ts(back[365]), m.customer_id.notnull())
        opened = m.opened_ts.notnull() & (m.opened_ts < _ts(cut))
        mg = m.group_by("customer_id").aggregate(
            sent_365d=m.count(), opens_365d=opened.sum(),
            opens_90d=(opened & (m.sent_ts >= _ts(back[90]))).sum())
        j = j.left_join(mg, "customer_id").drop("customer_id_right")
    # counts and sums as float64 in the engine: a nullable integer column (customers without
    # orders after the left join) comes back as Python objects, and converting those with
    # pd.to_numeric took ~9 s of the 1M run; the values are the same after fillna(0)
    keep = {"customer_id", "country", "consent_email", "signup_ts", "last_ts", "first_ts"}
    j = j.mutate(**{col: j[col].cast("float64") for col in j.columns if col not in keep})
    df = fetch(j)
    return _finish_features(df, cut)


def _finish_features(df: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    day = pd.Timedelta(days=1)
    out = pd.DataFrame({"customer_id": df["customer_id"].astype(str)})
    last = pd.to_datetime(df["last_ts"], utc=True)
    first = pd.to_datetime(df["first_ts"], utc=True)
    out["recency_days"] = ((cut - last) / day).fillna(NEVER).to_numpy(float)
    out["first_order_days"] = ((cut - first) / day).fillna(-1.0).to_numpy(float)
    out["tenure_days"] = ((cut - pd.to_datetime(df["signup_ts"], utc=True)) / day).to_numpy(float)
    for col in ["frequency", "monetary_total", "orders_30d", "orders_90d", "orders_365d", "revenue_365d",
                "orders_last_season", "refunds_365d", "views_30d", "carts_30d", "opens_90d"]:
        out[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).to_numpy(float) if col in df else 0.0
    out["monetary_mean"] = out["monetary_total"] / out["frequency"].where(out["frequency"] > 0, 1)
    promo = pd.to_numeric(df["promo_orders"], errors="coerce").fillna(0).to_numpy(float)
    out["promo_share"] = promo / np.maximum(out["frequency"], 1)
    if "sent_365d" in df:
        sent = pd.to_numeric(df["sent_365d"], errors="coerce").fillna(0).to_numpy(float)
        opens = pd.to_numeric(df["opens_365d"], errors="coerce").fillna(0).to_numpy(float)
        out["open_rate_365d"] = np.where(sent > 0, opens / np.maximum(sent, 1), -1.0)
    else:
        out["open_rate_365d"] = -1.0
    out["consent_email"] = pd.to_numeric(df["consent_email"]).fillna(0).to_numpy(float)
    out["country"] = df["country"].astype(str).fillna("unknown").to_numpy()
    return out.sort_values("customer_id", ignore_index=True)


def labels_in_window(wh: Warehouse, start, end) -> pd.DataFrame:
    """Customers with at least one sale order in ``[start, end]`` (inclusive days of ``wh.day_zone``): label 1."""
    o = wh.table("orders")
    o = o.filter(wh.in_days(o.order_ts, start, end), o.revenue >= 0, o.customer_id.notnull())
    df = o.group_by("customer_id").aggregate(n=o.count()).execute()
    return pd.DataFrame({"customer_id": df["customer_id"].astype(str), "bought": 1})


def training_frame(wh: Warehouse, season: Season) -> pd.DataFrame:
    """Features as of ``season.as_of`` (cutoff day included) with label ``bought`` (sale in the season window)."""
    feats = features_as_of(wh, season.as_of, season.start, season.end)
    lab = labels_in_window(wh, season.start, season.end)
    df = feats.merge(lab, on="customer_id", how="left")
    df["bought"] = df["bought"].fillna(0).astype(int)
    return df


def design_matrix(df: pd.DataFrame, countries: list[str]) -> pd.DataFrame:
    """Numeric model matrix: every feature column plus one dummy per country in ``countries``."""
    X = df.drop(columns=[c for c in ("customer_id", "country", "bought") if c in df]).astype(float)
    for c in countries:
        X[f"country_{c}"] = (df["country"] == c).astype(float).to_numpy()
    return X


@dataclass
class PropensityResult:
    """Validation metrics, the refitted model's scores and explanations."""

    metrics: pd.DataFrame
    deciles: pd.DataFrame
    calibration: pd.DataFrame
    scores: pd.DataFrame
    importance: pd.DataFrame
    train_season: str
    valid_season: str
    notes: list[str] = field(default_factory=list)
    features: pd.DataFrame | None = None


def _check_labels(df: pd.DataFrame, season: Season) -> None:
    n_pos = int(df["bought"].sum())
    if len(df) == 0 or n_pos == 0 or n_pos == len(df):
        raise DataError(
            f"Season {season.name} ({season.start}..{season.end}) has {n_pos} buyers among {len(df)} "
            "customers: a propensity model needs both buyers and non-buyers. Add an earlier comparison "
            "season or check the orders table.")


def _xgb(seed: int):
    return xgb.XGBClassifier(random_state=seed, eval_metric="logloss", **XGB_PARAMS)


def _baseline(seed: int):
    return make_pipeline(StandardScaler(), LogisticRegression(random_state=seed, max_iter=1000))


def _rfm(df: pd.DataFrame) -> np.ndarray:
    return np.column_stack([df["recency_days"], np.log1p(df["frequency"]), np.log1p(df["monetary_total"].clip(lower=0))])


def _fit_rows(n: int, seed: int, cap: int | None = None) -> np.ndarray | slice:
    """Rows a model is fitted on: all (``slice(None)``) up to ``cap`` (default
    :data:`MAX_TRAIN_ROWS`), else a sorted seeded uniform sample of ``cap`` rows."""
    cap = MAX_TRAIN_ROWS if cap is None else cap
    if n <= cap:
        return slice(None)
    return np.sort(np.random.default_rng([seed, n]).choice(n, size=cap, replace=False))


def decile_table(y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Lift and cumulative gains by score decile (1 = highest scores)."""
    order = np.argsort(-score, kind="stable")
    dec = np.empty(len(y), dtype=int)
    dec[order] = np.minimum(np.arange(len(y)) * 10 // max(len(y), 1), 9) + 1
    t = pd.DataFrame({"decile": dec, "y": y}).groupby("decile").agg(customers=("y", "size"), buyers=("y", "sum"))
    base = y.mean() if len(y) else np.nan
    t["buy_rate"] = t["buyers"] / t["customers"]
    t["lift"] = t["buy_rate"] / base if base > 0 else np.nan
    t["cum_gain"] = t["buyers"].cumsum() / max(t["buyers"].sum(), 1)
    return t.reset_index()


def fit_propensity(wh: Warehouse, cfg, seed: int = 42) -> PropensityResult:
    """Train on the older past season, validate on the latest, refit on the latest and score.

    Returns
    -------
    PropensityResult
        ``metrics``: ROC AUC and PR AUC of XGBoost and the RFM logistic baseline on the validation
        season; ``deciles``: lift/gains by decile for both; ``calibration``: mean predicted vs
        observed rate per bin (XGBoost); ``scores``: customer_id, score (P(buy in the campaign
        window)), score_decile, driver_1..3 (top features by |SHAP contribution|);
        ``importance``: mean |contribution| per feature.

    Raises
    ------
    DataError
        Fewer than two past seasons in the config, or a season without buyers (or non-buyers).
    """
    past, current = seasons_from_config(cfg)
    if len(past) < 2:
        raise DataError("Propensity needs two past seasons (one to train, a later one to validate); found "
                        f"{len(past)}. Order history covering this window in two earlier years (or two "
                        "comparison_seasons in the campaign file) would enable it.")
    train_s, valid_s = past[-2], past[-1]
    train, valid = training_frame(wh, train_s), training_frame(wh, valid_s)
    _check_labels(train, train_s)
    _check_labels(valid, valid_s)
    countries = sorted(set(train["country"]) | set(valid["country"]))
    Xtr, Xva = design_matrix(train, countries), design_matrix(valid, countries)
    fit_tr = _fit_rows(len(train), seed)
    model = _xgb(seed).fit(Xtr.iloc[fit_tr], train["bought"].iloc[fit_tr])
    base = _baseline(seed).fit(_rfm(train.iloc[fit_tr]), train["bought"].iloc[fit_tr])
    p_model = model.predict_proba(Xva)[:, 1]
    p_base = base.predict_proba(_rfm(valid))[:, 1]
    y = valid["bought"].to_numpy()
    metrics = pd.DataFrame({
        "model": ["XGBoost (all features)", "Logistic regression (RFM only)"],
        "roc_auc": [roc_auc_score(y, p_model), roc_auc_score(y, p_base)],
        "pr_auc": [average_precision_score(y, p_model), average_precision_score(y, p_base)],
        "top_decile_lift": [decile_table(y, p_model)["lift"].iloc[0], decile_table(y, p_base)["lift"].iloc[0]],
    })
    deciles = decile_table(y, p_model).merge(decile_table(y, p_base), on="decile", suffixes=("", "_baseline"))
    frac, mean_pred = calibration_curve(y, p_model, n_bins=10, strategy="quantile")
    calib = pd.DataFrame({"mean_predicted": mean_pred, "observed_rate": frac})
    # Refit on the latest past season and score as of the planning cutoff.
    fit_va = _fit_rows(len(valid), seed + 1)
    final = _xgb(seed).fit(Xva.iloc[fit_va], valid["bought"].iloc[fit_va])
    now = features_as_of(wh, current.as_of, current.start, current.end)
    scores, importance = score_customers(final, now, countries)
    return PropensityResult(metrics, deciles, calib, scores, importance, train_s.name, valid_s.name,
                            features=now)


def score_customers(model, feats: pd.DataFrame, countries: list[str], n_drivers: int = 3
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores, deciles and each customer's top drivers.

    Drivers are XGBoost per-feature contributions to the log-odds (``pred_contribs`` with
    ``approx_contribs=True``, i.e. Saabas path attributions, ~30x faster than exact TreeSHAP);
    ``"orders_365d +"`` means the feature raised this customer's score.
    """
    X = design_matrix(feats, countries)
    if X.empty:  # nobody to score (e.g. everyone erased): the tables keep their columns
        out = pd.DataFrame({"customer_id": pd.Series(dtype=str), "score": pd.Series(dtype=float),
                            "score_decile": pd.Series(dtype=int),
                            **{f"driver_{k + 1}": pd.Series(dtype=str) for k in range(n_drivers)}})
        return out, pd.DataFrame({"feature": pd.Series(dtype=str), "mean_abs_contribution": pd.Series(dtype=float)})
    score = model.predict_proba(X)[:, 1]
    # approx_contribs: Saabas path attributions; exact TreeSHAP took ~30 s for 18k customers here.
    # prediction is per row, so threads cannot change it (training stays single-threaded)
    booster = model.get_booster()
    booster.set_param({"nthread": PREDICT_THREADS})
    contrib = booster.predict(xgb.DMatrix(X, nthread=PREDICT_THREADS), pred_contribs=True,
                              approx_contribs=True)[:, :-1]
    booster.set_param({"nthread": 1})
    names = np.array(X.columns)
    top = np.argsort(-np.abs(contrib), axis=1)[:, :n_drivers]
    out = pd.DataFrame({"customer_id": feats["customer_id"].to_numpy(), "score": score})
    out["score_decile"] = 11 - decile_rank(score)
    rows = np.arange(len(X))[:, None]
    signs = np.where(contrib[rows, top] >= 0, "+", "-")
    for k in range(n_drivers):
        out[f"driver_{k + 1}"] = np.char.add(names[top[:, k]].astype(str), np.char.add(" ", signs[:, k]))
    imp = pd.DataFrame({"feature": names, "mean_abs_contribution": np.abs(contrib).mean(axis=0)})
    return out, imp.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def decile_rank(v: np.ndarray) -> np.ndarray:
    """Deciles 1..10 by ascending value (ties broken by position)."""
    if len(v) == 0:
        return np.zeros(0, dtype=int)
    r = pd.Series(v).rank(method="first").to_numpy()
    return np.ceil(r / len(v) * 10).astype(int).clip(1, 10)


def plot_validation(res: PropensityResult) -> plt.Figure:
    """Cumulative gains (model vs baseline) and calibration curve on the validation season."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if res.deciles.empty:
        for ax in (ax1, ax2):
            empty_chart(ax, "No validation: the model could not be trained")
        return fig
    d = res.deciles
    share = np.r_[0, d["decile"] / 10]
    ax1.plot(share * 100, np.r_[0, d["cum_gain"]] * 100, marker="o", label="XGBoost")
    ax1.plot(share * 100, np.r_[0, d["cum_gain_baseline"]] * 100, marker="s", label="RFM logistic baseline")
    ax1.plot([0, 100], [0, 100], ls="--", color="grey", label="random")
    ax1.set_xlabel("customers contacted, highest scores first (%)")
    ax1.set_ylabel("share of season buyers reached (%)")
    ax1.set_title(f"Cumulative gains ({res.valid_season})")
    ax1.legend(frameon=False)
    c = res.calibration
    ax2.plot(c["mean_predicted"] * 100, c["observed_rate"] * 100, marker="o")
    ax2.plot([0, 100], [0, 100], ls="--", color="grey")
    ax2.set_xlabel("predicted probability of buying (%)")
    ax2.set_ylabel("observed share who bought (%)")
    ax2.set_title("Calibration (10 equal-size bins)")
    fig.tight_layout()
    return fig


def describe(res: PropensityResult) -> str:
    """One plain-language sentence about the validation result (Markdown)."""
    if res.metrics.empty:
        return " ".join(res.notes) or "The propensity model could not be trained."
    m = res.metrics.set_index("model")
    xa, ba = m["roc_auc"].iloc[0], m["roc_auc"].iloc[1]
    lift = res.deciles["lift"].iloc[0]
    verdict = "beats" if xa > ba else "does not beat"
    return (f"Trained on {res.train_season} and checked on {res.valid_season}, the propensity model "
            f"{verdict} the RFM-only baseline (ROC AUC {xa:.3f} vs {ba:.3f}); the top 10 % of customers by "
            f"score bought at {lift:.1f}x the average rate.")


def fit_or_fallback(wh: Warehouse, cfg, seed: int = 42) -> PropensityResult:
    """:func:`fit_propensity`, or a documented fallback when it cannot be trained.

    Fallback (too few seasons, a season without buyers): score = a recency-frequency heuristic
    ``frequency / (frequency + 1) * exp(-recency_days / 365)`` as of the planning cutoff, with no
    validation metrics; the reason is in ``notes``.
    """
    try:
        return fit_propensity(wh, cfg, seed)
    except DataError as exc:
        _, current = seasons_from_config(cfg)
        now = features_as_of(wh, current.as_of, current.start, current.end)
        f = now["frequency"].to_numpy(float)
        score = f / (f + 1) * np.exp(-now["recency_days"].to_numpy(float) / 365)
        scores = pd.DataFrame({"customer_id": now["customer_id"], "score": score,
                               "score_decile": 11 - decile_rank(score)})
        for k in (1, 2, 3):
            scores[f"driver_{k}"] = ""
        empty = pd.DataFrame()
        return PropensityResult(
            pd.DataFrame(columns=["model", "roc_auc", "pr_auc", "top_decile_lift"]), empty, empty, scores,
            pd.DataFrame(columns=["feature", "mean_abs_contribution"]), "-", "-",
            notes=[f"{exc} Fallback used: a recency-frequency heuristic score, not validated."], features=now)


def top_scored(res: PropensityResult, n: int = 10) -> pd.DataFrame:
    """The ``n`` highest-scored customers with their top drivers, under pseudonymous ids."""
    top = res.scores.sort_values("score", ascending=False, kind="stable").head(n).copy()
    top.insert(0, "customer", cast(pd.Series, pseudonymize(top.pop("customer_id").astype(str))).to_numpy())
    return top.reset_index(drop=True)
