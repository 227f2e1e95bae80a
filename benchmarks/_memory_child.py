"""One run of the memory benchmark in a fresh process: list, consume slowly, report.

    python benchmarks/_memory_child.py < config.json

``bench_memory.py`` starts this script once per contender run, so that the peak RSS it
reports is this listing's alone, not the parent's (whose other benchmarks and earlier
runs have grown its heap). The configuration comes as one JSON object on stdin:

- ``contender``: ``"ours"`` (aiopersonalize's merged listing), ``"sequential"``
  (aiobotocore's paginator, one version after the other), ``"unbounded"`` (aiobotocore's
  paginator in ``concurrency`` tasks feeding one unbounded stream of pages) or
  ``"floor"`` (a client opened and one job listed: what every contender has before it
  lists anything);
- ``endpoint_url``, and ``arns``: the solution versions to list;
- ``concurrency`` and ``page_size``;
- ``every`` and ``sleep``: the slow consumer does ``await anyio.sleep(sleep)`` after
  every ``every`` jobs.

It prints one JSON object on one line to stdout, and nothing else there:

- ``peak_kib``: this process's peak RSS, start to end (``VmHWM``);
  ``setup_peak_kib`` and ``setup_rss_kib``: its peak and its RSS once the client is
  open, just before the listing starts; ``listing_peak_kib``: its peak RSS from then
  to the end of the listing (the high-water mark is reset as the listing starts);
- ``jobs``, ``versions`` (distinct solution versions among the jobs),
  ``unexpected_versions`` (of those, how many were not asked for), and the fewest and
  most jobs of one version (``per_version_min``, ``per_version_max``);
- ``wall``: seconds from the start of the listing to its end, consumer included;
  ``sleeps`` and ``slept``: the consumer's sleeps, and the seconds spent in them;
- for ``"ours"``, ``ahead_mean`` and ``ahead_full``: sampled after every sleep, the
  pages requested but not yet consumed (the client's ``stats.calls`` less the pages
  consumed), on average, and the share of samples where that was ``concurrency``:
  every worker holding a page for the consumer, or fetching one;
- for ``"unbounded"``, ``queued_peak``: the most pages its stream ever held.

Linux only: RSS comes from ``/proc/self/status``, not ``getrusage``. A child's
``ru_maxrss`` starts from its parent's peak: at ``exec`` the kernel keeps the high-water
mark of the memory it replaces, which after ``fork`` or ``vfork`` is the parent's, so
every child of a 300 MB parent would report at least 300 MB.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
import warnings
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from _common import client_options
from aiobotocore.session import get_session
from anyio.abc import ObjectSendStream

import aiopersonalize

Result = dict[str, float]


@dataclass(frozen=True, slots=True)
class Config:
    """What the parent asked this run to do."""

    contender: str
    endpoint_url: str
    arns: tuple[str, ...]
    concurrency: int
    page_size: int
    every: int
    sleep: float

    @classmethod
    def from_json(cls, text: str) -> Config:
        raw = json.loads(text)
        return cls(
            contender=str(raw["contender"]),
            endpoint_url=str(raw["endpoint_url"]),
            arns=tuple(str(arn) for arn in raw["arns"]),
            concurrency=int(raw["concurrency"]),
            page_size=int(raw["page_size"]),
            every=int(raw["every"]),
            sleep=float(raw["sleep"]),
        )


STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(name: str) -> float:
    """A memory line of ``/proc/self/status`` (``VmHWM``, ``VmRSS``), in KiB."""
    for line in STATUS.read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            number, unit = value.split()
            if unit != "kB":
                raise RuntimeError(f"{STATUS}: {line!r} is not in kB")
            return float(number)
    raise RuntimeError(f"{STATUS} has no {name} line")


class Memory:
    """This process's RSS: its peak so far, and the peak of the listing alone."""

    def __init__(self) -> None:
        self.setup_peak = 0.0
        self.setup_rss = 0.0

    def listing_starts(self) -> None:
        """Note the peak and RSS so far, and reset the peak to the RSS (Linux 4.0+)."""
        self.setup_peak = _status_kib("VmHWM")
        self.setup_rss = _status_kib("VmRSS")
        CLEAR_REFS.write_text("5")

    def report(self) -> Result:
        listing_peak = _status_kib("VmHWM")
        return {
            "peak_kib": max(self.setup_peak, listing_peak),
            "setup_peak_kib": self.setup_peak,
            "setup_rss_kib": self.setup_rss,
            "listing_peak_kib": listing_peak,
        }


class SlowConsumer:
    """Takes jobs one by one, sleeping ``sleep`` seconds after every ``every`` of them.

    The sleeps make it slow: they leave the event loop to the producers, so a consumer
    slower than its producers keeps their buffers full. Its only other work is counting
    each solution version's jobs (a dict as long as the list of versions). ``ahead``,
    if set, is sampled after each sleep: how many pages the producers have ahead;
    ``samples``, ``ahead_total`` and ``ahead_full`` (samples of at least ``full``) sum
    them up without keeping them, so nothing here grows with the number of jobs.
    """

    def __init__(self, every: int, sleep: float) -> None:
        self._every = every
        self._sleep = sleep
        self.ahead: Callable[[], int] | None = None
        self.full = 0
        self.jobs = 0
        self.per_version: dict[str, int] = {}
        self.sleeps = 0
        self.slept = 0.0
        self.samples = self.ahead_total = self.ahead_full = 0

    async def take(self, solution_version_arn: str) -> None:
        self.jobs += 1
        counts = self.per_version
        counts[solution_version_arn] = counts.get(solution_version_arn, 0) + 1
        if self.jobs % self._every == 0:
            start = time.perf_counter()
            await anyio.sleep(self._sleep)
            self.slept += time.perf_counter() - start
            self.sleeps += 1
            if self.ahead is not None:
                ahead = self.ahead()
                self.samples += 1
                self.ahead_total += ahead
                self.ahead_full += ahead >= self.full


