"""The library lists and describes exactly what the aws CLI and boto3 see, against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest

from aiopersonalize import Client, JobStatus
from aiopersonalize.emulator import Emulator, EmulatorOptions, InventorySpec

from .clients import ACCESS_KEY, SECRET_KEY, Boto, make_client, run_aws

SPEC = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=130,
    segment_jobs_per_version=70,
)

pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC, seed=7))

KINDS = {
    "inference": ("list-batch-inference-jobs", "batchInferenceJobs", "list_batch_inference_jobs"),
    "segment": ("list-batch-segment-jobs", "batchSegmentJobs", "list_batch_segment_jobs"),
}


def _timestamp(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _normalised(record: dict[str, Any]) -> dict[str, Any]:
    """Timestamps as aware datetimes, whether printed by the CLI (epoch seconds or ISO
    8601, by its settings) or decoded by us."""
    return {
        key: _timestamp(value) if key.endswith("DateTime") else value
        for key, value in record.items()
    }


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[Client]:
    async with Client(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as running:
        yield running


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_library_listings_equal_the_aws_cli_job_for_job(
    emulator: Emulator, client: Client, kind: str
) -> None:
    """For both job kinds, over the whole account and for one solution version, the library
    lists the same jobs as the aws CLI, in the same order, member for member."""
    command, key, method = KINDS[kind]
    version = emulator.solution_version_arns()[1]
    for arguments, filter_arn in (((), None), (("--solution-version-arn", version), version)):
        status, output, stderr = await run_aws(emulator.endpoint_url, command, *arguments)
        assert status == 0, stderr
        cli_jobs = [_normalised(job) for job in output[key]]
        listing = getattr(client, method)(filter_arn, page_size=37, prefetch=2)
        ours = [_normalised(job.to_dict()) async for job in listing]
        assert ours == cli_jobs
        assert len(ours) == emulator.job_count(kind, solution_version_arn=filter_arn)


async def test_library_listings_equal_boto3s_paginator_across_page_sizes(
    emulator: Emulator, client: Client
) -> None:
    """Whatever the page size and prefetch depth, the library yields exactly the jobs boto3's
    paginator yields, and its pages resume where they left off."""
    version = emulator.solution_version_arns()[0]
    boto_client = make_client(emulator.endpoint_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    try:
        pages = await Boto(boto_client).pages(
            "list_batch_inference_jobs", solutionVersionArn=version
        )
    finally:
        boto_client.close()
    expected = [job for page in pages for job in page["batchInferenceJobs"]]
    for page_size, prefetch in ((1, 3), (7, 0), (100, 1)):
        listing = client.list_batch_inference_jobs(version, page_size=page_size, prefetch=prefetch)
        assert [job.to_dict() for job in await listing.collect()] == expected

    # Resume from a checkpointed token: the two halves are the whole listing, once.
    first = client.list_batch_inference_jobs(version, page_size=50)
    async with first:
        pages_iter = first.pages()
        checkpoint = await pages_iter.__anext__()
    assert checkpoint.next_token is not None
    rest = await client.list_batch_inference_jobs(
        version, page_size=50, starting_token=checkpoint.next_token
    ).collect()
    assert [j.to_dict() for j in (*checkpoint.items, *rest)] == expected


async def test_max_items_pages_resume_without_loss_or_repeat(
    emulator: Emulator, client: Client
) -> None:
    """Listing max_items at a time and resuming from each last page's token covers every job
    exactly once, even when max_items cuts across the service's pages."""
    everything = await client.list_batch_segment_jobs().collect()
    collected: list[Any] = []
    token: str | None = None
    while True:
        listing = client.list_batch_segment_jobs(page_size=30, max_items=45, starting_token=token)
        pages = [page async for page in listing.pages()]
        collected.extend(job for page in pages for job in page.items)
        token = pages[-1].next_token if pages else None
        if token is None:
            break
    assert collected == everything
    assert len({job.batch_segment_job_arn for job in collected}) == len(everything)


@pytest.mark.parametrize(
    ("kind", "command", "key", "method"),
    [
        (
            "inference",
            "describe-batch-inference-job",
            "batchInferenceJob",
            "describe_batch_inference_job",
        ),
        ("segment", "describe-batch-segment-job", "batchSegmentJob", "describe_batch_segment_job"),
    ],
)
async def test_describe_equals_the_aws_cli(
    emulator: Emulator, client: Client, kind: str, command: str, key: str, method: str
) -> None:
    """Describing a job gives the full record the aws CLI shows, member for member, including
    a failed job's reason and (for inference) theme generation settings where present."""
    listing = getattr(client, f"list_batch_{kind}_jobs")()
    summaries = await listing.collect()
    failed = next(job for job in summaries if job.status is JobStatus.CREATE_FAILED)
    picks = [summaries[0], failed]
    if kind == "inference":
        picks.append(next(j for j in summaries if j.batch_inference_job_mode == "THEME_GENERATION"))
    for summary in picks:
        arn = summary.to_dict()[f"batch{kind.capitalize()}JobArn"]
        status, output, stderr = await run_aws(
            emulator.endpoint_url, command, f"--batch-{kind}-job-arn", arn
        )
        assert status == 0, stderr
        job = await getattr(client, method)(arn)
        assert _normalised(job.to_dict()) == _normalised(output[key])
    assert failed.failure_reason
