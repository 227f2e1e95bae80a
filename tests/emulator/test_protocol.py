"""The AWS JSON 1.1 wire protocol, seen from a raw HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults

CONTENT_TYPE = "application/x-amz-json-1.1"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def post(
    session: aiohttp.ClientSession, emulator: Emulator, target: str | None, body: bytes = b"{}"
) -> tuple[int, dict[str, Any], Any]:
    headers = {"Content-Type": CONTENT_TYPE}
    if target is not None:
        headers["X-Amz-Target"] = target
    async with session.post(emulator.endpoint_url + "/", headers=headers, data=body) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def test_success_is_json_with_a_request_id(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """An answer is application/x-amz-json-1.1 with an x-amzn-RequestId header."""
    status, headers, body = await post(session, emulator, "AmazonPersonalize.ListDatasetGroups")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE
    assert headers["x-amzn-RequestId"]
    assert "datasetGroups" in body
    assert "nextToken" not in body


async def test_timestamps_are_epoch_seconds_with_milliseconds(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """Timestamps go on the wire as epoch seconds with fractional milliseconds."""
    _, _, body = await post(session, emulator, "AmazonPersonalize.ListBatchInferenceJobs")
    stamps = [job["creationDateTime"] for job in body["batchInferenceJobs"]]
    assert all(isinstance(stamp, float) for stamp in stamps)
    assert any(round(stamp * 1000) % 1000 for stamp in stamps)
    assert all(1.6e9 < stamp < 1.8e9 for stamp in stamps)


@pytest.mark.parametrize(
    ("target", "message_part"),
    [
        ("AmazonPersonalize.ListEverything", "ListEverything"),
        ("AmazonPersonalize.ListFilters", "does not implement"),
        ("DynamoDB_20120810.ListTables", "ListTables"),
        (None, "Unknown operation"),
    ],
)
async def test_unknown_operations(
    emulator: Emulator, session: aiohttp.ClientSession, target: str | None, message_part: str
) -> None:
    """An unknown or unimplemented target answers 400 UnknownOperationException."""
    status, headers, body = await post(session, emulator, target)
    assert status == 400
    assert headers["x-amzn-RequestId"]
    assert body["__type"] == "UnknownOperationException"
    assert message_part in body["message"]
    assert emulator.stats.by_operation["<unknown>"] == 1


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
async def test_malformed_bodies(
    emulator: Emulator, session: aiohttp.ClientSession, body: bytes
) -> None:
    """A body that is not a JSON object answers 400 SerializationException."""
    status, _, answer = await post(session, emulator, "AmazonPersonalize.ListSolutions", body)
    assert status == 400
    assert answer["__type"] == "SerializationException"
    assert set(answer) == {"__type", "message"}


async def test_empty_body_is_an_empty_request(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """An empty body is taken as a request with no members."""
    status, _, body = await post(session, emulator, "AmazonPersonalize.ListSolutions", b"")
    assert status == 200
    assert body["solutions"]


async def test_control_endpoints(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    """Stats, reset and faults are served under /_emulator/, apart from the AWS protocol."""
    await post(session, emulator, "AmazonPersonalize.ListSolutions")
    async with session.get(emulator.endpoint_url + "/_emulator/stats") as response:
        stats = await response.json()
    assert stats["requests"] == 1
    assert stats["by_operation"] == {"ListSolutions": 1}
    faults = Faults(latency=0.0, throttle_rate=1.0, version_latency={"a": 1.0})
    async with session.post(
        emulator.endpoint_url + "/_emulator/faults", json=faults.to_dict()
    ) as response:
        assert response.status == 200
    assert emulator.faults == faults
    async with session.post(
        emulator.endpoint_url + "/_emulator/faults", json={"latency": -1}
    ) as response:
        assert response.status == 400
    async with session.post(
        emulator.endpoint_url + "/_emulator/faults", json={"nope": 1}
    ) as response:
        assert response.status == 400
    async with session.get(emulator.endpoint_url + "/_emulator/faults") as response:
        assert Faults.from_dict(await response.json()) == faults
    async with session.post(emulator.endpoint_url + "/_emulator/reset") as response:
        assert (await response.json())["requests"] == 0
    assert emulator.stats.requests == 0


async def test_other_methods_are_not_the_protocol(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """Only POST / speaks the AWS protocol; other routes are plain HTTP errors and uncounted."""
    async with session.get(emulator.endpoint_url + "/") as response:
        assert response.status == 405
    async with session.post(emulator.endpoint_url + "/elsewhere") as response:
        assert response.status == 404
    assert emulator.stats.requests == 0


async def test_emulator_lifecycle_is_strict() -> None:
    """An emulator starts once, reports its URL only while started, and closes idempotently."""
    emulator = Emulator()
    with pytest.raises(RuntimeError):
        _ = emulator.endpoint_url
    async with emulator:
        assert emulator.endpoint_url == f"http://127.0.0.1:{emulator.port}"
        assert emulator.port != 0
        with pytest.raises(RuntimeError):
            await emulator.start()
    await emulator.aclose()
    with pytest.raises(RuntimeError):
        await emulator.start()


async def test_a_busy_port_fails_to_start(emulator: Emulator) -> None:
    """Binding a port already in use raises OSError and leaves nothing running."""
    with pytest.raises(OSError, match="in use"):
        async with Emulator(EmulatorOptions(port=emulator.port)):
            pass


@pytest.mark.personalize_emulator(EmulatorOptions(host="localhost"))
async def test_localhost_gets_one_port(emulator: Emulator) -> None:
    """Binding 'localhost' with port 0 serves on a single address and URL."""
    async with aiohttp.ClientSession() as session:
        target = {"X-Amz-Target": "AmazonPersonalize.ListDatasetGroups"}
        async with session.post(emulator.endpoint_url, headers=target, data=b"{}") as response:
            assert response.status == 200


async def test_an_emulator_bug_is_an_internal_failure(
    emulator: Emulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error in an operation answers 500 InternalFailure and logs the traceback."""

    def broken(params: dict[str, Any], region: object) -> str:
        raise KeyError("bug")

    service = emulator._service
    service._operations["ListSolutions"] = (broken, service._operations["ListSolutions"][1])
    status, _, body = await post(session, emulator, "AmazonPersonalize.ListSolutions")
    assert (status, body["__type"]) == (500, "InternalFailure")
    assert emulator.stats.server_errors == 1
    assert "KeyError" in caplog.text
