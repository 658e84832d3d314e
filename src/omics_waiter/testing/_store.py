"""The emulator's job store: creation, client-token idempotency, listing and pagination.

Pure bookkeeping: every method takes the current emulator-clock time as an argument.

Pagination tokens name a sort position, not an offset. Jobs are listed newest first by
(creation time, creation sequence), which never changes, so a job that changes status between two
pages is neither skipped nor repeated. Tokens are signed, bound to the store and the filter, and
refused (`InvalidTokenError`) when tampered with or reused with another store or filter.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from omics_waiter.testing._jobs import Job, JobSnapshot, Step, random_timeline

__all__ = [
    "IdempotencyMismatchError",
    "InvalidTokenError",
    "JobStore",
    "ListFilter",
]


class IdempotencyMismatchError(ValueError):
    """A client token was reused with a different request."""


class InvalidTokenError(ValueError):
    """A pagination token is not one this store issued for this listing."""


@dataclass(frozen=True, slots=True)
class ListFilter:
    """A ListReadSetActivationJobs filter; times are wire times in epoch milliseconds."""

    status: str | None = None
    created_after_ms: int | None = None
    created_before_ms: int | None = None

    def key(self) -> str:
        return f"{self.status}|{self.created_after_ms}|{self.created_before_ms}"


@dataclass(frozen=True, slots=True)
class _Claim:
    read_set_ids: tuple[str, ...]
    job_id: str


class JobStore:
    """Every job the emulator knows, across sequence stores.

    Args:
        rng: Draws job IDs and random life cycles.
        job_seconds: Range of random job durations.
        failure_rate: Probability that a source of a random job fails.
        epoch_ms: Converts an emulator-clock time to the wire time (epoch milliseconds).
        token_key: Signs pagination tokens.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        job_seconds: tuple[float, float],
        failure_rate: float,
        epoch_ms: Callable[[float], int],
        token_key: bytes,
    ) -> None:
        self._rng = rng
        self._job_seconds = job_seconds
        self._failure_rate = failure_rate
        self._epoch_ms = epoch_ms
        self._token_key = token_key
        self._jobs: dict[str, Job] = {}
        # Per store, (created, seq, job) in creation order, so that a page reads only
        # as far back as it needs instead of every job of the store.
        self._by_store: dict[str, list[tuple[float, int, Job]]] = {}
        self._claims: dict[tuple[str, str], _Claim] = {}

    def create(
        self,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        *,
        now: float,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
        client_token: str | None = None,
    ) -> tuple[Job, bool]:
        """Create a job, or find the one a client token already created.

        Returns:
            The job, and whether it was created by this call.

        Raises:
            IdempotencyMismatchError: The client token was used for a different request.
            ValueError: The timeline names read sets that are not in the job.
        """
        wanted = tuple(read_set_ids)
        if client_token is not None:
            claim = self._claims.get((sequence_store_id, client_token))
            if claim is not None:
                if claim.read_set_ids != wanted:
                    raise IdempotencyMismatchError(client_token)
                return self._jobs[claim.job_id], False
        if timeline is None:
            timeline = random_timeline(
                self._rng, wanted, job_seconds=self._job_seconds, failure_rate=self._failure_rate
            )
        job = Job.build(
            job_id=self._new_id(),
            sequence_store_id=sequence_store_id,
            read_set_ids=wanted,
            created=now,
            seq=len(self._jobs),
            timeline=timeline,
            visible_after=visible_after,
        )
        self._jobs[job.id] = job
        bisect.insort(
            self._by_store.setdefault(job.sequence_store_id, []),
            (job.created, job.seq, job),
            key=lambda item: (item[0], item[1]),
        )
        if client_token is not None:
            self._claims[(sequence_store_id, client_token)] = _Claim(wanted, job.id)
        return job, True

    def find(self, sequence_store_id: str, job_id: str) -> Job | None:
        """The job with this ID in this sequence store, if any."""
        job = self._jobs.get(job_id)
        if job is None or job.sequence_store_id != sequence_store_id:
            return None
        return job

    def by_id(self, job_id: str) -> Job:
        """The job with this ID in any store.

        Raises:
            KeyError: No such job.
        """
        return self._jobs[job_id]

    def page(
        self,
        sequence_store_id: str,
        *,
        now: float,
        flt: ListFilter,
        max_results: int,
        next_token: str | None,
    ) -> tuple[list[JobSnapshot], str | None]:
        """One page of the store's visible jobs, newest first.

        Raises:
            InvalidTokenError: ``next_token`` is not a token for this store and filter.
        """
        scope = f"{sequence_store_id}|{flt.key()}"
        after = None if next_token is None else self._decode(next_token, scope)
        ordered = self._by_store.get(sequence_store_id, [])
        end = len(ordered)
        if after is not None:
            end = bisect.bisect_left(ordered, after, key=lambda item: (item[0], item[1]))
        matching: list[tuple[tuple[float, int], JobSnapshot]] = []
        for index in range(end - 1, -1, -1):
            if len(matching) > max_results:
                break  # one more than a page tells that there is a next page
            created, seq, job = ordered[index]
            if not job.visible(now):
                continue
            position = (created, seq)
            created_ms = self._epoch_ms(job.created)
            if flt.created_after_ms is not None and created_ms < flt.created_after_ms:
                break  # newest first: every job after this one is older still
            if flt.created_before_ms is not None and created_ms > flt.created_before_ms:
                continue
            snapshot = job.snapshot(now)
            if flt.status is not None and snapshot.status != flt.status:
                continue
            matching.append((position, snapshot))
        page = matching[:max_results]
        token = None
        if len(matching) > max_results:
            token = self._encode(page[-1][0], scope)
        return [snapshot for _, snapshot in page], token

    def _new_id(self) -> str:
        while True:
            candidate = str(self._rng.randrange(10**9, 10**10))
            if candidate not in self._jobs:
                return candidate

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._token_key, payload, hashlib.sha256).hexdigest()[:32]

    def _encode(self, position: tuple[float, int], scope: str) -> str:
        payload = json.dumps({"p": list(position), "s": scope}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(payload)}"

    def _decode(self, token: str, scope: str) -> tuple[float, int]:
        body, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidTokenError(token) from exc
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise InvalidTokenError(token)
        decoded = json.loads(payload)
        if decoded["s"] != scope:
            raise InvalidTokenError(token)
        created, seq = decoded["p"]
        return float(created), int(seq)
