"""aiopersonalize: an async client for Amazon Personalize's batch-job inventory.

The client, its listings and the inventory are imported on first use (:pep:`562`):
they import aiobotocore and aiohttp, which a process that needs only the records or
the database (the inventory's writer process) does not, and which take half a second
to import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from ._accounts import Organization, RoleArns
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
from ._inventory import InventoryError
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

if TYPE_CHECKING:
    from ._client import Client, RequestStats
    from ._inventory import CrawlResult, Inventory, InventoryCrawl
    from ._merge import ListingFailure, MergedListing, MergeProgress
    from ._paging import Listing
    from ._transport import personalize_regions

    __version__: str

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

_LAZY = {
    "Client": "._client",
    "RequestStats": "._client",
    "CrawlResult": "._inventory",
    "Inventory": "._inventory",
    "InventoryCrawl": "._inventory",
    "ListingFailure": "._merge",
    "MergedListing": "._merge",
    "MergeProgress": "._merge",
    "Listing": "._paging",
    "personalize_regions": "._transport",
}


# Hidden from type checkers, which would otherwise take any name, misspelt ones
# included, as one of the module's: they see the imports above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name == "__version__":
            from ._version import VERSION

            value: object = VERSION
        else:
            module = _LAZY.get(name)
            if module is None:
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
            value = getattr(import_module(module, __name__), name)
        globals()[name] = value
        return value
