"""Griffe extension for the API reference: the docstrings' Sphinx roles as Markdown.

The docstrings are written for reading in source and in ``help()``, with Sphinx's
``:meth:`aclose``` and ``:class:`Listing``` roles and ``::`` before a literal block;
MkDocs renders Markdown, where these would show as written. This turns each role into
inline code and ``::`` into ``:``, and changes nothing else.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:meth|class|func|attr|exc|mod|data|obj|const):`~?([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(\S)::$", re.MULTILINE)


class SphinxRoles(griffe.Extension):
    """Rewrites Sphinx roles in every docstring the loader reads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            text = _ROLE.sub(r"`\1`", obj.docstring.value)
            obj.docstring.value = _LITERAL_BLOCK.sub(r"\1:", text)
