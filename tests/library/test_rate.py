"""The rate at the service's bound: each region's requests paced at the quota the client
finds by itself (``_rate.RateFinder``), throttled and 5xx answers retried without
botocore's long backoff, and a page that still fails asked again from its own token
within ``page_retry_window``.

The finder's decisions are tested on a fake clock (they are arithmetic over answers);
the rest over real HTTP against the emulator, whose quota is a token bucket per account
and region. How close to the quota a crawl runs is measured by ``benchmarks/run.py
crawl``, not here: these tests assert outcomes, never timings.
"""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from aiopersonalize import (
    AccessDeniedError,
    Client,
    ParamValidationError,
    ThrottlingError,
)
from aiopersonalize._rate import RateFinder
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import wait_no_producers, wait_until

REGION = "us-east-1"
# 24 versions of 4 inference jobs each: with page_size 2, 48 pages.
SPEC = InventorySpec(
    dataset_groups=2,
    solutions_per_dataset_group=3,
    versions_per_solution=4,
    inference_jobs_per_version=4,
    segment_jobs_per_version=0,
)
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC))


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answers(
    finder: RateFinder,
    clock: Clock,
    *,
    per_second: float,
    seconds: float,
    throttled: Any,
    retry: Any = lambda i: i % 2 == 1,
) -> None:
    """Feed ``finder`` answers at ``per_second`` for ``seconds``; ``throttled(i)`` says
    whether answer ``i`` was throttled, ``retry(i)`` whether it answered a retry (by
    default every other one)."""
    for i in range(int(per_second * seconds)):
        clock.now += 1 / per_second
        finder.answered(throttled=throttled(i), retry=retry(i))


# -- the finder's decisions, on a fake clock --------------------------------------------


def test_a_finder_that_is_never_throttled_never_paces() -> None:
    """Without throttling the requests are not paced at all: nothing to find."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(finder, clock, per_second=500, seconds=10, throttled=lambda i: False)
    assert finder.rate is None


def test_throttling_that_the_rate_does_not_cause_never_starts_pacing() -> None:
    """12 % of answers throttled at random, whatever the rate (another workload on the
    account's quota), never starts pacing: it is not a wall the rate has met."""
    clock = Clock()
    finder = RateFinder(clock)
    draws = random.Random(7)
    answers(finder, clock, per_second=300, seconds=60, throttled=lambda i: draws.random() < 0.12)
    assert finder.rate is None


def test_a_wall_of_throttling_starts_pacing_below_what_was_accepted() -> None:
    """When most answers are throttled (a quota met), pacing starts at a little below
    what the service accepted in the last second, so that its bucket can refill."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(finder, clock, per_second=20, seconds=1, throttled=lambda i: False)
    answers(finder, clock, per_second=400, seconds=0.1, throttled=lambda i: True)
    assert finder.rate is not None
    assert 0.8 * 20 <= finder.rate <= 20


def test_a_wall_met_by_first_attempts_alone_starts_pacing_before_any_retry() -> None:
    """Nearly all of the last ten answers throttled starts pacing although no retry has
    come back yet: requests sent at once (32 in flight, the next versions' first pages)
    meet the quota before the first retries can show it."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(finder, clock, per_second=20, seconds=1, throttled=lambda i: False)
    answers(
        finder,
        clock,
        per_second=1000,
        seconds=0.01,
        throttled=lambda i: i != 4,
        retry=lambda i: False,
    )
    assert finder.rate is not None
    assert 0.8 * 20 <= finder.rate <= 20


def test_eight_of_ten_first_attempts_throttled_is_not_yet_a_wall() -> None:
    """Eight of ten first attempts throttled, with no retry to confirm it, is not taken
    for a quota: the finder waits for the retries (or a ninth)."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(finder, clock, per_second=20, seconds=1, throttled=lambda i: False)
    answers(
        finder,
        clock,
        per_second=1000,
        seconds=0.01,
        throttled=lambda i: i not in (2, 7),
        retry=lambda i: False,
    )
    assert finder.rate is None


def test_first_attempts_throttled_with_no_burst_taken_before_are_not_a_wall() -> None:
    """Every first attempt of a start throttled, with nothing accepted before them (a
    service that throttles first attempts and takes retries), does not start pacing:
    a quota's wall follows the burst its bucket took."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(
        finder,
        clock,
        per_second=1000,
        seconds=0.03,
        throttled=lambda i: True,
        retry=lambda i: False,
    )
    assert finder.rate is None


def test_paced_the_estimate_follows_what_the_quota_accepts() -> None:
    """Paced, windows throttled beyond the floor bring the estimate down to the accepted
    rate, and unthrottled probes raise it: it settles around the quota."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(finder, clock, per_second=20, seconds=1, throttled=lambda i: False)
    answers(finder, clock, per_second=400, seconds=0.1, throttled=lambda i: True)
    assert finder.rate is not None
    quota = 30
    for _ in range(40):  # seconds: the client sends at its pace, the quota takes 30/s
        rate = finder.rate
        assert rate is not None
        answers(finder, clock, per_second=rate, seconds=1, throttled=lambda i: i >= quota)
    assert finder.rate is not None
    assert 0.8 * quota <= finder.rate <= 1.3 * quota


def test_paced_throttling_that_the_rate_does_not_cause_does_not_drag_the_rate_down() -> None:
    """Paced for a quota, a steady 12 % of throttling on top (the floor) does not bring
    the rate down window after window: it stays near the quota."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(finder, clock, per_second=20, seconds=1, throttled=lambda i: False)
    answers(finder, clock, per_second=400, seconds=0.1, throttled=lambda i: True)
    draws = random.Random(3)
    quota = 50.0
    for _ in range(60):
        rate = finder.rate
        assert rate is not None
        answers(
            finder,
            clock,
            per_second=rate,
            seconds=1,
            throttled=lambda i, r=rate: i >= quota or draws.random() < 0.12,
        )
    assert finder.rate is not None
    assert finder.rate >= 0.7 * quota


def test_throttling_of_first_attempts_only_never_starts_pacing() -> None:
    """A service that throttles every first attempt and takes every retry (half of all
    answers throttled, whatever the rate) has no quota to find: pacing never starts."""
    clock = Clock()
    finder = RateFinder(clock)
    answers(
        finder,
        clock,
        per_second=200,
        seconds=10,
        throttled=lambda i: i % 2 == 0,
        retry=lambda i: i % 2 == 1,
    )
    assert finder.rate is None


async def test_a_paced_wait_cancelled_leaves_nothing_and_frees_the_turn() -> None:
    """A request cancelled while it waits for its turn leaves no task behind, and the
    next request still gets its turn."""
    finder = RateFinder()
    finder.rate = 0.5  # one request every 2 s
    await finder.wait()  # takes the first slot at once
    with anyio.move_on_after(0.05) as scope:
        await finder.wait()  # would wait about 2 s
    assert scope.cancelled_caught
    finder.rate = 1000.0
    with anyio.fail_after(5):
        await finder.wait()  # the turn was not kept by the cancelled wait


# -- over real HTTP -----------------------------------------------------------------------


async def versions_of(emulator: Emulator) -> list[str]:
    return emulator.solution_version_arns()


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SPEC, faults=Faults(max_rps=40, burst=5))
)
async def test_a_listing_under_a_quota_completes_with_the_defaults(emulator: Emulator) -> None:
    """Under a quota far below what 32 requests in flight would send, a merged listing
    with the client's defaults delivers every job once, with no failed listing, and
    most requests were not throttled."""
    versions = await versions_of(emulator)
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.list_batch_inference_jobs_many(versions, concurrency=32, page_size=2)
        jobs = await listing.collect()
        assert listing.failures == ()
    arns = [job.batch_inference_job_arn for job in jobs]
    assert len(arns) == len(set(arns)) == emulator.job_count("inference")
    stats = emulator.stats
    assert stats.throttled > 0  # the quota was met
    assert stats.throttled < stats.requests / 2


