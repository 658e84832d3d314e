"""Metrics through the OpenTelemetry API: requests, the budget, waits, detection delay, push.

This is the only module that imports OpenTelemetry, and it does so when a waiter is made,
never at ``import omics_waiter``; without ``opentelemetry-api`` (the ``metrics`` extra) every
waiter gets `NO_METRICS`, whose methods do nothing. The engine calls a `Recorder` at its seams
(the client adapter for every request, the scheduler when a job joins or leaves the watch and
when a final event is delivered, the push receiver for every message); the recorder turns
that into instruments and low-cardinality attributes (an operation, a kind, an outcome: never
an ID).

One set of instruments per meter provider (`_Instruments`, cached per provider): an SDK warns
of a second instrument of the same name and would run a second callback as well, so waiters
that share a provider share its instruments. Without a provider passed, the global one is
taken when the waiter is made; until an application sets one, that is the API's proxy, whose
instruments delegate to the provider set later, so one set after ``import omics_waiter`` or
after a waiter was made is used from then on.

Only the histograms (request duration, detection delay, event lag) are recorded as things
happen: the API has no asynchronous histogram. Everything else is kept by the waiter as plain
values (`_Kept`: totals it adds to, a dict increment, and the budget's rate and mode after each
request) and reported by asynchronous instruments (observable counter, up-down counter and
gauge) whose callbacks run when the exporter collects, on the exporter's thread (a Prometheus
scrape, a periodic reader). So callbacks never touch the event loop or its clock, and the SDK's
work stays off the loop: its synchronous ``add`` costs about 6 microseconds a call there (SDK
1.45), a dict increment a tenth of one. Each instrument set holds weak references to the kept
values of its live waiters (a tuple, replaced whole when a waiter joins, so a callback never
sees it change under it); a waiter that is garbage-collected drops out of the gauges, and its
totals move to the instrument set's (`_Instruments.retire`), so a counter never goes down.
Waiters that share one budget share its kept values, so a budget is reported once; several
budgets in one process add up (each its own rate; the mode gauge counts budgets per mode,
which is 1 and 0 with one budget).

Detection delay is the service's completion time (``completionTime``; ``stopTime`` for runs and
tasks) to the moment the scheduler delivered the final job to its waits, both wall-clock times,
for jobs the waiter saw unfinished first (by a Get or a List); it is the figure the benchmarks
measure (benchmarks/many_jobs.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._errors import InvalidInputError, JobNotFoundError, WaitTimeoutError

if TYPE_CHECKING:
    from ._budget import Budget
    from ._kinds import Kind

__all__ = [
    "DELAY_BUCKETS",
    "DURATION_BUCKETS",
    "NO_METRICS",
    "Recorder",
    "check_meter_provider",
    "recorder",
]

logger = logging.getLogger("omics_waiter")

NAME = "omics_waiter"

#: Request outcomes (the client adapter's `request_outcome` picks one).
OK, THROTTLED, NOT_FOUND, TRANSIENT, ERROR = "ok", "throttled", "not_found", "transient", "error"
#: Event outcomes.
USED, DUPLICATE, FOREIGN, MALFORMED = "used", "duplicate", "foreign", "malformed"
#: Budget modes the mode gauge always reports (0 or more budgets each).
MODES = ("local", "shared", "fallback")

#: Bucket bounds (seconds) of the detection delay and event lag: fine below a few seconds,
#: where push and a swept batch at the quota land, coarse out to polling's minutes.
DELAY_BUCKETS = (
    *(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0),
    *(45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1800.0, 3600.0),
)
#: Bucket bounds (seconds) of a request's duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Recorder:
    """What the engine tells the metrics. This base records nothing (`NO_METRICS`)."""

    __slots__ = ()

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        """One Omics request ended with `outcome` after `seconds`."""

    def watched(self, kind: Kind[Any], delta: int) -> None:
        """A job joined (+1) or left (-1) the watch."""

    def reached(self, kind: Kind[Any], job: Any, until: str | None) -> None:
        """A wait or watch ended on a job's status (final, or its `until`)."""

    def failed(self, kind: Kind[Any], error: BaseException) -> None:
        """A wait or watch of a job ended with `error`."""

    def cancelled(self, kind: Kind[Any]) -> None:
        """A wait or watch left before its job's end (cancelled, or closed early)."""

    def observed(self, kind: Kind[Any], job: Any, *, seen_open: bool, pushed: bool) -> None:
        """A job was delivered to its waits; `seen_open`: seen unfinished before;
        `pushed`: an event led to the Get."""

    def event(self, outcome: str, sent: dt.datetime | None = None) -> None:
        """A push message was received: `outcome`, and the event's own time if it has one."""

    def push(self, active: bool) -> None:
        """Push carries the watch now (True), or polling does (False)."""


