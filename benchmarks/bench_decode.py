"""Decode: the client CPU each listed job costs, ours against aiobotocore's stock
paginator and boto3's, on pages of 100 jobs from the emulator, in the same run.

The acceptance (from the issue): client CPU per listed item at most 0.3 of the stock
aiobotocore paginator's on 100-item pages from the emulator, same run, records
identical. For context, the same against boto3's paginator, and the items per second
of each (there the ratio is ours/peer in items per second: above 1 is better).

One emulator, in a subprocess (``EmulatorProcess``) so that the server's CPU time is
not the client's, serves one solution version with 20,000 batch inference jobs: 200
pages of exactly 100, and no empty 201st page. It adds no latency: the listing is one
request after the other, and what differs between the contenders is the client's work
per page (signing, HTTP, and turning the body into records: botocore's parser walks the
output shape member by member, and parses each timestamp through dateutil into local
time; ours decodes the body into the records in one pass). CPU time is
``time.process_time()``: every thread of this process (boto3's runs in a worker
thread), and not the emulator's.

- Ours: ``client.list_batch_inference_jobs(arn, page_size=100)`` (``prefetch=1``),
  consumed record by record with ``async for``, inside ``async with listing:``.
- aiobotocore paginator: ``client.get_paginator("list_batch_inference_jobs").paginate(
  solutionVersionArn=arn, PaginationConfig={"PageSize": 100})``, the items of each page.
- boto3 paginator: the same in boto3, run in a worker thread
  (``anyio.to_thread.run_sync``) so that the event loop is not blocked.

Every consumer only appends each record (or item) to a list, the same for all. Clients
are created and warmed up first (a whole listing each: connections opened, models and
paginators loaded). Every run is checked, after its timing stops: 200 requests counted
by the emulator, all ``ListBatchInferenceJobs`` (so no retry, no empty page); pages of
exactly 100 for the peers; and records equal, record by record, to what the generic
path makes of the stock paginator's items, ``BatchInferenceJobSummary.from_wire(item)``
for each botocore-parsed item of the warm-up. The warm-up and each contender's first
timed run are also held to the same ``repr`` of the whole list, which shows enum members
against plain strings and each timestamp's tzinfo. The peers' items must give the same
records through ``from_wire``.

15 repetitions, interleaved (3 with ``--quick``): about 90 s (25 s). The machine is
noisy, and a single run's ratio varies by about 0.05 either side of the median.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
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
from aiobotocore.session import get_session

import aiopersonalize
from aiopersonalize import BatchInferenceJobSummary
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "decode"
DESCRIPTION = (
    "200 pages of 100 jobs, no latency: client CPU per job and jobs per second "
    "vs aiobotocore's and boto3's paginators"
)

PAGE_SIZE = 100
JOBS = 20_000  # 200 full pages, and no empty 201st
PAGES = JOBS // PAGE_SIZE
OPERATION = "ListBatchInferenceJobs"

LIMIT = 0.3  # the acceptance: CPU per item, ours / the stock paginator

REPETITIONS = 15  # the machine is noisy: a run's ratio varies by +-0.05 around the median
QUICK_REPETITIONS = 3

OURS = "ours"
STOCK = "aiobotocore paginator"
BOTO3 = "boto3 paginator"

Listed = tuple[list[Any], list[int]]
"""One listing's records (ours) or botocore-parsed items (the peers), and the peers'
page sizes (ours consumes records, not pages: the request count checks its pages)."""


async def _ours(client: aiopersonalize.Client, arn: str) -> Listed:
    """aiopersonalize's listing, record by record."""
    records: list[BatchInferenceJobSummary] = []
    listing = client.list_batch_inference_jobs(arn, page_size=PAGE_SIZE)
    async with listing:
        async for job in listing:
            records.append(job)  # noqa: PERF401 - record by record, as a consumer does
    return records, []


async def _stock(client: Any, arn: str) -> Listed:
    """aiobotocore's own paginator, the items of each page."""
    items: list[Any] = []
    sizes: list[int] = []
    paginator = client.get_paginator("list_batch_inference_jobs")
    pages = paginator.paginate(solutionVersionArn=arn, PaginationConfig={"PageSize": PAGE_SIZE})
    async for page in pages:
        jobs = page["batchInferenceJobs"]
        sizes.append(len(jobs))
        for job in jobs:
            items.append(job)  # noqa: PERF402 - the same per-item work as ours
    return items, sizes


def _boto3(client: Any, arn: str) -> Listed:
    """boto3's paginator, the items of each page (runs in a worker thread)."""
    items: list[Any] = []
    sizes: list[int] = []
    paginator = client.get_paginator("list_batch_inference_jobs")
    for page in paginator.paginate(
        solutionVersionArn=arn, PaginationConfig={"PageSize": PAGE_SIZE}
    ):
        jobs = page["batchInferenceJobs"]
        sizes.append(len(jobs))
        for job in jobs:
            items.append(job)  # noqa: PERF402 - the same per-item work as ours
    return items, sizes


