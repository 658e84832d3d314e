"""`RedisBudget`: one request budget shared through Redis by every process of a service.

The service's quota (5 TPS per operation by default) is per account and Region, so
four replicas with a local budget of 5 TPS each send 20 TPS and are throttled. Every
`RedisBudget` that names the same Redis server and `key` hands out request slots
from one shared budget instead:

- **Slots** (GCRA): each operation has a theoretical arrival time in Redis, the next
  free slot. A caller reserves the next slot atomically, pushing it one interval
  (``1 / rate``) further, and sleeps until its slot. All times in Redis are Redis's
  own (``TIME`` inside the script), never a process clock; a reply carries only "wait
  this long", which the caller sleeps on its own clock.
- **Fairness, and nothing held by a crash**: a process holds at most one reserved
  slot per operation at a time (its waits queue locally, first come first served,
  behind that one), so busy processes take turns at the shared slots and none
  starves; a process killed at any moment leaves behind at most one slot per
  operation, a fraction of a second, and no lease to clean up.
- **AIMD, shared**: a throttle seen by any process halves the operation's shared
  rate (throttles within 1 s of a cut belong to the same burst), which then regains
  ``max_tps / 20`` per second, as `RequestBudget` does locally; every process
  reads the same rate. The report rides on the process's next reservation (of any
  operation), so each slot costs one round trip, throttle reports included:
  `throttled` is synchronous and does no I/O, and the request that was throttled is
  retried, through `acquire`, within a second or so anyway.
- **Liveness**: every call records the process in a sorted set scored by Redis
  time; the script prunes processes silent for `replica_timeout` and returns how
  many are live. Every key expires (`_IDLE_TTL` after its last use).
- **Faults**: if Redis cannot be reached (refused, timed out, any Redis error), the
  process falls back to a local `RequestBudget` at its share of the quota,
  ``max_tps / replicas`` (the most live replicas Redis counted within
  `replica_timeout` before it was lost), logs a WARNING
  once, and probes Redis at most every `probe_interval` seconds while it waits for
  local slots, rejoining the shared budget when Redis answers. `acquire` never
  raises for Redis trouble, so no wait is lost. Two things do raise, before any
  Omics request: a malformed URL (`InvalidInputError`, from the constructor) and
  credentials refused by the server on first contact (`AccessDeniedError`, from
  `connect` or the first `acquire`). A server unreachable at start is treated like
  one lost mid-run: local fallback, a warning, rejoin later.

Why a script of our own rather than a rate-limiting library: pyrate-limiter's
Redis buckets (a sorted-set log, or GCRA in `RedisStateStore`) and `limits`' async
Redis storage (fixed, moving and sliding windows) are atomic, but both answer
"allowed now or not": a blocked caller polls again later (one round trip per try,
no order among waiters, so a busy process can starve another), both take "now"
from the calling process's clock, and their rates are constants fixed when the
limiter is built, so a throttle seen by one process cannot cut the rate for all,
nor can recovery be shared. The ~100 lines of Lua in ``_redis_budget.lua`` give
reservations (a caller learns its slot in one round trip and sleeps until it),
server time, and the shared AIMD state in one atomic step.

asyncio only: redis-py's asyncio client does not run on trio. `acquire` and
`connect` raise `OmicsWaiterError` under trio; use a local budget (`max_tps=`) there.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import math
import os
import socket
import urllib.parse
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio

from ._budget import _CUT_COOLDOWN, RequestBudget
from ._clock import AnyioClock, Clock
from ._errors import AccessDeniedError, InvalidInputError, OmicsWaiterError
from ._validation import check_rate, check_seconds

__all__ = ["FALLBACK", "SHARED", "RedisBudget", "fallback_share", "parse_reply"]

logger = logging.getLogger("omics_waiter")

#: `RedisBudget.mode` while slots come from Redis (or will, at first use).
SHARED = "shared"
#: `RedisBudget.mode` while Redis is unreachable: a local budget at this process's share.
FALLBACK = "fallback"

# Keys live this long after their last use; a full recovery from a cut takes 20 s.
_IDLE_TTL = 60.0
# A probe for a lost Redis may hold up an acquire whose local slot is due at once by
# at most this long (a probe to a server that is back takes a millisecond or two).
_PROBE_GRACE = 0.05
_EXTRA_HINT = "pip install 'omics-waiter[redis]'"


def fallback_share(max_tps: float, replicas: int | None, assumed: int) -> float:
    """The rate one process may use alone: its share of `max_tps`.

    Args:
        max_tps: The rate all processes together may use, per operation.
        replicas: The number of live processes last seen in Redis (None: never seen).
        assumed: The number to assume when Redis was never reached.
    """
    count = replicas if replicas else assumed
    return max_tps / max(1, count)


def probe_due(now: float, last_probe: float, interval: float) -> bool:
    """Whether a lost Redis may be probed again."""
    return now - last_probe >= interval


@dataclass(frozen=True, slots=True)
class Reservation:
    """The script's answer to one call."""

    granted: bool
    #: Seconds from now until the slot (or until the earliest slot, when not granted).
    wait: float
    #: The operation's shared rate now, in requests per second.
    rate: float
    #: When the operation's rate was last cut (Redis microseconds), if it ever was.
    cut_at: int | None
    #: The replica that reported that throttle.
    cut_by: str
    #: Live replicas, this one included.
    replicas: int
    #: Redis time of the call, in microseconds.
    server_now: int
    #: For each throttled operation reported: the rate it was cut to, or None (cooldown).
    cuts: tuple[float | None, ...]


