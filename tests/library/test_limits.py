"""The client-wide limits and counters: ``Client(max_concurrency=...)`` across every listing
it runs, ``Client(max_requests_per_second=...)`` (retries included), and
``client.stats``.

Rate tests make claims about time, so each bound below is chosen to hold with a wide
margin on a loaded machine, and says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from aiopersonalize import (
    BatchInferenceJobSummary,
    BatchSegmentJobSummary,
    Client,
    ParamValidationError,
    RequestStats,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec, Stats

from ..peers import Reply, error, scripted_peer

REGION = "us-east-1"

# 1 dataset group x 2 solutions x 3 versions = 6 versions.
SIX_VERSIONS = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=3,
    inference_jobs_per_version=4,
    segment_jobs_per_version=4,
)
# A crawl of RATE_SPEC with page_size 2 makes 6 versions x 2 kinds x 10 pages = 120 listing
# requests, and a few discovery requests (how many depends on the page size discovery uses).
# Uncapped, it is throttled unless the client sends fewer than 40 requests per second
# (126 requests in 3.2 s keep within 30 + 30 per second): an unloaded machine sends
# about 500 per second, so the throttling holds with a wide margin.
RATE_SPEC = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=3,
    inference_jobs_per_version=20,
    segment_jobs_per_version=20,
)
RATE_JOBS = 2 * 6 * 20
RATE_LISTING_REQUESTS = 120
DISCOVERY_OPERATIONS = ("ListDatasetGroups", "ListSolutions", "ListSolutionVersions")
# The server's cap and the client's: the client's rate is two thirds of the server's and
# its burst (at most one second of requests) under the server's burst, so a client
# keeping to its cap never empties the server's bucket, whatever the scheduling: a
# stalled event loop stalls the server's refill and the client's sending alike.
SERVER_RPS = 30
SERVER_BURST = 30
CLIENT_RPS = 20
# The rate tests' emulator: RATE_SPEC, throttling above SERVER_RPS (burst SERVER_BURST).
RATE_LIMITED = EmulatorOptions(
    inventory=RATE_SPEC, faults=Faults(max_rps=SERVER_RPS, burst=SERVER_BURST)
)


def discovery_requests(stats: Stats) -> int:
    return sum(stats.by_operation[operation] for operation in DISCOVERY_OPERATIONS)


def arn_of(job: BatchInferenceJobSummary | BatchSegmentJobSummary) -> str:
    if isinstance(job, BatchInferenceJobSummary):
        return job.batch_inference_job_arn
    return job.batch_segment_job_arn


# -- max_concurrency --------------------------------------------------------------------


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SIX_VERSIONS, faults=Faults(latency=0.03))
)
async def test_max_concurrency_caps_every_listing_of_the_client_together(
    emulator: Emulator,
) -> None:
    """Two merged listings and a crawl run at once, each with concurrency 10, by a client
    with ``max_concurrency=4``: the server sees exactly 4 requests in flight at the peak,
    and each listing still delivers all its jobs."""
    versions = emulator.solution_version_arns()
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, max_concurrency=4
    ) as client:
        results: dict[str, list[Any]] = {}

        async def run(name: str, listing: Any) -> None:
            results[name] = await listing.collect()

        async with anyio.create_task_group() as tg:
            tg.start_soon(
                run,
                "inference",
                client.list_batch_inference_jobs_many(versions, concurrency=10, page_size=2),
            )
            tg.start_soon(
                run,
                "segment",
                client.list_batch_segment_jobs_many(versions, concurrency=10, page_size=2),
            )
            tg.start_soon(run, "crawl", client.crawl_batch_jobs(concurrency=10, page_size=2))
    peak = emulator.stats.peak_in_flight
    per_kind = len(versions) * 4
    assert len({arn_of(job) for job in results["inference"]}) == per_kind
    assert len({arn_of(job) for job in results["segment"]}) == per_kind
    assert len({arn_of(job) for job in results["crawl"]}) == 2 * per_kind
    assert peak == 4


# -- max_requests_per_second ------------------------------------------------------------


async def crawl_at(emu: Emulator, **client_options: Any) -> tuple[list[str], float, RequestStats]:
    """Crawl ``emu`` with page_size 2 and concurrency 20: the job ARNs, the seconds it
    took, and the client's stats."""
    async with Client(endpoint_url=emu.endpoint_url, region_name=REGION, **client_options) as c:
        started = anyio.current_time()
        jobs = await c.crawl_batch_jobs(page_size=2, concurrency=20).collect()
        elapsed = anyio.current_time() - started
        stats = c.stats
    return [arn_of(job) for job in jobs], elapsed, stats


