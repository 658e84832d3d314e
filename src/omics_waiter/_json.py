"""Jobs as JSON-safe dicts: for callers that must store or send a job (Airflow's XCom and
trigger events), not only show it.

A model's fields keep their snake_case names; statuses become their strings, datetimes
ISO-8601 strings in UTC, tuples of items lists of dicts. Nothing else is added or renamed, so
the dict reads like the model's documentation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

__all__ = ["job_to_json"]


def _value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    return value


def job_to_json(job: Any) -> dict[str, Any] | None:
    """A job model (`Run`, `Task`, `ActivationJob` ...) as a JSON-safe dict; None for None.

    Raises:
        TypeError: `job` is not a model (a dataclass instance).
    """
    if job is None:
        return None
    if not dataclasses.is_dataclass(job) or isinstance(job, type):
        raise TypeError(f"expected a job model, not {type(job).__name__}")
    result: dict[str, Any] = _value(job)
    return result
