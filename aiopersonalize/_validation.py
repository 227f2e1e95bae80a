"""Input constraints, checked before any request is sent.

The constraints are those of botocore's service model for Personalize (2018-05-22):

- ``Arn``: string, at most 256 characters, pattern ``arn:([a-z\\d-]+):personalize:.*:.*:.+``.
  The model's pattern is matched against the whole value (a value with text before
  ``arn:`` or with a line break is refused), as the service's validator matches it: in
  Java's syntax, where ``\\d`` is an ASCII digit and ``.`` matches no line terminator
  (``\\r``, U+0085, U+2028 and U+2029 as well as ``\\n``).
- ``NextToken``: string, at most 1500 characters, pattern ``\\p{ASCII}{0,1500}``.
- ``MaxResults``: integer, 1 to 100.

Our own parameters: ``max_items`` is an integer of at least 1 (or ``None``), ``prefetch``
an integer of at least 0 (at least 1 for merged listings), ``concurrency`` at least 1,
``max_requests_per_second`` a finite number above 0. ``bool`` is refused wherever a
number is asked for. Region names follow botocore's check, in lower case. Where an
iterable is asked for, a single string is refused rather than taken letter by letter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

from ._exceptions import ParamValidationError
from ._vocabulary import (
    ACCOUNT_ID_PATTERN,
    ARN_MAX_LENGTH,
    JOB_KIND_NAMES,
    MAX_PAGE_SIZE,
    MIN_PAGE_SIZE,
    NEXT_TOKEN_MAX_LENGTH,
    ChainKey,
    JobKindName,
)
from ._vocabulary import ARN_PATTERN as _ARN_PATTERN

L = TypeVar("L", bound=str)

ARN_PATTERN = re.compile(_ARN_PATTERN, re.ASCII)
ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN, re.ASCII)
# What Java's "." does not match, beyond the "\n" that Python's "." does not match either.
_LINE_TERMINATORS = re.compile("[\r\u0085\u2028\u2029]")


def _type_name(value: object) -> str:
    return type(value).__name__


def _show(value: object) -> str:
    """``repr(value)`` for a message, or its type where that fails (an int of more digits
    than Python prints, a broken ``__repr__``), so that the error raised is ours."""
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {_type_name(value)}>"


def arn(name: str, value: object) -> str:
    """A Personalize ARN, per the model's ``Arn`` shape."""
    if not isinstance(value, str):
        raise ParamValidationError(name, f"expected a str ARN, got {_type_name(value)}")
    if len(value) > ARN_MAX_LENGTH:
        raise ParamValidationError(
            name, f"ARN is {len(value)} characters long; the limit is {ARN_MAX_LENGTH}"
        )
    if ARN_PATTERN.fullmatch(value) is None or _LINE_TERMINATORS.search(value):
        raise ParamValidationError(
            name, f"{value!r} does not match the ARN pattern {ARN_PATTERN.pattern}"
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
        raise ParamValidationError(name, f"must be {bounds}, got {_show(checked)}")
    return checked


def page_size(value: object) -> int:
    return int_in_range("page_size", value, MIN_PAGE_SIZE, MAX_PAGE_SIZE)


def max_items(value: object) -> int | None:
    return None if value is None else int_in_range("max_items", value, 1)


def prefetch(value: object) -> int:
    return int_in_range("prefetch", value, 0)


def choice(name: str, value: object, allowed: Iterable[L]) -> L:
    """One of ``allowed`` (the allowed value itself, so a literal type's member)."""
    options = tuple(allowed)
    for option in options:
        if value == option:
            return option
    raise ParamValidationError(name, f"must be one of {options!r}, got {_show(value)}")


# botocore's check of region names (``botocore.utils.validate_region_name``), in lower
# case: the case every AWS region name is written in.
REGION_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")


def region(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ParamValidationError(name, f"expected a str region name, got {_type_name(value)}")
    if REGION_PATTERN.fullmatch(value) is None:
        raise ParamValidationError(name, f"{value!r} is not a valid region name")
    return value


def _sequence(name: str, values: object, what: str) -> list[object]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ParamValidationError(
            name, f"expected an iterable of {what}, got {_type_name(values)}"
        )
    return list(values)


def regions(name: str, values: object) -> tuple[str, ...]:
    """A non-empty iterable of region names (not a single string), de-duplicated."""
    items = _sequence(name, values, "region names")
    if not items:
        raise ParamValidationError(name, "give at least one region")
    return tuple(dict.fromkeys(region(f"{name}[{i}]", v) for i, v in enumerate(items)))


def choices(name: str, values: object, allowed: Iterable[L]) -> tuple[L, ...]:
    """A non-empty iterable of allowed strings (not a single string), de-duplicated."""
    items = _sequence(name, values, "names")
    if not items:
        raise ParamValidationError(name, "give at least one")
    return tuple(dict.fromkeys(choice(f"{name}[{i}]", v, allowed) for i, v in enumerate(items)))


def _float(name: str, value: object, what: str) -> float:
    """``value`` as a float (an int beyond any float is an infinity), or refused: only
    ``int`` and ``float``, never a ``bool``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamValidationError(name, f"expected {what}, got {_type_name(value)}")
    try:
        return float(value)
    except OverflowError:  # an int beyond any float
        return math.inf if value > 0 else -math.inf


def positive_rate(name: str, value: object) -> float | None:
    """``None``, or a finite number above zero (not a ``bool``)."""
    if value is None:
        return None
    rate = _float(name, value, "a number")
    if not math.isfinite(rate) or rate <= 0:
        raise ParamValidationError(name, f"must be a finite number above 0, got {_show(value)}")
    return rate


def seconds(name: str, value: object) -> float:
    """A finite number of seconds, zero or more (not a ``bool``)."""
    checked = _float(name, value, "a number of seconds")
    if not math.isfinite(checked) or checked < 0:
        raise ParamValidationError(name, f"must be a finite number, 0 or more, got {_show(value)}")
    return checked


def token_map(name: str, value: object, keys: Iterable[str]) -> dict[str, str]:
    """ARN -> ``NextToken`` for some of ``keys`` (``None``: no tokens)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParamValidationError(name, f"expected a mapping, got {_type_name(value)}")
    known = set(keys)
    tokens: dict[str, str] = {}
    for key, token in value.items():
        if key not in known:
            raise ParamValidationError(
                name, f"{_show(key)} is not one of the solution versions given"
            )
        checked = next_token(f"{name}[{key!r}]", token)
        if checked is None:
            raise ParamValidationError(f"{name}[{key!r}]", "expected a str token, got None")
        tokens[key] = checked
    return tokens


def account_id(name: str, value: object) -> str:
    """An AWS account ID: twelve digits."""
    if not isinstance(value, str) or ACCOUNT_ID.fullmatch(value) is None:
        raise ParamValidationError(name, f"expected a 12-digit account ID, got {_show(value)}")
    return value


def chain_key(name: str, key: object, kinds: Iterable[JobKindName]) -> ChainKey:
    """A ``(region, kind, solution_version_arn)`` or ``(region, kind,
    solution_version_arn, account)`` tuple, checked part by part (the ARN ``None`` for
    an account-wide chain, the account ``None`` for the client's own)."""
    if not isinstance(key, tuple) or len(key) not in (3, 4):
        raise ParamValidationError(
            name,
            f"keys are (region, kind, solution_version_arn[, account]) tuples, got {_show(key)}",
        )
    where = f"{name}[{_show(key)}]"
    account = key[3] if len(key) == 4 else None
    return ChainKey(
        region(where, key[0]),
        choice(where, key[1], kinds),
        optional_arn(where, key[2]),
        None if account is None else account_id(where, account),
    )


def resume_map(
    name: str, value: object, kinds: Iterable[JobKindName]
) -> dict[ChainKey, str | None]:
    """``(region, kind, solution_version_arn)`` -> token, or ``None`` for a finished chain."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParamValidationError(name, f"expected a mapping, got {_type_name(value)}")
    allowed = tuple(kinds)
    checked: dict[ChainKey, str | None] = {}
    for key, token in value.items():
        checked[chain_key(name, key, allowed)] = next_token(f"{name}[{_show(key)}]", token)
    return checked


def check_resume(
    resume: object, *, kinds: Iterable[JobKindName] = JOB_KIND_NAMES
) -> dict[ChainKey, str | None]:
    """A crawl's ``resume`` mapping checked as :meth:`Client.crawl_batch_jobs` checks it:
    ``(region, kind, solution_version_arn or None)`` keys of ``kinds``, to tokens or
    ``None``.

    For tools that keep resume positions of their own (a checkpoint, a database) and
    want to refuse a damaged one before starting a crawl.

    :raises ParamValidationError: naming the first key or token that is not valid.
    """
    return resume_map("resume", resume, kinds)
