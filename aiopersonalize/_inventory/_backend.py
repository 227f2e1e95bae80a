"""What the two databases share: the error, the rows a page becomes, the SQL, and the
interface each backend implements.

Every statement is written once, with ``%(name)s`` parameters (psycopg's style; the
SQLite backend rewrites them to ``:name``), ``{ne}`` where the dialects spell "is
distinct from" differently, and ``{json}`` after a parameter that is JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from msgspec import to_builtins
from msgspec.structs import astuple

from .._exceptions import PersonalizeError
from .._models import BatchInferenceJobSummary, BatchSegmentJobSummary, Page
from .._vocabulary import ChainKey, JobKindName
from ._schema import JOB_COLUMNS, SCHEMA_VERSION, Dialect

__all__ = [
    "ALL_LISTINGS",
    "Backend",
    "Batch",
    "Finish",
    "InventoryError",
    "Started",
    "Totals",
    "batch",
    "busy",
    "check_version",
    "close_params",
    "job_rows",
    "listing_of",
    "merge",
    "merge_pages",
    "one_line",
    "sql",
    "synced",
]

Job = BatchInferenceJobSummary | BatchSegmentJobSummary

ALL_LISTINGS = ""
"""``crawl_listings.solution_version_arn`` of an account-wide listing (no version filter)."""


class InventoryError(PersonalizeError):
    """The inventory database cannot be used: its URL cannot be opened, it is not an
    aiopersonalize inventory, its schema is newer than this program's, its driver is
    not installed, or a write failed (a full disk). Nothing of the failed step was
    written."""


def one_line(exc: BaseException) -> str:
    """A driver's error message on one line (PostgreSQL's carry DETAIL and HINT lines)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


Row = tuple[Any, ...]


def _slow_row(arn: str, kind: str | None, page_region: str | None, rest: Sequence[Any]) -> Row:
    parts = arn.split(":", 5)
    if len(parts) == 6:
        return (arn, kind, parts[4], parts[3], *rest)
    # Not an ARN the model allows: keep the job, under the page's region.
    return (arn, kind, "", page_region or "", *rest)


def job_rows(page: Page[Job]) -> tuple[list[Row], str | None]:
    """The page's jobs as rows of :data:`JOB_COLUMNS` (one per ARN: the last wins), and
    the account they belong to (``None`` for an empty page).

    The account and region come from each job's ARN
    (``arn:PARTITION:personalize:REGION:ACCOUNT:...``). Timestamps become RFC 3339 text
    in UTC (``2024-05-31T16:08:37.123000Z``, no fraction when it is zero) and enum
    members their values, for the whole page in one call of msgspec's (C): a database
    takes them from there. Jobs of one page share their ARN's head, so it is split once.
    """
    items = page.items
    if not items:
        return [], None
    kind, region = page.kind, page.region
    # (arn, job_name, status, created, updated, failure_reason, version[, mode])
    values: list[tuple[Any, ...]] = to_builtins([astuple(job) for job in items])
    if isinstance(items[0], BatchSegmentJobSummary):
        values = [(*v, None) for v in values]
    head = _slow_row(values[0][0], kind, region, ())
    prefix = ":".join(head[0].split(":", 5)[:5]) + ":"
    account, region = head[2], head[3]
    rows = {
        v[0]: (v[0], kind, account, region, *v[1:])
        if v[0].startswith(prefix)
        else _slow_row(v[0], kind, page.region, v[1:])
        for v in values
    }
    return list(rows.values()), account


@dataclass(frozen=True, slots=True)
class Batch:
    """One page to commit: its jobs' rows, and its listing's position after it."""

    key: ChainKey
    rows: Sequence[Row]
    account: str | None  # of its jobs
    next_token: str | None
    jobs: int
    listed_account: str = ""  # the account a crawl of several names; "": the client's


def listing_of(page: Page[Job]) -> tuple[str, JobKindName]:
    """The region and job kind of the listing a crawl's page came from.

    :raises InventoryError: the page names none: it is not a crawl's.
    """
    if page.region is None or page.kind is None:
        raise InventoryError("a page without its listing (region and kind): not a crawl's")
    return page.region, page.kind


