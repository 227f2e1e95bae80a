"""The crawl's output writer process: the JSON Lines and their journal off the crawl's CPU.

A crawl is CPU-bound in its own process (aiobotocore's requests, decoding the pages),
and encoding a page as JSON Lines, writing it and journaling it added about 2 µs a job
to that process (benchmarks/README.md, ``db``), 14 % of a crawl's time. So when the
output is a file or a pipe (``--output FILE``, ``--output -``), :func:`output_writer`
starts ``python -m aiopersonalize.cli._writer``: this process encodes each page's
records (msgpack, about 0.4 µs a job) into a pipe, and the child writes the page's
lines to the output and journals them, exactly as the engine does in process: the
page's bytes whole, flushed, then its journal entry (:class:`._checkpoint.Journal`).

The protocol: frames on the child's stdin, each a 4-byte little-endian length and a
msgpack body. The first is a :class:`_Start`: the descriptors of the output and of the
journal (the child inherits them: the same open files, so the same offsets) and the
journal's position; then one :class:`_Page` per page, then :class:`_End`. There is no
reply per page: the child answers once, on a pipe of its own, with an :class:`_Answer`
(the jobs it wrote) after the end, or at its first failure (with the failure's errno
and message; ``EPIPE``: the output's reader has gone), after which it writes nothing
more and exits; the next page sent then fails on the closed pipe, and the answer says
why.

The child is killed with the crawl's process (``kill -9`` included), as its writes
would have stopped in process: on Linux by ``PR_SET_PDEATHSIG`` (and it exits at its
start if that process has already gone), so that a rerun never finds it still
appending to the files the rerun recovers. A page cut short that way was not
journaled: a resume drops its bytes and fetches it again. Elsewhere, the child writes
the whole pages still in the pipe (at most 1 MiB of them), then exits at the pipe's
end, which came without :class:`_End`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import signal
import struct
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
import msgspec

from aiopersonalize import (
    BatchInferenceJobSummary,
    BatchSegmentJobSummary,
    ChainKey,
    JobKindName,
    Page,
)

from ._checkpoint import Journal
from ._jsonl import Job, Sink, page_lines

__all__ = ["OutputWriter", "WriterGone", "descriptor", "main", "output_writer"]

_HEADER = struct.Struct("<I")
_PIPE_SIZE = 1 << 20
_PR_SET_PDEATHSIG = 1


class WriterGone(OSError):
    """The output's writer process ended without saying why: it was killed, or failed
    before it could answer."""


class _Start(msgspec.Struct, tag="start", array_like=True, frozen=True):
    output: int
    journal: int | None
    position: tuple[int, int, int] | None
    answers: int


class _Page(msgspec.Struct, tag="page", array_like=True, frozen=True):
    region: str
    kind: JobKindName
    solution_version_arn: str | None
    account: str | None
    next_token: str | None
    restarted: bool
    items: msgspec.Raw  # the records, msgpack: decoded by kind in the child


class _End(msgspec.Struct, tag="end", array_like=True, frozen=True):
    pass


_Request = _Start | _Page | _End


class _Answer(msgspec.Struct, array_like=True, frozen=True):
    """The child's one answer: the jobs it wrote, by kind; its failure, if it failed
    (``errno`` ``EPIPE``: the output's reader has gone)."""

    written: dict[str, int]
    errno: int | None = None
    message: str | None = None


_ANSWER = msgspec.msgpack.Decoder(_Answer)

_ITEMS: dict[str, msgspec.msgpack.Decoder[Any]] = {
    "inference": msgspec.msgpack.Decoder(tuple[BatchInferenceJobSummary, ...]),
    "segment": msgspec.msgpack.Decoder(tuple[BatchSegmentJobSummary, ...]),
}


def descriptor(sink: object) -> int | None:
    """The file descriptor of ``sink``, if it writes to one (a file, stdout)."""
    fileno = getattr(sink, "fileno", None)
    if fileno is None:
        return None
    try:
        found = fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return found if isinstance(found, int) else None


class OutputWriter:
    """The parent's end: pages sent to the child, in order, as they come.

    ``written``: the jobs the child wrote, by kind, once it has answered (``None``
    before, and when it was killed before it could).
    """

    def __init__(self, process: anyio.abc.Process, requests: int, answers: int) -> None:
        self._process = process
        self._requests: int | None = requests
        self._answers = answers
        self._answer: _Answer | None = None
        self._encoder = msgspec.msgpack.Encoder()
        self.written: dict[str, int] | None = None

    async def write(self, key: ChainKey, page: Page[Job], *, restarted: bool) -> None:
        """Hand ``page`` (the jobs to write of it) of chain ``key`` over to be written
        and journaled.

        :raises BrokenPipeError: the output's reader has gone (the child said so).
        :raises OSError: the child failed to write (its error), or has gone.
        """
        frame = self._encoder.encode(
            _Page(
                key.region,
                key.kind,
                page.solution_version_arn,
                page.account,
                page.next_token,
                restarted,
                msgspec.Raw(self._encoder.encode(page.items)),
            )
        )
        await self._send(frame)

    async def finish(self) -> None:
        """Wait for every page sent to be written and journaled.

        :raises OSError: as :meth:`write`.
        """
        with anyio.CancelScope(shield=True):
            await self._send(self._encoder.encode(_End()))
            self._close_requests()
            await self._answered()

    async def aclose(self) -> None:
        """Stop the child (it writes nothing more) and wait for it to exit."""
        with anyio.CancelScope(shield=True):
            self._close_requests()
            await self._process.wait()
            await self._process.aclose()
        answers, self._answers = self._answers, -1
        if answers >= 0:
            os.close(answers)

    async def _send(self, body: bytes) -> None:
        requests = self._requests
        if requests is None:  # the child has failed (its failure again), or has ended
            await self._answered()
            raise WriterGone("the output's writer process has ended")
        view = memoryview(_HEADER.pack(len(body)) + body)
        try:
            with anyio.CancelScope(shield=True):  # a frame goes whole or not at all
                while True:
                    with contextlib.suppress(BlockingIOError):
                        view = view[os.write(requests, view) :]
                    if not view:
                        return
                    await anyio.wait_writable(requests)
        except BrokenPipeError:  # the child has exited: its answer says why
            self._close_requests()
            with anyio.CancelScope(shield=True):
                await self._answered()
            raise WriterGone("the output's writer process has ended") from None

    def _close_requests(self) -> None:
        requests, self._requests = self._requests, None
        if requests is not None:
            os.close(requests)

    async def _answered(self) -> _Answer:
        """The child's answer, once it has exited (it answers just before).

        :raises OSError: the child's failure; :class:`WriterGone` if it gave no answer.
        """
        answer = self._answer
        if answer is None:
            await self._process.wait()
            chunks = []
            while chunk := os.read(self._answers, 1 << 16):
                chunks.append(chunk)
            data = b"".join(chunks)
            if len(data) < _HEADER.size:
                code = self._process.returncode
                how = (
                    f"was killed by signal {-code}"
                    if code is not None and code < 0
                    else f"exited with status {code}"
                )
                answer = _Answer({}, errno=0, message=f"the output's writer process {how}")
            else:
                (length,) = _HEADER.unpack_from(data)
                answer = _ANSWER.decode(data[_HEADER.size : _HEADER.size + length])
                self.written = answer.written
            self._answer = answer
        if answer.errno is None:
            return answer
        message = answer.message or "failed"
        if answer.errno == errno.EPIPE:
            raise BrokenPipeError(answer.errno, message)
        if answer.errno == 0:
            raise WriterGone(message)
        raise OSError(answer.errno, message)


@contextlib.asynccontextmanager
async def output_writer(sink: Sink, journal: Journal | None) -> AsyncIterator[OutputWriter]:
    """A writer process for ``sink`` (a file or pipe: see :func:`descriptor`) and its
    ``journal``, ended on exit (after the pages sent are written, on
    :meth:`OutputWriter.finish`; at once otherwise).

    :raises OSError: the process cannot be started.
    """
    output = descriptor(sink)
    if output is None:
        raise ValueError(f"{sink!r} writes to no file descriptor")
    sink.flush()
    journaled = None if journal is None else journal.fileno()
    answers, their_answers = os.pipe()
    requests, our_requests = os.pipe()
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):  # the system's limit is lower: keep its size
            fcntl.fcntl(our_requests, set_size, _PIPE_SIZE)
    os.set_blocking(our_requests, False)
    kept = [fd for fd in (output, journaled, their_answers) if fd is not None and fd > 2]
    try:
        process = await anyio.open_process(
            [sys.executable, "-m", "aiopersonalize.cli._writer", str(os.getpid())],
            stdin=requests,
            stdout=None,
            stderr=None,  # a traceback of the child's own failure reaches the user
            pass_fds=kept,
            start_new_session=True,  # the terminal's Ctrl-C is this process's to handle
        )
    except BaseException:
        for fd in (answers, our_requests):
            os.close(fd)
        raise
    finally:
        os.close(requests)
        os.close(their_answers)
    writer = OutputWriter(process, our_requests, answers)
    try:
        start = _Start(
            output, journaled, None if journal is None else journal.position, their_answers
        )
        await writer._send(msgspec.msgpack.encode(start))
        yield writer
    finally:
        await writer.aclose()


