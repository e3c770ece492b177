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


def test_a_failed_production_start_closes_what_it_opened():
    """Plugins that had started are shut down, model clients and storage closed: nothing leaks."""
    from roleplay_core import ModelProvider

    events: list[str] = []

    class Clock(ModelProvider):
        name = "clock"

        async def close(self):
            events.append("model closed")

    class Starter:
        name = "starter"

        @hookimpl(tryfirst=True)
        def startup(self, kernel):
            kernel.model("clock")  # a client made while starting, as a start-up probe does
            events.append("started")

        @hookimpl
        def shutdown(self, kernel):
            events.append("shut down")

        @hookimpl
        def register_model_providers(self, kernel):
            return {"clock": lambda kernel: Clock()}

    strong = "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae"
    kernel = make_kernel({"security.jwt_secret": strong, "cors.allow_origins": ["https://app.example.org"]},
                         plugins=[Starter(), Exploding()], load_entry_points=False, env="production")
    with pytest.raises(PluginError, match="cannot reach the moon"):
        with TestClient(create_app(kernel)):
            pass
    assert events == ["started", "shut down", "model closed"]
    assert not kernel.started


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
    names = {p["name"]: p for p in body["items"]}
    assert names["greeter"]["routes"] == ["/greet/hello"]
    assert names["greeter"]["distribution"] == "rp_fake_greeter"
    assert names["core"]["routes"] == ["/healthz", "/readyz", "/plugins", "/openapi.json", "/asyncapi.json", "/docs",
                                       "/docs/{name}"]


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


# -- hook semantics, order and the one bootstrap (issue 14, items 1 and 4) ----------------------

ORDERED = """
from roleplay_core import hookimpl

calls = []

@hookimpl
def settings_defaults(env):
    return {"order": {"winner": "{name}", "{name}": True}}

@hookimpl
def startup(kernel):
    calls.append(("start", "{name}"))

@hookimpl
def shutdown(kernel):
    calls.append(("stop", "{name}"))
"""


class Recorder:
    def __init__(self, name, calls, **hookimpl_options):
        self.name = name
        self.calls = calls

        @hookimpl(**hookimpl_options)
        def startup(kernel):
            calls.append(("start", name))

        @hookimpl(**hookimpl_options)
        def shutdown(kernel):
            calls.append(("stop", name))

        @hookimpl(**hookimpl_options)
        def settings_defaults(env):
            return {"order": {"winner": name, name: True}}

        self.startup, self.shutdown, self.settings_defaults = startup, shutdown, settings_defaults


def test_plugins_run_in_the_documented_order(tmp_path):
    """core, then entry points by name, then plugin objects; hooks run last registered first."""
    modules = [fakeplugins.install(tmp_path, f"rp_fake_{name}", name, ORDERED.replace("{name}", name))
               for name in ("zeta", "alpha")]
    try:
        calls = []
        kernel = make_kernel(plugins=[Recorder("first-object", calls), Recorder("second-object", calls)],
                             **{"env": "development"})
        registered = [info.name for info in kernel.plugins]
        assert registered.index("core") == 0
        assert registered.index("alpha") < registered.index("zeta") < registered.index("first-object")
        assert registered[-2:] == ["first-object", "second-object"]
        # settings_defaults: every plugin's table merges; the last registered wins a shared key
        assert kernel.settings.get("order.winner") == "second-object"
        assert all(kernel.settings.get(f"order.{name}") for name in ("alpha", "zeta", "first-object"))
        for module in modules:
            sys.modules[module].calls = calls  # one record of every plugin's calls, in the order they came
        with TestClient(create_app(kernel)):
            pass
        order = ["second-object", "first-object", "zeta", "alpha"]  # hook order: last registered first
        assert calls == [("start", name) for name in order] + [("stop", name) for name in reversed(order)]
    finally:
        fakeplugins.uninstall(tmp_path, *modules)


def test_tryfirst_and_trylast_move_an_implementation():
    calls = []
    kernel = make_kernel(plugins=[Recorder("early", calls, tryfirst=True), Recorder("plain", calls),
                                  Recorder("late", calls, trylast=True)], load_entry_points=False)
    assert [name for name, _ in kernel.each_plugin("startup")] == ["early", "plain", "late"]
    assert [name for name, _ in kernel.each_plugin("shutdown", reverse=True)] == ["late", "plain", "early"]
    with TestClient(create_app(kernel)):
        pass
    assert calls == [("start", "early"), ("start", "plain"), ("start", "late"),
                     ("stop", "late"), ("stop", "plain"), ("stop", "early")]


