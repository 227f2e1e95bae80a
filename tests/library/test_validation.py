"""Bad input raises ParamValidationError naming the parameter, before anything is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import aiopersonalize
from aiopersonalize import Client, ParamValidationError

from ..peers import Peer, scripted_peer

GOOD = "arn:aws:personalize:us-east-1:123456789012:solution/s/1a2b3c"


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with scripted_peer([]) as p:
        yield p


@pytest.fixture
async def client(peer: Peer) -> AsyncIterator[Client]:
    async with Client(endpoint_url=peer.endpoint_url, region_name="us-east-1") as c:
        yield c


BAD_LISTING_ARGS: list[tuple[str, dict[str, Any]]] = [
    ("solution_version_arn", {"solution_version_arn": "not-an-arn"}),
    ("solution_version_arn", {"solution_version_arn": "arn:aws:s3:::bucket"}),
    (
        "solution_version_arn",
        {"solution_version_arn": "xarn:aws:personalize:us-east-1:1:solution/s"},
    ),
    (
        "solution_version_arn",
        {"solution_version_arn": "arn:aws:personalize:us-east-1:1:solution/\n"},
    ),
    ("solution_version_arn", {"solution_version_arn": "arn:aws:personalize:r:1:" + "x" * 240}),
    (
        "solution_version_arn",
        {"solution_version_arn": b"arn:aws:personalize:us-east-1:1:solution/s"},
    ),
    ("solution_version_arn", {"solution_version_arn": 42}),
    ("page_size", {"page_size": 0}),
    ("page_size", {"page_size": 101}),
    ("page_size", {"page_size": -5}),
    ("page_size", {"page_size": 10.0}),
    ("page_size", {"page_size": True}),
    ("page_size", {"page_size": "100"}),
    ("max_items", {"max_items": 0}),
    ("max_items", {"max_items": -1}),
    ("max_items", {"max_items": 2.5}),
    ("max_items", {"max_items": False}),
    ("starting_token", {"starting_token": "x" * 1501}),
    ("starting_token", {"starting_token": "tökén"}),
    ("starting_token", {"starting_token": 123}),
    ("prefetch", {"prefetch": -1}),
    ("prefetch", {"prefetch": 1.5}),
    ("prefetch", {"prefetch": None}),
]


@pytest.mark.parametrize("method", ["list_batch_inference_jobs", "list_batch_segment_jobs"])
@pytest.mark.parametrize(("parameter", "kwargs"), BAD_LISTING_ARGS)
async def test_bad_listing_arguments_raise_at_call_and_send_nothing(
    client: Client, peer: Peer, method: str, parameter: str, kwargs: dict[str, Any]
) -> None:
    """Each listing argument that breaks the service model's constraints raises
    ParamValidationError (a ValueError) naming it, at call time, and no request is sent."""
    listing_method: Callable[..., Any] = getattr(client, method)
    with pytest.raises(ParamValidationError) as info:
        listing_method(**kwargs)
    assert info.value.parameter == parameter
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, aiopersonalize.PersonalizeError)
    assert parameter in str(info.value)
    assert peer.requests == []


def test_limits_follow_the_service_model() -> None:
    """The validated limits are the ones botocore's Personalize service model declares."""
    import botocore.loaders

    model = botocore.loaders.Loader().load_service_model("personalize", "service-2")
    shapes = model["shapes"]
    from aiopersonalize import _validation as v

    assert shapes["Arn"]["max"] == v.ARN_MAX_LENGTH
    assert shapes["Arn"]["pattern"] == v.ARN_PATTERN.pattern
    assert shapes["NextToken"]["max"] == v.NEXT_TOKEN_MAX_LENGTH
    assert (shapes["MaxResults"]["min"], shapes["MaxResults"]["max"]) == (
        v.MIN_PAGE_SIZE,
        v.MAX_PAGE_SIZE,
    )


async def test_limits_at_the_edges_are_accepted(client: Client, peer: Peer) -> None:
    """The extreme valid values (page_size 1 and 100, a 256-character ARN, a 1500-character
    token, prefetch 0) are accepted and sent as given."""
    arn = "arn:aws:personalize:us-east-1:1:" + "s" * (256 - len("arn:aws:personalize:us-east-1:1:"))
    assert len(arn) == 256
    for size in (1, 100):
        await client.list_batch_inference_jobs(
            arn, page_size=size, starting_token="t" * 1500, prefetch=0
        ).collect()
    assert [r[1]["maxResults"] for r in peer.requests] == [1, 100]
    assert all(r[1]["solutionVersionArn"] == arn for r in peer.requests)
    assert all(len(r[1]["nextToken"]) == 1500 for r in peer.requests)


@pytest.mark.parametrize("method", ["describe_batch_inference_job", "describe_batch_segment_job"])
@pytest.mark.parametrize(
    "arn", ["", "nope", None, 7, "arn:aws:personalize:us-east-1:1:" + "x" * 230]
)
async def test_bad_describe_arns_raise_and_send_nothing(
    client: Client, peer: Peer, method: str, arn: object
) -> None:
    """A describe call with a missing, malformed or over-long ARN raises ParamValidationError
    naming the ARN parameter and sends nothing."""
    with pytest.raises(ParamValidationError) as info:
        await getattr(client, method)(arn)
    assert info.value.parameter == method.removeprefix("describe_") + "_arn"
    assert peer.requests == []


@pytest.mark.parametrize(
    ("parameter", "kwargs"),
    [
        ("max_concurrency", {"max_concurrency": 0}),
        ("max_concurrency", {"max_concurrency": "8"}),
        ("max_attempts", {"max_attempts": 0}),
        ("retry_mode", {"retry_mode": "aggressive"}),
        ("endpoint_url", {"endpoint_url": "localhost:4566"}),
        ("region_name", {"region_name": 3}),
        ("profile_name", {"profile_name": "p", "session": object()}),
    ],
)
def test_bad_client_arguments_raise(parameter: str, kwargs: dict[str, Any]) -> None:
    """Each bad Client argument raises ParamValidationError naming it, when the client is built."""
    with pytest.raises(ParamValidationError) as info:
        Client(**kwargs)
    assert info.value.parameter == parameter
