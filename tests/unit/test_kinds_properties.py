"""Property test of `watch_many` over jobs of several kinds at once, in virtual time.

Hypothesis draws a population: runs (each with tasks), some of their tasks, and read set
import jobs in one or two stores; every job has a timeline of statuses (and items) that ends
in a final status. A fake client answers GetRun, ListRuns (by status, as the account-wide
sweep asks), GetRunTask, ListRunTasks, GetReadSetImportJob and ListReadSetImportJobs (with
createdAfter) from the timelines at the current virtual time, in pages of two. Whatever the
population and whichever mode (changes, items, final only), every job's events must follow
the watch contract (tests/kinds_table.check_events) and end in its true final state.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import botocore.exceptions
import trio.testing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kinds_table import check_events, item_key
from omics_waiter import (
    JobRef,
    JobStatusChanged,
    OmicsWaiter,
    ReadSetImportJobRef,
    RunRef,
    TaskRef,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
RUN_WAY = ["PENDING", "STARTING", "RUNNING", "STOPPING"]
RUN_ENDS = ["COMPLETED", "FAILED", "CANCELLED", "DELETED"]
TASK_ENDS = ["COMPLETED", "FAILED", "CANCELLED"]
IMPORT_ENDS = ["COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"]
STORES = ["1000000001", "1000000002"]
PAGE = 2


@dataclass
class Timeline:
    """A job's life: (time, status, {item: status}); times ascending, the last one final."""

    ref: JobRef[Any]
    created: float
    steps: list[tuple[float, str, dict[str, str]]]
    tasks: list[Timeline] = field(default_factory=list)

    def at(self, now: float) -> tuple[str, dict[str, str]]:
        index = bisect.bisect_right([t for t, _, _ in self.steps], now) - 1
        _, status, items = self.steps[max(index, 0)]
        return status, items

    @property
    def end(self) -> float:
        return self.steps[-1][0]


def _times(draw: st.DrawFn, start: float, count: int) -> list[float]:
    gaps = draw(st.lists(st.floats(0.0, 20.0), min_size=count, max_size=count))
    return [start + sum(gaps[: i + 1]) for i in range(count)]


def _walk(draw: st.DrawFn, way: list[str], end: str, times: list[float]) -> list[str]:
    """Statuses along `way` (moving on, staying or skipping ahead), then `end`."""
    position, out = 0, []
    for _ in times[:-1]:
        position = min(len(way) - 1, position + draw(st.integers(0, 2)))
        out.append(way[position])
    return [*out, end]


@st.composite
def runs(draw: st.DrawFn, number: int) -> Timeline:
    run_id = str(1_000_000 + number)
    tasks = []
    for t in range(draw(st.integers(0, 3))):
        times = _times(draw, 0.0, draw(st.integers(1, 4)))
        statuses = _walk(draw, RUN_WAY, draw(st.sampled_from(TASK_ENDS)), times)
        task_id = str(2_000_000 + 10 * number + t)
        steps = [(0.0, "PENDING", {}), *[(x, s, {}) for x, s in zip(times, statuses, strict=True)]]
        tasks.append(Timeline(TaskRef(run_id, task_id), 0.0, steps))
    last_task = max((task.end for task in tasks), default=0.0)
    times = _times(draw, 0.0, draw(st.integers(1, 5)))
    times[-1] = max(times[-1], last_task) + 0.5  # the run ends after its tasks
    statuses = _walk(draw, RUN_WAY, draw(st.sampled_from(RUN_ENDS)), times)
    steps = [(0.0, "PENDING", {}), *[(x, s, {}) for x, s in zip(times, statuses, strict=True)]]
    return Timeline(RunRef(run_id), number * 0.001, steps, tasks)


