"""The three operations through a real aiobotocore client: shapes, validation, errors, paging."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from omics_waiter.testing import Faults, OmicsEmulator, Step

STORE = "1234567890"
OTHER_STORE = "1234567891"
READ_SETS = ["1111111111", "2222222222", "3333333333"]


class ManualClock:
    """An emulator clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def error_of(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def payload(response: Any) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


@pytest.mark.asyncio
async def test_start_returns_a_submitted_job(omics_client: Any) -> None:
    response = await omics_client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=[{"readSetId": r} for r in READ_SETS]
    )
    body = payload(response)
    assert set(body) == {"id", "sequenceStoreId", "status", "creationTime"}
    assert body["id"].isdigit()
    assert 10 <= len(body["id"]) <= 36
    assert body["sequenceStoreId"] == STORE
    assert body["status"] == "SUBMITTED"
    assert abs(body["creationTime"] - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)


@pytest.mark.asyncio
async def test_get_returns_the_job_with_every_source(
    emulator: OmicsEmulator, omics_client: Any
) -> None:
    started = await omics_client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=[{"readSetId": r} for r in READ_SETS]
    )
    body = payload(
        await omics_client.get_read_set_activation_job(sequenceStoreId=STORE, id=started["id"])
    )
    assert body["id"] == started["id"]
    assert body["creationTime"] == started["creationTime"]
    assert [source["readSetId"] for source in body["sources"]] == READ_SETS
    assert all(source["status"] == "NOT_STARTED" for source in body["sources"])
    assert body["status"] == "SUBMITTED"
    assert "completionTime" not in body


@pytest.mark.asyncio
async def test_job_state_matches_what_get_returns(
    emulator: OmicsEmulator, make_client: Any
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, job_seconds=(1.0, 1.0)) as emu:
        client = await make_client(emu)
        job_id = emu.add_job(STORE, READ_SETS)
        clock.advance(2.0)
        got = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
        state = emu.job_state(STORE, job_id)
    assert state["status"] == got["status"] == "COMPLETED"
    assert state["sources"] == got["sources"]
    assert isinstance(state["creationTime"], str)
    assert state["creationTime"].endswith("Z")


