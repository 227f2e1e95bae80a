"""What the inventory records of each crawl (its options, program, failures and error),
which scopes it syncs, how pages are grouped into transactions, and the exact words of
each refusal, against real SQLite files and PostgreSQL.

Pages are made as in ``test_inventory.py``; a crawl through a real merged listing uses
the emulator.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from aiopersonalize import (
    Client,
    ConfigurationError,
    Inventory,
    InventoryError,
    ListingFailure,
    Page,
    ThrottlingError,
)
from aiopersonalize._inventory import SCHEMA_VERSION, CrawlResult, redact_url
from aiopersonalize._inventory._schema import META_TABLE, migration
from aiopersonalize._inventory._sink import _hand_over
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from .test_inventory import ACCOUNT, REGION, inference, open_inventory, page, query, segment

OTHER_REGION = "eu-west-1"
THROTTLED = ThrottlingError("slow down", code="ThrottlingException")
VERSION = inference(1).solution_version_arn

pytestmark = pytest.mark.personalize_emulator(
    EmulatorOptions(
        inventory=InventorySpec(
            dataset_groups=1,
            solutions_per_dataset_group=1,
            versions_per_solution=1,
            inference_jobs_per_version=6,
            segment_jobs_per_version=0,
        ),
        seed=3,
    )
)


def elsewhere(n: int, kind: str = "inference") -> Any:
    """Job ``n`` of ``kind`` in OTHER_REGION."""
    job = inference(n) if kind == "inference" else segment(n)
    field = "batch_inference_job_arn" if kind == "inference" else "batch_segment_job_arn"
    arn = getattr(job, field).replace(f":{REGION}:", f":{OTHER_REGION}:")
    return type(job)(**{**{f: getattr(job, f) for f in job.__struct_fields__}, field: arn})


async def the_crawl(url: str, columns: str, crawl_id: int = 1) -> tuple[Any, ...]:
    """``columns`` of crawl ``crawl_id``."""
    (row,) = await query(url, f"SELECT {columns} FROM crawls WHERE id = {crawl_id}")
    return row


async def crawl_through(inventory: Inventory, pages: Sequence[Page[Any]]) -> CrawlResult:
    """A crawl of ``pages`` in one transaction, in an open ``inventory``."""
    run = await inventory.begin_crawl()
    await run.write_pages(pages)
    return await run.finish()


async def crawl_in(
    url: str,
    pages: Sequence[Page[Any]],
    *,
    failures: Sequence[ListingFailure] = (),
    **begin: Any,
) -> CrawlResult:
    """A crawl of ``pages`` in one transaction, begun with ``begin``, ended with ``failures``."""
    async with open_inventory(url) as inventory:
        run = await inventory.begin_crawl(**begin)
        await run.write_pages(pages)
        return await run.finish(failures=failures)


# -- the URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://crawler:hunter2@db.example:5432/inv?sslmode=require",
            "postgresql://crawler:***@db.example:5432/inv?sslmode=require",
        ),
        (
            "postgresql://db.example/inv?user=crawler&password=hunter2&sslmode=require",
            "postgresql://db.example/inv?user=crawler&password=***&sslmode=require",
        ),
        ("postgresql://hunter2:hunter2@db/inv", "postgresql://hunter2:***@db/inv"),
        ("postgresql://[::1/inv?PASSWORD=hunter2", "postgresql://[::1/inv?PASSWORD=***"),
        ("postgresql://crawler@db/inv", "postgresql://crawler@db/inv"),
        ("sqlite:///inventory.db", "sqlite:///inventory.db"),
    ],
)
def test_redact_url_replaces_the_password_and_only_it(url: str, shown: str) -> None:
    """redact_url replaces a password in the authority or in the query (a URL the
    standard library cannot split keeps only the latter) and leaves the rest as written."""
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "an inventory URL is sqlite:///PATH or postgresql://..."),
        (None, "an inventory URL is sqlite:///PATH or postgresql://..."),
        ("sqlite:///", "sqlite:///: a SQLite URL names its file, sqlite:///PATH"),
        (
            "mysql://u:hunter2@db/x",
            "mysql://u:***@db/x: not an inventory URL ('mysql'): use sqlite:///PATH "
            "(sqlite:////PATH for an absolute path) or postgresql://...",
        ),
        (
            "sqlite:relative.db",
            "sqlite:relative.db: not an inventory URL ('sqlite'): use sqlite:///PATH "
            "(sqlite:////PATH for an absolute path) or postgresql://...",
        ),
    ],
)
def test_each_url_refused_says_why_in_its_own_words(url: Any, message: str) -> None:
    """An empty URL, no URL, a SQLite URL without a file and a URL of another scheme are
    each refused at once with one line saying what an inventory URL is."""
    with pytest.raises(InventoryError) as info:
        Inventory(url)
    assert str(info.value) == message


async def test_a_plain_path_is_a_sqlite_file(tmp_path: Path) -> None:
    """A plain path names a SQLite file, created there, its repr and its errors naming
    the path."""
    missing = tmp_path / "missing" / "inventory.db"
    with pytest.raises(InventoryError) as info:
        async with open_inventory(str(missing)):
            pass  # pragma: no cover
    assert str(info.value) == f"cannot open the inventory {missing}: unable to open database file"
    path = tmp_path / "plain.db"
    inventory = open_inventory(str(path))
    assert repr(inventory) == f"Inventory({str(path)!r})"
    async with inventory:
        await (await inventory.begin_crawl()).finish()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT status FROM crawls").fetchall() == [("complete",)]


async def test_a_postgres_scheme_is_postgresql(postgres_url: str) -> None:
    """``postgres://`` names a PostgreSQL server as ``postgresql://`` does."""
    url = "postgres://" + postgres_url.removeprefix("postgresql://")
    async with open_inventory(url) as inventory:
        await (await inventory.begin_crawl()).finish()
    assert await query(postgres_url, "SELECT status FROM crawls") == [("complete",)]


