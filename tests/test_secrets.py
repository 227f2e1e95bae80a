"""Credentials never exposed: not in reprs, error messages, tracebacks, botocore's DEBUG
logs or the crawl command's output; and the emulator listens on loopback by default.

Each test hunts for the exact values of distinctive credentials (an access key id, a
secret key, a session token), over real HTTP through the real aiobotocore client, and
checks that where a credential would have been, ``<redacted>`` is (so that no test
passes because nothing was written).
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import psutil
import pytest
from aiobotocore.session import get_session
from anyio.streams.buffered import BufferedByteReceiveStream
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aiopersonalize import AccessDeniedError, Client, ListingFailure, Organization
from aiopersonalize._redact import LOGGERS, REDACTED, RedactingFilter, install, redact
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec, account_ids

from .helpers import exception_texts, run_cli
from .peers import JOB_ARN, Reply, connected, error

KEY_ID = "AKIDSECRETSUITE01"
UNKNOWN_KEY_ID = "AKIDSECRETSUITE02"
SECRET_KEY = "secret-suite-key/xyz+abc"
TOKEN = "session-token-suite-Zm9v/YmFy+cXV4=="
SECRETS = (KEY_ID, UNKNOWN_KEY_ID, SECRET_KEY, TOKEN)
CREDENTIALS: dict[str, Any] = {
    "aws_access_key_id": KEY_ID,
    "aws_secret_access_key": SECRET_KEY,
    "aws_session_token": TOKEN,
    "region_name": "us-east-1",
    "retry_mode": "standard",
    "max_attempts": 1,
}
# The same, for an aiobotocore client of the test's own.
CREDENTIALS_OF_BOTOCORE = {
    k: CREDENTIALS[k]
    for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region_name")
}
# What the emulator verifies signatures against: KEY_ID's secret is not SECRET_KEY.
VERIFYING = {KEY_ID: "the-right-secret"}
SMALL = InventorySpec(
    dataset_groups=1,
    solutions_per_dataset_group=1,
    versions_per_solution=2,
    inference_jobs_per_version=7,
    segment_jobs_per_version=4,
)
CANONICAL = "The Canonical String for this request should have been\n'"
STRING_TO_SIGN = "The String-to-Sign should have been\n'"


def assert_clean(texts: Iterable[str]) -> None:
    """No credential, in any text."""
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


def error_texts(exc: BaseException) -> list[str]:
    """``str``/``repr`` of an exception and of what it chains to, and its traceback."""
    return [*exception_texts(exc), "".join(traceback.format_exception(exc))]


# -- redact() ---------------------------------------------------------------------------

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_TOKENS = st.text(_BASE64, min_size=1, max_size=80).map(lambda v: "TOK" + v)
_KEY_IDS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=1, max_size=20).map(
    lambda v: "AKID" + v
)
_SECRET_KEYS = _TOKENS.map(lambda v: "SEC" + v[3:])
_SIGNATURES = st.text("0123456789abcdef", min_size=64, max_size=64)

# Every form a session token is written in, by botocore or AWS; each keeps the text
# after the value, which must survive redaction.
TOKEN_FORMS = (
    lambda v: f"x-amz-security-token:{v}\nx-amz-target:AmazonPersonalize.X\n",
    lambda v: f"headers={{'X-Amz-Security-Token': b'{v}', 'Authorization': b'AWS4'}}",
    lambda v: f"https://h/?X-Amz-Date=1&X-Amz-Security-Token={v}&X-Amz-Expires=60",
    lambda v: f'{{"x-amz-security-token": "{v}", "n": 1}}',
    lambda v: repr(f"date:1\nX-AMZ-SECURITY-TOKEN:{v}\nx-amz-target:T\n".encode()),
    lambda v: f"AWS_SESSION_TOKEN={v} python -m x",
    lambda v: f"aws_session_token = {v}\nregion = us-east-1",
)
KEY_ID_FORMS = (
    lambda v: f"AWS4-HMAC-SHA256 Credential={v}/20240101/us-east-1/personalize/aws4_request, ",
    lambda v: f"?X-Amz-Credential={v}%2F20240101%2Fus-east-1%2Fpersonalize%2Faws4_request&",
    lambda v: f"aws_access_key_id={v}\n",
    lambda v: f"'AWS_ACCESS_KEY_ID': '{v}', ",
)
SECRET_KEY_FORMS = (
    lambda v: f"aws_secret_access_key = {v}\n",
    lambda v: f"AWS_SECRET_ACCESS_KEY={v} ",
    lambda v: f"{{'aws_secret_access_key': '{v}'}}",
)


@settings(max_examples=40, deadline=None)
@given(case=st.tuples(_TOKENS, _KEY_IDS, _SECRET_KEYS, _SIGNATURES))
async def test_redact_replaces_every_written_form_of_a_credential(
    case: tuple[str, str, str, str],
) -> None:
    """Each form of a session token, access key id, secret key or signature that botocore
    or AWS writes has its value replaced by <redacted>, and only its value."""
    token, key_id, secret_key, signature = case
    for forms, value in ((TOKEN_FORMS, token), (KEY_ID_FORMS, key_id),
                         (SECRET_KEY_FORMS, secret_key)):  # fmt: skip
        for form in forms:
            assert redact(form(value)) == form(REDACTED)
    text = f"SignedHeaders=host;x-amz-date, Signature={signature}"
    assert redact(text) == f"SignedHeaders=host;x-amz-date, Signature={REDACTED}"


@settings(max_examples=40, deadline=None)
@given(text=st.text())
async def test_redact_returns_text_without_credentials_as_it_is(text: str) -> None:
    """Text that names no credential comes back unchanged, as the very same object (the
    cheap path)."""
    lowered = text.lower()
    assume(not any(m in lowered for m in ("security-token", "aws_", "credential=", "signature=")))
    assert redact(text) is text


async def test_the_log_filter_is_installed_once_on_each_logger_that_logs_requests() -> None:
    """Making a client, and installing again, leaves exactly one redacting filter on each
    logger that logs signed requests; it never drops a record."""
    Client(**CREDENTIALS)
    install()
    install()
    for name in LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, RedactingFilter) for f in filters) == 1
    record = logging.LogRecord("botocore.auth", logging.DEBUG, __file__, 1,
                               "CanonicalRequest:\n%s", (f"x-amz-security-token:{TOKEN}",), None)  # fmt: skip
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"CanonicalRequest:\nx-amz-security-token:{REDACTED}"


# -- reprs ------------------------------------------------------------------------------


async def test_reprs_carry_no_credentials() -> None:
    """The reprs and strs of a client (made with explicit credentials: unopened, open,
    closed; and wrapped), of listings, merged listings, pages, records, described jobs
    and listing failures name no credential."""
    texts: list[str] = []
    # Two emulators in turn, the second verifying signatures: constructed here.
    async with Emulator(EmulatorOptions(inventory=SMALL)) as emu:
        versions = emu.solution_version_arns()
        client = Client(endpoint_url=emu.endpoint_url, **CREDENTIALS)
        texts += [repr(client), str(client)]
        async with client:
            texts += [repr(client), str(client)]
            listing = client.list_batch_inference_jobs(versions[0], page_size=3)
            texts.append(repr(listing))
            async for page in listing.pages():
                texts += [repr(page), str(page), *map(repr, page.items)]
            texts.append(repr(listing))
            merged = client.list_batch_segment_jobs_many(versions, page_size=3)
            texts.append(repr(merged))
            jobs = await merged.collect()
            texts += [repr(merged), repr(merged.progress), *map(repr, jobs)]
            described = await client.describe_batch_segment_job(jobs[0].batch_segment_job_arn)
            texts += [repr(described), str(described)]
        texts += [repr(client), str(client)]

        session = get_session()
        async with session.create_client("personalize", endpoint_url=emu.endpoint_url,
                                         **CREDENTIALS_OF_BOTOCORE) as owned:  # fmt: skip
            wrapped = Client.wrap(owned)
            async with wrapped:
                texts.append(repr(wrapped))
                assert len(await wrapped.list_batch_inference_jobs().collect()) == 14
            texts.append(repr(wrapped))

    async with (
        Emulator(EmulatorOptions(inventory=SMALL, credentials=VERIFYING)) as emu,
        Client(endpoint_url=emu.endpoint_url, **CREDENTIALS) as client,
    ):
        merged = client.list_batch_inference_jobs_many(emu.solution_version_arns(), on_error="skip")
        assert await merged.collect() == []
    failures: list[ListingFailure] = list(merged.failures)
    assert len(failures) == 2
    for failure in failures:
        assert isinstance(failure.error, AccessDeniedError)
        assert failure.error.code == "InvalidSignatureException"
        assert f"x-amz-security-token:{REDACTED}" in repr(failure)
        texts += [repr(failure), str(failure), *error_texts(failure.error)]
    assert_clean(texts)


async def test_a_client_repr_leaves_out_the_endpoints_user_and_password() -> None:
    """A client's repr shows its endpoint without the ``user:password@`` an endpoint URL
    may carry."""
    client = Client(endpoint_url="http://admin:hunter2@127.0.0.1:8686/", region_name="us-east-1")
    assert "hunter2" not in repr(client)
    assert "admin" not in repr(client)
    assert "'http://127.0.0.1:8686/'" in repr(client)
    await client.aclose()


# -- logs -------------------------------------------------------------------------------


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record formatted, its message, and its arguments."""
    texts = [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), str(record.args)]
    return texts


