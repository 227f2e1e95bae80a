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
from dataclasses import dataclass
from pathlib import Path

import anyio

from aiopersonalize import (
    Client,
    CrawlResult,
    Inventory,
    InventoryCrawl,
    InventoryError,
    ParamValidationError,
    PersonalizeError,
)

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


class _Refused(Exception):
    """What stops a crawl before it starts, once the event loop runs (``--db``): the
    database cannot be used, or the output cannot be opened after it."""


@dataclass(slots=True)
class _Opened:
    """The output, opened before the crawl; with ``--db``, once the database is."""

    target: Target | None = None


def run(args: argparse.Namespace) -> int:
    """Run ``aiopersonalize crawl``; returns the exit status."""
    try:
        options = read_options(args)
        # With --db, the output is opened once the database is: nothing is written
        # (or truncated) for a database that cannot be used.
        opened = _Opened(None if options.db is not None else open_target(options))
    except (OptionsError, CheckpointError) as exc:
        return _usage(str(exc))
    except OSError as exc:
        return _usage(f"cannot open the output: {exc}")
    result = _execute(options, opened)
    target = opened.target
    if isinstance(result, _Refused):
        if target is not None:
            target.close()
        return _usage(str(result))
    if isinstance(result, Outcome) and result.reader_gone:
        # What is left in stdout's buffer can go nowhere; say nothing, and end as a
        # filter killed by SIGPIPE does (Python's documented way to silence the flush).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    try:
        if target is not None:
            target.close()
    except OSError as exc:
        sys.stderr.write(f"{PROG}: error: cannot write the output: {exc}\n")
        return EXIT_FAILED
    if isinstance(result, ParamValidationError):
        if target is not None:
            target.discard_new_journal()
        return _usage(str(result))
    resume_from = options.checkpoint
    if options.db is not None:
        resume_from = Inventory(options.db).url  # the password left out
    summarize(result, sys.stderr, checkpoint=resume_from)
    return exit_status(result)


def _execute(options: Options, opened: _Opened) -> Outcome | ParamValidationError | _Refused:
    """The crawl, on an event loop of its own; invalid input is returned, not raised."""
    try:
        return anyio.run(_crawl_command, options, opened)
    except KeyboardInterrupt:  # before the signal handlers were installed, or after
        return Outcome(interrupted=True)
    except ParamValidationError as exc:
        return exc
    except _Refused as exc:
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


def _show_progress(mode: ProgressMode, output: str | None) -> bool:
    if mode != "auto":
        return mode == "always"
    # A progress line would be drawn over JSON Lines printed to the same terminal.
    return sys.stderr.isatty() and not (output == "-" and sys.stdout.isatty())


def _database_plan(plan: Plan, run: InventoryCrawl) -> Plan:
    """The plan of a crawl into the inventory: its listings go on where it stands."""
    regions = plan.regions if plan.versions is not None else run.regions(plan.regions)
    return dataclasses.replace(plan, regions=regions, resume=run.resume)


def _database_line(url: str, result: CrawlResult) -> str:
    resumed = ", resumed" if result.resumed else ""
    return (
        f"database: crawl {result.crawl_id} {result.status}{resumed} in {url}: "
        f"{result.seen} jobs seen, {result.created} new, {result.changed} changed, "
        f"{result.reappeared} reappeared, {result.deleted} marked deleted "
        f"({len(result.scopes)} account x region x kind scopes synced)"
    )


async def _crawl_command(options: Options, opened: _Opened) -> Outcome:
    if options.db is None:
        assert opened.target is not None
        return await _crawl_to(options, opened.target, None)
    # The crawl's input is checked before the database is touched (ParamValidationError:
    # exit 2, and no crawl recorded).
    probe = _client(options, options.plan)
    try:
        async with options.plan.listing(probe):
            pass  # made and closed: nothing was sent
    finally:
        await probe.aclose()
    try:
        inventory = Inventory(options.db)
        await inventory.open()  # closes itself if it fails
    except InventoryError as exc:
        raise _Refused(str(exc)) from exc
    try:
        plan = options.plan
        try:
            run = await inventory.begin_crawl(
                kinds=plan.kinds,
                regions=plan.regions,
                strategy=plan.strategy,
                solution_version_arns=plan.versions,
                page_size=plan.page_size,
                options={"endpoint_url": options.endpoint_url, "profile": options.profile},
            )
            opened.target = open_target(options)
        except InventoryError as exc:
            raise _Refused(str(exc)) from exc
        except OSError as exc:
            raise _Refused(f"cannot open the output: {exc}") from exc
        outcome = await _crawl_to(options, opened.target, run)
        try:
            result = await run.finish(
                failures=outcome.failures, error=outcome.error, interrupted=outcome.interrupted
            )
        except InventoryError as exc:
            outcome.error = outcome.error or exc
        else:
            outcome.database = _database_line(inventory.url, result)
        return outcome
    finally:
        await inventory.aclose()


def _client(options: Options, plan: Plan) -> Client:
    return Client(
        region_name=plan.regions[0] if plan.regions else None,
        endpoint_url=options.endpoint_url,
        profile_name=options.profile,
        max_concurrency=options.max_concurrency,
        max_requests_per_second=options.max_rps,
        retry_mode=options.retry_mode,
        max_attempts=options.max_attempts,
    )


async def _crawl_to(options: Options, target: Target, run: InventoryCrawl | None) -> Outcome:
    if run is None:
        plan = _resume_plan(options.plan, target.recovered)
    else:
        plan = _database_plan(options.plan, run)
    client = _client(options, plan)
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
            if recovered is None or options.output is None
            else Earlier(Path(options.output), recovered.offset, recovered.restarted),
            inventory=run,
        )
    finally:
        await client.aclose()
    if target.recovered is not None:
        outcome.resumed_chains = sum(t is None for t in target.recovered.positions.values())
        outcome.kept_bytes = target.recovered.offset
    return outcome
