"""The JSON Lines encoding of the crawl's output: one job per line.

Each line is one JSON object: the job's ``kind`` and ``region``, then its AWS members
(:meth:`to_dict`), timestamps in ISO 8601. The lines go to a :class:`Sink`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from aiopersonalize import BatchInferenceJobSummary, BatchSegmentJobSummary, Page

__all__ = ["Job", "Sink", "page_lines"]

Job = BatchInferenceJobSummary | BatchSegmentJobSummary
"""A job as the crawl lists it, of either kind."""


class Sink(Protocol):
    """Where the JSON Lines go: a binary file, stdout's buffer, or the demo's sample."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_line(record: Mapping[str, Any]) -> bytes:
    # ASCII only: every other character is escaped, so a line break inside a string
    # (U+2028, U+0085, ...) cannot split a line for any reader; no NaN: not JSON.
    line = json.dumps(
        record, default=_json_default, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return line.encode() + b"\n"


def page_lines(page: Page[Job]) -> bytes:
    """The page's jobs as JSON Lines: kind, region, then the AWS members."""
    head = {"kind": page.kind, "region": page.region}
    return b"".join(_json_line({**head, **job.to_dict()}) for job in page.items)
