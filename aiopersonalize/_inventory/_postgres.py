"""The PostgreSQL backend: psycopg 3's async connection (``aiopersonalize[postgres]``).

A write is one statement: its rows arrive as one JSON array (of arrays), and
data-modifying ``WITH`` clauses write the history (against the rows as they were
before the statement), the listing's position, and the jobs. One statement in
autocommit mode is one transaction: all of it is committed, or none. Several pages
at once go in one explicit transaction.

The session sets ``synchronous_commit = off``: a commit returns before its WAL reaches
the disk. A crash of the *server* may lose the last commits (never half of one, and
the crawl resumes from an earlier page, writing each job once); a killed crawl loses
nothing it committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from .._models import Page
from . import _backend as q
from ._backend import Finish, InventoryError, Job, Started, Totals, one_line
from ._schema import JOB_COLUMNS, META_TABLE, SCHEMA_VERSION, Dialect, migration

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresBackend"]

_DIALECT: Dialect = "postgresql"
_encode = msgspec.json.Encoder().encode
EXTRA = "aiopersonalize[postgres]"

# Serialises schema changes of concurrent openers (any constant of our own).
_SCHEMA_LOCK = 0x61696F7065727331

_TIMESTAMPS = {"creation_date_time", "last_updated_date_time"}
# The rows arrive as one JSON array of arrays (msgspec encodes them in C; psycopg would
# adapt each value of 11 arrays one by one), taken apart by the server.
_FIELDS = ", ".join(
    f"(r ->> {i})::timestamptz AS {c}" if c in _TIMESTAMPS else f"r ->> {i} AS {c}"
    for i, c in enumerate(JOB_COLUMNS)
)
_LISTING_COLUMNS = (
    ("listed_account", "text"),
    ("region", "text"),
    ("kind", "text"),
    ("version", "text"),
    ("account", "text"),
    ("token", "text"),
    ("done", "boolean"),
    ("pages", "bigint"),
    ("jobs", "bigint"),
)
_LISTINGS = "SELECT %(crawl)s::bigint, * FROM unnest({})".format(
    ", ".join(f"%(listing_{name})s::{kind}[]" for name, kind in _LISTING_COLUMNS)
)
_PAGE = q.sql(
    f"""
