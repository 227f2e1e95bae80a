"""The account crawl, ``client.crawl_batch_jobs(strategy="versions")``: discovery of dataset groups, solutions
and versions, the job kinds and regions it lists, resuming, both error policies, and
leaving it early.

Against the emulator over real HTTP, and against a scripted fake of the service (built on
tests/peers.py) where a test needs a discovery call to fail or to wait for a gate.
"""

from __future__ import annotations

import gc
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from aiopersonalize import (
    AccessDeniedError,
    BatchInferenceJobSummary,
    BatchSegmentJobSummary,
    Client,
    ClientClosedError,
    ConfigurationError,
    ListingFailure,
    MergedListing,
    Page,
    PaginationError,
    ParamValidationError,
)
from aiopersonalize.emulator import Emulator, EmulatorOptions, Faults, InventorySpec

from ..helpers import producer_tasks, wait_no_producers, wait_until
from ..peers import VERSION_ARN, Peer, Reply, connected, error, inference_page, scripted_peer

REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
KINDS = ("inference", "segment")
LIST_OPERATIONS = {"inference": "ListBatchInferenceJobs", "segment": "ListBatchSegmentJobs"}
DISCOVERY_OPERATIONS = ("ListDatasetGroups", "ListSolutions", "ListSolutionVersions")

# 2 dataset groups x 2 solutions x 2 versions = 8 versions per region, 6 jobs of each
# kind apiece: with PAGE_SIZE 4, every (kind, version) chain is 2 pages (4 + 2).
SMALL = InventorySpec(
    dataset_groups=2,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=6,
    segment_jobs_per_version=6,
)
VERSIONS = SMALL.solution_versions
PAGE_SIZE = 4
PAGES_PER_CHAIN = 2
# The emulator fixture's options, unless a test's own mark says otherwise.
pytestmark = pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL))

Job = BatchInferenceJobSummary | BatchSegmentJobSummary
Chain = tuple[str, str, str]  # (region, kind, solution version ARN)


# -- helpers ----------------------------------------------------------------------------


def job_arn(job: Job) -> str:
    if isinstance(job, BatchInferenceJobSummary):
        return job.batch_inference_job_arn
    return job.batch_segment_job_arn


def kind_of(job: Job) -> str:
    return "inference" if isinstance(job, BatchInferenceJobSummary) else "segment"


def delivered(pages: Iterable[Page[Any]]) -> list[tuple[str, str, str]]:
    """(region, kind, job ARN) of every job of ``pages``, in order, repeats kept."""
    return [
        (str(page.region), str(page.kind), job_arn(job)) for page in pages for job in page.items
    ]


def chain_of(page: Page[Any]) -> Chain:
    return (str(page.region), str(page.kind), str(page.solution_version_arn))


async def all_pages(listing: MergedListing[Any]) -> list[Page[Any]]:
    async with listing:
        return [page async for page in listing.pages()]


async def region_inventory(
    emu: Emulator, region: str = REGION, kinds: Iterable[str] = KINDS
) -> set[tuple[str, str, str]]:
    """Every (region, kind, job ARN) of ``region``, from the account-wide single listings
    (no version filter) of a client of its own."""
    jobs: set[tuple[str, str, str]] = set()
    async with Client(endpoint_url=emu.endpoint_url, region_name=region) as client:
        if "inference" in kinds:
            listed = await client.list_batch_inference_jobs().collect()
            jobs |= {(region, "inference", job.batch_inference_job_arn) for job in listed}
        if "segment" in kinds:
            segments = await client.list_batch_segment_jobs().collect()
            jobs |= {(region, "segment", job.batch_segment_job_arn) for job in segments}
    return jobs


async def version_jobs(emu: Emulator, version: str) -> set[tuple[str, str, str]]:
    """Every (region, kind, job ARN) of one version, from single listings in its region."""
    region = version.split(":")[3]
    async with Client(endpoint_url=emu.endpoint_url, region_name=region) as client:
        inference = await client.list_batch_inference_jobs(version).collect()
        segment = await client.list_batch_segment_jobs(version).collect()
    return {(region, "inference", job.batch_inference_job_arn) for job in inference} | {
        (region, "segment", job.batch_segment_job_arn) for job in segment
    }


# -- a scripted fake of the service, for failing or gated discovery calls ---------------

ACCOUNT = "123456789012"
FAKE_JOBS = 2  # jobs of each kind per version, all on one page
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")


def fake_arn(region: str, resource: str) -> str:
    return f"arn:aws:personalize:{region}:{ACCOUNT}:{resource}"


