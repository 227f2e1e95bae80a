"""The pytest plugin users enable in their own suites (run here in a separate pytest)."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

CONFTEST = """
import pytest

pytest_plugins = ["aiopersonalize.emulator.pytest_plugin"]


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

TESTS = """
import anyio
import boto3
import pytest
from botocore.config import Config

from aiopersonalize.emulator import InventorySpec


def client(url):
    return boto3.session.Session().client(
        "personalize", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="a", aws_secret_access_key="b",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.mark.anyio
async def test_async_fixture(personalize_emulator):
    c = client(personalize_emulator.endpoint_url)
    try:
        page = await anyio.to_thread.run_sync(c.list_batch_inference_jobs)
    finally:
        c.close()
    assert len(page["batchInferenceJobs"]) == 100
    assert personalize_emulator.stats.requests == 1


@pytest.mark.anyio
@pytest.mark.personalize_emulator(inventory=InventorySpec.empty())
async def test_marker_options(personalize_emulator):
    assert personalize_emulator.solution_version_arns() == []


def test_thread_fixture(personalize_emulator_in_thread):
    c = client(personalize_emulator_in_thread.endpoint_url)
    try:
        assert c.list_dataset_groups()["datasetGroups"]
    finally:
        c.close()
"""

INI = """
[pytest]
addopts = -p no:cacheprovider
filterwarnings = error
"""


async def test_plugin_fixtures_in_a_users_suite(tmp_path: Path) -> None:
    """A suite enabling the plugin gets a running emulator from each fixture, set by marker."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_user.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text(INI)
    result = await anyio.run_process(
        [sys.executable, "-m", "pytest", "-q", str(tmp_path)], cwd=tmp_path, check=False
    )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert "3 passed" in output


MARKER_TESTS = """
import pytest

from aiopersonalize.emulator import EmulatorOptions, InventorySpec


@pytest.mark.anyio
@pytest.mark.personalize_emulator(seed=5, inventory=InventorySpec(1, 1, 1, 2, 3))
async def test_keyword_arguments(personalize_emulator):
    assert personalize_emulator.options == EmulatorOptions(
        seed=5, inventory=InventorySpec(1, 1, 1, 2, 3)
    )


@pytest.mark.personalize_emulator(EmulatorOptions(seed=6, inventory=InventorySpec.empty()))
def test_a_record(personalize_emulator_in_thread):
    assert personalize_emulator_in_thread.seed == 6
    assert personalize_emulator_in_thread.solution_version_arns() == []


@pytest.mark.personalize_emulator(EmulatorOptions(), seed=1)
def test_both_are_refused(request):
    with pytest.raises(TypeError, match="one EmulatorOptions or keyword arguments"):
        request.getfixturevalue("personalize_emulator_in_thread")
"""


async def test_marker_takes_keyword_arguments_or_a_record(tmp_path: Path) -> None:
    """The marker's keyword arguments become an EmulatorOptions, or it takes one as is (not both)."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_marker.py").write_text(MARKER_TESTS)
    (tmp_path / "pytest.ini").write_text(INI)
    result = await anyio.run_process(
        [sys.executable, "-m", "pytest", "-q", str(tmp_path)], cwd=tmp_path, check=False
    )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert "3 passed" in output
