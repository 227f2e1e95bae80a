"""Small test helpers shared by several test modules."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio

import aiopersonalize
from aiopersonalize import BatchInferenceJobSummary, Client, MergedListing
from aiopersonalize.emulator import Emulator

Kind = Literal["inference", "segment"]
# The test credentials (conftest.py), which no output may show.
SECRETS = (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])

_PACKAGE = Path(aiopersonalize.__file__).resolve().parent
_EMULATOR = _PACKAGE / "emulator"


def _is_library_code(filename: str) -> bool:
    path = Path(filename)
    return path.is_relative_to(_PACKAGE) and not path.is_relative_to(_EMULATOR)


def _runs_library_code(task: asyncio.Task[object]) -> bool:
    """Whether ``task`` runs the package's own code (the emulator's excepted): a task
    whose coroutine, or a coroutine it awaits, is ours, or a task-group task named after
    one of our functions (anyio names its tasks so, and wraps their coroutines)."""
    name = task.get_name()
    if name.startswith("aiopersonalize.") and not name.startswith("aiopersonalize.emulator"):
        return True
    awaited: object = task.get_coro()
    while awaited is not None:
        code = getattr(awaited, "cr_code", None) or getattr(awaited, "ag_code", None)
        if code is None:
            return False
        if _is_library_code(code.co_filename):
            return True
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return False


def producer_tasks() -> set[asyncio.Task[object]]:
    """The listing tasks alive on this loop: the producers of listings and the workers of
    merged listings (every task running the package's code, but the caller's own)."""
    current = asyncio.current_task()
    return {
        task for task in asyncio.all_tasks() if task is not current and _runs_library_code(task)
    }


async def wait_no_producers(within: float = 10) -> None:
    """Wait until every listing producer task has finished (the timeout turns a leak into
    a failure; it never paces the test)."""
    with anyio.fail_after(within):
        while tasks := producer_tasks():
            await asyncio.wait(tasks)
    assert producer_tasks() == set()


async def wait_until(condition: Callable[[], bool], *, within: float = 10) -> None:
    """Wait until ``condition()`` holds, checking it every millisecond, for counters that
    offer no event to wait on (the emulator's stats). The timeout turns a condition that
    never comes true into a failure; it never paces the test."""
    with anyio.fail_after(within):
        while not condition():  # noqa: ASYNC110 - the counters have no event to wait on
            await anyio.sleep(0.001)


def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def many(client: Client, kind: Kind) -> Callable[..., MergedListing[Any]]:
    """The merged listing method of ``kind``."""
    if kind == "inference":
        return client.list_batch_inference_jobs_many
    return client.list_batch_segment_jobs_many


def arn_of(job: Any) -> str:
    if isinstance(job, BatchInferenceJobSummary):
        return job.batch_inference_job_arn
    return str(job.batch_segment_job_arn)


async def single_listings(emu: Emulator, kind: Kind, versions: list[str]) -> dict[str, list[str]]:
    """Each version's job ARNs in service order, from single-version listings on a client
    of their own and checked against ``Emulator.job_count``; the emulator's counters are
    reset afterwards, so that they count only what the test does next."""
    expected: dict[str, list[str]] = {}
    async with Client(endpoint_url=emu.endpoint_url) as client:
        for version in versions:
            if kind == "inference":
                jobs: list[Any] = await client.list_batch_inference_jobs(version).collect()
            else:
                jobs = await client.list_batch_segment_jobs(version).collect()
            expected[version] = [arn_of(job) for job in jobs]
            assert len(expected[version]) == emu.job_count(kind, version)
    emu.stats.reset()
    return expected


def assert_exactly_once(jobs: list[Any], expected: dict[str, list[str]]) -> None:
    """``jobs`` are every expected job, each once, and each version's in service order."""
    arns = [arn_of(job) for job in jobs]
    assert len(arns) == len(set(arns)), "a job was delivered twice"
    by_version: dict[str, list[str]] = {}
    for job in jobs:
        by_version.setdefault(job.solution_version_arn, []).append(arn_of(job))
    assert by_version == {version: arns for version, arns in expected.items() if arns}


def exception_texts(exc: BaseException) -> list[str]:
    """``str`` and ``repr`` of an exception and of every exception it chains to."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return texts


def assert_no_secrets(*texts: str | bytes) -> None:
    """The test credentials appear nowhere the crawl wrote."""
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for secret in SECRETS:
            assert secret.encode() not in data


def run_cli(
    argv: Sequence[str], cwd: Path, timeout: float = 30, *, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m aiopersonalize ARGV``, to the end (output decoded, ``\r`` kept);
    ``file_size_limit``: the largest file it may write, in bytes (a disk that fills)."""

    def limit_file_size() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    done = subprocess.run(
        [sys.executable, "-m", "aiopersonalize", *argv],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        preexec_fn=None if file_size_limit is None else limit_file_size,
        check=False,
    )
    result = subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )
    assert_no_secrets(result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result
