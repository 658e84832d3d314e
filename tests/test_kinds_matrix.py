"""Every kind of job through the real aiobotocore client against the emulator.

Parametrized over the kinds (tests/kinds_table.py adds a job of any kind with a scripted
outcome): each outcome of `wait`, the `watch` contract and its `since=` resume, throttling
under a quota, batching through List, `wait_many` over mixed kinds, ``until="RUNNING"`` for
runs and tasks, and host-prefix injection on for each host-prefix group. Timelines last well
under a second of real time; nothing sleeps to test timing.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp.abc
import anyio
import pytest

from kinds_table import (
    ANALYTICS,
    PARTIAL_KINDS,
    STORAGE,
    WORDS,
    add,
    add_run_of_tasks,
    check_events,
    item_key,
    missing,
)
from omics_waiter import (
    ItemStatusChanged,
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    JobRef,
    JobStatusChanged,
    OmicsWaiter,
    OmicsWaiterError,
    PollRetrying,
    Run,
    RunRef,
    RunStatus,
    Task,
    TaskRef,
    TaskStatus,
    WatchEvent,
)
from omics_waiter._clock import AnyioClock
from omics_waiter._kinds import KINDS, kind_of
from omics_waiter._scheduler import BATCH_THRESHOLD
from omics_waiter.testing import OmicsEmulator, Step

MakeClient = Callable[..., Awaitable[Any]]
MAX_DELAY = 0.2


async def new_waiter(emu: OmicsEmulator, make_client: MakeClient, **options: Any) -> OmicsWaiter:
    client = await make_client(emu)
    settings: dict[str, Any] = {
        "min_delay": 0.05,
        "max_delay": MAX_DELAY,
        "max_tps": 50,
        "not_found_grace": 0.4,
        "clock": AnyioClock(),
    }
    return OmicsWaiter(client, **(settings | options))


async def outcome(waiter: OmicsWaiter, ref: JobRef[Any], **options: Any) -> Any:
    """What `wait` returns, or the error it raises."""
    try:
        return await waiter.wait(ref, timeout=10, **options)
    except OmicsWaiterError as exc:
        return exc


async def outcomes(waiter: OmicsWaiter, refs: dict[str, JobRef[Any]]) -> dict[str, Any]:
    """`outcome` of each named job, the waits running together."""
    results: dict[str, Any] = {}

    async def one(name: str, ref: JobRef[Any]) -> None:
        results[name] = await outcome(waiter, ref)

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            for name, ref in refs.items():
                tg.start_soon(one, name, ref)
    return results


# -- wait: each outcome ---------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("word", WORDS)
async def test_wait_returns_the_model_or_raises_the_outcomes_error(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    waiter = await new_waiter(emulator, make_client)
    kind = KINDS[word]
    refs = {
        "success": add(emulator, word, "success"),
        "failure": add(emulator, word, "failure"),
        "missing": missing(word),
    }
    if word in PARTIAL_KINDS:
        refs["partial"] = add(emulator, word, "partial")
    got = await outcomes(waiter, refs)

    job = got["success"]
    assert type(job) is kind_of(refs["success"]).model, job
    assert (job.ref, str(job.status) in kind.success) == (refs["success"], True)

    failed = got["failure"]
    assert type(failed) is JobFailedError, failed
    assert (failed.job.ref, str(failed.job.status)) == (refs["failure"], "FAILED")
    assert failed.ref == refs["failure"] and "FAILED" in str(failed)

    lost = got["missing"]
    assert type(lost) is JobNotFoundError, lost
    assert (lost.ref, lost.operation) == (missing(word), kind.get.name)

    if word in PARTIAL_KINDS:
        partial = got["partial"]
        assert type(partial) is JobPartiallyFailedError, partial
        assert str(partial.job.status) == "COMPLETED_WITH_FAILURES"
        (item,) = partial.failed_items
        # The model gives an annotation import's items no message.
        message = None if word == "annotation-import" else "Item 2 is corrupt."
        assert (item.status_message, item_key(item) in str(partial)) == (message, True)
        accepted = await waiter.wait(refs["partial"], timeout=5, accept_partial=True)
        assert accepted == partial.job


# -- watch: the events contract, and resuming with since= -----------------------------------


async def watch(waiter: OmicsWaiter, ref: JobRef[Any], **options: Any) -> list[WatchEvent]:
    with anyio.fail_after(10):
        return [event async for event in waiter.watch(ref, timeout=8, **options)]


def _watched(emu: OmicsEmulator, word: str, outcome: str) -> JobRef[Any]:
    if word == "run":  # a run with tasks, watched with its tasks
        return RunRef(
            emu.add_run(tasks=[[Step(0.0), Step(0.1, "RUNNING"), Step(0.3, "COMPLETED")]] * 2)
        )
    return add(emu, word, outcome, at=0.4)


@pytest.mark.serial  # the job must be seen before its end, 0.3-0.6 s after it was added
@pytest.mark.asyncio
@pytest.mark.parametrize("word", WORDS)
async def test_watch_tells_first_sight_each_change_once_and_the_end_last(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    waiter = await new_waiter(emulator, make_client)
    ref = _watched(emulator, word, "partial" if word in PARTIAL_KINDS else "success")
    events = await watch(waiter, ref, items=word == "run")
    final = check_events(events, [ref])[ref]
    changes = [e for e in events if not isinstance(e, PollRetrying)]
    assert isinstance(changes[0], JobStatusChanged) and changes[0].previous is None
    assert changes[-1] is final and isinstance(final, JobStatusChanged)
    assert final.job.ref == ref
    assert str(final.status) in KINDS[word].terminal
    statuses = [str(e.status) for e in changes if isinstance(e, JobStatusChanged)]
    assert len(statuses) >= 2, statuses  # it was seen before it ended
    # Every item is told, and ends as the job's last observation has it.
    last_items = {item_key(i): str(i.status) for i in final.job.items}
    told = {item_key(e.item): str(e.status) for e in changes if isinstance(e, ItemStatusChanged)}
    assert told == last_items
    if word == "run":
        assert len(told) == 2 and set(told.values()) == {"COMPLETED"}
    elif word in STORAGE or word in ANALYTICS:
        assert len(told) == 2


@pytest.mark.serial  # the job must be seen before its end, 0.3-0.6 s after it was added
@pytest.mark.asyncio
@pytest.mark.parametrize("word", WORDS)
async def test_watch_since_resumes_after_what_was_seen_and_repeats_nothing(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    waiter = await new_waiter(emulator, make_client)
    ref = _watched(emulator, word, "success")
    stream = waiter.watch(ref, timeout=8, items=word == "run")
    with anyio.fail_after(10):
        async for event in stream:
            if isinstance(event, JobStatusChanged):
                break
        await stream.aclose()
    # What a process would save: the job as its first sight showed it, items and all.
    seen = event.job
    assert stream.last_job == seen and not KINDS[word].is_terminal(str(seen.status)), seen
    resumed = await watch(waiter, ref, since=seen, items=word == "run")
    final = check_events(resumed, [ref], since=[seen])[ref]
    assert isinstance(final, JobStatusChanged)
    changes = [e for e in resumed if isinstance(e, JobStatusChanged | ItemStatusChanged)]
    assert changes and all(e.previous is not None for e in changes), "nothing seen is told again"
    # Nothing missed: every item ends as the job's last observation has it.
    told = {item_key(i): str(i.status) for i in seen.items}
    told |= {item_key(e.item): str(e.status) for e in changes if isinstance(e, ItemStatusChanged)}
    assert told == {item_key(i): str(i.status) for i in final.job.items}


# -- throttling under a quota ---------------------------------------------------------------


@pytest.mark.serial  # counts the 429s of a real-time quota
@pytest.mark.asyncio
@pytest.mark.parametrize("word", WORDS)
async def test_a_kind_completes_under_a_quota_with_its_429s_retried(
    make_client: MakeClient, word: str
) -> None:
    async with OmicsEmulator(seed=2, quota_tps=4) as emu:
        # Asking well above the quota: the service's 429s must be retried, not fatal.
        waiter = await new_waiter(emu, make_client, max_tps=100, min_delay=0.02)
        refs = [add(emu, word, "success", at=0.3) for _ in range(2)]
        with anyio.fail_after(15):
            events = [e async for e in waiter.watch_many(refs, timeout=12)]
        finals = check_events(events, refs)
        throttled = [e for e in events if isinstance(e, PollRetrying) and e.throttling]
        assert all(isinstance(f, JobStatusChanged) for f in finals.values()), finals
        assert {str(f.status) for f in finals.values()} <= KINDS[word].success
        assert throttled and emu.stats.count(None, "429") > 0


# -- batching through List ------------------------------------------------------------------

LISTED = [word for word in WORDS if KINDS[word].listing is not None]


@pytest.mark.asyncio
@pytest.mark.parametrize("word", LISTED)
async def test_jobs_sharing_a_list_are_swept_with_it_and_cost_few_gets(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    kind = KINDS[word]
    assert kind.listing is not None
    count = BATCH_THRESHOLD * max(1, len(kind.listing.active_statuses))
    duration = 0.6
    if word == "task":
        refs: list[JobRef[Any]] = list(add_run_of_tasks(emulator, [duration] * count))
    else:
        refs = [add(emulator, word, "success", at=duration) for _ in range(count)]
    waiter = await new_waiter(emulator, make_client)
    emulator.stats.reset()
    with anyio.fail_after(15):
        results = await waiter.wait_many(refs, timeout=10)
    assert [type(r) for r in results] == [kind_of(r).model for r in refs], results
    gets = emulator.stats.count(kind.get.name)
    lists = emulator.stats.count(kind.listing.operation.name)
    # Polled one by one at least every MAX_DELAY, the jobs would cost this many Gets.
    polls = count * (1 + duration / MAX_DELAY)
    assert (lists >= 1, gets < polls / 2) == (True, True), (gets, lists, polls)


@pytest.mark.asyncio
async def test_workflows_past_the_batch_threshold_are_polled_with_getworkflow_only(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    # `list workflow` reads ListWorkflows, which the emulator serves; waits must not sweep it.
    refs = [add(emulator, "workflow", "success", at=0.3) for _ in range(BATCH_THRESHOLD)]
    waiter = await new_waiter(emulator, make_client)
    emulator.stats.reset()
    with anyio.fail_after(15):
        results = await waiter.wait_many(refs, timeout=10)
    assert [type(r) for r in results] == [KINDS["workflow"].model] * len(refs), results
    assert emulator.stats.count("ListWorkflows") == 0
    assert emulator.stats.count("GetWorkflow") >= len(refs)


# -- wait_many over mixed kinds -------------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_many_over_every_kind_returns_outcomes_in_input_order(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client)
    cases: list[tuple[JobRef[Any], type]] = []
    for index, word in enumerate(WORDS):
        # The first finishes last; each kind has one success, then failures and losses.
        ref = add(emulator, word, "success", at=0.6 - index * 0.04)
        cases.append((ref, kind_of(ref).model))
    cases.append((add(emulator, "run", "failure", at=0.1), JobFailedError))
    cases.append((missing("task"), JobNotFoundError))
    cases.append((add(emulator, "variant-import", "partial", at=0.2), JobPartiallyFailedError))
    cases.append((add(emulator, "workflow", "failure", at=0.1), JobFailedError))
    with anyio.fail_after(15):
        results = await waiter.wait_many([ref for ref, _ in cases], timeout=10)
    assert [type(r) for r in results] == [expected for _, expected in cases]
    assert [r.ref for r in results] == [ref for ref, _ in cases]


# -- until="RUNNING" ------------------------------------------------------------------------


def _until_job(emu: OmicsEmulator, word: str, steps: list[Step]) -> JobRef[Any]:
    if word == "run":
        return RunRef(emu.add_run(timeline=steps))
    run_id = emu.add_run(tasks=[[Step(0.0), *steps]])
    return TaskRef(run_id, emu.task_ids(run_id)[0])


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["run", "task"])
async def test_until_running_returns_once_it_runs(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    waiter = await new_waiter(emulator, make_client)
    ref = _until_job(
        emulator, word, [Step(0.05, "STARTING"), Step(0.2, "RUNNING"), Step(30, "COMPLETED")]
    )
    with anyio.fail_after(5):
        job = await waiter.wait(ref, until="RUNNING", timeout=4)
    assert isinstance(job, Run | Task) and job.ref == ref
    assert job.status in (RunStatus.RUNNING, TaskStatus.RUNNING)


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["run", "task"])
async def test_until_running_returns_at_once_for_one_already_completed(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    ref = _until_job(emulator, word, [Step(0.0, "RUNNING"), Step(0.01, "COMPLETED")])
    waiter = await new_waiter(emulator, make_client)
    await anyio.sleep(0.05)  # the emulator's clock: let the job finish before the wait
    emulator.stats.reset()
    with anyio.fail_after(5):
        job = await waiter.wait(ref, until="RUNNING", timeout=4)
    assert str(job.status) == "COMPLETED"
    assert emulator.stats.count() == 1  # one Get: no second look


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["run", "task"])
async def test_until_running_fails_for_one_that_fails_before_it_runs(
    emulator: OmicsEmulator, make_client: MakeClient, word: str
) -> None:
    waiter = await new_waiter(emulator, make_client)
    ref = _until_job(
        emulator,
        word,
        [Step(0.05, "STARTING"), Step(0.2, "FAILED", failure_reason="Image not found.")],
    )
    with anyio.fail_after(5), pytest.raises(JobFailedError) as info:
        await waiter.wait(ref, until="RUNNING", timeout=4)
    assert (info.value.job.ref, str(info.value.job.status)) == (ref, "FAILED")
    assert "RUNNING" in str(info.value) and "Image not found." in str(info.value)


# -- host-prefix injection on ---------------------------------------------------------------


class LoopbackResolver(aiohttp.abc.AbstractResolver):
    """Resolves every name to 127.0.0.1, so that ``control-storage-localhost`` (and the
    other prefixed names) reach the emulator: no resolver here knows them, and a client
    with host-prefix injection on sends them in the URL and the signed Host header."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


