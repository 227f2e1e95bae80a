"""``Emulator``: the service on a loopback port, as an async context manager."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import os
import socket
from types import TracebackType

from aiohttp import web

from ._app import Service
from ._auth import DEFAULT_REGION
from ._faults import Faults, Stats
from ._inventory import KINDS, InventorySpec, JobKind, RegionInventory
from ._model import ACCOUNT_ID
from ._options import EmulatorOptions

__all__ = ["Emulator", "is_loopback"]
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
        options: the emulator's settings (``EmulatorOptions``: inventory, seed, faults,
            address, credentials, clock, job lifecycle, token secret); the defaults if
            not given.
    """

    def __init__(self, options: EmulatorOptions | None = None, /) -> None:
        if options is None:
            options = EmulatorOptions()
        elif not isinstance(options, EmulatorOptions):
            raise TypeError(f"options must be an EmulatorOptions, not {type(options).__name__}")
        self._options = options
        self._service = Service(options)
        self._host = options.host
        self._port = options.port
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
    def options(self) -> EmulatorOptions:
        """The settings the emulator was made with (``faults`` may since have changed)."""
        return self._options

    @property
    def seed(self) -> int:
        """The seed the inventory, fault draws and token key derive from."""
        return self._service.seed

    @property
    def inventory(self) -> InventorySpec:
        """The shape of the seeded inventory of each region."""
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

    @property
    def account_ids(self) -> tuple[str, ...]:
        """The organization's accounts, the management account first."""
        return self._service.identity.accounts

    @property
    def expired_tokens_refused(self) -> int:
        """Requests refused so far because their session token had expired."""
        return self._service.identity.expired_refused

    def _region(self, region: str, account: str = ACCOUNT_ID) -> RegionInventory:
        if account not in self._service.identity.accounts:
            raise ValueError(f"no account {account!r} in the emulated organization")
        return self._service.region(region, account)

    def dataset_group_arns(
        self, region: str = DEFAULT_REGION, *, account: str = ACCOUNT_ID
    ) -> list[str]:
        """The seeded dataset groups of ``region`` (of ``account``), newest first."""
        return [r.arn for r in self._region(region, account).dataset_groups]

    def solution_arns(
        self, region: str = DEFAULT_REGION, *, account: str = ACCOUNT_ID
    ) -> list[str]:
        """The seeded solutions of ``region`` (of ``account``), newest first."""
        return [r.arn for r in self._region(region, account).solutions]

    def solution_version_arns(
        self, region: str = DEFAULT_REGION, *, account: str = ACCOUNT_ID
    ) -> list[str]:
        """The seeded solution versions of ``region``, newest first.

        All of them, whatever their status, as ``ListSolutionVersions`` lists them:
        with ``InventorySpec.failed_versions_fraction`` or ``stopped_versions_fraction``
        some are not ACTIVE, and hold no batch jobs.
        """
        return [r.arn for r in self._region(region, account).versions]

    def job_count(
        self,
        kind: JobKind = "inference",
        solution_version_arn: str | None = None,
        region: str = DEFAULT_REGION,
        *,
        account: str = ACCOUNT_ID,
    ) -> int:
        """How many batch jobs of ``kind`` a full listing returns now (seeded + created).

        Args:
            kind: ``"inference"`` or ``"segment"``.
            solution_version_arn: count the jobs of this version only (0 for a version
                that is not ACTIVE, or unknown); by default the region's, which is the
                sum over its versions.
            region: the region.
            account: the account (the management account's by default).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be 'inference' or 'segment', not {kind!r}")
        return self._region(region, account).job_count(kind, solution_version_arn)


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
