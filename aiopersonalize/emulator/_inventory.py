"""The seeded inventory: dataset groups, solutions, solution versions and batch jobs.

Each region's inventory is derived from ``(seed, region)`` alone. Dataset groups,
solutions and versions are few and built eagerly; batch jobs are computed from their
index on demand, so a million-job inventory holds no per-job object.

Solution versions are ``ACTIVE`` unless the spec asks for a share of ``CREATE FAILED``
and ``CREATE STOPPED`` ones, picked per region from the seed. Only an ACTIVE version
can run batch jobs, so the others hold none: jobs are numbered over the ``A`` ACTIVE
versions alone (all ``V`` of them by default).

Jobs of one kind are numbered ``g = 0 .. T-1`` newest first over the ACTIVE solution
versions: job ``g`` belongs to ACTIVE version ``g % A`` and was created at
``BASE - g*step - jitter(g)`` with ``0 <= jitter < step``, so creation times strictly
decrease with ``g``. Newest-first over all versions is ``g`` ascending; over ACTIVE
version ``a`` it is the stride ``a, a+A, a+2A, ...``. Jobs created through the API live
in memory above the seeded ones (they are always the newest).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aiopersonalize import JobKindName

from ._model import ACCOUNT_ID
from ._tokens import Cursor

__all__ = [
    "KINDS",
    "CreatedJob",
    "InventorySpec",
    "JobKind",
    "KindTable",
    "RegionInventory",
    "SeededJobs",
]

JobKind = JobKindName  # the library's own word for the two kinds

# The newest seeded job's creation time (2024-05-31T16:08:37.123Z), in milliseconds.
_BASE_MS = 1_717_171_717_123
# Seeded jobs spread over the year before it, solution versions over the months before.
_JOB_SPAN_MS = 365 * 86_400_000
_RESOURCE_GAP_MS = 6 * 3_600_000
_MINUTE_MS = 60_000

_DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND", None)
_DATASET_GROUP_WORDS = (
    "retail", "video", "news", "music", "travel", "grocery", "fashion", "books",
    "games", "sports", "podcasts", "recipes",
)  # fmt: skip
_DATASET_GROUP_SUFFIXES = ("recs", "catalog", "discovery", "ranking", "personalization")
_RECIPES = (
    "aws-user-personalization-v2",
    "aws-personalized-ranking-v2",
    "aws-similar-items",
    "aws-trending-now",
    "aws-item-attribute-affinity",
    "aws-popularity-count",
)
_JOB_WORDS = (
    "nightly", "weekly", "backfill", "holiday", "campaign", "cold-start", "refresh",
    "email", "homepage", "promo", "churn", "winback",
)  # fmt: skip
_FAILURE_REASONS = (
    "Insufficient privileges for accessing data in S3. Please look at "
    "https://docs.aws.amazon.com/personalize/latest/dg/granting-personalize-s3-access.html "
    "and add the required permissions.",
    "Input file s3://{bucket}/batch-input/{name}.json does not exist.",
    "The input file is not a valid JSON Lines file: line 3 is not valid JSON.",
    "The number of input records exceeds the limit for a batch job.",
    "Internal server error. Please retry the batch job.",
)
# Why a seeded solution version failed to train (its ``failureReason``).
_VERSION_FAILURE_REASONS = (
    "There should be at least 1000 interactions and 25 unique users with at least "
    "2 interactions each in the interactions dataset to train a model.",
    "Insufficient privileges for accessing data in S3. Please look at "
    "https://docs.aws.amazon.com/personalize/latest/dg/granting-personalize-s3-access.html "
    "and add the required permissions.",
    "The items dataset has no items that appear in the interactions dataset.",
    "Internal server error. Please retry creating the solution version.",
)
_FILTER_NAMES = ("exclude-purchased", "in-stock-only", "new-releases", "family-friendly")
_THEME_FIELDS = ("TITLE", "ITEM_NAME", "PRODUCT_NAME")
_NUM_RESULTS = (10, 20, 25, 50, 100)
_BATCH_MODE_JSON = ',"batchInferenceJobMode":"BATCH_INFERENCE"'
_THEME_MODE_JSON = ',"batchInferenceJobMode":"THEME_GENERATION"'


@dataclass(frozen=True, slots=True)
class InventorySpec:
    """The shape of each region's seeded inventory.

    Every ACTIVE solution version gets the same number of jobs of each kind. The default
    is 2 dataset groups x 3 solutions x 2 versions = 12 solution versions, all ACTIVE,
    with 50 jobs of each kind apiece: 600 batch inference and 600 batch segment jobs
    per region.

    Attributes:
        dataset_groups: dataset groups per region.
        solutions_per_dataset_group: solutions in each dataset group.
        versions_per_solution: solution versions of each solution.
        inference_jobs_per_version: batch inference jobs of each ACTIVE version.
        segment_jobs_per_version: batch segment jobs of each ACTIVE version.
        failed_fraction: the share of seeded jobs that are ``CREATE FAILED``, drawn
            per job.
        failed_versions_fraction: the share of solution versions that are
            ``CREATE FAILED`` (with a ``failureReason``): exactly this share of the
            region's versions, rounded to the nearest, picked from the seed. They
            hold no batch jobs, and none can be created on them.
        stopped_versions_fraction: the same for ``CREATE STOPPED`` versions (training
            stopped by its owner); the two fractions add up to at most 1.
        autotrain_solutions_fraction: the share of solutions (rounded to the nearest,
            picked from the seed) created with automatic training, whose versions
            are ``trainingMode`` ``AUTOTRAIN`` and ``trainingType`` ``AUTOMATIC``.
            Other solutions' versions are ``FULL`` (the newest) or ``UPDATE``.
    """

    dataset_groups: int = 2
    solutions_per_dataset_group: int = 3
    versions_per_solution: int = 2
    inference_jobs_per_version: int = 50
    segment_jobs_per_version: int = 50
    failed_fraction: float = 0.05
    failed_versions_fraction: float = 0.0
    stopped_versions_fraction: float = 0.0
    autotrain_solutions_fraction: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "dataset_groups",
            "solutions_per_dataset_group",
            "versions_per_solution",
            "inference_jobs_per_version",
            "segment_jobs_per_version",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        for name in (
            "failed_fraction",
            "failed_versions_fraction",
            "stopped_versions_fraction",
            "autotrain_solutions_fraction",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, not {type(value).__name__}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.failed_versions_fraction + self.stopped_versions_fraction > 1.0 + 1e-9:
            raise ValueError(
                "failed_versions_fraction and stopped_versions_fraction must add up to at "
                f"most 1, not {self.failed_versions_fraction + self.stopped_versions_fraction}"
            )

    @classmethod
    def empty(cls) -> InventorySpec:
        """No resources at all."""
        return cls(0, 0, 0, 0, 0)

    @property
    def solutions(self) -> int:
        """Solutions per region."""
        return self.dataset_groups * self.solutions_per_dataset_group

    @property
    def solution_versions(self) -> int:
        """Solution versions per region, whatever their status."""
        return self.solutions * self.versions_per_solution

    @property
    def failed_versions(self) -> int:
        """``CREATE FAILED`` solution versions per region."""
        return _share(self.failed_versions_fraction, self.solution_versions)

    @property
    def stopped_versions(self) -> int:
        """``CREATE STOPPED`` solution versions per region."""
        both = self.failed_versions_fraction + self.stopped_versions_fraction
        return _share(both, self.solution_versions) - self.failed_versions

    @property
    def active_versions(self) -> int:
        """``ACTIVE`` solution versions per region: those that hold batch jobs."""
        return self.solution_versions - self.failed_versions - self.stopped_versions

    @property
    def autotrain_solutions(self) -> int:
        """Solutions per region created with automatic training."""
        return _share(self.autotrain_solutions_fraction, self.solutions)

    def jobs_per_version(self, kind: JobKind) -> int:
        """Seeded jobs of ``kind`` per ACTIVE solution version."""
        return KINDS[kind].jobs_per_version(self)

    def total_jobs(self, kind: JobKind) -> int:
        """Seeded jobs of ``kind`` per region."""
        return self.active_versions * self.jobs_per_version(kind)

    def fingerprint(self) -> str:
        """The spec as text (for the paging-token key): specs that differ, differ here."""
        text = (
            f"{self.dataset_groups}/{self.solutions_per_dataset_group}/"
            f"{self.versions_per_solution}/{self.inference_jobs_per_version}/"
            f"{self.segment_jobs_per_version}/{self.failed_fraction!r}"
        )
        extra = (
            self.failed_versions_fraction,
            self.stopped_versions_fraction,
            self.autotrain_solutions_fraction,
        )
        if any(extra):
            # Only then: the default spec keeps the key (and tokens) it always had.
            text += "/" + "/".join(repr(value) for value in extra)
        return text


def _share(fraction: float, count: int) -> int:
    """``fraction`` of ``count``, rounded to the nearest (halves up), at most ``count``."""
    return min(count, math.floor(fraction * count + 0.5))


_MASK = 0xFFFFFFFFFFFFFFFF


def _mix(value: int) -> int:
    """SplitMix64's finalizer: a fast, well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _mode(h: int) -> str:
    """The ``batchInferenceJobMode`` of the seeded inference job of hash ``h``."""
    return "THEME_GENERATION" if (h >> 50) % 10 == 0 else "BATCH_INFERENCE"


