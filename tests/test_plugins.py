"""Plugin discovery from entry points, toggling, failures, routes and prefixes.

Test home of ``roleplay_core.kernel``, ``roleplay_core.plugins``.
"""

import logging
import sys

import pytest
from starlette.testclient import TestClient

from roleplay_core import PluginError, create_app, hookimpl
from roleplay_core.testing import auth_headers, make_kernel

from . import fakeplugins

GREETER = """
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from roleplay_core import hookimpl

async def hello(request):
    return PlainTextResponse("hello from greeter")

@hookimpl
def register_routes(kernel):
    return [Route("/greet/hello", hello)]

@hookimpl
def settings_defaults(env):
    return {"greeter": {"word": "hello", "env": env}}
"""


@pytest.fixture
def greeter(tmp_path):
    name = fakeplugins.install(tmp_path, "rp_fake_greeter", "greeter", GREETER)
    yield name
    fakeplugins.uninstall(tmp_path, name)


def test_discovered_plugin_serves_its_routes_and_defaults(greeter):
    kernel = make_kernel()
    info = kernel.plugin_info("greeter")
    assert info is not None and info.enabled
    assert info.distribution == "rp_fake_greeter" and info.version == "1.2.3"
    assert kernel.settings.get("greeter.word") == "hello"
    assert kernel.settings.get("greeter.env") == "development"
    with TestClient(create_app(kernel)) as client:
        assert client.get("/greet/hello").text == "hello from greeter"
    assert "/greet/hello" in info.routes
    assert "register_routes" in info.hooks


def test_layers_override_plugin_defaults(greeter):
    kernel = make_kernel({"greeter.word": "hola"})
    assert kernel.settings.get("greeter.word") == "hola"
    assert kernel.settings.get("greeter.env") == "development"  # the rest of the table survives


def test_disabled_plugin_is_not_imported(greeter, monkeypatch):
    monkeypatch.setenv("ROLEPLAY_PLUGINS__GREETER__ENABLED", "false")
    kernel = make_kernel()
    assert greeter not in sys.modules
    info = kernel.plugin_info("greeter")
    assert not info.enabled and info.status == "disabled in settings"
    with TestClient(create_app(kernel)) as client:
        assert client.get("/greet/hello").status_code == 404


def test_prefix_moves_all_routes(greeter):
    kernel = make_kernel({"plugins.greeter.prefix": "/v2"})
    with TestClient(create_app(kernel)) as client:
        assert client.get("/v2/greet/hello").status_code == 200
        assert client.get("/greet/hello").status_code == 404


def test_broken_plugin_skipped_in_development_fatal_in_production(tmp_path, caplog):
    name = fakeplugins.install(tmp_path, "rp_fake_broken", "broken", "raise RuntimeError('boom at import')\n")
    try:
        with caplog.at_level(logging.WARNING, logger="roleplay.plugins"):
            kernel = make_kernel()
        info = kernel.plugin_info("broken")
        assert not info.enabled and "boom at import" in info.status
        assert "broken" in caplog.text and "boom at import" in caplog.text
        with pytest.raises(PluginError, match=r"'broken'.*boom at import"):
            make_kernel({"security.jwt_secret": "x" * 8 + "abcdefghijklmnopqrstuvwxyz012345",
                         "storage.file.allow_in_production": True, "storage.backend": "memory"},
                        env="production")
    finally:
        fakeplugins.uninstall(tmp_path, name)


class Exploding:
    name = "exploding"

    @hookimpl
    def register_routes(self):
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        async def moon(request):
            return PlainTextResponse("moon")

        return [Route("/moon", moon)]

    @hookimpl
    def startup(self, kernel):
        raise RuntimeError("cannot reach the moon")


def test_plugin_that_fails_to_start_is_skipped_in_development(caplog):
    app = create_app(make_kernel(plugins=[Exploding()], load_entry_points=False))
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        ready = client.get("/readyz", headers=auth_headers(app, "root", ("admin",)))
        moon = client.get("/moon")
    assert ready.status_code == 200
    assert ready.json()["checks"]["plugins"]["skipped"] == ["exploding"]
    assert moon.status_code == 503 and "cannot reach the moon" in moon.json()["detail"]
    assert "exploding" in caplog.text and "cannot reach the moon" in caplog.text


def test_plugin_that_fails_to_start_stops_production():
    strong = "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae"
    kernel = make_kernel({"security.jwt_secret": strong, "cors.allow_origins": ["https://app.example.org"]},
                         plugins=[Exploding()], load_entry_points=False, env="production")
    app = create_app(kernel)
    with pytest.raises(PluginError, match=r"'exploding'.*cannot reach the moon"):
        with TestClient(app):
            pass


def test_two_plugins_claiming_one_path_are_refused_naming_both():
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def endpoint(request):
        return PlainTextResponse("x")

    class First:
        name = "first"

        @hookimpl
        def register_routes(self):
            return [Route("/things/{id}", endpoint)]

    class Second:
        name = "second"

        @hookimpl
        def register_routes(self):
            return [Route("/things/{thing_id}", endpoint, methods=["POST"])]

    kernel = make_kernel(plugins=[First(), Second()], load_entry_points=False)
    with pytest.raises(PluginError) as info:
        create_app(kernel)
    assert "'first'" in str(info.value) and "'second'" in str(info.value) and "/things/" in str(info.value)


def test_misspelt_hook_fails_loudly():
    class Typo:
        name = "typo"

        @hookimpl
        def register_route(self, kernel):  # missing "s"
            return []

    with pytest.raises(PluginError, match="register_route"):
        make_kernel(plugins=[Typo()], load_entry_points=False)


def test_plugins_endpoint_is_admin_only(greeter):
    app = create_app(make_kernel())
    with TestClient(app) as client:
        assert client.get("/plugins").status_code == 401
        assert client.get("/plugins", headers=auth_headers(app, roles=("scripter",))).status_code == 403
        body = client.get("/plugins", headers=auth_headers(app, roles=("admin",))).json()
    names = {p["name"]: p for p in body["plugins"]}
    assert names["greeter"]["routes"] == ["/greet/hello"]
    assert names["greeter"]["distribution"] == "rp_fake_greeter"
    assert names["core"]["routes"] == ["/healthz", "/readyz", "/plugins"]


def test_async_startup_and_shutdown_are_awaited():
    calls = []

    class Lifecycle:
        name = "lifecycle"

        @hookimpl
        async def startup(self, kernel):
            calls.append(("start", kernel.storage.name))

        @hookimpl
        def shutdown(self, kernel):
            async def later():
                calls.append(("stop", kernel.started))

            return later()

    with TestClient(create_app(make_kernel(plugins=[Lifecycle()], load_entry_points=False))):
        assert calls == [("start", "memory")]
    assert calls == [("start", "memory"), ("stop", True)]


def test_unknown_storage_backend_names_the_choices():
    from roleplay_core import SettingsError

    with pytest.raises(SettingsError, match=r"'nope'.*file.*memory"):
        make_kernel({"storage.backend": "nope"})


def test_transcript_asks_every_owner_and_awaits_each():
    class Empty:
        name = "empty"

        @hookimpl
        async def get_transcript(self, kernel, session_id):
            return None

    class Owner:
        name = "owner"

        @hookimpl
        def get_transcript(self, session_id):
            return {"session": session_id} if session_id == "s1" else None

    kernel = make_kernel(plugins=[Owner(), Empty()], load_entry_points=False)
    import asyncio

    assert asyncio.run(kernel.transcript("s1")) == {"session": "s1"}
    assert asyncio.run(kernel.transcript("s2")) is None