def batch(page: Page[Job]) -> Batch:
    """The page as rows to commit, and its listing's position after it.

    :raises InventoryError: the page is not a crawl's (:func:`listing_of`).
    """
    region, kind = listing_of(page)
    rows, account = job_rows(page)
    # A crawl of several accounts names each page's; a listing is then keyed by it.
    listed = page.account or ""
    key = ChainKey(region, kind, page.solution_version_arn)
    return Batch(key, rows, listed or account, page.next_token, len(page.items), listed)


@dataclass(frozen=True, slots=True)
class Started:
    """A crawl row, new or resumed: its id and its listings' positions."""

    crawl_id: int
    resumed: bool
    positions: Mapping[ChainKey, str | None]


@dataclass(frozen=True, slots=True)
class Finish:
    """How a crawl ended, and the scopes (region, kind, account) it listed whole."""

    status: str
    scopes: Sequence[tuple[str, str, str]]
    failures: Sequence[str]
    error: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    """What a crawl found, counted from the database (so exactly once)."""

    seen: int
    created: int
    changed: int
    reappeared: int
    deleted: int


class Backend(Protocol):
    """One database: opened, written page by page, closed."""

    async def open(self) -> int:
        """Connect, create or migrate the schema; returns the schema version."""
        ...

    async def start(self, options: str, now: datetime, program: str, resume: bool) -> Started:
        """A crawl row for ``options`` (canonical JSON): resumed if one is unfinished."""
        ...

    async def write(self, crawl_id: int, now: datetime, pages: Sequence[Page[Job]]) -> None:
        """Commit the pages' rows and their listings' positions, all or nothing."""
        ...

    async def listings(self, crawl_id: int) -> list[tuple[str, str, str, str | None, bool]]:
        """The crawl's listings: region, kind, version (or ``""``), account, done."""
        ...

    async def finish(self, crawl_id: int, now: datetime, finish: Finish) -> Totals:
        """Mark what the complete scopes no longer hold, and close the crawl's row."""
        ...

    async def aclose(self) -> None: ...


# -- the SQL, once for both dialects ----------------------------------------------------

_PARAM = re.compile(r"%\((\w+)\)s")
_JOIN = "LEFT JOIN batch_jobs b ON b.arn = i.arn"


def sql(statement: str, dialect: Dialect) -> str:
    """``statement`` in ``dialect``: its parameter style and its "is distinct from"."""
    if dialect == "sqlite":
        statement = statement.replace("{ne}", "IS NOT").replace("{json}", "")
        statement = statement.replace("{join}", _JOIN)
        return _PARAM.sub(r":\1", statement)
    statement = statement.replace("{ne}", "IS DISTINCT FROM").replace("{json}", "::jsonb")
    # LATERAL: one primary-key lookup per incoming row, whatever the planner guesses of
    # an array's length or of a table not analysed yet (else a growing table is scanned
    # for every page).
    return statement.replace(
        "{join}", "LEFT JOIN LATERAL (SELECT * FROM batch_jobs WHERE arn = i.arn) b ON true"
    )


_COLUMNS = ", ".join(JOB_COLUMNS)
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in JOB_COLUMNS[1:])

# The history of the jobs of ``{source}`` (the page's rows), against the rows before.
HISTORY = """
INSERT INTO job_history (crawl_id, arn, event, recorded_at, status, last_updated_date_time,
                         previous_status, previous_last_updated_date_time)
SELECT %(crawl)s, i.arn,
       CASE WHEN b.arn IS NULL THEN 'created'
            WHEN b.deleted_at IS NOT NULL THEN 'reappeared'
            ELSE 'changed' END,
       %(now)s, i.status, i.last_updated_date_time, b.status, b.last_updated_date_time
FROM {source} i {join}
WHERE b.arn IS NULL OR b.deleted_at IS NOT NULL
   OR b.status {ne} i.status OR b.last_updated_date_time {ne} i.last_updated_date_time
"""

