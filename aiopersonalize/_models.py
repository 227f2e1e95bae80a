"""Typed records for batch jobs: the schema our responses decode into.

Every record is a frozen ``msgspec.Struct`` whose fields are the AWS member names in
snake_case, constructed by keyword. Members follow botocore's service model
(``personalize/2018-05-22``): the model marks every member of these shapes optional,
so every field but the job's ARN, which is its identity, may be ``None``; members the
model marks required inside nested shapes are required here too.

The records are also the decoding schema: a response body is decoded straight into
them in one pass (``_wire.py``), and :meth:`from_wire` converts the dicts botocore's
own parser gives (or any AWS-shaped mapping) into the same records. Whichever way a
record was made, ``__post_init__`` leaves it in one normal form:

- timestamps are aware datetimes in UTC (the wire has epoch seconds; botocore's
  parser gives local time; ISO 8601 strings are accepted as botocore accepts them);
- a ``status`` or ``batchInferenceJobMode`` the enums know becomes the enum member,
  and a value the service adds later stays a plain ``str``; unknown members are
  ignored. A new service release never breaks a listing.

``to_dict()`` gives the AWS-shaped dict back, with timestamps as UTC datetimes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
from msgspec.structs import force_setattr

from ._vocabulary import JobKindName

__all__ = [
    "BatchInferenceJob",
    "BatchInferenceJobConfig",
    "BatchInferenceJobMode",
    "BatchInferenceJobSummary",
    "BatchSegmentJob",
    "BatchSegmentJobSummary",
    "FieldsForThemeGeneration",
    "JobInput",
    "JobOutput",
    "JobStatus",
    "Page",
    "S3DataConfig",
    "ThemeGenerationConfig",
]

T = TypeVar("T")
R = TypeVar("R", bound="_Record")

_UTC = timezone.utc


class _StrEnum(str, enum.Enum):
    """A ``str`` enum that prints as its value (``enum.StrEnum`` is 3.11+)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


class JobStatus(_StrEnum):
    """The documented batch-job statuses.

    The service model types ``status`` as a free string (max 256), while the API
    reference lists these values; the model wins, so records keep any other value
    as a plain ``str``. Members compare equal to their strings.
    """

    PENDING = "PENDING"
    IN_PROGRESS = "IN PROGRESS"
    ACTIVE = "ACTIVE"
    CREATE_FAILED = "CREATE FAILED"


class BatchInferenceJobMode(_StrEnum):
    """``BatchInferenceJobMode``, an enum in the service model."""

    BATCH_INFERENCE = "BATCH_INFERENCE"
    THEME_GENERATION = "THEME_GENERATION"


if TYPE_CHECKING:
    from typing import TypeAlias

    # What the fields hold, for type checkers and readers: the enum's member, or a
    # value the service added later as a plain str. (mypy simplifies the union to
    # str, JobStatus being one; pyright shows it as written.)
    _Status: TypeAlias = JobStatus | str
    _Mode: TypeAlias = BatchInferenceJobMode | str
else:
    # msgspec decodes into the annotation and takes one str-like type per union: a
    # str, which __post_init__ makes the member.
    _Status = _Mode = str

_STATUSES: Mapping[str, JobStatus] = {s.value: s for s in JobStatus}
_MODES: Mapping[str, BatchInferenceJobMode] = {m.value: m for m in BatchInferenceJobMode}

_FRACTION = re.compile(r"\.(\d+)")


def _iso(text: str) -> str:
    """ISO 8601 as ``datetime.fromisoformat`` takes it on Python 3.10 too: a numeric UTC
    offset for ``Z``, and 6 digits of fractional seconds."""
    text = text.replace("Z", "+00:00")
    return _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)


