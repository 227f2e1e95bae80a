"""Generated bad input: every value the service model refuses (or, for the library's own
parameters, the README) raises ParamValidationError naming its parameter when the call is
made, and nothing reaches the peer; every value it accepts is sent exactly as given.

The model's verdict is computed from botocore's Personalize model itself (botocore checks
lengths and ranges only loosely, and patterns not at all), reading each pattern as the
service's validator does: Java's ``java.util.regex``, matched against the whole value,
where ``\\d`` is an ASCII digit, ``.`` matches no line terminator (``\\n``, ``\\r``,
U+0085, U+2028, U+2029) and ``\\p{ASCII}`` is ``[\\x00-\\x7f]``. Lengths count code points.

Hand-picked cases live in tests/test_validation.py, test_merge.py, test_crawl.py and
test_limits.py; these properties generate around them, for every entry point.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.loaders
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from aiopersonalize import Client, ParamValidationError

# The model's patterns in Java's meaning (\d an ASCII digit, . stopping at every line
# terminator): the emulator's translation, not the library's check under test.
from aiopersonalize.emulator._validation import _compile as java_regex

from .helpers import producer_tasks
from .peers import VERSION_ARN, Peer, Reply, connected, scripted_peer

SHAPES: Mapping[str, Any] = botocore.loaders.Loader().load_service_model(
    "personalize", "service-2"
)["shapes"]
REGION = "us-east-1"
KIND_NAMES = ("inference", "segment")

# -- the model's verdict ---------------------------------------------------------------


def model_accepts(shape_name: str, value: object) -> bool:
    """Whether the model's shape admits ``value``: its type, length or range, and pattern."""
    shape = SHAPES[shape_name]
    if shape["type"] == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and shape.get("min", value) <= value <= shape.get("max", value)
        )
    assert shape["type"] == "string"
    return (
        isinstance(value, str)
        and shape.get("min", 0) <= len(value) <= shape.get("max", len(value))
        and ("pattern" not in shape or java_regex(shape["pattern"]).fullmatch(value) is not None)
    )


def at_least(low: int) -> Callable[[object], bool]:
    """The README's verdict on the library's own integer parameters: an int (never a bool)
    of at least ``low``."""
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low


# botocore.utils.validate_region_name: a crawl lists a version in the region its ARN names.
_BOTOCORE_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")
_OUR_REGION = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")


def listable_in_its_region(arn: object) -> bool:
    """Whether a crawl can make a client for the region a (valid) ARN names, or the client's
    own when it names none."""
    region = str(arn).split(":", 4)[3]
    return region == "" or _BOTOCORE_REGION.fullmatch(region) is not None


# -- the peer and the calls ------------------------------------------------------------


def _answer(body: dict[str, Any]) -> Reply:
    """A describe gets the job it asked for; a listing, an empty last page."""
    for record, member in (
        ("batchInferenceJob", "batchInferenceJobArn"),
        ("batchSegmentJob", "batchSegmentJobArn"),
    ):
        if member in body:
            return Reply({record: {member: body[member]}})
    return Reply({})


@pytest.fixture
async def wired() -> AsyncIterator[tuple[Peer, Client]]:
    async with connected([], responder=_answer, region_name=REGION) as (peer, client):
        yield peer, client


@dataclass(frozen=True)
class Use:
    """One way a value goes in: the entry point and the arguments carrying it, the verdict
    on it, the parameter a refusal must name, the request member an accepted value is sent
    as (``None``: not sent as such) and what that member then holds."""

    entry: str
    arguments: Callable[[Any], dict[str, Any]]
    accepts: Callable[[object], bool]
    parameter: str
    member: str | None
    sent: Callable[[Any], Any] = lambda value: value
    listable: Callable[[Any], bool] = lambda _value: True

    @property
    def id(self) -> str:
        return f"{self.entry}-{self.parameter}"


