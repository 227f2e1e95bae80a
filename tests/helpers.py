"""Small test helpers shared by several test modules."""

from __future__ import annotations

import asyncio
import socket

import anyio


def producer_tasks() -> set[asyncio.Task[object]]:
    """The listing producer tasks alive on this loop."""
    return {
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").endswith("_PrefetchSource._run")
    }


async def wait_no_producers(within: float = 10) -> None:
    """Wait until every listing producer task has finished (the timeout turns a leak into
    a failure; it never paces the test)."""
    tasks = producer_tasks()
    if tasks:
        with anyio.fail_after(within):
            await asyncio.wait(tasks)
    assert producer_tasks() == set()


def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
