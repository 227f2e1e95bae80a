"""Paging: boto3's paginator to the end, and tokens that are opaque, bound and tamper-evident."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from aiopersonalize.emulator import Emulator, EmulatorOptions, InventorySpec

from ..clients import Boto, FakeClock, make_client

JOB_LISTS = [
    ("list_batch_inference_jobs", "batchInferenceJobs", "batchInferenceJobArn", "inference"),
    ("list_batch_segment_jobs", "batchSegmentJobs", "batchSegmentJobArn", "segment"),
]


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = exc.value.response["Error"]["Code"]
    return code


def tampered(token: str) -> list[str]:
    """Edits of a token: each of a few characters changed, one dropped, one added."""
    edits = []
    for position in (0, len(token) // 2, len(token) - 1):
        replacement = "A" if token[position] != "A" else "B"
        edits.append(token[:position] + replacement + token[position + 1 :])
    return [*edits, token[:-1], token + "A", token + "=", token.replace("-", "+").replace("_", "/")]


@pytest.mark.parametrize(("operation", "key", "arn", "kind"), JOB_LISTS)
async def test_paginator_reaches_the_end(
    emulator: Emulator, boto: Boto, operation: str, key: str, arn: str, kind: Any
) -> None:
    """boto3's paginator walks every job once, newest first, and the last page has no nextToken."""
    pages = await boto.pages(operation, PaginationConfig={"PageSize": 37})
    jobs = [job for page in pages for job in page[key]]
    assert len(jobs) == emulator.job_count(kind)
    assert len({job[arn] for job in jobs}) == len(jobs)
    created = [job["creationDateTime"] for job in jobs]
    assert created == sorted(created, reverse=True)
    assert all("nextToken" in page for page in pages[:-1])
    assert "nextToken" not in pages[-1]
    assert [len(page[key]) for page in pages[:-1]] == [37] * (len(pages) - 1)


@pytest.mark.parametrize(("operation", "key", "arn", "kind"), JOB_LISTS)
async def test_paginator_on_one_version(
    emulator: Emulator, boto: Boto, operation: str, key: str, arn: str, kind: Any
) -> None:
    """Paging a version's jobs returns exactly that version's jobs, newest first."""
    version = emulator.solution_version_arns()[7]
    pages = await boto.pages(
        operation, solutionVersionArn=version, PaginationConfig={"PageSize": 9}
    )
    jobs = [job for page in pages for job in page[key]]
    assert len(jobs) == emulator.job_count(kind, version)
    assert {job["solutionVersionArn"] for job in jobs} == {version}
    created = [job["creationDateTime"] for job in jobs]
    assert created == sorted(created, reverse=True)


