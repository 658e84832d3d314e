"""The ``omics-waiter`` command: wait, activate, list, demo (and the emulator).

Exit codes (see docs/cli.md): 0 every job succeeded (COMPLETED, ACTIVE, or reached --until);
1 a job FAILED, was CANCELLED, ended COMPLETED_WITH_FAILURES ...; 2 invalid input or usage;
3 timeout; 4 access, credential, not-found or other service error; 130 interrupted (SIGINT);
141 stdout closed early; 143 terminated (SIGTERM). Errors are one line on stderr, never a
traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

import click

from ._cli_common import (
    EXIT_CODES,
    Chosen,
    Settings,
    check_read_sets,
    chunk_requests,
    follow,
    redact,
    run_command,
    say_error,
    start_and_follow,
    stoppable,
    stopped_by,
)
from ._cli_emulator import emulator
from ._cli_events import register_events_commands
from ._display import (
    JobBoard,
    RetryStatus,
    counts_items,
    event_record,
    iso_time,
)
from ._errors import InvalidInputError
from ._events import PollRetrying
from ._kinds import KINDS
from ._models import ActivationJobStatus
from ._policy import (
    DEFAULT_MAX_DELAY,
    DEFAULT_MAX_TPS,
    DEFAULT_MIN_DELAY,
    DEFAULT_TIMEOUT,
)
from ._refs import JobRef, ReadSetActivationJobRef
from ._validation import check_id
from ._words import check_until, id_form, parse_ref

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A shared option's callback: keep its value in the context object."""
    assert param.name is not None
    ctx.ensure_object(Chosen)[param.name] = value
    return value


class _Seconds(click.FloatRange):
    """Seconds above zero; `inf` only where it means "no limit"; never nan."""

    name = "seconds"

    def __init__(self, *, allow_inf: bool = False) -> None:
        super().__init__(min=0.0, min_open=True)
        self.allow_inf = allow_inf

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds) or (math.isinf(seconds) and not self.allow_inf):
            what = "a number of seconds above zero" + (" or inf" if self.allow_inf else "")
            self.fail(f"{value!r} is not {what}", param, ctx)
        return seconds


class _Rate(click.FloatRange):
    """Requests per second: finite, above zero."""

    name = "rate"

    def __init__(self) -> None:
        super().__init__(min=0.0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rate = super().convert(value, param, ctx)
        if not math.isfinite(rate):
            self.fail(f"{value!r} is not a finite number of requests per second", param, ctx)
        return rate


# Every shared option, declared once: its flags and click attributes. The value goes to the
# context object (`Chosen`), whose keys are `Settings` fields; commands pick the options
# they take with `_shared`.
_SHARED: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "region": (
        ("--region",),
        {"metavar": "REGION", "help": "AWS Region (default: from the profile)."},
    ),
    "profile": (("--profile",), {"metavar": "NAME", "help": "Profile from the AWS config files."}),
    "endpoint_url": (
        ("--endpoint-url",),
        {
            "metavar": "URL",
            "help": "Another endpoint than AWS's (e.g. the emulator); host-prefix injection "
            "off. AWS_ENDPOINT_URL works the same way.",
        },
    ),
    "timeout": (
        ("--timeout",),
        {
            "type": _Seconds(allow_inf=True),
            "metavar": "SECONDS",
            "help": "Give up waiting after this long (exit 3); inf for no limit  "
            f"[default: {DEFAULT_TIMEOUT:g}].",
        },
    ),
    "min_delay": (
        ("--min-delay",),
        {
            "type": _Seconds(),
            "metavar": "SECONDS",
            "help": "Seconds between polls right after a change  "
            f"[default: {DEFAULT_MIN_DELAY:g}].",
        },
    ),
    "max_delay": (
        ("--max-delay",),
        {
            "type": _Seconds(),
            "metavar": "SECONDS",
            "help": f"Most seconds between polls of a still job  [default: {DEFAULT_MAX_DELAY:g}].",
        },
    ),
    "max_tps": (
        ("--max-tps",),
        {
            "type": _Rate(),
            "metavar": "RATE",
            "help": "Requests/s per operation, all jobs (with --budget-url: all processes) "
            f"together  [default: {DEFAULT_MAX_TPS:g}].",
        },
    ),
    "budget_url": (
        ("--budget-url",),
        {
            "metavar": "URL",
            "help": "redis://HOST:PORT/DB: share the request budget (--max-tps) with every "
            "process given the same URL; if Redis is lost, each goes on at its share.",
        },
    ),
    "events_queue_url": (
        ("--events-queue-url",),
        {
            "metavar": "URL",
            "help": "An SQS queue of HealthOmics events (omics-waiter events setup): jobs are "
            "fetched when an event says they changed; polling only reconciles.",
        },
    ),
    "reconcile_delay": (
        ("--reconcile-delay",),
        {
            "type": _Seconds(),
            "metavar": "SECONDS",
            "help": "With --events-queue-url: seconds between polls that catch a dropped "
            "event  [default: 60].",
        },
    ),
    "json": (
        ("--json",),
        {
            "is_flag": True,
            "help": "One JSON object per line per event (the default when stdout is not a "
            "terminal).",
        },
    ),
    "quiet": (
        ("--quiet", "-q"),
        {
            "is_flag": True,
            "help": "No progress output: only the final result (one line per job) and errors.",
        },
    ),
}
_CONNECTION = ("region", "profile", "endpoint_url")
_POLLING = (
    "timeout",
    "min_delay",
    "max_delay",
    "max_tps",
    "budget_url",
    "events_queue_url",
    "reconcile_delay",
)
_OUTPUT = ("json", "quiet")


