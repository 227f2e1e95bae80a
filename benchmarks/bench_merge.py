"""Merge: the jobs of 100 solution versions, 3 pages each, listed under a pool of 10,
against aiobotocore's paginator run version after version and boto3's paginator over
10 threads, measured in the same run.

The acceptance (from the issue): at 60 ms per request, 100 versions x 3 pages with
``concurrency=10`` take at most 1.2 x the ideal wall time, requests x latency /
concurrency = 300 x 60 ms / 10 = 1.8 s. The stock paginator, one version after the
other, needs 300 x 60 ms = 18 s at best (an ideal ratio of 0.1); boto3's paginator over
a thread pool of the same width has the same 1.8 s ideal (a ratio of 1.0), so that row
shows what the event loop costs or saves against threads. For context, a hand-written
pool of 10 tasks running aiobotocore's paginator on the next version (what a user
would write without this library) shows what the merge and our decoding cost or save
over the transport: both pay botocore's signing and HTTP on one event loop, but only
the tasks pay its response parsing (its timestamp parsing alone is about half of its
per-page CPU), which ours replaces by decoding the JSON itself.

One emulator, in a subprocess (``EmulatorProcess``) so that the server's CPU time is
not the client's (the machine has 2 cores), serves 5 dataset groups x 10 solutions x 2
versions = 100 solution versions with 300 batch inference jobs each: pages of exactly
100, 100 and 100. Every run is checked: the same 30,000 distinct jobs for every
contender, and 300 requests counted by the emulator with no error or throttling. A
version's 300 jobs take at least 3 requests of 100, so 300 requests in all also proves
there was no empty 4th page and no retry. Ours must also keep the server's peak of
requests in flight at or below 10. The client's CPU time (every thread of this
process) and the emulator's are shown too: on this 2-core machine the client's per-page
CPU, serialized on its event loop, is what stands between the pool and the ideal.

The consumer does nothing but collect each job's ARN: what is timed is listing.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import boto3  # type: ignore[import-untyped]
import psutil  # type: ignore[import-untyped]
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
from aiobotocore.session import get_session
from botocore.config import Config

import aiopersonalize
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, Faults, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "merge"
DESCRIPTION = (
    "100 versions x 3 pages, 60 ms/request, concurrency 10: wall time vs the ideal, "
    "aiobotocore's paginator in sequence and boto3's over 10 threads"
)

LATENCY = 0.06  # seconds the emulator adds to every request
CONCURRENCY = 10  # our pool, and boto3's threads
PAGE_SIZE = 100
INVENTORY = InventorySpec(
    dataset_groups=5,
    solutions_per_dataset_group=10,
    versions_per_solution=2,
    inference_jobs_per_version=3 * PAGE_SIZE,  # 3 full pages, and no empty 4th
    segment_jobs_per_version=0,
)
VERSIONS = INVENTORY.solution_versions
JOBS_PER_VERSION = INVENTORY.inference_jobs_per_version
PAGES_PER_VERSION = -(-JOBS_PER_VERSION // PAGE_SIZE)
JOBS = VERSIONS * JOBS_PER_VERSION
REQUESTS = VERSIONS * PAGES_PER_VERSION
OPERATION = "ListBatchInferenceJobs"

IDEAL_WALL = REQUESTS * LATENCY / CONCURRENCY  # 1.8 s
SEQUENTIAL_WALL = REQUESTS * LATENCY  # 18 s: the best one chain at a time can do
LIMIT = 1.2  # the acceptance: wall time <= 1.2 x IDEAL_WALL

# The paginator in sequence takes ~20 s a run: it gets fewer repetitions than the others,
# which run in every repetition (with it, then without it).
REPETITIONS = 9
SEQUENTIAL_REPETITIONS = 3
QUICK_REPETITIONS = 2
QUICK_SEQUENTIAL_REPETITIONS = 1

OURS = "merged listing"
THREADS = "boto3 threads"
TASKS = "aiobotocore tasks"
SEQUENTIAL = "aiobotocore in sequence"

Listed = tuple[set[str], dict[str, list[int]]]
"""One run's distinct job ARNs, and (for the peers) each version's page sizes."""


async def _ours(client: aiopersonalize.Client, arns: Sequence[str]) -> Listed:
    """aiopersonalize's merged listing, consuming every job as it arrives."""
    jobs: set[str] = set()
    listing = client.list_batch_inference_jobs_many(
        arns, concurrency=CONCURRENCY, page_size=PAGE_SIZE
    )
    async with listing:
        async for job in listing:
            jobs.add(job.batch_inference_job_arn)
    return jobs, {}