def parse_reply(raw: object) -> Reservation:
    """Read the script's reply.

    Raises:
        ValueError: The reply is not what the script returns.
    """
    if not isinstance(raw, list | tuple) or len(raw) < 7:
        raise ValueError(f"unexpected reply from the budget script: {raw!r}")
    granted, wait, rate, cut_at, cut_by, replicas, server_now, *cuts = (
        item.decode() if isinstance(item, bytes) else item for item in raw
    )
    return Reservation(
        granted=int(granted) == 1,
        wait=max(0, int(wait)) / 1e6,
        rate=float(rate),
        cut_at=int(cut_at) if cut_at != "" else None,
        cut_by=str(cut_by),
        replicas=int(replicas),
        server_now=int(server_now),
        cuts=tuple(float(cut) if cut != "" else None for cut in cuts),
    )


def _script_source() -> str:
    return importlib.resources.files("omics_waiter").joinpath("_redis_budget.lua").read_text()


def _import_redis() -> Any:
    try:
        import redis.asyncio
        import redis.asyncio.connection
        import redis.asyncio.retry
        import redis.backoff
        import redis.exceptions
    except ImportError as exc:
        raise OmicsWaiterError(f"RedisBudget needs the redis package: {_EXTRA_HINT}") from exc
    return redis


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _check_url(redis: Any, url: object) -> str:
    if not isinstance(url, str):
        raise InvalidInputError(
            f"url must be a redis:// URL string, not {type(url).__name__}", argument="url"
        )
    shown = _redacted(url) if "://" in url else url
    problem: str | None = None
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            problem = "the scheme must be redis://, rediss:// or unix://"
        elif parts.scheme != "unix" and not parts.hostname:
            problem = "it names no host"
        elif parts.scheme != "unix":
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
            db = parts.path.strip("/")
            if db and not db.isdigit():
                problem = f"the database must be a number, got {db!r}"
        if problem is None:
            redis.asyncio.connection.parse_url(url)
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:
        raise InvalidInputError(
            f"url must be like redis://HOST:PORT/DB; {shown!r}: {problem}", argument="url"
        )
    return url


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key) > 200 or "{" in key or "}" in key:
        raise InvalidInputError(
            "key must be a string of 1 to 200 characters without braces", argument="key"
        )
    return key


def _require_asyncio() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise OmicsWaiterError(
            "RedisBudget runs on asyncio only (redis-py's asyncio client does not run on "
            "trio); on trio, use a local budget (max_tps=...)"
        ) from None