async def test_botocore_debug_logs_carry_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG, a listing, a merged listing, a describe, a crawl and
    rejected signatures (wrong secret, unknown key) log no credential: botocore's records
    of signed requests and echoed canonical requests say <redacted> instead, and only the
    loggers the filter is on needed it."""
    caplog.set_level(logging.DEBUG)
    # Two emulators in turn, the second verifying signatures: constructed here.
    async with (
        Emulator(EmulatorOptions(inventory=SMALL)) as emu,
        Client(endpoint_url=emu.endpoint_url, **CREDENTIALS) as client,
    ):
        versions = emu.solution_version_arns()
        jobs = await client.list_batch_inference_jobs(versions[0], page_size=3).collect()
        assert len(jobs) == 7
        merged = client.list_batch_segment_jobs_many(versions, page_size=3)
        assert len(await merged.collect()) == 8
        await client.describe_batch_inference_job(jobs[0].batch_inference_job_arn)
        assert len(await client.crawl_batch_jobs(page_size=3).collect()) == 22
    async with Emulator(EmulatorOptions(inventory=SMALL, credentials=VERIFYING)) as emu:
        for key_id in (KEY_ID, UNKNOWN_KEY_ID):
            options = {**CREDENTIALS, "aws_access_key_id": key_id}
            async with Client(endpoint_url=emu.endpoint_url, **options) as client:
                with pytest.raises(AccessDeniedError):
                    await client.list_batch_inference_jobs().collect()
    assert_clean(log_texts(caplog))
    text = caplog.text
    assert f"x-amz-security-token:{REDACTED}\n" in text  # botocore.auth: canonical request
    assert f"'X-Amz-Security-Token': b'{REDACTED}'" in text  # botocore.endpoint: headers
    assert f"Credential={REDACTED}/" in text
    assert f"Signature={REDACTED}" in text
    assert f"x-amz-security-token:{REDACTED}\\\\n" in text  # botocore.parsers: AWS's echo
    redacted_by = {r.name for r in caplog.records if REDACTED in r.getMessage()}
    assert redacted_by == set(LOGGERS)


def issued_credentials(emulator: Emulator) -> list[str]:
    """Every access key, secret key and session token the emulator's AssumeRole issued."""
    issued = emulator._service.identity._issued.values()
    return [value for c in issued for value in (c.access_key, c.secret, c.token)]


