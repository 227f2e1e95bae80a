"""aiopersonalize: an async client for Amazon Personalize's batch-job inventory."""

from importlib.metadata import PackageNotFoundError, version

from ._client import DEFAULT_MAX_CONCURRENCY, Client, RequestStats
from ._exceptions import (
    AccessDeniedError,
    ClientClosedError,
    ConfigurationError,
    InvalidInputError,
    InvalidNextTokenError,
    PaginationError,
    ParamValidationError,
    PersonalizeError,
    ResourceNotFoundError,
    ResponseError,
    ServerError,
    ServiceError,
    ThrottlingError,
    TransportError,
    TransportTimeoutError,
    UsageError,
)
from ._merge import ListingFailure, MergedListing, MergeProgress, OnError
from ._models import (
    BatchInferenceJob,
    BatchInferenceJobConfig,
    BatchInferenceJobMode,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    FieldsForThemeGeneration,
    JobInput,
    JobKindName,
    JobOutput,
    JobStatus,
    Page,
    S3DataConfig,
    ThemeGenerationConfig,
)
from ._paging import Listing

try:
    __version__ = version("aiopersonalize")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "AccessDeniedError",
    "BatchInferenceJob",
    "BatchInferenceJobConfig",
    "BatchInferenceJobMode",
    "BatchInferenceJobSummary",
    "BatchSegmentJob",
    "BatchSegmentJobSummary",
    "Client",
    "ClientClosedError",
    "ConfigurationError",
    "FieldsForThemeGeneration",
    "InvalidInputError",
    "InvalidNextTokenError",
    "JobInput",
    "JobKindName",
    "JobOutput",
    "JobStatus",
    "Listing",
    "ListingFailure",
    "MergeProgress",
    "MergedListing",
    "OnError",
    "Page",
    "PaginationError",
    "ParamValidationError",
    "PersonalizeError",
    "RequestStats",
    "ResourceNotFoundError",
    "ResponseError",
    "S3DataConfig",
    "ServerError",
    "ServiceError",
    "ThemeGenerationConfig",
    "ThrottlingError",
    "TransportError",
    "TransportTimeoutError",
    "UsageError",
    "__version__",
]
