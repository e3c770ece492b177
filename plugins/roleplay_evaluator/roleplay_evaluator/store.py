"""Where evaluations live in ``kernel.storage``.

Keys (all under ``evaluator/``):

- ``evaluations/<id>``: the evaluation's state (pending/done/failed, lease);
  changed only by compare-and-swap.
- ``reports/<id>``: the finished report; create-only, never rewritten.
- ``pending/<id>``: an index of evaluations still to run, scanned at startup.
- ``users/<user>/<id>``: an index of each user's evaluations (ids sort by time).
- ``requests/<user>/<digest>``: idempotency keys -> evaluation id; create-only.
- ``latest/<user>/<digest(session, last message)>``: the evaluation of a session as it stands
  (its last message), so asking again for an unchanged session returns that one.
- ``daily/<user>/<YYYY-MM-DD>``: how many evaluations the user started that day (UTC).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from roleplay_core import NotFound, PreconditionFailed, Storage, converter
from roleplay_core.storage import key_segment, time_ordered_id

from .report import Evaluation, Report

ROOT = "evaluator"


def new_id() -> str:
    """Ids sort by creation time (milliseconds), then 10 random bytes."""
    return time_ordered_id(10)


def evaluation_key(evaluation_id: str) -> str:
    return f"{ROOT}/evaluations/{evaluation_id}"


def report_key(evaluation_id: str) -> str:
    return f"{ROOT}/reports/{evaluation_id}"


def pending_key(evaluation_id: str) -> str:
    return f"{ROOT}/pending/{evaluation_id}"


def user_prefix(user_id: str) -> str:
    return f"{ROOT}/users/{key_segment(user_id)}/"


def request_key(user_id: str, request_id: str) -> str:
    digest = hashlib.sha256(request_id.encode()).hexdigest()[:40]
    return f"{ROOT}/requests/{key_segment(user_id)}/{digest}"


def latest_key(user_id: str, session_id: str, upto_seq: int) -> str:
    digest = hashlib.sha256(f"{session_id}\0{upto_seq}".encode()).hexdigest()[:40]
    return f"{ROOT}/latest/{key_segment(user_id)}/{digest}"


def daily_key(user_id: str, day: str) -> str:
    return f"{ROOT}/daily/{key_segment(user_id)}/{day}"


def valid_id(evaluation_id: str) -> bool:
    return 1 <= len(evaluation_id) <= 64 and all(c in "0123456789abcdef" for c in evaluation_id)


def _dump(value: object) -> bytes:
    return json.dumps(converter.unstructure(value), ensure_ascii=False, separators=(",", ":")).encode()


class EvaluationStore:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def create(self, evaluation: Evaluation) -> bool:
        """Write a new evaluation and its index entries; ``False`` when that id already exists."""
        try:
            await self.storage.put(evaluation_key(evaluation.id), _dump(evaluation), if_absent=True)
        except PreconditionFailed:
            return False
        # The pending index first matters: a crash after it still gets the evaluation run at startup.
        await self.storage.put(pending_key(evaluation.id), b"{}")
        await self.storage.put(user_prefix(evaluation.user_id) + evaluation.id, b"{}")
        return True

    async def get(self, evaluation_id: str) -> tuple[Evaluation, str]:
        """The evaluation and its version; raises :class:`NotFound`."""
        record = await self.storage.get(evaluation_key(evaluation_id))
        return converter.structure(json.loads(record.data), Evaluation), record.version

    async def find(self, evaluation_id: str) -> Evaluation | None:
        if not valid_id(evaluation_id):
            return None
        try:
            return (await self.get(evaluation_id))[0]
        except NotFound:
            return None

    async def swap(self, evaluation: Evaluation, version: str) -> str:
        """Replace the evaluation only if it is still at ``version``; raises :class:`PreconditionFailed`."""
        return await self.storage.put(evaluation_key(evaluation.id), _dump(evaluation), if_version=version)

    async def save_report(self, evaluation_id: str, report: Report) -> Report:
        """Store the report once. If another process stored one first, theirs stands and is returned."""
        try:
            await self.storage.put(report_key(evaluation_id), _dump(report), if_absent=True)
            return report
        except PreconditionFailed:
            return await self.report(evaluation_id)  # type: ignore[return-value]

    async def report(self, evaluation_id: str) -> Report | None:
        try:
            record = await self.storage.get(report_key(evaluation_id))
        except NotFound:
            return None
        return converter.structure(json.loads(record.data), Report)

    async def unmark_pending(self, evaluation_id: str) -> None:
        try:
            await self.storage.delete(pending_key(evaluation_id))
        except (NotFound, PreconditionFailed):
            pass

    async def pending_ids(self) -> list[str]:
        prefix = f"{ROOT}/pending/"
        return [key[len(prefix):] for key in await self.storage.list_all(prefix)]

    async def user_ids(self, user_id: str) -> list[str]:
        prefix = user_prefix(user_id)
        return [key[len(prefix):] for key in await self.storage.list_all(prefix)]

    async def claim_request(self, user_id: str, request_id: str, evaluation_id: str, session_id: str
                            ) -> tuple[str, str]:
        """Bind an idempotency key to an evaluation; return the (evaluation id, session id) it is bound to."""
        key = request_key(user_id, request_id)
        body = {"evaluation_id": evaluation_id, "session_id": session_id,
                "created_at": dt.datetime.now(dt.UTC).isoformat()}
        try:
            await self.storage.put(key, json.dumps(body).encode(), if_absent=True)
            return evaluation_id, session_id
        except PreconditionFailed:
            existing = json.loads((await self.storage.get(key)).data)
            return existing["evaluation_id"], existing["session_id"]

    async def rebind_request(self, user_id: str, request_id: str, evaluation_id: str, session_id: str) -> None:
        """Point an idempotency key at ``evaluation_id`` (the existing evaluation a new key led to)."""
        body = {"evaluation_id": evaluation_id, "session_id": session_id,
                "created_at": dt.datetime.now(dt.UTC).isoformat()}
        await self.storage.put(request_key(user_id, request_id), json.dumps(body).encode())

    async def release_request(self, user_id: str, request_id: str, evaluation_id: str) -> None:
        await self._release(request_key(user_id, request_id), evaluation_id)

    # -- one evaluation per session state --------------------------------------------

    async def claim_latest(self, user_id: str, session_id: str, upto_seq: int, evaluation_id: str,
                           *, replace: bool = False) -> str:
        """Bind (session, last message) to ``evaluation_id``; return the id it is bound to.

        Create-only, so of many concurrent requests for one unchanged session exactly one
        creates an evaluation. ``replace`` rebinds it (the client asked for a new evaluation,
        or the bound one failed).
        """
        key = latest_key(user_id, session_id, upto_seq)
        body = json.dumps({"evaluation_id": evaluation_id}).encode()
        if replace:
            await self.storage.put(key, body)
            return evaluation_id
        try:
            await self.storage.put(key, body, if_absent=True)
            return evaluation_id
        except PreconditionFailed:
            try:
                return json.loads((await self.storage.get(key)).data)["evaluation_id"]
            except NotFound:  # released meanwhile: try once more
                await self.storage.put(key, body, if_absent=True)
                return evaluation_id

    async def release_latest(self, user_id: str, session_id: str, upto_seq: int, evaluation_id: str) -> None:
        """Undo :meth:`claim_latest` for an evaluation that was refused before it was created."""
        await self._release(latest_key(user_id, session_id, upto_seq), evaluation_id)

    async def _release(self, key: str, evaluation_id: str) -> None:
        try:
            record = await self.storage.get(key)
            if json.loads(record.data).get("evaluation_id") == evaluation_id:
                await self.storage.delete(key, if_version=record.version)
        except (NotFound, PreconditionFailed):
            pass

    # -- the daily limit ----------------------------------------------------------------

    async def charge_daily(self, user_id: str, limit: int) -> float:
        """Count one new evaluation for today (UTC); the seconds until tomorrow when ``limit`` is reached (then not counted)."""
        if limit <= 0:
            return 0.0
        now = dt.datetime.now(dt.UTC)
        key = daily_key(user_id, now.date().isoformat())
        for _ in range(50):
            try:
                record = await self.storage.get(key)
                count, version = int(json.loads(record.data)["count"]), record.version
            except NotFound:
                count, version = 0, None
            if count >= limit:
                tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
                return max(1.0, (tomorrow - now).total_seconds())
            data = json.dumps({"count": count + 1}).encode()
            try:
                if version is None:
                    await self.storage.put(key, data, if_absent=True)
                else:
                    await self.storage.put(key, data, if_version=version)
                return 0.0
            except PreconditionFailed:
                continue
        return 1.0  # too contended to count: come back in a moment

    async def refund_daily(self, user_id: str) -> None:
        """Give back one count of today (a charged evaluation that was not created after all)."""
        key = daily_key(user_id, dt.datetime.now(dt.UTC).date().isoformat())
        for _ in range(50):
            try:
                record = await self.storage.get(key)
            except NotFound:
                return
            count = max(0, int(json.loads(record.data)["count"]) - 1)
            try:
                await self.storage.put(key, json.dumps({"count": count}).encode(), if_version=record.version)
                return
            except PreconditionFailed:
                continue

    # -- a deleted account -------------------------------------------------------------

    async def delete_user(self, user_id: str) -> int:
        """Erase every evaluation and report of ``user_id`` and the user's indexes and counters."""
        ids = await self.user_ids(user_id)
        for evaluation_id in ids:
            for key in (report_key(evaluation_id), evaluation_key(evaluation_id), pending_key(evaluation_id)):
                try:
                    await self.storage.delete(key)
                except NotFound:
                    pass
        segment = key_segment(user_id)
        for prefix in (user_prefix(user_id), f"{ROOT}/requests/{segment}/", f"{ROOT}/latest/{segment}/",
                       f"{ROOT}/daily/{segment}/"):
            for key in await self.storage.list_all(prefix):
                try:
                    await self.storage.delete(key)
                except NotFound:
                    pass
        return len(ids)
