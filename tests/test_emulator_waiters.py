"""Every Omics waiter in botocore's ``waiters-2.json`` reaches its own verdict on the emulator.

For each waiter (except the variant and annotation store ones: stores are closed to new
customers), a scripted job goes through the waiter's retry statuses and ends in its success
status, or in its failure status; aiobotocore's real waiter must then succeed, or raise
`WaiterError` as a terminal failure, as the acceptors say. The statuses come from the waiter
model itself, so a new waiter or acceptor in botocore shows up here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import WaiterError
from botocore.waiter import xform_name

from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
WAITERS: dict[str, Any] = (
    botocore.session.get_session()
    .get_component("data_loader")
    .load_service_model("omics", "waiters-2")["waiters"]
)
CLOSED = ("VariantStore", "AnnotationStore")

Adder = Callable[[OmicsEmulator, list[Step]], dict[str, str]]


def _task(emu: OmicsEmulator, timeline: list[Step]) -> dict[str, str]:
    run_id = emu.add_run(tasks=[[Step(at=0.0), *timeline]])
    (task_id,) = emu.task_ids(run_id)
    return {"id": run_id, "taskId": task_id}


def _version(emu: OmicsEmulator, timeline: list[Step]) -> dict[str, str]:
    workflow = emu.add_workflow(timeline=[Step(at=0.0, status="ACTIVE")])
    return {
        "workflowId": workflow,
        "versionName": emu.add_workflow_version(workflow, "v1", timeline=timeline),
    }


# How to add a job that the waiter's operation reads, and the arguments of that operation.
ADDERS: dict[str, Adder] = {
    "GetReadSetActivationJob": lambda emu, t: {
        "sequenceStoreId": STORE,
        "id": emu.add_job(STORE, ["1111111111"], timeline=t),
    },
    "GetReadSetImportJob": lambda emu, t: {
        "sequenceStoreId": STORE,
        "id": emu.add_read_set_import_job(STORE, timeline=t),
    },
    "GetReadSetExportJob": lambda emu, t: {
        "sequenceStoreId": STORE,
        "id": emu.add_read_set_export_job(STORE, ["1111111111"], timeline=t),
    },
    "GetReferenceImportJob": lambda emu, t: {
        "referenceStoreId": STORE,
        "id": emu.add_reference_import_job(STORE, timeline=t),
    },
    "GetRun": lambda emu, t: {"id": emu.add_run(timeline=t)},
    "GetRunTask": _task,
    "GetVariantImportJob": lambda emu, t: {
        "jobId": emu.add_variant_import_job("store_1", timeline=t)
    },
    "GetAnnotationImportJob": lambda emu, t: {
        "jobId": emu.add_annotation_import_job("store_1", timeline=t)
    },
    "GetWorkflow": lambda emu, t: {"id": emu.add_workflow(timeline=t)},
    "GetWorkflowVersion": _version,
}


def statuses(waiter: dict[str, Any], state: str) -> list[str]:
    return [
        acceptor["expected"]
        for acceptor in waiter["acceptors"]
        if acceptor["state"] == state and acceptor["matcher"] == "path"
    ]


CASES = [
    (name, verdict)
    for name in sorted(WAITERS)
    if not name.startswith(CLOSED)
    for verdict in ("success", "failure")
]


def test_every_open_waiter_has_an_adder() -> None:
    open_waiters = {name for name in WAITERS if not name.startswith(CLOSED)}
    assert {WAITERS[name]["operation"] for name in open_waiters} == set(ADDERS)
    assert len(open_waiters) == 12


@pytest.mark.asyncio
@pytest.mark.parametrize(("name", "verdict"), CASES, ids=[f"{n}-{v}" for n, v in CASES])
async def test_waiter_reaches_its_own_verdict(make_client: Any, name: str, verdict: str) -> None:
    waiter_model = WAITERS[name]
    retry = statuses(waiter_model, "retry")
    final = statuses(waiter_model, verdict)[0]
    timeline = [Step(at=0.25 * (i + 1), status=status) for i, status in enumerate(retry)]
    timeline.append(Step(at=0.25 * (len(retry) + 1), status=final))
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        kwargs = ADDERS[waiter_model["operation"]](emu, timeline)
        waiter = client.get_waiter(xform_name(name))
        config = {"Delay": 0.05, "MaxAttempts": 40}
        if verdict == "success":
            await waiter.wait(**kwargs, WaiterConfig=config)
        else:
            with pytest.raises(WaiterError) as exc_info:
                await waiter.wait(**kwargs, WaiterConfig=config)
            assert "terminal failure state" in str(exc_info.value)
            assert exc_info.value.last_response["status"] == final
        polls = emu.stats.count(waiter_model["operation"], 200)
    assert polls >= 2  # it saw a retry status before the verdict
