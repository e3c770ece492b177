"""The kernel's public API is what ``__all__`` says, what docs/plugins.md lists, and all plugins use.

Modelled on httpx's ``tests/test_exported_members.py``: ``roleplay_core.__all__`` must equal the
public names the package defines, so a name is never public by accident nor missing by oversight.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest

import roleplay_core

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"
#: The modules a plugin may import from; every other ``roleplay_core`` module is internal.
PUBLIC_MODULES = ("roleplay_core", "roleplay_core.storage", "roleplay_core.text", "roleplay_core.testing",
                  "roleplay_core.prompting", "roleplay_core.metrics")


def test_all_is_exactly_the_public_names_the_package_defines():
    public = [name for name, value in vars(roleplay_core).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)]
    assert roleplay_core.__all__ == sorted(public)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_exported_name_exists_once(module):
    imported = importlib.import_module(module)
    assert len(set(imported.__all__)) == len(imported.__all__), "a name is listed twice"
    assert [name for name in imported.__all__ if not hasattr(imported, name)] == []


def documented(module: str) -> list[str]:
    """The names in the first column of the table under docs/plugins.md's ``### `module``` heading."""
    text = DOCS.read_text()
    match = re.search(rf"^### `{re.escape(module)}`\n(.*?)(?=^#{{2,3}} |\Z)", text, re.M | re.S)
    assert match, f"docs/plugins.md has no '### `{module}`' section"
    names = []
    for line in match.group(1).splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and "`" in cells[1]:
            names += re.findall(r"`([^`]+)`", cells[1])
    return names


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_the_docs_table_lists_exactly_all(module):
    names = documented(module)
    assert len(set(names)) == len(names), f"docs/plugins.md lists a name of {module} twice"
    exported = set(importlib.import_module(module).__all__)
    assert sorted(set(names) - exported) == [], f"documented for {module} but not exported"
    assert sorted(exported - set(names)) == [], f"exported by {module} but not documented"


def kernel_imports(path: Path) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` for every kernel name the file imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "roleplay_core":
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, "") for alias in node.names
                      if alias.name.split(".")[0] == "roleplay_core"]
    return found


PLUGIN_FILES = sorted(path for plugin in (ROOT / "plugins").iterdir() if (plugin / plugin.name).is_dir()
                      for path in (plugin / plugin.name).rglob("*.py"))


def test_there_are_plugin_files():
    assert len(PLUGIN_FILES) > 50


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=[str(p.relative_to(ROOT / "plugins")) for p in PLUGIN_FILES])
def test_every_plugin_imports_only_exported_kernel_names(path):
    wrong = []
    for line, module, name in kernel_imports(path):
        if module not in PUBLIC_MODULES:
            wrong.append(f"line {line}: {module} is internal (import from {', '.join(PUBLIC_MODULES)})")
        elif f"{module}.{name}" in PUBLIC_MODULES:
            continue  # `from roleplay_core import metrics`: a public module, used by its names
        elif name and name != "*" and name not in importlib.import_module(module).__all__:
            wrong.append(f"line {line}: {name} is not in {module}.__all__")
        elif not name and module != "roleplay_core":
            wrong.append(f"line {line}: import {module} (import names from it instead)")
    assert wrong == []


def test_the_check_finds_an_internal_import(tmp_path):
    sample = tmp_path / "plugin.py"
    sample.write_text("from roleplay_core.script import SLUG\nfrom roleplay_core import Kernel, Page\n")
    assert kernel_imports(sample) == [(1, "roleplay_core.script", "SLUG"), (2, "roleplay_core", "Kernel"),
                                      (2, "roleplay_core", "Page")]
    assert "Page" not in roleplay_core.__all__  # Page is roleplay_core.storage's
