"""Merged listings: many nextToken chains, one stream, one bounded pool.

Shape of a merged listing with ``concurrency=n`` and ``prefetch=k``::

    producer task (owned by the client's TaskSet)
      task group: n workers <-- work queue of chains <-- discovery adds chains
           | each lists one chain at a time, one request at a time
           v
      [stream, buffer n * (k - 1)] --receive--> MergedListing.__anext__ (the consumer)

A *chain* is one paginated call: the jobs of one kind of one solution version in one
region, or (for a crawl) the dataset groups of a region, the solutions of a dataset
group, the versions of a solution. A worker takes the most urgent waiting chain (jobs
first, then the deepest discovery, so jobs flow after a few discovery calls) and
follows its nextTokens to the end, handing each page of jobs to the stream; a
discovery chain queues the chains it finds. So this listing
never has more than ``n`` requests in flight, a slow chain holds one worker only, and
the pool stays full while any work is queued. At most ``n`` workers hold a page each
while the stream's buffer holds ``n * (k - 1)``: ``n * k`` pages ahead of the consumer.

A crawl of several accounts starts with one more kind of chain per account: opening
it (assuming its role, once; its own credentials for the caller's account), which then
queues that account's chains in each region. Those go first (one call each); then a
free worker takes a job chain of the account with the fewest running (the first in
turn among equals), so that one slow or throttled account holds its share of the
workers while the others have chains waiting, never all of them.

Failures follow ``on_error``. With ``"raise"``, the first failure cancels the task
group; once every worker has ended, the original exception reaches the consumer, after
the pages already fetched. With ``"skip"``, the failed chain is recorded as a
:class:`ListingFailure` and the others go on. An account whose role refuses is one
failure (``AssumeRole``); a region where the account's region-wide listings are all
refused (an opt-in region not enabled, a policy denying ``personalize:*``) is one
failure for that account and region (``kind`` ``None``), not one per listing.
Closing the client or a configuration error (no credentials, no region) always ends
the listing, whatever the policy.

The task group lives inside the producer task, never across a ``yield`` to the
consumer; cancelling that task (what leaving the listing does) cancels the pool.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from ._accounts import Accounts, Organization, role_account
from ._discovery import LEVELS, Discovery, DiscoveryChain, expand, roots
from ._exceptions import (
    AccessDeniedError,
    ClientClosedError,
    ConfigurationError,
    InvalidNextTokenError,
    PersonalizeError,
)
from ._models import JobKind, Page, ResourceLevel
from ._paging import Listing, PageSource, TaskSet, hand_over, page_chain, prefetch_source
from ._telemetry import ListingSpan
from ._vocabulary import ChainKey, JobKindName, OnError

__all__ = [
    "AccountPlan",
    "JobChain",
    "ListingFailure",
    "MergeParams",
    "MergeProgress",
    "MergedListing",
    "PageFetcher",
    "merged_listing",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListingFailure:
    """A chain that could not be listed to the end (``on_error="skip"``).

    ``solution_version_arn`` is ``None`` for an account-wide listing of ``kind``, and
    when a discovery call failed: ``kind`` is ``None`` then, and ``parent_arn`` names
    the dataset group (``ListSolutions``) or solution (``ListSolutionVersions``) whose
    children were being listed. In a crawl of several accounts, ``account`` names the
    account; with ``kind``, ``solution_version_arn`` and ``parent_arn`` all ``None``,
    the failure is the whole account's (``operation`` ``AssumeRole``: its role refused)
    or the whole account-region's (its listings there were refused). ``next_token`` is
    where to resume: the token after the last page delivered (or the starting
    token; ``None``: from the start).
    """

    solution_version_arn: str | None
    error: PersonalizeError
    operation: str
    region: str
    kind: JobKindName | None = None
    parent_arn: str | None = None
    next_token: str | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class MergeProgress:
    """How far a merged listing has got.

    ``versions`` counts chains of jobs known so far, one per kind and solution version
    (given, or discovered), or per kind and region for an account-wide crawl; chains a
    crawl resumes as complete count as done.
    ``pages`` and ``jobs`` count what has been handed to you. In a crawl of several
    accounts, ``accounts`` counts those found so far, ``accounts_opened`` those whose
    role was assumed (or the caller's own), ``accounts_failed`` those refused.
    """

    versions: int
    versions_done: int
    versions_failed: int
    pages: int
    jobs: int
    discovering: bool
    accounts: int = 0
    accounts_opened: int = 0
    accounts_failed: int = 0


class PageFetcher(Protocol):
    """What a merge needs from the client: pages, in a region (of an account: only
    asked with ``account`` in a crawl of several accounts, which also uses the
    account methods below)."""

    async def default_region(self) -> str: ...

    async def jobs(
        self,
        region: str,
        kind: JobKind[Any, Any],
        solution_version_arn: str | None,
        next_token: str | None,
        max_results: int,
        account: str | None = None,
    ) -> Page[Any]: ...

    async def arns(
        self,
        region: str,
        level: ResourceLevel,
        parent_arn: str | None,
        next_token: str | None,
        max_results: int,
        account: str | None = None,
    ) -> Page[str]: ...

    async def caller(self) -> tuple[str, str]:
        """The account and partition of the client's own credentials."""
        ...

    async def organization_accounts(self) -> list[str]:
        """The organization's ACTIVE accounts."""
        ...

    async def open_account(
        self, account: str, role_arn: str | None, session_name: str, duration: int | None
    ) -> None:
        """Make ``account`` reachable: through ``role_arn``, or (``None``) with the
        client's own credentials."""
        ...


@dataclass(frozen=True, slots=True)
class JobChain:
    """The jobs of one kind of one solution version, or of the whole account
    (``solution_version_arn`` ``None``), in a region (``None``: the client's), of an
    account (``None``: the client's own)."""

    region: str | None
    kind: JobKind[Any, Any]
    solution_version_arn: str | None
    starting_token: str | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """A crawl of several accounts: which, and what of each (its ``regions``,
    ``None`` for the client's, and ``kinds``; ``discover``: list each solution version
    on its own, found by discovery, rather than each region and kind at once)."""

    accounts: Accounts
    regions: tuple[str | None, ...]
    kinds: tuple[JobKind[Any, Any], ...]
    discover: bool = False


@dataclass(frozen=True, slots=True)
class _AccountChain:
    """Opening one account: assuming ``role_arn`` (``None``: the caller's own)."""

    account: str
    role_arn: str | None


@dataclass(frozen=True, slots=True)
class MergeParams:
    """A merged listing's input, checked: the chains given, what to discover, and how
    (``resume``: chain -> the token to go on after, or ``None`` for a finished chain;
    ``page_retry_window``: how long a page failing with throttling or 5xx is asked
    again, the client's setting)."""

    chains: tuple[JobChain, ...]
    discovery: Discovery | None
    concurrency: int
    page_size: int
    prefetch: int
    on_error: OnError
    resume: Mapping[ChainKey, str | None]
    description: str
    page_retry_window: float = 0.0
    span_kind: str = "merged_listing"  # its span's name: aiopersonalize.<span_kind>
    accounts: AccountPlan | None = None


_Chain = JobChain | DiscoveryChain | _AccountChain

_logger = logging.getLogger("aiopersonalize")


class _Expired(Exception):
    """A chain's starting token was refused before any page came."""


@dataclass(slots=True)
class _Progress:
    versions: int = 0
    versions_done: int = 0
    versions_failed: int = 0
    pages: int = 0
    jobs: int = 0
    discovering: int = 0  # discovery chains queued or running
    starting: bool = False  # discovery is to come, but the producer has not started yet
    accounts: int = 0
    accounts_opened: int = 0
    accounts_failed: int = 0

    def snapshot(self) -> MergeProgress:
        return MergeProgress(
            versions=self.versions,
            versions_done=self.versions_done,
            versions_failed=self.versions_failed,
            pages=self.pages,
            jobs=self.jobs,
            discovering=self.starting or self.discovering > 0,
            accounts=self.accounts,
            accounts_opened=self.accounts_opened,
            accounts_failed=self.accounts_failed,
        )


@dataclass(slots=True)
class _Plan:
    fetcher: PageFetcher
    params: MergeParams
    progress: _Progress = field(default_factory=_Progress)
    failures: list[ListingFailure] = field(default_factory=list)


class _Run:
    """One run of a plan: the work queue, the workers, and the first fatal error."""

    def __init__(self, plan: _Plan, send: MemoryObjectSendStream[Any]) -> None:
        self._plan = plan
        self._send = send
        # Chains wait in _ready, most urgent first; the stream carries one token per
        # waiting chain, and does the waking and the closing.
        # (0: job listings, then discovery, deepest first: DiscoveryChain.urgency.)
        self._ready: tuple[deque[_Chain], ...] = tuple(deque() for _ in range(len(LEVELS) + 1))
        # Job chains wait per account, taken from the accounts in turn; accounts to
        # open go before anything else.
        self._jobs: dict[str | None, deque[JobChain]] = {}
        self._turns: deque[str | None] = deque()
        self._running: Counter[str | None] = Counter()  # job chains running, per account
        self._opening: deque[_AccountChain] = deque()
        self._queue_in, self._queue_out = anyio.create_memory_object_stream[None](math.inf)
        self._pending = 0  # chains queued or running
        self._seen: set[ChainKey] = set()
        # (account, region) whose region-wide listings were refused -> where the
        # failure recorded for them is: reported once.
        self._refused: dict[tuple[str | None, str], int] = {}
        self._default = ""
        self.fatal: BaseException | None = None

    async def run(self) -> None:
        plan, params = self._plan, self._plan.params
        # Entered before the first await: a run cancelled or failing while the client
        # opens still closes its work queue.
        with self._queue_in, self._queue_out:
            try:
                default = self._default = await plan.fetcher.default_region()
            finally:
                plan.progress.starting = False
            for chain in params.chains:
                self._add_jobs(
                    chain.region or default,
                    chain.kind,
                    chain.solution_version_arn,
                    chain.starting_token,
                    chain.account,
                )
            if params.discovery is not None:
                for root in roots(r or default for r in params.discovery.regions):
                    self._add(root)
            if params.accounts is not None:
                await self._add_accounts(params.accounts)
            if self._pending == 0:
                return
            # Discovery finds work as it goes: then every worker is started at once.
            workers = params.concurrency
            if params.discovery is None and params.accounts is None:
                workers = min(workers, self._pending)
            async with anyio.create_task_group() as tg:
                for _ in range(workers):
                    tg.start_soon(self._worker, tg)
        if self.fatal is not None:
            raise self.fatal

    async def _add_accounts(self, plan: AccountPlan) -> None:
        """Queue the opening of each account of ``plan``. A failure to find them (the
        caller's identity, the organization's accounts) is the crawl's, under either
        policy: there is nothing to list without them."""
        fetcher, spec = self._plan.fetcher, plan.accounts
        targets: list[tuple[str, str | None]]
        if isinstance(spec, Organization):
            own, partition = await fetcher.caller()
            targets = [
                (
                    account,
                    None
                    if account == own
                    else f"arn:{partition}:iam::{account}:role/{spec.role_name}",
                )
                for account in await fetcher.organization_accounts()
            ]
        else:
            targets = [(role_account(arn), arn) for arn in spec.role_arns]
        for account, role_arn in targets:
            self._plan.progress.accounts += 1
            self._add(_AccountChain(account, role_arn))

    def _add(self, chain: _Chain) -> None:
        self._pending += 1
        if isinstance(chain, DiscoveryChain):
            self._plan.progress.discovering += 1
            self._ready[chain.urgency].append(chain)
        elif isinstance(chain, _AccountChain):
            self._opening.append(chain)
        else:
            waiting = self._jobs.get(chain.account)
            if waiting is None:
                waiting = self._jobs[chain.account] = deque()
                self._turns.append(chain.account)
            waiting.append(chain)
        self._queue_in.send_nowait(None)

    def _take(self) -> _Chain:
        # Accounts to open first (one call each), then jobs, an account at a time in
        # turn, then the deepest discovery: the first jobs arrive after a few
        # discovery calls, not after all of them, and the queue stays short.
        if self._opening:
            return self._opening.popleft()
        if self._turns:
            account = self._fewest_running()
            waiting = self._jobs[account]
            chain = waiting.popleft()
            if not waiting:
                del self._jobs[account]
                self._turns.remove(account)
            self._running[account] += 1
            return chain
        return next(ready for ready in self._ready if ready).popleft()

    def _fewest_running(self) -> str | None:
        """The account with chains waiting and the fewest running, the first in turn
        among equals (and that one goes to the back of the turn)."""
        turns, running = self._turns, self._running
        best, fewest = 0, running[turns[0]]
        for i in range(1, len(turns)):
            if fewest == 0:
                break
            if (count := running[turns[i]]) < fewest:
                best, fewest = i, count
        turns.rotate(-best)
        account = turns.popleft()
        turns.append(account)
        return account

    def _add_jobs(
        self,
        region: str,
        kind: JobKind[Any, Any],
        arn: str | None,
        token: str | None = None,
        account: str | None = None,
    ) -> None:
        key = ChainKey(region, kind.name, arn, account)
        if key in self._seen:
            return
        self._seen.add(key)
        progress = self._plan.progress
        progress.versions += 1
        resume = self._plan.params.resume
        if key in resume:
            token = resume[key]
            if token is None:  # listed to the end by an earlier run
                progress.versions_done += 1
                return
        self._add(JobChain(region, kind, arn, token, account))

    def _done(self, chain: _Chain) -> None:
        if isinstance(chain, DiscoveryChain):
            self._plan.progress.discovering -= 1
        elif isinstance(chain, JobChain):
            self._running[chain.account] -= 1
        self._pending -= 1
        if self._pending == 0:
            self._queue_in.close()  # every worker's loop ends

    async def _worker(self, tg: TaskGroup) -> None:
        async for _ in self._queue_out:
            chain = self._take()
            try:
                await self._run_chain(chain)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                tg.cancel_scope.cancel()  # the consumer has gone
                return
            except Exception as exc:
                if isinstance(chain, JobChain):  # a listing that failed, fatally
                    self._plan.progress.versions_failed += 1
                if self.fatal is None:
                    self.fatal = exc
                tg.cancel_scope.cancel()
                return
            finally:
                self._done(chain)

    async def _run_chain(self, chain: _Chain) -> None:
        if isinstance(chain, DiscoveryChain):
            await self._discover(chain)
        elif isinstance(chain, _AccountChain):
            await self._open(chain)
        else:
            await self._list_jobs(chain)

    async def _open(self, chain: _AccountChain) -> None:
        """Open one account, then queue its chains in each region."""
        plan = self._plan
        accounts = plan.params.accounts
        assert accounts is not None
        spec = accounts.accounts
        try:
            await plan.fetcher.open_account(
                chain.account, chain.role_arn, spec.session_name, spec.duration_seconds
            )
        except PersonalizeError as exc:
            if not self._tolerate(exc):
                raise
            plan.progress.accounts_failed += 1
            plan.failures.append(
                ListingFailure(
                    None,
                    exc,
                    operation=exc.operation or "AssumeRole",
                    region=self._default,
                    account=chain.account,
                )
            )
            return
        plan.progress.accounts_opened += 1
        for region in dict.fromkeys(r or self._default for r in accounts.regions):
            if accounts.discover:
                self._add(DiscoveryChain(region, LEVELS[0], None, chain.account))
            else:
                for kind in accounts.kinds:
                    self._add_jobs(region, kind, None, account=chain.account)

    def _region_failure(
        self, account: str | None, region: str, make: Callable[..., ListingFailure]
    ) -> Callable[..., ListingFailure | None]:
        """The failure of a region-wide listing. A refusal of access is recorded as the
        listing's; a second one in the same account and region turns that record into
        the whole account-region's (``kind`` ``None``) instead of adding another."""

        def failure(*, error: PersonalizeError, next_token: str | None) -> ListingFailure | None:
            record = make(error=error, next_token=next_token)
            if not isinstance(error, AccessDeniedError):
                return record
            failures = self._plan.failures
            lane = (account, region)
            first = self._refused.get(lane)
            if first is None:
                self._refused[lane] = len(failures)  # where the caller appends it
                return record
            failures[first] = dataclasses.replace(failures[first], kind=None, next_token=None)
            return None

        return failure

    def _tolerate(self, exc: PersonalizeError) -> bool:
        """Whether a chain's failure is recorded and the others go on."""
        fatal = isinstance(exc, (ClientClosedError, ConfigurationError))
        return self._plan.params.on_error == "skip" and not fatal

    async def _follow(
        self,
        fetch: Callable[[str | None, int], Awaitable[Page[Any]]],
        on_page: Callable[[Page[Any]], Awaitable[None]],
        failure: Callable[..., ListingFailure | None],
        *,
        starting_token: str | None,
        operation: str,
        solution_version_arn: str | None = None,
    ) -> bool:
        """Follow one chain to its end, handing each page to ``on_page``; whether it got
        there. A failure the policy tolerates is recorded with ``failure(error=...,
        next_token=...)``; any other is raised. A starting token the service refuses
        before any page came is :class:`_Expired`, for the caller to start over."""
        token = starting_token
        pages = page_chain(
            fetch,
            starting_token=token,
            page_size=self._plan.params.page_size,
            max_items=None,
            operation=operation,
            solution_version_arn=solution_version_arn,
            retry_window=self._plan.params.page_retry_window,
        )
        try:
            async for page in pages:
                await on_page(page)
                token = page.next_token
        except PersonalizeError as exc:
            # (token is still the starting token: no page of this chain came yet)
            expired = isinstance(exc, InvalidNextTokenError)
            if expired and token is not None and token == starting_token:
                raise _Expired from exc
            if not self._tolerate(exc):
                raise
            record = failure(error=exc, next_token=token)
            if record is not None:
                self._plan.failures.append(record)
            return False
        finally:
            await pages.aclose()
        return True

    async def _list_jobs(self, chain: JobChain) -> None:
        plan = self._plan
        assert chain.region is not None
        region, kind, arn = chain.region, chain.kind, chain.solution_version_arn
        account = chain.account

        async def fetch(next_token: str | None, max_results: int) -> Page[Any]:
            if account is None:
                return await plan.fetcher.jobs(region, kind, arn, next_token, max_results)
            return await plan.fetcher.jobs(
                region, kind, arn, next_token, max_results, account=account
            )

        own = partial(
            ListingFailure,
            arn,
            operation=kind.list_operation,
            region=region,
            kind=kind.name,
            account=account,
        )
        failure: Callable[..., ListingFailure | None] = (
            own if arn is not None else self._region_failure(account, region, own)
        )
        send = self._send

        async def restarted(page: Page[Any]) -> None:
            await hand_over(send, dataclasses.replace(page, restarted=True))

        try:
            completed = await self._follow(
                fetch,
                partial(hand_over, send),
                failure,
                starting_token=chain.starting_token,
                operation=kind.list_operation,
                solution_version_arn=arn,
            )
        except _Expired:
            # The token of an earlier run has expired (or was never valid): the chain
            # is listed again from its start, its pages marked so that the consumer
            # can skip the jobs it already had.
            _logger.info(
                "%s of %s in %s: the resume token was refused; listing it again from the start",
                kind.list_operation,
                arn or "the account",
                region,
            )
            completed = await self._follow(
                fetch,
                restarted,
                failure,
                starting_token=None,
                operation=kind.list_operation,
                solution_version_arn=arn,
            )
        if completed:
            plan.progress.versions_done += 1
        else:
            plan.progress.versions_failed += 1

    async def _discover(self, chain: DiscoveryChain) -> None:
        plan = self._plan
        if plan.params.accounts is not None:
            kinds = plan.params.accounts.kinds
        else:
            assert plan.params.discovery is not None
            kinds = plan.params.discovery.kinds
        region, level, parent = chain.region, chain.level, chain.parent_arn
        account = chain.account

        async def fetch(next_token: str | None, max_results: int) -> Page[str]:
            if account is None:
                return await plan.fetcher.arns(region, level, parent, next_token, max_results)
            return await plan.fetcher.arns(
                region, level, parent, next_token, max_results, account=account
            )

        async def found(page: Page[str]) -> None:
            for child in expand(chain, page.items):
                if isinstance(child, DiscoveryChain):
                    self._add(child)
                else:  # a solution version: list its jobs
                    for kind in kinds:
                        self._add_jobs(region, kind, child, account=account)

        own = partial(
            ListingFailure,
            None,
            operation=level.operation,
            region=region,
            parent_arn=parent,
            account=account,
        )
        failure: Callable[..., ListingFailure | None] = (
            own if parent is not None else self._region_failure(account, region, own)
        )
        await self._follow(fetch, found, failure, starting_token=None, operation=level.operation)


class MergedListing(Listing[T]):
    """The jobs of many chains as one :class:`Listing`, as they arrive.

    Pages of one chain keep their order; chains interleave page by page. Each page
    names its chain (``solution_version_arn``, ``kind``, ``region``), and each
    chain's last page has ``next_token=None``, also when it is empty, so
    :meth:`pages` shows every chain finish (for checkpoints).
    """

    def __init__(
        self, source: PageSource[T], plan: _Plan, *, description: str, span: ListingSpan
    ) -> None:
        super().__init__(source, description=description, span=span)
        self._plan = plan

    def _end_span(self, error: BaseException | None) -> None:
        progress = self._plan.progress
        self._span.end(
            error,
            extra=lambda: {
                "aiopersonalize.listings": progress.versions,
                "aiopersonalize.listings_done": progress.versions_done,
                "aiopersonalize.listings_failed": progress.versions_failed,
            },
        )

    @property
    def failures(self) -> tuple[ListingFailure, ...]:
        """The chains that failed so far (``on_error="skip"``)."""
        return tuple(self._plan.failures)

    @property
    def progress(self) -> MergeProgress:
        """A snapshot of how far the listing has got."""
        return self._plan.progress.snapshot()

    async def _next_page(self) -> Page[T] | None:
        page = await super()._next_page()
        if page is not None:
            progress = self._plan.progress
            progress.pages += 1
            progress.jobs += len(page.items)
        return page


def merged_listing(
    fetcher: PageFetcher, params: MergeParams, *, tasks: TaskSet
) -> MergedListing[Any]:
    """A merged listing of ``params.chains`` (and of what ``params.discovery`` finds)."""
    plan = _Plan(fetcher=fetcher, params=params)

    async def produce(send: MemoryObjectSendStream[Any]) -> None:
        await _Run(plan, send).run()

    plan.progress.starting = params.discovery is not None or (
        params.accounts is not None and params.accounts.discover
    )
    # Each worker holds at most one page while it waits for room in the stream.
    buffer = params.concurrency * (params.prefetch - 1) + 1
    source = prefetch_source(produce, prefetch=buffer, tasks=tasks)
    span = ListingSpan(params.span_kind, params.description)
    return MergedListing(source, plan, description=params.description, span=span)
