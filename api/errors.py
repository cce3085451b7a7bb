"""One error type for everything a user can cause, rendered as a page or as JSON."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.people import NobodyInRole

log = logging.getLogger("casework.api")

TITLES = {
    400: "Something in the request was not right",
    401: "Please sign in",
    403: "You cannot do that",
    404: "Page not found",
    405: "That is not allowed here",
    409: "That has already been done",
    410: "This link can no longer be used",
    413: "The upload is too large",
    429: "Too many tries",
    422: "Something in the request was not right",
    500: "Something went wrong on our side",
    503: "A service Casework needs is not available",
}


class AppError(Exception):
    """An expected failure with a status and a message meant for the person."""

    def __init__(self, status: int, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title or TITLES.get(status, "Something was not right")
        self.headers: dict[str, str] = {}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def error_response(
    request: Request, status: int, message: str, title: str | None = None
) -> Response:
    title = title or TITLES.get(status, "Something was not right")
    if status == 401 and not wants_json(request):
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/signin?next={target}", status_code=303)
    response: Response
    if wants_json(request):
        response = JSONResponse(
            {"error": {"status": status, "title": title, "message": message}}, status_code=status
        )
    else:
        from api.pages import render_page  # pages import errors; break the cycle here

        response = render_page(
            request, "pages/error.html", status_code=status, title=title, message=message
        )
    if status == 413:  # the rest of the upload is not read: the connection cannot be reused
        response.headers["Connection"] = "close"
    return response


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        response = error_response(request, exc.status, exc.message, exc.title)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address. Check the link, or start from Cases."
        return error_response(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e["loc"][-1]) for e in exc.errors())
        return error_response(request, 422, f"These parts of the request were not valid: {fields}.")

    @app.exception_handler(NobodyInRole)
    async def _not_set_up(request: Request, exc: NobodyInRole) -> Response:
        return error_response(
            request,
            409,
            f"{exc} Nothing was saved. Ask whoever looks after Casework at your school to add "
            "them (with their role), then try again.",
            "Casework needs someone in a role first",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request,
            500,
            "The problem has been logged. Nothing you entered "
            "was lost if you saw no confirmation; please try again.",
        )
