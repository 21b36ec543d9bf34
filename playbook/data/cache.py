"""Content-addressed cache of data-only results, shared by the campaigns of a season.

Several campaigns of one season usually read the same data source. Some results depend on the
data alone, not on any campaign setting, so a batch (``playbook run campaigns/*.yaml``) need
compute them once:

=====================  ===============================================  =========================
kind                   computed by                                      depends on
=====================  ===============================================  =========================
``identity``           :func:`playbook.customers.cleaning.resolve_identities`     data (customers table)
``defect_audit``       :func:`playbook.customers.cleaning.defect_audit`           data; pseudonym key
``validation``         :func:`playbook.data.validate.validate`               data; orphan threshold
=====================  ===============================================  =========================

Not cached: anything that depends on the campaign (season window, planning cutoff, countries,
rules, seed): customer features, RFM, clusters, forecasts, budgets, models. The three results
above use the whole history of the data (the defect audit's "future signup" compares with the
latest activity *in the data*, not with the planning cutoff), so campaigns with different
cutoffs share them too.

The key is the SHA-256 of: the kind; the data source (absolute path) with the relative path,
size and modification time (ns) of every file in it; a fingerprint of the code that computes the
result (the source of the modules involved, the package, pandas and Python versions); and the
settings that change the result (``timezone``, ``encoding``, ``merge_line_items`` and
``exclude_extreme_orders`` of the :class:`~playbook.data.source.DataSource`; the warehouse's
``default_country`` when the source has no ``customers.country``, the only case it changes a
result; the orphan threshold, a keyed fingerprint of
the pseudonym key: never the key itself). Any change to a file
of the source, to that code or to those settings gives a new key, so a stale entry is never
used; old entries are simply left behind (delete ``reports/.cache`` at any time).

Only local sources (:attr:`DataSource.is_local <playbook.data.source.DataSource.is_local>`: a
folder of Parquet/CSV files or a DuckDB file) are cached. A connection URL (PostgreSQL, BigQuery,
Spark ...) is never cached: its content can change without any visible file change.

Entries live in ``<reports>/.cache/<kind>/<key>.pkl``, next to the campaign's report folder
(``reports/.cache`` by default; ``PLAYBOOK_CACHE_DIR`` overrides the folder, ``PLAYBOOK_CACHE=off``
disables the cache). They are pickles written by this package for this
package (same trust as the code) and written atomically (temp file, rename), so campaigns running
side by side may both compute a missing entry; the last rename wins and both values are equal.

Wiring: this foundation module knows no domain. The customer results are cached by their own
module through :func:`for_source` (:func:`playbook.customers.cleaning.cached_identities`,
:func:`playbook.customers.cleaning.cached_defect_audit`); the segment step calls those and
:func:`validation`. Return values are identical to the uncached calls.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

import pandas as pd

from playbook import __version__
from playbook.data import contract, findings, money, validate, warehouse
from playbook.data.source import DataSource
from playbook.data.warehouse import Warehouse
from playbook.files import atomic_write
from playbook.paths import project_root

T = TypeVar("T")
log = logging.getLogger(__name__)

CACHE_DIR_ENV = "PLAYBOOK_CACHE_DIR"
CACHE_SWITCH_ENV = "PLAYBOOK_CACHE"

#: Outcome of the last :func:`cached` call per kind (``hit``, ``miss``, ``off``): for reports/tests.
LAST: dict[str, str] = {}


def cache_dir(cfg: Any = None) -> Path:
    """The cache folder: ``$PLAYBOOK_CACHE_DIR``; else ``.cache`` next to the campaign's report
    folder (``reports/.cache`` for ``reports/<slug>``) when a config is given; else
    ``<project>/reports/.cache``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    out = getattr(cfg, "output_dir", None)
    if out is not None:
        return Path(out).parent / ".cache"
    return project_root() / "reports" / ".cache"


def enabled() -> bool:
    """False when ``PLAYBOOK_CACHE`` is ``off``/``0``/``false``/``no``."""
    return os.environ.get(CACHE_SWITCH_ENV, "on").strip().lower() not in {"off", "0", "false", "no"}


def source_fingerprint(source: DataSource) -> dict[str, Any] | None:
    """Identify the content of a local data source by its files' paths, sizes and mtimes.

    Parameters
    ----------
    source : DataSource
        A local source: a folder (every file below it counts, e.g. ``customers.parquet`` or
        ``orders/part-0.parquet``) or a single file (a DuckDB database).

    Returns
    -------
    dict or None
        ``{"source": absolute path, "files": [[relative path, size bytes, mtime ns], ...]}``;
        None for a source that is not local (a connection URL) or a path that does not exist
        (not cacheable).
    """
    if not source.is_local:
        return None
    path = Path(source.location).resolve()
    if path.is_file():
        st = path.stat()
        return {"source": str(path), "files": [[path.name, st.st_size, st.st_mtime_ns]]}
    if not path.is_dir():
        return None
    files = []
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            files.append([p.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns])
    return {"source": str(path), "files": files}


