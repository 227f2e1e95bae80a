"""The accounts behind the requests: AWS Organizations and STS, beside Personalize.

An emulator serves an organization of ``EmulatorOptions.accounts`` accounts: the first
is the management account (``ACCOUNT_ID``), the others its members
(:func:`account_ids`). Each account has an inventory of its own in every region.

Which account a request acts for is decided by the access key that signed it:

- a key this emulator issued through ``AssumeRole`` (``ASIA...``, random, kept only
  in this process's memory) acts for the account whose role was assumed. Such a key is
  always checked: the request must carry its session token and be signed with its
  secret (SigV4, recomputed with botocore's signer), and it must not have expired
  (``ExpiredTokenException``). An ``ASIA`` key this emulator never issued (or issued
  before a restart) is refused (``UnrecognizedClientException``/``InvalidClientTokenId``).
- any other key acts for the management account, verified against
  ``EmulatorOptions.credentials`` when those are given (any key passes otherwise).

So credentials are never derived from the account (nothing to guess) and never
written anywhere: the secrets and tokens exist in the answer to ``AssumeRole`` and in
this module's table, which no endpoint, log line or repr shows.

STS speaks the query protocol (a form-encoded ``POST /``, XML answers, XML errors as
``<ErrorResponse>``); Organizations speaks AWS JSON 1.1 (``X-Amz-Target:
AWSOrganizationsV20161128.ListAccounts``). Service control policies
(``deny_regions``) bind member accounts only, as AWS's do: the management account is
never restricted by them.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from ._auth import Authorization, Headers, SignatureVerifier
from ._errors import ServiceError
from ._model import ACCOUNT_ID

__all__ = [
    "ORGANIZATIONS_TARGET_PREFIX",
    "STS_NAMESPACE",
    "Caller",
    "Identity",
    "account_ids",
]

ORGANIZATIONS_TARGET_PREFIX = "AWSOrganizationsV20161128."
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
ORGANIZATION_ID = "o-aiopersonal1"
# The prefix of every access key this emulator issues (AWS's temporary keys: ASIA).
_ISSUED_PREFIX = "ASIA"
_DEFAULT_DURATION = 3600  # AssumeRole's DurationSeconds when not given
_MIN_DURATION, _MAX_DURATION = 900, 43200
_LIST_ACCOUNTS_MAX = 20  # ListAccounts' MaxResults: 1 to 20
_ROLE_ARN = re.compile(r"arn:aws:iam::(?P<account>\d{12}):role/(?P<name>[\w+=,.@/-]{1,64})")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ORG_ARN = f"arn:aws:organizations::{ACCOUNT_ID}:account/{ORGANIZATION_ID}"
_JOINED = 1_577_836_800  # 2020-01-01T00:00:00Z: when the members joined


def account_ids(count: int) -> tuple[str, ...]:
    """The IDs of an organization of ``count`` accounts: the management account
    (``123456789012``), then members ``200000000001``, ``200000000002``, ..."""
    return (ACCOUNT_ID, *(f"2{i:011d}" for i in range(1, count)))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the account it acts for and the principal's ARN."""

    account: str
    arn: str
    user_id: str

    @property
    def is_management(self) -> bool:
        return self.account == ACCOUNT_ID


