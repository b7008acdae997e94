"""Gemini API (Google AI Studio) adapter: ``POST {base}/v1beta/models/{model}:generateContent``.

Auth is the ``x-goog-api-key`` header (never the ``?key=`` query string, which would land in access logs). The body
and the response mapping are shared with Vertex AI (``google_common``). One call makes one image (``max_n`` 1).

Error mapping: 429 / RESOURCE_EXHAUSTED -> RateLimited (``retry_after`` from the RetryInfo detail, else
``Retry-After``); 500/502/503/504 -> Unavailable; 408 -> Timeout; 401, 403 and 400 with reason API_KEY_INVALID ->
AuthFailed; other 4xx -> ProviderInvalidRequest; malformed JSON -> BadResponse; a refusal (block finishReason or
promptFeedback.blockReason) -> ContentPolicy with the provider's reason.
"""

from __future__ import annotations

from urllib.parse import quote

from imagegate.core.errors import Timeout
from imagegate.core.types import ImageResult
from imagegate.providers.base import ProviderCall
from imagegate.providers.google_common import build_body, result_of
from imagegate.providers.google_predict import predict_body, predict_result, uses_predict
from imagegate.providers.http import HttpTimeouts, UpstreamClient
from imagegate.settings import ProviderSettings

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"


class GeminiProvider:
    name = "gemini"

    def __init__(self, settings: ProviderSettings) -> None:
        self._key = settings.api_key or ""
        self._base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._http = UpstreamClient(
            self.name,
            HttpTimeouts(settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s),
        )

    def url(self, model: str, method: str = "generateContent") -> str:
        return f"{self._base}/{API_VERSION}/models/{quote(model, safe='-._~')}:{method}"

    async def generate(self, call: ProviderCall) -> ImageResult:
        remaining = call.remaining()
        if remaining <= 0:
            raise Timeout("gemini: deadline reached before the call", provider=self.name)
        predict = uses_predict(call)  # Imagen
        body = predict_body(call, vertex=False) if predict else build_body(call, vertex=False)
        headers = {"x-goog-api-key": self._key}
        url = self.url(call.offer.provider_model_id, "predict" if predict else "generateContent")
        resp = await self._http.request("POST", url, headers=headers, json=body)
        return predict_result(resp, call, self.name) if predict else result_of(resp, call, self.name)

    async def aclose(self) -> None:
        await self._http.aclose()