@pytest.mark.asyncio
async def test_list_returns_jobs_newest_first_without_sources(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        ids = []
        for _ in range(3):
            ids.append(emu.add_job(STORE, READ_SETS[:1]))
            clock.advance(1.0)
        emu.add_job(OTHER_STORE, READ_SETS[:1])
        response = await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    jobs = response["activationJobs"]
    assert [job["id"] for job in jobs] == ids[::-1]
    assert "nextToken" not in response
    assert set(jobs[0]) == {"id", "sequenceStoreId", "status", "creationTime"}


@pytest.mark.asyncio
async def test_list_filters_by_status_and_creation_time(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        done = [Step(at=0.0, status="COMPLETED")]
        old = emu.add_job(STORE, READ_SETS[:1], timeline=done)
        clock.advance(60.0)
        middle = emu.add_job(STORE, READ_SETS[:1], timeline=[])
        clock.advance(60.0)
        new = emu.add_job(STORE, READ_SETS[:1], timeline=done)
        created = {
            job["id"]: job["creationTime"]
            for job in (await client.list_read_set_activation_jobs(sequenceStoreId=STORE))[
                "activationJobs"
            ]
        }

        async def ids(**flt: Any) -> list[str]:
            response = await client.list_read_set_activation_jobs(sequenceStoreId=STORE, filter=flt)
            return [job["id"] for job in response["activationJobs"]]

        assert await ids(status="COMPLETED") == [new, old]
        assert await ids(status="SUBMITTED") == [middle]
        assert await ids(createdAfter=created[middle]) == [new, middle]
        assert await ids(createdBefore=created[middle]) == [middle, old]
        assert await ids(createdAfter=created[old], createdBefore=created[old]) == [old]
        assert await ids(status="COMPLETED", createdAfter=created[middle]) == [new]


@pytest.mark.asyncio
async def test_list_completed_jobs_carry_completion_time(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        emu.add_job(STORE, READ_SETS[:1], timeline=[Step(at=1.5, status="COMPLETED")])
        clock.advance(2.0)
        (job,) = (await client.list_read_set_activation_jobs(sequenceStoreId=STORE))[
            "activationJobs"
        ]
    assert job["completionTime"] - job["creationTime"] == dt.timedelta(seconds=1.5)


@pytest.mark.asyncio
async def test_pagination_neither_skips_nor_repeats_while_jobs_change_status(
    make_client: Any,
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        created = []
        for index in range(10):
            timeline = [
                Step(at=0.5 + index * 0.1, status="IN_PROGRESS"),
                Step(at=1.0 + index * 0.2, status="COMPLETED"),
            ]
            created.append(emu.add_job(STORE, READ_SETS[:1], timeline=timeline))
            clock.advance(0.1)
        seen: list[str] = []
        statuses: list[set[str]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"sequenceStoreId": STORE, "maxResults": 3}
            if token is not None:
                kwargs["nextToken"] = token
            response = await client.list_read_set_activation_jobs(**kwargs)
            seen.extend(job["id"] for job in response["activationJobs"])
            statuses.append({job["status"] for job in response["activationJobs"]})
            token = response.get("nextToken")
            if token is None:
                break
            clock.advance(0.7)  # statuses move on between pages
            emu.add_job(STORE, READ_SETS[:1])  # a newer job must not shift the pages
    assert seen == created[::-1]
    assert len(statuses) == 4
    assert statuses[0] != statuses[-1]


@pytest.mark.asyncio
async def test_paginator_walks_every_page(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        created = [emu.add_job(STORE, READ_SETS[:1]) for _ in range(7)]
        paginator = client.get_paginator("list_read_set_activation_jobs")
        pages = [
            page
            async for page in paginator.paginate(
                sequenceStoreId=STORE, PaginationConfig={"PageSize": 2}
            )
        ]
    assert [len(page["activationJobs"]) for page in pages] == [2, 2, 2, 1]
    assert sorted(job["id"] for page in pages for job in page["activationJobs"]) == sorted(created)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "token",
    ["garbage", "e30.0000", "!!!!"],
)
async def test_list_refuses_a_token_it_did_not_issue(
    emulator: OmicsEmulator, omics_client: Any, token: str
) -> None:
    with pytest.raises(ClientError) as exc_info:
        await omics_client.list_read_set_activation_jobs(sequenceStoreId=STORE, nextToken=token)
    assert error_of(exc_info) == ("ValidationException", 400)


@pytest.mark.asyncio
async def test_list_refuses_a_token_from_another_store_or_filter(
    emulator: OmicsEmulator, omics_client: Any
) -> None:
    for _ in range(3):
        emulator.add_job(STORE, READ_SETS[:1])
    first = await omics_client.list_read_set_activation_jobs(sequenceStoreId=STORE, maxResults=1)
    token = first["nextToken"]
    for kwargs in (
        {"sequenceStoreId": OTHER_STORE},
        {"sequenceStoreId": STORE, "filter": {"status": "SUBMITTED"}},
    ):
        with pytest.raises(ClientError) as exc_info:
            await omics_client.list_read_set_activation_jobs(nextToken=token, **kwargs)
        assert error_of(exc_info) == ("ValidationException", 400)


@pytest.mark.asyncio
async def test_same_client_token_and_request_returns_the_same_job(omics_client: Any) -> None:
    sources = [{"readSetId": r} for r in READ_SETS]
    first = await omics_client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=sources, clientToken="token-1"
    )
    again = await omics_client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=sources, clientToken="token-1"
    )
    listed = await omics_client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert again["id"] == first["id"]
    assert again["creationTime"] == first["creationTime"]
    assert [job["id"] for job in listed["activationJobs"]] == [first["id"]]


@pytest.mark.asyncio
async def test_same_client_token_with_another_request_is_refused(omics_client: Any) -> None:
    await omics_client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=[{"readSetId": READ_SETS[0]}], clientToken="token-1"
    )
    with pytest.raises(ClientError) as exc_info:
        await omics_client.start_read_set_activation_job(
            sequenceStoreId=STORE, sources=[{"readSetId": READ_SETS[1]}], clientToken="token-1"
        )
    assert error_of(exc_info) == ("ValidationException", 400)


@pytest.mark.asyncio
async def test_client_tokens_are_scoped_to_the_sequence_store(omics_client: Any) -> None:
    sources = [{"readSetId": READ_SETS[0]}]
    first = await omics_client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=sources, clientToken="token-1"
    )
    other = await omics_client.start_read_set_activation_job(
        sequenceStoreId=OTHER_STORE, sources=sources, clientToken="token-1"
    )
    assert other["id"] != first["id"]