# -- the inventory's and a crawl's life ------------------------------------------------


async def test_misuse_of_an_inventory_and_a_crawl_is_refused_in_words(tmp_path: Path) -> None:
    """A crawl begun before opening or after closing, a second opening, and a write or a
    finish after the crawl finished are each refused, saying which."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    inventory = open_inventory(url)
    assert inventory.schema_version is None
    with pytest.raises(InventoryError) as info:
        await inventory.begin_crawl()
    assert str(info.value) == f"Inventory({url!r}) is not open"
    async with inventory:
        assert inventory.schema_version == SCHEMA_VERSION
        with pytest.raises(InventoryError) as info:
            await inventory.open()
        assert str(info.value) == f"Inventory({url!r}) was already opened"
        run = await inventory.begin_crawl()
        assert repr(run) == "InventoryCrawl(crawl_id=1, resumed=False)"
        await run.finish()
        with pytest.raises(InventoryError) as info:
            await run.write(page([inference(1)], None))
        assert str(info.value) == "crawl 1 is finished"
        with pytest.raises(InventoryError) as info:
            await run.finish()
        assert str(info.value) == "crawl 1 is finished"
        again = await inventory.begin_crawl()
        assert repr(again) == "InventoryCrawl(crawl_id=2, resumed=False)"
    with pytest.raises(InventoryError) as info:
        await inventory.begin_crawl()
    assert str(info.value) == f"Inventory({url!r}) is not open"
    await inventory.aclose()  # a second close is harmless
    assert await query(url, "SELECT count(*) FROM batch_jobs") == [(0,)]


@pytest.mark.parametrize("in_process", [False, True], ids=["writer process", "in process"])
@pytest.mark.parametrize(
    "bad",
    [
        Page((inference(9),), None, None, None, "inference"),
        Page((inference(9),), None, None, REGION),
    ],
    ids=["no region", "no kind"],
)
async def test_a_page_without_its_listing_is_refused_with_its_batch(
    inventory_url: str, bad: Page[Any], in_process: bool
) -> None:
    """A page that names no region, or no kind, is refused in words, and the pages
    handed over with it are not written: also by the writer process, which is handed
    the pages only once they are checked."""
    async with Inventory(inventory_url, in_process=in_process) as inventory:
        run = await inventory.begin_crawl()
        with pytest.raises(InventoryError) as info:
            await run.write_pages([page([inference(1)], None), bad])
        assert str(info.value) == "a page without its listing (region and kind): not a crawl's"
        await run.finish()
    assert await query(inventory_url, "SELECT count(*) FROM batch_jobs") == [(0,)]
    assert await query(inventory_url, "SELECT count(*) FROM crawl_listings") == [(0,)]


async def test_a_crawl_records_its_parameters_and_program(inventory_url: str) -> None:
    """The crawl's row holds its parameters (kinds and regions as sorted sets, the
    strategy, the page size and the caller's options) and the program's version."""
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl(
            kinds=["segment", "inference", "segment"],
            regions=[OTHER_REGION, REGION, OTHER_REGION],
            page_size=50,
            options={"endpoint": "http://x"},
        )
        await run.finish()
        run = await inventory.begin_crawl(solution_version_arns=[VERSION, VERSION])
        await run.finish()
        run = await inventory.begin_crawl(strategy="account", solution_version_arns=[VERSION])
        await run.finish()
    first, by_version, given = await query(
        inventory_url, "SELECT options, program_version FROM crawls ORDER BY id"
    )
    program = f"aiopersonalize {version('aiopersonalize')}"
    assert [first[1], by_version[1], given[1]] == [program] * 3
    options = [json.loads(o) if isinstance(o, str) else o for o, _ in (first, by_version, given)]
    assert options == [
        {
            "endpoint": "http://x",
            "kinds": ["inference", "segment"],
            "page_size": 50,
            "regions": [OTHER_REGION, REGION],
            "solution_version_arns": None,
            "strategy": "account",
        },
        {
            "kinds": ["inference", "segment"],
            "page_size": 100,
            "regions": None,
            "solution_version_arns": [VERSION],
            "strategy": "versions",
        },
        {
            "kinds": ["inference", "segment"],
            "page_size": 100,
            "regions": None,
            "solution_version_arns": [VERSION],
            "strategy": "account",
        },
    ]
    if inventory_url.startswith("sqlite"):  # the text as written: compact, keys sorted
        assert first[0] == json.dumps(options[0], sort_keys=True, separators=(",", ":"))


async def test_the_regions_to_crawl_are_those_given_or_those_resumed(tmp_path: Path) -> None:
    """A crawl is told the regions given; a resumed crawl of the default region, the
    regions its listings started in; a new one of the default region, None."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with open_inventory(url) as inventory:
        run = await inventory.begin_crawl()
        assert run.regions(None) is None
        assert run.regions(iter([OTHER_REGION, REGION])) == (OTHER_REGION, REGION)
        await run.write_pages(
            [
                page([inference(1)], "t1"),
                Page((elsewhere(2),), "t2", None, OTHER_REGION, "inference"),
            ]
        )
    async with open_inventory(url) as inventory:
        run = await inventory.begin_crawl()
        assert run.resumed
        assert run.regions(None) == (OTHER_REGION, REGION)
        assert run.regions([REGION]) == (REGION,)


