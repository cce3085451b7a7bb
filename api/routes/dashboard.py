"""The dashboard (figures and charts over a term or a date range) and the governors' report
as a PDF, for the people the policy lets see the dashboard: never a name, figures only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import allowed, read_only
from api.errors import AppError
from api.pages import attachment, render_page
from api.security import Visitor
from core.access import Action
from core.enums import AuditKind
from core.settings import get_settings
from core.terms import DateRange, recent_terms, term_by_key, term_of, uk_today
from db.audit import record_event
from db.people import get_person
from db.session import Session, reading, transaction
from forms.common import validate
from forms.dashboard import DateRangeForm
from services.dashboard import dashboard
from services.governors_report import ReportRefused, range_label, report_for, report_pdf

router = APIRouter()
SEE = allowed(Action.SEE_DASHBOARD)
NO_SUCH_TERM = "There is no term with that name: choose one from the dashboard's list."


@dataclass(frozen=True)
class Chosen:
    """The days the figures count, how the page names them, and the address that asks."""

    days: DateRange
    label: str
    query: dict[str, str]


def chosen(request: Request) -> tuple[Chosen | None, dict[str, str], dict[str, str]]:
    """The range the address asks for (a term, or first and last days; by default this
    term), or the problems with it; and the values to show in the form again."""
    query = request.query_params
    starts = get_settings().terms
    if "term" in query:
        try:
            term = term_by_key(query["term"], starts)
        except ValueError:
            raise AppError(400, NO_SUCH_TERM) from None
        return Chosen(term.days, term.label, {"term": term.key}), {}, {}
    if "start" in query or "end" in query:
        values = {"start": query.get("start", ""), "end": query.get("end", "")}
        form, errors = validate(DateRangeForm, values)
        if form is None:
            return None, errors, values
        days = DateRange(form.start, form.end)
        asked = {"start": form.start.isoformat(), "end": form.end.isoformat()}
        return Chosen(days, range_label(days), asked), {}, asked
    term = term_of(uk_today(), starts)
    return Chosen(term.days, term.label, {"term": term.key}), {}, {}


@router.get("/dashboard")
def show_dashboard(
    request: Request, seen: Visitor = Depends(SEE), session: Session = Depends(read_only)
) -> Response:
    picked, errors, values = chosen(request)
    terms = recent_terms(uk_today(), get_settings().terms)
    board = None
    if picked is not None:
        board = dashboard(
            session, seen.school_id, picked.days, picked.label, viewer_id=seen.actor.id
        )
        days = picked.days
        values = values or {"start": days.first.isoformat(), "end": days.last.isoformat()}
    return render_page(
        request,
        "pages/dashboard.html",
        status_code=400 if errors else 200,
        board=board,
        errors=errors,
        values=values,
        terms=terms,
        chosen_term=picked.query.get("term", "") if picked else "",
        report_link="/dashboard/report.pdf?" + urlencode(picked.query) if picked else "",
    )


@router.get("/dashboard/report.pdf")
def governors_report(request: Request, seen: Visitor = Depends(SEE)) -> Response:
    """The governors' report for the chosen range, once the check finds nobody named."""
    picked, errors, _ = chosen(request)
    if picked is None:
        raise AppError(400, " ".join(errors.values()))
    try:
        with reading() as session:
            board, scope = report_for(
                session, seen.school_id, picked.days, picked.label, seen.actor.id
            )
            data = report_pdf(session, board, scope)
    except ReportRefused as refused:
        log_report(seen, AuditKind.GOVERNORS_REPORT_REFUSED, picked, problems=refused.problems)
        raise AppError(
            409,
            f"{' '.join(refused.problems)} It has not been made. Please tell whoever looks "
            "after Casework, so that they can find out how a name reached the figures.",
            title="The report was not made",
        ) from None
    sha256 = hashlib.sha256(data).hexdigest()
    log_report(seen, AuditKind.GOVERNORS_REPORT_DOWNLOADED, picked, sha256=sha256)
    return attachment(data, "application/pdf", filename(seen, picked), ("X-Report-SHA256", sha256))


def log_report(seen: Visitor, kind: AuditKind, picked: Chosen, **extra: object) -> None:
    """Who asked for which report: in its own transaction, so a refusal is kept too."""
    with transaction() as session:
        record_event(
            session,
            case_id=None,
            kind=kind,
            actor=get_person(session, seen.actor.id),
            data={
                "school_id": seen.school_id,
                "first_day": picked.days.first.isoformat(),
                "last_day": picked.days.last.isoformat(),
                **extra,
            },
            school_id=seen.school_id,
        )


def filename(seen: Visitor, picked: Chosen) -> str:
    school = re.sub(r"[^a-z0-9]+", "-", seen.school_name.lower()).strip("-")
    which = picked.query.get("term") or f"{picked.days.first}-to-{picked.days.last}"
    return f"governors-report-{school}-{which}.pdf"
