"""The one module that talks to aiobotocore and botocore: one call is one request.

aiobotocore does everything between a request's parameters and its parsed response:
the credential chain and refresh, SigV4 signing, endpoint resolution, retries (the
retry mode and attempts configured in botocore's ``Config``), and error parsing. This
module opens and closes that client, caps the requests in flight, hands each 2xx
response body to ``_wire`` to be decoded straight into our records (botocore's
generic parser is left only the response metadata), and maps botocore's exceptions
to ours, once (:func:`_map_exception`), so that no botocore name leaves it, and no
credential either (their text is redacted, ours and theirs). Its hooks, which see each
request and answer, also count them and report them to ``_telemetry`` (a span per
call, metrics).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import ipaddress
import logging
import os
import random
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import anyio
import botocore.session
from aiobotocore.config import AioConfig
from aiobotocore.credentials import (
    AioAssumeRoleCredentialFetcher,
    AioCredentialResolver,
    AioCredentials,
    AioRefreshableCredentials,
)
from aiobotocore.session import AioSession, get_session
from aiolimiter import AsyncLimiter
from botocore import exceptions as botoexc
from botocore import xform_name
from botocore.config import Config as BotocoreConfig
from botocore.credentials import CredentialProvider
from botocore.parsers import ResponseParserError
from botocore.retries.standard import DEFAULT_MAX_ATTEMPTS as STANDARD_MAX_ATTEMPTS
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from . import _telemetry as telemetry
from ._exceptions import (
    AccessDeniedError,
    ConfigurationError,
    InvalidInputError,
    InvalidNextTokenError,
    ParamValidationError,
    PersonalizeError,
    ResourceNotFoundError,
    ResponseError,
    ServerError,
    ServiceError,
    ThrottlingError,
    TransportError,
    TransportTimeoutError,
)
from ._models import JobKind, Page, ResourceLevel
from ._rate import RateFinder
from ._redact import redact
from ._vocabulary import DEFAULT_RETRY_MODE, MAX_BACKOFF, RetryMode
from ._wire import SHAPES, Described, Listed, Shape

if TYPE_CHECKING:
    from aiobotocore.client import AioBaseClient

__all__ = [
    "AccountSessions",
    "Caller",
    "Limits",
    "Transport",
    "TransportOptions",
    "personalize_regions",
]

S = TypeVar("S")
F = TypeVar("F")

SERVICE_NAME = "personalize"

_logger = logging.getLogger("aiopersonalize")

_SERVICE_ERRORS: Mapping[str, type[ServiceError]] = {
    "InvalidInputException": InvalidInputError,
    "InvalidNextTokenException": InvalidNextTokenError,
    "ResourceNotFoundException": ResourceNotFoundError,
    "AccessDeniedException": AccessDeniedError,
    # What AWS JSON services answer when a signature or key is not accepted.
    "UnrecognizedClientException": AccessDeniedError,
    "InvalidSignatureException": AccessDeniedError,
    "MissingAuthenticationTokenException": AccessDeniedError,
    "IncompleteSignatureException": AccessDeniedError,
    "InvalidClientTokenId": AccessDeniedError,
    "ExpiredTokenException": AccessDeniedError,
    "SignatureDoesNotMatch": AccessDeniedError,
    # STS (query protocol spellings) and Organizations: a role or account that refuses.
    "AccessDenied": AccessDeniedError,
    "ExpiredToken": AccessDeniedError,
    "RegionDisabledException": AccessDeniedError,
    "AWSOrganizationsNotInUseException": AccessDeniedError,
}

# botocore's own judgement of which error codes are throttling (the list its standard
# and adaptive retry modes use), rather than a copy of that list.
_THROTTLING = ThrottledRetryableChecker()


def _service_error(
    exc: botoexc.ClientError, operation: str, solution_version_arn: str | None
) -> ServiceError:
    response: Mapping[str, Any] = exc.response
    error = response.get("Error", {})
    metadata = response.get("ResponseMetadata", {})
    code = str(error.get("Code") or "Unknown")
    status = metadata.get("HTTPStatusCode")
    cls = _SERVICE_ERRORS.get(code)
    if cls is None:
        if _is_throttled(response):
            cls = ThrottlingError
        elif isinstance(status, int) and status >= 500:
            cls = ServerError
        else:
            cls = ServiceError
    return cls(
        redact(str(error.get("Message") or code)),
        code=code,
        operation=operation,
        request_id=metadata.get("RequestId"),
        http_status=status if isinstance(status, int) else None,
        solution_version_arn=solution_version_arn,
    )


def _redact_in_place(exc: BaseException) -> None:
    """Redact the credentials in the text a botocore exception carries (its ``args``,
    ``kwargs`` and error response's message), and in the exceptions it chains to, so
    that a traceback printing it as the ``__cause__`` of ours shows none: AWS echoes
    the canonical request, session token included, when a signature does not match."""
    seen: set[int] = set()
    chained: BaseException | None = exc
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        chained.args = tuple(redact(a) if isinstance(a, str) else a for a in chained.args)
        response = getattr(chained, "response", None)
        error = response.get("Error") if isinstance(response, dict) else None
        for details in (getattr(chained, "kwargs", None), error):
            if isinstance(details, dict):
                for key, value in details.items():
                    if isinstance(value, str):
                        details[key] = redact(value)
        chained = chained.__cause__ or chained.__context__


def _map_exception(
    exc: Exception, operation: str, solution_version_arn: str | None
) -> PersonalizeError | None:
    """Our exception for one raised by aiobotocore, or ``None`` to let it propagate.

    Credentials in its text are redacted, in ours and in it (kept as our ``__cause__``).
    """
    mapped = _translate(exc, operation, solution_version_arn)
    if mapped is not None:
        _redact_in_place(exc)
    return mapped


def _translate(
    exc: Exception, operation: str, solution_version_arn: str | None
) -> PersonalizeError | None:
    context: dict[str, Any] = {
        "operation": operation,
        "solution_version_arn": solution_version_arn,
    }
    if isinstance(exc, botoexc.ClientError):
        return _service_error(exc, operation, solution_version_arn)
    if isinstance(exc, (botoexc.ConnectTimeoutError, botoexc.ReadTimeoutError)):
        return TransportTimeoutError(redact(str(exc)), **context)
    if isinstance(
        exc, (botoexc.HTTPClientError, botoexc.EndpointConnectionError, aiohttp.ClientError)
    ):
        return TransportError(redact(str(exc)), **context)
    if isinstance(exc, (ResponseParserError, botoexc.IncompleteReadError)):
        return ResponseError(redact(f"unusable response: {exc}"), **context)
    if isinstance(exc, botoexc.ParamValidationError):
        # Our own validation runs first; this is a safety net, never the plan.
        return ParamValidationError("request", redact(str(exc)), operation=operation)
    if isinstance(exc, botoexc.NoRegionError):
        return ConfigurationError(redact(str(exc)), setting="region", **context)
    if isinstance(exc, botoexc.ProfileNotFound):
        return ConfigurationError(redact(str(exc)), setting="profile", **context)
    if isinstance(
        exc,
        (
            botoexc.NoCredentialsError,
            botoexc.PartialCredentialsError,
            botoexc.CredentialRetrievalError,
        ),
    ):
        return ConfigurationError(redact(str(exc)), setting="credentials", **context)
    if isinstance(exc, botoexc.BotoCoreError):
        return PersonalizeError(redact(str(exc)), **context)
    return None


@contextlib.contextmanager
def _mapped(operation: str, solution_version_arn: str | None = None) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = _map_exception(exc, operation, solution_version_arn)
        if mapped is None:
            raise
        raise mapped from exc


class Limits:
    """What every request of one client shares, in every account and region: the cap on
    requests in flight, the optional cap on requests per second, and the request
    counters; and per account and region, the rate that quota allows
    (:class:`RateFinder`)."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        max_requests_per_second: float | None,
        page_retry_window: float,
    ) -> None:
        self.concurrency = anyio.CapacityLimiter(max_concurrency)
        # How long a page failing with throttling or 5xx is asked again (_paging).
        self.page_retry_window = page_retry_window
        self.rate: AsyncLimiter | None = None
        if max_requests_per_second is not None:
            # A leaky bucket that lets at most one second's worth through at once
            # (one request, for rates below one per second).
            if max_requests_per_second >= 1:
                self.rate = AsyncLimiter(max_requests_per_second, 1)
            else:
                self.rate = AsyncLimiter(1, 1 / max_requests_per_second)
        # Counted as requests go out, so that requests == calls + retries always: a
        # call that never sent a request (no credentials, cancelled while paced) is
        # no call here.
        self.calls = 0  # API calls that sent a request
        self.requests = 0  # HTTP requests sent: calls and botocore's retries of them
        self.retries = 0  # requests that were botocore's retries of a call
        self.throttled = 0  # answers in which the service throttled a request
        self.told_dummy_credentials = False  # the loopback fallback was logged
        self._rates: dict[tuple[str | None, str | None], RateFinder] = {}

    def rate_for(self, region: str | None, account: str | None = None) -> RateFinder:
        """The pacing of the requests of ``account`` (``None``: the client's own) in
        ``region``: the service limits each account and region apart, so a throttled
        account or region never slows another."""
        lane = (account, region)
        rate = self._rates.get(lane)
        if rate is None:
            rate = self._rates[lane] = RateFinder()
        return rate


