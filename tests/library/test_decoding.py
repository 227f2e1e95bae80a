"""Responses decoded straight into records (the fast path) give, field for field, the
records botocore's own parser gives through ``from_wire`` (the generic path).

Both paths run over real HTTP: the library's client decodes a body in its
``before-parse`` hook, while a stock aiobotocore client pointed at the same server
parses it with botocore's generic parser, whose dicts go through ``from_wire``.
Records are compared with ``==`` and by ``repr``, which also tells an enum member
from a plain string and one time zone from another.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from aiobotocore.session import get_session
from botocore import xform_name
from botocore.model import Shape
from botocore.session import get_session as get_botocore_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiopersonalize import (
    BatchInferenceJob,
    BatchInferenceJobConfig,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    Client,
    FieldsForThemeGeneration,
    JobInput,
    JobOutput,
    JobStatus,
    ResponseError,
    S3DataConfig,
    ThemeGenerationConfig,
)
from aiopersonalize._wire import SHAPES
from aiopersonalize.emulator import Emulator, EmulatorOptions, InventorySpec

from ..peers import VERSION_ARN, Reply, connected, scripted_peer

MODEL = get_botocore_session().get_service_model("personalize")

SPEC = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=230,
    segment_jobs_per_version=120,
)

pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SPEC, seed=11))


@dataclass(frozen=True)
class Kind:
    """One job kind, as the library and a stock aiobotocore client each call it."""

    list_operation: str
    list_key: str
    describe_operation: str
    describe_key: str
    arn_member: str
    summary: type[Any]
    full: type[Any]

    def ours_list(self, client: Client) -> Any:
        return (
            client.list_batch_inference_jobs
            if self.summary is BatchInferenceJobSummary
            else client.list_batch_segment_jobs
        )

    def ours_describe(self, client: Client) -> Any:
        return (
            client.describe_batch_inference_job
            if self.full is BatchInferenceJob
            else client.describe_batch_segment_job
        )


INFERENCE = Kind(
    "ListBatchInferenceJobs",
    "batchInferenceJobs",
    "DescribeBatchInferenceJob",
    "batchInferenceJob",
    "batchInferenceJobArn",
    BatchInferenceJobSummary,
    BatchInferenceJob,
)
SEGMENT = Kind(
    "ListBatchSegmentJobs",
    "batchSegmentJobs",
    "DescribeBatchSegmentJob",
    "batchSegmentJob",
    "batchSegmentJobArn",
    BatchSegmentJobSummary,
    BatchSegmentJob,
)
KINDS = {"inference": INFERENCE, "segment": SEGMENT}


def assert_identical(fast: Sequence[Any], generic: Sequence[Any]) -> None:
    """Field for field: equal, with the same types (enum members, UTC time zones)."""
    assert fast == generic
    assert repr(fast) == repr(generic)
    for record in fast:
        for name in ("creation_date_time", "last_updated_date_time"):
            value = getattr(record, name)
            assert value is None or value.tzinfo is timezone.utc


@pytest.fixture
async def stock() -> AsyncIterator[Callable[[str], Any]]:
    """Opens stock aiobotocore clients (botocore's generic parser) at an endpoint."""
    async with contextlib.AsyncExitStack() as stack:

        async def at(endpoint_url: str) -> Any:
            return await stack.enter_async_context(
                get_session().create_client(
                    "personalize", region_name="us-east-1", endpoint_url=endpoint_url
                )
            )

        yield at


# -- the emulator's output ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["inference", "segment"])
async def test_every_listed_job_of_the_emulator_is_identical_both_ways(
    emulator: Emulator, stock: Callable[[str], Any], kind: str
) -> None:
    """Every page of the emulator's whole listing of a kind decodes to the same records
    on the fast path as botocore's parser plus from_wire gives, page for page."""
    spec = KINDS[kind]
    boto = await stock(emulator.endpoint_url)
    paginator = boto.get_paginator(xform_name(spec.list_operation))
    generic = [
        [spec.summary.from_wire(item) for item in page[spec.list_key]]
        async for page in paginator.paginate(PaginationConfig={"PageSize": 100})
    ]
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        listing = spec.ours_list(client)(page_size=100)
        async with listing:
            fast = [list(page.items) async for page in listing.pages()]
    versions = SPEC.dataset_groups * SPEC.solutions_per_dataset_group * SPEC.versions_per_solution
    assert sum(map(len, fast)) == versions * (
        SPEC.inference_jobs_per_version if kind == "inference" else SPEC.segment_jobs_per_version
    )
    assert len(fast) == len(generic)
    for ours, theirs in zip(fast, generic, strict=True):
        assert_identical(ours, theirs)


@pytest.mark.parametrize("kind", ["inference", "segment"])
async def test_described_jobs_of_the_emulator_are_identical_both_ways(
    emulator: Emulator, stock: Callable[[str], Any], kind: str
) -> None:
    """Describing jobs gives the same full records on the fast path as botocore's
    parser plus from_wire, nested members, maps and theme configuration included."""
    spec = KINDS[kind]
    boto = await stock(emulator.endpoint_url)
    listed = await getattr(boto, xform_name(spec.list_operation))(maxResults=40)
    arns = [item[spec.arn_member] for item in listed[spec.list_key]]
    async with Client(endpoint_url=emulator.endpoint_url) as client:
        fast = [await spec.ours_describe(client)(arn) for arn in arns]
    generic = [
        spec.full.from_wire(
            (await getattr(boto, xform_name(spec.describe_operation))(**{spec.arn_member: arn}))[
                spec.describe_key
            ]
        )
        for arn in arns
    ]
    assert_identical(fast, generic)
    assert any(job.job_input is not None and job.job_output is not None for job in fast)
    if kind == "inference":
        assert any(job.batch_inference_job_config is not None for job in fast)
        assert any(job.theme_generation_config is not None for job in fast)


# -- responses generated from the service model --------------------------------------

# Members the model marks optional that the records need: a job's ARN is its identity.
REQUIRED_HERE = {
    "BatchInferenceJobSummary",
    "BatchSegmentJobSummary",
    "BatchInferenceJob",
    "BatchSegmentJob",
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


def _unknown_members(known: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Members a later service release might add: any name, any JSON value."""
    return st.dictionaries(
        st.text(min_size=1).filter(lambda name: name not in known), json_values, max_size=2
    )


def from_shape(shape: Shape) -> st.SearchStrategy[Any]:
    """Valid wire values of a service-model shape, as the AWS JSON protocol sends them,
    with unknown members and values the model does not (yet) list."""
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members)
        if shape.name in REQUIRED_HERE:
            required |= {name for name in shape.members if name.endswith("JobArn")}
        members = {name: from_shape(member) for name, member in shape.members.items()}
        known = list(members)
        return st.tuples(
            st.fixed_dictionaries(
                {name: members[name] for name in required},
                optional={name: s for name, s in members.items() if name not in required},
            ),
            _unknown_members(known),
        ).map(lambda parts: {**parts[1], **parts[0]})
    if kind == "list":
        return st.lists(from_shape(shape.member), max_size=4)
    if kind == "map":
        return st.dictionaries(from_shape(shape.key), from_shape(shape.value), max_size=3)
    if kind == "timestamp":
        # Epoch seconds, as the protocol sends them: whole, or with milliseconds.
        return st.integers(0, 4_000_000_000) | st.integers(0, 4_000_000_000_000).map(
            lambda ms: ms / 1000
        )
    if kind in ("integer", "long"):
        return st.integers(-(2**31), 2**31 - 1)
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        if shape.name == "NextToken":  # sent back as is: the model's limits hold for it
            ascii_only = st.characters(max_codepoint=0x7F)
            return st.text(ascii_only, max_size=shape.metadata["max"])
        known_values = list(shape.enum)
        if shape.name == "Status":  # a free string in the model; the API lists these
            known_values = [status.value for status in JobStatus]
        if known_values:
            return st.sampled_from(known_values) | st.text()
        return st.text()
    raise AssertionError(f"a shape type the model of these operations does not use: {kind}")


def body_of(operation: str) -> st.SearchStrategy[bytes]:
    strategy = from_shape(MODEL.operation_model(operation).output_shape)
    if operation.startswith("Describe"):  # the one record a describe is for
        key = "batchInferenceJob" if "Inference" in operation else "batchSegmentJob"
        strategy = strategy.filter(lambda body: key in body)
    return strategy.map(lambda body: json.dumps(body).encode())


class Served:
    """The peer's one reply, replaced by each example."""

    body = b"{}"

    def reply(self, _request: Any) -> Reply:
        return Reply(raw=self.body)


@pytest.fixture
async def served(stock: Callable[[str], Any]) -> AsyncIterator[tuple[Served, Client, Any]]:
    served = Served()
    async with (
        scripted_peer([], responder=served.reply) as peer,
        Client(endpoint_url=peer.endpoint_url) as client,
    ):
        yield served, client, await stock(peer.endpoint_url)


# The fixture is set up once for all examples of a test on purpose: each example
# replaces the one reply it serves, which is all that differs between examples.
GENERATED = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def cases(operation: Callable[[Kind], str]) -> st.SearchStrategy[tuple[Kind, bytes]]:
    """A job kind and a response body of its operation."""
    return st.sampled_from([INFERENCE, SEGMENT]).flatmap(
        lambda kind: body_of(operation(kind)).map(lambda body: (kind, body))
    )


@GENERATED
@given(case=cases(lambda kind: kind.list_operation))
async def test_generated_list_responses_decode_identically_both_ways(
    served: tuple[Served, Client, Any], case: tuple[Kind, bytes]
) -> None:
    """Any list response the service model allows, unknown members and values included,
    decodes to the same records on the fast path as botocore's parser plus from_wire."""
    spec, body = case
    peer, client, boto = served
    peer.body = body
    parsed = await getattr(boto, xform_name(spec.list_operation))(maxResults=100)
    generic = [spec.summary.from_wire(item) for item in parsed.get(spec.list_key, [])]
    listing = spec.ours_list(client)(page_size=100, prefetch=0)
    async with listing:
        page = await anext(aiter(listing.pages()))
    assert_identical(list(page.items), generic)
    assert page.next_token == (parsed.get("nextToken") or None)


@GENERATED
@given(case=cases(lambda kind: kind.describe_operation))
async def test_generated_describe_responses_decode_identically_both_ways(
    served: tuple[Served, Client, Any], case: tuple[Kind, bytes]
) -> None:
    """Any describe response the service model allows, nested members and maps
    included, decodes to the same full record on the fast path as the generic path."""
    spec, body = case
    peer, client, boto = served
    peer.body = body
    arn = "arn:aws:personalize:us-east-1:123456789012:batch-job/j"
    parsed = await getattr(boto, xform_name(spec.describe_operation))(**{spec.arn_member: arn})
    generic = spec.full.from_wire(parsed[spec.describe_key])
    fast = await spec.ours_describe(client)(arn)
    assert_identical([fast], [generic])


# -- the records follow the model -----------------------------------------------------

RECORDS: Mapping[type[Any], str] = {
    BatchInferenceJobSummary: "BatchInferenceJobSummary",
    BatchSegmentJobSummary: "BatchSegmentJobSummary",
    BatchInferenceJob: "BatchInferenceJob",
    BatchSegmentJob: "BatchSegmentJob",
    S3DataConfig: "S3DataConfig",
    JobInput: "BatchInferenceJobInput",
    JobOutput: "BatchInferenceJobOutput",
    BatchInferenceJobConfig: "BatchInferenceJobConfig",
    ThemeGenerationConfig: "ThemeGenerationConfig",
    FieldsForThemeGeneration: "FieldsForThemeGeneration",
}


def _shape(name: str) -> Shape:
    for operation in (
        "DescribeBatchInferenceJob",
        "DescribeBatchSegmentJob",
        "ListBatchInferenceJobs",
        "ListBatchSegmentJobs",
    ):
        found = _find(MODEL.operation_model(operation).output_shape, name)
        if found is not None:
            return found
    raise AssertionError(f"no shape {name} in the model")


def _find(shape: Shape, name: str) -> Shape | None:
    if shape.name == name:
        return shape
    children = (
        list(shape.members.values())
        if shape.type_name == "structure"
        else [shape.member]
        if shape.type_name == "list"
        else []
    )
    for child in children:
        found = _find(child, name)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("record", list(RECORDS), ids=lambda record: record.__name__)
def test_record_fields_are_exactly_the_model_members(record: type[Any]) -> None:
    """Each record's wire names are exactly its model shape's members, and the members
    the model requires are the fields the record requires."""
    shape = _shape(RECORDS[record])
    fields = msgspec.structs.fields(record)
    assert {f.encode_name for f in fields} == set(shape.members)
    required = {f.encode_name for f in fields if f.required}
    assert set(shape.required_members) <= required
    assert required - set(shape.required_members) <= {
        "batchInferenceJobArn",
        "batchSegmentJobArn",
    }


# -- what does not decode --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            {"batchInferenceJobs": [{"batchInferenceJobArn": "a", "jobName": 7}]},
            "$.batchInferenceJobs[0].jobName",
        ),
        ({"batchInferenceJobs": [{"jobName": "no-arn"}]}, "batchInferenceJobArn"),
        (
            {"batchInferenceJobs": [{"batchInferenceJobArn": "a", "creationDateTime": "soon"}]},
            "$.batchInferenceJobs[0].creationDateTime",
        ),
        (
            {"batchInferenceJobs": [{"batchInferenceJobArn": "a", "creationDateTime": 1e300}]},
            "$.batchInferenceJobs[0].creationDateTime",
        ),
        ({"batchInferenceJobs": {"batchInferenceJobArn": "a"}}, "$.batchInferenceJobs"),
        ({"batchInferenceJobs": [], "nextToken": 5}, "$.nextToken"),
    ],
)
async def test_a_member_of_the_wrong_type_is_a_response_error_naming_where(
    body: dict[str, Any], where: str
) -> None:
    """A 200 whose JSON has a member of the wrong type (or lacks the job's ARN) is a
    ResponseError naming the operation, the solution version and the member's path."""
    async with connected([Reply(body)]) as (_peer, client):
        with pytest.raises(ResponseError) as caught:
            await client.list_batch_inference_jobs(VERSION_ARN, prefetch=0).collect()
    error = caught.value
    assert error.operation == "ListBatchInferenceJobs"
    assert error.solution_version_arn == VERSION_ARN
    assert where in str(error)


