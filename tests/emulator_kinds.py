"""Per-kind helpers for emulator tests: how to start, get and list each kind through a client,
how to add one through the test API, and a check of responses against the model's shapes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
OTHER_STORE = "1234567891"
ROLE = "arn:aws:iam::123456789012:role/omics"
MODEL = botocore.session.get_session().get_service_model("omics")


class ManualClock:
    """An emulator clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def payload(response: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def shape_problems(shape: Shape, value: Any, where: str = "") -> list[str]:
    """Where a parsed response strays from the model's shape: unknown members, missing
    required ones, lists and maps of the wrong type."""
    problems: list[str] = []
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [f"{where}: not a structure"]
        for name in value:
            if name == "ResponseMetadata":
                continue
            if name not in shape.members:
                problems.append(f"{where}.{name}: not in {shape.name}")
            else:
                problems += shape_problems(shape.members[name], value[name], f"{where}.{name}")
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{where}.{name}: required by {shape.name}, missing")
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        for index, item in enumerate(value):
            problems += shape_problems(shape.member, item, f"{where}[{index}]")
    elif isinstance(shape, MapShape) and not isinstance(value, dict):
        problems.append(f"{where}: not a map")
    elif getattr(shape, "enum", None) and value not in getattr(shape, "enum", ()):
        problems.append(f"{where}: {value!r} not in the enum")
    return problems


def output_problems(operation: str, response: Mapping[str, Any]) -> list[str]:
    shape = MODEL.operation_model(operation).output_shape
    assert shape is not None
    return shape_problems(shape, payload(response), operation)


@dataclass(frozen=True)
class KindCase:
    """How to drive one kind through the client and the test API.

    ``ids`` of a job are the keyword arguments of its Get request; ``scope`` the keyword
    arguments its List needs (the store, the run).
    """

    name: str
    get_op: str
    list_op: str
    start_op: str
    start: Callable[[Any, Mapping[str, Any]], Awaitable[dict[str, Any]]]
    add: Callable[[OmicsEmulator, Sequence[Step] | None], dict[str, Any]]
    scope: dict[str, Any]
    list_member: str
    token_in: str
    items_member: str | None
    item_key: Callable[[int], str]
    bad_start: dict[str, Any]
    done_status: str
    item_statuses: tuple[str, str, str] | None  # in progress, done, failed
    initial_status: str
    partial_status: str = "COMPLETED_WITH_FAILURES"
    extra: dict[str, Any] = field(default_factory=dict)

    def method(self, client: Any, operation: str) -> Any:
        return getattr(client, _snake(operation))

    async def get(self, client: Any, ids: Mapping[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = await self.method(client, self.get_op)(**ids)
        return response

    async def list(self, client: Any, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = await self.method(client, self.list_op)(**self.scope, **kwargs)
        return response

    def list_ids(self, response: Mapping[str, Any]) -> list[str]:
        key = "taskId" if self.name == "task" else "id"
        return [item[key] for item in response[self.list_member]]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _read_set_item(index: int) -> str:
    return str(2_000_000_000 + index)


def _s3_item(index: int) -> str:
    return f"s3://bucket/file-{index}.vcf.gz"


async def _start_activation(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=[{"readSetId": _read_set_item(0)}], **extra
    )
    return {"sequenceStoreId": STORE, "id": response["id"]}


async def _start_import(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_read_set_import_job(
        sequenceStoreId=STORE,
        roleArn=ROLE,
        sources=[
            {
                "sourceFiles": {"source1": "s3://bucket/a_1.fastq.gz"},
                "sourceFileType": "FASTQ",
                "subjectId": "subject",
                "sampleId": "sample",
            }
        ],
        **extra,
    )
    return {"sequenceStoreId": STORE, "id": response["id"]}


async def _start_export(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_read_set_export_job(
        sequenceStoreId=STORE,
        destination="s3://bucket/exports/",
        roleArn=ROLE,
        sources=[{"readSetId": _read_set_item(0)}],
        **extra,
    )
    return {"sequenceStoreId": STORE, "id": response["id"]}


async def _start_reference(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_reference_import_job(
        referenceStoreId=STORE,
        roleArn=ROLE,
        sources=[{"sourceFile": "s3://bucket/ref.fa", "name": "grch38"}],
        **extra,
    )
    return {"referenceStoreId": STORE, "id": response["id"]}


async def _start_variant(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_variant_import_job(
        destinationName="my_store", roleArn=ROLE, items=[{"source": _s3_item(0)}], **extra
    )
    return {"jobId": response["jobId"]}


async def _start_annotation(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_annotation_import_job(
        destinationName="my_store", roleArn=ROLE, items=[{"source": _s3_item(0)}], **extra
    )
    return {"jobId": response["jobId"]}


async def _start_run(client: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    response = await client.start_run(
        workflowId="1234567", roleArn=ROLE, outputUri="s3://bucket/out", **extra
    )
    return {"id": response["id"]}


def _add_storage(method: str, scope_member: str) -> Callable[..., dict[str, Any]]:
    def add(emu: OmicsEmulator, timeline: Sequence[Step] | None) -> dict[str, Any]:
        items = [_read_set_item(0), _read_set_item(1)]
        job_id = getattr(emu, method)(STORE, items, timeline=timeline)
        return {scope_member: STORE, "id": job_id}

    return add


def _add_analytics(method: str) -> Callable[..., dict[str, Any]]:
    def add(emu: OmicsEmulator, timeline: Sequence[Step] | None) -> dict[str, Any]:
        job_id = getattr(emu, method)("my_store", [_s3_item(0), _s3_item(1)], timeline=timeline)
        return {"jobId": job_id}

    return add


def _add_run(emu: OmicsEmulator, timeline: Sequence[Step] | None) -> dict[str, Any]:
    return {"id": emu.add_run(timeline=timeline, name="run")}


CASES = [
    KindCase(
        name="read_set_activation_job",
        get_op="GetReadSetActivationJob",
        list_op="ListReadSetActivationJobs",
        start_op="StartReadSetActivationJob",
        start=_start_activation,
        add=_add_storage("add_job", "sequenceStoreId"),
        scope={"sequenceStoreId": STORE},
        list_member="activationJobs",
        token_in="nextToken",
        items_member="sources",
        item_key=_read_set_item,
        bad_start={"sequenceStoreId": STORE, "sources": []},
        done_status="COMPLETED",
        item_statuses=("IN_PROGRESS", "FINISHED", "FAILED"),
        initial_status="SUBMITTED",
    ),
    KindCase(
        name="read_set_import_job",
        get_op="GetReadSetImportJob",
        list_op="ListReadSetImportJobs",
        start_op="StartReadSetImportJob",
        start=_start_import,
        add=_add_storage("add_read_set_import_job", "sequenceStoreId"),
        scope={"sequenceStoreId": STORE},
        list_member="importJobs",
        token_in="nextToken",
        items_member="sources",
        item_key=_read_set_item,
        bad_start={
            "sequenceStoreId": STORE,
            "roleArn": ROLE,
            "sources": [
                {
                    "sourceFiles": {"source1": "not-s3"},
                    "sourceFileType": "FASTA",
                    "subjectId": "s",
                    "sampleId": "s",
                }
            ],
        },
        done_status="COMPLETED",
        item_statuses=("IN_PROGRESS", "FINISHED", "FAILED"),
        initial_status="SUBMITTED",
    ),
    KindCase(
        name="read_set_export_job",
        get_op="GetReadSetExportJob",
        list_op="ListReadSetExportJobs",
        start_op="StartReadSetExportJob",
        start=_start_export,
        add=_add_storage("add_read_set_export_job", "sequenceStoreId"),
        scope={"sequenceStoreId": STORE},
        list_member="exportJobs",
        token_in="nextToken",
        items_member="readSets",
        item_key=_read_set_item,
        bad_start={
            "sequenceStoreId": STORE,
            "destination": "http://bucket/",
            "roleArn": "role",
            "sources": [{"readSetId": "1"}],
        },
        done_status="COMPLETED",
        item_statuses=("IN_PROGRESS", "FINISHED", "FAILED"),
        initial_status="SUBMITTED",
    ),
    KindCase(
        name="reference_import_job",
        get_op="GetReferenceImportJob",
        list_op="ListReferenceImportJobs",
        start_op="StartReferenceImportJob",
        start=_start_reference,
        add=_add_storage("add_reference_import_job", "referenceStoreId"),
        scope={"referenceStoreId": STORE},
        list_member="importJobs",
        token_in="nextToken",
        items_member="sources",
        item_key=_read_set_item,
        bad_start={
            "referenceStoreId": STORE,
            "roleArn": ROLE,
            "sources": [{"sourceFile": "s3://bucket/ref.fa", "name": "ab"}],
        },
        done_status="COMPLETED",
        item_statuses=("IN_PROGRESS", "FINISHED", "FAILED"),
        initial_status="SUBMITTED",
    ),
    KindCase(
        name="variant_import_job",
        get_op="GetVariantImportJob",
        list_op="ListVariantImportJobs",
        start_op="StartVariantImportJob",
        start=_start_variant,
        add=_add_analytics("add_variant_import_job"),
        scope={},
        list_member="variantImportJobs",
        token_in="nextToken",
        items_member="items",
        item_key=_s3_item,
        bad_start={"destinationName": "My-Store", "roleArn": ROLE, "items": []},
        done_status="COMPLETED",
        item_statuses=("IN_PROGRESS", "COMPLETED", "FAILED"),
        initial_status="SUBMITTED",
    ),
    KindCase(
        name="annotation_import_job",
        get_op="GetAnnotationImportJob",
        list_op="ListAnnotationImportJobs",
        start_op="StartAnnotationImportJob",
        start=_start_annotation,
        add=_add_analytics("add_annotation_import_job"),
        scope={},
        list_member="annotationImportJobs",
        token_in="nextToken",
        items_member="items",
        item_key=_s3_item,
        bad_start={
            "destinationName": "my_store",
            "roleArn": "arn:aws:iam::12:role/x",
            "items": [{"source": _s3_item(0)}],
        },
        done_status="COMPLETED",
        item_statuses=("IN_PROGRESS", "COMPLETED", "FAILED"),
        initial_status="SUBMITTED",
    ),
    KindCase(
        name="run",
        get_op="GetRun",
        list_op="ListRuns",
        start_op="StartRun",
        start=_start_run,
        add=_add_run,
        scope={},
        list_member="items",
        token_in="startingToken",
        items_member=None,
        item_key=_read_set_item,
        bad_start={
            "workflowId": "1234567",
            "roleArn": ROLE,
            "outputUri": "s3://bucket/out",
            "priority": -1,
            "logLevel": "LOUD",
        },
        done_status="COMPLETED",
        item_statuses=None,
        initial_status="PENDING",
        partial_status="FAILED",
    ),
]

CASE_IDS = [case.name for case in CASES]
