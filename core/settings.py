"""All configuration, read once from environment variables prefixed CASEWORK_."""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.terms import DEFAULT_TERM_STARTS, TermStarts, parse_term_starts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me"
DEV_REPLY_DOMAIN = "replies.localhost"
MINIMUM_HEARTBEAT_SECONDS = 30  # Prefect's own floor for a flow run's heartbeat


class Settings(BaseSettings):
    """Every tunable of Casework; the defaults are the embedded set-up `make run` uses."""

    model_config = SettingsConfigDict(env_prefix="CASEWORK_", extra="ignore")

    dev_mode: bool = True
    var_dir: Path = PROJECT_ROOT / "var"
    # Evidence and print-ready letters: on several machines, a directory every one of them
    # mounts (NFS, SMB); empty means `var_dir`.
    files_dir: str = ""
    database_url: str = ""
    # Each process's connection pool (PostgreSQL): max_connections on the server must cover
    # (pool + overflow) for every web, worker and runner process and each flow run's own.
    db_pool_size: int = 10
    db_pool_overflow: int = 30
    # "text" for people reading a console; "json" for a log collector: one object per line,
    # with the case id and flow run id as fields whenever a line is about one.
    log_format: Literal["text", "json"] = "text"
    secret_key: SecretStr = SecretStr(DEV_SECRET)

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # Web processes behind the one port (uvicorn's workers); each has its own connection
    # pool and its own rate-limit counters.
    web_workers: int = 1
    # Requests each web process works on at once (its thread pool; the rest wait their turn
    # without using the CPU); 0 means two per core. Measured on SQLite (DECISIONS.md): forty
    # threads, the framework's default, made a burst of uploads slower, not faster, as they
    # took the interpreter from the one holding the database's write lock.
    web_threads: int = Field(default=0, ge=0)
    base_url: str = "http://127.0.0.1:8000"
    # Where "Hide this page" (on pages about a case) goes at once: a site nobody glancing at
    # a screen in a shared room would think twice about.
    hide_page_url: str = "https://www.bbc.co.uk/weather"

    prefect_api_url: str = "http://127.0.0.1:4200/api"
    prefect_port: int = 4200
    # `casework prefect-server`: the address Prefect's server listens on (its port is the
    # API URL's), and its own database: a PostgreSQL URL in production (passed to Prefect as
    # PREFECT_API_DATABASE_CONNECTION_URL); empty keeps Prefect's SQLite file in var/prefect.
    prefect_host: str = "127.0.0.1"
    prefect_database_url: str = ""
    # A flow run's process sends Prefect a heartbeat this often (Prefect's minimum is 30 s).
    # The reconciler takes a run still running (or pending) with no heartbeat for
    # `flow_silent_heartbeats` of these as dead, its machine or runner gone, and runs it again.
    flow_heartbeat_seconds: int = 30
    flow_silent_heartbeats: int = 3
    runner_poll_seconds: float = 0.5  # how often the runner asks Prefect for runs to start
    # How many flow runs the runner works at once; 0 means one per core of this machine, so a
    # burst of reports queues runs instead of starving the web app of CPU.
    runner_limit: int = 0
    # How far below the web app's and the worker's the CPU priority of the runner, its flow
    # runs and `casework prefect-server` is (Unix niceness, 0-19): on a shared machine a
    # burst of flow runs then takes only the CPU that people's requests leave. 0 (the
    # default) keeps them equal: measured on one machine it gained nothing (DECISIONS.md).
    background_niceness: int = Field(default=0, ge=0, le=19)
    # A suspended flow needs an explicit timeout (Prefect has none by default);
    # overdue approvals are chased from our database, not by this timeout.
    suspend_timeout_days: int = 90

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    # Certificates to trust besides the system's, for a relay with its own CA (PEM file).
    smtp_ca_file: str = ""
    smtp_timeout_seconds: float = 15.0
    mail_from: str = "Casework <casework@school.example>"
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 5.0
    outbox_backoff_cap_seconds: float = 900.0

    # Answering a decision by replying to its email (casework/replies.py). Each request's
    # Reply-To is a secret address at `reply_domain`, whose MX hands mail to the receiver
    # on `inbound_host:inbound_port`; empty turns replies off (dev mode fills in a local one).
    reply_domain: str = ""
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 2525
    # The authserv-id of the mail server whose Authentication-Results header Casework trusts
    # (it must remove any such header a message arrives with); see DECISIONS.md.
    reply_authserv_id: str = ""

    devmail_host: str = "127.0.0.1"
    devmail_port: int = 1025
    # Dev mode only: a local OpenID Connect provider with the demo people as its accounts.
    dev_oidc_port: int = 4300

    approval_ttl_hours: int = 72
    # A request still undecided this long after its link was sent is sent again, with a new
    # link (the old one stops working), at most `reminders_max` times; 0 turns reminders off.
    reminder_after_hours: float = 24.0
    reminders_max: int = 3
    # How long the platform has to answer a report before the case lead is asked about
    # escalating to the Professionals Online Safety Helpline.
    platform_wait_hours: int = 48
    signin_ttl_minutes: int = 20
    session_ttl_hours: int = 12  # a session ends this long after sign-in, however busy
    session_idle_minutes: int = 30  # ... or after this long without a request
    # The second factor: how long a person has to enter their code after the first step.
    mfa_challenge_minutes: int = 10
    totp_issuer: str = "Casework"

    # Rate limits, in the `limits` library's notation ("5/15minute", "30/hour").
    rate_signin_per_address: str = "5/15minute"  # sign-in emails asked for one address
    rate_signin_per_ip: str = "30/15minute"  # sign-in requests from one client address
    rate_links_per_ip: str = "60/minute"  # emailed links: their pages and answers
    rate_codes_per_person: str = "5/5minute"  # second-factor code attempts
    rate_codes_per_ip: str = "30/5minute"

    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 10
    max_request_bytes: int = 60 * 1024 * 1024

    reconcile_seconds: float = 10.0
    # How often the worker hands new cases and stored decisions to Prefect (the web app
    # never calls it for them); it waits longer, up to `reconcile_seconds`, while they wait.
    handoff_seconds: float = 0.2
    # Health and readiness for a process without a web app of its own: the worker answers
    # /healthz and /readyz here, the runner /health (Prefect's runner webserver); 0 is off.
    # Give each process on a machine its own port.
    health_host: str = "127.0.0.1"
    health_port: int = 0

    # When each term starts (autumn, spring, summer, as MM-DD): the dashboard offers these
    # terms, and the worker emails the chair of governors the report of a term once it ends.
    term_starts: str = DEFAULT_TERM_STARTS

    # Signed checkpoints of the audit chain (services/audit_checkpoints.py): the key and the
    # log live outside the database; empty means a file in `var_dir`. Keep both off the
    # database server and out of its backups.
    audit_key_file: str = ""
    audit_checkpoint_file: str = ""
    audit_checkpoint_minutes: float = 60.0  # how often the worker writes one

    # The outbox sender (mail/sender.py, and its queries in db/outbox_claims.py).
    smtp_connections: int = 4  # concurrent SMTP connections, each reused for many messages
    smtp_rate_per_minute: int = 0  # messages per minute across the process; 0 = no limit
    # A row left `sending` this long by a sender that died is claimed again and resent
    # with the same Message-ID; a live sender renews its claim well before then.
    outbox_stale_sending_seconds: float = 300.0
    outbox_claim_batch: int = 500  # rows claimed per transaction
    outbox_record_batch: int = 50  # most outcomes written per transaction
    # Each sender's name, unique across the installation (empty: this machine's hostname).
    # A sender started again under the same name reads its predecessor's crash journal
    # (mail/journal.py) and carries on at once; the journal must be on this machine's disk.
    sender_name: str = ""
    outbox_journal_dir: str = ""  # empty: `var_dir`/outbox-journal
    # Sync each journal line to disk too (a power cut, not just a killed process); the
    # sender then goes as fast as the disk syncs (see docs/DECISIONS.md).
    outbox_journal_sync: bool = False

    @model_validator(mode="after")
    def _fill_and_check(self) -> Settings:
        if not self.sender_name:
            self.sender_name = socket.gethostname()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'casework.db'}"
        if not self.dev_mode and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "CASEWORK_SECRET_KEY must be set to a long random value outside dev mode"
            )
        self.base_url = self.base_url.rstrip("/")
        if self.flow_heartbeat_seconds < MINIMUM_HEARTBEAT_SECONDS:
            # Prefect refuses a shorter one, and a flow run would fail to start.
            raise ValueError(
                f"CASEWORK_FLOW_HEARTBEAT_SECONDS must be at least {MINIMUM_HEARTBEAT_SECONDS}"
            )
        if self.flow_silent_heartbeats < 2:
            raise ValueError("CASEWORK_FLOW_SILENT_HEARTBEATS must be at least 2")
        if self.dev_mode and not self.reply_domain:
            self.reply_domain = DEV_REPLY_DOMAIN
        self.reply_domain = self.reply_domain.strip().lower()
        try:
            parse_term_starts(self.term_starts)
        except ValueError as exc:
            raise ValueError(f"CASEWORK_TERM_STARTS: {exc}") from None
        return self

    @property
    def terms(self) -> TermStarts:
        return parse_term_starts(self.term_starts)

    @property
    def files_path(self) -> Path:
        """Where evidence and print files live: shared between machines when `files_dir` is set."""
        return Path(self.files_dir) if self.files_dir else self.var_dir

    @property
    def evidence_dir(self) -> Path:
        return self.files_path / "evidence"

    @property
    def letters_dir(self) -> Path:
        return self.files_path / "letters"

    @property
    def outbox_journal_path(self) -> Path:
        """This sender's crash journal."""
        folder = Path(self.outbox_journal_dir) if self.outbox_journal_dir else self.var_dir
        return folder / "outbox-journal" / f"{self.sender_name}.journal"

    @property
    def flow_runs_at_once(self) -> int:
        """The runner's limit: as set, or one flow run per core."""
        return self.runner_limit if self.runner_limit > 0 else (os.cpu_count() or 1)

    @property
    def web_threads_at_once(self) -> int:
        """The web process's thread pool: as set, or two threads per core."""
        return self.web_threads if self.web_threads > 0 else 2 * (os.cpu_count() or 1)

    @property
    def audit_key_path(self) -> Path:
        return Path(self.audit_key_file) if self.audit_key_file else self.var_dir / "audit.key"

    @property
    def audit_checkpoint_path(self) -> Path:
        if self.audit_checkpoint_file:
            return Path(self.audit_checkpoint_file)
        return self.var_dir / "audit-checkpoints.log"

    @property
    def devmail_dir(self) -> Path:
        return self.var_dir / "devmail"

    @property
    def prefect_home(self) -> Path:
        return self.var_dir / "prefect"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure outside dev mode (and in dev mode over https)."""
        return not self.dev_mode or self.base_url.startswith("https://")

    @property
    def cookie_prefix(self) -> str:
        """`__Host-` pins a cookie to this host and path /; browsers only accept it Secure,
        so plain-http dev mode goes without it."""
        return "__Host-" if self.secure_cookies else ""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings()
