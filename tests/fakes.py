"""Fakes for unit tests: a scripted Omics client and a clock whose sleeps take no time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio
import botocore.exceptions

STORE = "1234567890"
JOB = "9876543210"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class FakeClock:
    """Virtual time for the engine's unit tests: the event loop's own clock, which trio's
    MockClock (autojump) makes virtual, coherent across the scheduler's concurrent tasks.
    Sleeps are recorded. (A clock that jumps forward on every sleep, as 0.1's did, is
    only coherent for one task at a time; the scheduler runs several.)"""

    def __init__(self, start: float = 1000.0) -> None:
        self.sleeps: list[float] = []

    def now(self) -> float:
        return anyio.current_time()

    @property
    def time(self) -> float:
        return self.now()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.sleep(max(0.0, seconds))


class ManualClock:
    """Time that moves only when a test (or a sleep) moves it: for one task at a time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


def client_error(code: str, status: int, message: str = "boom") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "GetReadSetActivationJob",
    )


def job_body(
    status: str,
    sources: Mapping[str, str] | None = None,
    *,
    job_id: str = JOB,
    store: str = STORE,
    message: str | None = None,
    source_messages: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A GetReadSetActivationJob response as botocore returns it (datetimes parsed)."""
    body: dict[str, Any] = {
        "id": job_id,
        "sequenceStoreId": store,
        "status": status,
        "creationTime": T0,
        "sources": [
            {"readSetId": r, "status": s}
            | (
                {"statusMessage": source_messages[r]}
                if source_messages and r in source_messages
                else {}
            )
            for r, s in (sources or {}).items()
        ],
    }
    if message is not None:
        body["statusMessage"] = message
    if status in ("COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"):
        body["completionTime"] = T0 + dt.timedelta(minutes=5)
    return body


Outcome = Mapping[str, Any] | BaseException


class FakeClient:
    """Answers GetReadSetActivationJob from a script: one outcome per call, the last repeated.

    `on_call` (if given) is called with the clock time of each call.
    """

    def __init__(self, script: Iterable[Outcome], clock: FakeClock | None = None) -> None:
        self.script = list(script)
        self.clock = clock
        self.calls: list[float] = []
        self.on_call: Callable[[], None] | None = None

    async def get_read_set_activation_job(self, *, id: str, sequenceStoreId: str) -> Any:
        self.calls.append(self.clock.now() if self.clock else 0.0)
        await anyio.lowlevel.checkpoint()
        outcome = self.script[min(len(self.calls) - 1, len(self.script) - 1)]
        if isinstance(outcome, BaseException):
            raise outcome
        return dict(outcome)

    async def list_read_set_activation_jobs(self, **kwargs: Any) -> Any:
        raise AssertionError("not scripted")

    async def start_read_set_activation_job(self, **kwargs: Any) -> Any:
        raise AssertionError("not scripted")