@pytest.mark.asyncio
async def test_start_without_client_token_creates_a_new_job_each_time(omics_client: Any) -> None:
    sources = [{"readSetId": READ_SETS[0]}]
    first = await omics_client.start_read_set_activation_job(sequenceStoreId=STORE, sources=sources)
    again = await omics_client.start_read_set_activation_job(sequenceStoreId=STORE, sources=sources)
    assert first["id"] != again["id"]


VALIDATION_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "short store id", {"sequenceStoreId": "123", "id": "1234567890"}),
    ("get", "store id not digits", {"sequenceStoreId": "12345abcde", "id": "1234567890"}),
    ("get", "job id too long", {"sequenceStoreId": STORE, "id": "1" * 37}),
    ("start", "no sources", {"sequenceStoreId": STORE, "sources": []}),
    (
        "start",
        "21 sources",
        {"sequenceStoreId": STORE, "sources": [{"readSetId": str(10**10 + i)} for i in range(21)]},
    ),
    ("start", "read set id short", {"sequenceStoreId": STORE, "sources": [{"readSetId": "12"}]}),
    (
        "start",
        "client token too long",
        {
            "sequenceStoreId": STORE,
            "sources": [{"readSetId": READ_SETS[0]}],
            "clientToken": "x" * 128,
        },
    ),
    (
        "start",
        "empty client token",
        {"sequenceStoreId": STORE, "sources": [{"readSetId": READ_SETS[0]}], "clientToken": ""},
    ),
    ("list", "max results 0", {"sequenceStoreId": STORE, "maxResults": 0}),
    ("list", "max results 101", {"sequenceStoreId": STORE, "maxResults": 101}),
    ("list", "unknown filter status", {"sequenceStoreId": STORE, "filter": {"status": "PAUSED"}}),
    ("list", "store id too long", {"sequenceStoreId": "1" * 37}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [(op, kwargs) for op, _, kwargs in VALIDATION_CASES],
    ids=[name for _, name, _ in VALIDATION_CASES],
)
async def test_invalid_input_gives_validation_exception(
    emulator: OmicsEmulator, make_client: Any, operation: str, kwargs: dict[str, Any]
) -> None:
    # The client checks some constraints itself; turn that off so the server's checks are tested.
    client = await make_client(emulator, parameter_validation=False)
    method = getattr(
        client, f"{operation}_read_set_activation_job" + ("s" if operation == "list" else "")
    )
    with pytest.raises(ClientError) as exc_info:
        await method(**kwargs)
    assert error_of(exc_info) == ("ValidationException", 400)
    assert "validation error" in exc_info.value.response["Error"]["Message"]


@pytest.mark.asyncio
async def test_max_results_at_the_limits_is_accepted(
    emulator: OmicsEmulator, omics_client: Any
) -> None:
    emulator.add_job(STORE, READ_SETS[:1])
    emulator.add_job(STORE, READ_SETS[:1])
    one = await omics_client.list_read_set_activation_jobs(sequenceStoreId=STORE, maxResults=1)
    hundred = await omics_client.list_read_set_activation_jobs(
        sequenceStoreId=STORE, maxResults=100
    )
    assert len(one["activationJobs"]) == 1
    assert "nextToken" in one
    assert len(hundred["activationJobs"]) == 2


