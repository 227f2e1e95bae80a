"""The README's examples (``readme_examples.py``) type-check as documented and run
against the emulator over real HTTP."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mypy import api as mypy_api

from aiopersonalize.emulator import Emulator

from . import readme_examples as examples

EXAMPLES = Path(examples.__file__)
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


async def strict_mypy(path: Path) -> tuple[int, str]:
    """``mypy --strict`` over one file, with the project's configuration."""
    stdout, stderr, status = await anyio.to_thread.run_sync(
        mypy_api.run, ["--config-file", str(PYPROJECT), "--strict", str(path)]
    )
    return status, stdout + stderr


async def test_the_readme_examples_pass_mypy_strict() -> None:
    """Every README example type-checks under ``mypy --strict``: e.g. ``async with`` a
    merged listing gives a ``MergedListing``, with its ``failures`` and ``progress``."""
    status, output = await strict_mypy(EXAMPLES)
    assert status == 0, output


async def test_the_type_check_catches_a_misused_listing(tmp_path: Path) -> None:
    """The same check fails an example that uses a merged listing's members on a plain
    listing: it really checks the API's types."""
    wrong = tmp_path / "wrong_example.py"
    wrong.write_text(
        "from aiopersonalize import Client\n"
        "async def f(client: Client, arn: str) -> None:\n"
        "    async with client.list_batch_inference_jobs(arn) as jobs:\n"
        "        print(jobs.failures)\n"
    )
    status, output = await strict_mypy(wrong)
    assert status == 1
    assert '"Listing[BatchInferenceJobSummary]" has no attribute "failures"' in output


async def test_the_readme_examples_run_against_the_emulator(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every README example runs as written against the emulator, and lists what the
    emulator holds."""
    versions = emulator.solution_version_arns()
    arn = versions[0]
    seen = await examples.quick_start(arn, endpoint_url=emulator.endpoint_url)
    assert len(seen) == emulator.job_count("inference", arn) > 0
    assert len(capsys.readouterr().out.splitlines()) == len(seen)

    async with examples.emulator_client(emulator.endpoint_url) as client:
        inference, segments, retries = await examples.listings(client, arn)
        assert inference == emulator.job_count("inference", arn)
        assert segments == emulator.job_count("segment", arn) - 2
        assert retries == 0

        merged, failures = await examples.merged_listing(client, versions)
        assert failures == []
        assert merged == sum(
            emulator.job_count(kind, v) for kind in ("inference", "segment") for v in versions
        )

        assert await examples.crawl(client) == merged

        first_inference = (await client.list_batch_inference_jobs(arn, max_items=1).collect())[0]
        first_segment = (await client.list_batch_segment_jobs(arn, max_items=1).collect())[0]
        inference_job, segment_job = await examples.describe(
            client, first_inference.batch_inference_job_arn, first_segment.batch_segment_job_arn
        )
        assert inference_job.batch_inference_job_arn == first_inference.batch_inference_job_arn
        assert segment_job.batch_segment_job_arn == first_segment.batch_segment_job_arn
