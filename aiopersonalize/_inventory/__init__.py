"""The inventory database: crawls upserted into SQLite or PostgreSQL (see ``_sink``)."""

from ._backend import InventoryError
from ._schema import SCHEMA_VERSION
from ._sink import BUFFER_PAGES, GROUP_PAGES, CrawlResult, Inventory, InventoryCrawl, redact_url

__all__ = [
    "BUFFER_PAGES",
    "GROUP_PAGES",
    "SCHEMA_VERSION",
    "CrawlResult",
    "Inventory",
    "InventoryCrawl",
    "InventoryError",
    "redact_url",
]
