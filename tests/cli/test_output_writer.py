"""The crawl's output writer process (``cli._writer``): the JSON Lines and the journal
written from a process of their own when the output is a file or a pipe, the same bytes
as from the crawl's process, and what happens when either process dies or the disk fills."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import psutil
import pytest

from aiopersonalize import Client
from aiopersonalize.cli._checkpoint import Journal
from aiopersonalize.cli._engine import Plan, crawl
from aiopersonalize.emulator import Emulator, EmulatorOptions

from ..helpers import run_cli
from .test_crawl_command import (
    SLOW,
    SMALL,
    assert_exactly_once,
    crawl_argv,
    journal_entries,
    read_jobs,
    start_cli,
    uninterrupted,
    wait_until,
)

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and files"),
    pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, seed=7)),
]

_WRITER = "aiopersonalize.cli._writer"


class _NoDescriptor:
    """A sink with no file descriptor: the engine writes into it from its own process."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, data: bytes, /) -> int:
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


async def _crawl_to(emulator: Emulator, output: Path, journal: Path, *, own: bool) -> None:
    plan = Plan(concurrency=1, page_size=5)  # one chain at a time: the pages in one order
    with output.open("wb") as file:
        log = Journal.create(journal, {"test": True}, file)
        async with Client(endpoint_url=emulator.endpoint_url) as client:
            outcome = await crawl(client, plan, _NoDescriptor(file) if own else file, journal=log)
        log.close()
    assert outcome.error is None
    assert not outcome.failures


async def test_the_writer_process_writes_what_the_crawls_process_writes(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A crawl into a file (written by the output's writer process) leaves the same output
    and the same journal, byte for byte, as the same crawl written from its own process."""
    await _crawl_to(emulator, tmp_path / "a.jsonl", tmp_path / "a.journal", own=False)
    await _crawl_to(emulator, tmp_path / "b.jsonl", tmp_path / "b.journal", own=True)
    output = (tmp_path / "a.jsonl").read_bytes()
    assert output == (tmp_path / "b.jsonl").read_bytes()
    assert output.count(b"\n") == 4 * (12 + 7)
    assert (tmp_path / "a.journal").read_bytes() == (tmp_path / "b.journal").read_bytes()


def _writer_of(crawl_process: subprocess.Popen[str]) -> psutil.Process:
    """The crawl's output writer process, once it has started."""
    found: list[psutil.Process] = []

    def started() -> bool:
        children = psutil.Process(crawl_process.pid).children()
        found[:] = [p for p in children if _WRITER in p.cmdline()]
        return bool(found)

    wait_until(started)
    return found[0]


@pytest.mark.personalize_emulator(SLOW)
def test_a_killed_output_writer_ends_the_crawl_in_one_line_and_a_rerun_resumes(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """When the output's writer process is killed midway, the crawl stops with exit 1 and
    one line saying so, and a rerun of the command resumes to the whole output, each job
    once."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2", "--concurrency", "2",
                      "-o", str(output), "--checkpoint", str(checkpoint))  # fmt: skip
    process = start_cli(argv, tmp_path)
    try:
        writer = _writer_of(process)
        wait_until(lambda: journal_entries(checkpoint) >= 4)
        writer.kill()
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if "error" in line]
    assert len(errors) == 1, stderr
    assert "the output's writer process was killed by signal 9" in errors[0]
    assert "Traceback" not in stderr
    resumed = run_cli(argv, tmp_path, 60)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed: " in resumed.stderr
    assert sorted(output.read_text().splitlines()) == uninterrupted(emulator_in_thread, tmp_path)
    assert_exactly_once(read_jobs(output))


@pytest.mark.personalize_emulator(SLOW)
def test_the_output_writer_dies_with_the_crawls_process(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """A crawl's process killed with SIGKILL takes its output writer with it: nothing
    goes on appending to the files a rerun recovers."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2",
                      "-o", str(output), "--checkpoint", str(checkpoint))  # fmt: skip
    process = start_cli(argv, tmp_path)
    try:
        writer = _writer_of(process)
        wait_until(lambda: journal_entries(checkpoint) >= 2)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        gone, alive = psutil.wait_procs([writer], timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, [p.pid for p in gone], alive) == (
        -signal.SIGKILL,
        [writer.pid],
        [],
    )


def test_a_full_disk_under_the_output_ends_the_crawl_in_one_line_and_a_rerun_completes(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """When the output can grow no more (the file size limit, which the writer process
    inherits, reached midway), the crawl stops with exit 1 and one line saying so, its
    summary counts the jobs written whole, and a rerun with room completes the output,
    each job once."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2",
                      "-o", str(output), "--checkpoint", str(checkpoint))  # fmt: skip
    done = run_cli(argv, tmp_path, 60, file_size_limit=20_000)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, done.stderr
    assert "File too large" in errors[0]
    assert 0 < len(output.read_bytes()) <= 20_000
    # The summary counts the jobs written whole (journaled), not those handed over.
    last = json.loads(checkpoint.read_bytes().splitlines()[-1])
    written = output.read_bytes()[: last["offset"]].count(b"\n")
    assert 0 < written < len(uninterrupted(emulator_in_thread, tmp_path))
    assert f"jobs: {written} (" in done.stderr
    rerun = run_cli(argv, tmp_path, 60)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(output.read_text().splitlines()) == uninterrupted(emulator_in_thread, tmp_path)
    assert_exactly_once(read_jobs(output))
