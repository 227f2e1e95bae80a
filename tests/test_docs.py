"""The documentation's Python examples, taken from the Markdown itself (README.md and
docs/*.md): every block type-checks under ``mypy --strict`` and runs as written against
the emulator, on a machine with no AWS configuration.

Each page runs in a Python process of its own (an example may set process-wide state,
such as OpenTelemetry's tracer provider), with warnings as errors. Its ``python``
blocks run in order in one namespace, as in ``python -m asyncio``:
a block may use what an earlier block of its page defined, and top-level ``await``,
``async with`` and ``async for`` run on the page's own event loop. A block that runs
its own loop (``anyio.run(main)``) is a program of its own: it runs, and is
type-checked, alone, in a namespace of its own, outside the page's loop. The emulator listens where
``aiopersonalize serve`` does, ``http://127.0.0.1:8686`` in the examples, which the
test replaces with its emulator's address. Nothing else of a block is changed.

A block that needs an AWS account is marked by an HTML comment on the line before its
fence, ``<!-- example: aws -->``, and one that needs a server other than the emulator
(a database, a telemetry collector) by ``<!-- example: service -->``: such a block is
type-checked with the others, but not run.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

import aiopersonalize
from aiopersonalize.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Where the examples expect the emulator: `aiopersonalize serve`'s default address.
EXAMPLE_ENDPOINT = "http://127.0.0.1:8686"
MARKERS = {"aws", "service"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<marker>[\w-]+)\s*-->\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced ``python`` block: its page, the line of its first code line, its code
    (dedented to the fence), and its marker (``None``: run it)."""

    page: Path
    line: int
    code: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{page_id(self.page)}:{self.line}"

    @property
    def program(self) -> bool:
        """A complete program: it runs its own event loop."""
        return "anyio.run(" in self.code or "asyncio.run(" in self.code


def python_blocks(page: Path) -> list[Block]:
    """The ``python`` blocks of a Markdown page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = (opening["info"].split() or [""])[0].lower()
        body = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        if language in {"python", "py"}:
            before = next((line for line in reversed(lines[:i]) if line.strip()), "")
            marked = _MARKER.match(before)
            blocks.append(
                Block(page, i + 2, "\n".join(body) + "\n", marked["marker"] if marked else None)
            )
        i = j + 1
    return blocks


def pages_with_blocks() -> list[Path]:
    return [page for page in PAGES if python_blocks(page)]


def page_id(page: Path) -> str:
    """The page's path from the repository's root (its name, outside it)."""
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else page.name


# -- type checking --------------------------------------------------------------------


def as_modules(blocks: list[Block]) -> list[tuple[str, list[str]]]:
    """A page's blocks as modules for mypy: one for each program, one for the rest."""
    rest = [b for b in blocks if not b.program]
    return [as_module([b]) for b in blocks if b.program] + ([as_module(rest)] if rest else [])


def as_module(blocks: list[Block]) -> tuple[str, list[str]]:
    """Blocks as one module for mypy: the blocks in order, as the body of one async
    function (top-level ``async with`` is a syntax error to mypy otherwise), and for
    each line of the module the Markdown line it comes from."""
    lines = ["async def _examples() -> None:"]
    where = ["(generated)"]
    for block in blocks:
        for offset, line in enumerate(block.code.splitlines()):
            lines.append(f"    {line}" if line.strip() else "")
            where.append(f"{page_id(block.page)}:{block.line + offset}")
    lines.append("    pass")
    where.append("(generated)")
    return "\n".join(lines) + "\n", where


def strict_mypy(paths: list[Path]) -> tuple[int, str]:
    """``mypy --strict`` over these files, with the project's configuration."""
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            str(PYPROJECT),
            "--strict",
            # boto3 ships no type hints; the examples use it as its users do.
            "--disable-error-code=import-untyped",
            *map(str, paths),
        ]
    )
    return status, stdout + stderr


def test_the_docs_have_python_examples_for_the_readme_and_the_guide() -> None:
    """The extraction finds the examples: the README's quick start runs, and the guide
    pages have runnable blocks too (a broken extractor would pass everything)."""
    readme = python_blocks(ROOT / "README.md")
    assert any(b.marker is None and "anyio.run(main)" in b.code for b in readme)
    assert len(pages_with_blocks()) >= 5
    for page in PAGES:
        for block in python_blocks(page):
            assert block.marker in MARKERS | {None}, f"{block.where}: unknown marker"


def test_the_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """Every page's examples, marked ones included, type-check under ``mypy --strict``
    against the installed API (errors name the Markdown line)."""
    modules = []
    where: dict[str, list[str]] = {}
    for page in pages_with_blocks():
        for source, lines in as_modules(python_blocks(page)):
            module = tmp_path / f"docs_page_{len(modules)}.py"
            module.write_text(source)
            modules.append(module)
            where[module.name] = lines
    status, output = strict_mypy(modules)

    def locate(match: re.Match[str]) -> str:
        return where[Path(match["file"]).name][int(match["line"]) - 1]

    readable = re.sub(r"(?P<file>\S*docs_page_\d+\.py):(?P<line>\d+)", locate, output)
    assert status == 0, readable


