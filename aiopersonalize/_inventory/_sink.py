"""The inventory: a crawl's pages upserted into SQLite or PostgreSQL, with their history.

::

    async with Inventory("sqlite:///inventory.db") as inventory:
        result = await inventory.crawl(client, regions=["us-east-1", "eu-west-1"])

or, consuming a merged listing of your own::

    async with Inventory(url) as inventory:
        run = await inventory.begin_crawl(regions=regions)
        listing = client.crawl_batch_jobs(regions=run.regions(regions), resume=run.resume,
                                          on_error="skip")
        result = await run.consume(listing)

Each page is one transaction: its jobs' rows, their history, and its listing's next
token. So a crawl stopped at any instant (``kill -9`` included) has committed whole
pages only, and the next crawl with the same parameters resumes each listing after
its last committed page: no job is lost, and none is counted twice (rows are keyed by
ARN, counts are counted from the rows).

When a crawl ends with every account-wide listing of a scope (account, region, kind)
complete and none of it failed, the jobs of that scope it did not see get
``deleted_at``; any failure in a scope marks nothing there. Rows are never removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._client import Client
from .._merge import ListingFailure, MergedListing
from .._models import Page
from .._version import VERSION
from .._vocabulary import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    JOB_KIND_NAMES,
    ChainKey,
    CrawlStrategy,
    JobKindName,
)
from ._backend import (
    ALL_LISTINGS,
    Backend,
    Finish,
    InventoryError,
    Job,
    listing_of,
)
from ._url import in_process_backend, redact_url
from ._writer import ProcessBackend

__all__ = [
    "BUFFER_PAGES",
    "GROUP_PAGES",
    "CrawlResult",
    "Inventory",
    "InventoryCrawl",
]

BUFFER_PAGES = 64
"""Pages a crawl lists ahead of the database at most (:meth:`InventoryCrawl.consume`)."""

GROUP_PAGES = 64
"""Pages committed in one transaction at most, when that many wait."""

_UTC = timezone.utc
T = TypeVar("T")
_PROGRAM = f"aiopersonalize {VERSION}"
"""What a crawl's row records as its ``program_version``."""


async def _hand_over(send: MemoryObjectSendStream[T], item: T) -> None:
    """Send ``item``; while the stream has room, without a turn of the event loop (what
    ``send()`` takes even then): one more turn per page cost a crawl's process 0.7 to
    1.9 µs a job (benchmarks/README.md, ``db``).

    :raises anyio.BrokenResourceError: the receiving end is closed.
    """
    try:
        send.send_nowait(item)
    except anyio.WouldBlock:
        await send.send(item)


def _backend(url: str, in_process: bool) -> Backend:
    """The backend ``url`` names: checked here, run here or in a writer process."""
    backend = in_process_backend(url)
    if in_process:
        return backend
    return ProcessBackend(url, redact_url(url))


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """How a crawl into the inventory ended, counted from the database.

    ``status``: ``"complete"``; ``"partial"`` (some listings failed: the next crawl with
    the same parameters retries them); ``"failed"`` (a fatal error); ``"interrupted"``.
    ``seen``: the jobs this crawl saw (each once, however often it was resumed);
    ``created`` first seen, ``changed`` a new status or ``last_updated_date_time``,
    ``reappeared`` seen again after being marked deleted, ``deleted`` newly marked.
    ``scopes``: the (region, kind, account) scopes it listed whole and synced.
    """

    crawl_id: int
    status: str
    resumed: bool
    seen: int
    created: int
    changed: int
    reappeared: int
    deleted: int
    scopes: tuple[tuple[str, str, str], ...]


def _failure_line(failure: ListingFailure) -> str:
    subject = failure.solution_version_arn or failure.parent_arn or "(account)"
    where = failure.region if failure.kind is None else f"{failure.region}, {failure.kind}"
    return f"{failure.operation} {subject} [{where}]: {type(failure.error).__name__}"


