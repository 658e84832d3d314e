"""Every kind, held against botocore's own model of the service.

- Status sets: for each of botocore's Omics waiters (but the variant and annotation *store*
  waiters, which wait on stores, not jobs), every status of the waiter's operation is judged
  as the waiter judges it (success, failure, retry), except the deliberate differences in
  `DIFFERENCES` (docs/kinds.md explains each).
- `until`: what shows a job reached a status (`Kind.evidence`) is what every life cycle of
  `LIFE_CYCLES` reaches only through it; on every one of those life cycles, observed with any
  statuses missed between polls, ``until="RUNNING"`` agrees with RunRunning and TaskRunning
  but where documented.
- Statuses: each kind's statuses are the model's enum, and so are our enums.
- References: each ID field's rule is the model's input shape for the Get operation.
- Operations: every Get, List and parameter a `Kind` names exists in the model, and the
  model-shaped responses of each kind parse, with stable item keys.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from botocore import xform_name
from hypothesis import given
from hypothesis import strategies as st

from emulator_kinds import shape_problems
from kinds_table import ANALYTICS, NOW, STORAGE, WORDS, item_key, job, response, response_ref
from omics_waiter import (
    InvalidInputError,
    JobFailedError,
    JobPartiallyFailedError,
    JobRef,
)
from omics_waiter._cli_list import LISTINGS
from omics_waiter._kinds import KINDS, WORKFLOW_LISTING, Kind
from omics_waiter._policy import reached, verdict
from omics_waiter._refs import _UUID, REF_TYPES, RULES

MODEL = botocore.session.get_session().get_service_model("omics")
WAITERS: dict[str, Any] = botocore.loaders.create_loader().load_service_model("omics", "waiters-2")[
    "waiters"
]
# Store waiters: they wait on stores (and their deletion), which are not jobs.
NOT_JOBS = ("VariantStore", "AnnotationStore")

# botocore waiter -> (our kind, the `until` that matches it)
WAITER_KINDS: dict[str, tuple[str, str | None]] = {
    "ReadSetActivationJobCompleted": ("activation", None),
    "ReadSetImportJobCompleted": ("read-set-import", None),
    "ReadSetExportJobCompleted": ("read-set-export", None),
    "ReferenceImportJobCompleted": ("reference-import", None),
    "RunCompleted": ("run", None),
    "RunRunning": ("run", "RUNNING"),
    "TaskCompleted": ("task", None),
    "TaskRunning": ("task", "RUNNING"),
    "VariantImportJobCreated": ("variant-import", None),
    "AnnotationImportJobCreated": ("annotation-import", None),
    "WorkflowActive": ("workflow", None),
    "WorkflowVersionActive": ("workflow-version", None),
}

_PARTIAL_STORAGE = "a success with failed items, told apart from failure (JobPartiallyFailedError)"
_CANCELLED_IMPORT = "a cancelled import imported nothing: failure, not success"
_PARTIAL_IMPORT = "final: partial success, where the waiter polls until it gives up"
_FINAL = "final: it never changes again, where the waiter polls until it gives up"
_PASSED = "until=RUNNING: no run completes without running, where the waiter polls on"

# (waiter, status) -> (botocore's verdict, ours, why). Every other status agrees.
DIFFERENCES: dict[tuple[str, str], tuple[str, str, str]] = {
    **{
        (waiter, "COMPLETED_WITH_FAILURES"): ("failure", "partial", _PARTIAL_STORAGE)
        for waiter in (
            "ReadSetActivationJobCompleted",
            "ReadSetImportJobCompleted",
            "ReadSetExportJobCompleted",
            "ReferenceImportJobCompleted",
        )
    },
    ("RunCompleted", "CANCELLED"): ("retry", "failure", _FINAL),
    ("RunCompleted", "DELETED"): ("retry", "failure", _FINAL),
    ("TaskCompleted", "CANCELLED"): ("retry", "failure", _FINAL),
    ("RunRunning", "COMPLETED"): ("retry", "success", _PASSED),
    ("RunRunning", "DELETED"): ("retry", "failure", _FINAL),
    ("TaskRunning", "COMPLETED"): ("retry", "success", _PASSED),
    **{
        (waiter, status): verdicts
        for waiter in ("VariantImportJobCreated", "AnnotationImportJobCreated")
        for status, verdicts in {
            "CANCELLED": ("success", "failure", _CANCELLED_IMPORT),
            "COMPLETED_WITH_FAILURES": ("retry", "partial", _PARTIAL_IMPORT),
        }.items()
    },
    **{
        (waiter, status): ("retry", "failure", _FINAL)
        for waiter in ("WorkflowActive", "WorkflowVersionActive")
        for status in ("DELETED", "INACTIVE")
    },
}


def status_enum(operation: str) -> list[str]:
    """The model's enum of the `status` member of an operation's output."""
    shape = MODEL.operation_model(operation).output_shape
    assert shape is not None
    return list(shape.members["status"].enum)


def botocore_verdict(waiter: str, status: str) -> str:
    """What botocore's waiter does on a response in `status`: its first matching acceptor's
    state, or retry when none matches."""
    for acceptor in WAITERS[waiter]["acceptors"]:
        assert acceptor["matcher"] == "path" and acceptor["argument"] == "status", acceptor
        if acceptor["expected"] == status:
            return str(acceptor["state"])
    return "retry"


def our_verdict(word: str, status: str, until: str | None) -> str:
    kind = KINDS[word]
    if not reached(kind, status, until):
        return "retry"
    try:
        verdict(kind, job(word, status), accept_partial=False, until=until)
    except JobPartiallyFailedError:
        return "partial"
    except JobFailedError:
        return "failure"
    return "success"


def test_every_job_waiter_of_botocore_is_held_against_a_kind() -> None:
    jobs = {name for name in WAITERS if not name.startswith(NOT_JOBS)}
    assert jobs == set(WAITER_KINDS)
    assert {word for word, _ in WAITER_KINDS.values()} == set(KINDS)
    for name, (word, _) in WAITER_KINDS.items():
        assert WAITERS[name]["operation"] == KINDS[word].get.name, name


@pytest.mark.parametrize("waiter", list(WAITER_KINDS))
def test_our_verdicts_agree_with_botocores_waiter_but_where_documented(waiter: str) -> None:
    word, until = WAITER_KINDS[waiter]
    statuses = status_enum(WAITERS[waiter]["operation"])
    differences = {}
    for status in statuses:
        theirs, ours = botocore_verdict(waiter, status), our_verdict(word, status, until)
        if theirs != ours:
            differences[(waiter, status)] = (theirs, ours)
    documented = {
        key: (theirs, ours) for key, (theirs, ours, _) in DIFFERENCES.items() if key[0] == waiter
    }
    assert differences == documented


def test_the_documented_differences_are_in_docs_kinds_md() -> None:
    text = (Path(__file__).parents[2] / "docs" / "kinds.md").read_text()
    rows = {
        (m[1], m[2]): (m[3], m[4])
        for m in re.finditer(r"^\| `(\w+)` \| `(\w+)` \| (\w+) \| (\w+) \|", text, re.M)
    }
    assert rows == {key: (theirs, ours) for key, (theirs, ours, _) in DIFFERENCES.items()}


# -- until: life cycles ---------------------------------------------------------------------

_P, _S, _R, _ST = "PENDING", "STARTING", "RUNNING", "STOPPING"
_C, _F, _X, _D = "COMPLETED", "FAILED", "CANCELLED", "DELETED"
_RUN_LIFE: list[tuple[str, ...]] = [
    (_P, _S, _R, _ST, _C),  # runs to the end
    (_P, _S, _R, _ST, _F),  # a task failed
    (_P, _S, _F),  # failed to start (an image not found ...)
    (_P, _F),
    (_P, _ST, _X),  # cancelled while PENDING: stops without running
    (_P, _S, _ST, _X),  # cancelled while STARTING
    (_P, _S, _R, _ST, _X),  # cancelled while RUNNING
]
_STORAGE_LIFE: list[tuple[str, ...]] = [
    ("SUBMITTED", "IN_PROGRESS", "COMPLETED"),
    ("SUBMITTED", "IN_PROGRESS", "COMPLETED_WITH_FAILURES"),
    ("SUBMITTED", "IN_PROGRESS", "FAILED"),
    ("SUBMITTED", "FAILED"),
    ("SUBMITTED", "CANCELLING", "CANCELLED"),
    ("SUBMITTED", "IN_PROGRESS", "CANCELLING", "CANCELLED"),
]
_ANALYTICS_LIFE = [tuple(s for s in path if s != "CANCELLING") for path in _STORAGE_LIFE]
_WORKFLOW_LIFE: list[tuple[str, ...]] = [
    ("CREATING", "ACTIVE"),
    ("CREATING", "FAILED"),
    ("CREATING", "ACTIVE", "UPDATING", "ACTIVE"),
    ("CREATING", "ACTIVE", "INACTIVE"),
    ("CREATING", "ACTIVE", "DELETED"),
]
#: Every life cycle of each kind the emulator produces (tests/test_until.py holds the
#: emulator's runs and cancellations to them): its statuses in order, each seen or not.
LIFE_CYCLES: dict[str, list[tuple[str, ...]]] = {
    "run": [*_RUN_LIFE, *[(*path, _D) for path in _RUN_LIFE]],  # deleted once it ended
    # A task ends straight from RUNNING; one cancelled goes through STOPPING, as a run.
    "task": [*_RUN_LIFE, (_P, _S, _R, _C), (_P, _S, _R, _F)],
    **dict.fromkeys(STORAGE, _STORAGE_LIFE),
    **dict.fromkeys(ANALYTICS, _ANALYTICS_LIFE),
    "workflow": _WORKFLOW_LIFE,
    "workflow-version": _WORKFLOW_LIFE,
}


def observations(path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """What polls may see of a life cycle: any of its statuses missed, but the last."""
    *way, end = path
    return [
        (*(s for s, kept in zip(way, keep, strict=True) if kept), end)
        for keep in itertools.product((True, False), repeat=len(way))
    ]


def test_life_cycles_use_each_kinds_statuses_only() -> None:
    for word, paths in LIFE_CYCLES.items():
        kind = KINDS[word]
        model = set(status_enum(kind.get.name))
        for path in paths:
            assert set(path) <= model, (word, path)
            assert path[0] == kind.progression[0], (word, path)
            assert kind.is_terminal(path[-1]), (word, path)


@pytest.mark.parametrize("word", WORDS)
def test_until_evidence_is_what_every_life_cycle_reaches_only_through_it(word: str) -> None:
    """A status shows `until` was passed if every life cycle through it passed `until` first
    (a job starts in its first status, so every status shows that one). A failure is taken
    as evidence of the first status only: how a job fails or is cancelled is the service's
    least documented path."""
    kind = KINDS[word]
    paths = LIFE_CYCLES[word]
    for until in kind.evidence:
        through = {
            status
            for path in paths
            for i, status in enumerate(path)
            if all(until in p[: p.index(status) + 1] for p in paths if status in p)
        }
        if until != kind.progression[0]:
            through -= kind.failure
        else:
            through |= set(status_enum(kind.get.name)) - set().union(*paths) - kind.terminal
            through |= kind.terminal
        assert kind.evidence[until] == frozenset(through), until


@pytest.mark.parametrize("waiter", ["RunRunning", "TaskRunning"])
def test_until_running_agrees_with_botocores_waiter_on_every_life_cycle(waiter: str) -> None:
    """Each life cycle, seen with any statuses missed between polls: where our wait ends and
    botocore's differ, the status we end at is a documented difference."""
    word, until = WAITER_KINDS[waiter]
    assert until is not None
    kind = KINDS[word]
    for path in LIFE_CYCLES[word]:
        for seen in observations(path):
            ours_at = next(s for s in seen if reached(kind, s, until))
            ours = our_verdict(word, ours_at, until)
            theirs = next(
                (v for v in (botocore_verdict(waiter, s) for s in seen) if v != "retry"), "retry"
            )
            if ours != theirs:
                assert DIFFERENCES.get((waiter, ours_at), ())[:2] == (theirs, ours), (seen, ours)
            if ours == "success":
                assert until in seen or ours_at in kind.success, seen  # never a status unseen


