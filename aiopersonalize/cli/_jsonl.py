"""The JSON Lines encoding of the crawl's output: one job per line.

Each line is one JSON object: the job's ``kind``, ``account`` (12 digits) and
``region``, then its AWS members (:meth:`to_dict`), timestamps in ISO 8601
(``datetime.isoformat()``), ASCII only. The lines go to a :class:`Sink`.

msgspec encodes the records (a page in a few microseconds per job, where ``json.dumps``
of each ``to_dict()`` was the slow part of a crawl): the same keys in the same order and
the same values as ``json.dumps`` gives, byte for byte. msgspec writes a UTC timestamp
with a ``Z``, ``isoformat()`` with ``+00:00``: the two timestamp members' values are
rewritten (found after their keys, which no string value can contain: a quote inside a
value is escaped). A page with a character beyond ASCII, or DEL, goes through
``json.dumps``, which escapes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import msgspec

from aiopersonalize import BatchInferenceJobSummary, BatchSegmentJobSummary, ChainKey, Page

__all__ = ["Job", "Sink", "chain_arns", "job_arn", "page_lines"]

Job = BatchInferenceJobSummary | BatchSegmentJobSummary
"""A job as the crawl lists it, of either kind."""


class Sink(Protocol):
    """Where the JSON Lines go: a binary file, stdout's buffer, or the demo's sample."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_line(record: Mapping[str, Any]) -> bytes:
    # ASCII only: every other character is escaped, so a line break inside a string
    # (U+2028, U+0085, ...) cannot split a line for any reader; no NaN: not JSON.
    line = json.dumps(
        record, default=_json_default, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return line.encode() + b"\n"


_encode = msgspec.json.Encoder().encode
# A UTC timestamp as msgspec writes it: the value of a member whose key ends in
# "DateTime" (``creationDateTime``, ``lastUpdatedDateTime``), with or without its
# microseconds. The pattern starts at the "Z" and looks back from there: a page is
# searched at the speed of a literal.
_STAMP = rb'DateTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d'
_UTC_Z = re.compile(rb'Z"(?:(?<=' + _STAMP + rb'Z")|(?<=' + _STAMP + rb'\.\d{6}Z"))')


def page_lines(page: Page[Job]) -> bytes:
    """The page's jobs as JSON Lines: kind, account, region, then the AWS members.

    The account is the page's (a crawl of several accounts), or else the one its jobs'
    ARNs name (``arn:aws:personalize:<region>:<account>:...``)."""
    if not page.items:
        return b""
    account = page.account or job_arn(page.items[0]).split(":", 5)[4]
    head = {"kind": page.kind, "account": account, "region": page.region}
    # The head's members, then each record's: '{"kind":...,"region":...,' + '"...":...}'.
    prefix = b"\n" + _json_line(head)[:-2] + b","
    data = prefix.join([_encode(job)[1:] for job in page.items])
    data = _UTC_Z.sub(b'+00:00"', prefix[1:] + data + b"\n")
    if data.isascii() and b"\x7f" not in data:  # json.dumps escapes DEL too
        return data
    return b"".join(_json_line({**head, **job.to_dict()}) for job in page.items)


def job_arn(job: Job) -> str:
    """The job's ARN, whichever its kind."""
    if isinstance(job, BatchInferenceJobSummary):
        return job.batch_inference_job_arn
    return job.batch_segment_job_arn


_ARN_MEMBERS = {"inference": "batchInferenceJobArn", "segment": "batchSegmentJobArn"}


def chain_arns(lines: Iterable[bytes], key: ChainKey) -> set[str]:
    """The ARNs of the jobs of chain ``key`` among JSON ``lines`` of this format: its
    kind in its region (of its account, when the key names one), of its solution
    version (any, for an account-wide chain)."""
    region, kind, version, *rest = key  # a plain 3-tuple: the client's own account
    account = rest[0] if rest else None
    # Every line begins with its kind (page_lines): the other kind's lines are told
    # apart without decoding them.
    head = _json_line({"kind": kind})[:-2] + b","
    member = _ARN_MEMBERS[kind]
    found: set[str] = set()
    for line in lines:
        if line.startswith(head):
            job = json.loads(line)
            if job.get("region") != region:
                continue
            if account is not None and job.get("account") != account:
                continue
            if version is None or job.get("solutionVersionArn") == version:
                found.add(job[member])
    return found
