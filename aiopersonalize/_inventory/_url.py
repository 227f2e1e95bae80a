"""Inventory URLs: which backend one names, and how it is shown (its password hidden).

Kept apart from ``_sink`` (which imports the client) so that the writer process,
which opens the backend a URL names, imports only the database's modules.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from . import _postgres, _sqlite
from ._backend import Backend, InventoryError

__all__ = ["in_process_backend", "redact_url"]

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password (in the authority or the query) replaced by ``***``."""
    shown = _PASSWORD.sub(r"\1***", url)
    try:
        parts = urlsplit(shown)
        password = parts.password
    except ValueError:
        return shown
    if password:
        netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
        shown = parts._replace(netloc=netloc).geturl()
    return shown


def in_process_backend(url: str) -> Backend:
    """The backend ``url`` names, in this process (checked, not connected)."""
    if not isinstance(url, str) or not url:
        raise InventoryError("an inventory URL is sqlite:///PATH or postgresql://...")
    shown = redact_url(url)
    if url.startswith(_POSTGRES):
        return _postgres.PostgresBackend(url, shown)
    if url.startswith(_SQLITE):
        path = url[len(_SQLITE) :]
        if not path:
            raise InventoryError(f"{shown}: a SQLite URL names its file, sqlite:///PATH")
        return _sqlite.SQLiteBackend(Path(path), shown)
    if "://" in url or url.startswith("sqlite:"):
        scheme = url.split(":", 1)[0]
        raise InventoryError(
            f"{shown}: not an inventory URL ({scheme!r}): use sqlite:///PATH "
            "(sqlite:////PATH for an absolute path) or postgresql://..."
        )
    return _sqlite.SQLiteBackend(Path(url), shown)  # a plain path: a SQLite file
