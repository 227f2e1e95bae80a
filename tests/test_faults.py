"""Faults, one by one, over real HTTP through the real aiobotocore client. For each, a
single listing and a merged listing under both ``on_error`` policies either deliver
every job exactly once (botocore retried the fault) or end with the typed error naming
the operation and the solution version, after the pages before it: never a listing cut
short without a word, never a job twice.

The policy: throttling, 5xx, a connection reset or closed mid-body and an answer slower
than the read timeout are retried by botocore, and once its attempts run out raise
ThrottlingError, ServerError, TransportError, TransportTimeoutError. A complete 200 that
does not decode, an invalidated token and a repeated token are not retried (the server
sent a whole answer; a retry of the same request cannot do better): ResponseError,
InvalidNextTokenError, PaginationError.

Each test runs all its scenarios side by side on one raw peer and one client (a client
costs about 0.1 s of CPU to create): every scenario lists solution versions of its own,
whose ARNs name it, and the peer injects the scenario's fault into the chain of its
first version (or of every version). botocore sleeps a random 0-1 s before a retry,
which nothing can shorten without patching it, so retried scenarios use
``max_attempts=2`` and their sleeps overlap.

test_errors.py covers the error classes of single listings (every service code, retries
run out, a refused connection, a describe never answered, a body cut short, unparsable
and wrong-shaped 200s); this module adds merged listings under both policies, retries
that succeed, and the faults below HTTP.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import pytest
from botocore.config import Config

from aiopersonalize import (
    BatchInferenceJobSummary,
    Client,
    InvalidNextTokenError,
    Listing,
    ListingFailure,
    MergedListing,
    Page,
    PaginationError,
    PersonalizeError,
    ResponseError,
    ServerError,
    ServiceError,
    ThrottlingError,
    TransportError,
    TransportTimeoutError,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from .helpers import assert_exactly_once, many, single_listings, wait_no_producers
from .peers import Raw, RawEnd, RawPeer, Reply, chained, error, job_page, raw, raw_peer

LIST = "ListBatchInferenceJobs"
REGION = "us-east-1"  # the tests' AWS_DEFAULT_REGION (conftest.py)
ACCOUNT = "123456789012"
PAGES = 3  # per version, requested with the tokens None, "p1", "p2" (test_merge.chained)
PER_PAGE = 2
TOKENS = (None, "p1", "p2")
WIDTH = 4  # versions of a merged listing, and its concurrency
ATTEMPTS = 2
# What botocore's attempts do, alone: no page asked again by us (test_rate.py).
RETRYING: dict[str, Any] = {
    "retry_mode": "standard",
    "max_attempts": ATTEMPTS,
    "page_retry_window": 0,
}
NO_RETRY: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 1, "page_retry_window": 0}
CUT = 10  # body bytes sent of a page cut short

Mode = Literal["single", "raise", "skip"]
MODES: tuple[Mode, ...] = ("single", "raise", "skip")

Answer = Callable[[Reply], Raw]
"""An injected answer, made from the page the request should have had."""
Fault = Callable[[int, str | None, int], Answer | None]
"""(version index, page token, attempt) -> the answer to inject, or None: the page."""


def fault(
    answer: Answer, *, page: str | None = "p1", attempts: float = 1, versions: int = 1
) -> Fault:
    """``answer`` to the first ``attempts`` requests for ``page`` of each of a scenario's
    first ``versions`` versions; every other request gets its page."""

    def inject(index: int, token: str | None, attempt: int) -> Answer | None:
        return answer if index < versions and token == page and attempt <= attempts else None

    return inject


def once_each(answer: Answer) -> Fault:
    """``answer`` to the first request for page 2 of every version: one retry each."""
    return fault(answer, versions=WIDTH)


def always(answer: Answer, *, page: str | None = "p1") -> Fault:
    """``answer`` to every request for ``page`` of the first version."""
    return fault(answer, page=page, attempts=math.inf)


def answered(reply: Reply) -> Answer:
    """Answer ``reply`` instead of the page."""
    return lambda _page: raw(reply)


def cut_short(end: RawEnd, *, chunked: bool = False) -> Answer:
    """The page's head, declaring its whole body, and the body's first bytes; then ``end``."""
    return lambda page: raw(page, sent=CUT, end=end, chunked=chunked)


def stalled(_page: Reply) -> Raw:
    """Nothing at all, not even the headers."""
    return Raw(end="hang")


def width(mode: Mode) -> int:
    """How many versions a scenario lists in ``mode``: one for a single listing."""
    return 1 if mode == "single" else WIDTH


def version_arns(case: str, mode: Mode) -> list[str]:
    """The versions a scenario lists in ``mode``."""
    return [
        f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/{case}-{mode}/v{i}"
        for i in range(width(mode))
    ]


def expected(version: str) -> list[str]:
    """A version's job names in service order (``v<i>-<n>``, as test_merge.job_page names them)."""
    index = version.rpartition("/")[2]
    return [f"{index}-{n}" for n in range(PAGES * PER_PAGE)]


