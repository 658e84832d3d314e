"""`verify` and `client_config` of `OmicsWaiter.open_client` / `connect`: checked before any
request, layered under the waiter's own settings; and making a client reads no service model
on the event loop (aiobotocore warms its loader caches in a worker thread)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import botocore
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.config import Config

from omics_waiter import InvalidInputError, OmicsWaiter
from omics_waiter.testing import OmicsEmulator

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"verify": "no-such-ca-bundle.pem"}, "verify"),
        ({"verify": ""}, "verify"),
        ({"verify": 1}, "verify"),
        ({"client_config": {"user_agent_extra": "x"}}, "client_config"),
    ],
)
@pytest.mark.asyncio
async def test_a_bad_verify_or_client_config_is_refused_before_any_request(
    emulator: OmicsEmulator, options: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        async with OmicsWaiter.connect(
            endpoint_url=emulator.endpoint_url, region_name="us-east-1", **CREDENTIALS, **options
        ):
            pass
    assert caught.value.argument == argument
    assert emulator.stats.requests == {}


@pytest.mark.asyncio
async def test_an_existing_ca_bundle_path_is_accepted(
    emulator: OmicsEmulator, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    async with OmicsWaiter.open_client(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        verify=str(bundle),
        **CREDENTIALS,
    ) as client:
        assert client.meta.endpoint_url == emulator.endpoint_url


@pytest.mark.parametrize("config_class", [Config, AioConfig])
@pytest.mark.asyncio
async def test_the_client_config_is_layered_under_the_waiters_own_settings(
    emulator: OmicsEmulator, config_class: type[Config]
) -> None:
    mine = config_class(
        user_agent_extra="mine",
        read_timeout=70,
        retries={"mode": "adaptive", "max_attempts": 9},
        inject_host_prefix=True,
    )
    async with OmicsWaiter.open_client(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        connect_timeout=4,
        client_config=mine,
        **CREDENTIALS,
    ) as client:
        config = client.meta.config
    assert (config.user_agent_extra, config.read_timeout, config.connect_timeout) == (
        "mine",
        70,
        4,
    )
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.inject_host_prefix is False


# -- the event loop ----------------------------------------------------------------------------

_DATA = os.path.join(os.path.dirname(botocore.__file__), "data")
_LOOP_READS: list[str] = []
_LOOP_THREAD: list[int] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if (
        _LOOP_THREAD
        and threading.get_ident() == _LOOP_THREAD[0]
        and event in ("open", "os.listdir", "os.scandir")
        and str(args[0]).startswith(_DATA)
    ):
        _LOOP_READS.append(f"{event} {args[0]}")


# Audit hooks cannot be removed: this one records only while a test sets _LOOP_THREAD.
sys.addaudithook(_audit)


@pytest.mark.asyncio
async def test_making_a_client_reads_no_service_model_on_the_event_loop(
    emulator: OmicsEmulator,
) -> None:
    session = AioSession()  # its own loader: nothing is cached yet
    session.set_credentials("testing", "testing")
    _LOOP_READS.clear()
    _LOOP_THREAD.append(threading.get_ident())
    try:
        async with OmicsWaiter.open_client(
            session=session, endpoint_url=emulator.endpoint_url, region_name="us-east-1"
        ):
            pass
    finally:
        _LOOP_THREAD.clear()
    assert _LOOP_READS == []


@pytest.mark.asyncio
async def test_the_events_queues_client_takes_verify_and_a_config_but_keeps_its_own_rules(
    moto_server: str,
) -> None:
    from aiobotocore.config import AioConfig

    from omics_waiter.events import SqsEventSource

    config = AioConfig(
        user_agent_extra="from-the-connection",
        retries={"mode": "adaptive", "total_max_attempts": 5},
        read_timeout=3,
    )
    source = SqsEventSource(
        f"{moto_server}/123456789012/any-queue",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        wait_seconds=20,
        verify=False,
        client_config=config,
    )
    async with source:
        client = await source._sqs()
        made = client.meta.config
        assert (made.user_agent_extra, made.retries["total_max_attempts"], made.read_timeout) == (
            "from-the-connection",
            1,
            30,
        )
        assert client._endpoint.http_session._verify is False


def test_the_events_queues_client_refuses_a_bad_config_before_any_request() -> None:
    from omics_waiter.events import SqsEventSource

    with pytest.raises(InvalidInputError, match="client_config must be a botocore Config"):
        SqsEventSource("http://127.0.0.1:1/123456789012/q", client_config={"retries": 1})
