"""``aiopersonalize crawl --db URL`` against the emulator, into SQLite and PostgreSQL.

The crawl runs as a subprocess where it is killed or its disk fills, in-process
otherwise. The emulator serves from a thread.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiopersonalize import Client
from aiopersonalize.cli import main
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import assert_no_secrets, run_cli
from .test_inventory import open_inventory, query

SMALL = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=12,
    segment_jobs_per_version=7,
)
SLOW = EmulatorOptions(inventory=SMALL, seed=7, faults=Faults(latency=0.03))

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and limits"),
    pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, seed=7)),
]


def crawl_argv(emulator: Emulator, *options: str) -> list[str]:
    return ["crawl", "--endpoint-url", emulator.endpoint_url, "--page-size", "5", *options]


def total_jobs(emulator: Emulator) -> int:
    return sum(
        emulator.job_count(kind, version)
        for version in emulator.solution_version_arns()
        for kind in ("inference", "segment")
    )


def rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    return anyio.run(query, url, statement)


def wait_until(condition: Callable[[], bool], within: float = 20) -> None:
    """Poll ``condition`` until it holds (the deadline turns a hang into a failure)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def committed_pages(url: str) -> int:
    try:
        found = rows(url, "SELECT coalesce(sum(pages), 0) FROM crawl_listings")
    except Exception:  # not created yet
        return 0
    return int(found[0][0])


