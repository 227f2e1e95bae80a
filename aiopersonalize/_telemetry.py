"""Traces and metrics through OpenTelemetry, when ``opentelemetry-api`` is installed.

A library takes its tracer and meter from OpenTelemetry's global providers, and does
nothing else: the application that configures an SDK (``TracerProvider``,
``MeterProvider``) sees this library's spans and metrics from then on, with no call to
this library. Without an SDK the API's providers are no-ops (a span is a shared
non-recording object, an ``add()`` returns at once); without the package this module
hands out objects whose methods do nothing. Either way a listing keeps its speed
(``benchmarks/bench_telemetry.py`` measures it).

What is recorded (see ``docs/observability.md``):

- a ``CLIENT`` span per API call, named ``Personalize.<Operation>`` with the attributes
  of OpenTelemetry's semantic conventions for AWS SDK calls (``rpc.system=aws-api``,
  ``rpc.service``, ``rpc.method``, ``cloud.region``, ``aws.request_id``,
  ``http.response.status_code``, ``server.address``/``server.port``) and
  ``retry_attempts`` (the attribute ``BotocoreInstrumentor`` sets), an event per retry,
  and ``error.type`` with an error status when the call fails;
- an ``INTERNAL`` span per listing, merged listing or crawl (the parent of its calls'
  spans, also in the tasks that fetch ahead, which inherit the context they were
  started in), with the ``pages``, ``jobs``, ``requests`` and ``retries`` it took;
- counters ``aiopersonalize.requests``, ``.retries``, ``.throttles``, ``.pages``,
  ``.jobs``, and the up-down counter ``aiopersonalize.requests.in_flight``.

The transport reports each request and answer (:class:`ApiCall`), the listings their
pages (:class:`ListingSpan`). Nothing here sees credentials: the attributes are
operation names, regions, endpoints' host and port, request ids, status codes and
counts, and error messages already redacted by the transport.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ._version import VERSION

try:
    from opentelemetry import context as _otel_context
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - the [otel] extra is not installed
    ENABLED = False
else:
    ENABLED = True

__all__ = ["ENABLED", "ApiCall", "ListingSpan", "api_call"]

SCOPE: Final = "aiopersonalize"
RPC_SERVICE: Final = "Personalize"  # the service id, as AWS SDK spans name it

Attributes = Mapping[str, str | int | bool]

if ENABLED:
    _tracer = _trace.get_tracer(SCOPE, VERSION)
    _meter = _metrics.get_meter(SCOPE, VERSION)
    _REQUESTS = _meter.create_counter(
        "aiopersonalize.requests",
        unit="{request}",
        description="HTTP requests sent to the service, retries included",
    )
    _RETRIES = _meter.create_counter(
        "aiopersonalize.retries",
        unit="{request}",
        description="HTTP requests that were botocore's retries of an API call",
    )
    _THROTTLES = _meter.create_counter(
        "aiopersonalize.throttles",
        unit="{response}",
        description="answers in which the service throttled a request",
    )
    _PAGES = _meter.create_counter(
        "aiopersonalize.pages", unit="{page}", description="pages a listing handed over"
    )
    _JOBS = _meter.create_counter(
        "aiopersonalize.jobs", unit="{job}", description="jobs a listing handed over"
    )
    _IN_FLIGHT = _meter.create_up_down_counter(
        "aiopersonalize.requests.in_flight",
        unit="{request}",
        description="HTTP requests sent and not yet answered",
    )


class _Counts:
    """What the calls of one listing took: its span's ``requests`` and ``retries``."""

    __slots__ = ("requests", "retries")

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0


# The listing whose work runs in this context: set while a listing fetches, and
# inherited by the tasks it starts (a task copies the context it is created in).
_LISTING: contextvars.ContextVar[_Counts | None] = contextvars.ContextVar(
    "aiopersonalize_listing", default=None
)


class ApiCall:
    """One API call's span and metrics: told of each HTTP request and its answer."""

    __slots__ = ("_attributes", "_counts", "_in_flight", "_span", "attempts")

    def __init__(self, span: Any, attributes: Attributes) -> None:
        self._span = span
        self._attributes = attributes
        self._counts = _LISTING.get()
        self._in_flight = False
        self.attempts = 0

    def sent(self, reason: str | None) -> None:
        """A request is on its way: the first, or a retry because of ``reason``."""
        self.attempts += 1
        retry = self.attempts > 1
        attributes = self._attributes
        _REQUESTS.add(1, attributes)
        if retry:
            _RETRIES.add(1, attributes)
            if self._span.is_recording():
                self._span.add_event(
                    "retry", {"attempt": self.attempts, "reason": reason or "unknown"}
                )
        counts = self._counts
        if counts is not None:
            counts.requests += 1
            counts.retries += retry
        if not self._in_flight:
            self._in_flight = True
            _IN_FLIGHT.add(1, attributes)

    def answered(self, status: int | None, request_id: str | None, throttled: bool) -> None:
        """The service answered the last request (``status`` 0 or ``None``: nothing came)."""
        if self._in_flight:
            self._in_flight = False
            _IN_FLIGHT.add(-1, self._attributes)
        if throttled:
            _THROTTLES.add(1, self._attributes)
        span = self._span
        if span.is_recording():
            if status:
                span.set_attribute("http.response.status_code", status)
            if request_id:
                span.set_attribute("aws.request_id", request_id)

    def end(self, error: BaseException | None) -> None:
        """The call is over: ``error`` is ours (mapped), or ``None``."""
        if self._in_flight:  # cancelled, or failed before an answer was reported
            self.answered(None, None, throttled=False)
        span = self._span
        if span.is_recording():
            span.set_attribute("retry_attempts", max(0, self.attempts - 1))
            if isinstance(error, Exception):
                span.set_attribute("error.type", type(error).__name__)
                span.record_exception(error)
                span.set_status(_trace.StatusCode.ERROR, str(error))
        span.end()


