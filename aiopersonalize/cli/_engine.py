"""The crawl engine: a :class:`Plan` crawled into a sink, page by page.

:func:`crawl` lists the plan through :meth:`aiopersonalize.Client.crawl_batch_jobs`,
writes each page as JSON Lines (then journals it, with a checkpoint), stops on SIGINT
or SIGTERM after the page being written, redraws a progress line, and returns an
:class:`Outcome`: what it did, fatal errors included, for the summary. The ``crawl``
command and the demo both run it. An output that is a file or a pipe is written by the
output's writer process (:mod:`._writer`), off the crawl's CPU; the demo's sample, here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from aiopersonalize import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    JOB_KIND_NAMES,
    ChainKey,
    Client,
    CrawlStrategy,
    InventoryCrawl,
    InventoryError,
    JobKindName,
    ListingFailure,
    MergedListing,
    MergeProgress,
    OnError,
    Organization,
    Page,
    PersonalizeError,
    RequestStats,
    RoleArns,
)

from ._checkpoint import Journal
from ._jsonl import Job, Sink, chain_arns, job_arn, page_lines
from ._writer import OutputWriter, descriptor, output_writer

__all__ = ["Outcome", "Plan", "crawl", "progress_text"]

# Pages listed ahead of the inventory's writer at most: the listing is held up only
# when the database falls this far behind (and memory stays bounded).
_DATABASE_BUFFER = 64

# The progress line is redrawn this often: lively, yet cheap next to the crawl.
_PROGRESS_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class Plan:
    """What to crawl and how: :meth:`Client.crawl_batch_jobs`'s arguments."""

    kinds: tuple[JobKindName, ...] = JOB_KIND_NAMES
    regions: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    page_size: int = DEFAULT_PAGE_SIZE
    on_error: OnError = "skip"
    strategy: CrawlStrategy | None = None
    resume: Mapping[ChainKey, str | None] | None = None
    accounts: Organization | RoleArns | None = None

    @property
    def accounts_param(self) -> dict[str, object] | None:
        """The accounts crawled, as a checkpoint's header records them."""
        if isinstance(self.accounts, Organization):
            return {"organization": self.accounts.role_name}
        if isinstance(self.accounts, RoleArns):
            return {"role_arns": sorted(self.accounts.role_arns)}
        return None

    @property
    def resolved_strategy(self) -> CrawlStrategy:
        """The strategy the crawl uses: the one given, or the library's default."""
        return self.strategy or ("versions" if self.versions is not None else "account")

    def listing(self, client: Client) -> MergedListing[Job]:
        return client.crawl_batch_jobs(
            kinds=self.kinds,
            regions=self.regions,
            accounts=self.accounts,
            strategy=self.strategy,
            solution_version_arns=self.versions,
            concurrency=self.concurrency,
            page_size=self.page_size,
            on_error=self.on_error,
            resume=self.resume,
        )


