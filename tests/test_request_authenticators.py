"""The ``authenticate_request`` hook: plugins accept credentials the kernel's JWTs are not.

Over HTTP (``Authorization: Bearer`` and ``X-API-Key``) and the WebSocket auth frame, with a
stand-in identity provider's tokens; and proof that the hot path does not call it.
"""

from __future__ import annotations

import pytest
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from roleplay_core import (
    JSON,
    PluginError,
    Principal,
    authenticate_websocket,
    create_app,
    current_principal,
    hookimpl,
    requires_role,
)
from roleplay_core.testing import auth_headers, make_kernel


@requires_role("scripter")
async def whoami(request):
    principal = current_principal(request)
    return JSON({"id": principal.id, "roles": list(principal.roles)})


async def socket(websocket):
    principal = await authenticate_websocket(websocket)
    if principal is not None:
        await websocket.send_json({"type": "hello", "id": principal.id})
        await websocket.close()


class CompanyIdP:
    """Accepts ``idp:<user>`` tokens, as a company's identity provider would issue them."""

    name = "company_idp"

    def __init__(self):
        self.asked = []

    @hookimpl
    def register_routes(self):
        return [Route("/whoami", whoami), WebSocketRoute("/socket", socket)]

    @hookimpl
    async def authenticate_request(self, token):
        self.asked.append(token)
        if not token.startswith("idp:"):
            return None
        return Principal(id=f"idp-{token[4:]}", roles=("scripter",))


def app_with(plugin, **settings):
    return create_app(make_kernel(settings, plugins=[plugin], load_entry_points=False))


def test_a_plugin_token_works_as_bearer_and_as_x_api_key():
    idp = CompanyIdP()
    app = app_with(idp)
    with TestClient(app) as client:
        assert client.get("/whoami", headers={"Authorization": "Bearer idp:kim"}).json() == {
            "id": "idp-kim", "roles": ["scripter"]}
        assert client.get("/whoami", headers={"X-API-Key": "idp:lee"}).json()["id"] == "idp-lee"
        refused = client.get("/whoami", headers={"Authorization": "Bearer other"})
        assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json")
        assert client.get("/whoami", headers={"X-API-Key": "other"}).status_code == 401


def test_the_hook_is_not_called_for_kernel_tokens_nor_without_credentials():
    idp = CompanyIdP()
    app = app_with(idp)
    with TestClient(app) as client:
        assert client.get("/whoami", headers=auth_headers(app, "u-1", ("scripter",))).status_code == 200
        assert client.get("/whoami").status_code == 401
        assert client.get("/healthz").status_code == 200
        assert idp.asked == []
        client.get("/whoami", headers={"Authorization": "Bearer not-a-jwt"})
        assert idp.asked == ["not-a-jwt"]


def test_a_plugin_token_authenticates_a_websocket():
    idp = CompanyIdP()
    with TestClient(app_with(idp)) as client:
        with client.websocket_connect("/socket") as ws:
            ws.send_json({"type": "auth", "token": "idp:kim"})
            assert ws.receive_json()["user"] == {"id": "idp-kim", "roles": ["scripter"]}
            assert ws.receive_json() == {"type": "hello", "id": "idp-kim"}
        with client.websocket_connect("/socket") as ws:
            ws.send_json({"type": "auth", "token": "nobody"})
            frame = ws.receive_json()  # the kernel's error frame, then the close
            assert frame["code"] == "bad_auth" and "authentication failed" in frame["detail"], frame
            assert ws.receive()["code"] == 4401


def test_an_answer_that_is_no_principal_is_a_plugin_error():
    class Broken:
        name = "broken"

        @hookimpl
        def authenticate_request(self, token):
            return {"id": "x"}

    import asyncio

    kernel = make_kernel(plugins=[Broken()], load_entry_points=False)
    with pytest.raises(PluginError, match="not a Principal"):
        asyncio.run(kernel.authenticate("anything"))
