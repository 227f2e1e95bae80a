"""Cancellation at every moment of a call, and a client closed while its calls run.

The sweeps run one call again and again under ``anyio.move_on_after(deadline)``, the
deadlines spread from 0 to past the call's full run time, against the emulator with
5 ms of latency per request and a consumer that works a few ms per job, so that the
deadlines land in every phase: the first request in flight, a later page in flight, a
page fetched ahead and waiting in the prefetch buffer, the consumer mid-page, some
versions listed to the end and others not, and after the call completed. Each run is
checked on its own (what was received, no task left, cancellation surfacing as
cancellation), each sweep for the phases its deadlines landed in, and each client for
being usable afterwards (with ``max_concurrency`` at what the call needs, so that a
concurrency slot lost to a cancelled request would starve it) and for leaving no
connection behind.

test_cancellation.py covers leaving a single listing early in each way (break, leaving
``async with``, an exception, a cancelled consumer, dropping it) at one chosen moment
against a scripted peer; test_merge.py and test_crawl.py do the same for merged listings
and crawls.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from aiobotocore.session import get_session
from anyio.lowlevel import checkpoint

from aiopersonalize import (
    BatchInferenceJobSummary,
    Client,
    ClientClosedError,
    MergedListing,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from .helpers import producer_tasks, wait_until

LATENCY = 0.005  # the emulator's time to answer each request
SLOW = Faults(latency=LATENCY)  # the sweeps' emulators' faults
HANG = 10  # seconds: a guard that turns a hung run into a failure, never a pace
POINTS = 14  # deadlines per pass of a sweep, from 0 to past the full run
PASSES = 2  # a second pass, half a step later, only if the first missed a phase
PAGE = 3  # jobs per page of a single listing
WORK = 0.005  # the consumer's work per job of a single listing: a page takes longer
# than a request, so the producer gets ahead and pages wait in the buffer.

# One version of 12 jobs: 4 pages of 3.
SINGLE = InventorySpec(1, 1, 1, inference_jobs_per_version=12, segment_jobs_per_version=0)
# 10 versions of 4 inference jobs: 2 pages of 2 each.
TEN_VERSIONS = InventorySpec(1, 2, 5, inference_jobs_per_version=4, segment_jobs_per_version=0)
# 1 dataset group of 6 solutions (3 pages of 2: discovery goes on while the first
# versions are listed) of 1 version, 3 jobs of each kind: 2 pages of 2 each.
ACCOUNT = InventorySpec(1, 6, 1, inference_jobs_per_version=3, segment_jobs_per_version=3)

FD_DIR = Path("/proc/self/fd")
needs_proc = pytest.mark.skipif(not FD_DIR.is_dir(), reason="counts the open fds in /proc")

ChainKey = tuple[str, str]  # (job kind, solution version ARN)


def open_fds() -> int:
    return len(os.listdir(FD_DIR))


def job_id(job: Any) -> str:
    if isinstance(job, BatchInferenceJobSummary):
        return job.batch_inference_job_arn
    return str(job.batch_segment_job_arn)


def chain_of(job: Any) -> ChainKey:
    kind = "inference" if isinstance(job, BatchInferenceJobSummary) else "segment"
    return kind, str(job.solution_version_arn)


# -- one sweep --------------------------------------------------------------------------


@dataclass
class Consumer:
    """What the consumer of a run has got so far, and where it is."""

    received: list[Any] = field(default_factory=list)
    pages: int = 0  # pages started (by record) or taken (by page)
    waiting: bool = True  # awaiting the call, not working on what it got
    discovering: bool = False  # a crawl's discovery still ran when the last job came
    listing: MergedListing[Any] | None = None  # a merged listing, for its failures


Call = Callable[[Client, Consumer], Awaitable[None]]
"""One run of the call under test, reporting to the Consumer as it goes."""


@dataclass(frozen=True)
class Run:
    """One run of a call under a deadline, as the client and the server saw it."""

    deadline: float
    cancelled: bool  # the deadline's cancel scope caught the cancellation
    received: tuple[Any, ...]
    pages: int
    waiting: bool
    sent: int  # HTTP requests the client sent in this run
    in_flight: int  # the server's requests in flight at the deadline or after the run
    consumer: Consumer

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "complete"
        where = "waiting" if self.waiting else "working"
        return (
            f"<{self.deadline * 1000:.1f} ms: {state} {where}, {len(self.received)} jobs "
            f"{self.pages} pages, sent {self.sent}, in flight {self.in_flight}>"
        )


async def run_once(emu: Emulator, client: Client, call: Call, deadline: float) -> Run:
    """Run ``call`` under ``deadline``; check that it left no task and that cancellation
    surfaced as cancellation; wait until the server has let go of what it abandoned."""
    consumer = Consumer()
    sent = client.stats.requests
    # The server's requests in flight at the very moment the deadline falls: a timer due
    # with (and just before) the cancel scope's own.
    at_deadline: list[int] = []
    loop = asyncio.get_running_loop()
    timer = (
        loop.call_at(loop.time() + deadline, lambda: at_deadline.append(emu.stats.in_flight))
        if math.isfinite(deadline)
        else None
    )
    with anyio.fail_after(HANG):
        try:
            with anyio.move_on_after(deadline) as scope:
                await call(client, consumer)
        except Exception as exc:  # a PersonalizeError, an ExceptionGroup: both are bugs
            pytest.fail(f"cancelled at {deadline * 1000:.1f} ms, the call raised {exc!r}")
        finally:
            if timer is not None:
                timer.cancel()
    run = Run(
        deadline=deadline,
        cancelled=scope.cancelled_caught,
        received=tuple(consumer.received),
        pages=consumer.pages,
        waiting=consumer.waiting,
        sent=client.stats.requests - sent,
        # A cancelled run has left no task: whatever the server still held at the
        # deadline, or holds now, it was abandoned.
        in_flight=max([emu.stats.in_flight, *at_deadline]),
        consumer=consumer,
    )
    # Leaving the call (its `async with`) has ended every task of the library.
    assert producer_tasks() == set(), run
    # The server drops (or answers into a closed connection) what the client abandoned.
    await wait_until(lambda: emu.stats.in_flight == 0)
    return run


async def full_run_time(emu: Emulator, client: Client, call: Call) -> float:
    """The seconds one uncancelled run of ``call`` takes (it must complete)."""
    started = time.perf_counter()
    run = await run_once(emu, client, call, math.inf)
    assert not run.cancelled
    return time.perf_counter() - started


def deadlines(full: float, pass_: int, points: int = POINTS) -> list[float]:
    """``points`` deadlines from 0 to 1.25 x the full run time (a later pass offset by a
    fraction of a step), and one well after the run has completed."""
    step = 1.25 * full / (points - 1)
    offset = step * pass_ / PASSES
    return [offset + step * i for i in range(points)] + [3 * full]


Phases = Callable[[Run], set[str]]


async def sweep(
    emu: Emulator,
    client: Client,
    call: Call,
    *,
    check: Callable[[Run], None],
    phases: Phases,
    required: set[str],
) -> list[Run]:
    """Sweep the deadlines over ``call`` on one client, checking each run, until the
    runs have landed in every ``required`` phase (at most PASSES passes)."""
    full = await full_run_time(emu, client, call)
    runs: list[Run] = []
    hit: set[str] = set()
    for pass_ in range(PASSES):
        for deadline in deadlines(full, pass_):
            run = await run_once(emu, client, call, deadline)
            check(run)
            runs.append(run)
            hit |= phases(run)
        if required <= hit:
            break
    assert required <= hit, (required - hit, runs)
    return runs


async def client_sweep(
    emu: Emulator,
    call: Call,
    *,
    warm_up: Callable[[Client], Awaitable[None]],
    check: Callable[[Run], None],
    phases: Phases,
    required: set[str],
    **client_options: Any,
) -> list[Run]:
    """A sweep on one client, which then lists completely and, once closed, leaves no
    connection open: the process has the fds it had before the client was made."""
    fds = open_fds()
    client = Client(endpoint_url=emu.endpoint_url, **client_options)
    try:
        await warm_up(client)
        runs = await sweep(emu, client, call, check=check, phases=phases, required=required)
        # Still usable after every cancelled run: a last run completes in full.
        last = await run_once(emu, client, call, math.inf)
        assert not last.cancelled
        check(last)
    finally:
        await client.aclose()
    # Both ends of every connection are closed once the server has seen the client go.
    await wait_until(lambda: open_fds() == fds)
    return runs


# -- what a run may have received -------------------------------------------------------


def assert_prefix(received: Sequence[Any], expected: Sequence[Any], *, complete: bool) -> None:
    """A single listing: exactly its first k jobs, in order (all of them if complete)."""
    assert list(received) == list(expected[: len(received)]), received
    if complete:
        assert len(received) == len(expected), received


def assert_chain_prefixes(
    received: Sequence[Any], expected: dict[ChainKey, list[str]], *, complete: bool
) -> None:
    """A merged listing or crawl: no job twice, and of each chain its first jobs, in
    order (every job of every chain if complete)."""
    ids = [job_id(job) for job in received]
    assert len(ids) == len(set(ids)), ids
    got: dict[ChainKey, list[str]] = {}
    for job in received:
        got.setdefault(chain_of(job), []).append(job_id(job))
    for chain, jobs in got.items():
        assert jobs == expected[chain][: len(jobs)], (chain, jobs)
    if complete:
        assert got == expected


def chain_phases(expected: dict[ChainKey, list[str]]) -> Phases:
    """The phases a run of a merged listing or crawl landed in."""

    def phases(run: Run) -> set[str]:
        if not run.cancelled:
            return {"complete"}
        found: set[str] = set()
        if run.in_flight:
            found.add("a request abandoned in flight")
        if run.sent == 0:
            found.add("before the first request")
        counts = Counter(chain_of(job) for job in run.received)
        if not run.received:
            found.add("before the first job")
        elif run.consumer.discovering:
            found.add("jobs received while discovery went on")
        done = {chain for chain, n in counts.items() if n == len(expected[chain])}
        if done and len(done) < len(expected):
            found.add("some chains listed to the end, others not")
        if any(0 < n < len(expected[chain]) for chain, n in counts.items()):
            found.add("a chain partly received")
        return found

    return phases


CHAIN_PHASES = {
    "complete",
    "a request abandoned in flight",
    "before the first job",
    "some chains listed to the end, others not",
    "a chain partly received",
}


async def chains_of_versions(
    client: Client, versions: Sequence[str], kinds: Sequence[str] = ("inference",)
) -> dict[ChainKey, list[str]]:
    """Each (kind, version)'s job ARNs in service order, from single listings."""
    expected: dict[ChainKey, list[str]] = {}
    for version in versions:
        if "inference" in kinds:
            jobs: list[Any] = await client.list_batch_inference_jobs(version).collect()
            expected["inference", version] = [job_id(job) for job in jobs]
        if "segment" in kinds:
            jobs = await client.list_batch_segment_jobs(version).collect()
            expected["segment", version] = [job_id(job) for job in jobs]
    return expected


