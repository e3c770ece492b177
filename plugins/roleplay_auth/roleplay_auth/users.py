"""Users and their sign-in methods in kernel storage.

Keys (all under ``auth/``):

- ``auth/users/<id>``: the user record (JSON), updated with compare-and-swap.
- ``auth/emails/<sha256(email)>``: create-only index, normalised email -> user id. The
  storage's create-only write picks exactly one winner among concurrent registrations,
  on any number of server processes, without scanning.
- ``auth/identities/<provider>/<sha256(subject)>``: create-only index, external login -> user id.
- ``auth/admins``: the ids of enabled admins (compare-and-swap), so "never remove the last
  admin" holds under concurrent demotions without a scan.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import cattrs

from roleplay_core import NotFound, PreconditionFailed, Problem, Storage

from .emails import digest

#: An email index whose user record never appeared (a crash between the two writes)
#: may be taken over after this many seconds.
ORPHAN_INDEX_SECONDS = 60
CAS_ATTEMPTS = 20
USER_ID = re.compile(r"^[0-9a-f]{32}$")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@attrs.frozen(kw_only=True)
class Identity:
    """One external sign-in method: ``(provider, subject)`` from an OIDC provider."""

    id: str
    provider: str
    subject: str
    email: str | None = None
    linked_at: str = attrs.field(factory=now_iso)


@attrs.frozen(kw_only=True)
class User:
    id: str
    email: str | None
    display_name: str
    preferred_language: str | None = None
    roles: tuple[str, ...] = ("user",)
    disabled: bool = False
    password_hash: str | None = None
    password_set_at: str | None = None
    identities: tuple[Identity, ...] = ()
    #: Bumped when every refresh token must die (password change, disable).
    session_epoch: int = 0
    created_at: str = attrs.field(factory=now_iso)
    updated_at: str = attrs.field(factory=now_iso)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_active_admin(self) -> bool:
        return self.is_admin and not self.disabled

    def auth_methods(self) -> list[dict[str, Any]]:
        """The sign-in methods as the API shows them."""
        methods = []
        if self.password_hash:
            methods.append({"id": "password", "provider": "local", "kind": "password",
                            "email": self.email, "created_at": self.password_set_at})
        for identity in self.identities:
            methods.append({"id": identity.id, "provider": identity.provider, "kind": "redirect",
                            "email": identity.email, "created_at": identity.linked_at})
        return methods

    def public(self) -> dict[str, Any]:
        """The user as the API shows it: never the password hash."""
        return {
            "id": self.id,
            "email": self.email,
            "display_name": self.display_name,
            "preferred_language": self.preferred_language,
            "roles": list(self.roles),
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


_records = cattrs.Converter()  # lenient on purpose: old records with extra keys still load


def new_user_id() -> str:
    return uuid.uuid4().hex


def identity_id(provider: str, subject: str) -> str:
    return f"{provider}-{digest(provider + chr(0) + subject)[:16]}"


class EmailTaken(Exception):
    """Another account already owns this email."""


class IdentityTaken(Exception):
    """This external login already belongs to another account."""


class LastAdmin(Exception):
    """The change would leave no enabled admin."""


class UserStore:
    #: Keys fetched per storage listing call when searching.
    list_page = 200

    #: How many parsed users a process keeps (see :meth:`get`).
    PARSED_USERS = 4096

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # user id -> (record version, User): the record is still read on every request, and only
        # its parsing is skipped while the version is unchanged, so a change made by any process
        # is seen at once. User is frozen, so handing out the same instance is safe.
        self._parsed: dict[str, tuple[str, User]] = {}

    # -- keys ---------------------------------------------------------------

    @staticmethod
    def user_key(user_id: str) -> str:
        return f"auth/users/{user_id}"

    @staticmethod
    def email_key(email: str) -> str:
        return f"auth/emails/{digest(email)}"

    @staticmethod
    def identity_key(provider: str, subject: str) -> str:
        return f"auth/identities/{provider}/{digest(subject)}"

    ADMINS_KEY = "auth/admins"

    # -- reads --------------------------------------------------------------

    async def get(self, user_id: str) -> tuple[User, str] | None:
        if not USER_ID.match(user_id or ""):
            return None  # never let a path parameter shape a storage key
        try:
            record = await self.storage.get(self.user_key(user_id))
        except NotFound:
            self._parsed.pop(user_id, None)
            return None
        parsed = self._parsed.get(user_id)
        if parsed is not None and parsed[0] == record.version:
            return parsed[1], record.version
        user = _records.structure(json.loads(record.data), User)
        if len(self._parsed) >= self.PARSED_USERS:
            del self._parsed[next(iter(self._parsed))]  # the oldest entry
        self._parsed[user_id] = (record.version, user)
        return user, record.version

    async def get_user(self, user_id: str) -> User | None:
        found = await self.get(user_id)
        return found[0] if found else None

    async def _index(self, key: str) -> str | None:
        try:
            return json.loads((await self.storage.get(key)).data)["user_id"]
        except NotFound:
            return None

    async def by_email(self, email: str) -> User | None:
        user_id = await self._index(self.email_key(email))
        user = await self.get_user(user_id) if user_id else None
        return user if user is not None and user.email == email else None

    async def by_identity(self, provider: str, subject: str) -> User | None:
        user_id = await self._index(self.identity_key(provider, subject))
        return await self.get_user(user_id) if user_id else None

    async def search(self, query: str, *, limit: int,
                     cursor: tuple[str | None, str | None] | None) -> tuple[list[User], tuple | None]:
        """Users whose email or display name contains ``query`` (case-insensitive), in key order.

        An admin tool, so a scan is fine here; uniqueness never depends on it. The
        cursor is ``(storage page cursor, last key returned)``: storage cursors are
        opaque (S3 continuation tokens), so a page cut short is resumed by refetching
        its storage page and skipping what was already returned.
        """
        query = query.strip().lower()
        found: list[User] = []
        page_cursor, after = cursor or (None, None)
        while True:
            page = await self.storage.list("auth/users/", limit=self.list_page, cursor=page_cursor)
            for key in page.keys:
                if after is not None and key <= after:
                    continue
                user = await self.get_user(key.rsplit("/", 1)[1])
                if user is None:
                    continue
                haystack = f"{user.email or ''}\n{user.display_name}".lower()
                if query and query not in haystack:
                    continue
                found.append(user)
                if len(found) == limit:
                    if key != page.keys[-1]:
                        return found, (page_cursor, key)
                    return found, ((page.cursor, None) if page.cursor is not None else None)
            if page.cursor is None:
                return found, None
            page_cursor, after = page.cursor, None

    # -- writes -------------------------------------------------------------

    async def _claim(self, key: str, user_id: str, taken: type[Exception]) -> None:
        body = json.dumps({"user_id": user_id, "at": time.time()}).encode()
        for _ in range(2):
            try:
                await self.storage.put(key, body, if_absent=True)
                return
            except PreconditionFailed:
                pass
            try:
                record = await self.storage.get(key)
            except NotFound:
                continue  # deleted meanwhile: try again
            index = json.loads(record.data)
            if await self.get_user(index["user_id"]) is not None or time.time() - index.get("at", 0) < ORPHAN_INDEX_SECONDS:
                raise taken()
            try:  # an orphan left by a crash between the index write and the user write
                await self.storage.delete(key, if_version=record.version)
            except (NotFound, PreconditionFailed):
                pass
        raise taken()

    async def _release(self, key: str, user_id: str) -> None:
        try:
            record = await self.storage.get(key)
            if json.loads(record.data)["user_id"] == user_id:
                await self.storage.delete(key, if_version=record.version)
        except (NotFound, PreconditionFailed):
            pass

    async def create(self, user: User) -> User:
        """Store a new user; raise :class:`EmailTaken` or :class:`IdentityTaken`.

        Index records are claimed first (create-only), then the user record is
        written, so two concurrent registrations of one email cannot both win.
        """
        claimed: list[str] = []
        try:
            if user.email:
                key = self.email_key(user.email)
                await self._claim(key, user.id, EmailTaken)
                claimed.append(key)
            for identity in user.identities:
                key = self.identity_key(identity.provider, identity.subject)
                await self._claim(key, user.id, IdentityTaken)
                claimed.append(key)
            await self.storage.put(self.user_key(user.id), self._dump(user), if_absent=True)
        except BaseException:
            for key in claimed:
                await self._release(key, user.id)
            raise
        if user.is_active_admin:
            await self._admins_add(user.id)
        return user

    @staticmethod
    def _dump(user: User) -> bytes:
        return json.dumps(_records.unstructure(user), separators=(",", ":")).encode()

    async def update(self, user_id: str, change: Callable[[User], User | Awaitable[User]]) -> tuple[User, User]:
        """Apply ``change`` with compare-and-swap, retrying on a concurrent write.

        Returns ``(before, after)``. Keeps ``auth/admins`` in step: an admin is
        removed from it before the user record changes (refusing the last one),
        and added after, so the index never lists someone who is not an enabled admin.
        """
        for _ in range(CAS_ATTEMPTS):
            found = await self.get(user_id)
            if found is None:
                raise Problem(404, "No such user.")
            before, version = found
            after = change(before)
            if hasattr(after, "__await__"):
                after = await after  # type: ignore[misc]
            after = attrs.evolve(after, updated_at=now_iso())
            if before.is_active_admin and not after.is_active_admin:
                await self._admins_remove(user_id)
            try:
                await self.storage.put(self.user_key(user_id), self._dump(after), if_version=version)
            except PreconditionFailed:
                if before.is_active_admin and not after.is_active_admin:
                    await self._admins_add(user_id)  # put it back; the retry decides again
                continue
            if after.is_active_admin and not before.is_active_admin:
                await self._admins_add(user_id)
            return before, after
        raise Problem(503, "The user changed too often at once; try again.", headers={"Retry-After": "1"})

    async def delete(self, user_id: str) -> User:
        """Delete a user and its index records; raise :class:`LastAdmin` for the last admin."""
        found = await self.get(user_id)
        if found is None:
            raise Problem(404, "No such user.")
        user, version = found
        if user.is_active_admin:
            await self._admins_remove(user_id)
        try:
            await self.storage.delete(self.user_key(user_id), if_version=version)
        except (PreconditionFailed, NotFound):
            if user.is_active_admin:
                await self._admins_add(user_id)
            raise Problem(409, "The user changed while being deleted; try again.") from None
        if user.email:
            await self._release(self.email_key(user.email), user_id)
        for identity in user.identities:
            await self._release(self.identity_key(identity.provider, identity.subject), user_id)
        return user

    async def link(self, user_id: str, identity: Identity) -> User:
        """Add an external sign-in method to a user (its index record first, create-only)."""
        key = self.identity_key(identity.provider, identity.subject)
        await self._claim(key, user_id, IdentityTaken)
        try:
            _, after = await self.update(
                user_id, lambda u: attrs.evolve(u, identities=(*u.identities, identity))
            )
        except BaseException:
            await self._release(key, user_id)
            raise
        return after

    async def release_identity(self, user_id: str, identity: Identity) -> None:
        await self._release(self.identity_key(identity.provider, identity.subject), user_id)

    # -- the admin index ----------------------------------------------------

    async def _admins(self) -> tuple[list[str], str | None]:
        try:
            record = await self.storage.get(self.ADMINS_KEY)
        except NotFound:
            return [], None
        return json.loads(record.data)["ids"], record.version

    async def _write_admins(self, ids: list[str], version: str | None) -> None:
        body = json.dumps({"ids": sorted(set(ids))}).encode()
        if version is None:
            await self.storage.put(self.ADMINS_KEY, body, if_absent=True)
        else:
            await self.storage.put(self.ADMINS_KEY, body, if_version=version)

    async def _admins_add(self, user_id: str) -> None:
        for _ in range(CAS_ATTEMPTS):
            ids, version = await self._admins()
            if user_id in ids:
                return
            try:
                await self._write_admins([*ids, user_id], version)
                return
            except PreconditionFailed:
                continue
        raise Problem(503, "Too many concurrent admin changes; try again.", headers={"Retry-After": "1"})

    async def _admins_remove(self, user_id: str) -> None:
        for _ in range(CAS_ATTEMPTS):
            ids, version = await self._admins()
            if user_id not in ids:
                return
            if len(ids) == 1:
                raise LastAdmin()
            try:
                await self._write_admins([i for i in ids if i != user_id], version)
                return
            except PreconditionFailed:
                continue
        raise Problem(503, "Too many concurrent admin changes; try again.", headers={"Retry-After": "1"})

    async def admin_ids(self) -> list[str]:
        return (await self._admins())[0]
