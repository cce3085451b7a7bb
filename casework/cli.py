"""The `casework` command: set up, run every process, verify the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Sequence

from core.settings import PROJECT_ROOT, Settings, get_settings


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment for every process that talks to (or is) the Prefect server."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": str(settings.runner_poll_seconds),
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_UI_ENABLED": "true",
    }


def child_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **prefect_env(settings), "PYTHONUNBUFFERED": "1"}


def cmd_migrate(_: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    print("Database is up to date.")
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    from casework.demo import seed_demo
    from db.session import transaction

    with transaction() as session:
        school = seed_demo(session)
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


def cmd_runner(_: argparse.Namespace) -> int:
    os.environ.update(prefect_env(get_settings()))
    from flows.deployments import serve_all

    # Prefect's runner answers SIGTERM by exiting from a signal handler, which leaves its
    # own stop coroutine unawaited; the warning says nothing about our flows.
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")

    serve_all()
    return 0


def cmd_devmail(_: argparse.Namespace) -> int:
    from mail.catcher import MailStore, serve_forever

    settings = get_settings()
    serve_forever(MailStore(settings.devmail_dir), settings.devmail_host, settings.devmail_port)
    return 0


def cmd_audit_verify(_: argparse.Namespace) -> int:
    from db.audit import verify_chain
    from db.session import transaction

    with transaction() as session:
        report = verify_chain(session)
    if report.ok:
        print(f"Audit chain intact: {report.checked} events verified.")
        return 0
    print(
        f"Audit chain BROKEN at event {report.bad_seq}: {report.problem} "
        f"({report.checked} events before it verified)."
    )
    return 1


def cmd_import_parents(args: argparse.Namespace) -> int:
    """Import parents from a CSV file; line errors go to stderr and nothing is saved."""
    from pathlib import Path

    from casework.parents_file import TextProgress, import_parents_file
    from forms.parent_directory import FileProblem

    path = Path(args.file)
    if not path.is_file():
        print(f"There is no file at {path}.", file=sys.stderr)
        return 2
    try:
        result = import_parents_file(path, progress=TextProgress(sys.stderr))
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


def wait_http(url: str, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers 200; fail early if `proc` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def prefect_server_command(settings: Settings) -> list[str]:
    port = settings.prefect_api_url.rsplit(":", 1)[-1].split("/")[0]
    return [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        port,
    ]


def spawn(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    print(f"  starting {name}")
    # Own session: Ctrl-C reaches only the supervisor, which stops children in order.
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, start_new_session=True)


def stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def cmd_run(_: argparse.Namespace) -> int:
    """Migrate, seed if empty, start every process, print where things are; Ctrl-C stops all."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    cmd_migrate(_)
    cmd_seed(_)
    env = child_env(settings)
    me = [sys.executable, "-m", "casework.cli"]
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if settings.dev_mode:
            procs.append(spawn("mail catcher", [*me, "devmail"], env))
        server = spawn("Prefect server", prefect_server_command(settings), env)
        procs.append(server)
        wait_http(settings.prefect_api_url + "/health", 120, server)
        for name, sub in (("runner", "runner"), ("worker", "worker"), ("web app", "web")):
            procs.append(spawn(name, [*me, sub], env))
        wait_http(settings.base_url + "/healthz", 60, procs[-1])
        print_banner(settings)
        while not stopping:
            if any(p.poll() is not None for p in procs):
                print("A Casework process stopped unexpectedly; stopping the rest.")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("Stopping Casework…")
        stop_all(procs)


def print_banner(settings: Settings) -> None:
    from casework.demo import STAFF

    ui = settings.prefect_api_url.removesuffix("/api")
    print(f"""
Casework is running.
  Web app          {settings.base_url}
  Mail catcher     {settings.base_url}/dev/mail   (every email Casework sends lands here)
  Prefect UI       {ui}

Sign in at {settings.base_url}/signin with one of these addresses, then open the link
that arrives in the mail catcher:""")
    for name, email, role, _ in STAFF:
        print(f"  {email:34} {name} ({role.value})")
    print("\nPress Ctrl-C to stop everything.\n")


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
        ("devmail", cmd_devmail, "run the local mail catcher"),
    ):
        sub.add_parser(name, help=help_text).set_defaults(func=func)
    parents = sub.add_parser("import-parents", help="import parents and carers from a CSV file")
    parents.add_argument("file", help="the CSV file exported from the school's MIS")
    parents.set_defaults(func=cmd_import_parents)
    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="re-hash the whole chain").set_defaults(
        func=cmd_audit_verify
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Keep the console to what a person starting Casework needs to read.
    for noisy in ("httpx", "alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
