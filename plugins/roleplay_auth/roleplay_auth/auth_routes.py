"""``/auth/*``: register, login, refresh, logout, providers, OAuth/OIDC sign-in, me."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roleplay_core import (
    JSON,
    FieldError,
    Problem,
    Query,
    current_principal,
    maybe_await,
    operation,
    parse_body,
    validation_problem,
)

from .bodies import Login, RefreshBody, Register, checked_email, checked_language, checked_name
from .emails import normalise
from .refresh import RefreshError, RefreshReused
from .schemas import ProviderList, Registered, SignedIn, TokenPair, UserDetail
from .service import AuthService, service
from .throttle import too_many
from .users import EmailTaken, User

WRONG_CREDENTIALS = "The email or password is wrong."


def auth_of(request: Request) -> AuthService:
    """The auth service of the app handling ``request``."""
    return service(request.app.state.kernel)


def client_address(request: Request) -> str:
    """The client's address as the ASGI server reports it (uvicorn --proxy-headers trusts X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


def audit_email(email: str) -> str:
    """What the audit log keeps of an email someone typed: at most 254 characters (the longest
    email there can be), so a failed login cannot write a megabyte into the log."""
    return email if len(email) <= MAX_EMAIL else email[:MAX_EMAIL] + "…"


MAX_EMAIL = 254

#: An HttpOnly cookie naming this browser as a device that signed in before (throttle.py).
DEVICE_COOKIE = "roleplay_device"


def device_of(request: Request) -> str | None:
    value = request.cookies.get(DEVICE_COOKIE) or None
    return value if value and len(value) <= 64 else None


@operation("Create an account with a password", public=True, body=Register, responses={201: Registered},
           problems=(403, 409, 429),
           links={"read": ("GET /users/{user_id}", {"user_id": "$response.body#/user/id"})})
async def register(request: Request) -> Response:
    auth = auth_of(request)
    if not auth.registration_enabled:
        raise Problem(403, "Registration is switched off here; ask an admin for an account.")
    # Every attempt counts, before the body is even read: each one may cost a password hash.
    limit, window = auth.limit(auth.config.registration.per_address)
    wait = await auth.limits.take("register", client_address(request), limit=limit, window=window)
    if wait:
        raise too_many("Too many registrations from this address; try again later.", wait)
    body = await parse_body(request, Register)
    email = checked_email(body.email)
    display_name = checked_name(body.display_name)
    language = checked_language(body.preferred_language)
    problems = auth.password_problems(body.password, email)
    if problems:
        raise validation_problem([FieldError("password", p) for p in problems])
    try:
        user = await auth.create_local_user(email=email, password=body.password, display_name=display_name,
                                            preferred_language=language)
    except EmailTaken:
        raise Problem(409, "An account with this email already exists.", errors=[
            FieldError("email", "is already registered")]) from None
    await auth.record("user.registered", user_id=user.id, method="local", ip=client_address(request))
    return JSON({"user": user.public(), **await auth.sign_in(user)}, status_code=201,
                headers={"Location": f"{auth.prefix}/users/{user.id}"})


@operation("Sign in with an email and a password", public=True, body=Login, responses={200: TokenPair},
           problems=(401, 429))