def _check(
    name: str,
    listed: Listed,
    expected: Sequence[BatchInferenceJobSummary],
    expected_repr: str,
    *,
    thorough: bool,
) -> None:
    """Refuse a run whose records are not, field for field, the expected ones.

    ``==`` compares the fields; ``thorough`` also compares the reprs, which show enum
    members against plain strings and each timestamp's tzinfo (a second per run: done
    for the warm-up and each contender's first timed run, whose code path every later
    run repeats).
    """
    found, sizes = listed
    if name != OURS:
        if sizes != [PAGE_SIZE] * PAGES:
            raise RuntimeError(f"{name}: pages of {sizes}; expected {PAGES} of {PAGE_SIZE}")
        found = [BatchInferenceJobSummary.from_wire(item) for item in found]
    if found == expected and (not thorough or repr(found) == expected_repr):
        return
    # The first difference; a shorter list differs at its end.
    for index, (record, reference) in enumerate(zip(found, expected, strict=False)):
        if record != reference or repr(record) != repr(reference):
            raise RuntimeError(
                f"{name}: record {index} differs from the generic path's:\n"
                f"  {record!r}\n  {reference!r}"
            )
    raise RuntimeError(f"{name}: {len(found)} records; expected {len(expected)}")


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
        credentials = client_options(endpoint)
        stock = await stack.enter_async_context(
            get_session().create_client("personalize", **credentials)
        )
        threaded = boto3.session.Session().client("personalize", **credentials)
        stack.callback(threaded.close)
        ours = await stack.enter_async_context(aiopersonalize.Client(**client_options(endpoint)))
        versions = (await stock.list_solution_versions())["solutionVersions"]
        if len(versions) != 1:
            raise RuntimeError(f"expected one solution version, the emulator has {len(versions)}")
        arn: str = versions[0]["solutionVersionArn"]

        listers: dict[str, Callable[[], Awaitable[Listed]]] = {
            OURS: functools.partial(_ours, ours, arn),
            STOCK: functools.partial(_stock, stock, arn),
            BOTO3: functools.partial(
                anyio.to_thread.run_sync, functools.partial(_boto3, threaded, arn)
            ),
        }

        # Warm-up: connections opened, the worker thread started, models and paginators
        # loaded. The generic path's records of the stock paginator's items are the
        # reference every run must match.
        items, sizes = await listers[STOCK]()
        expected = [BatchInferenceJobSummary.from_wire(item) for item in items]
        expected_repr = repr(expected)
        distinct = len({record.batch_inference_job_arn for record in expected})
        if distinct != JOBS:
            raise RuntimeError(f"expected {JOBS} distinct jobs, the emulator listed {distinct}")
        _check(STOCK, (items, sizes), expected, expected_repr, thorough=True)
        for name, lister in listers.items():
            if name != STOCK:
                _check(name, await lister(), expected, expected_repr, thorough=True)
        log(
            NAME,
            f"emulator: aiopersonalize serve, pid {emulator.pid}, {endpoint}; 1 solution "
            f"version with {JOBS:,} batch inference jobs: {len(sizes)} pages of "
            f"{PAGE_SIZE} for every contender, no latency; records identical to the "
            f"generic path's; {repetitions} repetitions, interleaved",
        )
        server = psutil.Process(emulator.pid)

        def server_cpu() -> float:
            times = server.cpu_times()
            return float(times.user + times.system)

        checked: set[str] = set()  # contenders whose first timed run was checked thoroughly

        def contender(name: str) -> Contender:
            async def run_once() -> Measurement:
                served = server_cpu()
                cpu = time.process_time()  # every thread of this process, not the server's
                start = time.perf_counter()
                listed = await listers[name]()
                wall = time.perf_counter() - start
                cpu = time.process_time() - cpu
                served = server_cpu() - served
                # Not timed.
                _check(name, listed, expected, expected_repr, thorough=name not in checked)
                checked.add(name)
                stats = await emulator.stats()
                requests = stats["by_operation"].get(OPERATION, 0)
                if requests != PAGES or stats["requests"] != PAGES:
                    # A retry, or a request for an empty 201st page: not the same job.
                    raise RuntimeError(f"{name}: {PAGES} pages took other requests: {stats}")
                items = len(listed[0])
                return {
                    "wall": wall,
                    "cpu": cpu,
                    "server_cpu": served,
                    "cpu_per_item": cpu / items * 1e6,  # microseconds
                    "items_per_second": items / wall,
                    "requests": requests,
                }

            return Contender(name, run_once)

        samples = await interleave(
            [contender(name) for name in listers], repetitions, between=emulator.reset
        )
    # The clients are closed, the emulator process stopped and reaped.
    log(NAME, f"emulator stopped, exit status {emulator.returncode}")
    for name, runs in samples.items():
        log(
            NAME,
            f"{name}: client CPU {median([s['cpu'] for s in runs]) / PAGES * 1000:.2f} ms per "
            f"page of {PAGE_SIZE}, wall {median([s['wall'] for s in runs]):.3f} s per "
            f"listing ({median([s['items_per_second'] for s in runs]):,.0f} jobs/s), emulator "
            f"CPU {median([s['server_cpu'] for s in runs]) / PAGES * 1000:.2f} ms per page "
            "(medians)",
        )
    return _rows(samples)


def _rows(samples: Samples) -> list[Row]:
    ours = samples[OURS]

    def ratio_row(peer_name: str, key: str, measure: str, unit: str, digits: int) -> Row:
        peer = samples[peer_name]
        ratios = paired_ratios(ours, peer, key)
        return Row(
            benchmark=NAME,
            measure=measure,
            unit=unit,
            ours=round(median([s[key] for s in ours]), digits),
            peer=round(median([s[key] for s in peer]), digits),
            ratio=median(ratios),
            limit=LIMIT if key == "cpu_per_item" and peer_name == STOCK else None,
            spread=(min(ratios), max(ratios)),
        )

    return [
        ratio_row(STOCK, "cpu_per_item", f"CPU per item, ours / {STOCK}", "µs", 2),
        ratio_row(BOTO3, "cpu_per_item", f"CPU per item, ours / {BOTO3}", "µs", 2),
        ratio_row(
            STOCK, "items_per_second", f"items/s (higher is better), ours / {STOCK}", "/s", 0
        ),
        ratio_row(
            BOTO3, "items_per_second", f"items/s (higher is better), ours / {BOTO3}", "/s", 0
        ),
    ]
