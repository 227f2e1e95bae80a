"""``client.stats``: counters that cannot go wrong. Each is counted as a request goes
out, so ``requests == calls + retries`` holds at every moment, against the emulator's
own count, and ``retries`` is never negative, also for calls that never sent anything."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from aiopersonalize import Client
from aiopersonalize.cli import main
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

REGION = "us-east-1"
SPEC = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=3,
    inference_jobs_per_version=5,
    segment_jobs_per_version=4,
)
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC, seed=11))
FAULTS = Faults(throttle_rate=0.2, error_rate=0.1)


async def test_a_crawl_under_faults_counts_as_the_emulator_does(emulator: Emulator) -> None:
    """A crawl by versions (discovery and both kinds) under throttling and 5xx: the
    client's requests are the emulator's, calls plus retries, its retries the emulator's
    throttled and failed answers, and its throttled answers the emulator's."""
    emulator.faults = FAULTS
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, max_attempts=10
    ) as client:
        jobs = await client.crawl_batch_jobs(strategy="versions", page_size=2).collect()
        stats = client.stats
    served = emulator.stats
    assert len(jobs) == 6 * (5 + 4)
    assert stats.requests == served.requests == stats.calls + stats.retries
    assert stats.retries == served.throttled + served.server_errors > 0
    assert stats.throttled == served.throttled > 0
    assert stats.calls == served.requests - stats.retries


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC, faults=Faults(latency=0.02)))
async def test_a_call_cancelled_before_its_request_left_is_not_counted(emulator: Emulator) -> None:
    """A call cancelled while it waits for the client's rate cap sends nothing, and counts
    nothing: ``retries`` stays 0, not -1."""
    arn = emulator.solution_version_arns()[0]
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, max_requests_per_second=0.1
    ) as client:
        await client.list_batch_inference_jobs(arn, page_size=10).collect()  # the one free slot
        with anyio.move_on_after(0.3) as waited:
            await client.list_batch_segment_jobs(arn).collect()  # waits ~10 s for its turn
        assert waited.cancelled_caught
        stats = client.stats
    assert (stats.calls, stats.requests, stats.retries) == (1, 1, 0)
    assert emulator.stats.requests == 1


def test_the_crawl_summary_counts_requests_and_retries_as_the_emulator_does(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The crawl command's summary under faults says as many requests as the emulator
    served, of which its throttled and failed answers were retries."""
    emulator_in_thread.faults = FAULTS
    argv = ["crawl", "--endpoint-url", emulator_in_thread.endpoint_url, "--region", REGION]
    options = ["--page-size", "2", "--max-attempts", "10", "-o", str(tmp_path / "jobs.jsonl")]
    assert main([*argv, *options]) == 0
    err = capsys.readouterr().err
    found = re.search(r"^requests: (\d+) \((\d+) retries\) in ", err, re.MULTILINE)
    assert found is not None, err
    served = emulator_in_thread.stats
    assert int(found[1]) == served.requests
    assert int(found[2]) == served.throttled + served.server_errors > 0
