"""The headteacher's own wording for the letter to parents: checked, then kept with the approval.

On the approval page the headteacher may change the letter's wording (written as
`core.wording` describes). Approving changed wording is accepted only if the letter rendered
with it passes the check every letter passes (`services.letter_check`). The approval then
keeps both versions and their digests, and the audit trail gets a `letter.edited` event with
the digests. Sending reads the approved wording back from the approval, so the words
approved are the words every parent receives, by email or on paper.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.enums import AuditKind, Decision, StepKey
from core.wording import RECORD_KEY, Edit
from db.approvals import for_step
from db.models import Approval
from db.session import Session
from services.requests import Answer

CHANGED = "The letter's wording was changed before it was approved."


def edit_in(approval: Approval | None) -> Edit | None:
    """The approver's change to the letter, if they approved it with their own wording."""
    if approval is None or approval.decision != Decision.APPROVED:
        return None
    return Edit.from_record(approval.response)


def approved_edit(session: Session, case_id: int) -> Edit | None:
    """The wording the case's letter was approved with, if it is not the template's."""
    return edit_in(for_step(session, case_id, StepKey.APPROVE_PARENT_LETTER))


def with_edit(
    step_key: str, answer: Answer, preview: dict[str, Any]
) -> tuple[Answer, dict[str, str]]:
    """The answer as it is to be stored, or the problems with the approver's wording.

    `preview` is the letter as the page rendered it from the wording just posted
    (`services.letters.letter_preview`), so the check is of exactly what would be sent.
    Only an approval keeps an edit: rejecting needs none, and an edit made before
    rejecting is not kept.
    """
    edit = preview.get("edit") if step_key == StepKey.APPROVE_PARENT_LETTER else None
    if answer.decision != Decision.APPROVED or not isinstance(edit, Edit):
        return answer, {}
    if preview["problems"]:
        problems = " ".join(preview["problems"])
        return answer, {"wording": f"{problems} Change the wording below, or reject the letter."}
    stored = replace(
        answer,
        response={**answer.response, RECORD_KEY: edit.record()},
        summary=f"{answer.summary} {CHANGED}",
        events=((AuditKind.LETTER_EDITED, {"step": step_key, **edit.digests()}),),
    )
    return stored, {}
