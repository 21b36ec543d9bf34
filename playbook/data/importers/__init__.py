"""Importers: platform exports (Shopify, Magento, GA4, Segment, Klaviyo, Mailchimp, Meta Ads,
Google Ads) mapped to the canonical tables (``playbook import PLATFORM FILE... --out DIR``).

One small module per platform declares its mapping (``load(session, files)``) and cites the
documentation it follows; :mod:`.base` holds what they share (reading, checks, parsing) and
:mod:`.store` merges the rows into a folder of canonical tables.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from playbook.data.importers.base import ImportOptions, ImportSession, ImportSummary
from playbook.data.importers.store import write_import
from playbook.errors import DataError


@dataclass(frozen=True)
class Platform:
    """A platform the ``import`` command knows: its name on the command line, what it reads and
    writes (for ``--help``), and the module with its mapping."""

    name: str
    reads: str
    writes: str
    module: str


#: The platforms, in the order ``playbook import --help`` lists them.
PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("shopify", "Orders export CSV and/or Customers export CSV",
             "customers, orders, order_items, products", "shopify"),
    Platform("magento", "sales_order and sales_order_item tables as CSV",
             "customers, orders, order_items, products", "magento"),
    Platform("ga4", "BigQuery export events_YYYYMMDD as JSON lines or Parquet", "events, touches", "ga4"),
    Platform("segment", "Segment track calls as JSON lines", "events, touches", "segment_events"),
    Platform("klaviyo", "campaign recipient activity CSV", "messages", "klaviyo"),
    Platform("mailchimp", "campaign recipient activity CSV", "messages", "mailchimp"),
    Platform("meta-ads", "Ads Manager daily campaign report CSV", "spend", "meta_ads"),
    Platform("google-ads", "daily campaign report CSV (title lines above the header are skipped)",
             "spend", "google_ads"),
)}


def platform_module(name: str) -> ModuleType:
    """The mapping module of platform ``name``; a clear error lists the platforms that exist."""
    try:
        p = PLATFORMS[name]
    except KeyError:
        raise DataError(f"Unknown platform {name!r}. Choose from: {', '.join(PLATFORMS)}.") from None
    return importlib.import_module(f"playbook.data.importers.{p.module}")


def run_import(platform: str, files: Sequence[Path], out: Path, options: ImportOptions | None = None
               ) -> ImportSummary:
    """Read ``files`` (exports of ``platform``) and merge the canonical rows into folder ``out``.

    Nothing in ``out`` changes when reading or checking fails (the error says what to fix).
    """
    module = platform_module(platform)
    with ImportSession(options, known_customers=out / "customers.parquet") as session:
        module.load(session, [Path(f) for f in files])
        if not any(session.count(f"SELECT COUNT(*) FROM {rel}") for parts in session.parts.values()
                   for _, rel in parts):
            raise DataError(f"The {platform} files gave no rows to import: {', '.join(str(f) for f in files)}.")
        return write_import(session, out, platform, files)


__all__ = ["PLATFORMS", "ImportOptions", "ImportSession", "ImportSummary", "Platform", "platform_module",
           "run_import"]
