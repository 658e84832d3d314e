"""`OmicsStartRunOperator`: starts a HealthOmics workflow run, once per task instance, and
waits on it."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from .._errors import InvalidInputError
from .._refs import check_field
from ._args import (
    check_bool,
    check_conn_id,
    check_region,
    check_timeout,
    check_until_for,
    check_waiter_options,
)
from ._blocking import run_blocking
from ._complete import jobs_of
from ._connection import open_waiter
from ._runs import TAG, TaskInstanceKey, start_or_find_run
from .sensors import templated
from .triggers import OmicsJobTrigger

__all__ = ["OmicsStartRunOperator"]

# StartRun fields the operator sets itself (the others go through start_run_kwargs).
_OWN_FIELDS = ("workflowId", "roleArn", "outputUri", "parameters", "name", "requestId")


@functools.cache
def _start_run_fields() -> frozenset[str]:
    """StartRun's request members, from botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("omics")
    shape = model.operation_model("StartRun").input_shape
    assert shape is not None
    return frozenset(shape.members)


def _check_text(name: str, value: object, *, prefix: str = "", most: int = 750) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or not 1 <= len(value) <= most:
        what = f"a string starting with {prefix!r}" if prefix else "a non-empty string"
        raise InvalidInputError(
            f"{name} must be {what} of at most {most} characters, got {value!r}", argument=name
        )
    return value


def _check_start_run_kwargs(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"start_run_kwargs must be a dict of StartRun fields, not {type(value).__name__}",
            argument="start_run_kwargs",
        )
    own = sorted(k for k in value if k in _OWN_FIELDS)
    if own:
        raise InvalidInputError(
            f"start_run_kwargs must not hold {', '.join(own)}: the operator sets them "
            "(workflow_id, role_arn, output_uri, parameters, name; requestId is derived)",
            argument="start_run_kwargs",
        )
    unknown = sorted(str(k) for k in value if k not in _start_run_fields())
    if unknown:
        raise InvalidInputError(
            f"start_run_kwargs has fields StartRun does not take: {', '.join(unknown)}",
            argument="start_run_kwargs",
        )
    tags = value.get("tags")
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidInputError("start_run_kwargs['tags'] must be a dict", argument="tags")
    return dict(value)


