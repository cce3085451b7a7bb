"""The schema: SQLAlchemy 2 typed models. Alembic migrations are the only way it changes.

Over 400 lines on purpose: one file holds the whole schema, so a newcomer reads every table
and its comments in one place, and the migrations have one file to be compared against.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column, relationship

from core.enums import (
    ApprovalKind,
    ContactBy,
    Decision,
    HandOver,
    IncidentType,
    OrganisationKind,
    Phase,
    Role,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always hands back timezone-aware UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def str_enum(enum_cls: type[enum.StrEnum]) -> Enum:
    """A portable string column holding the enum's values (no native DB enum to migrate)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"  # reported in error: its procedure was cancelled, nothing deleted


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    WAITING = "waiting"
    DONE = "done"
    SKIPPED = "skipped"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its case was withdrawn before it went out


class Organisation(Base):
    """A trust or local authority holding schools (or a school on its own)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phase: Mapped[Phase] = mapped_column(str_enum(Phase), default=Phase.PRIMARY)
    address: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    # The reply staff may send a parent who asks to connect on social media; the school
    # edits it on the admin page, and an empty value means Casework's own wording.
    stock_response: Mapped[str] = mapped_column(Text, default="")
    # Who a request nobody answers goes to next, by the kind of step (core/chains.py):
    # {"headteacher": ["deputy_head", ...], ...}; none means Casework's default chains.
    escalation_chains: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    # Years a closed case is kept, by record class (core/retention.py): {"pupil": 25, ...};
    # none means Casework's defaults.
    retention: Mapped[dict[str, int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Person(Base):
    """Anyone Casework knows: staff (with a role) and parents/carers."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role), index=True)
    job_title: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Parents and carers only, from the school's management information system export.
    year_groups: Mapped[str] = mapped_column(String(200), default="")
    contact_by: Mapped[ContactBy] = mapped_column(str_enum(ContactBy), default=ContactBy.EMAIL)
    postal_address: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("school_id", "email", "role", name="uq_people_email"),)


class Serves(Base):
    """A school a person serves beyond their own: a council HR adviser, a trust auditor."""

    __tablename__ = "person_schools"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# An open case whose flow run is not created yet (the partial index's condition, and the
# hand-off's query, which must repeat it word for word for SQLite to use the index).
AWAITING_RUN_SQL = "flow_run_id IS NULL AND status = 'open'"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    incident_type: Mapped[IncidentType] = mapped_column(str_enum(IncidentType))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.OPEN)
    # Indexed, like the requests' approvers and the steps' owners: who may see a case rests
    # on them, and a member of staff's case list finds their few cases through them.
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    platform: Mapped[str] = mapped_column(String(60))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The member of staff the case is about (reported, or thought responsible): they may
    # not see it, and if they are the headteacher the chair of governors stands in.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # Sexual images of a child were reported: no files, DSL alerted, police/CEOP first.
    safeguarding: Mapped[bool] = mapped_column(Boolean, default=False)
    hr_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    procedure_version: Mapped[str] = mapped_column(String(40))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a closed case is next reviewed for disposal (core/retention.py); none while open.
    review_on: Mapped[date | None] = mapped_column(Date)
    # Someone chose to keep it longer: a change to the school's rules leaves the date alone.
    review_extended: Mapped[bool] = mapped_column(Boolean, default=False)
    # Its personal content was removed; what is left is the tombstone (CaseDisposal).
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The case list: a school's cases, newest first, a page at a time; the review queue: a
    # school's cases by review date.
    __table_args__ = (
        Index("ix_cases_school_opened", "school_id", "opened_at"),
        Index("ix_cases_school_review", "school_id", "review_on"),
        # The worker's hand-off looks for cases awaiting their run several times a second:
        # only the few new ones are in this index, however many cases there are.
        Index(
            "ix_cases_awaiting_run",
            "id",
            sqlite_where=sql_text(AWAITING_RUN_SQL),
            postgresql_where=sql_text(AWAITING_RUN_SQL),
        ),
    )


