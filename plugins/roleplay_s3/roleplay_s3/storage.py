"""The ``s3`` storage backend: one S3 object per record, conditional writes on ETags.

How the storage contract maps onto S3:

* **Versions are ETags.** ``put`` returns the ETag S3 answers with and ``get``
  returns the ETag of the object it read (quotes stripped).
* **Every write gets a new version, even with the same bytes.** A plain S3 ETag
  is the MD5 of the body, so writing the same bytes twice would give the same
  version and a compare-and-swap holding the old one would wrongly succeed (an
  ABA problem). Each object body is therefore a small envelope: ``RP1 ``, 32 hex
  digits of a random write id, a newline, then the record's bytes (the same
  layout the file backend uses on disk). The write id makes every body, hence
  every ETag, distinct; ``get`` checks and strips the envelope. Object metadata
  would not help: ``If-Match`` compares only the ETag.
* **Create-only** is ``PutObject`` with ``If-None-Match: *``; **compare-and-swap**
  is ``PutObject`` with ``If-Match: "<etag>"``. S3 answers 412 when the condition
  fails (→ :class:`PreconditionFailed`); 404 on ``If-Match`` means the record is
  gone, which the contract also calls a changed version. A 409
  ``ConditionalRequestConflict`` (another conditional write to the same key was
  in flight) is a lost race for compare-and-swap; for create-only it is retried,
  because the other writer may yet fail and the event log must not skip a
  sequence number nobody wrote.
* **Delete** first reads the object's ETag with ``HeadObject`` (S3 answers a
  delete of a missing key with success, the contract wants :class:`NotFound`),
  then sends ``DeleteObject`` with ``If-Match`` when a version is given. Where the
  server enforces ``If-Match`` on delete (AWS S3, moto, recent MinIO) the delete
  is atomic; where it rejects the header as not implemented the backend falls
  back to the ``HeadObject`` comparison alone and logs that once, which leaves a
  window of one round trip in which a concurrent write can be deleted.
* **Object names are not the keys.** Many S3 servers that teams run themselves
  (MinIO, SeaweedFS...) store objects as files in folders, so an object
  ``chat/sessions/1`` and an object ``chat/sessions/1/script`` cannot both exist
  there ("parent is an object"). The contract allows exactly that pair, so every
  object name is the key plus a final ``!`` (:func:`object_name`): ``chat/sessions/1!``
  and ``chat/sessions/1/script!`` are a file and a folder that never collide. A
  space and a ``!`` inside a key become ``!0`` and ``!1``, so no ``!`` but the last
  one exists and names sort exactly as their keys do (code-point order, which
  listing must keep). ``roleplay storage check`` reports whether the server's
  namespace is flat or hierarchical; either works.
* **Listing** is ``ListObjectsV2`` with ``Prefix`` (the encoded key prefix) and
  ``MaxKeys``; the cursor is S3's continuation token. Keys with a segment
  starting with ``.`` are reserved for backends (the ``check`` probe lives under
  ``.roleplay-check/``) and are never listed; objects whose names are not
  encoded keys (foreign objects) are never listed either.
* **Data written before the encoding** (names without the final ``!``) is
  detected when the backend opens: it refuses to start and names the command
  that moves it, ``roleplay storage migrate`` (:meth:`S3Storage.migrate`).
* ``storage.s3.prefix`` is prepended to every key and stripped from listings, so
  several deployments can share one bucket.

Nothing is cached locally: every read goes to the bucket, so any number of
processes and hosts can share one bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

from roleplay_core.storage import (
    InvalidKey,
    NotFound,
    Page,
    PreconditionFailed,
    Record,
    Storage,
    StorageUnavailable,
    validate_key,
)

from .options import S3Options

logger = logging.getLogger("roleplay.s3")

#: Ends every object name; see the module docstring.
END = "!"
#: Escapes for the characters below ``"`` inside a key (space and ``!``), order-preserving.
_ESCAPES = {" ": "!0", "!": "!1"}
_UNESCAPES = {"0": " ", "1": "!"}
#: Written while ``roleplay storage migrate`` runs; the backend refuses to open while it exists.
MIGRATING = ".roleplay-migrating"
MIGRATE_COMMAND = "roleplay storage migrate"

MAGIC = b"RP1 "
HEADER = len(MAGIC) + 32 + 1  # magic, 32 hex digits of write id, newline
CHECK_PREFIX = ".roleplay-check/"
MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8 bytes
CONTENT_TYPE = "application/octet-stream"
#: How often a create-only write is retried after a 409 ConditionalRequestConflict.
CONFLICT_RETRIES = 5

_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_PRECONDITION_CODES = {"PreconditionFailed", "412"}
_CONFLICT_CODES = {"ConditionalRequestConflict", "409"}
_NOT_IMPLEMENTED_CODES = {"NotImplemented", "501"}


def encode_key(key: str) -> str:
    """A key (or key prefix) as the start of object names: space and ``!`` escaped, nothing else changed."""
    if " " not in key and "!" not in key:
        return key
    return "".join(_ESCAPES.get(char, char) for char in key)


def object_name(key: str) -> str:
    """The object name of ``key`` (without ``storage.s3.prefix``): the encoded key and a final ``!``."""
    return encode_key(key) + END


def key_of(name: str) -> str | None:
    """The key whose object name is ``name``; ``None`` for a name no key maps to (old layout, foreign)."""
    if not name.endswith(END):
        return None
    body = name[:-1]
    if END not in body:
        return body
    out, chars = [], iter(body)
    for char in chars:
        if char == END:
            char = _UNESCAPES.get(next(chars, ""), "")
            if not char:
                return None
        out.append(char)
    return "".join(out)


def wrap(data: bytes) -> bytes:
    """The object body for ``data``: a fresh write id, then the bytes."""
    return MAGIC + secrets.token_hex(16).encode("ascii") + b"\n" + data


def unwrap(body: bytes, key: str) -> bytes:
    """The record bytes of an object body; :class:`StorageUnavailable` if it is not a Roleplay record."""
    if body[: len(MAGIC)] != MAGIC or body[HEADER - 1 : HEADER] != b"\n":
        raise StorageUnavailable(f"object {key!r} is not a Roleplay record (no RP1 envelope)")
    return body[HEADER:]


#: The botocore session shared by clients that use static keys (see ``S3Storage._new_client``).
_STATIC_SESSION: Any = None


class S3Storage(Storage):
    """Records in an S3 bucket. Build it with the kernel settings; see :mod:`roleplay_s3.storage`."""

    name = "s3"

    def __init__(self, settings: Any = None, *, options: S3Options | None = None) -> None:
        self.options = options or S3Options.from_settings(settings)
        self.bucket = self.options.bucket
        self.prefix = self.options.prefix
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self._conditions_verified = False
        self._layout_verified = False
        self._native_conditional_delete = True

    def describe(self) -> str:
        where = f"s3 {self.options.where}"
        return f"{where}, prefix {self.prefix!r}" if self.prefix else where

    # -- lifecycle -----------------------------------------------------------

    async def open(self) -> None:
        """Create the client, then refuse data in the old object-name layout (:class:`OldLayout`).

        That look is one listing request; when the bucket cannot be reached yet it is
        skipped here (``check`` reports why, and looks again).
        """
        await self._open_client()
        try:
            await self._verify_layout()
        except OldLayout:
            await self.close()
            raise
        except StorageUnavailable:
            pass

    async def _open_client(self) -> None:
        if self._client is not None:
            return
        if not self.bucket:
            raise StorageUnavailable("storage.s3.bucket is not set (ROLEPLAY_STORAGE__S3__BUCKET)")
        stack = contextlib.AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(self._new_client(self.options.max_attempts))
        except Exception as exc:
            await stack.aclose()
            raise StorageUnavailable(f"cannot set up the S3 client for {self.options.where}: {_reason(exc)}") from exc
        self._stack = stack

    def _new_client(self, max_attempts: int) -> Any:
        """An aiobotocore S3 client (an async context manager) on these settings, with ``max_attempts``."""
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        opts = self.options
        config = AioConfig(
            connect_timeout=opts.connect_timeout,
            read_timeout=opts.read_timeout,
            max_pool_connections=opts.max_pool_connections,
            # "standard" and "adaptive" back off exponentially with jitter on throttling
            # (SlowDown, 503) and on 5xx and connection errors; adaptive also rate-limits the client.
            retries={"mode": opts.retry_mode, "total_max_attempts": max_attempts},
            s3={"addressing_style": "path" if opts.path_style else "auto"},
            request_checksum_calculation=opts.checksums,
            response_checksum_validation=opts.checksums,
        )
        if opts.access_key_id and not opts.profile:
            # Static keys from settings: one session per process serves every client. A new session
            # loads botocore's S3 service model again (90 ms of a 100 ms open against a local server),
            # and with static keys it holds no refreshable credentials tied to one event loop.
            global _STATIC_SESSION
            if _STATIC_SESSION is None:
                _STATIC_SESSION = AioSession()
            session = _STATIC_SESSION
        else:
            session = AioSession(profile=opts.profile) if opts.profile else AioSession()
        return session.create_client(
            "s3",
            region_name=opts.region,
            endpoint_url=opts.endpoint_url,
            aws_access_key_id=opts.access_key_id,
            aws_secret_access_key=opts.secret_access_key,
            aws_session_token=opts.session_token,
            config=config,
        )

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise StorageUnavailable(f"{self.describe()} is not open (call open() first)")
        return self._client

    # -- helpers -------------------------------------------------------------

    def _full(self, key: str, *, prefix: bool = False) -> str:
        """The object name of ``key`` with ``storage.s3.prefix`` (for a listing ``prefix``: the name's start)."""
        full = self.prefix + (encode_key(key) if prefix else object_name(key))
        if len(full.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidKey(f"storage key is longer than S3's {MAX_KEY_BYTES} bytes with the prefix: {key[:60]!r}...")
        return full

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Turn transport, auth and bucket failures into :class:`StorageUnavailable` naming bucket and endpoint."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code, status, message = _error(exc)
            what = f" ({key})" if key else ""
            if code == "NoSuchBucket":
                raise StorageUnavailable(f"{self.options.where}: the bucket does not exist{what}") from exc
            raise StorageUnavailable(f"{self.options.where}: {code or status}: {message}{what}") from exc
        except (TimeoutError, BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"{self.options.where} is unreachable: {_reason(exc)}") from exc

    # -- contract ------------------------------------------------------------

    async def _get(self, key: str) -> Record:
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                response = await self.client.get_object(Bucket=self.bucket, Key=self._full(key))
            except ClientError as exc:
                code, status, _ = _error(exc)
                if status == 404 and code in _MISSING_CODES:
                    raise NotFound(key) from None
                raise
            async with response["Body"] as body:
                raw = await body.read()
        return Record(unwrap(raw, key), _etag(response["ETag"]))

    async def _put(self, key: str, data: bytes, *, if_version: str | None, if_absent: bool) -> str:
        from botocore.exceptions import ClientError

        full = self._full(key)
        conditions: dict[str, str] = {}
        if if_absent:
            conditions["IfNoneMatch"] = "*"
        elif if_version is not None:
            conditions["IfMatch"] = _quoted(if_version)
        body = wrap(data)
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                with self._errors(key):
                    try:
                        response = await self.client.put_object(
                            Bucket=self.bucket, Key=full, Body=body, ContentType=CONTENT_TYPE, **conditions
                        )
                    except ClientError as exc:
                        code, status, _ = _error(exc)
                        if status == 412 or code in _PRECONDITION_CODES:
                            raise PreconditionFailed(f"{key} exists" if if_absent else f"{key} changed") from None
                        if if_version is not None and status == 404 and code in _MISSING_CODES:
                            raise PreconditionFailed(f"{key} is gone") from None
                        if conditions and (status == 409 or code in _CONFLICT_CODES):
                            if if_version is not None:
                                raise PreconditionFailed(f"{key} changed (concurrent write)") from None
                            raise _Conflict() from None
                        raise
                return _etag(response["ETag"])
            except _Conflict:
                # Another conditional write to this key was in flight. It may still fail, so
                # retry rather than report "exists" for a record nobody wrote.
                await asyncio.sleep(min(0.5, 0.02 * 2**attempt) * (0.5 + random.random()))
        # Still conflicting: decide by what is there now.
        try:
            await self._head(key)
        except NotFound:
            raise StorageUnavailable(f"{self.options.where}: create-only write of {key} kept conflicting") from None
        raise PreconditionFailed(f"{key} exists")

    async def _head(self, key: str) -> str:
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                response = await self.client.head_object(Bucket=self.bucket, Key=self._full(key))
            except ClientError as exc:
                code, status, _ = _error(exc)
                if status == 404:
                    raise NotFound(key) from None
                raise
        return _etag(response["ETag"])

    async def _delete(self, key: str, *, if_version: str | None) -> None:
        from botocore.exceptions import ClientError

        current = await self._head(key)  # S3 deletes a missing key "successfully"; the contract says NotFound
        if if_version is not None and current != if_version.strip('"'):
            raise PreconditionFailed(f"{key} changed")
        conditions = {"IfMatch": _quoted(if_version)} if if_version is not None and self._native_conditional_delete else {}
        with self._errors(key):
            try:
                await self.client.delete_object(Bucket=self.bucket, Key=self._full(key), **conditions)
            except ClientError as exc:
                code, status, _ = _error(exc)
                if status == 412 or code in _PRECONDITION_CODES:
                    raise PreconditionFailed(f"{key} changed") from None
                if status == 404 and code in _MISSING_CODES:
                    raise NotFound(key) from None
                if conditions and (status == 501 or code in _NOT_IMPLEMENTED_CODES):
                    logger.warning(
                        "%s does not support conditional deletes; falling back to check-then-delete",
                        self.options.where,
                    )
                    self._native_conditional_delete = False
                    await self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
                    return
                raise

    async def _list(self, prefix: str, *, limit: int, cursor: str | None) -> Page:
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._full(prefix, prefix=True), "MaxKeys": limit}
        if cursor:
            request["ContinuationToken"] = cursor
        with self._errors(prefix or "/"):
            try:
                response = await self.client.list_objects_v2(**request)
            except ClientError as exc:
                code, status, _ = _error(exc)
                if cursor and status == 400:
                    raise ValueError(f"not a listing cursor of this bucket: {cursor!r}") from None
                raise
        start = len(self.prefix)
        names = (item["Key"] for item in response.get("Contents", ()) if item["Key"].startswith(self.prefix))
        keys = tuple(key for key in (key_of(name[start:]) for name in names) if key is not None and not _reserved(key))
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return Page(keys, token)

    # -- readiness -------------------------------------------------------------

    # -- the object-name layout ------------------------------------------------------

    async def _raw_names(self, *, limit: int = 1000, token: str | None = None) -> tuple[list[str], str | None]:
        """One page of raw object names under ``storage.s3.prefix`` (no decoding, nothing hidden)."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": limit}
        if token:
            request["ContinuationToken"] = token
        with self._errors():
            response = await self.client.list_objects_v2(**request)
        names = [item["Key"][len(self.prefix):] for item in response.get("Contents", ())]
        return names, response.get("NextContinuationToken") if response.get("IsTruncated") else None

    async def _raw_body(self, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors(name):
            try:
                response = await self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)
            except ClientError as exc:
                if _error(exc)[1] == 404:
                    return None
                raise
            async with response["Body"] as body:
                return await body.read()

    async def _old_layout_record(self, name: str) -> bytes | None:
        """The body of ``name`` if it is a record written before the encoding; ``None`` otherwise."""
        if name == MIGRATING or key_of(name) is not None or _reserved(name):
            return None
        try:
            validate_key(name)
        except InvalidKey:
            return None
        body = await self._raw_body(name)
        return body if body is not None and body[: len(MAGIC)] == MAGIC else None

    async def _verify_layout(self) -> None:
        """Raise :class:`OldLayout` when the bucket holds records named the old way or a migration is unfinished."""
        if self._layout_verified:
            return
        names, _ = await self._raw_names(limit=200)
        if MIGRATING in names or await self._raw_body(MIGRATING) is not None:
            raise OldLayout(f"{self.options.where}: a migration of the object names did not finish; "
                            f"run `{MIGRATE_COMMAND}` again (it resumes) before starting Roleplay")
        candidates = [name for name in names if key_of(name) is None and not _reserved(name)][:3]
        for name in candidates:
            if await self._old_layout_record(name) is not None:
                raise OldLayout(
                    f"{self.options.where}: the bucket holds records in the old layout, named by their key alone "
                    f"(for example {name!r}); this version names them key + '!' so that servers with folders "
                    f"(MinIO, SeaweedFS) can store every key. Stop every server and run `{MIGRATE_COMMAND}` "
                    f"(with the same settings; it shows progress and resumes if interrupted)")
        self._layout_verified = True

    async def migrate(self, progress: Any = None) -> dict[str, int]:
        """Rename every record of the old layout to its encoded name; resumable, ``progress(line)`` as it goes.

        Each record is copied create-only to its new name, then the old object is
        deleted; a record whose new name already exists (an interrupted run) only
        loses its old object. Objects that are not Roleplay records are reported
        and left alone. A marker object keeps servers from starting until a run
        finished.
        """
        await self._open_client()
        say = progress or (lambda line: None)
        counts = {"looked_at": 0, "moved": 0, "already_moved": 0, "foreign": 0}
        await self._raw_put(MIGRATING, b"migration in progress")
        token: str | None = None
        while True:
            names, token = await self._raw_names(token=token)
            for name in names:
                if name == MIGRATING or _reserved(name) or key_of(name) is not None:
                    continue
                counts["looked_at"] += 1
                body = await self._old_layout_record(name)
                if body is None:
                    counts["foreign"] += 1
                    say(f"left alone (not a Roleplay record): {name}")
                    continue
                try:
                    await self._raw_put(object_name(name), body, if_absent=True)
                    counts["moved"] += 1
                except PreconditionFailed:
                    counts["already_moved"] += 1
                with self._errors(name):
                    await self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)
                if counts["looked_at"] % 100 == 0:
                    say(f"{counts['looked_at']} looked at, {counts['moved']} moved")
            if token is None:
                break
        with self._errors(MIGRATING):
            await self.client.delete_object(Bucket=self.bucket, Key=self.prefix + MIGRATING)
        self._layout_verified = False
        return counts

    async def _raw_put(self, name: str, body: bytes, *, if_absent: bool = False) -> None:
        from botocore.exceptions import ClientError

        conditions = {"IfNoneMatch": "*"} if if_absent else {}
        with self._errors(name):
            try:
                await self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=body,
                                             ContentType=CONTENT_TYPE, **conditions)
            except ClientError as exc:
                code, status, _ = _error(exc)
                if if_absent and (status == 412 or code in _PRECONDITION_CODES):
                    raise PreconditionFailed(name) from None
                raise

    async def namespace(self) -> str:
        """``hierarchical`` when the server refuses an object under another object's name, else ``flat``."""
        from botocore.exceptions import BotoCoreError, ClientError

        await self._open_client()
        base = f"{CHECK_PREFIX}{uuid.uuid4().hex}/parent"
        await self._raw_put(base, b"")
        try:
            try:
                # One attempt: a refusal is the answer, and small servers refuse by dropping the
                # connection, which the retrying client would try again for seconds.
                async with self._new_client(1) as once:
                    await once.put_object(Bucket=self.bucket, Key=f"{self.prefix}{base}/child", Body=b"")
            except (ClientError, BotoCoreError) as exc:
                # MinIO answers 400 XMinioParentIsObject, others 409 or 500, small servers drop the
                # connection. The parent was just written, so any refusal of the child is the folder rule.
                if isinstance(exc, ClientError) and _error(exc)[1] in (401, 403):
                    raise
                return "hierarchical"
            await self.client.delete_object(Bucket=self.bucket, Key=f"{self.prefix}{base}/child")
            return "flat"
        finally:
            with contextlib.suppress(Exception):
                await self.client.delete_object(Bucket=self.bucket, Key=self.prefix + base)

    async def check(self) -> None:
        """HeadBucket, then write, read and delete a probe record under ``.roleplay-check/``.

        The first successful check also proves the server enforces ``If-None-Match``
        and ``If-Match`` on writes: a server that ignored them would silently break
        create-only and compare-and-swap, so that is reported as unavailable.
        """
        where = self.options.where
        try:
            if self._client is None:
                await self.open()
            await self._head_bucket()
            await self._verify_layout()
            probe = CHECK_PREFIX + uuid.uuid4().hex
            payload = secrets.token_bytes(16)
            version = await self._put(probe, payload, if_version=None, if_absent=True)
            try:
                record = await self._get(probe)
                if record.data != payload or record.version != version:
                    raise StorageUnavailable(f"{where}: read back a different probe record")
                if not self._conditions_verified:
                    await self._verify_conditions(probe, version)
                    self._conditions_verified = True
            finally:
                with contextlib.suppress(NotFound):
                    await self._delete(probe, if_version=None)
        except StorageUnavailable as exc:
            message = str(exc)
            if where not in message:
                message = f"{where}: {message}"
            raise StorageUnavailable(message) from exc

    async def _head_bucket(self) -> None:
        from botocore.exceptions import ClientError

        with self._errors():
            try:
                await self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                code, status, _ = _error(exc)
                if status == 404:  # HeadBucket has no body, so no NoSuchBucket code either
                    raise StorageUnavailable(f"{self.options.where}: the bucket does not exist") from None
                if status == 403:
                    raise StorageUnavailable(
                        f"{self.options.where}: access denied (check the credentials and the bucket policy)"
                    ) from None
                raise

    async def _verify_conditions(self, probe: str, version: str) -> None:
        where = self.options.where
        try:
            await self._put(probe, b"again", if_version=None, if_absent=True)
        except PreconditionFailed:
            pass
        else:
            raise StorageUnavailable(f"{where} ignores If-None-Match on PutObject; Roleplay needs conditional writes")
        try:
            await self._put(probe, b"stale", if_version="0" * 32, if_absent=False)
        except PreconditionFailed:
            pass
        else:
            raise StorageUnavailable(f"{where} ignores If-Match on PutObject; Roleplay needs conditional writes")
        if (await self._get(probe)).version != version:
            raise StorageUnavailable(f"{where} changed the probe record despite failed conditions")


class OldLayout(StorageUnavailable):
    """The bucket holds records named the way versions before the object-name encoding named them."""


class _Conflict(Exception):
    """A 409 ConditionalRequestConflict on a create-only write (retried)."""


def _error(exc: Any) -> tuple[str, int, str]:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return str(error.get("Code") or ""), status, str(error.get("Message") or "")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _etag(value: str) -> str:
    return value.strip().strip('"')


def _quoted(version: str) -> str:
    return f'"{version.strip(chr(34))}"'


def _reserved(key: str) -> bool:
    return any(segment.startswith(".") for segment in key.split("/"))
