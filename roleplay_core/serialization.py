"""cattrs (un)structuring shared by the kernel and plugins, and request-body parsing."""

from __future__ import annotations

import datetime as dt
import json
import keyword
import math
import re
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, is_sequence, list_structure_factory
from cattrs.gen import make_dict_structure_fn, override
from cattrs.v import transform_error
from starlette.requests import Request
from starlette.responses import JSONResponse

from .errors import FieldError, Problem, validation_problem

T = TypeVar("T")


def make_converter() -> cattrs.Converter:
    """A converter that is strict at the edge: unknown keys and wrong scalar types are errors."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True, omit_if_default=False)

    def strict(kind: type, name: str):
        def structure(value: Any, _: type) -> Any:
            # bool is an int subclass; "1" is not a number. Reject both rather than coerce.
            if isinstance(value, bool) and kind is not bool:
                raise ValueError(f"expected {name}")
            if kind is float and isinstance(value, int):
                return float(value)
            if not isinstance(value, kind):
                raise ValueError(f"expected {name}")
            if kind is float and not math.isfinite(value):  # TOML has inf and nan; JSON bodies never get here
                raise ValueError("expected a finite number")
            return value

        return structure

    converter.register_structure_hook(str, strict(str, "a string"))
    converter.register_structure_hook(int, strict(int, "an integer"))
    converter.register_structure_hook(float, strict(float, "a number"))
    converter.register_structure_hook(bool, strict(bool, "true or false"))
    def no_strings_as_sequences(kind: Any) -> Any:
        # cattrs would iterate a string into a tuple of characters ("retail" -> ('r', 'e', ...)).
        # A JSON array is the only thing that becomes a sequence.
        if is_sequence(kind) and get_origin(kind) is tuple and get_args(kind)[-1:] == (Ellipsis,):
            inner = homogenous_tuple_structure_factory(kind, converter)
        elif is_sequence(kind):
            inner = list_structure_factory(kind, converter)
        else:  # sets
            inner = converter.get_structure_hook(kind)

        def structure(value: Any, target: Any) -> Any:
            if not isinstance(value, (list, tuple)):
                raise ValueError("expected a list")
            return inner(value, target)

        return structure

    converter.register_structure_hook_factory(
        lambda kind: is_sequence(kind) and not _is_hetero_tuple(kind), no_strings_as_sequences
    )
    def keyword_keys(cls: type) -> Any:
        # PEP 8 names a field after a keyword with a trailing underscore: ``import_`` reads the key ``import``.
        renames = {a.name: override(rename=a.name[:-1]) for a in attrs.fields(cls) if _keyword_field(a.name)}
        return make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True,
                                      _cattrs_detailed_validation=True, **renames)

    converter.register_structure_hook_factory(
        lambda kind: attrs.has(kind) and any(_keyword_field(a.name) for a in attrs.fields(kind)), keyword_keys
    )
    converter.register_structure_hook(dt.datetime, lambda v, _: dt.datetime.fromisoformat(v))
    converter.register_unstructure_hook(dt.datetime, lambda v: v.isoformat())
    return converter


def _keyword_field(name: str) -> bool:
    return name.endswith("_") and keyword.iskeyword(name[:-1])


def _is_hetero_tuple(kind: Any) -> bool:
    args = get_args(kind)
    return get_origin(kind) is tuple and bool(args) and args[-1] is not Ellipsis


converter = make_converter()

_PATH = re.compile(r"^(?P<message>.*) @ \$(?P<path>.*)$")
_NAMED = re.compile(r"^'(?P<name>\w+)' (?P<rest>.*)$")


def field_errors(exc: BaseException) -> list[FieldError]:
    """Turn a cattrs validation error into field paths like ``characters[0].name``."""

    def fmt(error: BaseException, kind: type | None) -> str:
        if isinstance(error, KeyError):
            return "required field missing"
        if isinstance(error, cattrs.ForbiddenExtraKeysError):
            return "unknown field(s): " + ", ".join(sorted(error.extra_fields))
        if isinstance(error, (ValueError, TypeError)) and str(error):
            return str(error)
        return "invalid value"

    if not isinstance(exc, cattrs.BaseValidationError):
        return [FieldError("$", str(exc) or "invalid value")]
    found = []
    for line in transform_error(exc, format_exception=fmt):
        match = _PATH.match(line)
        message, path = (match["message"], match["path"]) if match else (line, "")
        named = _NAMED.match(message)
        if named:  # attrs validators say "'name' must be ...": move the name into the path
            path = f"{path}.{named['name']}"
            message = f"must {named['rest'][5:]}" if named["rest"].startswith("must ") else named["rest"]
        path = re.sub(r"\b(\w+)_\b", lambda m: m[1] if keyword.iskeyword(m[1]) else m[0], path)
        found.append(FieldError(path.lstrip(".") or "$", message))
    return found


def validator_errors(value: Any, path: str = "") -> list[FieldError]:
    """Every attrs validator of ``value`` (and of the attrs objects it holds) that refuses its field.

    attrs stops at the first validator that raises as it builds an object; settings are checked
    with validators off (``attrs.validators.disabled()``) and then with this, so every problem is
    reported at once.
    """
    found: list[FieldError] = []
    for field in attrs.fields(type(value)):
        item = getattr(value, field.name)
        key = field.name[:-1] if _keyword_field(field.name) else field.name
        where = f"{path}.{key}".lstrip(".")
        if field.validator is not None:
            try:
                field.validator(value, field, item)
            except (ValueError, TypeError) as exc:
                message = str(exc) or "invalid value"
                named = _NAMED.match(message)
                if named:
                    message = f"must {named['rest'][5:]}" if named["rest"].startswith("must ") else named["rest"]
                found.append(FieldError(where, message))
        children = item.items() if isinstance(item, dict) else [("", item)]
        for name, child in children:
            if attrs.has(type(child)):
                found.extend(validator_errors(child, f"{where}.{name}".rstrip(".")))
    return found


def structure(data: Any, cls: type[T]) -> T:
    """Structure plain data into ``cls`` or raise a 422 :class:`Problem` naming the fields."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise validation_problem(field_errors(exc)) from None


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def loads_json(text: str | bytes) -> Any:
    """JSON from a client, hardened: ``ValueError`` with a short reason for anything unusable.

    Refuses, besides malformed JSON: ``NaN``/``Infinity`` and numbers too large for a float
    (``1e999``) or an int (over Python's 4,300 digits), nesting too deep for the parser, and
    lone surrogates (``"\\ud800"``): valid JSON escapes but not text, so they would fail later
    in storage or a response encoder. The one parser for request bodies and WebSocket frames.
    """
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise ValueError("not valid JSON: it is nested too deeply") from None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid JSON text: it contains an unpaired surrogate (\\ud800-\\udfff)") from None
    except RecursionError:  # cannot happen after loads succeeded, but never a crash
        raise ValueError("not valid JSON: it is nested too deeply") from None
    return data