def code_version(modules: Sequence[ModuleType]) -> str:
    """Fingerprint of the code that computes a result: the source of ``modules``, the
    package version, and the pandas and Python versions (pickles follow them)."""
    h = hashlib.sha256()
    for mod in modules:
        h.update(mod.__name__.encode())
        h.update(inspect.getsource(mod).encode("utf-8"))
    h.update(f"{__version__}|{pd.__version__}|{sys.version_info[:2]}".encode())
    return h.hexdigest()


def cache_key(kind: str, source: DataSource, modules: Sequence[ModuleType],
              settings: Mapping[str, Any] | None = None) -> str | None:
    """SHA-256 key of a data-only result; None when the source is not cacheable (a URL).

    Parameters
    ----------
    kind : str
        What is cached (``identity``, ``defect_audit`` ...).
    source : DataSource
        The data source (see :func:`source_fingerprint`); its ``timezone`` and ``encoding`` are
        always part of the key.
    modules : sequence of module
        The modules whose code computes the result (see :func:`code_version`).
    settings : mapping, optional
        Other JSON-serialisable settings that change the result (thresholds ...).
    """
    fp = source_fingerprint(source)
    if fp is None:
        return None
    payload = {"kind": kind, "data": fp, "code": code_version(modules),
               "settings": {"timezone": source.timezone, "encoding": source.encoding,
                            "merge_line_items": source.merge_line_items,
                            "exclude_extreme_orders": source.exclude_extreme_orders, **(settings or {})}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def cached(kind: str, key: str | None, compute: Callable[[], T], root: Path | None = None) -> T:
    """Return the cached value of ``kind``/``key``, or compute, store and return it.

    ``key`` None (source not cacheable) or the cache switched off: just compute. A corrupt or
    unreadable entry is recomputed and overwritten.
    """
    if key is None or not enabled():
        LAST[kind] = "off"
        return compute()
    folder = (root or cache_dir()) / kind
    path = folder / f"{key}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as fh:
                value: T = pickle.load(fh)
        except Exception as exc:  # noqa: BLE001 - a broken entry is recomputed, never fatal
            log.warning("cache entry %s unreadable (%s); recomputing", path, exc)
        else:
            LAST[kind] = "hit"
            log.info("cache hit: %s %s", kind, key[:12])
            return value
    value = compute()
    atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
    LAST[kind] = "miss"
    return value


# --------------------------------------------------------------------------------------------
# The data-only results of the playbook
# --------------------------------------------------------------------------------------------


def for_source(kind: str, wh: Warehouse, compute: Callable[[], T], modules: Sequence[ModuleType],
               settings: Mapping[str, Any] | None = None, root: Path | None = None) -> T:
    """``compute()``, shared across the campaigns that read the same data as ``wh``.

    Parameters
    ----------
    kind : str
        What is cached (one folder per kind).
    wh : Warehouse
        The connected source; ``wh.source`` (files, timezone, encoding) is part of the key.
    compute : callable
        Computes the result from ``wh`` alone (no campaign setting).
    modules : sequence of module
        The modules whose code computes the result (part of the key).
    settings : mapping, optional
        Other settings that change the result (part of the key).
    root : Path, optional
        Cache folder; default :func:`cache_dir`.
    """
    # what the warehouse derives for absent data changes results too: the campaign's first country
    # stands in for an absent customers.country (only then is it part of the key, so campaigns of
    # different countries still share one validation of a source that has the column)
    derived = {"default_country": wh.default_country} if wh.lacks("customers", "country") else {}
    return cached(kind, cache_key(kind, wh.source, [*modules, money], {**derived, **(settings or {})}),
                  compute, root)


def validation_report(wh: Warehouse, orphan_threshold: int = 0,
                      root: Path | None = None) -> validate.ValidationReport:
    """:func:`playbook.data.validate.validate`, shared across campaigns of one source and threshold."""
    return for_source("validation", wh, lambda: validate.validate(wh, orphan_threshold=orphan_threshold),
                      [validate, findings, warehouse, contract], {"orphan_threshold": orphan_threshold}, root)


class StepLike(Protocol):
    """What the drop-ins read of a step context: the warehouse and the campaign config."""

    @property
    def wh(self) -> Warehouse: ...

    @property
    def cfg(self) -> Any: ...


def validation(ctx: StepLike) -> validate.ValidationReport:
    """Drop-in for ``validate.validate(ctx.wh, orphan_threshold=ctx.cfg.data.orphan_threshold)``."""
    return validation_report(ctx.wh, ctx.cfg.data.orphan_threshold, cache_dir(ctx.cfg))
