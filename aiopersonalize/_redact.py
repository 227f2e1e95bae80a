"""Credentials out of text: error messages and botocore's DEBUG log records.

botocore logs every signed request at DEBUG: ``botocore.auth`` its canonical request
(``x-amz-security-token:TOKEN``), ``botocore.endpoint`` the prepared request with its
headers (``'X-Amz-Security-Token': b'TOKEN'``, ``'Authorization': b'AWS4-HMAC-SHA256
Credential=AKID/...'``), and ``botocore.parsers`` each response body, where AWS echoes
the canonical request (session token included) when a signature does not match. Those
records are off unless an application turns DEBUG on, and then a log file holds the
session token and the access key id. :func:`install` attaches one filter to exactly
those loggers; it rewrites only the records whose message carries a credential (the
credential replaced by ``<redacted>``) and lets every record through.

The secret access key itself is never sent, so it appears in none of them; it is
redacted anyway wherever it is written as an assignment (``aws_secret_access_key=...``).
The credentials of an assumed role arrive in STS's ``AssumeRole`` answer, which
``botocore.parsers`` logs whole: its ``<AccessKeyId>``, ``<SecretAccessKey>`` and
``<SessionToken>`` are redacted there (and as members of a parsed answer).
"""

from __future__ import annotations

import logging
import re

__all__ = ["LOGGERS", "REDACTED", "RedactingFilter", "install", "redact"]

REDACTED = "<redacted>"

# The loggers whose DEBUG records carried a credential, found by logging listings,
# a merged listing, a crawl, a describe and rejected signatures at DEBUG.
LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.parsers")

# A credential's value runs to a quote, whitespace or a separator of the forms it is
# written in; a backslash ends it too (``\n`` in a repr), but ``\/`` (a JSON-escaped
# slash) does not.
_VALUE = r"(?:[^\s'\"&,;\\]|\\/)+"
_PATTERN = re.compile(
    # The session token as a header: canonical (``x-amz-security-token:V``), in a
    # headers repr (``'X-Amz-Security-Token': b'V'``) or a query (``...Token=V``);
    # and the assignments of a config file, an environment or keyword arguments.
    r"(?P<name>(?:x-amz-security-token|aws_secret_access_key|aws_session_token"
    r"|aws_access_key_id)['\"]?\s*[:=]\s*(?:b?['\"])?)"
    + _VALUE
    # The access key id in a credential scope (``Credential=AKID/20240101/...``).
    + r"|(?P<credential>Credential=)[^/\s'\",&%\\]+"
    # A signature (``Signature=<hex>``).
    + r"|(?P<signature>Signature=)[0-9a-f]+"
    # Credentials STS issues (AssumeRole): in its XML answer, which botocore.parsers
    # logs, and as the members of a parsed answer (``'SessionToken': '...'``).
    + r"|(?P<xml><(?:SecretAccessKey|SessionToken|AccessKeyId)>)[^<]*"
    + r"|(?P<member>['\"](?:SecretAccessKey|SessionToken|AccessKeyId)['\"]\s*:\s*['\"])"
    + _VALUE,
    re.IGNORECASE,
)
# Lower-case markers at least one of which any match contains: most text has none.
_MARKERS = (
    "security-token",
    "aws_",
    "credential=",
    "signature=",
    "secretaccesskey",
    "sessiontoken",
    "accesskeyid",
)


def _replace(match: re.Match[str]) -> str:
    prefix = (
        match["name"]
        or match["credential"]
        or match["signature"]
        or match["xml"]
        or match["member"]
    )
    return prefix + REDACTED


def redact(text: str) -> str:
    """``text`` with every credential value it carries replaced by ``<redacted>``."""
    lowered = text.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return text
    return _PATTERN.sub(_replace, text)


class RedactingFilter(logging.Filter):
    """Redacts the message of each record that carries a credential; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep its text, redacted
            message = f"{record.msg} {record.args}"
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Attach the one filter to :data:`LOGGERS` (idempotent: never attached twice)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