def _shared(*names: str, **helps: str) -> Callable[[F], F]:
    """Add the shared options `names` to a command, in that order; `helps` overrides a help."""

    def decorate(f: F) -> F:
        for name in reversed(names):
            flags, attributes = _SHARED[name]
            attributes = {**attributes, "help": helps.get(name, attributes["help"])}
            f = click.option(*flags, name, expose_value=False, callback=_keep, **attributes)(f)
        return f

    return decorate


# -- what to wait on ---------------------------------------------------------------------------


# -- the commands ----------------------------------------------------------------------------


class _Group(click.Group):
    """The command group, with usage errors as one line on stderr (exit 2), like every error.

    Click would print the usage, a hint and the error on three or four lines.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            message = " ".join(error.format_message().split())
            no_args = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click 8.2 and later
            if isinstance(error, no_args) and isinstance(error.ctx, click.Context):
                # Click's message is the whole help: one line names the commands instead.
                names = ", ".join(self.list_commands(error.ctx))
                message = f"no command given; the commands are {names}"
            if error.ctx is not None:
                message += f" (see: {error.ctx.command_path} --help)"
            say_error(message)
            sys.exit(2)
        except click.ClickException as error:
            # Raised by `emulator` when it cannot listen on --host/--port: unusable input.
            say_error(" ".join(error.format_message().split()))
            sys.exit(2)
        except click.Abort:
            say_error("interrupted")
            sys.exit(128 + signal.SIGINT)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES
)
@click.version_option(package_name="omics-waiter", prog_name="omics-waiter")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Wait on AWS HealthOmics jobs of every kind, with live progress.

    Output: a live display on a terminal; JSON lines (one object per event) with --json or
    when stdout is not a terminal.

    Try it with no AWS account: omics-waiter demo
    """
    ctx.obj = Chosen()


_STORE = click.option(
    "--sequence-store-id",
    "-s",
    required=True,
    metavar="ID",
    help="The sequence store (10-36 digits).",
)


