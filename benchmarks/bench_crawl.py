"""Crawl: a crawl's real bound is the service's request quota. How many calls each crawl
strategy makes, and how close our merged listing runs to a quota (and through
rate-independent faults), against stock aiobotocore written as a user would.

A crawl's time is its number of calls over the rate the service allows: every account
and region has a request quota. One emulator, in a subprocess (``EmulatorProcess``,
real HTTP on loopback), serves one region: 10 dataset groups x 5 solutions x 10
versions = 500 solution versions, with 5 batch inference and 2 batch segment jobs
each, 3,500 jobs (``--quick``: 10 x 5 x 2 = 100 versions, 700 jobs). The emulator's
faults apply to the whole process; they are switched between contenders, and its
counters reset before each.

Part 1, strategies under a quota (``Faults(max_rps=10, burst=10, latency=0.01)``):
``client.crawl_batch_jobs()`` (account-wide: one listing per job kind) against
``client.crawl_batch_jobs(strategy="versions")`` (discovery of dataset groups,
solutions and versions, then one listing per version and kind). Both on a client with
the library's defaults, ``on_error="skip"`` so that a failed listing is counted rather
than raised. Q stays at 10 requests/s, as in the issue: the versions crawl then takes
about 105 s (about 1,060 calls), so each strategy runs once (a full run stays under
about 4 minutes). Context rows: calls and wall time, account / versions (ideal: the
ratio if each ran exactly at the quota). Checks: each lists all the jobs, once.

Part 2, the rate under a quota (``Faults(max_rps=20, burst=20, latency=0.01)``): the
inference jobs of 500 versions (one page each, 500 calls at least: about 25 s at the
quota, a sustained rate past the first second), with
``client.list_batch_inference_jobs_many(versions, concurrency=32, on_error="skip")``,
against 32 anyio tasks each running aiobotocore's paginator on the
next version, with ``retry_mode`` adaptive, then standard (botocore's defaults
otherwise: 3 attempts; a connection pool of 32 so that the pool is not the bound),
catching the error per version as a failed listing. The acceptance for ours: accepted
calls/s (requests the emulator answered other than by throttling, per second of wall)
at least 0.9 x Q, stated as wall time <= 1.111 x the ideal wall at the quota (accepted
calls / Q; with a full bucket of 20 at the start the ideal ratio is about 0.96);
throttled share of requests <= 0.10; no failed listing; every job listed once.

Part 3, rate-independent faults (no quota; ``Faults(throttle_rate=0.12,
error_rate=0.06, latency=0.2)``, pages of one job): the inference jobs of 60 versions
(5 pages each) with ``concurrency=32``, ours with those faults against ours with the
latency alone (the baseline, about 2 s, as the issue's "a 60-version merged listing that
takes 5 s": long enough that the ratio measures what the faults cost), 5 repetitions
of the pair, interleaved (3 with ``--quick``); and stock
aiobotocore adaptive and standard once each, as in Part 2, each bounded by a 30 s
deadline (adaptive was seen not to finish in 150 s): the versions not done by then count
as failed ("not finished"). The acceptance for ours: wall with faults <= 2.5 x wall
without; no failed listing; every job listed once.

Each contender gets a fresh client (created, and its connection opened by one call,
before timing), so that no learned rate carries over from one contender to the next.
Before a contender under a quota, the emulator's token bucket is left idle long enough
to refill: each starts with the same burst. Ours runs with the library's defaults
(no ``retry_mode`` or ``max_attempts``): what users get. The reference jobs come from
stock paginators, account-wide, before any fault; a job outside them is an error.
Every run of ours is also bounded (a generous safety deadline) so a hang is reported
as not finished rather than stalling the benchmark.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from _common import (
    Contender,
    Measurement,
    Row,
    Samples,
    client_options,
    interleave,
    log,
    median,
    paired_ratios,
)
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

import aiopersonalize
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, Faults, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "crawl"
DESCRIPTION = (
    "crawl strategies at 10 requests/s; merged listing at a 20/s quota and through "
    "rate-independent faults, against aiobotocore tasks (adaptive, standard)"
)

INVENTORY = InventorySpec(
    dataset_groups=10,
    solutions_per_dataset_group=5,
    versions_per_solution=10,
    inference_jobs_per_version=5,
    segment_jobs_per_version=2,
)
QUICK_INVENTORY = InventorySpec(
    dataset_groups=10,
    solutions_per_dataset_group=5,
    versions_per_solution=2,
    inference_jobs_per_version=5,
    segment_jobs_per_version=2,
)

# Part 1: the strategies under a quota.
CRAWL_QUOTA = 10.0  # requests per second, and the bucket's burst
CRAWL_FAULTS = Faults(max_rps=CRAWL_QUOTA, burst=int(CRAWL_QUOTA), latency=0.01)
CRAWL_DEADLINE = 300.0  # safety only: ~105 s expected for the versions crawl
ACCOUNT = "crawl account"
VERSIONS = "crawl versions"

# Part 2: the rate under a quota.
QUOTA = 20.0
BURST = 20
QUOTA_FAULTS = Faults(max_rps=QUOTA, burst=BURST, latency=0.01)
# 500 calls, about 25 s at the quota: a sustained rate, past the first second's
# burst and the client's finding of the quota.
QUOTA_VERSIONS = 500
QUOTA_DEADLINE = 180.0  # safety only: ~25 s expected
RATE_LIMIT = 1 / 0.9  # wall <= accepted calls / (0.9 Q)
THROTTLED_LIMIT = 0.10

# Part 3: rate-independent faults.
# Pages of one job, 200 ms each: without faults the listing takes about 2 s, so that the
# ratio measures what the faults cost a listing of some length, not one retry's wait.
FAULTS = Faults(throttle_rate=0.12, error_rate=0.06, latency=0.2)
FAULT_PAGE_SIZE = 1
NO_FAULTS = Faults(latency=FAULTS.latency)
FAULT_VERSIONS = 60
FAULT_DEADLINE = 30.0  # every contender, ours included
FAULT_LIMIT = 2.5
FAULT_REPETITIONS = 5
QUICK_FAULT_REPETITIONS = 3

CONCURRENCY = 32  # ours, and the stock tasks (and their connection pool)

OURS = "merged listing"
OURS_NO_FAULTS = "merged listing, no faults"
ADAPTIVE = "aiobotocore tasks, adaptive"
STANDARD = "aiobotocore tasks, standard"

KEY = "batchInferenceJobs"

Job = tuple[str, str]
"""A job: its kind (``inference``/``segment``) and ARN."""


@dataclass(slots=True)
class Outcome:
    """What one listing or crawl got: every job handed over (duplicates included),
    the listings that failed, and whether it finished before its deadline."""

    jobs: list[Job]
    failed: set[str]
    finished: bool
    calls: int = -1  # the client's own count of API calls (ours only)
    client_requests: int = -1  # ... and of HTTP requests, retries included


def _ratio(ours: float, peer: float) -> float:
    if peer:
        return ours / peer
    return 1.0 if ours == 0 else math.inf


def _outcome(
    client: aiopersonalize.Client,
    before: aiopersonalize.RequestStats,
    jobs: list[Job],
    failed: set[str],
    finished: bool,
) -> Outcome:
    """An outcome of ours, with the calls and requests its client made since ``before``
    (its warm-up call not counted)."""
    after = client.stats
    return Outcome(
        jobs, failed, finished, after.calls - before.calls, after.requests - before.requests
    )


def _arn(item: object) -> Job:
    if isinstance(item, aiopersonalize.BatchInferenceJobSummary):
        return "inference", item.batch_inference_job_arn
    if isinstance(item, aiopersonalize.BatchSegmentJobSummary):
        return "segment", item.batch_segment_job_arn
    raise TypeError(f"unexpected item {type(item).__name__}")


async def _ours_many(
    client: aiopersonalize.Client, arns: Sequence[str], deadline: float, page_size: int
) -> Outcome:
    """Our merged listing of the versions' inference jobs, failures skipped."""
    before = client.stats
    jobs: list[Job] = []
    listing = client.list_batch_inference_jobs_many(
        arns, concurrency=CONCURRENCY, on_error="skip", page_size=page_size
    )
    done: set[str] = set()
    with anyio.move_on_after(deadline) as scope:
        async with listing:
            async for page in listing.pages():
                jobs.extend(_arn(item) for item in page.items)
                if page.next_token is None and page.solution_version_arn is not None:
                    done.add(page.solution_version_arn)
    failed = {f.solution_version_arn or f"{f.operation} {f.parent_arn}" for f in listing.failures}
    if scope.cancelled_caught:
        failed |= set(arns) - done
    return _outcome(client, before, jobs, failed, not scope.cancelled_caught)


