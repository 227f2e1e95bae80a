"""The order in which the checkpoint journal forces its effects to disk.

A crawl stopped in any way, power cut included, loses nothing and writes nothing twice
only if the journal never reaches the disk ahead of the output it describes. These
tests run the real :class:`Journal` on real files, with its clock and its ``fsync``
replaced by a fake clock and a recorder (a subclass), and check what the system held at
each ``fsync``: the header whole in its temporary file before the rename, each line
readable by another reader as soon as ``record`` returns, the output synced before the
journal that points into it, a sync at least every interval, everything forced on
close, and no temporary file left when ``create`` fails. Nothing here is timed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest

from aiopersonalize.cli._checkpoint import Journal, recover

from ..clients import FakeClock
from .test_checkpoint import KINDS, PARAMS, V1, V2, jobs

INTERVAL = 2.0  # the journal's documented sync interval (_SYNC_INTERVAL)


@dataclass(frozen=True)
class Synced:
    """One ``fsync``: the file's name, the bytes the system held for it then, and
    whether the journal's final name existed yet."""

    name: str
    size: int
    journal_exists: bool


@dataclass
class Disk:
    """Records every ``fsync`` a journal asks for, and can be told to fail them."""

    folder: Path
    journal: Path
    synced: list[Synced] = field(default_factory=list)
    failure: OSError | None = None

    def fsync(self, fd: int) -> None:
        if self.failure is not None:
            raise self.failure
        status = os.fstat(fd)
        (name,) = (p.name for p in self.folder.iterdir() if p.stat().st_ino == status.st_ino)
        self.synced.append(Synced(name, status.st_size, self.journal.exists()))
        os.fsync(fd)

    def take(self) -> list[Synced]:
        """The fsyncs since the last call."""
        taken, self.synced = self.synced, []
        return taken


@dataclass
class Setup:
    """A recording journal class, its disk and clock, and the files it writes."""

    journal_class: type[Journal]
    disk: Disk
    clock: FakeClock
    journal: Path
    output: Path


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    """A subclass of :class:`Journal` whose clock is a fake one and whose fsyncs are
    recorded, for a journal ``j`` and an output ``o`` in a folder of their own."""
    disk = Disk(tmp_path, tmp_path / "j")
    clock = FakeClock()

    class Recorded(Journal):
        _clock = staticmethod(clock)
        _fsync = staticmethod(disk.fsync)

    return Setup(Recorded, disk, clock, tmp_path / "j", tmp_path / "o")


@pytest.fixture
def sink(setup: Setup) -> Iterator[BinaryIO]:
    """The output file, buffered as the crawl's is."""
    with setup.output.open("wb") as file:
        yield file


def entries(journal: Path) -> list[dict[str, object]]:
    """The journal's entries as another reader sees them now."""
    return [json.loads(line) for line in journal.read_bytes().splitlines()[1:]]


def write_page(sink: BinaryIO, log: Journal, key: tuple[str, str, str | None], n: int) -> bytes:
    """Write a page to the output (flushed, as the crawl does) and journal it."""
    data = jobs(f"p{n}", n % 3 + 1)
    sink.write(data)
    sink.flush()
    log.record(key, f"t{n}", data)
    return data


def test_header_is_synced_whole_before_the_journal_appears(setup: Setup, sink: BinaryIO) -> None:
    """``create`` forces the whole header to disk in its temporary file before renaming
    it to the journal's name, and nothing else."""
    log = setup.journal_class.create(setup.journal, PARAMS, sink)
    header = setup.journal.read_bytes()
    assert setup.disk.take() == [Synced(f".j.{os.getpid()}.tmp", len(header), False)]
    log.close()


@pytest.mark.parametrize(
    "fail",
    [
        pytest.param(lambda s: s.journal.mkdir(), id="rename-refused"),
        pytest.param(lambda s: setattr(s.disk, "failure", OSError(5, "EIO")), id="fsync-failed"),
    ],
)
def test_failed_create_leaves_no_temporary_file(
    setup: Setup, sink: BinaryIO, fail: Callable[[Setup], None]
) -> None:
    """When the header cannot be synced or renamed into place, ``create`` raises and
    leaves no temporary file and no journal behind."""
    fail(setup)
    existed = setup.journal.exists()
    with pytest.raises(OSError):  # noqa: PT011 - either refusal the system makes
        setup.journal_class.create(setup.journal, PARAMS, sink)
    left = sorted(p.name for p in setup.journal.parent.iterdir())
    assert left == (["j", "o"] if existed else ["o"])
    assert setup.journal.is_dir() == existed  # not replaced by a journal


