"""The seeded inventory: deterministic, realistic, lazy, and sized or empty on demand."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aiopersonalize.emulator import Emulator, EmulatorOptions, InventorySpec, JobKind
from aiopersonalize.emulator._inventory import RegionInventory
from aiopersonalize.emulator._model import service_model
from aiopersonalize.emulator._tokens import Cursor
from aiopersonalize.emulator._validation import validate

from ..clients import Boto, make_client

KINDS: tuple[JobKind, JobKind] = ("inference", "segment")


def output_shape(operation: str) -> Any:
    return service_model().operation_model(operation).output_shape


async def test_default_inventory_size(emulator: Emulator) -> None:
    """By default a region has several solution versions and hundreds of jobs of each kind."""
    assert len(emulator.solution_version_arns()) == 12
    assert emulator.job_count("inference") == 600
    assert emulator.job_count("segment") == 600
    for version in emulator.solution_version_arns():
        assert emulator.job_count("segment", version) == 50


async def test_inventory_is_deterministic_per_seed() -> None:
    """The same seed and region give the same inventory; another seed gives another."""
    first, same, other = (RegionInventory(InventorySpec(), seed, "us-east-1") for seed in (1, 1, 2))
    for kind in KINDS:
        pages = [r.list_jobs(kind, None, None, 100, str)[0] for r in (first, same, other)]
        assert pages[0] == pages[1]
        assert pages[0] != pages[2]
    assert [v.arn for v in first.versions] == [v.arn for v in same.versions]
    assert first.jobs["inference"].describe(42) == same.jobs["inference"].describe(42)


async def test_every_seeded_record_satisfies_the_model() -> None:
    """Listed and described records match the model's output shapes (names, ARNs, enums)."""
    region = RegionInventory(InventorySpec(), 0, "ap-southeast-2")
    for kind, operation, key in zip(
        KINDS,
        ("ListBatchInferenceJobs", "ListBatchSegmentJobs"),
        ("batchInferenceJobs", "batchSegmentJobs"),
        strict=True,
    ):
        items, _ = region.list_jobs(kind, None, None, 100, str)
        validate(output_shape(operation), json.loads(f'{{"{key}":[{",".join(items)}]}}'))
    for operation, resources, key in (
        ("ListDatasetGroups", region.dataset_groups, "datasetGroups"),
        ("ListSolutions", region.solutions, "solutions"),
        ("ListSolutionVersions", region.versions, "solutionVersions"),
    ):
        summaries = [json.loads(r.summary_json) for r in resources]
        validate(output_shape(operation), {key: summaries})
    for index in range(600):
        validate(
            output_shape("DescribeBatchInferenceJob"),
            {"batchInferenceJob": region.jobs["inference"].describe(index)},
        )
        validate(
            output_shape("DescribeBatchSegmentJob"),
            {"batchSegmentJob": region.jobs["segment"].describe(index)},
        )


async def test_seeded_jobs_vary_like_real_ones() -> None:
    """Seeded jobs include failures, theme generation, filters, KMS keys and ranking influence."""
    jobs = RegionInventory(InventorySpec(), 0, "us-east-1").jobs
    inference = [jobs["inference"].describe(i) for i in range(600)]
    segment = [jobs["segment"].describe(i) for i in range(600)]
    statuses = Counter(job["status"] for job in inference + segment)
    assert set(statuses) == {"ACTIVE", "CREATE FAILED"}
    assert 20 <= statuses["CREATE FAILED"] <= 100
    assert all(("failureReason" in job) == (job["status"] == "CREATE FAILED") for job in inference)
    themed = [job for job in inference if job["batchInferenceJobMode"] == "THEME_GENERATION"]
    assert themed
    assert all("themeGenerationConfig" in job for job in themed)
    assert any("filterArn" in job for job in segment)
    assert any("kmsKeyArn" in job["jobInput"]["s3DataSource"] for job in inference)
    assert any("rankingInfluence" in job["batchInferenceJobConfig"] for job in inference)
    assert all(job["lastUpdatedDateTime"] > job["creationDateTime"] for job in inference)
    assert any(round(job["creationDateTime"] * 1000) % 1000 for job in inference)


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, {"ACTIVE"}), (1.0, {"CREATE FAILED"})])
async def test_failed_fraction(fraction: float, expected: set[str]) -> None:
    """failed_fraction sets the share of seeded jobs that are CREATE FAILED."""
    jobs = RegionInventory(InventorySpec(failed_fraction=fraction), 0, "us-east-1").jobs
    assert {jobs["segment"].describe(i)["status"] for i in range(200)} == expected


