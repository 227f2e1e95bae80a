"""``aiopersonalize demo``: the embedded emulator, listed through the public API.

Starts the emulator in-process with its seeded inventory, then lists every solution
version's batch inference and batch segment jobs concurrently and prints what it found.
Uses only the public API: what it does, a user's program can do.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import anyio

import aiopersonalize
from aiopersonalize.emulator import Emulator, Faults, InventorySpec

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="inventory seed (default 0)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="emulated service latency per request, in seconds (default 0.02)",
    )


async def _list_version(
    client: aiopersonalize.Client, arn: str, found: dict[str, Counter[str]]
) -> None:
    for kind, listing in (
        ("inference", client.list_batch_inference_jobs(arn)),
        ("segment", client.list_batch_segment_jobs(arn)),
    ):
        async with listing:
            async for job in listing:
                found[kind][str(job.status)] += 1


async def _demo(seed: int, latency: float) -> int:
    faults = Faults(latency=latency)
    async with Emulator(inventory=InventorySpec(), seed=seed, faults=faults) as emu:
        versions = emu.solution_version_arns()
        print(f"emulator at {emu.endpoint_url}: {len(versions)} solution versions")
        found: dict[str, Counter[str]] = {"inference": Counter(), "segment": Counter()}
        started = time.perf_counter()
        async with (
            aiopersonalize.Client(
                endpoint_url=emu.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="demo",
                aws_secret_access_key="demo",  # noqa: S106 - the emulator accepts any key
            ) as client,
            anyio.create_task_group() as tg,
        ):
            for arn in versions:
                tg.start_soon(_list_version, client, arn, found)
        elapsed = time.perf_counter() - started
        for kind, statuses in found.items():
            detail = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            print(f"batch {kind} jobs: {sum(statuses.values())} ({detail})")
        print(f"{emu.stats.requests} requests in {elapsed:.2f} s")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return anyio.run(_demo, args.seed, args.latency)
    except aiopersonalize.PersonalizeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
