"""aiopersonalize: an async client for Amazon Personalize's batch-job inventory."""

from importlib.metadata import PackageNotFoundError, version

from ._client import Client, RequestStats
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
from ._merge import ListingFailure, MergedListing, MergeProgress
from ._models import (
    BatchInferenceJob,
    BatchInferenceJobConfig,
    BatchInferenceJobMode,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    FieldsForThemeGeneration,
    JobInput,
    JobOutput,
    JobStatus,
    Page,
    S3DataConfig,
    ThemeGenerationConfig,
)
from ._paging import Listing
from ._validation import check_resume
from ._vocabulary import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    DEFAULT_RETRY_MODE,
    JOB_KIND_NAMES,
    MAX_PAGE_SIZE,
    ON_ERROR_POLICIES,
    RETRY_MODES,
    ChainKey,
    JobKindName,
    OnError,
    RetryMode,
)

try:
    __version__ = version("aiopersonalize")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RETRY_MODE",
    "JOB_KIND_NAMES",
    "MAX_PAGE_SIZE",
    "ON_ERROR_POLICIES",
    "RETRY_MODES",
    "AccessDeniedError",
    "BatchInferenceJob",
    "BatchInferenceJobConfig",
    "BatchInferenceJobMode",
    "BatchInferenceJobSummary",
    "BatchSegmentJob",
    "BatchSegmentJobSummary",
    "ChainKey",
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
    "RetryMode",
    "S3DataConfig",
    "ServerError",
    "ServiceError",
    "ThemeGenerationConfig",
    "ThrottlingError",
    "TransportError",
    "TransportTimeoutError",
    "UsageError",
    "__version__",
    "check_resume",
]
