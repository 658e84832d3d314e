"""What the command line shows: a live rich display, JSON lines, or only the result.

A `JobBoard` folds the watch's events into one row per job, whatever its kind; a reporter
shows them. Every reporter has the same moments: `started` (a job was started by
``activate``), `budget` (the shared request budget's mode at the start), `event` (one watch
event) and `finish` (the end: the summary, or the final result only).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
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
from ._events import (
    BudgetModeChanged,
    ItemStatusChanged,
    JobStatusChanged,
    JobWatchFailed,
    PollRetrying,
    PushModeChanged,
    SourceStatusChanged,
    WatchEvent,
)
from ._kinds import KINDS, Kind, kind_of
from ._models import ActivationJobSummary
from ._policy import reached
from ._refs import JobRef, ReadSetActivationJobRef

__all__ = [
    "Interrupted",
    "JobBoard",
    "JobRow",
    "JsonLines",
    "LiveDisplay",
    "ProgressLines",
    "QuietText",
    "Reporter",
    "RetryStatus",
    "budget_record",
    "budget_text",
    "event_record",
    "iso_time",
    "item_key",
    "outcome_text",
    "started_record",
]

# Styles by status value, for every kind: waiting, moving, stopping, success, partial, failure.
_STATUS_STYLE = {
    "SUBMITTED": "cyan",
    "PENDING": "cyan",
    "CREATING": "cyan",
    "IN_PROGRESS": "blue",
    "STARTING": "blue",
    "RUNNING": "blue",
    "UPDATING": "blue",
    "CANCELLING": "yellow",
    "STOPPING": "yellow",
    "CANCELLED": "yellow",
    "COMPLETED": "bold green",
    "ACTIVE": "bold green",
    "COMPLETED_WITH_FAILURES": "bold yellow",
    "FAILED": "bold red",
    "DELETED": "bold red",
    "INACTIVE": "bold red",
}
# Kinds whose jobs have no items to count: a task, a workflow, a workflow version.
_NO_ITEMS = frozenset({"task", "workflow", "workflow-version"})
# Item statuses: done well, failed, and every status after which an item does not change.
_ITEM_OK = frozenset({"FINISHED", "COMPLETED"})
_ITEM_FAILED = frozenset({"FAILED"})
_ITEM_DONE = _ITEM_OK | _ITEM_FAILED | {"CANCELLED"}


def iso_time(moment: dt.datetime) -> str:
    """The one time format of the output: ISO-8601 in UTC, milliseconds, with the offset."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def _now_iso() -> str:
    return iso_time(dt.datetime.now(dt.timezone.utc))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


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


# -- items of any kind: read sets, source files, tasks -----------------------------------------


def item_key(item: Any) -> str:
    """What names an item in its job, stably: an activation's or export's read set ID, an
    import's source file (its `key` turns into the read set or reference ID once imported),
    a run's task ID."""
    for attribute in ("read_set_id", "source", "key", "task_id"):
        value = getattr(item, attribute, None)
        if value is not None:
            return str(value)
    return "?"


def _message(thing: Any) -> str | None:
    """The service's message about a job or an item: its status message, or why it failed."""
    message = getattr(thing, "status_message", None) or getattr(thing, "failure_reason", None)
    return None if message is None else str(message)


def _ref_fields(ref: JobRef[Any]) -> dict[str, str]:
    return {f.name: getattr(ref, f.name) for f in dataclasses.fields(ref)}  # type: ignore[arg-type]


def _field_names(word: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(KINDS[word].ref_type))  # type: ignore[arg-type]


def counts_items(word: str, *, tasks: bool) -> bool:
    """Whether jobs of a kind have items to count: runs only when their tasks are fetched."""
    return word not in _NO_ITEMS and (word != "run" or tasks)


