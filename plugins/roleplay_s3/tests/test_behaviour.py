"""What the contract suite does not cover: retries, conflicts, prefixes, the envelope, client settings.

Test home of ``roleplay_s3.options``.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from roleplay_s3 import S3Options, S3Storage
from roleplay_s3.storage import HEADER, MAGIC

from roleplay_core.settings import build_settings
from roleplay_core.storage import InvalidKey, NotFound, PreconditionFailed, StorageUnavailable

pytestmark = pytest.mark.anyio


@pytest.fixture
async def make(moto_s3):
    opened: list[S3Storage] = []

    async def build(bucket: str, **extra) -> S3Storage:
        storage = S3Storage(build_settings("development", layers={}, overrides=moto_s3.settings(bucket, **extra)))
        await storage.open()
        opened.append(storage)
        return storage

    yield build
    for storage in opened:
        await storage.close()


@pytest.fixture
async def raw(moto_s3):
    """A plain aiobotocore client, to look at the bucket behind the backend's back."""
    from aiobotocore.session import AioSession

    async with AioSession().create_client("s3", region_name="us-east-1", endpoint_url=moto_s3.endpoint,
                                          aws_access_key_id="testing", aws_secret_access_key="testing") as client:
        yield client


# -- retries against the real server with injected faults ----------------------------


async def test_throttling_and_5xx_are_retried_with_backoff(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket, **{"storage.s3.max_attempts": 4})
    moto_s3.app.faults += [("throttled-key", 503, "SlowDown"), ("throttled-key", 500, "InternalError")]
    version = await storage.put("throttled-key", b"made it", if_absent=True)
    assert moto_s3.app.seen[f"/{bucket}/throttled-key!"] == 3  # two refusals, then the write
    assert (await storage.get("throttled-key")).version == version
    assert not moto_s3.app.faults


async def test_persistent_throttling_becomes_storage_unavailable_naming_the_bucket(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket, **{"storage.s3.max_attempts": 2})
    moto_s3.app.faults += [("slow-key", 503, "SlowDown")] * 2
    with pytest.raises(StorageUnavailable) as caught:
        await storage.put("slow-key", b"x")
    assert "SlowDown" in str(caught.value) and bucket in str(caught.value) and moto_s3.endpoint in str(caught.value)


async def test_create_only_conflict_409_is_retried_not_reported_as_exists(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket)
    moto_s3.app.faults += [("log/e/000000000001", 409, "ConditionalRequestConflict")] * 2
    await storage.put("log/e/000000000001", b"first", if_absent=True)
    assert (await storage.get("log/e/000000000001")).data == b"first"
    with pytest.raises(PreconditionFailed):  # now it exists: a real 412
        await storage.put("log/e/000000000001", b"second", if_absent=True)


async def test_cas_conflict_409_is_a_lost_race(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket)
    version = await storage.put("counter", b"1")
    moto_s3.app.faults.append(("counter", 409, "ConditionalRequestConflict"))
    with pytest.raises(PreconditionFailed):
        await storage.put("counter", b"2", if_version=version)
    assert (await storage.put("counter", b"2", if_version=version)) != version  # the retry wins


async def test_conditional_delete_falls_back_when_the_server_does_not_implement_it(moto_s3, make, caplog):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket)
    version = await storage.put("doomed", b"x")
    moto_s3.app.faults.append(("doomed", 501, "NotImplemented", "DELETE"))
    await storage.delete("doomed", if_version=version)  # refused with If-Match, done without
    assert not moto_s3.app.faults
    assert "does not support conditional deletes" in caplog.text
    with pytest.raises(NotFound):
        await storage.get("doomed")
    old = await storage.put("doomed", b"y")
    new = await storage.put("doomed", b"z")
    with pytest.raises(PreconditionFailed):  # the HeadObject comparison still guards
        await storage.delete("doomed", if_version=old)
    await storage.delete("doomed", if_version=new)
    with pytest.raises(NotFound):
        await storage.get("doomed")


# -- layout ---------------------------------------------------------------------------


async def test_prefix_keeps_deployments_apart_in_one_bucket(moto_s3, make, raw):
    bucket = await moto_s3.create_bucket_async()
    prod = await make(bucket, **{"storage.s3.prefix": "prod"})
    beta = await make(bucket, **{"storage.s3.prefix": "/beta/"})
    await prod.put("users/1", b"prod user")
    await beta.put("users/1", b"beta user")
    assert (await prod.get("users/1")).data == b"prod user"
    assert (await beta.get("users/1")).data == b"beta user"
    assert await prod.list_all() == ["users/1"] and await beta.list_all() == ["users/1"]
    listing = await raw.list_objects_v2(Bucket=bucket)
    assert sorted(item["Key"] for item in listing["Contents"]) == ["beta/users/1!", "prod/users/1!"]


