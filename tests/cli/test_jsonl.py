"""The JSON Lines of ``aiopersonalize crawl``, whatever the jobs' fields hold.

Job records with arbitrary strings (quotes, backslashes, NUL and other control
characters, U+2028, U+2029, U+0085 and the other characters ``str.splitlines()`` breaks
at, characters beyond the BMP, very long strings) are served by a scripted peer
(tests/peers.py) and crawled by the function the command runs (``cli._engine.crawl``, the
page writer) and by the command itself, ``aiopersonalize crawl -o FILE`` run
in-process. Every output line must be one JSON object, lines must split at ``\\n`` only,
whichever way a reader splits them, and each line must decode to exactly the job's
``record.to_dict()`` after its ``kind`` and ``region``, timestamps in ISO 8601 UTC.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiopersonalize import BatchInferenceJobSummary, BatchSegmentJobSummary, Client, Page
from aiopersonalize.cli import main
from aiopersonalize.cli._engine import Plan, crawl
from aiopersonalize.cli._jsonl import page_lines

from ..peers import VERSION_ARN, Reply, scripted_peer

REGION = "us-east-1"
LISTS = {"inference": "batchInferenceJobs", "segment": "batchSegmentJobs"}
RECORDS: Mapping[str, type[Any]] = {
    "inference": BatchInferenceJobSummary,
    "segment": BatchSegmentJobSummary,
}
ARN_PREFIX = {
    "inference": "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/",
    "segment": "arn:aws:personalize:us-east-1:123456789012:batch-segment-job/",
}
VERSION_PREFIX = "arn:aws:personalize:us-east-1:123456789012:solution/s/"
ARN_MAX_LENGTH = 256  # the model's Arn shape

# What breaks lines or JSON strings somewhere: JSON's own specials, every character
# str.splitlines() splits at, NUL and other controls, a BOM, non-characters, and
# characters beyond the Basic Multilingual Plane.
NASTY = '"\\/\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1c\x1d\x1e\x1f\x7f\x85\xa0\u2028\u2029\ufeff\uffff\U0001f600\U0010ffff'

# Any character a JSON text can hold: lone surrogates are not UTF-8 (and the client
# refuses them as an invalid response).
CHARACTERS = st.characters(codec="utf-8")
texts = st.text(st.sampled_from(NASTY) | CHARACTERS, max_size=40)
long_texts = st.tuples(texts.filter(bool), st.integers(1_000, 30_000)).map(
    lambda parts: (parts[0] * parts[1])[: parts[1]]
)


def arns(prefix: str) -> st.SearchStrategy[str]:
    """An ARN of the model's length whose free tail holds anything."""
    return st.text(
        st.sampled_from(NASTY) | CHARACTERS, min_size=1, max_size=ARN_MAX_LENGTH - len(prefix)
    ).map(lambda tail: prefix + tail)


def timestamps() -> st.SearchStrategy[float]:
    """Epoch seconds as the protocol sends them: whole, or with milliseconds."""
    return st.integers(0, 4_000_000_000) | st.integers(0, 4_000_000_000_000).map(
        lambda ms: ms / 1000
    )


def jobs(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A job as the service sends it, every member but the ARN optional."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "jobName": texts | long_texts,
        "status": st.sampled_from(["ACTIVE", "CREATE FAILED"]) | texts,
        "failureReason": texts | long_texts,
        "creationDateTime": timestamps(),
        "lastUpdatedDateTime": timestamps(),
        "solutionVersionArn": arns(VERSION_PREFIX),
    }
    if kind == "inference":
        optional["batchInferenceJobMode"] = st.sampled_from(["BATCH_INFERENCE"]) | texts
    arn_member = "batchInferenceJobArn" if kind == "inference" else "batchSegmentJobArn"
    return st.fixed_dictionaries({arn_member: arns(ARN_PREFIX[kind])}, optional=optional)


Case = list[tuple[dict[str, list[dict[str, Any]]], bool]]