@dataclass
class FakeAccount:
    """What the fake serves: per region, dataset group ARN -> solution ARN -> version ARNs,
    with FAKE_JOBS jobs of each kind per version. ``denied`` and ``gates`` are keyed by
    what a discovery call lists the children of: the region (ListDatasetGroups), a
    dataset group (ListSolutions) or a solution (ListSolutionVersions); a denied call is
    answered AccessDeniedException, a gated one once its event is set."""

    tree: dict[str, dict[str, dict[str, list[str]]]]
    denied: set[str] = field(default_factory=set)
    gates: dict[str, anyio.Event] = field(default_factory=dict)

    @classmethod
    def build(cls, shape: Mapping[str, Mapping[str, int]]) -> FakeAccount:
        """``shape``: region -> dataset group name -> versions per solution list, e.g.
        ``{"us-east-1": {"a": 1}}`` for one group with one solution of one version."""
        tree: dict[str, dict[str, dict[str, list[str]]]] = {}
        for region, groups in shape.items():
            tree[region] = {}
            for name, versions in groups.items():
                group = fake_arn(region, f"dataset-group/{name}")
                solution = fake_arn(region, f"solution/{name}-solution")
                tree[region][group] = {
                    solution: [f"{solution}/{name}{v:07x}" for v in range(versions)]
                }
        return cls(tree)

    def group(self, region: str, name: str) -> str:
        return fake_arn(region, f"dataset-group/{name}")

    def solution(self, region: str, name: str) -> str:
        return fake_arn(region, f"solution/{name}-solution")

    def add_solution(self, region: str, group_name: str, name: str, versions: int) -> str:
        solution = self.solution(region, name)
        self.tree[region][self.group(region, group_name)][solution] = [
            f"{solution}/{name}{v:07x}" for v in range(versions)
        ]
        return solution

    def jobs(self, versions: Iterable[str] | None = None) -> set[tuple[str, str, str]]:
        """(region, kind, job ARN) of every job of ``versions`` (default: all)."""
        wanted = None if versions is None else set(versions)
        return {
            (region, kind, arn)
            for region, groups in self.tree.items()
            for solutions in groups.values()
            for versions_of in solutions.values()
            for version in versions_of
            if wanted is None or version in wanted
            for kind in KINDS
            for arn in self.job_arns(region, kind, version)
        }

    def job_arns(self, region: str, kind: str, version: str) -> list[str]:
        tail = version.rpartition("/")[2]
        return [fake_arn(region, f"batch-{kind}-job/{tail}-{i}") for i in range(FAKE_JOBS)]

    def answer(self, operation: str, region: str, body: dict[str, Any]) -> Reply:
        groups = self.tree.get(region, {})
        if operation == "ListDatasetGroups":
            key = region
            reply = Reply(
                {"datasetGroups": [{"datasetGroupArn": g, "status": "ACTIVE"} for g in groups]}
            )
        elif operation == "ListSolutions":
            key = body["datasetGroupArn"]
            solutions = groups.get(key, {})
            reply = Reply(
                {"solutions": [{"solutionArn": s, "status": "ACTIVE"} for s in solutions]}
            )
        elif operation == "ListSolutionVersions":
            key = body["solutionArn"]
            versions = [v for s in groups.values() for v in s.get(key, [])]
            reply = Reply(
                {
                    "solutionVersions": [
                        {"solutionVersionArn": v, "status": "ACTIVE"} for v in versions
                    ]
                }
            )
        else:
            kind = "inference" if operation == "ListBatchInferenceJobs" else "segment"
            # Without a version filter: every version's jobs (an account-wide listing,
            # denied by the key "<region> <operation>").
            listed = body.get("solutionVersionArn")
            key = listed or f"{region} {operation}"
            everyone = [v for s in groups.values() for vs in s.values() for v in vs]
            member = "batchInferenceJobArn" if kind == "inference" else "batchSegmentJobArn"
            jobs = [
                {
                    member: arn,
                    "jobName": arn.rpartition("/")[2],
                    "status": "ACTIVE",
                    "creationDateTime": 1_700_000_000 - i,
                    "solutionVersionArn": version,
                }
                for version in ([listed] if listed else everyone)
                for i, arn in enumerate(self.job_arns(region, kind, version))
            ]
            list_key = "batchInferenceJobs" if kind == "inference" else "batchSegmentJobs"
            reply = Reply({list_key: jobs})
        if key in self.denied:
            return error("AccessDeniedException", f"not authorized on {key}")
        return reply

    def gate(self, operation: str, region: str, body: dict[str, Any]) -> anyio.Event | None:
        key = {
            "ListDatasetGroups": region,
            "ListSolutions": body.get("datasetGroupArn"),
            "ListSolutionVersions": body.get("solutionArn"),
        }.get(operation)
        return self.gates.get(key) if isinstance(key, str) else None


@asynccontextmanager
async def fake_service(account: FakeAccount) -> AsyncIterator[Peer]:
    """A scripted peer answering discovery and job listings from ``account``, in the
    region of each request's SigV4 credential scope."""
    serving: list[Peer] = []  # the peer, once it exists

    async def answer(body: dict[str, Any]) -> Reply:
        # The peer records a request before answering it, with no await in between.
        peer = serving[0]
        operation = peer.requests[-1][0]
        scope = _SCOPE.search(peer.headers[-1].get("Authorization", ""))
        region = scope.group(1) if scope else REGION
        gate = account.gate(operation, region, body)
        if gate is not None:
            await gate.wait()
        return account.answer(operation, region, body)

    async with scripted_peer([], responder=answer) as peer:
        serving.append(peer)
        yield peer


# -- the account-wide strategy (the default) ---------------------------------------------


@pytest.mark.parametrize("regions", [None, [REGION, OTHER_REGION]])
async def test_by_default_a_crawl_lists_each_region_and_kind_account_wide(
    emulator: Emulator, regions: list[str] | None
) -> None:
    """By default a crawl makes one account-wide listing per region and kind, with no
    discovery call: every job of each region once, in as many calls as those listings
    have pages, each page naming its region and kind and no solution version."""
    where = regions or [REGION]
    expected: set[tuple[str, str, str]] = set()
    single_calls = 0
    for region in where:
        before = emulator.stats.requests
        expected |= await region_inventory(emulator, region)
        single_calls += emulator.stats.requests - before
    emulator.stats.reset()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        pages = await all_pages(client.crawl_batch_jobs(regions=regions, page_size=100))
        assert client.stats.calls == single_calls
    assert sorted(delivered(pages)) == sorted(expected)
    assert emulator.stats.requests == single_calls
    assert not set(emulator.stats.by_operation) & set(DISCOVERY_OPERATIONS)
    assert {page.solution_version_arn for page in pages} == {None}
    finished = Counter((page.region, page.kind) for page in pages if page.next_token is None)
    assert finished == Counter({(region, kind): 1 for region in where for kind in KINDS})


