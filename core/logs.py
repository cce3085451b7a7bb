"""Log lines for people (text) or for a log collector (JSON, one object a line), each
carrying the case id and flow run id whenever it is about one.

Code that works on one case says so once (`about_case`), and every line logged inside,
by any module, carries the ids; a single line may also pass them as `extra`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_case_id: ContextVar[int | None] = ContextVar("case_id", default=None)
_flow_run_id: ContextVar[str | None] = ContextVar("flow_run_id", default=None)
FIELDS = ("case_id", "flow_run_id")


@contextmanager
def about_case(case_id: int | None, flow_run_id: str | None = None) -> Iterator[None]:
    """Every line logged inside names this case (and run)."""
    case_token = _case_id.set(case_id)
    run_token = _flow_run_id.set(flow_run_id or _flow_run_id.get())
    try:
        yield
    finally:
        _flow_run_id.reset(run_token)
        _case_id.reset(case_token)


class CaseFields(logging.Filter):
    """Puts the case id and flow run id on each record: its own `extra`, else the context."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("case_id", _case_id), ("flow_run_id", _flow_run_id)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, process, message, ids, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        line.update({name: value for name in FIELDS if (value := getattr(record, name, None))})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextLines(logging.Formatter):
    """The console's format, with the case (and run) in brackets when a line is about one."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        case, run = getattr(record, "case_id", None), getattr(record, "flow_run_id", None)
        if case is None and run is None:
            return text
        ids = " ".join(f"{n}={v}" for n, v in (("case", case), ("run", run)) if v is not None)
        return f"{text} [{ids}]"


def configure_logging(kind: str, level: int = logging.INFO) -> None:
    """Send every log line to stderr as `kind` ("text" or "json") says."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CaseFields())
    handler.setFormatter(
        JsonLines() if kind == "json" else TextLines("%(asctime)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
