"""``roleplay_scripter.formats``: YAML and JSON text, the hardened client YAML loader, and bundles."""

from __future__ import annotations

import json

import pytest
import yaml
from roleplay_scripter.formats import (
    BUNDLE_FORMAT,
    bundle,
    bundle_items,
    encode,
    parse_yaml,
    plain,
    script_data,
    to_json,
    to_yaml,
)
from scripter_support import sample

from roleplay_core import Problem, script_from_dict


def test_plain_turns_tuples_into_lists_and_keys_into_text():
    assert plain({1: ("a", ("b",)), "k": [()]}) == {"1": ["a", ["b"]], "k": [[]]}


def test_script_data_is_plain_and_round_trips():
    script = script_from_dict(sample())
    data = script_data(script)
    assert data["tags"] == ["customer-service", "library"]  # a tuple on the type, a list here
    assert script_from_dict(data) == script


def test_yaml_keeps_the_field_order_and_unicode():
    text = to_yaml({"id": "x", "title": "Café", "a": [1]})
    assert text == "id: x\ntitle: Café\na:\n- 1\n"
    assert yaml.safe_load(text) == {"id": "x", "title": "Café", "a": [1]}


def test_json_is_indented_with_a_final_newline_and_unicode():
    assert to_json({"t": "Café", "l": ("a",)}) == '{\n  "t": "Café",\n  "l": [\n    "a"\n  ]\n}\n'


@pytest.mark.anyio
async def test_encode_picks_the_format_by_media_type():
    assert await encode({"a": 1}, "application/yaml") == "a: 1\n"
    assert json.loads(await encode({"a": 1}, "application/json")) == {"a": 1}


def test_client_yaml_parses_plain_documents():
    assert parse_yaml("id: x\ntags: [a, b]\nn: 3\n") == {"id": "x", "tags": ["a", "b"], "n": 3}


@pytest.mark.parametrize(("text", "detail"), [
    ("a: &x [1]\nb: *x\n", "aliases (*name) are not accepted"),
    ("1: one\n", "mapping keys must be text, not int 1"),
    ("a: [1, 2\n", "The body is not valid YAML (line"),
    ("[" * 5000, "The body is not valid YAML"),
])
def test_client_yaml_refuses_what_a_script_never_needs_with_a_400(text, detail):
    with pytest.raises(Problem) as caught:
        parse_yaml(text)
    assert caught.value.status == 400
    assert detail in caught.value.detail


def test_client_yaml_leaves_dates_as_text():
    assert parse_yaml("when: 2001-12-14\nodd: 2001-13-45\n") == {"when": "2001-12-14", "odd": "2001-13-45"}
    assert parse_yaml("when: !!timestamp 2001-12-14\n") == {"when": "2001-12-14"}


def test_bundle_items_accepts_a_bundle_a_list_or_one_script():
    one = sample()
    assert bundle_items(one) == [one]
    assert bundle_items([one, one]) == [one, one]
    assert bundle_items({"format": BUNDLE_FORMAT, "version": 1, "scripts": [one]}) == [one]


@pytest.mark.parametrize(("data", "field"), [
    ({"scripts": [], "surprise": 1}, "$"),
    ({"format": "other", "scripts": []}, "format"),
    ({"version": 2, "scripts": []}, "version"),
    ({"authoring": [], "scripts": []}, "authoring"),
    ({"history": "x", "scripts": []}, "history"),
    ({"scripts": {"a": 1}}, "scripts"),
    ("a script", "$"),
])
def test_bundle_items_names_the_bad_field_with_a_422(data, field):
    with pytest.raises(Problem) as caught:
        bundle_items(data)
    assert caught.value.status == 422
    assert [error["field"] for error in caught.value.to_dict()["errors"]] == [field]


def test_a_bundle_reads_back_as_its_scripts():
    script = script_from_dict(sample())
    made = bundle([script], "2026-01-01T00:00:00+00:00")
    assert made["format"] == BUNDLE_FORMAT and made["version"] == 1 and made["exported_at"].startswith("2026")
    assert [script_from_dict(item) for item in bundle_items(json.loads(to_json(made)))] == [script]