def test_the_type_check_catches_a_misused_listing(tmp_path: Path) -> None:
    """The same check fails an example that uses a merged listing's members on a plain
    listing: it really checks the API's types."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n"
        "from aiopersonalize import Client\n"
        "client = Client(region_name='us-east-1')\n"
        "async with client.list_batch_inference_jobs() as jobs:\n"
        "    print(jobs.failures)\n"
        "```\n"
    )
    [(source, _)] = as_modules(python_blocks(page))
    module = tmp_path / "docs_page_wrong.py"
    module.write_text(source)
    status, output = strict_mypy([module])
    assert status == 1
    assert '"Listing[BatchInferenceJobSummary]" has no attribute "failures"' in output


# -- running --------------------------------------------------------------------------


def run_blocks(blocks: list[Block], endpoint_url: str) -> list[str]:
    """Run a page's unmarked blocks in order: programs each in a namespace of their
    own, the others in the page's (top-level ``await`` on the page's event loop); the
    locations run. Raises what a block raises, with
    its Markdown lines in the traceback; fails on an error asyncio only reported."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    ran = []
    try:
        for block in blocks:
            if block.marker is not None:
                continue
            source = "\n" * (block.line - 1) + block.code.replace(EXAMPLE_ENDPOINT, endpoint_url)
            scope = {"__name__": "__main__"} if block.program else namespace
            code = compile(
                source,
                str(block.page),
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )
            if code.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(types.FunctionType(code, scope)())
            else:
                exec(code, scope)
            ran.append(block.where)
        # What the page left open (a listing, a client) is closed the way a script's
        # end would close it, so a leak shows as a warning, and warnings are errors.
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    assert not reported, reported
    return ran


# Run in the page's own process: ``python -c RUNNER ROOT PAGE ENDPOINT``.
RUNNER = """
import gc, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.test_docs import python_blocks, run_blocks
for where in run_blocks(python_blocks(Path(sys.argv[2])), sys.argv[3]):
    print("docs-example-ran:", where, file=sys.stderr)
gc.collect()
"""
# What a process says on stderr when it leaked or failed where nothing raises.
LEAKS = ("Traceback", "Exception ignored", "Unclosed", "Task was destroyed", "never awaited")


def run_page(page: Path, endpoint_url: str, cwd: Path) -> tuple[list[str], str]:
    """Run a page's examples in a Python process of its own, in the directory ``cwd``
    (for the files they write), with warnings as errors; the locations run, and what the
    examples printed. Fails on a non-zero exit or a leak reported on stderr."""
    process = subprocess.run(
        [sys.executable, "-W", "error", "-c", RUNNER, str(ROOT), str(page), endpoint_url],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    ran = []
    for line in process.stderr.splitlines():
        if line.startswith("docs-example-ran: "):
            ran.append(line.removeprefix("docs-example-ran: "))
        else:
            assert not any(leak in line for leak in LEAKS), process.stderr
    return ran, process.stdout


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The environment of a machine with no AWS configuration: no credentials, region,
    profile or files, and no instance metadata to ask."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_configuration")
@pytest.mark.parametrize("page", pages_with_blocks(), ids=page_id)
def test_the_examples_run_as_written_against_the_emulator(
    page: Path, emulator_in_thread: Emulator, tmp_path: Path
) -> None:
    """Each page's unmarked examples run in order, as written, in a process of their
    own in an empty directory, against an emulator at the address they name, with no AWS
    credentials, region or profile configured, and leak nothing."""
    run = [b for b in python_blocks(page) if b.marker is None]
    ran, printed = run_page(page, emulator_in_thread.endpoint_url, tmp_path)
    assert ran == [b.where for b in run]
    if any(EXAMPLE_ENDPOINT in b.code for b in run):
        assert emulator_in_thread.stats.requests > 0
    if any("print(" in b.code for b in run):
        assert printed


@pytest.mark.usefixtures("no_aws_configuration")
def test_without_the_examples_keys_the_environment_gives_no_credentials(tmp_path: Path) -> None:
    """The run's environment really has no AWS configuration: an example for AWS that
    relies on it fails with ConfigurationError before sending anything."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n"
        "import aiopersonalize\n"
        "async with aiopersonalize.Client(region_name='us-east-1') as client:\n"
        "    await client.list_batch_inference_jobs().collect()\n"
        "```\n"
    )
    with pytest.raises(aiopersonalize.ConfigurationError, match="credentials"):
        run_blocks(python_blocks(page), EXAMPLE_ENDPOINT)