async def test_a_throttled_page_is_asked_again_until_it_gets_through(emulator: Emulator) -> None:
    """A page throttled on every one of botocore's attempts is asked again from its own
    token (the defaults), and the listing completes once the service lets it through:
    every job once, no error."""
    version = (await versions_of(emulator))[0]
    emulator.faults = Faults(throttle_rate=1.0)
    jobs: list[Any] = []
    async with (
        Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client,
        anyio.create_task_group() as tg,
    ):

        async def collect() -> None:
            jobs.extend(await client.list_batch_inference_jobs(version, page_size=1).collect())

        tg.start_soon(collect)
        # More throttled answers than botocore's 3 attempts: asked again by us.
        await wait_until(lambda: emulator.stats.throttled >= 5)
        emulator.faults = Faults()
    assert len({job.batch_inference_job_arn for job in jobs}) == len(jobs)
    assert len(jobs) == emulator.job_count("inference", version)


async def test_a_page_that_keeps_failing_fails_its_listing_after_the_window(
    emulator: Emulator,
) -> None:
    """With a short ``page_retry_window``, a page throttled for good ends its listing
    with ThrottlingError once the window has passed."""
    version = (await versions_of(emulator))[0]
    emulator.faults = Faults(throttle_rate=1.0)
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, page_retry_window=0.2
    ) as client:
        with pytest.raises(ThrottlingError):
            await client.list_batch_inference_jobs(version).collect()


async def test_errors_that_retrying_cannot_mend_are_not_asked_again(emulator: Emulator) -> None:
    """An access denial ends the listing at its first answer: neither botocore nor the
    page retry asks again."""
    version = (await versions_of(emulator))[0]
    emulator.faults = Faults(deny_solution_versions=frozenset({version}))
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        with pytest.raises(AccessDeniedError):
            await client.list_batch_inference_jobs(version).collect()
    assert emulator.stats.requests == 1


@pytest.mark.parametrize("window", [-1, float("inf"), float("nan"), True, "60", None])
async def test_the_page_retry_window_is_checked_when_the_client_is_made(window: object) -> None:
    """A window that is not a finite number of seconds, zero or more, is refused when
    the client is made, naming ``page_retry_window``."""
    with pytest.raises(ParamValidationError, match="page_retry_window"):
        Client(region_name=REGION, page_retry_window=window)  # type: ignore[arg-type]


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SPEC, faults=Faults(max_rps=5, burst=1))
)
async def test_cancelling_while_paced_leaves_nothing_running_or_logged(emulator: Emulator) -> None:
    """A merged listing cancelled while its requests wait for their turn at a low quota
    (and for backoffs) leaves no task and logs nothing (conftest's guard fails a test in
    which asyncio reports a pending task destroyed)."""
    versions = await versions_of(emulator)
    scope = anyio.CancelScope()
    async with (
        Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client,
        anyio.create_task_group() as tg,
    ):

        async def consume() -> None:
            with scope:
                listing = client.list_batch_inference_jobs_many(
                    versions, concurrency=16, page_size=1
                )
                async for _job in listing:
                    pass

        tg.start_soon(consume)
        # (the region's pace: internal, read to cancel at the right moment)
        pace = client._limits.rate_for(REGION)
        await wait_until(lambda: pace.rate is not None, within=20)
        sent = emulator.stats.requests
        await wait_until(lambda: emulator.stats.requests >= sent + 2, within=20)
        scope.cancel()
    assert scope.cancelled_caught
    await wait_no_producers()
