"""Property-based tests: whatever history a job has, the events tell it exactly once, in order."""

from __future__ import annotations

import contextlib

import anyio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import JOB, STORE, FakeClient, FakeClock, job_body
from omics_waiter import (
    ActivationJob,
    JobStatusChanged,
    OmicsWaiter,
    PollRetrying,
    SourceStatusChanged,
    WaitTimeoutError,
)
from omics_waiter._models import parse_job

JOB_PATH = ["SUBMITTED", "IN_PROGRESS"]
TERMINAL = ["COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"]
SOURCE_PATH = ["NOT_STARTED", "IN_PROGRESS"]
SOURCE_END = ["FINISHED", "FAILED"]


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, object]]:
    """What successive polls of one job return: statuses move forward, repeat or skip ahead."""
    read_sets = [f"{1000000000 + i}" for i in range(draw(st.integers(1, 5)))]
    source_ends = {r: draw(st.sampled_from(SOURCE_END)) for r in read_sets}
    job_end = draw(st.sampled_from(TERMINAL))
    # Each poll index maps to a point on each path; indices never decrease.
    polls = draw(st.integers(1, 12))
    job_steps = sorted(draw(st.lists(st.integers(0, 2), min_size=polls, max_size=polls)))
    source_steps = {
        r: sorted(draw(st.lists(st.integers(0, 2), min_size=polls, max_size=polls)))
        for r in read_sets
    }
    history = []
    for i in range(polls):
        last = i == polls - 1
        job_status = job_end if last else [*JOB_PATH, JOB_PATH[-1]][job_steps[i]]
        sources = {
            r: source_ends[r]
            if last or source_steps[r][i] == 2
            else SOURCE_PATH[source_steps[r][i]]
            for r in read_sets
        }
        history.append(job_body(job_status, sources))
    return history


def check_stream(
    events: list[object], start: ActivationJob | None, final: dict[str, object]
) -> None:
    job_status = start.status if start else None
    sources = {s.read_set_id: s.status for s in start.sources} if start else {}
    transitions: set[tuple[object, ...]] = set()
    for i, event in enumerate(events):
        assert not isinstance(event, PollRetrying)
        if isinstance(event, JobStatusChanged):
            assert event.previous == job_status
            assert event.status != job_status
            key: tuple[object, ...] = ("job", event.previous, event.status)
            job_status = event.status
            if event.is_terminal:
                assert i == len(events) - 1, "the terminal event comes once, and last"
                assert event.job == parse_job(final)
        else:
            assert isinstance(event, SourceStatusChanged)
            rid = event.source.read_set_id
            assert event.previous == sources.get(rid)
            assert event.status != sources.get(rid)
            key = (rid, event.previous, event.status)
            sources[rid] = event.status
        assert key not in transitions, "no transition is reported twice"
        transitions.add(key)
    assert job_status == final["status"]
    assert sources == {s["readSetId"]: s["status"] for s in final["sources"]}  # type: ignore[attr-defined]


def virtual() -> dict[str, object]:
    """A fresh virtual clock for each run: the scheduler runs several tasks, and trio's
    MockClock (autojump) gives them one coherent virtual time."""
    return {"clock": trio.testing.MockClock(autojump_threshold=0)}


async def watch(
    history: list[dict[str, object]], since: ActivationJob | None = None
) -> list[object]:
    """The events of a watch over `history`; one that never ends stops at a 100 s deadline."""
    clock = FakeClock()
    client = FakeClient(history, clock)
    waiter = OmicsWaiter(client, clock=clock, min_delay=1, max_delay=8)  # type: ignore[arg-type]
    events: list[object] = []
    with contextlib.suppress(WaitTimeoutError):
        async for event in waiter.watch_activation_job(STORE, JOB, since=since, timeout=100):
            events.append(event)
    assert len(client.calls) >= len(history)
    return events


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(history=histories())
def test_events_tell_every_history_once_in_order(history: list[dict[str, object]]) -> None:
    events = anyio.run(watch, history, backend="trio", backend_options=virtual())
    check_stream(events, None, history[-1])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_resuming_with_since_repeats_nothing_and_misses_nothing(
    history: list[dict[str, object]], data: st.DataObject
) -> None:
    """A restarted watcher that saw poll k resumes from it: together they tell the history once."""
    k = data.draw(st.integers(0, len(history) - 1))
    first = anyio.run(watch, history[: k + 1], backend="trio", backend_options=virtual())
    seen = parse_job(history[k])
    if seen.is_terminal:
        return
    resumed = anyio.run(watch, history[k:], seen, backend="trio", backend_options=virtual())
    check_stream(resumed, seen, history[-1])
    whole = [e for e in first if not (isinstance(e, JobStatusChanged) and e.is_terminal)]
    check_stream(whole + resumed, None, history[-1])
