"""Import and export over HTTP: YAML and JSON round trips lose nothing; imports are all or nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml
from roleplay_scripter import importing
from roleplay_scripter.store import Loaded, ScriptStore
from scripter_support import needs_chat, sample
from starlette.testclient import TestClient

from roleplay_core import script_from_dict
from roleplay_core.testing import auth_headers, make_app, make_kernel

PACK_IDS = ["behavioural-job-interview", "difficult-feedback-employee", "patient-history-chest-pain",
            "refund-angry-customer", "refund-angry-customer-es", "refund-angry-customer-zh-hant"]


def _yaml(client, url, headers, text):
    return client.post(url, content=text.encode("utf-8"), headers={**headers, "content-type": "application/yaml"})


@pytest.mark.parametrize("script_id", PACK_IDS)
def test_yaml_and_json_round_trips_lose_nothing(client, scripter, script_id):
    original = client.get(f"/scripts/{script_id}", headers=scripter).json()["script"]
    exported_yaml = client.get(f"/scripts/{script_id}/export?format=yaml", headers=scripter)
    assert exported_yaml.status_code == 200
    assert exported_yaml.headers["content-type"].startswith("application/yaml")
    assert exported_yaml.headers["content-disposition"] == f'attachment; filename="{script_id}.yaml"'
    assert yaml.safe_load(exported_yaml.text) == original
    exported_json = client.get(f"/scripts/{script_id}/export?format=json", headers=scripter)
    assert json.loads(exported_json.text) == original
    assert script_from_dict(json.loads(exported_json.text)) == script_from_dict(original)

    # Import the YAML under a new id, export it as JSON, import that under another id: same script.
    renamed = exported_yaml.text.replace(f"id: {script_id}\n", f"id: {script_id}-copy\n", 1)
    created = _yaml(client, "/scripts", scripter, renamed)
    assert created.status_code == 201, created.text
    as_json = client.get(f"/scripts/{script_id}-copy/export?format=json", headers=scripter).json()
    as_json["id"] = f"{script_id}-copy2"
    again = client.post("/scripts", json=as_json, headers=scripter)
    assert again.status_code == 201
    final = client.get(f"/scripts/{script_id}-copy2", headers=scripter).json()["script"]
    assert {**final, "id": script_id} == original


def test_yaml_bodies_for_create_and_update(client, scripter):
    text = yaml.safe_dump(sample(), allow_unicode=True, sort_keys=False)
    assert _yaml(client, "/scripts", scripter, text).status_code == 201
    changed = text.replace("title: Library late fee", "title: 'Late fee, in YAML'")
    response = client.put("/scripts/library-late-fee", content=changed.encode(),
                          headers={**scripter, "content-type": "application/yaml", "If-Match": '"v1"'})
    assert response.status_code == 200 and response.json()["script"]["title"] == "Late fee, in YAML"
    older = client.get("/scripts/library-late-fee/export?format=yaml&version=1", headers=scripter)
    assert yaml.safe_load(older.text)["title"] == "Library late fee"
    assert client.get("/scripts/library-late-fee/export?format=xml", headers=scripter).status_code == 422
    assert client.get("/scripts/library-late-fee/export?version=7", headers=scripter).status_code == 404


@needs_chat  # the restored server's learners see published scripts through /chat/scenarios
def test_import_a_bundle_then_backup_and_restore_into_a_fresh_server(client, scripter):
    spanish = sample(id="library-late-fee-es", language="es", title="Multa de la biblioteca")
    bundle = {"format": "roleplay-scripts", "version": 1, "scripts": [sample(), spanish]}
    response = _yaml(client, "/scripts/import", scripter, yaml.safe_dump(bundle, allow_unicode=True))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["imported"] == 2
    assert [(s["id"], s["created"], s["version"], s["status"]) for s in body["scripts"]] == [
        ("library-late-fee", True, 1, "draft"), ("library-late-fee-es", True, 1, "draft")]
    client.post("/scripts/library-late-fee/publish", headers=scripter)
    client.delete("/scripts/library-late-fee-es", headers=scripter)

    backup = client.get("/scripts/export?format=json", headers=scripter)
    assert backup.status_code == 200
    assert backup.headers["content-disposition"].startswith('attachment; filename="roleplay-scripts-')
    data = backup.json()
    assert [s["id"] for s in data["scripts"]] == ["library-late-fee", "library-late-fee-es"]
    assert data["authoring"]["library-late-fee"]["status"] == "published"
    assert data["authoring"]["library-late-fee-es"]["status"] == "archived"
    with_packs = client.get("/scripts/export?format=yaml&packs=true", headers=scripter)
    assert len(yaml.safe_load(with_packs.text)["scripts"]) == 2 + len(PACK_IDS)

    fresh = make_app()
    with TestClient(fresh) as other:
        headers = auth_headers(fresh, "restorer", ("admin",))
        restored = other.post("/scripts/import", json=data, headers=headers)
        assert restored.status_code == 200, restored.text
        assert {s["id"]: s["status"] for s in restored.json()["scripts"]} == {
            "library-late-fee": "published", "library-late-fee-es": "archived"}
        again = other.get("/scripts/export?format=json", headers=headers).json()
        assert again["scripts"] == data["scripts"]
        learner = auth_headers(fresh, "learner", ("user",))
        assert other.get("/chat/scenarios/library-late-fee", headers=learner).status_code == 200
        assert other.get("/chat/scenarios/library-late-fee-es", headers=learner).status_code == 404


def test_import_is_all_or_nothing_with_errors_per_item(client, scripter):
    good = sample(id="good-one", translation_group=None)
    broken = sample(id="broken-one", translation_group=None)
    broken["characters"][0]["name"] = ""
    duplicate = sample(id="good-one", translation_group=None)
    response = client.post("/scripts/import", json={"scripts": [good, broken, duplicate, "nonsense"]}, headers=scripter)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Nothing was imported: 3 of 4 scripts have errors."
    fields = [e["field"] for e in body["errors"]]
    assert "scripts[1].characters[0].name" in fields
    assert "scripts[2].id" in fields
    assert "scripts[3]" in fields
    assert [(item["index"], item["ok"]) for item in body["items"]] == [(0, True), (1, False), (2, False), (3, False)]
    assert client.get("/scripts/good-one", headers=scripter).status_code == 404
    assert client.get("/scripts?source=authored", headers=scripter).json()["total"] == 0


@needs_chat  # learners see published scripts through /chat/scenarios
def test_import_conflicts_and_publishing(client, scripter, learner):
    client.post("/scripts", json=sample(), headers=scripter)
    refused = client.post("/scripts/import?on_conflict=fail", json=[sample(title="Other")], headers=scripter)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "scripts[0].id"
    updated = client.post("/scripts/import", json=[sample(title="Imported title")], headers=scripter)
    assert updated.status_code == 200
    assert updated.json()["scripts"][0]["created"] is False and updated.json()["scripts"][0]["version"] == 2
    versions = client.get("/scripts/library-late-fee/versions", headers=scripter).json()["items"]
    assert [v["note"] for v in versions] == ["created", "imported"]

    lint_error = sample(id="cannot-publish", translation_group=None)
    lint_error["scripted"]["end_conditions"] = [{"kind": "beat_reached", "beat": "nowhere"}]
    blocked = client.post("/scripts/import?publish=true", json=[sample(), lint_error], headers=scripter)
    assert blocked.status_code == 422
    assert blocked.json()["errors"] == [{"field": "scripts[1].scripted.end_conditions[0].beat",
                                         "message": "no beat has the id 'nowhere'"}]
    assert client.get("/scripts/library-late-fee", headers=scripter).json()["version"] == 2  # untouched
    published = client.post("/scripts/import?publish=true", json=[sample()], headers=scripter)
    assert published.json()["scripts"][0]["status"] == "published"
    assert client.get("/chat/scenarios/library-late-fee", headers=learner).json()["version"] == "3"
    assert client.post("/scripts/import?on_conflict=merge", json=[sample()], headers=scripter).status_code == 422
    assert client.post("/scripts/import", json={"scripts": []}, headers=scripter).status_code == 422
    assert client.post("/scripts/import", json={"scripts": [], "extra": 1}, headers=scripter).status_code == 422


def test_import_size_limit():
    app = make_app({"scripter.import.max_scripts": 2})
    with TestClient(app) as client:
        headers = auth_headers(app, "a", ("scripter",))
        bundle = [sample(id=f"s-{n}", translation_group=None) for n in range(3)]
        response = client.post("/scripts/import", json=bundle, headers=headers)
        assert response.status_code == 413 and "scripter.import.max_scripts" in response.json()["detail"]


def test_an_import_that_loses_a_race_puts_back_what_it_wrote():
    """If a script changes between checking and writing, earlier writes of the same import are undone."""
    kernel = make_kernel()

    async def run() -> None:
        await kernel.start()
        try:
            store = ScriptStore(kernel.storage)
            first = await store.create(script_from_dict(sample(id="first", translation_group=None)), by="a")
            await store.create(script_from_dict(sample(id="second", translation_group=None)), by="a")
            loaded_first = await store.load("first")
            loaded_second = await store.load("second")
            # Someone edits "second" after the import checked it.
            await store.update(script_from_dict(sample(id="second", translation_group=None, title="Theirs")),
                               expected=1, by="b")
            plan = [
                importing.Planned(index=0, script=script_from_dict(sample(id="first", translation_group=None, title="New")),
                                  existing=loaded_first, pack=False),
                importing.Planned(index=1, script=script_from_dict(sample(id="brand-new", translation_group=None)),
                                  existing=None, pack=False),
                importing.Planned(index=2, script=script_from_dict(sample(id="second", translation_group=None, title="Ours")),
                                  existing=Loaded(loaded_second.head, loaded_second.token), pack=False),
            ]
            with pytest.raises(Exception) as raised:
                await importing._write(store, plan, by="importer")
            assert getattr(raised.value, "status", None) == 409
            assert (await store.get("first")) == first
            assert await store.get("brand-new") is None
            assert await store.version("brand-new", 1) is None
            assert (await store.get("second")).script.title == "Theirs"
            assert [v.number for v in await store.versions("first")] == [1]
        finally:
            await kernel.stop()

    asyncio.run(run())


@needs_chat  # the restored server's learners see published scripts through /chat/scenarios
def test_a_backup_with_history_restores_every_version_and_the_published_one(client, scripter):
    client.post("/scripts", json=sample(), headers=scripter)
    client.put("/scripts/library-late-fee", json=sample(title="Second"), headers={**scripter, "If-Match": '"v1"'})
    client.post("/scripts/library-late-fee/publish", headers=scripter)
    client.put("/scripts/library-late-fee", json=sample(title="Third, unpublished"),
               headers={**scripter, "If-Match": '"v2"'})
    client.post("/scripts", json=sample(id="old-one", translation_group=None), headers=scripter)
    client.delete("/scripts/old-one", headers=scripter)
    backup = client.get("/scripts/export?format=yaml&history=true", headers=scripter)
    data = yaml.safe_load(backup.text)
    assert [v["number"] for v in data["history"]["library-late-fee"]] == [1, 2, 3]
    before = client.get("/scripts/library-late-fee/versions", headers=scripter).json()["items"]

    fresh = make_app()
    with TestClient(fresh) as other:
        headers = auth_headers(fresh, "restorer", ("admin",))
        restored = other.post("/scripts/import", content=backup.content,
                              headers={**headers, "content-type": "application/yaml"})
        assert restored.status_code == 200, restored.text
        assert {s["id"]: (s["version"], s["status"]) for s in restored.json()["scripts"]} == {
            "library-late-fee": (3, "published"), "old-one": (1, "archived")}
        head = other.get("/scripts/library-late-fee", headers=headers).json()
        assert (head["version"], head["published_version"], head["unpublished_changes"]) == (3, 2, True)
        assert head["created_by"] == "author-1" and head["script"]["title"] == "Third, unpublished"
        assert other.get("/scripts/library-late-fee/versions", headers=headers).json()["items"] == before
        learner = auth_headers(fresh, "learner", ("user",))
        seen = other.get("/chat/scenarios/library-late-fee", headers=learner).json()
        assert (seen["version"], seen["title"]) == ("2", "Second")
        assert other.get("/chat/scenarios/old-one", headers=learner).status_code == 404
        again = yaml.safe_load(other.get("/scripts/export?format=yaml&history=true", headers=headers).text)
        for key in ("scripts", "authoring", "history"):
            assert again[key] == data[key], key


def test_a_broken_history_fails_the_import(client, scripter):
    client.post("/scripts", json=sample(), headers=scripter)
    data = client.get("/scripts/export?format=json&history=true", headers=scripter).json()
    data["history"]["library-late-fee"][0]["number"] = 5
    fresh = make_app()
    with TestClient(fresh) as other:
        headers = auth_headers(fresh, "restorer", ("admin",))
        response = other.post("/scripts/import", json=data, headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "history.library-late-fee",
                                              "message": "versions must be numbered 1, 2, 3... in order"}]
        data["history"]["library-late-fee"][0]["number"] = 1
        data["authoring"]["library-late-fee"]["status"] = "published"  # but no published_version
        response = other.post("/scripts/import", json=data, headers=headers)
        assert response.json()["errors"][0]["field"] == "authoring.library-late-fee.status"
        assert other.get("/scripts?source=authored", headers=headers).json()["total"] == 0
