"""Merged listings (``list_batch_*_jobs_many``): one stream of the jobs of many solution
versions under one bounded pool, over real HTTP through the real aiobotocore client.

Most tests run against the in-process emulator, whose counters (``stats.in_flight``,
``peak_in_flight``, ``requests``) are the server's view of the pool; where a test needs
a response shape or timing the emulator cannot make (a request never answered, a page
answered only once another request has arrived, a denial on the second page only), it
uses the scripted peer of ``peers.py``. The expected inventory comes from single-version
listings and ``Emulator.job_count``, never from the merge under test.
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from aiopersonalize import (
    AccessDeniedError,
    BatchInferenceJobSummary,
    Client,
    ClientClosedError,
    Listing,
    ListingFailure,
    MergedListing,
    MergeProgress,
    Page,
    PaginationError,
    ParamValidationError,
    UsageError,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import (
    Kind,
    arn_of,
    assert_exactly_once,
    many,
    producer_tasks,
    single_listings,
    wait_no_producers,
    wait_until,
)
from ..peers import Peer, Reply, chained, connected, error, job_page, settled

KINDS: list[Kind] = ["inference", "segment"]
OPERATION = {"inference": "ListBatchInferenceJobs", "segment": "ListBatchSegmentJobs"}
REGION = "us-east-1"  # the tests' AWS_DEFAULT_REGION (conftest.py)
ACCOUNT = "123456789012"

# 12 versions; 5 inference jobs (3 pages of 2) and 4 segment jobs (2 pages of 2) each.
SPEC = InventorySpec(
    dataset_groups=2,
    solutions_per_dataset_group=2,
    versions_per_solution=3,
    inference_jobs_per_version=5,
    segment_jobs_per_version=4,
)
# The emulator fixture's options, unless a test's own mark says otherwise.
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC))
# 60 versions of 3 jobs of each kind.
MANY = InventorySpec(
    dataset_groups=3,
    solutions_per_dataset_group=4,
    versions_per_solution=5,
    inference_jobs_per_version=3,
    segment_jobs_per_version=3,
)
# What botocore's attempts do, alone: no page asked again by us (test_rate.py).
NO_RETRY: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 1, "page_retry_window": 0}
# Generous enough that no call runs out of attempts at a 19% failure rate per attempt.
RETRYING: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 10, "page_retry_window": 0}


def version_arn(name: str) -> str:
    return f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/{name}/{name}"


# Well-formed ARNs of versions the emulator does not have: it lists them as empty.
UNKNOWN = [version_arn(f"gone{i}") for i in range(2)]
# The scripted peer's versions.
PEER_VERSIONS = [version_arn(f"v{i}") for i in range(6)]


def page_count(jobs: int, page_size: int) -> int:
    """Pages in a chain of ``jobs`` jobs: a chain without jobs still has its one last page."""
    return max(1, math.ceil(jobs / page_size))


def assert_nothing_logged(caplog: pytest.LogCaptureFixture) -> None:
    """No warning or error was logged (asyncio's own reports are caught by conftest.py)."""
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- the scripted peer's pages ----------------------------------------------------------


def names(jobs: list[Any]) -> list[str]:
    return [job.job_name for job in jobs]


# -- exactly once -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_every_job_arrives_exactly_once_under_latency_with_jitter(
    emulator: Emulator, kind: Kind
) -> None:
    """With every request delayed by a random 5-35 ms, so that pages of different versions
    arrive out of order, every job of every version arrives exactly once, each version's
    jobs in service order."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        versions = emulator.solution_version_arns()
        expected = await single_listings(emulator, kind, versions)
        emulator.faults = Faults(latency=0.005, latency_jitter=0.03)
        jobs = await many(client, kind)(versions, concurrency=4, page_size=2).collect()
        assert len(jobs) == sum(emulator.job_count(kind, v) for v in versions)
    assert_exactly_once(jobs, expected)


async def test_throttling_and_server_errors_are_retried_and_every_job_arrives_once(
    emulator: Emulator,
) -> None:
    """With 10% of requests throttled and 10% answered 500/503, both kinds listed at once
    each deliver every job exactly once (botocore retried the failures), and the client's
    request counters agree with what the emulator served."""
    async with Client(endpoint_url=emulator.endpoint_url, **RETRYING) as client:
        versions = emulator.solution_version_arns()[:8]
        expected = {kind: await single_listings(emulator, kind, versions) for kind in KINDS}
        emulator.faults = Faults(throttle_rate=0.1, error_rate=0.1)
        results: dict[Kind, list[Any]] = {}

        async def run(kind: Kind) -> None:
            listing = many(client, kind)(versions, concurrency=4, page_size=2)
            results[kind] = await listing.collect()

        async with anyio.create_task_group() as tg:
            for kind in KINDS:
                tg.start_soon(run, kind)
        stats = emulator.stats
        assert stats.throttled > 0
        assert stats.server_errors > 0
        calls = sum(page_count(len(arns), 2) for e in expected.values() for arns in e.values())
        assert client.stats.calls == calls
        assert client.stats.requests == stats.requests
        assert client.stats.retries == stats.throttled + stats.server_errors
    for kind in KINDS:
        assert_exactly_once(results[kind], expected[kind])


async def test_a_version_given_twice_is_listed_once(emulator: Emulator) -> None:
    """Versions given more than once (from a one-shot iterator) are listed once each: every
    job arrives once and the emulator sees one chain of requests per version."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        a, b, c = emulator.solution_version_arns()[:3]
        expected = await single_listings(emulator, "inference", [a, b, c])
        listing = client.list_batch_inference_jobs_many(iter([a, b, a, c, b, a]), page_size=2)
        jobs = await listing.collect()
        assert emulator.stats.by_operation["ListBatchInferenceJobs"] == 3 * page_count(5, 2)
    assert_exactly_once(jobs, expected)
    assert listing.progress.versions == 3
    assert listing.progress.versions_done == 3


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=MANY))
async def test_sixty_versions_one_job_per_page_all_arrive_exactly_once(
    emulator: Emulator, kind: Kind
) -> None:
    """Sixty versions listed one job per page (180 requests over 10 workers) deliver every
    job exactly once, with one request per page."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        versions = emulator.solution_version_arns()
        assert len(versions) == 60
        expected = await single_listings(emulator, kind, versions)
        listing = many(client, kind)(versions, concurrency=10, page_size=1)
        jobs = await listing.collect()
        assert emulator.stats.requests == 60 * page_count(3, 1)
    assert_exactly_once(jobs, expected)
    assert listing.progress == MergeProgress(
        versions=60,
        versions_done=60,
        versions_failed=0,
        pages=60 * page_count(3, 1),
        jobs=180,
        discovering=False,
    )


# -- the pool ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("concurrency", [1, 3, 8])
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC, faults=Faults(latency=0.01)))
async def test_concurrency_is_the_servers_peak_of_requests_in_flight(
    emulator: Emulator, kind: Kind, concurrency: int
) -> None:
    """With more versions than workers and every request taking 10 ms, the emulator sees
    exactly `concurrency` requests of the listing in flight at the peak, never more."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        versions = emulator.solution_version_arns()
        listing = many(client, kind)(versions, concurrency=concurrency, page_size=2)
        jobs = await listing.collect()
        assert emulator.stats.peak_in_flight == concurrency
        assert len(jobs) == sum(emulator.job_count(kind, v) for v in versions)


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC, faults=Faults(latency=0.01)))
async def test_the_clients_max_concurrency_caps_two_merged_listings_at_once(
    emulator: Emulator,
) -> None:
    """Two merged listings of concurrency 3 run at once by a client with max_concurrency=4
    have exactly 4 requests in flight at the emulator's peak, not 6."""
    async with Client(endpoint_url=emulator.endpoint_url, max_concurrency=4) as client:
        versions = emulator.solution_version_arns()
        counts: dict[Kind, int] = {}

        async def run(kind: Kind) -> None:
            counts[kind] = len(await many(client, kind)(versions, concurrency=3).collect())

        async with anyio.create_task_group() as tg:
            for kind in KINDS:
                tg.start_soon(run, kind)
        assert emulator.stats.peak_in_flight == 4
    assert counts == {"inference": 12 * 5, "segment": 12 * 4}