async def test_a_million_jobs_cost_no_per_job_memory() -> None:
    """A region of over a million jobs allocates no per-job objects and serves its last page."""
    spec = InventorySpec(inference_jobs_per_version=100_000, segment_jobs_per_version=100_000)
    tracemalloc.start()
    try:
        region = RegionInventory(spec, 0, "us-east-1")
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spec.total_jobs("inference") == 1_200_000
    assert size < 200_000
    total = region.jobs["inference"].total
    items, after = region.list_jobs("inference", None, Cursor("s", total - 3), 100, str)
    assert len(items) == 3
    assert after is None
    oldest = json.loads(items[-1])
    newest = json.loads(region.jobs["inference"].summary_json(0))
    assert newest["creationDateTime"] - oldest["creationDateTime"] > 300 * 86400


MILLION_JOBS = InventorySpec(
    1, 1, 10, inference_jobs_per_version=100_000, segment_jobs_per_version=1
)


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=MILLION_JOBS))
async def test_million_job_inventory_over_http(emulator: Emulator) -> None:
    """boto3 describes the oldest of a million jobs and lists one version's jobs."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        assert emulator.job_count("inference") == 1_000_000
        oldest = emulator._region("us-east-1").jobs["inference"].arn(999_999)
        described = await boto("describe_batch_inference_job", batchInferenceJobArn=oldest)
        assert described["batchInferenceJob"]["jobName"].endswith("-0999999")
        version = emulator.solution_version_arns()[9]
        assert oldest.endswith("-0999999")
        listed = await boto("list_batch_inference_jobs", solutionVersionArn=version)
        assert len(listed["batchInferenceJobs"]) == 100
        assert {job["solutionVersionArn"] for job in listed["batchInferenceJobs"]} == {version}
    finally:
        client.close()


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=InventorySpec.empty()))
async def test_empty_inventory(emulator: Emulator) -> None:
    """InventorySpec.empty() serves no resources and no jobs; creating one has no version to use."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        assert (await boto("list_dataset_groups"))["datasetGroups"] == []
        assert (await boto("list_solutions"))["solutions"] == []
        assert (await boto("list_solution_versions"))["solutionVersions"] == []
        page = await boto("list_batch_inference_jobs")
        assert page["batchInferenceJobs"] == []
        assert "nextToken" not in page
        assert (await boto("list_batch_segment_jobs"))["batchSegmentJobs"] == []
        with pytest.raises(ClientError) as exc:
            await boto(
                "create_batch_segment_job",
                jobName="nothing",
                solutionVersionArn="arn:aws:personalize:us-east-1:123456789012:solution/a/b",
                jobInput={"s3DataSource": {"path": "s3://b/in"}},
                jobOutput={"s3DataDestination": {"path": "s3://b/out"}},
                roleArn="arn:aws:iam::123456789012:role/R",
            )
        assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        client.close()
    assert emulator.solution_version_arns() == []
    assert emulator.job_count("segment") == 0


async def test_inventory_spec_validates() -> None:
    """Negative sizes and fractions outside 0-1 are refused."""
    with pytest.raises(ValueError, match="dataset_groups"):
        InventorySpec(dataset_groups=-1)
    with pytest.raises(ValueError, match="failed_fraction"):
        InventorySpec(failed_fraction=1.5)
    with pytest.raises(ValueError, match="kind"):
        Emulator().job_count("other")  # type: ignore[arg-type]  # unstarted: the check is eager


