"""``EmulatorOptions``: every setting of an emulator, with its default, in one record.

``Emulator``, ``EmulatorThread``, ``EmulatorProcess``, the ``serve`` command and the
pytest plugin all take this record, so a new option is added here (and, if ``serve``
should offer it, to the ``serve`` command's table of flags).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._faults import Faults
from ._identity import account_ids
from ._inventory import InventorySpec

__all__ = ["DEFAULT_HOST", "DEFAULT_JOB_TRANSITION_SECONDS", "EmulatorOptions"]

DEFAULT_HOST = "127.0.0.1"
# Created jobs spend this long PENDING, then as long IN PROGRESS, then are ACTIVE.
DEFAULT_JOB_TRANSITION_SECONDS = 5.0
_MAX_ACCOUNTS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorOptions:
    """How an emulator is set up: its inventory, faults, address and secrets.

    Values are checked when the record is made (``ValueError`` for a bad value,
    ``TypeError`` for a value of the wrong type). Its ``repr`` leaves out
    ``credentials`` and ``token_secret``.

    Attributes:
        inventory: the shape of each region's seeded inventory
            (``InventorySpec.empty()`` for none).
        seed: derives the inventory, the fault draws and the paging-token key.
        faults: the faults to inject at first; a running emulator's can be replaced.
        host: the address to bind; loopback by default.
        port: the port to bind, 0 to 65535; 0 picks a free one.
        credentials: access key id -> secret key; when given, SigV4 signatures are
            verified against them. ``None`` (the default) accepts any credentials.
            Kept as a read-only copy.
        clock: a zero-argument callable returning epoch seconds, for created jobs'
            timestamps and lifecycle, the rate cap's buckets and paging tokens' ages
            (tests pass a fake clock). In-process emulators only:
            ``EmulatorProcess`` refuses it.
        job_transition_seconds: how long a created job stays PENDING, and then
            IN PROGRESS, before it is ACTIVE.
        token_lifetime: seconds a ``nextToken`` stays valid after it was issued (AWS
            does not document its tokens' lifetime); an older one is answered
            ``InvalidNextTokenException``, as a bad one is. ``None`` (the default):
            tokens never expire, and the same position always gives the same token.
        token_secret: the key of paging tokens; derived from ``seed`` if not given.
        accounts: the accounts of the emulated AWS Organization, 1 to 1000: the
            management account ``123456789012`` (the one any other credentials act
            for), then members ``200000000001``... (``account_ids(accounts)``), each
            with an inventory of its own in every region, reached through STS
            ``AssumeRole`` of any role name in it.
        suspended_accounts: member accounts that ``ListAccounts`` shows SUSPENDED and
            whose roles cannot be assumed.
        assume_role_denied_accounts: member accounts whose role refuses
            ``AssumeRole`` (``AccessDenied``, as a trust policy that does not name the
            caller).
        deny_regions: regions where a service control policy denies
            ``personalize:*`` to member accounts (``AccessDeniedException``; as in
            AWS, the management account is not bound by it).
        credential_lifetime: seconds the credentials ``AssumeRole`` issues last,
            whatever ``DurationSeconds`` asked (tests of refresh use a few seconds);
            ``None`` (the default): ``DurationSeconds``, 3600 if not given. Expired
            ones are answered ``ExpiredTokenException``.
    """

    inventory: InventorySpec = field(default_factory=InventorySpec)
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    host: str = DEFAULT_HOST
    port: int = 0
    # Secrets: never in the repr (the project's rule for credentials).
    credentials: Mapping[str, str] | None = field(default=None, repr=False, hash=False)
    clock: Callable[[], float] | None = None
    job_transition_seconds: float = DEFAULT_JOB_TRANSITION_SECONDS
    token_lifetime: float | None = None
    token_secret: bytes | None = field(default=None, repr=False)
    accounts: int = 1
    suspended_accounts: frozenset[str] = frozenset()
    assume_role_denied_accounts: frozenset[str] = frozenset()
    deny_regions: frozenset[str] = frozenset()
    credential_lifetime: float | None = None

    def __post_init__(self) -> None:
        self._check_organization()
        if not isinstance(self.inventory, InventorySpec):
            raise TypeError(
                f"inventory must be an InventorySpec, not {type(self.inventory).__name__}"
            )
        if not isinstance(self.faults, Faults):
            raise TypeError(f"faults must be a Faults, not {type(self.faults).__name__}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an integer, not {type(self.seed).__name__}")
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"host must be a non-empty string, not {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise TypeError(f"port must be an integer, not {type(self.port).__name__}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")
        seconds = self.job_transition_seconds
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(
                f"job_transition_seconds must be a non-negative number of seconds, not {seconds!r}"
            )
        lifetime = self.token_lifetime
        if lifetime is not None:
            if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                raise TypeError(
                    f"token_lifetime must be a number or None, not {type(lifetime).__name__}"
                )
            if not (math.isfinite(lifetime) and lifetime > 0):
                raise ValueError(
                    f"token_lifetime must be a positive number of seconds or None, not {lifetime!r}"
                )
        if self.clock is not None and not callable(self.clock):
            raise TypeError("clock must be a zero-argument callable or None")
        if self.token_secret is not None and not isinstance(self.token_secret, bytes):
            # The value is a secret: only its type is named.
            raise TypeError(
                f"token_secret must be bytes or None, not {type(self.token_secret).__name__}"
            )
        if self.credentials is not None:
            copy = dict(self.credentials)
            for key, secret in copy.items():
                # Credentials are never repeated in messages, not even key ids.
                if not isinstance(key, str) or not key:
                    raise ValueError("access key ids must be non-empty strings")
                if not isinstance(secret, str) or not secret:
                    raise ValueError("secret keys must be non-empty strings")
            # A copy, so that a caller's later edits cannot change a frozen record.
            object.__setattr__(self, "credentials", MappingProxyType(copy))

    def _check_organization(self) -> None:
        count = self.accounts
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"accounts must be an integer, not {type(count).__name__}")
        if not 1 <= count <= _MAX_ACCOUNTS:
            raise ValueError(f"accounts must be between 1 and {_MAX_ACCOUNTS}, not {count}")
        members = frozenset(account_ids(count)[1:])
        for name in ("suspended_accounts", "assume_role_denied_accounts", "deny_regions"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise TypeError(f"{name} must be a collection of strings")
            items = frozenset(value)
            if not all(isinstance(item, str) for item in items):
                raise TypeError(f"{name} must be a collection of strings")
            if name != "deny_regions" and not items <= members:
                raise ValueError(
                    f"{name} must name member accounts of the {count} "
                    f"({', '.join(sorted(members)) or 'none'}), not "
                    f"{', '.join(sorted(items - members))}"
                )
            object.__setattr__(self, name, items)
        lifetime = self.credential_lifetime
        if lifetime is not None:
            if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                raise TypeError(
                    f"credential_lifetime must be a number or None, not {type(lifetime).__name__}"
                )
            if not (math.isfinite(lifetime) and lifetime > 0):
                raise ValueError(
                    "credential_lifetime must be a positive number of seconds or None, "
                    f"not {lifetime!r}"
                )
