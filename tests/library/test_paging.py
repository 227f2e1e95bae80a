"""One listing's life, in the details the other suites do not pin down: the schedule
on which a failing page is asked again, the words of each way a listing ends early,
a listing closed by a caller that is itself being cancelled, and one dropped after its
event loop was closed.

The schedule is checked on ``fetch_patiently`` itself with a fake clock, sleep and
random draw (nothing waits); a listing outliving its loop on a producer of the test's
own, on a loop the test closes; the rest against a scripted peer over real HTTP.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import Any

import anyio
import pytest

from aiopersonalize import (
    ClientClosedError,
    Listing,
    Page,
    PaginationError,
    PersonalizeError,
    ServerError,
    ThrottlingError,
    UsageError,
)
from aiopersonalize._paging import TaskSet, fetch_patiently, prefetch_source

from ..clients import FakeClock
from ..helpers import producer_tasks, wait_no_producers
from ..peers import HANG, VERSION_ARN, connected, inference_page, inference_pages

MAX_BACKOFF = 20.0  # the documented cap of one wait


class Patience:
    """A fetch that fails ``failures`` times (throttled, then a 5xx) and then answers,
    with the clock, sleep and random draw that ``fetch_patiently`` is given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.clock = FakeClock(0.0)
        self.ranges: list[tuple[float, float]] = []  # each random draw's bounds
        self.slept: list[float] = []

    async def fetch(self, token: str | None, want: int) -> Page[str]:
        self.calls += 1
        if self.calls <= self.failures:
            if self.calls % 2:
                raise ThrottlingError("scripted", code="T", operation="ListBatchInferenceJobs")
            raise ServerError(
                "scripted", code="S", operation="ListBatchSegmentJobs", solution_version_arn="v1"
            )
        return Page(items=(f"{token}:{want}",), next_token=None)

    def jitter(self, low: float, high: float) -> float:
        self.ranges.append((low, high))
        return high  # the longest wait the draw allows

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)

    async def run(self, retry_window: float) -> Page[str]:
        return await fetch_patiently(
            self.fetch,
            "t1",
            7,
            retry_window=retry_window,
            clock=self.clock,
            sleep=self.sleep,
            jitter=self.jitter,
        )


