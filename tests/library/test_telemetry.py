"""OpenTelemetry: the spans and metrics the library records as soon as the application
configures an SDK, seen through the SDK's in-memory exporters over real HTTP against
the emulator; and the library without the package at all.

OpenTelemetry's providers are global and set once per process: this module sets an SDK
tracer provider (whose processor keeps spans only while a test here runs) and a meter
provider with an in-memory reader, after the library was imported, as an application
does. Metrics are cumulative, so each test compares a reading before and after.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiopersonalize import AccessDeniedError, Client, Listing, Page, _telemetry
from aiopersonalize._paging import inline_source
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import assert_no_secrets

REGION = "us-east-1"
SIX_VERSIONS = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=3,
    inference_jobs_per_version=4,
    segment_jobs_per_version=4,
)
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SIX_VERSIONS))


class _WhileArmed(SimpleSpanProcessor):
    """Exports the spans that end while a test of this module runs, and no others (the
    provider stays set for the rest of the session)."""

    armed = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.armed:
            super().on_end(span)


_EXPORTER = InMemorySpanExporter()
_PROCESSOR = _WhileArmed(_EXPORTER)
_READER = InMemoryMetricReader()


@pytest.fixture(scope="module")
def _sdk() -> None:
    """The application's OpenTelemetry SDK, configured once (after the library's import)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_PROCESSOR)
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


@pytest.fixture
def spans(_sdk: None) -> Iterator[InMemorySpanExporter]:
    """The spans ended during the test."""
    _EXPORTER.clear()
    _PROCESSOR.armed = True
    try:
        yield _EXPORTER
    finally:
        _PROCESSOR.armed = False
        _EXPORTER.clear()


def _metric_points() -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    """Every aiopersonalize metric point now: (name, attributes) -> cumulative value."""
    points: dict[tuple[str, frozenset[tuple[str, Any]]], float] = {}
    data = _READER.get_metrics_data()
    if data is None:
        return points
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            if scope.scope.name != "aiopersonalize":
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, frozenset(dict(point.attributes or {}).items()))
                    points[key] = float(getattr(point, "value", 0))
    return points


def _totals(
    before: dict[tuple[str, frozenset[tuple[str, Any]]], float],
    after: dict[tuple[str, frozenset[tuple[str, Any]]], float],
) -> Counter[str]:
    """Each metric's change between two readings, summed over its attributes."""
    totals: Counter[str] = Counter()
    for key, value in after.items():
        totals[key[0]] += value - before.get(key, 0.0)
    return totals


