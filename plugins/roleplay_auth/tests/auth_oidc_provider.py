"""A real OpenID Connect provider for tests, built from Authlib's server components.

Authlib's ``AuthorizationServer`` with the authorization-code grant, the OIDC
``OpenIDCode`` extension (id_token signed with an RSA key published as a JWKS) and
PKCE required for every client, served by Starlette on uvicorn on 127.0.0.1
in a background thread. The "browser session" is ``provider.user``: whoever the
provider considers signed in approves every authorization request.

Knobs for attacks: ``sign_with_rogue_key`` (an id_token signed by a key that is not
in the JWKS), ``nonce_override`` (an id_token carrying another sign-in's nonce).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class Client(ClientMixin):
    def __init__(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        self.client_id = client_id
        self.secret = secret
        self.redirect_uris = redirect_uris

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return bool(self.secret) and client_secret == self.secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post") if self.secret else method == "none"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


class Code(AuthorizationCodeMixin):
    def __init__(self, provider: OIDCTestProvider, **fields: Any) -> None:
        self.provider = provider
        self.__dict__.update(fields)

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.provider.nonce_override or self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class StrictCodeChallenge(CodeChallenge):
    """PKCE for every client, confidential ones too (as OAuth 2.1 asks); Authlib requires it only for public ones."""

    def validate_code_challenge(self, grant, redirect_uri):
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge'")
        return super().validate_code_challenge(grant, redirect_uri)


class Request_(OAuth2Request):
    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class OIDCTestProvider:
    """Start with :meth:`start`, stop with :meth:`stop`; ``issuer`` is its base URL."""

    def __init__(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        self.client = Client(client_id, client_secret, redirect_uris)
        self.key = RSAKey.generate_key(2048, {"kid": "k1", "use": "sig", "alg": "RS256"}, private=True)
        self.rogue_key = RSAKey.generate_key(2048, {"kid": "k1", "use": "sig", "alg": "RS256"}, private=True)
        self.sign_with_rogue_key = False
        self.nonce_override: str | None = None
        self.user: dict[str, Any] | None = None
        #: When the person signed in at the provider (an SSO session); None: at every authorize. A
        #: request with prompt=login or max_age=0 makes them sign in again (now), as real providers do.
        self.signed_in_at: int | None = None
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.discovery_hits = 0
        self.jwks_hits = 0
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.server = self._authorization_server()
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _auth_time(self, params: dict) -> int:
        fresh = params.get("prompt") == "login" or str(params.get("max_age")) == "0"
        if fresh or self.signed_in_at is None:
            self.signed_in_at = int(time.time()) if fresh else self.signed_in_at
            return int(time.time())
        return self.signed_in_at

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # -- Authlib wiring ---------------------------------------------------------

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id):
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token, request):
                provider.tokens[token["access_token"]] = request.user

            def create_oauth2_request(self, request):
                return request

            def handle_response(self, status, body, headers):
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body or b"", status_code=status, headers=dict(headers))

            def send_signal(self, name, *args, **kwargs):
                pass

        class CodeGrant(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

            def save_authorization_code(self, code, request):
                data = request.payload.data
                provider.codes[code] = Code(
                    provider, code=code, client_id=request.client.get_client_id(),
                    redirect_uri=data.get("redirect_uri"), scope=request.payload.scope, nonce=data.get("nonce"),
                    user=request.user, auth_time=provider._auth_time(data),
                    code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class OpenID(OpenIDCode):
            def exists_nonce(self, nonce, request):
                return False

            def resolve_client_private_key(self, client):
                return provider.rogue_key if provider.sign_with_rogue_key else provider.key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": "k1"}

            def get_client_claims(self, client):
                return {"iss": provider.issuer, "aud": [client.get_client_id()]}

            def generate_user_info(self, user, scope):
                return dict(user)

        server = Server()
        server.register_token_generator("default", BearerTokenGenerator(lambda **kw: generate_token(42)))
        server.register_grant(CodeGrant, [OpenID(require_nonce=True), StrictCodeChallenge(required=True)])
        return server

    # -- HTTP -------------------------------------------------------------------

    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            self.discovery_hits += 1
            return JSONResponse({
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "scopes_supported": ["openid", "email", "profile"],
            })

        async def jwks(request: Request) -> Response:
            self.jwks_hits += 1
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        async def authorize(request: Request) -> Response:
            self.authorize_requests.append(dict(request.query_params))
            if self.user is None:
                return Response("nobody is signed in at the provider", status_code=401)
            oauth_request = Request_(request, {})
            try:
                grant = self.server.get_consent_grant(oauth_request, end_user=self.user)
            except OAuth2Error as error:
                return JSONResponse(dict(error.get_body()), status_code=error.status_code)
            return self.server.create_authorization_response(oauth_request, grant_user=self.user, grant=grant)

        async def token(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))  # no python-multipart needed
            self.token_requests.append(form)
            return self.server.create_token_response(Request_(request, form))

        async def userinfo(request: Request) -> Response:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            user = self.tokens.get(bearer)
            if user is None:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return JSONResponse(dict(user))

        return Starlette(routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/userinfo", userinfo),
        ])

    def start(self) -> OIDCTestProvider:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)
        self._thread.start()
        deadline = time.time() + 10
        while not self._uvicorn.started:
            if time.time() > deadline:
                raise RuntimeError("the test OIDC provider did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UvicornThread:
    """Any ASGI app on uvicorn on 127.0.0.1 in a thread (for real-concurrency tests)."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(20)