async def _sequential(client: Any, arns: Sequence[str]) -> Listed:
    """aiobotocore's own paginator, one version after the other, as documented."""
    jobs: set[str] = set()
    sizes: dict[str, list[int]] = {}
    paginator = client.get_paginator("list_batch_inference_jobs")
    for arn in arns:
        pages = paginator.paginate(solutionVersionArn=arn, PaginationConfig={"PageSize": PAGE_SIZE})
        sizes[arn] = []
        async for page in pages:
            items = page["batchInferenceJobs"]
            sizes[arn].append(len(items))
            jobs.update(job["batchInferenceJobArn"] for job in items)
    return jobs, sizes


async def _tasks(client: Any, arns: Sequence[str]) -> Listed:
    """aiobotocore's paginator in CONCURRENCY tasks, each taking the next version."""
    jobs: set[str] = set()
    sizes: dict[str, list[int]] = {}
    paginator = client.get_paginator("list_batch_inference_jobs")
    todo = iter(arns)

    async def worker() -> None:
        for arn in todo:  # shared: each version goes to one worker
            sizes[arn] = []
            pages = paginator.paginate(
                solutionVersionArn=arn, PaginationConfig={"PageSize": PAGE_SIZE}
            )
            async for page in pages:
                items = page["batchInferenceJobs"]
                sizes[arn].append(len(items))
                jobs.update(job["batchInferenceJobArn"] for job in items)

    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENCY):
            group.start_soon(worker)
    return jobs, sizes


def _boto3_version(client: Any, arn: str) -> tuple[list[str], list[int]]:
    """One version's jobs with boto3's paginator (runs in a worker thread)."""
    jobs: list[str] = []
    sizes: list[int] = []
    paginator = client.get_paginator("list_batch_inference_jobs")
    for page in paginator.paginate(
        solutionVersionArn=arn, PaginationConfig={"PageSize": PAGE_SIZE}
    ):
        items = page["batchInferenceJobs"]
        sizes.append(len(items))
        jobs.extend(job["batchInferenceJobArn"] for job in items)
    return jobs, sizes


def _boto3_threads(client: Any, executor: ThreadPoolExecutor, arns: Sequence[str]) -> Listed:
    """boto3's paginator, one version per task, over a pool of CONCURRENCY threads."""
    jobs: set[str] = set()
    sizes: dict[str, list[int]] = {}
    for arn, (version_jobs, version_sizes) in zip(
        arns, executor.map(functools.partial(_boto3_version, client), arns), strict=True
    ):
        jobs.update(version_jobs)
        sizes[arn] = version_sizes
    return jobs, sizes


def _check(name: str, listed: Listed, expected: set[str]) -> None:
    jobs, sizes = listed
    if jobs != expected:
        raise RuntimeError(
            f"{name}: {len(jobs)} distinct jobs, {len(jobs - expected)} unexpected and "
            f"{len(expected - jobs)} missing, of the {len(expected)} expected"
        )
    bad = {arn: s for arn, s in sizes.items() if s != [PAGE_SIZE] * PAGES_PER_VERSION}
    if bad:
        raise RuntimeError(f"{name}: unexpected pages for {len(bad)} versions, e.g. {bad}")