def _start(client: Client, entry: str, arguments: dict[str, Any]) -> Any:
    """Call an entry point: a listing back, or a describe's coroutine."""
    return getattr(client, entry)(**arguments)


async def _finish(started: Any) -> Any:
    """Run a call to its end: await a describe, collect a listing."""
    if inspect.iscoroutine(started):
        return await started
    return await started.collect()


def _names(error: ParamValidationError, parameter: str) -> bool:
    """Whether the error names the parameter (or one item or entry of it)."""
    return (
        error.parameter == parameter or error.parameter.startswith(f"{parameter}[")
    ) and f"invalid {error.parameter}:" in str(error)


async def assert_refused_and_nothing_sent(
    peer: Peer, call: Callable[[], Any], parameter: str
) -> None:
    """The call raises ParamValidationError naming ``parameter`` (a listing or a client when
    made, a describe when awaited), with no request sent and no task started."""
    before = peer.received.value
    with pytest.raises(ParamValidationError) as info:
        started = call()
        if inspect.iscoroutine(started):
            await started
    assert _names(info.value, parameter), (info.value.parameter, parameter)
    assert isinstance(info.value, ValueError)
    assert peer.received.value == before
    assert producer_tasks() == set()


async def assert_verdict(peer: Peer, client: Client, use: Use, value: object) -> None:
    """Refused and nothing sent, or accepted and sent as given, as ``use.accepts`` says."""
    arguments = use.arguments(value)
    if not use.accepts(value):
        await assert_refused_and_nothing_sent(
            peer, lambda: _start(client, use.entry, arguments), use.parameter
        )
        return
    before = len(peer.requests)
    await _finish(_start(client, use.entry, arguments))
    sent = [body for _, body in peer.requests[before:]]
    assert len(sent) == 1, (use.id, sent)
    if use.member is not None:
        assert sent[0][use.member] == use.sent(value), use.id


def _crawl(**options: Any) -> dict[str, Any]:
    """A crawl of one version's inference jobs, without discovery, with these options."""
    return {"kinds": ["inference"], "solution_version_arns": [VERSION_ARN], **options}


def _many(**options: Any) -> dict[str, Any]:
    """A merged listing of one version, with these options."""
    return {"solution_version_arns": [VERSION_ARN], **options}


PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HUGE = 10**4300  # an int of more digits than Python prints by default

# -- ARNs ------------------------------------------------------------------------------

arn_ok = functools.partial(model_accepts, "Arn")


def _arn_uses(kind: str) -> list[Use]:
    """An ARN given to one kind's listing, merged listing and describe."""
    job_arn = "batchInferenceJobArn" if kind == "inference" else "batchSegmentJobArn"
    return [
        Use(
            f"list_batch_{kind}_jobs",
            lambda v: {"solution_version_arn": v},
            arn_ok,
            "solution_version_arn",
            "solutionVersionArn",
        ),
        Use(
            f"list_batch_{kind}_jobs_many",
            lambda v: {"solution_version_arns": [v]},
            arn_ok,
            "solution_version_arns[0]",
            "solutionVersionArn",
        ),
        Use(
            f"describe_batch_{kind}_job",
            lambda v: {f"batch_{kind}_job_arn": v},
            arn_ok,
            f"batch_{kind}_job_arn",
            job_arn,
        ),
    ]


ARN_USES = [
    *_arn_uses("inference"),
    *_arn_uses("segment"),
    Use(
        "crawl_batch_jobs",
        lambda v: _crawl(solution_version_arns=[v]),
        arn_ok,
        "solution_version_arns[0]",
        "solutionVersionArn",
        listable=listable_in_its_region,
    ),
    Use(
        "crawl_batch_jobs",
        lambda v: _crawl(resume={(REGION, "inference", v): "t"}),
        arn_ok,
        "resume",
        None,  # a key, not sent; the crawl's one listing is
    ),
]