def each_retried_once(mode: Mode) -> dict[tuple[int, str | None], int]:
    """Requests per (version, page) when page 2 of every version was retried once."""
    return {(i, t): 2 if t == "p1" else 1 for i in range(width(mode)) for t in TOKENS}


@dataclass
class Outcome:
    versions: list[str]
    pages: list[Page[BatchInferenceJobSummary]]
    error: PersonalizeError | None
    failures: tuple[ListingFailure, ...]

    def delivered(self) -> dict[str | None, list[str | None]]:
        """Each version's job names, in the order they arrived; no job came twice."""
        jobs = [(job.solution_version_arn, job.job_name) for p in self.pages for job in p.items]
        assert len(jobs) == len(set(jobs)), "a job was delivered twice"
        grouped: dict[str | None, list[str | None]] = {}
        for version, name in jobs:
            grouped.setdefault(version, []).append(name)
        return grouped

    def last_token(self, version: str) -> str | None:
        """The next_token of the version's last page delivered (None: none delivered)."""
        tokens = [p.next_token for p in self.pages if p.solution_version_arn == version]
        return tokens[-1] if tokens else None


class Bench:
    """A raw peer answering every scenario of a test, and a client pointed at it.

    A scenario is a name and the fault its versions get; it is listed as a single
    listing and as merged listings under both policies, each of versions of its own
    whose ARNs name the scenario, so the peer knows which fault to inject.
    """

    peer: RawPeer
    client: Client

    def __init__(self, faults: Mapping[str, Fault]) -> None:
        self.faults = dict(faults)
        self.attempts: Counter[tuple[str, str | None]] = Counter()
        self._pages = chained(PAGES, PER_PAGE)

    def answer(self, body: dict[str, Any]) -> Raw:
        version, token = body["solutionVersionArn"], body.get("nextToken")
        self.attempts[version, token] += 1
        _, scenario, name = version.rsplit("/", 2)
        inject = self.faults[scenario.rpartition("-")[0]](
            int(name[1:]), token, self.attempts[version, token]
        )
        page = self._pages(body)
        return raw(page) if inject is None else inject(page)

    def listing(self, case: str, mode: Mode) -> Listing[BatchInferenceJobSummary]:
        arns = version_arns(case, mode)
        if mode == "single":
            return self.client.list_batch_inference_jobs(arns[0], page_size=PER_PAGE)
        return self.client.list_batch_inference_jobs_many(
            arns, concurrency=WIDTH, page_size=PER_PAGE, on_error=mode
        )

    async def outcome(self, case: str, mode: Mode) -> Outcome:
        listing = self.listing(case, mode)
        pages: list[Page[BatchInferenceJobSummary]] = []
        failed: PersonalizeError | None = None
        try:
            async with listing:
                async for page in listing.pages():
                    pages.append(page)  # noqa: PERF401 - the pages before an error matter
        except PersonalizeError as exc:
            failed = exc
        failures = listing.failures if isinstance(listing, MergedListing) else ()
        return Outcome(version_arns(case, mode), pages, failed, failures)

    async def run(self) -> dict[tuple[str, Mode], Outcome]:
        """Every scenario in every mode, side by side; then no listing task is left."""
        results: dict[tuple[str, Mode], Outcome] = {}

        async def one(case: str, mode: Mode) -> None:
            results[case, mode] = await self.outcome(case, mode)

        async with anyio.create_task_group() as tg:
            for case in self.faults:
                for mode in MODES:
                    tg.start_soon(one, case, mode)
        await wait_no_producers()
        return results

    def requests(self, case: str, mode: Mode) -> dict[tuple[int, str | None], int]:
        """Requests the peer received, by (version index, page token), for a scenario."""
        return {
            (i, token): self.attempts[arn, token]
            for i, arn in enumerate(version_arns(case, mode))
            for token in TOKENS
            if self.attempts[arn, token]
        }


