"""SigV4 verification, the ``control-storage-`` host prefix, and raw wire details."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from omics_waiter.testing import OmicsEmulator

STORE = "1234567890"
READ_SET = "1111111111"


def error_of(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def signed_headers(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    secret_key: str = "testing",
    region: str = "us-east-1",
) -> dict[str, str]:
    """Headers of a request signed by botocore's signer, as any SDK would send them."""
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials("testing", secret_key), "omics", region).add_auth(request)
    return dict(request.headers.items())


async def send(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, data=body, headers=headers or {}) as response,
    ):
        text = await response.text()
        return response.status, dict(response.headers), json.loads(text)


@pytest.mark.asyncio
async def test_wrong_secret_key_is_refused_as_invalid_signature(
    emulator: OmicsEmulator, make_client: Any
) -> None:
    client = await make_client(emulator, credentials=("testing", "not-the-secret", None))
    with pytest.raises(ClientError) as exc_info:
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert error_of(exc_info) == ("InvalidSignatureException", 403)
    assert "not-the-secret" not in str(exc_info.value.response)


@pytest.mark.asyncio
async def test_unknown_access_key_is_refused_as_unrecognized_client(
    emulator: OmicsEmulator, make_client: Any
) -> None:
    client = await make_client(emulator, credentials=("AKIDUNKNOWN", "testing", None))
    with pytest.raises(ClientError) as exc_info:
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert error_of(exc_info) == ("UnrecognizedClientException", 403)


@pytest.mark.asyncio
async def test_unsigned_request_is_refused_as_missing_authentication_token(
    emulator: OmicsEmulator, make_client: Any
) -> None:
    client = await make_client(emulator, signature_version=botocore.UNSIGNED)
    with pytest.raises(ClientError) as exc_info:
        await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert error_of(exc_info) == ("MissingAuthenticationTokenException", 403)


@pytest.mark.asyncio
async def test_any_region_is_accepted(emulator: OmicsEmulator, make_client: Any) -> None:
    client = await make_client(emulator, region_name="eu-west-2")
    scopes: list[str] = []
    client.meta.events.register(
        "before-send.omics.*",
        lambda request, **_: scopes.append(request.headers["Authorization"].decode()),
    )
    response = await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    assert response["activationJobs"] == []
    assert "/eu-west-2/omics/aws4_request" in scopes[0]


@pytest.mark.asyncio
async def test_configured_session_token_is_required(make_client: Any) -> None:
    async with OmicsEmulator(session_token="session-token") as emu:
        with_token = await make_client(emu, credentials=("testing", "testing", "session-token"))
        without = await make_client(emu)
        wrong = await make_client(emu, credentials=("testing", "testing", "other-token"))
        await with_token.list_read_set_activation_jobs(sequenceStoreId=STORE)
        for client in (without, wrong):
            with pytest.raises(ClientError) as exc_info:
                await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
            assert error_of(exc_info) == ("UnrecognizedClientException", 403)


@pytest.mark.asyncio
async def test_body_changed_after_signing_is_refused(emulator: OmicsEmulator) -> None:
    url = f"{emulator.endpoint_url}/sequencestore/{STORE}/activationjob"
    body = json.dumps({"sources": [{"readSetId": READ_SET}]}).encode()
    headers = signed_headers("POST", url, body)
    tampered = body.replace(READ_SET.encode(), b"2222222222")
    status, response_headers, payload = await send("POST", url, tampered, headers)
    assert status == 403
    assert response_headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert payload["message"]


@pytest.mark.asyncio
async def test_signature_from_hand_signed_request_is_accepted(emulator: OmicsEmulator) -> None:
    url = f"{emulator.endpoint_url}/sequencestore/{STORE}/activationjobs?maxResults=5"
    body = b'{"filter": {"status": "COMPLETED"}}'
    status, headers, payload = await send("POST", url, body, signed_headers("POST", url, body))
    assert status == 200
    assert payload == {"activationJobs": []}
    assert headers["x-amzn-RequestId"]


@pytest.mark.asyncio
async def test_request_without_authorization_header_is_refused(emulator: OmicsEmulator) -> None:
    status, headers, payload = await send(
        "GET", f"{emulator.endpoint_url}/sequencestore/{STORE}/activationjob/1234567890"
    )
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert payload == {"message": "Missing Authentication Token"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"filter": {"createdAfter": "yesterday"}}', "createdAfter"),
        (b'{"filter": {"createdBefore": "2024-13-45T99:00:00Z"}}', "createdBefore"),
        (b'{"filter": "COMPLETED"}', "filter"),
        (b"[1, 2]", "JSON object"),
    ],
)
async def test_malformed_list_body_gives_validation_exception(
    emulator: OmicsEmulator, body: bytes, fragment: str
) -> None:
    url = f"{emulator.endpoint_url}/sequencestore/{STORE}/activationjobs"
    status, headers, payload = await send("POST", url, body, signed_headers("POST", url, body))
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert fragment in payload["message"]


@pytest.mark.asyncio
async def test_non_integer_max_results_gives_validation_exception(
    emulator: OmicsEmulator,
) -> None:
    url = f"{emulator.endpoint_url}/sequencestore/{STORE}/activationjobs?maxResults=ten"
    status, headers, _ = await send("POST", url, b"", signed_headers("POST", url))
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"


@pytest.mark.asyncio
async def test_unknown_route_is_unknown_operation_and_counted_as_unknown(
    emulator: OmicsEmulator,
) -> None:
    # A route of the model the emulator does not serve (ListReadSets).
    url = f"{emulator.endpoint_url}/sequencestore/{STORE}/readsets"
    status, headers, _ = await send("POST", url, b"", signed_headers("POST", url))
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert emulator.stats.requests == {"Unknown": {"404": 1}}


@pytest.mark.asyncio
async def test_wrong_method_on_a_known_path_is_unknown_operation(emulator: OmicsEmulator) -> None:
    url = f"{emulator.endpoint_url}/sequencestore/{STORE}/activationjob"
    status, headers, _ = await send("GET", url, b"", signed_headers("GET", url))
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"


@pytest.mark.asyncio
async def test_request_with_host_prefix_is_served(
    emulator: OmicsEmulator, make_client: Any
) -> None:
    # The client injects the prefix into a hostname, and reaches the emulator through it as an
    # HTTP proxy: the request arrives in absolute form with Host control-storage-example.test.
    port = urlsplit(emulator.endpoint_url).port
    client = await make_client(
        emulator,
        endpoint_url=f"http://example.test:{port}",
        inject_host_prefix=True,
        proxies={"http": emulator.endpoint_url},
    )
    sent: list[str] = []
    client.meta.events.register(
        "before-send.omics.*", lambda request, **_: sent.append(request.url)
    )
    started = await client.start_read_set_activation_job(
        sequenceStoreId=STORE, sources=[{"readSetId": READ_SET}]
    )
    got = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=started["id"])
    listed = await client.list_read_set_activation_jobs(sequenceStoreId=STORE, maxResults=10)
    assert got["id"] == started["id"]
    assert [job["id"] for job in listed["activationJobs"]] == [started["id"]]
    assert {urlsplit(url).hostname for url in sent} == {"control-storage-example.test"}
    assert emulator.stats.count(status=200) == 3
