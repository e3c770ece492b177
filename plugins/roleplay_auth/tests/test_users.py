"""/users/me, password change, sign-in methods, admin user management, last admin, audit.

Test home of ``roleplay_auth.users_routes``.
"""

from __future__ import annotations

from auth_helpers import PASSWORD, bearer, login, register
from starlette.testclient import TestClient

from roleplay_core.testing import make_app

ADMIN = {"auth.bootstrap_admin.email": "root@example.com", "auth.bootstrap_admin.password": PASSWORD}
NEW_PASSWORD = "an even sturdier passphrase 43"


def test_profile_get_patch():
    with TestClient(make_app()) as client:
        pair = register(client, "p@example.com", name="Pat")
        me = client.get("/users/me", headers=bearer(pair)).json()
        assert me["display_name"] == "Pat" and me["auth_methods"][0]["id"] == "password"
        patched = client.patch("/users/me", json={"display_name": "Patricia", "preferred_language": "de"},
                               headers=bearer(pair))
        assert patched.status_code == 200, patched.text
        assert patched.json()["display_name"] == "Patricia" and patched.json()["preferred_language"] == "de"
        cleared = client.patch("/users/me", json={"preferred_language": None}, headers=bearer(pair)).json()
        assert cleared["preferred_language"] is None and cleared["display_name"] == "Patricia"
        bad = client.patch("/users/me", json={"display_name": "x" * 101}, headers=bearer(pair))
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "display_name"
        assert client.patch("/users/me", json={"display_name": None}, headers=bearer(pair)).status_code == 422
        assert client.patch("/users/me", json=["x"], headers=bearer(pair)).status_code == 422
        assert client.patch("/users/me", json={"display_name": "Z"}).status_code == 401


def test_delete_me():
    with TestClient(make_app()) as client:
        pair = register(client, "gone@example.com")
        assert client.delete("/users/me", headers=bearer(pair)).status_code == 204
        assert client.get("/users/me", headers=bearer(pair)).status_code == 401
        assert client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
        assert client.post("/auth/login", json={"email": "gone@example.com", "password": PASSWORD}).status_code == 401
        register(client, "gone@example.com")  # the email is free again


def test_change_password_needs_the_current_one_and_ends_other_sessions():
    with TestClient(make_app()) as client:
        pair = register(client, "pw@example.com")
        other = login(client, "pw@example.com")
        wrong = client.post("/users/me/password", json={"current_password": "wrong wrong wrong",
                                                        "new_password": NEW_PASSWORD}, headers=bearer(pair))
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
        missing = client.post("/users/me/password", json={"new_password": NEW_PASSWORD}, headers=bearer(pair))
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "current_password"
        weak = client.post("/users/me/password", json={"current_password": PASSWORD, "new_password": "pw@example.com!!"},
                           headers=bearer(pair))
        assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
        done = client.post("/users/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                           headers=bearer(pair))
        assert done.status_code == 200, done.text
        assert client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 401
        assert client.post("/auth/refresh", json={"refresh_token": done.json()["refresh_token"]}).status_code == 200
        assert client.post("/auth/login", json={"email": "pw@example.com", "password": PASSWORD}).status_code == 401
        login(client, "pw@example.com", NEW_PASSWORD)


def test_last_auth_method_cannot_be_removed():
    with TestClient(make_app()) as client:
        pair = register(client, "one@example.com")
        methods = client.get("/users/me/auth-methods", headers=bearer(pair)).json()["items"]
        assert [m["id"] for m in methods] == ["password"]
        assert client.delete("/users/me/auth-methods/password", headers=bearer(pair)).status_code == 409
        assert client.delete("/users/me/auth-methods/nope", headers=bearer(pair)).status_code == 404
        assert client.get("/users/me/auth-methods").status_code == 401


def test_admin_lists_searches_and_paginates():
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        for n in range(7):
            register(client, f"member{n}@example.com", name=f"Member {n}")
        register(client, "zed@other.org", name="Zed Zebra")
        first = client.get("/users?limit=3", headers=bearer(root)).json()
        assert len(first["items"]) == 3 and first["next_cursor"]
        seen = [u["id"] for u in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = client.get(f"/users?limit=3&cursor={cursor}", headers=bearer(root)).json()
            seen += [u["id"] for u in page["items"]]
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)) == 9
        by_email = client.get("/users?q=OTHER.org", headers=bearer(root)).json()["items"]
        assert [u["email"] for u in by_email] == ["zed@other.org"]
        by_name = client.get("/users?q=member 3", headers=bearer(root)).json()["items"]
        assert [u["display_name"] for u in by_name] == ["Member 3"]
        assert client.get("/users?limit=0", headers=bearer(root)).status_code == 422
        assert client.get("/users?limit=abc", headers=bearer(root)).json()["errors"][0]["field"] == "limit"
        for bad in ("../x", "bm90LWpzb24", "WzEsMl0", "WyJhIiwiYiIsImMiXQ"):
            response = client.get(f"/users?cursor={bad}", headers=bearer(root))
            assert response.status_code == 422 and response.json()["errors"][0]["field"] == "cursor", bad
        assert client.get("/users").status_code == 401