# Characters that tell Java's reading of the pattern from Python's: line terminators
# (Java's "." matches none of them; Python's matches all but "\n"), and digits that are
# not ASCII (ARABIC-INDIC DIGIT THREE, FULLWIDTH DIGIT ONE: Python's "\d", not Java's).
LINE_TERMINATORS = ["\n", "\r", "\r\n", "\u0085", "\u2028", "\u2029"]
ODD = [*LINE_TERMINATORS, "\u0663", "\uff11", "\t", " ", "\x00", "\u00e9", "\U0001f600", "A", "_"]


def _join(case: tuple[tuple[str, ...], frozenset[int]]) -> str:
    """An ARN's fields joined by colons, some of them left out."""
    fields, missing = case
    return ":".join(field for i, field in enumerate(fields) if i not in missing)


def _pad(case: tuple[str, int, str]) -> str:
    """A value padded with one character to a length, if shorter."""
    base, length, fill = case
    return base + fill * max(0, length - len(base))


def _insert(case: tuple[str, int, str]) -> str:
    """A value with text inserted somewhere."""
    base, at, text = case
    at %= len(base) + 1
    return base[:at] + text + base[at:]


ARN_FIELDS = st.tuples(
    st.just("arn") | st.sampled_from(["", "ARN", "xarn", "arn ", "aws"]),
    st.from_regex(r"[a-z0-9-]{1,6}", fullmatch=True)
    | st.lists(st.sampled_from([*"az09-:", *ODD]), max_size=4).map("".join),
    st.just("personalize") | st.sampled_from(["", "Personalize", "s3", "personalize "]),
    st.sampled_from([REGION, "eu-west-1", ""]) | st.text(max_size=6),
    st.sampled_from(["123456789012", ""]) | st.text(max_size=6),
    st.sampled_from(["solution/s/1a2b3c", "batch-inference-job/j", ""]) | st.text(max_size=12),
)
ARN_LIKE = st.tuples(ARN_FIELDS, st.frozensets(st.integers(0, 5), max_size=2)).map(_join)
ARNS = st.one_of(
    ARN_LIKE,
    st.tuples(
        ARN_LIKE,
        st.sampled_from([255, 256, 257]),
        st.sampled_from(["s", "\u00e9", "\U0001f600", "\r"]),
    ).map(_pad),
    st.tuples(ARN_LIKE, st.integers(0, 300), st.sampled_from(ODD)).map(_insert),
    st.text(max_size=20),
)
ARN_BASE = f"arn:aws:personalize:{REGION}:123456789012:solution/"
ARN_255, ARN_256, ARN_257 = (_pad((ARN_BASE, n, "s")) for n in (255, 256, 257))


@PROPERTY
@given(value=ARNS)
@example(value="")
@example(value=ARN_255)
@example(value=ARN_256)
@example(value=ARN_257)
@example(value=ARN_BASE + "x\n")
@example(value=ARN_BASE + "x\r")
@example(value=ARN_BASE + "x\u2028y")
@example(value="arn:aws\u0663:personalize:us-east-1:1:x")
@example(value=" " + ARN_BASE + "x")
@example(value=ARN_BASE + "\u00e9\U0001f600")
@pytest.mark.parametrize("use", ARN_USES, ids=lambda use: use.id)
async def test_an_arn_is_refused_or_sent_as_the_model_says(
    wired: tuple[Peer, Client], use: Use, value: str
) -> None:
    """Any ARN-like string, given to any entry point taking an ARN, is refused with
    ParamValidationError naming the parameter and nothing sent when the model's Arn shape
    refuses it (over 256 characters, or not wholly matching its pattern as Java reads it),
    and is otherwise sent exactly as given."""
    # A crawl lists a version in the region its ARN names; one that names no region
    # botocore accepts is a doubt reported apart, not what this property is about.
    assume(not use.accepts(value) or use.listable(value))
    await assert_verdict(*wired, use, value)


# -- tokens ----------------------------------------------------------------------------

token_ok = functools.partial(model_accepts, "NextToken")


