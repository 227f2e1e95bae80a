"""The ``serve`` command (``aiopersonalize serve``): its options, and an emulator served
until interrupted. Public, so that the command line (``aiopersonalize.cli``) can name it.

One table, ``_FLAGS``, says which flag carries which field of ``EmulatorOptions`` (or
of its inventory or faults); the parser is built from it (:func:`add_arguments`), parsed
options are read through it (:func:`emulator_options`), and ``EmulatorProcess`` builds
a record back into a command line with it (:func:`to_argv`), so the two directions
cannot drift apart. Secrets travel in the environment (:func:`to_environ`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._faults import Faults
from ._inventory import InventorySpec
from ._options import EmulatorOptions
from ._server import Emulator, is_loopback

__all__ = [
    "DEFAULT_PORT",
    "ENV_CREDENTIALS",
    "ENV_TOKEN_SECRET",
    "add_arguments",
    "emulator_options",
    "exports",
    "run",
    "to_argv",
    "to_environ",
]

DEFAULT_PORT = 8686
# Secrets are read from the environment too, so that they need not appear in a
# command line (which other users of the machine can see).
ENV_CREDENTIALS = "AIOPERSONALIZE_EMULATOR_CREDENTIALS"
ENV_TOKEN_SECRET = "AIOPERSONALIZE_EMULATOR_TOKEN_SECRET"  # noqa: S105 (a variable's name)

_DEFAULTS = EmulatorOptions()


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535: {text}")
    return value


def _credential(text: str) -> tuple[str, str]:
    access_key, sep, secret = text.partition(":")
    if not sep or not access_key or not secret:
        # The value holds a secret: it is not repeated in the message.
        raise argparse.ArgumentTypeError("expected ACCESS_KEY_ID:SECRET_ACCESS_KEY")
    return access_key, secret


def _version_latency(text: str) -> tuple[str, float]:
    arn, sep, seconds = text.rpartition("=")
    if not sep or not arn:
        raise argparse.ArgumentTypeError(f"expected SOLUTION_VERSION_ARN=SECONDS: {text}")
    return arn, _non_negative_float(seconds)


def _account_latency(text: str) -> tuple[str, float]:
    account, sep, seconds = text.rpartition("=")
    if not sep or not account:
        raise argparse.ArgumentTypeError(f"expected ACCOUNT_ID=SECONDS: {text}")
    return account, _non_negative_float(seconds)


# -- the table of flags ------------------------------------------------------------------

_Owner = Literal["options", "inventory", "faults"]
_Section = Literal["server", "organization", "inventory", "faults"]


def _single(value: Any) -> list[Any]:
    return [] if value is None else [value]


@dataclass(frozen=True, slots=True)
class _Flag:
    """A ``serve`` flag carrying one field of the record, its inventory or its faults.

    Attributes:
        flag: the option string, ``--name``.
        owner: where the field lives: the record itself, its ``inventory`` or ``faults``.
        name: the field's name there (also the parsed namespace's attribute).
        section: the help section the flag is listed in.
        parse: the argparse ``type``: flag text to value (or item, when repeated).
        text: the inverse, for :func:`to_argv`: value (or item) to flag text.
        help: the help text (``%(default)s`` as argparse expands it).
        metavar: the value's name in the help.
        repeated: whether the flag may be given several times, one item each.
        collect: for a repeated flag, the field's value from the list of items.
        spread: the items to give the flag for a field's value, in a stable order
            (none for a ``None`` value of a single flag).
        default: the default when it is not the record's (the serve port).
    """

    flag: str
    owner: _Owner
    name: str
    section: _Section
    parse: Callable[[str], Any]
    text: Callable[[Any], str]
    help: str
    metavar: str | None = None
    repeated: bool = False
    collect: Callable[[list[Any]], Any] = list
    spread: Callable[[Any], Iterable[Any]] = _single
    default: Any = None


def _count(flag: str, name: str, what: str) -> _Flag:
    return _Flag(
        flag, "inventory", name, "inventory", _non_negative_int, str,
        f"{what} (default: %(default)s)", "N",
    )  # fmt: skip


_FLAGS: tuple[_Flag, ...] = (
    _Flag(
        "--host", "options", "host", "server", str, str,
        "address to bind (default: %(default)s; anything but loopback exposes the "
        "emulator to the network)",
    ),
    _Flag(
        "--port", "options", "port", "server", _port, str,
        "port to bind; 0 picks a free one (default: %(default)s)", default=DEFAULT_PORT,
    ),
    _Flag(
        "--job-transition-seconds", "options", "job_transition_seconds", "server",
        _non_negative_float, repr,
        "how long a created job stays PENDING, then IN PROGRESS (default: %(default)s)",
        "SECONDS",
    ),
    _Flag(
        "--token-lifetime", "options", "token_lifetime", "server", _positive_float, repr,
        "a nextToken older than this is answered InvalidNextTokenException "
        "(default: tokens never expire)",
        "SECONDS",
    ),
    _Flag(
        "--accounts", "options", "accounts", "organization", _positive_int, str,
        "accounts in the organization: the management account 123456789012, then "
        "members 200000000001... (default: %(default)s)", "N",
    ),
    _Flag(
        "--suspended-account", "options", "suspended_accounts", "organization", str, str,
        "a member account ListAccounts shows SUSPENDED (repeatable)", "ACCOUNT_ID",
        repeated=True, collect=frozenset, spread=sorted,
    ),
    _Flag(
        "--deny-assume-role", "options", "assume_role_denied_accounts", "organization",
        str, str, "a member account whose role refuses AssumeRole (repeatable)", "ACCOUNT_ID",
        repeated=True, collect=frozenset, spread=sorted,
    ),
    _Flag(
        "--deny-region", "options", "deny_regions", "organization", str, str,
        "a region where a service control policy denies personalize:* to member accounts "
        "(repeatable)", "REGION",
        repeated=True, collect=frozenset, spread=sorted,
    ),
    _Flag(
        "--credential-lifetime", "options", "credential_lifetime", "organization",
        _positive_float, repr,
        "seconds the credentials AssumeRole issues last (default: DurationSeconds, 3600)",
        "SECONDS",
    ),
    _Flag("--seed", "options", "seed", "inventory", int, str, "default: %(default)s"),
    _count("--dataset-groups", "dataset_groups", "dataset groups"),
    _count(
        "--solutions-per-dataset-group", "solutions_per_dataset_group",
        "solutions per dataset group",
    ),
    _count("--versions-per-solution", "versions_per_solution", "solution versions per solution"),
    _count(
        "--inference-jobs-per-version", "inference_jobs_per_version",
        "batch inference jobs per solution version",
    ),
    _count(
        "--segment-jobs-per-version", "segment_jobs_per_version",
        "batch segment jobs per solution version",
    ),
    _Flag(
        "--failed-fraction", "inventory", "failed_fraction", "inventory", _probability, repr,
        "share of seeded jobs that are CREATE FAILED (default: %(default)s)", "FRACTION",
    ),
    _Flag(
        "--failed-versions-fraction", "inventory", "failed_versions_fraction", "inventory",
        _probability, repr,
        "share of solution versions that are CREATE FAILED, with no batch jobs "
        "(default: %(default)s)", "FRACTION",
    ),
    _Flag(
        "--stopped-versions-fraction", "inventory", "stopped_versions_fraction", "inventory",
        _probability, repr,
        "share of solution versions that are CREATE STOPPED, with no batch jobs "
        "(default: %(default)s)", "FRACTION",
    ),
    _Flag(
        "--autotrain-solutions-fraction", "inventory", "autotrain_solutions_fraction",
        "inventory", _probability, repr,
        "share of solutions with automatic training, whose versions are AUTOTRAIN "
        "(default: %(default)s)", "FRACTION",
    ),
    _Flag(
        "--latency", "faults", "latency", "faults", _non_negative_float, repr,
        "each answer leaves this long after its request arrived", "SECONDS",
    ),
    _Flag(
        "--latency-jitter", "faults", "latency_jitter", "faults", _non_negative_float, repr,
        "up to this much more, drawn per request", "SECONDS",
    ),
    _Flag(
        "--throttle-rate", "faults", "throttle_rate", "faults", _probability, repr,
        "share of requests answered ThrottlingException", "P",
    ),
    _Flag(
        "--error-rate", "faults", "error_rate", "faults", _probability, repr,
        "share of requests answered InternalFailure (500) or ServiceUnavailable (503)", "P",
    ),
    _Flag(
        "--max-rps", "faults", "max_rps", "faults", float, repr,
        "requests per second allowed per account and region (a token bucket each); "
        "ThrottlingException above", "RPS",
    ),
    _Flag(
        "--burst", "faults", "burst", "faults", int, str,
        "each token bucket's capacity (default: max-rps)", "N",
    ),
    _Flag(
        "--deny-solution-version", "faults", "deny_solution_versions", "faults", str, str,
        "list calls filtered on this version get AccessDeniedException (repeatable)", "ARN",
        repeated=True, collect=frozenset, spread=sorted,
    ),
    _Flag(
        "--version-latency", "faults", "version_latency", "faults", _version_latency,
        lambda item: f"{item[0]}={item[1]!r}",
        "extra latency for list calls filtered on a version", "ARN=SECONDS",
        repeated=True, collect=dict, spread=lambda value: sorted(value.items()),
    ),
    _Flag(
        "--account-latency", "faults", "account_latency", "faults", _account_latency,
        lambda item: f"{item[0]}={item[1]!r}",
        "extra latency for every Personalize call of an account (repeatable)",
        "ACCOUNT_ID=SECONDS",
        repeated=True, collect=dict, spread=lambda value: sorted(value.items()),
    ),
)  # fmt: skip


def _owners(options: EmulatorOptions) -> dict[_Owner, Any]:
    return {"options": options, "inventory": options.inventory, "faults": options.faults}


def _add_flags(group: argparse._ArgumentGroup, section: _Section) -> None:
    defaults = _owners(_DEFAULTS)
    for flag in _FLAGS:
        if flag.section != section:
            continue
        if flag.repeated:
            group.add_argument(
                flag.flag, dest=flag.name, action="append", type=flag.parse, default=[],
                metavar=flag.metavar, help=flag.help,
            )  # fmt: skip
        else:
            default = flag.default
            if default is None:
                default = getattr(defaults[flag.owner], flag.name)
            group.add_argument(
                flag.flag, dest=flag.name, type=flag.parse, default=default,
                metavar=flag.metavar, help=flag.help,
            )  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``.

    Args:
        parser: the ``serve`` command's parser.
    """
    server = parser.add_argument_group("server")
    _add_flags(server, "server")
    server.add_argument(
        "--credentials",
        action="append",
        type=_credential,
        metavar="KEY_ID:SECRET",
        help="verify SigV4 signatures against this access key (repeatable; also read "
        f"from ${ENV_CREDENTIALS}, comma-separated). By default any credentials pass.",
    )
    server.add_argument(
        # For EmulatorProcess: exit when the parent process goes away.
        "--stop-on-stdin-eof",
        action="store_true",
        help=argparse.SUPPRESS,
    )

    _add_flags(parser.add_argument_group("organization (STS and Organizations)"), "organization")
    inventory = parser.add_argument_group("inventory (per account and region)")
    _add_flags(inventory, "inventory")
    inventory.add_argument(
        "--jobs-per-version",
        type=_non_negative_int,
        metavar="N",
        help="set both --inference-jobs-per-version and --segment-jobs-per-version",
    )
    inventory.add_argument("--empty", action="store_true", help="serve no resources at all")

    _add_flags(parser.add_argument_group("faults"), "faults")