class _Call:
    """The call in progress in this context: what the hooks below need, and learn."""

    __slots__ = (
        "decoded",
        "limits",
        "operation",
        "problem",
        "rate",
        "record",
        "region",
        "retry_attempts",
        "shape",
    )

    def __init__(
        self,
        limits: Limits,
        rate: RateFinder,
        shape: Shape[Any],
        retry_attempts: int | None,
        record: telemetry.CallRecord,
        operation: str,
        region: str | None,
    ) -> None:
        self.limits = limits
        self.rate = rate
        self.shape = shape
        self.record = record  # its span and metrics
        self.operation = operation
        self.region = region
        self.problem: str | None = None  # what the last answer was, if not a success
        # Attempts a call gets with our retry spacing for throttling and 5xx instead of
        # botocore's backoff (standard mode only; None: botocore decides everything).
        self.retry_attempts = retry_attempts
        self.decoded: Any = None  # a 2xx response, decoded by the shape


# Set only while this module makes a call, so the hook below leaves alone the calls a
# caller makes through an aiobotocore client they lent us (Client.wrap).
_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "aiopersonalize_call", default=None
)
_HOOK_ID = "aiopersonalize-check-body"
_SEND_HOOK_ID = "aiopersonalize-before-send"
_ANSWER_HOOK_ID = "aiopersonalize-answer"
_RETRY_HOOK_ID = "aiopersonalize-paced-retry"
_SERVER_ERROR_BASE = 0.05  # seconds: a 5xx attempt's first backoff is up to this long


