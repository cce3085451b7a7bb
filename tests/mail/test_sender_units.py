"""The sender's pure parts: wire bytes, the rate limiter, backoff and claim sizes."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtplib import SMTPResponse

from core.settings import Settings
from db.outbox_claims import Claimed, backoff
from mail.message import MessageBytes, build_message, flatten
from mail.sender import RateLimiter, claim_size
from mail.transport import Outcome, send_one

ROW = Claimed(
    id=1,
    kind="parent_letter",
    case_id=None,
    to_addr="parent01@families.example",
    subject="A letter from Oakfield Primary School",
    text_body="Dear parent or carer,\n\nWe are writing to you about online safety.\n",
    html_body="<p>Dear parent or carer,</p><p>We are writing about online safety.</p>",
    message_id="<0123456789abcdef@school.example>",
    created_at=datetime(2026, 11, 20, 18, 30, 5, 123456, tzinfo=UTC),
    attempts=1,
)
VARIANTS = {
    "plain": ROW,
    "accents and quotes": replace(
        ROW,
        subject="Lettre à Siân O'Brien — «résumé»",
        text_body="Zoë's café, naïve façade.\n",
        html_body="<p>Zoë&#39;s café</p>",
    ),
    "long subject": replace(ROW, subject="Online safety " * 40),
    "long lines": replace(ROW, text_body="word " * 400 + "\n", html_body="<p>" + "é" * 1200),
    "display name": replace(ROW, to_addr='"Parent, A." <a.parent+letters@families.example>'),
    "odd message id": replace(ROW, message_id="<odd id@school.example>"),
    "plus address": replace(ROW, to_addr="a.parent+letters@families.example"),
    "reply address": replace(ROW, reply_to="reply-7-0123456789abcdef0123456789abcdef@r.example"),
}
BOUNDARY = re.compile(rb"={15}\d+==")


@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bit", "7bit"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_rendered_bytes_are_what_the_email_package_writes(name: str, eight_bit: bool) -> None:
    row = VARIANTS[name]
    for sender in (
        "Casework <casework@school.example>",
        "École Oakfield <casework@school.example>",
    ):
        expected = flatten(build_message(row, sender), eight_bit)
        rendered = MessageBytes(sender).render(row, eight_bit)
        assert BOUNDARY.sub(b"B", rendered) == BOUNDARY.sub(b"B", expected)
        if not eight_bit:
            assert rendered.isascii()


DOTTED = replace(
    ROW,
    text_body="Points to note\n.\n.hidden starts with a dot\n..two dots\nbare\rreturn\n",
    html_body="<p>one</p>\n.<p>dot first</p>\n.",
)


@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bit", "7bit"])
@pytest.mark.parametrize("name", [*VARIANTS, "dotted lines"])
def test_data_bytes_are_what_aiosmtplib_would_write(name: str, eight_bit: bool) -> None:
    """The sender writes DATA itself; the library's own transparency is the oracle."""
    from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

    row = VARIANTS.get(name, DOTTED)
    messages = MessageBytes("Casework <casework@school.example>")
    on_the_wire = normalize_message_line_endings(messages.render(row, eight_bit))
    expected = PERIOD_REGEX.sub(b"..", on_the_wire)
    assert messages.for_data(row, eight_bit) == expected + b".\r\n"
    if name == "dotted lines":
        assert b"\r\n..\r\n" in expected, "a lone dot in the text cannot end the message"


def test_a_letter_body_is_built_once_and_reused() -> None:
    messages = MessageBytes("Casework <casework@school.example>")
    first = messages.render(ROW, True)
    second = messages.render(replace(ROW, to_addr="parent02@families.example"), True)
    assert first.replace(b"parent01", b"parent02") == second, "same boundary, same body"


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        MessageBytes("Casework <casework@school.example>").render(
            replace(ROW, subject="Hello\r\nBcc: everyone@example.com"), True
        )


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.starts: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_sends(limiter: RateLimiter, fake: FakeTime, count: int) -> None:
    async def sends() -> None:
        for _ in range(count):
            await limiter.wait()
            fake.starts.append(fake.now)

    asyncio.run(sends())


def test_rate_limiter_spaces_messages_evenly_and_does_not_burst_after_a_pause() -> None:
    fake = FakeTime()
    limiter = RateLimiter(120, clock=fake.clock, sleep=fake.sleep)
    run_sends(limiter, fake, 6)
    assert fake.starts == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    fake.now, fake.starts = 100.0, []
    run_sends(limiter, fake, 3)
    assert fake.starts == pytest.approx([100.0, 100.5, 101.0])


def test_no_more_than_the_limit_start_in_any_minute() -> None:
    fake = FakeTime()
    limiter = RateLimiter(30, clock=fake.clock, sleep=fake.sleep)
    run_sends(limiter, fake, 95)
    for start in fake.starts:
        assert sum(start <= other < start + 60 for other in fake.starts) <= 30


def test_an_unlimited_limiter_never_waits() -> None:
    fake = FakeTime()
    run_sends(RateLimiter(0, clock=fake.clock, sleep=fake.sleep), fake, 50)
    assert fake.starts == [0.0] * 50


def test_backoff_doubles_up_to_its_cap() -> None:
    settings = Settings(outbox_backoff_seconds=5, outbox_backoff_cap_seconds=60)
    waits = [backoff(settings, attempts) for attempts in range(1, 7)]
    assert waits == [timedelta(seconds=s) for s in (5, 10, 20, 40, 60, 60)]


def test_claims_stay_small_under_a_rate_limit() -> None:
    assert claim_size(Settings(outbox_claim_batch=200)) == 200
    assert claim_size(Settings(outbox_claim_batch=200, smtp_rate_per_minute=600)) == 100
    assert claim_size(Settings(outbox_claim_batch=200, smtp_rate_per_minute=30)) == 5
    assert claim_size(Settings(outbox_claim_batch=200, smtp_rate_per_minute=1)) == 4


class RefusingSMTP:
    """Just enough of aiosmtplib.SMTP to answer like a server that refused some recipients."""

    def __init__(self, refused: dict[str, SMTPResponse]) -> None:
        self.refused = refused

    async def send_message(
        self, message: object, sender: str, recipients: list[str]
    ) -> tuple[dict[str, SMTPResponse], str]:
        return self.refused, "250 OK"


INTERNATIONAL = replace(ROW, to_addr="zoë@families.example")  # goes by send_message


@pytest.mark.parametrize(
    ("refused", "expected"),
    [
        ({}, Outcome(True, answer="250 OK")),
        (
            {INTERNATIONAL.to_addr: SMTPResponse(550, "No such user")},
            Outcome(False, True, "550 No such user"),
        ),
        (
            {INTERNATIONAL.to_addr: SMTPResponse(452, "Try later")},
            Outcome(False, False, "452 Try later"),
        ),
    ],
)
def test_recipients_refused_in_the_answer_are_not_sent(
    refused: dict[str, SMTPResponse], expected: Outcome
) -> None:
    """aiosmtplib returns partly refused recipients instead of raising."""
    smtp: Any = RefusingSMTP(refused)
    messages = MessageBytes("Casework <casework@school.example>")
    outcome = asyncio.run(send_one(smtp, INTERNATIONAL, messages, "casework@school.example"))
    assert outcome == expected
