"""What an Airflow AWS connection sets for its clients reaches the waiter's Omics client:
``verify`` (a private CA, or none) and the botocore config of ``config_kwargs`` (a proxy,
``user_agent_extra``, timeouts), except the waiter's own retries."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import FAST
from omics_waiter import RunRef
from omics_waiter.airflow import OmicsJobTrigger, _shared
from omics_waiter.airflow._connection import open_waiter
from omics_waiter.testing import OmicsEmulator, Step


@pytest.fixture(autouse=True)
def no_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared waiters close as soon as their last trigger leaves (no test waits for them)."""
    monkeypatch.setattr(_shared, "LINGER", 0.0)


def use_connection(monkeypatch: pytest.MonkeyPatch, endpoint_url: str, **extra: Any) -> None:
    """aws_default: the emulator's credentials and Region, `endpoint_url`, and `extra`."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": "us-east-1", "endpoint_url": endpoint_url, **extra},
            }
        ),
    )


async def run_to_the_end(emulator: OmicsEmulator) -> dict[str, Any]:
    """A trigger's payload for a run that completes at once (10 s at most)."""
    run = emulator.add_run(timeline=[Step(0.0, "COMPLETED")], tasks=0)
    events = OmicsJobTrigger("run", [run], timeout=10, waiter_options=FAST).run()
    event = await anext(events)
    await events.aclose()
    payload: dict[str, Any] = event.payload
    return payload


# -- settings that reach the client ---------------------------------------------------------


@pytest.mark.asyncio
async def test_a_trigger_reaches_the_service_through_the_connections_proxy(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host that does not resolve: only the proxy of config_kwargs gets the request through.
    port = urlsplit(emulator.endpoint_url).port
    use_connection(
        monkeypatch,
        f"http://omics.invalid:{port}",
        config_kwargs={"proxies": {"http": emulator.endpoint_url}},
    )
    payload = await run_to_the_end(emulator)
    assert payload["status"] == "success"


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that signs itself (a private CA's), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "omics-waiter test CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "ca.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.asynccontextmanager
async def tls_front(emulator: OmicsEmulator, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """An HTTPS endpoint in front of the emulator, with a certificate no system trusts.

    Yields its URL and the CA bundle that verifies it. It forwards the bytes both ways.
    """
    import ssl

    cert_path, key_path = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    target = urlsplit(emulator.endpoint_url)

    writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[Any]] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        back_reader, back_writer = await asyncio.open_connection(target.hostname, target.port)
        writers.extend((writer, back_writer))
        await asyncio.gather(pipe(reader, back_writer), pipe(back_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}", cert_path
    finally:
        server.close()
        # Connections the client kept alive: closed, so that every handler ends.
        for writer in writers:
            writer.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@pytest.mark.asyncio
async def test_a_trigger_trusts_the_connections_ca_bundle(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with tls_front(emulator, tmp_path) as (url, ca_bundle):
        use_connection(monkeypatch, url, verify=str(ca_bundle))
        payload = await run_to_the_end(emulator)
    assert payload["status"] == "success"


@pytest.mark.asyncio
async def test_a_trigger_does_not_verify_certificates_when_the_connection_says_not_to(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with tls_front(emulator, tmp_path) as (url, _):
        use_connection(monkeypatch, url, verify=False)
        payload = await run_to_the_end(emulator)
    assert payload["status"] == "success"


@pytest.mark.asyncio
async def test_the_connections_user_agent_extra_is_sent(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(
        monkeypatch,
        emulator.endpoint_url,
        config_kwargs={"user_agent_extra": "from-the-connection"},
    )
    run = emulator.add_run(timeline=[Step(0.0, "COMPLETED")], tasks=0)
    agents: list[str] = []
    async with open_waiter("aws_default", None, FAST) as waiter:
        waiter._api.client.meta.events.register(
            "before-send.omics.*",
            lambda request, **_: agents.append(request.headers["User-Agent"].decode()),
        )
        await waiter.wait(RunRef(run))
    assert agents
    assert all("from-the-connection" in agent for agent in agents)


@pytest.mark.asyncio
async def test_the_waiters_single_attempt_wins_over_the_connections_retries(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(
        monkeypatch,
        emulator.endpoint_url,
        config_kwargs={"retries": {"mode": "adaptive", "total_max_attempts": 5}},
    )
    async with open_waiter("aws_default", None, FAST) as waiter:
        retries = waiter._api.client.meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": 1}


@pytest.mark.asyncio
async def test_the_connections_timeouts_win_over_the_waiters_defaults(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(
        monkeypatch,
        emulator.endpoint_url,
        config_kwargs={"connect_timeout": 3, "read_timeout": 70},
    )
    async with open_waiter("aws_default", None, FAST) as waiter:
        config = waiter._api.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 70)
