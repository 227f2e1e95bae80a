"""The clients users really have, pointed at the emulator: boto3 and the aws CLI.

boto3 is blocking, so it runs in a worker thread while the emulator serves on the
test's event loop; the aws CLI runs as a subprocess. Also the fake clock the
emulator's lifecycle tests move.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from botocore import UNSIGNED
from botocore.client import BaseClient
from botocore.config import Config

REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
# After the seeded inventory's newest job (2024-05-31), as a real clock would be.
START = 1_750_000_000.0


class FakeClock:
    """A clock the test moves: epoch seconds, starting at ``START``."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_client(
    endpoint_url: str,
    *,
    region: str = REGION,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    signed: bool = True,
    validate: bool = True,
    service: str = "personalize",
    session_token: str | None = None,
) -> BaseClient:
    """A boto3 client (Personalize's by default) with no retries (every answer is seen
    as it is)."""
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
        signature_version=None if signed else UNSIGNED,
    )
    return _session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=config,
    )


@functools.cache
def _session() -> boto3.session.Session:
    # One session for the whole run: it loads the service model once.
    return boto3.session.Session()


@dataclass
class Boto:
    """Calls a boto3 client from a worker thread, off the emulator's event loop."""

    client: BaseClient

    async def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        method = getattr(self.client, operation)
        result: dict[str, Any] = await anyio.to_thread.run_sync(functools.partial(method, **params))
        return result

    async def pages(self, operation: str, **params: Any) -> list[dict[str, Any]]:
        """Every page boto3's own paginator fetches."""
        paginator = self.client.get_paginator(operation)
        return await anyio.to_thread.run_sync(lambda: list(paginator.paginate(**params)))


def aws_executable() -> list[str]:
    """The aws CLI (v1, a Python script) of this environment, run by this interpreter."""
    script = Path(sys.executable).parent / "aws"
    if not script.exists():
        found = shutil.which("aws")
        if found is None:
            pytest.fail("the aws CLI is not installed (pip install awscli)")
        script = Path(found)
    return [sys.executable, str(script)]


async def run_aws(
    endpoint_url: str,
    *args: str,
    region: str = REGION,
    secret_key: str = SECRET_KEY,
    service: str = "personalize",
) -> tuple[int, Any, str]:
    """Run ``aws SERVICE ARGS`` (``personalize`` by default) against the emulator:
    (exit status, JSON output, stderr)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
    }
    command = [
        *aws_executable(),
        service,
        *args,
        "--endpoint-url",
        endpoint_url,
        "--output",
        "json",
    ]
    result = await anyio.run_process(command, env=env, check=False)
    stdout = result.stdout.decode()
    return (
        result.returncode,
        (json.loads(stdout) if stdout.strip() else None),
        result.stderr.decode(),
    )
