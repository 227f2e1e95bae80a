"""The databases the inventory tests write to: a SQLite file per test, and a schema of
its own per test in a real PostgreSQL server.

PostgreSQL: ``AIOPERSONALIZE_TEST_POSTGRES_URL`` names the server (``.ci/run`` starts a
throwaway cluster and sets it). Without it, the session starts a throwaway cluster
itself (``tests/db/cluster.py``) when PostgreSQL's ``initdb`` is installed, and skips
the PostgreSQL tests otherwise; under ``CI=true`` a missing server fails them instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from . import cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for the session (see the module's docstring)."""
    url = os.environ.get(cluster.ENV)
    if url:
        yield url
        return
    if cluster.bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the PostgreSQL tests: set {cluster.ENV} (.ci/run does)")
        pytest.skip("PostgreSQL is not installed here (initdb not found)")
    directory = cluster.temporary()
    try:
        yield cluster.start(directory)
    finally:
        cluster.stop(directory)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose tables live in a schema of the test's own, dropped afterwards."""
    yield from _schema_url(postgres_server)


@pytest.fixture
def other_postgres_url(postgres_server: str) -> Iterator[str]:
    """Another such URL, for a test that compares two inventories."""
    yield from _schema_url(postgres_server)


def _schema_url(postgres_server: str) -> Iterator[str]:
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    separator = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


@pytest.fixture(params=["sqlite", "postgresql"])
def inventory_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each test that takes it runs against SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/inventory.db"
    url: str = request.getfixturevalue("postgres_url")
    return url
