"""Property-based tests of the many-job watch, in virtual time against a timeline-driven fake.

Hypothesis draws populations of jobs in one or two stores, each with a timeline of job and
read set statuses; the fake answers Get and List (in small pages, so sweeps paginate) from the
state at the current virtual time. Whatever the population, every job's events must follow
the contract (tests/invariants.py) and its final event must be the service's final state.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invariants import check_events
from omics_waiter import JobStatusChanged, OmicsWaiter

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
TERMINAL = ["COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"]


@dataclass
class Timeline:
    store: str
    job_id: str
    created: float
    # (time, job status, {read set: status}), times ascending; the last one is terminal.
    steps: list[tuple[float, str, dict[str, str]]]

    def at(self, now: float) -> tuple[str, dict[str, str]]:
        index = bisect.bisect_right([t for t, _, _ in self.steps], now) - 1
        _, status, sources = self.steps[max(index, 0)]
        return status, sources

    def body(self, now: float) -> dict[str, Any]:
        status, sources = self.at(now)
        body: dict[str, Any] = {
            "id": self.job_id,
            "sequenceStoreId": self.store,
            "status": status,
            "creationTime": T0 + dt.timedelta(seconds=self.created),
            "sources": [{"readSetId": r, "status": s} for r, s in sources.items()],
        }
        if status in TERMINAL:
            body["completionTime"] = T0 + dt.timedelta(seconds=self.steps[-1][0])
        return body


@st.composite
def populations(draw: st.DrawFn) -> list[Timeline]:
    count = draw(st.integers(1, 9))
    stores = ["1000000001", "1000000002"]
    timelines = []
    for n in range(count):
        read_sets = [f"{2000000000 + 10 * n + k}" for k in range(draw(st.integers(1, 3)))]
        ends = {r: draw(st.sampled_from(["FINISHED", "FAILED"])) for r in read_sets}
        gaps = draw(st.lists(st.floats(0.0, 30.0), min_size=2, max_size=6))
        times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
        steps: list[tuple[float, str, dict[str, str]]] = [
            (0.0, "SUBMITTED", dict.fromkeys(read_sets, "NOT_STARTED"))
        ]
        progress = dict.fromkeys(read_sets, 0)
        for t in times[:-1]:
            for r in read_sets:
                progress[r] = min(2, progress[r] + draw(st.integers(0, 1)))
            sources = {r: ["NOT_STARTED", "IN_PROGRESS", ends[r]][progress[r]] for r in read_sets}
            steps.append((t, "IN_PROGRESS", sources))
        steps.append((times[-1], draw(st.sampled_from(TERMINAL)), ends))
        store = stores[draw(st.integers(0, 1))] if count > 3 else stores[0]
        timelines.append(Timeline(store, f"{3000000000 + n}", float(n) * 0.001, steps))
    return timelines


class TimelineClient:
    """Get and List from timelines at the current (virtual) time; List pages hold 2 jobs."""

    def __init__(self, timelines: list[Timeline], start: float) -> None:
        self.jobs = {(t.store, t.job_id): t for t in timelines}
        self.start = start

    def now(self) -> float:
        return anyio.current_time() - self.start

    async def get_read_set_activation_job(self, *, id: str, sequenceStoreId: str) -> Any:
        await anyio.sleep(0.01)
        return self.jobs[(sequenceStoreId, id)].body(self.now())

    async def list_read_set_activation_jobs(
        self, *, sequenceStoreId: str, maxResults: int = 100, nextToken: str = "0", **_: Any
    ) -> Any:
        await anyio.sleep(0.01)
        now = self.now()
        mine = sorted(
            (t for t in self.jobs.values() if t.store == sequenceStoreId),
            key=lambda t: t.created,
            reverse=True,
        )
        start = int(nextToken)
        page = mine[start : start + min(maxResults, 2)]
        out: dict[str, Any] = {
            "activationJobs": [
                {k: v for k, v in t.body(now).items() if k != "sources"} for t in page
            ]
        }
        if start + len(page) < len(mine):
            out["nextToken"] = str(start + len(page))
        return out

    async def start_read_set_activation_job(self, **_: Any) -> Any:
        raise AssertionError("not used")


async def watch(timelines: list[Timeline], final_only: bool) -> list[Any]:
    client = TimelineClient(timelines, anyio.current_time())
    waiter = OmicsWaiter(client, min_delay=1.0, max_delay=8.0, max_tps=5)  # type: ignore[arg-type]
    keys = list(client.jobs)
    watch = waiter.watch_activation_jobs(keys, final_only=final_only, timeout=1000)
    return [e async for e in watch]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(timelines=populations(), final_only=st.booleans())
def test_every_job_is_told_once_in_order_and_ends_in_its_true_final_state(
    timelines: list[Timeline], final_only: bool
) -> None:
    events = anyio.run(
        watch,
        timelines,
        final_only,
        backend="trio",
        backend_options={"clock": trio.testing.MockClock(autojump_threshold=0)},
    )
    finals = check_events(events, [(t.store, t.job_id) for t in timelines])
    truth: Mapping[tuple[str, str], Timeline] = {(t.store, t.job_id): t for t in timelines}
    for key, final in finals.items():
        assert isinstance(final, JobStatusChanged), final
        status, sources = truth[key].at(float("inf"))
        assert str(final.status) == status
        assert {s.read_set_id: str(s.status) for s in final.job.sources} == sources
