"""Every job kind through a real aiobotocore client: Start, Get, List, filters, pages, errors.

One table (`emulator_kinds.CASES`) says how to drive each kind; each test runs for all of them.
Responses are held against the model's output shapes.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator_kinds import CASE_IDS, CASES, KindCase, ManualClock, output_problems
from omics_waiter.testing import Faults, OmicsEmulator, Step

pytestmark = pytest.mark.asyncio


def error_of(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def never_ends(case: KindCase) -> list[Step]:
    running = "RUNNING" if case.name == "run" else "IN_PROGRESS"
    return [Step(at=0.0, status=running)]


def done_now(case: KindCase) -> list[Step]:
    return [Step(at=0.0, status=case.done_status)]


def without_annotation_completion(problems: list[str]) -> list[str]:
    # The model marks GetAnnotationImportJob's completionTime required; like every other
    # completionTime the emulator sends it only once the job has completed.
    return [
        p
        for p in problems
        if not p.endswith(".completionTime: required by GetAnnotationImportResponse, missing")
    ]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_start_get_and_list_answer_in_the_models_shapes(
    case: KindCase, make_client: Any
) -> None:
    async with OmicsEmulator(seed=2, job_seconds=(5.0, 5.0)) as emu:
        client = await make_client(emu)
        started: list[Any] = []
        client.meta.events.register(
            f"after-call.omics.{case.start_op}",
            lambda parsed, **_: started.append(parsed),
        )
        ids = await case.start(client, {})
        got = await case.get(client, ids)
        listed = await case.list(client)
    assert output_problems(case.start_op, started[0]) == []
    assert without_annotation_completion(output_problems(case.get_op, got)) == []
    assert output_problems(case.list_op, listed) == []
    assert got["status"] == case.initial_status
    assert case.list_ids(listed) == [next(iter(ids.values())) if len(ids) == 1 else ids["id"]]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_added_job_follows_its_timeline_and_job_state_matches_get(
    case: KindCase, make_client: Any
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        ids = case.add(emu, [Step(at=0.5, status=case.done_status)])
        before = await case.get(client, ids)
        clock.advance(0.5)
        after = await case.get(client, ids)
        state = emu.job_state(case.name, *ids.values())
        completed = emu.completion_time(case.name, *ids.values())
    assert before["status"] == case.initial_status
    assert after["status"] == state["status"] == case.done_status
    assert completed == pytest.approx(100.5)
    assert without_annotation_completion(output_problems(case.get_op, after)) == []


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_list_filters_by_status_newest_first_across_pages(
    case: KindCase, make_client: Any
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        done, busy = [], []
        for index in range(7):
            target = done if index % 2 == 0 else busy
            ids = case.add(emu, done_now(case) if target is done else never_ends(case))
            target.append(ids.get("id") or ids["jobId"])
            clock.advance(1.0)
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            kwargs: dict[str, Any] = {"maxResults": 2}
            if case.name == "run":
                kwargs["status"] = case.done_status
            else:
                kwargs["filter"] = {"status": case.done_status}
            if token is not None:
                kwargs[case.token_in] = token
            response = await case.list(client, **kwargs)
            pages += 1
            seen += case.list_ids(response)
            token = response.get("nextToken")
            if token is None:
                break
            clock.advance(1.0)
            case.add(emu, done_now(case))  # a newer job must not shift the pages
    assert seen == done[::-1]
    assert pages == 2


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_list_refuses_a_token_for_another_filter(case: KindCase, make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        for _ in range(3):
            case.add(emu, done_now(case))
        first = await case.list(client, maxResults=1)
        other = {"status": "FAILED"} if case.name == "run" else {"filter": {"status": "FAILED"}}
        with pytest.raises(ClientError) as exc_info:
            await case.list(client, **{case.token_in: first["nextToken"]}, **other)
    assert error_of(exc_info) == ("ValidationException", 400)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_start_breaking_the_model_is_a_validation_exception(
    case: KindCase, make_client: Any
) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu, parameter_validation=False)
        with pytest.raises(ClientError) as exc_info:
            await case.method(client, case.start_op)(**case.bad_start)
        assert emu.stats.count(case.start_op, 400) == 1
    assert error_of(exc_info) == ("ValidationException", 400)
    assert "validation error" in exc_info.value.response["Error"]["Message"]
    assert "failed to satisfy constraint" in exc_info.value.response["Error"]["Message"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_unknown_job_is_not_found(case: KindCase, make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        ids = case.add(emu, None)
        key = "jobId" if "jobId" in ids else "id"
        ids[key] = "00000000-0000-4000-8000-000000000000" if key == "jobId" else "9" * len(ids[key])
        with pytest.raises(ClientError) as exc_info:
            await case.get(client, ids)
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_quota_throttles_one_operation_without_touching_the_others(
    case: KindCase, make_client: Any
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, quota_tps={case.get_op: 1.0}) as emu:
        client = await make_client(emu)
        ids = case.add(emu, None)
        await case.get(client, ids)
        with pytest.raises(ClientError) as exc_info:
            await case.get(client, ids)
        for _ in range(3):
            await case.list(client)
        clock.advance(1.0)
        await case.get(client, ids)
        stats = emu.stats
    assert error_of(exc_info) == ("ThrottlingException", 429)
    assert stats.count(case.get_op, 429) == 1
    assert stats.count(case.get_op, 200) == 2
    assert stats.count(case.list_op, 200) == 3


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_fault_on_list_spares_get(case: KindCase, make_client: Any) -> None:
    faults = Faults(error_rate=1.0, operations=frozenset({case.list_op}))
    async with OmicsEmulator(faults=faults) as emu:
        client = await make_client(emu)
        ids = case.add(emu, None)
        await case.get(client, ids)
        with pytest.raises(ClientError) as exc_info:
            await case.list(client)
    assert error_of(exc_info) == ("InternalServerException", 500)


ITEM_CASES = [case for case in CASES if case.item_statuses is not None]


@pytest.mark.parametrize("case", ITEM_CASES, ids=[case.name for case in ITEM_CASES])
async def test_scripted_partial_failure_names_the_failed_item(
    case: KindCase, make_client: Any
) -> None:
    assert case.item_statuses is not None
    running, done, failed = case.item_statuses
    first, second = case.item_key(0), case.item_key(1)
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        ids = case.add(
            emu,
            [
                Step(at=0.1, status="IN_PROGRESS", sources={first: running, second: running}),
                Step(at=0.2, sources={first: done, second: (failed, "The file is truncated.")}),
                Step(at=0.3, status="COMPLETED_WITH_FAILURES", status_message="1 of 2 failed."),
            ],
        )
        clock.advance(0.15)
        midway = await case.get(client, ids)
        clock.advance(0.2)
        final = await case.get(client, ids)
    status_key = "jobStatus" if case.items_member == "items" else "status"
    assert case.items_member is not None
    assert {item[status_key] for item in midway[case.items_member]} == {running}
    assert final["status"] == "COMPLETED_WITH_FAILURES"
    assert final["statusMessage"] == "1 of 2 failed."
    statuses = [item[status_key] for item in final[case.items_member]]
    assert statuses == [done, failed]
    if case.name != "annotation_import_job":  # its items have no statusMessage in the model
        assert final[case.items_member][1]["statusMessage"] == "The file is truncated."
    assert "completionTime" in final


@pytest.mark.parametrize("case", ITEM_CASES, ids=[case.name for case in ITEM_CASES])
async def test_seeded_failure_rate_gives_partial_failures_with_messages(
    case: KindCase,
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(seed=4, clock=clock, failure_rate=0.5, job_seconds=(1, 1)) as emu:
        jobs = [case.add(emu, None) for _ in range(12)]
        clock.advance(1.0)
        states = [emu.job_state(case.name, *ids.values()) for ids in jobs]
    assert case.items_member is not None
    assert {state["status"] for state in states} >= {"COMPLETED_WITH_FAILURES"}
    status_key = "jobStatus" if case.items_member == "items" else "status"
    for state in states:
        assert state["statusMessage"]
        failed = [i for i in state[case.items_member] if i[status_key] == "FAILED"]
        if case.name != "annotation_import_job":
            assert all(item["statusMessage"] for item in failed)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name != "run"], ids=[c for c in CASE_IDS if c != "run"]
)
async def test_list_over_http_shows_jobs_of_its_scope_only(
    case: KindCase, make_client: Any
) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        mine = case.add(emu, None)
        if case.scope:
            other = {**case.scope}
            key = next(iter(other))
            other[key] = "1234567891"
            listed = await case.method(client, case.list_op)(**other)
            assert case.list_ids(listed) == []
        else:
            listed = await case.list(client, filter={"storeName": "other_store"})
            assert case.list_ids(listed) == []
        listed = await case.list(client)
    assert case.list_ids(listed) == [mine.get("id") or mine["jobId"]]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name not in ("variant_import_job", "annotation_import_job")],
    ids=[c for c in CASE_IDS if c not in ("variant_import_job", "annotation_import_job")],
)
async def test_idempotency_token_returns_the_same_job(case: KindCase, make_client: Any) -> None:
    token = {"requestId": "same"} if case.name == "run" else {"clientToken": "same"}
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        first = await case.start(client, token)
        again = await case.start(client, token)
        listed = await case.list(client)
    assert first == again
    assert len(case.list_ids(listed)) == 1
