"""``aiopersonalize crawl``: every batch job of an account, as JSON Lines.

Discovers dataset groups, solutions and solution versions (or takes the versions
given) and lists their batch inference and batch segment jobs under one bounded pool,
through :meth:`aiopersonalize.Client.crawl_batch_jobs`: one JSON object per job and
line, with its ``kind`` and ``region`` and the AWS member names. A progress line on
stderr, a summary at the end, and with ``--checkpoint`` a journal that lets a crawl
interrupted at any point (even by ``kill -9``) resume with no job lost or written twice.

Uses only the public API. :func:`crawl` and :func:`summarize` are also the demo's.

Exit statuses: 0 done; 1 some listing failed, or a fatal error; 2 usage errors (bad
arguments, a checkpoint of another crawl); 130 interrupted (SIGINT or SIGTERM); 141
the reader of stdout went away (``crawl | head``), quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, TextIO, cast

import anyio
from anyio.abc import TaskStatus

import aiopersonalize
from aiopersonalize import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    JOB_KIND_NAMES,
    MAX_PAGE_SIZE,
    ON_ERROR_POLICIES,
    RETRY_MODES,
    ChainKey,
    Client,
    JobKindName,
    ListingFailure,
    MergedListing,
    MergeProgress,
    OnError,
    Page,
    ParamValidationError,
    PersonalizeError,
    RequestStats,
    RetryMode,
    ServiceError,
)

from ._checkpoint import CheckpointError, Journal, Recovered, recover

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Outcome",
    "Plan",
    "add_arguments",
    "crawl",
    "exit_status",
    "run",
    "summarize",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away

_PROG = "aiopersonalize crawl"
# The progress line is redrawn this often: lively, yet cheap next to the crawl.
_PROGRESS_INTERVAL = 0.25

ProgressMode = Literal["auto", "always", "never"]

Job = aiopersonalize.BatchInferenceJobSummary | aiopersonalize.BatchSegmentJobSummary


class Sink(Protocol):
    """Where the JSON Lines go: a binary file, stdout's buffer, or the demo's sample."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


# -- the command line -------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _page_size(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PAGE_SIZE}, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``crawl`` command's options."""
    where = parser.add_argument_group("where")
    where.add_argument(
        "--region",
        action="append",
        metavar="REGION",
        help="a region to crawl; repeat for several (default: the environment's or "
        "profile's region)",
    )
    where.add_argument("--profile", help="the AWS profile for credentials and region")
    where.add_argument(
        "--endpoint-url", metavar="URL", help="another endpoint, e.g. a local emulator"
    )
    what = parser.add_argument_group("what")
    what.add_argument(
        "--kind",
        action="append",
        choices=JOB_KIND_NAMES,
        help="a job kind to list; repeat for both (default: both)",
    )
    what.add_argument(
        "--solution-version-arn",
        action="append",
        metavar="ARN",
        help="list this solution version's jobs (repeatable); no discovery then",
    )
    how = parser.add_argument_group("how")
    how.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"this crawl's requests in flight at most (default {DEFAULT_CONCURRENCY})",
    )
    how.add_argument(
        "--max-concurrency",
        type=_positive_int,
        metavar="N",
        help="the client's cap on requests in flight (default: the larger of "
        f"--concurrency and {aiopersonalize.DEFAULT_MAX_CONCURRENCY})",
    )
    how.add_argument(
        "--max-rps",
        type=_positive_float,
        metavar="RATE",
        help="at most this many HTTP requests per second, retries included (default: no cap)",
    )
    how.add_argument(
        "--retry-mode",
        choices=RETRY_MODES,
        help="botocore's retry mode (default adaptive: retries, and slowing down once throttled)",
    )
    how.add_argument(
        "--max-attempts",
        type=_positive_int,
        metavar="N",
        help="attempts per call, retries included (default: botocore's, 3)",
    )
    how.add_argument(
        "--page-size",
        type=_page_size,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"jobs per request, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
    )
    how.add_argument(
        "--on-error",
        choices=ON_ERROR_POLICIES,
        default="skip",
        help="skip: a listing that fails is reported and the others go on (exit status 1); "
        "raise: the first failure stops the crawl (default skip)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output",
        "-o",
        default="-",
        metavar="FILE",
        help="write the JSON Lines here (default -: stdout)",
    )
    out.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="journal progress here; rerun the same command to resume an interrupted "
        "crawl (needs --output FILE)",
    )
    out.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="a progress line on stderr (auto: when stderr is a terminal)",
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What to crawl and how: :meth:`Client.crawl_batch_jobs`'s arguments."""

    kinds: tuple[JobKindName, ...] = JOB_KIND_NAMES
    regions: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    page_size: int = DEFAULT_PAGE_SIZE
    on_error: OnError = "skip"
    resume: Mapping[ChainKey, str | None] | None = None

    def listing(self, client: Client) -> MergedListing[Job]:
        return client.crawl_batch_jobs(
            kinds=self.kinds,
            regions=self.regions,
            solution_version_arns=self.versions,
            concurrency=self.concurrency,
            page_size=self.page_size,
            on_error=self.on_error,
            resume=self.resume,
        )