async def test_a_slow_version_holds_one_worker_while_the_others_finish(emulator: Emulator) -> None:
    """With one version's requests delayed by a minute, every job of all the other versions
    arrives while that one request is still in flight (no convoy behind it), and leaving
    the listing then abandons it."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        versions = emulator.solution_version_arns()
        slow, others = versions[0], versions[1:]
        expected = await single_listings(emulator, "inference", others)
        wanted = sum(len(arns) for arns in expected.values())
        emulator.faults = Faults(version_latency={slow: 60})
        seen: list[Any] = []
        listing = client.list_batch_inference_jobs_many(versions, concurrency=3, page_size=2)
        with anyio.fail_after(10):  # a convoy would wait the minute out
            async with listing:
                async for page in listing.pages():
                    assert page.solution_version_arn != slow
                    seen.extend(page.items)
                    if len(seen) == wanted:
                        assert emulator.stats.in_flight == 1  # the slow version's request
                        break
        assert producer_tasks() == set()
        await wait_until(lambda: emulator.stats.in_flight == 0, within=5)
    assert_exactly_once(seen, expected)


@pytest.mark.parametrize(("concurrency", "prefetch"), [(1, 1), (3, 1), (3, 2), (2, 3)])
async def test_a_stalled_consumer_has_at_most_concurrency_times_prefetch_pages_ahead(
    concurrency: int, prefetch: int
) -> None:
    """While the consumer holds its N-th page, at most N + concurrency x prefetch requests
    have reached the server (checked as each arrives); a consumer stalled on its first page
    finds the pool blocked with at least one page ahead per worker and no more than that
    bound sent, and the rest then arrives whole."""
    # The spec: at most concurrency x prefetch pages fetched ahead of the consumer. The
    # page the consumer holds counts as consumed (a single listing with prefetch=k sends
    # N + k requests while its consumer holds page N), and with no faults every request is
    # one page, so no constant is added. The lower bound is the pool kept full: each worker
    # has fetched a page for the stalled consumer.
    ahead = concurrency * prefetch
    pages_per_version = 4
    respond = chained(pages_per_version)
    held = 0
    arrived = 0
    violations: list[str] = []

    def guarded(body: dict[str, Any]) -> Reply:
        nonlocal arrived
        arrived += 1
        if arrived > held + ahead:
            violations.append(f"request {arrived} arrived while the consumer held page {held}")
        return respond(body)

    async with connected([], responder=guarded) as (peer, client):
        listing = client.list_batch_inference_jobs_many(
            PEER_VERSIONS, concurrency=concurrency, prefetch=prefetch
        )
        jobs: list[Any] = []
        async with listing:
            pages = listing.pages()
            jobs.extend((await pages.__anext__()).items)
            held = 1
            sent = await settled(peer)
            assert 1 + concurrency <= sent <= 1 + ahead
            async for page in pages:
                held += 1
                jobs.extend(page.items)
    assert violations == []
    assert held == len(PEER_VERSIONS) * pages_per_version
    assert sorted(names(jobs)) == sorted(
        f"v{v}-{i}" for v in range(len(PEER_VERSIONS)) for i in range(pages_per_version)
    )


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_denied_version_raises_its_own_error_once_the_pool_has_stopped(
    emulator: Emulator,
    kind: Kind,
) -> None:
    """Under on_error="raise", a version the emulator denies raises the original
    AccessDeniedError (not a group or wrapper) naming that version and operation; when it
    is raised no worker is left, and another version's minute-long request is abandoned."""
    async with Client(endpoint_url=emulator.endpoint_url, **NO_RETRY) as client:
        versions = emulator.solution_version_arns()
        slow, denied = versions[0], versions[2]
        emulator.faults = Faults(
            deny_solution_versions=frozenset({denied}), version_latency={slow: 60}
        )
        listing = many(client, kind)(versions, concurrency=4)
        with anyio.fail_after(10), pytest.raises(AccessDeniedError) as info:
            await listing.collect()
        assert producer_tasks() == set()
        await wait_until(lambda: emulator.stats.in_flight == 0, within=5)
        assert emulator.stats.denied == 1
    exc = info.value
    assert type(exc) is AccessDeniedError
    assert exc.code == "AccessDeniedException"
    assert exc.solution_version_arn == denied
    assert exc.operation == OPERATION[kind]