class InventoryCrawl:
    """One crawl into the inventory: write its pages, then :meth:`finish` it.

    ``resume`` maps each listing the crawl (or the interrupted run it resumes) has
    started to the token to go on after, or ``None`` when it is complete: pass it as
    ``crawl_batch_jobs(resume=...)``.
    """

    def __init__(
        self,
        backend: Backend,
        crawl_id: int,
        resumed: bool,
        resume: Mapping[ChainKey, str | None],
        account: str | None,
    ) -> None:
        self._backend = backend
        self.crawl_id = crawl_id
        self.resumed = resumed
        self.resume: Mapping[ChainKey, str | None] = dict(resume)
        self._account = account
        self._finished = False

    def __repr__(self) -> str:
        return f"InventoryCrawl(crawl_id={self.crawl_id}, resumed={self.resumed})"

    def regions(self, regions: Iterable[str] | None) -> tuple[str, ...] | None:
        """The regions to crawl: ``regions``, or for a resumed crawl of the default
        region, the region(s) it started in (the default may have changed since)."""
        if regions is not None:
            return tuple(regions)
        found = sorted({key[0] for key in self.resume})
        return tuple(found) or None

    async def write(self, page: Page[Job]) -> None:
        """Commit the page's jobs and its listing's position, in one transaction.

        :raises InventoryError: the write failed (nothing of the page was written).
        """
        await self.write_pages([page])

    async def write_pages(self, pages: Sequence[Page[Job]]) -> None:
        """Commit several pages (a crawl's, in the order listed) in one transaction.

        :raises InventoryError: a page is not a crawl's (it names no region or kind),
            or the write failed: nothing of the pages was written.
        """
        if self._finished:
            raise InventoryError(f"crawl {self.crawl_id} is finished")
        for page in pages:
            listing_of(page)  # refused here, before anything is sent to the database
        await self._backend.write(self.crawl_id, datetime.now(_UTC), pages)

    async def store(
        self, pages: MemoryObjectReceiveStream[Page[Job]], *, group: int = GROUP_PAGES
    ) -> None:
        """Write the pages received from ``pages`` until it is closed: each time, every
        page waiting (at most ``group``) in one transaction, so that the database keeps up
        with a fast listing (each page's rows and token still commit together).

        Run it in a task of its own, and send the listing's pages into the stream's
        other end: the listing is not held up by the database until the stream's
        buffer is full (memory stays bounded by it).

        :raises InventoryError: a write failed; nothing of its pages was written.
        """
        async with pages:
            async for first in pages:
                waiting = min(group - 1, pages.statistics().current_buffer_used)
                more = [pages.receive_nowait() for _ in range(waiting)]
                await self.write_pages([first, *more])

    async def consume(self, listing: MergedListing[Job]) -> CrawlResult:
        """Write every page of ``listing`` (through :meth:`store`), then finish the crawl
        (also when the listing raises: its error is recorded, and raised again)."""
        send, receive = anyio.create_memory_object_stream[Page[Job]](BUFFER_PAGES)
        failed: list[InventoryError] = []
        error: Exception | None = None

        async def store() -> None:
            try:
                await self.store(receive)
            except InventoryError as exc:
                failed.append(exc)
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(store)
            async with send:
                try:
                    async with listing:
                        async for page in listing.pages():
                            await _hand_over(send, page)
                # The listing's, or the closed stream of a writer that failed (whose
                # error is raised instead): the pages before it are stored.
                except Exception as exc:
                    error = exc
        if failed:
            raise failed[0]
        if error is not None:
            await self.finish(failures=listing.failures, error=error)
            raise error
        return await self.finish(failures=listing.failures)

    async def finish(
        self,
        *,
        failures: Sequence[ListingFailure] = (),
        error: BaseException | None = None,
        interrupted: bool = False,
    ) -> CrawlResult:
        """Close the crawl: sync the scopes it listed whole, record its outcome.

        ``failures``: the listing's (``listing.failures``); ``error``: a fatal error
        that ended it; ``interrupted``: it was stopped. Either of the last two syncs
        nothing.
        """
        if self._finished:
            raise InventoryError(f"crawl {self.crawl_id} is finished")
        self._finished = True
        lines = [_failure_line(f) for f in failures]
        scopes: list[tuple[str, str, str]] = []
        if interrupted:
            status = "interrupted"
        elif error is not None:
            status = "failed"
        else:
            status = "partial" if failures else "complete"
            scopes = await self._complete_scopes(failures)
        message = None if error is None else f"{type(error).__name__}: {error}"
        finish = Finish(status=status, scopes=scopes, failures=lines, error=message)
        found = await self._backend.finish(self.crawl_id, datetime.now(_UTC), finish)
        return CrawlResult(
            crawl_id=self.crawl_id,
            status=status,
            resumed=self.resumed,
            seen=found.seen,
            created=found.created,
            changed=found.changed,
            reappeared=found.reappeared,
            deleted=found.deleted,
            scopes=tuple(scopes),
        )

    async def _complete_scopes(
        self, failures: Sequence[ListingFailure]
    ) -> list[tuple[str, str, str]]:
        """The (region, kind, account) scopes whose account-wide listing is complete
        and where nothing failed. A listing by solution version never covers a whole
        scope (the jobs of deleted versions are not listed that way)."""
        failed = {(f.region, f.kind) for f in failures}
        failed_regions = {f.region for f in failures if f.kind is None}
        scopes: set[tuple[str, str, str]] = set()
        for region, kind, version, account, done in await self._backend.listings(self.crawl_id):
            if version != ALL_LISTINGS or not done:
                continue
            if (region, kind) in failed or region in failed_regions:
                continue
            owner = account or self._account
            if owner:
                scopes.add((region, kind, owner))
        return sorted(scopes)


