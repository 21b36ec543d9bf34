"""Seasonal Campaign Playbook: the tested helper package behind the campaign notebooks."""

import pandas as _pd

__version__ = "0.1.0"

# The code is written for pandas 3 semantics; statsforecast 2.x still requires pandas < 3. Under
# pandas 2 opt into the three pandas-3 behaviours the code relies on, so results, warnings and memory
# match: no silent downcasting in fillna/where (else a FutureWarning lands on stakeholder pages),
# copy-on-write, and strings stored by pyarrow.
if int(_pd.__version__.split(".")[0]) < 3:
    _pd.set_option("future.no_silent_downcasting", True)
    _pd.set_option("mode.copy_on_write", True)
    # pandas 3's string storage (pyarrow-backed ``str`` columns instead of Python objects): the 1M
    # run's peak drops from 6.54 to 6.13 GiB (benchmarks/RESULTS.md, 2026-12-03)
    _pd.set_option("future.infer_string", True)