UPSERT = f"""
INSERT INTO batch_jobs ({_COLUMNS}, first_seen, last_seen, deleted_at,
                        first_crawl_id, last_crawl_id)
SELECT {_COLUMNS}, %(now)s, %(now)s, NULL, %(crawl)s, %(crawl)s FROM {{source}} WHERE true
ON CONFLICT (arn) DO UPDATE SET {_UPDATES}, last_seen = excluded.last_seen,
    deleted_at = NULL, last_crawl_id = excluded.last_crawl_id
"""

LISTING = """
INSERT INTO crawl_listings (crawl_id, listed_account, region, kind, solution_version_arn,
                            account, next_token, done, pages, jobs)
{listings}
ON CONFLICT (crawl_id, listed_account, region, kind, solution_version_arn) DO UPDATE SET
    account = COALESCE(crawl_listings.account, excluded.account),
    next_token = excluded.next_token, done = excluded.done,
    pages = crawl_listings.pages + excluded.pages, jobs = crawl_listings.jobs + excluded.jobs
"""

UNFINISHED = """
SELECT id FROM crawls
WHERE status IN ('running', 'interrupted', 'failed', 'partial') AND options = %(options)s{json}
ORDER BY id DESC LIMIT 1
"""

REOPEN = """
UPDATE crawls SET status = 'running', runs = runs + 1, finished_at = NULL, error = NULL
WHERE id = %(crawl)s
"""

POSITIONS = """
SELECT listed_account, region, kind, solution_version_arn, next_token, done
FROM crawl_listings WHERE crawl_id = %(crawl)s
"""

NEW_CRAWL = """
INSERT INTO crawls (started_at, status, options, program_version)
VALUES (%(now)s, 'running', %(options)s{json}, %(program)s) RETURNING id
"""

LISTINGS = """
SELECT region, kind, solution_version_arn, account, done
FROM crawl_listings WHERE crawl_id = %(crawl)s
"""

# The jobs of the synced scopes that this crawl did not see, marked deleted in one pass
# over the table for all the scopes ({scopes}: :func:`synced`), not one per scope nor
# one for their history and one for the mark: the rows it marks come back, and their
# history rows are made of them (:data:`DELETED_EVENT`).
MARK_DELETED = """
UPDATE batch_jobs SET deleted_at = %(now)s
WHERE deleted_at IS NULL AND last_crawl_id <> %(crawl)s
  AND (account, region, kind) IN ({scopes})
RETURNING arn, status, last_updated_date_time
"""

_DELETED_COLUMNS = """
INSERT INTO job_history (crawl_id, arn, event, recorded_at, status, last_updated_date_time,
                         previous_status, previous_last_updated_date_time)
"""

DELETED_EVENT = (
    _DELETED_COLUMNS
    + """VALUES (%(crawl)s, %(arn)s, 'deleted', %(now)s, %(status)s, %(updated)s,
        %(status)s, %(updated)s)"""
)
"""The history row of one job :data:`MARK_DELETED` returned (``arn``, ``status``,
``updated``)."""

DELETED_HISTORY = (
    "WITH gone AS ({mark})"
    + _DELETED_COLUMNS
    + """SELECT %(crawl)s, arn, 'deleted', %(now)s, status, last_updated_date_time,
       status, last_updated_date_time FROM gone"""
)
"""The same in one statement, where the dialect lets a statement's rows feed another
(PostgreSQL; ``{mark}``: :data:`MARK_DELETED`)."""


