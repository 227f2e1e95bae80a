"""``aiopersonalize crawl`` and ``aiopersonalize demo`` against the emulator.

The crawl runs as a subprocess (``python -m aiopersonalize crawl``) where signals or
the real stdout matter, and in-process through ``aiopersonalize.cli.main`` where they
do not (faster, and leaks then fail the test). The emulator serves from a thread.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aiopersonalize.cli import main
from aiopersonalize.emulator import (
    Emulator,
    EmulatorOptions,
    EmulatorThread,
    Faults,
    InventorySpec,
    JobKind,
)

from ..clients import FakeClock
from ..helpers import assert_no_secrets, run_cli

# 4 solution versions; with --page-size 5, 3 pages of inference jobs and 2 of segment
# jobs per version.
SMALL = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=12,
    segment_jobs_per_version=7,
)
KINDS: tuple[JobKind, ...] = ("inference", "segment")
ARN_KEY = {"inference": "batchInferenceJobArn", "segment": "batchSegmentJobArn"}

# The tests' emulator (emulator_in_thread) serves the small inventory; SLOW adds latency
# enough for a crawl of small pages to be caught midway.
SLOW = EmulatorOptions(inventory=SMALL, seed=7, faults=Faults(latency=0.03))

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and files"),
    pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, seed=7)),
]


def crawl_argv(emulator: Emulator, *options: str) -> list[str]:
    return ["crawl", "--endpoint-url", emulator.endpoint_url, "--page-size", "5", *options]


def start_cli(argv: Sequence[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aiopersonalize", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], within: float = 20) -> None:
    """Poll ``condition`` until it holds (the deadline turns a hang into a failure)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def journal_entries(path: Path) -> int:
    """Whole entry lines in a checkpoint journal (the header excluded)."""
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def read_jobs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected_counts(
    emulator: Emulator, regions: Sequence[str] = ("us-east-1",), kinds: Sequence[JobKind] = KINDS
) -> Counter[tuple[str, str, str]]:
    """(kind, region, version) -> the emulator's job count: what a full crawl must write."""
    return Counter(
        {
            (kind, region, version): emulator.job_count(kind, version, region)
            for region in regions
            for version in emulator.solution_version_arns(region)
            for kind in kinds
        }
    )


