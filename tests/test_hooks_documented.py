"""Every hookspec, and each of its arguments, is documented in docs/plugins.md."""

import inspect
import re
from pathlib import Path

import pytest

from roleplay_core import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
SPECS = [
    (name, function)
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "roleplay_spec")
]


def sections() -> dict[str, tuple[list[str], str]]:
    text = DOCS.read_text()
    found = {}
    for match in re.finditer(r"^### (\w+)\(([^)]*)\)\n(.*?)(?=^#{2,3} |\Z)", text, re.M | re.S):
        args = [a.strip() for a in match.group(2).split(",") if a.strip()]
        found[match.group(1)] = (args, match.group(3))
    return found


def test_there_are_hookspecs():
    assert len(SPECS) >= 10


@pytest.mark.parametrize(("name", "function"), SPECS, ids=[name for name, _ in SPECS])
def test_hook_is_documented_with_every_argument(name, function):
    assert function.__doc__ and function.__doc__.strip(), f"{name} has no docstring in hookspecs.py"
    documented = sections()
    assert name in documented, f"docs/plugins.md has no '### {name}(...)' section"
    args, body = documented[name]
    expected = list(inspect.signature(function).parameters)
    assert args == expected, f"docs/plugins.md documents {name}({', '.join(args)}), the spec is {expected}"
    for arg in expected:
        assert f"`{arg}`" in body, f"argument {arg!r} of {name} is not described in its section"


def test_no_documented_hook_is_missing_from_the_specs():
    names = {name for name, _ in SPECS}
    assert set(sections()) <= names