async def test_objects_carry_the_envelope_and_the_etag_is_the_version(moto_s3, make, raw):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket)
    first = await storage.put("k", b"same bytes")
    second = await storage.put("k", b"same bytes")
    response = await raw.get_object(Bucket=bucket, Key="k!")  # the key and the final "!" (object_name)
    async with response["Body"] as body:
        stored = await body.read()
    assert stored[: len(MAGIC)] == MAGIC and stored[HEADER:] == b"same bytes"
    assert response["ETag"].strip('"') == second != first


async def test_foreign_objects_are_refused_not_misread(moto_s3, make, raw):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket)
    await raw.put_object(Bucket=bucket, Key="uploaded/by-hand.json!", Body=b'{"not": "a record"}')
    with pytest.raises(StorageUnavailable, match="not a Roleplay record"):
        await storage.get("uploaded/by-hand.json")
    # An object whose name no key maps to is not a record at all: not found, never listed.
    await raw.put_object(Bucket=bucket, Key="uploaded/plain.txt", Body=b"hello")
    with pytest.raises(NotFound):
        await storage.get("uploaded/plain.txt")
    assert await storage.list_all("uploaded/") == ["uploaded/by-hand.json"]


async def test_check_probe_is_never_listed_and_leaves_nothing(moto_s3, make, raw):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket, **{"storage.s3.prefix": "p"})
    await storage.put("real", b"x")
    await raw.put_object(Bucket=bucket, Key="p/.roleplay-check/left-over", Body=b"RP1 " + b"0" * 32 + b"\n")
    await storage.check()
    assert await storage.list_all() == ["real"]
    listing = await raw.list_objects_v2(Bucket=bucket, Prefix="p/.roleplay-check/")
    assert [item["Key"] for item in listing["Contents"]] == ["p/.roleplay-check/left-over"]  # ours was deleted


async def test_too_long_keys_are_invalid(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket, **{"storage.s3.prefix": "a" * 40})
    with pytest.raises(InvalidKey):
        await storage.put("k" * 1000, b"x")  # fine for the contract, too long for S3 with the prefix


async def test_a_cursor_the_server_rejects_is_a_value_error(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket)
    await storage.put("a", b"x")
    moto_s3.app.faults.append((f"/{bucket}", 400, "InvalidArgument", "GET"))  # what S3 says to a bad token
    with pytest.raises(ValueError, match="cursor"):
        await storage.list("", cursor="not-a-token")


# -- client settings ------------------------------------------------------------------


async def test_client_settings_reach_botocore(moto_s3, make):
    bucket = await moto_s3.create_bucket_async()
    storage = await make(bucket, **{"storage.s3.retry_mode": "adaptive", "storage.s3.max_attempts": 7,
                                    "storage.s3.connect_timeout": 2, "storage.s3.read_timeout": 11,
                                    "storage.s3.max_pool_connections": 5})
    config = storage.client.meta.config
    assert config.retries["mode"] == "adaptive" and config.retries["total_max_attempts"] == 7
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (2, 11, 5)
    assert config.s3["addressing_style"] == "path"  # endpoint_url set and path_style "auto"
    assert storage.client.meta.endpoint_url == moto_s3.endpoint


def test_path_style_defaults_and_credentials_stay_out_of_repr():
    aws = S3Options.from_settings({"bucket": "rp-prod", "secret_access_key": "hidden-value", "access_key_id": "id"})
    assert aws.path_style is False and aws.endpoint_url is None and aws.prefix == ""
    assert "hidden-value" not in repr(aws)
    minio = S3Options.from_settings({"bucket": "rp1", "endpoint_url": "http://minio:9000", "prefix": "x/y/"})
    assert minio.path_style is True and minio.prefix == "x/y/"
    forced = S3Options.from_settings({"bucket": "rp1", "endpoint_url": "http://minio:9000", "path_style": False})
    assert forced.path_style is False


async def test_credentials_come_from_the_aws_chain_when_settings_have_none(moto_s3, monkeypatch, tmp_path):
    bucket = await moto_s3.create_bucket_async()
    settings = {k: v for k, v in moto_s3.settings(bucket).items() if "access_key" not in k}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups from a test
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    nothing = S3Storage(build_settings("development", layers={}, overrides=settings))
    await nothing.open()
    try:
        with pytest.raises(StorageUnavailable, match="credentials") as caught:
            await nothing.check()
        assert bucket in str(caught.value)
    finally:
        await nothing.close()

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    storage = S3Storage(build_settings("development", layers={}, overrides=settings))
    await storage.open()
    try:
        await storage.check()
        assert storage.client._request_signer._credentials.access_key == "from-env"
    finally:
        await storage.close()


async def test_use_before_open_is_a_clear_error():
    storage = S3Storage(options=S3Options(bucket="rp-never-opened"))
    with pytest.raises(StorageUnavailable, match="not open"):
        await storage.get("k")


def test_client_error_shape_is_what_the_mapping_reads():
    from roleplay_s3.storage import _error

    exc = ClientError({"Error": {"Code": "PreconditionFailed", "Message": "m"},
                       "ResponseMetadata": {"HTTPStatusCode": 412}}, "PutObject")
    assert _error(exc) == ("PreconditionFailed", 412, "m")
