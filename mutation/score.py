"""Mutation testing of the core modules, with mutmut: ``python mutation/score.py [MODULE ...]``.

For each module (all of :data:`MODULES` unless named), in a scratch copy of the project
under ``build/mutation/<module>/``: mutmut changes one thing at a time in that module
(a comparison flipped, a constant moved by one, a condition negated, a call's argument
dropped, ...), runs that module's covering test files (only the tests that reach the
changed function), and records whether any test failed. A mutant that no test notices
either shows a gap in the tests or is *equivalent*: it cannot change behaviour. The
equivalent ones are listed in ``mutation/equivalent.toml``, each with its reason, keyed
by the module, the function and the changed line (not mutmut's mutant numbers, which
move whenever the code does).

Prints, per module, the mutants, killed, survived, equivalent and the score (killed
over the non-equivalent mutants), then every survivor not on the list as a diff; exits
1 when a module scores under :data:`REQUIRED_SCORE` (:data:`UNGATED` aside), or the
list names a mutant that no longer exists (it was fixed or the code changed: take it
off). See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
REQUIRED_SCORE = 0.95

_INVENTORY_TESTS = (
    "tests/db/test_inventory.py",
    "tests/db/test_inventory_records.py",
    "tests/db/test_inventory_rows.py",
    "tests/db/test_writer.py",
)
# The crawls through the library (Inventory.crawl); the rest of test_crawl_db.py runs
# the command in subprocesses, which mutmut cannot see.
_INVENTORY_CRAWLS = (
    "tests/db/test_crawl_db.py::test_inventory_crawl_from_a_service_stores_then_syncs",
    "tests/db/test_crawl_db.py::test_inventory_crawl_whose_listings_fail_marks_nothing",
)

# Each core module and the test files that cover it: a mutant is run against the tests
# of these files that reach its function, never the whole suite.
MODULES: dict[str, tuple[str, ...]] = {
    "aiopersonalize/_paging.py": (
        "tests/library/test_prefetch.py",
        "tests/library/test_client.py",
        "tests/test_cancellation.py",
        "tests/library/test_paging.py",
        "tests/library/test_telemetry.py",
    ),
    "aiopersonalize/_merge.py": (
        "tests/library/test_merge.py",
        "tests/library/test_crawl.py",
        "tests/library/test_organization.py",
        "tests/library/test_telemetry.py",
        # A count of requests in flight at once, which mutmut's tracing (and a loaded
        # machine) can keep from reaching its peak: not a test of a mutant.
        "--deselect=tests/library/test_merge.py::test_concurrency_is_the_servers_peak_of_requests_in_flight",
    ),
    "aiopersonalize/cli/_checkpoint.py": (
        "tests/cli/test_checkpoint.py",
        "tests/cli/test_checkpoint_durability.py",
        # The journal handed over to the output's writer process (Journal.position,
        # fileno): read here, then used there (the child runs the code as installed).
        "tests/cli/test_output_writer.py",
    ),
    "aiopersonalize/_wire.py": ("tests/library/test_decoding.py",),
    "aiopersonalize/_validation.py": (
        "tests/library/test_validation.py",
        "tests/test_input_properties.py",
    ),
    # The inventory (the database sink): its tests against SQLite files and the real
    # PostgreSQL server, run with the database's work in process (INVENTORY_ENV).
    "aiopersonalize/_inventory/_sink.py": (*_INVENTORY_TESTS, *_INVENTORY_CRAWLS),
    "aiopersonalize/_inventory/_url.py": _INVENTORY_TESTS,
    "aiopersonalize/_inventory/_backend.py": _INVENTORY_TESTS,
    "aiopersonalize/_inventory/_sqlite.py": _INVENTORY_TESTS,
}

# Measured and reported, but not held to REQUIRED_SCORE: the SQLite backend is not the
# sink's logic but its driver, and its survivors (the one-thread limiter, the removal
# of a half-made file when an opening is cancelled midway) show only with calls racing
# from several tasks, which a test can arrange by timing alone (docs/mutation.md).
UNGATED = frozenset({"aiopersonalize/_inventory/_sqlite.py"})

# Environment variables of a module's runs. By default Inventory(url) does the
# database's work in a writer process of its own, where mutmut sees none of it (it
# credits a test to a function only when the function runs in the pytest process, and
# counts a mutant no test reached as surviving): the inventory's tests then open their
# inventories with in_process=True (tests/db/test_inventory.py, open_inventory).
INVENTORY_ENV = {"AIOPERSONALIZE_TEST_INVENTORY_IN_PROCESS": "1"}
INVENTORY = frozenset(m for m in MODULES if m.startswith("aiopersonalize/_inventory/"))
ENVIRONMENT: dict[str, dict[str, str]] = dict.fromkeys(INVENTORY, INVENTORY_ENV)
# The modules whose tests need a PostgreSQL server: unless AIOPERSONALIZE_TEST_POSTGRES_URL
# names one, a throwaway cluster is started for the whole run (tests/db/cluster.py), not
# one per mutant (mutmut runs pytest afresh for each).
_POSTGRES_URL = "AIOPERSONALIZE_TEST_POSTGRES_URL"
NEEDS_POSTGRES = INVENTORY

# Functions run once when their module is imported, which mutmut cannot switch a mutant
# into (it does so at call time): their survivors are written into the source and
# tested in a fresh interpreter instead (see _survives_by_hand).
RUN_AT_IMPORT: dict[str, frozenset[str]] = {
    "aiopersonalize/_wire.py": frozenset({"Shape.__init__"}),  # building SHAPES
    # the statements, made once: _stamp only then, _s then and for each crawl
    "aiopersonalize/_inventory/_sqlite.py": frozenset({"_stamp", "_s"}),
}

# mutmut's verdicts (``mutmut results --all true``) as this report counts them: a
# timeout is a mutant the tests noticed (it made them hang), "no tests" one they missed.
_KILLED = {"killed", "timeout", "caught by type check"}
_SURVIVED = {"survived", "no tests", "suspicious", "segfault", "skipped"}


@dataclass(frozen=True, slots=True)
class Mutant:
    """One mutant: mutmut's name for it and its stable description."""

    name: str
    function: str  # the function or method, as ``Class.method``
    original: str  # the line it changes, stripped ("" for a line added)
    mutated: str  # that line after the change ("" for a line deleted)
    diff: str

    def key(self) -> tuple[str, str, str]:
        return (self.function, self.original, self.mutated)


