"""Casework's vocabulary: every kind of thing that is named in more than one place.

A step key, an audit event kind or an email kind is written here once and used by name
everywhere else, so a typo is an AttributeError at import time instead of a silent miss.
They are string enums: the database and the audit trail store their values.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """What a person is to Casework; what each role may do is in core/access.py."""

    HEADTEACHER = "headteacher"
    DEPUTY_HEAD = "deputy_head"
    DSL = "dsl"
    DEPUTY_DSL = "deputy_dsl"
    HR = "hr"
    AUDITOR = "auditor"
    STAFF = "staff"
    PARENT = "parent"
    CHAIR = "chair_of_governors"
    GOVERNOR = "governor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role as people say it."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.HEADTEACHER: "Headteacher",
    Role.DEPUTY_HEAD: "Deputy headteacher",
    Role.DSL: "Designated safeguarding lead",
    Role.DEPUTY_DSL: "Deputy safeguarding lead",
    Role.HR: "HR adviser",
    Role.AUDITOR: "Auditor",
    Role.STAFF: "Member of staff",
    Role.PARENT: "Parent or carer",
    Role.CHAIR: "Chair of governors",
    Role.GOVERNOR: "Governor",
    Role.ADMIN: "Administrator",
}


class OrganisationKind(enum.StrEnum):
    """Who holds a group of schools."""

    TRUST = "trust"
    LOCAL_AUTHORITY = "local_authority"
    SINGLE_SCHOOL = "single_school"


class Phase(enum.StrEnum):
    """A school's phase: it decides the year groups its forms offer."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    ALL_THROUGH = "all_through"
    SPECIAL = "special"


class ContactBy(enum.StrEnum):
    """How a parent or carer wants letters from the school."""

    EMAIL = "email"
    POST = "post"


class IncidentType(enum.StrEnum):
    """One per procedure; the value is the slug its form, flow, templates and tests share."""

    PUPIL_CONTACT = "pupil_contact"
    PARENT_CONTACT = "parent_contact"
    ONLINE_ABUSE = "online_abuse"
    STAFF_CONDUCT = "staff_conduct"


class Decision(enum.StrEnum):
    """What a person decided at a step: a task's `completed`, or the option they chose."""

    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    REFER = "refer"
    NOT_REFER = "not_refer"
    POLICE = "police"
    LEGAL_ADVICE = "legal_advice"
    NO_FURTHER_ACTION = "no_further_action"
    NO_ACTION = "no_action"
    ADVICE = "advice"
    FORMAL_PROCESS = "formal_process"
    NO_RESPONSE = "no_response"  # nobody answered in time; recorded by Casework itself


class ApprovalKind(enum.StrEnum):
    """A request decided by approving or rejecting, or a task whose outcome is recorded."""

    APPROVAL = "approval"
    TASK = "task"


class HandOver(enum.StrEnum):
    """Why a waiting request is with someone other than the person the procedure asked."""

    DELEGATED = "delegated"  # its holder, or the head or DSL, passed it on
    REASSIGNED = "reassigned"  # it moved with the case lead
    ESCALATED = "escalated"  # nobody answered, so Casework sent it up the school's chain
    PASSED_ON = "passed_on"  # its holder may no longer hold it, so Casework passed it on


class Unheld(enum.StrEnum):
    """Why a person may no longer hold a request waiting on them; the words go on the case
    record as the reason it was passed on."""

    DISABLED = "account disabled"
    NOT_SERVING = "no longer serves the school"
    NO_ACCESS = "may no longer see the case"
    ROLE_CHANGED = "role changed"


class StepKey(enum.StrEnum):
    """Every step of every procedure (see `core.procedures` for their order per type)."""

    NOTIFY_HEADTEACHER = "notify_headteacher"
    ALERT_DSL = "alert_dsl"
    POLICE_CEOP_REFERRAL = "police_ceop_referral"
    SAVE_EVIDENCE = "save_evidence"
    ADVISE_STAFF = "advise_staff"
    RECORD_PERSISTENCE = "record_persistence"
    RECORD_DISCIPLINE = "record_discipline"
    SEND_STOCK_RESPONSE = "send_stock_response"
    REPORT_TO_PLATFORM = "report_to_platform"
    PLATFORM_RESPONSE = "platform_response"
    HELPLINE_ESCALATION = "helpline_escalation"
    POLICE_DECISION = "police_decision"
    ESCALATE_TO_HR = "escalate_to_hr"
    RECORD_HR_ADVICE = "record_hr_advice"
    STAFF_OUTCOME = "staff_outcome"
    INVITE_TO_MEETING = "invite_to_meeting"
    RECORD_MEETING = "record_meeting"
    NEXT_ACTION = "next_action"
    POLICE_REFERRAL = "police_referral"
    SAFEGUARDING_REVIEW = "safeguarding_review"
    INVESTIGATE = "investigate"
    APPROVE_PARENT_LETTER = "approve_parent_letter"
    SEND_PARENT_LETTER = "send_parent_letter"
    RECORD_RESOLUTION = "record_resolution"
    CLOSE_CASE = "close_case"