def test_admin_get_patch_delete_user():
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        pair = register(client, "staff@example.com")
        user_id = pair["user"]["id"]
        got = client.get(f"/users/{user_id}", headers=bearer(root))
        assert got.status_code == 200 and got.json()["email"] == "staff@example.com"
        for odd in ("0123456789abcdef", "%2E%2E", "%00", "a%2Fb", "me2"):
            assert client.get(f"/users/{odd}", headers=bearer(root)).status_code == 404, odd
        patched = client.patch(f"/users/{user_id}", json={"roles": ["scripter"], "display_name": "Scripty"},
                               headers=bearer(root))
        assert patched.status_code == 200 and patched.json()["roles"] == ["scripter"]
        for body, field in (({"roles": ["god"]}, "roles"), ({"roles": []}, "roles"), ({"disabled": "yes"}, "disabled"),
                            ({"password_hash": "x"}, "password_hash")):
            response = client.patch(f"/users/{user_id}", json=body, headers=bearer(root))
            assert response.status_code == 422 and field in {e["field"] for e in response.json()["errors"]}, body
        assert client.get(f"/users/{user_id}", headers=bearer(pair)).status_code == 403
        assert client.delete(f"/users/{user_id}", headers=bearer(root)).status_code == 204
        assert client.get(f"/users/{user_id}", headers=bearer(root)).status_code == 404
        assert client.delete(f"/users/{user_id}", headers=bearer(root)).status_code == 404


def test_last_admin_cannot_be_demoted_disabled_or_deleted():
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        root_id = client.get("/users/me", headers=bearer(root)).json()["id"]
        for body in ({"roles": ["user"]}, {"disabled": True}):
            assert client.patch(f"/users/{root_id}", json=body, headers=bearer(root)).status_code == 409
        assert client.delete(f"/users/{root_id}", headers=bearer(root)).status_code == 409
        assert client.delete("/users/me", headers=bearer(root)).status_code == 409
        # with a second admin, the first may step down
        other = register(client, "second@example.com")
        assert client.patch(f"/users/{other['user']['id']}", json={"roles": ["admin"]},
                            headers=bearer(root)).status_code == 200
        assert client.patch(f"/users/{root_id}", json={"roles": ["user"]}, headers=bearer(root)).status_code == 200
        second = login(client, "second@example.com")
        second_id = other["user"]["id"]
        assert client.patch(f"/users/{second_id}", json={"roles": ["user"]}, headers=bearer(second)).status_code == 409