async def _before_send(**_: Any) -> None:
    """Hold each HTTP request botocore sends, retries included, to its region's pace and
    the client's requests-per-second cap (so both bind retries too); then count it (a
    call on its first request, a retry after), tell the call's span and metrics, and
    log a retry with what the answer before it was."""
    call = _CALL.get()
    if call is None:
        return
    await call.rate.wait()
    limits = call.limits
    if limits.rate is not None:
        await limits.rate.acquire()
    record = call.record
    record.sent(call.problem)
    limits.requests += 1
    if record.attempts == 1:
        limits.calls += 1
    else:
        limits.retries += 1
        _logger.info(
            "%s in %s: retrying (attempt %d) after %s",
            call.operation,
            call.region,
            record.attempts,
            call.problem or "a failed attempt",
        )


def _is_throttled(parsed_response: Mapping[str, Any]) -> bool:
    return bool(
        _THROTTLING.is_retryable(
            RetryContext(attempt_number=1, parsed_response=dict(parsed_response))
        )
    )


def _paced_retry(
    response: tuple[Any, Mapping[str, Any]] | None = None, attempts: int = 1, **_: Any
) -> float | None:
    """How long before botocore retries a throttled or 5xx answer, in standard mode.

    Throttled: a few milliseconds, not botocore's backoff, because the region's pace
    (:class:`RateFinder`) already spaces every request, retries included, at the quota
    it found. A server error: a random 0-50 ms, doubling per attempt (the base botocore
    itself moves to for errors other than throttling, ``non_throttling_base_scale``;
    botocore 1.43 still waits 0-1 s, then 0-2 s).

    Measured (issue "Crawl at the service's real bound"): with 12 % of answers throttled
    and 6 % answered 5xx whatever the rate (another workload on the account's quota, a
    noisy service), botocore's standard backoff (a random 0-1 s, then 0-2 s, per failed
    attempt) made a merged listing several times slower than without faults, and each
    such retry spent 5 units of its 500-unit retry quota, which a long crawl then
    exhausts. So in standard mode this handler, registered before botocore's, answers
    for those attempts within the same ``max_attempts``; ``None`` leaves the decision to
    botocore (other errors, transport failures, the last attempt, the adaptive and
    legacy modes).
    """
    call = _CALL.get()
    if call is None or call.retry_attempts is None or response is None:
        return None
    if attempts >= call.retry_attempts:
        return None
    http, parsed = response
    if _is_throttled(parsed):
        return call.rate.retry_delay()
    if getattr(http, "status_code", 0) >= 500:
        return random.uniform(0, min(_SERVER_ERROR_BASE * 2 ** (attempts - 1), MAX_BACKOFF))  # noqa: S311
    return None


