"""Memory: peak RSS of a merged listing of 1,000,000 jobs with a slow consumer, each run
in a fresh process, against 150 MB and against the same listing of 100,000 jobs, with
aiobotocore's paginator in sequence and in unbounded tasks for context.

The acceptance (from the issue): the peak RSS of a 1,000,000-job merged listing with a
slow consumer stays under 150 MB, and does not grow with the job count (here: at most
1.1 x the peak of the same listing of 100,000 jobs). MB are 10^6 bytes.

Peak RSS is measured in a fresh child process per run (``_memory_child.py``), so that
neither this process's heap (grown by other benchmarks and earlier runs) nor another
run counts: the child lists, consumes, and reports as one line of JSON its peak RSS
(``VmHWM``), the peak of the listing alone (the high-water mark reset as the listing
starts), and timings. Not ``ru_maxrss``: a child's starts from its parent's peak (the
kernel keeps, at ``exec``, the high-water mark of the forked memory it replaces). A
*floor* child only opens a client and lists one job in one request: Python, the
imports, botocore's service model and an open connection, which every contender has
before it lists anything; the log shows each peak above it.

One emulator, in a subprocess (``EmulatorProcess``), serves 10 dataset groups x 10
solutions x 10 versions = 1,000 solution versions with 1,000 batch inference jobs each:
10 pages of exactly 100, and no empty 11th page. The 1,000,000-job run lists all of
them; the 100,000-job runs the first 100. Ours is
``client.list_batch_inference_jobs_many(arns, concurrency=10)`` (pages of 100,
``prefetch=1``: at most 10 pages fetched ahead), consumed with ``async for``.

The slow consumer sleeps (``await anyio.sleep``) 2 ms after every 100 jobs, and
otherwise only counts each version's jobs. Our producers need about 1.4 ms of the event
loop per page here, so the consumer is the bottleneck and the listing's buffers stay
full: after each sleep, the child samples the pages requested but not yet consumed (the
client's ``stats.calls`` less the pages consumed), which should be 10, every worker
holding a page or fetching one. The run is refused if the mean is under 9. The log also
shows the wall time is about the time the consumer spent asleep. At 1,000,000 jobs that
is 10,000 sleeps, 30-40 s a run, which is what bounds the repetitions.

For context, at 100,000 jobs with the same consumer: aiobotocore's paginator, one
version after the other (flat, since it never fetches ahead, but slow: each page's
request and parsing wait for the consumer's sleep), and what one writes by hand
without a bound: 10 tasks running aiobotocore's paginator on the next version, each
page sent into one unbounded stream (``math.inf`` buffer) that the consumer reads. Its
peak grows with the job count: the ten producers, each parsing its pages on the same
event loop (about 8 ms of CPU a page), outpace the one consumer, whose every wake-up
waits behind them, so most pages wait in the stream as botocore-parsed dicts (the log
shows the most it held: about 1.9 KB of RSS per job held). It is not run at 1,000,000 jobs,
where it would take well over a gigabyte.

Every run is checked: the child's exit status (stderr is shown on failure), the jobs it
counted (every version asked for, 1,000 jobs each, no other), one sleep per 100 jobs,
and the requests the emulator counted, all ``ListBatchInferenceJobs``: 10 per version
(one for the floor), so no retry and no empty page; for ours also at most 10 in flight.
2 repetitions, interleaved, of ours and the floor (1 with ``--quick``); the peers run
in the first only. RSS varies little from run to run (a few hundred KB), and the time
goes to the slow consumer: a full run takes about 100 s, ``--quick`` about 60 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
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
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "memory"
DESCRIPTION = (
    "peak RSS of a 1,000,000-job merged listing with a slow consumer, a fresh process "
    "per run: vs 150 MB, vs 100,000 jobs, vs aiobotocore's paginator"
)

CHILD = Path(__file__).resolve().parent / "_memory_child.py"
CHILD_TIMEOUT = 300.0  # seconds; a 1,000,000-job run takes 30-40

PAGE_SIZE = 100
CONCURRENCY = 10
INVENTORY = InventorySpec(
    dataset_groups=10,
    solutions_per_dataset_group=10,
    versions_per_solution=10,
    inference_jobs_per_version=10 * PAGE_SIZE,  # 10 full pages, and no empty 11th
    segment_jobs_per_version=0,
)
VERSIONS = INVENTORY.solution_versions  # 1,000: 1,000,000 jobs
SMALL_VERSIONS = VERSIONS // 10  # 100: 100,000 jobs
JOBS_PER_VERSION = INVENTORY.inference_jobs_per_version
PAGES_PER_VERSION = -(-JOBS_PER_VERSION // PAGE_SIZE)
OPERATION = "ListBatchInferenceJobs"

# The slow consumer: this long asleep after every EVERY jobs (one page's worth).
EVERY = PAGE_SIZE
SLEEP = 0.002
# Refuse a run of ours whose consumer was not the bottleneck: after its sleeps, fewer
# than this many pages (on average) were fetched or being fetched ahead of it.
MIN_AHEAD = 0.9 * CONCURRENCY

LIMIT_MB = 150.0  # the acceptance: peak RSS of the 1,000,000-job listing
GROWTH_LIMIT = 1.1  # ... and 1,000,000 jobs / 100,000 jobs: it does not grow

# RSS varies little between runs, while a 1,000,000-job run takes 30-40 s: the peers
# (10-15 s a run) run in the first repetition only.
REPETITIONS = 2
QUICK_REPETITIONS = 1
PEER_REPETITIONS = 1

OURS_LARGE = "ours, 1,000,000 jobs"
OURS_SMALL = "ours, 100,000 jobs"
FLOOR = "floor"
SEQUENTIAL = "aiobotocore in sequence, 100,000 jobs"
UNBOUNDED = "aiobotocore tasks + unbounded stream, 100,000 jobs"


@dataclass(frozen=True, slots=True)
class Run:
    """One contender: which listing the child runs, over how many solution versions."""

    name: str
    contender: str  # the child's name for it
    versions: int

    @property
    def jobs(self) -> int:
        return 1 if self.contender == "floor" else self.versions * JOBS_PER_VERSION

    @property
    def requests(self) -> int:
        return 1 if self.contender == "floor" else self.versions * PAGES_PER_VERSION


RUNS = (
    Run(OURS_LARGE, "ours", VERSIONS),
    Run(OURS_SMALL, "ours", SMALL_VERSIONS),
    Run(FLOOR, "floor", 1),
    Run(SEQUENTIAL, "sequential", SMALL_VERSIONS),
    Run(UNBOUNDED, "unbounded", SMALL_VERSIONS),
)
PEERS = (SEQUENTIAL, UNBOUNDED)


def _mb(kib: float) -> float:
    return kib * 1024 / 1e6


def _child_environment() -> dict[str, str]:
    """This environment (``run.py`` has isolated it from AWS settings), with this very
    aiopersonalize first on the path, wherever it was imported from."""
    env = dict(os.environ)
    root = str(Path(aiopersonalize.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


async def _child(run: Run, endpoint: str, arns: list[str]) -> dict[str, Any]:
    """Run one listing in a fresh process; its report, checked to be complete."""
    config = {
        "contender": run.contender,
        "endpoint_url": endpoint,
        "arns": arns[: run.versions],
        "concurrency": CONCURRENCY,
        "page_size": PAGE_SIZE,
        "every": EVERY,
        "sleep": SLEEP,
    }
    with anyio.fail_after(CHILD_TIMEOUT):  # cancelling run_process kills the child
        result = await anyio.run_process(
            [sys.executable, str(CHILD)],
            input=json.dumps(config).encode(),
            check=False,
            env=_child_environment(),
        )
    stderr = result.stderr.decode(errors="replace").strip()
    if result.returncode != 0:
        raise RuntimeError(
            f"{run.name}: the child exited with status {result.returncode}:\n{stderr}"
        )
    if stderr:  # e.g. a ResourceWarning: not fatal, but shown
        log(NAME, f"{run.name}: the child wrote to stderr:\n{stderr}")
    lines = result.stdout.decode().splitlines()
    if len(lines) != 1:
        raise RuntimeError(f"{run.name}: expected one line of JSON from the child, got {lines}")
    report: dict[str, Any] = json.loads(lines[0])
    return report


def _check(run: Run, report: dict[str, Any], stats: dict[str, Any]) -> None:
    """Refuse a run that did not list exactly the expected jobs, or not slowly."""
    per_version = JOBS_PER_VERSION if run.contender != "floor" else 1
    got = {
        "jobs": report["jobs"],
        "versions": report["versions"],
        "unexpected_versions": report["unexpected_versions"],
        "per_version_min": report["per_version_min"],
        "per_version_max": report["per_version_max"],
        "sleeps": report["sleeps"],
    }
    expected = {
        "jobs": run.jobs,
        "versions": run.versions,
        "unexpected_versions": 0,
        "per_version_min": per_version,
        "per_version_max": per_version,
        "sleeps": run.jobs // EVERY,
    }
    if got != expected:
        raise RuntimeError(f"{run.name}: the child listed {got}; expected {expected}")
    if stats["requests"] != run.requests or stats["by_operation"] != {OPERATION: run.requests}:
        # A retry, an empty 11th page or another operation: not the same job.
        raise RuntimeError(f"{run.name}: expected {run.requests} requests; the emulator: {stats}")
    if run.contender == "ours":
        if stats["peak_in_flight"] > CONCURRENCY:
            raise RuntimeError(
                f"{run.name}: {stats['peak_in_flight']} requests in flight at once, over "
                f"the concurrency of {CONCURRENCY}"
            )
        if report["ahead_mean"] < MIN_AHEAD:
            raise RuntimeError(
                f"{run.name}: {report['ahead_mean']:.2f} pages ahead of the consumer on "
                f"average, under {MIN_AHEAD:g}: the consumer was not the bottleneck "
                "(a busy machine?), so this run does not measure a slow consumer"
            )


async def run(quick: bool) -> list[Row]:
    """Run the listings, each in a fresh process, interleaved, against one emulator."""
    repetitions = QUICK_REPETITIONS if quick else REPETITIONS
    emulator = EmulatorProcess(EmulatorOptions(inventory=INVENTORY))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(emulator)
        endpoint = emulator.endpoint_url
        arns: list[str] = []
        async with get_session().create_client("personalize", **client_options(endpoint)) as stock:
            async for page in stock.get_paginator("list_solution_versions").paginate():
                arns.extend(version["solutionVersionArn"] for version in page["solutionVersions"])
        if len(arns) != VERSIONS:
            raise RuntimeError(
                f"expected {VERSIONS} solution versions, the emulator has {len(arns)}"
            )
        log(
            NAME,
            f"emulator: aiopersonalize serve, pid {emulator.pid}, {endpoint}; {VERSIONS:,} "
            f"solution versions with {JOBS_PER_VERSION:,} batch inference jobs each, "
            f"{VERSIONS * JOBS_PER_VERSION:,} in all: {PAGES_PER_VERSION} pages of "
            f"{PAGE_SIZE} per version; 100,000-job runs list the first {SMALL_VERSIONS}",
        )
        log(
            NAME,
            f"slow consumer: {SLEEP * 1000:g} ms asleep after every {EVERY} jobs "
            f"({SLEEP * VERSIONS * JOBS_PER_VERSION / EVERY:g} s asked for 1,000,000 jobs); "
            f"a fresh process per run; {repetitions} repetitions, interleaved, "
            f"{PEER_REPETITIONS} of them with the peers",
        )

        def contender(spec: Run) -> Contender:
            async def run_once() -> Measurement:
                report = await _child(spec, endpoint, arns)
                stats = await emulator.stats()
                _check(spec, report, stats)
                return {
                    "peak": _mb(report["peak_kib"]),
                    "listing_peak": _mb(report["listing_peak_kib"]),
                    "setup_peak": _mb(report["setup_peak_kib"]),
                    "setup_rss": _mb(report["setup_rss_kib"]),
                    "wall": report["wall"],
                    "slept": report["slept"],
                    "requests": stats["requests"],
                    "in_flight": stats["peak_in_flight"],
                    "ahead_mean": report.get("ahead_mean", 0.0),
                    "ahead_full": report.get("ahead_full", 0.0),
                    "queued_peak": report.get("queued_peak", 0.0),
                }

            return Contender(spec.name, run_once)

        with_peers = await interleave(
            [contender(spec) for spec in RUNS],
            min(PEER_REPETITIONS, repetitions),
            between=emulator.reset,
        )
        # The rest, without the peers; the forward/reversed alternation goes on.
        ours = [contender(spec) for spec in RUNS if spec.name not in PEERS]
        without = await interleave(
            ours if PEER_REPETITIONS % 2 == 0 else ours[::-1],
            max(repetitions - PEER_REPETITIONS, 0),
            between=emulator.reset,
        )
    log(NAME, f"emulator stopped, exit status {emulator.returncode}")
    samples: Samples = {name: with_peers[name] + without.get(name, []) for name in with_peers}
    _log_runs(samples)
    return _rows(samples, with_peers)


def _log_runs(samples: Samples) -> None:
    floor = median([s["peak"] for s in samples[FLOOR]])
    log(
        NAME,
        f"{FLOOR} (Python, the imports, an open client, one request): peak RSS {floor:.1f} MB",
    )
    for spec in RUNS:
        if spec.name == FLOOR:
            continue
        runs = samples[spec.name]

        def mid(key: str, runs: list[dict[str, float]] = runs) -> float:
            return median([s[key] for s in runs])

        peak = mid("peak")
        line = (
            f"{spec.name}: {len(runs)} run(s), peak RSS {peak:.1f} MB ({peak - floor:+.1f} MB "
            f"over the floor; while listing {mid('listing_peak'):.1f} MB, from "
            f"{mid('setup_rss'):.1f} MB as it started), {mid('requests'):g} requests, wall "
            f"{mid('wall'):.2f} s, {mid('slept'):.2f} s of it in the consumer's sleeps "
            f"({SLEEP * spec.jobs / EVERY:g} s asked for; the rest of each sleep the "
            f"producers held the event loop)"
        )
        if spec.contender == "ours":
            line += (
                f"; after a sleep, {mid('ahead_mean'):.2f} pages ahead on average, "
                f"{CONCURRENCY} (every worker) in {mid('ahead_full'):.1%} of the samples; "
                f"peak in flight {max(s['in_flight'] for s in runs):g} (each page consumed "
                "frees one worker)"
            )
        if spec.contender == "unbounded":
            line += f"; the stream held up to {mid('queued_peak'):g} of its {spec.requests} pages"
        log(NAME, line)


def _rows(samples: Samples, with_peers: Samples) -> list[Row]:
    peaks = [s["peak"] for s in samples[OURS_LARGE]]
    floor = median([s["peak"] for s in samples[FLOOR]])
    limit = Row(
        benchmark=NAME,
        measure="peak RSS, 1,000,000 jobs: ours / 150 MB",
        unit="MB",
        ours=round(median(peaks), 1),
        peer=LIMIT_MB,
        ratio=median(peaks) / LIMIT_MB,
        limit=1.0,
        target=floor / LIMIT_MB,  # the floor: as if the listing took no memory at all
        spread=(min(peaks) / LIMIT_MB, max(peaks) / LIMIT_MB),
    )

    def peak(
        measure: str,
        ours_name: str,
        peer_name: str,
        pairs: Samples,
        limit: float | None,
        key: str = "peak",
    ) -> Row:
        ratios = paired_ratios(pairs[ours_name], pairs[peer_name], key)
        return Row(
            benchmark=NAME,
            measure=measure,
            unit="MB",
            ours=round(median([s[key] for s in pairs[ours_name]]), 1),
            peer=round(median([s[key] for s in pairs[peer_name]]), 1),
            ratio=median(ratios),
            limit=limit,
            target=1.0 if limit is not None else None,
            spread=(min(ratios), max(ratios)),
        )

    return [
        limit,
        # The listing's own peak: a peak of the setup (imports) above it would hide growth.
        peak(
            "peak RSS while listing, ours: 1,000,000 jobs / 100,000 jobs",
            OURS_LARGE,
            OURS_SMALL,
            samples,
            GROWTH_LIMIT,
            key="listing_peak",
        ),
        peak(
            "peak RSS, 100,000 jobs: ours / aiobotocore in sequence",
            OURS_SMALL,
            SEQUENTIAL,
            with_peers,
            None,
        ),
        peak(
            "peak RSS, 100,000 jobs: ours / aiobotocore tasks, unbounded",
            OURS_SMALL,
            UNBOUNDED,
            with_peers,
            None,
        ),
    ]
