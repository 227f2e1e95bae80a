"""pytest fixtures that run the emulator for a test.

Enable them in a test suite's top-level ``conftest.py``::

    pytest_plugins = ["aiopersonalize.emulator.pytest_plugin"]

- ``personalize_emulator``: an async fixture yielding a running ``Emulator`` on the
  test's event loop (needs AnyIO's pytest plugin: an ``anyio``-marked test, or
  ``anyio_mode = "auto"``, with the asyncio backend). Call blocking clients such as
  boto3 from a worker thread (``anyio.to_thread.run_sync``), never on the loop.
- ``personalize_emulator_in_thread``: a plain fixture yielding a running ``Emulator``
  served from a background thread, for synchronous tests (boto3, subprocesses).

Both use the default inventory; ``@pytest.mark.personalize_emulator(seed=1, ...)``
passes other ``Emulator`` keyword arguments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ._server import Emulator
from ._thread import EmulatorThread

__all__ = ["personalize_emulator", "personalize_emulator_in_thread"]

_MARKER = "personalize_emulator"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): Emulator keyword arguments for the personalize_emulator fixtures",
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(_MARKER)
    return dict(marker.kwargs) if marker is not None else {}


@pytest.fixture
async def personalize_emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """A running emulator on the test's event loop."""
    async with Emulator(**_options(request)) as emulator:
        yield emulator


@pytest.fixture
def personalize_emulator_in_thread(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running emulator served from a background thread."""
    with EmulatorThread(**_options(request)) as emulator:
        yield emulator
