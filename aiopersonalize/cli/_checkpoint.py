"""The checkpoint journal of ``aiopersonalize crawl --checkpoint FILE``.

A crawl writes its output page by page; the journal says how far that output is good.
It is an append-only JSON Lines file (format 4; format 3 had no ``account`` in its
entries and no ``accounts`` parameter, format 2 no account-wide chains and no
``strategy`` parameter):

- line 1, the header: the format version and the crawl's parameters that determine its
  output. It is written to a temporary file and renamed into place, so a journal never
  exists without a whole header.
- then one entry per page, appended after the page was written to the output and the
  output flushed: the page's chain ``(region, kind, version)`` (``version`` ``null``
  for an account-wide listing of that kind in that region), the token after it
  (``null`` once the chain is complete), the output's length after it (``offset``) and
  the CRC-32 of the output's bytes up to that length (``output_crc``, running over
  every byte the crawl writes).
- an entry of a chain that was listed again from its start, because the service
  refused its resume token (expired), carries ``"restarted": true``: the output may
  hold some of that chain's jobs twice over otherwise, and a resume skips them.
- every line carries ``crc``: the CRC-32 of the line's canonical encoding without it
  (sorted keys, no spaces, ASCII), continued from the previous line's ``crc``. A line
  must be exactly that encoding; so a changed byte, or a line removed, repeated, moved
  or brought from another journal, breaks the chain there.

Resuming (:func:`recover`) reads the journal and ignores a torn last line (the process
died while appending it): every other line must be whole and valid (checksum, types,
a kind the crawl lists, a region name, a solution version ARN or null, an account ID
or null, a token as the API
takes it, offsets that never go back), or the checkpoint is refused as damaged, naming
the line. It then reads the output once, computing its CRC at each entry's offset, and
keeps the entries up to the first whose offset is past the output's end or whose CRC
does not match: those bytes never reached the disk, or came back as other bytes (a
power cut: between syncs, the system may write the journal before the output). The
entries dropped are fetched again. If the output is not empty yet no entry describing
output bytes matches it, it is not the output the journal describes (replaced,
edited, another crawl's) and the checkpoint is refused. Nothing is changed by a
refusal.

Otherwise the output is truncated to the last entry kept (a page written but not
journaled is dropped, then fetched again), the journal is cut back to that entry and
goes on from its checksums, and each chain resumes after its last token. So a crawl
killed at any instant (even ``kill -9``) and resumed writes every job exactly once;
after a power cut it resumes from what both files still hold; and a damaged
checkpoint or a replaced output stops the resume rather than giving a wrong output.

Limits: CRC-32 detects accidents (flipped bits, a torn, zeroed or shuffled file), not
deliberate forgery. With no entry journaled yet there is nothing to check the output
against: its bytes are taken for a page not yet journaled, and dropped.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from aiopersonalize import ChainKey, JobKindName, ParamValidationError, check_resume

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "Journal",
    "Recovered",
    "recover",
]

FORMAT_VERSION = 4
_MAGIC = "aiopersonalize-checkpoint"
# How often the output and the journal are forced to disk while a crawl runs; a crash
# of the machine loses at most this much work (a killed process loses nothing).
_SYNC_INTERVAL = 2.0
_CHUNK = 1 << 20  # the output is read this much at a time to check it
_CRC_LIMIT = 1 << 32
_START_OVER = "delete the checkpoint and rerun the command to start over"


class CheckpointError(Exception):
    """The checkpoint cannot be used for this crawl: not a checkpoint, made by a
    different crawl or version of aiopersonalize, damaged, or its output file is gone
    or is not the output it describes."""


@dataclass(frozen=True, slots=True)
class Recovered:
    """Where an interrupted crawl stands, as its journal and output say.

    ``positions`` maps each chain journaled so far to the token to resume it after, or
    ``None`` when it is complete; ``offset`` is how many bytes of the output to keep and
    ``output_crc`` their CRC-32; ``journal_length`` how many bytes of the journal are
    the entries kept, and ``journal_crc`` the checksum of the last of its lines.
    ``restarted`` are the chains listed again from their start after their resume
    token expired: the output may hold some of their jobs from before, which a resume
    must not write again.
    """

    positions: Mapping[ChainKey, str | None]
    offset: int
    journal_length: int
    output_crc: int
    journal_crc: int
    restarted: frozenset[ChainKey] = frozenset()


@dataclass(frozen=True, slots=True)
class _Entry:
    key: ChainKey
    token: str | None
    offset: int
    output_crc: int
    length: int  # of its line, newline included
    crc: int  # of its line
    restarted: bool  # a page of a chain listed again from its start


def _canonical(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()


def _line(obj: Mapping[str, Any], previous: int) -> tuple[bytes, int]:
    """The journal line of ``obj`` after a line whose checksum is ``previous``, and its
    own checksum."""
    crc = zlib.crc32(_canonical(obj), previous)
    return _canonical({**obj, "crc": crc}) + b"\n", crc


def _unchecked(line: bytes) -> dict[str, Any]:
    """A line's JSON object, checksum not verified.

    :raises ValueError: not a JSON object.
    """
    try:
        obj = json.loads(line)
    except RecursionError as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def _is_count(value: object, limit: int | None = None) -> bool:
    """Whether ``value`` is an int (not a bool) from 0, and below ``limit`` if given."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return False
    return limit is None or value < limit


