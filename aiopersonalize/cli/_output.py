"""Opening the crawl's output: stdout, a new file, or a checkpointed file to resume.

With ``--checkpoint``, a fresh crawl creates the output and then its journal; a resumed
one recovers where the interrupted crawl stands, cuts the output back to its last
journaled page and appends from there. The :class:`Target` holds what was opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ._checkpoint import Journal, Recovered, recover
from ._options import Options

__all__ = ["Target", "open_target"]


@dataclass(slots=True)
class Target:
    """The output (and journal) of one run, positioned where this run appends."""

    sink: BinaryIO | None  # None: no JSON Lines (--db alone)
    journal: Journal | None = None
    recovered: Recovered | None = None
    owned: bool = True
    new_journal: Path | None = None
    _closed: bool = False

    def close(self) -> None:
        """Flush everything written (and sync it, with a checkpoint), then close."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.journal is not None:
                self.journal.close()
            elif self.sink is not None:
                self.sink.flush()
        finally:
            if self.owned and self.sink is not None:
                self.sink.close()

    def discard_new_journal(self) -> None:
        """Remove the journal this run created: the crawl never started (invalid
        input), and a corrected command should not be refused as another crawl."""
        if self.new_journal is not None:
            self.new_journal.unlink(missing_ok=True)


def _checkpoint_params(options: Options) -> dict[str, Any]:
    """The parameters that determine a crawl's output: a resume must repeat them."""
    plan = options.plan
    return {
        "regions": None if plan.regions is None else sorted(plan.regions),
        "kinds": sorted(plan.kinds),
        "versions": None if plan.versions is None else sorted(plan.versions),
        "strategy": plan.resolved_strategy,
        "accounts": plan.accounts_param,
        "endpoint_url": options.endpoint_url,
        "profile": options.profile,
        "page_size": plan.page_size,
        "output": str(Path(options.output or "-").resolve()),
    }


def open_target(options: Options) -> Target:
    """Open the output: stdout, a new file, or a checkpointed file to resume.

    :raises CheckpointError: the checkpoint belongs to another crawl, or its output
        is missing.
    :raises OSError: the output or the checkpoint cannot be opened.
    """
    if options.output == "-":
        return Target(sys.stdout.buffer, owned=False)
    if options.output is None:  # --db alone: no JSON Lines
        return Target(None, owned=False)
    output = Path(options.output)
    if options.checkpoint is None:
        return Target(output.open("wb"))
    journal_path = Path(options.checkpoint)
    params = _checkpoint_params(options)
    recovered = recover(journal_path, output, params, kinds=options.plan.kinds)
    if recovered is None:
        # The output first: a journal must never exist without its output.
        sink, journal = _with_journal(
            output.open("wb"), lambda sink: Journal.create(journal_path, params, sink)
        )
        return Target(sink, journal, new_journal=journal_path)
    # Drop whatever follows the last journaled page: it is fetched again.
    os.truncate(output, recovered.offset)
    sink, journal = _with_journal(
        output.open("ab"), lambda sink: Journal.reopen(journal_path, recovered, sink)
    )
    return Target(sink, journal, recovered)


def _with_journal(
    sink: BinaryIO, journal: Callable[[BinaryIO], Journal]
) -> tuple[BinaryIO, Journal]:
    """The opened output and its journal; the output is closed if the journal fails."""
    try:
        return sink, journal(sink)
    except BaseException:
        sink.close()
        raise
