"""Request validation driven by the service model's shapes.

The service answers constraint violations the way AWS's JSON services do: one
``InvalidInputException`` listing every violation ("2 validation errors detected:
Value '101' at 'maxResults' failed to satisfy constraint: ..."). A member of the wrong
JSON type cannot be deserialized at all and is a ``SerializationException``.

Patterns are matched whole (the service's validator uses Java's ``Matcher.matches()``).
Java's Unicode classes are translated to Python ``re``: ``\\p{ASCII}`` exactly, and
``\\p{L}``/``\\p{N}``/``\\p{Z}`` as ``\\w``/``\\d``/``\\s``, which accept the same
strings for the only patterns using them (tag keys and values, whose classes also allow
``_``), bar control whitespace.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ._errors import ServiceError

__all__ = ["validate"]

_CLASS_TRANSLATIONS = {"ASCII": r"\x00-\x7f", "L": r"\w", "N": r"\d", "Z": r"\s"}
_UNICODE_CLASS = re.compile(r"\\p\{(\w+)\}")
_JAVA_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern (Java syntax) to a Python regular expression."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            match = _UNICODE_CLASS.match(pattern, i)
            if match is not None:
                body = _CLASS_TRANSLATIONS[match.group(1)]
                out.append(body if in_class else f"[{body}]")
                i = match.end()
                continue
            escape = pattern[i : i + 2]
            if escape == r"\d":  # Java's \d is ASCII only; Python's, any Unicode digit
                escape = "0-9" if in_class else "[0-9]"
            out.append(escape)
            i += 2
            continue
        if char == "." and not in_class:
            # Java's . stops at every line terminator, not only at \n.
            out.append(_JAVA_DOT)
            i += 1
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return re.compile("".join(out))


def _show(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    return str(value)


class _Validator:
    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[str] = []

    def _fail(self, value: object, path: str, constraint: str) -> None:
        self.errors.append(
            f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def check(self, shape: Any, value: object, path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            self._structure(shape, value, path)
        elif kind == "list":
            self._list(shape, value, path)
        elif kind == "map":
            self._map(shape, value, path)
        elif kind == "string":
            self._string(shape, value, path)
        elif kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise _type_error(path, kind)
            self._range(shape, value, path)
        elif kind in ("double", "float"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _type_error(path, kind)
            self._range(shape, value, path)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise _type_error(path, kind)
        elif kind == "timestamp":
            if not isinstance(value, (int, float, str)) or isinstance(value, bool):
                raise _type_error(path, kind)
        elif kind == "blob" and not isinstance(value, str):
            raise _type_error(path, kind)

    def _structure(self, shape: Any, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _type_error(path or "the request body", "structure")
        prefix = f"{path}." if path else ""
        for name in shape.required_members:
            if value.get(name) is None:
                self._fail(None, prefix + name, "Member must not be null")
        members = shape.members
        for name, member_value in value.items():
            # Unknown members are ignored, as AWS's JSON services do for forward
            # compatibility; an explicit null is the same as an absent member.
            member = members.get(name)
            if member is not None and member_value is not None:
                self.check(member, member_value, prefix + name)

    def _list(self, shape: Any, value: object, path: str) -> None:
        if not isinstance(value, list):
            raise _type_error(path, "list")
        self._length(shape, value, len(value), path)
        for position, item in enumerate(value, start=1):
            self.check(shape.member, item, f"{path}.{position}.member")

    def _map(self, shape: Any, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _type_error(path, "map")
        self._length(shape, value, len(value), path)
        for key, item in value.items():
            self.check(shape.key, key, f"{path}.key")
            self.check(shape.value, item, f"{path}.{key}")

    def _string(self, shape: Any, value: object, path: str) -> None:
        if not isinstance(value, str):
            raise _type_error(path, "string")
        self._length(shape, value, len(value), path)
        enum = shape.enum
        if enum and value not in enum:
            self._fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and _compile(pattern).fullmatch(value) is None:
            self._fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")

    def _length(self, shape: Any, value: object, length: int, path: str) -> None:
        metadata = shape.metadata
        low = metadata.get("min")
        high = metadata.get("max")
        if low is not None and length < low:
            self._fail(value, path, f"Member must have length greater than or equal to {low}")
        if high is not None and length > high:
            self._fail(value, path, f"Member must have length less than or equal to {high}")

    def _range(self, shape: Any, value: float, path: str) -> None:
        metadata = shape.metadata
        low = metadata.get("min")
        high = metadata.get("max")
        if low is not None and value < low:
            self._fail(value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self._fail(value, path, f"Member must have value less than or equal to {high}")


def _type_error(path: str, expected: str) -> ServiceError:
    return ServiceError.serialization(f"Unexpected value type at '{path}': expected a {expected}")


def validate(shape: Any, params: object) -> None:
    """Check ``params`` against an input shape (a botocore ``StructureShape``).

    Raises:
        ServiceError: ``SerializationException`` for a member of the wrong JSON type,
            ``InvalidInputException`` listing every constraint violation.
    """
    validator = _Validator()
    validator.check(shape, params, "")
    errors = validator.errors
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise ServiceError.invalid_input(f"{count} validation {noun} detected: {'; '.join(errors)}")
