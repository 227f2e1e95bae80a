"""Listings: one nextToken chain, fetched ahead of the consumer.

Shape of a listing with ``prefetch=k`` (k >= 1)::

    producer task                         consumer (the caller's task)
    page_chain() --send--> [stream, buffer k-1] --receive--> Listing.__anext__

The producer runs in a task owned by the client (:class:`TaskSet`), not by the caller:
the public API is a plain ``async for``, so there is no caller's task group to put it
in, and a task group must never be held open across a ``yield`` to the consumer.
While the consumer works on page N, the producer has handed over nothing beyond it,
holds at most ``k - 1`` finished pages in the stream and fetches one more, so pages up
to N + k are requested and memory stays bounded. ``prefetch=0`` fetches in the
consumer's own ``__anext__``, with no task at all.

Leaving early (``break``, ``aclose()``, leaving ``async with``, cancellation, or just
dropping the listing) cancels the producer. A dropped listing is cleaned up by a
``weakref.finalize`` callback, which only does what is safe synchronously: close the
receiving end and cancel the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import hashlib
import logging
import random
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._exceptions import (
    ClientClosedError,
    PaginationError,
    PersonalizeError,
    ServerError,
    ThrottlingError,
    UsageError,
)
from ._models import Page
from ._telemetry import ListingSpan
from ._vocabulary import MAX_BACKOFF

__all__ = [
    "Listing",
    "PageSource",
    "TaskSet",
    "hand_over",
    "inline_source",
    "page_chain",
    "prefetch_source",
]

T = TypeVar("T")
# ``Self`` for Python 3.10 (``typing.Self`` is 3.11+): ``async with merged as jobs``
# gives a MergedListing, with its ``failures`` and ``progress``.
L = TypeVar("L", bound="Listing[Any]")

FetchPage = Callable[[str | None, int], Awaitable[Page[T]]]

_logger = logging.getLogger("aiopersonalize")
# Asking a failed page again: the first wait is up to this long, doubling to MAX_BACKOFF.
_BACKOFF_BASE = 0.5


def _digest(token: str) -> bytes:
    # Tokens can be 1500 characters long; remember a fixed-size digest of each.
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


async def fetch_patiently(
    fetch: FetchPage[T],
    token: str | None,
    want: int,
    *,
    retry_window: float,
    clock: Callable[[], float] = anyio.current_time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    jitter: Callable[[float, float], float] = random.uniform,
) -> Page[T]:
    """``fetch(token, want)``, asked again while it fails with throttling or a server
    error (botocore's own attempts spent), with exponential backoff and full jitter,
    for up to ``retry_window`` seconds from the first failure; then that error.

    Errors that asking again cannot mend (access denied, invalid input, a closed
    client, a bad response) are raised at once. The page is asked from its own token,
    so nothing is skipped or repeated. (``clock``, ``sleep`` and ``jitter``: the
    event loop's time, its sleep and the random draw of each wait, for the tests.)
    """
    deadline: float | None = None
    failures = 0
    while True:
        try:
            return await fetch(token, want)
        except (ThrottlingError, ServerError) as exc:  # noqa: PERF203 - the loop is the retry
            now = clock()
            if deadline is None:
                deadline = now + retry_window
            delay = jitter(0, min(MAX_BACKOFF, _BACKOFF_BASE * 2**failures))
            if now + delay > deadline:
                raise
            failures += 1
            _logger.info(
                "%s of %s failed with %s; asking for the page again in %.1f s (failure %d)",
                exc.operation,
                exc.solution_version_arn or "the account",
                type(exc).__name__,
                delay,
                failures,
            )
            await sleep(delay)


async def page_chain(
    fetch: FetchPage[T],
    *,
    starting_token: str | None,
    page_size: int,
    max_items: int | None,
    operation: str,
    solution_version_arn: str | None = None,
    retry_window: float = 0.0,
) -> AsyncGenerator[Page[T], None]:
    """The pages of one nextToken chain, in order; each page asked again for up to
    ``retry_window`` seconds while it fails with throttling or a server error
    (:func:`fetch_patiently`).

    With ``max_items``, each request asks for no more than the items still wanted,
    so the last page is whole and its ``next_token`` is the service's own: resuming
    from it neither skips nor repeats a job. A nextToken that the chain has already
    seen (including ``starting_token``) raises :class:`PaginationError` instead of
    being followed into a loop, and the page that carried it is not yielded: the token
    that fetched it is the last one handed out, so nothing is delivered twice.
    """
    seen: set[bytes] = set()
    token = starting_token
    if token is not None:
        seen.add(_digest(token))
    remaining = max_items
    while True:
        want = page_size if remaining is None else min(page_size, remaining)
        page = await fetch_patiently(fetch, token, want, retry_window=retry_window)
        if remaining is not None:
            if len(page.items) > remaining:  # the service sent more than asked
                page = dataclasses.replace(page, items=page.items[:remaining])
            remaining -= len(page.items)
        token = page.next_token
        if token is None or remaining == 0:
            yield page
            return
        digest = _digest(token)
        if digest in seen:
            # Checked before the page is handed over: a page answered again with its
            # own token (a stuck service) would otherwise deliver its jobs twice.
            raise PaginationError(
                "the service returned a nextToken it had already returned in this "
                "listing; stopping instead of looping",
                operation=operation,
                solution_version_arn=solution_version_arn,
            )
        seen.add(digest)
        yield page


async def hand_over(send: MemoryObjectSendStream[T], item: T) -> None:
    """Send ``item``, without a trip through the event loop when a receiver is waiting
    or the buffer has room (anyio's ``send()`` yields once even then). Producers call
    this between requests, which await soon enough."""
    try:
        send.send_nowait(item)
    except anyio.WouldBlock:
        await send.send(item)


class TaskSet:
    """The background tasks of one client: spawned by listings, ended by ``aclose()``."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        if self.closed:
            coro.close()
            raise ClientClosedError("the client is closed")
        task = asyncio.get_running_loop().create_task(coro)
        # The loop keeps only weak references to tasks; this set keeps them alive.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        """Cancel every task and wait until all have finished."""
        self.closed = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            with anyio.CancelScope(shield=True):
                await asyncio.wait(tasks)


class PageSource(Protocol[T]):
    """Where a listing gets its pages: ``None`` once the listing is complete."""

    async def next_page(self) -> Page[T] | None: ...

    async def aclose(self) -> None: ...

    def abandon(self) -> None:
        """Best-effort, synchronous cleanup for a listing dropped without closing."""


@final
class _InlineSource(Generic[T]):
    """Pages fetched in the consumer's own task (``prefetch=0``)."""

    def __init__(self, pages: AsyncGenerator[Page[T], None]) -> None:
        self._pages = pages

    async def next_page(self) -> Page[T] | None:
        try:
            return await anext(self._pages)
        except StopAsyncIteration:
            return None

    async def aclose(self) -> None:
        await self._pages.aclose()

    def abandon(self) -> None:
        # Nothing runs between the consumer's awaits; asyncio's async-generator
        # hooks finalize the suspended generator.
        pass


def inline_source(pages: AsyncGenerator[Page[T], None]) -> PageSource[T]:
    return _InlineSource(pages)


class _Marker(enum.Enum):
    DONE = "done"


@dataclass(frozen=True, slots=True)
class _Failure:
    error: Exception


_Item = Page[T] | _Failure | _Marker

Produce = Callable[[MemoryObjectSendStream[Any]], Awaitable[None]]
"""Sends pages (and nothing else) into the stream, in order, until the listing ends."""


@final
class _PrefetchSource(Generic[T]):
    """Pages fetched ahead by a producer task, through a bounded stream."""

    def __init__(self, produce: Produce, *, buffer: int, tasks: TaskSet) -> None:
        self._produce = produce
        self._buffer = buffer
        self._tasks = tasks
        self._receive: MemoryObjectReceiveStream[_Item[T]] | None = None
        self._task: asyncio.Task[None] | None = None

    def _start(self) -> MemoryObjectReceiveStream[_Item[T]]:
        send, receive = anyio.create_memory_object_stream[_Item[T]](self._buffer)
        try:
            self._task = self._tasks.spawn(self._run(send))
            # A task cancelled before its first step never runs ``_run``, which closes
            # ``send``: closed here too, or the consumer would wait for ever.
            self._task.add_done_callback(lambda _task: send.close())
        except BaseException:
            send.close()
            receive.close()
            raise
        self._receive = receive
        return receive

    async def _run(self, send: MemoryObjectSendStream[_Item[T]]) -> None:
        try:
            async with send:
                try:
                    await self._produce(send)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the consumer is gone
                except Exception as exc:  # handed to the consumer, raised there
                    await send.send(_Failure(exc))
                    return
                await send.send(_Marker.DONE)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    async def next_page(self) -> Page[T] | None:
        receive = self._receive or self._start()
        try:
            try:
                # A page already waiting is taken without a trip through the event
                # loop (anyio's receive() yields once even then).
                item = receive.receive_nowait()
            except anyio.WouldBlock:
                item = await receive.receive()
        except anyio.EndOfStream:
            # The producer ended without finishing: its task was cancelled.
            if self._tasks.closed:
                raise ClientClosedError(
                    "the client was closed while this listing was running"
                ) from None
            raise PersonalizeError("the listing's producer was cancelled") from None
        if item is _Marker.DONE:
            return None
        if isinstance(item, _Failure):
            raise item.error
        return item

    async def aclose(self) -> None:
        receive, task = self._receive, self._task
        if receive is not None:
            receive.close()
        if task is not None and not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait({task})

    def abandon(self) -> None:
        if self._receive is not None:
            self._receive.close()
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # the event loop is already closed
                task.cancel()


def prefetch_source(produce: Produce, *, prefetch: int, tasks: TaskSet) -> PageSource[Any]:
    """A source whose producer fetches up to ``prefetch`` pages ahead (``prefetch >= 1``)."""
    return _PrefetchSource(produce, buffer=prefetch - 1, tasks=tasks)


class _State(enum.Enum):
    NEW = "new"
    ITEMS = "iterating items"
    PAGES = "iterating pages"
    DONE = "done"
    CLOSED = "closed"


class Listing(Generic[T]):
    """The records of a listing, fetched page by page ahead of you.

    Use it as an async iterator of records, or as an async context manager that
    closes it on exit::

        async with client.list_batch_inference_jobs(arn) as jobs:
            async for job in jobs:
                ...

    :meth:`pages` iterates whole :class:`Page` objects instead (for checkpoints);
    :meth:`collect` gathers every record into a list. A listing is iterated once.
    Leaving it early in any way cancels the requests it has in flight.
    """

    def __init__(
        self, source: PageSource[T], *, description: str, span: ListingSpan | None = None
    ) -> None:
        self._source = source
        self._description = description
        self._state = _State.NEW
        self._items: tuple[T, ...] = ()
        self._position = 0
        # The listing's span (OpenTelemetry), current while a page is awaited, so the
        # tasks fetching ahead, started then, make their calls its children.
        self._span = span or ListingSpan("listing", description)
        self._finalizer = weakref.finalize(self, _abandon, source, self._span)
        self._finalizer.atexit = False

    def __repr__(self) -> str:
        return f"<Listing {self._description} [{self._state.value}]>"

    async def __aenter__(self: L) -> L:
        if self._state is _State.CLOSED:
            raise UsageError("this listing is closed; start a new one")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self: L) -> L:
        return self

    async def __anext__(self) -> T:
        if self._state is not _State.ITEMS:
            self._enter(_State.ITEMS)
        while self._position >= len(self._items):
            page = await self._next_page()
            if page is None:
                raise StopAsyncIteration
            self._items, self._position = page.items, 0
        item = self._items[self._position]
        self._position += 1
        return item

    def pages(self) -> AsyncIterator[Page[T]]:
        """Iterate whole pages; ``page.next_token`` resumes after that page."""
        self._enter(_State.PAGES)
        return self._iterate_pages()

    async def _iterate_pages(self) -> AsyncIterator[Page[T]]:
        while (page := await self._next_page()) is not None:
            yield page

    async def collect(self) -> list[T]:
        """Every (remaining) record, in order; the listing is closed afterwards."""
        async with self:
            return [item async for item in self]

    async def aclose(self) -> None:
        """Stop the listing and cancel what it has in flight. Safe to call twice."""
        if self._state in (_State.DONE, _State.CLOSED):
            return
        self._state = _State.CLOSED
        self._items = ()
        self._finalizer.detach()
        try:
            await self._source.aclose()
        finally:
            self._end_span(None)

    def _end_span(self, error: BaseException | None) -> None:
        """End the listing's span (subclasses add their counts)."""
        self._span.end(error)

    def _enter(self, mode: _State) -> None:
        state = self._state
        if state is _State.NEW:
            self._state = mode
        elif state is _State.CLOSED:
            raise UsageError("this listing is closed; start a new one")
        elif state is not mode and state is not _State.DONE:
            raise UsageError(f"this listing is already {state.value}; iterate it one way")

    async def _next_page(self) -> Page[T] | None:
        if self._state is _State.DONE:
            return None
        if self._state is _State.CLOSED:
            raise UsageError("this listing is closed; start a new one")
        try:
            with self._span.current():
                page = await self._source.next_page()
        except BaseException as exc:
            await self._finish(_State.CLOSED, exc)
            raise
        if page is None:
            await self._finish(_State.DONE)
        else:
            self._span.page(len(page.items), page.kind, page.region)
        return page

    async def _finish(self, state: _State, error: BaseException | None = None) -> None:
        self._state = state
        self._finalizer.detach()
        try:
            with anyio.CancelScope(shield=True):
                await self._source.aclose()
        finally:
            self._end_span(error)


def _abandon(source: PageSource[Any], span: ListingSpan) -> None:
    """A listing dropped without closing: cancel its producer, end its span."""
    try:
        source.abandon()
    finally:
        span.end()
