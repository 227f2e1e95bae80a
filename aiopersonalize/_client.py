"""The public client: its lifecycle, and the list/describe operations."""

from __future__ import annotations

import contextlib
import enum
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from . import _validation as check
from ._exceptions import ClientClosedError, ParamValidationError, PersonalizeError, UsageError
from ._models import (
    INFERENCE,
    SEGMENT,
    BatchInferenceJob,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    JobKind,
    Page,
)
from ._paging import Listing, TaskSet, inline_source, page_chain, prefetch_source
from ._transport import RetryMode, Transport, TransportOptions, check_service, pool_size

if TYPE_CHECKING:
    from aiobotocore.client import AioBaseClient
    from aiobotocore.session import AioSession

__all__ = ["DEFAULT_MAX_CONCURRENCY", "Client"]

S = TypeVar("S")
F = TypeVar("F")

DEFAULT_MAX_CONCURRENCY = 32
_RETRY_MODES = ("standard", "adaptive", "legacy")


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


class Client:
    """An async client for Amazon Personalize's batch-job inventory.

    Use it as an async context manager, or call :meth:`aclose` when done (it opens
    itself on first use)::

        async with aiopersonalize.Client(region_name="us-east-1") as client:
            async for job in client.list_batch_inference_jobs(solution_version_arn=arn):
                print(job.job_name, job.status)

    Credentials, region and endpoint resolve as in botocore (arguments, environment,
    profile, instance metadata); ``session`` takes an aiobotocore ``AioSession`` and
    ``config`` a botocore ``Config`` merged over this client's defaults. Retries are
    botocore's: ``retry_mode`` (``"adaptive"`` by default, which also rate-limits the
    client when throttled) and ``max_attempts`` override the ``Config``.

    ``max_concurrency`` caps the requests this client has in flight at once; its
    connection pool is sized to at least that, so the pool is never the bottleneck.
    To use an aiobotocore client you already own, see :meth:`wrap`.
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
    ) -> None:
        if session is not None and profile_name is not None:
            raise ParamValidationError(
                "profile_name", "give either session or profile_name, not both"
            )
        if retry_mode is not None:
            check.choice("retry_mode", retry_mode, _RETRY_MODES)
        options = TransportOptions(
            region_name=_optional_str("region_name", region_name),
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
        self._setup(Transport(limiter=anyio.CapacityLimiter(max_concurrency), options=options))
        self._where = f"region={region_name!r} endpoint={endpoint_url!r}"

    @classmethod
    def wrap(cls, client: AioBaseClient, *, max_concurrency: int | None = None) -> Client:
        """A client over an open aiobotocore Personalize client that you own.

        You keep ownership: closing this client leaves yours open. Your client's
        connection pool bounds the concurrency (``max_concurrency`` defaults to its
        size and may not exceed it).
        """
        check_service(client)
        pool = pool_size(client)
        limit = pool if max_concurrency is None else max_concurrency
        check.int_in_range("max_concurrency", limit, 1, pool)
        self = cls.__new__(cls)
        self._setup(Transport(limiter=anyio.CapacityLimiter(limit), client=client))
        self._where = f"wrapping {type(client).__name__}"
        return self

    def _setup(self, transport: Transport) -> None:
        self._transport = transport
        self._tasks = TaskSet()
        self._state = _State.UNOPENED
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"<aiopersonalize.Client {self._where} [{self._state.value}]>"

    async def __aenter__(self) -> Client:
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
            async with self._lock:
                await self._transport.aclose()

    async def _ensure_open(self) -> None:
        if self._state is _State.OPEN:
            return
        async with self._lock:
            self._check_usable()
            if self._state is _State.UNOPENED:
                await self._transport.open()
                self._state = _State.OPEN

    def _check_usable(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("the client is closed; create a new one")

    @contextlib.asynccontextmanager
    async def _open_for_request(self) -> Any:
        await self._ensure_open()
        try:
            yield
        except PersonalizeError as exc:
            # A request cut short by aclose() fails for that reason, whatever the
            # transport made of its closed connection.
            if self._state is _State.CLOSED and not isinstance(exc, ClientClosedError):
                raise ClientClosedError("the client was closed during the request") from exc
            raise

    # -- listings ---------------------------------------------------------------------

    def list_batch_inference_jobs(
        self,
        solution_version_arn: str | None = None,
        *,
        page_size: int = 100,
        max_items: int | None = None,
        starting_token: str | None = None,
        prefetch: int = 1,
    ) -> Listing[BatchInferenceJobSummary]:
        """The batch inference jobs of one solution version (or of the account), newest
        first, as a :class:`Listing` of :class:`BatchInferenceJobSummary`.

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
        page_size: int = 100,
        max_items: int | None = None,
        starting_token: str | None = None,
        prefetch: int = 1,
    ) -> Listing[BatchSegmentJobSummary]:
        """The batch segment jobs of one solution version (or of the account), newest
        first, as a :class:`Listing` of :class:`BatchSegmentJobSummary`.

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
            )

        async def produce(send: MemoryObjectSendStream[Any]) -> None:
            async with contextlib.aclosing(pages()) as chain:
                async for page in chain:
                    await send.send(page)

        source = (
            inline_source(pages())
            if ahead == 0
            else prefetch_source(produce, prefetch=ahead, tasks=self._tasks)
        )
        return Listing(source, description=f"{kind.list_operation} {arn or '(account)'}")

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