async def test_both_strategies_list_the_same_jobs_account_wide_in_far_fewer_calls(
    emulator: Emulator,
) -> None:
    """Account-wide and per-version crawls deliver the same jobs; account-wide makes one
    call per page of jobs, per-version one per page of each version plus discovery."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        by_account = await all_pages(client.crawl_batch_jobs(page_size=PAGE_SIZE))
        account_calls = client.stats.calls
        by_version = await all_pages(
            client.crawl_batch_jobs(strategy="versions", page_size=PAGE_SIZE)
        )
        version_calls = client.stats.calls - account_calls
    assert sorted(delivered(by_account)) == sorted(delivered(by_version))
    jobs = len(delivered(by_account))
    assert account_calls == 2 * -(-jobs // 2 // PAGE_SIZE)  # per kind: pages of PAGE_SIZE
    assert version_calls >= VERSIONS * len(KINDS) * PAGES_PER_CHAIN > account_calls


async def test_an_account_wide_crawl_resumes_each_chain_after_its_token(
    emulator: Emulator,
) -> None:
    """Resumed from the first page of each (region, kind) chain, with the ARN ``None`` in
    its key, a crawl delivers exactly the jobs after those pages, once each."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        complete = await all_pages(client.crawl_batch_jobs(page_size=PAGE_SIZE))
        firsts: dict[tuple[str, str, None], Page[Any]] = {}
        for page in complete:
            firsts.setdefault((str(page.region), str(page.kind), None), page)
        resume = {key: page.next_token for key, page in firsts.items()}
        assert all(token is not None for token in resume.values())
        rest = await all_pages(client.crawl_batch_jobs(page_size=PAGE_SIZE, resume=resume))
    skipped = delivered(firsts.values())
    assert Counter(delivered(rest)) == Counter(delivered(complete)) - Counter(skipped)


async def test_strategies_are_checked_at_the_call(emulator: Emulator) -> None:
    """An unknown strategy, or an account-wide crawl given solution versions, is refused
    at the call, naming ``strategy``, before any request."""
    version = emulator.solution_version_arns()[0]
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        for arguments in (
            {"strategy": "everything"},
            {"strategy": "account", "solution_version_arns": [version]},
        ):
            with pytest.raises(ParamValidationError, match="strategy") as refused:
                client.crawl_batch_jobs(**arguments)  # type: ignore[arg-type]
            assert refused.value.parameter == "strategy"
        given = await client.crawl_batch_jobs(
            strategy="versions", solution_version_arns=[version]
        ).collect()
    assert len(given) == sum(emulator.job_count(kind, version) for kind in KINDS)
    assert not set(emulator.stats.by_operation) & set(DISCOVERY_OPERATIONS)


async def test_a_denied_account_wide_listing_is_one_failure_and_the_rest_is_listed() -> None:
    """Under ``on_error="skip"``, an account-wide listing the service denies is one
    failure (its kind and region, no version) and the other kind is listed in full."""
    account = FakeAccount.build({REGION: {"a": 3, "b": 2}})
    account.denied.add(f"{REGION} ListBatchSegmentJobs")
    async with (
        fake_service(account) as peer,
        Client(
            endpoint_url=peer.endpoint_url,
            region_name=REGION,
            retry_mode="standard",
            max_attempts=1,
        ) as client,
    ):
        listing = client.crawl_batch_jobs(on_error="skip")
        pages = await all_pages(listing)
        failures = listing.failures
    assert sorted(delivered(pages)) == sorted(
        job for job in account.jobs() if job[1] == "inference"
    )
    assert [(f.operation, f.region, f.kind, f.solution_version_arn) for f in failures] == [
        ("ListBatchSegmentJobs", REGION, "segment", None)
    ]
    assert isinstance(failures[0].error, AccessDeniedError)
    assert sorted(operation for operation, _ in peer.requests) == [
        "ListBatchInferenceJobs",
        "ListBatchSegmentJobs",
    ]


async def test_an_account_wide_listing_denied_midway_keeps_its_token_to_resume_from() -> None:
    """Under ``on_error="skip"``, an account-wide listing refused after its first page is
    recorded with the token after that page, to resume from."""
    script = [inference_page(0, 2, "t1"), error("AccessDeniedException")]
    async with connected(script, region_name=REGION) as (_peer, client):
        listing = client.crawl_batch_jobs(kinds=["inference"], page_size=2, on_error="skip")
        pages = await all_pages(listing)
    assert [len(page.items) for page in pages] == [2]
    assert [(f.kind, f.region, f.solution_version_arn, f.next_token) for f in listing.failures] == [
        ("inference", REGION, None, "t1")
    ]


