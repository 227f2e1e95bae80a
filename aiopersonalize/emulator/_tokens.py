"""Opaque, tamper-evident ``nextToken`` values bound to the query that made them.

A token carries a cursor (the position after the last item returned) and an HMAC over
that cursor and a digest of the query: the operation, its filter and the region, but not
``maxResults``, which a caller may change from page to page. An edited token, a token
from another query and garbage all fail verification the same way:
``InvalidNextTokenException``.

The key is derived from the seed and the inventory unless a secret is given, so tokens
stay valid across restarts of an emulator with the same settings (a crawler checkpoint
can resume against a restarted ``serve``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Literal

from ._errors import ServiceError

__all__ = ["Cursor", "TokenCodec", "derive_key"]

_VERSION = 1
_PAYLOAD = struct.Struct(">BcQ")  # version, segment, position
_MAC_SIZE = 16
_TOKEN_BYTES = _PAYLOAD.size + _MAC_SIZE


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing resumes.

    ``segment`` ``"c"``: among created jobs, those with a sequence number below
    ``position`` (then the seeded ones); ``"s"``: seeded items from index ``position``.
    """

    segment: Literal["c", "s"]
    position: int


def derive_key(seed: int, fingerprint: str, secret: bytes | None = None) -> bytes:
    """The HMAC key: ``secret`` if given, else one derived from the seed and inventory."""
    if secret is not None:
        return hashlib.sha256(b"aiopersonalize.emulator.secret\x00" + secret).digest()
    material = f"aiopersonalize.emulator.tokens\x00{seed}\x00{fingerprint}".encode()
    return hashlib.sha256(material).digest()


def _invalid() -> ServiceError:
    return ServiceError("InvalidNextTokenException", "The next token is invalid or has expired.")


class TokenCodec:
    """Encodes cursors as tokens and verifies tokens back into cursors."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, query: str, payload: bytes) -> bytes:
        digest = hashlib.sha256(query.encode()).digest()
        return hmac.new(self._key, digest + payload, hashlib.sha256).digest()[:_MAC_SIZE]

    def encode(self, query: str, cursor: Cursor) -> str:
        """A token resuming ``query`` (operation, filter and region) at ``cursor``."""
        payload = _PAYLOAD.pack(_VERSION, cursor.segment.encode(), cursor.position)
        raw = payload + self._mac(query, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, query: str, token: str) -> Cursor:
        """The cursor in ``token``.

        Raises:
            ServiceError: ``InvalidNextTokenException`` if the token was not made by
                this key for this query, or was altered in any way.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if len(raw) != _TOKEN_BYTES:
            raise _invalid()
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(query, payload)):
            raise _invalid()
        # Several spellings decode to the same bytes (the last character's spare bits,
        # padding, the standard alphabet): only the one this codec made is accepted.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
            raise _invalid()
        version, segment, position = _PAYLOAD.unpack(payload)
        if version != _VERSION:
            raise _invalid()
        if segment == b"c":
            return Cursor("c", position)
        if segment == b"s":
            return Cursor("s", position)
        raise _invalid()
