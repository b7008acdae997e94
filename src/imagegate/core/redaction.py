"""The one redaction mechanism: credential-shaped patterns plus the exact values of every configured secret.

Patterns catch keys we do not know (an upstream echoing another key, a database API key); values catch the ones we
do, whatever their shape (a FAL key is ``key_id:key_secret``, a Vertex private key is PEM). ``redact`` is applied
where text leaves the process: every ``GatewayError`` / ``ProviderError`` message (hence client responses and
attempt errors), every stored ``requests.error_message`` / ``attempts.error``, and every log record (``LogRedaction``
on the server's handlers).

The configured values are process-wide: they are known once settings are loaded (``register_secrets`` from
``services.build_services``) and must apply to errors raised deep inside adapters that hold no settings.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter values would blank out ordinary words

_PATTERNS = re.compile(
    r"(r8_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|ya29\.[0-9A-Za-z_\-\.]+"
    r"|(?i:bearer|key)\s+[A-Za-z0-9_\-\.:]{12,}|ig-[A-Za-z0-9_\-]{16,})"
)


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._by_value: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, secrets: Iterable[str | None]) -> None:
        """Add secret values (and the parts of compound ones: ``id:secret``, the lines of a PEM key)."""
        found: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            secret = secret.strip()
            found.add(secret)
            found.update(secret.split(":"))
            for line in secret.replace("\\n", "\n").splitlines():  # PEM: the base64 lines, not the armour
                if not line.startswith("-----"):
                    found.add(line.strip())
        found = {s for s in found if len(s) >= MIN_SECRET_CHARS}
        with self._lock:
            if found <= self._values:
                return
            self._values |= found
            ordered = sorted(self._values, key=len, reverse=True)  # longest first: a key before its parts
            self._by_value = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        text = _PATTERNS.sub(MASK, text)
        by_value = self._by_value
        return by_value.sub(MASK, text) if by_value is not None else text


REDACTOR = Redactor()


def redact(text: str) -> str:
    """Replace configured secrets and anything that looks like a credential with ``[redacted]``."""
    return REDACTOR.redact(text)


def register_secrets(secrets: Iterable[str | None]) -> None:
    REDACTOR.register(secrets)


class LogRedaction(logging.Filter):
    """Redacts every record a handler emits (message and arguments rendered first, traceback text too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(names: Iterable[str] = ("", "uvicorn", "uvicorn.error", "uvicorn.access")) -> None:
    """Put ``LogRedaction`` on every handler of these loggers (once)."""
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, LogRedaction) for f in handler.filters):
                handler.addFilter(LogRedaction())