# -- the child ---------------------------------------------------------------------


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or ``None`` at its end."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_request(fd: int) -> bytes | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    return _read_exactly(fd, _HEADER.unpack(header)[0])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _die_with_parent(parent: int) -> None:
    """Be killed when the crawl's process (``parent``) dies, on Linux; exit now if it
    has died already (before the request took effect)."""
    if not sys.platform.startswith("linux"):  # pragma: no cover - Linux here
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def _serve(requests: int) -> tuple[_Answer, int]:
    """Write the pages until the end; the answer, and the descriptor to give it on."""
    decoder = msgspec.msgpack.Decoder(_Request)
    body = _read_request(requests)
    if body is None:
        os._exit(0)  # the crawl's process died before it started us
    start = decoder.decode(body)
    if not isinstance(start, _Start):
        raise RuntimeError(f"the output's writer was not started: {start!r}")
    output = open(start.output, "wb", buffering=0, closefd=False)  # noqa: SIM115
    journal = None
    if start.journal is not None and start.position is not None:
        offset, output_crc, crc = start.position
        file = open(start.journal, "ab", closefd=False)  # noqa: SIM115
        journal = Journal(file, output, offset=offset, output_crc=output_crc, crc=crc)
    written: dict[str, int] = {}
    try:
        while (body := _read_request(requests)) is not None:
            request = decoder.decode(body)
            if isinstance(request, _End):
                return _Answer(written), start.answers
            if not isinstance(request, _Page):
                raise RuntimeError(f"the output's writer was started twice: {request!r}")
            page: Page[Job] = Page(
                _ITEMS[request.kind].decode(request.items),
                request.next_token,
                request.solution_version_arn,
                request.region,
                request.kind,
                account=request.account,
            )
            data = page_lines(page)
            _write_all(start.output, data)
            if journal is not None:
                key = ChainKey(
                    request.region, request.kind, request.solution_version_arn, request.account
                )
                journal.record(key, page.next_token, data, restarted=request.restarted)
            written[request.kind] = written.get(request.kind, 0) + len(page.items)
    except OSError as exc:
        failure = _Answer(written, errno=exc.errno or errno.EIO, message=exc.strerror or str(exc))
        return failure, start.answers
    os._exit(0)  # stdin ended without the end: the crawl's process died


def main() -> None:
    """The child's entry point: write the pages read from stdin."""
    _die_with_parent(int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answer, answers = _serve(sys.stdin.fileno())
    data = msgspec.msgpack.encode(answer)
    _write_all(answers, _HEADER.pack(len(data)) + data)


if __name__ == "__main__":
    main()
