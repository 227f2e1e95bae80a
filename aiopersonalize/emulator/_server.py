"""``Emulator``: the service on a loopback port, as an async context manager."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from types import TracebackType

from aiohttp import web

from ._app import Service
from ._auth import DEFAULT_REGION
from ._faults import Faults, Stats
from ._inventory import InventorySpec, JobKind, RegionInventory

__all__ = ["DEFAULT_HOST", "DEFAULT_JOB_TRANSITION_SECONDS", "Emulator", "is_loopback"]

DEFAULT_HOST = "127.0.0.1"
# Created jobs spend this long PENDING, then as long IN PROGRESS, then are ACTIVE.
DEFAULT_JOB_TRANSITION_SECONDS = 5.0
# Requests still running when the emulator stops get this long, then are cancelled.
_SHUTDOWN_TIMEOUT = 1.0


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(address: str, family: int) -> str:
    """The host part of a URL that reaches a socket bound to ``address``."""
    if ipaddress.ip_address(address).is_unspecified:
        # A wildcard bind is reachable over loopback, the only address known to work.
        address = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    return f"[{address}]" if family == socket.AF_INET6 else address


class Emulator:
    """A local Amazon Personalize (batch-job inventory) speaking the real wire protocol.

    ``async with Emulator() as emulator:`` serves on ``emulator.endpoint_url`` (a free
    loopback port by default) until the block exits; point boto3, aiobotocore or the
    aws CLI at it with ``endpoint_url`` / ``--endpoint-url``.

    Args:
        inventory: the shape of each region's seeded inventory
            (``InventorySpec.empty()`` for none).
        seed: derives the inventory, the fault draws and the paging-token key.
        faults: the faults to inject; replace ``emulator.faults`` to change them.
        host: the address to bind; loopback by default.
        port: the port to bind; 0 picks a free one.
        credentials: access key id -> secret key; when given, SigV4 signatures are
            verified against them. By default any credentials are accepted.
        clock: a zero-argument callable returning epoch seconds, for created jobs'
            timestamps and lifecycle and the rate cap's bucket (tests pass a fake clock).
        job_transition_seconds: how long a created job stays PENDING, and then
            IN PROGRESS, before it is ACTIVE.
        token_secret: the key of paging tokens; derived from ``seed`` if not given.
    """

    def __init__(
        self,
        *,
        inventory: InventorySpec | None = None,
        seed: int = 0,
        faults: Faults | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        credentials: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        job_transition_seconds: float = DEFAULT_JOB_TRANSITION_SECONDS,
        token_secret: bytes | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        self._service = Service(
            inventory=inventory if inventory is not None else InventorySpec(),
            seed=seed,
            faults=faults if faults is not None else Faults(),
            credentials=credentials,
            clock=clock,
            job_transition_seconds=job_transition_seconds,
            token_secret=token_secret,
        )
        self._host = host
        self._port = port
        self._state = _State.NEW
        self._runner: web.AppRunner | None = None
        self._endpoint_url: str | None = None

    def __repr__(self) -> str:
        where = self._endpoint_url or f"{self._host}:{self._port}"
        return f"<Emulator {self._state.value} {where} seed={self._service.seed}>"

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving.

        Raises:
            RuntimeError: if the emulator was already started.
            OSError: if the address cannot be bound.
        """
        if self._state is not _State.NEW:
            raise RuntimeError(
                f"An emulator can be started only once (this one is {self._state.value})"
            )
        self._state = _State.RUNNING
        runner = web.AppRunner(
            self._service.make_app(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            sock = await _bind(self._host, self._port)
            try:
                site = web.SockSite(runner, sock)
                await site.start()
            except BaseException:
                sock.close()
                raise
        except BaseException:
            self._state = _State.CLOSED
            await runner.cleanup()
            raise
        self._runner = runner
        address, port = sock.getsockname()[:2]
        self._port = port
        self._endpoint_url = f"http://{_url_host(address, sock.family)}:{port}"

    async def aclose(self) -> None:
        """Stop serving; safe to call more than once."""
        self._state = _State.CLOSED
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the running server ----------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``: what to pass as ``endpoint_url``."""
        if self._endpoint_url is None:
            raise RuntimeError("The emulator has not been started")
        return self._endpoint_url

    @property
    def port(self) -> int:
        """The bound port (the requested one before the emulator starts)."""
        return self._port

    @property
    def seed(self) -> int:
        return self._service.seed

    @property
    def inventory(self) -> InventorySpec:
        return self._service.spec

    @property
    def faults(self) -> Faults:
        """The faults injected; assign a new ``Faults`` to change subsequent requests."""
        return self._service.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        if not isinstance(faults, Faults):
            raise TypeError(f"faults must be a Faults, not {type(faults).__name__}")
        self._service.faults = faults

    @property
    def stats(self) -> Stats:
        """Counters of the AWS requests served so far."""
        return self._service.stats

    # -- the inventory, for tests ----------------------------------------------------

    def _region(self, region: str) -> RegionInventory:
        return self._service.region(region)

    def dataset_group_arns(self, region: str = DEFAULT_REGION) -> list[str]:
        """The seeded dataset groups of ``region``, newest first."""
        return [r.arn for r in self._region(region).dataset_groups]

    def solution_arns(self, region: str = DEFAULT_REGION) -> list[str]:
        """The seeded solutions of ``region``, newest first."""
        return [r.arn for r in self._region(region).solutions]

    def solution_version_arns(self, region: str = DEFAULT_REGION) -> list[str]:
        """The seeded solution versions of ``region``, newest first."""
        return [r.arn for r in self._region(region).versions]

    def job_count(
        self,
        kind: JobKind = "inference",
        solution_version_arn: str | None = None,
        region: str = DEFAULT_REGION,
    ) -> int:
        """How many batch jobs of ``kind`` a full listing returns now (seeded + created)."""
        if kind not in ("inference", "segment"):
            raise ValueError(f"kind must be 'inference' or 'segment', not {kind!r}")
        return self._region(region).job_count(kind, solution_version_arn)


async def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on the first address ``host`` resolves to.

    One socket, not one per address (as ``TCPSite`` would make for ``localhost``), so
    that port 0 gives one port and one endpoint URL.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            # Lets a restarted emulator rebind its fixed port at once.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
