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


async def encode(data: Any, media_type: str) -> str:
    """YAML or JSON text for ``data``, made in a worker thread: a large bundle takes a while."""
    return await anyio.to_thread.run_sync(to_yaml if media_type == YAML_MEDIA_TYPE else to_json, data)


def to_json(data: Any) -> str:
    return json.dumps(plain(data), ensure_ascii=False, indent=2) + "\n"


TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class ClientYAMLLoader(yaml.SafeLoader):
    """``yaml.safe_load`` made safe for client bodies.

    - **No aliases.** ``*name`` shares one node many times over; a 500 KB body of nested aliases
      becomes gigabytes once it is stored or sent back. Scripts never need them.
    - **No timestamps.** ``2001-13-45`` or ``!!timestamp`` would build dates (or fail inside the
      constructor); scripts have no dates, so such values stay strings.
    - **String keys only.** ``{1: x}``, ``{yes: x}``: every mapping of a script is keyed by text.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted; write the value out",
                                              event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        mapping = super().construct_mapping(node, deep=deep)
        for key in mapping:
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"mapping keys must be text, not {type(key).__name__} {key!r} (quote it)",
                    node.start_mark)
        return mapping


ClientYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ClientYAMLLoader.add_constructor(TIMESTAMP_TAG, yaml.SafeLoader.construct_yaml_str)


def parse_yaml(text: str) -> Any:
    """A client's YAML text as plain data: 400 naming the line for anything that is not valid here."""
    try:
        return yaml.load(text, Loader=ClientYAMLLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise Problem(400, f"The body is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise Problem(400, "The body is not valid YAML: it is nested too deeply.") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor refusing a value (a 5000-digit int)
        raise Problem(400, f"The body is not valid YAML: {str(exc)[:200]}") from None


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
