"""Crawls of several accounts: ``crawl_batch_jobs(accounts=Organization(...) or
RoleArns(...))`` against the emulated organization (STS, Organizations and Personalize
on one endpoint), with credentials that expire, accounts and regions that refuse, and
the pacing of each account and region."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest

from aiopersonalize import (
    AccessDeniedError,
    BatchInferenceJobSummary,
    ChainKey,
    Client,
    ConfigurationError,
    Organization,
    Page,
    ParamValidationError,
    RoleArns,
    personalize_regions,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec, account_ids

from ..helpers import wait_until
from ..peers import recording_proxy

SMALL = InventorySpec(1, 1, 2, inference_jobs_per_version=5, segment_jobs_per_version=3)
REGIONS = ("us-east-1", "eu-west-1")
ACCOUNTS = account_ids(4)
MANAGEMENT, MEMBER, DENIED, SUSPENDED = ACCOUNTS
ORG = EmulatorOptions(
    inventory=SMALL,
    accounts=4,
    suspended_accounts=frozenset({SUSPENDED}),
    assume_role_denied_accounts=frozenset({DENIED}),
)
pytestmark = pytest.mark.personalize_emulator(ORG)


def job_arn(job: Any) -> str:
    if isinstance(job, BatchInferenceJobSummary):
        return job.batch_inference_job_arn
    return job.batch_segment_job_arn


def expected(
    emulator: Emulator, accounts: tuple[str, ...], regions: tuple[str, ...] = REGIONS
) -> Counter[tuple[str, str, str]]:
    """(account, region, kind) -> jobs: what a crawl of ``accounts`` must deliver."""
    return Counter(
        {
            (account, region, kind): emulator.job_count(kind, None, region, account=account)
            for account in accounts
            for region in regions
            for kind in ("inference", "segment")
        }
    )


async def crawl(client: Client, **options: Any) -> tuple[list[Page[Any]], Any]:
    listing = client.crawl_batch_jobs(**{"page_size": 2, "on_error": "skip", **options})
    pages = [page async for page in listing.pages()]
    return pages, listing


def tally(pages: list[Page[Any]]) -> Counter[tuple[str, str, str]]:
    found: Counter[tuple[str, str, str]] = Counter()
    for page in pages:
        assert page.account is not None
        assert page.region is not None
        assert page.kind is not None
        found[page.account, page.region, page.kind] += len(page.items)
        for job in page.items:
            # Each job is its account's, in its region (the ARN says so).
            assert job_arn(job).split(":")[3:5] == [page.region, page.account]
    return found


def once(pages: list[Page[Any]]) -> None:
    arns = [job_arn(job) for page in pages for job in page.items]
    assert len(arns) == len(set(arns))


async def test_an_organization_crawl_lists_every_active_account_once(emulator: Emulator) -> None:
    """Organization(role_name) crawls the caller's own account with its credentials and
    each other ACTIVE account through its role: every job once, tagged with its account
    and region; the suspended account is not tried, the refusing one is one failure."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        pages, listing = await crawl(
            client, accounts=Organization("Inventory"), regions=list(REGIONS)
        )
    assert tally(pages) == expected(emulator, (MANAGEMENT, MEMBER))
    once(pages)
    (failure,) = listing.failures
    assert (failure.account, failure.operation, failure.kind) == (DENIED, "AssumeRole", None)
    assert isinstance(failure.error, AccessDeniedError)
    assert failure.error.code == "AccessDenied"
    progress = listing.progress
    assert (progress.accounts, progress.accounts_opened, progress.accounts_failed) == (3, 2, 1)
    # One AssumeRole per member tried: the suspended account is left alone.
    assert emulator.stats.by_operation["AssumeRole"] == 2
    assert emulator.stats.by_operation["ListAccounts"] == 1


