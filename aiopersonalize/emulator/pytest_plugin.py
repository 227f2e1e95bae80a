"""pytest fixtures that run the emulator for a test.

Enable them in a test suite's top-level ``conftest.py``::

    pytest_plugins = ["aiopersonalize.emulator.pytest_plugin"]

- ``personalize_emulator``: an async fixture yielding a running ``Emulator`` on the
  test's event loop (needs AnyIO's pytest plugin: an ``anyio``-marked test, or
  ``anyio_mode = "auto"``, with the asyncio backend). Call blocking clients such as
  boto3 from a worker thread (``anyio.to_thread.run_sync``), never on the loop.
- ``personalize_emulator_in_thread``: a plain fixture yielding a running ``Emulator``
  served from a background thread, for synchronous tests (boto3, subprocesses).

Both use the default ``EmulatorOptions``. The ``personalize_emulator`` marker sets
others, either as the record's keyword arguments,
``@pytest.mark.personalize_emulator(seed=1, inventory=InventorySpec.empty())``, or as
a record, ``@pytest.mark.personalize_emulator(EmulatorOptions(seed=1))``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ._options import EmulatorOptions
from ._server import Emulator
from ._thread import EmulatorThread

__all__ = ["personalize_emulator", "personalize_emulator_in_thread"]

_MARKER = "personalize_emulator"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(options=None, /, **fields): an EmulatorOptions, or its fields as keyword "
        "arguments, for the personalize_emulator fixtures",
    )


def _options(request: pytest.FixtureRequest) -> EmulatorOptions:
    """The closest marker's ``EmulatorOptions`` (the defaults without one).

    Args:
        request: the fixture's request.

    Raises:
        TypeError: if the marker has more than one positional argument, one that is
            not an ``EmulatorOptions``, or both a record and keyword arguments.
    """
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return EmulatorOptions()
    if not marker.args:
        return EmulatorOptions(**marker.kwargs)
    if len(marker.args) > 1 or marker.kwargs or not isinstance(marker.args[0], EmulatorOptions):
        raise TypeError(
            f"@pytest.mark.{_MARKER} takes one EmulatorOptions or keyword arguments, not both"
        )
    options: EmulatorOptions = marker.args[0]
    return options


@pytest.fixture
async def personalize_emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """A running emulator on the test's event loop."""
    async with Emulator(_options(request)) as emulator:
        yield emulator


@pytest.fixture
def personalize_emulator_in_thread(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running emulator served from a background thread."""
    with EmulatorThread(_options(request)) as emulator:
        yield emulator
