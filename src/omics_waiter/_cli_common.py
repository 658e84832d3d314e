"""What the commands of the ``omics-waiter`` command line share.

Exit codes and one-line errors; running a command until it ends or a signal stops it; the
shared settings (region, delays, budget, output...) and the waiter they make; following jobs
on the board while they are started and waited on. `_cli` (the click commands), `_demo` and
`_cli_events` all import from here, and nothing here imports them: no import circles.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import click

from ._display import (
    Interrupted,
    JobBoard,
    JsonLines,
    LiveDisplay,
    QuietText,
    Reporter,
)
from ._errors import (
    InvalidInputError,
    JobFailedError,
    OmicsWaiterError,
    WaitTimeoutError,
)
from ._events import JobWatchFailed, WatchEvent
from ._refs import JobRef, ReadSetActivationJobRef
from ._validation import check_id, check_url

if TYPE_CHECKING:
    from ._waiter import OmicsWaiter

# When jobs end differently, the code of the most serious outcome wins: an error that leaves
# a job's outcome unknown outranks a known failure; bad input outranks that; a signal, all.
_SEVERITY = (0, 1, 3, 4, 2, 130, 143)

MAX_READ_SETS_PER_JOB = 20
_TOKEN_LIMIT = 127
# Environment variables whose values must never be printed.
_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# The signals that stop a run: Ctrl-C, and how `timeout`, systemd and Kubernetes stop a process.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

EXIT_CODES = (
    "Exit codes: 0 every job succeeded (COMPLETED, ACTIVE, or reached --until; list: listed); "
    "1 a job ended without success (FAILED, CANCELLED, COMPLETED_WITH_FAILURES ...); 2 invalid "
    "input or usage; 3 timeout; 4 access, credential, not-found or other service error; 130 "
    "interrupted (SIGINT, Ctrl-C); 141 stdout closed early; 143 terminated (SIGTERM). "
    "Interrupted or terminated, the jobs keep running."
)


def exit_code(error: BaseException) -> int:
    """The exit code for an error that ended a wait (or the whole command)."""
    import botocore.exceptions

    if isinstance(error, KeyboardInterrupt):
        return 128 + signal.SIGINT
    if isinstance(error, Interrupted):
        return 128 + error.signum
    if isinstance(error, InvalidInputError | click.UsageError):
        return 2
    if isinstance(error, botocore.exceptions.NoRegionError | botocore.exceptions.ProfileNotFound):
        return 2
    if isinstance(error, WaitTimeoutError):
        return 3
    if isinstance(error, JobFailedError):
        return 1
    return 4


def _worst(codes: Sequence[int]) -> int:
    return max(codes, key=_SEVERITY.index, default=0)


def board_exit_code(board: JobBoard) -> int:
    """The exit code for a finished watch: the most serious outcome among its jobs."""
    codes = []
    for row in board:
        if row.error is not None:
            codes.append(exit_code(row.error))
        elif row.succeeded is None:
            codes.append(4)  # the watch ended without an outcome: should not happen
        else:
            codes.append(0 if row.succeeded else 1)
    return _worst(codes)


def redact(text: str) -> str:
    """Mask the values of secret environment variables, should a message ever hold one."""
    for name in _SECRET_VARIABLES:
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    return text


def say_error(message: str) -> None:
    click.echo(f"omics-waiter: error: {redact(message)}", err=True)


# The library names its arguments; on the command line they are options.
_OPTIONS = {
    "region_name": "--region",
    "profile_name": "--profile",
    "endpoint_url": "--endpoint-url",
}


def _describe(error: BaseException) -> str:
    """One line for an error: its message, named by kind when the message alone is unclear."""
    import botocore.exceptions

    if isinstance(error, botocore.exceptions.NoRegionError):
        return "no AWS Region: give --region, or set AWS_DEFAULT_REGION or a profile's region"
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, InvalidInputError) and error.argument in _OPTIONS:
        text = text.replace(error.argument, _OPTIONS[error.argument])
    if isinstance(error, OmicsWaiterError):
        return text
    return f"{type(error).__name__}: {text}"


# -- stopping on a signal --------------------------------------------------------------------


class _Stops:
    """SIGINT and SIGTERM, turned into the cancellation of the innermost stoppable scope.

    The scope around the watch is innermost while it runs: a first signal ends the watch, and
    the command still reports every unfinished job, closes its client and restores the
    terminal. A second signal cancels the next scope out.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._scopes: list[anyio.CancelScope] = []

    @contextlib.contextmanager
    def stoppable(self) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            self._scopes.append(scope)
            try:
                yield scope
            finally:
                self._scopes.remove(scope)

    def stop(self, signum: int) -> None:
        self.signum = signum
        for scope in reversed(self._scopes):
            if not scope.cancel_called:
                scope.cancel()
                return

    async def listen(self, signals: Any) -> None:
        async for signum in signals:
            self.stop(signum)