def test_audit_log_records_security_events_for_admins_only():
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        pair = register(client, "audited@example.com")
        user_id = pair["user"]["id"]
        client.post("/auth/login", json={"email": "audited@example.com", "password": "wrong password"})
        client.patch(f"/users/{user_id}", json={"roles": ["scripter"]}, headers=bearer(root))
        client.patch(f"/users/{user_id}", json={"disabled": True}, headers=bearer(root))
        client.delete(f"/users/{user_id}", headers=bearer(root))
        assert client.get("/users/audit", headers=bearer(pair)).status_code == 401
        everything = []
        cursor = ""
        while True:
            page = client.get(f"/users/audit?limit=2&cursor={cursor}", headers=bearer(root)).json()
            everything += page["items"]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        types = [e["type"] for e in everything]
        for expected in ("user.registered", "login.succeeded", "login.failed", "user.roles_changed",
                         "user.disabled", "user.deleted"):
            assert expected in types, (expected, types)
        change = next(e for e in everything if e["type"] == "user.roles_changed")
        assert change["data"]["old"] == ["user"] and change["data"]["new"] == ["scripter"]
        assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
        assert client.get("/users/audit?cursor=-1", headers=bearer(root)).status_code == 422


def test_audit_log_filters_by_user_action_and_time(monkeypatch):
    """The console's audit view: events about or by one user, one type or family, a time window; paged."""
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        root_id = client.get("/users/me", headers=bearer(root)).json()["id"]
        first = register(client, "first@example.com")["user"]["id"]
        second = register(client, "second@example.com")["user"]["id"]
        client.patch(f"/users/{first}", json={"roles": ["scripter"]}, headers=bearer(root))
        client.patch(f"/users/{second}", json={"disabled": True}, headers=bearer(root))

        def audit(query: str) -> dict:
            response = client.get(f"/users/audit?{query}", headers=bearer(root))
            assert response.status_code == 200, response.text
            return response.json()

        everything = audit("limit=200")["items"]
        about_first = audit(f"user={first}")["items"]
        assert {e["type"] for e in about_first} == {"user.registered", "user.roles_changed"}
        assert all(first in (e["data"].get("user_id"), e["data"].get("by")) for e in about_first)
        # "by" counts: the admin's own role change of someone else is the admin's too.
        assert "user.roles_changed" in {e["type"] for e in audit(f"user={root_id}")["items"]}
        assert [e["data"]["user_id"] for e in audit("type=user.roles_changed")["items"]] == [first]
        family = audit("type=user.")["items"]
        assert {e["type"] for e in family} == {"user.registered", "user.roles_changed", "user.disabled"}
        assert audit("type=user.roles")["items"] == []  # no family without the dot: an exact type
        change = next(e for e in everything if e["type"] == "user.roles_changed")
        since = audit(f"since={change['created_at'].replace('+00:00', 'Z')}")["items"]
        assert change in since and all(e["created_at"] >= change["created_at"] for e in since)
        assert len(since) < len(everything)
        until = audit(f"until={change['created_at'].replace('+', '%2B')}&type=user.")["items"]
        assert [e["type"] for e in until][-1] == "user.roles_changed" and "user.disabled" not in {e["type"] for e in until}
        assert audit("since=2000-01-01&until=2000-01-02")["items"] == []
        # Paged: filtered pages join up to the whole filtered list, whatever the page size.
        pages, cursor = [], "0"
        while True:
            page = audit(f"type=user.&limit=1&cursor={cursor}")
            pages += page["items"]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        assert pages == family
        # A filter matching little reads at most AUDIT_SCAN events per request, then says where to go on.
        from roleplay_auth import users_routes
        monkeypatch.setattr(users_routes, "AUDIT_SCAN", 2)
        short = audit("type=user.disabled")
        assert short["items"] == [] and short["next_cursor"] == str(everything[1]["seq"])
        for query, field in (("since=yesterday", "since"), ("until=2026-13-01", "until"), ("type=User!", "type"),
                             ("since=2026-02-01&until=2026-01-01", "since"), (f"user={'x' * 201}", "user")):
            bad = client.get(f"/users/audit?{query}", headers=bearer(root))
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, (query, bad.text)
        learner = login(client, "first@example.com")
        assert client.get(f"/users/audit?user={first}", headers=bearer(learner)).status_code == 403