async def test_a_failing_page_is_asked_again_with_doubling_full_jitter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each wait before asking a failed page again is drawn from zero up to 0.5 s doubled
    per failure, capped at 20 s, and logged (the listing, the error, the wait, the count);
    the page then comes from its own token."""
    patience = Patience(failures=8)
    with caplog.at_level(logging.INFO, logger="aiopersonalize"):
        page = await patience.run(retry_window=1000)
    assert page.items == ("t1:7",)
    caps = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_BACKOFF, MAX_BACKOFF]
    assert patience.ranges == [(0, cap) for cap in caps]
    assert patience.slept == caps
    assert patience.calls == 9
    assert [r.getMessage() for r in caplog.records][:2] == [
        "ListBatchInferenceJobs of the account failed with ThrottlingError; "
        "asking for the page again in 0.5 s (failure 1)",
        "ListBatchSegmentJobs of v1 failed with ServerError; "
        "asking for the page again in 1.0 s (failure 2)",
    ]
    assert len(caplog.records) == 8


async def test_asking_again_stops_where_the_next_wait_would_pass_the_window() -> None:
    """Waits are spent from the first failure for up to ``retry_window`` seconds: the
    page is asked again while the next wait still ends within it, and the error is
    raised as soon as it would not."""
    patience = Patience(failures=100)
    with pytest.raises(ThrottlingError):
        await patience.run(retry_window=7.5)  # 0.5 + 1 + 2 + 4 = 7.5: four waits fit
    assert patience.slept == [0.5, 1.0, 2.0, 4.0]
    assert patience.calls == 5
    none = Patience(failures=100)
    with pytest.raises(ThrottlingError):
        await none.run(retry_window=0.4)  # not even the first wait fits
    assert (none.slept, none.calls) == ([], 1)


@pytest.mark.parametrize("prefetch", [1, 2])
async def test_the_words_of_a_listing_ended_by_closing_the_client(prefetch: int) -> None:
    """A listing made before ``aclose()`` and iterated after says "the client is
    closed"; one waiting on the peer when the client closes says the client was closed
    while it was running."""
    async with connected([HANG]) as (peer, client):
        waiting = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        later = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        outcome: list[BaseException] = []

        async def iterate() -> None:
            try:
                await waiting.collect()
            except PersonalizeError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(iterate)
            await peer.received.reach(1)
            await client.aclose()
        with pytest.raises(ClientClosedError) as info:
            await later.collect()
    assert [(type(e), str(e)) for e in outcome] == [
        (ClientClosedError, "the client was closed while this listing was running")
    ]
    assert str(info.value) == "the client is closed"
    await wait_no_producers()


async def test_a_listing_whose_producer_is_cancelled_says_so() -> None:
    """When a listing's producer task is cancelled by someone else (not by closing the
    client), the consumer gets a PersonalizeError saying so instead of waiting for ever."""
    async with connected([HANG]) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN)
        consumer = asyncio.get_running_loop().create_task(listing.collect())
        with anyio.fail_after(10):
            await peer.received.reach(1)
        (producer,) = producer_tasks() - {consumer}
        producer.cancel()
        with anyio.fail_after(10), pytest.raises(PersonalizeError) as info:
            await consumer
    assert (type(info.value), str(info.value)) == (
        PersonalizeError,
        "the listing's producer was cancelled",
    )


async def test_a_producer_cancelled_before_its_first_step_ends_the_listing() -> None:
    """A client closed right after a listing started, before its producer task ever
    ran, ends the listing with ClientClosedError rather than leaving it waiting."""
    async with connected(inference_pages(2)) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN)
        first = asyncio.get_running_loop().create_task(listing.__anext__())
        # One scheduling step: ``first`` spawns the producer and waits on its stream;
        # this task runs again before the producer's first step.
        await anyio.lowlevel.checkpoint()
        assert not first.done()
        await client.aclose()
        with anyio.fail_after(10), pytest.raises(ClientClosedError):
            await first
    assert peer.received.value == 0


@pytest.mark.parametrize("prefetch", [1, 2])
async def test_aclose_in_a_cancelled_scope_still_waits_for_the_producer(prefetch: int) -> None:
    """Closing a listing from a task that is being cancelled still waits until its
    producer has finished: nothing of it is left running when ``aclose`` returns, and
    the listing then refuses to be entered again."""
    async with connected([inference_page(0, 2, "t1"), HANG]) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        with anyio.fail_after(10):
            await listing.__anext__()
            await peer.received.reach(2)  # the producer waits on the second page
        with anyio.CancelScope() as scope:
            scope.cancel()
            await listing.aclose()
        assert producer_tasks() == set()
        with pytest.raises(UsageError) as info:
            async with listing:
                pass
    assert str(info.value) == "this listing is closed; start a new one"


async def test_aclose_in_a_cancelled_scope_still_waits_for_a_merged_listings_pool() -> None:
    """Closing a merged listing from a task that is being cancelled still waits until its
    producer has stopped its pool of workers, which takes the event loop more than one
    turn: nothing of it is left running when ``aclose`` returns."""
    async with connected([inference_page(0, 2, "t1"), HANG]) as (peer, client):
        listing = client.list_batch_inference_jobs_many([VERSION_ARN])
        with anyio.fail_after(10):
            await listing.__anext__()
            await peer.received.reach(2)  # the worker waits on the second page
        with anyio.CancelScope() as scope:
            scope.cancel()
            await listing.aclose()
        assert producer_tasks() == set()


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_a_page_larger_than_asked_is_cut_to_max_items(prefetch: int) -> None:
    """A service that answers with more jobs than the ``maxResults`` asked has its page
    cut to what ``max_items`` still wants, and the listing ends there."""
    async with connected([inference_page(0, 5, "t1")]) as (peer, client):
        listing = client.list_batch_inference_jobs(
            VERSION_ARN, max_items=3, page_size=10, prefetch=prefetch
        )
        async with listing:
            pages = [page async for page in listing.pages()]
    assert [len(page.items) for page in pages] == [3]
    assert [body["maxResults"] for _, body in peer.requests] == [3]


async def test_a_repeated_token_is_refused_in_words_naming_the_listing() -> None:
    """A nextToken the service already gave in this listing raises PaginationError saying
    so, naming the operation and the solution version."""
    script = [inference_page(0, 1, "same"), inference_page(1, 1, "same")]
    async with connected(script) as (_peer, client):
        with pytest.raises(PaginationError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert str(info.value) == (
        "the service returned a nextToken it had already returned in this listing; "
        "stopping instead of looping "
        f"(operation=ListBatchInferenceJobs, solution_version_arn={VERSION_ARN})"
    )


async def test_a_listing_says_what_it_lists_and_refuses_misuse_in_words() -> None:
    """A listing's repr names its operation, version and state; iterating it both ways,
    or after it was closed (by items, by a new ``pages()`` or by one taken before),
    raises UsageError saying which."""
    async with connected(inference_pages(2)) as (_peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN)
        assert repr(listing) == f"<Listing ListBatchInferenceJobs {VERSION_ARN} [new]>"
        await listing.__anext__()
        assert repr(listing) == f"<Listing ListBatchInferenceJobs {VERSION_ARN} [iterating items]>"
        with pytest.raises(UsageError) as both:
            listing.pages()
        other = client.list_batch_inference_jobs(VERSION_ARN)
        taken = other.pages()
        await listing.aclose()
        await other.aclose()
        assert repr(listing) == f"<Listing ListBatchInferenceJobs {VERSION_ARN} [closed]>"
        closed = "this listing is closed; start a new one"
        with pytest.raises(UsageError, match=f"^{closed}$"):
            await listing.__anext__()
        with pytest.raises(UsageError, match=f"^{closed}$"):
            listing.pages()
        with pytest.raises(UsageError, match=f"^{closed}$"):
            await taken.__anext__()
    assert str(both.value) == "this listing is already iterating items; iterate it one way"


def test_a_listing_dropped_after_its_event_loop_was_closed_is_dropped_quietly() -> None:
    """A prefetching listing dropped after its event loop was closed, with its producer
    still waiting, is cleaned up without an error: cancelling a task of a closed loop
    raises RuntimeError, which the cleanup lets go."""
    loop = asyncio.new_event_loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    tasks = TaskSet()

    async def produce(send: Any) -> None:
        await send.send(Page(items=(1,), next_token="t1"))
        await anyio.sleep_forever()  # a request never answered

    listing: Listing[int] | None = Listing(
        prefetch_source(produce, prefetch=1, tasks=tasks), description="abandoned"
    )
    assert listing is not None
    assert loop.run_until_complete(listing.__anext__()) == 1
    loop.close()
    assert len(tasks) == 1  # the producer, waiting for ever on a closed loop
    unraisable: list[BaseException | None] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda info: unraisable.append(info.exc_value)
    try:
        listing = None
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert unraisable == []
    assert reported == []
