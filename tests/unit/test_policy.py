"""The scheduler's pure decisions (`_policy`), without a clock: what a List item means, when to
poll a job not found again, whether a status ends a wait, and the verdict for every kind."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinds_table import PARTIAL_KINDS, WORDS, job, response_ref
from omics_waiter import (
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    WaitTimeoutError,
)
from omics_waiter._kinds import KINDS, Kind
from omics_waiter._policy import (
    Mode,
    Priority,
    deadline_error,
    listed_priority,
    not_found_error,
    not_found_retry,
    reached,
    verdict,
)

MODEL = botocore.session.get_session().get_service_model("omics")


def statuses(kind: Kind[Any]) -> list[str]:
    """Every status a job of `kind` may have: its Get's enum in the service model."""
    shape = MODEL.operation_model(kind.get.name).output_shape
    assert shape is not None
    return sorted(shape.members["status"].enum)


def on_the_way(kind: Kind[Any]) -> list[str]:
    return [s for s in kind.progression if not kind.is_terminal(s)]


# -- listed_priority ------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("mode", list(Mode))
def test_a_list_item_asks_for_a_get_only_when_it_tells_something_new(word: str, mode: Mode) -> None:
    kind = KINDS[word]
    for listed in statuses(kind):
        # Unchanged since the last Get: nothing to fetch, whatever the mode.
        assert listed_priority(kind, listed, listed, listed, mode) is None
        others = [s for s in statuses(kind) if s != listed]
        if kind.is_terminal(listed):
            # Finished: fetched first of all, in every mode, seen before or not.
            for last in [None, *others]:
                assert listed_priority(kind, listed, last, None, mode) is Priority.FINAL
            continue
        if mode is Mode.FINAL:
            # Only the end matters: an unfinished job is never fetched for a List item.
            for last in [None, *others]:
                for before in [None, listed, *others]:
                    assert listed_priority(kind, listed, last, before, mode) is None
            continue
        # A first sight is fetched, behind changes of jobs already seen.
        assert listed_priority(kind, listed, None, None, mode) is Priority.FIRST
        assert listed_priority(kind, listed, None, listed, mode) is Priority.FIRST
        for other in others:
            assert listed_priority(kind, listed, other, other, mode) is Priority.CHANGED
            # Listed before as something else, not fetched yet: it changed.
            assert listed_priority(kind, listed, None, other, mode) is Priority.CHANGED


def test_priorities_put_sweeps_and_finishing_jobs_first() -> None:
    assert sorted(Priority) == [
        Priority.SWEEP,
        Priority.FINAL,
        Priority.CHANGED,
        Priority.FIRST,
        Priority.POLL,
        Priority.PROGRESS,
    ]
    assert Mode.FINAL < Mode.CHANGES < Mode.PROGRESS


# -- not_found_retry ------------------------------------------------------------------------


def test_not_found_retry_waits_the_delay_until_the_grace_ends_then_gives_up() -> None:
    assert not_found_retry(100.0, 100.0, 30.0, 2.0) == 2.0
    assert not_found_retry(129.0, 100.0, 30.0, 2.0) == 1.0  # cut to land at the end
    assert not_found_retry(130.0, 100.0, 30.0, 2.0) is None  # the end: that was the last
    assert not_found_retry(131.0, 100.0, 30.0, 2.0) is None
    assert not_found_retry(100.0, 100.0, 0.0, 2.0) is None  # no grace: the first is the last


@given(
    grace=st.floats(0.0, 100.0),
    delays=st.lists(st.floats(0.05, 50.0), min_size=1, max_size=50),
    latency=st.sampled_from([0.0, 0.01, 0.5]),
)
def test_the_last_not_found_poll_lands_at_the_end_of_the_grace(
    grace: float, delays: list[float], latency: float
) -> None:
    """Whatever the retry delays, polls go on until one is made at the end of the grace,
    and none after it. (`now` is when a 404 came back: a response taking `latency` may
    come back after the end from a poll made up to `latency` before it, and that poll is
    the last: the grace is then that much shorter.)"""
    since = 1000.0
    end = since + grace
    now = since + latency  # the first 404's response
    polls = [since]
    for index in range(10_000):
        delay = not_found_retry(now, since, grace, delays[index % len(delays)])
        if delay is None:
            break
        assert 0 < delay <= delays[index % len(delays)]
        polls.append(now + delay)
        assert polls[-1] <= end + 1e-9, "never a poll after the grace"
        now = polls[-1] + latency
    else:
        raise AssertionError("it never gave up")
    assert now >= end
    assert polls[-1] >= end - latency - 1e-9, "the last poll is within a response of the end"
    if latency == 0 and grace > 0:
        assert polls[-1] == pytest.approx(end), "the last poll is at the end of the grace"


# -- reached --------------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
def test_without_until_only_a_terminal_status_ends_a_wait(word: str) -> None:
    kind = KINDS[word]
    for status in statuses(kind):
        assert reached(kind, status, None) is kind.is_terminal(status)
    assert reached(kind, "PAUSED", None) is False  # unknown: not an end


