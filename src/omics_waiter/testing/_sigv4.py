"""Server-side verification of AWS Signature Version 4, using botocore's own signer.

The signature is recomputed from the request exactly as received (method, raw path and query,
the headers named in ``SignedHeaders``, the body, ``X-Amz-Date`` and the region of the credential
scope) and compared in constant time. Error codes and messages follow what AWS sends. Secrets are
never put in a message.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials as _BotoCredentials

from omics_waiter.testing._errors import ApiError

__all__ = ["SERVICE", "Credentials", "verify"]

SERVICE = "omics"
_ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_MAX_SKEW = datetime.timedelta(minutes=15)
_UNSIGNED = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
_BAD_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True, slots=True)
class Credentials:
    """The credentials the emulator accepts."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's signer, signing exactly the headers the client said it signed."""

    def __init__(
        self,
        credentials: Any,
        region: str,
        signed: Sequence[str],
        received: Mapping[str, Sequence[str]],
    ) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed
        self._received = received

    def headers_to_sign(self, request: Any) -> Any:
        header_map = HTTPHeaders()
        for name in self._signed:
            for value in self._received.get(name, ()):
                header_map[name] = value  # HTTPMessage appends repeated headers
        return header_map


def _parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != _ALGORITHM:
        raise ApiError(
            "IncompleteSignatureException",
            f"Authorization header requires the {_ALGORITHM} algorithm.",
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in parts:
            raise ApiError(
                "IncompleteSignatureException",
                f"Authorization header requires '{required}' parameter. "
                f"Authorization={_ALGORITHM} ...",
            )
    return parts


def verify(
    *,
    method: str,
    target: str,
    headers: Mapping[str, Sequence[str]],
    body: bytes,
    credentials: Credentials,
    now: datetime.datetime,
) -> None:
    """Check a request's SigV4 signature.

    Args:
        method: The HTTP method.
        target: The request target as received: the raw path and query, or an absolute URL.
        headers: Lower-case header name to all its values, as received.
        body: The request body.
        credentials: The credentials the server accepts.
        now: The current time (aware UTC), for the clock-skew check.

    Raises:
        ApiError: MissingAuthenticationTokenException, IncompleteSignatureException,
            UnrecognizedClientException or InvalidSignatureException.
    """
    authorization = headers.get("authorization")
    if not authorization:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
    parts = _parse_authorization(authorization[0])
    scope = parts["Credential"].split("/")
    if len(scope) != 5:
        raise ApiError(
            "IncompleteSignatureException",
            "Credential should have 5 parts: access key, date, region, service, aws4_request.",
        )
    access_key, scope_date, region, service, terminator = scope
    if not hmac.compare_digest(access_key.encode(), credentials.access_key.encode()):
        raise ApiError("UnrecognizedClientException", _BAD_TOKEN)
    if credentials.session_token is not None:
        token = headers.get("x-amz-security-token", ())
        if len(token) != 1 or not hmac.compare_digest(
            token[0].encode(), credentials.session_token.encode()
        ):
            raise ApiError("UnrecognizedClientException", _BAD_TOKEN)
    if service != SERVICE or terminator != "aws4_request":
        raise ApiError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'.",
        )
    amz_date = headers.get("x-amz-date", ())
    if len(amz_date) != 1:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    try:
        signed_at = datetime.datetime.strptime(amz_date[0], _AMZ_DATE).replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        raise ApiError(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format': {amz_date[0]}",
        ) from None
    if abs(now - signed_at) > _MAX_SKEW:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date[0]} is now earlier than "
            f"{(now - _MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 15 min.)",
        )
    if scope_date != amz_date[0][:8]:
        raise ApiError(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            "from HTTP.",
        )
    content_sha = headers.get("x-amz-content-sha256", ())
    body_hash = hashlib.sha256(body).hexdigest()
    if (
        content_sha
        and content_sha[0] not in _UNSIGNED
        and not hmac.compare_digest(content_sha[0].encode(), body_hash.encode())
    ):
        raise ApiError(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    signed = [name.strip().lower() for name in parts["SignedHeaders"].split(";") if name.strip()]
    url = target if "://" in target else f"http://localhost{target}"
    request = AWSRequest(method=method, url=url, data=body)
    if "x-amz-content-sha256" in signed and content_sha:
        request.headers["X-Amz-Content-SHA256"] = content_sha[0]
    request.context["timestamp"] = amz_date[0]
    signer = _ReceivedRequestSigner(
        _BotoCredentials(credentials.access_key, credentials.secret_key), region, signed, headers
    )
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(parts["Signature"].encode(), str(expected).encode()):
        raise ApiError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )
