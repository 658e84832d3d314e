"""Routing and validation come from botocore's service model: routes, host prefixes, wording."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from emulator_kinds import MODEL, ROLE
from omics_waiter.testing import Kind, OmicsEmulator, Step
from omics_waiter.testing._faults import OPERATIONS
from omics_waiter.testing._kinds import KINDS
from omics_waiter.testing._model import SERVED_OPERATIONS, Router, java_pattern


def message_of(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    message: str = exc_info.value.response["Error"]["Message"]
    return message


def test_every_served_operation_is_in_the_model_and_routed() -> None:
    router = Router()
    assert {route.operation for route in router.routes} == set(SERVED_OPERATIONS) == OPERATIONS
    for route in router.routes:
        http = MODEL.operation_model(route.operation).http
        assert route.method == http["method"]
        assert route.response_code == http.get("responseCode", 200)


def test_each_kinds_statuses_are_the_models() -> None:
    for kind, spec in KINDS.items():
        output = MODEL.operation_model(spec.get_operation).output_shape
        assert output is not None
        enum = set(output.members["status"].enum)
        assert spec.initial_status in enum, kind
        assert spec.final_statuses <= enum, kind
        if spec.item_statuses is not None:
            item_list = next(m for m in output.members.values() if m.type_name == "list").member
            status = item_list.members.get("status") or item_list.members["jobStatus"]
            assert set(spec.item_statuses) <= set(status.enum), kind


@pytest.mark.parametrize(
    ("method", "path", "host", "operation"),
    [
        ("GET", "/run/1234567", "127.0.0.1:80", "GetRun"),
        ("GET", "/run/1234567", "workflows-example.test", "GetRun"),
        ("GET", "/run/1234567", "analytics-example.test", None),
        ("GET", "/run", "h", "ListRuns"),
        ("POST", "/run", "h", "StartRun"),
        ("POST", "/run/1234567/cancel", "h", "CancelRun"),
        ("GET", "/run/1234567/task", "h", "ListRunTasks"),
        ("GET", "/run/1234567/task/7654321", "h", "GetRunTask"),
        ("GET", "/import/variant/abc", "analytics-x", "GetVariantImportJob"),
        ("POST", "/import/annotations", "h", "ListAnnotationImportJobs"),
        (
            "GET",
            "/referencestore/1234567890/importjob/1",
            "control-storage-x",
            "GetReferenceImportJob",
        ),
        ("GET", "/workflow/1/version/v%2E1", "h", "GetWorkflowVersion"),
        ("GET", "/workflow", "h", "ListWorkflows"),
        ("GET", "/workflow/1", "h", "GetWorkflow"),
        ("DELETE", "/run/1234567", "h", None),
        ("GET", "/run/1234567/extra/parts", "h", None),
    ],
)
def test_router_follows_the_models_uris_and_host_prefixes(
    method: str, path: str, host: str, operation: str | None
) -> None:
    found = Router().match(method, path, host)
    assert (found[0].operation if found else None) == operation


def test_router_decodes_labels() -> None:
    found = Router().match("GET", "/workflow/1/version/v%2E1", "h")
    assert found is not None
    assert found[1] == {"workflowId": "1", "versionName": "v.1"}


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (r"[\p{L}||\p{M}||\p{Z}||\p{S}||\p{N}||\p{P}]+", "Größe 1 | ok", "tab\there"),
        (r"[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}\t\n\r]+", "line\nbreak", "nul\x00"),
        ("[0-9]+", "0123", "12a"),
        ("s3://([a-z0-9][a-z0-9-.]{1,61}[a-z0-9])/(.{1,1024})", "s3://bucket/k", "s3://B/k"),
        (r"[A-Za-z0-9][A-Za-z0-9\-\._]*", "v1.0-rc_1", "-v1"),
    ],
)
def test_java_patterns_mean_the_same_in_python(pattern: str, good: str, bad: str) -> None:
    compiled = java_pattern(pattern)
    assert compiled.fullmatch(good)
    assert not compiled.fullmatch(bad)


@pytest.mark.asyncio
async def test_validation_message_uses_aws_wording_for_every_violation(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu, parameter_validation=False)
        with pytest.raises(ClientError) as exc_info:
            await client.start_run(
                workflowId="12a", roleArn=ROLE, outputUri="s3://b/o", priority=100001
            )
    assert message_of(exc_info) == (
        "2 validation errors detected: "
        "Value '12a' at 'workflowId' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [0-9]+; "
        "Value '100001' at 'priority' failed to satisfy constraint: Member must have value "
        "less than or equal to 100000"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ("list_runs", {"status": "PAUSED"}),
        ("list_runs", {"maxResults": 0}),
        ("list_variant_import_jobs", {"ids": [f"id-{i}" for i in range(21)]}),
        ("list_read_set_import_jobs", {"sequenceStoreId": "1234567890", "filter": {"status": "X"}}),
        ("start_reference_import_job", {"referenceStoreId": "1234567890", "sources": []}),
        ("get_workflow", {"id": "1", "type": "PUBLIC"}),
    ],
)
async def test_model_constraints_reach_the_client(
    make_client: Any, call: str, fragment: dict[str, Any]
) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu, parameter_validation=False)
        with pytest.raises(ClientError) as exc_info:
            await getattr(client, call)(**fragment)
    assert exc_info.value.response["Error"]["Code"] == "ValidationException"
    assert "failed to satisfy constraint" in message_of(exc_info)


@pytest.mark.asyncio
async def test_missing_required_member_is_not_null(make_client: Any) -> None:
    async with OmicsEmulator() as emu:
        client = await make_client(emu, parameter_validation=False)
        with pytest.raises(ClientError) as exc_info:
            await client.start_variant_import_job(destinationName="abc", roleArn=ROLE)
    assert message_of(exc_info) == (
        "1 validation error detected: Value null at 'items' failed to satisfy constraint: "
        "Member must not be null"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("prefix", ["workflows-", "analytics-", "control-storage-"])
async def test_requests_with_each_real_host_prefix_are_served(
    make_client: Any, prefix: str
) -> None:
    async with OmicsEmulator() as emu:
        port = urlsplit(emu.endpoint_url).port
        client = await make_client(
            emu,
            endpoint_url=f"http://example.test:{port}",
            inject_host_prefix=True,
            proxies={"http": emu.endpoint_url},
        )
        sent: list[str] = []
        client.meta.events.register(
            "before-send.omics.*", lambda request, **_: sent.append(request.url)
        )
        if prefix == "workflows-":
            await client.get_run(id=emu.add_run())
        elif prefix == "analytics-":
            await client.get_variant_import_job(jobId=emu.add_variant_import_job("my_store"))
        else:
            await client.list_reference_import_jobs(referenceStoreId="1234567890")
    assert urlsplit(sent[0]).hostname == f"{prefix}example.test"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda emu: emu.add_read_set_import_job("123"), "sequence_store_id"),
        (lambda emu: emu.add_read_set_import_job("1234567890", 101), "sources"),
        (lambda emu: emu.add_read_set_import_job("1234567890", ["x"]), "sources"),
        (lambda emu: emu.add_reference_import_job("12345678901", 0), "sources"),
        (lambda emu: emu.add_read_set_export_job("1234567890", []), "read_set_ids"),
        (lambda emu: emu.add_variant_import_job("Bad-Name"), "store_name"),
        (lambda emu: emu.add_annotation_import_job("store", ["http://x"]), "items"),
        (lambda emu: emu.add_annotation_import_job("store", version_name="V"), "version_name"),
        (lambda emu: emu.add_run(workflow_id="wf"), "workflow_id"),
        (lambda emu: emu.add_run(tasks=-1), "tasks"),
    ],
)
async def test_add_methods_refuse_what_the_service_would(call: Any, match: str) -> None:
    async with OmicsEmulator() as emu:
        with pytest.raises(ValueError, match=match):
            call(emu)


@pytest.mark.asyncio
async def test_job_state_and_completion_time_take_a_kind_and_its_ids() -> None:
    async with OmicsEmulator() as emu:
        done = [Step(at=0.0, status="COMPLETED")]
        store = "1234567890"
        reference = emu.add_reference_import_job(store, timeline=done)
        variant = emu.add_variant_import_job("my_store", timeline=done)
        activation = emu.add_job(store, ["1111111111"], timeline=done)
        assert emu.job_state("reference_import_job", store, reference)["referenceStoreId"] == store
        assert emu.job_state(Kind.VARIANT_IMPORT_JOB, variant)["id"] == variant
        assert emu.job_state(store, activation) == emu.job_state(
            "read_set_activation_job", store, activation
        )
        for job_id in (reference, variant, activation):
            assert emu.completion_time(job_id) is not None
        with pytest.raises(TypeError, match="2 ID"):
            emu.job_state("reference_import_job", reference)
        with pytest.raises(KeyError):
            emu.job_state("run", "7654321")
