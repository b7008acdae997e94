"""The playground and the gallery in headless Chromium, against ``imagegate serve`` in front of the provider fakes:
estimate, generate, publish, find it in the gallery; an edit with two images and a mask; a refusal in place."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import running_fleet, running_gateway
from tests.helpers_server import ServerProcess
from tests.web.browser import Watch, chromium, png_file, screenshot

MODEL = "gemini-3-pro-image-preview"
EDIT_MODEL = "gpt-image-1"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}
    with running_gateway(tmp_path_factory.mktemp("pg") / "data", env) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.fixture
def watch(gateway: ServerProcess, fleet: ThreadedFleet) -> Iterator[Watch]:
    yield Watch(origin=gateway.url)
    for state in fleet.fleet.states.values():  # no forced fault leaks into the next test
        fleet.call(state.injector.forced.clear)


def open_page(browser, watch: Watch, url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch.attach(context)
    page = watch.page(context)
    page.goto(url)
    return page


def test_generate_publish_and_find_in_gallery(browser, gateway: ServerProcess, watch: Watch) -> None:  # type: ignore[no-untyped-def]
    page = open_page(browser, watch, f"{gateway.url}/playground?model={MODEL}")
    page.fill("#pg-prompt", "a red fox in fresh snow, golden hour")
    page.select_option("#pg-aspect", "16:9")
    page.select_option("#pg-resolution", "2K")
    estimates = page.locator(".pg-est-table tbody tr")
    estimates.first.wait_for()
    page.wait_for_function("document.querySelectorAll('.pg-est-table tbody tr').length >= 4")
    table = page.inner_text(".pg-est-table")
    for provider in ("gemini", "vertex", "replicate", "fal"):
        assert provider in table
    assert "$0.134" in table  # the Gemini API's 2K output image, from the catalog's price
    assert page.locator(".pg-chosen").count() == 1

    page.click("#pg-run")
    page.locator(".pg-done").wait_for()
    assert re.match(r"Done in \d+\.\d s", page.inner_text("#pg-status"))  # the elapsed time, ticking while it ran
    provider = page.inner_text(".pg-provider")
    assert provider in ("Gemini API", "Google Vertex AI", "Replicate", "fal.ai")
    assert page.inner_text(".pg-cost").startswith("$0.1")
    assert re.match(r"\d", page.inner_text(".pg-latency"))
    assert page.locator(".pg-attempt.pg-ok").count() >= 1
    src = page.get_attribute(".pg-images img", "src")
    assert src and src.startswith(gateway.url + "/files/")
    assert page.evaluate("document.querySelector('.pg-images img').naturalWidth") > 0
    curl = page.text_content("#pg-code-curl")
    assert "/v1/images/generations" in curl and '"aspect_ratio": "16:9"' in curl
    assert "client.images.generate(" in page.text_content("#pg-code-python")
    assert "client.images.generate({" in page.text_content("#pg-code-javascript")
    python_code = page.text_content("#pg-code-python")
    curl_code = page.text_content("#pg-code-curl")
    page.locator("#pg-history .pg-hist-item").first.wait_for()
    screenshot(page, "playground-result", 1280)
    screenshot(page, "playground-result", 390)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click(".pg-images button:has-text('Publish to the gallery')")
    page.locator(".pg-images a:has-text('In the gallery')").wait_for()
    page.locator("#pg-history .pg-badge:has-text('published')").wait_for()

    # A run from the history opens again, with its form filled in.
    page.click("#pg-history .pg-hist-prompt a")
    page.locator(".pg-done").wait_for()
    assert page.input_value("#pg-prompt") == "a red fox in fresh snow, golden hour"
    assert page.input_value("#pg-aspect") == "16:9" and page.input_value("#pg-resolution") == "2K"
    assert page.inner_text(".pg-provider") == provider

    page.goto(f"{gateway.url}/gallery")
    item = page.locator(".gl-item", has_text="a red fox in fresh snow")
    item.wait_for()
    facts = item.inner_text()
    assert "Nano Banana Pro" in facts and "$0.1" in facts
    thumb = item.locator("img")
    assert thumb.get_attribute("loading") == "lazy"
    assert thumb.get_attribute("src").endswith(".webp")
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "gallery", 1280)
    screenshot(page, "gallery", 390)

    page.goto(f"{gateway.url}/models/google/{MODEL}/gallery")
    assert page.locator(".gl-item", has_text="a red fox in fresh snow").count() == 1
    page.goto(f"{gateway.url}/gallery?model=gpt-image-1")
    assert page.locator(".gl-item", has_text="a red fox in fresh snow").count() == 0
    md = httpx.get(f"{gateway.url}/gallery.md").text
    assert "## a red fox in fresh snow, golden hour" in md
    watch.assert_clean()

    # The copied code is exactly this request: it runs as pasted and returns an image.
    ran = subprocess.run([sys.executable, "-c", python_code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().startswith(gateway.url + "/files/")
    out = subprocess.run(["bash", "-c", curl_code + " -s"], capture_output=True, text=True, timeout=60)
    answer = json.loads(out.stdout)
    assert answer["data"][0]["url"] and answer["metadata"]["model"] == MODEL


def test_edit_with_two_images_and_a_mask(
    browser,
    gateway: ServerProcess,
    fleet: ThreadedFleet,
    watch: Watch,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    first = png_file(tmp_path / "first.png", (200, 40, 40))
    second = png_file(tmp_path / "second.png", (40, 40, 200))
    mask = png_file(tmp_path / "mask.png", (0, 0, 0), mode="RGBA")
    seen_before = len(fleet.fleet.states["openai"].seen)
    page = open_page(browser, watch, f"{gateway.url}/playground?model={EDIT_MODEL}")
    page.fill("#pg-prompt", "put the two squares side by side")
    page.set_input_files("#pg-images", [str(first), str(second)])
    page.set_input_files("#pg-mask", str(mask))
    assert page.locator("#pg-previews img").count() == 2
    assert page.locator("#pg-mask-preview img").count() == 1
    assert page.inner_text("#pg-run") == "Edit"
    page.locator(".pg-est h3:has-text('edit')").wait_for()
    screenshot(page, "playground-edit", 1280)
    page.click("#pg-run")
    page.locator(".pg-done").wait_for()
    assert page.inner_text(".pg-provider") == "OpenAI"
    assert "image[]=@first.png" in page.text_content("#pg-code-curl")
    assert "mask=@mask.png" in page.text_content("#pg-code-curl")
    edits = [s for s in fleet.fleet.states["openai"].seen[seen_before:] if s["path"].endswith("/images/edits")]
    assert len(edits) == 1
    names = edits[0]["parts"]
    assert names.count("image[]") == 2 and names.count("mask") == 1, edits[0].get("parts")
    watch.assert_clean()


def test_content_policy_refusal_is_shown_in_place(
    browser,
    gateway: ServerProcess,
    fleet: ThreadedFleet,  # type: ignore[no-untyped-def]
    watch: Watch,
) -> None:
    fleet.call(fleet.fleet.states["fal"].injector.force, "content_policy")
    page = open_page(browser, watch, f"{gateway.url}/playground?model={MODEL}")
    page.fill("#pg-prompt", "something the provider refuses")
    page.locator("summary:has-text('Provider and routing')").click()
    page.select_option("#pg-provider", "fal")
    page.click("#pg-run")
    alert = page.locator("#pg-result [role=alert]")
    alert.wait_for()
    assert "content" in alert.inner_text().lower()
    assert page.locator(".pg-done").count() == 0
    screenshot(page, "playground-refusal", 1280)
    # A bad size is the API's own validation message, in the same place.
    page.check("input[name=size_mode][value=size]")
    page.fill("#pg-size", "huge")
    page.click("#pg-run")
    page.locator("#pg-result [role=alert]:has-text(\"Invalid value for 'size'\")").wait_for()
    # A budget refusal: no offer is under the maximum price.
    page.check("input[name=size_mode][value=aspect]")
    page.select_option("#pg-provider", "")
    page.fill("#pg-maxprice", "0.001")
    page.click("#pg-run")
    page.locator("#pg-result [role=alert]:has-text('price')").wait_for()
    assert page.locator(".pg-done").count() == 0
    watch.assert_clean()


def test_playground_without_javascript(browser, gateway: ServerProcess, watch: Watch) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    watch.attach(context)
    page = watch.page(context)
    page.goto(f"{gateway.url}/playground?model={MODEL}")
    page.fill("#pg-prompt", "a lighthouse at night, no script")
    page.click("#pg-run")
    page.locator(".pg-done").wait_for()
    assert page.inner_text(".pg-provider")
    page.click(".pg-images button:has-text('Publish to the gallery')")
    page.locator("#history").wait_for()
    page.locator("#pg-history .pg-badge:has-text('published')").wait_for()
    page.goto(f"{gateway.url}/gallery")
    item = page.locator(".gl-item", has_text="a lighthouse at night, no script")
    item.locator("button:has-text('Unpublish')").click()
    page.wait_for_url(f"{gateway.url}/gallery")
    assert page.locator(".gl-item", has_text="a lighthouse at night, no script").count() == 0
    watch.assert_clean()