def consume_merged(make: Callable[[Client], MergedListing[Any]], work: float) -> Call:
    """A call that makes a merged listing and consumes it by record, with ``work`` per job."""

    async def call(client: Client, consumer: Consumer) -> None:
        consumer.listing = listing = make(client)
        async with listing:
            async for job in listing:
                consumer.waiting = False
                consumer.discovering = listing.progress.discovering
                consumer.received.append(job)
                await anyio.sleep(work)
                consumer.waiting = True

    return call


# -- single listings --------------------------------------------------------------------


def single_listing(arn: str, *, prefetch: int, by: Literal["record", "page"]) -> Call:
    """A listing of one version, consumed by record or by page, with WORK per job."""

    async def call(client: Client, consumer: Consumer) -> None:
        listing = client.list_batch_inference_jobs(arn, page_size=PAGE, prefetch=prefetch)
        async with listing:
            if by == "record":
                async for job in listing:
                    consumer.waiting = False
                    if len(consumer.received) % PAGE == 0:
                        consumer.pages += 1
                    consumer.received.append(job)
                    await anyio.sleep(WORK)
                    consumer.waiting = True
            else:
                async for page in listing.pages():
                    consumer.waiting = False
                    consumer.pages += 1
                    consumer.received.extend(page.items)
                    await anyio.sleep(WORK * len(page.items))
                    consumer.waiting = True

    return call


