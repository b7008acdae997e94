"""The web catalog's pages, in process: the seed's sections and facts, arena sections from an injected arena,
escaping of catalog and user strings, 404s, redirects, pages_public, public_base_url and the JSON Schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from imagegate.api.app import create_app
from imagegate.settings import Settings

SEED = Path(__file__).parent / "data" / "seed_model_page.txt"  # a copy of shared/seed/000_5a8dda6f56cba31f.txt
PAGE = "/models/google/gemini-3-pro-image-preview"
SEED_H2 = [
    "Quick Reference", "Specifications", "Model Identifiers", "Dates", "Tags", "Available Providers",
    "Performance Metrics", "Arena Benchmarks", "Use Cases & Category Performance", "Image Gallery", "Example Prompt",
    "Code Examples", "About", "Overview", "Strengths", "Limitations", "Technical Background", "Best For",
    "Frequently Asked Questions", "Links",
]  # fmt: skip

EVIL = """
models:
  - id: evil-model
    name: "Evil <b>Name</b>"
    creator: Evil Corp
    creator_slug: evil
    aliases: ["<script>alert('alias')</script>"]
    example_prompt: "<img src=x onerror=alert('prompt')>"
    tasks: [text-to-image]
    gallery:
      - prompt: "<script>alert('gallery')</script>"
        image: gallery/gemini-3-pro-image-preview/bookstore.webp
    offers:
      - provider: replicate
        provider_name: "Rep <i>licate</i>"
        provider_model_id: evil/model
        config_key: replicate/evil-model
        pricing:
          source_url: "javascript:alert('url')"
          effective_at: 2026-01-01
          components: [{type: output, metric: image, unit_price: 0.01}]
