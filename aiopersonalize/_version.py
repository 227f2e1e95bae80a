"""The package's version, looked up once: ``aiopersonalize.__version__``, the version of
the telemetry's instrumentation scope, and an inventory's ``program_version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Final

__all__ = ["VERSION"]


def _installed() -> str:
    try:
        return version("aiopersonalize")
    except PackageNotFoundError:  # pragma: no cover - a source tree not installed
        return "0.0.0"


VERSION: Final = _installed()
"""The installed distribution's version (``0.0.0`` for a source tree not installed)."""