#: The recorder of a waiter without OpenTelemetry.
NO_METRICS = Recorder()


def check_meter_provider(meter_provider: object) -> None:
    """Refuse, before anything is made, what is no meter provider.

    Raises:
        InvalidInputError: `meter_provider` has no ``get_meter``.
    """
    if meter_provider is not None and not callable(getattr(meter_provider, "get_meter", None)):
        raise InvalidInputError(
            "meter_provider must be an OpenTelemetry MeterProvider (with get_meter), "
            f"not {type(meter_provider).__name__}",
            argument="meter_provider",
        )


def recorder(meter_provider: object | None, budget: Budget) -> Recorder:
    """The recorder for a new waiter: through `meter_provider`, else the global provider.

    `NO_METRICS` if ``opentelemetry-api`` is not installed (and no provider was given).
    """
    check_meter_provider(meter_provider)
    try:
        instruments = _instruments(meter_provider)
    except ImportError:
        logger.debug("opentelemetry-api is not installed: no metrics")
        return NO_METRICS
    return _OtelRecorder(instruments, budget)


# -- the instruments ------------------------------------------------------------------------


#: The totals a waiter keeps for the observed counters, and their attributes' names.
_COUNTED: Mapping[str, tuple[str, ...]] = {
    "requests": ("operation", "outcome"),
    "waits": ("kind", "outcome"),
    "events": ("outcome",),
    "watched": ("kind",),
}
_MONOTONIC = ("requests", "waits", "events")  # kept after their waiter is gone


class _Kept:
    """Values kept for the callbacks: written on the loop, read on the exporter's thread.

    Each dict is replaced whole when a key is added, and only its values change in place, so
    a reader on another thread never sees one change size under it.
    """

    __slots__ = ("__weakref__", "events", "mode", "push", "rates", "requests", "waits", "watched")

    def __init__(self) -> None:
        self.rates: dict[str, float] = {}
        self.mode: str | None = None
        self.push: bool | None = None  # None: no push source
        self.requests: dict[tuple[str, ...], int] = {}
        self.waits: dict[tuple[str, ...], int] = {}
        self.events: dict[tuple[str, ...], int] = {}
        self.watched: dict[tuple[str, ...], int] = {}

    def add(self, field: str, key: tuple[str, ...], n: int = 1) -> None:
        counts: dict[tuple[str, ...], int] = getattr(self, field)
        if key in counts:
            counts[key] += n
        else:
            setattr(self, field, {**counts, key: n})


