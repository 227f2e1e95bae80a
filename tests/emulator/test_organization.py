"""The emulated AWS Organization: STS and Organizations beside Personalize, seen by
boto3 and the aws CLI, and the accounts each request acts for."""

from __future__ import annotations

import functools
import re
import time
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from aiopersonalize.emulator import (
    Emulator,
    EmulatorOptions,
    InventorySpec,
    account_ids,
)

from ..clients import ACCESS_KEY, SECRET_KEY, FakeClock, make_client, run_aws

SMALL = InventorySpec(1, 1, 2, inference_jobs_per_version=3, segment_jobs_per_version=2)
ACCOUNTS = account_ids(5)
MANAGEMENT, MEMBER, DENIED, SUSPENDED, FOURTH = ACCOUNTS
ORG = EmulatorOptions(
    inventory=SMALL,
    accounts=5,
    suspended_accounts=frozenset({SUSPENDED}),
    assume_role_denied_accounts=frozenset({DENIED}),
    deny_regions=frozenset({"eu-west-1"}),
)
pytestmark = pytest.mark.personalize_emulator(ORG)


def role(account: str, name: str = "Inventory") -> str:
    return f"arn:aws:iam::{account}:role/{name}"


async def call(client: Any, operation: str, **params: Any) -> Any:
    """A boto3 call from a worker thread (the emulator serves on the test's loop)."""
    return await anyio.to_thread.run_sync(functools.partial(getattr(client, operation), **params))


async def assumed(emulator: Emulator, account: str) -> dict[str, str]:
    sts = make_client(emulator.endpoint_url, service="sts")
    answer = await call(sts, "assume_role", RoleArn=role(account), RoleSessionName="crawl")
    credentials: dict[str, str] = answer["Credentials"]
    return credentials


def as_role(emulator: Emulator, credentials: dict[str, str], service: str, **options: Any) -> Any:
    return make_client(
        emulator.endpoint_url,
        service=service,
        access_key=credentials["AccessKeyId"],
        secret_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
        **options,
    )


async def test_accounts_are_listed_page_by_page_with_their_status(emulator: Emulator) -> None:
    """ListAccounts pages (boto3's paginator, 2 a page) through every account of the
    organization, the management account first, the suspended one SUSPENDED."""
    organizations = make_client(emulator.endpoint_url, service="organizations")
    paginator = organizations.get_paginator("list_accounts")
    pages = await anyio.to_thread.run_sync(
        lambda: list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    )
    assert [len(page["Accounts"]) for page in pages] == [2, 2, 1]
    accounts = [account for page in pages for account in page["Accounts"]]
    assert [a["Id"] for a in accounts] == list(ACCOUNTS) == list(emulator.account_ids)
    assert {a["Id"]: a["Status"] for a in accounts if a["Status"] != "ACTIVE"} == {
        SUSPENDED: "SUSPENDED"
    }
    assert all(re.fullmatch(r"\d{12}", a["Id"]) for a in accounts)
    assert accounts[1]["Arn"].endswith(f"/{MEMBER}")


async def test_list_accounts_checks_its_input(emulator: Emulator) -> None:
    """ListAccounts refuses a page size above 20 and a token it did not make, with
    Organizations' InvalidInputException."""
    organizations = make_client(emulator.endpoint_url, service="organizations", validate=False)
    for params in ({"MaxResults": 21}, {"NextToken": "forged"}):
        with pytest.raises(ClientError) as raised:
            await call(organizations, "list_accounts", **params)
        assert raised.value.response["Error"]["Code"] == "InvalidInputException"