async def test_role_arns_crawl_exactly_those_accounts(emulator: Emulator) -> None:
    """RoleArns([...]) crawls the account of each role given, and only those (the
    caller's own account too when one of the roles is in it)."""
    roles = [f"arn:aws:iam::{account}:role/Inventory" for account in (MEMBER, MANAGEMENT)]
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        pages, listing = await crawl(client, accounts=RoleArns(roles))
    assert tally(pages) == expected(emulator, (MEMBER, MANAGEMENT), REGIONS[:1])
    assert listing.failures == ()
    assert emulator.stats.by_operation["ListAccounts"] == 0
    assert emulator.stats.by_operation["AssumeRole"] == 2


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, accounts=3, deny_regions=frozenset({"eu-west-1"}))
)
async def test_a_region_denied_by_policy_is_one_failure_per_member(emulator: Emulator) -> None:
    """A region where a policy denies personalize:* to members is one failure per member
    account (its kind None: the whole account-region), not one per listing; the rest,
    the management account's listings there included, is listed."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        pages, listing = await crawl(
            client, accounts=Organization("Inventory"), regions=list(REGIONS)
        )
    members = account_ids(3)[1:]
    want = expected(emulator, account_ids(3))
    for member in members:
        for kind in ("inference", "segment"):
            del want[member, "eu-west-1", kind]
    assert tally(pages) == want
    failures = sorted(listing.failures, key=lambda f: str(f.account))
    assert [(f.account, f.region, f.kind) for f in failures] == [
        (member, "eu-west-1", None) for member in members
    ]
    assert all(isinstance(f.error, AccessDeniedError) for f in failures)


@pytest.mark.personalize_emulator(
    EmulatorOptions(
        inventory=InventorySpec(1, 1, 1, inference_jobs_per_version=12, segment_jobs_per_version=0),
        accounts=3,
        credential_lifetime=1.0,
        # Each answer leaves 0.1 s after its request: with one request at a time, the
        # crawl's 3 x 12 pages take at least 3.6 s, over three credential lifetimes.
        faults=Faults(latency=0.1),
    )
)
async def test_a_crawl_longer_than_the_credentials_never_sends_an_expired_token(
    emulator: Emulator,
) -> None:
    """With assumed-role credentials lasting one second and a crawl lasting several,
    botocore's refreshable credentials assume each role again before they expire: every
    job arrives and the emulator refuses no request for an expired token."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        listing = client.crawl_batch_jobs(
            kinds=["inference"],
            accounts=Organization("Inventory"),
            page_size=1,
            concurrency=1,
            on_error="raise",
        )
        pages = [page async for page in listing.pages()]
    accounts = account_ids(3)
    assert tally(pages) == Counter({(account, REGIONS[0], "inference"): 12 for account in accounts})
    assert emulator.expired_tokens_refused == 0
    # Refreshed: more AssumeRole calls than the two members' first ones.
    assert emulator.stats.by_operation["AssumeRole"] > 2 * 2


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, accounts=3, faults=Faults(max_rps=40, burst=1))
)
async def test_each_account_and_region_is_paced_on_its_own_under_the_global_cap(
    emulator: Emulator,
) -> None:
    """Under a quota per account and region, a crawl of three accounts in two regions
    paces six lanes apart (each found its own quota) and never has more requests in
    flight than the client's max_concurrency."""
    async with Client(
        endpoint_url=emulator.endpoint_url, region_name=REGIONS[0], max_concurrency=3
    ) as client:
        pages, listing = await crawl(
            client, accounts=Organization("Inventory"), regions=list(REGIONS), concurrency=8
        )
        lanes = set(client._limits._rates)
    assert tally(pages) == expected(emulator, account_ids(3))
    assert listing.failures == ()
    assert {(a, r) for a in account_ids(3) for r in REGIONS} <= lanes
    assert emulator.stats.peak_in_flight <= 3 + 2  # + the STS calls, outside the pool