# -- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
def test_a_kinds_statuses_are_the_models_enum(word: str) -> None:
    kind = KINDS[word]
    model = set(status_enum(kind.get.name))
    ours = kind.success | kind.partial | kind.failure | set(kind.progression)
    assert ours <= model, ours - model
    assert kind.success and not (kind.success & kind.partial | kind.success & kind.failure)
    assert not kind.partial & kind.failure
    assert kind.progression[-1] in kind.success
    assert not any(kind.is_terminal(s) for s in kind.progression[:-1])
    # Our enum knows every status the service may send (and parses it as known).
    parsed = job(word, "COMPLETED" if "COMPLETED" in model else "ACTIVE")
    enum = type(parsed.status)
    assert model <= set(enum.__members__), model - set(enum.__members__)
    if kind.listing is not None:
        shape = MODEL.operation_model(kind.listing.operation.name).output_shape
        assert shape is not None
        item = shape.members[kind.listing.page_field].member
        assert set(item.members["status"].enum) == model
        assert set(kind.listing.active_statuses) <= model - kind.terminal


# Each of our enums is the union of the model's enums of the statuses it parses.
ENUM_SHAPES = {
    "ActivationJobStatus": {"ReadSetActivationJobStatus"},
    "SourceStatus": {
        "ReadSetActivationJobItemStatus",
        "ReadSetImportJobItemStatus",
        "ReadSetExportJobItemStatus",
        "ReferenceImportJobItemStatus",
    },
    "JobStatus": {
        "ReadSetImportJobStatus",
        "ReadSetExportJobStatus",
        "ReferenceImportJobStatus",
        "JobStatus",
    },
    "RunStatus": {"RunStatus"},
    "TaskStatus": {"TaskStatus"},
    "WorkflowStatus": {"WorkflowStatus"},
}


