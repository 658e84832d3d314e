"""Runs, their tasks, CancelRun, and workflows through a real aiobotocore client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator_kinds import ROLE, ManualClock, output_problems
from omics_waiter.testing import Faults, Kind, OmicsEmulator, Step

pytestmark = pytest.mark.asyncio


def error_of(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def task(
    start: float, end: float, final: str = "COMPLETED", reason: str | None = None
) -> list[Step]:
    return [
        Step(at=start),
        Step(at=start + 0.05, status="RUNNING"),
        Step(at=end, status=final, status_message=reason, failure_reason=reason),
    ]


async def test_tasks_appear_while_the_run_is_running_and_list_by_status(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        run_id = emu.add_run(tasks=[task(0.2, 0.5), task(0.3, 0.8)], name="align")
        first, second = emu.task_ids(run_id)
        clock.advance(0.15)
        early = await client.get_run(id=run_id)
        none_yet = await client.list_run_tasks(id=run_id)
        clock.advance(0.45)  # 0.6: the first task is done, the second running
        running = await client.get_run(id=run_id)
        listed = await client.list_run_tasks(id=run_id)
        done = await client.list_run_tasks(id=run_id, status="COMPLETED")
        got = await client.get_run_task(id=run_id, taskId=first)
        clock.advance(0.5)
        finished = await client.get_run(id=run_id)
    assert early["status"] == "STARTING"
    assert none_yet["items"] == []
    assert running["status"] == "RUNNING"
    assert "startTime" in running
    assert [(t["taskId"], t["status"]) for t in listed["items"]] == [
        (second, "RUNNING"),
        (first, "COMPLETED"),
    ]
    assert [t["taskId"] for t in done["items"]] == [first]
    assert got["status"] == "COMPLETED"
    assert got["stopTime"] > got["startTime"] > got["creationTime"]
    assert output_problems("GetRunTask", got) == []
    assert output_problems("ListRunTasks", listed) == []
    assert finished["status"] == "COMPLETED"
    assert "stopTime" in finished


async def test_a_failed_task_fails_the_run_with_its_reason(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        run_id = emu.add_run(
            tasks=[task(0.1, 0.9), task(0.1, 0.4, "FAILED", "Task ran out of memory.")]
        )
        failing = emu.task_ids(run_id)[1]
        clock.advance(0.42)
        stopping = await client.get_run(id=run_id)
        clock.advance(0.1)
        failed = await client.get_run(id=run_id)
        failed_task = await client.get_run_task(id=run_id, taskId=failing)
    assert stopping["status"] == "STOPPING"
    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == "Task ran out of memory."
    assert "task-2" in failed["statusMessage"]
    assert failed_task["status"] == "FAILED"
    assert failed_task["failureReason"] == "Task ran out of memory."


async def test_seeded_runs_fail_with_reasons_and_cancel_the_other_tasks() -> None:
    clock = ManualClock()
    async with OmicsEmulator(seed=3, clock=clock, failure_rate=0.3, job_seconds=(1, 1)) as emu:
        runs = [emu.add_run(tasks=4) for _ in range(10)]
        clock.advance(1.0)
        states = {run: emu.job_state("run", run) for run in runs}
        tasks = {
            run: [emu.job_state(Kind.TASK, run, t)["status"] for t in emu.task_ids(run)]
            for run in runs
        }
    outcomes = {state["status"] for state in states.values()}
    assert outcomes == {"COMPLETED", "FAILED"}
    for run, state in states.items():
        if state["status"] == "FAILED":
            assert state["failureReason"]
            assert "FAILED" in tasks[run]
            assert set(tasks[run]) <= {"COMPLETED", "FAILED", "CANCELLED"}
        else:
            assert set(tasks[run]) == {"COMPLETED"}


async def test_cancel_run_stops_then_cancels_the_run_and_its_tasks(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, job_seconds=(1, 1)) as emu:
        client = await make_client(emu)
        run_id = emu.add_run(tasks=[task(0.1, 5.0), task(3.0, 6.0)])
        started, later = emu.task_ids(run_id)
        clock.advance(0.5)
        response = await client.cancel_run(id=run_id)
        stopping = await client.get_run(id=run_id)
        clock.advance(1.0)
        cancelled = await client.get_run(id=run_id)
        tasks = await client.list_run_tasks(id=run_id)
        clock.advance(5.0)
        still = await client.list_run_tasks(id=run_id)
        with pytest.raises(ClientError) as exc_info:
            await client.cancel_run(id=run_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert stopping["status"] == "STOPPING"
    assert cancelled["status"] == "CANCELLED"
    assert [(t["taskId"], t["status"]) for t in tasks["items"]] == [(started, "CANCELLED")]
    assert [t["taskId"] for t in still["items"]] == [started]  # the later task never starts
    assert later not in [t["taskId"] for t in still["items"]]
    assert error_of(exc_info) == ("ConflictException", 409)


async def test_list_runs_filters_by_name(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        wanted = emu.add_run(name="wanted")
        emu.add_run(name="other")
        listed = await client.list_runs(name="wanted")
    assert [run["id"] for run in listed["items"]] == [wanted]


async def test_start_run_request_id_is_idempotent_and_conflicts_on_another_request(
    make_client: Any,
) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        args = {"workflowId": "1234567", "roleArn": ROLE, "outputUri": "s3://bucket/out"}
        first = await client.start_run(requestId="r-1", **args)
        again = await client.start_run(requestId="r-1", **args)
        with pytest.raises(ClientError) as exc_info:
            await client.start_run(requestId="r-1", name="another", **args)
    assert first["id"] == again["id"]
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert error_of(exc_info) == ("ConflictException", 409)


async def test_start_run_keeps_the_runs_parameters_and_tags(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        started = await client.start_run(
            requestId="r-1",
            workflowId="1234567",
            roleArn=ROLE,
            outputUri="s3://bucket/out",
            parameters={"sample": "NA12878", "threads": 4, "lanes": [1, 2]},
            tags={"team": "genomics"},
        )
        run = await client.get_run(id=started["id"])
    assert run["parameters"] == {"sample": "NA12878", "threads": 4, "lanes": [1, 2]}
    assert run["tags"] == {"team": "genomics"}


async def test_run_of_a_known_workflow_lists_its_name(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        workflow = emu.add_workflow(name="germline", timeline=[Step(at=0, status="ACTIVE")])
        emu.add_run(workflow_id=workflow)
        listed = await client.list_runs()
    assert listed["items"][0]["workflowName"] == "germline"


async def test_task_of_an_unknown_run_is_not_found(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        run_id = emu.add_run(tasks=1)
        with pytest.raises(ClientError) as unknown_task:
            await client.get_run_task(id=run_id, taskId="1")
        with pytest.raises(ClientError) as unknown_run:
            await client.list_run_tasks(id="1")
    assert error_of(unknown_task) == ("ResourceNotFoundException", 404)
    assert error_of(unknown_run) == ("ResourceNotFoundException", 404)


async def test_task_quota_and_faults_are_per_operation(make_client: Any) -> None:
    clock = ManualClock()
    faults = Faults(throttle_rate=1.0, operations=frozenset({"ListRunTasks"}))
    async with OmicsEmulator(clock=clock, quota_tps={"GetRunTask": 1}, faults=faults) as emu:
        client = await make_client(emu)
        run_id = emu.add_run(tasks=[task(0.0, 1.0)])
        (task_id,) = emu.task_ids(run_id)
        await client.get_run_task(id=run_id, taskId=task_id)
        with pytest.raises(ClientError) as over_quota:
            await client.get_run_task(id=run_id, taskId=task_id)
        with pytest.raises(ClientError) as throttled:
            await client.list_run_tasks(id=run_id)
        await client.get_run(id=run_id)
    assert error_of(over_quota) == ("ThrottlingException", 429)
    assert error_of(throttled) == ("ThrottlingException", 429)


async def test_list_run_tasks_pages_with_starting_token(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        run_id = emu.add_run(tasks=[task(0.0, 9.0) for _ in range(5)])
        paginator = client.get_paginator("list_run_tasks")
        pages = [
            page async for page in paginator.paginate(id=run_id, PaginationConfig={"PageSize": 2})
        ]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert sorted(t["taskId"] for p in pages for t in p["items"]) == sorted(emu.task_ids(run_id))


async def test_scripted_run_with_a_count_of_tasks_is_refused() -> None:
    async with OmicsEmulator() as emu:
        with pytest.raises(ValueError, match="scripted tasks"):
            emu.add_run(timeline=[Step(at=0, status="RUNNING")], tasks=2)


# -- workflows ----------------------------------------------------------------------------


async def test_workflow_becomes_active_and_so_does_its_version(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, job_seconds=(1, 1)) as emu:
        client = await make_client(emu)
        created = await client.create_workflow(
            name="germline", engine="WDL", definitionUri="s3://bucket/wf.zip", requestId="w-1"
        )
        creating = await client.get_workflow(id=created["id"])
        clock.advance(1.0)
        active = await client.get_workflow(id=created["id"])
        version = await client.create_workflow_version(
            workflowId=created["id"], versionName="v1.0", definitionUri="s3://bucket/wf.zip"
        )
        version_creating = await client.get_workflow_version(
            workflowId=created["id"], versionName="v1.0"
        )
        clock.advance(1.0)
        version_active = await client.get_workflow_version(
            workflowId=created["id"], versionName="v1.0"
        )
        with pytest.raises(ClientError) as duplicate:
            await client.create_workflow_version(
                workflowId=created["id"], versionName="v1.0", definitionUri="s3://b/x.zip"
            )
        with pytest.raises(ClientError) as orphan:
            await client.create_workflow_version(workflowId="42", versionName="v1")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert output_problems("CreateWorkflow", created) == []
    assert output_problems("GetWorkflow", active) == []
    assert output_problems("CreateWorkflowVersion", version) == []
    assert output_problems("GetWorkflowVersion", version_active) == []
    assert (creating["status"], active["status"]) == ("CREATING", "ACTIVE")
    assert active["name"] == "germline"
    assert (version_creating["status"], version_active["status"]) == ("CREATING", "ACTIVE")
    assert version_active["arn"].endswith(f"workflow/{created['id']}/version/v1.0")
    assert error_of(duplicate) == ("ConflictException", 409)
    assert error_of(orphan) == ("ResourceNotFoundException", 404)


async def test_scripted_workflow_failure_has_a_message(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        workflow = emu.add_workflow(
            timeline=[Step(at=0.5, status="FAILED", status_message="main.wdl not found")]
        )
        version = emu.add_workflow_version(
            workflow, "v2", timeline=[Step(at=0.5, status="FAILED", status_message="bad zip")]
        )
        clock.advance(0.5)
        got = await client.get_workflow(id=workflow)
        got_version = await client.get_workflow_version(workflowId=workflow, versionName=version)
        completed = emu.completion_time("workflow_version", workflow, version)
    assert (got["status"], got["statusMessage"]) == ("FAILED", "main.wdl not found")
    assert (got_version["status"], got_version["statusMessage"]) == ("FAILED", "bad zip")
    assert completed == pytest.approx(100.5)


async def test_seeded_workflows_fail_at_the_failure_rate() -> None:
    clock = ManualClock()
    async with OmicsEmulator(seed=1, clock=clock, failure_rate=0.5, job_seconds=(1, 1)) as emu:
        workflows = [emu.add_workflow() for _ in range(10)]
        clock.advance(1.0)
        states = [emu.job_state("workflow", w) for w in workflows]
    assert {s["status"] for s in states} == {"ACTIVE", "FAILED"}
    assert all(s["statusMessage"] for s in states if s["status"] == "FAILED")


async def test_version_of_an_unknown_workflow_is_refused_by_the_test_api() -> None:
    async with OmicsEmulator() as emu:
        with pytest.raises(KeyError):
            emu.add_workflow_version("1234567", "v1")
        workflow = emu.add_workflow()
        with pytest.raises(ValueError, match="version_name"):
            emu.add_workflow_version(workflow, "-bad")
        emu.add_workflow_version(workflow, "v1")
        with pytest.raises(ValueError, match="v1"):
            emu.add_workflow_version(workflow, "v1")


async def test_list_workflows_pages_newest_first_and_filters_by_name_and_type(
    make_client: Any,
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, job_seconds=(1, 1)) as emu:
        client = await make_client(emu)
        older = [emu.add_workflow(name="germline") for _ in range(2)]
        newest = emu.add_workflow(name="somatic")
        clock.advance(1.0)
        first = await client.list_workflows(maxResults=2)
        second = await client.list_workflows(maxResults=2, startingToken=first["nextToken"])
        named = await client.list_workflows(name="somatic")
        ready = await client.list_workflows(type="READY2RUN")
        with pytest.raises(ClientError) as other_filter:
            await client.list_workflows(name="germline", startingToken=first["nextToken"])
    assert output_problems("ListWorkflows", first) == []
    assert [w["id"] for w in first["items"] + second["items"]] == [newest, *reversed(older)]
    assert "nextToken" not in second
    assert {w["status"] for w in first["items"]} == {"ACTIVE"}
    assert [w["id"] for w in named["items"]] == [newest]
    assert ready["items"] == []
    assert error_of(other_filter) == ("ValidationException", 400)