def single_phases(total: int) -> Phases:
    """The phases a run of a single listing landed in."""

    def phases(run: Run) -> set[str]:
        if not run.cancelled:
            return {"complete"}
        found: set[str] = set()
        got = len(run.received)
        if run.in_flight:
            found.add("a request abandoned in flight")
        if got == 0:
            found.add("before the first job")
        elif got < total:
            found.add("waiting for a later page" if run.waiting else "working mid-listing")
            if got % PAGE:
                found.add("mid-page")
        # One request at a time: a request beyond the page after the consumer's means
        # that page had been answered and waited for the consumer.
        ahead = run.sent - run.pages
        if not run.waiting and ahead >= 1 and got < total:
            found.add("the next page requested ahead")
        if ahead >= 2:
            found.add("a page waiting in the buffer")
        return found

    return phases


@needs_proc
@pytest.mark.parametrize("by", ["record", "page"])
@pytest.mark.parametrize("prefetch", [0, 1, 2])
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SINGLE, faults=SLOW))
async def test_a_single_listing_cancelled_at_any_moment(
    emulator: Emulator, prefetch: int, by: Literal["record", "page"]
) -> None:
    """A single listing cancelled at any moment has received exactly its first jobs in
    order, leaves no task, surfaces as cancellation, abandons its request in flight, and
    leaves its client usable and, once closed, without a connection."""
    arn = emulator.solution_version_arns()[0]
    expected: list[Any] = []

    async def warm_up(client: Client) -> None:
        expected.extend(await client.list_batch_inference_jobs(arn).collect())
        assert len(expected) == emulator.job_count("inference", arn)

    required = {
        "complete",
        "before the first job",
        "a request abandoned in flight",
        "working mid-listing",
    }
    if by == "record":
        required.add("mid-page")
    if prefetch == 0:
        required.add("waiting for a later page")
    else:
        required.add("the next page requested ahead")
    if prefetch == 2:
        required.add("a page waiting in the buffer")
    await client_sweep(
        emulator,
        single_listing(arn, prefetch=prefetch, by=by),
        warm_up=warm_up,
        check=lambda run: assert_prefix(run.received, expected, complete=not run.cancelled),
        phases=single_phases(SINGLE.inference_jobs_per_version),
        required=required,
        max_concurrency=1,
    )


