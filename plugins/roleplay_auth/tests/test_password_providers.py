"""A third party's password provider (an LDAP-like directory) signs people in through POST /auth/login.

Test home of ``roleplay_auth.local``, ``roleplay_core.identity``.
"""

from auth_helpers import PASSWORD, bearer, register
from starlette.testclient import TestClient

from roleplay_core import AuthProvider, ExternalIdentity, hookimpl
from roleplay_core.testing import make_app


class Directory(AuthProvider):
    name = "directory"
    display_name = "Company directory"
    kind = "password"
    people = {"kim@corp.example": ("directory secret 1", "uid-kim", True),
              "lee@corp.example": ("directory secret 2", "uid-lee", False),
              "odd@corp.example": ("directory secret 3", "uid-odd", True)}
    names = {"odd@corp.example": "Odd\x00 \x1b[31mName\u0085 "}

    async def authenticate(self, credentials):
        found = self.people.get(credentials["email"])
        if found is None or found[0] != credentials["password"]:
            return None
        return ExternalIdentity(provider="directory", subject=found[1], email=credentials["email"],
                                email_verified=found[2],
                                display_name=self.names.get(credentials["email"], credentials["email"].split("@")[0]))


class DirectoryPlugin:
    name = "directory"

    @hookimpl
    def register_auth_providers(self):
        return {"directory": lambda kernel: Directory()}


def test_a_plugin_password_provider_signs_in_creates_and_links_accounts():
    with TestClient(make_app(plugins=[DirectoryPlugin()])) as client:
        listed = {p["name"]: p for p in client.get("/auth/providers").json()["items"]}
        assert listed["directory"]["kind"] == "password"

        first = client.post("/auth/login", json={"email": "kim@corp.example", "password": "directory secret 1",
                                                 "provider": "directory"})
        assert first.status_code == 200, first.text
        me = client.get("/auth/me", headers=bearer(first.json())).json()
        again = client.post("/auth/login", json={"email": "kim@corp.example", "password": "directory secret 1",
                                                 "provider": "directory"})
        assert client.get("/auth/me", headers=bearer(again.json())).json()["id"] == me["id"]

        wrong = client.post("/auth/login", json={"email": "kim@corp.example", "password": "nope",
                                                 "provider": "directory"})
        assert wrong.status_code == 401
        # The directory account is not a local password: local login with the directory password fails.
        assert client.post("/auth/login", json={"email": "kim@corp.example",
                                                "password": "directory secret 1"}).status_code == 401

        # A verified directory email links to the existing local account with that email.
        local = register(client, "lee@corp.example")
        linked = client.post("/auth/login", json={"email": "lee@corp.example", "password": "directory secret 2",
                                                  "provider": "directory"})
        # lee's directory entry does not vouch for the email: refused rather than linked
        assert linked.status_code == 409
        assert client.post("/auth/login", json={"email": "lee@corp.example", "password": PASSWORD}).status_code == 200
        assert local["user"]["email"] == "lee@corp.example"


def test_unknown_or_non_password_provider_is_a_field_error():
    with TestClient(make_app(plugins=[DirectoryPlugin()])) as client:
        response = client.post("/auth/login", json={"email": "a@example.org", "password": "x" * 12,
                                                    "provider": "nope"})
        assert response.status_code == 422
        error = response.json()["errors"][0]
        assert error["field"] == "provider" and "directory" in error["message"] and "local" in error["message"]


def test_names_from_a_provider_lose_control_characters():
    with TestClient(make_app(plugins=[DirectoryPlugin()])) as client:
        pair = client.post("/auth/login", json={"email": "odd@corp.example", "password": "directory secret 3",
                                                "provider": "directory"}).json()
        assert client.get("/users/me", headers=bearer(pair)).json()["display_name"] == "Odd [31mName"
