"""`OmicsJobSensor`: waits on HealthOmics jobs, deferring to `OmicsJobTrigger`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, XComArg
from airflow.sdk.exceptions import AirflowSensorTimeout

from ._args import (
    check_bool,
    check_conn_id,
    check_ids,
    check_kind,
    check_region,
    check_until_for,
    check_waiter_options,
)
from ._blocking import run_blocking
from ._complete import jobs_of
from .triggers import OmicsJobTrigger

__all__ = ["OmicsJobSensor"]


def templated(value: object) -> bool:
    """Whether a value is still to be rendered: a Jinja template or an XCom reference
    (``task.output``); it is checked once rendered."""
    if isinstance(value, XComArg):
        return True
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(templated(k) or templated(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(templated(v) for v in value)
    return False


def _id_text(value: object) -> object:
    """An ID as text: Jinja's native rendering turns a digits-only ID into an int."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _as_list(ids: object) -> object:
    """A single ID (e.g. a rendered ``{{ ti.xcom_pull(...) }}``) counts as a list of one."""
    if isinstance(ids, str | int) and not isinstance(ids, bool):
        return [_id_text(ids)]
    if isinstance(ids, list | tuple):
        return [_id_text(i) for i in ids]
    return ids


class OmicsJobSensor(BaseSensorOperator):
    """Waits until HealthOmics jobs of one kind end (or reach `until`).

    Deferrable (the default), it defers at once to `OmicsJobTrigger` with the sensor's
    `timeout`, so the wait costs no worker slot and shares the triggerer's waiter. Not
    deferrable, it waits in the worker, on the same engine.

    Returns (the XCom value): the final job as a JSON-safe dict (the model's fields), or a
    list of them in `ids` order when `ids` has more than one.

    Args:
        kind: The command line's kind word (``run``, ``task``, ``activation``,
            ``read-set-import`` ...).
        ids: A list of one or more job IDs in the kind's form (``RUN_ID``,
            ``RUN_ID/TASK_ID``, ``STORE_ID/JOB_ID`` ...); a template field. One ID may be
            given as a string (e.g. ``"{{ ti.xcom_pull('start', key='run_id') }}"``).
        until: A status on the kind's way to success (e.g. ``RUNNING``): succeed once each job
            is seen at it, or at a status reached only through it (RUNNING: RUNNING or
            COMPLETED); a job that ends without passing it fails.
        accept_partial: Succeed on COMPLETED_WITH_FAILURES instead of failing.
        deferrable: Defer to the triggerer (default) or wait in the worker.
        aws_conn_id: The Airflow AWS connection; None for the default credential chain.
        region_name: The Region, instead of the connection's.
        waiter_options: `OmicsJobTrigger`'s `waiter_options` (JSON-safe).
        **sensor_kwargs: `BaseSensorOperator`'s (``timeout``, ``soft_fail`` ...) and
            `BaseOperator`'s arguments.

    Raises:
        InvalidInputError: An argument is invalid: when the sensor is made (arguments without
            templates) and when it executes, before it defers.
        AirflowException: (when run) a job failed, or partly failed unless
            `accept_partial`; the message carries the service's reason.
        AirflowSensorTimeout: (when run) the jobs did not end within `timeout`.
    """

    template_fields: Sequence[str] = ("ids",)
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        kind: str,
        ids: list[str] | str,
        until: str | None = None,
        accept_partial: bool = False,
        deferrable: bool = True,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        waiter_options: dict[str, Any] | None = None,
        **sensor_kwargs: Any,
    ) -> None:
        super().__init__(**sensor_kwargs)
        self.kind = check_kind(kind)
        self.ids = ids
        if not templated(ids):
            check_ids(self.kind, _as_list(ids))
        self.until = check_until_for(self.kind, until)
        self.accept_partial = check_bool("accept_partial", accept_partial)
        self.deferrable = check_bool("deferrable", deferrable)
        self.aws_conn_id = check_conn_id(aws_conn_id)
        self.region_name = check_region(region_name)
        self.waiter_options = check_waiter_options(waiter_options)

    def make_trigger(self) -> OmicsJobTrigger:
        """The trigger for the (rendered) arguments; checks them all.

        Raises:
            InvalidInputError: An argument is invalid.
        """
        ids, _ = check_ids(self.kind, _as_list(self.ids))
        return OmicsJobTrigger(
            self.kind,
            ids,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            timeout=self.timeout if self.timeout > 0 else None,
            until=self.until,
            accept_partial=self.accept_partial,
            waiter_options=self.waiter_options,
        )

    def execute(self, context: Any) -> Any:
        """Defer to the trigger (or wait here); the outcome goes to `execute_complete`."""
        trigger = self.make_trigger()
        if self.deferrable:
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                timeout=dt.timedelta(seconds=self.timeout) if self.timeout > 0 else None,
            )
        return self.execute_complete(context, run_blocking(trigger.wait_here))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """The job (or the list of jobs) on success; else raise.

        Raises:
            AirflowException: A job failed (or partly failed, unless `accept_partial`), or
                the wait could not be made.
            AirflowSensorTimeout: The wait timed out.
        """
        jobs = jobs_of(
            event, accept_partial=self.accept_partial, timeout_error=AirflowSensorTimeout
        )
        assert isinstance(event, dict)
        self.log.info("%s %s: %s", self.kind, ", ".join(event["ids"]), event["status"])
        return jobs[0] if len(jobs) == 1 else jobs

    def poke(self, context: Any) -> bool:
        """Not used: `execute` waits on the engine (or defers) instead of poking."""
        raise NotImplementedError("OmicsJobSensor waits in execute(), it does not poke")
