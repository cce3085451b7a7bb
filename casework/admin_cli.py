"""`casework people ...` and `casework schools ...`: set up schools and people from a terminal.

The same services as the admin pages, so a change made here is checked and audited the same
way. Any problem is printed in plain words and the command exits non-zero, changing nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeVar

from core.enums import OrganisationKind
from db.models import School
from db.people import signer_by_email
from db.schools import add_organisation, all_schools, find_school, school_by_name
from db.session import Session, transaction
from forms.common import validate
from forms.people import PersonForm, SchoolForm, check_people_file
from services.people import PeopleProblem, add_staff, create_school, disable, import_people


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


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


F = TypeVar("F", PersonForm, SchoolForm)


def form_from(args: argparse.Namespace, model: type[F]) -> F | str:
    """The form's fields read from the command's options: the checked form, or its problems."""
    form, errors = validate(model, {name: getattr(args, name) for name in model.model_fields})
    return form if form is not None else "\n".join(f"{k}: {v}" for k, v in errors.items())


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
            person = signer_by_email(session, args.email)
            if person is None:
                raise PeopleProblem(f"Nobody signs in to Casework as {args.email}.")
            done = disable(session, person, None, args.reason)
            print(
                f"Disabled {person.name}: {done.sessions_ended} session(s) ended, "
                f"{done.waiting_requests} waiting request(s) flagged for reassignment."
            )
    except PeopleProblem as problem:
        return _fail(str(problem))
    return 0


def cmd_people_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        return _fail(f"There is no file at {path}.")
    checked = check_people_file(path.read_bytes())
    if not checked.ok:
        for error in checked.errors:
            print(error, file=sys.stderr)
        return _fail(f"Nobody was imported: {len(checked.errors)} problem(s).")
    total = len(checked.rows)
    try:
        with transaction() as session:
            school = resolve_school(session, args.school)
            print(f"Importing {total:,} people into {school.name}...", file=sys.stderr)
            added, updated = import_people(session, school.id, checked.rows, None)
    except (PeopleProblem, NoSuchSchool) as problem:
        return _fail(f"Nobody was imported: {problem}")
    print(f"Imported {total:,} people: {added:,} added, {updated:,} updated.")
    return 0


def cmd_schools_add(args: argparse.Namespace) -> int:
    form = form_from(args, SchoolForm)
    if isinstance(form, str):
        return _fail(form)
    with transaction() as session:
        organisation_id = None
        if args.organisation:
            kind = OrganisationKind(args.organisation_kind)
            organisation_id = add_organisation(session, name=args.organisation, kind=kind).id
        school = create_school(session, organisation_id, form, None)
        print(f"Added school {school.id}: {school.name}.")
    return 0


def cmd_schools_list(_: argparse.Namespace) -> int:
    with transaction() as session:
        for school in all_schools(session):
            print(f"{school.id}\t{school.name}\t{school.phase.value}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `people` and `schools` with the main parser."""
    people = sub.add_parser("people", help="add, disable or import people")
    people_sub = people.add_subparsers(dest="people_command", required=True)
    add = people_sub.add_parser("add", help="add one person to a school")
    add.add_argument("--school", help="the school's number or exact name")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, help='e.g. "Headteacher" or staff')
    add.add_argument("--job-title", default="")
    add.set_defaults(func=cmd_people_add)
    off = people_sub.add_parser("disable", help="stop a person signing in")
    off.add_argument("email")
    off.add_argument("--reason", required=True)
    off.set_defaults(func=cmd_people_disable)
    imp = people_sub.add_parser("import", help="import people from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--school", help="the school's number or exact name")
    imp.set_defaults(func=cmd_people_import)
    schools = sub.add_parser("schools", help="add or list schools")
    schools_sub = schools.add_subparsers(dest="schools_command", required=True)
    new = schools_sub.add_parser("add", help="add a school")
    new.add_argument("--name", required=True)
    new.add_argument("--address", default="")
    new.add_argument("--email", default="")
    new.add_argument("--phone", default="")
    new.add_argument(
        "--phase", default="primary", choices=["primary", "secondary", "all_through", "special"]
    )
    new.add_argument("--organisation", help="a new trust or authority to hold it")
    new.add_argument(
        "--organisation-kind", default="trust", choices=[k.value for k in OrganisationKind]
    )
    new.set_defaults(func=cmd_schools_add)
    schools_sub.add_parser("list", help="list every school").set_defaults(func=cmd_schools_list)
