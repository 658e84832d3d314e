"""Shared fixtures: a running emulator and aiobotocore Omics clients pointed at it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest_asyncio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from omics_waiter.testing import OmicsEmulator
from servers import moto_server  # noqa: F401 - registers the fixture

if TYPE_CHECKING:
    from types_aiobotocore_omics import OmicsClient

MakeClient = Callable[..., Awaitable["OmicsClient"]]

# One session for the whole run: it caches the loaded service model, which makes creating a
# client about 20 times cheaper. Sessions hold no event loop state; each client has its own.
_SESSION = get_session()


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[OmicsEmulator]:
    """A running emulator with short random jobs (0.2-0.6 s) and a fixed seed."""
    async with OmicsEmulator(seed=1, job_seconds=(0.2, 0.6)) as emu:
        yield emu


@pytest_asyncio.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """``await make_client(emu, **config_overrides)``: an aiobotocore omics client for ``emu``.

    Host-prefix injection off, a single attempt (no retries), 2 s timeouts; keyword arguments
    override the Config. Credentials are testing/testing, region us-east-1. Also accepted:
    ``region_name``, ``endpoint_url`` (instead of ``emu.endpoint_url``) and ``credentials``
    (``(access_key, secret_key, session_token)``). Every client is closed at teardown.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def make(emu: OmicsEmulator, **config_overrides: Any) -> OmicsClient:
            options: dict[str, Any] = {
                "inject_host_prefix": False,
                # One attempt, no retries ("max_attempts" would count retries: 1 means 2 tries).
                "retries": {"total_max_attempts": 1, "mode": "standard"},
                "connect_timeout": 2,
                "read_timeout": 2,
            }
            options.update(config_overrides)
            endpoint_url = options.pop("endpoint_url", emu.endpoint_url)
            region_name = options.pop("region_name", "us-east-1")
            credentials = options.pop("credentials", ("testing", "testing", None))
            access_key, secret_key, token = credentials
            return await stack.enter_async_context(
                _SESSION.create_client(
                    "omics",
                    region_name=region_name,
                    endpoint_url=endpoint_url,
                    aws_access_key_id=access_key,
                    aws_secret_access_key=secret_key,
                    aws_session_token=token,
                    config=AioConfig(**options),
                )
            )

        yield make


@pytest_asyncio.fixture
async def omics_client(emulator: OmicsEmulator, make_client: MakeClient) -> OmicsClient:
    """An aiobotocore omics client for the ``emulator`` fixture."""
    return await make_client(emulator)