async def _ours_crawl(client: aiopersonalize.Client, strategy: str, deadline: float) -> Outcome:
    """A crawl of the client's region, every job kind, failures skipped."""
    before = client.stats
    jobs: list[Job] = []
    listing = (
        client.crawl_batch_jobs(strategy="versions", on_error="skip")
        if strategy == "versions"
        else client.crawl_batch_jobs(on_error="skip")
    )
    with anyio.move_on_after(deadline) as scope:
        async with listing:
            async for page in listing.pages():
                jobs.extend(_arn(item) for item in page.items)
    failed = {
        f"{f.kind} {f.solution_version_arn or f.parent_arn or '(account)'}"
        for f in listing.failures
    }
    return _outcome(client, before, jobs, failed, not scope.cancelled_caught)


async def _stock_tasks(
    client: Any, arns: Sequence[str], deadline: float, page_size: int
) -> Outcome:
    """CONCURRENCY tasks, each running aiobotocore's paginator on the next version;
    a version whose listing raises is a failed listing, and so is one not done by the
    deadline."""
    jobs: list[Job] = []
    failed: set[str] = set()
    done: set[str] = set()
    paginator = client.get_paginator("list_batch_inference_jobs")
    todo = iter(arns)

    async def list_one(arn: str) -> None:
        try:
            pages = paginator.paginate(
                solutionVersionArn=arn, PaginationConfig={"PageSize": page_size}
            )
            async for page in pages:
                jobs.extend(("inference", j["batchInferenceJobArn"]) for j in page[KEY])
        except (ClientError, BotoCoreError):
            failed.add(arn)
        else:
            done.add(arn)

    async def worker() -> None:
        for arn in todo:  # shared: each version goes to one worker
            await list_one(arn)

    with anyio.move_on_after(deadline) as scope:
        async with anyio.create_task_group() as group:
            for _ in range(CONCURRENCY):
                group.start_soon(worker)
    failed |= set(arns) - done
    return Outcome(jobs, failed, not scope.cancelled_caught)