async def test_a_region_refused_twice_is_one_failure_to_list_again_from_the_start() -> None:
    """Under ``on_error="skip"``, when the second account-wide listing of a region is
    refused too, the first one's record (refused midway, with a token) becomes the whole
    region's: its kind ``None`` and no token (the region is to be listed from its start)."""
    denied = error("AccessDeniedException")
    script = [inference_page(0, 2, "t1"), denied, denied]
    async with connected(script, region_name=REGION) as (_peer, client):
        listing = client.crawl_batch_jobs(page_size=2, concurrency=1, on_error="skip")
        await all_pages(listing)
    assert [(f.kind, f.region, f.solution_version_arn, f.next_token) for f in listing.failures] == [
        (None, REGION, None, None)
    ]


# -- discovery (strategy="versions") ------------------------------------------------------


async def test_discovery_lists_every_job_of_the_region_exactly_once(emulator: Emulator) -> None:
    """Without version ARNs, a crawl discovers every dataset group, solution and version of
    the client's region and lists both kinds for each: every job of the account-wide
    listings exactly once, on pages naming their region, kind and version, each chain
    ending on a page without a next token, and progress complete at the end."""
    expected = await region_inventory(emulator)
    emulator.stats.reset()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(strategy="versions", page_size=PAGE_SIZE)
        pages = await all_pages(listing)
    versions = set(emulator.solution_version_arns())
    stats = emulator.stats
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs)) == 2 * VERSIONS * 6
    assert set(jobs) == expected
    for page in pages:
        assert page.region == REGION
        assert page.kind in KINDS
        assert page.solution_version_arn in versions
        assert all(kind_of(job) == page.kind for job in page.items)
        assert all(job.solution_version_arn == page.solution_version_arn for job in page.items)
    by_chain: dict[Chain, list[Page[Any]]] = {}
    for page in pages:
        by_chain.setdefault(chain_of(page), []).append(page)
    assert set(by_chain) == {(REGION, kind, v) for kind in KINDS for v in versions}
    for chain_pages in by_chain.values():
        assert [page.next_token is None for page in chain_pages] == [False, True]
    progress = listing.progress
    assert progress.versions == progress.versions_done == 2 * VERSIONS
    assert progress.versions_failed == 0
    assert progress.discovering is False
    assert progress.jobs == len(jobs)
    assert progress.pages == len(pages)
    assert listing.failures == ()
    # Discovery went dataset group -> solution -> version, one call per parent, and
    # nothing was listed twice.
    assert stats.by_operation["ListDatasetGroups"] == 1
    assert stats.by_operation["ListSolutions"] == SMALL.dataset_groups
    assert stats.by_operation["ListSolutionVersions"] == (
        SMALL.dataset_groups * SMALL.solutions_per_dataset_group
    )
    for operation in LIST_OPERATIONS.values():
        assert stats.by_operation[operation] == VERSIONS * PAGES_PER_CHAIN


@pytest.mark.parametrize(
    ("kinds", "listed"),
    [
        (("segment",), {"segment"}),
        (["inference"], {"inference"}),
        (("inference", "inference"), {"inference"}),
        (["segment", "inference", "segment"], {"inference", "segment"}),
    ],
)
async def test_a_crawl_lists_only_the_kinds_asked_and_each_once(
    emulator: Emulator, kinds: Iterable[str], listed: set[str]
) -> None:
    """``kinds`` chooses the job kinds listed: only those jobs are delivered and only their
    operation is called, and a kind given twice is listed once."""
    expected = await region_inventory(emulator, kinds=listed)
    emulator.stats.reset()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(strategy="versions", kinds=kinds, page_size=PAGE_SIZE)  # type: ignore[arg-type]
        pages = await all_pages(listing)
    stats = emulator.stats
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == expected
    assert {page.kind for page in pages} == listed
    for kind, operation in LIST_OPERATIONS.items():
        assert stats.by_operation[operation] == (
            VERSIONS * PAGES_PER_CHAIN if kind in listed else 0
        )
    assert listing.progress.versions == listing.progress.versions_done == VERSIONS * len(listed)


