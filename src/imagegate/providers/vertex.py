"""Vertex AI adapter: ``POST {base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent``.

Same body and response as the Gemini API (``google_common``; ``contents[].role`` is always sent, Vertex requires
it), plus ``imageConfig.imageOutputOptions`` for JPEG output. Auth: an OAuth access token from a service-account
JSON key (``settings.credentials_file``), obtained with google-auth's JWT-bearer grant (``ServiceAccountTokens``).
A 401 refreshes the token once and retries once; a second 401 is ``AuthFailed``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from google.auth import exceptions as auth_exceptions
from google.auth import transport as auth_transport
from google.oauth2 import service_account

from imagegate.core.errors import AuthFailed, Timeout, Unavailable
from imagegate.core.types import ImageResult
from imagegate.providers.base import ProviderCall
from imagegate.providers.google_common import build_body, result_of
from imagegate.providers.google_predict import predict_body, predict_result, uses_predict
from imagegate.providers.http import HttpTimeouts, UpstreamClient
from imagegate.settings import ProviderSettings

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
API_VERSION = "v1"
REFRESH_MARGIN_S = 300.0  # refresh this long before the token expires
TOKEN_TIMEOUT_S = 30.0


def default_base_url(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


class _UrllibResponse(auth_transport.Response):
    def __init__(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class UrllibRequest(auth_transport.Request):
    """google-auth's transport seam on the standard library, so token refresh needs no ``requests`` package.
    Blocking: called from a worker thread."""

    def __init__(self, timeout_s: float = TOKEN_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s

    def __call__(
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None, **kwargs: Any
    ) -> _UrllibResponse:
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout_s) as resp:  # noqa: S310
                return _UrllibResponse(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as exc:
            return _UrllibResponse(exc.code, dict(exc.headers or {}), exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise auth_exceptions.TransportError(f"token endpoint unreachable ({type(exc).__name__})") from exc


class ServiceAccountTokens:
    """Access tokens for one service account: cached, refreshed ``margin_s`` before expiry, one refresh at a time.

    google-auth's refresh blocks (file read, RSA signing, HTTP), so it runs in a thread; an ``asyncio.Lock`` makes
    concurrent callers share one refresh. ``clock`` (seconds) is injectable for tests.
    """

    def __init__(
        self,
        credentials_file: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        margin_s: float = REFRESH_MARGIN_S,
        transport: auth_transport.Request | None = None,
    ) -> None:
        self._file = credentials_file
        self._clock = clock
        self._margin = margin_s
        self._transport = transport or UrllibRequest()
        self._creds: service_account.Credentials | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0

    @property
    def project_id(self) -> str | None:
        return self._creds.project_id if self._creds is not None else None

    async def load(self) -> None:
        """Read the key file (once, in a thread)."""
        if self._creds is None:
            async with self._lock:
                if self._creds is None:
                    self._creds = await asyncio.to_thread(self._read)

    def _read(self) -> service_account.Credentials:
        try:
            return service_account.Credentials.from_service_account_file(self._file, scopes=list(SCOPES))
        except (OSError, ValueError, KeyError) as exc:
            raise AuthFailed(
                f"vertex: cannot read the service-account key file ({type(exc).__name__})", provider="vertex"
            ) from exc

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at - self._margin

    async def token(self, *, stale: str | None = None) -> str:
        """A valid token. ``stale``: a token the server refused; it is replaced unless that already happened."""
        if self._fresh() and self._token != stale:
            return self._token  # type: ignore[return-value]
        await self.load()
        async with self._lock:
            if not self._fresh() or self._token == stale:
                await self._refresh()
            return self._token  # type: ignore[return-value]

    async def _refresh(self) -> None:
        creds = self._creds
        assert creds is not None
        try:
            await asyncio.to_thread(creds.refresh, self._transport)
        except auth_exceptions.RefreshError as exc:
            raise AuthFailed(
                f"vertex: the token endpoint refused the service account: {exc}"[:500], provider="vertex"
            ) from exc
        except auth_exceptions.TransportError as exc:
            raise Unavailable(f"vertex: token refresh failed: {exc}"[:300], provider="vertex") from exc
        if not creds.token:
            raise AuthFailed("vertex: the token endpoint returned no access token", provider="vertex")
        lifetime = 3600.0
        if creds.expiry is not None:  # naive UTC, as google-auth keeps it
            lifetime = (creds.expiry - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
        self._token = creds.token
        self._expires_at = self._clock() + lifetime
        self.refreshes += 1


class VertexProvider:
    name = "vertex"

    def __init__(self, settings: ProviderSettings, *, tokens: ServiceAccountTokens | None = None) -> None:
        self._location = settings.location or "global"
        self._project = settings.project
        self._base = (settings.base_url or default_base_url(self._location)).rstrip("/")
        self.tokens = tokens or ServiceAccountTokens(settings.credentials_file or "")
        self._http = UpstreamClient(
            self.name,
            HttpTimeouts(settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s),
        )

    async def url(self, model: str, method: str = "generateContent") -> str:
        project = self._project
        if not project:
            await self.tokens.load()
            project = self.tokens.project_id
            if not project:
                raise AuthFailed(
                    "vertex: no project (set VERTEX_PROJECT or use a key with project_id)", provider=self.name
                )
        return (
            f"{self._base}/{API_VERSION}/projects/{quote(project, safe='')}/locations/{quote(self._location, safe='')}"
            f"/publishers/google/models/{quote(model, safe='-._~')}:{method}"
        )

    async def generate(self, call: ProviderCall) -> ImageResult:
        if call.remaining() <= 0:
            raise Timeout("vertex: deadline reached before the call", provider=self.name)
        predict = uses_predict(call)  # Imagen
        url = await self.url(call.offer.provider_model_id, "predict" if predict else "generateContent")
        body = predict_body(call, vertex=True) if predict else build_body(call, vertex=True)
        token = await self.tokens.token()
        resp = await self._post(url, body, token, call)
        if resp.status == 401:  # expired or revoked early: one fresh token, one retry
            token = await self.tokens.token(stale=token)
            resp = await self._post(url, body, token, call)
        return predict_result(resp, call, self.name) if predict else result_of(resp, call, self.name)

    async def _post(self, url: str, body: dict[str, Any], token: str, call: ProviderCall) -> Any:
        remaining = call.remaining()
        if remaining <= 0:
            raise Timeout("vertex: deadline reached", provider=self.name)
        headers = {"Authorization": f"Bearer {token}"}
        return await self._http.request("POST", url, headers=headers, json=body)

    async def aclose(self) -> None:
        await self._http.aclose()