@asynccontextmanager
async def bench(faults: Mapping[str, Fault], **client_options: Any) -> AsyncIterator[Bench]:
    """A :class:`Bench` of these scenarios, with a client of these options."""
    scenarios = Bench(faults)
    async with (
        raw_peer([], responder=scenarios.answer) as scenarios.peer,
        Client(
            endpoint_url=scenarios.peer.endpoint_url, max_concurrency=64, **client_options
        ) as scenarios.client,
    ):
        yield scenarios


def assert_complete(outcome: Outcome) -> None:
    """Every job of every version, once, in service order, and no error or failure."""
    assert outcome.error is None, outcome.error
    assert outcome.failures == ()
    assert outcome.delivered() == {version: expected(version) for version in outcome.versions}


def assert_failed(
    outcome: Outcome,
    mode: Mode,
    cls: type[PersonalizeError],
    *,
    pages_before: int,
    token: str | None,
) -> PersonalizeError:
    """The scenario's first version failed with ``cls`` after its first ``pages_before``
    pages, each delivered once, the last with ``token``; under "skip" the failure is a
    ListingFailure resuming at ``token`` and every other version is complete, otherwise
    the error is raised and the other versions got no more than whole prefixes of their
    pages. The error, naming the operation and the version, is returned."""
    failed, *others = outcome.versions
    delivered = outcome.delivered()
    assert delivered.get(failed, []) == expected(failed)[: pages_before * PER_PAGE]
    assert outcome.last_token(failed) == token
    if mode == "skip":
        assert outcome.error is None, outcome.error
        (failure,) = outcome.failures
        assert failure.solution_version_arn == failed
        assert (failure.operation, failure.kind, failure.region) == (LIST, "inference", REGION)
        assert failure.next_token == token
        exc = failure.error
        for version in others:
            assert delivered[version] == expected(version)
    else:
        assert outcome.failures == ()
        assert outcome.error is not None
        exc = outcome.error
        for version in others:
            got = delivered.get(version, [])
            assert got == expected(version)[: len(got)]
            assert len(got) % PER_PAGE == 0
    assert type(exc) is cls, repr(exc)
    assert exc.operation == LIST
    assert exc.solution_version_arn == failed
    assert LIST in str(exc)
    assert failed in str(exc)
    return exc


# -- throttling and 5xx -----------------------------------------------------------------

# 8 versions of 3 pages of each kind; 51 listing requests in all below.
EIGHT = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=4,
    inference_jobs_per_version=6,
    segment_jobs_per_version=6,
)


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=EIGHT))
async def test_bursts_beyond_the_emulators_rate_cap_are_retried_and_every_job_arrives_once(
    emulator: Emulator,
) -> None:
    """Against an emulator that throttles beyond 50 requests per second (burst 4), a single
    listing, a merged listing of segment jobs under "raise" and one of inference jobs
    under "skip", run at once by one client (17 requests at once), each deliver every job
    exactly once: every throttled request was retried, and nothing else was.

    Standard retries: adaptive mode (the default) also slows the whole client down after
    the first throttle, which makes this take about 5 s instead of 1-2 s; the adaptive
    mode against the same cap is covered by test_limits.py::
    test_without_the_cap_the_same_crawl_is_throttled_and_completes_by_retrying.
    """
    versions = emulator.solution_version_arns()
    wanted = {
        kind: await single_listings(emulator, kind, versions) for kind in ("inference", "segment")
    }
    emulator.faults = Faults(max_rps=50, burst=4)
    results: dict[str, list[Any]] = {}
    # Enough attempts that no request runs out of them.
    options: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 10}
    async with Client(endpoint_url=emulator.endpoint_url, **options) as client:

        async def run(name: str, listing: Listing[Any]) -> None:
            results[name] = await listing.collect()

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "single", client.list_batch_inference_jobs(versions[0], page_size=2))
            tg.start_soon(
                run, "raise", many(client, "segment")(versions, concurrency=8, page_size=2)
            )
            skipping = many(client, "inference")(
                versions, concurrency=8, page_size=2, on_error="skip"
            )
            tg.start_soon(run, "skip", skipping)
        retries = client.stats.retries
    stats = emulator.stats
    assert_exactly_once(results["single"], {versions[0]: wanted["inference"][versions[0]]})
    assert_exactly_once(results["raise"], wanted["segment"])
    assert_exactly_once(results["skip"], wanted["inference"])
    assert skipping.failures == ()
    assert stats.throttled > 0
    assert stats.requests == 3 + 2 * 8 * 3 + stats.throttled
    assert retries == stats.throttled