@dataclass(eq=False)
class JobRow:
    """What is known of one job: its last observation, items, retries and final outcome."""

    ref: JobRef[Any]
    counted: bool = True
    until: str | None = None
    job: Any = None
    items: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    throttles: int = 0
    last_retry: PollRetrying | None = None
    error: OmicsWaiterError | None = None
    final_event: JobStatusChanged | JobWatchFailed | None = None
    added_at: float = field(default_factory=time.monotonic)

    @property
    def kind(self) -> Kind[Any]:
        return kind_of(self.ref)

    @property
    def sequence_store_id(self) -> str | None:
        store: str | None = getattr(self.ref, "sequence_store_id", None)
        return store

    @property
    def job_id(self) -> str:
        """The job's own ID: the last field of its reference."""
        return self.ref.ids[-1]

    @property
    def label(self) -> str:
        """The job as the tables name it: its ID (a store's jobs: without the store)."""
        names = _field_names(self.ref.kind)
        if names[0] in ("sequence_store_id", "reference_store_id"):
            return self.job_id
        return str(self.ref)

    @property
    def done(self) -> bool:
        """Whether the job's final event (terminal status, `until`, or failure) has come."""
        return self.final_event is not None

    @property
    def status(self) -> str | None:
        return None if self.job is None else str(self.job.status)

    @property
    def status_text(self) -> str:
        if self.error is not None:
            return outcome_text(self.error)
        return "waiting" if self.status is None else self.status

    @property
    def succeeded(self) -> bool | None:
        """True for success (or `until` reached), False for failure, None if not known."""
        if self.error is not None or self.status is None or not self.done:
            return None
        if self.status in self.kind.success:
            return True
        return self.until is not None and not self.kind.is_terminal(self.status)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def finished(self) -> int:
        """Items done well (activated, imported, completed)."""
        return sum(1 for i in self.items.values() if str(i.status) in _ITEM_OK)

    @property
    def ended_items(self) -> int:
        """Items that will not change any more (done well, failed or cancelled)."""
        return sum(1 for i in self.items.values() if str(i.status) in _ITEM_DONE)

    @property
    def failed_items(self) -> list[Any]:
        return [i for i in self.items.values() if str(i.status) in _ITEM_FAILED]

    def elapsed(self) -> float:
        """Seconds since the job was created, until it ended (or now)."""
        creation = getattr(self.job, "creation_time", None)
        if creation is None:
            return time.monotonic() - self.added_at
        end = getattr(self.job, "completion_time", None) or getattr(self.job, "stop_time", None)
        if end is None and self.final_event is not None:
            end = self.final_event.time
        end = end or dt.datetime.now(dt.timezone.utc)
        return max(0.0, float((end - creation).total_seconds()))


