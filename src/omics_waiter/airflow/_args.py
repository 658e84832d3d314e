"""Checks on the Airflow layer's arguments, made when a trigger, sensor or operator is built
(and again when a task executes, once templates are rendered): never in the triggerer.

Kind words, ID forms and ``until`` are the command line's (`omics_waiter._words`); the
waiter options go through the same checks `OmicsWaiter` and `OmicsWaiter.connect` make.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import InvalidInputError
from .._kinds import KINDS
from .._refs import JobRef
from .._validation import check_rate, check_seconds
from .._waiter import DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, DEFAULT_NOT_FOUND_GRACE, _timing
from .._words import check_until, parse_ref

__all__ = [
    "WAITER_OPTIONS",
    "check_bool",
    "check_conn_id",
    "check_ids",
    "check_kind",
    "check_region",
    "check_timeout",
    "check_until_for",
    "check_waiter_options",
]

#: The keys `waiter_options` may hold: `OmicsWaiter` options and `connect()`'s shared parts.
WAITER_OPTIONS = (
    "budget_url",
    "events_queue_url",
    "max_delay",
    "max_tps",
    "min_delay",
    "not_found_grace",
    "reconcile_delay",
)


def check_kind(kind: object) -> str:
    """A kind word of the command line (``run``, ``task``, ``activation`` ...)."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInputError(
            f"kind must be one of {', '.join(KINDS)}, got {kind!r}", argument="kind"
        )
    return kind


def check_ids(kind: str, ids: object) -> tuple[list[str], list[JobRef[Any]]]:
    """`ids`: a non-empty list of distinct IDs in the kind's form; returns them and their refs."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise InvalidInputError(
            f"ids must be a list of {kind} IDs, not {type(ids).__name__}", argument="ids"
        )
    if not ids:
        raise InvalidInputError(f"ids must hold at least one {kind} ID", argument="ids")
    texts: list[str] = []
    for value in ids:
        if not isinstance(value, str):
            raise InvalidInputError(
                f"ids must hold strings, not {type(value).__name__}", argument="ids"
            )
        texts.append(value)
    refs = [parse_ref(kind, text) for text in texts]
    if len(set(refs)) != len(refs):
        twice = next(t for t in texts if texts.count(t) > 1)
        raise InvalidInputError(f"{kind} ID {twice!r} is listed twice", argument="ids")
    return texts, refs


def check_timeout(timeout: object) -> float | None:
    """Seconds a wait may last: a positive number, or None for no limit of its own."""
    if timeout is None:
        return None
    seconds = check_seconds("timeout", timeout, allow_inf=True)
    return None if math.isinf(seconds) else seconds


def check_bool(name: str, value: object) -> bool:
    """True or False, nothing else (a string "false" is a mistake, not False)."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}", argument=name)
    return value


def check_conn_id(value: object) -> str | None:
    """An Airflow connection ID (None: the default credential chain, as AwsBaseHook has it)."""
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInputError(
            f"aws_conn_id must be a connection ID or None, got {value!r}", argument="aws_conn_id"
        )
    return value


def check_region(value: object) -> str | None:
    """A Region name, or None for the connection's."""
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInputError(
            f"region_name must be a Region name or None, got {value!r}", argument="region_name"
        )
    return value


def check_waiter_options(options: object) -> dict[str, Any]:
    """`waiter_options`: a dict of known keys whose values `OmicsWaiter` would accept.

    Values are checked as `OmicsWaiter` and `connect()` check them (ranges, min_delay <=
    max_delay, a redis:// URL, an SQS queue URL) without creating anything or making a
    request.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidInputError(
            f"waiter_options must be a dict, not {type(options).__name__}",
            argument="waiter_options",
        )
    unknown = sorted(str(k) for k in options if k not in WAITER_OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"waiter_options has unknown keys {', '.join(unknown)}; "
            f"known: {', '.join(WAITER_OPTIONS)}",
            argument="waiter_options",
        )
    checked = dict(options)
    _timing(
        checked.get("min_delay", DEFAULT_MIN_DELAY),
        checked.get("max_delay", DEFAULT_MAX_DELAY),
        checked.get("not_found_grace", DEFAULT_NOT_FOUND_GRACE),
    )
    if "max_tps" in checked:
        check_rate("max_tps", checked["max_tps"])
    if "reconcile_delay" in checked:
        check_seconds("reconcile_delay", checked["reconcile_delay"])
    if checked.get("budget_url") is not None:
        _check_budget_url(checked["budget_url"])
    if checked.get("events_queue_url") is not None:
        from .._push import _split_queue_url

        _split_queue_url(checked["events_queue_url"])
    return checked


def _check_budget_url(url: object) -> None:
    """A redis:// URL, checked as `RedisBudget` checks it (needs ``omics-waiter[redis]``)."""
    from .._redis_budget import _check_url, _import_redis

    try:
        _check_url(_import_redis(), url)
    except InvalidInputError as error:
        raise InvalidInputError(
            str(error).replace("url must", "budget_url must", 1), argument="budget_url"
        ) from None


def check_until_for(kind: str, until: object) -> str | None:
    """`until` in upper case, a status on the kind's way to success (the CLI's rule)."""
    if until is not None and not isinstance(until, str):
        raise InvalidInputError(
            f"until must be a status name, not {type(until).__name__}", argument="until"
        )
    return check_until(kind, until)