_STOPS: contextvars.ContextVar[_Stops | None] = contextvars.ContextVar("_STOPS", default=None)


@contextlib.contextmanager
def stoppable() -> Iterator[anyio.CancelScope]:
    """A cancel scope that SIGINT or SIGTERM cancels (outside `run_command`, an ordinary one)."""
    stops = _STOPS.get()
    if stops is None:
        with anyio.CancelScope() as scope:
            yield scope
    else:
        with stops.stoppable() as scope:
            yield scope


def stopped_by() -> int | None:
    """The signal that stopped this run, if one did."""
    stops = _STOPS.get()
    return None if stops is None else stops.signum


async def _main(command: Callable[[], Coroutine[Any, Any, int]], stops: _Stops) -> int | None:
    token = _STOPS.set(stops)
    try:
        with contextlib.ExitStack() as stack:
            signals = None
            # Not on Windows (and not off the main thread): there Ctrl-C still raises.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                signals = stack.enter_context(anyio.open_signal_receiver(*_STOP_SIGNALS))
            code: int | None = None
            failure: Exception | None = None
            async with anyio.create_task_group() as tasks:
                if signals is not None:
                    tasks.start_soon(stops.listen, signals)
                try:
                    with stops.stoppable():
                        code = await command()
                except Exception as exc:
                    # Raised as it is, not inside the task group's ExceptionGroup.
                    failure = exc
                tasks.cancel_scope.cancel()
            if failure is not None:
                raise failure
            return code
    finally:
        _STOPS.reset(token)


def run_command(command: Callable[[], Coroutine[Any, Any, int]]) -> NoReturn:
    """Run a command's coroutine, turn any error into one line on stderr and an exit code."""
    import botocore.exceptions

    stops = _Stops()
    code: int | None
    try:
        code = anyio.run(_main, command, stops)
    except KeyboardInterrupt:  # before the signal handlers were in place
        stops.signum = signal.SIGINT
        code = None
    except BrokenPipeError:
        # stdout was closed early (e.g. `| head`): stop quietly, as a shell pipeline would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141
    except (OmicsWaiterError, botocore.exceptions.BotoCoreError) as error:
        say_error(_describe(error))
        code = exit_code(error)
    except Exception as error:  # a bug: still one line, never a traceback
        say_error(f"unexpected {_describe(error)}")
        code = 4
    if stops.signum is not None and code != 141:
        name = signal.Signals(stops.signum).name
        say_error(f"interrupted by {name}; the jobs keep running")
        code = 128 + stops.signum
    sys.exit(4 if code is None else code)


