"""Response bodies decoded straight into our records: one response type per operation.

botocore's generic parser walks a response's output shape member by member and
parses every timestamp through dateutil into local time, and then our records would
be built from the dicts it made: about three quarters of the CPU a page of 100 jobs
costs. Instead, each operation we call has a response type here, a ``msgspec.Struct``
holding our records, and a 2xx body is decoded into it in one pass of msgspec's JSON
decoder (``Shape.from_json``, from ``_transport``'s ``before-parse`` hook): members
renamed, types checked, epoch seconds made UTC datetimes, unknown members skipped.

The generic path is botocore's parser followed by the records' ``from_wire``, which
converts its dicts (timestamps as local-time datetimes) into the same records; the
tests hold the two paths to identical records. This module is not used for error
responses, which botocore parses.

``from_json`` raises ``ValueError`` (``msgspec.DecodeError`` and ``ValidationError``
are ones) for a body that is not JSON, or is JSON of the wrong shape, with the path of
the offending member in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Generic, Protocol, TypeVar

import msgspec
from msgspec import Struct, field

from ._models import (
    BatchInferenceJob,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
)
from ._vocabulary import NEXT_TOKEN_MAX_LENGTH

__all__ = ["SHAPES", "Described", "Listed", "Shape"]

# A nextToken is sent back as the next request's: one the model would refuse (over 1500
# characters, not ASCII) could neither be followed nor resumed from, so it is a
# malformed response rather than a token.
Token = Annotated[str, msgspec.Meta(max_length=NEXT_TOKEN_MAX_LENGTH, pattern="^[\\x00-\\x7f]*$")]

T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R")


class Listed(Protocol[T_co]):
    """What every list call's response gives: a page of items and the next token."""

    @property
    def items(self) -> tuple[T_co, ...] | None: ...

    @property
    def next_token(self) -> str | None: ...


class Described(Protocol[T_co]):
    """What a describe call's response gives: the one record."""

    @property
    def job(self) -> T_co: ...


class _Wire(Struct, frozen=True, gc=False):
    """A response type: frozen, and never part of a cycle (``gc=False``)."""


class ListBatchInferenceJobsResponse(_Wire, frozen=True, gc=False):
    items: tuple[BatchInferenceJobSummary, ...] | None = field(
        default=None, name="batchInferenceJobs"
    )
    next_token: Token | None = field(default=None, name="nextToken")


class ListBatchSegmentJobsResponse(_Wire, frozen=True, gc=False):
    items: tuple[BatchSegmentJobSummary, ...] | None = field(default=None, name="batchSegmentJobs")
    next_token: Token | None = field(default=None, name="nextToken")


class DescribeBatchInferenceJobResponse(_Wire, frozen=True, gc=False):
    job: BatchInferenceJob = field(name="batchInferenceJob")


class DescribeBatchSegmentJobResponse(_Wire, frozen=True, gc=False):
    job: BatchSegmentJob = field(name="batchSegmentJob")


# The account's tree above the jobs: discovery reads only each resource's ARN, which
# the model marks optional but without which there is nothing to list beneath.


class DatasetGroupSummary(_Wire, frozen=True, gc=False):
    arn: str = field(name="datasetGroupArn")


class SolutionSummary(_Wire, frozen=True, gc=False):
    arn: str = field(name="solutionArn")


class SolutionVersionSummary(_Wire, frozen=True, gc=False):
    arn: str = field(name="solutionVersionArn")


class ListDatasetGroupsResponse(_Wire, frozen=True, gc=False):
    items: tuple[DatasetGroupSummary, ...] | None = field(default=None, name="datasetGroups")
    next_token: Token | None = field(default=None, name="nextToken")


class ListSolutionsResponse(_Wire, frozen=True, gc=False):
    items: tuple[SolutionSummary, ...] | None = field(default=None, name="solutions")
    next_token: Token | None = field(default=None, name="nextToken")


class ListSolutionVersionsResponse(_Wire, frozen=True, gc=False):
    items: tuple[SolutionVersionSummary, ...] | None = field(default=None, name="solutionVersions")
    next_token: Token | None = field(default=None, name="nextToken")


class Shape(Generic[R]):
    """How one operation's response body decodes."""

    __slots__ = ("_json", "operation", "type")

    def __init__(self, operation: str, type_: type[R]) -> None:
        self.operation = operation
        self.type = type_
        # strict=False: timestamps from epoch seconds, as the AWS JSON protocol sends them.
        self._json = msgspec.json.Decoder(type_, strict=False)

    def from_json(self, body: bytes) -> R:
        """The fast path: a response body, decoded in one pass."""
        return self._json.decode(body)


SHAPES: Mapping[str, Shape[Any]] = {
    shape.operation: shape
    for shape in (
        Shape("ListBatchInferenceJobs", ListBatchInferenceJobsResponse),
        Shape("ListBatchSegmentJobs", ListBatchSegmentJobsResponse),
        Shape("DescribeBatchInferenceJob", DescribeBatchInferenceJobResponse),
        Shape("DescribeBatchSegmentJob", DescribeBatchSegmentJobResponse),
        Shape("ListDatasetGroups", ListDatasetGroupsResponse),
        Shape("ListSolutions", ListSolutionsResponse),
        Shape("ListSolutionVersions", ListSolutionVersionsResponse),
    )
}
"""Every operation this library calls, by name."""