async def login(request: Request) -> Response:
    auth = auth_of(request)
    body = await parse_body(request, Login)
    email = normalise(body.email)
    ip = client_address(request)
    device = device_of(request)
    provider = request.app.state.kernel.auth_providers.get(body.provider)
    if provider is None or provider.kind != "password":
        names = sorted(n for n, p in request.app.state.kernel.auth_providers.items() if p.kind == "password")
        raise validation_problem([FieldError("provider", f"no password sign-in named {body.provider!r}; "
                                                         f"available: {', '.join(names) or 'none'}")])
    await auth.throttle.check(email, ip, device)
    # A plugin's provider may answer synchronously (docs/plugins.md): await only an awaitable.
    identity = await maybe_await(provider.authenticate({"email": email, "password": body.password}))
    if identity is None:
        await auth.throttle.failure(email, ip)
        await auth.record("login.failed", email=audit_email(email), method=provider.name, ip=ip)
        raise Problem(401, WRONG_CREDENTIALS, headers={"WWW-Authenticate": 'Bearer realm="roleplay"'})
    if provider.name == "local":
        user = await auth.users.get_user(identity.subject)
        how = "existing"
    else:  # another plugin's directory: find, link or create the account as for OIDC
        user, how = await auth.user_for_identity(identity)
    if user is None:  # deleted between the check and now
        raise Problem(401, WRONG_CREDENTIALS)
    if user.disabled:
        # The same answer as a wrong password: the right one must not tell a guesser it was right.
        await auth.record("login.failed", user_id=user.id, method=provider.name, ip=ip, reason="disabled")
        raise Problem(401, WRONG_CREDENTIALS, headers={"WWW-Authenticate": 'Bearer realm="roleplay"'})
    device = await auth.throttle.success(email, ip, device)
    await auth.record("login.succeeded", user_id=user.id, method=provider.name, ip=ip, account=how)
    response = JSON(await auth.sign_in(user))
    # This browser is now a known device of the account: a lock-out by someone else's wrong
    # guesses does not apply to it (throttle.py).
    response.set_cookie(DEVICE_COOKIE, device, max_age=int(auth.throttle.known_seconds), path=f"{auth.prefix}/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@operation("Trade a refresh token for a new token pair", public=True, body=RefreshBody,
           responses={200: TokenPair}, problems=(401, 403))
async def refresh(request: Request) -> Response:
    auth = auth_of(request)
    body = await parse_body(request, RefreshBody)
    try:
        grant = await auth.refresh.use(body.refresh_token)
    except RefreshReused as exc:
        await auth.record("refresh.reused", user_id=exc.user_id, family=exc.family, ip=client_address(request))
        raise Problem(401, "This refresh token was already used; every session of this sign-in is now ended. "
                           "Sign in again.") from None
    except RefreshError as exc:
        raise Problem(401, f"The refresh token is not valid: {exc}.") from None
    user = await auth.users.get_user(grant.user_id)
    if user is None or user.session_epoch != grant.epoch:
        await auth.refresh.revoke_family(grant.family)
        raise Problem(401, "This session has ended; sign in again.")
    if user.disabled:
        await auth.refresh.revoke_family(grant.family)
        raise Problem(403, "This account is disabled.")
    # The new access token keeps the family's sign-in time: refreshing is not re-authenticating.
    return JSON(auth.pair(user, await auth.refresh.rotate(grant, user.session_epoch), grant.auth_time))


@operation("End the sign-in a refresh token belongs to", public=True, body=RefreshBody, responses={204: None})
async def logout(request: Request) -> Response:
    auth = auth_of(request)
    body = await parse_body(request, RefreshBody)
    await auth.refresh.revoke(body.refresh_token)
    return Response(status_code=204)


@operation("List the sign-in methods", public=True, responses={200: ProviderList})
async def providers(request: Request) -> Response:
    auth = auth_of(request)
    kernel = request.app.state.kernel
    listed = []
    for name, provider in sorted(kernel.auth_providers.items()):
        entry = provider.describe()
        if provider.kind == "redirect":
            entry["login_url"] = f"{auth.prefix}/auth/oauth/{name}/login"
        listed.append(entry)
    return JSON({"items": listed, "next_cursor": None, "registration_enabled": auth.registration_enabled})


def _redirect_provider(request: Request):
    name = request.path_params["provider"]
    provider = request.app.state.kernel.auth_providers.get(name)
    if provider is None or provider.kind != "redirect":
        raise Problem(404, f"No sign-in provider named {name!r} is enabled here.")
    return provider


#: The cookie that binds a redirect sign-in to the browser that started it (login CSRF defence).
FLOW_COOKIE = "roleplay_oauth_state"


def _flow_cookie(auth: AuthService, provider: str) -> dict:
    callback = auth.callback_url(provider)
    return {"key": FLOW_COOKIE, "path": urlsplit(callback).path or "/", "httponly": True, "samesite": "lax",
            "secure": callback.startswith("https://")}


async def _oauth_limit(auth: AuthService, request: Request) -> None:
    """Starting a sign-in writes a pending record, and a failed callback an audit event: both are
    limited per address (``auth.oauth_per_address``), so anonymous requests cannot grow storage."""
    limit, window = auth.limit(auth.config.oauth_per_address)
    wait = await auth.limits.take("oauth", client_address(request), limit=limit, window=window)
    if wait:
        raise too_many("Too many sign-in attempts from this address; try again later.", wait)