TWELVE_SOLUTIONS = InventorySpec(
    dataset_groups=3, solutions_per_dataset_group=4, versions_per_solution=3
)


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=TWELVE_SOLUTIONS))
async def test_resource_lists_page_to_the_end(emulator: Emulator) -> None:
    """Dataset groups, solutions and versions page like jobs, filters included."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        groups = await boto.pages("list_dataset_groups", PaginationConfig={"PageSize": 2})
        solutions = await boto.pages("list_solutions", PaginationConfig={"PageSize": 5})
        mine = await boto.pages(
            "list_solutions",
            datasetGroupArn=emulator.dataset_group_arns()[2],
            PaginationConfig={"PageSize": 3},
        )
        versions = await boto.pages("list_solution_versions", PaginationConfig={"PageSize": 5})
    finally:
        client.close()
    assert [
        g["datasetGroupArn"] for p in groups for g in p["datasetGroups"]
    ] == emulator.dataset_group_arns()
    assert [s["solutionArn"] for p in solutions for s in p["solutions"]] == emulator.solution_arns()
    assert len(solutions) == 3
    assert [s["solutionArn"] for p in mine for s in p["solutions"]] == emulator.solution_arns()[8:]
    assert [v["solutionVersionArn"] for p in versions for v in p["solutionVersions"]] == (
        emulator.solution_version_arns()
    )


async def test_page_size_may_change_between_pages(boto: Boto) -> None:
    """maxResults is not part of the query a token is bound to: pages may change size."""
    first = await boto("list_batch_inference_jobs", maxResults=10)
    second = await boto("list_batch_inference_jobs", maxResults=25, nextToken=first["nextToken"])
    both = await boto("list_batch_inference_jobs", maxResults=35)
    assert first["batchInferenceJobs"] + second["batchInferenceJobs"] == both["batchInferenceJobs"]


async def test_tokens_are_opaque_and_deterministic(emulator: Emulator, boto: Boto) -> None:
    """A token is short URL-safe text, and the same query position gives the same token."""
    token = (await boto("list_batch_segment_jobs", maxResults=3))["nextToken"]
    again = (await boto("list_batch_segment_jobs", maxResults=3))["nextToken"]
    assert token == again
    assert len(token) < 100
    assert token.isascii()
    assert "segment" not in token


async def test_edited_tokens_are_invalid(boto: Boto) -> None:
    """Any edit of a token answers InvalidNextTokenException."""
    token = (await boto("list_batch_inference_jobs", maxResults=3))["nextToken"]
    for edit in tampered(token):
        with pytest.raises(ClientError) as exc:
            await boto("list_batch_inference_jobs", maxResults=3, nextToken=edit)
        assert error_code(exc) == "InvalidNextTokenException", edit


@pytest.mark.parametrize("garbage", ["x", "", "bm90IGEgdG9rZW4", "%%%%", "é" * 10, "A" * 1500])
async def test_garbage_tokens_are_invalid(boto: Boto, garbage: str) -> None:
    """A token the emulator never made answers InvalidNextTokenException."""
    with pytest.raises(ClientError) as exc:
        await boto("list_solutions", nextToken=garbage)
    assert error_code(exc) in {"InvalidNextTokenException", "InvalidInputException"}
    if garbage.isascii():
        assert error_code(exc) == "InvalidNextTokenException"


async def test_tokens_are_bound_to_their_query(emulator: Emulator, boto: Boto) -> None:
    """A token used with another operation, filter or region answers InvalidNextTokenException."""
    versions = emulator.solution_version_arns()
    token = (await boto("list_batch_inference_jobs", solutionVersionArn=versions[0], maxResults=2))[
        "nextToken"
    ]
    other_queries: list[tuple[str, dict[str, Any]]] = [
        ("list_batch_inference_jobs", {}),
        ("list_batch_inference_jobs", {"solutionVersionArn": versions[1]}),
        ("list_batch_segment_jobs", {"solutionVersionArn": versions[0]}),
        ("list_solution_versions", {}),
    ]
    for operation, params in other_queries:
        with pytest.raises(ClientError) as exc:
            await boto(operation, nextToken=token, **params)
        assert error_code(exc) == "InvalidNextTokenException", operation
    client = make_client(emulator.endpoint_url, region="eu-west-1")
    try:
        with pytest.raises(ClientError) as exc:
            await Boto(client)(
                "list_batch_inference_jobs", solutionVersionArn=versions[0], nextToken=token
            )
    finally:
        client.close()
    assert error_code(exc) == "InvalidNextTokenException"


async def test_tokens_survive_a_restart_with_the_same_seed() -> None:
    """A token from one emulator resumes on another with the same seed, not on another seed."""
    # Three emulators, one after another: constructed here.
    async with Emulator(EmulatorOptions(seed=5)) as first:
        client = make_client(first.endpoint_url)
        try:
            page = await Boto(client)("list_batch_inference_jobs", maxResults=4)
        finally:
            client.close()
    for seed, expected in ((5, None), (6, "InvalidNextTokenException")):
        async with Emulator(EmulatorOptions(seed=seed)) as second:
            client = make_client(second.endpoint_url)
            try:
                boto = Boto(client)
                if expected is None:
                    resumed = await boto("list_batch_inference_jobs", nextToken=page["nextToken"])
                    whole = await boto("list_batch_inference_jobs", maxResults=100)
                    assert resumed["batchInferenceJobs"][:96] == whole["batchInferenceJobs"][4:]
                else:
                    with pytest.raises(ClientError) as exc:
                        await boto("list_batch_inference_jobs", nextToken=page["nextToken"])
                    assert error_code(exc) == expected
            finally:
                client.close()


async def test_token_secret_keys_tokens() -> None:
    """With a token secret, tokens verify only on an emulator with the same secret."""
    # Two emulators at once: constructed here.
    async with (
        Emulator(EmulatorOptions(token_secret=b"one")) as first,
        Emulator(EmulatorOptions(token_secret=b"two")) as second,
    ):
        a, b = make_client(first.endpoint_url), make_client(second.endpoint_url)
        try:
            token = (await Boto(a)("list_batch_segment_jobs", maxResults=1))["nextToken"]
            assert (await Boto(a)("list_batch_segment_jobs", nextToken=token))["batchSegmentJobs"]
            with pytest.raises(ClientError) as exc:
                await Boto(b)("list_batch_segment_jobs", nextToken=token)
        finally:
            a.close()
            b.close()
    assert error_code(exc) == "InvalidNextTokenException"


def expired(exc: pytest.ExceptionInfo[ClientError]) -> bool:
    """Whether the error is the service's answer to a bad or expired token."""
    response: Any = exc.value.response
    answer = (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )
    return answer == (
        "InvalidNextTokenException",
        "The next token is invalid or has expired.",
        400,
    )


