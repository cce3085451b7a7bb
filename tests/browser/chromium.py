"""Where Debian's Chromium is and how the browser tests start it."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium")
# This machine has no internet and we run as root: no sandbox, and no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Checked before a test asks for its fixtures, so a missing browser costs no start-up.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (no `chromium` on PATH)"
)
