"""Shared helpers for the roleplay_auth tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any

from auth_oidc_provider import OIDCTestProvider

PASSWORD = "a sturdy passphrase 42"


def start_provider(name: str, *, client_secret: str = "client-secret-" + "x" * 8) -> OIDCTestProvider:
    redirect = f"http://localhost/auth/oauth/{name}/callback"
    return OIDCTestProvider(f"{name}-client", client_secret, [redirect]).start()


def oidc_settings(name: str, provider: OIDCTestProvider, **extra: Any) -> dict[str, Any]:
    return {
        f"auth.oidc.{name}.discovery_url": provider.discovery_url,
        f"auth.oidc.{name}.client_id": provider.client.client_id,
        f"auth.oidc.{name}.client_secret": provider.client.secret,
        f"auth.oidc.{name}.display_name": name.title(),
        "auth.oauth_redirect_base": "http://localhost",
        **extra,
    }


def register(client, email: str, password: str = PASSWORD, name: str = "Test User", **extra: Any) -> dict[str, Any]:
    response = client.post("/auth/register", json={"email": email, "password": password, "display_name": name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def login(client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(pair_or_token: Any) -> dict[str, str]:
    token = pair_or_token["access_token"] if isinstance(pair_or_token, dict) else pair_or_token
    return {"Authorization": f"Bearer {token}"}


def browser_sign_in(client, provider_name: str, provider: OIDCTestProvider):
    """Drive the redirect flow like a browser: our login -> provider authorize -> our callback.

    Returns ``(callback_response, authorize_location)``. The hop to the provider is a real
    HTTP request to its loopback server; the hop back goes through ``client``.
    """
    import httpx

    start = client.get(f"/auth/oauth/{provider_name}/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    to_provider = start.headers["location"]
    assert to_provider.startswith(provider.issuer + "/authorize?")
    answer = httpx.get(to_provider, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(f"http://localhost/auth/oauth/{provider_name}/callback?")
    path = back.removeprefix("http://localhost")
    return client.get(path, follow_redirects=False), back
