"""Script types, script packs and the published catalog.

Test home of ``roleplay_core.script``.
"""

import json

import pytest
from starlette.testclient import TestClient

from roleplay_core import Problem, create_app, hookimpl, script_from_dict, script_to_dict
from roleplay_core.catalog import PackError, load_pack_paths
from roleplay_core.testing import make_kernel

SCRIPT = {
    "id": "tiny",
    "title": "A tiny scene",
    "language": "en",
    "characters": [{"id": "sam", "name": "Sam", "opening_line": "Hi.", "speaks_first": True}],
    "scripted": {
        "synonyms": {"refund": ["money back"]},
        "beats": [{"id": "greet", "triggers": ["hello"], "replies": ["Hello to you."], "mood_effect": 1}],
        "end_conditions": [{"kind": "turns", "value": 10, "reason": "time is up"}],
    },
    "rubric": {"criteria": [{"id": "greets", "title": "Greets", "check": {"kind": "beat_reached", "beats": ["greet"]}}]},
}


def test_script_round_trips_through_plain_data():
    script = script_from_dict(SCRIPT)
    assert script.character().name == "Sam"
    assert script.scripted.synonyms["refund"] == ("money back",)
    again = script_from_dict(json.loads(json.dumps(script_to_dict(script))))
    assert again == script


@pytest.mark.parametrize("field", ["past", "open"])
def test_a_beat_writes_an_optional_flag_only_when_it_is_set(field):
    # Servers of the previous version share the storage during a rolling upgrade and reject unknown
    # fields: a script that does not use `past` or `open` must not carry it.
    plain = script_to_dict(script_from_dict(SCRIPT))
    assert field not in plain["scripted"]["beats"][0]
    beat = {**SCRIPT["scripted"]["beats"][0], field: True}
    script = script_from_dict(dict(SCRIPT, scripted=dict(SCRIPT["scripted"], beats=[beat])))
    written = script_to_dict(script)
    assert written["scripted"]["beats"][0][field] is True
    assert script_from_dict(json.loads(json.dumps(written))) == script


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "Not A Slug"}, "id"),
        ({"language": "english!"}, "language"),
        ({"characters": []}, "characters"),
        ({"difficulty": "impossible"}, "difficulty"),
        ({"title": "  "}, "title"),
        ({"characters": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}, "characters"),
        ({"rubric": {"criteria": [{"id": "c", "title": "C", "weight": -1, "check": {"kind": "open_questions"}}]}},
         "rubric.criteria[0].weight"),
        ({"rubric": {"criteria": [{"id": "c", "title": "C", "check": {"kind": "vibes"}}]}},
         "rubric.criteria[0].check.kind"),
        ({"unknown": 1}, "$"),
        ({"rubric": {"criteria": [{"id": "c", "title": "C", "check": {
            "kind": "beat_reached", "beats": ["b"], "undone_by": [{"says": []}]}}]}},
         "rubric.criteria[0].check.undone_by[0].says"),
        ({"rubric": {"criteria": [{"id": "c", "title": "C", "check": {
            "kind": "beat_reached", "beats": ["b"], "undone_by": [{"until": ["x"]}]}}]}},
         "rubric.criteria[0].check.undone_by[0].says"),
        ({"rubric": {"criteria": [{"id": "c", "title": "C", "check": {
            "kind": "beat_reached", "beats": ["b"], "undone_by": [{"says": ["x"]}] * 21}}]}},
         "rubric.criteria[0].check.undone_by"),
        ({"rubric": {"criteria": [{"id": "c", "title": "C", "required": "yes", "check": {
            "kind": "beat_reached", "beats": ["b"]}}]}},
         "rubric.criteria[0].required"),
    ],
)
def test_invalid_scripts_name_the_field(change, field):
    with pytest.raises(Problem) as info:
        script_from_dict({**SCRIPT, **change})
    assert info.value.status == 422
    assert field in [e.field for e in info.value.errors]


def test_pack_loading_from_yaml_json_and_bundles(tmp_path):
    import yaml

    (tmp_path / "one.yaml").write_text(yaml.safe_dump(SCRIPT))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bundle.json").write_text(json.dumps({"scripts": [{**SCRIPT, "id": "tiny-2"}]}))
    (tmp_path / "README.txt").write_text("ignored")
    scripts = load_pack_paths([tmp_path])
    assert sorted(scripts) == ["tiny", "tiny-2"]