def counts(jobs: Sequence[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((job["kind"], job["region"], job["solutionVersionArn"]) for job in jobs)


def assert_exactly_once(jobs: Sequence[dict[str, Any]]) -> None:
    arns = [job[ARN_KEY[job["kind"]]] for job in jobs]
    assert len(arns) == len(set(arns))


# -- what a crawl writes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "listings"),
    [
        ((), "listings (region x job kind): 2 of 2 complete, 0 failed"),
        (("--strategy", "account"), "listings (region x job kind): 2 of 2 complete, 0 failed"),
        (
            ("--strategy", "versions"),
            "listings (solution version x job kind): 8 of 8 complete, 0 failed",
        ),
    ],
)
def test_output_is_the_emulators_inventory(
    emulator_in_thread: Emulator, tmp_path: Path, strategy: tuple[str, ...], listings: str
) -> None:
    """A crawl to stdout, account-wide (the default) or by discovered versions, writes every
    job once, as JSON Lines with kind, account, region, AWS member names and ISO-8601 UTC
    timestamps, and a summary to stderr."""
    result = run_cli(crawl_argv(emulator_in_thread, *strategy), tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = [json.loads(line) for line in result.stdout.splitlines()]
    assert counts(jobs) == expected_counts(emulator_in_thread)
    assert_exactly_once(jobs)
    for job in jobs:
        assert list(job)[:3] == ["kind", "account", "region"]
        assert job["account"] == job[ARN_KEY[job["kind"]]].split(":")[4] == "123456789012"
        assert {"jobName", "status", "creationDateTime", "lastUpdatedDateTime"} <= set(job)
        assert job["region"] == "us-east-1"
        for name in ("creationDateTime", "lastUpdatedDateTime"):
            stamp = datetime.fromisoformat(job[name])
            assert stamp.utcoffset() == timedelta(0)
            assert stamp.isoformat() == job[name]
    assert f"jobs: {len(jobs)} (" in result.stderr
    assert listings in result.stderr.splitlines()


def test_explicit_versions_are_listed_without_discovery(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """--solution-version-arn and --kind list just those versions' jobs of that kind,
    with no discovery call."""
    versions = emulator_in_thread.solution_version_arns()[1:3]
    output = tmp_path / "jobs.jsonl"
    argv = [f"--solution-version-arn={arn}" for arn in versions]
    status = main([*crawl_argv(emulator_in_thread, "--kind", "segment", "-o", str(output)), *argv])
    assert status == 0
    jobs = read_jobs(output)
    assert counts(jobs) == Counter(
        {
            ("segment", "us-east-1", arn): emulator_in_thread.job_count("segment", arn)
            for arn in versions
        }
    )
    assert_exactly_once(jobs)
    assert set(emulator_in_thread.stats.by_operation) == {"ListBatchSegmentJobs"}


def test_several_regions_are_crawled(emulator_in_thread: Emulator, tmp_path: Path) -> None:
    """Repeated --region crawls each region's own inventory, each job tagged with its
    region."""
    output = tmp_path / "jobs.jsonl"
    regions = ("us-east-1", "eu-west-1")
    argv = crawl_argv(
        emulator_in_thread, "--region", regions[0], "--region", regions[1], "-o", str(output)
    )
    assert main(argv) == 0
    jobs = read_jobs(output)
    assert counts(jobs) == expected_counts(emulator_in_thread, regions)
    assert_exactly_once(jobs)
    assert all(f":{job['region']}:" in job[ARN_KEY[job["kind"]]] for job in jobs)


@pytest.mark.personalize_emulator(SLOW)
def test_progress_line_when_forced(emulator_in_thread: Emulator, tmp_path: Path) -> None:
    """--progress always draws a \\r-refreshed progress line on stderr (not a terminal
    here); --progress never draws none."""
    output = str(tmp_path / "jobs.jsonl")
    # One request at a time: the crawl lasts long enough (about a second) to be drawn.
    argv = crawl_argv(emulator_in_thread, "-o", output, "--page-size", "2", "--concurrency", "1")
    shown = run_cli([*argv, "--progress", "always"], tmp_path)
    assert shown.returncode == 0
    assert "\rlistings " in shown.stderr
    assert "requests " in shown.stderr
    assert "retries " in shown.stderr
    assert "jobs/s" in shown.stderr
    hidden = run_cli(
        crawl_argv(emulator_in_thread, "-o", output, "--concurrency", "10", "--progress", "never"),
        tmp_path,
    )
    assert hidden.returncode == 0
    assert "\r" not in hidden.stderr


# -- failures ---------------------------------------------------------------------------


def test_failing_version_is_reported_and_retried_on_rerun(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """A permanently denied version exits 1 with the rest written and the failure in the
    summary; once allowed, rerunning with the checkpoint lists just that version."""
    denied = emulator_in_thread.solution_version_arns()[2]
    emulator_in_thread.faults = Faults(deny_solution_versions=frozenset({denied}))
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(
        emulator_in_thread,
        *("--strategy", "versions", "-o", str(output), "--checkpoint", str(checkpoint)),
    )
    first = run_cli(argv, tmp_path)
    assert first.returncode == 1, first.stderr
    expected = expected_counts(emulator_in_thread)
    assert counts(read_jobs(output)) == {k: n for k, n in expected.items() if k[2] != denied}
    assert "6 of 8 complete, 2 failed" in first.stderr
    failed_lines = [line for line in first.stderr.splitlines() if denied in line]
    assert len(failed_lines) == 2
    assert all("AccessDeniedError (AccessDeniedException)" in line for line in failed_lines)

    emulator_in_thread.faults = Faults()
    emulator_in_thread.stats.reset()
    second = run_cli(argv, tmp_path)
    assert second.returncode == 0, second.stderr
    jobs = read_jobs(output)
    assert counts(jobs) == expected
    assert_exactly_once(jobs)
    listed = emulator_in_thread.stats.by_operation
    assert listed["ListBatchInferenceJobs"] + listed["ListBatchSegmentJobs"] == 3 + 2


def test_raise_policy_stops_with_a_message(emulator_in_thread: Emulator, tmp_path: Path) -> None:
    """--on-error raise ends the crawl at the first failure: exit 1 and the typed error's
    message on stderr, no traceback."""
    denied = emulator_in_thread.solution_version_arns()[0]
    emulator_in_thread.faults = Faults(deny_solution_versions=frozenset({denied}))
    result = run_cli(
        crawl_argv(
            emulator_in_thread,
            *("--strategy", "versions", "--on-error", "raise", "-o", str(tmp_path / "jobs.jsonl")),
        ),
        tmp_path,
    )
    assert result.returncode == 1
    assert "error: AccessDeniedError (AccessDeniedException)" in result.stderr


# -- usage errors -----------------------------------------------------------------------


def test_checkpoint_needs_an_output_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--checkpoint with output to stdout is a usage error (exit 2), before any request."""
    assert main(["crawl", "--checkpoint", str(tmp_path / "c")]) == 2
    assert "--checkpoint needs --output FILE" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    "option",
    [
        ["--solution-version-arn", "not-an-arn"],
        ["--region", "Not A Region"],
    ],
)
def test_invalid_input_is_a_usage_error(
    emulator_in_thread: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
) -> None:
    """Input the library refuses (ParamValidationError) exits 2 with its message, sends
    nothing, and leaves no checkpoint that would refuse the corrected command."""
    checkpoint = tmp_path / "c"
    argv = crawl_argv(
        emulator_in_thread, *option, "-o", str(tmp_path / "o"), "--checkpoint", str(checkpoint)
    )
    assert main(argv) == 2
    assert "error: invalid " in capsys.readouterr().err
    assert emulator_in_thread.stats.requests == 0
    assert not checkpoint.exists()


def test_bad_option_value_exits_2() -> None:
    """An out-of-range option is refused by the parser with exit status 2."""
    with pytest.raises(SystemExit) as exited:
        main(["crawl", "--page-size", "101"])
    assert exited.value.code == 2


def test_checkpoint_of_another_crawl_is_refused(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """Resuming a checkpoint with different output-determining options (kinds, strategy)
    exits 2, names them, and leaves the output as it was."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    files = ("-o", str(output), "--checkpoint", str(checkpoint))
    assert main(crawl_argv(emulator_in_thread, "--kind", "inference", *files)) == 0
    before = output.read_bytes()
    result = run_cli(crawl_argv(emulator_in_thread, "--kind", "segment", *files), tmp_path)
    assert result.returncode == 2
    assert "different crawl: its --kind differs from this command's" in result.stderr
    assert output.read_bytes() == before
    other = run_cli(
        crawl_argv(emulator_in_thread, "--kind", "inference", "--strategy", "versions", *files),
        tmp_path,
    )
    assert other.returncode == 2
    assert "different crawl: its --strategy differs" in other.stderr
    assert output.read_bytes() == before


def test_checkpoint_without_its_output_is_refused(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """A checkpoint whose output file is gone exits 2 rather than starting over."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "-o", str(output), "--checkpoint", str(checkpoint))
    assert main(argv) == 0
    output.unlink()
    assert main(argv) == 2
    assert not output.exists()


def test_rerun_of_a_finished_crawl_writes_nothing(
    emulator_in_thread: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rerunning a finished checkpointed crawl lists no jobs, keeps the output and exits 0."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "-o", str(output), "--checkpoint", str(checkpoint))
    assert main(argv) == 0
    before = output.read_bytes()
    emulator_in_thread.stats.reset()
    capsys.readouterr()
    assert main(argv) == 0
    assert output.read_bytes() == before
    assert "ListBatchInferenceJobs" not in emulator_in_thread.stats.by_operation
    assert "resumed: 2 listings already complete" in capsys.readouterr().err
    assert_no_secrets(before, checkpoint.read_bytes())


# -- interruption and resumption --------------------------------------------------------


def uninterrupted(emulator: Emulator, tmp_path: Path) -> list[str]:
    """The lines of a crawl run to the end without a checkpoint, sorted."""
    reference = tmp_path / "reference.jsonl"
    assert main(crawl_argv(emulator, "--page-size", "2", "-o", str(reference))) == 0
    return sorted(reference.read_text().splitlines())


def interrupt_midway(
    argv: Sequence[str], checkpoint: Path, cwd: Path, signum: int
) -> tuple[int, str]:
    """Start the crawl, send ``signum`` once a few pages are journaled; its status and stderr."""
    process = start_cli(argv, cwd)
    try:
        wait_until(lambda: journal_entries(checkpoint) >= 4)
        assert process.poll() is None, "the crawl ended before it could be interrupted"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert_no_secrets(stderr)
    return process.returncode, stderr


@pytest.mark.personalize_emulator(SLOW)
def test_crawl_killed_midway_resumes_to_the_same_output(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """A crawl SIGKILLed midway, then rerun with the same command, writes the same lines as
    an uninterrupted crawl, none twice."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2", "--concurrency", "2",
                      "-o", str(output), "--checkpoint", str(checkpoint))  # fmt: skip
    status, _ = interrupt_midway(argv, checkpoint, tmp_path, signal.SIGKILL)
    assert status == -signal.SIGKILL
    expected = uninterrupted(emulator_in_thread, tmp_path)
    assert len(output.read_bytes().splitlines()) < len(expected)

    resumed = run_cli(argv, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed: " in resumed.stderr
    assert sorted(output.read_text().splitlines()) == expected
    assert_exactly_once(read_jobs(output))
    assert_no_secrets(output.read_bytes(), checkpoint.read_bytes())


@pytest.mark.personalize_emulator(SLOW)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_crawl_exits_130_and_resumes(
    emulator_in_thread: Emulator, tmp_path: Path, signum: int
) -> None:
    """SIGINT or SIGTERM ends a crawl with exit 130 after flushing whole pages and the
    checkpoint, and says how to resume; resuming completes the output exactly once."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "--page-size", "2", "--concurrency", "2",
                      "-o", str(output), "--checkpoint", str(checkpoint))  # fmt: skip
    status, stderr = interrupt_midway(argv, checkpoint, tmp_path, signum)
    assert status == 130, stderr
    assert "Traceback" not in stderr
    assert f"rerun the same command to resume from {checkpoint}" in stderr
    last = json.loads(checkpoint.read_text().splitlines()[-1])
    assert last["offset"] == output.stat().st_size  # flushed, no page half-written

    resumed = run_cli(argv, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(output.read_text().splitlines()) == uninterrupted(emulator_in_thread, tmp_path)


def test_resume_drops_unjournaled_and_torn_writes(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """Resuming after a crash between a page's write and its journal entry, with a torn
    output line and a torn journal line, rewrites those pages exactly once."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "-o", str(output), "--checkpoint", str(checkpoint))
    assert main(argv) == 0
    expected = sorted(output.read_text().splitlines())
    # The crash: the last 5 pages were written but never journaled, a sixth page was
    # being written, and an entry was being appended.
    header, *entries = checkpoint.read_bytes().splitlines(keepends=True)
    checkpoint.write_bytes(b"".join([header, *entries[:-5]]) + entries[-5][:17])
    with output.open("ab") as file:
        file.write(b'{"kind":"inference","region":"us-')

    assert main(argv) == 0
    assert sorted(output.read_text().splitlines()) == expected
    assert journal_entries(checkpoint) == len(entries)
    assert all(json.loads(line) for line in checkpoint.read_bytes().splitlines())


@pytest.mark.parametrize("strategy", ["account", "versions"])
def test_a_resume_whose_tokens_expired_lists_those_chains_again_writing_no_job_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], strategy: str
) -> None:
    """Resumed after the service's tokens expired (an emulator whose tokens live 60 s,
    its clock moved on), each unfinished chain is listed again from its start and only
    the jobs the output does not hold yet are written: every job exactly once, and the
    summary says so; a rerun after that writes nothing."""
    clock = FakeClock()
    options = EmulatorOptions(inventory=SMALL, seed=7, clock=clock, token_lifetime=60)
    # Constructed here: the test moves the emulator's clock.
    with EmulatorThread(options) as emulator:
        output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
        argv = crawl_argv(
            emulator, "--strategy", strategy, "-o", str(output), "--checkpoint", str(checkpoint)
        )
        assert main(argv) == 0
        expected = sorted(output.read_text().splitlines())
        # Interrupted after its first 3 pages (a crash: the journal's later entries never
        # made it), then resumed once every token it holds has expired.
        header, *entries = checkpoint.read_bytes().splitlines(keepends=True)
        assert any(json.loads(line)["token"] for line in entries[:3])
        checkpoint.write_bytes(b"".join([header, *entries[:3]]))
        clock.advance(61)
        emulator.stats.reset()
        capsys.readouterr()
        assert main(argv) == 0
        summary = capsys.readouterr().err
        assert sorted(output.read_text().splitlines()) == expected
        assert_exactly_once(read_jobs(output))
        assert "listed again from the start" in summary
        assert emulator.stats.client_errors >= 1  # InvalidNextTokenException
        restarted = [json.loads(line) for line in checkpoint.read_bytes().splitlines()[1:]]
        assert any(entry.get("restarted") for entry in restarted)

        assert main(argv) == 0
        assert sorted(output.read_text().splitlines()) == expected


# -- the demo ---------------------------------------------------------------------------


def test_demo_exits_0_with_sample_lines_and_a_summary(tmp_path: Path) -> None:
    """`aiopersonalize demo` crawls its embedded emulator with no AWS configuration and
    prints sample JSON Lines and the summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "aiopersonalize", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    samples = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(samples) == 3
    assert all(job["kind"] in KINDS for job in samples)
    assert "jobs: 2400 (1200 inference, 1200 segment) in eu-west-1, us-east-1" in lines
    assert "listings (region x job kind): 4 of 4 complete, 0 failed" in lines


# The default inventory's ~0.5 MB of JSON Lines cannot all fit in a pipe's buffer, so
# the crawl is still writing when the reader has gone.
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=InventorySpec(), seed=7))
def test_closed_stdout_pipe_ends_the_crawl_quietly(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """When the reader of stdout goes away (``crawl | head -1``), the crawl stops with the
    SIGPIPE status and prints no error, traceback or summary."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aiopersonalize", "crawl", "--endpoint-url",
         emulator_in_thread.endpoint_url, "--region", "us-east-1", "--page-size", "5"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does once it has its line
    _, stderr = process.communicate(timeout=30)
    assert json.loads(first)["kind"] in KINDS
    assert process.returncode == 141
    assert stderr == b""


# -- damaged checkpoints ----------------------------------------------------------------


def flip_an_offset(checkpoint: Path, output: Path) -> None:
    """A digit of an entry's offset changed in place: still valid JSON of the right type."""
    header, *entries = checkpoint.read_bytes().splitlines(keepends=True)
    entry = json.loads(entries[2])
    entries[2] = entries[2].replace(
        b'"offset":%d' % entry["offset"], b'"offset":%d' % (entry["offset"] ^ 1)
    )
    checkpoint.write_bytes(b"".join([header, *entries]))


def swap_the_output(checkpoint: Path, output: Path) -> None:
    """The output replaced by the output of another crawl (its jobs in another order)."""
    output.write_bytes(b"".join(reversed(output.read_bytes().splitlines(keepends=True))))


def make_format_1(checkpoint: Path, output: Path) -> None:
    """The journal as aiopersonalize wrote it before format 2: no checksums."""
    header, *entries = [json.loads(line) for line in checkpoint.read_bytes().splitlines()]
    old = [{"aiopersonalize-checkpoint": 1, "params": header["params"]}]
    old += [{k: v for k, v in e.items() if k not in ("crc", "output_crc")} for e in entries]
    checkpoint.write_text("".join(json.dumps(line) + "\n" for line in old))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (flip_an_offset, "checkpoint is damaged at line 4 (checksum mismatch)"),
        (swap_the_output, "jobs.jsonl does not match its checkpoint"),
        (make_format_1, "checkpoint is in format 1, written by aiopersonalize before 1.0"),
    ],
    ids=["flipped-offset-digit", "swapped-output", "format-1"],
)
def test_damaged_checkpoint_exits_2_and_touches_nothing(
    emulator_in_thread: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path, Path], None],
    message: str,
) -> None:
    """Resuming from a damaged checkpoint, a replaced output or a format-1 journal exits 2
    with a message saying what is wrong and to delete the checkpoint and rerun, sends no
    request, and leaves the output and the journal as they were."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "-o", str(output), "--checkpoint", str(checkpoint))
    assert main(argv) == 0
    damage(checkpoint, output)
    before = (output.read_bytes(), checkpoint.read_bytes())
    emulator_in_thread.stats.reset()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aiopersonalize crawl: error: "), err
    assert message in err
    assert "delete the checkpoint and rerun the command to start over" in err
    assert "Traceback" not in err
    assert emulator_in_thread.stats.requests == 0
    assert (output.read_bytes(), checkpoint.read_bytes()) == before


def test_output_zeroed_by_a_power_cut_is_refetched_from_there(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """An output whose last part came back as zeros (a power cut: the journal reached
    the disk, the output's last pages did not) is resumed from the last page whose bytes
    the output still holds: the rerun writes every job exactly once."""
    output, checkpoint = tmp_path / "jobs.jsonl", tmp_path / "crawl.checkpoint"
    argv = crawl_argv(emulator_in_thread, "-o", str(output), "--checkpoint", str(checkpoint))
    assert main(argv) == 0
    whole_crawl = emulator_in_thread.stats.requests
    written = output.read_bytes()
    expected = sorted(written.decode().splitlines())
    kept = len(written) * 2 // 3
    output.write_bytes(written[:kept] + bytes(len(written) - kept))
    emulator_in_thread.stats.reset()
    assert main(argv) == 0
    assert sorted(output.read_text().splitlines()) == expected
    assert_exactly_once(read_jobs(output))
    assert 0 < emulator_in_thread.stats.requests < whole_crawl  # the pages past the damage
