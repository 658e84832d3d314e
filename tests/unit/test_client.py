"""The client adapter's translation of failures inside the HTTP client."""

from __future__ import annotations

import botocore.exceptions
import httpx2
import trio

from omics_waiter import OmicsWaiterError
from omics_waiter._client import Transient, classify

GET = "GetReadSetActivationJob"


def client_failure(error: Exception) -> botocore.exceptions.HTTPClientError:
    return botocore.exceptions.HTTPClientError(error=error)


def test_a_failure_inside_the_http_client_is_fatal_and_not_guessed_to_be_a_closed_client() -> None:
    translated = classify(client_failure(RuntimeError("something broke")), GET)
    assert isinstance(translated, OmicsWaiterError)
    assert "closed" not in str(translated)
    assert "something broke" in str(translated)


def test_a_dropped_connection_under_the_httpx_transport_is_transient() -> None:
    dropped = httpx2.RemoteProtocolError("Server disconnected without sending a response.")
    translated = classify(client_failure(dropped), GET)
    assert isinstance(translated, Transient)
    assert translated.reason == "ConnectionError"


def test_on_trio_a_client_failure_points_to_the_httpx_transport() -> None:
    async def on_trio() -> Exception:
        return classify(client_failure(RuntimeError("no running event loop")), GET)

    translated = trio.run(on_trio)
    assert isinstance(translated, OmicsWaiterError)
    assert "HttpxSession" in str(translated)
