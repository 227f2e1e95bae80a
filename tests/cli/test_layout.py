"""The shape of the command line's package, ``aiopersonalize.cli``.

It is an application on top of the library: it may import the library's public API
(``aiopersonalize``, ``aiopersonalize.emulator``, names in their ``__all__``) and its
own modules, nothing private. Its commands are loaded lazily, and all of them show in
``--help``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiopersonalize
import aiopersonalize.cli
import aiopersonalize.emulator
from aiopersonalize.cli._main import COMMANDS

from ..helpers import run_cli

CLI = Path(aiopersonalize.cli.__file__).resolve().parent
PUBLIC = {
    "aiopersonalize": set(aiopersonalize.__all__),
    "aiopersonalize.emulator": set(aiopersonalize.emulator.__all__),
}
# ``serve`` is the emulator's own command and lives with it, a public module; the
# dispatcher only names it, imported when ``serve`` runs.
EMULATORS_COMMAND = "aiopersonalize.emulator.serve"


def cli_modules() -> Iterator[tuple[str, ast.Module]]:
    """Each module of the package, by file name, parsed."""
    for path in sorted(CLI.glob("*.py")):
        yield path.name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def library_uses(tree: ast.Module) -> Iterator[tuple[str, str | None]]:
    """``(module, name)`` for each import from the library in ``tree`` (``name`` is
    ``None`` for ``import module``), and for each attribute read from a module imported
    whole (``aiopersonalize.Client`` after ``import aiopersonalize``)."""
    imported_whole = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "aiopersonalize":
                    imported_whole |= alias.name == "aiopersonalize" and alias.asname is None
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            # Relative imports made absolute: ``from ._x`` stays in the package,
            # ``from .. import _x`` would reach the library's private modules.
            package = "aiopersonalize.cli".rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (package, node.module) if part)
            if module.split(".")[0] == "aiopersonalize":
                for alias in node.names:
                    yield module, alias.name
    if imported_whole:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "aiopersonalize"
            ):
                yield "aiopersonalize", node.attr


def test_cli_imports_only_the_public_api_and_its_own_modules() -> None:
    """Every library import in ``aiopersonalize/cli/*.py`` is a public name or one of its own modules."""
    private: list[str] = []
    for filename, tree in cli_modules():
        for module, name in library_uses(tree):
            if module == "aiopersonalize.cli" or module.startswith("aiopersonalize.cli."):
                continue
            if module not in PUBLIC or (name is not None and name not in PUBLIC[module]):
                private.append(f"{filename}: {module}{'' if name is None else f'.{name}'}")
    assert private == []
    assert {name for name, _ in cli_modules()} >= {"__init__.py", "_main.py", "_crawl.py"}


def test_commands_are_the_clis_own_modules_but_the_emulators_serve() -> None:
    """The command table names the package's own modules, and the emulator's public
    ``serve`` module for ``serve``: nothing private of the library's."""
    modules = {command.name: command.module for command in COMMANDS}
    assert modules == {
        "crawl": "aiopersonalize.cli._crawl",
        "demo": "aiopersonalize.cli._demo",
        "serve": EMULATORS_COMMAND,
    }
    assert not any(part.startswith("_") for part in EMULATORS_COMMAND.split("."))


def test_importing_the_cli_loads_no_command() -> None:
    """Importing ``aiopersonalize.cli`` loads the dispatcher, not a command's module."""
    code = (
        "import sys, aiopersonalize.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('aiopersonalize.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    loaded = set(ast.literal_eval(done.stdout))
    assert {"aiopersonalize.cli", "aiopersonalize.cli._main"} <= loaded
    assert not loaded & {command.module for command in COMMANDS}
    assert "aiopersonalize.cli._engine" not in loaded
    assert not any(m.startswith("aiopersonalize.emulator") for m in loaded)


def test_help_lists_the_three_commands(tmp_path: Path) -> None:
    """``python -m aiopersonalize --help`` lists crawl, demo and serve with their help."""
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: aiopersonalize ")
    for command in COMMANDS:
        assert command.name in result.stdout
        assert command.help in " ".join(result.stdout.split())