@pytest.mark.personalize_emulator(RATE_LIMITED)
async def test_a_client_capped_below_the_servers_rate_is_never_throttled(
    emulator: Emulator,
) -> None:
    """A client capped at 20 requests per second crawls a server that throttles above 30
    per second (burst 30) without a single throttled answer, and sends no more than its
    rate allows over the time the crawl took."""
    arns, elapsed, counted = await crawl_at(emulator, max_requests_per_second=CLIENT_RPS)
    stats = emulator.stats
    assert len(arns) == len(set(arns)) == RATE_JOBS
    assert stats.requests == RATE_LISTING_REQUESTS + discovery_requests(stats)
    assert stats.throttled == 0
    assert counted.retries == 0
    # At most one second's worth at once, then the rate: a bound a correct cap cannot
    # break however slow the machine, since a slow machine only lengthens ``elapsed``.
    assert stats.requests <= CLIENT_RPS * elapsed + CLIENT_RPS + 1


@pytest.mark.personalize_emulator(RATE_LIMITED)
async def test_without_the_cap_the_same_crawl_is_throttled_and_completes_by_retrying(
    emulator: Emulator,
) -> None:
    """The same crawl without a rate cap (20 requests at once against a server allowing
    30 per second) is throttled, and still delivers every job once through botocore's
    retries, which the client counts."""
    # Enough attempts that no request runs out of them while the adaptive mode
    # finds the server's rate.
    arns, _elapsed, counted = await crawl_at(emulator, max_attempts=10)
    stats = emulator.stats
    assert len(arns) == len(set(arns)) == RATE_JOBS
    assert stats.throttled > 0
    assert counted.requests == stats.requests
    assert counted.calls == stats.requests - stats.throttled
    assert counted.retries == stats.throttled


def throttle_each_first_attempt(versions: int, pages: int) -> tuple[Callable[..., Any], list[str]]:
    """A responder for ``versions`` chains of ``pages`` one-job pages that answers
    ThrottlingException to the first attempt of every call and the page to the second:
    exactly one retry per call, with nothing left to chance."""
    seen: set[tuple[str, str | None]] = set()
    arns = [
        f"arn:aws:personalize:{REGION}:123456789012:solution/s{v}/v{v}" for v in range(versions)
    ]

    def answer(body: dict[str, Any]) -> Reply:
        version, token = body["solutionVersionArn"], body.get("nextToken")
        if (version, token) not in seen:
            seen.add((version, token))
            return error("ThrottlingException", "Rate exceeded")
        page = 0 if token is None else int(token[1:])
        reply: dict[str, Any] = {
            "batchInferenceJobs": [
                {
                    "batchInferenceJobArn": f"{version.replace('solution/', 'batch-inference-job/')}-{page}",
                    "jobName": f"job-{page}",
                    "status": "ACTIVE",
                    "creationDateTime": 1_700_000_000 - page,
                    "solutionVersionArn": version,
                }
            ]
        }
        if page + 1 < pages:
            reply["nextToken"] = f"t{page + 1}"
        return Reply(reply)

    return answer, arns


async def test_the_rate_cap_counts_botocores_retries() -> None:
    """With every call throttled once and retried, the requests the server receives (60
    calls, 120 requests) stay within the cap over the time taken: retries wait for the
    cap like first attempts."""
    versions, pages = 30, 2
    answer, arns = throttle_each_first_attempt(versions, pages)
    async with scripted_peer([], responder=answer) as peer:
        async with Client(
            endpoint_url=peer.endpoint_url,
            region_name=REGION,
            max_requests_per_second=CLIENT_RPS,
            retry_mode="standard",
            max_attempts=3,
        ) as client:
            started = anyio.current_time()
            jobs = await client.list_batch_inference_jobs_many(arns, concurrency=30).collect()
            elapsed = anyio.current_time() - started
            retries = client.stats.retries
        received = peer.received.value
    assert len({arn_of(job) for job in jobs}) == versions * pages
    assert received == 2 * versions * pages
    assert retries == versions * pages
    # If only first attempts waited for the cap, the 60 calls would go out in about 2 s
    # (20 at once, then 20 per second) and their retries within botocore's 0-1 s backoff:
    # 120 requests in about 3 s, far above 20 x 3 + 21. A cap on every request needs 5 s
    # or more for them and keeps within the bound.
    assert received <= CLIENT_RPS * elapsed + CLIENT_RPS + 1