def _inference_details(h: int, job: dict[str, Any]) -> None:
    """Add the members only batch inference jobs describe to seeded ``job``."""
    mode = _mode(h)
    job["batchInferenceJobMode"] = mode
    if mode == "THEME_GENERATION":
        field_name = _THEME_FIELDS[(h >> 36) % len(_THEME_FIELDS)]
        job["themeGenerationConfig"] = {"fieldsForThemeGeneration": {"itemName": field_name}}
    config: dict[str, Any] = {
        "itemExplorationConfig": {
            "explorationWeight": f"0.{(h >> 44) % 10}",
            "explorationItemAgeCutOff": str(7 + (h >> 48) % 60),
        }
    }
    if (h >> 56) % 3 == 0:
        config["rankingInfluence"] = {
            "POPULARITY": ((h >> 52) % 11) / 10,
            "FRESHNESS": ((h >> 58) % 6) / 10,
        }
    job["batchInferenceJobConfig"] = config


def _no_details(h: int, job: dict[str, Any]) -> None:
    """Batch segment jobs describe no member of their own."""


@dataclass(frozen=True, slots=True)
class KindTable:
    """What differs between the two kinds of batch job, looked up once per use.

    Attributes:
        kind: the job kind.
        arn_member: the member holding a job's ARN (summaries, describe, requests).
        list_key: the list operation's result member.
        describe_key: the describe operation's result member.
        resource: the ARN's resource type (``arn:...:<resource>/<name>``).
        name_word: the middle word of seeded job names.
        salt: mixed into the region's seed for this kind's job hashes.
        mode_json: the closing summary members of seeded jobs, without and with
            theme generation.
        summary_details: members of a created job's details its summary repeats.
        jobs_per_version: the spec's number of seeded jobs per solution version.
        add_details: adds the kind's own members to a seeded job's description,
            given the job's hash.
    """

    kind: JobKind
    arn_member: str
    list_key: str
    describe_key: str
    resource: str
    name_word: str
    salt: int
    mode_json: tuple[str, str]
    summary_details: tuple[str, ...]
    jobs_per_version: Callable[[InventorySpec], int]
    add_details: Callable[[int, dict[str, Any]], None]


