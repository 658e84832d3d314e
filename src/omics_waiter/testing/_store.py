"""The emulator's job store: every kind, idempotency tokens, listing and pagination.

Pure bookkeeping: every method takes the current emulator-clock time as an argument.

Jobs live in scopes: a kind plus what the job belongs to (a sequence or reference store, a run
for tasks, a workflow for versions, nothing for runs, workflows and analytics jobs). Pagination
tokens name a sort position, not an offset. Jobs are listed newest first by (creation time,
creation sequence), which never changes, so a job that changes status between two pages is
neither skipped nor repeated. Tokens are short (they fit ListRuns' 128 characters), signed, bound
to the scope and the filter, and refused (`InvalidTokenError`) when tampered with or reused
with another scope or filter.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from omics_waiter.testing._jobs import Job, JobSnapshot
from omics_waiter.testing._kinds import Kind

__all__ = [
    "IdempotencyMismatchError",
    "InvalidTokenError",
    "JobStore",
    "ListFilter",
    "Page",
]

Key = tuple[Kind, str, str]


class IdempotencyMismatchError(ValueError):
    """A client token was reused with a different request."""


class InvalidTokenError(ValueError):
    """A pagination token is not one this store issued for this listing."""


@dataclass(frozen=True, slots=True)
class ListFilter:
    """A List filter. Times are wire times in epoch milliseconds; ``match`` tests the rest.

    ``key`` identifies the filter, to bind pagination tokens to it.
    """

    status: str | None = None
    created_after_ms: int | None = None
    created_before_ms: int | None = None
    match: Callable[[Job, JobSnapshot], bool] | None = None
    extra_key: str = ""

    def key(self) -> str:
        return f"{self.status}|{self.created_after_ms}|{self.created_before_ms}|{self.extra_key}"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing: the jobs with their snapshots, and the next token."""

    items: list[tuple[Job, JobSnapshot]]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class _Claim:
    fingerprint: str
    key: Key


class JobStore:
    """Every job the emulator knows, of every kind.

    Args:
        epoch_ms: Converts an emulator-clock time to the wire time (epoch milliseconds).
        token_key: Signs pagination tokens.
    """

    def __init__(self, *, epoch_ms: Callable[[float], int], token_key: bytes) -> None:
        self._epoch_ms = epoch_ms
        self._token_key = token_key
        self._jobs: dict[Key, Job] = {}
        self._by_id: dict[str, Job] = {}
        # Per scope, (created, seq, key) in creation order, so that a page reads only as far
        # back as it needs instead of every job of the scope.
        self._by_scope: dict[tuple[Kind, str], list[tuple[float, int, Key]]] = {}
        self._claims: dict[tuple[Kind, str, str], _Claim] = {}
        self._seq = 0
        self._listeners: list[Callable[[Job], None]] = []

    def listen(self, listener: Callable[[Job], None]) -> None:
        """Call ``listener`` with every job added or changed from now on."""
        self._listeners.append(listener)

    def next_seq(self) -> int:
        """A creation sequence number, increasing."""
        self._seq += 1
        return self._seq - 1

    def taken(self, job_id: str) -> bool:
        """Whether a job of any kind has this ID."""
        return job_id in self._by_id

    def claimed(self, kind: Kind, scope: str, token: str, fingerprint: str) -> Job | None:
        """The job an idempotency token already created in this scope, if any.

        Raises:
            IdempotencyMismatchError: The token was used for a request with another fingerprint.
        """
        claim = self._claims.get((kind, scope, token))
        if claim is None:
            return None
        if claim.fingerprint != fingerprint:
            raise IdempotencyMismatchError(token)
        return self._jobs[claim.key]

    def add(self, job: Job, *, token: str | None = None, fingerprint: str = "") -> None:
        """Store a new job (and the idempotency token that created it)."""
        key = (job.kind, job.scope, job.id)
        self._jobs[key] = job
        if job.kind is not Kind.WORKFLOW_VERSION:
            self._by_id[job.id] = job
        bisect.insort(
            self._by_scope.setdefault((job.kind, job.scope), []),
            (job.created, job.seq, key),
            key=lambda item: (item[0], item[1]),
        )
        if token is not None:
            self._claims[(job.kind, job.scope, token)] = _Claim(fingerprint, key)
        for listener in self._listeners:
            listener(job)

    def replace(self, job: Job, **changes: object) -> Job:
        """Change a stored job (its timeline or visibility); its place in listings stays."""
        updated = replace(job, **changes)  # type: ignore[arg-type]
        self._jobs[(job.kind, job.scope, job.id)] = updated
        if job.kind is not Kind.WORKFLOW_VERSION:
            self._by_id[job.id] = updated
        for listener in self._listeners:
            listener(updated)
        return updated

    def find(self, kind: Kind, scope: str, job_id: str) -> Job | None:
        """The job of this kind with this ID in this scope, if any."""
        return self._jobs.get((kind, scope, job_id))

    def by_id(self, job_id: str) -> Job:
        """The job with this ID, of any kind but workflow versions.

        Raises:
            KeyError: No such job.
        """
        return self._by_id[job_id]

    def in_scope(self, kind: Kind, scope: str) -> list[Job]:
        """Every job of the scope, oldest first."""
        return [self._jobs[key] for _, _, key in self._by_scope.get((kind, scope), [])]

    def all(self) -> list[Job]:
        """Every job, of every kind."""
        return list(self._jobs.values())

    def page(
        self,
        kind: Kind,
        scope: str,
        *,
        now: float,
        flt: ListFilter,
        max_results: int,
        next_token: str | None,
    ) -> Page:
        """One page of the scope's visible jobs, newest first.

        Raises:
            InvalidTokenError: ``next_token`` is not a token for this scope and filter.
        """
        binding = f"{kind.value}|{scope}|{flt.key()}"
        after = None if next_token is None else self._decode(next_token, binding)
        ordered = self._by_scope.get((kind, scope), [])
        end = len(ordered)
        if after is not None:
            end = bisect.bisect_left(ordered, after, key=lambda item: (item[0], item[1]))
        matching: list[tuple[tuple[float, int], Job, JobSnapshot]] = []
        for index in range(end - 1, -1, -1):
            if len(matching) > max_results:
                break  # one more than a page tells that there is a next page
            created, seq, key = ordered[index]
            job = self._jobs[key]
            if not job.visible(now):
                continue
            created_ms = self._epoch_ms(job.created)
            if flt.created_after_ms is not None and created_ms < flt.created_after_ms:
                break  # newest first: every job after this one is older still
            if flt.created_before_ms is not None and created_ms > flt.created_before_ms:
                continue
            snapshot = job.snapshot(now)
            if flt.status is not None and snapshot.status != flt.status:
                continue
            if flt.match is not None and not flt.match(job, snapshot):
                continue
            matching.append(((created, seq), job, snapshot))
        page = matching[:max_results]
        token = None
        if len(matching) > max_results:
            token = self._encode(page[-1][0], binding)
        return Page([(job, snapshot) for _, job, snapshot in page], token)

    def _sign(self, body: str, binding: str) -> str:
        message = f"{body}|{binding}".encode()
        return hmac.new(self._token_key, message, hashlib.sha256).hexdigest()[:32]

    def _encode(self, position: tuple[float, int], binding: str) -> str:
        payload = json.dumps(list(position), separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body, binding)}"

    def _decode(self, token: str, binding: str) -> tuple[float, int]:
        body, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body, binding).encode()):
            raise InvalidTokenError(token)
        try:
            created, seq = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError) as exc:  # pragma: no cover - signed by us
            raise InvalidTokenError(token) from exc
        return float(created), int(seq)
