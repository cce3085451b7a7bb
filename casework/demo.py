"""The demo school `make run` seeds into an empty database."""

from __future__ import annotations

from core.enums import AuditKind, OrganisationKind, Phase, Role
from db.audit import record_event
from db.identity import add_provider, providers
from db.models import School
from db.people import add_person, signers
from db.schools import add_organisation, add_school, first_school, organisations
from db.session import Session

STAFF: tuple[tuple[str, str, Role, str], ...] = (
    ("Helen Okafor", "head@oakfield.example", Role.HEADTEACHER, "Headteacher"),
    ("Daniel Price", "dsl@oakfield.example", Role.DSL, "Designated safeguarding lead"),
    ("Priya Shah", "hr@oakfield.example", Role.HR, "HR adviser"),
    ("Graham Lowe", "auditor@oakfield.example", Role.AUDITOR, "Trust auditor"),
    ("Amy Fletcher", "amy.fletcher@oakfield.example", Role.STAFF, "Year 6 teacher"),
    ("Tom Byrne", "tom.byrne@oakfield.example", Role.STAFF, "PE teacher"),
    ("Sara Novak", "sara.novak@oakfield.example", Role.STAFF, "Teaching assistant"),
    ("Margaret Ellis", "chair@oakfield.example", Role.CHAIR, "Chair of governors"),
    ("Ruth Adeyemi", "governor@oakfield.example", Role.GOVERNOR, "Safeguarding governor"),
    ("Ian Marsh", "admin@oakfield.example", Role.ADMIN, "School business manager"),
    ("Kate Doyle", "deputy@oakfield.example", Role.DEPUTY_HEAD, "Deputy headteacher"),
)
FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Kim", "Lee", "Jamie", "Morgan")
LAST = ("Hughes", "Patel", "Evans", "Khan", "Wright", "Murphy", "Clarke", "Ali", "Jones", "Walsh")


def seed_demo(session: Session, parents: int = 50) -> School | None:
    """Create the demo school unless any school exists; returns it, or None if skipped."""
    if first_school(session) is not None:
        return None
    trust = add_organisation(session, name="Oakfield Learning Trust", kind=OrganisationKind.TRUST)
    school = add_school(
        session,
        organisation_id=trust.id,
        phase=Phase.PRIMARY,
        name="Oakfield Primary School",
        address="1 Orchard Lane\nOakfield\nOK1 2AB",
        email="office@oakfield.example",
        phone="01234 567890",
    )
    for name, email, role, title in STAFF:
        add_person(session, school_id=school.id, name=name, email=email, role=role, job_title=title)
    for n in range(parents):
        add_person(
            session,
            school_id=school.id,
            name=f"{FIRST[n % 10]} {LAST[(n // 10) % 10]}",
            role=Role.PARENT,
            email=f"parent{n + 1:02d}@families.example",
        )
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SCHOOL_SEEDED,
        data={"school": school.name, "staff": len(STAFF), "parents": parents},
        school_id=school.id,
    )
    return school


DEV_PROVIDER = "Local test accounts"


def dev_sign_in_accounts(session: Session, issuer: str) -> list[dict[str, object]]:
    """Dev mode: offer every organisation the local provider, and list its accounts.

    The accounts are the people who can sign in now, with verified addresses, so each can be
    tried through "Sign in with Local test accounts" as well as by emailed link.
    """
    known = {(p.organisation_id, p.issuer) for p in providers(session)}
    for organisation in organisations(session):
        if (organisation.id, issuer) not in known:
            add_provider(
                session,
                organisation_id=organisation.id,
                name=DEV_PROVIDER,
                issuer=issuer,
                client_id="casework-dev",
                client_secret="casework-dev",
                trust_mfa=False,
            )
    return [
        {"sub": str(p.email), "email": p.email, "email_verified": True, "name": p.name}
        for p in signers(session)
    ]