# -- settings shared by the commands that talk to the service ---------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """The common options, checked by `check` before any request."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    timeout: float | None = None
    min_delay: float | None = None
    max_delay: float | None = None
    max_tps: float | None = None
    budget_url: str | None = None
    events_queue_url: str | None = None
    reconcile_delay: float | None = None
    json: bool = False
    quiet: bool = False

    @classmethod
    def of(cls, ctx: click.Context) -> Settings:
        """The settings the command's shared options put in the context object."""
        chosen: dict[str, Any] = ctx.find_object(Chosen) or {}
        return cls(**chosen)

    def check(self) -> None:
        """Raise `InvalidInputError` for an option out of range (click checked each range)."""
        if self.endpoint_url is not None:
            check_url("--endpoint-url", self.endpoint_url, argument="endpoint_url")
        if (
            self.min_delay is not None
            and self.max_delay is not None
            and self.min_delay > self.max_delay
        ):
            raise InvalidInputError(
                f"--min-delay ({self.min_delay:g}s) must not exceed --max-delay "
                f"({self.max_delay:g}s)",
                argument="min_delay",
            )
        if self.events_queue_url is not None:
            check_url("--events-queue-url", self.events_queue_url, argument="events_queue_url")
        if self.budget_url is not None:
            from ._redis_budget import RedisBudget

            try:
                RedisBudget(self.budget_url)  # checks the URL; connects only when entered
            except InvalidInputError as error:
                text = str(error)
                text = "--budget-url" + text[3:] if text.startswith("url ") else text
                raise InvalidInputError(text, argument="budget_url") from None

    @property
    def json_output(self) -> bool:
        """JSON lines with --json, or whenever stdout is not a terminal."""
        return self.json or not sys.stdout.isatty()

    def waiter_options(self) -> dict[str, Any]:
        options = {
            "timeout": self.timeout,
            "min_delay": self.min_delay,
            "max_delay": self.max_delay,
            "max_tps": self.max_tps,
            "reconcile_delay": self.reconcile_delay,
        }
        return {k: v for k, v in options.items() if v is not None}

    def connect(self) -> contextlib.AbstractAsyncContextManager[OmicsWaiter]:
        from ._waiter import OmicsWaiter  # the AWS stack, once a command needs it

        return OmicsWaiter.connect(
            region_name=self.region,
            profile_name=self.profile,
            endpoint_url=self.endpoint_url,
            budget_url=self.budget_url,
            events_queue_url=self.events_queue_url,
            **self.waiter_options(),
        )

    def reporter(self, board: JobBoard) -> Reporter:
        if self.json_output:
            return JsonLines(
                sys.stdout, quiet=self.quiet, redact=redact, tasks=board.tasks, until=board.until
            )
        if self.quiet:
            return QuietText(sys.stdout)
        from rich.console import Console

        return LiveDisplay(Console(), board)

    async def follow_on(
        self, board: JobBoard, work: Callable[[OmicsWaiter, Reporter], Awaitable[None]]
    ) -> int:
        """Connect, run `work` with the board's reporter, then report and return the exit code."""
        async with self.connect() as waiter:
            board.budget = waiter.budget
            with self.reporter(board) as reporter:
                if self.budget_url is not None:
                    reporter.budget(waiter.budget.mode)
                await follow_until_stopped(board, reporter, lambda: work(waiter, reporter))
                reporter.finish(board)
        report_errors(board)
        return board_exit_code(board)


class Chosen(dict[str, Any]):
    """The context object: the shared options' values, as `Settings` fields."""


# -- watching, starting ----------------------------------------------------------------------


def _shower(board: JobBoard, reporter: Reporter) -> Callable[[WatchEvent], None]:
    def show(event: WatchEvent) -> None:
        board.apply(event)
        reporter.event(event)

    return show


async def _note_budget(board: JobBoard) -> None:
    """Keep the board's budget line current: rates cut by throttling climb back over time."""
    while True:
        board.note_budget()
        await anyio.sleep(0.5)


async def follow_until_stopped(
    board: JobBoard, reporter: Reporter, work: Callable[[], Awaitable[None]]
) -> None:
    """Run `work`; if SIGINT or SIGTERM stops it, end every unfinished job with `Interrupted`.

    So that, stopped or not, every job gets exactly one final event, as the JSON schema
    promises (`job_wait_failed`, error ``Interrupted``, for the jobs stopped).
    """
    with stoppable() as scope:
        failure: Exception | None = None
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_note_budget, board)
            try:
                await work()
            except Exception as exc:
                failure = exc  # raised as it is, not inside the task group's ExceptionGroup
            tasks.cancel_scope.cancel()
        if failure is not None:
            raise failure
    signum = stopped_by()
    if scope.cancel_called and signum is not None:
        show = _shower(board, reporter)
        error = Interrupted(signum)
        for row in board:
            if not row.done:
                show(JobWatchFailed(row.ref, error, row.job))


async def follow(
    waiter: OmicsWaiter,
    refs: Sequence[JobRef[Any]],
    board: JobBoard,
    reporter: Reporter,
    *,
    timeout: float | None,  # noqa: ASYNC109 - the watch's own deadline, handed on to it
    items: bool,
    quiet: bool,
    until: str | None = None,
) -> None:
    """Watch `refs` to their ends (or `until`), feeding every event to the board and reporter.

    One job is watched with `watch`, whose error is turned into the `JobWatchFailed` a
    many-job watch would yield, so both end the same way. Several are watched with
    `watch_many`: with `items`, their items' progress too; else, with `quiet`, only their
    outcomes (one Get per job, when it finishes).
    """
    show = _shower(board, reporter)
    if len(refs) == 1:
        ref = refs[0]
        stream = waiter.watch(ref, timeout=timeout, items=items, until=until)
        try:
            async with contextlib.aclosing(stream):
                async for event in stream:
                    show(event)
        except OmicsWaiterError as error:
            last = getattr(error, "job", None) or board.add(ref).job
            show(JobWatchFailed(ref, error, last))
        return
    stream = waiter.watch_many(
        refs,
        timeout=timeout,
        items=items,
        final_only=quiet and not items and until is None,
        until=until,
    )
    async with contextlib.aclosing(stream):
        async for event in stream:
            show(event)


