"""The web catalog's rendering layer: markdown escaping and the HTML/markdown twin of a page."""

from __future__ import annotations

from imagegate.web.render import format_usd, html_path, md_code, md_escape, md_fence, wants_markdown


def test_md_escape_neutralises_markup_and_blocks() -> None:
    out = md_escape("<script>alert(1)</script> [x](javascript:y) *b*\n# h")
    assert "<" not in out.replace("\\<", "")
    assert "\\[x\\]\\(javascript:y\\)" in out
    assert "\n" not in out


def test_code_spans_and_fences_outgrow_backticks() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_fence("x\n```\ny", "py").startswith("````py\n")


def test_paths_pick_the_twin() -> None:
    assert wants_markdown("/models.md") and wants_markdown("/models/google/x/llms.txt") and wants_markdown("/llms.txt")
    assert not wants_markdown("/models")
    assert html_path("/index.md") == "/" and html_path("/models/a/b.md") == "/models/a/b"


def test_usd_formatting() -> None:
    assert format_usd(0.134) == "$0.134" and format_usd(0.0011) == "$0.0011" and format_usd(1.2) == "$1.20"
    assert format_usd(None) == "—"
