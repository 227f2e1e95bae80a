"""Which accounts a crawl covers: an AWS Organization's, or the accounts of given roles.

Pass one of these as ``accounts=`` to :meth:`Client.crawl_batch_jobs`. Both are
checked when made (a :class:`ParamValidationError`, before any request), and neither
holds a credential: the roles are assumed with the client's own credentials, through
botocore's refreshable assume-role credentials (see ``_transport.AccountSessions``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ._exceptions import ParamValidationError
from ._vocabulary import DEFAULT_ROLE_SESSION_NAME

__all__ = ["Accounts", "Organization", "RoleArns", "role_account"]

# IAM's limits: a role name of up to 64 characters (a path may precede it in an ARN),
# a session name of 2 to 64, a session of 900 to 43200 seconds (12 hours).
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_ROLE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:[\x21-\x7e]{0,510}/)?"
    r"[\w+=,.@-]{1,64}",
    re.ASCII,
)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_MIN_DURATION, _MAX_DURATION = 900, 43200


def _session(session_name: object, duration_seconds: object) -> None:
    if not isinstance(session_name, str) or _SESSION_NAME.fullmatch(session_name) is None:
        raise ParamValidationError(
            "session_name", f"expected 2 to 64 of [A-Za-z0-9_+=,.@-], got {session_name!r}"
        )
    if duration_seconds is not None and (
        isinstance(duration_seconds, bool)
        or not isinstance(duration_seconds, int)
        or not _MIN_DURATION <= duration_seconds <= _MAX_DURATION
    ):
        raise ParamValidationError(
            "duration_seconds",
            f"expected whole seconds from {_MIN_DURATION} to {_MAX_DURATION}, "
            f"got {duration_seconds!r}",
        )


def role_account(role_arn: str) -> str:
    """The account of a (checked) role ARN."""
    return role_arn.split(":", 5)[4]


@dataclass(frozen=True, slots=True)
class Organization:
    """Every ACTIVE account of the caller's AWS Organization (``ListAccounts``; the
    caller must be its management account or a delegated administrator).

    The caller's own account is crawled with the client's own credentials; every
    other one through STS ``AssumeRole`` of the role ``role_name`` in it
    (``arn:<partition>:iam::<account>:role/<role_name>``), as a session named
    ``session_name`` lasting ``duration_seconds`` (the role's default if ``None``),
    its credentials refreshed by botocore before they expire.
    """

    role_name: str
    session_name: str = DEFAULT_ROLE_SESSION_NAME
    duration_seconds: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role_name, str) or _ROLE_NAME.fullmatch(self.role_name) is None:
            raise ParamValidationError(
                "role_name",
                f"expected an IAM role name (1 to 64 characters), got {self.role_name!r}",
            )
        _session(self.session_name, self.duration_seconds)


@dataclass(frozen=True, slots=True)
class RoleArns:
    """The accounts of these roles, each crawled through STS ``AssumeRole`` of its role
    (two roles of one account: refused). ``session_name`` and ``duration_seconds`` as
    for :class:`Organization`."""

    role_arns: tuple[str, ...] = field()
    session_name: str = DEFAULT_ROLE_SESSION_NAME
    duration_seconds: int | None = None

    def __init__(
        self,
        role_arns: Iterable[str],
        *,
        session_name: str = DEFAULT_ROLE_SESSION_NAME,
        duration_seconds: int | None = None,
    ) -> None:
        if isinstance(role_arns, (str, bytes)) or not isinstance(role_arns, Iterable):
            raise ParamValidationError(
                "role_arns", f"expected an iterable of role ARNs, got {type(role_arns).__name__}"
            )
        arns = tuple(dict.fromkeys(role_arns))
        if not arns:
            raise ParamValidationError("role_arns", "give at least one role ARN")
        seen: dict[str, str] = {}
        for i, arn in enumerate(arns):
            if not isinstance(arn, str) or _ROLE_ARN.fullmatch(arn) is None:
                raise ParamValidationError(
                    f"role_arns[{i}]",
                    f"expected arn:aws:iam::<12-digit account>:role/<name>, got {arn!r}",
                )
            account = role_account(arn)
            if account in seen:
                raise ParamValidationError(
                    f"role_arns[{i}]", f"account {account} has a role already: {seen[account]}"
                )
            seen[account] = arn
        _session(session_name, duration_seconds)
        object.__setattr__(self, "role_arns", arns)
        object.__setattr__(self, "session_name", session_name)
        object.__setattr__(self, "duration_seconds", duration_seconds)


Accounts = Organization | RoleArns
"""What ``accounts=`` takes."""
