"""`OmicsEmulator`: a local HealthOmics endpoint for every kind of job-like resource.

An aiohttp server speaking the service's rest-json wire protocol, routed and validated from
botocore's service model. Each API request goes through, in order: routing, signature check,
request quota, injected faults, validation, the operation. Job state is computed lazily from the
emulator clock, so serving requests needs no background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from omics_waiter.testing._errors import ApiError
from omics_waiter.testing._events import EventPublisher, EventSchedule, EventSettings
from omics_waiter.testing._faults import Faults, FaultSchedule, Outcome, Quota, decide
from omics_waiter.testing._jobs import Step
from omics_waiter.testing._kinds import Kind, spec
from omics_waiter.testing._model import Route, Router, check_argument, parse_request, service_model
from omics_waiter.testing._service import Service
from omics_waiter.testing._sigv4 import Credentials, verify
from omics_waiter.testing._stats import EmulatorStats

__all__ = ["OmicsEmulator"]

_STATS_PATH = "/_emulator/stats"
_UNKNOWN = "Unknown"
_ERROR_MESSAGES = {
    "InternalServerException": "An internal error occurred. Try the request again.",
    "ServiceQuotaExceededException": "The request exceeds a service quota.",
    "AccessDeniedException": "You do not have sufficient access to perform this action.",
    "RequestTimeoutException": "The request timed out.",
    "ThrottlingException": "Rate exceeded",
}


class _Dropped(Exception):
    """The connection was closed without a response."""


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


_KIND_NAMES = frozenset(kind.value for kind in Kind)


def _label_count(kind: Kind) -> int:
    """How many IDs name one job of ``kind``: the URI labels of its Get operation."""
    shape = service_model().operation_model(spec(kind).get_operation).input_shape
    assert shape is not None
    return sum(1 for m in shape.members.values() if m.serialization.get("location") == "uri")


def _count_or_keys(value: int | Sequence[str], argument: str) -> int | list[str]:
    if isinstance(value, str):
        raise TypeError(f"{argument} must be a count or a sequence of keys, not a single string")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{argument} must be at least 1, got {value}")
        return value
    return list(value)


class OmicsEmulator:
    """A local HealthOmics endpoint for jobs, runs, tasks, imports, exports and workflows.

    Use it as an async context manager; ``endpoint_url`` is valid inside the block::

        async with OmicsEmulator(job_seconds=(0.2, 0.5)) as emu:
            client = session.create_client("omics", endpoint_url=emu.endpoint_url, ...)

    Args:
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        access_key: The only access key accepted.
        secret_key: Its secret key; signatures are verified against it.
        session_token: If set, requests must carry it as ``X-Amz-Security-Token``.
        seed: Seeds every random choice (IDs, life cycles, faults), so runs repeat.
        job_seconds: Range of durations of randomly scheduled life cycles, in seconds.
        failure_rate: Probability that each item of a random job (a read set, a source, a
            variant file), each task of a random run, or a random workflow fails.
        visibility_delay: Seconds after a Start or Create request during which Get and List do
            not see the new resource yet (eventual consistency).
        quota_tps: Requests per second allowed per operation (token bucket holding
            max(1, quota_tps)); excess requests get 429 ThrottlingException. A mapping sets a
            rate per operation name (the others have no quota). None: no quota.
        faults: The initial fault settings.
        clock: The emulator clock (seconds); life cycles, fault windows and the quota run on
            it. Wire timestamps are wall-clock times that advance with it.
        region: The region in ARNs and events.
        events_endpoint_url: If set, every status change of every job, run, task and workflow
            is published there with EventBridge ``PutEvents`` (source ``aws.omics``), as the
            service does: best effort, in background tasks the emulator owns.
        event_delay: (min, max) seconds each event is held back (uniform; reorders events).
        event_drop_rate: Probability that an event is never sent.
        event_duplicate_rate: Probability that an event is sent twice.

    Raises:
        ValueError: An option is out of range.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str = "testing",
        secret_key: str = "testing",
        session_token: str | None = None,
        seed: int = 0,
        job_seconds: tuple[float, float] = (1.0, 3.0),
        failure_rate: float = 0.0,
        visibility_delay: float = 0.0,
        quota_tps: float | Mapping[str, float] | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        region: str = "us-east-1",
        events_endpoint_url: str | None = None,
        event_delay: tuple[float, float] = (0.0, 0.0),
        event_drop_rate: float = 0.0,
        event_duplicate_rate: float = 0.0,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port!r}")
        if not access_key or not secret_key:
            raise ValueError("access_key and secret_key must not be empty")
        low, high = job_seconds
        if not (0.0 <= low <= high and math.isfinite(high)):
            raise ValueError(
                f"job_seconds must be (min, max) with 0 <= min <= max, got {job_seconds!r}"
            )
        _check_rate("failure_rate", failure_rate)
        if not (visibility_delay >= 0.0 and math.isfinite(visibility_delay)):
            raise ValueError(f"visibility_delay must be >= 0 seconds, got {visibility_delay!r}")
        if not region:
            raise ValueError("region must not be empty")
        self._host = host
        self._port = port
        self._credentials = Credentials(access_key, secret_key, session_token)
        self._clock = clock
        self._clock_zero = clock()
        self._wall_zero = time.time()
        self._region = region
        self._quota = None if quota_tps is None else Quota(quota_tps, clock)
        self._faults = FaultSchedule(faults or Faults(), clock)
        # Separate streams, so that faults drawn do not change the jobs drawn and vice versa.
        self._fault_rng = random.Random(f"{seed}:faults")
        self._request_ids = random.Random(f"{seed}:request-ids")
        self._service = Service(
            rng=random.Random(f"{seed}:jobs"),
            job_seconds=(float(low), float(high)),
            failure_rate=failure_rate,
            epoch_ms=self._epoch_ms,
            token_key=f"omics-emulator:{seed}".encode(),
            region=region,
            visibility_delay=visibility_delay,
        )
        self._jobs = self._service.store
        self._router = Router()
        self._stats = EmulatorStats()
        self._events: EventSettings | None = None
        self._schedule: EventSchedule | None = None
        if events_endpoint_url is not None:
            self._events = EventSettings(
                endpoint_url=events_endpoint_url,
                region=region,
                delay=(float(event_delay[0]), float(event_delay[1])),
                drop_rate=event_drop_rate,
                duplicate_rate=event_duplicate_rate,
            )
            self._schedule = EventSchedule(
                settings=self._events,
                seed=seed,
                lookup=lambda key: self._jobs.find(*key),
                describe=self._service.event,
                epoch_ms=self._epoch_ms,
                stats=self._stats,
            )
            self._jobs.listen(self._schedule.watch)
        elif event_delay != (0.0, 0.0) or event_drop_rate or event_duplicate_rate:
            raise ValueError("event_delay and event_*_rate need events_endpoint_url")
        self._publisher: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._endpoint_url: str | None = None
        self._closing = asyncio.Event()

    # -- life cycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> OmicsEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start listening. Prefer ``async with``.

        Raises:
            RuntimeError: Already started.
            OSError: The address is not available.
        """
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if self._events is not None and self._schedule is not None:
            publisher = EventPublisher(
                schedule=self._schedule, settings=self._events, clock=self._clock, stats=self._stats
            )
            self._publisher = asyncio.create_task(publisher.run(), name="omics-emulator-events")
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._endpoint_url = f"http://{host}:{port}"

    async def aclose(self) -> None:
        """Stop listening; held-back (slow) responses are released first. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
        await runner.cleanup()

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` of the running emulator.

        Raises:
            RuntimeError: The emulator is not running.
        """
        if self._endpoint_url is None or self._runner is None:
            raise RuntimeError("the emulator is not running; use `async with OmicsEmulator()`")
        return self._endpoint_url

    async def events_settled(self, timeout: float = 10.0) -> None:
        """Wait until every event due by now has been sent (or counted as failed).

        Raises:
            RuntimeError: The emulator publishes no events, or is not running.
            TimeoutError: Events are still being sent after ``timeout`` seconds.
        """
        if self._schedule is None or self._publisher is None:
            raise RuntimeError(
                "the emulator publishes no events (events_endpoint_url) or is stopped"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        now = self._clock()
        while self._schedule.waiting(now):
            if loop.time() > deadline:
                raise TimeoutError("events were still being sent")
            await asyncio.sleep(0.01)

    @property
    def region(self) -> str:
        """The region in ARNs (and, with events, in each event)."""
        return self._region

    # -- test API: adding jobs ------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        """Request counters by operation and HTTP status."""
        return self._stats

    def add_job(
        self,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a read set activation job directly, without a request.

        Args:
            sequence_store_id: The job's sequence store (10-36 digits).
            read_set_ids: Its sources (1-20 IDs of 10-36 digits).
            timeline: A scripted life cycle; None draws a random one, as for jobs started over
                HTTP. A scripted job starts SUBMITTED with every source NOT_STARTED.
            visible_after: Seconds during which Get and List act as if the job did not exist.

        Returns:
            The job ID.

        Raises:
            ValueError: An ID or the number of sources breaks the model's constraints, or the
                timeline names read sets that are not in the job.
            TypeError: ``read_set_ids`` is a single string.
        """
        return self._add_with_read_sets(
            Kind.READ_SET_ACTIVATION_JOB,
            "StartReadSetActivationJob",
            sequence_store_id,
            read_set_ids,
            {},
            timeline,
            visible_after,
        )

    def add_read_set_export_job(
        self,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a read set export job; arguments as for `add_job`. Returns the job ID."""
        attrs = {
            "destination": f"s3://omics-emulator/exports/{sequence_store_id}/",
            "roleArn": "arn:aws:iam::123456789012:role/omics-emulator",
        }
        return self._add_with_read_sets(
            Kind.READ_SET_EXPORT_JOB,
            "StartReadSetExportJob",
            sequence_store_id,
            read_set_ids,
            attrs,
            timeline,
            visible_after,
        )

    def _add_with_read_sets(
        self,
        kind: Kind,
        operation: str,
        store: str,
        read_set_ids: Sequence[str],
        attrs: dict[str, Any],
        timeline: Sequence[Step] | None,
        visible_after: float,
    ) -> str:
        if isinstance(read_set_ids, str):
            raise TypeError("read_set_ids must be a sequence of IDs, not a single string")
        check_argument(operation, "sequenceStoreId", store, "sequence_store_id")
        check_argument(
            operation, "sources", [{"readSetId": r} for r in read_set_ids], "read_set_ids"
        )
        job = self._service.add_storage_job(
            kind,
            store,
            list(read_set_ids),
            now=self._clock(),
            attrs=attrs,
            timeline=timeline,
            visible_after=visible_after,
        )
        return job.id

    def add_read_set_import_job(
        self,
        sequence_store_id: str,
        sources: int | Sequence[str] = 1,
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a read set import job directly.

        Args:
            sequence_store_id: The job's sequence store (10-36 digits).
            sources: How many source files (1-100), or the IDs of the read sets they become
                (the item keys a timeline names; shown as ``readSetId`` once FINISHED).
            timeline: A scripted life cycle; None draws a random one.
            visible_after: Seconds during which Get and List act as if the job did not exist.

        Returns:
            The job ID.

        Raises:
            ValueError: An argument breaks the model's constraints, or the timeline names
                sources that are not in the job.
        """
        return self._add_import(
            Kind.READ_SET_IMPORT_JOB,
            "StartReadSetImportJob",
            "sequenceStoreId",
            sequence_store_id,
            "sequence_store_id",
            sources,
            timeline,
            visible_after,
        )

    def add_reference_import_job(
        self,
        reference_store_id: str,
        sources: int | Sequence[str] = 1,
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a reference import job; ``sources`` is a count or the reference IDs they
        become (shown as ``referenceId`` once FINISHED). Otherwise as
        `add_read_set_import_job`. Returns the job ID.
        """
        return self._add_import(
            Kind.REFERENCE_IMPORT_JOB,
            "StartReferenceImportJob",
            "referenceStoreId",
            reference_store_id,
            "reference_store_id",
            sources,
            timeline,
            visible_after,
        )

    def _add_import(
        self,
        kind: Kind,
        operation: str,
        store_member: str,
        store: str,
        argument: str,
        sources: int | Sequence[str],
        timeline: Sequence[Step] | None,
        visible_after: float,
    ) -> str:
        check_argument(operation, store_member, store, argument)
        wanted = _count_or_keys(sources, "sources")
        keys = self._service.item_ids(wanted) if isinstance(wanted, int) else wanted
        if not 1 <= len(keys) <= 100:
            raise ValueError(f"sources must hold 1 to 100 sources, got {len(keys)}")
        for key in keys:
            check_argument("GetReadSetActivationJob", "id", key, "sources")
        job = self._service.add_storage_job(
            kind,
            store,
            keys,
            now=self._clock(),
            attrs={"roleArn": "arn:aws:iam::123456789012:role/omics-emulator"},
            timeline=timeline,
            visible_after=visible_after,
        )
        return job.id

    def add_variant_import_job(
        self,
        store_name: str,
        items: int | Sequence[str] = 1,
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a variant import job directly.

        Args:
            store_name: The destination variant store's name.
            items: How many VCF files, or their S3 URIs (the item keys a timeline names).
            timeline: A scripted life cycle; None draws a random one (items SUBMITTED,
                IN_PROGRESS, then COMPLETED or FAILED; the job COMPLETED, FAILED or
                COMPLETED_WITH_FAILURES).
            visible_after: Seconds during which Get and List act as if the job did not exist.

        Returns:
            The job ID (a UUID).

        Raises:
            ValueError: An argument breaks the model's constraints.
        """
        return self._add_analytics(
            Kind.VARIANT_IMPORT_JOB,
            "StartVariantImportJob",
            store_name,
            items,
            {},
            timeline,
            visible_after,
        )

    def add_annotation_import_job(
        self,
        store_name: str,
        items: int | Sequence[str] = 1,
        *,
        version_name: str | None = None,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create an annotation import job; as `add_variant_import_job`, plus the store
        version (``versionName``; "default" if None). Returns the job ID (a UUID).
        """
        attrs: dict[str, Any] = {}
        if version_name is not None:
            check_argument("StartAnnotationImportJob", "versionName", version_name, "version_name")
            attrs["versionName"] = version_name
        return self._add_analytics(
            Kind.ANNOTATION_IMPORT_JOB,
            "StartAnnotationImportJob",
            store_name,
            items,
            attrs,
            timeline,
            visible_after,
        )

    def _add_analytics(
        self,
        kind: Kind,
        operation: str,
        store_name: str,
        items: int | Sequence[str],
        attrs: dict[str, Any],
        timeline: Sequence[Step] | None,
        visible_after: float,
    ) -> str:
        check_argument(operation, "destinationName", store_name, "store_name")
        wanted = _count_or_keys(items, "items")
        if isinstance(wanted, int):
            folder = kind.value.split("_")[0]
            wanted = [
                f"s3://omics-emulator/{folder}/{store_name}/file-{n}.vcf.gz"
                for n in range(1, wanted + 1)
            ]
        if len(set(wanted)) != len(wanted):
            raise ValueError("items must not repeat a source")
        check_argument(operation, "items", [{"source": key} for key in wanted], "items")
        job = self._service.add_storage_job(
            kind,
            "",
            wanted,
            now=self._clock(),
            attrs={
                "destinationName": store_name,
                "roleArn": "arn:aws:iam::123456789012:role/omics-emulator",
                **attrs,
            },
            timeline=timeline,
            visible_after=visible_after,
        )
        return job.id

    def add_run(
        self,
        *,
        timeline: Sequence[Step] | None = None,
        tasks: int | Sequence[Sequence[Step]] | None = None,
        name: str | None = None,
        workflow_id: str = "1234567",
        visible_after: float = 0.0,
    ) -> str:
        """Create a run and its tasks directly.

        Args:
            timeline: The run's scripted life cycle (it starts PENDING); None draws a random
                one, or with scripted ``tasks`` follows them (RUNNING when the first task
                appears; STOPPING then COMPLETED after the last ends, or FAILED from the first
                task failure on).
            tasks: For a random run, how many random tasks (None: 1 to 3). Otherwise a list
                with one scripted timeline per task; a task's ``Step.at`` counts from the run's
                creation and the task exists from its first step (it starts PENDING).
            name: The run's name.
            workflow_id: Its workflow (any digits; a workflow added here gives its name).
            visible_after: Seconds during which Get and List act as if the run did not exist.

        Returns:
            The run ID; `task_ids` gives its tasks' IDs.

        Raises:
            ValueError: A scripted run given a count of tasks, or an argument the service
                would refuse.
        """
        attrs: dict[str, Any] = {
            "workflowId": workflow_id,
            "roleArn": "arn:aws:iam::123456789012:role/omics-emulator",
            "outputUri": "s3://omics-emulator/runs",
        }
        check_argument("StartRun", "workflowId", workflow_id, "workflow_id")
        if name is not None:
            check_argument("StartRun", "name", name, "name")
            attrs["name"] = name
        if isinstance(tasks, int) and tasks < 0:
            raise ValueError(f"tasks must be >= 0, got {tasks}")
        run = self._service.add_run(
            now=self._clock(),
            attrs=attrs,
            timeline=timeline,
            tasks=tasks,
            visible_after=visible_after,
        )
        return run.id

    def task_ids(self, run_id: str) -> list[str]:
        """The IDs of a run's tasks, in the order they were given (including tasks that do not
        exist yet, and not those a failure or a cancellation prevented).

        Raises:
            KeyError: No such run.
        """
        run = self._service.find(Kind.RUN, (run_id,))
        if run is None:
            raise KeyError(run_id)
        return list(run.attrs.get("tasks", ()))

    def add_workflow(
        self,
        *,
        timeline: Sequence[Step] | None = None,
        name: str | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a workflow directly: CREATING, then as scripted, or (None) ACTIVE after a
        random time, or FAILED with probability ``failure_rate``. Returns the workflow ID.
        """
        attrs: dict[str, Any] = {}
        if name is not None:
            check_argument("CreateWorkflow", "name", name, "name")
            attrs["name"] = name
        job = self._service.add_workflow(
            now=self._clock(), attrs=attrs, timeline=timeline, visible_after=visible_after
        )
        return job.id

    def add_workflow_version(
        self,
        workflow_id: str,
        version_name: str,
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a version of a workflow added before; life cycle as `add_workflow`.

        Returns:
            The version name (what GetWorkflowVersion takes with the workflow ID).

        Raises:
            KeyError: No such workflow.
            ValueError: The name breaks the model's pattern, or the workflow has it already.
        """
        if self._service.find(Kind.WORKFLOW, (workflow_id,)) is None:
            raise KeyError(workflow_id)
        check_argument("CreateWorkflowVersion", "versionName", version_name, "version_name")
        try:
            job = self._service.add_workflow(
                now=self._clock(),
                attrs={},
                timeline=timeline,
                visible_after=visible_after,
                workflow_id=workflow_id,
                version_name=version_name,
            )
        except ApiError as exc:
            raise ValueError(exc.message) from None
        return job.id

    # -- test API: faults and state -------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings from now on (an open `faults_window` still overrides)."""
        self._faults.set_base(faults)

    @contextlib.contextmanager
    def faults_window(self, faults: Faults, duration: float | None = None) -> Iterator[None]:
        """Apply ``faults`` from entry until exit, or until ``duration`` seconds have passed.

        Args:
            faults: The settings in force inside the window.
            duration: Emulator-clock seconds after which the window closes by itself; None
                keeps it open until exit.
        """
        if duration is not None and not duration >= 0.0:
            raise ValueError(f"duration must be >= 0 seconds, got {duration!r}")
        handle = self._faults.open_window(faults, math.inf if duration is None else duration)
        try:
            yield
        finally:
            self._faults.close_window(handle)

    def _resolve(self, key: Sequence[str]) -> tuple[Kind, tuple[str, ...]]:
        if key and key[0] in _KIND_NAMES:
            kind, ids = Kind(key[0]), tuple(key[1:])
        else:
            kind, ids = Kind.READ_SET_ACTIVATION_JOB, tuple(key)
        expected = _label_count(kind)
        if len(ids) != expected:
            raise TypeError(
                f"a {kind.value} is named by {expected} ID(s) (as in its Get request), "
                f"got {len(ids)}"
            )
        return kind, ids

    def completion_time(self, *key: str) -> float | None:
        """The emulator-clock time at which a job reached a final status, or None if not yet.

        Final statuses: CANCELLED, FAILED, COMPLETED, COMPLETED_WITH_FAILURES for jobs;
        COMPLETED, CANCELLED, FAILED, DELETED for runs and tasks; ACTIVE, FAILED, INACTIVE,
        DELETED for workflows and versions.

        Args:
            key: A job ID of any kind (unique across kinds), or a kind name followed by the IDs
                of its Get request: ``("task", run_id, task_id)``,
                ``("workflow_version", workflow_id, version_name)``.

        Raises:
            KeyError: No such job.
        """
        now = self._clock()
        if len(key) == 1:
            return self._jobs.by_id(key[0]).snapshot(now).completion_time
        kind, ids = self._resolve(key)
        job = self._service.find(kind, ids)
        if job is None:
            raise KeyError(ids[-1])
        return job.snapshot(now).completion_time

    def job_state(self, *key: str) -> dict[str, Any]:
        """A job's Get response body as of now (JSON-ready), ignoring faults and visibility.

        Args:
            key: ``(sequence_store_id, job_id)`` for an activation job, or a kind name
                (a `Kind` value) followed by the IDs of its Get request, e.g.
                ``("run", run_id)``, ``("task", run_id, task_id)``,
                ``("reference_import_job", reference_store_id, job_id)``,
                ``("variant_import_job", job_id)``,
                ``("workflow_version", workflow_id, version_name)``.

        Raises:
            KeyError: No such job.
            TypeError: The wrong number of IDs for the kind.
        """
        kind, ids = self._resolve(key)
        return self._service.state(kind, ids, self._clock())

    # -- HTTP ---------------------------------------------------------------------------------

    def _epoch_ms(self, clock_time: float) -> int:
        return math.floor((self._wall_zero + clock_time - self._clock_zero) * 1000)

    def _json(self, payload: object, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(payload, separators=(",", ":")).encode(),
            content_type="application/json",
            headers={"x-amzn-RequestId": self._request_id()},
        )

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self._request_ids.getrandbits(128), version=4))

    def _error(self, error: ApiError) -> web.Response:
        response = self._json({"message": error.message}, status=error.status)
        response.headers["x-amzn-ErrorType"] = error.code
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == _STATS_PATH and request.method == "GET":
            served: dict[str, Any] = {"requests": self._stats.requests}
            if self._events is not None:
                served["events"] = self._stats.events
            return self._json(served)
        found = self._router.match(
            # rel_url: the path even when a proxied request names an absolute URL.
            request.method,
            request.rel_url.raw_path,
            request.headers.get("Host", ""),
        )
        operation = _UNKNOWN if found is None else found[0].operation
        try:
            response = await self._answer(request, found)
        except _Dropped:
            self._stats.record(operation, "dropped")
            return web.Response()  # never sent: the transport is closed
        self._stats.record(operation, response.status)
        return response

    async def _answer(
        self, request: web.Request, found: tuple[Route, dict[str, str]] | None
    ) -> web.Response:
        try:
            return await self._process(request, found)
        except ApiError as error:
            return self._error(error)

    async def _process(
        self, request: web.Request, found: tuple[Route, dict[str, str]] | None
    ) -> web.Response:
        body = await request.read()
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        verify(
            method=request.method,
            target=request.raw_path,
            headers=headers,
            body=body,
            credentials=self._credentials,
            now=datetime.datetime.now(datetime.timezone.utc),
        )
        if found is None:
            raise ApiError(
                "UnknownOperationException",
                f"No operation matches {request.method} {request.path}",
            )
        route, labels = found
        operation = route.operation
        if self._quota is not None and not self._quota.admit(operation):
            raise ApiError("ThrottlingException", _ERROR_MESSAGES["ThrottlingException"])
        faults = self._faults.current()
        decision = decide(faults, self._fault_rng, operation)
        if decision.delay > 0.0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), decision.delay)
        if decision.outcome is Outcome.THROTTLE:
            raise ApiError("ThrottlingException", _ERROR_MESSAGES["ThrottlingException"])
        if decision.outcome is Outcome.ERROR:
            code = faults.error_code
            raise ApiError(code, _ERROR_MESSAGES.get(code, "Injected error."))
        if decision.outcome is Outcome.DROP:
            if request.transport is not None:
                request.transport.close()
            raise _Dropped
        if decision.outcome is Outcome.MALFORMED:
            return self._malformed(operation)
        query = {name: request.query.getall(name) for name in request.query}
        params = parse_request(
            service_model().operation_model(operation), labels, query, headers, body
        )
        payload = self._service.call(operation, params, self._clock())
        return self._json(payload, status=route.response_code)

    def _malformed(self, operation: str) -> web.Response:
        choice = self._fault_rng.randrange(3)
        if choice == 0:
            body = b'{"id": "12345'  # cut short
        elif choice == 1:
            body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        elif operation.startswith("List"):
            output = service_model().operation_model(operation).output_shape
            assert output is not None
            member = next(
                name for name, shape in output.members.items() if shape.type_name == "list"
            )
            body = json.dumps({member: [{"status": "COMPLETED"}]}).encode()
        else:
            body = b'{"message": "OK"}'
        return web.Response(
            status=200,
            body=body,
            content_type="application/json",
            headers={"x-amzn-RequestId": self._request_id()},
        )
