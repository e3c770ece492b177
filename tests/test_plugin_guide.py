"""docs/plugins.md's complete plugins, taken from the page itself, imported and used over HTTP.

A third party builds from these blocks; if one stops working as written, this fails.
"""

from __future__ import annotations

import asyncio
import re
import types
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from roleplay_core.storage import InvalidKey, NotFound, PreconditionFailed
from roleplay_core.testing import auth_headers, make_app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def example(name: str) -> types.ModuleType:
    """The ``# example: <name>`` python block of docs/plugins.md, as a fresh module."""
    blocks = re.findall(r"^```python\n# example: (.+?)\n(.*?)^```$", DOCS.read_text(), re.M | re.S)
    found = {title: code for title, code in blocks}
    assert name in found, f"docs/plugins.md has no '# example: {name}' block (found {sorted(found)})"
    module = types.ModuleType(f"guide_{name.replace(' ', '_')}")
    # dont_inherit: the page's code runs as written, not under this file's `from __future__ import annotations`.
    exec(compile(found[name], f"docs/plugins.md#{name}", "exec", dont_inherit=True), module.__dict__)  # noqa: S102
    return module


def test_the_guide_has_its_three_examples():
    blocks = re.findall(r"^```python\n# example: (.+?)\n", DOCS.read_text(), re.M)
    assert sorted(blocks) == ["password provider", "routes", "settings", "storage"]


def test_the_settings_example_is_typed_in_every_layer(monkeypatch):
    from roleplay_core import SettingsError
    from roleplay_core.plugins import bootstrap

    guide = example("settings")
    app = make_app({"notes.limits.per_day": 5}, plugins=[guide.plugin])
    with TestClient(app) as client:
        assert client.get("/notes/about").json() == {"title": "Notes", "per_day": 5}
    monkeypatch.setenv("ROLEPLAY_NOTES__ARCHIVE", '"yes"')
    found = bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[guide.plugin],
                      overrides={"notes.limits.per_day": "20", "storage.backend": "memory"}).problems
    assert found == ["notes.archive: expected true or false", "notes.limits.per_day: expected an integer"]
    monkeypatch.delenv("ROLEPLAY_NOTES__ARCHIVE")
    with pytest.raises(SettingsError, match="notes.title: must not be blank"):
        make_app({"notes.title": " ", "security.jwt_secret": "Vq7Zr2Lw9Xk4Tn8Bm1Hc6Jd3Fp0Sy5Ge-Ua_Ko"},
                 plugins=[guide.plugin], env="production", load_entry_points=False)


def test_the_storage_example_keeps_the_contract_it_documents():
    guide = example("storage")
    app = make_app({"storage.backend": "dict"}, plugins=[guide])
    with TestClient(app) as client:
        storage = app.state.kernel.storage
        assert isinstance(storage, guide.DictStorage) and storage.describe().startswith("dict storage")
        assert client.get("/readyz").status_code == 200

        async def use() -> None:
            first = await storage.put("notes/a", b"1")
            with pytest.raises(PreconditionFailed):
                await storage.put("notes/a", b"2", if_absent=True)
            with pytest.raises(PreconditionFailed):
                await storage.put("notes/a", b"2", if_version="stale")
            second = await storage.put("notes/a", b"2", if_version=first)
            assert second != first and (await storage.get("notes/a")).data == b"2"
            for n in range(5):
                await storage.put(f"notes/b{n}", b"x")
            page = await storage.list("notes/", limit=4)
            assert isinstance(page.keys, tuple) and page.keys == ("notes/a", "notes/b0", "notes/b1", "notes/b2")
            last = await storage.list("notes/", limit=4, cursor=page.cursor)
            assert last.keys == ("notes/b3", "notes/b4") and last.cursor is None
            with pytest.raises(InvalidKey):
                await storage.get("notes/.hidden")
            await storage.delete("notes/a", if_version=second)
            with pytest.raises(NotFound):
                await storage.get("notes/a")

        client.portal.call(use)


def test_the_route_example_guards_its_routes():
    guide = example("routes")
    app = make_app(plugins=[guide.plugin])
    with TestClient(app) as client:
        assert client.get("/notes").status_code == 401
        user, scripter = auth_headers(app, "u-1", ("user",)), auth_headers(app, "s-1", ("scripter",))
        assert client.post("/notes", json={"text": "hi"}, headers=user).status_code == 403
        created = client.post("/notes", json={"text": "hi"}, headers=scripter)
        assert created.status_code == 201 and created.json() == {"text": "hi", "by": "s-1"}
        bad = client.post("/notes", json={"text": 3}, headers=scripter)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "text"
        assert client.get("/notes", headers=scripter).json()["items"] == [{"text": "hi", "by": "s-1"}]
        assert client.get("/notes", headers=user).json()["items"] == []
        # the plugin's name is its `name` attribute; /plugins is admin-only
        assert client.get("/plugins", headers=user).status_code == 403
        listed = client.get("/plugins", headers=auth_headers(app, "a-1", ("admin",))).json()
        names = [p["name"] for p in listed["items"]]
        assert "notes" in names


def test_the_password_provider_example_signs_people_in():
    pytest.importorskip("roleplay_auth", reason="a password provider needs roleplay-auth installed")
    guide = example("password provider")
    with TestClient(make_app(plugins=[guide])) as client:
        providers = {p["name"]: p for p in client.get("/auth/providers").json()["items"]}
        assert providers["directory"]["kind"] == "password"
        login = {"email": " Kim@Corp.Example ", "password": "directory secret 1", "provider": "directory"}
        signed_in = client.post("/auth/login", json=login)
        assert signed_in.status_code == 200, signed_in.text
        me = client.get("/users/me", headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"})
        assert me.json()["email"] == "kim@corp.example" and me.json()["display_name"] == "Kim Lee"
        wrong = client.post("/auth/login", json={**login, "password": "nope"})
        assert wrong.status_code == 401


def test_a_plugin_object_is_named_by_name_then_dunder_name_then_class():
    from roleplay_core.testing import make_kernel

    class Named:
        name = "by-attribute"

    class Unnamed:
        pass

    module = types.ModuleType("some.module")
    kernel = make_kernel(plugins=[Named(), Unnamed(), module], load_entry_points=False)
    assert [info.name for info in kernel.plugins][-3:] == ["by-attribute", "Unnamed", "some.module"]
    asyncio.run(kernel.storage.close())
