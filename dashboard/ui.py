"""The operator page: HTML and static assets shipped inside the package (no CDN, no build step), served on
the API's port, plus the grid geometry the map draws. Pages carry a strict Content-Security-Policy: only
this origin's scripts run, so injected markup cannot execute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope as AsgiScope

from alarms.roster import load_people, on_duty
from dashboard.auth import CurrentPrincipal
from dashboard.responses import GridList

STATIC = Path(__file__).with_name("static")

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class Assets(StaticFiles):
    """Static files that browsers revalidate (ETag) so an upgrade is picked up, and never sniff."""

    async def get_response(self, path: str, scope: AsgiScope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = "no-cache"
        response.headers["x-content-type-options"] = "nosniff"
        return response


router = APIRouter(include_in_schema=False)


def _page(name: str, img_origins: list[str] | None = None) -> FileResponse:
    headers = SECURITY_HEADERS
    if img_origins:  # the district's tile server (map.tiles): its pictures, nothing else from it
        extra = " ".join(img_origins)
        csp = headers["content-security-policy"].replace("img-src 'self'", f"img-src 'self' {extra}")
        headers = {**headers, "content-security-policy": csp}
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=303)


@router.get("/login", response_class=FileResponse)
def login_page() -> FileResponse:
    return _page("login.html")


@router.get("/ui/", response_class=FileResponse)
async def operator_page(request: Request) -> Response:
    """Signed-in users get the page; everyone else is sent to sign in (the page's data needs a session)."""
    signin = getattr(request.app.state, "signin", None)
    session = await run_in_threadpool(signin.session, request) if signin is not None else None
    if session is None:
        return RedirectResponse("/login", status_code=303)
    if session.user.role == "field":  # field workers have their own page (issue 15)
        return RedirectResponse("/field", status_code=303)
    tiles = request.app.state.services.map.tiles
    return _page("index.html", tiles.origins() if tiles else None)


@router.get("/field", response_class=FileResponse)
async def field_page(request: Request) -> Response:
    """The phone page for field workers: signed-in users only, like the operator page."""
    signin = getattr(request.app.state, "signin", None)
    session = await run_in_threadpool(signin.session, request) if signin is not None else None
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return _page("field.html")


@router.get("/ui", response_class=RedirectResponse)
def operator_page_slash() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/api/grids", include_in_schema=True, tags=["map"], response_model=GridList)
def grids(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The grids the caller may see, with their outline for the map, their place in the hierarchy and who is
    on duty for each now."""
    svc = request.app.state.services
    directory = svc.engine.directory
    with svc.store.read() as conn:
        people = load_people(conn)
    now = svc.clock()
    on_shift = [p for p in people if on_duty(p.shifts, now, svc.timezone)]
    items = [
        {
            "id": g.id,
            "name": g.name or g.id,
            "community": g.community,
            "street": g.street,
            "community_name": directory.community_names.get(g.community, g.community),
            "street_name": directory.street_names.get(g.street, g.street),
            "polygon": [list(p) for p in g.polygon] if g.polygon else None,
            "on_duty": [
                {"id": p.id, "name": p.name, "role": p.role, "phone": p.phone}
                for p in on_shift
                if g.id in p.grids
            ],
        }
        for g in directory.grids.values()
        if principal.scope.allows(g.street, g.id)
    ]
    return {"items": items}


def mount_static(app: Any) -> None:
    app.mount("/static", Assets(directory=STATIC), name="static")