class JobBoard:
    """One `JobRow` per job, in the order the jobs were given, kept up to date by `apply`.

    Args:
        refs: The jobs, in the order to show them.
        tasks: Whether runs' tasks are fetched (they are then the runs' items).
        until: The status `wait --until` ends each job at, if given.
    """

    def __init__(
        self, refs: Iterable[JobRef[Any]] = (), *, tasks: bool = False, until: str | None = None
    ) -> None:
        self._rows: dict[JobRef[Any], JobRow] = {}
        self.tasks = tasks
        self.until = until
        #: Retries of requests for no single job: List sweeps, job starts.
        self.store_retries = 0
        self.store_throttles = 0
        #: The latest retry of any request, to show what is failing right now, and when it came.
        self.last_retry: PollRetrying | None = None
        self.last_retry_at = 0.0
        #: The request budget (set once connected), its mode as last reported, and the
        #: operations the service throttled.
        self.budget: Any = None
        self.budget_mode: str | None = None
        self.push_mode: str | None = None
        self.throttled_operations: set[str] = set()
        #: `budget_text` as of the last `note_budget`: the live display's thread reads this,
        #: since a budget's rates are read on the event loop's clock.
        self.budget_line: str | None = None
        for ref in refs:
            self.add(ref)

    def add(self, ref: JobRef[Any]) -> JobRow:
        row = self._rows.get(ref)
        if row is None:
            row = self._rows[ref] = JobRow(
                ref, counted=counts_items(ref.kind, tasks=self.tasks), until=self.until
            )
        return row

    def row(self, ref: JobRef[Any]) -> JobRow | None:
        return self._rows.get(ref)

    @property
    def rows(self) -> list[JobRow]:
        return list(self._rows.values())

    @property
    def kinds(self) -> list[str]:
        """The kinds on the board, in order of first appearance."""
        return list(dict.fromkeys(ref.kind for ref in self._rows))

    def __iter__(self) -> Iterator[JobRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self._rows)

    def operations(self) -> list[str]:
        """The operations the board's jobs are polled with (whose rates may be cut)."""
        names: list[str] = []
        for word in self.kinds:
            kind = KINDS[word]
            names.append(kind.get.name)
            if kind.listing is not None:
                names.append(kind.listing.operation.name)
            if kind.item_listing is not None and self.tasks:
                names.append(kind.item_listing.operation.name)
        return list(dict.fromkeys([*names, *sorted(self.throttled_operations)]))

    def note_budget(self) -> None:
        """Take down how the budget stands now, for the live display (on the event loop)."""
        self.budget_line = budget_text(self)

    def _observed(self, row: JobRow, job: Any) -> None:
        row.job = job
        if job.items:
            row.items = {item_key(i): i for i in job.items}

    def apply(self, event: WatchEvent) -> None:
        """Fold one event into the board."""
        if isinstance(event, JobStatusChanged):
            row = self.add(event.ref)
            self._observed(row, event.job)
            if event.is_terminal or reached(row.kind, str(event.job.status), self.until):
                row.final_event = event
        elif isinstance(event, ItemStatusChanged):
            row = self.add(event.ref)
            self._observed(row, event.job)  # the job as observed, with all its items
            row.items[item_key(event.item)] = event.item
        elif isinstance(event, PollRetrying):
            self.last_retry = event
            self.last_retry_at = time.monotonic()
            throttled = event.throttling
            if throttled:
                self.throttled_operations.add(event.operation)
            row_of = None if event.ref is None else self.row(event.ref)
            if row_of is None:
                self.store_retries += 1
                self.store_throttles += throttled
            else:
                row_of.retries += 1
                row_of.throttles += throttled
                row_of.last_retry = event
        elif isinstance(event, JobWatchFailed):
            row = self.add(event.ref)
            if event.job is not None:
                self._observed(row, event.job)
            row.error = event.error
            row.final_event = event
        elif isinstance(event, BudgetModeChanged):
            self.budget_mode = event.mode
        elif isinstance(event, PushModeChanged):
            self.push_mode = event.mode
        self.note_budget()


# -- JSON lines: one object per event; the keys of a line depend only on its type and kind ----


def _error_fields(error: OmicsWaiterError, redact: Callable[[str], str]) -> dict[str, Any]:
    return {
        "error": type(error).__name__,
        "error_code": error.code if isinstance(error, ServiceError) else None,
        "message": redact(str(error)),
    }


def _head(kind: str | None, time_: dt.datetime, ids: dict[str, Any], type_: str) -> dict[str, Any]:
    return {"type": type_, "time": iso_time(time_), "kind": kind, **ids}


def _status(
    status: Any, previous: Any, message: str | None
) -> dict[str, Any]:  # the keys every line has after its IDs
    return {
        "status": None if status is None else str(status),
        "previous": None if previous is None else str(previous),
        "status_message": message,
    }


def _job_counts(word: str, job: Any, *, tasks: bool) -> dict[str, Any]:
    counted = job is not None and counts_items(word, tasks=tasks)
    items = tuple(job.items) if counted else ()
    finished = sum(1 for i in items if str(i.status) in _ITEM_OK)
    failed = sum(1 for i in items if str(i.status) in _ITEM_FAILED)
    counts: dict[str, Any] = {
        "total_items": len(items) if counted else None,
        "finished_items": finished if counted else None,
        "failed_items": failed if counted else None,
    }
    if word == "activation":  # 0.1's names, kept for its scripts
        counts["total_read_sets"] = counts["total_items"]
        counts["finished_read_sets"] = counts["finished_items"]
        counts["failed_read_sets"] = counts["failed_items"]
    return counts


