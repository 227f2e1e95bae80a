"""Errors over real HTTP through the real aiobotocore client: every service error code,
retry outcome, transport failure and unusable response ends as one of our exceptions,
with its context kept and botocore's exception only as the ``__cause__``.

Retries use ``retry_mode="standard"`` with ``max_attempts=2``: botocore sleeps a random
0-1 s before a first retry (0-2 s before a second), and nothing here can shorten that
without patching botocore, so there is one retry per scenario and they run side by side.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from aiopersonalize import (
    AccessDeniedError,
    Client,
    ConfigurationError,
    InvalidInputError,
    InvalidNextTokenError,
    PersonalizeError,
    ResourceNotFoundError,
    ResponseError,
    ServerError,
    ServiceError,
    ThrottlingError,
    TransportError,
    TransportTimeoutError,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import unused_port, wait_no_producers
from ..peers import (
    HANG,
    JOB_ARN,
    VERSION_ARN,
    Reply,
    connected,
    error,
    inference_page,
)

LIST = "ListBatchInferenceJobs"
ATTEMPTS = 2
# What botocore's attempts do, alone: no page asked again by us (test_rate.py).
RETRYING: dict[str, Any] = {
    "retry_mode": "standard",
    "max_attempts": ATTEMPTS,
    "page_retry_window": 0,
}
NO_RETRY: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 1, "page_retry_window": 0}
SMALL = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=1,
    versions_per_solution=2,
    inference_jobs_per_version=3,
    segment_jobs_per_version=3,
)
# The emulator fixture's options, unless a test's own mark says otherwise.
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL))


def assert_ours(exc: PersonalizeError) -> None:
    """The error is ours, never botocore's, and botocore's error is kept as its cause."""
    assert not isinstance(exc, (ClientError, BotoCoreError))
    assert isinstance(exc.__cause__, (ClientError, BotoCoreError))


async def job_names(listing: Any, seen: list[str]) -> None:
    """Iterate ``listing``, recording each job's name as it arrives."""
    async for job in listing:
        seen.append(job.job_name)  # noqa: PERF401 - the jobs before an error matter


# -- service error codes ----------------------------------------------------------------

SERVICE_ERRORS = [
    ("InvalidInputException", 400, InvalidInputError),
    ("InvalidNextTokenException", 400, InvalidNextTokenError),
    ("ResourceNotFoundException", 400, ResourceNotFoundError),
    ("AccessDeniedException", 400, AccessDeniedError),
    ("UnrecognizedClientException", 400, AccessDeniedError),
    ("InvalidSignatureException", 403, AccessDeniedError),
    ("MissingAuthenticationTokenException", 403, AccessDeniedError),
    ("SomeFutureException", 400, ServiceError),
]


