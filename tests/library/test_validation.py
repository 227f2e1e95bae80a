"""Bad input raises ParamValidationError naming the parameter, before anything is sent."""

from __future__ import annotations

import math
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


# -- the words of each refusal, and what is accepted ---------------------------------------


class Unprintable:
    """A value whose ``repr`` fails, as a broken ``__repr__`` does."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


PATTERN = aiopersonalize._validation.ARN_PATTERN.pattern  # shown as written: one backslash
TOKEN_OF = f"starting_tokens[{GOOD!r}]"
HUGE = 10**400  # an int beyond any float

# (call on an open client, the parameter named, the whole message)
REFUSALS: list[tuple[str, Callable[[Client], object], str, str]] = [
    (
        "arn-type",
        lambda c: c.list_batch_inference_jobs(42),
        "solution_version_arn",
        "expected a str ARN, got int",
    ),
    (
        "arn-length",
        lambda c: c.list_batch_inference_jobs("arn:aws:personalize:r:1:" + "x" * 233),
        "solution_version_arn",
        "ARN is 257 characters long; the limit is 256",
    ),
    (
        "arn-pattern",
        lambda c: c.list_batch_inference_jobs("nope"),
        "solution_version_arn",
        f"'nope' does not match the ARN pattern {PATTERN}",
    ),
    (
        "arn-line-separator",
        lambda c: c.list_batch_inference_jobs("arn:aws:personalize:r:1:s\u2028"),
        "solution_version_arn",
        f"'arn:aws:personalize:r:1:s\\u2028' does not match the ARN pattern {PATTERN}",
    ),
    (
        "arns-string",
        lambda c: c.list_batch_inference_jobs_many(GOOD),
        "solution_version_arns",
        "expected an iterable of ARNs, got str",
    ),
    (
        "arns-item",
        lambda c: c.list_batch_inference_jobs_many([GOOD, 7]),
        "solution_version_arns[1]",
        "expected a str ARN, got int",
    ),
    (
        "token-type",
        lambda c: c.list_batch_inference_jobs(GOOD, starting_token=123),
        "starting_token",
        "expected a str token, got int",
    ),
    (
        "token-length",
        lambda c: c.list_batch_inference_jobs(GOOD, starting_token="t" * 1501),
        "starting_token",
        "token is 1501 characters long; the limit is 1500",
    ),
    (
        "token-ascii",
        lambda c: c.list_batch_inference_jobs(GOOD, starting_token="tökén"),
        "starting_token",
        "token must be ASCII",
    ),
    (
        "int-type",
        lambda c: c.list_batch_inference_jobs(GOOD, page_size="100"),
        "page_size",
        "expected an int, got str",
    ),
    (
        "int-bool",
        lambda c: c.list_batch_inference_jobs(GOOD, page_size=True),
        "page_size",
        "expected an int, got bool",
    ),
    (
        "range-above",
        lambda c: c.list_batch_inference_jobs(GOOD, page_size=101),
        "page_size",
        "must be from 1 to 100, got 101",
    ),
    (
        "range-below",
        lambda c: c.list_batch_inference_jobs(GOOD, page_size=0),
        "page_size",
        "must be from 1 to 100, got 0",
    ),
    (
        "max-items",
        lambda c: c.list_batch_inference_jobs(GOOD, max_items=0),
        "max_items",
        "must be at least 1, got 0",
    ),
    (
        "prefetch",
        lambda c: c.list_batch_inference_jobs(GOOD, prefetch=-1),
        "prefetch",
        "must be at least 0, got -1",
    ),
    (
        "merged-prefetch",
        lambda c: c.crawl_batch_jobs(prefetch=0),
        "prefetch",
        "must be at least 1, got 0",
    ),
    (
        "concurrency",
        lambda c: c.crawl_batch_jobs(concurrency=0),
        "concurrency",
        "must be at least 1, got 0",
    ),
    (
        "choice",
        lambda c: c.crawl_batch_jobs(on_error="ignore"),
        "on_error",
        "must be one of ('raise', 'skip'), got 'ignore'",
    ),
    (
        "choice-unprintable",
        lambda c: c.crawl_batch_jobs(strategy=Unprintable()),
        "strategy",
        "must be one of ('account', 'versions'), got <unprintable Unprintable>",
    ),
    (
        "region-type",
        lambda c: c.crawl_batch_jobs(regions=[3]),
        "regions[0]",
        "expected a str region name, got int",
    ),
    (
        "region-name",
        lambda c: c.crawl_batch_jobs(regions=["us-east-1", "US-WEST-2"]),
        "regions[1]",
        "'US-WEST-2' is not a valid region name",
    ),
    (
        "regions-string",
        lambda c: c.crawl_batch_jobs(regions="us-east-1"),
        "regions",
        "expected an iterable of region names, got str",
    ),
    (
        "regions-empty",
        lambda c: c.crawl_batch_jobs(regions=[]),
        "regions",
        "give at least one region",
    ),
    (
        "kinds-string",
        lambda c: c.crawl_batch_jobs(kinds="inference"),
        "kinds",
        "expected an iterable of names, got str",
    ),
    ("kinds-empty", lambda c: c.crawl_batch_jobs(kinds=()), "kinds", "give at least one"),
    (
        "kinds-item",
        lambda c: c.crawl_batch_jobs(kinds=["inference", "batch"]),
        "kinds[1]",
        "must be one of ('inference', 'segment'), got 'batch'",
    ),
    (
        "tokens-type",
        lambda c: c.list_batch_inference_jobs_many([GOOD], starting_tokens=[GOOD]),
        "starting_tokens",
        "expected a mapping, got list",
    ),
    (
        "tokens-key",
        lambda c: c.list_batch_inference_jobs_many([GOOD], starting_tokens={"other": "t"}),
        "starting_tokens",
        "'other' is not one of the solution versions given",
    ),
    (
        "tokens-none",
        lambda c: c.list_batch_inference_jobs_many([GOOD], starting_tokens={GOOD: None}),
        TOKEN_OF,
        "expected a str token, got None",
    ),
    (
        "tokens-value",
        lambda c: c.list_batch_inference_jobs_many([GOOD], starting_tokens={GOOD: 5}),
        TOKEN_OF,
        "expected a str token, got int",
    ),
    (
        "resume-type",
        lambda c: c.crawl_batch_jobs(resume=[("us-east-1", "inference", None)]),
        "resume",
        "expected a mapping, got list",
    ),
    (
        "resume-key-short",
        lambda c: c.crawl_batch_jobs(resume={("us-east-1", "inference"): None}),
        "resume",
        "keys are (region, kind, solution_version_arn[, account]) tuples, got ('us-east-1', 'inference')",
    ),
    (
        "resume-key-string",
        lambda c: c.crawl_batch_jobs(resume={"abc": None}),
        "resume",
        "keys are (region, kind, solution_version_arn[, account]) tuples, got 'abc'",
    ),
    (
        "resume-region",
        lambda c: c.crawl_batch_jobs(resume={("US", "inference", None): None}),
        "resume[('US', 'inference', None)]",
        "'US' is not a valid region name",
    ),
    (
        "resume-kind",
        lambda c: c.crawl_batch_jobs(resume={("us-east-1", "batch", None): None}),
        "resume[('us-east-1', 'batch', None)]",
        "must be one of ('inference', 'segment'), got 'batch'",
    ),
    (
        "resume-arn",
        lambda c: c.crawl_batch_jobs(resume={("us-east-1", "inference", "nope"): None}),
        "resume[('us-east-1', 'inference', 'nope')]",
        f"'nope' does not match the ARN pattern {PATTERN}",
    ),
    (
        "resume-token",
        lambda c: c.crawl_batch_jobs(resume={("us-east-1", "inference", None): 5}),
        "resume[('us-east-1', 'inference', None)]",
        "expected a str token, got int",
    ),
    (
        "resume-key-long",
        lambda c: c.crawl_batch_jobs(resume={("us-east-1", "inference", None, None, 1): None}),
        "resume",
        "keys are (region, kind, solution_version_arn[, account]) tuples, "
        "got ('us-east-1', 'inference', None, None, 1)",
    ),
    (
        "resume-account",
        lambda c: c.crawl_batch_jobs(resume={("us-east-1", "inference", None, "12345"): None}),
        "resume[('us-east-1', 'inference', None, '12345')]",
        "expected a 12-digit account ID, got '12345'",
    ),
    (
        "rate-type",
        lambda c: Client(max_requests_per_second="5"),
        "max_requests_per_second",
        "expected a number, got str",
    ),
    (
        "rate-bool",
        lambda c: Client(max_requests_per_second=True),
        "max_requests_per_second",
        "expected a number, got bool",
    ),
    (
        "rate-zero",
        lambda c: Client(max_requests_per_second=0),
        "max_requests_per_second",
        "must be a finite number above 0, got 0",
    ),
    (
        "rate-nan",
        lambda c: Client(max_requests_per_second=math.nan),
        "max_requests_per_second",
        "must be a finite number above 0, got nan",
    ),
    (
        "rate-huge",
        lambda c: Client(max_requests_per_second=HUGE),
        "max_requests_per_second",
        f"must be a finite number above 0, got {HUGE}",
    ),
    (
        "window-type",
        lambda c: Client(page_retry_window=None),
        "page_retry_window",
        "expected a number of seconds, got NoneType",
    ),
    (
        "window-negative",
        lambda c: Client(page_retry_window=-1),
        "page_retry_window",
        "must be a finite number, 0 or more, got -1",
    ),
    (
        "window-huge",
        lambda c: Client(page_retry_window=-HUGE),
        "page_retry_window",
        f"must be a finite number, 0 or more, got {-HUGE}",
    ),
]


@pytest.mark.parametrize(
    ("call", "parameter", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSALS],
)
async def test_each_refusal_names_the_parameter_and_says_what_is_wrong(
    client: Client, call: Callable[[Client], object], parameter: str, message: str
) -> None:
    """Each kind of bad input is refused with a message that names the parameter (an
    item of an iterable or mapping by its index or key) and says what was expected and
    what was given, word for word."""
    with pytest.raises(ParamValidationError) as info:
        call(client)
    assert info.value.parameter == parameter
    assert str(info.value) == f"invalid {parameter}: {message}"


def test_check_resume_refuses_a_kind_not_asked_for() -> None:
    """``check_resume`` with ``kinds`` refuses a key of another kind, naming the key."""
    key = ("us-east-1", "segment", None)
    with pytest.raises(ParamValidationError) as info:
        aiopersonalize.check_resume({key: "t"}, kinds=("inference",))
    assert (
        str(info.value) == f"invalid resume[{key!r}]: must be one of ('inference',), got 'segment'"
    )


def test_good_values_come_back_checked_and_deduplicated_in_order() -> None:
    """Accepted values come back as given: iterables as tuples without repeats in their
    first order, numbers of seconds and rates as floats, ``None`` where it means "none",
    a choice as the allowed value itself, resume keys as ChainKeys."""
    from aiopersonalize import _validation as v

    other = GOOD.replace("1a2b3c", "4d5e6f")
    assert v.arns("a", [other, GOOD, other]) == (other, GOOD)
    assert v.regions("r", ["eu-west-1", "us-east-1", "eu-west-1"]) == ("eu-west-1", "us-east-1")
    assert v.choices("k", ["segment", "inference", "segment"], ("inference", "segment")) == (
        "segment",
        "inference",
    )

    class Named(str):
        """A string of another type, equal to an allowed value."""

    chosen = v.choice("c", Named("skip"), ("raise", "skip"))
    assert (chosen, type(chosen)) == ("skip", str)
    assert v.optional_arn("a", None) is None
    assert v.next_token("t", None) is None
    assert v.max_items(None) is None
    assert v.int_in_range("n", 1, 1, 1) == 1
    assert (v.page_size(1), v.page_size(100), v.prefetch(0)) == (1, 100, 0)
    assert v.positive_rate("r", None) is None
    assert v.positive_rate("r", 0.5) == 0.5  # under one request a second
    rate, window = v.positive_rate("r", 3), v.seconds("s", 0)
    assert (rate, type(rate), window, type(window)) == (3.0, float, 0.0, float)
    assert v.token_map("t", None, [GOOD]) == {}
    assert v.token_map("t", {GOOD: "x"}, [GOOD]) == {GOOD: "x"}
    assert v.resume_map("r", None, ("inference",)) == {}
    resume = aiopersonalize.check_resume(
        {("us-east-1", "inference", GOOD): "t", ("eu-west-1", "segment", None): None}
    )
    assert resume == {("us-east-1", "inference", GOOD): "t", ("eu-west-1", "segment", None): None}
    assert all(type(key) is aiopersonalize.ChainKey for key in resume)


def test_a_resume_key_with_an_account_keeps_it() -> None:
    """A resume key of another account's chain (four parts) comes back as a ChainKey
    carrying that account."""
    member = ("us-east-1", "inference", None, "200000000001")
    (key,) = aiopersonalize.check_resume({member: "t"})
    assert (key, key.account) == (member, "200000000001")
