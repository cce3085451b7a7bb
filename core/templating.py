"""The one Jinja environment: autoescape on for every template, StrictUndefined."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.settings import PROJECT_ROOT

TEMPLATE_DIR = PROJECT_ROOT / "templates"
LONDON = ZoneInfo("Europe/London")


def local_time(value: datetime | None, fmt: str = "%-d %B %Y, %H:%M") -> str:
    """UK local time for people to read; storage stays UTC."""
    if value is None:
        return ""
    return value.astimezone(LONDON).strftime(fmt)


def local_date(value: datetime) -> str:
    return local_time(value, "%-d %B %Y")


def day(value: date | None) -> str:
    """A date (no time, no zone), as people write it."""
    return f"{value:%-d %B %Y}" if value else ""


def _autoescape(name: str | None) -> bool:
    """Escape everything except plain-text email parts.

    A .txt part is sent as text/plain, where escaping would turn O'Brien into
    O&#39;Brien; any other name, whatever its extension, is escaped.
    """
    return not (name or "").endswith((".txt.j2", ".txt"))


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local_time"] = local_time
    env.filters["local_date"] = local_date
    env.filters["day"] = day
    return env


def compile_templates(*folders: str) -> int:
    """Compile every template in `folders` into the environment's cache now; returns how many.

    The fork server that flow runs start from does this for the emails and letters, so each
    run finds them compiled instead of compiling each one it renders for itself."""
    names = [
        n for n in environment().list_templates() if n.startswith(tuple(f"{f}/" for f in folders))
    ]
    for name in names:
        environment().get_template(name)
    return len(names)


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str

    @property
    def digest(self) -> str:
        """Identifies the content, so one body row serves every copy of it."""
        parts = (self.subject, self.text, self.html)
        return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def render_email(template: str, **context: Any) -> RenderedEmail:
    """Render `<template>.txt.j2` (which sets `subject`) and `<template>.html.j2`."""
    env = environment()
    text_module = env.get_template(f"{template}.txt.j2").make_module(context)
    html = env.get_template(f"{template}.html.j2").render(**context)
    subject = str(getattr(text_module, "subject", "")).strip()
    if not subject:
        raise ValueError(f"template {template}.txt.j2 does not set a subject")
    return RenderedEmail(subject=subject, text=str(text_module), html=html)