@st.composite
def imports(draw: st.DrawFn, number: int, store: str) -> Timeline:
    read_sets = [str(3_000_000_000 + 10 * number + k) for k in range(draw(st.integers(1, 3)))]
    ends = {r: draw(st.sampled_from(["FINISHED", "FAILED"])) for r in read_sets}
    times = _times(draw, 0.0, draw(st.integers(1, 5)))
    progress = dict.fromkeys(read_sets, 0)
    steps: list[tuple[float, str, dict[str, str]]] = [
        (0.0, "SUBMITTED", dict.fromkeys(read_sets, "NOT_STARTED"))
    ]
    for t in times[:-1]:
        for r in read_sets:
            progress[r] = min(2, progress[r] + draw(st.integers(0, 1)))
        items = {r: ["NOT_STARTED", "IN_PROGRESS", ends[r]][progress[r]] for r in read_sets}
        steps.append((t, "IN_PROGRESS", items))
    steps.append((times[-1], draw(st.sampled_from(IMPORT_ENDS)), ends))
    job_id = str(4_000_000_000 + number)
    return Timeline(ReadSetImportJobRef(store, job_id), number * 0.001, steps)


@dataclass
class Population:
    runs: list[Timeline]
    imports: list[Timeline]
    watched: list[JobRef[Any]]


@st.composite
def populations(draw: st.DrawFn) -> Population:
    # A few runs, or enough that the account's runs are swept (12: one List per status).
    run_count = draw(st.one_of(st.integers(1, 4), st.integers(12, 15)))
    all_runs = [draw(runs(n)) for n in range(run_count)]
    count = draw(st.integers(0, 6))
    stores = [STORES[draw(st.integers(0, 1))] if count > 3 else STORES[0] for _ in range(count)]
    all_imports = [draw(imports(n, store)) for n, store in enumerate(stores)]
    watched: list[JobRef[Any]] = []
    for run in all_runs:
        if run_count >= 12 or draw(st.booleans()) or not run.tasks:
            watched.append(run.ref)
        watched += [task.ref for task in run.tasks if draw(st.booleans())]
    watched += [job.ref for job in all_imports]
    return Population(all_runs, all_imports, draw(st.permutations(watched)))


def _not_found(operation: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": "ResourceNotFoundException", "Message": "Not found."},
            "ResponseMetadata": {"HTTPStatusCode": 404},
        },
        operation,
    )


def _page(items: list[dict[str, Any]], token: str | None, size: int) -> tuple[list[Any], Any]:
    start = int(token or 0)
    page = items[start : start + min(size, PAGE)]
    following = str(start + len(page)) if start + len(page) < len(items) else None
    return page, following


