"""The Google fake's state, and Google's error envelope ``{"error": {"code", "message", "status", "details"}}``."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from imagegate.testing.fakes.common import FakeState

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@dataclass
class GoogleFakeState(FakeState):
    """The fake's world, shared by its Gemini API and Vertex AI faces.

    ``service_accounts`` maps a service-account email to its RSA public key (PEM): the token endpoint verifies
    assertions against it. ``project`` (when set) is the only Vertex project allowed. ``block_reason`` is the
    ``finishReason`` of a content-policy refusal; with ``block_via_prompt_feedback`` the refusal is a
    ``promptFeedback.blockReason`` with no candidates instead.
    """

    api_key: str = "AIza-fake-gemini-key-for-tests-000000"
    service_accounts: dict[str, bytes] = field(default_factory=dict)
    project: str | None = None
    token_lifetime_s: int = 3600
    block_reason: str = "IMAGE_SAFETY"
    block_via_prompt_feedback: bool = False
    text_part: bool = True  # answer a non-thought text part before the image
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry (clock seconds)
    token_requests: int = 0
    image_cache: OrderedDict[tuple, bytes] = field(default_factory=OrderedDict)
    inflight: set[asyncio.Task] = field(default_factory=set)  # handlers still answering (cancelled at shutdown)

    def issue_token(self) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = self.clock() + self.token_lifetime_s
        return token

    def token_valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and self.clock() < expiry

    def revoke_tokens(self) -> None:
        """Forget every issued token: the next Vertex call with one gets a 401."""
        self.tokens.clear()

    def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        """The ``generateContent`` requests seen (``api``: "gemini" or "vertex")."""
        return [s for s in self.seen if s.get("api") and (api is None or s["api"] == api)]


STATE = web.AppKey("state", GoogleFakeState)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def google_error(
    code: int,
    status: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return json_response({"error": err}, status=code, headers=headers)


def invalid_argument(message: str, field_path: str | None = None) -> web.Response:
    violation: dict[str, Any] = {"description": message}
    if field_path:
        violation["field"] = field_path
    return google_error(400, "INVALID_ARGUMENT", message, [{"@type": BAD_REQUEST, "fieldViolations": [violation]}])


def unregistered_caller() -> web.Response:
    return google_error(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or "
        "other form of API consumer identity to call this API.",
    )


def api_key_invalid() -> web.Response:
    msg = "API key not valid. Please pass a valid API key."
    return google_error(
        400,
        "INVALID_ARGUMENT",
        msg,
        [
            {
                "@type": ERROR_INFO,
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": msg},
        ],
    )


def unauthenticated(reason: str = "ACCESS_TOKEN_TYPE_UNSUPPORTED") -> web.Response:
    return google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
        "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [
            {
                "@type": ERROR_INFO,
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {
                    "service": "aiplatform.googleapis.com",
                    "method": "google.cloud.aiplatform.v1.PredictionService.GenerateContent",
                },
            }
        ],
    )


def rate_limited(retry_after_s: float, vertex: bool) -> web.Response:
    delay = f"{retry_after_s:g}s"
    if vertex:
        msg = (
            "Resource exhausted. Please try again later. Please refer to "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
        )
        details: list[dict[str, Any]] = [{"@type": RETRY_INFO, "retryDelay": delay}]
    else:
        msg = (
            "You exceeded your current quota, please check your plan and billing details. For more information on "
            f"this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Please retry in {delay}."
        )
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
                        "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {"@type": RETRY_INFO, "retryDelay": delay},
        ]
    return google_error(429, "RESOURCE_EXHAUSTED", msg, details)


def server_error() -> web.Response:
    return google_error(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    )


def overloaded() -> web.Response:
    return google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return json_response({"error": error, "error_description": description}, status=status)
