"""FastAPI dependencies: the signed-in person, the role guards, checked forms, units of work.

A route names what it needs (`user: Person = Depends(signed_in)`) instead of fetching it
by hand, and the role sets live here once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.errors import AppError
from api.security import check_csrf, read_form
from core.enums import Role
from db.ids import MAX_ID
from db.models import Person
from db.session import Session, reading, transaction

# The people who run cases and the school's settings.
SCHOOL_MANAGERS = frozenset({Role.HEADTEACHER, Role.DSL})
# Who may read the audit trail of the whole school.
REVIEWERS = frozenset({Role.HEADTEACHER, Role.DSL, Role.AUDITOR})
# Who sees the addresses of undelivered mail (parents' addresses are personal data).
ADDRESS_READERS = frozenset({Role.HEADTEACHER, Role.DSL, Role.CHAIR})
# Who reports incidents: everyone but auditors (who read) and parents (who never sign in).
REPORTERS = frozenset(set(Role) - {Role.AUDITOR, Role.PARENT})


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


def signed_in(request: Request) -> Person:
    """The signed-in person; otherwise a 401 that the error handler turns into sign-in."""
    user = current_user(request)
    if user is None:
        raise AppError(401, "Sign in to see this page.")
    return user


def manager(what: str) -> Callable[[Person], Person]:
    """A guard: the signed-in headteacher or DSL; anyone else is told who can `what`."""

    def guard(user: Person = Depends(signed_in)) -> Person:
        if user.role not in SCHOOL_MANAGERS:
            raise AppError(
                403, f"Only the headteacher or the designated safeguarding lead can {what}."
            )
        return user

    return guard


def reviewer(user: Person = Depends(signed_in)) -> Person:
    """The headteacher, the DSL or an auditor: the people who read the whole trail."""
    if user.role not in REVIEWERS:
        raise AppError(
            403,
            "The audit trail is open to the headteacher, the designated "
            "safeguarding lead and auditors.",
        )
    return user


def reporter(user: Person = Depends(signed_in)) -> Person:
    """Someone who may report an incident."""
    if user.role not in REPORTERS:
        raise AppError(403, "Auditors can read cases but cannot report incidents.")
    return user


def checked_form(**limits: int) -> Callable[[Request], AsyncIterator[FormData]]:
    """The posted form, refused unless its CSRF token matches this browser's cookie.

    Uploads are held to the limits in settings as they arrive (`api.security.read_form`);
    the form's files are closed once the request is done.
    """

    async def read(request: Request) -> AsyncIterator[FormData]:
        form = await read_checked_form(request, **limits)
        try:
            yield form
        finally:
            await form.close()

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
