"""The inventory's writer process: the database's work off this process's CPU.

A crawl is CPU-bound in the client (decoding pages), and the database's work per job
(rows, their history, B-tree inserts, a driver's encoding) costs more than that. In a
thread of the same process it runs under the same interpreter lock as the event loop:
measured on a 2-core machine (benchmarks/README.md, ``db``), a crawl into SQLite from a
worker thread took 2.7 times as long as the same crawl with no sink, its process
spending 35 µs of CPU a job against 13, most of the difference the two threads handing
the lock back and forth. So by default (``Inventory(url)``) the backend runs in a child
process, ``python -m aiopersonalize._inventory``: this process only encodes
each page's records (msgpack, about 0.4 µs a job) and writes them to a pipe; the child
decodes them and does everything else on a core of its own.

The protocol: frames on the child's stdin and stdout, each a 4-byte little-endian
length and a msgpack body. A request is one of the :data:`Request` structs (an array,
its tag first); each gets one reply, ``[true, value]`` or ``[false, message]`` (an
:class:`InventoryError`'s message: the same one-line errors as in process). The URL
goes in the first request, never on the command line (other users can read that).

The child ignores SIGINT (a Ctrl-C at the terminal is the parent's to handle) and ends
when its stdin closes: when the parent closes the inventory, or dies (``kill -9``
included). A transaction it is in then either commits or not, whole: a page's rows and
its position are one transaction in the database, wherever it is written from.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import msgspec
from anyio.streams.buffered import BufferedByteReceiveStream

from .._models import BatchInferenceJobSummary, BatchSegmentJobSummary, Page
from .._vocabulary import ChainKey
from ._backend import Backend, Finish, InventoryError, Job, Started, Totals
from ._url import in_process_backend

__all__ = ["ProcessBackend", "main"]

_HEADER = struct.Struct("<I")
_PIPE_SIZE = 1 << 20
_STOP_TIMEOUT = 10.0
"""Seconds the child gets to end after its stdin closes (a transaction to finish)."""


class _WirePage(msgspec.Struct, array_like=True, frozen=True):
    region: str
    kind: str
    solution_version_arn: str | None
    account: str | None
    next_token: str | None
    items: msgspec.Raw  # the records, msgpack: decoded by kind in the child


class _Open(msgspec.Struct, tag="open", array_like=True, frozen=True):
    url: str


class _Start(msgspec.Struct, tag="start", array_like=True, frozen=True):
    options: str
    now: datetime
    program: str
    resume: bool


class _Write(msgspec.Struct, tag="write", array_like=True, frozen=True):
    crawl_id: int
    now: datetime
    pages: list[_WirePage]


class _Listings(msgspec.Struct, tag="listings", array_like=True, frozen=True):
    crawl_id: int


class _Finish(msgspec.Struct, tag="finish", array_like=True, frozen=True):
    crawl_id: int
    now: datetime
    status: str
    scopes: list[tuple[str, str, str]]
    failures: list[str]
    error: str | None


Request = _Open | _Start | _Write | _Listings | _Finish

_ITEMS: dict[str, msgspec.msgpack.Decoder[Any]] = {
    "inference": msgspec.msgpack.Decoder(tuple[BatchInferenceJobSummary, ...]),
    "segment": msgspec.msgpack.Decoder(tuple[BatchSegmentJobSummary, ...]),
}


class ProcessBackend:
    """A backend (``_sqlite``'s or ``_postgres``') run in a child process, by proxy."""

    def __init__(self, url: str, shown: str) -> None:
        self._url = url
        self._shown = shown
        self._process: anyio.abc.Process | None = None
        self._requests: int | None = None  # the pipe to the child's stdin, our end
        self._replies: BufferedByteReceiveStream | None = None
        self._lock = anyio.Lock()
        self._unanswered = 0  # replies of calls cancelled before they came
        self._length: int | None = None  # of a reply whose body is still to come
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(tuple[bool, Any])

    async def open(self) -> int:
        requests, self._requests = _request_pipe()
        try:
            self._process = await anyio.open_process(
                [sys.executable, "-m", "aiopersonalize._inventory"],
                stdin=requests,
                stdout=subprocess.PIPE,
                stderr=None,  # a traceback of the child's own failure reaches the user
                start_new_session=True,  # the terminal's Ctrl-C is this process's to handle
            )
        except OSError as exc:
            self._close_requests()
            raise InventoryError(
                f"cannot open the inventory {self._shown}: cannot start its writer process: {exc}"
            ) from exc
        finally:
            os.close(requests)  # the child's end: it has its own copy
        assert self._process.stdout is not None
        self._replies = BufferedByteReceiveStream(self._process.stdout)
        try:
            version = await self._call(_Open(self._url))
        except BaseException:
            await self.aclose()
            raise
        return int(version)

    async def start(self, options: str, now: datetime, program: str, resume: bool) -> Started:
        crawl_id, resumed, positions = await self._call(_Start(options, now, program, resume))
        return Started(crawl_id, resumed, _positions(positions))

    async def write(self, crawl_id: int, now: datetime, pages: Sequence[Page[Job]]) -> None:
        encode = self._encoder.encode
        wire = [
            _WirePage(
                page.region or "",
                page.kind or "",
                page.solution_version_arn,
                page.account,
                page.next_token,
                msgspec.Raw(encode(page.items)),
            )
            for page in pages
        ]
        await self._call(_Write(crawl_id, now, wire))

    async def listings(self, crawl_id: int) -> list[tuple[str, str, str, str | None, bool]]:
        found = await self._call(_Listings(crawl_id))
        return [(r, k, v, a, bool(d)) for r, k, v, a, d in found]

    async def finish(self, crawl_id: int, now: datetime, finish: Finish) -> Totals:
        request = _Finish(
            crawl_id,
            now,
            finish.status,
            list(finish.scopes),
            list(finish.failures),
            finish.error,
        )
        return Totals(*await self._call(request))

    async def aclose(self) -> None:
        """Close the child's stdin (it ends after its current transaction), wait for it
        to exit, and kill it if it has not after :data:`_STOP_TIMEOUT` seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        with anyio.CancelScope(shield=True):
            self._close_requests()
            with anyio.move_on_after(_STOP_TIMEOUT):
                await process.wait()
            if process.returncode is None:
                process.kill()
            await process.aclose()

    def _close_requests(self) -> None:
        requests, self._requests = self._requests, None
        if requests is not None:
            os.close(requests)

    async def _send(self, requests: int, frame: bytes) -> None:
        view = memoryview(frame)
        while True:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(requests, view) :]
            if not view:
                return
            await anyio.wait_writable(requests)

    async def _call(self, request: Request) -> Any:
        """Send ``request``, and return the reply's value (or raise its error).

        Cancellable while it waits: the request's reply is then read, and dropped, before
        the next call's (the child finishes what it was asked either way; a page written
        or not is whole).
        """
        async with self._lock:
            process, replies, requests = self._process, self._replies, self._requests
            if process is None or replies is None or requests is None:
                raise InventoryError(f"the inventory {self._shown} is closed")
            body = self._encoder.encode(request)
            try:
                while self._unanswered:
                    await self._reply(replies)
                    self._unanswered -= 1
                with anyio.CancelScope(shield=True):  # a frame goes whole or not at all
                    await self._send(requests, _HEADER.pack(len(body)) + body)
                self._unanswered += 1
                ok, value = await self._reply(replies)
                self._unanswered -= 1
            except (BrokenPipeError, anyio.EndOfStream, anyio.IncompleteRead) as exc:
                raise await self._gone(process) from exc
            if not ok:
                raise InventoryError(value)
            return value

    async def _reply(self, replies: BufferedByteReceiveStream) -> tuple[bool, Any]:
        if self._length is None:
            (self._length,) = _HEADER.unpack(await replies.receive_exactly(_HEADER.size))
        body = await replies.receive_exactly(self._length)
        self._length = None
        reply: tuple[bool, Any] = self._decoder.decode(body)
        return reply

    async def _gone(self, process: anyio.abc.Process) -> InventoryError:
        with anyio.CancelScope(shield=True), anyio.move_on_after(_STOP_TIMEOUT):
            await process.wait()
        code = process.returncode
        how = (
            "is still running"
            if code is None
            else f"was killed by signal {-code}"
            if code < 0
            else f"exited with status {code}"
        )
        return InventoryError(
            f"cannot write to {self._shown}: the inventory's writer process {how}"
        )


