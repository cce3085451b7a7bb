"""The access matrix: every route of the app, how to ask it, and the rule of the policy that
decides the answer (the test is tests/api/test_access_matrix.py, the world it asks about
tests/access_world.py).

`matrix(world)` is keyed by each route as the app declares it (method and path), with the
requests that ask it: the address filled from the world, the form to post, and the rule.
A rule takes the person as the policy sees them (`Actor`) and says what they should get,
worked out from core/access.py (`may`, `may_download`, `may_hand_on`), never written down
per person. `EXEMPT` lists the routes no access rule decides, each with why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import Response

from core.access import Action, Actor, may, may_download, may_hand_on
from core.enums import IncidentType
from tests.access_world import CaseTarget, PersonTarget, World

# --- What a person gets -----------------------------------------------------------------

OK = "allowed"  # a page: 200; a form: anything but a refusal (200, 303, 400, 409)
REFUSED = "403"
HIDDEN = "404"
SIGN_IN = "sent to sign in"
FORM_ANSWERS = (200, 201, 303, 400, 409, 422)

Rule = Callable[[Actor], str]


@dataclass(frozen=True)
class Ask:
    """One request of the matrix: an address filled from the world, and the rule for it."""

    method: str
    path: str
    rule: Rule
    form: dict[str, str] = field(default_factory=dict)
    upload: bool = False  # the form carries an evidence file
    link: bool = False  # an emailed link: its token lets a signed-out visitor in


def answered(ask: Ask, response: Response) -> str:
    """What the person got, in the matrix's words."""
    status = response.status_code
    if status == 303 and response.headers["location"].startswith("/signin"):
        return SIGN_IN
    if status == 303 and ask.method == "GET":
        return f"sent to {response.headers['location']}"
    if status in (401, 403, 404):
        return str(status)
    if status == 200 or (ask.method == "POST" and status in FORM_ANSWERS):
        return OK
    return f"status {status}"


def signed_out(ask: Ask) -> str:
    """What a visitor who is not signed in should get."""
    if ask.link:
        return OK
    return "401" if ask.path.startswith("/api/") else SIGN_IN


# --- The policy's rules, as each route applies them --------------------------------------


def anyone(actor: Actor) -> str:
    return OK


def home(actor: Actor) -> str:
    """The case list; those who may see only the figures are sent to the dashboard."""
    if may(actor, Action.SEE_DASHBOARD) and not may(actor, Action.LIST_CASES):
        return "sent to /dashboard"
    return OK


def school(action: Action) -> Rule:
    """An action at the school: allowed by role, else 403."""
    return lambda actor: OK if may(actor, action) else REFUSED


def on_case(case: CaseTarget, action: Action) -> Rule:
    """An action on a case: hidden (404) from those who may not see it, else 403 or allowed."""

    def rule(actor: Actor) -> str:
        if not may(actor, Action.VIEW_CASE, case.facts):
            return HIDDEN
        return OK if may(actor, action, case.facts) else REFUSED

    return rule


def download(case: CaseTarget, uploaded_by: int) -> Rule:
    def rule(actor: Actor) -> str:
        if not may(actor, Action.VIEW_CASE, case.facts):
            return HIDDEN
        return OK if may_download(actor, case.facts, uploaded_by) else REFUSED

    return rule


def hand_on(case: CaseTarget) -> Rule:
    def rule(actor: Actor) -> str:
        if not may(actor, Action.VIEW_CASE, case.facts):
            return HIDDEN
        return OK if may_hand_on(actor, case.facts, case.holder) else REFUSED

    return rule


def reviewing(case: CaseTarget) -> Rule:
    """A case's retention review: the head or DSL (403 for other roles), then only a case
    they may see (404)."""

    def rule(actor: Actor) -> str:
        if not may(actor, Action.REVIEW_RETENTION):
            return REFUSED
        return OK if may(actor, Action.VIEW_CASE, case.facts) else HIDDEN

    return rule


def serving(school_id: int) -> Rule:
    """Looking at another school: only one the person serves."""
    return lambda actor: OK if school_id in actor.schools else HIDDEN


def own_request(holder: int) -> Rule:
    """My work: a request is found only by the person it waits on."""
    return lambda actor: OK if actor.id == holder else HIDDEN


def link_of(holder: int) -> Rule:
    """An emailed link, opened while signed in: only by the person it was sent to."""
    return lambda actor: OK if actor.id == holder else REFUSED


