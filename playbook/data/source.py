"""The data source of a campaign: where the tables live and how to read them, parsed once.

A :class:`DataSource` is built once, from the campaign config (:meth:`DataSource.from_config`,
with the CLI's ``--data-source`` or a notebook's ``data_source`` parameter replacing only the
location) or from a path/URL (:meth:`DataSource.parse`), and carried whole to every place that
opens data (:func:`playbook.data.warehouse.connect`, the data check, the cache, the PII guard).
So the CSV encoding and the time zone of naive timestamps can never be lost on the way.

Locations and engines:

* a folder of Parquet/CSV files or a DuckDB file (``*.duckdb``, ``*.ddb``, ``*.db``): engine
  ``duckdb`` (embedded); relative paths are resolved against the project root
  (:func:`playbook.paths.resolve`), ``None`` means the bundled sample ``data/sample``;
* ``spark://`` and ``spark+<fs>://`` URLs: engine ``spark`` (forms and options in
  :mod:`playbook.data.engines`); the query options are parsed into :attr:`DataSource.options`;
* any other URL (``duckdb:///file.ddb``, ``postgres://user@host/db`` ...): engine ``ibis``
  (opened with ``ibis.connect``; the URL goes to Ibis unchanged).

:meth:`DataSource.display` is the one place that masks credentials for reports and logs; the
``str()`` and ``repr()`` of a source use it too, so an f-string never leaks a password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from playbook.data import engines
from playbook.data.urls import mask_url
from playbook.errors import ConfigError
from playbook.paths import project_root, resolve

if TYPE_CHECKING:  # the config package sits above the data package; no import at run time
    from playbook.config.campaign import DataConfig

#: The bundled sample, relative to the project root (``data.source`` unset).
DEFAULT_SOURCE = "data/sample"

Engine = Literal["duckdb", "spark", "ibis"]



@dataclass(frozen=True, repr=False)
class DataSource:
    """Where the canonical tables live and how to read them.

    Attributes
    ----------
    location : str
        Absolute folder or DuckDB file path, or a connection URL (as given).
    engine : {"duckdb", "spark", "ibis"}
        Folder/file -> ``duckdb``; ``spark[+...]://`` -> ``spark``; other URL -> ``ibis``.
    timezone : str or None
        IANA zone in which naive timestamps were recorded; ``None`` rejects naive timestamps.
    encoding : str or None
        Python text encoding of CSV files; ``None`` means UTF-8 (with or without BOM).
    options : mapping of str to str
        Engine options parsed from the URL: for Spark ``master``, ``remote``, ``app`` and
        ``spark.*`` settings; empty for the other engines.
    merge_line_items : bool
        The orders table holds one row per line item: rows of the same customer at the same
        ``order_ts`` are merged into one order (revenue and discount summed; refunds kept apart).
    exclude_extreme_orders : bool
        Leave orders above the extreme-revenue limit (:mod:`playbook.data.money`) out of every
        analysis (``validate-data`` still lists them); default True.
    """

    location: str
    engine: Engine
    timezone: str | None = None
    encoding: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    merge_line_items: bool = False
    exclude_extreme_orders: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", dict(self.options))  # a private copy

    def __hash__(self) -> int:
        return hash((self.location, self.engine, self.timezone, self.encoding,
                     tuple(sorted(self.options.items())), self.merge_line_items,
                     self.exclude_extreme_orders))

    def __repr__(self) -> str:
        return (f"DataSource({self.display()!r}, engine={self.engine!r}, "
                f"timezone={self.timezone!r}, encoding={self.encoding!r}, "
                f"merge_line_items={self.merge_line_items!r}, exclude_extreme_orders={self.exclude_extreme_orders!r})")

    def __str__(self) -> str:
        return self.display()

    @classmethod
    def parse(
        cls,
        location: str | os.PathLike[str] | None,
        *,
        timezone: str | None = None,
        encoding: str | None = None,
    ) -> DataSource:
        """Parse a location given by a user (config, command line, notebook parameter).

        Parameters
        ----------
        location : str, path or None
            ``None`` for the bundled sample; a folder or DuckDB file (relative paths against the
            project root); a Spark URL; any other Ibis connection URL.
        timezone, encoding : str, optional
            See the class attributes.

        Raises
        ------
        ConfigError
            An empty location, or a Spark URL with an unknown or conflicting option.
        """
        if location is None:
            return cls(str(resolve(DEFAULT_SOURCE)), "duckdb", timezone, encoding)
        text = os.fspath(location)
        if not text.strip():
            raise ConfigError("The data source is empty: give a folder, a DuckDB file or a "
                              "connection URL (or leave data.source out for the bundled sample).")
        if engines.is_spark_url(text):
            return cls(text, "spark", timezone, encoding, engines.spark_options(text))
        if "://" in text:
            return cls(text, "ibis", timezone, encoding)
        return cls(str(resolve(text)), "duckdb", timezone, encoding)

    @classmethod
    def from_config(
        cls,
        data: DataConfig,
        override: str | os.PathLike[str] | None = None,
    ) -> DataSource:
        """The source of a campaign's ``data`` section.

        Parameters
        ----------
        data : DataConfig
            The config's ``data`` section (``source``, ``timezone``, ``encoding``,
            ``merge_line_items``, ``exclude_extreme_orders``).
        override : str, path or None
            The CLI's ``--data-source`` or a notebook's ``data_source`` parameter: replaces only
            the location (``None`` or ``""``: use ``data.source``). The time zone and the
            encoding always come from the config.
        """
        given = override if override is not None and os.fspath(override) != "" else data.source
        src = cls.parse(given, timezone=data.timezone, encoding=data.encoding)
        return replace(src, merge_line_items=bool(getattr(data, "merge_line_items", False)),
                       exclude_extreme_orders=bool(getattr(data, "exclude_extreme_orders", True)))

    @property
    def is_local(self) -> bool:
        """Whether the data are files on this machine read by the embedded DuckDB (a folder or a
        DuckDB file): their content can be fingerprinted, and ``truth.json`` can sit beside them."""
        return self.engine == "duckdb"

    def display(self) -> str:
        """The location for reports and logs: credentials masked, project paths made relative.

        ``postgres://user:pw@host/db`` -> ``postgres://***@host/db``; query values whose key names
        a secret (:data:`SECRET_KEYS`) -> ``***``; ``/project/data/sample`` -> ``data/sample``.
        """
        if self.engine == "duckdb":
            path = Path(self.location)
            try:
                return path.relative_to(project_root()).as_posix()
            except ValueError:
                return self.location
        return mask_url(self.location)

    def as_parameter(self) -> str:
        """The string a notebook gets as its ``data_source`` Papermill parameter (the location:
        an absolute path or the URL as given; the notebook reads timezone and encoding from the
        config, see :meth:`from_config`)."""
        return self.location


