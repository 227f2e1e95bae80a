"""Input constraints, checked before any request is sent.

The constraints are those of botocore's service model for Personalize (2018-05-22):

- ``Arn``: string, at most 256 characters, pattern ``arn:([a-z\\d-]+):personalize:.*:.*:.+``.
  The model's pattern is matched against the whole value (a value with text before
  ``arn:`` or with a line break is refused).
- ``NextToken``: string, at most 1500 characters, pattern ``\\p{ASCII}{0,1500}``.
- ``MaxResults``: integer, 1 to 100.

Our own parameters: ``max_items`` is an integer of at least 1 (or ``None``), ``prefetch``
an integer of at least 0. ``bool`` is refused wherever an integer is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._exceptions import ParamValidationError

ARN_MAX_LENGTH = 256
ARN_PATTERN = re.compile(r"arn:([a-z\d-]+):personalize:.*:.*:.+")
NEXT_TOKEN_MAX_LENGTH = 1500
MAX_RESULTS_MIN = 1
MAX_RESULTS_MAX = 100


def _type_name(value: object) -> str:
    return type(value).__name__


def arn(name: str, value: object) -> str:
    """A Personalize ARN, per the model's ``Arn`` shape."""
    if not isinstance(value, str):
        raise ParamValidationError(name, f"expected a str ARN, got {_type_name(value)}")
    if len(value) > ARN_MAX_LENGTH:
        raise ParamValidationError(
            name, f"ARN is {len(value)} characters long; the limit is {ARN_MAX_LENGTH}"
        )
    if ARN_PATTERN.fullmatch(value) is None:
        raise ParamValidationError(
            name, f"{value!r} does not match the ARN pattern {ARN_PATTERN.pattern!r}"
        )
    return value


def optional_arn(name: str, value: object) -> str | None:
    return None if value is None else arn(name, value)


def arns(name: str, values: object) -> tuple[str, ...]:
    """An iterable of ARNs (not a single string), de-duplicated in order."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ParamValidationError(name, f"expected an iterable of ARNs, got {_type_name(values)}")
    checked = [arn(f"{name}[{i}]", v) for i, v in enumerate(values)]
    return tuple(dict.fromkeys(checked))


def next_token(name: str, value: object) -> str | None:
    """A ``NextToken``, or ``None`` to start from the beginning."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParamValidationError(name, f"expected a str token, got {_type_name(value)}")
    if len(value) > NEXT_TOKEN_MAX_LENGTH:
        raise ParamValidationError(
            name,
            f"token is {len(value)} characters long; the limit is {NEXT_TOKEN_MAX_LENGTH}",
        )
    if not value.isascii():
        raise ParamValidationError(name, "token must be ASCII")
    return value


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamValidationError(name, f"expected an int, got {_type_name(value)}")
    return value


def int_in_range(name: str, value: object, low: int, high: int | None = None) -> int:
    """An ``int`` (not a ``bool``) with ``low <= value`` (and ``value <= high``)."""
    checked = _int(name, value)
    if checked < low or (high is not None and checked > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ParamValidationError(name, f"must be {bounds}, got {checked}")
    return checked


def page_size(value: object) -> int:
    return int_in_range("page_size", value, MAX_RESULTS_MIN, MAX_RESULTS_MAX)


def max_items(value: object) -> int | None:
    return None if value is None else int_in_range("max_items", value, 1)


def prefetch(value: object) -> int:
    return int_in_range("prefetch", value, 0)


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    options = tuple(allowed)
    if value not in options:
        raise ParamValidationError(name, f"must be one of {options!r}, got {value!r}")
    return str(value)