def chunk_requests(
    sequence_store_id: str, read_set_ids: Sequence[str], client_token: str | None
) -> list[tuple[list[str], str]]:
    """Split read sets into jobs of at most 20, each with a deterministic client token.

    With a token T: one job uses T itself; several use ``T-1``, ``T-2``, ... (a hash of T
    replaces T when that would exceed 127 characters). Without one, each job's token is a hash
    of the store and its read sets. Either way a rerun sends the same tokens, so the service
    returns the jobs it started before instead of starting duplicates.
    """
    chunks = [
        list(read_set_ids[i : i + MAX_READ_SETS_PER_JOB])
        for i in range(0, len(read_set_ids), MAX_READ_SETS_PER_JOB)
    ]
    if client_token is not None and len(chunks) == 1:
        return [(chunks[0], client_token)]
    tokens = []
    for number, chunk in enumerate(chunks, start=1):
        if client_token is None:
            digest = hashlib.sha256(f"{sequence_store_id}:{','.join(chunk)}".encode()).hexdigest()
            tokens.append(f"omics-waiter-{digest[:48]}")
        else:
            token = f"{client_token}-{number}"
            if len(token) > _TOKEN_LIMIT:
                token = f"{hashlib.sha256(client_token.encode()).hexdigest()}-{number}"
            tokens.append(token)
    return list(zip(chunks, tokens, strict=True))


def check_read_sets(read_set_ids: Sequence[str], client_token: str | None) -> None:
    """Raise `InvalidInputError` for bad read set IDs, duplicates or a bad token."""
    seen: set[str] = set()
    for read_set_id in read_set_ids:
        check_id("--read-set-id", read_set_id)
        if read_set_id in seen:
            raise InvalidInputError(
                f"--read-set-id {read_set_id} is given twice", argument="read_set_ids"
            )
        seen.add(read_set_id)
    if client_token is not None and not 1 <= len(client_token) <= _TOKEN_LIMIT:
        raise InvalidInputError(
            f"--client-token must be 1 to {_TOKEN_LIMIT} characters, got {len(client_token)}",
            argument="client_token",
        )


async def start_and_follow(
    waiter: OmicsWaiter,
    sequence_store_id: str,
    requests: Sequence[tuple[list[str], str]],
    board: JobBoard,
    reporter: Reporter,
    *,
    timeout: float | None,  # noqa: ASYNC109 - the watch's own deadline, handed on to it
    quiet: bool,
    others: Sequence[JobRef[Any]] = (),
) -> None:
    """Start one activation job per request (read sets, client token), then watch them all
    (with the jobs of any kind in `others`, already on the board)."""
    started: list[str] = []
    show = _shower(board, reporter)
    refs: list[JobRef[Any]] = list(others)
    for read_set_ids, token in requests:
        try:
            summary = await waiter.start_activation_job(
                sequence_store_id, read_set_ids, client_token=token, on_retry=show
            )
        except OmicsWaiterError:
            if started:
                say_error(
                    f"started job{'s' if len(started) > 1 else ''} {', '.join(started)} "
                    "before the error below; rerunning the same command resumes without "
                    "duplicates"
                )
            raise
        started.append(summary.id)
        ref = ReadSetActivationJobRef(summary.sequence_store_id, summary.id)
        board.add(ref)
        refs.append(ref)
        reporter.started(summary, read_set_ids)
    refs = list(dict.fromkeys(refs))  # a token seen twice names the same job
    await follow(waiter, refs, board, reporter, timeout=timeout, items=not quiet, quiet=quiet)


def report_errors(board: JobBoard) -> None:
    """One line on stderr per job whose wait ended with an error (a signal: one line in all)."""
    for row in board:
        if row.error is not None and not isinstance(row.error, Interrupted):
            who = f"{row.kind.noun} {row.ref}"
            if row.ref.kind == "activation":
                who = f"job {row.job_id}"  # as 0.1 said it
            line = f"{who}: {_describe(row.error)}"
            retry = row.last_retry or board.last_retry
            if isinstance(row.error, WaitTimeoutError) and retry is not None:
                # Why the deadline may have passed: requests were failing (connection refused...).
                line += f"; the last retried request, {retry.operation}, failed with {retry.reason}"
            say_error(line)