def test_db_alone_stores_the_inventory_and_writes_no_lines(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``crawl --db`` alone stores every job once and prints no JSON Lines; a rerun
    changes nothing and says so in its summary."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    assert main(crawl_argv(emulator_in_thread, "--db", url)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    total = total_jobs(emulator_in_thread)
    assert f"{total} jobs seen, {total} new" in err
    assert main(crawl_argv(emulator_in_thread, "--db", url)) == 0
    assert f"{total} jobs seen, 0 new, 0 changed, 0 reappeared, 0 marked deleted" in (
        capsys.readouterr().err
    )
    assert rows(url, "SELECT count(*), count(DISTINCT arn) FROM batch_jobs") == [(total, total)]
    assert rows(url, "SELECT status FROM crawls") == [("complete",), ("complete",)]


def test_db_with_output_writes_both(emulator_in_thread: Emulator, tmp_path: Path) -> None:
    """``--db`` with ``--output`` writes the JSON Lines as before and the same jobs to
    the database."""
    url, output = f"sqlite:///{tmp_path}/inventory.db", tmp_path / "jobs.jsonl"
    assert main(crawl_argv(emulator_in_thread, "--db", url, "-o", str(output))) == 0
    lines = output.read_text().splitlines()
    assert len(lines) == total_jobs(emulator_in_thread)
    assert rows(url, "SELECT count(*) FROM batch_jobs") == [(len(lines),)]


@pytest.mark.personalize_emulator(SLOW)
def test_crawl_killed_midway_resumes_from_the_database(
    emulator_in_thread: Emulator, tmp_path: Path, inventory_url: str
) -> None:
    """A crawl SIGKILLed midway, then rerun with the same command, resumes from the
    database alone: every job stored once, counted once, and the crawl complete."""
    argv = crawl_argv(emulator_in_thread, "--page-size", "2", "--concurrency", "2",
                      "--db", inventory_url)  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "aiopersonalize", *argv],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: committed_pages(inventory_url) >= 4)
        assert process.poll() is None, "the crawl ended before it could be killed"
        process.kill()
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    total = total_jobs(emulator_in_thread)
    assert rows(inventory_url, "SELECT status FROM crawls") == [("running",)]
    assert rows(inventory_url, "SELECT count(*) FROM batch_jobs")[0][0] < total

    resumed = run_cli(argv, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert ", resumed in " in resumed.stderr
    assert rows(inventory_url, "SELECT count(*), count(DISTINCT arn) FROM batch_jobs") == [
        (total, total)
    ]
    assert rows(inventory_url, "SELECT status, runs, jobs_seen, jobs_created FROM crawls") == [
        ("complete", 2, total, total)
    ]
    assert rows(inventory_url, "SELECT count(*) FROM job_history") == [(total,)]


def test_a_full_disk_mid_crawl_ends_it_with_one_line_and_a_rerun_completes(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """When the disk fills midway (the file size limit reached), the crawl stops with exit 1
    and one line saying so, the database keeps whole pages only, and a rerun with room
    resumes it to every job, once."""
    path = tmp_path / "inventory.db"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2", "--db", f"sqlite:///{path}")
    # Room for the schema and a few pages, not for the whole crawl.
    done = run_cli(argv, tmp_path, 60, file_size_limit=120_000)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    # ENOSPC is "database or disk is full"; the size limit's EFBIG, an I/O error.
    assert "database or disk is full" in errors[0] or "disk I/O error" in errors[0]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = conn.execute("SELECT count(*) FROM batch_jobs").fetchone()[0]
        listed = conn.execute("SELECT coalesce(sum(jobs), 0) FROM crawl_listings").fetchone()[0]
    assert 0 < stored == listed  # whole pages: rows and positions together
    rerun = run_cli(argv, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    total = total_jobs(emulator_in_thread)
    assert rows(f"sqlite:///{path}", "SELECT count(*) FROM batch_jobs") == [(total,)]


def test_a_database_that_cannot_be_used_stops_the_crawl_before_it_starts(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """A database that is something else's, or of a newer schema, stops the crawl with
    exit 2 and one line, before any request and before the output is opened."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    output = tmp_path / "jobs.jsonl"
    result = run_cli(
        crawl_argv(emulator_in_thread, "--db", f"sqlite:///{other}", "-o", str(output)), tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"aiopersonalize crawl: error: sqlite:///{other} is not an aiopersonalize inventory: "
        "it has tables, but no aiopersonalize_inventory table"
    ]
    assert not output.exists()
    assert emulator_in_thread.stats.requests == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--db", "mysql://x/y"), "not an inventory URL ('mysql')"),
        (
            ("--db", "sqlite:///x.db", "--checkpoint", "c", "-o", "o"),
            "the database is the checkpoint",
        ),
    ],
)
def test_db_usage_errors_exit_2(
    emulator_in_thread: Emulator, tmp_path: Path, options: Sequence[str], message: str
) -> None:
    """A URL of another scheme, or --checkpoint with --db, is a usage error (exit 2)."""
    result = run_cli(crawl_argv(emulator_in_thread, *options), tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert_no_secrets(result.stderr)
    assert not (tmp_path / "x.db").exists()


def test_interrupted_crawl_into_the_database_exits_130_and_says_how_to_resume(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """SIGINT ends a --db crawl with exit 130 after its last whole page, the crawl row
    'interrupted', and the summary names the database to resume from."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    slow = emulator_in_thread
    slow.faults = Faults(latency=0.03)
    argv = crawl_argv(slow, "--page-size", "2", "--concurrency", "2", "--db", url)
    process = subprocess.Popen(
        [sys.executable, "-m", "aiopersonalize", *argv],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: committed_pages(url) >= 4)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert f"rerun the same command to resume from {url}" in stderr
    assert rows(url, "SELECT status FROM crawls") == [("interrupted",)]


# -- the library: Inventory.crawl --------------------------------------------------------


async def test_inventory_crawl_from_a_service_stores_then_syncs(
    emulator: Emulator, tmp_path: Path
) -> None:
    """``Inventory.crawl(client)`` stores every job of the emulator once; a second crawl
    finds nothing new, changed or gone, and syncs every scope."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        first = await inventory.crawl(client, page_size=7)
        second = await inventory.crawl(client, page_size=7)
    total = total_jobs(emulator)
    assert (first.status, first.seen, first.created) == ("complete", total, total)
    assert (second.seen, second.created, second.changed, second.deleted) == (total, 0, 0, 0)
    assert {(region, kind) for region, kind, _ in second.scopes} == {
        ("us-east-1", "inference"),
        ("us-east-1", "segment"),
    }


async def test_inventory_crawl_whose_listings_fail_marks_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A crawl whose every listing fails (no server at the endpoint) ends 'partial', marks
    no job deleted, and the next crawl with the same parameters resumes it."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        await inventory.crawl(client, options={"endpoint": "same"})
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with (
        Client(endpoint_url=dead, max_attempts=1) as client,
        open_inventory(url) as inventory,
    ):
        failed = await inventory.crawl(client, options={"endpoint": "same"})
    assert (failed.status, failed.deleted, failed.seen) == ("partial", 0, 0)
    assert await query(url, "SELECT count(*) FROM batch_jobs WHERE deleted_at IS NULL") == [
        (total_jobs(emulator),)
    ]
    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        resumed = await inventory.crawl(client, options={"endpoint": "same"})
    assert (resumed.crawl_id, resumed.resumed, resumed.status) == (2, True, "complete")


def test_invalid_crawl_input_with_db_touches_no_database(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """Invalid crawl input (a malformed region) with --db is a usage error (exit 2) found
    before the database is opened: no file is created and nothing is sent."""
    path = tmp_path / "inventory.db"
    result = run_cli(
        crawl_argv(emulator_in_thread, "--region", "not a region", "--db", f"sqlite:///{path}"),
        tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "region" in result.stderr
    assert not path.exists()
    assert emulator_in_thread.stats.requests == 0
