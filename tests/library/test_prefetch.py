"""Listings fetch ahead of the consumer, by exactly the configured depth."""

from __future__ import annotations

from typing import Any

import pytest

from aiopersonalize import PaginationError

from ..peers import VERSION_ARN, Reply, connected, inference_page, inference_pages, settled

PAGES = 6


def _guarded(script: list[Any], bound: list[int], violations: list[str]) -> list[Any]:
    """Wrap each step so the server checks, as each request arrives, that it is no
    further ahead than allowed (bound[0] is the highest request number allowed now)."""

    def guard(step: Reply, number: int) -> Any:
        def answer(_body: dict[str, Any]) -> Reply:
            if number > bound[0]:
                violations.append(f"request {number} arrived while only {bound[0]} allowed")
            return step

        return answer

    return [guard(step, n) for n, step in enumerate(script, start=1)]


@pytest.mark.parametrize("prefetch", [0, 1, 2, 3])
async def test_pages_up_to_n_plus_prefetch_are_requested_while_the_consumer_holds_page_n(
    prefetch: int,
) -> None:
    """While the consumer holds page N, the pages up to N + prefetch are requested, and never
    one more; with prefetch=0 a page is requested only when the consumer asks for it."""
    ahead = max(prefetch, 1)
    bound = [ahead]
    violations: list[str] = []
    async with connected(_guarded(inference_pages(PAGES), bound, violations)) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        held = 0
        async with listing:
            async for _page in listing.pages():
                held += 1
                bound[0] = held + ahead
                if prefetch:
                    await peer.received.reach(min(held + prefetch, PAGES))
                else:
                    assert peer.received.value == held
        assert held == PAGES
    assert violations == []


@pytest.mark.parametrize("prefetch", [0, 1, 2, 3])
async def test_a_consumer_stalled_on_its_first_page_has_exactly_prefetch_pages_requested_ahead(
    prefetch: int,
) -> None:
    """A consumer that holds its first page finds the producer blocked once it has
    requested ``prefetch`` pages beyond it, not one more (one page in all with
    prefetch=0); the rest then arrives whole."""
    async with connected(inference_pages(PAGES)) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        async with listing:
            pages = listing.pages()
            first = await pages.__anext__()
            assert await settled(peer) == 1 + prefetch
            rest = [page async for page in pages]
    assert [len(page.items) for page in [first, *rest]] == [2] * PAGES


async def test_items_arrive_in_service_order_across_pages() -> None:
    """Iterating records yields every job of every page, once, in the order the service sent them."""
    async with connected(inference_pages(4, per_page=3)) as (peer, client):
        jobs = await client.list_batch_inference_jobs(VERSION_ARN, prefetch=2).collect()
    assert [j.job_name for j in jobs] == [f"job-{i}" for i in range(12)]
    assert [body.get("nextToken") for _, body in peer.requests] == [None, "t1", "t2", "t3"]


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_a_repeated_next_token_raises_instead_of_looping(prefetch: int) -> None:
    """When the service returns a nextToken it returned before, the listing yields the pages
    before that one and then raises PaginationError naming the operation and version,
    without re-requesting (the page carrying the repeated token is withheld)."""
    script = [
        inference_page(0, 2, "A"),
        inference_page(2, 2, "B"),
        inference_page(4, 2, "A"),
        inference_page(6, 2, None),
    ]
    seen: list[str | None] = []

    async def consume(listing: Any) -> None:
        async for job in listing:
            seen.append(job.job_name)  # noqa: PERF401 - the jobs before the error matter

    async with connected(script) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        with pytest.raises(PaginationError) as info:
            await consume(listing)
    assert seen == [f"job-{i}" for i in range(4)]
    assert info.value.operation == "ListBatchInferenceJobs"
    assert info.value.solution_version_arn == VERSION_ARN
    assert len(peer.requests) == 3


async def test_a_starting_token_repeated_by_the_service_is_caught() -> None:
    """A service that answers the starting token with that same token is caught at once."""
    async with connected([inference_page(0, 1, "S")]) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, starting_token="S")
        with pytest.raises(PaginationError):
            await listing.collect()
    assert len(peer.requests) == 1


async def test_max_items_asks_only_for_what_is_still_wanted() -> None:
    """With max_items, each request's maxResults is what is still wanted, so the listing
    stops exactly there and the last page's token is the service's own."""
    script = [inference_page(0, 4, "t1"), inference_page(4, 3, "t2")]
    async with connected(script) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, page_size=4, max_items=7)
        pages = [p async for p in listing.pages()]
    assert [len(p.items) for p in pages] == [4, 3]
    assert pages[-1].next_token == "t2"
    assert [body["maxResults"] for _, body in peer.requests] == [4, 3]