# Pages of one solution version's listings: each body holds a page of both kinds (a
# listing reads the member of its own kind and ignores the other), sent as ASCII JSON
# or as raw UTF-8.
pages = st.lists(
    st.tuples(
        st.fixed_dictionaries(
            {"inference": st.lists(jobs("inference"), max_size=4)},
            optional={"segment": st.lists(jobs("segment"), max_size=4)},
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=3,
)


class Served:
    """The peer's pages for one example, by the nextToken that asks for each."""

    def __init__(self) -> None:
        self.bodies: dict[str | None, bytes] = {}
        self.endpoint_url = ""

    def __repr__(self) -> str:
        return f"Served({self.endpoint_url})"

    def serve(self, page_list: Sequence[tuple[Mapping[str, list[dict[str, Any]]], bool]]) -> None:
        self.bodies = {}
        for number, (by_kind, ascii_only) in enumerate(page_list):
            body: dict[str, Any] = {LISTS[kind]: items for kind, items in by_kind.items()}
            if number + 1 < len(page_list):
                body["nextToken"] = f"page-{number + 1}"
            token = f"page-{number}" if number else None
            self.bodies[token] = json.dumps(body, ensure_ascii=ascii_only).encode()

    def reply(self, request: dict[str, Any]) -> Reply:
        return Reply(raw=self.bodies[request.get("nextToken")])


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    served = Served()
    async with scripted_peer([], responder=served.reply) as peer:
        served.endpoint_url = peer.endpoint_url
        yield served


def reject_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def parsed_lines(data: bytes) -> list[dict[str, Any]]:
    """The output's lines, checked: split only at ``\\n`` by any reader, and each one
    strict JSON (no NaN or Infinity) holding an object."""
    lines = data.split(b"\n")
    assert lines.pop() == b""  # every line ends with \n, the last one too
    assert data.splitlines() == lines
    assert data.decode().splitlines() == [line.decode() for line in lines]
    objects = [json.loads(line, parse_constant=reject_constant) for line in lines]
    assert all(isinstance(obj, dict) for obj in objects)
    return objects


def expected_line(kind: str, job: Mapping[str, Any]) -> dict[str, Any]:
    """What a job's line must decode to: kind, account (the one its ARN names), region,
    then ``record.to_dict()`` with timestamps in ISO 8601 (``+00:00``)."""
    record = RECORDS[kind].from_wire(job).to_dict()
    stamps = {k: v.isoformat() for k, v in record.items() if isinstance(v, datetime)}
    assert all(stamp.endswith("+00:00") for stamp in stamps.values())
    account = str(next(iter(record.values()))).split(":")[4]
    return {"kind": kind, "account": account, "region": REGION, **record, **stamps}


async def crawl_into(output: Path, served: Served, *options: str) -> int:
    """``aiopersonalize crawl`` of the peer's solution version, in-process (on a thread
    of its own: it runs its own event loop, and the peer serves from this one)."""
    argv = [
        "crawl", "--endpoint-url", served.endpoint_url,
        "--solution-version-arn", VERSION_ARN, "--progress", "never", "-o", str(output),
        *options,
    ]  # fmt: skip
    status: int = await anyio.to_thread.run_sync(main, argv)
    return status


def assert_lines_are_the_jobs(data: bytes, case: Case) -> None:
    """The output holds one line per job served, each kind's lines in the order served."""
    objects = parsed_lines(data)
    for kind in LISTS:
        written = [obj for obj in objects if obj["kind"] == kind]
        assert written == [
            expected_line(kind, job) for by_kind, _ in case for job in by_kind.get(kind, [])
        ]
    assert all(list(obj)[:3] == ["kind", "account", "region"] for obj in objects)


@pytest.fixture
async def client(served: Served) -> AsyncIterator[Client]:
    async with Client(endpoint_url=served.endpoint_url) as opened:
        yield opened


# The command's page writer on one client for all examples (a command run costs a
# client's creation, a third of a second); the command itself is run below.
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=pages)
async def test_any_job_content_gives_one_json_object_per_line(
    served: Served, client: Client, case: Case
) -> None:
    """Whatever the jobs' strings hold, each line the crawl writes is one JSON object,
    lines split at ``\\n`` only (bytes or text, ``str.splitlines()`` included), and the
    lines of each kind decode, in order, to exactly the jobs' ``to_dict()`` after kind
    and region."""
    served.serve(case)
    sink = io.BytesIO()
    outcome = await crawl(client, Plan(versions=(VERSION_ARN,)), sink)
    assert outcome.error is None
    assert not outcome.failures
    assert_lines_are_the_jobs(sink.getvalue(), case)


async def test_the_command_writes_nasty_jobs_one_per_line(served: Served, tmp_path: Path) -> None:
    """``aiopersonalize crawl -o FILE`` writes pages of jobs whose every string holds every
    troublesome character (and one very long string) as one JSON object per line, each
    decoding to its job."""
    nasty = NASTY * 3
    job = {"jobName": nasty, "status": nasty, "failureReason": nasty * 2000}
    case: Case = [
        (
            {
                "inference": [
                    {**job, "batchInferenceJobArn": ARN_PREFIX["inference"] + f"{n}{nasty}"}
                    for n in range(3)
                ],
                "segment": [{**job, "batchSegmentJobArn": ARN_PREFIX["segment"] + nasty}],
            },
            ascii_only,
        )
        for ascii_only in (True, False)
    ]
    served.serve(case)
    output = tmp_path / "jobs.jsonl"
    assert await crawl_into(output, served) == 0
    assert_lines_are_the_jobs(output.read_bytes(), case)


async def test_a_job_line_is_written_exactly_so(served: Served, tmp_path: Path) -> None:
    """A job's line is compact JSON, ASCII only (every other character escaped, line
    separators and NUL included), members in the order kind, region, then the record's,
    timestamps as ``datetime.isoformat()`` in UTC: the format existing outputs have."""
    job = {
        "batchInferenceJobArn": ARN_PREFIX["inference"] + "a\u2028b",
        "jobName": 'say "hi"\\\x00\u0085\u2029\U0001f600',
        "status": "ACTIVE",
        "creationDateTime": 1717152525.635,
        "lastUpdatedDateTime": 1717152600,
        "failureReason": "x" * 100_000,
        "solutionVersionArn": VERSION_ARN,
        "batchInferenceJobMode": "BATCH_INFERENCE",
    }
    served.serve([({"inference": [job]}, False)])
    output = tmp_path / "jobs.jsonl"
    assert await crawl_into(output, served, "--kind", "inference") == 0
    assert output.read_bytes() == (
        b'{"kind":"inference","account":"123456789012","region":"us-east-1",'
        b'"batchInferenceJobArn":"arn:aws:personalize:us-east-1:123456789012:'
        b'batch-inference-job/a\\u2028b",'
        b'"jobName":"say \\"hi\\"\\\\\\u0000\\u0085\\u2029\\ud83d\\ude00",'
        b'"status":"ACTIVE",'
        b'"creationDateTime":"2024-05-31T10:48:45.635000+00:00",'
        b'"lastUpdatedDateTime":"2024-05-31T10:50:00+00:00",'
        b'"failureReason":"' + b"x" * 100_000 + b'",'
        b'"solutionVersionArn":"' + VERSION_ARN.encode() + b'",'
        b'"batchInferenceJobMode":"BATCH_INFERENCE"}\n'
    )


def _account(record: Any) -> str:
    """The account the record's ARN names (its fifth field), as a page of one account has."""
    arn = record.to_dict().get("batchInferenceJobArn") or record.to_dict()["batchSegmentJobArn"]
    return str(arn.split(":", 5)[4])


def _reference_lines(kind: str, records: Sequence[Any]) -> bytes:
    """The lines as ``json.dumps`` wrote them before msgspec did: the format to keep."""

    def default(value: object) -> str:
        assert isinstance(value, datetime)
        return value.isoformat()

    return b"".join(
        json.dumps(
            {"kind": kind, "account": _account(record), "region": REGION, **record.to_dict()},
            default=default,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        ).encode()
        + b"\n"
        for record in records
    )


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["inference", "segment"]),
    items=st.data(),
)
def test_page_lines_are_byte_for_byte_json_dumps(kind: str, items: st.DataObject) -> None:
    """The msgspec-encoded page is byte for byte what json.dumps of each record gave (ASCII
    escapes, member order, isoformat timestamps), whatever the records hold."""
    wire = items.draw(st.lists(jobs(kind), max_size=5))
    records = tuple(RECORDS[kind].from_wire(job) for job in wire)
    page = Page(records, None, region=REGION, kind=kind)  # type: ignore[arg-type]
    assert page_lines(page) == _reference_lines(kind, records)
