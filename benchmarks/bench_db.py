"""Database: the inventory sink's speed, alone and behind a crawl, in SQLite and PostgreSQL.

The acceptance (issue 15, item 5):

(a) the sink alone, records already in memory to committed rows: at least 50,000
    jobs/s into SQLite and 20,000 into a local PostgreSQL. 200,000 jobs (quick: 50,000)
    in pages of 100, handed to the inventory's writer as a crawl hands them
    (``InventoryCrawl.store``: the pages waiting, up to 64, in one transaction), into a
    new inventory each repetition (every job new: a row and a 'created' history row
    each, the heaviest case). The row: the time taken against the time the required
    rate allows (ratio <= 1).
(b) a 1,000,000-job crawl (quick: 200,000) from the emulator (no latency; in a
    subprocess, so its CPU is not ours) into each database, and into JSON Lines,
    against the same crawl with no sink (``crawl_batch_jobs()`` pages collected in
    memory): at least 0.9 of its jobs/s for each, i.e. at most 1/0.9 of its time. The
    sinks run as ``aiopersonalize crawl`` runs them (``cli._engine.crawl``): ``--db``
    alone (the database written from its writer process, as by default), and
    ``--output FILE`` alone. For context, the same crawls into each database written
    from the crawl's own process (``Inventory(url, in_process=True)``).

    Also for context, where each crawl's CPU went (user + system time of the crawl's
    process, the emulator, the writer process and the PostgreSQL server, per job),
    and two ratios to the crawl with no sink made of it: the least time that CPU
    allows on this machine's cores (no process faster than its own CPU time, all of
    them no faster than their sum over the cores), which says whether the limit can
    be met here at all; and the crawl's own process's CPU, which is what the crawl
    would take where the writer and the server have cores of their own.

The emulator serves 5 regions with one solution version each, 100,000 inference and
100,000 segment jobs per region (quick: 20,000): 10 account-wide listings of 100-job
pages, ``concurrency=10``. PostgreSQL is the server ``AIOPERSONALIZE_TEST_POSTGRES_URL``
names, or a throwaway cluster started here (``tests/db/cluster.py``); each run writes
to a schema of its own. SQLite and JSON Lines files go to a temporary directory.

3 repetitions, interleaved (quick: 2).
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
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
)

import aiopersonalize
from aiopersonalize import BatchInferenceJobSummary, Page
from aiopersonalize._inventory import BUFFER_PAGES
from aiopersonalize.cli._engine import Plan, crawl
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "db"
DESCRIPTION = (
    "inventory database: the sink alone (SQLite, PostgreSQL) and a 1,000,000-job crawl "
    "into SQLite, PostgreSQL and JSON Lines vs no sink"
)

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
SINK_JOBS, QUICK_SINK_JOBS = 200_000, 50_000
CRAWL_JOBS, QUICK_CRAWL_JOBS = 1_000_000, 200_000
REPETITIONS, QUICK_REPETITIONS = 3, 2
REQUIRED = {"SQLite": 50_000, "PostgreSQL": 20_000}
CRAWL_LIMIT = 1 / 0.9
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
CPU = ("crawl", "emulator", "writer", "database")
"""The processes whose CPU time a crawl's run records (``cpu_<name>``, seconds)."""
IN_PROCESS = ("SQLite, in process", "PostgreSQL, in process")  # context: no writer process
SINKS = ("SQLite", "PostgreSQL", "JSON Lines", *IN_PROCESS)

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("nightly", "weekly", "backfill", "holiday", "campaign", "refresh", "email", "promo")


