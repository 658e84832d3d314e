"""Secrets hygiene: the secret key and session token appear in no log, error, repr or event."""

from __future__ import annotations

import logging

import pytest

from omics_waiter import (
    AccessDeniedError,
    JobPartiallyFailedError,
    OmicsWaiter,
    WaitTimeoutError,
)
from omics_waiter.testing import OmicsEmulator, Step

SECRET = "wJalrXUtnFEMI-K7MDENG-SECRETSECRET-bPxRfiCY"
TOKEN = "FwoGZXIvYXdzEBYaD-SESSION-TOKEN-SECRET-0123456789"
STORE = "1234567890"


@pytest.mark.asyncio
async def test_the_secret_key_and_token_appear_nowhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # botocore's and aiobotocore's debug logs included
    seen: list[str] = []
    async with OmicsEmulator(
        seed=2, access_key="AKIDEXAMPLE", secret_key=SECRET, session_token=TOKEN
    ) as emu:
        partial = emu.add_job(
            STORE,
            ["1111111111", "2222222222"],
            timeline=[
                Step(0.05, "IN_PROGRESS"),
                Step(
                    0.1,
                    "COMPLETED_WITH_FAILURES",
                    sources={"1111111111": "FINISHED", "2222222222": ("FAILED", "corrupt")},
                ),
            ],
        )
        stuck = emu.add_job(STORE, ["3333333333"], timeline=[Step(0.05, "IN_PROGRESS")])
        async with OmicsWaiter.connect(
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key=SECRET,
            aws_session_token=TOKEN,
            min_delay=0.05,
            max_delay=0.1,
            max_tps=50,
        ) as waiter:
            seen.append(repr(waiter))
            async for event in waiter.watch_activation_job(STORE, partial):
                seen += [repr(event), str(event)]
            with pytest.raises(JobPartiallyFailedError) as failed:
                await waiter.wait_for_activation_job(STORE, partial)
            seen += [repr(failed.value), str(failed.value), repr(failed.value.job)]
            with pytest.raises(WaitTimeoutError) as timed_out:
                await waiter.wait_for_activation_job(STORE, stuck, timeout=0.3)
            seen += [repr(timed_out.value), str(timed_out.value)]
            outcomes = await waiter.wait_for_activation_jobs([(STORE, partial)], timeout=5)
            seen += [repr(o) for o in outcomes]
        async with OmicsWaiter.connect(
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key=SECRET + "x",
            aws_session_token=TOKEN,
        ) as refused:
            with pytest.raises(AccessDeniedError) as denied:
                await refused.wait_for_activation_job(STORE, partial)
            seen += [repr(denied.value), str(denied.value), repr(denied.value.__cause__)]
    # botocore's own DEBUG logs print request headers, session token included (its choice,
    # noted in the README); every other record, ours and the emulator's, must not.
    ours = [r for r in caplog.records if not r.name.startswith(("botocore", "aiobotocore"))]
    seen += [f"{r.getMessage()} {r.args!r}" for r in ours]
    assert any(r.name == "omics_waiter" for r in ours)  # our logs were really captured
    for text in seen:
        assert SECRET not in text
        assert TOKEN not in text
