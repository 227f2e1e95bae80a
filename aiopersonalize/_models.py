"""Typed records for batch jobs, and their decoding from the wire.

Every record is a frozen, slotted dataclass whose fields are the AWS member names in
snake_case. Members follow botocore's service model (``personalize/2018-05-22``): the
model marks every member of these shapes optional, so every field but the job's ARN,
which is its identity, may be ``None``.

Decoding is forgiving where the service may grow: an unknown ``status`` or
``batchInferenceJobMode`` value is kept as a plain ``str`` and unknown members are
ignored, so a new service release never breaks a listing. ``to_dict()`` gives the
AWS-shaped dict back, with timestamps as UTC datetimes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "BatchInferenceJob",
    "BatchInferenceJobConfig",
    "BatchInferenceJobMode",
    "BatchInferenceJobSummary",
    "BatchSegmentJob",
    "BatchSegmentJobSummary",
    "JobInput",
    "JobKindName",
    "JobOutput",
    "JobStatus",
    "Page",
    "S3DataConfig",
    "ThemeGenerationConfig",
]

T = TypeVar("T")

JobKindName = Literal["inference", "segment"]
"""The two kinds of batch job, by their public names."""


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


_STATUSES: Mapping[str, JobStatus] = {s.value: s for s in JobStatus}
_MODES: Mapping[str, BatchInferenceJobMode] = {m.value: m for m in BatchInferenceJobMode}


def _status(value: str | None) -> JobStatus | str | None:
    return None if value is None else _STATUSES.get(value, value)


def _mode(value: str | None) -> BatchInferenceJobMode | str | None:
    return None if value is None else _MODES.get(value, value)


_FRACTION = re.compile(r"\.(\d+)")


def _iso(text: str) -> str:
    """ISO 8601 as ``datetime.fromisoformat`` takes it on Python 3.10 too: a numeric UTC
    offset for ``Z``, and 6 digits of fractional seconds."""
    text = text.replace("Z", "+00:00")
    return _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)


def _utc(value: datetime | float | int | str | None) -> datetime | None:
    """A timezone-aware UTC datetime from a parsed timestamp, epoch seconds, or a
    timestamp string."""
    if value is None:
        return None
    if type(value) is float or type(value) is int:  # epoch seconds: what the wire has
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):  # accepted as botocore does: epoch seconds or ISO 8601
        try:
            return datetime.fromtimestamp(float(value), timezone.utc)
        except ValueError:
            value = datetime.fromisoformat(_iso(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:  # botocore never does this; be safe, not sorry
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return datetime.fromtimestamp(value, timezone.utc)


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else MappingProxyType(dict(value))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _common_from_wire(d: Mapping[str, Any]) -> dict[str, Any]:
    """The members every job record has, besides its ARN, as record fields."""
    return {
        "job_name": d.get("jobName"),
        "status": _status(d.get("status")),
        "creation_date_time": _utc(d.get("creationDateTime")),
        "last_updated_date_time": _utc(d.get("lastUpdatedDateTime")),
        "failure_reason": d.get("failureReason"),
        "solution_version_arn": d.get("solutionVersionArn"),
    }


def _common_to_wire(record: Any) -> dict[str, Any]:
    """The members every job record has, besides its ARN, as AWS members."""
    return {
        "jobName": record.job_name,
        "status": _str(record.status),
        "creationDateTime": record.creation_date_time,
        "lastUpdatedDateTime": record.last_updated_date_time,
        "failureReason": record.failure_reason,
        "solutionVersionArn": record.solution_version_arn,
    }


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing.

    ``next_token`` is ``None`` on the last page of its chain; otherwise pass it as
    ``starting_token=`` to resume the listing after this page. ``solution_version_arn``
    is the version whose jobs these are (``None`` for an account-wide listing);
    merged listings and crawls also set the ``region`` and job ``kind``, which with
    the version name the chain a page belongs to.
    """

    items: tuple[T, ...]
    next_token: str | None
    solution_version_arn: str | None = None
    region: str | None = None
    kind: JobKindName | None = None


@dataclass(frozen=True, slots=True)
class S3DataConfig:
    """``S3DataConfig``: an S3 location and the KMS key used for it."""

    path: str
    kms_key_arn: str | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> S3DataConfig:
        return cls(path=d["path"], kms_key_arn=d.get("kmsKeyArn"))

    def to_dict(self) -> dict[str, Any]:
        return _drop_none({"path": self.path, "kmsKeyArn": self.kms_key_arn})


@dataclass(frozen=True, slots=True)
class JobInput:
    """``BatchInferenceJobInput`` / ``BatchSegmentJobInput``."""

    s3_data_source: S3DataConfig

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> JobInput:
        return cls(s3_data_source=S3DataConfig.from_wire(d["s3DataSource"]))

    def to_dict(self) -> dict[str, Any]:
        return {"s3DataSource": self.s3_data_source.to_dict()}


