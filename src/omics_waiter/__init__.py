"""Wait on AWS HealthOmics jobs from asyncio and trio services.

async with OmicsWaiter.connect(region_name="us-east-1") as waiter:
    job = await waiter.wait_for_activation_job(store_id, job_id, timeout=3600)

`OmicsWaiter`, `EventStream` and `RedisBudget` are imported when first used (module
``__getattr__``): the waiter brings botocore, the Redis budget its own machinery, and
``import omics_waiter`` (as ``omics-waiter --help`` does) needs neither. aiohttp, Redis,
Airflow and an OpenTelemetry SDK are never imported by importing this package.
"""

import typing as _typing

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
    BudgetModeChanged,
    ItemStatusChanged,
    JobStatusChanged,
    JobWatchFailed,
    PollRetrying,
    PushModeChanged,
    SourceStatusChanged,
    WatchEvent,
)
from ._models import (
    ActivationJob,
    ActivationJobStatus,
    ActivationJobSummary,
    ActivationSource,
    AnnotationImportJob,
    JobItem,
    JobStatus,
    ReadSetExportJob,
    ReadSetImportJob,
    ReferenceImportJob,
    Run,
    RunStatus,
    SourceStatus,
    Task,
    TaskStatus,
    VariantImportJob,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
)
from ._refs import (
    AnnotationImportJobRef,
    JobRef,
    ReadSetActivationJobRef,
    ReadSetExportJobRef,
    ReadSetImportJobRef,
    ReferenceImportJobRef,
    RunRef,
    TaskRef,
    VariantImportJobRef,
    WorkflowRef,
    WorkflowVersionRef,
)

if _typing.TYPE_CHECKING:
    from ._redis_budget import RedisBudget
    from ._waiter import EventStream, OmicsWaiter

__all__ = [
    "AccessDeniedError",
    "ActivationJob",
    "ActivationJobStatus",
    "ActivationJobSummary",
    "ActivationSource",
    "AnnotationImportJob",
    "AnnotationImportJobRef",
    "Budget",
    "BudgetModeChanged",
    "EventStream",
    "InvalidInputError",
    "ItemStatusChanged",
    "JobFailedError",
    "JobItem",
    "JobNotFoundError",
    "JobPartiallyFailedError",
    "JobRef",
    "JobStatus",
    "JobStatusChanged",
    "JobWatchFailed",
    "OmicsWaiter",
    "OmicsWaiterError",
    "PollRetrying",
    "PushModeChanged",
    "ReadSetActivationJobRef",
    "ReadSetExportJob",
    "ReadSetExportJobRef",
    "ReadSetImportJob",
    "ReadSetImportJobRef",
    "RedisBudget",
    "ReferenceImportJob",
    "ReferenceImportJobRef",
    "Run",
    "RunRef",
    "RunStatus",
    "ServiceError",
    "SourceStatus",
    "SourceStatusChanged",
    "Task",
    "TaskRef",
    "TaskStatus",
    "UnexpectedResponseError",
    "VariantImportJob",
    "VariantImportJobRef",
    "WaitTimeoutError",
    "WatchEvent",
    "Workflow",
    "WorkflowRef",
    "WorkflowStatus",
    "WorkflowVersion",
    "WorkflowVersionRef",
]
__version__ = "0.2.0"

# The names imported on first use, and the module each comes from.
_LAZY = {"EventStream": "._waiter", "OmicsWaiter": "._waiter", "RedisBudget": "._redis_budget"}


if not _typing.TYPE_CHECKING:  # type checkers see the names imported above, and no others

    def __getattr__(name: str) -> _typing.Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # once imported, an ordinary attribute
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