class CaseMention(Base):
    """An account or address a case's report names, normalised (core.rules.mentions_in) so
    that cases naming the same account find each other."""

    __tablename__ = "case_mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    platform: Mapped[str] = mapped_column(String(20))  # a PLATFORMS key, or "web"
    handle: Mapped[str] = mapped_column(String(300))
    # Named in an answer the case page shows everyone who may see the case (the pupil's
    # account); otherwise only people who see the full record are told about it.
    shown_to_all: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("case_id", "platform", "handle", name="uq_case_mentions_case_account"),
        Index("ix_case_mentions_account", "platform", "handle"),
    )


class CaseStep(Base):
    """One numbered step of the procedure, as it stands for one case."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[StepStatus] = mapped_column(str_enum(StepStatus), default=StepStatus.PENDING)
    # Indexed: "cases I was asked about" is part of who may see a case.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("case_id", "key", name="uq_case_steps_case_key"),)


class Evidence(Base):
    """An uploaded original, kept byte-for-byte outside any served folder."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    original_filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(500), default="")


class Approval(Base):
    """A decision or outcome asked of one person for one step, by a single-use emailed link.

    kind=approval: the person approves or rejects; kind=task: the person records an outcome.
    """

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step_key: Mapped[str] = mapped_column(String(60))
    kind: Mapped[ApprovalKind] = mapped_column(str_enum(ApprovalKind))
    approver_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[Decision | None] = mapped_column(str_enum(Decision))
    reason: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_ip: Mapped[str] = mapped_column(String(64), default="")
    decided_user_agent: Mapped[str] = mapped_column(String(400), default="")
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reminders sent while it waited (each one came with a fresh link).
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when the request stopped counting: its case was withdrawn, or the step is being
    # done again after a reopening. The row stays (nothing is deleted); its link is dead.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it is with someone other than the person the procedure asked, who passed it on
    # (none: Casework escalating), their reason, and when (services/handover.py).
    handed_over: Mapped[HandOver | None] = mapped_column(str_enum(HandOver))
    handed_over_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    handed_over_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The link the last holder had, so opening it says the request moved on.
    passed_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Escalation found nobody further in the chain: it stays, and nothing more is sent.
    escalation_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # One live request per step; superseded ones are kept beside it.
    __table_args__ = (
        Index(
            "uq_approvals_live_step",
            "case_id",
            "step_key",
            unique=True,
            sqlite_where=superseded_at.is_(None),
            postgresql_where=superseded_at.is_(None),
        ),
        Index("ix_approvals_approver_waiting", "approver_id", "decided_at"),
    )


class CaseNote(Base):
    """A note added to a case by someone working it: who, when, what. Never edited."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class DecisionCode(Base):
    """A six-digit code emailed to an approver to confirm an answer that reaches outside the
    school. Kept as a keyed hash; short-lived, single use, and refused after a few wrong tries.
    """

    __tablename__ = "decision_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxBody(Base):
    """The subject and both parts of an email, stored once however many people it goes to.

    A letter to 10,000 parents is 10,000 outbox rows and one body: the rows stay small, so
    the sender's claim and record updates do not rewrite the letter 20,000 times.
    """

    __tablename__ = "outbox_bodies"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the three
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """One email to one recipient, written in the transaction that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    to_addr: Mapped[str] = mapped_column(String(320))
    # A request's secret reply address (answering by email); empty for every other email.
    reply_to: Mapped[str] = mapped_column(String(320), default="", server_default="")
    body_id: Mapped[int] = mapped_column(ForeignKey("outbox_bodies.id"), index=True)
    body: Mapped[OutboxBody] = relationship(lazy="joined")
    # Urgent safeguarding alerts go out before anything else queued with them.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The sender holding a `sending` row (its `sender_name`): read back from its crash
    # journal when it starts again (mail/journal.py).
    claimed_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def subject(self) -> str:
        return self.body.subject

    @property
    def text_body(self) -> str:
        return self.body.text_body

    @property
    def html_body(self) -> str:
        return self.body.html_body


class PrintFile(Base):
    """One print-ready PDF of postal letters for a case, kept under the var dir."""

    __tablename__ = "print_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    letters: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    printed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class PostalLetter(Base):
    """One parent's page in a print file: who gets a letter by post, and where it is."""

    __tablename__ = "postal_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    print_file_id: Mapped[int] = mapped_column(ForeignKey("print_files.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    page: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("print_file_id", "person_id", name="uq_postal_letters_file_person"),
    )


