"""Commands whose modules are imported only when one of them runs.

`casework people ...`, `casework schools ...` and `casework retention ...` need the people and
retention services, which import most of Casework; every other command (the web app, the
worker, the runner, each started many times) would pay for those imports at its start-up.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from core.enums import OrganisationKind


def later(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The command `name` of `module`, imported when it runs."""

    def run(args: argparse.Namespace) -> int:
        command: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), name
        )
        return command(args)

    return run


def add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `people` and `schools` with the main parser."""
    people = sub.add_parser("people", help="add, change, disable or import people")
    people_sub = people.add_subparsers(dest="people_command", required=True)
    add = people_sub.add_parser("add", help="add one person to a school")
    add.add_argument("--school", help="the school's number or exact name")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, help='e.g. "Headteacher" or staff')
    add.add_argument("--job-title", default="")
    add.set_defaults(func=later("casework.admin_cli", "cmd_people_add"))
    off = people_sub.add_parser("disable", help="stop a person signing in")
    off.add_argument("email")
    off.add_argument("--reason", required=True)
    off.set_defaults(func=later("casework.admin_cli", "cmd_people_disable"))
    change = people_sub.add_parser(
        "change", help="change a person's name, email address, role or job title"
    )
    change.add_argument("email", help="the address they sign in with now")
    change.add_argument("--name")
    change.add_argument("--new-email", help="a new address to sign in with")
    change.add_argument("--role", help='e.g. "Designated safeguarding lead" or dsl')
    change.add_argument("--job-title")
    change.set_defaults(func=later("casework.admin_cli", "cmd_people_change"))
    serve = people_sub.add_parser(
        "serve", help="set which other schools a person serves (an HR adviser, a trust lead)"
    )
    serve.add_argument("email")
    serving = serve.add_mutually_exclusive_group(required=True)
    serving.add_argument(
        "--school",
        action="append",
        help="a school they serve, by number or exact name; repeat for each (replaces the list)",
    )
    serving.add_argument("--none", action="store_true", help="they serve no school but their own")
    serve.set_defaults(func=later("casework.admin_cli", "cmd_people_serve"))
    imp = people_sub.add_parser("import", help="import people from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--school", help="the school's number or exact name")
    imp.set_defaults(func=later("casework.admin_cli", "cmd_people_import"))
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
    holder = new.add_mutually_exclusive_group()
    holder.add_argument(
        "--organisation",
        help="the trust or authority that holds it, by exact name (created if none has it)",
    )
    holder.add_argument(
        "--organisation-id", type=int, help="an existing organisation, by its number"
    )
    new.add_argument(
        "--organisation-kind",
        default="trust",
        choices=[k.value for k in OrganisationKind],
        help="for a new organisation only",
    )
    new.set_defaults(func=later("casework.admin_cli", "cmd_schools_add"))
    schools_sub.add_parser("list", help="list every school").set_defaults(
        func=later("casework.admin_cli", "cmd_schools_list")
    )


def add_retention_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `casework retention ...`."""
    retention = sub.add_parser("retention", help="closed cases due for review, holds, disposal")
    commands = retention.add_subparsers(dest="retention_command", required=True)
    due = commands.add_parser("due", help="list closed cases due for review, oldest first")
    due.add_argument("--school", help="only this school (its number or exact name)")
    due.set_defaults(func=later("casework.retention_cli", "cmd_due"))
    for name, text in (
        ("dispose", "remove a due case's personal content, leaving its tombstone"),
        ("hold", "place a legal hold: the case cannot be disposed of"),
        ("release", "release a case's legal hold"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("case", help="the case's reference (CW-2026-00012) or number")
        command.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        command.add_argument(
            "--by", required=True, help="email address of the headteacher or DSL doing it"
        )
        command.set_defaults(func=later("casework.retention_cli", f"cmd_{name}"))