@needs_proc
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SINGLE, faults=SLOW))
async def test_collect_cancelled_at_any_moment(emulator: Emulator) -> None:
    """``collect()`` cancelled at any moment returns nothing and surfaces as cancellation,
    leaves no task and abandons its request in flight; uncancelled, it returns every job."""
    arn = emulator.solution_version_arns()[0]
    expected: list[Any] = []

    async def warm_up(client: Client) -> None:
        expected.extend(await client.list_batch_inference_jobs(arn).collect())

    async def call(client: Client, consumer: Consumer) -> None:
        listing = client.list_batch_inference_jobs(arn, page_size=PAGE)
        consumer.received.extend(await listing.collect())

    def check(run: Run) -> None:
        assert list(run.received) == ([] if run.cancelled else expected), run

    def phases(run: Run) -> set[str]:
        if not run.cancelled:
            return {"complete"}
        found = {"a request abandoned in flight"} if run.in_flight else set()
        if run.sent >= 2:  # one request at a time: the first page had been answered
            found.add("after a page was fetched")
        return found

    await client_sweep(
        emulator,
        call,
        warm_up=warm_up,
        check=check,
        phases=phases,
        required={"complete", "a request abandoned in flight", "after a page was fetched"},
        max_concurrency=1,
    )


# -- merged listings and crawls ---------------------------------------------------------

