"""The `casework` command: set up, run every process, verify the audit trail.

Each command is a small function here; `casework run`, which starts and supervises all
the others, lives in casework/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import warnings
from collections.abc import Sequence

from casework.lazy_commands import add_admin_commands, add_retention_commands
from casework.run import cmd_run, prefect_env, prefect_server_command, prefect_server_env
from core.logs import configure_logging
from core.settings import Settings, get_settings


def cmd_migrate(_: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    print("Database is up to date.")
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    from casework.demo import seed_demo, seed_demo_history, seed_demo_records
    from db.session import transaction

    with transaction() as session:
        school = seed_demo(session)
        if school is not None:
            seed_demo_history(session, school)
            seed_demo_records(session, school)
    print("Seeded the demo school." if school else "A school exists already: nothing seeded.")
    return 0


def cmd_web(_: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.web_host,
        port=settings.web_port,
        workers=max(1, settings.web_workers),
        log_level="warning",
        proxy_headers=False,
    )
    return 0


def cmd_worker(_: argparse.Namespace) -> int:
    from casework.worker import run_worker

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(stop)

    asyncio.run(main())
    return 0


def step_aside(settings: Settings) -> None:
    """Lower this process's CPU priority (and its children's) below the web app's."""
    if settings.background_niceness:
        os.nice(settings.background_niceness)


def cmd_runner(_: argparse.Namespace) -> int:
    settings = get_settings()
    step_aside(settings)  # flow runs inherit it from the runner
    os.environ.update(prefect_env(settings))
    if settings.health_port:  # Prefect's runner webserver: GET /health
        os.environ.update(
            PREFECT_RUNNER_SERVER_ENABLE="true",
            PREFECT_RUNNER_SERVER_HOST=settings.health_host,
            PREFECT_RUNNER_SERVER_PORT=str(settings.health_port),
        )
    from flows.deployments import serve_all

    # Prefect's runner answers SIGTERM by exiting from a signal handler, which leaves its
    # own stop coroutine unawaited; the warning says nothing about our flows.
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")

    serve_all()
    return 0


def cmd_prefect_server(_: argparse.Namespace) -> int:
    """Become Prefect's server, on PostgreSQL when CASEWORK_PREFECT_DATABASE_URL (or Prefect's
    own PREFECT_API_DATABASE_CONNECTION_URL) names one.

    The process replaces itself with the server rather than starting it as a child, so a
    service manager's signals reach the server itself and nothing sits in between.
    """
    settings = get_settings()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    step_aside(settings)
    argv = prefect_server_command(settings)
    os.execve(argv[0], argv, {**os.environ, **prefect_server_env(settings)})
    return 0  # only reached when execve is replaced, as in the tests


def cmd_devmail(_: argparse.Namespace) -> int:
    from mail.catcher import MailStore, serve_forever

    settings = get_settings()
    serve_forever(MailStore(settings.devmail_dir), settings.devmail_host, settings.devmail_port)
    return 0


def cmd_replies(_: argparse.Namespace) -> int:
    from casework.replies import serve_forever

    serve_forever()
    return 0


def cmd_audit_verify(_: argparse.Namespace) -> int:
    """Re-hash every chain, compare them with the last signed checkpoint, then sign one."""
    from casework.verifier import check_evidence, verify_everything
    from db.session import transaction
    from services.audit_checkpoints import compare_with_checkpoint, write_checkpoint

    settings = get_settings()
    report = verify_everything(settings.database_url)
    if not report.ok:
        print(
            f"Audit chain BROKEN at event {report.bad_seq}: {report.problem} "
            f"({report.checked:,} events before it verified)."
        )
        return 1
    with transaction() as session:
        # The chains' heads as verified are compared with the last checkpoint, then signed:
        # reading them again would cost a scan of the whole trail each time.
        problem = compare_with_checkpoint(session, settings, heads=report.heads)
        if problem:
            print(f"Audit chain BROKEN: {problem}.")
            return 1
        write_checkpoint(session, settings, report.heads)
    files = check_evidence()
    if files:
        print(f"Evidence BROKEN: {'; '.join(files)}.")
        return 1
    print(
        f"Audit chain intact: {report.checked:,} events on {report.chains} chains verified; "
        f"checkpoint signed ({settings.audit_checkpoint_path}); every evidence file matches "
        "its recorded SHA-256, and so does every case pack as it was produced."
    )
    return 0


