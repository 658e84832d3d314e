"""Wait on AWS HealthOmics jobs from asyncio and trio services.

async with OmicsWaiter.connect(region_name="us-east-1") as waiter:
    job = await waiter.wait_for_activation_job(store_id, job_id, timeout=3600)
"""

from ._budget import Budget
from ._errors import (
    AccessDeniedError,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    OmicsWaiterError,
    ServiceError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from ._events import (
    JobStatusChanged,
    JobWatchFailed,
    PollRetrying,
    SourceStatusChanged,
    WatchEvent,
)
from ._models import (
    ActivationJob,
    ActivationJobStatus,
    ActivationJobSummary,
    ActivationSource,
    SourceStatus,
)
from ._redis_budget import RedisBudget
from ._waiter import EventStream, OmicsWaiter

__all__ = [
    "AccessDeniedError",
    "ActivationJob",
    "ActivationJobStatus",
    "ActivationJobSummary",
    "ActivationSource",
    "Budget",
    "EventStream",
    "InvalidInputError",
    "JobFailedError",
    "JobNotFoundError",
    "JobPartiallyFailedError",
    "JobStatusChanged",
    "JobWatchFailed",
    "OmicsWaiter",
    "OmicsWaiterError",
    "PollRetrying",
    "RedisBudget",
    "ServiceError",
    "SourceStatus",
    "SourceStatusChanged",
    "UnexpectedResponseError",
    "WaitTimeoutError",
    "WatchEvent",
]
__version__ = "0.1.0"
