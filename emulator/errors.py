"""Errors the emulator answers with, shaped as AWS answers them.

    EmulatorError (code, message, status=400)
    ├── ValidationException        constraint violations, bad state, unknown training job
    ├── ResourceNotFound           unknown tuning job
    ├── ResourceInUse              duplicate names, deleting a running job
    ├── ResourceLimitExceeded      account/service limits
    ├── ConflictException
    ├── UnknownOperationException  an X-Amz-Target we do not serve
    ├── SerializationException     a body that is not a JSON object
    ├── RequestEntityTooLarge      a body over the size limit (HTTP 413)
    ├── ServiceUnavailable         the store cannot write (disk full): retry later (HTTP 503)
    └── InternalFailure            a bug of ours (HTTP 500; never for bad input)

Domain code raises these; one middleware turns them into `{"__type", "message"}` bodies.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of every error that reaches a client."""

    code = "InternalFailure"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationException(EmulatorError):
    code = "ValidationException"


class ResourceNotFound(EmulatorError):
    code = "ResourceNotFound"


class ResourceInUse(EmulatorError):
    code = "ResourceInUse"


class ResourceLimitExceeded(EmulatorError):
    code = "ResourceLimitExceeded"


class ConflictException(EmulatorError):
    code = "ConflictException"


class UnknownOperationException(EmulatorError):
    code = "UnknownOperationException"


class SerializationException(EmulatorError):
    code = "SerializationException"


class RequestEntityTooLarge(EmulatorError):
    code = "RequestEntityTooLargeException"
    status = 413


class ServiceUnavailable(EmulatorError):
    code = "ServiceUnavailable"
    status = 503


class InternalFailure(EmulatorError):
    code = "InternalFailure"
    status = 500


def constraint_error(value: object, path: str, constraint: str) -> ValidationException:
    """The wording AWS uses for a single failed constraint."""
    shown = value if isinstance(value, str) else _render(value)
    return ValidationException(
        f"1 validation error detected: Value '{shown}' at '{path}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
