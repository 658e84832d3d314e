"""`setup_events` / `teardown_events` and ``omics-waiter events``, against moto's server."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore.exceptions
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from click.testing import CliRunner

from omics_waiter import InvalidInputError
from omics_waiter._cli import main
from omics_waiter._events_setup import EVENT_PATTERN
from omics_waiter.events import Teardown, setup_events, teardown_events

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_SESSION = get_session()


@pytest.fixture(autouse=True)
def _no_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see none of the machine's AWS settings."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_EVENTS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest_asyncio.fixture
async def aws(moto_server: str) -> AsyncIterator[tuple[Any, Any]]:
    """An SQS and an EventBridge client on the moto server, to read back what was made."""
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
    options = {"region_name": REGION, "endpoint_url": moto_server, "config": config}
    async with (
        _SESSION.create_client("sqs", **options, **CREDENTIALS) as sqs,
        _SESSION.create_client("events", **options, **CREDENTIALS) as events,
    ):
        yield sqs, events


@pytest_asyncio.fixture
async def name(moto_server: str) -> AsyncIterator[str]:
    """A fresh name; whatever a test made under it is torn down after it.

    Every aws.omics rule left on moto's bus would get a copy of every event later tests put.
    """
    name = f"ow-{uuid.uuid4().hex[:12]}"
    yield name
    await teardown(name, moto_server)


async def setup(name: str, endpoint: str) -> str:
    return await setup_events(name, region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)


async def teardown(name: str, endpoint: str) -> Teardown:
    return await teardown_events(name, region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)


async def rule_names(events: Any, name: str) -> list[str]:
    return [rule["Name"] for rule in (await events.list_rules(NamePrefix=name))["Rules"]]


async def queue_exists(sqs: Any, name: str) -> bool:
    try:
        await sqs.get_queue_url(QueueName=name)
    except botocore.exceptions.ClientError as exc:
        code = exc.response["Error"]["Code"]
    else:
        return True
    assert code == "AWS.SimpleQueueService.NonExistentQueue"
    return False


@pytest.mark.asyncio
async def test_setup_makes_the_queue_the_rule_its_target_and_the_queue_policy(
    aws: tuple[Any, Any], moto_server: str, name: str
) -> None:
    sqs, events = aws
    queue_url = await setup(name, moto_server)

    assert queue_url == (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    attributes = (
        await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])
    )["Attributes"]
    rule = await events.describe_rule(Name=name)
    assert json.loads(rule["EventPattern"]) == EVENT_PATTERN == {"source": ["aws.omics"]}
    assert rule["State"] == "ENABLED"
    targets = (await events.list_targets_by_rule(Rule=name))["Targets"]
    assert [(t["Id"], t["Arn"]) for t in targets] == [(name, attributes["QueueArn"])]
    assert json.loads(attributes["Policy"])["Statement"] == [
        {
            "Sid": "omics-waiter-events",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": attributes["QueueArn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": rule["Arn"]}},
        }
    ]


@pytest.mark.asyncio
async def test_setup_twice_leaves_one_queue_one_rule_and_one_target(
    aws: tuple[Any, Any], moto_server: str, name: str
) -> None:
    sqs, events = aws
    first = await setup(name, moto_server)
    second = await setup(name, moto_server)
    assert first == second
    assert (await sqs.list_queues(QueueNamePrefix=name))["QueueUrls"] == [first]
    assert await rule_names(events, name) == [name]
    assert len((await events.list_targets_by_rule(Rule=name))["Targets"]) == 1


@pytest.mark.asyncio
async def test_teardown_removes_the_target_the_rule_and_the_queue(
    aws: tuple[Any, Any], moto_server: str, name: str
) -> None:
    sqs, events = aws
    await setup(name, moto_server)
    await teardown(name, moto_server)
    assert await rule_names(events, name) == []
    assert not await queue_exists(sqs, name)


@pytest.mark.asyncio
async def test_teardown_twice_or_of_nothing_is_fine_and_says_what_was_there(
    aws: tuple[Any, Any], moto_server: str, name: str
) -> None:
    nothing = Teardown(name, False, False, False, (), False)
    assert await teardown(name, moto_server) == nothing  # never set up
    await setup(name, moto_server)
    assert await teardown(name, moto_server) == Teardown(name, True, True, True, (), True)
    assert await teardown(name, moto_server) == nothing


@pytest.mark.asyncio
async def test_teardown_with_the_queue_already_gone_removes_the_rule(
    aws: tuple[Any, Any], moto_server: str, name: str
) -> None:
    sqs, events = aws
    queue_url = await setup(name, moto_server)
    await sqs.delete_queue(QueueUrl=queue_url)
    done = await teardown(name, moto_server)
    assert await rule_names(events, name) == []
    assert (done.rule_removed, done.queue_removed) == (True, False)


@pytest.mark.asyncio
async def test_teardown_keeps_a_rule_that_has_other_targets_and_says_so(
    aws: tuple[Any, Any], moto_server: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    sqs, events = aws
    await setup(name, moto_server)
    other = await sqs.create_queue(QueueName=f"{name}-other")
    other_arn = (
        await sqs.get_queue_attributes(QueueUrl=other["QueueUrl"], AttributeNames=["QueueArn"])
    )["Attributes"]["QueueArn"]
    await events.put_targets(Rule=name, Targets=[{"Id": "someone-else", "Arn": other_arn}])
    with caplog.at_level(logging.WARNING, logger="omics_waiter"):
        done = await teardown(name, moto_server)
    assert done == Teardown(name, True, True, False, ("someone-else",), True)
    assert done.describe()[0] == (
        f"rule {name}: kept: it has other targets (someone-else); removed its target {name}"
    )
    assert await rule_names(events, name) == [name]
    targets = (await events.list_targets_by_rule(Rule=name))["Targets"]
    assert [t["Id"] for t in targets] == ["someone-else"]
    assert not await queue_exists(sqs, name)
    assert any("someone-else" in r.getMessage() for r in caplog.records)
    await events.remove_targets(Rule=name, Ids=["someone-else"])
    await sqs.delete_queue(QueueUrl=other["QueueUrl"])


@pytest.mark.asyncio
async def test_the_endpoint_environment_variables_are_honoured(
    aws: tuple[Any, Any], moto_server: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, events = aws
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTS", moto_server)
    queue_url = await setup_events(name, region_name=REGION, **CREDENTIALS)
    assert queue_url.startswith(moto_server)
    assert await rule_names(events, name) == [name]
    await teardown_events(name, region_name=REGION, **CREDENTIALS)
    assert await rule_names(events, name) == []


@pytest.fixture
def closed_endpoint() -> Iterator[str]:
    """A local endpoint nothing listens on: any request to it would fail."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("bad", ["", "a" * 65, "has space", "dots.are.rule.only", "ümlaut", None])
