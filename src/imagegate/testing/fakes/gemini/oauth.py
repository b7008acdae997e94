"""A fake of Google's OAuth token endpoint for service accounts (RFC 7523 JWT-bearer grant).

google-auth posts ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``; the JWT is RS256-signed
by the service account's key with claims ``iss`` (the account's email), ``aud`` (Google's token URI), ``scope``,
``iat`` and ``exp`` (at most an hour apart). The fake verifies the signature with the public key registered for
``iss`` and answers ``{"access_token", "expires_in", "token_type": "Bearer"}`` or Google's OAuth error shape.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from imagegate.testing.fakes.gemini.state import (
    CLOUD_PLATFORM,
    GOOGLE_TOKEN_URI,
    JWT_GRANT,
    STATE,
    json_response,
    oauth_error,
)

_SKEW_S = 300
_MAX_LIFETIME_S = 3600


def public_key_pem(private_key_pem: str | bytes) -> bytes:
    """The public half (PEM) of a service-account private key, as ``GoogleFakeState.service_accounts`` wants."""
    data = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = serialization.load_pem_private_key(data, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def new_service_account(
    token_uri: str,
    *,
    project_id: str = "fake-project",
    email: str = "imagegate-test@fake-project.iam.gserviceaccount.com",
) -> dict[str, str]:
    """A fresh service-account key (RSA 2048) in Google's JSON key format, its ``token_uri`` pointed at a fake."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "fake-key-1",
        "private_key": pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    }


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GrantError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def verify_assertion(assertion: str, keys: dict[str, bytes], token_url: str, now: float) -> dict[str, Any]:
    """Check the JWT's shape, signature and claims; return its claims."""
    try:
        header_b64, payload_b64, sig_b64 = assertion.split(".")
        header = orjson.loads(_b64url(header_b64))
        claims = orjson.loads(_b64url(payload_b64))
        signature = _b64url(sig_b64)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise GrantError("invalid_grant", "Invalid JWT: the assertion is not a signed JWT.") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise GrantError("invalid_grant", "Invalid JWT Signature.")
    pem = keys.get(str(claims.get("iss")))
    if pem is None:
        raise GrantError("invalid_grant", "Invalid grant: account not found")
    public = serialization.load_pem_public_key(pem)
    if not isinstance(public, rsa.RSAPublicKey):
        raise GrantError("invalid_grant", "Invalid JWT Signature.")
    try:
        public.verify(signature, f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise GrantError("invalid_grant", "Invalid JWT Signature.") from None
    if claims.get("aud") not in (GOOGLE_TOKEN_URI, token_url):
        raise GrantError("invalid_grant", "Invalid JWT: audience mismatch.")
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, int | float)
        or not isinstance(exp, int | float)
        or exp - iat > _MAX_LIFETIME_S
        or iat > now + _SKEW_S
        or exp < now - _SKEW_S
    ):
        raise GrantError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
            "reasonable timeframe. Check your iat and exp values in the JWT claim.",
        )
    if CLOUD_PLATFORM not in str(claims.get("scope") or "").split():
        raise GrantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return claims


async def token_endpoint(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.token_requests += 1
    form = await request.post()
    grant = form.get("grant_type")
    if grant != JWT_GRANT:
        return oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant or ''!s}")
    assertion = form.get("assertion")
    if not isinstance(assertion, str) or not assertion:
        return oauth_error("invalid_request", "Missing required parameter: assertion")
    token_url = f"{request.scheme}://{request.host}{request.path}"
    try:
        verify_assertion(assertion, state.service_accounts, token_url, time.time())
    except GrantError as exc:
        return oauth_error(exc.error, exc.description)
    return json_response(
        {"access_token": state.issue_token(), "expires_in": state.token_lifetime_s, "token_type": "Bearer"}
    )