def _token_uses(kind: str) -> list[Use]:
    """A token given to one kind's listing and merged listing."""
    return [
        Use(
            f"list_batch_{kind}_jobs",
            lambda v: {"solution_version_arn": VERSION_ARN, "starting_token": v},
            token_ok,
            "starting_token",
            "nextToken",
        ),
        Use(
            f"list_batch_{kind}_jobs_many",
            lambda v: _many(starting_tokens={VERSION_ARN: v}),
            token_ok,
            "starting_tokens",
            "nextToken",
        ),
    ]


TOKEN_USES = [
    *_token_uses("inference"),
    *_token_uses("segment"),
    Use(
        "crawl_batch_jobs",
        lambda v: _crawl(resume={(REGION, "inference", VERSION_ARN): v}),
        token_ok,
        "resume",
        "nextToken",
    ),
]
ASCII = st.characters(codec="ascii")
TOKENS = st.one_of(
    st.text(ASCII, max_size=30),
    st.text(max_size=30),
    st.tuples(
        st.tuples(st.integers(1497, 1501), ASCII).map(lambda case: case[1] * case[0]),
        st.integers(0, 1501),
        st.sampled_from(["", "\u00e9", "\x7f", "\x80", "\U0001f600"]),
    ).map(_insert),
)
TOKEN_1500 = ("".join(map(chr, range(128))) * 12)[:1500]  # every ASCII character


@PROPERTY
@given(value=TOKENS)
@example(value="")
@example(value=TOKEN_1500)
@example(value=TOKEN_1500 + "x")
@example(value="\x80")
@pytest.mark.parametrize("use", TOKEN_USES, ids=lambda use: use.id)
async def test_a_token_is_refused_or_sent_as_the_model_says(
    wired: tuple[Peer, Client], use: Use, value: str
) -> None:
    """Any token, given as a listing's starting_token, a merged listing's starting_tokens
    value or a crawl's resume value, is refused with ParamValidationError naming the
    parameter and nothing sent when the model's NextToken shape refuses it (over 1500
    characters, or not all ASCII), and is otherwise sent exactly as given."""
    await assert_verdict(*wired, use, value)


# -- numbers ---------------------------------------------------------------------------

size_ok = functools.partial(model_accepts, "MaxResults")


def _at_least_or_none(low: int) -> Callable[[object], bool]:
    accepts = at_least(low)
    return lambda value: value is None or accepts(value)


def _up_to_100(value: int | None) -> int:
    return 100 if value is None else min(100, value)


def _page(_value: object) -> int:
    return 100  # the default page_size


NUMBER_USES = [
    Use(
        "list_batch_inference_jobs", lambda v: {"page_size": v}, size_ok, "page_size", "maxResults"
    ),
    Use("list_batch_segment_jobs", lambda v: {"page_size": v}, size_ok, "page_size", "maxResults"),
    Use(
        "list_batch_inference_jobs",
        lambda v: {"max_items": v},
        _at_least_or_none(1),
        "max_items",
        "maxResults",
        sent=_up_to_100,
    ),
    Use(
        "list_batch_segment_jobs",
        lambda v: {"prefetch": v},
        at_least(0),
        "prefetch",
        "maxResults",
        sent=_page,
    ),
    Use(
        "list_batch_inference_jobs_many",
        lambda v: _many(page_size=v),
        size_ok,
        "page_size",
        "maxResults",
    ),
    Use(
        "list_batch_segment_jobs_many",
        lambda v: _many(prefetch=v),
        at_least(1),
        "prefetch",
        "maxResults",
        sent=_page,
    ),
    Use(
        "list_batch_inference_jobs_many",
        lambda v: _many(concurrency=v),
        at_least(1),
        "concurrency",
        "maxResults",
        sent=_page,
    ),
    Use("crawl_batch_jobs", lambda v: _crawl(page_size=v), size_ok, "page_size", "maxResults"),
    Use(
        "crawl_batch_jobs",
        lambda v: _crawl(prefetch=v),
        at_least(1),
        "prefetch",
        "maxResults",
        sent=_page,
    ),
    Use(
        "crawl_batch_jobs",
        lambda v: _crawl(concurrency=v),
        at_least(1),
        "concurrency",
        "maxResults",
        sent=_page,
    ),
]
NUMBERS = st.one_of(
    st.integers(-2, 102),
    st.integers(),
    st.sampled_from([0, 1, 100, 101, 2**63, HUGE, -HUGE]),
    st.booleans(),
    st.floats(),
    st.none(),
    st.text(ASCII, max_size=3),
    st.decimals(allow_nan=False),
)