def _once(jobs: Sequence[Job], expected: Collection[Job]) -> int:
    """The expected jobs handed over exactly once; raise on any job not expected."""
    counts = Counter(jobs)
    unexpected = [job for job in counts if job not in expected]
    if unexpected:
        raise RuntimeError(
            f"{len(unexpected)} jobs listed that the emulator does not have, e.g. {unexpected[:3]}"
        )
    return sum(1 for job in expected if counts[job] == 1)


async def _reference(client: Any) -> tuple[list[str], dict[str, set[Job]], set[Job]]:
    """With stock paginators and no fault: the versions (in listing order), each
    version's inference jobs, and every job of the region."""
    versions: list[str] = []
    async for page in client.get_paginator("list_solution_versions").paginate():
        versions.extend(v["solutionVersionArn"] for v in page["solutionVersions"])
    by_version: dict[str, set[Job]] = {arn: set() for arn in versions}
    everything: set[Job] = set()
    for kind, operation, key, arn_key in (
        ("inference", "list_batch_inference_jobs", "batchInferenceJobs", "batchInferenceJobArn"),
        ("segment", "list_batch_segment_jobs", "batchSegmentJobs", "batchSegmentJobArn"),
    ):
        async for page in client.get_paginator(operation).paginate():
            for item in page[key]:
                job = (kind, item[arn_key])
                everything.add(job)
                if kind == "inference":
                    by_version[item["solutionVersionArn"]].add(job)
    return versions, by_version, everything


