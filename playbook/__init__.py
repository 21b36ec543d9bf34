"""Seasonal Campaign Playbook: the tested helper package behind the campaign notebooks."""

import pandas as _pd

__version__ = "0.1.0"

# The code is written for pandas 3 semantics; statsforecast 2.x still requires pandas < 3. Under
# pandas 2 opt into the two pandas-3 behaviours the code relies on, so results and warnings match:
# no silent downcasting in fillna/where (else a FutureWarning lands on stakeholder pages) and
# copy-on-write.
if int(_pd.__version__.split(".")[0]) < 3:
    _pd.set_option("future.no_silent_downcasting", True)
    _pd.set_option("mode.copy_on_write", True)