@pytest.mark.parametrize("word", WORDS)
def test_until_is_reached_at_a_status_that_shows_it_or_at_any_end(word: str) -> None:
    kind = KINDS[word]
    assert set(kind.evidence) == set(on_the_way(kind))
    for until in on_the_way(kind):
        for status in statuses(kind):
            expected = kind.is_terminal(status) or status in kind.evidence[until]
            assert reached(kind, status, until) is expected, (until, status)
        assert reached(kind, "PAUSED", until) is False


def test_until_running_for_runs_and_tasks_is_running_or_an_end_never_stopping() -> None:
    for word in ("run", "task"):
        kind = KINDS[word]
        assert [s for s in statuses(kind) if reached(kind, s, "RUNNING")] == sorted(
            {"RUNNING"} | kind.terminal
        )
        # A run cancelled while PENDING or STARTING stops without ever running.
        assert not reached(kind, "STOPPING", "RUNNING")
        assert not reached(kind, "STOPPING", "STARTING")


# -- verdict --------------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("accept_partial", [False, True])
def test_the_verdict_of_every_terminal_status(word: str, accept_partial: bool) -> None:
    kind = KINDS[word]
    for status in sorted(kind.terminal):
        seen = job(word, status, message="Told by the service.")
        if status in kind.success or (status in kind.partial and accept_partial):
            assert verdict(kind, seen, accept_partial=accept_partial) is seen
            continue
        expected = JobPartiallyFailedError if status in kind.partial else JobFailedError
        with pytest.raises(JobFailedError) as info:
            verdict(kind, seen, accept_partial=accept_partial)
        error = info.value
        assert type(error) is expected
        assert (error.job, error.ref) == (seen, response_ref(word))
        assert kind.noun in str(error) and str(seen.ref.ids[-1]) in str(error)
        if expected is JobFailedError:
            assert f"ended {status}: Told by the service." in str(error)
            assert error.service_message == "Told by the service."


@pytest.mark.parametrize("word", PARTIAL_KINDS)
def test_a_partial_failure_names_its_failed_items(word: str) -> None:
    kind = KINDS[word]
    seen = job(word, "COMPLETED_WITH_FAILURES")
    with pytest.raises(JobPartiallyFailedError) as info:
        verdict(kind, seen, accept_partial=False)
    (failed,) = info.value.failed_items
    assert f"1 of 2 {kind.item_noun}s failed" in str(info.value)
    assert failed in seen.items and str(failed.status) == "FAILED"


@pytest.mark.parametrize("word", WORDS)
def test_with_until_a_status_that_shows_it_is_returned_and_an_end_judged(word: str) -> None:
    kind = KINDS[word]
    for until in on_the_way(kind):
        shown = kind.evidence[until]
        for status in sorted(shown - kind.terminal):
            seen = job(word, status)
            assert verdict(kind, seen, accept_partial=False, until=until) is seen
        for status in sorted(kind.success):
            seen = job(word, status)
            assert verdict(kind, seen, accept_partial=False, until=until) is seen
        for status in sorted(kind.failure):
            with pytest.raises(JobFailedError) as info:
                verdict(kind, job(word, status), accept_partial=False, until=until)
            # It says it ended without reaching `until` only when nothing shows it did.
            without = f"ended {status} without reaching {until}" in str(info.value)
            assert without is (status not in shown), (until, status)
            assert f"ended {status}" in str(info.value)
        for status in sorted(kind.partial):
            with pytest.raises(JobPartiallyFailedError):
                verdict(kind, job(word, status), accept_partial=False, until=until)
            seen = job(word, status)
            assert verdict(kind, seen, accept_partial=True, until=until) is seen


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
def test_not_found_and_deadline_errors_name_the_job_and_where_it_is(word: str) -> None:
    kind = KINDS[word]
    ref = response_ref(word)
    where = {"reference-import": " in reference store"}.get(word, " in sequence store")
    stored = hasattr(ref, "sequence_store_id") or hasattr(ref, "reference_store_id")
    lost = not_found_error(kind, ref, operation=kind.get.name, service_message="No such job.")
    assert isinstance(lost, JobNotFoundError)
    assert (lost.ref, lost.operation, lost.service_message) == (
        ref,
        kind.get.name,
        "No such job.",
    )
    assert str(lost).startswith(f"{kind.noun} {ref.ids[-1]} was not found")
    assert (where in str(lost)) is stored
    never = deadline_error(kind, ref, last=None, never_found=True)
    assert isinstance(never, WaitTimeoutError) and (never.ref, never.job) == (ref, None)
    assert str(never).endswith("the deadline passed, and it had not been found so far")
    last = job(word, kind.progression[0])
    late = deadline_error(kind, ref, last=last, never_found=False)
    assert isinstance(late, WaitTimeoutError) and (late.ref, late.job) == (ref, last)
    assert "the deadline passed" in str(late)