def synced(
    statement: str, scopes: Sequence[tuple[str, str, str]], params: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    """``statement`` (holding :data:`MARK_DELETED`) for ``scopes`` (region, kind,
    account), and its parameters with ``params``; ``None`` for no scope."""
    if not scopes:
        return None, dict(params)
    values = ", ".join(f"(%(a{n})s, %(r{n})s, %(k{n})s)" for n in range(len(scopes)))
    found = dict(params)
    for n, (region, kind, account) in enumerate(scopes):
        found.update({f"a{n}": account, f"r{n}": region, f"k{n}": kind})
    return statement.replace("{scopes}", f"VALUES {values}"), found


SEEN = "SELECT count(*) FROM batch_jobs WHERE last_crawl_id = %(crawl)s"

EVENTS = "SELECT event, count(*) FROM job_history WHERE crawl_id = %(crawl)s GROUP BY event"

CLOSE_CRAWL = """
UPDATE crawls SET finished_at = %(now)s, status = %(status)s, jobs_seen = %(seen)s,
    jobs_created = %(created)s, jobs_changed = %(changed)s,
    jobs_reappeared = %(reappeared)s, jobs_deleted = %(deleted)s,
    listings_failed = %(failed)s, failures = %(failures)s{json}, error = %(error)s
WHERE id = %(crawl)s
"""


@dataclass(frozen=True, slots=True)
class Merged:
    """Pages to commit in one transaction: their jobs' rows (one per ARN, the last page's
    wins) and, per listing, its position after its last page among them."""

    rows: list[Row]
    listings: list[tuple[str, str, str, str, str | None, str | None, bool, int, int]]
    """listed account (``""``: the client's), region, kind, version (``""``:
    account-wide), the jobs' account, next token, done, pages, jobs."""


def merge(batches: Sequence[Batch]) -> Merged:
    """The batches as one write, in their order."""
    if len(batches) == 1:
        (batch,) = batches
        rows = list(batch.rows)
    else:
        by_arn: dict[str, Row] = {}
        for batch in batches:
            for row in batch.rows:
                by_arn[row[0]] = row
        rows = list(by_arn.values())
    listings: dict[tuple[str, ChainKey], list[Any]] = {}
    for batch in batches:
        region, kind, version = batch.key[:3]
        found = listings.get((batch.listed_account, batch.key))
        if found is None:
            done = batch.next_token is None
            version = version or ALL_LISTINGS
            where = [batch.listed_account, region, kind, version]
            position = [*where, batch.account, batch.next_token, done]
            listings[batch.listed_account, batch.key] = [*position, 1, batch.jobs]
        else:
            found[4] = found[4] or batch.account
            found[5], found[6] = batch.next_token, batch.next_token is None
            found[7] += 1
            found[8] += batch.jobs
    return Merged(rows, [tuple(v) for v in listings.values()])


def merge_pages(pages: Sequence[Page[Job]]) -> Merged:
    """The pages (a crawl's: checked by :func:`batch`) as one write, in their order."""
    return merge([batch(page) for page in pages])


def positions(rows: Iterable[Sequence[Any]]) -> dict[ChainKey, str | None]:
    """The resume positions of a crawl's listings (:data:`POSITIONS`' rows)."""
    found: dict[ChainKey, str | None] = {}
    for listed, region, kind, version, token, done in rows:
        # A crawl of several accounts keys its listings by account too.
        key = (region, kind, version or None, *((listed,) if listed else ()))
        found[ChainKey(*key)] = None if done else token
    return found


def totals(seen: int, events: Iterable[Sequence[Any]]) -> Totals:
    """The crawl's counts from :data:`SEEN` and :data:`EVENTS`."""
    by_event = {str(event): int(count) for event, count in events}
    return Totals(
        seen=seen,
        created=by_event.get("created", 0),
        changed=by_event.get("changed", 0),
        reappeared=by_event.get("reappeared", 0),
        deleted=by_event.get("deleted", 0),
    )


def close_params(crawl_id: int, at: Any, finish: Finish, found: Totals) -> dict[str, Any]:
    """The parameters of :data:`CLOSE_CRAWL`."""
    return {
        "crawl": crawl_id,
        "now": at,
        "status": finish.status,
        "seen": found.seen,
        "created": found.created,
        "changed": found.changed,
        "reappeared": found.reappeared,
        "deleted": found.deleted,
        "failed": len(finish.failures),
        "failures": json.dumps(list(finish.failures)),
        "error": finish.error,
    }


def busy(crawl_id: int, shown: str) -> InventoryError:
    """The error of a crawl that another process is writing."""
    return InventoryError(
        f"crawl {crawl_id} in {shown} is being written by another process: one crawl "
        "with the same parameters at a time (wait for it to end, or stop it)"
    )


def check_version(version: int, shown: str) -> None:
    """Refuse a schema newer than this program's: it would not know its columns."""
    if version > SCHEMA_VERSION:
        raise InventoryError(
            f"the inventory {shown} has schema version {version}, newer than this "
            f"program's {SCHEMA_VERSION}: upgrade aiopersonalize to use it"
        )
