"""Developer tasks. `nox -s tests` is what CI runs (through .ci/run)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def install_everything(session: nox.Session, *, test: bool) -> None:
    extra = "[test]" if test else ""
    session.install("-e", f".{extra}", *[arg for p in PLUGINS for arg in ("-e", f"plugins/{p}{extra}")])


@nox.session
def tests(session: nox.Session) -> None:
    """Every distribution installed editable, then the whole suite (kernel and plugins).

    Two pytest-xdist workers, each taking whole files (module fixtures such as the practice set's
    scoring run once): 11 min 42 s on one worker, 7 min 38 s on two, on this project's two-core
    machines (docs/decisions.md, decision 74). ``nox -s tests -- -n 0`` runs in one process."""
    install_everything(session, test=True)
    session.run("pytest", "-n", "2", "--dist", "loadfile", *session.posargs, env={"ROLEPLAY_ENV": "development"})


@nox.session
@nox.parametrize("plugin", PLUGINS)
def isolation(session: nox.Session, plugin: str) -> None:
    """A fresh venv with only roleplay-core, one plugin and what it declares: it installs and passes alone."""
    session.install(".[test]", f"plugins/{plugin}[test]")  # not editable: a real install
    session.chdir(ROOT / "plugins" / plugin)
    session.run("python", "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                *session.posargs, env={"ROLEPLAY_ENV": "development"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: style and common bugs."""
    session.install("ruff")
    session.run("ruff", "check", "roleplay_core", "plugins", "tests", "benchmarks", "noxfile.py")


@nox.session
def serve(session: nox.Session) -> None:
    """Run the server on the embedded defaults (development layer, file storage under ./var)."""
    install_everything(session, test=False)
    session.run("roleplay", "serve", *session.posargs, env={"ROLEPLAY_ENV": os.environ.get("ROLEPLAY_ENV", "development")})