@pytest.mark.asyncio
async def test_unknown_job_is_not_found(emulator: OmicsEmulator, omics_client: Any) -> None:
    with pytest.raises(ClientError) as exc_info:
        await omics_client.get_read_set_activation_job(sequenceStoreId=STORE, id="9999999999")
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


@pytest.mark.asyncio
async def test_job_of_another_store_is_not_found(
    emulator: OmicsEmulator, omics_client: Any
) -> None:
    job_id = emulator.add_job(STORE, READ_SETS[:1])
    with pytest.raises(ClientError) as exc_info:
        await omics_client.get_read_set_activation_job(sequenceStoreId=OTHER_STORE, id=job_id)
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


@pytest.mark.asyncio
async def test_job_is_invisible_until_its_visibility_delay_passes(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        job_id = emu.add_job(STORE, READ_SETS[:1], visible_after=1.0)
        with pytest.raises(ClientError) as exc_info:
            await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
        hidden = await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        clock.advance(1.0)
        found = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)
    assert hidden["activationJobs"] == []
    assert found["id"] == job_id


@pytest.mark.asyncio
async def test_visibility_delay_applies_to_jobs_started_over_http(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, visibility_delay=2.0) as emu:
        client = await make_client(emu)
        started = await client.start_read_set_activation_job(
            sequenceStoreId=STORE, sources=[{"readSetId": READ_SETS[0]}]
        )
        with pytest.raises(ClientError) as exc_info:
            await client.get_read_set_activation_job(sequenceStoreId=STORE, id=started["id"])
        clock.advance(2.0)
        found = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=started["id"])
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)
    assert found["id"] == started["id"]


MODELLED_ERRORS = [
    ("ValidationException", 400),
    ("ServiceQuotaExceededException", 402),
    ("AccessDeniedException", 403),
    ("ResourceNotFoundException", 404),
    ("RequestTimeoutException", 408),
    ("ThrottlingException", 429),
    ("InternalServerException", 500),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "status"), MODELLED_ERRORS)
async def test_each_modelled_error_reaches_the_client_with_its_code_and_status(
    make_client: Any, code: str, status: int
) -> None:
    async with OmicsEmulator(faults=Faults(error_rate=1.0, error_code=code)) as emu:
        client = await make_client(emu)
        with pytest.raises(ClientError) as exc_info:
            await client.start_read_set_activation_job(
                sequenceStoreId=STORE, sources=[{"readSetId": READ_SETS[0]}]
            )
    assert error_of(exc_info) == (code, status)
    assert exc_info.value.response["Error"]["Message"]
    assert exc_info.value.response["ResponseMetadata"]["RequestId"]


@pytest.mark.asyncio
async def test_modelled_error_is_raised_as_the_clients_modelled_exception_class(
    make_client: Any,
) -> None:
    async with OmicsEmulator(
        faults=Faults(error_rate=1.0, error_code="ThrottlingException")
    ) as emu:
        client = await make_client(emu)
        with pytest.raises(client.exceptions.ThrottlingException):
            await client.get_read_set_activation_job(sequenceStoreId=STORE, id="1234567890")


@pytest.mark.asyncio
async def test_quota_throttles_requests_beyond_the_token_bucket(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, quota_tps=2.0) as emu:
        client = await make_client(emu)
        job_id = emu.add_job(STORE, READ_SETS[:1])
        for _ in range(2):
            await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
        with pytest.raises(ClientError) as exc_info:
            await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
        # The bucket is per operation: List still has its own tokens.
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        clock.advance(0.5)  # refills one token at 2 TPS
        await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
        stats = emu.stats
    assert error_of(exc_info) == ("ThrottlingException", 429)
    assert stats.count("GetReadSetActivationJob", 429) == 1
    assert stats.count("GetReadSetActivationJob", 200) == 3


@pytest.mark.asyncio
async def test_quota_below_one_tps_still_admits_one_request(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, quota_tps=0.5) as emu:
        client = await make_client(emu)
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        with pytest.raises(ClientError):
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        clock.advance(2.0)
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
