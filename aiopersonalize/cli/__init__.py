"""The ``aiopersonalize`` command line: ``crawl``, ``demo`` and ``serve``.

The application, one concern per module:

- ``_main``: the dispatcher: the command table, the parser, :func:`main`.
- ``_crawl``: the ``crawl`` command: options, then output, then the engine, then the
  summary and exit status.
- ``_options``: the crawl's options, their checks, and the parsed-options record.
- ``_output``: opening the crawl's output, and its checkpoint to create or resume.
- ``_checkpoint``: the checkpoint journal, and recovering a crawl from it.
- ``_engine``: the crawl engine: the listing written page by page, signals, progress.
- ``_jsonl``: the JSON Lines encoding of a page of jobs.
- ``_writer``: the output's writer process: the JSON Lines and the journal written off
  the crawl's process.
- ``_summary``: the end-of-crawl summary and the exit statuses.
- ``_demo``: the ``demo`` command: the crawl against the embedded emulator.

It uses only the public API of :mod:`aiopersonalize` and :mod:`aiopersonalize.emulator`.
Importing this package loads just the dispatcher; each command's module is imported
when that command runs.
"""

from ._main import main

__all__ = ["main"]
