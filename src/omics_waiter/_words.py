"""The words the command line (and the Airflow layer) uses for kinds and jobs.

A kind is named by its key in `KINDS` (``run``, ``task``, ``activation`` ...) and a job by its
reference's fields joined with ``/`` (``RUN_ID/TASK_ID``, ``STORE_ID/JOB_ID`` ...). Kept free of
click so that every caller that takes such words checks them the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._errors import InvalidInputError
from ._kinds import KINDS
from ._refs import JobRef

__all__ = ["check_until", "id_form", "parse_ref"]


def id_form(word: str) -> str:
    """How a kind's ID is written on the command line: ``RUN_ID``, ``STORE_ID/JOB_ID`` ..."""
    names = [f.name for f in dataclasses.fields(KINDS[word].ref_type)]  # type: ignore[arg-type]
    return "/".join(n.upper() for n in names)


def parse_ref(word: str, text: str) -> JobRef[Any]:
    """The reference a command-line ID names, e.g. ``parse_ref("task", "1234/5678")``.

    Raises:
        InvalidInputError: The ID is not of the kind's form, or a field breaks its rule
            (the message names the argument and the field).
    """
    kind = KINDS[word]
    names = [f.name for f in dataclasses.fields(kind.ref_type)]  # type: ignore[arg-type]
    parts = text.split("/")
    if len(parts) != len(names):
        raise InvalidInputError(
            f"{word} ID {text!r} must be {id_form(word)}"
            + (f" ({len(names)} IDs separated by '/')" if len(names) > 1 else ""),
            argument="ids",
        )
    try:
        return kind.ref_type(*parts)
    except InvalidInputError as error:
        field = error.argument or ""
        message = str(error)
        if field and message.startswith(field):
            message = field.upper() + message[len(field) :]
        raise InvalidInputError(f"{word} ID {text!r}: {message}", argument=field) from None


def check_until(word: str, until: str | None, *, name: str = "until") -> str | None:
    """`until` in upper case, if it is a status the kind passes on its way to success.

    Raises:
        InvalidInputError: Another status (the message calls the option `name`).
    """
    if until is None:
        return None
    kind = KINDS[word]
    allowed = [s for s in kind.progression if not kind.is_terminal(s)]
    wanted = until.upper()
    if wanted not in allowed:
        raise InvalidInputError(
            f"{name} must be a status a {kind.noun} passes on its way ({', '.join(allowed)}), "
            f"got {until!r}",
            argument="until",
        )
    return wanted