# 4 dataset groups x 2 solutions x 3 versions: 8 solutions, 24 versions, of which a
# quarter failed and an eighth were stopped; half the solutions train automatically.
MIXED_VERSIONS = InventorySpec(
    4,
    2,
    3,
    inference_jobs_per_version=7,
    segment_jobs_per_version=5,
    failed_versions_fraction=0.25,
    stopped_versions_fraction=0.125,
    autotrain_solutions_fraction=0.5,
)


async def test_version_states_are_exact_shares_picked_from_the_seed() -> None:
    """The fractions give exact, seeded counts of failed, stopped and AUTOTRAIN versions,
    and leave every name, ARN and time of the default inventory as it was."""
    spec = MIXED_VERSIONS
    assert (spec.failed_versions, spec.stopped_versions, spec.active_versions) == (6, 3, 15)
    assert spec.autotrain_solutions == 4
    assert spec.total_jobs("inference") == 15 * 7
    region = RegionInventory(spec, 5, "us-east-1")
    all_active = dataclasses.replace(
        spec,
        failed_versions_fraction=0.0,
        stopped_versions_fraction=0.0,
        autotrain_solutions_fraction=0.0,
    )
    plain = RegionInventory(all_active, 5, "us-east-1")
    versions = [json.loads(r.summary_json) for r in region.versions]
    before = [json.loads(r.summary_json) for r in plain.versions]
    assert Counter(v["status"] for v in versions) == {
        "ACTIVE": 15,
        "CREATE FAILED": 6,
        "CREATE STOPPED": 3,
    }
    assert Counter(v["trainingMode"] for v in versions)["AUTOTRAIN"] == 4 * 3
    for version, old in zip(versions, before, strict=True):
        assert ("failureReason" in version) == (version["status"] == "CREATE FAILED")
        if version["trainingMode"] == "AUTOTRAIN":
            assert version["trainingType"] == "AUTOMATIC"
        else:
            assert (version["trainingMode"], version["trainingType"]) == (
                old["trainingMode"],
                old["trainingType"],
            )
        for member in ("solutionVersionArn", "creationDateTime", "lastUpdatedDateTime"):
            assert version[member] == old[member]
    assert {v["status"] for v in before} == {"ACTIVE"}
    assert {v["trainingMode"] for v in before} == {"FULL", "UPDATE"}
    validate(output_shape("ListSolutionVersions"), {"solutionVersions": versions})
    again = RegionInventory(spec, 5, "us-east-1")
    assert [r.summary_json for r in again.versions] == [r.summary_json for r in region.versions]
    elsewhere = RegionInventory(spec, 5, "eu-west-1")
    assert [json.loads(r.summary_json)["status"] for r in elsewhere.versions] != [
        v["status"] for v in versions
    ]


