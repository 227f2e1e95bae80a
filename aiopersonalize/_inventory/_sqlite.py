"""The SQLite backend: the standard library's ``sqlite3``, in a worker thread.

One connection, used by one worker thread at a time (a ``CapacityLimiter`` of one):
the event loop never waits on the disk. Each page is one transaction (``BEGIN
IMMEDIATE`` .. ``COMMIT``): its rows go to a temporary table with ``executemany``, from
which one statement writes the history and one the jobs. The database is in WAL mode
with ``synchronous=NORMAL``: a commit is atomic and survives the process being killed;
a power cut may lose the last commits, never half of one (the crawl then resumes from
an earlier page, and still writes each job once).
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from .._models import Page
from . import _backend as q
from ._backend import Finish, InventoryError, Job, Started, Totals, one_line
from ._schema import JOB_COLUMNS, META_TABLE, SCHEMA_VERSION, Dialect, migration

__all__ = ["SQLiteBackend"]

T = TypeVar("T")

_DIALECT: Dialect = "sqlite"
_STAGE = "temp.incoming"


def _iso(at: datetime) -> str:
    """A timestamp as the SQLite inventory stores it: ISO 8601, UTC, microseconds."""
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _stamp(parameter: int) -> str:
    """SQL that turns an RFC 3339 parameter (``job_rows``') into the stored form,
    ``2024-05-31T16:08:37.123000+00:00``: always six digits of fraction, so that the
    text sorts as time does."""
    p = f"?{parameter}"
    return (
        f"CASE WHEN length({p}) = 20 THEN substr({p}, 1, 19) || '.000000+00:00' "
        f"ELSE substr({p}, 1, 26) || '+00:00' END"
    )


def _s(statement: str) -> str:
    return q.sql(statement, _DIALECT)


_HISTORY = _s(q.HISTORY.replace("{source}", _STAGE))
_UPSERT = _s(q.UPSERT.replace("{source}", _STAGE))
_STAGE_ROW = "INSERT INTO {} VALUES ({})".format(
    _STAGE,
    ", ".join(
        _stamp(n) if c in ("creation_date_time", "last_updated_date_time") else f"?{n}"
        for n, c in enumerate(JOB_COLUMNS, start=1)
    ),
)
_DELETED_EVENT = _s(q.DELETED_EVENT)
_LISTING = _s(q.LISTING.replace("{listings}", f"VALUES ({', '.join('?' * 10)})"))


def _is_inventory(tables: set[str]) -> bool:
    return META_TABLE in tables


class SQLiteBackend:
    """An inventory in a SQLite file."""

    def __init__(self, path: Path, shown: str) -> None:
        self._path = path
        self._shown = shown
        self._conn: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._locks = _CrawlLocks(Path(f"{path}-lock"), shown)

    async def _run(self, what: str, call: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise InventoryError(f"the inventory {self._shown} is closed")

        def work() -> T:
            try:
                return call(conn)
            except sqlite3.Error as exc:
                raise InventoryError(f"{what} {self._shown}: {one_line(exc)}") from exc
            finally:
                if conn.in_transaction:  # a failed step, or a refused one: none of it
                    conn.rollback()

        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    async def open(self) -> int:
        new = not self._path.exists()
        try:
            self._conn = await anyio.to_thread.run_sync(self._connect, limiter=self._limiter)
            return await self._run("cannot set up the inventory", self._schema)
        except BaseException:
            await self.aclose()
            if new:  # nothing half-made is left behind
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_remove, self._path)
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: transactions are begun and ended explicitly.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise InventoryError(
                f"cannot open the inventory {self._shown}: {one_line(exc)}"
            ) from exc
        return conn

    def _schema(self, conn: sqlite3.Connection) -> int:
        try:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            }
        except sqlite3.DatabaseError as exc:
            raise InventoryError(
                f"{self._shown} is not an aiopersonalize inventory: {one_line(exc)}"
            ) from exc
        version = 0
        if tables:
            if not _is_inventory(tables):
                raise InventoryError(
                    f"{self._shown} is not an aiopersonalize inventory: it has tables, "
                    f"but no {META_TABLE} table"
                )
            version = _version(conn, self._shown)
        q.check_version(version, self._shown)
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if version:  # another process may have migrated it meanwhile
                    version = _version(conn, self._shown)
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in migration(step, _DIALECT):
                        conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        # 64 MiB of page cache (the default is 2): a crawl's rows land all over the
        # tables' B-trees, and each page read again from the file costs a system call.
        conn.execute("PRAGMA cache_size = -65536")
        # Checkpoints every 10,000 pages (40 MiB of WAL) rather than 1,000: a page that
        # many commits dirty is copied back into the database once, not each time.
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE.split('.')[1]} ({', '.join(JOB_COLUMNS)})"
        )
        return SCHEMA_VERSION

    async def start(self, options: str, now: datetime, program: str, resume: bool) -> Started:
        at = _iso(now)

        def start(conn: sqlite3.Connection) -> Started:
            # BEGIN IMMEDIATE: one start at a time, so the crawl found or made here is
            # locked before another process can look for it.
            conn.execute("BEGIN IMMEDIATE")
            found = conn.execute(_s(q.UNFINISHED), {"options": options}).fetchone()
            if found is not None:
                self._locks.take(int(found[0]))
            if found is not None and resume:
                crawl_id = int(found[0])
                conn.execute(_s(q.REOPEN), {"crawl": crawl_id})
                rows = conn.execute(_s(q.POSITIONS), {"crawl": crawl_id}).fetchall()
                conn.execute("COMMIT")
                return Started(crawl_id, True, q.positions(rows))
            if found is not None:  # not resumed: never to be resumed
                conn.execute(
                    "UPDATE crawls SET status = 'abandoned' WHERE id = ?", (int(found[0]),)
                )
            params = {"now": at, "options": options, "program": program}
            crawl_id = int(conn.execute(_s(q.NEW_CRAWL), params).fetchone()[0])
            self._locks.take(crawl_id)
            conn.execute("COMMIT")
            if found is not None:
                self._locks.release(int(found[0]))
            return Started(crawl_id, False, {})

        return await self._run("cannot start a crawl in", start)

    async def write(self, crawl_id: int, now: datetime, pages: Sequence[Page[Job]]) -> None:
        params = {"crawl": crawl_id, "now": _iso(now)}

        def write(conn: sqlite3.Connection) -> None:
            merged = q.merge_pages(pages)  # here: off the event loop
            conn.execute("BEGIN IMMEDIATE")
            if merged.rows:
                conn.executemany(_STAGE_ROW, merged.rows)
                conn.execute(_HISTORY, params)
                conn.execute(_UPSERT, params)
                conn.execute(f"DELETE FROM {_STAGE}")
            conn.executemany(_LISTING, [(crawl_id, *listing) for listing in merged.listings])
            conn.execute("COMMIT")

        await self._run("cannot write to", write)

    async def listings(self, crawl_id: int) -> list[tuple[str, str, str, str | None, bool]]:
        def read(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None, bool]]:
            rows = conn.execute(_s(q.LISTINGS), {"crawl": crawl_id}).fetchall()
            return [(r, k, v, a, bool(d)) for r, k, v, a, d in rows]

        return await self._run("cannot read", read)

    async def finish(self, crawl_id: int, now: datetime, finish: Finish) -> Totals:
        at = _iso(now)
        mark, scopes = q.synced(q.MARK_DELETED, finish.scopes, {"crawl": crawl_id, "now": at})

        def close(conn: sqlite3.Connection) -> Totals:
            conn.execute("BEGIN IMMEDIATE")
            if mark is not None:
                gone = conn.execute(_s(mark), scopes).fetchall()
                params = {"crawl": crawl_id, "now": at}
                conn.executemany(
                    _DELETED_EVENT,
                    ({**params, "arn": a, "status": s, "updated": u} for a, s, u in gone),
                )
            seen = int(conn.execute(_s(q.SEEN), {"crawl": crawl_id}).fetchone()[0])
            found = q.totals(seen, conn.execute(_s(q.EVENTS), {"crawl": crawl_id}))
            conn.execute(_s(q.CLOSE_CRAWL), q.close_params(crawl_id, at, finish, found))
            conn.execute("COMMIT")
            self._locks.release(crawl_id)
            return found

        return await self._run("cannot finish the crawl in", close)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)
        self._locks.close()


class _CrawlLocks:
    """The crawls this process writes, each locked in ``PATH-lock`` beside the database:
    the byte at the crawl's id, with a POSIX record lock (``lockf``), which the system
    drops when the process ends, ``kill -9`` included. The database file itself cannot
    carry them: SQLite's own POSIX locks on it would be dropped with any of ours.

    Between processes only (a process's own locks never refuse it): each inventory
    opened from the library has a writer process of its own.
    """

    def __init__(self, path: Path, shown: str) -> None:
        self._path = path
        self._shown = shown
        self._fd: int | None = None

    def take(self, crawl_id: int) -> None:
        """Lock ``crawl_id``, or raise :func:`_backend.busy`'s error."""
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise InventoryError(
                    f"cannot start a crawl in {self._shown}: cannot open its lock file: {exc}"
                ) from exc
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, crawl_id)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise q.busy(crawl_id, self._shown) from None

    def release(self, crawl_id: int) -> None:
        if self._fd is not None:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, crawl_id)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _version(conn: sqlite3.Connection, shown: str) -> int:
    row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise InventoryError(
            f"{shown} is not an aiopersonalize inventory: no schema version"
        ) from None