def _checked(line: bytes, previous: int) -> tuple[dict[str, Any], int]:
    """A line's object (its checksum removed) and its checksum, which must continue
    from ``previous``.

    :raises ValueError: not JSON, not in canonical form, or the checksum does not match.
    """
    obj = _unchecked(line)
    crc = obj.pop("crc", None)
    if not _is_count(crc, _CRC_LIMIT):
        raise ValueError("no checksum")
    if _line(obj, previous) != (line + b"\n", crc):
        raise ValueError("checksum mismatch")
    return obj, crc


def _damaged(number: int, reason: str) -> CheckpointError:
    return CheckpointError(f"the checkpoint is damaged at line {number} ({reason}); {_START_OVER}")


# The command's options that the checkpoint's parameters come from, as the user typed
# them: a refused resume names what to change.
_OPTIONS = {
    "regions": "--region",
    "kinds": "--kind",
    "versions": "--solution-version-arn",
    "strategy": "--strategy",
    "endpoint_url": "--endpoint-url",
    "profile": "--profile",
    "page_size": "--page-size",
    "output": "--output",
}


def _check_header(line: bytes, params: Mapping[str, Any]) -> int:
    """Refuse a journal that is not ours, of another format, damaged, or that another
    crawl wrote; the header's checksum otherwise."""
    try:
        header = _unchecked(line)
    except ValueError:
        header = {}
    if _MAGIC not in header:
        if _MAGIC.encode() in line:
            raise _damaged(1, "the header is not valid")
        raise CheckpointError("not an aiopersonalize checkpoint")
    version = header[_MAGIC]
    if version in (1, 2):
        raise CheckpointError(
            f"the checkpoint is in format {version}, written by aiopersonalize before 1.0, "
            f"which cannot be resumed; {_START_OVER}"
        )
    if version == 3:
        raise CheckpointError(
            "the checkpoint is in format 3, written by aiopersonalize before crawls of "
            f"several accounts (its entries name no account), which cannot be resumed; "
            f"{_START_OVER}"
        )
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {version!r} is not supported (this aiopersonalize writes "
            f"format {FORMAT_VERSION})"
        )
    try:
        header, crc = _checked(line, 0)
    except ValueError as exc:
        raise _damaged(1, f"the header: {exc}") from None
    theirs = header.get("params")
    if not isinstance(theirs, dict) or set(header) != {_MAGIC, "params"}:
        raise _damaged(1, "the header has no parameters")
    params = json.loads(json.dumps(params))  # as read back: tuples become lists
    # Names only: values may be long, and an endpoint URL may carry secrets.
    differing = sorted(k for k in set(theirs) | set(params) if theirs.get(k) != params.get(k))
    if differing:
        options = ", ".join(_OPTIONS.get(name, name) for name in differing)
        verb = "differs" if len(differing) == 1 else "differ"
        raise CheckpointError(
            f"the checkpoint was made by a different crawl: its {options} {verb} from "
            "this command's"
        )
    return crc


