"""Units of the playground: the session secret, the form's API request, the copied code."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

from imagegate.settings import Settings
from imagegate.web.playground_code import snippets
from imagegate.web.playground_form import PlaygroundInput
from imagegate.web.session import session_secret


def test_session_secret_from_setting_env_or_data_dir(tmp_path: Path) -> None:
    assert session_secret(Settings(data_dir=tmp_path, session_secret="s3cret")) == "s3cret"
    env = Settings.load(env={"IMAGEGATE_SESSION_SECRET": "from-env", "IMAGEGATE_DATA_DIR": str(tmp_path)})
    assert session_secret(env) == "from-env"
    made = session_secret(Settings(data_dir=tmp_path / "d"))
    assert len(made) >= 48 and (tmp_path / "d" / "session_secret").stat().st_mode & 0o077 == 0
    assert session_secret(Settings(data_dir=tmp_path / "d")) == made  # kept: a restart keeps sessions valid


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(session_secret(Settings(data_dir=tmp_path)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8


def test_form_fields_become_the_api_request() -> None:
    inp = PlaygroundInput(
        model="gpt-image-1",
        prompt="p",
        provider="openai",
        n="2",
        size_mode="size",
        size="1024x1536",
        aspect_ratio="16:9",
        output_format="webp",
        output_compression="70",
        quality="high",
        seed="",
        order="openai",
        sort="price",
        max_price="0.5",
    )
    fields = inp.api_fields()
    assert fields == {
        "model": "openai/gpt-image-1",
        "prompt": "p",
        "n": 2,
        "size": "1024x1536",
        "output_format": "webp",
        "output_compression": 70,
        "quality": "high",
        "provider": {"order": ["openai"], "sort": "price", "max_price": 0.5},
    }
    path, body, form = inp.api_request()
    assert path == "/v1/images/generations" and body is not None and body["response_format"] == "url"
    bad = PlaygroundInput(model="m", prompt="p", n="lots").api_fields()
    assert bad["n"] == "lots"  # sent as typed: the API answers with its own message


def test_copied_code_is_valid_and_never_holds_a_key() -> None:
    fields = {"model": "m", "prompt": 'it\'s "quoted" $HOME `x`', "aspect_ratio": "16:9", "seed": 7}
    code = snippets("http://gw/v1", "edit", fields, ["a b.png", "c.png"], "mask.png", auth=True)
    ast.parse(code["python"])
    assert "extra_body={'aspect_ratio': '16:9', 'seed': 7}" in code["python"]
    assert "-F 'image[]=@a b.png'" in code["curl"] and "-F mask=@mask.png" in code["curl"]
    assert "$IMAGEGATE_API_KEY" in code["curl"] and "process.env.IMAGEGATE_API_KEY" in code["javascript"]
    assert "'prompt=it'\"'\"'s \"quoted\" $HOME `x`'" in code["curl"]  # single-quoted: nothing expands


def test_curated_catalog_entries_and_the_arena_hook() -> None:
    from types import SimpleNamespace

    from imagegate.gallery.sources import arena_items, creator_slug, curated_items

    entry = SimpleNamespace(prompt="a bookstore", image="gallery/m/one.webp", task="text-to-image", title=None)
    model = SimpleNamespace(id="m", creator="Black Forest Labs", gallery=(entry,))
    bare = SimpleNamespace(id="n", creator="Google")  # a catalog without gallery entries: none shown
    items = curated_items(SimpleNamespace(models=lambda: [model, bare]))
    assert [(i["source"], i["model"], i["prompt"], i["thumb_url"]) for i in items] == [
        ("curated", "m", "a bookstore", "/static/gallery/m/one.webp")
    ]
    assert creator_slug(model) == "black-forest-labs" and creator_slug(bare) == "google"
    assert creator_slug(SimpleNamespace(creator="X", creator_slug="x-ai")) == "x-ai"
    assert arena_items(SimpleNamespace()) == []
    battle = {"id": "b1", "source": "competition", "model": "m"}
    arena = SimpleNamespace(gallery_items=lambda: [battle])
    assert arena_items(SimpleNamespace(arena=arena)) == [battle]