def test_each_line_is_readable_when_record_returns(setup: Setup, sink: BinaryIO) -> None:
    """Each entry is in the journal file, for any other reader, as soon as ``record``
    returns (a killed process loses nothing), without waiting for a sync."""
    log = setup.journal_class.create(setup.journal, PARAMS, sink)
    setup.disk.take()
    offset = 0
    for n in range(4):
        offset += len(write_page(sink, log, V1, n))
        seen = entries(setup.journal)
        assert len(seen) == n + 1
        assert (seen[-1]["token"], seen[-1]["offset"]) == (f"t{n}", offset)
        assert "restarted" not in seen[-1]  # only pages recorded as restarted say so
    assert setup.disk.take() == []  # no interval has passed: nothing forced yet
    log.close()


def check_order(synced: list[Synced], journal: Path) -> None:
    """Every journal fsync follows an output fsync holding every byte the journal's
    entries (as synced) point at."""
    data = journal.read_bytes()
    output_size = -1
    for sync in synced:
        if sync.name == "o":
            output_size = sync.size
            continue
        assert sync.name == journal.name
        lines = data[: sync.size].splitlines()[1:]
        assert all(json.loads(line)["offset"] <= output_size for line in lines)


def test_sync_forces_the_output_then_the_journal(setup: Setup, sink: BinaryIO) -> None:
    """``sync`` flushes and forces the output, then forces the journal, each whole, in
    that order: the journal on disk never points past the output on disk."""
    log = setup.journal_class.create(setup.journal, PARAMS, sink)
    setup.disk.take()
    write_page(sink, log, V1, 1)
    sink.write(b'{"job":"written, not yet flushed"}\n')  # the sink's buffer, not the file
    log.sync()
    size = setup.output.stat().st_size
    assert size == sink.tell()
    synced = setup.disk.take()
    assert synced == [
        Synced("o", size, True),
        Synced("j", setup.journal.stat().st_size, True),
    ]
    check_order(synced, setup.journal)
    log.close()


def test_a_sync_at_least_every_interval(setup: Setup, sink: BinaryIO) -> None:
    """While pages are recorded, the output and the journal are forced together once the
    interval since the last sync has passed, not before, and the interval then starts
    again."""
    log = setup.journal_class.create(setup.journal, PARAMS, sink)
    setup.disk.take()
    start, syncs = setup.clock.now, []
    for n, at in enumerate([0.0, 1.0, INTERVAL - 0.001, INTERVAL, INTERVAL + 1, 2 * INTERVAL]):
        setup.clock.now = start + at
        write_page(sink, log, V2, n)
        synced = setup.disk.take()
        if synced:
            syncs.append(n)
            assert [s.name for s in synced] == ["o", "j"]
            assert synced[0].size == setup.output.stat().st_size
            assert synced[1].size == setup.journal.stat().st_size
    assert syncs == [3, 5]
    log.close()


def test_close_forces_everything_and_closes(setup: Setup, sink: BinaryIO) -> None:
    """``close`` forces the output and the journal, in that order and whole, then closes
    the journal: nothing more can be recorded in it."""
    log = setup.journal_class.create(setup.journal, PARAMS, sink)
    setup.disk.take()
    for n in range(3):
        write_page(sink, log, V1, n)
    sink.write(b'{"job":"written, not yet flushed"}\n')
    log.close()
    synced = setup.disk.take()
    assert synced == [
        Synced("o", sink.tell(), True),
        Synced("j", setup.journal.stat().st_size, True),
    ]
    check_order(synced, setup.journal)
    with pytest.raises(ValueError, match="closed file"):
        log.record(V1, None, b"")
    found = recover(setup.journal, setup.output, PARAMS, kinds=KINDS)
    assert found is not None
    assert found.positions == {V1: "t2"}


def test_close_closes_the_journal_even_when_the_sync_fails(setup: Setup, sink: BinaryIO) -> None:
    """A failed sync on ``close`` is raised, and the journal's file is closed all the same."""
    log = setup.journal_class.create(setup.journal, PARAMS, sink)
    write_page(sink, log, V1, 1)
    setup.disk.failure = OSError(28, "ENOSPC")
    with pytest.raises(OSError, match="ENOSPC"):
        log.close()
    with pytest.raises(ValueError, match="closed file"):
        log.record(V1, None, b"")