@pytest.mark.personalize_emulator(
    EmulatorOptions(
        inventory=SMALL,
        accounts=3,
        assume_role_denied_accounts=frozenset({account_ids(3)[2]}),
        deny_regions=frozenset({"eu-west-1"}),
        credential_lifetime=1.0,
        faults=Faults(latency=0.05),
    )
)
async def test_assumed_role_credentials_are_in_no_log_repr_or_error(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An organization crawl whose roles' credentials expire and are assumed again
    mid-crawl, with every logger at DEBUG, shows none of the issued access keys, secret
    keys or session tokens in any log record (STS's answers logged <redacted>), repr,
    failure or error; nor the suite's own credentials."""
    caplog.set_level(logging.DEBUG)
    async with Client(endpoint_url=emulator.endpoint_url, **CREDENTIALS) as client:
        listing = client.crawl_batch_jobs(
            accounts=Organization("Inventory"),
            regions=["us-east-1", "eu-west-1"],
            page_size=3,
            concurrency=1,
            on_error="skip",
        )
        jobs = await listing.collect()
        texts = [repr(client), repr(listing), repr(listing.failures), repr(listing.progress)]
        for failure in listing.failures:
            texts += error_texts(failure.error)
    assert len(jobs) == 22 * 3  # the management account's two regions, a member's one
    assert len(listing.failures) == 2  # the refused role; the member's denied region
    secrets = issued_credentials(emulator)
    assert len(secrets) >= 3 * 3  # refreshed mid-crawl: more than one per member
    texts += log_texts(caplog)
    assert_clean(texts)
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert f"<SecretAccessKey>{REDACTED}</SecretAccessKey>" in caplog.text
    assert f"<SessionToken>{REDACTED}</SessionToken>" in caplog.text


# -- error messages ---------------------------------------------------------------------


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, credentials=VERIFYING))
async def test_a_wrong_secret_key_raises_an_error_with_the_canonical_string_redacted(
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request signed with the wrong secret (and a session token) is answered, as AWS
    does, with the canonical request and string to sign expected; the AccessDeniedError,
    its botocore cause and its traceback keep them, with the token and key redacted, and
    the canonical request is the very one the client signed."""
    caplog.set_level(logging.DEBUG, logger="botocore.auth")
    async with Client(endpoint_url=emulator.endpoint_url, **CREDENTIALS) as client:
        with pytest.raises(AccessDeniedError) as listed:
            await client.list_batch_inference_jobs().collect()
        with pytest.raises(AccessDeniedError) as described:
            await client.describe_batch_inference_job(JOB_ARN.format("x"))
    for exc in (listed.value, described.value):
        assert exc.code == "InvalidSignatureException"
        assert exc.message.startswith("The request signature we calculated does not match")
        assert CANONICAL in exc.message
        assert STRING_TO_SIGN in exc.message
        assert f"x-amz-security-token:{REDACTED}\n" in exc.message
        assert f"x-amz-security-token:{REDACTED}" in str(exc.__cause__)
        cause: Any = exc.__cause__
        assert f":{REDACTED}" in cause.response["Error"]["Message"]
        assert_clean([*error_texts(exc), cause.response["Error"]["Message"]])
    expected = listed.value.message.split(CANONICAL)[1].split("'")[0]
    signed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Canonical")]
    assert f"CanonicalRequest:\n{expected}" in signed


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, credentials=VERIFYING))
async def test_an_unknown_access_key_raises_an_error_naming_no_credential(
    emulator: Emulator,
) -> None:
    """A request from an access key the service does not know (with a session token)
    raises AccessDeniedError (UnrecognizedClientException) naming no credential."""
    options = {**CREDENTIALS, "aws_access_key_id": UNKNOWN_KEY_ID}
    async with Client(endpoint_url=emulator.endpoint_url, **options) as client:
        with pytest.raises(AccessDeniedError) as info:
            await client.list_batch_inference_jobs().collect()
    assert info.value.code == "UnrecognizedClientException"
    assert "security token included in the request is invalid" in str(info.value)
    assert_clean(error_texts(info.value))


async def test_an_error_echoing_the_signed_headers_is_redacted() -> None:
    """A service error whose message echoes the request's Authorization and session-token
    headers (as IncompleteSignatureException echoes Authorization) raises an
    AccessDeniedError, and a traceback, with the key id, signature and token redacted."""

    def echo(_: dict[str, Any]) -> Reply:
        headers = peer.headers[-1]
        message = (
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters of AWS4-HMAC-SHA256. Authorization={headers['Authorization']} "
            f"X-Amz-Security-Token={headers['X-Amz-Security-Token']}"
        )
        return error("IncompleteSignatureException", message)

    async with connected([echo], **CREDENTIALS) as (peer, client):
        with pytest.raises(AccessDeniedError) as info:
            await client.list_batch_inference_jobs().collect()
    assert KEY_ID in peer.headers[0]["Authorization"]  # it was sent, and echoed
    assert info.value.code == "IncompleteSignatureException"
    message = info.value.message
    assert f"Credential={REDACTED}/" in message
    assert f"Signature={REDACTED}" in message
    assert f"X-Amz-Security-Token={REDACTED}" in message
    assert_clean(error_texts(info.value))


# -- the crawl command ------------------------------------------------------------------


@pytest.fixture
def credentials_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's credentials, with a session token, for the crawl subprocess."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)


def crawl(emu: Emulator, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    argv = ["crawl", "--endpoint-url", emu.endpoint_url, "--page-size", "3",
            "--max-attempts", "1", *options]  # fmt: skip
    return run_cli(argv, cwd)


@pytest.mark.usefixtures("credentials_in_environment")
@pytest.mark.parametrize("on_error", ["raise", "skip"])
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, credentials=VERIFYING))
async def test_a_rejected_crawl_prints_the_error_and_no_credential(
    emulator: Emulator, tmp_path: Path, on_error: str
) -> None:
    """`aiopersonalize crawl` signed with a wrong secret (and a session token) exits 1,
    naming the error class and code on stderr, and prints no credential (with
    --on-error raise, the message with its canonical string, redacted)."""
    result = await anyio.to_thread.run_sync(crawl, emulator, tmp_path, "--on-error", on_error)
    assert result.returncode == 1, result.stderr
    assert "AccessDeniedError (InvalidSignatureException)" in result.stderr
    if on_error == "raise":
        assert f"x-amz-security-token:{REDACTED}" in result.stderr
    assert_clean([result.stdout, result.stderr])


@pytest.mark.usefixtures("credentials_in_environment")
@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, credentials={KEY_ID: SECRET_KEY})
)
async def test_a_successful_crawl_prints_no_credential(emulator: Emulator, tmp_path: Path) -> None:
    """`aiopersonalize crawl` with verified credentials and a session token lists every
    job, exit 0, and prints no credential."""
    result = await anyio.to_thread.run_sync(crawl, emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 22
    assert_clean([result.stdout, result.stderr])


# -- the emulator on loopback -----------------------------------------------------------


def listening_addresses(process: psutil.Process, port: int) -> list[str]:
    return [
        c.laddr.ip
        for c in process.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    ]


async def test_the_emulator_listens_on_loopback_by_default() -> None:
    """Emulator() serves at http://127.0.0.1:PORT, and its only listening socket is bound
    to a loopback address."""
    # Constructed here: what is tested is Emulator's own default address.
    async with Emulator(EmulatorOptions(inventory=InventorySpec.empty())) as emu:
        url = urlsplit(emu.endpoint_url)
        assert url.hostname == "127.0.0.1"
        assert url.port == emu.port
        addresses = listening_addresses(psutil.Process(), emu.port)
    assert len(addresses) == 1
    assert ipaddress.ip_address(addresses[0]).is_loopback


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_serve_listens_on_loopback_by_default_and_warns_otherwise() -> None:
    """`aiopersonalize serve --port 0` prints a loopback URL and listens on loopback only,
    with no warning; asked to bind a non-loopback address, it warns that the emulator
    would be exposed (here the address is not this machine's, so it then fails)."""
    command = [sys.executable, "-m", "aiopersonalize", "serve", "--port", "0", "--empty"]
    async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        with anyio.fail_after(30):
            line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 1024)
        url = urlsplit(line.decode())
        assert url.hostname == "127.0.0.1"
        assert url.port is not None
        addresses = listening_addresses(psutil.Process(process.pid), url.port)
        process.terminate()
        with anyio.fail_after(10):
            assert await process.wait() == 0
        stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert addresses == ["127.0.0.1"]
    assert "warning" not in stderr

    elsewhere = [*command, "--host", "192.0.2.1"]  # TEST-NET-1: no machine's address
    result = await anyio.run_process(elsewhere, stdin=subprocess.DEVNULL, check=False)
    stderr = result.stderr.decode()
    assert "warning: binding 192.0.2.1 exposes the emulator beyond this machine" in stderr
    assert "accepts any credentials" in stderr
    assert result.returncode == 1
    assert "error:" in stderr
