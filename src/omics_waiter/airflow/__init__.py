"""Apache Airflow 3: deferrable HealthOmics operators and sensors (``omics-waiter[airflow]``).

- `OmicsJobTrigger` waits on jobs of one kind in the triggerer; every trigger of a process
  with the same connection, Region and options shares one `OmicsWaiter`.
- `OmicsJobSensor` waits on jobs (deferring to the trigger by default).
- `OmicsStartRunOperator` starts a workflow run, never twice for one task instance, and waits.

The names are imported lazily, so that ``omics_waiter.airflow.provider_info`` (read by
Airflow's provider discovery) loads neither Airflow nor the AWS stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .operators import OmicsStartRunOperator
    from .sensors import OmicsJobSensor
    from .triggers import OmicsJobTrigger

__all__ = ["OmicsJobSensor", "OmicsJobTrigger", "OmicsStartRunOperator"]

_MODULES = {
    "OmicsJobSensor": ".sensors",
    "OmicsJobTrigger": ".triggers",
    "OmicsStartRunOperator": ".operators",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
