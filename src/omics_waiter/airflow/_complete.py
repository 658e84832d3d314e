"""From a trigger event's payload to a task's result: a return value or an Airflow error."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException

from ._payload import STATUSES

__all__ = ["describe", "jobs_of"]


def describe(event: dict[str, Any]) -> str:
    """One line for an unsuccessful outcome: the jobs, the status, the error and the reason."""
    ids = ", ".join(str(i) for i in event.get("ids") or [])
    error = f" ({event['error']})" if event.get("error") else ""
    message = f": {event['message']}" if event.get("message") else ""
    return f"{event.get('kind')} {ids}: {event.get('status')}{error}{message}"


def jobs_of(
    event: object, *, accept_partial: bool, timeout_error: type[BaseException]
) -> list[dict[str, Any] | None]:
    """The jobs (JSON-safe dicts, in `ids` order) of a successful outcome.

    Raises:
        AirflowException: The jobs failed, partly failed (unless `accept_partial`), or the
            wait failed (the message carries the service's reason); or `event` is no payload
            of `OmicsJobTrigger`'s.
        timeout_error: The wait timed out (a sensor raises AirflowSensorTimeout, which
            Airflow does not retry; the operator an AirflowException, which it does).
    """
    if not isinstance(event, dict) or event.get("status") not in STATUSES:
        raise AirflowException(f"not an OmicsJobTrigger event: {event!r}")
    status = event["status"]
    if status == "success" or (status == "partial" and accept_partial):
        jobs: list[dict[str, Any] | None] = list(event["jobs"])
        return jobs
    if status == "timeout":
        raise timeout_error(describe(event))
    raise AirflowException(describe(event))
