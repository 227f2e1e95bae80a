"""The first hour on a machine with no AWS configuration: no credentials, no region, no
config files, as a new user has.

The library, the ``crawl`` command, the exports ``serve`` prints and the commands the
demo prints all work against a local emulator as they are; a real endpoint still needs
real credentials. Each test gets an environment without any ``AWS_*`` variable and a
``HOME`` with nothing in it (only instance metadata stays disabled, so that no test
reaches for the network).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from aiopersonalize import Client, ConfigurationError
from aiopersonalize.emulator import Emulator, EmulatorOptions, InventorySpec
from aiopersonalize.emulator.serve import exports

SMALL = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=1,
    versions_per_solution=2,
    inference_jobs_per_version=3,
    segment_jobs_per_version=2,
)
pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"),
    pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL)),
]


def bare_environment(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with no AWS variable, an empty ``HOME``, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


@pytest.fixture
def no_aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process without AWS configuration (for in-process clients)."""
    home = tmp_path / "home"
    home.mkdir()
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "aiopersonalize", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.usefixtures("no_aws_config")
async def test_a_client_of_a_local_endpoint_signs_with_dummy_keys_and_says_so_once(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """With no credentials anywhere, a client aimed at 127.0.0.1 lists (in two regions)
    with dummy keys, and logs that once."""
    caplog.set_level(logging.INFO, logger="aiopersonalize")
    async with Client(endpoint_url=emulator.endpoint_url, region_name="us-east-1") as client:
        jobs = await client.crawl_batch_jobs(regions=["us-east-1", "eu-west-1"]).collect()
    assert len(jobs) == 2 * 2 * (3 + 2)
    told = [r for r in caplog.records if "dummy keys" in r.getMessage()]
    assert len(told) == 1
    assert told[0].getMessage() == (
        "no AWS credentials are configured; signing requests to the local endpoint "
        f"{emulator.endpoint_url} with dummy keys"
    )


@pytest.mark.usefixtures("no_aws_config")
async def test_localhost_is_local_too(emulator: Emulator) -> None:
    """``localhost`` counts as a local endpoint like 127.0.0.1."""
    url = emulator.endpoint_url.replace("127.0.0.1", "localhost")
    async with Client(endpoint_url=url, region_name="us-east-1") as client:
        assert len(await client.list_batch_segment_jobs().collect()) == 2 * 2


@pytest.mark.usefixtures("no_aws_config")
async def test_a_real_endpoint_still_needs_credentials_and_sends_nothing() -> None:
    """Without credentials, a client of a non-local endpoint fails with a
    ConfigurationError naming credentials, before sending anything; its counters stay
    at zero (no negative retries)."""
    async with Client(region_name="us-east-1") as client:
        with pytest.raises(ConfigurationError, match="Unable to locate credentials") as raised:
            await client.list_batch_inference_jobs().collect()
        assert raised.value.setting == "credentials"
        stats = client.stats
    assert (stats.calls, stats.requests, stats.retries) == (0, 0, 0)


@pytest.mark.usefixtures("no_aws_config")
@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, credentials={"AKIDGIVEN": "given-secret"})
)
async def test_explicit_keys_win_over_the_fallback(emulator: Emulator) -> None:
    """Keys given to the client are the ones used against a local endpoint too: an
    emulator that checks signatures refuses other keys."""
    async with Client(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDGIVEN",
        aws_secret_access_key="given-secret",
    ) as client:
        assert len(await client.list_batch_inference_jobs().collect()) == 2 * 3


@pytest.mark.usefixtures("no_aws_config")
async def test_an_explicit_profile_is_not_replaced_by_dummy_keys(emulator: Emulator) -> None:
    """A profile given to the client that does not exist is an error, even against a
    local endpoint: an explicit choice is never papered over."""
    client = Client(
        endpoint_url=emulator.endpoint_url, region_name="us-east-1", profile_name="missing"
    )
    with pytest.raises(ConfigurationError, match=r"profile \(missing\)") as raised:
        async with client:
            pass
    assert raised.value.setting == "profile"
    assert emulator.stats.requests == 0