def cmd_audit_mark_in_error(args: argparse.Namespace) -> int:
    """Record that an audit event was wrong; the event itself stays as it was written."""
    from db.audit import mark_in_error
    from db.people import staff_by_email
    from db.session import transaction

    with transaction() as session:
        person = staff_by_email(session, args.by)
        if person is None:
            print(f"No one at Casework has the address {args.by}.", file=sys.stderr)
            return 2
        try:
            correction = mark_in_error(session, args.seq, args.reason, person)
        except (LookupError, ValueError) as exc:
            print(exc, file=sys.stderr)
            return 2
        print(
            f"Event {args.seq} is marked in error by {person.name} (event {correction.seq}); "
            "it stays in the trail as it was written."
        )
    return 0


def cmd_audit_verify_bundle(args: argparse.Namespace) -> int:
    """Check a case's audit bundle away from the database; 0 intact, 1 changed, 2 unusable."""
    from pathlib import Path

    from services.audit_bundle import verify_bundle
    from services.audit_checkpoints import read_key

    path = Path(args.file)
    if not path.is_file():
        print(f"There is no file at {path}.", file=sys.stderr)
        return 2
    key_path = Path(args.key) if args.key else get_settings().audit_key_path
    key = read_key(key_path)
    found = verify_bundle(path.read_bytes(), key)
    for line in found.checked:
        print(f"  checked: {line}")
    for line in found.unchecked:
        print(f"  not checked: {line}")
    if not found.ok:
        print(f"Bundle BROKEN: {'; '.join(found.problems)}.")
        return 1
    print(f"Bundle intact: {path.name}.")
    return 0