MERGE_WORK = 0.001  # the consumer's work per job of a merged listing or crawl


@needs_proc
@pytest.mark.parametrize("on_error", ["raise", "skip"])
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=TEN_VERSIONS, faults=SLOW))
async def test_a_merged_listing_cancelled_at_any_moment(
    emulator: Emulator, on_error: Literal["raise", "skip"]
) -> None:
    """A merged listing of ten versions (four workers) cancelled at any moment has received
    of each version its first jobs in order and no job twice, leaves no task, surfaces as
    cancellation and never as a failure (under "skip" the one denied version is the only
    failure), abandons its requests in flight, and leaves its client usable and, once
    closed, without a connection."""
    versions = emulator.solution_version_arns()
    denied = versions[3] if on_error == "skip" else None
    expected: dict[ChainKey, list[str]] = {}

    async def warm_up(client: Client) -> None:
        listed = [v for v in versions if v != denied]
        expected.update(await chains_of_versions(client, listed))
        assert sum(map(len, expected.values())) == len(listed) * 4
        if denied is not None:
            emulator.faults = Faults(latency=LATENCY, deny_solution_versions=frozenset({denied}))

    def check(run: Run) -> None:
        assert_chain_prefixes(run.received, expected, complete=not run.cancelled)
        listing = run.consumer.listing
        assert listing is not None
        failed = [(f.solution_version_arn, type(f.error).__name__) for f in listing.failures]
        if denied is None:
            assert failed == [], run
        else:  # the denial only; a cancelled run may not have got to it
            assert failed in ([], [(denied, "AccessDeniedError")]), run
            assert failed or run.cancelled, run

    def make(client: Client) -> MergedListing[Any]:
        return client.list_batch_inference_jobs_many(
            versions, concurrency=4, page_size=2, on_error=on_error
        )

    await client_sweep(
        emulator,
        consume_merged(make, MERGE_WORK),
        warm_up=warm_up,
        check=check,
        phases=chain_phases(expected),
        required=CHAIN_PHASES,
        max_concurrency=4,
    )


@needs_proc
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=ACCOUNT, faults=SLOW))
async def test_a_crawl_cancelled_at_any_moment(emulator: Emulator) -> None:
    """A crawl (discovery and listings of both kinds, four workers) cancelled at any moment
    has received of each chain its first jobs in order and no job twice, leaves no task,
    surfaces as cancellation, abandons its requests in flight, and leaves its client
    usable and, once closed, without a connection."""
    expected: dict[ChainKey, list[str]] = {}

    async def warm_up(client: Client) -> None:
        versions = emulator.solution_version_arns()
        expected.update(await chains_of_versions(client, versions, ("inference", "segment")))

    def make(client: Client) -> MergedListing[Any]:
        return client.crawl_batch_jobs(strategy="versions", concurrency=4, page_size=2)

    await client_sweep(
        emulator,
        consume_merged(make, MERGE_WORK),
        warm_up=warm_up,
        check=lambda run: assert_chain_prefixes(run.received, expected, complete=not run.cancelled),
        phases=chain_phases(expected),
        required=CHAIN_PHASES | {"jobs received while discovery went on"},
        max_concurrency=4,
    )


