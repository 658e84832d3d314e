"""``omics-waiter list KIND [SCOPE]``: the jobs of one kind, as the service lists them.

Every kind with a List operation (`Kind.listing` in `_kinds`) can be listed: a store's
read set activation, import and export jobs and reference import jobs (SCOPE: the store),
a run's tasks (SCOPE: the run), and the account's runs and variant and annotation import
jobs and workflows (no SCOPE). Pages come from `OmicsApi.list_page`, the same code the
scheduler sweeps with; a failed request is retried with the waiter's retry backoff until
``--timeout``, and each retry is reported as a `PollRetrying` (``ref`` None, the scope as its
batch). Workflows are listed through `WORKFLOW_LISTING`, which the scheduler never uses.

`list_request` checks the words (kind, scope, status, limit) before any request; the allowed
statuses are those of the List operation's status filter in botocore's service model. A List
without one (ListWorkflows) is filtered here, page by page, by the status its items carry:
the allowed statuses are then that item's enum.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import InvalidInputError
from ._events import PollRetrying
from ._kinds import KINDS, WORKFLOW_LISTING, Kind, Listing, Summary
from ._refs import check_field
from ._waiter import OmicsWaiter

__all__ = [
    "LISTABLE",
    "LISTINGS",
    "ListRequest",
    "list_jobs",
    "list_request",
    "scope_field",
    "summary_record",
]

logger = logging.getLogger("omics_waiter")

#: The List of each kind `list` takes: the scheduler's, and ListWorkflows.
LISTINGS: dict[str, Listing] = {
    **{word: kind.listing for word, kind in KINDS.items() if kind.listing is not None},
    "workflow": WORKFLOW_LISTING,
}
#: The kinds `list` takes: those with a List operation.
LISTABLE = tuple(LISTINGS)
_PAGE = 100  # the most a List page holds


def _fields(word: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(KINDS[word].ref_type))  # type: ignore[arg-type]


def scope_field(word: str) -> str | None:
    """What a kind's List is scoped by (``sequence_store_id``, ``run_id`` ...), or None when
    it lists the whole account (runs, variant and annotation imports)."""
    names = _fields(word)
    return names[0] if len(names) > 1 else None


@functools.cache
def _status_shape(word: str) -> tuple[bool, tuple[str, ...]]:
    """Whether a kind's List filters by status, and the statuses it may be asked for: the
    service model's enum of the filter, or (without one) of the status its items carry."""
    import botocore.session

    listing = LISTINGS[word]
    model = botocore.session.get_session().get_service_model("omics")
    operation: Any = model.operation_model(listing.operation.name)
    members = operation.input_shape.members
    if listing.status_param == "filter.status":
        members = members["filter"].members
    if "status" in members:
        return True, tuple(members["status"].enum)
    item = operation.output_shape.members[listing.page_field].member
    return False, tuple(item.members["status"].enum)


def list_statuses(word: str) -> tuple[str, ...]:
    """The statuses ``--status`` takes for a kind."""
    return _status_shape(word)[1]


def filters_by_status(word: str) -> bool:
    """Whether the service filters a kind's List by status (else `list_jobs` does)."""
    return _status_shape(word)[0]


@dataclasses.dataclass(frozen=True)
class ListRequest:
    """A checked ``list`` request: which kind, which batch (scope), which status, how many."""

    word: str
    batch: tuple[str, ...]
    status: str | None
    limit: int | None

    @property
    def kind(self) -> Kind[Any]:
        return KINDS[self.word]

    def title(self) -> str:
        """What the table lists: "Runs", "Read set import jobs in sequence store 1234567890"."""
        nouns = f"{self.kind.noun}s".capitalize()
        field = scope_field(self.word)
        if field is None or not self.batch:
            return nouns
        scope = field.removesuffix("_id").replace("_", " ")
        return f"{nouns} {'of' if field == 'run_id' else 'in'} {scope} {self.batch[0]}"


