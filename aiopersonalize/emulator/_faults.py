"""Injected faults (latency, throttling, server errors, a rate cap) and request counters."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._errors import ServiceError

__all__ = ["FaultInjector", "Faults", "Stats", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults an emulator injects into AWS requests; replace the whole value to change them.

    Attributes:
        latency: every answer leaves this many seconds after its request arrived
            (the emulator's own work included, as in a service's latency); the
            request counts toward requests in flight meanwhile.
        latency_jitter: up to this many more seconds, drawn uniformly per request.
        throttle_rate: probability of answering ``ThrottlingException`` (HTTP 400).
        error_rate: probability of answering ``InternalFailure`` (500) or
            ``ServiceUnavailable`` (503), half each.
        max_rps: requests per second allowed to each account in each region, as
            AWS's request quotas are: one token bucket per (account, region), above
            which requests are answered ``ThrottlingException``; ``None`` for no cap.
            Requests to two regions each get the full rate.
        burst: each bucket's capacity; defaults to ``max(1, max_rps)``.
        deny_solution_versions: solution version ARNs whose filtered list calls are
            answered ``AccessDeniedException`` (HTTP 400).
        version_latency: extra seconds for list calls filtered on a solution version.
        account_latency: extra seconds for every Personalize call of an account (by
            its 12-digit ID: a slow account of an organization).
    """

    latency: float = 0.0
    latency_jitter: float = 0.0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    max_rps: float | None = None
    burst: int | None = None
    deny_solution_versions: frozenset[str] = frozenset()
    version_latency: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    account_latency: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        for name in ("latency", "latency_jitter"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds, not {value!r}")
        for name in ("throttle_rate", "error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1, not {value!r}")
        if self.max_rps is not None and not (math.isfinite(self.max_rps) and self.max_rps > 0):
            raise ValueError(f"max_rps must be a positive number or None, not {self.max_rps!r}")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst!r}")
        for name in ("version_latency", "account_latency"):
            if any(not (math.isfinite(v) and v >= 0) for v in getattr(self, name).values()):
                raise ValueError(f"{name} values must be non-negative numbers of seconds")
        # Copies, so that a caller's later edits cannot change a value meant to be frozen.
        object.__setattr__(self, "deny_solution_versions", frozenset(self.deny_solution_versions))
        object.__setattr__(self, "version_latency", MappingProxyType(dict(self.version_latency)))
        object.__setattr__(self, "account_latency", MappingProxyType(dict(self.account_latency)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the control endpoint's)."""
        return {
            "latency": self.latency,
            "latency_jitter": self.latency_jitter,
            "throttle_rate": self.throttle_rate,
            "error_rate": self.error_rate,
            "max_rps": self.max_rps,
            "burst": self.burst,
            "deny_solution_versions": sorted(self.deny_solution_versions),
            "version_latency": dict(self.version_latency),
            "account_latency": dict(self.account_latency),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """The inverse of :meth:`to_dict`; absent keys take their defaults."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "deny_solution_versions" in values:
            values["deny_solution_versions"] = frozenset(values["deny_solution_versions"])
        return cls(**values)


@dataclass(slots=True)
class Stats:
    """Counters of the AWS requests an emulator served (control requests are not counted).

    Plain numbers, updated on the emulator's event loop and readable between awaits.

    Attributes:
        requests: AWS requests received.
        in_flight: requests being handled now (injected latency included).
        peak_in_flight: the most requests in flight at once: the client's concurrency.
        throttled: ``ThrottlingException`` answers (``throttle_rate``, or ``max_rps``
            per account and region).
        server_errors: 5xx answers.
        denied: ``AccessDeniedException`` answers (``deny_solution_versions``).
        client_errors: other 4xx answers (validation, not found, signatures, denied...).
        delayed: requests given injected latency; ``latency_seconds`` is its sum.
        by_operation: requests by operation name (``<unknown>`` for unknown targets).
    """

    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    throttled: int = 0
    server_errors: int = 0
    denied: int = 0
    client_errors: int = 0
    delayed: int = 0
    latency_seconds: float = 0.0
    by_operation: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        """Zero the counters; requests still in flight stay counted as such."""
        self.requests = 0
        self.peak_in_flight = self.in_flight
        self.throttled = 0
        self.server_errors = 0
        self.denied = 0
        self.client_errors = 0
        self.delayed = 0
        self.latency_seconds = 0.0
        self.by_operation = Counter()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot."""
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "throttled": self.throttled,
            "server_errors": self.server_errors,
            "denied": self.denied,
            "client_errors": self.client_errors,
            "delayed": self.delayed,
            "latency_seconds": self.latency_seconds,
            "by_operation": dict(self.by_operation),
        }


class TokenBucket:
    """``rate`` tokens per second up to ``capacity``; a request takes one or is refused."""

    __slots__ = ("_capacity", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class FaultInjector:
    """Decides, reproducibly for a seed, which requests are delayed, throttled or failed.

    The rate cap keeps one token bucket per (account, region), made on the first
    request there; new ``max_rps`` or ``burst`` settings start every bucket afresh.
    """

    __slots__ = ("_bucket_settings", "_buckets", "_clock", "_random")

    def __init__(self, seed: int, clock: Callable[[], float]) -> None:
        # Fault simulation, not cryptography: a seeded PRNG keeps runs reproducible.
        self._random = random.Random(f"aiopersonalize.emulator.faults:{seed}")  # noqa: S311
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._bucket_settings: tuple[float, float] | None = None

    def delay(
        self, faults: Faults, solution_version_arn: str | None, account: str | None = None
    ) -> float:
        """Seconds to wait before answering a request (of ``account``, if known)."""
        seconds = faults.latency
        if account is not None and faults.account_latency:
            seconds += faults.account_latency.get(account, 0.0)
        if faults.latency_jitter:
            seconds += self._random.uniform(0.0, faults.latency_jitter)
        if solution_version_arn is not None and faults.version_latency:
            seconds += faults.version_latency.get(solution_version_arn, 0.0)
        return seconds

    def admit(self, faults: Faults, *, account: str, region: str) -> None:
        """Raise the throttling or server error this request draws, if any.

        Args:
            faults: the faults in force.
            account: the account the request is made in (its rate cap's bucket).
            region: the request's region (its rate cap's bucket).
        """
        if faults.max_rps is not None and not self._bucket_for(faults, account, region).take():
            raise ServiceError("ThrottlingException", "Rate exceeded")
        if faults.throttle_rate and self._random.random() < faults.throttle_rate:
            raise ServiceError("ThrottlingException", "Rate exceeded")
        if faults.error_rate and self._random.random() < faults.error_rate:
            if self._random.random() < 0.5:
                raise ServiceError(
                    "InternalFailure",
                    "The request processing has failed because of an unknown error, "
                    "exception or failure.",
                    status=500,
                )
            raise ServiceError(
                "ServiceUnavailable", "Service is unavailable. Please try again later.", 503
            )

    def _bucket_for(self, faults: Faults, account: str, region: str) -> TokenBucket:
        assert faults.max_rps is not None
        capacity = float(faults.burst if faults.burst is not None else max(1.0, faults.max_rps))
        settings = (faults.max_rps, capacity)
        if settings != self._bucket_settings:
            self._buckets.clear()
            self._bucket_settings = settings
        key = (account, region)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(faults.max_rps, capacity, self._clock)
        return bucket
