"""The client's lifecycle and configuration: opening, closing, wrapping an aiobotocore
client, pool sizing, retry settings, and keeping secrets out of reprs, errors and logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.config import Config

from aiopersonalize import (
    AccessDeniedError,
    Client,
    ClientClosedError,
    ParamValidationError,
    PersonalizeError,
    ResponseError,
    ServiceError,
    TransportError,
    UsageError,
)
from aiopersonalize._transport import TransportOptions
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import exception_texts, unused_port, wait_no_producers
from ..peers import (
    HANG,
    JOB_ARN,
    VERSION_ARN,
    Peer,
    Reply,
    connected,
    error,
    inference_page,
    inference_pages,
    scripted_peer,
)

# What botocore's attempts do, alone: no page asked again by us (test_rate.py).
NO_RETRY: dict[str, Any] = {"retry_mode": "standard", "max_attempts": 1, "page_retry_window": 0}


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with scripted_peer(inference_pages(2)) as p:
        yield p


# -- lifecycle --------------------------------------------------------------------------


async def test_async_with_opens_the_client_and_closes_it_on_exit(peer: Peer) -> None:
    """``async with`` opens the client, which then serves a listing, and closes it on exit."""
    client = Client(endpoint_url=peer.endpoint_url)
    assert "[unopened]" in repr(client)
    async with client as entered:
        assert entered is client
        assert "[open]" in repr(client)
        jobs = await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert len(jobs) == 4
    assert "[closed]" in repr(client)


async def test_aclose_twice_is_fine(peer: Peer) -> None:
    """Calling ``aclose()`` again on a closed client does nothing and raises nothing."""
    async with Client(endpoint_url=peer.endpoint_url) as client:
        await client.aclose()
    await client.aclose()
    assert "[closed]" in repr(client)


@pytest.mark.parametrize("opened", [True, False], ids=["opened", "never-opened"])
async def test_a_closed_client_refuses_every_use_and_sends_nothing(
    peer: Peer, opened: bool
) -> None:
    """After ``aclose()`` (opened or not) a listing, a describe and re-entering raise
    ClientClosedError, a RuntimeError, and no request reaches the peer."""
    client = Client(endpoint_url=peer.endpoint_url)
    if opened:
        async with client:
            pass
    else:
        await client.aclose()
    with pytest.raises(ClientClosedError) as info:
        client.list_batch_inference_jobs(VERSION_ARN)
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(ClientClosedError):
        client.list_batch_segment_jobs()
    with pytest.raises(ClientClosedError):
        await client.describe_batch_inference_job(JOB_ARN.format("x"))
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert peer.received.value == 0


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_a_listing_made_before_close_and_iterated_after_raises_client_closed(
    peer: Peer, prefetch: int
) -> None:
    """A listing created while the client was open but first iterated after ``aclose()``
    raises ClientClosedError and sends nothing."""
    async with Client(endpoint_url=peer.endpoint_url) as client:
        listing = client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch)
    with pytest.raises(ClientClosedError):
        await listing.collect()
    assert peer.received.value == 0


async def test_entering_an_open_client_again_raises_usage_error(peer: Peer) -> None:
    """Entering a client that is already open raises UsageError (a RuntimeError) and leaves
    the client open and usable."""
    async with Client(endpoint_url=peer.endpoint_url) as client:
        with pytest.raises(UsageError) as info:
            async with client:
                pass
        assert isinstance(info.value, RuntimeError)
        assert "[open]" in repr(client)
        jobs = await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert len(jobs) == 4


async def test_a_given_aiobotocore_session_is_the_one_used(peer: Peer) -> None:
    """A Client built with ``session=`` makes its requests through that aiobotocore session
    (its credentials, here), and refuses a profile_name alongside it."""
    session = get_session()
    session.set_credentials("AKIDFROMSESSION", "secret-from-session")
    async with Client(session=session, endpoint_url=peer.endpoint_url) as client:
        await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert "AKIDFROMSESSION" in peer.headers[0]["Authorization"]
    with pytest.raises(ParamValidationError):
        Client(session=session, profile_name="other")


async def test_a_client_opens_itself_on_first_use_and_aclose_closes_it(peer: Peer) -> None:
    """Without ``async with``, the first request opens the client (entering it is then a
    UsageError) and ``aclose()`` closes it."""
    client = Client(endpoint_url=peer.endpoint_url)
    try:
        jobs = await client.list_batch_inference_jobs(VERSION_ARN).collect()
        assert "[open]" in repr(client)
        with pytest.raises(UsageError):
            async with client:
                pass
    finally:
        await client.aclose()
    assert len(jobs) == 4
    assert "[closed]" in repr(client)


@pytest.mark.parametrize("call", ["describe", "prefetch=0", "prefetch=1", "prefetch=2"])
async def test_aclose_ends_a_request_waiting_on_the_peer_with_client_closed(call: str) -> None:
    """``aclose()`` while a describe or a listing waits on an unanswered request ends it
    with ClientClosedError, the peer sees the request abandoned, and nothing keeps running."""
    outcome: list[BaseException] = []
    async with scripted_peer([HANG]) as peer:
        client = Client(endpoint_url=peer.endpoint_url, **NO_RETRY)

        async def wait_on_peer() -> None:
            try:
                if call == "describe":
                    await client.describe_batch_inference_job(JOB_ARN.format("x"))
                else:
                    prefetch = int(call.partition("=")[2])
                    await client.list_batch_inference_jobs(VERSION_ARN, prefetch=prefetch).collect()
            except PersonalizeError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_on_peer)
            await peer.received.reach(1)
            await client.aclose()
        await peer.abandoned.reach(1)
        await wait_no_producers()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ClientClosedError), repr(outcome[0])
    assert peer.received.value == 1


# -- wrapping an aiobotocore client -----------------------------------------------------


@asynccontextmanager
async def aiobotocore_client(service: str, endpoint_url: str, **config: Any) -> AsyncIterator[Any]:
    """An aiobotocore client of the test's own, as a user would create it."""
    creator = get_session().create_client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=AioConfig(**config),
    )
    async with creator as client:
        yield client