def _credentials(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str] | None:
    pairs = list(args.credentials or ())
    items = environ.get(ENV_CREDENTIALS, "").split(",")
    pairs.extend(_credential(item.strip()) for item in items if item.strip())
    return dict(pairs) if pairs else None


def emulator_options(
    args: argparse.Namespace, environ: Mapping[str, str] = os.environ
) -> EmulatorOptions:
    """The emulator's settings from parsed ``serve`` options and the environment.

    Args:
        args: the parsed ``serve`` options.
        environ: where ``ENV_CREDENTIALS`` and ``ENV_TOKEN_SECRET`` are read.

    Raises:
        ValueError: if a value is refused by ``EmulatorOptions``, ``InventorySpec``
            or ``Faults`` (argparse checks most values first).
    """
    fields: dict[_Owner, dict[str, Any]] = {"options": {}, "inventory": {}, "faults": {}}
    for flag in _FLAGS:
        value = getattr(args, flag.name)
        fields[flag.owner][flag.name] = flag.collect(value) if flag.repeated else value
    counts = fields["inventory"]
    if args.jobs_per_version is not None:
        counts["inference_jobs_per_version"] = args.jobs_per_version
        counts["segment_jobs_per_version"] = args.jobs_per_version
    secret = environ.get(ENV_TOKEN_SECRET)
    return EmulatorOptions(
        **fields["options"],
        inventory=InventorySpec.empty() if args.empty else InventorySpec(**counts),
        faults=Faults(**fields["faults"]),
        credentials=_credentials(args, environ),
        token_secret=secret.encode() if secret else None,
    )