_ENTRY_MEMBERS = frozenset(
    {"region", "kind", "version", "account", "token", "offset", "output_crc"}
)
# Only on the pages of a chain listed again from its start (its resume token expired).
_RESTARTED = "restarted"


def _entry(line: bytes, previous: int, kinds: Collection[JobKindName]) -> _Entry:
    """One journal entry, checked: its checksum, then its members' meaning.

    :raises ValueError: it is not a whole, valid entry.
    """
    entry, crc = _checked(line, previous)
    restarted = _RESTARTED in entry
    if set(entry) - {_RESTARTED} != _ENTRY_MEMBERS or entry.get(_RESTARTED, True) is not True:
        raise ValueError("not an entry")  # restarted is written only as true
    region, kind, version = entry["region"], entry["kind"], entry["version"]
    account = entry["account"]
    token, offset, output_crc = entry["token"], entry["offset"], entry["output_crc"]
    if not _is_count(offset) or not _is_count(output_crc, _CRC_LIMIT):
        raise ValueError("offset or output_crc out of range")
    if kind not in kinds:
        raise ValueError(f"a job kind this crawl does not list: {kind!r}")
    try:
        ((key, _),) = check_resume({(region, kind, version, account): token}, kinds=kinds).items()
    except ParamValidationError as exc:
        raise ValueError(str(exc)) from None
    return _Entry(key, token, offset, output_crc, len(line) + 1, crc, restarted)


def _entries(body: bytes, previous: int, kinds: Collection[JobKindName]) -> list[_Entry]:
    """The whole entries after the header; the piece after the last newline is empty,
    or a line torn by a crash, and is ignored.

    :raises CheckpointError: a whole line is not a valid entry.
    """
    entries: list[_Entry] = []
    offset = output_crc = 0  # the output before the first page: empty
    *lines, _torn = body.split(b"\n")
    for number, line in enumerate(lines, start=2):
        try:
            entry = _entry(line, previous, kinds)
        except ValueError as exc:
            raise _damaged(number, str(exc)) from None
        if entry.offset < offset:
            raise _damaged(number, "the output offset goes back")
        if entry.offset == offset and entry.output_crc != output_crc:
            raise _damaged(number, "another checksum for the same output")
        entries.append(entry)
        previous, offset, output_crc = entry.crc, entry.offset, entry.output_crc
    return entries


def _verified(entries: list[_Entry], output: Path) -> int:
    """How many entries the output bears out: the entries before the first whose offset
    is past the output's end or whose CRC is not that of the output up to there.

    :raises CheckpointError: not one entry's page bytes match, and the output is not
        empty: it is not the output the journal describes.
    """
    kept = crc = position = 0
    with output.open("rb") as file:
        for entry in entries:
            while position < entry.offset:
                chunk = file.read(min(_CHUNK, entry.offset - position))
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
                position += len(chunk)
            if position != entry.offset or crc != entry.output_crc:
                break
            kept += 1
        empty = file.seek(0, os.SEEK_END) == 0
    # Entries at offset 0 (empty pages) hold nothing to compare; an empty output means
    # that no page reached the disk, which is no sign of another output.
    described = any(entry.offset for entry in entries)
    if described and not any(entry.offset for entry in entries[:kept]) and not empty:
        raise CheckpointError(
            f"the output file {output} does not match its checkpoint (replaced, edited, "
            f"or another crawl's); restore it, or {_START_OVER}"
        )
    return kept


def recover(
    journal: Path, output: Path, params: Mapping[str, Any], *, kinds: Collection[JobKindName]
) -> Recovered | None:
    """Read the journal of an interrupted crawl with these ``params``, listing these
    job ``kinds``, and check its output against it.

    Returns ``None`` when there is no journal (a fresh crawl).

    :raises CheckpointError: the journal is not ours, another crawl's, of another
        format or damaged, or the output it describes is missing or another.
    """
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a directory, no permission: not a checkpoint we can use
        raise CheckpointError(f"cannot read the checkpoint {journal}: {exc.strerror}") from exc
    header, newline, body = data.partition(b"\n")
    if not newline:
        if _MAGIC.encode() in header:
            raise _damaged(1, "the header is torn")
        raise CheckpointError("not an aiopersonalize checkpoint")
    crc = _check_header(header, params)
    entries = _entries(body, crc, kinds)
    if not output.is_file():
        raise CheckpointError(f"the checkpoint's output file {output} is missing")
    kept = entries[: _verified(entries, output)]
    positions: dict[ChainKey, str | None] = {}
    for entry in kept:
        positions[entry.key] = entry.token
    last = kept[-1] if kept else None
    return Recovered(
        positions=positions,
        offset=last.offset if last else 0,
        journal_length=len(header) + 1 + sum(entry.length for entry in kept),
        output_crc=last.output_crc if last else 0,
        journal_crc=last.crc if last else crc,
        restarted=frozenset(entry.key for entry in kept if entry.restarted),
    )