@pytest.mark.parametrize(
    ("parameter", "arguments"),
    [
        ("kinds", {"kinds": ()}),
        ("kinds", {"kinds": []}),
        ("kinds", {"kinds": ["bogus"]}),
        ("kinds", {"kinds": ["inference", "Segment"]}),
        ("kinds", {"kinds": ["batch-inference"]}),
        ("kinds", {"kinds": "inference"}),
        ("kinds", {"kinds": [None]}),
        ("regions", {"regions": ["US-EAST-1"]}),
        ("regions", {"regions": ["us_east_1"]}),
        ("regions", {"regions": [""]}),
        ("regions", {"regions": ["us-east-1", "eu west 1"]}),
        ("regions", {"regions": [42]}),
        ("regions", {"regions": "us-east-1"}),
        (
            "solution_version_arns[1]",
            {"solution_version_arns": [VERSION_ARN, "arn:aws:personalize:Not A Region:1:x"]},
        ),
    ],
)
async def test_bad_kinds_or_regions_are_refused_at_the_call_before_any_request(
    emulator: Emulator, parameter: str, arguments: dict[str, Any]
) -> None:
    """An empty or unknown kind, or a region that is not a region name (or a bare string
    instead of a list of them, or in a version's ARN), raises ParamValidationError naming the parameter when the
    crawl is created, and nothing is sent."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        with pytest.raises(ParamValidationError) as info:
            client.crawl_batch_jobs(**arguments)
        assert info.value.parameter.startswith(parameter)
        assert emulator.stats.requests == 0


async def test_one_client_crawls_several_regions(emulator: Emulator) -> None:
    """With ``regions``, one client pointed at the emulator crawls each region (the
    emulator tells them apart by each request's credential scope): every job of both
    regions once, on pages naming the region the job's ARN names."""
    regions = [REGION, OTHER_REGION]
    expected = await region_inventory(emulator, REGION)
    expected |= await region_inventory(emulator, OTHER_REGION)
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(strategy="versions", regions=regions, page_size=PAGE_SIZE)
        pages = await all_pages(listing)
    versions = {r: set(emulator.solution_version_arns(r)) for r in regions}
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == expected
    assert {region for region, _, _ in jobs} == set(regions)
    for page in pages:
        assert page.region in versions
        assert page.solution_version_arn in versions[page.region]
        assert all(f":{page.region}:" in job_arn(job) for job in page.items)
    assert listing.progress.versions == listing.progress.versions_done == 2 * 2 * VERSIONS


async def test_given_versions_are_listed_in_their_own_region_without_discovery(
    emulator: Emulator,
) -> None:
    """With ``solution_version_arns``, nothing is discovered (no ListDatasetGroups,
    ListSolutions or ListSolutionVersions request), a version given twice is listed
    once, and each version is listed in the region its ARN names."""
    east = emulator.solution_version_arns(REGION)[:2]
    west = emulator.solution_version_arns(OTHER_REGION)[:1]
    given = [*east, *west, east[0]]
    expected: set[tuple[str, str, str]] = set()
    for version in {*east, *west}:
        expected |= await version_jobs(emulator, version)
    emulator.stats.reset()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(solution_version_arns=given, page_size=PAGE_SIZE)
        pages = await all_pages(listing)
    stats = emulator.stats
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs)) == 3 * 2 * 6
    assert set(jobs) == expected
    for page in pages:
        assert page.region == str(page.solution_version_arn).split(":")[3]
    for operation in DISCOVERY_OPERATIONS:
        assert stats.by_operation[operation] == 0
    for operation in LIST_OPERATIONS.values():
        assert stats.by_operation[operation] == 3 * PAGES_PER_CHAIN
    assert listing.progress.versions == listing.progress.versions_done == 3 * 2
    assert listing.progress.discovering is False


async def test_a_resume_token_the_service_refuses_lists_that_chain_again_marked(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A chain resumed after a token the service refuses (expired) is listed again from
    its start, every page of it marked ``restarted`` and one log line saying so; the
    other chain of the version is listed as usual, and both count as done."""
    (version,) = emulator.solution_version_arns(REGION)[:1]
    expected = await version_jobs(emulator, version)
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(
            solution_version_arns=[version],
            page_size=PAGE_SIZE,
            resume={(REGION, "inference", version): "expired-token"},
        )
        with caplog.at_level(logging.INFO, logger="aiopersonalize"):
            pages = await all_pages(listing)
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == expected
    marks = {(page.kind, page.restarted) for page in pages}
    assert marks == {("inference", True), ("segment", False)}
    assert [r.getMessage() for r in caplog.records] == [
        f"ListBatchInferenceJobs of {version} in {REGION}: the resume token was refused; "
        "listing it again from the start"
    ]
    assert listing.progress.versions == listing.progress.versions_done == 2
    assert listing.failures == ()


async def test_chains_an_earlier_run_finished_are_skipped_and_counted_done(
    emulator: Emulator,
) -> None:
    """Chains the resume mapping marks finished (``None``) are not listed again, and each
    of them counts as a chain done alongside those listed now."""
    first, second = emulator.solution_version_arns(REGION)[:2]
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(
            solution_version_arns=[first, second],
            page_size=PAGE_SIZE,
            resume={(REGION, "inference", first): None, (REGION, "segment", first): None},
        )
        pages = await all_pages(listing)
    assert set(delivered(pages)) == await version_jobs(emulator, second)
    assert {page.solution_version_arn for page in pages} == {second}
    assert listing.progress.versions == listing.progress.versions_done == 4


async def test_skip_does_not_swallow_missing_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under ``on_error="skip"``, missing credentials for AWS still end the crawl with
    ConfigurationError: no chain could succeed, so it is no failure of one chain to
    record, and no request is sent. (A loopback endpoint would sign with dummy keys:
    tests/test_first_run.py.)"""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with Client(region_name=REGION) as client:
        listing = client.crawl_batch_jobs(strategy="versions", on_error="skip")
        with pytest.raises(ConfigurationError):
            await all_pages(listing)
        assert client.stats.requests == 0
    assert listing.failures == ()


async def test_with_one_worker_a_versions_jobs_come_before_more_discovery() -> None:
    """With one worker, the jobs of a version just found are listed before the next
    discovery call waiting at the deepest level: jobs first, then the deepest discovery."""
    account = FakeAccount.build({REGION: {"a": 1}})
    account.add_solution(REGION, "a", "b", 1)
    async with (
        fake_service(account) as peer,
        Client(endpoint_url=peer.endpoint_url, region_name=REGION) as client,
    ):
        listing = client.crawl_batch_jobs(strategy="versions", concurrency=1, kinds=["inference"])
        pages = await all_pages(listing)
    assert set(delivered(pages)) == {job for job in account.jobs() if job[1] == "inference"}
    operations = [
        (op, body.get("solutionArn") or body.get("solutionVersionArn", "")[-8:])
        for op, body in peer.requests
    ]
    first, second = (account.solution(REGION, name) for name in ("a", "b"))
    assert operations == [
        ("ListDatasetGroups", ""),
        ("ListSolutions", ""),
        ("ListSolutionVersions", first),
        ("ListBatchInferenceJobs", "a0000000"),
        ("ListSolutionVersions", second),
        ("ListBatchInferenceJobs", "b0000000"),
    ]


async def test_a_refused_resume_token_of_an_account_wide_chain_is_logged_as_such(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An account-wide chain whose resume token the service refuses is listed again from
    its start, and the log line names "the account" for it."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(
            kinds=["inference"], resume={(REGION, "inference", None): "expired-token"}
        )
        with caplog.at_level(logging.INFO, logger="aiopersonalize"):
            pages = await all_pages(listing)
    assert set(delivered(pages)) == await region_inventory(emulator, kinds=["inference"])
    assert all(page.restarted for page in pages)
    assert [r.getMessage() for r in caplog.records] == [
        f"ListBatchInferenceJobs of the account in {REGION}: the resume token was refused; "
        "listing it again from the start"
    ]


# -- the pool ---------------------------------------------------------------------------


SIX_SOLUTIONS = InventorySpec(
    dataset_groups=3,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=2,
    segment_jobs_per_version=2,
)


@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SIX_SOLUTIONS))
async def test_the_pool_caps_discovery_and_listing_together(
    emulator: Emulator, concurrency: int
) -> None:
    """With ``concurrency=k`` and more work than k, the server sees exactly k requests in
    flight at the peak, discovery requests included (3 groups x 2 solutions make 6
    ListSolutionVersions calls that would exceed k if discovery ran outside the pool)."""
    expected = await region_inventory(emulator)
    emulator.stats.reset()
    emulator.faults = Faults(latency=0.02)
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        pages = await all_pages(
            client.crawl_batch_jobs(strategy="versions", concurrency=concurrency)
        )
    peak = emulator.stats.peak_in_flight
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == expected
    assert peak == concurrency


