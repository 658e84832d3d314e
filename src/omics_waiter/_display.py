"""What the command line shows: a live rich display, JSON lines, or only the result.

A `JobBoard` folds the watch's events into one row per job; a reporter shows them. Every
reporter has the same three moments: `started` (a job was started by ``activate``), `event`
(one watch event) and `finish` (the end: the summary, or the final result only).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ._errors import (
    AccessDeniedError,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    OmicsWaiterError,
    ServiceError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from ._events import JobStatusChanged, JobWatchFailed, PollRetrying, SourceStatusChanged, WatchEvent
from ._models import (
    ActivationJob,
    ActivationJobStatus,
    ActivationJobSummary,
    ActivationSource,
    SourceStatus,
)

__all__ = [
    "Interrupted",
    "JobBoard",
    "JobRow",
    "JsonLines",
    "LiveDisplay",
    "QuietText",
    "Reporter",
    "RetryStatus",
    "event_record",
    "iso_time",
    "outcome_text",
    "started_record",
]

_STATUS_STYLE = {
    ActivationJobStatus.SUBMITTED: "cyan",
    ActivationJobStatus.IN_PROGRESS: "blue",
    ActivationJobStatus.CANCELLING: "yellow",
    ActivationJobStatus.CANCELLED: "yellow",
    ActivationJobStatus.FAILED: "bold red",
    ActivationJobStatus.COMPLETED: "bold green",
    ActivationJobStatus.COMPLETED_WITH_FAILURES: "bold yellow",
}


def iso_time(moment: dt.datetime) -> str:
    """The one time format of the output: ISO-8601 in UTC, milliseconds, with the offset."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def _now_iso() -> str:
    return iso_time(dt.datetime.now(dt.timezone.utc))


class Interrupted(OmicsWaiterError):
    """The command was stopped by a signal (SIGINT, SIGTERM) before the job ended.

    Attributes:
        signum: The signal's number; the command exits 128 + signum.
    """

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"interrupted by {name} before the job ended; the job keeps running in the service"
        )
        self.signum = signum


# How the end of a wait reads, for the kinds of error a person meets; most specific first.
_OUTCOMES: tuple[tuple[type[OmicsWaiterError], str], ...] = (
    (Interrupted, "interrupted"),
    (WaitTimeoutError, "timed out"),
    (JobNotFoundError, "not found"),
    (AccessDeniedError, "access denied"),
    (InvalidInputError, "invalid input"),
    (UnexpectedResponseError, "unexpected response"),
    (JobFailedError, "failed"),
    (ServiceError, "service error"),
)


def outcome_text(error: OmicsWaiterError) -> str:
    """A wait's error as a person would say it: "timed out", "not found", "access denied" ..."""
    for kind, text in _OUTCOMES:
        if isinstance(error, kind):
            return text
    return "error"


@dataclass(eq=False)
class JobRow:
    """What is known of one job: its last observation, read sets, retries and final outcome."""

    sequence_store_id: str
    job_id: str
    job: ActivationJob | None = None
    sources: dict[str, ActivationSource] = field(default_factory=dict)
    retries: int = 0
    throttles: int = 0
    last_retry: PollRetrying | None = None
    error: OmicsWaiterError | None = None
    final_event: JobStatusChanged | JobWatchFailed | None = None
    added_at: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        """Whether the job's final event (terminal status or wait failure) has come."""
        return self.final_event is not None

    @property
    def status_text(self) -> str:
        if self.error is not None:
            return outcome_text(self.error)
        return "waiting" if self.job is None else self.job.status.value

    @property
    def total(self) -> int:
        return len(self.sources)

    @property
    def finished(self) -> int:
        return sum(1 for s in self.sources.values() if s.status is SourceStatus.FINISHED)

    @property
    def failed_sources(self) -> list[ActivationSource]:
        return [s for s in self.sources.values() if s.status is SourceStatus.FAILED]

    def elapsed(self) -> float:
        """Seconds since the job was created, until it completed (or now)."""
        if self.job is None:
            return time.monotonic() - self.added_at
        end = self.job.completion_time or dt.datetime.now(dt.timezone.utc)
        return max(0.0, (end - self.job.creation_time).total_seconds())


