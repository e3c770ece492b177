"""The three apps that ``benchmarks/kernel_auth_route.py`` serves, as uvicorn factories.

Each is started in its own uvicorn process with ``--factory --app-dir benchmarks/kernel``:

- ``servers:bare``    a bare Starlette app, one plain-text route;
- ``servers:kernel``  the real kernel app (every kernel middleware) with one plugin route that
                      needs a signed-in user (``current_principal``, 401 otherwise) and answers
                      JSON through ``roleplay_core.JSON``;
- ``servers:fastapi`` the same route written the usual FastAPI way: an async dependency that
                      decodes the JWT with pyjwt on every request, and a pydantic response model.

The signing secret comes from ``BENCH_JWT_SECRET`` so the load generator can hold a token
that both the kernel and the FastAPI app accept (same key, issuer, audience, HS256).
"""

from __future__ import annotations

import os

ISSUER = "roleplay"
AUDIENCE = "roleplay"
PATH = "/me"


def _secret() -> str:
    secret = os.environ.get("BENCH_JWT_SECRET")
    if not secret:
        raise RuntimeError("set BENCH_JWT_SECRET (the benchmark script does)")
    return secret


def bare():
    """Starlette, no middleware, ``GET /me`` answers ``hello`` as text/plain."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("hello")

    return Starlette(routes=[Route(PATH, hello, methods=["GET"])])


class BenchPlugin:
    """A tiny plugin object: its only hook adds the benchmarked route."""

    name = "bench"

    def __init__(self) -> None:
        import attrs
        from starlette.routing import Route

        from roleplay_core import JSON, current_principal, hookimpl

        @attrs.frozen
        class Me:
            id: str
            roles: tuple[str, ...]

        async def me(request):
            principal = current_principal(request)  # the guard: 401 unless signed in
            return JSON(Me(id=principal.id, roles=principal.roles))

        @hookimpl
        def register_routes(kernel):
            return [Route(PATH, me, methods=["GET"])]

        self.register_routes = register_routes


def kernel():
    """The real kernel app: request id, CORS, body limit and auth middleware all on, memory storage."""
    from roleplay_core.testing import make_app

    settings = {"security.jwt_secret": _secret(), "security.jwt_issuer": ISSUER, "security.jwt_audience": AUDIENCE}
    if os.environ.get("BENCH_TOKEN_CACHE_SIZE"):  # --token-cache-size: 0 shows the cost without the cache
        settings["security.token_cache_size"] = int(os.environ["BENCH_TOKEN_CACHE_SIZE"])
    return make_app(settings, plugins=[BenchPlugin()], load_entry_points=False)


def fastapi():
    """FastAPI: ``Depends`` on an async JWT check per request, a pydantic response model."""
    import jwt
    from fastapi import Depends, FastAPI, Header, HTTPException
    from pydantic import BaseModel

    secret = _secret().encode()

    class Me(BaseModel):
        id: str
        roles: list[str]

    async def current_user(authorization: str | None = Header(default=None)) -> Me:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "Sign in first", headers={"WWW-Authenticate": "Bearer"})
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=10,
                options={"require": ["sub", "exp", "iat", "iss", "aud", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}) from None
        return Me(id=str(claims["sub"]), roles=list(claims.get("roles") or []))

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get(PATH, response_model=Me)
    async def me(user: Me = Depends(current_user)) -> Me:
        return user

    return app