KINDS: Mapping[JobKind, KindTable] = MappingProxyType(
    {
        "inference": KindTable(
            kind="inference",
            arn_member="batchInferenceJobArn",
            list_key="batchInferenceJobs",
            describe_key="batchInferenceJob",
            resource="batch-inference-job",
            name_word="recs",
            salt=1,
            mode_json=(_BATCH_MODE_JSON, _THEME_MODE_JSON),
            summary_details=("batchInferenceJobMode",),
            jobs_per_version=lambda spec: spec.inference_jobs_per_version,
            add_details=_inference_details,
        ),
        "segment": KindTable(
            kind="segment",
            arn_member="batchSegmentJobArn",
            list_key="batchSegmentJobs",
            describe_key="batchSegmentJob",
            resource="batch-segment-job",
            name_word="segments",
            salt=2,
            mode_json=("", ""),
            summary_details=(),
            jobs_per_version=lambda spec: spec.segment_jobs_per_version,
            add_details=_no_details,
        ),
    }
)


def job_arn_prefix(kind: JobKind, region: str, account: str = ACCOUNT_ID) -> str:
    """``arn:aws:personalize:<region>:<account>:<resource>/``: jobs' ARNs less their name."""
    return f"arn:aws:personalize:{region}:{account}:{KINDS[kind].resource}/"