class JobBoard:
    """One `JobRow` per job, in the order the jobs were given, kept up to date by `apply`."""

    def __init__(self, jobs: Iterable[tuple[str, str]] = ()) -> None:
        self._rows: dict[tuple[str, str], JobRow] = {}
        #: Retries of requests for no single job: List sweeps of a store, job starts.
        self.store_retries = 0
        self.store_throttles = 0
        #: The latest retry of any request, to show what is failing right now, and when it came.
        self.last_retry: PollRetrying | None = None
        self.last_retry_at = 0.0
        for store, job_id in jobs:
            self.add(store, job_id)

    def add(self, sequence_store_id: str, job_id: str) -> JobRow:
        key = (sequence_store_id, job_id)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = JobRow(sequence_store_id, job_id)
        return row

    @property
    def rows(self) -> list[JobRow]:
        return list(self._rows.values())

    def __iter__(self) -> Iterator[JobRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self._rows)

    def apply(self, event: WatchEvent) -> None:
        """Fold one event into the board."""
        if isinstance(event, JobStatusChanged):
            row = self.add(event.job.sequence_store_id, event.job.id)
            row.job = event.job
            if event.job.sources:
                row.sources = {s.read_set_id: s for s in event.job.sources}
            if event.is_terminal:
                row.final_event = event
        elif isinstance(event, SourceStatusChanged):
            row = self.add(event.sequence_store_id, event.job_id)
            row.sources[event.source.read_set_id] = event.source
        elif isinstance(event, PollRetrying):
            self.last_retry = event
            self.last_retry_at = time.monotonic()
            throttled = event.throttling
            if event.job_id is None or event.sequence_store_id is None:
                self.store_retries += 1
                self.store_throttles += throttled
            else:
                row = self.add(event.sequence_store_id, event.job_id)
                row.retries += 1
                row.throttles += throttled
                row.last_retry = event
        elif isinstance(event, JobWatchFailed) and event.sequence_store_id is not None:
            row = self.add(event.sequence_store_id, event.job_id)
            if event.job is not None:
                row.job = event.job
                if event.job.sources:
                    row.sources = {s.read_set_id: s for s in event.job.sources}
            row.error = event.error
            row.final_event = event


# JSON lines: one object per event, every key present on every line of its type.


def _error_fields(error: OmicsWaiterError, redact: Callable[[str], str]) -> dict[str, Any]:
    return {
        "error": type(error).__name__,
        "error_code": error.code if isinstance(error, ServiceError) else None,
        "message": redact(str(error)),
    }


def _job_counts(job: ActivationJob | None) -> dict[str, Any]:
    if job is None:
        return {"total_read_sets": None, "finished_read_sets": None, "failed_read_sets": None}
    return {
        "total_read_sets": len(job.sources),
        "finished_read_sets": len(job.finished_sources),
        "failed_read_sets": len(job.failed_sources),
    }


def event_record(event: WatchEvent, *, redact: Callable[[str], str] = str) -> dict[str, Any]:
    """The JSON object for one watch event (see docs/cli.md for the schema)."""
    record: dict[str, Any]
    if isinstance(event, JobStatusChanged):
        record = {
            "type": "job_status_changed",
            "time": iso_time(event.time),
            "sequence_store_id": event.job.sequence_store_id,
            "job_id": event.job.id,
            "status": event.job.status.value,
            "previous": None if event.previous is None else event.previous.value,
            "status_message": event.job.status_message,
            **_job_counts(event.job),
        }
    elif isinstance(event, SourceStatusChanged):
        record = {
            "type": "source_status_changed",
            "time": iso_time(event.time),
            "sequence_store_id": event.sequence_store_id,
            "job_id": event.job_id,
            "status": event.source.status.value,
            "previous": None if event.previous is None else event.previous.value,
            "status_message": event.source.status_message,
            "read_set_id": event.source.read_set_id,
        }
    elif isinstance(event, PollRetrying):
        record = {
            "type": "poll_retrying",
            "time": iso_time(event.time),
            "sequence_store_id": event.sequence_store_id,
            "job_id": event.job_id,
            "status": None,
            "previous": None,
            "status_message": None,
            "operation": event.operation,
            "reason": event.reason,
            "attempt": event.attempt,
            "delay": round(event.delay, 3),
            "throttling": event.throttling,
        }
    elif isinstance(event, JobWatchFailed):
        job = event.job
        record = {
            "type": "job_wait_failed",
            "time": iso_time(event.time),
            "sequence_store_id": event.sequence_store_id,
            "job_id": event.job_id,
            "status": None if job is None else job.status.value,
            "previous": None,
            "status_message": None if job is None else job.status_message,
            **_error_fields(event.error, redact),
        }
    else:
        # Events of other kinds than activation jobs, and budget changes: the command
        # line follows activation jobs only in this release.
        record = {
            "type": type(event).__name__,
            "time": iso_time(event.time),
            "sequence_store_id": None,
            "job_id": None,
            "status": None,
            "previous": None,
            "status_message": None,
        }
    return record