async def test_the_first_failure_cancels_the_requests_of_the_other_workers() -> None:
    """Under on_error="raise", a denial answered while two other versions' requests are
    waiting on the server cancels both requests (the server sees them abandoned) and is
    raised as AccessDeniedError once no worker is left."""
    slow_a, denied, slow_b = PEER_VERSIONS[:3]
    both_waiting = anyio.Event()
    waiting = 0

    async def answer(body: dict[str, Any]) -> Reply:
        nonlocal waiting
        if body["solutionVersionArn"] == denied:
            await both_waiting.wait()
            return error("AccessDeniedException", "not for you")
        waiting += 1
        if waiting == 2:
            both_waiting.set()
        await anyio.sleep_forever()
        raise AssertionError("never answered")

    async with connected([], responder=answer, **NO_RETRY) as (peer, client):
        listing = client.list_batch_inference_jobs_many([slow_a, denied, slow_b], concurrency=3)
        with anyio.fail_after(10), pytest.raises(AccessDeniedError) as info:
            await listing.collect()
        assert producer_tasks() == set()
        await peer.abandoned.reach(2)
    assert type(info.value) is AccessDeniedError
    assert info.value.solution_version_arn == denied
    assert peer.received.value == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_skip_lists_the_other_versions_and_records_the_failure(
    emulator: Emulator, kind: Kind
) -> None:
    """Under on_error="skip", a denied version does not stop the others: every other job
    arrives once, the denied version never delivers a page (it never looks finished),
    `.failures` holds one ListingFailure with its AccessDeniedError, and the progress
    counts add up."""
    async with Client(endpoint_url=emulator.endpoint_url, **NO_RETRY) as client:
        versions = emulator.solution_version_arns()
        denied = versions[4]
        expected = await single_listings(emulator, kind, [v for v in versions if v != denied])
        emulator.faults = Faults(deny_solution_versions=frozenset({denied}))
        listing = many(client, kind)(versions, concurrency=3, page_size=2, on_error="skip")
        pages = [page async for page in listing.pages()]
    jobs = [job for page in pages for job in page.items]
    assert_exactly_once(jobs, expected)
    assert [p for p in pages if p.solution_version_arn == denied] == []
    assert len(pages) == sum(page_count(len(arns), 2) for arns in expected.values())
    (failure,) = listing.failures
    assert isinstance(failure, ListingFailure)
    assert failure.solution_version_arn == denied
    assert type(failure.error) is AccessDeniedError
    assert failure.error.solution_version_arn == denied
    assert failure.operation == OPERATION[kind]
    assert failure.kind == kind
    assert failure.region == REGION
    assert failure.parent_arn is None
    assert failure.next_token is None
    assert listing.progress == MergeProgress(
        versions=len(versions),
        versions_done=len(versions) - 1,
        versions_failed=1,
        pages=len(pages),
        jobs=len(jobs),
        discovering=False,
    )