@PROPERTY
@given(value=NUMBERS)
@example(value=0)
@example(value=1)
@example(value=100)
@example(value=101)
@example(value=True)
@example(value=1.0)
@example(value=None)
@example(value=HUGE)
@example(value=-HUGE)
@pytest.mark.parametrize("use", NUMBER_USES, ids=lambda use: use.id)
async def test_a_number_is_refused_or_sent_as_documented(
    wired: tuple[Peer, Client], use: Use, value: object
) -> None:
    """Any value given as page_size (the model's MaxResults: an int from 1 to 100),
    max_items, prefetch or concurrency (the README's: an int of at least 1, or 0 for a
    listing's prefetch, None for max_items; never a bool), to every entry point taking
    it, is refused with ParamValidationError naming it and nothing sent, or accepted and
    sent as the request's maxResults."""
    await assert_verdict(*wired, use, value)


# -- values of the wrong type ------------------------------------------------------------

SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.just(HUGE),
    st.floats(),
    st.decimals(allow_nan=False),
    st.fractions(),
    st.complex_numbers(),
    st.builds(object),
)
BYTES = st.binary(max_size=8) | st.builds(bytearray, st.binary(min_size=1, max_size=4))
CONTAINERS = st.one_of(
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sets(st.integers(), max_size=2),
)
NOT_STR = SCALARS | BYTES | CONTAINERS
NOT_INT = st.one_of(
    st.booleans(),
    st.floats(),
    st.decimals(allow_nan=False),
    st.fractions(),
    st.complex_numbers(),
    st.builds(object),
    st.text(ASCII, max_size=3),
    BYTES,
    CONTAINERS,
)
NOT_RATE = st.one_of(
    st.floats().filter(lambda rate: not (math.isfinite(rate) and rate > 0)),
    st.integers(max_value=0),
    st.sampled_from([2**1024, HUGE, -HUGE]),  # too large for a float
    st.booleans(),
    st.decimals(allow_nan=False),
    st.fractions(),
    st.complex_numbers(),
    st.builds(object),
    st.text(ASCII, max_size=3),
    BYTES,
    CONTAINERS,
)
HASHABLE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(HUGE),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False),
    st.binary(max_size=8),
    st.builds(object),
    st.tuples(st.integers()),
)
NOT_MAPPING = st.one_of(
    SCALARS,
    BYTES,
    st.text(max_size=8),
    st.lists(st.tuples(st.just(VERSION_ARN), st.just("t")), max_size=2),  # pairs, not a map
    st.sets(st.integers(), max_size=2),
)


def bad_text(valid: Callable[[str], bool], max_size: int = 12) -> st.SearchStrategy[str]:
    """Strings that ``valid`` refuses."""
    return st.text(max_size=max_size).filter(lambda text: not valid(text))


def _is_kind(text: str) -> bool:
    return text in KIND_NAMES


def _is_region(text: str) -> bool:
    return _OUR_REGION.fullmatch(text) is not None


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _one_of(*choices: str) -> Callable[[str], bool]:
    return lambda text: text in choices


def _bad_items(items: tuple[int, object], good: object) -> list[object]:
    count, bad = items
    return [good] * count + [bad]


