"""School settings that the headteacher or DSL edit: the stock response to parents, who a
request nobody answers goes to next (the escalation chains), and how long closed cases are
kept (the retention rules)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, posted_form, unit_of_work
from api.pages import render_page
from api.security import Visitor
from core.access import Action
from core.chains import (
    CHAIN_LENGTH,
    CHAIN_OWNERS,
    CHAIN_ROLES,
    OWNER_TITLES,
    chains_of,
    stored_form,
)
from core.enums import AuditKind, Role
from core.retention import DEFAULT_RULES, LIMITS, RecordClass, RetentionRules
from db.audit import record_event
from db.people import get_person
from db.retention import rules_of, set_rules
from db.schools import get_school, set_escalation_chains, set_stock_response
from db.session import Session
from forms.handover import check_chains, field_name
from forms.retention import check_rules
from services.advice import stock_response_text

router = APIRouter()
MAX_STOCK = 3000
editor = allowed(Action.MANAGE_SETTINGS)


@router.get("/admin/stock-response")
def show(
    request: Request, seen: Visitor = Depends(editor), session: Session = Depends(unit_of_work)
) -> Response:
    school = get_school(session, seen.school_id)
    return render_page(
        request,
        "pages/admin_stock_response.html",
        values={"text": stock_response_text(school)},
        errors={},
        custom=bool(school.stock_response.strip()),
        saved=request.query_params.get("saved") == "1",
    )


@router.post("/admin/stock-response")
def update(
    request: Request,
    seen: Visitor = Depends(editor),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    text = str(form.get("text") or "").strip()
    if form.get("reset") == "1":
        text = ""
    elif not 20 <= len(text) <= MAX_STOCK:
        return render_page(
            request,
            "pages/admin_stock_response.html",
            status_code=400,
            values={"text": text},
            custom=True,
            saved=False,
            errors={"text": f"Write the reply in 20 to {MAX_STOCK:,} characters."},
        )
    set_stock_response(session, seen.school_id, text)
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SCHOOL_STOCK_RESPONSE_CHANGED,
        actor=get_person(session, seen.person.id),
        data={"characters": len(text), "school_id": seen.school_id},
        school_id=seen.school_id,
    )
    return RedirectResponse("/admin/stock-response?saved=1", status_code=303)


def chain_values(chains: dict[Role, tuple[Role, ...]]) -> dict[str, str]:
    """The chains as the form's fields hold them."""
    return {
        field_name(owner, place): (chain[place - 1].value if place <= len(chain) else "")
        for owner, chain in chains.items()
        for place in range(1, CHAIN_LENGTH + 1)
    }


def role_words(role: Role) -> str:
    """A role as it reads mid-sentence: "headteacher", "HR adviser"."""
    return role.label if role.label[:2].isupper() else role.label.lower()


def chains_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    custom: bool,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "pages/admin_escalation.html",
        status_code=status_code,
        owners=[(owner, OWNER_TITLES[owner], role_words(owner)) for owner in CHAIN_OWNERS],
        places=range(1, CHAIN_LENGTH + 1),
        options=[(role.value, role.label) for role in CHAIN_ROLES],
        field_name=field_name,
        values=values,
        errors=errors,
        custom=custom,
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/admin/escalation")
def show_chains(
    request: Request, seen: Visitor = Depends(editor), session: Session = Depends(unit_of_work)
) -> Response:
    stored = get_school(session, seen.school_id).escalation_chains
    return chains_page(request, chain_values(chains_of(stored)), {}, custom=stored is not None)


@router.post("/admin/escalation")
def update_chains(
    request: Request,
    seen: Visitor = Depends(editor),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Save the school's chains (or go back to Casework's), audited with what they are now."""
    values = {k: str(v) for k, v in form.items() if k.startswith("chain_") and isinstance(v, str)}
    chains, errors = check_chains(values)
    if form.get("reset") == "1":
        stored = None
    elif errors:
        return chains_page(request, values, errors, custom=True, status_code=400)
    else:
        stored = stored_form(chains)
    set_escalation_chains(session, seen.school_id, stored)
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SCHOOL_ESCALATION_CHANGED,
        actor=get_person(session, seen.person.id),
        data={"school_id": seen.school_id, "chains": stored_form(chains_of(stored))},
        school_id=seen.school_id,
    )
    return RedirectResponse("/admin/escalation?saved=1", status_code=303)


def retention_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    custom: bool,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "pages/admin_retention.html",
        status_code=status_code,
        classes=[(c, LIMITS[c]) for c in RecordClass],
        values=values,
        errors=errors,
        custom=custom,
        saved=request.query_params.get("saved", ""),
    )


def rules_values(rules: RetentionRules) -> dict[str, str]:
    return {c.value: str(rules.years(c)) for c in RecordClass}


@router.get("/admin/retention")
def show_retention(
    request: Request, seen: Visitor = Depends(editor), session: Session = Depends(unit_of_work)
) -> Response:
    school = get_school(session, seen.school_id)
    rules = rules_of(session, seen.school_id)
    return retention_page(request, rules_values(rules), {}, custom=school.retention is not None)


@router.post("/admin/retention")
def update_retention(
    request: Request,
    seen: Visitor = Depends(editor),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Save the school's years (or go back to Casework's) and re-date its closed cases."""
    values = {c.value: str(form.get(c.value) or "") for c in RecordClass}
    if form.get("reset") == "1":
        rules: RetentionRules | None = None
    else:
        rules, errors = check_rules(values)
        if rules is None:
            return retention_page(request, values, errors, custom=True, status_code=400)
    changed = set_rules(session, seen.school_id, rules)
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SCHOOL_RETENTION_CHANGED,
        actor=get_person(session, seen.person.id),
        data={
            "school_id": seen.school_id,
            "rules": (rules or DEFAULT_RULES).stored(),
            "own_rules": rules is not None,
            "cases_redated": changed,
        },
    )
    return RedirectResponse(f"/admin/retention?saved={changed}", status_code=303)
