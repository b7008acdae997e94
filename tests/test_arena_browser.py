"""Headless Chromium on the arena: vote with a key press, see the names revealed, see the board change; and the
same vote without JavaScript (form POST)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers_server import ServerProcess
from tests.web import browser as browser_support

ARTIFACTS = browser_support.ARTIFACTS / "arena"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("arena-browser") / "data", env={"IMAGEGATE_ARENA_SIZE": "512x512"})
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_support.chromium() as b:
        yield b


def _battles_on_board(page: Page, url: str) -> int:
    page.goto(url)
    meta = page.locator(".arena-board-meta").inner_text()
    match = re.match(r"(\d+) battle", meta)
    assert match, meta
    return int(match.group(1))


def test_vote_with_a_key_reveals_the_names_and_moves_the_board(server: ServerProcess, browser: Browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    board_url = server.url + "/arena?task=text-to-image"
    before = _battles_on_board(page, board_url)
    page.goto(server.url + "/arena/vote?task=text-to-image")
    expect(page.locator("#side-a img")).to_be_visible()
    assert page.locator("#name-a").inner_text() == "" and page.locator("#name-b").inner_text() == ""
    page.screenshot(path=str(ARTIFACTS / "vote-before.png"), full_page=True)
    page.keyboard.press("1")
    expect(page.locator("#name-a")).not_to_be_empty()
    expect(page.locator("#name-b")).not_to_be_empty()
    expect(page.locator("#side-a")).to_have_class(re.compile("winner"))
    expect(page.locator("#result")).to_contain_text("You voted A")
    expect(page.locator("#vote-form")).to_be_hidden()
    winner = page.locator("#name-a").inner_text()
    page.screenshot(path=str(ARTIFACTS / "vote-after.png"), full_page=True)
    page.keyboard.press("3")  # a second key press after the vote does nothing
    expect(page.locator("#result")).to_contain_text("You voted A")

    page.keyboard.press("n")  # the next battle
    page.wait_for_url(re.compile(r"/arena/vote\?task=text-to-image$"))
    expect(page.locator("#vote-form")).to_be_visible()

    assert _battles_on_board(page, board_url) == before + 1
    model_id = winner.rsplit("(", 1)[1].rstrip(")")
    row = page.locator(f'tr[data-model="{model_id}"]')
    expect(row).to_be_visible()
    expect(row.locator("svg.ci")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
    page.close()


def test_vote_without_javascript(server: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url + "/arena/vote?task=image-editing")
    expect(page.locator(".arena-inputs img")).to_have_count(1)
    page.get_by_role("button", name="B is better").click()
    page.wait_for_url(re.compile(r"voted=battle_"))
    expect(page.locator("#result")).to_contain_text("You voted B")
    expect(page.locator("#name-b")).not_to_be_empty()
    expect(page.locator("#side-b")).to_have_class(re.compile("winner"))
    page.screenshot(path=str(ARTIFACTS / "vote-no-js.png"), full_page=True)
    context.close()
