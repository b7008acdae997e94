"""The web session: a signed, HttpOnly, SameSite=Lax cookie (Starlette's ``SessionMiddleware``, itsdangerous).

It holds a random session id (the owner of anonymous playground history), the CSRF token every state-changing form
and fetch must send back, and, when the gateway has keys, the API key the visitor typed once, encrypted (Fernet, with a
key derived from the session secret): the cookie is the only place it lives, never a page, a URL or a log, and a
leaked cookie does not reveal it. Only the playground's and the gallery's routes are wrapped
(``sessioned``), so the API's hot path never parses a cookie.

The signing secret is the ``session_secret`` setting (``IMAGEGATE_SESSION_SECRET``), else a random one generated once
into ``data_dir/session_secret`` (created exclusively, so several workers on one data dir agree on it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from imagegate.core.errors import AuthenticationFailed, GatewayError

COOKIE = "imagegate_session"
MAX_AGE_S = 14 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SECRET_SCOPE_KEY = "imagegate.session_secret"


def session_secret(settings: Any) -> str:
    """The configured secret, or the one kept in the data dir (made on first use, readable only by us). The file is
    written under a temporary name and hard-linked into place, so it never exists half-written and the first worker
    to link it wins; the others read the winner's."""
    if settings.session_secret:
        return str(settings.session_secret)
    path = Path(settings.data_dir) / "session_secret"
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".session_secret.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another worker won the race: use its secret
    finally:
        tmp.unlink()
    return path.read_text().strip()


class _Sessioned:
    """An ASGI app that runs ``app`` inside a ``SessionMiddleware`` built on first use (the secret needs settings)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._wrapped: ASGIApp | None = None
        self._secret = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._wrapped is None:
            services = scope["app"].state.services
            self._secret = session_secret(services.settings)
            self._wrapped = SessionMiddleware(
                self.app,
                secret_key=self._secret,
                session_cookie=COOKIE,
                max_age=MAX_AGE_S,
                same_site="lax",
                https_only=services.pages.base_url.startswith("https://"),
            )
        scope[SECRET_SCOPE_KEY] = self._secret
        await self._wrapped(scope, receive, send)


def sessioned(routes: list[Route]) -> list[Route]:
    """The same routes, each endpoint running with ``request.session``."""
    return [
        Route(r.path, _Sessioned(request_response(r.endpoint)), methods=sorted(r.methods or ()), name=r.name)
        for r in routes
    ]


def session_id(request: Request) -> str:
    sid = request.session.get("sid")
    if not sid:
        sid = request.session["sid"] = secrets.token_urlsafe(18)
    return str(sid)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        session_id(request)
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse a state-changing request whose token is not this session's (or that comes from another origin)."""
    expected = request.session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise GatewayError(
            "The form expired or came from another site: reload the page and try again.",
            status=403,
            code="CSRF_FAILED",
            param=CSRF_FIELD,
        )
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = {f"{request.url.scheme}://{request.url.netloc}", _origin(request.app.state.services.pages.base_url)}
        if origin.rstrip("/") not in own:  # behind a proxy the public base URL is the page's origin
            raise GatewayError("Cross-origin request refused.", status=403, code="CSRF_FAILED")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _fernet(request: Request) -> Fernet:
    secret = str(request.scope[SECRET_SCOPE_KEY]).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"imagegate-session-api-key\0" + secret).digest()))


def stored_key(request: Request) -> str | None:
    sealed = request.session.get("api_key")
    if not sealed:
        return None
    try:
        return _fernet(request).decrypt(str(sealed).encode()).decode()
    except InvalidToken:  # the secret changed: ask for the key again
        return None


async def sign_in(request: Request, key: str) -> str:
    """Check ``key`` against the gateway's keys and keep it in the session; returns its key id."""
    services = request.app.state.services
    key_id = await services.auth.authenticate(f"Bearer {key}")
    request.session["api_key"] = _fernet(request).encrypt(key.encode()).decode()
    request.session["csrf"] = secrets.token_urlsafe(24)  # a new token for the signed-in session
    return str(key_id)


def sign_out(request: Request) -> None:
    request.session.clear()


async def web_identity(request: Request) -> tuple[str | None, str | None]:
    """``(api key, owner)`` of this browser. With keys configured and none signed in: ``(None, None)``. The owner
    is "key:<key id>" (the same owner the API uses) or "anon:<digest of the session id>" on a gateway without keys."""
    services = request.app.state.services
    if not services.auth.enabled:
        digest = hashlib.sha256(session_id(request).encode()).hexdigest()[:32]
        return None, f"anon:{digest}"
    key = stored_key(request)
    if key is None:
        return None, None
    try:
        key_id = await services.auth.authenticate(f"Bearer {key}")
    except AuthenticationFailed:  # revoked since: ask again
        request.session.pop("api_key", None)
        return None, None
    return key, f"key:{key_id}"
