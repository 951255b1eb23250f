"""The one error system: a short class per AWS error code and per control-plane code.

An `AwsError`'s `code` is the shape name in the botocore model and `status` its
HTTP status on the rest-json APIs; `query_code` is how the SES v1 query API
names the same failure (the query API answers every sender fault with 400).
A `SimError` is one of the `/_sim` control plane's codes. Each API blueprint
renders these in its own wire format; nothing here knows about HTTP.
"""
from __future__ import annotations


class AwsError(Exception):
    code = "InternalFailure"
    status = 400
    query_code_override: str | None = None  # None: the query API uses `code` too

    def __init__(self, message: str, v1_message: str | None = None):
        super().__init__(message)
        self.message = message
        self.v1_message = v1_message or message

    @property
    def query_code(self) -> str:
        return self.query_code_override or self.code


# --- the rest-json models' codes (v1 spelling where the query API differs) ----------
class BadRequestException(AwsError):
    code = "BadRequestException"
    query_code_override = "InvalidParameterValue"


class NotFoundException(AwsError):
    code = "NotFoundException"
    status = 404
    query_code_override = "InvalidParameterValue"


class AlreadyExistsException(AwsError):
    code = "AlreadyExistsException"


class MessageRejected(AwsError):
    code = "MessageRejected"


class MailFromDomainNotVerifiedException(AwsError):
    code = "MailFromDomainNotVerifiedException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class TemplateDoesNotExist(NotFoundException):
    query_code_override = "TemplateDoesNotExist"


class ConfigurationSetDoesNotExist(NotFoundException):
    query_code_override = "ConfigurationSetDoesNotExist"


class TemplateAlreadyExists(AlreadyExistsException):
    query_code_override = "AlreadyExists"


class ConfigurationSetAlreadyExists(AlreadyExistsException):
    query_code_override = "ConfigurationSetAlreadyExists"


class InvalidTemplate(BadRequestException):
    query_code_override = "InvalidTemplate"


class InvalidConfigurationSet(BadRequestException):
    query_code_override = "InvalidConfigurationSet"  # the ses model's error for a bad name on Create


class MissingRenderingAttribute(BadRequestException):
    query_code_override = "MissingRenderingAttribute"


class InvalidNextTokenException(AwsError):
    code = "InvalidNextTokenException"
    query_code_override = "InvalidParameterValue"


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"
    status = 404


class SerializationException(AwsError):
    code = "SerializationException"


class RequestEntityTooLarge(AwsError):
    code = "RequestEntityTooLargeException"
    status = 413


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500


# --- codes only the SES v1 query API has ---------------------------------------------
class InvalidParameterValue(AwsError):
    code = "InvalidParameterValue"


class MissingAction(AwsError):
    code = "MissingAction"


class InvalidAction(AwsError):
    code = "InvalidAction"


class MissingParameter(AwsError):
    code = "MissingParameter"


class QueryValidationError(AwsError):
    code = "ValidationError"


class NoSuchVersion(AwsError):
    code = "NoSuchVersion"


class MalformedQueryString(AwsError):
    code = "MalformedQueryString"


# --- the /_sim control plane ----------------------------------------------------------
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


# --- refusals before any view runs (SPEC §14): cross-site, Host, SigV4 ----------------
class AccessDeniedException(AwsError):
    """A browser request from another site, a foreign Host, or a mutating v1 GET."""
    code = "AccessDeniedException"
    status = 403
    query_code_override = "AccessDenied"


class MissingAuthenticationToken(AwsError):
    code = "MissingAuthenticationTokenException"
    status = 403
    query_code_override = "MissingAuthenticationToken"


class UnrecognizedClientException(AwsError):
    code = "UnrecognizedClientException"
    status = 403
    query_code_override = "InvalidClientTokenId"


class InvalidSignatureException(AwsError):
    code = "InvalidSignatureException"
    status = 403
    query_code_override = "SignatureDoesNotMatch"


class Forbidden(SimError):
    code = "FORBIDDEN"
    status = 403


class Unauthorized(SimError):
    code = "UNAUTHORIZED"
    status = 401


class UnsupportedMediaType(SimError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