def _retry_ids(event: PollRetrying) -> tuple[str | None, dict[str, Any]]:
    """The kind and ID fields of a retried request: its job's, or its batch's leading ones."""
    word: str | None = event.ref.kind if event.ref is not None else event.kind
    if word is None or word not in KINDS:
        return word, {"sequence_store_id": event.sequence_store_id, "job_id": event.job_id}
    if event.ref is not None:
        return word, _ref_fields(event.ref)
    names = _field_names(word)
    ids: dict[str, Any] = dict.fromkeys(names)
    for name, value in zip(names, event.batch, strict=False):
        ids[name] = value
    return word, ids


def event_record(
    event: WatchEvent,
    *,
    redact: Callable[[str], str] = str,
    tasks: bool = True,
    until: str | None = None,
) -> dict[str, Any]:
    """The JSON object for one watch event (see docs/cli.md for the schema).

    Args:
        event: The event.
        redact: Masks secrets in messages.
        tasks: Whether runs' tasks were fetched (else a run's item counts are null).
        until: The status ``--until`` ends jobs at, if given (for ``final``).
    """
    record: dict[str, Any]
    if isinstance(event, JobStatusChanged):
        word = event.ref.kind
        final = event.is_terminal or reached(kind_of(event.ref), str(event.job.status), until)
        record = {
            **_head(word, event.time, _ref_fields(event.ref), "job_status_changed"),
            **_status(event.job.status, event.previous, _message(event.job)),
            **_job_counts(word, event.job, tasks=tasks),
            "final": final,
        }
    elif isinstance(event, SourceStatusChanged):
        record = {
            **_head("activation", event.time, _ref_fields(event.ref), "source_status_changed"),
            **_status(event.item.status, event.previous, _message(event.item)),
            "read_set_id": event.source.read_set_id,
            "item": event.source.read_set_id,
        }
    elif isinstance(event, ItemStatusChanged):
        record = {
            **_head(event.ref.kind, event.time, _ref_fields(event.ref), "item_status_changed"),
            **_status(event.item.status, event.previous, _message(event.item)),
            "item": item_key(event.item),
        }
    elif isinstance(event, PollRetrying):
        retried, ids = _retry_ids(event)
        record = {
            **_head(retried, event.time, ids, "poll_retrying"),
            **_status(None, None, None),
            "operation": event.operation,
            "reason": event.reason,
            "attempt": event.attempt,
            "delay": round(event.delay, 3),
            "throttling": event.throttling,
        }
    elif isinstance(event, JobWatchFailed):
        job = event.job
        record = {
            **_head(event.ref.kind, event.time, _ref_fields(event.ref), "job_wait_failed"),
            **_status(None if job is None else job.status, None, _message(job)),
            **_error_fields(event.error, redact),
        }
    elif isinstance(event, PushModeChanged):
        record = {
            **_head(None, event.time, {}, "push_mode_changed"),
            **_status(None, event.previous, None),
            "mode": event.mode,
            "reason": event.reason,
        }
    else:
        record = budget_record(event.mode, event.previous, event.time)
    return record


def budget_record(mode: str, previous: str | None, moment: dt.datetime) -> dict[str, Any]:
    """The JSON object for the request budget's mode: at the start (`previous` None), or
    when it changed."""
    return {
        **_head(None, moment, {}, "budget_mode_changed"),
        **_status(None, previous, None),
        "mode": mode,
    }