@dataclass(slots=True)
class Outcome:
    """What a crawl did: what the summary prints and the exit status judges."""

    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    jobs: Counter[str] = field(default_factory=Counter)
    regions: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)  # of a crawl of several accounts
    interrupted: bool = False
    error: PersonalizeError | OSError | None = None
    failures: tuple[ListingFailure, ...] = ()
    progress: MergeProgress | None = None
    stats: RequestStats | None = None
    resumed_chains: int = 0
    kept_bytes: int = 0
    reader_gone: bool = False  # stdout's reader closed the pipe
    strategy: CrawlStrategy | None = None  # what a listing is: see the summary
    restarted: set[ChainKey] = field(default_factory=set)  # listed again from the start
    repeats_skipped: int = 0  # jobs of restarted chains the output already had
    database: str | None = None  # the inventory's line of the summary (--db)


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the interrupted run of a resumed crawl wrote: the output's first ``length``
    bytes, where a chain listed again from its start (``restarted`` ones, and any whose
    resume token the service now refuses) finds the jobs it must not write twice."""

    output: Path
    length: int
    restarted: frozenset[ChainKey] = frozenset()

    def jobs_of(self, key: ChainKey) -> set[str]:
        """The ARNs of the jobs of ``key`` that the output holds."""
        with self.output.open("rb") as file:
            return chain_arns(_lines_upto(file, self.length), key)


def _lines_upto(file: BinaryIO, length: int) -> Iterator[bytes]:
    read = 0
    for line in file:
        read += len(line)
        if read > length:
            return
        yield line


class _Repeats:
    """Drops from the pages of restarted chains the jobs the output already holds."""

    def __init__(self, earlier: Earlier | None) -> None:
        self._earlier = earlier
        self._written: dict[ChainKey, set[str]] = {}

    def filter(self, key: ChainKey, page: Page[Job]) -> tuple[Page[Job], bool]:
        """The page with its repeats left out, and whether its chain was restarted."""
        earlier = self._earlier
        if not page.restarted and (earlier is None or key not in earlier.restarted):
            return page, False
        written = self._written.get(key)
        if written is None:
            written = self._written[key] = set() if earlier is None else earlier.jobs_of(key)
        fresh = tuple(job for job in page.items if job_arn(job) not in written)
        return dataclasses.replace(page, items=fresh), True


def _chain(page: Page[Job]) -> ChainKey:
    if page.region is None or page.kind is None:
        raise RuntimeError(f"a crawl page without its chain: {page!r}")  # pragma: no cover
    return ChainKey(page.region, page.kind, page.solution_version_arn, page.account)


async def _write_pages(
    listing: MergedListing[Job],
    sink: Sink | None,
    journal: Journal | None,
    outcome: Outcome,
    earlier: Earlier | None,
    store: MemoryObjectSendStream[Page[Job]] | None,
    writer: OutputWriter | None,
) -> None:
    """Write each page (hand it to the inventory's writer, then as JSON Lines), then
    journal it: in the output's writer process when there is one, here otherwise.

    Either way a page's output and its journal entry are written whole, in that order,
    with no cancellation between them (a killed process is the journal's business; the
    inventory's commits are whole pages by construction). A chain listed again from its
    start writes only the jobs the output does not hold yet (the inventory takes them
    all: its rows are keyed by ARN).
    """
    repeats = _Repeats(earlier)
    async with listing:
        async for listed in listing.pages():
            key = _chain(listed)
            if store is not None:
                # Not ``await store.send()`` while there is room: its checkpoint, one
                # more turn of the event loop per page, cost the crawl's process 0.7 to
                # 1.9 µs a job (benchmarks/README.md, db). The listing's awaits are
                # this loop's checkpoints.
                try:
                    store.send_nowait(listed)
                except anyio.WouldBlock:
                    await store.send(listed)
                except anyio.BrokenResourceError:
                    return  # the writer has failed: its error is the outcome's
            page, restarted = repeats.filter(key, listed)
            if writer is not None:
                await writer.write(key, page, restarted=restarted)
            elif sink is not None:
                data = page_lines(page)
                sink.write(data)
                sink.flush()
                if journal is not None:
                    journal.record(key, page.next_token, data, restarted=restarted)
            if restarted:
                outcome.restarted.add(key)
                outcome.repeats_skipped += len(listed.items) - len(page.items)
            outcome.jobs[page.kind or "?"] += len(page.items)
            if page.region is not None:
                outcome.regions.add(page.region)
            if page.account is not None:
                outcome.accounts.add(page.account)


async def _consume(
    listing: MergedListing[Job],
    sink: Sink | None,
    journal: Journal | None,
    outcome: Outcome,
    earlier: Earlier | None,
    inventory: InventoryCrawl | None,
    writer: OutputWriter | None,
) -> None:
    """:func:`_write_pages`, with a fatal error kept on the outcome; with an inventory,
    its writer stores the pages in a task of its own, and a failed write ends the crawl."""
    if inventory is None:
        await _consume_into(listing, sink, journal, outcome, earlier, None, writer)
        return
    send, receive = anyio.create_memory_object_stream[Page[Job]](_DATABASE_BUFFER)

    async def store() -> None:
        try:
            await inventory.store(receive)
        except InventoryError as exc:
            outcome.error = outcome.error or exc
            tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(store)
        async with send:
            await _consume_into(listing, sink, journal, outcome, earlier, send, writer)


async def _consume_into(
    listing: MergedListing[Job],
    sink: Sink | None,
    journal: Journal | None,
    outcome: Outcome,
    earlier: Earlier | None,
    store: MemoryObjectSendStream[Page[Job]] | None,
    writer: OutputWriter | None,
) -> None:
    try:
        await _write_pages(listing, sink, journal, outcome, earlier, store, writer)
    except (PersonalizeError, OSError) as exc:
        _failed(outcome, exc)


def _failed(outcome: Outcome, exc: PersonalizeError | OSError) -> None:
    """Keep the crawl's first fatal error on the outcome; a reader of stdout that has
    gone (``crawl | head``) is no error: the crawl stops quietly, as a filter does."""
    if isinstance(exc, BrokenPipeError):
        outcome.reader_gone = True
    elif outcome.error is None:
        outcome.error = exc


async def _watch_signals(
    scope: anyio.CancelScope,
    outcome: Outcome,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """On SIGINT or SIGTERM, stop the crawl (after the page being written)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            outcome.interrupted = True
            scope.cancel()
            return


class _ProgressLine:
    """One line of stderr, redrawn in place with ``\\r``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._width = 0

    def show(self, text: str) -> None:
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


async def _finish_output(writer: OutputWriter, outcome: Outcome) -> None:
    """Wait for the output's writer process to write (and journal) every page handed
    over, however the crawl ended: they are whole pages of it. Its failure is the
    crawl's, and the jobs it wrote are the crawl's count (those handed over, if it was
    killed before it could say)."""
    try:
        await writer.finish()
    except OSError as exc:
        _failed(outcome, exc)
    if writer.written is not None:  # what reached the output (a failure stops short)
        outcome.jobs = Counter(writer.written)


def progress_text(progress: MergeProgress, stats: RequestStats, elapsed: float) -> str:
    """``listings 10/24 · failed 0 · jobs 500 · requests 60 · retries 2 · 830 jobs/s``,
    after ``accounts 3/4 · `` (opened of found) in a crawl of several accounts."""
    rate = progress.jobs / elapsed if elapsed > 0 else 0.0
    accounts = (
        f"accounts {progress.accounts_opened}/{progress.accounts} · " if progress.accounts else ""
    )
    text = accounts + (
        f"listings {progress.versions_done}/{progress.versions} · "
        f"failed {progress.versions_failed} · jobs {progress.jobs} · "
        f"requests {stats.requests} · retries {stats.retries} · {rate:.0f} jobs/s"
    )
    return text + (" · discovering" if progress.discovering else "")


async def _report_progress(
    listing: MergedListing[Job], client: Client, outcome: Outcome, line: _ProgressLine
) -> None:
    while True:
        # First after one interval: a crawl that quick needs no progress line.
        await anyio.sleep(_PROGRESS_INTERVAL)
        elapsed = time.monotonic() - outcome.started
        line.show(progress_text(listing.progress, client.stats, elapsed))


async def crawl(
    client: Client,
    plan: Plan,
    sink: Sink | None,
    *,
    journal: Journal | None = None,
    progress: TextIO | None = None,
    earlier: Earlier | None = None,
    inventory: InventoryCrawl | None = None,
) -> Outcome:
    """Crawl ``plan`` into ``sink`` as JSON Lines (``None``: none) and into ``inventory``
    (:meth:`~aiopersonalize.Inventory.begin_crawl`'s; the caller finishes it); the
    returned outcome says how it went.

    ``journal``: the checkpoint's, positioned at the sink's end. Fatal errors and
    signals end the crawl and are kept on the outcome, never raised: what was written
    stays written (and journaled). ``progress``: a stream for the progress line.
    ``earlier``: what the interrupted run of a resumed crawl wrote.

    :raises ParamValidationError: the plan is invalid (nothing was sent).
    """
    outcome = Outcome(strategy=plan.resolved_strategy)
    listing = plan.listing(client)
    line = _ProgressLine(progress) if progress is not None else None
    try:
        async with contextlib.AsyncExitStack() as stack:
            writer = None
            if sink is not None and descriptor(sink) is not None:
                try:
                    writer = await stack.enter_async_context(output_writer(sink, journal))
                except OSError as exc:
                    await listing.aclose()
                    outcome.error = exc
                    return outcome
            try:
                async with anyio.create_task_group() as tg:
                    if threading.current_thread() is threading.main_thread():
                        await tg.start(_watch_signals, tg.cancel_scope, outcome)
                    if line is not None:
                        tg.start_soon(_report_progress, listing, client, outcome, line)
                    await _consume(listing, sink, journal, outcome, earlier, inventory, writer)
                    tg.cancel_scope.cancel()
            finally:
                if writer is not None:
                    await _finish_output(writer, outcome)
    finally:
        if line is not None:
            line.clear()
        outcome.elapsed = time.monotonic() - outcome.started
        outcome.failures = listing.failures
        outcome.progress = listing.progress
        outcome.stats = client.stats
    return outcome
