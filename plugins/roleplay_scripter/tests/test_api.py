"""The /scripts API over HTTP: roles, CRUD, If-Match, publishing, versions, diff, packs.

Test home of ``roleplay_scripter.routes``, ``roleplay_scripter.store``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from scripter_support import needs_chat, sample

from roleplay_core.testing import auth_headers, make_app

#: method, path, body kind, and the one status a scripter or an admin gets.
ROUTES = [
    ("GET", "/scripts", None, 200),
    ("POST", "/scripts", "new-script", 201),
    ("POST", "/scripts/validate", "script", 200),
    ("POST", "/scripts/import", "bundle", 200),
    ("GET", "/scripts/export", None, 200),
    ("GET", "/scripts/{id}", None, 200),
    ("PUT", "/scripts/{id}", "script", 200),
    ("DELETE", "/scripts/{id}", None, 200),
    ("POST", "/scripts/{id}/publish", None, 200),
    ("GET", "/scripts/{id}/versions", None, 200),
    ("GET", "/scripts/{id}/versions/1", None, 200),
    ("GET", "/scripts/{id}/diff?from=1&to=1", None, 200),
    ("POST", "/scripts/{id}/preview", "preview", 200),
    ("GET", "/scripts/{id}/translations", None, 200),
    ("GET", "/scripts/{id}/export?format=json", None, 200),
    ("POST", "/scripts/{id}/characters", "card", 201),
    ("GET", "/scripts/{id}/characters/sam/card", None, 200),
]


def _body(kind: str | None, script_id: str):
    if kind == "script":
        return sample(id=script_id, translation_group=None)
    if kind == "new-script":
        return sample(id=f"{script_id}-new", translation_group=None)
    if kind == "bundle":
        return {"scripts": [sample(id=f"{script_id}-imported", translation_group=None)]}
    if kind == "preview":
        return {"messages": ["hello"]}
    if kind == "card":
        return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Robin Fox", "description": "x"}}
    return None


def _create(client, headers, **changes):
    response = client.post("/scripts", json=sample(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return response


def test_every_route_needs_sign_in_and_the_scripter_role(client, learner, scripter):
    _create(client, scripter)
    for method, path, kind, _ in ROUTES:
        url = path.format(id="library-late-fee")
        anonymous = client.request(method, url, json=_body(kind, "library-late-fee"))
        assert anonymous.status_code == 401, (method, url)
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        user = client.request(method, url, json=_body(kind, "library-late-fee"), headers=learner)
        assert user.status_code == 403, (method, url)
        assert "scripter" in user.json()["detail"]
    # Nothing the refused calls sent was saved.
    assert client.get("/scripts/library-late-fee", headers=scripter).json()["version"] == 1


@needs_chat  # the preview route plays the draft with chat's scripted engine
@pytest.mark.parametrize("role", ["scripter", "admin"])
def test_every_route_works_for_scripters_and_admins(app, client, role):
    headers = auth_headers(app, f"{role}-x", (role,))
    for n, (method, path, kind, status) in enumerate(ROUTES):
        script_id = f"route-{n}"
        _create(client, headers, id=script_id, translation_group=None)
        sent = {**headers, "If-Match": '"v1"'} if method == "PUT" or path.endswith("/characters") else headers
        response = client.request(method, path.format(id=script_id), json=_body(kind, script_id), headers=sent)
        assert response.status_code == status, (method, path, response.status_code, response.text)


def test_create_read_list_and_filters(client, scripter):
    created = _create(client, scripter)
    assert created.headers["location"] == "/scripts/library-late-fee"
    assert created.headers["etag"] == '"v1"'
    body = created.json()
    assert body["status"] == "draft" and body["version"] == 1 and body["source"] == "authored"
    assert body["created_by"] == "author-1"
    assert body["script"]["characters"][0]["voice"] == "Puck"
    assert isinstance(body["findings"], list)

    got = client.get("/scripts/library-late-fee", headers=scripter)
    assert got.status_code == 200 and got.headers["etag"] == '"v1"'
    assert got.json()["script"] == body["script"]

    _create(client, scripter, id="biblioteca-multa", language="es", title="Multa de la biblioteca",
            tags=["biblioteca"])
    everything = client.get("/scripts", headers=scripter).json()
    ids = {s["id"] for s in everything["items"]}
    assert {"library-late-fee", "biblioteca-multa", "refund-angry-customer"} <= ids
    assert everything["total"] == len(everything["items"]) and everything["next_cursor"] is None

    def ids_for(query: str) -> set[str]:
        response = client.get(f"/scripts?{query}", headers=scripter)
        assert response.status_code == 200, response.text
        return {s["id"] for s in response.json()["items"]}

    assert ids_for("status=draft") == {"library-late-fee", "biblioteca-multa"}
    assert "refund-angry-customer" in ids_for("status=published")
    assert ids_for("language=es") == {"biblioteca-multa", "refund-angry-customer-es"}
    assert ids_for("tag=library") == {"library-late-fee"}
    assert ids_for("text=reader DISPUTES") == {"library-late-fee", "biblioteca-multa"}
    assert ids_for("text=multa") == {"biblioteca-multa"}
    assert ids_for("text=espresso") == {"refund-angry-customer", "refund-angry-customer-es"}
    assert ids_for("text=cafetera") == {"refund-angry-customer-es"}
    assert ids_for("language=zh-Hant") == ids_for("language=zh") == {"refund-angry-customer-zh-hant"}
    assert ids_for("text=咖啡機") == {"refund-angry-customer-zh-hant"}
    assert ids_for("source=pack") == {"refund-angry-customer", "refund-angry-customer-es",
                                      "refund-angry-customer-zh-hant", "patient-history-chest-pain",
                                      "behavioural-job-interview", "difficult-feedback-employee"}
    # One list shape (docs/decisions.md): pages follow next_cursor until it is null, each item once.
    first = client.get("/scripts?limit=2", headers=scripter).json()
    walked, cursor = [s["id"] for s in first["items"]], first["next_cursor"]
    assert len(walked) == 2 and cursor
    while cursor:
        page = client.get(f"/scripts?limit=2&cursor={cursor}", headers=scripter).json()
        assert len(page["items"]) <= 2 and page["total"] == first["total"]
        walked += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
    assert walked == [s["id"] for s in everything["items"]]

    bad = client.get("/scripts?status=deleted", headers=scripter)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    assert client.get("/scripts?limit=x", headers=scripter).json()["errors"][0]["field"] == "limit"
    assert client.get("/scripts/nope", headers=scripter).status_code == 404


def test_create_refuses_bad_input_with_problem_details(client, scripter):
    twice = _create(client, scripter)
    assert twice.status_code == 201
    again = client.post("/scripts", json=sample(), headers=scripter)
    assert again.status_code == 409
    broken = sample(id="broken-one")
    broken["characters"][0]["name"] = "  "
    response = client.post("/scripts", json=broken, headers=scripter)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "characters[0].name" in [e["field"] for e in response.json()["errors"]]
    wrong_type = client.post("/scripts", content=b"id: x", headers={**scripter, "content-type": "text/plain"})
    assert wrong_type.status_code == 415
    malformed = client.post("/scripts", content=b"{nope", headers={**scripter, "content-type": "application/json"})
    assert malformed.status_code == 400
    bad_yaml = client.post("/scripts", content=b"id: [unclosed", headers={**scripter, "content-type": "application/yaml"})
    assert bad_yaml.status_code == 400 and "YAML" in bad_yaml.json()["detail"]
    reserved = client.post("/scripts", json=sample(id="export"), headers=scripter)
    assert reserved.status_code == 422 and reserved.json()["errors"][0]["field"] == "id"
    listed = client.post("/scripts", json=[sample()], headers=scripter)
    assert listed.status_code == 422


def test_put_needs_if_match_and_refuses_stale_versions(client, scripter, other_scripter):
    _create(client, scripter)
    edited = sample(title="Library late fee (v2)")
    missing = client.put("/scripts/library-late-fee", json=edited, headers=scripter)
    assert missing.status_code == 428
    ok = client.put("/scripts/library-late-fee", json=edited, headers={**scripter, "If-Match": '"v1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"v2"' and ok.json()["version"] == 2 and ok.json()["updated_by"] == "author-1"
    # Another author still holding v1 loses, and learns the current version.
    stale = client.put("/scripts/library-late-fee", json=sample(title="Mine"), headers={**other_scripter, "If-Match": '"v1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2 and stale.headers["etag"] == '"v2"'
    assert client.get("/scripts/library-late-fee", headers=scripter).json()["script"]["title"] == "Library late fee (v2)"
    mismatch = client.put("/scripts/library-late-fee", json=sample(id="other-id"), headers={**scripter, "If-Match": '"v2"'})
    assert mismatch.status_code == 422 and mismatch.json()["errors"][0]["field"] == "id"
    unknown = client.put("/scripts/ghost", json=sample(id="ghost"), headers={**scripter, "If-Match": '"v1"'})
    assert unknown.status_code == 404


@pytest.mark.parametrize("backend", ["memory", "file"])
def test_concurrent_edits_one_wins_the_rest_get_412(backend, tmp_path):
    """Eight authors PUT on top of v1 at the same time over HTTP: exactly one save lands."""
    app = make_app({"storage.backend": backend, "storage.file.root": str(tmp_path / "data")})
    kernel = app.state.kernel

    async def run() -> list[int]:
        await kernel.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                headers = auth_headers(app, "author-1", ("scripter",))
                assert (await http.post("/scripts", json=sample(), headers=headers)).status_code == 201

                async def edit(n: int) -> int:
                    response = await http.put("/scripts/library-late-fee", json=sample(title=f"Edit {n}"),
                                              headers={**auth_headers(app, f"a{n}", ("scripter",)), "If-Match": '"v1"'})
                    return response.status_code

                codes = await asyncio.gather(*(edit(n) for n in range(8)))
                current = (await http.get("/scripts/library-late-fee", headers=headers)).json()
                assert current["version"] == 2
                versions = (await http.get("/scripts/library-late-fee/versions", headers=headers)).json()
                assert [v["version"] for v in versions["items"]] == [1, 2]
                return codes
        finally:
            await kernel.stop()

    codes = asyncio.run(run())
    assert sorted(codes) == [200] + [412] * 7


@needs_chat  # learners see published scripts through /chat/scenarios
def test_publish_keeps_old_versions_readable_and_learners_see_the_published_one(client, scripter, learner):
    _create(client, scripter)
    assert client.get("/chat/scenarios/library-late-fee", headers=learner).status_code == 404  # a draft is private
    published = client.post("/scripts/library-late-fee/publish", headers=scripter)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published" and published.json()["published_version"] == 1
    seen = client.get("/chat/scenarios/library-late-fee", headers=learner).json()
    assert seen["version"] == "1" and seen["title"] == "Library late fee"

    edit = client.put("/scripts/library-late-fee", json=sample(title="Library late fee, revised"),
                      headers={**scripter, "If-Match": '"v1"'})
    assert edit.json()["unpublished_changes"] is True and edit.json()["status"] == "published"
    # Learners still see version 1 until the author publishes again.
    assert client.get("/chat/scenarios/library-late-fee", headers=learner).json()["title"] == "Library late fee"
    stale_publish = client.post("/scripts/library-late-fee/publish", headers={**scripter, "If-Match": '"v1"'})
    assert stale_publish.status_code == 412
    again = client.post("/scripts/library-late-fee/publish", headers={**scripter, "If-Match": '"v2"'})
    assert again.status_code == 200 and again.json()["published_version"] == 2
    seen = client.get("/chat/scenarios/library-late-fee", headers=learner).json()
    assert seen["version"] == "2" and seen["title"] == "Library late fee, revised"

    versions = client.get("/scripts/library-late-fee/versions", headers=scripter).json()
    assert [(v["version"], v["published"], len(v["published_at"])) for v in versions["items"]] == [(1, False, 1), (2, True, 1)]
    old = client.get("/scripts/library-late-fee/versions/1", headers=scripter)
    assert old.status_code == 200 and old.json()["script"]["title"] == "Library late fee"
    assert old.headers["etag"] == '"v1"'
    assert client.get("/scripts/library-late-fee/versions/9", headers=scripter).status_code == 404
    assert len(client.get("/scripts/library-late-fee", headers=scripter).json()["publications"]) == 2


def test_publish_refuses_lint_errors(client, scripter):
    broken = sample()
    broken["rubric"]["criteria"][1]["check"]["beats"] = ["no-such-beat"]
    client.post("/scripts", json=broken, headers=scripter)
    response = client.post("/scripts/library-late-fee/publish", headers=scripter)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "rubric.criteria[1].check.beats[0]",
                                          "message": "no beat has the id 'no-such-beat'"}]
    assert client.get("/scripts/library-late-fee", headers=scripter).json()["status"] == "draft"


@needs_chat  # learners see published scripts through /chat/scenarios
def test_archive_withdraws_from_learners_but_keeps_versions(client, scripter, learner):
    _create(client, scripter)
    client.post("/scripts/library-late-fee/publish", headers=scripter)
    assert client.delete("/scripts/library-late-fee", headers={**scripter, "If-Match": '"v7"'}).status_code == 412
    archived = client.delete("/scripts/library-late-fee", headers=scripter)
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert archived.json()["archived_at"]
    assert client.get("/chat/scenarios/library-late-fee", headers=learner).status_code == 404
    assert client.get("/scripts?status=archived", headers=scripter).json()["items"][0]["id"] == "library-late-fee"
    assert client.get("/scripts/library-late-fee/versions/1", headers=scripter).status_code == 200
    # Publishing again restores it.
    assert client.post("/scripts/library-late-fee/publish", headers=scripter).json()["status"] == "published"
    assert client.get("/chat/scenarios/library-late-fee", headers=learner).status_code == 200
    assert client.delete("/scripts/ghost", headers=scripter).status_code == 404


def test_diff_between_versions(client, scripter):
    _create(client, scripter)
    changed = sample(title="Late fees")
    changed["scripted"]["beats"].insert(1, {"id": "ask-name", "triggers": ["your name"], "replies": ["Sam."]})
    changed["scripted"]["beats"][2]["replies"] = ["Thanks, I guess.", "Fine."]
    changed["tags"] = ["library"]
    client.put("/scripts/library-late-fee", json=changed, headers={**scripter, "If-Match": '"v1"'})
    response = client.get("/scripts/library-late-fee/diff?from=1&to=2", headers=scripter)
    assert response.status_code == 200
    body = response.json()
    changes = {(c["path"], c["op"]) for c in body["changes"]}
    assert changes == {
        ("title", "changed"),
        ("tags[0]", "changed"),
        ("tags[1]", "removed"),
        ("scripted.beats[ask-name]", "added"),
        ("scripted.beats[apology].replies[1]", "changed"),
    }
    title = next(c for c in body["changes"] if c["path"] == "title")
    assert (title["old"], title["new"]) == ("Library late fee", "Late fees")
    assert "-title: Library late fee" in body["unified"] and "+title: Late fees" in body["unified"]
    default = client.get("/scripts/library-late-fee/diff", headers=scripter).json()
    assert (default["from"], default["to"]) == (1, 2)
    assert client.get("/scripts/library-late-fee/diff?from=1&to=5", headers=scripter).status_code == 404
    assert client.get("/scripts/library-late-fee/diff?from=zero", headers=scripter).status_code == 422
    assert client.get("/scripts/refund-angry-customer/diff", headers=scripter).status_code == 404


def test_pack_scripts_are_read_only_but_can_be_copied(client, scripter):
    pack = client.get("/scripts/refund-angry-customer", headers=scripter)
    assert pack.status_code == 200
    assert (pack.json()["status"], pack.json()["source"], pack.json()["version"]) == ("published", "pack", None)
    etag = pack.headers["etag"]
    assert etag.startswith('"pack-')
    assert client.post("/scripts", json=pack.json()["script"], headers=scripter).status_code == 409
    assert client.delete("/scripts/refund-angry-customer", headers=scripter).status_code == 409
    assert client.post("/scripts/refund-angry-customer/publish", headers=scripter).status_code == 409
    assert client.get("/scripts/refund-angry-customer/versions", headers=scripter).json()["items"] == []

    edited = pack.json()["script"]
    edited["title"] = "Angry customer (our store's version)"
    assert client.put("/scripts/refund-angry-customer", json=edited,
                      headers={**scripter, "If-Match": '"pack-0000"'}).status_code == 412
    copy = client.put("/scripts/refund-angry-customer", json=edited, headers={**scripter, "If-Match": etag})
    assert copy.status_code == 200, copy.text
    body = copy.json()
    assert (body["source"], body["from_pack"], body["version"], body["status"]) == ("authored", True, 2, "draft")
    versions = client.get("/scripts/refund-angry-customer/versions", headers=scripter).json()["items"]
    assert [v["note"] for v in versions] == ["copied from pack", "updated"]


@needs_chat  # learners see published scripts through /chat/scenarios
def test_learners_get_a_copied_pack_script_once_published_and_the_pack_again_after_archiving(client, scripter, learner):
    pack = client.get("/scripts/refund-angry-customer", headers=scripter)
    edited = pack.json()["script"]
    edited["title"] = "Angry customer (our store's version)"
    copy = client.put("/scripts/refund-angry-customer", json=edited, headers={**scripter, "If-Match": pack.headers["etag"]})
    assert copy.status_code == 200, copy.text
    # Until it is published, learners keep the shipped version.
    assert client.get("/chat/scenarios/refund-angry-customer", headers=learner).json()["version"] == "pack"
    client.post("/scripts/refund-angry-customer/publish", headers=scripter)
    seen = client.get("/chat/scenarios/refund-angry-customer", headers=learner).json()
    assert (seen["version"], seen["title"]) == ("2", "Angry customer (our store's version)")
    # Archiving the authored copy gives learners the shipped content back.
    client.delete("/scripts/refund-angry-customer", headers=scripter)
    assert client.get("/chat/scenarios/refund-angry-customer", headers=learner).json()["version"] == "pack"


BAD_BODIES = [
    None, 1, "x", [], {}, [1], {"scripts": 1}, {"scripts": [None]}, {"messages": [1]}, {"messages": None},
    {"spec": "chara_card_v2", "data": []},
    {"spec": "chara_card_v2", "data": {"name": "a", "extensions": {"roleplay": {"character": {"id": 1}}}}},
    {"spec": "chara_card_v2", "data": {"name": "a", "extensions": {"roleplay": []}}},
    {"format": "x", "scripts": []}, {"scripts": [], "history": []},
    {"scripts": [sample()], "history": {"library-late-fee": [{"number": "1"}]}},
    sample(scripted={"beats": [{"id": "a", "replies": []}]}),
    sample(rubric={"criteria": [{"id": "x", "title": "t", "check": {"kind": "nope"}}]}),
    sample(characters=[]), sample(scripted={"synonyms": {"a": [1]}}), sample(scripted={"synonyms": []}),
    sample(estimated_minutes=10**9),
]
BODY_ROUTES = [("POST", "/scripts"), ("PUT", "/scripts/library-late-fee"), ("POST", "/scripts/validate"),
               ("POST", "/scripts/import"), ("POST", "/scripts/library-late-fee/preview"),
               ("POST", "/scripts/library-late-fee/characters"), ("POST", "/scripts/library-late-fee/publish")]


def test_bad_input_is_a_4xx_problem_never_a_500(client, scripter):
    _create(client, scripter)
    for method, url in BODY_ROUTES:
        for body in BAD_BODIES:
            response = client.request(method, url, json=body, headers={**scripter, "If-Match": "*"})
            assert response.status_code < 500, (method, url, body, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
    for url in ["/scripts?limit=-1", "/scripts?cursor=x", "/scripts/library-late-fee/diff?from=0",
                "/scripts/library-late-fee/export?format=json&version=0", "/scripts/export?packs=maybe"]:
        response = client.get(url, headers=scripter)
        assert response.status_code == 422, url
    assert client.get("/scripts/library-late-fee/versions/0", headers=scripter).status_code == 404
    # Ids that can name no script (NUL, control characters, a backslash, DEL, too long) are a 404
    # problem from the scripter itself, before storage sees them.
    for bad_id in ["a%00b", "%01x", "a%5Cb", "a%7F", "a" * 601]:
        for method, suffix in [("GET", ""), ("DELETE", ""), ("PUT", ""), ("POST", "/publish"), ("GET", "/versions"),
                               ("GET", "/versions/1"), ("GET", "/diff?from=1&to=2"), ("POST", "/preview"),
                               ("GET", "/export"), ("POST", "/characters"), ("GET", "/characters/clerk/card")]:
            url = f"/scripts/{bad_id}{suffix}"
            response = client.request(method, url, json={}, headers={**scripter, "If-Match": "*"})
            assert response.status_code == 404, (method, url, response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/problem+json"), (method, url)