@contextlib.contextmanager
def _postgres_server() -> Any:
    url = os.environ.get("AIOPERSONALIZE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT))
    from tests.db import cluster

    directory = cluster.temporary()
    try:
        yield cluster.start(directory)
    finally:
        cluster.stop(directory)


NewInventory = Callable[[], contextlib.AbstractAsyncContextManager[str]]
"""A new, empty inventory's URL for one run, removed after it."""


@contextlib.asynccontextmanager
async def _postgres_inventory(server: str) -> AsyncIterator[str]:
    """A URL whose tables live in a new schema of their own, dropped after the run: the
    server (maybe the user's, ``AIOPERSONALIZE_TEST_POSTGRES_URL``) keeps none of them,
    and its autovacuum does not work on them during the next run."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}".encode())
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


@contextlib.asynccontextmanager
async def _sqlite_inventory(files: Path) -> AsyncIterator[str]:
    """A new SQLite file's URL, the file removed after the run (a 1,000,000-job
    inventory takes about 650 MB)."""
    path = files / f"{uuid.uuid4().hex}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm", "-lock"):
            await anyio.Path(f"{path}{suffix}").unlink(missing_ok=True)


def _pages(jobs: int) -> list[Page[Any]]:
    """Pages of 100 inference jobs as a listing hands them over: newest first, their
    names (so ARNs) in no particular order, as the emulator's and real accounts' are."""
    base = datetime(2024, 5, 1, tzinfo=timezone.utc)
    version = "arn:aws:personalize:us-east-1:123456789012:solution/s/v1"
    pages = []
    for start in range(0, jobs, 100):
        items = tuple(
            BatchInferenceJobSummary(
                batch_inference_job_arn="arn:aws:personalize:us-east-1:123456789012:"
                f"batch-inference-job/{_name(n)}",
                job_name=_name(n),
                status="ACTIVE",
                creation_date_time=base + timedelta(seconds=n),
                last_updated_date_time=base + timedelta(seconds=n, minutes=40),
                solution_version_arn=version,
                batch_inference_job_mode="BATCH_INFERENCE",
            )
            for n in range(start, min(start + 100, jobs))
        )
        token = None if start + 100 >= jobs else f"t{start}"
        pages.append(Page(items, token, None, "us-east-1", "inference"))
    return pages


def _name(n: int) -> str:
    """Job ``n``'s name: a word picked by the CRC of ``n``, then ``n``."""
    return f"{WORDS[zlib.crc32(str(n).encode()) % len(WORDS)]}-{n:08d}"


async def _sink_alone(new: NewInventory, pages: list[Page[Any]]) -> Measurement:
    """The pages through the inventory's writer (``InventoryCrawl.store``), as a crawl
    hands them over, from first to last committed."""
    async with new() as url, aiopersonalize.Inventory(url) as inventory:
        run = await inventory.begin_crawl()
        send, receive = anyio.create_memory_object_stream[Page[Any]](BUFFER_PAGES)
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(run.store, receive)
            async with send:
                for page in pages:
                    await send.send(page)
        wall = time.perf_counter() - start
        result = await run.finish()
    jobs = sum(len(p.items) for p in pages)
    if result.seen != jobs:
        raise RuntimeError(f"{result.seen} jobs stored; expected {jobs}")
    return {"wall": wall, "jobs": jobs}


async def _no_sink(client: aiopersonalize.Client) -> Measurement:
    start = time.perf_counter()
    collected: list[Any] = []
    async with client.crawl_batch_jobs(regions=REGIONS) as listing:
        async for page in listing.pages():
            collected.extend(page.items)
    return {"wall": time.perf_counter() - start, "jobs": len(collected)}


async def _engine_crawl(
    client: aiopersonalize.Client,
    *,
    url: str | None = None,
    output: Path | None = None,
    in_process: bool = False,
) -> Measurement:
    plan = Plan(regions=REGIONS)
    start = time.perf_counter()
    if url is not None:
        async with aiopersonalize.Inventory(url, in_process=in_process) as inventory:
            run = await inventory.begin_crawl(regions=REGIONS)
            outcome = await crawl(client, plan, None, inventory=run)
            result = await run.finish(failures=outcome.failures, error=outcome.error)
        wall = time.perf_counter() - start
        if result.seen != sum(outcome.jobs.values()):
            raise RuntimeError(f"{result.seen} stored of {sum(outcome.jobs.values())}")
    else:
        assert output is not None
        with output.open("wb") as sink:
            outcome = await crawl(client, plan, sink)
        wall = time.perf_counter() - start
    if outcome.error is not None or outcome.failures:
        raise RuntimeError(f"the crawl failed: {outcome.error or outcome.failures}")
    return {"wall": wall, "jobs": sum(outcome.jobs.values())}


