"""The event-stream contract of a many-job watch, checked on a recorded stream of events.

Shared by the many-job integration tests and the fault matrix: per job, its events come in
order, each ``previous`` is the status last reported for that job or read set, no transition is
reported twice, no retry is reported for a job after its end, and exactly one final event (a
terminal `JobStatusChanged` or a `JobWatchFailed`) ends the job's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from omics_waiter import (
    ActivationJob,
    JobStatusChanged,
    JobWatchFailed,
    PollRetrying,
    WatchEvent,
)

__all__ = ["FinalEvent", "Key", "check_events", "outcome"]

Key = tuple[str, str]
FinalEvent = JobStatusChanged | JobWatchFailed


def check_events(
    events: Sequence[WatchEvent], keys: Iterable[Key], since: Iterable[ActivationJob] = ()
) -> dict[Key, FinalEvent]:
    """Assert the many-job watch contract; return each job's final event."""
    keys = list(keys)
    job_status: dict[Key, str | None] = dict.fromkeys(keys)
    source_status: dict[tuple[str, str, str], str | None] = {}
    for job in since:
        job_status[(job.sequence_store_id, job.id)] = str(job.status)
        for seen in job.sources:
            source_status[(job.sequence_store_id, job.id, seen.read_set_id)] = str(seen.status)
    transitions: set[tuple[object, ...]] = set()
    finals: dict[Key, FinalEvent] = {}
    for event in events:
        if isinstance(event, PollRetrying):
            if event.job_id is not None:
                key = (event.sequence_store_id, event.job_id)
                assert key in job_status, f"a retry for a job not watched: {event}"
                assert key not in finals, f"a retry after the final event of {key}: {event}"
            continue
        if isinstance(event, JobStatusChanged):
            key = (event.job.sequence_store_id, event.job.id)
        else:
            key = (event.sequence_store_id, event.job_id)
        assert key in job_status, f"an event for a job not watched: {event}"
        assert key not in finals, f"an event after the final one of {key}: {event}"
        if isinstance(event, JobWatchFailed):
            finals[key] = event
            continue
        if isinstance(event, JobStatusChanged):
            previous = event.previous and str(event.previous)
            assert previous == job_status[key], f"wrong previous: {event}"
            transition: tuple[object, ...] = (key, previous, str(event.status))
            job_status[key] = str(event.status)
            if event.is_terminal:
                finals[key] = event
        else:
            source = (*key, event.source.read_set_id)
            previous = event.previous and str(event.previous)
            assert previous == source_status.get(source), f"wrong previous: {event}"
            transition = (source, previous, str(event.status))
            source_status[source] = str(event.status)
        assert transition[1] != transition[2], f"a change to the same status: {event}"
        assert transition not in transitions, f"a transition reported twice: {event}"
        transitions.add(transition)
    assert set(finals) == set(keys), f"jobs without a final event: {set(keys) - set(finals)}"
    return finals


def outcome(final: FinalEvent) -> str:
    """The final status, or the name of the error a failed job ended with."""
    if isinstance(final, JobWatchFailed):
        return type(final.error).__name__
    return str(final.status)