async def test_a_chain_failing_midway_keeps_the_token_to_resume_it_from() -> None:
    """Under on_error="skip", a version denied on its second page keeps its first page
    delivered, its failure carries that page's next_token, and a merged listing given that
    token in starting_tokens lists exactly the rest of the version."""
    a, b = PEER_VERSIONS[:2]
    pages = chained(3, per_page=2)
    denials = [error("AccessDeniedException", "not now")]

    def answer(body: dict[str, Any]) -> Reply:
        if body["solutionVersionArn"] == a and body.get("nextToken") == "p1" and denials:
            return denials.pop()
        return pages(body)

    async with connected([], responder=answer, **NO_RETRY) as (peer, client):
        listing = client.list_batch_inference_jobs_many([a, b], on_error="skip")
        first = await listing.collect()
        (failure,) = listing.failures
        resumed = client.list_batch_inference_jobs_many(
            [a], starting_tokens={a: failure.next_token}
        )
        rest = await resumed.collect()
    assert failure.solution_version_arn == a
    assert failure.next_token == "p1"
    assert isinstance(failure.error, AccessDeniedError)
    assert sorted(names(first)) == ["v0-0", "v0-1"] + [f"v1-{i}" for i in range(6)]
    assert names(rest) == ["v0-2", "v0-3", "v0-4", "v0-5"]
    tokens_of_a = [
        body.get("nextToken") for _, body in peer.requests if body.get("solutionVersionArn") == a
    ]
    assert tokens_of_a == [None, "p1", "p1", "p2"]
    assert listing.progress == MergeProgress(
        versions=2, versions_done=1, versions_failed=1, pages=4, jobs=8, discovering=False
    )