@needs_proc
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=TEN_VERSIONS, faults=SLOW))
async def test_a_fresh_client_cancelled_at_any_moment_leaves_no_connection(
    emulator: Emulator,
) -> None:
    """A new client per deadline, its merged listing of four versions (four workers, so
    four connections) cancelled at any moment, opening the client included, and the
    client then closed: each time the process is left with the open fds it had before the
    client was made, and no task."""
    versions = emulator.solution_version_arns()[:4]
    session = get_session()  # shared, so that a new client is made in a few ms
    async with Client(endpoint_url=emulator.endpoint_url, session=session) as client:
        expected = await chains_of_versions(client, versions)
    call = consume_merged(
        lambda client: client.list_batch_inference_jobs_many(versions, concurrency=4, page_size=2),
        MERGE_WORK,
    )

    async def run_on_a_new_client(deadline: float) -> Run:
        fds = open_fds()
        client = Client(endpoint_url=emulator.endpoint_url, session=session)
        try:
            run = await run_once(emulator, client, call, deadline)
        finally:
            await client.aclose()
        await wait_until(lambda: open_fds() == fds)
        assert_chain_prefixes(run.received, expected, complete=not run.cancelled)
        return run

    started = time.perf_counter()
    assert not (await run_on_a_new_client(math.inf)).cancelled
    full = time.perf_counter() - started
    phases = chain_phases(expected)
    required = {"complete", "a request abandoned in flight", "before the first request"}
    hit: set[str] = set()
    runs: list[Run] = []
    for pass_ in range(PASSES):
        for deadline in deadlines(full, pass_, points=10):
            runs.append(await run_on_a_new_client(deadline))
            hit |= phases(runs[-1])
        if required <= hit:
            break
    assert required <= hit, (required - hit, runs)


@needs_proc
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SINGLE, faults=SLOW))
async def test_a_describe_cancelled_at_any_moment(emulator: Emulator) -> None:
    """A describe cancelled at any moment returns nothing and surfaces as cancellation,
    abandoning its request in flight; the client then describes the job in full."""
    arn = emulator.solution_version_arns()[0]
    expected: list[Any] = []

    async def warm_up(client: Client) -> None:
        first = (await client.list_batch_inference_jobs(arn, max_items=1).collect())[0]
        expected.append(await client.describe_batch_inference_job(first.batch_inference_job_arn))

    async def call(client: Client, consumer: Consumer) -> None:
        job_arn = expected[0].batch_inference_job_arn
        consumer.received.append(await client.describe_batch_inference_job(job_arn))

    def check(run: Run) -> None:
        assert list(run.received) == ([] if run.cancelled else expected), run

    def phases(run: Run) -> set[str]:
        if not run.cancelled:
            return {"complete"}
        return {"a request abandoned in flight" if run.in_flight else "before the answer"}

    await client_sweep(
        emulator,
        call,
        warm_up=warm_up,
        check=check,
        phases=phases,
        required={"complete", "a request abandoned in flight"},
        max_concurrency=1,
    )


# -- a client closed while its calls run ------------------------------------------------

# botocore's retries on, as users have them: a request cut short by the close must not
# then be retried on the closed client (4 retries: 0-15 s of backoff if it were).
RETRYING: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 5}
PROMPT = 1.0  # seconds within which a call must have ended once aclose() has returned
LISTINGS = [
    "prefetch=0",
    "prefetch=1",
    "prefetch=2",
    "merged, raise",
    "merged, skip",
    "crawl, raise",
    "crawl, skip",
]
CLOSE_CASES = [
    *[(what, "mid-iteration") for what in LISTINGS],
    *[(what, "blocked on a page") for what in LISTINGS],
    # Closed after the first __anext__ started the producer, before the producer ran
    # (the error policy plays no part yet).
    *[(what, "as it starts") for what in ("prefetch=1", "merged, raise", "crawl, raise")],
    ("describe", "in flight"),
]


def start_call(client: Client, what: str, versions: list[str], job_arn: str) -> Any:
    """The call under test, as an async iterator of what it returns."""
    kind, _, option = what.partition("=")
    policy: Any = what.rpartition(" ")[2]
    if kind == "prefetch":
        return client.list_batch_inference_jobs(versions[0], page_size=1, prefetch=int(option))
    if what.startswith("merged"):
        return client.list_batch_inference_jobs_many(
            versions, concurrency=4, page_size=1, on_error=policy
        )
    if what.startswith("crawl"):
        return client.crawl_batch_jobs(
            strategy="versions", concurrency=4, page_size=1, on_error=policy
        )

    async def describe() -> Any:
        yield await client.describe_batch_inference_job(job_arn)

    return describe()


