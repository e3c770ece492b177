"""POST /scripts/validate and the linter: every finding has a path and a message."""

from __future__ import annotations

import pytest
from roleplay_scripter.lint import lint
from scripter_support import PACK_DIR, sample, scripter_app
from starlette.testclient import TestClient

from roleplay_core.catalog import load_pack_paths
from roleplay_core.testing import auth_headers


def _validate(client, headers, body):
    response = client.post("/scripts/validate", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _codes(result) -> set[tuple[str, str, str]]:
    return {(f["code"], f["path"], f["severity"]) for f in result["findings"]}


def test_a_good_script_is_valid_and_nothing_is_saved(client, scripter):
    result = _validate(client, scripter, sample())
    assert result["valid"] is True
    assert result["findings"] == []
    assert client.get("/scripts/library-late-fee", headers=scripter).status_code == 404


def test_unknown_references(client, scripter):
    broken = sample()
    beats = broken["scripted"]["beats"]
    beats[0]["character_id"] = "nobody"
    beats[1]["requires"] = ["ghost"]
    beats[2]["excludes"] = ["phantom"]
    broken["scripted"]["end_conditions"] = [{"kind": "beat_reached", "beat": "finale"}]
    broken["rubric"]["criteria"][0]["check"]["concepts"] = ["sorry", "no-such-concept"]
    broken["rubric"]["criteria"][1]["check"]["beats"] = ["explain", "missing-beat"]
    result = _validate(client, scripter, broken)
    assert result["valid"] is False
    assert {
        ("unknown_character", "scripted.beats[0].character_id", "error"),
        ("unknown_beat", "scripted.beats[1].requires[0]", "error"),
        ("unknown_beat", "scripted.beats[2].excludes[0]", "error"),
        ("unknown_beat", "scripted.end_conditions[0].beat", "error"),
        ("unknown_concept", "rubric.criteria[0].check.concepts[1]", "error"),
        ("unknown_beat", "rubric.criteria[1].check.beats[1]", "error"),
    } <= _codes(result)
    for finding in result["findings"]:
        assert finding["path"] and finding["message"] and finding["script_id"] == "library-late-fee"


def test_unreachable_beats_and_beats_without_triggers(client, scripter):
    broken = sample()
    broken["scripted"]["beats"] += [
        {"id": "silent", "replies": ["..."]},  # no trigger
        {"id": "loop-a", "triggers": ["alpha"], "requires": ["loop-b"], "replies": ["a"]},
        {"id": "loop-b", "triggers": ["beta"], "requires": ["loop-a"], "replies": ["b"]},
        {"id": "contradiction", "triggers": ["gamma"], "requires": ["explain"], "excludes": ["explain"],
         "replies": ["c"]},
        {"id": "too-happy", "triggers": ["delta"], "min_mood": 5, "replies": ["d"]},
        {"id": "inverted", "triggers": ["epsilon"], "min_mood": 2, "max_mood": -2, "replies": ["e"]},
        {"id": "after-silent", "triggers": ["zeta"], "requires": ["silent"], "replies": ["f"]},
        {"id": "fine-after-explain", "triggers": ["eta"], "requires": ["explain"], "excludes": ["waiver"],
         "replies": ["g"]},
    ]
    result = _validate(client, scripter, broken)
    codes = _codes(result)
    assert ("no_triggers", "scripted.beats[4].triggers", "warning") in codes
    unreachable = {f["path"]: f["message"] for f in result["findings"] if f["code"] == "unreachable_beat"}
    assert set(unreachable) == {f"scripted.beats[{i}]" for i in (5, 6, 7, 8, 9, 10)}
    assert "circle" in unreachable["scripted.beats[5]"]
    assert "exclude" in unreachable["scripted.beats[7]"]
    assert "at least 5" in unreachable["scripted.beats[8]"]
    assert "min_mood 2 is above max_mood -2" in unreachable["scripted.beats[9]"]
    assert "'silent'" in unreachable["scripted.beats[10]"]
    # Warnings alone do not make a script invalid: it can still be published.
    assert result["valid"] is True


def test_rubric_problems(client, scripter):
    broken = sample()
    for criterion in broken["rubric"]["criteria"]:
        criterion["weight"] = 0
    broken["rubric"]["criteria"][1]["check"]["min_count"] = 3
    broken["rubric"]["criteria"][2]["check"]["good_looks_like"] = ""
    broken["rubric"]["criteria"].append(
        {"id": "empty", "title": "Empty check", "check": {"kind": "phrases_avoided"}, "weight": 0})
    result = _validate(client, scripter, broken)
    assert {
        ("zero_weights", "rubric.criteria", "error"),
        ("impossible_check", "rubric.criteria[1].check.min_count", "error"),
        ("missing_good_looks_like", "rubric.criteria[2].check.good_looks_like", "warning"),
        ("empty_check", "rubric.criteria[3].check", "error"),
    } <= _codes(result)
    no_rubric = sample()
    no_rubric["rubric"] = {"criteria": []}
    assert ("no_criteria", "rubric.criteria", "warning") in _codes(_validate(client, scripter, no_rubric))


def test_structural_errors_are_findings_with_field_paths(client, scripter):
    broken = sample()
    broken["characters"][0]["id"] = "Not A Slug"
    del broken["title"]
    result = _validate(client, scripter, broken)
    assert result["valid"] is False
    assert {(f["path"], f["code"]) for f in result["findings"]} == {("title", "invalid"), ("characters[0].id", "invalid")}
    assert all(f["message"] for f in result["findings"])
    wrong_value = _validate(client, scripter, sample(difficulty="impossible"))
    assert [f["path"] for f in wrong_value["findings"]] == ["difficulty"]
    not_an_object = _validate(client, scripter, {"scripts": [42]})
    assert not_an_object["findings"][0]["path"] == "$"


def test_missing_translations_in_a_group(client, scripter):
    english = sample()
    spanish = sample(id="library-late-fee-es", language="es", title="Multa de la biblioteca")
    spanish["scripted"]["beats"] = [b for b in spanish["scripted"]["beats"] if b["id"] != "greet"]
    spanish["rubric"]["criteria"] = spanish["rubric"]["criteria"][:2]
    result = _validate(client, scripter, {"scripts": [english, spanish]})
    es = next(s for s in result["scripts"] if s["id"] == "library-late-fee-es")
    messages = [(f["path"], f["message"]) for f in es["findings"] if f["code"] == "missing_translation"]
    assert ("scripted.beats", "'greet' is in the 'en' translation (library-late-fee) but missing here") in messages
    assert ("rubric.criteria", "'polite' is in the 'en' translation (library-late-fee) but missing here") in messages
    en = next(s for s in result["scripts"] if s["id"] == "library-late-fee")
    assert [f for f in en["findings"] if f["code"] == "missing_translation"] == []

    twin = sample(id="library-late-fee-2")  # a second English script in the same group
    duplicate = _validate(client, scripter, {"scripts": [english, twin]})
    assert ("duplicate_translation", "language", "error") in _codes(duplicate)


def test_required_languages_setting_reports_missing_translations():
    app = scripter_app({"scripter.translations.required_languages": ["en", "es", "zh-Hant", "ja"]})
    with TestClient(app) as client:
        headers = auth_headers(app, "a", ("scripter",))
        result = _validate(client, headers, sample())
        messages = {f["message"] for f in result["findings"] if f["code"] == "missing_translation"}
        assert messages == {"translation group 'library-late-fee' has no 'es' script",
                            "translation group 'library-late-fee' has no 'zh-Hant' script",
                            "translation group 'library-late-fee' has no 'ja' script"}
        # The shipped refund scenario has en, es and zh-Hant, so only ja is missing there.
        pack = client.get("/scripts/refund-angry-customer", headers=headers).json()["script"]
        found = _validate(client, headers, pack)["findings"]
        assert [f["message"] for f in found if f["code"] == "missing_translation"] == [
            "translation group 'refund-angry-customer' has no 'ja' script"]


def test_stored_drafts_count_as_translations(client, scripter):
    client.post("/scripts", json=sample(), headers=scripter)
    spanish = sample(id="library-late-fee-es", language="es")
    spanish["scripted"]["beats"].append({"id": "extra", "triggers": ["adios"], "replies": ["Adiós."]})
    result = _validate(client, scripter, spanish)
    assert result["findings"] == []  # the Spanish one has everything the stored English draft has
    english = _validate(client, scripter, sample())
    assert english["findings"] == []  # the unsaved Spanish script is not part of the group yet


@pytest.mark.parametrize("script_id", sorted(load_pack_paths([PACK_DIR])))
def test_shipped_pack_passes_validation_without_findings(script_id):
    scripts = load_pack_paths([PACK_DIR])
    script = scripts[script_id]
    group = [s for s in scripts.values() if s.translation_group == script.translation_group]
    assert lint(script, translations=group) == []


def test_shipped_pack_passes_validation_over_http(client, scripter):
    listed = client.get("/scripts?source=pack", headers=scripter).json()["items"]
    bodies = [client.get(f"/scripts/{s['id']}", headers=scripter).json()["script"] for s in listed]
    assert len(bodies) >= 5
    result = _validate(client, scripter, {"scripts": bodies})
    assert result["valid"] is True and result["findings"] == []


def test_shipped_pack_meets_the_content_brief():
    scripts = load_pack_paths([PACK_DIR])
    english = [s for s in scripts.values() if s.language == "en"]
    assert len(english) >= 4
    for script in scripts.values():
        assert len(script.scripted.beats) >= 10, script.id
        assert len(script.rubric.criteria) >= 4, script.id
        kinds = {c.check.kind for c in script.rubric.criteria}
        assert {"beat_reached", "open_questions", "model"} <= kinds, script.id
        assert kinds & {"phrases_used", "phrases_avoided"}, script.id
        assert all(c.check.good_looks_like for c in script.rubric.criteria if c.check.kind == "model")
        character = script.characters[0]
        assert character.persona and character.traits and character.speaking_style and character.voice
        assert character.opening_line and character.speaks_first
        assert script.scripted.fallbacks and script.scripted.end_conditions and script.scripted.synonyms
        assert any(b.requires for b in script.scripted.beats) and any(b.mood_effect for b in script.scripted.beats)
        assert any(b.min_mood is not None or b.max_mood is not None for b in script.scripted.beats), script.id
        assert sum(len(b.replies) > 1 for b in script.scripted.beats) >= 3, script.id
    groups = {}
    for script in scripts.values():
        groups.setdefault(script.translation_group, set()).add(script.language)
    assert any(len(languages) >= 2 for languages in groups.values())


def test_a_string_where_a_list_belongs_is_an_error_not_a_list_of_letters(client, scripter):
    broken = sample(tags="retail")
    broken["scripted"]["beats"][0]["triggers"] = "hello"
    broken["scripted"]["synonyms"]["sorry"] = "apologise"
    broken["rubric"]["criteria"][1]["check"]["beats"] = "explain"
    result = _validate(client, scripter, broken)
    assert {f["path"] for f in result["findings"]} == {
        "tags", "scripted.beats[0].triggers", "scripted.synonyms.sorry", "rubric.criteria[1].check.beats"}
    assert all(f["message"] == "expected a list, not a single string" for f in result["findings"])
    saved = client.post("/scripts", json=broken, headers=scripter)
    assert saved.status_code == 422 and {e["field"] for e in saved.json()["errors"]} >= {"tags"}


def test_lint_for_a_fair_judge_and_a_listening_character(client, scripter):
    script = sample()
    beats = script["scripted"]["beats"]
    beats[2]["triggers"] = ["what can I do for you", "the book was due"]  # the first reduces to "what"
    del beats[2]["label"]
    for beat in beats:
        beat.pop("nudge", None)
    script["scripted"]["fallbacks"] = [{"replies": ["Sorry, what?", "And?"]}]
    script["rubric"]["criteria"][2]["mechanical"] = True  # a model check cannot be mechanical
    script["rubric"]["criteria"][0]["check"]["concepts"] = ["sorry", "apology"]  # a built-in concept is known
    script["rubric"]["criteria"][1]["offline_check"] = {"kind": "open_questions"}  # not a model check: ignored
    script["rubric"]["criteria"][2]["check"]["undone_by"] = [{"says": ["no_date"]}]  # only beat_reached reads it
    script["rubric"]["criteria"][2]["required"] = True  # a model check with no offline stand-in gates nothing offline
    script["rubric"]["criteria"][0]["check"]["undone_by"] = [{"says": ["no_date"], "after": ["nowhere"]}]
    script["scripted"]["end_conditions"] = [{"kind": "turns", "value": 9, "warning_line": "Hurry up."}]
    result = _validate(client, scripter, script)
    codes = _codes(result)
    assert {
        ("function_word_trigger", "scripted.beats[2].triggers[0]", "warning"),
        ("missing_label", "scripted.beats[2].label", "warning"),
        ("few_fallbacks", "scripted.fallbacks[0].replies", "warning"),
        ("no_nudges", "scripted.beats", "warning"),
        ("mechanical_model_check", "rubric.criteria[2].mechanical", "error"),
        ("ignored_field", "rubric.criteria[1].offline_check", "warning"),
        ("ignored_field", "rubric.criteria[2].check.undone_by", "warning"),
        ("required_unscored_offline", "rubric.criteria[2].required", "warning"),
        ("unknown_beat", "rubric.criteria[0].check.undone_by[0].after[0]", "error"),
        ("ignored_field", "scripted.end_conditions[0].warning_line", "warning"),  # said only for mood_at_most
    } <= codes
    assert not any(code == "unknown_concept" for code, _, _ in codes)
    assert result["valid"] is False


def test_every_shipped_script_lints_clean():
    for script in load_pack_paths([PACK_DIR]).values():
        findings = [f for f in lint(script) if f.severity == "error" or f.code in (
            "function_word_trigger", "few_fallbacks", "no_nudges", "missing_label")]
        assert findings == [], (script.id, findings)


def test_an_offline_check_stands_in_for_a_model_check_and_must_be_a_rule(client, scripter):
    script = sample()
    script["rubric"]["criteria"][2]["offline_check"] = {"kind": "beat_reached", "beats": ["explain", "ghost"]}
    codes = _codes(_validate(client, scripter, script))
    assert ("unknown_beat", "rubric.criteria[2].offline_check.beats[1]", "error") in codes
    script["rubric"]["criteria"][2]["offline_check"] = {"kind": "model"}
    codes = _codes(_validate(client, scripter, script))
    assert ("invalid_offline_check", "rubric.criteria[2].offline_check.kind", "error") in codes


def test_validate_answers_the_script_as_read_so_a_form_can_follow_yaml(client, scripter):
    """The web console edits YAML text and shows the same script in a form: the server reads the YAML."""
    text = "id: yaml-form\ntitle: From YAML\ncharacters:\n  - {id: kim, name: Kim}\n"
    response = client.post("/scripts/validate", content=text, headers={**scripter, "Content-Type": "application/yaml"})
    assert response.status_code == 200, response.text
    read = response.json()["scripts"][0]["script"]
    assert read["title"] == "From YAML" and read["characters"][0]["name"] == "Kim"
    assert read["difficulty"] == "intermediate"  # defaults filled in, as a save would store it
    broken = _validate(client, scripter, {"id": "broken", "title": ""})
    assert broken["scripts"][0]["script"] is None and broken["valid"] is False


def test_translations_of_a_script_and_what_each_lacks():
    app = scripter_app({"scripter.translations.required_languages": ["en", "es", "ja"]})
    with TestClient(app) as client:
        headers = auth_headers(app, "a", ("scripter",))
        assert client.post("/scripts", json=sample(), headers=headers).status_code == 201
        spanish = sample(id="library-late-fee-es", language="es", title="Multa de la biblioteca")
        spanish["scripted"]["beats"] = [b for b in spanish["scripted"]["beats"] if b["id"] != "greet"]
        assert client.post("/scripts", json=spanish, headers=headers).status_code == 201
        response = client.get("/scripts/library-late-fee/translations", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["translation_group"] == "library-late-fee" and body["missing_languages"] == ["ja"]
        members = {m["id"]: m for m in body["members"]}
        assert [m["language"] for m in body["members"]] == ["en", "es"]
        assert members["library-late-fee-es"]["status"] == "draft"
        es_lacks = {(f["path"], f["message"]) for f in members["library-late-fee-es"]["findings"]}
        assert ("scripted.beats", "'greet' is in the 'en' translation (library-late-fee) but missing here") in es_lacks
        assert not [f for f in members["library-late-fee"]["findings"] if f["path"] == "scripted.beats"]
        # A shipped group: three languages, each with everything.
        pack = client.get("/scripts/refund-angry-customer-es/translations", headers=headers).json()
        assert {m["language"] for m in pack["members"]} == {"en", "es", "zh-Hant"}
        assert {m["source"] for m in pack["members"]} == {"pack"} and pack["missing_languages"] == ["ja"]
        alone = client.get("/scripts/patient-history-chest-pain/translations", headers=headers).json()
        assert [m["id"] for m in alone["members"]] == ["patient-history-chest-pain"]
        assert client.get("/scripts/nope/translations", headers=headers).status_code == 404
        learner = auth_headers(app, "l", ("user",))
        assert client.get("/scripts/library-late-fee/translations", headers=learner).status_code == 403
