"""Scripts as YAML and JSON: request bodies, single-script files and bundles.

A bundle is ``{"format": "roleplay-scripts", "version": 1, "scripts": [...]}``;
a bare list of scripts or a single script object is accepted too, so a file
exported for one script imports as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import yaml
from starlette.requests import Request

from roleplay_core import FieldError, Problem, Script, read_json, script_to_dict, validation_problem

BUNDLE_FORMAT = "roleplay-scripts"
BUNDLE_VERSION = 1
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
YAML_MEDIA_TYPE = "application/yaml"


def plain(value: Any) -> Any:
    """Tuples to lists, recursively: YAML's safe dumper only knows lists, dicts and scalars."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def script_data(script: Script) -> dict[str, Any]:
    """The script as plain, JSON- and YAML-ready data."""
    return plain(script_to_dict(script))


def to_yaml(data: Any) -> str:
    # sort_keys=False keeps the field order of the types: id and title first, rubric last.
    return yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def to_json(data: Any) -> str:
    return json.dumps(plain(data), ensure_ascii=False, indent=2) + "\n"


def parse_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise Problem(400, f"The body is not valid YAML{where}: {problem}") from None


async def read_body(request: Request) -> Any:
    """A JSON or YAML body, by ``Content-Type``; 415 for anything else."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in YAML_TYPES:
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Problem(400, "The YAML body is not UTF-8.") from None
        # Large bundles take a while to parse; keep the event loop free.
        return await anyio.to_thread.run_sync(parse_yaml, text)
    if content_type == "application/json" or content_type.endswith("+json"):
        return await read_json(request)
    raise Problem(415, f"Send the body as application/json or {YAML_MEDIA_TYPE}.")


def bundle_items(data: Any) -> list[Any]:
    """The script items of a bundle, a list, or a single script; 422 for anything else."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        if "scripts" not in data:
            return [data]  # one script
        unknown = sorted(set(data) - {"format", "version", "exported_at", "scripts", "authoring",
                                     "history"})
        if unknown:
            raise validation_problem([FieldError("$", "unknown field(s): " + ", ".join(unknown))])
        if data.get("format", BUNDLE_FORMAT) != BUNDLE_FORMAT:
            raise validation_problem([FieldError("format", f"must be {BUNDLE_FORMAT!r}")])
        if data.get("version", BUNDLE_VERSION) != BUNDLE_VERSION:
            raise validation_problem([FieldError("version", f"this server reads bundle version {BUNDLE_VERSION}")])
        if not isinstance(data.get("authoring", {}), Mapping):
            raise validation_problem([FieldError("authoring", "expected an object: {script id: {status: ...}}")])
        if not isinstance(data.get("history", {}), Mapping):
            raise validation_problem([FieldError("history", "expected an object: {script id: [versions...]}")])
        if not isinstance(data["scripts"], list):
            raise validation_problem([FieldError("scripts", "expected a list of scripts")])
        return list(data["scripts"])
    raise validation_problem([FieldError("$", "expected a script, a list of scripts or {scripts: [...]}")])


def bundle(scripts: list[Script], exported_at: str) -> dict[str, Any]:
    return {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "exported_at": exported_at,
            "scripts": [script_data(s) for s in scripts]}