class Inventory:
    """An inventory database: SQLite (``sqlite:///PATH``, or a plain path) or PostgreSQL
    (``postgresql://...``, with ``aiopersonalize[postgres]``).

    Use as ``async with Inventory(url) as inventory:``; opening creates the schema, or
    migrates an older one. The URL's password never appears in its ``repr`` or errors.

    The database's work runs in a process of its own (started on opening, ended on
    closing): this process only hands each page's records over, so a crawl's event
    loop never shares its CPU, or Python's interpreter lock, with the database.
    ``in_process=True`` keeps it here instead (SQLite in a worker thread, PostgreSQL
    on the event loop): no process is started, and a fast crawl is slowed down by the
    database's work (see the ``db`` benchmark).

    :raises InventoryError: the URL is not an inventory URL (at once); on opening, the
        database cannot be opened, is not an aiopersonalize inventory, has a newer
        schema, or its driver is missing; the writer process cannot be started.
    """

    def __init__(self, url: str, *, in_process: bool = False) -> None:
        self._backend = _backend(url, in_process)
        self.url = redact_url(url)
        self.schema_version: int | None = None
        self._state = "new"

    def __repr__(self) -> str:
        return f"Inventory({self.url!r})"

    async def open(self) -> None:
        """Connect, and create or migrate the schema."""
        if self._state != "new":
            raise InventoryError(f"{self!r} was already opened")
        self._state = "open"
        self.schema_version = await self._backend.open()

    async def aclose(self) -> None:
        """Close the connection (safe to call twice)."""
        self._state = "closed"
        await self._backend.aclose()

    async def __aenter__(self) -> Inventory:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def begin_crawl(
        self,
        *,
        kinds: Iterable[JobKindName] = JOB_KIND_NAMES,
        regions: Iterable[str] | None = None,
        strategy: CrawlStrategy | None = None,
        solution_version_arns: Iterable[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        options: Mapping[str, Any] | None = None,
        account: str | None = None,
        resume: bool = True,
    ) -> InventoryCrawl:
        """Start a crawl, or resume the unfinished one with the same parameters.

        The parameters (what :meth:`Client.crawl_batch_jobs` gets, and ``options``: any
        JSON-able values of yours that make two crawls different, e.g. the endpoint)
        identify the crawl: an unfinished crawl (stopped, failed, or with failed
        listings) with the same ones is resumed; with ``resume=False`` it is marked
        ``abandoned`` and a new one starts. ``account``: the account being crawled,
        if known: a scope where the crawl saw no job at all is synced only then.

        The crawl is locked for this inventory until it finishes (or the inventory is
        closed, or its process ends).

        :raises InventoryError: another process is writing the crawl with these
            parameters (see docs/database.md), or the database failed.
        """
        if self._state != "open":
            raise InventoryError(f"{self!r} is not open")
        params = {
            "kinds": sorted(set(kinds)),
            "regions": None if regions is None else sorted(set(regions)),
            "strategy": strategy
            or ("versions" if solution_version_arns is not None else "account"),
            "solution_version_arns": None
            if solution_version_arns is None
            else sorted(set(solution_version_arns)),
            "page_size": page_size,
            **(options or {}),
        }
        text = json.dumps(params, sort_keys=True, separators=(",", ":"))
        started = await self._backend.start(text, datetime.now(_UTC), _PROGRAM, resume)
        return InventoryCrawl(
            self._backend, started.crawl_id, started.resumed, started.positions, account
        )

    async def crawl(
        self,
        client: Client,
        *,
        kinds: Iterable[JobKindName] = JOB_KIND_NAMES,
        regions: Iterable[str] | None = None,
        strategy: CrawlStrategy | None = None,
        solution_version_arns: Iterable[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        options: Mapping[str, Any] | None = None,
        account: str | None = None,
        resume: bool = True,
    ) -> CrawlResult:
        """Crawl ``client``'s account into the inventory (``on_error="skip"``: a failed
        listing is recorded, the others go on), resuming an unfinished crawl with the
        same parameters. Arguments as for :meth:`begin_crawl` and
        :meth:`Client.crawl_batch_jobs`.

        :raises PersonalizeError: a fatal error of the crawl (recorded as ``failed``).
        :raises InventoryError: the database failed.
        """
        kinds = tuple(kinds)
        regions = None if regions is None else tuple(regions)
        versions = None if solution_version_arns is None else tuple(solution_version_arns)
        run = await self.begin_crawl(
            kinds=kinds,
            regions=regions,
            strategy=strategy,
            solution_version_arns=versions,
            page_size=page_size,
            options=options,
            account=account,
            resume=resume,
        )
        listing = client.crawl_batch_jobs(
            kinds=kinds,
            regions=run.regions(regions) if versions is None else None,
            strategy=strategy,
            solution_version_arns=versions,
            concurrency=concurrency,
            page_size=page_size,
            on_error="skip",
            resume=run.resume,
        )
        return await run.consume(listing)
