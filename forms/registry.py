"""Which form each incident type and each human step uses, keyed like the procedures."""

from __future__ import annotations

from core.enums import IncidentType
from forms.incident import IncidentForm
from forms.online_abuse import OnlineAbuseForm
from forms.parent_contact import ParentContactForm
from forms.pupil_contact import PupilContactForm
from forms.staff_conduct import StaffConductForm
from forms.tasks import form_for_step

INCIDENT_FORMS: dict[IncidentType, type[IncidentForm]] = {
    IncidentType.PUPIL_CONTACT: PupilContactForm,
    IncidentType.PARENT_CONTACT: ParentContactForm,
    IncidentType.ONLINE_ABUSE: OnlineAbuseForm,
    IncidentType.STAFF_CONDUCT: StaffConductForm,
}
# Screenshots are the heart of these two reports; for the others they are optional.
EVIDENCE_REQUIRED = frozenset({IncidentType.PUPIL_CONTACT, IncidentType.ONLINE_ABUSE})

__all__ = ["EVIDENCE_REQUIRED", "INCIDENT_FORMS", "form_for_step"]