@main.command(epilog=EXIT_CODES)
@click.argument("kind", type=click.Choice(list(KINDS)), required=False, metavar="KIND")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option(
    "--sequence-store-id",
    "-s",
    metavar="ID",
    help="With -j: the activation jobs' sequence store (the same as 'wait activation STORE/JOB').",
)
@click.option(
    "--job-id",
    "-j",
    "job_ids",
    multiple=True,
    metavar="ID",
    help="With -s: a read set activation job; repeat for several.",
)
@click.option(
    "--tasks",
    is_flag=True,
    help="wait run: also follow each run's tasks, shown as its items (ListRunTasks requests).",
)
@click.option(
    "--until",
    metavar="STATUS",
    help="Stop following a job once it is seen at STATUS, or at a status it reaches only "
    "through STATUS (RUNNING for a run: RUNNING or COMPLETED); it then counts as a success.",
)
@_shared(*_CONNECTION, *_POLLING, *_OUTPUT)
@click.pass_context
def wait(
    ctx: click.Context,
    kind: str | None,
    ids: tuple[str, ...],
    sequence_store_id: str | None,
    job_ids: tuple[str, ...],
    tasks: bool,
    until: str | None,
) -> None:
    """Wait for jobs of one KIND to finish: wait KIND ID [ID ...].

    \b
    KIND and the form of its IDs:
      activation        SEQUENCE_STORE_ID/JOB_ID   (or -s STORE -j JOB, as in 0.1)
      read-set-import   SEQUENCE_STORE_ID/JOB_ID
      read-set-export   SEQUENCE_STORE_ID/JOB_ID
      reference-import  REFERENCE_STORE_ID/JOB_ID
      run               RUN_ID                     (--tasks: its tasks too)
      task              RUN_ID/TASK_ID
      variant-import    JOB_ID                     (a UUID)
      annotation-import JOB_ID                     (a UUID)
      workflow          WORKFLOW_ID                (until ACTIVE)
      workflow-version  WORKFLOW_ID/VERSION_NAME   (until ACTIVE)

    Exits 0 when every job succeeded (COMPLETED; ACTIVE for workflows; or reached --until);
    1 when any ended otherwise (FAILED, CANCELLED, COMPLETED_WITH_FAILURES ...); 3 on
    timeout; 4 on an access or service error.
    """
    if kind is None:
        if not (sequence_store_id or job_ids):
            raise click.UsageError(
                "Missing KIND and ID, e.g. 'wait run 1234567' (or 'wait -s STORE -j JOB' for "
                "read set activation jobs).",
                ctx,
            )
        if not job_ids:
            raise click.UsageError("Missing option '--job-id' / '-j'.", ctx)
        if not sequence_store_id:
            raise click.UsageError("Missing option '--sequence-store-id' / '-s'.", ctx)
        word = "activation"
    else:
        if sequence_store_id or job_ids:
            raise click.UsageError(
                f"give 'wait {kind} ID...' or -s/-j (activation jobs), not both.", ctx
            )
        if not ids:
            raise click.UsageError(f"Missing ID: wait {kind} {id_form(kind)} [...].", ctx)
        word = kind
    if tasks and word != "run":
        raise click.UsageError("--tasks applies to 'wait run' only.", ctx)
    settings = Settings.of(ctx)

    async def command() -> int:
        settings.check()
        wanted = check_until(word, until, name="--until")
        refs: list[JobRef[Any]]
        if kind is None:
            store = check_id("--sequence-store-id", sequence_store_id)
            refs = [ReadSetActivationJobRef(store, check_id("--job-id", j)) for j in job_ids]
        else:
            refs = [parse_ref(word, text) for text in ids]
        refs = list(dict.fromkeys(refs))  # a job given twice is waited on once
        board = JobBoard(refs, tasks=tasks, until=wanted)
        # Items' progress (runs: only with --tasks) costs requests; --quiet shows none of it.
        items = tasks if word == "run" else not settings.quiet and counts_items(word, tasks=False)
        return await settings.follow_on(
            board,
            lambda waiter, reporter: follow(
                waiter,
                refs,
                board,
                reporter,
                timeout=settings.timeout,
                items=items,
                quiet=settings.quiet,
                until=wanted,
            ),
        )

    run_command(command)


@main.command(epilog=EXIT_CODES)
@_STORE
@click.option(
    "--read-set-id",
    "-r",
    "read_set_ids",
    required=True,
    multiple=True,
    metavar="ID",
    help="An archived read set to activate; repeat for several (more than 20: several jobs).",
)
@click.option(
    "--client-token",
    metavar="TOKEN",
    help="Idempotency token (1-127 characters; default: derived from the store and read sets).",
)
@_shared(*_CONNECTION, *_POLLING, *_OUTPUT)
@click.pass_context
def activate(
    ctx: click.Context,
    sequence_store_id: str,
    read_set_ids: tuple[str, ...],
    client_token: str | None,
) -> None:
    """Activate archived read sets, then wait for the jobs to finish.

    More than 20 read sets are split into jobs of 20. Each job gets a deterministic client
    token (TOKEN itself for one job, TOKEN-1, TOKEN-2, ... for several; without --client-token,
    a hash of the store and the job's read sets), so running the same command again waits on
    the jobs it started before instead of starting duplicates.
    """
    settings = Settings.of(ctx)

    async def command() -> int:
        settings.check()
        store = check_id("--sequence-store-id", sequence_store_id)
        check_read_sets(read_set_ids, client_token)
        requests = chunk_requests(store, read_set_ids, client_token)
        board = JobBoard()
        return await settings.follow_on(
            board,
            lambda waiter, reporter: start_and_follow(
                waiter,
                store,
                requests,
                board,
                reporter,
                timeout=settings.timeout,
                quiet=settings.quiet,
            ),
        )

    run_command(command)


