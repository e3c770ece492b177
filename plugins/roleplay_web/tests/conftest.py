import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # web_support

#: Skips that are not the browser's fault: the API plugins (or the Gemini test server) are not
#: installed, as in `nox -s isolation`, which tests each plugin alone and cannot run these.
NOT_INSTALLED = ("needs the roleplay-", "needs roleplay-")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium; under CI=true it must not be skipped")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` a skipped browser test is a failure: CI must really run them (``.ci/run``
    installs Chromium when it is missing). Locally, without Chromium, they skip with the reason."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci() and item.get_closest_marker("browser") is not None):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(marker in reason for marker in NOT_INSTALLED):
        return
    report.outcome = "failed"
    report.longrepr = f"CI=true: a browser test may not be skipped ({reason})"
