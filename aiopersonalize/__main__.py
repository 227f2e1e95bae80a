"""``python -m aiopersonalize``: the command line."""

from aiopersonalize.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