class OmicsStartRunOperator(BaseOperator):
    """Starts a HealthOmics workflow run (StartRun), pushes its ID, and waits on it.

    The run ID goes to XCom under the key ``run_id`` as soon as the run is started; the
    wait then goes as `OmicsJobSensor`'s does (deferred to `OmicsJobTrigger` by default).
    Returns the run ID.

    No duplicate runs: StartRun's ``requestId`` is derived from the task instance (DAG,
    task, logical run, map index, try), and each run carries a tag
    (``omics-waiter:task-instance``) naming the task instance without its try. A retry
    first looks for the run an earlier try started (ListRuns by the run's name, GetRun for
    its tags): one still active or completed is waited on again, not started anew; only one
    that failed, was cancelled or deleted is started again. Without `name`, runs are named
    ``DAG.TASK-HASH`` so that the look-up lists only this task instance's runs.

    Args:
        workflow_id: The workflow to run (its ID, digits).
        role_arn: The service role the run uses.
        output_uri: Where the run writes its outputs (``s3://...``).
        parameters: The run's parameters (JSON-safe).
        name: The run's name (default: derived from the task instance).
        wait_for_completion: Wait on the run (default); else return once it is started.
        deferrable: Wait in the triggerer (default) or in the worker.
        until: Succeed once the run reaches this status (``STARTING``, ``RUNNING`` ...).
        timeout: Seconds the wait may last (the deferral's timeout; None: no limit). A
            timed-out wait fails the task with an `AirflowException`, so that its retries
            (which wait on the same run) apply.
        aws_conn_id: The Airflow AWS connection; None for the default credential chain.
        region_name: The Region, instead of the connection's.
        waiter_options: `OmicsJobTrigger`'s `waiter_options` (JSON-safe).
        start_run_kwargs: Any other StartRun field, in the API's spelling (``runGroupId``,
            ``storageType``, ``cacheId``, ``tags`` ...).
        **operator_kwargs: `BaseOperator`'s arguments.

    Raises:
        InvalidInputError: An argument is invalid: when the operator is made (arguments
            without templates) and when it executes, before any request.
        AirflowException: (when run) the run failed (with the service's reason), the wait
            timed out, or the service refused the start.
    """

    template_fields: Sequence[str] = (
        "workflow_id",
        "role_arn",
        "output_uri",
        "parameters",
        "name",
        "start_run_kwargs",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "parameters": "json",
        "start_run_kwargs": "json",
    }
    ui_color = "#d7e9f7"

    def __init__(
        self,
        *,
        workflow_id: str,
        role_arn: str,
        output_uri: str,
        parameters: dict[str, Any] | None = None,
        name: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = True,
        until: str | None = None,
        timeout: float | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        waiter_options: dict[str, Any] | None = None,
        start_run_kwargs: dict[str, Any] | None = None,
        **operator_kwargs: Any,
    ) -> None:
        super().__init__(**operator_kwargs)
        self.workflow_id = workflow_id
        self.role_arn = role_arn
        self.output_uri = output_uri
        self.parameters = parameters
        self.name = name
        self.start_run_kwargs = start_run_kwargs
        self._check_templated()
        self.wait_for_completion = check_bool("wait_for_completion", wait_for_completion)
        self.deferrable = check_bool("deferrable", deferrable)
        self.until = check_until_for("run", until)
        self.timeout = check_timeout(timeout)
        self.aws_conn_id = check_conn_id(aws_conn_id)
        self.region_name = check_region(region_name)
        self.waiter_options = check_waiter_options(waiter_options)

    def _check_templated(self, *, rendered: bool = False) -> None:
        """Check the template fields (before rendering, those without a template)."""
        if isinstance(self.workflow_id, int) and not isinstance(self.workflow_id, bool):
            self.workflow_id = str(self.workflow_id)  # Jinja's native rendering made it a number
        if rendered or not templated(self.workflow_id):
            check_field("workflow_id", self.workflow_id)
        if rendered or not templated(self.role_arn):
            _check_text("role_arn", self.role_arn, prefix="arn:", most=128)
        if rendered or not templated(self.output_uri):
            _check_text("output_uri", self.output_uri)
        if (rendered or not templated(self.parameters)) and not (
            self.parameters is None or isinstance(self.parameters, Mapping)
        ):
            raise InvalidInputError(
                f"parameters must be a dict, not {type(self.parameters).__name__}",
                argument="parameters",
            )
        if (rendered or not templated(self.name)) and self.name is not None:
            _check_text("name", self.name, most=128)
        if rendered or not templated(self.start_run_kwargs):
            _check_start_run_kwargs(self.start_run_kwargs)

    def _request(self, key: TaskInstanceKey) -> dict[str, Any]:
        extra = _check_start_run_kwargs(self.start_run_kwargs)
        request: dict[str, Any] = {
            **extra,
            "workflowId": self.workflow_id,
            "roleArn": self.role_arn,
            "outputUri": self.output_uri,
            "name": self.name or key.default_name,
            "tags": {**(extra.get("tags") or {}), TAG: key.tag},
        }
        if self.parameters is not None:
            request["parameters"] = dict(self.parameters)
        return request

    def _trigger(self, run_id: str) -> OmicsJobTrigger:
        return OmicsJobTrigger(
            "run",
            [run_id],
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            timeout=self.timeout,
            until=self.until,
            waiter_options=self.waiter_options,
        )

    def execute(self, context: Any) -> str:
        """Start the run (or find an earlier try's), push its ID, then wait or defer."""
        self._check_templated(rendered=True)
        ti = context["ti"]
        key = TaskInstanceKey(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=ti.map_index,
            try_number=ti.try_number,
        )
        request = self._request(key)

        async def start() -> tuple[str, bool]:
            async with open_waiter(self.aws_conn_id, self.region_name, self.waiter_options) as w:
                return await start_or_find_run(w, request, key)

        # The service's refusals (OmicsWaiterError) fail the try as they are; Airflow retries.
        run_id, started = run_blocking(start)
        self.log.info("run %s %s", run_id, "started" if started else "of an earlier try found")
        ti.xcom_push(key="run_id", value=run_id)
        if not self.wait_for_completion:
            return run_id
        trigger = self._trigger(run_id)
        if self.deferrable:
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                timeout=None if self.timeout is None else dt.timedelta(seconds=self.timeout),
            )
        return self.execute_complete(context, run_blocking(trigger.wait_here))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        """The run ID once the run succeeded (or reached `until`); else raise.

        Raises:
            AirflowException: The run failed (the service's reason in the message), or the
                wait timed out or failed.
        """
        jobs_of(event, accept_partial=False, timeout_error=AirflowException)
        assert isinstance(event, dict)
        run_id: str = event["ids"][0]
        self.log.info("run %s: %s", run_id, event["status"])
        return run_id