async def alter(url: str, statement: str) -> None:
    """Run ``statement`` in ``url``'s inventory, as another program would."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            conn.execute(statement)
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(statement.encode())


async def test_a_failure_in_each_step_names_the_step(inventory_url: str) -> None:
    """When the database fails, the error says which step failed: starting a crawl,
    reading its listings, or closing it."""
    async with open_inventory(inventory_url) as inventory:
        await alter(inventory_url, "ALTER TABLE crawls RENAME TO put_away")
        with pytest.raises(InventoryError) as info:
            await inventory.begin_crawl()
        assert str(info.value).startswith(f"cannot start a crawl in {inventory_url}: ")
        await alter(inventory_url, "ALTER TABLE put_away RENAME TO crawls")
        run = await inventory.begin_crawl()
        await run.write(page([inference(1)], None))
        await alter(inventory_url, "ALTER TABLE crawl_listings RENAME TO put_away")
        with pytest.raises(InventoryError) as info:
            await run.finish()
        assert str(info.value).startswith(f"cannot read {inventory_url}: ")
        await alter(inventory_url, "ALTER TABLE put_away RENAME TO crawl_listings")
        await alter(inventory_url, "ALTER TABLE job_history RENAME TO put_away")
        again = await inventory.begin_crawl()
        with pytest.raises(InventoryError) as info:
            await again.finish()
        assert str(info.value).startswith(f"cannot finish the crawl in {inventory_url}: ")
    assert await query(inventory_url, "SELECT status FROM crawls") == [("running",)]


async def test_a_crawl_of_a_closed_inventory_is_refused(inventory_url: str) -> None:
    """A crawl's write or finish after its inventory was closed is refused, in words
    naming the inventory."""
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
    with pytest.raises(InventoryError) as info:
        await run.write(page([inference(1)], None))
    assert str(info.value) == f"the inventory {inventory_url} is closed"
    with pytest.raises(InventoryError) as info:
        await run.finish()
    assert str(info.value) == f"the inventory {inventory_url} is closed"


async def test_an_inventory_without_its_schema_version_is_refused(inventory_url: str) -> None:
    """An inventory whose table of its own has lost the schema version is refused, in
    words saying so."""
    async with open_inventory(inventory_url):
        pass
    await alter(inventory_url, f"DELETE FROM {META_TABLE}")
    with pytest.raises(InventoryError) as info:
        async with open_inventory(inventory_url):
            pass  # pragma: no cover
    assert str(info.value) == (
        f"{inventory_url} is not an aiopersonalize inventory: no schema version"
    )


# -- SQLite: opening, and the connection's threads -------------------------------------


async def test_a_current_inventory_opens_while_another_program_writes(tmp_path: Path) -> None:
    """Opening an inventory whose schema is current takes no write lock: it opens while
    another program holds one."""
    path = tmp_path / "inventory.db"
    async with open_inventory(f"sqlite:///{path}"):
        pass
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        async with open_inventory(f"sqlite:///{path}") as inventory:
            assert inventory.schema_version == SCHEMA_VERSION
        blocker.execute("COMMIT")
    finally:
        blocker.close()


async def test_a_migration_that_fails_leaves_the_inventory_as_it_was(tmp_path: Path) -> None:
    """A version-1 inventory whose migration fails (a table of another program's where
    the migration puts a view) is refused in words, its version and tables unchanged."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for statement in migration(1, "sqlite"):
            conn.execute(statement)
        conn.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '1')")
        conn.execute("CREATE TABLE current_batch_jobs (mine INTEGER)")
    with pytest.raises(InventoryError) as info:
        async with open_inventory(f"sqlite:///{path}"):
            pass  # pragma: no cover
    assert str(info.value) == (
        f"cannot set up the inventory sqlite:///{path}: table current_batch_jobs already exists"
    )
    with sqlite3.connect(path) as conn:
        assert conn.execute(f"SELECT value FROM {META_TABLE}").fetchall() == [("1",)]
        assert conn.execute("SELECT count(*) FROM current_batch_jobs").fetchone() == (0,)


