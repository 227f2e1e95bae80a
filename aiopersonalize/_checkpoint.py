"""The checkpoint journal of ``aiopersonalize crawl --checkpoint FILE``.

A crawl writes its output page by page; the journal says how far that output is good.
It is an append-only JSON Lines file:

- line 1, the header: the format version and the crawl's parameters that determine its
  output. It is written to a temporary file and renamed into place, so a journal never
  exists without a whole header.
- then one entry per page, appended after the page was written to the output and the
  output flushed: the page's chain ``(region, kind, version)``, the token after it
  (``null`` once the chain is complete) and the output's length after it.

Resuming reads the journal, ignores a torn last line (the process died while appending
it), keeps the last entry of each chain, and truncates the output to the last entry's
offset: a page written but not journaled is dropped, then fetched again. So a crawl
killed at any instant (even ``kill -9``) and resumed writes every job exactly once.
If the output is shorter than an entry says (its bytes never reached the disk: a power
cut between the two flushes), that entry and those after it are dropped as well.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "FORMAT_VERSION",
    "ChainKey",
    "CheckpointError",
    "Journal",
    "Recovered",
    "recover",
]

FORMAT_VERSION = 1
_MAGIC = "aiopersonalize-checkpoint"
# How often the output and the journal are forced to disk while a crawl runs; a crash
# of the machine loses at most this much work (a killed process loses nothing).
_SYNC_INTERVAL = 2.0

ChainKey = tuple[str, str, str]
"""A chain of pages: ``(region, kind, solution_version_arn)``."""


class CheckpointError(Exception):
    """The checkpoint cannot be used for this crawl: not a checkpoint, made by a
    different crawl, damaged, or its output file is gone."""


@dataclass(frozen=True, slots=True)
class Recovered:
    """Where an interrupted crawl stands, as its journal and output say.

    ``positions`` maps each chain journaled so far to the token to resume it after, or
    ``None`` when it is complete; ``offset`` is how many bytes of the output to keep;
    ``journal_length`` how many bytes of the journal are whole, consistent entries.
    """

    positions: Mapping[ChainKey, str | None]
    offset: int
    journal_length: int


def _encode(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode() + b"\n"


def _header(params: Mapping[str, Any]) -> dict[str, Any]:
    return {_MAGIC: FORMAT_VERSION, "params": dict(params)}


def _check_header(line: bytes, params: Mapping[str, Any]) -> None:
    """Refuse a journal that is not ours, or that another crawl wrote."""
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or _MAGIC not in header:
        raise CheckpointError("not an aiopersonalize checkpoint")
    if header[_MAGIC] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format {header[_MAGIC]!r} is not supported")
    theirs = header.get("params")
    if not isinstance(theirs, dict):
        raise CheckpointError("the checkpoint's header is damaged")
    params = json.loads(json.dumps(params))  # as read back: tuples become lists
    # Names only: values may be long, and an endpoint URL may carry secrets.
    differing = sorted(k for k in set(theirs) | set(params) if theirs.get(k) != params.get(k))
    if differing:
        raise CheckpointError(
            f"the checkpoint was made by a different crawl ({', '.join(differing)} differ)"
        )


def _entry(line: bytes) -> tuple[ChainKey, str | None, int]:
    """One journal entry: its chain, token and offset."""
    entry = json.loads(line)
    key = (entry["region"], entry["kind"], entry["version"])
    token, offset = entry["token"], entry["offset"]
    if not all(isinstance(part, str) for part in key):
        raise ValueError("chain names must be strings")
    if not (token is None or isinstance(token, str)):
        raise ValueError("a token must be a string or null")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError("an offset must be a non-negative integer")
    return key, token, offset


def recover(journal: Path, output: Path, params: Mapping[str, Any]) -> Recovered | None:
    """Read the journal of an interrupted crawl with these ``params``.

    Returns ``None`` when there is no journal (a fresh crawl).

    :raises CheckpointError: the journal is not ours, another crawl's or damaged, or
        the output it describes is missing.
    """
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return None
    header, newline, body = data.partition(b"\n")
    if not newline:
        raise CheckpointError("not an aiopersonalize checkpoint")
    _check_header(header, params)
    if not output.is_file():
        raise CheckpointError(f"the checkpoint's output file {output} is missing")
    return _replay(body, len(header) + 1, output.stat().st_size)


def _replay(body: bytes, start: int, output_size: int) -> Recovered:
    """The entries after the header, up to a torn line or one past the output's end."""
    positions: dict[ChainKey, str | None] = {}
    offset = 0
    length = start
    lines = body.split(b"\n")
    # The piece after the last newline is empty, or a line torn by the crash.
    for number, line in enumerate(lines[:-1], start=2):
        try:
            key, token, entry_offset = _entry(line)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"the checkpoint is damaged at line {number}") from exc
        if entry_offset < offset:
            raise CheckpointError(f"the checkpoint is damaged at line {number}")
        if entry_offset > output_size:
            break
        positions[key] = token
        offset = entry_offset
        length += len(line) + 1
    return Recovered(positions=positions, offset=offset, journal_length=length)


class Journal:
    """The open journal of a running crawl; :meth:`record` appends one page's entry."""

    def __init__(self, file: BinaryIO, output: BinaryIO) -> None:
        self._file = file
        self._output = output
        self._synced_at = time.monotonic()

    @classmethod
    def create(cls, path: Path, params: Mapping[str, Any], output: BinaryIO) -> Journal:
        """A new journal holding just the header, which reaches the disk whole or not
        at all (written aside, synced, then renamed into place)."""
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with partial.open("wb") as file:
                file.write(_encode(_header(params)))
                file.flush()
                os.fsync(file.fileno())
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return cls(path.open("ab"), output)

    @classmethod
    def reopen(cls, path: Path, recovered: Recovered, output: BinaryIO) -> Journal:
        """The journal of ``recovered``, cut back to its whole, consistent entries
        (so that the next entry does not land after a torn line)."""
        file = path.open("r+b")
        try:
            file.truncate(recovered.journal_length)
            file.seek(0, os.SEEK_END)
        except BaseException:
            file.close()
            raise
        return cls(file, output)

    def record(self, key: ChainKey, token: str | None, offset: int) -> None:
        """Journal a page of ``key`` already written (and flushed) to the output."""
        region, kind, version = key
        entry = {"region": region, "kind": kind, "version": version}
        self._file.write(_encode({**entry, "token": token, "offset": offset}))
        self._file.flush()
        if time.monotonic() - self._synced_at >= _SYNC_INTERVAL:
            self.sync()

    def sync(self) -> None:
        """Force the output, then the journal, to disk: in that order, so that the
        journal on disk never describes output the disk does not hold."""
        self._output.flush()
        os.fsync(self._output.fileno())
        self._file.flush()
        os.fsync(self._file.fileno())
        self._synced_at = time.monotonic()

    def close(self) -> None:
        """Sync and close the journal (not the output)."""
        try:
            self.sync()
        finally:
            self._file.close()
