"""The inventory sink (``aiopersonalize.Inventory``) against real SQLite and PostgreSQL.

Pages are made here, as a merged listing hands them over (region, kind, version,
next token), so that each test says exactly which jobs a crawl sees; the crawls from
the emulator, through the library and the command, are in ``test_crawl_db.py``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from aiopersonalize import (
    BatchInferenceJobSummary,
    BatchSegmentJobSummary,
    Inventory,
    InventoryError,
    ListingFailure,
    Page,
    ThrottlingError,
)
from aiopersonalize._inventory import SCHEMA_VERSION
from aiopersonalize._inventory._schema import META_TABLE, migration

REGION = "us-east-1"
ACCOUNT = "123456789012"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

# Where the tests' inventories do the database's work: by default (as ``Inventory(url)``
# does) in the writer process; with this variable set to 1, in the tests' own process.
# mutation/score.py sets it: mutmut counts a test against a function only when the
# function runs in the pytest process, and the backend otherwise runs in a child.
IN_PROCESS = os.environ.get("AIOPERSONALIZE_TEST_INVENTORY_IN_PROCESS") == "1"


def open_inventory(url: str) -> Inventory:
    """The inventory at ``url``, its database's work where :data:`IN_PROCESS` says."""
    return Inventory(url, in_process=IN_PROCESS)


def inference(n: int, status: str = "ACTIVE", updated: int = 0) -> BatchInferenceJobSummary:
    return BatchInferenceJobSummary(
        batch_inference_job_arn=f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/j{n}",
        job_name=f"j{n}",
        status=status,
        creation_date_time=T0 + timedelta(minutes=n),
        last_updated_date_time=T0 + timedelta(minutes=n, seconds=updated),
        solution_version_arn=f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/s/v1",
        batch_inference_job_mode="BATCH_INFERENCE",
        failure_reason="it broke" if status == "CREATE FAILED" else None,
    )


def segment(n: int) -> BatchSegmentJobSummary:
    return BatchSegmentJobSummary(
        batch_segment_job_arn=f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-segment-job/s{n}",
        job_name=f"s{n}",
        status="ACTIVE",
        creation_date_time=T0,
    )


def page(items: Sequence[Any], token: str | None, kind: str = "inference") -> Page[Any]:
    return Page(tuple(items), token, None, REGION, kind)  # type: ignore[arg-type]


async def crawl(url: str, *pages: Page[Any], failures: Sequence[ListingFailure] = ()) -> Any:
    async with open_inventory(url) as inventory:
        run = await inventory.begin_crawl()
        for p in pages:
            await run.write(p)
        return await run.finish(failures=failures)