class Via(enum.StrEnum):
    """How an answer to a request reached Casework (kept in its audit event)."""

    LINK = "link"  # the emailed link's page
    REPLY = "reply"  # a reply to the request's email
    APP = "app"  # signed in, from My work


class AuditKind(enum.StrEnum):
    """Every kind of audit event: dotted and past tense."""

    CASE_OPENED = "case.opened"
    CASE_VIEWED = "case.viewed"
    CASE_CLOSED = "case.closed"
    STEP_COMPLETED = "step.completed"
    STEP_SKIPPED = "step.skipped"
    EVIDENCE_SAVED = "evidence.saved"
    EVIDENCE_SEALED = "evidence.sealed"
    EVIDENCE_VIEWED = "evidence.viewed"
    EMAIL_QUEUED = "email.queued"
    EMAIL_SENT = "email.sent"
    EMAIL_FAILED = "email.failed"
    FLOW_STARTED = "flow.started"
    FLOW_RESTARTED = "flow.restarted"
    FLOW_STOPPED = "flow.stopped"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_REISSUED = "approval.reissued"
    APPROVAL_REMINDED = "approval.reminded"
    APPROVAL_DECIDED = "approval.decided"
    TASK_REQUESTED = "task.requested"
    TASK_REISSUED = "task.reissued"
    TASK_REMINDED = "task.reminded"
    TASK_COMPLETED = "task.completed"
    DEADLINE_PASSED = "deadline.passed"
    REPLY_REFUSED = "reply.refused"  # an emailed answer Casework would not record
    DSL_ALERTED = "dsl.alerted"
    SAFEGUARDING_OPENED = "safeguarding.opened"
    PACK_PRODUCED = "pack.produced"
    PACK_VIEWED = "pack.viewed"
    LETTER_SENT = "letter.sent"
    LETTER_REFUSED = "letter.refused"
    LETTER_EDITED = "letter.edited"  # the approver changed the wording before approving it
    LETTER_PRINT_READY = "letter.print_ready"
    LETTER_PRINT_DOWNLOADED = "letter.print_downloaded"
    LETTER_PRINTED = "letter.printed"
    AUDIT_EXPORTED = "audit.exported"
    # An auditor's view of the trail: a case's chronology or check, a person's history.
    AUDIT_VIEWED = "audit.viewed"
    # An earlier event was wrong: it stays as written, and this one says so and why.
    AUDIT_MARKED_IN_ERROR = "audit.marked_in_error"
    PERSON_SIGNED_IN = "person.signed_in"
    PARENTS_IMPORTED = "parents.imported"
    SCHOOL_SEEDED = "school.seeded"
    SCHOOL_STOCK_RESPONSE_CHANGED = "school.stock_response_changed"
    SCHOOL_CREATED = "school.created"
    SCHOOL_CHANGED = "school.changed"
    ORGANISATION_CREATED = "organisation.created"
    PERSON_ADDED = "person.added"
    PERSON_CHANGED = "person.changed"
    PERSON_DISABLED = "person.disabled"
    PERSON_ENABLED = "person.enabled"
    PEOPLE_IMPORTED = "people.imported"
    # Written until a leaver's requests were passed on at once; `request.stranded` since.
    STEP_OWNER_DISABLED = "step.owner_disabled"
    AUTHENTICATOR_RESET = "person.authenticator_reset"
    NOTE_ADDED = "note.added"
    CASE_CORRECTED = "case.corrected"
    CASE_WITHDRAWN = "case.withdrawn"
    CASE_REOPENED = "case.reopened"
    REQUEST_WITHDRAWN = "request.withdrawn"
    CASE_LEAD_CHANGED = "case.lead_changed"
    REQUEST_DELEGATED = "request.delegated"
    REQUEST_REASSIGNED = "request.reassigned"  # moved to the new case lead with the case
    REQUEST_ESCALATED = "request.escalated"
    REQUEST_ESCALATION_ENDED = "request.escalation_ended"  # nobody further in the chain
    REQUEST_PASSED_ON = "request.passed_on"  # its holder left, lost the school or changed role
    REQUEST_STRANDED = "request.stranded"  # such a request, with nobody who could take it
    SCHOOL_ESCALATION_CHANGED = "school.escalation_changed"
    # The governors' report (figures only): downloaded from the dashboard, or emailed to the
    # chair at the end of a term; refused when the privacy check finds a name in it.
    GOVERNORS_REPORT_DOWNLOADED = "governors_report.downloaded"
    GOVERNORS_REPORT_EMAILED = "governors_report.emailed"
    GOVERNORS_REPORT_REFUSED = "governors_report.refused"
    SCHOOL_RETENTION_CHANGED = "school.retention_changed"
    # Keeping records (services/retention.py): a closed case kept longer, held, disposed of.
    RETENTION_EXTENDED = "retention.extended"
    LEGAL_HOLD_PLACED = "legal_hold.placed"
    LEGAL_HOLD_RELEASED = "legal_hold.released"
    CASE_DISPOSED = "case.disposed"
    SUBJECT_ACCESS_EXPORTED = "subject_access.exported"

    @classmethod
    def requested(cls, kind: ApprovalKind) -> AuditKind:
        """`approval.requested` or `task.requested`."""
        return cls.APPROVAL_REQUESTED if kind == ApprovalKind.APPROVAL else cls.TASK_REQUESTED

    @classmethod
    def reissued(cls, kind: ApprovalKind) -> AuditKind:
        return cls.APPROVAL_REISSUED if kind == ApprovalKind.APPROVAL else cls.TASK_REISSUED

    @classmethod
    def reminded(cls, kind: ApprovalKind) -> AuditKind:
        return cls.APPROVAL_REMINDED if kind == ApprovalKind.APPROVAL else cls.TASK_REMINDED

    @classmethod
    def decided(cls, kind: ApprovalKind) -> AuditKind:
        """`approval.decided` or `task.completed`."""
        return cls.APPROVAL_DECIDED if kind == ApprovalKind.APPROVAL else cls.TASK_COMPLETED