async def test_listing_starts_while_discovery_is_still_running() -> None:
    """Versions are listed as they are discovered: while one dataset group's ListSolutions
    call is held unanswered, the jobs of another group's version arrive (and progress
    says discovery is still running); once it is answered, the crawl completes."""
    account = FakeAccount.build({REGION: {"a": 1, "b": 1}})
    gate = account.gates[account.group(REGION, "b")] = anyio.Event()
    async with (
        fake_service(account) as peer,
        Client(endpoint_url=peer.endpoint_url, region_name=REGION) as client,
    ):
        listing = client.crawl_batch_jobs(strategy="versions", concurrency=4)
        async with listing:
            with anyio.fail_after(10):
                first = await listing.__anext__()
            assert listing.progress.discovering is True
            assert not gate.is_set()
            gate.set()
            rest = [job async for job in listing]
        progress = listing.progress
    jobs = [(REGION, kind_of(job), job_arn(job)) for job in [first, *rest]]
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == account.jobs()
    assert progress.discovering is False
    assert progress.versions == progress.versions_done == 2 * 2


EIGHTEEN_SOLUTIONS = InventorySpec(
    dataset_groups=6,
    solutions_per_dataset_group=3,
    versions_per_solution=1,
    inference_jobs_per_version=1,
    segment_jobs_per_version=1,
)


@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=EIGHTEEN_SOLUTIONS, faults=Faults(latency=0.02))
)
async def test_jobs_arrive_before_a_large_discovery_has_ended(emulator: Emulator) -> None:
    """Against a slow emulator, a crawl whose discovery takes many rounds of the pool (25
    discovery calls for 4 workers) delivers its first job while discovery is still
    running, rather than after every discovery call."""
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(strategy="versions", concurrency=4)
        async with listing:
            await listing.__anext__()
            discovering = listing.progress.discovering
            discovery_calls = sum(emulator.stats.by_operation[op] for op in DISCOVERY_OPERATIONS)
            rest = [job async for job in listing]
    # A worker needs 4 requests (ListDatasetGroups, ListSolutions, ListSolutionVersions,
    # then the jobs) to deliver a first job; by then the 4 workers have made at most 16
    # requests, fewer than the 25 discovery calls.
    assert discovering is True, f"the first job came after {discovery_calls} discovery calls"
    assert len(rest) == 2 * 18 - 1


# -- resuming ---------------------------------------------------------------------------


def resume_from(pages: Iterable[Page[Any]]) -> dict[Chain, str | None]:
    """The resume mapping a checkpoint would hold after ``pages``: each chain's last token
    (None once the chain is finished)."""
    resume: dict[Chain, str | None] = {}
    for page in pages:
        resume[chain_of(page)] = page.next_token
    return resume


def cut_with_every_state(pages: list[Page[Any]]) -> int:
    """The first prefix length after which some chain is finished, some is half-way and
    some has not started: a prefix that exercises every case of resuming."""
    chains = {chain_of(page) for page in pages}
    for cut in range(1, len(pages)):
        resume = resume_from(pages[:cut])
        finished = [c for c, token in resume.items() if token is None]
        partial = [c for c, token in resume.items() if token is not None]
        if finished and partial and len(resume) < len(chains):
            return cut
    raise AssertionError("no prefix has finished, half-way and unstarted chains")


