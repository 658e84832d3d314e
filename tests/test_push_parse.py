"""`parse_message`: EventBridge events from HealthOmics, as SQS message bodies, to hints."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omics_waiter._push import (
    FOREIGN_SOURCE,
    KINDS,
    MALFORMED,
    MISSING_IDS,
    MISSING_STATUS,
    NOT_AN_EVENT,
    UNHANDLED_DETAIL_TYPE,
    Ignored,
    StatusHint,
    parse_message,
    queue_region,
)

STORE = "1234567890"
JOB = "5555555555"
RUN = "7777777"
TASK = "8888888"
WORKFLOW = "9999999"
EVENT_ID = "0b2a4c5e-1111-2222-3333-444455556666"
ARN = "arn:aws:omics:us-east-1:123456789012"


def envelope(detail_type: str, detail: Any, **fields: Any) -> dict[str, Any]:
    event = {
        "version": "0",
        "id": EVENT_ID,
        "detail-type": detail_type,
        "source": "aws.omics",
        "account": "123456789012",
        "time": "2024-05-01T12:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    event.update(fields)
    return event


def body(detail_type: str, detail: Any, **fields: Any) -> str:
    return json.dumps(envelope(detail_type, detail, **fields))


STORE_JOB = {"id": JOB, "sequenceStoreId": STORE, "omicsVersion": "1.0.0"}

# One event of every detail-type we read, as documented, and the hint it gives.
EXAMPLES = [
    (
        "Read Set Activation Job Status Change",
        {**STORE_JOB, "status": "IN_PROGRESS", "statusMessage": "Activating"},
        "activation",
        (STORE, JOB),
    ),
    (
        "Read Set Import Job Status Change",
        {**STORE_JOB, "status": "COMPLETED"},
        "read-set-import",
        (STORE, JOB),
    ),
    (
        "Read Set Export Job Status Change",
        {**STORE_JOB, "status": "FAILED", "statusMessage": "No access to the bucket"},
        "read-set-export",
        (STORE, JOB),
    ),
    (
        "Reference Import Job Status Change",
        {"id": JOB, "referenceStoreId": STORE, "status": "SUBMITTED"},
        "reference-import",
        (STORE, JOB),
    ),
    (
        "Run Status Change",
        {"arn": f"{ARN}:run/{RUN}", "runId": RUN, "status": "RUNNING", "runName": "r"},
        "run",
        (RUN,),
    ),
    (
        "Task Status Change",
        {
            "arn": f"{ARN}:task/{TASK}",
            "taskId": TASK,
            "runArn": f"{ARN}:run/{RUN}",
            "runId": RUN,
            "status": "STARTING",
        },
        "task",
        (RUN, TASK),
    ),
    (
        "Variant Import Job Status Change",
        {"arn": f"{ARN}:variantImportJob/{EVENT_ID}", "jobId": EVENT_ID, "status": "COMPLETED"},
        "variant-import",
        (EVENT_ID,),
    ),
    (
        "Annotation Import Job Status Change",
        {"jobId": EVENT_ID, "status": "CANCELLED", "storeName": "s"},
        "annotation-import",
        (EVENT_ID,),
    ),
    (
        "Workflow Status Change",
        {"arn": f"{ARN}:workflow/{WORKFLOW}", "workflowId": WORKFLOW, "status": "ACTIVE"},
        "workflow",
        (WORKFLOW,),
    ),
]


def test_examples_cover_every_detail_type_read() -> None:
    assert {detail_type for detail_type, *_ in EXAMPLES} == set(KINDS)


@pytest.mark.parametrize(("detail_type", "detail", "kind", "ids"), EXAMPLES)
def test_each_detail_type_gives_its_kind_ids_and_status(
    detail_type: str, detail: dict[str, Any], kind: str, ids: tuple[str, ...]
) -> None:
    assert parse_message(body(detail_type, detail)) == StatusHint(
        kind=kind,
        ids=ids,
        status=detail["status"],
        time=dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc),
        event_id=EVENT_ID,
    )


def test_an_envelope_without_account_region_or_version_still_parses() -> None:
    # moto's routed events have no "account"; EventBridge's own always do.
    event = envelope("Run Status Change", {"runId": RUN, "status": "RUNNING"})
    for name in ("account", "region", "version", "resources"):
        del event[name]
    assert isinstance(parse_message(json.dumps(event)), StatusHint)


# -- identifying fields from ARNs ---------------------------------------------------------------


def hint(detail_type: str, detail: dict[str, Any]) -> StatusHint:
    parsed = parse_message(body(detail_type, detail))
    assert isinstance(parsed, StatusHint), parsed
    return parsed


def test_run_id_is_read_from_the_arn_when_run_id_is_missing() -> None:
    assert hint("Run Status Change", {"arn": f"{ARN}:run/{RUN}", "status": "RUNNING"}).ids == (RUN,)


def test_task_ids_are_read_from_the_arns_when_missing() -> None:
    detail = {"arn": f"{ARN}:task/{TASK}", "runArn": f"{ARN}:run/{RUN}", "status": "RUNNING"}
    assert hint("Task Status Change", detail).ids == (RUN, TASK)


def test_workflow_id_is_read_from_id_then_from_the_arn() -> None:
    assert hint("Workflow Status Change", {"id": WORKFLOW, "status": "ACTIVE"}).ids == (WORKFLOW,)
    from_arn = {"arn": f"{ARN}:workflow/{WORKFLOW}", "status": "ACTIVE"}
    assert hint("Workflow Status Change", from_arn).ids == (WORKFLOW,)


def test_an_arn_in_another_partition_is_read() -> None:
    arn = f"arn:aws-cn:omics:cn-north-1:123456789012:run/{RUN}"
    assert hint("Run Status Change", {"arn": arn, "status": "RUNNING"}).ids == (RUN,)


@pytest.mark.parametrize(
    "arn",
    [
        f"{ARN}:task/{TASK}",  # another resource type
        f"arn:aws:s3:us-east-1:123456789012:run/{RUN}",  # another service
        f"{ARN}:run/",  # no ID
        f"{ARN}:run",
        "run/7777777",
        7777777,
        None,
    ],
)
def test_an_arn_that_names_no_run_gives_missing_ids(arn: object) -> None:
    parsed = parse_message(body("Run Status Change", {"arn": arn, "status": "RUNNING"}))
    assert parsed == Ignored(MISSING_IDS, "Run Status Change")


# -- statuses and times ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("IN_PROGRESS", "IN_PROGRESS"),
        ("In Progress", "IN_PROGRESS"),
        ("in_progress", "IN_PROGRESS"),
        ("Completed-With-Failures", "COMPLETED_WITH_FAILURES"),
        ("CREATED", "CREATED"),  # a word the API does not use: kept as sent
        ("Done", "Done"),
        ("RUNNING", "RUNNING"),  # a run's word, not an activation job's: kept as sent
    ],
)
def test_status_is_spelled_as_the_api_when_it_is_one_of_the_kinds_statuses(
    sent: str, status: str
) -> None:
    detail = {**STORE_JOB, "status": sent}
    assert hint("Read Set Activation Job Status Change", detail).status == status


def test_a_runs_statuses_are_its_own() -> None:
    assert hint("Run Status Change", {"runId": RUN, "status": "deleted"}).status == "DELETED"
    # A task has no DELETED status.
    detail = {"runId": RUN, "taskId": TASK, "status": "deleted"}
    assert hint("Task Status Change", detail).status == "deleted"


@pytest.mark.parametrize(
    ("sent", "time"),
    [
        ("2024-05-01T12:30:00Z", dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)),
        (
            "2024-05-01T14:30:00+02:00",
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc),
        ),
        ("2024-05-01T12:30:00", None),  # no timezone: not trusted
        ("yesterday", None),
        (1714566600, None),
        (None, None),
    ],
)
def test_time_is_aware_or_none(sent: object, time: dt.datetime | None) -> None:
    detail = {"runId": RUN, "status": "RUNNING"}
    parsed = parse_message(body("Run Status Change", detail, time=sent))
    assert isinstance(parsed, StatusHint)
    assert parsed.time == time


# -- what is ignored, and why -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "{", "not json", '{"id": 1,}', "[" * 100_000])
def test_malformed_json_is_ignored(text: str) -> None:
    assert parse_message(text) == Ignored(MALFORMED)


@pytest.mark.parametrize("text", ["[]", "42", '"a string"', "null", "true"])
def test_json_that_is_not_an_object_is_not_an_event(text: str) -> None:
    parsed = parse_message(text)
    assert isinstance(parsed, Ignored)
    assert parsed.reason == NOT_AN_EVENT


@pytest.mark.parametrize(
    "change",
    [
        {"id": None},
        {"id": ""},
        {"id": 7},
        {"source": None},
        {"detail-type": ["Run Status Change"]},
        {"detail": None},
        {"detail": "{}"},
        {"detail": []},
    ],
)
def test_an_object_without_the_envelopes_fields_is_not_an_event(change: dict[str, Any]) -> None:
    event = {**envelope("Run Status Change", {"runId": RUN, "status": "RUNNING"}), **change}
    parsed = parse_message(json.dumps(event))
    assert isinstance(parsed, Ignored)
    assert parsed.reason == NOT_AN_EVENT


def test_a_message_sent_by_hand_is_not_an_event() -> None:
    parsed = parse_message(json.dumps({"runId": RUN, "status": "RUNNING"}))
    assert parsed == Ignored(NOT_AN_EVENT, "['runId', 'status']")


def test_a_foreign_source_is_ignored_and_named() -> None:
    detail = {"runId": RUN, "status": "RUNNING"}
    assert parse_message(body("Run Status Change", detail, source="aws.s3")) == Ignored(
        FOREIGN_SOURCE, "aws.s3"
    )


@pytest.mark.parametrize(
    "detail_type", ["Read Set Status Change", "Sequence Store Status Change", "run status change"]
)
def test_an_unhandled_detail_type_is_ignored_and_named(detail_type: str) -> None:
    parsed = parse_message(body(detail_type, {"id": JOB, "status": "ACTIVE"}))
    assert parsed == Ignored(UNHANDLED_DETAIL_TYPE, detail_type)


@pytest.mark.parametrize(
    "detail",
    [
        {"id": JOB, "status": "COMPLETED"},  # no store
        {"sequenceStoreId": STORE, "status": "COMPLETED"},  # no job
        {"id": "", "sequenceStoreId": STORE, "status": "COMPLETED"},
        {"id": 5555555555, "sequenceStoreId": STORE, "status": "COMPLETED"},
        {"id": "55 55", "sequenceStoreId": STORE, "status": "COMPLETED"},
        {"id": "5" * 129, "sequenceStoreId": STORE, "status": "COMPLETED"},
        {"id": "555\n", "sequenceStoreId": STORE, "status": "COMPLETED"},
    ],
)
def test_missing_or_unusable_ids_are_ignored(detail: dict[str, Any]) -> None:
    parsed = parse_message(body("Read Set Import Job Status Change", detail))
    assert parsed == Ignored(MISSING_IDS, "Read Set Import Job Status Change")


@pytest.mark.parametrize("status", [None, "", "  ", 3, ["COMPLETED"], "DONE\n", "x" * 129])
def test_a_missing_or_unusable_status_is_ignored(status: object) -> None:
    detail = {"runId": RUN, "status": status}
    parsed = parse_message(body("Run Status Change", detail))
    assert parsed == Ignored(MISSING_STATUS, "Run Status Change")


def test_a_long_or_odd_foreign_source_is_shortened_and_escaped() -> None:
    source = "x" * 500 + "\n\x1b[31m"
    parsed = parse_message(body("Run Status Change", {}, source=source))
    assert isinstance(parsed, Ignored)
    assert parsed.detail is not None
    assert len(parsed.detail) <= 80
    assert parsed.detail.isprintable()


# -- never raises -------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "id",
        "sequenceStoreId",
        "referenceStoreId",
        "runId",
        "taskId",
        "jobId",
        "workflowId",
        "arn",
        "runArn",
        "status",
    ]
)


@given(st.text())
def test_any_text_gives_a_hint_or_ignored(text: str) -> None:
    assert isinstance(parse_message(text), StatusHint | Ignored)


@given(JSON)
def test_any_json_gives_a_hint_or_ignored(value: Any) -> None:
    assert isinstance(parse_message(json.dumps(value)), StatusHint | Ignored)


@given(
    st.sampled_from([*KINDS, "Read Set Status Change", ""]),
    st.dictionaries(FIELDS, JSON | st.text(max_size=40), max_size=6),
    st.one_of(st.none(), st.text(max_size=30), st.integers()),
)
def test_any_detail_in_an_omics_envelope_gives_a_hint_or_ignored(
    detail_type: str, detail: dict[str, Any], time: object
) -> None:
    parsed = parse_message(body(detail_type, detail, time=time))
    assert isinstance(parsed, StatusHint | Ignored)
    if isinstance(parsed, StatusHint):
        assert parsed.kind == KINDS[detail_type].kind
        assert all(isinstance(i, str) and i for i in parsed.ids)
        assert parsed.time is None or parsed.time.tzinfo is not None


# -- the queue URL's Region ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-2.amazonaws.com/123456789012/q", "eu-west-2"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"),
        ("https://ap-south-1.queue.amazonaws.com/123456789012/q", "ap-south-1"),
        ("https://queue.amazonaws.com/123456789012/q", "us-east-1"),
        ("http://127.0.0.1:4566/123456789012/q", None),
        ("https://sqs.eu-west-2.example.com/123456789012/q", None),
    ],
)
def test_queue_region_reads_the_region_of_an_aws_queue_url(url: str, region: str | None) -> None:
    assert queue_region(url) == region
