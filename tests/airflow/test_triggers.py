"""OmicsJobTrigger: arguments, serialization through Airflow's own serializer, and `run()`
against the emulator through the real client (the connection from AIRFLOW_CONN_AWS_DEFAULT)."""

from __future__ import annotations

import asyncio
import gc
import math
from typing import Any

import pytest
from airflow.serialization.serialized_objects import BaseSerialization
from airflow.triggers.base import TriggerEvent

from conftest import FAST, connection
from omics_waiter import InvalidInputError
from omics_waiter.airflow import OmicsJobTrigger, _shared
from omics_waiter.testing import OmicsEmulator, Step

CLASSPATH = "omics_waiter.airflow.triggers.OmicsJobTrigger"


@pytest.fixture(autouse=True)
def no_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared waiters close as soon as their last trigger leaves (no test waits for them)."""
    monkeypatch.setattr(_shared, "LINGER", 0.0)


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No Region, profile or credentials from the machine: a missing connection stays local."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.fixture
def aws_default(emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch) -> OmicsEmulator:
    """The `emulator` fixture, named by the aws_default connection."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection(emulator.endpoint_url))
    return emulator


async def first_event(trigger: OmicsJobTrigger) -> dict[str, Any]:
    events = trigger.run()
    event = await anext(events)
    assert isinstance(event, TriggerEvent)
    with pytest.raises(StopAsyncIteration):
        await anext(events)
    payload: dict[str, Any] = event.payload
    return payload


