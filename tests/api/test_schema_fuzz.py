"""Schemathesis against the app's own OpenAPI schema: no request may cause a server error.

Every operation gets generated requests, sent in-process as the signed-in headteacher, with
the CSRF token on every form post so the handlers run past the token check. The database is
the demo school with two cases (one with evidence, one with a meeting letter). So that valid
requests reach real rows, the test tells the schema which ids and names exist (`KNOWN`):
valid requests use those, invalid ones everything else (other numbers, words, huge values).
Sign-out runs last, so the session lasts until then.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema

from core.enums import StepKey
from core.settings import Settings
from db.cases import finish_step
from db.models import IncidentType
from db.session import transaction
from tests.support import PNG, csrf_of, make_case, submit_report

HEAD = "head@oakfield.example"
# Path parameters narrowed to what the seeded database holds (and one number past it).
IDS = {"type": "integer", "minimum": 1, "maximum": 3}
KNOWN: dict[str, dict[str, Any]] = {
    "case_id": IDS,
    "evidence_id": IDS,
    "file_id": IDS,
    "slug": {"type": "string", "enum": [kind.value for kind in IncidentType]},
    "step_key": {"type": "string", "enum": [key.value for key in StepKey]},
    "fmt": {"type": "string", "enum": ["json", "csv"]},
}
NAMES = {  # the `name` parameter differs by route
    "/cases/{case_id}/packs/{name}": ["hr", "hr.pdf", "police", "police.pdf"],
    "/cases/{case_id}/letters/{name}": ["meeting-invitation", "meeting-invitation.pdf"],
}
# Per operation and mode: about 20 s a backend on the 2-core machine.
EXAMPLES = 20


def with_known_values(schema: dict[str, Any]) -> dict[str, Any]:
    """The app's schema, its path parameters narrowed to the values in `KNOWN` and `NAMES`."""
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param["in"] != "path":
                    continue
                if param["name"] in KNOWN:
                    param["schema"] = KNOWN[param["name"]]
                elif param["name"] == "name" and path in NAMES:
                    param["schema"] = {"type": "string", "enum": NAMES[path]}
    return schema


def modes_for(operation: APIOperation) -> list[GenerationMode]:
    """Valid requests always; invalid ones where a parameter has values that are not valid.

    Free-text parameters take any string, so there is no invalid value to generate.
    """
    narrowed = any(
        {"enum", "maximum"} & set(param.definition.get("schema") or {})
        for param in operation.iter_parameters()
    )
    return (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        if narrowed
        else [GenerationMode.POSITIVE]
    )


def fuzz(schema: BaseSchema, cookies: dict[str, str], token: str) -> None:
    """Run every operation; collect each server error instead of stopping at the first."""
    errors: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation in the schema is not valid: {result}"
        operations.append(result.ok())
    operations.sort(key=lambda op: op.path == "/signout")  # ends the session: last
    for operation in operations:
        for mode in modes_for(operation):
            try:
                run(operation, mode, cookies, token)
            except Unsatisfiable:
                continue
            except Exception as exc:
                errors.append(f"{operation.label} ({mode.value}): {exc}")
    assert errors == [], "\n\n".join(errors)


def run(operation: APIOperation, mode: GenerationMode, cookies: dict[str, str], token: str) -> None:
    """Send `EXAMPLES` generated requests for one operation; fail on the first server error."""
    form = None if operation.method.upper() == "GET" else {"csrf_token": token}

    @settings(
        max_examples=EXAMPLES,
        deadline=10_000,  # milliseconds per request: a PDF pack takes a second or two
        derandomize=True,  # the same requests every run
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        response = case.call(cookies=cookies, data=form)
        case.validate_response(response, checks=[not_a_server_error])

    call()


def test_no_generated_request_causes_a_server_error(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(HEAD)
    assert submit_report(client, [("one.png", PNG, "image/png")]).status_code == 303
    meeting = make_case(configured.database_url, IncidentType.ONLINE_ABUSE)
    with transaction(configured.database_url) as session:
        finish_step(session, meeting, StepKey.INVITE_TO_MEETING, outcome="ready to print")
    token = csrf_of(client.get("/report/pupil_contact").text)
    app = client.app
    assert isinstance(app, FastAPI)
    schema = schemathesis.openapi.from_dict(with_known_values(copy.deepcopy(app.openapi())))
    schema.app = app
    assert len(list(schema.get_all_operations())) >= 25, "every route is in the schema"
    fuzz(schema, dict(client.cookies.items()), token)
