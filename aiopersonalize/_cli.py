"""The ``aiopersonalize`` command line.

Each subcommand is a :class:`Command` in :data:`COMMANDS`: a name, a one-line help, a
function adding its options to its parser and a function running it (returning the exit
status). A command's module is imported only when that command is the one invoked (or
when :func:`build_parser` is asked for every command's options), so one command's
dependencies do not slow down another's start.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand implemented by ``module``'s ``add_arguments(parser)`` and
    ``run(args) -> int``."""

    name: str
    help: str
    module: str

    def _load(self) -> Any:
        return importlib.import_module(self.module)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self._load().add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        status: int = self._load().run(args)
        return status


COMMANDS: tuple[Command, ...] = (
    Command(
        "crawl",
        "list every batch job of an account (or of given solution versions) as JSON Lines",
        "aiopersonalize._crawl",
    ),
    Command(
        "demo",
        "crawl the embedded emulator's seeded inventory, to see what the tool does",
        "aiopersonalize._demo",
    ),
    Command(
        "serve",
        "serve a local Amazon Personalize emulator until interrupted",
        "aiopersonalize.emulator._serve",
    ),
)


def build_parser(
    commands: Sequence[Command] = COMMANDS, *, only: str | None = None
) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's options are added."""
    parser = argparse.ArgumentParser(
        prog="aiopersonalize",
        description="Async tools for Amazon Personalize's batch-job inventory.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        subparser = subparsers.add_parser(command.name, help=command.help, description=command.help)
        if only is None or command.name == only:
            command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    invoked = next((a for a in arguments if not a.startswith("-")), None)
    names = {command.name for command in COMMANDS}
    parser = build_parser(only=invoked if invoked in names else None)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    status: int = args.run(args)
    return status
