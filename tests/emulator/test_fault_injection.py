"""Each fault knob, and the counters tests and benchmarks read."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import anyio
import pytest
from botocore.exceptions import ClientError

from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, Stats

from ..clients import Boto, FakeClock, make_client

TARGET = {"X-Amz-Target": "AmazonPersonalize.ListDatasetGroups"}


async def outcomes(
    boto: Boto, count: int, operation: str = "list_dataset_groups", **params: Any
) -> list[str]:
    """The error code (or "ok") of each of ``count`` calls."""
    return [await outcome(boto, operation, **params) for _ in range(count)]


async def outcome(boto: Boto, operation: str, **params: Any) -> str:
    try:
        await boto(operation, **params)
    except ClientError as exc:
        code: str = exc.response["Error"]["Code"]
        return code
    return "ok"


async def test_throttle_rate_is_seeded_and_counted() -> None:
    """A throttle rate throttles a reproducible share of requests, each counted once."""
    sequences = []
    for _ in range(2):  # two emulators of the same seed, one after the other
        async with Emulator(EmulatorOptions(seed=3, faults=Faults(throttle_rate=0.3))) as emulator:
            client = make_client(emulator.endpoint_url)
            try:
                sequences.append(await outcomes(Boto(client), 60))
            finally:
                client.close()
            assert emulator.stats.throttled == sequences[-1].count("ThrottlingException")
            assert emulator.stats.requests == 60
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {"ok", "ThrottlingException"}
    assert 5 <= sequences[0].count("ThrottlingException") <= 35


async def test_error_rate_answers_500_and_503(emulator: Emulator, boto: Boto) -> None:
    """An error rate of 1 answers InternalFailure (500) or ServiceUnavailable (503) to all."""
    emulator.faults = Faults(error_rate=1.0)
    statuses = set()
    for _ in range(20):
        with pytest.raises(ClientError) as exc:
            await boto("list_solutions")
        response: Any = exc.value.response
        statuses.add((response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]))
    assert statuses == {("InternalFailure", 500), ("ServiceUnavailable", 503)}
    assert emulator.stats.server_errors == 20


async def test_throttling_is_a_400(emulator: Emulator, boto: Boto) -> None:
    """ThrottlingException comes as HTTP 400, as the service sends it."""
    emulator.faults = Faults(throttle_rate=1.0)
    with pytest.raises(ClientError) as exc:
        await boto("list_batch_inference_jobs")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Code"] == "ThrottlingException"


async def test_faults_can_be_replaced_at_runtime(emulator: Emulator, boto: Boto) -> None:
    """Assigning new faults changes the answers of the following requests."""
    emulator.faults = Faults(throttle_rate=1.0)
    assert await outcomes(boto, 2) == ["ThrottlingException"] * 2
    emulator.faults = Faults()
    assert await outcomes(boto, 2) == ["ok", "ok"]


async def test_max_rps_is_a_token_bucket() -> None:
    """Above max_rps requests are throttled until the bucket refills with time."""
    clock = FakeClock()  # the test's own, which it advances: constructed here
    async with Emulator(
        EmulatorOptions(clock=clock, faults=Faults(max_rps=2, burst=3))
    ) as emulator:
        client = make_client(emulator.endpoint_url)
        try:
            boto = Boto(client)
            assert await outcomes(boto, 5) == ["ok"] * 3 + ["ThrottlingException"] * 2
            clock.advance(0.5)  # one token
            assert await outcomes(boto, 2) == ["ok", "ThrottlingException"]
            clock.advance(10)  # refilled, up to the burst
            assert await outcomes(boto, 4) == ["ok"] * 3 + ["ThrottlingException"]
        finally:
            client.close()
    assert emulator.stats.throttled == 4


async def test_max_rps_is_per_account_and_region() -> None:
    """Each region has its own token bucket: two regions at once each sustain max_rps."""
    clock = FakeClock()  # the test's own, which it advances: constructed here
    rate = 4  # whole seconds of a fake clock near 1.75e9 refill exactly ``rate`` tokens
    seconds = 5
    async with Emulator(
        EmulatorOptions(clock=clock, faults=Faults(max_rps=rate, burst=rate))
    ) as emulator:
        regions = ("us-east-1", "eu-west-1")
        clients = [make_client(emulator.endpoint_url, region=region) for region in regions]
        admitted = dict.fromkeys(regions, 0)
        try:

            async def burst(region: str, boto: Boto) -> None:
                results = await outcomes(boto, rate + 2)  # two more than a second's quota
                assert results == ["ok"] * rate + ["ThrottlingException"] * 2, region
                admitted[region] += results.count("ok")

            for _ in range(seconds + 1):  # the full bucket, then a refill each second
                async with anyio.create_task_group() as group:
                    for region, client in zip(regions, clients, strict=True):
                        group.start_soon(burst, region, Boto(client))
                clock.advance(1)
        finally:
            for client in clients:
                client.close()
    # Each region got the whole quota (the burst, then max_rps a second), not half of it.
    assert admitted == dict.fromkeys(regions, rate + rate * seconds)
    assert emulator.stats.throttled == 2 * len(regions) * (seconds + 1)


async def test_latency_is_applied_inside_the_handler(emulator: Emulator, boto: Boto) -> None:
    """Fixed latency delays every answer by at least that long and is counted."""
    emulator.faults = Faults(latency=0.05)
    started = time.monotonic()
    await outcomes(boto, 3)
    assert time.monotonic() - started >= 0.15
    assert emulator.stats.delayed == 3
    assert emulator.stats.latency_seconds == pytest.approx(0.15)


async def test_latency_jitter_is_seeded() -> None:
    """Jitter adds a reproducible random delay between 0 and its bound to each request."""
    totals = []
    for _ in range(2):  # two emulators of the same seed, one after the other
        async with Emulator(
            EmulatorOptions(seed=9, faults=Faults(latency=0.001, latency_jitter=0.004))
        ) as emulator:
            client = make_client(emulator.endpoint_url)
            try:
                await outcomes(Boto(client), 10)
            finally:
                client.close()
            totals.append(emulator.stats.latency_seconds)
    assert totals[0] == totals[1]
    assert 0.010 < totals[0] < 0.050


async def test_peak_in_flight_measures_client_concurrency(emulator: Emulator) -> None:
    """Requests waiting out their latency are in flight: the peak is the client's concurrency."""
    emulator.faults = Faults(latency=0.5)
    async with aiohttp.ClientSession() as session:

        async def call() -> None:
            async with session.post(emulator.endpoint_url, headers=TARGET, data=b"{}") as response:
                assert response.status == 200

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(call)
    assert emulator.stats.peak_in_flight == 8
    assert emulator.stats.in_flight == 0


