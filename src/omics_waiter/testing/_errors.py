"""Errors as the service sends them: the error codes, their HTTP statuses, and `ApiError`."""

from __future__ import annotations

__all__ = ["ERROR_STATUS", "ApiError"]

#: Every error code the emulator can send, with its HTTP status. The first eight are the
#: operations' modelled errors; the rest are what AWS's front end sends for authentication
#: failures and unknown routes.
ERROR_STATUS: dict[str, int] = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 402,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "RequestTimeoutException": 408,
    "ConflictException": 409,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "IncompleteSignatureException": 400,
    "MissingAuthenticationTokenException": 403,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "UnknownOperationException": 404,
}


class ApiError(Exception):
    """An error response: its code (the ``x-amzn-ErrorType``) and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status the service uses for this code."""
        return ERROR_STATUS[self.code]