@dataclass(frozen=True, slots=True)
class _Resource:
    """A dataset group, solution or solution version, with its list summary pre-encoded."""

    arn: str
    parent_arn: str | None
    summary_json: str


@dataclass(slots=True)
class CreatedJob:
    """A batch job created through the API; its status follows the clock."""

    kind: JobKind
    sequence: int
    name: str
    arn: str
    solution_version_arn: str
    created_ms: int
    details: dict[str, Any]

    def status(self, now_ms: int, transition_ms: int) -> tuple[str, int]:
        """The status at ``now_ms`` and when the job entered it."""
        elapsed = now_ms - self.created_ms
        if elapsed >= 2 * transition_ms:
            return "ACTIVE", self.created_ms + 2 * transition_ms
        if elapsed >= transition_ms:
            return "IN PROGRESS", self.created_ms + transition_ms
        return "PENDING", self.created_ms

    def summary(self, now_ms: int, transition_ms: int) -> dict[str, Any]:
        status, updated_ms = self.status(now_ms, transition_ms)
        table = KINDS[self.kind]
        summary: dict[str, Any] = {
            table.arn_member: self.arn,
            "jobName": self.name,
            "status": status,
            "creationDateTime": self.created_ms / 1000,
            "lastUpdatedDateTime": updated_ms / 1000,
            "solutionVersionArn": self.solution_version_arn,
        }
        for member in table.summary_details:
            summary[member] = self.details[member]
        return summary

    def describe(self, now_ms: int, transition_ms: int) -> dict[str, Any]:
        return {**self.summary(now_ms, transition_ms), **self.details}


