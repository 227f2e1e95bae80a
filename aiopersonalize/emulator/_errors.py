"""The service's error answers: an error code, a message and an HTTP status."""

from __future__ import annotations

__all__ = ["ServiceError"]


class ServiceError(Exception):
    """An error the emulator answers with ``{"__type": code, "message": message}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def invalid_input(cls, message: str) -> ServiceError:
        return cls("InvalidInputException", message)

    @classmethod
    def not_found(cls, arn: str) -> ServiceError:
        return cls("ResourceNotFoundException", f"Could not find resource with ARN {arn}.")

    @classmethod
    def serialization(cls, message: str) -> ServiceError:
        return cls("SerializationException", message)