# -- resuming and pages -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_starting_tokens_resume_a_version_after_the_page_that_returned_it(
    emulator: Emulator,
    kind: Kind,
) -> None:
    """A version given with the next_token of its first page lists exactly its jobs after
    that page, while the other versions list from their start."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        versions = emulator.solution_version_arns()[:4]
        expected = await single_listings(emulator, kind, versions)
        resumed = versions[1]
        if kind == "inference":
            single: Listing[Any] = client.list_batch_inference_jobs(
                resumed, page_size=2, prefetch=0
            )
        else:
            single = client.list_batch_segment_jobs(resumed, page_size=2, prefetch=0)
        async with single:
            token = (await single.pages().__anext__()).next_token
        assert token is not None
        listing = many(client, kind)(versions, page_size=2, starting_tokens={resumed: token})
        jobs = await listing.collect()
    expected[resumed] = expected[resumed][2:]
    assert_exactly_once(jobs, expected)


@pytest.mark.parametrize("kind", KINDS)
async def test_pages_name_their_chain_and_each_chain_ends_with_a_tokenless_page(
    emulator: Emulator,
    kind: Kind,
) -> None:
    """Every page names its version, kind and region; each version's pages hold its jobs
    in service order and exactly its last page has no next_token; a version without jobs
    gives one empty last page."""
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        versions = emulator.solution_version_arns()[:5] + UNKNOWN
        expected = await single_listings(emulator, kind, versions)
        listing = many(client, kind)(versions, concurrency=3, page_size=2)
        pages = [page async for page in listing.pages()]
    chains: dict[str | None, list[Page[Any]]] = {}
    for page in pages:
        assert (page.kind, page.region) == (kind, REGION)
        chains.setdefault(page.solution_version_arn, []).append(page)
    assert set(chains) == set(versions)
    for version, chain in chains.items():
        assert [p.next_token is None for p in chain] == [False] * (len(chain) - 1) + [True]
        assert [arn_of(job) for page in chain for job in page.items] == expected[version]
    for version in UNKNOWN:
        assert [page.items for page in chains[version]] == [()]
    assert listing.progress == MergeProgress(
        versions=len(versions),
        versions_done=len(versions),
        versions_failed=0,
        pages=len(pages),
        jobs=sum(len(arns) for arns in expected.values()),
        discovering=False,
    )


# -- leaving early ----------------------------------------------------------------------
#
# Three versions, three workers: each version's first page (one job) is answered and
# the request for its second page is never answered. Once the consumer has taken the
# three first pages, three requests hang on the peer, one per worker.

POOL = 3


async def _first_page_then_hang(body: dict[str, Any]) -> Reply:
    if body.get("nextToken") is None:
        return job_page(body["solutionVersionArn"], 0, 1, "more")
    await anyio.sleep_forever()
    raise AssertionError("never answered")


@asynccontextmanager
async def hanging_pool() -> AsyncIterator[tuple[Peer, Client]]:
    """A peer that answers each version's first page only, and a client pointed at it."""
    async with connected([], responder=_first_page_then_hang) as (peer, client):
        yield peer, client


def open_listing(client: Client) -> MergedListing[BatchInferenceJobSummary]:
    return client.list_batch_inference_jobs_many(PEER_VERSIONS[:POOL], concurrency=POOL)


async def _every_worker_waiting(peer: Peer) -> None:
    """Wait until the three second-page requests have reached the peer."""
    await peer.received.reach(2 * POOL)


async def take_first_pages(listing: MergedListing[Any]) -> None:
    """Take the jobs of the three first pages (one job each)."""
    with anyio.fail_after(10):
        for _ in range(POOL):
            await listing.__anext__()


async def test_break_cancels_the_whole_pool(caplog: pytest.LogCaptureFixture) -> None:
    """Breaking out of `async for` over a merged listing cancels every worker's request in
    flight, leaving no task behind and nothing logged."""
    async with hanging_pool() as (peer, client):
        taken = 0
        with anyio.fail_after(10):
            async for _job in open_listing(client):
                taken += 1
                if taken == POOL:
                    await _every_worker_waiting(peer)
                    break
        await peer.abandoned.reach(POOL)
        await wait_no_producers()
    assert_nothing_logged(caplog)


