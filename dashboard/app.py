"""The FastAPI app factory: no app or settings at import time; state lives on app.state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dashboard import (
    clip_api,
    export_api,
    field_api,
    live_api,
    map_api,
    photo_api,
    roster_admin_api,
    search_api,
    silence_api,
    trends_api,
    ui,
    video_api,
    viewers_api,
)
from dashboard import signin as signin_routes
from dashboard.api import router
from dashboard.auth import CurrentPrincipal
from dashboard.body_limit import BodyLimit
from dashboard.docs import install_docs
from dashboard.errors import install_error_handlers
from dashboard.responses import Readiness, media
from dashboard.security_headers import SecurityHeaders
from dashboard.services import Runtime
from dashboard.signin import SignIn


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = runtime.services
        svc = runtime.services
        app.state.signin = SignIn(svc.store, svc.auth.sessions, svc.clock)
        await runtime.start()
        try:
            yield
        finally:
            if svc.live_video is not None:  # peer connections first: they read from the cameras
                await svc.live_video.aclose()
            await runtime.stop()

    app = FastAPI(
        title="sharpeyes",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, behind authentication and without a CDN
        redoc_url=None,
        openapi_url=None,
    )
    install_docs(app)
    install_error_handlers(app)
    app.include_router(viewers_api.router)  # before `router`: its POST /incidents/{id}/{action} would match
    app.include_router(router)
    app.include_router(silence_api.router)
    app.include_router(search_api.router)  # history and its exports (issue 16)
    app.include_router(export_api.router)
    app.include_router(video_api.router)
    app.include_router(clip_api.router)
    app.include_router(live_api.router)
    app.include_router(trends_api.router)
    app.include_router(map_api.router)
    app.include_router(field_api.router)  # the field loop (issue 15)
    app.include_router(roster_admin_api.router)  # admins edit people and units, audited
    app.include_router(photo_api.router)
    app.include_router(signin_routes.router)
    app.include_router(ui.router)
    ui.mount_static(app)

    # 413 also for chunked bodies without Content-Length; deep JSON 422; field photos up to their own limit
    app.add_middleware(BodyLimit, upload_limit=runtime.services.field.photo_max_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, 413s included, carries the headers

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness only: the process answers. Says nothing about dependencies."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: a check failed."}},
    )
    async def readyz(request: Request, response: Response, _: CurrentPrincipal) -> Readiness:
        svc = request.app.state.services

        def db_ok() -> bool:
            try:
                with svc.store.read() as conn:
                    conn.execute(text("SELECT 1"))
                return True
            except Exception:
                return False

        checks = {"database": await run_in_threadpool(db_ok), **svc.readiness()}
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        return Readiness(ready=ready, checks=checks)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses=media("text/plain", "Prometheus text exposition format.", binary=False),
    )
    def metrics(request: Request, _: CurrentPrincipal) -> Response:
        return Response(generate_latest(request.app.state.services.registry), media_type=CONTENT_TYPE_LATEST)

    return app
