"""The worker's termly job: email each school's chair of governors the report of the term
that has just ended, once.

Once is kept by the database, not by this process: the email's outbox row has a dedup key
made of the school and the term (`services.governors_report.report_key`), so a second pass,
a restart or a second worker finds it queued and sends nothing more.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from core.enums import AuditKind
from core.terms import uk_today
from db.audit import record_event
from db.models import utcnow
from db.schools import get_school
from db.session import reading, transaction
from services.governors_report import ReportRefused, email_chair, schools_due

log = logging.getLogger("casework.governors")
# Asked at most this often: a term ends a few times a year, and a school with no chair of
# governors yet would otherwise be looked at on every pass of the reconciler.
EVERY_SECONDS = 15 * 60
_next_look = 0.0


def send_governors_reports(now: datetime | None = None) -> int:
    """Queue the chair's email for every school whose last term has ended and has not had
    its report; returns how many were queued."""
    now = now or utcnow()
    with reading() as session:
        due = [(school.id, term) for school, term in schools_due(session, uk_today(now))]
    queued = 0
    for school_id, term in due:
        try:
            with transaction() as session:
                queued += email_chair(session, get_school(session, school_id), term, now)
        except ReportRefused as refused:
            log.warning("school %s: %s report not sent: %s", school_id, term.key, refused)
            with transaction() as session:
                record_event(
                    session,
                    case_id=None,
                    kind=AuditKind.GOVERNORS_REPORT_REFUSED,
                    data={"school_id": school_id, "term": term.key, "problems": refused.problems},
                    school_id=school_id,
                )
    return queued


def governors_reports_now_and_then() -> int:
    """`send_governors_reports`, at most every EVERY_SECONDS (for the reconciler's loop)."""
    global _next_look
    if time.monotonic() < _next_look:
        return 0
    _next_look = time.monotonic() + EVERY_SECONDS
    return send_governors_reports()
