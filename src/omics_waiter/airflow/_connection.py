"""From an Airflow AWS connection to an `OmicsWaiter`.

Credentials come from the Amazon provider's `AwsBaseHook` (assume-role, refreshable
credentials, the connection's ``region_name``, ``endpoint_url``, ``verify`` and
``config_kwargs`` extras), the one place Airflow users configure AWS: the Omics client is
made with what the provider's own clients on that connection get (a proxy, a private CA,
``user_agent_extra``, ...), except what the waiter depends on (see `OmicsWaiter.connect`'s
``client_config``). The hook is synchronous (it may fetch the connection from the API
server, or call STS): `open_waiter` runs it in a worker thread, off the event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from .._waiter import OmicsWaiter

__all__ = ["AwsSettings", "aws_settings", "open_waiter"]


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """What an Omics client needs from a connection.

    Attributes:
        session: An aiobotocore ``AioSession`` with the connection's credentials.
        region_name: The Region (the argument's, else the connection's extra), if any.
        endpoint_url: The connection's endpoint for Omics (``endpoint_url`` extra), if any.
        verify: The connection's ``verify`` extra: False, a CA bundle path, or None.
        config: The connection's botocore ``Config`` (its ``config_kwargs`` extra).
    """

    session: Any
    region_name: str | None
    endpoint_url: str | None
    verify: bool | str | None = None
    config: Any = None


def aws_settings(aws_conn_id: str | None, region_name: str | None) -> AwsSettings:
    """Read an AWS connection through `AwsBaseHook` (blocking: call it off the event loop)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="omics", region_name=region_name)
    region = hook.region_name
    session = hook.get_session(region_name=region, deferrable=True)
    endpoint = hook.conn_config.get_service_endpoint_url(service_name="omics")
    return AwsSettings(
        session=session,
        region_name=region,
        endpoint_url=endpoint,
        verify=hook.verify,
        config=hook.config,
    )


def connect_arguments(settings: AwsSettings, waiter_options: Mapping[str, Any]) -> dict[str, Any]:
    """`OmicsWaiter.connect`'s keyword arguments for a connection and checked options."""
    return {
        "session": settings.session,
        "region_name": settings.region_name,
        "endpoint_url": settings.endpoint_url,
        "verify": settings.verify,
        "client_config": settings.config,
        **waiter_options,
    }


@contextlib.asynccontextmanager
async def open_waiter(
    aws_conn_id: str | None, region_name: str | None, waiter_options: Mapping[str, Any]
) -> AsyncIterator[OmicsWaiter]:
    """An entered `OmicsWaiter` on an Airflow connection, closed on exit.

    Raises:
        Whatever reading the connection raises (e.g. ``AirflowNotFoundException``), and what
        `OmicsWaiter.connect` raises.
    """
    settings = await anyio.to_thread.run_sync(aws_settings, aws_conn_id, region_name)
    async with OmicsWaiter.connect(**connect_arguments(settings, waiter_options)) as waiter:
        yield waiter
