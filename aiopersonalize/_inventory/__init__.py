"""The inventory database: crawls upserted into SQLite or PostgreSQL (see ``_sink``).

The names that ``_sink`` defines are imported on first use (:pep:`562`): ``_sink``
imports the client, and with it aiobotocore, which the writer process
(``python -m aiopersonalize._inventory``) has no use for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from ._backend import InventoryError
from ._schema import SCHEMA_VERSION
from ._url import redact_url

if TYPE_CHECKING:
    from ._sink import BUFFER_PAGES, GROUP_PAGES, CrawlResult, Inventory, InventoryCrawl

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

_LAZY = frozenset({"BUFFER_PAGES", "GROUP_PAGES", "CrawlResult", "Inventory", "InventoryCrawl"})


if not TYPE_CHECKING:  # as in the package's __init__: type checkers see the imports

    def __getattr__(name: str) -> object:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module("._sink", __name__), name)
        globals()[name] = value
        return value