def own_import(owner: int, action: Action) -> Rule:
    """An import's progress: those who may run such imports, and only for their own."""

    def rule(actor: Actor) -> str:
        if not may(actor, action):
            return REFUSED
        return OK if actor.id == owner else HIDDEN

    return rule


def own_report(writer: int) -> Rule:
    """A report's draft and its confirmation: those who may report, and only for their own
    (anyone else gets the 404 an unknown address gets)."""
    return own_import(writer, Action.REPORT)


def someone(person: PersonTarget, changing: bool) -> Rule:
    """A person's page: administrators, for people of (or serving) the school they look at;
    changing them needs their own school to be one the administrator serves."""

    def rule(actor: Actor) -> str:
        if not may(actor, Action.MANAGE_PEOPLE):
            return REFUSED
        if actor.school_id not in person.schools:  # administrators look at their own school
            return HIDDEN
        return OK if not changing or person.school_id in actor.schools else REFUSED

    return rule


def history_of(person: PersonTarget) -> Rule:
    """A person's history: those who read the school's trail, for people of the school they
    are looking at."""

    def rule(actor: Actor) -> str:
        if not may(actor, Action.READ_SCHOOL_AUDIT):
            return REFUSED
        return OK if actor.school_id in person.schools else HIDDEN

    return rule


def a_school(school_id: int) -> Rule:
    def rule(actor: Actor) -> str:
        if not may(actor, Action.MANAGE_SCHOOLS):
            return REFUSED
        return OK if school_id in actor.schools else HIDDEN

    return rule


# --- The matrix: every route, how to ask it, and the rule that decides ---------------------

# Routes that no access rule decides, each with why.
EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "the liveness probe: answers 'ok' to anyone, and nothing else",
    ("GET", "/readyz"): "the readiness probe: says only whether the database is ready",
    ("GET", "/signin"): "signing in is open to everyone (every person here signs in with it)",
    ("POST", "/signin"): "signing in is open to everyone: it emails a link to staff only",
    ("GET", "/signin/{raw}"): "the emailed sign-in link: its single-use token is the credential",
    ("POST", "/signin/{raw}"): "the emailed sign-in link: its single-use token is the credential",
    ("GET", "/second-factor"): "answers only a pending sign-in (tests/api/test_second_factor.py)",
    ("POST", "/second-factor"): "answers only a pending sign-in (tests/api/test_second_factor.py)",
    ("POST", "/signout"): "ends the caller's own session, whoever they are (test_sessions.py)",
    ("GET", "/oidc/start/{provider_id}"): "signing in with an identity provider (test_oidc.py)",
    ("GET", "/oidc/callback"): "the identity provider's answer: its state is the credential",
    ("GET", "/dev/mail"): "the dev mail catcher: not mounted outside dev mode (test_devmail_pages)",
    ("GET", "/dev/mail/{mail_id}"): "the dev mail catcher: not mounted outside dev mode",
}

NOTE = {"note": "Checked the access matrix."}
NO_REASON = {"reason": ""}
NOBODY = {"to": "", "reason": ""}


def each_case(
    cases: tuple[CaseTarget, ...],
    template: str,
    action: Action,
    method: str = "GET",
    form: dict[str, str] | None = None,
    upload: bool = False,
) -> list[Ask]:
    """The same question about each case: `template` has {id} for the case's number."""
    return [
        Ask(method, template.format(id=c.id), on_case(c, action), form or {}, upload) for c in cases
    ]


