"""Account discovery: the solution versions of a region, found level by level.

A crawl that is not given solution versions finds them as the console does: the
region's dataset groups (``ListDatasetGroups``), each group's solutions
(``ListSolutions``), each solution's versions (``ListSolutionVersions``). Each of those
listings is a :class:`DiscoveryChain` that the merged listing's pool runs like any
other chain; this module says where discovery starts (:func:`roots`), which waiting
chain goes first (:attr:`DiscoveryChain.urgency`), and what a page of ARNs leads to
(:func:`expand`): deeper chains, or, at the last level, solution versions whose jobs
are to be listed. It knows nothing of the pool, the requests or the failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._models import DATASET_GROUPS, SOLUTION_VERSIONS, SOLUTIONS, JobKind, ResourceLevel

__all__ = ["LEVELS", "Discovery", "DiscoveryChain", "expand", "roots"]

LEVELS: tuple[ResourceLevel, ...] = (DATASET_GROUPS, SOLUTIONS, SOLUTION_VERSIONS)
"""The levels above the jobs, top first; each lists the children of the one before."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """Crawl these regions (``None``: the client's) for versions, and list these kinds."""

    regions: tuple[str | None, ...]
    kinds: tuple[JobKind[Any, Any], ...]


@dataclass(frozen=True, slots=True)
class DiscoveryChain:
    """One discovery listing: the children of ``parent_arn`` (``None`` at the top) at
    ``level``, in ``region``, of ``account`` (``None``: the client's own)."""

    region: str
    level: ResourceLevel
    parent_arn: str | None
    account: str | None = None

    @property
    def urgency(self) -> int:
        """1 for the deepest level, up to ``len(LEVELS)`` for the top (0 is left for
        job listings): deepest first, so that the first jobs arrive after a few
        discovery calls rather than after all of them, and the queue stays short."""
        return len(LEVELS) - LEVELS.index(self.level)


def roots(regions: Iterable[str]) -> list[DiscoveryChain]:
    """Where discovery starts: the dataset groups of each region, once each."""
    return [DiscoveryChain(region, LEVELS[0], None) for region in dict.fromkeys(regions)]


def expand(chain: DiscoveryChain, arns: Iterable[str]) -> Iterator[DiscoveryChain | str]:
    """What a page of ``chain``'s ARNs leads to: a chain listing each one's children,
    or, at the last level, each solution version ARN itself."""
    depth = LEVELS.index(chain.level)
    if depth + 1 == len(LEVELS):
        yield from arns
        return
    child = LEVELS[depth + 1]
    for arn in arns:
        yield DiscoveryChain(chain.region, child, arn, chain.account)