GROUPS = {
    "control-storage": STORAGE,
    "workflows": ["run", "task", "workflow", "workflow-version"],
    "analytics": ANALYTICS,
}


@pytest.mark.asyncio
@pytest.mark.parametrize("group", list(GROUPS))
async def test_every_kind_of_a_host_prefix_group_works_with_injection_on(
    emulator: OmicsEmulator, make_client: MakeClient, group: str
) -> None:
    port = urlsplit(emulator.endpoint_url).port
    client = await make_client(
        emulator,
        inject_host_prefix=True,
        endpoint_url=f"http://localhost:{port}",
        connector_args={"resolver": LoopbackResolver()},
    )
    hosts: set[str] = set()
    client.meta.events.register(
        "before-send.omics", lambda request, **_: hosts.add(urlsplit(request.url).hostname)
    )
    waiter = OmicsWaiter(
        client, min_delay=0.05, max_delay=MAX_DELAY, max_tps=50, clock=AnyioClock()
    )
    refs = [add(emulator, word, "success", at=0.2) for word in GROUPS[group]]
    with anyio.fail_after(10):
        results = await waiter.wait_many(refs, timeout=8)
    assert [type(r) for r in results] == [kind_of(r).model for r in refs], results
    assert hosts == {f"{group}-localhost"}
    assert emulator.stats.count("Unknown") == 0


