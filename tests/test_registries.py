"""Every incident type and every human step has what it needs, under one set of names."""

from __future__ import annotations

import pytest

from core.enums import IncidentType, StepKey
from core.procedures import PROCEDURES, StepKind
from core.templating import TEMPLATE_DIR
from forms.registry import INCIDENT_FORMS, form_for_step
from forms.tasks import DECISIONS, DecisionForm

HUMAN_STEPS = sorted(
    {
        (spec.key, spec.kind)
        for procedure in PROCEDURES.values()
        for spec in procedure.steps
        if spec.kind != StepKind.SYSTEM
    }
)


def test_each_incident_type_has_a_procedure_a_form_a_page_and_a_flow() -> None:
    from flows.deployments import FLOWS

    assert set(PROCEDURES) == set(INCIDENT_FORMS) == set(FLOWS) == set(IncidentType)
    for kind in IncidentType:
        assert (TEMPLATE_DIR / "pages" / f"report_{kind}.html").is_file(), kind
        assert FLOWS[kind].name == kind.value, "the deployment is named by the slug"


@pytest.mark.parametrize(("key", "kind"), HUMAN_STEPS)
def test_each_human_step_has_its_form_and_its_page(key: StepKey, kind: StepKind) -> None:
    form = form_for_step(key)
    assert (TEMPLATE_DIR / "pages" / "steps" / f"{key}.html").is_file()
    if kind == StepKind.APPROVAL:
        assert key in DECISIONS and issubclass(form, DecisionForm), "a decision has options"


def test_every_step_key_belongs_to_some_procedure() -> None:
    used = {spec.key for procedure in PROCEDURES.values() for spec in procedure.steps}
    assert used == set(StepKey)
