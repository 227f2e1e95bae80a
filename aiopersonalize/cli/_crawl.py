"""``aiopersonalize crawl``: every batch job of an account, as JSON Lines.

Discovers dataset groups, solutions and solution versions (or takes the versions
given) and lists their batch inference and batch segment jobs under one bounded pool,
through :meth:`aiopersonalize.Client.crawl_batch_jobs`: one JSON object per job and
line, with its ``kind`` and ``region`` and the AWS member names. A progress line on
stderr, a summary at the end, and with ``--checkpoint`` a journal that lets a crawl
interrupted at any point (even by ``kill -9``) resume with no job lost or written twice.

This module wires the command together: the options (:mod:`._options`), then the
output and checkpoint (:mod:`._output`), then the engine (:mod:`._engine`) on an event
loop of its own, then the summary and exit status (:mod:`._summary`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import anyio

from aiopersonalize import Client, ParamValidationError, PersonalizeError

from ._checkpoint import CheckpointError, Recovered
from ._engine import Earlier, Outcome, Plan, crawl
from ._options import Options, OptionsError, ProgressMode, add_arguments, read_options
from ._output import Target, open_target
from ._summary import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_USAGE,
    PROG,
    exit_status,
    summarize,
)

__all__ = ["add_arguments", "run"]


def _usage(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Run ``aiopersonalize crawl``; returns the exit status."""
    try:
        options = read_options(args)
        target = open_target(options)
    except (OptionsError, CheckpointError) as exc:
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
        sys.stderr.write(f"{PROG}: error: cannot write the output: {exc}\n")
        return EXIT_FAILED
    if isinstance(result, ParamValidationError):
        target.discard_new_journal()
        return _usage(str(result))
    summarize(result, sys.stderr, checkpoint=options.checkpoint)
    return exit_status(result)


def _execute(options: Options, target: Target) -> Outcome | ParamValidationError:
    """The crawl, on an event loop of its own; invalid input is returned, not raised."""
    try:
        return anyio.run(_crawl_command, options, target)
    except KeyboardInterrupt:  # before the signal handlers were installed, or after
        return Outcome(interrupted=True)
    except ParamValidationError as exc:
        return exc
    except PersonalizeError as exc:  # the client could not be created
        return Outcome(error=exc)


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
        regions = tuple(sorted({key.region for key in positions}))
    return dataclasses.replace(plan, regions=regions, resume=positions)


def _show_progress(mode: ProgressMode, output: str) -> bool:
    if mode != "auto":
        return mode == "always"
    # A progress line would be drawn over JSON Lines printed to the same terminal.
    return sys.stderr.isatty() and not (output == "-" and sys.stdout.isatty())


async def _crawl_command(options: Options, target: Target) -> Outcome:
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
        recovered = target.recovered
        outcome = await crawl(
            client,
            plan,
            target.sink,
            journal=target.journal,
            progress=sys.stderr if _show_progress(options.progress, options.output) else None,
            earlier=None
            if recovered is None
            else Earlier(Path(options.output), recovered.offset, recovered.restarted),
        )
    finally:
        await client.aclose()
    if target.recovered is not None:
        outcome.resumed_chains = sum(t is None for t in target.recovered.positions.values())
        outcome.kept_bytes = target.recovered.offset
    return outcome
