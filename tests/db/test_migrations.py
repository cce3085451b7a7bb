"""The migrations build exactly the schema the models describe, and keep existing mail."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from db.migrate import alembic_config, upgrade
from db.models import Base, Case, OutboxBody, OutboxMessage
from db.search import outside_the_models
from db.session import make_engine, transaction


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            # The search index differs by backend, so the models leave it out (db/search.py).
            context = MigrationContext.configure(
                connection,
                opts={"include_name": lambda name, kind, _: not outside_the_models(name or "")},
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_outbox_bodies_migration_keeps_every_message(db_url: str) -> None:
    """Rows queued before bodies were shared still send the same words after upgrading."""
    command.upgrade(alembic_config(db_url), "0003")
    engine = make_engine(db_url)
    letter = ("A letter to families", "Dear parent or carer,", "<p>Dear parent or carer,</p>")
    notice = ("Case 7 needs you", "Please review case 7.", "<p>Please review case 7.</p>")
    queued = [("letter:1:1", letter), ("letter:1:2", letter), ("notice:7", notice)]
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            for n, (key, (subject, text, html)) in enumerate(queued):
                connection.execute(
                    sa.text(
                        "INSERT INTO outbox (dedup_key, kind, to_addr, subject, text_body,"
                        " html_body, priority, message_id, status, attempts, next_attempt_at,"
                        " last_error, created_at) VALUES (:key, 'parent_letter', :to, :subject,"
                        " :text, :html, 0, :mid, 'pending', 0, :now, '', :now)"
                    ),
                    {
                        "key": key,
                        "to": f"parent{n}@families.example",
                        "subject": subject,
                        "text": text,
                        "html": html,
                        "mid": f"<m{n}@school.example>",
                        "now": now,
                    },
                )
    finally:
        engine.dispose()

    upgrade(db_url)

    with transaction(db_url) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.dedup_key, (r.subject, r.text_body, r.html_body)) for r in rows] == queued
        assert [r.message_id for r in rows] == [
            "<m0@school.example>",
            "<m1@school.example>",
            "<m2@school.example>",
        ]
        # The letter's two copies share one body; the notice has its own.
        assert session.scalar(select(sa.func.count()).select_from(OutboxBody)) == 2
        assert rows[0].body_id == rows[1].body_id != rows[2].body_id


def test_cases_closed_before_retention_get_their_review_date(db_url: str) -> None:
    """Migration 0016 dates every case already closed under the default rules."""
    command.upgrade(alembic_config(db_url), "0014")
    engine = make_engine(db_url)
    at = datetime(2009, 10, 5, 9, 0, tzinfo=UTC)
    closed = datetime(2009, 11, 4, 9, 0, tzinfo=UTC)
    rows = (
        ("organisations", {"id": 1, "name": "Trust", "kind": "trust", "created_at": at}),
        (
            "schools",
            {
                "id": 1,
                "organisation_id": 1,
                "name": "School",
                "phase": "primary",
                "address": "",
                "email": "",
                "phone": "",
                "stock_response": "",
                "created_at": at,
            },
        ),
        (
            "people",
            {
                "id": 1,
                "school_id": 1,
                "name": "Dee Ess",
                "email": "dsl@school.example",
                "role": "dsl",
                "job_title": "",
                "active": True,
                "created_at": at,
                "year_groups": "",
                "contact_by": "email",
                "postal_address": "",
            },
        ),
    )
    case = {
        "school_id": 1,
        "incident_type": "pupil_contact",
        "reporter_id": 1,
        "lead_id": 1,
        "platform": "Instagram",
        "occurred_at": at,
        "description": "A pupil sent messages.",
        "details": '{"pupil_year_group": "Year 6"}',
        "safeguarding": False,
        "procedure_version": "A",
        "outcome": "",
        "opened_at": at,
    }
    try:
        with engine.begin() as connection:
            for table, values in rows:
                names = ", ".join(values)
                marks = ", ".join(f":{k}" for k in values)
                connection.execute(
                    sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values
                )
            for n, (status, closed_at) in enumerate((("closed", closed), ("open", None)), 1):
                values = {
                    **case,
                    "id": n,
                    "reference": f"CW-2009-0000{n}",
                    "status": status,
                    "closed_at": closed_at,
                }
                names = ", ".join(values)
                marks = ", ".join(f":{k}" for k in values)
                connection.execute(sa.text(f"INSERT INTO cases ({names}) VALUES ({marks})"), values)
    finally:
        engine.dispose()

    upgrade(db_url)

    with transaction(db_url) as session:
        dates = dict(session.execute(select(Case.id, Case.review_on)).all())
    # Year 6 in October 2009: born by 31 August 1999, so due when they are 25.
    assert dates == {1: date(2024, 8, 31), 2: None}
