"""aiopersonalize: an async client for Amazon Personalize's batch-job inventory."""

from importlib.metadata import PackageNotFoundError, version

from ._accounts import Organization, RoleArns
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
from ._inventory import CrawlResult, Inventory, InventoryCrawl, InventoryError
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
from ._transport import personalize_regions
from ._validation import check_resume
from ._vocabulary import (
    CRAWL_STRATEGIES,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    DEFAULT_RETRY_MODE,
    DEFAULT_ROLE_SESSION_NAME,
    JOB_KIND_NAMES,
    MAX_PAGE_SIZE,
    ON_ERROR_POLICIES,
    RETRY_MODES,
    ChainKey,
    CrawlStrategy,
    JobKindName,
    OnError,
    RetryMode,
)

try:
    __version__ = version("aiopersonalize")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "CRAWL_STRATEGIES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RETRY_MODE",
    "DEFAULT_ROLE_SESSION_NAME",
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
    "CrawlResult",
    "CrawlStrategy",
    "FieldsForThemeGeneration",
    "InvalidInputError",
    "InvalidNextTokenError",
    "Inventory",
    "InventoryCrawl",
    "InventoryError",
    "JobInput",
    "JobKindName",
    "JobOutput",
    "JobStatus",
    "Listing",
    "ListingFailure",
    "MergeProgress",
    "MergedListing",
    "OnError",
    "Organization",
    "Page",
    "PaginationError",
    "ParamValidationError",
    "PersonalizeError",
    "RequestStats",
    "ResourceNotFoundError",
    "ResponseError",
    "RetryMode",
    "RoleArns",
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
    "personalize_regions",
]