@pytest.mark.parametrize("enum_name", list(ENUM_SHAPES))
def test_our_enums_are_the_models(enum_name: str) -> None:
    from omics_waiter import _models

    enum = getattr(_models, enum_name)
    model = set().union(*(MODEL.shape_for(name).enum for name in ENUM_SHAPES[enum_name]))
    assert set(enum.__members__) == model


@pytest.mark.parametrize("word", [w for w in WORDS if w in STORAGE or w in ANALYTICS])
def test_item_statuses_parse_to_the_enum_the_model_gives(word: str) -> None:
    parsed = job(word, "COMPLETED_WITH_FAILURES")
    shape = MODEL.operation_model(KINDS[word].get.name).output_shape
    assert shape is not None
    field = {"read-set-export": "readSets"}.get(word, "items" if word in ANALYTICS else "sources")
    item_shape = shape.members[field].member
    status = item_shape.members["jobStatus" if word in ANALYTICS else "status"]
    for item in parsed.items:
        assert item.status.is_known and str(item.status) in status.enum


# -- references ---------------------------------------------------------------------------


def _field_members(ref_type: type[JobRef[Any]]) -> dict[str, str]:
    """Each field of a reference -> the Get input member it fills."""
    word = ref_type.kind
    ref = response_ref(word)
    params = KINDS[word].get_params(ref)
    values = {getattr(ref, f.name): f.name for f in fields(ref)}  # type: ignore[arg-type]
    assert len(values) == len(fields(ref)), "sample IDs must differ"  # type: ignore[arg-type]
    return {values[value]: member for member, value in params.items()}


