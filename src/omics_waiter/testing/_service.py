"""The emulated service: every served operation over the job store, free of HTTP.

`Service.call` takes an operation name and its input as `parse_request` produced it (validated
against the model) and returns the response body, or raises `ApiError`. The ``add_*`` methods
create jobs of each kind directly; operations and tests share them, so a job started over HTTP
and one added by a test behave the same.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omics_waiter.testing._errors import ApiError
from omics_waiter.testing._jobs import (
    Job,
    JobSnapshot,
    SourceSnapshot,
    Step,
    derived_run,
    random_run,
    random_timeline,
    random_workflow_timeline,
)
from omics_waiter.testing._kinds import Kind, spec
from omics_waiter.testing._model import format_timestamp
from omics_waiter.testing._store import (
    IdempotencyMismatchError,
    InvalidTokenError,
    JobStore,
    ListFilter,
)

__all__ = ["ACCOUNT", "Service"]

#: The account every emulated resource belongs to.
ACCOUNT = "123456789012"
_ROLE = f"arn:aws:iam::{ACCOUNT}:role/omics-emulator"
_BUCKET = "s3://omics-emulator"

# Storage jobs: the store ID member, the list member of List, the items member of Get.
_STORAGE = {
    Kind.READ_SET_ACTIVATION_JOB: ("sequenceStoreId", "activationJobs", "sources"),
    Kind.READ_SET_IMPORT_JOB: ("sequenceStoreId", "importJobs", "sources"),
    Kind.READ_SET_EXPORT_JOB: ("sequenceStoreId", "exportJobs", "readSets"),
    Kind.REFERENCE_IMPORT_JOB: ("referenceStoreId", "importJobs", "sources"),
}
_STORAGE_OPERATIONS = {
    "ReadSetActivationJob": Kind.READ_SET_ACTIVATION_JOB,
    "ReadSetImportJob": Kind.READ_SET_IMPORT_JOB,
    "ReadSetExportJob": Kind.READ_SET_EXPORT_JOB,
    "ReferenceImportJob": Kind.REFERENCE_IMPORT_JOB,
}
_ANALYTICS = {
    Kind.VARIANT_IMPORT_JOB: "variantImportJobs",
    Kind.ANNOTATION_IMPORT_JOB: "annotationImportJobs",
}


def _fingerprint(params: Mapping[str, Any], token_member: str) -> str:
    rest = {key: value for key, value in params.items() if key != token_member}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), default=str)


def _not_found(kind: Kind, ids: Sequence[str]) -> ApiError:
    noun = spec(kind).noun
    where = ""
    if len(ids) > 1:
        where = f" in {ids[0]}"
    return ApiError("ResourceNotFoundException", f"{noun} {ids[-1]} was not found{where}.")


class Service:
    """Every job kind's operations, over one `JobStore`.

    Args:
        rng: Draws IDs and random life cycles.
        job_seconds: Range of random life cycle durations.
        failure_rate: Probability that an item, a task or a workflow fails.
        epoch_ms: Converts an emulator-clock time to the wire time (epoch milliseconds).
        token_key: Signs pagination tokens.
        region: The region in ARNs.
        visibility_delay: Seconds during which a job started over HTTP is not visible.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        job_seconds: tuple[float, float],
        failure_rate: float,
        epoch_ms: Callable[[float], int],
        token_key: bytes,
        region: str,
        visibility_delay: float,
    ) -> None:
        self._rng = rng
        self._job_seconds = job_seconds
        self._failure_rate = failure_rate
        self._epoch_ms = epoch_ms
        self._region = region
        self._visibility_delay = visibility_delay
        self._stop_seconds = 0.05 * (job_seconds[0] + job_seconds[1])
        self.store = JobStore(epoch_ms=epoch_ms, token_key=token_key)
        self._handlers: dict[str, Callable[[dict[str, Any], float], dict[str, Any]]] = {
            "StartRun": self._start_run,
            "GetRun": self._get_run,
            "ListRuns": self._list_runs,
            "CancelRun": self._cancel_run,
            "GetRunTask": self._get_task,
            "ListRunTasks": self._list_tasks,
            "StartVariantImportJob": self._start_analytics(Kind.VARIANT_IMPORT_JOB),
            "GetVariantImportJob": self._get_analytics(Kind.VARIANT_IMPORT_JOB),
            "ListVariantImportJobs": self._list_analytics(Kind.VARIANT_IMPORT_JOB),
            "StartAnnotationImportJob": self._start_analytics(Kind.ANNOTATION_IMPORT_JOB),
            "GetAnnotationImportJob": self._get_analytics(Kind.ANNOTATION_IMPORT_JOB),
            "ListAnnotationImportJobs": self._list_analytics(Kind.ANNOTATION_IMPORT_JOB),
            "CreateWorkflow": self._create_workflow,
            "GetWorkflow": self._get_workflow,
            "ListWorkflows": self._list_workflows,
            "CreateWorkflowVersion": self._create_version,
            "GetWorkflowVersion": self._get_version,
        }
        for suffix, kind in _STORAGE_OPERATIONS.items():
            self._handlers[f"Start{suffix}"] = self._start_storage(kind)
            self._handlers[f"Get{suffix}"] = self._get_storage(kind)
            self._handlers[f"List{suffix}s"] = self._list_storage(kind)

    # -- entry points ---------------------------------------------------------------------

    def call(self, operation: str, params: dict[str, Any], now: float) -> dict[str, Any]:
        """Carry out ``operation``; returns the response body.

        Raises:
            ApiError: ResourceNotFoundException, ValidationException, ConflictException.
        """
        return self._handlers[operation](params, now)

    def state(self, kind: Kind, ids: Sequence[str], now: float) -> dict[str, Any]:
        """The Get response body of a job, ignoring visibility.

        Raises:
            KeyError: No such job.
        """
        job = self._lookup(kind, ids)
        if job is None:
            raise KeyError(ids[-1])
        return self._render(job, job.snapshot(now), now)

    def find(self, kind: Kind, ids: Sequence[str]) -> Job | None:
        """The job these IDs (as in its Get operation's path) name, if any."""
        return self._lookup(kind, ids)

    def event(self, job: Job, snapshot: JobSnapshot) -> tuple[str, dict[str, Any], str] | None:
        """The EventBridge detail-type, detail and resource ARN of a job's status, or None for
        kinds the service sends no event for (workflow versions).
        """
        detail_type = spec(job.kind).detail_type
        if detail_type is None:
            return None
        arn = self._arn(_JOB_ARN[job.kind].format(scope=job.scope, id=job.id))
        detail: dict[str, Any] = {"omicsVersion": "1.0.0"}
        if job.kind in _STORAGE:
            detail["id"] = job.id
            detail[_STORAGE[job.kind][0]] = job.scope
            detail["status"] = snapshot.status
            if snapshot.status_message is not None:
                detail["statusMessage"] = snapshot.status_message
        elif job.kind in _ANALYTICS:
            detail.update(
                arn=arn,
                status=snapshot.status,
                jobId=job.id,
                storeName=job.attrs["destinationName"],
            )
        elif job.kind is Kind.RUN:
            detail.update(arn=arn, status=snapshot.status, **self._run_fields(job))
        elif job.kind is Kind.TASK:
            run = self.store.find(Kind.RUN, "", job.scope)
            assert run is not None
            fields = self._run_fields(run)
            detail.update(
                arn=arn,
                status=snapshot.status,
                runArn=self._arn(f"run/{run.id}"),
                runUuid=fields["uuid"],
                runId=run.id,
                runName=fields["runName"],
                workflowId=fields["workflowId"],
                workflowName=fields["workflowName"],
                taskId=job.id,
            )
        else:
            detail.update(
                arn=arn,
                status=snapshot.status,
                workflowId=job.id,
                workflowName=job.attrs.get("name", ""),
                uuid=job.attrs["uuid"],
            )
        return detail_type, detail, arn

    def _run_fields(self, run: Job) -> dict[str, str]:
        workflow_id = run.attrs.get("workflowId", "1234567")
        workflow = self.store.find(Kind.WORKFLOW, "", workflow_id)
        output = run.attrs.get("outputUri", f"{_BUCKET}/runs")
        return {
            "uuid": run.attrs["uuid"],
            "runId": run.id,
            "runName": run.attrs.get("name", ""),
            "runOutputUri": f"{output.rstrip('/')}/{run.id}",
            "workflowId": workflow_id,
            "workflowName": "" if workflow is None else workflow.attrs.get("name", ""),
        }

    # -- IDs and names --------------------------------------------------------------------

    def _new_id(self, kind: Kind) -> str:
        digits = spec(kind).id_digits
        if not digits:
            return self._uuid()
        while True:
            candidate = str(self._rng.randrange(10 ** (digits - 1), 10**digits))
            if not self.store.taken(candidate):
                return candidate

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _arn(self, resource: str) -> str:
        return f"arn:aws:omics:{self._region}:{ACCOUNT}:{resource}"

    def _time(self, clock_time: float | None) -> str | None:
        return None if clock_time is None else format_timestamp(self._epoch_ms(clock_time))

    # -- creating jobs --------------------------------------------------------------------

    def add_storage_job(
        self,
        kind: Kind,
        scope: str,
        item_keys: Sequence[str],
        *,
        now: float,
        attrs: Mapping[str, Any],
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
        token: str | None = None,
        fingerprint: str = "",
    ) -> Job:
        """An activation, read set import or export, or reference import job (or analytics)."""
        if token is not None:
            found = self.store.claimed(kind, scope, token, fingerprint)
            if found is not None:
                return found
        if timeline is None:
            timeline = random_timeline(
                self._rng,
                item_keys,
                job_seconds=self._job_seconds,
                failure_rate=self._failure_rate,
                kind=kind,
            )
        job = Job.build(
            kind=kind,
            job_id=self._new_id(kind),
            scope=scope,
            item_keys=item_keys,
            created=now,
            seq=self.store.next_seq(),
            timeline=timeline,
            visible_after=visible_after,
            attrs=attrs,
        )
        self.store.add(job, token=token, fingerprint=fingerprint)
        return job

    def item_ids(self, count: int) -> list[str]:
        """``count`` fresh read set or reference IDs."""
        return [str(self._rng.randrange(10**9, 10**10)) for _ in range(count)]

    def add_run(
        self,
        *,
        now: float,
        attrs: Mapping[str, Any],
        timeline: Sequence[Step] | None = None,
        tasks: int | Sequence[Sequence[Step]] | None = None,
        visible_after: float = 0.0,
        token: str | None = None,
        fingerprint: str = "",
    ) -> Job:
        """A run and its tasks; see `OmicsEmulator.add_run` for ``timeline`` and ``tasks``."""
        if token is not None:
            found = self.store.claimed(Kind.RUN, "", token, fingerprint)
            if found is not None:
                return found
        if timeline is None:
            if tasks is None or isinstance(tasks, int):
                count = self._rng.randint(1, 3) if tasks is None else tasks
                names = [f"task-{index}" for index in range(1, count + 1)]
                plan = random_run(
                    self._rng,
                    names,
                    job_seconds=self._job_seconds,
                    failure_rate=self._failure_rate,
                )
                timeline, task_timelines = plan.timeline, list(plan.tasks)
            else:
                task_timelines = [tuple(task) for task in tasks]
                names = [f"task-{index}" for index in range(1, len(task_timelines) + 1)]
                timeline = derived_run(task_timelines, names)
        else:
            if isinstance(tasks, int) and tasks > 0:
                raise ValueError("a scripted run takes scripted tasks: a list of Step lists")
            task_timelines = (
                [] if tasks is None or isinstance(tasks, int) else [tuple(t) for t in tasks]
            )
            names = [f"task-{index}" for index in range(1, len(task_timelines) + 1)]
        run_id = self._new_id(Kind.RUN)
        task_ids = []
        for name, steps in zip(names, task_timelines, strict=True):
            if not steps:
                continue  # never started
            first = min(step.at for step in steps)
            task_id = self._new_id(Kind.TASK)
            while task_id == run_id or task_id in task_ids:
                task_id = self._new_id(Kind.TASK)
            task = Job.build(
                kind=Kind.TASK,
                job_id=task_id,
                scope=run_id,
                created=now + first,
                seq=self.store.next_seq(),
                timeline=[
                    Step(
                        at=step.at - first,
                        status=step.status,
                        status_message=step.status_message,
                        failure_reason=step.failure_reason,
                    )
                    for step in steps
                ],
                visible_after=max(0.0, visible_after - first),
                attrs={
                    "name": name,
                    "uuid": self._uuid(),
                    "cpus": 2,
                    "memory": 4,
                    "gpus": 0,
                    "instanceType": "omics.c.large",
                },
            )
            self.store.add(task)
            task_ids.append(task.id)
        run = Job.build(
            kind=Kind.RUN,
            job_id=run_id,
            scope="",
            created=now,
            seq=self.store.next_seq(),
            timeline=timeline,
            visible_after=visible_after,
            attrs={**attrs, "uuid": self._uuid(), "tasks": tuple(task_ids)},
        )
        self.store.add(run, token=token, fingerprint=fingerprint)
        return run

    def add_workflow(
        self,
        *,
        now: float,
        attrs: Mapping[str, Any],
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
        token: str | None = None,
        fingerprint: str = "",
        workflow_id: str | None = None,
        version_name: str | None = None,
    ) -> Job:
        """A workflow, or with ``workflow_id`` and ``version_name`` a version of one."""
        kind = Kind.WORKFLOW if workflow_id is None else Kind.WORKFLOW_VERSION
        scope = workflow_id or ""
        if token is not None:
            found = self.store.claimed(kind, scope, token, fingerprint)
            if found is not None:
                return found
        if version_name is not None and self.store.find(kind, scope, version_name) is not None:
            raise ApiError(
                "ConflictException",
                f"Workflow {workflow_id} already has a version named {version_name}.",
            )
        if timeline is None:
            timeline = random_workflow_timeline(
                self._rng, job_seconds=self._job_seconds, failure_rate=self._failure_rate
            )
        job = Job.build(
            kind=kind,
            job_id=version_name or self._new_id(kind),
            scope=scope,
            created=now,
            seq=self.store.next_seq(),
            timeline=timeline,
            visible_after=visible_after,
            attrs={**attrs, "uuid": self._uuid()},
        )
        self.store.add(job, token=token, fingerprint=fingerprint)
        return job

    # -- lookups --------------------------------------------------------------------------

    def _lookup(self, kind: Kind, ids: Sequence[str]) -> Job | None:
        scope = ids[0] if len(ids) > 1 else ""
        return self.store.find(kind, scope, ids[-1])

    def _visible(self, kind: Kind, ids: Sequence[str], now: float) -> Job:
        job = self._lookup(kind, ids)
        if job is None or not job.visible(now):
            raise _not_found(kind, ids)
        return job

    def _render(self, job: Job, snapshot: JobSnapshot, now: float) -> dict[str, Any]:
        if job.kind in _STORAGE:
            return self._storage_body(job, snapshot, full=True)
        if job.kind in _ANALYTICS:
            return self._analytics_body(job, snapshot, full=True)
        if job.kind is Kind.RUN:
            return self._run_body(job, snapshot, full=True)
        if job.kind is Kind.TASK:
            return self._task_body(job, snapshot, full=True)
        return self._workflow_body(job, snapshot)

    def _page_size(self, params: Mapping[str, Any]) -> int:
        return int(params.get("maxResults", 100))

    # -- storage jobs ---------------------------------------------------------------------

    def _start_storage(self, kind: Kind) -> Callable[[dict[str, Any], float], dict[str, Any]]:
        scope_member, _, _ = _STORAGE[kind]

        def start(params: dict[str, Any], now: float) -> dict[str, Any]:
            scope = params[scope_member]
            token = params.get("clientToken")
            sources = params["sources"]
            attrs: dict[str, Any] = {}
            if kind is Kind.READ_SET_ACTIVATION_JOB or kind is Kind.READ_SET_EXPORT_JOB:
                keys = [source["readSetId"] for source in sources]
                if kind is Kind.READ_SET_EXPORT_JOB:
                    attrs["destination"] = params["destination"]
                    attrs["roleArn"] = params["roleArn"]
            else:
                keys = self.item_ids(len(sources))
                attrs["roleArn"] = params["roleArn"]
                attrs["sources"] = sources
            try:
                job = self.add_storage_job(
                    kind,
                    scope,
                    keys,
                    now=now,
                    attrs=attrs,
                    visible_after=self._visibility_delay,
                    token=token,
                    fingerprint=_fingerprint(params, "clientToken"),
                )
            except IdempotencyMismatchError:
                raise ApiError(
                    "ValidationException",
                    "The client token was already used with a different request.",
                ) from None
            return self._storage_body(job, job.snapshot(now), full=False, start=True)

        return start

    def _get_storage(self, kind: Kind) -> Callable[[dict[str, Any], float], dict[str, Any]]:
        scope_member, _, _ = _STORAGE[kind]

        def get(params: dict[str, Any], now: float) -> dict[str, Any]:
            job = self._visible(kind, (params[scope_member], params["id"]), now)
            return self._storage_body(job, job.snapshot(now), full=True)

        return get

    def _list_storage(self, kind: Kind) -> Callable[[dict[str, Any], float], dict[str, Any]]:
        scope_member, list_member, _ = _STORAGE[kind]

        def list_jobs(params: dict[str, Any], now: float) -> dict[str, Any]:
            raw = params.get("filter") or {}
            flt = ListFilter(
                status=raw.get("status"),
                created_after_ms=raw.get("createdAfter"),
                created_before_ms=raw.get("createdBefore"),
            )
            page = self._listing(kind, params[scope_member], params, flt, "nextToken", now)
            items, token = page
            payload: dict[str, Any] = {
                list_member: [self._storage_body(job, snap, full=False) for job, snap in items]
            }
            if token is not None:
                payload["nextToken"] = token
            return payload

        return list_jobs

    def _storage_body(
        self, job: Job, snapshot: JobSnapshot, *, full: bool, start: bool = False
    ) -> dict[str, Any]:
        scope_member, _, items_member = _STORAGE[job.kind]
        body: dict[str, Any] = {"id": job.id, scope_member: job.scope}
        for name in ("roleArn", "destination"):
            if name in job.attrs:
                body[name] = job.attrs[name]
        body["status"] = snapshot.status
        if full and snapshot.status_message is not None:
            body["statusMessage"] = snapshot.status_message
        body["creationTime"] = self._time(snapshot.creation_time)
        if not start and snapshot.completion_time is not None:
            body["completionTime"] = self._time(snapshot.completion_time)
        if full:
            body[items_member] = [
                self._storage_item(job, index, source)
                for index, source in enumerate(snapshot.sources)
            ]
        return body

    def _storage_item(self, job: Job, index: int, source: SourceSnapshot) -> dict[str, Any]:
        done = source.status == "FINISHED"
        if job.kind is Kind.READ_SET_ACTIVATION_JOB:
            item: dict[str, Any] = {"readSetId": source.key, "status": source.status}
        elif job.kind is Kind.READ_SET_EXPORT_JOB:
            item = {"id": source.key, "status": source.status}
        elif job.kind is Kind.READ_SET_IMPORT_JOB:
            item = {**self._import_source(job, index), "status": source.status}
            if done:
                item["readSetId"] = source.key
        else:
            item = {**self._import_source(job, index), "status": source.status}
            if done:
                item["referenceId"] = source.key
        if source.status_message is not None:
            item["statusMessage"] = source.status_message
        return item

    def _import_source(self, job: Job, index: int) -> dict[str, Any]:
        sources = job.attrs.get("sources")
        if sources is not None:
            return dict(sources[index])
        number = index + 1
        if job.kind is Kind.READ_SET_IMPORT_JOB:
            return {
                "sourceFiles": {"source1": f"{_BUCKET}/{job.scope}/sample-{number}.fastq.gz"},
                "sourceFileType": "FASTQ",
                "subjectId": f"subject-{number}",
                "sampleId": f"sample-{number}",
                "name": f"sample-{number}",
            }
        return {
            "sourceFile": f"{_BUCKET}/{job.scope}/reference-{number}.fa",
            "name": f"ref-{number}",
        }

    # -- listings -------------------------------------------------------------------------

    def _listing(
        self,
        kind: Kind,
        scope: str,
        params: Mapping[str, Any],
        flt: ListFilter,
        token_member: str,
        now: float,
    ) -> tuple[list[tuple[Job, JobSnapshot]], str | None]:
        try:
            page = self.store.page(
                kind,
                scope,
                now=now,
                flt=flt,
                max_results=self._page_size(params),
                next_token=params.get(token_member),
            )
        except InvalidTokenError:
            raise ApiError("ValidationException", "The pagination token is invalid.") from None
        return page.items, page.next_token

    # -- analytics jobs -------------------------------------------------------------------

    def _start_analytics(self, kind: Kind) -> Callable[[dict[str, Any], float], dict[str, Any]]:
        def start(params: dict[str, Any], now: float) -> dict[str, Any]:
            keys = [item["source"] for item in params["items"]]
            if len(set(keys)) != len(keys):
                raise ApiError("ValidationException", "The same source is listed twice.")
            attrs: dict[str, Any] = {
                name: params[name]
                for name in (
                    "destinationName",
                    "roleArn",
                    "runLeftNormalization",
                    "annotationFields",
                    "versionName",
                    "formatOptions",
                )
                if name in params
            }
            job = self.add_storage_job(
                kind, "", keys, now=now, attrs=attrs, visible_after=self._visibility_delay
            )
            return {"jobId": job.id}

        return start

    def _get_analytics(self, kind: Kind) -> Callable[[dict[str, Any], float], dict[str, Any]]:
        def get(params: dict[str, Any], now: float) -> dict[str, Any]:
            job = self._visible(kind, (params["jobId"],), now)
            return self._analytics_body(job, job.snapshot(now), full=True)

        return get

    def _list_analytics(self, kind: Kind) -> Callable[[dict[str, Any], float], dict[str, Any]]:
        list_member = _ANALYTICS[kind]

        def list_jobs(params: dict[str, Any], now: float) -> dict[str, Any]:
            raw = params.get("filter") or {}
            store_name = raw.get("storeName")
            ids = frozenset(params.get("ids") or ())

            def match(job: Job, _: JobSnapshot) -> bool:
                if ids and job.id not in ids:
                    return False
                return store_name is None or job.attrs.get("destinationName") == store_name

            flt = ListFilter(
                status=raw.get("status"),
                match=match,
                extra_key=f"{store_name}|{sorted(ids)}",
            )
            items, token = self._listing(kind, "", params, flt, "nextToken", now)
            payload: dict[str, Any] = {
                list_member: [self._analytics_body(job, snap, full=False) for job, snap in items]
            }
            if token is not None:
                payload["nextToken"] = token
            return payload

        return list_jobs

    def _analytics_body(self, job: Job, snapshot: JobSnapshot, *, full: bool) -> dict[str, Any]:
        attrs = job.attrs
        body: dict[str, Any] = {
            "id": job.id,
            "destinationName": attrs["destinationName"],
        }
        if job.kind is Kind.ANNOTATION_IMPORT_JOB:
            body["versionName"] = attrs.get("versionName", "default")
        body["roleArn"] = attrs.get("roleArn", _ROLE)
        body["status"] = snapshot.status
        if full:
            body["statusMessage"] = snapshot.status_message or ""
        body["creationTime"] = self._time(snapshot.creation_time)
        body["updateTime"] = self._time(snapshot.update_time)
        if snapshot.completion_time is not None:
            body["completionTime"] = self._time(snapshot.completion_time)
        if full:
            items = []
            for source in snapshot.sources:
                item = {"source": source.key, "jobStatus": source.status}
                if job.kind is Kind.VARIANT_IMPORT_JOB and source.status_message is not None:
                    item["statusMessage"] = source.status_message
                items.append(item)
            body["items"] = items
        body["runLeftNormalization"] = bool(attrs.get("runLeftNormalization", False))
        if "annotationFields" in attrs:
            body["annotationFields"] = attrs["annotationFields"]
        if full and job.kind is Kind.ANNOTATION_IMPORT_JOB:
            body["formatOptions"] = attrs.get(
                "formatOptions",
                {"vcfOptions": {"ignoreQualField": False, "ignoreFilterField": False}},
            )
        return body

    # -- runs and tasks -------------------------------------------------------------------

    def _start_run(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        if "workflowId" not in params and "runId" not in params:
            raise ApiError("ValidationException", "A workflowId or a runId is required.")
        attrs = {key: value for key, value in params.items() if key != "requestId"}
        if "workflowId" not in attrs:
            previous = self.store.find(Kind.RUN, "", params["runId"])
            if previous is None:
                raise _not_found(Kind.RUN, (params["runId"],))
            attrs["workflowId"] = previous.attrs["workflowId"]
        try:
            run = self.add_run(
                now=now,
                attrs=attrs,
                visible_after=self._visibility_delay,
                token=params["requestId"],
                fingerprint=_fingerprint(params, "requestId"),
            )
        except IdempotencyMismatchError:
            raise ApiError(
                "ConflictException", "The requestId was already used with a different request."
            ) from None
        body = self._run_body(run, run.snapshot(now), full=False)
        result = {key: body[key] for key in ("arn", "id", "status", "uuid", "runOutputUri")}
        result["tags"] = run.attrs.get("tags", {})
        return result

    def _get_run(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        run = self._visible(Kind.RUN, (params["id"],), now)
        return self._run_body(run, run.snapshot(now), full=True)

    def _list_runs(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        name = params.get("name")
        group = params.get("runGroupId")

        def match(job: Job, _: JobSnapshot) -> bool:
            if name is not None and job.attrs.get("name") != name:
                return False
            return group is None or job.attrs.get("runGroupId") == group

        flt = ListFilter(status=params.get("status"), match=match, extra_key=f"{name}|{group}")
        items, token = self._listing(Kind.RUN, "", params, flt, "startingToken", now)
        payload: dict[str, Any] = {
            "items": [self._run_body(job, snap, full=False) for job, snap in items]
        }
        if token is not None:
            payload["nextToken"] = token
        return payload

    def _cancel_run(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        run = self._visible(Kind.RUN, (params["id"],), now)
        self.cancel_run(run, now)
        return {}

    def cancel_run(self, run: Job, now: float) -> None:
        """STOPPING now, CANCELLED shortly after; so are its unfinished tasks; tasks that had
        not started yet never will.

        Raises:
            ApiError: ConflictException if the run has already ended.
        """
        state = run.snapshot(now)
        if state.status in spec(Kind.RUN).final_statuses:
            raise ApiError("ConflictException", f"Run {run.id} has already ended ({state.status}).")
        if state.status == "STOPPING":
            return  # already on its way out
        end = now + self._stop_seconds
        for task_id in run.attrs.get("tasks", ()):
            task = self.store.find(Kind.TASK, run.id, task_id)
            if task is None:
                continue
            if not task.visible(now):
                self.store.replace(task, visible_at=math.inf)
                continue
            if task.snapshot(now).status in spec(Kind.TASK).final_statuses:
                continue
            self.store.replace(task, timeline=_cut(task, now, end, "STOPPING", "CANCELLED"))
        self.store.replace(run, timeline=_cut(run, now, end, "STOPPING", "CANCELLED"))

    def _run_body(self, run: Job, snapshot: JobSnapshot, *, full: bool) -> dict[str, Any]:
        attrs = run.attrs
        output = attrs.get("outputUri", f"{_BUCKET}/runs")
        body: dict[str, Any] = {
            "arn": self._arn(f"run/{run.id}"),
            "id": run.id,
            "status": snapshot.status,
            "workflowId": attrs.get("workflowId", "1234567"),
        }
        if "name" in attrs:
            body["name"] = attrs["name"]
        for member in ("priority", "storageCapacity", "workflowVersionName", "runGroupId"):
            if member in attrs:
                body[member] = attrs[member]
        body["storageType"] = attrs.get("storageType", "DYNAMIC")
        body["creationTime"] = self._time(snapshot.creation_time)
        if snapshot.start_time is not None:
            body["startTime"] = self._time(snapshot.start_time)
        if snapshot.completion_time is not None:
            body["stopTime"] = self._time(snapshot.completion_time)
        body["uuid"] = attrs["uuid"]
        body["runOutputUri"] = f"{output.rstrip('/')}/{run.id}"
        if not full:
            workflow = self.store.find(Kind.WORKFLOW, "", body["workflowId"])
            if workflow is not None and "name" in workflow.attrs:
                body["workflowName"] = workflow.attrs["name"]
            return body
        body["workflowType"] = attrs.get("workflowType", "PRIVATE")
        body["roleArn"] = attrs.get("roleArn", _ROLE)
        body["outputUri"] = output
        for member in ("parameters", "logLevel", "cacheId", "cacheBehavior", "networkingMode"):
            if member in attrs:
                body[member] = attrs[member]
        body["retentionMode"] = attrs.get("retentionMode", "RETAIN")
        body["startedBy"] = f"arn:aws:iam::{ACCOUNT}:user/testing"
        body["tags"] = attrs.get("tags", {})
        body["logLocation"] = {"runLogStream": f"run/{run.id}"}
        if snapshot.status_message is not None:
            body["statusMessage"] = snapshot.status_message
        if snapshot.failure_reason is not None:
            body["failureReason"] = snapshot.failure_reason
        return body

    def _get_task(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        self._visible(Kind.RUN, (params["id"],), now)
        task = self._visible(Kind.TASK, (params["id"], params["taskId"]), now)
        return self._task_body(task, task.snapshot(now), full=True)

    def _list_tasks(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        self._visible(Kind.RUN, (params["id"],), now)
        flt = ListFilter(status=params.get("status"))
        items, token = self._listing(Kind.TASK, params["id"], params, flt, "startingToken", now)
        payload: dict[str, Any] = {
            "items": [self._task_body(job, snap, full=False) for job, snap in items]
        }
        if token is not None:
            payload["nextToken"] = token
        return payload

    def _task_body(self, task: Job, snapshot: JobSnapshot, *, full: bool) -> dict[str, Any]:
        attrs = task.attrs
        body: dict[str, Any] = {
            "taskId": task.id,
            "status": snapshot.status,
            "name": attrs["name"],
            "cpus": attrs["cpus"],
            "cacheHit": False,
            "memory": attrs["memory"],
            "creationTime": self._time(snapshot.creation_time),
        }
        if snapshot.start_time is not None:
            body["startTime"] = self._time(snapshot.start_time)
        if snapshot.completion_time is not None:
            body["stopTime"] = self._time(snapshot.completion_time)
        body["gpus"] = attrs["gpus"]
        body["instanceType"] = attrs["instanceType"]
        body["uuid"] = attrs["uuid"]
        if full:
            body["logStream"] = f"run/{task.scope}/task/{task.id}"
            if snapshot.status_message is not None:
                body["statusMessage"] = snapshot.status_message
            if snapshot.failure_reason is not None:
                body["failureReason"] = snapshot.failure_reason
        return body

    # -- workflows ------------------------------------------------------------------------

    def _create_workflow(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        attrs = {key: value for key, value in params.items() if key != "requestId"}
        try:
            workflow = self.add_workflow(
                now=now,
                attrs=attrs,
                visible_after=self._visibility_delay,
                token=params["requestId"],
                fingerprint=_fingerprint(params, "requestId"),
            )
        except IdempotencyMismatchError:
            raise ApiError(
                "ConflictException", "The requestId was already used with a different request."
            ) from None
        body = self._workflow_body(workflow, workflow.snapshot(now))
        result = {key: body[key] for key in ("arn", "id", "status", "uuid")}
        result["tags"] = workflow.attrs.get("tags", {})
        return result

    def _get_workflow(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        workflow = self._visible(Kind.WORKFLOW, (params["id"],), now)
        return self._workflow_body(workflow, workflow.snapshot(now))

    def _list_workflows(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        # Every emulated workflow is PRIVATE; the List has no status filter.
        name = params.get("name")
        kind = params.get("type")

        def match(job: Job, _: JobSnapshot) -> bool:
            if kind is not None and kind != "PRIVATE":
                return False
            return name is None or job.attrs.get("name") == name

        flt = ListFilter(match=match, extra_key=f"{name}|{kind}")
        items, token = self._listing(Kind.WORKFLOW, "", params, flt, "startingToken", now)
        payload: dict[str, Any] = {"items": [self._workflow_item(job, snap) for job, snap in items]}
        if token is not None:
            payload["nextToken"] = token
        return payload

    def _workflow_item(self, job: Job, snapshot: JobSnapshot) -> dict[str, Any]:
        body = self._workflow_body(job, snapshot)
        item: dict[str, Any] = {
            key: body[key]
            for key in ("arn", "id", "name", "status", "type", "digest", "creationTime")
            if key in body
        }
        item["metadata"] = {}
        return item

    def _create_version(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        workflow_id = params["workflowId"]
        self._visible(Kind.WORKFLOW, (workflow_id,), now)
        attrs = {key: value for key, value in params.items() if key != "requestId"}
        try:
            version = self.add_workflow(
                now=now,
                attrs=attrs,
                visible_after=self._visibility_delay,
                token=params["requestId"],
                fingerprint=_fingerprint(params, "requestId"),
                workflow_id=workflow_id,
                version_name=params["versionName"],
            )
        except IdempotencyMismatchError:
            raise ApiError(
                "ConflictException", "The requestId was already used with a different request."
            ) from None
        body = self._workflow_body(version, version.snapshot(now))
        result = {key: body[key] for key in ("arn", "workflowId", "versionName", "status", "uuid")}
        result["tags"] = version.attrs.get("tags", {})
        return result

    def _get_version(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        ids = (params["workflowId"], params["versionName"])
        self._visible(Kind.WORKFLOW, ids[:1], now)
        version = self._visible(Kind.WORKFLOW_VERSION, ids, now)
        return self._workflow_body(version, version.snapshot(now))

    def _workflow_body(self, job: Job, snapshot: JobSnapshot) -> dict[str, Any]:
        attrs = job.attrs
        if job.kind is Kind.WORKFLOW:
            body: dict[str, Any] = {"arn": self._arn(f"workflow/{job.id}"), "id": job.id}
        else:
            body = {
                "arn": self._arn(f"workflow/{job.scope}/version/{job.id}"),
                "workflowId": job.scope,
                "versionName": job.id,
            }
        body["status"] = snapshot.status
        body["type"] = "PRIVATE"
        for member in (
            "name",
            "description",
            "main",
            "parameterTemplate",
            "storageCapacity",
            "accelerators",
        ):
            if member in attrs:
                body[member] = attrs[member]
        body["engine"] = attrs.get("engine", "WDL")
        body["storageType"] = attrs.get("storageType", "DYNAMIC")
        body["digest"] = "sha256:" + job.attrs["uuid"].replace("-", "")[:32]
        body["creationTime"] = self._time(snapshot.creation_time)
        if snapshot.status_message is not None:
            body["statusMessage"] = snapshot.status_message
        body["tags"] = attrs.get("tags", {})
        body["uuid"] = attrs["uuid"]
        return body


_JOB_ARN = {
    Kind.READ_SET_ACTIVATION_JOB: "sequenceStore/{scope}/activationJob/{id}",
    Kind.READ_SET_IMPORT_JOB: "sequenceStore/{scope}/importJob/{id}",
    Kind.READ_SET_EXPORT_JOB: "sequenceStore/{scope}/exportJob/{id}",
    Kind.REFERENCE_IMPORT_JOB: "referenceStore/{scope}/importJob/{id}",
    Kind.VARIANT_IMPORT_JOB: "variantImportJob/{id}",
    Kind.ANNOTATION_IMPORT_JOB: "annotationImportJob/{id}",
    Kind.RUN: "run/{id}",
    Kind.TASK: "task/{id}",
    Kind.WORKFLOW: "workflow/{id}",
}


def _cut(job: Job, now: float, end: float, stopping: str, final: str) -> tuple[Step, ...]:
    """The job's timeline up to ``now``, then ``stopping`` now and ``final`` at ``end``."""
    elapsed = now - job.created
    kept = tuple(step for step in job.timeline if step.at <= elapsed)
    return (
        *kept,
        Step(at=elapsed, status=stopping),
        Step(at=end - job.created, status=final, status_message="Cancelled by request."),
    )