def cmd_import_parents(args: argparse.Namespace) -> int:
    """Import parents from a CSV file; line errors go to stderr and nothing is saved."""
    from pathlib import Path

    from casework.parents_file import import_parents_file
    from casework.progress import TextProgress
    from forms.parent_directory import FileProblem

    path = Path(args.file)
    if not path.is_file():
        print(f"There is no file at {path}.", file=sys.stderr)
        return 2
    try:
        result = import_parents_file(path, school=args.school, progress=TextProgress(sys.stderr))
    except FileProblem as problem:
        print(problem, file=sys.stderr)
        return 1
    if not result.ok:
        for error in result.errors:
            print(error, file=sys.stderr)
        print(result.summary(), file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def cmd_idp_add(args: argparse.Namespace) -> int:
    """Add an organisation's OpenID Connect provider (its secret from the environment)."""
    from db.identity import add_provider
    from db.models import Organisation
    from db.session import transaction

    secret = os.environ.get("CASEWORK_IDP_CLIENT_SECRET", "")
    if not secret:
        print("Set CASEWORK_IDP_CLIENT_SECRET to the provider's client secret.", file=sys.stderr)
        return 2
    if not args.issuer.startswith(("https://", "http://")):
        print("The issuer must be a URL, like https://login.example/tenant/v2.0.", file=sys.stderr)
        return 2
    with transaction() as session:
        if session.get(Organisation, args.organisation) is None:
            print(f"There is no organisation {args.organisation}.", file=sys.stderr)
            return 1
        row = add_provider(
            session,
            organisation_id=args.organisation,
            name=args.name,
            issuer=args.issuer,
            client_id=args.client_id,
            client_secret=secret,
            trust_mfa=args.trust_mfa,
            trust_email=args.trust_email,
        )
        print(f"Added identity provider {row.id}: {row.name} ({row.issuer}).")
    print(f"Register this redirect URI with it: {get_settings().base_url}/oidc/callback")
    return 0


def cmd_idp_list(_: argparse.Namespace) -> int:
    from db.identity import providers
    from db.session import reading

    with reading() as session:
        for row in providers(session):
            trust = "trusts its MFA claim" if row.trust_mfa else "asks for Casework's own code"
            email = (
                "takes its email addresses as verified"
                if row.trust_email
                else "needs email_verified"
            )
            where = f"organisation {row.organisation_id}"
            print("\t".join([str(row.id), row.name, where, row.issuer, trust, email]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casework", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (
        ("run", cmd_run, "set up and start the whole system"),
        ("migrate", cmd_migrate, "bring the database schema up to date"),
        ("seed-demo", cmd_seed, "add the demo school if the database is empty"),
        ("web", cmd_web, "serve the web app"),
        ("worker", cmd_worker, "send the outbox and reconcile with Prefect"),
        ("runner", cmd_runner, "run flows for every incident type"),
        ("prefect-server", cmd_prefect_server, "run Prefect's server (PostgreSQL if configured)"),
        ("devmail", cmd_devmail, "run the local mail catcher"),
        ("replies", cmd_replies, "receive emailed replies to requests (SMTP)"),
    ):
        sub.add_parser(name, help=help_text).set_defaults(func=func)
    parents = sub.add_parser("import-parents", help="import parents and carers from a CSV file")
    parents.add_argument("file", help="the CSV file exported from the school's MIS")
    parents.add_argument("--school", help="the school's number or exact name (if several)")
    parents.set_defaults(func=cmd_import_parents)
    add_admin_commands(sub)
    add_retention_commands(sub)
    idp = sub.add_parser("idp", help="identity providers (OpenID Connect) for sign-in")
    idp_sub = idp.add_subparsers(dest="idp_command", required=True)
    add = idp_sub.add_parser(
        "add", help="add a provider (client secret in CASEWORK_IDP_CLIENT_SECRET)"
    )
    add.add_argument("--organisation", type=int, required=True, help="the organisation's id")
    add.add_argument("--name", required=True, help='shown as "Sign in with NAME"')
    add.add_argument("--issuer", required=True, help="the provider's issuer URL")
    add.add_argument("--client-id", required=True)
    add.add_argument(
        "--trust-mfa", action="store_true", help='take an amr claim of "mfa" as the second factor'
    )
    add.add_argument(
        "--trust-email",
        action="store_true",
        help="take an email claim that comes without email_verified as verified (Microsoft "
        "Entra ID sends none); only for a provider whose accounts all have addresses of "
        "your own domains",
    )
    add.set_defaults(func=cmd_idp_add)
    idp_sub.add_parser("list", help="list the providers").set_defaults(func=cmd_idp_list)
    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="re-hash every chain, then sign a checkpoint").set_defaults(
        func=cmd_audit_verify
    )
    wrong = audit_sub.add_parser(
        "mark-in-error", help="record that an event was wrong (nothing is changed or removed)"
    )
    wrong.add_argument("seq", type=int, help="the event's number in the trail")
    wrong.add_argument("--reason", required=True, help="why the event is wrong")
    wrong.add_argument("--by", required=True, help="email address of who is correcting it")
    wrong.set_defaults(func=cmd_audit_mark_in_error)
    bundle = audit_sub.add_parser(
        "verify-bundle", help="check a case's audit bundle (ZIP) with no database"
    )
    bundle.add_argument("file", help="the bundle downloaded from the case's chronology")
    bundle.add_argument(
        "--key", default="", help="the audit key file, to check the signatures (default: ours)"
    )
    bundle.set_defaults(func=cmd_audit_verify_bundle)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging(get_settings().log_format)
    # Keep the console to what a person starting Casework needs to read.
    for noisy in ("httpx", "alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
