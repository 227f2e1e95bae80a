"""The inventory's writer process (``Inventory(url)``) against its in-process form
(``in_process=True``): the same rows, the URL kept off the command line, a writer that
dies, and a write cancelled while the writer is still at it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.to_thread
import psutil
import pytest

from aiopersonalize import Inventory, InventoryError, ListingFailure, ThrottlingError
from aiopersonalize.emulator import Emulator

from .test_inventory import REGION, inference, open_inventory, page, query, segment

_WRITER = "aiopersonalize._inventory"


def _writers() -> list[psutil.Process]:
    """This process's inventory writers (children running ``-m aiopersonalize._inventory``)."""
    return [p for p in psutil.Process().children() if _WRITER in p.cmdline()]


async def _crawl_twice(url: str, *, in_process: bool) -> None:
    """Two crawls: the first sees four jobs; the second sees one changed, one the same,
    not the third (so it is marked deleted), and its segment listing fails (so the
    segment job stays)."""
    failure = ListingFailure(
        None,
        ThrottlingError("slow down", code="ThrottlingException"),
        "ListBatchSegmentJobs",
        REGION,
        "segment",
    )
    async with Inventory(url, in_process=in_process) as inventory:
        run = await inventory.begin_crawl()
        await run.write_pages([page([inference(1), inference(2)], "t1")])
        await run.write_pages([page([inference(3)], None), page([segment(9)], None, "segment")])
        await run.finish()
        run = await inventory.begin_crawl()
        await run.write_pages(
            [page([inference(1, "CREATE FAILED"), inference(2)], None), page([], None, "segment")]
        )
        await run.finish(failures=[failure])


_JOBS = (
    "SELECT arn, kind, account, region, job_name, status, creation_date_time, "
    "last_updated_date_time, failure_reason, solution_version_arn, "
    "batch_inference_job_mode, deleted_at IS NULL, first_crawl_id, last_crawl_id "
    "FROM batch_jobs ORDER BY arn"
)
_HISTORY = "SELECT crawl_id, arn, event, status, previous_status FROM job_history ORDER BY id"
_CRAWLS = (
    "SELECT id, status, jobs_seen, jobs_created, jobs_changed, jobs_deleted, listings_failed "
    "FROM crawls ORDER BY id"
)


