"""Public forecasting API for analysts.

``forecast_series(y, horizon, *, freq=None, country=None, events=None, levels=(80, 95), seed=0)``
forecasts any daily, weekly or monthly pandas Series indexed by dates: it backtests
statsforecast's AutoETS, AutoARIMA, MSTL, seasonal naive and the project's event-aware
regression on rolling origins, combines the best, and returns a DataFrame with ``mean`` and
conformal ``lo_80``/``hi_80``/``lo_95``/``hi_95`` columns; the chosen model, the backtest table
and plain-language notes are in ``.attrs`` (``backtest_table(fc)`` gives the backtest as a
DataFrame). Details: :mod:`playbook.forecasting.series`.

Examples
--------
>>> from playbook.forecast import forecast_series
>>> fc = forecast_series(monthly_sales, 12)              # doctest: +SKIP
>>> fc[["mean", "lo_80", "hi_80"]], fc.attrs["notes"]   # doctest: +SKIP
"""

from playbook.forecasting.series import backtest_table, forecast_series

__all__ = ["backtest_table", "forecast_series"]
