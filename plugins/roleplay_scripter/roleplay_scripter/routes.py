"""The /scripts HTTP API. Every route needs the scripter role (admins have it too)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import anyio.to_thread
import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roleplay_core import (
    JSON,
    SLUG,
    Content,
    FieldError,
    Kernel,
    Problem,
    Query,
    Script,
    check_script_limits,
    converter,
    current_principal,
    operation,
    query_int,
    read_json,
    requires_role,
    structure,
    validation_problem,
)

from . import cards, diff, formats, importing, lint, preview, views
from .records import STATUSES, ScriptHead, version_etag
from .schemas import (
    CharacterImported,
    Diff,
    Imported,
    ScriptDetail,
    ScriptList,
    ScriptSaved,
    Translations,
    Validation,
    VersionDetail,
    VersionList,
)
from .store import Exists, Missing, ScriptStore, Stale

ROLE = "scripter"
IF_MATCH = Query("If-Match", str, "The ETag you last read: 412 when the script changed since (* for any)")
IF_MATCH_REQUIRED = attrs.evolve(IF_MATCH, required=True)


# -- helpers -----------------------------------------------------------------------


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def _store(request: Request) -> ScriptStore:
    return ScriptStore(_kernel(request).storage)


def _who(request: Request) -> str:
    return current_principal(request).id


def _settings(request: Request) -> Any:
    """The typed ``scripter`` settings (``ScripterSettings``)."""
    return _kernel(request).typed_settings("scripter")


def _packs(request: Request) -> dict[str, Script]:
    return dict(_kernel(request).catalog.pack_scripts)


def _json(body: Any, status: int = 200, etag: str | None = None, headers: Mapping[str, str] | None = None) -> JSON:
    extra = dict(headers or {})
    if etag:
        extra["ETag"] = etag
    return JSON(body, status_code=status, headers=extra)


def _not_found(script_id: str) -> Problem:
    return Problem(404, f"No script has the id {script_id!r}.")


def _script_id(request: Request) -> str:
    """The ``{script_id}`` of the URL; 404 before storage is touched unless it is a script id
    (:data:`roleplay_core.script.SLUG`): NUL, backslash, control or overlong ids can name no script."""
    script_id = request.path_params["script_id"]
    if not SLUG.match(script_id):
        raise _not_found(script_id[:80])
    return script_id


def _if_match(request: Request) -> list[str] | None:
    header = request.headers.get("if-match")
    if header is None:
        return None
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _expected(tags: list[str] | None, head: ScriptHead) -> int | None:
    """The version an ``If-Match`` names, checked against ``head``: 412 when stale, ``None`` for ``*``/absent."""
    if tags is None or "*" in tags:
        return None
    if head.etag in tags:
        return head.latest
    raise _stale(head)


def _stale(head: ScriptHead | None) -> Problem:
    if head is None:
        return Problem(412, "The script changed since you read it. Reload it and apply your edit again.")
    return Problem(412, f"The script changed since you read it: it is now at version {head.latest}. "
                        "Reload it and apply your edit again.",
                   headers={"ETag": head.etag}, extra={"current_version": head.latest, "etag": head.etag})


def _require_if_match(request: Request) -> list[str]:
    tags = _if_match(request)
    if not tags:
        raise Problem(428, "Send If-Match with the ETag you last read (GET /scripts/{id}), so a concurrent edit "
                           "is not overwritten.")
    return tags


def _query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise validation_problem([FieldError(name, "expected true or false")])


def _findings(found: list[lint.Finding]) -> list[dict[str, Any]]:
    return [attrs.asdict(f) for f in found]


async def _parse_script(request: Request) -> Script:
    data = await formats.read_body(request)
    script, problems = await anyio.to_thread.run_sync(lint.parse, data)
    if script is None:
        raise validation_problem([FieldError(f.path, f.message) for f in problems])
    if script.id in importing.RESERVED_IDS:
        raise validation_problem([FieldError("id", f"{script.id!r} is reserved; choose another id")])
    return script


async def _members(request: Request, extra: Mapping[str, Script] = ()) -> dict[str, Script]:
    """Every script the scripter knows by id: packs, then authored drafts, then ``extra`` (a bundle)."""
    members = _packs(request)
    for head in await _store(request).all():
        members[head.id] = head.script
    members.update(extra or {})
    return members


async def _lint(request: Request, script: Script, members: Mapping[str, Script] | None = None) -> list[lint.Finding]:
    members = members if members is not None else await _members(request, {script.id: script})
    group = [s for s in members.values() if script.translation_group and s.translation_group == script.translation_group]
    return lint.lint(script, translations=group,
                     required_languages=list(_settings(request).translations.required_languages))


def _download(text: str, media_type: str, filename: str) -> Response:
    return Response(text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _format(request: Request) -> str:
    value = request.query_params.get("format", "yaml").lower()
    if value not in ("yaml", "json"):
        raise validation_problem([FieldError("format", "must be yaml or json")])
    return value


# -- list, read, create, update, archive ---------------------------------------------


@operation("List authored and shipped scripts", query=(
    Query("status", str, "Only scripts in this state (draft, published, archived)"),
    Query("source", Literal["authored", "pack"], "Only authored or only shipped scripts"),
    Query("language", str, "A language tag or its prefix"),
    Query("tag", str, "Only scripts with this tag"),
    Query("text", str, "Text in the title, summary or id"),
    Query("limit", int, "Page size (100; at most scripter.list.max_limit)", minimum=1),
    Query("cursor", str, "The next_cursor of the previous page")),
    responses={200: ScriptList}, problems=(403,))
@requires_role(ROLE)
async def list_scripts(request: Request) -> JSON:
    """``GET /scripts``: authored and shipped scripts, filtered by status, language, tag, text, source."""
    query = request.query_params
    status = query.get("status") or None
    if status and status not in STATUSES:
        raise validation_problem([FieldError("status", f"must be one of {', '.join(STATUSES)}")])
    source = query.get("source") or None
    if source and source not in ("authored", "pack"):
        raise validation_problem([FieldError("source", "must be authored or pack")])
    max_limit = _settings(request).list.max_limit
    limit = min(query_int(request, "limit", 100, minimum=1), max_limit)
    # The cursor is where the next page starts, counted in the sorted list (what next_cursor says).
    offset = query_int(request, "cursor", 0, minimum=0, maximum=10**9)
    heads = await _store(request).all()
    authored = {h.id for h in heads}
    rows = [(views.head_summary(h), h.script) for h in heads]
    rows += [(views.pack_summary(s), s) for sid, s in _packs(request).items() if sid not in authored]
    rows = [(summary, script) for summary, script in rows
            if views.matches(summary, script, status=status, language=query.get("language"), tag=query.get("tag"),
                             text=query.get("text"), source=source)]
    rows.sort(key=lambda row: (row[1].title.lower(), row[1].id))
    more = offset + limit < len(rows)
    return _json({"items": [summary for summary, _ in rows[offset:offset + limit]],
                  "next_cursor": str(offset + limit) if more else None, "total": len(rows)})


@operation("One script: the draft or shipped content, with an ETag", responses={200: ScriptDetail},
           problems=(403,))
@requires_role(ROLE)
async def get_script(request: Request) -> JSON:
    """``GET /scripts/{id}``: the draft (or shipped content) with status, versions and an ETag."""
    script_id = _script_id(request)
    head = await _store(request).get(script_id)
    if head is not None:
        return _json(views.head_detail(head), etag=head.etag)
    pack = _packs(request).get(script_id)
    if pack is not None:
        return _json(views.pack_detail(pack), etag=views.pack_etag(pack))
    raise _not_found(script_id)


@operation("Create a draft (JSON or YAML)", body=Script, responses={201: ScriptSaved}, problems=(403, 409), links={
    name: (target, {"script_id": "$response.body#/id"}) for name, target in (
        ("read", "GET /scripts/{script_id}"), ("versions", "GET /scripts/{script_id}/versions"),
        ("publish", "POST /scripts/{script_id}/publish"), ("export", "GET /scripts/{script_id}/export"),
        ("diff", "GET /scripts/{script_id}/diff"), ("archive", "DELETE /scripts/{script_id}"))})
@requires_role(ROLE)
async def create_script(request: Request) -> JSON:
    """``POST /scripts``: a new draft, version 1. Lint findings come back but do not block saving."""
    script = await _parse_script(request)
    if script.id in _packs(request) and await _store(request).get(script.id) is None:
        raise Problem(409, f"A shipped script has the id {script.id!r}. To change it, PUT /scripts/{script.id} "
                           "with its ETag in If-Match: that makes an authored copy which overrides it.")
    try:
        head = await _store(request).create(script, by=_who(request))
    except Exists:
        raise Problem(409, f"A script with the id {script.id!r} exists already; PUT /scripts/{script.id} "
                           "to change it.") from None
    body = {**views.head_detail(head), "findings": _findings(await _lint(request, script))}
    return _json(body, 201, etag=head.etag, headers={"Location": f"{request.url.path.rstrip('/')}/{script.id}"})


@operation("Save the next version (If-Match: the ETag you read)", body=Script, headers=(IF_MATCH_REQUIRED,),
           responses={200: ScriptSaved}, problems=(403, 409, 412, 428))
@requires_role(ROLE)
async def update_script(request: Request) -> JSON:
    """``PUT /scripts/{id}`` with ``If-Match``: save the next version (412 stale, 428 without If-Match)."""
    script_id = _script_id(request)
    tags = _require_if_match(request)
    script = await _parse_script(request)
    if script.id != script_id:
        raise validation_problem([FieldError("id", f"must be {script_id!r}, the id in the URL")])
    store = _store(request)
    head = await store.get(script_id)
    try:
        if head is None:
            pack = _packs(request).get(script_id)
            if pack is None:
                raise _not_found(script_id)
            if "*" not in tags and views.pack_etag(pack) not in tags:
                raise Problem(412, "The shipped script changed since you read it. Reload it.",
                              headers={"ETag": views.pack_etag(pack)})
            # Version 1 is the shipped content, so the history shows what the author changed.
            try:
                await store.create(pack, by=_who(request), note="copied from pack", from_pack=True)
            except Exists:
                raise _stale(await store.get(script_id)) from None
            head = await store.update(script, expected=1, by=_who(request))
        else:
            head = await store.update(script, expected=_expected(tags, head), by=_who(request))
    except Stale as stale:
        raise _stale(stale.current) from None
    except Missing:
        raise _not_found(script_id) from None
    body = {**views.head_detail(head), "findings": _findings(await _lint(request, script))}
    return _json(body, etag=head.etag)


@operation("Archive a script; learners stop seeing it", headers=(IF_MATCH,), responses={200: ScriptDetail},
           problems=(403, 409, 412))
@requires_role(ROLE)
async def archive_script(request: Request) -> JSON:
    """``DELETE /scripts/{id}``: archive; learners stop seeing it. Versions stay readable."""
    script_id = _script_id(request)
    store = _store(request)
    head = await store.get(script_id)
    if head is None:
        if script_id in _packs(request):
            raise Problem(409, f"{script_id!r} is shipped content (a script pack) and read-only here; disable "
                               "the pack with packs.enabled or the plugin that ships it.")
        raise _not_found(script_id)
    try:
        head = await store.archive(script_id, expected=_expected(_if_match(request), head), by=_who(request))
    except Stale as stale:
        raise _stale(stale.current) from None
    if head.published is not None:
        await _kernel(request).catalog.withdraw(script_id)
    return _json(views.head_detail(head), etag=head.etag)


# -- validation, publishing, versions, diff -------------------------------------------------


@operation("Lint a script or a bundle without saving", body=Any, responses={200: Validation},
           problems=(403,))
@requires_role(ROLE)
async def validate_scripts(request: Request) -> JSON:
    """``POST /scripts/validate``: lint a script or a bundle without saving anything."""
    data = await formats.read_body(request)
    items = formats.bundle_items(data)
    parsed = await anyio.to_thread.run_sync(lambda: [(i, *lint.parse(item)) for i, item in enumerate(items)])
    bundle = {s.id: s for _, s, _ in parsed if s is not None}
    members = await _members(request, bundle)
    results = []
    every: list[dict[str, Any]] = []
    for index, script, found in parsed:
        if script is not None:
            found = found + await _lint(request, script, members)
        rows = _findings([attrs.evolve(f, script_id=script.id if script else None) for f in found])
        every += rows
        # The script as the server read it (null when it could not): a client editing YAML text
        # follows it in a form without a YAML parser of its own.
        results.append({"index": index, "id": script.id if script else None, "valid": not lint.has_errors(found),
                        "findings": rows, "script": formats.script_data(script) if script else None})
    return _json({"valid": all(r["valid"] for r in results), "scripts": results, "findings": every})


@operation("Publish the latest draft to learners", headers=(IF_MATCH,), responses={200: ScriptSaved},
           problems=(403, 409, 412))
@requires_role(ROLE)
async def publish_script(request: Request) -> JSON:
    """``POST /scripts/{id}/publish``: the latest draft becomes what learners see (lint errors refuse)."""
    script_id = _script_id(request)
    store = _store(request)
    head = await store.get(script_id)
    if head is None:
        if script_id in _packs(request):
            raise Problem(409, f"{script_id!r} is shipped content and already published. Edit it (PUT) to make "
                               "an authored copy, then publish that.")
        raise _not_found(script_id)
    expected = _expected(_if_match(request), head)
    found = await _lint(request, head.script)
    if lint.has_errors(found):
        errors = [FieldError(f.path, f.message) for f in found if f.severity == lint.ERROR]
        raise Problem(422, f"Version {head.latest} has {len(errors)} error(s); fix them before publishing.",
                      errors=errors, extra={"findings": _findings(found)})
    try:
        head = await store.publish(script_id, expected=expected if expected is not None else head.latest,
                                   by=_who(request))
    except Stale as stale:
        raise _stale(stale.current) from None
    await _kernel(request).catalog.publish(head.script, str(head.latest))
    return _json({**views.head_detail(head), "findings": _findings(found)}, etag=head.etag)


async def _head_or_404(request: Request, script_id: str) -> ScriptHead | None:
    head = await _store(request).get(script_id)
    if head is None and script_id not in _packs(request):
        raise _not_found(script_id)
    return head


@operation("List a script's saved versions", responses={200: VersionList}, problems=(403,))
@requires_role(ROLE)
async def list_versions(request: Request) -> JSON:
    """``GET /scripts/{id}/versions``: every saved version, newest last. Shipped scripts have none."""
    script_id = _script_id(request)
    head = await _head_or_404(request, script_id)
    if head is None:
        return _json({"id": script_id, "source": "pack", "items": [], "next_cursor": None})
    versions = await _store(request).versions(script_id)
    return _json({"id": script_id, "source": "authored", "latest": head.latest, "published_version": head.published,
                  "items": [views.version_summary(v, head) for v in versions], "next_cursor": None})


@operation("One saved version", responses={200: VersionDetail}, problems=(403,))
@requires_role(ROLE)
async def get_version(request: Request) -> JSON:
    """``GET /scripts/{id}/versions/{n}``: one version, published or not, archived or not."""
    script_id = _script_id(request)
    number = request.path_params["number"]
    head = await _head_or_404(request, script_id)
    version = await _store(request).version(script_id, number) if head is not None else None
    if version is None:
        raise Problem(404, f"{script_id!r} has no version {number}.")
    return _json(views.version_detail(version, head), etag=version_etag(number))


@operation("What changed between two versions", query=(
    Query("from", int, "The older version (the published one, or the previous)", minimum=1),
    Query("to", int, "The newer version (the latest)", minimum=1)),
    responses={200: Diff}, problems=(403,))
@requires_role(ROLE)
async def diff_versions(request: Request) -> JSON:
    """``GET /scripts/{id}/diff?from=a&to=b``: what changed (defaults: published or previous -> latest)."""
    script_id = _script_id(request)
    head = await _head_or_404(request, script_id)
    if head is None:
        raise Problem(404, f"{script_id!r} is shipped content and has no versions to compare.")
    to = query_int(request, "to", head.latest, minimum=1)
    default_from = head.published if head.published is not None and head.published != to else max(1, to - 1)
    start = query_int(request, "from", default_from, minimum=1)
    store = _store(request)
    old, new = await store.version(script_id, start), await store.version(script_id, to)
    for number, found in ((start, old), (to, new)):
        if found is None:
            raise Problem(404, f"{script_id!r} has no version {number}.")
    old_data, new_data = formats.script_data(old.script), formats.script_data(new.script)
    text = await anyio.to_thread.run_sync(diff.unified, old_data, new_data, f"{script_id} v{start}",
                                          f"{script_id} v{to}")
    return _json({"id": script_id, "from": start, "to": to,
                  "changes": [attrs.asdict(c) for c in diff.changes(old_data, new_data)], "unified": text})


@operation("The other languages of a script's translation group, and what each lacks",
           responses={200: Translations}, problems=(403,))
@requires_role(ROLE)
async def translations(request: Request) -> JSON:
    """``GET /scripts/{id}/translations``: the other languages of a script's group, and what each lacks.

    The lint's translation findings, per member: the console shows them side by side, so an author
    sees that the Spanish script has no ``waiver`` beat without opening it.
    """
    script_id = _script_id(request)
    head = await _head_or_404(request, script_id)
    heads = {h.id: h for h in await _store(request).all()}
    packs = _packs(request)
    members = {**packs, **{sid: h.script for sid, h in heads.items()}}
    script = head.script if head is not None else packs[script_id]
    group = script.translation_group
    in_group = [s for s in members.values() if group and s.translation_group == group] or [script]
    required = [str(tag) for tag in _settings(request).translations.required_languages]
    have = {s.language.lower() for s in in_group}
    rows = []
    for member in sorted(in_group, key=lambda s: (s.language.lower(), s.id)):
        summary = views.head_summary(heads[member.id]) if member.id in heads else views.pack_summary(member)
        found = [f for f in await _lint(request, member, members) if f.code in ("missing_translation",
                                                                            "duplicate_translation")]
        rows.append({"id": member.id, "language": member.language, "title": member.title,
                     "status": summary["status"], "source": summary["source"], "findings": _findings(found)})
    return _json({"id": script_id, "translation_group": group, "required_languages": required,
                  "missing_languages": [tag for tag in required if tag.lower() not in have], "members": rows})


# -- preview --------------------------------------------------------------------------------


@operation("Play learner messages against a draft with the offline engine",
           body=preview.PreviewRequest, responses={200: preview.Preview}, problems=(403, 502))
@requires_role(ROLE)
async def preview_script(request: Request) -> JSON:
    """``POST /scripts/{id}/preview``: play messages against the draft with the offline engine."""
    script_id = _script_id(request)
    raw = await read_json(request)
    if isinstance(raw, dict) and not isinstance(raw.get("messages", []), list):
        raise validation_problem([FieldError("messages", "expected a list of learner messages")])
    if not isinstance(raw, dict):
        raise validation_problem([FieldError("$", "expected a JSON object")])
    body = structure(raw, preview.PreviewRequest)
    max_messages = _settings(request).preview.max_messages
    max_chars = _settings(request).preview.max_message_chars
    if body.engine not in preview.ENGINES:
        raise validation_problem([FieldError("engine", f"must be one of {', '.join(preview.ENGINES)}")])
    if not body.messages:
        raise validation_problem([FieldError("messages", "send at least one learner message")])
    if len(body.messages) > max_messages:
        raise validation_problem([FieldError("messages", f"at most {max_messages} messages (scripter.preview.max_messages)")])
    for i, message in enumerate(body.messages):
        if not message.strip():
            raise validation_problem([FieldError(f"messages[{i}]", "must not be blank")])
        if len(message) > max_chars:
            raise validation_problem([FieldError(f"messages[{i}]", f"at most {max_chars} characters")])
    head = await _head_or_404(request, script_id)
    if head is None:
        if body.version is not None:
            raise validation_problem([FieldError("version", "shipped scripts have no versions")])
        script, number = _packs(request)[script_id], None
    elif body.version is None:
        script, number = head.script, head.latest
    else:
        version = await _store(request).version(script_id, body.version)
        if version is None:
            raise Problem(404, f"{script_id!r} has no version {body.version}.")
        script, number = version.script, body.version
    result = await preview.run_preview(_kernel(request), script, body, version=number)
    return _json(result)


# -- import and export --------------------------------------------------------------------


@operation("Import a bundle (JSON or YAML), all or nothing", body=Any, query=(
    Query("on_conflict", Literal["new_version", "fail"], "What an existing id does (new_version)"),
    Query("publish", bool, "Publish what was imported")),
    responses={200: Imported}, problems=(403, 409))
@requires_role(ROLE)
async def import_scripts(request: Request) -> JSON:
    """``POST /scripts/import``: a YAML or JSON bundle, all or nothing, with per-item errors."""
    on_conflict = request.query_params.get("on_conflict", "new_version")
    if on_conflict not in importing.ON_CONFLICT:
        raise validation_problem([FieldError("on_conflict", f"must be one of {', '.join(importing.ON_CONFLICT)}")])
    publish = _query_bool(request, "publish")
    data = await formats.read_body(request)
    results = await importing.import_bundle(
        kernel=_kernel(request), store=_store(request), data=data, by=_who(request), on_conflict=on_conflict,
        publish=publish, max_scripts=_settings(request).import_.max_scripts,
        required_languages=list(_settings(request).translations.required_languages),
        members=await _members(request))
    return _json({"imported": len(results), "scripts": results})


@operation("Download one script as a file", query=(
    Query("format", Literal["yaml", "json"], "The file's format (yaml)"),
    Query("version", int, "A saved version (the latest draft)", minimum=1)),
    responses={200: Content({"application/yaml": dict[str, Any], "application/json": dict[str, Any]})}, problems=(403,))
@requires_role(ROLE)
async def export_script(request: Request) -> Response:
    """``GET /scripts/{id}/export?format=yaml|json[&version=n]``: one script as a file."""
    script_id = _script_id(request)
    kind = _format(request)
    number = query_int(request, "version", None, minimum=1)
    head = await _head_or_404(request, script_id)
    if head is None:
        if number is not None:
            raise validation_problem([FieldError("version", "shipped scripts have no versions")])
        script = _packs(request)[script_id]
    elif number is None:
        script = head.script
    else:
        version = await _store(request).version(script_id, number)
        if version is None:
            raise Problem(404, f"{script_id!r} has no version {number}.")
        script = version.script
    data = formats.script_data(script)
    if kind == "json":
        return _download(await formats.encode(data, "application/json"), "application/json", f"{script_id}.json")
    text = await formats.encode(data, formats.YAML_MEDIA_TYPE)
    return _download(text, formats.YAML_MEDIA_TYPE, f"{script_id}.yaml")


@operation("Download every authored script as one bundle", query=(
    Query("format", Literal["yaml", "json"], "The file's format (yaml)"),
    Query("packs", bool, "Include shipped scripts"),
    Query("history", bool, "Include every saved version")),
    responses={200: Content({"application/yaml": dict[str, Any], "application/json": dict[str, Any]})}, problems=(403,))
@requires_role(ROLE)
async def export_all(request: Request) -> Response:
    """``GET /scripts/export``: every authored script (latest draft, any status) as one bundle, for backup."""
    kind = _format(request)
    include_packs = _query_bool(request, "packs")
    heads = sorted(await _store(request).all(), key=lambda h: h.id)
    scripts = [h.script for h in heads]
    if include_packs:
        authored = {h.id for h in heads}
        scripts += [s for sid, s in sorted(_packs(request).items()) if sid not in authored]
    stamp = dt.datetime.now(dt.UTC)
    data = formats.bundle(scripts, stamp.isoformat())
    data["authoring"] = {h.id: {"status": h.status, "version": h.latest, "published_version": h.published,
                                "publications": converter.unstructure(h.publications), "from_pack": h.from_pack}
                         for h in heads}
    if _query_bool(request, "history"):
        store = _store(request)
        data["history"] = {h.id: [converter.unstructure(v) for v in await store.versions(h.id)] for h in heads}
    name = f"roleplay-scripts-{stamp:%Y%m%dT%H%M%SZ}"
    if kind == "json":
        return _download(await formats.encode(data, "application/json"), "application/json", f"{name}.json")
    text = await formats.encode(data, formats.YAML_MEDIA_TYPE)
    return _download(text, formats.YAML_MEDIA_TYPE, f"{name}.yaml")


# -- characters as Character Card V2 -------------------------------------------------------


@operation("A character as a Character Card V2", responses={200: dict[str, Any]}, problems=(403,))
@requires_role(ROLE)
async def export_card(request: Request) -> JSON:
    """``GET /scripts/{id}/characters/{character_id}/card``: a Character Card V2."""
    script_id = _script_id(request)
    head = await _head_or_404(request, script_id)
    script = head.script if head is not None else _packs(request)[script_id]
    try:
        character = script.character(request.path_params["character_id"])
    except KeyError:
        raise Problem(404, f"{script_id!r} has no character {request.path_params['character_id']!r}.") from None
    card = cards.to_card(script, character, version=str(head.latest) if head else "pack",
                         creator=_settings(request).cards.creator)
    return JSON(card, headers={"Content-Disposition": f'attachment; filename="{character.id}.card.json"'})


@operation("Add (or replace) a character from a Character Card V2 (If-Match)", body=dict[str, Any],
           query=(Query("replace", bool, "Replace a character with the same id"),), headers=(IF_MATCH_REQUIRED,),
           responses={200: CharacterImported, 201: CharacterImported}, problems=(403, 409, 412, 428))
@requires_role(ROLE)
async def import_card(request: Request) -> JSON:
    """``POST /scripts/{id}/characters`` with ``If-Match``: add (or with ``?replace=true`` replace) a character."""
    script_id = _script_id(request)
    tags = _require_if_match(request)
    replace = _query_bool(request, "replace")
    character = cards.from_card(await formats.read_body(request))
    store = _store(request)
    head = await store.get(script_id)
    if head is None:
        raise (Problem(409, f"{script_id!r} is shipped content; edit it (PUT) first to make an authored copy.")
               if script_id in _packs(request) else _not_found(script_id))
    expected = _expected(tags, head)
    existing = [c.id for c in head.script.characters]
    if character.id in existing and not replace:
        raise Problem(409, f"The script already has a character {character.id!r}; send ?replace=true to replace it.")
    if character.id in existing:
        characters = tuple(character if c.id == character.id else c for c in head.script.characters)
    else:
        characters = (*head.script.characters, character)
    script = attrs.evolve(head.script, characters=characters)
    check_script_limits(formats.script_data(script))  # the script as a whole stays within its caps too
    try:
        head = await store.update(script, expected=expected if expected is not None else head.latest,
                                  by=_who(request), note="character imported")
    except Stale as stale:
        raise _stale(stale.current) from None
    return _json({**views.head_detail(head), "character_id": character.id}, 201 if character.id not in existing else 200,
                 etag=head.etag)


def routes() -> list[Route]:
    # Fixed paths first: /scripts/export must not be read as the script "export".
    return [
        Route("/scripts", list_scripts, methods=["GET"]),
        Route("/scripts", create_script, methods=["POST"]),
        Route("/scripts/validate", validate_scripts, methods=["POST"]),
        Route("/scripts/import", import_scripts, methods=["POST"]),
        Route("/scripts/export", export_all, methods=["GET"]),
        Route("/scripts/{script_id}", get_script, methods=["GET"]),
        Route("/scripts/{script_id}", update_script, methods=["PUT"]),
        Route("/scripts/{script_id}", archive_script, methods=["DELETE"]),
        Route("/scripts/{script_id}/publish", publish_script, methods=["POST"]),
        Route("/scripts/{script_id}/versions", list_versions, methods=["GET"]),
        Route("/scripts/{script_id}/versions/{number:int}", get_version, methods=["GET"]),
        Route("/scripts/{script_id}/diff", diff_versions, methods=["GET"]),
        Route("/scripts/{script_id}/preview", preview_script, methods=["POST"]),
        Route("/scripts/{script_id}/translations", translations, methods=["GET"]),
        Route("/scripts/{script_id}/export", export_script, methods=["GET"]),
        Route("/scripts/{script_id}/characters", import_card, methods=["POST"]),
        Route("/scripts/{script_id}/characters/{character_id}/card", export_card, methods=["GET"]),
    ]