class _Bench:
    """The emulator, a session for the stock clients, and the timed runs."""

    def __init__(self, emulator: EmulatorProcess, session: AioSession) -> None:
        self.emulator = emulator
        self.session = session
        self.endpoint = emulator.endpoint_url
        self.first = True

    @contextlib.asynccontextmanager
    async def ours(self) -> AsyncIterator[aiopersonalize.Client]:
        """A fresh client with the library's defaults, its connection open."""
        async with aiopersonalize.Client(**client_options(self.endpoint)) as client:
            listing = client.list_batch_inference_jobs(page_size=1, max_items=1)
            async with listing:
                async for _ in listing:
                    pass
            yield client

    @contextlib.asynccontextmanager
    async def stock(self, mode: str) -> AsyncIterator[Any]:
        """A fresh aiobotocore client in retry ``mode``, its connection open."""
        config = AioConfig(retries={"mode": mode}, max_pool_connections=CONCURRENCY)
        async with self.session.create_client(
            "personalize", config=config, **client_options(self.endpoint)
        ) as client:
            await client.list_batch_inference_jobs(maxResults=1)
            yield client

    async def timed(
        self, faults: Faults, make: Callable[[], Awaitable[Outcome]]
    ) -> tuple[Outcome, float, dict[str, Any]]:
        """Set ``faults``, let the quota's bucket refill, zero the counters, then time
        ``make()``; its outcome, wall time and the emulator's counters."""
        await self.emulator.set_faults(faults)
        if faults.max_rps is not None:
            burst = faults.burst if faults.burst is not None else max(1.0, faults.max_rps)
            await anyio.sleep(burst / faults.max_rps + 0.5)
        await self.emulator.reset()
        start = time.perf_counter()
        outcome = await make()
        wall = time.perf_counter() - start
        stats = await self.emulator.stats()
        await self.emulator.set_faults(Faults())  # the next client's warm-up: no fault
        return outcome, wall, stats


def _measure(
    outcome: Outcome, wall: float, stats: Mapping[str, Any], expected: Collection[Job]
) -> dict[str, float]:
    requests = float(stats["requests"])
    throttled = float(stats["throttled"])
    return {
        "wall": wall,
        "requests": requests,
        "throttled": throttled,
        "server_errors": float(stats["server_errors"]),
        "accepted": requests - throttled,
        "accepted_rate": (requests - throttled) / wall,
        "throttled_share": throttled / requests if requests else 0.0,
        "failed": float(len(outcome.failed)),
        "jobs": float(len(outcome.jobs)),
        "once": float(_once(outcome.jobs, expected)),
        "finished": float(outcome.finished),
        "calls": float(outcome.calls),
        "client_requests": float(outcome.client_requests),
    }


def _describe(name: str, m: Mapping[str, float], expected: int, quota: float | None) -> str:
    calls = "" if m["calls"] < 0 else f"{m['calls']:g} calls (client, {m['client_requests']:g} "
    calls += "" if m["calls"] < 0 else "requests), "
    rate = f"accepted {m['accepted_rate']:.2f} calls/s"
    if quota is not None:
        rate += f" ({m['accepted_rate'] / quota:.0%} of {quota:g}/s)"
    unfinished = "" if m["finished"] else ", NOT FINISHED by the deadline"
    return (
        f"{name}: {calls}{m['requests']:g} requests at the emulator, {m['throttled']:g} "
        f"throttled ({m['throttled_share']:.0%}), {m['server_errors']:g} server errors; "
        f"wall {m['wall']:.3f} s, {rate}; {m['failed']:g} failed listings; "
        f"{m['once']:g} of {expected} jobs listed once ({m['jobs']:g} handed over)"
        f"{unfinished}"
    )


