"""Every operation, through boto3, with its filters and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from aiopersonalize.emulator import Emulator

from ..clients import Boto, make_client

MODEL = Loader().load_service_model("personalize", "service-2")


def summary_members(shape: str) -> set[str]:
    return set(MODEL["shapes"][shape]["members"])


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def job_input(name: str) -> dict[str, Any]:
    return {
        "jobInput": {"s3DataSource": {"path": f"s3://bucket/in/{name}.json"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://bucket/out/{name}/"}},
        "roleArn": "arn:aws:iam::123456789012:role/PersonalizeRole",
    }


async def test_list_dataset_groups(emulator: Emulator, boto: Boto) -> None:
    """ListDatasetGroups returns the seeded groups, newest first, with summary members only."""
    groups = (await boto("list_dataset_groups"))["datasetGroups"]
    assert [g["datasetGroupArn"] for g in groups] == emulator.dataset_group_arns()
    assert all(set(g) <= summary_members("DatasetGroupSummary") for g in groups)
    created = [g["creationDateTime"] for g in groups]
    assert created == sorted(created, reverse=True)


async def test_list_solutions_filters_on_dataset_group(emulator: Emulator, boto: Boto) -> None:
    """ListSolutions lists every solution, or a dataset group's, and none for an unknown one."""
    everything = (await boto("list_solutions"))["solutions"]
    assert [s["solutionArn"] for s in everything] == emulator.solution_arns()
    assert all(set(s) <= summary_members("SolutionSummary") for s in everything)
    group = emulator.dataset_group_arns()[1]
    group_name = group.rpartition("/")[2]
    filtered = (await boto("list_solutions", datasetGroupArn=group))["solutions"]
    assert len(filtered) == emulator.inventory.solutions_per_dataset_group
    assert all(s["name"].startswith(group_name) for s in filtered)
    unknown = group[:-2] + "zz"
    assert (await boto("list_solutions", datasetGroupArn=unknown))["solutions"] == []


async def test_list_solution_versions_filters_on_solution(emulator: Emulator, boto: Boto) -> None:
    """ListSolutionVersions lists all versions or a solution's; an unknown solution is not found."""
    everything = (await boto("list_solution_versions"))["solutionVersions"]
    assert [v["solutionVersionArn"] for v in everything] == emulator.solution_version_arns()
    assert all(set(v) <= summary_members("SolutionVersionSummary") for v in everything)
    solution = emulator.solution_arns()[2]
    filtered = (await boto("list_solution_versions", solutionArn=solution))["solutionVersions"]
    assert len(filtered) == emulator.inventory.versions_per_solution
    assert all(v["solutionVersionArn"].startswith(solution + "/") for v in filtered)
    with pytest.raises(ClientError) as exc:
        await boto("list_solution_versions", solutionArn=solution + "-gone")
    assert error_of(exc) == ("ResourceNotFoundException", 400)


@pytest.mark.parametrize(
    ("operation", "key", "shape"),
    [
        ("list_batch_inference_jobs", "batchInferenceJobs", "BatchInferenceJobSummary"),
        ("list_batch_segment_jobs", "batchSegmentJobs", "BatchSegmentJobSummary"),
    ],
)
async def test_list_jobs_filters_on_solution_version(
    emulator: Emulator, boto: Boto, operation: str, key: str, shape: str
) -> None:
    """Job lists return summary members only, newest first, filtered by solution version."""
    jobs = (await boto(operation))[key]
    assert len(jobs) == 100
    assert all(set(job) <= summary_members(shape) for job in jobs)
    created = [job["creationDateTime"] for job in jobs]
    assert created == sorted(created, reverse=True)
    assert len(set(created)) == len(created)

    version = emulator.solution_version_arns()[5]
    filtered = (await boto(operation, solutionVersionArn=version, maxResults=7))[key]
    assert len(filtered) == 7
    assert {job["solutionVersionArn"] for job in filtered} == {version}
    unknown = version[:-8] + "00000000"
    assert (await boto(operation, solutionVersionArn=unknown))[key] == []