async def test_leaving_async_with_cancels_the_whole_pool(caplog: pytest.LogCaptureFixture) -> None:
    """Leaving `async with` early has stopped every worker by the time it returns, and the
    requests they had in flight are abandoned."""
    async with hanging_pool() as (peer, client):
        async with open_listing(client) as jobs:
            await take_first_pages(jobs)
            await _every_worker_waiting(peer)
        assert producer_tasks() == set()
        await peer.abandoned.reach(POOL)
    assert_nothing_logged(caplog)


async def test_an_exception_in_the_consumer_cancels_the_whole_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception raised while consuming a merged listing in `async with` propagates
    unchanged and cancels every worker's request in flight."""
    async with hanging_pool() as (peer, client):
        with pytest.raises(LookupError, match="consumer failed"):
            async with open_listing(client) as jobs:
                await take_first_pages(jobs)
                await _every_worker_waiting(peer)
                raise LookupError("consumer failed")
        assert producer_tasks() == set()
        await peer.abandoned.reach(POOL)
    assert_nothing_logged(caplog)


async def test_cancelling_the_consumer_cancels_the_whole_pool_and_closes_the_listing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Cancelling a consumer waiting for the next page cancels every worker's request, and
    the listing then refuses further use instead of restarting."""
    async with hanging_pool() as (peer, client):
        listing = open_listing(client)
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def consume() -> None:
                with scope:
                    async for _job in listing:
                        pass

            tg.start_soon(consume)
            await _every_worker_waiting(peer)
            scope.cancel()
        await peer.abandoned.reach(POOL)
        await wait_no_producers()
        with pytest.raises(UsageError):
            await listing.__anext__()
    assert_nothing_logged(caplog)


async def test_dropping_an_unclosed_listing_cancels_the_whole_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A merged listing dropped mid-way without being closed cancels every worker's request,
    with no warning and no task left behind."""
    async with hanging_pool() as (peer, client):
        listing = open_listing(client)
        await take_first_pages(listing)
        await _every_worker_waiting(peer)
        del listing
        gc.collect()
        await peer.abandoned.reach(POOL)
        await wait_no_producers()
    assert_nothing_logged(caplog)


async def test_closing_the_client_cancels_the_whole_pool(caplog: pytest.LogCaptureFixture) -> None:
    """Client.aclose() during a merged listing has stopped every worker when it returns,
    the requests in flight are abandoned, and the listing then raises ClientClosedError."""
    async with hanging_pool() as (peer, client):
        listing = open_listing(client)
        await take_first_pages(listing)
        await _every_worker_waiting(peer)
        await client.aclose()
        assert producer_tasks() == set()
        await peer.abandoned.reach(POOL)
        with pytest.raises(ClientClosedError):
            await listing.__anext__()
    assert_nothing_logged(caplog)


# -- validation -------------------------------------------------------------------------

V0, V1, V2 = PEER_VERSIONS[:3]
BAD_ARGUMENTS: list[tuple[str, object, dict[str, Any], str]] = [
    ("a single ARN", V0, {}, "solution_version_arns"),
    ("bytes", V0.encode(), {}, "solution_version_arns"),
    ("None", None, {}, "solution_version_arns"),
    ("an int", 5, {}, "solution_version_arns"),
    ("a bad ARN", [V0, "not-an-arn"], {}, "solution_version_arns[1]"),
    ("a non-str ARN", [V0, V1, 7], {}, "solution_version_arns[2]"),
    ("concurrency 0", [V0], {"concurrency": 0}, "concurrency"),
    ("concurrency -1", [V0], {"concurrency": -1}, "concurrency"),
    ("concurrency True", [V0], {"concurrency": True}, "concurrency"),
    ("concurrency 2.0", [V0], {"concurrency": 2.0}, "concurrency"),
    ("prefetch 0", [V0], {"prefetch": 0}, "prefetch"),
    ("prefetch True", [V0], {"prefetch": True}, "prefetch"),
    ("on_error ignore", [V0], {"on_error": "ignore"}, "on_error"),
    ("page_size 0", [V0], {"page_size": 0}, "page_size"),
    ("page_size 101", [V0], {"page_size": 101}, "page_size"),
    ("a token for another version", [V0, V1], {"starting_tokens": {V2: "t"}}, "starting_tokens"),
    ("tokens not a mapping", [V0], {"starting_tokens": [V0]}, "starting_tokens"),
    ("a non-ASCII token", [V0], {"starting_tokens": {V0: "t\u00f8ken"}}, "starting_tokens"),
    ("a non-str token", [V0], {"starting_tokens": {V0: 5}}, "starting_tokens"),
]