async def test_wrap_lists_through_the_callers_client_and_leaves_it_open(peer: Peer) -> None:
    """``Client.wrap`` lists through the caller's aiobotocore client, and closing ours leaves
    theirs open and usable while ours refuses further use."""
    async with aiobotocore_client("personalize", peer.endpoint_url) as theirs:
        async with Client.wrap(theirs) as ours:
            jobs = await ours.list_batch_inference_jobs(VERSION_ARN).collect()
        response = await theirs.list_batch_inference_jobs(maxResults=5)
        with pytest.raises(ClientClosedError):
            ours.list_batch_inference_jobs()
    assert len(jobs) == 4
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert peer.operations() == ["ListBatchInferenceJobs"] * 3


async def test_wrap_leaves_the_callers_own_calls_as_botocore_makes_them() -> None:
    """The body check a wrapped client gets applies only to our calls: the same unparsable
    200 body is a ResponseError through ours, and parses as botocore parses it (to an empty
    result) through the caller's own calls, during and after our use."""
    garbled = Reply(raw=b'{"batchInf')
    async with (
        scripted_peer([], responder=garbled) as peer,
        aiobotocore_client("personalize", peer.endpoint_url) as theirs,
    ):
        async with Client.wrap(theirs) as ours:
            with pytest.raises(ResponseError):
                await ours.list_batch_inference_jobs(VERSION_ARN).collect()
            during = await theirs.list_batch_inference_jobs()
        after = await theirs.list_batch_inference_jobs()
    assert "batchInferenceJobs" not in during
    assert "batchInferenceJobs" not in after


async def test_two_wraps_of_one_client_keep_its_hooks_until_the_last_closes() -> None:
    """Two Clients wrapping the same aiobotocore client share its hooks: once the first
    closes, the second still lists (its bodies still decoded by its own hook), and once
    both close the owner's calls are botocore's again."""
    garbled = Reply(raw=b'{"batchInf')
    async with (
        scripted_peer([garbled, inference_page(0, 2, None)], responder=garbled) as peer,
        aiobotocore_client("personalize", peer.endpoint_url) as theirs,
    ):
        async with Client.wrap(theirs) as second:
            async with Client.wrap(theirs) as first:
                with pytest.raises(ResponseError):
                    await first.list_batch_inference_jobs(VERSION_ARN).collect()
            jobs = await second.list_batch_inference_jobs(VERSION_ARN).collect()
        after = await theirs.list_batch_inference_jobs()
    assert [job.job_name for job in jobs] == ["job-0", "job-1"]
    assert "batchInferenceJobs" not in after
    assert peer.operations() == ["ListBatchInferenceJobs"] * 3


async def test_wrap_refuses_a_client_of_another_service(peer: Peer) -> None:
    """``Client.wrap`` refuses an aiobotocore client of another service (or a non-client)
    with ParamValidationError."""
    async with aiobotocore_client("sqs", peer.endpoint_url) as sqs:
        with pytest.raises(ParamValidationError) as info:
            Client.wrap(sqs)
    assert info.value.parameter == "client"
    assert "sqs" in str(info.value)
    with pytest.raises(ParamValidationError):
        Client.wrap(object())  # type: ignore[arg-type]


async def test_wrap_refuses_max_concurrency_above_the_callers_pool(peer: Peer) -> None:
    """``Client.wrap`` refuses a max_concurrency larger than the wrapped client's connection
    pool, and accepts one equal to it."""
    async with aiobotocore_client("personalize", peer.endpoint_url, max_pool_connections=4) as c:
        with pytest.raises(ParamValidationError) as info:
            Client.wrap(c, max_concurrency=5)
        assert info.value.parameter == "max_concurrency"
        await Client.wrap(c, max_concurrency=4).aclose()


