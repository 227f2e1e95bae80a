"""Shared fixtures: test credentials, the asyncio backend (aiohttp is asyncio-only), the
checks that fail a test which leaked a task, a socket or a session, and the emulator.

The emulator fixtures are the project's own pytest plugin, as users enable it
(``aiopersonalize.emulator.pytest_plugin``): ``emulator`` serves on the test's event
loop, ``emulator_in_thread`` from a background thread (for code that runs its own
loop, such as the command line). Both serve the default inventory unless the test (or
its module, through ``pytestmark``) says otherwise with
``@pytest.mark.personalize_emulator(EmulatorOptions(...))``.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aiopersonalize.emulator import Emulator

pytest_plugins = ("aiopersonalize.emulator.pytest_plugin",)

# Dummy credentials, set before any botocore session reads the environment, and no
# config or credentials file of the machine's: nothing real can leak into a test.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "AKIDTESTTESTTEST",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key-never-printed",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"):
    os.environ.pop(name, None)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every async test and fixture runs on asyncio (aiohttp's only loop), once per
    session, so module-scoped async fixtures can share it."""
    return "asyncio"


@pytest.fixture
def emulator(personalize_emulator: Emulator) -> Emulator:
    """The test's emulator, on its event loop (options: the personalize_emulator mark)."""
    return personalize_emulator


@pytest.fixture
def emulator_in_thread(personalize_emulator_in_thread: Emulator) -> Emulator:
    """The test's emulator, served from a background thread (same mark)."""
    return personalize_emulator_in_thread


@pytest.fixture(autouse=True)
def _collect_garbage_after_test() -> Iterator[None]:
    """Collect garbage after each test, so that a leaked socket, session or task warns
    (and, warnings being errors, fails) in the test that leaked it."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _no_asyncio_errors(request: pytest.FixtureRequest) -> None:
    """Async tests run under the asyncio error guard below."""
    if inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        request.getfixturevalue("_asyncio_error_guard")


@pytest.fixture
async def _asyncio_error_guard() -> AsyncIterator[None]:
    """Fail a test during which asyncio reported an error to its exception handler:
    "Task was destroyed but it is pending!", "Task exception was never retrieved",
    "Unclosed client session" and their kind are logged, not raised, by asyncio."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        yield
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert not reported, [c.get("message") for c in reported]
