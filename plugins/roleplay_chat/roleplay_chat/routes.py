"""HTTP routes of the chat plugin (see docs/api/chat.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import attrs
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute

from roleplay_core import (
    JSON,
    Content,
    FieldError,
    Problem,
    PublishedScript,
    Query,
    current_principal,
    language_matches,
    operation,
    parse_body,
    query_int,
    requires_user,
    validation_problem,
)

from . import errors, export, limits, sessions, turns, ws
from .schemas import ScenarioDetail, ScenarioList, Session, SessionDetail, SessionList, Turn

# -- scenarios ---------------------------------------------------------------------


def scenario_summary(published: PublishedScript) -> dict[str, Any]:
    script = published.script
    return {
        "id": script.id,
        "title": script.title,
        "summary": script.summary,
        "language": script.language,
        "translation_group": script.translation_group,
        "difficulty": script.difficulty,
        "tags": list(script.tags),
        "estimated_minutes": script.estimated_minutes,
        "version": published.version,
    }


def scenario_detail(published: PublishedScript) -> dict[str, Any]:
    """What a learner sees before starting: never the beats, fallbacks or rubric internals."""
    script = published.script
    return {
        **scenario_summary(published),
        "setting": script.setting,
        "learner_role": script.learner_role,
        "objectives": list(script.objectives),
        "characters": [
            {"id": c.id, "name": c.name, "description": c.description, "traits": list(c.traits),
             "speaks_first": c.speaks_first}
            for c in script.characters
        ],
        "criteria": [{"id": c.id, "title": c.title, "description": c.description, "required": c.required}
                     for c in script.rubric.criteria],
    }


@operation("List the published scenarios", query=(
    Query("language", str, "A BCP 47 tag or its prefix (es matches es-MX)"),
    Query("tag", str, "Only scenarios with this tag")),
    responses={200: ScenarioList})
@requires_user
async def list_scenarios(request: Request) -> JSON:
    catalog = request.app.state.kernel.catalog
    items = await catalog.list(language=request.query_params.get("language") or None,
                               tag=request.query_params.get("tag") or None)
    return JSON({"items": [scenario_summary(p) for p in items], "next_cursor": None})


@operation("One scenario, as a learner sees it before starting", responses={200: ScenarioDetail})
@requires_user
async def get_scenario(request: Request) -> JSON:
    published = await _published(request, request.path_params["scenario_id"])
    if published is None:
        raise Problem(404, f"No published scenario {request.path_params['scenario_id']!r}.")
    return JSON(scenario_detail(published))


async def _published(request: Request, scenario_id: str) -> PublishedScript | None:
    if not isinstance(scenario_id, str) or not sessions.valid_slug(scenario_id):
        return None
    return await request.app.state.kernel.catalog.get(scenario_id)


# -- sessions ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class NewSession:
    scenario_id: str
    character_id: str | None = None
    language: str | None = None


@attrs.frozen(kw_only=True)
class NewMessage:
    text: str


def session_body(record: sessions.SessionRecord, messages: list[Any] | None = None) -> dict[str, Any]:
    body = record.summary()
    if messages is not None:
        body["messages"] = [sessions.message_to_dict(m) for m in messages]
    return body


@operation("Start a practice session", body=NewSession, responses={201: SessionDetail},
           problems=(429,), links={
               name: (target, {"session_id": "$response.body#/id"}) for name, target in (
                   ("read", "GET /chat/sessions/{session_id}"), ("say", "POST /chat/sessions/{session_id}/messages"),
                   ("end", "POST /chat/sessions/{session_id}/end"), ("export", "GET /chat/sessions/{session_id}/export"),
                   ("delete", "DELETE /chat/sessions/{session_id}"))})
@requires_user
async def create_session(request: Request) -> JSON:
    kernel = request.app.state.kernel
    principal = current_principal(request)
    body = await parse_body(request, NewSession)
    published = await _published(request, body.scenario_id)
    if published is None:
        raise validation_problem([FieldError("scenario_id", "no published scenario has this id")])
    if body.language and not language_matches(published.script.language, body.language):
        published = await _translation(kernel, published, body.language)
    try:
        published.script.character(body.character_id)
    except KeyError:
        ids = ", ".join(c.id for c in published.script.characters)
        raise validation_problem([FieldError("character_id", f"the scenario has no such character; choose one of {ids}")]) from None
    await limits.count_session(kernel, principal.id)
    seed = kernel.settings.get("chat.seed")
    record, opening = await sessions.create_session(kernel, principal.id, published, character_id=body.character_id,
                                                    seed=seed if isinstance(seed, int) else None)
    return JSON(session_body(record, opening), status_code=201,
                headers={"Location": str(request.url_for("chat_session", session_id=record.id).path)})


async def _translation(kernel: Any, published: PublishedScript, language: str) -> PublishedScript:
    group = published.script.translation_group
    candidates = [p for p in await kernel.catalog.list(language=language)
                  if group and p.script.translation_group == group]
    if candidates:
        return candidates[0]
    available = sorted({p.script.language for p in await kernel.catalog.list()
                        if group and p.script.translation_group == group} | {published.script.language})
    raise validation_problem([FieldError("language", f"the scenario is not published in {language!r}; "
                                                     f"available: {', '.join(available)}")])


@operation("List my sessions (admins: anyone's with user_id)", query=(
    Query("status", Literal["active", "ended"], "Only sessions in this state"),
    Query("scenario_id", str, "Only sessions of this scenario"),
    Query("limit", int, "Page size (chat.page_size; at most chat.max_page_size, 100)", minimum=1, maximum=100),
    Query("cursor", str, "The next_cursor of the previous page"),
    Query("user_id", str, "Another user's sessions (admins)")),
    responses={200: SessionList}, problems=(403,))
@requires_user
async def list_sessions(request: Request) -> JSON:
    kernel = request.app.state.kernel
    principal = current_principal(request)
    query = request.query_params
    user_id = query.get("user_id") or principal.id
    if user_id != principal.id and not principal.is_admin:
        raise Problem(403, "Only admins can list other people's sessions.", extra={"code": "not_owner"})
    status = query.get("status")
    if status not in (None, "", sessions.ACTIVE, sessions.ENDED):
        raise validation_problem([FieldError("status", "must be active or ended")])
    limit = query_int(request, "limit", int(kernel.settings.get("chat.page_size", 20)))
    if not 1 <= limit <= int(kernel.settings.get("chat.max_page_size", 100)):
        raise validation_problem([FieldError("limit", f"must be between 1 and {kernel.settings.get('chat.max_page_size', 100)}")])
    cursor = query.get("cursor")
    if cursor and not sessions.valid_session_id(cursor):
        raise validation_problem([FieldError("cursor", "is not a cursor this API returned")])
    records = await sessions.list_sessions(kernel, user_id)
    if status:
        records = [r for r in records if r.status == status]
    scenario = query.get("scenario_id") or query.get("scenario")  # both spellings filter by scenario
    if scenario:
        records = [r for r in records if r.scenario_id == scenario]
    if cursor:
        records = [r for r in records if r.id < cursor]  # newest first; ids are time-ordered
    page = records[:limit]
    next_cursor = page[-1].id if len(records) > limit else None
    return JSON({"items": [r.summary() for r in page], "next_cursor": next_cursor})


@operation("One session with its messages", query=(
    Query("after_seq", int, "Only messages after this seq (0: all)"),), responses={200: SessionDetail})
@requires_user
async def get_session(request: Request) -> JSON:
    kernel = request.app.state.kernel
    session_id = request.path_params["session_id"]
    record = await turns.owned(kernel, current_principal(request), session_id)
    after = query_int(request, "after_seq", 0)
    messages = await sessions.read_messages(kernel, session_id, after, last_seq=record.last_seq)
    return JSON(session_body(record, messages))


@operation("Delete a session, its messages and audio", responses={204: None})
@requires_user
async def delete_session(request: Request) -> Response:
    kernel = request.app.state.kernel
    session_id = request.path_params["session_id"]
    await turns.owned(kernel, current_principal(request), session_id)  # owner or admin
    try:
        await sessions.delete_session(kernel, session_id)
    except sessions.SessionNotFound:
        raise turns.not_found(session_id) from None
    return Response(status_code=204)


@operation("End a session (the learner's own)", responses={200: Session}, problems=(403, 409))
@requires_user
async def end_session(request: Request) -> JSON:
    kernel = request.app.state.kernel
    session_id = request.path_params["session_id"]
    await turns.owned(kernel, current_principal(request), session_id, write=True)
    try:
        record = await sessions.end_session(kernel, session_id, reason="ended by the learner")
    except sessions.SessionNotFound:
        raise turns.not_found(session_id) from None
    except sessions.SessionBusy as busy:
        raise turns.busy(busy) from None
    return JSON(record.summary())


@operation("Download a session's transcript", query=(
    Query("format", Literal["text", "markdown", "jsonl"], "The file's format (text)"),),
    responses={200: Content({"text/plain": str, "text/markdown": str, "application/x-ndjson": str})})
@requires_user
async def export_session(request: Request) -> Response:
    kernel = request.app.state.kernel
    session_id = request.path_params["session_id"]
    fmt = request.query_params.get("format", "text")
    if fmt not in export.FORMATS:
        raise validation_problem([FieldError("format", f"must be one of {', '.join(export.FORMATS)}")])
    record = await turns.owned(kernel, current_principal(request), session_id)
    script = await sessions.load_script(kernel, session_id)
    messages = await sessions.read_messages(kernel, session_id, last_seq=record.last_seq)
    media_type, extension = export.FORMATS[fmt]
    return Response(export.render(fmt, record, script, messages), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="session-{session_id}.{extension}"'})


# -- messages ----------------------------------------------------------------------------


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "").lower()


@operation("Say something; the character answers (Accept: text/event-stream streams it)", body=NewMessage,
           responses={201: Content({"application/json": Turn, "text/event-stream": str})},
           problems=(403, 409, 429, 502, 504))
@requires_user
async def post_message(request: Request) -> Response:
    kernel = request.app.state.kernel
    body = await parse_body(request, NewMessage)
    text = body.text.strip()
    if not text:
        raise validation_problem([FieldError("text", "must not be blank")])
    limit = int(kernel.settings.get("chat.limits.message_chars"))
    if len(text) > limit:
        raise Problem(413, f"A message can have at most {limit} characters; this one has {len(text)}.",
                      errors=[FieldError("text", f"at most {limit} characters")],
                      extra={"code": "message_chars", "limit": limit})
    prepared = await turns.begin_message(kernel, current_principal(request), request.path_params["session_id"], text)
    return await _respond(request, prepared)


@operation("Produce the reply a failed turn is missing",
           responses={201: Content({"application/json": Turn, "text/event-stream": str})},
           problems=(403, 409, 429, 502, 504))
@requires_user
async def retry(request: Request) -> Response:
    kernel = request.app.state.kernel
    prepared = await turns.begin_retry(kernel, current_principal(request), request.path_params["session_id"])
    return await _respond(request, prepared)


async def _respond(request: Request, prepared: turns.Prepared) -> Response:
    kernel = request.app.state.kernel
    if not wants_stream(request):
        # Shielded: a client that hangs up does not cancel storing the reply.
        outcome = await asyncio.shield(turns.detach(kernel, turns.finish(kernel, prepared)))
        return JSON(turns.outcome_body(outcome), status_code=201)
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def emit(kind: str, value: Any) -> None:
        queue.put_nowait((kind, value))

    async def run() -> None:
        try:
            outcome = await turns.finish(kernel, prepared, emit)
            queue.put_nowait(("reply", turns.outcome_body(outcome)))
        except errors.ChatError as error:
            queue.put_nowait(("error", errors.problem(error).to_dict()))
        except BaseException:
            queue.put_nowait(("error", Problem(500, "The server hit an unexpected error.").to_dict()))
            raise

    turns.detach(kernel, run())

    async def events() -> AsyncIterator[str]:
        yield sse("message", sessions.message_to_dict(prepared.learner), event_id=prepared.learner.seq)
        while True:
            kind, value = await queue.get()
            if kind == "delta":
                yield sse("delta", {"text": value})
                continue
            yield sse(kind, value, event_id=value["reply"]["seq"] if kind == "reply" else None)
            return

    return StreamingResponse(events(), status_code=201, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def routes() -> list[BaseRoute]:
    return [
        Route("/chat/scenarios", list_scenarios, methods=["GET"]),
        Route("/chat/scenarios/{scenario_id}", get_scenario, methods=["GET"]),
        Route("/chat/sessions", create_session, methods=["POST"]),
        Route("/chat/sessions", list_sessions, methods=["GET"]),
        Route("/chat/sessions/{session_id}", get_session, methods=["GET"], name="chat_session"),
        Route("/chat/sessions/{session_id}", delete_session, methods=["DELETE"]),
        Route("/chat/sessions/{session_id}/messages", post_message, methods=["POST"]),
        Route("/chat/sessions/{session_id}/retry", retry, methods=["POST"]),
        Route("/chat/sessions/{session_id}/end", end_session, methods=["POST"]),
        Route("/chat/sessions/{session_id}/export", export_session, methods=["GET"]),
        WebSocketRoute("/chat/sessions/{session_id}/ws", ws.session_socket),
    ]