def _rule(ref_type: type[JobRef[Any]], name: str) -> tuple[str, int, int]:
    return _UUID if name in ref_type._uuid_fields else RULES[name]


@pytest.mark.parametrize("ref_type", REF_TYPES, ids=lambda t: t.kind)
def test_a_references_id_rules_are_the_models_input_shape(ref_type: type[JobRef[Any]]) -> None:
    kind = KINDS[ref_type.kind]
    shape = MODEL.operation_model(kind.get.name).input_shape
    assert shape is not None
    members = _field_members(ref_type)
    assert set(members) == {f.name for f in fields(ref_type)}  # type: ignore[arg-type]
    assert set(members.values()) == set(shape.required_members)
    for name, member in members.items():
        meta = shape.members[member].metadata
        pattern, low, high = _rule(ref_type, name)
        assert pattern == meta["pattern"], (name, member)
        if "min" in meta or "max" in meta:
            assert (low, high) == (meta.get("min"), meta.get("max")), (name, member)
        else:  # no bounds in the model: the pattern fixes the length
            assert (
                low
                == high
                == len(re.sub(r"\[[^]]*\]\{(\d+)\}", lambda m: "x" * int(m[1]), pattern))
            )


def _model_accepts(ref_type: type[JobRef[Any]], name: str, value: str) -> bool:
    kind = KINDS[ref_type.kind]
    shape = MODEL.operation_model(kind.get.name).input_shape
    assert shape is not None
    meta = shape.members[_field_members(ref_type)[name]].metadata
    return bool(
        meta.get("min", 0) <= len(value) <= meta.get("max", 10**9)
        and re.fullmatch(meta["pattern"], value)
    )


