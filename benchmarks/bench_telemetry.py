"""Telemetry: the client CPU a listing costs with OpenTelemetry's API installed and no
SDK configured (what a library's users have by default), against the same listing with
the telemetry off (what they have without the package), in the same run; then, for
context, with an SDK recording every span and metric.

The claim (``aiopersonalize/_telemetry.py``, ``docs/observability.md``): without an SDK
the spans and metrics cost nothing measurable. Acceptance: CPU per page at most 1.05 of
the listing without telemetry, the median of paired ratios.

One emulator, in a subprocess (``EmulatorProcess``) so that its CPU is not the client's,
serves one solution version with 20,000 batch inference jobs: 200 pages of 100, no
latency, so the client's own work per page is all that differs. Each run lists them all
(``prefetch=1``), record by record. "Off" sets ``_telemetry.ENABLED`` to ``False`` for
its run: the code path of a machine without ``opentelemetry-api`` (every hook returns
at once). The SDK rows come last, once an SDK tracer provider (a batch processor to an
exporter that drops the spans) and meter provider (an in-memory reader) are set: a
process sets them once, so the no-SDK rows must run before.

15 repetitions, interleaved (3 with ``--quick``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from _common import (
    Contender,
    Measurement,
    Row,
    Samples,
    client_options,
    interleave,
    log,
    median,
    paired_ratios,
)
from aiobotocore.session import get_session

import aiopersonalize
from aiopersonalize import _telemetry
from aiopersonalize.emulator import EmulatorOptions, EmulatorProcess, InventorySpec

__all__ = ["DESCRIPTION", "NAME", "run"]

NAME = "telemetry"
DESCRIPTION = (
    "200 pages of 100 jobs: client CPU per page with OpenTelemetry's API and no SDK, "
    "vs the telemetry off; with an SDK, for context"
)

PAGE_SIZE = 100
JOBS = 20_000
PAGES = JOBS // PAGE_SIZE
LIMIT = 1.05

REPETITIONS = 15
QUICK_REPETITIONS = 3

ON = "API, no SDK"
OFF = "telemetry off"
SDK = "SDK recording"


async def _list(client: aiopersonalize.Client, arn: str, *, enabled: bool) -> Measurement:
    """One whole listing: its client CPU per page, in milliseconds."""
    was = _telemetry.ENABLED
    _telemetry.ENABLED = enabled and was
    try:
        count = 0
        started = time.process_time()
        async with client.list_batch_inference_jobs(arn, page_size=PAGE_SIZE) as jobs:
            async for _ in jobs:
                count += 1
        cpu = time.process_time() - started
    finally:
        _telemetry.ENABLED = was
    if count != JOBS:
        raise RuntimeError(f"listed {count} jobs; expected {JOBS}")
    return {"cpu_per_page_ms": cpu / PAGES * 1000}


def _row(samples: Samples, ours: str, peer: str, limit: float | None) -> Row:
    key = "cpu_per_page_ms"
    ratios = paired_ratios(samples[ours], samples[peer], key)
    return Row(
        benchmark=NAME,
        measure=f"CPU per page, {ours} / {peer}",
        unit="ms",
        ours=median([s[key] for s in samples[ours]]),
        peer=median([s[key] for s in samples[peer]]),
        ratio=median(ratios),
        limit=limit,
        target=1.0,
        spread=(min(ratios), max(ratios)),
    )


def _configure_sdk() -> None:
    """An application's SDK: every span recorded and handed to an exporter that drops
    it (in batches, as services export), every metric aggregated."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class _Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


async def run(quick: bool) -> list[Row]:
    """Time the listing with the telemetry on (no SDK) and off, interleaved; then with an
    SDK and off."""
    if not _telemetry.ENABLED:
        raise RuntimeError("opentelemetry-api is not installed: nothing to measure")
    repetitions = QUICK_REPETITIONS if quick else REPETITIONS
    inventory = InventorySpec(
        dataset_groups=1,
        solutions_per_dataset_group=1,
        versions_per_solution=1,
        inference_jobs_per_version=JOBS,
        segment_jobs_per_version=0,
    )
    emulator = EmulatorProcess(EmulatorOptions(inventory=inventory))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(emulator)
        options = client_options(emulator.endpoint_url)
        raw = await stack.enter_async_context(get_session().create_client("personalize", **options))
        arn: str = (await raw.list_solution_versions())["solutionVersions"][0]["solutionVersionArn"]
        client = await stack.enter_async_context(aiopersonalize.Client(**options))
        await _list(client, arn, enabled=True)  # warm-up: connections, models
        log(NAME, f"{PAGES} pages of {PAGE_SIZE}, {repetitions} repetitions each")

        async def on() -> Measurement:
            return await _list(client, arn, enabled=True)

        async def off() -> Measurement:
            return await _list(client, arn, enabled=False)

        samples = await interleave([Contender(ON, on), Contender(OFF, off)], repetitions)
        _configure_sdk()
        recorded = await interleave([Contender(SDK, on), Contender(OFF, off)], repetitions)
    return [_row(samples, ON, OFF, LIMIT), _row(recorded, SDK, OFF, None)]
