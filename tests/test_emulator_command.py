"""``omics-waiter emulator`` as a real process, and its option checks."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from aiobotocore.session import get_session
from click.testing import CliRunner

from omics_waiter._cli import main

RUN_CLI = "from omics_waiter._cli import main; main()"


@pytest.mark.asyncio
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_command_serves_signed_requests_and_exits_zero_on_signal(
    make_client: Any, signum: signal.Signals
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_CLI,
        "emulator",
        "--port",
        "0",
        "--seed",
        "4",
        "--job-seconds",
        "0.1:0.2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        assert line.startswith("endpoint_url=http://127.0.0.1:")
        endpoint_url = line.strip().partition("=")[2]
        # make_client only reads endpoint_url from the emulator it is given.
        client = await make_client(SimpleNamespace(endpoint_url=endpoint_url))
        started = await client.start_read_set_activation_job(
            sequenceStoreId="1234567890", sources=[{"readSetId": "1111111111"}]
        )
        got = await client.get_read_set_activation_job(
            sequenceStoreId="1234567890", id=started["id"]
        )
        assert got["id"] == started["id"]
        process.send_signal(signum)
        code = await asyncio.wait_for(process.wait(), timeout=10)
        rest = await process.stdout.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert rest == b""  # exactly one line on stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--job-seconds", "3"], "MIN:MAX"),
        (["--job-seconds", "3:1"], "MIN <= MAX"),
        (["--failure-rate", "1.5"], "--failure-rate"),
        (["--throttle-rate", "-0.1"], "--throttle-rate"),
        (["--quota-tps", "0"], "--quota-tps"),
        (["--port", "70000"], "--port"),
        (["--latency", "-1"], "--latency"),
        (["--access-key", ""], "--access-key"),
        (["--event-delay", "2:1"], "MIN <= MAX"),
        (["--event-drop-rate", "2"], "--event-drop-rate"),
        (["--event-duplicate-rate", "-1"], "--event-duplicate-rate"),
        (["--event-drop-rate", "0.5"], "--events-endpoint-url"),
        (["--region", ""], "--region"),
    ],
)
def test_bad_option_is_a_usage_error(args: list[str], fragment: str) -> None:
    result = CliRunner().invoke(main, ["emulator", *args])
    assert result.exit_code == 2
    assert fragment in result.output


def test_emulator_is_a_command_of_the_cli() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "emulator" in result.output


@pytest.mark.asyncio
async def test_command_publishes_events_to_the_given_endpoint(
    make_client: Any, moto_server: str
) -> None:
    session = get_session()
    options = {
        "region_name": "eu-west-1",
        "endpoint_url": moto_server,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_CLI,
        "emulator",
        "--job-seconds",
        "0.1:0.2",
        "--region",
        "eu-west-1",
        "--events-endpoint-url",
        moto_server,
        "--event-delay",
        "0:0.05",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with (
        session.create_client("sqs", **options) as sqs,
        session.create_client("events", **options) as events,
    ):
        url = (await sqs.create_queue(QueueName="omics-command"))["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await events.put_rule(Name="omics-command", EventPattern='{"source": ["aws.omics"]}')
        await events.put_targets(Rule="omics-command", Targets=[{"Id": "q", "Arn": arn}])
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
            client = await make_client(SimpleNamespace(endpoint_url=line.strip().partition("=")[2]))
            started = await client.start_read_set_activation_job(
                sequenceStoreId="1234567890", sources=[{"readSetId": "1111111111"}]
            )
            seen: list[str] = []
            for _ in range(50):  # bounded: about 5 s
                response = await sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                )
                for message in response.get("Messages", []):
                    body = json.loads(message["Body"])
                    assert body["region"] == "eu-west-1"
                    assert body["detail"]["id"] == started["id"]
                    seen.append(body["detail"]["status"])
                if seen and seen[-1] in ("COMPLETED", "FAILED"):
                    break
                await asyncio.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=10)
            await events.remove_targets(Rule="omics-command", Ids=["q"])
            await events.delete_rule(Name="omics-command")
            await sqs.delete_queue(QueueUrl=url)
    assert sorted(seen) == ["COMPLETED", "IN_PROGRESS", "SUBMITTED"]