def to_argv(options: EmulatorOptions) -> list[str]:
    """``serve`` options for ``options``, but for the secrets (see :func:`to_environ`).

    Args:
        options: the settings; its ``clock`` cannot be passed on (``EmulatorProcess``
            refuses one).
    """
    owners = _owners(options)
    argv: list[str] = []
    for flag in _FLAGS:
        for item in flag.spread(getattr(owners[flag.owner], flag.name)):
            argv += [flag.flag, flag.text(item)]
    return argv


def to_environ(options: EmulatorOptions) -> dict[str, str]:
    """The environment variables carrying ``options``' secrets to ``serve``.

    Args:
        options: the settings; only ``credentials`` and ``token_secret`` are read.

    Raises:
        ValueError: if an access key id holds ``:`` or ``,``, or a secret key ``,``
            (the variable's separators), or the token secret is not UTF-8.
    """
    environ: dict[str, str] = {}
    if options.credentials:
        for key, secret in options.credentials.items():
            if ":" in key or "," in key:
                raise ValueError(f"access key ids cannot contain ':' or ',': {key!r}")
            if "," in secret:
                raise ValueError("secret keys cannot contain ','")
        environ[ENV_CREDENTIALS] = ",".join(f"{k}:{v}" for k, v in options.credentials.items())
    if options.token_secret is not None:
        try:
            environ[ENV_TOKEN_SECRET] = options.token_secret.decode()
        except UnicodeDecodeError:
            # The value is a secret: the error (which quotes its bytes) is not chained.
            raise ValueError("token_secret must be UTF-8 to be passed to serve") from None
    return environ