async def test_assumed_role_credentials_act_for_the_roles_account(emulator: Emulator) -> None:
    """AssumeRole answers credentials that expire, with which STS names the assumed role
    and Personalize lists that account's own inventory (its ARNs name the account)."""
    sts = make_client(emulator.endpoint_url, service="sts")
    me = await call(sts, "get_caller_identity")
    assert me["Account"] == MANAGEMENT
    credentials = await assumed(emulator, MEMBER)
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["Expiration"].tzinfo is not None
    identity = await call(as_role(emulator, credentials, "sts"), "get_caller_identity")
    assert identity["Account"] == MEMBER
    assert identity["Arn"] == f"arn:aws:sts::{MEMBER}:assumed-role/Inventory/crawl"
    personalize = as_role(emulator, credentials, "personalize")
    jobs = (await call(personalize, "list_batch_inference_jobs"))["batchInferenceJobs"]
    assert len(jobs) == emulator.job_count("inference", account=MEMBER) > 0
    assert {job["batchInferenceJobArn"].split(":")[4] for job in jobs} == {MEMBER}
    own = (await call(make_client(emulator.endpoint_url), "list_batch_inference_jobs"))[
        "batchInferenceJobs"
    ]
    assert {job["batchInferenceJobArn"].split(":")[4] for job in own} == {MANAGEMENT}
    assert {j["jobName"] for j in jobs} != {j["jobName"] for j in own}


@pytest.mark.parametrize("account", [DENIED, SUSPENDED, "999999999999"])
async def test_assume_role_is_refused_where_the_options_say(
    emulator: Emulator, account: str
) -> None:
    """AssumeRole into the account that refuses it, a suspended account or an account
    outside the organization is answered AccessDenied (403), STS's XML error."""
    sts = make_client(emulator.endpoint_url, service="sts")
    with pytest.raises(ClientError) as raised:
        await call(sts, "assume_role", RoleArn=role(account), RoleSessionName="crawl")
    error = raised.value.response
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Type"] == "Sender"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert role(account) in error["Error"]["Message"]


async def test_assume_role_checks_its_input(emulator: Emulator) -> None:
    """AssumeRole refuses a session name and a duration out of the model's bounds with
    STS's ValidationError."""
    sts = make_client(emulator.endpoint_url, service="sts", validate=False)
    for params in ({"RoleSessionName": "x"}, {"RoleSessionName": "ok", "DurationSeconds": 60}):
        with pytest.raises(ClientError) as raised:
            await call(sts, "assume_role", RoleArn=role(MEMBER), **params)
        assert raised.value.response["Error"]["Code"] == "ValidationError"


async def test_a_policy_denies_a_region_to_members_only(emulator: Emulator) -> None:
    """In a region denied by policy, a member's Personalize calls are refused with
    AccessDeniedException naming the policy; the management account's are not."""
    member = as_role(emulator, await assumed(emulator, MEMBER), "personalize", region="eu-west-1")
    with pytest.raises(ClientError) as raised:
        await call(member, "list_batch_segment_jobs")
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "service control policy" in error["Message"]
    management = make_client(emulator.endpoint_url, region="eu-west-1")
    assert (await call(management, "list_batch_segment_jobs"))["batchSegmentJobs"]


async def test_only_the_management_account_lists_accounts(emulator: Emulator) -> None:
    """A member's credentials are refused ListAccounts (AccessDeniedException)."""
    member = as_role(emulator, await assumed(emulator, MEMBER), "organizations")
    with pytest.raises(ClientError) as raised:
        await call(member, "list_accounts")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


async def test_issued_credentials_are_checked(emulator: Emulator) -> None:
    """An issued key is honoured only with its own session token and secret: another
    token, a wrong secret, or a key the emulator never issued is refused."""
    credentials = await assumed(emulator, MEMBER)
    other = await assumed(emulator, FOURTH)
    cases = {
        "UnrecognizedClientException": {**credentials, "SessionToken": other["SessionToken"]},
        "InvalidSignatureException": {**credentials, "SecretAccessKey": SECRET_KEY},
    }
    never = {**credentials, "AccessKeyId": "ASIAEMULATORNEVER0"}
    cases_never = as_role(emulator, never, "personalize")
    for code, wrong in cases.items():
        with pytest.raises(ClientError) as raised:
            await call(as_role(emulator, wrong, "personalize"), "list_batch_inference_jobs")
        assert raised.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as raised:
        await call(cases_never, "list_batch_inference_jobs")
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as raised:
        await call(as_role(emulator, never, "sts"), "get_caller_identity")
    assert raised.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # Nothing the emulator answered repeats a secret.
    for secret in (credentials["SecretAccessKey"], credentials["SessionToken"]):
        assert secret not in str(raised.value)