@pytest.mark.parametrize(
    ("versions", "options", "parameter"),
    [case[1:] for case in BAD_ARGUMENTS],
    ids=[case[0] for case in BAD_ARGUMENTS],
)
async def test_bad_arguments_raise_param_validation_error_at_the_call(
    versions: object, options: dict[str, Any], parameter: str
) -> None:
    """Each bad argument to either kind's merged listing raises ParamValidationError (a
    ValueError) naming the parameter, and a bad ARN's index, at the call itself: no request
    is sent and no task started."""
    async with connected([]) as (peer, client):
        for kind in KINDS:
            with pytest.raises(ParamValidationError) as info:
                many(client, kind)(versions, **options)
            assert isinstance(info.value, ValueError)
            if parameter == "starting_tokens":  # the mapping, or the entry of one version
                assert info.value.parameter.startswith(parameter), kind
            else:
                assert info.value.parameter == parameter, kind
        assert producer_tasks() == set()
    assert peer.requests == []


@pytest.mark.parametrize("kind", KINDS)
async def test_no_versions_give_an_empty_listing_without_a_request(kind: Kind) -> None:
    """An empty iterable of versions gives a listing with no job and no page, without
    sending a request."""
    async with connected([]) as (peer, client):
        assert await many(client, kind)([]).collect() == []
        listing = many(client, kind)(iter(()))
        assert [page async for page in listing.pages()] == []
        assert listing.progress.versions == 0
    assert peer.requests == []


# -- the listing's shape ----------------------------------------------------------------


async def test_collect_returns_every_job_and_an_exhausted_listing_stays_exhausted() -> None:
    """collect() on a merged listing returns every job of every version; iterating it again
    yields nothing and sends nothing more."""
    async with connected([], responder=chained(2, per_page=2)) as (peer, client):
        listing = client.list_batch_inference_jobs_many(PEER_VERSIONS, concurrency=2)
        assert isinstance(listing, Listing)
        jobs = await listing.collect()
        assert [job async for job in listing] == []
    assert sorted(names(jobs)) == sorted(f"v{v}-{i}" for v in range(6) for i in range(4))
    assert peer.received.value == 2 * len(PEER_VERSIONS)


async def test_a_closed_merged_listing_refuses_further_use() -> None:
    """A merged listing closed before it was exhausted raises UsageError when iterated, by
    record or by page, or re-entered."""
    async with connected([], responder=chained(2)) as (_peer, client):
        listing = client.list_batch_inference_jobs_many(PEER_VERSIONS)
        await listing.__anext__()
        await listing.aclose()
        await listing.aclose()
        with pytest.raises(UsageError):
            await listing.__anext__()
        with pytest.raises(UsageError):
            await listing.__aenter__()
        with pytest.raises(UsageError):
            listing.pages()
        assert producer_tasks() == set()


async def test_a_merged_listing_is_iterated_one_way() -> None:
    """A merged listing iterated by record refuses to be iterated by page, and the other
    way round."""
    async with connected([], responder=chained(2)) as (_peer, client):
        async with client.list_batch_inference_jobs_many(PEER_VERSIONS) as by_record:
            await by_record.__anext__()
            with pytest.raises(UsageError):
                by_record.pages()
        async with client.list_batch_inference_jobs_many(PEER_VERSIONS) as by_page:
            await by_page.pages().__anext__()
            with pytest.raises(UsageError):
                await by_page.__anext__()


async def test_a_repeated_token_in_one_chain_is_named_by_its_listing_and_version() -> None:
    """When the service answers a version's second page with the token it already gave,
    the merged listing raises PaginationError naming that chain's operation and
    version, after the pages before it."""
    a = PEER_VERSIONS[0]
    script = [job_page(a, 0, 1, "same"), job_page(a, 1, 1, "same")]
    async with connected(script, **NO_RETRY) as (_peer, client):
        listing = client.list_batch_inference_jobs_many([a])
        got: list[Any] = []
        with pytest.raises(PaginationError) as info:
            async for job in listing:
                got.append(job)  # noqa: PERF401 - the jobs before the error are kept
    assert (info.value.operation, info.value.solution_version_arn) == (
        "ListBatchInferenceJobs",
        a,
    )
    assert names(got) == ["v0-0"]