class TimelineClient:
    """Runs, tasks and read set import jobs, answered from timelines at the virtual time."""

    def __init__(self, population: Population, start: float) -> None:
        self.runs = {t.ref.run_id: t for t in population.runs}  # type: ignore[attr-defined]
        self.tasks = {t.ref: t for run in population.runs for t in run.tasks}
        self.imports = {t.ref: t for t in population.imports}
        self.start = start
        self.lists: set[str] = set()

    def now(self) -> float:
        return anyio.current_time() - self.start

    @staticmethod
    def _created(timeline: Timeline) -> dt.datetime:
        return T0 + dt.timedelta(seconds=timeline.created)

    def _run(self, run: Timeline) -> dict[str, Any]:
        status, _ = run.at(self.now())
        return {"id": run.ref.run_id, "status": status, "creationTime": self._created(run)}  # type: ignore[attr-defined]

    def _task(self, task: Timeline) -> dict[str, Any]:
        status, _ = task.at(self.now())
        return {"taskId": task.ref.task_id, "status": status, "creationTime": self._created(task)}  # type: ignore[attr-defined]

    async def get_run(self, *, id: str) -> Any:
        await anyio.sleep(0.01)
        return self._run(self.runs[id])

    async def list_runs(
        self, *, maxResults: int = 100, startingToken: str | None = None, status: str | None = None
    ) -> Any:
        await anyio.sleep(0.01)
        self.lists.add("ListRuns")
        listed = [self._run(r) for r in sorted(self.runs.values(), key=lambda r: -r.created)]
        listed = [r for r in listed if status is None or r["status"] == status]
        page, token = _page(listed, startingToken, maxResults)
        return {"items": page} | ({"nextToken": token} if token else {})

    async def get_run_task(self, *, id: str, taskId: str) -> Any:
        await anyio.sleep(0.01)
        task = self.tasks.get(TaskRef(id, taskId))
        if task is None:
            raise _not_found("GetRunTask")
        return self._task(task)

    async def list_run_tasks(
        self, *, id: str, maxResults: int = 100, startingToken: str | None = None
    ) -> Any:
        await anyio.sleep(0.01)
        self.lists.add("ListRunTasks")
        if id not in self.runs:
            raise _not_found("ListRunTasks")
        tasks = [self._task(t) for t in self.runs[id].tasks]
        page, token = _page(tasks, startingToken, maxResults)
        return {"items": page} | ({"nextToken": token} if token else {})

    def _import(self, job: Timeline, *, full: bool) -> dict[str, Any]:
        status, items = job.at(self.now())
        body: dict[str, Any] = {
            "id": job.ref.job_id,  # type: ignore[attr-defined]
            "sequenceStoreId": job.ref.sequence_store_id,  # type: ignore[attr-defined]
            "roleArn": "arn:aws:iam::123456789012:role/omics",
            "status": status,
            "creationTime": self._created(job),
        }
        if status in IMPORT_ENDS:
            body["completionTime"] = T0 + dt.timedelta(seconds=job.end)
        if full:
            body["sources"] = [
                {"sourceFiles": {"source1": f"s3://bucket/{r}.bam"}, "status": s}
                | ({"readSetId": r} if s == "FINISHED" else {})
                for r, s in items.items()
            ]
        return body

    async def get_read_set_import_job(self, *, sequenceStoreId: str, id: str) -> Any:
        await anyio.sleep(0.01)
        return self._import(self.imports[ReadSetImportJobRef(sequenceStoreId, id)], full=True)

    async def list_read_set_import_jobs(
        self,
        *,
        sequenceStoreId: str,
        maxResults: int = 100,
        nextToken: str | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Any:
        await anyio.sleep(0.01)
        self.lists.add("ListReadSetImportJobs")
        after = (filter or {}).get("createdAfter")
        mine = [
            j
            for j in sorted(self.imports.values(), key=lambda j: -j.created)
            if j.ref.sequence_store_id == sequenceStoreId  # type: ignore[attr-defined]
            and (after is None or self._created(j) >= after)
        ]
        page, token = _page([self._import(j, full=False) for j in mine], nextToken, maxResults)
        return {"importJobs": page} | ({"nextToken": token} if token else {})


async def watch(population: Population, mode: str) -> tuple[list[Any], set[str]]:
    client = TimelineClient(population, anyio.current_time())
    waiter = OmicsWaiter(client, min_delay=1.0, max_delay=8.0, max_tps=5)  # type: ignore[arg-type]
    stream = waiter.watch_many(
        population.watched, items=mode == "items", final_only=mode == "final", timeout=2000
    )
    return [event async for event in stream], client.lists


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(population=populations(), mode=st.sampled_from(["changes", "items", "final"]))
def test_runs_tasks_and_imports_are_each_told_once_in_order_to_their_true_end(
    population: Population, mode: str
) -> None:
    events, lists = anyio.run(
        watch,
        population,
        mode,
        backend="trio",
        backend_options={"clock": trio.testing.MockClock(autojump_threshold=0)},
    )
    for operation in sorted(lists):
        event(f"swept with {operation}")  # hypothesis's statistics: each sweep is drawn
    finals = check_events(events, population.watched)
    truth = {t.ref: t for t in population.runs + population.imports}
    truth |= {t.ref: t for run in population.runs for t in run.tasks}
    for ref, final in finals.items():
        assert isinstance(final, JobStatusChanged), final
        status, items = truth[ref].at(float("inf"))
        assert str(final.status) == status
        if isinstance(ref, ReadSetImportJobRef):
            told = {item_key(i): str(i.status) for i in final.job.items}
            assert told == {f"s3://bucket/{r}.bam": s for r, s in items.items()}
        if isinstance(ref, RunRef) and mode == "items":
            tasks = {t.task_id: str(t.status) for t in final.job.tasks}
            assert tasks == {
                t.ref.task_id: t.at(float("inf"))[0]  # type: ignore[attr-defined]
                for t in truth[ref].tasks
            }