class CasePack(Base):
    """An HR or police case pack as it was produced: its HTML and PDF, stored write-once, and
    their SHA-256s (the pack.produced event carries the PDF's). A case may have several of a
    kind; the latest is the one shown. Disposal removes the files and keeps the row."""

    __tablename__ = "case_packs"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    html_name: Mapped[str] = mapped_column(String(80), unique=True)
    html_sha256: Mapped[str] = mapped_column(String(64))
    html_size: Mapped[int] = mapped_column(BigInteger)
    pdf_name: Mapped[str] = mapped_column(String(80), unique=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pdf_size: Mapped[int] = mapped_column(BigInteger)
    produced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportDraft(Base):
    """A report that passed its checks and waits for its sender to check the answers and send
    it (db/drafts.py). Its files wait in the quarantine store, not with the evidence. Once
    sent, its answers and files are gone and the row is a receipt: the token's case, so a
    second press of "Send" finds it instead of opening another. Every draft, sent or not, is
    deleted 24 hours after it was made (services/drafts.py)."""

    __tablename__ = "report_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only the hash: the raw token is in the address the sender's browser holds.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    incident_type: Mapped[IncidentType] = mapped_column(str_enum(IncidentType))
    # The form's fields as typed (texts, and lists for ticked boxes), to fill it in again.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{stored_name, sha256, size, filename, content_type}], in the order they were attached.
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    evidence_source: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set while one request sends it: a second press waits for that one's case.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class AuditEvent(Base):
    """Append-only, hash-chained record of everything that happened."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)  # the event's number
    # Which chain it is on ("school:<id>", "installation", or "" for the one chain written
    # before each school had its own) and its place there, from 1 (db/audit.py).
    chain: Mapped[str] = mapped_column(String(40), server_default="")
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(260))
    # Indexed for a person's history: every case a member of staff acted on.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    # A case's events in order: its page reads the newest, its export all of them. And a
    # case's events of some kinds, which the page counts and reads (migration 0021).
    __table_args__ = (
        Index("ix_audit_events_case_seq", "case_id", "seq"),
        Index("ix_audit_events_case_kind_seq", "case_id", "kind", "seq"),
        UniqueConstraint("chain", "chain_seq", name="uq_audit_events_chain_seq"),
    )


class LegalHold(Base):
    """A case that must not be disposed of (a claim, an investigation, an inquiry), and why.

    Never deleted: releasing it fills in who released it, when and why.
    """

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class CaseDisposal(Base):
    """The tombstone of a disposed case: what is left to say it existed, and no more.

    The case's row keeps its reference, type, school and dates; this says who disposed of
    it, when, why, and how much was removed (`counts`: {"evidence files": 2, ...}).
    """

    __tablename__ = "case_disposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    disposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text)
    record_classes: Mapped[str] = mapped_column(String(60))  # "pupil,staff"
    review_on: Mapped[date | None] = mapped_column(Date)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class SignInToken(Base):
    __tablename__ = "signin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(Base):
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The school a person who serves several is looking at (none: their own).
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    # The last request seen on this session, for the idle timeout (kept to the minute).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecondFactorChallenge(Base):
    """A first step passed (emailed link or identity provider) that waits for a code.

    The browser holds the raw token in a cookie; no session exists until the code is right.
    """

    __tablename__ = "mfa_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    how: Mapped[str] = mapped_column(String(64))  # "link" or "idp:<id>"
    next_path: Mapped[str] = mapped_column(String(1000), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpCredential(Base):
    """A person's authenticator-app secret, sealed with the app's secret key."""

    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None until the person has typed a first code from the new secret.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time step of the last code accepted: a code works once.
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)


class IdentityProvider(Base):
    """An organisation's OpenID Connect provider (Microsoft Entra ID, Google Workspace...)."""

    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # "Microsoft", shown on the button
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    sealed_client_secret: Mapped[str] = mapped_column(Text)
    # Whether an `amr` claim saying "mfa" is taken as the second factor done.
    trust_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether an `email` claim that comes without `email_verified` is taken as verified: for
    # a provider that only issues addresses of the organisation's own domains and does not
    # send the claim (Microsoft Entra ID). An `email_verified` of false is refused anyway.
    trust_email: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def configure_models() -> None:
    """Set up every model's mapping now rather than at this process's first query (the fork
    server that flow runs start from does it once for all of them)."""
    configure_mappers()