def test_the_first_transcript_stops_the_others_without_running_them(recwarn):
    import asyncio

    ran = []

    class Found:
        name = "found"

        @hookimpl(tryfirst=True)
        async def get_transcript(self, session_id):
            ran.append("found")
            return {"session": session_id}

    class Later:
        name = "later"

        @hookimpl
        async def get_transcript(self, kernel, session_id):
            ran.append("later")  # never: the first answer already won
            return None

    kernel = make_kernel(plugins=[Later(), Found()], load_entry_points=False)
    assert asyncio.run(kernel.transcript("s1")) == {"session": "s1"}
    assert ran == ["found"]
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_check_principal_answers_the_first_reason_in_hook_order():
    import asyncio

    class Fine:
        name = "fine"

        @hookimpl(tryfirst=True)
        def check_principal(self, principal):
            return None

    class Gone:
        name = "gone"

        @hookimpl
        async def check_principal(self, kernel, principal):
            return f"{principal} is gone"

    kernel = make_kernel(plugins=[Gone(), Fine()], load_entry_points=False)
    assert asyncio.run(kernel.principal_problem("u-1")) == "u-1 is gone"
    alone = make_kernel(plugins=[Fine()], load_entry_points=False)
    assert asyncio.run(alone.principal_problem("u-1")) is None


def test_the_kernel_calls_hooks_through_the_hook_but_three_plugin_by_plugin():
    """``get_hookimpls`` appears once in the kernel: in ``each_plugin``, for routes, startup and shutdown."""
    import ast
    import inspect

    import roleplay_core.kernel as kernel_module

    tree = ast.parse(inspect.getsource(kernel_module))
    uses = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "get_hookimpls"]
    assert len(uses) == 1
    per_plugin = sorted(node.args[0].value for node in ast.walk(tree) if isinstance(node, ast.Call)
                        and getattr(node.func, "attr", "") == "each_plugin")
    assert per_plugin == ["register_routes", "shutdown", "startup"]
    from roleplay_core import hookspecs

    assert all(not getattr(hookspecs, name).roleplay_spec["firstresult"] for name in dir(hookspecs)
               if hasattr(getattr(hookspecs, name), "roleplay_spec"))


def test_the_three_registration_hooks_have_one_shape():
    import asyncio

    from roleplay_core import AuthProvider, ModelProvider
    from roleplay_core.storage import MemoryStorage

    made = []

    class Provider(AuthProvider):
        kind = "password"

        def __init__(self, name):
            self.name = name

    class Model(ModelProvider):
        name = "mine"

    class Everything:
        name = "everything"

        @hookimpl
        def register_storage_backends(self, kernel):
            assert kernel.settings.env == "development"
            return {"mine": lambda settings: made.append(("storage", settings.env)) or MemoryStorage(settings)}

        @hookimpl
        def register_model_providers(self, kernel):
            return {"mine": lambda kernel: made.append(("model", kernel.storage.name)) or Model()}

        @hookimpl
        def register_auth_providers(self):  # the argument may be left out, as for every hook
            return {"mine": lambda kernel: made.append(("auth", kernel.storage.name)) or Provider("mine")}

    kernel = make_kernel({"storage.backend": "mine"}, plugins=[Everything()], load_entry_points=False)
    assert made == [("storage", "development")]
    asyncio.run(kernel.open())
    assert made[-1] == ("auth", "memory") and kernel.auth_providers["mine"].name == "mine"
    assert isinstance(kernel.model("mine"), Model) and made[-1] == ("model", "memory")
    asyncio.run(kernel.stop())


def test_an_auth_provider_registered_under_another_name_is_refused():
    import asyncio

    from roleplay_core import AuthProvider

    class Named(AuthProvider):
        name = "actual"
        kind = "password"

    class Plugin:
        name = "liar"

        @hookimpl
        def register_auth_providers(self):
            return {"claimed": lambda kernel: Named()}

    kernel = make_kernel(plugins=[Plugin()], load_entry_points=False)
    with pytest.raises(PluginError, match="'claimed' calls itself 'actual'"):
        asyncio.run(kernel.open())
    asyncio.run(kernel.storage.close())


def test_only_bootstrap_builds_a_plugin_manager():
    """Kernel.create, the CLI's command list and ``roleplay check`` share :func:`roleplay_core.plugins.bootstrap`."""
    import ast
    from pathlib import Path

    import roleplay_core

    builders = []
    for path in Path(roleplay_core.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func)
                if called.endswith(("PluginManager", "new_plugin_manager", "discover", "register_extra")):
                    scope = path.name
                    builders.append((scope, called))
    assert sorted(builders) == [("plugins.py", "discover"), ("plugins.py", "new_plugin_manager"),
                                ("plugins.py", "pluggy.PluginManager"), ("plugins.py", "register_extra")]


