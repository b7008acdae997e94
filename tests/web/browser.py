"""Headless Chromium (Debian's ``chromium``) driven by Playwright, for every browser test: one browser per module
(``chromium``), every request to another host blocked and recorded, console errors and page errors collected.
Screenshots go under ``artifacts/`` (git-ignored), or ``$IMAGEGATE_ARTIFACTS``."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image
from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("IMAGEGATE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


@dataclass
class Watch:
    """What a page did that it must not: requests to other hosts, console errors, uncaught exceptions."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, context) -> None:  # type: ignore[no-untyped-def]
        def route(r) -> None:  # type: ignore[no-untyped-def]
            url = r.request.url
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
                r.continue_()
            else:
                self.foreign.append(url)
                r.abort()

        context.route("**/*", route)

    def page(self, context):  # type: ignore[no-untyped-def]
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def assert_clean(self) -> None:
        assert self.foreign == [], f"requests to other hosts: {self.foreign}"
        assert self.errors == [], f"console errors: {self.errors}"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str, width: int) -> Path:  # type: ignore[no-untyped-def]
    """A full-page screenshot at ``width`` px wide, to ``artifacts/web`` (not committed)."""
    (ARTIFACTS / "web").mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top of a full-page shot
    path = ARTIFACTS / "web" / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def png_file(path: Path, color: tuple[int, int, int], size: int = 64, mode: str = "RGB") -> Path:
    buf = io.BytesIO()
    Image.new(mode, (size, size), color if mode == "RGB" else (*color, 0)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path