class _NoCall:
    """:class:`ApiCall` without OpenTelemetry: counts attempts, records nothing."""

    __slots__ = ("attempts",)

    def __init__(self) -> None:
        self.attempts = 0

    def sent(self, reason: str | None) -> None:
        self.attempts += 1

    def answered(self, status: int | None, request_id: str | None, throttled: bool) -> None:
        pass

    def end(self, error: BaseException | None) -> None:
        pass


CallRecord = ApiCall | _NoCall


@contextlib.contextmanager
def api_call(operation: str, attributes: Attributes) -> Iterator[CallRecord]:
    """The span of one API call of ``operation``, current while the call runs (so that
    an HTTP client instrumentation's spans are its children); ``attributes`` are the
    transport's (``cloud.region``, ``server.address``, ...)."""
    if not ENABLED:
        yield _NoCall()
        return
    attributes = {
        "rpc.system": "aws-api",
        "rpc.service": RPC_SERVICE,
        "rpc.method": operation,
        **attributes,
    }
    span = _tracer.start_span(
        f"{RPC_SERVICE}.{operation}", kind=_trace.SpanKind.CLIENT, attributes=attributes
    )
    record = ApiCall(span, attributes)
    token = _otel_context.attach(_trace.set_span_in_context(span))
    error: BaseException | None = None
    try:
        yield record
    except BaseException as exc:
        error = exc
        raise
    finally:
        _otel_context.detach(token)
        record.end(error)


class ListingSpan:
    """The span of one listing (``kind``: ``listing``, ``merged_listing`` or ``crawl``),
    started when its first page is asked for and ended with it.

    While it is current (:meth:`current`, around each wait for a page), the calls made
    for the listing, in this task or in the tasks it starts, are its children.
    """

    __slots__ = ("_attributes", "_counts", "_ended", "_name", "_span", "jobs", "pages")

    def __init__(self, kind: str, description: str, attributes: Attributes | None = None) -> None:
        self._name = f"aiopersonalize.{kind}"
        self._attributes: dict[str, str | int | bool] = {
            "aiopersonalize.description": description,
            **(attributes or {}),
        }
        self._span: Any = None
        self._counts = _Counts()
        self._ended = False
        self.pages = 0
        self.jobs = 0

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Make this listing's span (started on first use) the current span."""
        if not ENABLED or self._ended:
            yield
            return
        span = self._span
        if span is None:
            span = self._span = _tracer.start_span(
                self._name, kind=_trace.SpanKind.INTERNAL, attributes=self._attributes
            )
        token = _otel_context.attach(_trace.set_span_in_context(span))
        counts = _LISTING.set(self._counts)
        try:
            yield
        finally:
            _LISTING.reset(counts)
            _otel_context.detach(token)

    def page(self, items: int, kind: str | None, region: str | None) -> None:
        """A page of ``items`` jobs was handed over."""
        self.pages += 1
        self.jobs += items
        if ENABLED:
            attributes: dict[str, str] = {}
            if kind is not None:
                attributes["aiopersonalize.job_kind"] = kind
            if region is not None:
                attributes["cloud.region"] = region
            _PAGES.add(1, attributes)
            _JOBS.add(items, attributes)

    def end(
        self,
        error: BaseException | None = None,
        *,
        extra: Callable[[], Attributes] | None = None,
    ) -> None:
        """End the span (once): with the counts, ``extra()``'s attributes, and
        ``error`` (``None``: complete, or left early)."""
        if self._ended:
            return
        self._ended = True
        span = self._span
        if span is None:
            return
        if span.is_recording():
            span.set_attributes(
                {
                    "aiopersonalize.pages": self.pages,
                    "aiopersonalize.jobs": self.jobs,
                    "aiopersonalize.requests": self._counts.requests,
                    "aiopersonalize.retries": self._counts.retries,
                    **(extra() if extra is not None else {}),
                }
            )
            if isinstance(error, Exception):
                span.set_attribute("error.type", type(error).__name__)
                span.record_exception(error)
                span.set_status(_trace.StatusCode.ERROR, str(error))
        span.end()
