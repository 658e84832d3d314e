"""The errors omics-waiter raises.

Every error is an `OmicsWaiterError`::

    OmicsWaiterError
    ├── InvalidInputError (ValueError)     bad argument, before any request; or ValidationException
    ├── WaitTimeoutError (TimeoutError)    the deadline passed; .job is the last job seen
    ├── JobFailedError                     FAILED, CANCELLED ...; .job, .ref
    │   └── JobPartiallyFailedError        COMPLETED_WITH_FAILURES; .failed_items
    ├── ServiceError                       the service refused, in a way retrying will not fix
    │   ├── AccessDeniedError              access denied, bad or missing credentials or signature
    │   └── JobNotFoundError               still not found after the grace period
    └── UnexpectedResponseError            a response this release cannot understand

Errors the service reports carry `.code` (e.g. ``"AccessDeniedException"``) and
`.service_message`; decide on those and on the class, never on the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import ActivationSource
    from ._refs import JobRef

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
        ref: The job waited on (None for a request not made for one job, e.g. a List).
        job: The last job seen, or None if no poll succeeded.
    """

    def __init__(self, message: str, *, ref: JobRef[Any] | None = None, job: Any = None) -> None:
        super().__init__(message)
        self.ref = ref
        self.job = job

    @property
    def job_id(self) -> str | None:
        """The ID of the job waited on (the last field of its reference)."""
        return None if self.ref is None else self.ref.ids[-1]


class JobFailedError(OmicsWaiterError):
    """The job ended without success: FAILED, CANCELLED, DELETED ... (or, see the subclass,
    with failed items); or it ended without reaching the status a wait asked for (`until`).

    Attributes:
        job: The final job (an `ActivationJob`, `Run`, `Task` ...).
    """

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message)
        self.job = job
        self.service_message = getattr(job, "status_message", None)

    @property
    def ref(self) -> JobRef[Any]:
        """The job's reference."""
        ref: JobRef[Any] = self.job.ref
        return ref


class JobPartiallyFailedError(JobFailedError):
    """The job ended COMPLETED_WITH_FAILURES: some of its items failed.

    Attributes:
        failed_items: The items (read sets, source files) that failed, with the
            service's messages.
        failed_sources: The same, for a read set activation job (0.1's name).
    """

    @property
    def failed_items(self) -> tuple[Any, ...]:
        return tuple(self.job.failed_items)

    @property
    def failed_sources(self) -> tuple[ActivationSource, ...]:
        return tuple(self.job.failed_items)


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
        ref: The job asked for.
    """

    def __init__(
        self,
        message: str,
        *,
        ref: JobRef[Any],
        code: str | None = "ResourceNotFoundException",
        service_message: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, code=code, service_message=service_message, operation=operation)
        self.ref = ref

    @property
    def job_id(self) -> str:
        """The ID of the job asked for (the last field of its reference)."""
        return self.ref.ids[-1]

    @property
    def sequence_store_id(self) -> str | None:
        """The store it was asked for in, if its kind has one."""
        store = getattr(self.ref, "sequence_store_id", None) or getattr(
            self.ref, "reference_store_id", None
        )
        return None if store is None else str(store)


class UnexpectedResponseError(OmicsWaiterError):
    """A response this release cannot understand: a malformed body or an unknown status.

    Attributes:
        job: The job as parsed, when the body parsed but held an unknown status.
    """

    def __init__(self, message: str, *, job: Any = None) -> None:
        super().__init__(message)
        self.job = job
