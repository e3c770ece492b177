"""Characters as Character Card V2 over HTTP: export, import, and round trips that lose nothing."""

from __future__ import annotations

import copy

import pytest
from roleplay_scripter import cards
from scripter_support import sample

from roleplay_core import script_from_dict

CARD_FIELDS = {"name", "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
               "system_prompt", "post_history_instructions", "alternate_greetings", "tags", "creator",
               "character_version", "extensions"}


def _card(client, headers, script_id, character_id):
    response = client.get(f"/scripts/{script_id}/characters/{character_id}/card", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _import(client, headers, script_id, card, etag, replace=False):
    url = f"/scripts/{script_id}/characters" + ("?replace=true" if replace else "")
    return client.post(url, json=card, headers={**headers, "If-Match": etag})


def test_exported_card_follows_the_v2_spec(client, scripter):
    card = _card(client, scripter, "refund-angry-customer", "dana")
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    data = card["data"]
    assert set(data) == CARD_FIELDS
    assert data["name"] == "Dana Whitfield"
    assert data["description"].startswith("You are Dana Whitfield")
    assert data["personality"] == "impatient, direct, fair once listened to, sarcastic when ignored"
    assert data["first_mes"].startswith("Finally.")
    assert "{{user}} is: Customer service agent" in data["scenario"]
    assert data["mes_example"].startswith("<START>\n{{user}}: ")
    assert "{{char}}: " in data["mes_example"]
    assert data["tags"] == ["customer-service", "de-escalation", "retail", "complaints"]
    assert data["extensions"]["roleplay"]["character"]["voice"] == "Kore"
    assert data["extensions"]["roleplay"]["script_id"] == "refund-angry-customer"
    assert data["character_version"] == "pack"
    missing = client.get("/scripts/refund-angry-customer/characters/nobody/card", headers=scripter)
    assert missing.status_code == 404


@pytest.mark.parametrize("script_id", ["refund-angry-customer", "patient-history-chest-pain",
                                       "behavioural-job-interview", "difficult-feedback-employee"])
def test_character_round_trip_through_a_card_loses_nothing(client, scripter, script_id):
    """Character -> card -> import into another script -> same character -> same card."""
    original = client.get(f"/scripts/{script_id}", headers=scripter).json()["script"]
    character = original["characters"][0]
    card = _card(client, scripter, script_id, character["id"])
    target = sample(id=f"{script_id}-target", translation_group=None, tags=original["tags"],
                    setting=original["setting"], learner_role=original["learner_role"])
    created = client.post("/scripts", json=target, headers=scripter)
    response = _import(client, scripter, target["id"], card, created.headers["etag"])
    assert response.status_code == 201, response.text
    assert response.json()["character_id"] == character["id"]
    assert response.headers["etag"] == '"v2"'
    stored = client.get(f"/scripts/{target['id']}", headers=scripter).json()["script"]["characters"]
    assert stored[1] == character
    again = _card(client, scripter, target["id"], character["id"])
    # Only what belongs to the script, not to the character, may differ.
    for key in ("mes_example", "character_version"):
        again["data"].pop(key), card["data"].pop(key)
    again["data"]["extensions"]["roleplay"].pop("script_id")
    card["data"]["extensions"]["roleplay"].pop("script_id")
    assert again == card


def test_card_from_another_tool_is_mapped_field_by_field(client, scripter):
    foreign = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Captain Mara Vell",
            "description": "{{char}} is a starship captain who distrusts {{user}}.",
            "personality": "stern; loyal, dry humour",
            "scenario": "The bridge of the Aurora.",
            "first_mes": "State your business, {{user}}.",
            "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Hm.",
            "creator_notes": "A tough negotiation partner.",
            "system_prompt": "Stay in character as {{char}}.",
            "post_history_instructions": "Answer in two sentences at most.",
            "alternate_greetings": ["What now?"],
            "tags": ["sci-fi"],
            "creator": "someone",
            "character_version": "1.4",
            "extensions": {"other_tool": {"x": 1}},
        },
    }
    created = client.post("/scripts", json=sample(), headers=scripter)
    response = _import(client, scripter, "library-late-fee", foreign, created.headers["etag"])
    assert response.status_code == 201, response.text
    character = response.json()["script"]["characters"][1]
    assert character == {
        "id": "captain-mara-vell",
        "name": "Captain Mara Vell",
        "persona": "Stay in character as Captain Mara Vell.\n\nCaptain Mara Vell is a starship captain who "
                   "distrusts the learner.",
        "traits": ["stern", "loyal", "dry humour"],
        "speaking_style": "Answer in two sentences at most.",
        "voice": "",
        "opening_line": "State your business, the learner.",
        "speaks_first": True,
        "description": "A tough negotiation partner.",
    }


def test_fields_edited_in_another_tool_win_over_the_stored_copy(client, scripter):
    card = _card(client, scripter, "refund-angry-customer", "dana")
    card["data"]["first_mes"] = "Hi. I'd like a refund, please."
    card["data"]["personality"] = "calm, polite"
    character = cards.from_card(card)
    assert character.opening_line == "Hi. I'd like a refund, please."
    assert character.traits == ("calm", "polite")
    assert character.voice == "Kore" and character.id == "dana"  # kept from the extension


def test_import_card_rules(client, scripter):
    created = client.post("/scripts", json=sample(), headers=scripter)
    sam = _card(client, scripter, "library-late-fee", "sam")
    assert client.post("/scripts/library-late-fee/characters", json=sam, headers=scripter).status_code == 428
    exists = _import(client, scripter, "library-late-fee", sam, created.headers["etag"])
    assert exists.status_code == 409 and "replace=true" in exists.json()["detail"]
    changed = copy.deepcopy(sam)
    changed["data"]["name"] = "Samantha Ortiz"
    replaced = _import(client, scripter, "library-late-fee", changed, '"v1"', replace=True)
    assert replaced.status_code == 200
    assert [c["name"] for c in replaced.json()["script"]["characters"]] == ["Samantha Ortiz"]
    stale = _import(client, scripter, "library-late-fee", changed, '"v1"', replace=True)
    assert stale.status_code == 412
    not_a_card = _import(client, scripter, "library-late-fee", {"spec": "chara_card_v1", "data": {}}, '"v2"')
    assert not_a_card.status_code == 422 and not_a_card.json()["errors"][0]["field"] == "spec"
    nameless = _import(client, scripter, "library-late-fee", {"spec": "chara_card_v2", "data": {"name": 7}}, '"v2"')
    assert nameless.status_code == 422 and nameless.json()["errors"][0]["field"] == "data.name"
    bad_ext = copy.deepcopy(sam)
    bad_ext["data"]["extensions"]["roleplay"]["character"]["id"] = "Bad Id"
    assert _import(client, scripter, "library-late-fee", bad_ext, '"v2"').status_code == 422
    pack = _import(client, scripter, "refund-angry-customer", sam, '"v1"')
    assert pack.status_code == 409


def test_round_trip_in_memory_for_every_shipped_character():
    from scripter_support import PACK_DIR

    from roleplay_core.catalog import load_pack_paths

    for script in load_pack_paths([PACK_DIR]).values():
        for character in script.characters:
            card = cards.to_card(script, character, version="1")
            assert cards.from_card(card) == character
            assert cards.to_card(script, cards.from_card(card), version="1") == card
    assert script_from_dict(sample()).characters[0] == cards.from_card(
        cards.to_card(script_from_dict(sample()), script_from_dict(sample()).characters[0]))
