"""Prefetch: a 12-page listing with slow requests and slow per-page work, against the
stock aiobotocore paginator, measured in the same run.

The acceptance (from the issue): at 80 ms per request and 80 ms of consumer work per
page, a 12-page listing with ``prefetch=1`` takes at most 0.6 of the stock paginator's
wall time. The paginator does request, work, request, work...: 24 x 80 ms = 1.92 s.
With prefetch the next request overlaps the current page's work: 80 ms for the first
page, then 12 x 80 ms = 1.04 s, a ratio of 13/24 = 0.54 (tending to 0.5 as the listing
gets longer). ``prefetch=0`` (≈ 1.0) and ``prefetch=2`` (no better than 1 when requests
and work take equally long) are shown for context.

The consumer's per-page work is ``await anyio.sleep(0.08)``: it models I/O-bound work
(writing the page to a database or a queue), which is what an async consumer does.
CPU-bound work would block the event loop, and with it any library's prefetch.

One emulator, in a subprocess (``EmulatorProcess``) so that the server's CPU time is
not the client's, serves one solution version with 1150 batch inference jobs: pages
of 100, 100, ..., 50, and no empty 13th page. Both clients talk real HTTP to it with
the same credentials and region, are warmed up first (client creation and the first
connection are not timed), and every run is checked: 12 pages, 1150 distinct jobs, and
the requests the emulator counted.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
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
from aiobotocore.session import get_session

import aiopersonalize
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, Faults, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "prefetch"
DESCRIPTION = (
    "12-page listing, 80 ms/request + 80 ms/page of I/O-bound work: "
    "wall time vs aiobotocore's paginator"
)

LATENCY = 0.08  # seconds the emulator adds to every request
WORK = 0.08  # seconds of (I/O-bound) consumer work per page
PAGE_SIZE = 100
JOBS = 1150  # 11 full pages and one of 50: no empty 13th page
PAGES = -(-JOBS // PAGE_SIZE)
OPERATION = "ListBatchInferenceJobs"

LIMIT = 0.6  # the acceptance
IDEAL = (PAGES + 1) / (2 * PAGES)  # 13/24 with prefetch >= 1; 1/2 for a long listing

REPETITIONS = 9
QUICK_REPETITIONS = 3

STOCK = "stock paginator"

Listed = tuple[list[int], int]
"""One listing's page sizes, and how many distinct jobs it returned."""


async def _stock(client: Any, arn: str, work: float) -> Listed:
    """aiobotocore's own paginator, page by page, as its documentation shows."""
    sizes: list[int] = []
    arns: set[str] = set()
    paginator = client.get_paginator("list_batch_inference_jobs")
    pages = paginator.paginate(solutionVersionArn=arn, PaginationConfig={"PageSize": PAGE_SIZE})
    async for page in pages:
        jobs = page["batchInferenceJobs"]
        sizes.append(len(jobs))
        arns.update(job["batchInferenceJobArn"] for job in jobs)
        await anyio.sleep(work)
    return sizes, len(arns)


async def _ours(client: aiopersonalize.Client, arn: str, work: float, *, prefetch: int) -> Listed:
    """aiopersonalize's listing, page by page."""
    sizes: list[int] = []
    arns: set[str] = set()
    listing = client.list_batch_inference_jobs(arn, page_size=PAGE_SIZE, prefetch=prefetch)
    async with listing:
        async for page in listing.pages():
            sizes.append(len(page.items))
            arns.update(job.batch_inference_job_arn for job in page.items)
            await anyio.sleep(work)
    return sizes, len(arns)