async def test_describe_batch_inference_job_has_every_field(emulator: Emulator, boto: Boto) -> None:
    """DescribeBatchInferenceJob returns the listed job with all its detail fields."""
    listed = (await boto("list_batch_inference_jobs", maxResults=1))["batchInferenceJobs"][0]
    job = (
        await boto(
            "describe_batch_inference_job", batchInferenceJobArn=listed["batchInferenceJobArn"]
        )
    )["batchInferenceJob"]
    assert {key: job[key] for key in listed} == listed
    for member in ("numResults", "jobInput", "jobOutput", "roleArn", "batchInferenceJobConfig"):
        assert member in job
    assert set(job) <= summary_members("BatchInferenceJob")


async def test_describe_batch_segment_job_has_every_field(emulator: Emulator, boto: Boto) -> None:
    """DescribeBatchSegmentJob returns the listed job with all its detail fields."""
    listed = (await boto("list_batch_segment_jobs", maxResults=1))["batchSegmentJobs"][0]
    job = (
        await boto("describe_batch_segment_job", batchSegmentJobArn=listed["batchSegmentJobArn"])
    )["batchSegmentJob"]
    assert {key: job[key] for key in listed} == listed
    for member in ("numResults", "jobInput", "jobOutput", "roleArn"):
        assert member in job
    assert set(job) <= summary_members("BatchSegmentJob")


@pytest.mark.parametrize(
    ("operation", "member"),
    [
        ("describe_batch_inference_job", "batchInferenceJobArn"),
        ("describe_batch_segment_job", "batchSegmentJobArn"),
    ],
)
async def test_describe_unknown_job_is_not_found(
    emulator: Emulator, boto: Boto, operation: str, member: str
) -> None:
    """Describing a job that does not exist answers ResourceNotFoundException."""
    kind = "inference" if "inference" in operation else "segment"
    for arn in (
        f"arn:aws:personalize:us-east-1:123456789012:batch-{kind}-job/no-such-job",
        f"arn:aws:personalize:us-east-1:123456789012:batch-{kind}-job/nightly-recs-9999999",
        f"arn:aws:personalize:eu-west-1:123456789012:batch-{kind}-job/nightly-recs-0000000",
    ):
        with pytest.raises(ClientError) as exc:
            await boto(operation, **{member: arn})
        assert error_of(exc) == ("ResourceNotFoundException", 400)


async def test_create_batch_inference_job(emulator: Emulator, boto: Boto) -> None:
    """CreateBatchInferenceJob returns the new job's ARN; the job is listed first and described."""
    version = emulator.solution_version_arns()[0]
    before = emulator.job_count("inference")
    created = await boto(
        "create_batch_inference_job",
        jobName="my-job",
        solutionVersionArn=version,
        numResults=10,
        batchInferenceJobMode="THEME_GENERATION",
        themeGenerationConfig={"fieldsForThemeGeneration": {"itemName": "TITLE"}},
        batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "0.3"}},
        tags=[{"tagKey": "team", "tagValue": "recs"}],
        **job_input("my-job"),
    )
    arn = created["batchInferenceJobArn"]
    assert arn == "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/my-job"
    assert emulator.job_count("inference") == before + 1
    assert (
        emulator.job_count("inference", version)
        == emulator.inventory.inference_jobs_per_version + 1
    )
    newest = (await boto("list_batch_inference_jobs", maxResults=1))["batchInferenceJobs"][0]
    assert newest["batchInferenceJobArn"] == arn
    assert newest["batchInferenceJobMode"] == "THEME_GENERATION"
    job = (await boto("describe_batch_inference_job", batchInferenceJobArn=arn))[
        "batchInferenceJob"
    ]
    assert job["numResults"] == 10
    assert job["themeGenerationConfig"] == {"fieldsForThemeGeneration": {"itemName": "TITLE"}}
    assert job["jobInput"] == job_input("my-job")["jobInput"]
    assert job["status"] == "PENDING"


async def test_create_batch_segment_job(emulator: Emulator, boto: Boto) -> None:
    """CreateBatchSegmentJob returns the new job's ARN; the job is listed under its version."""
    version = emulator.solution_version_arns()[3]
    created = await boto(
        "create_batch_segment_job",
        jobName="segments-1",
        solutionVersionArn=version,
        **job_input("s"),
    )
    arn = created["batchSegmentJobArn"]
    listed = (await boto("list_batch_segment_jobs", solutionVersionArn=version, maxResults=2))[
        "batchSegmentJobs"
    ]
    assert listed[0]["batchSegmentJobArn"] == arn
    assert listed[1]["batchSegmentJobArn"] != arn
    job = (await boto("describe_batch_segment_job", batchSegmentJobArn=arn))["batchSegmentJob"]
    assert job["solutionVersionArn"] == version
    assert "batchInferenceJobMode" not in job


