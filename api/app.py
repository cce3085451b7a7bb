"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.deps import ids_in_range
from api.errors import install_handlers
from api.limits import Limiter
from api.routes import (
    admin,
    approvals,
    audit,
    auth,
    case_work,
    cases,
    dashboard,
    documents,
    handover,
    intake,
    letters,
    mfa,
    oidc,
    people,
    people_import,
    retention,
    school,
    search,
)
from api.security import BodyLimit, SecurityHeaders, SessionContext
from core.settings import PROJECT_ROOT, get_settings
from db.migrate import schema_behind


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Size the thread pool the app's routes run in (CASEWORK_WEB_THREADS)."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = get_settings().web_threads_at_once
    yield


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Casework",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(ids_in_range)],
    )
    app.state.limiter = Limiter()
    app.add_middleware(SessionContext)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: the upload-limit page gets them too
    install_handlers(app)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "api" / "static"), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready for work: the database answers and has the newest schema (503 if not)."""
        problem = schema_behind(get_settings().database_url)
        if problem:
            return JSONResponse({"status": "not ready", "message": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    routers = (
        auth,
        mfa,
        oidc,
        intake,
        case_work,  # before cases: /cases/{id}/evidence/add is not an evidence id
        cases,
        dashboard,
        handover,
        documents,
        letters,
        audit,
        school,
        retention,
        search,
        admin,
        people_import,  # before people: /admin/people/import is not a person's number
        people,
        approvals,
    )
    for module in routers:
        app.include_router(module.router)
    if settings.dev_mode:
        from api.routes import devmail

        app.include_router(devmail.router)
    return app