async def test_tokens_expire_after_their_lifetime() -> None:
    """A token works within its lifetime and is refused, as a bad token is, once older."""
    clock = FakeClock()  # the test's own, which it advances: constructed here
    async with Emulator(EmulatorOptions(clock=clock, token_lifetime=60)) as emulator:
        client = make_client(emulator.endpoint_url)
        try:
            boto = Boto(client)
            jobs = await boto("list_batch_inference_jobs", maxResults=3)
            solutions = await boto("list_solutions", maxResults=2)
            clock.advance(60)  # exactly the lifetime: not older than it
            resumed = await boto("list_batch_inference_jobs", nextToken=jobs["nextToken"])
            assert resumed["batchInferenceJobs"]
            assert await boto("list_solutions", nextToken=solutions["nextToken"])
            clock.advance(0.5)
            for operation, page in (
                ("list_batch_inference_jobs", jobs),
                ("list_solutions", solutions),
            ):
                with pytest.raises(ClientError) as exc:
                    await boto(operation, nextToken=page["nextToken"])
                assert expired(exc), operation
            # The token a page gives is new: a listing goes on from where it is.
            fresh = resumed["nextToken"]
            assert (await boto("list_batch_inference_jobs", nextToken=fresh))["batchInferenceJobs"]
        finally:
            client.close()


async def test_tokens_without_a_lifetime_never_expire() -> None:
    """With no lifetime (the default), a token still works years after it was issued."""
    clock = FakeClock()  # the test's own, which it advances: constructed here
    async with Emulator(EmulatorOptions(clock=clock)) as emulator:
        client = make_client(emulator.endpoint_url)
        try:
            boto = Boto(client)
            page = await boto("list_batch_segment_jobs", maxResults=3)
            clock.advance(10 * 365 * 86_400)
            resumed = await boto("list_batch_segment_jobs", nextToken=page["nextToken"])
            assert resumed["batchSegmentJobs"]
            assert (await boto("list_batch_segment_jobs", maxResults=3))["nextToken"] == (
                page["nextToken"]
            )
        finally:
            client.close()


