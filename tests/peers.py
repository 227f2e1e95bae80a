"""A scripted AWS JSON 1.1 peer: a small aiohttp app of the tests' own, for response
shapes and timings the emulator will not make (a repeated nextToken, a request that is
never answered, a gate the test opens).

Each request is answered by the next step of a script: a ``Reply`` (status, JSON body
or raw bytes), ``HANG`` (never answer), or a callable taking the request's JSON and
returning a ``Reply`` or an awaitable of one; once the script is used up, the
``responder`` (such a step) answers every request. Requests are recorded, and the tests can
wait, without sleeping, for the n-th request or for the n-th request the client gave
up on (the server cancels a handler whose client disconnected).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import aiohttp
import anyio
from aiohttp import web

from aiopersonalize import Client

JOB_ARN = "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/{}"
VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/s/1a2b3c"


@dataclass(frozen=True)
class Reply:
    body: Any = field(default_factory=dict)
    status: int = 200
    raw: bytes | None = None


HANG = object()

Step = Reply | object | Callable[[dict[str, Any]], Reply | Awaitable[Reply]]


class _Counter:
    """A count that tasks can wait on reaching a value."""

    def __init__(self) -> None:
        self.value = 0
        self._waiters: list[tuple[int, anyio.Event]] = []

    def add(self) -> None:
        self.value += 1
        for target, event in self._waiters:
            if self.value >= target:
                event.set()

    async def reach(self, target: int, *, within: float = 10) -> None:
        # The timeout only turns a would-be hang into a failure; it never paces a test.
        if self.value >= target:
            return
        event = anyio.Event()
        self._waiters.append((target, event))
        with anyio.fail_after(within):
            await event.wait()


@dataclass
class Peer:
    endpoint_url: str
    requests: list[tuple[str, dict[str, Any]]]
    script: list[Step]
    received: _Counter
    abandoned: _Counter
    headers: list[dict[str, str]] = field(default_factory=list)

    def operations(self) -> list[str]:
        return [op for op, _ in self.requests]


async def settled(peer: Peer) -> int:
    """The number of requests the peer has received, once nothing can happen without the
    consumer: every task is blocked, twice in a row, with no new request in between (a
    response the client has not read yet makes its task ready at the next select, so
    the second look would see it)."""
    with anyio.fail_after(10):
        while True:
            before = peer.received.value
            await anyio.wait_all_tasks_blocked()
            await anyio.wait_all_tasks_blocked()
            if peer.received.value == before:
                return before


def error(code: str, message: str = "scripted", status: int = 400) -> Reply:
    return Reply({"__type": code, "message": message}, status=status)


def inference_page(first: int, count: int, token: str | None) -> Reply:
    """A ListBatchInferenceJobs page of jobs ``job-<first> .. job-<first + count - 1>``."""
    return job_page(VERSION_ARN, first, count, token, name="job")


def by_token(pages: dict[str | None, Reply]) -> Callable[[dict[str, Any]], Awaitable[Reply]]:
    """A responder answering each request by its nextToken; an unknown token is never
    answered (as HANG), so concurrent listings can share one peer in any order."""

    async def answer(body: dict[str, Any]) -> Reply:
        reply = pages.get(body.get("nextToken"))
        if reply is None:
            await anyio.sleep_forever()
        assert reply is not None
        return reply

    return answer


def inference_pages(pages: int, per_page: int = 2) -> list[Step]:
    """A script of ``pages`` pages chained by tokens ``t1``, ``t2``, ..."""
    return [
        inference_page(p * per_page, per_page, f"t{p + 1}" if p + 1 < pages else None)
        for p in range(pages)
    ]


@asynccontextmanager
async def connected(
    script: Iterable[Step], *, responder: Step | None = None, **client_options: Any
) -> AsyncIterator[tuple[Peer, Client]]:
    """A scripted peer and an open Client pointed at it."""
    async with (
        scripted_peer(script, responder=responder) as peer,
        Client(endpoint_url=peer.endpoint_url, **client_options) as client,
    ):
        yield peer, client


@asynccontextmanager
async def scripted_peer(
    script: Iterable[Step], *, responder: Step | None = None
) -> AsyncIterator[Peer]:
    steps = list(script)
    requests: list[tuple[str, dict[str, Any]]] = []
    received, abandoned = _Counter(), _Counter()
    headers: list[dict[str, str]] = []
    forever = anyio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        target = request.headers.get("X-Amz-Target", "")
        body = json.loads(await request.read() or b"{}")
        requests.append((target.rpartition(".")[2], body))
        headers.append(dict(request.headers))
        received.add()
        step = steps.pop(0) if steps else (responder or Reply({}))
        try:
            if step is HANG:
                await forever.wait()
                step = Reply({})
            if callable(step):
                step = step(body)
                if inspect.isawaitable(step):
                    step = await step
        except anyio.get_cancelled_exc_class():
            abandoned.add()  # the client closed the connection while waiting
            raise
        assert isinstance(step, Reply)
        payload = step.raw if step.raw is not None else json.dumps(step.body).encode()
        return web.Response(
            status=step.status,
            body=payload,
            headers={"x-amzn-RequestId": f"req-{len(requests)}"},
            content_type="application/x-amz-json-1.1",
        )

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Peer(f"http://127.0.0.1:{port}", requests, steps, received, abandoned, headers)
    finally:
        forever.set()
        await runner.cleanup()


@asynccontextmanager
async def recording_proxy(upstream: str) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A small aiohttp app that passes every request on to ``upstream`` as it came and
    records its body: what the client asked for, as it went over the wire. Yields the
    proxy's endpoint URL and the bodies, in the order they arrived."""
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        bodies.append(body)
        async with session.request(
            request.method, upstream + request.path_qs, data=body, headers=request.headers
        ) as answer:
            payload = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower().startswith("x-amz")}
            return web.Response(
                status=answer.status,
                body=payload,
                headers={**kept, "Content-Type": answer.headers["Content-Type"]},
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        try:
            yield f"http://127.0.0.1:{port}", bodies
        finally:
            await runner.cleanup()


# -- a raw HTTP peer ---------------------------------------------------------------------
#
# For faults below HTTP that an aiohttp server will not make: a connection reset (RST) or
# closed (FIN) before the declared body is complete, a chunked body cut mid-chunk, an
# answer stalled before its headers or in the middle of its body.

RawEnd = Literal["keep", "close", "reset", "hang"]


@dataclass(frozen=True)
class Raw:
    """Bytes to answer a request with, then what the connection does: ``"keep"`` (stays
    open for the next request), ``"close"`` (FIN), ``"reset"`` (RST) or ``"hang"``
    (nothing more is sent until the client closes it: the request is then abandoned)."""

    data: bytes = b""
    end: RawEnd = "keep"


def raw(
    reply: Reply, *, sent: int | None = None, end: RawEnd = "keep", chunked: bool = False
) -> Raw:
    """``reply`` as HTTP/1.1 bytes declaring its whole body, by Content-Length or (with
    ``chunked``) as one chunk; with ``sent``, only the head and the body's first ``sent``
    bytes are sent."""
    body = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
    head = b"HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.1\r\n%s\r\n\r\n" % (
        reply.status,
        HTTPStatus(reply.status).phrase.encode(),
        framing,
    )
    prefix = b"%x\r\n" % len(body) if chunked else b""
    whole = prefix + body + (b"\r\n0\r\n\r\n" if chunked else b"")
    return Raw(head + (whole if sent is None else whole[: len(prefix) + sent]), end)


RawStep = Raw | Callable[[dict[str, Any]], Raw]


@dataclass
class RawPeer:
    endpoint_url: str
    requests: list[tuple[str, dict[str, Any]]]
    received: _Counter
    abandoned: _Counter


@asynccontextmanager
async def raw_peer(
    script: Iterable[RawStep], *, responder: RawStep | None = None
) -> AsyncIterator[RawPeer]:
    """A bare asyncio HTTP/1.1 peer answering each request with the next step of
    ``script`` (a ``Raw``, or a callable taking the request's JSON and returning one),
    then with ``responder``. Requests are recorded and counted as for ``scripted_peer``;
    a ``"hang"`` answer counts as abandoned once the client closes its connection."""
    steps = list(script)
    requests: list[tuple[str, dict[str, Any]]] = []
    received, abandoned = _Counter(), _Counter()
    handlers: set[asyncio.Task[Any]] = set()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for another."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed its idle connection
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        target = re.search(rb"(?i)\r\nx-amz-target: *([^\r]*)", head)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        operation = target.group(1).decode().rpartition(".")[2] if target else ""
        requests.append((operation, json.loads(body or b"{}")))
        received.add()
        step = steps.pop(0) if steps else responder
        assert step is not None, "the script is used up"
        reply = step if isinstance(step, Raw) else step(requests[-1][1])
        writer.write(reply.data)
        await writer.drain()
        if reply.end == "reset":
            # Linger 0: closing sends RST instead of FIN.
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif reply.end == "hang":
            with contextlib.suppress(ConnectionError):
                while await reader.read(65536):
                    pass  # until the client closes (or resets) the connection
            abandoned.add()
        return reply.end == "keep"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while await answer(reader, writer):
                pass
        except ConnectionError:
            pass  # the client reset the connection
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield RawPeer(f"http://127.0.0.1:{port}", requests, received, abandoned)
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.wait(set(handlers))
        await server.wait_closed()


def job_page(
    version: str, first: int, count: int, token: str | None, *, name: str | None = None
) -> Reply:
    """A ListBatchInferenceJobs page of ``version``'s jobs ``first .. first + count - 1``,
    named ``<name>-<n>`` (by default, ``name`` is the version's own)."""
    name = name or version.rpartition("/")[2]
    jobs = [
        {
            "batchInferenceJobArn": JOB_ARN.format(f"{name}-{i}"),
            "jobName": f"{name}-{i}",
            "status": "ACTIVE",
            "creationDateTime": 1_700_000_000 - i,
            "solutionVersionArn": version,
        }
        for i in range(first, first + count)
    ]
    body: dict[str, Any] = {"batchInferenceJobs": jobs}
    if token is not None:
        body["nextToken"] = token
    return Reply(body)


def chained(pages: int, per_page: int = 1) -> Callable[[dict[str, Any]], Reply]:
    """A responder giving every version ``pages`` pages of ``per_page`` jobs, chained by
    the tokens ``p1``, ``p2``, ..."""

    def answer(body: dict[str, Any]) -> Reply:
        token = body.get("nextToken")
        number = 0 if token is None else int(token[1:])
        following = f"p{number + 1}" if number + 1 < pages else None
        return job_page(body["solutionVersionArn"], number * per_page, per_page, following)

    return answer
