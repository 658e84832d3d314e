"""The errors omics-waiter raises.

Every error is an `OmicsWaiterError`::

    OmicsWaiterError
    ├── InvalidInputError (ValueError)     bad argument, before any request; or ValidationException
    ├── WaitTimeoutError (TimeoutError)    the deadline passed; .job is the last job seen
    ├── JobFailedError                     FAILED or CANCELLED; .job
    │   └── JobPartiallyFailedError        COMPLETED_WITH_FAILURES; .failed_sources
    ├── ServiceError                       the service refused, in a way retrying will not fix
    │   ├── AccessDeniedError              access denied, bad or missing credentials or signature
    │   └── JobNotFoundError               still not found after the grace period
    └── UnexpectedResponseError            a response this release cannot understand

Errors the service reports carry `.code` (e.g. ``"AccessDeniedException"``) and
`.service_message`; decide on those and on the class, never on the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._models import ActivationJob, ActivationSource

__all__ = [
    "AccessDeniedError",
    "InvalidInputError",
    "JobFailedError",
    "JobNotFoundError",
    "JobPartiallyFailedError",
    "OmicsWaiterError",
    "ServiceError",
    "UnexpectedResponseError",
    "WaitTimeoutError",
]


class OmicsWaiterError(Exception):
    """The root of every error omics-waiter raises."""

    #: The service's error code, when the service reported the error.
    code: str | None = None
    #: The service's own message, when the service reported the error.
    service_message: str | None = None


class InvalidInputError(OmicsWaiterError, ValueError):
    """An argument is invalid (raised before any request), or the service said so.

    Attributes:
        argument: The name of the offending argument, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        argument: str | None = None,
        code: str | None = None,
        service_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.argument = argument
        self.code = code
        self.service_message = service_message


class WaitTimeoutError(OmicsWaiterError, TimeoutError):
    """The wait's deadline passed before the job reached a terminal status.

    Attributes:
        job: The last job seen, or None if no poll succeeded.
        job_id: The job waited on.
    """

    def __init__(self, message: str, *, job_id: str, job: ActivationJob | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.job = job


class JobFailedError(OmicsWaiterError):
    """The job ended FAILED or CANCELLED (or, see the subclass, with failed read sets).

    Attributes:
        job: The final job.
    """

    def __init__(self, message: str, *, job: ActivationJob) -> None:
        super().__init__(message)
        self.job = job
        self.service_message = job.status_message


class JobPartiallyFailedError(JobFailedError):
    """The job ended COMPLETED_WITH_FAILURES: some read sets were not activated.

    Attributes:
        failed_sources: The read sets that failed, with the service's messages.
    """

    @property
    def failed_sources(self) -> tuple[ActivationSource, ...]:
        return self.job.failed_sources


class ServiceError(OmicsWaiterError):
    """The service refused a request in a way that retrying will not fix.

    Attributes:
        code: The service's error code.
        service_message: The service's message.
        operation: The operation that failed, e.g. ``"GetReadSetActivationJob"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        service_message: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.service_message = service_message
        self.operation = operation


class AccessDeniedError(ServiceError):
    """Access was denied, or the credentials or signature were refused or missing."""


class JobNotFoundError(ServiceError):
    """The job was not found, and stayed so for the whole not-found grace period.

    Attributes:
        job_id: The job asked for.
        sequence_store_id: The store it was asked for in.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str,
        sequence_store_id: str,
        code: str | None = "ResourceNotFoundException",
        service_message: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, code=code, service_message=service_message, operation=operation)
        self.job_id = job_id
        self.sequence_store_id = sequence_store_id


class UnexpectedResponseError(OmicsWaiterError):
    """A response this release cannot understand: a malformed body or an unknown status.

    Attributes:
        job: The job as parsed, when the body parsed but held an unknown status.
    """

    def __init__(self, message: str, *, job: ActivationJob | None = None) -> None:
        super().__init__(message)
        self.job = job