def test_the_cli_and_the_kernel_see_the_same_plugins(greeter):
    from roleplay_core.cli import _command_plugin_manager
    from roleplay_core.kernel import Kernel

    on = _command_plugin_manager("development", {})
    off = _command_plugin_manager("development", {"plugins.greeter.enabled": False})
    assert on.get_plugin("greeter") is not None and off.get_plugin("greeter") is None
    kernel = Kernel.create(env="development", overrides={"plugins.greeter.enabled": False, "storage.backend": "memory"})
    assert kernel.plugin_info("greeter").status == "disabled in settings"
    assert [name for name, _ in on.list_name_plugin()] == [info.name for info in Kernel.create(
        env="development", overrides={"storage.backend": "memory"}).plugins if info.enabled]


def test_only_false_switches_a_plugin_off_and_a_string_is_a_problem(greeter):
    """Booleans are true or false in every layer (docs/configuration.md): "no" is no way to say false."""
    from roleplay_core.plugins import bootstrap

    found = bootstrap(env="development", settings_files=[],
                      overrides={"plugins.greeter.enabled": "no", "storage.backend": "memory"})
    assert "plugins.greeter.enabled: expected true or false" in found.problems
    assert found.pm.get_plugin("greeter") is not None


def test_each_plugin_has_its_own_state_per_kernel():
    first, second = make_kernel(load_entry_points=False), make_kernel(load_entry_points=False)
    made = []
    service = first.state("mine").setdefault("service", lambda: made.append(1) or object())
    assert first.state("mine").setdefault("service", lambda: made.append(2) or object()) is service
    assert made == [1] and first.state("mine") is first.state("mine")
    assert not hasattr(first.state("other"), "service")  # another plugin's namespace
    assert not hasattr(second.state("mine"), "service")  # another kernel's
    first.state("mine").counter = 3
    assert vars(first.state("mine")) == {"service": service, "counter": 3}


def test_no_module_keeps_state_keyed_by_kernel():
    """Per-kernel state lives in ``kernel.state(plugin)``, not in module-level weak dictionaries."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = [str(path.relative_to(root)) for path in [*root.glob("roleplay_core/**/*.py"),
                                                          *root.glob("plugins/*/roleplay_*/**/*.py")]
                 if "WeakKeyDictionary" in path.read_text()]
    assert offenders == []


def test_two_apps_in_one_process_keep_their_plugins_apart():
    """roleplay_auth's service is per kernel: users registered on one app do not exist on the other."""
    pytest.importorskip("roleplay_auth")
    from roleplay_core.testing import make_app

    password = "a long enough password 1"
    with TestClient(make_app()) as one, TestClient(make_app()) as two:
        body = {"email": "kim@example.com", "password": password, "display_name": "Kim"}
        assert one.post("/auth/register", json=body).status_code == 201
        assert two.post("/auth/login", json={"email": "kim@example.com", "password": password}).status_code == 401
        assert one.app.state.kernel.state("auth").service is not two.app.state.kernel.state("auth").service


def test_an_app_that_calls_no_model_imports_no_model_sdk(tmp_path):
    """Model SDKs are imported when a provider is first used, audio libraries when a voice call starts,
    the OAuth client at the first sign-in: `roleplay serve` on the scripted engine starts without
    loading openai, google-genai, numpy (its compiled core) or authlib's HTTP client (cold start)."""
    import subprocess

    heavy = ("openai", "google.genai", "numpy._core", "numpy.core", "authlib.integrations.httpx_client")
    code = ("import sys\n"
            "from roleplay_core import Kernel, create_app\n"
            "create_app(Kernel.create(env='development', settings_files=[], overrides={'storage.backend': 'memory'}))\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_start_up_moves_what_it_loaded_out_of_the_collectors_full_passes_once(tmp_path):
    """``server.gc_freeze``: after the first app starts, start-up's objects are frozen (gc.freeze);
    off, nothing is; a second app in the same process freezes nothing more."""
    import subprocess

    code = ("import gc\n"
            "from starlette.testclient import TestClient\n"
            "from roleplay_core.testing import make_app\n"
            "counts = []\n"
            "for freeze in (False, True, True):\n"
            "    with TestClient(make_app({'server.gc_freeze': freeze})):\n"
            "        counts.append(gc.get_freeze_count())\n"
            "print(counts)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**__import__("os").environ, "ROLEPLAY_ENV": "development"})
    assert done.returncode == 0, done.stderr
    off, first, second = eval(done.stdout.strip())  # noqa: S307 - a list of three ints printed above
    assert off == 0 and first > 10_000
    assert second <= first, "a second app freezes nothing more (frozen objects may still be freed)"


def test_gc_freeze_must_be_a_boolean():
    with pytest.raises(Exception, match="server.gc_freeze: expected true or false"):
        make_kernel({"server.gc_freeze": "yes"}, env="production",
                    plugins=[], load_entry_points=False)