_LIST_EXIT_CODES = (
    "Exit codes: 0 listed (none found included); 2 invalid input or usage; 3 timeout (requests "
    "kept failing until --timeout); 4 access, credential, not-found or other service error; "
    "130 interrupted (SIGINT, Ctrl-C); 141 stdout closed early; 143 terminated (SIGTERM)."
)


@main.command("list", epilog=_LIST_EXIT_CODES)
@click.argument("kind", type=click.Choice(list(KINDS)), required=False, metavar="[KIND]")
@click.argument("scope", required=False, metavar="[SCOPE]")
@click.option(
    "--sequence-store-id",
    "-s",
    metavar="ID",
    help="Without KIND: the read set activation jobs of this sequence store (as in 0.1).",
)
@click.option(
    "--status",
    metavar="STATUS",
    help="Only jobs with this status (any case; one the kind's List filters by; workflows: "
    "one a workflow has, applied by omics-waiter).",
)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N jobs.")
@_shared(
    *_CONNECTION,
    "timeout",
    *_OUTPUT,
    timeout="Give up retrying failed requests after this long (exit 3); inf for no limit  "
    f"[default: {DEFAULT_TIMEOUT:g}].",
    quiet="Only the jobs' IDs, one per line, as 'wait KIND' takes them (with -s: the job IDs).",
)
@click.pass_context
def list_(
    ctx: click.Context,
    kind: str | None,
    scope: str | None,
    sequence_store_id: str | None,
    status: str | None,
    limit: int | None,
) -> None:
    """List the jobs of one KIND: list KIND [SCOPE] [--status S] [--limit N].

    \b
    KIND and its SCOPE:
      activation        SEQUENCE_STORE_ID   (or -s STORE, as in 0.1)
      read-set-import   SEQUENCE_STORE_ID
      read-set-export   SEQUENCE_STORE_ID
      reference-import  REFERENCE_STORE_ID
      run               (none: the account's runs)
      task              RUN_ID              (the run's tasks)
      variant-import    (none)
      annotation-import (none)
      workflow          (none: the account's private workflows; --status is applied
                        by omics-waiter, as ListWorkflows has no status filter)

    A table on a terminal; one JSON object per job with --json or when stdout is not a
    terminal; only the IDs with --quiet. Failed requests are retried until --timeout;
    each retry is reported (a poll_retrying line, or a line on the terminal).
    """
    settings = Settings.of(ctx)
    if kind is None:
        if sequence_store_id is None:
            raise click.UsageError(
                "Missing KIND, e.g. 'list run' or 'list read-set-import STORE' (or 'list -s "
                "STORE' for read set activation jobs).",
                ctx,
            )
        _list_activation_jobs(settings, sequence_store_id, status, limit)
    if sequence_store_id is not None:
        raise click.UsageError(f"give 'list {kind} SCOPE' or -s STORE, not both.", ctx)
    word = kind

    async def command() -> int:
        from ._cli_list import id_text, list_jobs, list_request, summary_record

        settings.check()
        request = list_request(word, scope, status, limit)
        with _list_retry_reporter(settings) as on_retry:
            async with settings.connect() as waiter:
                with stoppable():
                    jobs = await list_jobs(waiter, request, on_retry=on_retry)
        if stopped_by() is not None:
            return 0  # run_command says so and exits with the signal's code
        if settings.quiet:
            for text in id_text(jobs):
                click.echo(text)
        elif settings.json_output:
            for job in jobs:
                click.echo(json.dumps(summary_record(word, job, iso_time)))
        else:
            from rich.console import Console
            from rich.table import Table

            title = request.title()
            table = Table(title=title)
            for column in ("job", "status", "created"):
                table.add_column(column, no_wrap=True)
            for job in jobs:
                table.add_row(str(job.ref), job.status, _when(job.creation_time))
            console = Console()
            if jobs:
                console.print(table)
            else:
                console.print(f"No {title[0].lower()}{title[1:]}.")
        return 0

    run_command(command)