def _named(exported: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [span for span in exported.get_finished_spans() if span.name.startswith(prefix)]


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _is_child(span: ReadableSpan, parent: ReadableSpan) -> bool:
    assert span.parent is not None
    assert parent.context is not None
    return (
        span.parent.span_id == parent.context.span_id
        and span.context is not None
        and span.context.trace_id == parent.context.trace_id
    )


async def test_a_listing_has_a_span_with_one_aws_sdk_client_span_per_call(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """A listing fetched ahead in a task of its own gives one CLIENT span per API call, with
    the semantic conventions' AWS SDK attributes, each a child of the listing's span,
    which carries the pages, jobs, requests and retries."""
    arn = emulator.solution_version_arns()[0]
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        jobs = await client.list_batch_inference_jobs(arn, page_size=2).collect()
    assert len(jobs) == 4
    (listing,) = _named(spans, "aiopersonalize.")
    calls = _named(spans, "Personalize.")
    assert listing.name == "aiopersonalize.listing"
    assert listing.kind is SpanKind.INTERNAL
    assert len(calls) == 2 == emulator.stats.requests
    port = int(emulator.endpoint_url.rsplit(":", 1)[1])
    for call in calls:
        attributes = _attributes(call)
        assert call.name == "Personalize.ListBatchInferenceJobs"
        assert call.kind is SpanKind.CLIENT
        assert call.status.status_code is StatusCode.UNSET
        assert attributes.pop("aws.request_id")
        assert attributes == {
            "rpc.system": "aws-api",
            "rpc.service": "Personalize",
            "rpc.method": "ListBatchInferenceJobs",
            "cloud.region": REGION,
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": 200,
            "retry_attempts": 0,
        }
        assert _is_child(call, listing)
    assert _attributes(listing) == {
        "aiopersonalize.description": f"ListBatchInferenceJobs {arn}",
        "rpc.method": "ListBatchInferenceJobs",
        "aiopersonalize.solution_version_arn": arn,
        "aiopersonalize.pages": 2,
        "aiopersonalize.jobs": 4,
        "aiopersonalize.requests": 2,
        "aiopersonalize.retries": 0,
    }


async def test_the_spans_of_a_listing_fetched_in_the_callers_task_are_its_children(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """With ``prefetch=0`` (pages fetched in the caller's task) the calls' spans are the
    listing's children too, and the listing's span is the child of the application's."""
    tracer = trace.get_tracer("the-application")
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        with tracer.start_as_current_span("request-handler"):
            jobs = await client.list_batch_segment_jobs(page_size=10, prefetch=0).collect()
    assert len(jobs) == 24
    (handler,) = _named(spans, "request-handler")
    (listing,) = _named(spans, "aiopersonalize.listing")
    calls = _named(spans, "Personalize.ListBatchSegmentJobs")
    assert len(calls) == 3
    assert _is_child(listing, handler)
    assert all(_is_child(call, listing) for call in calls)


async def test_merged_listing_workers_make_children_of_its_span_and_count_retries(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """Under throttling and 5xx, the calls of a merged listing's worker tasks are children
    of its span; their ``retry_attempts`` and retry events add up to the client's and the
    emulator's counts, and the listing's span carries the totals."""
    versions = emulator.solution_version_arns()
    emulator.faults = Faults(throttle_rate=0.15, error_rate=0.1)
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, max_attempts=10
    ) as client:
        listing = client.list_batch_inference_jobs_many(versions, page_size=2, concurrency=6)
        assert len(await listing.collect()) == 24
        stats = client.stats
    served = emulator.stats
    (merged,) = _named(spans, "aiopersonalize.merged_listing")
    calls = _named(spans, "Personalize.")
    assert len(calls) == stats.calls == 12
    assert all(_is_child(call, merged) for call in calls)
    retries = sum(_attributes(call)["retry_attempts"] for call in calls)
    events = [event for call in calls for event in call.events if event.name == "retry"]
    assert retries == len(events) == stats.retries == served.throttled + served.server_errors
    assert retries > 0
    assert {dict(event.attributes or {})["reason"].split()[0] for event in events} <= {
        "throttled",
        "error",
    }
    assert _attributes(merged) | {"aiopersonalize.description": None} == {
        "aiopersonalize.description": None,
        "aiopersonalize.pages": 12,
        "aiopersonalize.jobs": 24,
        "aiopersonalize.requests": served.requests,
        "aiopersonalize.retries": retries,
        "aiopersonalize.listings": 6,
        "aiopersonalize.listings_done": 6,
        "aiopersonalize.listings_failed": 0,
    }


async def test_a_crawl_span_parents_discovery_and_listing_calls(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """A crawl by versions has one ``aiopersonalize.crawl`` span, the parent of every
    discovery and listing call's span, with as many call spans as the emulator served."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        jobs = await client.crawl_batch_jobs(strategy="versions", page_size=10).collect()
    assert len(jobs) == 48
    (crawl,) = _named(spans, "aiopersonalize.")
    calls = _named(spans, "Personalize.")
    assert crawl.name == "aiopersonalize.crawl"
    assert all(_is_child(call, crawl) for call in calls)
    methods = Counter(_attributes(call)["rpc.method"] for call in calls)
    assert methods == Counter(emulator.stats.by_operation)
    assert _attributes(crawl)["aiopersonalize.requests"] == emulator.stats.requests
    assert _attributes(crawl)["aiopersonalize.listings"] == 12


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SIX_VERSIONS, credentials={"AKIDOTHER": "other-secret"})
)
async def test_a_failed_call_marks_its_span_and_the_listings_as_errors(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """A call the service refuses ends its span with an error status, ``error.type`` and
    the status code, and so does the listing's span; no credential is in any span."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        with pytest.raises(AccessDeniedError):
            await client.list_batch_inference_jobs().collect()
    (listing,) = _named(spans, "aiopersonalize.listing")
    (call,) = _named(spans, "Personalize.")
    for span in (call, listing):
        assert span.status.status_code is StatusCode.ERROR
        assert _attributes(span)["error.type"] == "AccessDeniedError"
        assert [event.name for event in span.events] == ["exception"]
    assert _attributes(call)["http.response.status_code"] == 400
    assert _is_child(call, listing)
    assert_no_secrets(*(span.to_json() for span in spans.get_finished_spans()))


async def test_a_failed_merged_listing_marks_its_span_as_an_error(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """A merged listing ended by a refused version (``on_error="raise"``) ends its span,
    described as the listing is, with an error status and ``error.type``, and counts the
    listing that failed."""
    versions = emulator.solution_version_arns()[:2]
    emulator.faults = Faults(deny_solution_versions=frozenset({versions[1]}))
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.list_batch_inference_jobs_many(versions, concurrency=1)
        with pytest.raises(AccessDeniedError):
            await listing.collect()
    (merged,) = _named(spans, "aiopersonalize.merged_listing")
    attributes = _attributes(merged)
    assert (
        attributes["aiopersonalize.description"] == "ListBatchInferenceJobs x 2 solution versions"
    )
    assert merged.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == "AccessDeniedError"
    assert [event.name for event in merged.events] == ["exception"]
    assert (
        attributes["aiopersonalize.listings"],
        attributes["aiopersonalize.listings_failed"],
    ) == (
        2,
        1,
    )


async def test_metrics_count_requests_retries_throttles_pages_and_jobs(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """The counters move by what the emulator served (requests, throttles) and the
    listing delivered (pages, jobs), retries by the client's count, and no request is
    left in flight."""
    versions = emulator.solution_version_arns()
    emulator.faults = Faults(throttle_rate=0.2, error_rate=0.1)
    before = _metric_points()
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, max_attempts=10
    ) as client:
        listing = client.list_batch_segment_jobs_many(versions, page_size=3, concurrency=4)
        assert len(await listing.collect()) == 24
        stats = client.stats
    totals = _totals(before, _metric_points())
    served = emulator.stats
    assert totals["aiopersonalize.requests"] == served.requests == stats.requests
    assert totals["aiopersonalize.retries"] == stats.retries > 0
    assert totals["aiopersonalize.throttles"] == served.throttled == stats.throttled > 0
    assert totals["aiopersonalize.pages"] == 12
    assert totals["aiopersonalize.jobs"] == 24
    assert totals["aiopersonalize.requests.in_flight"] == 0


async def test_pages_and_jobs_are_counted_by_job_kind_and_region(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """The pages and jobs counters carry each page's job kind and region: a merged
    listing of both kinds counts each kind's pages and jobs under its own attributes."""
    versions = emulator.solution_version_arns()[:2]
    before = _metric_points()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        inference = await client.list_batch_inference_jobs_many(versions, page_size=3).collect()
        segment = await client.list_batch_segment_jobs_many(versions, page_size=4).collect()
    assert (len(inference), len(segment)) == (8, 8)
    after = _metric_points()
    moved = {key: value - before.get(key, 0.0) for key, value in after.items()}
    for kind, pages in (("inference", 4), ("segment", 2)):
        attributes = frozenset({("aiopersonalize.job_kind", kind), ("cloud.region", REGION)})
        assert moved[("aiopersonalize.pages", attributes)] == pages
        assert moved[("aiopersonalize.jobs", attributes)] == 8


async def test_a_listing_made_without_a_span_starts_its_own(spans: InMemorySpanExporter) -> None:
    """A Listing constructed without a span (the client always gives it one) starts its
    own ``aiopersonalize.listing`` span, described as it was, at its first page."""

    async def pages() -> Any:
        yield Page(items=(1, 2), next_token="t1")
        yield Page(items=(3,), next_token=None)

    listing: Listing[int] = Listing(inline_source(pages()), description="two pages")
    assert await listing.collect() == [1, 2, 3]
    (span,) = _named(spans, "aiopersonalize.")
    assert span.name == "aiopersonalize.listing"
    assert _attributes(span) == {
        "aiopersonalize.description": "two pages",
        "aiopersonalize.pages": 2,
        "aiopersonalize.jobs": 3,
        "aiopersonalize.requests": 0,
        "aiopersonalize.retries": 0,
    }


async def test_retries_and_throttling_are_logged_without_credentials(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is logged at INFO on the ``aiopersonalize`` logger with its operation,
    region and cause (throttled, or the error), and no credential."""
    emulator.faults = Faults(throttle_rate=0.3)
    caplog.set_level(logging.DEBUG, logger="aiopersonalize")
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGION, max_attempts=10
    ) as client:
        await client.list_batch_inference_jobs(page_size=2).collect()
        retries = client.stats.retries
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retries > 0
    assert len(retried) == retries
    assert all(r.levelno == logging.INFO for r in retried)
    assert all(
        r.getMessage().startswith(f"ListBatchInferenceJobs in {REGION}: retrying (attempt ")
        and "after throttled ThrottlingException (HTTP 400)" in r.getMessage()
        for r in retried
    )
    assert_no_secrets(caplog.text)


def test_without_opentelemetry_the_library_lists_as_before(emulator_in_thread: Emulator) -> None:
    """With ``opentelemetry`` not importable, the library imports, lists and counts as
    usual (the telemetry hooks do nothing)."""
    program = f"""
import sys
sys.modules["opentelemetry"] = None  # as if the package were not installed
import anyio
from aiopersonalize import Client, _telemetry

async def main():
    async with Client(endpoint_url={emulator_in_thread.endpoint_url!r}, region_name="us-east-1") as client:
        jobs = await client.list_batch_inference_jobs(page_size=5).collect()
        print(json.dumps([_telemetry.ENABLED, len(jobs), client.stats.calls, client.stats.retries]))

import json
anyio.run(main)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, 24, 5, 0]
    assert _telemetry.ENABLED


async def test_botocore_instrumentor_sees_none_of_these_calls_and_adds_no_duplicate(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    """With ``BotocoreInstrumentor`` on, this library's calls still give exactly one span
    each, its own: the instrumentor patches botocore's client, not aiobotocore's (what
    docs/observability.md says)."""
    instrumentor = BotocoreInstrumentor()
    instrumentor.instrument()
    try:
        async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
            await client.list_batch_inference_jobs(page_size=10).collect()
    finally:
        instrumentor.uninstrument()
    scopes = Counter(
        (span.instrumentation_scope.name if span.instrumentation_scope else None, span.name)
        for span in spans.get_finished_spans()
    )
    assert scopes == {
        ("aiopersonalize", "aiopersonalize.listing"): 1,
        ("aiopersonalize", "Personalize.ListBatchInferenceJobs"): 3,
    }