def _utc(value: datetime | float | int | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime, epoch seconds, or a timestamp
    string (epoch seconds or ISO 8601, the forms botocore's parser accepts)."""
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), _UTC)
        except ValueError:
            value = datetime.fromisoformat(_iso(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:  # botocore never gives one; the wire means UTC
            return value.replace(tzinfo=_UTC)
        return value.astimezone(_UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, _UTC)
    raise TypeError(f"a timestamp cannot be {type(value).__name__}")


def _normalise_job(record: Any) -> None:
    """The normal form every job record shares: enum members and UTC timestamps.

    Decoded records already have UTC timestamps (msgspec makes epoch seconds UTC), so
    the common case costs a type and an identity check per timestamp. Spelled out,
    without helper calls: listings run this for every record.
    """
    status = record.status
    if status is not None:
        force_setattr(record, "status", _STATUSES.get(status, status))
    created = record.creation_date_time
    if created is not None and (type(created) is not datetime or created.tzinfo is not _UTC):
        force_setattr(record, "creation_date_time", _utc(created))
    updated = record.last_updated_date_time
    if updated is not None and (type(updated) is not datetime or updated.tzinfo is not _UTC):
        force_setattr(record, "last_updated_date_time", _utc(updated))


def _to_builtin(value: object) -> object:
    """What ``to_dict()`` makes of the types msgspec does not know: read-only maps."""
    if isinstance(value, MappingProxyType):
        return dict(value)
    raise TypeError(f"cannot convert {type(value).__name__}")


class _Record(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """What every record shares: frozen, keyword-constructed, AWS member names on the
    wire (``rename="camel"``), and ``to_dict()`` / ``from_wire()``."""

    def to_dict(self) -> dict[str, Any]:
        """The AWS-shaped dict: camelCase members, members that are ``None`` left out,
        enum members as their plain strings, timestamps as UTC datetimes."""
        built: dict[str, Any] = msgspec.to_builtins(
            self, builtin_types=(datetime,), enc_hook=_to_builtin
        )
        return built

    @classmethod
    def from_wire(cls: type[R], value: Mapping[str, Any]) -> R:
        """The record from an AWS-shaped mapping: the dict botocore's parser gives
        (timestamps as datetimes), or JSON decoded as is (epoch seconds).

        This is the generic path; listings decode response bodies straight into
        records instead (``_wire.py``), and the two give identical records.
        Raises ``msgspec.ValidationError`` (a ``ValueError``) for a member of the
        wrong type, or a missing required one.
        """
        # strict=False: timestamps from epoch seconds (number or string), as on the wire.
        return msgspec.convert(value, cls, strict=False)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing.

    ``next_token`` is ``None`` on the last page of its chain; otherwise pass it as
    ``starting_token=`` to resume the listing after this page. ``solution_version_arn``
    is the version whose jobs these are (``None`` for an account-wide listing);
    merged listings and crawls also set the ``region`` and job ``kind``, which with
    the version name the chain a page belongs to; a crawl of several accounts sets
    ``account`` too (12 digits; ``None`` otherwise: the client's own account).

    ``restarted`` is ``True`` on every page of a merged chain that was resumed from a
    token the service refused as invalid or expired (AWS does not document how long a
    ``nextToken`` lives) and was listed again from its start: jobs delivered before
    the interruption come again, and a consumer that keeps what it had (a checkpointed
    crawl) should skip those it already has.
    """

    items: tuple[T, ...]
    next_token: str | None
    solution_version_arn: str | None = None
    region: str | None = None
    kind: JobKindName | None = None
    restarted: bool = False
    account: str | None = None


class S3DataConfig(_Record, frozen=True, gc=False):
    """``S3DataConfig``: an S3 location and the KMS key used for it."""

    path: str
    kms_key_arn: str | None = None


class JobInput(_Record, frozen=True, gc=False):
    """``BatchInferenceJobInput`` / ``BatchSegmentJobInput``."""

    s3_data_source: S3DataConfig


class JobOutput(_Record, frozen=True, gc=False):
    """``BatchInferenceJobOutput`` / ``BatchSegmentJobOutput``."""

    s3_data_destination: S3DataConfig


def _frozen_items(value: Mapping[str, Any] | None) -> frozenset[tuple[str, Any]] | None:
    return None if value is None else frozenset(value.items())


class BatchInferenceJobConfig(_Record, frozen=True, gc=False):
    """``BatchInferenceJobConfig``: exploration hyperparameters and ranking influence.

    The maps are read-only views (``rankingInfluence`` keys are
    ``RankingInfluenceType`` values, ``POPULARITY`` or ``FRESHNESS``, kept as strings).
    """

    item_exploration_config: Mapping[str, str] | None = None
    ranking_influence: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        for name in ("item_exploration_config", "ranking_influence"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, MappingProxyType):
                force_setattr(self, name, MappingProxyType(dict(value)))

    def __hash__(self) -> int:
        return hash(
            (_frozen_items(self.item_exploration_config), _frozen_items(self.ranking_influence))
        )


class FieldsForThemeGeneration(_Record, frozen=True, gc=False):
    """``FieldsForThemeGeneration``: the item column that names the themes."""

    item_name: str


class ThemeGenerationConfig(_Record, frozen=True, gc=False):
    """``ThemeGenerationConfig``, for a job in ``THEME_GENERATION`` mode."""

    fields_for_theme_generation: FieldsForThemeGeneration


# The summaries are what listings decode by the hundred: gc=False (they hold only
# strings, datetimes and enum members, so they can never be part of a cycle) keeps
# them out of the garbage collector's generations.


class BatchInferenceJobSummary(_Record, frozen=True, gc=False):
    """``BatchInferenceJobSummary``, one item of ``ListBatchInferenceJobs``."""

    batch_inference_job_arn: str
    job_name: str | None = None
    status: _Status | None = None  # a JobStatus member if the enum knows the value
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None
    batch_inference_job_mode: _Mode | None = None  # a BatchInferenceJobMode member, likewise

    def __post_init__(self) -> None:
        _normalise_job(self)
        mode = self.batch_inference_job_mode
        if mode is not None:
            force_setattr(self, "batch_inference_job_mode", _MODES.get(mode, mode))


class BatchSegmentJobSummary(_Record, frozen=True, gc=False):
    """``BatchSegmentJobSummary``, one item of ``ListBatchSegmentJobs``."""

    batch_segment_job_arn: str
    job_name: str | None = None
    status: _Status | None = None  # a JobStatus member if the enum knows the value
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None

    def __post_init__(self) -> None:
        _normalise_job(self)


class BatchInferenceJob(_Record, frozen=True):
    """``BatchInferenceJob``, the full record ``DescribeBatchInferenceJob`` returns."""

    batch_inference_job_arn: str
    job_name: str | None = None
    status: _Status | None = None  # a JobStatus member if the enum knows the value
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None
    batch_inference_job_mode: _Mode | None = None  # a BatchInferenceJobMode member, likewise
    filter_arn: str | None = None
    num_results: int | None = None
    job_input: JobInput | None = None
    job_output: JobOutput | None = None
    batch_inference_job_config: BatchInferenceJobConfig | None = None
    role_arn: str | None = None
    theme_generation_config: ThemeGenerationConfig | None = None

    def __post_init__(self) -> None:
        _normalise_job(self)
        mode = self.batch_inference_job_mode
        if mode is not None:
            force_setattr(self, "batch_inference_job_mode", _MODES.get(mode, mode))


class BatchSegmentJob(_Record, frozen=True):
    """``BatchSegmentJob``, the full record ``DescribeBatchSegmentJob`` returns."""

    batch_segment_job_arn: str
    job_name: str | None = None
    status: _Status | None = None  # a JobStatus member if the enum knows the value
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None
    filter_arn: str | None = None
    num_results: int | None = None
    job_input: JobInput | None = None
    job_output: JobOutput | None = None
    role_arn: str | None = None

    def __post_init__(self) -> None:
        _normalise_job(self)


S = TypeVar("S")
F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class JobKind(Generic[S, F]):
    """Everything that differs between the two job kinds, in one place.

    ``S`` is the summary record a listing yields, ``F`` the full record a
    describe returns.
    """

    name: JobKindName
    list_operation: str
    describe_operation: str
    arn_member: str  # the describe call's request member
    summary: type[S]
    full: type[F]


INFERENCE: JobKind[BatchInferenceJobSummary, BatchInferenceJob] = JobKind(
    name="inference",
    list_operation="ListBatchInferenceJobs",
    describe_operation="DescribeBatchInferenceJob",
    arn_member="batchInferenceJobArn",
    summary=BatchInferenceJobSummary,
    full=BatchInferenceJob,
)

SEGMENT: JobKind[BatchSegmentJobSummary, BatchSegmentJob] = JobKind(
    name="segment",
    list_operation="ListBatchSegmentJobs",
    describe_operation="DescribeBatchSegmentJob",
    arn_member="batchSegmentJobArn",
    summary=BatchSegmentJobSummary,
    full=BatchSegmentJob,
)


@dataclass(frozen=True, slots=True)
class ResourceLevel:
    """One level of the account's tree above the jobs, and the call that lists it."""

    operation: str
    parent_member: str | None  # the request member naming the parent, if any


DATASET_GROUPS = ResourceLevel("ListDatasetGroups", None)
SOLUTIONS = ResourceLevel("ListSolutions", "datasetGroupArn")
SOLUTION_VERSIONS = ResourceLevel("ListSolutionVersions", "solutionArn")

KINDS: Mapping[str, JobKind[Any, Any]] = {kind.name: kind for kind in (INFERENCE, SEGMENT)}