def test_pack_errors_name_file_and_field(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({**SCRIPT, "difficulty": "x"}))
    with pytest.raises(PackError, match=r"bad.json.*difficulty"):
        load_pack_paths([tmp_path])
    (tmp_path / "bad.json").write_text(json.dumps(SCRIPT))
    (tmp_path / "dup.json").write_text(json.dumps(SCRIPT))
    with pytest.raises(PackError, match="twice"):
        load_pack_paths([tmp_path])


def test_catalog_serves_packs_and_published_versions_override(tmp_path):
    (tmp_path / "tiny.json").write_text(json.dumps(SCRIPT))

    class Pack:
        name = "pack"

        @hookimpl
        def register_script_packs(self):
            return [tmp_path]

    app = create_app(make_kernel(plugins=[Pack()], load_entry_points=False))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        kernel = app.state.kernel
        catalog = kernel.catalog
        portal = client.portal  # run coroutines on the app's loop

        shipped = portal.call(catalog.get, "tiny")
        assert shipped.source == "pack" and shipped.script.title == "A tiny scene"
        edited = script_from_dict({**SCRIPT, "title": "A tiny scene, revised"})
        portal.call(catalog.publish, edited, "2")
        published = portal.call(catalog.get, "tiny")
        assert published.source == "storage" and published.version == "2"
        assert published.script.title == "A tiny scene, revised"
        assert [p.script.id for p in portal.call(catalog.list)] == ["tiny"]
        assert portal.call(lambda: catalog.list(language="es")) == []
        portal.call(catalog.withdraw, "tiny")
        assert portal.call(catalog.get, "tiny").source == "pack"


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        ("en", "en", True), ("en", "EN", True), ("es", "es-MX", True), ("es-MX", "es", True),
        ("zh-Hant", "zh", True), ("zh-Hant", "zh-TW", True), ("zh-Hant", "zh-hk", True),
        ("zh-Hant", "zh-CN", False), ("zh-Hans", "zh-CN", True), ("en", "es", False), ("en", "eng", False),
    ],
)
def test_language_matching(have, want, expected):
    from roleplay_core.catalog import language_matches

    assert language_matches(have, want) is expected


def test_a_stored_script_with_fields_from_a_newer_version_is_read_without_them(caplog):
    # A newer server on the same storage (a rolling upgrade) may write fields this one does not know:
    # read back from storage they are left out and logged once; sent by an author they are refused.
    from roleplay_core import stored_script_from_dict
    from roleplay_core.catalog import PREFIX

    newer = json.loads(json.dumps(SCRIPT))
    newer["rubric"]["criteria"][0]["weighs_double"] = True
    newer["rubric"]["criteria"][0]["check"]["undone_by"] = [{"says": ["x"], "unless_asked": True}]
    newer["scripted"]["beats"][0]["voice_style"] = "warm"
    newer["future_section"] = {"a": 1}
    with pytest.raises(Problem) as refused:
        script_from_dict(newer)
    assert refused.value.status == 422
    expected = json.loads(json.dumps(SCRIPT))
    expected["rubric"]["criteria"][0]["check"]["undone_by"] = [{"says": ["x"]}]
    assert stored_script_from_dict(newer) == script_from_dict(expected)
    assert stored_script_from_dict(SCRIPT) == script_from_dict(SCRIPT)
    with pytest.raises(Problem):  # a known field with a bad value is still an error
        stored_script_from_dict({**SCRIPT, "language": 7})

    app = create_app(make_kernel(load_entry_points=False))
    with TestClient(app) as client, caplog.at_level("WARNING", logger="roleplay.script"):
        storage = app.state.kernel.storage
        body = json.dumps({"script": {**newer, "id": "tiny-next"}, "version": "9"}).encode()
        client.portal.call(storage.put, PREFIX + "tiny-next", body)
        published = client.portal.call(app.state.kernel.catalog.get, "tiny-next")
        assert published.version == "9" and published.script.title == "A tiny scene"
        assert "weighs_double" not in json.dumps(script_to_dict(published.script))
        client.portal.call(app.state.kernel.catalog.get, "tiny-next")
    logged = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert len(logged) == 1 and "rubric.criteria.weighs_double" in logged[0] and "future_section" in logged[0]