SERVICE_FAULTS: dict[str, tuple[Reply, type[ServiceError], str]] = {
    "throttled": (
        error("ThrottlingException", "Rate exceeded"),
        ThrottlingError,
        "ThrottlingException",
    ),
    "500": (error("InternalFailure", "failed", 500), ServerError, "InternalFailure"),
    "502": (Reply(raw=b"<html>502 Bad Gateway</html>", status=502), ServerError, "502"),
    "503": (error("ServiceUnavailable", "unavailable", 503), ServerError, "ServiceUnavailable"),
    "504": (Reply(raw=b"<html>504 Gateway Time-out</html>", status=504), ServerError, "504"),
}


async def test_throttling_and_5xx_bursts_are_retried_and_every_listing_completes() -> None:
    """ThrottlingException, 500, 502 (an HTML body), 503 and 504 answered to the first
    request for page 2 of every version (a burst across a merged listing's versions) are
    each retried once by botocore, and every listing delivers every job exactly once."""
    faults = {name: once_each(answered(reply)) for name, (reply, _, _) in SERVICE_FAULTS.items()}
    async with bench(faults, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
    for (case, mode), outcome in outcomes.items():
        assert_complete(outcome)
        assert scenarios.requests(case, mode) == each_retried_once(mode), (case, mode)


async def test_throttling_and_5xx_on_every_attempt_raise_their_typed_error() -> None:
    """Throttling or a 5xx answered to every attempt at one version's page 2 raises
    ThrottlingError / ServerError with the service's code and HTTP status, naming the
    operation and that version, once max_attempts requests were made, after its first
    page; under "skip" it is a ListingFailure resuming after page 1 and the others
    complete."""
    faults = {name: always(answered(reply)) for name, (reply, _, _) in SERVICE_FAULTS.items()}
    async with bench(faults, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
    for (case, mode), outcome in outcomes.items():
        reply, cls, code = SERVICE_FAULTS[case]
        exc = assert_failed(outcome, mode, cls, pages_before=1, token="p1")
        assert isinstance(exc, ServiceError)
        assert (exc.code, exc.http_status) == (code, reply.status), (case, mode)
        assert scenarios.requests(case, mode)[0, "p1"] == ATTEMPTS, (case, mode)


# -- the connection fails mid-body ------------------------------------------------------

CUTS: dict[str, Answer] = {
    "reset": cut_short("reset"),  # RST after part of a Content-Length body
    "closed": cut_short("close"),  # FIN after part of a Content-Length body
    "chunk-reset": cut_short("reset", chunked=True),  # RST in the middle of a chunk
    "chunk-closed": cut_short("close", chunked=True),  # FIN in the middle of a chunk
}


async def test_a_connection_reset_or_closed_mid_body_is_retried_and_every_listing_completes() -> (
    None
):
    """The first answer for page 2 of every version cut short, its connection reset
    (RST) or closed (FIN) before the body it declared (by Content-Length, or as a chunk)
    was complete, is retried by botocore, and every listing delivers every job exactly
    once."""
    async with bench({name: once_each(cut) for name, cut in CUTS.items()}, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
    for (case, mode), outcome in outcomes.items():
        assert_complete(outcome)
        assert scenarios.requests(case, mode) == each_retried_once(mode), (case, mode)


async def test_a_connection_cut_mid_body_without_retries_left_raises_transport_error() -> None:
    """With max_attempts=1, a page cut short by RST or FIN raises TransportError (not a
    timeout, not a short listing) naming the operation and the version, after the page
    before it; under "skip" a ListingFailure resumes after that page."""
    async with bench({name: always(cut) for name, cut in CUTS.items()}, **NO_RETRY) as scenarios:
        outcomes = await scenarios.run()
    for (case, mode), outcome in outcomes.items():
        assert_failed(outcome, mode, TransportError, pages_before=1, token="p1")
        assert scenarios.requests(case, mode)[0, "p1"] == 1, (case, mode)


# -- slower than the read timeout --------------------------------------------------------

SLOW: dict[str, Any] = {**RETRYING, "config": Config(read_timeout=0.3)}
STALLS: dict[str, Answer] = {
    "no-headers": stalled,  # the request is never answered
    "mid-body": cut_short("hang"),  # the headers and part of the body, then nothing
}


async def test_an_answer_slower_than_the_read_timeout_is_retried_and_every_listing_completes() -> (
    None
):
    """With read_timeout=0.3, a first attempt that stalls (before its headers, or in the
    middle of its body) is abandoned and retried, and every listing delivers every job
    exactly once; the peer sees each stalled request abandoned."""
    async with bench(
        {name: once_each(stall) for name, stall in STALLS.items()}, **SLOW
    ) as scenarios:
        outcomes = await scenarios.run()
        stalls = len(STALLS) * sum(width(mode) for mode in MODES)
        await scenarios.peer.abandoned.reach(stalls)
        assert scenarios.peer.abandoned.value == stalls
    for (case, mode), outcome in outcomes.items():
        assert_complete(outcome)
        assert scenarios.requests(case, mode) == each_retried_once(mode), (case, mode)


async def test_an_answer_that_always_stalls_raises_transport_timeout_error() -> None:
    """With read_timeout=0.3, a page whose every attempt stalls (before its headers, or
    mid-body) raises TransportTimeoutError naming the operation and the version once
    max_attempts requests were abandoned; under "skip" a ListingFailure resumes after the
    page before it."""
    faults = {name: always(stall) for name, stall in STALLS.items()}
    async with bench(faults, **SLOW) as scenarios:
        outcomes = await scenarios.run()
        stalls = len(STALLS) * len(MODES) * ATTEMPTS
        await scenarios.peer.abandoned.reach(stalls)
        assert scenarios.peer.abandoned.value == stalls
    for (case, mode), outcome in outcomes.items():
        assert_failed(outcome, mode, TransportTimeoutError, pages_before=1, token="p1")
        assert scenarios.requests(case, mode)[0, "p1"] == ATTEMPTS, (case, mode)


async def test_a_peer_that_never_answers_is_ended_by_the_callers_own_deadline() -> None:
    """With botocore's default timeouts (a minute), a page never answered is ended by the
    caller's own deadline: move_on_after ends a single listing, fail_after a merged one
    with TimeoutError; each request is abandoned, no listing task is left, and the jobs
    before it arrived once."""
    async with bench({"silent": always(stalled)}) as scenarios:
        single: list[Page[Any]] = []
        merged: list[Page[Any]] = []

        async def consume(listing: Listing[Any], pages: list[Page[Any]]) -> None:
            async with listing:
                async for page in listing.pages():
                    pages.append(page)  # noqa: PERF401 - the pages before the deadline matter

        async def within_deadline() -> None:
            with anyio.move_on_after(1) as scope:
                await consume(scenarios.listing("silent", "single"), single)
            assert scope.cancelled_caught

        async def beyond_deadline() -> None:
            with pytest.raises(TimeoutError), anyio.fail_after(1):
                await consume(scenarios.listing("silent", "skip"), merged)

        async with anyio.create_task_group() as tg:
            tg.start_soon(within_deadline)
            tg.start_soon(beyond_deadline)
        await wait_no_producers()
        await scenarios.peer.abandoned.reach(2)
    ended: list[tuple[Mode, list[Page[Any]]]] = [("single", single), ("skip", merged)]
    for mode, pages in ended:
        outcome = Outcome(version_arns("silent", mode), pages, None, ())
        first, *others = outcome.versions
        delivered = outcome.delivered()
        assert delivered[first] == expected(first)[:PER_PAGE]
        for version in others:
            got = delivered.get(version, [])
            assert got == expected(version)[: len(got)]


# -- answers not retried ----------------------------------------------------------------

UNDECODABLE = [
    pytest.param(b'{"batchInferenceJobs": [{"batchInferenceJobArn": "arn:aws:pers', id="truncated"),
    pytest.param(b"<html>gateway</html>", id="not-json"),
    pytest.param(b'{"batchInferenceJobs": 5}', id="wrong-shape"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", UNDECODABLE)
async def test_a_complete_200_that_does_not_decode_is_not_retried_and_resumes(body: bytes) -> None:
    """A whole 200 answer for one version's page 2 that does not decode (truncated JSON,
    not JSON, the wrong shape, empty) raises ResponseError naming the operation and version
    after page 1, without a retry; under "skip" it is a ListingFailure with page 1's
    token; and resuming from the last good page's next_token (starting_token,
    starting_tokens) delivers exactly the rest of that version."""
    async with bench({"bad": fault(answered(Reply(raw=body)))}, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
        for mode in MODES:
            outcome = outcomes["bad", mode]
            assert_failed(outcome, mode, ResponseError, pages_before=1, token="p1")
            assert scenarios.requests("bad", mode)[0, "p1"] == 1, mode
            version = outcome.versions[0]
            token = outcome.last_token(version)
            assert token is not None
            client = scenarios.client
            if mode == "single":
                rest = await client.list_batch_inference_jobs(
                    version, starting_token=token
                ).collect()
            else:
                rest = await client.list_batch_inference_jobs_many(
                    [version], starting_tokens={version: token}
                ).collect()
            resumed = outcome.delivered()[version] + [job.job_name for job in rest]
            assert resumed == expected(version), mode


async def test_a_repeated_next_token_in_a_merged_listing_raises_pagination_error() -> None:
    """A version whose last page repeats an earlier nextToken raises PaginationError naming
    the operation and that version, after the two pages before it delivered once each
    (the page carrying the repeated token is withheld and the token not followed); under
    "skip" the failure carries the token that fetched that page, and the other versions
    complete."""

    def repeat_p1(page: Reply) -> Raw:
        return raw(Reply({**page.body, "nextToken": "p1"}))

    async with bench({"loop": fault(repeat_p1, page="p2")}, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
    for (case, mode), outcome in outcomes.items():
        assert_failed(outcome, mode, PaginationError, pages_before=2, token="p2")
        assert scenarios.requests(case, mode)[0, "p1"] == 1, mode  # not followed again


async def test_a_stuck_next_token_raises_pagination_error_without_a_job_twice() -> None:
    """A version whose service, asked for page 3, answers page 2 again with the same
    nextToken (a stuck token) raises PaginationError naming the operation and that
    version, with no job delivered twice; under "skip" the other versions complete."""

    def page_2_again(page: Reply) -> Raw:
        version = page.body["batchInferenceJobs"][0]["solutionVersionArn"]
        return raw(job_page(version, PER_PAGE, PER_PAGE, "p2"))

    async with bench({"stuck": fault(page_2_again, page="p2")}, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
    for mode in MODES:
        outcome = outcomes["stuck", mode]
        failed, *others = outcome.versions
        delivered = outcome.delivered()  # no job twice
        assert delivered[failed] == expected(failed)[: 2 * PER_PAGE]
        errors = [f.error for f in outcome.failures] if mode == "skip" else [outcome.error]
        (exc,) = errors
        assert isinstance(exc, PaginationError)
        assert (exc.operation, exc.solution_version_arn) == (LIST, failed)
        if mode == "skip":
            assert all(delivered[version] == expected(version) for version in others)


async def test_a_token_invalidated_mid_listing_raises_invalid_next_token_error_unretried() -> None:
    """InvalidNextTokenException (400) answered for one version's page 3 raises
    InvalidNextTokenError naming the operation and the version after its pages 1 and 2,
    each once, without a retry; under "skip" the failure's next_token is the token that
    failed, and the other versions complete."""
    expired = answered(error("InvalidNextTokenException", "The token has expired."))
    async with bench({"expired": always(expired, page="p2")}, **RETRYING) as scenarios:
        outcomes = await scenarios.run()
    for (case, mode), outcome in outcomes.items():
        exc = assert_failed(outcome, mode, InvalidNextTokenError, pages_before=2, token="p2")
        assert isinstance(exc, ServiceError)
        assert exc.http_status == 400
        assert scenarios.requests(case, mode)[0, "p2"] == 1, mode
