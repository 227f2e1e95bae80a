"""``aiopersonalize demo``: ``aiopersonalize crawl`` against the embedded emulator.

Starts the emulator in-process (its seeded inventory, a little latency, a few throttled
requests so that retries show) and crawls two of its regions through the very code of
``aiopersonalize crawl``: the same listing, JSON Lines, progress line and summary. It
needs no AWS account, configuration or network, so it is the README's first command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

import aiopersonalize
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults

from ._engine import Outcome, Plan, crawl
from ._summary import EXIT_INTERRUPTED, exit_status, summarize

__all__ = ["add_arguments", "commands", "run"]

REGIONS = ("us-east-1", "eu-west-1")
# Small pages, so that a small inventory still takes enough requests to show the pool.
PAGE_SIZE = 10
SAMPLE_LINES = 3
MAX_ATTEMPTS = 6
# The port the printed ``serve`` command binds, and the printed crawl's endpoint.
SERVE_PORT = 8686


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``demo`` command's options."""
    parser.add_argument("--seed", type=int, default=0, help="inventory seed (default 0)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="emulated service latency per request, in seconds (default 0.02)",
    )
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=0.02,
        help="share of requests the emulator throttles, retried by the client (default 0.02)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="requests in flight at most (default 10)"
    )


class _Sample:
    """A sink keeping the first few JSON Lines and counting the rest."""

    def __init__(self, keep: int) -> None:
        self.lines: list[str] = []
        self.count = 0
        self._keep = keep

    def write(self, data: bytes, /) -> int:
        lines = data.decode().splitlines()
        self.lines.extend(lines[: max(0, self._keep - len(self.lines))])
        self.count += len(lines)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""


def commands(args: argparse.Namespace) -> tuple[str, str]:
    """The two commands that do what the demo does, with an emulator of your own: one
    serving it (until Ctrl-C), one crawling it. A local endpoint needs no AWS
    configuration: the client signs with dummy keys when none are configured."""
    serve = (
        f"aiopersonalize serve --port {SERVE_PORT} --seed {args.seed}"
        f" --latency {args.latency!r} --throttle-rate {args.throttle_rate!r}"
    )
    crawl = (
        f"aiopersonalize crawl --endpoint-url http://127.0.0.1:{SERVE_PORT} "
        + " ".join(f"--region {region}" for region in REGIONS)
        + f" --page-size {PAGE_SIZE} --concurrency {args.concurrency}"
        + f" --max-attempts {MAX_ATTEMPTS} --output jobs.jsonl"
    )
    return serve, crawl


def _introduction(emulator: Emulator, args: argparse.Namespace) -> Sequence[str]:
    spec = emulator.inventory
    serve, crawl = commands(args)
    return (
        f"The embedded Amazon Personalize emulator serves {emulator.endpoint_url}:",
        f"  {spec.solution_versions} solution versions per region, each with "
        f"{spec.inference_jobs_per_version} batch inference and "
        f"{spec.segment_jobs_per_version} batch segment jobs;",
        f"  {args.latency * 1000:.0f} ms per request, {args.throttle_rate:.0%} of requests "
        "throttled.",
        "Crawling it now. To do the same with an emulator of your own, serve one in a "
        "terminal (Ctrl-C stops it):",
        f"  {serve}",
        "and crawl it from another (no AWS configuration needed for a local endpoint):",
        f"  {crawl}",
        "",
    )


async def _demo(args: argparse.Namespace) -> Outcome:
    faults = Faults(latency=args.latency, throttle_rate=args.throttle_rate)
    async with Emulator(EmulatorOptions(seed=args.seed, faults=faults)) as emulator:
        print("\n".join(_introduction(emulator, args)), flush=True)
        sample = _Sample(SAMPLE_LINES)
        plan = Plan(regions=REGIONS, concurrency=args.concurrency, page_size=PAGE_SIZE)
        async with aiopersonalize.Client(
            endpoint_url=emulator.endpoint_url,
            region_name=REGIONS[0],
            aws_access_key_id="demo",
            aws_secret_access_key="demo",  # noqa: S106 - the emulator accepts any key
            # Throttling is part of the show; no call should run out of attempts.
            max_attempts=MAX_ATTEMPTS,
            max_concurrency=args.concurrency,
        ) as client:
            progress = sys.stderr if sys.stderr.isatty() else None
            outcome = await crawl(client, plan, sample, progress=progress)
    print(f"The first {len(sample.lines)} of {sample.count} JSON Lines:")
    print("\n".join(sample.lines))
    print()
    return outcome


def run(args: argparse.Namespace) -> int:
    """Run ``aiopersonalize demo``; returns the exit status."""
    try:
        outcome = anyio.run(_demo, args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    summarize(outcome, sys.stdout)
    return exit_status(outcome)
