"""Check what the built distributions hold: ``python .ci/check_sdist.py DIST_DIR``.

DIST_DIR holds one sdist (``.tar.gz``) and one wheel, as ``python -m build`` leaves
them. The script prints each archive's listing and exits 1 when:

- the sdist holds a file that is not tracked by git (when run in a git checkout), or
  one that a working tree gathers (caches, virtual environments, hypothesis' database,
  build output, bytecode), or lacks a file it must hold (LICENSE, README.md, ...);
- the wheel holds anything but the package and its metadata, or lacks ``py.typed`` or
  the license.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]

# Parts of a path that never belong in a distribution.
FORBIDDEN_PARTS = {
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    ".git",
    ".coverage",
    "htmlcov",
    "site",
    "dist",
    "build",
}
FORBIDDEN_SUFFIXES = {".pyc", ".pyo", ".so", ".egg-info", ".orig", ".rej", ".swp"}
# Top-level entries the sdist may hold (pyproject.toml's [tool.hatch.build.targets.sdist]).
SDIST_TOP = {
    "aiopersonalize",
    "tests",
    "benchmarks",
    "docs",
    ".ci",
    "README.md",
    "LICENSE",
    "mkdocs.yml",
    "pyproject.toml",
    "PKG-INFO",
    ".gitignore",
}
SDIST_REQUIRED = {
    "PKG-INFO",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "aiopersonalize/__init__.py",
    "aiopersonalize/py.typed",
}
WHEEL_REQUIRED_SUFFIXES = ("aiopersonalize/py.typed", ".dist-info/licenses/LICENSE")


def tracked_files() -> set[str] | None:
    """The files git tracks in this checkout, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {name for name in out.decode().split("\0") if name}


def bad_path(path: PurePosixPath) -> str | None:
    """Why this path must not be in a distribution, or None."""
    for part in path.parts:
        if part in FORBIDDEN_PARTS:
            return f"a {part} entry"
        if any(part.endswith(suffix) for suffix in FORBIDDEN_SUFFIXES):
            return f"a {PurePosixPath(part).suffix} file"
    return None


def check_sdist(archive: Path, tracked: set[str] | None) -> list[str]:
    """The problems of one sdist."""
    problems = []
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
    names = []
    for member in members:
        # Every member lives under "<name>-<version>/".
        _, _, rel = member.name.partition("/")
        names.append(rel)
        print(f"  {member.size:>9,}  {rel}")
    print(f"  {len(names)} files, {sum(m.size for m in members):,} bytes")
    for rel in names:
        path = PurePosixPath(rel)
        reason = bad_path(path)
        if reason:
            problems.append(f"sdist: {rel}: {reason}")
        elif path.parts[0] not in SDIST_TOP:
            problems.append(f"sdist: {rel}: not a part of the source distribution")
        elif tracked is not None and rel != "PKG-INFO" and rel not in tracked:
            problems.append(f"sdist: {rel}: not tracked by git")
    problems.extend(f"sdist: {name} is missing" for name in sorted(SDIST_REQUIRED - set(names)))
    return problems


def check_wheel(archive: Path) -> list[str]:
    """The problems of one wheel."""
    problems = []
    with zipfile.ZipFile(archive) as wheel:
        infos = [i for i in wheel.infolist() if not i.is_dir()]
    for info in infos:
        print(f"  {info.file_size:>9,}  {info.filename}")
    print(f"  {len(infos)} files")
    names = [i.filename for i in infos]
    for name in names:
        path = PurePosixPath(name)
        reason = bad_path(path)
        if reason:
            problems.append(f"wheel: {name}: {reason}")
        elif not (path.parts[0] == "aiopersonalize" or path.parts[0].endswith(".dist-info")):
            problems.append(f"wheel: {name}: not the package or its metadata")
    problems.extend(
        f"wheel: no file ending in {suffix}"
        for suffix in WHEEL_REQUIRED_SUFFIXES
        if not any(name.endswith(suffix) for name in names)
    )
    return problems


def main(argv: list[str]) -> int:
    """Check the sdist and wheel in ``argv[0]``; 0 if both hold what they should."""
    if len(argv) != 1:
        print("usage: python .ci/check_sdist.py DIST_DIR", file=sys.stderr)
        return 2
    dist = Path(argv[0])
    sdists = sorted(dist.glob("*.tar.gz"))
    wheels = sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"expected one sdist and one wheel in {dist}, found {sdists + wheels}")
        return 1
    tracked = tracked_files()
    print(f"{sdists[0].name}:")
    problems = check_sdist(sdists[0], tracked)
    print(f"{wheels[0].name}:")
    problems += check_wheel(wheels[0])
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if not problems:
        print("distributions: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
