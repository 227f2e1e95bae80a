"""``EmulatorProcess``: ``aiopersonalize serve`` in a subprocess, for benchmarks.

The server's CPU time is then not the client's. The endpoint URL is read from the
command's first line of output; counters and faults go over the control endpoints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from ._app import CONTROL_PREFIX
from ._faults import Faults
from ._options import EmulatorOptions
from .serve import ENV_CREDENTIALS, ENV_TOKEN_SECRET, to_argv, to_environ

__all__ = ["EmulatorProcess"]

_STOP_TIMEOUT = 10.0
_MAX_LINE = 4096


class EmulatorProcess:
    """Runs ``python -m aiopersonalize serve`` with the same options as ``Emulator``.

    ``async with EmulatorProcess(...) as process:`` starts it and waits for its endpoint
    URL; leaving the block stops it (SIGTERM, then SIGKILL after 10 seconds) and reaps
    it. The child also exits by itself if this process goes away.

    Args:
        options: the emulator's settings, as ``Emulator``'s, but without a ``clock``
            (the child keeps real time); the defaults if not given. Secrets go to the
            child in its environment, never in its command line.
        python: the interpreter to run (this one by default).
        startup_timeout: seconds to wait for the endpoint URL.

    Raises:
        ValueError: if ``options`` has a ``clock``, or secrets that cannot be passed in
            the environment (see ``to_environ``).
    """

    def __init__(
        self,
        options: EmulatorOptions | None = None,
        /,
        *,
        python: str = sys.executable,
        startup_timeout: float = 30.0,
    ) -> None:
        if options is None:
            options = EmulatorOptions()
        elif not isinstance(options, EmulatorOptions):
            raise TypeError(f"options must be an EmulatorOptions, not {type(options).__name__}")
        if options.clock is not None:
            raise ValueError(
                "EmulatorProcess cannot take a clock: the child process keeps real time "
                "(use Emulator or EmulatorThread for a fake clock)"
            )
        argv = to_argv(options)
        secrets = to_environ(options)
        self._command = [python, "-m", "aiopersonalize", "serve", *argv, "--stop-on-stdin-eof"]
        env = dict(os.environ)
        env.pop(ENV_CREDENTIALS, None)
        env.pop(ENV_TOKEN_SECRET, None)
        env.update(secrets)
        # The child imports this very package, wherever it is (installed or not).
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._env = env
        self._options = options
        self._startup_timeout = startup_timeout
        self._process: Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._endpoint_url: str | None = None
        self._returncode: int | None = None
        self._started = False

    @property
    def options(self) -> EmulatorOptions:
        """The settings the child was started with (its faults may since have changed)."""
        return self._options

    @property
    def command(self) -> list[str]:
        """The command line run (secrets travel in the environment, not here)."""
        return list(self._command)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``: what to pass as ``endpoint_url``; a
        ``RuntimeError`` before the process has started."""
        if self._endpoint_url is None:
            raise RuntimeError("The emulator process has not been started")
        return self._endpoint_url

    @property
    def pid(self) -> int | None:
        """The process id of the running ``aiopersonalize serve``, or ``None`` before it
        has started."""
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once stopped (0 for a clean exit)."""
        return self._returncode

    async def start(self) -> None:
        """Start the process and wait for its endpoint URL.

        Raises:
            RuntimeError: if already started, or the process exits or says nothing
                usable before ``startup_timeout``.
        """
        if self._started:
            raise RuntimeError("An EmulatorProcess can be started only once")
        self._started = True
        process = await anyio.open_process(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the banner and any error go to our stderr
            env=self._env,
        )
        self._process = process
        try:
            assert process.stdout is not None
            with anyio.fail_after(self._startup_timeout):
                line = await BufferedByteReceiveStream(process.stdout).receive_until(
                    b"\n", _MAX_LINE
                )
            url = line.decode().strip()
            if not url.startswith("http://"):
                raise RuntimeError(f"aiopersonalize serve printed {url!r}, not its endpoint URL")
        except BaseException as exc:
            # Output closed: the child is exiting. Let the event loop's watcher reap it
            # before any signal (Popen.send_signal's poll() would reap it first and lose
            # its exit status).
            closed = isinstance(exc, (anyio.EndOfStream, anyio.IncompleteRead))
            await self._stop(exiting=closed)
            if closed or isinstance(exc, TimeoutError):
                raise RuntimeError(
                    f"aiopersonalize serve did not start (exit status {self._returncode})"
                ) from exc
            raise
        self._endpoint_url = url
        self._session = aiohttp.ClientSession()

    async def aclose(self) -> None:
        """Stop the process and reap it; safe to call more than once."""
        await self._stop(exiting=False)

    async def _stop(self, *, exiting: bool) -> None:
        with anyio.CancelScope(shield=True):
            session, self._session = self._session, None
            if session is not None:
                await session.close()
            process, self._process = self._process, None
            if process is None:
                return
            if exiting:
                with anyio.move_on_after(_STOP_TIMEOUT):
                    await process.wait()
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(_STOP_TIMEOUT):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
            await process.aclose()
            self._returncode = process.returncode

    async def __aenter__(self) -> EmulatorProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- control endpoints -----------------------------------------------------------

    async def _control(self, method: str, name: str, payload: Any = None) -> Any:
        if self._session is None:
            raise RuntimeError("The emulator process is not running")
        url = f"{self.endpoint_url}{CONTROL_PREFIX}/{name}"
        async with self._session.request(method, url, json=payload) as response:
            response.raise_for_status()
            return await response.json()

    async def stats(self) -> dict[str, Any]:
        """The server's counters (``Stats.to_dict()``)."""
        result: dict[str, Any] = await self._control("GET", "stats")
        return result

    async def reset(self) -> None:
        """Zero the server's counters."""
        await self._control("POST", "reset")

    async def faults(self) -> Faults:
        """The faults the server injects."""
        return Faults.from_dict(await self._control("GET", "faults"))

    async def set_faults(self, faults: Faults) -> None:
        """Replace the faults the server injects (affects subsequent requests)."""
        await self._control("POST", "faults", faults.to_dict())