async def run(quick: bool) -> list[Row]:
    """Time the contenders, interleaved, against one emulator process."""
    repetitions = QUICK_REPETITIONS if quick else REPETITIONS
    sequential_repetitions = QUICK_SEQUENTIAL_REPETITIONS if quick else SEQUENTIAL_REPETITIONS
    emulator = EmulatorProcess(EmulatorOptions(inventory=INVENTORY))
    executor = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="boto3")
    async with contextlib.AsyncExitStack() as stack:
        # Last out: by then no run is under way, so shutting the pool down does not wait.
        stack.callback(executor.shutdown)
        await stack.enter_async_context(emulator)
        endpoint = emulator.endpoint_url
        credentials = client_options(endpoint)
        stock = await stack.enter_async_context(
            get_session().create_client("personalize", **credentials)
        )
        threaded = boto3.session.Session().client(
            "personalize", config=Config(max_pool_connections=CONCURRENCY), **credentials
        )
        stack.callback(threaded.close)
        pooled = await stack.enter_async_context(
            get_session().create_client(
                "personalize", config=AioConfig(max_pool_connections=CONCURRENCY), **credentials
            )
        )
        ours = await stack.enter_async_context(aiopersonalize.Client(**client_options(endpoint)))

        arns: list[str] = []
        async for page in stock.get_paginator("list_solution_versions").paginate():
            arns.extend(version["solutionVersionArn"] for version in page["solutionVersions"])
        if len(arns) != VERSIONS:
            raise RuntimeError(
                f"expected {VERSIONS} solution versions, the emulator has {len(arns)}"
            )

        listers: dict[str, Callable[[], Awaitable[Listed]]] = {
            OURS: functools.partial(_ours, ours, arns),
            THREADS: functools.partial(
                anyio.to_thread.run_sync,
                functools.partial(_boto3_threads, threaded, executor, arns),
            ),
            TASKS: functools.partial(_tasks, pooled, arns),
            SEQUENTIAL: functools.partial(_sequential, stock, arns),
        }
        server = psutil.Process(emulator.pid)

        def server_cpu() -> float:
            times = server.cpu_times()
            return float(times.user + times.system)

        # Warm-up, without latency: connections opened (up to 10 for the pools), threads
        # started, models and paginators loaded. The sequential paginator's jobs are the
        # reference every later run must match.
        expected, sizes = await listers[SEQUENTIAL]()
        if len(expected) != JOBS:
            raise RuntimeError(
                f"expected {JOBS} distinct jobs, the emulator listed {len(expected)}"
            )
        _check(SEQUENTIAL, (expected, sizes), expected)
        for name, lister in listers.items():
            if name != SEQUENTIAL:
                _check(name, await lister(), expected)
        log(
            NAME,
            f"emulator: aiopersonalize serve, pid {emulator.pid}, {endpoint}; {VERSIONS} "
            f"solution versions with {JOBS_PER_VERSION} batch inference jobs each, "
            f"{JOBS} in all: {PAGES_PER_VERSION} pages ({'+'.join(map(str, sizes[arns[0]]))}) "
            f"per version, {REQUESTS} requests per run",
        )
        await emulator.set_faults(Faults(latency=LATENCY))
        log(
            NAME,
            f"{LATENCY * 1000:.0f} ms per request, concurrency {CONCURRENCY}: ideal "
            f"{REQUESTS} x {LATENCY * 1000:.0f} ms / {CONCURRENCY} = {IDEAL_WALL:.3f} s "
            f"({SEQUENTIAL_WALL:.1f} s one request at a time); {repetitions} repetitions, "
            f"interleaved, {sequential_repetitions} of them with {SEQUENTIAL}",
        )

        def contender(name: str) -> Contender:
            async def run_once() -> Measurement:
                calls = ours.stats.calls
                served = server_cpu()
                cpu = time.process_time()  # every thread of this process, not the server's
                start = time.perf_counter()
                listed = await listers[name]()
                wall = time.perf_counter() - start
                cpu = time.process_time() - cpu
                served = server_cpu() - served
                _check(name, listed, expected)
                stats = await emulator.stats()
                requests = stats["by_operation"].get(OPERATION, 0)
                if requests != REQUESTS or stats["requests"] != REQUESTS:
                    # A retry, an empty 4th page or another operation: not the same job.
                    raise RuntimeError(f"{name}: {REQUESTS} pages took other requests: {stats}")
                peak = stats["peak_in_flight"]
                if name == OURS:
                    if peak > CONCURRENCY:
                        raise RuntimeError(
                            f"{name}: {peak} requests in flight at once, over the "
                            f"concurrency of {CONCURRENCY}"
                        )
                    if ours.stats.calls - calls != REQUESTS:
                        raise RuntimeError(
                            f"{name}: the client counted {ours.stats.calls - calls} calls"
                        )
                return {
                    "wall": wall,
                    "cpu": cpu,
                    "server_cpu": served,
                    "requests": requests,
                    "peak": peak,
                }

            return Contender(name, run_once)

        with_sequential = await interleave(
            [contender(name) for name in listers], sequential_repetitions, between=emulator.reset
        )
        # The rest, without the paginator in sequence; the forward/reversed alternation
        # goes on where the first repetitions left it.
        others = [contender(name) for name in listers if name != SEQUENTIAL]
        without = await interleave(
            others if sequential_repetitions % 2 == 0 else others[::-1],
            repetitions - sequential_repetitions,
            between=emulator.reset,
        )
    # The clients are closed, the threads joined, the emulator process stopped and reaped.
    log(NAME, f"emulator stopped, exit status {emulator.returncode}")
    samples: Samples = {
        name: with_sequential[name] + without.get(name, []) for name in with_sequential
    }
    for name, runs in samples.items():
        wall = median([s["wall"] for s in runs])
        log(
            NAME,
            f"{name}: {len(runs)} runs, {median([s['requests'] for s in runs]):g} requests "
            f"each, peak in flight {max(s['peak'] for s in runs):g}, wall {wall:.3f} s, "
            f"CPU: client {median([s['cpu'] for s in runs]):.3f} s, emulator "
            f"{median([s['server_cpu'] for s in runs]):.3f} s (medians)",
        )
    # What the ideals leave out: the time per request beyond the injected latency
    # (signing, HTTP, JSON on both sides), seen plainly where requests do not overlap.
    overhead = (median([s["wall"] for s in samples[SEQUENTIAL]]) - SEQUENTIAL_WALL) / REQUESTS
    log(
        NAME,
        f"time per request beyond the injected {LATENCY * 1000:.0f} ms, {SEQUENTIAL}: "
        f"{overhead * 1000:.1f} ms",
    )
    return _rows(samples, with_sequential)


