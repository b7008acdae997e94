"""The error taxonomy.

Two families:
- ``GatewayError``: what the client sees, rendered in the OpenAI error shape
  ``{"error": {"message", "type", "param", "code"}}``.
- ``ProviderError``: what an adapter raises for a failed upstream call. The router decides from
  ``retryable`` whether to fail over; the API turns the final one into a ``GatewayError``.

Messages must never contain secrets: adapters build them from upstream *bodies*, never from
request headers, and ``redact`` (``core/redaction.py``) scrubs every configured secret and anything that looks
like a key.
"""

from __future__ import annotations

from typing import Any

from imagegate.core.redaction import redact as redact  # re-exported: the one redaction function


class GatewayError(Exception):
    status: int = 500
    code: str = "INTERNAL_ERROR"
    type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = redact(message)
        self.param = param
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        if self.details:
            err.update(self.details)
        return {"error": err}


class InvalidRequest(GatewayError):
    status = 400
    code = "INVALID_REQUEST"
    type = "invalid_request_error"


class PayloadTooLarge(InvalidRequest):
    status = 413


class AuthenticationFailed(GatewayError):
    status = 401
    code = "AUTHENTICATION_FAILED"
    type = "authentication_error"


class ModelNotFound(GatewayError):
    status = 404
    code = "MODEL_NOT_FOUND"
    type = "invalid_request_error"

    def __init__(self, model: str) -> None:
        super().__init__(f"Model '{model}' not found", param="model")


class RateLimitedError(GatewayError):
    status = 429
    code = "RATE_LIMITED"
    type = "rate_limit_error"


class AllProvidersExhausted(GatewayError):
    status = 502
    code = "ALL_PROVIDERS_EXHAUSTED"
    type = "api_error"


class UpstreamError(GatewayError):
    """A provider refusal that must not be retried elsewhere (content policy, invalid input)."""

    status = 400
    code = "UPSTREAM_ERROR"
    type = "invalid_request_error"


# --------------------------------------------------------------------------- provider errors


class ProviderError(Exception):
    """Base of the typed errors an adapter raises. ``retryable`` drives failover; ``provider_failed`` says the
    provider itself failed (a health penalty), which a retryable error always means."""

    retryable: bool = True
    provider_failed: bool = False  # for a non-retryable error: it still counts against the provider's health

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        self.message = redact(message)
        super().__init__(self.message)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        self.reason = reason

    @property
    def kind(self) -> str:
        return type(self).__name__


class RateLimited(ProviderError):
    """429 or a quota error; ``retry_after`` seconds when the provider said so."""


class Unavailable(ProviderError):
    """5xx, overload, connection refused or reset."""


class Timeout(ProviderError):
    """Connect, read or overall deadline exceeded."""


class BadResponse(ProviderError):
    """The provider answered something we cannot use (malformed JSON, no image, bad bytes)."""


class ContentPolicy(ProviderError):
    """The provider refused the content. Returned to the client, never failed over."""

    retryable = False


class ProviderInvalidRequest(ProviderError):
    """The provider rejected the request as invalid. Returned, never failed over."""

    retryable = False


class AuthFailed(ProviderError):
    """Our credentials for this provider were refused. Other providers may still work."""
