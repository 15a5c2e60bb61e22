"""Suite-wide rule: under CI (CI=true) a skipped test fails the run.

A skip is a test nobody ran; counted as green it would hide a runtime (Node.js, Chromium, gunicorn)
that CI failed to install. On a developer's machine skips stay skips, with their reason.
"""

from __future__ import annotations

import os

import pytest


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if _in_ci() and skipped and exitstatus == 0:
        if reporter is not None:
            reporter.write_line(
                f"CI: {skipped} test(s) skipped; under CI every test must run", red=True
            )
        session.exitstatus = 1
