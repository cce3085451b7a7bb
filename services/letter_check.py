"""The check that a letter to all parents names nobody involved in the case.

Letters to every parent must never identify a pupil, a parent or a member of staff. Before
anything goes out (and on the page where the headteacher approves it) the letter is read as
a parent would see it and checked for every name and account name the case records.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.templating import RenderedEmail, local_date
from db.models import Case, Person, School
from db.people import find_person
from db.session import Session

HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})
# Keys in `case.details` whose values are people's names or their online accounts.
NAME_KEY = re.compile(r"(?:^|_)names?$")
ACCOUNT_KEY = re.compile(r"(?:^|_)(?:account|accounts|handle|handles|username)$")
WORD = re.compile(r"[^\W\d_][\w'’-]*")


@dataclass(frozen=True)
class NamedPerson:
    """A name from the case, and how a refusal describes whose it is."""

    who: str
    name: str
    literal: bool = False  # an account name: matched as written, not word by word


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value.strip():
            yield value.strip()
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _who_for_key(key: str) -> str:
    if key == "pupil_name":
        return "the pupil"
    if key == "pupil_account":
        return "the pupil's account"
    return f"a person recorded in the case ({key.replace('_', ' ')})"


def names_in_details(details: Any) -> Iterator[NamedPerson]:
    """Every person's name or account name recorded in `case.details`, however nested."""
    if isinstance(details, dict):
        for sub_key, value in details.items():
            if NAME_KEY.search(sub_key):
                who = _who_for_key(sub_key)
                yield from (NamedPerson(who, name) for name in _strings(value))
            elif ACCOUNT_KEY.search(sub_key):
                who = _who_for_key(sub_key)
                yield from (NamedPerson(who, name, literal=True) for name in _strings(value))
            else:
                yield from names_in_details(value)
    elif isinstance(details, list):
        for item in details:
            yield from names_in_details(item)


def people_in_case(session: Session, case: Case) -> list[NamedPerson]:
    """The pupil, the reporter, the case lead, the subject and anyone else in the details."""
    found = list(names_in_details(case.details or {}))
    staff = (
        ("the member of staff who reported it", case.reporter_id),
        ("the case lead", case.lead_id),
        ("the member of staff the case is about", case.subject_id),
    )
    for who, person_id in staff:
        person = find_person(session, person_id)
        if person is not None:
            found.append(NamedPerson(who, person.name))
    return list(dict.fromkeys(found))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plain_text(markup: str) -> str:
    """What a reader sees of an HTML letter: no head, styles or tags."""
    markup = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", " ", markup)
    return html.unescape(re.sub(r"(?s)<[^>]*>", " ", markup))


def mentions(text: str, person: NamedPerson) -> bool:
    """True if `text` has the full name, or any part of it written as a name."""
    if person.literal:
        handle = person.name.lstrip("@")
        if len(handle) < 3:
            return False
        return re.search(rf"(?<!\w){re.escape(handle)}(?!\w)", text, re.IGNORECASE) is not None
    words = WORD.findall(person.name)
    if not words:
        return False
    full = r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)"
    if re.search(full, text, re.IGNORECASE):
        return True
    # Parts are matched only as names are written (capitalised), so "your child" is not
    # taken for a Mrs Child while "Jordan" on its own is still caught.
    for word in words:
        if len(word) < 2 or word.casefold() in HONORIFICS:
            continue
        for form in {word, word[0].upper() + word[1:], word.upper()}:
            if re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text):
                return True
    return False


def fixed_wording(context: dict[str, Any]) -> list[str]:
    """Text every letter from the school carries whatever the case: letterhead and date."""
    school: School = context["school"]
    signatory: Person = context["signatory"]
    parts = [school.name, school.email, school.phone, local_date(context["date"])]
    parts += school.address.splitlines()
    parts.append(signatory.job_title or "Headteacher")
    return sorted({_squash(p) for p in parts if p and p.strip()}, key=len, reverse=True)


def _scrub(text: str, fixed: Iterable[str], signature: str | None) -> str:
    text = _squash(text)
    for phrase in fixed:
        text = re.sub(re.escape(phrase), " ", text, flags=re.IGNORECASE)
    if signature:
        # Only the signature itself: the headteacher named elsewhere still counts.
        at = text.rfind(signature)
        if at >= 0:
            text = text[:at] + " " + text[at + len(signature) :]
    return text


def named_in_letter(
    letter: RenderedEmail, people: Iterable[NamedPerson], context: dict[str, Any]
) -> list[NamedPerson]:
    """The people from the case whose names appear in the subject or the letter."""
    fixed = fixed_wording(context)
    signature = _squash(context["signatory"].name)
    texts = [
        _scrub(letter.subject, fixed, None),
        _scrub(letter.text, fixed, signature),
        _scrub(plain_text(letter.html), fixed, signature),
    ]
    return [p for p in people if any(mentions(t, p) for t in texts)]


def describe(found: list[NamedPerson]) -> str:
    whose = list(dict.fromkeys(p.who for p in found))
    if len(whose) == 1:
        return whose[0]
    return ", ".join(whose[:-1]) + " and " + whose[-1]


def naming_problems(
    session: Session, case: Case, letter: RenderedEmail, context: dict[str, Any]
) -> list[str]:
    """Plain-English reasons the letter, rendered with `context`, must not go out."""
    found = named_in_letter(letter, people_in_case(session, case), context)
    if not found:
        return []
    return [
        f"The letter contains the name of {describe(found)}. A letter to every parent must "
        "never name anyone involved in the case."
    ]
