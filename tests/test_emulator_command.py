"""``omics-waiter emulator`` as a real process, and its option checks."""

from __future__ import annotations

import asyncio
import signal
import sys
from types import SimpleNamespace
from typing import Any

import pytest
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
