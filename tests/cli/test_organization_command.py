"""``aiopersonalize crawl --organization --role-name NAME`` and ``--role-arn ARN``:
every account of the emulated organization, each job once with its account, refusals
reported one by one, resumed after ``kill -9``; and the endpoint settings that reach
Personalize, STS and Organizations."""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aiopersonalize import MergeProgress, RequestStats, personalize_regions
from aiopersonalize.cli import main
from aiopersonalize.cli._engine import progress_text
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec, account_ids

from ..helpers import assert_no_secrets, run_cli, unused_port
from .test_crawl_command import ARN_KEY, assert_exactly_once, interrupt_midway, read_jobs

SMALL = InventorySpec(1, 1, 2, inference_jobs_per_version=6, segment_jobs_per_version=3)
REGIONS = ("us-east-1", "eu-west-1")
MANAGEMENT, MEMBER, DENIED, SUSPENDED = account_ids(4)
ORG = EmulatorOptions(
    inventory=SMALL,
    seed=3,
    accounts=4,
    suspended_accounts=frozenset({SUSPENDED}),
    assume_role_denied_accounts=frozenset({DENIED}),
    deny_regions=frozenset({"eu-west-1"}),
)
# No refusals, and latency enough for a crawl of small pages to be caught midway.
SLOW_ORG = EmulatorOptions(inventory=SMALL, seed=3, accounts=3, faults=Faults(latency=0.03))

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and files"),
    pytest.mark.personalize_emulator(ORG),
]


def org_argv(emulator: Emulator, *options: str) -> list[str]:
    return [
        "crawl", "--organization", "--role-name", "Inventory", "--endpoint-url",
        emulator.endpoint_url, "--page-size", "2", "--progress", "never", *options,
    ]  # fmt: skip


def expected(
    emulator: Emulator, accounts: tuple[str, ...], regions: tuple[str, ...]
) -> Counter[tuple[str, str, str]]:
    return Counter(
        {
            (account, region, kind): emulator.job_count(kind, None, region, account=account)
            for account in accounts
            for region in regions
            for kind in ("inference", "segment")
        }
    )