def test_the_crawl_command_of_a_local_endpoint_needs_no_configuration(
    emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """``aiopersonalize crawl --endpoint-url http://127.0.0.1:… --region …`` with no AWS
    configuration writes every job and exits 0."""
    output = tmp_path / "jobs.jsonl"
    argv = ["crawl", "--endpoint-url", emulator_in_thread.endpoint_url, "--region", "us-east-1"]
    done = run([*argv, "-o", str(output)], bare_environment(tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(output.read_text().splitlines()) == 2 * (3 + 2)


def test_serve_prints_exports_that_work_as_printed(tmp_path: Path) -> None:
    """The exports ``serve`` prints on stderr are all ``crawl`` needs: with just them, in an
    environment with no AWS configuration, it crawls the emulator (no --endpoint-url,
    no --region)."""
    command = [sys.executable, "-m", "aiopersonalize", "serve", "--port", "0",
               "--dataset-groups", "1", "--jobs-per-version", "2"]  # fmt: skip
    env = bare_environment(tmp_path)
    with subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as server:  # fmt: skip
        try:
            assert server.stdout is not None
            assert server.stderr is not None
            url = server.stdout.readline().strip()
            lines = [server.stderr.readline() for _ in range(5)]
            exported: dict[str, str] = {}
            for line in lines:
                words = shlex.split(line, comments=True)
                if words[:1] == ["export"]:
                    exported.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
            assert exported["AWS_ENDPOINT_URL_PERSONALIZE"] == url
            assert set(exported) == {
                "AWS_ENDPOINT_URL_PERSONALIZE",
                "AWS_DEFAULT_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            }
            output = tmp_path / "jobs.jsonl"
            done = run(["crawl", "-o", str(output)], {**env, **exported}, tmp_path)
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    jobs = [json.loads(line) for line in output.read_text().splitlines()]
    assert {job["region"] for job in jobs} == {exported["AWS_DEFAULT_REGION"]}
    assert len(jobs) > 0


def test_the_demos_commands_work_as_printed(tmp_path: Path) -> None:
    """The two commands the demo prints (serve an emulator, crawl it) give, run in an
    environment with no AWS configuration, the crawl the demo showed: the same jobs."""
    env = bare_environment(tmp_path)
    demo = run(["demo"], env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    printed = [
        shlex.split(line)
        for line in demo.stdout.splitlines()
        if line.startswith("  aiopersonalize ")
    ]
    serve, crawl = printed
    assert serve[:2] == ["aiopersonalize", "serve"]
    assert crawl[:2] == ["aiopersonalize", "crawl"]
    printed_url = crawl[crawl.index("--endpoint-url") + 1]
    # As printed, but on a free port (8686 may be taken on a test machine); the crawl is
    # pointed there in turn.
    with subprocess.Popen(
        [sys.executable, "-m", "aiopersonalize", *serve[1:], "--port", "0"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    ) as server:  # fmt: skip
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            assert printed_url.rsplit(":", 1)[0] == url.rsplit(":", 1)[0]
            argv = [url if word == printed_url else word for word in crawl[1:]]
            done = run(argv, env, tmp_path)
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    jobs_line = re.compile(r"jobs: \d+ \(.*\) in .*")
    shown = [line for line in demo.stdout.splitlines() if jobs_line.fullmatch(line)]
    crawled = [line for line in done.stderr.splitlines() if jobs_line.fullmatch(line)]
    assert shown == crawled
    assert len(shown) == 1
    assert (tmp_path / "jobs.jsonl").exists()


def test_serve_never_prints_a_secret_of_its_credentials() -> None:
    """With ``--credentials``, the exports ``serve`` prints name the key pair to use but
    show neither its id nor its secret."""
    options = EmulatorOptions(credentials={"AKIDSERVED": "served-secret"})
    lines = exports("http://127.0.0.1:8686", options)
    text = "\n".join(lines)
    assert "served-secret" not in text
    assert "AKIDSERVED" not in text
    assert "export AWS_ACCESS_KEY_ID=KEY_ID AWS_SECRET_ACCESS_KEY=SECRET" in text