@pytest.mark.parametrize(("code", "status", "cls"), SERVICE_ERRORS)
async def test_each_service_error_code_of_a_listing_maps_to_its_class(
    code: str, status: int, cls: type[ServiceError]
) -> None:
    """A listing answered with a service error raises its class (an unknown code a plain
    ServiceError), unretried, keeping code, message, operation, request id, HTTP status and
    solution version, with botocore's ClientError only as the cause."""
    async with connected([error(code, f"{code} said no", status)], **RETRYING) as (peer, client):
        with pytest.raises(ServiceError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    exc = info.value
    assert type(exc) is cls
    assert_ours(exc)
    assert exc.code == code
    assert exc.message == f"{code} said no"
    assert exc.operation == LIST
    assert exc.request_id == "req-1"
    assert exc.http_status == status
    assert exc.solution_version_arn == VERSION_ARN
    assert peer.received.value == 1


async def test_a_describe_error_names_the_describe_operation_and_no_version() -> None:
    """A describe answered ResourceNotFoundException raises ResourceNotFoundError for
    DescribeBatchSegmentJob, with its request id and no solution version."""
    arn = "arn:aws:personalize:us-east-1:123456789012:batch-segment-job/gone"
    async with connected([error("ResourceNotFoundException", "no such job")]) as (peer, client):
        with pytest.raises(ResourceNotFoundError) as info:
            await client.describe_batch_segment_job(arn)
    assert_ours(info.value)
    assert info.value.operation == "DescribeBatchSegmentJob"
    assert info.value.request_id == "req-1"
    assert info.value.solution_version_arn is None
    assert peer.operations() == ["DescribeBatchSegmentJob"]


# -- retries ----------------------------------------------------------------------------
#
# The scenarios of a test run side by side, each on its own peer and client, so that
# botocore's backoff sleeps overlap instead of adding up.

RETRIED = [
    ("ThrottlingException", 400, ThrottlingError),
    ("TooManyRequestsException", 400, ThrottlingError),
    ("InternalFailure", 500, ServerError),
    ("ServiceUnavailable", 503, ServerError),
]

R = TypeVar("R")


async def side_by_side(scenario: Callable[[str], Awaitable[R]], cases: list[str]) -> dict[str, R]:
    """Each case's result of ``scenario``, run concurrently."""
    results: dict[str, R] = {}

    async def run(case: str) -> None:
        results[case] = await scenario(case)

    async with anyio.create_task_group() as tg:
        for case in cases:
            tg.start_soon(run, case)
    return results


async def test_an_error_answered_every_time_raises_after_max_attempts() -> None:
    """Throttling (ThrottlingException, TooManyRequestsException) and 5xx (500, 503)
    answered to every attempt raise ThrottlingError / ServerError once botocore has made
    exactly max_attempts requests, with the last attempt's request id."""
    statuses = {code: status for code, status, _ in RETRIED}

    async def exhaust(code: str) -> tuple[ServiceError, int]:
        script = [error(code, "no", statuses[code])] * (ATTEMPTS + 1)
        async with connected(script, **RETRYING) as (peer, client):
            with pytest.raises(ServiceError) as info:
                await client.list_batch_inference_jobs(VERSION_ARN).collect()
        return info.value, peer.received.value

    results = await side_by_side(exhaust, list(statuses))
    for code, status, cls in RETRIED:
        exc, received = results[code]
        assert type(exc) is cls, code
        assert_ours(exc)
        assert (exc.code, exc.http_status) == (code, status)
        assert exc.request_id == f"req-{ATTEMPTS}", code
        assert exc.solution_version_arn == VERSION_ARN, code
        assert received == ATTEMPTS, code


async def test_a_transient_error_mid_listing_is_retried_and_the_listing_completes() -> None:
    """Throttling or a 5xx answered once, between pages, is retried by botocore and the
    listing yields every job exactly once, in order."""
    statuses = {code: status for code, status, _ in RETRIED}

    async def recover(code: str) -> tuple[list[str], list[str | None]]:
        script = [
            inference_page(0, 2, "t1"),
            error(code, "once", statuses[code]),
            inference_page(2, 2, "t2"),
            inference_page(4, 2, None),
        ]
        async with connected(script, **RETRYING) as (peer, client):
            jobs = await client.list_batch_inference_jobs(VERSION_ARN).collect()
        return [job.job_name for job in jobs], [body.get("nextToken") for _, body in peer.requests]

    results = await side_by_side(recover, list(statuses))
    for code in statuses:
        names, tokens = results[code]
        assert names == [f"job-{i}" for i in range(6)], code
        assert tokens == [None, "t1", "t1", "t2"], code


# -- transport --------------------------------------------------------------------------


async def test_a_refused_connection_raises_transport_error_naming_the_operation() -> None:
    """A request to a port where nothing listens raises TransportError (not a timeout)
    naming the operation and the version."""
    url = f"http://127.0.0.1:{unused_port()}"
    async with Client(endpoint_url=url, **NO_RETRY) as client:
        with pytest.raises(TransportError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert type(info.value) is TransportError
    assert_ours(info.value)
    assert info.value.operation == LIST
    assert LIST in str(info.value)
    assert info.value.solution_version_arn == VERSION_ARN


async def test_a_peer_that_never_answers_raises_transport_timeout_error() -> None:
    """With read_timeout set, a request the peer never answers raises TransportTimeoutError
    (a TransportError) for that operation, and the peer sees the request abandoned."""
    config = Config(read_timeout=0.2, retries={"total_max_attempts": 1})
    async with connected([HANG], config=config) as (peer, client):
        with pytest.raises(TransportTimeoutError) as info:
            await client.describe_batch_inference_job(JOB_ARN.format("slow"))
        await peer.abandoned.reach(1)
    assert isinstance(info.value, TransportError)
    assert_ours(info.value)
    assert info.value.operation == "DescribeBatchInferenceJob"
    assert peer.received.value == 1


@asynccontextmanager
async def cut_short_peer(body: bytes, declared: int) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP peer that declares ``declared`` body bytes, sends ``body`` and closes."""
    received: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        received.append(1)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (declared, body)
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", received


async def test_a_body_cut_short_by_the_connection_closing_raises_transport_error() -> None:
    """A 200 whose connection closes before its declared body is complete raises
    TransportError (botocore: ConnectionClosedError), never a short listing."""
    async with (
        cut_short_peer(b'{"batchInf', declared=100) as (url, received),
        Client(endpoint_url=url, **NO_RETRY) as client,
    ):
        with pytest.raises(TransportError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert_ours(info.value)
    assert info.value.operation == LIST
    assert received == [1]


# -- unusable responses -----------------------------------------------------------------

UNPARSABLE = [b'{"batchInf', b"not json at all", b"<html>gateway</html>"]


@pytest.mark.parametrize("raw", UNPARSABLE)
async def test_a_200_with_an_unparsable_body_mid_listing_raises_response_error(
    raw: bytes,
) -> None:
    """A page answered 200 with a body that is not JSON raises ResponseError after the pages
    before it, instead of ending the listing short.

    botocore's JSON parser turns an unparsable body into ``{"message": body}`` and, for a
    200, parses that against the output shape into an empty result without raising.
    """
    script = [inference_page(0, 2, "t1"), Reply(raw=raw), inference_page(2, 2, None)]
    seen: list[str] = []
    async with connected(script, **NO_RETRY) as (peer, client):
        with pytest.raises(ResponseError) as info:
            await job_names(client.list_batch_inference_jobs(VERSION_ARN), seen)
    assert seen == ["job-0", "job-1"]
    assert info.value.operation == LIST
    assert info.value.solution_version_arn == VERSION_ARN
    assert peer.received.value == 2


async def test_a_200_describe_with_an_unparsable_body_raises_response_error() -> None:
    """A describe answered 200 with a truncated JSON body raises ResponseError."""
    async with connected([Reply(raw=b'{"batchInf')], **NO_RETRY) as (_peer, client):
        with pytest.raises(ResponseError) as info:
            await client.describe_batch_inference_job(JOB_ARN.format("x"))
    assert info.value.operation == "DescribeBatchInferenceJob"


WRONG_SHAPES = [
    b"[]",
    b"null",
    b'{"batchInferenceJobs": 5}',
    b'{"batchInferenceJobs": [5]}',
    b'{"batchInferenceJobs": [{"jobName": "no arn"}]}',
    b'{"batchInferenceJobs": [], "nextToken": 5}',
    # A token the model would refuse could be neither followed nor resumed from.
    b'{"batchInferenceJobs": [], "nextToken": "caf\\u00e9"}',
    b'{"batchInferenceJobs": [], "nextToken": "%s"}' % (b"t" * 1501),
]


@pytest.mark.parametrize("raw", WRONG_SHAPES)
async def test_a_200_whose_json_has_the_wrong_shape_raises_response_error(raw: bytes) -> None:
    """A 200 listing page that is JSON but not of the documented shape raises ResponseError
    (a PersonalizeError), never a bare TypeError or AttributeError."""
    async with connected([Reply(raw=raw)], **NO_RETRY) as (_peer, client):
        with pytest.raises(PersonalizeError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert isinstance(info.value, ResponseError)
    assert info.value.operation == LIST


@pytest.mark.parametrize(("status", "cls"), [(400, ServiceError), (502, ServerError)])
async def test_an_error_status_with_an_unparsable_body_is_a_service_error(
    status: int, cls: type[ServiceError]
) -> None:
    """A 4xx or 5xx whose body is not JSON raises ServiceError / ServerError carrying the
    HTTP status (botocore uses the status as the code)."""
    reply = Reply(raw=b"<html>bad gateway</html>", status=status)
    async with connected([reply], **NO_RETRY) as (_peer, client):
        with pytest.raises(ServiceError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert type(info.value) is cls
    assert_ours(info.value)
    assert info.value.http_status == status
    assert info.value.code == str(status)


# -- an error mid-listing ---------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 2])
async def test_an_error_mid_listing_is_raised_after_the_pages_before_it(prefetch: int) -> None:
    """Pages 1 and 2 are yielded whole, then the third page's service error is raised as its
    typed error, and no producer task is left running."""
    script = [
        inference_page(0, 2, "t1"),
        inference_page(2, 2, "t2"),
        error("InvalidNextTokenException"),
    ]
    pages: list[tuple[str, ...]] = []
    async with connected(script, **NO_RETRY) as (peer, client):
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
        with pytest.raises(InvalidNextTokenError) as info:
            async for page in listing.pages():
                pages.append(tuple(job.job_name for job in page.items))  # noqa: PERF401
        await wait_no_producers()
    assert pages == [("job-0", "job-1"), ("job-2", "job-3")]
    assert info.value.solution_version_arn == VERSION_ARN
    assert peer.received.value == 3


# -- against the emulator ---------------------------------------------------------------


async def test_describing_an_unknown_job_on_the_emulator_raises_resource_not_found(
    emulator: Emulator,
) -> None:
    """The emulator's ResourceNotFoundException for an unknown job ARN arrives as
    ResourceNotFoundError with its code, request id and HTTP status."""
    async with Client(endpoint_url=emulator.endpoint_url, **NO_RETRY) as client:
        with pytest.raises(ResourceNotFoundError) as info:
            await client.describe_batch_inference_job(JOB_ARN.format("no-such-job"))
    assert_ours(info.value)
    assert info.value.code == "ResourceNotFoundException"
    assert info.value.http_status == 400
    assert info.value.request_id
    assert info.value.operation == "DescribeBatchInferenceJob"


async def test_listing_a_version_the_emulator_denies_raises_access_denied(
    emulator: Emulator,
) -> None:
    """A listing of a solution version the emulator denies raises AccessDeniedError carrying
    that version, while another version still lists."""
    denied, allowed = emulator.solution_version_arns()
    emulator.faults = Faults(deny_solution_versions=frozenset({denied}))
    async with Client(endpoint_url=emulator.endpoint_url, **NO_RETRY) as client:
        with pytest.raises(AccessDeniedError) as info:
            await client.list_batch_segment_jobs(denied).collect()
        jobs = await client.list_batch_segment_jobs(allowed).collect()
    assert_ours(info.value)
    assert info.value.code == "AccessDeniedException"
    assert info.value.solution_version_arn == denied
    assert info.value.operation == "ListBatchSegmentJobs"
    assert len(jobs) == 3


async def test_a_garbage_starting_token_on_the_emulator_raises_invalid_next_token(
    emulator: Emulator,
) -> None:
    """A starting token the emulator did not issue raises InvalidNextTokenError."""
    version = emulator.solution_version_arns()[0]
    async with Client(endpoint_url=emulator.endpoint_url, **NO_RETRY) as client:
        listing = client.list_batch_inference_jobs(version, starting_token="garbage")
        with pytest.raises(InvalidNextTokenError) as info:
            await listing.collect()
    assert info.value.solution_version_arn == version


@pytest.mark.parametrize(
    ("key_id", "code"),
    [("AKIDKNOWN", "InvalidSignatureException"), ("AKIDUNKNOWN", "UnrecognizedClientException")],
)
@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, credentials={"AKIDKNOWN": "the-right-secret"})
)
async def test_signatures_the_emulator_rejects_raise_access_denied(
    emulator: Emulator, key_id: str, code: str
) -> None:
    """A request signed with the wrong secret, or by an unknown key, is rejected by the
    emulator's SigV4 check and raises AccessDeniedError with the service's code."""
    async with Client(
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=key_id,
        aws_secret_access_key="a-wrong-secret",
        **NO_RETRY,
    ) as client:
        with pytest.raises(AccessDeniedError) as info:
            await client.list_batch_inference_jobs().collect()
    assert_ours(info.value)
    assert info.value.code == code
    assert info.value.solution_version_arn is None


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize("call", ["list", "describe"])
async def test_no_credentials_raises_configuration_error_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """With no credentials anywhere, a request to AWS raises ConfigurationError naming the
    operation and sends nothing (a local endpoint would get dummy keys: see
    tests/test_first_run.py)."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with Client(region_name="us-east-1") as client:
        with pytest.raises(ConfigurationError) as info:
            if call == "list":
                await client.list_batch_inference_jobs(VERSION_ARN).collect()
            else:
                await client.describe_batch_inference_job(JOB_ARN.format("x"))
        assert client.stats.requests == 0
    assert_ours(info.value)
    assert info.value.operation in (LIST, "DescribeBatchInferenceJob")
    assert info.value.setting == "credentials"
