"""Shared upstream plumbing: ``Retry-After`` in both its forms, what counts as an answer."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from multidict import CIMultiDict

from imagegate.providers.fal import map_error
from imagegate.providers.http import ok, retry_after_seconds

NOW = datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC).timestamp()


def headers(**kv: str) -> CIMultiDict[str]:
    return CIMultiDict({k.replace("_", "-"): v for k, v in kv.items()})


def test_retry_after_in_seconds_and_milliseconds() -> None:
    assert retry_after_seconds(headers(Retry_After="7")) == 7.0
    assert retry_after_seconds(headers(retry_after_ms="1500", Retry_After="9")) == 1.5
    assert retry_after_seconds(headers()) is None
    assert retry_after_seconds(None) is None


def test_retry_after_as_an_http_date_is_honoured() -> None:
    """RFC 9110: ``Retry-After: <http-date>``; only the seconds form was read before (issue 9)."""
    when = datetime(2026, 12, 1, 20, 0, 42, tzinfo=UTC)
    assert retry_after_seconds(headers(Retry_After=format_datetime(when, usegmt=True)), now=NOW) == 42.0
    assert retry_after_seconds(headers(Retry_After="Tue, 01 Dec 2026 20:01:00 GMT"), now=NOW) == 60.0
    assert retry_after_seconds(headers(Retry_After="Tue, 01 Dec 2026 19:00:00 GMT"), now=NOW) == 0.0  # past
    assert retry_after_seconds(headers(Retry_After="soon")) is None


def test_an_adapter_passes_the_date_form_on() -> None:
    err = map_error("fal", 429, b'{"detail":"slow down"}', headers(Retry_After="Tue, 01 Dec 2099 20:00:00 GMT"))
    assert err.retry_after is not None and err.retry_after > 3600


def test_every_2xx_is_an_answer() -> None:
    assert ok(200) and ok(201) and ok(202) and ok(204)
    assert not ok(199) and not ok(301) and not ok(400)