async def test_a_resumed_organization_crawl_skips_finished_chains(emulator: Emulator) -> None:
    """``resume`` keys carry the account: a chain of one account given as finished is
    not listed again, while the same chain of another account is."""
    resume = {ChainKey(REGIONS[0], "inference", None, MEMBER): None}
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        pages, _ = await crawl(
            client, accounts=Organization("Inventory"), kinds=["inference"], resume=resume
        )
    want = Counter({(a, REGIONS[0], "inference"): n for (a, r, k), n in expected(
        emulator, (MANAGEMENT,), REGIONS[:1]).items() if k == "inference"})  # fmt: skip
    assert tally(pages) == want


def test_all_regions_are_botocores_regions_of_personalize() -> None:
    """personalize_regions() is the regions botocore's endpoint data lists for
    Personalize (in the aws partition), sorted; us-east-1 among them."""
    regions = personalize_regions()
    assert "us-east-1" in regions
    assert list(regions) == sorted(set(regions))
    assert personalize_regions("aws-cn") != regions


async def test_regions_all_crawls_every_personalize_region(emulator: Emulator) -> None:
    """regions="all" lists each region of personalize_regions()."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        listing = client.crawl_batch_jobs(regions="all", kinds=["segment"])
        regions = {page.region async for page in listing.pages()}
    assert regions == set(personalize_regions())


@pytest.mark.parametrize(
    ("make", "parameter"),
    [
        (lambda: Organization("no spaces allowed"), "role_name"),
        (lambda: Organization("Inventory", session_name="x"), "session_name"),
        (lambda: Organization("Inventory", duration_seconds=60), "duration_seconds"),
        (lambda: RoleArns([]), "role_arns"),
        (lambda: RoleArns("arn:aws:iam::123456789012:role/A"), "role_arns"),
        (lambda: RoleArns(["arn:aws:iam::12345:role/A"]), "role_arns[0]"),
        (
            lambda: RoleArns(
                ["arn:aws:iam::123456789012:role/A", "arn:aws:iam::123456789012:role/B"]
            ),
            "role_arns[1]",
        ),
    ],
)
def test_bad_accounts_are_refused_when_made(make: Any, parameter: str) -> None:
    """Organization and RoleArns check their input when made: a typed error naming the
    parameter, before any request."""
    with pytest.raises(ParamValidationError) as raised:
        make()
    assert raised.value.parameter == parameter


async def test_accounts_with_versions_or_a_wrapped_client_are_refused(emulator: Emulator) -> None:
    """accounts= goes with neither solution_version_arns nor a wrapped client, and takes
    Organization or RoleArns only: refused before anything is sent."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        for options in (
            {"solution_version_arns": emulator.solution_version_arns()[:1]},
            {},
        ):
            accounts: Any = Organization("Inventory") if options else "Inventory"
            with pytest.raises(ParamValidationError) as raised:
                client.crawl_batch_jobs(accounts=accounts, **options)
            assert raised.value.parameter == "accounts"
    assert emulator.stats.requests == 0