_MANAGEMENT = Caller(ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:user/emulator", "AIDAEMULATORUSER0001")


@dataclass(frozen=True, slots=True)
class _Issued:
    """Credentials issued by ``AssumeRole``; the secrets are kept out of the repr."""

    access_key: str
    secret: str = field(repr=False)
    token: str = field(repr=False)
    caller: Caller
    expires: float  # epoch seconds


def _random_key() -> str:
    return _ISSUED_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Identity:
    """The organization, its accounts, and the credentials issued for them."""

    def __init__(
        self,
        *,
        accounts: int,
        suspended: frozenset[str],
        assume_role_denied: frozenset[str],
        deny_regions: frozenset[str],
        credential_lifetime: float | None,
        credentials: Mapping[str, str] | None,
        clock: Callable[[], float] | None,
    ) -> None:
        self.accounts = account_ids(accounts)
        self._suspended = suspended
        self._assume_role_denied = assume_role_denied
        self.deny_regions = deny_regions
        self._lifetime = credential_lifetime
        self._verifier = SignatureVerifier(credentials) if credentials is not None else None
        self._clock = clock if clock is not None else time.time
        self._issued: dict[str, _Issued] = {}
        self.expired_refused = 0  # requests refused for an expired session token

    # -- who is calling ------------------------------------------------------------

    def authenticate(
        self,
        authorization: Authorization | None,
        service: str,
        method: str,
        raw_path: str,
        headers: Headers,
        body: bytes,
    ) -> Caller:
        """The caller of a request, its credentials checked as the module says.

        Raises:
            ServiceError: the credentials are unknown, expired, or the signature is
                wrong (the codes of the service being called: ``query`` STS spells
                them without ``Exception``).
        """
        key = authorization.access_key if authorization is not None else ""
        if not key.startswith(_ISSUED_PREFIX):
            if self._verifier is not None:
                self._verifier.verify(authorization, method, raw_path, headers, body, service)
            return _MANAGEMENT
        issued = self._issued.get(key)
        token = headers.get("X-Amz-Security-Token", "")
        if issued is None or not hmac.compare_digest(token.encode(), issued.token.encode()):
            if service == "sts":
                raise ServiceError(
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                    403,
                )
            raise ServiceError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if self._clock() >= issued.expires:
            self.expired_refused += 1
            code = "ExpiredToken" if service == "sts" else "ExpiredTokenException"
            raise ServiceError(code, "The security token included in the request is expired", 400)
        SignatureVerifier({key: issued.secret}, self._clock).verify(
            authorization, method, raw_path, headers, body, service
        )
        return issued.caller

    def check_region(self, caller: Caller, region: str, operation: str) -> None:
        """Refuse a Personalize call in a region a service control policy denies to
        member accounts (``deny_regions``)."""
        if region in self.deny_regions and not caller.is_management:
            raise ServiceError(
                "AccessDeniedException",
                f"User: {caller.arn} is not authorized to perform: personalize:{operation} "
                "with an explicit deny in a service control policy",
            )

    # -- STS -----------------------------------------------------------------------

    def sts(self, caller: Caller, params: Mapping[str, str]) -> str:
        """The XML answer of an STS action (its ``Action`` and members in ``params``)."""
        action = params.get("Action", "")
        if action == "GetCallerIdentity":
            result = (
                f"<Arn>{escape(caller.arn)}</Arn><UserId>{escape(caller.user_id)}</UserId>"
                f"<Account>{caller.account}</Account>"
            )
        elif action == "AssumeRole":
            result = self._assume_role(caller, params)
        else:
            raise ServiceError(
                "InvalidAction", f"Could not find operation {action} for version 2011-06-15"
            )
        return (
            f'<{action}Response xmlns="{STS_NAMESPACE}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{{request_id}}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )

    def _assume_role(self, caller: Caller, params: Mapping[str, str]) -> str:
        role_arn = params.get("RoleArn")
        session = params.get("RoleSessionName")
        problems: list[str] = []
        if not role_arn or not 20 <= len(role_arn) <= 2048:
            problems.append(
                f"Value '{role_arn or ''}' at 'roleArn' failed to satisfy constraint: "
                "Member must have length greater than or equal to 20"
            )
        if not session or _SESSION_NAME.fullmatch(session) is None:
            problems.append(
                f"Value '{session or ''}' at 'roleSessionName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )
        duration_text = params.get("DurationSeconds")
        duration = _DEFAULT_DURATION
        if duration_text is not None:
            try:
                duration = int(duration_text)
            except ValueError:
                duration = -1
            if not _MIN_DURATION <= duration <= _MAX_DURATION:
                problems.append(
                    f"Value '{duration_text}' at 'durationSeconds' failed to satisfy "
                    f"constraint: Member must have value between {_MIN_DURATION} and "
                    f"{_MAX_DURATION}"
                )
        if problems:
            count = len(problems)
            raise ServiceError(
                "ValidationError",
                f"{count} validation error{'s' if count > 1 else ''} detected: "
                + "; ".join(problems),
            )
        assert role_arn is not None
        assert session is not None
        match = _ROLE_ARN.fullmatch(role_arn)
        target = match["account"] if match is not None else None
        if (
            match is None
            or target not in self.accounts
            or target in self._suspended
            or target in self._assume_role_denied
        ):
            # AWS says no more than this, whatever the reason (no such role, a trust
            # policy that does not name the caller, a suspended account).
            raise ServiceError(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on "
                f"resource: {role_arn}",
                403,
            )
        assert target is not None
        role_name = match["name"].rsplit("/", 1)[-1]
        role_id = "AROA" + hmac.new(b"role", role_arn.encode(), "sha256").hexdigest()[:17].upper()
        assumed = Caller(
            target,
            f"arn:aws:sts::{target}:assumed-role/{role_name}/{session}",
            f"{role_id}:{session}",
        )
        lifetime = float(duration) if self._lifetime is None else self._lifetime
        issued = _Issued(
            access_key=_random_key(),
            secret=secrets.token_urlsafe(30),
            token=secrets.token_urlsafe(96),
            caller=assumed,
            expires=self._clock() + lifetime,
        )
        self._forget_expired()
        self._issued[issued.access_key] = issued
        return (
            "<Credentials>"
            f"<AccessKeyId>{issued.access_key}</AccessKeyId>"
            f"<SecretAccessKey>{issued.secret}</SecretAccessKey>"
            f"<SessionToken>{issued.token}</SessionToken>"
            f"<Expiration>{_iso(issued.expires)}</Expiration>"
            "</Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>{escape(assumed.user_id)}</AssumedRoleId>"
            f"<Arn>{escape(assumed.arn)}</Arn></AssumedRoleUser>"
        )

    def _forget_expired(self) -> None:
        """Drop credentials expired long ago (five minutes), so the table stays small;
        until then an expired key is still recognised, and answered
        ExpiredTokenException (after it, UnrecognizedClientException)."""
        horizon = self._clock() - 300
        for key in [k for k, v in self._issued.items() if v.expires < horizon]:
            del self._issued[key]

    # -- Organizations -------------------------------------------------------------

    def list_accounts(
        self, caller: Caller, start: int, limit: int
    ) -> tuple[list[dict[str, object]], int | None]:
        """A page of the organization's accounts from ``start``, and where the next
        page starts; only the management account may ask."""
        if not caller.is_management:
            raise ServiceError(
                "AccessDeniedException", "You don't have permissions to access this resource."
            )
        page: list[dict[str, object]] = []
        for index in range(start, min(start + limit, len(self.accounts))):
            account = self.accounts[index]
            suspended = account in self._suspended
            page.append(
                {
                    "Id": account,
                    "Arn": f"{_ORG_ARN}/{account}",
                    "Email": f"aws+{account}@example.com",
                    "Name": "management" if index == 0 else f"member-{index:02d}",
                    "Status": "SUSPENDED" if suspended else "ACTIVE",
                    "State": "SUSPENDED" if suspended else "ACTIVE",
                    "JoinedMethod": "INVITED" if index == 0 else "CREATED",
                    "JoinedTimestamp": _JOINED + index * 86_400,
                }
            )
        end = start + len(page)
        return page, (end if end < len(self.accounts) else None)


def list_accounts_limit(params: Mapping[str, object]) -> int:
    """ListAccounts' ``MaxResults`` (1 to 20, default 20), checked."""
    limit = params.get("MaxResults", _LIST_ACCOUNTS_MAX)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ServiceError.serialization("MaxResults must be an integer.")
    if not 1 <= limit <= _LIST_ACCOUNTS_MAX:
        raise ServiceError(
            "InvalidInputException",
            f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {_LIST_ACCOUNTS_MAX}",
        )
    return limit


def sts_error_xml(error: ServiceError, request_id: str) -> str:
    """An STS error answer, as the query protocol spells it."""
    kind = "Receiver" if error.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def json_dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))
