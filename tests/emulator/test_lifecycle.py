"""Created jobs move PENDING -> IN PROGRESS -> ACTIVE as the (fake) clock advances."""

from __future__ import annotations

import pytest

from aiopersonalize.emulator import Emulator, EmulatorOptions

from ..clients import START, Boto, FakeClock, make_client

JOB = {
    "jobInput": {"s3DataSource": {"path": "s3://b/in.json"}},
    "jobOutput": {"s3DataDestination": {"path": "s3://b/out/"}},
    "roleArn": "arn:aws:iam::123456789012:role/R",
}


@pytest.mark.parametrize("kind", ["inference", "segment"])
async def test_created_job_lifecycle(kind: str) -> None:
    """A created job is PENDING, then IN PROGRESS, then ACTIVE, each after the transition time."""
    create, describe = f"create_batch_{kind}_job", f"describe_batch_{kind}_job"
    arn_member = "batchInferenceJobArn" if kind == "inference" else "batchSegmentJobArn"
    result = "batchInferenceJob" if kind == "inference" else "batchSegmentJob"
    # The test's own clock, which it advances: a mark's would be shared by both kinds.
    clock = FakeClock()
    async with Emulator(EmulatorOptions(clock=clock, job_transition_seconds=60)) as emulator:
        client = make_client(emulator.endpoint_url)
        try:
            boto = Boto(client)
            version = emulator.solution_version_arns()[0]
            arn = (await boto(create, jobName="lifecycle", solutionVersionArn=version, **JOB))[
                arn_member
            ]
            lister = f"list_batch_{kind}_jobs"
            key = "batchInferenceJobs" if kind == "inference" else "batchSegmentJobs"

            async def observe() -> tuple[str, float, float]:
                job = (await boto(describe, **{arn_member: arn}))[result]
                listed = (await boto(lister, maxResults=1))[key][0]
                assert listed[arn_member] == arn
                assert listed["status"] == job["status"]
                assert listed["lastUpdatedDateTime"] == job["lastUpdatedDateTime"]
                return (
                    job["status"],
                    job["creationDateTime"].timestamp(),
                    job["lastUpdatedDateTime"].timestamp(),
                )

            assert await observe() == ("PENDING", START, START)
            clock.advance(59.999)
            assert await observe() == ("PENDING", START, START)
            clock.advance(0.001)
            assert await observe() == ("IN PROGRESS", START, START + 60)
            clock.advance(60)
            assert await observe() == ("ACTIVE", START, START + 120)
            clock.advance(3600)
            assert await observe() == ("ACTIVE", START, START + 120)
        finally:
            client.close()


@pytest.mark.personalize_emulator(EmulatorOptions(clock=FakeClock(), job_transition_seconds=0))
async def test_zero_transition_time_is_active_at_once(emulator: Emulator) -> None:
    """With no transition time a created job is ACTIVE straight away."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        await boto(
            "create_batch_segment_job",
            jobName="instant",
            solutionVersionArn=emulator.solution_version_arns()[1],
            **JOB,
        )
        listed = (await boto("list_batch_segment_jobs", maxResults=1))["batchSegmentJobs"][0]
    finally:
        client.close()
    assert (listed["jobName"], listed["status"]) == ("instant", "ACTIVE")


@pytest.mark.personalize_emulator(EmulatorOptions(clock=FakeClock(START + 0.123)))
async def test_created_timestamps_keep_milliseconds(emulator: Emulator) -> None:
    """A created job's timestamps are the clock's, to the millisecond."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        arn = (
            await boto(
                "create_batch_segment_job",
                jobName="precise",
                solutionVersionArn=emulator.solution_version_arns()[1],
                **JOB,
            )
        )["batchSegmentJobArn"]
        job = (await boto("describe_batch_segment_job", batchSegmentJobArn=arn))["batchSegmentJob"]
    finally:
        client.close()
    assert job["creationDateTime"].timestamp() == pytest.approx(START + 0.123, abs=1e-6)
