"""The ``serve`` command: its options, and an emulator served until interrupted.

``EmulatorProcess`` builds the same options back into a command line (:func:`to_argv`),
so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from ._faults import Faults
from ._inventory import InventorySpec
from ._server import DEFAULT_HOST, DEFAULT_JOB_TRANSITION_SECONDS, Emulator, is_loopback

__all__ = [
    "DEFAULT_PORT",
    "ENV_CREDENTIALS",
    "ENV_TOKEN_SECRET",
    "add_arguments",
    "emulator_options",
    "run",
    "to_argv",
]

DEFAULT_PORT = 8686
# Secrets are read from the environment too, so that they need not appear in a
# command line (which other users of the machine can see).
ENV_CREDENTIALS = "AIOPERSONALIZE_EMULATOR_CREDENTIALS"
ENV_TOKEN_SECRET = "AIOPERSONALIZE_EMULATOR_TOKEN_SECRET"  # noqa: S105 (a variable's name)

_DEFAULT_SPEC = InventorySpec()
_DEFAULT_FAULTS = Faults()


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to bind (default: %(default)s; anything but loopback exposes the "
        "emulator to the network)",
    )
    server.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    server.add_argument(
        "--credentials",
        action="append",
        type=_credential,
        metavar="KEY_ID:SECRET",
        help="verify SigV4 signatures against this access key (repeatable; also read "
        f"from ${ENV_CREDENTIALS}, comma-separated). By default any credentials pass.",
    )
    server.add_argument(
        "--job-transition-seconds",
        type=_non_negative_float,
        default=DEFAULT_JOB_TRANSITION_SECONDS,
        metavar="SECONDS",
        help="how long a created job stays PENDING, then IN PROGRESS (default: %(default)s)",
    )
    server.add_argument(
        # For EmulatorProcess: exit when the parent process goes away.
        "--stop-on-stdin-eof",
        action="store_true",
        help=argparse.SUPPRESS,
    )

    inventory = parser.add_argument_group("inventory (per region)")
    inventory.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    for name, text in (
        ("dataset_groups", "dataset groups"),
        ("solutions_per_dataset_group", "solutions per dataset group"),
        ("versions_per_solution", "solution versions per solution"),
        ("inference_jobs_per_version", "batch inference jobs per solution version"),
        ("segment_jobs_per_version", "batch segment jobs per solution version"),
    ):
        inventory.add_argument(
            "--" + name.replace("_", "-"),
            type=_non_negative_int,
            default=getattr(_DEFAULT_SPEC, name),
            metavar="N",
            help=f"{text} (default: %(default)s)",
        )
    inventory.add_argument(
        "--jobs-per-version",
        type=_non_negative_int,
        metavar="N",
        help="set both --inference-jobs-per-version and --segment-jobs-per-version",
    )
    inventory.add_argument(
        "--failed-fraction",
        type=_probability,
        default=_DEFAULT_SPEC.failed_fraction,
        metavar="FRACTION",
        help="share of seeded jobs that are CREATE FAILED (default: %(default)s)",
    )
    inventory.add_argument("--empty", action="store_true", help="serve no resources at all")

    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--latency", type=_non_negative_float, default=0.0, metavar="SECONDS",
        help="each answer leaves this long after its request arrived",
    )  # fmt: skip
    faults.add_argument(
        "--latency-jitter", type=_non_negative_float, default=0.0, metavar="SECONDS",
        help="up to this much more, drawn per request",
    )  # fmt: skip
    faults.add_argument(
        "--throttle-rate", type=_probability, default=0.0, metavar="P",
        help="share of requests answered ThrottlingException",
    )  # fmt: skip
    faults.add_argument(
        "--error-rate", type=_probability, default=0.0, metavar="P",
        help="share of requests answered InternalFailure (500) or ServiceUnavailable (503)",
    )  # fmt: skip
    faults.add_argument(
        "--max-rps", type=float, metavar="RPS",
        help="requests per second allowed (token bucket); ThrottlingException above",
    )  # fmt: skip
    faults.add_argument(
        "--burst", type=int, metavar="N", help="the token bucket's capacity (default: max-rps)"
    )
    faults.add_argument(
        "--deny-solution-version", action="append", default=[], metavar="ARN",
        help="list calls filtered on this version get AccessDeniedException (repeatable)",
    )  # fmt: skip
    faults.add_argument(
        "--version-latency", action="append", type=_version_latency, default=[],
        metavar="ARN=SECONDS", help="extra latency for list calls filtered on a version",
    )  # fmt: skip


def _credentials(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str] | None:
    pairs = list(args.credentials or ())
    items = environ.get(ENV_CREDENTIALS, "").split(",")
    pairs.extend(_credential(item.strip()) for item in items if item.strip())
    return dict(pairs) if pairs else None


def emulator_options(
    args: argparse.Namespace, environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    """``Emulator`` keyword arguments from parsed ``serve`` options."""
    if args.empty:
        spec = InventorySpec.empty()
    else:
        inference = args.inference_jobs_per_version
        segment = args.segment_jobs_per_version
        if args.jobs_per_version is not None:
            inference = segment = args.jobs_per_version
        spec = InventorySpec(
            dataset_groups=args.dataset_groups,
            solutions_per_dataset_group=args.solutions_per_dataset_group,
            versions_per_solution=args.versions_per_solution,
            inference_jobs_per_version=inference,
            segment_jobs_per_version=segment,
            failed_fraction=args.failed_fraction,
        )
    faults = Faults(
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        throttle_rate=args.throttle_rate,
        error_rate=args.error_rate,
        max_rps=args.max_rps,
        burst=args.burst,
        deny_solution_versions=frozenset(args.deny_solution_version),
        version_latency=dict(args.version_latency),
    )
    secret = environ.get(ENV_TOKEN_SECRET)
    return {
        "inventory": spec,
        "seed": args.seed,
        "faults": faults,
        "host": args.host,
        "port": args.port,
        "credentials": _credentials(args, environ),
        "job_transition_seconds": args.job_transition_seconds,
        "token_secret": secret.encode() if secret else None,
    }


def to_argv(
    *,
    inventory: InventorySpec,
    seed: int,
    faults: Faults,
    host: str,
    port: int,
    job_transition_seconds: float,
) -> list[str]:
    """``serve`` options for these settings (credentials and secrets go by environment)."""
    argv = [
        "--host", host,
        "--port", str(port),
        "--seed", str(seed),
        "--job-transition-seconds", repr(job_transition_seconds),
        "--dataset-groups", str(inventory.dataset_groups),
        "--solutions-per-dataset-group", str(inventory.solutions_per_dataset_group),
        "--versions-per-solution", str(inventory.versions_per_solution),
        "--inference-jobs-per-version", str(inventory.inference_jobs_per_version),
        "--segment-jobs-per-version", str(inventory.segment_jobs_per_version),
        "--failed-fraction", repr(inventory.failed_fraction),
        "--latency", repr(faults.latency),
        "--latency-jitter", repr(faults.latency_jitter),
        "--throttle-rate", repr(faults.throttle_rate),
        "--error-rate", repr(faults.error_rate),
    ]  # fmt: skip
    if faults.max_rps is not None:
        argv += ["--max-rps", repr(faults.max_rps)]
    if faults.burst is not None:
        argv += ["--burst", str(faults.burst)]
    for arn in sorted(faults.deny_solution_versions):
        argv += ["--deny-solution-version", arn]
    for arn, seconds in sorted(faults.version_latency.items()):
        argv += ["--version-latency", f"{arn}={seconds!r}"]
    return argv


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM (or, with ``--stop-on-stdin-eof``, stdin closing)."""
    try:
        options = emulator_options(args)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        sys.stderr.write(f"aiopersonalize serve: error: {exc}\n")
        return 2
    if not is_loopback(options["host"]):
        sys.stderr.write(
            f"aiopersonalize serve: warning: binding {options['host']} exposes the emulator "
            "beyond this machine"
            + ("" if options["credentials"] else ", and it accepts any credentials")
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


async def _serve(options: dict[str, Any], *, stop_on_stdin_eof: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with Emulator(**options) as emulator:
        # The first line of output is the endpoint URL and nothing else.
        sys.stdout.write(emulator.endpoint_url + "\n")
        sys.stdout.flush()
        spec: InventorySpec = options["inventory"]
        auth = "verified" if options["credentials"] else "not checked"
        sys.stderr.write(
            f"aiopersonalize emulator: seed {options['seed']}; per region "
            f"{spec.solution_versions} solution versions, "
            f"{spec.total_jobs('inference')} batch inference and "
            f"{spec.total_jobs('segment')} batch segment jobs; signatures {auth}. "
            "Ctrl-C stops.\n"
        )
        sys.stderr.flush()
        signals: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
                signals.append(signum)
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