"""


def seed_text() -> str:
    return SEED.read_text()


def plain(md: str) -> str:
    """Markdown text as the reader sees it, whitespace collapsed (to compare with the flattened seed)."""
    md = re.sub(r"\\(.)", r"\1", md).replace("&amp;", "&")
    return " ".join(md.split())


class FakeArena:
    """The seed's arena figures in ``model_summary``'s shape."""

    def __init__(self, seed: str) -> None:
        arena = seed.split("## Arena Benchmarks", 1)[1].split("## Use Cases", 1)[0]
        cats = seed.split("## Use Cases & Category Performance", 1)[1].split("## Image Gallery", 1)[0]
        comp = r"### (.+?) - Elo: (\d+) - Record: (\d+)W / (\d+)L / (\d+)T \((\d+) battles\) - Rank: #(\d+) of (\d+)"
        self.competitions = [
            {"slug": t.lower().replace(" ", "-"), "title": t, "rating": float(e), "wins": int(w), "losses": int(ls),
             "ties": int(ti), "battles": int(b), "rank": int(r), "of": int(o)}
            for t, e, w, ls, ti, b, r, o in re.findall(comp, arena)
        ]  # fmt: skip
        cat = (
            r"### (.+?) \((Text-to-Image|Image Editing)\) - Rank: #(\d+) of (\d+) - Elo: (\d+) - Record: (\d+)W / "
            r"(\d+)L / (\d+)T \((\d+) battles\) - Win Rate: ([\d.]+)%"
        )
        tasks = {"Text-to-Image": "text-to-image", "Image Editing": "image-editing"}
        self.categories = [
            {"slug": t.lower(), "title": t, "task": tasks[k], "rank": int(r), "of": int(o), "rating": float(e),
             "wins": int(w), "losses": int(ls), "ties": int(ti), "battles": int(b), "win_rate": float(wr) / 100}
            for t, k, r, o, e, w, ls, ti, b, wr in re.findall(cat, cats)
        ]  # fmt: skip
        self.asked: list[str] = []

    def model_summary(self, model_id: str) -> dict:
        self.asked.append(model_id)
        if model_id != "gemini-3-pro-image-preview":
            return {"competitions": [], "categories": []}
        return {"competitions": self.competitions, "categories": self.categories}


def make_client(tmp_path: Path, **overrides) -> TestClient:
    catalog = tmp_path / "catalog"
    catalog.mkdir(exist_ok=True)
    (catalog / "evil.yaml").write_text(EVIL)
    settings = Settings.load(env={}, data_dir=tmp_path / "data", **overrides)
    settings.catalog_dirs = [catalog]
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with make_client(tmp_path_factory.mktemp("web"), public_base_url="https://images.example.com") as c:
        yield c


@pytest.fixture
def arena(client: TestClient) -> Iterator[FakeArena]:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.arena = FakeArena(seed_text())
    yield services.arena
    del services.arena


def test_the_seed_headings_list_is_the_seeds() -> None:
    seed = seed_text()
    assert [h for h in SEED_H2 if f"## {h} " in seed] == SEED_H2
    assert len(re.findall(r"(?:^| )## ", seed)) == len(SEED_H2)


def test_markdown_page_has_every_seed_heading_in_order(client: TestClient) -> None:
    r = client.get(PAGE + ".md")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    headings = re.findall(r"^## (.+)$", r.text, flags=re.M)
    assert [h.replace("\\", "").replace("&amp;", "&") for h in headings] == SEED_H2
    assert r.text.startswith("# Nano Banana Pro\n\n> Gemini 3 Pro with image generation capabilities.")
    seed = seed_text()
    for h3 in ("Text to Image (Generation)", "Image Editing", "How much does Nano Banana Pro cost?",
               "What can Nano Banana Pro do?", "How do I use Nano Banana Pro via API?",
               "Which providers offer Nano Banana Pro?"):  # fmt: skip
        assert f"### {h3} " in seed and f"\n### {h3.replace('?', '?')}\n" in plain_lines(r.text)
    body = plain(r.text)
    for fact in ("Model ID: gemini-3-pro-image-preview", "Creator: Google", "Status: active", "Family: gemini-3",
                 "Context Window: 1048576 tokens", "Max Input Images: 900", "Max Output Tokens: 65536",
                 "Input Modalities: text, image, audio, video, file", "Output Modalities: text, image",
                 "Primary Slug: gemini-3-pro-image-preview", "Alternative Names: Nano Banana Pro",
                 "Released: November 2025", "## Tags multimodal, reasoning, image-generation, long-context",
                 "Base URL: https://images.example.com/v1"):  # fmt: skip
        assert fact in body, fact
    for section in ("## Overview", "## Strengths", "## Limitations", "## Technical Background", "## Best For"):
        seed_part = seed.split(section + " ", 1)[1].split(" ## ", 1)[0]
        assert seed_part.split(" Gemini 3 Pro Image Preview is available through")[0] in body


def plain_lines(md: str) -> str:
    return "\n" + "\n".join(re.sub(r"\\(.)", r"\1", line) for line in md.splitlines()) + "\n"


def _seed_offers(seed: str) -> dict[str, dict]:
    block = seed.split("## Available Providers", 1)[1].split("## Performance Metrics", 1)[0]
    out = {}
    for name, body in re.findall(r"### (.+?) - (Config Key: .+?)(?= ### |$)", block.strip()):
        comps = re.search(r"components: (\[.*?\]) - source_url", body).group(1)  # type: ignore[union-attr]
        notes = re.search(r"notes: (\[.*?\]) - source:", body).group(1)  # type: ignore[union-attr]
        out[name] = {
            "config_key": re.search(r"Config Key: (\S+)", body).group(1),  # type: ignore[union-attr]
            "provider_model_id": re.search(r"Provider Model ID: (\S+)", body).group(1),  # type: ignore[union-attr]
            "components": json.loads(comps.replace(" => ", ": ")),
            "notes": json.loads(notes),
            "source_url": re.search(r"source_url: (\S+)", body).group(1),  # type: ignore[union-attr]
            "effective_at": re.search(r"effective_at: (\S+)", body).group(1),  # type: ignore[union-attr]
        }
    return out


def _page_offers(md: str) -> dict[str, dict]:
    block = md.split("## Available Providers", 1)[1].split("## Performance Metrics", 1)[0]
    out = {}
    for chunk in block.split("\n### ")[1:]:
        name = re.sub(r"\\(.)", r"\1", chunk.splitlines()[0])
        out[name] = {
            "config_key": re.search(r"- Config Key: (\S+)", chunk).group(1),  # type: ignore[union-attr]
            "provider_model_id": re.search(r"- Provider Model ID: (\S+)", chunk).group(1),  # type: ignore[union-attr]
            "components": json.loads(re.search(r"components: `(.*?)`", chunk).group(1)),  # type: ignore[union-attr]
            "notes": json.loads(re.search(r"notes: `(.*?)`", chunk).group(1)),  # type: ignore[union-attr]
            "source_url": re.search(r"source_url: (\S+)", chunk).group(1),  # type: ignore[union-attr]
            "effective_at": re.search(r"effective_at: (\S+)", chunk).group(1),  # type: ignore[union-attr]
        }
    return out


def test_providers_and_price_components_equal_the_seeds(client: TestClient) -> None:
    seed = _seed_offers(seed_text())
    page = _page_offers(client.get(PAGE + ".md").text)
    assert set(seed) == {"Gemini API", "Replicate", "fal.ai", "Vertex AI"}
    assert page == seed


def test_per_image_costs_come_from_the_pricing_engine(client: TestClient) -> None:
    md = client.get(PAGE + ".md").text
    gemini = md.split("### Gemini API", 1)[1].split("###", 1)[0]
    assert "| 1K | $0.1344 | $0.067 |" in gemini and "| 4K | $0.24 | $0.12 |" in gemini
    fal = md.split("### fal.ai", 1)[1].split("###", 1)[0]
    assert "| 4K | $0.30 |" in fal or "| 4K | $0.3 |" in fal
    assert "starts at $0.067 per image" in md


def test_arena_sections_render_the_arenas_summary(client: TestClient, arena: FakeArena) -> None:
    seed = seed_text()
    md = client.get(PAGE + ".md").text
    got = plain(md.split("## Arena Benchmarks", 1)[1].split("## Image Gallery", 1)[0])
    want = seed.split("## Arena Benchmarks ", 1)[1].split(" ## Image Gallery", 1)[0]
    assert got == want
    assert "Competition results: 18" in md and "23 images available for this model." in md
    html = client.get(PAGE).text
    assert "Man and Car in California" in html and "No battles yet" not in html
    assert "gemini-3-pro-image-preview" in arena.asked
    listing = client.get("/models.md?sort=rating").text
    assert listing.index("Nano Banana Pro") < listing.index("GPT Image 1")


def test_without_an_arena_the_sections_say_no_battles_yet(client: TestClient) -> None:
    md = client.get(PAGE + ".md").text
    arena = md.split("## Arena Benchmarks", 1)[1].split("## Image Gallery", 1)[0]
    assert arena.count("No battles yet.") == 2
    assert client.get(PAGE).text.count("No battles yet.") == 2


def test_code_examples_use_this_gateways_base_url_model_and_key(client: TestClient) -> None:
    md = client.get(PAGE + ".md").text
    code = md.split("## Code Examples", 1)[1].split("## About", 1)[0]
    assert code.count("https://images.example.com/v1") == 6
    assert 'model: "gemini-3-pro-image-preview"' in code and 'model="gemini-3-pro-image-preview"' in code
    assert "$IMAGEGATE_API_KEY" in code and 'os.environ["IMAGEGATE_API_KEY"]' in code
    assert "process.env.IMAGEGATE_API_KEY" in code
    links = md.split("## Links", 1)[1]
    assert "https://images.example.com/models/google/gemini-3-pro-image-preview/providers" in links


def test_catalog_and_user_strings_are_escaped(client: TestClient) -> None:
    for path in ("/models/evil/evil-model", "/models/evil/evil-model/providers", "/models/evil/evil-model/api",
                 "/models", "/"):  # fmt: skip
        html = client.get(path).text
        assert "<script>alert" not in html and "<b>Name</b>" not in html and "<i>licate" not in html, path
        assert "<img src=x" not in html and 'href="javascript:' not in html, path
    html = client.get("/models/evil/evil-model").text
    assert "&lt;script&gt;alert(&#39;alias&#39;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#39;gallery&#39;)&lt;/script&gt;" in html
    md = client.get("/models/evil/evil-model.md").text
    assert not re.search(r"(?<!\\)<", md)  # every angle bracket escaped
    assert "\\<script\\>alert\\('alias'\\)\\</script\\>" in md
    q = client.get("/models", params={"creator": "<script>alert('q')</script>"})
    assert q.status_code == 200 and "<script>alert('q')" not in q.text and "&lt;script&gt;alert(&#39;q&#39;)" in q.text
    qmd = client.get("/models.md", params={"tag": "<script>x</script>"}).text
    assert "<script>" not in qmd and "\\<script\\>x" in qmd
    bad = client.get("/models", params={"sort": "<b>x</b>"})
    assert bad.status_code == 400 and "<b>x</b>" not in bad.text and "&lt;b&gt;x&lt;/b&gt;" in bad.text


def test_models_list_filters_and_sorts(client: TestClient) -> None:
    md = client.get("/models.md").text
    assert all(name in md for name in ("Nano Banana Pro", "Nano Banana", "GPT Image 1", "Evil"))
    google = client.get("/models.md?creator=google").text
    assert "GPT Image 1" not in google and "Nano Banana Pro" in google
    tag = client.get("/models.md?tag=long-context").text
    assert "Nano Banana Pro" in tag and "GPT Image 1" not in tag
    edit = client.get("/models.md?task=image-editing").text
    assert "Evil" not in edit and "GPT Image 1" in edit
    by_price = client.get("/models.md?sort=price").text
    rows = [line for line in by_price.splitlines() if line.startswith("| [")]
    found = [re.search(r"\| \$([\d.]+) \|", r) for r in rows]
    prices = [float(m.group(1)) for m in found if m]
    assert prices == sorted(prices) and len(prices) >= 4
    assert all(m is None for m in found[len(prices) :])  # models without a published price come last
    html = client.get("/models?sort=latency&creator=openai").text
    assert "GPT Image 1" in html and "Nano Banana Pro" not in html


def test_unknown_models_get_a_404_page_and_aliases_redirect(client: TestClient) -> None:
    r = client.get("/models/google/no-such-model")
    assert r.status_code == 404 and "Model not found" in r.text and r.headers["content-type"].startswith("text/html")
    r = client.get("/models/google/no-such-model.md")
    assert r.status_code == 404 and r.text.startswith("# Model not found")
    assert client.get("/models/nobody/no-such-model/providers").status_code == 404
    r = client.get("/models/google/nano-banana-pro.md", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == PAGE + ".md"
    r = client.get("/models/openai/gemini-3-pro-image-preview/api", follow_redirects=False)
    assert r.headers["location"] == PAGE + "/api"


def test_every_page_has_a_markdown_twin_and_llms_txt(client: TestClient) -> None:
    for path in ("/", "/models", PAGE, PAGE + "/providers", PAGE + "/api"):
        html = client.get(path)
        md = client.get("/index.md" if path == "/" else path + ".md")
        assert html.status_code == md.status_code == 200, path
        assert html.headers["content-type"].startswith("text/html") and md.text.startswith("# "), path
    assert client.get(PAGE + "/llms.txt").text == client.get(PAGE + ".md").text
    index = client.get("/llms.txt").text
    assert "https://images.example.com/models/google/gemini-3-pro-image-preview/llms.txt" in index
    assert "https://images.example.com/models/openai/gpt-image-1/api.md" in index


def test_providers_page_shows_the_routers_order(client: TestClient) -> None:
    md = client.get(PAGE + "/providers.md").text
    assert "## Which offer the router prefers now" in md and "| 1 | Placeholder" in md
    assert "| Gemini API | no | $0.1344 | $0.067 | $0.1344 | $0.067 | $0.24 | $0.12 |" in md


def test_api_page_and_json_schema(client: TestClient) -> None:
    md = client.get(PAGE + "/api.md").text
    assert "## Generation (POST /v1/images/generations)" in md and "## Editing (POST /v1/images/edits)" in md
    assert "| `size` | string |  | converted: to imageConfig aspectRatio \\+ imageSize |" in md
    body = client.get("/v1/models/gemini-3-pro-image-preview", params={"schema": "true"}).json()
    gen, edit = body["schema"]["generation"], body["schema"]["editing"]
    assert gen["required"] == ["model", "prompt"] and "image" in edit["required"]
    assert gen["properties"]["n"]["maximum"] == 10
    assert gen["properties"]["resolution"]["x-imagegate-providers"]["vertex"]["treatment"] == "renamed"
    assert gen["properties"]["n"]["x-imagegate-providers"]["fal"]["treatment"] == "renamed"
    assert "schema" not in client.get("/v1/models/gemini-3-pro-image-preview").json()


def test_nav_shows_only_registered_pages(client: TestClient) -> None:
    html = client.get("/").text
    nav = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="(/[^"]*)"', nav)
    assert "/models" in links
    registered = {getattr(r, "path", None) for r in client.app.routes}  # type: ignore[attr-defined]
    assert all(link in registered for link in links)  # only pages that exist on this gateway
    assert {"/arena", "/playground", "/gallery", "/usage"} & registered == {
        "/arena",
        "/playground",
        "/gallery",
        "/usage",
    } & set(links)


def test_pages_behind_a_key_when_not_public(tmp_path: Path) -> None:
    with make_client(tmp_path, pages_public=False, master_key="sk-master-test") as c:
        assert c.get(PAGE).status_code == 401
        assert c.get(PAGE + ".md").status_code == 401
        assert c.get(PAGE, headers={"Authorization": "Bearer sk-master-test"}).status_code == 200
        assert "sk-master-test" not in c.get(PAGE, headers={"Authorization": "Bearer sk-master-test"}).text


def test_arena_summary_reads_an_injected_arena_sync_or_async() -> None:
    import asyncio
    from types import SimpleNamespace

    from imagegate.web.model_data import arena_rating, arena_summary

    fake = FakeArena(seed_text())
    got = asyncio.run(arena_summary(SimpleNamespace(arena=fake), "gemini-3-pro-image-preview"))
    assert len(got["competitions"]) == 18 and len(got["categories"]) == 7
    assert got["competitions"][0] == {"slug": "man-and-car-in-california", "title": "Man and Car in California",
                                      "rating": 1292.0, "wins": 53, "losses": 26, "ties": 1, "battles": 80,
                                      "rank": 1, "of": 13}  # fmt: skip
    assert asyncio.run(arena_summary(SimpleNamespace(), "x")) == {"competitions": [], "categories": []}

    class AsyncArena:
        async def model_summary(self, model_id: str) -> None:
            return None

    assert asyncio.run(arena_summary(SimpleNamespace(arena=AsyncArena()), "x")) == {
        "competitions": [],
        "categories": [],
    }
    rating = arena_rating(got)
    assert rating is not None and 1127 < rating < 1292
    assert arena_rating({"rating": 1300, "competitions": []}) == 1300
    assert arena_rating({"competitions": [], "categories": []}) is None