# -- the not-found grace, batched or not ----------------------------------------------------


def _late_run_tasks(emu: OmicsEmulator, count: int) -> list[TaskRef]:
    """Tasks of a run that Get and List do not show for its first 0.3 s (eventual
    consistency: what the not-found grace is for)."""
    steps = [Step(0.0), Step(0.1, "RUNNING"), Step(0.4, "COMPLETED")]
    run_id = emu.add_run(tasks=[steps] * count, visible_after=0.3)
    return [TaskRef(run_id, task_id) for task_id in emu.task_ids(run_id)]


@pytest.mark.asyncio
async def test_a_task_of_a_run_not_visible_yet_is_waited_for_through_the_grace(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client, not_found_grace=2.0)
    refs = _late_run_tasks(emulator, 1)
    with anyio.fail_after(10):
        results = await waiter.wait_many(refs, timeout=5)
    assert [type(r) for r in results] == [Task]


@pytest.mark.asyncio
async def test_tasks_swept_together_get_the_same_grace(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client, not_found_grace=2.0)
    refs = _late_run_tasks(emulator, BATCH_THRESHOLD)
    with anyio.fail_after(10):
        results = await waiter.wait_many(refs, timeout=5)
    assert [type(r) for r in results] == [Task] * BATCH_THRESHOLD, results
