"""Administration of people and schools: add, edit, disable; every change audited.

Importing a file of people is api/routes/people_import.py."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, posted_form, unit_of_work
from api.errors import AppError
from api.pages import render_page
from api.security import Visitor
from core.access import Action
from core.enums import Phase, Role
from core.settings import get_settings
from db.ids import MAX_ID
from db.models import Person
from db.people import get_person, names_at, people_of, person_at, served_schools_of
from db.schools import find_school, schools_in
from db.session import Session
from forms.common import validate
from forms.people import STAFF_CHOICES, PersonForm, SchoolForm
from services.leavers import Moved, said
from services.people import (
    PeopleProblem,
    add_staff,
    change_person,
    change_school,
    create_school,
    disable,
    enable,
    reset_authenticator,
    set_serving,
)

router = APIRouter()
people_admin = allowed(Action.MANAGE_PEOPLE)
schools_admin = allowed(Action.MANAGE_SCHOOLS)
ROLE_OPTIONS = [(r.value, r.label) for r in STAFF_CHOICES]
PHASE_OPTIONS = [(p.value, p.value.replace("_", "-").capitalize()) for p in Phase]
PERSON_FIELDS = tuple(PersonForm.model_fields)
SCHOOL_FIELDS = tuple(SchoolForm.model_fields)


def fields(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in names}


def me(session: Session, seen: Visitor) -> Person:
    return get_person(session, seen.person.id)


def someone_here(session: Session, seen: Visitor, person_id: int) -> Person:
    """A person of the school the administrator is looking at; anyone else is 404."""
    person = person_at(session, seen.school_id, person_id)
    if person is None:
        raise AppError(404, "There is nobody with that number at this school.")
    return person


def someone_to_change(session: Session, seen: Visitor, person_id: int) -> Person:
    """A person the administrator may change: one whose own school they look after too.

    A council HR adviser who serves this school is shown here, but only their own
    organisation's administrators change their account."""
    person = someone_here(session, seen, person_id)
    if person.school_id not in seen.actor.schools:
        raise AppError(
            403,
            f"{person.name} belongs to another school's staff and serves this one. Ask an "
            "administrator of their own school to change their account.",
        )
    return person


def admin_page(
    request: Request, template: str, defaults: dict[str, Any], extra: dict[str, Any], **shown: Any
) -> Response:
    """An administration page and its form: 400 while it shows problems, and the notice of
    what was just done (`?done=`)."""
    context = defaults | extra
    failed = bool(context.get("errors") or context.get("import_errors"))
    return render_page(
        request,
        template,
        status_code=400 if failed else 200,
        done=request.query_params.get("done", ""),
        **shown,
        **context,
    )


# --- People -----------------------------------------------------------------------------


def people_page(request: Request, session: Session, seen: Visitor, **extra: Any) -> Response:
    return admin_page(
        request,
        "pages/admin_people.html",
        {"values": {}, "errors": {}, "import_errors": []},
        extra,
        people=people_of(session, seen.school_id),
        school_id=seen.school_id,
        roles=ROLE_OPTIONS,
        # Chosen here so the page can ask how its import is going while it runs.
        import_id=secrets.token_urlsafe(18),
        max_mb=get_settings().max_file_bytes // (1024 * 1024),
    )


@router.get("/admin/people")
def list_people(
    request: Request,
    seen: Visitor = Depends(people_admin),
    session: Session = Depends(unit_of_work),
) -> Response:
    return people_page(request, session, seen)