async def test_the_writer_process_stores_what_the_in_process_writer_stores(
    inventory_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two crawls (new, changed, unchanged and vanished jobs) leave the same jobs, history
    and crawl rows whether written from the writer process or from this process."""
    await _crawl_twice(inventory_url, in_process=False)
    if inventory_url.startswith("sqlite"):
        elsewhere = f"sqlite:///{tmp_path}/in-process.db"
    else:
        elsewhere = request.getfixturevalue("other_postgres_url")
    await _crawl_twice(elsewhere, in_process=True)
    for statement in (_JOBS, _HISTORY, _CRAWLS):
        assert await query(inventory_url, statement) == await query(elsewhere, statement)
    assert [row[2] for row in await query(inventory_url, _HISTORY)] == [
        "created", "created", "created", "created", "changed", "deleted",
    ]  # fmt: skip


async def test_the_url_is_not_on_the_writer_processs_command_line(tmp_path: Path) -> None:
    """The inventory's URL (a password, in a PostgreSQL one) goes to the writer process
    through its pipe, never on its command line, which other users of the machine read."""
    path = tmp_path / "secret-hunter2.db"
    async with Inventory(f"sqlite:///{path}"):
        (writer,) = _writers()
        assert "hunter2" not in " ".join(writer.cmdline())
        assert "hunter2" not in " ".join(f"{k}={v}" for k, v in writer.environ().items())
    assert _writers() == []


async def test_a_writer_process_killed_midway_fails_the_next_write_in_one_line(
    tmp_path: Path,
) -> None:
    """When the writer process dies (killed, out of memory), the next write raises an
    InventoryError saying so, the pages committed before it stay, and closing is clean."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with Inventory(url) as inventory:
        run = await inventory.begin_crawl()
        await run.write(page([inference(1)], "t1"))
        (writer,) = _writers()
        os.kill(writer.pid, signal.SIGKILL)  # reaped by the inventory, not here
        with pytest.raises(InventoryError) as raised:
            await run.write(page([inference(2)], None))
        assert str(raised.value) == (
            f"cannot write to {url}: the inventory's writer process was killed by signal 9"
        )
        with pytest.raises(InventoryError, match="killed by signal 9"):
            await run.finish()
    assert await query(url, "SELECT job_name FROM batch_jobs") == [("j1",)]
    assert await query(url, "SELECT next_token, jobs FROM crawl_listings") == [("t1", 1)]


async def test_a_write_cancelled_while_the_writer_works_is_answered_before_the_next_call(
    tmp_path: Path,
) -> None:
    """A write cancelled after its pages were handed over is still committed whole by the
    writer process, and the next call reads past its late answer to its own."""
    path = tmp_path / "inventory.db"
    async with Inventory(f"sqlite:///{path}") as inventory:
        run = await inventory.begin_crawl()
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # the writer's transaction waits for it
            async with anyio.create_task_group() as tg:
                tg.start_soon(run.write, page([inference(1), inference(2)], None))
                await anyio.wait_all_tasks_blocked()  # the write waits for its answer
                tg.cancel_scope.cancel()
            blocker.execute("COMMIT")
        finally:
            blocker.close()
        result = await run.finish()
    assert (result.status, result.seen, result.created) == ("complete", 2, 2)


async def test_an_inventory_that_cannot_be_opened_leaves_no_writer_process(
    tmp_path: Path,
) -> None:
    """An inventory refused on opening (another program's database) raises its one-line
    error and leaves no writer process behind."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(InventoryError, match="is not an aiopersonalize inventory"):
        async with Inventory(f"sqlite:///{other}"):
            pass  # pragma: no cover
    assert _writers() == []


def test_the_writer_process_ends_when_the_crawl_is_killed(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """A ``crawl --db`` SIGKILLed midway leaves no writer process behind: it ends when its
    pipe closes, and the database holds whole pages only (rows and positions agree)."""
    from .test_crawl_db import committed_pages, crawl_argv, rows, wait_until

    url = f"sqlite:///{tmp_path}/inventory.db"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2", "--concurrency", "2", "--db", url)
    crawl = subprocess.Popen(
        [sys.executable, "-m", "aiopersonalize", *argv],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: committed_pages(url) >= 2)
        writers = [p for p in psutil.Process(crawl.pid).children() if _WRITER in p.cmdline()]
        assert len(writers) == 1
        crawl.kill()
        crawl.wait(timeout=20)
        writers[0].wait(timeout=20)  # not our child: psutil polls, nothing is reaped
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait(timeout=20)
    assert rows(url, "SELECT count(*) FROM batch_jobs") == rows(
        url, "SELECT sum(jobs) FROM crawl_listings"
    )


async def test_an_inventory_in_process_starts_no_writer_process(tmp_path: Path) -> None:
    """``in_process=True`` does the database's work in this process: no writer process is
    started, and the crawl is stored all the same."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with Inventory(url, in_process=True) as inventory:
        assert _writers() == []
        run = await inventory.begin_crawl()
        await run.write(page([inference(1)], None))
        await run.finish()
        assert _writers() == []
    assert await query(url, "SELECT job_name FROM batch_jobs") == [("j1",)]


def test_the_writer_process_imports_neither_aiobotocore_nor_aiohttp() -> None:
    """The writer process's modules leave the client's stack unimported (it starts in
    a fraction of the time), while the package's names resolve on first use and a name
    it does not have is still an AttributeError."""
    script = (
        "import sys\n"
        "import aiopersonalize._inventory._writer\n"
        "heavy = ('aiobotocore', 'botocore', 'aiohttp', 'aiopersonalize._client')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))\n"
        "import aiopersonalize\n"
        "print(aiopersonalize.Inventory.__name__, aiopersonalize.Client.__name__)\n"
        "print(hasattr(aiopersonalize, 'Nothing'), hasattr(aiopersonalize._inventory, 'No'))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert found == ["[]", "Inventory Client", "False False"]


async def test_a_crawl_written_by_another_process_is_refused_until_it_ends(
    inventory_url: str,
) -> None:
    """While one process writes a crawl, another starting the crawl of the same parameters
    is refused in one line, resumed or not, and the crawl is left as it was; once the
    first has finished, the second starts a crawl of its own."""
    # The first in a writer process always; the second where the test switch says (in
    # this process for the mutation runs, which see no other).
    async with Inventory(inventory_url) as first, open_inventory(inventory_url) as second:
        run = await first.begin_crawl()
        await run.write(page([inference(1)], "t1"))
        for resume in (True, False):
            with pytest.raises(InventoryError) as refused:
                await second.begin_crawl(resume=resume)
            assert str(refused.value) == (
                f"crawl {run.crawl_id} in {first.url} is being written by another process: "
                "one crawl with the same parameters at a time (wait for it to end, or stop it)"
            )
        assert await query(inventory_url, "SELECT id, status, runs FROM crawls") == [
            (run.crawl_id, "running", 1)
        ]
        await run.finish()
        after = await second.begin_crawl()
        assert (after.crawl_id, after.resumed) == (run.crawl_id + 1, False)
        await after.finish()


async def test_a_crawl_whose_writer_was_killed_is_resumed_by_the_next(tmp_path: Path) -> None:
    """The lock of a crawl goes with the process that held it (SQLite's lock file: the
    system drops a dead process's locks): once the first inventory's writer process is
    killed, another inventory resumes the crawl after its last page."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with Inventory(url) as first:
        (writer,) = _writers()
        run = await first.begin_crawl()
        await run.write(page([inference(1)], "t1"))
        async with open_inventory(url) as second:
            os.kill(writer.pid, signal.SIGKILL)
            with pytest.raises(InventoryError, match="killed by signal 9"):
                await run.write(page([inference(2)], None))  # the first has reaped it
            resumed = await second.begin_crawl()
            assert (resumed.crawl_id, resumed.resumed) == (run.crawl_id, True)
            assert resumed.resume == {(REGION, "inference", None): "t1"}
            await resumed.finish()


async def test_a_postgresql_crawl_whose_writer_was_killed_is_resumed_once_its_session_ends(
    postgres_url: str,
) -> None:
    """In PostgreSQL the lock of a crawl is its writer's session's: once the writer
    process is killed, the server ends the session on seeing its connection close, and
    another inventory resumes the crawl after its last page."""
    import psycopg

    async with Inventory(postgres_url) as first:
        (writer,) = _writers()
        run = await first.begin_crawl()
        await run.write(page([inference(1)], "t1"))
        os.kill(writer.pid, signal.SIGKILL)
        with pytest.raises(InventoryError, match="killed by signal 9"):
            await run.write(page([inference(2)], None))  # the first has reaped it
    # Waits for the server to end the dead session: the crawl's lock (the key the
    # backend takes, _postgres._CRAWL_KEY) is granted here once that session is gone.
    key = "hashtextextended(current_schema() || ' crawl ' || %s::text, 0)"
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        with anyio.fail_after(30):
            await conn.execute(f"SELECT pg_advisory_lock({key})".encode(), (run.crawl_id,))
        await conn.execute(f"SELECT pg_advisory_unlock({key})".encode(), (run.crawl_id,))
    async with open_inventory(postgres_url) as second:
        resumed = await second.begin_crawl()
        assert (resumed.crawl_id, resumed.resumed) == (run.crawl_id, True)
        assert resumed.resume == {(REGION, "inference", None): "t1"}
        await resumed.finish()
