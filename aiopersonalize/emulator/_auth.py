"""SigV4: the region a request is scoped to, and optional signature verification.

By default any credentials are accepted, as the local AWS emulators users know do; the
region still comes from the ``Authorization`` header's credential scope. With
configured keys, a signature is recomputed with botocore's own ``SigV4Auth`` (no crypto
of our own) and a bad one answered with the error AWS's JSON services give: for a wrong
signature, with the canonical request and string to sign that were expected.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ._errors import ServiceError
from ._model import SERVICE_NAME

__all__ = [
    "DEFAULT_REGION",
    "Authorization",
    "Headers",
    "SignatureVerifier",
    "parse_authorization",
]

DEFAULT_REGION = "us-east-1"
# Regions go into ARNs and JSON as they are, so only plausible spellings are accepted.
_REGION = re.compile(r"[a-z0-9-]{1,40}")
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
# AWS refuses requests whose time is more than this far from its own.
_MAX_SKEW_SECONDS = 15 * 60


class Headers(Protocol):
    """Case-insensitive request headers with repeats (aiohttp's ``request.headers``)."""

    def get(self, key: str, default: str, /) -> str: ...

    def getall(self, key: str, default: list[str], /) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> Authorization | None:
    """Parse a SigV4 ``Authorization`` header; ``None`` if absent or malformed."""
    if not value:
        return None
    match = _AUTHORIZATION.fullmatch(value.strip())
    if match is None:
        return None
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    access_key, date, region, service, _ = parts
    return Authorization(
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(match["signed_headers"].split(";")),
        signature=match["signature"],
    )


def request_region(authorization: Authorization | None) -> str:
    """The region a request is scoped to (``us-east-1`` for an unsigned request).

    Raises:
        ServiceError: ``InvalidSignatureException`` for a scope naming no valid region.
    """
    if authorization is None:
        return DEFAULT_REGION
    if _REGION.fullmatch(authorization.region) is None:
        raise ServiceError(
            "InvalidSignatureException", "Credential should be scoped to a valid region."
        )
    return authorization.region


def _incomplete(message: str) -> ServiceError:
    return ServiceError("IncompleteSignatureException", message)


class SignatureVerifier:
    """Verifies SigV4 signatures against a fixed set of access keys."""

    __slots__ = ("_credentials", "_now")

    def __init__(
        self, credentials: Mapping[str, str], now: Callable[[], float] = time.time
    ) -> None:
        self._credentials = dict(credentials)
        self._now = now

    def verify(
        self,
        authorization: Authorization | None,
        method: str,
        raw_path: str,
        headers: Headers,
        body: bytes,
        service: str = SERVICE_NAME,
    ) -> None:
        """Check a request's signature, for ``service`` (its credential scope).

        Raises:
            ServiceError: ``MissingAuthenticationTokenException`` (403) for an unsigned
                request, ``IncompleteSignatureException`` for a malformed one,
                ``UnrecognizedClientException`` for an unknown access key and
                ``InvalidSignatureException`` for a wrong or stale signature (400).
        """
        header = headers.get("Authorization", "")
        if not header:
            # The common errors reference gives 403 for this one, 400 for the others.
            raise ServiceError(
                "MissingAuthenticationTokenException", "Missing Authentication Token", 403
            )
        if authorization is None:
            raise _incomplete(
                "Authorization header requires 'Credential', 'SignedHeaders' and "
                f"'Signature' parameters of AWS4-HMAC-SHA256. Authorization={header}"
            )
        secret = self._credentials.get(authorization.access_key)
        if secret is None:
            raise ServiceError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = headers.get("X-Amz-Date", "")
        if _AMZ_DATE.fullmatch(amz_date) is None:
            raise _incomplete("Authorization header requires existence of an X-Amz-Date header.")
        if authorization.service != service:
            raise ServiceError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{service}'.",
            )
        if authorization.date != amz_date[:8]:
            raise ServiceError(
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                f"of date from HTTP: '{authorization.date}' != '{amz_date[:8]}'",
            )
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        if abs(self._now() - signed_at) > _MAX_SKEW_SECONDS:
            raise ServiceError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is out of the 15 minute window "
                "around the server's time.",
            )
        host = headers.get("Host", "")
        if not host or "host" not in authorization.signed_headers:
            raise _incomplete("The host header must be signed.")

        request = AWSRequest(method=method, url=f"http://{host}{raw_path}")
        request.data = body
        for name in authorization.signed_headers:
            for value in headers.getall(name, []):
                request.headers[name] = value  # appends: HTTPHeaders keeps repeats
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(
            Credentials(authorization.access_key, secret), service, authorization.region
        )
        canonical_request = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical_request)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, authorization.signature):
            # As AWS answers: what it computed, so that a client can find its mistake
            # (the canonical request includes a signed session token, as AWS's does).
            raise ServiceError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult "
                "the service documentation for details.\n\n"
                f"The Canonical String for this request should have been\n'{canonical_request}'"
                f"\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n",
            )
