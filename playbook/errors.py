"""Exception hierarchy: every error a user can cause is a ``PlaybookError`` with one clear message.

The CLI maps any ``PlaybookError`` to a single message and a non-zero exit code, so users never
see a bare traceback for bad input.
"""

from __future__ import annotations


class PlaybookError(Exception):
    """Base class for errors caused by input the user can fix (config, data, parameters)."""


class ConfigError(PlaybookError, ValueError):
    """A campaign config is missing, malformed or invalid."""


class DataError(PlaybookError, ValueError):
    """A data source, table or column is missing or violates the data contract."""


class RunError(PlaybookError, RuntimeError):
    """A notebook run could not be started or did not finish."""