EXPORT_REGION = "us-east-1"
"""The region :func:`exports` suggests (the emulator serves every region alike)."""


def exports(endpoint_url: str, options: EmulatorOptions) -> list[str]:
    """What to export in a shell for aiopersonalize, boto3 and the aws CLI to use the
    emulator at ``endpoint_url``: its endpoint (botocore's service-specific variable),
    a region, and keys (any, unless ``--credentials`` were given: then one of those,
    whose secret is never printed)."""
    if options.credentials:
        keys = (
            "export AWS_ACCESS_KEY_ID=KEY_ID AWS_SECRET_ACCESS_KEY=SECRET"
            "  # a pair given to --credentials"
        )
    else:
        keys = "export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local  # any will do"
    return [
        "To use it from aiopersonalize, boto3 or the aws CLI, in another shell:",
        f"  export AWS_ENDPOINT_URL_PERSONALIZE={endpoint_url}",
        f"  export AWS_DEFAULT_REGION={EXPORT_REGION}",
        f"  {keys}",
    ]


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM (or, with ``--stop-on-stdin-eof``, stdin closing)."""
    try:
        options = emulator_options(args)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        sys.stderr.write(f"aiopersonalize serve: error: {exc}\n")
        return 2
    if not is_loopback(options.host):
        sys.stderr.write(
            f"aiopersonalize serve: warning: binding {options.host} exposes the emulator "
            "beyond this machine"
            + ("" if options.credentials else ", and it accepts any credentials")
            + "\n"
        )
    try:
        return asyncio.run(_serve(options, stop_on_stdin_eof=args.stop_on_stdin_eof))
    except KeyboardInterrupt:  # where signal handlers are unavailable (Windows)
        return 0
    except OSError as exc:
        sys.stderr.write(f"aiopersonalize serve: error: {exc}\n")
        return 1


class _StopOnEof(asyncio.Protocol):
    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()


async def _serve(options: EmulatorOptions, *, stop_on_stdin_eof: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with Emulator(options) as emulator:
        # Before the URL is printed: whoever reads it may stop us at once, and SIGTERM
        # must then end the server cleanly, not kill it.
        signals: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
                signals.append(signum)
        # The first line of output is the endpoint URL and nothing else.
        sys.stdout.write(emulator.endpoint_url + "\n")
        sys.stdout.flush()
        spec = options.inventory
        auth = "verified" if options.credentials else "not checked"
        active = ""
        if spec.active_versions != spec.solution_versions:
            active = f" ({spec.active_versions} ACTIVE)"
        sys.stderr.write(
            f"aiopersonalize emulator: seed {options.seed}; "
            + (
                f"{options.accounts} accounts (STS, Organizations); "
                if options.accounts > 1
                else ""
            )
            + "per region "
            + f"{spec.solution_versions} solution versions{active}, "
            f"{spec.total_jobs('inference')} batch inference and "
            f"{spec.total_jobs('segment')} batch segment jobs; signatures {auth}. "
            "Ctrl-C stops.\n"
        )
        if not stop_on_stdin_eof:  # a person's terminal, not EmulatorProcess's pipe
            sys.stderr.writelines(f"{line}\n" for line in exports(emulator.endpoint_url, options))
        sys.stderr.flush()
        transport: asyncio.BaseTransport | None = None
        if stop_on_stdin_eof:
            transport, _ = await loop.connect_read_pipe(lambda: _StopOnEof(stop), sys.stdin)
        try:
            await stop.wait()
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
            if transport is not None:
                transport.close()
    return 0
