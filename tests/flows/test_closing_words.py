"""A pupil-contact case closes with what the school did about the pupil, then the letter."""

from __future__ import annotations

from core.enums import Decision
from flows.online_abuse import who_is
from flows.pupil_contact import handled_text
from services.requests import PersonOutcome


def test_the_closing_words_say_what_was_done_with_the_pupil() -> None:
    handled = PersonOutcome(
        Decision.COMPLETED, "", {"outcome": "mediation", "notes": "Talked it through."}
    )
    assert handled_text(handled) == (
        "Resolved through mediation / a restorative conversation: Talked it through."
    )


def test_an_answer_without_notes_still_reads_as_a_sentence() -> None:
    handled = PersonOutcome(Decision.COMPLETED, "", {"outcome": "no_action"})
    assert handled_text(handled).endswith(".") and "no_action" not in handled_text(handled)


def test_a_branch_not_taken_names_the_person_responsible_as_the_form_did() -> None:
    assert who_is("current_pupil") == "a current pupil"
    assert who_is("staff_member") == "a member of staff"
    assert who_is("unknown") == "not known"