async def assert_refuses_new_calls(client: Client, arn: str, job_arn: str) -> None:
    """A closed client refuses every call with ClientClosedError."""
    with pytest.raises(ClientClosedError):
        client.list_batch_inference_jobs(arn)
    with pytest.raises(ClientClosedError):
        client.list_batch_segment_jobs_many([arn])
    with pytest.raises(ClientClosedError):
        client.crawl_batch_jobs()
    with pytest.raises(ClientClosedError):
        await client.describe_batch_inference_job(job_arn)


@dataclass
class Closing:
    """A consumer of the call under test, and what it got."""

    when: str
    received: list[Any] = field(default_factory=list)
    errors: list[ClientClosedError] = field(default_factory=list)
    took_one: anyio.Event = field(default_factory=anyio.Event)
    go_on: anyio.Event = field(default_factory=anyio.Event)
    ended: anyio.Event = field(default_factory=anyio.Event)

    async def consume(self, call: Any) -> None:
        """Iterate ``call``; mid-iteration, hold the first job until told to go on."""
        try:
            async for item in call:
                self.received.append(item)
                if self.when == "mid-iteration" and len(self.received) == 1:
                    self.took_one.set()
                    await self.go_on.wait()
        except ClientClosedError as exc:
            self.errors.append(exc)
        finally:
            self.ended.set()


@pytest.mark.parametrize(("what", "when"), CLOSE_CASES)
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=ACCOUNT))
async def test_closing_the_client_ends_its_running_call_with_client_closed(
    emulator: Emulator, what: str, when: str
) -> None:
    """``aclose()`` from another task while a listing, merged listing, crawl or describe
    runs (its consumer holding a job, or waiting on a request the server holds, or just
    starting) ends that call promptly with ClientClosedError after only jobs it had
    fetched, leaves no task, and the client then refuses every call."""
    async with Client(endpoint_url=emulator.endpoint_url, **RETRYING) as client:
        versions = emulator.solution_version_arns()
        expected = await chains_of_versions(client, versions, ("inference", "segment"))
        job_arn = expected["inference", versions[0]][0]
        if when in ("blocked on a page", "in flight"):
            emulator.faults = Faults(latency=60)  # answered only once the test is over
        sent = client.stats.requests
        closing = Closing(when)
        with anyio.fail_after(HANG):
            async with anyio.create_task_group() as tg:
                tg.start_soon(closing.consume, start_call(client, what, versions, job_arn))
                if when == "mid-iteration":
                    await closing.took_one.wait()
                elif when == "as it starts":
                    await checkpoint()  # the call has started, and nothing more
                else:
                    await wait_until(lambda: emulator.stats.in_flight >= 1)
                await client.aclose()
                closing.go_on.set()
                with anyio.move_on_after(PROMPT):
                    await closing.ended.wait()
                prompt = closing.ended.is_set()
                tg.cancel_scope.cancel()
        assert prompt, f"still running {PROMPT} s after aclose() returned"
        assert len(closing.errors) == 1, closing.errors
        assert "closed" in str(closing.errors[0])
        assert producer_tasks() == set()
        await assert_refuses_new_calls(client, versions[0], job_arn)
        if when == "as it starts":
            assert client.stats.requests == sent  # closed before the call sent anything
        if what.startswith("prefetch"):
            assert_prefix(
                [job_id(job) for job in closing.received],
                expected["inference", versions[0]],
                complete=False,
            )
        elif what == "describe":
            assert closing.received == []
        else:
            assert_chain_prefixes(closing.received, expected, complete=False)
        await wait_until(lambda: emulator.stats.in_flight == 0)