async def run(quick: bool) -> list[Row]:
    """Parts 1, 2 and 3 against one emulator process."""
    inventory = QUICK_INVENTORY if quick else INVENTORY
    fault_repetitions = QUICK_FAULT_REPETITIONS if quick else FAULT_REPETITIONS
    rows: list[Row] = []
    async with EmulatorProcess(EmulatorOptions(inventory=inventory)) as emulator:
        bench = _Bench(emulator, get_session())
        async with bench.stock("standard") as stock:
            versions, by_version, everything = await _reference(stock)
        total = inventory.solution_versions * (
            inventory.inference_jobs_per_version + inventory.segment_jobs_per_version
        )
        if len(versions) != inventory.solution_versions or len(everything) != total:
            raise RuntimeError(
                f"expected {inventory.solution_versions} versions and {total} jobs, the "
                f"emulator has {len(versions)} and {len(everything)}"
            )
        log(
            NAME,
            f"emulator: aiopersonalize serve, pid {emulator.pid}, {bench.endpoint}; "
            f"{len(versions)} solution versions, {len(everything)} jobs in one region",
        )
        rows += await _part1(bench, everything)
        rows += await _part2(bench, versions[: min(QUOTA_VERSIONS, len(versions))], by_version)
        rows += await _part3(bench, versions[:FAULT_VERSIONS], by_version, fault_repetitions)
    log(NAME, f"emulator stopped, exit status {emulator.returncode}")
    return rows


async def _part1(bench: _Bench, everything: set[Job]) -> list[Row]:
    log(
        NAME,
        f"part 1: crawl strategies at {CRAWL_QUOTA:g} requests/s (burst "
        f"{CRAWL_FAULTS.burst}), {CRAWL_FAULTS.latency * 1000:.0f} ms per request, the "
        f"library's defaults (concurrency 10); once each",
    )

    def contender(name: str, strategy: str) -> Contender:
        async def run_once() -> Measurement:
            async with bench.ours() as client:
                outcome, wall, stats = await bench.timed(
                    CRAWL_FAULTS, lambda: _ours_crawl(client, strategy, CRAWL_DEADLINE)
                )
            measured = _measure(outcome, wall, stats, everything)
            log(NAME, _describe(name, measured, len(everything), CRAWL_QUOTA))
            if outcome.failed:
                log(NAME, f"{name}: failed listings, e.g. {sorted(outcome.failed)[:3]}")
            return measured

        return Contender(name, run_once)

    samples = await interleave([contender(ACCOUNT, "account"), contender(VERSIONS, "versions")], 1)
    account, versions = samples[ACCOUNT][0], samples[VERSIONS][0]

    def at_quota(calls: float) -> float:
        return max(0.0, calls - CRAWL_QUOTA) / CRAWL_QUOTA

    ideal = at_quota(account["calls"]) / at_quota(versions["calls"])
    log(
        NAME,
        f"part 1: at exactly {CRAWL_QUOTA:g}/s after the burst, {ACCOUNT} would take "
        f"{at_quota(account['calls']):.1f} s, {VERSIONS} {at_quota(versions['calls']):.1f} s",
    )
    where = f"quota {CRAWL_QUOTA:g}/s"
    return [
        Row(
            benchmark=NAME,
            measure=f"{where}: calls (client), {ACCOUNT} / {VERSIONS}",
            unit="calls",
            ours=account["calls"],
            peer=versions["calls"],
            ratio=_ratio(account["calls"], versions["calls"]),
        ),
        Row(
            benchmark=NAME,
            measure=f"{where}: wall time, {ACCOUNT} / {VERSIONS}",
            unit="s",
            ours=account["wall"],
            peer=versions["wall"],
            ratio=account["wall"] / versions["wall"],
            target=ideal,
        ),
        *(
            Row(
                benchmark=NAME,
                measure=f"{where}: jobs listed once, {name} / all",
                unit="jobs",
                ours=m["once"],
                peer=len(everything),
                ratio=m["once"] / len(everything),
                limit=1.0,
                target=1.0,
                check="==",
            )
            for name, m in ((ACCOUNT, account), (VERSIONS, versions))
        ),
    ]


def _stock_contender(
    bench: _Bench,
    name: str,
    mode: str,
    faults: Faults,
    arns: Sequence[str],
    expected: set[Job],
    deadline: float,
    quota: float | None,
    page_size: int = 100,
) -> Contender:
    async def run_once() -> Measurement:
        async with bench.stock(mode) as client:
            outcome, wall, stats = await bench.timed(
                faults, lambda: _stock_tasks(client, arns, deadline, page_size)
            )
        measured = _measure(outcome, wall, stats, expected)
        log(NAME, _describe(name, measured, len(expected), quota))
        return measured

    return Contender(name, run_once)


