"""The ``crawl`` command's options: their parser, their checks, and :class:`Options`.

Each option's value is checked as it is parsed (argparse's usage error, exit status
2); combinations that cannot work raise :class:`OptionsError` from :func:`read_options`.
What to crawl becomes a :class:`~aiopersonalize.cli._engine.Plan`; the rest says where
the output goes and how the client talks to the service.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from aiopersonalize import (
    CRAWL_STRATEGIES,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    DEFAULT_RETRY_MODE,
    DEFAULT_ROLE_SESSION_NAME,
    JOB_KIND_NAMES,
    MAX_PAGE_SIZE,
    ON_ERROR_POLICIES,
    RETRY_MODES,
    JobKindName,
    Organization,
    ParamValidationError,
    RetryMode,
    RoleArns,
    personalize_regions,
)

from ._engine import Plan

__all__ = ["Options", "OptionsError", "ProgressMode", "add_arguments", "read_options"]

ProgressMode = Literal["auto", "always", "never"]


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
    where.add_argument(
        "--all-regions",
        action="store_true",
        help="every region where botocore's endpoint data says Personalize is available",
    )
    where.add_argument("--profile", help="the AWS profile for credentials and region")
    where.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="another endpoint for Personalize, STS and Organizations, e.g. a local "
        "emulator (default: botocore's, which AWS_ENDPOINT_URL_<SERVICE> can set)",
    )
    accounts = parser.add_argument_group("accounts (default: the credentials' own)")
    accounts.add_argument(
        "--organization",
        action="store_true",
        help="every ACTIVE account of the AWS Organization (ListAccounts): the "
        "credentials' own account with its credentials, each other one through the "
        "role --role-name (needs the management account or a delegated administrator)",
    )
    accounts.add_argument(
        "--role-name",
        metavar="NAME",
        help="with --organization: the role to assume in each member account",
    )
    accounts.add_argument(
        "--role-arn",
        action="append",
        metavar="ARN",
        help="crawl the account of this role, through STS AssumeRole (repeatable)",
    )
    accounts.add_argument(
        "--role-session-name",
        default=DEFAULT_ROLE_SESSION_NAME,
        metavar="NAME",
        help="the session name of the roles assumed (default: %(default)s)",
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
    what.add_argument(
        "--strategy",
        choices=CRAWL_STRATEGIES,
        help="account: one listing per region and job kind, the fewest calls; versions: "
        "one per solution version and kind, the versions found by listing dataset groups "
        "and solutions (default: account, or versions with --solution-version-arn)",
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
        f"--concurrency and {DEFAULT_MAX_CONCURRENCY})",
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
        help=f"botocore's retry mode (default {DEFAULT_RETRY_MODE}; the pace at the service's "
        "quota is the client's own in every mode)",
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
        metavar="FILE",
        help="write the JSON Lines here (default -: stdout, or none with --db)",
    )
    out.add_argument(
        "--db",
        metavar="URL",
        help="upsert the jobs into this inventory database: sqlite:///PATH (or a plain "
        "path) or postgresql://...; a rerun resumes an interrupted crawl from it",
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
class Options:
    """The parsed command line: the plan, the client's settings, the output."""

    plan: Plan
    profile: str | None
    endpoint_url: str | None
    max_concurrency: int
    max_rps: float | None
    retry_mode: RetryMode | None
    max_attempts: int | None
    output: str | None  # None: no JSON Lines (--db alone)
    checkpoint: str | None
    progress: ProgressMode
    db: str | None = None


class OptionsError(Exception):
    """A combination of arguments that cannot work."""


def _unique(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(dict.fromkeys(values))


def _accounts(args: argparse.Namespace) -> Organization | RoleArns | None:
    """The accounts to crawl: ``--organization --role-name``, or ``--role-arn``."""
    if args.role_name is not None and not args.organization:
        raise OptionsError("--role-name goes with --organization")
    try:
        if args.organization:
            if args.role_arn:
                raise OptionsError("give --organization or --role-arn, not both")
            if args.role_name is None:
                raise OptionsError(
                    "--organization needs --role-name NAME: the role to assume in each "
                    "member account"
                )
            accounts: Organization | RoleArns | None = Organization(
                args.role_name, session_name=args.role_session_name
            )
        elif args.role_arn:
            accounts = RoleArns(args.role_arn, session_name=args.role_session_name)
        else:
            return None
    except ParamValidationError as exc:
        raise OptionsError(str(exc)) from None
    if args.solution_version_arn:
        raise OptionsError(
            "give --solution-version-arn or accounts to crawl (--organization, --role-arn), "
            "not both"
        )
    return accounts


def read_options(args: argparse.Namespace) -> Options:
    """The options of the parsed ``args``, repeated values once each.

    :raises OptionsError: a checkpoint without an output file, in the output's place, or
        with ``--db``.
    """
    output = args.output if args.output is not None or args.db is not None else "-"
    if args.checkpoint is not None:
        if args.db is not None:
            raise OptionsError(
                "--checkpoint is for JSON Lines alone: with --db, the database is the "
                "checkpoint (a rerun resumes from it)"
            )
        if output in (None, "-"):
            raise OptionsError("--checkpoint needs --output FILE (output to stdout cannot resume)")
        if Path(args.checkpoint).resolve() == Path(output).resolve():
            raise OptionsError("--checkpoint and --output must be different files")
    kinds = cast("tuple[JobKindName, ...]", _unique(args.kind) or JOB_KIND_NAMES)
    regions = _unique(args.region)
    if args.all_regions:
        if regions is not None:
            raise OptionsError("give --region or --all-regions, not both")
        regions = personalize_regions()
    plan = Plan(
        kinds=kinds,
        accounts=_accounts(args),
        regions=regions,
        versions=_unique(args.solution_version_arn),
        strategy=args.strategy,
        concurrency=args.concurrency,
        page_size=args.page_size,
        on_error=args.on_error,
    )
    return Options(
        plan=plan,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        max_concurrency=args.max_concurrency or max(args.concurrency, DEFAULT_MAX_CONCURRENCY),
        max_rps=args.max_rps,
        retry_mode=args.retry_mode,
        max_attempts=args.max_attempts,
        output=output,
        checkpoint=args.checkpoint,
        progress=args.progress,
        db=args.db,
    )
