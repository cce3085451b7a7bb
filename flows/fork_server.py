"""Made once in the fork server that flow runs start from (flows/warm_start.py), not per run.

Importing this module is what the fork server does with it: it is in warm_start's preload
list, and nothing else imports it. Four things every run did for itself before its first
step are done here once, and each run forked afterwards finds them done:

- the TLS context Prefect's clients check the server with (below);
- SQLAlchemy's mappers configured (`db.models.configure_models`), which it does at a
  process's first query: a tenth of a second of every run on a busy machine;
- the emails' and letters' templates compiled (`core.templating.compile_templates`);
- Prefect's own pydantic models built: Prefect defers building most of them until first
  used, and every run used a handful (updating its own state, reading its deployment,
  watching for its suspension) and built them again.


Prefect's client makes a new TLS context for every client it makes, loading the whole
certificate bundle each time, and a run's engine makes three clients before the flow's
first line runs, whether the server is reached over TLS or not. Loading the bundle took 25
ms when this machine was quiet and 0.2-0.3 s when it was busy, three times a hop. A context
is meant to be shared (one serves any number of connections), so the verifying context
Prefect asks for is made once per certificate file here, before any run is forked, and
every run shares it. An unverifying one (PREFECT_API_TLS_INSECURE_SKIP_VERIFY) is changed
by Prefect after it is made, so it is still made afresh each time. A changed bundle on disk
is read when the runner restarts.
"""

from __future__ import annotations

import ssl
import sys
from functools import cache
from types import ModuleType
from typing import Any

import certifi
import prefect.client.orchestration as orchestration
from pydantic import BaseModel

from core.templating import compile_templates
from db.models import configure_models


@cache
def verifying_context(cafile: str) -> ssl.SSLContext:
    """The one context that checks servers' certificates against `cafile`."""
    return ssl.create_default_context(cafile=cafile)


class _OneContextPerFile:
    """Stands in for the ssl module inside Prefect's client module: a verifying context for
    a certificate file is the shared one. Anything else passes through."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real

    def create_default_context(self, *args: Any, **kwargs: Any) -> ssl.SSLContext:
        if not args and set(kwargs) == {"cafile"} and isinstance(kwargs["cafile"], str):
            return verifying_context(kwargs["cafile"])
        made: ssl.SSLContext = self._real.create_default_context(*args, **kwargs)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def share_tls_contexts() -> None:
    """Make Prefect's clients in this process, and in every process forked from it, share
    one verifying context per certificate file; the default one is made now."""
    module: Any = orchestration
    if not isinstance(module.ssl, _OneContextPerFile):
        module.ssl = _OneContextPerFile(ssl)
    verifying_context(certifi.where())


def build_prefect_models() -> int:
    """Build every pydantic model of Prefect's whose build it deferred; returns how many.

    A model that cannot be built yet (a reference still unresolved) is left to be built
    when first used, as before."""
    built = 0
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("prefect.")]:
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and not value.__pydantic_complete__
            ):
                try:
                    built += bool(value.model_rebuild())
                except Exception:  # Prefect builds it at first use, as before
                    continue
    return built


share_tls_contexts()
configure_models()
compile_templates("emails", "letters", "reports")
build_prefect_models()
