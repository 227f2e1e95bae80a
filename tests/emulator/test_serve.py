"""``aiopersonalize serve``, ``EmulatorProcess`` and ``EmulatorThread``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from aiopersonalize.cli._main import build_parser, main
from aiopersonalize.emulator import (
    Emulator,
    EmulatorOptions,
    EmulatorProcess,
    EmulatorThread,
    Faults,
    InventorySpec,
)
from aiopersonalize.emulator._server import is_loopback
from aiopersonalize.emulator.serve import emulator_options, to_argv

from ..clients import ACCESS_KEY, SECRET_KEY, Boto, make_client

URL = re.compile(r"http://127\.0\.0\.1:\d+")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_serve_prints_its_url_first_and_exits_cleanly_on_sigint() -> None:
    """`serve --port 0` prints only its URL on its first line, serves, and exits 0 on SIGINT."""
    command = [sys.executable, "-m", "aiopersonalize", "serve", "--port", "0", "--seed", "3",
               "--jobs-per-version", "7", "--dataset-groups", "1"]  # fmt: skip
    async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        stdout = BufferedByteReceiveStream(process.stdout)
        with anyio.fail_after(30):
            line = await stdout.receive_until(b"\n", 1024)
        url = line.decode()
        assert URL.fullmatch(url), url
        client = make_client(url)
        try:
            boto = Boto(client)
            pages = await boto.pages("list_batch_segment_jobs")
            assert sum(len(page["batchSegmentJobs"]) for page in pages) == 7 * 6
        finally:
            client.close()
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await process.wait() == 0
        rest = bytes(stdout.buffer) + b"".join([chunk async for chunk in process.stdout])
        stderr = b"".join([chunk async for chunk in process.stderr])
    assert rest == b""
    assert b"Traceback" not in stderr
    assert b"6 solution versions" in stderr


async def test_emulator_process_serves_and_reports_stats() -> None:
    """EmulatorProcess runs `serve` as a subprocess, exposes stats and faults, stops cleanly."""
    spec = InventorySpec(1, 1, 2, inference_jobs_per_version=3, segment_jobs_per_version=3)
    async with EmulatorProcess(
        EmulatorOptions(inventory=spec, seed=4, credentials={ACCESS_KEY: SECRET_KEY})
    ) as process:
        assert URL.fullmatch(process.endpoint_url)
        assert SECRET_KEY not in " ".join(process.command)
        client = make_client(process.endpoint_url)
        try:
            boto = Boto(client)
            assert len((await boto("list_batch_inference_jobs"))["batchInferenceJobs"]) == 6
            await boto("list_dataset_groups")
            stats = await process.stats()
            assert stats["requests"] == 2
            assert stats["by_operation"] == {"ListBatchInferenceJobs": 1, "ListDatasetGroups": 1}
            await process.reset()
            assert (await process.stats())["requests"] == 0
            await process.set_faults(Faults(throttle_rate=1.0))
            assert (await process.faults()).throttle_rate == 1.0
            with pytest.raises(Exception, match="ThrottlingException"):
                await boto("list_dataset_groups")
            assert (await process.stats())["throttled"] == 1
            wrong = make_client(process.endpoint_url, secret_key="wrong")
            try:
                with pytest.raises(Exception, match="InvalidSignatureException"):
                    await Boto(wrong)("list_dataset_groups")
            finally:
                wrong.close()
        finally:
            client.close()
    assert process.returncode == 0


async def test_emulator_process_stops_when_its_parent_goes() -> None:
    """The served child exits by itself once its stdin (held by the parent) closes."""
    process = EmulatorProcess(EmulatorOptions(inventory=InventorySpec.empty()))
    await process.start()
    try:
        child = process._process
        assert child is not None
        assert child.stdin is not None
        await child.stdin.aclose()
        with anyio.fail_after(10):
            assert await child.wait() == 0
    finally:
        await process.aclose()
    assert process.returncode == 0


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=InventorySpec.empty()))
async def test_emulator_process_reports_a_failed_start(emulator: Emulator) -> None:
    """A serve command that cannot bind its port raises RuntimeError with its exit status."""
    process = EmulatorProcess(EmulatorOptions(port=emulator.port))
    with pytest.raises(RuntimeError, match="exit status 1"):
        await process.start()
    await process.aclose()


async def test_options_round_trip_through_the_command_line() -> None:
    """EmulatorProcess's command line parses back into the same emulator settings."""
    spec = InventorySpec(
        3, 1, 4, inference_jobs_per_version=11, segment_jobs_per_version=0, failed_fraction=0.25
    )
    faults = Faults(
        latency=0.01,
        latency_jitter=0.02,
        throttle_rate=0.1,
        error_rate=0.2,
        max_rps=50.5,
        burst=7,
        deny_solution_versions=frozenset({"arn:aws:personalize:r:1:solution/a/b"}),
        version_latency={"arn:aws:personalize:r:1:solution/a/c": 0.5},
    )
    argv = to_argv(
        EmulatorOptions(
            inventory=spec,
            seed=8,
            faults=faults,
            host="127.0.0.1",
            port=0,
            job_transition_seconds=1.5,
        )
    )
    args = build_parser(only="serve").parse_args(["serve", *argv])
    environ = {
        "AIOPERSONALIZE_EMULATOR_CREDENTIALS": "A:a,B:b",
        "AIOPERSONALIZE_EMULATOR_TOKEN_SECRET": "s",
    }
    options = emulator_options(args, environ)
    assert options == EmulatorOptions(
        inventory=spec,
        seed=8,
        faults=faults,
        host="127.0.0.1",
        port=0,
        credentials={"A": "a", "B": "b"},
        job_transition_seconds=1.5,
        token_secret=b"s",
    )


async def test_serve_options() -> None:
    """`--empty`, `--jobs-per-version` and `--credentials` shape the emulator; bad values fail."""
    parser = build_parser(only="serve")
    empty = emulator_options(parser.parse_args(["serve", "--empty"]), {})
    assert empty.inventory == InventorySpec.empty()
    assert empty.credentials is None
    sized = emulator_options(
        parser.parse_args(["serve", "--jobs-per-version", "0", "--credentials", "K:S"]), {}
    )
    assert sized.inventory.inference_jobs_per_version == 0
    assert sized.inventory.segment_jobs_per_version == 0
    assert sized.credentials == {"K": "S"}
    for bad in (["--port", "70000"], ["--throttle-rate", "2"], ["--credentials", "no-colon"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", *bad])


async def test_cli_without_a_command_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`aiopersonalize` alone prints its usage and exits 2."""
    assert main([]) == 2
    assert "serve" in capsys.readouterr().err


async def test_loopback_detection() -> None:
    """Only loopback addresses count as loopback (others get a warning from serve)."""
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.0.2.1")
    assert not is_loopback("example.com")


async def test_emulator_thread_serves_synchronous_code() -> None:
    """EmulatorThread serves from its own loop, for blocking clients, and stops on exit."""

    def scenario() -> tuple[int, int]:
        with EmulatorThread(EmulatorOptions(inventory=InventorySpec(1, 1, 1, 5, 5))) as emulator:
            client = make_client(emulator.endpoint_url)
            try:
                jobs = client.list_batch_inference_jobs()["batchInferenceJobs"]
            finally:
                client.close()
            return len(jobs), emulator.stats.requests

    assert await anyio.to_thread.run_sync(scenario) == (5, 1)
