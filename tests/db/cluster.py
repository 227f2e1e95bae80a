"""A throwaway PostgreSQL cluster: ``initdb`` in a temporary directory, ``pg_ctl`` on a
free loopback port, trust authentication, stopped and removed at the end.

    python -m tests.db.cluster start DIR   # prints the cluster's URL
    python -m tests.db.cluster stop DIR

``.ci/run`` starts one for the suite (``AIOPERSONALIZE_TEST_POSTGRES_URL``); the tests'
``postgres_url`` fixture starts one itself when that variable is not set, and the
benchmarks do too. ``initdb`` refuses to run as root, so as root the cluster belongs to
the ``postgres`` user (``runuser``). PostgreSQL's programs are found on ``PATH`` or in
``/usr/lib/postgresql/*/bin`` (Debian's layout), the newest first.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["bindir", "start", "stop"]

ENV = "AIOPERSONALIZE_TEST_POSTGRES_URL"
_USER = "postgres"


def bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``, or ``None`` if there is none."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(candidates[-1]).parent if candidates else None


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", _USER, "--", *argv]
    return argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str]) -> None:
    subprocess.run(_as_owner(argv), check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def start(directory: Path) -> str:
    """Create and start a cluster in ``directory`` (made if missing); its URL."""
    programs = bindir()
    if programs is None:
        raise RuntimeError("PostgreSQL's initdb is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, _USER, _USER)
    data = directory / "data"
    initdb = [str(programs / "initdb"), "-D", str(data), "-A", "trust", "-U", _USER]
    _run([*initdb, "--no-sync", "-E", "UTF8"])
    port = _free_port()
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    log = str(directory / "log")
    _run([str(programs / "pg_ctl"), "-D", str(data), "-l", log, "-o", options, "-w", "start"])
    (directory / "port").write_text(str(port))
    return f"postgresql://{_USER}@127.0.0.1:{port}/postgres"


def stop(directory: Path) -> None:
    """Stop the cluster in ``directory`` and remove it."""
    programs = bindir()
    data = directory / "data"
    if programs is not None and (data / "postmaster.pid").exists():
        subprocess.run(
            _as_owner([str(programs / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
    shutil.rmtree(directory, ignore_errors=True)


def temporary() -> Path:
    """A fresh directory for a cluster."""
    return Path(tempfile.mkdtemp(prefix="aiopersonalize-pg-"))


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        print(start(where))
    elif command == "stop":
        stop(where)
    else:
        sys.exit(f"usage: {sys.argv[0]} start|stop DIR")