class _Instruments:
    """One meter's instruments, and the kept values of the waiters that record through it."""

    def __init__(self, meter: Any) -> None:
        from opentelemetry.metrics import Observation

        self._observation = Observation
        self._lock = threading.Lock()  # between callbacks and `retire`, never on the loop
        self._retired: dict[str, dict[tuple[str, ...], int]] = {f: {} for f in _MONOTONIC}
        meter.create_observable_counter(
            f"{NAME}.requests",
            callbacks=[self._counted("requests")],
            unit="{request}",
            description="Omics requests, by operation and outcome",
        )
        self.duration = _histogram(
            meter,
            f"{NAME}.request.duration",
            "s",
            "Duration of Omics requests, by operation",
            DURATION_BUCKETS,
        )
        meter.create_observable_up_down_counter(
            f"{NAME}.jobs.watched",
            callbacks=[self._counted("watched")],
            unit="{job}",
            description="Jobs some wait or watch is on now, by kind",
        )
        meter.create_observable_counter(
            f"{NAME}.waits",
            callbacks=[self._counted("waits")],
            unit="{wait}",
            description="Waits and watches ended, one per job, by kind and outcome",
        )
        self.delay = _histogram(
            meter,
            f"{NAME}.detection.delay",
            "s",
            "From a job's completion at the service to its delivery to its waits, by kind "
            "and source (poll or push)",
            DELAY_BUCKETS,
        )
        meter.create_observable_counter(
            f"{NAME}.events",
            callbacks=[self._counted("events")],
            unit="{event}",
            description="Push messages received, by outcome",
        )
        self.lag = _histogram(
            meter,
            f"{NAME}.events.lag",
            "s",
            "From a push event's own time to its receipt",
            DELAY_BUCKETS,
        )
        meter.create_observable_gauge(
            f"{NAME}.budget.rate",
            callbacks=[self._rates],
            unit="{request}/s",
            description="The request rate the budget allows now, by operation",
        )
        meter.create_observable_gauge(
            f"{NAME}.budget.mode",
            callbacks=[self._modes],
            unit="{budget}",
            description="Budgets in each mode (local, shared, fallback): 1 for the current "
            "mode and 0 for the others, with one budget",
        )
        meter.create_observable_gauge(
            f"{NAME}.push.active",
            callbacks=[self._push],
            unit="{waiter}",
            description="1 while push events carry the watch, 0 while polling does",
        )
        self._budgets: weakref.WeakKeyDictionary[Any, _Kept] = weakref.WeakKeyDictionary()
        self._live: tuple[weakref.ref[_Kept], ...] = ()
        self._attributes: dict[tuple[str, ...], Mapping[str, str]] = {}

    def attributes(self, *pairs: str) -> Mapping[str, str]:
        """The attribute dict for ``name, value, name, value ...``, made once."""
        found = self._attributes.get(pairs)
        if found is None:
            found = self._attributes[pairs] = dict(zip(pairs[::2], pairs[1::2], strict=True))
        return found

    def keep(self, budget: object) -> tuple[_Kept, _Kept]:
        """The kept values of a new waiter: its budget's (shared by the waiters that share
        the budget) and its own (push)."""
        try:
            shared = self._budgets.get(budget)
            if shared is None:
                shared = self._budgets[budget] = _Kept()
        except TypeError:  # a budget that cannot be weakly referenced: the waiter's own
            shared = _Kept()
        own = _Kept()
        live = [ref for ref in self._live if ref() is not None]
        known = {id(ref()) for ref in live}
        live += [weakref.ref(k) for k in (shared, own) if id(k) not in known]
        self._live = tuple(live)  # replaced whole: a callback reads one tuple or the other
        return shared, own

    def _kept(self) -> list[_Kept]:
        return [k for k in (ref() for ref in self._live) if k is not None]

    def retire(self, own: _Kept) -> None:
        """A waiter is gone: its totals stay in the counters (which never go down)."""
        with self._lock:
            for field in _MONOTONIC:
                retired = self._retired[field]
                for key, n in getattr(own, field).items():
                    retired[key] = retired.get(key, 0) + n
                setattr(own, field, {})
            own.watched = {}
            own.push = None

    def _counted(self, field: str) -> Callable[[Any], Iterable[Any]]:
        names = _COUNTED[field]

        def observe(options: Any) -> Iterable[Any]:
            with self._lock:
                totals = dict(self._retired.get(field, {}))
                for kept in self._kept():
                    for key, n in list(getattr(kept, field).items()):
                        totals[key] = totals.get(key, 0) + n
            return [
                self._observation(n, dict(zip(names, key, strict=True)))
                for key, n in sorted(totals.items())
            ]

        return observe

    def _rates(self, options: Any) -> Iterable[Any]:
        totals: dict[str, float] = {}
        for kept in self._kept():
            for operation, rate in list(kept.rates.items()):
                totals[operation] = totals.get(operation, 0.0) + rate
        return [self._observation(v, {"operation": op}) for op, v in sorted(totals.items())]

    def _modes(self, options: Any) -> Iterable[Any]:
        counts = dict.fromkeys(MODES, 0)
        for kept in self._kept():
            if kept.mode is not None:
                counts[kept.mode] = counts.get(kept.mode, 0) + 1
        return [self._observation(n, {"mode": mode}) for mode, n in counts.items()]

    def _push(self, options: Any) -> Iterable[Any]:
        states = [k.push for k in self._kept() if k.push is not None]
        if not states:
            return []
        return [self._observation(sum(states))]


def _histogram(
    meter: Any, name: str, unit: str, description: str, bounds: tuple[float, ...]
) -> Any:
    try:
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=bounds
        )
    except TypeError:  # an API older than the advisory: the SDK's default buckets (or a View)
        return meter.create_histogram(name, unit=unit, description=description)