async def test_a_resumed_crawl_delivers_exactly_the_jobs_not_yet_delivered(
    emulator: Emulator,
) -> None:
    """A crawl resumed from a prefix of a complete crawl's pages (each chain's last token,
    None for finished chains) delivers exactly the jobs the prefix lacks: with the prefix,
    every job once; it sends only the requests of the unfinished chains' remaining
    pages, none for finished chains; and its progress counts every chain done."""
    page_size = 2  # 6 jobs: 3 pages per chain
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        complete = await all_pages(
            client.crawl_batch_jobs(strategy="versions", page_size=page_size, concurrency=3)
        )
    everything = delivered(complete)
    cut = cut_with_every_state(complete)
    prefix = complete[:cut]
    resume = resume_from(prefix)
    emulator.stats.reset()
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(
            strategy="versions", page_size=page_size, concurrency=3, resume=resume
        )
        rest = await all_pages(listing)
    stats = emulator.stats
    before, after = delivered(prefix), delivered(rest)
    assert len(everything) == len(set(everything)) == 2 * VERSIONS * 6
    assert len(after) == len(set(after))
    assert set(after) == set(everything) - set(before)
    assert Counter(before + after) == Counter(everything)
    done_before = Counter(chain_of(page) for page in prefix)
    remaining = sum(
        0 if resume.get(chain, "") is None else 3 - done_before[chain]
        for chain in {chain_of(page) for page in complete}
    )
    listed = sum(stats.by_operation[op] for op in LIST_OPERATIONS.values())
    assert listed == remaining
    assert {chain_of(page) for page in rest}.isdisjoint(
        {chain for chain, token in resume.items() if token is None}
    )
    # Chains finished by the earlier run count as done: the crawl reports all of them.
    assert listing.progress.versions == listing.progress.versions_done == 2 * VERSIONS


# -- error policies ---------------------------------------------------------------------


async def test_skip_lists_everything_else_and_records_each_denied_chain(emulator: Emulator) -> None:
    """With ``on_error="skip"``, a version the service denies is recorded as one
    ListingFailure per kind (its version, kind, region, operation and the original
    AccessDeniedError) while every job of every other version is listed once."""
    denied = emulator.solution_version_arns()[1]
    expected = await region_inventory(emulator) - await version_jobs(emulator, denied)
    emulator.faults = Faults(deny_solution_versions=frozenset({denied}))
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        listing = client.crawl_batch_jobs(strategy="versions", page_size=PAGE_SIZE, on_error="skip")
        pages = await all_pages(listing)
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == expected
    failures = sorted(listing.failures, key=lambda f: str(f.kind))
    assert [(f.solution_version_arn, f.kind, f.region) for f in failures] == [
        (denied, "inference", REGION),
        (denied, "segment", REGION),
    ]
    for failure in failures:
        assert isinstance(failure, ListingFailure)
        assert type(failure.error) is AccessDeniedError
        assert failure.error.code == "AccessDeniedException"
        assert failure.operation == LIST_OPERATIONS[str(failure.kind)]
        assert failure.next_token is None
    progress = listing.progress
    assert progress.versions == 2 * VERSIONS
    assert progress.versions_failed == 2
    assert progress.versions_done == 2 * VERSIONS - 2
    assert progress.discovering is False


@pytest.mark.personalize_emulator(EmulatorOptions(inventory=SMALL, faults=Faults(latency=0.02)))
async def test_raise_ends_the_crawl_with_the_original_error_and_nothing_left_running(
    emulator: Emulator,
) -> None:
    """With the default ``on_error="raise"``, a denied version ends the crawl with the
    original AccessDeniedError (not a group), and once it is raised no task of the crawl
    is left and the server has no request in flight."""
    denied = emulator.solution_version_arns()[2]
    emulator.faults = Faults(latency=0.02, deny_solution_versions=frozenset({denied}))
    async with Client(endpoint_url=emulator.endpoint_url, region_name=REGION) as client:
        with pytest.raises(AccessDeniedError) as info:
            async for _job in client.crawl_batch_jobs(
                strategy="versions", page_size=PAGE_SIZE, concurrency=4
            ):
                pass
        assert type(info.value) is AccessDeniedError
        assert info.value.solution_version_arn == denied
        await wait_no_producers()
        await wait_until(lambda: emulator.stats.in_flight == 0)


def discovery_failures_account() -> FakeAccount:
    """us-east-1: group "a" lists fine, group "b"'s ListSolutions is denied, group "c" has
    one solution that lists fine and one whose ListSolutionVersions is denied;
    eu-west-1: ListDatasetGroups itself is denied."""
    account = FakeAccount.build({REGION: {"a": 1, "b": 1, "c": 1}, OTHER_REGION: {"w": 1}})
    denied_solution = account.add_solution(REGION, "c", "c2", 1)
    account.denied |= {account.group(REGION, "b"), denied_solution, OTHER_REGION}
    return account


async def test_a_version_discovered_twice_is_listed_once() -> None:
    """When discovery returns a solution version twice (a service answering with a
    repeat), its jobs are listed and delivered once and it counts as one chain per kind."""
    account = FakeAccount.build({REGION: {"a": 2}})
    versions = account.tree[REGION][account.group(REGION, "a")][account.solution(REGION, "a")]
    versions.append(versions[0])
    async with (
        fake_service(account) as peer,
        Client(endpoint_url=peer.endpoint_url, region_name=REGION) as client,
    ):
        listing = client.crawl_batch_jobs(strategy="versions", concurrency=2)
        pages = await all_pages(listing)
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == account.jobs()
    listed = Counter(op for op, _ in peer.requests if op in LIST_OPERATIONS.values())
    assert listed == dict.fromkeys(LIST_OPERATIONS.values(), 2)
    assert listing.progress.versions == listing.progress.versions_done == 2 * 2