@dataclass(frozen=True, slots=True)
class _Options:
    """The parsed command line."""

    plan: Plan
    profile: str | None
    endpoint_url: str | None
    max_concurrency: int
    max_rps: float | None
    retry_mode: RetryMode | None
    max_attempts: int | None
    output: str
    checkpoint: str | None
    progress: ProgressMode


class _UsageError(Exception):
    """A combination of arguments that cannot work."""


def _unique(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(dict.fromkeys(values))


def _options(args: argparse.Namespace) -> _Options:
    if args.checkpoint is not None:
        if args.output == "-":
            raise _UsageError("--checkpoint needs --output FILE (output to stdout cannot resume)")
        if Path(args.checkpoint).resolve() == Path(args.output).resolve():
            raise _UsageError("--checkpoint and --output must be different files")
    kinds = cast("tuple[JobKindName, ...]", _unique(args.kind) or JOB_KIND_NAMES)
    plan = Plan(
        kinds=kinds,
        regions=_unique(args.region),
        versions=_unique(args.solution_version_arn),
        concurrency=args.concurrency,
        page_size=args.page_size,
        on_error=args.on_error,
    )
    return _Options(
        plan=plan,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        max_concurrency=args.max_concurrency
        or max(args.concurrency, aiopersonalize.DEFAULT_MAX_CONCURRENCY),
        max_rps=args.max_rps,
        retry_mode=args.retry_mode,
        max_attempts=args.max_attempts,
        output=args.output,
        checkpoint=args.checkpoint,
        progress=args.progress,
    )


def _usage(message: str) -> int:
    sys.stderr.write(f"{_PROG}: error: {message}\n")
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Run ``aiopersonalize crawl``; returns the exit status."""
    try:
        options = _options(args)
        target = _open_target(options)
    except (_UsageError, CheckpointError) as exc:
        return _usage(str(exc))
    except OSError as exc:
        return _usage(f"cannot open the output: {exc}")
    result = _execute(options, target)
    if isinstance(result, Outcome) and result.reader_gone:
        # What is left in stdout's buffer can go nowhere; say nothing, and end as a
        # filter killed by SIGPIPE does (Python's documented way to silence the flush).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    try:
        target.close()
    except OSError as exc:
        sys.stderr.write(f"{_PROG}: error: cannot write the output: {exc}\n")
        return EXIT_FAILED
    if isinstance(result, ParamValidationError):
        target.discard_new_journal()
        return _usage(str(result))
    summarize(result, sys.stderr, checkpoint=options.checkpoint)
    return exit_status(result)


def _execute(options: _Options, target: _Target) -> Outcome | ParamValidationError:
    """The crawl, on an event loop of its own; invalid input is returned, not raised."""
    try:
        return anyio.run(_crawl_command, options, target)
    except KeyboardInterrupt:  # before the signal handlers were installed, or after
        return Outcome(interrupted=True)
    except ParamValidationError as exc:
        return exc
    except PersonalizeError as exc:  # the client could not be created
        return Outcome(error=exc)


# -- output and checkpoint --------------------------------------------------------------


@dataclass(slots=True)
class _Target:
    """The output (and journal) of one run, positioned where this run appends."""

    sink: BinaryIO
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
            else:
                self.sink.flush()
        finally:
            if self.owned:
                self.sink.close()

    def discard_new_journal(self) -> None:
        """Remove the journal this run created: the crawl never started (invalid
        input), and a corrected command should not be refused as another crawl."""
        if self.new_journal is not None:
            self.new_journal.unlink(missing_ok=True)


def _checkpoint_params(options: _Options) -> dict[str, Any]:
    """The parameters that determine a crawl's output: a resume must repeat them."""
    plan = options.plan
    return {
        "regions": None if plan.regions is None else sorted(plan.regions),
        "kinds": sorted(plan.kinds),
        "versions": None if plan.versions is None else sorted(plan.versions),
        "endpoint_url": options.endpoint_url,
        "profile": options.profile,
        "page_size": plan.page_size,
        "output": str(Path(options.output).resolve()),
    }


def _open_target(options: _Options) -> _Target:
    """Open the output: stdout, a new file, or a checkpointed file to resume.

    :raises CheckpointError: the checkpoint belongs to another crawl, or its output
        is missing.
    """
    if options.output == "-":
        return _Target(sys.stdout.buffer, owned=False)
    output = Path(options.output)
    if options.checkpoint is None:
        return _Target(output.open("wb"))
    journal_path = Path(options.checkpoint)
    params = _checkpoint_params(options)
    recovered = recover(journal_path, output, params, kinds=options.plan.kinds)
    if recovered is None:
        # The output first: a journal must never exist without its output.
        sink = output.open("wb")
        try:
            journal = Journal.create(journal_path, params, sink)
        except BaseException:
            sink.close()
            raise
        return _Target(sink, journal, new_journal=journal_path)
    # Drop whatever follows the last journaled page: it is fetched again.
    os.truncate(output, recovered.offset)
    sink = output.open("ab")
    try:
        journal = Journal.reopen(journal_path, recovered, sink)
    except BaseException:
        sink.close()
        raise
    return _Target(sink, journal, recovered)


def _resume_plan(plan: Plan, recovered: Recovered | None) -> Plan:
    """The plan of a resumed crawl: journaled chains go on after their last token.

    A crawl of the default region stays in the region it started in, even if the
    environment's default has changed since.
    """
    if recovered is None:
        return plan
    positions = dict(recovered.positions)
    regions = plan.regions
    if regions is None and plan.versions is None and positions:
        regions = tuple(sorted({region for region, _, _ in positions}))
    return Plan(
        kinds=plan.kinds,
        regions=regions,
        versions=plan.versions,
        concurrency=plan.concurrency,
        page_size=plan.page_size,
        on_error=plan.on_error,
        resume=positions,
    )


def _show_progress(mode: ProgressMode, output: str) -> bool:
    if mode != "auto":
        return mode == "always"
    # A progress line would be drawn over JSON Lines printed to the same terminal.
    return sys.stderr.isatty() and not (output == "-" and sys.stdout.isatty())


async def _crawl_command(options: _Options, target: _Target) -> Outcome:
    plan = _resume_plan(options.plan, target.recovered)
    client = Client(
        region_name=plan.regions[0] if plan.regions else None,
        endpoint_url=options.endpoint_url,
        profile_name=options.profile,
        max_concurrency=options.max_concurrency,
        max_requests_per_second=options.max_rps,
        retry_mode=options.retry_mode,
        max_attempts=options.max_attempts,
    )
    # Not ``async with client``: the client opens on its first request, after the
    # crawl's input was checked, and a failure to open is the crawl's fatal error.
    try:
        outcome = await crawl(
            client,
            plan,
            target.sink,
            journal=target.journal,
            progress=sys.stderr if _show_progress(options.progress, options.output) else None,
        )
    finally:
        await client.aclose()
    if target.recovered is not None:
        outcome.resumed_chains = sum(t is None for t in target.recovered.positions.values())
        outcome.kept_bytes = target.recovered.offset
    return outcome


# -- the crawl --------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What a crawl did: what :func:`summarize` prints and :func:`exit_status` judges."""

    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    jobs: Counter[str] = field(default_factory=Counter)
    regions: set[str] = field(default_factory=set)
    interrupted: bool = False
    error: PersonalizeError | OSError | None = None
    failures: tuple[ListingFailure, ...] = ()
    progress: MergeProgress | None = None
    stats: RequestStats | None = None
    resumed_chains: int = 0
    kept_bytes: int = 0
    reader_gone: bool = False  # stdout's reader closed the pipe


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_line(record: Mapping[str, Any]) -> bytes:
    # ASCII only: every other character is escaped, so a line break inside a string
    # (U+2028, U+0085, ...) cannot split a line for any reader; no NaN: not JSON.
    line = json.dumps(
        record, default=_json_default, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return line.encode() + b"\n"


def page_lines(page: Page[Job]) -> bytes:
    """The page's jobs as JSON Lines: kind, region, then the AWS members."""
    head = {"kind": page.kind, "region": page.region}
    return b"".join(_json_line({**head, **job.to_dict()}) for job in page.items)


def _chain(page: Page[Job]) -> ChainKey:
    if page.region is None or page.kind is None or page.solution_version_arn is None:
        raise RuntimeError(f"a crawl page without its chain: {page!r}")  # pragma: no cover
    return ChainKey(page.region, page.kind, page.solution_version_arn)


async def _write_pages(
    listing: MergedListing[Job],
    sink: Sink,
    journal: Journal | None,
    outcome: Outcome,
) -> None:
    """Write each page, then journal it.

    The writes are synchronous: no cancellation can fall between a page's output and
    its journal entry (a killed process is the journal's business).
    """
    async with listing:
        async for page in listing.pages():
            data = page_lines(page)
            sink.write(data)
            sink.flush()
            if journal is not None:
                journal.record(_chain(page), page.next_token, data)
            outcome.jobs[page.kind or "?"] += len(page.items)
            if page.region is not None:
                outcome.regions.add(page.region)


async def _consume(
    listing: MergedListing[Job],
    sink: Sink,
    journal: Journal | None,
    outcome: Outcome,
) -> None:
    """:func:`_write_pages`, with a fatal error kept on the outcome."""
    try:
        await _write_pages(listing, sink, journal, outcome)
    except BrokenPipeError:
        # The reader has gone (``crawl | head``): stop quietly, as a filter does.
        outcome.reader_gone = True
    except (PersonalizeError, OSError) as exc:
        outcome.error = exc


async def _watch_signals(
    scope: anyio.CancelScope,
    outcome: Outcome,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """On SIGINT or SIGTERM, stop the crawl (after the page being written)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            outcome.interrupted = True
            scope.cancel()
            return


class _ProgressLine:
    """One line of stderr, redrawn in place with ``\\r``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._width = 0

    def show(self, text: str) -> None:
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


def progress_text(progress: MergeProgress, stats: RequestStats, elapsed: float) -> str:
    """``listings 10/24 · failed 0 · jobs 500 · requests 60 · retries 2 · 830 jobs/s``."""
    rate = progress.jobs / elapsed if elapsed > 0 else 0.0
    text = (
        f"listings {progress.versions_done}/{progress.versions} · "
        f"failed {progress.versions_failed} · jobs {progress.jobs} · "
        f"requests {stats.requests} · retries {stats.retries} · {rate:.0f} jobs/s"
    )
    return text + (" · discovering" if progress.discovering else "")


async def _report_progress(
    listing: MergedListing[Job], client: Client, outcome: Outcome, line: _ProgressLine
) -> None:
    while True:
        # First after one interval: a crawl that quick needs no progress line.
        await anyio.sleep(_PROGRESS_INTERVAL)
        elapsed = time.monotonic() - outcome.started
        line.show(progress_text(listing.progress, client.stats, elapsed))


async def crawl(
    client: Client,
    plan: Plan,
    sink: Sink,
    *,
    journal: Journal | None = None,
    progress: TextIO | None = None,
) -> Outcome:
    """Crawl ``plan`` into ``sink`` as JSON Lines; the returned outcome says how it went.

    ``journal``: the checkpoint's, positioned at the sink's end. Fatal errors and
    signals end the crawl and are kept on the outcome, never raised: what was written
    stays written (and journaled). ``progress``: a stream for the progress line.

    :raises ParamValidationError: the plan is invalid (nothing was sent).
    """
    outcome = Outcome()
    listing = plan.listing(client)
    line = _ProgressLine(progress) if progress is not None else None
    try:
        async with anyio.create_task_group() as tg:
            if threading.current_thread() is threading.main_thread():
                await tg.start(_watch_signals, tg.cancel_scope, outcome)
            if line is not None:
                tg.start_soon(_report_progress, listing, client, outcome, line)
            await _consume(listing, sink, journal, outcome)
            tg.cancel_scope.cancel()
    finally:
        if line is not None:
            line.clear()
        outcome.elapsed = time.monotonic() - outcome.started
        outcome.failures = listing.failures
        outcome.progress = listing.progress
        outcome.stats = client.stats
    return outcome


# -- the summary ------------------------------------------------------------------------


def exit_status(outcome: Outcome) -> int:
    """130 interrupted; 2 invalid input; 1 a fatal error or a failed listing; else 0."""
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if isinstance(outcome.error, ParamValidationError):
        return EXIT_USAGE
    if outcome.error is not None or outcome.failures:
        return EXIT_FAILED
    return EXIT_OK


def _error_name(error: BaseException) -> str:
    if isinstance(error, ServiceError):
        return f"{type(error).__name__} ({error.code})"
    return type(error).__name__


def failure_line(failure: ListingFailure) -> str:
    """One failed listing: operation, what was being listed, where, and the error."""
    subject = failure.solution_version_arn or failure.parent_arn or "(account)"
    where = failure.region if failure.kind is None else f"{failure.region}, {failure.kind}"
    return f"{failure.operation} {subject} [{where}]: {_error_name(failure.error)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary_lines(outcome: Outcome, checkpoint: str | None) -> Sequence[str]:
    lines: list[str] = []
    if outcome.resumed_chains or outcome.kept_bytes:
        lines.append(
            f"resumed: {_plural(outcome.resumed_chains, 'listing')} already complete, "
            f"{outcome.kept_bytes} bytes of output kept"
        )
    by_kind = ", ".join(
        f"{outcome.jobs[kind]} {kind}" for kind in JOB_KIND_NAMES if kind in outcome.jobs
    )
    jobs = sum(outcome.jobs.values())
    regions = ", ".join(sorted(outcome.regions))
    lines.append(
        f"jobs: {jobs}"
        + (f" ({by_kind})" if by_kind else "")
        + (f" in {regions}" if regions else "")
    )
    if outcome.progress is not None:
        p = outcome.progress
        lines.append(
            f"listings (solution version x job kind): {p.versions_done} of {p.versions} "
            f"complete, {p.versions_failed} failed"
        )
    lines.extend(f"  failed: {failure_line(f)}" for f in outcome.failures)
    rate = jobs / outcome.elapsed if outcome.elapsed > 0 else 0.0
    if outcome.stats is not None:
        lines.append(
            f"requests: {outcome.stats.requests} ({outcome.stats.retries} retries) "
            f"in {outcome.elapsed:.2f} s, {rate:.0f} jobs/s"
        )
    lines.extend(_ending(outcome, checkpoint))
    return lines


def _ending(outcome: Outcome, checkpoint: str | None) -> Sequence[str]:
    """How the crawl ended, and what to do next."""
    if outcome.interrupted:
        if checkpoint is None:
            return ["interrupted (without --checkpoint, a rerun starts over)"]
        return [f"interrupted: rerun the same command to resume from {checkpoint}"]
    if outcome.error is not None:
        detail = f"{_error_name(outcome.error)}: {outcome.error}"
        again = f"; rerun the same command to resume from {checkpoint}" if checkpoint else ""
        return [f"{_PROG}: error: {detail}{again}"]
    if outcome.failures:
        again = (
            f"; rerun the same command to retry them from {checkpoint}"
            if checkpoint
            else " (with --checkpoint, a rerun retries just those)"
        )
        return [f"{_plural(len(outcome.failures), 'listing')} failed{again}"]
    return []


def summarize(outcome: Outcome, stream: TextIO, *, checkpoint: str | None = None) -> None:
    """Print the end-of-crawl summary (credentials never appear: none are known here)."""
    stream.writelines(f"{line}\n" for line in _summary_lines(outcome, checkpoint))
    stream.flush()
