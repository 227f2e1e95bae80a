"""``aiopersonalize crawl``'s errors as a user reads them: one clear line for a fatal
error, naming the option or variable to set; the library's message kept; a service
error's code once; a failed listing counted as failed.

The crawl runs in-process (``aiopersonalize.cli.main``) with the environment changed
through ``monkeypatch``, against the emulator served from a thread, or against a port
nothing listens on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from aiopersonalize.cli import main
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import assert_no_secrets, unused_port

SMALL = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=1,
    versions_per_solution=3,
    inference_jobs_per_version=4,
    segment_jobs_per_version=3,
)
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, seed=3))


def crawl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """Run ``aiopersonalize crawl ARGV``: its exit status and its stderr's lines."""
    status = main(["crawl", *argv])
    err = capsys.readouterr().err
    assert_no_secrets(err)
    assert "Traceback" not in err
    return status, err.splitlines()


@pytest.fixture
def no_aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS variable, an empty HOME (instance metadata stays off: no network)."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_config")
def test_no_region_is_one_line_naming_the_option_and_the_variable(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a region, the crawl exits 1 with one line saying to give --region or set
    AWS_DEFAULT_REGION, no summary of zeros, and sends nothing."""
    output = str(tmp_path / "jobs.jsonl")
    status, lines = crawl(capsys, "--endpoint-url", emulator_in_thread.endpoint_url, "-o", output)
    assert status == 1
    assert lines == [
        "aiopersonalize crawl: error: You must specify a region: give --region REGION, "
        "or set AWS_DEFAULT_REGION"
    ]
    assert emulator_in_thread.stats.requests == 0


@pytest.mark.usefixtures("no_aws_config")
def test_no_credentials_for_a_real_endpoint_is_one_line_naming_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without credentials, a crawl of AWS itself exits 1 with one line naming the
    variables or option to set (it fails before any request leaves)."""
    output = str(tmp_path / "jobs.jsonl")
    status, lines = crawl(capsys, "--region", "us-east-1", "-o", output)
    assert status == 1
    assert lines == [
        "aiopersonalize crawl: error: Unable to locate credentials: set AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY, or give --profile NAME"
    ]


@pytest.mark.usefixtures("no_aws_config")
def test_a_missing_profile_is_one_line_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A profile that does not exist is one line naming --profile."""
    output = str(tmp_path / "jobs.jsonl")
    status, lines = crawl(capsys, "--region", "us-east-1", "--profile", "nope", "-o", output)
    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith("aiopersonalize crawl: error: The config profile (nope) could not")
    assert "--profile NAME" in lines[0]


def test_an_unreachable_endpoint_keeps_the_message_naming_its_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a port nothing listens on, each failed listing's line keeps the library's
    message naming the URL, not just the error's class."""
    url = f"http://127.0.0.1:{unused_port()}"
    output = str(tmp_path / "jobs.jsonl")
    status, lines = crawl(
        capsys, "--endpoint-url", url, "--region", "us-east-1", "--max-attempts", "1", "-o", output
    )
    assert status == 1
    failed = [line for line in lines if line.startswith("  failed: ")]
    assert len(failed) == 2  # one listing per job kind
    for line in failed:
        assert f'TransportError: Could not connect to the endpoint URL: "{url}/"' in line
    assert "listings (region x job kind): 0 of 2 complete, 2 failed" in lines


def test_on_error_raise_is_reported_once_and_counted_as_failed(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --on-error raise, a denied version ends the crawl with one error line naming
    the error class and the service's code once, and the summary counts it failed."""
    denied = emulator_in_thread.solution_version_arns()[1]
    emulator_in_thread.faults = Faults(deny_solution_versions=frozenset({denied}))
    output = str(tmp_path / "jobs.jsonl")
    status, lines = crawl(
        capsys,
        *("--endpoint-url", emulator_in_thread.endpoint_url, "--strategy", "versions"),
        *("--solution-version-arn", denied, "--on-error", "raise", "-o", output),
    )
    assert status == 1
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1
    assert errors[0].startswith(
        "aiopersonalize crawl: error: AccessDeniedError (AccessDeniedException): "
    )
    assert errors[0].count("AccessDeniedException") == 1
    summary = next(line for line in lines if line.startswith("listings "))
    failed = re.fullmatch(r"listings \(.+\): (\d+) of (\d+) complete, (\d+) failed", summary)
    assert failed is not None
    assert int(failed[3]) >= 1


def test_a_checkpoint_of_another_page_size_names_the_option(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resuming a checkpoint with another --page-size exits 2 naming ``--page-size``,
    the option the user typed."""
    files = ("-o", str(tmp_path / "jobs.jsonl"), "--checkpoint", str(tmp_path / "c"))
    where = ("--endpoint-url", emulator_in_thread.endpoint_url)
    assert crawl(capsys, *where, "--page-size", "5", *files)[0] == 0
    status, lines = crawl(capsys, *where, "--page-size", "6", *files)
    assert status == 2
    assert lines == [
        "aiopersonalize crawl: error: the checkpoint was made by a different crawl: its "
        "--page-size differs from this command's"
    ]


def test_an_arn_pattern_in_an_error_has_single_backslashes(
    emulator_in_thread: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused ARN's message shows the model's pattern as written, ``\\d`` with one
    backslash."""
    status, lines = crawl(
        capsys,
        *("--endpoint-url", emulator_in_thread.endpoint_url),
        *("--solution-version-arn", "not-an-arn"),
    )
    assert status == 2
    (line,) = lines
    assert r"the ARN pattern arn:([a-z\d-]+):personalize:.*:.*:.+" in line
    assert "\\\\" not in line