def tally(jobs: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((job["account"], job["region"], job["kind"]) for job in jobs)


def issued_secrets(emulator: Emulator) -> list[str]:
    """Every secret key and session token the emulator's AssumeRole handed out."""
    issued = emulator._service.identity._issued.values()
    return [secret for c in issued for secret in (c.secret, c.token)]


def test_an_organization_crawl_names_each_account_and_each_refusal(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The crawl writes every job of each ACTIVE account once, ``account`` (12 digits)
    before ``region`` on every line; the account refusing AssumeRole and each member's
    region denied by policy are one failure each, named in the summary, and it exits 1."""
    output = tmp_path / "jobs.jsonl"
    argv = org_argv(emulator_in_thread, "--region", REGIONS[0], "--region", REGIONS[1])
    assert main([*argv, "-o", str(output)]) == 1
    err = capsys.readouterr().err
    jobs = read_jobs(output)
    assert all(list(job)[:3] == ["kind", "account", "region"] for job in jobs)
    assert all(job[ARN_KEY[job["kind"]]].split(":")[4] == job["account"] for job in jobs)
    want = expected(emulator_in_thread, (MANAGEMENT,), REGIONS)
    want += expected(emulator_in_thread, (MEMBER,), REGIONS[:1])
    assert tally(jobs) == want
    assert_exactly_once(jobs)
    assert "accounts: 2 of 3 opened, 1 refused; jobs found in 2 accounts" in err
    assert f"failed: account {DENIED}: AssumeRole refused: AccessDeniedError (AccessDenied)" in err
    assert f"failed: account {MEMBER} in eu-west-1: ListBatch" in err
    assert "2 listings failed" in err
    assert SUSPENDED not in err
    assert_no_secrets(output.read_bytes(), err)
    for secret in issued_secrets(emulator_in_thread):
        assert secret not in err
        assert secret.encode() not in output.read_bytes()


def test_role_arns_crawl_those_accounts(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--role-arn`` (repeatable) crawls the account of each role, without listing the
    organization."""
    output = tmp_path / "jobs.jsonl"
    argv = [
        "crawl", "--endpoint-url", emulator_in_thread.endpoint_url, "--progress", "never",
        "--role-arn", f"arn:aws:iam::{MEMBER}:role/Inventory", "-o", str(output),
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert tally(read_jobs(output)) == expected(emulator_in_thread, (MEMBER,), REGIONS[:1])
    assert emulator_in_thread.stats.by_operation["ListAccounts"] == 0


@pytest.mark.personalize_emulator(SLOW_ORG)
def test_an_organization_crawl_killed_midway_resumes_writing_each_job_once(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """An organization crawl SIGKILLed midway, then rerun with the same command, writes
    every job of every account exactly once, and its checkpoint keys name the accounts."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = org_argv(emulator_in_thread, "--concurrency", "2", "-o", str(output),
                    "--checkpoint", str(checkpoint))  # fmt: skip
    status, _ = interrupt_midway(argv, checkpoint, tmp_path, signal.SIGKILL)
    assert status == -signal.SIGKILL
    want = expected(emulator_in_thread, account_ids(3), REGIONS[:1])
    assert len(read_jobs(output)) < sum(want.values())

    resumed = run_cli(argv, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed: " in resumed.stderr
    jobs = read_jobs(output)
    assert tally(jobs) == want
    assert_exactly_once(jobs)
    header, *entries = (json.loads(line) for line in checkpoint.read_text().splitlines())
    assert header["aiopersonalize-checkpoint"] == 4
    assert header["params"]["accounts"] == {"organization": "Inventory"}
    assert {entry["account"] for entry in entries} == set(account_ids(3))
    assert_no_secrets(output.read_bytes(), checkpoint.read_bytes(), resumed.stderr)
    for secret in issued_secrets(emulator_in_thread):
        for text in (output.read_text(), checkpoint.read_text(), resumed.stderr):
            assert secret not in text


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, accounts=2))
def test_per_service_endpoint_settings_reach_sts_and_organizations(
    emulator_in_thread: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --endpoint-url, botocore's AWS_ENDPOINT_URL_PERSONALIZE, _STS and
    _ORGANIZATIONS point each service at the emulator; with it, --endpoint-url points
    all three there, over a per-service setting that points elsewhere."""
    url = emulator_in_thread.endpoint_url
    want = expected(emulator_in_thread, account_ids(2), REGIONS[:1])
    for service in ("PERSONALIZE", "STS", "ORGANIZATIONS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", url)
    output = tmp_path / "by-service.jsonl"
    argv = ["crawl", "--organization", "--role-name", "R", "--progress", "never"]
    assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    assert tally(read_jobs(output)) == want

    nowhere = f"http://127.0.0.1:{unused_port()}"
    for service in ("STS", "ORGANIZATIONS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", nowhere)
    output = tmp_path / "one-url.jsonl"
    assert main([*argv, "--endpoint-url", url, "-o", str(output)]) == 0, capsys.readouterr().err
    assert tally(read_jobs(output)) == want


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, accounts=2))
def test_all_regions_crawls_every_personalize_region_of_every_account(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--all-regions`` crawls each region botocore's endpoint data lists for
    Personalize, in every account."""
    output = tmp_path / "jobs.jsonl"
    argv = org_argv(emulator_in_thread, "--all-regions", "--kind", "segment")
    assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    jobs = read_jobs(output)
    assert {(job["account"], job["region"]) for job in jobs} == {
        (account, region) for account in account_ids(2) for region in personalize_regions()
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--organization",), "--organization needs --role-name NAME"),
        (("--role-name", "R"), "--role-name goes with --organization"),
        (
            ("--organization", "--role-name", "R", "--role-arn", "arn:aws:iam::123456789012:role/R"),
            "give --organization or --role-arn, not both",
        ),
        (("--role-arn", "arn:aws:iam::1:role/R"), "invalid role_arns[0]"),
        (("--organization", "--role-name", "bad name"), "invalid role_name"),
        (("--all-regions", "--region", "us-east-1"), "give --region or --all-regions, not both"),
        (
            ("--organization", "--role-name", "R", "--solution-version-arn",
             "arn:aws:personalize:us-east-1:123456789012:solution/s/1"),
            "give --solution-version-arn or accounts to crawl",
        ),
    ],
)  # fmt: skip
def test_account_options_that_cannot_work_exit_2(
    emulator_in_thread: Emulator,
    capsys: pytest.CaptureFixture[str],
    options: tuple[str, ...],
    message: str,
) -> None:
    """Account and region options that cannot work together are a usage error (exit 2)
    naming the problem, before any request."""
    argv = ["crawl", "--endpoint-url", emulator_in_thread.endpoint_url, *options]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert emulator_in_thread.stats.requests == 0


def test_a_format_3_checkpoint_is_refused_with_a_clear_message(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint of format 3 (no account in its keys) is refused with exit 2, saying
    so and to start over, and nothing is sent or changed."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    output.write_bytes(b"")
    checkpoint.write_text('{"aiopersonalize-checkpoint":3,"crc":1,"params":{}}\n')
    argv = ["crawl", "--endpoint-url", emulator_in_thread.endpoint_url, "-o", str(output),
            "--checkpoint", str(checkpoint)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the checkpoint is in format 3" in err
    assert "delete the checkpoint and rerun the command to start over" in err
    assert emulator_in_thread.stats.requests == 0
    assert checkpoint.read_text().startswith('{"aiopersonalize-checkpoint":3')


def test_the_progress_line_counts_accounts() -> None:
    """In a crawl of several accounts the progress line starts with the accounts opened
    of those found; otherwise it names none."""
    progress = MergeProgress(
        versions=8, versions_done=3, versions_failed=1, pages=5, jobs=40, discovering=False,
        accounts=3, accounts_opened=2, accounts_failed=1,
    )  # fmt: skip
    text = progress_text(progress, RequestStats(calls=6, requests=7), 2.0)
    assert text.startswith("accounts 2/3 · listings 3/8 · failed 1 · jobs 40 · ")
    single = MergeProgress(8, 3, 1, 5, 40, False)
    assert progress_text(single, RequestStats(calls=6, requests=7), 2.0).startswith("listings")
