"""Queueing mail: one body however many copies, and never the same message twice."""

from __future__ import annotations

from sqlalchemy import func, select

from core.settings import Settings
from core.templating import RenderedEmail
from db.models import OutboxBody, OutboxMessage
from db.outbox import CHUNK, queue_email, queue_many
from db.session import transaction
from tests.support import make_case

LETTER = RenderedEmail("A letter to families", "Dear parent or carer,", "<p>Dear parent</p>")


def rows(url: str) -> list[tuple[str, str, str]]:
    with transaction(url) as session:
        found = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(m.dedup_key, m.to_addr, m.text_body) for m in found]


def test_a_letter_to_thousands_is_one_body_and_one_row_each(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    before = len(rows(url))
    recipients = [(f"letter:{case_id}:{n}", f"parent{n}@families.example") for n in range(2500)]
    with transaction(url) as session:
        queued = queue_many(
            session, email=LETTER, kind="parent_letter", case_id=case_id, recipients=recipients
        )
    assert queued == 2500 > CHUNK, "more rows than one statement carries"
    letters = rows(url)[before:]
    assert [(key, to) for key, to, _ in letters] == recipients
    assert {text for _, _, text in letters} == {"Dear parent or carer,"}
    with transaction(url) as session:
        ids = session.scalars(select(OutboxMessage.message_id)).all()
        assert len(set(ids)) == len(ids), "every message has its own Message-ID"
        bodies = session.scalar(
            select(func.count()).select_from(OutboxBody).where(OutboxBody.subject == LETTER.subject)
        )
        assert bodies == 1


def test_queueing_again_adds_only_the_new_recipients(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    first = [(f"k{n}", f"p{n}@families.example") for n in range(3)]
    with transaction(url) as session:
        queue_many(session, email=LETTER, kind="parent_letter", case_id=case_id, recipients=first)
    before = len(rows(url))
    again = [*first, ("k3", "p3@families.example"), ("k4", "")]
    with transaction(url) as session:
        added = queue_many(
            session, email=LETTER, kind="parent_letter", case_id=case_id, recipients=again
        )
        # A single email with the same words reuses the stored body too.
        queue_email(session, dedup_key="k5", to="p5@families.example", email=LETTER, kind="x")
    assert added == 1, "the three already queued and the one without an address are skipped"
    assert [key for key, _, _ in rows(url)[before:]] == ["k3", "k5"]