@router.post("/admin/people")
def add_someone(
    request: Request,
    seen: Visitor = Depends(people_admin),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    values = fields(form, PERSON_FIELDS)
    person_form, errors = validate(PersonForm, values)
    if person_form is not None:
        try:
            add_staff(session, seen.school_id, person_form, me(session, seen))
        except PeopleProblem as problem:
            errors = {"email": str(problem)}
    if person_form is None or errors:
        return people_page(request, session, seen, values=values, errors=errors)
    return RedirectResponse("/admin/people?done=added", status_code=303)


def person_page(
    request: Request, session: Session, seen: Visitor, person: Person, **extra: Any
) -> Response:
    values = {
        "name": person.name,
        "email": person.email or "",
        "role": person.role.value,
        "job_title": person.job_title,
    }
    return admin_page(
        request,
        "pages/admin_person.html",
        {"values": values, "errors": {}, "moved": []},
        extra,
        person=person,
        roles=ROLE_OPTIONS,
        own_school=person.school_id == seen.school_id,
        can_change=person.school_id in seen.actor.schools,
        schools=[s for s in schools_in(session, seen.actor.schools) if s.id != person.school_id],
        serving=set(served_schools_of(session, person.id)),
    )


def moved_query(done: str, moved: Moved) -> str:
    """The notice's address after a change: what was done, who took how many of the
    person's waiting requests (by number) and how many nobody could take."""
    query = {"done": done}
    if moved.taken:
        query["passed"] = ",".join(f"{pid}:{count}" for pid, _, count in moved.taken)
    if moved.kept:
        query["kept"] = str(moved.kept)
    return urlencode(query)


def moved_notice(session: Session, seen: Visitor, query: Mapping[str, str]) -> list[str]:
    """What the notice's address says became of the requests, in words: the names of people
    at the administrator's schools, and "someone at another school" for anyone else."""
    found = re.findall(r"(\d{1,10}):(\d{1,5})", query.get("passed", ""))
    pairs = [(int(person_id), int(count)) for person_id, count in found]
    known = names_at(session, {p for p, _ in pairs if p <= MAX_ID}, seen.actor.schools)
    taken: dict[str, int] = {}
    for person_id, count in pairs:
        name = known.get(person_id, "someone at another school")
        taken[name] = taken.get(name, 0) + count
    kept = query.get("kept", "")
    return said(list(taken.items()), int(kept) if kept.isdigit() and len(kept) < 6 else 0)


@router.get("/admin/people/{person_id}")
def show_person(
    request: Request,
    person_id: int,
    seen: Visitor = Depends(people_admin),
    session: Session = Depends(unit_of_work),
) -> Response:
    person = someone_here(session, seen, person_id)
    moved = moved_notice(session, seen, request.query_params)
    return person_page(request, session, seen, person, moved=moved)


@router.post("/admin/people/{person_id}")
def edit_person(
    request: Request,
    person_id: int,
    seen: Visitor = Depends(people_admin),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    person = someone_to_change(session, seen, person_id)
    values = fields(form, PERSON_FIELDS)
    person_form, errors = validate(PersonForm, values)
    moved = Moved()
    if person_form is not None:
        try:
            moved = change_person(session, person, person_form, me(session, seen)).requests
        except PeopleProblem as problem:
            errors = {"email": str(problem)}
    if person_form is None or errors:
        return person_page(request, session, seen, person, values=values, errors=errors)
    if person.school_id == seen.school_id:
        # Only schools the administrator serves can be added or taken away.
        chosen = {int(v) for v in form.getlist("serves") if isinstance(v, str) and v.isdigit()}
        others = set(served_schools_of(session, person.id)) - seen.actor.schools
        wanted = (chosen & seen.actor.schools) | others
        moved += set_serving(session, person, wanted, me(session, seen))
    return RedirectResponse(
        f"/admin/people/{person_id}?{moved_query('saved', moved)}", status_code=303
    )


@router.post("/admin/people/{person_id}/disable")
def disable_person(
    request: Request,
    person_id: int,
    seen: Visitor = Depends(people_admin),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    person = someone_to_change(session, seen, person_id)
    reason = str(form.get("reason") or "").strip()
    if not 3 <= len(reason) <= 500:
        errors = {"reason": "Say why, in 3 to 500 characters (for example: left the school)."}
        return person_page(request, session, seen, person, errors=errors)
    try:
        done = disable(session, person, me(session, seen), reason)
    except PeopleProblem as problem:
        raise AppError(409, str(problem)) from problem
    return RedirectResponse(
        f"/admin/people/{person_id}?{moved_query('disabled', done.requests)}", status_code=303
    )


@router.post("/admin/people/{person_id}/authenticator", dependencies=[Depends(posted_form)])
def reset_their_authenticator(
    person_id: int,
    seen: Visitor = Depends(people_admin),
    session: Session = Depends(unit_of_work),
) -> Response:
    """A lost phone: they set up their authenticator app again at their next sign-in."""
    person = someone_to_change(session, seen, person_id)
    reset = reset_authenticator(session, person, me(session, seen))
    return RedirectResponse(
        f"/admin/people/{person_id}?done={'reset' if reset else 'no-authenticator'}",
        status_code=303,
    )


@router.post("/admin/people/{person_id}/enable", dependencies=[Depends(posted_form)])
def enable_person(
    person_id: int,
    seen: Visitor = Depends(people_admin),
    session: Session = Depends(unit_of_work),
) -> Response:
    enable(session, someone_to_change(session, seen, person_id), me(session, seen))
    return RedirectResponse(f"/admin/people/{person_id}?done=enabled", status_code=303)


# --- Schools ----------------------------------------------------------------------------


def schools_page(request: Request, session: Session, seen: Visitor, **extra: Any) -> Response:
    return admin_page(
        request,
        "pages/admin_schools.html",
        {"values": {"phase": Phase.PRIMARY.value}, "errors": {}},
        extra,
        schools=schools_in(session, seen.actor.schools),
        phases=PHASE_OPTIONS,
    )


@router.get("/admin/schools")
def list_schools(
    request: Request,
    seen: Visitor = Depends(schools_admin),
    session: Session = Depends(unit_of_work),
) -> Response:
    return schools_page(request, session, seen)


@router.post("/admin/schools")
def add_a_school(
    request: Request,
    seen: Visitor = Depends(schools_admin),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    """A new school in the administrator's organisation, which they then serve."""
    values = fields(form, SCHOOL_FIELDS)
    school_form, errors = validate(SchoolForm, values)
    if school_form is None:
        return schools_page(request, session, seen, values=values, errors=errors)
    here = find_school(session, seen.school_id)
    organisation_id = here.organisation_id if here is not None else None
    admin = me(session, seen)
    school = create_school(session, organisation_id, school_form, admin)
    set_serving(session, admin, {*served_schools_of(session, admin.id), school.id}, admin)
    return RedirectResponse(f"/admin/schools/{school.id}?done=created", status_code=303)


def school_page(
    request: Request, session: Session, school_id: int, seen: Visitor, **extra: Any
) -> Response:
    school = find_school(session, school_id)
    if school is None or school_id not in seen.actor.schools:
        raise AppError(404, "There is no school with that number that you look after.")
    values = {name: str(getattr(school, name)) for name in SCHOOL_FIELDS}
    holders = {
        role.label: [p.name for p in people_of(session, school_id) if p.role == role and p.active]
        for role in (Role.HEADTEACHER, Role.DSL, Role.CHAIR, Role.HR)
    }
    return admin_page(
        request,
        "pages/admin_school.html",
        {"values": values, "errors": {}},
        extra,
        school=school,
        phases=PHASE_OPTIONS,
        holders=holders,
        looking_here=school_id == seen.school_id,
    )


@router.get("/admin/schools/{school_id}")
def show_school(
    request: Request,
    school_id: int,
    seen: Visitor = Depends(schools_admin),
    session: Session = Depends(unit_of_work),
) -> Response:
    return school_page(request, session, school_id, seen)


@router.post("/admin/schools/{school_id}")
def edit_school(
    request: Request,
    school_id: int,
    seen: Visitor = Depends(schools_admin),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    values = fields(form, SCHOOL_FIELDS)
    school_form, errors = validate(SchoolForm, values)
    if school_form is None or school_id not in seen.actor.schools:
        return school_page(request, session, school_id, seen, values=values, errors=errors)
    change_school(session, school_id, school_form, me(session, seen))
    return RedirectResponse(f"/admin/schools/{school_id}?done=saved", status_code=303)