# -- stats ------------------------------------------------------------------------------


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SIX_VERSIONS))
async def test_stats_count_calls_and_botocores_retries_across_listings(emulator: Emulator) -> None:
    """Against a server that throttles and fails some requests, ``client.stats`` counts
    each call once and each HTTP request (retries included) once, matching the server's
    count, and keeps counting across listings."""
    # The emulator's fault draws follow its seed: the n-th request it receives always
    # gets the same fate, so the number of retries here is the same on every run.
    faults = Faults(throttle_rate=0.15, error_rate=0.15)
    versions = emulator.solution_version_arns()
    emulator.faults = faults
    async with Client(
        endpoint_url=emulator.endpoint_url,
        region_name=REGION,
        retry_mode="standard",
        max_attempts=10,
    ) as client:
        assert (client.stats.calls, client.stats.requests, client.stats.retries) == (0, 0, 0)
        merged = client.list_batch_inference_jobs_many(versions, page_size=2, concurrency=6)
        assert len(await merged.collect()) == 6 * 4
        first = client.stats
        first_requests = emulator.stats.requests
        assert first.calls == 6 * 2
        assert first.requests == first_requests
        assert first.retries == first.requests - first.calls == first_requests - 12
        single = client.list_batch_segment_jobs(page_size=10)
        assert len(await single.collect()) == 6 * 4
        second = client.stats
    served = emulator.stats.requests
    failed = emulator.stats.throttled + emulator.stats.server_errors
    assert served > first_requests
    assert second.calls == 12 + 3
    assert second.requests == served
    assert second.retries == second.requests - second.calls == served - 15 == failed
    assert second.retries > 0


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SIX_VERSIONS))
async def test_stats_without_faults_count_every_call_once_and_no_retry(emulator: Emulator) -> None:
    """Without faults, a crawl's calls (discovery included) and requests are equal, match
    the server's count, and show no retry."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        await client.crawl_batch_jobs(strategy="versions", page_size=2).collect()
        stats = client.stats
    served = emulator.stats.requests
    discovery = discovery_requests(emulator.stats)
    assert stats.calls == stats.requests == served
    assert served == discovery + 6 * 2 * 2  # versions x kinds x pages
    assert discovery >= 4  # at least 1 ListDatasetGroups, 1 ListSolutions, 2 ListSolutionVersions
    assert stats.retries == 0


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [0, 0.0, -1, -0.5, True, False, math.nan, math.inf, -math.inf, "20", [20]]
)
def test_a_bad_max_requests_per_second_is_refused_by_the_constructor(value: object) -> None:
    """``max_requests_per_second`` must be a finite positive number (not a bool, a str or
    another type), or None: anything else raises ParamValidationError naming it."""
    with pytest.raises(ParamValidationError) as info:
        Client(max_requests_per_second=value)  # type: ignore[arg-type]
    assert info.value.parameter == "max_requests_per_second"


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "4", None])
def test_a_bad_max_concurrency_is_refused_by_the_constructor(value: object) -> None:
    """``max_concurrency`` must be an int of at least 1: anything else raises
    ParamValidationError naming it."""
    with pytest.raises(ParamValidationError) as info:
        Client(max_concurrency=value)  # type: ignore[arg-type]
    assert info.value.parameter == "max_concurrency"


@pytest.mark.parametrize("value", [None, 0.5, 1, 20, 1000.0])
async def test_good_limits_are_accepted(value: float | None) -> None:
    """None (no cap), and any finite positive int or float, are accepted as
    ``max_requests_per_second``."""
    client = Client(max_requests_per_second=value, max_concurrency=1)
    await client.aclose()
