"""SigV4: any credentials by default; with configured keys, signatures are verified."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from multidict import CIMultiDict, CIMultiDictProxy

from aiopersonalize.emulator import Emulator, EmulatorOptions
from aiopersonalize.emulator._auth import SignatureVerifier, parse_authorization
from aiopersonalize.emulator._errors import ServiceError

from ..clients import ACCESS_KEY, SECRET_KEY, Boto, make_client

CREDENTIALS = {ACCESS_KEY: SECRET_KEY}
TARGET = "AmazonPersonalize.ListDatasetGroups"


def signed_request(url: str, body: bytes, *, secret: str = SECRET_KEY) -> AWSRequest:
    """A request signed by botocore itself, as any SDK would sign it."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET},
    )
    SigV4Auth(Credentials(ACCESS_KEY, secret), "personalize", "us-east-1").add_auth(request)
    return request


async def code_of(boto: Boto, operation: str = "list_dataset_groups") -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        await boto(operation)
    response: Any = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


async def test_any_credentials_by_default(emulator: Emulator) -> None:
    """Without configured keys, any signature and no signature at all are accepted."""
    for client in (
        make_client(emulator.endpoint_url, access_key="whatever", secret_key="anything"),
        make_client(emulator.endpoint_url, signed=False),
    ):
        try:
            assert (await Boto(client)("list_dataset_groups"))["datasetGroups"]
        finally:
            client.close()


@pytest.mark.personalize_emulator(EmulatorOptions(credentials=CREDENTIALS))
async def test_valid_signatures_pass(emulator: Emulator) -> None:
    """With configured keys, a request signed with a configured key is served."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        assert (await boto("list_dataset_groups"))["datasetGroups"]
        pages = await boto.pages("list_batch_segment_jobs", PaginationConfig={"PageSize": 100})
    finally:
        client.close()
    assert sum(len(page["batchSegmentJobs"]) for page in pages) == emulator.job_count("segment")


@pytest.mark.parametrize(
    ("client_options", "expected"),
    [
        ({"secret_key": "not-the-secret"}, ("InvalidSignatureException", 400)),
        ({"access_key": "AKIDUNKNOWN"}, ("UnrecognizedClientException", 400)),
        ({"signed": False}, ("MissingAuthenticationTokenException", 403)),
        ({"region": "US-EAST-1"}, ("InvalidSignatureException", 400)),
    ],
)
@pytest.mark.personalize_emulator(EmulatorOptions(credentials=CREDENTIALS))
async def test_bad_credentials_are_refused(
    emulator: Emulator, client_options: dict[str, Any], expected: tuple[str, int]
) -> None:
    """With configured keys, a wrong secret, an unknown key or no signature get AWS's errors."""
    client = make_client(emulator.endpoint_url, **client_options)
    try:
        assert await code_of(Boto(client)) == expected
    finally:
        client.close()
    assert emulator.stats.client_errors == 1


@pytest.mark.personalize_emulator(EmulatorOptions(credentials=CREDENTIALS))
async def test_altered_body_breaks_the_signature(emulator: Emulator) -> None:
    """A body changed after signing answers InvalidSignatureException."""
    async with aiohttp.ClientSession() as session:
        request = signed_request(emulator.endpoint_url + "/", b'{"maxResults": 5}')
        headers = dict(request.headers.items())
        async with session.post(emulator.endpoint_url, headers=headers, data=request.body) as ok:
            assert ok.status == 200
        async with session.post(
            emulator.endpoint_url, headers=headers, data=b'{"maxResults": 6}'
        ) as bad:
            assert bad.status == 400
            assert (await bad.json(content_type=None))["__type"] == "InvalidSignatureException"
        headers["Authorization"] = "AWS4-HMAC-SHA256 nonsense"
        async with session.post(emulator.endpoint_url, headers=headers, data=request.body) as bad:
            assert (await bad.json(content_type=None))["__type"] == "IncompleteSignatureException"


def headers_of(request: AWSRequest) -> CIMultiDictProxy[str]:
    """The headers as the server receives them (the HTTP client adds Host)."""
    return CIMultiDictProxy(CIMultiDict([*request.headers.items(), ("Host", "127.0.0.1:1")]))


async def test_stale_signatures_expire() -> None:
    """A signature made more than 15 minutes from the server's time is refused."""
    request = signed_request("http://127.0.0.1:1/", b"{}")
    headers = headers_of(request)
    authorization = parse_authorization(headers["Authorization"])
    assert authorization is not None
    SignatureVerifier(CREDENTIALS).verify(authorization, "POST", "/", headers, b"{}")
    late = SignatureVerifier(CREDENTIALS, now=lambda: time.time() + 16 * 60)
    with pytest.raises(ServiceError) as exc:
        late.verify(authorization, "POST", "/", headers, b"{}")
    assert exc.value.code == "InvalidSignatureException"
    assert "expired" in exc.value.message


async def test_signature_scope_must_name_the_service() -> None:
    """A signature scoped to another service is refused."""
    request = AWSRequest(method="POST", url="http://127.0.0.1:1/", data=b"{}")
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", "us-east-1").add_auth(request)
    headers = headers_of(request)
    authorization = parse_authorization(headers["Authorization"])
    with pytest.raises(ServiceError) as exc:
        SignatureVerifier(CREDENTIALS).verify(authorization, "POST", "/", headers, b"{}")
    assert exc.value.code == "InvalidSignatureException"
