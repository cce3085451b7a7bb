"""The pupil-contact form answers bad input in plain English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from forms.common import UploadedFile, check_evidence, sniff, validate
from forms.pupil_contact import PupilContactForm
from forms.tasks import ApprovalForm, PersistenceForm
from tests.support import PDF, PNG, report_fields


def test_a_complete_report_validates_and_reads_uk_time() -> None:
    form, errors = validate(PupilContactForm, report_fields(occurred_at="2026-07-01T09:00"))
    assert errors == {}
    assert form is not None
    # 09:00 in July is British Summer Time, so 08:00 UTC.
    assert form.occurred_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert form.details()["contact_continued"] is True


def test_every_missing_answer_gets_its_own_message() -> None:
    _, errors = validate(PupilContactForm, {})
    assert errors == {
        "platform": "Choose the platform the pupil used.",
        "occurred_at": "Enter when the contact happened.",
        "description": "Describe what happened in 10 to 5,000 characters.",
        "pupil_name": "Enter the pupil's name as it appears in the school's records.",
        "pupil_year_group": "Choose the pupil's year group.",
        "contact_continued": "Say whether the pupil has kept contacting you.",
        "sexual_images": "Say whether the material includes sexual images of a child.",
    }


def test_other_platform_must_be_named_and_future_times_are_refused() -> None:
    future = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    _, errors = validate(PupilContactForm, report_fields(platform="other", occurred_at=future))
    assert errors["platform_other"] == "Name the platform the pupil used."
    assert errors["occurred_at"] == "The date and time cannot be in the future."


def test_unknown_fields_are_refused() -> None:
    _, errors = validate(PupilContactForm, {**report_fields(), "is_admin": "yes"})
    assert errors == {"is_admin": "This form does not take that field."}


def test_evidence_is_typed_by_its_bytes_not_its_name() -> None:
    assert sniff(PNG) == "image/png" and sniff(PDF) == "application/pdf"
    disguised = UploadedFile("photo.png", "image/png", b"MZ\x90\x00 not an image")
    _, error = check_evidence([disguised], max_bytes=1000, max_files=5, required=True)
    assert error is not None and "photo.png is not a file type we accept" in error


def test_evidence_limits() -> None:
    big = UploadedFile("big.png", "image/png", PNG + b"0" * 2000)
    assert "larger than" in (
        check_evidence([big], max_bytes=1000, max_files=5, required=True)[1] or ""
    )
    many = [UploadedFile(f"{n}.png", "image/png", PNG) for n in range(3)]
    assert check_evidence(many, max_bytes=10_000, max_files=2, required=True)[1] == (
        "Attach no more than 2 files."
    )
    assert check_evidence([], max_bytes=10, max_files=2, required=True)[1] == (
        "Attach at least one screenshot or document as evidence."
    )


def test_task_and_approval_forms_demand_what_the_procedure_needs() -> None:
    _, errors = validate(PersistenceForm, {"pupil_persisted": "yes", "reminder_given": "no"})
    assert "remind them of the school's social media policy" in errors["reminder_given"]
    _, errors = validate(ApprovalForm, {"decision": "rejected", "reason": ""})
    assert errors == {"reason": "Give a reason: it is recorded on the case with your decision."}
    form, errors = validate(ApprovalForm, {"decision": "approved"})
    assert errors == {} and form is not None
    assert form.summary() == "Approve: send this letter to every parent."