@pytest.mark.parametrize(
    ("operation", "name_of"),
    [
        ("create_batch_inference_job", "batchInferenceJobArn"),
        ("create_batch_segment_job", "batchSegmentJobArn"),
    ],
)
async def test_duplicate_job_name_already_exists(
    emulator: Emulator, boto: Boto, operation: str, name_of: str
) -> None:
    """A job name in use (created or seeded) answers ResourceAlreadyExistsException."""
    version = emulator.solution_version_arns()[0]
    await boto(operation, jobName="twice", solutionVersionArn=version, **job_input("twice"))
    kind = "inference" if "inference" in operation else "segment"
    lister = f"list_batch_{kind}_jobs"
    key = "batchInferenceJobs" if kind == "inference" else "batchSegmentJobs"
    seeded = (await boto(lister, maxResults=2))[key][1]["jobName"]
    for name in ("twice", seeded):
        with pytest.raises(ClientError) as exc:
            await boto(operation, jobName=name, solutionVersionArn=version, **job_input(name))
        assert error_of(exc) == ("ResourceAlreadyExistsException", 400)


async def test_create_job_for_unknown_version_is_not_found(emulator: Emulator, boto: Boto) -> None:
    """Creating a job for an unknown solution version answers ResourceNotFoundException."""
    version = "arn:aws:personalize:us-east-1:123456789012:solution/nope/00000000"
    with pytest.raises(ClientError) as exc:
        await boto(
            "create_batch_segment_job", jobName="x", solutionVersionArn=version, **job_input("x")
        )
    assert error_of(exc) == ("ResourceNotFoundException", 400)


async def test_theme_generation_needs_its_config(emulator: Emulator, boto: Boto) -> None:
    """A THEME_GENERATION job without themeGenerationConfig answers InvalidInputException."""
    with pytest.raises(ClientError) as exc:
        await boto(
            "create_batch_inference_job",
            jobName="themes",
            solutionVersionArn=emulator.solution_version_arns()[0],
            batchInferenceJobMode="THEME_GENERATION",
            **job_input("themes"),
        )
    assert error_of(exc) == ("InvalidInputException", 400)


async def test_too_many_tags(emulator: Emulator, boto: Boto) -> None:
    """More tags than a resource may have answers TooManyTagsException."""
    tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(51)]
    with pytest.raises(ClientError) as exc:
        await boto(
            "create_batch_segment_job",
            jobName="tagged",
            solutionVersionArn=emulator.solution_version_arns()[0],
            tags=tags,
            **job_input("tagged"),
        )
    assert error_of(exc) == ("TooManyTagsException", 400)


async def test_regions_have_their_own_inventory(emulator: Emulator) -> None:
    """The region of the request's credential scope selects a separate, region-named inventory."""
    client = make_client(emulator.endpoint_url, region="eu-west-1")
    try:
        boto = Boto(client)
        versions = (await boto("list_solution_versions"))["solutionVersions"]
        jobs = (await boto("list_batch_inference_jobs", maxResults=5))["batchInferenceJobs"]
    finally:
        client.close()
    arns = [v["solutionVersionArn"] for v in versions]
    assert arns == emulator.solution_version_arns(region="eu-west-1")
    assert all(":eu-west-1:" in arn for arn in arns)
    assert set(arns).isdisjoint(emulator.solution_version_arns(region="us-east-1"))
    assert all(":eu-west-1:123456789012:" in job["batchInferenceJobArn"] for job in jobs)


async def test_request_id_on_every_response(emulator: Emulator, boto: Boto) -> None:
    """Successes and errors alike carry an x-amzn-RequestId that boto3 reports."""
    ok = await boto("list_dataset_groups")
    assert ok["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as exc:
        await boto("describe_batch_segment_job", batchSegmentJobArn="arn:aws:personalize:x:y:z/w")
    assert exc.value.response["ResponseMetadata"]["RequestId"]