def _ours_contender(
    bench: _Bench,
    name: str,
    faults: Faults,
    arns: Sequence[str],
    expected: set[Job],
    deadline: float,
    quota: float | None,
    page_size: int = 100,
) -> Contender:
    async def run_once() -> Measurement:
        async with bench.ours() as client:
            outcome, wall, stats = await bench.timed(
                faults, lambda: _ours_many(client, arns, deadline, page_size)
            )
        measured = _measure(outcome, wall, stats, expected)
        log(NAME, _describe(name, measured, len(expected), quota))
        if outcome.failed:
            log(NAME, f"{name}: failed listings, e.g. {sorted(outcome.failed)[:3]}")
        return measured

    return Contender(name, run_once)


def _expected(arns: Sequence[str], by_version: Mapping[str, set[Job]]) -> set[Job]:
    return set().union(*(by_version[arn] for arn in arns))


def _acceptance(where: str, m: Mapping[str, float], versions: int, jobs: int) -> list[Row]:
    """The rows every part's merged listing must meet: no failure, every job once."""
    return [
        Row(
            benchmark=NAME,
            measure=f"{where}: failed listings, {OURS} / versions",
            unit="listings",
            ours=m["failed"],
            peer=versions,
            ratio=m["failed"] / versions,
            limit=0.0,
            target=0.0,
            check="==",
        ),
        Row(
            benchmark=NAME,
            measure=f"{where}: jobs listed once, {OURS} / all",
            unit="jobs",
            ours=m["once"],
            peer=jobs,
            ratio=m["once"] / jobs,
            limit=1.0,
            target=1.0,
            check="==",
        ),
    ]


async def _part2(
    bench: _Bench, arns: Sequence[str], by_version: Mapping[str, set[Job]]
) -> list[Row]:
    expected = _expected(arns, by_version)
    log(
        NAME,
        f"part 2: {len(arns)} versions' inference jobs ({len(expected)}) at {QUOTA:g} "
        f"requests/s (burst {BURST}), {QUOTA_FAULTS.latency * 1000:.0f} ms per request, "
        f"concurrency {CONCURRENCY}; once each",
    )
    contenders = [
        _ours_contender(bench, OURS, QUOTA_FAULTS, arns, expected, QUOTA_DEADLINE, QUOTA),
        _stock_contender(
            bench, ADAPTIVE, "adaptive", QUOTA_FAULTS, arns, expected, QUOTA_DEADLINE, QUOTA
        ),
        _stock_contender(
            bench, STANDARD, "standard", QUOTA_FAULTS, arns, expected, QUOTA_DEADLINE, QUOTA
        ),
    ]
    samples = await interleave(contenders, 1)
    ours = samples[OURS][0]
    where = f"quota {QUOTA:g}/s"
    ideal_wall = ours["accepted"] / QUOTA
    rows = [
        Row(
            benchmark=NAME,
            measure=f"{where}: wall time, {OURS} / accepted calls at the quota",
            unit="s",
            ours=ours["wall"],
            peer=ideal_wall,
            ratio=_ratio(ours["wall"], ideal_wall),
            limit=RATE_LIMIT,
            target=max(0.0, ours["accepted"] - BURST) / ours["accepted"],
        ),
        Row(
            benchmark=NAME,
            measure=f"{where}: throttled share, {OURS}: throttled / requests",
            unit="req",
            ours=ours["throttled"],
            peer=ours["requests"],
            ratio=ours["throttled_share"],
            limit=THROTTLED_LIMIT,
            target=0.0,
        ),
        *_acceptance(where, ours, len(arns), len(expected)),
    ]
    for peer in (ADAPTIVE, STANDARD):
        theirs = samples[peer][0]
        rows += [
            Row(
                benchmark=NAME,
                measure=f"{where}: accepted calls/s (higher is better), {OURS} / {peer}",
                unit="/s",
                ours=round(ours["accepted_rate"], 2),
                peer=round(theirs["accepted_rate"], 2),
                ratio=_ratio(ours["accepted_rate"], theirs["accepted_rate"]),
            ),
            Row(
                benchmark=NAME,
                measure=f"{where}: throttled share, {OURS} / {peer}",
                unit="share",
                ours=round(ours["throttled_share"], 3),
                peer=round(theirs["throttled_share"], 3),
                ratio=_ratio(ours["throttled_share"], theirs["throttled_share"]),
            ),
            Row(
                benchmark=NAME,
                measure=f"{where}: failed listings, {OURS} / {peer}",
                unit="listings",
                ours=ours["failed"],
                peer=theirs["failed"],
                ratio=_ratio(ours["failed"], theirs["failed"]),
            ),
        ]
    return rows


