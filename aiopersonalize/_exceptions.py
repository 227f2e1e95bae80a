"""The exception hierarchy. Every error the public API raises is one of these.

::

    PersonalizeError
    ├── ParamValidationError          (also ValueError) bad input, caught before sending
    ├── ClientClosedError             (also RuntimeError) the client was closed
    ├── UsageError                    (also RuntimeError) an object used the wrong way
    ├── ConfigurationError            no credentials, region or profile (.setting)
    ├── TransportError                the request did not get a response
    │   └── TransportTimeoutError     connect or read timeout
    ├── ResponseError                 the service answered something unusable
    │   └── PaginationError           the service repeated a nextToken
    └── ServiceError                  the service answered with an error code
        ├── InvalidInputError         InvalidInputException
        ├── InvalidNextTokenError     InvalidNextTokenException
        ├── ResourceNotFoundError     ResourceNotFoundException
        ├── AccessDeniedError         AccessDeniedException and the signature errors
        ├── ThrottlingError           throttled, after botocore's retries ran out
        └── ServerError               5xx, after botocore's retries ran out

Errors raised for a request keep its ``operation`` and, when the request was for one
solution version, its ``solution_version_arn``; service errors also keep the service's
``code``, ``message``, ``request_id`` and HTTP status. botocore's exceptions are mapped
to these once, in ``_transport``, and chained as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "ClientClosedError",
    "ConfigurationError",
    "InvalidInputError",
    "InvalidNextTokenError",
    "PaginationError",
    "ParamValidationError",
    "PersonalizeError",
    "ResourceNotFoundError",
    "ResponseError",
    "ServerError",
    "ServiceError",
    "ThrottlingError",
    "TransportError",
    "TransportTimeoutError",
    "UsageError",
]


class PersonalizeError(Exception):
    """Base class of every error aiopersonalize raises.

    ``operation`` is the AWS operation (``ListBatchInferenceJobs``) when the error
    belongs to a request, and ``solution_version_arn`` the version it was listing.
    """

    operation: str | None = None
    solution_version_arn: str | None = None

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        solution_version_arn: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.solution_version_arn = solution_version_arn

    def _context(self) -> tuple[tuple[str, str | None], ...]:
        """What :meth:`__str__` adds to the message, where known."""
        return (("operation", self.operation), ("solution_version_arn", self.solution_version_arn))

    def __str__(self) -> str:
        context = ", ".join(f"{name}={value}" for name, value in self._context() if value)
        return f"{self.message} ({context})" if context else self.message


class ParamValidationError(PersonalizeError, ValueError):
    """An argument breaks a documented constraint; nothing was sent.

    ``parameter`` names the argument as the caller spelled it.
    """

    def __init__(self, parameter: str, message: str, *, operation: str | None = None) -> None:
        super().__init__(f"invalid {parameter}: {message}", operation=operation)
        self.parameter = parameter


class ClientClosedError(PersonalizeError, RuntimeError):
    """The client is closed: it was used after ``aclose()``, or closed while in use."""


class UsageError(PersonalizeError, RuntimeError):
    """An object was used the wrong way: a closed listing iterated, a listing iterated
    both by item and by page, a client opened twice."""


class ConfigurationError(PersonalizeError):
    """The client cannot make requests as configured (credentials, region, endpoint).

    ``setting`` names what is missing or wrong, where known: ``"region"``,
    ``"credentials"`` or ``"profile"`` (so that an application can say which of its
    own options or variables to set).
    """

    def __init__(
        self,
        message: str,
        *,
        setting: str | None = None,
        operation: str | None = None,
        solution_version_arn: str | None = None,
    ) -> None:
        super().__init__(message, operation=operation, solution_version_arn=solution_version_arn)
        self.setting = setting


class TransportError(PersonalizeError):
    """The request got no usable HTTP response: connection refused, reset or closed."""


class TransportTimeoutError(TransportError):
    """Connecting, or reading the response, took longer than the configured timeout."""


class ResponseError(PersonalizeError):
    """The service's response could not be used (malformed or inconsistent)."""


class PaginationError(ResponseError):
    """The service returned a nextToken it had already returned in this listing.

    Following it would loop forever, so the listing stops with this error instead.
    """


class ServiceError(PersonalizeError):
    """The service answered with an error.

    ``code`` is the service's error code (``InvalidInputException``), ``request_id``
    its ``x-amzn-RequestId``, ``http_status`` the HTTP status code.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        operation: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        solution_version_arn: str | None = None,
    ) -> None:
        super().__init__(message, operation=operation, solution_version_arn=solution_version_arn)
        self.code = code
        self.request_id = request_id
        self.http_status = http_status

    def _context(self) -> tuple[tuple[str, str | None], ...]:
        return (*super()._context(), ("request_id", self.request_id))

    def __str__(self) -> str:
        return f"{self.code}: {super().__str__()}"


class InvalidInputError(ServiceError):
    """``InvalidInputException``: the service rejected a parameter."""


class InvalidNextTokenError(ServiceError):
    """``InvalidNextTokenException``: the token is unknown, expired or from another query."""


class ResourceNotFoundError(ServiceError):
    """``ResourceNotFoundException``: no such job, solution or version."""


class AccessDeniedError(ServiceError):
    """Access was refused: ``AccessDeniedException``, or the request's signature or
    credentials were not accepted (``UnrecognizedClientException``,
    ``InvalidSignatureException``, ``MissingAuthenticationTokenException``, ...)."""


class ThrottlingError(ServiceError):
    """The service throttled the request and botocore's retries ran out."""


class ServerError(ServiceError):
    """The service failed (HTTP 5xx) and botocore's retries ran out."""
