"""Render a page as HTML or as its markdown twin, from one context.

A page is two templates, ``NAME.html`` (autoescaped) and ``NAME.md`` (markdown; every interpolated value goes through
the ``md`` filter, which escapes markdown and HTML syntax). The request path decides which one: a path ending in
``.md`` (or ``/llms.txt``) gets the markdown.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

NAV = (
    ("Models", "/models"),
    ("Arena", "/arena"),
    ("Playground", "/playground"),
    ("Gallery", "/gallery"),
    ("Usage", "/usage"),
)  # shown when the app has the route (other features add theirs)
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
        env.filters["num"] = format_num
        env.filters["msraw"] = format_ms_raw
        env.filters["taskname"] = task_name
        env.filters["lead"] = split_lead
        env.filters["urlq"] = url_quote
    return html, md


def format_usd(value: float | None) -> str:
    """Dollars as people read them: $0.134, $0.0011, $1.20; '—' for unknown."""
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) < 0.0001:
        return f"${value:.6f}"
    text = f"{value:.4f}".rstrip("0")
    return "$" + (text + "0" if len(text.split(".")[1]) < 2 else text)


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def format_ms_raw(value: float | None) -> str:
    """Milliseconds as the seed prints them: ``19586ms``."""
    return "n/a" if value is None else f"{value:.0f}ms"


def task_name(task: str) -> str:
    return {"text-to-image": "Text-to-Image", "image-editing": "Image Editing"}.get(task, task)


_LEAD = re.compile(r"^\*\*(.+?)\*\*\s*(.*)$", re.S)


def split_lead(line: str) -> tuple[str, str]:
    """``"**Title:** text"`` -> ``("Title:", "text")``; other lines -> ``("", line)``. Both parts are escaped by
    the template, so a catalog line can bold its lead-in and nothing else."""
    m = _LEAD.match(line.strip())
    return (m.group(1), m.group(2)) if m else ("", line)


def url_quote(value: object) -> str:
    """A URL for markdown text: characters that could start markup (spaces, brackets, angle brackets, ...) are
    percent-encoded; the URL's own syntax is kept."""
    return quote(str(value), safe=":/#?=&.%~+,;@!$'-_")


def format_num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def format_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


class PageRenderer:
    """One per app: the two Jinja environments and the values every page shows (base URL, nav)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.html, self.md = _environments()
        self.cache: dict[Any, Any] = {}  # values that only change with the catalog (per-image prices, ...)
        self._paths: tuple[Any, frozenset[str]] | None = None
        self._pages: dict[Hashable, tuple[bytes, str]] = {}  # rendered pages, see render_cached

    def registered(self, request: Request) -> frozenset[str]:
        """The paths of the app's routes (static paths only): the nav and the links show only pages that exist."""
        app = request.app
        if self._paths is None or self._paths[0] is not app:
            paths = {getattr(r, "path", "") for r in getattr(app, "routes", ())}
            self._paths = (app, frozenset(p.rstrip("/") or "/" for p in paths if p))
        return self._paths[1]

    def globals(self, request: Request) -> dict[str, Any]:
        registered = self.registered(request)
        return {
            "base_url": self.base_url,
            "api_base": self.base_url + "/v1",
            "path": request.url.path,
            "html_path": html_path(request.url.path),
            "nav": [(label, href) for label, href in NAV if href in registered],
        }

    def render(self, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        body, media_type = self._body(request, name, context)
        return Response(body, status_code=status_code, media_type=media_type)

    def _body(self, request: Request, name: str, context: dict[str, Any]) -> tuple[bytes, str]:
        values = {**self.globals(request), **context}
        if wants_markdown(request.url.path):
            return self.md.get_template(f"{name}.md").render(values).encode(), MARKDOWN_MEDIA_TYPE
        return self.html.get_template(f"{name}.html").render(values).encode(), "text/html; charset=utf-8"

    async def render_cached(
        self, request: Request, name: str, key: Hashable, build: Callable[[], Awaitable[dict[str, Any]]]
    ) -> Response:
        """Render once per ``key`` (which must name everything the page shows that can change: the path, the
        performance snapshot, the arena summary...), then serve the bytes."""
        full = (name, request.url.path, key)
        hit = self._pages.get(full)
        if hit is None:
            hit = self._body(request, name, await build())
            if len(self._pages) >= 512:
                self._pages.clear()
            self._pages[full] = hit
        return Response(hit[0], media_type=hit[1])


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