# Reading a case, its evidence or a pack: the access log, kept apart from the timeline.
ACCESS_KINDS = frozenset(
    {
        AuditKind.CASE_VIEWED,
        AuditKind.EVIDENCE_VIEWED,
        AuditKind.PACK_VIEWED,
        AuditKind.AUDIT_VIEWED,
    }
)
# The events that tell whether a case's procedure is running: the latest one decides.
FLOW_KINDS = (AuditKind.FLOW_STARTED, AuditKind.FLOW_RESTARTED, AuditKind.FLOW_STOPPED)


class EmailKind(enum.StrEnum):
    """What an outbox row is; most are also the name of their template under emails/."""

    SIGNIN_LINK = "signin_link"
    CASE_OPENED = "case_opened"
    CASE_CLOSED = "case_closed"
    ADVICE = "advice"
    STOCK_RESPONSE = "stock_response"
    SAFEGUARDING_ALERT = "safeguarding_alert"
    SAFEGUARDING_ADVICE = "safeguarding_advice"
    RISK_ALERT = "risk_alert"
    HR_ESCALATION = "hr_escalation"
    PROCEDURE_STOPPED = "procedure_stopped"
    APPROVAL_REQUEST = "approval_request"
    TASK_REQUEST = "task_request"
    MEETING_INVITATION = "meeting_invitation"
    PARENT_LETTER = "parent_letter"
    DECISION_CODE = "decision_code"
    REPLY_ANSWER = "reply_answer"  # Casework's answer to an emailed reply
    REQUEST_STRANDED = "request_stranded"  # to a case's leads: nobody could take a request
    GOVERNORS_REPORT = "governors_report"  # to the chair of governors, once a term

    @classmethod
    def request(cls, kind: ApprovalKind) -> EmailKind:
        """The email that carries an approval's or a task's link."""
        return cls.APPROVAL_REQUEST if kind == ApprovalKind.APPROVAL else cls.TASK_REQUEST