def not_iterable_of(good: object, bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Not an iterable of good items: a bare string or bytes, something not iterable, or
    an iterable (list, tuple, iterator) with a bad item after some good ones."""
    lists = st.tuples(st.integers(0, 2), bad).map(functools.partial(_bad_items, good=good))
    return st.one_of(st.text(max_size=8), BYTES, SCALARS, lists, lists.map(tuple), lists.map(iter))


BAD_ARN = NOT_STR | st.none() | bad_text(arn_ok, 20)
BAD_TOKEN = NOT_STR | bad_text(str.isascii) | st.just("t" * 1501)
BAD_ON_ERROR = NOT_STR | st.none() | bad_text(_one_of("raise", "skip"))
BAD_STARTING_TOKENS = st.one_of(
    NOT_MAPPING,
    st.dictionaries(HASHABLE | st.text(max_size=12), st.just("t"), min_size=1, max_size=2),
    (BAD_TOKEN | st.none()).map(lambda token: {VERSION_ARN: token}),
)
BAD_RESUME_KEY = st.one_of(
    HASHABLE,
    st.text(max_size=8),
    st.lists(st.just(REGION), max_size=4).filter(lambda key: len(key) != 3).map(tuple),
    st.tuples(HASHABLE | bad_text(_is_region), st.just("inference"), st.just(VERSION_ARN)),
    st.tuples(st.just(REGION), HASHABLE | bad_text(_is_kind), st.just(VERSION_ARN)),
    st.tuples(st.just(REGION), st.just("inference"), HASHABLE | bad_text(arn_ok, 20)),
)
BAD_RESUME = st.one_of(
    NOT_MAPPING,
    st.dictionaries(BAD_RESUME_KEY, st.just("t"), min_size=1, max_size=2),
    BAD_TOKEN.map(lambda token: {(REGION, "inference", VERSION_ARN): token}),
)


def _wrong_values() -> list[tuple[str, str, st.SearchStrategy[Any]]]:
    """(entry point, parameter, values it refuses) for every parameter of every entry."""
    rows: list[tuple[str, str, st.SearchStrategy[Any]]] = []
    for kind in KIND_NAMES:
        listing, many = f"list_batch_{kind}_jobs", f"list_batch_{kind}_jobs_many"
        rows += [
            (listing, "solution_version_arn", NOT_STR),
            (listing, "page_size", NOT_INT | st.none()),
            (listing, "max_items", NOT_INT),
            (listing, "starting_token", NOT_STR),
            (listing, "prefetch", NOT_INT | st.none()),
            (many, "solution_version_arns", not_iterable_of(VERSION_ARN, BAD_ARN) | st.none()),
            (many, "concurrency", NOT_INT | st.none()),
            (many, "page_size", NOT_INT | st.none()),
            (many, "prefetch", NOT_INT | st.none()),
            (many, "on_error", BAD_ON_ERROR),
            (many, "starting_tokens", BAD_STARTING_TOKENS),
            (f"describe_batch_{kind}_job", f"batch_{kind}_job_arn", NOT_STR | st.none()),
        ]
    crawl = "crawl_batch_jobs"
    bad_kind = NOT_STR | st.none() | bad_text(_is_kind)
    bad_region = NOT_STR | st.none() | bad_text(_is_region)
    rows += [
        (crawl, "kinds", not_iterable_of("inference", bad_kind) | st.none()),
        (crawl, "regions", not_iterable_of(REGION, bad_region)),
        (crawl, "solution_version_arns", not_iterable_of(VERSION_ARN, BAD_ARN)),
        (crawl, "concurrency", NOT_INT | st.none()),
        (crawl, "page_size", NOT_INT | st.none()),
        (crawl, "prefetch", NOT_INT | st.none()),
        (crawl, "on_error", BAD_ON_ERROR),
        (crawl, "resume", BAD_RESUME),
    ]
    rows += [
        ("Client", "region_name", NOT_STR | bad_text(_is_region)),
        ("Client", "endpoint_url", NOT_STR | bad_text(_is_url)),
        *(
            ("Client", name, NOT_STR)
            for name in (
                "aws_access_key_id",
                "aws_secret_access_key",
                "aws_session_token",
                "profile_name",
            )
        ),
        ("Client", "retry_mode", NOT_STR | bad_text(_one_of("standard", "adaptive", "legacy"))),
        ("Client", "max_attempts", NOT_INT | st.integers(max_value=0)),
        ("Client", "max_concurrency", NOT_INT | st.none() | st.integers(max_value=0)),
        ("Client", "max_requests_per_second", NOT_RATE),
    ]
    return rows


WRONG_VALUES = _wrong_values()
WRONG = st.sampled_from(WRONG_VALUES).flatmap(
    lambda row: row[2].map(lambda value: (row[0], row[1], value))
)


def _every_row(test: Callable[..., Any]) -> Callable[..., Any]:
    """Examples that every row runs, whatever is generated: an object, bytes and a bool
    are of no type any parameter takes."""
    for entry, parameter, _ in WRONG_VALUES:
        for value in (object(), b"arn", True):
            test = example(case=(entry, parameter, value))(test)
    return test


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=WRONG)
@_every_row
async def test_a_value_of_the_wrong_kind_is_refused_at_the_call_and_nothing_is_sent(
    wired: tuple[Peer, Client], case: tuple[str, str, object]
) -> None:
    """Any value a parameter does not take (None where one is required, bytes, a bool for
    an int, a float, a list, a dict, another object, a bare string for a list, a bad item,
    key or value), for every parameter of every entry point and of Client(...), raises
    ParamValidationError naming it when the call is made (a listing before it is
    iterated, a describe when awaited, a client when built), and nothing is sent."""
    peer, client = wired
    entry, parameter, value = case
    call: Callable[[], Any]
    if entry == "Client":
        options: dict[str, Any] = {
            "endpoint_url": peer.endpoint_url,
            "region_name": REGION,
            parameter: value,
        }
        call = functools.partial(Client, **options)
    else:
        base = _many() if entry.endswith("_many") else {}
        call = functools.partial(_start, client, entry, {**base, parameter: value})
    await assert_refused_and_nothing_sent(peer, call, parameter)


@pytest.mark.parametrize(
    "argument",
    [{"config": {"retries": {"max_attempts": 2}}}, {"session": object()}],
    ids=["config-dict", "session-object"],
)
async def test_a_config_or_session_of_the_wrong_type_is_refused_when_built(
    argument: dict[str, Any],
) -> None:
    """A config that is not a botocore Config, or a session that is not an aiobotocore
    session, raises ParamValidationError naming it when the client is built, and nothing
    is sent."""
    async with scripted_peer([]) as peer:
        client: Client | None = None
        try:
            with pytest.raises(ParamValidationError) as info:
                client = Client(endpoint_url=peer.endpoint_url, region_name=REGION, **argument)
                await client.list_batch_inference_jobs(VERSION_ARN, prefetch=0).collect()
        finally:
            if client is not None:
                await client.aclose()
        assert client is None  # refused by the constructor, not at first use
        assert info.value.parameter == next(iter(argument))
        assert peer.received.value == 0


# -- valid values at the edges -----------------------------------------------------------

EDGES: list[tuple[Use, object]] = [
    *((use, ARN_256) for use in ARN_USES),
    *((use, TOKEN_1500) for use in TOKEN_USES),
    *((use, size) for use in NUMBER_USES if use.parameter == "page_size" for size in (1, 100)),
]


async def test_values_at_the_edges_are_accepted_and_sent_as_given(
    wired: tuple[Peer, Client],
) -> None:
    """The extreme valid values (a 256-character ARN, a 1500-character token of every ASCII
    character, page_size 1 and 100) are accepted by every entry point taking them and sent
    exactly as given."""
    for use, value in EDGES:
        assert use.accepts(value), use.id
        await assert_verdict(*wired, use, value)
