"""MkDocs hook: every public object of the API reference has a docstring.

mkdocstrings leaves an object without a docstring out of the page (``show_if_no_docstring:
false``) without a word; this hook loads the package with griffe, as mkdocstrings does,
and logs a warning for each public class, function, method and property of
``aiopersonalize`` and ``aiopersonalize.emulator`` (their ``__all__``) that has none. With
``strict: true`` in mkdocs.yml, a warning fails ``mkdocs build``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import griffe

log = logging.getLogger("mkdocs.plugins.docstrings")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aiopersonalize", "aiopersonalize.emulator")
CHECKED_KINDS = {griffe.Kind.CLASS, griffe.Kind.FUNCTION, griffe.Kind.MODULE}


def _public(name: str) -> bool:
    return not name.startswith("_")


def _undocumented(obj: griffe.Object, path: str, seen: set[str]) -> list[str]:
    """The dotted names under ``obj`` (itself included) that have no docstring."""
    if obj.path in seen:
        return []
    seen.add(obj.path)
    missing = []
    is_property = obj.is_attribute and "property" in getattr(obj, "labels", set())
    if (obj.kind in CHECKED_KINDS or is_property) and not (
        obj.docstring and obj.docstring.value.strip()
    ):
        missing.append(path)
    if obj.is_class:
        for name, member in obj.members.items():
            if not _public(name) or member.is_alias:
                continue
            if member.is_function or (
                member.is_attribute and "property" in getattr(member, "labels", set())
            ):
                missing += _undocumented(member, f"{path}.{name}", seen)
    return missing


def undocumented() -> list[str]:
    """Every public name of the packages' ``__all__`` without a docstring."""
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)])
    missing: list[str] = []
    seen: set[str] = set()
    for dotted in PACKAGES:
        top = loader.load(dotted.split(".")[0])
        module = top
        for part in dotted.split(".")[1:]:
            module = module.members[part]  # type: ignore[assignment]
        missing += _undocumented(module, dotted, seen)
        for name in sorted(module.exports or ()):
            if not isinstance(name, str) or name.startswith("__"):
                continue
            member = module.members[name]
            target = member.final_target if member.is_alias else member
            missing += _undocumented(target, f"{dotted}.{name}", seen)  # type: ignore[arg-type]
    return missing


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Warn (an error under ``--strict``) for each public object without a docstring."""
    for path in undocumented():
        log.warning("no docstring: %s (the API reference would leave it out)", path)


if __name__ == "__main__":
    for path in undocumented():
        print(path)
