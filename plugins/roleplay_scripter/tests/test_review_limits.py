"""Issue 13, findings 3, 4 and 11 (YAML): bodies that expand, oversized fields and YAML values that
used to crash the server.

Test home of ``roleplay_core.script_limits``.
"""

from __future__ import annotations

import copy

import yaml
from scripter_support import sample


def _yaml(client, url, headers, text, **extra):
    return client.post(url, content=text.encode("utf-8"), headers={**headers, "content-type": "application/yaml",
                                                                      **extra})


def _fields(response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


def test_yaml_aliases_are_refused_before_they_can_expand(client, scripter):
    text = yaml.safe_dump(sample(), allow_unicode=True, sort_keys=False)
    # one harmless-looking alias: the value written once, used twice
    aliased = text.replace("summary: A reader disputes a late fee.", "summary: &s A reader disputes a late fee.")
    aliased = aliased.replace("setting: The front desk of a city library.", "setting: *s")
    assert aliased != text
    response = _yaml(client, "/scripts", scripter, aliased)
    assert response.status_code == 400, response.text
    assert "aliases" in response.json()["detail"] and "line" in response.json()["detail"]
    # the classic billion laughs, kept small: refused at the first alias, for import as well
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n" for n in range(6))
    response = _yaml(client, "/scripts/import", scripter, bomb)
    assert response.status_code == 400 and "aliases" in response.json()["detail"]
    assert client.get("/scripts/library-late-fee", headers=scripter).status_code == 404


def test_every_script_field_has_a_length_cap_named_in_the_422(client, scripter):
    script = sample()
    script["title"] = "t" * 201
    script["characters"][0]["persona"] = "p" * 50_001
    script["scripted"]["beats"][0]["triggers"] = ["hi"] * 201
    response = client.post("/scripts", json=script, headers=scripter)
    assert response.status_code == 422, response.text
    assert {"title", "characters[0].persona", "scripted.beats[0].triggers"} <= _fields(response)
    # the same caps hold for imports (named inside the bundle) and for YAML bodies
    response = client.post("/scripts/import", json={"scripts": [script]}, headers=scripter)
    assert response.status_code == 422 and "scripts[0].title" in _fields(response)
    response = _yaml(client, "/scripts", scripter, yaml.safe_dump(script, sort_keys=False))
    assert response.status_code == 422 and "characters[0].persona" in _fields(response)
    # at the caps a script is accepted: the limits are not lower than they say
    script = sample()
    script["title"] = "t" * 200
    script["characters"][0]["persona"] = "p" * 50_000
    assert client.post("/scripts", json=script, headers=scripter).status_code == 201


def test_yaml_values_that_used_to_crash_are_answered_4xx(client, scripter):
    base = yaml.safe_dump(sample(), allow_unicode=True, sort_keys=False)
    # an impossible date and an explicit timestamp are text here (scripts have no dates)
    for n, value in enumerate(("2001-13-45", "!!timestamp 2001-01-01", "2001-01-01 10:00:00")):
        text = base.replace("id: library-late-fee\n", f"id: dates-{n}\n", 1).replace(
            "summary: A reader disputes a late fee.", f"summary: {value}")
        response = _yaml(client, "/scripts", scripter, text)
        assert response.status_code == 201, (value, response.text)
        assert response.json()["script"]["summary"] == value.removeprefix("!!timestamp ")
    for text in ("{1: x}", "id: x\nscripted:\n  synonyms:\n    yes: [a]\n", "[" * 5000 + "]" * 5000,
                 "n: " + "9" * 5000, "!!timestamp 2001-13-45"):
        response = _yaml(client, "/scripts", scripter, text)
        assert 400 <= response.status_code < 500, (text[:40], response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def _card(name: str, description: str) -> dict:
    return {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": name, "description": description, "personality": "", "first_mes": ""}}


def test_character_card_macros_cannot_amplify(client, scripter):
    created = client.post("/scripts", json=sample(), headers=scripter)
    etag = created.headers["etag"]
    url = "/scripts/library-late-fee/characters"
    # the review's body: a 100 KB name and 2,000 {{char}} macros
    response = client.post(url, json=_card("N" * 100_000, "{{char}} " * 2000), headers={**scripter, "If-Match": etag})
    assert response.status_code == 422, response.status_code
    assert "data.name" in _fields(response)
    # a name within its cap, but macros that would expand past the persona's cap
    response = client.post(url, json=_card("N" * 200, "{{char}}" * 2000), headers={**scripter, "If-Match": etag})
    assert response.status_code == 422 and "data.description" in _fields(response)
    assert "expands" in response.json()["errors"][0]["message"]
    # a card within the caps is imported, macros expanded
    response = client.post(url, json=_card("Nia", "{{char}} is tired. {{user}} is late."),
                           headers={**scripter, "If-Match": etag})
    assert response.status_code == 201, response.text
    added = client.get("/scripts/library-late-fee", headers=scripter).json()["script"]["characters"][-1]
    assert added["persona"] == "Nia is tired. the learner is late."


def test_a_card_cannot_push_a_script_over_its_total_size(client, scripter):
    script = copy.deepcopy(sample())
    # 19 characters of 50,000 characters each: within every field cap, near the script's total cap
    script["characters"] = [{**script["characters"][0], "id": f"c{n}", "persona": "p" * 50_000} for n in range(19)]
    created = client.post("/scripts", json=script, headers=scripter)
    assert created.status_code == 201, created.text
    card = _card("Extra", "q" * 49_000)
    response = client.post("/scripts/library-late-fee/characters", json=card,
                           headers={**scripter, "If-Match": created.headers["etag"]})
    assert response.status_code == 422, response.text
    assert "$" in _fields(response)


def test_a_backup_s_history_gets_the_same_caps(client, scripter):
    script = sample()
    old = copy.deepcopy(script)
    old["title"] = "t" * 201
    bundle = {"scripts": [script], "history": {script["id"]: [
        {"number": 1, "script": old, "created_at": "2026-01-01T00:00:00+00:00", "created_by": "a", "note": "created"},
    ]}}
    response = client.post("/scripts/import", json=bundle, headers=scripter)
    assert response.status_code == 422, response.text
    assert f"history.{script['id']}[0].script.title" in _fields(response)
    assert client.get(f"/scripts/{script['id']}", headers=scripter).status_code == 404