async def test_sqlite_in_process_works_from_whichever_worker_thread_is_free(
    tmp_path: Path,
) -> None:
    """In process, SQLite's connection is used from whichever worker thread is free: a
    crawl is written while the thread that opened it is busy with other work."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    release = threading.Event()
    async with Inventory(url, in_process=True) as inventory, anyio.create_task_group() as tg:
        # The most recently idle worker thread, the inventory's, is taken for this.
        tg.start_soon(partial(anyio.to_thread.run_sync, release.wait, abandon_on_cancel=True))
        await anyio.wait_all_tasks_blocked()
        try:
            result = await crawl_through(inventory, [page([inference(1)], None)])
        finally:
            release.set()
    assert (result.status, result.seen) == ("complete", 1)


async def test_an_inventory_closed_in_a_cancelled_scope_still_closes_its_file(
    tmp_path: Path,
) -> None:
    """An in-process SQLite inventory left by a cancellation still closes its connection
    on the way out: SQLite has folded its write-ahead log back and removed it (the file
    the crawls are locked in stays)."""
    with anyio.CancelScope() as scope:
        try:
            async with Inventory(f"sqlite:///{tmp_path}/inventory.db", in_process=True) as inv:
                await crawl_through(inv, [page([inference(1)], None)])
                assert sorted(os.listdir(tmp_path)) == [
                    "inventory.db", "inventory.db-lock", "inventory.db-shm", "inventory.db-wal",
                ]  # fmt: skip
                scope.cancel()
                await anyio.lowlevel.checkpoint()
        except anyio.get_cancelled_exc_class():
            assert sorted(os.listdir(tmp_path)) == ["inventory.db", "inventory.db-lock"]
            raise
    assert scope.cancelled_caught


# -- how a crawl ends ---------------------------------------------------------------------


async def test_the_failures_and_the_error_are_recorded_in_words(inventory_url: str) -> None:
    """Each failed listing is recorded as a line naming its operation, what it listed
    (version, parent, or the account) and where; a fatal error as its type and message."""
    failures = [
        ListingFailure(VERSION, THROTTLED, "ListBatchInferenceJobs", REGION, "inference"),
        ListingFailure(None, THROTTLED, "ListSolutions", REGION, None, parent_arn="arn:dsg"),
        ListingFailure(None, THROTTLED, "ListBatchSegmentJobs", OTHER_REGION, "segment"),
    ]
    async with open_inventory(inventory_url) as inventory:
        result = await (await inventory.begin_crawl()).finish(failures=failures)
        assert (result.status, result.scopes) == ("partial", ())
        failed = await (await inventory.begin_crawl()).finish(error=THROTTLED)
        assert (failed.crawl_id, failed.status, failed.resumed) == (1, "failed", True)
    row = await the_crawl(inventory_url, "status, listings_failed, failures, error")
    assert row[:2] == ("failed", 0)
    assert row[3] == "ThrottlingError: ThrottlingException: slow down"
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl(resume=False)
        await run.finish(failures=failures, error=THROTTLED)
    row = await the_crawl(inventory_url, "status, listings_failed, failures, error", 2)
    recorded = json.loads(row[2]) if isinstance(row[2], str) else row[2]
    assert (row[0], row[1], row[3]) == (
        "failed",
        3,
        "ThrottlingError: ThrottlingException: slow down",
    )
    assert recorded == [
        f"ListBatchInferenceJobs {VERSION} [{REGION}, inference]: ThrottlingError",
        f"ListSolutions arn:dsg [{REGION}]: ThrottlingError",
        f"ListBatchSegmentJobs (account) [{OTHER_REGION}, segment]: ThrottlingError",
    ]


async def test_an_interrupted_crawl_records_no_error_and_syncs_nothing(
    inventory_url: str,
) -> None:
    """A crawl stopped without an error is 'interrupted', with no error recorded and no
    scope synced, though its listings are complete."""
    await crawl_in(inventory_url, [page([inference(1), inference(2)], None)])
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        await run.write(page([inference(1)], None))
        result = await run.finish(interrupted=True)
    assert (result.status, result.deleted, result.scopes) == ("interrupted", 0, ())
    assert await the_crawl(inventory_url, "status, error", 2) == ("interrupted", None)
    assert await the_crawl(inventory_url, "status, error") == ("complete", None)


async def test_only_scopes_listed_whole_without_failure_are_synced(inventory_url: str) -> None:
    """A failure of a region's discovery (no kind) keeps both kinds of that region from
    being synced, a failure of one kind keeps that kind only, an unfinished listing keeps
    its scope, and the other scopes are synced."""
    everything = [
        page([inference(1)], None),
        page([segment(1)], None, "segment"),
        Page((elsewhere(1),), None, None, OTHER_REGION, "inference"),
        Page((elsewhere(1, "segment"),), None, None, OTHER_REGION, "segment"),
    ]
    await crawl_in(inventory_url, everything)
    discovery = ListingFailure(None, THROTTLED, "ListDatasetGroups", REGION)
    result = await crawl_in(inventory_url, [page([], None), page([], None, "segment")],
                            failures=[discovery], account=ACCOUNT, resume=False)  # fmt: skip
    assert (result.status, result.scopes, result.deleted) == ("partial", (), 0)
    segments = ListingFailure(None, THROTTLED, "ListBatchSegmentJobs", OTHER_REGION, "segment")
    result = await crawl_in(
        inventory_url,
        [
            Page((), None, None, OTHER_REGION, "inference"),
            Page((), None, None, OTHER_REGION, "segment"),
            page([], "more"),
            page([], None, "segment"),
        ],
        failures=[segments],
        account=ACCOUNT,
        resume=False,
    )
    assert result.scopes == (
        (OTHER_REGION, "inference", ACCOUNT),
        (REGION, "segment", ACCOUNT),
    )
    gone = await query(
        inventory_url, "SELECT region, kind FROM batch_jobs WHERE deleted_at IS NOT NULL "
        "ORDER BY region, kind"
    )  # fmt: skip
    assert gone == [(OTHER_REGION, "inference"), (REGION, "segment")]


async def test_the_account_of_the_jobs_seen_names_a_scope(inventory_url: str) -> None:
    """Without an account given, a scope is synced under the account of the jobs its
    listing saw; a listing of several accounts names its own."""
    other_account = "210987654321"
    result = await crawl_in(
        inventory_url,
        [
            page([inference(1)], None),
            Page((), None, None, REGION, "segment", account=other_account),
        ],
    )
    assert result.scopes == ((REGION, "inference", ACCOUNT), (REGION, "segment", other_account))


# -- pages into transactions ----------------------------------------------------------------


async def test_store_writes_the_waiting_pages_in_groups_of_at_most_group(
    inventory_url: str,
) -> None:
    """store commits every page waiting, at most ``group`` at a time, each group whole or
    not at all: with a bad page in the second group of two, the first group is stored,
    the second is not, and the error is raised."""
    bad = Page((inference(8),), None, None, None, "inference")
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        send, receive = anyio.create_memory_object_stream[Page[Any]](10)
        async with send:
            for p in [page([inference(1)], "t1"), page([inference(2)], "t2"), bad,
                      page([inference(3)], "t3"), page([inference(4)], None)]:  # fmt: skip
                send.send_nowait(p)
        with pytest.raises(InventoryError, match="a page without its listing"):
            await run.store(receive, group=2)
        send, receive = anyio.create_memory_object_stream[Page[Any]](10)
        async with send:
            for n in range(5, 8):
                send.send_nowait(page([inference(n)], None if n == 7 else f"t{n}"))
        await run.store(receive, group=3)
        await run.finish()
    stored = await query(
        inventory_url, "SELECT job_name, first_seen FROM batch_jobs ORDER BY job_name"
    )
    assert [name for name, _ in stored] == ["j1", "j2", "j5", "j6", "j7"]
    times = [at for _, at in stored]
    assert times[0] == times[1] != times[2] == times[3] == times[4]


async def test_the_hand_over_takes_no_turn_of_the_event_loop_while_there_is_room() -> None:
    """The sink's hand-over of pages to its writer task sends at once while the stream
    has room (not even a cancelled scope stops it: it takes no turn of the event loop),
    and waits for room when the stream is full, every item in order."""
    send, receive = anyio.create_memory_object_stream[int](1)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await _hand_over(send, 0)
    got: list[int] = []

    async def collect() -> None:
        async with receive:
            got.extend([item async for item in receive])

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect)
        async with send:
            for n in range(1, 4):  # the stream holds 0 still: each waits for room
                await _hand_over(send, n)
    assert got == [0, 1, 2, 3]


# -- a merged listing consumed ---------------------------------------------------------


async def test_a_listing_that_fails_fatally_is_recorded_failed_and_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawl that ends in a fatal error (no credentials) records the crawl failed with
    that error, and raises it."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with Client(region_name=REGION) as client, open_inventory(url) as inventory:
        with pytest.raises(ConfigurationError) as info:
            await inventory.crawl(client)
    status, error = await the_crawl(url, "status, error")
    assert (status, error) == ("failed", f"ConfigurationError: {info.value}")


async def test_a_write_that_fails_mid_crawl_ends_it_with_that_error(
    emulator: Emulator, tmp_path: Path
) -> None:
    """When the database refuses a write during Inventory.crawl, the crawl stops with the
    database's error, and the listing is left (nothing hangs)."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with open_inventory(url):
        pass  # the schema
    with sqlite3.connect(tmp_path / "inventory.db") as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON batch_jobs "
            "BEGIN SELECT RAISE(ABORT, 'no room for jobs'); END"
        )
    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        with pytest.raises(InventoryError) as info:
            await inventory.crawl(client, page_size=2)
    assert str(info.value) == f"cannot write to {url}: no room for jobs"
    assert await query(url, "SELECT status, jobs_seen FROM crawls") == [("running", None)]


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """The process's local time zone nine hours from UTC, for the test."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
async def test_times_are_recorded_in_utc_whatever_the_local_zone(inventory_url: str) -> None:
    """A crawl's start and end, its jobs' first and last sighting and their history are
    recorded as the instant they happened, in a process whose local zone is not UTC."""
    before = datetime.now(timezone.utc)
    await crawl_in(inventory_url, [page([inference(1)], None)])
    after = datetime.now(timezone.utc)
    found = await query(
        inventory_url,
        "SELECT c.started_at, c.finished_at, b.first_seen, b.last_seen, h.recorded_at "
        "FROM crawls c, batch_jobs b, job_history h",
    )
    (times,) = found
    for at in times:
        instant = at if isinstance(at, datetime) else datetime.fromisoformat(at)
        assert before <= instant <= after
        if isinstance(at, str):  # SQLite's text: in UTC, so that it sorts as time does
            assert at.endswith("+00:00")


# -- Inventory.crawl: what it passes on ------------------------------------------------


async def listed_pages(client: Client, **crawl: Any) -> list[Page[Any]]:
    """Every page of ``client.crawl_batch_jobs(**crawl)``, in memory."""
    async with client.crawl_batch_jobs(**crawl) as listing:
        return [p async for p in listing.pages()]


async def stored(url: str) -> tuple[set[str], int, set[tuple[str, str, str]]]:
    """The ARNs stored, the pages committed, and the listings (region, kind, version)."""
    arns = {arn for (arn,) in await query(url, "SELECT arn FROM batch_jobs")}
    (pages,) = await query(url, "SELECT coalesce(sum(pages), 0) FROM crawl_listings")
    listings = await query(url, "SELECT region, kind, solution_version_arn FROM crawl_listings")
    return arns, int(pages[0]), {tuple(row) for row in listings}  # type: ignore[misc]


def arns_of(pages: list[Page[Any]]) -> set[str]:
    return {getattr(job, "batch_inference_job_arn", None) or job.batch_segment_job_arn
            for p in pages for job in p.items}  # fmt: skip


@pytest.mark.personalize_emulator(
    EmulatorOptions(
        inventory=InventorySpec(
            dataset_groups=1,
            solutions_per_dataset_group=1,
            versions_per_solution=1,
            inference_jobs_per_version=9,
            segment_jobs_per_version=0,
        ),
        seed=3,
        faults=Faults(latency=0.05),
    )
)
async def test_crawl_lists_the_regions_page_size_and_concurrency_given(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Inventory.crawl lists the regions given, with the page size and concurrency given,
    records its options, and syncs a scope without jobs under the account given."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        result = await inventory.crawl(
            client,
            regions=[OTHER_REGION],
            concurrency=1,
            page_size=4,
            options={"run": "a"},
            account=ACCOUNT,
        )
        assert emulator.stats.peak_in_flight == 1
        expected = await listed_pages(client, regions=[OTHER_REGION], page_size=4)
    arns, pages, listings = await stored(url)
    assert (arns, pages) == (arns_of(expected), len(expected))
    assert len(arns) == 9
    assert listings == {(OTHER_REGION, "inference", ""), (OTHER_REGION, "segment", "")}
    assert result.scopes == (
        (OTHER_REGION, "inference", ACCOUNT),
        (OTHER_REGION, "segment", ACCOUNT),
    )
    (options,) = await the_crawl(url, "options")
    assert json.loads(options) == {
        "kinds": ["inference", "segment"],
        "page_size": 4,
        "regions": [OTHER_REGION],
        "run": "a",
        "solution_version_arns": None,
        "strategy": "account",
    }


async def test_crawl_lists_the_kinds_and_strategy_given(emulator: Emulator, tmp_path: Path) -> None:
    """Inventory.crawl lists only the kinds given, by the strategy given (by solution
    version: no scope synced), and records both."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        result = await inventory.crawl(
            client, kinds=["inference"], regions=[REGION], strategy="versions"
        )
    (version_arn,) = emulator.solution_version_arns()
    arns, _, listings = await stored(url)
    assert len(arns) == emulator.job_count("inference") == 6
    assert listings == {(REGION, "inference", version_arn)}
    assert (result.status, result.scopes) == ("complete", ())
    (options,) = await the_crawl(url, "options")
    assert (json.loads(options)["kinds"], json.loads(options)["strategy"]) == (
        ["inference"],
        "versions",
    )


