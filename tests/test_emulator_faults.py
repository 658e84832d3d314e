"""Fault injection and request counters, through a real aiobotocore client."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from omics_waiter.testing import Faults, OmicsEmulator

STORE = "1234567890"
READ_SET = "1111111111"
GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def error_code(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = exc_info.value.response["Error"]["Code"]
    return code


@pytest.mark.asyncio
async def test_error_rate_one_gives_internal_server_error(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(error_rate=1.0)) as emu:
        client = await make_client(emu)
        with pytest.raises(ClientError) as exc_info:
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        assert emu.stats.requests == {LIST: {"500": 1}}
    assert error_code(exc_info) == "InternalServerException"


@pytest.mark.asyncio
async def test_throttle_rate_one_gives_throttling_exception(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(throttle_rate=1.0)) as emu:
        client = await make_client(emu)
        with pytest.raises(ClientError) as exc_info:
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert error_code(exc_info) == "ThrottlingException"


@pytest.mark.asyncio
async def test_dropped_connection_raises_a_connection_error(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(drop_rate=1.0)) as emu:
        client = await make_client(emu)
        with pytest.raises(ConnectionClosedError):
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        assert emu.stats.requests == {LIST: {"dropped": 1}}


@pytest.mark.asyncio
async def test_slow_response_exceeds_the_clients_read_timeout(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(slow_rate=1.0, slow_seconds=5.0)) as emu:
        client = await make_client(emu, read_timeout=0.2)
        with pytest.raises(ReadTimeoutError):
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    # Leaving the block released the held-back response: no 5 s wait at shutdown.


@pytest.mark.asyncio
async def test_latency_delays_but_does_not_fail_requests(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(latency=0.05)) as emu:
        client = await make_client(emu)
        response = await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert response["activationJobs"] == []


@pytest.mark.asyncio
async def test_malformed_responses_lack_required_fields(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(malformed_rate=1.0)) as emu:
        client = await make_client(emu)
        job_id = emu.add_job(STORE, [READ_SET])
        for _ in range(6):
            response = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert "status" not in response
        assert emu.stats.requests == {GET: {"200": 6}}


@pytest.mark.asyncio
async def test_faults_limited_to_some_operations_spare_the_others(make_client: Any) -> None:
    faults = Faults(error_rate=1.0, operations=frozenset({LIST}))
    async with OmicsEmulator(faults=faults) as emu:
        client = await make_client(emu)
        job_id = emu.add_job(STORE, [READ_SET])
        await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
        with pytest.raises(ClientError):
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)


@pytest.mark.asyncio
async def test_set_faults_replaces_the_settings(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(error_rate=1.0)) as emu:
        client = await make_client(emu)
        emu.set_faults(Faults())
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        emu.set_faults(Faults(throttle_rate=1.0))
        with pytest.raises(ClientError) as exc_info:
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert error_code(exc_info) == "ThrottlingException"


@pytest.mark.asyncio
async def test_faults_window_expires_after_its_duration(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock) as emu:
        client = await make_client(emu)
        with emu.faults_window(Faults(error_rate=1.0), duration=2.0):
            with pytest.raises(ClientError):
                await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
            clock.now = 1.9
            with pytest.raises(ClientError):
                await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
            clock.now = 2.0
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        assert emu.stats.requests == {LIST: {"500": 2, "200": 1}}


@pytest.mark.asyncio
async def test_faults_window_ends_on_exit_and_restores_previous_settings(
    make_client: Any,
) -> None:
    async with OmicsEmulator(faults=Faults(throttle_rate=1.0)) as emu:
        client = await make_client(emu)
        with emu.faults_window(Faults(), duration=60.0):
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        with pytest.raises(ClientError) as exc_info:
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert error_code(exc_info) == "ThrottlingException"


@pytest.mark.asyncio
async def test_signature_is_checked_before_quota_and_faults(make_client: Any) -> None:
    async with OmicsEmulator(quota_tps=1.0, faults=Faults(error_rate=1.0)) as emu:
        client = await make_client(emu, credentials=("testing", "wrong", None))
        for _ in range(3):
            with pytest.raises(ClientError) as exc_info:
                await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
            assert error_code(exc_info) == "InvalidSignatureException"


@pytest.mark.asyncio
async def test_faults_are_applied_before_validation(make_client: Any) -> None:
    async with OmicsEmulator(faults=Faults(error_rate=1.0)) as emu:
        client = await make_client(emu)
        with pytest.raises(ClientError) as exc_info:
            await client.list_read_set_activation_jobs(sequenceStoreId="1" * 40)
    assert error_code(exc_info) == "InternalServerException"


async def outcomes(make_client: Any, seed: int) -> list[str]:
    async with OmicsEmulator(seed=seed, faults=Faults(throttle_rate=0.3, error_rate=0.3)) as emu:
        client = await make_client(emu)
        result = []
        for _ in range(20):
            try:
                await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
                result.append("ok")
            except ClientError as exc:
                result.append(exc.response["Error"]["Code"])
        return result


@pytest.mark.asyncio
async def test_same_seed_gives_the_same_faults(make_client: Any) -> None:
    first = await outcomes(make_client, seed=7)
    again = await outcomes(make_client, seed=7)
    assert first == again
    assert {"ok", "ThrottlingException", "InternalServerException"} == set(first)


@pytest.mark.asyncio
async def test_stats_over_http_match_stats_in_python(make_client: Any) -> None:
    async with OmicsEmulator(quota_tps=1.0) as emu:
        client = await make_client(emu)
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        with pytest.raises(ClientError):
            await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
        with pytest.raises(ClientError):
            await client.get_read_set_activation_job(sequenceStoreId=STORE, id="1234567890")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{emu.endpoint_url}/_emulator/stats") as response,
        ):
            over_http = await response.json()
        in_python = emu.stats.requests
    assert over_http == {"requests": in_python}
    assert in_python == {LIST: {"200": 1, "429": 1}, GET: {"404": 1}}


@pytest.mark.asyncio
async def test_stats_count_filters_and_reset(emulator: OmicsEmulator, omics_client: Any) -> None:
    await omics_client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    await omics_client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    with pytest.raises(ClientError):
        await omics_client.get_read_set_activation_job(sequenceStoreId=STORE, id="1234567890")
    stats = emulator.stats
    assert stats.count() == 3
    assert stats.count(LIST) == 2
    assert stats.count(status=404) == stats.count(status="404") == 1
    assert stats.count(GET, 200) == 0
    stats.reset()
    assert stats.count() == 0
    assert stats.requests == {}


def test_faults_refuse_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="throttle_rate"):
        Faults(throttle_rate=1.5)
    with pytest.raises(ValueError, match="latency"):
        Faults(latency=-1.0)
    with pytest.raises(ValueError, match="operations"):
        Faults(operations=frozenset({"GetVariantStore"}))
    with pytest.raises(ValueError, match="error_code"):
        Faults(error_code="TeapotException")