def _aiobotocore_client(config: Config) -> Any:
    return get_session().create_client("personalize", **client_options(config.endpoint_url))


def _our_client(config: Config) -> aiopersonalize.Client:
    return aiopersonalize.Client(**client_options(config.endpoint_url))


async def _ours(config: Config, consumer: SlowConsumer, memory: Memory) -> Result:
    """aiopersonalize's merged listing, consumed job by job with ``async for``."""
    async with _our_client(config) as client:
        memory.listing_starts()
        start = time.perf_counter()
        calls = client.stats.calls
        # Every page has page_size jobs (the parent checks the request count), so the
        # consumer has consumed jobs // page_size pages when it samples.
        consumer.ahead = lambda: client.stats.calls - calls - consumer.jobs // config.page_size
        consumer.full = config.concurrency
        listing = client.list_batch_inference_jobs_many(
            config.arns, concurrency=config.concurrency, page_size=config.page_size
        )
        async with listing:
            async for job in listing:
                await consumer.take(job.solution_version_arn or "")
        wall = time.perf_counter() - start
    samples = max(consumer.samples, 1)
    return {
        "wall": wall,
        "ahead_mean": consumer.ahead_total / samples,
        "ahead_full": consumer.ahead_full / samples,
    }


async def _pages(paginator: Any, arn: str, page_size: int) -> AsyncGenerator[list[Any], None]:
    pages = paginator.paginate(solutionVersionArn=arn, PaginationConfig={"PageSize": page_size})
    async for page in pages:
        yield page["batchInferenceJobs"]


async def _sequential(config: Config, consumer: SlowConsumer, memory: Memory) -> Result:
    """aiobotocore's paginator, one version after the other, as documented."""
    async with _aiobotocore_client(config) as client:
        memory.listing_starts()
        start = time.perf_counter()
        paginator = client.get_paginator("list_batch_inference_jobs")
        for arn in config.arns:
            async with contextlib.aclosing(_pages(paginator, arn, config.page_size)) as pages:
                async for jobs in pages:
                    for job in jobs:
                        await consumer.take(job["solutionVersionArn"])
        wall = time.perf_counter() - start
    return {"wall": wall}


async def _unbounded(config: Config, consumer: SlowConsumer, memory: Memory) -> Result:
    """What one writes by hand without a bound: ``concurrency`` tasks, each running
    aiobotocore's paginator on the next version and sending every page into one
    unbounded stream, which the consumer reads."""
    queued = queued_peak = 0
    async with _aiobotocore_client(config) as client:
        memory.listing_starts()
        start = time.perf_counter()
        paginator = client.get_paginator("list_batch_inference_jobs")
        todo = iter(config.arns)
        send, receive = anyio.create_memory_object_stream[list[Any]](math.inf)

        async def worker(send: ObjectSendStream[list[Any]]) -> None:
            nonlocal queued, queued_peak
            async with send:
                for arn in todo:  # shared: each version goes to one worker
                    pages = _pages(paginator, arn, config.page_size)
                    async with contextlib.aclosing(pages):
                        async for jobs in pages:
                            await send.send(jobs)  # never waits: the buffer is unbounded
                            queued += 1
                            queued_peak = max(queued_peak, queued)

        async with anyio.create_task_group() as group, receive:
            async with send:
                for _ in range(config.concurrency):
                    group.start_soon(worker, send.clone())
            async for jobs in receive:
                queued -= 1
                for job in jobs:
                    await consumer.take(job["solutionVersionArn"])
        wall = time.perf_counter() - start
    return {"wall": wall, "queued_peak": queued_peak}


async def _floor(config: Config, consumer: SlowConsumer, memory: Memory) -> Result:
    """A client opened and one job listed, in one request: the floor under every run."""
    async with _our_client(config) as client:
        memory.listing_starts()
        start = time.perf_counter()
        listing = client.list_batch_inference_jobs(config.arns[0], page_size=1, max_items=1)
        async with listing:
            async for job in listing:
                await consumer.take(job.solution_version_arn or "")
        wall = time.perf_counter() - start
    return {"wall": wall}


RUNNERS = {"ours": _ours, "sequential": _sequential, "unbounded": _unbounded, "floor": _floor}


async def main(argv: Sequence[str]) -> None:
    if argv:
        raise SystemExit("usage: python _memory_child.py < config.json")
    # A leaked socket or session is a bug here as in the tests: show it (on stderr).
    warnings.simplefilter("default", ResourceWarning)
    config = Config.from_json(sys.stdin.read())
    runner = RUNNERS.get(config.contender)
    if runner is None:
        raise SystemExit(f"unknown contender {config.contender!r}; one of {', '.join(RUNNERS)}")
    consumer = SlowConsumer(config.every, config.sleep)
    memory = Memory()
    result = await runner(config, consumer, memory)
    per_version = consumer.per_version.values()
    report = {
        **result,
        **memory.report(),
        "jobs": consumer.jobs,
        "versions": len(consumer.per_version),
        "unexpected_versions": len(consumer.per_version.keys() - set(config.arns)),
        "per_version_min": min(per_version, default=0),
        "per_version_max": max(per_version, default=0),
        "sleeps": consumer.sleeps,
        "slept": consumer.slept,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:], backend="asyncio")
