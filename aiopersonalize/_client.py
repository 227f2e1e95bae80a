"""The public client: its lifecycle, and the list/describe operations."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from . import _redact
from . import _validation as check
from ._accounts import Accounts, Organization, RoleArns
from ._discovery import Discovery
from ._exceptions import ClientClosedError, ParamValidationError, PersonalizeError, UsageError
from ._merge import AccountPlan, JobChain, MergedListing, MergeParams, merged_listing
from ._models import (
    INFERENCE,
    KINDS,
    SEGMENT,
    BatchInferenceJob,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    JobKind,
    Page,
    ResourceLevel,
)
from ._paging import Listing, TaskSet, hand_over, inline_source, page_chain, prefetch_source
from ._telemetry import ListingSpan
from ._transport import (
    AccountSessions,
    Limits,
    Transport,
    TransportOptions,
    check_service,
    personalize_regions,
    pool_size,
)
from ._vocabulary import (
    CRAWL_STRATEGIES,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PAGE_RETRY_WINDOW,
    DEFAULT_PAGE_SIZE,
    JOB_KIND_NAMES,
    ON_ERROR_POLICIES,
    RETRY_MODES,
    ChainKey,
    CrawlStrategy,
    JobKindName,
    OnError,
    RetryMode,
)

if TYPE_CHECKING:
    from aiobotocore.client import AioBaseClient
    from aiobotocore.session import AioSession

__all__ = ["Client", "RequestStats"]

S = TypeVar("S")
F = TypeVar("F")
C = TypeVar("C", bound="Client")  # ``Self`` for Python 3.10


@dataclass(frozen=True, slots=True)
class RequestStats:
    """What a client has sent so far, counted as each HTTP request goes out.

    ``calls``: API calls that sent a request (one that failed before sending any, for
    want of credentials or by cancellation, is not counted); ``requests``: HTTP
    requests sent, calls plus ``retries``, botocore's retries of them, so
    ``requests == calls + retries`` always; ``throttled``: answers in which the
    service throttled a request (each retried, or the call's error).
    """

    calls: int
    requests: int
    retries: int = 0
    throttled: int = 0


def _limits(
    max_concurrency: int, max_requests_per_second: object, page_retry_window: object
) -> Limits:
    """A client's limits; ``max_concurrency`` is checked already, the others here."""
    rate = check.positive_rate("max_requests_per_second", max_requests_per_second)
    window = check.seconds("page_retry_window", page_retry_window)
    return Limits(
        max_concurrency=max_concurrency,
        max_requests_per_second=rate,
        page_retry_window=window,
    )


def _arn_region(arn: str) -> str | None:
    """The region an ARN names (``arn:partition:service:region:account:resource``)."""
    return arn.split(":", 4)[3] or None


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


def _optional_str(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ParamValidationError(name, f"expected a str, got {type(value).__name__}")
    return value


def _endpoint_url(value: object) -> str | None:
    url = _optional_str("endpoint_url", value)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ParamValidationError("endpoint_url", f"expected an http(s) URL, got {url!r}")
    return url


def _without_userinfo(url: str | None) -> str | None:
    """``url`` without a ``user:password@`` part, for reprs."""
    if url is None:
        return None
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class Client:
    """An async client for Amazon Personalize's batch-job inventory.

    Use it as an async context manager, or call :meth:`aclose` when done (it opens
    itself on first use)::

        async with aiopersonalize.Client(region_name="us-east-1") as client:
            async for job in client.list_batch_inference_jobs(solution_version_arn=arn):
                print(job.job_name, job.status)

    Credentials, region and endpoint resolve as in botocore (arguments, environment,
    profile, instance metadata); ``session`` takes an aiobotocore ``AioSession`` and
    ``config`` a botocore ``Config`` merged over this client's defaults. Each request
    is retried by botocore: ``retry_mode`` (``"standard"`` by default) and
    ``max_attempts`` override the ``Config``.

    The rate is this client's own: the requests of each region are paced at the quota
    the service shows by throttling (found by listening to its answers, see
    ``_rate.py``), so a crawl runs close to the quota without tipping over, and
    throttling that the rate does not cause does not slow it down. A page that still
    fails with throttling or a server error once botocore's attempts are spent is
    asked again from its own token, with backoff, for up to ``page_retry_window``
    seconds (0: not at all) before its listing fails.

    ``max_concurrency`` caps the requests this client has in flight at once, across
    all its listings and regions; its connection pool is sized to at least that, so
    the pool is never the bottleneck. ``max_requests_per_second`` optionally caps the
    HTTP requests it sends per second, retries included (a leaky bucket: at most one
    second's worth at once), on top of the pace. To use an aiobotocore client you
    already own, see :meth:`wrap`.
    """

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
        session: AioSession | None = None,
        config: Any = None,
        retry_mode: RetryMode | None = None,
        max_attempts: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_requests_per_second: float | None = None,
        page_retry_window: float = DEFAULT_PAGE_RETRY_WINDOW,
    ) -> None:
        if session is not None and profile_name is not None:
            raise ParamValidationError(
                "profile_name", "give either session or profile_name, not both"
            )
        if retry_mode is not None:
            check.choice("retry_mode", retry_mode, RETRY_MODES)
        options = TransportOptions(
            region_name=None if region_name is None else check.region("region_name", region_name),
            endpoint_url=_endpoint_url(endpoint_url),
            profile_name=_optional_str("profile_name", profile_name),
            aws_access_key_id=_optional_str("aws_access_key_id", aws_access_key_id),
            aws_secret_access_key=_optional_str("aws_secret_access_key", aws_secret_access_key),
            aws_session_token=_optional_str("aws_session_token", aws_session_token),
            session=session,
            config=config,
            retry_mode=retry_mode,
            max_attempts=None
            if max_attempts is None
            else check.int_in_range("max_attempts", max_attempts, 1),
            max_pool_connections=check.int_in_range("max_concurrency", max_concurrency, 1),
        )
        limits = _limits(max_concurrency, max_requests_per_second, page_retry_window)
        self._options: TransportOptions | None = options
        self._setup(Transport(limits=limits, options=options), limits)
        self._where = f"region={region_name!r} endpoint={_without_userinfo(options.endpoint_url)!r}"

    @classmethod
    def wrap(
        cls,
        client: AioBaseClient,
        *,
        max_concurrency: int | None = None,
        max_requests_per_second: float | None = None,
        page_retry_window: float = DEFAULT_PAGE_RETRY_WINDOW,
    ) -> Client:
        """A client over an open aiobotocore Personalize client that you own.

        You keep ownership: closing this client leaves yours open. Your client's
        connection pool bounds the concurrency (``max_concurrency`` defaults to its
        size and may not exceed it). It covers your client's region only.
        """
        check_service(client)
        pool = pool_size(client)
        limit = pool if max_concurrency is None else max_concurrency
        check.int_in_range("max_concurrency", limit, 1, pool)
        limits = _limits(limit, max_requests_per_second, page_retry_window)
        self = cls.__new__(cls)
        self._options = None
        self._setup(Transport(limits=limits, client=client), limits)
        self._where = f"wrapping {type(client).__name__}"
        return self

    def _setup(self, transport: Transport, limits: Limits) -> None:
        _redact.install()  # botocore logs signed requests, credentials and all, at DEBUG
        self._transport = transport
        # (account, region) -> transport; account None: the client's own credentials.
        self._regional: dict[tuple[str | None, str], Transport] = {}
        # Accounts a crawl has opened -> the options of their transports.
        self._account_options: dict[str, TransportOptions] = {}
        self._sessions: AccountSessions | None = None
        self._limits = limits
        self._tasks = TaskSet()
        # The requests running in callers' own tasks (a describe, a prefetch=0 page).
        self._requests: set[anyio.CancelScope] = set()
        self._state = _State.UNOPENED
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"<aiopersonalize.Client {self._where} [{self._state.value}]>"

    async def __aenter__(self: C) -> C:
        if self._state is not _State.UNOPENED:
            if self._state is _State.CLOSED:
                raise ClientClosedError("the client is closed; create a new one")
            raise UsageError("the client is already open; enter it once")
        await self._ensure_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel running listings and close the connections. Safe to call twice."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        with anyio.CancelScope(shield=True):
            await self._tasks.aclose()
            for scope in self._requests:
                scope.cancel()
            async with self._lock:
                regional, self._regional = self._regional, {}
                for transport in (self._transport, *regional.values()):
                    await transport.aclose()

    async def _ensure_open(self) -> None:
        if self._state is _State.OPEN:
            return
        async with self._lock:
            self._check_usable()
            if self._state is _State.UNOPENED:
                await self._transport.open()
                self._state = _State.OPEN

    @property
    def stats(self) -> RequestStats:
        """The API calls and HTTP requests this client has made so far."""
        limits = self._limits
        return RequestStats(
            calls=limits.calls,
            requests=limits.requests,
            retries=limits.retries,
            throttled=limits.throttled,
        )

    async def _in_region(self, region: str, account: str | None = None) -> Transport:
        """The open transport for ``region`` (of ``account``, one a crawl has opened;
        ``None``: the client's own): this client's own, or a sibling created on first
        use with the same options (but the account's credentials) and the same limits."""
        await self._ensure_open()
        if account is None and region == self._transport.region:
            return self._transport
        transport = self._regional.get((account, region))
        if transport is not None:
            return transport
        async with self._lock:
            self._check_usable()
            transport = self._regional.get((account, region))
            if transport is None:
                if self._options is None:
                    raise UsageError(f"a wrapped client covers its own region only, not {region!r}")
                base = self._options if account is None else self._account_options[account]
                options = dataclasses.replace(base, region_name=region)
                transport = Transport(limits=self._limits, options=options, account=account)
                await transport.open()
                self._regional[account, region] = transport
        return transport

    def _account_sessions(self) -> AccountSessions:
        if self._options is None:  # checked before the crawl starts
            raise UsageError("a wrapped client covers its own account only")
        if self._sessions is None:
            self._sessions = AccountSessions(self._options)
        return self._sessions

    async def _open_account(
        self, account: str, role_arn: str | None, session_name: str, duration: int | None
    ) -> None:
        """Make ``account`` reachable for :meth:`_in_region`."""
        await self._ensure_open()
        if account in self._account_options:
            return
        assert self._options is not None
        if role_arn is None:
            options = self._options
        else:
            async with self._open_for_request():
                options = await self._account_sessions().assume(role_arn, session_name, duration)
        self._account_options.setdefault(account, options)

    def _check_usable(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("the client is closed; create a new one")

    @contextlib.asynccontextmanager
    async def _open_for_request(self) -> Any:
        await self._ensure_open()
        # aclose() cancels this scope, so that a request running in the caller's task
        # ends at once instead of being retried by botocore on the closed client.
        scope = anyio.CancelScope()
        self._requests.add(scope)
        try:
            with scope:
                yield
        except PersonalizeError as exc:
            # A request cut short by aclose() fails for that reason, whatever the
            # transport made of its closed connection.
            if self._state is _State.CLOSED and not isinstance(exc, ClientClosedError):
                raise ClientClosedError("the client was closed during the request") from exc
            raise
        finally:
            self._requests.discard(scope)
        if scope.cancelled_caught:
            raise ClientClosedError("the client was closed during the request")

    @contextlib.asynccontextmanager
    async def _open_in_region(
        self, region: str, account: str | None = None
    ) -> AsyncIterator[Transport]:
        """:meth:`_open_for_request`, with the transport for ``region`` (of ``account``)."""
        async with self._open_for_request():
            yield await self._in_region(region, account)

    # -- listings ---------------------------------------------------------------------

    def list_batch_inference_jobs(
        self,
        solution_version_arn: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        starting_token: str | None = None,
        prefetch: int = 1,
    ) -> Listing[BatchInferenceJobSummary]:
        """The batch inference jobs of one solution version (or of the account), in the
        service's order (AWS documents none; the emulator's is newest first), as a
        :class:`Listing` of :class:`BatchInferenceJobSummary`.

        :param solution_version_arn: list only this version's jobs.
        :param page_size: jobs per request (``maxResults``), 1 to 100.
        :param max_items: stop after this many jobs.
        :param starting_token: resume after the page whose ``next_token`` this is.
        :param prefetch: pages requested ahead of the one you are working on
            (0: request each page only when you need it).
        :raises ParamValidationError: on bad input, before anything is sent.
        """
        return self._list(
            INFERENCE, solution_version_arn, page_size, max_items, starting_token, prefetch
        )

    def list_batch_segment_jobs(
        self,
        solution_version_arn: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        starting_token: str | None = None,
        prefetch: int = 1,
    ) -> Listing[BatchSegmentJobSummary]:
        """The batch segment jobs of one solution version (or of the account), in the
        service's order (AWS documents none; the emulator's is newest first), as a
        :class:`Listing` of :class:`BatchSegmentJobSummary`.

        Parameters as for :meth:`list_batch_inference_jobs`.
        """
        return self._list(
            SEGMENT, solution_version_arn, page_size, max_items, starting_token, prefetch
        )

    def _list(
        self,
        kind: JobKind[S, F],
        solution_version_arn: object,
        page_size: object,
        max_items: object,
        starting_token: object,
        prefetch: object,
    ) -> Listing[S]:
        arn = check.optional_arn("solution_version_arn", solution_version_arn)
        size = check.page_size(page_size)
        limit = check.max_items(max_items)
        token = check.next_token("starting_token", starting_token)
        ahead = check.prefetch(prefetch)
        self._check_usable()

        async def fetch(next_token: str | None, max_results: int) -> Page[S]:
            async with self._open_for_request():
                return await self._transport.list_page(kind, arn, next_token, max_results)

        def pages() -> Any:
            return page_chain(
                fetch,
                starting_token=token,
                page_size=size,
                max_items=limit,
                operation=kind.list_operation,
                solution_version_arn=arn,
                retry_window=self._limits.page_retry_window,
            )

        async def produce(send: MemoryObjectSendStream[Any]) -> None:
            async with contextlib.aclosing(pages()) as chain:
                async for page in chain:
                    await hand_over(send, page)

        source = (
            inline_source(pages())
            if ahead == 0
            else prefetch_source(produce, prefetch=ahead, tasks=self._tasks)
        )
        description = f"{kind.list_operation} {arn or '(account)'}"
        attributes = {"rpc.method": kind.list_operation}
        if arn is not None:
            attributes["aiopersonalize.solution_version_arn"] = arn
        span = ListingSpan("listing", description, attributes)
        return Listing(source, description=description, span=span)

    # -- merged listings --------------------------------------------------------------

    def list_batch_inference_jobs_many(
        self,
        solution_version_arns: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        prefetch: int = 1,
        on_error: OnError = "raise",
        starting_tokens: Mapping[str, str] | None = None,
    ) -> MergedListing[BatchInferenceJobSummary]:
        """The batch inference jobs of many solution versions, as one
        :class:`MergedListing`, in the order they arrive.

        :param solution_version_arns: the versions (a version given twice is listed once).
        :param concurrency: this listing's cap on requests in flight: that many
            workers, each listing one version at a time. The client's
            ``max_concurrency`` caps everything on top.
        :param page_size: jobs per request (``maxResults``), 1 to 100.
        :param prefetch: pages each worker may fetch ahead of you (at least 1), so at
            most ``concurrency * prefetch`` pages wait for you.
        :param on_error: ``"raise"``: the first failure cancels the rest and is raised
            once they have stopped. ``"skip"``: the other versions go on, and each
            failure is kept on the listing's ``failures``.
        :param starting_tokens: version ARN -> the ``next_token`` to resume after.
        :raises ParamValidationError: on bad input, before anything is sent.
        """
        return self._many(
            INFERENCE,
            solution_version_arns,
            concurrency,
            page_size,
            prefetch,
            on_error,
            starting_tokens,
        )

    def list_batch_segment_jobs_many(
        self,
        solution_version_arns: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        prefetch: int = 1,
        on_error: OnError = "raise",
        starting_tokens: Mapping[str, str] | None = None,
    ) -> MergedListing[BatchSegmentJobSummary]:
        """The batch segment jobs of many solution versions, as one
        :class:`MergedListing`, in the order they arrive.

        Parameters as for :meth:`list_batch_inference_jobs_many`.
        """
        return self._many(
            SEGMENT,
            solution_version_arns,
            concurrency,
            page_size,
            prefetch,
            on_error,
            starting_tokens,
        )

    def _many(
        self,
        kind: JobKind[S, F],
        solution_version_arns: object,
        concurrency: object,
        page_size: object,
        prefetch: object,
        on_error: object,
        starting_tokens: object,
    ) -> MergedListing[S]:
        arns = check.arns("solution_version_arns", solution_version_arns)
        tokens = check.token_map("starting_tokens", starting_tokens, arns)
        chains = [JobChain(None, kind, arn, tokens.get(arn)) for arn in arns]
        return self._merge(
            chains,
            description=f"{kind.list_operation} x {len(arns)} solution versions",
            concurrency=concurrency,
            page_size=page_size,
            prefetch=prefetch,
            on_error=on_error,
        )

    def crawl_batch_jobs(
        self,
        *,
        kinds: Iterable[JobKindName] = JOB_KIND_NAMES,
        regions: Iterable[str] | Literal["all"] | None = None,
        accounts: Accounts | None = None,
        strategy: CrawlStrategy | None = None,
        solution_version_arns: Iterable[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        prefetch: int = 1,
        on_error: OnError = "raise",
        resume: Mapping[ChainKey, str | None]
        | Mapping[tuple[str, str, str], str | None]
        | None = None,
    ) -> MergedListing[BatchInferenceJobSummary | BatchSegmentJobSummary]:
        """The batch jobs of a whole account (or of many), in each region, as one merged
        listing.

        With ``strategy="account"`` (the default), each kind of job of each region is
        one listing without a solution version filter: one call per page of jobs,
        whatever the number of solution versions, and also the jobs of versions deleted
        since. With ``strategy="versions"``, each solution version's jobs are listed on
        their own, the versions found by listing dataset groups, their solutions and
        the solutions' versions: one call per page of each version's jobs, plus
        discovery; discovery and the listings share the pool, so jobs arrive while
        discovery goes on. Each page names its ``region``, ``kind`` and
        ``solution_version_arn`` (``None`` for an account-wide listing).

        :param kinds: which jobs: ``"inference"``, ``"segment"`` or both.
        :param regions: the regions to crawl (default: the client's own). Each gets a
            client of its own with this client's options, under this client's limits.
            ``"all"``: every region where botocore's endpoint data says Personalize
            is available (:func:`personalize_regions`).
        :param accounts: crawl these accounts rather than the client's own:
            :class:`Organization` (every ACTIVE account of the caller's organization,
            the others through a role of the name given) or :class:`RoleArns`. Each
            page then names its ``account``; each account's requests are paced in
            lanes of their own (per account and region) under this client's
            ``max_concurrency``, and the job listings are taken from the accounts in
            turn. An account whose role refuses ``AssumeRole`` is one failure (under
            ``on_error="skip"``; ``operation`` ``"AssumeRole"``), and so is a region
            where an account's listings are refused access (an opt-in region not
            enabled, a policy denying ``personalize:*``): the others go on. The
            roles' credentials are botocore's refreshable ones, assumed again before
            they expire.
        :param strategy: ``"account"`` or ``"versions"``, as above; default
            ``"account"``, or ``"versions"`` with ``solution_version_arns``.
        :param solution_version_arns: list these versions' jobs only, each in the
            region its ARN names (no discovery).
        :param resume: ``(region, kind, solution_version_arn)`` (the ARN ``None`` for an
            account-wide listing; with ``accounts``, ``(region, kind,
            solution_version_arn, account)``: :class:`ChainKey`) -> the ``next_token``
            to resume that chain after, or
            ``None`` for a chain already listed to the end (it is skipped). Build it
            from the pages of an interrupted crawl.
        :param concurrency: as for :meth:`list_batch_inference_jobs_many`.
        :param page_size: as for :meth:`list_batch_inference_jobs_many`.
        :param prefetch: as for :meth:`list_batch_inference_jobs_many`.
        :param on_error: as for :meth:`list_batch_inference_jobs_many`; under
            ``"skip"``, a failed discovery call is a failure whose
            ``solution_version_arn`` is ``None``.
        :raises ParamValidationError: on bad input, before anything is sent.
        """
        names = check.choices("kinds", kinds, JOB_KIND_NAMES)
        chosen = tuple(KINDS[name] for name in names)
        if regions == "all":
            regions = personalize_regions()
        where = None if regions is None else check.regions("regions", regions)
        if accounts is not None:
            if not isinstance(accounts, (Organization, RoleArns)):
                raise ParamValidationError(
                    "accounts",
                    f"expected an Organization or RoleArns, got {type(accounts).__name__}",
                )
            if self._options is None:
                raise ParamValidationError(
                    "accounts", "a wrapped client covers its own account only"
                )
            if solution_version_arns is not None:
                raise ParamValidationError(
                    "accounts",
                    "give accounts or solution_version_arns, not both: a version is listed "
                    "in the account its ARN names",
                )
        if where is not None and self._options is None:
            own = self._transport.region
            others = [r for r in where if r != own]
            if others:
                raise ParamValidationError(
                    "regions", f"a wrapped client covers its own region {own!r} only"
                )
        how = None if strategy is None else check.choice("strategy", strategy, CRAWL_STRATEGIES)
        checked_resume = check.resume_map("resume", resume, JOB_KIND_NAMES)
        discovery: Discovery | None = None
        chains: list[JobChain] = []
        account_plan: AccountPlan | None = None
        if accounts is not None:
            account_plan = AccountPlan(
                accounts=accounts,
                regions=where or (None,),
                kinds=chosen,
                discover=how == "versions",
            )
        elif solution_version_arns is None:
            if how == "versions":
                discovery = Discovery(regions=where or (None,), kinds=chosen)
            else:
                chains = [JobChain(r, kind, None) for r in where or (None,) for kind in chosen]
        else:
            if how == "account":
                raise ParamValidationError(
                    "strategy",
                    "an account-wide crawl lists every version; give solution_version_arns "
                    "or strategy='account', not both",
                )
            if where is not None:
                raise ParamValidationError(
                    "regions",
                    "give regions or solution_version_arns, not both: a version is "
                    "listed in the region its ARN names",
                )
            arns = check.arns("solution_version_arns", solution_version_arns)
            for i, arn in enumerate(arns):
                # Each version is listed by a client for the region its ARN names.
                if (named := _arn_region(arn)) is not None:
                    check.region(f"solution_version_arns[{i}]", named)
            chains = [JobChain(_arn_region(arn), kind, arn) for arn in arns for kind in chosen]
        return self._merge(
            chains,
            discovery=discovery,
            accounts=account_plan,
            resume=checked_resume,
            description=f"crawl of {'/'.join(names)} jobs"
            + (f" by {how or 'account'}" if solution_version_arns is None else "")
            + (f" of {type(accounts).__name__}" if accounts is not None else ""),
            span_kind="crawl",
            concurrency=concurrency,
            page_size=page_size,
            prefetch=prefetch,
            on_error=on_error,
        )

    def _merge(
        self,
        chains: Iterable[JobChain],
        *,
        discovery: Discovery | None = None,
        accounts: AccountPlan | None = None,
        resume: Mapping[ChainKey, str | None] | None = None,
        description: str,
        span_kind: str = "merged_listing",
        concurrency: object,
        page_size: object,
        prefetch: object,
        on_error: object,
    ) -> MergedListing[Any]:
        """The merged listing of checked chains; the pool's own parameters are checked
        here, the same for every merged listing."""
        params = MergeParams(
            chains=tuple(chains),
            discovery=discovery,
            concurrency=check.int_in_range("concurrency", concurrency, 1),
            page_size=check.page_size(page_size),
            prefetch=check.int_in_range("prefetch", prefetch, 1),
            on_error=check.choice("on_error", on_error, ON_ERROR_POLICIES),
            resume=resume or {},
            description=description,
            page_retry_window=self._limits.page_retry_window,
            span_kind=span_kind,
            accounts=accounts,
        )
        self._check_usable()
        return merged_listing(_Fetcher(self), params, tasks=self._tasks)

    # -- describe ---------------------------------------------------------------------

    async def describe_batch_inference_job(self, batch_inference_job_arn: str) -> BatchInferenceJob:
        """The full record of one batch inference job.

        :raises ResourceNotFoundError: no job has that ARN.
        """
        return await self._describe(INFERENCE, "batch_inference_job_arn", batch_inference_job_arn)

    async def describe_batch_segment_job(self, batch_segment_job_arn: str) -> BatchSegmentJob:
        """The full record of one batch segment job.

        :raises ResourceNotFoundError: no job has that ARN.
        """
        return await self._describe(SEGMENT, "batch_segment_job_arn", batch_segment_job_arn)

    async def _describe(self, kind: JobKind[S, F], name: str, value: object) -> F:
        arn = check.arn(name, value)
        self._check_usable()
        async with self._open_for_request():
            return await self._transport.describe(kind, arn)


class _Fetcher:
    """The pages a merged listing asks for, through the client's transports."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def default_region(self) -> str:
        client = self._client
        await client._ensure_open()
        region = client._transport.region
        if region is None:  # botocore raises NoRegionError before this can happen
            raise ParamValidationError("region_name", "the client has no region")
        return region

    async def jobs(
        self,
        region: str,
        kind: JobKind[Any, Any],
        solution_version_arn: str | None,
        next_token: str | None,
        max_results: int,
        account: str | None = None,
    ) -> Page[Any]:
        async with self._client._open_in_region(region, account) as transport:
            return await transport.list_page(kind, solution_version_arn, next_token, max_results)

    async def arns(
        self,
        region: str,
        level: ResourceLevel,
        parent_arn: str | None,
        next_token: str | None,
        max_results: int,
        account: str | None = None,
    ) -> Page[str]:
        async with self._client._open_in_region(region, account) as transport:
            return await transport.list_arns(level, parent_arn, next_token, max_results)

    async def caller(self) -> tuple[str, str]:
        async with self._client._open_for_request():
            caller = await self._client._account_sessions().caller()
        return caller.account, caller.partition

    async def organization_accounts(self) -> list[str]:
        async with self._client._open_for_request():
            return await self._client._account_sessions().organization_accounts()

    async def open_account(
        self, account: str, role_arn: str | None, session_name: str, duration: int | None
    ) -> None:
        await self._client._open_account(account, role_arn, session_name, duration)
