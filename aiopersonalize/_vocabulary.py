"""The shared vocabulary: the words more than one module uses, each spelled once.

Names of things (job kinds, error policies, retry modes), the key of a chain of pages,
and the service's documented limits, from botocore's service model for Personalize
(``personalize/2018-05-22``). Every other module imports them from here; nothing here
imports from the rest of the package.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "ARN_MAX_LENGTH",
    "ARN_PATTERN",
    "CRAWL_STRATEGIES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_PAGE_RETRY_WINDOW",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RETRY_MODE",
    "DEFAULT_ROLE_SESSION_NAME",
    "JOB_KIND_NAMES",
    "MAX_BACKOFF",
    "MAX_PAGE_SIZE",
    "MIN_PAGE_SIZE",
    "NEXT_TOKEN_MAX_LENGTH",
    "ON_ERROR_POLICIES",
    "RETRY_MODES",
    "ChainKey",
    "CrawlStrategy",
    "JobKindName",
    "OnError",
    "RetryMode",
]

JobKindName = Literal["inference", "segment"]
"""The two kinds of batch job, by their public names."""

JOB_KIND_NAMES: Final[tuple[JobKindName, ...]] = ("inference", "segment")

OnError = Literal["raise", "skip"]
"""What a merged listing does when one chain fails: raise it (after stopping the
others), or record it and go on."""

ON_ERROR_POLICIES: Final[tuple[OnError, ...]] = ("raise", "skip")

RetryMode = Literal["adaptive", "standard", "legacy"]
"""botocore's retry modes; ``"standard"`` is this library's default."""

RETRY_MODES: Final[tuple[RetryMode, ...]] = ("adaptive", "standard", "legacy")

DEFAULT_RETRY_MODE: Final[RetryMode] = "standard"
"""botocore's standard retries; the rate is this client's own (``_rate.py``), not
botocore's adaptive mode, which collapses under throttling the rate does not cause."""


DEFAULT_PAGE_RETRY_WINDOW: Final = 300.0
"""Seconds a page that keeps failing with throttling or a server error (after botocore's
own attempts) is asked again before its listing fails: long enough to ride out another
workload's burst on the account's quota, short enough that an outage ends the listing."""

MAX_BACKOFF: Final = 20.0
"""Seconds: the longest wait before a failed attempt is made again (botocore's cap),
for botocore's retries and for a page asked again."""

DEFAULT_MAX_CONCURRENCY: Final = 32
"""A client's cap on requests in flight, across all its listings and regions."""

DEFAULT_CONCURRENCY: Final = 10
"""A merged listing's (or crawl's) own cap on requests in flight."""


CrawlStrategy = Literal["account", "versions"]
"""How a crawl covers an account: ``"account"``, one listing per region and job kind,
without a solution version filter (the fewest calls: one per page of jobs);
``"versions"``, one listing per solution version and job kind, the versions found by
listing dataset groups, solutions and their versions."""

CRAWL_STRATEGIES: Final[tuple[CrawlStrategy, ...]] = ("account", "versions")


class ChainKey(NamedTuple):
    """One chain of pages of jobs: a job kind in one region, of one solution version or
    (``solution_version_arn`` ``None``) of the whole account there; ``account``: the
    account it lists in a crawl of several accounts (``None``: the client's own).

    Equal to (and hashed as) the plain tuple ``(region, kind, solution_version_arn)``
    when ``account`` is ``None`` (as before crawls of several accounts: such tuples
    keep working as resume keys), and ``(region, kind, solution_version_arn, account)``
    otherwise.
    """

    region: str
    kind: JobKindName
    solution_version_arn: str | None
    account: str | None = None

    def _plain(self) -> tuple[str | None, ...]:
        return tuple(self) if self[3] is not None else tuple(self[:3])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChainKey):
            return self._plain() == other._plain()
        if isinstance(other, tuple):
            return self._plain() == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self._plain())


ACCOUNT_ID_PATTERN: Final = r"\d{12}"
"""An AWS account ID: twelve digits."""

DEFAULT_ROLE_SESSION_NAME: Final = "aiopersonalize"
"""The ``RoleSessionName`` of the roles a crawl of several accounts assumes (it shows
in the members' CloudTrail as the session's name)."""


# -- the service's limits (the model's shapes) ------------------------------------------

MIN_PAGE_SIZE: Final = 1
MAX_PAGE_SIZE: Final = 100
"""``MaxResults``: an integer from 1 to 100, the jobs (or resources) one call returns."""

DEFAULT_PAGE_SIZE: Final = MAX_PAGE_SIZE
"""Listings ask for whole pages: the fewest calls."""

ARN_MAX_LENGTH: Final = 256
ARN_PATTERN: Final = r"arn:([a-z\d-]+):personalize:.*:.*:.+"
"""``Arn``: at most 256 characters matching this pattern (in Java's syntax)."""

NEXT_TOKEN_MAX_LENGTH: Final = 1500
"""``NextToken``: at most 1500 characters, ``\\p{ASCII}{0,1500}``."""
