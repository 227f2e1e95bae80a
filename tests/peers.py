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

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

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


def error(code: str, message: str = "scripted", status: int = 400) -> Reply:
    return Reply({"__type": code, "message": message}, status=status)


def inference_page(first: int, count: int, token: str | None) -> Reply:
    """A ListBatchInferenceJobs page of jobs ``first .. first + count - 1``."""
    jobs = [
        {
            "batchInferenceJobArn": JOB_ARN.format(f"job-{i}"),
            "jobName": f"job-{i}",
            "status": "ACTIVE",
            "creationDateTime": 1_700_000_000 - i,
            "solutionVersionArn": VERSION_ARN,
        }
        for i in range(first, first + count)
    ]
    body: dict[str, Any] = {"batchInferenceJobs": jobs}
    if token is not None:
        body["nextToken"] = token
    return Reply(body)


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