async def _part3(
    bench: _Bench,
    arns: Sequence[str],
    by_version: Mapping[str, set[Job]],
    repetitions: int,
) -> list[Row]:
    expected = _expected(arns, by_version)
    log(
        NAME,
        f"part 3: {len(arns)} versions' inference jobs ({len(expected)}), no quota; "
        f"throttle rate {FAULTS.throttle_rate:g}, error rate {FAULTS.error_rate:g}, "
        f"{FAULTS.latency * 1000:.0f} ms per request, concurrency {CONCURRENCY}; ours with "
        f"and without the faults {repetitions} times, interleaved, then the stock tasks "
        f"once each, every run bounded by {FAULT_DEADLINE:g} s",
    )
    pairs: Samples = await interleave(
        [
            _ours_contender(
                bench, OURS, FAULTS, arns, expected, FAULT_DEADLINE, None, FAULT_PAGE_SIZE
            ),
            _ours_contender(
                bench,
                OURS_NO_FAULTS,
                NO_FAULTS,
                arns,
                expected,
                FAULT_DEADLINE,
                None,
                FAULT_PAGE_SIZE,
            ),
        ],
        repetitions,
    )
    stock = await interleave(
        [
            _stock_contender(
                bench,
                ADAPTIVE,
                "adaptive",
                FAULTS,
                arns,
                expected,
                FAULT_DEADLINE,
                None,
                FAULT_PAGE_SIZE,
            ),
            _stock_contender(
                bench,
                STANDARD,
                "standard",
                FAULTS,
                arns,
                expected,
                FAULT_DEADLINE,
                None,
                FAULT_PAGE_SIZE,
            ),
        ],
        1,
    )
    ours = pairs[OURS]
    ratios = paired_ratios(ours, pairs[OURS_NO_FAULTS], "wall")
    # The acceptance holds in every repetition: the worst run's failures and jobs.
    worst = {
        "failed": max(s["failed"] for s in ours),
        "once": min(s["once"] for s in ours),
    }
    where = "faults"
    rows = [
        Row(
            benchmark=NAME,
            measure=f"{where}: wall time, {OURS} with faults / without",
            unit="s",
            ours=median([s["wall"] for s in ours]),
            peer=median([s["wall"] for s in pairs[OURS_NO_FAULTS]]),
            ratio=median(ratios),
            limit=FAULT_LIMIT,
            target=1.0,
            spread=(min(ratios), max(ratios)),
        ),
        *_acceptance(f"{where} (worst run)", worst, len(arns), len(expected)),
    ]
    our_wall = median([s["wall"] for s in ours])
    our_once = median([s["once"] for s in ours])
    for peer in (ADAPTIVE, STANDARD):
        theirs = stock[peer][0]
        unfinished = "" if theirs["finished"] else f" (not finished in {FAULT_DEADLINE:g} s)"
        rows += [
            Row(
                benchmark=NAME,
                measure=f"{where}: wall time, {OURS} / {peer}{unfinished}",
                unit="s",
                ours=our_wall,
                peer=theirs["wall"],
                ratio=our_wall / theirs["wall"],
            ),
            Row(
                benchmark=NAME,
                measure=f"{where}: jobs listed once (higher is better), {OURS} / {peer}",
                unit="jobs",
                ours=our_once,
                peer=theirs["once"],
                ratio=_ratio(our_once, theirs["once"]),
            ),
        ]
    return rows