async def test_an_organization_crawl_by_versions_finds_the_same_jobs(emulator: Emulator) -> None:
    """strategy="versions" discovers each account's versions in each region through its
    own credentials and lists the same jobs as the account-wide crawl, each once."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        pages, listing = await crawl(
            client, accounts=Organization("Inventory"), regions=list(REGIONS), strategy="versions"
        )
    assert tally(pages) == expected(emulator, (MANAGEMENT, MEMBER))
    once(pages)
    assert {page.solution_version_arn for page in pages} >= set(
        emulator.solution_version_arns(REGIONS[1], account=MEMBER)
    )
    assert [f.operation for f in listing.failures] == ["AssumeRole"]
    # Discovery starts at each opened account's dataset groups, one call per region.
    assert emulator.stats.by_operation["ListDatasetGroups"] == 2 * len(REGIONS)


@pytest.mark.personalize_emulator(
    EmulatorOptions(
        inventory=SMALL,
        accounts=3,
        # Far longer than the test's timeout: a worker that waits for this account
        # holds no other work while it waits.
        faults=Faults(account_latency={MEMBER: 300.0}),
    )
)
async def test_a_slow_account_holds_back_no_other(emulator: Emulator) -> None:
    """With two workers and one account whose every call hangs, the other accounts'
    jobs are all listed: a free worker takes a chain of the account with the fewest
    running, so the slow account never holds both workers while others wait."""
    fast = (MANAGEMENT, account_ids(3)[2])
    want = expected(emulator, fast, REGIONS[:1])
    found: Counter[tuple[str, str, str]] = Counter()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        listing = client.crawl_batch_jobs(
            accounts=Organization("Inventory"), page_size=2, concurrency=2
        )
        async with listing:
            async for page in listing.pages():
                assert page.account in fast  # the slow account's calls never end
                found += tally([page])
                if found == want:
                    break
    assert found == want


async def test_each_role_is_assumed_as_the_session_asked_for(emulator: Emulator) -> None:
    """Organization's ``session_name`` and ``duration_seconds`` are what each member's
    AssumeRole asks for, on the wire."""
    accounts = Organization("Inventory", session_name="nightly-inventory", duration_seconds=7200)
    async with (
        recording_proxy(emulator.endpoint_url) as (endpoint_url, bodies),
        Client(endpoint_url=endpoint_url, region_name=REGIONS[0]) as client,
    ):
        _, listing = await crawl(client, accounts=accounts, kinds=["inference"])
    asked = [parse_qs(body.decode()) for body in bodies if body.startswith(b"Action=AssumeRole")]
    assert sorted((q["RoleArn"], q["RoleSessionName"], q["DurationSeconds"]) for q in asked) == [
        ([f"arn:aws:iam::{account}:role/Inventory"], ["nightly-inventory"], ["7200"])
        for account in (MEMBER, DENIED)
    ]
    assert [f.account for f in listing.failures] == [DENIED]


@pytest.mark.personalize_emulator(
    EmulatorOptions(
        inventory=SMALL,
        accounts=3,
        assume_role_denied_accounts=frozenset(account_ids(3)[1:]),
    )
)
async def test_each_refused_role_is_one_failure_counted(emulator: Emulator) -> None:
    """Two members whose roles refuse are two failures, each named by its account, in
    the client's region, and counted in ``accounts_failed``; the caller's own account is
    listed."""
    refused = account_ids(3)[1:]
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        pages, listing = await crawl(client, accounts=Organization("Inventory"))
    assert tally(pages) == expected(emulator, (MANAGEMENT,), REGIONS[:1])
    failures = sorted(listing.failures, key=lambda f: str(f.account))
    assert [(f.account, f.region, f.operation, f.kind) for f in failures] == [
        (account, REGIONS[0], "AssumeRole", None) for account in refused
    ]
    progress = listing.progress
    assert (progress.accounts, progress.accounts_opened, progress.accounts_failed) == (3, 1, 2)


async def test_skip_does_not_swallow_missing_credentials_for_assume_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under ``on_error="skip"``, a crawl through roles with no credentials to assume them
    with ends with ConfigurationError: it is no failure of one account to record, and
    no request is sent. (A loopback endpoint would sign with dummy keys.)"""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    roles = RoleArns([f"arn:aws:iam::{MEMBER}:role/Inventory"])
    async with Client(region_name=REGIONS[0]) as client:
        listing = client.crawl_batch_jobs(accounts=roles, on_error="skip")
        with pytest.raises(ConfigurationError):
            await listing.collect()
        assert client.stats.requests == 0
    assert listing.failures == ()


DEEP = InventorySpec(2, 2, 2, inference_jobs_per_version=1, segment_jobs_per_version=1)


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=DEEP, accounts=2))
async def test_discovery_through_a_role_makes_the_calls_of_the_callers_own(
    emulator: Emulator,
) -> None:
    """Discovering a member's versions through its role, one item per page, makes the same
    calls at each level as discovering the caller's own account's (of the same shape):
    each dataset group's solutions and each solution's versions, page after page."""
    member = account_ids(2)[1]
    discovery = ("ListDatasetGroups", "ListSolutions", "ListSolutionVersions")

    async def calls(**options: Any) -> tuple[Counter[str], int]:
        before = Counter(emulator.stats.by_operation)
        async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
            pages, listing = await crawl(
                client, strategy="versions", kinds=["inference"], **options
            )
        assert listing.failures == ()
        moved = Counter(emulator.stats.by_operation) - before
        return Counter({op: moved[op] for op in discovery}), sum(len(p.items) for p in pages)

    own = await calls(page_size=1)
    through_role = await calls(
        page_size=1, accounts=RoleArns([f"arn:aws:iam::{member}:role/Inventory"])
    )
    assert own == through_role
    assert own[1] == 8  # 2 dataset groups x 2 solutions x 2 versions x 1 job


