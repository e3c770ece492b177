"""Under CI=true a skipped browser test fails the run; locally it skips with its reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from web_support import requires_api

HERE = Path(__file__).parent


def run_without_chromium(ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(Path(sys.executable).parent)  # no chromium on it
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", str(HERE / "test_browser.py"), "-q", "-k", "languages",
                           "-p", "no:cacheprovider"], env=env, capture_output=True, text=True, timeout=120,
                          cwd=HERE.parents[2])


@requires_api  # otherwise the browser tests skip for a reason CI accepts (the plugins are not installed)
@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_skipped_browser_test_fails_under_ci(ci):
    result = run_without_chromium(ci)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "a browser test may not be skipped" in result.stdout
    assert "1 failed" in result.stdout


@requires_api
def test_without_ci_it_skips_with_the_reason():
    result = run_without_chromium(None)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout and "no `chromium` on PATH" in result.stdout
