"""Render a page as HTML or as its markdown twin, from one context.

A page is two templates, ``NAME.html`` (autoescaped) and ``NAME.md`` (markdown; every interpolated value goes through
the ``md`` filter, which escapes markdown and HTML syntax). The request path decides which one: a path ending in
``.md`` (or ``/llms.txt``) gets the markdown.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

MARKDOWN_MEDIA_TYPE = "text/markdown; charset=utf-8"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(value: object) -> str:
    """Escape a value for markdown text: markdown punctuation and HTML angle brackets are backslash-escaped,
    newlines become spaces (a value never starts a new block)."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object) -> str:
    """A value as inline code: backticks cannot be escaped in a code span, so the fence outgrows the longest run."""
    text = "" if value is None else str(value).replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(value: object, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside it."""
    text = "" if value is None else str(value)
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def _environments() -> tuple[Environment, Environment]:
    loader = PackageLoader("imagegate", "web/templates")
    html = Environment(loader=loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined)
    md = Environment(loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
    for env in (html, md):
        env.filters["md"] = md_escape
        env.filters["mdcode"] = md_code
        env.filters["mdfence"] = md_fence
        env.filters["usd"] = format_usd
        env.filters["ms"] = format_ms
        env.filters["pct"] = format_pct
    return html, md


def format_usd(value: float | None) -> str:
    """Dollars as people read them: $0.134, $0.0011, $1.20; '—' for unknown."""
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return "$" + f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) >= 0.0001 else f"${value:.6f}"


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def format_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


class PageRenderer:
    """One per app: the two Jinja environments and the values every page shows (base URL, nav)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.html, self.md = _environments()

    def globals(self, request: Request) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "api_base": self.base_url + "/v1",
            "path": request.url.path,
            "html_path": html_path(request.url.path),
        }

    def render(self, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        values = {**self.globals(request), **context}
        if wants_markdown(request.url.path):
            body = self.md.get_template(f"{name}.md").render(values)
            return Response(body, status_code=status_code, media_type=MARKDOWN_MEDIA_TYPE)
        body = self.html.get_template(f"{name}.html").render(values)
        return HTMLResponse(body, status_code=status_code)


def wants_markdown(path: str) -> bool:
    return path.endswith(".md") or path.endswith("/llms.txt") or path == "/llms.txt"


def html_path(path: str) -> str:
    """The HTML page a markdown path is the twin of ('/models.md' -> '/models', '/index.md' -> '/')."""
    if path.endswith("/llms.txt"):
        path = path[: -len("/llms.txt")] or "/"
    elif path.endswith(".md"):
        path = path[:-3]
    if path in ("/index", ""):
        return "/"
    return path


def render_markup(text: str) -> Markup:
    """Trusted, already-escaped HTML built by our own code (e.g. an SVG chart)."""
    return Markup(text)
