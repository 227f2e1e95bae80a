"""Soak: a merged listing of 500 solution versions against an emulator that throttles 10 %
of requests and fails 5 % (500/503), repeated round after round with a fresh client each
round on the one emulator. Every round delivers exactly the expected jobs, each once,
with no failure; the process's memory and open file descriptors stay flat.

Excluded from the default run (marker ``soak``); run it with::

    pytest tests/test_soak.py -m soak -s        # -s prints the per-round table
    SOAK_ROUNDS=20 pytest tests/test_soak.py -m soak -s

Each round makes 1,500 calls (500 versions x 3 pages) and about 1,750 requests. Its time
is mostly botocore's backoff (a random 0-1 s before a first retry, 0-2 s before a
second), about seven sleeps per worker per round, and the client's CPU (about 2 ms per
request, emulator included): 5-10 s a round on the 2-core development machine.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from aiopersonalize import Client
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from .helpers import assert_exactly_once, single_listings

pytestmark = pytest.mark.soak

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "6"))
# 5 dataset groups x 10 solutions x 10 versions = 500 versions of 6 jobs: 3 pages of 2.
SPEC = InventorySpec(
    dataset_groups=5,
    solutions_per_dataset_group=10,
    versions_per_solution=10,
    inference_jobs_per_version=6,
    segment_jobs_per_version=0,
)
PAGE_SIZE = 2
CONCURRENCY = 32
FAULTS = Faults(throttle_rate=0.10, error_rate=0.05)
# Enough attempts that no call runs out of them at a 15 % failure rate per attempt.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_mode": "standard",
    "max_attempts": 10,
    "max_concurrency": CONCURRENCY,
}
MB = 2**20
# What a leak of one round costs, measured on the development machine: an unclosed client
# (and its connections), about 10 MB of RSS and 54 file descriptors; the round's 1,500
# pages (3,000 records) held, 22,000 more allocated blocks but only 0.6 MB of RSS (the
# memory the first round freed is reused first). Without a leak: the same file
# descriptors every round; allocated blocks within 3,500 of the second round's, with no
# trend; RSS +0.3 to +1.7 MB from round 2 to 6, and +2.3 MB to round 12 (the allocator
# settling, flat from round 9).
RSS_GROWTH = 5 * MB
BLOCKS_GROWTH = 10_000
FD_SLACK = 2


def rss() -> int:
    """This process's resident set size, in bytes (VmRSS of /proc/self/status)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass(frozen=True)
class Round:
    number: int
    seconds: float
    requests: int
    retries: int
    rss: int
    blocks: int
    fds: int

    def __str__(self) -> str:
        return (
            f"{self.number:>5} {self.seconds:>8.1f} {self.requests:>8} {self.retries:>7} "
            f"{self.rss / MB:>8.1f} {self.blocks:>8} {self.fds:>4}"
        )


@pytest.mark.timeout(max(600, 60 * ROUNDS))
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC))
async def test_a_faulty_500_version_listing_repeated_delivers_every_job_once_and_stays_flat(
    emulator: Emulator,
) -> None:
    """Round after round, a fresh client lists the 500 versions of one emulator that
    throttles or fails 15 % of requests: every round delivers exactly the expected jobs,
    each once, with no failure and every faulty answer retried; from the second round
    (the first warms up) to the last, the open file descriptors stay the same (within
    2), RSS grows by no more than 5 MB and the allocated memory blocks by no more than
    10,000 (what a leak of a round's pages would add twice over in one round)."""
    assert ROUNDS >= 3, "SOAK_ROUNDS: at least 3 rounds (the first warms up)"
    rounds: list[Round] = []
    print(
        f"\n{'round':>5} {'seconds':>8} {'requests':>8} {'retries':>7} {'RSS MB':>8} "
        f"{'blocks':>8} {'fds':>4}"
    )
    versions = emulator.solution_version_arns()
    assert len(versions) == 500
    expected = await single_listings(emulator, "inference", versions)
    emulator.faults = FAULTS
    for number in range(1, ROUNDS + 1):
        emulator.stats.reset()
        started = anyio.current_time()
        async with Client(endpoint_url=emulator.endpoint_url, **CLIENT_OPTIONS) as client:
            listing = client.list_batch_inference_jobs_many(
                versions, concurrency=CONCURRENCY, page_size=PAGE_SIZE, on_error="skip"
            )
            jobs = await listing.collect()
            stats = client.stats
        seconds = anyio.current_time() - started
        assert listing.failures == (), number
        assert_exactly_once(jobs, expected)
        served = emulator.stats
        assert stats.calls == len(versions) * 3
        assert stats.requests == served.requests
        assert stats.retries == served.throttled + served.server_errors > 0
        del jobs, listing, client
        # Let the emulator's side of the connections just closed finish closing.
        await anyio.wait_all_tasks_blocked()
        gc.collect()
        rounds.append(
            Round(
                number,
                seconds,
                stats.requests,
                stats.retries,
                rss(),
                sys.getallocatedblocks(),
                open_fds(),
            )
        )
        print(rounds[-1])
    second, last = rounds[1], rounds[-1]
    assert abs(last.fds - second.fds) <= FD_SLACK, rounds
    assert last.rss - second.rss <= RSS_GROWTH, rounds
    assert last.blocks - second.blocks <= BLOCKS_GROWTH, rounds