def _postgres_cpu() -> float:
    """CPU seconds of this machine's PostgreSQL server: its processes' own, and those
    of the ones that have ended (a connection's backend, counted by the postmaster)."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _cpu(emulator: psutil.Process) -> dict[str, float]:
    """CPU seconds so far of the processes in :data:`CPU`. The writer processes are this
    one's children that have ended (a writer ends when its inventory closes)."""
    own = psutil.Process().cpu_times()
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_crawl": own.user + own.system,
        "cpu_emulator": sum(emulator.cpu_times()[:2]),
        "cpu_writer": ended.ru_utime + ended.ru_stime,
        "cpu_database": _postgres_cpu(),
    }


def _with_cpu(
    emulator: psutil.Process, run_once: Callable[[], Awaitable[Measurement]]
) -> Callable[[], Awaitable[Measurement]]:
    """``run_once``, its measurement with the CPU time each process spent meanwhile."""

    async def measured() -> Measurement:
        before = _cpu(emulator)
        found = dict(await run_once())
        after = _cpu(emulator)
        return found | {key: after[key] - before[key] for key in after}

    return measured


def _least_time(run: Measurement) -> float:
    """The least wall time the run's CPU allows on :data:`CORES` cores: no process
    faster than its own CPU time (each runs one thread), all of them no faster than
    their sum over the cores."""
    spent = [run[f"cpu_{name}"] for name in CPU]
    return max(*spent, sum(spent) / CORES)


def _cpu_rows(samples: Samples, name: str, crawl_jobs: int) -> list[Row]:
    """The context rows of ``name``'s CPU: its least time here, and its crawl's process's
    CPU, each against the crawl with no sink."""
    runs, base = samples[name], samples["no sink"]
    per_job = {key: median([r[f"cpu_{key}"] for r in runs]) / crawl_jobs * 1e6 for key in CPU}
    spent = ", ".join(f"{key} {per_job[key]:.1f}" for key in CPU)
    least = [_least_time(r) for r in runs]
    ratios = [t / b["wall"] for t, b in zip(least, base, strict=True)]
    rows = [
        Row(
            benchmark=NAME,
            measure=f"crawl into {name}: least time its CPU allows on {CORES} cores / no "
            f"sink's time (CPU µs a job: {spent})",
            unit="s",
            ours=median(least),
            peer=median([b["wall"] for b in base]),
            ratio=median(ratios),
            spread=(min(ratios), max(ratios)),
            target=1.0,
        )
    ]
    if name != "no sink":
        ratios = [r["cpu_crawl"] / b["cpu_crawl"] for r, b in zip(runs, base, strict=True)]
        rows.append(
            Row(
                benchmark=NAME,
                measure=f"crawl into {name}: its own process's CPU / no sink's",
                unit="s",
                ours=median([r["cpu_crawl"] for r in runs]),
                peer=median([b["cpu_crawl"] for b in base]),
                ratio=median(ratios),
                spread=(min(ratios), max(ratios)),
                target=1.0,
            )
        )
    return rows


@contextlib.asynccontextmanager
async def _emulator(jobs: int) -> AsyncIterator[EmulatorProcess]:
    per_kind = jobs // (2 * len(REGIONS))
    inventory = InventorySpec(
        dataset_groups=1,
        solutions_per_dataset_group=1,
        versions_per_solution=1,
        inference_jobs_per_version=per_kind,
        segment_jobs_per_version=per_kind,
    )
    async with EmulatorProcess(EmulatorOptions(inventory=inventory)) as emulator:
        yield emulator


