"""What the benchmark modules share: the row they report, and interleaved repetitions.

A benchmark module (``bench_*.py`` in this directory) exposes::

    NAME: str                                    # selects it on the command line
    DESCRIPTION: str                             # one line, shown by ``run.py --list``
    async def run(quick: bool) -> list[Row]: ...

It may print its setup as it goes (:func:`log`); ``run.py`` prints the rows of every
selected module in one table at the end.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

__all__ = [
    "REGION",
    "ClientOptions",
    "Contender",
    "Measurement",
    "Row",
    "Samples",
    "client_options",
    "interleave",
    "log",
    "median",
    "paired_ratios",
]


REGION = "us-east-1"


class ClientOptions(TypedDict):
    region_name: str
    endpoint_url: str
    aws_access_key_id: str
    aws_secret_access_key: str


def client_options(endpoint_url: str) -> ClientOptions:
    """What every benchmark client is created with: the emulator's endpoint, one region,
    and dummy credentials (the emulator accepts any)."""
    return {
        "region_name": REGION,
        "endpoint_url": endpoint_url,
        "aws_access_key_id": "benchmark",
        "aws_secret_access_key": "benchmark",
    }


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a measure of ours against the peer's, in the same run.

    ``ours`` and ``peer`` are medians over the repetitions; ``ratio`` is ours/peer, the
    median of the per-repetition ratios (each pair ran seconds apart, so slow drift of
    the machine cancels), and ``spread`` those ratios' minimum and maximum. With a
    ``limit`` the row is an acceptance check, ``ratio <= limit`` (or ``==`` with
    ``check="=="``); without one it is context. ``target`` is the ideal ratio.
    """

    benchmark: str
    measure: str
    unit: str
    ours: float
    peer: float
    ratio: float
    limit: float | None = None
    target: float | None = None
    spread: tuple[float, float] | None = None
    check: Literal["<=", "=="] = "<="

    @property
    def passed(self) -> bool | None:
        """``None`` for a context row; otherwise whether the limit is met."""
        if self.limit is None:
            return None
        if self.check == "==":
            return self.ratio == self.limit
        return self.ratio <= self.limit


def log(benchmark: str, message: str) -> None:
    """A line of setup or progress, printed as the benchmark goes."""
    print(f"[{benchmark}] {message}", flush=True)


Measurement = Mapping[str, float]
"""What one run of a contender measured: e.g. ``{"wall": 1.93, "requests": 12}``."""

Samples = dict[str, list[dict[str, float]]]
"""Each contender's measurements, one per repetition, in repetition order."""


@dataclass(frozen=True, slots=True)
class Contender:
    """A named way of doing the benchmark's job once, returning what it measured."""

    name: str
    run_once: Callable[[], Awaitable[Measurement]]


async def interleave(
    contenders: Sequence[Contender],
    repetitions: int,
    *,
    between: Callable[[], Awaitable[None]] | None = None,
) -> Samples:
    """Run every contender once per repetition, side by side.

    Shared machines drift (other jobs start, CPUs throttle), so no contender gets a
    block of time to itself: the order is forward on even repetitions and reversed on
    odd ones (A B C, C B A, ...), which also cancels any advantage of going first.
    ``between`` runs (untimed) before each run, e.g. to reset a server's counters.
    """
    samples: Samples = {c.name: [] for c in contenders}
    for repetition in range(repetitions):
        order = contenders if repetition % 2 == 0 else list(reversed(contenders))
        for contender in order:
            if between is not None:
                await between()
            gc.collect()  # not in anyone's timed run
            samples[contender.name].append(dict(await contender.run_once()))
    return samples


def paired_ratios(
    ours: Sequence[Mapping[str, float]], peer: Sequence[Mapping[str, float]], key: str
) -> list[float]:
    """Ours/peer for ``key``, repetition by repetition: each pair ran seconds apart."""
    return [o[key] / p[key] for o, p in zip(ours, peer, strict=True)]


def median(values: Sequence[float]) -> float:
    """The median (the middle value, or the mean of the middle two)."""
    return statistics.median(values)
