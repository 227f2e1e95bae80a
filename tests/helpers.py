"""Small test helpers shared by several test modules."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import anyio

import aiopersonalize

_PACKAGE = Path(aiopersonalize.__file__).resolve().parent
_EMULATOR = _PACKAGE / "emulator"


def _is_library_code(filename: str) -> bool:
    path = Path(filename)
    return path.is_relative_to(_PACKAGE) and not path.is_relative_to(_EMULATOR)


def _runs_library_code(task: asyncio.Task[object]) -> bool:
    """Whether ``task`` runs the package's own code (the emulator's excepted): a task
    whose coroutine, or a coroutine it awaits, is ours, or a task-group task named after
    one of our functions (anyio names its tasks so, and wraps their coroutines)."""
    name = task.get_name()
    if name.startswith("aiopersonalize.") and not name.startswith("aiopersonalize.emulator"):
        return True
    awaited: object = task.get_coro()
    while awaited is not None:
        code = getattr(awaited, "cr_code", None) or getattr(awaited, "ag_code", None)
        if code is None:
            return False
        if _is_library_code(code.co_filename):
            return True
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return False


def producer_tasks() -> set[asyncio.Task[object]]:
    """The listing tasks alive on this loop: the producers of listings and the workers of
    merged listings (every task running the package's code, but the caller's own)."""
    current = asyncio.current_task()
    return {
        task for task in asyncio.all_tasks() if task is not current and _runs_library_code(task)
    }


async def wait_no_producers(within: float = 10) -> None:
    """Wait until every listing producer task has finished (the timeout turns a leak into
    a failure; it never paces the test)."""
    with anyio.fail_after(within):
        while tasks := producer_tasks():
            await asyncio.wait(tasks)
    assert producer_tasks() == set()


async def wait_until(condition: Callable[[], bool], *, within: float = 10) -> None:
    """Wait until ``condition()`` holds, checking it every millisecond, for counters that
    offer no event to wait on (the emulator's stats). The timeout turns a condition that
    never comes true into a failure; it never paces the test."""
    with anyio.fail_after(within):
        while not condition():  # noqa: ASYNC110 - the counters have no event to wait on
            await anyio.sleep(0.001)


def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