# Now, so that signatures (made with the real time) are within the 15-minute window.
CLOCK = FakeClock(time.time())


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, accounts=2, credential_lifetime=30, clock=CLOCK)
)
async def test_expired_credentials_are_refused_with_expired_token(emulator: Emulator) -> None:
    """Issued credentials last ``credential_lifetime`` (whatever DurationSeconds asked):
    within it they work, after it Personalize answers ExpiredTokenException and STS
    ExpiredToken, and the emulator counts the refusals."""
    sts = make_client(emulator.endpoint_url, service="sts")
    answer = await call(
        sts, "assume_role", RoleArn=role(MEMBER), RoleSessionName="crawl", DurationSeconds=3600
    )
    credentials = answer["Credentials"]
    assert credentials["Expiration"].timestamp() == pytest.approx(CLOCK.now + 30)
    personalize = as_role(emulator, credentials, "personalize")
    await call(personalize, "list_batch_inference_jobs")
    CLOCK.advance(30)
    with pytest.raises(ClientError) as raised:
        await call(personalize, "list_batch_inference_jobs")
    assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"
    with pytest.raises(ClientError) as raised:
        await call(as_role(emulator, credentials, "sts"), "get_caller_identity")
    assert raised.value.response["Error"]["Code"] == "ExpiredToken"
    assert emulator.expired_tokens_refused == 2


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, credentials={ACCESS_KEY: SECRET_KEY}, accounts=2)
)
async def test_configured_credentials_guard_sts_and_organizations_too(emulator: Emulator) -> None:
    """With credentials configured, STS and Organizations verify signatures as
    Personalize does: a wrong secret is refused before anything is answered."""
    for service, operation in (("sts", "get_caller_identity"), ("organizations", "list_accounts")):
        wrong = make_client(emulator.endpoint_url, service=service, secret_key="not-the-secret")
        with pytest.raises(ClientError) as raised:
            await call(wrong, operation)
        assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
        right = make_client(emulator.endpoint_url, service=service)
        assert await call(right, operation)


async def test_aws_cli_assumes_a_role_and_lists_the_accounts(emulator: Emulator) -> None:
    """`aws sts assume-role`, `aws sts get-caller-identity` and `aws organizations
    list-accounts` work against the emulator as against AWS."""
    url = emulator.endpoint_url
    results: dict[str, Any] = {}

    async def run(name: str, service: str, *args: str) -> None:
        results[name] = await run_aws(url, *args, service=service)

    async with anyio.create_task_group() as group:
        group.start_soon(
            run, "assume", "sts", "assume-role", "--role-arn", role(MEMBER),
            "--role-session-name", "cli",
        )  # fmt: skip
        group.start_soon(run, "identity", "sts", "get-caller-identity")
        group.start_soon(run, "accounts", "organizations", "list-accounts", "--page-size", "2")
        group.start_soon(
            run, "denied", "sts", "assume-role", "--role-arn", role(DENIED),
            "--role-session-name", "cli",
        )  # fmt: skip
    status, assumed_role, _ = results["assume"]
    assert status == 0
    assert (
        assumed_role["AssumedRoleUser"]["Arn"]
        == f"arn:aws:sts::{MEMBER}:assumed-role/Inventory/cli"
    )
    assert set(assumed_role["Credentials"]) == {
        "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"
    }  # fmt: skip
    status, identity, _ = results["identity"]
    assert (status, identity["Account"]) == (0, MANAGEMENT)
    status, accounts, _ = results["accounts"]
    assert status == 0
    assert [a["Id"] for a in accounts["Accounts"]] == list(ACCOUNTS)  # the CLI pages to the end
    status, _, stderr = results["denied"]
    assert status != 0
    assert "(AccessDenied)" in stderr