def _check(name: str, listed: Listed) -> None:
    sizes, distinct = listed
    expected = [PAGE_SIZE] * (JOBS // PAGE_SIZE) + ([JOBS % PAGE_SIZE] if JOBS % PAGE_SIZE else [])
    if sizes != expected or distinct != JOBS:
        raise RuntimeError(
            f"{name}: pages of {sizes} with {distinct} distinct jobs; "
            f"expected {expected} with {JOBS}"
        )


async def run(quick: bool) -> list[Row]:
    """Time the contenders, interleaved, against one emulator process."""
    repetitions = QUICK_REPETITIONS if quick else REPETITIONS
    inventory = InventorySpec(
        dataset_groups=1,
        solutions_per_dataset_group=1,
        versions_per_solution=1,
        inference_jobs_per_version=JOBS,
        segment_jobs_per_version=0,
    )
    emulator = EmulatorProcess(EmulatorOptions(inventory=inventory))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(emulator)
        endpoint = emulator.endpoint_url
        stock = await stack.enter_async_context(
            get_session().create_client("personalize", **client_options(endpoint))
        )
        ours = await stack.enter_async_context(aiopersonalize.Client(**client_options(endpoint)))
        versions = (await stock.list_solution_versions())["solutionVersions"]
        if len(versions) != 1:
            raise RuntimeError(f"expected one solution version, the emulator has {len(versions)}")
        arn: str = versions[0]["solutionVersionArn"]

        listers: dict[str, Callable[[float], Awaitable[Listed]]] = {
            STOCK: functools.partial(_stock, stock, arn),
            "prefetch=1": functools.partial(_ours, ours, arn, prefetch=1),
            "prefetch=0": functools.partial(_ours, ours, arn, prefetch=0),
            "prefetch=2": functools.partial(_ours, ours, arn, prefetch=2),
        }

        # Warm-up, without latency: connections opened, models and paginators loaded.
        warm = {name: await lister(0.0) for name, lister in listers.items()}
        for name, listed in warm.items():
            _check(name, listed)
        sizes = warm[STOCK][0]
        log(
            NAME,
            f"emulator: aiopersonalize serve, pid {emulator.pid}, {endpoint}; 1 solution "
            f"version with {JOBS} batch inference jobs: {len(sizes)} pages "
            f"({'+'.join(map(str, sizes))}) for every contender",
        )
        await emulator.set_faults(Faults(latency=LATENCY))
        log(
            NAME,
            f"{LATENCY * 1000:.0f} ms per request, {WORK * 1000:.0f} ms of consumer work per "
            f"page (await anyio.sleep: I/O-bound work); {repetitions} repetitions, interleaved",
        )

        def contender(name: str) -> Contender:
            async def run_once() -> Measurement:
                start = time.perf_counter()
                listed = await listers[name](WORK)
                wall = time.perf_counter() - start
                _check(name, listed)
                stats = await emulator.stats()
                requests = stats["by_operation"].get(OPERATION, 0)
                if requests != PAGES or stats["requests"] != PAGES:
                    # A retry, or a request for an empty 13th page: not the same job.
                    raise RuntimeError(f"{name}: {PAGES} pages took other requests: {stats}")
                return {"wall": wall, "requests": requests}

            return Contender(name, run_once)

        samples = await interleave(
            [contender(name) for name in listers], repetitions, between=emulator.reset
        )
    # Both clients are closed, and the emulator process stopped and reaped.
    log(NAME, f"emulator stopped, exit status {emulator.returncode}")
    # What the ideal ratio leaves out: the time per page beyond the injected latency and
    # work (signing, HTTP, JSON on both sides), which prefetch cannot hide in a chain.
    injected = PAGES * (LATENCY + WORK)
    overhead = {
        name: (median([s["wall"] for s in samples[name]]) - injected) / PAGES * 1000
        for name in (STOCK, "prefetch=0")
    }
    log(
        NAME,
        f"time per page beyond the injected {(LATENCY + WORK) * 1000:.0f} ms, sequential: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in overhead.items()),
    )
    return _rows(samples)


def _rows(samples: Samples) -> list[Row]:
    peer = samples[STOCK]

    def wall(name: str, limit: float | None, target: float) -> Row:
        ratios = paired_ratios(samples[name], peer, "wall")
        return Row(
            benchmark=NAME,
            measure=f"wall time, {name} / stock",
            unit="s",
            ours=median([s["wall"] for s in samples[name]]),
            peer=median([s["wall"] for s in peer]),
            ratio=median(ratios),
            limit=limit,
            target=target,
            spread=(min(ratios), max(ratios)),
        )

    # Each run was checked to make exactly one request per page; these show it.
    requests = Row(
        benchmark=NAME,
        measure="requests per listing, prefetch=1 / stock",
        unit="req",
        ours=median([s["requests"] for s in samples["prefetch=1"]]),
        peer=median([s["requests"] for s in peer]),
        ratio=median(paired_ratios(samples["prefetch=1"], peer, "requests")),
        limit=1.0,
        target=1.0,
        check="==",
    )
    return [
        wall("prefetch=1", LIMIT, IDEAL),
        wall("prefetch=0", None, 1.0),
        wall("prefetch=2", None, IDEAL),
        requests,
    ]