async def test_automatic_training_leaves_the_jobs_as_they_were() -> None:
    """Automatic training changes versions' training members only: the jobs are the same."""
    plain = RegionInventory(InventorySpec(), 0, "us-east-1")
    autotrain = RegionInventory(InventorySpec(autotrain_solutions_fraction=1.0), 0, "us-east-1")
    for kind in KINDS:
        assert autotrain.list_jobs(kind, None, None, 100, str) == plain.list_jobs(
            kind, None, None, 100, str
        )
    assert {json.loads(r.summary_json)["trainingMode"] for r in autotrain.versions} == {"AUTOTRAIN"}


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=MIXED_VERSIONS, seed=5))
async def test_versions_that_are_not_active_hold_no_jobs(emulator: Emulator, boto: Boto) -> None:
    """Through boto3, failed and stopped versions list no jobs, and the account-wide listing
    holds exactly the jobs of the versions, each once."""
    pages = await boto.pages("list_solution_versions", PaginationConfig={"PageSize": 7})
    versions = [v for page in pages for v in page["solutionVersions"]]
    assert [v["solutionVersionArn"] for v in versions] == emulator.solution_version_arns()
    status = {v["solutionVersionArn"]: v["status"] for v in versions}
    assert Counter(status.values()) == {"ACTIVE": 15, "CREATE FAILED": 6, "CREATE STOPPED": 3}
    assert all(v["failureReason"] for v in versions if v["status"] == "CREATE FAILED")
    automatic = [v for v in versions if v["trainingMode"] == "AUTOTRAIN"]
    assert len(automatic) == 12
    assert {v["trainingType"] for v in automatic} == {"AUTOMATIC"}
    lists: list[tuple[str, str, str, JobKind]] = [
        ("list_batch_inference_jobs", "batchInferenceJobs", "batchInferenceJobArn", "inference"),
        ("list_batch_segment_jobs", "batchSegmentJobs", "batchSegmentJobArn", "segment"),
    ]
    for operation, key, arn_member, kind in lists:
        everything = await boto.pages(operation, PaginationConfig={"PageSize": 50})
        account_wide = [job for page in everything for job in page[key]]
        per_version: list[dict[str, Any]] = []
        for arn, state in status.items():
            listed = await boto.pages(operation, solutionVersionArn=arn)
            jobs = [job for page in listed for job in page[key]]
            expected = MIXED_VERSIONS.jobs_per_version(kind) if state == "ACTIVE" else 0
            assert len(jobs) == expected == emulator.job_count(kind, arn), (arn, state)
            per_version += jobs
        assert len(account_wide) == len(per_version) == emulator.job_count(kind)
        assert len(account_wide) == MIXED_VERSIONS.total_jobs(kind)
        by_arn = {job[arn_member]: job for job in account_wide}
        assert len(by_arn) == len(account_wide)
        assert by_arn == {job[arn_member]: job for job in per_version}
        assert {status[job["solutionVersionArn"]] for job in account_wide} == {"ACTIVE"}
        created = [job["creationDateTime"] for job in account_wide]
        assert created == sorted(created, reverse=True)


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=MIXED_VERSIONS))
async def test_no_job_can_be_created_on_a_version_that_is_not_active(
    emulator: Emulator, boto: Boto
) -> None:
    """Creating a batch job on a failed or stopped version is refused and adds no job."""
    states = emulator._region("us-east-1").version_status
    for state in ("CREATE FAILED", "CREATE STOPPED"):
        version = next(arn for arn, status in states.items() if status == state)
        with pytest.raises(ClientError) as exc:
            await boto(
                "create_batch_inference_job",
                jobName=f"on-{state.split()[1].lower()}",
                solutionVersionArn=version,
                jobInput={"s3DataSource": {"path": "s3://b/in"}},
                jobOutput={"s3DataDestination": {"path": "s3://b/out"}},
                roleArn="arn:aws:iam::123456789012:role/R",
            )
        assert exc.value.response["Error"]["Code"] == "ResourceInUseException"
        assert emulator.job_count("inference", version) == 0
    assert emulator.job_count("inference") == MIXED_VERSIONS.total_jobs("inference")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"failed_versions_fraction": 1.5}, ValueError),
        ({"stopped_versions_fraction": -0.1}, ValueError),
        ({"autotrain_solutions_fraction": 2.0}, ValueError),
        ({"failed_versions_fraction": 0.7, "stopped_versions_fraction": 0.4}, ValueError),
        ({"autotrain_solutions_fraction": "half"}, TypeError),
    ],
)
async def test_version_fractions_validate(fields: dict[str, Any], error: type[Exception]) -> None:
    """Version and solution fractions outside 0-1, or failed and stopped above 1, are refused."""
    with pytest.raises(error, match=next(iter(fields))):
        InventorySpec(**fields)


async def test_all_versions_failed_means_no_jobs() -> None:
    """With every version failed there are no jobs at all, listed whole or per version."""
    region = RegionInventory(InventorySpec(failed_versions_fraction=1.0), 0, "us-east-1")
    assert region.list_jobs("inference", None, None, 100, str) == ([], None)
    arn = region.versions[0].arn
    assert region.list_jobs("segment", arn, None, 100, str) == ([], None)
    assert region.job_count("segment", arn) == region.job_count("segment") == 0