class SeededJobs:
    """The seeded jobs of one kind in one region, computed from their index."""

    __slots__ = (
        "_account",
        "_add_details",
        "_arn_key",
        "_arn_prefix",
        "_bucket",
        "_failed_below",
        "_name_prefixes",
        "_name_word",
        "_region",
        "_salt",
        "_step_ms",
        "_summary_head",
        "_summary_tails",
        "kind",
        "per_version",
        "total",
        "versions",
    )

    def __init__(
        self,
        kind: JobKind,
        region: str,
        region_seed: int,
        versions: Sequence[str],
        per_version: int,
        failed_fraction: float,
        account: str = ACCOUNT_ID,
    ) -> None:
        table = KINDS[kind]
        self._account = account
        self.kind: JobKind = kind
        self.versions = tuple(versions)
        self.per_version = per_version
        self.total = len(self.versions) * per_version
        self._region = region
        self._salt = _mix(region_seed ^ table.salt)
        self._step_ms = max(1, _JOB_SPAN_MS // max(1, self.total))
        self._failed_below = round(failed_fraction * 1_000_000)
        self._arn_prefix = job_arn_prefix(kind, region, account)
        self._arn_key = table.arn_member
        self._name_word = table.name_word
        self._add_details = table.add_details
        self._bucket = f"personalize-batch-{region_seed % 100_000:05d}"
        # The constant parts of summaries: name prefixes, and per version the closing
        # members for (not theme generation, theme generation).
        self._name_prefixes = tuple(f"{word}-{self._name_word}-" for word in _JOB_WORDS)
        self._summary_head = f'{{"{self._arn_key}":"{self._arn_prefix}'
        self._summary_tails = tuple(
            tuple(f',"solutionVersionArn":"{version}"{mode}}}' for mode in table.mode_json)
            for version in self.versions
        )

    def _hash(self, index: int) -> int:
        return _mix(self._salt ^ index)

    def name(self, index: int) -> str:
        word = _JOB_WORDS[self._hash(index) % len(_JOB_WORDS)]
        return f"{word}-{self._name_word}-{index:07d}"

    def arn(self, index: int) -> str:
        return self._arn_prefix + self.name(index)

    def index_of(self, name: str) -> int | None:
        """The index of the seeded job called ``name``, if there is one."""
        _, _, digits = name.rpartition("-")
        if not digits.isdigit() or not digits.isascii():
            return None
        index = int(digits)
        if index >= self.total or self.name(index) != name:
            return None
        return index

    def index_of_arn(self, arn: str) -> int | None:
        if not arn.startswith(self._arn_prefix):
            return None
        return self.index_of(arn[len(self._arn_prefix) :])

    def _facts(self, index: int) -> tuple[int, int, int, bool]:
        """(hash, created ms, updated ms, failed) of job ``index``."""
        h = self._hash(index)
        step = self._step_ms
        created = _BASE_MS - index * step - (h >> 8) % step
        failed = (h >> 40) % 1_000_000 < self._failed_below
        if failed:
            duration = _MINUTE_MS // 2 + (h >> 20) % (20 * _MINUTE_MS)
        else:
            duration = 5 * _MINUTE_MS + (h >> 20) % (175 * _MINUTE_MS)
        return h, created, created + duration, failed

    def _failure_reason(self, h: int, index: int) -> str:
        template = _FAILURE_REASONS[(h >> 12) % len(_FAILURE_REASONS)]
        return template.format(bucket=self._bucket, name=self.name(index))

    def summary_json(self, index: int) -> str:
        """Job ``index``'s list summary as a JSON object."""
        return self.summaries((index,))[0]

    def summaries(self, indices: Iterable[int]) -> list[str]:
        """The list summaries (JSON objects) of jobs ``indices``.

        The hot path of every list call: ``_facts`` and ``name`` are inlined, the
        constant parts pre-built, and each job costs one hash and one f-string.
        """
        out: list[str] = []
        append = out.append
        salt = self._salt
        step = self._step_ms
        failed_below = self._failed_below
        prefixes = self._name_prefixes
        prefix_count = len(prefixes)
        tails = self._summary_tails
        version_count = len(tails)
        head = self._summary_head
        mix = _mix
        base = _BASE_MS
        for index in indices:
            h = mix(salt ^ index)
            created = base - index * step - (h >> 8) % step
            name = f"{prefixes[h % prefix_count]}{index:07d}"
            if (h >> 40) % 1_000_000 < failed_below:
                updated = created + 30_000 + (h >> 20) % 1_200_000  # 30 s + < 20 min
                status = '"CREATE FAILED","failureReason":' + json.dumps(
                    self._failure_reason(h, index)
                )
            else:
                updated = created + 300_000 + (h >> 20) % 10_500_000  # 5 min + < 175 min
                status = '"ACTIVE"'
            # Milliseconds as seconds: all timestamps have 13 digits.
            c = str(created)
            u = str(updated)
            tail = tails[index % version_count][(h >> 50) % 10 == 0]
            append(
                f'{head}{name}","jobName":"{name}","status":{status},'
                f'"creationDateTime":{c[:-3]}.{c[-3:]},'
                f'"lastUpdatedDateTime":{u[:-3]}.{u[-3:]}{tail}'
            )
        return out

    def describe(self, index: int) -> dict[str, Any]:
        """Every field the service describes for job ``index``."""
        h, created, updated, failed = self._facts(index)
        name = self.name(index)
        region = self._region
        job: dict[str, Any] = {
            "jobName": name,
            self._arn_key: self._arn_prefix + name,
            "solutionVersionArn": self.versions[index % len(self.versions)],
            "numResults": _NUM_RESULTS[(h >> 16) % len(_NUM_RESULTS)],
            "roleArn": f"arn:aws:iam::{self._account}:role/PersonalizeBatchJobRole",
            "status": "CREATE FAILED" if failed else "ACTIVE",
            "creationDateTime": created / 1000,
            "lastUpdatedDateTime": updated / 1000,
        }
        if failed:
            job["failureReason"] = self._failure_reason(h, index)
        if (h >> 24) % 4 == 0:
            filter_name = _FILTER_NAMES[(h >> 28) % len(_FILTER_NAMES)]
            job["filterArn"] = f"arn:aws:personalize:{region}:{self._account}:filter/{filter_name}"
        source: dict[str, Any] = {"path": f"s3://{self._bucket}/batch-input/{name}.json"}
        destination: dict[str, Any] = {"path": f"s3://{self._bucket}/batch-output/{name}/"}
        if (h >> 32) % 5 == 0:
            key = f"arn:aws:kms:{region}:{self._account}:key/{_key_id(h)}"
            source["kmsKeyArn"] = key
            destination["kmsKeyArn"] = key
        job["jobInput"] = {"s3DataSource": source}
        job["jobOutput"] = {"s3DataDestination": destination}
        self._add_details(h, job)
        return job


def _key_id(h: int) -> str:
    hexed = f"{_mix(h):016x}{_mix(h + 1):016x}"
    return f"{hexed[:8]}-{hexed[8:12]}-4{hexed[13:16]}-a{hexed[17:20]}-{hexed[20:32]}"


@dataclass(slots=True)
class _CreatedJobs:
    jobs: list[CreatedJob] = field(default_factory=list)
    by_name: dict[str, CreatedJob] = field(default_factory=dict)


def _version_states(
    spec: InventorySpec, region_seed: int
) -> tuple[dict[int, str], dict[int, str], frozenset[int]]:
    """The region's versions that are not ACTIVE, and its automatically trained solutions.

    Returns:
        version index -> status (``CREATE FAILED`` or ``CREATE STOPPED``) for the
        versions that are not ACTIVE; version index -> ``failureReason`` for the failed
        ones; the indices of the solutions with automatic training. All empty for the
        default spec, whose versions are all ACTIVE and trained manually.
    """
    statuses: dict[int, str] = {}
    reasons: dict[int, str] = {}
    autotrain: frozenset[int] = frozenset()
    failed, stopped = spec.failed_versions, spec.stopped_versions
    if failed or stopped:
        # Naming only (not cryptography): a seeded PRNG keeps inventories reproducible.
        pick = random.Random(f"aiopersonalize.emulator.versions:{region_seed}")  # noqa: S311
        order = pick.sample(range(spec.solution_versions), k=failed + stopped)
        for v in order[:failed]:
            statuses[v] = "CREATE FAILED"
            reasons[v] = pick.choice(_VERSION_FAILURE_REASONS)
        for v in order[failed:]:
            statuses[v] = "CREATE STOPPED"
    if spec.autotrain_solutions:
        pick = random.Random(f"aiopersonalize.emulator.autotrain:{region_seed}")  # noqa: S311
        autotrain = frozenset(pick.sample(range(spec.solutions), k=spec.autotrain_solutions))
    return statuses, reasons, autotrain


class RegionInventory:
    """One region's inventory of one account: seeded resources and jobs, plus the jobs
    created since. The first account's (``ACCOUNT_ID``) is drawn as it always was;
    every other account's is drawn from the account too, so each has its own."""

    def __init__(
        self, spec: InventorySpec, seed: int, region: str, account: str = ACCOUNT_ID
    ) -> None:
        self.spec = spec
        self.region = region
        self.account = account
        where = region if account == ACCOUNT_ID else f"{account}:{region}"
        digest = hashlib.sha256(f"aiopersonalize.emulator:{seed}:{where}".encode()).digest()
        region_seed = int.from_bytes(digest[:8], "big")
        # Naming only (not cryptography): a seeded PRNG keeps inventories reproducible.
        rng = random.Random(region_seed)  # noqa: S311
        prefix = f"arn:aws:personalize:{region}:{account}"

        per_solution = spec.versions_per_solution
        per_group = spec.solutions_per_dataset_group
        newest_version_ms = _BASE_MS - _JOB_SPAN_MS - 86_400_000
        # Versions that are not ACTIVE, and solutions with automatic training: drawn
        # from a generator of their own, so that the names, ARNs and times drawn from
        # ``rng`` are the same whatever the shares (and none is drawn by default).
        statuses, reasons, autotrain = _version_states(spec, region_seed)

        def created(position: int, offset_ms: int) -> int:
            return newest_version_ms - position * _RESOURCE_GAP_MS - offset_ms

        groups: list[_Resource] = []
        solutions: list[_Resource] = []
        versions: list[_Resource] = []
        words = rng.sample(_DATASET_GROUP_WORDS, k=len(_DATASET_GROUP_WORDS))
        for i in range(spec.dataset_groups):
            group_name = (
                f"{words[i % len(words)]}-{rng.choice(_DATASET_GROUP_SUFFIXES)}-{i + 1:02d}"
            )
            group_arn = f"{prefix}:dataset-group/{group_name}"
            group_ms = created((i + 1) * per_group * per_solution, 2 * 3_600_000)
            group: dict[str, Any] = {
                "name": group_name,
                "datasetGroupArn": group_arn,
                "status": "ACTIVE",
                "creationDateTime": group_ms / 1000,
                "lastUpdatedDateTime": (group_ms + 95_000) / 1000,
            }
            domain = rng.choice(_DOMAINS)
            if domain is not None:
                group["domain"] = domain
            groups.append(_Resource(group_arn, None, json.dumps(group)))
            for j in range(per_group):
                s = i * per_group + j
                recipe = rng.choice(_RECIPES)
                solution_name = f"{group_name}-{recipe.removeprefix('aws-')}-{j + 1}"
                solution_arn = f"{prefix}:solution/{solution_name}"
                solution_ms = created((s + 1) * per_solution, 3_600_000 + rng.randrange(1000))
                solution = {
                    "name": solution_name,
                    "solutionArn": solution_arn,
                    "status": "ACTIVE",
                    "creationDateTime": solution_ms / 1000,
                    "lastUpdatedDateTime": (solution_ms + 1_000 + rng.randrange(60_000)) / 1000,
                    "recipeArn": f"arn:aws:personalize:::recipe/{recipe}",
                }
                solutions.append(_Resource(solution_arn, group_arn, json.dumps(solution)))
                automatic = s in autotrain
                for k in range(per_solution):
                    v = s * per_solution + k
                    version_arn = f"{solution_arn}/{rng.getrandbits(32):08x}"
                    version_ms = created(v, rng.randrange(3_600_000))
                    # Drawn whatever the solution's training, in the order they always were.
                    training_type = rng.choice(("AUTOMATIC", "MANUAL"))
                    updated_ms = version_ms + 20 * _MINUTE_MS + rng.randrange(180 * _MINUTE_MS)
                    if automatic:
                        training_mode, training_type = "AUTOTRAIN", "AUTOMATIC"
                    else:
                        training_mode = "FULL" if k == per_solution - 1 else "UPDATE"
                    version = {
                        "solutionVersionArn": version_arn,
                        "status": statuses.get(v, "ACTIVE"),
                        "trainingMode": training_mode,
                        "trainingType": training_type,
                        "creationDateTime": version_ms / 1000,
                        "lastUpdatedDateTime": updated_ms / 1000,
                    }
                    if v in reasons:
                        version["failureReason"] = reasons[v]
                    versions.append(_Resource(version_arn, solution_arn, json.dumps(version)))

        # Listed newest first: the generation order above.
        self.dataset_groups: tuple[_Resource, ...] = tuple(groups)
        self.solutions: tuple[_Resource, ...] = tuple(solutions)
        self.versions: tuple[_Resource, ...] = tuple(versions)
        self.dataset_group_arns = frozenset(r.arn for r in groups)
        self.solution_arns = frozenset(r.arn for r in solutions)
        self.version_index = {r.arn: v for v, r in enumerate(versions)}
        # Each version's status; only ACTIVE versions hold jobs, numbered among
        # themselves (``active_index``: a version's place among the ACTIVE ones).
        self.version_status = {r.arn: statuses.get(v, "ACTIVE") for v, r in enumerate(versions)}
        active_arns = [r.arn for v, r in enumerate(versions) if v not in statuses]
        self.active_index = {arn: a for a, arn in enumerate(active_arns)}
        self.jobs: dict[JobKind, SeededJobs] = {
            kind: SeededJobs(
                kind,
                region,
                region_seed,
                active_arns,
                spec.jobs_per_version(kind),
                spec.failed_fraction,
                account,
            )
            for kind in KINDS
        }
        self._created: dict[JobKind, _CreatedJobs] = {kind: _CreatedJobs() for kind in KINDS}

    # -- resources -------------------------------------------------------------------

    def list_resources(
        self, resources: Sequence[_Resource], parent_arn: str | None, start: int, limit: int
    ) -> tuple[list[str], int | None]:
        """A page of summaries (JSON) from ``start``, and where the next page starts."""
        if parent_arn is not None:
            resources = [r for r in resources if r.parent_arn == parent_arn]
        page = resources[start : start + limit]
        end = start + len(page)
        return [r.summary_json for r in page], (end if end < len(resources) else None)

    # -- jobs ------------------------------------------------------------------------

    def job_arn_prefix(self, kind: JobKind) -> str:
        return job_arn_prefix(kind, self.region, self.account)

    def find_created(self, kind: JobKind, arn: str) -> CreatedJob | None:
        prefix = self.job_arn_prefix(kind)
        if not arn.startswith(prefix):
            return None
        return self._created[kind].by_name.get(arn[len(prefix) :])

    def name_taken(self, kind: JobKind, name: str) -> bool:
        return name in self._created[kind].by_name or self.jobs[kind].index_of(name) is not None

    def create_job(
        self,
        kind: JobKind,
        name: str,
        solution_version_arn: str,
        created_ms: int,
        details: dict[str, Any],
    ) -> CreatedJob:
        created = self._created[kind]
        job = CreatedJob(
            kind=kind,
            sequence=len(created.jobs),
            name=name,
            arn=self.job_arn_prefix(kind) + name,
            solution_version_arn=solution_version_arn,
            created_ms=created_ms,
            details=details,
        )
        created.jobs.append(job)
        created.by_name[name] = job
        return job

    def job_count(self, kind: JobKind, solution_version_arn: str | None = None) -> int:
        created = self._created[kind].jobs
        seeded = self.jobs[kind]
        if solution_version_arn is None:
            return seeded.total + len(created)
        if solution_version_arn not in self.version_index:
            return 0
        own = seeded.per_version if solution_version_arn in self.active_index else 0
        return own + sum(1 for job in created if job.solution_version_arn == solution_version_arn)

    def list_jobs(
        self,
        kind: JobKind,
        solution_version_arn: str | None,
        cursor: Cursor | None,
        limit: int,
        created_summary: Callable[[CreatedJob], str],
    ) -> tuple[list[str], Cursor | None]:
        """A page of job summaries (JSON), newest first, and the cursor after it.

        The cursor is the position after the last job returned, so jobs created while a
        listing is under way are neither repeated nor cause skips: they are newer than
        the cursor and the listing never goes back up.
        """
        seeded = self.jobs[kind]
        active = None  # the filtered version's place among the ACTIVE ones
        if solution_version_arn is None:
            seeded_total = seeded.total
        elif solution_version_arn in self.active_index:
            active = self.active_index[solution_version_arn]
            seeded_total = seeded.per_version
        elif solution_version_arn in self.version_index:
            seeded_total = 0  # a version that is not ACTIVE holds no seeded job
        else:
            return [], None

        page: list[str] = []
        created = self._created[kind].jobs
        if cursor is None:
            cursor = Cursor("c", len(created))
        if cursor.segment == "c":
            sequence = min(cursor.position, len(created))
            while sequence > 0:
                job = created[sequence - 1]
                if solution_version_arn is None or job.solution_version_arn == solution_version_arn:
                    if len(page) == limit:
                        return page, Cursor("c", sequence)
                    page.append(created_summary(job))
                sequence -= 1
            start = 0
        else:
            start = cursor.position

        end = min(seeded_total, start + limit - len(page))
        if solution_version_arn is None:
            page += seeded.summaries(range(start, end))
        elif active is not None:
            stride = len(seeded.versions)
            page += seeded.summaries(range(active + stride * start, active + stride * end, stride))
        if end < seeded_total:
            return page, Cursor("s", end)
        return page, None