async def read_json(request: Request) -> Any:
    """The request body as JSON (:func:`loads_json`): 415 for another content type, 400 for unusable JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Problem(415, "Send the body as application/json.")
    try:
        return loads_json(await request.body())
    except ValueError as exc:
        raise Problem(400, f"The body is {exc}.") from None


def query_int(request: Request, name: str, default: T, *, minimum: int | None = None,
              maximum: int | None = None) -> int | T:
    """The integer query parameter ``name`` (``default`` when absent or empty); 422 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_problem([FieldError(name, "expected an integer")]) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            bounds = f"at least {minimum}"
        elif minimum is None:
            bounds = f"at most {maximum}"
        else:
            bounds = f"between {minimum} and {maximum}"
        raise validation_problem([FieldError(name, f"must be {bounds}")])
    return value


async def parse_body(request: Request, cls: type[T]) -> T:
    """Read a JSON object body and structure it into the attrs class ``cls``."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise validation_problem([FieldError("$", "expected a JSON object")])
    return structure(data, cls)


def _default(value: Any) -> Any:
    """What the encoder calls for a value JSON has no form for: the shared converter's form, else ``str``.

    Only attrs instances, datetimes and the like reach it: dicts, lists, strings and numbers,
    which make up most of a response, are encoded without a Python call per value.
    """
    unstructured = converter.unstructure(value)
    if isinstance(unstructured, (set, frozenset)):  # a JSON array, in a stable order
        return sorted(unstructured, key=str)
    if type(unstructured) is type(value):  # no hook changed it: its text form
        return str(value)
    return unstructured


# One encoder for every response: json.dumps with these options would build a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)


def _c_dumps() -> Any:
    """``_ENCODER.encode`` without its Python-level calls and its per-call encoder, if this
    Python has the C encoder and it answers the same.

    It keeps no circular-reference markers: a cycle ends in ``RecursionError`` instead of
    ``ValueError`` (responses are built from records and never hold one). Without markers
    the one encoder holds no per-call state and is safe to share.
    """
    try:
        from json.encoder import c_make_encoder, encode_basestring

        encode = c_make_encoder(None, _default, encode_basestring, None, ":", ",", False, False, True)

        def dumps(value: Any) -> str:
            return "".join(encode(value, 0))

        sample = {"é": [1, 2.5, None, True, "\"\n", (3,)], "n": float("nan"), "d": dt.date(2026, 1, 1)}
        if dumps(sample) != _ENCODER.encode(sample):
            return None
        return dumps
    except Exception:
        return None


_dumps = _c_dumps() or _ENCODER.encode


class JSON(JSONResponse):
    """A JSON response that unstructures attrs instances with the shared converter."""

    def render(self, content: Any) -> bytes:
        return _dumps(content).encode("utf-8")
