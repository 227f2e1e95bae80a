"""The README's Python examples, as a program: type-checked with ``mypy --strict`` and run
against the emulator by ``test_readme_examples.py``.

Each function is one README example, written as the README writes it; the names the
README leaves to the reader (``arn``, ``arns``, a job's ARN) are its parameters. A change
of the public API that breaks an example, in its types or its behaviour, fails there.
"""

from __future__ import annotations

import aiopersonalize
from aiopersonalize import (
    BatchInferenceJob,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    Client,
    JobStatus,
    ListingFailure,
    MergeProgress,
)

__all__ = [
    "crawl",
    "describe",
    "emulator_client",
    "listings",
    "merged_listing",
    "quick_start",
]


async def quick_start(arn: str, endpoint_url: str | None = None) -> list[str]:
    """Quick start: the jobs of one solution version, with ``async for`` (``endpoint_url``:
    the emulator's, in the test)."""
    seen: list[str] = []
    async with aiopersonalize.Client(region_name="us-east-1", endpoint_url=endpoint_url) as client:
        async for job in client.list_batch_inference_jobs(solution_version_arn=arn):
            print(job.job_name, job.status, job.creation_date_time)
            seen.append(job.batch_inference_job_arn)
    return seen


def emulator_client(endpoint_url: str = "http://127.0.0.1:8686") -> Client:
    """Quick start: a client of the emulator instead of AWS."""
    client = aiopersonalize.Client(endpoint_url=endpoint_url, region_name="us-east-1")
    return client


async def listings(client: Client, arn: str) -> tuple[int, int, int]:
    """Listings: records, ``async with``, whole pages, ``collect()`` and resuming."""
    listing = client.list_batch_inference_jobs(
        solution_version_arn=arn, page_size=2, max_items=None, starting_token=None, prefetch=1
    )
    async with listing as jobs:
        async for job in jobs:
            status: JobStatus | str | None = job.status
            assert status is not None
    first_token: str | None = None
    async for page in client.list_batch_segment_jobs(arn, page_size=2).pages():
        items: tuple[BatchSegmentJobSummary, ...] = page.items
        assert items
        first_token = page.next_token
        break
    everything: list[BatchInferenceJobSummary] = await client.list_batch_inference_jobs(
        arn
    ).collect()
    rest = await client.list_batch_segment_jobs(arn, starting_token=first_token).collect()
    return len(everything), len(rest), client.stats.retries


async def merged_listing(client: Client, arns: list[str]) -> tuple[int, list[ListingFailure]]:
    """Many solution versions at once: a merged listing under ``async with``, then its
    failures and progress."""
    count = 0
    async with client.list_batch_inference_jobs_many(arns, concurrency=10, on_error="skip") as jobs:
        async for job in jobs:
            count += 1
            assert job.batch_inference_job_arn
    for failure in jobs.failures:
        print(failure.solution_version_arn, failure.error)
    progress: MergeProgress = jobs.progress
    assert progress.jobs == count
    segments = client.list_batch_segment_jobs_many(
        arns, concurrency=10, page_size=100, prefetch=1, on_error="raise", starting_tokens=None
    )
    count += len(await segments.collect())
    return count, list(jobs.failures)


async def crawl(client: Client) -> int:
    """Crawling an account: every job kind of every discovered solution version."""
    listing = client.crawl_batch_jobs(
        kinds=("inference", "segment"),
        regions=None,
        solution_version_arns=None,
        concurrency=10,
        page_size=100,
        prefetch=1,
        on_error="raise",
        resume=None,
    )
    jobs = 0
    async with listing:
        async for page in listing.pages():
            assert page.kind in aiopersonalize.JOB_KIND_NAMES
            jobs += len(page.items)
    return jobs


async def describe(
    client: Client, batch_inference_job_arn: str, batch_segment_job_arn: str
) -> tuple[BatchInferenceJob, BatchSegmentJob]:
    """Describe: the full records of one job of each kind."""
    inference = await client.describe_batch_inference_job(batch_inference_job_arn)
    segment = await client.describe_batch_segment_job(batch_segment_job_arn)
    return inference, segment
