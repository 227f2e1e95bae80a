"""Opaque, tamper-evident ``nextToken`` values bound to the query that made them.

A token carries a cursor (the position after the last item returned) and an HMAC over
that cursor and a digest of the query: the operation, its filter and the region, but not
``maxResults``, which a caller may change from page to page. An edited token, a token
from another query and garbage all fail verification the same way:
``InvalidNextTokenException``.

With a token lifetime, a token also carries the time it was issued (version 2 of the
payload, in milliseconds of the emulator's clock, covered by the HMAC), and one older
than the lifetime fails the same way: AWS answers an expired token as it answers a bad
one. Without a lifetime, tokens carry no time (version 1, as before lifetimes existed),
so the same position always gives the same token, and tokens never expire. A codec
with a lifetime refuses version-1 tokens, whose age it cannot know.

The key is derived from the seed and the inventory unless a secret is given, so tokens
stay valid across restarts of an emulator with the same settings (a crawler checkpoint
can resume against a restarted ``serve``, within the lifetime if one is set).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ._errors import ServiceError

__all__ = ["Cursor", "TokenCodec", "derive_key"]

_TIMELESS = 1  # payload version 1: no issue time (tokens that never expire)
_TIMED = 2  # payload version 2: with the issue time
_PAYLOADS = {
    _TIMELESS: struct.Struct(">BcQ"),  # version, segment, position
    _TIMED: struct.Struct(">BcQQ"),  # version, segment, position, issued (epoch ms)
}
_MAC_SIZE = 16
# The payload's layout by the token's length (each version's is fixed).
_BY_LENGTH = {layout.size + _MAC_SIZE: version for version, layout in _PAYLOADS.items()}


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
    """Encodes cursors as tokens and verifies tokens back into cursors.

    Args:
        key: the HMAC key (:func:`derive_key`).
        lifetime: seconds a token stays valid after it was issued; ``None`` for ever.
        clock: epoch seconds, read for issue times and ages (only with a lifetime).
    """

    __slots__ = ("_clock", "_key", "_lifetime_ms")

    def __init__(
        self,
        key: bytes,
        *,
        lifetime: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._lifetime_ms = None if lifetime is None else lifetime * 1000
        self._clock = clock

    def _mac(self, query: str, payload: bytes) -> bytes:
        digest = hashlib.sha256(query.encode()).digest()
        return hmac.new(self._key, digest + payload, hashlib.sha256).digest()[:_MAC_SIZE]

    def _now_ms(self) -> int:
        # Epoch milliseconds, not before the epoch (the payload's field is unsigned).
        return max(0, round(self._clock() * 1000))

    def encode(self, query: str, cursor: Cursor) -> str:
        """A token resuming ``query`` (operation, filter and region) at ``cursor``."""
        segment = cursor.segment.encode()
        if self._lifetime_ms is None:
            payload = _PAYLOADS[_TIMELESS].pack(_TIMELESS, segment, cursor.position)
        else:
            payload = _PAYLOADS[_TIMED].pack(_TIMED, segment, cursor.position, self._now_ms())
        raw = payload + self._mac(query, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, query: str, token: str) -> Cursor:
        """The cursor in ``token``.

        Raises:
            ServiceError: ``InvalidNextTokenException`` if the token was not made by
                this key for this query, was altered in any way, or is older than the
                lifetime (or, with a lifetime, carries no issue time).
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid() from None
        version = _BY_LENGTH.get(len(raw))
        if version is None:
            raise _invalid()
        layout = _PAYLOADS[version]
        payload, mac = raw[: layout.size], raw[layout.size :]
        if not hmac.compare_digest(mac, self._mac(query, payload)):
            raise _invalid()
        # Several spellings decode to the same bytes (the last character's spare bits,
        # padding, the standard alphabet): only the one this codec made is accepted.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
            raise _invalid()
        fields = layout.unpack(payload)
        if fields[0] != version:
            raise _invalid()
        segment, position = fields[1], fields[2]
        lifetime = self._lifetime_ms
        if lifetime is not None and (version != _TIMED or self._now_ms() - fields[3] > lifetime):
            raise _invalid()  # expired, or of an age unknown
        if segment == b"c":
            return Cursor("c", position)
        if segment == b"s":
            return Cursor("s", position)
        raise _invalid()
