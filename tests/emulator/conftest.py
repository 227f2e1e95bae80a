"""Fixtures of the emulator's tests: a boto3 client of the test's emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiopersonalize.emulator import Emulator

from ..clients import Boto, make_client


@pytest.fixture
def boto(emulator: Emulator) -> Iterator[Boto]:
    """A boto3 client for ``emulator`` (no retries: every answer is seen as it is)."""
    client = make_client(emulator.endpoint_url)
    yield Boto(client)
    client.close()
