"""Importing a bundle of scripts: all or nothing, with errors per item.

Every item is checked before anything is written (structure, duplicate ids,
conflicts, and lint errors when the items are to be published). Writes then go
one script at a time with compare-and-swap; if one fails because somebody edited
that script meanwhile, the writes already made are put back as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import anyio.to_thread
import attrs

from roleplay_core import FieldError, NotFound, Problem, Script, script_limit_errors, structure

from .formats import bundle_items
from .lint import ERROR, Finding, lint, parse
from .records import STATUSES, Publication, ScriptHead, ScriptVersion, now, version_key
from .store import Loaded, ScriptStore, Stale

#: Ids that would collide with the fixed routes /scripts/import, /scripts/export, /scripts/validate.
RESERVED_IDS = frozenset({"import", "export", "validate"})
ON_CONFLICT = ("new_version", "fail")


@attrs.frozen(kw_only=True)
class Planned:
    index: int
    script: Script
    existing: Loaded | None
    pack: bool
    #: What the bundle's ``authoring`` section says the status was ("published", "archived"...).
    status: str | None = None
    #: A new script restored with its whole history (a backup made with ``?history=true``).
    restore: ScriptHead | None = None
    versions: tuple[ScriptVersion, ...] = ()


def restore_plan(script: Script, meta: Any, entries: Any, *, pack: bool) -> tuple[
        ScriptHead | None, tuple[ScriptVersion, ...], list[FieldError]]:
    """The head and versions that recreate ``script`` exactly as a backup described it.

    ``entries`` are the bundle's ``history[<id>]`` (every version, oldest first) and
    ``meta`` its ``authoring[<id>]``. If the bundle's script differs from the last
    version in the history, it becomes one more version.
    """
    at = f"history.{script.id}"
    if not isinstance(entries, list) or not entries:
        return None, (), [FieldError(at, "expected a list of versions")]
    # The versions' scripts bypass script_from_dict (cattrs structures them inside ScriptVersion):
    # give them the same size caps as every other script.
    capped = [FieldError(f"{at}[{n}].script{'' if e.field == '$' else '.' + e.field}", e.message)
              for n, entry in enumerate(entries) if isinstance(entry, Mapping)
              for e in script_limit_errors(entry.get("script"))]
    if capped:
        return None, (), capped
    try:
        versions = structure(entries, tuple[ScriptVersion, ...])
    except Problem as problem:
        return None, (), [FieldError(f"{at}{'' if e.field.startswith('[') else '.'}{e.field}", e.message)
                          for e in problem.errors]
    if [v.number for v in versions] != list(range(1, len(versions) + 1)):
        return None, (), [FieldError(at, "versions must be numbered 1, 2, 3... in order")]
    if any(v.script.id != script.id for v in versions):
        return None, (), [FieldError(at, f"every version must have the id {script.id!r}")]
    meta = meta if isinstance(meta, Mapping) else {}
    try:
        publications = structure(meta.get("publications", []), tuple[Publication, ...])
    except Problem as problem:
        return None, (), [FieldError(f"authoring.{script.id}.publications", e.message) for e in problem.errors]
    if versions[-1].script != script:
        last = versions[-1]
        versions = (*versions, ScriptVersion(number=len(versions) + 1, script=script, created_at=now(),
                                             created_by=last.created_by, note="imported"))
    published = meta.get("published_version")
    if published is not None and (not isinstance(published, int) or not 1 <= published <= len(versions)):
        return None, (), [FieldError(f"authoring.{script.id}.published_version",
                                     f"must be a version from 1 to {len(versions)}")]
    status = meta.get("status", "draft")
    if status not in STATUSES or (status == "published" and published is None):
        return None, (), [FieldError(f"authoring.{script.id}.status",
                                     "must be draft, published (with a published_version) or archived")]
    first, last = versions[0], versions[-1]
    head = ScriptHead(id=script.id, status=status, latest=last.number, published=published, script=script,
                      created_at=first.created_at, created_by=first.created_by, updated_at=last.created_at,
                      updated_by=last.created_by, publications=publications,
                      archived_at=now() if status == "archived" else None,
                      from_pack=bool(meta.get("from_pack", pack)))
    return head, versions, []


def _item_errors(index: int, findings: Sequence[Finding]) -> list[FieldError]:
    prefix = f"scripts[{index}]"
    return [FieldError(prefix if f.path == "$" else f"{prefix}.{f.path}", f.message) for f in findings]


async def import_bundle(
    *,
    kernel: Any,
    store: ScriptStore,
    data: Any,
    by: str,
    on_conflict: str,
    publish: bool,
    max_scripts: int,
    required_languages: Sequence[str],
    members: Mapping[str, Script],
) -> list[dict[str, Any]]:
    """Import every script in ``data`` or none; returns one result per item."""
    items = bundle_items(data)
    if not items:
        raise Problem(422, "The bundle has no scripts.", errors=[FieldError("scripts", "must have at least one item")])
    if len(items) > max_scripts:
        raise Problem(413, f"A bundle may hold at most {max_scripts} scripts (scripter.import.max_scripts); "
                           f"this one has {len(items)}.")
    authoring = data.get("authoring") if isinstance(data, Mapping) else None
    authoring = authoring if isinstance(authoring, Mapping) else {}
    history = data.get("history") if isinstance(data, Mapping) else None
    history = history if isinstance(history, Mapping) else {}
    # Structuring costs milliseconds a script: a big bundle must not stall the event loop.
    parsed: list[tuple[int, Script | None, list[Finding]]] = await anyio.to_thread.run_sync(
        lambda: [(i, *parse(item)) for i, item in enumerate(items)])
    scripts = {s.id: s for _, s, _ in parsed if s is not None}
    group = {**members, **scripts}
    seen: dict[str, int] = {}
    report: list[dict[str, Any]] = []
    plan: list[Planned] = []
    for index, script, findings in parsed:
        errors = _item_errors(index, [f for f in findings if f.severity == ERROR])
        lint_findings: list[Finding] = []
        existing = None
        status = None
        if script is not None:
            if script.id in RESERVED_IDS:
                errors.append(FieldError(f"scripts[{index}].id", f"{script.id!r} is reserved; choose another id"))
            if script.id in seen:
                errors.append(FieldError(f"scripts[{index}].id",
                                         f"the id {script.id!r} appears twice in the bundle (also item {seen[script.id]})"))
            seen.setdefault(script.id, index)
            existing = await store.load(script.id)
            if existing is not None and on_conflict == "fail":
                errors.append(FieldError(f"scripts[{index}].id", f"a script with the id {script.id!r} exists already"))
            meta = authoring.get(script.id)
            status = meta.get("status") if isinstance(meta, Mapping) else None
            restore, versions = None, ()
            if existing is None and script.id in history:
                restore, versions, restore_errors = await anyio.to_thread.run_sync(functools.partial(
                    restore_plan, script, meta, history[script.id], pack=script.id in kernel.catalog.pack_scripts))
                errors += restore_errors
            translations = [s for s in group.values() if s.translation_group and
                            s.translation_group == script.translation_group]
            lint_findings = lint(script, translations=translations, required_languages=required_languages)
            if publish or status == "published":
                errors += _item_errors(index, [f for f in lint_findings if f.severity == ERROR])
        report.append({"index": index, "id": script.id if script else None, "ok": not errors,
                       "errors": [{"field": e.field, "message": e.message} for e in errors],
                       "findings": [attrs.asdict(f) for f in lint_findings]})
        if script is not None:
            plan.append(Planned(index=index, script=script, existing=existing,
                                pack=script.id in kernel.catalog.pack_scripts, status=status,
                                restore=restore, versions=versions))
    failed = [item for item in report if not item["ok"]]
    if failed:
        errors = [FieldError(e["field"], e["message"]) for item in failed for e in item["errors"]]
        raise Problem(422, f"Nothing was imported: {len(failed)} of {len(items)} scripts have errors.",
                      errors=errors, extra={"items": report})
    await _write(store, plan, by=by)
    for step in plan:
        if step.restore is not None and not publish:
            # Restored as it was: learners get back the version that was published, not the latest.
            if step.restore.status == "published":
                await kernel.catalog.publish(step.versions[step.restore.published - 1].script,
                                             str(step.restore.published))
            continue
        if publish or step.status == "published":
            head = await store.publish(step.script.id, expected=None, by=by)
            await kernel.catalog.publish(head.script, str(head.latest))
        elif step.status == "archived":
            head = await store.archive(step.script.id, expected=None, by=by)
            if head.published is not None:
                await kernel.catalog.withdraw(head.id)
    results = []
    for step, item in zip(plan, report, strict=False):
        head = await store.get(step.script.id)
        results.append({**item, "created": step.existing is None,
                        "version": head.latest if head else None, "status": head.status if head else None})
    return results


async def _write(store: ScriptStore, plan: Sequence[Planned], *, by: str) -> None:
    done: list[tuple[Planned, bytes | None, str, ScriptHead]] = []
    try:
        for step in plan:
            at = now()
            if step.restore is not None:
                head = step.restore
                token = await store.put_head_if(head, token=None)
                done.append((step, None, token, head))
                for version in step.versions:
                    await store.put_version(head.id, version)
                continue
            if step.existing is None:
                head = ScriptHead(id=step.script.id, script=step.script, created_at=at, created_by=by,
                                  updated_at=at, updated_by=by, from_pack=step.pack)
                token = await store.put_head_if(head, token=None)
                before = None
            else:
                old = step.existing.head
                head = attrs.evolve(old, script=step.script, latest=old.latest + 1, updated_at=at, updated_by=by)
                raw = await store.raw(step.script.id)
                if raw is None or raw[1] != step.existing.token:
                    raise Stale(None)
                before = raw[0]
                token = await store.put_head_if(head, token=step.existing.token)
            done.append((step, before, token, head))
            await store.snapshot(head, "imported")
    except Stale:
        await _undo(store, done)
        raise Problem(409, "A script in the bundle was changed by someone else during the import; nothing was "
                           "imported. Try again.") from None
    except Exception:
        await _undo(store, done)
        raise


async def _undo(store: ScriptStore, done: Sequence[tuple[Planned, bytes | None, str, ScriptHead]]) -> None:
    for step, before, token, head in reversed(done):
        await store.restore(head.id, before, token)
        numbers = [v.number for v in step.versions] if step.restore is not None else [head.latest]
        for number in numbers:
            try:
                await store.storage.delete(version_key(head.id, number))
            except NotFound:
                pass
