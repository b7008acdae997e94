"""The arena's pages: ``/arena`` (boards), ``/arena/vote`` (blind battles), ``/arena/{competition}``; each with its
``.md`` twin. Boards are read from the arena's last fit (never computed for a page view); confidence-interval bars
are SVG drawn here, so they show without JavaScript.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from imagegate.api.arena import voter_of, with_voter_cookie
from imagegate.arena.schema import TASK_TITLES, TASKS
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.web.render import render_markup
from imagegate.web.routes import page, page_endpoint

BAR_W, BAR_H = 220, 14


def ci_bars(rows: list[dict[str, Any]]) -> None:
    """Give each row an SVG bar: its 95 % interval on the board's common scale, a tick at the rating."""
    if not rows:
        return
    lo = min(r["lower"] for r in rows)
    hi = max(r["upper"] for r in rows)
    span = max(hi - lo, 1.0)
    lo, span = lo - span * 0.05, span * 1.1

    def x(v: float) -> float:
        return round((v - lo) / span * BAR_W, 1)

    for r in rows:
        x0, x1, xr = x(r["lower"]), x(r["upper"]), x(r["rating"])
        r["bar"] = render_markup(
            f'<svg class="ci" width="{BAR_W}" height="{BAR_H}" viewBox="0 0 {BAR_W} {BAR_H}" role="img" '
            f'aria-label="95% interval {r["lower"]:.0f} to {r["upper"]:.0f}">'
            f'<line x1="0" y1="7" x2="{BAR_W}" y2="7" class="ci-axis"/>'
            f'<rect x="{x0}" y="3" width="{max(x1 - x0, 1.5)}" height="8" rx="3" class="ci-range"/>'
            f'<rect x="{xr - 1.5}" y="1" width="3" height="12" class="ci-point"/></svg>'
        )


def _arena(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.services.arena


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.services.pages.render(request, name, context, status_code)


def _filters(svc: Any) -> dict[str, Any]:
    return {
        "tasks": [(t, TASK_TITLES[t]) for t in TASKS],
        "competitions": list(svc.competitions.values()),
        "categories": list(svc.categories.values()),
    }


async def arena_index(request: Request) -> Response:
    svc = _arena(request)
    q = request.query_params
    task = q.get("task") or "text-to-image"
    competition, category = q.get("competition") or None, q.get("category") or None
    try:
        board = svc.leaderboard(task, competition, category)
    except GatewayError as exc:
        board, competition, category = svc.leaderboard(task), None, None
        board["error"] = exc.message
    ci_bars(board["rows"])
    context = {
        "board": board,
        "task": task,
        "competition": competition,
        "category": category,
        "board_links": _board_links(svc),
        **_filters(svc),
    }
    return _render(request, "arena", context)


def _board_links(svc: Any) -> list[dict[str, Any]]:
    links = []
    for t in TASKS:
        links.append({"title": svc.board_title(("task", t)), "query": urlencode({"task": t}), "kind": "task"})
    for c in svc.categories.values():
        links.append({"title": c.title, "query": urlencode({"task": c.task, "category": c.slug}), "kind": "category"})
    return links


async def vote_page(request: Request) -> Response:
    svc = _arena(request)
    q = request.query_params
    task = q.get("task") or "text-to-image"
    voter, fresh = voter_of(request)
    voted_id = q.get("voted")
    context: dict[str, Any] = {"task": task, "tasks": [(t, TASK_TITLES[t]) for t in TASKS], "error": None}
    if request.method == "HEAD":  # a HEAD (link checker, crawler) never makes a battle
        return with_voter_cookie(Response(status_code=200, media_type="text/html; charset=utf-8"), fresh)
    try:
        if voted_id:
            battle = await svc.get_battle(voted_id)
        else:
            battle = await svc.battle(task, q.get("competition") or None)
        battle = _relative(svc, battle)
    except GatewayError as exc:
        context.update(battle=None, error=exc.message)
        return with_voter_cookie(_render(request, "arena_vote", context, exc.status), fresh)
    context["battle"] = battle
    return with_voter_cookie(_render(request, "arena_vote", context), fresh)


def _relative(svc: Any, battle: dict[str, Any]) -> dict[str, Any]:
    """Page images load from this host whatever the public base URL says."""
    base = svc.base_url
    for side in ("a", "b"):
        url = battle[side]["url"]
        if url and url.startswith(base):
            battle[side]["url"] = url[len(base) :]
    battle["input_images"] = [u[len(base) :] if u.startswith(base) else u for u in battle["input_images"]]
    return battle


async def vote_submit(request: Request) -> Response:
    """The vote form (no JavaScript: answers 303 to the revealed battle) or the page's script (JSON)."""
    svc = _arena(request)
    form = await request.form()
    battle_id, winner = str(form.get("battle_id") or ""), str(form.get("winner") or "")
    task = str(form.get("task") or "text-to-image")
    voter, fresh = voter_of(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        if not battle_id:
            raise InvalidRequest("Missing battle_id.", param="battle_id")
        body = _relative(svc, await svc.vote(battle_id, winner, voter))
    except GatewayError as exc:
        if wants_json:
            return JSONResponse(exc.body(), status_code=exc.status)
        raise
    if wants_json:
        return with_voter_cookie(JSONResponse(body), fresh)
    target = "/arena/vote?" + urlencode({"task": task, "voted": battle_id})
    return with_voter_cookie(RedirectResponse(target, status_code=303), fresh)


async def competition_page(request: Request) -> Response:
    svc = _arena(request)
    slug = request.path_params["competition"]
    slug = slug[:-3] if slug.endswith(".md") else slug
    comp = svc.competition(slug)
    board = svc.leaderboard(competition=comp.slug)
    ci_bars(board["rows"])
    recent = await svc.recent(comp.slug, limit=12)
    context = {
        "comp": comp,
        "board": board,
        "recent": recent,
        "inputs": [svc.input_url(comp, i, relative=True) for i in range(len(comp.input_images))],
        "categories": [svc.categories[k[1]] for k in svc.board_keys(comp.task, comp.slug) if k[0] == "category"],
        "task_title": TASK_TITLES[comp.task],
    }
    return _render(request, "arena_competition", context)


async def input_image(request: Request) -> Response:
    svc = _arena(request)
    try:
        index = int(request.path_params["index"])
    except ValueError:
        index = -1
    data, mime = svc.input_image(request.path_params["competition"], index)
    return Response(data, media_type=mime, headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[Route]:
    return [
        *page("/arena", arena_index),
        Route("/arena/vote", page_endpoint(vote_submit), methods=["POST"]),
        *page("/arena/vote", vote_page),
        Route("/arena/inputs/{competition}/{index}", page_endpoint(input_image), methods=["GET", "HEAD"]),
        *page("/arena/{competition}", competition_page),
    ]