# -- the connection pool ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "concurrency", "pool"),
    [(None, 20, 20), (None, 1, 10), (5, 20, 20), (50, 20, 50)],
)
def test_the_pool_is_at_least_max_concurrency(
    given: int | None, concurrency: int, pool: int
) -> None:
    """The botocore Config built for a client has a connection pool of at least its
    max_concurrency, botocore's default (10), and any larger pool the caller configured."""
    config = Config(max_pool_connections=given) if given is not None else None
    options = TransportOptions(config=config, max_pool_connections=concurrency)
    assert options.botocore_config().max_pool_connections == pool


@pytest.mark.parametrize("concurrency", [5, 20])
async def test_max_concurrency_requests_are_in_flight_at_once_and_never_more(
    concurrency: int,
) -> None:
    """With twice max_concurrency describes started at once against a slow emulator, exactly
    max_concurrency are in flight at the peak: the cap holds, and the pool (botocore's
    default is 10) does not lower it."""
    spec = InventorySpec(
        dataset_groups=1,
        solutions_per_dataset_group=1,
        versions_per_solution=1,
        inference_jobs_per_version=2 * concurrency,
        segment_jobs_per_version=1,
    )
    # Constructed here: the inventory's size follows the parametrized concurrency.
    async with (
        Emulator(EmulatorOptions(inventory=spec)) as emu,
        Client(endpoint_url=emu.endpoint_url, max_concurrency=concurrency, **NO_RETRY) as client,
    ):
        listing = client.list_batch_inference_jobs(page_size=2 * concurrency)
        arns = [job.batch_inference_job_arn for job in await listing.collect()]
        emu.stats.reset()
        emu.faults = Faults(latency=0.2)
        async with anyio.create_task_group() as tg:
            for arn in arns:
                tg.start_soon(client.describe_batch_inference_job, arn)
        assert emu.stats.requests == 2 * concurrency
        assert emu.stats.peak_in_flight == concurrency


# -- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"), [("InternalFailure", 500), ("RequestTimeoutException", 400)]
)
async def test_retry_mode_and_max_attempts_win_over_a_passed_config(code: str, status: int) -> None:
    """``retry_mode="standard"`` and ``max_attempts=2`` override a Config asking for legacy
    retries and 3 attempts: a 500 is tried twice, not three times, and
    RequestTimeoutException (retried by standard mode, not by legacy) is tried twice."""
    config = Config(retries={"mode": "legacy", "total_max_attempts": 3})
    script = [error(code, "no", status)] * 3
    # page_retry_window=0: botocore's attempts alone, no page asked again by us.
    async with connected(
        script, config=config, retry_mode="standard", max_attempts=2, page_retry_window=0
    ) as (peer, client):
        with pytest.raises(ServiceError) as info:
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert info.value.code == code
    assert peer.received.value == 2


async def test_a_passed_config_sets_the_retries_when_no_arguments_override_it() -> None:
    """Without retry_mode or max_attempts, a Config's retries apply: one attempt at a 500."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    async with connected(
        [error("InternalFailure", "no", 500)] * 3, config=config, page_retry_window=0
    ) as (peer, client):
        with pytest.raises(ServiceError):
            await client.list_batch_inference_jobs(VERSION_ARN).collect()
    assert peer.received.value == 1


# -- secrets ----------------------------------------------------------------------------

SECRET = "wJalrXUtnFEMI-secret-under-test"
TOKEN = "FwoGZXIvYXdz-session-token-under-test"


@pytest.mark.personalize_emulator(EmulatorOptions(credentials={"AKIDKNOWN": "the-right-secret"}))
async def test_the_secret_key_and_session_token_never_appear_in_reprs_errors_or_logs(
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The secret key and session token appear in no client or listing repr, in no
    str/repr of the errors raised (or their causes), and in no record of aiopersonalize's
    own loggers at DEBUG (botocore's DEBUG records of signed requests: test_secrets.py).
    """
    caplog.set_level(logging.DEBUG, logger="aiopersonalize")
    credentials = {"aws_secret_access_key": SECRET, "aws_session_token": TOKEN, **NO_RETRY}
    texts: list[str] = []
    raised: list[type[BaseException]] = []
    for key_id in ("AKIDKNOWN", "AKIDUNKNOWN"):
        client = Client(endpoint_url=emulator.endpoint_url, aws_access_key_id=key_id, **credentials)
        texts.append(repr(client))
        async with client:
            texts.append(repr(client))
            listing = client.list_batch_inference_jobs(emulator.solution_version_arns()[0])
            texts.append(repr(listing))
            with pytest.raises(AccessDeniedError) as listed:
                await listing.collect()
            with pytest.raises(AccessDeniedError) as described:
                await client.describe_batch_segment_job(JOB_ARN.format("x"))
        texts.append(repr(client))
        texts += exception_texts(listed.value) + exception_texts(described.value)
        raised += [type(listed.value), type(described.value)]
    url = f"http://127.0.0.1:{unused_port()}"
    async with Client(endpoint_url=url, aws_access_key_id="AKIDKNOWN", **credentials) as client:
        with pytest.raises(TransportError) as refused:
            await client.describe_batch_inference_job(JOB_ARN.format("x"))
    texts += [*exception_texts(refused.value), caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    assert raised == [AccessDeniedError] * 4
    for text in texts:
        assert SECRET not in text
        assert TOKEN not in text
