"""Run the benchmarks and print one table of ratios, ours against a peer, measured side by side.

    python benchmarks/run.py [NAME ...] [--quick] [--list]

Every ``bench_*.py`` next to this file is a benchmark (see ``_common.py`` for what it
exposes); all run by default. The exit status is 0 when every acceptance limit is met,
1 when one is missed or a benchmark fails, 2 for a bad command line. This is a check to
run by hand: timings are not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import cast

HERE = Path(__file__).resolve().parent

if str(HERE) not in sys.path:  # the benchmark modules import each other by name
    sys.path.insert(0, str(HERE))

import anyio  # noqa: E402
from _common import Row  # noqa: E402

__all__ = ["main"]

COLUMNS = ("benchmark", "measure", "ours", "peer", "ratio", "spread", "limit", "ideal", "result")


def isolate_environment() -> None:
    """Configure both contenders by their arguments alone: no config or credentials
    file, profile, retry setting, endpoint or instance metadata of this machine's."""
    os.environ.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for name in ("AWS_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def discover() -> dict[str, ModuleType]:
    """The benchmark modules, by ``NAME``, in file-name order."""
    modules: dict[str, ModuleType] = {}
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        for attribute in ("NAME", "DESCRIPTION", "run"):
            if not hasattr(module, attribute):
                raise RuntimeError(f"{path.name} does not define {attribute}")
        modules[module.NAME] = module
    return modules


def _value(value: float, unit: str) -> str:
    return f"{value:.3f} {unit}" if unit == "s" else f"{value:g} {unit}"


def _cells(row: Row) -> tuple[str, ...]:
    limit = "-" if row.limit is None else f"{'<=' if row.check == '<=' else '='} {row.limit:.2f}"
    result = {None: "context", True: "PASS", False: "FAIL"}[row.passed]
    return (
        row.benchmark,
        row.measure,
        _value(row.ours, row.unit),
        _value(row.peer, row.unit),
        f"{row.ratio:.3f}",
        "-" if row.spread is None else f"{row.spread[0]:.3f}-{row.spread[1]:.3f}",
        limit,
        "-" if row.target is None else f"{row.target:.3f}",
        result,
    )


def table(rows: Sequence[Row]) -> str:
    """The rows as an aligned plain-text table (numbers right-aligned)."""
    lines = [COLUMNS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    left = {0, 1, 8}
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _environment() -> str:
    packages = ", ".join(
        f"{p} {version(p)}" for p in ("aiopersonalize", "aiobotocore", "aiohttp", "anyio")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Python {platform.python_version()}, {packages}; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


async def _run(modules: Sequence[ModuleType], quick: bool) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    failed: list[str] = []
    for module in modules:
        print(f"[{module.NAME}] {module.DESCRIPTION}", flush=True)
        start = time.perf_counter()
        run = cast(Callable[[bool], Awaitable[list[Row]]], module.run)
        try:
            rows.extend(await run(quick))
        except Exception:
            traceback.print_exc()
            failed.append(module.NAME)
            print(f"[{module.NAME}] FAILED (traceback above)", flush=True)
        else:
            print(f"[{module.NAME}] done in {time.perf_counter() - start:.1f} s", flush=True)
    return rows, failed


def main(argv: Sequence[str] | None = None) -> int:
    modules = discover()
    parser = argparse.ArgumentParser(
        description="Benchmarks of aiopersonalize against its peers, as ratios measured "
        "side by side in one run. Exit status 1 if an acceptance limit is missed."
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(modules)})",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, module in modules.items():
            print(f"{name}: {module.DESCRIPTION}")
        return 0
    unknown = [n for n in args.names if n not in modules]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(modules)}")
    selected = [modules[n] for n in dict.fromkeys(args.names or modules)]

    isolate_environment()
    # A leaked socket or session is a bug here as in the tests: show it.
    warnings.simplefilter("default", ResourceWarning)
    print(_environment(), flush=True)
    start = time.perf_counter()
    try:
        rows, failed = anyio.run(_run, selected, args.quick, backend="asyncio")
    except KeyboardInterrupt:  # everything started has been stopped on the way out
        print("interrupted", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start

    print()
    print(table(rows))
    print()
    print("ours, peer: medians over the repetitions. ratio: ours/peer, the median of the")
    print("per-repetition ratios (spread: their min-max). limit: the acceptance. ideal: the")
    print("ratio if only the injected latency and the simulated work took time (memory: if")
    print("the listing took no memory beyond a process that opened a client).")
    missed = [row for row in rows if row.passed is False]
    verdict = "ok" if not missed and not failed else "FAILED"
    details = [f"{len(missed)} limit(s) missed"] if missed else []
    details += [f"benchmark(s) failed: {', '.join(failed)}"] if failed else []
    summary = "; ".join([verdict, *details])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    quick = "quick run, " if args.quick else ""
    print(f"{summary} ({quick}total {elapsed:.1f} s; load average now {load})")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
