"""Record / replay / mock options: the ``X-Imagegate-Replay`` and ``X-Imagegate-Replay-Match`` headers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imagegate.core.errors import GatewayError, InvalidRequest

MODE_HEADER = "x-imagegate-replay"
MATCH_HEADER = "x-imagegate-replay-match"
MODES = ("off", "record", "replay-or-mock", "replay-or-error", "replay-or-live", "replay-or-record", "mock")
MATCHES = ("canonical", "body", "fields", "id")

# A key's default mode (API key id or None -> mode or None). The keys work plugs its per-key setting in here.
DefaultMode = Callable[[str | None], str | None]


class RecordingNotFound(GatewayError):
    status = 404
    code = "RECORDING_NOT_FOUND"
    type = "invalid_request_error"


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    mode: str = "off"
    match: str = "canonical"
    fields: tuple[str, ...] = ()
    recording_id: str | None = None

    @property
    def replays(self) -> bool:
        return self.mode.startswith("replay-")

    def match_text(self) -> str:
        if self.match == "fields":
            return "fields:" + ",".join(self.fields)
        if self.match == "id":
            return f"id:{self.recording_id}"
        return self.match

    def encode(self) -> str:
        """``mode|match`` (stored with a job)."""
        return f"{self.mode}|{self.match_text()}"

    @classmethod
    def decode(cls, text: str | None) -> ReplayOptions:
        if not text:
            return cls()
        mode, _, match = text.partition("|")
        return parse_options(mode, match or None)


def _parse_match(value: str) -> tuple[str, tuple[str, ...], str | None]:
    kind, sep, arg = value.strip().partition(":")
    kind = kind.strip().lower()
    if kind in ("canonical", "body") and not sep:
        return kind, (), None
    if kind == "fields" and sep:
        names = tuple(sorted({n.strip() for n in arg.split(",") if n.strip()}))
        if names:
            return kind, names, None
    if kind == "id" and sep and arg.strip():
        return kind, (), arg.strip()
    raise InvalidRequest(
        f"Invalid X-Imagegate-Replay-Match {value!r}: expected canonical, body, fields:a,b,c or id:<recording id>.",
        param="X-Imagegate-Replay-Match",
    )


def parse_options(mode: str | None, match: str | None, default_mode: str | None = None) -> ReplayOptions:
    """Options from the two headers; ``default_mode`` (the key's, else the gateway's) when no mode header is sent."""
    chosen = (mode or default_mode or "off").strip().lower()
    if chosen not in MODES:
        raise InvalidRequest(
            f"Invalid X-Imagegate-Replay {mode!r}. Supported values are: {', '.join(MODES)}.",
            param="X-Imagegate-Replay",
        )
    kind, names, rec_id = _parse_match(match) if match else ("canonical", (), None)
    return ReplayOptions(mode=chosen, match=kind, fields=names, recording_id=rec_id)