# Instrument sets per provider, weakly (providers that refuse weak references: by id). The
# global provider is looked up when a waiter is made: until an application sets one, that is
# the API's proxy, whose instruments delegate to the provider set later; a process that
# replaces its global provider (Airflow does, after a fork) gets new instruments for new waiters.
_BY_PROVIDER: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()
_BY_ID: dict[int, tuple[Any, _Instruments]] = {}


def _instruments(meter_provider: object | None) -> _Instruments:
    from opentelemetry import metrics

    # (The package's version, read without importing the package from one of its modules.)
    version = str(getattr(sys.modules.get(__package__ or ""), "__version__", ""))
    provider: Any = metrics.get_meter_provider() if meter_provider is None else meter_provider
    try:
        found = _BY_PROVIDER.get(provider)
    except TypeError:
        pair = _BY_ID.get(id(provider))
        found = pair[1] if pair is not None and pair[0] is provider else None
        if found is None:
            found = _Instruments(provider.get_meter(NAME, version))
            _BY_ID[id(provider)] = (provider, found)
        return found
    if found is None:
        found = _BY_PROVIDER[provider] = _Instruments(provider.get_meter(NAME, version))
    return found


# -- recording ------------------------------------------------------------------------------


def wait_outcome(kind: Kind[Any], status: str, until: str | None) -> str:
    """The outcome of a wait that ended on `status`: success, partial or failed."""
    if status in kind.success or (until is not None and not kind.is_terminal(status)):
        return "success"
    if status in kind.partial:
        return "partial"
    return "failed"


def failure_outcome(error: BaseException) -> str:
    """The outcome of a wait that ended with `error`: timeout, not_found or error."""
    if isinstance(error, WaitTimeoutError):
        return "timeout"
    if isinstance(error, JobNotFoundError):
        return "not_found"
    return "error"


def completion(job: Any) -> dt.datetime | None:
    """When the service says a job ended: ``completionTime``, or ``stopTime`` (runs, tasks)."""
    end = getattr(job, "completion_time", None) or getattr(job, "stop_time", None)
    return end if isinstance(end, dt.datetime) else None


class _OtelRecorder(Recorder):
    """Records through one `_Instruments`, for one waiter."""

    __slots__ = ("__weakref__", "_budget", "_i", "_kept", "_own")

    def __init__(self, instruments: _Instruments, budget: Budget) -> None:
        self._i = instruments
        self._budget = budget
        self._kept, self._own = instruments.keep(budget)
        self._kept.mode = budget.mode
        weakref.finalize(self, instruments.retire, self._own)

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        i = self._i
        self._own.add("requests", (operation, outcome))
        i.duration.record(seconds, i.attributes("operation", operation))
        # What the gauges read: the budget as it is after this request (and its throttle).
        kept = self._kept
        rate = self._budget.rate(operation)
        if operation in kept.rates:
            kept.rates[operation] = rate
        else:
            kept.rates = {**kept.rates, operation: rate}
        kept.mode = self._budget.mode

    def watched(self, kind: Kind[Any], delta: int) -> None:
        self._own.add("watched", (kind.word,), delta)

    def _wait(self, kind: Kind[Any], outcome: str) -> None:
        self._own.add("waits", (kind.word, outcome))

    def reached(self, kind: Kind[Any], job: Any, until: str | None) -> None:
        self._wait(kind, wait_outcome(kind, str(job.status), until))

    def failed(self, kind: Kind[Any], error: BaseException) -> None:
        self._wait(kind, failure_outcome(error))

    def cancelled(self, kind: Kind[Any]) -> None:
        self._wait(kind, "cancelled")

    def observed(self, kind: Kind[Any], job: Any, *, seen_open: bool, pushed: bool) -> None:
        if not seen_open or not kind.is_terminal(str(job.status)):
            return
        end = completion(job)
        if end is None:
            return
        delay = max(0.0, time.time() - end.timestamp())
        source = "push" if pushed else "poll"
        self._i.delay.record(delay, self._i.attributes("kind", kind.word, "source", source))

    def event(self, outcome: str, sent: dt.datetime | None = None) -> None:
        self._own.add("events", (outcome,))
        if sent is not None:
            self._i.lag.record(max(0.0, time.time() - sent.timestamp()))

    def push(self, active: bool) -> None:
        self._own.push = active