WITH incoming AS (
    SELECT {_FIELDS} FROM jsonb_array_elements(%(rows)s::jsonb) AS r
), history AS ({q.HISTORY.replace("{source}", "incoming")}
), listing AS ({q.LISTING.replace("{listings}", _LISTINGS)})
{q.UPSERT.replace("{source}", "incoming")}
""",
    _DIALECT,
)

_SYNC = q.DELETED_HISTORY.replace("{mark}", q.MARK_DELETED)

# The crawls this session writes hold a session-level advisory lock each, keyed by the
# schema and the crawl's id (advisory locks are per database: two inventories in two
# schemas have crawls of the same ids); the server drops them with the session, when
# the process ends included. Starts with the same options are serialised by a lock
# held until the end of the start's transaction.
_CRAWL_KEY = "hashtextextended(current_schema() || ' crawl ' || %(crawl)s::text, 0)"
_LOCK = f"SELECT pg_try_advisory_lock({_CRAWL_KEY})"
_UNLOCK = f"SELECT pg_advisory_unlock({_CRAWL_KEY})"
_START_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ' start ' || "
    "%(options)s, 0))"
)


def _s(statement: str) -> str:
    return q.sql(statement, _DIALECT)


class PostgresBackend:
    """An inventory in a PostgreSQL database."""

    def __init__(self, url: str, shown: str) -> None:
        self._url = url
        self._shown = shown
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._locked: set[int] = set()  # the crawls this session holds the lock of

    def _fail(self, what: str, exc: BaseException) -> InventoryError:
        return InventoryError(f"{what} {self._shown}: {one_line(exc)}")

    async def open(self) -> int:
        try:
            import psycopg
        except ImportError:
            raise InventoryError(
                f"a PostgreSQL inventory needs the psycopg driver: pip install '{EXTRA}'"
            ) from None
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=10
            )
        except psycopg.Error as exc:
            raise self._fail("cannot open the inventory", exc) from exc
        try:
            await self._conn.execute("SET synchronous_commit = off")
            return await self._schema(self._conn)
        except psycopg.Error as exc:
            await self.aclose()
            raise self._fail("cannot set up the inventory", exc) from exc
        except BaseException:
            await self.aclose()
            raise

    async def _schema(self, conn: psycopg.AsyncConnection[Any]) -> int:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cursor = await conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
            tables = {str(row[0]) for row in await cursor.fetchall()}
            version = 0
            if tables:
                if META_TABLE not in tables:
                    raise InventoryError(
                        f"{self._shown} is not an aiopersonalize inventory: it has tables, "
                        f"but no {META_TABLE} table"
                    )
                cursor = await conn.execute(
                    f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
                )
                row = await cursor.fetchone()
                try:
                    version = int(row[0]) if row is not None else -1
                except ValueError:
                    version = -1
                if version < 0:
                    raise InventoryError(
                        f"{self._shown} is not an aiopersonalize inventory: no schema version"
                    )
                q.check_version(version, self._shown)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in migration(step, _DIALECT):
                    await conn.execute(statement.encode())
            await conn.execute(
                f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
        return SCHEMA_VERSION

    async def _lock(self, conn: psycopg.AsyncConnection[Any], crawl_id: int) -> None:
        """Lock ``crawl_id`` for this session, or raise :func:`_backend.busy`'s error.
        Once per crawl (the server would count a second lock of the session's own)."""
        if crawl_id in self._locked:
            return
        cursor = await conn.execute(_LOCK, {"crawl": crawl_id})
        row = await cursor.fetchone()
        if row is None or not row[0]:
            raise q.busy(crawl_id, self._shown)
        self._locked.add(crawl_id)

    async def _unlock(self, conn: psycopg.AsyncConnection[Any], crawl_id: int) -> None:
        if crawl_id in self._locked:
            self._locked.discard(crawl_id)
            await conn.execute(_UNLOCK, {"crawl": crawl_id})

    def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            raise InventoryError(f"the inventory {self._shown} is closed")
        return self._conn

    async def start(self, options: str, now: datetime, program: str, resume: bool) -> Started:
        import psycopg

        conn = self._connection()
        try:
            async with conn.transaction():
                # One start with these options at a time (until this transaction ends),
                # so the crawl found or made here is locked before another looks for it.
                await conn.execute(_START_LOCK, {"options": options})
                cursor = await conn.execute(_s(q.UNFINISHED), {"options": options})
                found = await cursor.fetchone()
                if found is not None:
                    await self._lock(conn, int(found[0]))
                if found is not None and resume:
                    crawl_id = int(found[0])
                    await conn.execute(_s(q.REOPEN), {"crawl": crawl_id})
                    cursor = await conn.execute(_s(q.POSITIONS), {"crawl": crawl_id})
                    return Started(crawl_id, True, q.positions(await cursor.fetchall()))
                if found is not None:
                    await conn.execute(
                        "UPDATE crawls SET status = 'abandoned' WHERE id = %s", (int(found[0]),)
                    )
                    await self._unlock(conn, int(found[0]))
                params = {"now": now, "options": options, "program": program}
                cursor = await conn.execute(_s(q.NEW_CRAWL), params)
                row = await cursor.fetchone()
                assert row is not None  # RETURNING gives the row
                await self._lock(conn, int(row[0]))
                return Started(int(row[0]), False, {})
        except psycopg.Error as exc:
            raise self._fail("cannot start a crawl in", exc) from exc

    async def write(self, crawl_id: int, now: datetime, pages: Sequence[Page[Job]]) -> None:
        import psycopg

        conn = self._connection()
        params = self._page_params(crawl_id, now, q.merge_pages(pages))
        try:
            # One statement, so one transaction in autocommit mode.
            await conn.execute(_PAGE, params)
        except psycopg.Error as exc:
            raise self._fail("cannot write to", exc) from exc

    @staticmethod
    def _page_params(crawl_id: int, now: datetime, merged: q.Merged) -> dict[str, Any]:
        """The columns as arrays (the listings' named apart from the jobs')."""
        rows = _encode(merged.rows).decode()
        params: dict[str, Any] = {"crawl": crawl_id, "now": now, "rows": rows}
        listings = zip(*merged.listings, strict=True)
        names = (f"listing_{name}" for name, _ in _LISTING_COLUMNS)
        params.update(zip(names, map(list, listings), strict=True))
        return params

    async def listings(self, crawl_id: int) -> list[tuple[str, str, str, str | None, bool]]:
        import psycopg

        conn = self._connection()
        try:
            cursor = await conn.execute(_s(q.LISTINGS), {"crawl": crawl_id})
            return [(r, k, v, a, bool(d)) for r, k, v, a, d in await cursor.fetchall()]
        except psycopg.Error as exc:
            raise self._fail("cannot read", exc) from exc

    async def finish(self, crawl_id: int, now: datetime, finish: Finish) -> Totals:
        import psycopg

        conn = self._connection()
        sync, scopes = q.synced(_SYNC, finish.scopes, {"crawl": crawl_id, "now": now})
        try:
            async with conn.transaction():
                if sync is not None:
                    await conn.execute(_s(sync), scopes)
                cursor = await conn.execute(_s(q.SEEN), {"crawl": crawl_id})
                row = await cursor.fetchone()
                seen = int(row[0]) if row is not None else 0
                cursor = await conn.execute(_s(q.EVENTS), {"crawl": crawl_id})
                found = q.totals(seen, await cursor.fetchall())
                params = q.close_params(crawl_id, now, finish, found)
                await conn.execute(_s(q.CLOSE_CRAWL), params)
            await self._unlock(conn, crawl_id)
            return found
        except psycopg.Error as exc:
            raise self._fail("cannot finish the crawl in", exc) from exc

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            import anyio

            with anyio.CancelScope(shield=True):
                await conn.close()
