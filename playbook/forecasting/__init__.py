"""Demand forecasting: the retail and public-holiday calendar (calendar.py), the model and its backtest (model.py), the campaign forecast and its charts (forecast.py)."""