@operation("Start a redirect (OAuth/OIDC) sign-in", public=True, responses={302: None}, problems=(429, 502))
async def oauth_login(request: Request) -> Response:
    auth = auth_of(request)
    provider = _redirect_provider(request)
    await _oauth_limit(auth, request)
    url = await provider.authorization_url(request, auth.callback_url(provider.name))
    state = parse_qs(urlsplit(url).query).get("state", [""])[0]
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    # Only this browser can finish the flow: the callback must bring the state back in this
    # HttpOnly cookie too. SameSite=Lax still sends it on the provider's top-level redirect back.
    response.set_cookie(value=state, max_age=auth.config.oauth_state_ttl,
                        **_flow_cookie(auth, provider.name))
    return response


def _check_flow_cookie(request: Request) -> None:
    """400 unless the callback's ``state`` is the one this browser's cookie holds."""
    state = request.query_params.get("state") or ""
    cookie = request.cookies.get(FLOW_COOKIE) or ""
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise Problem(400, "This sign-in was not started in this browser (or its cookie expired or was blocked), "
                           "so it was refused. Start the sign-in again here.",
                      extra={"code": "oauth_browser_mismatch"})


@operation("Finish a redirect sign-in (the provider sends the browser here)", public=True,
           query=(Query("state", str, "The state the sign-in started with"),
                  Query("code", str, "The provider's authorization code"),
                  Query("error", str, "The provider's error, when the person refused")),
           responses={200: SignedIn, 302: None}, problems=(400, 403, 429, 502))
async def oauth_callback(request: Request) -> Response:
    auth = auth_of(request)
    provider = _redirect_provider(request)
    ip = client_address(request)
    await _oauth_limit(auth, request)
    try:
        _check_flow_cookie(request)
        identity = await provider.complete(request, auth.callback_url(provider.name))
    except Problem as problem:
        await auth.record("login.failed", method=provider.name, ip=ip, reason=problem.detail)
        raise
    user, how = await auth.user_for_identity(identity)
    if user.disabled:
        await auth.record("login.failed", user_id=user.id, method=provider.name, ip=ip, reason="disabled")
        raise Problem(403, "This account is disabled.")
    await auth.record("login.succeeded", user_id=user.id, method=provider.name, ip=ip, account=how)
    pair = await auth.sign_in(user, identity.claims.get("auth_time"))  # the provider's sign-in time
    front = auth.config.oauth_frontend_redirect
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if front:
        # The fragment never reaches a server or a Referer header, unlike a query string.
        fragment = urlencode({**{k: str(v) for k, v in pair.items()}, "account": how})
        response: Response = RedirectResponse(f"{front}#{fragment}", status_code=302, headers=headers)
    else:
        response = JSON({"user": user.public(), "account": how, **pair}, headers=headers)
    cookie = _flow_cookie(auth, provider.name)
    response.delete_cookie(cookie.pop("key"), **cookie)
    return response


@operation("The signed-in user", responses={200: UserDetail}, problems=(403,))
async def me(request: Request) -> Response:
    user = await stored_user(request)
    return JSON({**user.public(), "auth_methods": user.auth_methods()})


async def stored_user(request: Request) -> User:
    """The signed-in user as stored now: 401 when deleted, 403 when disabled."""
    principal = current_principal(request)
    user = await auth_of(request).users.get_user(principal.id)
    if user is None:
        raise Problem(401, "This account no longer exists.", headers={"WWW-Authenticate": 'Bearer realm="roleplay"'})
    if user.disabled:
        raise Problem(403, "This account is disabled.")
    return user


def routes() -> list[Route]:
    return [
        Route("/auth/register", register, methods=["POST"]),
        Route("/auth/login", login, methods=["POST"]),
        Route("/auth/refresh", refresh, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/auth/providers", providers, methods=["GET"]),
        Route("/auth/oauth/{provider}/login", oauth_login, methods=["GET"]),
        Route("/auth/oauth/{provider}/callback", oauth_callback, methods=["GET"]),
        Route("/auth/me", me, methods=["GET"]),
    ]