@dataclass(frozen=True, slots=True)
class JobOutput:
    """``BatchInferenceJobOutput`` / ``BatchSegmentJobOutput``."""

    s3_data_destination: S3DataConfig

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> JobOutput:
        return cls(s3_data_destination=S3DataConfig.from_wire(d["s3DataDestination"]))

    def to_dict(self) -> dict[str, Any]:
        return {"s3DataDestination": self.s3_data_destination.to_dict()}


@dataclass(frozen=True, slots=True)
class BatchInferenceJobConfig:
    """``BatchInferenceJobConfig``: exploration hyperparameters and ranking influence.

    The maps are read-only views; they are left out of the record's hash.
    """

    item_exploration_config: Mapping[str, str] | None = field(default=None, hash=False)
    ranking_influence: Mapping[str, float] | None = field(default=None, hash=False)

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> BatchInferenceJobConfig:
        return cls(
            item_exploration_config=_frozen_map(d.get("itemExplorationConfig")),
            ranking_influence=_frozen_map(d.get("rankingInfluence")),
        )

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "itemExplorationConfig": _plain(self.item_exploration_config),
                "rankingInfluence": _plain(self.ranking_influence),
            }
        )


def _plain(m: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if m is None else dict(m)


@dataclass(frozen=True, slots=True)
class ThemeGenerationConfig:
    """``ThemeGenerationConfig``: which item column names the themes."""

    item_name: str

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ThemeGenerationConfig:
        return cls(item_name=d["fieldsForThemeGeneration"]["itemName"])

    def to_dict(self) -> dict[str, Any]:
        return {"fieldsForThemeGeneration": {"itemName": self.item_name}}


def _optional(decode: Any, value: Any) -> Any:
    return None if value is None else decode(value)


def _to_dict(value: Any) -> Any:
    return None if value is None else value.to_dict()


@dataclass(frozen=True, slots=True)
class BatchInferenceJobSummary:
    """``BatchInferenceJobSummary``, one item of ``ListBatchInferenceJobs``."""

    batch_inference_job_arn: str
    job_name: str | None = None
    status: JobStatus | str | None = None
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None
    batch_inference_job_mode: BatchInferenceJobMode | str | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> BatchInferenceJobSummary:
        # Spelled out rather than through _common_from_wire: listings decode many of
        # these, and building and unpacking a dict for each costs a third more.
        get = d.get
        return cls(
            batch_inference_job_arn=d["batchInferenceJobArn"],
            job_name=get("jobName"),
            status=_status(get("status")),
            creation_date_time=_utc(get("creationDateTime")),
            last_updated_date_time=_utc(get("lastUpdatedDateTime")),
            failure_reason=get("failureReason"),
            solution_version_arn=get("solutionVersionArn"),
            batch_inference_job_mode=_mode(get("batchInferenceJobMode")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The AWS-shaped dict (members that are ``None`` are left out)."""
        return _drop_none(
            {
                "batchInferenceJobArn": self.batch_inference_job_arn,
                **_common_to_wire(self),
                "batchInferenceJobMode": _str(self.batch_inference_job_mode),
            }
        )


@dataclass(frozen=True, slots=True)
class BatchSegmentJobSummary:
    """``BatchSegmentJobSummary``, one item of ``ListBatchSegmentJobs``."""

    batch_segment_job_arn: str
    job_name: str | None = None
    status: JobStatus | str | None = None
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> BatchSegmentJobSummary:
        get = d.get  # spelled out, as in BatchInferenceJobSummary.from_wire
        return cls(
            batch_segment_job_arn=d["batchSegmentJobArn"],
            job_name=get("jobName"),
            status=_status(get("status")),
            creation_date_time=_utc(get("creationDateTime")),
            last_updated_date_time=_utc(get("lastUpdatedDateTime")),
            failure_reason=get("failureReason"),
            solution_version_arn=get("solutionVersionArn"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The AWS-shaped dict (members that are ``None`` are left out)."""
        return _drop_none(
            {
                "batchSegmentJobArn": self.batch_segment_job_arn,
                **_common_to_wire(self),
            }
        )


@dataclass(frozen=True, slots=True)
class BatchInferenceJob:
    """``BatchInferenceJob``, the full record ``DescribeBatchInferenceJob`` returns."""

    batch_inference_job_arn: str
    job_name: str | None = None
    status: JobStatus | str | None = None
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None
    batch_inference_job_mode: BatchInferenceJobMode | str | None = None
    filter_arn: str | None = None
    num_results: int | None = None
    job_input: JobInput | None = None
    job_output: JobOutput | None = None
    batch_inference_job_config: BatchInferenceJobConfig | None = None
    role_arn: str | None = None
    theme_generation_config: ThemeGenerationConfig | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> BatchInferenceJob:
        return cls(
            batch_inference_job_arn=d["batchInferenceJobArn"],
            **_common_from_wire(d),
            batch_inference_job_mode=_mode(d.get("batchInferenceJobMode")),
            filter_arn=d.get("filterArn"),
            num_results=d.get("numResults"),
            job_input=_optional(JobInput.from_wire, d.get("jobInput")),
            job_output=_optional(JobOutput.from_wire, d.get("jobOutput")),
            batch_inference_job_config=_optional(
                BatchInferenceJobConfig.from_wire, d.get("batchInferenceJobConfig")
            ),
            role_arn=d.get("roleArn"),
            theme_generation_config=_optional(
                ThemeGenerationConfig.from_wire, d.get("themeGenerationConfig")
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The AWS-shaped dict (members that are ``None`` are left out)."""
        return _drop_none(
            {
                "batchInferenceJobArn": self.batch_inference_job_arn,
                **_common_to_wire(self),
                "filterArn": self.filter_arn,
                "numResults": self.num_results,
                "jobInput": _to_dict(self.job_input),
                "jobOutput": _to_dict(self.job_output),
                "batchInferenceJobConfig": _to_dict(self.batch_inference_job_config),
                "roleArn": self.role_arn,
                "batchInferenceJobMode": _str(self.batch_inference_job_mode),
                "themeGenerationConfig": _to_dict(self.theme_generation_config),
            }
        )


@dataclass(frozen=True, slots=True)
class BatchSegmentJob:
    """``BatchSegmentJob``, the full record ``DescribeBatchSegmentJob`` returns."""

    batch_segment_job_arn: str
    job_name: str | None = None
    status: JobStatus | str | None = None
    creation_date_time: datetime | None = None
    last_updated_date_time: datetime | None = None
    failure_reason: str | None = None
    solution_version_arn: str | None = None
    filter_arn: str | None = None
    num_results: int | None = None
    job_input: JobInput | None = None
    job_output: JobOutput | None = None
    role_arn: str | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> BatchSegmentJob:
        return cls(
            batch_segment_job_arn=d["batchSegmentJobArn"],
            **_common_from_wire(d),
            filter_arn=d.get("filterArn"),
            num_results=d.get("numResults"),
            job_input=_optional(JobInput.from_wire, d.get("jobInput")),
            job_output=_optional(JobOutput.from_wire, d.get("jobOutput")),
            role_arn=d.get("roleArn"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The AWS-shaped dict (members that are ``None`` are left out)."""
        return _drop_none(
            {
                "batchSegmentJobArn": self.batch_segment_job_arn,
                **_common_to_wire(self),
                "filterArn": self.filter_arn,
                "numResults": self.num_results,
                "jobInput": _to_dict(self.job_input),
                "jobOutput": _to_dict(self.job_output),
                "roleArn": self.role_arn,
            }
        )


def _str(value: str | None) -> str | None:
    # An enum member becomes its plain value, so to_dict() output is plain data.
    return None if value is None else str.__str__(value)


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
    list_key: str
    describe_operation: str
    describe_key: str
    arn_member: str
    decode_summary: Callable[[Mapping[str, Any]], S]
    decode_full: Callable[[Mapping[str, Any]], F]


INFERENCE: JobKind[BatchInferenceJobSummary, BatchInferenceJob] = JobKind(
    name="inference",
    list_operation="ListBatchInferenceJobs",
    list_key="batchInferenceJobs",
    describe_operation="DescribeBatchInferenceJob",
    describe_key="batchInferenceJob",
    arn_member="batchInferenceJobArn",
    decode_summary=BatchInferenceJobSummary.from_wire,
    decode_full=BatchInferenceJob.from_wire,
)

SEGMENT: JobKind[BatchSegmentJobSummary, BatchSegmentJob] = JobKind(
    name="segment",
    list_operation="ListBatchSegmentJobs",
    list_key="batchSegmentJobs",
    describe_operation="DescribeBatchSegmentJob",
    describe_key="batchSegmentJob",
    arn_member="batchSegmentJobArn",
    decode_summary=BatchSegmentJobSummary.from_wire,
    decode_full=BatchSegmentJob.from_wire,
)


@dataclass(frozen=True, slots=True)
class ResourceLevel:
    """One level of the account's tree above the jobs, and the call that lists it."""

    operation: str
    list_key: str
    arn_member: str
    parent_member: str | None  # the request member naming the parent, if any


DATASET_GROUPS = ResourceLevel("ListDatasetGroups", "datasetGroups", "datasetGroupArn", None)
SOLUTIONS = ResourceLevel("ListSolutions", "solutions", "solutionArn", "datasetGroupArn")
SOLUTION_VERSIONS = ResourceLevel(
    "ListSolutionVersions", "solutionVersions", "solutionVersionArn", "solutionArn"
)

KINDS: Mapping[str, JobKind[Any, Any]] = {kind.name: kind for kind in (INFERENCE, SEGMENT)}