class _Unreachable(Exception):
    """Redis did not serve the call; `reason` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RedisBudget:
    """A request budget shared through Redis by every process that uses the same URL and key.

    All processes together stay within `max_tps` per operation; slots are handed out
    in turn on Redis time; a throttle seen by any process halves the shared rate,
    which then recovers for all. If Redis cannot be reached, each process falls back
    to a local budget at its share (``max_tps`` divided by the live processes last
    seen), logs a warning once, and rejoins when Redis answers again. asyncio only.

    Use it as ``async with RedisBudget(url) as budget`` (or call `connect` and
    `aclose`), and pass it to ``OmicsWaiter(client, budget=budget)``;
    ``OmicsWaiter.connect(budget_url=url)`` does all of this for you. It connects at
    first use if `connect` was not called.

    Args:
        url: ``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`` (``rediss://`` for TLS,
            ``unix://PATH``). The same URL and `key` for every process.
        max_tps: Requests per second per operation for all processes together
            (default 5). Give every process the same value.
        key: The name of the shared budget in Redis; keys start with ``{key}:``.
        clock: The waiter's clock, which `acquire`'s times are readings of (default:
            the event loop's).
        timeout: Seconds to connect to Redis or hear its answer before it counts as
            unreachable (default 1).
        probe_interval: Seconds between attempts to reach a lost Redis (default 2).
        replica_timeout: Seconds after its last request slot that a process stops
            counting as live, for the fallback share (default 60).
        fallback_replicas: The number of processes to assume for the fallback share
            when Redis was never reached (default 1).

    Raises:
        InvalidInputError: The URL is malformed, or an option is out of range.
        OmicsWaiterError: The redis package is missing (``omics-waiter[redis]``).
    """

    def __init__(
        self,
        url: str,
        *,
        max_tps: float = 5.0,
        key: str = "omics-waiter",
        clock: Clock | None = None,
        timeout: float = 1.0,
        probe_interval: float = 2.0,
        replica_timeout: float = 60.0,
        fallback_replicas: int = 1,
    ) -> None:
        self._redis_module = _import_redis()
        self._url = _check_url(self._redis_module, url)
        self.max_tps = check_rate("max_tps", max_tps)
        self.min_rate = min(self.max_tps, 0.2)
        self.recovery = self.max_tps / 20
        self.key = _check_key(key)
        self._clock: Clock = clock if clock is not None else AnyioClock()
        self._timeout = check_seconds("timeout", timeout)
        self._probe_interval = check_seconds("probe_interval", probe_interval)
        self._replica_timeout = check_seconds("replica_timeout", replica_timeout)
        if (
            isinstance(fallback_replicas, bool)
            or not isinstance(fallback_replicas, int)
            or fallback_replicas < 1
        ):
            raise InvalidInputError(
                "fallback_replicas must be a whole number of 1 or more",
                argument="fallback_replicas",
            )
        self._fallback_replicas = fallback_replicas
        self._replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._replicas_key = f"{{{self.key}}}:replicas"
        self._client: Any = None
        self._script: Any = None
        self._mode = SHARED
        self._answered = False  # Redis has answered once: refusals from now on are faults
        self._closed = False
        self._locks: dict[str, anyio.Lock] = {}
        self._throttled: set[str] = set()  # reported with the next call
        self._rates: dict[str, tuple[float, float]] = {}  # op -> (shared rate, local time)
        self._cuts_seen: dict[str, int] = {}
        self._replicas: int | None = None
        # The most replicas seen live within replica_timeout, and when: the fallback
        # share divides by it, since a restarted Redis first counts replicas from zero.
        self._peak: tuple[int, float] = (0, -math.inf)
        self._fallback: RequestBudget | None = None
        self._last_probe = -math.inf
        self._probing = False
        self._refusal_logged = False

    # -- what callers read ---------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"shared"`` (slots from Redis) or ``"fallback"`` (Redis lost: a local share)."""
        return self._mode

    @property
    def replicas(self) -> int | None:
        """The live processes last counted in Redis, this one included (None: not yet)."""
        return self._replicas

    def rate(self, operation: str) -> float:
        """The rate allowed for `operation`, in requests per second.

        Shared: the rate of all processes together, as last read from Redis and
        regained since. Fallback: this process's local share.
        """
        if self._mode == FALLBACK and self._fallback is not None:
            return self._fallback.rate(operation)
        known = self._rates.get(operation)
        if known is None:
            return self.max_tps
        rate, at = known
        return min(self.max_tps, rate + self.recovery * max(0.0, self._clock.now() - at))

    def __repr__(self) -> str:
        return (
            f"RedisBudget(url={_redacted(self._url)!r}, key={self.key!r}, "
            f"max_tps={self.max_tps:g}, mode={self._mode!r})"
        )

    # -- life cycle ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Reach Redis now rather than at the first `acquire`.

        An unreachable server is not an error: the budget starts in fallback mode,
        logs a warning, and joins the shared budget when the server answers.

        Raises:
            AccessDeniedError: The server refused the credentials (or asked for some).
            OmicsWaiterError: Not running on asyncio, or the budget is closed.
        """
        self._check_usable()
        if self._answered or self._mode == FALLBACK:
            return
        try:
            await self._ping()
        except _Unreachable as exc:
            self._fall_back(exc.reason, ())

    async def aclose(self) -> None:
        """Leave the shared budget (this process stops counting as live) and disconnect."""
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        if client is None:
            return
        with anyio.CancelScope(shield=True):
            if self._answered and self._mode == SHARED:
                with anyio.move_on_after(self._timeout):
                    try:
                        await client.zrem(self._replicas_key, self._replica)
                    except (self._redis_module.RedisError, OSError) as exc:
                        logger.debug("shared budget %s: could not leave: %s", self.key, exc)
            close = getattr(client, "aclose", None) or client.close
            await close()

    async def __aenter__(self) -> RedisBudget:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the Budget protocol ------------------------------------------------------------

    async def acquire(self, operation: str, not_after: float = math.inf) -> bool:
        """Wait for a request slot for `operation`; False if none is free by `not_after`.

        Never raises for Redis trouble: without Redis, the slot comes from the local
        fallback budget.

        Raises:
            AccessDeniedError: On first contact, the server refused the credentials.
            OmicsWaiterError: Not running on asyncio, or the budget is closed.
        """
        self._check_usable()
        if self._mode == SHARED:
            lock = self._locks.get(operation)
            if lock is None:
                lock = self._locks[operation] = anyio.Lock()
            # This process's waits queue here, first come first served, behind the one
            # slot it may hold in Redis.
            held = False
            with anyio.move_on_after(not_after - self._clock.now()):
                await lock.acquire()
                held = True
            if not held:
                return False
            try:
                granted = (
                    await self._acquire_shared(operation, not_after)
                    if self._mode == SHARED
                    else None
                )
            finally:
                lock.release()
            if granted is not None:
                return granted
        return await self._acquire_local(operation, not_after)

    def throttled(self, operation: str) -> None:
        """Record a throttling response; it cuts the shared rate with this process's
        next reservation (or the local share's rate, in fallback mode)."""
        if self._mode == FALLBACK and self._fallback is not None:
            self._fallback.throttled(operation)
        else:
            self._throttled.add(operation)

    # -- shared mode --------------------------------------------------------------------

    async def _acquire_shared(self, operation: str, not_after: float) -> bool | None:
        """A slot from Redis: True or False, or None if Redis failed (now in fallback)."""
        horizon = not_after - self._clock.now()
        if horizon < 0:
            return False
        reported = sorted(self._throttled)
        self._throttled.clear()
        try:
            reservation = await self._reserve(operation, horizon, reported)
        except _Unreachable as exc:
            self._fall_back(exc.reason, reported)
            return None
        if not reservation.granted:
            return False
        if reservation.wait > 0:
            await self._clock.sleep(reservation.wait)
        return True

    def _lane(self, operation: str) -> str:
        return f"{{{self.key}}}:lane:{operation}"

    async def _reserve(
        self, operation: str, horizon: float, reported: list[str], *, now_us: int | None = None
    ) -> Reservation:
        keys = [self._replicas_key, self._lane(operation), *map(self._lane, reported)]
        args = [
            self._replica,
            -1 if math.isinf(horizon) else int(horizon * 1e6),
            repr(self.max_tps),
            repr(self.min_rate),
            repr(self.recovery),
            int(_CUT_COOLDOWN * 1e6),
            int(self._replica_timeout * 1e6),
            int(_IDLE_TTL * 1000),
            "" if now_us is None else now_us,
        ]
        raw = await self._call(lambda client: self._script(keys=keys, args=args, client=client))
        try:
            reservation = parse_reply(raw)
        except ValueError as exc:
            raise _Unreachable(str(exc)) from None
        self._observe(operation, reservation, reported)
        return reservation

    def _observe(self, operation: str, reservation: Reservation, reported: list[str]) -> None:
        """Remember what Redis said; log cuts of the shared rate."""
        now = self._clock.now()
        self._replicas = reservation.replicas
        peak, seen = self._peak
        if reservation.replicas >= peak or now - seen > self._replica_timeout:
            self._peak = (reservation.replicas, now)
        self._rates[operation] = (reservation.rate, now)
        for op, cut in zip(reported, reservation.cuts, strict=False):
            if cut is None:
                continue
            logger.info(
                "shared budget %s: %s cut to %.2f requests/s (all replicas) after a throttle",
                self.key,
                op,
                cut,
            )
            self._cuts_seen[op] = reservation.server_now
            if op != operation:
                self._rates[op] = (cut, now)
        cut_at = reservation.cut_at
        if cut_at is None or self._cuts_seen.get(operation) == cut_at:
            return
        self._cuts_seen[operation] = cut_at
        if reservation.cut_by != self._replica and reservation.rate < self.max_tps:
            logger.info(
                "shared budget %s: %s at %.2f requests/s (all replicas) after a throttle "
                "seen by %s",
                self.key,
                operation,
                reservation.rate,
                reservation.cut_by,
            )

    async def _ping(self) -> None:
        await self._call(lambda client: client.ping())

    async def _call(self, command: Any) -> Any:
        """Run one Redis command; translate failures into `_Unreachable` or a refusal."""
        redis = self._redis_module
        if self._client is None:
            self._client = redis.asyncio.Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                # One try: a failure falls back to the local budget at once, and the
                # probe comes back later; redis-py's own retries would only add delay.
                retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
                decode_responses=True,
            )
            self._script = self._client.register_script(_script_source())
        refused = tuple(
            getattr(redis.exceptions, name)
            for name in ("AuthenticationError", "AuthorizationError", "NoPermissionError")
            if hasattr(redis.exceptions, name)
        )
        try:
            result = await command(self._client)
        except refused as exc:
            if not self._answered:
                raise AccessDeniedError(
                    f"Redis at {_redacted(self._url)} refused the budget's credentials: "
                    f"{_describe(exc)}",
                    code=type(exc).__name__,
                ) from None
            raise _Unreachable(f"credentials refused ({_describe(exc)})") from None
        except (redis.RedisError, OSError) as exc:
            raise _Unreachable(_describe(exc)) from None
        self._answered = True
        return result

    # -- fallback mode ------------------------------------------------------------------

    def _fall_back(self, reason: str, reported: list[str] | tuple[()]) -> None:
        if self._mode == FALLBACK:
            return
        now = self._clock.now()
        peak, seen = self._peak
        count = peak if peak and now - seen <= self._replica_timeout else self._fallback_replicas
        share = fallback_share(self.max_tps, count, self._fallback_replicas)
        fallback = RequestBudget(share, clock=self._clock)
        for op in {*self._rates, *self._locks}:
            # As if this process had just sent a request: its first local slot comes one
            # local interval from now, not at once, on top of the shared slots just given.
            fallback.reserve(op, math.inf)
        for op in reported:
            fallback.throttled(op)
        self._fallback = fallback
        self._mode = FALLBACK
        self._last_probe = now
        self._refusal_logged = False
        logger.warning(
            "shared budget %s: Redis at %s unreachable (%s); using a local budget of %.2f "
            "requests/s per operation (1/%d of %g) until it answers again",
            self.key,
            _redacted(self._url),
            reason,
            share,
            count,
            self.max_tps,
        )

    async def _acquire_local(self, operation: str, not_after: float) -> bool:
        fallback = self._fallback
        assert fallback is not None
        slot = fallback.reserve(operation, not_after)
        if slot is None:
            return False
        now = self._clock.now()
        if not self._probing and probe_due(now, self._last_probe, self._probe_interval):
            # The probe runs while this caller waits for its local slot anyway.
            with anyio.move_on_after(max(slot - now, _PROBE_GRACE)):
                await self._probe()
        wait = slot - self._clock.now()
        if wait > 0:
            await self._clock.sleep(wait)
        return True

    async def _probe(self) -> None:
        self._probing = True
        self._last_probe = self._clock.now()
        try:
            if self._client is not None:
                # Connections idle since the loss may be dead without knowing it (a
                # restarted server): start afresh, so that the rejoin does not fail at once.
                with contextlib.suppress(self._redis_module.RedisError, OSError):
                    await self._client.connection_pool.disconnect()
            await self._ping()
        except AccessDeniedError as exc:
            # Redis was unreachable at start and now refuses us: a wait in progress must
            # not fail for it, so this is logged (once) rather than raised.
            if not self._refusal_logged:
                self._refusal_logged = True
                logger.warning("shared budget %s: %s; staying on the local budget", self.key, exc)
            return
        except _Unreachable as exc:
            logger.debug("shared budget %s: still unreachable: %s", self.key, exc.reason)
            return
        finally:
            self._probing = False
        self._mode = SHARED
        self._fallback = None
        logger.warning(
            "shared budget %s: Redis at %s answers again; back on the shared budget",
            self.key,
            _redacted(self._url),
        )

    def _check_usable(self) -> None:
        _require_asyncio()
        if self._closed:
            raise OmicsWaiterError("this RedisBudget is closed")
