"""Request validation per the service model, answered as the service does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aiopersonalize.emulator import Emulator
from aiopersonalize.emulator._model import service_model
from aiopersonalize.emulator._validation import _compile, validate

from ..clients import Boto, make_client

VERSION = "arn:aws:personalize:us-east-1:123456789012:solution/s/00000000"


@pytest.fixture
def unchecked(emulator: Emulator) -> Iterator[Boto]:
    """A boto3 client that skips botocore's own parameter validation."""
    client = make_client(emulator.endpoint_url, validate=False)
    yield Boto(client)
    client.close()


def invalid_input(exc: pytest.ExceptionInfo[ClientError]) -> str:
    error: Any = exc.value.response["Error"]
    assert error["Code"] == "InvalidInputException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message: str = error["Message"]
    return message


@pytest.mark.parametrize(
    "operation",
    [
        "list_batch_inference_jobs",
        "list_batch_segment_jobs",
        "list_dataset_groups",
        "list_solutions",
        "list_solution_versions",
    ],
)
@pytest.mark.parametrize(
    ("value", "bound"), [(0, "greater than or equal to 1"), (101, "less than or equal to 100")]
)
async def test_max_results_out_of_range(
    unchecked: Boto, operation: str, value: int, bound: str
) -> None:
    """maxResults outside 1-100 answers InvalidInputException naming the member and the bound."""
    with pytest.raises(ClientError) as exc:
        await unchecked(operation, maxResults=value)
    message = invalid_input(exc)
    assert message == (
        f"1 validation error detected: Value {value} at 'maxResults' failed to satisfy "
        f"constraint: Member must have value {bound}"
    )


async def test_max_results_defaults_to_100(boto: Boto) -> None:
    """Without maxResults a page holds 100 jobs."""
    page = await boto("list_batch_segment_jobs")
    assert len(page["batchSegmentJobs"]) == 100
    assert "nextToken" in page


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:s3:::bucket/key",
        "arn:AWS:personalize:us-east-1:123456789012:solution/x/1",
        "arn:aws:personalize:us-east-1:123456789012:",
    ],
)
async def test_arn_pattern(boto: Boto, arn: str) -> None:
    """A filter that does not match the model's ARN pattern answers InvalidInputException."""
    with pytest.raises(ClientError) as exc:
        await boto("list_batch_inference_jobs", solutionVersionArn=arn)
    assert (
        "Member must satisfy regular expression pattern: arn:([a-z\\d-]+):personalize:.*:.*:.+"
        in (invalid_input(exc))
    )


async def test_arn_length(boto: Boto) -> None:
    """An ARN longer than 256 characters answers InvalidInputException."""
    arn = VERSION + "x" * 256
    with pytest.raises(ClientError) as exc:
        await boto("describe_batch_inference_job", batchInferenceJobArn=arn)
    assert "Member must have length less than or equal to 256" in invalid_input(exc)


async def test_next_token_length(boto: Boto) -> None:
    """A nextToken longer than 1500 characters answers InvalidInputException."""
    with pytest.raises(ClientError) as exc:
        await boto("list_solutions", nextToken="a" * 1501)
    assert "at 'nextToken'" in invalid_input(exc)


@pytest.mark.parametrize(
    ("operation", "member"),
    [
        ("describe_batch_inference_job", "batchInferenceJobArn"),
        ("describe_batch_segment_job", "batchSegmentJobArn"),
    ],
)
async def test_required_member_missing(unchecked: Boto, operation: str, member: str) -> None:
    """A missing required member answers InvalidInputException ('must not be null')."""
    with pytest.raises(ClientError) as exc:
        await unchecked(operation)
    assert invalid_input(exc) == (
        f"1 validation error detected: Value null at '{member}' failed to satisfy "
        "constraint: Member must not be null"
    )


async def test_every_violation_is_reported(unchecked: Boto) -> None:
    """Every violation of a request is listed, nested members by their path."""
    with pytest.raises(ClientError) as exc:
        await unchecked(
            "create_batch_segment_job",
            jobName="-starts-with-a-dash",
            solutionVersionArn=VERSION,
            jobInput={"s3DataSource": {"path": "ftp://nope"}},
            jobOutput={"s3DataDestination": {}},
        )
    message = invalid_input(exc)
    assert message.startswith("4 validation errors detected: ")
    assert (
        "at 'jobName' failed to satisfy constraint: Member must satisfy regular expression"
        in message
    )
    assert "at 'jobInput.s3DataSource.path'" in message
    assert "Value null at 'jobOutput.s3DataDestination.path'" in message
    assert "Value null at 'roleArn'" in message


async def test_enum_values(emulator: Emulator, boto: Boto) -> None:
    """A value outside an enum answers InvalidInputException listing the allowed values."""
    with pytest.raises(ClientError) as exc:
        await boto(
            "create_batch_inference_job",
            jobName="modes",
            solutionVersionArn=emulator.solution_version_arns()[0],
            batchInferenceJobMode="FAST",
            jobInput={"s3DataSource": {"path": "s3://b/in"}},
            jobOutput={"s3DataDestination": {"path": "s3://b/out"}},
            roleArn="arn:aws:iam::123456789012:role/R",
        )
    assert (
        "Member must satisfy enum value set: [BATCH_INFERENCE, THEME_GENERATION]"
        in invalid_input(exc)
    )


async def test_wrong_json_type_is_a_serialization_error(unchecked: Boto) -> None:
    """A member of the wrong JSON type answers SerializationException."""
    with pytest.raises(ClientError) as exc:
        await unchecked("list_solutions", maxResults="ten")
    assert exc.value.response["Error"]["Code"] == "SerializationException"


async def test_java_unicode_classes_are_translated() -> None:
    """The model's Java \\p{...} classes work in and out of character classes."""
    tag_key = service_model().shape_for("TagKey").metadata["pattern"]
    assert _compile(tag_key).fullmatch("team:recs/é_1 x")
    assert _compile(tag_key).fullmatch("bad#key") is None
    next_token = service_model().shape_for("NextToken").metadata["pattern"]
    assert _compile(next_token).fullmatch("abc-_=")
    assert _compile(next_token).fullmatch("é") is None


@pytest.mark.parametrize(
    ("arn", "valid"),
    [
        ("arn:aws-cn:personalize:us-east-1:1:x", True),
        ("arn:a\u0663:personalize:us-east-1:1:x", False),  # an Arabic-Indic digit
        *((f"arn:aws:personalize:us-east-1:1:x{end}y", False) for end in "\r\n\x85\u2028\u2029"),
    ],
)
async def test_java_digits_and_dots_are_translated(arn: str, valid: bool) -> None:
    """As in Java, \\d is an ASCII digit and . stops at every line terminator."""
    arn_pattern = service_model().shape_for("Arn").metadata["pattern"]
    assert (_compile(arn_pattern).fullmatch(arn) is not None) is valid


async def test_unknown_members_are_ignored() -> None:
    """Members the model does not define pass validation (forward compatibility)."""
    shape = service_model().operation_model("ListSolutions").input_shape
    validate(shape, {"maxResults": 5, "futureMember": {"anything": 1}})
