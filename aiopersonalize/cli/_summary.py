"""The end of a crawl: its summary on stderr, and its exit status.

Exit statuses: 0 done; 1 some listing failed, or a fatal error; 2 usage errors (bad
arguments, a checkpoint of another crawl); 130 interrupted (SIGINT or SIGTERM); 141
the reader of stdout went away (``crawl | head``), quietly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from aiopersonalize import (
    JOB_KIND_NAMES,
    ConfigurationError,
    ListingFailure,
    ParamValidationError,
    PersonalizeError,
    ServiceError,
)

from ._engine import Outcome

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "error_text",
    "exit_status",
    "failure_line",
    "fatal_line",
    "summarize",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away

PROG = "aiopersonalize crawl"
"""The name the crawl's messages start with."""


def exit_status(outcome: Outcome) -> int:
    """130 interrupted; 2 invalid input; 1 a fatal error or a failed listing; else 0."""
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if isinstance(outcome.error, ParamValidationError):
        return EXIT_USAGE
    if outcome.error is not None or outcome.failures:
        return EXIT_FAILED
    return EXIT_OK


# What to set for each setting a ConfigurationError names, in the command's terms.
_SET = {
    "region": "give --region REGION, or set AWS_DEFAULT_REGION",
    "credentials": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --profile NAME",
    "profile": "give --profile NAME (or set AWS_PROFILE) with a profile of your AWS config",
}


def _error_name(error: BaseException) -> str:
    if isinstance(error, ServiceError):
        return f"{type(error).__name__} ({error.code})"
    return type(error).__name__


def error_text(error: BaseException, *, context: bool = True) -> str:
    """The error's class (and service code, once), then its message: with ``context``,
    the operation and ARN it names too."""
    if isinstance(error, PersonalizeError):
        detail = str(error) if context else error.message
        if isinstance(error, ServiceError):
            detail = detail.removeprefix(f"{error.code}: ")
    else:
        detail = str(error)
    return f"{_error_name(error)}: {detail}" if detail else _error_name(error)


def fatal_line(error: BaseException) -> str:
    """The one line a fatal error gets: a configuration error as what to set."""
    if isinstance(error, ConfigurationError):
        hint = _SET.get(error.setting or "")
        message = error.message.rstrip(".")
        return f"{PROG}: error: {message}" + (f": {hint}" if hint else "")
    return f"{PROG}: error: {error_text(error)}"


def failure_line(failure: ListingFailure) -> str:
    """One failed listing: operation, what was being listed, where, and the error; or
    in a crawl of several accounts, an account (or account-region) that refused."""
    if failure.account is not None and failure.kind is None:
        if failure.operation == "AssumeRole":
            return f"account {failure.account}: AssumeRole refused: {_error_name(failure.error)}"
        if failure.solution_version_arn is None and failure.parent_arn is None:
            return (
                f"account {failure.account} in {failure.region}: {failure.operation} "
                f"refused: {_error_name(failure.error)}"
            )
    subject = failure.solution_version_arn or failure.parent_arn or "(account)"
    if failure.account is not None:
        subject = f"{subject} of account {failure.account}"
    where = failure.region if failure.kind is None else f"{failure.region}, {failure.kind}"
    return f"{failure.operation} {subject} [{where}]: {error_text(failure.error, context=False)}"


def _nothing_done(outcome: Outcome) -> bool:
    """Whether the crawl ended before it sent anything or wrote anything."""
    sent = outcome.stats is not None and outcome.stats.requests > 0
    return not (sent or outcome.jobs or outcome.failures or outcome.resumed_chains)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary_lines(outcome: Outcome, checkpoint: str | None) -> Sequence[str]:
    if outcome.error is not None and _nothing_done(outcome):
        return _ending(outcome, checkpoint)  # one line: a summary of zeros says nothing
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
    if outcome.progress is not None and outcome.progress.accounts:
        p = outcome.progress
        lines.append(
            f"accounts: {p.accounts_opened} of {p.accounts} opened, {p.accounts_failed} "
            f"refused; jobs found in {_plural(len(outcome.accounts), 'account')}"
        )
    if outcome.database is not None:
        lines.append(outcome.database)
    if outcome.progress is not None:
        p = outcome.progress
        unit = (
            "region x job kind" if outcome.strategy == "account" else "solution version x job kind"
        )
        if p.accounts:
            unit = f"account x {unit}"
        lines.append(
            f"listings ({unit}): {p.versions_done} of {p.versions} "
            f"complete, {p.versions_failed} failed"
        )
    lines.extend(f"  failed: {failure_line(f)}" for f in outcome.failures)
    if outcome.restarted:
        lines.append(
            f"restarted: {_plural(len(outcome.restarted), 'listing')} listed again from the "
            f"start (the service refused the resume token: expired), "
            f"{_plural(outcome.repeats_skipped, 'job')} already written skipped"
        )
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
        again = ""
        if checkpoint and not _nothing_done(outcome):
            again = f"; rerun the same command to resume from {checkpoint}"
        return [fatal_line(outcome.error) + again]
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
