"""Every hookspec, and each of its arguments, is documented in docs/plugins.md."""

import ast
import inspect
import re
import typing
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


def typed_signature(function) -> str:
    """``def name(arg: Type, ...) -> Return`` as written in hookspecs.py (annotations are strings there)."""
    annotations = function.__annotations__
    args = ", ".join(f"{arg}: {annotations[arg]}" for arg in inspect.signature(function).parameters)
    return f"def {function.__name__}({args}) -> {annotations['return']}"


@pytest.mark.parametrize(("name", "function"), SPECS, ids=[name for name, _ in SPECS])
def test_hook_is_typed_and_its_typed_signature_is_documented(name, function):
    parameters = list(inspect.signature(function).parameters)
    assert [arg for arg in parameters if arg not in function.__annotations__] == [], f"{name} has untyped arguments"
    assert "return" in function.__annotations__, f"{name} has no return type"
    assert typed_signature(function) in sections()[name][1], f"docs/plugins.md does not show {typed_signature(function)}"


def test_the_typed_signatures_name_real_types():
    """The annotations are strings (imported under TYPE_CHECKING, as pytest does); they must resolve."""
    tree = ast.parse(inspect.getsource(hookspecs))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    namespace = {**vars(hookspecs)}
    exec(compile(ast.Module(body=block.body, type_ignores=[]), hookspecs.__file__, "exec"), namespace)  # noqa: S102
    for name, function in SPECS:
        hints = typing.get_type_hints(function, globalns=namespace)
        assert set(hints) == {*inspect.signature(function).parameters, "return"}, name


def test_no_documented_hook_is_missing_from_the_specs():
    names = {name for name, _ in SPECS}
    assert set(sections()) <= names
