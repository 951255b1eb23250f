"""Typed errors: one class per AWS error code, plus the control plane's codes.

Each AWS error carries the code botocore's model names, its HTTP status, and how
the SES v1 query API spells the same failure (code and message may differ).
"""
from __future__ import annotations


class AwsError(Exception):
    code = "InternalFailure"
    status = 400
    v1_code: str | None = None  # None: same code on the query API

    def __init__(self, message: str, v1_message: str | None = None):
        super().__init__(message)
        self.message = message
        self.v1_message = v1_message or message

    @property
    def query_code(self) -> str:
        return self.v1_code or self.code


class BadRequestException(AwsError):
    code = "BadRequestException"
    v1_code = "InvalidParameterValue"


class NotFoundException(AwsError):
    code = "NotFoundException"
    status = 404
    v1_code = "InvalidParameterValue"


class AlreadyExistsException(AwsError):
    code = "AlreadyExistsException"


class MessageRejected(AwsError):
    code = "MessageRejected"


class MailFromDomainNotVerifiedException(AwsError):
    code = "MailFromDomainNotVerifiedException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class InvalidNextTokenException(AwsError):
    code = "InvalidNextTokenException"
    v1_code = "InvalidParameterValue"


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"
    status = 404


class SerializationException(AwsError):
    code = "SerializationException"


class RequestEntityTooLarge(AwsError):
    code = "RequestEntityTooLargeException"
    status = 413


class SimError(Exception):
    """An error of the /_sim control plane, rendered in its JSON envelope."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(SimError):
    code = "VALIDATION_ERROR"
    status = 400


class SimNotFound(SimError):
    code = "NOT_FOUND"
    status = 404


class Conflict(SimError):
    code = "CONFLICT"
    status = 409
