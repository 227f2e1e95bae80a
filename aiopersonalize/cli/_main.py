"""The dispatcher: the command table, the parser, and :func:`main`.

Each subcommand is a :class:`Command` in :data:`COMMANDS`: a name, a one-line help, and
the module implementing it, a :class:`CommandModule`. A command's module is imported
only when that command is the one invoked (or when :func:`build_parser` is asked for
every command's options), so one command's dependencies do not slow down another's
start: ``serve`` never loads the crawl, nor ``crawl`` the emulator.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

__all__ = ["COMMANDS", "Command", "CommandModule", "build_parser", "main"]


class CommandModule(Protocol):
    """What a command's module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's options to its parser."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the command with the parsed ``args``; returns the exit status."""


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its ``name``, its one-line ``help``, and the ``module`` that
    implements it (a :class:`CommandModule`, imported on first use)."""

    name: str
    help: str
    module: str

    def load(self) -> CommandModule:
        """The command's module, imported now if it was not yet."""
        return cast("CommandModule", importlib.import_module(self.module))

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self.load().add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        return self.load().run(args)


COMMANDS: tuple[Command, ...] = (
    Command(
        "crawl",
        "list every batch job of an account (or of given solution versions) as JSON Lines",
        "aiopersonalize.cli._crawl",
    ),
    Command(
        "demo",
        "crawl the embedded emulator's seeded inventory, to see what the tool does",
        "aiopersonalize.cli._demo",
    ),
    # The emulator's own command: it lives with the emulator, which it serves.
    Command(
        "serve",
        "serve a local Amazon Personalize emulator until interrupted",
        "aiopersonalize.emulator.serve",
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
