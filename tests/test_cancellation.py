"""Leaving a listing early, in any way, cancels its request in flight and leaves nothing behind."""

from __future__ import annotations

import gc

import anyio
import pytest

from aiopersonalize import Client, UsageError

from .helpers import producer_tasks, wait_no_producers
from .peers import HANG, VERSION_ARN, Peer, by_token, connected, inference_page

# Page 1 arrives, and the prefetch of page 2 is never answered.
SCRIPT = [inference_page(0, 2, "t1"), HANG]


async def _prefetch_in_flight(peer: Peer) -> None:
    """Wait until the request for page 2 has reached the server."""
    await peer.received.reach(2)


async def test_break_cancels_the_prefetch_in_flight() -> None:
    """Breaking out of `async for` over a temporary listing cancels the page request in flight."""
    async with connected(SCRIPT) as (peer, client):
        async for _job in client.list_batch_inference_jobs(VERSION_ARN):
            await _prefetch_in_flight(peer)
            break
        await peer.abandoned.reach(1)
        await wait_no_producers()


async def test_leaving_async_with_cancels_the_prefetch_in_flight() -> None:
    """Leaving `async with listing` early cancels the page request in flight before it returns."""
    async with connected(SCRIPT) as (peer, client):
        async with client.list_batch_inference_jobs(VERSION_ARN, prefetch=2) as jobs:
            await jobs.__anext__()
            await _prefetch_in_flight(peer)
        assert producer_tasks() == set()
        await peer.abandoned.reach(1)


async def test_an_exception_in_the_consumer_cancels_the_prefetch() -> None:
    """An exception raised in the body of `async with listing` cancels the prefetch and propagates."""
    async with connected(SCRIPT) as (peer, client):
        with pytest.raises(LookupError):
            async with client.list_batch_inference_jobs(VERSION_ARN) as jobs:
                async for _job in jobs:
                    await _prefetch_in_flight(peer)
                    raise LookupError("consumer failed")
        assert producer_tasks() == set()
        await peer.abandoned.reach(1)


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_cancelling_the_consumer_cancels_the_request_and_closes_the_listing(
    prefetch: int,
) -> None:
    """Cancelling a consumer that waits for a page cancels that request, and the listing then
    refuses further use instead of silently restarting or ending."""
    script = [inference_page(0, 1, "t1"), HANG]
    async with connected(script) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def consume() -> None:
                with scope:
                    async for _job in listing:
                        pass

            tg.start_soon(consume)
            await _prefetch_in_flight(peer)
            scope.cancel()
        await peer.abandoned.reach(1)
        await wait_no_producers()
        with pytest.raises(UsageError):
            await listing.__anext__()


async def test_dropping_an_unclosed_listing_cancels_its_prefetch() -> None:
    """A listing dropped mid-way without being closed cancels its request in flight, with no
    warning and no pending task left behind."""
    async with connected(SCRIPT) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN)
        await listing.__anext__()
        await _prefetch_in_flight(peer)
        del listing
        gc.collect()
        await peer.abandoned.reach(1)
        await wait_no_producers()


async def test_a_listing_created_but_never_iterated_sends_nothing() -> None:
    """Creating a listing and dropping it unused sends no request and starts no task."""
    async with connected([]) as (peer, client):
        client.list_batch_inference_jobs(VERSION_ARN)
        gc.collect()
        assert producer_tasks() == set()
        listing = client.list_batch_segment_jobs(VERSION_ARN)
        await listing.aclose()
        await listing.aclose()
    assert peer.requests == []


async def test_a_closed_listing_refuses_further_use() -> None:
    """A listing closed before it was exhausted raises UsageError when iterated or re-entered."""
    async with connected([inference_page(0, 2, "t1")]) as (_peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=0)
        await listing.__anext__()
        await listing.aclose()
        with pytest.raises(UsageError):
            await listing.__anext__()
        with pytest.raises(UsageError):
            await listing.__aenter__()
        with pytest.raises(UsageError):
            listing.pages()


async def test_records_and_pages_cannot_be_mixed() -> None:
    """A listing iterated by record refuses to be iterated by page, and the other way round."""
    script = [inference_page(0, 2, "t1"), inference_page(2, 2, None)] * 2
    async with connected(script) as (_peer, client):
        by_record = client.list_batch_inference_jobs(VERSION_ARN)
        async with by_record:
            await by_record.__anext__()
            with pytest.raises(UsageError):
                by_record.pages()
        by_page = client.list_batch_inference_jobs(VERSION_ARN)
        async with by_page:
            pages = by_page.pages()
            await pages.__anext__()
            with pytest.raises(UsageError):
                await by_page.__anext__()


async def test_an_exhausted_listing_stays_exhausted() -> None:
    """Iterating a finished listing again yields nothing and sends nothing more."""
    async with connected([inference_page(0, 2, None)]) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN)
        assert len(await listing.collect()) == 2
        assert [job async for job in listing] == []
    assert len(peer.requests) == 1


async def test_closing_the_client_cancels_every_running_listing() -> None:
    """Closing a client stops every listing it started, with their requests in flight."""
    first_page_only = by_token({None: inference_page(0, 1, "t1")})
    async with connected([], responder=first_page_only) as (peer, client):
        first = client.list_batch_inference_jobs(VERSION_ARN)
        second = client.list_batch_inference_jobs(VERSION_ARN)
        await first.__anext__()
        await second.__anext__()
        await peer.received.reach(4)
        await client.aclose()
        assert producer_tasks() == set()
        await peer.abandoned.reach(2)


async def test_listings_survive_a_client_that_is_not_entered() -> None:
    """A client used without `async with` opens on first use and closes with aclose()."""
    async with connected([]) as (peer, _client):
        client = Client(endpoint_url=peer.endpoint_url)
        try:
            assert await client.list_batch_inference_jobs(VERSION_ARN).collect() == []
        finally:
            await client.aclose()
    assert len(peer.requests) == 1
