"""The safeguarding path: sexual images of a child are never stored; the DSL hears first."""

from __future__ import annotations

from typing import Any

import pytest

from db.models import Case, Evidence
from tests.e2e.flow_helpers import answer_link, emails_of, report_as, trail
from tests.stack import Stack
from tests.support import PNG, count, mail_to, send_report, signin, wait_until

# Procedure logic does not depend on the database; the PostgreSQL stack runs procedure A
# end to end and every database test, which keeps `make test` within its time budget.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPORTER = "amy.fletcher@oakfield.example"
DSL = "dsl@oakfield.example"
HEAD = "head@oakfield.example"


def images_report(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "platform": "snapchat",
        "occurred_at": "2026-11-21T22:10",
        "description": "A pupil showed me a message thread on their phone.",
        "sexual_images": "yes",
        "image_description": "Two images of a Year 9 pupil shared in a group chat; they are "
        "still on the pupil's phone.",
        "target": "pupil",
        "target_name": "A Year 9 pupil",
        "links": "Snapchat group chat",
        "content_kinds": ["sexual"],
        "responsible": "unknown",
        "still_online": "yes",
    }
    fields.update(overrides)
    return fields


def test_the_form_and_the_api_refuse_files_for_such_a_case(stack: Stack) -> None:
    cases_before = count(stack.db_url, Case)
    with stack.client() as browser:
        signin(browser, REPORTER, stack.mail)
        page = send_report(
            browser, "online_abuse", images_report(), [("image.png", PNG, "image/png")]
        )
        assert page.status_code == 400
        assert "Do not attach any file when the material includes sexual images" in page.text
        api = send_report(
            browser,
            "online_abuse",
            images_report(),
            [("image.png", PNG, "image/png")],
            accept="application/json",
        )
        assert api.status_code == 400
        assert "describe it in words" in api.json()["error"]["fields"]["evidence"]
    assert count(stack.db_url, Case) == cases_before
    assert (
        count(
            stack.db_url,
            Evidence,
            Evidence.content_type == "image/png",
            Evidence.original_filename == "image.png",
        )
        == 0
    )


def test_the_dsl_is_alerted_first_and_the_referral_comes_before_anything_else(stack: Stack) -> None:
    since = len(stack.mail.ids())
    case_id, ref = report_as(stack, REPORTER, "online_abuse", images_report(), [])
    urgent = mail_to(stack.mail, DSL, f"URGENT safeguarding: case {ref}")
    about_case = [m for m in stack.mail.all()[since:] if ref in m.subject]
    assert about_case[0].message_id == urgent.message_id, "the DSL's alert is the first email"
    assert "Two images" not in urgent.raw, "the alert carries no details"
    warning = mail_to(stack.mail, REPORTER, f"{ref}: please read this now")
    assert "do not copy, screenshot, download, print, forward or save" in warning.text
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Refer to the police or CEOP",
        {"referred_to": "both", "reference": "CEOP-77812", "notes": ""},
    )
    mail_to(stack.mail, DSL, f"{ref}: please record – Report the material")

    assert emails_of(stack.db_url, case_id)[:5] == [
        ("safeguarding_alert", DSL),
        ("safeguarding_advice", REPORTER),
        ("case_opened", HEAD),
        ("case_opened", DSL),
        ("task_request", DSL),
    ]
    wait_until(lambda: "task.requested:report_to_platform" in trail(stack.db_url, case_id), 30)
    assert (
        trail(stack.db_url, case_id)[:14]
        == [
            "case.opened",
            "dsl.alerted",
            "step.completed:alert_dsl",
            "step.completed:notify_headteacher",
            "flow.started",
            "task.requested:police_ceop_referral",
            "task.completed:police_ceop_referral",
            "step.completed:police_ceop_referral",
            "evidence.sealed",
            "step.completed:save_evidence",
            "step.completed:advise_staff",
            "task.requested:report_to_platform",
        ][:14]
    )
    assert count(stack.db_url, Evidence, Evidence.case_id == case_id) == 0