def _list_activation_jobs(
    settings: Settings, sequence_store_id: str, status: str | None, limit: int | None
) -> NoReturn:
    """``list -s STORE``: 0.1's listing of a store's read set activation jobs, as it was."""

    async def command() -> int:
        settings.check()
        store = check_id("--sequence-store-id", sequence_store_id)
        allowed = [s.value for s in ActivationJobStatus]
        if status is not None and status.upper() not in allowed:
            raise InvalidInputError(
                f"--status must be one of {', '.join(allowed)}, got {status!r}",
                argument="status",
            )
        wanted = None if status is None else status.upper()
        with _list_retry_reporter(settings) as on_retry:
            async with settings.connect() as waiter:
                with stoppable():
                    jobs = await waiter.list_activation_jobs(
                        store, status=wanted, limit=limit, on_retry=on_retry
                    )
        if stopped_by() is not None:
            return 0  # run_command says so and exits with the signal's code
        if settings.quiet:
            for job in jobs:
                click.echo(job.id)
        elif settings.json_output:
            for job in jobs:
                record = {
                    "type": "activation_job",
                    "sequence_store_id": job.sequence_store_id,
                    "job_id": job.id,
                    "status": job.status.value,
                    "creation_time": iso_time(job.creation_time),
                    "completion_time": (
                        None if job.completion_time is None else iso_time(job.completion_time)
                    ),
                }
                click.echo(json.dumps(record))
        else:
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"Read set activation jobs in sequence store {store}")
            for column in ("job", "status", "created", "completed"):
                table.add_column(column, no_wrap=True)
            for job in jobs:
                table.add_row(
                    job.id,
                    job.status.value,
                    _when(job.creation_time),
                    _when(job.completion_time),
                )
            console = Console()
            if jobs:
                console.print(table)
            else:
                console.print(f"No read set activation jobs in sequence store {store}.")
        return 0

    run_command(command)


@contextlib.contextmanager
def _list_retry_reporter(settings: Settings) -> Iterator[Callable[[PollRetrying], None] | None]:
    """How `list` shows retries: JSON lines, a transient line on the terminal, or not at all."""
    if settings.quiet:
        yield None
    elif settings.json_output:

        def write(event: PollRetrying) -> None:
            click.echo(json.dumps(event_record(event, redact=redact)))

        yield write
    else:
        from rich.console import Console

        with RetryStatus(Console(stderr=True)) as status:
            yield status.event


def _when(moment: dt.datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S %Z}"


def _seconds_range(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, float]:
    low_text, sep, high_text = value.partition(":")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not MIN:MAX seconds, e.g. 2:10") from None
    if not sep or not (0.0 <= low <= high <= 300.0):
        raise click.BadParameter(f"{value!r} needs 0 <= MIN <= MAX <= 300")
    return low, high


@main.command()
@click.option(
    "--jobs",
    "-n",
    type=click.IntRange(1, 50),
    default=6,
    show_default=True,
    help="Activation jobs to start.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seeds the read sets and job runs."
)
@click.option(
    "--job-seconds",
    metavar="MIN:MAX",
    default="3:12",
    show_default=True,
    callback=_seconds_range,
    help="Range of emulated job durations.",
)
@click.option(
    "--failure-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.04,
    show_default=True,
    help="Probability that a read set (or a task) fails.",
)
@click.option(
    "--events",
    is_flag=True,
    help="Follow push events too: starts moto's server as EventBridge and SQS (needs "
    "moto[server], in omics-waiter[test]); the emulator publishes each status change.",
)
@_shared(
    *_OUTPUT,
    json="One JSON object per line per event (without it, off a terminal: readable "
    "progress lines and the summary).",
)
@click.pass_context
def demo(
    ctx: click.Context,
    jobs: int,
    seed: int,
    job_seconds: tuple[float, float],
    failure_rate: float,
    events: bool,
) -> None:
    """Watch a small pipeline on an embedded emulator: no AWS account needed.

    Starts a local HealthOmics emulator and waits, with the live display, on jobs of three
    kinds at once: JOBS read set activation jobs of 1-20 read sets, started through the real
    AWS SDK client, a read set import job and a workflow run with its tasks (some read sets
    and tasks fail, some requests are throttled); then prints a summary. Takes about 15
    seconds.

    Exits 0 when the demo ran to its end, failures included (they are part of the show); 3 or
    4 if the wait itself broke.
    """
    from ._demo import run_demo

    settings = Settings.of(ctx)
    run_command(
        functools.partial(
            run_demo,
            settings,
            jobs=jobs,
            seed=seed,
            job_seconds=job_seconds,
            failure_rate=failure_rate,
            events=events,
        )
    )


main.add_command(emulator)
register_events_commands(main)