def _rows(samples: Samples, with_sequential: Samples) -> list[Row]:
    ours = samples[OURS]
    walls = [s["wall"] for s in ours]
    ideal = Row(
        benchmark=NAME,
        measure=f"wall time, {OURS} / ideal",
        unit="s",
        ours=median(walls),
        peer=IDEAL_WALL,
        ratio=median(walls) / IDEAL_WALL,
        limit=LIMIT,
        target=1.0,
        spread=(min(walls) / IDEAL_WALL, max(walls) / IDEAL_WALL),
    )

    def wall(peer_name: str, pairs: Samples, target: float) -> Row:
        ratios = paired_ratios(pairs[OURS], pairs[peer_name], "wall")
        return Row(
            benchmark=NAME,
            measure=f"wall time, {OURS} / {peer_name}",
            unit="s",
            ours=median([s["wall"] for s in pairs[OURS]]),
            peer=median([s["wall"] for s in pairs[peer_name]]),
            ratio=median(ratios),
            target=target,
            spread=(min(ratios), max(ratios)),
        )

    # Each run was checked to make exactly REQUESTS requests; these rows show it.
    def requests(peer_name: str) -> Row:
        pairs = samples if peer_name != SEQUENTIAL else with_sequential
        return Row(
            benchmark=NAME,
            measure=f"requests per run, {OURS} / {peer_name}",
            unit="req",
            ours=median([s["requests"] for s in pairs[OURS]]),
            peer=median([s["requests"] for s in pairs[peer_name]]),
            ratio=median(paired_ratios(pairs[OURS], pairs[peer_name], "requests")),
            limit=1.0,
            target=1.0,
            check="==",
        )

    # The cap holds in every run: the highest peak of all, against the concurrency.
    peak = max(s["peak"] for s in ours)
    in_flight = Row(
        benchmark=NAME,
        measure=f"peak requests in flight (max), {OURS} / concurrency",
        unit="req",
        ours=peak,
        peer=CONCURRENCY,
        ratio=peak / CONCURRENCY,
        limit=1.0,
        target=1.0,
    )
    return [
        ideal,
        wall(THREADS, samples, 1.0),
        wall(TASKS, samples, 1.0),
        wall(SEQUENTIAL, with_sequential, IDEAL_WALL / SEQUENTIAL_WALL),
        requests(THREADS),
        requests(TASKS),
        requests(SEQUENTIAL),
        in_flight,
    ]