async def test_crawl_of_versions_resumes_or_starts_again_as_asked(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Inventory.crawl of given solution versions starts again when asked not to resume
    (the unfinished crawl abandoned), and otherwise resumes the unfinished one after its
    last committed page: every page committed once."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    (version_arn,) = emulator.solution_version_arns()
    crawl: dict[str, Any] = {"solution_version_arns": [version_arn], "page_size": 2}

    async def stop_after_one_page(inventory: Inventory, client: Client) -> None:
        run = await inventory.begin_crawl(**crawl)
        async with client.crawl_batch_jobs(**crawl) as listing:
            async for p in listing.pages():
                await run.write(p)
                break
        await run.finish(interrupted=True)

    async with (
        Client(endpoint_url=emulator.endpoint_url) as client,
        open_inventory(url) as inventory,
    ):
        expected = await listed_pages(client, **crawl)
        await stop_after_one_page(inventory, client)
        again = await inventory.crawl(client, resume=False, **crawl)
        assert (again.crawl_id, again.resumed, again.seen) == (2, False, 6)
        await stop_after_one_page(inventory, client)
        resumed = await inventory.crawl(client, **crawl)
        assert (resumed.crawl_id, resumed.resumed, resumed.seen) == (3, True, 6)
    statuses = await query(url, "SELECT id, status FROM crawls ORDER BY id")
    assert statuses == [(1, "abandoned"), (2, "complete"), (3, "complete")]
    by_crawl = await query(url, "SELECT crawl_id, sum(pages) FROM crawl_listings GROUP BY crawl_id")
    assert by_crawl == [(1, 1), (2, len(expected)), (3, len(expected))]
    (options,) = await the_crawl(url, "options", 3)
    assert json.loads(options)["solution_version_arns"] == [version_arn]
    assert json.loads(options)["strategy"] == "versions"
