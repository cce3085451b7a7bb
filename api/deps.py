"""FastAPI dependencies: the signed-in person, the role guards, checked forms, units of work.

A route names what it needs (`user: Person = Depends(signed_in)`) instead of fetching it
by hand, and the role sets live here once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from api.errors import AppError
from api.security import Visitor, check_csrf, read_form
from core.access import SCHOOL_RIGHTS, Action, Actor, may
from core.enums import Role
from core.settings import get_settings
from db.ids import MAX_ID
from db.models import Person
from db.session import Session, reading, transaction
from forms.common import UploadedFile


def ids_in_range(request: Request) -> None:
    """Every whole-number part of an address is a row id: one no row can have is a 404.

    The app applies this to every route, so an address like /cases/99999999999999999999
    gets the usual 'not found' page instead of reaching the database.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    for field in dependant.path_params if dependant is not None else ():
        if field.field_info.annotation is not int:
            continue
        raw = str(request.path_params.get(field.alias, ""))
        if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID):
            raise AppError(
                404, f"There is nothing at this address: {raw[:30]!r} is not a number in use here."
            )


def current_user(request: Request) -> Person | None:
    """The signed-in person the session middleware found, if any."""
    return getattr(request.state, "user", None)


def visitor(request: Request) -> Visitor:
    """The signed-in person with their schools; otherwise a 401 that becomes sign-in."""
    found: Visitor | None = getattr(request.state, "visitor", None)
    if found is None:
        raise AppError(401, "Sign in to see this page.")
    return found


def signed_in(seen: Visitor = Depends(visitor)) -> Person:
    """The signed-in person."""
    return seen.person


def acting(seen: Visitor = Depends(visitor)) -> Actor:
    """The signed-in person as the access policy sees them."""
    return seen.actor


def forbidden(action: Action, role: Role) -> AppError:
    """The 403 that says who can do what was refused (or, if many can, whose role cannot)."""
    roles = SCHOOL_RIGHTS.get(action, frozenset())
    who = [
        r.label if r.label[:2].isupper() else r.label[0].lower() + r.label[1:]
        for r in Role
        if r in roles
    ]
    if not who or len(who) > 3:
        return AppError(403, f"Your role in Casework ({role.label.lower()}) cannot {action.value}.")
    names = ", ".join(who[:-1]) + (" or " if len(who) > 1 else "") + who[-1]
    return AppError(403, f"Only the {names} can {action.value}.")


def allowed(action: Action) -> Callable[[Visitor], Visitor]:
    """A guard: the signed-in visitor, if the policy lets their role do `action` at the
    school they are looking at."""

    def guard(seen: Visitor = Depends(visitor)) -> Visitor:
        if not may(seen.actor, action):
            raise forbidden(action, seen.actor.role)
        return seen

    return guard


@asynccontextmanager
async def open_form(request: Request, **limits: int) -> AsyncIterator[FormData]:
    """The posted form, CSRF-checked and held to the upload limits as it arrives
    (`api.security.read_form`), with its uploaded files closed when the block ends."""
    form = await read_checked_form(request, **limits)
    try:
        yield form
    finally:
        await form.close()


def checked_form(**limits: int) -> Callable[[Request], AsyncIterator[FormData]]:
    """A dependency: the posted form, refused unless its CSRF token matches the cookie."""

    async def read(request: Request) -> AsyncIterator[FormData]:
        async with open_form(request, **limits) as form:
            yield form

    return read


async def read_checked_form(request: Request, **limits: int) -> FormData:
    """The posted form within the upload limits, refused without this browser's CSRF token."""
    form = await read_form(request, **limits)
    try:
        check_csrf(request, form)
    except AppError:
        await form.close()
        raise
    return form


posted_form = checked_form()


def unit_of_work() -> Iterator[Session]:
    """One transaction for the request: committed when the handler returns, else rolled back."""
    with transaction() as session:
        yield session


def read_only() -> Iterator[Session]:
    """A transaction that only reads (it never waits for SQLite's writers)."""
    with reading() as session:
        yield session


def read_uploads(form: FormData, field: str = "evidence") -> list[UploadedFile]:
    """The files posted as `field`, each read to one byte past the per-file limit at most."""
    uploads: list[UploadedFile] = []
    limit = get_settings().max_file_bytes
    for item in form.getlist(field):
        if isinstance(item, UploadFile):
            # One byte past the limit is enough to know it is too big, no more.
            data = item.file.read(limit + 1)
            uploads.append(UploadedFile(item.filename or "", item.content_type or "", data))
    return uploads