def _answered(
    parsed_response: Mapping[str, Any] | None = None,
    exception: BaseException | None = None,
    context: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """Tell the region's pace whether each answer (retries included) was throttled, by
    botocore's own judgement of the error code, and the call's span and metrics its
    status and request id. A failure to get any answer (a refused or broken
    connection) says nothing about the quota."""
    call = _CALL.get()
    if call is None:
        return
    if exception is not None or parsed_response is None:
        call.record.answered(None, None, throttled=False)
        # The exception's text can hold a URL, never a credential; redacted anyway.
        call.problem = redact(f"{type(exception).__name__}: {exception}")
        return
    attempt = ((context or {}).get("retries") or {}).get("attempt", 1)
    throttled = _is_throttled(parsed_response)
    call.rate.answered(throttled=throttled, retry=attempt > 1)
    metadata = parsed_response.get("ResponseMetadata") or {}
    status = metadata.get("HTTPStatusCode")
    call.record.answered(status, metadata.get("RequestId"), throttled)
    if throttled:
        call.limits.throttled += 1
    code = (parsed_response.get("Error") or {}).get("Code")
    if code or (isinstance(status, int) and status >= 300):
        what = "throttled" if throttled else "error"
        call.problem = f"{what} {code or 'HTTP'} (HTTP {status})"
        if throttled:
            _logger.debug("%s in %s: throttled (%s)", call.operation, call.region, code)
    else:
        call.problem = None


def _take_body(response_dict: dict[str, Any], **_: Any) -> None:
    """Decode a 2xx response's body straight into our records, or refuse it.

    botocore's generic parser would walk the output shape member by member, parsing
    each timestamp through dateutil into local time: most of the CPU a page costs.
    The call's shape (``_wire``) decodes the body in one pass instead, and botocore
    is handed an empty object, so it parses only the response metadata. Error
    responses are left to botocore's error parsing.

    A body that does not decode is refused: left to botocore, an unparsable body
    would become ``{"message": body}`` with only the modelled members kept, so a
    truncated (or empty) page would pass for an empty last page and a listing would
    end short without a word. Raising here (botocore lets a ``before-parse`` handler's
    exception propagate) makes it a ``ResponseError``.
    """
    call = _CALL.get()
    if call is None:
        return  # a call the owner of a wrapped client makes: left as it is
    if response_dict.get("status_code", 500) >= 300:
        return
    body = response_dict.get("body")
    if not body:  # a whole answer of these operations is at least "{}"
        raise ResponseParserError("the response body is empty")
    try:
        call.decoded = call.shape.from_json(body)
    except (ValueError, OverflowError) as exc:  # msgspec's errors are ValueErrors
        raise ResponseParserError(f"the response body does not decode: {exc}") from None
    response_dict["body"] = b"{}"


# How many of our transports use each aiobotocore client's event emitter: the hooks are
# registered by the first and removed by the last, so that two Clients wrapping the same
# aiobotocore client do not take the hooks away from each other.
_HOOKED: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def _install_hooks(client: AioBaseClient) -> None:
    events = client.meta.events
    users = _HOOKED.get(events, 0)
    if users == 0:
        events.register(f"before-parse.{SERVICE_NAME}", _take_body, unique_id=_HOOK_ID)
        events.register(f"before-send.{SERVICE_NAME}", _before_send, unique_id=_SEND_HOOK_ID)
        events.register(f"response-received.{SERVICE_NAME}", _answered, unique_id=_ANSWER_HOOK_ID)
        # First: botocore's own retry handler answers only where ours does not.
        events.register_first(f"needs-retry.{SERVICE_NAME}", _paced_retry, unique_id=_RETRY_HOOK_ID)
    _HOOKED[events] = users + 1


def _remove_hooks(client: AioBaseClient) -> None:
    events = client.meta.events
    users = _HOOKED.get(events, 0) - 1
    if users > 0:
        _HOOKED[events] = users
        return
    _HOOKED.pop(events, None)
    events.unregister(f"before-parse.{SERVICE_NAME}", _take_body, unique_id=_HOOK_ID)
    events.unregister(f"before-send.{SERVICE_NAME}", _before_send, unique_id=_SEND_HOOK_ID)
    events.unregister(f"response-received.{SERVICE_NAME}", _answered, unique_id=_ANSWER_HOOK_ID)
    events.unregister(f"needs-retry.{SERVICE_NAME}", _paced_retry, unique_id=_RETRY_HOOK_ID)


def _retry_attempts(client: AioBaseClient) -> int | None:
    """The attempts a call of ``client`` gets, if its retries of throttling and 5xx are
    ours to space (botocore's standard mode), else ``None``."""
    retries = client.meta.config.retries or {}
    if retries.get("mode", DEFAULT_RETRY_MODE) != "standard":
        return None
    return int(retries.get("total_max_attempts") or STANDARD_MAX_ATTEMPTS)


async def _call(
    client: AioBaseClient,
    limits: Limits,
    operation: str,
    params: dict[str, Any],
    record: telemetry.CallRecord,
    account: str | None = None,
) -> Any:
    """One call of ``operation`` (for ``account``, ``None``: the client's own): its
    response, decoded by the operation's shape."""
    shape = SHAPES[operation]
    region = client.meta.region_name
    rate = limits.rate_for(region, account)
    call = _Call(limits, rate, shape, _retry_attempts(client), record, operation, region)
    reset = _CALL.set(call)
    try:
        # The client's generated method for the operation (ListBatchInferenceJobs ->
        # list_batch_inference_jobs), which runs botocore's whole request pipeline.
        await getattr(client, xform_name(operation))(**params)
    finally:
        _CALL.reset(reset)
    if call.decoded is None:  # pragma: no cover - only if someone removed our hook
        # Never fall back to botocore's parse: it reads an unparsable body as an empty
        # result, which would end a listing short without a word.
        raise ResponseParserError("the response body was not decoded: our hook is gone")
    return call.decoded  # decoded by _take_body


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """How to build the aiobotocore client. Secrets are kept out of the repr."""

    region_name: str | None = None
    endpoint_url: str | None = None
    profile_name: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    session: AioSession | None = field(default=None, repr=False)
    config: Any = None  # a botocore ``Config``, merged over our defaults
    retry_mode: RetryMode | None = None
    max_attempts: int | None = None
    max_pool_connections: int = 10

    def __post_init__(self) -> None:
        # Checked here, where they are used: a wrong type would otherwise surface as a
        # bare AttributeError on the first request.
        if self.session is not None and not isinstance(self.session, AioSession):
            raise ParamValidationError(
                "session",
                f"expected an aiobotocore AioSession, got {type(self.session).__name__}",
            )
        if self.config is not None and not isinstance(self.config, BotocoreConfig):
            raise ParamValidationError(
                "config", f"expected a botocore Config, got {type(self.config).__name__}"
            )

    def botocore_config(self) -> AioConfig:
        """Our defaults, then the caller's ``Config``, then the explicit arguments.

        The connection pool is never smaller than ``max_pool_connections`` (the
        client's concurrency cap), so it cannot become the bottleneck.
        """
        config = AioConfig(retries={"mode": DEFAULT_RETRY_MODE})
        if self.config is not None:
            config = config.merge(self.config)
        retries = dict(config.retries or {})
        if self.retry_mode is not None:
            retries["mode"] = self.retry_mode
        if self.max_attempts is not None:
            retries.pop("max_attempts", None)
            retries["total_max_attempts"] = self.max_attempts
        pool = max(config.max_pool_connections or 0, self.max_pool_connections)
        return config.merge(AioConfig(retries=retries, max_pool_connections=pool))


# What a client aimed at a local emulator signs with when no credentials exist.
_DUMMY_KEYS: Mapping[str, str] = {
    "aws_access_key_id": "aiopersonalize-local",
    "aws_secret_access_key": "aiopersonalize-local",
}


def _configured_endpoint() -> str | None:
    """The endpoint botocore takes from the environment when none is given
    (``AWS_ENDPOINT_URL_PERSONALIZE``, then ``AWS_ENDPOINT_URL``)."""
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return os.environ.get("AWS_ENDPOINT_URL_PERSONALIZE") or os.environ.get("AWS_ENDPOINT_URL")


def _is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine only (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, for the log."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def pool_size(client: AioBaseClient) -> int:
    """The connection-pool size of an aiobotocore client."""
    return int(client.meta.config.max_pool_connections)


def check_service(client: object) -> None:
    meta = getattr(client, "meta", None)
    model = getattr(meta, "service_model", None)
    name = getattr(model, "service_name", None)
    if name != SERVICE_NAME:
        raise ParamValidationError(
            "client", f"expected an aiobotocore {SERVICE_NAME!r} client, got {name!r}"
        )


class Transport:
    """One aiobotocore Personalize client, owned or borrowed, and a cap on requests.

    ``open()`` creates the client (unless one was borrowed); ``aclose()`` closes it
    (unless borrowed). Every request holds one token of ``limits.concurrency`` while
    in flight. ``account``: the account it acts for in a crawl of several (its pages
    say so, and it is paced in that account's lanes); ``None``: the client's own.
    """

    def __init__(
        self,
        *,
        limits: Limits,
        options: TransportOptions | None = None,
        client: AioBaseClient | None = None,
        account: str | None = None,
    ) -> None:
        self.account = account
        self._options = options
        self._client = client
        self._owned: contextlib.AsyncExitStack | None = None
        self._limits = limits
        self._attributes: dict[str, str | int] | None = None

    @property
    def region(self) -> str | None:
        """The client's region (once open, for a client this transport creates)."""
        client = self._client
        return None if client is None else str(client.meta.region_name)

    async def open(self) -> None:
        if self._client is not None:
            _install_hooks(self._client)  # borrowed: removed again by aclose()
            return
        assert self._options is not None
        options = self._options
        with _mapped("CreateClient"):
            session = options.session
            if session is None:
                session = (
                    AioSession(profile=options.profile_name)
                    if options.profile_name
                    else get_session()
                )
            keys = await self._loopback_credentials(session)
            creator = session.create_client(
                SERVICE_NAME,
                region_name=options.region_name,
                endpoint_url=options.endpoint_url,
                aws_access_key_id=keys.get("aws_access_key_id", options.aws_access_key_id),
                aws_secret_access_key=keys.get(
                    "aws_secret_access_key", options.aws_secret_access_key
                ),
                aws_session_token=options.aws_session_token,
                config=options.botocore_config(),
            )
            async with contextlib.AsyncExitStack() as stack:
                self._client = await stack.enter_async_context(creator)
                self._owned = stack.pop_all()
        _install_hooks(self._client)

    async def _loopback_credentials(self, session: AioSession) -> dict[str, str]:
        """Dummy keys for a client aimed at this machine with no credentials at all.

        A local emulator accepts any signature, so a client of one (``127.0.0.1``,
        ``::1``, ``localhost``) on a machine without AWS configuration signs with
        dummy keys instead of failing with "Unable to locate credentials", and says
        so once in the log. Keys or a profile given to the client, and
        credentials the chain finds, always win; an endpoint elsewhere always needs
        real credentials.
        """
        options = self._options
        assert options is not None
        explicit = options.aws_access_key_id or options.aws_secret_access_key
        if explicit or options.profile_name:
            return {}
        endpoint = options.endpoint_url or _configured_endpoint()
        if endpoint is None or not _is_loopback_url(endpoint):
            return {}
        if await session.get_credentials() is not None:
            return {}
        if not self._limits.told_dummy_credentials:
            self._limits.told_dummy_credentials = True
            _logger.info(
                "no AWS credentials are configured; signing requests to the local "
                "endpoint %s with dummy keys",
                _without_userinfo(endpoint),
            )
        return dict(_DUMMY_KEYS)

    async def aclose(self) -> None:
        owned, self._owned = self._owned, None
        if owned is not None:
            self._client = None
            await owned.aclose()
        elif self._client is not None:
            _remove_hooks(self._client)  # leave a borrowed client as we found it

    def _span_attributes(self, client: AioBaseClient) -> Mapping[str, str | int]:
        """What every call's span says of where it went: region, endpoint host, port."""
        attributes = self._attributes
        if attributes is None:
            attributes = {}
            if client.meta.region_name:
                attributes["cloud.region"] = str(client.meta.region_name)
            url = urlsplit(str(client.meta.endpoint_url))
            if url.hostname:
                attributes["server.address"] = url.hostname
                attributes["server.port"] = url.port or (443 if url.scheme == "https" else 80)
            self._attributes = attributes
        return attributes

    @contextlib.asynccontextmanager
    async def _request(
        self, operation: str, solution_version_arn: str | None = None
    ) -> AsyncIterator[tuple[AioBaseClient, telemetry.CallRecord]]:
        client = self._client
        assert client is not None, "Transport used before open()"
        limiter = self._limits.concurrency
        try:
            # A free slot is taken without a trip through the event loop (anyio's
            # acquire() yields once even then): the request itself awaits soon enough.
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            await limiter.acquire()
        try:
            # The span sees our exception, mapped, and ends after it.
            with (
                telemetry.api_call(operation, self._span_attributes(client)) as record,
                _mapped(operation, solution_version_arn),
            ):
                yield client, record
        finally:
            limiter.release()

    async def _list(
        self,
        operation: str,
        filters: Mapping[str, str],
        next_token: str | None,
        max_results: int,
        solution_version_arn: str | None = None,
    ) -> tuple[tuple[Any, ...], str | None]:
        """One page of a list call: its decoded items and its nextToken."""
        params: dict[str, Any] = {"maxResults": max_results, **filters}
        if next_token is not None:
            params["nextToken"] = next_token
        async with self._request(operation, solution_version_arn) as (client, record):
            response: Listed[Any] = await _call(
                client, self._limits, operation, params, record, self.account
            )
        # An empty token is an end of listing too (botocore's paginator agrees).
        return response.items or (), response.next_token or None

    async def list_page(
        self,
        kind: JobKind[S, F],
        solution_version_arn: str | None,
        next_token: str | None,
        max_results: int,
    ) -> Page[S]:
        """One page of ``ListBatch*Jobs``."""
        filters = (
            {} if solution_version_arn is None else {"solutionVersionArn": solution_version_arn}
        )
        items, token = await self._list(
            kind.list_operation, filters, next_token, max_results, solution_version_arn
        )
        return Page(
            items=items,
            next_token=token,
            solution_version_arn=solution_version_arn,
            region=self.region,
            kind=kind.name,
            account=self.account,
        )

    async def list_arns(
        self,
        level: ResourceLevel,
        parent_arn: str | None,
        next_token: str | None,
        max_results: int,
    ) -> Page[str]:
        """One page of the ARNs of ``level`` (dataset groups, solutions or versions)."""
        filters = (
            {level.parent_member: parent_arn}
            if level.parent_member is not None and parent_arn is not None
            else {}
        )
        items, token = await self._list(level.operation, filters, next_token, max_results)
        return Page(
            items=tuple(item.arn for item in items),
            next_token=token,
            region=self.region,
            account=self.account,
        )

    async def describe(self, kind: JobKind[S, F], arn: str) -> F:
        """The full record from ``DescribeBatch*Job``."""
        async with self._request(kind.describe_operation) as (client, record):
            response: Described[F] = await _call(
                client,
                self._limits,
                kind.describe_operation,
                {kind.arn_member: arn},
                record,
                self.account,
            )
        return response.job


# -- other accounts: STS, Organizations, and refreshable assume-role credentials --------


@functools.cache
def personalize_regions(partition: str = "aws") -> tuple[str, ...]:
    """The regions where botocore's endpoint data says Personalize is available, in
    ``partition`` (``"aws"``, ``"aws-cn"``, ...), sorted; empty for a partition it does
    not know."""
    if not isinstance(partition, str):
        raise ParamValidationError("partition", f"expected a str, got {type(partition).__name__}")
    # botocore's own session reads the endpoint data (aiobotocore's is the same data,
    # behind an async method).
    regions = botocore.session.get_session().get_available_regions(
        SERVICE_NAME, partition_name=partition
    )
    return tuple(sorted(regions))


class _GivenCredentials(CredentialProvider):  # type: ignore[misc]
    """A session's credential chain of one link: the credentials given."""

    METHOD = "assume-role"
    CANONICAL_NAME = "AssumeRole"

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._credentials = credentials

    async def load(self) -> Any:
        return self._credentials


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the client's own credentials are (``GetCallerIdentity``)."""

    account: str
    partition: str


class AccountSessions:
    """The client's reach beyond its own account: who it is (STS
    ``GetCallerIdentity``), its organization's accounts (``ListAccounts``), and, per
    other account, the options of transports acting for it through a role.

    A role's credentials are botocore's own refreshable kind: aiobotocore's
    ``AioAssumeRoleCredentialFetcher`` (an STS client signed with the client's own
    credentials, themselves refreshed if they are a role's, an instance's, ...)
    behind ``AioRefreshableCredentials``, which every request of that account's
    clients asks for fresh credentials: botocore calls ``AssumeRole`` again once fewer
    than 15 minutes of them remain (and, inside 10 minutes, before it signs the next
    request), so no request is signed with an expired token however long the crawl. STS and
    Organizations are reached where the client's ``endpoint_url`` points, or where
    botocore's configuration puts them (``AWS_ENDPOINT_URL_STS``, ...).
    """

    def __init__(self, options: TransportOptions) -> None:
        self._options = options
        self._session: AioSession | None = None
        self._caller: Caller | None = None
        self._lock = anyio.Lock()

    def _base(self) -> AioSession:
        if self._session is None:
            options = self._options
            self._session = options.session or (
                AioSession(profile=options.profile_name) if options.profile_name else get_session()
            )
        return self._session

    def _client(self, service: str, **credentials: Any) -> Any:
        options = self._options
        keys = credentials or {
            "aws_access_key_id": options.aws_access_key_id,
            "aws_secret_access_key": options.aws_secret_access_key,
            "aws_session_token": options.aws_session_token,
        }
        return self._base().create_client(
            service,
            region_name=options.region_name,
            endpoint_url=options.endpoint_url,
            config=options.botocore_config(),
            **keys,
        )

    async def caller(self) -> Caller:
        """The account (and partition) of the client's own credentials."""
        async with self._lock:
            if self._caller is None:
                with _mapped("GetCallerIdentity"):
                    async with self._client("sts") as sts:
                        identity = await sts.get_caller_identity()
                self._caller = Caller(
                    account=str(identity["Account"]), partition=str(identity["Arn"]).split(":")[1]
                )
        return self._caller

    async def organization_accounts(self) -> list[str]:
        """The IDs of the organization's ACTIVE accounts, in the order listed."""
        found: list[str] = []
        with _mapped("ListAccounts"):
            async with self._client("organizations") as organizations:
                paginator = organizations.get_paginator("list_accounts")
                async for page in paginator.paginate():
                    for account in page.get("Accounts", ()):
                        # ``State`` is replacing ``Status`` (deprecated in 2025).
                        status = account.get("State") or account.get("Status")
                        if status == "ACTIVE":
                            found.append(str(account["Id"]))
        return found

    async def _source_credentials(self) -> Any:
        options = self._options
        if options.aws_access_key_id is not None:
            return AioCredentials(
                options.aws_access_key_id,
                options.aws_secret_access_key,
                options.aws_session_token,
            )
        credentials = await self._base().get_credentials()
        if credentials is None:
            raise botoexc.NoCredentialsError()
        return credentials

    async def assume(
        self, role_arn: str, session_name: str, duration_seconds: int | None
    ) -> TransportOptions:
        """The options of transports acting through ``role_arn``; its first credentials
        are fetched here, so that a refusal is this account's one failure.

        :raises AccessDeniedError: the role refuses (or does not exist).
        """
        extra: dict[str, Any] = {"RoleSessionName": session_name}
        if duration_seconds is not None:
            extra["DurationSeconds"] = duration_seconds
        with _mapped("AssumeRole"):
            fetcher = AioAssumeRoleCredentialFetcher(
                client_creator=self._sts_creator,
                source_credentials=await self._source_credentials(),
                role_arn=role_arn,
                extra_args=extra,
            )
            # The first credentials are fetched here, then kept fresh by botocore's
            # refreshable credentials, which call the same fetcher before they expire.
            credentials = AioRefreshableCredentials.create_from_metadata(
                await fetcher.fetch_credentials(),
                refresh_using=fetcher.fetch_credentials,
                method="assume-role",
            )
        options = self._options
        session = AioSession(profile=options.profile_name) if options.profile_name else AioSession()
        session.register_component(
            "credential_provider", AioCredentialResolver([_GivenCredentials(credentials)])
        )
        return dataclasses.replace(
            options,
            session=session,
            profile_name=None,
            aws_access_key_id=None,
            aws_secret_access_key=None,
            aws_session_token=None,
        )

    def _sts_creator(self, service: str, **credentials: Any) -> Any:
        """The STS clients the fetcher makes, signed with the given (source) credentials."""
        return self._client(service, **credentials)