def matrix(w: World) -> dict[tuple[str, str], list[Ask]]:
    """Every route the policy decides, keyed as the app declares it, with what to ask."""
    cases, people = w.open_cases, w.people
    first, escalated = cases[0], cases[1]
    lists = school(Action.LIST_CASES)
    return {
        # Signed in, whoever you are.
        ("GET", "/"): [Ask("GET", "/", home)],
        ("GET", "/work"): [Ask("GET", "/work", anyone)],
        ("POST", "/school/switch"): [
            Ask("POST", "/school/switch", serving(w.oakfield), {"school_id": str(w.oakfield)})
        ],
        # Reporting and finding cases.
        ("GET", "/report"): [Ask("GET", "/report", school(Action.REPORT))],
        ("GET", "/report/{slug}"): [
            Ask("GET", f"/report/{kind.value}", school(Action.REPORT)) for kind in IncidentType
        ],
        ("POST", "/report"): [
            Ask("POST", "/report", school(Action.REPORT), {"what_happened": "online_abuse"})
        ],
        ("POST", "/report/{slug}"): [
            Ask("POST", "/report/staff_conduct", school(Action.REPORT), {"platform": "facebook"})
        ],
        # A report's draft is its writer's alone; Tom's check and send it (and open a case).
        ("GET", "/report/{slug}/check/{token}"): [
            Ask("GET", f"/report/pupil_contact/check/{w.draft}", own_report(w.reporter))
        ],
        ("POST", "/report/{slug}/check/{token}"): [
            Ask("POST", f"/report/pupil_contact/check/{w.draft}", own_report(w.reporter))
        ],
        ("GET", "/report/sent/{case_id}"): [
            Ask("GET", f"/report/sent/{c.id}", own_report(w.reporter)) for c in cases
        ],
        ("GET", "/search"): [
            Ask("GET", "/search", lists),
            Ask("GET", "/search?q=photo", lists),
        ],
        # One case: reading it.
        ("GET", "/cases/{case_id}"): each_case(cases, "/cases/{id}", Action.VIEW_CASE),
        ("GET", "/api/cases/{case_id}"): each_case(cases, "/api/cases/{id}", Action.VIEW_CASE),
        ("GET", "/cases/{case_id}/evidence/{evidence_id}"): [
            Ask("GET", f"/cases/{c.id}/evidence/{item}", download(c, by))
            for c in cases
            for item, by in c.files
        ],
        ("GET", "/cases/{case_id}/evidence/{evidence_id}/preview"): [
            Ask("GET", f"/cases/{c.id}/evidence/{item}/preview", download(c, by))
            for c in cases
            for item, by in c.files
        ],
        ("GET", "/cases/{case_id}/packs/{name}"): [
            *each_case(cases, "/cases/{id}/packs/hr", Action.VIEW_RECORD),
            *each_case(cases, "/cases/{id}/packs/police", Action.VIEW_RECORD),
        ],
        ("GET", "/cases/{case_id}/letters/{name}"): each_case(
            (w.meeting,), "/cases/{id}/letters/meeting-invitation", Action.VIEW_RECORD
        ),
        ("GET", "/cases/{case_id}/letter-progress"): each_case(
            cases, "/cases/{id}/letter-progress", Action.VIEW_RECORD
        ),
        ("GET", "/cases/{case_id}/print/{file_id}"): [
            Ask("GET", f"/cases/{c.id}/print/{c.print_file}", on_case(c, Action.SEE_ADDRESSES))
            for c in cases
        ],
        ("GET", "/cases/{case_id}/audit.{fmt}"): [
            *each_case(cases, "/cases/{id}/audit.json", Action.EXPORT_TRAIL),
            *each_case(cases, "/cases/{id}/audit.csv", Action.EXPORT_TRAIL),
        ],
        ("GET", "/cases/{case_id}/chronology"): each_case(
            cases, "/cases/{id}/chronology", Action.EXPORT_TRAIL
        ),
        ("GET", "/cases/{case_id}/verify"): each_case(
            cases, "/cases/{id}/verify", Action.EXPORT_TRAIL
        ),
        ("GET", "/cases/{case_id}/events/{seq}/error"): [
            Ask(
                "GET",
                f"/cases/{c.id}/events/{c.first_event}/error",
                on_case(c, Action.CORRECT_CASE),
            )
            for c in cases
        ],
        ("POST", "/cases/{case_id}/events/{seq}/error"): [
            Ask(
                "POST",
                f"/cases/{c.id}/events/{c.first_event}/error",
                on_case(c, Action.CORRECT_CASE),
                NO_REASON,
            )
            for c in cases
        ],
        ("GET", "/cases/{case_id}/bundle.zip"): each_case(
            cases[:2], "/cases/{id}/bundle.zip", Action.EXPORT_TRAIL
        ),
        # One case: working it.
        ("POST", "/cases/{case_id}/notes"): each_case(
            cases, "/cases/{id}/notes", Action.ADD_NOTE, "POST", NOTE
        ),
        ("GET", "/cases/{case_id}/evidence/add"): each_case(
            cases, "/cases/{id}/evidence/add", Action.ADD_EVIDENCE
        ),
        ("POST", "/cases/{case_id}/evidence/add"): each_case(
            cases, "/cases/{id}/evidence/add", Action.ADD_EVIDENCE, "POST", upload=True
        ),
        ("GET", "/cases/{case_id}/correct"): each_case(
            cases, "/cases/{id}/correct", Action.CORRECT_CASE
        ),
        ("POST", "/cases/{case_id}/correct"): each_case(
            cases, "/cases/{id}/correct", Action.CORRECT_CASE, "POST", NO_REASON
        ),
        ("GET", "/cases/{case_id}/withdraw"): each_case(
            cases, "/cases/{id}/withdraw", Action.WITHDRAW_CASE
        ),
        ("POST", "/cases/{case_id}/withdraw"): each_case(
            cases, "/cases/{id}/withdraw", Action.WITHDRAW_CASE, "POST", NO_REASON
        ),
        ("GET", "/cases/{case_id}/reopen"): each_case(
            (w.withdrawn,), "/cases/{id}/reopen", Action.WITHDRAW_CASE
        ),
        ("POST", "/cases/{case_id}/reopen"): each_case(
            (w.withdrawn,), "/cases/{id}/reopen", Action.WITHDRAW_CASE, "POST", NO_REASON
        ),
        ("POST", "/cases/{case_id}/print/{file_id}/printed"): [
            Ask("POST", f"/cases/{c.id}/print/{c.print_file}/printed", on_case(c, Action.WORK_CASE))
            for c in cases
        ],
        # Nothing waits on the case's closing step: those allowed get 409.
        ("POST", "/cases/{case_id}/steps/{step_key}/reissue"): each_case(
            cases, "/cases/{id}/steps/close_case/reissue", Action.WORK_CASE, "POST"
        ),
        # No procedure has stopped: those allowed get 409.
        ("POST", "/cases/{case_id}/procedure/restart"): each_case(
            cases, "/cases/{id}/procedure/restart", Action.WORK_CASE, "POST"
        ),
        ("POST", "/cases/{case_id}/requests/{step_key}/pass-on"): [
            Ask("POST", f"/cases/{c.id}/requests/{c.waiting}/pass-on", hand_on(c), NOBODY)
            for c in cases
        ],
        ("POST", "/cases/{case_id}/lead"): each_case(
            cases, "/cases/{id}/lead", Action.REASSIGN, "POST", NOBODY
        ),
        # Requests waiting on someone: by emailed link, and from My work.
        ("GET", "/approvals/{raw}"): [
            Ask("GET", f"/approvals/{first.token}", link_of(first.holder), link=True)
        ],
        ("POST", "/approvals/{raw}"): [
            Ask("POST", f"/approvals/{first.token}", link_of(first.holder), link=True)
        ],
        # The case's files, through the request's own link, for the person it was sent to.
        **{
            ("GET", f"/{kind}/{{raw}}/evidence/{{evidence_id}}{end}"): [
                Ask(
                    "GET",
                    f"/{kind}/{c.token}/evidence/{item}{end}",
                    link_of(c.holder),
                    link=True,
                )
                for item, _ in c.files
            ]
            for kind, c in (("approvals", first), ("tasks", escalated))
            for end in ("", "/preview")
        },
        ("GET", "/tasks/{raw}"): [
            Ask("GET", f"/tasks/{escalated.token}", link_of(escalated.holder), link=True)
        ],
        ("POST", "/tasks/{raw}"): [
            Ask("POST", f"/tasks/{escalated.token}", link_of(escalated.holder), link=True)
        ],
        ("GET", "/work/{approval_id}"): [
            Ask("GET", f"/work/{c.approval}", own_request(c.holder)) for c in cases
        ],
        ("POST", "/work/{approval_id}"): [
            Ask("POST", f"/work/{c.approval}", own_request(c.holder)) for c in cases
        ],
        # The school's audit trail and settings.
        ("GET", "/audit"): [Ask("GET", "/audit", school(Action.READ_SCHOOL_AUDIT))],
        ("GET", "/audit/people/{person_id}"): [
            Ask("GET", f"/audit/people/{p.id}", history_of(p)) for p in people
        ],
        # The dashboard and the governors' report: figures only.
        ("GET", "/dashboard"): [Ask("GET", "/dashboard", school(Action.SEE_DASHBOARD))],
        ("GET", "/dashboard/report.pdf"): [
            Ask("GET", "/dashboard/report.pdf", school(Action.SEE_DASHBOARD))
        ],
        ("GET", "/admin/stock-response"): [
            Ask("GET", "/admin/stock-response", school(Action.MANAGE_SETTINGS))
        ],
        ("POST", "/admin/stock-response"): [
            Ask("POST", "/admin/stock-response", school(Action.MANAGE_SETTINGS), {"reset": "1"})
        ],
        ("GET", "/admin/escalation"): [
            Ask("GET", "/admin/escalation", school(Action.MANAGE_SETTINGS))
        ],
        ("POST", "/admin/escalation"): [
            Ask("POST", "/admin/escalation", school(Action.MANAGE_SETTINGS), {"reset": "1"})
        ],
        ("GET", "/admin/retention"): [
            Ask("GET", "/admin/retention", school(Action.MANAGE_SETTINGS))
        ],
        # Years below the guidance's least: those allowed get 400.
        ("POST", "/admin/retention"): [
            Ask("POST", "/admin/retention", school(Action.MANAGE_SETTINGS), {"pupil": "1"})
        ],
        # Keeping records: the open cases have no review date, and each form goes without
        # its reason, so those allowed get 400 and nothing changes.
        ("GET", "/retention"): [Ask("GET", "/retention", school(Action.REVIEW_RETENTION))],
        ("GET", "/retention/cases/{case_id}"): [
            Ask("GET", f"/retention/cases/{c.id}", reviewing(c)) for c in cases
        ],
        **{
            ("POST", f"/retention/cases/{{case_id}}/{name}"): [
                Ask("POST", f"/retention/cases/{c.id}/{name}", reviewing(c)) for c in cases
            ]
            for name in ("keep", "hold", "release", "dispose")
        },
        ("GET", "/retention/subject-access"): [
            Ask("GET", "/retention/subject-access", school(Action.SUBJECT_ACCESS))
        ],
        # A name no case holds: those allowed get an empty export (test_retention.py has more).
        ("GET", "/retention/subject-access/export"): [
            Ask(
                "GET",
                "/retention/subject-access/export?name=Nobody+Known",
                school(Action.SUBJECT_ACCESS),
            )
        ],
        ("GET", "/admin/parents"): [Ask("GET", "/admin/parents", school(Action.MANAGE_PARENTS))],
        # No file chosen: those allowed get 400.
        ("POST", "/admin/parents"): [Ask("POST", "/admin/parents", school(Action.MANAGE_PARENTS))],
        ("GET", "/admin/parents/imports/{import_id}"): [
            Ask(
                "GET",
                f"/admin/parents/imports/{w.import_id}",
                own_import(w.import_owner, Action.MANAGE_PARENTS),
            )
        ],
        # People and schools.
        ("GET", "/admin/people"): [Ask("GET", "/admin/people", school(Action.MANAGE_PEOPLE))],
        ("POST", "/admin/people"): [
            Ask("POST", "/admin/people", school(Action.MANAGE_PEOPLE), {"name": ""})
        ],
        ("POST", "/admin/people/import"): [
            Ask("POST", "/admin/people/import", school(Action.MANAGE_PEOPLE))
        ],
        ("GET", "/admin/people/imports/{import_id}"): [
            Ask(
                "GET",
                f"/admin/people/imports/{w.people_import_id}",
                own_import(w.people_import_owner, Action.MANAGE_PEOPLE),
            )
        ],
        ("GET", "/admin/people/{person_id}"): [
            Ask("GET", f"/admin/people/{p.id}", someone(p, changing=False)) for p in people
        ],
        ("POST", "/admin/people/{person_id}"): [
            Ask("POST", f"/admin/people/{p.id}", someone(p, changing=True), {"name": ""})
            for p in people
        ],
        ("POST", "/admin/people/{person_id}/disable"): [
            Ask("POST", f"/admin/people/{p.id}/disable", someone(p, changing=True), NO_REASON)
            for p in people
        ],
        # Sara has no authenticator app, so there is nothing to reset (and no one signed out).
        ("POST", "/admin/people/{person_id}/authenticator"): [
            Ask("POST", f"/admin/people/{people[0].id}/authenticator", someone(people[0], True))
        ],
        # Everyone is enabled already: enabling changes nothing.
        ("POST", "/admin/people/{person_id}/enable"): [
            Ask("POST", f"/admin/people/{p.id}/enable", someone(p, changing=True)) for p in people
        ],
        ("GET", "/admin/schools"): [Ask("GET", "/admin/schools", school(Action.MANAGE_SCHOOLS))],
        ("POST", "/admin/schools"): [
            Ask("POST", "/admin/schools", school(Action.MANAGE_SCHOOLS), {"name": ""})
        ],
        ("GET", "/admin/schools/{school_id}"): [
            Ask("GET", f"/admin/schools/{s}", a_school(s)) for s in (w.oakfield, w.elmbridge)
        ],
        ("POST", "/admin/schools/{school_id}"): [
            Ask("POST", f"/admin/schools/{s}", a_school(s), {"name": ""})
            for s in (w.oakfield, w.elmbridge)
        ],
    }


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, as it declares them (static files aside)."""
    found = set()
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue  # the /static mount
        for method in context.methods or ():
            found.add((method, str(context.path)))
    return found
