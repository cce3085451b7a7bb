"""Reading replies as mail programs really send them: the answer on the first line, the
quoted original, signatures and HTML-only replies left out, machine mail recognised."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from mail.inbound import read
from mail.reply_text import ReplyWords, html_text, read_reply

ORIGINAL = (
    "Dear Helen Okafor,\n\nCase CW-2026-00001 is waiting for your decision:\n\n"
    "  Headteacher approves the letter to all parents\n\n"
    "Or answer by replying to this email. Put your answer on the first line of the reply:\n"
    "the word APPROVE to approve, or the word REJECT followed by your reason.\n"
)
QUOTED = "\n".join(f"> {line}" for line in ORIGINAL.splitlines())

APPROVALS = {
    "bare word": "APPROVE",
    "lower case with a full stop": "approve.",
    "approved with thanks": "Approved, thanks!",
    "i approve": "I approve",
    "bold from a phone": "*Approve*",
    "in quotation marks": "“Approved”",
    "greeting first": "Hi,\n\nApproved.\n\nHelen",
    "iphone": f"Approve\n\nSent from my iPhone\n\n> On 7 Dec 2026, Casework wrote:\n{QUOTED}",
    "gmail wrapped attribution": (
        "approved\n\nOn Mon, 7 Dec 2026 at 09:12, Casework <\n"
        f"casework@school.example> wrote:\n\n{QUOTED}"
    ),
    "outlook desktop": (
        "Approved\r\n\r\nHelen Okafor\r\nHeadteacher\r\n\r\n"
        "From: Casework <casework@school.example>\r\nSent: 07 December 2026 09:12\r\n"
        f"To: Helen Okafor\r\nSubject: Case CW-2026-00001\r\n\r\n{ORIGINAL}"
    ),
    "outlook mobile": (
        "Approve\n\nGet Outlook for iOS\n________________________________\n"
        f"From: Casework <casework@school.example>\nSent: Monday\n\n{ORIGINAL}"
    ),
    "signature dashes": "APPROVE\n-- \nHelen Okafor\nOakfield Primary School\nREJECT",
    "non-breaking spaces": "\u00a0APPROVE\u00a0\n",
}


@pytest.mark.parametrize("text", APPROVALS.values(), ids=APPROVALS.keys())
def test_approvals_in_the_shapes_phones_and_desktops_send(text: str) -> None:
    assert read_reply(text).verb == "approve"


REJECTIONS = {
    "reason on the same line": ("REJECT: we wrote last month", "we wrote last month"),
    "dash and lower case": ("reject - too soon after the last one", "too soon after the last one"),
    "rejected with a comma": (
        "Rejected, parents were told in assembly.",
        "parents were told in assembly.",
    ),
    "reason in the next paragraph": (
        "Reject\n\nWe wrote to parents last month.\nIt would confuse them.\n\nThanks\nHelen",
        "We wrote to parents last month. It would confuse them.",
    ),
    "above a quote": (
        f"REJECT not this term\n\nOn Monday Casework wrote:\n{QUOTED}",
        "not this term",
    ),
}


@pytest.mark.parametrize("text, reason", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_rejections_carry_their_reason(text: str, reason: str) -> None:
    assert read_reply(text) == ReplyWords("reject", reason, read_reply(text).first_line)


NOT_ANSWERS = {
    "conditional approval": "Approve, but change the second paragraph",
    "negated": "Not approved",
    "yes": "Yes",
    "out of office text": "I am out of the office until Monday.",
    "empty reply above the quote": f"\n\nOn Mon, 7 Dec 2026, Casework wrote:\n{QUOTED}",
    "only a signature": "Sent from my iPhone",
    "answer only in the quote": QUOTED,
    "outlook quote with no answer": (
        "________________________________\nFrom: Casework\nSent: Monday\n\n" + ORIGINAL
    ),
    "forwarded unquoted": f"---------- Forwarded message ---------\n{ORIGINAL}",
    "original pasted without quoting": ORIGINAL,
    "greeting with the answer after a comma": "Hi Casework, approved",
    "answer on the second line": "Thanks for this.\nAPPROVE",
}


@pytest.mark.parametrize("text", NOT_ANSWERS.values(), ids=NOT_ANSWERS.keys())
def test_anything_else_is_no_answer(text: str) -> None:
    assert read_reply(text).verb == ""


def test_the_first_line_is_kept_to_show_the_person() -> None:
    assert read_reply("Hello,\n\nApprove if Jo agrees").first_line == "Approve if Jo agrees"


def test_html_only_replies_lose_their_quoted_blocks() -> None:
    gmail = (
        '<div dir="ltr">Approve<br></div><br><div class="gmail_quote">'
        '<div class="gmail_attr">On Mon, Casework wrote:<br></div>'
        "<blockquote>REJECT everything</blockquote></div>"
    )
    outlook_web = (
        "<html><head><style>p{margin:0}</style></head><body><div>Reject &ndash; "
        "we <b>already</b>&nbsp;wrote</div><hr><div id='divRplyFwdMsg'><b>From:</b> Casework"
        "</div><div>APPROVE</div></body></html>"
    )
    apple = "<div>approved</div><div><br><blockquote type='cite'>REJECT</blockquote></div>"
    assert read_reply(html_text(gmail)).verb == "approve"
    assert read_reply(html_text(outlook_web)) == ReplyWords(
        "reject", "we already wrote", "Reject – we already wrote"
    )
    assert read_reply(html_text(apple)).verb == "approve"
    assert read_reply(html_text("<blockquote>APPROVE</blockquote>")).verb == ""


def message(body: str = "APPROVE", sender: str = "head@oakfield.example", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "reply-1-0123456789abcdef0123456789abcdef@replies.localhost"
    mail["Subject"] = "Re: your decision"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes()


MARKER = "casework@school.example"
MACHINES = {
    "out of office": ({"Auto_Submitted": "auto-replied"}, "head@oakfield.example"),
    "auto-generated with a comment": ({"Auto_Submitted": "auto-generated; x=1"}, "h@o.example"),
    "precedence junk": ({"Precedence": "junk"}, "head@oakfield.example"),
    "precedence list": ({"Precedence": "list"}, "head@oakfield.example"),
    "x-autorespond": ({"X_Autorespond": "1"}, "head@oakfield.example"),
    "mailing list": ({"List_Id": "<staff.oakfield.example>"}, "head@oakfield.example"),
    "our marker": ({"X_Loop": "Casework@School.example"}, "head@oakfield.example"),
    "empty return path": ({}, "<>"),
    "mailer-daemon": ({}, "MAILER-DAEMON@mx.oakfield.example"),
}


@pytest.mark.parametrize("headers, return_path", MACHINES.values(), ids=MACHINES.keys())
def test_mail_sent_by_programs_is_recognised(headers: dict[str, str], return_path: str) -> None:
    received = read(message(**headers), return_path, MARKER)
    assert received.automatic
    assert received.words.verb == "", "machine mail is never read for an answer"


def test_a_person_saying_auto_submitted_no_is_a_person() -> None:
    received = read(message(Auto_Submitted="no"), "head@oakfield.example", MARKER)
    assert received.automatic == "" and received.words.verb == "approve"
    assert received.senders == ("head@oakfield.example",)


def test_our_own_address_in_from_is_ours() -> None:
    assert read(message(sender=f"Casework <{MARKER}>"), "x@y.example", MARKER).automatic


AUTH = "mx.oakfield.example; spf=pass smtp.mailfrom=oakfield.example; dmarc=pass header.from="


@pytest.mark.parametrize(
    "results, trusted",
    [
        (AUTH + "oakfield.example", True),
        (AUTH + "OAKFIELD.example (policy=reject)", True),
        (AUTH.replace("dmarc=pass", "dmarc=fail") + "oakfield.example", False),
        (AUTH + "elsewhere.example", False),
        ("mx.attacker.example; dmarc=pass header.from=oakfield.example", False),
        ("", False),
    ],
    ids=["pass", "case and comment", "fail", "other domain", "not our server", "none"],
)
def test_only_our_servers_dmarc_pass_for_the_from_domain_vouches(
    results: str, trusted: bool
) -> None:
    headers = {"Authentication_Results": results} if results else {}
    received = read(message(**headers), "head@oakfield.example", MARKER, "mx.oakfield.example")
    assert received.authenticated is trusted