async def test_tokens_with_a_lifetime_stay_opaque_bound_and_tamper_evident() -> None:
    """Tokens that carry their issue time are short, and refused when edited or reused
    elsewhere."""
    clock = FakeClock()  # the test's own, which it advances: constructed here
    async with Emulator(EmulatorOptions(clock=clock, token_lifetime=3600)) as emulator:
        client = make_client(emulator.endpoint_url)
        try:
            boto = Boto(client)
            version = emulator.solution_version_arns()[0]
            token = (
                await boto("list_batch_inference_jobs", solutionVersionArn=version, maxResults=3)
            )["nextToken"]
            assert len(token) < 100
            assert token.isascii()
            for edit in tampered(token):
                with pytest.raises(ClientError) as exc:
                    await boto(
                        "list_batch_inference_jobs", solutionVersionArn=version, nextToken=edit
                    )
                assert expired(exc), edit
            for operation, params in (
                ("list_batch_inference_jobs", {}),
                ("list_batch_segment_jobs", {"solutionVersionArn": version}),
            ):
                with pytest.raises(ClientError) as exc:
                    await boto(operation, nextToken=token, **params)
                assert expired(exc), operation
        finally:
            client.close()


async def test_token_lifetime_across_a_restart() -> None:
    """A token resumes on a restarted emulator within its lifetime; a token of an emulator
    without one, whose age is unknown, does not."""
    clock = FakeClock()  # shared by the emulators, one after the other: constructed here
    tokens = {}
    for lifetime in (None, 600.0):
        async with Emulator(EmulatorOptions(clock=clock, token_lifetime=lifetime)) as first:
            client = make_client(first.endpoint_url)
            try:
                page = await Boto(client)("list_batch_inference_jobs", maxResults=4)
            finally:
                client.close()
        tokens[lifetime] = page["nextToken"]
    clock.advance(300)
    async with Emulator(EmulatorOptions(clock=clock, token_lifetime=600.0)) as second:
        client = make_client(second.endpoint_url)
        try:
            boto = Boto(client)
            resumed = await boto("list_batch_inference_jobs", nextToken=tokens[600.0])
            assert len(resumed["batchInferenceJobs"]) == 100
            with pytest.raises(ClientError) as exc:
                await boto("list_batch_inference_jobs", nextToken=tokens[None])
            assert expired(exc)
            clock.advance(301)
            with pytest.raises(ClientError) as exc:
                await boto("list_batch_inference_jobs", nextToken=tokens[600.0])
            assert expired(exc)
        finally:
            client.close()


THREE_VERSIONS = InventorySpec(1, 1, 3, inference_jobs_per_version=6, segment_jobs_per_version=0)


@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=THREE_VERSIONS))
async def test_jobs_created_mid_listing_cause_no_duplicates_or_skips(
    emulator: Emulator, filtered: bool
) -> None:
    """Jobs created during a listing neither repeat nor hide the jobs it started with."""
    client = make_client(emulator.endpoint_url)
    try:
        boto = Boto(client)
        version = emulator.solution_version_arns()[2]
        params: dict[str, Any] = {"solutionVersionArn": version} if filtered else {}

        async def create(name: str) -> None:
            await boto(
                "create_batch_inference_job",
                jobName=name,
                solutionVersionArn=version,
                jobInput={"s3DataSource": {"path": "s3://b/in"}},
                jobOutput={"s3DataDestination": {"path": "s3://b/out"}},
                roleArn="arn:aws:iam::123456789012:role/R",
            )

        for name in ("early-1", "early-2", "early-3"):
            await create(name)
        expected = emulator.job_count("inference", version if filtered else None)
        seen: list[str] = []
        token = None
        step = 0
        while True:
            more: dict[str, str] = {"nextToken": token} if token else {}
            page = await boto("list_batch_inference_jobs", maxResults=2, **params, **more)
            seen += [job["jobName"] for job in page["batchInferenceJobs"]]
            if step in (0, 1, 3):
                await create(f"late-{step}")
            step += 1
            token = page.get("nextToken")
            if token is None:
                break
    finally:
        client.close()
    assert len(seen) == len(set(seen)) == expected
    assert seen[:3] == ["early-3", "early-2", "early-1"]
    assert not any(name.startswith("late-") for name in seen)