def started_record(summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> dict[str, Any]:
    """The JSON object for a job that ``activate`` started (or found started by its token)."""
    ref = ReadSetActivationJobRef(summary.sequence_store_id, summary.id)
    return {
        **_head("activation", dt.datetime.now(dt.timezone.utc), _ref_fields(ref), "job_started"),
        **_status(summary.status, None, None),
        "read_set_ids": list(read_set_ids),
    }


class Reporter(Protocol):
    """Shows a run: jobs started, the budget's mode, events as they come, and the end."""

    def __enter__(self) -> Reporter: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None: ...

    def budget(self, mode: str) -> None: ...

    def event(self, event: WatchEvent) -> None: ...

    def finish(self, board: JobBoard, *, note: str | None = None) -> None: ...


class JsonLines:
    """One JSON object per line per event; with `quiet`, only each job's final event.

    A job that reaches ``--until`` ends with its status event, which the engine yields
    before its items' events of the same observation: that line is held back until
    they are written, so that a job's final line is always its last.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        quiet: bool = False,
        redact: Callable[[str], str] = str,
        tasks: bool = True,
        until: str | None = None,
    ) -> None:
        self._stream = stream
        self._quiet = quiet
        self._redact = redact
        self._tasks = tasks
        self._until = until
        self._held: tuple[JobRef[Any], dict[str, Any]] | None = None

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._held is not None:
            self._write(self._held[1])
            self._held = None

    def _write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()

    def _record(self, event: WatchEvent) -> dict[str, Any]:
        return event_record(event, redact=self._redact, tasks=self._tasks, until=self._until)

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None:
        if not self._quiet:
            self._write(started_record(summary, read_set_ids))

    def budget(self, mode: str) -> None:
        if not self._quiet:
            self._write(budget_record(mode, None, dt.datetime.now(dt.timezone.utc)))

    def event(self, event: WatchEvent) -> None:
        if self._quiet:
            return
        record = self._record(event)
        if self._held is not None:
            if isinstance(event, ItemStatusChanged) and event.ref == self._held[0]:
                self._write(record)  # an item of the job that reached --until
                return
            self._release()
        if isinstance(event, JobStatusChanged) and record["final"] and not event.is_terminal:
            self._held = (event.ref, record)
            return
        self._write(record)

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        self._release()
        if self._quiet:
            for row in board:
                if row.final_event is not None:
                    self._write(self._record(row.final_event))


# -- the terminal ------------------------------------------------------------------------------


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
    style = _STATUS_STYLE.get(row.status or "", "") if row.job is not None else "dim"
    return Text(row.status_text, style=style)


def _retries_cell(row: JobRow) -> Text:
    if not row.retries:
        return Text("0", style="dim")
    return Text(f"{row.retries} ({row.throttles} thr.)", style="yellow")


def _items_cell(row: JobRow) -> RenderableType:
    """A bar of items ended (done well, failed or cancelled) over all, and the done-well count."""
    if not row.counted:
        return Text("-", style="dim")
    failed = len(row.failed_items)
    style = "yellow" if failed else "green"
    bar = ProgressBar(
        total=max(row.total, 1),
        completed=row.ended_items if row.total else 0,
        width=10,
        complete_style=style,
        finished_style=style,
    )
    cell = Table.grid(padding=(0, 1))
    cell.add_row(bar, f"{row.finished:>2}/{row.total:<2}" if row.total else "  -  ")
    return cell


def _failed_cell(row: JobRow) -> Text:
    if not row.counted:
        return Text("-", style="dim")
    failed = len(row.failed_items)
    return Text(str(failed), style="red" if failed else "dim")


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


def _nouns(word: str) -> str:
    return f"{KINDS[word].noun}s"


def _title(board: JobBoard) -> str:
    kinds = board.kinds
    return _nouns(kinds[0]).capitalize() if len(kinds) == 1 else "Jobs"


def _items_header(board: JobBoard) -> str:
    """What the items column counts: "activated" (0.1's), "tasks", "sources" ... or "items"."""
    kinds = [word for word in board.kinds if counts_items(word, tasks=board.tasks)]
    if kinds == ["activation"]:
        return "activated"
    nouns = {KINDS[word].item_noun for word in kinds}
    return f"{nouns.pop()}s" if len(nouns) == 1 else "items"


def _job_columns(table: Table, board: JobBoard, *, bar: bool) -> None:
    table.add_column("job", no_wrap=True)
    if len(board.kinds) > 1:
        table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column(_items_header(board), no_wrap=True, justify="left" if bar else "right")
    table.add_column("failed", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("retries", justify="right", no_wrap=True)


def _kind_cell(board: JobBoard, row: JobRow) -> list[RenderableType]:
    return [Text(row.ref.kind, style="dim")] if len(board.kinds) > 1 else []


def _progress_table(board: JobBoard) -> Table:
    table = _table(_title(board))
    _job_columns(table, board, bar=True)
    for row in board:
        table.add_row(
            row.label,
            *_kind_cell(board, row),
            _status_cell(row),
            _items_cell(row),
            _failed_cell(row),
            _short(row.elapsed()),
            _retries_cell(row),
        )
    return table


def _max_rate(budget: Any) -> float | None:
    rate = getattr(budget, "max_tps", None) or getattr(budget, "max_rate", None)
    return None if rate is None else float(rate)


def budget_text(board: JobBoard) -> str | None:
    """The request budget, when worth a line: its shared or fallback mode, and rates that
    throttling cut (of the operations the board's jobs are polled with)."""
    budget = board.budget
    if budget is None:
        return None
    mode = board.budget_mode or str(budget.mode)
    parts = []
    if mode == "shared":
        replicas = getattr(budget, "replicas", None)
        among = f" by {replicas} processes" if replicas else ""
        parts.append(f"request budget: shared through Redis{among}")
    elif mode == "fallback":
        operation = next(iter(board.operations()), None)
        share = "" if operation is None else f" at {budget.rate(operation):.2g}/s per operation"
        parts.append(
            f"request budget: fallback (Redis unreachable): this process alone{share}, "
            "rejoining when Redis answers"
        )
    most = _max_rate(budget)
    if mode != "fallback" and most is not None:
        cuts = [
            f"{operation} {rate:.2g}/s of {most:g}/s"
            for operation in board.operations()
            if (rate := float(budget.rate(operation))) < most * 0.999
        ]
        if cuts:
            parts.append("rate cut by throttling: " + ", ".join(cuts))
    if board.push_mode == "push":
        parts.append("push events: on (polling reconciles)")
    elif board.push_mode == "polling":
        parts.append("push events: off, polling at the normal pace")
    return "; ".join(parts) or None


def _progress(board: JobBoard) -> RenderableType:
    """The live picture: the table, then the budget and what is being retried."""
    lines = []
    if board.budget_line:
        lines.append(board.budget_line)
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
    if row.error is None and row.status is not None:
        return row.status.lower().replace("_", " ")
    return row.status_text


def verdict(board: JobBoard) -> str:
    """How the jobs ended, as a person would say it, kind by kind:
    "3 read set activation jobs: 2 completed, 1 completed with failures; 1 run: 1 failed"."""
    parts = []
    for word in board.kinds:
        rows = [row for row in board if row.ref.kind == word]
        counts: dict[str, int] = {}
        for row in rows:
            said = _said(row)
            counts[said] = counts.get(said, 0) + 1
        outcomes = ", ".join(f"{n} {said}" for said, n in counts.items())
        parts.append(f"{_plural(len(rows), KINDS[word].noun)}: {outcomes}")
    return "; ".join(parts)


def summary(board: JobBoard, *, note: str | None = None) -> RenderableType:
    """The end of a run on a terminal: every job, the failed items and jobs, and a verdict."""
    jobs = _table("Summary")
    _job_columns(jobs, board, bar=False)
    failed_rows = [row for row in board if row.failed_items]
    nouns = {row.kind.item_noun for row in failed_rows}
    noun = nouns.pop() if len(nouns) == 1 else "item"
    failures = _table(f"Failed {noun}s")
    failures.add_column("job", no_wrap=True)
    failures.add_column(noun, no_wrap=True)
    failures.add_column("message")
    ended_badly = _table("Failed jobs")
    ended_badly.add_column("job", no_wrap=True)
    ended_badly.add_column("status", no_wrap=True)
    ended_badly.add_column("message")
    for row in board:
        jobs.add_row(
            row.label,
            *_kind_cell(board, row),
            _status_cell(row),
            f"{row.finished}/{row.total}" if row.counted and row.total else "-",
            _failed_cell(row),
            _short(row.elapsed()),
            _retries_cell(row),
        )
        for item in row.failed_items:
            failures.add_row(row.label, item_key(item), _message(item) or "")
        message = _message(row.job)
        if row.status in row.kind.failure and row.error is None and message:
            ended_badly.add_row(f"{row.kind.noun} {row.label}", _status_cell(row), message)
    parts: list[RenderableType] = [jobs]
    if failures.row_count:
        parts += [Text(""), failures]
    if ended_badly.row_count:
        parts += [Text(""), ended_badly]
    retries = sum(row.retries for row in board) + board.store_retries
    throttles = sum(row.throttles for row in board) + board.store_throttles
    line = verdict(board)
    if retries:
        line += f"; {retries} polls retried ({throttles} throttled)"
    parts += [Text(""), Text(line, style="bold")]
    mode = board.budget_mode or getattr(board.budget, "mode", None)
    if mode in ("shared", "fallback"):
        parts.append(Text(f"request budget at the end: {mode}"))
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
        self._board.add(ReadSetActivationJobRef(summary.sequence_store_id, summary.id))

    def budget(self, mode: str) -> None:
        return None  # the board holds the budget; the table's caption shows it

    def event(self, event: WatchEvent) -> None:
        # The board is already up to date; Live redraws from it on its own schedule.
        return None

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        self._live.stop()
        self._console.print(summary(board, note=note))


class ProgressLines:
    """Off a terminal, for a person (the demo in a pipe or a CI log): one plain line per job
    started, per job status change and per job whose wait failed, then the summary as text.

    Items and retries are left out (the summary counts them): a pipeline of a few jobs
    stays a few dozen lines.
    """

    def __init__(self, stream: TextIO, board: JobBoard) -> None:
        self._stream = stream
        self._board = board
        self._start = time.monotonic()

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def _line(self, text: str) -> None:
        self._stream.write(f"{time.monotonic() - self._start:6.1f}s  {text}\n")
        self._stream.flush()

    def started(self, summary: ActivationJobSummary, read_set_ids: Sequence[str]) -> None:
        self._line(
            f"started read set activation job {summary.id} "
            f"({_plural(len(read_set_ids), 'read set')})"
        )

    def budget(self, mode: str) -> None:
        self._line(f"request budget: {mode}")

    def event(self, event: WatchEvent) -> None:
        if isinstance(event, JobStatusChanged):
            row = self._board.add(event.ref)
            text = f"{row.kind.noun} {row.ref}: {event.job.status}"
            if row.counted and row.total:
                text += f", {row.finished}/{row.total} {row.kind.item_noun}s done"
                if row.failed_items:
                    text += f", {len(row.failed_items)} failed"
            if row.done:
                text += " (final)"
            self._line(text)
        elif isinstance(event, JobWatchFailed):
            self._line(f"{kind_of(event.ref).noun} {event.ref}: {outcome_text(event.error)}")
        elif isinstance(event, PushModeChanged):
            self._line(f"push events: {event.mode} ({event.reason})")
        elif isinstance(event, BudgetModeChanged):
            self._line(f"request budget: {event.mode}")

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        console = Console(file=io.StringIO(), width=100, no_color=True, highlight=False)
        console.print(summary(board, note=note))
        text = console.file.getvalue()  # type: ignore[attr-defined]
        # Without the padding of table cells, for logs and diffs.
        self._stream.write("\n" + "".join(line.rstrip() + "\n" for line in text.splitlines()))
        self._stream.flush()


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

    def budget(self, mode: str) -> None:
        return None

    def event(self, event: WatchEvent) -> None:
        return None

    def finish(self, board: JobBoard, *, note: str | None = None) -> None:
        for row in board:
            failed = row.failed_items
            if row.ref.kind == "activation":  # as 0.1 printed it
                line = f"{row.sequence_store_id} {row.job_id} {row.status_text}"
                if row.total:
                    line += f" {row.finished}/{row.total} activated"
            else:
                line = f"{row.ref.kind} {row.ref} {row.status_text}"
                if row.counted and row.total:
                    line += f" {row.finished}/{row.total} {row.kind.item_noun}s done"
            if failed:
                line += " failed: " + ", ".join(item_key(i) for i in failed)
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