async def run(quick: bool) -> list[Row]:
    repetitions = QUICK_REPETITIONS if quick else REPETITIONS
    sink_jobs = QUICK_SINK_JOBS if quick else SINK_JOBS
    crawl_jobs = QUICK_CRAWL_JOBS if quick else CRAWL_JOBS
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, _postgres_server() as server:
        files = Path(tmp)

        def sqlite_url() -> contextlib.AbstractAsyncContextManager[str]:
            return _sqlite_inventory(files)

        def postgres_url() -> contextlib.AbstractAsyncContextManager[str]:
            return _postgres_inventory(server)

        # (a) the sink alone
        pages = _pages(sink_jobs)
        log(NAME, f"(a) {sink_jobs} jobs in pages of 100, into a new inventory each run")
        samples = await interleave(
            [
                Contender("SQLite", lambda: _sink_alone(sqlite_url, pages)),
                Contender("PostgreSQL", lambda: _sink_alone(postgres_url, pages)),
            ],
            repetitions,
        )
        for name, runs in samples.items():
            wall = median([r["wall"] for r in runs])
            budget = sink_jobs / REQUIRED[name]
            ratios = [r["wall"] / budget for r in runs]
            log(NAME, f"(a) {name}: {sink_jobs / wall:,.0f} jobs/s")
            rows.append(
                Row(
                    benchmark=NAME,
                    measure=f"sink alone, {name}: time / at {REQUIRED[name]:,} jobs/s "
                    f"({sink_jobs / wall:,.0f} jobs/s)",
                    unit="s",
                    ours=wall,
                    peer=budget,
                    ratio=median(ratios),
                    spread=(min(ratios), max(ratios)),
                    limit=1.0,
                )
            )
        # (b) a crawl into each sink against no sink
        log(NAME, f"(b) a {crawl_jobs}-job crawl from the emulator, {len(REGIONS)} regions")
        async with (
            _emulator(crawl_jobs) as emulator,
            aiopersonalize.Client(**client_options(emulator.endpoint_url)) as client,
        ):
            await _no_sink(client)  # warm-up: connections, models
            serving = psutil.Process(emulator.pid)
            contenders = [
                Contender("no sink", lambda: _no_sink(client)),
                Contender("SQLite", lambda: _crawl_into(client, url=sqlite_url)),
                Contender("PostgreSQL", lambda: _crawl_into(client, url=postgres_url)),
                Contender(
                    "SQLite, in process",
                    lambda: _crawl_into(client, url=sqlite_url, in_process=True),
                ),
                Contender(
                    "PostgreSQL, in process",
                    lambda: _crawl_into(client, url=postgres_url, in_process=True),
                ),
                Contender(
                    "JSON Lines",
                    lambda: _engine_crawl(client, output=files / "jobs.jsonl"),
                ),
            ]
            samples = await interleave(
                [Contender(c.name, _with_cpu(serving, c.run_once)) for c in contenders],
                repetitions,
            )
        base = samples["no sink"]
        for name in SINKS:
            runs = samples[name]
            for r in runs:
                if r["jobs"] != crawl_jobs:
                    raise RuntimeError(f"{name}: {r['jobs']} jobs; expected {crawl_jobs}")
            ratios = [r["wall"] / b["wall"] for r, b in zip(runs, base, strict=True)]
            wall = median([r["wall"] for r in runs])
            base_wall = median([b["wall"] for b in base])
            log(NAME, f"(b) {name}: {crawl_jobs / wall:,.0f} jobs/s, no sink "
                      f"{crawl_jobs / base_wall:,.0f}")  # fmt: skip
            rows.append(
                Row(
                    benchmark=NAME,
                    measure=f"crawl of {crawl_jobs:,} jobs into {name} / no sink: time "
                    f"({crawl_jobs / wall:,.0f} vs {crawl_jobs / base_wall:,.0f} jobs/s)",
                    unit="s",
                    ours=wall,
                    peer=base_wall,
                    ratio=median(ratios),
                    spread=(min(ratios), max(ratios)),
                    limit=None if name in IN_PROCESS else CRAWL_LIMIT,
                    target=1.0,
                )
            )
        # Not of the crawls written in process: their process runs the database's
        # thread (SQLite's) beside the event loop, not one thread.
        for name in ("no sink", *(name for name in SINKS if name not in IN_PROCESS)):
            rows.extend(_cpu_rows(samples, name, crawl_jobs))
    return rows


async def _crawl_into(
    client: aiopersonalize.Client, *, url: NewInventory, in_process: bool = False
) -> Measurement:
    async with url() as made:
        return await _engine_crawl(client, url=made, in_process=in_process)