async def test_unknown_statuses_modes_and_members_survive_the_fast_path() -> None:
    """A status and a mode the enums do not know stay plain strings, known ones become
    members, unknown members are ignored, and timestamps are UTC, on the fast path."""
    body = {
        "batchInferenceJobs": [
            {
                "batchInferenceJobArn": "arn:aws:personalize:us-east-1:1:batch-inference-job/a",
                "status": "ARCHIVED",
                "batchInferenceJobMode": "SOMETHING_NEW",
                "creationDateTime": 1717171717.123,
                "aNewMember": {"nested": [1, None]},
            },
            {
                "batchInferenceJobArn": "arn:aws:personalize:us-east-1:1:batch-inference-job/b",
                "status": "IN PROGRESS",
                "batchInferenceJobMode": "THEME_GENERATION",
                "lastUpdatedDateTime": 0,
            },
        ],
        "somethingElse": True,
    }
    async with connected([Reply(body)]) as (_peer, client):
        unknown, known = await client.list_batch_inference_jobs(prefetch=0).collect()
    assert type(unknown.status) is str
    assert unknown.status == "ARCHIVED"
    assert type(unknown.batch_inference_job_mode) is str
    assert unknown.creation_date_time == datetime(2024, 5, 31, 16, 8, 37, 123000, timezone.utc)
    assert known.status is JobStatus.IN_PROGRESS
    assert known.last_updated_date_time == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert known.last_updated_date_time.tzinfo is timezone.utc


def test_every_shape_reads_members_the_service_model_names() -> None:
    """Each operation in ``SHAPES`` has its own shape, whose response type reads only
    members that botocore's service model gives that operation's output."""
    for operation, shape in SHAPES.items():
        assert shape.operation == operation
        output = MODEL.operation_model(operation).output_shape
        read = {info.encode_name for info in msgspec.structs.fields(shape.type)}
        assert read, operation
        assert read <= set(output.members), (operation, read - set(output.members))