async def test_skip_records_failed_discovery_calls_and_lists_the_rest() -> None:
    """With ``on_error="skip"``, failed discovery calls (ListDatasetGroups of a region,
    ListSolutions of a dataset group, ListSolutionVersions of a solution) are recorded as
    ListingFailures without a version or kind, naming the operation, region and parent,
    and every version discovered otherwise is listed."""
    account = discovery_failures_account()
    reachable = [
        version
        for group in ("a", "c")
        for version in account.tree[REGION][account.group(REGION, group)][
            account.solution(REGION, group)
        ]
    ]
    async with (
        fake_service(account) as peer,
        Client(endpoint_url=peer.endpoint_url, region_name=REGION) as client,
    ):
        listing = client.crawl_batch_jobs(
            strategy="versions", regions=[REGION, OTHER_REGION], on_error="skip"
        )
        pages = await all_pages(listing)
    jobs = delivered(pages)
    assert len(jobs) == len(set(jobs))
    assert set(jobs) == account.jobs(reachable)
    failures = sorted(listing.failures, key=lambda f: f.operation)
    assert [(f.operation, f.region, f.parent_arn) for f in failures] == [
        ("ListDatasetGroups", OTHER_REGION, None),
        ("ListSolutionVersions", REGION, account.solution(REGION, "c2")),
        ("ListSolutions", REGION, account.group(REGION, "b")),
    ]
    for failure in failures:
        assert failure.solution_version_arn is None
        assert failure.kind is None
        assert type(failure.error) is AccessDeniedError
    assert listing.progress.discovering is False
    assert listing.progress.versions_done == 2 * len(reachable)


async def test_raise_ends_the_crawl_at_a_failed_discovery_call() -> None:
    """With ``on_error="raise"``, a failed discovery call ends the crawl with its original
    AccessDeniedError, naming the discovery operation, and nothing is left running."""
    account = discovery_failures_account()
    async with (
        fake_service(account) as peer,
        Client(endpoint_url=peer.endpoint_url, region_name=REGION) as client,
    ):
        with pytest.raises(AccessDeniedError) as info:
            await client.crawl_batch_jobs(
                strategy="versions", regions=[REGION, OTHER_REGION]
            ).collect()
        assert type(info.value) is AccessDeniedError
        assert info.value.operation in DISCOVERY_OPERATIONS
        await wait_no_producers()


async def test_a_repeated_token_in_discovery_is_named_by_its_operation() -> None:
    """A discovery call answered again with the nextToken it already gave ends the crawl
    with PaginationError naming that discovery operation (``ListDatasetGroups``)."""
    again = Reply({"datasetGroups": [], "nextToken": "same"})
    async with connected([again, again], region_name=REGION) as (peer, client):
        listing = client.crawl_batch_jobs(strategy="versions", concurrency=1)
        with pytest.raises(PaginationError) as info:
            await listing.collect()
    assert info.value.operation == "ListDatasetGroups"
    assert peer.operations() == ["ListDatasetGroups", "ListDatasetGroups"]


# -- leaving early ----------------------------------------------------------------------


async def test_breaking_out_mid_discovery_cancels_the_discovery_in_flight() -> None:
    """Breaking out of a crawl while a discovery call is unanswered cancels that request
    (the server sees it abandoned) and leaves no task of the crawl running."""
    account = FakeAccount.build({REGION: {"a": 1, "b": 1}})
    account.gates[account.group(REGION, "b")] = anyio.Event()  # never set
    async with (
        fake_service(account) as peer,
        Client(endpoint_url=peer.endpoint_url, region_name=REGION) as client,
    ):
        with anyio.fail_after(10):
            async for _job in client.crawl_batch_jobs(strategy="versions", concurrency=4):
                break
        await peer.abandoned.reach(1)
        await wait_no_producers()
    assert "ListSolutions" in peer.operations()


SIXTEEN_VERSIONS = InventorySpec(
    dataset_groups=4,
    solutions_per_dataset_group=2,
    versions_per_solution=2,
    inference_jobs_per_version=4,
    segment_jobs_per_version=4,
)


@pytest.mark.parametrize("how", ["async with", "drop", "close the client"])
@pytest.mark.personalize_emulator(
    EmulatorOptions(inventory=SIXTEEN_VERSIONS, faults=Faults(latency=0.05))
)
async def test_leaving_a_crawl_early_leaves_nothing_running(emulator: Emulator, how: str) -> None:
    """Leaving a crawl after its first page against a slow emulator (leaving
    ``async with``, dropping the listing unclosed, or closing the client) cancels the
    whole pool, discovery included: no task is left and the server has no request in
    flight; a crawl cut short by closing the client then raises ClientClosedError."""
    client = Client(endpoint_url=emulator.endpoint_url, region_name=REGION)
    try:
        listing = client.crawl_batch_jobs(strategy="versions", page_size=2, concurrency=6)
        if how == "async with":
            async with listing:
                await listing.__anext__()
            assert producer_tasks() == set()
        elif how == "drop":
            await listing.__anext__()
            del listing
            gc.collect()
        else:
            pages = listing.pages()
            await pages.__anext__()
            await client.aclose()
            with pytest.raises(ClientClosedError):
                async for _page in pages:
                    pass
        await wait_no_producers()
        await wait_until(lambda: emulator.stats.in_flight == 0)
        requests = emulator.stats.requests
    finally:
        await client.aclose()
    # Nowhere near the whole crawl was requested: it stopped early.
    assert requests < 4 * 2 * 2 * 2 * 2
