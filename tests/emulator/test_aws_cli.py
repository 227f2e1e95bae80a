"""The aws CLI, run as a subprocess, against the emulator (commands run concurrently: each
starts slowly)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from aiopersonalize.emulator import Emulator, EmulatorOptions, InventorySpec

from ..clients import ACCESS_KEY, SECRET_KEY, run_aws

SMALL = InventorySpec(2, 2, 2, inference_jobs_per_version=30, segment_jobs_per_version=20)
# The emulator fixture's options, unless a test's own mark says otherwise.
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL))


async def run_all(
    commands: dict[str, tuple[str, ...]], endpoint_url: str, **options: Any
) -> dict[str, Any]:
    """Run several aws commands at once; their (status, output, stderr) by name."""
    results: dict[str, Any] = {}

    async def run(name: str, args: tuple[str, ...]) -> None:
        results[name] = await run_aws(endpoint_url, *args, **options)

    async with anyio.create_task_group() as group:
        for name, args in commands.items():
            group.start_soon(run, name, args)
    return results


async def test_aws_cli_lists_and_describes_everything(emulator: Emulator) -> None:
    """The aws CLI pages every list to the end and describes jobs, as it would against AWS."""
    version = emulator.solution_version_arns()[3]
    solution = emulator.solution_arns()[1]
    group = emulator.dataset_group_arns()[1]
    job = emulator._region("us-east-1").jobs["inference"].arn(0)
    results = await run_all(
        {
            "inference": ("list-batch-inference-jobs", "--page-size", "7"),
            "segment": ("list-batch-segment-jobs", "--solution-version-arn", version),
            "groups": ("list-dataset-groups",),
            "solutions": ("list-solutions", "--dataset-group-arn", group),
            "versions": ("list-solution-versions", "--solution-arn", solution),
            "describe": ("describe-batch-inference-job", "--batch-inference-job-arn", job),
        },
        emulator.endpoint_url,
    )
    assert all(status == 0 for status, _, _ in results.values()), results
    inference = results["inference"][1]["batchInferenceJobs"]
    assert len(inference) == emulator.job_count("inference") == 240
    assert len({j["batchInferenceJobArn"] for j in inference}) == 240
    segment = results["segment"][1]["batchSegmentJobs"]
    assert len(segment) == emulator.job_count("segment", version) == 20
    assert {j["solutionVersionArn"] for j in segment} == {version}
    assert [g["datasetGroupArn"] for g in results["groups"][1]["datasetGroups"]] == (
        emulator.dataset_group_arns()
    )
    assert len(results["solutions"][1]["solutions"]) == 2
    versions = results["versions"][1]["solutionVersions"]
    assert [v["solutionVersionArn"] for v in versions] == emulator.solution_version_arns()[2:4]
    described = results["describe"][1]["batchInferenceJob"]
    assert described["batchInferenceJobArn"] == job
    assert described["jobInput"]["s3DataSource"]["path"].startswith("s3://")
    # 7 jobs a page: the CLI followed 35 nextTokens, no more.
    assert emulator.stats.by_operation["ListBatchInferenceJobs"] == 35


def _first_job_name(emulator: Emulator) -> str:
    return emulator._region("us-east-1").jobs["inference"].name(0)


async def test_aws_cli_creates_and_describes_a_job(emulator: Emulator) -> None:
    """A job created with the aws CLI is described by it, PENDING at first."""
    version = emulator.solution_version_arns()[0]
    status, created, stderr = await run_aws(
        emulator.endpoint_url,
        "create-batch-segment-job",
        "--job-name", "cli-job",
        "--solution-version-arn", version,
        "--job-input", json.dumps({"s3DataSource": {"path": "s3://b/in.json"}}),
        "--job-output", json.dumps({"s3DataDestination": {"path": "s3://b/out/"}}),
        "--role-arn", "arn:aws:iam::123456789012:role/R",
    )  # fmt: skip
    assert status == 0, stderr
    arn = created["batchSegmentJobArn"]
    status, described, stderr = await run_aws(
        emulator.endpoint_url, "describe-batch-segment-job", "--batch-segment-job-arn", arn
    )
    assert status == 0, stderr
    assert described["batchSegmentJob"]["status"] == "PENDING"
    assert described["batchSegmentJob"]["solutionVersionArn"] == version


async def test_aws_cli_sees_the_service_errors(emulator: Emulator) -> None:
    """The aws CLI reports not-found, validation, token and duplicate-name errors by their codes."""
    _, first, _ = await run_aws(
        emulator.endpoint_url,
        "list-batch-inference-jobs",
        "--no-paginate",
        "--max-results",
        "2",
    )
    token = first["nextToken"]
    edited = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    existing = _first_job_name(emulator)
    results = await run_all(
        {
            "missing": (
                "describe-batch-inference-job",
                "--batch-inference-job-arn",
                "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/none",
            ),
            "invalid": ("list-batch-segment-jobs", "--no-paginate", "--max-results", "101"),
            "tampered": ("list-batch-inference-jobs", "--no-paginate", "--next-token", edited),
            "foreign": ("list-batch-segment-jobs", "--no-paginate", "--next-token", token),
            "unknown-solution": (
                "list-solution-versions",
                "--solution-arn",
                "arn:aws:personalize:us-east-1:123456789012:solution/none",
            ),
            "duplicate": (
                "create-batch-inference-job",
                "--job-name",
                existing,
                "--solution-version-arn",
                emulator.solution_version_arns()[0],
                "--job-input",
                '{"s3DataSource": {"path": "s3://b/in"}}',
                "--job-output",
                '{"s3DataDestination": {"path": "s3://b/out"}}',
                "--role-arn",
                "arn:aws:iam::123456789012:role/R",
            ),
        },
        emulator.endpoint_url,
    )
    expected = {
        "missing": "ResourceNotFoundException",
        "invalid": "InvalidInputException",
        "tampered": "InvalidNextTokenException",
        "foreign": "InvalidNextTokenException",
        "unknown-solution": "ResourceNotFoundException",
        "duplicate": "ResourceAlreadyExistsException",
    }
    for name, code in expected.items():
        status, _, stderr = results[name]
        assert status != 0, name
        assert f"({code})" in stderr, (name, stderr)


@pytest.mark.parametrize(
    ("secret", "error"), [(SECRET_KEY, None), ("wrong", "InvalidSignatureException")]
)
@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, credentials={ACCESS_KEY: SECRET_KEY})
)
async def test_aws_cli_signatures(emulator: Emulator, secret: str, error: str | None) -> None:
    """With signature checking on, the aws CLI's signature passes with the right secret only."""
    status, output, stderr = await run_aws(
        emulator.endpoint_url, "list-dataset-groups", secret_key=secret
    )
    if error is None:
        assert status == 0, stderr
        assert len(output["datasetGroups"]) == 2
    else:
        assert status != 0
        assert f"({error})" in stderr
