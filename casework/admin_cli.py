"""`casework people ...` and `casework schools ...`: set up schools and people from a terminal.

The same services as the admin pages, so a change made here is checked and audited the same
way. Any problem is printed in plain words and the command exits non-zero, changing nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeVar

from casework.progress import TextProgress
from core.enums import OrganisationKind
from db.models import Organisation, Person, School
from db.people import served_schools_of, signer_by_email
from db.schools import (
    add_organisation,
    all_schools,
    find_organisation,
    find_school,
    organisations_named,
    school_by_name,
    schools_in,
)
from db.session import Session, transaction
from forms.common import validate
from forms.people import PersonForm, SchoolForm, check_people_file
from services.leavers import Moved, said
from services.people import (
    PeopleProblem,
    add_staff,
    change_person,
    create_school,
    disable,
    import_people,
    set_serving,
)


class NoSuchSchool(LookupError):
    """The --school given names no school, or several exist and none was named."""


def resolve_school(session: Session, ref: str | None) -> School:
    """The school named by id or exact name; with no name, the only school there is."""
    if ref:
        found = find_school(session, int(ref)) if ref.isdigit() else None
        found = found or school_by_name(session, ref)
        if found is None:
            raise NoSuchSchool(f"There is no school {ref!r} in Casework.")
        return found
    every = all_schools(session)
    if len(every) == 1:
        return every[0]
    if not every:
        raise NoSuchSchool(
            "There is no school in Casework yet: add one with `casework schools add`."
        )
    raise NoSuchSchool(
        f"Casework has {len(every)} schools: say which with --school (its number or exact name)."
    )


def someone(session: Session, email: str) -> Person:
    """The person who signs in with `email`, disabled or not."""
    person = signer_by_email(session, email)
    if person is None:
        raise PeopleProblem(f"Nobody signs in to Casework as {email}.")
    return person


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


F = TypeVar("F", PersonForm, SchoolForm)


def form_from(args: argparse.Namespace, model: type[F]) -> F | str:
    """The form's fields read from the command's options: the checked form, or its problems."""
    form, errors = validate(model, {name: getattr(args, name) for name in model.model_fields})
    return form if form is not None else "\n".join(f"{k}: {v}" for k, v in errors.items())


def tell_moved(moved: Moved) -> None:
    """Say how many waiting requests were passed on, to whom, and how many nobody could
    take (the terminal acts for every school, so everyone is named)."""
    for line in said([(name, count) for _, name, count in moved.taken], moved.kept):
        print(line)


def cmd_people_add(args: argparse.Namespace) -> int:
    form = form_from(args, PersonForm)
    if isinstance(form, str):
        return _fail(form)
    try:
        with transaction() as session:
            school = resolve_school(session, args.school)
            person = add_staff(session, school.id, form, None)
            print(f"Added {person.name} ({person.role.label}) at {school.name}.")
    except (PeopleProblem, NoSuchSchool) as problem:
        return _fail(str(problem))
    return 0


def cmd_people_disable(args: argparse.Namespace) -> int:
    try:
        with transaction() as session:
            person = someone(session, args.email)
            done = disable(session, person, None, args.reason)
            print(f"Disabled {person.name}: {done.sessions_ended} session(s) ended.")
            tell_moved(done.requests)
    except PeopleProblem as problem:
        return _fail(str(problem))
    return 0


def cmd_people_change(args: argparse.Namespace) -> int:
    """Change a person's name, address, role or job title, as their page does."""
    try:
        with transaction() as session:
            person = someone(session, args.email)
            wanted = {
                "name": person.name if args.name is None else args.name,
                "email": args.new_email or person.email or "",
                "role": args.role or person.role.value,
                "job_title": person.job_title if args.job_title is None else args.job_title,
            }
            form, errors = validate(PersonForm, wanted)
            if form is None:
                raise PeopleProblem("\n".join(f"{k}: {v}" for k, v in errors.items()))
            changed = change_person(session, person, form, None)
            if not changed:
                print(f"Nothing to change: {person.name} is already as asked.")
            for name, (before, after) in changed.fields.items():
                print(f"{person.name}: {name.replace('_', ' ')} {before!r} -> {after!r}")
            tell_moved(changed.requests)
    except PeopleProblem as problem:
        return _fail(str(problem))
    return 0