def _request_pipe() -> tuple[int, int]:
    """A pipe for the requests: the child's end, and ours (non-blocking).

    Made wide enough for a whole write of pages where the system allows (Linux: 1 MiB,
    against 64 KiB by default): through a pipe of 64 KiB, a write of 64 pages (about 2
    MB) went one chunk per turn of a busy event loop, and the writer process waited for
    its input longer than it took to store it (measured: 60 to 100 ms a write).
    """
    theirs, ours = os.pipe()
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):  # the system's limit is lower: keep its size
            fcntl.fcntl(ours, set_size, _PIPE_SIZE)
    os.set_blocking(ours, False)
    return theirs, ours


def _positions(found: Sequence[Sequence[Any]]) -> dict[ChainKey, str | None]:
    return {ChainKey(*key): token for key, token in found}


# -- the child ---------------------------------------------------------------------


class _Child:
    """The child's end: one backend, its requests answered in order."""

    def __init__(self) -> None:
        self.backend: Backend | None = None

    async def handle(self, request: Request) -> Any:
        if isinstance(request, _Open):
            if self.backend is not None:
                raise InventoryError("the inventory's writer was opened twice")
            opening = in_process_backend(request.url)
            version = await opening.open()
            self.backend = opening
            return version
        backend = self.backend
        if backend is None:
            raise InventoryError("the inventory's writer was not opened")
        if isinstance(request, _Write):
            pages = [
                Page(
                    _ITEMS[p.kind].decode(p.items),
                    p.next_token,
                    p.solution_version_arn,
                    p.region,
                    p.kind,  # type: ignore[arg-type]
                    account=p.account,
                )
                for p in request.pages
            ]
            await backend.write(request.crawl_id, request.now, pages)
            return None
        if isinstance(request, _Start):
            started = await backend.start(
                request.options, request.now, request.program, request.resume
            )
            positions = [(tuple(key), token) for key, token in started.positions.items()]
            return (started.crawl_id, started.resumed, positions)
        if isinstance(request, _Listings):
            return await backend.listings(request.crawl_id)
        finish = Finish(request.status, request.scopes, request.failures, request.error)
        totals = await backend.finish(request.crawl_id, request.now, finish)
        return (totals.seen, totals.created, totals.changed, totals.reappeared, totals.deleted)


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or ``None`` at its end."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_request(fd: int) -> bytes | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    return _read_exactly(fd, _HEADER.unpack(header)[0])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def _serve(requests: int, replies: int) -> None:
    child = _Child()
    decoder = msgspec.msgpack.Decoder(Request)
    encoder = msgspec.msgpack.Encoder()
    try:
        while (body := await anyio.to_thread.run_sync(_read_request, requests)) is not None:
            try:
                reply: tuple[bool, Any] = (True, await child.handle(decoder.decode(body)))
            except InventoryError as exc:
                reply = (False, str(exc))
            except Exception as exc:  # not one of ours: said, not hidden
                reply = (False, f"the inventory's writer failed: {type(exc).__name__}: {exc}")
            data = encoder.encode(reply)
            _write_all(replies, _HEADER.pack(len(data)) + data)
    finally:
        if child.backend is not None:
            with anyio.CancelScope(shield=True):
                await child.backend.aclose()


def main() -> None:
    """The child's entry point: serve requests on stdin until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The replies get stdout's descriptor; anything printed goes to stderr instead.
    replies = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    anyio.run(_serve, sys.stdin.fileno(), replies)