def list_request(
    word: str, scope: str | None, status: str | None, limit: int | None
) -> ListRequest:
    """Check what ``list`` was given, before any request.

    Raises:
        InvalidInputError: A kind without a List, a scope missing, extra or malformed, a
            status the kind's List does not filter by, a limit below 1.
    """
    if word not in LISTABLE:
        raise InvalidInputError(
            f"{KINDS[word].noun}s cannot be listed (the kinds with a List: {', '.join(LISTABLE)})",
            argument="kind",
        )
    field = scope_field(word)
    if field is None and scope is not None:
        raise InvalidInputError(
            f"list {word} takes no scope: it lists the account's {KINDS[word].noun}s, "
            f"got {scope!r}",
            argument="scope",
        )
    if field is not None and scope is None:
        raise InvalidInputError(f"list {word} needs {field.upper()}", argument="scope")
    batch: tuple[str, ...] = ()
    if field is not None:
        try:
            batch = (check_field(field, scope),)
        except InvalidInputError as error:
            message = str(error)
            raise InvalidInputError(
                field.upper() + message[len(field) :] if message.startswith(field) else message,
                argument="scope",
            ) from None
    wanted = None
    if status is not None:
        allowed = list_statuses(word)
        wanted = status.upper()
        if wanted not in allowed:
            raise InvalidInputError(
                f"--status for {KINDS[word].noun}s must be one of {', '.join(allowed)}, "
                f"got {status!r}",
                argument="status",
            )
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise InvalidInputError("--limit must be a whole number above zero", argument="limit")
    return ListRequest(word, batch, wanted, limit)


async def list_jobs(
    waiter: OmicsWaiter,
    request: ListRequest,
    *,
    on_retry: Callable[[PollRetrying], object] | None = None,
) -> list[Summary]:
    """Every job the request names (at most its limit), page after page.

    Raises:
        AccessDeniedError, ServiceError (the scope was not found: code
        ResourceNotFoundException), UnexpectedResponseError, WaitTimeoutError.
    """
    listing = LISTINGS[request.word]
    # Without a status filter in the request, full pages are read and filtered here.
    served = request.status is None or filters_by_status(request.word)
    # One deadline for every page: the listing, not each request, gets the waiter's timeout.
    deadline = waiter._clock.now() + waiter._timeout
    field = scope_field(request.word) or "scope"
    scope = f"{field.removesuffix('_id').replace('_', ' ')} {''.join(request.batch)}".strip()
    jobs: list[Summary] = []
    token: str | None = None
    while request.limit is None or len(jobs) < request.limit:
        size = (
            _PAGE if request.limit is None or not served else min(_PAGE, request.limit - len(jobs))
        )
        page, token = await waiter._retrying(
            functools.partial(
                waiter._api.list_page,
                listing,
                request.batch,
                token=token,
                status=request.status if served else None,
                max_results=size,
            ),
            request.batch,
            on_retry,
            kind=request.word,
            scope=scope,
            deadline=deadline,
        )
        jobs.extend(page if served else [job for job in page if job.status == request.status])
        if token is None:
            break
    return jobs if request.limit is None else jobs[: request.limit]


def summary_record(word: str, summary: Summary, iso_time: Callable[[dt.datetime], str]) -> Any:
    """The JSON object for one listed job: ``job_listed``, its kind, ID fields and status."""
    return {
        "type": "job_listed",
        "kind": word,
        **dict(zip(_fields(word), summary.ref.ids, strict=True)),
        "status": summary.status,
        "creation_time": None if summary.creation_time is None else iso_time(summary.creation_time),
    }


def id_text(summaries: Sequence[Summary]) -> list[str]:
    """The jobs' IDs as ``wait KIND`` takes them (``STORE/JOB``, ``RUN/TASK``, ``RUN`` ...)."""
    return [str(s.ref) for s in summaries]