async def test_deny_solution_versions(emulator: Emulator, boto: Boto) -> None:
    """List calls filtered on a denied version answer AccessDeniedException; others are served."""
    denied, allowed = emulator.solution_version_arns()[:2]
    emulator.faults = Faults(deny_solution_versions=frozenset({denied}))
    for operation in ("list_batch_inference_jobs", "list_batch_segment_jobs"):
        with pytest.raises(ClientError) as exc:
            await boto(operation, solutionVersionArn=denied)
        response: Any = exc.value.response
        assert response["Error"]["Code"] == "AccessDeniedException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert await boto(operation, solutionVersionArn=allowed)
        assert await boto(operation, maxResults=1)
    assert emulator.stats.denied == 2


async def test_version_latency_applies_to_that_version_only(emulator: Emulator, boto: Boto) -> None:
    """Extra latency for one version delays only list calls filtered on it."""
    slow, fast = emulator.solution_version_arns()[:2]
    emulator.faults = Faults(version_latency={slow: 0.05})
    await boto("list_batch_inference_jobs", solutionVersionArn=fast)
    await boto("list_batch_inference_jobs")
    assert emulator.stats.delayed == 0
    started = time.monotonic()
    await boto("list_batch_segment_jobs", solutionVersionArn=slow)
    assert time.monotonic() - started >= 0.05
    assert emulator.stats.delayed == 1
    assert emulator.stats.latency_seconds == pytest.approx(0.05)


async def test_stats_count_by_operation_and_reset(emulator: Emulator, boto: Boto) -> None:
    """Stats count requests per operation and error kind, and reset to zero."""
    await boto("list_dataset_groups")
    await boto("list_solutions")
    await boto("list_solutions")
    with pytest.raises(ClientError):
        await boto("describe_batch_segment_job", batchSegmentJobArn="arn:aws:personalize:a:b:c/d")
    stats = emulator.stats
    assert stats.requests == 4
    assert stats.by_operation["ListSolutions"] == 2
    assert stats.by_operation["ListDatasetGroups"] == 1
    assert stats.by_operation["ListBatchInferenceJobs"] == 0
    assert stats.client_errors == 1
    stats.reset()
    assert stats == Stats()


async def test_faults_validate_their_settings() -> None:
    """Out-of-range fault settings are refused when the Faults value is made."""
    for bad in (
        {"latency": -1},
        {"throttle_rate": 1.5},
        {"error_rate": -0.1},
        {"max_rps": 0},
        {"burst": 0},
        {"version_latency": {"arn": -1.0}},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Faults(**bad)


async def test_faults_are_frozen_copies() -> None:
    """Faults copy their collections, compare by value, and round-trip through a dict."""
    latency = {"arn:aws:personalize:r:a:solution/s/v": 1.0}
    faults = Faults(version_latency=latency, deny_solution_versions=frozenset({"x"}))
    latency["other"] = 2.0
    assert dict(faults.version_latency) == {"arn:aws:personalize:r:a:solution/s/v": 1.0}
    assert Faults.from_dict(faults.to_dict()) == faults
    with pytest.raises(AttributeError):
        faults.latency = 1.0  # type: ignore[misc]