# -- arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"kind": "runs", "ids": ["1234567"]}, "kind"),
        ({"kind": "run", "ids": []}, "ids"),
        ({"kind": "run", "ids": "1234567"}, "ids"),
        ({"kind": "run", "ids": [1234567]}, "ids"),
        ({"kind": "run", "ids": ["12a"]}, "run_id"),
        ({"kind": "task", "ids": ["1234567"]}, "ids"),
        ({"kind": "activation", "ids": ["123/1234567890"]}, "sequence_store_id"),
        ({"kind": "run", "ids": ["1234567", "1234567"]}, "ids"),
        ({"kind": "run", "ids": ["1234567"], "until": "FAILED"}, "until"),
        ({"kind": "run", "ids": ["1234567"], "until": "IN_PROGRESS"}, "until"),
        ({"kind": "run", "ids": ["1234567"], "timeout": 0}, "timeout"),
        ({"kind": "run", "ids": ["1234567"], "timeout": "60"}, "timeout"),
        ({"kind": "run", "ids": ["1234567"], "accept_partial": "yes"}, "accept_partial"),
        ({"kind": "run", "ids": ["1234567"], "aws_conn_id": ""}, "aws_conn_id"),
        ({"kind": "run", "ids": ["1234567"], "region_name": 5}, "region_name"),
        ({"kind": "run", "ids": ["1234567"], "waiter_options": {"delay": 1}}, "waiter_options"),
        (
            {"kind": "run", "ids": ["1234567"], "waiter_options": [("min_delay", 1)]},
            "waiter_options",
        ),
        ({"kind": "run", "ids": ["1234567"], "waiter_options": {"min_delay": -1}}, "min_delay"),
        (
            {"kind": "run", "ids": ["1234567"], "waiter_options": {"min_delay": 9, "max_delay": 3}},
            "min_delay",
        ),
        ({"kind": "run", "ids": ["1234567"], "waiter_options": {"max_tps": 0}}, "max_tps"),
        (
            {"kind": "run", "ids": ["1234567"], "waiter_options": {"not_found_grace": "x"}},
            "not_found_grace",
        ),
        (
            {"kind": "run", "ids": ["1234567"], "waiter_options": {"reconcile_delay": math.nan}},
            "reconcile_delay",
        ),
        (
            {"kind": "run", "ids": ["1234567"], "waiter_options": {"budget_url": "http://x"}},
            "budget_url",
        ),
        (
            {"kind": "run", "ids": ["1234567"], "waiter_options": {"events_queue_url": "q"}},
            "queue_url",
        ),
    ],
)
def test_a_bad_argument_fails_when_the_trigger_is_made(
    arguments: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        OmicsJobTrigger(**arguments)
    assert caught.value.argument == argument


def test_until_is_upper_cased_as_the_command_line_does() -> None:
    assert OmicsJobTrigger("run", ["1234567"], until="running").until == "RUNNING"


def test_every_kind_of_the_command_line_is_accepted() -> None:
    ids = {
        "activation": "1234567890/1234567890",
        "read-set-import": "1234567890/1234567890",
        "read-set-export": "1234567890/1234567890",
        "reference-import": "1234567890/1234567890",
        "run": "1234567",
        "task": "1234567/7654321",
        "variant-import": "12345678-1234-1234-1234-123456789012",
        "annotation-import": "12345678-1234-1234-1234-123456789012",
        "workflow": "1234567",
        "workflow-version": "1234567/v1",
    }
    for kind, job in ids.items():
        assert OmicsJobTrigger(kind, [job]).ids == [job]


# -- serialization ----------------------------------------------------------------------


def test_serialize_names_the_class_and_round_trips_through_airflows_serializer() -> None:
    trigger = OmicsJobTrigger(
        "task",
        ["1234567/7654321", "1234567/7654322"],
        aws_conn_id="omics",
        region_name="eu-west-1",
        timeout=600,
        until="RUNNING",
        accept_partial=True,
        waiter_options={"min_delay": 1, "max_tps": 2.5, "budget_url": "redis://h:6379/0"},
    )
    classpath, kwargs = trigger.serialize()
    stored = BaseSerialization.serialize(kwargs)
    rebuilt = OmicsJobTrigger(**BaseSerialization.deserialize(stored))
    assert classpath == CLASSPATH
    assert rebuilt == trigger


def test_serialize_round_trips_through_the_task_sdks_serde() -> None:
    from airflow.sdk.serde import deserialize, serialize

    trigger = OmicsJobTrigger("run", ["1234567"], timeout=60.5, waiter_options=FAST)
    _, kwargs = trigger.serialize()
    assert OmicsJobTrigger(**deserialize(serialize(kwargs))) == trigger


# -- run() --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_completed_run_yields_success_with_the_job(aws_default: OmicsEmulator) -> None:
    run = aws_default.add_run(tasks=0)
    payload = await first_event(OmicsJobTrigger("run", [run], waiter_options=FAST))
    assert payload["status"] == "success"
    assert payload["error"] is None
    assert payload["jobs"][0]["id"] == run
    assert payload["jobs"][0]["status"] == "COMPLETED"


@pytest.mark.asyncio
async def test_a_restarted_trigger_on_a_finished_job_ends_at_its_first_observation(
    aws_default: OmicsEmulator,
) -> None:
    run = aws_default.add_run(timeline=[Step(0.0, "COMPLETED")], tasks=0)
    payload = await first_event(OmicsJobTrigger("run", [run], waiter_options=FAST))
    assert payload["status"] == "success"
    assert aws_default.stats.requests == {"GetRun": {"200": 1}}


@pytest.mark.asyncio
async def test_the_payload_is_json_safe_with_iso_times(aws_default: OmicsEmulator) -> None:
    import json

    run = aws_default.add_run(tasks=0)
    payload = await first_event(OmicsJobTrigger("run", [run], waiter_options=FAST))
    assert json.loads(json.dumps(payload)) == payload
    assert payload["jobs"][0]["creation_time"].endswith("+00:00")


@pytest.mark.asyncio
async def test_a_failed_run_yields_failed_with_the_services_reason(
    aws_default: OmicsEmulator,
) -> None:
    run = aws_default.add_run(
        timeline=[Step(0.1, "RUNNING"), Step(0.3, "FAILED", failure_reason="Out of memory")],
        tasks=0,
    )
    payload = await first_event(OmicsJobTrigger("run", [run], waiter_options=FAST))
    assert (payload["status"], payload["error"], payload["message"]) == (
        "failed",
        "JobFailedError",
        "Out of memory",
    )


@pytest.mark.asyncio
async def test_a_partial_import_yields_partial_listing_the_failed_items(
    aws_default: OmicsEmulator,
) -> None:
    job = aws_default.add_read_set_import_job(
        "1234567890",
        ["1111111111", "2222222222"],
        timeline=[
            Step(
                0.2,
                "COMPLETED_WITH_FAILURES",
                sources={"1111111111": "FINISHED", "2222222222": ("FAILED", "Bad FASTQ")},
            )
        ],
    )
    payload = await first_event(
        OmicsJobTrigger("read-set-import", [f"1234567890/{job}"], waiter_options=FAST)
    )
    assert payload["status"] == "partial"
    assert payload["error"] == "JobPartiallyFailedError"
    assert "1 of 2 sources failed" in payload["message"]
    assert "Bad FASTQ" in payload["message"]


@pytest.mark.asyncio
async def test_an_accepted_partial_import_is_partial_without_an_error(
    aws_default: OmicsEmulator,
) -> None:
    job = aws_default.add_read_set_import_job(
        "1234567890",
        ["1111111111"],
        timeline=[Step(0.2, "COMPLETED_WITH_FAILURES", sources={"1111111111": "FAILED"})],
    )
    trigger = OmicsJobTrigger(
        "read-set-import", [f"1234567890/{job}"], accept_partial=True, waiter_options=FAST
    )
    payload = await first_event(trigger)
    assert (payload["status"], payload["error"]) == ("partial", None)


@pytest.mark.asyncio
async def test_a_wait_past_its_timeout_yields_timeout_with_the_last_job_seen(
    aws_default: OmicsEmulator,
) -> None:
    run = aws_default.add_run(timeline=[Step(0.0, "RUNNING"), Step(600, "COMPLETED")], tasks=0)
    payload = await first_event(OmicsJobTrigger("run", [run], timeout=0.5, waiter_options=FAST))
    assert (payload["status"], payload["error"]) == ("timeout", "WaitTimeoutError")
    assert payload["jobs"][0]["status"] == "RUNNING"


@pytest.mark.asyncio
async def test_until_running_yields_success_once_the_run_runs(
    aws_default: OmicsEmulator,
) -> None:
    run = aws_default.add_run(timeline=[Step(0.2, "RUNNING"), Step(600, "COMPLETED")], tasks=0)
    payload = await first_event(OmicsJobTrigger("run", [run], until="RUNNING", waiter_options=FAST))
    assert (payload["status"], payload["jobs"][0]["status"]) == ("success", "RUNNING")


@pytest.mark.asyncio
async def test_many_ids_report_the_worst_outcome_and_jobs_in_ids_order(
    aws_default: OmicsEmulator,
) -> None:
    good = aws_default.add_run(timeline=[Step(0.1, "COMPLETED")], tasks=0)
    bad = aws_default.add_run(timeline=[Step(0.2, "FAILED", failure_reason="Boom")], tasks=0)
    payload = await first_event(OmicsJobTrigger("run", [bad, good], waiter_options=FAST))
    assert payload["status"] == "failed"
    assert [j["id"] for j in payload["jobs"]] == [bad, good]
    assert payload["message"] == f"run {bad}: Boom"


@pytest.mark.asyncio
async def test_a_job_never_found_yields_error_with_jobnotfounderror(
    aws_default: OmicsEmulator,
) -> None:
    options = {**FAST, "not_found_grace": 0.3}
    payload = await first_event(OmicsJobTrigger("run", ["99999"], waiter_options=options))
    assert (payload["status"], payload["error"], payload["jobs"]) == (
        "error",
        "JobNotFoundError",
        [None],
    )


@pytest.mark.asyncio
@pytest.mark.usefixtures("no_aws_config")
async def test_a_missing_connection_yields_an_error_event_not_a_crash(
    aws_default: OmicsEmulator,
) -> None:
    payload = await first_event(
        OmicsJobTrigger("run", ["1234567"], aws_conn_id="nope", waiter_options=FAST)
    )
    assert payload["status"] == "error"
    assert payload["error"] is not None


def test_dag_test_style_runs_each_trigger_in_a_new_loop_and_leaves_nothing_behind(
    emulator_thread: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # dag.test(): asyncio.run(anext(trigger.run())), a new loop per trigger, no cleanup().
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection(emulator_thread.url))
    runs = [
        emulator_thread.call(lambda emu: emu.add_run(timeline=[Step(0.1, "COMPLETED")], tasks=0))
        for _ in range(2)
    ]
    payloads = [
        asyncio.run(anext(OmicsJobTrigger("run", [r], waiter_options=FAST).run())).payload
        for r in runs
    ]
    gc.collect()  # a task or client left pending would complain now
    assert [p["status"] for p in payloads] == ["success", "success"]
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


# -- the shared waiter --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_triggers_of_one_key_share_one_waiter_and_batch_their_polls(
    aws_default: OmicsEmulator,
) -> None:
    runs = [
        aws_default.add_run(timeline=[Step(0.1, "RUNNING"), Step(1.0, "COMPLETED")], tasks=0)
        for _ in range(20)
    ]
    options = {**FAST, "max_tps": 50}
    triggers = [OmicsJobTrigger("run", [r], waiter_options=options) for r in runs]
    opened = 0
    real = _shared._Holder.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal opened
        opened += 1
        real(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_shared._Holder, "__init__", counting)
        payloads = await asyncio.gather(*(first_event(t) for t in triggers))
    assert {p["status"] for p in payloads} == {"success"}
    assert opened == 1
    # Batched: far fewer requests than a GetRun per run per poll.
    requests = sum(sum(by.values()) for by in aws_default.stats.requests.values())
    assert "ListRuns" in aws_default.stats.requests
    assert requests < 20 * 3