def started_record(summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> dict[str, Any]:
    """The JSON object for a job that ``activate`` started (or found started by its token)."""
    return {
        "type": "job_started",
        "time": _now_iso(),
        "sequence_store_id": summary.sequence_store_id,
        "job_id": summary.id,
        "status": summary.status.value,
        "previous": None,
        "status_message": None,
        "read_set_ids": list(read_set_ids),
    }


class Reporter(Protocol):
    """Shows a run: jobs started, events as they come, and the end."""

    def __enter__(self) -> Reporter: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None: ...

    def event(self, event: WatchEvent) -> None: ...

    def finish(self, board: JobBoard, *, note: str | None = None) -> None: ...


class JsonLines:
    """One JSON object per line per event; with `quiet`, only each job's final event."""

    def __init__(
        self, stream: TextIO, *, quiet: bool = False, redact: Callable[[str], str] = str
    ) -> None:
        self._stream = stream
        self._quiet = quiet
        self._redact = redact

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def _write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None:
        if not self._quiet:
            self._write(started_record(summary, read_set_ids))

    def event(self, event: WatchEvent) -> None:
        if not self._quiet:
            self._write(event_record(event, redact=self._redact))

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        if self._quiet:
            for row in board:
                if row.final_event is not None:
                    self._write(event_record(row.final_event, redact=self._redact))


def _short(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _status_cell(row: JobRow) -> Text:
    if row.error is not None:
        return Text(row.status_text, style="bold red")
    style = _STATUS_STYLE.get(row.job.status, "") if row.job is not None else "dim"
    return Text(row.status_text, style=style)


def _retries_cell(row: JobRow) -> Text:
    if not row.retries:
        return Text("0", style="dim")
    return Text(f"{row.retries} ({row.throttles} thr.)", style="yellow")


def _read_sets_cell(row: JobRow) -> Table:
    """A bar of read sets done (activated or failed) over all, and the activated count."""
    failed = len(row.failed_sources)
    style = "yellow" if failed else "green"
    bar = ProgressBar(
        total=max(row.total, 1),
        completed=row.finished + failed if row.total else 0,
        width=10,
        complete_style=style,
        finished_style=style,
    )
    cell = Table.grid(padding=(0, 1))
    cell.add_row(bar, f"{row.finished:>2}/{row.total:<2}" if row.total else "  -  ")
    return cell


def _table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def _progress_table(board: JobBoard) -> Table:
    table = _table("Read set activation jobs")
    table.add_column("job", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("activated", no_wrap=True)
    table.add_column("failed", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("retries", justify="right", no_wrap=True)
    for row in board:
        failed = len(row.failed_sources)
        table.add_row(
            row.job_id,
            _status_cell(row),
            _read_sets_cell(row),
            Text(str(failed), style="red" if failed else "dim"),
            _short(row.elapsed()),
            _retries_cell(row),
        )
    return table


def _progress(board: JobBoard) -> RenderableType:
    """The live picture: the table, then what is being retried (wider than the table)."""
    lines = []
    if board.store_retries:
        lines.append(
            f"requests for no single job (List, Start) retried {board.store_retries} times "
            f"({board.store_throttles} throttled)"
        )
    retry = board.last_retry
    # Only while it matters: until a little after the retry it announced should have run.
    if retry is not None and time.monotonic() - board.last_retry_at < retry.delay + 5.0:
        lines.append(f"last retry: {retry_text(retry)}")
    if not lines:
        return _progress_table(board)
    return Group(_progress_table(board), Text("\n".join(lines), style="yellow"))


def retry_text(event: PollRetrying) -> str:
    """One retry: "GetReadSetActivationJob failed (ConnectionError), attempt 3, next in 1.2s"."""
    kind = "throttled" if event.throttling else "failed"
    return (
        f"{event.operation} {kind} ({event.reason}), attempt {event.attempt}, "
        f"next in {event.delay:.1f}s"
    )


def _said(row: JobRow) -> str:
    """A row's outcome in the summary's verdict: "completed with failures", "timed out" ..."""
    if row.error is None and row.job is not None:
        return row.job.status.value.lower().replace("_", " ")
    return row.status_text


def summary(board: JobBoard, *, note: str | None = None) -> RenderableType:
    """The end of a run on a terminal: every job, the failed read sets, and a verdict."""
    jobs = _table("Summary")
    jobs.add_column("job", no_wrap=True)
    jobs.add_column("status", no_wrap=True)
    jobs.add_column("activated", justify="right", no_wrap=True)
    jobs.add_column("failed", justify="right", no_wrap=True)
    jobs.add_column("time", justify="right", no_wrap=True)
    jobs.add_column("retries", justify="right", no_wrap=True)
    failures = _table("Failed read sets")
    failures.add_column("job", no_wrap=True)
    failures.add_column("read set", no_wrap=True)
    failures.add_column("message")
    for row in board:
        failed = row.failed_sources
        jobs.add_row(
            row.job_id,
            _status_cell(row),
            f"{row.finished}/{row.total}" if row.total else "-",
            Text(str(len(failed)), style="red" if failed else "dim"),
            _short(row.elapsed()),
            _retries_cell(row),
        )
        for source in failed:
            failures.add_row(row.job_id, source.read_set_id, source.status_message or "")
    counts: dict[str, int] = {}
    for row in board:
        said = _said(row)
        counts[said] = counts.get(said, 0) + 1
    verdict = ", ".join(f"{n} {status}" for status, n in counts.items())
    parts: list[RenderableType] = [jobs]
    if failures.row_count:
        parts += [Text(""), failures]
    retries = sum(row.retries for row in board) + board.store_retries
    throttles = sum(row.throttles for row in board) + board.store_throttles
    line = f"{len(board)} job{'s' if len(board) != 1 else ''}: {verdict}"
    if retries:
        line += f"; {retries} polls retried ({throttles} throttled)"
    parts += [Text(""), Text(line, style="bold")]
    if note:
        parts.append(Text(note))
    return Group(*parts)


class LiveDisplay:
    """On a terminal: a live table with one row per job, then the summary."""

    def __init__(self, console: Console, board: JobBoard) -> None:
        self._console = console
        self._board = board
        self._live = Live(
            get_renderable=lambda: _progress(self._board),
            console=console,
            refresh_per_second=8,
            transient=True,
        )

    def __enter__(self) -> LiveDisplay:
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            # Interrupted or failed: leave the last picture on the screen.
            self._live.transient = False
        self._live.stop()

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None:
        self._board.add(summary.sequence_store_id, summary.id)

    def event(self, event: WatchEvent) -> None:
        # The board is already up to date; Live redraws from it on its own schedule.
        return None

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        self._live.stop()
        self._console.print(summary(board, note=note))


class QuietText:
    """``--quiet`` on a terminal: no progress, one line per job at the end."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __enter__(self) -> QuietText:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None:
        return None

    def event(self, event: WatchEvent) -> None:
        return None

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        for row in board:
            failed = row.failed_sources
            line = f"{row.sequence_store_id} {row.job_id} {row.status_text}"
            if row.total:
                line += f" {row.finished}/{row.total} activated"
            if failed:
                line += " failed: " + ", ".join(s.read_set_id for s in failed)
            self._stream.write(line + "\n")
        self._stream.flush()


class RetryStatus:
    """``list`` on a terminal: while a request is retried, a line on stderr says why.

    The line is a transient spinner: it goes away (and the cursor comes back) on exit.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Any = None

    def __enter__(self) -> RetryStatus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._status is not None:
            self._status.stop()

    def event(self, event: PollRetrying) -> None:
        text = f"retrying: {retry_text(event)}"
        if self._status is None:
            self._status = self._console.status(text)
            self._status.start()
        else:
            self._status.update(text)