async def test_a_resumed_chain_denied_on_its_first_page_keeps_its_starting_token() -> None:
    """Under on_error="skip", a chain resumed from a token whose first page is denied
    (not an expired token) is recorded as failed with that token to resume from, and is
    not listed again from its start."""
    a = PEER_VERSIONS[0]
    async with connected(
        [], responder=lambda _body: error("AccessDeniedException", "no"), **NO_RETRY
    ) as (peer, client):
        listing = client.list_batch_inference_jobs_many(
            [a], starting_tokens={a: "p1"}, on_error="skip"
        )
        assert await listing.collect() == []
    (failure,) = listing.failures
    assert (failure.solution_version_arn, failure.next_token) == (a, "p1")
    assert isinstance(failure.error, AccessDeniedError)
    assert [body.get("nextToken") for _, body in peer.requests] == ["p1"]


async def test_a_restarted_chain_that_then_fails_is_recorded_as_its_own_failure() -> None:
    """Under on_error="skip", a chain whose resume token is refused, listed again from its
    start and then denied midway, is recorded with its version, operation and the token
    after the last page it delivered (of the new start)."""
    a = PEER_VERSIONS[0]
    script = [
        error("InvalidNextTokenException", "expired"),
        job_page(a, 0, 2, "n1"),
        error("AccessDeniedException", "no"),
    ]
    async with connected(script, **NO_RETRY) as (peer, client):
        listing = client.list_batch_inference_jobs_many(
            [a], starting_tokens={a: "old"}, on_error="skip"
        )
        pages = [page async for page in listing.pages()]
    assert [(len(page.items), page.restarted) for page in pages] == [(2, True)]
    (failure,) = listing.failures
    assert (failure.solution_version_arn, failure.operation, failure.kind, failure.next_token) == (
        a,
        "ListBatchInferenceJobs",
        "inference",
        "n1",
    )
    assert [body.get("nextToken") for _, body in peer.requests] == ["old", None, "n1"]


async def test_a_restarted_chain_repeating_a_token_is_named_by_its_listing_and_version() -> None:
    """A chain whose resume token is refused, listed again from its start, whose service
    then repeats a token, raises PaginationError naming the operation and the version."""
    a = PEER_VERSIONS[0]
    script = [
        error("InvalidNextTokenException", "expired"),
        job_page(a, 0, 1, "same"),
        job_page(a, 1, 1, "same"),
    ]
    async with connected(script, **NO_RETRY) as (_peer, client):
        listing = client.list_batch_inference_jobs_many([a], starting_tokens={a: "old"})
        with pytest.raises(PaginationError) as info:
            await listing.collect()
    assert (info.value.operation, info.value.solution_version_arn) == ("ListBatchInferenceJobs", a)


async def test_a_throttled_page_of_a_merged_listing_is_asked_again_within_the_window() -> None:
    """A merged listing asks a page that failed with throttling again (the client's
    ``page_retry_window``), from its own token, and delivers every job once."""
    a = PEER_VERSIONS[0]
    pages = chained(2, per_page=2)
    throttled = [error("ThrottlingException", "slow down")]

    def answer(body: dict[str, Any]) -> Reply:
        if body.get("nextToken") == "p1" and throttled:
            return throttled.pop()
        return pages(body)

    async with connected(
        [], responder=answer, retry_mode="standard", max_attempts=1, page_retry_window=30
    ) as (peer, client):
        jobs = await client.list_batch_inference_jobs_many([a]).collect()
    assert names(jobs) == ["v0-0", "v0-1", "v0-2", "v0-3"]
    assert [body.get("nextToken") for _, body in peer.requests] == [None, "p1", "p1"]


async def test_a_new_merged_listing_says_what_it_lists_and_whether_discovery_is_to_come() -> None:
    """Before its first page, a merged listing's repr names what it lists, and its
    progress says discovery is running exactly when it will discover versions."""
    async with connected([]) as (peer, client):
        given = client.list_batch_inference_jobs_many(PEER_VERSIONS[:2])
        crawl = client.crawl_batch_jobs(strategy="versions")
        assert given.progress.discovering is False
        assert crawl.progress.discovering is True
        assert repr(given) == "<Listing ListBatchInferenceJobs x 2 solution versions [new]>"
        await given.aclose()
        await crawl.aclose()
    assert peer.requests == []
