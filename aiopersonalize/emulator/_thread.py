"""``EmulatorThread``: an emulator on its own event loop in a background thread.

For synchronous code and tests (boto3, the aws CLI) that cannot share an event loop
with the server: ``with EmulatorThread() as emulator:`` gives the running ``Emulator``.
Its ``faults`` can be replaced and its ``stats`` read from the calling thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from ._options import EmulatorOptions
from ._server import Emulator

__all__ = ["EmulatorThread"]

_JOIN_TIMEOUT = 10.0


class EmulatorThread:
    """Runs an ``Emulator`` in a daemon thread.

    Args:
        options: the emulator's settings, as ``Emulator``'s; the defaults if not given.
    """

    def __init__(self, options: EmulatorOptions | None = None, /) -> None:
        self._emulator = Emulator(options)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def options(self) -> EmulatorOptions:
        """The settings the emulator was made with."""
        return self._emulator.options

    def start(self) -> Emulator:
        """Start the thread and wait until the emulator serves.

        Raises:
            RuntimeError: if already started.
            OSError: if the address cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("An EmulatorThread can be started only once")
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(),), name="aiopersonalize-emulator", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join(_JOIN_TIMEOUT)
            raise self._error
        return self._emulator

    def stop(self) -> None:
        """Stop the emulator and join its thread; safe to call more than once."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            # The loop may finish between the check and the call: nothing left to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(_JOIN_TIMEOUT)

    async def _serve(self) -> None:
        try:
            async with self._emulator:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to the starting thread, not lost here
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