@dataclass(slots=True)
class Score:
    module: str
    mutants: int = 0
    killed: int = 0
    equivalent: list[Mutant] = field(default_factory=list)
    survivors: list[Mutant] = field(default_factory=list)
    by_hand: list[Mutant] = field(default_factory=list)  # killed once applied to the source
    unchecked: int = 0  # left out: a run stopped before mutmut tried them
    stale: list[dict[str, str]] = field(default_factory=list)

    @property
    def score(self) -> float:
        relevant = self.mutants - len(self.equivalent)
        return self.killed / relevant if relevant else 1.0


def _mutmut() -> Path:
    """The ``mutmut`` command beside this interpreter (``python -m mutmut`` would import
    mutmut twice, which it warns about)."""
    return Path(sys.executable).parent / "mutmut"


def _work(module: str) -> Path:
    """The scratch project of ``module``."""
    return WORK / Path(module).stem.lstrip("_")


def _environment(work: Path) -> dict[str, str]:
    """The environment of the runs in ``work``: this one, with its module's
    :data:`ENVIRONMENT`."""
    extra = {k: v for m, env in ENVIRONMENT.items() if _work(m) == work for k, v in env.items()}
    return {**os.environ, **extra}


@contextlib.contextmanager
def _postgres(modules: Sequence[str]) -> Iterator[None]:
    """A PostgreSQL server for the runs of ``modules`` that need one
    (:data:`NEEDS_POSTGRES`), unless AIOPERSONALIZE_TEST_POSTGRES_URL names one."""
    if _POSTGRES_URL in os.environ or not NEEDS_POSTGRES.intersection(modules):
        yield
        return
    directory = Path(tempfile.mkdtemp(prefix="aiopersonalize-pg-"))
    cluster = [sys.executable, "-m", "tests.db.cluster"]
    url = subprocess.run(
        [*cluster, "start", str(directory)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    os.environ[_POSTGRES_URL] = url
    try:
        yield
    finally:
        del os.environ[_POSTGRES_URL]
        subprocess.run([*cluster, "stop", str(directory)], cwd=ROOT, check=False)


def _prepare(module: str, tests: Sequence[str]) -> Path:
    """A fresh scratch project for ``module``: the package, the tests, and a
    ``pyproject.toml`` whose ``[tool.mutmut]`` mutates that module only."""
    work = _work(module)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "aiopersonalize", work / "aiopersonalize", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject)
    quoted = ", ".join(f'"{test}"' for test in tests)
    common = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    lines = ["[tool.mutmut]", 'source_paths = ["aiopersonalize"]', f'only_mutate = ["{module}"]']
    lines.append(f"pytest_add_cli_args_test_selection = [{quoted}]")
    for name, value in common.items():
        lines.append(f"{name} = {_toml(value)}")
    (work / "pyproject.toml").write_text(pyproject + "\n" + "\n".join(lines) + "\n")
    return work


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return str(value)


def _run_mutmut(work: Path, jobs: int, names: Sequence[str] = ()) -> None:
    env = {**_environment(work), "PYTHONPATH": ""}  # the scratch copy is the package under test
    command = [str(_mutmut()), "run", "--max-children", str(jobs), *names]
    done = subprocess.run(command, cwd=work, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mutmut failed in {work} (exit {done.returncode})")


def _mutmut_output(work: Path, *args: str) -> str:
    """What ``mutmut ARGS`` prints, run in the scratch project."""
    return subprocess.run(
        [str(_mutmut()), *args],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
        env={**_environment(work), "PYTHONPATH": ""},
    ).stdout


def _verdicts(work: Path) -> dict[str, str]:
    """Every mutant's verdict, by mutmut's name for it."""
    verdicts = {}
    for line in _mutmut_output(work, "results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            verdicts[name] = status
    return verdicts


def _describe(work: Path, name: str) -> Mutant:
    """A mutant's stable description: its function and the line it changes."""
    diff = _mutmut_output(work, "show", name)
    lines = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    removed = [line[1:].strip() for line in lines if line.startswith("-")]
    added = [line[1:].strip() for line in lines if line.startswith("+")]
    # mutmut's name: <module>.x_<function>__mutmut_<n>, or <module>.xǁ<Class>ǁ<method>__mutmut_<n>
    mangled = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    function = mangled.replace("xǁ", "").replace("ǁ", ".") if "ǁ" in mangled else mangled[2:]
    return Mutant(name, function, " / ".join(removed), " / ".join(added), diff)


def _survives_by_hand(work: Path, module: str, mutant: Mutant, tests: Sequence[str]) -> bool:
    """Whether the covering tests still pass with ``mutant`` written into the module's
    source, in a fresh interpreter: mutmut switches mutants at call time, so it cannot
    reach code run once at import (such as building a module's constants)."""
    source = work / module
    # Code run at import: all the module's tests (mutmut credits it to the first test
    # that imported it); otherwise the tests mutmut ran it against, if it found any.
    chosen = list(tests)
    if mutant.function not in RUN_AT_IMPORT.get(module, ()):
        chosen = _mutmut_output(work, "tests-for-mutant", mutant.name).splitlines() or chosen
    original = source.read_bytes()
    _mutmut_output(work, "apply", mutant.name)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *chosen],
            cwd=work,
            env={**_environment(work), "PYTHONPATH": str(work)},
            check=False,
            capture_output=True,
        )
    finally:
        source.write_bytes(original)
    if done.returncode not in (0, 1, 2):  # 2: the mutated module broke the collection
        raise SystemExit(f"pytest could not run {mutant.name}'s tests:\n{done.stdout.decode()}")
    return done.returncode == 0


def _equivalents(module: str) -> list[dict[str, str]]:
    data = tomllib.loads(EQUIVALENT.read_text())
    return [entry for entry in data.get("mutant", []) if entry["module"] == module]


def measure(
    module: str,
    tests: Sequence[str],
    jobs: int,
    *,
    confirm: bool = False,
    reuse: bool = False,
    again: bool = False,
) -> Score:
    """Run mutmut on ``module`` (with ``reuse``, take the last run's verdicts; with
    ``again``, run the last run's survivors again against the tests as they are now)
    and count its mutants."""
    if again:
        work = _work(module)
        # The tests as they are now; mutmut finds the new ones and learns what they reach.
        shutil.rmtree(work / "tests")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
        names = [name for name, status in _verdicts(work).items() if status not in _KILLED]
        if names:
            _run_mutmut(work, jobs, names)
    elif reuse:
        work = _work(module)
    else:
        work = _prepare(module, tests)
        _run_mutmut(work, jobs)
    verdicts = _verdicts(work)
    score = Score(module)
    known = {(e["function"], e["original"], e["mutated"]): e for e in _equivalents(module)}
    matched: set[tuple[str, str, str]] = set()
    for name, status in sorted(verdicts.items()):
        if status == "not checked":  # the run was stopped before it got there
            score.unchecked += 1
            continue
        score.mutants += 1
        if status in _KILLED:
            score.killed += 1
            continue
        if status not in _SURVIVED:
            raise SystemExit(f"{name}: mutmut's verdict {status!r} is not one this script knows")
        mutant = _describe(work, name)
        by_hand = confirm or mutant.function in RUN_AT_IMPORT.get(module, ())
        if by_hand and not _survives_by_hand(work, module, mutant, tests):
            score.killed += 1
            score.by_hand.append(mutant)
        elif mutant.key() in known:
            matched.add(mutant.key())
            score.equivalent.append(mutant)
        else:
            score.survivors.append(mutant)
    score.stale = [entry for key, entry in known.items() if key not in matched]
    return score


def _report(scores: Sequence[Score]) -> bool:
    ok = True
    print()
    print("| module | mutants | killed (by hand) | survived | equivalent | score |")
    print("|---|---|---|---|---|---|")
    for s in scores:
        print(
            f"| `{Path(s.module).name}` | {s.mutants} | {s.killed} ({len(s.by_hand)}) "
            f"| {len(s.survivors)} | {len(s.equivalent)} | {s.score:.1%} |"
        )
    for s in scores:
        for mutant in s.survivors:
            print(f"\nSURVIVED in {s.module}, {mutant.function} ({mutant.name}):\n{mutant.diff}")
            print("as an equivalent.toml entry:")
            print(f'[[mutant]]\nmodule = "{s.module}"\nfunction = "{mutant.function}"')
            print(f"original = {_toml(mutant.original)}\nmutated = {_toml(mutant.mutated)}")
        for entry in s.stale:
            ok = False
            print(f"\nSTALE entry in {EQUIVALENT.name} (no such surviving mutant): {entry}")
        if s.unchecked:
            ok = False
            print(f"\n{s.module}: {s.unchecked} mutants were not checked (the run was stopped)")
        if s.score < REQUIRED_SCORE and s.module not in UNGATED:
            ok = False
            print(f"\n{s.module}: {s.score:.1%} is under the required {REQUIRED_SCORE:.0%}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="e.g. _paging (default: all core modules)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="run every survivor again by hand, written into the source, in a fresh "
        "interpreter (slow; by default only those of RUN_AT_IMPORT's functions)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="count the last run's mutants again (after editing equivalent.toml) instead of "
        "running mutmut",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run the last run's surviving (and unchecked) mutants again against the tests "
        "as they are now: after adding tests for them; the code must not have changed",
    )
    args = parser.parse_args(argv)
    chosen = [m for m in MODULES if not args.modules or Path(m).stem in args.modules]
    unknown = set(args.modules) - {Path(m).stem for m in MODULES}
    if unknown:
        parser.error(f"not a core module: {', '.join(sorted(unknown))}")
    scores = []
    with _postgres([] if args.reuse and not args.confirm else chosen):
        for module in chosen:
            print(f"== {module}", flush=True)
            scores.append(
                measure(
                    module,
                    MODULES[module],
                    args.jobs,
                    confirm=args.confirm,
                    reuse=args.reuse,
                    again=args.survivors,
                )
            )
    return 0 if _report(scores) else 1


if __name__ == "__main__":
    sys.exit(main())