@pytest.mark.parametrize("strategy", ["account", "versions"])
@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, accounts=3, deny_regions=frozenset({"eu-west-1", "us-west-2"}))
)
async def test_a_region_denied_by_policy_is_one_failure_per_member_and_region(
    emulator: Emulator, strategy: str
) -> None:
    """In each of two regions denied by policy, each member is one failure of its own
    (kind ``None``: the whole account-region), naming the account and the region, whether
    the crawl lists account-wide or discovers (then the refused ``ListDatasetGroups``)."""
    regions = ["us-east-1", "eu-west-1", "us-west-2"]
    async with Client(endpoint_url=emulator.endpoint_url, region_name=regions[0]) as client:
        pages, listing = await crawl(
            client, accounts=Organization("Inventory"), regions=regions, strategy=strategy
        )
    members = account_ids(3)[1:]
    assert {(page.account, page.region) for page in pages} == {
        (MANAGEMENT, region) for region in regions
    } | {(member, regions[0]) for member in members}
    failures = sorted(listing.failures, key=lambda f: (str(f.account), f.region))
    assert [(f.account, f.region, f.kind, f.parent_arn) for f in failures] == [
        (member, region, None, None) for member in members for region in sorted(regions[1:])
    ]
    assert all(isinstance(f.error, AccessDeniedError) for f in failures)
    if strategy == "versions":
        assert {f.operation for f in failures} == {"ListDatasetGroups"}


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, accounts=3, faults=Faults(account_latency={MANAGEMENT: 300.0}))
)
async def test_the_free_worker_takes_the_other_accounts_in_turn(emulator: Emulator) -> None:
    """With two workers and the caller's own account hanging on every call, the worker
    left free lists the two members' chains in turn, one of each after the other, and
    never a second chain of the hanging account: the account with the fewest chains
    running goes first, the first in turn among equals."""
    members = account_ids(3)[1:]
    want = expected(emulator, members, REGIONS[:1])
    found: Counter[tuple[str, str, str]] = Counter()
    ends: list[str | None] = []  # the account of each chain, as each chain ends
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        listing = client.crawl_batch_jobs(
            accounts=Organization("Inventory"), page_size=2, concurrency=2
        )
        async with listing:
            with anyio.fail_after(30):  # a would-be hang fails; it never paces the test
                async for page in listing.pages():
                    found += tally([page])
                    if page.next_token is None:
                        ends.append(page.account)
                    if found == want:
                        break
    assert found == want
    # One chain of each member, then the other of each, in the same order.
    assert sorted(ends[:2]) == sorted(members)
    assert ends[2:] == ends[:2]


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SMALL, accounts=2, faults=Faults(account_latency={MEMBER: 300.0}))
)
async def test_a_crawl_of_one_account_keeps_every_worker_busy(emulator: Emulator) -> None:
    """A crawl of one account through its role, whose four chains all hang, has four
    requests in flight with ``concurrency=4``: the pool is not sized by the one account
    there was to open at the start."""
    roles = RoleArns([f"arn:aws:iam::{MEMBER}:role/Inventory"])
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGIONS[0]) as client:
        listing = client.crawl_batch_jobs(accounts=roles, regions=list(REGIONS), concurrency=4)
        async with listing, anyio.create_task_group() as tg:
            tg.start_soon(listing.__anext__)  # starts the pool; never answered
            await wait_until(lambda: emulator.stats.in_flight == 4)
            tg.cancel_scope.cancel()