async def query(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Rows of ``statement``, read with the database's own driver."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return [tuple(r) for r in conn.execute(statement).fetchall()]
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(statement.encode())
        return [tuple(r) for r in await cursor.fetchall()]


async def test_a_first_crawl_stores_every_job_as_typed_columns(inventory_url: str) -> None:
    """A first crawl stores one row per ARN with account and region from the ARN, every
    summary member in its column (statuses as their plain values), and a 'created'
    history row each, counted in the crawl's row."""
    result = await crawl(
        inventory_url,
        page([inference(1), inference(2, "CREATE FAILED")], "t1"),
        page([inference(3, "IN PROGRESS")], None),
        page([segment(1)], None, "segment"),
    )
    assert (result.status, result.seen, result.created) == ("complete", 4, 4)
    rows = await query(
        inventory_url,
        "SELECT arn, kind, account, region, job_name, status, failure_reason, "
        "batch_inference_job_mode, deleted_at, first_crawl_id, last_crawl_id "
        "FROM batch_jobs ORDER BY arn",
    )
    assert [r[1:] for r in rows] == [
        ("inference", ACCOUNT, REGION, "j1", "ACTIVE", None, "BATCH_INFERENCE", None, 1, 1),
        ("inference", ACCOUNT, REGION, "j2", "CREATE FAILED", "it broke", "BATCH_INFERENCE",
         None, 1, 1),
        ("inference", ACCOUNT, REGION, "j3", "IN PROGRESS", None, "BATCH_INFERENCE", None, 1, 1),
        ("segment", ACCOUNT, REGION, "s1", "ACTIVE", None, None, None, 1, 1),
    ]  # fmt: skip
    created = await query(
        inventory_url, "SELECT creation_date_time FROM batch_jobs WHERE job_name = 'j1'"
    )
    stored = created[0][0]
    as_datetime = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
    assert as_datetime == T0 + timedelta(minutes=1)
    assert await query(inventory_url, "SELECT event, count(*) FROM job_history GROUP BY event") == [
        ("created", 4)
    ]
    assert await query(inventory_url, "SELECT status, jobs_seen, jobs_created FROM crawls") == [
        ("complete", 4, 4)
    ]


async def test_a_rerun_records_changes_deletions_and_reappearances(inventory_url: str) -> None:
    """A second crawl records a status change and a new last_updated_date_time as
    'changed', marks the job it did not see in a complete scope deleted (the row kept),
    and a third crawl that sees it again records it 'reappeared' and clears deleted_at."""
    await crawl(inventory_url, page([inference(1), inference(2), inference(3)], None))
    second = await crawl(
        inventory_url, page([inference(1, "CREATE FAILED"), inference(2, updated=30)], None)
    )
    assert (second.changed, second.deleted, second.created) == (2, 1, 0)
    assert second.scopes == ((REGION, "inference", ACCOUNT),)
    gone = await query(
        inventory_url, "SELECT job_name FROM batch_jobs WHERE deleted_at IS NOT NULL"
    )
    assert gone == [("j3",)]
    third = await crawl(inventory_url, page([inference(1), inference(2), inference(3)], None))
    assert (third.reappeared, third.changed, third.deleted) == (1, 2, 0)  # j1, j2 back
    history = await query(
        inventory_url,
        "SELECT h.crawl_id, h.event, h.previous_status, h.status FROM job_history h "
        "WHERE h.arn LIKE '%/j1' OR h.arn LIKE '%/j3' ORDER BY h.arn, h.id",
    )
    assert history == [
        (1, "created", None, "ACTIVE"),
        (2, "changed", "ACTIVE", "CREATE FAILED"),
        (3, "changed", "CREATE FAILED", "ACTIVE"),
        (1, "created", None, "ACTIVE"),
        (2, "deleted", "ACTIVE", "ACTIVE"),
        (3, "reappeared", "ACTIVE", "ACTIVE"),
    ]
    assert await query(
        inventory_url, "SELECT count(*) FROM batch_jobs WHERE deleted_at IS NULL"
    ) == [(3,)]


async def test_a_scope_with_a_failure_marks_nothing(inventory_url: str) -> None:
    """A crawl whose inference listing failed marks no inference job deleted, while the
    segment scope, listed whole, is synced; the crawl is 'partial'."""
    await crawl(inventory_url, page([inference(1), inference(2)], None),
                page([segment(1), segment(2)], None, "segment"))  # fmt: skip
    failure = ListingFailure(
        None,
        ThrottlingError("slow down", code="ThrottlingException"),
        "ListBatchInferenceJobs",
        REGION,
        "inference",
    )
    result = await crawl(
        inventory_url,
        page([inference(1)], "more"),
        page([segment(1)], None, "segment"),
        failures=[failure],
    )
    assert (result.status, result.deleted) == ("partial", 1)
    gone = await query(
        inventory_url, "SELECT job_name FROM batch_jobs WHERE deleted_at IS NOT NULL"
    )
    assert gone == [("s2",)]


async def test_an_interrupted_or_failed_crawl_marks_nothing_and_is_resumed(
    inventory_url: str,
) -> None:
    """A crawl that ends interrupted, then fails, marks nothing deleted; the next crawl
    with the same parameters resumes it from each listing's last committed token, and
    counts every job once."""
    await crawl(inventory_url, page([inference(1), inference(2), inference(3)], None))
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        await run.write(page([inference(1)], "after-1"))
        assert (await run.finish(interrupted=True)).deleted == 0
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        assert run.resumed
        assert dict(run.resume) == {(REGION, "inference", None): "after-1"}
        await run.write(page([inference(2)], "after-2"))
        result = await run.finish(error=ThrottlingError("slow down", code="ThrottlingException"))
        assert (result.status, result.deleted) == ("failed", 0)
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        assert dict(run.resume) == {(REGION, "inference", None): "after-2"}
        await run.write(page([], None))
        result = await run.finish()
    assert (result.crawl_id, result.status, result.seen, result.deleted) == (2, "complete", 2, 1)
    assert await query(inventory_url, "SELECT id, status, runs FROM crawls ORDER BY id") == [
        (1, "complete", 1),
        (2, "complete", 3),
    ]


async def test_other_parameters_start_a_new_crawl(inventory_url: str) -> None:
    """An unfinished crawl is resumed only by a crawl with the same parameters; with
    resume=False it is abandoned and a new one starts."""
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl(kinds=["inference"])
        await run.write(page([inference(1)], "after-1"))
    async with open_inventory(inventory_url) as inventory:
        other = await inventory.begin_crawl(kinds=["segment"])
        assert not other.resumed
        again = await inventory.begin_crawl(kinds=["inference"], resume=False)
        assert (again.resumed, dict(again.resume)) == (False, {})
    statuses = await query(inventory_url, "SELECT id, status FROM crawls ORDER BY id")
    assert statuses == [(1, "abandoned"), (2, "running"), (3, "running")]


async def test_a_scope_without_jobs_is_synced_only_with_a_known_account(
    inventory_url: str,
) -> None:
    """When every job of a scope is gone, the crawl sees no ARN to name the account: the
    scope is synced when the caller gives the account, and left alone otherwise."""
    await crawl(inventory_url, page([inference(1)], None))
    unknown = await crawl(inventory_url, page([], None))
    assert (unknown.deleted, unknown.scopes) == (0, ())
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl(account=ACCOUNT)
        await run.write(page([], None))
        known = await run.finish()
    assert (known.deleted, known.scopes) == (1, ((REGION, "inference", ACCOUNT),))


async def test_listings_by_solution_version_never_mark_deletions(inventory_url: str) -> None:
    """A crawl by solution version does not cover a scope (jobs of deleted versions are
    not listed that way): it marks nothing deleted."""
    await crawl(inventory_url, page([inference(1), inference(2)], None))
    version = inference(1).solution_version_arn
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl(strategy="versions")
        await run.write(Page((inference(1),), None, version, REGION, "inference"))
        result = await run.finish()
    assert (result.status, result.deleted, result.scopes) == ("complete", 0, ())


# -- the schema: created, migrated, refused ---------------------------------------------


async def test_an_older_schema_is_migrated_with_its_rows_kept(tmp_path: Path) -> None:
    """A version-1 inventory is migrated to the current version when opened, in one
    transaction, its rows kept."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for statement in migration(1, "sqlite"):
            conn.execute(statement)
        conn.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '1')")
    async with open_inventory(f"sqlite:///{path}") as inventory:
        assert inventory.schema_version == SCHEMA_VERSION == 3
        run = await inventory.begin_crawl()
        await run.write(page([inference(1)], None))
        await run.finish()
    with sqlite3.connect(path) as conn:
        assert conn.execute(f"SELECT value FROM {META_TABLE}").fetchall() == [("3",)]
        assert conn.execute("SELECT count(*) FROM current_batch_jobs").fetchone() == (1,)
        indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        assert conn.execute(indexes, ("job_history",)).fetchall() == [("job_history_by_crawl",)]


async def test_a_newer_schema_is_refused_untouched(inventory_url: str) -> None:
    """An inventory whose schema is newer than this program's is refused with one line
    saying so, and nothing in it changes."""
    await crawl(inventory_url, page([inference(1)], None))
    if inventory_url.startswith("sqlite:///"):
        with sqlite3.connect(inventory_url[len("sqlite:///") :]) as conn:
            conn.execute(f"UPDATE {META_TABLE} SET value = '99'")
    else:
        import psycopg

        async with await psycopg.AsyncConnection.connect(inventory_url, autocommit=True) as conn:
            await conn.execute(f"UPDATE {META_TABLE} SET value = '99'".encode())
    with pytest.raises(
        InventoryError, match=r"schema version 99, newer than this program's 3"
    ) as info:
        async with open_inventory(inventory_url):
            pass
    assert str(info.value) == (
        f"the inventory {inventory_url} has schema version 99, newer than this program's 3: "
        "upgrade aiopersonalize to use it"
    )
    assert await query(inventory_url, "SELECT count(*) FROM crawls") == [(1,)]


async def test_a_database_of_something_else_is_refused(inventory_url: str) -> None:
    """A database with tables of its own, none of them the inventory's, is refused and
    left as it was."""
    if inventory_url.startswith("sqlite:///"):
        with sqlite3.connect(inventory_url[len("sqlite:///") :]) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER)")
    else:
        import psycopg

        async with await psycopg.AsyncConnection.connect(inventory_url, autocommit=True) as conn:
            await conn.execute(b"CREATE TABLE customers (id INTEGER)")
    with pytest.raises(InventoryError, match="is not an aiopersonalize inventory"):
        async with open_inventory(inventory_url):
            pass
    assert await query(inventory_url, "SELECT count(*) FROM customers") == [(0,)]


async def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    """A file that is not a SQLite database is refused, its bytes unchanged."""
    path = tmp_path / "notes.db"
    path.write_bytes(b"just some notes, not a database\n" * 100)
    with pytest.raises(InventoryError) as info:
        async with open_inventory(f"sqlite:///{path}"):
            pass
    assert str(info.value) == (
        f"sqlite:///{path} is not an aiopersonalize inventory: file is not a database"
    )
    assert path.read_bytes() == b"just some notes, not a database\n" * 100


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:hunter2@db/x", r"not an inventory URL \(.mysql.\)"),
        ("sqlite:///", "a SQLite URL names its file"),
        ("sqlite://relative.db", r"not an inventory URL \(.sqlite.\)"),
    ],
)
def test_urls_that_are_not_inventories_are_refused_at_once(url: str, message: str) -> None:
    """A URL of another scheme, or a SQLite URL without a file, is refused when the
    Inventory is made, its password never shown."""
    with pytest.raises(InventoryError, match=message) as info:
        Inventory(url)
    assert "hunter2" not in str(info.value)


async def test_a_sqlite_file_that_cannot_be_created_leaves_nothing(tmp_path: Path) -> None:
    """A SQLite file in a directory that does not exist is refused with one line."""
    with pytest.raises(InventoryError, match="cannot open the inventory") as info:
        async with open_inventory(f"sqlite:///{tmp_path}/missing/inventory.db"):
            pass
    assert "\n" not in str(info.value)
    assert not (tmp_path / "missing").exists()


async def test_an_unreachable_server_is_refused_without_its_password(tmp_path: Path) -> None:
    """A PostgreSQL URL no server answers is refused with one line that leaves the
    password out, also from the Inventory's repr."""
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://crawler:hunter2@127.0.0.1:{port}/inventory"
    inventory = open_inventory(url)
    assert "hunter2" not in repr(inventory)
    with pytest.raises(InventoryError, match="cannot open the inventory") as info:
        async with inventory:
            pass
    assert "hunter2" not in str(info.value)
    assert "\n" not in str(info.value)