IDS = st.one_of(
    st.text("0123456789", max_size=40),
    st.text("0123456789abcdef-", min_size=30, max_size=40),
    st.from_regex(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", fullmatch=True),
    st.text("Aa0-._ ", max_size=70),
    st.text(max_size=20),
)


@given(data=st.data())
def test_a_reference_accepts_exactly_the_ids_the_model_accepts(data: st.DataObject) -> None:
    ref_type = data.draw(st.sampled_from(REF_TYPES))
    sample = response_ref(ref_type.kind)
    name = data.draw(st.sampled_from([f.name for f in fields(sample)]))  # type: ignore[arg-type]
    value = data.draw(IDS)
    ids = {f.name: getattr(sample, f.name) for f in fields(sample)}  # type: ignore[arg-type]
    if _model_accepts(ref_type, name, value):
        assert getattr(ref_type(**(ids | {name: value})), name) == value
    else:
        with pytest.raises(InvalidInputError) as info:
            ref_type(**(ids | {name: value}))
        assert info.value.argument == name


# -- operations and parameters ------------------------------------------------------------


def _check_operation(name: str, method: str) -> None:
    assert name in MODEL.operation_names, name
    assert method == xform_name(name), (name, method)


@pytest.mark.parametrize("word", WORDS)
def test_a_kinds_operations_and_parameters_are_the_models(word: str) -> None:
    kind: Kind[Any] = KINDS[word]
    ref = response_ref(word)
    _check_operation(kind.get.name, kind.get.method)
    assert kind.ref_type is type(ref) and kind.ref_type.kind == word
    listing = LISTINGS.get(word)
    if listing is not None:
        _check_operation(listing.operation.name, listing.operation.method)
        operation = MODEL.operation_model(listing.operation.name)
        inputs, outputs = operation.input_shape, operation.output_shape
        assert inputs is not None and outputs is not None
        batch = listing.batch(ref)
        params = listing.params(batch)
        assert set(params) <= set(inputs.members) and set(inputs.required_members) <= set(params)
        assert listing.token_param in inputs.members
        assert "maxResults" in inputs.members and "nextToken" in outputs.members
        assert listing.page_field in outputs.members
        if listing.active_statuses:
            if listing.status_param == "filter.status":
                assert "status" in inputs.members["filter"].members
            else:
                assert listing.status_param in inputs.members
        if listing.created_after:
            assert "createdAfter" in inputs.members["filter"].members
    items = kind.item_listing
    if items is not None:
        _check_operation(items.operation.name, items.operation.method)
        operation = MODEL.operation_model(items.operation.name)
        assert operation.input_shape is not None and operation.output_shape is not None
        params = items.params(ref)
        assert set(params) <= set(operation.input_shape.members)
        assert items.token_param in operation.input_shape.members
        assert items.page_field in operation.output_shape.members


# A List item of each listing, as the model shapes it (checked below).
def _list_item(word: str) -> dict[str, Any]:
    full = response(
        word, {"run": "RUNNING", "task": "RUNNING", "workflow": "ACTIVE"}.get(word, "IN_PROGRESS")
    )
    keep = {
        "run": ("arn", "id", "status"),
        "task": ("taskId", "status"),
        "workflow": ("id", "status"),
    }.get(word)
    if keep is not None:
        item = {k: full[k] for k in keep}
    elif word in ANALYTICS:
        item = {k: v for k, v in full.items() if k not in ("items", "statusMessage")}
        item.pop("formatOptions", None)
    else:
        dropped = ("sources", "readSets", "statusMessage")
        item = {k: v for k, v in full.items() if k not in dropped}
    item["creationTime"] = NOW
    return item


@pytest.mark.parametrize("word", list(LISTINGS))
def test_a_model_shaped_list_item_reads_as_the_job_it_lists(word: str) -> None:
    listing = LISTINGS[word]
    ref = response_ref(word)
    item = _list_item(word)
    shape = MODEL.operation_model(listing.operation.name).output_shape
    assert shape is not None
    assert shape_problems(shape.members[listing.page_field].member, item) == []
    summary = listing.summary(item, listing.batch(ref))
    assert (summary.ref, summary.status, summary.creation_time) == (
        ref,
        item["status"],
        item["creationTime"],
    )


def test_the_workflow_listing_is_for_list_alone_so_workflow_waits_never_batch() -> None:
    # The scheduler batches a kind through `Kind.listing`; workflows keep GetWorkflow.
    assert KINDS["workflow"].listing is None
    assert LISTINGS["workflow"] is WORKFLOW_LISTING
    assert WORKFLOW_LISTING.params(()) == {"type": "PRIVATE"}


GET_CASES = [
    pytest.param(word, status, id=f"{word}-{status}")
    for word in WORDS
    for status in status_enum(KINDS[word].get.name)
]


@pytest.mark.parametrize(("word", "status"), GET_CASES)
def test_a_model_shaped_get_response_parses_into_its_model(word: str, status: str) -> None:
    kind = KINDS[word]
    body = response(word, status, message="Told by the service.")
    shape = MODEL.operation_model(kind.get.name).output_shape
    assert shape is not None
    assert shape_problems(shape, body) == []
    parsed = kind.parse(body, response_ref(word))
    kind.check_identity(response_ref(word), parsed)
    assert parsed.ref == response_ref(word)
    assert str(parsed.status) == status and parsed.status.is_known
    assert parsed.status_message == "Told by the service."
    assert kind.unknown_status(parsed) is None
    keys = [key for key, _, _ in kind.items(parsed)]
    assert len(set(keys)) == len(keys)
    assert set(parsed.failed_items) <= set(parsed.items)


@pytest.mark.parametrize("word", STORAGE + ANALYTICS)
def test_failed_items_name_the_item_and_carry_the_services_message(word: str) -> None:
    parsed = job(word, "COMPLETED_WITH_FAILURES")
    (failed,) = parsed.failed_items
    expected = {"read-set-import": None, "reference-import": None}.get(word, "x")
    if expected is not None:
        # The read set (activation, export) or source file (analytics) is its name.
        assert item_key(failed) in ("2222222222", "s3://bucket/b.vcf.gz")
    if word != "annotation-import":  # the model gives annotation items no message
        assert failed.status_message
    with pytest.raises(JobPartiallyFailedError) as info:
        verdict(KINDS[word], parsed, accept_partial=False)
    assert info.value.failed_items == (failed,)
    assert item_key(failed) in str(info.value)


@pytest.mark.parametrize("word", ["read-set-import", "reference-import"])
def test_an_import_items_key_stays_the_same_when_its_read_set_or_reference_appears(
    word: str,
) -> None:
    """The service names the read set (reference) a source created only once it FINISHED: an
    item keyed by that name would look like a new item, and its first status never changed."""
    kind = KINDS[word]
    running = [key for key, _, _ in kind.items(job(word, "IN_PROGRESS"))]
    done = [key for key, _, _ in kind.items(job(word, "COMPLETED"))]
    assert running == done


@pytest.mark.parametrize("word", WORDS)
def test_every_model_has_ref_status_items_and_failed_items(word: str) -> None:
    parsed = job(word, "FAILED")
    assert parsed.ref == response_ref(word)
    assert isinstance(parsed.items, tuple) and isinstance(parsed.failed_items, tuple)
    assert set(parsed.failed_items) <= set(parsed.items)
