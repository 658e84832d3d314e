"""botocore's own waiter reaches the verdict its model defines against the emulator.

Evidence that the emulator answers as the service does: the plain (sync) botocore client, in a
worker thread, with the model's ``read_set_activation_job_completed`` waiter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import WaiterError

from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
READ_SETS = ["1111111111", "2222222222"]


@pytest.fixture
def sync_client_factory() -> Iterator[Any]:
    clients: list[Any] = []
    session = botocore.session.get_session()

    def make(emu: OmicsEmulator) -> Any:
        client = session.create_client(
            "omics",
            region_name="us-east-1",
            endpoint_url=emu.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def timeline(final: str, end: float = 0.25) -> list[Step]:
    return [
        Step(at=0.05, status="IN_PROGRESS"),
        Step(at=0.15, status="CANCELLING") if final == "CANCELLED" else Step(at=0.15),
        Step(at=end, status=final),
    ]


async def wait(client: Any, job_id: str) -> None:
    waiter = client.get_waiter("read_set_activation_job_completed")
    await anyio.to_thread.run_sync(
        lambda: waiter.wait(
            sequenceStoreId=STORE, id=job_id, WaiterConfig={"Delay": 0.05, "MaxAttempts": 40}
        )
    )


@pytest.mark.asyncio
async def test_waiter_succeeds_on_completed(sync_client_factory: Any) -> None:
    async with OmicsEmulator() as emu:
        client = sync_client_factory(emu)
        # Ends after 1 s: a sync client's first request (in a thread, loading the service
        # model) can take a few tenths of a second on a busy machine, and the waiter should
        # see the job before it completes.
        job_id = emu.add_job(STORE, READ_SETS, timeline=timeline("COMPLETED", end=1.0))
        await wait(client, job_id)
        assert emu.stats.count("GetReadSetActivationJob", 200) >= 2


@pytest.mark.asyncio
async def test_waiter_succeeds_on_a_random_job_without_failures(sync_client_factory: Any) -> None:
    async with OmicsEmulator(job_seconds=(0.1, 0.3)) as emu:
        client = sync_client_factory(emu)
        job_id = emu.add_job(STORE, READ_SETS)
        await wait(client, job_id)


@pytest.mark.asyncio
@pytest.mark.parametrize("final", ["FAILED", "CANCELLED", "COMPLETED_WITH_FAILURES"])
async def test_waiter_fails_on_terminal_failure_states(
    sync_client_factory: Any, final: str
) -> None:
    async with OmicsEmulator() as emu:
        client = sync_client_factory(emu)
        job_id = emu.add_job(STORE, READ_SETS, timeline=timeline(final))
        with pytest.raises(WaiterError) as exc_info:
            await wait(client, job_id)
    assert "terminal failure state" in str(exc_info.value)
    assert exc_info.value.last_response["status"] == final


@pytest.mark.asyncio
async def test_waiter_fails_at_once_on_an_unknown_job(sync_client_factory: Any) -> None:
    async with OmicsEmulator() as emu:
        client = sync_client_factory(emu)
        with pytest.raises(WaiterError) as exc_info:
            await wait(client, "1234567890")
        assert emu.stats.count() == 1
    assert exc_info.value.last_response["Error"]["Code"] == "ResourceNotFoundException"
