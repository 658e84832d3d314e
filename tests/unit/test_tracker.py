from fakes import job_body
from omics_waiter import JobStatusChanged, SourceStatusChanged
from omics_waiter._kinds import ACTIVATION_JOB
from omics_waiter._models import parse_job
from omics_waiter._tracker import JobTracker


def kinds(events: list[object]) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    for e in events:
        if isinstance(e, JobStatusChanged):
            out.append(("job", e.status.value, e.previous and e.previous.value))
        elif isinstance(e, SourceStatusChanged):
            out.append((e.source.read_set_id, e.status.value, e.previous and e.previous.value))
    return out


R1, R2 = "1111111111", "2222222222"


def test_first_observation_reports_the_job_then_every_source() -> None:
    tracker = JobTracker(ACTIVATION_JOB)
    events = tracker.observe(
        parse_job(job_body("SUBMITTED", {R1: "NOT_STARTED", R2: "NOT_STARTED"}))
    )
    assert kinds(events) == [
        ("job", "SUBMITTED", None),
        (R1, "NOT_STARTED", None),
        (R2, "NOT_STARTED", None),
    ]


def test_an_unchanged_observation_reports_nothing() -> None:
    tracker = JobTracker(ACTIVATION_JOB)
    job = parse_job(job_body("IN_PROGRESS", {R1: "IN_PROGRESS"}))
    tracker.observe(job)
    assert tracker.observe(job) == []


def test_a_terminal_job_event_comes_after_its_sources() -> None:
    tracker = JobTracker(ACTIVATION_JOB)
    tracker.observe(parse_job(job_body("IN_PROGRESS", {R1: "IN_PROGRESS", R2: "IN_PROGRESS"})))
    events = tracker.observe(parse_job(job_body("COMPLETED", {R1: "FINISHED", R2: "FINISHED"})))
    assert kinds(events) == [
        (R1, "FINISHED", "IN_PROGRESS"),
        (R2, "FINISHED", "IN_PROGRESS"),
        ("job", "COMPLETED", "IN_PROGRESS"),
    ]
    assert tracker.is_terminal


def test_since_suppresses_what_was_already_seen() -> None:
    seen = parse_job(job_body("IN_PROGRESS", {R1: "FINISHED", R2: "IN_PROGRESS"}))
    tracker = JobTracker(ACTIVATION_JOB, since=seen)
    events = tracker.observe(parse_job(job_body("IN_PROGRESS", {R1: "FINISHED", R2: "FAILED"})))
    assert kinds(events) == [(R2, "FAILED", "IN_PROGRESS")]
