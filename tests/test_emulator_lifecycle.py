"""Job life cycles: random (seeded) and scripted, directly and through the wire."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import omics_waiter.testing
from omics_waiter.testing import OmicsEmulator, Step
from omics_waiter.testing._jobs import Job, random_timeline

STORE = "1234567890"
READ_SETS = ["1111111111", "2222222222", "3333333333"]


class ManualClock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def build(timeline: list[Step] | tuple[Step, ...]) -> Job:
    return Job.build(
        job_id="9999999999",
        scope=STORE,
        item_keys=READ_SETS,
        created=0.0,
        seq=0,
        timeline=timeline,
    )


def test_public_names_are_sorted_and_exist() -> None:
    names = omics_waiter.testing.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(omics_waiter.testing, name) is not None


@given(
    seed=st.integers(0, 2**32),
    failure_rate=st.sampled_from([0.0, 0.3, 1.0]),
    count=st.integers(1, 20),
)
def test_random_life_cycle_ends_in_the_status_its_sources_imply(
    seed: int, failure_rate: float, count: int
) -> None:
    read_sets = [str(10**9 + i) for i in range(count)]
    timeline = random_timeline(
        random.Random(seed), read_sets, job_seconds=(0.5, 2.0), failure_rate=failure_rate
    )
    job = Job.build(
        job_id="9999999999",
        scope=STORE,
        item_keys=read_sets,
        created=0.0,
        seq=0,
        timeline=timeline,
    )
    end = job.snapshot(2.0)
    assert end.completion_time is not None
    assert 0.5 <= end.completion_time <= 2.0
    outcomes = [source.status for source in end.sources]
    assert set(outcomes) <= {"FINISHED", "FAILED"}
    failed = outcomes.count("FAILED")
    expected = (
        "COMPLETED" if failed == 0 else "FAILED" if failed == count else "COMPLETED_WITH_FAILURES"
    )
    assert end.status == expected
    assert end.status_message
    assert all(s.status_message for s in end.sources if s.status == "FAILED")
    before = job.snapshot(end.completion_time - 1e-9)
    assert before.status == "IN_PROGRESS"
    assert before.completion_time is None
    assert job.snapshot(0.0).status == "SUBMITTED"
    assert {s.status for s in job.snapshot(0.0).sources} == {"NOT_STARTED"}


def test_random_life_cycle_passes_through_every_stage() -> None:
    job = build(
        random_timeline(random.Random(3), READ_SETS, job_seconds=(1.0, 1.0), failure_rate=0.0)
    )
    seen = {
        (job.snapshot(t / 100).status, s.status)
        for t in range(101)
        for s in job.snapshot(t / 100).sources
    }
    assert ("SUBMITTED", "NOT_STARTED") in seen
    assert ("IN_PROGRESS", "IN_PROGRESS") in seen
    assert ("COMPLETED", "FINISHED") in seen


def test_scripted_timeline_applies_steps_in_order_of_time() -> None:
    job = build(
        [
            Step(at=2.0, status="CANCELLED", status_message="Cancelled by the operator."),
            Step(at=0.5, status="IN_PROGRESS", sources={READ_SETS[0]: "IN_PROGRESS"}),
            Step(at=1.0, status="CANCELLING", sources={READ_SETS[0]: ("FAILED", "Cancelled.")}),
        ]
    )
    assert job.snapshot(0.4).status == "SUBMITTED"
    assert job.snapshot(0.5).status == "IN_PROGRESS"
    cancelling = job.snapshot(1.5)
    assert cancelling.status == "CANCELLING"
    assert cancelling.completion_time is None
    assert cancelling.sources[0].status == "FAILED"
    assert cancelling.sources[0].status_message == "Cancelled."
    cancelled = job.snapshot(2.0)
    assert cancelled.status == "CANCELLED"
    assert cancelled.status_message == "Cancelled by the operator."
    assert cancelled.completion_time == 2.0


def test_completion_time_is_when_the_status_first_became_terminal() -> None:
    job = build([Step(at=1.0, status="COMPLETED"), Step(at=3.0, status="FAILED")])
    assert job.snapshot(5.0).completion_time == 1.0


def test_unknown_statuses_pass_through_without_completion_time() -> None:
    job = build([Step(at=1.0, status="PAUSED", sources={READ_SETS[1]: "THAWING"})])
    state = job.snapshot(1.0)
    assert state.status == "PAUSED"
    assert state.sources[1].status == "THAWING"
    assert state.completion_time is None


def test_step_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="at"):
        Step(at=-1.0)


def test_timeline_naming_a_read_set_outside_the_job_is_refused() -> None:
    with pytest.raises(ValueError, match="4444444444"):
        build([Step(at=1.0, sources={"4444444444": "FINISHED"})])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("store", "read_sets"),
    [("123", READ_SETS), (STORE, []), (STORE, ["12ab567890"]), (STORE, READ_SETS * 7)],
)
async def test_add_job_refuses_input_the_service_would_refuse(
    store: str, read_sets: list[str]
) -> None:
    async with OmicsEmulator() as emu:
        with pytest.raises(ValueError, match=r"sequence_store_id|read_set_ids"):
            emu.add_job(store, read_sets)


def test_emulator_refuses_bad_options() -> None:
    with pytest.raises(ValueError, match="job_seconds"):
        OmicsEmulator(job_seconds=(3.0, 1.0))
    with pytest.raises(ValueError, match="failure_rate"):
        OmicsEmulator(failure_rate=2.0)
    with pytest.raises(ValueError, match="quota_tps"):
        OmicsEmulator(quota_tps=0.0)
    with pytest.raises(ValueError, match="visibility_delay"):
        OmicsEmulator(visibility_delay=-1.0)


@pytest.mark.asyncio
async def test_scripted_cancellation_over_the_wire(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        job_id = emu.add_job(
            STORE,
            READ_SETS[:1],
            timeline=[
                Step(at=0.1, status="IN_PROGRESS"),
                Step(at=0.2, status="CANCELLING", status_message="Cancellation requested."),
                Step(at=0.3, status="CANCELLED", sources={READ_SETS[0]: ("FAILED", "Cancelled.")}),
            ],
        )

        async def get() -> Any:
            return await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)

        clock.now = 10.25
        cancelling = await get()
        assert emu.completion_time(job_id) is None
        clock.now = 10.3
        cancelled = await get()
        assert emu.completion_time(job_id) == pytest.approx(10.3)
    assert cancelling["status"] == "CANCELLING"
    assert cancelling["statusMessage"] == "Cancellation requested."
    assert "completionTime" not in cancelling
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["sources"] == [
        {"readSetId": READ_SETS[0], "status": "FAILED", "statusMessage": "Cancelled."}
    ]
    assert cancelled["completionTime"] > cancelled["creationTime"]


@pytest.mark.asyncio
async def test_unknown_status_reaches_the_client_unchanged(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu)
        job_id = emu.add_job(STORE, READ_SETS[:1], timeline=[Step(at=0.0, status="PAUSED")])
        got = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
    assert got["status"] == "PAUSED"


@pytest.mark.asyncio
async def test_job_without_terminal_step_never_completes(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        job_id = emu.add_job(STORE, READ_SETS[:1], timeline=[Step(at=0.1, status="IN_PROGRESS")])
        clock.now += 10_000
        assert emu.job_state(STORE, job_id)["status"] == "IN_PROGRESS"
        assert emu.completion_time(job_id) is None


@pytest.mark.asyncio
async def test_started_job_runs_its_random_life_cycle_to_completion(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, job_seconds=(0.2, 0.6), failure_rate=0.0) as emu:
        client = await make_client(emu)
        started = await client.start_read_set_activation_job(
            sequenceStoreId=STORE, sources=[{"readSetId": r} for r in READ_SETS]
        )
        clock.now += 0.6
        done = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=started["id"])
        completed_at = emu.completion_time(started["id"])
    assert done["status"] == "COMPLETED"
    assert {s["status"] for s in done["sources"]} == {"FINISHED"}
    assert completed_at is not None
    assert 10.2 <= completed_at <= 10.6


@pytest.mark.asyncio
async def test_same_seed_gives_the_same_jobs() -> None:
    async def run() -> list[dict[str, Any]]:
        clock = ManualClock()
        async with OmicsEmulator(seed=5, clock=clock, failure_rate=0.5) as emu:
            ids = [emu.add_job(STORE, READ_SETS) for _ in range(3)]
            clock.now += 5.0
            states = [emu.job_state(STORE, job_id) for job_id in ids]
        for state in states:
            del state["creationTime"], state["completionTime"]  # wall-clock based
        return states

    assert await run() == await run()


@pytest.mark.asyncio
async def test_job_state_of_unknown_job_raises_key_error() -> None:
    async with OmicsEmulator() as emu:
        with pytest.raises(KeyError):
            emu.job_state(STORE, "1234567890")
        with pytest.raises(KeyError):
            emu.completion_time("1234567890")