@pytest.mark.asyncio
async def test_different_options_get_different_waiters(aws_default: OmicsEmulator) -> None:
    run = aws_default.add_run(timeline=[Step(0.1, "RUNNING"), Step(0.6, "COMPLETED")], tasks=0)
    one = OmicsJobTrigger("run", [run], waiter_options=FAST)
    two = OmicsJobTrigger("run", [run], waiter_options={**FAST, "max_tps": 3})
    assert one.waiter_key != two.waiter_key
    tasks = [asyncio.create_task(first_event(t)) for t in (one, two)]
    await asyncio.sleep(0)  # each has asked for its waiter
    assert _shared.waiter_count() == 2
    await asyncio.gather(*tasks)


@pytest.mark.asyncio
async def test_cancelling_one_trigger_ends_only_its_own_wait(aws_default: OmicsEmulator) -> None:
    slow = aws_default.add_run(timeline=[Step(0.1, "RUNNING"), Step(1.0, "COMPLETED")], tasks=0)
    kept = asyncio.create_task(first_event(OmicsJobTrigger("run", [slow], waiter_options=FAST)))
    cancelled = asyncio.create_task(
        first_event(OmicsJobTrigger("run", [slow], waiter_options=FAST))
    )
    await asyncio.sleep(0.3)
    cancelled.cancel()
    payload = await kept
    assert payload["status"] == "success"
    assert cancelled.cancelled()


@pytest.mark.asyncio
async def test_the_shared_waiter_closes_after_its_last_trigger_leaves(
    aws_default: OmicsEmulator,
) -> None:
    run = aws_default.add_run(timeline=[Step(0.1, "COMPLETED")], tasks=0)
    loop = asyncio.get_running_loop()
    trigger = OmicsJobTrigger("run", [run], waiter_options=FAST)
    events = trigger.run()
    task = asyncio.create_task(anext(events))
    await asyncio.sleep(0)
    (holder,) = _shared._holders(loop)
    await task
    await holder.task
    assert _shared.waiter_count() == 0
    await events.aclose()


@pytest.mark.asyncio
@pytest.mark.usefixtures("no_aws_config")
async def test_a_failure_to_make_the_waiter_reaches_every_trigger_waiting_on_it(
    aws_default: OmicsEmulator,
) -> None:
    triggers = [
        OmicsJobTrigger("run", [r], aws_conn_id="missing", waiter_options=FAST)
        for r in ("1234567", "7654321")
    ]
    payloads = await asyncio.gather(*(first_event(t) for t in triggers))
    assert [p["status"] for p in payloads] == ["error", "error"]
    assert payloads[0]["error"] == payloads[1]["error"]
    assert _shared.waiter_count() == 0