@pytest.mark.asyncio
async def test_a_bad_name_is_invalid_input_before_any_request(
    bad: Any, closed_endpoint: str
) -> None:
    for call in (setup_events, teardown_events):
        with pytest.raises(InvalidInputError) as caught:
            await call(bad, region_name=REGION, endpoint_url=closed_endpoint, **CREDENTIALS)
        assert caught.value.argument == "name"


@pytest.mark.asyncio
async def test_names_up_to_64_of_letters_digits_dash_underscore_are_accepted(
    aws: tuple[Any, Any], moto_server: str
) -> None:
    name = "Aa0_-" + uuid.uuid4().hex + "x" * (64 - 5 - 32)
    assert len(name) == 64
    await setup(name, moto_server)
    await teardown(name, moto_server)


@pytest.mark.asyncio
async def test_no_region_is_invalid_input(closed_endpoint: str) -> None:
    with pytest.raises(InvalidInputError, match="Region") as caught:
        await setup_events("ok", endpoint_url=closed_endpoint, **CREDENTIALS)
    assert caught.value.argument == "region_name"


# -- the command line -------------------------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def test_cli_setup_prints_the_queue_url_and_teardown_removes_it(
    moto_server: str, name: str
) -> None:
    args = ["--name", name, "--region", REGION, "--endpoint-url", moto_server]
    runner = CliRunner()
    made = runner.invoke(main, ["events", "setup", *args], env=cli_env())
    assert (made.exit_code, made.output) == (0, f"queue_url={moto_server}/123456789012/{name}\n")
    again = runner.invoke(main, ["events", "setup", *args], env=cli_env())
    assert (again.exit_code, again.output) == (0, made.output)
    removed = runner.invoke(main, ["events", "teardown", *args], env=cli_env())
    assert (removed.exit_code, removed.output) == (
        0,
        f"rule {name}: removed, with its target {name}\nqueue {name}: removed\n",
    )
    again = runner.invoke(main, ["events", "teardown", *args], env=cli_env())
    assert (again.exit_code, again.output) == (
        0,
        f"rule {name}: not there\nqueue {name}: not there\n",
    )


def test_cli_bad_name_exits_2_with_one_line(moto_server: str) -> None:
    args = ["events", "setup", "--name", "no good", "--region", REGION]
    result = CliRunner().invoke(main, [*args, "--endpoint-url", moto_server], env=cli_env())
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("omics-waiter: error: name must be")


def test_cli_service_error_exits_4_with_one_line(moto_server: str, name: str) -> None:
    # An EventBridge endpoint that answers 404 to everything: a stand-in for any refusal.
    env = cli_env(
        AWS_ENDPOINT_URL_SQS=moto_server, AWS_ENDPOINT_URL_EVENTS=f"{moto_server}/no-such-path"
    )
    args = ["events", "setup", "--name", name, "--region", REGION]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 4, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("omics-waiter: error: ")