class Journal:
    """The open journal of a running crawl; :meth:`record` appends one page's entry."""

    # The clock of the periodic sync and the call that forces a file to disk: a
    # subclass replaces them to record the order of the journal's effects (the tests).
    _clock = staticmethod(time.monotonic)
    _fsync = staticmethod(os.fsync)

    def __init__(
        self, file: BinaryIO, output: BinaryIO, *, offset: int, output_crc: int, crc: int
    ) -> None:
        self._file = file
        self._output = output
        self._offset = offset
        self._output_crc = output_crc
        self._crc = crc
        self._synced_at = self._clock()

    @classmethod
    def create(cls, path: Path, params: Mapping[str, Any], output: BinaryIO) -> Journal:
        """A new journal holding just the header, which reaches the disk whole or not
        at all (written aside, synced, then renamed into place); ``output`` is empty."""
        header, crc = _line({_MAGIC: FORMAT_VERSION, "params": dict(params)}, 0)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with partial.open("wb") as file:
                file.write(header)
                file.flush()
                cls._fsync(file.fileno())
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return cls(path.open("ab"), output, offset=0, output_crc=0, crc=crc)

    @classmethod
    def reopen(cls, path: Path, recovered: Recovered, output: BinaryIO) -> Journal:
        """The journal of ``recovered``, cut back to the entries kept (so that the next
        entry does not land after a torn or dropped line); ``output`` is the output cut
        back to ``recovered.offset``."""
        file = path.open("r+b")
        try:
            file.truncate(recovered.journal_length)
            file.seek(0, os.SEEK_END)
        except BaseException:
            file.close()
            raise
        return cls(
            file,
            output,
            offset=recovered.offset,
            output_crc=recovered.output_crc,
            crc=recovered.journal_crc,
        )

    @property
    def position(self) -> tuple[int, int, int]:
        """Where the journal stands: the output's length and CRC-32 so far, and the
        checksum of its last line (what a journal going on from here is made with)."""
        return self._offset, self._output_crc, self._crc

    def fileno(self) -> int:
        """The journal file's descriptor (nothing is left in its buffer: the header is
        written aside, and :meth:`record` flushes each entry)."""
        return self._file.fileno()

    def record(
        self, key: ChainKey, token: str | None, data: bytes, *, restarted: bool = False
    ) -> None:
        """Journal a page of ``key`` whose bytes, ``data``, were just written (and
        flushed) to the output after everything journaled before; ``restarted``: a
        page of a chain listed again from its start."""
        self._offset += len(data)
        self._output_crc = zlib.crc32(data, self._output_crc)
        # (a plain 3-tuple is a chain of the client's own account)
        region, kind, version, *rest = key
        account = rest[0] if rest else None
        entry = {
            "region": region,
            "kind": kind,
            "version": version,
            "account": account,
            "token": token,
            "offset": self._offset,
            "output_crc": self._output_crc,
        }
        if restarted:
            entry[_RESTARTED] = True
        line, self._crc = _line(entry, self._crc)
        self._file.write(line)
        self._file.flush()
        if self._clock() - self._synced_at >= _SYNC_INTERVAL:
            self.sync()

    def sync(self) -> None:
        """Force the output, then the journal, to disk: in that order, so that the
        journal on disk never describes output the disk does not hold."""
        self._output.flush()
        self._fsync(self._output.fileno())
        self._file.flush()
        self._fsync(self._file.fileno())
        self._synced_at = self._clock()

    def close(self) -> None:
        """Sync and close the journal (not the output)."""
        try:
            self.sync()
        finally:
            self._file.close()