def cmd_people_serve(args: argparse.Namespace) -> int:
    """Set exactly which schools a person serves beyond their own, as their page does."""
    try:
        with transaction() as session:
            person = someone(session, args.email)
            chosen = {resolve_school(session, ref).id for ref in args.school or []}
            moved = set_serving(session, person, chosen, None)
            served = schools_in(session, set(served_schools_of(session, person.id)))
            names = ", ".join(school.name for school in served)
            print(
                f"{person.name} serves {names} as well as their own school."
                if served
                else f"{person.name} serves only their own school."
            )
            tell_moved(moved)
    except (PeopleProblem, NoSuchSchool) as problem:
        return _fail(str(problem))
    return 0


def cmd_people_import(args: argparse.Namespace) -> int:
    """Import people from a CSV file, with a progress bar as it is checked and saved."""
    path = Path(args.file)
    if not path.is_file():
        return _fail(f"There is no file at {path}.")
    progress = TextProgress(sys.stderr)
    # Checked before the transaction opens, as the web page does.
    checked = check_people_file(path.read_bytes(), progress)
    if not checked.ok:
        for error in checked.errors:
            print(error, file=sys.stderr)
        return _fail(f"Nobody was imported: {len(checked.errors)} problem(s).")
    total = len(checked.rows)
    try:
        with transaction() as session:
            school = resolve_school(session, args.school)
            print(f"Importing {total:,} people into {school.name}...", file=sys.stderr)
            added, updated = import_people(session, school.id, checked.rows, None, progress)
    except PeopleProblem as problem:
        for line in problem.problems:
            print(line, file=sys.stderr)
        return _fail(f"Nobody was imported: {len(problem.problems)} problem(s).")
    except NoSuchSchool as problem:
        return _fail(f"Nobody was imported: {problem}")
    print(f"Imported {total:,} people: {added:,} added, {updated:,} updated.")
    return 0


def organisation_for(session: Session, args: argparse.Namespace) -> Organisation | None:
    """The trust or authority a new school joins: by number, or by exact name (created when
    no organisation has that name); None for a school on its own."""
    if args.organisation_id is not None:
        found = find_organisation(session, args.organisation_id)
        if found is None:
            raise NoSuchSchool(
                f"There is no organisation {args.organisation_id}: `casework schools list` "
                "shows each school's organisation and its number."
            )
        return found
    if not args.organisation:
        return None
    named = organisations_named(session, args.organisation)
    if len(named) > 1:
        numbers = ", ".join(str(o.id) for o in named)
        raise NoSuchSchool(
            f"{len(named)} organisations are called {args.organisation!r} (numbers {numbers}): "
            "say which with --organisation-id."
        )
    if named:
        return named[0]
    kind = OrganisationKind(args.organisation_kind)
    return add_organisation(session, name=args.organisation, kind=kind)


def cmd_schools_add(args: argparse.Namespace) -> int:
    form = form_from(args, SchoolForm)
    if isinstance(form, str):
        return _fail(form)
    try:
        with transaction() as session:
            organisation = organisation_for(session, args)
            held_by = organisation.id if organisation is not None else None
            school = create_school(session, held_by, form, None)
            where = f", in {organisation.name}" if organisation else ", on its own"
            print(
                f"Added school {school.id}: {school.name}{where} "
                f"(organisation {school.organisation_id})."
            )
    except NoSuchSchool as problem:
        return _fail(str(problem))
    return 0


def cmd_schools_list(_: argparse.Namespace) -> int:
    with transaction() as session:
        for school in all_schools(session):
            organisation = find_organisation(session, school.organisation_id)
            held_by = f"{organisation.name} ({organisation.id})" if organisation else ""
            print(f"{school.id}\t{school.name}\t{school.phase.value}\t{held_by}")
    return 0
