"""The inventory's schema: its tables in each dialect, its versions and their migrations.

``docs/database.md`` documents the tables and their columns; this module is what creates
them. A database is an aiopersonalize inventory when it has the table
``aiopersonalize_inventory``, whose row ``schema_version`` says which of
:data:`MIGRATIONS` it has had. Opening one applies the migrations it lacks, all in one
transaction with the version's update; a database whose version is newer than
:data:`SCHEMA_VERSION` is refused (this program would not know its columns), and so is
a database that has tables but not that one (it is something else's).

Timestamps are ``TIMESTAMPTZ`` in PostgreSQL and ISO 8601 text in SQLite
(``2024-05-31T16:08:37.123000+00:00``: UTC, always six digits of fraction), which sorts
as time does and which SQLite's date functions and DuckDB read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

__all__ = [
    "JOB_COLUMNS",
    "META_TABLE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Dialect",
    "migration",
]

Dialect = Literal["sqlite", "postgresql"]

META_TABLE: Final = "aiopersonalize_inventory"

JOB_COLUMNS: Final = (
    "arn",
    "kind",
    "account",
    "region",
    "job_name",
    "status",
    "creation_date_time",
    "last_updated_date_time",
    "failure_reason",
    "solution_version_arn",
    "batch_inference_job_mode",
)
"""The columns of ``batch_jobs`` that a listed job fills, in the order of its row."""

# The two dialects differ in the type names only: {id}, {ts}, {json}, {bool}.
_TYPES: Mapping[Dialect, Mapping[str, str]] = {
    "sqlite": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ts": "TEXT",
        "json": "TEXT",
        "bool": "INTEGER",
        "bigint": "INTEGER",
    },
    "postgresql": {
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "ts": "TIMESTAMPTZ",
        "json": "JSONB",
        "bool": "BOOLEAN",
        "bigint": "BIGINT",
    },
}

_VERSION_1 = (
    f"""CREATE TABLE {META_TABLE} (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE crawls (
        id {id},
        started_at {ts} NOT NULL,
        finished_at {ts},
        status TEXT NOT NULL,
        options {json} NOT NULL,
        program_version TEXT NOT NULL,
        runs INTEGER NOT NULL DEFAULT 1,
        jobs_seen {bigint},
        jobs_created {bigint},
        jobs_changed {bigint},
        jobs_reappeared {bigint},
        jobs_deleted {bigint},
        listings_failed INTEGER,
        failures {json},
        error TEXT
    )""",
    """CREATE TABLE crawl_listings (
        crawl_id {bigint} NOT NULL REFERENCES crawls (id),
        listed_account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        solution_version_arn TEXT NOT NULL,
        account TEXT,
        next_token TEXT,
        done {bool} NOT NULL,
        pages {bigint} NOT NULL,
        jobs {bigint} NOT NULL,
        PRIMARY KEY (crawl_id, listed_account, region, kind, solution_version_arn)
    )""",
    """CREATE TABLE batch_jobs (
        arn TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        job_name TEXT,
        status TEXT,
        creation_date_time {ts},
        last_updated_date_time {ts},
        failure_reason TEXT,
        solution_version_arn TEXT,
        batch_inference_job_mode TEXT,
        first_seen {ts} NOT NULL,
        last_seen {ts} NOT NULL,
        deleted_at {ts},
        first_crawl_id {bigint} NOT NULL,
        last_crawl_id {bigint} NOT NULL
    )""",
    """CREATE TABLE job_history (
        id {id},
        crawl_id {bigint} NOT NULL,
        arn TEXT NOT NULL,
        event TEXT NOT NULL,
        recorded_at {ts} NOT NULL,
        status TEXT,
        last_updated_date_time {ts},
        previous_status TEXT,
        previous_last_updated_date_time {ts}
    )""",
)

_VERSION_2 = (
    # No index beyond the primary keys: a crawl's rows land all over an index keyed by
    # ARN, and each such index doubled the cost of a write. The queries by job, crawl,
    # status or scope read the tables through (docs/database.md says which index to add
    # for a large inventory queried by job).
    """CREATE VIEW current_batch_jobs AS
        SELECT * FROM batch_jobs WHERE deleted_at IS NULL""",
)

_VERSION_3 = (
    # The crawl's counts of events come from its own history rows, not from a scan of
    # every crawl's; and "what changed in crawl N" is one range of it. Cheap to keep: a
    # crawl's rows are appended with the newest crawl's id, at the index's end.
    "CREATE INDEX job_history_by_crawl ON job_history (crawl_id, event)",
)

MIGRATIONS: Final[Mapping[int, Sequence[str]]] = {1: _VERSION_1, 2: _VERSION_2, 3: _VERSION_3}
"""Version -> the statements that bring a database from the version before to it."""

SCHEMA_VERSION: Final = max(MIGRATIONS)
"""The schema version this program creates, and the newest it can open."""


def migration(version: int, dialect: Dialect) -> list[str]:
    """The statements of migration ``version`` in ``dialect``."""
    types = _TYPES[dialect]
    return [statement.format_map(types) for statement in MIGRATIONS[version]]
